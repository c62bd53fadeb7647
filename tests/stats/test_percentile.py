"""Percentile of one value in a reference, with a bootstrap interval."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy.stats import percentileofscore

from gutaxis.exceptions import InputError, NotFoundError
from gutaxis.stats.percentile import (
    midrank_percentile,
    percentile_with_ci,
    percentiles_with_ci,
)


@pytest.mark.parametrize(("value", "reference", "expected"), [
    (2.0, [1.0, 2.0, 3.0, 4.0], 37.5),   # (1 + ½·1) / 4
    (2.5, [1.0, 2.0, 3.0, 4.0], 50.0),
    (0.0, [1.0, 2.0, 3.0, 4.0], 0.0),
    (9.0, [1.0, 2.0, 3.0, 4.0], 100.0),
    (1.0, [1.0, 1.0, 1.0, 1.0], 50.0),   # all tied: the middle
    (0.0, [0.0, 0.0, 0.0, 0.1, 0.2], 30.0),  # an absent taxon, absent in 60 % of the reference
    (2.0, [1.0, np.nan, 3.0], 50.0),     # NaN dropped, n = 2
])
def test_exact_small_cases(value: float, reference: list[float], expected: float) -> None:
    pct, lo, hi = percentile_with_ci(value, reference, n_boot=200)
    assert pct == pytest.approx(expected, abs=1e-12)
    assert midrank_percentile(value, np.array(reference)) == pytest.approx(expected, abs=1e-12)
    assert lo <= pct <= hi


def test_matches_scipy_kind_mean() -> None:
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 20, size=137).astype(float)  # many ties
    for value in (-1.0, 0.0, 3.0, 7.5, 10.0, 19.0, 25.0):
        expected = percentileofscore(reference, value, kind="mean")
        assert percentile_with_ci(value, reference, n_boot=10)[0] == pytest.approx(expected,
                                                                                   abs=1e-9)


def test_interval_contains_the_estimate_and_is_ordered() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=200)
    for value in np.linspace(-2.5, 2.5, 11):
        pct, lo, hi = percentile_with_ci(float(value), reference, n_boot=1000)
        assert 0 <= lo <= pct <= hi <= 100


def test_interval_narrows_with_a_larger_reference() -> None:
    rng = np.random.default_rng(1)
    small, large = rng.normal(size=30), rng.normal(size=3000)
    _, lo_s, hi_s = percentile_with_ci(0.5, small, n_boot=2000)
    _, lo_l, hi_l = percentile_with_ci(0.5, large, n_boot=2000)
    assert hi_l - lo_l < (hi_s - lo_s) / 4   # width ∝ 1/√n: 10× the √n


def test_extreme_values_pin_the_interval() -> None:
    reference = np.arange(50.0)
    assert percentile_with_ci(1000.0, reference) == (100.0, 100.0, 100.0)
    assert percentile_with_ci(-1.0, reference) == (0.0, 0.0, 0.0)
    assert percentile_with_ci(float("inf"), reference)[0] == 100.0


def test_deterministic_by_seed() -> None:
    reference = np.random.default_rng(2).lognormal(size=37)
    a = percentile_with_ci(1.0, reference, n_boot=99, seed=7)
    assert percentile_with_ci(1.0, reference, n_boot=99, seed=7) == a
    assert percentile_with_ci(1.0, reference, n_boot=99, seed=8) != a


def test_level_widens_the_interval() -> None:
    reference = np.random.default_rng(4).normal(size=100)
    _, lo50, hi50 = percentile_with_ci(0.2, reference, level=0.5)
    _, lo99, hi99 = percentile_with_ci(0.2, reference, level=0.99)
    assert lo99 <= lo50 and hi50 <= hi99 and hi99 - lo99 > hi50 - lo50


def test_interval_against_a_direct_bootstrap() -> None:
    """The weight-matrix bootstrap is the textbook one (same draws, resampled explicitly)."""
    reference = np.random.default_rng(5).normal(size=40)
    value, n_boot = 0.3, 500
    rng = np.random.default_rng(11)
    draws = rng.integers(0, 40, size=(n_boot, 40))
    boot = [midrank_percentile(value, reference[row]) for row in draws]
    expected = np.percentile(boot, [2.5, 97.5])
    _, lo, hi = percentile_with_ci(value, reference, n_boot=n_boot, seed=11)
    assert (lo, hi) == pytest.approx(tuple(expected), abs=1e-9)


def test_many_measures_match_one_at_a_time() -> None:
    rng = np.random.default_rng(6)
    reference = pd.DataFrame(rng.normal(size=(80, 4)), columns=list("abcd"))
    reference.loc[:9, "d"] = np.nan
    values = pd.Series({"a": 0.1, "b": -1.0, "c": 2.5, "d": 0.0})
    out = percentiles_with_ci(values, reference, n_boot=400, seed=3)
    assert list(out.index) == ["a", "b", "c", "d"]
    assert list(out.columns) == ["percentile", "ci_low", "ci_high", "n"]
    assert out.loc["d", "n"] == 70 and out.loc["a", "n"] == 80
    for m in "abc":  # no NaN: the same interval as the scalar function with the same seed
        expected = percentile_with_ci(values[m], reference[m], n_boot=400, seed=3)
        assert tuple(out.loc[m, ["percentile", "ci_low", "ci_high"]]) == pytest.approx(expected)
    assert out.loc["d", "percentile"] == pytest.approx(
        percentileofscore(reference["d"].dropna(), 0.0, kind="mean"))
    assert out.loc["d", "ci_low"] <= out.loc["d", "percentile"] <= out.loc["d", "ci_high"]


def test_many_measures_missing_values_and_names() -> None:
    reference = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [np.nan] * 3})
    out = percentiles_with_ci({"a": np.nan, "b": 1.0}, reference, n_boot=50)
    assert out[["percentile", "ci_low", "ci_high"]].isna().all().all()
    assert out["n"].tolist() == [3, 0]
    with pytest.raises(NotFoundError, match="'c'"):
        percentiles_with_ci({"c": 1.0}, reference)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_boot": 0}, "n_boot"),
    ({"n_boot": 1.5}, "n_boot"),
    ({"level": 1.0}, "level"),
    ({"seed": -1}, "seed"),
])
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        percentile_with_ci(1.0, [1.0, 2.0], **kwargs)


def test_bad_values() -> None:
    with pytest.raises(InputError, match="NaN"):
        percentile_with_ci(float("nan"), [1.0, 2.0])
    with pytest.raises(InputError, match="no values"):
        percentile_with_ci(1.0, [np.nan, np.nan])
    with pytest.raises(InputError, match="1-D"):
        percentile_with_ci(1.0, np.ones((2, 2)))


def test_fast_enough() -> None:
    """50 measures × 1,000 reference samples × 2,000 replicates well under 0.5 s."""
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(rng.lognormal(size=(1000, 50)),
                             columns=[f"m{i}" for i in range(50)])
    values = pd.Series(rng.lognormal(size=50), index=reference.columns)
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        percentiles_with_ci(values, reference, n_boot=2000)
        best = min(best, time.perf_counter() - start)
    assert best < 0.5


def test_clusters_resample_whole_people():
    """Ten identical samples per person: resampling people gives exactly the intervals of a
    one-sample-per-person reference with the same seed; resampling samples gives narrower."""
    rng = np.random.default_rng(4)
    people = pd.DataFrame({"a": rng.normal(size=25), "b": rng.lognormal(size=25)})
    repeated = people.loc[people.index.repeat(10)].reset_index(drop=True)
    persons = [f"p{i}" for i in people.index.repeat(10)]
    values = {"a": 0.3, "b": 1.2}
    one = percentiles_with_ci(values, people, n_boot=500, seed=3)
    clustered = percentiles_with_ci(values, repeated, n_boot=500, seed=3, clusters=persons)
    pd.testing.assert_frame_equal(clustered.drop(columns="n"), one.drop(columns="n"))
    assert clustered["n"].tolist() == [250, 250]
    naive = percentiles_with_ci(values, repeated, n_boot=500, seed=3)
    assert ((naive.ci_high - naive.ci_low) < 0.6 * (one.ci_high - one.ci_low)).all()
    with pytest.raises(InputError, match=r"clusters must give one label per reference row "
                                         r"\(250\); got 3"):
        percentiles_with_ci(values, repeated, clusters=["x", "y", "z"])
