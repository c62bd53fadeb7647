"""A visit's lab results without a profile, as FHIR: valid, and read back to the same values."""

from __future__ import annotations

import pytest
from fhirclient.models.bundle import Bundle

from gutaxis.exceptions import FormatError
from gutaxis.fhir import lab_report_bundle, read_lab_bundle

ROWS = [
    {"marker": "calprotectin", "value": 85.0, "unit": "ug/g", "censored": "", "ref_low": 0.0,
     "ref_high": 50.0, "assay": "fCAL ELISA", "effective": "2026-03-02T08:30:00+01:00",
     "interpretation": "H", "specimen": "stool"},
    {"marker": "hscrp", "value": 0.5, "unit": "mg/L", "censored": "<", "ref_low": None,
     "ref_high": 3.0, "interpretation": "N"},
    {"marker": "lbp", "value": 12.65, "unit": "ug/mL", "interpretation": "raised"},
]
PATIENT = {"id": "7", "name": "Ada Example", "identifiers": [
    {"system": "urn:example:mrn", "value": "MRN-7"}]}


def test_each_result_is_an_observation_coded_as_the_profile_codes_markers(
        fhir_node_validator) -> None:
    document = lab_report_bundle(ROWS, key="visit-3", effective="2026-03-03", patient=PATIENT)
    Bundle(document, strict=True)
    fhir_node_validator.assert_valid([document])
    kinds = [e["resource"]["resourceType"] for e in document["entry"]]
    assert kinds == ["Patient", "DiagnosticReport", "Observation", "Observation", "Observation"]
    report = document["entry"][1]["resource"]
    assert report["code"]["coding"][0]["code"] == "lab-results"
    assert [r["reference"] for r in report["result"]] == [e["fullUrl"]
                                                        for e in document["entry"][2:]]
    fcal, crp, lbp = (e["resource"] for e in document["entry"][2:])
    assert (fcal["code"]["coding"][0]["system"], fcal["code"]["coding"][0]["code"]) == (
        "http://loinc.org", "38445-3")
    assert fcal["valueQuantity"] == {"value": 85.0, "unit": "ug/g",
                                     "system": "http://unitsofmeasure.org", "code": "ug/g"}
    assert fcal["effectiveDateTime"] == "2026-03-02T08:30:00+01:00"  # the lab's own time
    assert fcal["interpretation"][0]["coding"][0]["code"] == "H"
    assert fcal["referenceRange"][0]["high"]["value"] == 50.0
    assert {"text": "Specimen: stool"} in fcal["note"]
    assert crp["valueQuantity"]["comparator"] == "<" and crp["effectiveDateTime"] == "2026-03-03"
    assert "low" not in crp["referenceRange"][0]
    # LBP has no LOINC code: the gutaxis CodeSystem's; a flag outside v3 is kept as text
    assert lbp["code"]["coding"][0]["system"] == "https://gutaxis.org/fhir/CodeSystem/gutaxis"
    assert lbp["interpretation"] == [{"text": "raised"}]
    # the same rows give the same bytes
    assert lab_report_bundle(ROWS, key="visit-3", effective="2026-03-03",
                             patient=PATIENT) == document


def test_what_is_written_is_read_back_to_the_same_values() -> None:
    document = lab_report_bundle(ROWS, key="visit-3", effective="2026-03-03", patient=PATIENT)
    back = read_lab_bundle(document)
    table = back.table.reset_index().set_index("marker")
    assert back.patient_identifiers == (("urn:example:mrn", "MRN-7"),)
    assert table.loc["calprotectin", "value"] == 85.0
    assert (table.loc["calprotectin", "ref_low"], table.loc["calprotectin", "ref_high"]) == (
        0.0, 50.0)
    assert (table.loc["hscrp", "censored"], table.loc["hscrp", "value"]) == ("<", 0.5)
    assert table.loc["lbp", "value"] == 12.65 and table.loc["lbp", "unit"] == "ug/mL"


def test_a_marker_the_catalogue_does_not_know_is_named() -> None:
    with pytest.raises(FormatError, match=r"rows\[0\]\.marker.*'glucose'"):
        lab_report_bundle([{"marker": "glucose", "value": 5.0, "unit": "mmol/L"}],
                          key="v", effective="2026-01-01")
