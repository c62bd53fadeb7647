"""Pieces shared by the classifier's cross-validation and its model files.

The one boundary check of the inputs (:func:`_prepare`, giving a :class:`_Data`),
the option checks, the imputation + random-forest pipeline and the conversion
of results to JSON-ready values.  Public names live in
:mod:`gutaxis.stats.classifier`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

from gutaxis.exceptions import InputError, SampleMismatchError, ValidationError

__all__ = ["_Data", "_check_int", "_check_threads", "_json_ready", "_make_pipeline", "_prepare",
           "_shown"]

# The public module's logger: its docs name it for the unlabelled-samples warning.
log = logging.getLogger("gutaxis.stats.classifier")


# ------------------------------------------------------------------------ JSON
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
    ids: pd.Index  # the labelled samples, in the order of ``x``


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
                 dropped=dropped, ids=features.index[~unlabelled])


# -------------------------------------------------------------------- pipeline
def _make_pipeline(n_estimators: int, random_state: int, n_jobs: int | None = None) -> Pipeline:
    return Pipeline([
        # keep_empty_features: a column with no value in a training fold stays
        # (as a constant, so the trees never split on it) and the columns keep
        # their positions for the permutation importance.
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("forest", RandomForestClassifier(n_estimators=n_estimators,
                                          random_state=random_state, n_jobs=n_jobs)),
    ])
