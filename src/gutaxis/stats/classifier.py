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
from collections.abc import Callable
from typing import Any

import joblib
import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold
from sklearn.pipeline import Pipeline

from gutaxis.exceptions import InputError, ValidationError
from gutaxis.stats._classifier_common import (
    _check_int,
    _check_threads,
    _json_ready,
    _make_pipeline,
    _prepare,
)
from gutaxis.stats._model_file import FittedClassifier, fit_final_model, load_classifier

__all__ = ["ClassifierResult", "FittedClassifier", "cross_validate_forest", "fit_final_model",
           "load_classifier"]

#: Points of the common false-positive-rate grid the fold ROC curves are put on.
_ROC_POINTS = 101
#: Random permutations of each feature per held-out fold.
_PERMUTATION_REPEATS = 5
#: Largest stacked permutation matrix (values) sent to ``predict_proba`` at once
#: (32 MB of float64); more features are done in several calls.
_STACK_VALUES = 4_000_000

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
        """Return the summary as JSON-ready values (NaN becomes ``None``).

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
        ready: dict[str, Any] = _json_ready(out)
        return ready


# --------------------------------------------------------------------- kernels
def _fold_seed(seed: int, repeat: int, fold: int, purpose: int) -> int:
    """Return the seed of a fold's forest (``purpose=0``), permutations (``1``) or split (``2``)."""
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
    return np.asarray(np.mean([_binary_auc(codes == c, proba[..., c]) for c in range(k)], axis=0))


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
    """Return a fold's ROC curve as true-positive rates on ``grid`` (false-positive rates).

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
def _subject_splits(ids: pd.Index, codes: np.ndarray, classes: list[str], subjects: pd.Series,
                    n_splits: int, n_repeats: int, seed: int
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds that keep each subject's samples together, ``n_repeats`` shuffles of them."""
    if not isinstance(subjects, pd.Series):
        raise InputError(f"subjects must be a pandas Series indexed by sample id; "
                         f"got {type(subjects).__name__}")
    aligned = subjects.reindex(ids)
    if aligned.isna().any():
        missing = [str(i) for i in ids[aligned.isna().to_numpy()]]
        raise ValidationError(f"{len(missing)} labelled sample(s) have no subject: "
                              + ", ".join(missing[:10]) + (" …" if len(missing) > 10 else ""))
    groups = pd.factorize(aligned.astype(str))[0]
    per_class = [len(np.unique(groups[codes == k])) for k in range(len(classes))]
    small = [(c, n) for c, n in zip(classes, per_class, strict=True) if n < n_splits]
    if small:
        fewest = min(per_class)
        fix = (f"use a smaller --cv-folds (at most {fewest})" if fewest >= 2 else
               "every class needs samples from at least 2 subjects to be cross-validated")
        raise ValidationError(
            f"with folds grouped by subject every class needs at least n_splits={n_splits} "
            "subjects; " + ", ".join(f"{c!r} has {n}" for c, n in small) + f"; {fix}")
    splits: list[tuple[np.ndarray, np.ndarray]] = []
    for repeat in range(n_repeats):
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True,
                                        random_state=_fold_seed(seed, repeat, 0, 2))
        splits.extend(splitter.split(np.zeros(len(codes)), codes, groups))
    return splits


def cross_validate_forest(features: pd.DataFrame, labels: pd.Series, *, feature_set: str,
                          n_splits: int = 10, n_repeats: int = 10, seed: int = 0,
                          n_estimators: int = 100, n_importances: int = 15,
                          positive_class: Any = None, threads: int | None = None,
                          on_fold: ProgressCallback | None = None,
                          subjects: pd.Series | None = None) -> ClassifierResult:
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
    subjects : pandas.Series, optional
        The subject (person) of every sample, matched by index.  Given, all
        samples of a subject fall in the same fold
        (:class:`sklearn.model_selection.StratifiedGroupKFold`, shuffled anew
        for each repeat), so a model is never scored on a person it was
        trained on; every class then needs at least ``n_splits`` subjects.

    Returns
    -------
    ClassifierResult

    Raises
    ------
    InputError
        ``features``/``labels`` of the wrong type, or an option out of range.
    ValidationError
        Fewer than two classes; a class with fewer than ``n_splits`` samples
        (subjects, with ``subjects``); a labelled sample without a subject;
        a feature with no value in any labelled sample; duplicate ids or
        columns; non-numeric or infinite values; an unknown ``positive_class``.
    SampleMismatchError
        No sample of ``features`` has a label.

    Notes
    -----
    *Repeated samples of one person.*  With samples folded one by one, a
    person's other samples sit in the training folds and the forest can
    recognise the person rather than the condition: the scores are
    optimistic, often grossly (HMP2, Crohn's disease against non-IBD, 1,158
    MetaPhlAn profiles of 92 people: AUC 0.98 with sample folds, 0.64 ± 0.21
    with folds that keep people together).  Pass ``subjects`` whenever a
    person gave several samples.

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

    if subjects is None:
        splitter = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats,
                                           random_state=seed)
        splits = list(splitter.split(data.x, data.codes))
    else:
        splits = _subject_splits(data.ids, data.codes, data.classes, subjects, n_splits,
                                 n_repeats, seed)
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
        "method": ("repeated stratified k-fold" if subjects is None else
                   "repeated stratified group k-fold (each subject's samples in one fold)"),
        "grouped_by_subject": subjects is not None,
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

