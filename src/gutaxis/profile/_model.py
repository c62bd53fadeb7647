"""The shapes one patient's profile is made of (shared by every step of ``profile/``).

A profile is a list of :class:`~gutaxis.measures.Measure` (each index, taxon
and marker, placed against a reference cohort and/or a lab range), the
gut–immune chain as :class:`LinkAssessment` objects decided from those
measures by rules in the knowledge base, :class:`Option` objects triggered by
findings, :class:`~gutaxis.measures.Alert` objects saying what to read with
care, and — with an earlier visit (:class:`Visit`) — :class:`FollowupRow`
objects.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from gutaxis.measures import Alert, Censoring, Measure

__all__ = ["Profile", "LinkAssessment", "Option", "FollowupRow", "Visit", "LinkStatus",
           "Summary", "PROFILE_SCHEMA_VERSION"]

#: Version of the ``profile.json`` layout; a change that breaks it bumps it.
PROFILE_SCHEMA_VERSION = "2.3"

LinkStatus = Literal["disturbed", "not disturbed", "not comparable", "not measured"]


@dataclasses.dataclass(frozen=True)
class LinkAssessment:
    """One link of the gut–immune chain.

    Attributes
    ----------
    id : str
        ``"dysbiosis"``, ``"barrier"``, ``"translocation"`` or ``"inflammation"``
        (in that order along the chain).
    label : str
    status : {"disturbed", "not disturbed", "not comparable", "not measured"}
    deciding : tuple of (str, str)
        The measure ids (with their status) that decided ``status``.
    explanation : str
    evidence, unknowns : str
        How strong the evidence is for reading those measures that way, and
        what is not known — from the knowledge base.
    sources : tuple of str
    not_comparable : tuple of str
        The link's measures that have a value but could not be placed (a
        "not measured" link with such measures was measured, not judged).
    """

    id: str
    label: str
    status: LinkStatus
    deciding: tuple[tuple[str, str], ...]
    explanation: str
    evidence: str
    unknowns: str
    sources: tuple[str, ...]
    not_comparable: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the link as plain types (``profile.json``'s ``chain`` entries).

        Returns
        -------
        dict
        """
        out = dataclasses.asdict(self)
        out["deciding"] = [{"measure": m, "status": s} for m, s in self.deciding]
        out["sources"] = list(self.sources)
        out["not_comparable"] = list(self.not_comparable)
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
        """Return the option as plain types.

        Returns
        -------
        dict
        """
        out = dataclasses.asdict(self)
        out["triggered_by"] = list(self.triggered_by)
        out["sources"] = list(self.sources)
        return out


@dataclasses.dataclass(frozen=True)
class FollowupRow:
    """The change of one measure since the previous visit.

    Attributes
    ----------
    id, label, kind, unit : str
        The measure (``kind`` is ``""`` for a measure only in the previous visit).
    previous, current : float or None
        The values (in ``unit``); for a censored value, the limit.
    previous_censored, current_censored : {"<", ">"} or None
        A value reported only as beyond an assay limit.
    change : float or None
        ``current − previous``; None when either is missing or censored.
    direction : {"increase", "decrease", "no change"} or None
    reference_sd : float or None
        The reference's robust SD of the measure.
    critical_difference : float or None
        ``z × √2 × reference_sd``: the smallest change called real.
    real_change : bool or None
        ``|change| > critical_difference``; None when it cannot be judged.
    notes : tuple of str
        Why not, unit conversions.
    """

    id: str
    label: str
    kind: str
    unit: str
    previous: float | None
    current: float | None
    previous_censored: Censoring | None = None
    current_censored: Censoring | None = None
    change: float | None = None
    direction: Literal["increase", "decrease", "no change"] | None = None
    reference_sd: float | None = None
    critical_difference: float | None = None
    real_change: bool | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain types (``profile.json``'s ``followup`` entries).

        Returns
        -------
        dict
        """
        out = dataclasses.asdict(self)
        out["notes"] = list(self.notes)
        return out


@dataclasses.dataclass(frozen=True)
class Visit:
    """An earlier visit, as read from its ``profile.json`` (:func:`~gutaxis.profile.read_visit`).

    Attributes
    ----------
    sample_id : str
    patient_id : str or None
        The patient the profile was made for, when it was recorded.
    created : str
        ISO 8601 time of that profile.
    reference_version : str or None
        The version of the reference it was placed against.
    values : dict of str to (float or None, str, censoring or None)
        Measure id → (value, unit, censored).
    labels : dict of str to str
        Measure id → label.
    history : tuple of dict
        The visits before that one, as its ``history`` recorded them
        (``{created, sample_id, patient_id, values, censored}``).
    path : str
        The file it was read from (``""`` when built in memory).
    visit_date : str or None
        The day of that visit (ISO 8601), when the profile recorded it.
    """

    sample_id: str
    patient_id: str | None
    created: str
    reference_version: str | None
    values: dict[str, tuple[float | None, str, Censoring | None]]
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    history: tuple[dict[str, Any], ...] = ()
    path: str = ""
    visit_date: str | None = None

    def history_entry(self) -> dict[str, Any]:
        """Return this visit as one entry of the next profile's ``history``.

        Returns
        -------
        dict
            ``{created, visit_date, sample_id, patient_id, values: {id: value},
            censored: {id: "<"|">"}}``.
        """
        return {"created": self.created, "visit_date": self.visit_date,
                "sample_id": self.sample_id,
                "patient_id": self.patient_id,
                "values": {mid: value for mid, (value, _, _) in self.values.items()},
                "censored": {mid: c for mid, (_, _, c) in self.values.items() if c}}


@dataclasses.dataclass(frozen=True)
class Summary:
    """The first screen of a profile: sentences for the patient, lines for the clinician.

    Attributes
    ----------
    patient : tuple of str
        Plain language, for the patient.
    clinician : tuple of str
        Short technical lines.
    """

    patient: tuple[str, ...]
    clinician: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        """Return ``{"patient": [...], "clinician": [...]}``.

        Returns
        -------
        dict
        """
        return {"patient": list(self.patient), "clinician": list(self.clinician)}


@dataclasses.dataclass(frozen=True)
class Profile:
    """One patient's whole profile: what ``profile.json``, ``profile.html`` and ``.pdf`` show.

    Attributes
    ----------
    sample_id : str
    patient_id : str or None
        Who the profile is for, when given (``--patient``): follow-ups compare
        profiles of the same patient.
    created : str
        ISO 8601 time (UTC).
    reference : dict
        ``{name, version, n_samples, sequencing, taxonomy_scheme, created, where}``.
    alerts : tuple of Alert
        What to read with care: the comparison with the reference (scope
        ``"reference"``) and with the previous visit (``"followup"``).
    measures : tuple of Measure
        Indices, key taxa and markers, in that order.
    top_taxa : tuple of dict
        ``{taxon, label, rank, abundance}`` (fraction), most abundant first.
    chain : tuple of LinkAssessment
        The four links in chain order.
    options : dict of str to tuple of Option
        By 5R step, in order; empty when nothing triggered an option.
    followup : tuple of FollowupRow or None
        ``None`` without a previous visit.
    history : tuple of dict
        Earlier visits (:meth:`Visit.history_entry`), oldest first, for trend plots.
    reference_values : dict of str to list of float
        Reference values of each measure with a percentile, for the plots.
    summary : Summary
    disclaimer : str
        From the knowledge base: supports, does not replace, a clinician's judgement.
    provenance : dict
        Inputs with SHA-256, reference name and version, knowledge-base
        versions, gutaxis version, parameters (seed, bootstrap replicates).
    visit_date : str or None
        The day the sample was taken or the visit took place (ISO 8601), when
        given; ``created`` is when the profile was computed.  The follow-up
        dates each visit by it when known.
    """

    sample_id: str
    patient_id: str | None
    created: str
    reference: dict[str, Any]
    alerts: tuple[Alert, ...]
    measures: tuple[Measure, ...]
    top_taxa: tuple[dict[str, Any], ...]
    chain: tuple[LinkAssessment, ...]
    options: dict[str, tuple[Option, ...]]
    followup: tuple[FollowupRow, ...] | None
    history: tuple[dict[str, Any], ...]
    reference_values: dict[str, list[float]]
    summary: Summary
    disclaimer: str
    provenance: dict[str, Any]
    visit_date: str | None = None

    def measure(self, measure_id: str) -> Measure | None:
        """Return the measure with that id, or ``None``.

        Parameters
        ----------
        measure_id : str

        Returns
        -------
        Measure or None
        """
        return next((m for m in self.measures if m.id == measure_id), None)

    def alerts_for(self, scope: str) -> tuple[Alert, ...]:
        """Return the alerts of one scope (``"reference"`` or ``"followup"``).

        Parameters
        ----------
        scope : str

        Returns
        -------
        tuple of Alert
        """
        return tuple(a for a in self.alerts if a.scope == scope)
