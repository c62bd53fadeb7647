"""Where one value falls in a reference distribution: percentile and bootstrap interval.

Two functions: :func:`percentile_with_ci` for one measure and
:func:`percentiles_with_ci` for many measures of one patient against a
reference table (samples × measures), vectorised.

The percentile is the *mid-rank* percentile (``kind="mean"`` of
:func:`scipy.stats.percentileofscore`)::

    pct = 100 × (#{ref < v} + ½ #{ref == v}) / n

so a value equal to every reference value is at 50, a value above all of them
at 100 and below all at 0.  Its uncertainty comes from the reference being a
sample: the reference is resampled with replacement ``n_boot`` times, the
percentile of the value is computed in each resample, and the interval is the
central ``level`` part of those (percentile bootstrap [1]_).

How it is computed: a bootstrap resample is fully described by how many times
it draws each reference sample, a weight vector ``w`` (multinomial, summing to
``n``).  With ``B`` the ``n_boot × n`` matrix of those weights and, per
measure, ``s = 1[ref < v] + ½ 1[ref == v]``, all resampled percentiles are one
matrix product, ``100 × (B @ s) / (B @ 1[ref is not NaN])``.  The draws come
from :func:`numpy.random.default_rng` (``seed``), in blocks of replicates so
that memory stays bounded for large references; the result depends only on
``seed``, ``n_boot`` and ``n``.

References
----------
.. [1] Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the
   Bootstrap*. Chapman & Hall, ch. 13 (percentile intervals).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from gutaxis.checks import check_number, check_type
from gutaxis.exceptions import InputError, NotFoundError

__all__ = ["percentile_with_ci", "percentiles_with_ci", "midrank_percentile"]

#: Bootstrap replicates drawn at once: bounds the weight block to
#: ``_BLOCK_ELEMENTS`` numbers whatever the reference size.
_BLOCK_ELEMENTS = 4_000_000


def _check_options(n_boot: object, seed: object, level: object) -> tuple[int, int, float]:
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 1:
        raise InputError(f"`n_boot` must be an integer ≥ 1; got {n_boot!r}.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"`seed` must be an integer ≥ 0; got {seed!r}.")
    if (isinstance(level, bool) or not isinstance(level, numbers.Real)
            or not 0 < float(level) < 1):
        raise InputError(f"`level` must be a number strictly between 0 and 1 (0.95 for a "
                         f"95 % interval); got {level!r}.")
    return int(n_boot), int(seed), float(level)


def midrank_percentile(value: float, reference_values: np.ndarray) -> float:
    """Return the mid-rank percentile of ``value`` among ``reference_values`` (NaN dropped).

    ``100 × (#{ref < v} + ½ #{ref == v}) / n``; NaN when no reference value
    is left or ``value`` is NaN.

    Parameters
    ----------
    value : float
    reference_values : array_like of float

    Returns
    -------
    float

    Raises
    ------
    InputError
        ``value`` or the reference values are not numbers.

    Examples
    --------
    >>> midrank_percentile(2.0, np.array([1.0, 2.0, 3.0, 4.0]))
    37.5
    """
    number = check_number(value, "`value`", finite=False, error=InputError)
    assert number is not None
    try:
        ref = np.asarray(reference_values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("the reference values must be numbers (NaN for a missing one)") from None
    ref = ref[~np.isnan(ref)]
    if not ref.size or np.isnan(number):
        return float("nan")
    below = np.count_nonzero(ref < number)
    equal = np.count_nonzero(ref == number)
    return float(100.0 * (below + 0.5 * equal) / ref.size)


def _weight_blocks(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap weights, ``(block × n)`` float64 blocks covering ``n_boot`` rows."""
    rng = np.random.default_rng(seed)
    per_block = max(1, min(n_boot, _BLOCK_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_boot:
        rows = min(per_block, n_boot - done)
        draws = rng.integers(0, n, size=(rows, n), dtype=np.int64)
        flat = draws + (np.arange(rows, dtype=np.int64) * n)[:, None]
        weights = np.bincount(flat.ravel(), minlength=rows * n).reshape(rows, n)
        yield weights.astype(np.float64)
        done += rows


def _bootstrap(scores: np.ndarray, valid: np.ndarray, n_boot: int, seed: int,
               clusters: np.ndarray | None = None) -> np.ndarray:
    """Resampled percentiles, ``n_boot × measures`` (NaN where a resample has no value).

    With ``clusters`` (a cluster index per row) whole clusters are resampled:
    every row takes its cluster's weight.
    """
    n = scores.shape[0] if clusters is None else int(clusters.max()) + 1
    out = np.empty((n_boot, scores.shape[1]), dtype=np.float64)
    row = 0
    for drawn in _weight_blocks(n, n_boot, seed):
        weights = drawn if clusters is None else drawn[:, clusters]
        numerator = weights @ scores
        denominator = weights @ valid
        with np.errstate(invalid="ignore", divide="ignore"):
            out[row:row + len(weights)] = 100.0 * numerator / denominator
        row += len(weights)
    return out


def _core(values: np.ndarray, reference: np.ndarray, n_boot: int, seed: int,
          level: float, clusters: np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Point percentiles, interval bounds and n for ``values[j]`` against ``reference[:, j]``."""
    valid = ~np.isnan(reference)
    with np.errstate(invalid="ignore"):
        below = (reference < values[None, :]) & valid
        equal = (reference == values[None, :]) & valid
    scores = below.astype(np.float64) + 0.5 * equal.astype(np.float64)
    counts = valid.sum(axis=0)
    usable = (counts > 0) & ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        point = np.where(usable, 100.0 * scores.sum(axis=0) / counts, np.nan)
    lo = np.full(values.shape, np.nan)
    hi = np.full(values.shape, np.nan)
    if usable.any() and reference.shape[0]:
        cols = np.flatnonzero(usable)
        boot = _bootstrap(scores[:, cols], valid[:, cols].astype(np.float64), n_boot, seed,
                          clusters)
        tails = [100.0 * (1.0 - level) / 2.0, 100.0 * (1.0 + level) / 2.0]
        if np.isnan(boot).any():
            bounds = np.nanpercentile(boot, tails, axis=0)
        else:
            bounds = np.percentile(boot, tails, axis=0)
        lo[cols], hi[cols] = bounds[0], bounds[1]
    return point, lo, hi, counts


def percentile_with_ci(value: float, reference_values: object, *, n_boot: int = 2000,
                       seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Return the percentile of ``value`` in a reference, with a bootstrap interval.

    Parameters
    ----------
    value : float
        The patient's value (finite, or ±inf).
    reference_values : array_like
        The reference distribution (1-D); NaN entries are dropped and ``n``
        counts the rest.
    n_boot : int, default 2000
        Bootstrap resamples of the reference.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the
        same interval.
    level : float, default 0.95
        Coverage of the interval.

    Returns
    -------
    pct, lo, hi : float
        The mid-rank percentile (0–100) and the bounds of the percentile
        bootstrap interval.

    Raises
    ------
    InputError
        ``value`` is NaN, no reference value is left after dropping NaN, or
        an option is out of range.

    Notes
    -----
    The percentile is the mid-rank definition, ``100 × (#{ref < v} + ½
    #{ref == v}) / n``, which equals :func:`scipy.stats.percentileofscore`
    with ``kind="mean"``.  Ties matter for abundances: a taxon absent from the
    patient and from 60 % of the reference is at the 30th percentile, not at
    0 or 60.  The interval reflects the reference's sampling only (how
    much the percentile would move with another reference of the same size),
    not the measurement error of the patient's value.  It is computed as
    described in :mod:`gutaxis.profile.percentile`; it is the same interval
    :func:`percentiles_with_ci` gives for a reference column without NaN.

    Examples
    --------
    >>> pct, lo, hi = percentile_with_ci(3.0, [1.0, 2.0, 3.0, 4.0], n_boot=200)
    >>> pct
    62.5
    >>> bool(lo <= pct <= hi)
    True
    """
    n_boot, seed, level = _check_options(n_boot, seed, level)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"`value` must be a number; got {value!r}.") from None
    if np.isnan(v):
        raise InputError("`value` is NaN; a missing value has no percentile.")
    ref = np.asarray(reference_values, dtype=np.float64)
    if ref.ndim != 1:
        raise InputError(f"`reference_values` must be 1-D; got shape {ref.shape}.")
    ref = ref[~np.isnan(ref)]
    if not ref.size:
        raise InputError("the reference has no values (all NaN or empty); a percentile "
                         "needs at least one.")
    point, lo, hi, _ = _core(np.array([v]), ref[:, None], n_boot, seed, level)
    return float(point[0]), float(lo[0]), float(hi[0])


def percentiles_with_ci(values: Mapping[str, float] | pd.Series, reference: pd.DataFrame, *,
                        n_boot: int = 2000, seed: int = 0, level: float = 0.95,
                        clusters: Sequence[object] | np.ndarray | None = None) -> pd.DataFrame:
    """Percentiles with bootstrap intervals for many measures at once.

    Parameters
    ----------
    values : mapping or pandas.Series
        Measure → the patient's value.  A NaN value gives a NaN row.
    reference : pandas.DataFrame
        Reference samples × measures; every key of ``values`` must be a
        column.  NaN cells are missing values, dropped per measure.
    n_boot, seed, level
        As for :func:`percentile_with_ci`.
    clusters : sequence, optional
        One label per reference row (e.g. the person of each sample): the
        bootstrap then resamples whole clusters, as the reference would be
        collected again person by person.  Default: every row its own.

    Returns
    -------
    pandas.DataFrame
        Indexed by measure (in the order of ``values``), columns
        ``percentile``, ``ci_low``, ``ci_high`` (floats, NaN where there is
        no value or no reference value) and ``n`` (reference values used).

    Raises
    ------
    NotFoundError
        A measure that is not a column of ``reference``.
    InputError
        An option out of range, non-numeric values, ``values`` not a mapping
        or ``reference`` not a DataFrame.

    Notes
    -----
    One bootstrap weight matrix is shared by all the measures: each
    replicate resamples reference *samples* (rows), and every measure is
    read off the same resampled cohort, as if the reference had been
    collected again.  The intervals of correlated measures are then
    consistent with each other, and the cost is one matrix product
    (replicates × samples times samples × measures).  A measure with NaN
    cells uses, in each replicate, only the resampled samples where it has a
    value; without NaN its interval is exactly that of
    :func:`percentile_with_ci` on the column with the same seed.

    Examples
    --------
    >>> ref = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 0.0, 1.0, np.nan]})
    >>> out = percentiles_with_ci({"a": 2.0, "b": 0.0}, ref, n_boot=100)
    >>> out["percentile"].round(2).tolist(), out["n"].tolist()
    ([37.5, 33.33], [4, 3])
    """
    n_boot, seed, level = _check_options(n_boot, seed, level)
    check_type(reference, pd.DataFrame, "reference", hint="reference samples × measures")
    if not isinstance(values, pd.Series | Mapping):
        raise InputError(f"values must be a mapping or a pandas.Series (measure → the "
                         f"patient's value); got {type(values).__name__}")
    series = values.copy() if isinstance(values, pd.Series) else pd.Series(dict(values),
                                                                           dtype=object)
    names = [str(k) for k in series.index]
    columns = {str(c): c for c in reference.columns}
    missing = [k for k in names if k not in columns]
    if missing:
        raise NotFoundError("measure", missing, "the reference table")
    try:
        vals = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        ref = reference[[columns[k] for k in names]].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InputError(f"values and reference must be numeric: {exc}") from None
    codes = None
    if clusters is not None:
        labels = list(clusters)
        if len(labels) != len(reference):
            raise InputError(f"clusters must give one label per reference row "
                             f"({len(reference)}); got {len(labels)}")
        codes = pd.factorize(pd.Series(labels, dtype=object).astype(str))[0].astype(np.intp)
    point, lo, hi, counts = _core(vals, ref, n_boot, seed, level, codes)
    out = pd.DataFrame({"percentile": point, "ci_low": lo, "ci_high": hi, "n": counts},
                       index=pd.Index(names, name="measure"))
    return out
