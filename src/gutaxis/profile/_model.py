"""The shapes one patient's profile is made of (shared by every step of ``profile/``).

A profile is a list of :class:`Measure` (each index, taxon and marker, placed
against a reference cohort and/or a lab range), the gut–immune chain as
:class:`LinkAssessment` objects decided from those measures by rules in the
knowledge base, and :class:`Option` objects triggered by findings.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

__all__ = ["Measure", "RangeUsed", "LinkAssessment", "Option", "Status", "LinkStatus",
           "MeasureKind"]

#: Where a value stands.  ``"not measured"``: no value; ``"not comparable"``:
#: a value exists but the reference cannot place it (different sequencing,
#: taxonomy, too few reads) — no percentile is shown then.
Status = Literal["low", "within", "high", "borderline", "not measured", "not comparable"]
LinkStatus = Literal["disturbed", "not disturbed", "not measured"]
MeasureKind = Literal["index", "taxon", "marker"]


@dataclasses.dataclass(frozen=True)
class RangeUsed:
    """The range a value was judged against, and where it came from.

    ``kind`` is ``"lab"`` (the range printed with the result; it wins),
    ``"catalogue"`` (a published cut-off from the knowledge base, ``source``
    names it) or ``"reference"`` (percentiles of the reference cohort).
    """

    kind: Literal["lab", "catalogue", "reference"]
    low: float | None
    high: float | None
    source: str
    borderline_high: float | None = None  # e.g. calprotectin 50–120 borderline
    label: str = ""


@dataclasses.dataclass(frozen=True)
class Measure:
    """One measure of the patient.

    Attributes
    ----------
    id : str
        ``"shannon_entropy"``, ``"gmhi"``, ``"md_index"``, ``"taxon:<kb id>"``,
        ``"marker:<kb id>"`` (ids of the knowledge base).
    label : str
        Display name.
    kind : {"index", "taxon", "marker"}
    value : float or None
        In ``unit``; ``None`` when not measured / not applicable.
    unit : str
        ``""`` for unitless indices; relative abundances are fractions (``"fraction"``).
    percentile, ci_low, ci_high : float or None
        Position in the reference (0–100) with its bootstrap 95 % interval.
    reference_n : int or None
        Reference samples the percentile is based on.
    status : Status
    range_used : RangeUsed or None
    caveats : tuple of str
    notes : tuple of str
        Why a value is missing/not applicable/not comparable, unit conversions made…
    """

    id: str
    label: str
    kind: MeasureKind
    value: float | None
    unit: str
    status: Status
    percentile: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    reference_n: int | None = None
    range_used: RangeUsed | None = None
    caveats: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["caveats"] = list(self.caveats)
        out["notes"] = list(self.notes)
        return out


@dataclasses.dataclass(frozen=True)
class LinkAssessment:
    """One link of the gut–immune chain.

    ``id`` is one of ``"dysbiosis"``, ``"barrier"``, ``"translocation"``,
    ``"inflammation"`` (in that order along the chain).  ``deciding`` lists
    the measure ids (with their status) that decided ``status``; ``evidence``
    states how strong the evidence is for reading those measures that way, and
    ``unknowns`` what is not known — both from the knowledge base, with
    ``sources``.
    """

    id: str
    label: str
    status: LinkStatus
    deciding: tuple[tuple[str, str], ...]
    explanation: str
    evidence: str
    unknowns: str
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["deciding"] = [{"measure": m, "status": s} for m, s in self.deciding]
        out["sources"] = list(self.sources)
        return out


@dataclasses.dataclass(frozen=True)
class Option:
    """An option to consider, traced to the finding that triggered it.

    ``step`` is the 5R step (``remove``, ``replace``, ``reinoculate``,
    ``repair``, ``rebalance``); ``triggered_by`` names the finding(s)
    (``"link:dysbiosis=disturbed"``, ``"marker:elastase=low"``);
    ``evidence_level`` and ``guideline`` come verbatim from the knowledge base.
    No doses, ever.
    """

    id: str
    name: str
    step: str
    triggered_by: tuple[str, ...]
    evidence_summary: str
    evidence_level: str
    guideline: str | None
    sources: tuple[str, ...]
    cautions: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["triggered_by"] = list(self.triggered_by)
        out["sources"] = list(self.sources)
        return out
