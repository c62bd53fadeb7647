"""What a hostile review of the FHIR importer found, each pinned (issue 12's review)."""

from __future__ import annotations

import json

import pytest

from builders import fhir_labs as fl
from gutaxis.exceptions import FormatError, GutaxisError, ValidationError
from gutaxis.fhir import profile_bundle, read_lab_bundle


def _raw(document: dict) -> bytes:
    return json.dumps(document).encode()


def test_a_laboratorys_own_short_code_is_not_read_as_a_catalogue_alias() -> None:
    # "LMR" is lymphocyte/monocyte ratio at this lab, not the lactulose:mannitol ratio
    obs = fl.observation("x", value=3.8, unit="{ratio}")
    obs["code"] = {"coding": [{"system": "http://lab.example/local-codes", "code": "LMR",
                               "display": "Lymphocyte/monocyte ratio"}],
                   "text": "Lymphocyte to monocyte ratio"}
    with pytest.raises(ValidationError, match="unknown code"):
        read_lab_bundle(fl.bundle(fl.patient("p1", "M1"), obs))
    # without a system the bare code still names the marker, as a LABS.csv name does
    obs["code"] = {"coding": [{"code": "LMR"}]}
    assert read_lab_bundle(fl.bundle(fl.patient("p1", "M1"), obs)).rows[0]["marker"] == \
        "lactulose_mannitol"


@pytest.mark.parametrize(("text", "message"), [
    (b'{"resourceType": "Observation", "resourceType": "Bundle"}', "appears twice"),
    (b'{"resourceType": "Observation", "id": "a", "code": {"text": "\\ud800"}}',
     r"code\.text: a text holds an unpaired surrogate"),
    (b'{"resourceType": "Observation", "valueQuantity": {"value": 1' + b"0" * 400 + b"}}",
     "a number with 401 digits"),
    (b'{"resourceType": "Observation", "valueQuantity": {"value": 1' + b"0" * 5000 + b"}}",
     "a number with 5001 digits"),
])
def test_json_fhir_forbids_or_no_number_can_hold_is_one_line(text: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message) as error:
        read_lab_bundle(text)
    assert "\n" not in str(error.value)


def test_a_value_that_overflows_in_the_catalogues_unit_is_refused() -> None:
    obs = fl.observation("big", loinc="30522-7", value=1e308, unit="mg/dL")
    with pytest.raises(ValidationError, match="too large"):
        read_lab_bundle(fl.bundle(fl.patient("p1", "M1"), obs))


def test_a_status_outside_r4_and_a_value_with_a_reason_for_none_are_refused() -> None:
    odd = fl.observation("a", loinc="38445-3", value=40, status="Final")
    with pytest.raises(FormatError, match="Observation.status.*'Final'"):
        read_lab_bundle(fl.bundle(fl.patient("p1", "M1"), odd))
    both = fl.observation("b", loinc="38445-3", value=40,
                          dataAbsentReason={"text": "not done"})
    with pytest.raises(FormatError, match="obs-6"):
        read_lab_bundle(fl.bundle(fl.patient("p1", "M1"), both))


def test_the_laboratorys_normal_range_is_taken_not_a_treatment_or_a_population_range() -> None:
    obs = fl.observation("a", loinc="30522-7", value=2.0, unit="mg/L")
    q = fl.quantity
    obs["referenceRange"] = [
        {"high": q(10, "mg/L"), "type": {"coding": [{"code": "treatment"}]}},
        {"high": q(1, "mg/L"), "appliesTo": [{"text": "women"}]},
        {"low": q(0, "mg/L"), "high": q(3, "mg/L"), "type": {"coding": [{"code": "normal"}]}}]
    row = read_lab_bundle(fl.bundle(fl.patient("p1", "M1"), obs)).table.iloc[0]
    assert (row["ref_low"], row["ref_high"]) == (0.0, 3.0)


def test_a_catalogue_range_gutaxis_exported_is_the_normal_range_and_not_read_as_a_labs() -> None:
    # the catalogue's calprotectin: normal up to 50, borderline 50-120, high above 120
    profile = {"sample_id": "S1", "created": "2026-03-04T05:06:07+00:00", "patient_id": "P1",
               "warnings": [], "summary": {"clinician": []}, "disclaimer": "Supports.",
               "measures": [{"id": "marker:calprotectin", "label": "Calprotectin",
                             "kind": "marker", "value": 84.0, "unit": "ug/g",
                             "status": "borderline", "censored": None,
                             "range_used": {"kind": "catalogue", "low": None, "high": 120.0,
                                            "borderline_high": 50.0, "label": "adults",
                                            "source": "a guideline"}}]}
    fhir = profile_bundle(profile)
    obs = next(e["resource"] for e in fhir["entry"]
               if e["resource"]["resourceType"] == "Observation")
    (rng,) = obs["referenceRange"]
    assert rng["high"]["value"] == 50.0  # what FHIR readers take as the upper normal bound
    assert rng["type"]["coding"][0]["code"] == "range:catalogue"
    assert "borderline from 50 ug/g, high above 120 ug/g" in rng["text"]
    back = read_lab_bundle(fhir, sample_id="S1").table.iloc[0]
    assert back["value"] == 84.0
    assert back["ref_low"] != back["ref_low"] and back["ref_high"] != back["ref_high"]  # NaN


def test_every_error_of_the_review_is_a_gutaxis_error() -> None:
    for text in (b"null", b'{"resourceType": 5}', b"[1]"):
        with pytest.raises(GutaxisError):
            read_lab_bundle(text)


def test_a_record_of_several_visits_is_imported_one_report_at_a_time() -> None:
    first = fl.observation("a", loinc="38445-3", value=85, unit="ug/g")
    second = fl.observation("b", loinc="38445-3", value=30, unit="ug/g")
    reports = [{"resourceType": "DiagnosticReport", "id": rid, "status": "final",
                "code": {"text": "stool"}, "subject": {"reference": "Patient/p1"},
                "result": [{"reference": f"Observation/{oid}"}]}
               for rid, oid in (("visit-1", "a"), ("visit-2", "b"))]
    record = fl.bundle(fl.patient("p1", "M1"), *reports, first, second)
    with pytest.raises(ValidationError, match=r"--report ID.*DiagnosticReport/visit-1, "
                                              r"DiagnosticReport/visit-2"):
        read_lab_bundle(record)
    one = read_lab_bundle(record, report="DiagnosticReport/visit-2")
    assert [(r["marker"], r["value"]) for r in one.rows] == [("calprotectin", "30")]
    assert [s.reason for s in one.skipped] == ["not a result of report DiagnosticReport/visit-2"]
    with pytest.raises(GutaxisError, match="visit-3"):
        read_lab_bundle(record, report="visit-3")
