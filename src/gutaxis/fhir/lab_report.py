"""A visit's lab results alone (no microbiome profile) as a FHIR R4 report.

The practice application keeps the lab results of a visit (from a ``LABS.csv``
or a FHIR upload) even when the visit has no microbiome table and so no
profile.  :func:`lab_report_bundle` writes them as one ``DiagnosticReport``
(gutaxis code ``lab-results``) with one ``Observation`` per result, coded and
quantified exactly as a profile's marker observations are
(:func:`gutaxis.fhir.profile_bundle`), with the laboratory's own range and flag.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from gutaxis.exceptions import FormatError
from gutaxis.fhir.codes import INTERPRETATION, gutaxis_system
from gutaxis.fhir.write import (
    _DATETIME,
    _full_url,
    _observation,
    _when,
    bundle,
    patient_resource,
    resource_uuid,
)
from gutaxis.knowledge import load_marker_catalog

__all__ = ["lab_report_bundle", "LAB_FLAGS"]

#: Laboratory flags written as codes of HL7 v3 ObservationInterpretation (others as text).
LAB_FLAGS = {"H": "High", "L": "Low", "N": "Normal", "HH": "Critical high",
             "LL": "Critical low", "A": "Abnormal", "AA": "Critical abnormal"}


def _measure(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    marker = row.get("marker")
    names = {m.id: m.name for m in load_marker_catalog().markers}
    if marker not in names:
        raise FormatError(f"{where}.marker: expected a marker id of the catalogue; "
                          f"got {marker!r}")
    censored = row.get("censored") or None
    measure: dict[str, Any] = {"id": f"marker:{marker}", "label": names[marker],
                               "kind": "marker", "value": row.get("value"),
                               "unit": row.get("unit") or "", "status": "",
                               "censored": censored}
    low, high = row.get("ref_low"), row.get("ref_high")
    if any(isinstance(v, int | float) and math.isfinite(v) for v in (low, high)):
        measure["range_used"] = {"low": low, "high": high, "kind": "lab",
                                 "label": "the laboratory's range",
                                 "source": row.get("assay") or None}
    return measure


def lab_report_bundle(rows: Sequence[Mapping[str, Any]], *, key: str,
                      effective: str | date | datetime,
                      patient: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return a visit's lab results as a ``Bundle``: a ``DiagnosticReport``, ``Observation``s.

    Parameters
    ----------
    rows : sequence of mapping
        One per result: ``marker`` (the catalogue id), ``value`` (a number in
        ``unit``), ``unit``, ``censored`` (``"<"``, ``">"`` or empty),
        ``ref_low`` / ``ref_high`` (the laboratory's range, numbers or None),
        ``assay``, and from a FHIR upload ``effective`` (when it was measured,
        a FHIR dateTime; the visit's date otherwise), ``interpretation`` (the
        laboratory's flag: H, L, N, HH, LL, A, AA; other text is kept as text),
        ``specimen``.
    key : str
        What makes the ids unique and stable (``"visit-12"``).
    effective : date, datetime or str
        The visit's date: the report's time, and each result's without its own.
    patient : mapping, optional
        As :func:`gutaxis.fhir.patient_resource` takes it; the subject.

    Returns
    -------
    dict
        A ``Bundle`` (type ``collection``): the ``Patient`` when given, the
        report, then one ``Observation`` per row.

    Raises
    ------
    FormatError
        A row naming a marker the catalogue does not know, or a value that is
        not a number.

    Examples
    --------
    >>> b = lab_report_bundle([{"marker": "calprotectin", "value": 85.0, "unit": "ug/g",
    ...                         "ref_low": 0.0, "ref_high": 50.0, "interpretation": "H"}],
    ...                       key="visit-1", effective="2026-03-02")
    >>> report, obs = (e["resource"] for e in b["entry"])
    >>> report["code"]["coding"][0]["code"], obs["code"]["coding"][0]["code"]
    ('lab-results', '38445-3')
    >>> obs["referenceRange"][0]["high"]["value"], obs["interpretation"][0]["coding"][0]["code"]
    (50.0, 'H')
    """
    day = _when(effective, "effective")
    resources: list[dict[str, Any]] = []
    subject: dict[str, Any] | None = None
    if patient is not None:
        person = patient_resource(patient)
        resources.append(person)
        subject = {"reference": _full_url(person)}
    observations = []
    for n, row in enumerate(rows):
        where = f"rows[{n}]"
        own = str(row.get("effective") or "")
        when = own if own and _DATETIME.fullmatch(own) else day
        obs = _observation(_measure(row, where), where, key=f"labs|{key}", subject=subject,
                           effective=when, issued=when, warnings=[])
        del obs["issued"]  # the laboratory's issue time is not known here
        flag = str(row.get("interpretation") or "")
        if flag in LAB_FLAGS:
            obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": flag,
                                                  "display": LAB_FLAGS[flag]}]}]
        elif flag:
            obs["interpretation"] = [{"text": flag}]
        if row.get("specimen"):
            obs["note"] = [*obs.get("note", []), {"text": f"Specimen: {row['specimen']}"}]
        observations.append(obs)
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": resource_uuid("labs", key),
        "status": "final",
        "code": {"coding": [{"system": gutaxis_system(), "code": "lab-results",
                             "display": "Laboratory results of a visit"}],
                 "text": "Laboratory results"}}
    if subject is not None:
        report["subject"] = subject
    report.update(effectiveDateTime=day,
                  result=[{"reference": _full_url(o)} for o in observations])
    return bundle([*resources, report, *observations],
                  bundle_id=resource_uuid("labs-bundle", key))
