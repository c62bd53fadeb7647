"""A marker value placed against a range: the lab's own, else a published cut-off.

Two layers, as elsewhere in gutaxis: :func:`interpret_marker` judges one value
of one catalogue entry; :func:`interpret_result` judges one
:class:`~gutaxis.markers.MarkerResult` (a ``LABS.csv`` row or a metadata
value).  Both return :class:`gutaxis.measures.Measure` objects with
``id = "marker:<id>"``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from gutaxis.checks import check_number, check_type
from gutaxis.exceptions import ValidationError
from gutaxis.knowledge import Cutoff, MarkerEntry, classify
from gutaxis.markers._result import MarkerResult
from gutaxis.markers.units import conversion_factor, parse_unit
from gutaxis.measures import Measure, RangeUsed, Status

__all__ = ["interpret_marker", "interpret_result", "NO_INTERVAL_NOTE", "NO_CUTOFF_NOTE",
           "NOT_IN_CATALOGUE_NOTE", "UNJUDGED_NOTE"]

#: Note of a value of a marker for which no reference interval exists.
NO_INTERVAL_NOTE = "no reference interval exists for this marker"
#: Note of a value of a marker without a catalogue cut-off (but not flagged as having none).
NO_CUTOFF_NOTE = ("the knowledge base holds no published cut-off for this marker and the "
                  "laboratory gave no range")
#: Note of a value of a marker the catalogue does not know, given without a lab range.
NOT_IN_CATALOGUE_NOTE = ("the marker is not in the knowledge base and the laboratory gave no "
                         "range")
#: The note that follows one of the three above: the value has no status of its own.  A
#: reference cohort that places the value replaces it (:func:`gutaxis.reference.place_markers`).
UNJUDGED_NOTE = "value shown without a judgement"

_ORDER = ("low", "borderline", "within", "high")


def _scaled(value: float, factor: float) -> float:
    return float(f"{value * factor:.12g}")


def _checked(value: float | None, name: str) -> float | None:
    """Check a reference limit: a finite number ≥ 0, or None."""
    return check_number(value, name, minimum=0, allow_none=True)


def _value(value: Any) -> float:
    """Check the reported value: a finite number ≥ 0."""
    checked = check_number(value, "value", minimum=0)
    assert checked is not None
    return checked


def _status(value: float, censored: str | None, bounds: dict[str, Any]) -> tuple[Status, str]:
    """Judge ``value`` against ``bounds``.

    A censored value gets the status every value it may stand for shares,
    else ``"not comparable"`` with a note saying why.
    """
    if not censored:
        return classify(value, **bounds), ""  # type: ignore[return-value]
    if censored == "<":
        lo_end, hi_end = 0.0, math.nextafter(value, -math.inf)
    else:
        lo_end, hi_end = math.nextafter(value, math.inf), math.inf
    band = bounds.get("band")
    thresholds = [bounds.get("low"), bounds.get("high"), *(band[:2] if band else ())]
    points = {lo_end, hi_end}
    for t in (t for t in thresholds if t is not None):
        points.update(p for p in (math.nextafter(t, -math.inf), t, math.nextafter(t, math.inf))
                      if lo_end <= p <= hi_end)
    found = sorted({classify(p, **bounds) for p in points}, key=_ORDER.index)
    if len(found) == 1:
        return found[0], ""  # type: ignore[return-value]
    return "not comparable", (f"the censored value {censored}{value:g} may be "
                              f"{' or '.join(found)}; not judged")


def _lab_label(low: float | None, high: float | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"laboratory range {low:g}–{high:g} {unit}"
    if high is not None:
        return f"laboratory range ≤{high:g} {unit}"
    return f"laboratory range ≥{low:g} {unit}"


def _catalogue_range(cut: Cutoff, unit: str) -> tuple[RangeUsed, dict[str, Any]]:
    factor = conversion_factor(cut.unit, unit)

    def scale(x: float | None) -> float | None:
        return None if x is None else _scaled(x, factor)

    band = None
    if cut.borderline_low is not None and cut.borderline_high is not None:
        band = (_scaled(cut.borderline_low, factor), _scaled(cut.borderline_high, factor),
                cut.borderline_low_inclusive, cut.borderline_high_inclusive)
    bounds: dict[str, Any] = {
        "low": scale(cut.low), "high": scale(cut.high), "low_inclusive": cut.low_inclusive,
        "high_inclusive": cut.high_inclusive, "band": band}
    # RangeUsed.borderline_high: where a borderline band *below high* starts (calprotectin
    # 50 of 50–120); a band above `low` (elastase 100–200) is given in the label only.
    borderline_high = None
    if band is not None and cut.high is not None and cut.borderline_high == cut.high:
        borderline_high = band[0]
    label = f"{cut.label}: {cut.wording}" + ("" if cut.verified else " (unverified)")
    used = RangeUsed("catalogue", bounds["low"], bounds["high"],
                     f"{cut.source.citation} ({cut.identifier})",
                     borderline_high=borderline_high, label=label)
    return used, bounds


def interpret_marker(entry: MarkerEntry, value: float, unit: str, *,
                     ref_low: float | None = None, ref_high: float | None = None,
                     assay: str | None = None, censored: str | None = None) -> Measure:
    """Judge one marker value against the lab's range, else the catalogue's default cut-off.

    Parameters
    ----------
    entry : MarkerEntry
        The marker's catalogue entry.
    value : float
        The result, in ``unit`` (≥ 0).  For a censored result, the limit.
    unit : str
        Its unit; converted to ``entry.unit``.
    ref_low, ref_high : float, optional
        The reference range the laboratory printed with the result, in
        ``unit``; either bound may be missing.
    assay : str, optional
        The assay or kit, named in the range's source and in the notes.
    censored : {"<", ">"}, optional
        The result was reported as below (``"<0.5"``) or above the assay's
        limit ``value``.

    Returns
    -------
    Measure
        ``id="marker:<entry.id>"``, ``kind="marker"``, the value in
        ``entry.unit``, the status, the range used, ``caveats`` from the
        catalogue and ``notes`` (conversions, censoring, which range was used
        and why).

    Raises
    ------
    UnitError
        ``unit`` does not convert to ``entry.unit``.
    ValidationError
        A value or bound that is not a finite number ≥ 0 (a text, NaN, a
        negative number), ``ref_low > ref_high``, an unknown ``censored``
        flag, ``"<0"``.
    InputError
        ``entry`` is not a MarkerEntry of the catalogue.

    Notes
    -----
    Precedence of ranges:

    1. **The laboratory's range** (``ref_low`` and/or ``ref_high``) always
       wins: ``RangeUsed(kind="lab", source="laboratory reference range
       (<assay>)")``.  The range is closed — a value equal to a bound is
       ``"within"``; below ``ref_low`` is ``"low"``, above ``ref_high``
       ``"high"``.  A lab range has no borderline band.
    2. Else **the catalogue's default cut-off** (``MarkerEntry.cutoffs``,
       the one marked ``default``): ``RangeUsed(kind="catalogue",
       source="<citation> (<doi:|pmid:|url>)")``, its ``label`` the
       cut-off's label and published wording, followed by ``"(unverified)"``
       for a cut-off whose numbers were not verified in its source.  Status
       ``"high"`` / ``"low"`` / ``"borderline"`` (inside the published
       borderline band) / ``"within"``, with the bounds treated as
       :class:`gutaxis.knowledge._markers.Cutoff` documents.  The cut-off's
       population and assay-dependence are noted.
    3. Else **no range**: the value is shown but not judged.  The status is
       ``"not comparable"`` — a value exists but nothing can place it — never
       ``"within"``, which would claim a normal result.  The note says
       whether no reference interval exists for the marker
       (:data:`NO_INTERVAL_NOTE`, ``entry.no_reference_interval``) or the
       knowledge base simply holds none (:data:`NO_CUTOFF_NOTE`).

    A censored value gets the status that every value it may stand for
    shares ("<0.5" against a cut-off of 50 is within); when those values span
    two categories the status is ``"not comparable"``, with a note.

    Examples
    --------
    >>> from gutaxis.knowledge import load_marker_catalog
    >>> fc = load_marker_catalog().find("calprotectin")[0]
    >>> m = interpret_marker(fc, 80, "ug/g")
    >>> m.status, m.range_used.kind, m.range_used.high
    ('borderline', 'catalogue', 120.0)
    >>> interpret_marker(fc, 80, "ug/g", ref_high=100).status
    'within'
    """
    check_type(entry, MarkerEntry, "entry",
               hint="a marker of the catalogue: gutaxis.knowledge.load_marker_catalog()")
    value = _value(value)
    ref_low, ref_high = _checked(ref_low, "ref_low"), _checked(ref_high, "ref_high")
    if censored not in (None, "", "<", ">"):
        raise ValidationError(f"censored must be '<', '>' or None; got {censored!r}")
    if censored == "<" and value == 0:
        raise ValidationError("a value reported as '<0' cannot be interpreted")
    if ref_low is not None and ref_high is not None and ref_low > ref_high:
        raise ValidationError(f"ref_low ({ref_low:g}) is above ref_high ({ref_high:g})")
    given = parse_unit(unit)
    target = parse_unit(entry.unit).text
    factor = conversion_factor(given, target)
    converted = _scaled(value, factor)
    notes: list[str] = []
    if given.text != target:
        notes.append(f"converted from {value:g} {given.text} to {converted:g} {target}")
    if censored:
        side = "below" if censored == "<" else "above"
        notes.append(f"reported as {censored}{converted:g} {target}: {side} the assay's "
                     f"limit; {converted:g} is the limit, not a measurement")
    default = entry.default_cutoff
    range_used: RangeUsed | None
    if ref_low is not None or ref_high is not None:
        low = None if ref_low is None else _scaled(ref_low, factor)
        high = None if ref_high is None else _scaled(ref_high, factor)
        source = "laboratory reference range" + (f" ({assay})" if assay else "")
        range_used = RangeUsed("lab", low, high, source, label=_lab_label(low, high, target))
        status, why = _status(converted, censored, {"low": low, "high": high})
        if default is not None:
            notes.append(f"the laboratory's range was used; it takes precedence over the "
                         f"catalogue cut-off ({default.label})")
    elif default is not None:
        range_used, bounds = _catalogue_range(default, target)
        status, why = _status(converted, censored, bounds)
        notes.append(f"the laboratory gave no range: judged against the published cut-off "
                     f"{default.label} (population: {default.population}); cut-offs depend "
                     f"on the assay" + (f", and this result comes from {assay}" if assay
                                        else ""))
        if not default.verified:
            notes.append("this cut-off is unverified: its numbers were not confirmed in the "
                         "cited source")
    else:
        range_used, status, why = None, "not comparable", ""
        notes += [NO_INTERVAL_NOTE if entry.no_reference_interval else NO_CUTOFF_NOTE,
                  UNJUDGED_NOTE]
    if why:
        notes.append(why)
    return Measure(id=f"marker:{entry.id}", label=entry.name, kind="marker", value=converted,
                   unit=target, status=status, range_used=range_used,
                   caveats=(entry.caveats,), notes=tuple(notes),
                   censored="<" if censored == "<" else ">" if censored == ">" else None)


def interpret_result(result: MarkerResult) -> Measure:
    """Judge one reported marker value (see :func:`interpret_marker`).

    Parameters
    ----------
    result : MarkerResult
        A ``LABS.csv`` row or a metadata value.

    Returns
    -------
    Measure
        As :func:`interpret_marker`, with a first note naming where the value
        was read (``result.origin``).  A marker the catalogue does not know is
        judged by the lab's range when one was given; otherwise it is shown
        unjudged (``"not comparable"``).

    Raises
    ------
    UnitError, ValidationError
        As :func:`interpret_marker`.
    InputError
        ``result`` is not a MarkerResult.
    """
    check_type(result, MarkerResult, "result",
               hint="from LabResults.results or MarkerPanel.results")
    origin = (result.origin,) if result.origin else ()
    if result.entry is not None:
        measure = interpret_marker(result.entry, result.value, result.unit,
                                   ref_low=result.ref_low, ref_high=result.ref_high,
                                   assay=result.assay, censored=result.censored)
        return dataclasses.replace(measure, notes=(*origin, *measure.notes))
    value = _value(result.value)
    unit = parse_unit(result.unit).text
    notes = list(origin)
    if result.censored:
        notes.append(f"reported as {result.censored}{value:g} {unit}: {value:g} is the "
                     "assay's limit, not a measurement")
    if result.ref_low is not None or result.ref_high is not None:
        low, high = _checked(result.ref_low, "ref_low"), _checked(result.ref_high, "ref_high")
        source = "laboratory reference range" + (f" ({result.assay})" if result.assay else "")
        used: RangeUsed | None = RangeUsed("lab", low, high, source,
                                           label=_lab_label(low, high, unit))
        status, why = _status(value, result.censored, {"low": low, "high": high})
    else:
        used, status, why = None, "not comparable", ""
        notes += [NOT_IN_CATALOGUE_NOTE, UNJUDGED_NOTE]
    if why:
        notes.append(why)
    return Measure(id=result.measure_id, label=result.name, kind="marker", value=value,
                   unit=unit, status=status, range_used=used, notes=tuple(notes),
                   censored=result.censored)
