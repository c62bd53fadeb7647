"""PERMANOVA on a tiled distance matrix: within-group sums of every permutation, by tile."""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.distributed._driver import dask_client
from gutaxis.distributed._store import open_complete, read_tile
from gutaxis.distributed._tiles import TileGrid
from gutaxis.exceptions import InputError
from gutaxis.stats import TestResult, make_result, permutation_design
from gutaxis.stats.permanova import pseudo_f_test

__all__ = ["blockwise_permanova"]

#: Permutations per task batch: labels of ``n × _CHUNK`` bytes travel to the workers.
_CHUNK = 256


def _codes(ids: pd.Index, grouping: Any) -> tuple[np.ndarray, list[Any], Any]:
    """Group codes in store order (a Series matched by id, else values in order)."""
    name = None
    if isinstance(grouping, pd.Series):
        name = grouping.name
        missing = ids.difference(grouping.index)
        if len(missing):
            raise InputError(f"the grouping has no value for {len(missing)} sample(s) of the "
                             f"store: {', '.join(map(str, missing[:10]))}")
        values = grouping.reindex(ids).to_numpy()
    else:
        values = np.asarray(grouping, dtype=object)
        if values.ndim != 1 or len(values) != len(ids):
            raise InputError(f"grouping must give one group per sample of the store ({len(ids)}, "
                             f"in its order); got shape {values.shape}")
    codes, uniques = pd.factorize(values, sort=True)
    if (codes < 0).any():
        raise InputError(f"the grouping has no group (NaN/None) for {int((codes < 0).sum())} "
                         "sample(s); leave them out first")
    g, n = len(uniques), len(codes)
    if g < 2 or g == n:
        raise InputError(f"PERMANOVA needs at least 2 groups and a group of 2 samples or more; "
                         f"the grouping has {g} group(s) for {n} samples")
    return codes.astype(np.int64), list(uniques), name


def _tile_within(store: Path, grid: TileGrid, block_i: int, block_j: int, labels: np.ndarray,
                 inv_sizes: np.ndarray) -> tuple[np.ndarray, float]:
    """Σ over the tile's pairs in one group of ``d² / n_group``, for every labelling (worker).

    ``labels`` is ``n × m`` (m labellings), ``inv_sizes`` ``m × g``.  A diagonal tile
    counts each pair twice and is halved; its diagonal is zero.
    """
    rows, cols = grid.rows(block_i), grid.rows(block_j)
    sq = read_tile(store, rows, cols) ** 2
    m, g = inv_sizes.shape
    li, lj = labels[rows], labels[cols]
    # one-hot of the column labels: (b_j, m * g); sq @ it = per row, per labelling, per group
    onehot_j = np.zeros((lj.shape[0], m * g))
    onehot_j[np.arange(lj.shape[0])[:, None], lj + g * np.arange(m)] = 1.0
    per_group = (sq @ onehot_j).reshape(len(li), m, g)
    mine = np.take_along_axis(per_group, li[:, :, None], axis=2)[:, :, 0]  # (b_i, m)
    weights = inv_sizes.T[li, np.arange(m)]  # (b_i, m): 1 / size of each row's group
    within = (mine * weights).sum(axis=0)
    total = float(sq.sum())
    if block_i == block_j:
        within, total = within / 2.0, total / 2.0
    return within, total


def blockwise_permanova(store: str | Path, grouping: Any, *, permutations: int = 999,
                        seed: int | np.random.Generator | None = None, subjects: Any = None,
                        cluster: Any = "local") -> TestResult:
    r"""PERMANOVA (one factor) on a tiled distance matrix, never holding it whole.

    The same test as :func:`gutaxis.stats.permanova` — same pseudo-F, R², sums of
    squares, permutation design and p-value for the same ``seed`` — computed in
    passes over the stored tiles: each Dask task reads one tile and returns, for a
    batch of permuted labellings, the tile's within-group sums of squared distances.

    Parameters
    ----------
    store : str or pathlib.Path
        A complete store of :func:`blockwise_beta_diversity`.
    grouping : pandas.Series or array_like
        The group of every sample: a Series matched by sample id, else values
        in the store's order.
    permutations : int
        Random relabellings for the p-value (``≥ 0``).
    seed : int, numpy.random.Generator or None
        As for :func:`gutaxis.stats.permanova` (the same stream of relabellings).
    subjects : pandas.Series or array_like, optional
        Samples of one subject, permuted together (as in ``permanova``).
    cluster : {"local"} or str or distributed.Client
        As for :func:`blockwise_beta_diversity`.

    Returns
    -------
    TestResult
        ``method="PERMANOVA"``, ``statistic_name="pseudo-F"``, effect size R²,
        and ``extra`` with the sums of squares, degrees of freedom, group sizes
        and the permutation design, as ``permanova`` gives.

    Raises
    ------
    InputError
        A grouping that does not fit the store or has fewer than 2 groups, bad
        ``permutations``.
    ValidationError
        ``store`` is not a complete store.

    Notes
    -----
    For every labelling the within-group sum :math:`SS_W = \sum_k \frac{1}{n_k}
    \sum_{i<j \in k} d_{ij}^2` is the sum over the tiles of ``(onehot_I)ᵀ D²_IJ
    onehot_J`` weighted by :math:`1/n_k` (a diagonal tile halved): one matrix
    product of the tile with the one-hot labels of a batch of 256 labellings.
    Work is ``O(n² · g · permutations)`` multiply-adds, spread over the tiles; the
    labels of the permutations (``n`` bytes each) go to every worker.
    """
    attrs, grid = open_complete(store)
    ids = pd.Index(attrs["order"], dtype=object)
    codes, labels, name = _codes(ids, grouping)
    if (isinstance(permutations, bool) or not isinstance(permutations, numbers.Integral)
            or permutations < 0):
        raise InputError(f"permutations must be a non-negative integer; got {permutations!r}")
    n_perm = int(permutations)
    n, g = len(codes), len(labels)
    rng = np.random.default_rng(seed)
    design = permutation_design(ids, codes, subjects, "PERMANOVA")
    sizes = np.bincount(codes, minlength=g)

    s_w = np.empty(n_perm + 1)
    s_t = 0.0
    with dask_client(cluster) as client:
        import distributed

        for start in range(0, n_perm + 1, _CHUNK):
            stop = min(start + _CHUNK, n_perm + 1)
            block = np.empty((stop - start, n), dtype=np.int64)
            for row, i in enumerate(range(start, stop)):
                if i == 0:
                    block[row] = codes
                else:
                    design.relabel(codes, rng, block[row])
            counts = np.stack([np.bincount(b, minlength=g) for b in block]).astype(np.float64)
            inv = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
            shared = client.scatter(np.ascontiguousarray(block.T), broadcast=True)
            futures = [client.submit(_tile_within, Path(store), grid, i, j, shared, inv,
                                     pure=False) for i, j in grid.upper()]
            acc = np.zeros(stop - start)
            total = 0.0
            for future in distributed.as_completed(futures):
                within, t = future.result()
                acc += within
                total += t
            s_w[start:stop] = acc
            s_t = total / n
    s_a, r2, stat, p = pseudo_f_test(s_t, s_w, g, n, n_perm)
    extra: dict[str, Any] = {
        "ss_total": float(s_t), "ss_within": float(s_w[0]), "ss_between": float(s_a[0]),
        "df_between": g - 1, "df_within": n - g,
        "group_sizes": {str(lab): int(size) for lab, size in zip(labels, sizes, strict=True)},
        "permutation_design": design.to_dict(),
    }
    if name is not None:
        extra["grouping"] = str(name)
    return make_result(method="PERMANOVA", statistic_name="pseudo-F", statistic=stat,
                       p_value=p, permutations=n_perm, n=n, n_groups=g, effect_size=r2,
                       effect_size_name="R2", extra=extra)
