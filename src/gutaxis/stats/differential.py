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
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, special
from threadpoolctl import threadpool_limits

from gutaxis.composition import collapse, filter_prevalence, lineages, taxon_label
from gutaxis.exceptions import InputError
from gutaxis.stats._grouping import group_labels
from gutaxis.study import RANKS, Study, check_study

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

    Notes
    -----
    :meth:`to_dict` holds the fields from ``method`` to ``seed``,
    ``group_sizes``, ``dropped_samples`` and the table (as ``features``);
    ``n_filtered`` is for reports and logs.
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

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (plain Python values; NaN becomes ``None``).

        Returns
        -------
        dict
            ``method, citation, rank, group_column, reference_group,
            comparison_group, covariates, mc_samples, seed, group_sizes,
            dropped_samples`` and ``features``:
            one dict per table row, keys as the table's columns.
        """
        features = [
            {column: _plain(value) for column, value in zip(_COLUMNS, row, strict=True)}
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
            "group_sizes": {str(k): int(v) for k, v in self.group_sizes.items()},
            "dropped_samples": [str(x) for x in self.dropped_samples],
            "features": features,
        }


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    return str(value)


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
    def from_design(cls, design: np.ndarray, column: int = 1) -> _LinearModel:
        design = np.asarray(design, dtype=np.float64)
        n, k = design.shape
        q, r = np.linalg.qr(design)
        r_inv = linalg.solve_triangular(r, np.eye(k))
        row = r_inv[column]
        return cls(q=q, r_inv_row=row, variance_factor=float(row @ row), df=n - k)

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
                 rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Per instance and taxon: coefficient, SE², p and BH q (each ``mc_samples × D``)."""
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
            c, se, pv = model.fit(draw)
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
    columns = [np.ones(n), (groups.to_numpy() == comparison).astype(np.float64)]
    names = ["intercept", f"group[{comparison}]"]
    for name in covariates:
        col = samples[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            columns.append(col.to_numpy(dtype=np.float64))
            names.append(name)
            continue
        if isinstance(col.dtype, pd.CategoricalDtype):
            present = set(col.astype(object))
            levels = [str(c) for c in col.cat.categories if c in present]
            text = col.astype(object).map(str)
        else:
            text = col.astype(str)
            levels = sorted(pd.unique(text))
        for level in levels[1:]:
            columns.append((text == level).to_numpy(dtype=np.float64))
            names.append(f"{name}[{level}]")
    design = np.column_stack(columns)
    if n <= design.shape[1]:
        raise InputError(
            f"{n} samples cannot fit a model with {design.shape[1]} coefficients "
            f"({', '.join(names)}); at least {design.shape[1] + 1} are needed. Use fewer "
            "covariates (or fewer levels)."
        )
    if np.linalg.matrix_rank(design) < design.shape[1]:
        for k in range(2, design.shape[1] + 1):
            if np.linalg.matrix_rank(design[:, :k]) < k:
                culprit = names[k - 1]
                break
        else:  # pragma: no cover - the full matrix is rank-deficient, so some prefix is
            culprit = names[-1]
        what = ("the group indicator is constant" if culprit.startswith("group[") else
                f"the design column {culprit!r} is constant or a combination of the group "
                "and the covariates before it")
        raise InputError(
            f"cannot fit the linear model: {what} among the {n} samples analysed. "
            "Remove that covariate (or a covariate that repeats the grouping)."
        )
    return design, names


def _labels(study: Study, rank: str | None) -> list[str]:
    """Display names: the lineage's :func:`taxon_label` down to ``rank`` (or species)."""
    if study.taxonomy is None:
        return [str(f) for f in study.feature_ids]
    full = lineages(study.taxonomy, rank or RANKS[-1])
    out = []
    for fid, text in zip(study.feature_ids, full, strict=True):
        label = taxon_label(text)
        out.append(str(fid) if label == "Unassigned" else label)
    return out


def differential_abundance(study: Study, group_column: str, *, reference: str | None = None,
                           covariates: Sequence[str] = (), mc_samples: int = 128,
                           seed: int = 0, min_prevalence: float = 0.1,
                           rank: str | None = None) -> DifferentialAbundance:
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
        taxa left after the prevalence filter; bad option values.
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
            "table instead."
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

    # 1. samples with a group and every covariate
    md = study.samples
    assert md is not None  # checked above; collapse keeps the metadata
    complete = md[[group_column, *covariates]].notna().all(axis=1).to_numpy()
    dropped = [str(s) for s in study.sample_ids[~complete]]
    if dropped:
        logger.info("differential abundance: %d sample(s) without %s left out: %s",
                    len(dropped), " / ".join([group_column, *covariates]), ", ".join(dropped[:10]))
    data = study if complete.all() else study.subset_samples(
        study.sample_ids[complete].tolist(), step="complete_metadata")
    assert data.samples is not None
    groups = group_labels(data.samples[group_column])
    levels = sorted(pd.unique(groups))
    if len(levels) != 2:
        sizes = groups.value_counts().sort_index()
        listed = ", ".join(f"{g!r} ({n})" for g, n in sizes.items())
        advice = ("Subset the samples to the two groups to compare first."
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
    empty = data.sample_totals() <= 0
    if empty.any():
        gone = [str(s) for s in data.sample_ids[empty]]
        logger.info("differential abundance: %d sample(s) without reads left out: %s",
                    len(gone), ", ".join(gone[:10]))
        dropped += gone
        data = data.subset_samples(data.sample_ids[~empty].tolist(), step="drop_empty_samples")
    if data.n_samples == 0:
        raise InputError(f"no sample of {study.source} with a group has any reads.")
    tested = filter_prevalence(data, min_prevalence=min_prevalence).drop_empty_features()
    empty = tested.sample_totals() <= 0
    if empty.any():
        gone = [str(s) for s in tested.sample_ids[empty]]
        logger.info("differential abundance: %d sample(s) have no reads in the tested taxa "
                    "and are left out: %s", len(gone), ", ".join(gone[:10]))
        dropped += gone
        keep = tested.sample_ids[~empty].tolist()
        tested = tested.subset_samples(keep, step="drop_empty_samples")
        data = data.subset_samples(keep, step="drop_empty_samples")
    if tested.n_features < 2:
        raise InputError(
            f"only {tested.n_features} of {data.n_features} taxa pass the prevalence filter "
            f"(min_prevalence={min_prevalence}); the CLR needs at least 2. Lower "
            "min_prevalence."
        )
    assert tested.samples is not None
    groups = group_labels(tested.samples[group_column])
    sizes = {g: int((groups == g).sum()) for g in (reference, comparison)}
    small = {g: k for g, k in sizes.items() if k < 2}
    if small:
        raise InputError(
            "each group needs at least 2 samples with reads; "
            + ", ".join(f"{g!r} has {k}" for g, k in small.items()) + "."
        )

    # 3. the model and the Monte Carlo
    design, _ = _design_matrix(tested.samples, groups, comparison=comparison,
                               covariates=covariates)
    model = _LinearModel.from_design(design, 1)
    counts = tested.counts.toarray().astype(np.float64, copy=False)
    rng = np.random.default_rng(seed)
    coef, var, p, q = _monte_carlo(counts, model, mc_samples=mc_samples, rng=rng)
    effect, ci_low, ci_high = _rubin(coef, var, model.df)

    # 4. the table
    positions = data.feature_ids.get_indexer(tested.feature_ids)
    totals = data.sample_totals()
    relative = data.counts.multiply(1.0 / totals[:, None]).tocsc()
    mean_abundance = np.asarray(relative.mean(axis=0)).ravel()[positions]
    prevalence = tested.counts.getnnz(axis=0) / tested.n_samples
    higher = np.where(effect > 0, comparison, np.where(effect < 0, reference, None))
    table = pd.DataFrame({
        "taxon": [str(f) for f in tested.feature_ids],
        "label": _labels(tested, rank),
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
    )
