"""The shapes one patient's profile is made of (shared by every step of ``profile/``).

A profile is a list of :class:`Measure` (each index, taxon and marker, placed
against a reference cohort and/or a lab range), the gut–immune chain as
:class:`LinkAssessment` objects decided from those measures by rules in the
knowledge base, and :class:`Option` objects triggered by findings.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

__all__ = ["Profile", "Measure", "RangeUsed", "LinkAssessment", "Option", "Status", "LinkStatus",
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
    censored : {"<", ">"} or None
        The lab reported the value only as below / above an assay limit; ``value``
        is then the limit, not a measurement.
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
    censored: Literal["<", ">"] | None = None

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


@dataclasses.dataclass(frozen=True)
class Profile:
    """One patient's whole profile: what ``profile.json``, ``profile.html`` and
    ``profile.pdf`` are rendered from.

    Attributes
    ----------
    sample_id : str
    created : str
        ISO 8601 time (UTC).
    reference : dict
        ``{name, version, n_samples, sequencing, taxonomy_scheme, created, where}``.
    warnings : tuple of dict
        ``{code, message, affects}``: comparability problems (different sequencing,
        taxonomy scheme, too few reads, out of the reference's range).
    measures : tuple of Measure
        Indices, key taxa and markers, in that order.
    top_taxa : tuple of dict
        ``{taxon, label, rank, abundance}`` (fraction), most abundant first.
    chain : tuple of LinkAssessment
        The four links in chain order.
    options : dict of str to tuple of Option
        By 5R step, in order; empty when nothing triggered an option.
    followup : tuple of dict or None
        Per measure ``{id, label, kind, unit, previous, current, change, direction,
        reference_sd, critical_difference, real_change, notes}`` (see
        :func:`~gutaxis.profile.followup.compare_visits`); ``None`` without a
        previous profile.
    history : tuple of dict
        Earlier visits ``{created, values: {measure id: value}}`` for trend plots
        (from the previous profile's own history plus the previous profile).
    reference_values : dict of str to list of float
        Reference values of each measure with a percentile, for the plots
        (measure id → values).
    summary : dict
        ``{"patient": [sentences in plain language], "clinician": [short lines]}``.
    disclaimer : str
        From the knowledge base: supports, does not replace, a clinician's judgement.
    provenance : dict
        Inputs with SHA-256, reference name and version, knowledge-base
        versions, gutaxis version, parameters (seed, bootstrap replicates).
    """

    sample_id: str
    created: str
    reference: dict[str, Any]
    warnings: tuple[dict[str, Any], ...]
    measures: tuple[Measure, ...]
    top_taxa: tuple[dict[str, Any], ...]
    chain: tuple[LinkAssessment, ...]
    options: dict[str, tuple[Option, ...]]
    followup: tuple[dict[str, Any], ...] | None
    history: tuple[dict[str, Any], ...]
    reference_values: dict[str, list[float]]
    summary: dict[str, list[str]]
    disclaimer: str
    provenance: dict[str, Any]

    def measure(self, measure_id: str) -> Measure | None:
        """The measure with that id, or ``None``."""
        return next((m for m in self.measures if m.id == measure_id), None)
