"""Synthetic, gut-like inputs for the benchmarks.

:func:`gut_table`
    A samples × features count table shaped like 16S/shotgun gut data: a
    long-tailed (log-normal) spread of feature abundances, 5–15 % of the
    features present in each sample, Dirichlet–multinomial counts at
    log-normally spread depths.  Built row by row straight into CSR arrays —
    the table is never dense.
:func:`random_tree`
    A random rooted binary tree over the features (random joins, as in a
    coalescent) with exponential branch lengths, as parent/length/name arrays;
    :func:`to_newick`, :func:`gutaxis_tree` and :func:`skbio_tree` convert it.

Everything is a deterministic function of the sizes and the seed.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["SyntheticTable", "gut_table", "random_tree", "RandomTree", "to_newick",
           "gutaxis_tree", "skbio_tree", "study"]


@dataclasses.dataclass(frozen=True)
class SyntheticTable:
    """A synthetic count table: ``counts`` (CSR float64 with integer values) and ids."""

    counts: sp.csr_matrix
    sample_ids: list[str]
    feature_ids: list[str]

    @property
    def nbytes(self) -> int:
        c = self.counts
        return int(c.data.nbytes + c.indices.nbytes + c.indptr.nbytes)


@dataclasses.dataclass(frozen=True)
class RandomTree:
    """A rooted tree as arrays: ``parent[v]`` (-1 for the root), ``lengths``, ``names``.

    Nodes ``0 .. n_tips-1`` are the tips (named after the features); internal
    nodes come after their children, the root last.
    """

    parent: np.ndarray
    lengths: np.ndarray
    names: list[str | None]


def gut_table(n_samples: int, n_features: int, seed: int = 0, *,
              density: tuple[float, float] = (0.05, 0.15),
              depth_median: float = 30_000.0) -> SyntheticTable:
    """A sparse gut-like count table.

    Parameters
    ----------
    n_samples, n_features : int
        Table shape.
    seed : int
        Seed; the table is a deterministic function of the arguments.
    density : (float, float)
        Each sample holds ``U(density)`` × ``n_features`` distinct features.
    depth_median : float
        Median sequencing depth (log-normal, σ = 0.5, at least 2 reads per
        present feature).

    Returns
    -------
    SyntheticTable

    Notes
    -----
    Feature ``f`` has a global abundance weight ``w_f ~ LogNormal(0, 2)``
    (a few dominant taxa, a long tail of rare ones).  A sample draws its
    ``k`` features without replacement with probabilities ∝ ``√w_f``
    (Efraimidis–Spirakis keys: the top ``k`` of ``log(u)/√w``), then
    proportions ``p ~ Dirichlet(0.5 · w_sel / mean(w_sel))`` and counts
    ``1 + Multinomial(depth - k, p)``, so exactly ``k`` features are non-zero.
    """
    if n_samples < 1 or n_features < 1:
        raise ValueError("n_samples and n_features must be positive")
    rng = np.random.default_rng([seed, n_samples, n_features])
    w = rng.lognormal(0.0, 2.0, n_features)
    sel_w = np.sqrt(w)
    lo, hi = density
    indptr = np.zeros(n_samples + 1, dtype=np.int64)
    ks = np.maximum(1, np.rint(rng.uniform(lo, hi, n_samples) * n_features)).astype(np.int64)
    ks = np.minimum(ks, n_features)
    np.cumsum(ks, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int32)
    data = np.empty(indptr[-1], dtype=np.float64)
    depths = np.rint(depth_median * rng.lognormal(0.0, 0.5, n_samples)).astype(np.int64)
    for s in range(n_samples):
        k = int(ks[s])
        keys = np.log(rng.random(n_features)) / sel_w
        chosen = np.argpartition(keys, n_features - k)[n_features - k:] if k < n_features \
            else np.arange(n_features)
        chosen.sort()
        alpha = 0.5 * w[chosen] / w[chosen].mean()
        g = rng.standard_gamma(alpha)
        total = g.sum()
        p = g / total if total > 0 else np.full(k, 1.0 / k)
        depth = max(int(depths[s]), 2 * k)
        counts = 1 + rng.multinomial(depth - k, p)
        indices[indptr[s]:indptr[s + 1]] = chosen
        data[indptr[s]:indptr[s + 1]] = counts
    table = sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_features))
    width = max(5, len(str(max(n_samples, n_features))))
    return SyntheticTable(
        counts=table,
        sample_ids=[f"S{i:0{width}d}" for i in range(n_samples)],
        feature_ids=[f"F{i:0{width}d}" for i in range(n_features)],
    )


def random_tree(tip_names: list[str], seed: int = 0, *, mean_length: float = 0.05) -> RandomTree:
    """A random rooted binary tree over ``tip_names``.

    Pairs of subtrees are joined uniformly at random until one remains (the
    topology of a coalescent); every branch has an ``Exponential(mean_length)``
    length, the root none (0).
    """
    n = len(tip_names)
    if n < 2:
        raise ValueError("a tree needs at least 2 tips")
    rng = np.random.default_rng([seed, n, 7])
    n_nodes = 2 * n - 1
    parent = np.full(n_nodes, -1, dtype=np.int64)
    active = list(range(n))
    nxt = n
    while len(active) > 1:
        for _ in range(2):
            i = int(rng.integers(len(active)))
            active[i], active[-1] = active[-1], active[i]
            parent[active.pop()] = nxt
        active.append(nxt)
        nxt += 1
    lengths = rng.exponential(mean_length, n_nodes)
    lengths[-1] = 0.0
    names: list[str | None] = [*tip_names, *([None] * (n - 1))]
    return RandomTree(parent=parent, lengths=lengths, names=names)


def to_newick(tree: RandomTree) -> str:
    """Newick text of a :class:`RandomTree` (built bottom-up, no recursion)."""
    n_nodes = len(tree.parent)
    children: list[list[int]] = [[] for _ in range(n_nodes)]
    for v in range(n_nodes - 1):
        children[int(tree.parent[v])].append(v)
    text: list[str | None] = [None] * n_nodes
    for v in range(n_nodes):  # children have smaller indices than their parent
        label = tree.names[v] or ""
        if children[v]:
            inner = ",".join(text[c] for c in children[v])  # type: ignore[misc]
            for c in children[v]:
                text[c] = None  # free memory as we go
            label = f"({inner}){label}"
        text[v] = f"{label}:{float(tree.lengths[v])!r}" if v < n_nodes - 1 else label
    return f"{text[-1]};"


def gutaxis_tree(tree: RandomTree) -> Any:
    """The tree as a :class:`gutaxis.tree.Tree`."""
    from gutaxis.tree import Tree

    return Tree.from_arrays(tree.parent, tree.lengths, tree.names, source="<synthetic>")


def skbio_tree(tree: RandomTree) -> Any:
    """The tree as a :class:`skbio.TreeNode` (parsed from :func:`to_newick`)."""
    import skbio

    return skbio.TreeNode.read(io.StringIO(to_newick(tree)), format="newick")


def study(table: SyntheticTable, tree: RandomTree | None = None) -> Any:
    """A :class:`gutaxis.Study` of the table (and tree)."""
    from gutaxis import Study

    return Study(table.counts, table.sample_ids, table.feature_ids,
                 tree=None if tree is None else gutaxis_tree(tree), source="<synthetic>")
