"""Cohort analysis of the gut–immune axis: everything ``gutaxis analyze`` computes.

:func:`analyze_cohort` takes a :class:`~gutaxis.study.Study` with sample
metadata, a grouping column and marker columns, and returns one
:class:`CohortAnalysis`: diversity with group tests, ordination, PERMANOVA and
PERMDISP; composition at a rank with compositional differential abundance;
markers compared between groups and correlated with each other and with taxa;
and random-forest classifiers with repeated cross-validation.  The report
(:mod:`gutaxis.report`) renders a :class:`CohortAnalysis`; nothing in it
recomputes statistics.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from gutaxis import composition
from gutaxis.diversity import alpha_diversity, alpha_metrics, beta_diversity, beta_metrics, rarefy
from gutaxis.exceptions import InputError, NotFoundError, UnknownRankError, ValidationError
from gutaxis.ordination import pcoa
from gutaxis.stats import permanova
from gutaxis.stats._grouping import group_labels
from gutaxis.stats.correlation import spearman_pairs
from gutaxis.stats.group_tests import bh_adjust, compare_groups_many
from gutaxis.stats.permdisp import permdisp
from gutaxis.study import RANKS

if TYPE_CHECKING:
    from gutaxis.distance import DistanceMatrix
    from gutaxis.markers import MarkerPanel
    from gutaxis.ordination import OrdinationResult
    from gutaxis.stats import TestResult
    from gutaxis.stats.classifier import ClassifierResult, FittedClassifier
    from gutaxis.stats.differential import DifferentialAbundance
    from gutaxis.study import Study

__all__ = ["CohortAnalysis", "analyze_cohort", "DEFAULT_ALPHA", "DEFAULT_BETA",
           "FEATURE_SETS"]

log = logging.getLogger(__name__)

#: Alpha metrics compared between groups by default (QIIME 2 names).
DEFAULT_ALPHA: tuple[str, ...] = ("observed_features", "shannon_entropy", "pielou_evenness",
                                  "faith_pd")
#: Beta metrics tested by default (those needing a tree are skipped without one).
DEFAULT_BETA: tuple[str, ...] = ("braycurtis", "jaccard", "aitchison", "unweighted_unifrac",
                                 "weighted_unifrac")
#: The classifier's feature sets, in report order.
FEATURE_SETS: tuple[str, ...] = ("microbiome", "markers", "combined")
#: Shallowest sample depth accepted as the default rarefaction depth; below it
#: the default is the depth that keeps 90 % of the samples.
_MIN_DEFAULT_DEPTH = 1000

#: ``on_step(label, done, total)``; ``total`` may change as steps are skipped.
StepCallback = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True)
class CohortAnalysis:
    """The results of one cohort analysis.

    Attributes
    ----------
    study : Study
        The samples analysed (metadata attached, unrarefied counts).
    group_column : str
        The metadata column that defines the groups.
    group_order : list of str
        The groups, in the order used everywhere (tables, figures, effect signs).
    groups : pandas.Series
        Group of each analysed sample (index = sample ids).
    rarefaction_depth : int or None
        Depth the diversity step rarefied to; ``None`` when not rarefied.
    rarefaction_dropped : list of str
        Samples below the depth, left out of the diversity step.
    alpha : pandas.DataFrame
        Samples × alpha metrics (on the rarefied table when rarefied).
    alpha_tests : dict of str to TestResult
        Per metric: Mann–Whitney (2 groups) or Kruskal–Wallis with an effect
        size; ``q_value`` is Benjamini–Hochberg across the alpha metrics.
        ``extra`` holds ``medians`` (group → value).
    beta : dict of str to DistanceMatrix
        Per beta metric.
    ordinations : dict of str to OrdinationResult
        PCoA of each distance matrix.
    permanova, permdisp : dict of str to TestResult
        Per beta metric.
    rank : str
        The rank of the composition, differential-abundance and marker–taxon steps.
    phylum_abundance : pandas.DataFrame
        Samples × phyla, relative abundance (fractions summing to 1 per sample).
    group_mean_abundance : dict of str to pandas.DataFrame
        ``{"phylum": …, rank: …}``: taxa × groups, mean relative abundance;
        the rank's table holds the top taxa by overall mean.
    differential_abundance : DifferentialAbundance or None
        The compositional test at ``rank``; ``None`` when skipped (reason in ``skipped``).
    markers : MarkerPanel or None
        Marker values with units; ``None`` when no markers were given.
    marker_tests : dict of str to TestResult
        Per marker: the group test; ``extra`` holds ``unit``, ``missing`` and
        ``medians``.  ``q_value`` is Benjamini–Hochberg across markers.
    marker_correlations : pandas.DataFrame
        Columns ``a, b, scope, rho, p, q, n`` (``scope`` is ``"pooled"`` or a group).
    marker_taxon_associations : pandas.DataFrame
        Columns ``marker, taxon, label, rho, p, q, n``.
    classifier : dict of str to ClassifierResult
        Per feature set (``microbiome``, ``markers``, ``combined``); empty when skipped.
    parameters : dict
        Everything that decided the results (seeds, permutations, metrics...).
    provenance : dict
        Inputs with their hashes, package versions, processing steps.
    skipped : dict of str to str
        Steps or metrics not run, with the reason.
    models : dict of str to FittedClassifier
        Per feature set, the forest fitted on all samples (only when asked
        for, ``fit_models=True``), to score new samples later.
    """

    study: Study
    group_column: str
    group_order: list[str]
    groups: pd.Series
    rarefaction_depth: int | None
    rarefaction_dropped: list[str]
    alpha: pd.DataFrame
    alpha_tests: dict[str, TestResult]
    beta: dict[str, DistanceMatrix]
    ordinations: dict[str, OrdinationResult]
    permanova: dict[str, TestResult]
    permdisp: dict[str, TestResult]
    rank: str
    phylum_abundance: pd.DataFrame
    group_mean_abundance: dict[str, pd.DataFrame]
    differential_abundance: DifferentialAbundance | None
    markers: MarkerPanel | None
    marker_tests: dict[str, TestResult]
    marker_correlations: pd.DataFrame
    marker_taxon_associations: pd.DataFrame
    classifier: dict[str, ClassifierResult]
    parameters: dict[str, Any]
    provenance: dict[str, Any]
    skipped: dict[str, str]
    models: dict[str, FittedClassifier] = dataclasses.field(default_factory=dict)


def _group_labels(study: Study, group_column: str, min_group_size: int
                  ) -> tuple[Study, pd.Series, list[str], list[str]]:
    if study.samples is None:
        raise InputError("the analysis needs sample metadata (--metadata) with a group column")
    if group_column not in study.samples.columns:
        raise NotFoundError("metadata column", [group_column],
                            f"the sample metadata (columns: {', '.join(map(str, study.samples.columns[:30]))}"
                            f"{' …' if len(study.samples.columns) > 30 else ''})")
    raw = study.samples[group_column]
    keep = raw.notna().to_numpy()
    no_group = [str(s) for s in study.sample_ids[~keep]]
    if no_group:
        study = study.subset_samples(list(study.sample_ids[keep]), step="drop_missing_group")
    assert study.samples is not None
    labels = group_labels(study.samples[group_column])
    sizes = labels.value_counts()
    if len(sizes) < 2:
        raise ValidationError(f"--group {group_column}: expected at least 2 groups; found "
                              f"{len(sizes)} ({', '.join(f'{g}: {n}' for g, n in sizes.items())})")
    small = sizes[sizes < min_group_size]
    if len(small):
        listed = ", ".join(f"{g!r} has {n}" for g, n in small.items())
        raise ValidationError(f"--group {group_column}: every group needs at least "
                              f"{min_group_size} samples with data; {listed}")
    return study, labels, sorted(str(g) for g in sizes.index), no_group


def _default_depth(study: Study) -> int:
    from gutaxis.diversity.rarefy import suggest_depth

    shallowest = int(study.sample_totals().min())
    if shallowest >= _MIN_DEFAULT_DEPTH:
        return shallowest
    return suggest_depth(study, keep=0.9)


def _clr_frame(study: Study) -> pd.DataFrame:
    """CLR of a collapsed table: pseudocount 0.5 on counts, half the smallest
    non-zero value on relative abundances (0.5 would swamp fractions)."""
    dense = study.counts.toarray().astype(float)
    if study.kind == "counts":
        pseudo = 0.5
    else:
        nonzero = dense[dense > 0]
        pseudo = float(nonzero.min()) / 2 if nonzero.size else 0.5
    return pd.DataFrame(composition.clr(dense, pseudocount=pseudo),
                        index=study.sample_ids, columns=study.feature_ids)


def _marker_correlations(panel: MarkerPanel, labels: pd.Series, order: Sequence[str],
                         min_n: int) -> pd.DataFrame:
    frames = []
    for scope, ids in [("pooled", labels.index), *((g, labels.index[labels == g]) for g in order)]:
        part = spearman_pairs(panel.values.loc[ids], min_n=min_n)
        part.insert(2, "scope", scope)
        frames.append(part)
    table = pd.concat(frames, ignore_index=True)
    table["q"] = bh_adjust(table["p"].to_numpy(dtype=float))
    return table[["a", "b", "scope", "rho", "p", "q", "n"]]


def analyze_cohort(study: Study, *, group_column: str, markers: MarkerPanel | None = None,
                   covariates: Sequence[str] = (), rank: str = "genus",
                   rarefy_depth: int | str | None = "auto", permutations: int = 999,
                   seed: int = 0, alpha: Sequence[str] | None = None,
                   beta: Sequence[str] | None = None, classifier: bool = True,
                   cv_folds: int = 10, cv_repeats: int = 10, n_estimators: int = 100,
                   mc_samples: int = 128, min_prevalence: float = 0.1, top_taxa: int = 10,
                   min_group_size: int = 3, threads: int | None = None,
                   fit_models: bool = False, inputs: Sequence[dict[str, Any]] = (), command: Sequence[str] | None = None,
                   on_step: StepCallback | None = None,
                   on_fold: Callable[[int, int], None] | None = None) -> CohortAnalysis:
    """Run the whole cohort analysis.

    Parameters
    ----------
    study : Study
        Counts (or relative abundances) with taxonomy and sample metadata; a
        tree when phylogenetic metrics are wanted.
    group_column : str
        Metadata column with the groups (samples without a value are left out
        and listed in ``skipped``).
    markers : MarkerPanel, optional
        Lab markers (see :func:`gutaxis.markers.marker_panel`).
    covariates : sequence of str
        Metadata columns adjusted for in the differential-abundance model.
    rank : str
        Rank of the composition, differential-abundance, marker–taxon and
        microbiome-classifier steps.
    rarefy_depth : int, "auto" or None
        Depth of the diversity step.  ``"auto"``: the shallowest sample's depth
        when it is at least 1,000 reads, otherwise the depth that keeps 90 % of
        the samples.  ``None``: no rarefaction.  Composition, differential
        abundance and classifiers always use the unrarefied table.
    permutations, seed : int
        PERMANOVA/PERMDISP permutations; the one seed of every random step
        (rarefaction, permutations, Monte Carlo, cross-validation).
    alpha, beta : sequence of str, optional
        Metrics (default :data:`DEFAULT_ALPHA`, :data:`DEFAULT_BETA`; the
        defaults that need a tree are skipped without one).
    classifier : bool
        Run the random-forest cross-validation.
    fit_models : bool
        Also fit each feature set's forest on all samples (``models``).
    cv_folds, cv_repeats, n_estimators : int
        Repeated stratified k-fold scheme and forest size.
    mc_samples : int
        Monte Carlo instances of the differential-abundance test.
    min_prevalence : float
        Taxa present in fewer samples than this share are left out of the
        differential-abundance, marker–taxon and classifier steps.
    top_taxa : int
        Taxa listed in the group-mean composition table at ``rank``.
    min_group_size : int
        Smallest group accepted (and smallest number of non-missing values a
        marker needs in each group).
    threads : int, optional
        Threads for the kernels and the forests (default: all cores).
    inputs, command : optional
        Provenance records of the input files and the command line.
    on_step, on_fold : callable, optional
        Progress callbacks: ``on_step(label, done, total)`` per step and
        ``on_fold(done, total)`` per cross-validation fold.

    Returns
    -------
    CohortAnalysis

    Raises
    ------
    NotFoundError
        The group column or a covariate is not in the metadata.
    ValidationError
        Fewer than two groups, a group smaller than ``min_group_size``.
    UnknownMetricError
        An unknown metric name.
    """
    from gutaxis.provenance import build_provenance
    from gutaxis.stats.differential import differential_abundance

    threads = threads or os.cpu_count() or 1
    rank = str(rank).strip().lower()
    if rank not in RANKS:
        raise UnknownRankError(rank)
    totals = study.sample_totals()
    empty = [str(sid) for sid, total in zip(study.sample_ids, totals, strict=True) if total <= 0]
    if empty:
        study = study.subset_samples([sid for sid, total in zip(study.sample_ids, totals,
                                                                strict=True) if total > 0],
                                     step="drop_empty_samples")
    study, labels, order, no_group = _group_labels(study, group_column, min_group_size)
    assert study.samples is not None  # checked by _group_labels
    missing_cov = [c for c in covariates if c not in study.samples.columns]
    if missing_cov:
        raise NotFoundError("covariate column", missing_cov, "the sample metadata")
    skipped: dict[str, str] = {}
    if no_group:
        skipped["samples without a group"] = (f"{len(no_group)} sample(s) have no value in "
                                              f"{group_column}: {', '.join(no_group[:10])}")
    if empty:
        skipped["empty samples"] = (f"{len(empty)} sample(s) have no reads and are left out: "
                                    f"{', '.join(empty[:10])}{' …' if len(empty) > 10 else ''}")
    table_only = sum(int(s.get("n_table_only", 0)) for s in study.provenance
                     if s.get("step") == "attach_metadata")
    if table_only:
        skipped["samples without metadata"] = (f"{table_only} sample(s) of the table have no "
                                               "row in the metadata and are left out")

    alpha_registry, beta_registry = alpha_metrics(), beta_metrics()
    alpha_names = list(alpha if alpha is not None else DEFAULT_ALPHA)
    beta_names = list(beta if beta is not None else DEFAULT_BETA)
    for name in alpha_names:
        if name not in alpha_registry:
            from gutaxis.exceptions import UnknownMetricError
            raise UnknownMetricError(name, alpha_registry, "alpha")
    for name in beta_names:
        if name not in beta_registry:
            from gutaxis.exceptions import UnknownMetricError
            raise UnknownMetricError(name, beta_registry, "beta")
    registry = {**alpha_registry, **beta_registry}
    for name in [*alpha_names, *beta_names]:
        if registry[name].needs_tree and study.tree is None:
            if alpha is not None and name in alpha or beta is not None and name in beta:
                raise InputError(f"{name} needs a phylogenetic tree; give --tree (or ASV "
                                 "sequences to build one)")
            skipped[name] = "needs a phylogenetic tree; none given or built"
        elif registry[name].needs_counts and study.kind != "counts":
            skipped[name] = "defined on read counts; the table holds relative abundances"
    alpha_names = [n for n in alpha_names if n not in skipped]
    beta_names = [n for n in beta_names if n not in skipped]

    run_classifier = classifier
    if classifier and int(labels.value_counts().min()) < cv_folds:
        run_classifier = False
        skipped["classifier"] = (f"the smallest group has {int(labels.value_counts().min())} "
                                 f"samples, fewer than the {cv_folds} cross-validation folds "
                                 "(lower --cv-folds)")
    elif not classifier:
        skipped["classifier"] = "not requested (--no-classifier)"
    n_sets = (len(FEATURE_SETS) if markers is not None else 1) if run_classifier else 0
    total = (1 + len(alpha_names) + len(beta_names) + 2 + (3 if markers is not None else 0)
             + n_sets)
    done = 0

    def step(label: str) -> None:
        nonlocal done
        done += 1
        log.info("%s (%d/%d)", label, done, total)
        if on_step is not None:
            on_step(label, done, total)

    # ---------------------------------------------------------------- diversity
    depth: int | None
    if study.kind != "counts":
        depth = None
        if rarefy_depth is not None:
            skipped["rarefaction"] = "the table holds relative abundances"
    elif rarefy_depth == "auto":
        depth = _default_depth(study)
    elif rarefy_depth is None:
        depth = None
    else:
        depth = int(rarefy_depth)
    diversity_study, dropped = study, []
    if depth is not None:
        rarefied = rarefy(study, depth, seed=seed)
        diversity_study, dropped = rarefied.study, [str(s) for s in rarefied.dropped]
    step("rarefaction" if depth is not None else "diversity input")
    div_labels = labels.loc[list(diversity_study.sample_ids)]
    kept = div_labels.value_counts().reindex(order, fill_value=0)
    if (kept < min_group_size).any():
        short = ", ".join(f"{g!r} keeps {int(n)}" for g, n in kept.items() if n < min_group_size)
        raise ValidationError(
            f"rarefying to {depth:,} reads leaves too few samples for the group tests "
            f"({short}; each group needs {min_group_size}); give a lower --rarefy N or "
            "--no-rarefy")

    alpha_frame = pd.DataFrame(index=pd.Index(diversity_study.sample_ids, name="sample_id"))
    for name in alpha_names:
        alpha_frame[name] = alpha_diversity(diversity_study, [name])[name]
        step(name)
    alpha_tests = (compare_groups_many(alpha_frame, div_labels, order=order,
                                       min_group_size=min_group_size)
                   if alpha_names else {})

    distances: dict[str, DistanceMatrix] = {}
    ordinations: dict[str, OrdinationResult] = {}
    permanova_results: dict[str, TestResult] = {}
    permdisp_results: dict[str, TestResult] = {}
    for name in beta_names:
        dm = beta_diversity(diversity_study, name, n_threads=threads)
        distances[name] = dm
        # Negative eigenvalues (non-Euclidean metrics) are expected; their axes
        # are zeroed, as in scikit-bio, and the leading axes are what is plotted.
        ordinations[name] = pcoa(dm, n_components=3, warn_negative=False)
        permanova_results[name] = permanova(dm, div_labels, permutations=permutations, seed=seed)
        permdisp_results[name] = permdisp(dm, div_labels, permutations=permutations, seed=seed)
        step(name)

    # -------------------------------------------------------------- composition
    phyla = composition.collapse(study, "phylum")
    phylum_rel = composition.relative_abundance(phyla)
    phylum_rel.columns = composition.taxon_labels(list(phylum_rel.columns))
    at_rank = composition.collapse(study, rank)
    rank_rel = composition.relative_abundance(at_rank)
    means = {"phylum": composition.group_means(phylum_rel, labels, order=order)}
    if rank != "phylum":
        means[rank] = composition.group_means(rank_rel, labels, order=order, top=top_taxa)
    labels_at_rank = dict(zip(at_rank.feature_ids,
                              composition.taxon_labels(list(at_rank.feature_ids)), strict=True))
    if rank != "phylum":
        means[rank].index = [labels_at_rank.get(i, i) for i in means[rank].index]
    step("composition")

    da = None
    if len(order) != 2:
        skipped["differential abundance"] = (f"compares two groups; {group_column} has "
                                             f"{len(order)} (subset the metadata)")
    elif study.kind != "counts":
        skipped["differential abundance"] = "needs read counts; the table holds relative abundances"
    else:
        da = differential_abundance(at_rank, group_column, reference=order[0],
                                    covariates=covariates, mc_samples=mc_samples, seed=seed,
                                    min_prevalence=min_prevalence, rank=rank)
        da = dataclasses.replace(da, table=da.table.assign(
            label=[labels_at_rank.get(t, t) for t in da.table["taxon"]]))
        if da.dropped_samples:
            skipped["samples left out of differential abundance"] = (
                f"{len(da.dropped_samples)} sample(s) without a covariate value or without "
                f"reads in the tested taxa: {', '.join(list(da.dropped_samples)[:10])}"
                f"{' …' if len(da.dropped_samples) > 10 else ''}")
    step("differential abundance")

    # ------------------------------------------------------------------ markers
    prevalent = composition.filter_prevalence(at_rank, min_prevalence=min_prevalence)
    clr_rank = _clr_frame(prevalent)
    marker_tests: dict[str, TestResult] = {}
    correlations = pd.DataFrame(columns=["a", "b", "scope", "rho", "p", "q", "n"])
    associations = pd.DataFrame(columns=["marker", "taxon", "label", "rho", "p", "q", "n"])
    if markers is not None:
        markers = markers.subset_samples(list(study.sample_ids))
        present = markers.values.notna().groupby(labels).sum().reindex(order, fill_value=0)
        testable = [m for m in markers.names if (present[m] >= min_group_size).all()]
        for name in markers.names:
            if name not in testable:
                counts = ", ".join(f"{g}: {n}" for g, n in present[name].items())
                skipped[f"marker test ({name})"] = (
                    f"needs {min_group_size} values in every group; has {counts}")
        tests = (compare_groups_many(markers.values[testable], labels, order=order,
                                     min_group_size=min_group_size) if testable else {})
        marker_tests = {name: dataclasses.replace(
            result, extra={**result.extra, "unit": markers.units[name],
                           "column": markers.columns[name]}) for name, result in tests.items()}
        step("marker tests")
        correlations = _marker_correlations(markers, labels, order, min_group_size + 2)
        step("marker correlations")
        assoc = spearman_pairs(markers.values, clr_rank, min_n=min_group_size + 2)
        assoc = assoc.rename(columns={"a": "marker", "b": "taxon"})
        assoc.insert(2, "label", [labels_at_rank.get(t, t) for t in assoc["taxon"]])
        assoc["q"] = bh_adjust(assoc["p"].to_numpy(dtype=float))
        associations = (assoc[["marker", "taxon", "label", "rho", "p", "q", "n"]]
                        .sort_values(["q", "p"], na_position="last").reset_index(drop=True))
        step("marker–taxon associations")
    else:
        skipped["markers"] = "no marker columns given (--markers)"

    # --------------------------------------------------------------- classifier
    classifiers: dict[str, ClassifierResult] = {}
    models: dict[str, FittedClassifier] = {}
    if run_classifier:
        from gutaxis.stats.classifier import cross_validate_forest, fit_final_model

        sets = {"microbiome": clr_rank}
        if markers is not None:
            sets["markers"] = markers.values
            sets["combined"] = pd.concat([clr_rank, markers.values], axis=1)
        for name, frame in sets.items():
            classifiers[name] = cross_validate_forest(
                frame, labels, feature_set=name, n_splits=cv_folds, n_repeats=cv_repeats,
                seed=seed, n_estimators=n_estimators, threads=threads, on_fold=on_fold)
            if fit_models:
                models[name] = fit_final_model(frame, labels, seed=seed,
                                               n_estimators=n_estimators, threads=threads)
            step(f"classifier ({name})")

    parameters = {
        "group_column": group_column, "groups": order, "covariates": list(covariates),
        "rank": rank, "rarefaction_depth": depth, "seed": seed, "permutations": permutations,
        "alpha_metrics": alpha_names, "beta_metrics": beta_names, "mc_samples": mc_samples,
        "min_prevalence": min_prevalence, "cv_folds": cv_folds, "cv_repeats": cv_repeats,
        "n_estimators": n_estimators, "min_group_size": min_group_size, "threads": threads,
        "markers": None if markers is None else {
            name: {"column": markers.columns[name], "unit": markers.units[name],
                   "unit_source": markers.unit_sources[name]} for name in markers.names},
    }
    provenance = build_provenance(command=command, inputs=list(inputs), parameters=parameters,
                                  steps=study.provenance,
                                  extra={"rarefaction": {"depth": depth, "dropped": dropped},
                                         "skipped": skipped})
    return CohortAnalysis(
        study=study, group_column=group_column, group_order=order, groups=labels,
        rarefaction_depth=depth, rarefaction_dropped=dropped, alpha=alpha_frame,
        alpha_tests=alpha_tests, beta=distances,
        ordinations=ordinations, permanova=permanova_results, permdisp=permdisp_results,
        rank=rank, phylum_abundance=phylum_rel, group_mean_abundance=means,
        differential_abundance=da, markers=markers, marker_tests=marker_tests,
        marker_correlations=correlations, marker_taxon_associations=associations,
        classifier=classifiers, parameters=parameters, provenance=provenance, skipped=skipped,
        models=models)
