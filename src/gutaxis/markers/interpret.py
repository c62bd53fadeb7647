"""A marker value placed against a range: the lab's own, else a published cut-off.

Two layers, as elsewhere in gutaxis: :func:`interpret_marker` judges one value
of one catalogue entry; :func:`interpret_labs` runs it over one sample of a
``LABS.csv`` file (:class:`gutaxis.markers.labs.LabResults`).  Both return
:class:`gutaxis.profile._model.Measure` objects with ``id = "marker:<id>"``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from gutaxis.exceptions import ValidationError
from gutaxis.knowledge._markers import Cutoff, MarkerEntry, classify
from gutaxis.markers.labs import LabResults
from gutaxis.markers.units import conversion_factor, parse_unit
from gutaxis.profile._model import Measure, RangeUsed, Status

__all__ = ["interpret_marker", "interpret_labs", "NO_INTERVAL_NOTE", "NO_CUTOFF_NOTE"]

#: Note of a value of a marker for which no reference interval exists.
NO_INTERVAL_NOTE = ("no reference interval exists for this marker; value shown without a "
                    "judgement")
#: Note of a value of a marker without a catalogue cut-off (but not flagged as having none).
NO_CUTOFF_NOTE = ("the knowledge base holds no published cut-off for this marker and the "
                  "laboratory gave no range; value shown without a judgement")

_ORDER = ("low", "borderline", "within", "high")


def _scaled(value: float, factor: float) -> float:
    return float(f"{value * factor:.12g}")


def _checked(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValidationError(f"{name} must be a finite number ≥ 0; got {value!r}")
    return value


def _status(value: float, censored: str | None, bounds: dict[str, Any]) -> tuple[Status, str]:
    """The status of ``value``; for a censored value, the status every value it may
    stand for shares, else ``"not comparable"`` with a note saying why."""
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
        A negative or non-finite value or bound, ``ref_low > ref_high``, an
        unknown ``censored`` flag, ``"<0"``.

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
    value = float(_checked(value, "value"))  # type: ignore[arg-type]
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
        notes.append(NO_INTERVAL_NOTE if entry.no_reference_interval else NO_CUTOFF_NOTE)
    if why:
        notes.append(why)
    return Measure(id=f"marker:{entry.id}", label=entry.name, kind="marker", value=converted,
                   unit=target, status=status, range_used=range_used,
                   caveats=(entry.caveats,), notes=tuple(notes),
                   censored="<" if censored == "<" else ">" if censored == ">" else None)


def interpret_labs(results: LabResults, sample_id: str) -> list[Measure]:
    """Every result of one sample of a ``LABS.csv`` file, judged by :func:`interpret_marker`.

    Parameters
    ----------
    results : LabResults
        From :func:`gutaxis.markers.labs.read_labs`.
    sample_id : str

    Returns
    -------
    list of Measure
        In file order; each with a first note naming the file, the line and
        the value as written.

    Raises
    ------
    NotFoundError
        ``sample_id`` is not in the file.
    """
    out = []
    for marker_id, row in results.for_sample(sample_id).iterrows():
        entry = results.entry(str(marker_id))
        measure = interpret_marker(
            entry, row["value"], row["unit"],
            ref_low=None if math.isnan(row["ref_low"]) else row["ref_low"],
            ref_high=None if math.isnan(row["ref_high"]) else row["ref_high"],
            assay=row["assay"] or None, censored=row["censored"] or None)
        origin = (f"{results.path}: line {row['line']}: reported as "
                  f"{row['original_value']} {row['original_unit']}")
        out.append(dataclasses.replace(measure, notes=(origin, *measure.notes)))
    return out
