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

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from gutaxis.checks import check_type
from gutaxis.exceptions import InputError, UnitError, ValidationError
from gutaxis.knowledge import load_taxa_catalog
from gutaxis.markers import conversion_factor
from gutaxis.measures import Measure
from gutaxis.profile._model import FollowupRow, Visit
from gutaxis.reference import Reference

__all__ = ["compare_visits", "robust_sd", "critical_difference", "Z_95", "MAD_SCALE",
           "MIN_REFERENCE_VALUES"]

#: Two-sided 95 % normal quantile used for the critical difference.
Z_95 = 1.96
#: MAD → standard deviation of a normal distribution (1 / Φ⁻¹(3/4), rounded).
MAD_SCALE = 1.4826
#: Fewest finite reference values a spread is estimated from.
MIN_REFERENCE_VALUES = 10


def robust_sd(values: Sequence[float] | np.ndarray) -> float:
    """Return ``1.4826 × median(|x − median(x)|)`` of the finite values (NaN when none).

    Infinite values (an MD-index of −∞) are left out: they lie at no finite
    distance from the median, and the spread serves to judge a change between
    two finite values.  :func:`compare_visits` says when it left some out.

    Parameters
    ----------
    values : sequence of float

    Returns
    -------
    float

    Raises
    ------
    ValidationError
        ``values`` are not numbers.

    Examples
    --------
    >>> round(robust_sd([1.0, 2.0, 3.0, 4.0, 100.0]), 4)
    1.4826
    """
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"robust_sd: the values must be numbers; got "
                              f"{str(values)[:60]}") from None
    x = x[np.isfinite(x)]
    if not x.size:
        return float("nan")
    return float(MAD_SCALE * np.median(np.abs(x - np.median(x))))


def critical_difference(values: Sequence[float] | np.ndarray, *, z: float = Z_95) -> float:
    """Return ``z × √2 × robust_sd(values)``: the smallest change called real.

    Parameters
    ----------
    values : sequence of float
        The reference's values.
    z : float, default 1.96
        The normal quantile (1.96 for 95 %), > 0.

    Returns
    -------
    float

    Raises
    ------
    InputError
        ``z`` is not a number > 0.
    ValidationError
        ``values`` are not numbers.

    Examples
    --------
    >>> round(critical_difference([1.0, 2.0, 3.0, 4.0, 100.0]), 4)
    4.1096
    """
    _check_z(z)
    return float(z * math.sqrt(2.0) * robust_sd(values))


def _check_z(z: object) -> None:
    if not (isinstance(z, int | float) and not isinstance(z, bool) and z > 0):
        raise InputError(f"`z` must be a number > 0 (1.96 for 95 %); got {z!r}")


def _judge(row: FollowupRow, status: str | None, reference: Reference | None,
           z: float) -> FollowupRow:
    """Return the row with its change, direction, reference SD, critical difference, verdict."""
    before, after = row.previous, row.current
    notes = list(row.notes)
    if before is None or after is None:
        when = ("either" if before is None and after is None
                else "the previous" if before is None else "the current")
        notes.append(f"not measured at {when} visit: no change")
        return dataclasses.replace(row, notes=tuple(notes))
    if not (math.isfinite(before) and math.isfinite(after)):
        return _infinite(row, before, after, notes)
    change = after - before
    direction: Literal["increase", "decrease", "no change"] = (
        "increase" if change > 0 else "decrease" if change < 0 else "no change")
    row = dataclasses.replace(row, change=change, direction=direction)
    if status == "not comparable":
        notes.append("the current value is not comparable with the reference, so its spread "
                     "cannot judge the change")
        return dataclasses.replace(row, notes=tuple(notes))
    values = None if reference is None else reference.measure_values(row.id,
                                                                     unit=row.unit or None)
    finite = 0 if values is None else int(np.isfinite(values).sum())
    if values is None or finite < MIN_REFERENCE_VALUES:
        notes.append("no reference distribution for this measure (a lab range only, or too "
                     "few reference values): the change is reported, but whether it is real "
                     "is not judged")
        return dataclasses.replace(row, notes=tuple(notes))
    sd = robust_sd(values)
    infinite = int(np.count_nonzero(np.isinf(values)))
    if infinite:
        notes.append(f"the reference's spread leaves out its {infinite} infinite value(s)")
    if not sd > 0:
        notes.append("the reference's spread of this measure is zero (more than half of its "
                     "samples share one value, e.g. an absent taxon), so there is no threshold")
        return dataclasses.replace(row, reference_sd=sd, notes=tuple(notes))
    cd = float(z * math.sqrt(2.0) * sd)
    return dataclasses.replace(row, reference_sd=sd, critical_difference=cd,
                               real_change=bool(abs(change) > cd), notes=tuple(notes))


def _infinite(row: FollowupRow, before: float, after: float, notes: list[str]) -> FollowupRow:
    """Judge a change with a value at ±∞: its direction when defined, never a verdict."""
    meaning = _infinity_meaning(row.id)
    if before == after:  # the same infinity twice: inf − inf is not defined
        notes.append(f"both values are {_inf(after)}{meaning}: the difference of two infinite "
                     "values is not defined, so no change is computed (the value is the same)")
        return dataclasses.replace(row, direction="no change", notes=tuple(notes))
    change = after - before  # ±∞: one value is infinite, or they are infinities of both signs
    direction: Literal["increase", "decrease"] = "increase" if change > 0 else "decrease"
    which = "previous" if math.isinf(before) else "current"
    notes.append(f"the {which} value is {_inf(before if which == 'previous' else after)}"
                 f"{meaning}: the change is infinite ({direction}); a threshold on the value "
                 "scale cannot judge whether it is real")
    return dataclasses.replace(row, change=change, direction=direction, notes=tuple(notes))


def _inf(value: float) -> str:
    return "−∞" if value < 0 else "+∞"


def _infinity_meaning(measure: str) -> str:
    """Return what −∞ means for this measure (the MD-index: from the knowledge base), or ""."""
    if measure != "index:md_index":
        return ""
    meaning = load_taxa_catalog().indices.md_index.minus_infinity
    return f" ({meaning})" if meaning else ""


def _previous_value(measure: Measure, value: float | None, unit: str
                    ) -> tuple[float | None, list[str]]:
    """Return the previous value in the current measure's unit, with a note when converted."""
    if value is None or not unit or not measure.unit or unit == measure.unit:
        return value, []
    try:
        factor = conversion_factor(unit, measure.unit)
    except UnitError:
        return None, [f"the previous value is in {unit}, which does not convert to "
                      f"{measure.unit}"]
    return value * factor, [f"previous value converted from {unit} to {measure.unit}"]


def compare_visits(previous: Visit, current: Sequence[Measure], reference: Reference | None,
                   *, z: float = Z_95) -> list[FollowupRow]:
    """Compute the change of every measure since the previous visit, and whether it is real.

    Parameters
    ----------
    previous : Visit
        The previous visit (:func:`~gutaxis.profile.read_visit`).
    current : sequence of Measure
        The current visit's measures.
    reference : Reference or None
        The reference whose spread sets the thresholds (None: changes are
        reported, none is judged).
    z : float, default 1.96
        Normal quantile of the critical difference.

    Returns
    -------
    list of FollowupRow
        One per current measure, then one per measure only in ``previous``.

    Raises
    ------
    InputError
        ``z`` is not a number > 0; ``previous``, ``reference`` or a current
        measure of the wrong type.

    Notes
    -----
    See the module notes: the critical difference is a reference change
    value [1]_ with the reference's between-person robust SD in place of the
    within-person variation, hence conservative.  A measure with no reference
    distribution — a marker with a lab range only, a measure the reference
    lacks or has fewer than :data:`MIN_REFERENCE_VALUES` values of — gets its
    change but ``real_change = None`` with a note; so does a measure whose
    current status is ``"not comparable"``.  A value reported only as beyond
    an assay limit (censored, at either visit) keeps its ``<``/``>`` and gets
    no change: neither its size nor its direction is known.  A previous value
    in another unit is converted when the units convert (``ng/mL`` → ``ug/mL``).

    Infinite values (an MD-index of −∞: none of its increased genera in the
    sample) are handled as what they are: a finite value after −∞ is an
    infinite increase (``change = inf``), reported with its direction and no
    verdict; −∞ at both visits is the same value, whose difference is not
    defined (``change`` None, ``direction`` "no change", and a note says so).

    References
    ----------
    .. [1] Fraser, C. G. (2011). Reference change values. *Clin. Chem. Lab.
       Med.* 50(5), 807–812. doi:10.1515/cclm.2011.733

    Examples
    --------
    >>> from gutaxis.profile import Visit
    >>> before = Visit("S1", None, "2025-01-01", None, {"marker:crp": (4.0, "mg/L", None)})
    >>> m = Measure("marker:crp", "CRP", "marker", 9.0, "mg/L", "within")
    >>> row = compare_visits(before, [m], None)[0]
    >>> row.change, row.real_change
    (5.0, None)
    """
    _check_z(z)
    check_type(previous, Visit, "previous", hint="read a profile.json with "
               "gutaxis.profile.read_visit")
    if reference is not None:
        check_type(reference, Reference, "reference", hint="read a reference folder with "
                   "gutaxis.reference.load_reference; or None")
    rows = []
    for m in current:
        check_type(m, Measure, "each current measure", hint="the measures of a Profile")
        value, unit, censored_before = previous.values.get(m.id, (None, "", None))
        converted, notes = _previous_value(m, value, unit)
        if m.id not in previous.values:
            notes.append("not in the previous profile")
        row = FollowupRow(m.id, m.label, m.kind, m.unit, converted, m.value,
                          previous_censored=censored_before, current_censored=m.censored,
                          notes=tuple(notes))
        if m.censored or censored_before:
            # "<0.5" then "20": the earlier value is only known to lie below 0.5, so
            # neither the size nor the direction of the change is known.
            rows.append(dataclasses.replace(row, notes=(
                *row.notes, "a value was reported only as beyond an assay limit (censored): "
                "the change is not computed")))
            continue
        row = _judge(row, m.status, reference, float(z))
        if (previous.reference_version and reference is not None
                and previous.reference_version != reference.version
                and row.critical_difference is not None):
            row = dataclasses.replace(row, notes=(
                *row.notes, f"the previous profile used reference version "
                f"{previous.reference_version[:12]}; the threshold comes from "
                f"{reference.version[:12]}"))
        rows.append(row)
    seen = {m.id for m in current}
    for mid, (value, unit, censored) in previous.values.items():
        if mid not in seen:
            rows.append(FollowupRow(mid, previous.labels.get(mid, mid), "", unit, value, None,
                                    previous_censored=censored,
                                    notes=("not in the current profile",)))
    return rows
