"""Rank tests of one measurement across groups, and Benjamini–Hochberg q-values.

:func:`compare_groups` runs a Mann–Whitney U test (two groups) or a
Kruskal–Wallis test (more groups) on one variable — a marker, an alpha
diversity, a taxon's abundance — and reports an effect size with it;
:func:`compare_groups_many` does so for every column of a table and sets the
q-values (:func:`bh_adjust`) across the columns.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from gutaxis.exceptions import InputError, NotFoundError, ValidationError
from gutaxis.stats._results import TestResult, make_result

__all__ = ["bh_adjust", "compare_groups", "compare_groups_many"]


# ---------------------------------------------------------------- FDR control
def bh_adjust(p_values: Any) -> np.ndarray:
    r"""Benjamini–Hochberg q-values (false-discovery-rate–adjusted p-values).

    Parameters
    ----------
    p_values : array_like
        One-dimensional p-values in ``[0, 1]``; NaN marks a test that was not
        performed.

    Returns
    -------
    numpy.ndarray
        float64 q-values, in the order of ``p_values``.  NaN entries stay NaN
        and are not counted in the number of tests ``m``.

    Raises
    ------
    ValidationError
        ``p_values`` is not one-dimensional, or holds a value outside
        ``[0, 1]`` (or an infinite one).

    Notes
    -----
    With the ``m`` non-missing p-values sorted, :math:`p_{(1)} \le \dots \le
    p_{(m)}`, the q-value of the ``i``-th smallest is [1]_

    .. math::
        q_{(i)} = \min\Bigl(1,\ \min_{j \ge i} \frac{m\, p_{(j)}}{j}\Bigr),

    so that rejecting every test with :math:`q \le \alpha` controls the false
    discovery rate at level :math:`\alpha` for independent (or positively
    dependent) tests.  Equal to ``statsmodels.stats.multitest.multipletests(p,
    method="fdr_bh")[1]`` on the non-missing entries.

    References
    ----------
    .. [1] Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery
       rate: a practical and powerful approach to multiple testing. *Journal
       of the Royal Statistical Society B* 57(1), 289–300.
       doi:10.1111/j.2517-6161.1995.tb02031.x

    Examples
    --------
    >>> bh_adjust([0.01, 0.04, 0.03, float("nan")])
    array([0.03, 0.04, 0.04,  nan])
    """
    try:
        p = np.array(p_values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError("p_values must be numbers in [0, 1] (NaN for a test not "
                              "performed); got values that are not numbers") from None
    if p.ndim != 1:
        raise ValidationError(f"p_values must be one-dimensional; got shape {p.shape}")
    present = ~np.isnan(p)
    bad = present & ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        shown = ", ".join(repr(float(v)) for v in p[bad][:5])
        raise ValidationError(f"p_values must be in [0, 1] or NaN; got {shown}")
    q = np.full(p.shape, np.nan)
    values = p[present]
    m = len(values)
    if m == 0:
        return q
    order = np.argsort(values, kind="stable")
    scaled = values[order] * m / np.arange(1, m + 1)
    # running minimum from the largest p-value down
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    q[present] = out
    return q


# ------------------------------------------------------------------ one test
def compare_groups(values: pd.Series, groups: pd.Series, *,
                   order: Sequence[str] | None = None,
                   min_group_size: int = 3) -> TestResult:
    r"""Test whether one measurement differs between groups (Mann–Whitney U / Kruskal–Wallis).

    Parameters
    ----------
    values : pandas.Series
        One numeric value per sample, indexed by sample id.  Missing values
        (NaN) are dropped and counted (``extra["missing"]``).
    groups : pandas.Series
        The group of every sample, indexed by sample id; matched to
        ``values`` by index (extra ids are ignored).  Labels are compared as
        strings.
    order : sequence of str, optional
        The groups to compare, in order.  Defaults to every group label,
        sorted.  Samples in groups not listed are left out (their number is
        ``extra["excluded"]``).  With two groups the effect size is
        oriented so that a *positive* value means the **second** group tends
        to be higher: ``order=["Control", "Patient"]`` → positive = higher in
        Patient.
    min_group_size : int
        Fewest non-missing values each compared group must have (``>= 1``;
        default 3).

    Returns
    -------
    TestResult
        Two groups: ``method="Mann-Whitney U"``, ``statistic_name="U"`` (the
        U of the *first* group in ``order``, as
        ``scipy.stats.mannwhitneyu(first, second)`` returns it),
        ``effect_size_name="rank_biserial"``.  More groups:
        ``method="Kruskal-Wallis"``, ``statistic_name="H"``,
        ``effect_size_name="epsilon_squared"``.  Always ``permutations=0``.
        ``extra`` holds ``groups`` (the order), ``medians`` (group → median),
        ``n_per_group`` (group → number of values used), ``missing``
        (number of NaN values dropped from the compared groups),
        ``excluded`` (samples in groups not in ``order``), ``higher_in``
        (two groups: the group with the higher median — on equal medians the
        one the effect size points to — or ``None`` when the effect size is
        0; more groups: ``None``) and ``scipy_method`` (two groups:
        ``"exact"`` or ``"asymptotic"``, the p-value scipy computed; ``""``
        when every value is equal and no test was run).

    Raises
    ------
    InputError
        ``values`` or ``groups`` is not a Series, has duplicated ids, values
        are not numeric, or ``min_group_size`` is not a positive integer.
    NotFoundError
        A sample of ``values`` has no entry in ``groups``.
    ValidationError
        A sample has no group label (NaN/None); ``order`` names a group that
        is absent or repeats one; fewer than two groups; a group with fewer
        than ``min_group_size`` non-missing values.

    Notes
    -----
    *Two groups* ``a`` (first in ``order``) and ``b``, of sizes
    :math:`n_a, n_b`: the two-sided Mann–Whitney U test [1]_ by
    :func:`scipy.stats.mannwhitneyu` with ``method="auto"``, which (scipy
    ≥ 1.11) computes the **exact** p-value when at least one group has at
    most 8 values and there are no ties, and otherwise the **asymptotic**
    normal approximation, with the tie correction of the variance and a
    continuity correction.  With :math:`U_a = \#\{a_i > b_j\} + \tfrac12
    \#\{a_i = b_j\}` and :math:`U_b = n_a n_b - U_a`, the effect size is the
    rank-biserial correlation [2]_

    .. math::
        r = \frac{2 U_b}{n_a n_b} - 1
          = \frac{\#\{b_j > a_i\} - \#\{b_j < a_i\}}{n_a n_b},

    which equals Cliff's delta of ``b`` against ``a`` [3]_: the probability
    that a value of ``b`` exceeds one of ``a`` minus the reverse, in
    ``[-1, 1]``.

    *More groups*: the Kruskal–Wallis H test [4]_ by
    :func:`scipy.stats.kruskal` (with its tie correction; p-value from the
    chi-squared distribution with ``k - 1`` degrees of freedom), and the
    effect size epsilon-squared [5]_ :math:`E^2_R = H / (n - 1)`, in
    ``[0, 1]`` (``n`` values in all).

    *Every value equal.*  When all the values compared are identical the
    rank tests are undefined (the ranks have no variance) and scipy would
    warn (Kruskal–Wallis) or return ``p = 1`` (Mann–Whitney).  Here such a
    test is not run: the p-value is NaN (so that :func:`bh_adjust` does not
    count it), ``U = n_a n_b / 2`` with rank-biserial 0 for two groups, and
    ``H`` and epsilon-squared are NaN for more groups.

    References
    ----------
    .. [1] Mann, H. B. & Whitney, D. R. (1947). On a test of whether one of two
       random variables is stochastically larger than the other. *Annals of
       Mathematical Statistics* 18(1), 50–60. doi:10.1214/aoms/1177730491
    .. [2] Kerby, D. S. (2014). The simple difference formula: an approach to
       teaching nonparametric correlation. *Comprehensive Psychology* 3,
       11.IT.3.1. doi:10.2466/11.IT.3.1
    .. [3] Cliff, N. (1993). Dominance statistics: ordinal analyses to answer
       ordinal questions. *Psychological Bulletin* 114(3), 494–509.
       doi:10.1037/0033-2909.114.3.494
    .. [4] Kruskal, W. H. & Wallis, W. A. (1952). Use of ranks in
       one-criterion variance analysis. *Journal of the American Statistical
       Association* 47(260), 583–621. doi:10.1080/01621459.1952.10483441
    .. [5] Tomczak, M. & Tomczak, E. (2014). The need to report effect size
       estimates revisited. An overview of some recommended measures of
       effect size. *Trends in Sport Sciences* 1(21), 19–25.

    Examples
    --------
    >>> import pandas as pd
    >>> values = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, float("nan")],
    ...                    index=list("abcdefg"))
    >>> groups = pd.Series(["Control"] * 3 + ["Patient"] * 4, index=list("abcdefg"))
    >>> res = compare_groups(values, groups, order=["Control", "Patient"])
    >>> res.statistic, res.effect_size, round(res.p_value, 3)
    (0.0, 1.0, 0.1)
    >>> res.extra["higher_in"], res.extra["missing"]
    ('Patient', 1)
    """
    size_min = _check_min_group_size(min_group_size)
    x = _numeric_series(values, "values")
    labels = _labels_for(x.index, groups)
    chosen = _order(labels, order)
    return _compare(x, labels, chosen, size_min)


def compare_groups_many(frame: pd.DataFrame, groups: pd.Series, *,
                        order: Sequence[str] | None = None,
                        min_group_size: int = 3) -> dict[str, TestResult]:
    """:func:`compare_groups` for every column, with q-values across the columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        Samples × variables (numeric), indexed by sample id.
    groups : pandas.Series
        The group of every sample (see :func:`compare_groups`).
    order : sequence of str, optional
        The groups to compare, in order (see :func:`compare_groups`).
    min_group_size : int
        Fewest non-missing values per group, in every column.

    Returns
    -------
    dict of str to TestResult
        One result per column (keys: the column names as strings, in column
        order), each with ``q_value`` set by :func:`bh_adjust` over the
        p-values of all the columns (NaN p-values — columns whose values are
        all equal — are not counted and get a NaN q-value).

    Raises
    ------
    InputError, NotFoundError, ValidationError
        As :func:`compare_groups`; an error about one column names it.
        Duplicated column names are refused.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"crp": [1.0, 2, 3, 4, 5, 6], "il6": [3.0, 1, 5, 2, 4, 6]},
    ...                      index=list("abcdef"))
    >>> groups = pd.Series(["C", "C", "C", "P", "P", "P"], index=list("abcdef"))
    >>> res = compare_groups_many(frame, groups)
    >>> [round(r.p_value, 3) for r in res.values()], [round(r.q_value, 3) for r in res.values()]
    ([0.1, 0.7], [0.2, 0.7])
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"frame must be a pandas DataFrame (samples × variables); "
                         f"got {type(frame).__name__}")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dupes = sorted({c for c in names if names.count(c) > 1})
        raise InputError("frame has duplicated column names: " + ", ".join(map(repr, dupes)))
    size_min = _check_min_group_size(min_group_size)
    _check_index(frame.index, "frame")
    labels = _labels_for(frame.index, groups)
    chosen = _order(labels, order)
    results: dict[str, TestResult] = {}
    for pos, name in enumerate(names):
        column = frame.iloc[:, pos]
        try:
            x = _numeric_series(column, f"column {name!r}")
            results[name] = _compare(x, labels, chosen, size_min)
        except ValidationError as exc:
            raise ValidationError(f"column {name!r}: {exc}") from None
    q = bh_adjust([r.p_value for r in results.values()])
    return {name: res.with_q_value(qv) for (name, res), qv in zip(results.items(), q,
                                                                  strict=True)}


# --------------------------------------------------------------------- helpers
def _compare(x: pd.Series, labels: pd.Series, chosen: list[str],
             size_min: int) -> TestResult:
    """Run the test on values ``x`` (float Series) with string ``labels`` (same index)."""
    lab = labels.to_numpy()
    vals = x.to_numpy(dtype=np.float64)
    in_order = np.isin(lab, chosen)
    excluded = int((~in_order).sum())
    nan = np.isnan(vals)
    missing = int((nan & in_order).sum())
    samples = [vals[(lab == g) & ~nan] for g in chosen]
    sizes = {g: len(s) for g, s in zip(chosen, samples, strict=True)}
    with_data = [g for g in chosen if sizes[g] > 0]
    if len(with_data) < 2:
        raise ValidationError(
            f"comparing groups needs at least 2 groups with data; got {len(with_data)} "
            f"({', '.join(f'{g!r}: {sizes[g]}' for g in chosen)} non-missing value(s))")
    small = [g for g in chosen if sizes[g] < size_min]
    if small:
        shown = ", ".join(f"{g!r} has {sizes[g]}" for g in small)
        raise ValidationError(
            f"every group needs at least {size_min} non-missing value(s) (min_group_size); "
            f"group {shown}. Drop the group (order=[...]) or lower min_group_size")
    n = sum(sizes.values())
    medians = {g: float(np.median(s)) for g, s in zip(chosen, samples, strict=True)}
    pooled = np.concatenate(samples)
    constant = bool(np.all(pooled == pooled[0]))
    extra: dict[str, Any] = {
        "groups": list(chosen),
        "medians": medians,
        "n_per_group": sizes,
        "missing": missing,
        "excluded": excluded,
    }
    if len(chosen) == 2:
        a, b = samples
        na, nb = len(a), len(b)
        if constant:
            u_a, p, scipy_method = na * nb / 2.0, math.nan, ""
        else:
            res = scipy.stats.mannwhitneyu(a, b, alternative="two-sided", method="auto")
            u_a, p = float(res.statistic), float(res.pvalue)
            scipy_method = _scipy_mwu_method(a, b)
        effect = 2.0 * (na * nb - u_a) / (na * nb) - 1.0
        g_a, g_b = chosen
        if medians[g_a] != medians[g_b]:
            higher: str | None = g_a if medians[g_a] > medians[g_b] else g_b
        else:
            higher = None if effect == 0 else (g_b if effect > 0 else g_a)
        extra["higher_in"] = higher
        extra["scipy_method"] = scipy_method
        return make_result(method="Mann-Whitney U", statistic_name="U", statistic=u_a,
                           p_value=p, permutations=0, n=n, n_groups=2, effect_size=effect,
                           effect_size_name="rank_biserial", extra=extra)
    if constant:
        h, p = math.nan, math.nan
    else:
        res = scipy.stats.kruskal(*samples)
        h, p = float(res.statistic), float(res.pvalue)
    extra["higher_in"] = None
    return make_result(method="Kruskal-Wallis", statistic_name="H", statistic=h, p_value=p,
                       permutations=0, n=n, n_groups=len(chosen), effect_size=h / (n - 1),
                       effect_size_name="epsilon_squared", extra=extra)


def _scipy_mwu_method(a: np.ndarray, b: np.ndarray) -> str:
    """Which p-value ``mannwhitneyu(method="auto")`` computes (scipy >= 1.11)."""
    pooled = np.concatenate([a, b])
    ties = len(np.unique(pooled)) < len(pooled)
    return "asymptotic" if (len(a) > 8 and len(b) > 8) or ties else "exact"


def _check_min_group_size(min_group_size: Any) -> int:
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int | np.integer) \
            or min_group_size < 1:
        raise InputError(f"min_group_size must be an integer >= 1; got {min_group_size!r}")
    return int(min_group_size)


def _check_index(index: pd.Index, what: str) -> None:
    if index.has_duplicates:
        dupes = index[index.duplicated()].unique().tolist()
        raise InputError(f"{what} has duplicated sample ids in its index: "
                         + ", ".join(map(repr, dupes[:10])))


def _numeric_series(values: Any, what: str) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise InputError(f"{what} must be a pandas Series indexed by sample id; "
                         f"got {type(values).__name__}")
    _check_index(values.index, what)
    if pd.api.types.is_bool_dtype(values.dtype) or not (
            pd.api.types.is_numeric_dtype(values.dtype) or values.dtype == object):
        raise ValidationError(f"{what} must be numeric; got dtype {values.dtype}")
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be numeric; got non-numeric values "
                              f"(dtype {values.dtype})") from None


def _labels_for(index: pd.Index, groups: Any) -> pd.Series:
    """Return the group label (as ``str``) of every id in ``index``."""
    if not isinstance(groups, pd.Series):
        raise InputError(f"groups must be a pandas Series indexed by sample id; "
                         f"got {type(groups).__name__}")
    _check_index(groups.index, "groups")
    absent = index.difference(groups.index, sort=False)
    if len(absent):
        raise NotFoundError("sample id", [str(i) for i in absent],
                            "the index of groups (values and groups are matched by "
                            "sample id)")
    labels = groups.reindex(index)
    unlabelled = labels.isna().to_numpy()
    if unlabelled.any():
        ids = [str(i) for i in index[unlabelled]]
        raise ValidationError(
            f"groups has no label (NaN/None) for {len(ids)} sample(s): "
            + ", ".join(map(repr, ids[:10])) + (" …" if len(ids) > 10 else "")
            + "; drop these samples first")
    return labels.map(str)


def _order(labels: pd.Series, order: Sequence[str] | None) -> list[str]:
    present = _sorted_labels(labels)
    if order is None:
        return present
    if isinstance(order, str):
        raise InputError(f"order must be a sequence of group labels, not a string; "
                         f"got {order!r}")
    chosen = [str(g) for g in order]
    if len(set(chosen)) != len(chosen):
        raise ValidationError(f"order must list each group once; got {chosen}")
    absent = [g for g in chosen if g not in present]
    if absent:
        raise ValidationError(
            f"order names group(s) with no samples: {', '.join(map(repr, absent))}; "
            f"expected labels among {present}")
    return chosen


def _sorted_labels(labels: pd.Series) -> list[str]:
    """Distinct labels, sorted numerically when all of them are numbers."""
    unique: list[Hashable] = list(pd.unique(labels.to_numpy()))
    try:
        return sorted(unique, key=lambda s: (float(s), str(s)))  # type: ignore[arg-type]
    except ValueError:
        return sorted(str(u) for u in unique)
