"""The cohort analysis of the gut–immune axis: everything ``gutaxis analyze`` computes.

:func:`analyze_cohort` takes a :class:`~gutaxis.study.Study` with sample
metadata, the analysis' :class:`CohortParameters` and marker columns, and
returns one :class:`CohortAnalysis`.  It runs its steps in order, each a
function of this module:

1. :func:`_prepare` — samples chosen (``where``), those with no reads or no
   group left out (and listed), the groups and the subjects checked;
2. :func:`_diversity` — alpha diversity with group tests, beta diversity with
   PCoA, PERMANOVA and PERMDISP (on a rarefied table);
3. :func:`_composition` — the table at the analysis rank, phylum and group means;
4. :func:`_differential` — compositional differential abundance;
5. :func:`_markers` — markers between groups, with each other and with taxa;
6. :func:`_classifiers` — random forests with repeated cross-validation.

The report (:mod:`gutaxis.report`) renders a :class:`CohortAnalysis`; nothing
in it recomputes statistics.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from gutaxis import composition
from gutaxis.checks import check_type
from gutaxis.cohort.parameters import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    FEATURE_SETS,
    MIN_DEFAULT_DEPTH,
    CohortParameters,
    FoldCallback,
    StepCallback,
)
from gutaxis.diversity import (
    alpha_diversity,
    applicable_metrics,
    beta_diversity,
    rarefy,
)
from gutaxis.diversity.rarefy import suggest_depth
from gutaxis.exceptions import (
    InputError,
    LowDepthWarning,
    NotFoundError,
    RepeatedMeasuresWarning,
    ValidationError,
)
from gutaxis.io import metadata_source, numeric_typos
from gutaxis.markers import MarkerPanel
from gutaxis.ordination import pcoa
from gutaxis.provenance import build_provenance
from gutaxis.selection import (
    no_metadata_note,
    per_subject,
    query_columns_hint,
    sample_subjects,
    select_samples,
    subject_like_columns,
)
from gutaxis.stats import (
    bh_adjust,
    compare_groups_many,
    group_labels,
    permanova,
    permdisp,
    permutation_design,
    spearman_pairs,
)
from gutaxis.study import check_study

if TYPE_CHECKING:
    from gutaxis.distance import DistanceMatrix
    from gutaxis.ordination import OrdinationResult
    from gutaxis.stats import TestResult
    from gutaxis.stats.classifier import ClassifierResult, FittedClassifier
    from gutaxis.stats.differential import DifferentialAbundance
    from gutaxis.stats.linda import LinDAResult
    from gutaxis.study import Study

__all__ = ["CohortAnalysis", "analyze_cohort", "check_cohort"]

log = logging.getLogger(__name__)

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
    differential_abundance : DifferentialAbundance, LinDAResult or None
        The compositional test at ``rank``: the ALDEx2-style count method
        (:class:`~gutaxis.stats.DifferentialAbundance`) for read counts in
        two groups, LinDA (:class:`~gutaxis.stats.LinDAResult`: an omnibus
        test and every pair of groups) for relative abundances or three
        groups or more; its ``method`` says which ran.  ``None`` when skipped
        (reason in ``skipped``).
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
        Inputs with their hashes, the tree used, package versions, processing steps.
    skipped : dict of str to str
        Steps or metrics not run, with the reason.
    models : dict of str to FittedClassifier
        Per feature set, the forest fitted on all samples (only when asked
        for, ``fit_models=True``), to score new samples later.
    subject_column : str or None
        The metadata column naming each sample's subject (``--subject``).
    subjects : pandas.Series or None
        Subject of each analysed sample; every test then counts subjects.
    repeated_measures_note : str or None
        Without ``--subject``: the warning that a metadata column looks like
        a subject id (several samples per person would make every test
        optimistic).  Shown before the results.
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
    differential_abundance: DifferentialAbundance | LinDAResult | None
    markers: MarkerPanel | None
    marker_tests: dict[str, TestResult]
    marker_correlations: pd.DataFrame
    marker_taxon_associations: pd.DataFrame
    classifier: dict[str, ClassifierResult]
    parameters: dict[str, Any]
    provenance: dict[str, Any]
    skipped: dict[str, str]
    models: dict[str, FittedClassifier] = dataclasses.field(default_factory=dict)
    subject_column: str | None = None
    subjects: pd.Series | None = None
    repeated_measures_note: str | None = None


class _Steps:
    """Count the analysis' steps for the progress callback."""

    def __init__(self, total: int, on_step: StepCallback | None) -> None:
        self.total, self.done, self.on_step = total, 0, on_step

    def __call__(self, label: str) -> None:
        self.done += 1
        log.info("%s (%d/%d)", label, self.done, self.total)
        if self.on_step is not None:
            self.on_step(label, self.done, self.total)


def _shown(ids: Sequence[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (" …" if len(ids) > limit else "")


#: A numeric --group with more distinct values than this is a measurement, not groups.
MAX_NUMERIC_GROUPS = 10
#: More groups than this are refused (an id column given as --group, most likely).
MAX_GROUPS = 20


# ----------------------------------------------------------------- 1. prepare
def _group_labels(study: Study, group_column: str, min_group_size: int
                  ) -> tuple[Study, pd.Series, list[str], list[str]]:
    if study.samples is None:
        raise InputError("the analysis needs sample metadata (--metadata) with a group column")
    if group_column not in study.samples.columns:
        raise NotFoundError("metadata column", [group_column], metadata_source(study.samples),
                            available=[str(c) for c in study.samples.columns])
    raw = study.samples[group_column]
    values = raw.dropna()
    if (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            and values.nunique() > MAX_NUMERIC_GROUPS):
        raise ValidationError(
            f"--group {group_column} holds numbers with {values.nunique():,} distinct values "
            f"(from {values.min():g} to {values.max():g}); the analysis compares groups. "
            "Give a column that names the groups (for example age bands added to the "
            "metadata), or keep a few values with --where")
    if values.nunique() > MAX_GROUPS:
        shown = ", ".join(map(repr, values.value_counts().index[:10].map(str)))
        raise ValidationError(
            f"--group {group_column} has {values.nunique():,} distinct values ({shown} …); "
            f"the analysis compares at most {MAX_GROUPS} groups. Is it an id column (then it "
            "may be --subject)? Choose the groups to compare with --where")
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
        listed = ", ".join(f"{g!r} has {n}" for g, n in list(small.items())[:10]) + (
            f" … ({len(small)} groups)" if len(small) > 10 else "")
        raise ValidationError(f"--group {group_column}: every group needs at least "
                              f"{min_group_size} samples with data; {listed}")
    return study, labels, sorted(str(g) for g in sizes.index), no_group


@dataclasses.dataclass(frozen=True)
class _Prepared:
    study: Study
    labels: pd.Series
    order: list[str]
    skipped: dict[str, str]
    subjects: pd.Series | None
    note: str | None


def _select(study: Study, where: str | None) -> Study:
    if where is None:
        return study
    ids = select_samples(study, where)
    if not ids:
        raise ValidationError(f"--where {where!r} selects no sample"
                              f"{query_columns_hint(study, where)}")
    return study.subset_samples(ids, step="select_samples")


def _prepare(study: Study, p: CohortParameters) -> _Prepared:
    """Choose the samples, leave out empty and ungrouped ones; check groups and subjects."""
    study = _select(study, p.where)
    totals = study.sample_totals()
    empty = [str(sid) for sid, total in zip(study.sample_ids, totals, strict=True) if total <= 0]
    if empty:
        study = study.subset_samples([sid for sid, total in zip(study.sample_ids, totals,
                                                                strict=True) if total > 0],
                                     step="drop_empty_samples")
    try:
        study, labels, order, no_group = _group_labels(study, p.group_column, p.min_group_size)
    except ValidationError as exc:
        if not empty:
            raise
        raise ValidationError(f"{exc} ({len(empty)} sample(s) with no reads were left out "
                              f"first: {_shown(empty)})") from None
    assert study.samples is not None  # checked by _group_labels
    missing_cov = [c for c in p.covariates if c not in study.samples.columns]
    if missing_cov:
        raise NotFoundError("covariate column", missing_cov, metadata_source(study.samples),
                            available=[str(c) for c in study.samples.columns])
    _check_covariate_types(study.samples, p.covariates)
    skipped: dict[str, str] = {}
    if no_group:
        skipped["samples without a group"] = (f"{len(no_group)} sample(s) have no value in "
                                              f"{p.group_column}: {', '.join(no_group[:10])}")
    if empty:
        skipped["empty samples"] = (f"{len(empty)} sample(s) have no reads and are left out: "
                                    f"{_shown(empty)}")
    skipped.update(no_metadata_note(study))
    subjects, note = None, None
    if p.subject is not None:
        subjects = sample_subjects(study, p.subject)
        _check_subjects(subjects, labels, order, p)
    else:
        note = _repeated_measures_note(study.samples, p.group_column)
    return _Prepared(study, labels, order, skipped, subjects, note)


def _check_covariate_types(samples: pd.DataFrame, covariates: Sequence[str]) -> None:
    """Refuse a covariate that one typo turned from numeric into one level per value."""
    declared = samples.attrs.get("declared_types") or {}
    where = samples.attrs.get("path") or "the sample metadata"
    for name in covariates:
        if declared.get(name) == "categorical":
            continue
        odd = numeric_typos(samples[name])
        if odd:
            shown = ", ".join(f"sample {sid!r} has {value!r}" for sid, value in odd[:5])
            more = f" (and {len(odd) - 5} more)" if len(odd) > 5 else ""
            raise ValidationError(
                f"{where}: covariate column {name!r} holds numbers, but {shown}{more}: as it "
                f"is, {name} would enter the model as a category per distinct value, not as "
                "a number. Fix the value(s); or, if the column is meant to be categorical, "
                "declare it so in a '#q2:types' row")


def _check_subjects(subjects: pd.Series, labels: pd.Series, order: list[str],
                    p: CohortParameters) -> None:
    """Each subject in one group, and enough subjects in every group."""
    levels = labels.groupby(subjects.reindex(labels.index)).nunique()
    mixed = [str(s) for s in levels.index[levels > 1]]
    if mixed:
        example = labels[subjects.reindex(labels.index) == mixed[0]].unique()
        raise ValidationError(
            f"--subject {p.subject}: the groups of --group {p.group_column} change within "
            f"{len(mixed)} subject(s) (e.g. {mixed[0]}: {', '.join(map(str, example))}); "
            "the cohort analysis compares groups of people, so each person must lie in one "
            "group. A factor that changes within people (before/after) needs paired tests, "
            "which `gutaxis analyze` does not offer; choose the samples with --where")
    per_group = (labels.groupby(labels).apply(lambda g: subjects.reindex(g.index).nunique())
                 .reindex(order, fill_value=0))
    small = per_group[per_group < p.min_group_size]
    if len(small):
        listed = ", ".join(f"{g!r} has {n}" for g, n in small.items())
        raise ValidationError(f"--subject {p.subject}: every group needs at least "
                              f"{p.min_group_size} subjects; {listed}")
    try:  # the permutation tests' own rule, checked before the work
        permutation_design(labels.index, pd.factorize(labels)[0], subjects, "PERMANOVA")
    except InputError as exc:
        raise ValidationError(f"--subject {p.subject}: {exc}") from None


def _repeated_measures_note(samples: pd.DataFrame, group_column: str) -> str | None:
    suspects = subject_like_columns(samples, group_column)
    if not suspects:
        return None
    column, why = suspects[0]
    others = (f" (also {', '.join(repr(c) for c, _ in suspects[1:])})"
              if len(suspects) > 1 else "")
    return (f"The metadata column {column!r} looks like a subject id{others}: {why}. If "
            f"several samples come from one person, run again with --subject {column}: "
            "without it every sample counts as a separate person, and the p-values and "
            "classifier scores below are too optimistic.")


def _metrics(study: Study, p: CohortParameters, skipped: dict[str, str]
             ) -> tuple[list[str], list[str]]:
    """Return the alpha and beta metrics that apply (the others noted in ``skipped``)."""
    alpha_names, beta_names, left_out = applicable_metrics(
        study, [*(DEFAULT_ALPHA if p.alpha_metrics is None else p.alpha_metrics),
                *(DEFAULT_BETA if p.beta_metrics is None else p.beta_metrics)],
        asked=[*(p.alpha_metrics or ()), *(p.beta_metrics or ())])
    skipped.update(left_out)
    return alpha_names, beta_names


# --------------------------------------------------------------- 2. diversity
@dataclasses.dataclass(frozen=True)
class _Diversity:
    depth: int | None
    dropped: list[str]
    alpha: pd.DataFrame
    alpha_tests: dict[str, TestResult]
    beta: dict[str, DistanceMatrix]
    ordinations: dict[str, OrdinationResult]
    permanova: dict[str, TestResult]
    permdisp: dict[str, TestResult]


def _depth(study: Study, p: CohortParameters, skipped: dict[str, str]) -> int | None:
    if study.kind != "counts":
        if p.rarefy_depth is not None:
            skipped["rarefaction"] = "the table holds relative abundances"
        return None
    if p.rarefy_depth == "auto":
        shallowest = int(study.sample_totals().min())
        if shallowest >= MIN_DEFAULT_DEPTH:
            return shallowest
        depth = suggest_depth(study, keep=0.9)
        if depth < MIN_DEFAULT_DEPTH:
            warnings.warn(
                f"diversity is rarefied to {depth:,} reads per sample (the depth that keeps 90 % "
                f"of the samples; the shallowest sample has {shallowest:,}): diversity from "
                f"fewer than {MIN_DEFAULT_DEPTH:,} reads means little. Give --rarefy N to "
                "choose, or --no-rarefy", LowDepthWarning, stacklevel=4)
        return depth
    return None if p.rarefy_depth is None else int(p.rarefy_depth)


def _by_subject(values: pd.DataFrame, labels: pd.Series, subjects: pd.Series | None
                ) -> tuple[pd.DataFrame, pd.Series]:
    """Return what the group tests take: values per sample, or one per subject (mean)."""
    if subjects is None:
        return values, labels
    means = per_subject(values, subjects)
    groups = per_subject(labels.reindex(values.index), subjects, how="first")
    assert isinstance(means, pd.DataFrame) and isinstance(groups, pd.Series)
    return means, groups


def _diversity(study: Study, labels: pd.Series, order: list[str], p: CohortParameters,
               alpha_names: list[str], beta_names: list[str], skipped: dict[str, str],
               step: _Steps, subjects: pd.Series | None) -> _Diversity:
    depth = _depth(study, p, skipped)
    rarefied, dropped = study, []
    if depth is not None:
        result = rarefy(study, depth, seed=p.seed)
        rarefied, dropped = result.study, [str(s) for s in result.dropped]
    step("rarefaction" if depth is not None else "diversity input")
    div_labels = labels.loc[list(rarefied.sample_ids)]
    kept = div_labels.value_counts().reindex(order, fill_value=0)
    if (kept < p.min_group_size).any():
        short = ", ".join(f"{g!r} keeps {int(n)}" for g, n in kept.items()
                          if n < p.min_group_size)
        raise ValidationError(
            f"rarefying to {depth:,} reads leaves too few samples for the group tests "
            f"({short}; each group needs {p.min_group_size}); give a lower --rarefy N or "
            "--no-rarefy")

    alpha_frame = pd.DataFrame(index=pd.Index(rarefied.sample_ids, name="sample_id"))
    for name in alpha_names:
        alpha_frame[name] = alpha_diversity(rarefied, [name])[name]
        step(name)
    div_subjects = None if subjects is None else subjects.loc[list(rarefied.sample_ids)]
    tested, tested_labels = _by_subject(alpha_frame, div_labels, div_subjects)
    alpha_tests = (compare_groups_many(tested, tested_labels, order=order,
                                       min_group_size=p.min_group_size)
                   if alpha_names else {})
    distances: dict[str, DistanceMatrix] = {}
    ordinations: dict[str, OrdinationResult] = {}
    perm: dict[str, TestResult] = {}
    disp: dict[str, TestResult] = {}
    for name in beta_names:
        dm = beta_diversity(rarefied, name, n_threads=p.threads_used)
        distances[name] = dm
        # Negative eigenvalues (non-Euclidean metrics) are expected; their axes
        # are zeroed, as in scikit-bio, and the leading axes are what is plotted.
        ordinations[name] = pcoa(dm, n_components=3, warn_negative=False)
        perm[name] = permanova(dm, div_labels, permutations=p.permutations, seed=p.seed,
                               subjects=div_subjects)
        disp[name] = permdisp(dm, div_labels, permutations=p.permutations, seed=p.seed,
                              subjects=div_subjects)
        step(name)
    return _Diversity(depth, dropped, alpha_frame, alpha_tests, distances, ordinations, perm,
                      disp)


# ------------------------------------------------------------- 3. composition
@dataclasses.dataclass(frozen=True)
class _Composition:
    phyla: pd.DataFrame
    means: dict[str, pd.DataFrame]
    at_rank: Study
    labels: dict[str, str]


def _composition(study: Study, labels: pd.Series, order: list[str], p: CohortParameters,
                 step: _Steps) -> _Composition:
    phyla = composition.collapse(study, "phylum")
    phylum_rel = composition.relative_abundance(phyla)
    phylum_rel.columns = composition.taxon_labels(list(phylum_rel.columns))
    at_rank = composition.collapse(study, p.rank)
    rank_rel = composition.relative_abundance(at_rank)
    means = {"phylum": composition.group_means(phylum_rel, labels, order=order)}
    labels_at_rank = dict(zip(at_rank.feature_ids,
                              composition.taxon_labels(list(at_rank.feature_ids)), strict=True))
    if p.rank != "phylum":
        means[p.rank] = composition.group_means(rank_rel, labels, order=order, top=p.top_taxa)
        means[p.rank].index = [labels_at_rank.get(i, i) for i in means[p.rank].index]
    step("composition")
    return _Composition(phylum_rel, means, at_rank, labels_at_rank)


def _clr_frame(study: Study) -> pd.DataFrame:
    """Return the CLR of a collapsed table.

    Pseudocount 0.5 on counts, half the smallest non-zero value on relative
    abundances (0.5 would swamp fractions).
    """
    dense = study.counts.toarray().astype(float)
    if study.kind == "counts":
        pseudo = 0.5
    else:
        nonzero = dense[dense > 0]
        pseudo = float(nonzero.min()) / 2 if nonzero.size else 0.5
    return pd.DataFrame(composition.clr(dense, pseudocount=pseudo),
                        index=study.sample_ids, columns=study.feature_ids)


# ------------------------------------------------------------ 4. differential
def _differential(study: Study, comp: _Composition, order: list[str], p: CohortParameters,
                  skipped: dict[str, str], step: _Steps) -> DifferentialAbundance | LinDAResult:
    """Read counts in two groups: the ALDEx2-style count method; otherwise LinDA.

    LinDA serves relative abundances (MetaPhlAn) and three groups or more
    (an omnibus test and every pair).  With ``--subject`` both count each
    subject once (one mean CLR per subject; each subject lies in one group).
    """
    from gutaxis.stats.differential import differential_abundance
    from gutaxis.stats.linda import linda

    da: DifferentialAbundance | LinDAResult
    if study.kind == "counts" and len(order) == 2:
        da = differential_abundance(comp.at_rank, p.group_column, reference=order[0],
                                    covariates=p.covariates, mc_samples=p.mc_samples,
                                    seed=p.seed, min_prevalence=p.min_prevalence, rank=p.rank,
                                    subject=p.subject)
    else:
        da = linda(comp.at_rank, p.group_column, reference=order[0], covariates=p.covariates,
                   subject=p.subject, categorical=True, min_prevalence=p.min_prevalence,
                   rank=p.rank, seed=p.seed)
    da = dataclasses.replace(da, table=da.table.assign(
        label=[comp.labels.get(t, t) for t in da.table["taxon"]]))
    if da.dropped_samples:
        skipped["samples left out of differential abundance"] = (
            f"{len(da.dropped_samples)} sample(s) without a covariate value or without "
            f"reads in the tested taxa: {_shown(list(da.dropped_samples))}")
    step("differential abundance")
    return da


# ----------------------------------------------------------------- 5. markers
_CORRELATION_COLUMNS = ["a", "b", "scope", "rho", "p", "q", "n"]
_ASSOCIATION_COLUMNS = ["marker", "taxon", "label", "rho", "p", "q", "n"]


def _marker_correlations(values: pd.DataFrame, labels: pd.Series, order: Sequence[str],
                         min_n: int) -> pd.DataFrame:
    frames = []
    for scope, ids in [("pooled", labels.index), *((g, labels.index[labels == g]) for g in order)]:
        part = spearman_pairs(values.loc[ids], min_n=min_n)
        part.insert(2, "scope", scope)
        frames.append(part)
    table = pd.concat(frames, ignore_index=True)
    table["q"] = bh_adjust(table["p"].to_numpy(dtype=float))
    return table[_CORRELATION_COLUMNS]


def _markers(markers: MarkerPanel, labels: pd.Series, order: list[str], clr_rank: pd.DataFrame,
             comp: _Composition, p: CohortParameters, skipped: dict[str, str], step: _Steps,
             subjects: pd.Series | None) -> tuple[dict[str, TestResult], pd.DataFrame,
                                                 pd.DataFrame]:
    values, labels = _by_subject(markers.values, labels, subjects)
    if subjects is not None:
        clr_rank = per_subject(clr_rank, subjects)  # type: ignore[assignment]
    present = values.notna().groupby(labels).sum().reindex(order, fill_value=0)
    testable = [m for m in markers.names if (present[m] >= p.min_group_size).all()]
    for name in markers.names:
        if name not in testable:
            counts = ", ".join(f"{g}: {n}" for g, n in present[name].items())
            skipped[f"marker test ({name})"] = (
                f"needs {p.min_group_size} values in every group; has {counts}")
    tests = (compare_groups_many(values[testable], labels, order=order,
                                 min_group_size=p.min_group_size) if testable else {})
    marker_tests = {name: dataclasses.replace(
        result, extra={**result.extra, "unit": markers.info[name].unit,
                       "column": markers.info[name].column}) for name, result in tests.items()}
    step("marker tests")
    correlations = _marker_correlations(values, labels, order, p.min_group_size + 2)
    step("marker correlations")
    assoc = spearman_pairs(values, clr_rank, min_n=p.min_group_size + 2)
    assoc = assoc.rename(columns={"a": "marker", "b": "taxon"})
    assoc.insert(2, "label", [comp.labels.get(t, t) for t in assoc["taxon"]])
    assoc["q"] = bh_adjust(assoc["p"].to_numpy(dtype=float))
    associations = (assoc[_ASSOCIATION_COLUMNS]
                    .sort_values(["q", "p"], na_position="last").reset_index(drop=True))
    step("marker–taxon associations")
    return marker_tests, correlations, associations


# -------------------------------------------------------------- 6. classifier
def _classifiers(clr_rank: pd.DataFrame, markers: MarkerPanel | None, labels: pd.Series,
                 p: CohortParameters, on_fold: FoldCallback | None, step: _Steps,
                 subjects: pd.Series | None
                 ) -> tuple[dict[str, ClassifierResult], dict[str, FittedClassifier]]:
    from gutaxis.stats.classifier import cross_validate_forest, fit_final_model

    sets = {"microbiome": clr_rank}
    if markers is not None:
        sets["markers"] = markers.values
        sets["combined"] = pd.concat([clr_rank, markers.values], axis=1)
    results: dict[str, ClassifierResult] = {}
    models: dict[str, FittedClassifier] = {}
    for name, frame in sets.items():
        results[name] = cross_validate_forest(
            frame, labels, feature_set=name, n_splits=p.cv_folds, n_repeats=p.cv_repeats,
            seed=p.seed, n_estimators=p.n_estimators, threads=p.threads_used, on_fold=on_fold,
            subjects=subjects)
        if p.fit_models:
            models[name] = fit_final_model(frame, labels, seed=p.seed,
                                           n_estimators=p.n_estimators, threads=p.threads_used)
        step(f"classifier ({name})")
    return results, models


def _classifier_runs(labels: pd.Series, p: CohortParameters, skipped: dict[str, str],
                     subjects: pd.Series | None) -> bool:
    unit = "samples" if subjects is None else "subjects"
    counts = (labels.value_counts() if subjects is None
              else labels.groupby(labels).apply(lambda g: subjects.reindex(g.index).nunique()))
    smallest = int(counts.min())
    if not p.classifier:
        skipped["classifier"] = "not requested (--no-classifier)"
        return False
    if smallest < p.cv_folds:
        skipped["classifier"] = (f"the smallest group has {smallest} {unit}, fewer than the "
                                 f"{p.cv_folds} cross-validation folds (lower --cv-folds)")
        return False
    return True


def _tree_record(study: Study) -> dict[str, Any] | None:
    """Return the tree the study carries, as its ``attach_tree`` step recorded it."""
    steps = [s for s in study.provenance if s.get("step") == "attach_tree"]
    if not steps or study.tree is None:
        return None
    return {k: v for k, v in steps[-1].items() if k != "step"}


# -------------------------------------------------------------------- driver
def check_cohort(study: Study, parameters: CohortParameters) -> None:
    """Check, before any long work, what :func:`analyze_cohort` checks first.

    The samples ``where`` chooses, the groups (enough samples in each), the
    covariates and, with ``subject``, each person in one group and enough
    people in every group.  Cheap: nothing is computed.

    Parameters
    ----------
    study : Study
    parameters : CohortParameters

    Raises
    ------
    NotFoundError, ValidationError, InputError
        As :func:`analyze_cohort` would, with the same messages.
    """
    check_study(study)
    p = check_type(parameters, CohortParameters, "parameters",
                   hint="make them with CohortParameters(group_column, ...)")
    _prepare(study, p)


def analyze_cohort(study: Study, parameters: CohortParameters, *,
                   markers: MarkerPanel | None = None, inputs: Sequence[dict[str, Any]] = (),
                   command: Sequence[str] | None = None, on_step: StepCallback | None = None,
                   on_fold: FoldCallback | None = None) -> CohortAnalysis:
    """Run the whole cohort analysis.

    Parameters
    ----------
    study : Study
        Counts (or relative abundances) with taxonomy and sample metadata; a
        tree when phylogenetic metrics are wanted.
    parameters : CohortParameters
        The group column and every other choice (validated already).
    markers : MarkerPanel, optional
        Lab markers (see :func:`gutaxis.markers.marker_panel`).
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
    InputError
        A phylogenetic metric asked for by name without a tree; ``study``,
        ``parameters`` or ``markers`` of the wrong type.
    """
    check_study(study)
    p = check_type(parameters, CohortParameters, "parameters",
                   hint="make them with CohortParameters(group_column, ...)")
    if markers is not None:
        check_type(markers, MarkerPanel, "markers",
                   hint="read them with gutaxis.markers.marker_panel; or None")
    prepared = _prepare(study, p)
    study, labels, order, skipped = (prepared.study, prepared.labels, prepared.order,
                                     prepared.skipped)
    subjects = prepared.subjects
    if prepared.note is not None:  # said before the long work, and kept for the report
        warnings.warn(prepared.note, RepeatedMeasuresWarning, stacklevel=2)
    alpha_names, beta_names = _metrics(study, p, skipped)
    run_classifier = _classifier_runs(labels, p, skipped, subjects)
    n_sets = (len(FEATURE_SETS) if markers is not None else 1) if run_classifier else 0
    step = _Steps(1 + len(alpha_names) + len(beta_names) + 2
                  + (3 if markers is not None else 0) + n_sets, on_step)

    div = _diversity(study, labels, order, p, alpha_names, beta_names, skipped, step, subjects)
    comp = _composition(study, labels, order, p, step)
    da = _differential(study, comp, order, p, skipped, step)
    clr_rank = _clr_frame(composition.filter_prevalence(comp.at_rank,
                                                        min_prevalence=p.min_prevalence))
    marker_tests: dict[str, TestResult] = {}
    correlations = pd.DataFrame(columns=_CORRELATION_COLUMNS)
    associations = pd.DataFrame(columns=_ASSOCIATION_COLUMNS)
    if markers is not None:
        markers = markers.subset_samples(list(study.sample_ids))
        marker_tests, correlations, associations = _markers(markers, labels, order, clr_rank,
                                                            comp, p, skipped, step, subjects)
    else:
        skipped["markers"] = "no marker columns given (--markers)"
    classifiers: dict[str, ClassifierResult] = {}
    models: dict[str, FittedClassifier] = {}
    if run_classifier:
        classifiers, models = _classifiers(clr_rank, markers, labels, p, on_fold, step,
                                           subjects)

    parameters_doc = {
        "group_column": p.group_column, "groups": order, "where": p.where,
        "subject_column": p.subject,
        "n_subjects": None if subjects is None else int(subjects.nunique()),
        "unit_of_analysis": "sample" if subjects is None else "subject",
        "covariates": list(p.covariates),
        "rank": p.rank, "rarefaction_depth": div.depth, "seed": p.seed,
        "permutations": p.permutations, "alpha_metrics": alpha_names,
        "beta_metrics": beta_names, "mc_samples": p.mc_samples,
        "min_prevalence": p.min_prevalence, "cv_folds": p.cv_folds, "cv_repeats": p.cv_repeats,
        "n_estimators": p.n_estimators, "min_group_size": p.min_group_size,
        "threads": p.threads_used,
        "markers": None if markers is None else {
            name: {"column": info.column, "unit": info.unit, "unit_source": info.unit_source}
            for name, info in markers.info.items()},
    }
    provenance = build_provenance(command=command, inputs=list(inputs),
                                  parameters=parameters_doc, steps=study.provenance,
                                  extra={"rarefaction": {"depth": div.depth,
                                                         "dropped": div.dropped},
                                         "skipped": skipped, "tree": _tree_record(study),
                                         "n_samples": study.n_samples,
                                         "n_features": study.n_features})
    return CohortAnalysis(
        study=study, group_column=p.group_column, group_order=order, groups=labels,
        rarefaction_depth=div.depth, rarefaction_dropped=div.dropped, alpha=div.alpha,
        alpha_tests=div.alpha_tests, beta=div.beta, ordinations=div.ordinations,
        permanova=div.permanova, permdisp=div.permdisp, rank=p.rank,
        phylum_abundance=comp.phyla, group_mean_abundance=comp.means,
        differential_abundance=da, markers=markers, marker_tests=marker_tests,
        marker_correlations=correlations, marker_taxon_associations=associations,
        classifier=classifiers, parameters=parameters_doc, provenance=provenance,
        skipped=skipped, models=models, subject_column=p.subject, subjects=subjects,
        repeated_measures_note=prepared.note)
