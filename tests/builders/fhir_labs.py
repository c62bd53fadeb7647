"""Hand-written FHIR R4 lab inputs: Patients, Observations, DiagnosticReports, Bundles."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MRN = "urn:example:mrn"


def patient(pid: str, mrn: str) -> dict[str, Any]:
    """A Patient with one identifier (system MRN)."""
    return {"resourceType": "Patient", "id": pid,
            "identifier": [{"system": MRN, "value": mrn}]}


def quantity(value: float, unit: str, *, comparator: str | None = None,
             ucum: bool = True) -> dict[str, Any]:
    """A Quantity; with ``ucum`` the unit is also the UCUM code."""
    q: dict[str, Any] = {"value": value, "unit": unit}
    if ucum:
        q.update(system=UCUM, code=unit)
    if comparator:
        q["comparator"] = comparator
    return q


def observation(oid: str, *, loinc: str | None = None, text: str | None = None,
                value: float | None = None, unit: str = "ug/g", status: str = "final",
                subject: str | None = "Patient/p1", comparator: str | None = None,
                low: float | None = None, high: float | None = None,
                **extra: Any) -> dict[str, Any]:
    """A lab Observation coded by LOINC and/or text, with a valueQuantity."""
    code: dict[str, Any] = {}
    if loinc:
        code["coding"] = [{"system": LOINC, "code": loinc}]
    if text:
        code["text"] = text
    obs: dict[str, Any] = {"resourceType": "Observation", "id": oid, "status": status,
                           "code": code}
    if subject:
        obs["subject"] = {"reference": subject}
    if value is not None:
        obs["valueQuantity"] = quantity(value, unit, comparator=comparator)
    if low is not None or high is not None:
        rng: dict[str, Any] = {}
        if low is not None:
            rng["low"] = quantity(low, unit)
        if high is not None:
            rng["high"] = quantity(high, unit)
        obs["referenceRange"] = [rng]
    obs.update(extra)
    return obs


def bundle(*resources: dict[str, Any], kind: str = "collection",
           urls: bool = False) -> dict[str, Any]:
    """A Bundle of the resources (with ``urls``: fullUrl ``urn:uuid:…`` of each)."""
    entries = []
    for n, res in enumerate(resources):
        entry: dict[str, Any] = {"resource": copy.deepcopy(res)}
        if urls:
            entry["fullUrl"] = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def stool_and_blood_panel() -> dict[str, Any]:
    """One patient's calprotectin, hs-CRP (mg/dL), elastase and zonulin (by alias)."""
    return bundle(
        patient("p1", "MRN-001"),
        observation("fc", loinc="38445-3", value=85, unit="ug/g", low=0, high=50,
                    effectiveDateTime="2026-03-02T08:30:00+01:00",
                    interpretation=[{"coding": [{"system": "http://terminology.hl7.org/"
                                                 "CodeSystem/v3-ObservationInterpretation",
                                                 "code": "H"}]}]),
        observation("crp", loinc="30522-7", value=0.21, unit="mg/dL", low=0, high=0.3),
        observation("pe", loinc="25907-7", value=350, unit="ug/g", low=200),
        observation("zon", text="Zonulin", value=48.5, unit="ng/mL"),
    )


def write(path: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` as JSON and return the path."""
    path.write_text(json.dumps(document), encoding="utf-8")
    return path
