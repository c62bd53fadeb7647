"""Compositional differential abundance: ALDEx2-style CLR Monte Carlo.

:func:`differential_abundance` asks, for every taxon, whether its abundance
*relative to the sample's geometric mean* differs between two groups,
optionally adjusted for covariates.  The uncertainty of each sample's
composition given its read counts is carried through by Monte Carlo draws from
a Dirichlet posterior, as in ALDEx2; each draw is centred-log-ratio
transformed and fitted with one linear model for all taxa at once.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, special
from threadpoolctl import threadpool_limits

from gutaxis.composition import collapse
from gutaxis.exceptions import InputError
from gutaxis.stats._grouping import group_labels
from gutaxis.stats._linear import (
    Model,
    SubjectModel,
    check_design,
    covariate_columns,
    display_labels,
    mean_abundance_and_prevalence,
    model_design,
    prepare,
    subject_ids,
    subject_model,
)
from gutaxis.stats._results import table_value
from gutaxis.study import Study, check_study

__all__ = ["DifferentialAbundance", "differential_abundance", "METHOD", "CITATION"]

logger = logging.getLogger(__name__)

#: Short name of the method, as reported in results.
METHOD = "ALDEx2-style CLR Monte Carlo (linear model)"
#: The paper the method follows.
CITATION = (
    "Fernandes AD, Reid JN, Macklaim JM, McMurrough TA, Edgar DR, Gloor GB (2014). Unifying "
    "the analysis of high-throughput sequencing datasets: characterizing RNA-seq, 16S rRNA gene "
    "sequencing and selective growth experiments by compositional data analysis. Microbiome "
    "2:15. doi:10.1186/2049-2618-2-15"
)
#: Dirichlet prior added to every count (ALDEx2's default; Jeffreys' prior).
_PRIOR = 0.5
#: Columns of :attr:`DifferentialAbundance.table`, in order.
_COLUMNS = ("taxon", "label", "effect", "ci_low", "ci_high", "p", "q", "higher_in",
            "mean_abundance", "prevalence")
#: Smallest value a gamma draw may take before its logarithm (never reached in practice).
_TINY = np.finfo(np.float64).tiny


@dataclasses.dataclass(frozen=True)
class DifferentialAbundance:
    """The result of :func:`differential_abundance`.

    Attributes
    ----------
    method : str
        :data:`METHOD`.
    citation : str
        :data:`CITATION`.
    rank : str or None
        The rank the features were collapsed to; ``None`` when they were
        tested as given.
    group_column : str
        The metadata column that defines the two groups.
    reference_group, comparison_group : str
        ``effect`` is ``comparison − reference``.
    covariates : tuple of str
        The metadata columns adjusted for.
    mc_samples : int
        Monte Carlo (Dirichlet) instances.
    seed : int
        Seed of the generator; the same seed on the same data gives the same
        table.
    table : pandas.DataFrame
        One row per tested taxon, columns ``taxon`` (feature id), ``label``
        (:func:`~gutaxis.composition.taxon_label`, or the id), ``effect``
        (log2 ratio, comparison vs reference: the mean over Monte Carlo
        instances of the group coefficient of the CLR), ``ci_low`` and
        ``ci_high`` (95 % interval), ``p`` (expected p-value), ``q``
        (expected Benjamini–Hochberg q-value), ``higher_in`` (the group with
        the higher CLR: ``comparison_group`` when ``effect > 0``,
        ``reference_group`` when ``< 0``), ``mean_abundance`` (mean relative
        abundance over the analysed samples, relative to all their reads) and
        ``prevalence`` (fraction of analysed samples with a read).  Sorted by
        ``q``, then by decreasing ``|effect|``.
    group_sizes : dict of str to int
        Samples analysed per group (reference first).
    dropped_samples : tuple of str
        Samples left out: missing group or covariate, or no reads in the
        tested taxa.
    n_filtered : int
        Taxa removed by the prevalence filter (not tested).
    subject : str or None
        The metadata column (or the Series' name) giving each sample's
        subject; ``None`` when every sample is its own subject.
    model : {"samples", "subject means", "within subject"}
        The rows of the linear model: the samples (no subjects given); one
        mean per subject (the group does not change within a subject); or
        the samples centred on their subject's mean (the group changes within
        some subjects: a paired, within-subject comparison).
    n_subjects : int or None
        Subjects analysed (``None`` without subjects).
    absorbed : tuple of str
        Covariate columns constant within every subject, absorbed by the
        subjects' means in the within-subject model (adjusted for, not
        estimated).

    Notes
    -----
    :meth:`to_dict` holds the fields from ``method`` to ``seed``,
    ``subject``, ``model``, ``n_subjects``, ``absorbed``, ``group_sizes``,
    ``dropped_samples`` and the table (as ``features``); ``n_filtered`` is for
    reports and logs.
    """

    method: str
    citation: str
    rank: str | None
    group_column: str
    reference_group: str
    comparison_group: str
    covariates: tuple[str, ...]
    mc_samples: int
    seed: int
    table: pd.DataFrame
    group_sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    dropped_samples: tuple[str, ...] = ()
    n_filtered: int = 0
    subject: str | None = None
    model: Model = "samples"
    n_subjects: int | None = None
    absorbed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (plain Python values; NaN becomes ``None``).

        Returns
        -------
        dict
            ``method, citation, rank, group_column, reference_group,
            comparison_group, covariates, mc_samples, seed, subject, model,
            n_subjects, absorbed, group_sizes, dropped_samples`` and
            ``features``:
            one dict per table row, keys as the table's columns.
        """
        features = [
            {column: table_value(value) for column, value in zip(_COLUMNS, row, strict=True)}
            for row in self.table[list(_COLUMNS)].itertuples(index=False, name=None)
        ]
        return {
            "method": self.method,
            "citation": self.citation,
            "rank": self.rank,
            "group_column": self.group_column,
            "reference_group": self.reference_group,
            "comparison_group": self.comparison_group,
            "covariates": list(self.covariates),
            "mc_samples": int(self.mc_samples),
            "seed": int(self.seed),
            "subject": self.subject,
            "model": self.model,
            "n_subjects": None if self.n_subjects is None else int(self.n_subjects),
            "absorbed": list(self.absorbed),
            "group_sizes": {str(k): int(v) for k, v in self.group_sizes.items()},
            "dropped_samples": [str(x) for x in self.dropped_samples],
            "features": features,
        }


# -------------------------------------------------------------- the kernels
@dataclasses.dataclass(frozen=True)
class _LinearModel:
    """OLS of many responses on one design, factorised once.

    ``design`` is ``n × k`` of full column rank; ``column`` is the coefficient
    reported.  With ``design = Q R`` (thin QR), for responses ``Y`` (``n × D``)
    the coefficients are ``R⁻¹ Qᵀ Y``, the residuals ``Y − Q Qᵀ Y``, and the
    variance of coefficient ``j`` is ``σ̂² (R⁻¹ R⁻ᵀ)_jj = σ̂² ‖(R⁻¹)_j·‖²``.
    """

    q: np.ndarray
    r_inv_row: np.ndarray
    variance_factor: float
    df: int

    @classmethod
    def from_design(cls, design: np.ndarray, column: int = 1, *,
                    df: int | None = None) -> _LinearModel:
        design = np.asarray(design, dtype=np.float64)
        n, k = design.shape
        q, r = np.linalg.qr(design)
        r_inv = linalg.solve_triangular(r, np.eye(k))
        row = r_inv[column]
        return cls(q=q, r_inv_row=row, variance_factor=float(row @ row),
                   df=n - k if df is None else df)

    def fit(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coefficient, standard error and two-sided t p-value per column of ``y``."""
        qty = self.q.T @ y
        coef = self.r_inv_row @ qty
        resid = y - self.q @ qty
        rss = np.einsum("ij,ij->j", resid, resid)
        se = np.sqrt(rss / self.df * self.variance_factor)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = coef / se
        p = 2.0 * special.stdtr(self.df, -np.abs(t))
        return coef, se, p


def _fit_instance(clr_values: np.ndarray, design: np.ndarray, *,
                  column: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit one Monte Carlo instance: OLS of every taxon's CLR on ``design``.

    Parameters
    ----------
    clr_values : numpy.ndarray
        Samples × taxa responses.
    design : numpy.ndarray
        Samples × coefficients, full column rank (intercept, group, covariates).
    column : int
        The coefficient to report (1: the group indicator).

    Returns
    -------
    coef, se, p : numpy.ndarray
        Per taxon: the coefficient, its standard error and the two-sided
        t-test p-value on ``n − k`` degrees of freedom (as ``statsmodels`` OLS).
    """
    return _LinearModel.from_design(design, column).fit(np.asarray(clr_values, dtype=np.float64))


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values along the last axis."""
    p = np.asarray(p, dtype=np.float64)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * (m / np.arange(1, m + 1))
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.minimum(ranked, 1.0), axis=-1)
    return out


def _monte_carlo(counts: np.ndarray, model: _LinearModel, *, mc_samples: int,
                 rng: np.random.Generator,
                 subjects: SubjectModel | None = None) -> tuple[np.ndarray, ...]:
    """Per instance and taxon: coefficient, SE², p and BH q (each ``mc_samples × D``).

    With ``subjects``, each instance's CLR goes through :meth:`SubjectModel.rows`
    (subject means, or centred within subject) before the fit.
    """
    shape = counts + _PRIOR
    n_taxa = counts.shape[1]
    coef = np.empty((mc_samples, n_taxa))
    var = np.empty((mc_samples, n_taxa))
    p = np.empty((mc_samples, n_taxa))
    # The products are skinny (samples × a few coefficients): one BLAS thread
    # is fastest, and on a busy machine many times faster than a pool that spins.
    with threadpool_limits(limits=1, user_api="blas"):
        for m in range(mc_samples):
            # Dirichlet(counts + 0.5) as normalised gamma draws; the CLR does not
            # need the normalisation (it cancels in the centring), so it is skipped.
            draw = rng.standard_gamma(shape)
            np.maximum(draw, _TINY, out=draw)
            np.log2(draw, out=draw)
            draw -= draw.mean(axis=1, keepdims=True)
            c, se, pv = model.fit(draw if subjects is None else subjects.rows(draw))
            coef[m], var[m], p[m] = c, se * se, pv
    return coef, var, p, _bh(p)


def _rubin(coef: np.ndarray, var: np.ndarray, df_complete: int,
           level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rubin's rules: pooled estimate and ``level`` interval per taxon."""
    m = coef.shape[0]
    estimate = coef.mean(axis=0)
    within = var.mean(axis=0)
    between = coef.var(axis=0, ddof=1) if m > 1 else np.zeros_like(estimate)
    total = within + (1.0 + 1.0 / m) * between
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(total > 0, (1.0 + 1.0 / m) * between / total, 0.0)
        df_rubin = np.where(fraction > 0, (m - 1) / fraction**2, np.inf)
        nu = float(df_complete)
        df_observed = (nu + 1.0) / (nu + 3.0) * nu * (1.0 - fraction)
        df = 1.0 / (1.0 / df_rubin + 1.0 / df_observed)
    half = special.stdtrit(df, 0.5 + level / 2.0) * np.sqrt(total)
    return estimate, estimate - half, estimate + half


# -------------------------------------------------------------- the driver
def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"`{name}` must be an integer ≥ {minimum}; got {value!r}.")
    return int(value)


def _design_matrix(samples: pd.DataFrame, groups: pd.Series, *, comparison: str,
                   covariates: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Intercept, the comparison-group indicator, then the covariates.

    Numeric (and boolean) covariates enter as they are; others are
    categorical, one indicator per level but the first (sorted) level.
    Raises :class:`InputError` when there are not more samples than columns,
    or the design is not of full column rank (naming the first column that
    adds nothing).
    """
    n = len(samples)
    extra, extra_names = covariate_columns(samples, covariates)
    columns = [np.ones(n), (groups.to_numpy() == comparison).astype(np.float64), *extra]
    names = ["intercept", f"group[{comparison}]", *extra_names]
    design = np.column_stack(columns)
    check_design(design, names, tested=names[1:2], tested_what="the group indicator is constant",
                 tested_word="the group")
    return design, names


def differential_abundance(study: Study, group_column: str, *, reference: str | None = None,
                           covariates: Sequence[str] = (), mc_samples: int = 128,
                           seed: int = 0, min_prevalence: float = 0.1,
                           rank: str | None = None,
                           subject: str | pd.Series | None = None) -> DifferentialAbundance:
    """Test which taxa differ in relative abundance between two groups (compositionally).

    Parameters
    ----------
    study : Study
        Read counts (``kind="counts"``) with sample metadata.
    group_column : str
        Metadata column with exactly two groups among the analysed samples.
    reference : str, optional
        The reference group (default: the first label in sorted order);
        effects are ``other − reference``.
    covariates : sequence of str
        Metadata columns to adjust for.  Numeric columns enter the model as
        they are, others as categorical (one indicator per level but the
        first).
    mc_samples : int
        Monte Carlo instances (Dirichlet draws per sample), ≥ 1.  ALDEx2
        recommends 128 or more for t-tests; fewer give noisier ``p``/``q``.
    seed : int
        Seed of the :func:`numpy.random.default_rng` generator, ≥ 0.
    min_prevalence : float
        Taxa with reads in fewer than this fraction of the analysed samples
        are not tested (see Notes).
    rank : str, optional
        Collapse the features to this rank first
        (:func:`~gutaxis.composition.collapse`; needs the taxonomy).
    subject : str or pandas.Series, optional
        Who each sample comes from, when some subjects gave several samples:
        a metadata column, or a Series of subject ids indexed by sample id.
        Samples without a subject are left out.  See Notes.

    Returns
    -------
    DifferentialAbundance

    Raises
    ------
    InputError
        ``study`` is not a Study; the study holds relative abundances; no
        sample metadata; the group
        column or a covariate is missing; not exactly two groups (or a group
        with fewer than two samples); ``reference`` not one of the groups;
        a covariate that is constant or repeats the grouping; fewer than two
        taxa left after the prevalence filter; bad option values; ``subject``
        neither a column nor a Series, a group with fewer than two subjects
        (subject means), or a within-subject model with no residual degrees of
        freedom.
    UnknownRankError
        ``rank`` is not a rank name.

    Notes
    -----
    **How it follows ALDEx2** [1]_.  For each sample, ``mc_samples``
    compositions are drawn from the posterior ``Dirichlet(counts + 0.5)`` (the
    multinomial likelihood with a Jeffreys prior, ALDEx2's default), by
    independent gamma draws; each draw is CLR-transformed with base-2
    logarithms over all tested taxa (ALDEx2's ``denom="all"``).  Every
    instance is tested, and the per-instance results are averaged: ``p`` is
    the mean p-value over instances (ALDEx2's *expected p*, ``glm.ep``), and
    ``q`` the mean over instances of the Benjamini–Hochberg adjusted p-values
    of that instance (ALDEx2's *expected BH*, ``glm.eBH``) [2]_.  Averaging
    over the instances makes taxa whose counts are too low to pin down their
    composition (many zeros) unlikely to be called.

    **Where it deviates.**

    * *The test* is a linear model with the group indicator and the
      covariates, as ``aldex.glm`` (Gaussian GLM = OLS), not ALDEx2's default
      two-group Welch t-test / Wilcoxon (``aldex.ttest``).  Without
      covariates this is Student's pooled-variance t-test.  All taxa are
      fitted at once: one QR factorisation of the design, used for every
      taxon and instance.
    * *The effect* is the group coefficient in CLR-log2 units, i.e. the
      (adjusted) difference between the groups' means of
      ``log2(taxon / geometric mean of the sample)``: a log2 fold change
      relative to the sample's geometric mean, averaged over instances.
      It is not ALDEx2's standardised ``effect`` (difference over
      dispersion); it is its ``diff.btw`` when there are no covariates.
    * *A 95 % interval* for the effect, which ALDEx2 does not give, by
      Rubin's rules for multiply imputed data [3]_: the within-instance
      variance (the mean of the squared standard errors) plus ``(1 + 1/M)``
      times the between-instance variance of the coefficient, with a t
      quantile.  Its degrees of freedom are Rubin's ``(M − 1) / λ²`` (``λ``
      the share of the variance due to the Monte Carlo), combined with the
      model's residual degrees of freedom by Barnard and Rubin's
      small-sample rule [4]_, so that they never exceed what the samples
      support; with many samples this is Rubin's value.  The interval and
      ``p`` come from different averaging rules, so an interval that
      excludes 0 does not exactly match ``p < 0.05``.
    * *A prevalence filter* before the CLR (ALDEx2 only removes taxa with
      no reads at all): rare taxa, mostly zeros, are driven by the prior,
      add noise to every sample's geometric mean and spend the multiple
      testing budget on taxa that cannot be called.  Samples left without a
      read in the tested taxa are dropped (and listed).
    * *No scale model*: the CLR assumes the geometric mean of the tested
      taxa does not differ between the groups (ALDEx2's default
      ``gamma=NULL``), so effects are relative to that mean, not absolute;
      a change in most taxa at once shifts every effect.

    **Repeated samples per subject.**  Samples of one subject are not
    independent, so with ``subject`` the model's rows change, within every
    Monte Carlo instance (each instance's CLR, then the same linear map):

    * when the group is the same for all the samples of each subject, each
      subject counts once: the model is fitted on the mean CLR of the
      subject's samples (and the mean of each covariate's design column),
      with ``subjects − coefficients`` residual degrees of freedom
      (``model="subject means"``);
    * when the group changes within some subjects (before / after), the
      samples are centred on their subject's mean and fitted without an
      intercept: a fixed effect per subject, the within-subject (paired)
      comparison, with ``samples − subjects − coefficients`` degrees of
      freedom (``model="within subject"``).  Covariates constant within every
      subject are absorbed by the subject means (listed in ``absorbed``).
      This is the estimator of the group effect in a linear model with a
      random intercept per subject that conditions on the subjects; unlike
      the mixed model, it has exact t tests and no variance components to
      estimate, and subject-level confounders cannot bias it.

    Memory: about four ``samples × taxa`` float64 arrays at a time
    (instances are processed one after another).

    References
    ----------
    .. [1] Fernandes AD, Reid JN, Macklaim JM, McMurrough TA, Edgar DR,
       Gloor GB (2014). Unifying the analysis of high-throughput sequencing
       datasets: characterizing RNA-seq, 16S rRNA gene sequencing and
       selective growth experiments by compositional data analysis.
       *Microbiome* 2, 15. doi:10.1186/2049-2618-2-15
    .. [2] Gloor GB, Macklaim JM, Vu M, Fernandes AD (2016). Compositional
       uncertainty should not be ignored in high-throughput sequencing data
       analysis. *Austrian Journal of Statistics* 45(4), 73–87.
       doi:10.17713/ajs.v45i4.122 (and the ALDEx2 documentation of
       ``aldex.glm``).
    .. [3] Rubin DB (1987). *Multiple Imputation for Nonresponse in Surveys*.
       Wiley, New York.
    .. [4] Barnard J, Rubin DB (1999). Small-sample degrees of freedom with
       multiple imputation. *Biometrika* 86(4), 948–955.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> counts = rng.poisson(50, size=(12, 5))
    >>> counts[6:, 0] *= 4
    >>> md = pd.DataFrame({"group": ["a"] * 6 + ["b"] * 6},
    ...                   index=[f"s{i}" for i in range(12)])
    >>> s = Study(counts, md.index, [f"t{j}" for j in range(5)], samples=md)
    >>> res = differential_abundance(s, "group", mc_samples=16)
    >>> row = res.table.iloc[0]
    >>> row["taxon"], row["higher_in"], bool(row["q"] < 0.05)
    ('t0', 'b', True)
    """
    check_study(study)
    mc_samples = _check_int(mc_samples, "mc_samples", 1)
    seed = _check_int(seed, "seed", 0)
    if (isinstance(min_prevalence, bool) or not isinstance(min_prevalence, numbers.Real)
            or not 0 <= min_prevalence <= 1):
        raise InputError(f"`min_prevalence` must be a fraction in [0, 1]; got {min_prevalence!r}.")
    if isinstance(covariates, str):
        covariates = (covariates,)
    covariates = tuple(str(c) for c in covariates)
    if study.kind != "counts":
        raise InputError(
            f"differential abundance needs read counts: it models the sampling of reads; "
            f"{study.source} holds relative abundances (kind='relative'). Give the read-count "
            "table instead, or use gutaxis.stats.linda, which takes relative abundances."
        )
    if study.samples is None:
        raise InputError(
            f"differential abundance compares groups of samples, and {study.source} has no "
            "sample metadata. Attach it (--metadata FILE)."
        )
    available = [str(c) for c in study.samples.columns]
    for what, name in [("group column", group_column)] + [("covariate", c) for c in covariates]:
        if name not in study.samples.columns:
            raise InputError(
                f"the {what} {name!r} is not in the sample metadata; its columns are: "
                f"{', '.join(map(repr, available))}."
            )
    if group_column in covariates:
        raise InputError(f"the group column {group_column!r} cannot also be a covariate.")
    if rank is not None:
        study = collapse(study, rank)
        rank = study.provenance[-1]["rank"]

    subjects, subject_name = subject_ids(subject, study.samples,
                                         reserved=(group_column, *covariates))

    # 1. samples with a group, every covariate (and a subject); two groups
    md = study.samples
    assert md is not None  # checked above; collapse keeps the metadata
    complete = md[[group_column, *covariates]].notna().all(axis=1)
    if subjects is not None:
        complete &= subjects.notna()
    groups = group_labels(md.loc[complete, group_column])
    levels = sorted(pd.unique(groups))
    if len(levels) != 2:
        sizes = groups.value_counts().sort_index()
        listed = ", ".join(f"{g!r} ({n})" for g, n in sizes.items())
        advice = ("Subset the samples to the two groups to compare first, or use "
                  "gutaxis.stats.linda (an omnibus test and every pair of groups)."
                  if len(levels) > 2 else "There is nothing to compare.")
        raise InputError(
            f"differential abundance compares exactly two groups; {group_column!r} has "
            f"{len(levels)} among the samples analysed: {listed or 'none'}. {advice}"
        )
    if reference is None:
        reference = levels[0]
    reference = str(reference)
    if reference not in levels:
        raise InputError(
            f"the reference group {reference!r} is not one of the groups in {group_column!r}: "
            f"{', '.join(map(repr, levels))}."
        )
    comparison = levels[1] if reference == levels[0] else levels[0]

    # 2. the prevalence filter, then samples with no reads in the tested taxa
    prepared = prepare(study, [group_column, *covariates], min_prevalence=min_prevalence,
                       what="differential abundance", subjects=subjects)
    data, tested, dropped = prepared.data, prepared.tested, prepared.dropped
    assert tested.samples is not None
    groups = group_labels(tested.samples[group_column])
    sizes = {g: int((groups == g).sum()) for g in (reference, comparison)}
    small = {g: k for g, k in sizes.items() if k < 2}
    if small:
        raise InputError(
            "each group needs at least 2 samples with reads; "
            + ", ".join(f"{g!r} has {k}" for g, k in small.items()) + "."
        )

    # 3. the model (samples, subject means or within subject) and the Monte Carlo
    design, names = _design_matrix(tested.samples, groups, comparison=comparison,
                                   covariates=covariates)
    codes = None
    if subjects is not None:
        codes = pd.factorize(subjects.loc[tested.sample_ids], sort=True)[0]
    subjects_model = subject_model(codes, design[:, 1:2])
    n_subjects = None
    if subjects_model.model == "subject means":
        assert codes is not None
        n_subjects = subjects_model.n_subjects
        per_group = {g: int(pd.Series(codes[(groups == g).to_numpy()]).nunique())
                     for g in (reference, comparison)}
        few = {g: k for g, k in per_group.items() if k < 2}
        if few:
            raise InputError(
                "each group needs at least 2 subjects (the model is fitted on one mean per "
                "subject); " + ", ".join(f"{g!r} has {k}" for g, k in few.items()) + "."
            )
    elif subjects_model.model == "within subject":
        n_subjects = subjects_model.n_subjects
    model_matrix, model_names, absorbed, df = model_design(
        design, names, subjects_model, tested=names[1:2],
        tested_what="the group indicator is constant", tested_word="the group")
    model = _LinearModel.from_design(model_matrix, model_names.index(names[1]), df=df)
    counts = tested.counts.toarray().astype(np.float64, copy=False)
    rng = np.random.default_rng(seed)
    coef, var, p, q = _monte_carlo(
        counts, model, mc_samples=mc_samples, rng=rng,
        subjects=None if subjects_model.model == "samples" else subjects_model)
    effect, ci_low, ci_high = _rubin(coef, var, model.df)

    # 4. the table
    mean_abundance, prevalence = mean_abundance_and_prevalence(data, tested)
    higher = np.where(effect > 0, comparison, np.where(effect < 0, reference, None))
    table = pd.DataFrame({
        "taxon": [str(f) for f in tested.feature_ids],
        "label": display_labels(tested, rank),
        "effect": effect,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "p": p.mean(axis=0),
        "q": q.mean(axis=0),
        "higher_in": higher,
        "mean_abundance": mean_abundance,
        "prevalence": prevalence,
    })
    order = np.lexsort((-np.abs(table["effect"].to_numpy()), table["q"].to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    return DifferentialAbundance(
        method=METHOD,
        citation=CITATION,
        rank=rank,
        group_column=str(group_column),
        reference_group=reference,
        comparison_group=comparison,
        covariates=covariates,
        mc_samples=mc_samples,
        seed=seed,
        table=table,
        group_sizes=sizes,
        dropped_samples=tuple(dropped),
        n_filtered=int(data.n_features - tested.n_features),
        subject=subject_name,
        model=subjects_model.model,
        n_subjects=n_subjects,
        absorbed=tuple(absorbed),
    )
