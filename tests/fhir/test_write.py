"""FHIR R4 out: every resource parses with fhirclient's strict R4 (4.0.1) models, and carries
the profile's own numbers and the knowledge base's codes."""

from __future__ import annotations

import json

import pytest
from fhirclient.models.bundle import Bundle
from fhirclient.models.careplan import CarePlan
from fhirclient.models.codesystem import CodeSystem
from fhirclient.models.diagnosticreport import DiagnosticReport
from fhirclient.models.nutritionorder import NutritionOrder
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.models.questionnaireresponse import QuestionnaireResponse

from builders.profile import make_profile
from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.fhir import (
    bundle,
    care_plan_resource,
    gutaxis_code_system,
    nutrition_order_resource,
    patient_resource,
    profile_bundle,
    questionnaire_response_resource,
)
from gutaxis.knowledge import load_marker_catalog, load_taxa_catalog
from gutaxis.questionnaires import bundled_questionnaires
from gutaxis.report import profile_document

MODELS = {"Observation": Observation, "DiagnosticReport": DiagnosticReport,
          "Patient": Patient, "CarePlan": CarePlan, "NutritionOrder": NutritionOrder,
          "QuestionnaireResponse": QuestionnaireResponse, "CodeSystem": CodeSystem}
PATIENT = {"id": "7", "name": "Ada Example", "sex": "female", "birth_date": "1980-01-02",
           "identifiers": [{"system": "urn:example:clinic", "value": "P-0007"}]}


def strict(resource):
    """Parse with fhirclient's strict R4 model (raises on any unknown or mistyped element)."""
    MODELS[resource["resourceType"]](resource, strict=True)
    return resource


@pytest.fixture(scope="module")
def doc():
    return json.loads(json.dumps(profile_document(make_profile())))  # as stored on disk


@pytest.fixture(scope="module")
def fhir(doc):
    return profile_bundle(doc, patient=PATIENT)


def observation(bundle_, code_text):
    return next(e["resource"] for e in bundle_["entry"]
                if e["resource"]["resourceType"] == "Observation"
                and e["resource"]["code"]["text"] == code_text)


def test_the_bundle_and_every_resource_parse_strictly(fhir):
    Bundle(fhir, strict=True)
    kinds = [strict(e["resource"])["resourceType"] for e in fhir["entry"]]
    assert kinds[:2] == ["Patient", "DiagnosticReport"]
    assert kinds.count("Observation") == 9  # one per measure of the hand-made profile
    assert fhir["type"] == "collection"


def test_calprotectin_has_its_loinc_code_ucum_unit_and_the_lab_range(fhir):
    calpro = observation(fhir, "Faecal calprotectin")
    assert calpro["code"]["coding"] == [{"system": "http://loinc.org", "code": "38445-3"}]
    assert calpro["valueQuantity"] == {"value": 84.0, "unit": "ug/g",
                                       "system": "http://unitsofmeasure.org", "code": "ug/g"}
    (rng,) = calpro["referenceRange"]
    assert rng["high"]["value"] == 50.0 and "low" not in rng
    assert "borderline from 120" in rng["text"] and "Lab report of 2026-03-01" in rng["text"]
    assert calpro["interpretation"] == [{"text": "borderline"}]  # no H/L/N for borderline
    assert calpro["note"] == [{"text": "Caveat: NSAIDs raise calprotectin"}]


def test_a_marker_without_loinc_has_the_gutaxis_code_and_no_ucum_for_another_unit(fhir):
    lps = observation(fhir, "LPS")
    assert lps["code"]["coding"][0] == {
        "system": "https://gutaxis.org/fhir/CodeSystem/gutaxis", "code": "marker:lps",
        "display": "Lipopolysaccharide (endotoxin)"}
    # the hand-made profile gives LPS in EU/mL, not the catalogue's pg/mL: no UCUM code
    assert lps["valueQuantity"] == {"value": 0.31, "unit": "EU/mL"}
    assert lps["interpretation"][0]["coding"][0]["code"] == "N"
    hscrp = observation(fhir, "hs-CRP")
    assert hscrp["code"]["coding"][0]["code"] == "30522-7"
    assert hscrp["valueQuantity"]["code"] == load_marker_catalog().find("hscrp")[0].ucum


def test_percentiles_and_their_interval_are_the_profiles_numbers(doc, fhir):
    measure = next(m for m in doc["measures"] if m["id"] == "index:shannon_entropy")
    shannon = observation(fhir, "Shannon entropy")
    parts = {c["code"]["coding"][0]["code"]: c for c in shannon["component"]}
    assert parts["percentile"]["valueQuantity"]["value"] == measure["percentile"] == 1.7
    interval = parts["percentile-interval"]["valueRange"]
    assert (interval["low"]["value"], interval["high"]["value"]) == (measure["ci_low"],
                                                                       measure["ci_high"])
    assert parts["reference-n"]["valueInteger"] == measure["reference_n"] == 300
    assert shannon["interpretation"][0]["coding"][0]["code"] == "L"
    assert shannon["code"]["coding"][0]["code"] == "index:shannon_entropy"
    # a blocking warning affecting the measure is on the Observation
    assert any("out_of_reference_range" in n["text"] for n in shannon["note"])


def test_a_key_taxon_has_the_knowledge_bases_taxid_and_a_percent_quantity(fhir):
    fp = observation(fhir, "Faecalibacterium prausnitzii")
    kb = next(t for t in load_taxa_catalog().taxa if t.id == "faecalibacterium_prausnitzii")
    assert fp["code"]["coding"][0] == {"system": "http://www.ncbi.nlm.nih.gov/taxonomy",
                                       "code": kb.ncbi.taxid, "display": kb.ncbi.name}
    assert kb.ncbi.taxid == "853"
    assert fp["valueQuantity"] == {"value": 0.4, "unit": "%",
                                   "system": "http://unitsofmeasure.org", "code": "%"}


def test_a_missing_index_has_a_data_absent_reason_with_the_profiles_note(fhir):
    gmhi = observation(fhir, "GMHI")
    assert "valueQuantity" not in gmhi
    assert gmhi["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert gmhi["dataAbsentReason"]["text"].startswith("GMHI needs shotgun metagenomes")


def test_a_censored_value_is_a_comparator_and_infinity_is_a_data_absent_reason(doc):
    changed = json.loads(json.dumps(doc))
    calpro = next(m for m in changed["measures"] if m["id"] == "marker:calprotectin")
    calpro.update(value=20.0, censored="<", status="within", percentile=None)
    md = next(m for m in changed["measures"] if m["id"] == "index:md_index")
    md["value"] = "-inf"
    out = profile_bundle(changed)
    Bundle(out, strict=True)
    q = observation(out, "Faecal calprotectin")["valueQuantity"]
    assert (q["comparator"], q["value"], q["code"]) == ("<", 20.0, "ug/g")
    absent = observation(out, "MD-index")["dataAbsentReason"]["coding"][0]["code"]
    assert absent == "negative-infinity"


def test_the_report_links_every_observation_and_says_the_warnings(fhir, doc):
    report = next(e["resource"] for e in fhir["entry"]
                  if e["resource"]["resourceType"] == "DiagnosticReport")
    urls = {e["fullUrl"] for e in fhir["entry"] if e["resource"]["resourceType"] == "Observation"}
    assert {r["reference"] for r in report["result"]} == urls
    for warning in doc["warnings"]:
        assert warning["message"] in report["conclusion"]
    assert doc["disclaimer"] in report["conclusion"]
    assert report["effectiveDateTime"] == doc["created"]
    patient_url = fhir["entry"][0]["fullUrl"]
    assert report["subject"] == {"reference": patient_url}


def test_the_same_profile_gives_the_same_bundle_and_another_sample_other_ids(doc):
    first, second = profile_bundle(doc), profile_bundle(json.loads(json.dumps(doc)))
    assert json.dumps(first) == json.dumps(second)
    other = dict(doc, sample_id="S-other")
    assert not {e["fullUrl"] for e in first["entry"]} & {
        e["fullUrl"] for e in profile_bundle(other)["entry"]}
    assert all(e["fullUrl"] == f"urn:uuid:{e['resource']['id']}" for e in first["entry"])


def test_an_effective_date_and_a_patient_id_without_a_patient(doc):
    out = profile_bundle(dict(doc, patient_id="P01"), effective="2026-02-28")
    report = out["entry"][0]["resource"]
    assert report["effectiveDateTime"] == "2026-02-28"
    assert report["subject"]["identifier"] == {"value": "P01"}
    Bundle(out, strict=True)
    # the profile's own visit day, when it recorded one, comes before its creation time
    dated = profile_bundle(dict(doc, visit_date="2026-01-10"))
    assert dated["entry"][0]["resource"]["effectiveDateTime"] == "2026-01-10"
    assert profile_bundle(dict(doc, visit_date="2026-01-10"), effective="2026-02-28")[
        "entry"][0]["resource"]["effectiveDateTime"] == "2026-02-28"


@pytest.mark.parametrize(("change", "message"), [
    ({"measures": [{"id": "marker:lps", "status": "high", "value": "high"}]},
     r"profile.json.measures\[0\].value: expected a number"),
    ({"measures": [{"id": "lps", "status": "high", "value": 1}]},
     r"measures\[0\].id: expected 'index:…'"),
    ({"created": None}, r"profile.json.created: missing"),
])
def test_a_broken_profile_json_names_the_element(doc, change, message):
    with pytest.raises(FormatError, match=message):
        profile_bundle({**doc, **change})


def test_the_code_system_parses_and_defines_every_gutaxis_code_used(fhir):
    cs = strict(gutaxis_code_system())
    assert (cs["status"], cs["content"], cs["url"]) == (
        "active", "complete", "https://gutaxis.org/fhir/CodeSystem/gutaxis")
    defined = {c["code"] for c in cs["concept"]}
    # every marker without LOINC has a concept; none with LOINC has one
    for entry in load_marker_catalog().markers:
        assert (f"marker:{entry.id}" in defined) == (entry.loinc is None)
    used = {c["code"] for e in fhir["entry"] for part in [e["resource"]]
            for cc in [part.get("code", {})] + [c["code"] for c in part.get("component", [])]
            for c in cc.get("coding", []) if c["system"] == cs["url"]}
    assert used and used <= defined
    assert all(c["definition"] for c in cs["concept"])


def test_patient_resource_and_its_errors():
    pat = strict(patient_resource(PATIENT))
    assert (pat["id"], pat["gender"], pat["birthDate"]) == ("7", "female", "1980-01-02")
    assert pat["identifier"] == PATIENT["identifiers"]
    with pytest.raises(ValidationError, match="patient.sex: expected one of"):
        patient_resource({"id": "7", "sex": "f"})
    with pytest.raises(ValidationError, match="patient.id: a FHIR id"):
        patient_resource({"id": "seven 7"})


def test_questionnaire_response_from_a_stored_answer_set():
    bristol = bundled_questionnaires()["BristolStoolForm"]
    qr = strict(questionnaire_response_resource(
        bristol, {"stool_type": "6"}, subject="Patient/7", authored="2026-12-05T08:14:00Z"))
    assert qr["status"] == "completed"
    assert qr["questionnaire"] == f"{bristol.url}|{bristol.version}"
    assert qr["item"][0]["answer"][0]["valueCoding"]["code"] == "6"
    assert qr["subject"] == {"reference": "Patient/7"}


def test_care_plan_activities_point_to_their_evidence():
    plan = {"id": "12", "title": "Plan of visit 1", "created": "2026-03-04",
            "items": [{"title": "Soluble fibre", "step": "repair", "status": "active",
                       "evidence_level": "moderate",
                       "sources": [{"citation": "A trial", "doi": "10.1000/xyz1"},
                                   "Another. https://example.org/guideline"]},
                      {"title": "Own item", "status": "done", "reference": "NutritionOrder/3"}]}
    cp = strict(care_plan_resource(plan, subject="Patient/7"))
    first, second = (a for a in cp["activity"])
    assert first["detail"]["status"] == "in-progress"
    assert first["detail"]["instantiatesUri"] == ["https://doi.org/10.1000/xyz1",
                                                  "https://example.org/guideline"]
    assert {"text": "5R step: repair"} in first["detail"]["reasonCode"]
    assert "A trial" in first["progress"][0]["text"]
    # cpl-3: a reference or a detail, not both
    assert "detail" not in second
    assert second["reference"] == {"reference": "NutritionOrder/3", "display": "Own item"}
    assert second["progress"][0]["text"] == "status: completed"
    with pytest.raises(ValidationError, match=r"plan.items\[0\].status"):
        care_plan_resource({"items": [{"title": "x", "status": "maybe"}]}, subject="Patient/7")


def test_nutrition_order_excludes_the_catalogues_groups():
    no = strict(nutrition_order_resource(
        {"date_time": "2026-03-01", "groups": ["gluten", "dairy"], "foods": ["saffron"],
         "elimination_start": "2026-03-02", "elimination_days": 21, "template": "six_food"},
        patient="Patient/7"))
    codes = [m.get("coding", [{}])[0].get("code") for m in no["excludeFoodModifier"]]
    assert codes == ["food-group:gluten", "food-group:dairy", None]
    assert no["excludeFoodModifier"][2]["text"] == "saffron"
    assert no["oralDiet"]["schedule"][0]["repeat"]["boundsPeriod"] == {
        "start": "2026-03-02", "end": "2026-03-22"}
    with pytest.raises(ValidationError, match="needs groups or foods"):
        nutrition_order_resource({"date_time": "2026-03-01"}, patient="Patient/7")


def test_bundle_of_resources_parses_and_transactions_put():
    resources = [patient_resource(PATIENT),
                 care_plan_resource({"items": [{"title": "x"}]}, subject="Patient/7")]
    Bundle(bundle(resources), strict=True)
    tx = bundle(resources, type="transaction")
    Bundle(tx, strict=True)
    assert tx["entry"][0]["request"] == {"method": "PUT", "url": "Patient/7"}
    with pytest.raises(ValidationError, match="type: expected one of"):
        bundle(resources, type="batch-response")
