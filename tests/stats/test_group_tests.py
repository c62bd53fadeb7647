"""Mann–Whitney / Kruskal–Wallis with effect sizes, and BH q-values.

Checked against scipy.stats (statistics and p-values), statsmodels (BH), and
small cases counted by hand.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from statsmodels.stats import multitest  # noqa: E402

from gutaxis.exceptions import InputError, NotFoundError, ValidationError
from gutaxis.stats._results import TestResult
from gutaxis.stats.group_tests import bh_adjust, compare_groups, compare_groups_many


def _series(values, labels, prefix: str = "s") -> tuple[pd.Series, pd.Series]:
    ids = [f"{prefix}{i}" for i in range(len(values))]
    return (pd.Series(values, index=ids, dtype=float),
            pd.Series(labels, index=ids, dtype=object))


def _pairs_delta(a: np.ndarray, b: np.ndarray) -> float:
    """Cliff's delta of ``b`` against ``a`` by counting every pair."""
    greater = sum(1 for x, y in itertools.product(a, b) if y > x)
    less = sum(1 for x, y in itertools.product(a, b) if y < x)
    return (greater - less) / (len(a) * len(b))


# ------------------------------------------------------------------ BH
def test_bh_by_hand() -> None:
    # sorted: 0.005, 0.01, 0.03, 0.04 → ×4/rank: 0.02, 0.02, 0.04, 0.04
    q = bh_adjust([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(q, [0.02, 0.04, 0.04, 0.02], rtol=1e-15)
    # sorted 0.02, 0.03, 0.04 → ×3/rank: 0.06, 0.045, 0.04 → running minimum from the top
    np.testing.assert_allclose(bh_adjust([0.03, 0.02, 0.04]), [0.04, 0.04, 0.04], rtol=1e-15)
    np.testing.assert_allclose(bh_adjust([0.1, 0.9, 0.6]), [0.3, 0.9, 0.9], rtol=1e-15)
    # capped at 1
    np.testing.assert_array_equal(bh_adjust([1.0, 0.8]), [1.0, 1.0])


@pytest.mark.parametrize("seed", range(5))
def test_bh_matches_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = 200
    p = np.concatenate([rng.uniform(size=m - 40), rng.uniform(0, 0.01, size=30),
                        np.full(10, 0.5)])  # some ties
    p = rng.permutation(p)
    expected = multitest.multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(bh_adjust(p), expected, rtol=1e-13, atol=0)


def test_bh_nan_are_kept_and_not_counted() -> None:
    rng = np.random.default_rng(7)
    p = rng.uniform(size=50)
    holes = rng.choice(50, size=12, replace=False)
    p_nan = p.copy()
    p_nan[holes] = np.nan
    q = bh_adjust(p_nan)
    assert np.isnan(q[holes]).all()
    kept = np.setdiff1d(np.arange(50), holes)
    np.testing.assert_allclose(q[kept], multitest.multipletests(p[kept], method="fdr_bh")[1],
                               rtol=1e-13)
    assert bh_adjust([]).shape == (0,)
    assert np.isnan(bh_adjust([np.nan, np.nan])).all()
    # a pandas Series works (positional result)
    np.testing.assert_allclose(bh_adjust(pd.Series([0.01, 0.02], index=["x", "y"])),
                               [0.02, 0.02])


@pytest.mark.parametrize(("p", "match"), [
    ([0.1, 1.5], r"must be in \[0, 1\] or NaN; got 1.5"),
    ([-0.1], r"must be in \[0, 1\] or NaN; got -0.1"),
    ([np.inf], r"got inf"),
    ([[0.1, 0.2]], r"one-dimensional; got shape \(1, 2\)"),
    (["a"], "not numbers"),
])
def test_bh_errors(p, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        bh_adjust(p)


# ------------------------------------------------------- Mann–Whitney U
def test_two_groups_small_case_by_hand() -> None:
    # Control [1, 3, 5], Patient [2, 4, 6, 6]: pairs (patient > control) = 1+2+3+3 = 9 ...
    values, groups = _series([1, 3, 5, 2, 4, 6, 6], ["C"] * 3 + ["P"] * 4)
    res = compare_groups(values, groups, order=["C", "P"])
    a, b = np.array([1.0, 3, 5]), np.array([2.0, 4, 6, 6])
    # U of the first group: #{control > patient}: 3>2, 5>2, 5>4 = 3
    assert res.statistic == 3.0
    # delta = (#(b > a) - #(b < a)) / 12 = (9 - 3) / 12 = 0.5
    assert res.effect_size == pytest.approx(0.5, abs=1e-15)
    assert res.effect_size == pytest.approx(_pairs_delta(a, b), abs=1e-15)
    sp = scipy.stats.mannwhitneyu(a, b, alternative="two-sided", method="auto")
    assert res.statistic == sp.statistic and res.p_value == sp.pvalue
    assert res.method == "Mann-Whitney U" and res.statistic_name == "U"
    assert res.effect_size_name == "rank_biserial"
    assert res.n == 7 and res.n_groups == 2 and res.permutations == 0 and res.q_value is None
    assert res.extra["groups"] == ["C", "P"]
    assert res.extra["medians"] == {"C": 3.0, "P": 5.0}
    assert res.extra["n_per_group"] == {"C": 3, "P": 4}
    assert res.extra["missing"] == 0 and res.extra["higher_in"] == "P"
    # the other order flips the sign and gives the other U
    flipped = compare_groups(values, groups, order=["P", "C"])
    assert flipped.effect_size == -res.effect_size
    assert flipped.statistic == 12 - res.statistic
    assert flipped.p_value == pytest.approx(res.p_value, rel=1e-12)
    assert flipped.extra["higher_in"] == "P"


@pytest.mark.parametrize(("na", "nb", "seed", "tied"), [
    (3, 5, 0, False), (6, 12, 1, False), (8, 8, 2, True), (9, 9, 3, False),
    (25, 40, 4, True), (200, 150, 5, True), (12, 4, 6, False),
])
def test_two_groups_match_scipy(na: int, nb: int, seed: int, tied: bool) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=na)
    b = rng.normal(0.7, size=nb)
    if tied:
        a, b = np.round(a, 0), np.round(b, 0)
    values, groups = _series(np.concatenate([a, b]), ["ctl"] * na + ["pat"] * nb)
    res = compare_groups(values, groups)  # sorted order: ctl, pat
    sp = scipy.stats.mannwhitneyu(a, b, alternative="two-sided", method="auto")
    assert res.statistic == sp.statistic
    assert res.p_value == pytest.approx(sp.pvalue, rel=1e-12)
    # the p-value scipy chose is the one reported
    explicit = scipy.stats.mannwhitneyu(a, b, method=res.extra["scipy_method"])
    assert res.p_value == pytest.approx(explicit.pvalue, rel=1e-12)
    assert res.extra["scipy_method"] == ("asymptotic" if tied or min(na, nb) > 8 else "exact")
    # rank-biserial: from U, and by counting pairs (= Cliff's delta)
    u_b = na * nb - sp.statistic
    assert res.effect_size == pytest.approx(2 * u_b / (na * nb) - 1, abs=1e-14)
    assert res.effect_size == pytest.approx(_pairs_delta(a, b), abs=1e-14)


def test_higher_in_on_equal_medians_follows_the_effect() -> None:
    # equal medians (2), but patients tend higher: delta > 0
    values, groups = _series([1, 2, 2.5, 1.5, 2, 9], ["C"] * 3 + ["P"] * 3)
    res = compare_groups(values, groups)
    assert res.extra["medians"]["C"] == res.extra["medians"]["P"] == 2.0
    assert res.effect_size > 0 and res.extra["higher_in"] == "P"
    # identical distributions: effect 0, nobody higher
    values, groups = _series([1, 2, 3, 3, 2, 1], ["C"] * 3 + ["P"] * 3)
    res = compare_groups(values, groups)
    assert res.effect_size == 0 and res.extra["higher_in"] is None


def test_missing_values_are_dropped_and_counted() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=30)
    labels = ["a"] * 10 + ["b"] * 12 + ["c"] * 8
    x[[0, 4, 15, 29]] = np.nan
    values, groups = _series(x, labels)
    res = compare_groups(values, groups, order=["a", "b"])
    assert res.extra["missing"] == 3  # the NaN in group c is not among the compared
    assert res.extra["excluded"] == 8
    assert res.extra["n_per_group"] == {"a": 8, "b": 11} and res.n == 19
    a = x[:10][~np.isnan(x[:10])]
    b = x[10:22][~np.isnan(x[10:22])]
    sp = scipy.stats.mannwhitneyu(a, b)
    assert res.statistic == sp.statistic and res.p_value == pytest.approx(sp.pvalue)
    res3 = compare_groups(values, groups)
    assert res3.extra["missing"] == 4 and res3.extra["excluded"] == 0 and res3.n == 26


def test_alignment_by_index() -> None:
    values, groups = _series([1, 2, 3, 10, 11, 12], ["x"] * 3 + ["y"] * 3)
    shuffled = groups.iloc[[5, 0, 3, 1, 4, 2]]
    extra = pd.concat([shuffled, pd.Series(["z"], index=["other"])])
    res = compare_groups(values, extra)
    assert res.statistic == 0 and res.extra["groups"] == ["x", "y"]
    assert res.extra["n_per_group"] == {"x": 3, "y": 3}


def test_numeric_labels_are_sorted_numerically() -> None:
    values, groups = _series(np.arange(9.0), [10] * 3 + [2] * 3 + [1] * 3)
    res = compare_groups(values, groups)
    assert res.extra["groups"] == ["1", "2", "10"]


# ------------------------------------------------------- Kruskal–Wallis
def test_kruskal_by_hand() -> None:
    # no ties: ranks a = 1,2,4 (7); b = 3,5,6 (14); c = 7,8,9 (24); n = 9
    values, groups = _series([1, 2, 4, 3, 5, 6, 7, 8, 9], list("aaabbbccc"))
    res = compare_groups(values, groups)
    h = 12 / (9 * 10) * (7**2 / 3 + 14**2 / 3 + 24**2 / 3) - 3 * 10
    assert res.statistic == pytest.approx(h, rel=1e-13)
    assert res.effect_size == pytest.approx(h / 8, rel=1e-13)
    assert res.p_value == pytest.approx(scipy.stats.chi2.sf(h, 2), rel=1e-12)
    assert res.method == "Kruskal-Wallis" and res.statistic_name == "H"
    assert res.effect_size_name == "epsilon_squared" and res.n_groups == 3
    assert res.extra["higher_in"] is None
    assert res.extra["medians"] == {"a": 2.0, "b": 5.0, "c": 8.0}


@pytest.mark.parametrize(("sizes", "seed", "tied"), [
    ((5, 6, 7), 0, False), ((20, 3, 30, 11), 1, True), ((100, 80, 60), 2, True),
])
def test_kruskal_matches_scipy(sizes, seed: int, tied: bool) -> None:
    rng = np.random.default_rng(seed)
    samples = [rng.normal(0.3 * k, size=s) for k, s in enumerate(sizes)]
    if tied:
        samples = [np.round(s * 2) for s in samples]
    labels = [f"g{k}" for k, s in enumerate(sizes) for _ in range(s)]
    values, groups = _series(np.concatenate(samples), labels)
    res = compare_groups(values, groups)
    sp = scipy.stats.kruskal(*samples)
    assert res.statistic == pytest.approx(sp.statistic, rel=1e-13)
    assert res.p_value == pytest.approx(sp.pvalue, rel=1e-12)
    n = sum(sizes)
    assert res.effect_size == pytest.approx(sp.statistic / (n - 1), rel=1e-13)
    assert 0 <= res.effect_size <= 1


# ------------------------------------------------------- constant values
def test_all_values_equal_gives_nan_p_without_warnings() -> None:
    values, groups = _series([2.0] * 7, ["a"] * 3 + ["b"] * 4)
    res = compare_groups(values, groups)
    assert math.isnan(res.p_value) and res.statistic == 6.0 and res.effect_size == 0.0
    assert res.extra["higher_in"] is None
    values, groups = _series([0.0] * 9, list("aaabbbccc"))
    res = compare_groups(values, groups)
    assert math.isnan(res.p_value) and math.isnan(res.statistic)
    assert math.isnan(res.effect_size)


# ------------------------------------------------------------------ many
def test_compare_groups_many() -> None:
    rng = np.random.default_rng(11)
    ids = [f"s{i}" for i in range(40)]
    groups = pd.Series(["C"] * 18 + ["P"] * 22, index=ids)
    frame = pd.DataFrame(rng.normal(size=(40, 6)), index=ids,
                         columns=["crp", "il6", "lbp", "zonulin", "scd14", "const"])
    frame.iloc[18:, 0] += 2.0
    frame["const"] = 1.0
    frame.iloc[[1, 30], 2] = np.nan
    res = compare_groups_many(frame, groups, order=["C", "P"])
    assert list(res) == list(frame.columns)
    assert all(isinstance(r, TestResult) for r in res.values())
    p = np.array([r.p_value for r in res.values()])
    q = np.array([r.q_value for r in res.values()])
    np.testing.assert_array_equal(q, bh_adjust(p))
    assert math.isnan(p[-1]) and math.isnan(q[-1])
    np.testing.assert_allclose(q[:-1], multitest.multipletests(p[:-1], method="fdr_bh")[1],
                               rtol=1e-13)
    for name, r in res.items():
        single = compare_groups(frame[name], groups, order=["C", "P"])
        assert r.statistic == single.statistic
        assert r.p_value == single.p_value or math.isnan(r.p_value)
    assert res["lbp"].extra["missing"] == 2
    assert res["crp"].extra["higher_in"] == "P"


def test_compare_groups_many_names_the_column() -> None:
    ids = [f"s{i}" for i in range(8)]
    groups = pd.Series(["C"] * 4 + ["P"] * 4, index=ids)
    frame = pd.DataFrame({"ok": np.arange(8.0), "holey": [1, np.nan, np.nan, 2, 3, 4, 5, 6]},
                         index=ids)
    with pytest.raises(ValidationError, match=r"column 'holey': .*group 'C' has 2"):
        compare_groups_many(frame, groups)
    with pytest.raises(InputError, match="duplicated column names: 'x'"):
        compare_groups_many(pd.DataFrame(np.zeros((8, 2)), index=ids, columns=["x", "x"]),
                            groups)
    with pytest.raises(InputError, match="frame must be a pandas DataFrame"):
        compare_groups_many(np.zeros((8, 2)), groups)  # type: ignore[arg-type]


# ------------------------------------------------------------------ errors
def test_group_size_errors() -> None:
    values, groups = _series([1, 2, 3, 4, 5, np.nan], ["a"] * 3 + ["b"] * 3)
    with pytest.raises(ValidationError,
                       match=r"at least 3 non-missing value\(s\) \(min_group_size\); "
                             r"group 'b' has 2"):
        compare_groups(values, groups)
    res = compare_groups(values, groups, min_group_size=2)
    assert res.extra["n_per_group"] == {"a": 3, "b": 2}
    values, groups = _series([1, 2, 3, np.nan, np.nan, np.nan], ["a"] * 3 + ["b"] * 3)
    with pytest.raises(ValidationError,
                       match=r"at least 2 groups with data; got 1 \('a': 3, 'b': 0"):
        compare_groups(values, groups)
    values, groups = _series([1, 2, 3], ["a"] * 3)
    with pytest.raises(ValidationError, match="at least 2 groups with data; got 1"):
        compare_groups(values, groups)


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"order": ["a", "zz"]}, ValidationError,
     r"order names group\(s\) with no samples: 'zz'; expected labels among \['a', 'b'\]"),
    ({"order": ["a", "a"]}, ValidationError, "order must list each group once"),
    ({"order": "ab"}, InputError, "order must be a sequence of group labels, not a string"),
    ({"min_group_size": 0}, InputError, "min_group_size must be an integer >= 1; got 0"),
    ({"min_group_size": 2.5}, InputError, "min_group_size must be an integer >= 1; got 2.5"),
])
def test_option_errors(kwargs: dict, exc: type, match: str) -> None:
    values, groups = _series(np.arange(6.0), ["a"] * 3 + ["b"] * 3)
    with pytest.raises(exc, match=match):
        compare_groups(values, groups, **kwargs)


def test_input_errors() -> None:
    values, groups = _series(np.arange(6.0), ["a"] * 3 + ["b"] * 3)
    with pytest.raises(InputError, match="values must be a pandas Series indexed by sample id"):
        compare_groups(values.to_numpy(), groups)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="groups must be a pandas Series"):
        compare_groups(values, list(groups))  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match=r"1 sample id\(s\) not found in the index of groups"):
        compare_groups(values, groups.iloc[1:])
    gaps = groups.copy()
    gaps.iloc[4] = None
    with pytest.raises(ValidationError, match=r"no label \(NaN/None\) for 1 sample\(s\): 's4'"):
        compare_groups(values, gaps)
    with pytest.raises(ValidationError, match="values must be numeric; got dtype bool"):
        compare_groups(values > 2, groups)
    words = pd.Series(list("abcdef"), index=values.index)
    with pytest.raises(ValidationError, match="values must be numeric; got non-numeric"):
        compare_groups(words, groups)
    dup = pd.Series([1.0, 2.0], index=["s0", "s0"])
    with pytest.raises(InputError, match=r"duplicated sample ids in its index: 's0'"):
        compare_groups(dup, groups)
