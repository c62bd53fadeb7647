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
           "gutaxis_tree", "skbio_tree", "study", "SyntheticCohort", "cohort",
           "COHORT_MARKERS"]


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


# ------------------------------------------------------------------ cohort
#: Phyla of the synthetic cohort's genera, with the share of families in each.
_PHYLA = (("Firmicutes", 0.45), ("Bacteroidetes", 0.25), ("Proteobacteria", 0.12),
          ("Actinobacteria", 0.08), ("Verrucomicrobia", 0.05), ("Fusobacteria", 0.05))
#: Marker columns of the synthetic cohort (as in the bundled study).
COHORT_MARKERS = ("LPSpgml", "LBPugml", "sCD14ugml", "IFABPpgml")


@dataclasses.dataclass(frozen=True)
class SyntheticCohort:
    """A two-group cohort: a :class:`gutaxis.Study` with taxonomy and metadata.

    ``study.samples`` holds ``group`` (``"case"``/``"control"``, alternating)
    and the :data:`COHORT_MARKERS` columns (NaN = missing).  ``planted`` are
    the genera (feature ids) whose abundance differs between the groups,
    with their natural-log fold change (case / control).
    """

    study: Any
    planted: dict[str, float]
    group_column: str = "group"
    markers: tuple[str, ...] = COHORT_MARKERS


def cohort(n_samples: int, n_genera: int = 300, seed: int = 0, *, n_planted: int = 30,
           missing: float = 0.1, depth_median: float = 30_000.0) -> SyntheticCohort:
    """A two-group gut cohort at genus level, with planted differences and markers.

    Parameters
    ----------
    n_samples : int
        Samples (``≥ 4``); groups ``case`` and ``control`` alternate, so each
        holds half.
    n_genera : int
        Genera (features), each with a full lineage (6 phyla, 6 genera per
        family, 2 families per order, 2 orders per class, named within their
        phylum).
    seed : int
        Seed; the cohort is a deterministic function of the arguments.
    n_planted : int
        Genera whose mean abundance differs between the groups
        (log fold change ``±U(0.7, 1.6)``, natural log).
    missing : float
        Share of missing values in each marker column (completely at random).
    depth_median : float
        Median read depth (log-normal, σ = 0.5, at least 2,000 reads).

    Notes
    -----
    Genus ``f`` has a log abundance ``μ_f ~ N(0, 2)`` and a prevalence that
    grows with it (from about 15 % to 98 %).  In sample ``s`` it is present
    with that probability; present genera get a gamma-mixed (negative
    binomial, shape 2) Poisson count with mean ∝ ``exp(μ_f + β_f·case_s)``,
    scaled to the sample's depth.  Markers are log-normal, shifted up in the
    cases and, for LPS and sCD14, correlated with the CLR of a planted genus.
    """
    import pandas as pd

    from gutaxis import Study

    if n_samples < 4 or n_genera < 2:
        raise ValueError("need at least 4 samples and 2 genera")
    rng = np.random.default_rng([seed, n_samples, n_genera, 11])
    case = (np.arange(n_samples) % 2 == 0)
    mu = rng.normal(0.0, 2.0, n_genera)
    prevalence = 0.15 + 0.83 / (1.0 + np.exp(-(mu - 0.5)))
    beta = np.zeros(n_genera)
    planted_idx = rng.choice(n_genera, size=min(n_planted, n_genera), replace=False)
    beta[planted_idx] = rng.choice([-1.0, 1.0], size=len(planted_idx)) * rng.uniform(
        0.7, 1.6, len(planted_idx))
    log_rate = mu[None, :] + beta[None, :] * case[:, None]
    present = rng.random((n_samples, n_genera)) < prevalence[None, :]
    rate = np.exp(log_rate) * present * rng.gamma(2.0, 0.5, (n_samples, n_genera))
    depth = np.maximum(2_000, np.rint(depth_median * rng.lognormal(0.0, 0.5, n_samples)))
    rate *= (depth / np.maximum(rate.sum(axis=1), 1e-300))[:, None]
    counts = rng.poisson(rate).astype(np.float64)
    empty = counts.sum(axis=1) == 0
    counts[empty, int(np.argmax(mu))] = 1.0  # no sample without reads
    width = max(4, len(str(max(n_samples, n_genera))))
    sample_ids = [f"S{i:0{width}d}" for i in range(n_samples)]
    feature_ids = [f"G{j:0{width}d}" for j in range(n_genera)]

    family = np.arange(n_genera) // 6
    n_families = int(family.max()) + 1
    shares = np.array([s for _, s in _PHYLA])
    phylum_of_family = np.repeat(np.arange(len(_PHYLA)),
                                 np.maximum(1, np.rint(shares * n_families)).astype(int))
    phylum_of_family = np.resize(phylum_of_family, n_families)
    phylum = [_PHYLA[phylum_of_family[f]][0] for f in family]
    taxonomy = pd.DataFrame({
        "kingdom": "Bacteria",
        "phylum": phylum,
        "class": [f"{p[:4]}Class{f // 4}" for p, f in zip(phylum, family, strict=True)],
        "order": [f"{p[:4]}Order{f // 2}" for p, f in zip(phylum, family, strict=True)],
        "family": [f"Family{f}" for f in family],
        "genus": [f"Genus{j}" for j in range(n_genera)],
        "species": None,
    }, index=pd.Index(feature_ids, name="feature_id"))

    def clr_of(j: int) -> np.ndarray:
        logs = np.log(counts + 0.5)
        return np.asarray(logs[:, j] - logs.mean(axis=1))

    lps_taxon, scd14_taxon = (int(planted_idx[0]), int(planted_idx[1 % len(planted_idx)]))
    z = [rng.normal(size=n_samples) for _ in COHORT_MARKERS]
    signal = {"LPSpgml": 0.5 * clr_of(lps_taxon), "sCD14ugml": 0.4 * clr_of(scd14_taxon)}
    scales = {"LPSpgml": 50.0, "LBPugml": 20.0, "sCD14ugml": 1.5, "IFABPpgml": 1_000.0}
    md = pd.DataFrame({"group": np.where(case, "case", "control")},
                      index=pd.Index(sample_ids, name="sample_id"))
    for name, noise in zip(COHORT_MARKERS, z, strict=True):
        log_value = 0.3 * case + signal.get(name, 0.0) + 0.6 * noise
        values = scales[name] * np.exp(log_value)
        values[rng.random(n_samples) < missing] = np.nan
        md[name] = values
    study = Study(sp.csr_matrix(counts), sample_ids, feature_ids, taxonomy=taxonomy,
                  source="<synthetic cohort>").with_metadata(md)
    return SyntheticCohort(study=study,
                           planted={feature_ids[j]: float(beta[j]) for j in planted_idx})
