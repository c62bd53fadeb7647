r"""Phylogenetic diversity: Faith's PD and UniFrac, on a :class:`~gutaxis.tree.Tree`.

Registered metrics (all with ``needs_tree=True``; the driver checks that every
feature is a tip of the tree and passes ``tree=`` and ``feature_ids=``):

======================================  ==========================================
``faith_pd`` (alpha)                    ``skbio.diversity.alpha.faith_pd``
``unweighted_unifrac`` (beta)           ``skbio.diversity.beta.unweighted_unifrac``
``weighted_unifrac`` (beta)             ``skbio.diversity.beta.weighted_unifrac``
                                        with ``normalized=False`` (QIIME 2's
                                        ``weighted_unifrac``)
``weighted_normalized_unifrac`` (beta)  ``weighted_unifrac(normalized=True)``
======================================  ==========================================

Definitions
-----------
For a rooted tree with branch lengths :math:`L_b` (one branch above every
node, the root's own branch included when the Newick text gives it a
length, as scikit-bio does), let :math:`a_b` be the total abundance of the
features below branch :math:`b` in sample A, :math:`A = \sum` of A's
abundances, and likewise :math:`b_b, B` for sample B.

* Faith's PD: :math:`\sum_b L_b [a_b > 0]`.
* unweighted UniFrac:
  :math:`\sum_b L_b [a_b > 0 \oplus b_b > 0] / \sum_b L_b [a_b > 0 \lor b_b > 0]`
  (0 when the denominator is 0 — the two samples span no branch length, so
  the tree cannot tell them apart; scikit-bio returns NaN there, 0/0, which a
  distance matrix cannot hold).
* weighted UniFrac: :math:`u = \sum_b L_b |a_b/A - b_b/B|` (a sample with
  :math:`A = 0` contributes zeros).
* weighted normalized UniFrac: :math:`u / \sum_t d_t (a_t/A + b_t/B)` where
  :math:`d_t` is the distance from tip :math:`t` to the root (root branch
  included); 0 when both samples are empty or the denominator is 0 (scikit-bio:
  NaN, as above).

These are exactly scikit-bio's definitions (version 0.7.4, checked by the
test suite to a relative tolerance of 1e-9 on random data; the kernels aim
at 1e-12, the differences are summation order).

Edge cases
----------
* **Empty samples** (all zeros): Faith's PD 0; unweighted UniFrac 0 to
  another empty sample and 1 to a non-empty one (unless that one's branches
  all have length 0); weighted UniFrac to a non-empty sample B is
  :math:`\sum_b L_b b_b/B` (B's mean tip depth), normalized 1.
* **The root branch**: included in every metric when it has a length (it
  counts as present in every non-empty sample), like scikit-bio; QIIME 2's
  ``unifrac`` library may differ there.  A root without a length counts 0.
* **Features not in the tree**: the driver raises
  :class:`~gutaxis.exceptions.NotFoundError` listing them before any kernel
  runs (the kernels check again).
* **Tips not in the table**, and features that are zero in every sample,
  change nothing: their branches carry zero abundance everywhere, so the
  values are the same on ``tree`` and on ``tree.shear(feature_ids)`` (as
  QIIME 2 shears the tree to the table's features).
* **Unrooted trees**: a root with more than two children is refused, as
  scikit-bio refuses it ("The tree must be rooted"); use
  :meth:`~gutaxis.tree.Tree.midpoint_root`.
* **Missing branch lengths** on any node but the root are refused (scikit-bio
  raises ``NoLengthError``).
* **Identical samples** are at distance 0 exactly for the weighted metrics;
  unweighted UniFrac may show ~1e-16 (its BLAS path sums in another order).
* **Non-integer abundances** (relative profiles) are used as given;
  scikit-bio casts them to integers first, so it only agrees on counts.
  Weighted UniFrac depends on proportions only, so relative and count
  profiles of the same sample give the same value.

Performance
-----------
On 2 cores (shared, load 2-4), synthetic tables with 10 % non-zero entries
and a random binary tree: 5,000 samples × 10,000 features take 5-7 s per
UniFrac (scikit-bio 0.7.4 ``beta_diversity``: about 2,000-3,400 s with its
default engine, extrapolated from 500 samples; 370-600 s with
``engine="numba"``); 10,000 × 10,000 take 9-30 s per UniFrac, with peak
memory about 100 MB above the 763 MB result.

Algorithm
---------
See :mod:`gutaxis.diversity._faith_unifrac_kernels`: the tree is reduced to the
branches that carry abundance (single-child chains merged), per-sample branch
abundances are streamed branch by branch in bounded-memory batches (no
samples × branches matrix), and each batch is added to the ``n × n`` result
in place -- sparse branches pair by pair over the samples that have them,
nearly full ones over the samples that lack them, the rest with BLAS
``dsyrk``/``dgemm`` tiles (unweighted; :mod:`gutaxis.diversity._gram`) or a
tiled :math:`|a-b|` loop (weighted), the idea
of processing branches in stripes following Striped UniFrac.  Extra memory
beyond the result (and the caller's table) is the working memory
``work_bytes``: the batch's branch lists and dense columns, the tips' columns
(read from the table in runs of tips, one pass over its rows a run: 64 MiB or
a tenth of ``work_bytes`` a run).

References
----------
.. [1] Lozupone, C. & Knight, R. (2005). UniFrac: a new phylogenetic method
   for comparing microbial communities. Appl. Environ. Microbiol. 71,
   8228-8235. doi:10.1128/AEM.71.12.8228-8235.2005
.. [2] Lozupone, C. A., Hamady, M., Kelley, S. T. & Knight, R. (2007).
   Quantitative and qualitative beta diversity measures lead to different
   insights into factors that structure microbial communities. Appl.
   Environ. Microbiol. 73, 1576-1585. doi:10.1128/AEM.01996-06
.. [3] Faith, D. P. (1992). Conservation evaluation and phylogenetic
   diversity. Biol. Conserv. 61, 1-10. doi:10.1016/0006-3207(92)91201-3
.. [4] Hamady, M., Lozupone, C. & Knight, R. (2010). Fast UniFrac:
   facilitating high-throughput phylogenetic analyses of microbial
   communities including analysis of pyrosequencing and PhyloChip data.
   ISME J. 4, 17-27. doi:10.1038/ismej.2009.97
.. [5] McDonald, D. et al. (2018). Striped UniFrac: enabling microbiome
   analysis at unprecedented scale. Nat. Methods 15, 847-848.
   doi:10.1038/s41592-018-0187-8
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from gutaxis.diversity import _faith_unifrac_kernels as _k
from gutaxis.diversity import _gram
from gutaxis.diversity._registry import check_block_rows, register_alpha, register_beta
from gutaxis.exceptions import InputError, NotFoundError
from gutaxis.tree import Tree

__all__ = [
    "faith_pd",
    "unweighted_unifrac",
    "weighted_unifrac",
    "weighted_normalized_unifrac",
    "unifrac_block",
]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _numba_threads(n_threads: int | None) -> Iterator[None]:
    if n_threads is None:
        yield
        return
    if n_threads < 1:
        raise InputError(f"n_threads must be ≥ 1; got {n_threads}")
    old = numba.get_num_threads()
    numba.set_num_threads(min(int(n_threads), numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    try:
        yield
    finally:
        numba.set_num_threads(old)


class _Prepared:
    """Checked inputs: CSR table, tree arrays, node of each feature."""

    __slots__ = ("X", "tip_node", "parent", "length", "n_nodes", "tree")

    def __init__(self, counts: Any, tree: Tree, feature_ids: Sequence[str], metric: str) -> None:
        if not isinstance(tree, Tree):
            if type(tree).__name__ == "TreeNode":
                tree = Tree.from_skbio(tree)
            else:
                raise InputError(f"{metric} needs a gutaxis.tree.Tree; got {type(tree).__name__}")
        X = counts if sp.issparse(counts) else sp.csr_matrix(np.asarray(counts, dtype=np.float64))
        X = sp.csr_matrix(X, dtype=np.float64)
        if not X.has_canonical_format:  # repeated (sample, feature) entries: summed, in a copy
            X = X.copy()
            X.sum_duplicates()
        if X.ndim != 2:
            raise InputError(f"{metric}: counts must be a samples × features matrix")
        feature_ids = [str(f) for f in feature_ids]
        if len(feature_ids) != X.shape[1]:
            raise InputError(
                f"{metric}: {len(feature_ids)} feature ids for a table with {X.shape[1]} columns"
            )
        if len(set(feature_ids)) != len(feature_ids):
            raise InputError(f"{metric}: feature ids must be unique")
        if X.nnz:
            if not np.all(np.isfinite(X.data)):
                raise InputError(f"{metric}: the table contains NaN or infinite values")
            if X.data.min() < 0:
                raise InputError(f"{metric}: abundances must be ≥ 0")
        try:
            tip_node = tree.tip_positions(feature_ids)
        except NotFoundError as exc:
            raise NotFoundError("feature id", exc.missing, "the tree's tips") from None
        if tree.root_children > 2:
            raise InputError(
                f"{metric} needs a rooted tree, but the root of {tree.source} has "
                f"{tree.root_children} children (an unrooted tree written from an arbitrary "
                "node, as tree builders do). Root it first, e.g. tree.midpoint_root(), as "
                "QIIME 2's 'phylogeny midpoint-root' does"
            )
        lengths = np.array(tree.lengths, dtype=np.float64)
        missing = np.flatnonzero(np.isnan(lengths[:-1]))
        if len(missing):
            example = tree.names[missing[0]]
            raise InputError(
                f"{metric} needs branch lengths, but {len(missing)} branch(es) of {tree.source} "
                f"have none (e.g. above {example if example is not None else 'an unnamed node'}"
                ")"
            )
        if np.isnan(lengths[-1]):
            lengths[-1] = 0.0
        self.X = X
        self.tip_node = np.ascontiguousarray(tip_node, dtype=np.int64)
        self.parent = np.ascontiguousarray(tree.parent, dtype=np.int64)
        self.length = lengths
        self.n_nodes = tree.n_nodes
        self.tree = tree


def _faith_pd_values(counts: Any, tree: Tree, feature_ids: Sequence[str],
                     n_threads: int | None = None) -> np.ndarray:
    prep = _Prepared(counts, tree, feature_ids, "faith_pd")
    X = prep.X
    with _numba_threads(n_threads):
        values: np.ndarray = _k._faith_pd(X.indptr, X.indices, X.data,
                                          prep.tip_node, prep.parent, prep.length,
                                          prep.n_nodes, numba.get_num_threads())
    return values


@register_alpha("faith_pd", needs_tree=True,
                summary="Faith's phylogenetic diversity: total branch length spanned")
def faith_pd(counts: Any, *, tree: Tree, feature_ids: Sequence[str]) -> np.ndarray:
    """Faith's phylogenetic diversity of every sample.

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        Samples × features abundances (only presence matters).
    tree : Tree
        Rooted tree whose tips include every feature id.
    feature_ids : sequence of str
        Column ids of ``counts``.

    Returns
    -------
    ndarray of float64
        Sum of the lengths of the branches between the sample's features and
        the root, the root's own branch included when it has a length --
        ``skbio.diversity.alpha.faith_pd`` to 1e-12 relative.

    References
    ----------
    .. [1] Faith, D. P. (1992). Conservation evaluation and phylogenetic
       diversity. Biol. Conserv. 61, 1-10. doi:10.1016/0006-3207(92)91201-3

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> t = Tree.from_newick("((A:1,B:2):0.5,C:3);")
    >>> faith_pd(sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 1], [0, 0, 0]])),
    ...          tree=t, feature_ids=["A", "B", "C"])
    array([1.5, 6.5, 0. ])
    """
    return _faith_pd_values(counts, tree, feature_ids)


def _work_bytes(n: int, input_bytes: int) -> int:
    """Default memory for the batch buffers: 12 % of input + result, 4 MiB to 1 GiB."""
    return int(min(2**30, max(4 * 2**20, 0.12 * (input_bytes + n * n * 8))))


def unifrac(counts: Any, tree: Tree, feature_ids: Sequence[str], *, weighted: bool,
            normalized: bool = False, n_threads: int | None = None,
            work_bytes: int | None = None, n_rows: int | None = None) -> np.ndarray:
    """UniFrac distance matrix (the engine behind the registered metrics).

    Parameters
    ----------
    counts : scipy.sparse matrix or array
        Samples × features abundances.
    tree : Tree
        Rooted tree whose tips include every feature id.
    feature_ids : sequence of str
        Column ids of ``counts``.
    weighted : bool
        Weighted (abundance) or unweighted (presence) UniFrac.
    normalized : bool
        For weighted UniFrac: divide by the tip-depth normalizer.
    n_threads : int, optional
        Threads for the compiled loops and for the unweighted dense part's
        single-threaded BLAS tiles (default: numba's setting, all cores).
        BLAS's own thread pool is held at one thread while the tiles run.
    work_bytes : int, optional
        Working memory (default: 12 % of the table's and the result's size,
        between 4 MiB and 1 GiB): 40 % for the branch lists, 40 % for the
        dense columns, a tenth for the tips' columns (at least 64 MiB a run).
        Peak memory beyond the result and the table is about this plus a few
        vectors of length ``n``.
    n_rows : int, optional
        Only the block of the first ``n_rows`` samples against the others
        (:func:`unifrac_block`).

    Returns
    -------
    ndarray of float64, shape (n_samples, n_samples)
        Symmetric, zero diagonal; with ``n_rows``, shape
        (n_rows, n_samples - n_rows).
    """
    metric = ("weighted_normalized_unifrac" if normalized else "weighted_unifrac") if weighted \
        else "unweighted_unifrac"
    prep = _Prepared(counts, tree, feature_ids, metric)
    n = prep.X.shape[0]
    rows = check_block_rows(n_rows, n, metric)
    out = np.zeros((n, n) if rows is None else (rows, n - rows), dtype=np.float64)
    if n < 2:
        return out
    with _numba_threads(n_threads):
        _unifrac_into(out, prep, weighted=weighted, normalized=normalized,
                      work_bytes=work_bytes or _work_bytes(n, _nbytes(prep.X)), n_rows=rows)
    return out


def unifrac_block(counts: Any, tree: Tree, feature_ids: Sequence[str], n_rows: int, *,
                  weighted: bool, normalized: bool = False, n_threads: int | None = None,
                  work_bytes: int | None = None) -> np.ndarray:
    """UniFrac distances between the first ``n_rows`` samples and the others.

    The ``n_rows × (n - n_rows)`` block of :func:`unifrac` on the same
    table, computed without the pairs inside either group: a tile of a
    blockwise matrix (:mod:`gutaxis.distributed`) costs its own pairs, not
    those of the square on both groups.  The branches are streamed as for
    the square, and each pair's sums are accumulated in the same order; the
    dense part (a BLAS ``gemm`` instead of ``syrk``) may round differently,
    so the block equals the square's to about 1e-15.

    Parameters
    ----------
    counts, tree, feature_ids, weighted, normalized, n_threads, work_bytes
        As :func:`unifrac`.
    n_rows : int
        Samples of the first group (``1 ≤ n_rows < n``).

    Returns
    -------
    ndarray of float64, shape (n_rows, n_samples - n_rows)

    Examples
    --------
    >>> t = Tree.from_newick("((A:1,B:2):0.5,C:3);")
    >>> x = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    >>> block = unifrac_block(x, t, "ABC", 1, weighted=False)
    >>> square = unifrac(x, t, "ABC", weighted=False)
    >>> bool(np.allclose(block, square[:1, 1:], rtol=0, atol=1e-15)), block.shape
    (True, (1, 2))
    """
    if n_rows is None:
        raise InputError("unifrac_block needs n_rows (unifrac computes the square)")
    return unifrac(counts, tree, feature_ids, weighted=weighted, normalized=normalized,
                   n_threads=n_threads, work_bytes=work_bytes, n_rows=n_rows)


def _unifrac_into(out: np.ndarray, prep: _Prepared, *, weighted: bool, normalized: bool,
                  work_bytes: int, n_rows: int | None = None) -> None:
    """Fill ``out``: the square (``n_rows`` None) or the block of the first ``n_rows`` rows.

    The branch stream (:func:`_accumulate`) adds every branch to the upper
    triangle; the distances are then finished from its sums, and the square
    is mirrored.
    """
    X = prep.X
    n = X.shape[0]
    totals = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
    inv_tot = np.divide(1.0, totals, out=np.zeros(n), where=totals > 0)
    C, acc_a, acc_b = _accumulate(out, prep, inv_tot, weighted=weighted,
                                  work_bytes=work_bytes, n_rows=n_rows)
    if weighted:
        norm = np.zeros(n)
        if normalized:
            depth = _node_depths(prep.parent, prep.length)
            norm = (X @ depth[prep.tip_node]) * inv_tot
        if n_rows is not None:
            _k._finish_weighted_block(out, acc_a, norm, normalized)
        else:
            _k._finish_weighted(out, acc_a, norm, normalized)
    elif n_rows is not None:
        _k._finish_unweighted_block(out, acc_a, acc_b, C)
    else:
        _k._finish_unweighted(out, acc_a, acc_b, C)
    if n_rows is None:
        _k._mirror(out)


def _accumulate(out: np.ndarray, prep: _Prepared, inv_tot: np.ndarray, *, weighted: bool,
                work_bytes: int, n_rows: int | None) -> tuple[float, np.ndarray, np.ndarray]:
    """Stream the branches into ``out``; return the complement length and the accumulators."""
    X = prep.X
    n, n_features = X.shape
    indices = X.indices
    data = X.data
    col_nnz = _k._column_counts(indices, data, n_features)
    observed = col_nnz > 0
    tip_feature_of_node = np.full(prep.n_nodes, -1, dtype=np.int64)
    tip_feature_of_node[prep.tip_node] = np.arange(n_features)
    order, eparent, elen, efeat, max_live = _k._effective_tree(
        prep.parent, prep.length, tip_feature_of_node, observed)
    n_eff = len(order)
    # rank of each observed feature in the stream
    stream_feats = efeat[efeat >= 0]
    rank = np.full(n_features, -1, dtype=np.int64)
    rank[stream_feats] = np.arange(len(stream_feats))
    erank = np.where(efeat >= 0, rank[np.maximum(efeat, 0)], -1)
    n_tips = len(stream_feats)
    mode = 1 if weighted else 0
    # --- working memory (work_bytes): 40 % for the branch lists, 40 % for the dense
    # columns, 10 % for the tips' columns (read from the table in runs of tips that fit,
    # TIP_RUN_FLOOR at least); the Gram tiles are added in place (_gram), no scratch
    per_entry = 20 if weighted else 12
    nnz_cap = int(max(n, (work_bytes * 4 // 10) // per_entry))
    nb_cap = int(max(64, nnz_cap // 16))
    dense_cap = int(min(512, max(8, (work_bytes * 4 // 10) // (8 * n))))
    # runs of tips whose columns (4 bytes a non-zero, 12 with values) fit in their share;
    # each run costs one pass over the table's rows
    per_value = 12 if weighted else 4
    tip_bytes = np.cumsum(col_nnz[stream_feats] * per_value)
    run_bytes = max(work_bytes // 10, TIP_RUN_FLOOR)
    runs = [0]
    while runs[-1] < n_tips:
        before = int(tip_bytes[runs[-1] - 1]) if runs[-1] else 0
        end = int(np.searchsorted(tip_bytes, before + run_bytes, side="right"))
        runs.append(max(end, runs[-1] + 1))  # a run holds one tip at least
    if n_tips == 0:
        runs.append(0)  # one empty run
    pool = np.empty((max_live, n), dtype=np.float64)
    slot_of = np.full(n_eff, -1, dtype=np.int64)
    free_slots = np.arange(max_live, dtype=np.int64)
    br_ptr = np.zeros(nb_cap + 1, dtype=np.int64)
    br_idx = np.empty(nnz_cap, dtype=np.int32)
    br_val = np.empty(nnz_cap if weighted else 1, dtype=np.float64)
    br_len = np.empty(nb_cap, dtype=np.float64)
    s_ptr = np.zeros(n + 1, dtype=np.int64)
    s_k = np.empty(nnz_cap, dtype=np.int32)
    s_br = np.empty(nnz_cap, dtype=np.int32)
    dense = (np.empty((n, dense_cap), dtype=np.float64) if weighted
             else np.empty((dense_cap, n), dtype=np.float64))
    acc_a = np.zeros(n, dtype=np.float64)
    acc_b = np.zeros(n, dtype=np.float64)
    br_split = np.empty(nb_cap if n_rows is not None else 0, dtype=np.int64)
    if weighted:
        lo, hi = _k.WEIGHTED_DENSE, 2.0
    else:
        lo, hi = _k.UNWEIGHTED_LO, _k.UNWEIGHTED_HI
    C = 0.0
    q = nb = nnz = nd = 0
    n_free = max_live
    n_batches = 0
    run = 0
    tip_ptr, tip_idx, tip_val = _k._tip_columns(X.indptr, X.indices, X.data, rank,
                                                runs[0], runs[1], weighted)
    with contextlib.ExitStack() as stack:
        # the unweighted dense part: single-threaded BLAS tiles on a pool of ours (_gram)
        n_threads = numba.get_num_threads()
        gram_pool = None
        if not weighted and n_threads > 1:
            gram_pool = stack.enter_context(ThreadPoolExecutor(n_threads))
        while q < n_eff:
            q, nb, nnz, nd, n_free, c_add, status = _k._stream_batch(
                q, nb, nnz, nd, n_free, mode, eparent, elen, erank,
                tip_ptr, tip_idx, tip_val, runs[run], runs[run + 1], inv_tot,
                pool, slot_of, free_slots, lo, hi, nnz_cap,
                br_ptr, br_idx, br_val, br_len, dense, dense_cap, acc_a, acc_b)
            C += c_add
            if status == 1:  # the next tip is in the next run: read it, go on with this batch
                run += 1
                del tip_ptr, tip_idx, tip_val
                tip_ptr, tip_idx, tip_val = _k._tip_columns(X.indptr, X.indices, X.data, rank,
                                                            runs[run], runs[run + 1], weighted)
                continue
            n_batches += 1
            if nnz:
                _k._sample_entries(n, nb, br_ptr, br_idx, s_ptr, s_k, s_br)
            else:
                s_ptr[:] = 0
            if n_rows is not None:
                _block_batch(out, n_rows, weighted, nb, nnz, nd, br_ptr, br_idx, br_val, br_len,
                             s_ptr, s_k, s_br, br_split, dense, gram_pool, n_threads)
            elif weighted:
                if nd:
                    _k._weighted_dense(out, dense, nd)
                if nnz:
                    _k._weighted_sparse(out, br_ptr, br_idx, br_val, s_ptr, s_k, s_br)
            else:
                if nnz:
                    _k._scatter_unweighted(out, nb, br_ptr, br_idx, br_len, s_ptr, s_k, s_br)
                if nd:
                    _gram.add_gram_upper(out, dense[:nd], gram_pool, n_threads)
            nb = nnz = nd = 0
    logger.debug("UniFrac: %d samples, %d effective branches, %d batches, %d runs of tips",
                 n, n_eff, n_batches, len(runs) - 1)
    return C, acc_a, acc_b


#: The tips' columns are read from the table in runs of at least this many bytes (a
#: tenth of the working memory when that is more): one pass over the table's rows a run.
TIP_RUN_FLOOR = 64 * 2**20

def _block_batch(out: np.ndarray, n_rows: int, weighted: bool, nb: int, nnz: int, nd: int,
                 br_ptr: np.ndarray, br_idx: np.ndarray, br_val: np.ndarray,
                 br_len: np.ndarray, s_ptr: np.ndarray, s_k: np.ndarray, s_br: np.ndarray,
                 br_split: np.ndarray, dense: np.ndarray, pool: ThreadPoolExecutor | None,
                 n_threads: int) -> None:
    """Add one batch to the block ``out`` (pairs of a first-``n_rows`` and a later sample)."""
    if nnz:
        _k._split_points(nb, br_ptr, br_idx, n_rows, br_split)
    if weighted:
        if nd:
            _k._weighted_dense_block(out, dense, nd)
        if nnz:
            _k._weighted_sparse_block(out, br_ptr, br_idx, br_val, s_ptr, s_k, s_br, br_split)
    else:
        if nnz:
            _k._scatter_unweighted_block(out, br_ptr, br_idx, br_len, s_ptr, s_br, br_split)
        if nd:
            _gram.add_gram_block(out, dense[:nd], n_rows, pool, n_threads)


def _nbytes(X: sp.csr_matrix) -> int:
    return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)


def _node_depths(parent: np.ndarray, length: np.ndarray) -> np.ndarray:
    depth = length.copy()
    for v in range(len(parent) - 2, -1, -1):
        depth[v] += depth[parent[v]]
    return depth


@register_beta("unweighted_unifrac", needs_tree=True, options=("n_threads",),
               summary="Unweighted UniFrac: share of branch length unique to one sample")
def unweighted_unifrac(counts: Any, *, tree: Tree, feature_ids: Sequence[str],
                       n_threads: int | None = None, n_rows: int | None = None) -> np.ndarray:
    """Unweighted UniFrac distances between all samples.

    ``skbio.diversity.beta.unweighted_unifrac`` (scikit-bio 0.7.4) for every
    pair, to 1e-9 relative (tested); see the module docstring for the
    definition and edge cases.

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        Samples × features abundances (only presence matters).
    tree : Tree
        Rooted tree whose tips include every feature id.
    feature_ids : sequence of str
        Column ids of ``counts``.
    n_threads : int, optional
        Threads for the compiled loops.
    n_rows : int, optional
        Only the distances between the first ``n_rows`` samples and the
        others (:func:`unifrac_block`).

    Returns
    -------
    ndarray of float64, shape (n_samples, n_samples)
        With ``n_rows``: shape (n_rows, n_samples - n_rows).

    References
    ----------
    .. [1] Lozupone, C. & Knight, R. (2005). Appl. Environ. Microbiol. 71,
       8228-8235. doi:10.1128/AEM.71.12.8228-8235.2005
    .. [2] Hamady, M., Lozupone, C. & Knight, R. (2010). Fast UniFrac.
       ISME J. 4, 17-27.
    .. [3] McDonald, D. et al. (2018). Striped UniFrac. Nat. Methods 15,
       847-848. doi:10.1038/s41592-018-0187-8

    Examples
    --------
    >>> import numpy as np
    >>> t = Tree.from_newick("((A:1,B:2):0.5,C:3);")
    >>> d = unweighted_unifrac(np.array([[1, 0, 0], [0, 1, 0]]), tree=t, feature_ids="ABC")
    >>> round(float(d[0, 1]), 6)   # unique 1 + 2 over observed 1 + 2 + 0.5
    0.857143
    """
    return unifrac(counts, tree, feature_ids, weighted=False, n_threads=n_threads,
                   n_rows=n_rows)


@register_beta("weighted_unifrac", needs_tree=True, options=("n_threads",),
               summary="Weighted UniFrac (unnormalized): abundance moved times branch length")
def weighted_unifrac(counts: Any, *, tree: Tree, feature_ids: Sequence[str],
                     n_threads: int | None = None, n_rows: int | None = None) -> np.ndarray:
    """Weighted (unnormalized) UniFrac distances between all samples.

    ``skbio.diversity.beta.weighted_unifrac(..., normalized=False)``
    (scikit-bio 0.7.4; QIIME 2's ``weighted_unifrac``) for every pair, to
    1e-9 relative (tested); see the module docstring.

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        Samples × features abundances.
    tree : Tree
        Rooted tree whose tips include every feature id.
    feature_ids : sequence of str
        Column ids of ``counts``.
    n_threads : int, optional
        Threads for the compiled loops.
    n_rows : int, optional
        Only the distances between the first ``n_rows`` samples and the
        others (:func:`unifrac_block`).

    Returns
    -------
    ndarray of float64, shape (n_samples, n_samples)
        With ``n_rows``: shape (n_rows, n_samples - n_rows).

    References
    ----------
    .. [1] Lozupone, C. A., Hamady, M., Kelley, S. T. & Knight, R. (2007).
       Appl. Environ. Microbiol. 73, 1576-1585. doi:10.1128/AEM.01996-06
    .. [2] McDonald, D. et al. (2018). Striped UniFrac. Nat. Methods 15,
       847-848. doi:10.1038/s41592-018-0187-8

    Examples
    --------
    >>> import numpy as np
    >>> t = Tree.from_newick("((A:1,B:2):0.5,C:3);")
    >>> d = weighted_unifrac(np.array([[1, 0, 0], [0, 1, 0]]), tree=t, feature_ids="ABC")
    >>> float(d[0, 1])   # 1·|1-0| + 2·|0-1| + 0.5·|1-1|
    3.0
    """
    return unifrac(counts, tree, feature_ids, weighted=True, normalized=False,
                   n_threads=n_threads, n_rows=n_rows)


@register_beta("weighted_normalized_unifrac", needs_tree=True, options=("n_threads",),
               summary="Weighted normalized UniFrac: weighted UniFrac scaled to [0, 1]")
def weighted_normalized_unifrac(counts: Any, *, tree: Tree, feature_ids: Sequence[str],
                                n_threads: int | None = None,
                                n_rows: int | None = None) -> np.ndarray:
    """Weighted normalized UniFrac distances between all samples.

    ``skbio.diversity.beta.weighted_unifrac(..., normalized=True)``
    (scikit-bio 0.7.4) for every pair, to 1e-9 relative (tested): weighted
    UniFrac divided by ``Σ_t depth(t)·(a_t/A + b_t/B)``; see the module
    docstring.

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        Samples × features abundances.
    tree : Tree
        Rooted tree whose tips include every feature id.
    feature_ids : sequence of str
        Column ids of ``counts``.
    n_threads : int, optional
        Threads for the compiled loops.
    n_rows : int, optional
        Only the distances between the first ``n_rows`` samples and the
        others (:func:`unifrac_block`).

    Returns
    -------
    ndarray of float64, shape (n_samples, n_samples)
        With ``n_rows``: shape (n_rows, n_samples - n_rows).

    References
    ----------
    .. [1] Lozupone, C. A., Hamady, M., Kelley, S. T. & Knight, R. (2007).
       Appl. Environ. Microbiol. 73, 1576-1585. doi:10.1128/AEM.01996-06

    Examples
    --------
    >>> import numpy as np
    >>> t = Tree.from_newick("((A:1,B:2):0.5,C:3);")
    >>> d = weighted_normalized_unifrac(np.array([[1, 0, 0], [0, 1, 0]]), tree=t,
    ...                                 feature_ids="ABC")
    >>> float(d[0, 1])   # 3 / (depth A 1.5 + depth B 2.5)
    0.75
    """
    return unifrac(counts, tree, feature_ids, weighted=True, normalized=True,
                   n_threads=n_threads, n_rows=n_rows)
