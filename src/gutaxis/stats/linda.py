"""Compositional differential abundance for counts *or* proportions: LinDA.

:func:`linda` asks, for every taxon, whether its abundance relative to the
other taxa changes with a variable — two or more groups (an omnibus F test
and every pairwise contrast) or a continuous variable (a slope) — optionally
adjusted for covariates, and with repeated samples per subject.  It fits one
linear model per taxon to the centred log-ratios (all taxa in one
least-squares solve) and removes the compositional bias, the shift that the
CLR gives every coefficient alike, by the mode of the coefficients across
taxa, as LinDA does (Zhou et al. 2022).  Unlike
:func:`~gutaxis.stats.differential_abundance` it needs no read counts, so it
serves relative profiles (MetaPhlAn) as well as count tables.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from gutaxis.composition import collapse
from gutaxis.exceptions import InputError
from gutaxis.stats._grouping import group_labels
from gutaxis.stats._linda_kernels import (
    DEPTH_P,
    Contrast,
    bias_covariance,
    clr_log2,
    contrast_tests,
    contrasts,
    depth_association,
    omnibus,
)
from gutaxis.stats._linear import (
    LeastSquares,
    Model,
    SubjectModel,
    check_design,
    covariate_columns,
    display_labels,
    least_squares,
    mean_abundance_and_prevalence,
    model_design,
    prepare,
    subject_ids,
    subject_model,
)
from gutaxis.stats._results import table_value
from gutaxis.stats.group_tests import bh_adjust
from gutaxis.study import Study, check_study

__all__ = ["LinDAResult", "linda", "METHOD", "CITATION", "OMNIBUS"]

#: Short name of the method, as reported in results.
METHOD = "LinDA (CLR linear model, mode bias correction)"
#: The paper the method follows.
CITATION = (
    "Zhou H, He K, Chen J, Zhang X (2022). LinDA: linear models for differential abundance "
    "analysis of microbiome compositional data. Genome Biology 23:95. "
    "doi:10.1186/s13059-022-02655-5"
)
#: The ``contrast`` of the omnibus F test's rows (three groups or more).
OMNIBUS = "omnibus"
#: Columns of :attr:`LinDAResult.table`, in order.
_COLUMNS = ("taxon", "label", "contrast", "effect", "se", "ci_low", "ci_high", "statistic",
            "p", "q", "higher_in", "mean_abundance", "prevalence")
_ZERO_HANDLING = ("auto", "pseudo-count", "imputation", "half-minimum")
#: Simulated fits behind the error of the bias estimate (``_linda_kernels.bias_covariance``).
_BIAS_DRAWS = 200


@dataclasses.dataclass(frozen=True)
class LinDAResult:
    """The result of :func:`linda`.

    Attributes
    ----------
    method : str
        :data:`METHOD`.
    citation : str
        :data:`CITATION`.
    rank : str or None
        The rank the features were collapsed to; ``None`` when tested as given.
    variable : str
        The metadata column tested.
    variable_type : {"categorical", "continuous"}
        Groups (indicators against ``reference_group``) or a slope.
    levels : tuple of str
        The groups, reference first, then the others in sorted order; empty
        for a continuous variable.
    reference_group : str or None
        The reference group; ``None`` for a continuous variable.
    contrasts : tuple of str
        The ``contrast`` values of :attr:`table`, in table order: with three
        groups or more :data:`OMNIBUS` first, then ``"b vs a"`` for every
        group against the reference, then every other pair (``"c vs b"``, the
        later level first); with two groups the one contrast; for a
        continuous variable its name.
    covariates : tuple of str
        The metadata columns adjusted for.
    subject : str or None
        The subject column (or the Series' name); ``None`` without subjects.
    model : {"samples", "subject means", "within subject"}
        The rows of the linear model (see :func:`linda`, Notes).
    zero_handling : str
        What replaced the zeros before the logarithm: ``"pseudo-count 0.5"``,
        ``"imputation"``, ``"half-minimum"`` or ``"none (no zeros)"``.
    bias_uncertainty : bool
        Whether the standard errors include the error of the bias estimate.
    seed : int
        Seed of the draws behind that error (same seed, same table).
    df : int
        Residual degrees of freedom of every t test (and the F test's
        denominator); the omnibus F test's numerator has
        ``len(levels) − 1``.
    bias : dict of str to float
        Per contrast (not the omnibus): the compositional bias removed, the
        mode of the uncorrected coefficients across taxa (log2 units).
    table : pandas.DataFrame
        One row per tested taxon and contrast, columns ``taxon``, ``label``,
        ``contrast``, ``effect`` (the bias-corrected coefficient, log2 units:
        the log2 ratio ``b`` over ``a`` for ``"b vs a"``, the change per unit
        of a continuous variable; NaN for the omnibus), ``se`` (its standard
        error), ``ci_low`` and ``ci_high`` (95 % t interval), ``statistic``
        (t, or F for the omnibus), ``p``, ``q`` (Benjamini–Hochberg across the
        taxa of that contrast), ``higher_in`` (the group with the higher
        abundance relative to the others for a group contrast; ``None`` for
        the omnibus and a continuous variable), ``mean_abundance`` (mean
        relative abundance over the analysed samples, of all their taxa) and
        ``prevalence`` (fraction of analysed samples where the taxon is
        present).  Sorted by contrast (in :attr:`contrasts` order), then by
        ``q``, then by decreasing ``|effect|``.
    group_sizes : dict of str to int
        Samples analysed per group (reference first); empty for a
        continuous variable.
    n_samples : int
        Samples analysed.
    n_subjects : int or None
        Subjects analysed (``None`` without subjects).
    absorbed : tuple of str
        Covariate columns constant within every subject, absorbed by the
        subjects' own means in the within-subject model.
    dropped_samples : tuple of str
        Samples left out: missing value or subject, or no reads in the tested
        taxa.
    n_filtered : int
        Taxa removed by the prevalence filter (not tested).
    notes : tuple of str
        What a reader of the table should know (how subjects were handled,
        why zeros were imputed).
    """

    method: str
    citation: str
    rank: str | None
    variable: str
    variable_type: Literal["categorical", "continuous"]
    levels: tuple[str, ...]
    reference_group: str | None
    contrasts: tuple[str, ...]
    covariates: tuple[str, ...]
    subject: str | None
    model: Model
    zero_handling: str
    bias_uncertainty: bool
    seed: int
    df: int
    bias: dict[str, float]
    table: pd.DataFrame
    group_sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    n_samples: int = 0
    n_subjects: int | None = None
    absorbed: tuple[str, ...] = ()
    dropped_samples: tuple[str, ...] = ()
    n_filtered: int = 0
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (plain Python values; NaN becomes ``None``).

        Returns
        -------
        dict
            Every attribute but ``table``, in order, and ``features``: one
            dict per table row, keys as the table's columns.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> md = pd.DataFrame({"age": rng.uniform(20, 80, 20)},
        ...                   index=[f"s{i}" for i in range(20)])
        >>> counts = rng.poisson(40, size=(20, 6))
        >>> s = Study(counts, md.index, [f"t{j}" for j in range(6)], samples=md)
        >>> doc = linda(s, "age").to_dict()
        >>> doc["variable_type"], doc["contrasts"], doc["reference_group"]
        ('continuous', ['age'], None)
        >>> list(doc["features"][0])[:5]
        ['taxon', 'label', 'contrast', 'effect', 'se']
        """
        features = [
            {column: table_value(value) for column, value in zip(_COLUMNS, row, strict=True)}
            for row in self.table[list(_COLUMNS)].itertuples(index=False, name=None)
        ]
        return {
            "method": self.method,
            "citation": self.citation,
            "rank": self.rank,
            "variable": self.variable,
            "variable_type": self.variable_type,
            "levels": list(self.levels),
            "reference_group": self.reference_group,
            "contrasts": list(self.contrasts),
            "covariates": list(self.covariates),
            "subject": self.subject,
            "model": self.model,
            "zero_handling": self.zero_handling,
            "bias_uncertainty": self.bias_uncertainty,
            "seed": int(self.seed),
            "df": int(self.df),
            "bias": {str(k): table_value(v) for k, v in self.bias.items()},
            "group_sizes": {str(k): int(v) for k, v in self.group_sizes.items()},
            "n_samples": int(self.n_samples),
            "n_subjects": None if self.n_subjects is None else int(self.n_subjects),
            "absorbed": list(self.absorbed),
            "dropped_samples": [str(x) for x in self.dropped_samples],
            "n_filtered": int(self.n_filtered),
            "notes": list(self.notes),
            "features": features,
        }


# -------------------------------------------------------------- the driver
def _check_fraction(value: object, name: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0 <= float(value) <= 1):
        raise InputError(f"`{name}` must be a fraction in [0, 1]; got {value!r}.")
    return float(value)


def _check_options(study: Study, *, seed: object, bias_uncertainty: object,
                   zero_handling: object, categorical: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"`seed` must be an integer ≥ 0; got {seed!r}.")
    if not isinstance(bias_uncertainty, bool):
        raise InputError(f"`bias_uncertainty` must be True or False; got {bias_uncertainty!r}.")
    if zero_handling not in _ZERO_HANDLING:
        raise InputError(f"`zero_handling` must be one of {', '.join(_ZERO_HANDLING)}; got "
                         f"{zero_handling!r}.")
    if study.kind == "relative" and zero_handling in ("pseudo-count", "imputation"):
        raise InputError(
            f"zero_handling={zero_handling!r} is for read counts; {study.source} holds relative "
            "abundances. Use 'auto' or 'half-minimum'."
        )
    if categorical is not None and not isinstance(categorical, bool):
        raise InputError(f"`categorical` must be True, False or None; got {categorical!r}.")


def _is_continuous(column: pd.Series, categorical: bool | None, variable: str) -> bool:
    numeric = (pd.api.types.is_numeric_dtype(column)
               and not pd.api.types.is_bool_dtype(column))
    if categorical is None:
        return numeric
    if categorical is False and not numeric:
        raise InputError(
            f"{variable!r} is not numeric (its values look like {column.dropna().iloc[:3].tolist()}"
            "), so it cannot be tested as a continuous variable. Pass categorical=True (or "
            "leave it to be guessed)."
        )
    return not categorical


def linda(study: Study, variable: str, *, reference: str | None = None,
          covariates: Sequence[str] = (), subject: str | pd.Series | None = None,
          categorical: bool | None = None, zero_handling: str = "auto",
          min_prevalence: float = 0.1, rank: str | None = None,
          bias_uncertainty: bool = True, seed: int = 0) -> LinDAResult:
    """Test which taxa change in relative abundance with a variable (compositionally).

    Parameters
    ----------
    study : Study
        Read counts or relative abundances (fractions or percentages: the
        unit does not matter), with sample metadata.
    variable : str
        Metadata column tested: groups (two or more) or a continuous
        variable.
    reference : str, optional
        The reference group (default: the first in sorted order); effects
        are ``group − reference``.  Only for groups.
    covariates : sequence of str
        Metadata columns to adjust for.  Numeric columns enter the model as
        they are, others as categorical (one indicator per level but the
        first).
    subject : str or pandas.Series, optional
        Who each sample comes from, when some subjects gave several samples:
        a metadata column, or a Series of subject ids indexed by sample id.
        Samples without a subject are left out.  See Notes.
    categorical : bool, optional
        Whether ``variable`` holds groups (``True``) or a quantity
        (``False``); by default numeric columns are continuous and the
        others groups.
    zero_handling : {"auto", "pseudo-count", "imputation", "half-minimum"}
        How zeros are replaced before the logarithm (see Notes): ``"auto"``
        follows LinDA for counts and takes ``"half-minimum"`` for
        proportions; ``"pseudo-count"`` and ``"imputation"`` need counts.
    min_prevalence : float
        Taxa present in fewer than this fraction of the analysed samples are
        not tested.
    rank : str, optional
        Collapse the features to this rank first
        (:func:`~gutaxis.composition.collapse`; needs the taxonomy).
    bias_uncertainty : bool
        Add the error of the bias estimate to the standard errors (default;
        see Notes).  ``False``: LinDA's published tests.
    seed : int
        Seed of the draws that estimate that error, ≥ 0.

    Returns
    -------
    LinDAResult

    Raises
    ------
    InputError
        ``study`` is not a Study; no sample metadata; ``variable``, a
        covariate or the subject column missing; fewer than two groups, or a
        group with fewer than two samples (two subjects when the model is on
        subject means); ``reference`` not a group (or given for a continuous
        variable); a continuous variable that is not numeric; a covariate
        that is constant or repeats the variable; a group that never changes
        within a subject when others do; fewer than two taxa left after the
        prevalence filter; ``zero_handling`` unknown or meant for counts on
        proportions; bad option values (``seed``, ``bias_uncertainty``,
        ``categorical``, ``min_prevalence``, ``subject``).
    UnknownRankError
        ``rank`` is not a rank name.

    Notes
    -----
    **What it estimates** [1]_.  After the zeros are replaced, each sample's
    abundances are CLR-transformed with base-2 logarithms over the tested
    taxa, and every taxon's CLR is regressed on the variable and the
    covariates by ordinary least squares (one QR factorisation of the design
    for all taxa).  A coefficient on the CLR is the taxon's change *relative
    to the geometric mean of all taxa*; when most taxa do not change, the
    change of that mean — the compositional bias — is the same for every
    taxon and is the mode of the coefficients across taxa.  Each contrast is
    corrected by subtracting that mode, so ``effect`` estimates the taxon's
    own log2 fold change under the assumption that most taxa do not change
    (LinDA's sparsity assumption).  The mode is found by mean shift with a
    Gaussian kernel and Silverman's bandwidth, starting at the shortest half
    of the coefficients, as in LinDA's code.  t tests on the residual
    degrees of freedom give ``p``, a 95 % t interval ``ci_low``–``ci_high``,
    and Benjamini–Hochberg across the taxa of each contrast ``q``.

    **The error of the bias (where this deviates).**  LinDA keeps the
    model's standard error, as the error of the mode vanishes when the
    number of taxa grows faster than the number of samples [1]_.  With the
    tens to hundreds of taxa of a genus table it does not: in simulations
    with 200 taxa and 100 samples the mode is off by about a quarter of one
    coefficient's standard error, the same shift for every taxon, and 6.0 %
    of null taxa get p < 0.05 (FDR 0.06 at a nominal 0.05).  So by default
    (``bias_uncertainty=True``) the variance of the bias is added to every
    taxon's squared standard error (to the F test's covariance, for the
    omnibus).  It is estimated by simulation: 200 draws of every taxon's
    coefficient errors from ``N(0, σ̂_j² (XᵀX)⁻¹)``, independently across
    taxa, each giving the modes of the contrasts as for the data; their
    spread (covariance) is the bias's error (``seed`` fixes the draws).
    The same simulations then give 5.3 % (the draws, independent across
    taxa, still miss a little).  ``bias_uncertainty=False`` gives LinDA's
    published tests.

    **Groups.**  With two groups the one contrast is tested.  With three or
    more, an omnibus F test (contrast :data:`OMNIBUS`) asks whether the
    taxon differs between any groups: the Wald F statistic of the
    bias-corrected group coefficients (LinDA's ``linda.wald.test``), on
    ``groups − 1`` and the residual degrees of freedom.  Every pair of
    groups is also a contrast, each corrected by the mode of its own
    estimates (what LinDA reports when that pair's second group is made the
    reference).  The q-values of the pairs are per contrast, not across
    contrasts: read the pairs of the taxa the omnibus test calls.  The
    omnibus F rests on the contrasts with ``reference``, each corrected by
    its own mode; modes are not additive, so another reference gives a
    slightly different F (as in LinDA's code).

    **A continuous variable** is a slope: ``effect`` is the log2 change per
    unit of the variable (LinDA standardises numeric variables first; the
    mode and the tests do not depend on the unit, so effects are kept per
    unit here).

    **Zeros.**  Counts: a pseudo-count of 0.5 is added to every count (when
    the table has a zero), unless the sequencing depth is associated with the
    model's variables (the smallest p-value of a linear model of the log
    depth on the design ≤ 0.1), when each zero is imputed instead as the
    sample's depth over the largest depth among the samples where that taxon
    is zero — LinDA's adaptive rule, which keeps deep and shallow samples'
    zeros at the same proportion.  Proportions: each zero is replaced by
    half the smallest non-zero proportion *of the same sample*.  This
    replacement scales with the sample, so the CLR — and every result — is
    the same whether the profiles are fractions or percentages, or whether
    a sample's total is 100 or 97 (unclassified reads left out).  (LinDA's
    package uses half the smallest non-zero value of each *taxon* across
    samples, which depends on every sample having the same total.)

    **Repeated samples per subject.**  With ``subject``:

    * when the variable is the same for all the samples of each subject,
      each subject counts once: the model is fitted on the mean CLR of the
      subject's samples (and the mean of each design column), with
      ``subjects − coefficients`` degrees of freedom (``model="subject
      means"``; covariates that change within subjects enter as their
      subject means, and a note says so);
    * when the variable changes within some subjects, the samples are
      centred on their subject's mean and fitted without an intercept: a
      fixed effect per subject, the within-subject comparison, with
      ``samples − subjects − coefficients`` degrees of freedom
      (``model="within subject"``).  Covariates constant within every
      subject are absorbed by the subject means (``absorbed``).  LinDA fits
      a random intercept per subject (``lmer``) instead; this is that
      model's estimator conditional on the subjects, with exact t tests and
      no variance components to estimate or Satterthwaite degrees of freedom
      to approximate, and subject-level confounders cannot bias it; it uses
      no between-subject information, which the random-intercept model
      adds when subjects differ in the variable's average.

    **Not done.**  LinDA's package also winsorises each taxon's proportions
    at their 97th percentile by default; outliers are kept here, as in
    :func:`~gutaxis.stats.differential_abundance`.  Taxa are filtered by
    prevalence (default 10 %; LinDA's default is none).

    Hand-written (no library offers them for many responses at once): the
    least-squares fit for all taxa, the mean-shift mode, the contrast t
    tests and the Wald F tests; the tests check them against statsmodels'
    OLS and ``f_test``.  Memory: a few ``samples × taxa`` arrays,
    and ``200 × taxa × coefficients`` for the bias draws.

    References
    ----------
    .. [1] Zhou H, He K, Chen J, Zhang X (2022). LinDA: linear models for
       differential abundance analysis of microbiome compositional data.
       *Genome Biology* 23, 95. doi:10.1186/s13059-022-02655-5

    Examples
    --------
    Three diets, relative abundances in percent; taxon t0 is eight times as
    abundant with fibre:

    >>> rng = np.random.default_rng(3)
    >>> diet = np.repeat(["control", "fibre", "meat"], 10)
    >>> abundance = rng.lognormal(2.0, 0.4, size=(30, 8))
    >>> abundance[diet == "fibre", 0] *= 8
    >>> percent = 100 * abundance / abundance.sum(axis=1, keepdims=True)
    >>> md = pd.DataFrame({"diet": diet}, index=[f"s{i}" for i in range(30)])
    >>> s = Study(percent, md.index, [f"t{j}" for j in range(8)], samples=md,
    ...           kind="relative")
    >>> result = linda(s, "diet")
    >>> result.contrasts
    ('omnibus', 'fibre vs control', 'meat vs control', 'meat vs fibre')
    >>> top = result.table.iloc[0]
    >>> top["contrast"], top["taxon"], bool(top["q"] < 0.05)
    ('omnibus', 't0', True)
    >>> fibre = result.table[result.table["contrast"] == "fibre vs control"].iloc[0]
    >>> fibre["taxon"], fibre["higher_in"], round(float(fibre["effect"]))
    ('t0', 'fibre', 3)
    """
    check_study(study)
    min_prevalence = _check_fraction(min_prevalence, "min_prevalence")
    _check_options(study, seed=seed, bias_uncertainty=bias_uncertainty,
                   zero_handling=zero_handling, categorical=categorical)
    if isinstance(covariates, str):
        covariates = (covariates,)
    covariates = tuple(str(c) for c in covariates)
    if study.samples is None:
        raise InputError(
            f"differential abundance tests a variable of the samples, and {study.source} has "
            "no sample metadata. Attach it (--metadata FILE)."
        )
    available = [str(c) for c in study.samples.columns]
    for what, name in [("variable", variable)] + [("covariate", c) for c in covariates]:
        if name not in study.samples.columns:
            raise InputError(
                f"the {what} {name!r} is not in the sample metadata; its columns are: "
                f"{', '.join(map(repr, available))}."
            )
    if variable in covariates:
        raise InputError(f"the variable {variable!r} cannot also be a covariate.")
    continuous = _is_continuous(study.samples[variable], categorical, variable)
    if continuous and reference is not None:
        raise InputError(f"`reference` is for groups; {variable!r} is tested as a continuous "
                         "variable (pass categorical=True to test it as groups).")
    subjects, subject_name = subject_ids(subject, study.samples,
                                         reserved=(variable, *covariates))
    if rank is not None:
        study = collapse(study, rank)
        rank = study.provenance[-1]["rank"]

    # 1. the samples and taxa
    prepared = prepare(study, [variable, *covariates], min_prevalence=min_prevalence,
                       what="LinDA", subjects=subjects, group_word=f"a value of {variable!r}")
    data, tested, dropped = prepared.data, prepared.tested, prepared.dropped
    md = tested.samples
    assert md is not None
    n = tested.n_samples

    # 2. the variable's columns
    levels: tuple[str, ...] = ()
    sizes: dict[str, int] = {}
    if continuous:
        tested_columns = [md[variable].to_numpy(dtype=np.float64)]
        tested_names = [variable]
        ref = None
    else:
        groups = group_labels(md[variable])
        found = sorted(pd.unique(groups))
        if len(found) < 2:
            raise InputError(
                f"{variable!r} has {len(found)} group among the samples analysed "
                f"({', '.join(map(repr, found)) or 'none'}); there is nothing to compare."
            )
        ref = found[0] if reference is None else str(reference)
        if ref not in found:
            raise InputError(
                f"the reference group {ref!r} is not one of the groups in {variable!r}: "
                f"{', '.join(map(repr, found))}."
            )
        levels = (ref, *(g for g in found if g != ref))
        sizes = {g: int((groups == g).sum()) for g in levels}
        small = {g: k for g, k in sizes.items() if k < 2}
        if small:
            raise InputError("each group needs at least 2 samples with reads; "
                             + ", ".join(f"{g!r} has {k}" for g, k in small.items()) + ".")
        tested_columns = [(groups.to_numpy() == g).astype(np.float64) for g in levels[1:]]
        tested_names = [f"{variable}[{g}]" for g in levels[1:]]
    extra, extra_names = covariate_columns(md, covariates)
    design = np.column_stack([np.ones(n), *tested_columns, *extra])
    names = ["intercept", *tested_names, *extra_names]
    tested_what = (f"{variable!r} is constant" if continuous else
                   f"the indicator {tested_names[0]!r} is constant" if len(tested_names) == 1
                   else f"a group indicator of {variable!r} is constant")
    check_design(design, names, tested=tested_names, tested_what=tested_what,
                 tested_word=repr(variable))

    # 3. samples in subjects: subject means, or within subject
    codes = None
    if subjects is not None:
        codes = pd.factorize(subjects.loc[tested.sample_ids], sort=True)[0]
    subjects_model = subject_model(codes, design[:, 1:1 + len(tested_names)])
    if subjects_model.model == "subject means" and not continuous:
        assert codes is not None
        per_level = {g: int(pd.Series(codes[(groups == g).to_numpy()]).nunique())
                     for g in levels}
        few = {g: k for g, k in per_level.items() if k < 2}
        if few:
            raise InputError(
                "each group needs at least 2 subjects (the model is fitted on one mean per "
                "subject); " + ", ".join(f"{g!r} has {k}" for g, k in few.items()) + "."
            )
    model_matrix, model_names, absorbed, df = model_design(
        design, names, subjects_model, tested=tested_names, tested_what=tested_what,
        tested_word=repr(variable))
    notes = _subject_notes(subjects_model, variable, covariates, md, codes, absorbed)
    positions = [model_names.index(t) for t in tested_names]

    # 4. zeros, CLR, one fit for every taxon
    values = tested.counts.toarray().astype(np.float64, copy=False)
    depth_p = None
    if tested.kind == "counts" and zero_handling == "auto":
        log_depth = subjects_model.rows(np.log(values.sum(axis=1))[:, None])[:, 0]
        depth_p = depth_association(log_depth, model_matrix, model_names, df)
    clr, used = clr_log2(values, kind=tested.kind, zero_handling=zero_handling,
                         depth_p=depth_p)
    if used == "imputation" and zero_handling == "auto":
        notes.append(f"Sequencing depth is associated with the model (p = {depth_p:.2g} ≤ "
                     f"{DEPTH_P:g}): zeros were imputed in proportion to each sample's depth "
                     "instead of adding a pseudo-count.")
    fit = least_squares(model_matrix, subjects_model.rows(clr), df=df)

    # 5. the contrasts, the table
    mean_abundance, prevalence = mean_abundance_and_prevalence(data, tested)
    common = {"taxon": [str(f) for f in tested.feature_ids],
              "label": display_labels(tested, rank),
              "mean_abundance": mean_abundance, "prevalence": prevalence}
    table, bias = _table(fit, contrasts(variable, levels, positions, len(model_names)),
                         len(levels), positions, common,
                         bias_uncertainty=bias_uncertainty, seed=seed)
    return LinDAResult(
        method=METHOD,
        citation=CITATION,
        rank=rank,
        variable=str(variable),
        variable_type="continuous" if continuous else "categorical",
        levels=levels,
        reference_group=ref,
        contrasts=tuple(dict.fromkeys(table["contrast"])),
        covariates=covariates,
        subject=subject_name,
        model=subjects_model.model,
        zero_handling=used,
        bias_uncertainty=bias_uncertainty,
        seed=int(seed),
        df=int(df),
        bias=bias,
        table=table,
        group_sizes=sizes,
        n_samples=n,
        n_subjects=None if subjects_model.model == "samples" else subjects_model.n_subjects,
        absorbed=tuple(absorbed),
        dropped_samples=tuple(dropped),
        n_filtered=int(data.n_features - tested.n_features),
        notes=tuple(notes),
    )


def _table(fit: LeastSquares, tested: list[Contrast], n_levels: int, positions: list[int],
           common: dict[str, Any], *, bias_uncertainty: bool, seed: int
           ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Return the table (omnibus first with three groups or more) and the biases."""
    vectors = np.vstack([c.vector for c in tested])
    bias_cov = (bias_covariance(fit, vectors, draws=_BIAS_DRAWS, rng=np.random.default_rng(seed))
                if bias_uncertainty else np.zeros((len(tested), len(tested))))
    blocks: list[pd.DataFrame] = []
    bias: dict[str, float] = {}
    for i, contrast in enumerate(tested):
        bias[contrast.name], stats = contrast_tests(fit, contrast, float(bias_cov[i, i]))
        higher = np.full(len(stats["effect"]), None, dtype=object)
        if contrast.higher is not None:
            higher[stats["effect"] > 0] = contrast.higher
            higher[stats["effect"] < 0] = contrast.lower
        blocks.append(pd.DataFrame({**common, "contrast": contrast.name, **stats,
                                    "q": bh_adjust(stats["p"]), "higher_in": higher}))
    if n_levels >= 3:
        r = n_levels - 1
        f_test = omnibus(fit, positions, [bias[c.name] for c in tested[:r]], bias_cov[:r, :r])
        nan = np.full(fit.coef.shape[1], np.nan)
        blocks.insert(0, pd.DataFrame({
            **common, "contrast": OMNIBUS, "effect": nan, "se": nan, "ci_low": nan,
            "ci_high": nan, **f_test, "q": bh_adjust(f_test["p"]),
            "higher_in": np.full(len(nan), None, dtype=object)}))
    return pd.concat([_sorted(b) for b in blocks], ignore_index=True)[list(_COLUMNS)], bias


def _subject_notes(subjects_model: SubjectModel, variable: str, covariates: Sequence[str],
                   md: pd.DataFrame, codes: np.ndarray | None, absorbed: Sequence[str]
                   ) -> list[str]:
    """Return the notes that say how the subjects were handled."""
    notes: list[str] = []
    n = len(md)
    if subjects_model.model == "subject means":
        notes.append(f"{variable!r} is the same in all the samples of each subject: the model "
                     f"is fitted on one mean CLR per subject ({subjects_model.n_subjects} "
                     f"subjects, {n} samples).")
        changing = [c for c in covariates if _varies_within(md[c], codes)]
        if changing:
            notes.append("Covariates that change within subjects enter as their subject means: "
                         + ", ".join(changing) + ".")
    elif subjects_model.model == "within subject":
        notes.append(f"{variable!r} changes within subjects: each sample is compared with its "
                     f"own subject's mean (a fixed effect per subject; "
                     f"{subjects_model.n_subjects} subjects, {n} samples).")
        if absorbed:
            notes.append("Constant within every subject, so absorbed by the subject means "
                         "(adjusted for, not estimated): " + ", ".join(absorbed) + ".")
    return notes


def _sorted(block: pd.DataFrame) -> pd.DataFrame:
    """By ``q``, then by decreasing ``|effect|`` (NaN last)."""
    effect = np.nan_to_num(np.abs(block["effect"].to_numpy(dtype=np.float64)), nan=0.0)
    order = np.lexsort((-effect, block["q"].to_numpy(dtype=np.float64)))
    return block.iloc[order]


def _varies_within(column: pd.Series, codes: np.ndarray | None) -> bool:
    if codes is None:
        return False
    return bool((pd.Series(column.to_numpy()).groupby(codes).nunique(dropna=False) > 1).any())
