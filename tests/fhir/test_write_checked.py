"""FHIR out, checked by what is not us: the Node validator (@medplum/core) and gutaxis's own
importer (round trip: what gutaxis exports, it imports back to the same values)."""

from __future__ import annotations

import json
import math

import pytest

from builders.profile import make_profile
from gutaxis.fhir import (
    bundle,
    care_plan_resource,
    gutaxis_code_system,
    nutrition_order_resource,
    patient_resource,
    profile_bundle,
    questionnaire_response_resource,
)
from gutaxis.fhir.read import read_lab_bundle
from gutaxis.questionnaires import bundled_questionnaires
from gutaxis.report import profile_document

PATIENT = {"id": "7", "name": "Ada Example", "sex": "female", "birth_date": "1980-01-02",
           "identifiers": [{"system": "urn:example:clinic", "value": "P-0007"}]}


@pytest.fixture(scope="module")
def doc():
    return json.loads(json.dumps(profile_document(make_profile())))


def every_resource(doc):
    fhir = profile_bundle(doc, patient=PATIENT)
    censored = json.loads(json.dumps(doc))
    calpro = next(m for m in censored["measures"] if m["id"] == "marker:calprotectin")
    calpro.update(value=20.0, censored="<", status="within")
    next(m for m in censored["measures"] if m["id"] == "index:md_index")["value"] = "-inf"
    plan = care_plan_resource(
        {"title": "Plan", "created": "2026-03-04",
         "items": [{"title": "Soluble fibre", "step": "repair", "status": "active",
                    "sources": [{"citation": "A trial", "doi": "10.1000/xyz1"}]},
                   {"title": "Elimination", "status": "proposed",
                    "reference": "NutritionOrder/3"}]}, subject="Patient/7")
    diet = nutrition_order_resource({"id": "3", "date_time": "2026-03-01",
                                     "groups": ["gluten", "dairy"], "foods": ["saffron"],
                                     "elimination_start": "2026-03-02",
                                     "elimination_days": 21}, patient="Patient/7")
    answers = questionnaire_response_resource(
        bundled_questionnaires()["BristolStoolForm"], {"stool_type": "4"},
        subject="Patient/7", authored="2026-12-05T08:14:00Z")
    others = [patient_resource(PATIENT), plan, diet, answers]
    return [fhir, profile_bundle(censored), gutaxis_code_system(), *others,
            bundle(others), bundle(others, type="transaction")]


def test_every_resource_we_write_passes_the_node_validator(doc, fhir_node_validator):
    fhir_node_validator.assert_valid(every_resource(doc))


def test_profile_bundle_reads_back_to_the_same_marker_values(doc):
    changed = json.loads(json.dumps(doc))
    # the importer knows the catalogue's units; give LPS in the catalogue's pg/mL
    lps = next(m for m in changed["measures"] if m["id"] == "marker:lps")
    lps.update(value=310.0, unit="pg/mL", range_used={"kind": "lab", "low": 0.0, "high": 500.0,
                                                      "source": "lab", "label": "lab range"})
    calpro = next(m for m in changed["measures"] if m["id"] == "marker:calprotectin")
    calpro.update(value=20.0, censored="<", status="within")
    fhir = profile_bundle(changed, patient=PATIENT)
    labs = read_lab_bundle(fhir, skip_unknown=True)
    table = labs.table.reset_index().set_index("marker")
    written = {m["id"].partition(":")[2]: m for m in changed["measures"]
               if m["kind"] == "marker" and m["value"] is not None}
    assert set(table.index) == set(written)
    for marker, measure in written.items():
        row = table.loc[marker]
        assert row["value"] == pytest.approx(measure["value"], rel=1e-12)
        assert row["censored"] == (measure["censored"] or "")
        rng = measure["range_used"] or {}
        if rng.get("kind") != "lab":
            # a catalogue's or a reference cohort's range is not the laboratory's: written
            # with its gutaxis type, and never read back as the laboratory's range
            assert math.isnan(row["ref_low"]) and math.isnan(row["ref_high"]), marker
            continue
        for end in ("low", "high"):
            bound = rng.get(end)
            got = row[f"ref_{end}"]
            if isinstance(bound, (int, float)) and math.isfinite(bound):
                assert got == pytest.approx(bound)
            else:
                assert math.isnan(got)
    assert labs.patient_identifiers == (("urn:example:clinic", "P-0007"),)
    # indices and taxa are not lab results: listed as skipped, not imported as markers
    assert labs.skipped
