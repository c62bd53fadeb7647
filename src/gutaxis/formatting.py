"""How numbers are written in text: one format for reports, summaries and messages.

The cohort report, the patient profile (its page, its PDF and the sentences
of its summary) and the console all write numbers through these functions,
so a value reads the same wherever it appears: three significant digits,
fractions as percentages, p-values with their permutation floor, and
percentiles with one decimal, the two ends said in words ("below every
reference sample" rather than a zero-width interval).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["is_missing", "format_number", "format_percent", "format_p", "format_value",
           "format_percentile", "format_percentile_with_ci", "format_ids"]


def is_missing(x: Any) -> bool:
    """Return whether ``x`` is no number: None, NaN, text, a boolean.

    Parameters
    ----------
    x : object

    Returns
    -------
    bool

    Examples
    --------
    >>> is_missing(None), is_missing(float("nan")), is_missing(2), is_missing(float("inf"))
    (True, True, False, False)
    """
    if x is None or isinstance(x, bool) or not isinstance(x, numbers.Real):
        return True
    return math.isnan(float(x))


def format_number(x: Any, digits: int = 3) -> str:
    """Write a number with ``digits`` significant digits.

    Parameters
    ----------
    x : object
    digits : int, default 3

    Returns
    -------
    str
        Thousands and more without exponent (``"12,345"``); ``"∞"``/``"−∞"``;
        ``"–"`` when missing.

    Examples
    --------
    >>> format_number(0.0123456), format_number(12345.6), format_number(None)
    ('0.0123', '12,346', '–')
    """
    if is_missing(x):
        return "–"
    v = float(x)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if abs(v) >= 10 ** digits:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def format_percent(fraction: Any) -> str:
    """Write a fraction as a percentage: one decimal from 1 %, two significant digits below.

    Parameters
    ----------
    fraction : object
        0–1.

    Returns
    -------
    str

    Examples
    --------
    >>> format_percent(0.00135), format_percent(0.2345), format_percent(0)
    ('0.14 %', '23.4 %', '0.0 %')
    """
    if is_missing(fraction):
        return "–"
    v = 100 * float(fraction)
    return f"{v:.1f} %" if abs(v) >= 1 or v == 0 else f"{v:.2g} %"


def format_p(p: Any, permutations: int = 0, *, phrase: bool = False) -> str:
    """Write a p- or q-value: ``"0.023"``, ``"< 0.001"``, or ``"≤ 0.001"``.

    Parameters
    ----------
    p : object
    permutations : int, default 0
        With permutations the smallest possible p is ``1 / (permutations + 1)``;
        a p at that floor is shown as ``"≤ floor"``.
    phrase : bool, default False
        Add ``"= "`` where needed, for ``f"p {format_p(p, phrase=True)}"``.

    Returns
    -------
    str

    Examples
    --------
    >>> format_p(0.0231), format_p(0.0004), format_p(0.001, 999), format_p(0.002, 999, phrase=True)
    ('0.023', '< 0.001', '≤ 0.001', '= 0.002')
    """
    if is_missing(p):
        return "not computed" if phrase else "–"
    if permutations > 0 and p <= (1 + 1e-9) / (permutations + 1):
        text = f"≤ {1 / (permutations + 1):.2g}"
    elif p < 0.001:
        text = "< 0.001"
    else:
        text = f"{p:.3f}"
    return f"= {text}" if phrase and text[0].isdigit() else text


def format_value(value: Any, unit: str = "", censored: str | None = None) -> str:
    """Write a measured value with its unit and censoring; fractions as percentages.

    Parameters
    ----------
    value : object
    unit : str
        ``"fraction"`` is written as a percentage.
    censored : {"<", ">"}, optional
        The value is an assay's limit: ``"<500 pg/mL"``.

    Returns
    -------
    str

    Examples
    --------
    >>> format_value(0.00135, "fraction"), format_value(500, "pg/mL", "<"), format_value(2.3)
    ('0.14 %', '<500 pg/mL', '2.3')
    """
    if is_missing(value):
        return "–"
    text = format_percent(value) if unit == "fraction" else format_number(value)
    if unit and unit != "fraction":
        text = f"{text} {unit}"
    return f"{censored}{text}" if censored else text


def format_percentile(p: Any) -> str:
    """Write a percentile (0–100) with one decimal; ``"<0.1"`` and ``">99.9"`` at the ends.

    One decimal everywhere, so that a bound that decides a status (below 5,
    above 95) reads as it was compared: 4.6, not 5.

    Parameters
    ----------
    p : object

    Returns
    -------
    str

    Examples
    --------
    >>> format_percentile(21.44), format_percentile(0.04), format_percentile(4.6)
    ('21.4', '<0.1', '4.6')
    """
    if is_missing(p):
        return "–"
    v = float(p)
    if 0 < v < 0.05:
        return "<0.1"
    if 99.95 < v < 100:
        return ">99.9"
    return f"{v:.1f}"


def format_percentile_with_ci(p: Any, low: Any = None, high: Any = None) -> str:
    """Write a reference percentile with its 95 % interval, the ends in words.

    Parameters
    ----------
    p : object
        The percentile (0–100).
    low, high : object, optional
        Its 95 % interval.

    Returns
    -------
    str
        ``"21.2 (95 % CI 10.4–33.0)"``; ``"below every reference sample"`` for 0
        and ``"above every reference sample"`` for 100 (where the interval is
        a single point); ``"–"`` when missing.

    Examples
    --------
    >>> format_percentile_with_ci(21.2, 10.4, 33.0)
    '21.2 (95 % CI 10.4–33.0)'
    >>> format_percentile_with_ci(0.0, 0.0, 0.0)
    'below every reference sample'
    """
    if is_missing(p):
        return "–"
    v = float(p)
    if v <= 0:
        return "below every reference sample"
    if v >= 100:
        return "above every reference sample"
    text = format_percentile(v)
    if not is_missing(low) and not is_missing(high):
        text += f" (95 % CI {format_percentile(low)}–{format_percentile(high)})"
    return text


def format_ids(ids: list[str], total: int, shown: int = 10) -> str:
    """Return the first ``shown`` of ``ids``, quoted, with "…" when ``total`` is more.

    Examples
    --------
    >>> format_ids(["a", "b", "c"], 3)
    "'a', 'b', 'c'"
    >>> format_ids(["a", "b", "c"], 40, shown=2)
    "'a', 'b' … (40 in all)"
    """
    text = ", ".join(map(repr, ids[:shown]))
    return text + (f" … ({total} in all)" if total > min(shown, len(ids)) else "")
