"""Schemathesis over the API's OpenAPI document, in-process: no 500s, the documented answers.

The document is read from the started application (``/api/v1/openapi.json``)
and loaded with ``schemathesis.openapi.from_dict``; each operation's cases
come from Schemathesis's Hypothesis strategy (``APIOperation.as_strategy``,
valid and invalid data) and are sent in-process through Schemathesis's ASGI
client (a ``requests`` session that calls the ASGI app directly; not entered,
so it does not start the app a second time — the ``client`` fixture did).
``Case.call_and_validate`` then runs Schemathesis's checks — no server error,
a documented status code, the documented content type and response schema —
plus this module's own: every error answer has the one error shape.

Real objects exist before the run (a patient with a visit whose microbiome
upload and labs are parsed and whose profile is done, a plan item, a spare
patient and a spare token for the deleting operations; the patient's portal
account and a diary entry, whose operations are called as the patient) and
half of each
operation's cases use their ids, so that the cases reach the code behind the
look-ups, not only the 404.  Destructive operations run last.

The run is bounded: a few examples per operation (``GUTAXIS_FUZZ_EXAMPLES``
raises it for a longer run, with a random seed instead of the fixed one).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.python import asgi

from builders.portal import patient_account
from builders.practice import bearer, make_user, run_jobs, sign_in
from gutaxis import io as gio
from gutaxis.service.context import AppContext
from gutaxis.service.services import accounts, protocols, questionnaires

_EXTRA = os.environ.get("GUTAXIS_FUZZ_EXAMPLES")
#: Examples per operation (authenticated), and per operation without credentials.
EXAMPLES = int(_EXTRA) if _EXTRA else 8
ANONYMOUS_EXAMPLES = 3
#: The operations anyone may call (every other one answers 401 without credentials).
PUBLIC = {"POST /api/v1/session", "POST /api/v1/invitations/accept", "GET /fhir/metadata"}
#: Operations that remove what later cases need: they run last, in this order.
LAST = ("DELETE /api/v1/invitations/{invitation_id}", "DELETE /api/v1/portal/diary/{entry_id}",
        "POST /api/v1/patients/{patient_id}/protocol/end",
        "POST /api/v1/questionnaire-requests/{request_id}/cancel",
        "DELETE /api/v1/patients/{patient_id}/portal/access",
        "DELETE /api/v1/patients/{patient_id}", "DELETE /api/v1/session",
        "DELETE /api/v1/tokens/{token_id}")
LABS = ("sample_id,marker,value,unit\n"
        "ERR1331798,LPS,120.5,pg/mL\n"
        "ERR1331798,LBP,9.1,ug/mL\n"
        "ERR1331798,hs-CRP,1.4,mg/L\n")


def _checks() -> list[Callable[..., Any]]:
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance,
            response_schema_conformance, one_error_shape]


def one_error_shape(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx/5xx answer is ``{"error": {status, code, message, fields}}`` (a check).

    Under ``/fhir`` it is FHIR's: an ``OperationOutcome`` with an error issue
    whose ``diagnostics`` say what was wrong.
    """
    if response.status_code < 400:
        return
    body = response.json()
    if case.path.startswith("/fhir/"):
        assert body.get("resourceType") == "OperationOutcome", body
        content_type = response.headers.get("content-type")
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert str(content_type).startswith("application/fhir+json"), content_type
        issue = body["issue"][0]
        assert issue["severity"] == "error" and issue["code"], issue
        assert isinstance(issue["diagnostics"], str) and issue["diagnostics"], issue
        return
    assert set(body) == {"error"}, f"an error answer has other keys: {body!r}"
    error = body["error"]
    assert set(error) == {"status", "code", "message", "fields"}, error
    assert error["status"] == response.status_code, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["fields"], list), error
    for field in error["fields"]:
        assert set(field) == {"field", "message"}, field
        assert all(isinstance(v, str) for v in field.values()), field


def _label(operation: Any) -> str:
    return f"{operation.method.upper()} {operation.path}"


def _objects(client: TestClient, ctx: AppContext
             ) -> tuple[dict[str, str], dict[str, int], int, dict[str, str]]:
    """Make the objects the cases aim at: the owner's header, ids by name, a spare patient.

    And the patient's headers (their session and CSRF token): the portal's
    operations are theirs.
    """
    owner = make_user(ctx, "Fuzz clinic", "owner@fuzz.example", "owner")
    auth = bearer(client, "owner@fuzz.example")
    # tokens are made with a password session (a token cannot make tokens)
    spare_token = client.post("/api/v1/tokens", json={"name": "spare"},
                              headers=sign_in(client, "owner@fuzz.example"))
    assert spare_token.status_code == 201, spare_token.text
    client.cookies.clear()
    patient = client.post("/api/v1/patients", headers=auth, json={
        "name": "Fuzz Patient", "birth_date": "1980-02-03", "sex": "female"}).json()["id"]
    spare = client.post("/api/v1/patients", headers=auth, json={"name": "Spare"}).json()["id"]
    visit = client.post(f"/api/v1/patients/{patient}/visits", headers=auth,
                        json={"visit_date": "2026-01-15", "notes": "first"}).json()["id"]
    data = gio.example_dataset()
    with open(data.table, "rb") as handle:
        upload = client.post(f"/api/v1/visits/{visit}/uploads", headers=auth,
                             data={"kind": "microbiome", "sample": "ERR1331798"},
                             files={"file": ("table.biom", handle)})
    assert upload.status_code == 202, upload.text
    labs = client.post(f"/api/v1/visits/{visit}/uploads", headers=auth, data={"kind": "labs"},
                       files={"file": ("LABS.csv", LABS.encode())})
    assert labs.status_code == 202, labs.text
    failed = client.post(f"/api/v1/visits/{visit}/uploads", headers=auth, data={"kind": "labs"},
                         files={"file": ("BAD.csv", b"sample_id,marker,value,unit\n")})
    assert failed.status_code == 202, failed.text
    run_jobs(ctx)
    profile = client.get(f"/api/v1/visits/{visit}/profile", headers=auth)
    assert profile.status_code == 200, profile.text
    item = client.post(f"/api/v1/patients/{patient}/plan", headers=auth,
                       json={"title": "Fibre, slowly more", "step": "repair"})
    assert item.status_code == 201, item.text
    staff = make_user(ctx, "Fuzz clinic", "practitioner@fuzz.example", "practitioner")
    account = patient_account(ctx, staff, "patient@fuzz.example", patient_id=patient,
                              symptoms=("Bloating",))
    client.cookies.clear()
    entry = client.post("/api/v1/portal/diary", headers=account.api,
                        json={"kind": "stool", "data": {"bristol": 4}})
    assert entry.status_code == 201, entry.text
    with ctx.transaction() as db:  # a questionnaire sent to the patient (its one item required)
        request = questionnaires.send(db, staff, patient, bundled="BristolStoolForm").id
        # a food-challenge protocol whose first challenge is under way (stop and end need one)
        protocols.create_protocol(db, staff, patient, {
            "groups": ["gluten"], "elimination_days": 14,
            "elimination_start": (dt.date.today() - dt.timedelta(days=14)).isoformat()})
        accounts.invite(db, owner, "invited@fuzz.example", "assistant")  # one to withdraw
        invitation = accounts.latest_invitation(db, owner)
    ids = {"patient_id": patient, "visit_id": visit, "upload_id": upload.json()["id"],
           "job_id": upload.json()["job"], "item_id": item.json()["id"],
           "token_id": spare_token.json()["id"], "entry_id": entry.json()["id"],
           "request_id": request, "invitation_id": invitation,
           "failed_upload_id": failed.json()["id"]}
    return auth, ids, spare, account.api


def _fuzz(operation: Any, session: asgi.ASGIClient, headers: dict[str, str],
          path_parameters: dict[str, int] | None, examples: int,
          expect: Callable[[Any], None] | None = None) -> list[int]:
    """Send ``examples`` cases of ``operation``, validate each answer; the status codes."""
    modes = [GenerationMode.POSITIVE] if expect else [GenerationMode.POSITIVE,
                                                       GenerationMode.NEGATIVE]
    strategies = [operation.as_strategy(mode) for mode in modes]
    if path_parameters:
        strategies += [operation.as_strategy(mode, path_parameters=path_parameters)
                       for mode in modes]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=_EXTRA is None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        session.cookies.clear()
        response = case.call_and_validate(session=session, base_url="http://testserver",
                                          headers=headers, checks=_checks())
        statuses.append(response.status_code)
        if expect is not None:
            expect(response)

    statuses: list[int] = []
    run()
    return statuses


def test_fuzz_the_api(client: TestClient, ctx: AppContext) -> None:
    auth, ids, spare_patient, patient = _objects(client, ctx)
    document = client.get("/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = [_label(op) for op in operations]
    assert {"GET /api/v1/patients/{patient_id}", "POST /api/v1/visits/{visit_id}/uploads",
            "GET /api/v1/audit"} <= set(labels)
    assert set(LAST) <= set(labels)
    order = sorted(operations, key=lambda op: (LAST.index(_label(op)) + 1
                                                if _label(op) in LAST else 0))
    session = asgi.get_client(client.app)

    def unauthenticated(response: Any) -> None:
        assert response.status_code == 401, response.text
        body = response.json()
        if body.get("resourceType") == "OperationOutcome":  # the FHIR face's error shape
            assert body["issue"][0]["code"] == "login"
        else:
            assert body["error"]["code"] == "not_signed_in"

    missed = []
    for operation in order:
        label = _label(operation)
        names = [p.name for p in operation.path_parameters]
        real = {name: ids[name] for name in names}
        if label == "DELETE /api/v1/patients/{patient_id}":
            real["patient_id"] = spare_patient
        if label == "DELETE /api/v1/uploads/{upload_id}":  # only a failed one goes
            real["upload_id"] = ids["failed_upload_id"]
        _fuzz(operation, session, {}, real or None, ANONYMOUS_EXAMPLES,
              None if label in PUBLIC else unauthenticated)
        caller = patient if operation.path.startswith("/api/v1/portal/") else auth
        statuses = _fuzz(operation, session, caller, real or None, EXAMPLES)
        if real and not operation.body and not any(200 <= s < 300 for s in statuses):
            missed.append(f"{label}: {sorted(statuses)}")
    # the cases with the real ids reached the objects, not only the 404 of a missing one
    # (asserted where the id alone decides: a generated body may rightly be refused)
    assert not missed, missed


# ------------------------------------------------------------------ what the fuzzing found
# (fixed; kept here as plain cases, since a later run's examples need not hit them again)
def _owner(client: TestClient, ctx: AppContext) -> dict[str, str]:
    make_user(ctx, "Found clinic", "owner@found.example", "owner")
    return bearer(client, "owner@found.example")


def test_ids_no_column_holds_are_not_found(client: TestClient, ctx: AppContext) -> None:
    auth = _owner(client, ctx)
    for method, path in [("GET", "/api/v1/patients/2147483648"),  # PostgreSQL: out of range
                         ("GET", f"/api/v1/patients/{2 ** 64}"),  # SQLite: OverflowError
                         ("GET", f"/api/v1/visits/{-(2 ** 63) - 1}"),
                         ("GET", f"/api/v1/jobs/{2 ** 70}"),
                         ("GET", f"/api/v1/uploads/{2 ** 31}"),
                         ("DELETE", f"/api/v1/tokens/{2 ** 64}"),
                         ("POST", f"/api/v1/plan-items/{2 ** 64}/status")]:
        response = client.request(method, path, headers=auth, json={"status": "done"}
                                  if "plan-items" in path else None)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    response = client.post(f"/api/v1/visits/{2 ** 64}/profile", headers=auth, json={})
    assert response.status_code == 404
    patient = client.post("/api/v1/patients", headers=auth, json={"name": "P"}).json()["id"]
    response = client.post(f"/api/v1/patients/{patient}/plan", headers=auth,
                           json={"visit_id": 2 ** 64, "option_id": "x"})
    assert response.status_code == 404, response.text


def test_nul_characters_are_refused_with_422(client: TestClient, ctx: AppContext) -> None:
    auth = _owner(client, ctx)
    patient = client.post("/api/v1/patients", headers=auth, json={"name": "P"}).json()["id"]
    visit = client.post(f"/api/v1/patients/{patient}/visits", headers=auth,
                        json={"visit_date": "2026-01-15"}).json()["id"]
    answers = {
        "body": client.post("/api/v1/patients", headers=auth, json={"name": "a\x00b"}),
        "patch": client.patch(f"/api/v1/patients/{patient}", headers=auth,
                              json={"contact": "\x00"}),
        "sign-in": client.post("/api/v1/session", json={"email": "\x00@x", "password": "p"}),
        "search": client.get("/api/v1/patients", headers=auth, params={"q": "an\x00a"}),
        "upload": client.post(f"/api/v1/visits/{visit}/uploads", headers=auth,
                              data={"kind": "labs", "sample": "\x00"},
                              files={"file": ("LABS.csv", LABS.encode())}),
    }
    for name, response in answers.items():
        assert response.status_code == 422, (name, response.text)
        assert response.json()["error"]["code"] == "invalid", name
        assert "NUL character" in response.json()["error"]["message"], name
    assert answers["body"].json()["error"]["fields"][0]["field"] == "name"
    # nothing was stored: the visit has no upload, the patient list only P
    assert client.get(f"/api/v1/visits/{visit}", headers=auth).json()["uploads"] == []
    listed = client.get("/api/v1/patients", headers=auth).json()
    assert [p["name"] for p in listed["patients"]] == ["P"]


def test_documented_date_times_carry_their_offset(client: TestClient, ctx: AppContext) -> None:
    auth = _owner(client, ctx)
    (token,) = client.get("/api/v1/tokens", headers=auth).json()
    made = dt.datetime.fromisoformat(token["created_at"])
    assert token["created_at"].endswith("Z") and token["expires_at"].endswith("Z")
    assert made.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - made) < dt.timedelta(hours=1)
    lifetime = dt.datetime.fromisoformat(token["expires_at"]) - made
    assert abs(lifetime - dt.timedelta(days=90)) < dt.timedelta(seconds=5)
    patient = client.post("/api/v1/patients", headers=auth, json={"name": "P"}).json()["id"]
    visit = client.post(f"/api/v1/patients/{patient}/visits", headers=auth,
                        json={"visit_date": "2026-01-15"}).json()["id"]
    job = client.post(f"/api/v1/visits/{visit}/uploads", headers=auth, data={"kind": "labs"},
                      files={"file": ("LABS.csv", LABS.encode())}).json()["job"]
    run_jobs(ctx)
    answer = client.get(f"/api/v1/jobs/{job}", headers=auth).json()
    assert answer["status"] == "done", answer
    assert answer["created_at"].endswith("Z") and answer["finished_at"].endswith("Z")
    assert dt.datetime.fromisoformat(answer["finished_at"]) >= \
        dt.datetime.fromisoformat(answer["created_at"])
