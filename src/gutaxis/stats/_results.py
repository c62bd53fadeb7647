"""The one shape every statistical test in gutaxis returns.

Every test (PERMANOVA now; PERMDISP, Mann–Whitney, Kruskal–Wallis... later)
builds its result with :func:`make_result`, so that results can be listed
side by side (``pandas.DataFrame([r.to_dict() for r in results])``) and
corrected for multiple testing together (:meth:`TestResult.with_q_value`).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.exceptions import ValidationError

__all__ = ["TestResult", "make_result"]

_FIELDS = ("method", "statistic_name", "statistic", "p_value", "permutations", "n",
           "n_groups", "effect_size", "effect_size_name", "q_value")


@dataclasses.dataclass(frozen=True)
class TestResult:
    """The result of one statistical test.

    Build instances with :func:`make_result`, which checks and normalises the
    values (plain Python ``int``/``float``, ``p`` in ``[0, 1]`` or NaN).

    Attributes
    ----------
    method : str
        The test (``"PERMANOVA"``).
    statistic_name : str
        Name of the test statistic (``"pseudo-F"``).
    statistic : float
        Value of the test statistic.
    p_value : float
        ``NaN`` when no p-value was computed (e.g. ``permutations=0``).
    permutations : int
        Number of permutations behind ``p_value`` (0 for tests that use an
        asymptotic distribution).
    n : int
        Number of samples (observations) the test used.
    n_groups : int
        Number of groups compared (0 when the test has no groups).
    effect_size : float
        Effect size (for PERMANOVA the R², ``SS_between / SS_total``).
    effect_size_name : str
        What ``effect_size`` is (``"R2"``).
    q_value : float or None
        False-discovery-rate–adjusted p-value, when the test was part of a
        family that was corrected; ``None`` otherwise.
    extra : dict
        Test-specific details (sums of squares, degrees of freedom, group
        sizes...); its keys never clash with the attribute names above.
    """

    __test__ = False  # not a pytest test class, despite the name

    method: str
    statistic_name: str
    statistic: float
    p_value: float
    permutations: int
    n: int
    n_groups: int
    effect_size: float
    effect_size_name: str
    q_value: float | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a flat dict: every attribute, then the ``extra`` entries.

        Examples
        --------
        >>> r = make_result(method="PERMANOVA", statistic_name="pseudo-F", statistic=2.5,
        ...                 p_value=0.01, permutations=999, n=10, n_groups=2,
        ...                 effect_size=0.24, effect_size_name="R2", extra={"df_between": 1})
        >>> r.to_dict()["df_between"], r.to_dict()["q_value"]
        (1, None)
        """
        out: dict[str, Any] = {name: getattr(self, name) for name in _FIELDS}
        out.update(self.extra)
        return out

    def with_q_value(self, q_value: float) -> TestResult:
        """Return a copy with ``q_value`` set (after a multiple-testing correction)."""
        return dataclasses.replace(self, q_value=_probability(q_value, "q_value"))


def _float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a number; got {value!r}") from None


def _probability(value: Any, name: str) -> float:
    p = _float(value, name)
    if not (math.isnan(p) or 0.0 <= p <= 1.0):
        raise ValidationError(f"{name} must be in [0, 1] or NaN; got {p!r}")
    return p


def table_value(value: Any) -> Any:
    """Return one cell of a result table as JSON: NaN, ±∞ and NA as None, NumPy as Python."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    return str(value)


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as plain Python values (for JSON and printing)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return value


def make_result(*, method: str, statistic_name: str, statistic: float, p_value: float,
                permutations: int, n: int, n_groups: int, effect_size: float,
                effect_size_name: str, q_value: float | None = None,
                extra: Mapping[str, Any] | None = None) -> TestResult:
    """Build a :class:`TestResult`, normalising and checking every value.

    Parameters
    ----------
    method, statistic_name, effect_size_name : str
        Names (see :class:`TestResult`).
    statistic, effect_size : float
        Converted to ``float`` (``inf``/NaN allowed).
    p_value : float
        In ``[0, 1]``, or NaN when not computed.
    permutations, n, n_groups : int
        Non-negative integers.
    q_value : float, optional
        In ``[0, 1]`` or NaN.
    extra : mapping, optional
        Test-specific values; NumPy scalars/arrays become Python values.  A key
        that repeats an attribute name is an error.

    Returns
    -------
    TestResult

    Raises
    ------
    ValidationError
        A statistic that is not a number, a p/q-value outside ``[0, 1]``, a
        count that is not a non-negative integer, or an ``extra`` key that
        clashes with an attribute (a ``ValueError`` too: these are mostly
        programming errors in a test).
    """
    counts = {"permutations": permutations, "n": n, "n_groups": n_groups}
    for name, value in counts.items():
        number = _float(value, name)
        if not number.is_integer() or number < 0:
            raise ValidationError(f"{name} must be a non-negative integer; got {value!r}")
    extra_dict = {str(k): _plain(v) for k, v in (extra or {}).items()}
    clash = sorted(set(extra_dict) & {*_FIELDS, "extra"})
    if clash:
        raise ValidationError(f"extra keys clash with TestResult attributes: "
                              f"{', '.join(clash)}")
    return TestResult(
        method=str(method),
        statistic_name=str(statistic_name),
        statistic=_float(statistic, "statistic"),
        p_value=_probability(p_value, "p_value"),
        permutations=int(permutations),
        n=int(n),
        n_groups=int(n_groups),
        effect_size=_float(effect_size, "effect_size"),
        effect_size_name=str(effect_size_name),
        q_value=None if q_value is None else _probability(q_value, "q_value"),
        extra=extra_dict,
    )
