"""Shared pieces of the compositional linear models (:mod:`.differential`, :mod:`.linda`).

* the design matrix's covariate columns from sample metadata, and its
  full-rank check with a message that names the column at fault;
* one least-squares fit for many responses (all taxa) on one design;
* repeated samples per subject: the model's rows are either the samples, one
  mean per subject, or the samples centred within their subject;
* the mode of a set of coefficients (LinDA's compositional bias).

These are hand-written because the libraries do not offer them in this
shape: ``statsmodels`` OLS fits one response at a time (the tests check these
fits against it), and neither SciPy nor statsmodels has a one-dimensional
mean-shift mode estimator.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import linalg

from gutaxis.composition import filter_prevalence, lineages, taxon_label
from gutaxis.exceptions import InputError
from gutaxis.study import RANKS, Study

__all__ = ["Model", "covariate_columns", "check_design", "LeastSquares", "least_squares",
           "SubjectModel", "subject_model", "meanshift_mode", "meanshift_modes", "subject_ids",
           "Prepared", "prepare", "display_labels", "mean_abundance_and_prevalence",
           "model_design"]

logger = logging.getLogger(__name__)

#: How the model's rows are made from the samples.
Model = Literal["samples", "subject means", "within subject"]


def covariate_columns(samples: pd.DataFrame, covariates: Sequence[str]
                      ) -> tuple[list[np.ndarray], list[str]]:
    """Return the design columns of ``covariates`` and their names.

    Numeric (and boolean) covariates enter as they are; others are
    categorical, one indicator per level but the first level (the first
    category of a categorical column, otherwise the first in sorted order).
    """
    columns: list[np.ndarray] = []
    names: list[str] = []
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
    return columns, names


def _first_dependent(design: np.ndarray) -> int | None:
    """Index of the first column that is a combination of those before it (None: full rank)."""
    width = int(design.shape[1])
    if int(np.linalg.matrix_rank(design)) == width:
        return None
    for k in range(1, width + 1):
        if int(np.linalg.matrix_rank(design[:, :k])) < k:
            return k - 1
    return width - 1  # pragma: no cover - some prefix is rank-deficient


def check_design(design: np.ndarray, names: Sequence[str], *, tested: Sequence[str],
                 tested_what: str, tested_word: str, rows: str = "samples",
                 check_rows: bool = True) -> None:
    """Raise :class:`InputError` unless ``design`` can be fitted.

    There must be more rows than columns (unless ``check_rows`` is false),
    and the columns must be linearly independent; the message names the
    first column that adds nothing (``tested_what`` when it is one of the
    ``tested`` columns: "the group indicator is constant").  ``tested_word``
    names the tested variable in the message about a covariate ("the
    group"); ``rows`` says what the rows are ("samples", "subjects").
    """
    n, k = design.shape
    if check_rows and n <= k:
        raise InputError(
            f"{n} {rows} cannot fit a model with {k} coefficients ({', '.join(names)}); at "
            f"least {k + 1} are needed. Use fewer covariates (or fewer levels)."
        )
    culprit_at = _first_dependent(design)
    if culprit_at is None:
        return
    culprit = names[culprit_at]
    what = (tested_what if culprit in tested else
            f"the design column {culprit!r} is constant or a combination of {tested_word} "
            "and the covariates before it")
    raise InputError(
        f"cannot fit the linear model: {what} among the {n} {rows} analysed. Remove that "
        "covariate (or a covariate that repeats the grouping)."
    )


# ---------------------------------------------------------------- least squares
@dataclasses.dataclass(frozen=True)
class LeastSquares:
    """OLS of many responses on one design.

    Attributes
    ----------
    coef : numpy.ndarray
        Coefficients × responses.
    sigma2 : numpy.ndarray
        Residual variance per response, ``RSS / df``.
    xtx_inv : numpy.ndarray
        ``(XᵀX)⁻¹``: the covariance of a response's coefficients is
        ``sigma2 · xtx_inv``.
    df : int
        Residual degrees of freedom.
    resid : numpy.ndarray
        Residuals, rows × responses.
    """

    coef: np.ndarray
    sigma2: np.ndarray
    xtx_inv: np.ndarray
    df: int
    resid: np.ndarray


def least_squares(design: np.ndarray, y: np.ndarray, *, df: int | None = None) -> LeastSquares:
    """Fit ``y`` (rows × responses) on ``design`` (rows × k, full column rank) by one QR.

    ``df`` replaces the residual degrees of freedom ``rows − k`` (the
    within-subject model, whose subject means were removed beforehand, has
    ``samples − subjects − k``).
    """
    design = np.asarray(design, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, k = design.shape
    q, r = np.linalg.qr(design)
    qty = q.T @ y
    coef = linalg.solve_triangular(r, qty)
    resid = y - q @ qty
    df = n - k if df is None else df
    rss = np.einsum("ij,ij->j", resid, resid)
    r_inv = linalg.solve_triangular(r, np.eye(k))
    return LeastSquares(coef=coef, sigma2=rss / df, xtx_inv=r_inv @ r_inv.T, df=df,
                        resid=resid)


# --------------------------------------------------------------------- subjects
def subject_ids(subject: object, samples: pd.DataFrame, *, reserved: Sequence[str] = ()
                ) -> tuple[pd.Series | None, str | None]:
    """Return each sample's subject (str, NaN when missing) and the name to report.

    ``subject`` is ``None``, a metadata column name, or a Series indexed by
    sample id (samples it does not list have no subject).
    """
    if subject is None:
        return None, None
    if isinstance(subject, str):
        if subject not in samples.columns:
            raise InputError(
                f"the subject column {subject!r} is not in the sample metadata; its columns "
                f"are: {', '.join(repr(str(c)) for c in samples.columns)}."
            )
        if subject in reserved:
            raise InputError(f"the subject column {subject!r} cannot also be the tested "
                             "variable or a covariate.")
        values, name = samples[subject], subject
    elif isinstance(subject, pd.Series):
        values = subject.copy()
        values.index = pd.Index([str(i) for i in values.index], dtype=object)
        if values.index.has_duplicates:
            dupes = values.index[values.index.duplicated()].unique().tolist()
            raise InputError("the subject Series has duplicated sample ids: "
                             + ", ".join(map(repr, dupes[:10])))
        values = values.reindex(pd.Index([str(i) for i in samples.index], dtype=object))
        values.index = samples.index
        name = str(subject.name) if subject.name is not None else "subject"
    else:
        raise InputError(
            "subject must be a metadata column name or a pandas Series of subject ids "
            f"indexed by sample id; got {type(subject).__name__}."
        )
    return values.where(values.isna(), values.astype(str)), name


@dataclasses.dataclass(frozen=True)
class SubjectModel:
    """How the model's rows are made from the samples.

    Attributes
    ----------
    model : {"samples", "subject means", "within subject"}
        ``"samples"``: one row per sample (no subjects given).
        ``"subject means"``: one row per subject, the mean over its samples
        (of the responses and of the design's columns).
        ``"within subject"``: one row per sample, each centred on its
        subject's mean, without an intercept (a fixed effect per subject).
    codes : numpy.ndarray or None
        Subject code (0 … n_subjects − 1) of each sample.
    n_subjects : int
        Subjects (0 when no subjects were given).
    """

    model: Model
    codes: np.ndarray | None = None
    n_subjects: int = 0

    def _means(self, values: np.ndarray) -> np.ndarray:
        assert self.codes is not None
        n = len(self.codes)
        sizes = np.bincount(self.codes, minlength=self.n_subjects).astype(np.float64)
        average = sp.csr_matrix((1.0 / sizes[self.codes], (self.codes, np.arange(n))),
                                shape=(self.n_subjects, n))
        return np.asarray(average @ values)

    def rows(self, values: np.ndarray) -> np.ndarray:
        """Return the model's rows of ``values`` (samples × columns)."""
        if self.model == "samples":
            return values
        means = self._means(values)
        if self.model == "subject means":
            return means
        assert self.codes is not None
        centred: np.ndarray = values - means[self.codes]
        return centred


    def design(self, design: np.ndarray, names: Sequence[str]
               ) -> tuple[np.ndarray, list[str], list[str], int]:
        """Return the model's design, its column names, the absorbed columns and the df.

        In the within-subject model the intercept and every column constant
        within each subject are absorbed by the subjects' own means (they are
        adjusted for, and cannot be estimated); the residual degrees of freedom
        are ``samples − subjects − columns``.
        """
        rows = self.rows(np.asarray(design, dtype=np.float64))
        if self.model != "within subject":
            return rows, list(names), [], rows.shape[0] - rows.shape[1]
        scale = np.maximum(1.0, np.abs(design).max(axis=0))
        keep = (np.abs(rows) > 1e-9 * scale).any(axis=0)
        kept = [str(n) for n, k in zip(names, keep, strict=True) if k]
        absorbed = [str(n) for n, k in zip(names, keep, strict=True) if not k and n != "intercept"]
        return rows[:, keep], kept, absorbed, rows.shape[0] - self.n_subjects - int(keep.sum())


def subject_model(codes: np.ndarray | None, tested: np.ndarray) -> SubjectModel:
    """Choose the model for samples in subjects (``codes``) from the tested columns.

    Subject means when every tested column is constant within every subject;
    otherwise the within-subject model.
    """
    if codes is None:
        return SubjectModel("samples")
    n_subjects = int(codes.max()) + 1 if len(codes) else 0
    probe = SubjectModel("within subject", codes, n_subjects)
    spread = np.abs(probe.rows(np.asarray(tested, dtype=np.float64)))
    scale = max(1.0, float(np.abs(tested).max(initial=0.0)))
    varies = bool((spread > 1e-9 * scale).any())
    return SubjectModel("within subject" if varies else "subject means", codes, n_subjects)


# ------------------------------------------------------------------------- mode
def meanshift_mode(values: np.ndarray) -> float:
    """Mode of ``values`` by mean shift with a Gaussian kernel (see :func:`meanshift_modes`).

    NaN values are ignored; no finite value gives NaN.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    return float(meanshift_modes(x[None, :])[0]) if len(x) else float("nan")


def meanshift_modes(values: np.ndarray, *, max_iter: int = 1000) -> np.ndarray:
    """Mode of each row of ``values`` (finite) by mean shift with a Gaussian kernel.

    The bandwidth is Silverman's rule of thumb (R's ``bw.nrd0``: ``0.9 ·
    min(sd, IQR / 1.34) · n^(−1/5)``); the iteration starts at the midpoint of
    the shortest interval holding half the values, and moves to the
    kernel-weighted mean of the values until it changes by less than
    ``√eps`` of the bandwidth.  This is how LinDA's R code estimates the bias
    (``modeest::mlv(method = "meanshift", kernel = "gaussian")``, whose
    defaults these are).  Every step is equivariant (shifting or scaling the
    values shifts or scales the mode), so the mode does not depend on the
    units of a covariate.  All rows are iterated at once.
    """
    x = np.sort(np.asarray(values, dtype=np.float64), axis=1)
    rows, n = x.shape
    if n == 1:
        return x[:, 0].copy()
    sd = np.std(x, axis=1, ddof=1)
    q75, q25 = np.percentile(x, [75, 25], axis=1)
    spread = np.minimum(sd, (q75 - q25) / 1.34)
    spread = np.where(spread > 0, spread, np.where(sd > 0, sd, np.abs(x[:, 0])))
    spread = np.where(spread > 0, spread, 1.0)
    bandwidth = 0.9 * spread * n ** -0.2
    half = (n + 1) // 2
    widths = x[:, half - 1:] - x[:, :n - half + 1]
    start = np.argmin(widths, axis=1)
    at = np.arange(rows)
    mode = 0.5 * (x[at, start] + x[at, start + half - 1])
    tolerance = np.sqrt(np.finfo(np.float64).eps) * bandwidth
    active = np.ones(rows, dtype=bool)
    for _ in range(max_iter):
        sub = x[active]
        kernel = np.exp(-0.5 * ((sub - mode[active, None]) / bandwidth[active, None]) ** 2)
        new = np.einsum("ij,ij->i", kernel, sub) / kernel.sum(axis=1)
        done = np.abs(new - mode[active]) < tolerance[active]
        mode[active] = new
        active[np.flatnonzero(active)[done]] = False
        if not active.any():
            break
    result: np.ndarray = mode
    return result


# --------------------------------------------------------------- the samples
@dataclasses.dataclass(frozen=True)
class Prepared:
    """The samples and taxa a model is fitted on.

    Attributes
    ----------
    data : Study
        The analysed samples, every taxon.
    tested : Study
        The analysed samples, the taxa that pass the prevalence filter.
    dropped : list of str
        Samples left out, in the order they were found.
    """

    data: Study
    tested: Study
    dropped: list[str]


def prepare(study: Study, needed: Sequence[str], *, min_prevalence: float, what: str,
            subjects: pd.Series | None = None, group_word: str = "a group") -> Prepared:
    """Leave out samples missing a ``needed`` value (or a subject), or without reads.

    Then keep the taxa present in at least ``min_prevalence`` of the samples
    and leave out the samples with nothing in those taxa.  ``what`` names the
    analysis in the log and the messages.
    """
    md = study.samples
    assert md is not None  # the callers check it
    complete = md[list(needed)].notna().all(axis=1).to_numpy()
    if subjects is not None:
        complete &= subjects.notna().to_numpy()
    dropped = [str(s) for s in study.sample_ids[~complete]]
    if dropped:
        logger.info("%s: %d sample(s) without %s left out: %s", what, len(dropped),
                    " / ".join([*needed, *(["subject"] if subjects is not None else [])]),
                    ", ".join(dropped[:10]))
    data = study if complete.all() else study.subset_samples(
        study.sample_ids[complete].tolist(), step="complete_metadata")
    empty = data.sample_totals() <= 0
    if empty.any():
        gone = [str(s) for s in data.sample_ids[empty]]
        logger.info("%s: %d sample(s) without reads left out: %s", what, len(gone),
                    ", ".join(gone[:10]))
        dropped += gone
        data = data.subset_samples(data.sample_ids[~empty].tolist(), step="drop_empty_samples")
    if data.n_samples == 0:
        raise InputError(f"no sample of {study.source} with {group_word} has any reads.")
    tested = filter_prevalence(data, min_prevalence=min_prevalence).drop_empty_features()
    empty = tested.sample_totals() <= 0
    if empty.any():
        gone = [str(s) for s in tested.sample_ids[empty]]
        logger.info("%s: %d sample(s) have no reads in the tested taxa and are left out: %s",
                    what, len(gone), ", ".join(gone[:10]))
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
    return Prepared(data, tested, dropped)


def display_labels(study: Study, rank: str | None) -> list[str]:
    """Display names: the lineage's :func:`taxon_label` down to ``rank`` (or species)."""
    if study.taxonomy is None:
        return [str(f) for f in study.feature_ids]
    full = lineages(study.taxonomy, rank or RANKS[-1])
    out = []
    for fid, text in zip(study.feature_ids, full, strict=True):
        label = taxon_label(text)
        out.append(str(fid) if label == "Unassigned" else label)
    return out


def mean_abundance_and_prevalence(data: Study, tested: Study) -> tuple[np.ndarray, np.ndarray]:
    """Per tested taxon: mean relative abundance (of all taxa) and fraction of samples present."""
    positions = data.feature_ids.get_indexer(tested.feature_ids)
    relative = data.counts.multiply(1.0 / data.sample_totals()[:, None]).tocsc()
    mean_abundance = np.asarray(relative.mean(axis=0)).ravel()[positions]
    return mean_abundance, tested.counts.getnnz(axis=0) / tested.n_samples


def model_design(design: np.ndarray, names: Sequence[str], model: SubjectModel, *,
                 tested: Sequence[str], tested_what: str, tested_word: str
                 ) -> tuple[np.ndarray, list[str], list[str], int]:
    """:meth:`SubjectModel.design`, checked: the model's design can be fitted.

    Returns the model's design, its column names, the covariate columns
    absorbed by the subjects (within-subject model) and the residual degrees
    of freedom.
    """
    rows, kept, absorbed, df = model.design(design, names)
    if model.model == "within subject":
        lost = [t for t in tested if t not in kept]
        if lost:
            raise InputError(
                f"the design column {lost[0]!r} is constant within every subject, so the "
                f"within-subject model (used because {tested_word} changes within some "
                "subjects) cannot estimate it. Analyse only the subjects whose value changes, "
                "or give one sample per subject."
            )
        if df < 1:
            raise InputError(
                f"the within-subject model has no residual degrees of freedom: "
                f"{rows.shape[0]} samples of {model.n_subjects} subjects cannot fit "
                f"{rows.shape[1]} coefficient(s) besides each subject's mean. More samples per "
                "subject are needed."
            )
        check_design(rows, kept, tested=tested, tested_what=tested_what,
                     tested_word=tested_word, check_rows=False)
    else:
        check_design(rows, kept, tested=tested, tested_what=tested_what,
                     tested_word=tested_word,
                     rows="subjects" if model.model == "subject means" else "samples")
    return rows, kept, absorbed, df
