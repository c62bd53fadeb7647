"""Input checks shared by the permutation tests, PERMANOVA and PERMDISP.

The grouping of a distance matrix's samples as integer codes, the number of
permutations, and the random generator from a seed.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.checks import check_type
from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import InputError, NotFoundError

__all__ = ["_grouping_codes", "_tested_grouping", "_check_permutations", "_rng",
           "group_labels"]


def _grouping_codes(dm: DistanceMatrix, grouping: Any) -> tuple[np.ndarray, list[Any], Any]:
    """Integer group codes in ``dm.ids`` order, the (sorted) labels, the grouping's name."""
    name = None
    if isinstance(grouping, pd.DataFrame):
        raise InputError("grouping must be one column (a Series), not a DataFrame; "
                         "pass e.g. metadata['group']")
    if isinstance(grouping, pd.Series):
        name = grouping.name
        series = grouping.copy()
        series.index = pd.Index([str(i) for i in series.index], dtype=object)
        if series.index.has_duplicates:
            dupes = series.index[series.index.duplicated()].unique().tolist()
            raise InputError("the grouping's index has duplicated sample ids: "
                             + ", ".join(map(repr, dupes[:10])))
        missing = dm.ids.difference(series.index, sort=False)
        if len(missing):
            raise NotFoundError("sample id", list(missing),
                "the grouping's index (a Series is matched to the distance matrix by sample "
                "id; pass grouping.to_numpy() for values already in distance-matrix order)")
        values = series.reindex(dm.ids).to_numpy()
    else:
        values = np.asarray(grouping, dtype=object) if not isinstance(grouping, np.ndarray) \
            else grouping
        if values.ndim != 1:
            raise InputError(f"grouping must be one-dimensional; got shape {values.shape}")
        if len(values) != len(dm):
            raise InputError(f"grouping has {len(values)} values but the distance matrix has "
                             f"{len(dm)} samples; give one group per sample, in dm.ids order "
                             "(or a Series indexed by sample id)")
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # labels of mixed, unorderable types
        codes, uniques = pd.factorize(values, sort=False)
    if (codes < 0).any():
        absent = dm.ids[codes < 0].tolist()
        raise InputError(
            f"the grouping has no group (NaN/None) for {len(absent)} sample(s): "
            + ", ".join(map(repr, absent[:10])) + (" …" if len(absent) > 10 else "")
            + "; drop these samples first (dm.subset(...))"
        )
    return codes.astype(np.int32), list(uniques), name


def _tested_grouping(dm: DistanceMatrix, grouping: Any, method: str, *, why_two: str
                     ) -> tuple[np.ndarray, list[Any], Any, np.ndarray]:
    """:func:`_grouping_codes` plus the group sizes, refusing groupings no test can use.

    ``method`` names the test in the messages; ``why_two`` says what a group of at
    least two samples is needed for.
    """
    codes, labels, name = _grouping_codes(dm, grouping)
    n, g = len(codes), len(labels)
    if g < 2:
        only = f" (every sample is in group {labels[0]!r})" if g == 1 else ""
        raise InputError(f"{method} needs at least 2 groups; the grouping has {g}{only}")
    if g == n:
        raise InputError(f"{method} needs a group with at least 2 samples; all {n} samples are "
                         f"in groups of their own, so there is no {why_two}")
    return codes, labels, name, np.bincount(codes, minlength=g)


def _check_permutations(permutations: Any) -> int:
    if isinstance(permutations, bool):
        raise InputError(f"permutations must be a non-negative integer; got {permutations!r}")
    try:
        value = operator.index(permutations)
    except TypeError:
        raise InputError(
            f"permutations must be a non-negative integer; got {permutations!r}"
        ) from None
    if value < 0:
        raise InputError(f"permutations must be a non-negative integer; got {value}")
    return value


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise InputError(f"seed must be an integer, a numpy.random.Generator or None; "
                         f"got {seed!r}")
    try:
        return np.random.default_rng(int(seed))
    except ValueError as exc:
        raise InputError(f"seed must be a non-negative integer; got {seed!r} ({exc})") from None


def group_labels(column: pd.Series) -> pd.Series:
    """Return the group values as strings, missing values dropped.

    A float column of whole numbers (how a metadata reader stores ``0``/``1``
    with gaps) reads ``"0"``/``"1"``, not ``"0.0"``/``"1.0"``.

    Parameters
    ----------
    column : pandas.Series
        A metadata column, indexed by sample id.

    Returns
    -------
    pandas.Series of str

    Raises
    ------
    InputError
        ``column`` is not a Series.
    """
    values = check_type(column, pd.Series, "column",
                        hint="a metadata column, e.g. metadata['Subject']").dropna()
    if pd.api.types.is_float_dtype(values) and bool(np.all(values == np.round(values))):
        values = values.astype(np.int64)
    return values.astype(str)
