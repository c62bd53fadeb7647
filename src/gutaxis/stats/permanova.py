"""PERMANOVA: test whether groups of samples differ in their distances."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numba
import numpy as np
import pandas as pd

from gutaxis.checks import type_label
from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import InputError
from gutaxis.stats._grouping import _check_permutations, _rng, _tested_grouping
from gutaxis.stats._permutations import PermutationDesign, permutation_design
from gutaxis.stats._results import TestResult, make_result

__all__ = ["permanova", "pseudo_f_test"]

#: Permutations evaluated per pass over the distance matrix.  Each distance is
#: read once per chunk and reused for every permutation in it.
_CHUNK = 256
#: A permuted pseudo-F counts as "at least as large" when it is within this
#: relative distance of the observed one, so that rounding cannot break ties.
_TIE_RTOL = 1e-9
#: Below this many (distance, permutation) updates per chunk (about 125
#: samples) the kernels run on one thread: waking the pool costs more than the
#: work.  Above it two threads win on a quiet machine (1,000 samples: 0.031 s
#: against 0.047 s; 5,000: 0.63 s against 0.84 s), though on a machine busy
#: with other work they can lose.
_PARALLEL_MIN_WORK = 4_000_000


@contextlib.contextmanager
def _numba_threads(count: int | None) -> Iterator[None]:
    if count is None:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(min(count, previous))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


# --------------------------------------------------------------------- kernels
@numba.njit(parallel=True, cache=True)
def _sum_sq_upper(d: np.ndarray) -> float:  # pragma: no cover - compiled
    """``Σ_{i<j} d_ij²`` (deterministic: per-row partial sums, then in order)."""
    n = d.shape[0]
    partial = np.empty(n)
    for i in numba.prange(n):
        s = 0.0
        for j in range(i + 1, n):
            s += d[i, j] * d[i, j]
        partial[i] = s
    total = 0.0
    for i in range(n):
        total += partial[i]
    return total


@numba.njit(parallel=True, fastmath=True, cache=True)
def _within_ss(d: np.ndarray, labels_t: np.ndarray, inv_sizes: np.ndarray,
               out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``s_W`` for many groupings in one pass over the upper triangle of ``d``.

    ``labels_t`` is ``n × P`` (sample-major, any integer type): column ``p``
    is one grouping; ``inv_sizes[p, k]`` is ``1 / n_k`` under grouping ``p``
    (sizes change between groupings when whole subjects are permuted).
    ``out[p] = Σ_{i<j, g_i = g_j} d_ij² / n_{g_i}``.  Rows ``t`` and
    ``n - 1 - t`` are handled by the same task so the tasks are equal in size.
    Per grouping the sum runs over ``j`` in order for every row (the
    vectorisation is across groupings), so two groupings that describe the
    same partition give bit-identical results.
    """
    n = d.shape[0]
    n_perm = labels_t.shape[1]
    half = (n + 1) // 2
    partial = np.zeros((half, n_perm))
    for t in numba.prange(half):
        acc = np.empty(n_perm)
        first = np.int64(t)
        for side in range(2):
            i = first
            if side == 1:
                i = np.int64(n - 1) - first
                if i == first:
                    break
            for p in range(n_perm):
                acc[p] = 0.0
            li = labels_t[i]
            for j in range(i + 1, n):
                v = d[i, j]
                a = v * v
                lj = labels_t[j]
                for p in range(n_perm):
                    acc[p] += a if lj[p] == li[p] else 0.0
            for p in range(n_perm):
                partial[t, p] += acc[p] * inv_sizes[p, li[p]]
    for p in range(n_perm):
        s = 0.0
        for t in range(half):
            s += partial[t, p]
        out[p] = s


# ------------------------------------------------------------------------- API
def pseudo_f_test(s_t: float, s_w: np.ndarray, g: int, n: int, n_perm: int
                  ) -> tuple[np.ndarray, float, float, float]:
    """Return PERMANOVA's between-group sums, R², pseudo-F and permutation p-value.

    ``s_w[0]`` is the observed labelling's within-group sum of squares and
    ``s_w[1:]`` the permuted ones'; ``s_t`` the total.  A permuted pseudo-F
    counts as at least the observed one within a relative ``1e-9`` (sums of
    floats in another order give last-digit differences).
    Shared by :func:`permanova` and the blockwise PERMANOVA of
    :mod:`gutaxis.distributed`.

    Examples
    --------
    >>> s_a, r2, f, p = pseudo_f_test(10.0, np.array([4.0, 8.0, 3.0]), 2, 6, 2)
    >>> round(f, 6), round(r2, 6), round(p, 4)
    (6.0, 0.6, 0.6667)
    """
    s_a = s_t - s_w
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (s_a / (g - 1)) / (s_w / (n - g))
        r2 = s_a[0] / s_t if s_t > 0 else math.nan
    stat = float(f[0])
    if n_perm == 0 or math.isnan(stat):
        p = math.nan
    else:
        perm = f[1:]
        hits = int(np.count_nonzero(perm >= stat - _TIE_RTOL * abs(stat))) if math.isfinite(
            stat) else int(np.count_nonzero(perm == stat))
        p = (hits + 1) / (n_perm + 1)
    return s_a, float(r2), stat, p


def permanova(dm: DistanceMatrix, grouping: pd.Series | Any, *, permutations: int = 999,
              seed: int | np.random.Generator | None = None,
              subjects: pd.Series | Any = None) -> TestResult:
    r"""Permutational multivariate analysis of variance (one factor).

    Parameters
    ----------
    dm : DistanceMatrix
        Distances between ``n`` samples.
    grouping : pandas.Series or array_like
        The group of every sample.  A Series is matched to ``dm.ids`` by its
        index (extra ids are ignored; every id of ``dm`` must be present); any
        other 1-D array-like is taken in ``dm.ids`` order.  Labels may be of
        any hashable type; missing values (NaN/None) are refused.
    permutations : int
        Number of random relabellings for the p-value (``>= 0``; 0 gives a
        NaN p-value).
    seed : int, numpy.random.Generator or None
        Seed (or generator) for the permutations.  ``None`` draws fresh
        entropy from the operating system.
    subjects : pandas.Series or array_like, optional
        The subject (person) of every sample, matched as ``grouping`` is.
        Given, the permutations respect it (see
        :mod:`gutaxis.stats._permutations`): whole subjects are permuted when
        the grouping is constant within each subject, labels within subjects
        when it changes within each; other designs are refused.

    Returns
    -------
    TestResult
        ``method="PERMANOVA"``, ``statistic_name="pseudo-F"``,
        ``effect_size_name="R2"``; ``extra`` holds ``ss_total``,
        ``ss_within``, ``ss_between``, ``df_between``, ``df_within``,
        ``group_sizes`` (label → size, labels as strings) and
        ``permutation_design`` (its kind, number of subjects and description).

    Raises
    ------
    NotFoundError
        A sample of ``dm`` is not in the index of the grouping Series.
    InputError
        Fewer than two groups, every group of size one, missing labels, a
        grouping of the wrong length, a bad ``permutations``/``seed``, a
        sample without a subject, or a design that cannot be permuted
        honestly.

    Notes
    -----
    Following Anderson (2001) [1]_, with :math:`N` samples in :math:`g`
    groups of sizes :math:`n_k`,

    .. math::
        SS_T = \frac1N \sum_{i<j} d_{ij}^2, \qquad
        SS_W = \sum_k \frac{1}{n_k} \sum_{i<j;\, i,j \in k} d_{ij}^2, \qquad
        SS_A = SS_T - SS_W,

    .. math::
        F = \frac{SS_A / (g - 1)}{SS_W / (N - g)}, \qquad R^2 = \frac{SS_A}{SS_T}.

    The p-value is :math:`(1 + \#\{F^\pi \ge F\}) / (1 + \text{permutations})`
    over random relabellings :math:`\pi` of the samples (restricted by
    ``subjects``; the statistic itself is the same), where a permuted
    :math:`F^\pi` within a relative 1e-9 of :math:`F` counts as a tie (as
    vegan [2]_ does with an absolute tolerance), so that rounding cannot
    break ties between groupings that describe the same partition.

    *Agreement with scikit-bio.*  The pseudo-F equals
    ``skbio.stats.distance.permanova``'s to rounding.  The permutations are
    drawn exactly as scikit-bio draws them — one
    ``rng.permutation(grouping_codes)`` per permutation from
    ``numpy.random.default_rng(seed)`` — so with the same integer seed (or a
    generator in the same state) the p-values are identical.  (scikit-bio's
    ``seed=None`` draws its seed from NumPy's legacy global state; ours from
    the operating system.)

    *Speed.*  Instead of one pass over the distance matrix per permutation,
    a compiled kernel reads every distance once per chunk of 256
    permutations and updates the within-group sums of all of them
    (vectorised across the permutations, with 8-bit group labels when there
    are fewer than 128 groups; in parallel over rows); no copy of the matrix
    is made.  The cost is
    ``O(n² · permutations)`` additions, independent of the number of groups.

    References
    ----------
    .. [1] Anderson, M. J. (2001). A new method for non-parametric
       multivariate analysis of variance. *Austral Ecology* 26(1), 32–46.
       doi:10.1111/j.1442-9993.2001.01070.pp.x
    .. [2] Oksanen, J. et al. vegan: Community Ecology Package (``adonis2``,
       ``permutest``). https://CRAN.R-project.org/package=vegan

    Examples
    --------
    >>> import numpy as np
    >>> from gutaxis import DistanceMatrix
    >>> x = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 12.0])
    >>> dm = DistanceMatrix(list("abcdef"), np.abs(x[:, None] - x[None, :]))
    >>> res = permanova(dm, ["u", "u", "u", "v", "v", "v"], permutations=99, seed=1)
    >>> round(res.statistic, 4), round(res.effect_size, 4)
    (150.0, 0.974)
    """
    if not isinstance(dm, DistanceMatrix):
        raise InputError(f"permanova takes a gutaxis DistanceMatrix; got {type_label(dm)}")
    codes, labels, name, sizes = _tested_grouping(
        dm, grouping, "PERMANOVA", why_two="within-group variation to compare with")
    n, g = len(codes), len(labels)
    n_perm = _check_permutations(permutations)
    rng = _rng(seed)
    design = permutation_design(pd.Index(dm.ids), codes, subjects, "PERMANOVA")

    d = dm.data
    if not d.flags.c_contiguous:
        d = d.T if d.flags.f_contiguous else np.ascontiguousarray(d)
    # small problems on one thread: waking the pool costs more than the work
    with _numba_threads(1 if n * n * min(n_perm + 1, _CHUNK) < _PARALLEL_MIN_WORK else None):
        s_t = _sum_sq_upper(d) / n
        s_w = _within_ss_permuted(d, codes, g, n_perm, rng, design)
    s_a, r2, stat, p = pseudo_f_test(s_t, s_w, g, n, n_perm)
    extra: dict[str, Any] = {
        "ss_total": float(s_t),
        "ss_within": float(s_w[0]),
        "ss_between": float(s_a[0]),
        "df_between": g - 1,
        "df_within": n - g,
        "group_sizes": {str(lab): int(size) for lab, size in zip(labels, sizes, strict=True)},
        "permutation_design": design.to_dict(),
    }
    if name is not None:
        extra["grouping"] = str(name)
    return make_result(method="PERMANOVA", statistic_name="pseudo-F", statistic=stat,
                       p_value=p, permutations=n_perm, n=n, n_groups=g, effect_size=r2,
                       effect_size_name="R2", extra=extra)


# --------------------------------------------------------------------- helpers
def _within_ss_permuted(d: np.ndarray, codes: np.ndarray, g: int, n_perm: int,
                        rng: np.random.Generator, design: PermutationDesign) -> np.ndarray:
    """``s_W`` of the observed grouping, then of ``n_perm`` relabellings ``design`` allows."""
    n = len(codes)
    out = np.empty(n_perm + 1)
    width = min(_CHUNK, n_perm + 1)
    # the narrowest label type: the kernel streams the labels of every row for
    # every pair, and int8 labels make it ~25 % faster than int32
    dtype = np.int8 if g <= 127 else np.int16 if g <= 32767 else np.int32
    buf = np.empty((width, n), dtype=dtype)
    codes = codes.astype(dtype)
    for start in range(0, n_perm + 1, _CHUNK):
        stop = min(start + _CHUNK, n_perm + 1)
        for row, i in enumerate(range(start, stop)):
            if i > 0:
                # free design: rng.shuffle on a copy of ``codes`` ==
                # rng.permutation(codes) (the scikit-bio stream, whatever the dtype)
                design.relabel(codes, rng, buf[row])
            else:
                buf[row] = codes
        block = buf[: stop - start]
        rows = len(block)
        flat = (block + g * np.arange(rows)[:, None]).ravel()
        sizes = np.bincount(flat, minlength=rows * g).reshape(rows, g).astype(np.float64)
        inv = np.divide(1.0, sizes, out=np.zeros_like(sizes), where=sizes > 0)
        _within_ss(d, np.ascontiguousarray(block.T), inv, out[start:stop])
    return out
