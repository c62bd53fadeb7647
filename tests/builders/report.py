"""Builders of small synthetic CohortAnalysis objects for the report tests.

Real ``TestResult`` (``make_result``), ``DistanceMatrix`` and ``OrdinationResult``
(``pcoa``); ``SimpleNamespace`` stand-ins with exactly the documented attributes
for ``DifferentialAbundance``, ``ClassifierResult`` and ``MarkerPanel``.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial.distance import pdist, squareform

from gutaxis import DistanceMatrix, Study
from gutaxis.cohort import CohortAnalysis
from gutaxis.markers import MarkerColumn, MarkerPanel
from gutaxis.ordination import pcoa
from gutaxis.provenance import build_provenance
from gutaxis.stats import make_result

EVIL = "Bad<script>alert(1)</script>taxon"
ALPHA = ("observed_features", "shannon_entropy")
BETA = ("braycurtis", "jaccard")
MARKERS = {"LPS": "pg/mL", "sCD14": "ug/mL", "I-FABP": "pg/mL"}
PHYLA = ("Firmicutes", "Bacteroidetes", "Proteobacteria", "Actinobacteria",
         "Verrucomicrobia", "Tenericutes", "Cyanobacteria", "Fusobacteria", "Spirochaetes",
         "Synergistetes", "Lentisphaerae")
FIXED_CLOCK = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _group_test(values: pd.Series, labels: pd.Series, order: Sequence[str], *, p: float,
                unit: str | None = None) -> object:
    groups = [values[labels == g].dropna() for g in order]
    medians = {g: float(v.median()) for g, v in zip(order, groups, strict=True)}
    extra = {"groups": list(order), "medians": medians,
             "n_per_group": {g: len(v) for g, v in zip(order, groups, strict=True)},
             "missing": int(values.isna().sum()),
             "higher_in": max(medians, key=lambda g: medians[g])}
    if unit is not None:
        extra["unit"] = unit
    return make_result(method="Mann-Whitney U", statistic_name="U", statistic=12.5,
                       p_value=p, permutations=0, n=int(values.notna().sum()), n_groups=2,
                       effect_size=0.31, effect_size_name="rank_biserial", extra=extra)


def make_analysis(*, n_per_group: Sequence[int] = (7, 6),
                  groups: Sequence[str] = ("control", "ME/CFS"), beta: Sequence[str] = BETA,
                  with_markers: bool = True, with_da: bool = True,
                  with_classifier: bool = True, n_features: int = 30,
                  seed: int = 0) -> CohortAnalysis:
    """A small, internally consistent analysis (numbers are made up, not computed)."""
    rng = np.random.default_rng(seed)
    order = list(groups)
    ids = [f"S{i:03d}" for i in range(sum(n_per_group))]
    labels = pd.Series(np.repeat(order, n_per_group), index=pd.Index(ids, name="sample_id"),
                       name="diagnosis")
    feature_ids = [f"F{j}" for j in range(n_features)]
    counts = rng.poisson(rng.gamma(0.6, 40, size=(len(ids), n_features)))
    taxonomy = pd.DataFrame({r: [None] * n_features for r in
                             ("kingdom", "phylum", "class", "order", "family", "genus",
                              "species")}, index=feature_ids, dtype=object)
    taxonomy["kingdom"] = "Bacteria"
    taxonomy["phylum"] = [PHYLA[j % len(PHYLA)] for j in range(n_features)]
    taxonomy["genus"] = [f"Genus{j}" for j in range(n_features)]
    study = Study(sp.csr_matrix(counts), ids, feature_ids, taxonomy=taxonomy,
                  samples=pd.DataFrame({"diagnosis": labels}), source="synthetic")

    rel = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    phyla = pd.DataFrame(rel, index=ids, columns=feature_ids).T.groupby(
        taxonomy["phylum"]).sum().T
    genus = pd.DataFrame(rel, index=ids, columns=taxonomy["genus"].tolist())
    genus_means = genus.groupby(labels).mean().T.reindex(columns=order)
    top = genus_means.mean(axis=1).sort_values(ascending=False).index[:8]
    genus_means = pd.concat([genus_means.loc[top],
                             genus_means.drop(index=top).sum().to_frame("Other").T])
    phylum_means = phyla.groupby(labels).mean().T.reindex(columns=order)
    phylum_means = phylum_means.loc[phyla.mean().sort_values(ascending=False).index]

    alpha = pd.DataFrame({"observed_features": (counts > 0).sum(axis=1).astype(float),
                          "shannon_entropy": rng.normal(4, 0.5, len(ids))},
                         index=pd.Index(ids, name="sample_id"))
    alpha_tests = {m: _group_test(alpha[m], labels, order, p=p).with_q_value(min(2 * p, 1))
                   for m, p in zip(ALPHA, (0.012, 0.4), strict=True)}

    dms, ords, perm, disp = {}, {}, {}, {}
    for k, name in enumerate(beta):
        dm = DistanceMatrix(ids, squareform(pdist(rel + 1e-3 * k, "braycurtis")), name)
        dms[name], ords[name] = dm, pcoa(dm, n_components=3, warn_negative=False)
        perm[name] = make_result(method="PERMANOVA", statistic_name="pseudo-F",
                                 statistic=1.92 + k, p_value=0.001 if k == 0 else 0.23,
                                 permutations=999, n=len(ids), n_groups=2,
                                 effect_size=0.022, effect_size_name="R2")
        disp[name] = make_result(method="PERMDISP", statistic_name="F", statistic=0.41,
                                 p_value=0.53, permutations=999, n=len(ids), n_groups=2,
                                 effect_size=float("nan"), effect_size_name="",
                                 extra={"mean_distance": {g: 0.4 for g in order}})

    da = None
    if with_da:
        taxa = [EVIL, *(f"Genus{j}" for j in range(1, 12))]
        effect = np.linspace(-2, 2.5, len(taxa))
        q = np.linspace(0.001, 0.9, len(taxa))
        table = pd.DataFrame({"taxon": [f"g__{t}" for t in taxa], "label": taxa,
                              "effect": effect, "ci_low": effect - 0.8, "ci_high": effect + 0.8,
                              "p": q / 2, "q": q,
                              "higher_in": [order[1] if e > 0 else order[0] for e in effect],
                              "mean_abundance": np.linspace(0.1, 0.001, len(taxa)),
                              "prevalence": np.linspace(1, 0.2, len(taxa))})
        da = types.SimpleNamespace(method="ALDEx2-style CLR Welch test",
                                   citation="Fernandes et al. (2014) Microbiome 2:15",
                                   rank="genus", group_column="diagnosis",
                                   reference_group=order[0], comparison_group=order[1],
                                   covariates=["age"], mc_samples=128, seed=0, table=table)

    markers = None
    marker_tests: dict = {}
    corr = pd.DataFrame(columns=["a", "b", "scope", "rho", "p", "q", "n"])
    assoc = pd.DataFrame(columns=["marker", "taxon", "label", "rho", "p", "q", "n"])
    if with_markers:
        values = pd.DataFrame({"LPS": 10 ** rng.uniform(0, 3.5, len(ids)),
                               "sCD14": rng.normal(1.5, 0.3, len(ids)),
                               "I-FABP": rng.normal(300, 80, len(ids))}, index=ids)
        values.iloc[0, 1] = np.nan
        markers = MarkerPanel(values, {m: MarkerColumn(m, m.lower(), unit, None, "user")
                                       for m, unit in MARKERS.items()})
        marker_tests = {m: _group_test(values[m], labels, order, p=p, unit=MARKERS[m])
                        .with_q_value(min(3 * p, 1))
                        for m, p in zip(MARKERS, (0.004, 0.2, 0.03), strict=True)}
        rows = []
        for scope in ["pooled", *order]:
            for i, a in enumerate(MARKERS):
                for b in list(MARKERS)[i + 1:]:
                    rows.append((a, b, scope, rng.uniform(-0.9, 0.9), 0.02, 0.04, len(ids)))
        corr = pd.DataFrame(rows, columns=["a", "b", "scope", "rho", "p", "q", "n"])
        taxa = [EVIL, *(f"Genus{j}" for j in range(1, 30))]
        assoc = pd.DataFrame([(m, f"g__{t}", t, rng.uniform(-0.7, 0.7), p, min(3 * p, 1),
                               len(ids))
                              for m in MARKERS for t, p in zip(taxa, rng.uniform(0, 0.5, 30),
                                                               strict=True)],
                             columns=["marker", "taxon", "label", "rho", "p", "q", "n"])

    classifier = {}
    if with_classifier:
        fpr = np.linspace(0, 1, 21)
        for k, name in enumerate(["microbiome", "markers", "combined"][: 3 if with_markers
                                                                      else 1]):
            tpr = fpr ** (0.3 + 0.2 * k)
            classifier[name] = types.SimpleNamespace(
                feature_set=name, classes=order, positive_class=order[1], n_samples=len(ids),
                n_features=10 + k, accuracy_mean=0.7 - 0.05 * k, accuracy_sd=0.1,
                auc_mean=0.75 - 0.05 * k, auc_sd=0.08,
                cv={"n_splits": 5, "n_repeats": 10, "stratified": True},
                fold_scores=pd.DataFrame({"accuracy": [0.7, 0.6], "auc": [0.8, 0.7]}),
                roc=None if k == 1 else pd.DataFrame({"fpr": fpr, "tpr_mean": tpr,
                                                      "tpr_sd": np.full_like(fpr, 0.1)}),
                importances=pd.DataFrame({"feature": [EVIL, "Genus2", "LPS"],
                                          "importance_mean": [0.01, 0.03, 0.02],
                                          "importance_sd": [0.001, 0.002, 0.003]}))

    skipped: dict[str, str] = {"faith_pd": "needs a phylogenetic tree; none given or built"}
    if not with_markers:
        skipped["markers"] = "no marker columns given (--markers)"
    if not with_da:
        skipped["differential abundance"] = "compares two groups; diagnosis has 3"
    if not with_classifier:
        skipped["classifier"] = "not requested (--no-classifier)"
    parameters = {"group_column": "diagnosis", "groups": order, "covariates": ["age"],
                  "rank": "genus", "rarefaction_depth": 1000, "seed": 0, "permutations": 999,
                  "alpha_metrics": list(ALPHA), "beta_metrics": list(beta), "mc_samples": 128,
                  "min_prevalence": 0.1, "cv_folds": 5, "cv_repeats": 10,
                  "n_estimators": 100, "min_group_size": 3, "threads": 4}
    inputs = [{"role": "table", "path": "table.biom", "sha256": "ab" * 32, "bytes": 1234},
              {"role": "metadata", "path": "sample-metadata.tsv", "sha256": "cd" * 32,
               "bytes": 567}]
    provenance = build_provenance(command=["gutaxis", "analyze", "table.biom"], inputs=inputs,
                                  parameters=parameters, steps=study.provenance,
                                  extra={"skipped": skipped}, clock=lambda: FIXED_CLOCK)
    return CohortAnalysis(
        study=study, group_column="diagnosis", group_order=order, groups=labels,
        rarefaction_depth=1000, rarefaction_dropped=["S999"], alpha=alpha,
        alpha_tests=alpha_tests, beta=dms, ordinations=ords, permanova=perm, permdisp=disp,
        rank="genus", phylum_abundance=phyla,
        group_mean_abundance={"phylum": phylum_means, "genus": genus_means},
        differential_abundance=da, markers=markers, marker_tests=marker_tests,
        marker_correlations=corr, marker_taxon_associations=assoc, classifier=classifier,
        parameters=parameters, provenance=provenance, skipped=skipped)
