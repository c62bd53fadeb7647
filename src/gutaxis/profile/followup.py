"""Change between two visits, and whether it is larger than the noise.

:func:`compare_visits` lines up a previous profile's measures with the
current ones and, for each, reports the change and whether it is a *real*
change: larger than a critical difference derived from the reference
cohort's spread, in the manner of a reference change value (RCV) [1]_.

The threshold, on the value scale of the measure::

    critical difference = z × √2 × s,    s = 1.4826 × MAD(reference values)

with ``z = 1.96`` (two-sided 95 %) and ``s`` the reference's robust standard
deviation (the median absolute deviation scaled to a normal SD).  The √2 is
that of the classic RCV: the difference of two measurements carries the
variance of both.

The classic RCV uses the *within-person* variation (biological CV_I and
analytical CV_A of repeated measurements of one person).  Microbiome
measures and most gut–immune markers have no established within-person
variation, so the spread *between* the reference's people stands in for it.
Between-person spread is larger than within-person variation, so this
threshold is conservative: it flags only large changes, and a change below
it may still be real for that person.

References
----------
.. [1] Fraser, C. G. (2011). Reference change values. *Clinical Chemistry
   and Laboratory Medicine* 50(5), 807–812. doi:10.1515/cclm.2011.733
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gutaxis.exceptions import InputError, UnitError
from gutaxis.markers import conversion_factor
from gutaxis.profile._model import Measure

if TYPE_CHECKING:
    from gutaxis.profile.reference import Reference

__all__ = ["compare_visits", "robust_sd", "critical_difference", "Z_95", "MAD_SCALE",
           "MIN_REFERENCE_VALUES"]

#: Two-sided 95 % normal quantile used for the critical difference.
Z_95 = 1.96
#: MAD → standard deviation of a normal distribution (1 / Φ⁻¹(3/4), rounded).
MAD_SCALE = 1.4826
#: Fewest finite reference values a spread is estimated from.
MIN_REFERENCE_VALUES = 10


def robust_sd(values: Sequence[float] | np.ndarray) -> float:
    """``1.4826 × median(|x − median(x)|)`` of the finite values (NaN when there are none).

    Examples
    --------
    >>> round(robust_sd([1.0, 2.0, 3.0, 4.0, 100.0]), 4)
    1.4826
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if not x.size:
        return float("nan")
    return float(MAD_SCALE * np.median(np.abs(x - np.median(x))))


def critical_difference(values: Sequence[float] | np.ndarray, *, z: float = Z_95) -> float:
    """``z × √2 × robust_sd(values)``: the smallest change called real.

    Examples
    --------
    >>> round(critical_difference([1.0, 2.0, 3.0, 4.0, 100.0]), 4)
    4.1096
    """
    return float(z * math.sqrt(2.0) * robust_sd(values))


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _previous(previous: Mapping[str, Any]) -> dict[str, tuple[float | None, str | None]]:
    """Measure id → (value, unit) from a profile.json, its measures, or id → value."""
    if not isinstance(previous, Mapping):
        raise InputError(f"`previous` must be a profile.json (a dict with \"measures\") or a "
                         f"dict of measure id → value; got {type(previous).__name__}")
    measures = previous.get("measures", previous)
    out: dict[str, tuple[float | None, str | None]] = {}
    if isinstance(measures, list):
        for position, item in enumerate(measures):
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                raise InputError(f"`previous`: measure {position} has no \"id\"; expected "
                                 "entries as written by Measure.to_dict")
            out[item["id"]] = (_number(item.get("value")), item.get("unit"))
        return out
    if not isinstance(measures, Mapping):
        raise InputError("`previous[\"measures\"]` must be a list of measures or a dict")
    for key, item in measures.items():
        if isinstance(item, Mapping):
            out[str(key)] = (_number(item.get("value")), item.get("unit"))
        else:
            out[str(key)] = (_number(item), None)
    return out


def _row(measure_id: str, label: str, kind: str, unit: str, before: float | None,
         after: float | None) -> dict[str, Any]:
    return {"id": measure_id, "label": label, "kind": kind, "unit": unit,
            "previous": before, "current": after, "change": None, "direction": None,
            "reference_sd": None, "critical_difference": None, "real_change": None,
            "notes": []}


def _judge(row: dict[str, Any], status: str | None, reference: Reference | None,
           z: float) -> None:
    """Fill the row's change, direction, reference SD, critical difference and verdict."""
    before, after, notes = row["previous"], row["current"], row["notes"]
    if before is None or after is None:
        notes.append("not measured at the " + ("previous" if before is None else "current")
                     + " visit: no change")
        return
    if not (math.isfinite(before) and math.isfinite(after)):
        notes.append("a value is infinite (e.g. an MD-index with no decreased genera): no change")
        return
    change = after - before
    row["change"] = change
    row["direction"] = "increase" if change > 0 else "decrease" if change < 0 else "no change"
    if status == "not comparable":
        notes.append("the current value is not comparable with the reference, so its spread "
                     "cannot judge the change")
        return
    values = None if reference is None else reference.measure_values(
        row["id"], unit=row.get("unit") or None)
    finite = 0 if values is None else int(np.isfinite(values).sum())
    if values is None or finite < MIN_REFERENCE_VALUES:
        notes.append("no reference distribution for this measure (a lab range only, or too "
                     "few reference values): the change is reported, but whether it is real "
                     "is not judged")
        return
    sd = robust_sd(values)
    row["reference_sd"] = sd
    if not sd > 0:
        notes.append("the reference's spread of this measure is zero (more than half of its "
                     "samples share one value, e.g. an absent taxon), so there is no threshold")
        return
    cd = float(z * math.sqrt(2.0) * sd)
    row["critical_difference"] = cd
    row["real_change"] = bool(abs(change) > cd)


def compare_visits(previous: Mapping[str, Any], current: Sequence[Measure],
                   reference: Reference | None, *, z: float = Z_95) -> list[dict[str, Any]]:
    """Change of every measure since the previous visit, and whether it is real.

    Parameters
    ----------
    previous : dict
        The previous visit: a ``profile.json`` document (its ``"measures"``
        list of :meth:`Measure.to_dict` entries), that list's dict form
        (``{"measures": {id: {"value", "unit"}}}``) or simply ``{id: value}``.
    current : sequence of Measure
        The current visit's measures.
    reference : Reference or None
        The reference whose spread sets the thresholds (None: changes are
        reported, none is judged).
    z : float, default 1.96
        Normal quantile of the critical difference.

    Returns
    -------
    list of dict
        One per current measure, then one per measure only in ``previous``:
        ``id``, ``label``, ``kind``, ``unit``, ``previous``, ``current``
        (in ``unit``), ``change`` (current − previous), ``direction``
        (``"increase"``/``"decrease"``/``"no change"``), ``reference_sd``
        (robust SD ``s``), ``critical_difference`` (``z × √2 × s``),
        ``real_change`` (``|change| > critical difference``; ``None`` when
        it cannot be judged) and ``notes`` (why not, unit conversions).

    Notes
    -----
    See the module notes: the critical difference is a reference change
    value [1]_ with the reference's between-person robust SD in place of the
    within-person variation, hence conservative.  A measure with no reference
    distribution — a marker with a lab range only, a measure the reference
    lacks or has fewer than :data:`MIN_REFERENCE_VALUES` values of — gets its
    change but ``real_change = None`` with a note; so does a measure whose
    current status is ``"not comparable"``.  A previous value in another
    unit is converted when the units convert (``ng/mL`` → ``ug/mL``).

    References
    ----------
    .. [1] Fraser, C. G. (2011). Reference change values. *Clin. Chem. Lab.
       Med.* 50(5), 807–812. doi:10.1515/cclm.2011.733

    Examples
    --------
    >>> m = Measure("marker:crp", "CRP", "marker", 9.0, "mg/L", "within")
    >>> row = compare_visits({"marker:crp": 4.0}, [m], None)[0]
    >>> row["change"], row["real_change"]
    (5.0, None)
    """
    if not (isinstance(z, int | float) and not isinstance(z, bool) and z > 0):
        raise InputError(f"`z` must be a number > 0 (1.96 for 95 %); got {z!r}")
    before = _previous(previous)
    listed = previous.get("measures") if isinstance(previous, Mapping) else None
    censored_before = {str(item.get("id")) for item in (listed if isinstance(listed, list) else [])
                       if isinstance(item, Mapping) and item.get("censored")}
    prior_version = None
    if isinstance(previous.get("reference"), Mapping):
        prior_version = previous["reference"].get("version")
    rows = []
    for m in current:
        value, unit = before.get(m.id, (None, None))
        row = _row(m.id, m.label, m.kind, m.unit, value, m.value)
        if value is not None and unit and m.unit and unit != m.unit:
            try:
                factor = conversion_factor(unit, m.unit)
            except UnitError:
                row["previous"] = None
                row["notes"].append(f"the previous value is in {unit}, which does not convert "
                                    f"to {m.unit}")
            else:
                row["previous"] = value * factor
                row["notes"].append(f"previous value converted from {unit} to {m.unit}")
        if m.id not in before:
            row["notes"].append("not in the previous profile")
        if m.censored or m.id in censored_before:
            # "<0.5" then "20": the earlier value is only known to lie below 0.5, so
            # neither the size nor the direction of the change is known.
            row["notes"].append("a value was reported only as beyond an assay limit "
                                "(censored): the change is not computed")
            rows.append(row)
            continue
        _judge(row, m.status, reference, float(z))
        if (prior_version and reference is not None and prior_version != reference.version
                and row["critical_difference"] is not None):
            row["notes"].append(f"the previous profile used reference version "
                                f"{str(prior_version)[:12]}; the threshold comes from "
                                f"{reference.version[:12]}")
        rows.append(row)
    seen = {m.id for m in current}
    for mid, (value, unit) in before.items():
        if mid not in seen:
            row = _row(mid, mid, "", unit or "", value, None)
            row["notes"].append("not in the current profile")
            rows.append(row)
    return rows
