"""FHIR in the practice application: identifiers, FHIR lab uploads, the export, ``/fhir``.

Every test runs on SQLite and on PostgreSQL.  The read-only FHIR face is also
read by an independent client (``fhirclient``, the SMART on FHIR Python
client) against a real server, and what it serves is checked by the
independent Node validator (``@medplum/core``) and by fhirclient's strict R4
models.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from builders import fhir_labs as fl
from builders.fhir_node import NodeFhirValidator
from builders.live_server import serving
from builders.portal import patient_account
from builders.practice import bearer, make_user, run_jobs
from gutaxis import io as gio
from gutaxis.service.context import AppContext
from gutaxis.service.models import AuditEvent, LabValue, Upload
from gutaxis.service.services import plans, protocols, questionnaires

API = "/api/v1"
MRN = fl.MRN  # "urn:example:mrn"
FHIR_JSON = "application/fhir+json"


def _upload(client: TestClient, visit: int, document: dict[str, Any], headers: dict[str, str],
            *, skip_unknown: bool = False, name: str = "labs.fhir.json") -> dict[str, Any]:
    form = {"kind": "fhir", **({"skip_unknown": "true"} if skip_unknown else {})}
    response = client.post(f"{API}/visits/{visit}/uploads", data=form, headers=headers,
                           files={"file": (name, json.dumps(document).encode(), FHIR_JSON)})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def _upload_row(ctx: AppContext, upload_id: int) -> Upload:
    with ctx.sessions() as db:
        row = db.get(Upload, upload_id)
        assert row is not None
        db.expunge(row)
        return row


def _lab_count(ctx: AppContext) -> int:
    with ctx.sessions() as db:
        return int(db.scalar(sa.select(sa.func.count()).select_from(LabValue)) or 0)


def _patient(client: TestClient, auth: dict[str, str], name: str,
             identifiers: list[dict[str, str]] | None = None) -> int:
    response = client.post(f"{API}/patients", headers=auth,
                           json={"name": name, "identifiers": identifiers or []})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _visit(client: TestClient, auth: dict[str, str], pid: int, day: str) -> int:
    response = client.post(f"{API}/patients/{pid}/visits", json={"visit_date": day},
                           headers=auth)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_identifiers_are_kept_on_the_record_and_unique_within_a_clinic(
        client: TestClient, ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    make_user(ctx, "Clinic B", "bob@b.example")
    auth, other = bearer(client, "ana@a.example"), bearer(client, "bob@b.example")
    pid = _patient(client, auth, "Ida Ident", [{"system": MRN, "value": "MRN-001"}])
    assert client.get(f"{API}/patients/{pid}", headers=auth).json()["identifiers"] == [
        {"system": MRN, "value": "MRN-001"}]
    # the same identifier on a second patient of the clinic is refused, naming it
    response = client.post(f"{API}/patients", headers=auth, json={
        "name": "Someone Else", "identifiers": [{"system": MRN, "value": "MRN-001"}]})
    assert response.status_code == 409
    assert "urn:example:mrn|MRN-001" in response.json()["error"]["message"]
    # another clinic's numbering is its own
    assert _patient(client, other, "Bob's Patient", [{"system": MRN, "value": "MRN-001"}])
    # a change replaces the list; the form's lines are read as SYSTEM|VALUE
    changed = client.patch(f"{API}/patients/{pid}", headers=auth, json={"identifiers": [
        {"system": "http://hospital.example/mrn", "value": "H-9"}]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["identifiers"] == [{"system": "http://hospital.example/mrn",
                                              "value": "H-9"}]
    bad = client.patch(f"{API}/patients/{pid}", headers=auth, json={"identifiers": [
        {"system": "has space", "value": "x"}]})
    assert bad.status_code == 422 and "identifiers" in bad.json()["error"]["message"]


def test_fhir_lab_results_are_matched_to_the_patient_by_identifier_all_or_nothing(
        client: TestClient, ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    pid = _patient(client, auth, "Ida Ident", [{"system": MRN, "value": "MRN-001"}])
    visit = _visit(client, auth, pid, "2026-03-02")
    accepted = _upload(client, visit, fl.stool_and_blood_panel(), auth)
    run_jobs(ctx)
    row = _upload_row(ctx, accepted["id"])
    assert (row.status, row.error) == ("parsed", None), row.error
    labs = {r["marker"]: r for r in client.get(f"{API}/visits/{visit}",
                                                headers=auth).json()["labs"]}
    assert set(labs) == {"calprotectin", "hscrp", "elastase", "zonulin_serum"}
    assert (labs["calprotectin"]["value"], labs["calprotectin"]["unit"],
            labs["calprotectin"]["ref_low"], labs["calprotectin"]["ref_high"]) == (
        85.0, "ug/g", 0.0, 50.0)
    # 0.21 mg/dL is 2.1 mg/L, the catalogue's unit; the lab's range converted too
    assert labs["hscrp"]["value"] == pytest.approx(2.1)
    assert labs["hscrp"]["unit"] == "mg/L" and labs["hscrp"]["ref_high"] == pytest.approx(3.0)
    with ctx.sessions() as db:
        stored = {v.marker: v for v in db.scalars(sa.select(LabValue))}
    assert stored["calprotectin"].interpretation == "H"
    assert stored["calprotectin"].effective == "2026-03-02T08:30:00+01:00"
    assert "Observation/fc" in stored["calprotectin"].source
    before = _lab_count(ctx)

    # a patient whose record has no identifier of the bundle's patient: the import stops
    # and asks; nothing is stored
    stranger = _patient(client, auth, "No Ident")
    other_visit = _visit(client, auth, stranger, "2026-03-03")
    refused = _upload(client, other_visit, fl.stool_and_blood_panel(), auth)
    run_jobs(ctx)
    row = _upload_row(ctx, refused["id"])
    assert row.status == "failed"
    assert "urn:example:mrn|MRN-001" in (row.error or "")
    assert "add their identifier to the patient's record" in (row.error or "")
    assert _lab_count(ctx) == before

    # an unknown code stops the whole bundle, naming it...
    glucose = fl.observation("glu", loinc="2345-7", value=5.1, unit="mmol/L")
    with_unknown = fl.bundle(fl.patient("p1", "MRN-001"),
                             fl.observation("fc2", loinc="38445-3", value=40, unit="ug/g"),
                             glucose)
    strict = _upload(client, visit, with_unknown, auth)
    run_jobs(ctx)
    row = _upload_row(ctx, strict["id"])
    assert row.status == "failed" and "2345-7" in (row.error or "")
    # in the page's words: the checkbox, not the command line's option
    assert "ticking 'Skip results gutaxis does not know'" in (row.error or "")
    assert "--skip-unknown" not in (row.error or "")
    assert _lab_count(ctx) == before
    # ...unless asked to skip what the catalogue does not know (listed in the summary)
    lenient = _upload(client, visit, with_unknown, auth, skip_unknown=True)
    run_jobs(ctx)
    row = _upload_row(ctx, lenient["id"])
    assert row.status == "parsed", row.error
    assert row.summary["n_results"] == 1 and row.summary["n_skipped"] == 1
    assert "2345-7" in row.summary["skipped"][0]["code"]
    labs = client.get(f"{API}/visits/{visit}", headers=auth).json()["labs"]
    # the latest parsed lab upload is the visit's labs
    assert [(r["marker"], r["value"]) for r in labs] == [("calprotectin", 40.0)]

    # results naming their patient without an identifier are the visit's, and the upload
    # says so (the practitioner uploaded them here; the page asks to check)
    anonymous = fl.bundle(fl.observation("n", loinc="38445-3", value=22, unit="ug/g",
                                         subject="Patient/elsewhere"))
    taken = _upload(client, visit, anonymous, auth)
    run_jobs(ctx)
    row = _upload_row(ctx, taken["id"])
    assert row.status == "parsed", row.error
    assert "without an identifier (Patient/elsewhere" in row.summary["note"]
    page = client.get(f"/visits/{visit}", headers={**auth, "Accept": "text/html"}).text
    assert "taken as this visit&#39;s patient&#39;s" in page

    # results of two patients: ours are taken by the record's identifier
    two = fl.bundle(fl.patient("p1", "MRN-001"), fl.patient("p2", "MRN-002"),
                    fl.observation("a", loinc="38445-3", value=12, unit="ug/g"),
                    fl.observation("b", loinc="38445-3", value=900, unit="ug/g",
                                   subject="Patient/p2"))
    mixed = _upload(client, visit, two, auth)
    run_jobs(ctx)
    row = _upload_row(ctx, mixed["id"])
    assert row.status == "parsed", row.error
    labs = client.get(f"{API}/visits/{visit}", headers=auth).json()["labs"]
    assert [(r["marker"], r["value"]) for r in labs] == [("calprotectin", 12.0)]
    # the patient's export leaves the batch file out: it holds the other patient's 900
    export = client.get(f"{API}/patients/{pid}/export", headers=auth)
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
        record = json.loads(archive.read("record.json"))
        names = archive.namelist()
    [entry] = [u for v in record["visits"] for u in v["uploads"] if u["id"] == mixed["id"]]
    assert "file" not in entry and not [n for n in names if n.startswith(f"uploads/{mixed['id']}-")]
    assert entry["file_left_out"].startswith("the file also holds data of 1 other patient")
    assert [u for v in record["visits"] for u in v["uploads"] if u["id"] == taken["id"]][0][
        "file"].startswith(f"uploads/{taken['id']}-")  # a file of this patient's: exported


def test_a_fhir_patient_holding_another_patients_identifier_is_refused(
        client: TestClient, ctx: AppContext) -> None:
    # one Patient of the file holding Alice's and Bob's identifiers went into either record
    make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    alice = _patient(client, auth, "Alice", [{"system": MRN, "value": "A1"}])
    bob = _patient(client, auth, "Bob", [{"system": MRN, "value": "B1"}])
    both = fl.patient("p1", "A1")
    both["identifier"].append({"system": MRN, "value": "B1"})
    document = fl.bundle(both, fl.observation("fc", loinc="38445-3", value=40, unit="ug/g"))
    for pid, other in ((alice, bob), (bob, alice)):
        visit = _visit(client, auth, pid, "2026-03-02")
        refused = _upload(client, visit, document, auth)
        run_jobs(ctx)
        row = _upload_row(ctx, refused["id"])
        assert row.status == "failed"
        held = "B1" if pid == alice else "A1"
        assert f"also has the identifier(s) urn:example:mrn|{held}, which this clinic holds " \
               f"for another patient (patient {other})" in (row.error or ""), row.error
    assert _lab_count(ctx) == 0
    # the same file is Alice's alone once B1 is off Bob's record (it was on the wrong one)
    assert client.patch(f"{API}/patients/{bob}", headers=auth,
                        json={"identifiers": []}).status_code == 200
    visit = _visit(client, auth, alice, "2026-03-09")
    accepted = _upload(client, visit, document, auth)
    run_jobs(ctx)
    assert _upload_row(ctx, accepted["id"]).status == "parsed"
    assert _lab_count(ctx) == 1


def test_results_of_another_patient_or_of_no_patient_are_refused_without_identifiers(
        client: TestClient, ctx: AppContext) -> None:
    """A file naming its patient only by reference went into whichever record it was sent to."""
    make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    ids = {}
    for name, born in (("Alice", "1970-01-01"), ("Bob", "1980-05-05")):
        response = client.post(f"{API}/patients", headers=auth,
                               json={"name": name, "birth_date": born})
        assert response.status_code == 201, response.text
        ids[name] = int(response.json()["id"])
    alices = {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01",
              "name": [{"family": "Alice"}]}
    document = fl.bundle(alices, fl.observation("fc", loinc="38445-3", value=40, unit="ug/g"))
    bobs_visit = _visit(client, auth, ids["Bob"], "2026-03-02")
    cases = [
        # Alice's file (no identifier, her date of birth) sent to Bob's visit
        (document, "the results are of a patient born 1970-01-01 (Patient/p1 (no identifier)); "
                   "this patient was born 1980-05-05: they are another patient's"),
        # results of a group or a device are no patient's record
        (fl.bundle(fl.observation("g", loinc="38445-3", value=40, unit="ug/g",
                                  subject="Group/g1")),
         "subject: expected a Patient; found a Group (Group/g1)"),
        (fl.bundle(fl.observation("d", loinc="38445-3", value=40, unit="ug/g",
                                  subject="https://lab.example/fhir/Device/d1")),
         "expected a Patient; found a Device"),
    ]
    for sent, said in cases:
        refused = _upload(client, bobs_visit, sent, auth)
        run_jobs(ctx)
        row = _upload_row(ctx, refused["id"])
        assert (row.status, said in (row.error or "")) == ("failed", True), row.error
    assert _lab_count(ctx) == 0
    # the same file at Alice's visit is hers; so is one giving only her year or month
    alices_visit = _visit(client, auth, ids["Alice"], "2026-03-02")
    accepted = _upload(client, alices_visit, document, auth)
    run_jobs(ctx)
    assert _upload_row(ctx, accepted["id"]).status == "parsed"
    assert _lab_count(ctx) == 1
    for partial in ("1970-01", "1970"):
        vague = fl.bundle({**alices, "birthDate": partial},
                          fl.observation("fc", loinc="38445-3", value=40, unit="ug/g"))
        taken = _upload(client, alices_visit, vague, auth)
        run_jobs(ctx)
        assert _upload_row(ctx, taken["id"]).status == "parsed", partial
    # a conditional reference names its patient by identifier: matched as one
    assert client.patch(f"{API}/patients/{ids['Bob']}", headers=auth,
                        json={"identifiers": [{"system": MRN, "value": "B1"}]}
                        ).status_code == 200
    conditional = fl.bundle(fl.observation("c", loinc="38445-3", value=40, unit="ug/g",
                                           subject=f"Patient?identifier={MRN}|A1"))
    refused = _upload(client, bobs_visit, conditional, auth)
    run_jobs(ctx)
    row = _upload_row(ctx, refused["id"])
    assert row.status == "failed"
    assert f"the results are of the patient with identifier {MRN}|A1" in (row.error or "")


def test_refusals_give_the_upload_pages_advice_not_the_command_lines(
        client: TestClient, ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    pid = _patient(client, auth, "Ida")
    visit = _visit(client, auth, pid, "2026-03-02")
    twice = fl.observation("fc", loinc="38445-3", value=40, unit="ug/g", subject=None)
    again = {**twice, "id": "fc2"}
    two_patients = fl.bundle(
        fl.observation("a", loinc="38445-3", value=40, unit="ug/g", subject="Patient/x"),
        fl.observation("b", loinc="38445-3", value=50, unit="ug/g", subject="Patient/y"))
    unknown = fl.bundle(fl.observation("u", text="Mystery marker", value=1, unit="mg/L",
                                       subject=None))
    for document, said in (
            (fl.bundle(twice, again), "upload one report at a time, each in a file of its own"),
            (two_patients, "upload a file with this patient's results alone, or add the "
                           "identifier the file gives this patient to the patient's record"),
            (unknown, "by ticking 'Skip results gutaxis does not know'")):
        refused = _upload(client, visit, document, auth)
        run_jobs(ctx)
        error = _upload_row(ctx, refused["id"]).error or ""
        assert said in error, error
        assert "--" not in error and "in Python" not in error, error


def test_fhir_uploaded_as_a_labs_csv_says_where_it_goes(client: TestClient,
                                                         ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    visit = _visit(client, auth, _patient(client, auth, "Ida"), "2026-03-02")
    response = client.post(f"{API}/visits/{visit}/uploads", headers=auth, data={"kind": "labs"},
                           files={"file": ("labs.json",
                                           json.dumps(fl.stool_and_blood_panel()).encode())})
    assert response.status_code == 202, response.text
    run_jobs(ctx)
    assert _upload_row(ctx, response.json()["id"]).error == (
        "labs.json: line 1: this is JSON, not a LABS.csv table (a FHIR resource?); FHIR lab "
        "results are uploaded as FHIR ('Lab results as FHIR' in the visit's page, kind 'fhir' "
        "in the API)")


def _record_with_everything(client: TestClient, ctx: AppContext) -> tuple[int, dict[str, str],
                                                                           dict[str, Any]]:
    """A patient with a profiled visit (FHIR labs + the table), a labs-only visit, answers,
    a plan item and an elimination protocol.  Returns (patient id, auth, facts)."""
    staff = make_user(ctx, "Clinic A", "ana@a.example")
    make_user(ctx, "Clinic B", "bob@b.example")
    auth = bearer(client, "ana@a.example")
    pid = _patient(client, auth, "Fay Fhir", [{"system": MRN, "value": "MRN-001"}])
    first = _visit(client, auth, pid, "2026-03-02")
    second = _visit(client, auth, pid, "2026-06-02")
    _upload(client, first, fl.stool_and_blood_panel(), auth)
    table = gio.example_dataset().table.read_bytes()
    response = client.post(f"{API}/visits/{first}/uploads", headers=auth,
                           data={"kind": "microbiome", "sample": "ERR1331789"},
                           files={"file": ("table.biom", table, "application/octet-stream")})
    assert response.status_code == 202, response.text
    later = fl.bundle(fl.patient("p1", "MRN-001"),
                      fl.observation("fc3", loinc="38445-3", value=30, unit="ug/g",
                                     comparator="<", effectiveDateTime="2026-06-01"))
    _upload(client, second, later, auth)
    run_jobs(ctx)
    assert client.get(f"{API}/visits/{first}/profile", headers=auth).status_code == 200
    account = patient_account(ctx, staff, "fay@mail.example", patient_id=pid)
    with ctx.transaction() as db:
        request = questionnaires.send(db, staff, pid, bundled="BristolStoolForm")
        request_id = request.id
    with ctx.transaction() as db:
        questionnaires.answer(db, account.principal, request_id, {"stool_type": "4"})
        plans.add_own(db, staff, pid, "Psyllium 5 g a day", step="repair")
        protocols.create_protocol(db, staff, pid, {
            "groups": ["gluten", "dairy"], "elimination_days": "14",
            "elimination_start": (dt.date.today() - dt.timedelta(days=3)).isoformat()})
    return pid, auth, {"first": first, "second": second}


def test_a_patients_record_leaves_as_fhir_and_the_fhir_face_serves_it(
        client: TestClient, ctx: AppContext, fhir_node_validator: NodeFhirValidator) -> None:
    from fhirclient.models.bundle import Bundle

    pid, auth, _ = _record_with_everything(client, ctx)
    other = bearer(client, "bob@b.example")
    # the export: one Bundle with every kind of resource, valid for two independent checks
    response = client.get(f"{API}/patients/{pid}/fhir", headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    exported = response.json()
    kinds = [e["resource"]["resourceType"] for e in exported["entry"]]
    assert kinds[0] == "Patient"
    assert {"DiagnosticReport", "Observation", "QuestionnaireResponse", "CarePlan",
            "NutritionOrder"} <= set(kinds)
    Bundle(exported, strict=True)  # fhirclient's strict R4 models
    fhir_node_validator.assert_valid([exported])
    patient = exported["entry"][0]["resource"]
    assert patient["identifier"] == [{"system": MRN, "value": "MRN-001"}]
    observations = [e["resource"] for e in exported["entry"]
                    if e["resource"]["resourceType"] == "Observation"]
    calprotectin = [o for o in observations
                    if {"system": "http://loinc.org", "code": "38445-3"}.items()
                    <= o["code"].get("coding", [{}])[0].items()]
    # the profiled visit's value (85 ug/g) and the labs-only visit's censored one (<30)
    values = sorted((o["effectiveDateTime"][:10], o["valueQuantity"].get("comparator", ""),
                     o["valueQuantity"]["value"]) for o in calprotectin)
    # (the second with the time the lab measured it, not the visit's date)
    assert values == [("2026-03-02", "", 85.0), ("2026-06-01", "<", 30.0)]
    # ... the profiled visit's too (it had the visit's day: the lab's time was lost)
    assert sorted(o["effectiveDateTime"] for o in calprotectin)[0] == "2026-03-02T08:30:00+01:00"
    # references are the server's: every one resolves within the Bundle
    ids = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in exported["entry"]}
    refs = [ref for ref in json.dumps(exported).split('"reference": "')[1:]]
    for ref in refs:
        target = ref.split('"')[0]
        if "/" in target and not target.startswith("http"):
            assert target in ids, target
    # another clinic: 404
    assert client.get(f"{API}/patients/{pid}/fhir", headers=other).status_code == 404

    # /fhir: metadata is public; the rest needs the token
    meta = client.get("/fhir/metadata")
    assert meta.status_code == 200 and meta.json()["fhirVersion"] == "4.0.1"
    fhir_node_validator.assert_valid([meta.json()])
    unsigned = client.get(f"/fhir/Patient/{pid}")
    assert unsigned.status_code == 401
    assert unsigned.json()["resourceType"] == "OperationOutcome"
    assert unsigned.headers["content-type"].startswith(FHIR_JSON)
    hidden = client.get(f"/fhir/Patient/{pid}", headers=other)
    assert hidden.status_code == 404 and hidden.json()["issue"][0]["code"] == "not-found"
    assert client.get("/fhir/Patient/999999", headers=auth).status_code == 404
    read = client.get(f"/fhir/Patient/{pid}", headers=auth).json()
    assert read["id"] == str(pid) and read["name"] == [{"text": "Fay Fhir"}]
    found = client.get("/fhir/Patient", params={"identifier": f"{MRN}|MRN-001"},
                       headers=auth).json()
    assert found["total"] == 1 and found["entry"][0]["resource"]["id"] == str(pid)
    assert client.get("/fhir/Patient", params={"identifier": f"{MRN}|MRN-001"},
                      headers=other).json()["total"] == 0  # bob's clinic has none
    by_code = client.get("/fhir/Observation", headers=auth, params={
        "patient": f"Patient/{pid}", "code": "http://loinc.org|38445-3"}).json()
    assert by_code["type"] == "searchset" and by_code["total"] == 2
    dated = client.get("/fhir/Observation", headers=auth, params=[
        ("patient", str(pid)), ("code", "38445-3"), ("date", "ge2026-04")]).json()
    assert [e["resource"]["valueQuantity"]["value"] for e in dated["entry"]] == [30.0]
    reports = client.get("/fhir/DiagnosticReport", headers=auth,
                         params={"patient": str(pid)}).json()
    assert reports["total"] == 2  # the profile's report and the labs-only visit's
    fhir_node_validator.assert_valid([by_code, reports])
    everything = client.get(f"/fhir/Patient/{pid}/$everything", headers=auth).json()
    assert everything["total"] == len(exported["entry"])
    assert client.get("/fhir/Observation", headers=other,
                      params={"patient": str(pid)}).status_code == 404
    assert client.get("/fhir/Observation", headers=auth,
                      params={"patient": str(pid), "date": "soon"}).status_code == 422
    # another type's id, or another server's patient, is no patient of ours
    for other_ref in (f"Observation/{pid}", f"../{pid}", f"http://evil.example/fhir/Patient/{pid}"):
        assert client.get("/fhir/Observation", headers=auth,
                          params={"patient": other_ref}).status_code == 404, other_ref
    # a parameter not served is ignored, and the self link does not claim it was applied
    ignored = client.get("/fhir/Observation", headers=auth,
                         params={"patient": str(pid), "_count": "1", "category": "x"}).json()
    unfiltered = client.get("/fhir/Observation", headers=auth, params={"patient": str(pid)})
    assert ignored["total"] == unfiltered.json()["total"] > by_code["total"]
    assert "_count" not in ignored["link"][0]["url"] and "category" not in ignored["link"][0]["url"]
    assert client.get(f"/fhir/Patient/{pid}", headers={**auth, "Accept": "application/xml"}
                      ).status_code == 406
    # every read is audited
    with ctx.sessions() as db:
        actions = [a for (a,) in db.execute(sa.select(AuditEvent.action)
                                            .where(AuditEvent.user_email == "ana@a.example"))]
    for action in ("patient.export_fhir", "fhir.read", "fhir.search", "fhir.everything"):
        assert action in actions, action
    with ctx.sessions() as db:
        reads = db.execute(sa.select(AuditEvent.object_id).where(
            AuditEvent.action == "fhir.read", AuditEvent.object_type == "patient")).all()
    # the read, and the patient the identifier search disclosed
    assert [r for (r,) in reads].count(str(pid)) == 2


def test_an_independent_fhir_client_reads_the_fhir_face(
        make_settings: Any, database_url: str | None) -> None:
    """fhirclient (SMART on FHIR's Python client) against a real server, token as bearer."""
    if database_url is not None:
        pytest.skip("one backend is enough for a live server; the FHIR face itself runs on "
                    "both in the test above")
    from fhirclient import client as smart_client
    from fhirclient.models.diagnosticreport import DiagnosticReport
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient

    settings = make_settings()
    with serving(settings) as (base, app):
        ctx = app.state.ctx
        with TestClient(app, base_url=base) as local:
            pid, auth, _ = _record_with_everything(local, ctx)
        smart = smart_client.FHIRClient(settings={"app_id": "gutaxis-tests",
                                                  "api_base": f"{base}/fhir/"})
        smart.server.session.headers.update(auth)
        assert smart.server.capabilityStatement.fhirVersion == "4.0.1"
        patient = Patient.read(str(pid), smart.server)
        assert patient.identifier[0].value == "MRN-001" and patient.name[0].text == "Fay Fhir"
        search = Observation.where(struct={"patient": str(pid),
                                           "code": "http://loinc.org|38445-3"})
        found = list(search.perform_resources_iter(smart.server))
        assert sorted(o.valueQuantity.value for o in found) == [30.0, 85.0]
        reports = list(DiagnosticReport.where(struct={"patient": str(pid)})
                       .perform_resources_iter(smart.server))
        assert len(reports) == 2 and all(r.status == "final" for r in reports)
        everything = smart.server.request_json(f"Patient/{pid}/$everything")
        assert {e["resource"]["resourceType"] for e in everything["entry"]} >= {
            "Patient", "DiagnosticReport", "Observation", "QuestionnaireResponse",
            "CarePlan", "NutritionOrder"}
