"""Random-forest classifiers with honest repeated cross-validation.

:func:`cross_validate_forest` answers "how well do these features tell the
groups apart?" for one feature set (microbiome, markers, or both): a random
forest is fitted and scored on every fold of a repeated stratified k-fold
split, with the missing values imputed inside each training fold, so that no
held-out sample influences the model that predicts it.  It returns a
:class:`ClassifierResult` (accuracy, ROC AUC, the mean ROC curve and the
permutation importance of the features).

:func:`fit_final_model` fits the same pipeline on every sample, for predicting
new ones; :meth:`FittedClassifier.save` and :func:`load_classifier` store and
reload it with a SHA-256 check.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from scipy.stats import rankdata
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline

from gutaxis._version import __version__
from gutaxis.exceptions import (
    FormatError,
    InputError,
    NotFoundError,
    SampleMismatchError,
    UnsafeInputError,
    ValidationError,
)

__all__ = ["ClassifierResult", "FittedClassifier", "cross_validate_forest", "fit_final_model",
           "load_classifier"]

log = logging.getLogger(__name__)

#: Points of the common false-positive-rate grid the fold ROC curves are put on.
_ROC_POINTS = 101
#: Random permutations of each feature per held-out fold.
_PERMUTATION_REPEATS = 5
#: Largest stacked permutation matrix (values) sent to ``predict_proba`` at once
#: (32 MB of float64); more features are done in several calls.
_STACK_VALUES = 4_000_000
_SIDECAR_FORMAT = "gutaxis-classifier"
_SIDECAR_VERSION = 1

ProgressCallback = Callable[[int, int], None]


# --------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True, eq=False)
class ClassifierResult:
    """Cross-validated performance of a random forest on one feature set.

    Attributes
    ----------
    feature_set : str
        Name of the feature set (``"microbiome"``, ``"markers"``, ``"combined"``...).
    classes : list of str
        The class labels, sorted.
    positive_class : str
        The class whose probability is the ROC score (``classes[-1]`` unless given).
    n_samples, n_features : int
        Samples (with a label) and features used.
    accuracy_mean, accuracy_sd : float
        Mean and standard deviation (``ddof=1``) of the accuracy over all folds
        of all repeats.
    auc_mean, auc_sd : float
        The same for the ROC AUC (two classes) or the macro-averaged
        one-vs-rest ROC AUC (more than two).
    cv : dict
        How the numbers were made: ``method``, ``n_splits``, ``n_repeats``,
        ``seed``, ``n_estimators``, ``imputation``, ``importance``,
        ``importance_repeats`` and ``unlabelled_dropped`` (samples left out
        for want of a label).
    fold_scores : pandas.DataFrame
        One row per fold: ``repeat``, ``fold`` (both from 0), ``accuracy``, ``auc``.
    roc : pandas.DataFrame or None
        Two classes only: ``fpr`` (101 points from 0 to 1), ``tpr_mean`` and
        ``tpr_sd`` over the folds' ROC curves.
    importances : pandas.DataFrame
        ``feature``, ``importance_mean``, ``importance_sd``: permutation
        importance, largest first, the top ``n_importances`` features.
    """

    feature_set: str
    classes: list[str]
    positive_class: str
    n_samples: int
    n_features: int
    accuracy_mean: float
    accuracy_sd: float
    auc_mean: float
    auc_sd: float
    cv: dict[str, Any]
    fold_scores: pd.DataFrame
    roc: pd.DataFrame | None
    importances: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values (NaN becomes ``None``).

        The fold scores and the ROC curve are left out; the importances are a
        list of ``{"feature", "importance_mean", "importance_sd"}`` dicts.
        """
        out = {
            "feature_set": self.feature_set,
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "accuracy_mean": self.accuracy_mean,
            "accuracy_sd": self.accuracy_sd,
            "auc_mean": self.auc_mean,
            "auc_sd": self.auc_sd,
            "cv": dict(self.cv),
            "importances": self.importances.to_dict(orient="records"),
        }
        return _json_ready(out)


def _json_ready(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# ------------------------------------------------------------------ validation
@dataclasses.dataclass(frozen=True)
class _Data:
    x: np.ndarray  # samples × features, float64, NaN = missing
    codes: np.ndarray  # class index of every sample
    features: list[str]
    classes: list[str]
    positive: int
    dropped: list[str]


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_threads(threads: Any) -> int:
    return 1 if threads is None else _check_int("threads", threads, 1)


def _shown(names: Iterable[Any], limit: int = 10) -> str:
    names = [str(n) for n in names]
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(map(repr, names[:limit])) + more


def _prepare(features: Any, labels: Any, positive_class: Any) -> _Data:
    """Align, check and convert the inputs (the one boundary check)."""
    if not isinstance(features, pd.DataFrame):
        raise InputError("features must be a pandas DataFrame (samples × features); "
                         f"got {type(features).__name__}")
    if not isinstance(labels, pd.Series):
        raise InputError(f"labels must be a pandas Series indexed by sample id; "
                         f"got {type(labels).__name__}")
    for what, index in (("features", features.index), ("labels", labels.index)):
        if index.has_duplicates:
            raise ValidationError(f"{what} has duplicate sample ids: "
                                  f"{_shown(index[index.duplicated()].unique())}")
    names = [str(c) for c in features.columns]
    if not names:
        raise ValidationError("features has no columns; expected at least one feature")
    if len(set(names)) != len(names):
        dup = pd.Index(names)
        raise ValidationError(f"features has duplicate column names: "
                              f"{_shown(dup[dup.duplicated()].unique())}")
    non_numeric = [n for n, dt in zip(names, features.dtypes, strict=True)
                   if not pd.api.types.is_numeric_dtype(dt)]
    if non_numeric:
        raise ValidationError(f"features must be numeric; non-numeric column(s): "
                              f"{_shown(non_numeric)}")

    aligned = labels.reindex(features.index)
    unlabelled = aligned.isna().to_numpy()
    dropped = [str(s) for s in features.index[unlabelled]]
    if unlabelled.all():
        raise SampleMismatchError(
            f"none of the {len(features)} samples in features has a label; the labels "
            f"({len(labels)} ids, {int(labels.notna().sum())} not missing) share no "
            "labelled ids with the features")
    if dropped:
        log.warning("%d sample(s) without a label left out of the classifier: %s",
                    len(dropped), _shown(dropped))
    x = features.loc[~unlabelled].to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = [n for n, bad in zip(names, np.isinf(x).any(axis=0), strict=True) if bad]
    if infinite:
        raise ValidationError(f"features must be finite or NaN (missing); infinite values "
                              f"in: {_shown(infinite)}")
    empty = [n for n, bad in zip(names, np.isnan(x).all(axis=0), strict=True) if bad]
    if empty:
        raise ValidationError(
            f"{len(empty)} feature(s) have no value in any labelled sample, so they cannot "
            f"be imputed or used: {_shown(empty)}; drop these columns (for example, "
            "markers not measured in this cohort)")

    y = aligned[~unlabelled].astype(str).to_numpy()
    classes = sorted(set(y))
    if len(classes) < 2:
        raise ValidationError(f"a classifier needs at least two classes; all {len(y)} "
                              f"labelled samples are {classes[0]!r}")
    codes = np.searchsorted(np.asarray(classes), y)
    if positive_class is None:
        positive = len(classes) - 1
    elif str(positive_class) in classes:
        positive = classes.index(str(positive_class))
    else:
        raise ValidationError(f"positive_class must be one of the classes "
                              f"({_shown(classes)}); got {positive_class!r}")
    return _Data(x=x, codes=codes, features=names, classes=classes, positive=positive,
                 dropped=dropped)


# --------------------------------------------------------------------- kernels
def _make_pipeline(n_estimators: int, random_state: int, n_jobs: int | None = None) -> Pipeline:
    return Pipeline([
        # keep_empty_features: a column with no value in a training fold stays
        # (as a constant, so the trees never split on it) and the columns keep
        # their positions for the permutation importance.
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("forest", RandomForestClassifier(n_estimators=n_estimators,
                                          random_state=random_state, n_jobs=n_jobs)),
    ])


def _fold_seed(seed: int, repeat: int, fold: int, purpose: int) -> int:
    """The seed of one fold's forest (``purpose=0``) or permutations (``1``)."""
    sequence = np.random.SeedSequence(seed, spawn_key=(repeat, fold, purpose))
    return int(sequence.generate_state(1)[0])


def _binary_auc(is_positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of every row of ``scores`` (``..., n``) via the Mann–Whitney U.

    Ties count one half, as in the trapezoidal area under the ROC curve.
    """
    n_pos = int(is_positive.sum())
    n_neg = is_positive.size - n_pos
    ranks = rankdata(scores, axis=-1)
    u = ranks[..., is_positive].sum(axis=-1) - n_pos * (n_pos + 1) / 2
    return np.asarray(u / (n_pos * n_neg))


def _auc_batch(codes: np.ndarray, proba: np.ndarray, positive: int) -> np.ndarray:
    """ROC AUC of class probabilities ``proba`` (``..., n, k``) against ``codes``.

    Two classes: the AUC of the positive class's probability.  More: the
    unweighted mean of the one-vs-rest AUCs (as ``roc_auc_score(...,
    multi_class="ovr", average="macro")``).
    """
    k = proba.shape[-1]
    if k == 2:
        return _binary_auc(codes == positive, proba[..., positive])
    return np.mean([_binary_auc(codes == c, proba[..., c]) for c in range(k)], axis=0)


def _draw_permutations(rng: np.random.Generator, n_features: int, n_repeats: int,
                       n: int) -> np.ndarray:
    """``perms[j, r]``: the order of the ``n`` held-out rows for feature ``j``, repeat ``r``."""
    return rng.permuted(np.broadcast_to(np.arange(n), (n_features, n_repeats, n)), axis=-1)


def _permutation_decreases(model: Pipeline, x: np.ndarray, codes: np.ndarray,
                           perms: np.ndarray, positive: int) -> np.ndarray:
    """Decrease of the ROC AUC when each column of ``x`` is permuted.

    ``perms`` is ``n_features × n_repeats × n`` (from :func:`_draw_permutations`);
    returns ``n_features × n_repeats``.  All permuted copies of ``x`` (one per
    feature and repeat) are stacked into one matrix and scored with one
    ``predict_proba`` call (a few when the stack would pass ``_STACK_VALUES``),
    instead of one call per feature and repeat.
    """
    n_features, n_repeats, n = perms.shape
    baseline = _auc_batch(codes, model.predict_proba(x), positive)
    out = np.empty((n_features, n_repeats))
    step = max(1, _STACK_VALUES // (n_repeats * n * x.shape[1]))
    for start in range(0, n_features, step):
        cols = np.arange(start, min(start + step, n_features))
        stack = np.broadcast_to(x, (len(cols), n_repeats, n, x.shape[1])).copy()
        c = cols[:, None, None]
        stack[np.arange(len(cols))[:, None, None], np.arange(n_repeats)[None, :, None],
              np.arange(n)[None, None, :], c] = x[perms[cols], c]
        proba = model.predict_proba(stack.reshape(-1, x.shape[1]))
        out[cols] = baseline - _auc_batch(codes, proba.reshape(len(cols), n_repeats, n, -1),
                                          positive)
    return out


def _interpolated_tpr(is_positive: np.ndarray, scores: np.ndarray,
                      grid: np.ndarray) -> np.ndarray:
    """A fold's ROC curve as true-positive rates on ``grid`` (false-positive rates).

    Linear between the curve's points; at a false-positive rate where the curve
    steps up vertically, the top of the step.  The value at ``fpr = 0`` is set
    to 0 so that every curve starts at the origin.
    """
    fpr, tpr, _ = roc_curve(is_positive, scores)
    # The last point at or left of each grid value (the top of a vertical step)
    # and the point after it (the bottom of the next step).
    left = np.searchsorted(fpr, grid, side="right") - 1
    right = np.minimum(left + 1, len(fpr) - 1)
    width = fpr[right] - fpr[left]
    on_point = (fpr[left] == grid) | (width == 0)
    weight = np.where(on_point, 0.0, (grid - fpr[left]) / np.where(on_point, 1.0, width))
    out = tpr[left] + weight * (tpr[right] - tpr[left])
    out[0] = 0.0
    return np.asarray(out)


@dataclasses.dataclass(frozen=True)
class _FoldOutcome:
    accuracy: float
    auc: float
    tpr: np.ndarray | None
    decreases: np.ndarray | None


def _run_fold(x: np.ndarray, codes: np.ndarray, train: np.ndarray, test: np.ndarray, *,
              forest_seed: int, n_estimators: int, positive: int,
              permutation_seed: int | None) -> _FoldOutcome:
    """Fit on ``train``, score on ``test`` (runs in a worker process)."""
    model = _make_pipeline(n_estimators, forest_seed)
    model.fit(x[train], codes[train])
    x_test, y_test = x[test], codes[test]
    proba = model.predict_proba(x_test)
    accuracy = float(np.mean(np.argmax(proba, axis=1) == y_test))
    tpr = None
    if proba.shape[1] == 2:
        auc = float(roc_auc_score(y_test == positive, proba[:, positive]))
        grid = np.linspace(0.0, 1.0, _ROC_POINTS)
        tpr = _interpolated_tpr(y_test == positive, proba[:, positive], grid)
    else:
        auc = float(roc_auc_score(y_test, proba, multi_class="ovr", average="macro",
                                  labels=np.arange(proba.shape[1])))
    decreases = None
    if permutation_seed is not None:
        rng = np.random.default_rng(permutation_seed)
        perms = _draw_permutations(rng, x.shape[1], _PERMUTATION_REPEATS, len(test))
        decreases = _permutation_decreases(model, x_test, y_test, perms, positive)
    return _FoldOutcome(accuracy=accuracy, auc=auc, tpr=tpr, decreases=decreases)


# ------------------------------------------------------------------------- API
def cross_validate_forest(features: pd.DataFrame, labels: pd.Series, *, feature_set: str,
                          n_splits: int = 10, n_repeats: int = 10, seed: int = 0,
                          n_estimators: int = 100, n_importances: int = 15,
                          positive_class: Any = None, threads: int | None = None,
                          on_fold: ProgressCallback | None = None) -> ClassifierResult:
    """Repeated stratified k-fold cross-validation of a random forest.

    Every fold fits ``Pipeline(SimpleImputer(strategy="median"),
    RandomForestClassifier)`` on its training samples only and scores it on
    its held-out samples, so the medians that fill the missing values, like
    the trees, never see the samples they are judged on.

    Parameters
    ----------
    features : pandas.DataFrame
        Samples × features, numeric; NaN marks a missing value (lab markers).
    labels : pandas.Series
        The class of each sample, matched to ``features`` by index.  Samples
        of ``features`` without a label (absent or NaN) are left out, with a
        warning on the ``gutaxis.stats.classifier`` logger; extra labels are
        ignored.  Labels are compared as strings.
    feature_set : str
        Name of the feature set, kept in the result.
    n_splits : int, default 10
        Folds per repeat (``--cv-folds``); every class needs at least this
        many samples.
    n_repeats : int, default 10
        Repeats of the k-fold split, each with a different shuffle.
    seed : int, default 0
        Seeds the splits (``RepeatedStratifiedKFold(random_state=seed)``), the
        forests and the permutations.  The forest of fold ``k`` of repeat
        ``r`` has ``random_state = SeedSequence(seed, spawn_key=(r, k,
        0)).generate_state(1)[0]``, so results do not depend on ``threads``.
    n_estimators : int, default 100
        Trees per forest.
    n_importances : int, default 15
        How many features to keep in ``importances`` (the most important).
    positive_class : optional
        The class whose predicted probability is the ROC score; default the
        last class in sorted order.
    threads : int, optional
        Worker processes; folds run in parallel, each forest on one thread.
        ``None`` or 1 runs everything in this process.
    on_fold : callable, optional
        Called as ``on_fold(done, total)`` after each fold.

    Returns
    -------
    ClassifierResult

    Raises
    ------
    InputError
        ``features``/``labels`` of the wrong type, or an option out of range.
    ValidationError
        Fewer than two classes; a class with fewer than ``n_splits`` samples;
        a feature with no value in any labelled sample; duplicate ids or
        columns; non-numeric or infinite values; an unknown ``positive_class``.
    SampleMismatchError
        No sample of ``features`` has a label.

    Notes
    -----
    *Scores.*  Accuracy counts the class of highest predicted probability;
    the AUC is that of the positive class's probability (two classes) or the
    macro-averaged one-vs-rest AUC (more).  Means and standard deviations
    (``ddof=1``) run over all ``n_splits × n_repeats`` folds.  Folds of one
    repeat share samples, so the standard deviation describes fold-to-fold
    spread and is not a standard error of the mean.

    *ROC curve.*  Each fold's curve is interpolated on 101 false-positive
    rates from 0 to 1 (taking the top of vertical steps; pinned to 0 at
    ``fpr = 0``); ``tpr_mean`` and ``tpr_sd`` are over the curves of all folds.

    *Importance* is measured on the held-out samples of each fold of the
    **first repeat only** (every sample is held out once), as the mean
    decrease of the ROC AUC (macro one-vs-rest for more than two classes) when
    one feature's values are randomly permuted among those samples (Breiman
    2001; Fisher et al. 2019).  Each feature is permuted 5 times per fold;
    ``importance_sd`` is over the ``5 × n_splits`` decreases.  The permutation
    step is hand-written for speed rather than
    :func:`sklearn.inspection.permutation_importance`, which predicts once per
    feature and permutation: here all permuted copies of a fold are stacked and
    predicted in one call.  Its values are those of a plain loop with the same
    permutations (tested).  Correlated features share their importance, so a
    low value does not mean a feature carries no signal.

    *Speed.*  With few samples a forest's cost is mostly per-tree overhead in
    Python, which threads inside one forest cannot share out; running folds in
    separate processes can.  87 samples × 150 features, 10 × 10 folds, 100
    trees, on 2 cores: 8.3 s in one process; about 5–6 s with ``threads=2``
    (the first call also starts the workers, about 1 s); 10.7 s with
    ``n_jobs=2`` inside each forest instead.

    References
    ----------
    Breiman, L. (2001). Random forests. *Machine Learning* 45, 5–32.

    Fisher, A., Rudin, C., Dominici, F. (2019). All models are wrong, but many
    are useful: learning a variable's importance by studying an entire class
    of prediction models simultaneously. *JMLR* 20(177), 1–81.

    Hanley, J. A., McNeil, B. J. (1982). The meaning and use of the area under
    a receiver operating characteristic (ROC) curve. *Radiology* 143, 29–36.

    Ambroise, C., McLachlan, G. J. (2002). Selection bias in gene extraction on
    the basis of microarray gene-expression data. *PNAS* 99, 6562–6566.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    >>> y = pd.Series(["case"] * 20 + ["control"] * 20)
    >>> x.loc[:19, "a"] += 3
    >>> r = cross_validate_forest(x, y, feature_set="demo", n_splits=5, n_repeats=2,
    ...                           n_estimators=20)
    >>> r.accuracy_mean > 0.8, r.importances.feature.iloc[0], len(r.fold_scores)
    (True, 'a', 10)
    """
    n_splits = _check_int("n_splits (--cv-folds)", n_splits, 2)
    n_repeats = _check_int("n_repeats", n_repeats, 1)
    seed = _check_int("seed", seed, 0)
    n_estimators = _check_int("n_estimators", n_estimators, 1)
    n_importances = _check_int("n_importances", n_importances, 0)
    workers = _check_threads(threads)
    data = _prepare(features, labels, positive_class)
    counts = np.bincount(data.codes, minlength=len(data.classes))
    small = [(c, int(n)) for c, n in zip(data.classes, counts, strict=True) if n < n_splits]
    if small:
        fewest = int(counts.min())
        fix = (f"use a smaller --cv-folds (at most {fewest})" if fewest >= 2 else
               "every class needs at least 2 samples to be cross-validated")
        raise ValidationError(
            f"every class needs at least n_splits={n_splits} samples, so that each "
            f"held-out fold holds one of each; "
            + ", ".join(f"{c!r} has {n}" for c, n in small) + f"; {fix}")

    splitter = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats,
                                       random_state=seed)
    splits = list(splitter.split(data.x, data.codes))
    total = len(splits)
    tasks = (
        joblib.delayed(_run_fold)(
            data.x, data.codes, train, test,
            forest_seed=_fold_seed(seed, i // n_splits, i % n_splits, 0),
            n_estimators=n_estimators, positive=data.positive,
            permutation_seed=(_fold_seed(seed, 0, i, 1) if i < n_splits else None))
        for i, (train, test) in enumerate(splits)
    )
    outcomes: list[_FoldOutcome] = []
    parallel = joblib.Parallel(n_jobs=workers, prefer="processes", return_as="generator")
    for outcome in parallel(tasks):
        outcomes.append(outcome)
        if on_fold is not None:
            on_fold(len(outcomes), total)

    fold_scores = pd.DataFrame({
        "repeat": np.arange(total) // n_splits,
        "fold": np.arange(total) % n_splits,
        "accuracy": [o.accuracy for o in outcomes],
        "auc": [o.auc for o in outcomes],
    })
    roc = None
    if len(data.classes) == 2:
        curves = np.array([o.tpr for o in outcomes])
        roc = pd.DataFrame({"fpr": np.linspace(0.0, 1.0, _ROC_POINTS),
                            "tpr_mean": curves.mean(axis=0),
                            "tpr_sd": curves.std(axis=0, ddof=1)})
    decreases = np.concatenate([o.decreases for o in outcomes[:n_splits]
                                if o.decreases is not None], axis=1)
    order = np.argsort(-decreases.mean(axis=1), kind="stable")[:n_importances]
    importances = pd.DataFrame({
        "feature": [data.features[j] for j in order],
        "importance_mean": decreases.mean(axis=1)[order],
        "importance_sd": decreases.std(axis=1, ddof=1)[order],
    })
    score = "ROC AUC" if len(data.classes) == 2 else "macro one-vs-rest ROC AUC"
    cv = {
        "method": "repeated stratified k-fold",
        "n_splits": n_splits,
        "n_repeats": n_repeats,
        "seed": seed,
        "n_estimators": n_estimators,
        "imputation": "median of each feature, fitted on the training folds only",
        "importance": (f"permutation importance: mean decrease in {score} when a feature "
                       "is permuted, on the held-out folds of the first repeat only"),
        "importance_repeats": _PERMUTATION_REPEATS,
        "unlabelled_dropped": len(data.dropped),
    }
    return ClassifierResult(
        feature_set=str(feature_set),
        classes=list(data.classes),
        positive_class=data.classes[data.positive],
        n_samples=int(data.x.shape[0]),
        n_features=len(data.features),
        accuracy_mean=float(fold_scores.accuracy.mean()),
        accuracy_sd=float(fold_scores.accuracy.std()),
        auc_mean=float(fold_scores.auc.mean()),
        auc_sd=float(fold_scores.auc.std()),
        cv=cv,
        fold_scores=fold_scores,
        roc=roc,
        importances=importances,
    )


# ----------------------------------------------------------------- final model
@dataclasses.dataclass(frozen=True, eq=False)
class FittedClassifier:
    """A median-imputation + random-forest pipeline fitted on a whole cohort.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        ``SimpleImputer(strategy="median")`` then ``RandomForestClassifier``,
        fitted on a samples × ``features`` array; its ``classes_`` are ``classes``.
    features : list of str
        The training columns, in order.
    classes : list of str
        The class labels, sorted.
    positive_class : str
        The class whose probability is the score of interest.
    training : dict
        ``n_samples``, ``class_counts``, ``seed``, ``n_estimators``,
        ``imputation``, ``unlabelled_dropped``, ``sklearn_version``,
        ``gutaxis_version``.
    """

    pipeline: Pipeline
    features: list[str]
    classes: list[str]
    positive_class: str
    training: dict[str, Any]

    def predict_proba(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities of new samples.

        Parameters
        ----------
        frame : pandas.DataFrame
            Samples × features; columns are matched to :attr:`features` by
            name (extra columns are ignored, NaN values are imputed with the
            training medians).

        Returns
        -------
        pandas.DataFrame
            Samples (``frame``'s index) × :attr:`classes`.

        Raises
        ------
        NotFoundError
            Training features missing from ``frame`` (all are listed).
        InputError, ValidationError
            ``frame`` is not a DataFrame, or the features are not numeric and finite.
        """
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"frame must be a pandas DataFrame (samples × features); "
                             f"got {type(frame).__name__}")
        columns = {str(c): c for c in frame.columns}
        missing = [f for f in self.features if f not in columns]
        if missing:
            raise NotFoundError("feature id", missing, "the frame (the model was trained on them)")
        sub = frame[[columns[f] for f in self.features]]
        non_numeric = [f for f, dt in zip(self.features, sub.dtypes, strict=True)
                       if not pd.api.types.is_numeric_dtype(dt)]
        if non_numeric:
            raise ValidationError(f"features must be numeric; non-numeric column(s): "
                                  f"{_shown(non_numeric)}")
        x = sub.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(x).any():
            raise ValidationError("features must be finite or NaN (missing); got infinite values")
        proba = self.pipeline.predict_proba(x)
        return pd.DataFrame(proba, index=frame.index, columns=list(self.classes))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the pipeline with joblib to ``path`` and a JSON sidecar to ``<path>.json``.

        The sidecar holds the features, classes, positive class, training
        information, the scikit-learn, joblib and gutaxis versions and the
        model file's SHA-256, which :func:`load_classifier` checks.
        """
        path = Path(path)
        joblib.dump(self.pipeline, path)
        sidecar = {
            "format": _SIDECAR_FORMAT,
            "format_version": _SIDECAR_VERSION,
            "model_file": path.name,
            "sha256": _sha256(path),
            "features": list(self.features),
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "training": self.training,
            "sklearn_version": sklearn.__version__,
            "joblib_version": joblib.__version__,
            "gutaxis_version": __version__,
        }
        _sidecar_path(path).write_text(
            json.dumps(_json_ready(sidecar), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8")


def _sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fit_final_model(features: pd.DataFrame, labels: pd.Series, *, seed: int = 0,
                    n_estimators: int = 100, threads: int | None = None,
                    positive_class: Any = None) -> FittedClassifier:
    """Fit the cross-validated pipeline on every labelled sample.

    Parameters
    ----------
    features, labels, positive_class
        As for :func:`cross_validate_forest`.
    seed : int, default 0
        The forest's ``random_state``.
    n_estimators : int, default 100
        Trees in the forest.
    threads : int, optional
        Threads for fitting the forest (``n_jobs``); the returned model
        predicts on one thread.

    Returns
    -------
    FittedClassifier

    Raises
    ------
    InputError, ValidationError, SampleMismatchError
        As for :func:`cross_validate_forest` (except the fold-size rule).

    Notes
    -----
    Judge this model by the cross-validated scores of
    :func:`cross_validate_forest` with the same settings, never by its fit
    to the samples it was trained on.
    """
    seed = _check_int("seed", seed, 0)
    n_estimators = _check_int("n_estimators", n_estimators, 1)
    workers = _check_threads(threads)
    data = _prepare(features, labels, positive_class)
    labels_str = np.asarray(data.classes, dtype=object)[data.codes]
    pipeline = _make_pipeline(n_estimators, seed, n_jobs=workers)
    pipeline.fit(data.x, labels_str)
    pipeline.set_params(forest__n_jobs=None)
    counts = np.bincount(data.codes, minlength=len(data.classes))
    training = {
        "n_samples": int(data.x.shape[0]),
        "class_counts": {c: int(n) for c, n in zip(data.classes, counts, strict=True)},
        "seed": seed,
        "n_estimators": n_estimators,
        "imputation": "median of each feature over the training samples",
        "unlabelled_dropped": len(data.dropped),
        "sklearn_version": sklearn.__version__,
        "gutaxis_version": __version__,
    }
    return FittedClassifier(pipeline=pipeline, features=list(data.features),
                            classes=list(data.classes),
                            positive_class=data.classes[data.positive], training=training)


def load_classifier(path: str | os.PathLike[str]) -> FittedClassifier:
    """Load a model written by :meth:`FittedClassifier.save`, after checking its hash.

    .. warning::
       A joblib model file is a Python pickle: loading it can run arbitrary
       code.  Load only files from sources you trust.  The SHA-256 check
       against the sidecar catches a model file that was changed, corrupted or
       swapped after saving; it cannot make an untrusted file safe, since
       whoever can replace the model can rewrite the sidecar too.

    Parameters
    ----------
    path : str or os.PathLike
        The model file; its sidecar is ``<path>.json``.

    Returns
    -------
    FittedClassifier

    Raises
    ------
    InputError
        ``path`` does not exist.
    UnsafeInputError
        The sidecar is missing, or the model file's SHA-256 differs from the
        sidecar's; nothing is unpickled.
    FormatError
        The sidecar is not valid, or the unpickled object is not a pipeline
        matching it.
    """
    path = Path(path)
    side = _sidecar_path(path)
    if not path.is_file():
        raise InputError(f"no model file at {path}")
    if not side.is_file():
        raise UnsafeInputError(
            f"refusing to load {path}: its sidecar {side} is missing, so the file cannot "
            "be checked (model files are pickles, which can run code when loaded); "
            "save models with FittedClassifier.save, which writes both files")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{side} is not a valid JSON sidecar: {exc}") from None
    _check_sidecar(meta, side)
    digest = _sha256(path)
    if digest != meta["sha256"]:
        raise UnsafeInputError(
            f"refusing to load {path}: its SHA-256 is {digest} but {side} records "
            f"{meta['sha256']}; the model file changed after it was saved.  Only load "
            "model files from sources you trust")
    if meta.get("sklearn_version") != sklearn.__version__:
        log.warning("%s was saved with scikit-learn %s; this is %s, and its predictions "
                    "may differ", path, meta.get("sklearn_version"), sklearn.__version__)
    pipeline = joblib.load(path)
    if not isinstance(pipeline, Pipeline) or not hasattr(pipeline, "classes_"):
        raise FormatError(f"{path} does not hold a fitted scikit-learn Pipeline; "
                          f"got {type(pipeline).__name__}")
    classes = [str(c) for c in pipeline.classes_]
    if classes != meta["classes"] or pipeline.n_features_in_ != len(meta["features"]):
        raise FormatError(
            f"{path} does not match its sidecar: the model has classes {classes} and "
            f"{pipeline.n_features_in_} features; {side} lists {meta['classes']} and "
            f"{len(meta['features'])}")
    return FittedClassifier(pipeline=pipeline, features=list(meta["features"]),
                            classes=list(meta["classes"]),
                            positive_class=meta["positive_class"],
                            training=dict(meta.get("training") or {}))


def _check_sidecar(meta: Any, side: Path) -> None:
    def bad(what: str) -> FormatError:
        return FormatError(f"{side} is not a gutaxis classifier sidecar: {what}")

    if not isinstance(meta, dict) or meta.get("format") != _SIDECAR_FORMAT:
        raise bad(f"expected \"format\": {_SIDECAR_FORMAT!r}")
    if meta.get("format_version") != _SIDECAR_VERSION:
        raise bad(f"expected format_version {_SIDECAR_VERSION}; "
                  f"got {meta.get('format_version')!r}")
    if not isinstance(meta.get("sha256"), str):
        raise bad("no \"sha256\" string")
    for key in ("features", "classes"):
        value = meta.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad(f"expected \"{key}\" to be a list of strings")
    if meta.get("positive_class") not in meta["classes"]:
        raise bad(f"positive_class {meta.get('positive_class')!r} is not one of the classes")
    if not isinstance(meta.get("training", {}), dict):
        raise bad("expected \"training\" to be an object")
