"""Compiled kernels behind the beta-diversity metrics (private).

Every non-phylogenetic beta metric gutaxis offers reduces to one *pairwise
accumulation* over the features two samples share, followed by an
element-wise formula that uses per-sample totals:

==================  ======================  ==================================
metric              accumulated Σ_shared    finished with
==================  ======================  ==================================
braycurtis          min(x_if, x_jf)         (S_i + S_j − 2·acc) / (S_i + S_j)
jaccard             1                       (U − acc) / U,  U = n_i + n_j − acc
aitchison           s_if · s_jf             √(q_i + q_j − 2·acc − m·(μ_i − μ_j)²)
robust_aitchison    r_if · r_jf             √(q_i + q_j − 2·acc)
==================  ======================  ==================================

(``s = log(x + pseudocount) − log(pseudocount)`` and the rclr ``r`` are zero
where ``x`` is zero, so all four are sums over *shared* non-zeros; ``S``,
``n``, ``q``, ``μ`` are per-sample sums.)

:func:`pairwise` computes the accumulation for the strict upper triangle of
an ``n × n`` float64 array without ever making the whole table dense:

* **sparse part** — a row-wise Gustavson product against a column-major
  (CSC) copy of the table: for row ``i`` and each of its non-zeros ``f``, walk
  the samples ``j > i`` that also hold ``f`` and update a dense accumulator.
  Work ``Σ_f nnz_f² / 2`` scattered updates.  The CSC copy is built in row
  stripes so that only a bounded slice of it exists at once.  Rows are dealt
  to ``numba.prange`` chunks round-robin, which balances the triangle over
  the threads.
* **dense part** — the features present in a large share of the samples
  (``_DENSE_SHARE``) are cheaper through a dense, feature-major tile of
  ``w`` samples: for row ``i`` and each of its non-zeros ``f`` among them, one
  contiguous (SIMD-vectorised) update ``acc[j] += op(v_if, tile[f, j])``.
  Work ``nnz_f × n / 2`` instead of ``nnz_f² / 2``, but each update is several
  times cheaper.  Tiles are float32 when that is exact (presence/absence;
  integer counts below 2²⁴ for ``min``), else float64.

:func:`finish` then applies the formula, symmetrises, zeroes the diagonal and
recomputes *exactly* (a merge of the two sorted sparse rows) every pair whose
value is small next to the magnitudes it was computed from (near-identical
samples, where the subtraction could cancel), so that identical samples are at
exactly 0.

Values are transformed on the fly (:class:`Transform`): for integer counts
the logarithms come from a small lookup table, so no transformed copy of the
table is made; other values are transformed once into a copy.

Everything runs in numba (``parallel=True``, ``fastmath=False``,
``cache=True``); there is no BLAS call, so numba's OpenMP threads never
compete with BLAS threads.  Scratch memory (the CSC stripe, the dense tile and,
for non-integer log metrics, the transformed values) is kept within
``_SCRATCH_SHARE`` of the input plus the result, with a floor of a few MiB.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import NamedTuple

import numba
import numpy as np
import scipy.sparse as sp
from numba import njit, prange

__all__ = [
    "MODE_MIN",
    "MODE_COUNT",
    "MODE_PRODUCT",
    "M_BRAYCURTIS",
    "M_JACCARD",
    "M_AITCHISON",
    "M_ROBUST_AITCHISON",
    "Transform",
    "raw",
    "presence",
    "log1p_transform",
    "rclr_transform",
    "pairwise",
    "finish",
    "row_stats",
    "threads",
]

# accumulation modes
MODE_MIN = 0
MODE_COUNT = 1
MODE_PRODUCT = 2

# how the kernels read a stored value v of row i
T_RAW = 0  # v
T_PRESENCE = 1  # 1
T_LOG1P = 2  # log1p(v / param)            (lookup table for integer v)
T_RCLR = 3  # log(v) − rowstat[i]          (lookup table for integer v)

# finishing formulas
M_BRAYCURTIS = 0
M_JACCARD = 1
M_AITCHISON = 2
M_ROBUST_AITCHISON = 3

#: Scratch (CSC stripe + dense tile + transformed values) may use this share
#: of input + result bytes ...
_SCRATCH_SHARE = 0.15
#: ... but never less than this (small tables).
_SCRATCH_FLOOR = 8 * 2**20
#: A feature present in at least this share of the samples goes to the dense
#: part: the sparse (Gustavson) walk costs ∝ nnz_f² scattered updates (≈ 0.7 ns
#: each), the dense tiles ∝ nnz_f × n contiguous SIMD ones (≈ 0.2 ns), so the
#: break-even share is ≈ 0.2-0.3 (measured on 5,000 × 10,000 tables).
_DENSE_SHARE = {MODE_MIN: 0.2, MODE_COUNT: 0.2, MODE_PRODUCT: 0.2}
#: Fewer dense features than this are not worth the tiling.
_MIN_DENSE = 8
#: Narrowest dense tile (samples).
_MIN_TILE = 64
#: Largest dense tile (bytes): the last-level cache holds it; wider tiles mean
#: fewer passes over each row's non-zeros.
_MAX_TILE_BYTES = 8 * 2**20
#: Integer counts below this take their logarithm from a lookup table.
_LUT_SIZE = 1 << 12
#: Pairs whose result is below this share of the magnitudes it was computed
#: from are recomputed exactly (see module docstring).
_REFINE = 1e-3

_EMPTY = np.zeros(0)


# --------------------------------------------------------------------------- threads
def _max_threads() -> int:
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


@contextlib.contextmanager
def threads(n_threads: int | None) -> Iterator[int]:
    """Run the numba kernels on ``n_threads`` (default and cap: numba's thread count)."""
    limit = _max_threads() if n_threads is None else max(1, min(int(n_threads), _max_threads()))
    previous = numba.get_num_threads()
    numba.set_num_threads(limit)
    try:
        yield limit
    finally:
        numba.set_num_threads(previous)


def _n_chunks(n: int) -> int:
    return int(max(1, min(n, 16 * numba.get_num_threads())))


# --------------------------------------------------------------------------- values
class Transform(NamedTuple):
    """How the kernels read the stored values (passed to numba as a tuple)."""

    code: int
    param: float
    lut: np.ndarray
    rowstat: np.ndarray


def raw() -> Transform:
    """Return the transform that reads the stored values themselves."""
    return Transform(T_RAW, 1.0, _EMPTY, _EMPTY)


def presence() -> Transform:
    """Every stored (non-zero) value read as 1."""
    return Transform(T_PRESENCE, 1.0, _EMPTY, _EMPTY)


@njit(inline="always", cache=True)
def _tf(v, i, tf):  # pragma: no cover - jitted
    code = tf[0]
    if code == T_RAW:
        return v
    if code == T_PRESENCE:
        return 1.0
    lut = tf[2]
    k = int(v)
    if code == T_LOG1P:
        if k < lut.shape[0]:
            return lut[k]
        return math.log1p(v / tf[1])
    if k < lut.shape[0]:
        return lut[k] - tf[3][i]
    return math.log(v) - tf[3][i]


@njit(cache=True)
def _integers(values):  # pragma: no cover - jitted
    """Return whether every value is a whole number below 2**53 (no temporary arrays)."""
    for v in values:
        if not (v < 9007199254740992.0) or v != math.floor(v):
            return False
    return True


@njit(cache=True)
def _small_integers(values):  # pragma: no cover - jitted
    """Return whether every value is a whole number in [0, 2**24) (exact in float32)."""
    for v in values:
        if not (0.0 <= v < 16777216.0) or v != math.floor(v):
            return False
    return True


@njit(cache=True)
def _row_stats(indptr, values, tf):  # pragma: no cover - jitted
    """(Σ v, Σ v²) per row of the transformed values, summed in index order."""
    n = indptr.shape[0] - 1
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    for i in range(n):
        a = 0.0
        b = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            v = _tf(values[k], i, tf)
            a += v
            b += v * v
        s1[i] = a
        s2[i] = b
    return s1, s2


def row_stats(x: sp.csr_matrix, values: np.ndarray | None = None,
              tf: Transform | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ``Σ v`` and ``Σ v²`` of the (transformed) stored values."""
    s1, s2 = _row_stats(x.indptr, x.data if values is None else values,
                        tuple(raw() if tf is None else tf))
    return s1, s2


def log1p_transform(x: sp.csr_matrix, pseudocount: float) -> tuple[np.ndarray, Transform]:
    """Values and transform reading ``log(x + c) − log(c) = log1p(x / c)``.

    Integer counts: the stored values with a lookup table (no copy).  Other
    values: a transformed copy read raw.
    """
    if _integers(x.data):
        lut = np.log1p(np.arange(_LUT_SIZE, dtype=np.float64) / pseudocount)
        return x.data, Transform(T_LOG1P, float(pseudocount), lut, _EMPTY)
    out = np.divide(x.data, pseudocount)
    np.log1p(out, out=out)
    return out, raw()


def replacement_transform(x: sp.csr_matrix, delta: float) -> tuple[np.ndarray, Transform]:
    """Values reading the closed composition after multiplicative zero replacement.

    Each row is closed to 1, its ``z`` zeros replaced by ``delta`` and its
    non-zeros scaled by ``1 − z·delta`` (Martín-Fernández et al. 2003).  The
    values stored are ``log(y) − log(delta)`` at the non-zeros, so that the
    replaced zeros read 0, as the kernels expect; a per-row constant does not
    change a centred log-ratio.
    """
    n, m = x.shape
    nnz = np.diff(x.indptr)
    totals = np.asarray(x.sum(axis=1), dtype=np.float64).ravel()
    zeros = (m - nnz).astype(np.float64)
    shift = np.log1p(-zeros * delta) - np.log(delta)
    with np.errstate(divide="ignore"):
        shift -= np.log(totals)
    out = np.log(x.data.astype(np.float64, copy=False))
    out += np.repeat(shift, nnz)
    return out, raw()


def rclr_transform(x: sp.csr_matrix) -> tuple[np.ndarray, Transform]:
    """Values and transform reading the rclr ``log x − mean(log x over observed)``."""
    n = x.shape[0]
    richness = np.diff(x.indptr).astype(np.float64)
    if _integers(x.data):
        with np.errstate(divide="ignore"):
            lut = np.log(np.arange(_LUT_SIZE, dtype=np.float64))  # lut[0] is never read
        logs = Transform(T_RCLR, 1.0, lut, np.zeros(n))
        sums, _ = row_stats(x, x.data, logs)
        mu = np.divide(sums, richness, out=np.zeros(n), where=richness > 0)
        return x.data, Transform(T_RCLR, 1.0, lut, mu)
    out = np.log(x.data)
    sums, _ = row_stats(x, out)
    mu = np.divide(sums, richness, out=np.zeros(n), where=richness > 0)
    _center_rows(x.indptr, out, mu)
    return out, raw()


@njit(cache=True)
def _center_rows(indptr, values, mu):  # pragma: no cover - jitted
    for i in range(indptr.shape[0] - 1):
        for k in range(indptr[i], indptr[i + 1]):
            values[k] -= mu[i]


# --------------------------------------------------------------------------- sparse part
@njit(cache=True)
def _stripe_csc(indptr, indices, values, tf, lo, hi, is_sparse, m):  # pragma: no cover
    """CSC of rows ``lo:hi`` restricted to the sparse features (rows relative to ``lo``)."""
    cptr = np.zeros(m + 1, np.int64)
    for i in range(lo, hi):
        for k in range(indptr[i], indptr[i + 1]):
            f = indices[k]
            if is_sparse[f]:
                cptr[f + 1] += 1
    for f in range(m):
        cptr[f + 1] += cptr[f]
    nnz = cptr[m]
    crow = np.empty(nnz, np.uint32)  # unsigned: no negative-index wrap-around in the hot loop
    cval = np.empty(nnz, np.float64)
    pos = cptr[:m].copy()
    for i in range(lo, hi):
        for k in range(indptr[i], indptr[i + 1]):
            f = indices[k]
            if is_sparse[f]:
                p = pos[f]
                crow[p] = i - lo
                cval[p] = _tf(values[k], i, tf)
                pos[f] = p + 1
    return cptr, crow, cval


@njit(parallel=True, cache=True)
def _sparse_pass(indptr, indices, values, tf, is_sparse, lo, hi, cptr, crow, cval,
                 mode, out, n_chunks, i_stop, col0):  # pragma: no cover - jitted
    """out[i, j - col0] = Σ_shared op(v_i, v_j) over the sparse features.

    For the rows ``i < i_stop`` and ``i < j``, ``lo ≤ j < hi``: the square
    passes ``i_stop = n, col0 = 0``, a block ``i_stop = col0 = n_rows``.
    """
    width = hi - lo
    for c in prange(n_chunks):
        acc = np.zeros(width)
        for i in range(c, min(hi - 1, i_stop), n_chunks):
            rel = i - lo  # < 0: the whole stripe lies after row i
            for k in range(indptr[i], indptr[i + 1]):
                f = indices[k]
                if not is_sparse[f]:
                    continue
                a = cptr[f]
                b = cptr[f + 1]
                if a == b:
                    continue
                if rel >= 0:
                    a += np.searchsorted(crow[a:b], rel, side="right")
                rows = crow[a:b]
                vals = cval[a:b]
                if mode == MODE_MIN:
                    v = _tf(values[k], i, tf)
                    for t in range(rows.shape[0]):
                        acc[rows[t]] += min(v, vals[t])
                elif mode == MODE_COUNT:
                    for t in range(rows.shape[0]):
                        acc[rows[t]] += 1.0
                else:
                    v = _tf(values[k], i, tf)
                    for t in range(rows.shape[0]):
                        acc[rows[t]] += v * vals[t]
            start = rel + 1 if rel >= 0 else 0
            dst = out[i, lo + start - col0:hi - col0]
            src = acc[start:width]
            for t in range(src.shape[0]):
                dst[t] = src[t]
                src[t] = 0.0


# --------------------------------------------------------------------------- dense part
@njit(cache=True)
def _densify_t(indptr, indices, values, tf, j0, j1, dense_pos, tile):  # pragma: no cover
    """tile[p, j - j0] = value of row j at dense feature p (feature-major), 0 elsewhere."""
    tile[:, : j1 - j0] = 0
    for j in range(j0, j1):
        for k in range(indptr[j], indptr[j + 1]):
            p = dense_pos[indices[k]]
            if p >= 0:
                tile[p, j - j0] = _tf(values[k], j, tf)


@njit(parallel=True, cache=True)
def _dense_pass(indptr, indices, values, tf, dense_pos, j0, j1, tile, mode, out,
                n_chunks, i_stop, col0):  # pragma: no cover - jitted
    """out[i, j - col0] += Σ_{dense f} op(v_if, v_jf) (SIMD over j).

    For ``i < i_stop``, ``i < j`` and ``j0 ≤ j < j1`` (``i_stop``, ``col0`` as
    in :func:`_sparse_pass`).
    """
    w = j1 - j0
    for c in prange(n_chunks):
        acc = np.zeros(w)
        for i in range(c, min(j1 - 1, i_stop), n_chunks):
            start = i + 1 - j0 if i + 1 > j0 else 0
            a = acc[start:]
            for k in range(indptr[i], indptr[i + 1]):
                p = dense_pos[indices[k]]
                if p < 0:
                    continue
                r = tile[p, start:w]
                if mode == MODE_MIN:
                    v = _tf(values[k], i, tf)
                    for t in range(a.shape[0]):
                        a[t] = a[t] + min(v, r[t])
                elif mode == MODE_COUNT:
                    for t in range(a.shape[0]):
                        a[t] = a[t] + r[t]
                else:
                    v = _tf(values[k], i, tf)
                    for t in range(a.shape[0]):
                        a[t] = a[t] + v * r[t]
            dst = out[i, j0 + start - col0:j1 - col0]
            for t in range(a.shape[0]):
                dst[t] += a[t]
                a[t] = 0.0


# --------------------------------------------------------------------------- driver
def _scratch_budget(x: sp.csr_matrix, values: np.ndarray, out: np.ndarray) -> int:
    given = x.data.nbytes + x.indices.nbytes + x.indptr.nbytes + out.nbytes
    extra = 0 if values is x.data else values.nbytes
    return int(max(_SCRATCH_FLOOR, _SCRATCH_SHARE * given - extra, 1))


def pairwise(x: sp.csr_matrix, mode: int, values: np.ndarray | None = None,
             tf: Transform | None = None, n_rows: int | None = None) -> np.ndarray:
    """Upper-triangle accumulation (see module docstring); call inside :func:`threads`.

    Parameters
    ----------
    x : scipy.sparse.csr_matrix
        Canonical CSR (sorted indices, no explicit zeros).
    mode : int
        ``MODE_MIN``, ``MODE_COUNT`` or ``MODE_PRODUCT``.
    values : numpy.ndarray, optional
        Values at the non-zeros of ``x`` (default ``x.data``).
    tf : Transform, optional
        How to read them (default :func:`raw`).
    n_rows : int, optional
        Only the pairs of one of the first ``n_rows`` rows and one of the
        others (a tile of a blockwise matrix): the work is those pairs', the
        sums are accumulated as for the square.

    Returns
    -------
    numpy.ndarray
        ``n × n`` float64 whose strict upper triangle holds
        ``Σ_f op(v_if, v_jf)``, the rest unspecified; with ``n_rows``,
        ``n_rows × (n - n_rows)`` holding the sum of rows ``i`` and
        ``n_rows + j`` at ``[i, j]``.
    """
    n, m = x.shape
    vals = x.data if values is None else values
    tft = tuple(raw() if tf is None else tf)
    # the square: every row against the later ones; a block: its rows against the others
    first, i_stop = (0, n) if n_rows is None else (n_rows, n_rows)
    out = np.zeros((n, n) if n_rows is None else (n_rows, n - n_rows))
    if n < 2 or x.nnz == 0:
        return out
    budget = _scratch_budget(x, vals, out)
    n_chunks = _n_chunks(min(n, i_stop))

    prevalence = np.bincount(x.indices, minlength=m)
    dense = prevalence >= _DENSE_SHARE.get(mode, np.inf) * n
    if dense.sum() < _MIN_DENSE:
        dense[:] = False
    is_sparse = ~dense
    d = int(dense.sum())

    # sparse part, in row stripes of the CSC copy (12 bytes per stored value)
    sparse_nnz = int(prevalence[is_sparse].sum())
    if sparse_nnz:
        stripe_budget = max(1, budget // 2 if d else budget)
        n_stripes = max(1, math.ceil(sparse_nnz * 12 / stripe_budget))
        bounds = np.linspace(first, n, n_stripes + 1).round().astype(np.int64)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi <= lo:
                continue
            cptr, crow, cval = _stripe_csc(x.indptr, x.indices, vals, tft, lo, hi, is_sparse, m)
            _sparse_pass(x.indptr, x.indices, vals, tft, is_sparse, lo, hi, cptr, crow, cval,
                         mode, out, n_chunks, i_stop, first)
            del cptr, crow, cval

    # dense part, in column tiles of a feature-major dense copy
    if d:
        # float32 tiles are exact for presence and for integers below 2**24 (min only
        # compares and copies them); products need float64
        exact32 = mode == MODE_COUNT or (
            mode == MODE_MIN and tft[0] == T_RAW and _small_integers(vals))
        dtype = np.float32 if exact32 else np.float64
        itemsize = np.dtype(dtype).itemsize
        w = int(min(n - first,
                    max(_MIN_TILE, min(budget // 2, _MAX_TILE_BYTES) // (d * itemsize))))
        tile = np.empty((d, w), dtype=dtype)
        dense_pos = np.full(m, -1, dtype=np.int64)
        dense_pos[dense] = np.arange(d)
        for j0 in range(first, n, w):
            j1 = min(n, j0 + w)  # the last tile may use only its first columns
            _densify_t(x.indptr, x.indices, vals, tft, j0, j1, dense_pos, tile)
            _dense_pass(x.indptr, x.indices, vals, tft, dense_pos, j0, j1, tile, mode, out,
                        n_chunks, i_stop, first)
    return out


# --------------------------------------------------------------------------- finishing
@njit(cache=True)
def _exact(indptr, indices, values, tf, i, j, metric, a, b, m):  # pragma: no cover - jitted
    """Compute the metric for one pair by merging the two sorted sparse rows."""
    p = indptr[i]
    pe = indptr[i + 1]
    q = indptr[j]
    qe = indptr[j + 1]
    dmu = b[i] - b[j] if metric == M_AITCHISON else 0.0
    total = 0.0
    union = 0
    while p < pe or q < qe:
        if q >= qe or (p < pe and indices[p] < indices[q]):
            u = _tf(values[p], i, tf)
            w = 0.0
            p += 1
        elif p >= pe or indices[q] < indices[p]:
            u = 0.0
            w = _tf(values[q], j, tf)
            q += 1
        else:
            u = _tf(values[p], i, tf)
            w = _tf(values[q], j, tf)
            p += 1
            q += 1
        union += 1
        if metric == M_BRAYCURTIS:
            total += abs(u - w)
        else:
            e = u - w - dmu
            total += e * e
    if metric == M_BRAYCURTIS:
        return total / (a[i] + a[j])
    if metric == M_AITCHISON:
        total += (m - union) * dmu * dmu
    return math.sqrt(total)


@njit(cache=True, inline="always")
def _distance(acc, indptr, indices, values, tf, i, j, metric, a, b, m,
              refine):  # pragma: no cover - jitted
    """Return the distance of rows ``i`` and ``j`` from their accumulation ``acc``."""
    if metric == M_BRAYCURTIS:
        s = a[i] + a[j]
        v = (s - 2.0 * acc) / s
        if v < refine:
            v = _exact(indptr, indices, values, tf, i, j, metric, a, b, m)
        return v
    if metric == M_JACCARD:
        u = a[i] + a[j] - acc
        return (u - acc) / u if u > 0.0 else 0.0
    d2 = a[i] + a[j] - 2.0 * acc
    if metric == M_AITCHISON:
        dmu = b[i] - b[j]
        d2 -= m * dmu * dmu
    if d2 <= refine * (a[i] + a[j]):
        return _exact(indptr, indices, values, tf, i, j, metric, a, b, m)
    return math.sqrt(d2)


@njit(parallel=True, cache=True)
def _finish(out, indptr, indices, values, tf, metric, a, b, m, refine,
            n_chunks):  # pragma: no cover - jitted
    n = out.shape[0]
    for c in prange(n_chunks):
        for i in range(c, n, n_chunks):
            out[i, i] = 0.0
            for j in range(i + 1, n):
                out[i, j] = _distance(out[i, j], indptr, indices, values, tf, i, j, metric,
                                      a, b, m, refine)


@njit(parallel=True, cache=True)
def _finish_block(out, indptr, indices, values, tf, metric, a, b, m, refine,
                  n_chunks):  # pragma: no cover - jitted
    """As :func:`_finish` for the block of :func:`pairwise` with ``n_rows``."""
    n_rows, width = out.shape
    for c in prange(n_chunks):
        for i in range(c, n_rows, n_chunks):
            for jj in range(width):
                out[i, jj] = _distance(out[i, jj], indptr, indices, values, tf, i, n_rows + jj,
                                       metric, a, b, m, refine)


@njit(parallel=True, cache=True)
def _mirror(out, n_chunks):  # pragma: no cover - jitted
    """Copy the strict upper triangle onto the lower one, in 64 × 64 blocks."""
    n = out.shape[0]
    blk = 64
    nb = (n + blk - 1) // blk
    for c in prange(n_chunks):
        for bi in range(c, nb, n_chunks):
            for bj in range(bi, nb):
                for i in range(bi * blk, min(n, (bi + 1) * blk)):
                    for j in range(max(bj * blk, i + 1), min(n, (bj + 1) * blk)):
                        out[j, i] = out[i, j]


def finish(out: np.ndarray, x: sp.csr_matrix, metric: int, *, a: np.ndarray,
           b: np.ndarray | None = None, values: np.ndarray | None = None,
           tf: Transform | None = None, n_rows: int | None = None) -> np.ndarray:
    """Turn the accumulations of :func:`pairwise` into the symmetric distance matrix.

    ``a`` is the per-row total the formula needs (sum, richness or ``Σ v²``),
    ``b`` the per-row mean for ``aitchison``; ``values``, ``tf`` and
    ``n_rows`` as for :func:`pairwise` (with ``n_rows``, the block of
    distances, in place).
    """
    n, m = x.shape
    vals = x.data if values is None else values
    bb = np.zeros(n) if b is None else np.ascontiguousarray(b, dtype=np.float64)
    args = (out, x.indptr, x.indices, vals, tuple(raw() if tf is None else tf), metric,
            np.ascontiguousarray(a, dtype=np.float64), bb, float(m), _REFINE)
    if n_rows is not None:
        if out.size:
            _finish_block(*args, _n_chunks(n_rows))
        return out
    _finish(*args, _n_chunks(n))
    nb = (n + 63) // 64
    _mirror(out, int(max(1, min(nb, 16 * numba.get_num_threads()))))
    return out
