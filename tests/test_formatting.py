"""How numbers are written in text (gutaxis.formatting): one format everywhere."""

from __future__ import annotations

import math

import pytest

from gutaxis.formatting import (
    format_number,
    format_p,
    format_percent,
    format_percentile,
    format_percentile_with_ci,
    format_value,
    is_missing,
)


@pytest.mark.parametrize(("p", "permutations", "expected"), [
    (0.0231, 0, "0.023"), (0.0004, 0, "< 0.001"), (0.5, 0, "0.500"), (1.0, 0, "1.000"),
    (0.001, 999, "≤ 0.001"), (0.002, 999, "0.002"), (0.01, 99, "≤ 0.01"),
    (0.0001, 9999, "≤ 0.0001"), (0.0003, 9999, "< 0.001"), (float("nan"), 999, "–"),
    (None, 0, "–"),
])
def test_format_p(p, permutations, expected):
    assert format_p(p, permutations) == expected


def test_format_p_phrase():
    assert format_p(0.03, phrase=True) == "= 0.030"
    assert format_p(0.0002, phrase=True) == "< 0.001"
    assert format_p(0.001, 999, phrase=True) == "≤ 0.001"
    assert format_p(float("nan"), phrase=True) == "not computed"


@pytest.mark.parametrize(("x", "expected"), [
    (1.9234, "1.92"), (0.02204, "0.022"), (845.5, "846"), (12345.6, "12,346"), (-2.0, "-2"),
    (float("nan"), "–"), (None, "–"), (3, "3"),
])
def test_format_number(x, expected):
    assert format_number(x) == expected


@pytest.mark.parametrize(("x", "expected"), [
    (0.00135, "0.14 %"), (0.2345, "23.4 %"), (0.0, "0.0 %"), (1.0, "100.0 %"),
    (float("nan"), "–"), (None, "–"),
])
def test_format_percent(x, expected):
    assert format_percent(x) == expected


def test_format_value_keeps_the_censoring_and_writes_fractions_as_percentages():
    assert format_value(0.00135, "fraction") == "0.14 %"  # not "0.00135 fraction"
    assert format_value(500.0, "pg/mL", "<") == "<500 pg/mL"
    assert format_value(1800, "ug/g", ">") == ">1,800 ug/g"
    assert format_value(-math.inf) == "−∞"
    assert format_value(None, "pg/mL", "<") == "–"


@pytest.mark.parametrize(("p", "low", "high", "expected"), [
    (21.24, 10.4, 33.0, "21.2 (95 % CI 10.4–33.0)"),
    (1.7, 0.8, 3.9, "1.7 (95 % CI 0.8–3.9)"),
    (4.95, 4.6, 4.99, "5.0 (95 % CI 4.6–5.0)"),
    (0.0, 0.0, 0.0, "below every reference sample"),
    (100.0, 100.0, 100.0, "above every reference sample"),
    (0.03, 0.0, 0.4, "<0.1 (95 % CI 0.0–0.4)"),
    (99.97, 99.9, 100.0, ">99.9 (95 % CI 99.9–100.0)"),
    (50.0, None, None, "50.0"),
    (None, None, None, "–"),
])
def test_one_percentile_format(p, low, high, expected):
    """One decimal everywhere (a bound that decides 'low' reads 4.6, not 5); ends in words."""
    assert format_percentile_with_ci(p, low, high) == expected


def test_is_missing():
    assert [is_missing(x) for x in (None, math.nan, "3", True, 0, -math.inf)] == [
        True, True, True, True, False, False]
    assert format_percentile(math.nan) == "–"
