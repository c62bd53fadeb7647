"""The final classifier: fitted on a whole cohort, saved and loaded with a hash check.

:func:`fit_final_model` fits the cross-validated pipeline on every sample and
returns a :class:`FittedClassifier`; :meth:`FittedClassifier.save` writes the
pipeline with joblib and a JSON sidecar holding its SHA-256, which
:func:`load_classifier` checks before unpickling.  Import these names from
:mod:`gutaxis.stats.classifier`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.pipeline import Pipeline

from gutaxis._version import __version__
from gutaxis.exceptions import (
    FormatError,
    InputError,
    NotFoundError,
    UnsafeInputError,
    ValidationError,
)
from gutaxis.outputs import open_atomic, write_text
from gutaxis.provenance import file_sha256
from gutaxis.stats._classifier_common import (
    _check_int,
    _check_threads,
    _json_ready,
    _make_pipeline,
    _prepare,
    _shown,
)

__all__ = ["FittedClassifier", "fit_final_model", "load_classifier"]

# The public module's logger, so that every classifier message comes from one name.
log = logging.getLogger("gutaxis.stats.classifier")

_SIDECAR_FORMAT = "gutaxis-classifier"
_SIDECAR_VERSION = 1


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
        with open_atomic(path, "wb", what="the model") as out:
            joblib.dump(self.pipeline, out)
        sidecar = {
            "format": _SIDECAR_FORMAT,
            "format_version": _SIDECAR_VERSION,
            "model_file": path.name,
            "sha256": file_sha256(path),
            "features": list(self.features),
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "training": self.training,
            "sklearn_version": sklearn.__version__,
            "joblib_version": joblib.__version__,
            "gutaxis_version": __version__,
        }
        write_text(_sidecar_path(path),
                   json.dumps(_json_ready(sidecar), indent=2, ensure_ascii=False) + "\n")


def _sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


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


def verify_model_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check a model file against its sidecar, without unpickling it.

    Returns
    -------
    dict
        The sidecar (its ``sha256`` equals the model file's).

    Raises
    ------
    InputError
        ``path`` does not exist.
    UnsafeInputError
        The sidecar is missing, or the model file's SHA-256 differs from it.
    FormatError
        The sidecar is not valid JSON in the sidecar format.
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
    digest = file_sha256(path)
    if digest != meta["sha256"]:
        raise UnsafeInputError(
            f"refusing to load {path}: its SHA-256 is {digest} but {side} records "
            f"{meta['sha256']}; the model file changed after it was saved.  Only load "
            "model files from sources you trust")
    return dict(meta)


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
    meta = verify_model_file(path)
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
            f"{pipeline.n_features_in_} features; {_sidecar_path(path)} lists "
            f"{meta['classes']} and {len(meta['features'])}")
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
