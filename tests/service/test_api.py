"""The HTTP contract of the practice application's JSON API (issue 10), in-process.

Every test runs on SQLite and on PostgreSQL (the ``database_url`` fixture).
The uploads are the bundled study's table and ``LABS.csv`` files made from
the same study's metadata (real participants' LPS, LBP, sCD14 and I-FABP);
the values asserted come from those files, from the profile documents the
API returns, or from SHA-256 computed here.  Computing a profile takes a few
seconds, so one test follows a patient from upload to erasure.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import json
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from builders.practice import PASSWORD, bearer, make_user, run_jobs, sign_in, signed_in
from gutaxis import io as gio
from gutaxis.profile import PROFILE_SCHEMA_VERSION
from gutaxis.service import Settings, create_app
from gutaxis.service.audit import verify_chain
from gutaxis.service.context import AppContext
from gutaxis.service.models import (
    ApiToken,
    AuditEvent,
    AuthSession,
    LabValue,
    LoginFailure,
    Patient,
    PlanEvent,
    PlanItem,
    Profile,
    Upload,
    User,
    Visit,
    VisitMeasure,
)
from gutaxis.service.services import accounts
from gutaxis.service.services.records import AUDIT_FIELDS

API = "/api/v1"
ERROR_KEYS = {"status", "code", "message", "fields"}

#: Two participants of the bundled study (Giloteaux et al. 2016) whose profiles
#: offer plan options, with their blood markers as the study's metadata gives them.
FIRST = ("ERR1331789", {"LPS": ("55.96", "pg/mL"), "LBP": ("12.65", "ug/mL"),
                        "sCD14": ("1.33", "ug/mL"), "I-FABP": ("607.4", "pg/mL")})
SECOND = ("ERR1331791", {"LPS": ("72.14", "pg/mL"), "LBP": ("15.24", "ug/mL"),
                         "sCD14": ("2.12", "ug/mL"), "I-FABP": ("223.3", "pg/mL")})
#: The marker ids the LABS.csv reader gives those names.
MARKER_IDS = {"LPS": "lps", "LBP": "lbp", "sCD14": "scd14", "I-FABP": "ifabp"}


# ---------------------------------------------------------------- helpers
def error_of(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The error of ``response``, checked to have the one shape and ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], list)
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def fields_of(error: dict[str, Any]) -> list[str]:
    return [f["field"] for f in error["fields"]]


def labs_csv(sample: str, markers: dict[str, tuple[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["sample_id", "marker", "value", "unit"])
    for marker, (value, unit) in markers.items():
        writer.writerow([sample, marker, value, unit])
    return buffer.getvalue().encode()


def upload(client: TestClient, visit_id: int, kind: str, name: str, data: bytes,
           headers: dict[str, str], sample: str | None = None) -> Any:
    form = {"kind": kind} if sample is None else {"kind": kind, "sample": sample}
    return client.post(f"{API}/visits/{visit_id}/uploads", data=form, headers=headers,
                       files={"file": (name, data, "application/octet-stream")})


def count(ctx: AppContext, model: Any, *where: Any) -> int:
    with ctx.sessions() as db:
        return int(db.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def own_client(make_settings: Callable[..., Settings]
               ) -> Iterator[Callable[..., tuple[TestClient, AppContext]]]:
    """Start an application with settings overrides; its client and context."""
    clients: list[TestClient] = []

    def start(**overrides: Any) -> tuple[TestClient, AppContext]:
        app = create_app(make_settings(**overrides))
        client = TestClient(app, base_url="http://testserver")
        client.__enter__()
        clients.append(client)
        return client, app.state.ctx

    yield start
    for client in clients:
        client.__exit__(None, None, None)


# ---------------------------------------------------------------- sessions
def test_sign_in_sets_an_httponly_samesite_cookie_or_answers_401(
        client: TestClient, ctx: AppContext) -> None:
    owner = make_user(ctx, "Clinic A", "ana@a.example")
    # a wrong password and an unknown account get the same 401 (and no cookie)
    wrong = error_of(client.post(f"{API}/session", json={"email": "ana@a.example",
                                                         "password": "not the password"}),
                     401, "not_signed_in")
    unknown = error_of(client.post(f"{API}/session", json={"email": "nobody@a.example",
                                                           "password": PASSWORD}),
                       401, "not_signed_in")
    assert wrong == unknown
    assert wrong["message"] == ("wrong e-mail address or password, or the account is locked "
                                "after too many failed sign-ins (then try again in 15 minutes)")
    assert "gutaxis_session" not in client.cookies
    error_of(client.get(f"{API}/me"), 401, "not_signed_in")
    response = client.post(f"{API}/session", json={"email": " Ana@A.example ",
                                                   "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookies = [c for c in response.headers.get_list("set-cookie")
               if c.startswith("gutaxis_session=")]
    assert len(cookies) == 1
    value, *attributes = [part.strip() for part in cookies[0].split(";")]
    assert len(value) > len("gutaxis_session=") + 20
    flags = {a.lower() for a in attributes}
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert f"max-age={12 * 3600}" in flags
    assert "secure" not in flags  # plain http on 127.0.0.1 (Settings.secure_cookies off)
    body = response.json()
    assert body["user_id"] == owner.user_id and body["clinic_id"] == owner.clinic_id
    assert body["role"] == "owner" and body["second_factor_required"] is False
    assert isinstance(body["csrf_token"], str) and len(body["csrf_token"]) >= 20
    # the database holds the session's SHA-256, not the cookie's value
    cookie = value.split("=", 1)[1]
    with ctx.sessions() as db:
        row = db.get(AuthSession, sha256(cookie.encode()))
        assert row is not None and row.csrf_token == body["csrf_token"]
    me = client.get(f"{API}/me")
    assert me.status_code == 200
    assert me.json() == {"user_id": owner.user_id, "clinic_id": owner.clinic_id,
                         "role": "owner", "email": "ana@a.example", "via": "session"}
    # sign out: the session is gone
    assert client.delete(f"{API}/session",
                         headers={"X-CSRF-Token": body["csrf_token"]}).status_code == 204
    client.cookies.set("gutaxis_session", cookie)
    error_of(client.get(f"{API}/me"), 401, "not_signed_in")


def test_an_account_is_locked_after_lockout_failures_wrong_passwords(
        own_client: Callable[..., tuple[TestClient, AppContext]]) -> None:
    client, ctx = own_client(lockout_failures=3)
    make_user(ctx, "Clinic A", "ana@a.example")
    make_user(ctx, "Clinic A", "bea@a.example")
    for _ in range(3):
        error_of(client.post(f"{API}/session", json={"email": "ana@a.example",
                                                     "password": "wrong password!"}), 401)
    with ctx.sessions() as db:
        user = db.scalar(sa.select(User).where(User.email == "ana@a.example"))
        assert user is not None and user.locked_until is not None
        assert user.locked_until > dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # locked: even the right password is refused, with the answer an unknown account gets
    # (and after the same hashing): the lock does not tell that the address has an account
    locked = error_of(client.post(f"{API}/session", json={"email": "ana@a.example",
                                                          "password": PASSWORD}),
                      401, "not_signed_in")
    unknown = error_of(client.post(f"{API}/session", json={"email": "nobody@a.example",
                                                           "password": PASSWORD}),
                       401, "not_signed_in")
    assert locked == unknown and "locked after too many failed sign-ins" in locked["message"]
    assert "gutaxis_session" not in client.cookies
    # the lock is the account's, not the address's
    assert client.post(f"{API}/session", json={"email": "bea@a.example",
                                               "password": PASSWORD}).status_code == 200


def test_one_address_is_throttled_after_ip_failures_per_window(
        own_client: Callable[..., tuple[TestClient, AppContext]]) -> None:
    client, ctx = own_client(ip_failures_per_window=3, lockout_failures=100)
    make_user(ctx, "Clinic A", "ana@a.example")
    for email in ("x@a.example", "y@a.example", "ana@a.example"):
        error_of(client.post(f"{API}/session", json={"email": email,
                                                     "password": "wrong password!"}), 401)
    assert count(ctx, LoginFailure, LoginFailure.address == "testclient") == 3
    throttled = error_of(client.post(f"{API}/session", json={"email": "ana@a.example",
                                                             "password": PASSWORD}),
                         429, "too_many_attempts")
    assert "from this address" in throttled["message"]
    # another address may still sign in to the same account (it is not locked)
    other = TestClient(client.app, base_url="http://testserver", client=("203.0.113.7", 5000))
    assert other.post(f"{API}/session", json={"email": "ana@a.example",
                                              "password": PASSWORD}).status_code == 200


def test_a_second_factor_is_owed_before_any_other_route_answers(
        client: TestClient, ctx: AppContext) -> None:
    owner = make_user(ctx, "Clinic A", "ana@a.example")
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    with ctx.transaction() as db:  # set up with the previous step's code: a code works once
        accounts.enable_totp(db, signed_in(owner), secret, totp.at(time.time() - totp.interval))
    response = client.post(f"{API}/session", json={"email": "ana@a.example",
                                                   "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["second_factor_required"] is True
    headers = {"X-CSRF-Token": response.json()["csrf_token"]}
    error_of(client.get(f"{API}/me"), 401, "not_signed_in")
    error_of(client.get(f"{API}/patients"), 401, "not_signed_in")
    error_of(client.post(f"{API}/patients", json={"name": "Eve"}, headers=headers), 401)
    error_of(client.post(f"{API}/tokens", json={"name": "t"}, headers=headers), 401)
    # a code outside the accepted window (previous, current, next 30 s) is wrong
    now = time.time()
    near = {totp.at(now + 30 * k) for k in range(-3, 4)}
    wrong_code = next(c for c in ("000000", "111111", "222222", "333333") if c not in near)
    wrong = error_of(client.post(f"{API}/session/code", json={"code": wrong_code},
                                 headers=headers), 422, "invalid")
    assert fields_of(wrong) == ["code"]
    error_of(client.get(f"{API}/me"), 401)
    assert client.post(f"{API}/session/code", json={"code": totp.now()},
                       headers=headers).status_code == 204
    assert client.get(f"{API}/me").json()["email"] == "ana@a.example"
    assert client.post(f"{API}/patients", json={"name": "Eve"},
                       headers=headers).status_code == 201


# ---------------------------------------------------------------- tokens
def test_personal_access_tokens_are_hashed_revocable_and_expire(
        client: TestClient, ctx: AppContext) -> None:
    owner = make_user(ctx, "Clinic A", "ana@a.example")
    headers = sign_in(client, "ana@a.example")
    made = client.post(f"{API}/tokens", json={"name": "laptop", "days": 30}, headers=headers)
    assert made.status_code == 201, made.text
    first = made.json()
    token = first["token"]
    assert token.startswith("gx_") and len(token) > 30
    assert first["name"] == "laptop" and first["prefix"] == token[:10]
    assert first["revoked_at"] is None
    created = dt.datetime.fromisoformat(first["created_at"])
    lifetime = dt.datetime.fromisoformat(first["expires_at"]) - created
    assert abs(lifetime - dt.timedelta(days=30)) < dt.timedelta(seconds=5)
    second = client.post(f"{API}/tokens", json={"name": "script"}, headers=headers).json()
    client.cookies.clear()

    # at rest: only the SHA-256; neither the token nor its secret part is anywhere in the table
    with ctx.sessions() as db:
        row = db.get(ApiToken, first["id"])
        assert row is not None and row.token_hash == sha256(token.encode())
        assert row.user_id == owner.user_id
    with ctx.engine.connect() as connection:
        for table in ("api_token", "audit_event"):
            stored = connection.execute(sa.text(f"SELECT * FROM {table}")).all()
            assert stored
            assert not any(token[10:] in str(value) for r in stored for value in r)

    # Bearer works without a CSRF token (and without a cookie)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post(f"{API}/patients", json={"name": "Eve"}, headers=auth).status_code == 201
    assert client.get(f"{API}/me", headers=auth).json()["via"] == "token"
    listed = client.get(f"{API}/tokens", headers=auth).json()
    assert [t["id"] for t in listed] == [second["id"], first["id"]]
    assert all(t["token"] is None for t in listed)
    error_of(client.get(f"{API}/me", headers={"Authorization": f"Basic {token}"}), 401)
    error_of(client.get(f"{API}/me", headers={"Authorization": "Bearer gx_not-a-token"}), 401)

    # revoked → 401
    other = {"Authorization": f"Bearer {second['token']}"}
    assert client.delete(f"{API}/tokens/{first['id']}", headers=other).status_code == 204
    error_of(client.get(f"{API}/me", headers=auth), 401, "not_signed_in")
    with ctx.sessions() as db:
        revoked = db.get(ApiToken, first["id"])
        assert revoked is not None and revoked.revoked_at is not None

    # expired → 401
    assert client.get(f"{API}/me", headers=other).status_code == 200
    with ctx.transaction() as db:
        row = db.get(ApiToken, second["id"])
        assert row is not None
        row.expires_at = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
    error_of(client.get(f"{API}/me", headers=other), 401, "not_signed_in")


# ---------------------------------------------------------------- CSRF
def test_a_cookie_authenticated_change_needs_the_csrf_token_and_our_origin(
        client: TestClient, ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    headers = sign_in(client, "ana@a.example")
    error_of(client.post(f"{API}/patients", json={"name": "Eve"}), 403, "forbidden")
    bad = error_of(client.post(f"{API}/patients", json={"name": "Eve"},
                               headers={"X-CSRF-Token": "x" * 43}), 403, "forbidden")
    assert "CSRF" in bad["message"]
    foreign = error_of(client.post(f"{API}/patients", json={"name": "Eve"},
                                   headers={**headers, "Origin": "https://evil.example"}),
                       403, "forbidden")
    assert "https://evil.example" in foreign["message"]
    assert count(ctx, Patient) == 0
    assert client.post(f"{API}/patients", json={"name": "Eve"}, headers=headers
                       ).status_code == 201
    assert client.post(f"{API}/patients", json={"name": "Ida"},
                       headers={**headers, "Origin": "http://testserver"}).status_code == 201
    assert count(ctx, Patient) == 2
    # reads need no token
    assert client.get(f"{API}/patients").json()["total"] == 2
    # a multipart upload (streamed by the route) carries the token in the query
    pid = client.get(f"{API}/patients").json()["patients"][0]["id"]
    vid = client.post(f"{API}/patients/{pid}/visits", json={"visit_date": "2024-01-10"},
                      headers=headers).json()["id"]
    labs = labs_csv(*FIRST)
    error_of(upload(client, vid, "labs", "LABS.csv", labs, {}), 403, "forbidden")
    assert count(ctx, Upload) == 0
    sent = client.post(f"{API}/visits/{vid}/uploads",
                       params={"csrf_token": headers["X-CSRF-Token"]}, data={"kind": "labs"},
                       files={"file": ("LABS.csv", labs, "text/csv")})
    assert sent.status_code == 202, sent.text
    assert count(ctx, Upload) == 1


# ---------------------------------------------------------------- patients and visits
def test_patients_and_visits_are_created_read_changed_and_searched(
        client: TestClient, ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    made = client.post(f"{API}/patients", json={
        "name": "Ana María López", "birth_date": "1980-02-29", "sex": "female",
        "contact": "ana@example.org", "conditions": "IBS"}, headers=auth)
    assert made.status_code == 201 and set(made.json()) == {"id"}
    pid = made.json()["id"]
    got = client.get(f"{API}/patients/{pid}", headers=auth).json()
    assert {k: got[k] for k in ("id", "name", "birth_date", "sex", "contact", "conditions",
                                "visits")} == {
        "id": pid, "name": "Ana María López", "birth_date": "1980-02-29", "sex": "female",
        "contact": "ana@example.org", "conditions": "IBS", "visits": []}
    patched = client.patch(f"{API}/patients/{pid}", json={"name": "Ana María López-Ruiz",
                                                         "contact": "+34 600 000 000"},
                           headers=auth)
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Ana María López-Ruiz"
    again = client.get(f"{API}/patients/{pid}", headers=auth).json()
    assert (again["contact"], again["conditions"], again["birth_date"]) == (
        "+34 600 000 000", "IBS", "1980-02-29")

    ids = {name: client.post(f"{API}/patients", json={"name": name}, headers=auth).json()["id"]
           for name in ("ANA Smith", "Dora 100% Pure", "Dora 1000", "Lee a_b", "Lee axb")}
    ids["Ana María López-Ruiz"] = pid

    def search(q: str) -> list[str]:
        response = client.get(f"{API}/patients", params={"q": q}, headers=auth)
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == len(body["patients"])
        return [p["name"] for p in body["patients"]]

    assert search("ana") == ["Ana María López-Ruiz", "ANA Smith"]
    assert search("ANA") == search("ana")
    assert search("lópez ana") == ["Ana María López-Ruiz"]
    assert search("  MARÍA   ruiz ") == ["Ana María López-Ruiz"]
    assert search("100%") == ["Dora 100% Pure"]
    assert search("a_b") == ["Lee a_b"]
    assert search("%") == ["Dora 100% Pure"]
    assert search("_") == ["Lee a_b"]
    assert search("ana smith zz") == []
    assert len(search("")) == 6
    paged = client.get(f"{API}/patients", params={"limit": 2, "offset": 1}, headers=auth).json()
    assert paged["total"] == 6 and len(paged["patients"]) == 2
    assert paged["patients"][0]["name"] == "ANA Smith"

    # visits: made in any order, listed by date
    pid = ids["Dora 1000"]
    made = {}
    for day in ("2024-03-01", "2023-12-31", "2024-01-15"):
        response = client.post(f"{API}/patients/{pid}/visits",
                               json={"visit_date": day, "notes": f"seen {day}"}, headers=auth)
        assert response.status_code == 201 and set(response.json()) == {"id"}
        made[day] = response.json()["id"]
    visits = client.get(f"{API}/patients/{pid}/visits", headers=auth).json()
    assert [(v["visit_date"], v["id"], v["notes"]) for v in visits] == [
        (day, made[day], f"seen {day}") for day in sorted(made)]
    assert [v["id"] for v in client.get(f"{API}/patients/{pid}", headers=auth
                                        ).json()["visits"]] == [made[d] for d in sorted(made)]
    visit = client.get(f"{API}/visits/{made['2024-01-15']}", headers=auth).json()
    assert (visit["patient_id"], visit["uploads"], visit["labs"], visit["profile"]) == (
        pid, [], [], {"status": "none", "error": None, "job": None})
    error_of(client.post(f"{API}/patients/{pid + 1000}/visits",
                         json={"visit_date": "2024-01-01"}, headers=auth), 404, "not_found")


def test_a_future_birth_date_is_refused_but_one_stored_earlier_can_stay(
        client: TestClient, ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    today, in_a_week = dt.date.today(), dt.date.today() + dt.timedelta(days=7)
    error = error_of(client.post(f"{API}/patients", headers=auth, json={
        "name": "Eve", "birth_date": in_a_week.isoformat()}), 422, "invalid")
    assert error["message"] == f"birth_date: {in_a_week} is in the future (today is {today})"
    # tomorrow is taken: a clinic east of the server's time zone may be a day ahead
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    pid = client.post(f"{API}/patients", headers=auth, json={
        "name": "Eve", "birth_date": tomorrow}).json()["id"]
    # a record from before the rule (dates up to a year ahead were taken) stays editable
    with ctx.transaction() as db:
        db.get(Patient, pid).birth_date = in_a_week
    kept = client.patch(f"{API}/patients/{pid}", headers=auth,
                        json={"birth_date": in_a_week.isoformat(), "contact": "new phone"})
    assert kept.status_code == 200 and kept.json()["birth_date"] == in_a_week.isoformat()
    error = error_of(client.patch(f"{API}/patients/{pid}", headers=auth, json={
        "birth_date": (in_a_week + dt.timedelta(days=1)).isoformat()}), 422, "invalid")
    assert fields_of(error) == ["birth_date"]


def test_invalid_patient_and_visit_fields_are_422_naming_the_field(
        client: TestClient, ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    for body, field in ((({"name": ""}), "name"),
                        ({"name": "Eve", "birth_date": "1980-13-40"}, "birth_date"),
                        ({"name": "Eve", "birth_date": "1850-01-01"}, "birth_date"),
                        ({"name": "Eve", "birth_date": (dt.date.today() + dt.timedelta(days=2))
                          .isoformat()}, "birth_date"),
                        ({"name": "Eve", "sex": "x"}, "sex"),
                        ({"name": "Eve" * 100}, "name"),
                        ({}, "name")):
        error = error_of(client.post(f"{API}/patients", json=body, headers=auth), 422,
                         "invalid")
        assert field in fields_of(error), (body, error)
    assert count(ctx, Patient) == 0
    pid = client.post(f"{API}/patients", json={"name": "Eve"}, headers=auth).json()["id"]
    error = error_of(client.patch(f"{API}/patients/{pid}", json={"birth_date": "tomorrow"},
                                  headers=auth), 422, "invalid")
    assert fields_of(error) == ["birth_date"]
    error = error_of(client.post(f"{API}/patients/{pid}/visits", json={"visit_date": "2024-02-30"},
                                 headers=auth), 422, "invalid")
    assert fields_of(error) == ["visit_date"]
    error = error_of(client.post(f"{API}/patients/{pid}/visits", json={"notes": "no date"},
                                 headers=auth), 422, "invalid")
    assert fields_of(error) == ["visit_date"]
    assert count(ctx, Visit) == 0


def _owner_patient_visit(client: TestClient, ctx: AppContext, name: str, day: str
                         ) -> tuple[dict[str, str], int, int]:
    """Clinic A's owner (a token), a patient of that name and a visit on ``day``."""
    make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    pid = client.post(f"{API}/patients", json={"name": name}, headers=auth).json()["id"]
    visit = client.post(f"{API}/patients/{pid}/visits", json={"visit_date": day},
                        headers=auth).json()["id"]
    return auth, pid, visit


# ---------------------------------------------------------------- a patient's whole journey
def _profile_of(client: TestClient, visit_id: int, auth: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"{API}/visits/{visit_id}/profile", headers=auth)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _options(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for step in document["options"].values() for o in step]


def test_a_patient_from_uploads_to_profile_plan_export_and_erasure(
        client: TestClient, ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    make_user(ctx, "Clinic B", "bob@b.example")
    auth = bearer(client, "ana@a.example")
    practitioner = bearer(client, "pia@a.example")
    other_clinic = bearer(client, "bob@b.example")
    table = gio.example_dataset().table.read_bytes()

    pid = client.post(f"{API}/patients", json={"name": "Journey Patient"},
                      headers=auth).json()["id"]
    v1 = client.post(f"{API}/patients/{pid}/visits", json={"visit_date": "2024-01-10"},
                     headers=auth).json()["id"]
    v2 = client.post(f"{API}/patients/{pid}/visits", json={"visit_date": "2024-04-10"},
                     headers=auth).json()["id"]
    labs = {v1: labs_csv(*FIRST), v2: labs_csv(*SECOND)}
    # labs first: the table's parse then queues the visit's one profile
    accepted: dict[int, dict[str, Any]] = {}
    for visit, (sample, _) in ((v1, FIRST), (v2, SECOND)):
        response = upload(client, visit, "labs", "LABS.csv", labs[visit], auth)
        assert response.status_code == 202, response.text
        response = upload(client, visit, "microbiome", "table.biom", table, auth, sample)
        assert response.status_code == 202, response.text
        assert set(response.json()) == {"id", "job", "status"}
        assert response.json()["status"] == "pending"
        accepted[visit] = response.json()
    job = client.get(f"{API}/jobs/{accepted[v1]['job']}", headers=auth).json()
    assert (job["status"], job["kind"], job["target_id"], job["error"], job["finished_at"]) == (
        "pending", "parse", accepted[v1]["id"], None, None)
    pending = client.get(f"{API}/visits/{v1}/profile", headers=auth)
    assert pending.status_code == 202 and pending.json()["status"] == "pending"

    assert run_jobs(ctx) == 6  # four parses, two profiles
    job = client.get(f"{API}/jobs/{accepted[v1]['job']}", headers=auth).json()
    assert job["status"] == "done" and job["error"] is None and job["finished_at"]
    with ctx.sessions() as db:  # a job's state is read on the record (its error may name a file)
        reads = [(e.object_type, e.object_id, e.detail) for e in db.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "job.read")
            .order_by(AuditEvent.seq))]
    assert reads == [("job", str(accepted[v1]["job"]), f"parse {accepted[v1]['id']}: pending"),
                     ("job", str(accepted[v1]["job"]), f"parse {accepted[v1]['id']}: done")]

    # the profiles
    first = _profile_of(client, v1, auth)
    second = _profile_of(client, v2, auth)
    assert first["schema_version"] == second["schema_version"] == PROFILE_SCHEMA_VERSION
    assert (first["sample_id"], second["sample_id"]) == (FIRST[0], SECOND[0])
    assert first["followup"] is None
    assert second["followup"], "the second visit's profile compares with the first"
    # each dated by its visit, not by the day the jobs ran (both today)
    assert (first["visit_date"], second["visit_date"]) == ("2024-01-10", "2024-04-10")
    assert [h["visit_date"] for h in second["history"]] == ["2024-01-10"]
    for document in (first, second):
        # the inputs are named as uploaded, never by the server's scratch folder
        assert str(ctx.settings.data_dir) not in json.dumps(document)
        inputs = {(i["role"], i["path"], i["sha256"]) for i in document["provenance"]["inputs"]}
        assert ("table", "table.biom", sha256(table)) in inputs
        assert [i["path"] for i in document["provenance"]["inputs"]
                if i["role"] == "labs"] == ["LABS.csv"]
    measures = {m["id"]: m for m in first["measures"]}
    assert measures["marker:lps"]["value"] == pytest.approx(55.96)
    assert measures["marker:ifabp"]["value"] == pytest.approx(607.4)
    pdf = client.get(f"{API}/visits/{v1}/profile.pdf", headers=auth)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    # the visit shows its uploads and lab values
    visit = client.get(f"{API}/visits/{v1}", headers=auth).json()
    assert [(u["kind"], u["status"], u["sha256"], u["size"]) for u in visit["uploads"]] == [
        ("labs", "parsed", sha256(labs[v1]), len(labs[v1])),
        ("microbiome", "parsed", sha256(table), len(table))]
    assert visit["uploads"][1]["sample"] == FIRST[0]
    assert sorted((row["marker"], row["value"], row["unit"]) for row in visit["labs"]) == sorted(
        (MARKER_IDS[name], float(value), unit) for name, (value, unit) in FIRST[1].items())
    assert visit["profile"]["status"] == "done"

    # the timeline: every measure at both visits, oldest first, with the profiles' values
    timeline = client.get(f"{API}/patients/{pid}/timeline", headers=auth).json()
    assert {s["measure"] for s in timeline} == {m["id"] for m in first["measures"]}
    values = [{m["id"]: m["value"] for m in doc["measures"]} for doc in (first, second)]
    for series in timeline:
        points = series["points"]
        assert [(p["visit_id"], p["date"]) for p in points] == [
            (v1, "2024-01-10"), (v2, "2024-04-10")], series["measure"]
        assert [p["value"] for p in points] == [v[series["measure"]] for v in values]
        assert points[0]["change"] == ""
    lps = next(s for s in timeline if s["measure"] == "marker:lps")
    assert [p["value"] for p in lps["points"]] == pytest.approx([55.96, 72.14])

    plan_ids = _check_plan(client, pid, v1, first, auth)
    export = _check_export(client, pid, v1, first, labs, table, auth)
    _check_isolation(client, other_clinic, auth, pid=pid, visit=v1,
                     upload=accepted[v1]["id"], job=accepted[v1]["job"], plan_item=plan_ids[0])
    _check_erasure(client, ctx, pid, [v1, v2], plan_ids, labs, table, export, auth,
                   practitioner)


def _check_plan(client: TestClient, pid: int, visit: int, document: dict[str, Any],
                auth: dict[str, str]) -> list[int]:
    options = _options(document)
    assert options, "this participant's profile offers options"
    option = options[0]
    added = client.post(f"{API}/patients/{pid}/plan",
                        json={"visit_id": visit, "option_id": option["id"], "note": "discussed"},
                        headers=auth)
    assert added.status_code == 201, added.text
    own = client.post(f"{API}/patients/{pid}/plan",
                      json={"title": "Walk 30 minutes a day", "step": "rebalance",
                            "details": "after lunch"}, headers=auth)
    assert own.status_code == 201, own.text
    unknown = error_of(client.post(f"{API}/patients/{pid}/plan",
                                   json={"visit_id": visit, "option_id": "no_such_option"},
                                   headers=auth), 422)
    assert fields_of(unknown) == ["option_id"]
    item_id, own_id = added.json()["id"], own.json()["id"]
    for status, note, on in (("active", "started", "2024-01-15"),
                             ("paused", "travelling", "2024-02-01"),
                             ("active", "back", "2024-02-20"),
                             ("done", "finished", "2024-04-10")):
        changed = client.post(f"{API}/plan-items/{item_id}/status",
                              json={"status": status, "note": note, "on": on}, headers=auth)
        assert changed.status_code == 200, changed.text
        assert changed.json()["status"] == status
    bad = error_of(client.post(f"{API}/plan-items/{item_id}/status",
                               json={"status": "finished"}, headers=auth), 422, "invalid")
    assert fields_of(bad) == ["status"]
    error_of(client.post(f"{API}/plan-items/{own_id + 1000}/status", json={"status": "done"},
                         headers=auth), 404, "not_found")

    plan = {item["id"]: item for item in
            client.get(f"{API}/patients/{pid}/plan", headers=auth).json()}
    assert list(plan) == [item_id, own_id]
    item = plan[item_id]
    assert (item["option_id"], item["own"], item["title"], item["step"],
            item["evidence_level"], item["sources"], item["visit_id"]) == (
        option["id"], False, option["name"], option["step"], option["evidence_level"],
        option["sources"], visit)
    assert item["evidence_level"] and item["sources"]
    # the plan page makes each source's address or DOI a link
    page = client.get(f"/patients/{pid}/plan", headers=auth).text
    linked = [s for s in item["sources"] if "http" in s or "doi:" in s]
    assert linked
    for source in linked:
        address = re.search(r"https?://\S+|doi:\s*\S+", source).group(0).rstrip(".,;:)]")
        href = address if address.startswith("http") else \
            "https://doi.org/" + address.removeprefix("doi:").strip()
        assert f'<a href="{html.escape(href, quote=False)}">' in page, (source, href)
    assert item["status"] == "done"
    assert [(h["status"], h["note"]) for h in item["history"]] == [
        ("proposed", "discussed"), ("active", "started"), ("paused", "travelling"),
        ("active", "back"), ("done", "finished")]
    assert [h["on"] for h in item["history"][1:]] == [
        "2024-01-15", "2024-02-01", "2024-02-20", "2024-04-10"]
    mine = plan[own_id]
    assert (mine["own"], mine["option_id"], mine["evidence_level"], mine["sources"],
            mine["title"], mine["step"], mine["details"], mine["status"]) == (
        True, None, "", [], "Walk 30 minutes a day", "rebalance", "after lunch", "proposed")
    assert [h["status"] for h in mine["history"]] == ["proposed"]
    return [item_id, own_id]


def _check_export(client: TestClient, pid: int, visit: int, document: dict[str, Any],
                  labs: dict[int, bytes], table: bytes, auth: dict[str, str]) -> set[str]:
    response = client.get(f"{API}/patients/{pid}/export", headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    record = json.loads(archive.read("record.json"))
    assert record["patient"]["id"] == pid
    assert record["patient"]["name"] == "Journey Patient"
    assert [v["visit_date"] for v in record["visits"]] == ["2024-01-10", "2024-04-10"]
    assert [p["title"] for p in record["plan"]] == [_options(document)[0]["name"],
                                                    "Walk 30 minutes a day"]
    assert [h["status"] for h in record["plan"][0]["history"]] == [
        "proposed", "active", "paused", "active", "done"]
    stored: set[str] = set()
    for entry in record["visits"]:
        uploads = {u["kind"]: u for u in entry["uploads"]}
        assert archive.read(uploads["microbiome"]["file"]) == table
        assert sha256(archive.read(uploads["microbiome"]["file"])) == uploads["microbiome"][
            "sha256"] == sha256(table)
        assert archive.read(uploads["labs"]["file"]) == labs[entry["id"]]
        assert sha256(labs[entry["id"]]) == uploads["labs"]["sha256"]
        assert len(entry["labs"]) == 4
        (profile,) = entry["profiles"]
        assert set(profile["files"]) == {"json", "html", "pdf"}
        for kind, name in profile["files"].items():
            assert sha256(archive.read(name)) == profile[f"{kind}_sha256"]
            stored.add(profile[f"{kind}_sha256"])
        if entry["id"] == visit:
            assert json.loads(archive.read(profile["files"]["json"])) == document
            assert archive.read(profile["files"]["pdf"]).startswith(b"%PDF")
            assert b"<html" in archive.read(profile["files"]["html"])[:2000].lower()
        stored |= {u["sha256"] for u in entry["uploads"]}
    assert names == {"record.json"} | {u["file"] for e in record["visits"]
                                       for u in e["uploads"]} | {
        name for e in record["visits"] for p in e["profiles"] for name in p["files"].values()}
    return stored


def _check_isolation(client: TestClient, other: dict[str, str], auth: dict[str, str], *,
                     pid: int, visit: int, upload: int, job: int, plan_item: int) -> None:
    """Clinic B's owner gets the 404 a missing id gets, for every object of clinic A."""
    missing = 10 ** 6
    requests: list[tuple[str, str, int, dict[str, Any]]] = [
        ("GET", "/patients/{}", pid, {}),
        ("PATCH", "/patients/{}", pid, {"json": {"name": "Mallory"}}),
        ("GET", "/patients/{}/visits", pid, {}),
        ("POST", "/patients/{}/visits", pid, {"json": {"visit_date": "2024-01-01"}}),
        ("GET", "/patients/{}/timeline", pid, {}),
        ("GET", "/patients/{}/plan", pid, {}),
        ("POST", "/patients/{}/plan", pid, {"json": {"title": "x"}}),
        ("GET", "/patients/{}/export", pid, {}),
        ("DELETE", "/patients/{}", pid, {}),
        ("GET", "/visits/{}", visit, {}),
        ("GET", "/visits/{}/profile", visit, {}),
        ("GET", "/visits/{}/profile.pdf", visit, {}),
        ("POST", "/visits/{}/profile", visit, {"json": {}}),
        ("POST", "/visits/{}/uploads", visit,
         {"data": {"kind": "labs"}, "files": {"file": ("LABS.csv", b"x", "text/csv")}}),
        ("GET", "/uploads/{}", upload, {}),
        ("GET", "/jobs/{}", job, {}),
        ("POST", "/plan-items/{}/status", plan_item, {"json": {"status": "stopped"}}),
    ]
    for method, path, real, kwargs in requests:
        foreign = client.request(method, API + path.format(real), headers=other, **kwargs)
        absent = client.request(method, API + path.format(missing), headers=other, **kwargs)
        error = error_of(foreign, 404, "not_found")
        expected = error_of(absent, 404, "not_found")
        expected["message"] = expected["message"].replace(str(missing), str(real))
        assert error == expected, (method, path)
        assert str(real) in error["message"]
    # B sees none of A's patients, and its own only
    assert client.get(f"{API}/patients", headers=other).json() == {"total": 0, "patients": []}
    assert client.get(f"{API}/patients", params={"q": "journey"}, headers=other
                      ).json()["total"] == 0
    mine = client.post(f"{API}/patients", json={"name": "Journey Patient"},
                       headers=other).json()["id"]
    found = client.get(f"{API}/patients", params={"q": "journey"}, headers=other).json()
    assert [p["id"] for p in found["patients"]] == [mine]
    # and nothing of A's changed
    got = client.get(f"{API}/patients/{pid}", headers=auth).json()
    assert got["name"] == "Journey Patient" and len(got["visits"]) == 2
    assert [i["status"] for i in client.get(f"{API}/patients/{pid}/plan",
                                            headers=auth).json()] == ["done", "proposed"]


def _check_erasure(client: TestClient, ctx: AppContext, pid: int, visits: list[int],
                   plan_ids: list[int], labs: dict[int, bytes], table: bytes,
                   exported: set[str], auth: dict[str, str],
                   practitioner: dict[str, str]) -> None:
    # another patient's upload holds the same table: that file must stay
    other = client.post(f"{API}/patients", json={"name": "Sharing Patient"},
                        headers=auth).json()["id"]
    other_visit = client.post(f"{API}/patients/{other}/visits",
                              json={"visit_date": "2024-05-01"}, headers=auth).json()["id"]
    assert upload(client, other_visit, "microbiome", "same.biom", table, auth,
                  FIRST[0]).status_code == 202
    with ctx.sessions() as db:
        profile_shas = {sha for row in db.execute(sa.select(
            Profile.json_sha256, Profile.html_sha256, Profile.pdf_sha256).where(
                Profile.visit_id.in_(visits))) for sha in row}
    assert len(profile_shas) == 6 and profile_shas <= exported
    gone = profile_shas | {sha256(data) for data in labs.values()}
    assert gone | {sha256(table)} == exported
    assert gone <= ctx.store.all()

    forbidden = error_of(client.delete(f"{API}/patients/{pid}", headers=practitioner),
                         403, "forbidden")
    assert "practitioner" in forbidden["message"]
    assert count(ctx, Patient, Patient.id == pid) == 1
    assert client.delete(f"{API}/patients/{pid}", headers=auth).status_code == 204

    assert count(ctx, Patient, Patient.id == pid) == 0
    assert count(ctx, Visit, Visit.id.in_(visits)) == 0
    assert count(ctx, Upload, Upload.visit_id.in_(visits)) == 0
    assert count(ctx, LabValue, LabValue.visit_id.in_(visits)) == 0
    assert count(ctx, Profile, Profile.visit_id.in_(visits)) == 0
    assert count(ctx, VisitMeasure, VisitMeasure.patient_id == pid) == 0
    assert count(ctx, PlanItem, PlanItem.patient_id == pid) == 0
    assert count(ctx, PlanEvent, PlanEvent.plan_item_id.in_(plan_ids)) == 0
    assert count(ctx, Upload, Upload.visit_id == other_visit) == 1
    for sha in gone:
        assert not ctx.store.path(sha).exists(), sha
    assert ctx.store.verify(sha256(table))

    error_of(client.get(f"{API}/patients/{pid}", headers=auth), 404, "not_found")
    error_of(client.get(f"{API}/visits/{visits[0]}", headers=auth), 404, "not_found")
    error_of(client.delete(f"{API}/patients/{pid}", headers=auth), 404, "not_found")
    audit = client.get(f"{API}/audit", params={"limit": 1000}, headers=auth).json()
    assert audit["chain_intact"] is True and audit["problems"] == []
    erased = [e for e in audit["events"] if e["action"] == "patient.erase"]
    assert [(e["object_type"], e["object_id"], e["user_email"]) for e in erased] == [
        ("patient", str(pid), "ana@a.example")]
    assert erased[0]["detail"] == "visits=2, files=8"
    with ctx.sessions() as db:
        clinic = db.scalar(sa.select(User.clinic_id).where(User.email == "ana@a.example"))
        assert clinic is not None and verify_chain(db, clinic) == []


def test_an_erased_patients_ids_are_never_given_again(client: TestClient,
                                                      ctx: AppContext) -> None:
    # SQLite gave a new row the largest id plus one: after the newest patient was erased,
    # the next one made got its id, and an old bookmark or audit row named someone else
    make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    kept = client.post(f"{API}/patients", json={"name": "Kept"}, headers=auth).json()["id"]
    erased = client.post(f"{API}/patients", json={"name": "Erased"}, headers=auth).json()["id"]
    erased_visit = client.post(f"{API}/patients/{erased}/visits",
                               json={"visit_date": "2024-05-01"}, headers=auth).json()["id"]
    assert client.delete(f"{API}/patients/{erased}", headers=auth).status_code == 204
    new = client.post(f"{API}/patients", json={"name": "New"}, headers=auth).json()["id"]
    new_visit = client.post(f"{API}/patients/{new}/visits", json={"visit_date": "2024-06-01"},
                            headers=auth).json()["id"]
    assert new > erased > kept and new_visit > erased_visit
    error_of(client.get(f"{API}/patients/{erased}", headers=auth), 404, "not_found")
    error_of(client.get(f"{API}/visits/{erased_visit}", headers=auth), 404, "not_found")


def test_a_failed_upload_is_removed_with_its_file_and_a_parsed_one_is_not(
        client: TestClient, ctx: AppContext) -> None:
    # a refused file (another patient's results, say) stayed in the record and its export
    make_user(ctx, "Clinic A", "ana@a.example")
    make_user(ctx, "Clinic A", "asa@a.example", "assistant")
    auth, assistant = bearer(client, "ana@a.example"), bearer(client, "asa@a.example")
    pid = client.post(f"{API}/patients", json={"name": "Ana"}, headers=auth).json()["id"]
    visit = client.post(f"{API}/patients/{pid}/visits", json={"visit_date": "2024-05-01"},
                        headers=auth).json()["id"]
    bad = b"sample_id,marker,value,unit\nP1,calprotectin,high,ug/g\n"
    good = labs_csv("P1", {"calprotectin": ("85", "ug/g")})
    first = upload(client, visit, "labs", "bad.csv", bad, auth).json()
    twin = upload(client, visit, "labs", "bad-again.csv", bad, auth).json()
    kept = upload(client, visit, "labs", "good.csv", good, auth).json()
    run_jobs(ctx)
    statuses = {u["id"]: u["status"] for u in client.get(f"{API}/visits/{visit}",
                                                          headers=auth).json()["uploads"]}
    assert statuses == {first["id"]: "failed", twin["id"]: "failed", kept["id"]: "parsed"}

    refused = error_of(client.delete(f"{API}/uploads/{kept['id']}", headers=auth), 409,
                       "conflict")
    assert "good.csv" in refused["message"] and "is parsed" in refused["message"]
    assert client.delete(f"{API}/uploads/{first['id']}", headers=assistant).status_code == 204
    assert ctx.store.path(sha256(bad)).exists()  # the twin still names the file
    assert client.delete(f"{API}/uploads/{twin['id']}", headers=auth).status_code == 204
    assert not ctx.store.path(sha256(bad)).exists()
    assert ctx.store.verify(sha256(good))
    for gone in (first, twin):
        error_of(client.get(f"{API}/uploads/{gone['id']}", headers=auth), 404, "not_found")
        error_of(client.get(f"{API}/jobs/{gone['job']}", headers=auth), 404, "not_found")
        error_of(client.delete(f"{API}/uploads/{gone['id']}", headers=auth), 404, "not_found")
    got = client.get(f"{API}/visits/{visit}", headers=auth).json()
    assert [u["filename"] for u in got["uploads"]] == ["good.csv"]
    assert [v["marker"] for v in got["labs"]] == ["calprotectin"]
    with zipfile.ZipFile(io.BytesIO(client.get(f"{API}/patients/{pid}/export",
                                               headers=auth).content)) as archive:
        names = archive.namelist()
        record = json.loads(archive.read("record.json"))
    assert not [n for n in names if "bad" in n]
    assert [u["filename"] for v in record["visits"] for u in v["uploads"]] == ["good.csv"]
    events = client.get(f"{API}/audit", params={"limit": 50}, headers=auth).json()["events"]
    assert [(e["object_id"], e["user_email"]) for e in events
            if e["action"] == "upload.delete"] == [(str(twin["id"]), "ana@a.example"),
                                                  (str(first["id"]), "asa@a.example")]


def test_removing_a_failed_upload_keeps_the_file_of_the_same_bytes_arriving_meanwhile(
        client: TestClient, ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    # an upload's file is placed before its row is committed; a failed upload of the same
    # bytes removed in between took the file from under the new row (its parse then failed
    # and its export lacked it)
    from gutaxis.service import api
    from gutaxis.service.services import uploads

    owner = make_user(ctx, "Clinic A", "ana@a.example")
    auth = bearer(client, "ana@a.example")
    pid = client.post(f"{API}/patients", json={"name": "Ana"}, headers=auth).json()["id"]
    first, second = (client.post(f"{API}/patients/{pid}/visits", json={"visit_date": day},
                                 headers=auth).json()["id"]
                     for day in ("2024-05-01", "2024-06-01"))
    data = labs_csv(*FIRST)
    sha = sha256(data)
    failed = upload(client, first, "microbiome", "LABS.csv", data, auth).json()  # wrong kind
    run_jobs(ctx)
    assert client.get(f"{API}/uploads/{failed['id']}", headers=auth).json()["status"] == "failed"
    received = api.read_upload_form
    removed: list[int] = []

    async def remove_the_failed_one_meanwhile(*args: Any, **kwargs: Any) -> Any:
        form = await received(*args, **kwargs)  # the file is in the store, its row not yet
        assert form.stored == (sha, len(data))
        with ctx.transaction() as db:  # what DELETE /uploads/{id} does
            _, shas = uploads.remove_failed_upload(db, owner, failed["id"])
        uploads.remove_unnamed_files(ctx.store, ctx.reads, shas)
        removed.append(failed["id"])
        return form

    monkeypatch.setattr(api, "read_upload_form", remove_the_failed_one_meanwhile)
    accepted = upload(client, second, "labs", "LABS.csv", data, auth)
    assert accepted.status_code == 202, accepted.text
    assert removed == [failed["id"]]
    assert ctx.store.verify(sha)
    run_jobs(ctx)
    visit = client.get(f"{API}/visits/{second}", headers=auth).json()
    assert [(u["status"], u["sha256"]) for u in visit["uploads"]] == [("parsed", sha)]
    assert len(visit["labs"]) == len(FIRST[1])
    # with no row left naming it, the file goes
    with ctx.transaction() as db:
        db.execute(sa.update(Upload).where(Upload.id == accepted.json()["id"])
                   .values(status="failed"))
    assert client.delete(f"{API}/uploads/{accepted.json()['id']}",
                         headers=auth).status_code == 204
    assert not ctx.store.path(sha).exists()


def test_a_file_a_reference_names_is_not_removed_with_a_failed_upload(
        client: TestClient, ctx: AppContext) -> None:
    # the cohort's metadata file of a reference was not among the names looked up
    auth, pid, visit = _owner_patient_visit(client, ctx, "Ana", "2024-05-01")
    study = gio.example_dataset()
    metadata = study.metadata.read_bytes()
    built = client.post(f"{API}/references", headers=auth, data={"name": "Mine"},
                        files={"table": ("table.biom", study.table.read_bytes()),
                               "metadata": ("md.tsv", metadata)})
    assert built.status_code == 202, built.text
    failed = upload(client, visit, "labs", "md.tsv", metadata, auth).json()
    run_jobs(ctx)
    assert client.get(f"{API}/uploads/{failed['id']}", headers=auth).json()["status"] == "failed"
    assert client.delete(f"{API}/uploads/{failed['id']}", headers=auth).status_code == 204
    assert ctx.store.verify(sha256(metadata))


def test_a_patient_erased_while_their_profile_is_computed_leaves_no_file(
        client: TestClient, ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    # the profile job placed the JSON, HTML and PDF, found the patient gone and kept them
    from gutaxis.service import jobs
    from gutaxis.service.services import uploads

    auth, pid, visit = _owner_patient_visit(client, ctx, "Ana", "2024-05-01")
    table = gio.example_dataset().table.read_bytes()
    assert upload(client, visit, "microbiome", "table.biom", table, auth,
                  FIRST[0]).status_code == 202
    real = jobs.run_limited
    erased: list[int] = []

    def erase_first(task: str, payload: dict[str, Any], limits: Any,
                    on_partial: Callable[[dict[str, Any]], None] | None = None) -> Any:
        if task != "compute_profile" or on_partial is None:
            return real(task, payload, limits, on_partial=on_partial)
        shown = on_partial

        def erase_then_show(written: dict[str, Any]) -> None:
            if not erased:
                assert client.delete(f"{API}/patients/{pid}", headers=auth).status_code == 204
                erased.append(pid)
            shown(written)

        return real(task, payload, limits, on_partial=erase_then_show)

    monkeypatch.setattr(jobs, "run_limited", erase_first)
    run_jobs(ctx)
    assert erased == [pid]
    assert count(ctx, Profile) == 0 and count(ctx, Upload) == 0
    with ctx.sessions() as db:  # every file left is one a row still names
        assert uploads.files_no_row_names(db, ctx.store.all()) == set()


def test_a_table_of_many_samples_without_sample_is_a_failed_job_naming_the_field(
        client: TestClient, ctx: AppContext) -> None:
    auth, pid, vid = _owner_patient_visit(client, ctx, "Eve", "2024-01-10")
    path = gio.example_dataset().table
    accepted = upload(client, vid, "microbiome", "table.biom", path.read_bytes(), auth)
    assert accepted.status_code == 202, accepted.text
    assert run_jobs(ctx) == 1
    job = client.get(f"{API}/jobs/{accepted.json()['job']}", headers=auth).json()
    n_samples = len(gio.read_table(path).sample_ids)
    assert job["status"] == "failed"
    assert job["error"].startswith(f"table.biom: the table holds {n_samples} samples (")
    assert "(\"Sample id\" in the upload form, the 'sample' field in the API)" in job["error"]
    up = client.get(f"{API}/uploads/{accepted.json()['id']}", headers=auth).json()
    assert (up["status"], up["error"]) == ("failed", job["error"])
    assert count(ctx, Profile) == 0
    error_of(client.get(f"{API}/visits/{vid}/profile", headers=auth), 404, "not_found")
    # an unknown kind is refused at once
    error = error_of(upload(client, vid, "stool", "t.biom", b"x", auth), 422, "invalid")
    assert fields_of(error) == ["kind"]
    # so is a form with no file: nothing is stored, no failed upload is listed
    uploads_before = count(ctx, Upload)
    error = error_of(client.post(f"{API}/visits/{vid}/uploads", headers=auth,
                                 files={"kind": (None, "labs")}), 422, "invalid")
    assert fields_of(error) == ["file"] and "choose a file to upload" in error["message"]
    assert count(ctx, Upload) == uploads_before


# ---------------------------------------------------------------- audit
def test_the_audit_log_lists_reads_and_changes_and_the_database_keeps_it_append_only(
        client: TestClient, ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    auth = bearer(client, "ana@a.example")
    practitioner = bearer(client, "pia@a.example")
    pid = client.post(f"{API}/patients", json={"name": "Eve"}, headers=auth).json()["id"]
    client.patch(f"{API}/patients/{pid}", json={"contact": "x"}, headers=auth)
    client.get(f"{API}/patients/{pid}", headers=practitioner)
    error_of(client.get(f"{API}/audit", headers=practitioner), 403, "forbidden")
    error_of(client.get(f"{API}/audit.csv", headers=practitioner), 403, "forbidden")

    page = client.get(f"{API}/audit", params={"limit": 1000}, headers=auth)
    assert page.status_code == 200
    body = page.json()
    assert body["chain_intact"] is True and body["problems"] == []
    events = body["events"]
    assert [e["seq"] for e in events] == list(range(len(events), 0, -1))  # newest first
    assert all(set(e) == set(AUDIT_FIELDS) for e in events)
    patient_rows = [(e["user_email"], e["action"], e["object_type"], e["object_id"],
                     e["address"]) for e in reversed(events) if e["object_type"] == "patient"]
    assert patient_rows == [
        ("ana@a.example", "patient.create", "patient", str(pid), "testclient"),
        ("ana@a.example", "patient.update", "patient", str(pid), "testclient"),
        ("pia@a.example", "patient.read", "patient", str(pid), "testclient")]
    users = {e["user_email"]: e["user_id"] for e in events if e["user_id"] is not None}
    with ctx.sessions() as db:
        assert users == {u.email: u.id for u in db.scalars(sa.select(User))}
        clinic = db.scalar(sa.select(User.clinic_id).where(User.email == "ana@a.example"))
        assert clinic is not None
        before = int(db.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.clinic_id == clinic)) or 0)

    exported = client.get(f"{API}/audit.csv", headers=auth)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == list(AUDIT_FIELDS)
    assert len(rows) - 1 == before
    with ctx.sessions() as db:
        stored = list(db.scalars(sa.select(AuditEvent).where(AuditEvent.clinic_id == clinic)
                                 .order_by(AuditEvent.seq)))
    assert len(stored) == before + 1  # the export itself is logged
    assert [(r[0], r[4], r[10]) for r in rows[1:]] == [
        (str(e.seq), e.action, e.hash) for e in stored[:before]]
    assert stored[-1].action == "audit.export"

    # the database itself refuses to change or remove a row
    for statement in ("UPDATE audit_event SET detail = 'changed' WHERE seq = 2",
                      "DELETE FROM audit_event WHERE seq = 2"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), ctx.engine.begin() as c:
            c.execute(sa.text(statement))
    with ctx.sessions() as db:
        assert verify_chain(db, clinic) == []
        assert db.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before + 1

    if ctx.engine.dialect.name != "sqlite":
        return
    # past the trigger (someone with the file): the chain shows which row was altered
    with ctx.engine.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER audit_event_no_update"))
        connection.execute(sa.text("UPDATE audit_event SET object_id = '999' "
                                   "WHERE clinic_id = :c AND seq = 3"), {"c": clinic})
    with ctx.sessions() as db:
        assert verify_chain(db, clinic) == [
            "row 3: its content does not match its hash (changed after writing)"]
    tampered = client.get(f"{API}/audit", headers=auth).json()
    assert tampered["chain_intact"] is False
    assert tampered["problems"] == [
        "row 3: its content does not match its hash (changed after writing)"]


# ---------------------------------------------------------------- one error shape
def test_every_error_has_the_one_shape(client: TestClient, ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "ana@a.example")
    make_user(ctx, "Clinic A", "asa@a.example", "assistant")
    auth = bearer(client, "ana@a.example")
    assistant = bearer(client, "asa@a.example")
    error_of(client.get(f"{API}/no/such/route"), 404, "not_found")
    error_of(client.get(f"{API}/no/such/route", headers=auth), 404, "not_found")
    error_of(client.put(f"{API}/patients", json={}, headers=auth), 405, "method_not_allowed")
    error_of(client.delete(f"{API}/audit", headers=auth), 405, "method_not_allowed")
    malformed = error_of(client.post(f"{API}/patients", content=b'{"name": "Eve",',
                                     headers={**auth, "Content-Type": "application/json"}),
                         422, "invalid")
    assert malformed["fields"]
    error_of(client.post(f"{API}/patients", json=["Eve"], headers=auth), 422, "invalid")
    error_of(client.post(f"{API}/patients", json={"name": "Eve", "colour": "red"},
                         headers=auth), 422, "invalid")
    error_of(client.get(f"{API}/patients/not-a-number", headers=auth), 422, "invalid")
    error_of(client.get(f"{API}/patients", params={"limit": 0}, headers=auth), 422)
    error_of(client.get(f"{API}/patients/12345", headers=auth), 404, "not_found")
    error_of(client.get(f"{API}/patients"), 401, "not_signed_in")
    error_of(client.get(f"{API}/audit", headers=assistant), 403, "forbidden")
    error_of(client.post(f"{API}/session", json={"email": "ana@a.example"}), 422, "invalid")
    assert count(ctx, Patient) == 0


def test_a_limit_keeps_its_sign_on_the_timelines_and_the_profile_names_the_labs_upload(
        client: TestClient, ctx: AppContext) -> None:
    # "<0.5" was kept for the timeline as 0.5: both timelines showed an exact value the lab
    # never gave; and the provenance named only the LABS.csv the job wrote, a hash that
    # matched no upload
    auth, pid, visit = _owner_patient_visit(client, ctx, "Limit", "2024-01-10")
    sample, markers = FIRST
    labs = labs_csv(sample, {**markers, "LPS": ("<0.5", "pg/mL")})
    assert upload(client, visit, "labs", "LABS.csv", labs, auth).status_code == 202
    table = gio.example_dataset().table.read_bytes()
    assert upload(client, visit, "microbiome", "table.biom", table, auth,
                  sample).status_code == 202
    run_jobs(ctx)
    document = _profile_of(client, visit, auth)
    lps = {m["id"]: m for m in document["measures"]}["marker:lps"]
    assert (lps["value"], lps["censored"]) == (0.5, "<")
    timeline = client.get(f"{API}/patients/{pid}/timeline", headers=auth).json()
    points = {s["measure"]: s["points"] for s in timeline}
    assert [(p["value"], p["censored"]) for p in points["marker:lps"]] == [(0.5, "<")]
    assert [p["censored"] for p in points["marker:lbp"]] == [None]
    page = client.get(f"/patients/{pid}/timeline", headers=auth)
    assert page.status_code == 200
    # the timeline writes values as the report does (three significant digits)
    assert "2024-01-10: &lt;0.5" in page.text and "0.5000" not in page.text
    [record] = [i for i in document["provenance"]["inputs"] if i["role"] == "labs"]
    assert record["made_from"] == {"path": "LABS.csv", "sha256": sha256(labs)}
    assert record["sha256"] != sha256(labs)  # the file the job wrote from the lab values
    visit_page = client.get(f"/visits/{visit}", headers=auth).text
    assert f"written from the upload LABS.csv (sha256 <code>{sha256(labs)[:12]}" in visit_page
    # the lab table writes the values as the lab gave them ("1.33", not "1.330")
    assert '<td class="num">&lt;0.5</td>' in visit_page
    assert '<td class="num">1.33</td>' in visit_page
    # the profile's measures read as in its report (three significant digits)
    report = client.get(f"/visits/{visit}/profile.html", headers=auth).text
    assert '<td class="num">&lt;0.5 pg/mL</td>' in visit_page
    assert "&lt;0.5 pg/mL" in report
