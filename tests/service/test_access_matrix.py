"""The access matrix: every route of the app, tried as every kind of caller.

Deny by default: every route must name one :class:`~gutaxis.service.access.AccessRule`
among its dependencies, and :data:`MATRIX` below must hold every route of
the app with the rule it is expected to have — a new route fails
:func:`test_the_matrix_decides_every_route` until someone decides who may
call it (and how to call it here).

Each route is then called, on SQLite and on PostgreSQL, as:

* ``anonymous`` — an API route answers 401 in the one error shape, a page
  redirects (303) to ``/login?next=<path>`` (``/login/code?next=<path>`` for a session
  that owes its second factor); only the ``anyone`` rule lets it
  through;
* ``second_factor_owed`` — a session whose password was right but whose
  authenticator code was not given yet: like anonymous, except on the routes
  of the ``signed in, second factor pending`` rule (the code form, sign-out);
* ``owner``, ``practitioner`` and ``assistant`` of clinic A — a role outside
  the rule gets 403, a role inside gets the route's own success status;
* ``other_practitioner`` — a practitioner of clinic A who is not the
  practitioner of A's patient (see :data:`ACTORS` on why that patient is
  theirs to see too);
* ``other_clinic_owner`` — the owner of clinic B: every route naming an
  object of clinic A answers 404, exactly as a missing object does, and no
  answer to clinic B (nor to anonymous) ever holds clinic A's names;
* ``patient`` — clinic A's patient, signed in to the portal: every staff
  route is 403 (their own record's included), the portal's routes answer
  with their own record;
* ``other_patient`` (another patient of clinic A) and ``other_clinic_patient``
  (a patient of clinic B) — the portal's routes naming the patient's diary
  entry answer 404, and none of their answers holds the patient's name or
  diary.

Path parameters are filled with clinic A's real ids: a patient with two
visits (the first with a parsed microbiome table, parsed lab results and a
finished profile; the second with a parsed table, for the routes that write
to a visit), a plan item, its jobs, the callers' own tokens.  API routes are
called with ``Authorization: Bearer`` tokens, pages with session cookies,
``Accept: text/html`` and the form's CSRF token.  What a call uses up (an
erased patient, a revoked token, an ended session, an accepted invitation)
is made afresh for it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount

from builders.portal import patient_account
from builders.practice import PASSWORD, make_user, signed_in
from builders.questionnaires import definition_bytes
from gutaxis import io as gio
from gutaxis.service import Settings, create_app, security
from gutaxis.service.access import (
    ANYONE,
    CLINICIANS,
    OWNERS,
    PATIENT,
    SESSION_COOKIE,
    SIGNED_IN,
    STAFF,
    AccessRule,
    Principal,
)
from gutaxis.service.jobs import run_next_job, run_pending
from gutaxis.service.models import ROLES, STAFF_ROLES, Job, Profile, Upload, User
from gutaxis.service.pages import LOGIN_CSRF_COOKIE
from gutaxis.service.services import (
    accounts,
    diary,
    patients,
    portal,
    protocols,
    questionnaires,
    uploads,
)
from gutaxis.service.services.profiles import BUNDLED_FOLDER

POSTGRES_SERVER = os.environ.get("GUTAXIS_TEST_POSTGRES",
                                 "postgresql+psycopg://postgres@127.0.0.1:5432")
BACKENDS = ("sqlite", "postgresql")

#: Routes of the app that are not the application's own, and why they need no rule.
NOT_APPLICATION_ROUTES = {
    ("MOUNT", "/static"): "the stylesheet and images of the pages: public files, no data",
    ("GET", "/api/v1/openapi.json"): "FastAPI's OpenAPI document: the API's public contract, "
                                     "no data",
    ("GET", "/api/docs"): "the Swagger UI page, which only reads the OpenAPI document",
    ("GET", "/api/docs/files/swagger-ui.css"): "Swagger UI's stylesheet: public, no data",
    ("GET", "/api/docs/files/swagger-ui-bundle.js"): "Swagger UI's script: public, no data",
}

#: Names of clinic A that no answer to clinic B or to anonymous may hold.
CLINIC_A_MARKERS = ("Alder", "Quennell", "clinic-a.test")
PATIENT_NAME = "Aurelia Quennell"
LABS = (b"sample_id,marker,value,unit\n"
        b"ERR1331798,LPS,120,pg/mL\nERR1331798,hs-CRP,1.2,mg/L\n")
COHORT = b"#OTU ID\tS1\tS2\nf1\t3\t5\nf2\t7\t1\n"
SAMPLE = "ERR1331798"
TOTP_SECRET = pyotp.random_base32()


# ---------------------------------------------------------------------------- the callers
@dataclasses.dataclass(frozen=True)
class Actor:
    """One column of the matrix: who calls."""

    key: str
    role: str | None = None  # None: anonymous
    clinic: str = ""  # "A" or "B"
    email: str = ""
    second_factor_owed: bool = False


#: The columns.  "A patient of another practitioner" is asked from the staff's side: the
#: patient of clinic A is ``practitioner``'s, and ``other_practitioner`` — a practitioner
#: of the same clinic — sees and works on that patient as much as ``practitioner`` does.
#: That is by design: a clinic shares its patients among its staff (an assistant prepares
#: visits, a colleague covers a holiday); the boundary is the clinic, and across it every
#: object is not found.  Patients (the portal) have their own columns: the patient of
#: clinic A, another patient of clinic A, and a patient of clinic B; for them the
#: boundary is their own record.
ACTORS = (
    Actor("anonymous"),
    Actor("second_factor_owed", "practitioner", "A", "second-factor@clinic-a.test",
          second_factor_owed=True),
    Actor("other_clinic_owner", "owner", "B", "owner@clinic-b.test"),
    Actor("assistant", "assistant", "A", "assistant@clinic-a.test"),
    Actor("other_practitioner", "practitioner", "A", "colleague@clinic-a.test"),
    Actor("practitioner", "practitioner", "A", "practitioner@clinic-a.test"),
    Actor("owner", "owner", "A", "owner@clinic-a.test"),
    Actor("patient", "patient", "A", "aurelia@clinic-a.test"),
    Actor("other_patient", "patient", "A", "basil@clinic-a.test"),
    Actor("other_clinic_patient", "patient", "B", "cora@clinic-b.test"),
)
STAFF_ACTORS = tuple(a for a in ACTORS if a.role in STAFF_ROLES and not a.second_factor_owed)
PATIENT_ACTORS = tuple(a for a in ACTORS if a.role == "patient")
#: What only the patient of clinic A (and clinic A's staff) may see: their name and diary.
PATIENT_A_MARKERS = ("Aurelia", "Quennell", "saffron risotto")
DIARY_TEXT = "saffron risotto"


@dataclasses.dataclass
class Credentials:
    """What an actor signs in with: its principal, a token and a session."""

    principal: Principal
    token: str = ""
    session: str = ""
    csrf: str = ""


# ---------------------------------------------------------------------------- the world
@dataclasses.dataclass
class World:
    """Clinic A (staff, a patient with visits, uploads, a profile, a plan) and clinic B."""

    client: TestClient
    app: FastAPI
    backend: str
    creds: dict[str, Credentials]
    ids: dict[str, int]
    counter: int = 0

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx

    def next(self) -> int:
        self.counter += 1
        return self.counter

    def fresh_session(self, actor: Actor) -> tuple[str, str]:
        """A new session of ``actor`` (second factor still owed where the account has one)."""
        with self.ctx.transaction() as db:
            outcome = accounts.sign_in(db, self.ctx.settings, actor.email, PASSWORD,
                                       "testclient")
        assert outcome.error is None, outcome.error
        assert outcome.needs_code == actor.second_factor_owed
        return outcome.token, outcome.csrf_token

    def throwaway_patient(self) -> tuple[int, str]:
        """A patient of clinic A made to be erased."""
        name = f"Throwaway {self.next()}"
        with self.ctx.transaction() as db:
            patient = patients.create_patient(db, self.creds["practitioner"].principal,
                                              {"name": name})
            return patient.id, name

    def spare_token(self, actor: Actor) -> int:
        """A token of ``actor`` (of clinic A's owner for callers outside clinic A's staff)."""
        owner = actor.key if actor.clinic == "A" and actor.key in self.creds \
            and actor.role in STAFF_ROLES else "owner"
        with self.ctx.transaction() as db:
            _, row = accounts.create_token(db, signed_in(self.creds[owner].principal),
                                           "Alder spare")
            return row.id

    def portal_link(self) -> str:
        """A fresh portal link of a patient of clinic A made for it (the call uses it up)."""
        patient_id, _ = self.throwaway_patient()
        with self.ctx.transaction() as db:
            token, _ = portal.invite_patient(db, self.ctx.settings,
                                             self.creds["practitioner"].principal, patient_id,
                                             f"linked-{self.next()}@patients.test")
            return token

    def fresh_entry(self) -> int:
        """A new diary entry of clinic A's patient (for a call that deletes it)."""
        with self.ctx.transaction() as db:
            return diary.add_entry(db, self.creds["patient"].principal, "meal",
                                   {"text": DIARY_TEXT}).id

    def fresh_request(self) -> int:
        """A new questionnaire request to clinic A's patient (for a call that withdraws it)."""
        with self.ctx.transaction() as db:
            return questionnaires.send(db, self.creds["practitioner"].principal,
                                       self.ids["patient_id"], bundled="BristolStoolForm").id

    def invitation(self) -> str:
        """A fresh invitation code to clinic A."""
        with self.ctx.transaction() as db:
            return accounts.invite(db, self.creds["owner"].principal,
                                   f"new-{self.next()}@invited.test", "assistant")


    def failed_upload(self) -> int:
        """A failed upload of clinic A's spare visit (for a call that removes it)."""
        with self.ctx.transaction() as db:
            upload, _ = uploads.receive_upload(
                db, self.ctx.store, self.creds["practitioner"].principal,
                self.ids["spare_visit_id"], "labs", "LABS.csv", limit=1,
                refused="larger than the matrix allows")
            return upload.id

    def open_invitation(self) -> int:
        """The id of a fresh, open invitation to clinic A (for a call that withdraws it)."""
        self.invitation()
        with self.ctx.transaction() as db:
            return accounts.latest_invitation(db, self.creds["owner"].principal)


def _create_database(backend: str) -> str | None:
    if backend == "sqlite":
        return None
    import sqlalchemy as sa

    name = f"gx_matrix_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.fail(f"the PostgreSQL server at {POSTGRES_SERVER} cannot be reached ({exc}); "
                    ".ci/run starts it — the PostgreSQL tests never skip")
    finally:
        admin.dispose()
    return f"{POSTGRES_SERVER}/{name}"


def _drop_database(url: str | None) -> None:
    if url is None:
        return
    import sqlalchemy as sa

    admin = sa.create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" '
                                   "WITH (FORCE)")
    admin.dispose()


def _upload(client: TestClient, token: str, visit_id: int, kind: str, name: str,
            content: bytes, sample: str | None = None) -> dict[str, Any]:
    fields = {"kind": kind} | ({"sample": sample} if sample else {})
    response = client.post(f"/api/v1/visits/{visit_id}/uploads", data=fields,
                           files={"file": (name, content)},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _build_world(client: TestClient, app: FastAPI, backend: str) -> World:
    ctx = app.state.ctx
    creds: dict[str, Credentials] = {}
    for actor in ACTORS[1:]:
        if actor.role == "patient":
            continue  # made below, as a patient gets an account: invited to their record
        clinic = "Clinic Alder" if actor.clinic == "A" else "Clinic Birch"
        assert actor.role is not None
        creds[actor.key] = Credentials(make_user(ctx, clinic, actor.email, actor.role))
    with ctx.transaction() as db:
        accounts.enable_totp(db, signed_in(creds["second_factor_owed"].principal), TOTP_SECRET,
                             pyotp.TOTP(TOTP_SECRET).now())
        # a token for the API, named so that a listing of clinic B would show a leak
        for actor in STAFF_ACTORS:
            name = "Alder token" if actor.clinic == "A" else "Birch token"
            creds[actor.key].token, _ = accounts.create_token(
                db, signed_in(creds[actor.key].principal), name)
        for actor in ACTORS[1:]:
            if actor.role == "patient":
                continue
            outcome = accounts.sign_in(db, ctx.settings, actor.email, PASSWORD, "testclient")
            assert outcome.error is None and outcome.needs_code == actor.second_factor_owed
            creds[actor.key].session, creds[actor.key].csrf = outcome.token, outcome.csrf_token
    world = World(client, app, backend, creds, {})
    ids = world.ids

    def api(method: str, path: str, who: str, **kwargs: Any) -> Any:
        response = client.request(method, path, headers={
            "Authorization": f"Bearer {creds[who].token}"}, **kwargs)
        assert response.status_code in (200, 201, 202), response.text
        return response.json()

    table = gio.example_dataset().table.read_bytes()
    # clinic A: the practitioner's patient, a profiled visit and a visit to write to
    ids["patient_id"] = api("POST", "/api/v1/patients", "practitioner", json={
        "name": PATIENT_NAME, "birth_date": "1980-04-02", "sex": "female"})["id"]
    ids["visit_id"] = api("POST", f"/api/v1/patients/{ids['patient_id']}/visits",
                          "practitioner", json={"visit_date": "2024-03-01"})["id"]
    ids["spare_visit_id"] = api("POST", f"/api/v1/patients/{ids['patient_id']}/visits",
                                "practitioner", json={"visit_date": "2024-06-01"})["id"]
    table_upload = _upload(client, creds["practitioner"].token, ids["visit_id"],
                           "microbiome", "table.biom", table, SAMPLE)
    ids["upload_id"], ids["job_id"] = table_upload["id"], table_upload["job"]
    _upload(client, creds["practitioner"].token, ids["visit_id"], "labs", "LABS.csv", LABS)
    assert run_pending(ctx) == 3  # two parses, then the profile the table's parse queued
    # clinic B: its owner's patient with a visit whose table is parsed
    ids["b_patient_id"] = api("POST", "/api/v1/patients", "other_clinic_owner",
                              json={"name": "Bram Birchwood"})["id"]
    ids["b_visit_id"] = api("POST", f"/api/v1/patients/{ids['b_patient_id']}/visits",
                            "other_clinic_owner", json={"visit_date": "2024-03-01"})["id"]
    spare = _upload(client, creds["practitioner"].token, ids["spare_visit_id"], "microbiome",
                    "table.biom", table, SAMPLE)
    b_upload = _upload(client, creds["other_clinic_owner"].token, ids["b_visit_id"],
                       "microbiome", "table.biom", table, SAMPLE)
    # only the two parses: the profiles they queue stay pending (the worker is off)
    assert run_next_job(ctx) and run_next_job(ctx)
    with ctx.transaction() as db:
        for upload_id in (spare["id"], b_upload["id"]):
            assert db.get(Upload, upload_id).status == "parsed"
        profile = db.scalar(select(Profile).where(Profile.visit_id == ids["visit_id"]))
        assert profile is not None and profile.status == "done", profile and profile.error
        assert db.get(Job, ids["job_id"]).clinic_id == creds["owner"].principal.clinic_id
    ids["item_id"] = api("POST", f"/api/v1/patients/{ids['patient_id']}/plan", "practitioner",
                         json={"title": "Soluble fibre, 10 g a day", "step": "repair"})["id"]
    ids["reference_id"] = api("POST", "/api/v1/references", "owner",
                              data={"name": "Alder cohort"},
                              files={"table": ("cohort.tsv", COHORT)})["id"]
    # the patients' accounts: clinic A's patient, another of clinic A's, one of clinic B's
    records = {"patient": ids["patient_id"], "other_patient": None,
               "other_clinic_patient": ids["b_patient_id"]}
    for actor in PATIENT_ACTORS:
        staff = "practitioner" if actor.clinic == "A" else "other_clinic_owner"
        account = patient_account(ctx, creds[staff].principal, actor.email,
                                  patient_id=records[actor.key], name="Basil Other")
        creds[actor.key] = Credentials(account.principal, "", account.session, account.csrf)
    ids["entry_id"] = world.fresh_entry()
    # a questionnaire sent to the patient, and a definition clinic A imported (its title
    # names clinic A: no answer to clinic B may show it)
    with ctx.transaction() as db:
        ids["request_id"] = questionnaires.send(db, creds["practitioner"].principal,
                                                ids["patient_id"],
                                                bundled="GutSymptomCheckIn").id
        questionnaires.import_definition(db, creds["practitioner"].principal, "alder.json",
                                         definition_bytes(title="Alder test scale"))
    # protocols whose first challenge is under way today (the stop routes stop it): the
    # patient's (gluten), and the other patients' own (egg: their answers must not show gluten)
    start = (dt.date.today() - dt.timedelta(days=14)).isoformat()
    with ctx.transaction() as db:
        for staff, patient_id, group in (
                ("practitioner", ids["patient_id"], "gluten"),
                ("practitioner", creds["other_patient"].principal.patient_id, "egg"),
                ("other_clinic_owner", ids["b_patient_id"], "egg")):
            protocols.create_protocol(db, creds[staff].principal, patient_id, {
                "groups": [group], "elimination_days": 14, "elimination_start": start})
    # an open invitation for the listing to show, whichever rows ran before on this worker
    # (under pytest-xdist a worker may run GET /api/v1/invitations before any row made one)
    world.invitation()
    return world


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          bundled_reference: Path) -> Iterator[World]:
    """Clinic A and clinic B in a started app, built once per backend."""
    data = tmp_path_factory.mktemp(f"matrix-{request.param}")
    shutil.copytree(bundled_reference, data / "references" / BUNDLED_FOLDER)
    url = _create_database(request.param)
    try:
        with pytest.MonkeyPatch.context() as patch:
            # Argon2id at its fastest: the matrix signs in and makes accounts ~100 times;
            # hashing passwords is not what this test is about
            patch.setattr(security, "_HASHER",
                          PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
            app = create_app(Settings(data_dir=data, database_url=url, run_worker=False,
                                      n_boot=10))
            with TestClient(app, base_url="http://testserver",
                            follow_redirects=False) as client:
                yield _build_world(client, app, request.param)
    finally:
        _drop_database(url)


# ---------------------------------------------------------------------------- the rows
Body = Callable[[World, Actor, dict[str, Any]], dict[str, Any]]


def _json(value: dict[str, Any]) -> Body:
    return lambda world, actor, params: {"json": value}


def _form(value: dict[str, Any]) -> Body:
    return lambda world, actor, params: {"data": dict(value)}


def _code(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    if not actor.second_factor_owed:
        return {"json": {"code": "123456"}}
    # a code works once: forget the step an earlier call (or enabling) used, so that two
    # calls in one 30-second window both sign in (replay is test_second_factor's subject)
    with world.app.state.ctx.transaction() as db:
        user = db.scalars(select(User).where(User.email == actor.email)).one()
        user.totp_last_step = None
    return {"json": {"code": pyotp.TOTP(TOTP_SECRET).now()}}


def _code_form(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"code": _code(world, actor, params)["json"]["code"]}}


def _sign_in(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"json": {"email": "owner@clinic-a.test", "password": PASSWORD}}


def _login_form(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"email": "owner@clinic-a.test", "password": PASSWORD}, "login_csrf": True}


def _accept(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"json": {"code": world.invitation(), "password": PASSWORD}}


def _accept_form(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"code": world.invitation(), "password": PASSWORD}, "login_csrf": True}


def _invite(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"json": {"email": f"invited-{world.next()}@invited.test", "role": "assistant"}}


def _own_meal(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    # each patient writes their own meal (another's words would read as a leak)
    text = DIARY_TEXT if actor.key == "patient" else "plain rice"
    return {"json": {"kind": "meal", "data": {"text": text, "portion": "usual"}}}


def _portal_accept(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"password": PASSWORD}, "login_csrf": True}


def _invite_form(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"email": f"invited-{world.next()}@invited.test", "role": "assistant"}}


def _labs_upload(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"kind": "labs"}, "files": {"file": ("LABS.csv", LABS, "text/csv")}}


def _cohort_upload(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"name": "Matrix cohort"},
            "files": {"table": ("cohort.tsv", COHORT, "text/tab-separated-values")}}


def _erase_form(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"confirm": params["patient_name"]}}


def _patient_form(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"name": PATIENT_NAME, "birth_date": "1980-04-02", "sex": "female"}}


def _fresh_protocol(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Give the call's throwaway patient a protocol (the call ends it)."""
    ctx = world.app.state.ctx
    with ctx.transaction() as db:
        owner = db.scalars(select(User).where(User.email == "owner@clinic-a.test")).one()
        staff = Principal(owner.id, owner.clinic_id, "owner", owner.email, "", "token")
        protocols.create_protocol(db, staff, params["patient_id"], {
            "groups": ["egg"], "elimination_days": 7,
            "elimination_start": dt.date.today().isoformat()})
    return {}


def _new_food(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"json": {"name": f"Matrix bread {world.next()}", "groups": ["gluten"]}}


def _new_food_form(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"name": f"Matrix bread {world.next()}", "groups": ["gluten"]}}


def _new_protocol(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"json": {"groups": ["gluten", "lactose"], "template": "low_fodmap",
                     "elimination_start": dt.date.today().isoformat()}}


def _new_protocol_form(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"groups": ["gluten", "lactose"], "template": "low_fodmap",
                     "elimination_start": dt.date.today().isoformat()}}


def _definition_upload(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    # a new version each call (the same file twice is refused as imported before)
    content = definition_bytes(title="Matrix scale", version=f"matrix-{world.next()}")
    return {"files": {"file": ("scale.json", content, "application/json")}}


def _totp_form(world: World, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    secret, now = pyotp.random_base32(), time.time()
    near = {pyotp.TOTP(secret).at(now + 30 * k) for k in range(-3, 4)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in near)
    return {"data": {"secret": secret, "code": wrong}}


SIGNED = "signed in, second factor pending"
MEAL = {"text": DIARY_TEXT, "portion": "usual"}
#: The rules by name: the roles they let through, and whether a session that still owes
#: its second factor passes.  Pinned here rather than read from gutaxis.service.access,
#: so that loosening a rule there fails the matrix.
RULES: dict[str, tuple[frozenset[str], bool]] = {
    "anyone": (frozenset(), False),
    SIGNED: (frozenset({"owner", "practitioner", "assistant", "patient"}), True),
    "staff": (frozenset({"owner", "practitioner", "assistant"}), False),
    "clinicians": (frozenset({"owner", "practitioner"}), False),
    "owners": (frozenset({"owner"}), False),
    "patient": (frozenset({"patient"}), False),
}


@dataclasses.dataclass(frozen=True)
class Row:
    """One route of the matrix: its rule, and how an allowed call is made and answered."""

    rule: str
    status: int
    body: Body | None = None
    #: {visit_id} is the profiled visit, or (for calls that change a visit) the spare one
    spare_visit: bool = False
    #: {patient_id} is a patient made for this call (the call erases it)
    throwaway_patient: bool = False
    #: the call ends the session it is made with: a new one is made for it
    fresh_session: bool = False
    #: an API call made with the session, not the caller's token (a token is refused there)
    by_session: bool = False
    #: a name of clinic A that the answer to clinic A's allowed callers holds (for the
    #: portal's routes: that the answer to clinic A's patient holds)
    shows: str = ""
    #: {entry_id} is a diary entry made for this call (the call deletes it)
    fresh_entry: bool = False
    #: {request_id} is a questionnaire request made for this call (the call withdraws it)
    fresh_request: bool = False
    #: {upload_id} is a failed upload made for this call (the call removes it)
    failed_upload: bool = False
    #: query parameters (formatted like the path): an id of clinic A in them makes the call
    #: a "not found" for clinic B, as one in the path does
    query: tuple[tuple[str, str], ...] = ()


MATRIX: dict[tuple[str, str], Row] = {
    # ------------------------------------------------------------------ API: session, tokens
    ("POST", "/api/v1/session"): Row("anyone", 200, _sign_in),
    ("POST", "/api/v1/session/code"): Row(SIGNED, 204, _code, fresh_session=True),
    ("DELETE", "/api/v1/session"): Row(SIGNED, 204, fresh_session=True),
    ("GET", "/api/v1/me"): Row("staff", 200),
    ("POST", "/api/v1/tokens"): Row("staff", 201, _json({"name": "matrix"}), by_session=True),
    ("GET", "/api/v1/tokens"): Row("staff", 200, shows="Alder token"),
    ("DELETE", "/api/v1/tokens/{token_id}"): Row("staff", 204),
    # ------------------------------------------------------------------ API: staff
    ("GET", "/api/v1/users"): Row("owners", 200, shows="practitioner@clinic-a.test"),
    ("POST", "/api/v1/invitations"): Row("owners", 201, _invite),
    ("GET", "/api/v1/invitations"): Row("owners", 200, shows="@invited.test"),
    ("DELETE", "/api/v1/invitations/{invitation_id}"): Row("owners", 204),
    ("POST", "/api/v1/invitations/accept"): Row("anyone", 201, _accept),
    # ------------------------------------------------------------------ API: patients, visits
    ("GET", "/api/v1/patients"): Row("staff", 200, shows=PATIENT_NAME),
    ("POST", "/api/v1/patients"): Row("staff", 201, _json({"name": "Matrix patient"})),
    ("GET", "/api/v1/patients/{patient_id}"): Row("staff", 200, shows=PATIENT_NAME),
    ("PATCH", "/api/v1/patients/{patient_id}"): Row("staff", 200,
                                                    _json({"contact": "+44 20 7946 0000"})),
    ("DELETE", "/api/v1/patients/{patient_id}"): Row("owners", 204, throwaway_patient=True),
    ("GET", "/api/v1/patients/{patient_id}/export"): Row("clinicians", 200),
    ("GET", "/api/v1/patients/{patient_id}/fhir"): Row("clinicians", 200, shows="Quennell"),
    # ------------------------------------------------------------------ the FHIR face
    ("GET", "/fhir/metadata"): Row("anyone", 200),
    ("GET", "/fhir/Patient/{patient_id}"): Row("staff", 200, shows="Quennell"),
    ("GET", "/fhir/Patient/{patient_id}/$everything"): Row("staff", 200, shows="Quennell"),
    # clinic B's staff find no patient of clinic A by an identifier (an empty searchset)
    ("GET", "/fhir/Patient"): Row("staff", 200, query=(("identifier", "urn:x|none"),)),
    ("GET", "/fhir/Observation"): Row("staff", 200, query=(("patient", "{patient_id}"),)),
    ("GET", "/fhir/DiagnosticReport"): Row("staff", 200,
                                           query=(("patient", "Patient/{patient_id}"),)),
    ("GET", "/api/v1/patients/{patient_id}/visits"): Row("staff", 200),
    ("POST", "/api/v1/patients/{patient_id}/visits"): Row(
        "staff", 201, _json({"visit_date": "2024-09-01"})),
    ("GET", "/api/v1/visits/{visit_id}"): Row("staff", 200),
    ("POST", "/api/v1/visits/{visit_id}/uploads"): Row("staff", 202, _labs_upload,
                                                       spare_visit=True),
    ("GET", "/api/v1/uploads/{upload_id}"): Row("staff", 200),
    ("DELETE", "/api/v1/uploads/{upload_id}"): Row("staff", 204, failed_upload=True),
    ("GET", "/api/v1/jobs/{job_id}"): Row("staff", 200),
    # ------------------------------------------------------------------ API: profiles
    ("GET", "/api/v1/visits/{visit_id}/profile"): Row("staff", 200),
    ("POST", "/api/v1/visits/{visit_id}/profile"): Row("clinicians", 202, _json({}),
                                                       spare_visit=True),
    ("GET", "/api/v1/visits/{visit_id}/profile.pdf"): Row("staff", 200),
    ("GET", "/api/v1/patients/{patient_id}/timeline"): Row("staff", 200),
    ("GET", "/api/v1/references"): Row("staff", 200, shows="Alder cohort"),
    ("POST", "/api/v1/references"): Row("owners", 202, _cohort_upload),
    # ------------------------------------------------------------------ API: plan, audit
    ("GET", "/api/v1/patients/{patient_id}/plan"): Row("staff", 200),
    ("POST", "/api/v1/patients/{patient_id}/plan"): Row(
        "clinicians", 201, _json({"title": "Matrix item"})),
    ("POST", "/api/v1/plan-items/{item_id}/status"): Row("clinicians", 200,
                                                         _json({"status": "active"})),
    ("GET", "/api/v1/audit"): Row("owners", 200, shows="practitioner@clinic-a.test"),
    ("GET", "/api/v1/audit.csv"): Row("owners", 200, shows="practitioner@clinic-a.test"),
    # ------------------------------------------------------------------ pages: signing in
    ("GET", "/"): Row("anyone", 303),
    ("GET", "/login"): Row("anyone", 200),
    ("POST", "/login"): Row("anyone", 303, _login_form),
    ("GET", "/login/code"): Row(SIGNED, 200),
    ("POST", "/login/code"): Row(SIGNED, 303, _code_form, fresh_session=True),
    ("POST", "/logout"): Row(SIGNED, 303, fresh_session=True),
    ("GET", "/invite"): Row("anyone", 200),
    ("POST", "/invite"): Row("anyone", 303, _accept_form),
    # ------------------------------------------------------------------ pages: patients
    ("GET", "/patients"): Row("staff", 200, shows=PATIENT_NAME),
    ("POST", "/patients"): Row("staff", 303, _form({"name": "Matrix patient"})),
    ("GET", "/patients/{patient_id}"): Row("staff", 200, shows=PATIENT_NAME),
    ("GET", "/patients/{patient_id}/edit"): Row("staff", 200, shows=PATIENT_NAME),
    ("POST", "/patients/{patient_id}/edit"): Row("staff", 303, _patient_form),
    ("POST", "/patients/{patient_id}/visits"): Row("staff", 303,
                                                   _form({"visit_date": "2024-09-01"})),
    # ------------------------------------------------------------------ pages: visits
    ("GET", "/visits/{visit_id}"): Row("staff", 200, shows=PATIENT_NAME),
    ("POST", "/visits/{visit_id}/edit"): Row("staff", 303, _form({"visit_date": "2024-06-01"}),
                                             spare_visit=True),
    ("POST", "/visits/{visit_id}/uploads"): Row("staff", 303, _labs_upload, spare_visit=True),
    ("POST", "/uploads/{upload_id}/remove"): Row("staff", 303, failed_upload=True),
    ("POST", "/visits/{visit_id}/profile"): Row("clinicians", 303, spare_visit=True),
    ("GET", "/visits/{visit_id}/profile.html"): Row("staff", 200),
    ("GET", "/visits/{visit_id}/profile.json"): Row("staff", 200),
    # ------------------------------------------------------------------ pages: timeline, plan
    ("GET", "/patients/{patient_id}/timeline"): Row("staff", 200, shows=PATIENT_NAME),
    ("GET", "/patients/{patient_id}/plan"): Row("staff", 200, shows=PATIENT_NAME),
    ("POST", "/patients/{patient_id}/plan"): Row("clinicians", 303,
                                                 _form({"title": "Matrix item"})),
    ("POST", "/plan-items/{item_id}/status"): Row("clinicians", 303, _form({"status": "active"})),
    ("GET", "/patients/{patient_id}/plan/print"): Row("staff", 200, shows=PATIENT_NAME),
    # ------------------------------------------------------------------ pages: erase, audit
    ("GET", "/patients/{patient_id}/erase"): Row("owners", 200, shows=PATIENT_NAME),
    ("POST", "/patients/{patient_id}/erase"): Row("owners", 303, _erase_form,
                                                  throwaway_patient=True),
    ("GET", "/audit"): Row("owners", 200, shows="practitioner@clinic-a.test"),
    # ------------------------------------------------------------------ pages: account, staff
    ("GET", "/account"): Row("staff", 200, shows="Alder token"),
    ("POST", "/account/tokens"): Row("staff", 200, _form({"name": "matrix"}),
                                     shows="Alder token"),
    ("POST", "/account/tokens/{token_id}/revoke"): Row("staff", 303),
    # a wrong code: the rule let the call through and the service refused the code
    # (a right one would turn the second factor on for the caller's later sign-ins)
    ("POST", "/account/totp"): Row("staff", 422, _totp_form),
    ("POST", "/account/totp/off"): Row("staff", 303),
    ("GET", "/staff"): Row("owners", 200, shows="practitioner@clinic-a.test"),
    ("POST", "/staff/invite"): Row("owners", 200, _invite_form,
                                   shows="practitioner@clinic-a.test"),
    ("POST", "/staff/invitations/{invitation_id}/withdraw"): Row("owners", 303),
    ("GET", "/references"): Row("staff", 200, shows="Alder cohort"),
    ("POST", "/references"): Row("owners", 303, _cohort_upload),
    # ------------------------------------------------------------------ API: the portal, staff
    ("GET", "/api/v1/patients/{patient_id}/portal"): Row("staff", 200,
                                                         shows="aurelia@clinic-a.test"),
    ("PUT", "/api/v1/patients/{patient_id}/portal"): Row(
        "clinicians", 200, _json({"primary_symptoms": ["Bloating"], "hide_weight": False})),
    ("POST", "/api/v1/patients/{patient_id}/portal/invitation"): Row(
        "clinicians", 201, _json({"email": "aurelia@clinic-a.test"})),
    ("DELETE", "/api/v1/patients/{patient_id}/portal/access"): Row(
        "clinicians", 204, throwaway_patient=True),
    ("GET", "/api/v1/patients/{patient_id}/diary"): Row("staff", 200, shows=DIARY_TEXT),
    # ------------------------------------------------------------------ API: the portal, patient
    ("GET", "/api/v1/portal/me"): Row("patient", 200, shows="Aurelia"),
    ("GET", "/api/v1/portal/diary"): Row("patient", 200, shows=DIARY_TEXT),
    ("POST", "/api/v1/portal/diary"): Row("patient", 201, _own_meal),
    ("GET", "/api/v1/portal/diary/{entry_id}"): Row("patient", 200, shows=DIARY_TEXT),
    ("PUT", "/api/v1/portal/diary/{entry_id}"): Row("patient", 200, _json({"data": MEAL}),
                                                    shows=DIARY_TEXT),
    ("DELETE", "/api/v1/portal/diary/{entry_id}"): Row("patient", 204, fresh_entry=True),
    ("GET", "/api/v1/portal/visits"): Row("patient", 200, shows="2024-03-01"),
    ("GET", "/api/v1/portal/plan"): Row("patient", 200, shows="Soluble fibre"),
    ("GET", "/api/v1/portal/timeline"): Row("patient", 200, shows="marker:hscrp"),
    # ------------------------------------------------------------------ pages: the portal
    ("GET", "/portal"): Row("patient", 200, shows="Hello, Aurelia"),
    ("GET", "/portal/diary"): Row("patient", 200, shows=DIARY_TEXT),
    ("GET", "/portal/diary/new"): Row("patient", 200),
    ("POST", "/portal/diary"): Row("patient", 303, _form({"kind": "meal", **MEAL})),
    ("GET", "/portal/diary/{entry_id}"): Row("patient", 200, shows=DIARY_TEXT),
    ("POST", "/portal/diary/{entry_id}"): Row("patient", 303, _form(MEAL)),
    ("POST", "/portal/diary/{entry_id}/delete"): Row("patient", 303, fresh_entry=True),
    ("GET", "/portal/visits"): Row("patient", 200, shows="1 March 2024"),
    ("GET", "/portal/plan"): Row("patient", 200, shows="Soluble fibre"),
    ("GET", "/portal/timeline"): Row("patient", 200),
    ("GET", "/portal/invite/{token}"): Row("anyone", 200),
    ("POST", "/portal/invite/{token}"): Row("anyone", 303, _portal_accept),
    # ------------------------------------------------------------------ pages: the portal, staff
    ("POST", "/patients/{patient_id}/portal/invite"): Row(
        "clinicians", 200, _form({"email": "aurelia@clinic-a.test"}), shows=PATIENT_NAME),
    ("POST", "/patients/{patient_id}/portal/revoke"): Row("clinicians", 303,
                                                          throwaway_patient=True),
    ("POST", "/patients/{patient_id}/portal"): Row(
        "clinicians", 303, _form({"symptoms": "Bloating\nTummy pain", "time_zone": "UTC"})),
    ("GET", "/patients/{patient_id}/diary"): Row("staff", 200, shows=DIARY_TEXT),
    # ------------------------------------------------------------------ protocols (challenges)
    ("GET", "/api/v1/patients/{patient_id}/protocol"): Row("staff", 200, shows="gluten"),
    ("POST", "/api/v1/patients/{patient_id}/protocol"): Row("clinicians", 201, _new_protocol,
                                                            throwaway_patient=True),
    ("POST", "/api/v1/patients/{patient_id}/protocol/stop"): Row(
        "clinicians", 200, _json({"position": 0})),
    ("POST", "/api/v1/patients/{patient_id}/protocol/end"): Row(
        "clinicians", 204, _fresh_protocol, throwaway_patient=True),
    ("GET", "/api/v1/portal/protocol"): Row("patient", 200, shows="gluten"),
    ("POST", "/api/v1/portal/protocol/stop"): Row("patient", 200, _json({"position": 0})),
    ("GET", "/patients/{patient_id}/protocol"): Row("staff", 200, shows=PATIENT_NAME),
    ("POST", "/patients/{patient_id}/protocol"): Row("clinicians", 303, _new_protocol_form,
                                                     throwaway_patient=True),
    ("POST", "/patients/{patient_id}/protocol/stop"): Row("clinicians", 303,
                                                          _form({"position": "0"})),
    ("POST", "/patients/{patient_id}/protocol/end"): Row("clinicians", 303, _fresh_protocol,
                                                         throwaway_patient=True),
    ("GET", "/portal/tests"): Row("patient", 200, shows="Gluten"),
    ("GET", "/api/v1/foods"): Row("staff", 200),
    ("POST", "/api/v1/foods"): Row("clinicians", 201, _new_food),
    ("GET", "/foods"): Row("staff", 200),
    ("POST", "/foods"): Row("clinicians", 303, _new_food_form),
    ("POST", "/portal/tests/stop"): Row("patient", 303, _form({"position": "0"})),
    # ------------------------------------------------------------------ questionnaires
    ("GET", "/api/v1/questionnaires"): Row("staff", 200, shows="Alder test scale"),
    ("POST", "/api/v1/questionnaires"): Row("clinicians", 201, _definition_upload),
    ("GET", "/api/v1/patients/{patient_id}/questionnaires"): Row("staff", 200,
                                                                 shows="GutSymptomCheckIn"),
    ("POST", "/api/v1/patients/{patient_id}/questionnaires"): Row(
        "clinicians", 201, _json({"bundled": "BristolStoolForm"})),
    ("GET", "/api/v1/questionnaire-requests/{request_id}"): Row("staff", 200,
                                                                shows="GutSymptomCheckIn"),
    ("POST", "/api/v1/questionnaire-requests/{request_id}/cancel"): Row(
        "clinicians", 200, fresh_request=True),
    ("GET", "/api/v1/portal/questionnaires"): Row("patient", 200, shows="GutSymptomCheckIn"),
    ("GET", "/api/v1/portal/questionnaires/{request_id}"): Row("patient", 200,
                                                               shows="GutSymptomCheckIn"),
    ("POST", "/api/v1/portal/questionnaires/{request_id}/responses"): Row(
        "patient", 201, _json({"answers": {"bloating": 3}})),
    ("GET", "/questionnaires"): Row("staff", 200, shows="Alder test scale"),
    ("POST", "/questionnaires"): Row("clinicians", 303, _definition_upload),
    ("GET", "/patients/{patient_id}/questionnaires"): Row("staff", 200, shows=PATIENT_NAME),
    ("POST", "/patients/{patient_id}/questionnaires"): Row(
        "clinicians", 303, _form({"questionnaire": "bundled:BristolStoolForm"})),
    ("GET", "/questionnaire-requests/{request_id}"): Row("staff", 200, shows=PATIENT_NAME),
    ("POST", "/questionnaire-requests/{request_id}/cancel"): Row("clinicians", 303,
                                                                 fresh_request=True),
    ("GET", "/portal/questionnaires"): Row("patient", 200, shows="Gut symptom check-in"),
    ("GET", "/portal/questionnaires/{request_id}"): Row("patient", 200,
                                                        shows="Gut symptom check-in"),
    ("POST", "/portal/questionnaires/{request_id}"): Row("patient", 303,
                                                         _form({"bloating": "3"})),
}


# ---------------------------------------------------------------------------- the routes
def _route_contexts(app: FastAPI) -> list[Any]:
    """Every route of the app, with the paths and dependencies it is served with.

    FastAPI ≥ 0.165 keeps an included router as one entry of ``app.routes``;
    ``iter_route_contexts`` opens it (earlier versions list the routes flat).
    """
    from fastapi import routing

    walk = getattr(routing, "iter_route_contexts", None)
    return list(walk(app.routes)) if walk is not None else list(app.routes)


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    path: str
    rules: tuple[AccessRule, ...]


def _routes(app: FastAPI) -> tuple[list[Route], set[tuple[str, str]]]:
    """The application's routes (one per method) and the other routes (static, docs)."""
    routes, others = [], set()
    for entry in _route_contexts(app):
        original = getattr(entry, "original_route", entry)
        if isinstance(original, APIRoute):
            rules = tuple(dep.call for dep in entry.dependant.dependencies
                          if isinstance(dep.call, AccessRule))
            for method in sorted(entry.methods):
                routes.append(Route(method, entry.path, rules))
        elif isinstance(original, Mount):
            others.add(("MOUNT", entry.path))
        else:
            for method in sorted(set(entry.methods or {"?"}) - {"HEAD"}):
                others.add((method, entry.path))
    return routes, others


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The app, not started (its routes are what the first tests read)."""
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("bare"), run_worker=False))


def test_every_route_has_one_access_rule(bare_app: FastAPI) -> None:
    routes, _ = _routes(bare_app)
    assert len(routes) == len(MATRIX)
    without = [f"{r.method} {r.path}" for r in routes if len(r.rules) != 1]
    assert not without, ("routes without exactly one AccessRule dependency (deny by default: "
                         "give each one of gutaxis.service.access's rules): "
                         + ", ".join(without))


def test_the_matrix_decides_every_route(bare_app: FastAPI) -> None:
    routes, others = _routes(bare_app)
    found = {(r.method, r.path) for r in routes}
    assert len(found) == len(routes), "a method and path served twice"
    missing, stale = sorted(found - set(MATRIX)), sorted(set(MATRIX) - found)
    assert not missing, (f"routes the access matrix has no row for: {missing}; add each to "
                         "MATRIX with the rule it must have and how an allowed call is made")
    assert not stale, f"rows of the access matrix for routes the app does not have: {stale}"
    assert others == set(NOT_APPLICATION_ROUTES), (
        "routes that are not the application's own changed: "
        f"{sorted(others ^ set(NOT_APPLICATION_ROUTES))}")


def test_each_route_has_the_rule_the_matrix_expects(bare_app: FastAPI) -> None:
    routes, _ = _routes(bare_app)
    wrong = [f"{r.method} {r.path}: {[x.name for x in r.rules]} (the matrix says "
             f"{MATRIX[(r.method, r.path)].rule!r})" for r in routes
             if [x.name for x in r.rules] != [MATRIX[(r.method, r.path)].rule]]
    assert not wrong, "routes whose rule is not the matrix's: " + "; ".join(wrong)
    for rule in {r.rules[0] for r in routes}:
        assert (frozenset(rule.roles), rule.allow_pending_totp) == RULES[rule.name], (
            f"the rule {rule.name!r} now lets through {rule.roles} (second factor owed: "
            f"{rule.allow_pending_totp}); the matrix expects {RULES[rule.name]}")


def test_roles_are_the_matrix_columns() -> None:
    # a new role needs its column: what it may reach, and that what is not its own is
    # not found
    assert set(ROLES) == {"owner", "practitioner", "assistant", "patient"}, (
        f"ROLES is now {ROLES}: add the new role's actors to ACTORS and its rules to MATRIX")
    assert {a.role for a in STAFF_ACTORS} | {a.role for a in PATIENT_ACTORS} == set(ROLES)
    assert {a.clinic for a in PATIENT_ACTORS} == {"A", "B"} and len(PATIENT_ACTORS) == 3
    for rule in (ANYONE, SIGNED_IN, STAFF, CLINICIANS, OWNERS, PATIENT):
        assert (frozenset(rule.roles), rule.allow_pending_totp) == RULES[rule.name], rule


# ---------------------------------------------------------------------------- the calls
def _expected(row: Row, path: str, actor: Actor) -> str:
    roles, second_factor_may_be_owed = RULES[row.rule]
    if not roles:
        return "allowed"
    if actor.role is None or (actor.second_factor_owed and not second_factor_may_be_owed):
        return "not signed in"
    if actor.role not in roles:
        return "forbidden"
    if actor.clinic == "B" and ("{" in path or any("{" in v for _, v in row.query)):
        return "not found"
    if row.rule == "patient" and "{" in path and actor.key != "patient":
        return "not found"  # the portal's objects are the patient's own: another patient's
    return "allowed"


def _call(world: World, method: str, path: str, row: Row, actor: Actor
          ) -> tuple[str, httpx.Response]:
    params: dict[str, Any] = dict(world.ids)
    if row.spare_visit:
        params["visit_id"] = world.ids["spare_visit_id"]
    if row.throwaway_patient:
        params["patient_id"], params["patient_name"] = world.throwaway_patient()
    if "{token_id}" in path:
        params["token_id"] = world.spare_token(actor)
    if "{token}" in path:
        params["token"] = world.portal_link()
    if "{invitation_id}" in path:
        params["invitation_id"] = world.open_invitation()
    if row.fresh_entry:
        params["entry_id"] = world.fresh_entry()
    if row.fresh_request:
        params["request_id"] = world.fresh_request()
    if row.failed_upload:
        params["upload_id"] = world.failed_upload()
    url = path.format(**params)
    page = not path.startswith(("/api/", "/fhir/"))
    call = row.body(world, actor, params) if row.body else {}
    if row.query:
        call["params"] = {key: value.format(**params) for key, value in row.query}
    login_csrf = call.pop("login_csrf", False)
    headers = {"Accept": "text/html" if page else "application/json"}
    cookies: dict[str, str] = {}
    creds = world.creds.get(actor.key)
    if creds is not None:
        session, csrf = creds.session, creds.csrf
        if row.fresh_session:
            session, csrf = world.fresh_session(actor)
        if page or not creds.token or row.by_session:
            cookies[SESSION_COOKIE] = session
            if method != "GET" and RULES[row.rule][0]:
                if not page:
                    headers["X-CSRF-Token"] = csrf
                elif "files" in call:
                    call["params"] = {"csrf_token": csrf}
                else:
                    call["data"] = {**call.get("data", {}), "csrf_token": csrf}
        else:
            headers["Authorization"] = f"Bearer {creds.token}"
    if login_csrf:
        cookies[LOGIN_CSRF_COOKIE] = "matrix-login-form"
        call["data"]["csrf_token"] = "matrix-login-form"
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    world.client.cookies.clear()
    return url, world.client.request(method, url, headers=headers, **call)


_ERROR_CODES = {401: "not_signed_in", 403: "forbidden", 404: "not_found"}
_STATUS = {"not signed in": 401, "forbidden": 403, "not found": 404}


def _problem(path: str, url: str, row: Row, actor: Actor, expected: str,
             response: httpx.Response) -> str | None:
    status, page = response.status_code, not path.startswith(("/api/", "/fhir/"))
    if expected == "allowed":
        if status != row.status:
            return f"expected {row.status}, got {status}: {response.text[:300]}"
        return None
    if expected == "not signed in" and page:
        # a session that still owes its second factor is sent to the code form
        form = "/login/code" if actor.key == "second_factor_owed" else "/login"
        want = f"{form}?next={url}"
        if status != 303 or response.headers.get("location") != want:
            return (f"expected a 303 redirect to {want}, got {status} "
                    f"{response.headers.get('location')}: {response.text[:200]}")
        return None
    code = _STATUS[expected]
    if status != code:
        return f"expected {code} ({expected}), got {status}: {response.text[:300]}"
    if page:
        if not response.headers.get("content-type", "").startswith("text/html"):
            return f"expected an error page, got {response.headers.get('content-type')}"
        return None
    body = response.json()
    if path.startswith("/fhir/"):  # FHIR's own error shape, an OperationOutcome
        issues = body.get("issue") or [{}]
        if body.get("resourceType") != "OperationOutcome" or issues[0].get("code") != {
                401: "login", 403: "forbidden", 404: "not-found"}[code] \
                or not issues[0].get("diagnostics"):
            return f"not an OperationOutcome: {body}"
        return None
    if set(body) != {"error"} or set(body["error"]) != {"status", "code", "message", "fields"} \
            or body["error"]["status"] != code or body["error"]["code"] != _ERROR_CODES[code] \
            or not body["error"]["message"]:
        return f"not the one error shape: {body}"
    return None


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_access_matrix(world: World, route: tuple[str, str]) -> None:
    method, path = route
    row = MATRIX[route]
    problems = []
    for actor in ACTORS:
        expected = _expected(row, path, actor)
        url, response = _call(world, method, path, row, actor)
        problem = _problem(path, url, row, actor, expected, response)
        if problem is None and actor.clinic != "A":
            leaked = [m for m in CLINIC_A_MARKERS if m in response.text]
            if leaked:
                problem = f"the answer holds clinic A's {leaked}: {response.text[:300]}"
        if problem is None and actor.role == "patient" and actor.key != "patient":
            leaked = [m for m in PATIENT_A_MARKERS if m in response.text]
            if leaked:
                problem = f"the answer holds the patient's {leaked}: {response.text[:300]}"
        shown_to = actor.key == "patient" if row.rule == "patient" else actor.clinic == "A"
        if problem is None and expected == "allowed" and shown_to and row.shows \
                and row.shows not in response.text:
            problem = f"the answer lacks {row.shows!r}: {response.text[:300]}"
        if problem is not None:
            problems.append(f"{method} {url} as {actor.key} ({expected}): {problem}")
    assert not problems, "\n".join(problems)


def test_a_route_without_a_rule_is_caught(tmp_path: Path) -> None:
    from fastapi import APIRouter

    app = create_app(Settings(data_dir=tmp_path, run_worker=False))
    router = APIRouter(prefix="/api/v1")
    router.add_api_route("/unguarded", lambda: {"ok": True}, methods=["GET"])
    app.include_router(router)
    app.add_api_route("/also-unguarded", lambda: {"ok": True}, methods=["POST"])
    routes, _ = _routes(app)
    bare = {(r.method, r.path) for r in routes if not r.rules}
    assert bare == {("GET", "/api/v1/unguarded"), ("POST", "/also-unguarded")}
    assert not bare & set(MATRIX)
    # the rules of the routes included from a router are found through the inclusion
    assert {(r.method, r.path): r.rules for r in routes}[("GET", "/api/v1/audit")] == (OWNERS,)


def test_routes_outside_the_application_hold_no_data(world: World) -> None:
    world.client.cookies.clear()
    for method, path in (("GET", "/api/v1/openapi.json"), ("GET", "/api/docs"),
                         ("GET", "/api/docs/files/swagger-ui-bundle.js"),
                         ("GET", "/api/docs/files/swagger-ui.css"),
                         ("GET", "/static/app.css")):
        response = world.client.request(method, path)
        assert response.status_code == 200, (path, response.status_code)
        assert not [m for m in CLINIC_A_MARKERS if m in response.text], path
    assert "/api/v1/patients/{patient_id}" in world.client.get("/api/v1/openapi.json").json()[
        "paths"]
    # nothing else of the Swagger package (its editor, its demo's starter) is served
    for path in ("/api/docs/files/swagger-initializer.js", "/api/docs/files/index.html",
                 "/api/docs/files/swagger-editor-bundle.js"):
        assert world.client.get(path).status_code == 404, path


def _as(world: World, key: str) -> dict[str, str]:
    world.client.cookies.clear()
    return {"Authorization": f"Bearer {world.creds[key].token}"}


def _page_as(world: World, key: str) -> tuple[dict[str, str], str]:
    world.client.cookies.clear()
    creds = world.creds[key]
    return {"Accept": "text/html", "Cookie": f"{SESSION_COOKIE}={creds.session}"}, creds.csrf


def test_ids_of_another_clinic_in_a_body_are_not_found(world: World) -> None:
    client, ids = world.client, world.ids
    b_visit, b_patient = ids["b_visit_id"], ids["b_patient_id"]
    # clinic A's reference (still being built) for clinic B's visit: not found, as a
    # missing one; for clinic A's own visit it is found, and refused as not ready
    response = client.post(f"/api/v1/visits/{b_visit}/profile", headers=_as(
        world, "other_clinic_owner"), json={"reference_id": ids["reference_id"]})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    response = client.post(f"/api/v1/visits/{b_visit}/profile", headers=_as(
        world, "other_clinic_owner"), json={"reference_id": 10 ** 9})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    response = client.post(f"/api/v1/visits/{ids['spare_visit_id']}/profile",
                           headers=_as(world, "owner"),
                           json={"reference_id": ids["reference_id"]})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid")
    headers, csrf = _page_as(world, "other_clinic_owner")
    response = client.post(f"/visits/{b_visit}/profile", headers=headers, data={
        "reference_id": str(ids["reference_id"]), "csrf_token": csrf})
    assert response.status_code == 404
    # clinic A's visit as the source of an option for clinic B's patient's plan
    response = client.post(f"/api/v1/patients/{b_patient}/plan", headers=_as(
        world, "other_clinic_owner"), json={"visit_id": ids["visit_id"], "option_id": "x"})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    headers, csrf = _page_as(world, "other_clinic_owner")
    response = client.post(f"/patients/{b_patient}/plan", headers=headers, data={
        "visit_id": str(ids["visit_id"]), "option_id": "x", "csrf_token": csrf})
    assert response.status_code == 404
    # and the other way round: clinic B's patient and visit are not found by clinic A
    for path in (f"/api/v1/patients/{b_patient}", f"/api/v1/visits/{b_visit}"):
        response = client.get(path, headers=_as(world, "owner"))
        assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
        assert "Birchwood" not in response.text


def test_a_clinic_shares_its_patients_among_its_staff(world: World) -> None:
    # the patient is the practitioner's; the colleague of the same clinic reads, edits and
    # plans for them as the practitioner does (on purpose: the boundary is the clinic)
    client, patient_id = world.client, world.ids["patient_id"]
    record = client.get(f"/api/v1/patients/{patient_id}", headers=_as(world, "practitioner"))
    assert record.json()["practitioner_id"] == world.creds["practitioner"].principal.user_id
    assert world.creds["other_practitioner"].principal.user_id != \
        world.creds["practitioner"].principal.user_id
    colleague = _as(world, "other_practitioner")
    seen = client.get(f"/api/v1/patients/{patient_id}", headers=colleague)
    assert seen.status_code == 200 and seen.json()["name"] == PATIENT_NAME
    assert [v["id"] for v in seen.json()["visits"]][:2] == [world.ids["visit_id"],
                                                            world.ids["spare_visit_id"]]
    profile = client.get(f"/api/v1/visits/{world.ids['visit_id']}/profile", headers=colleague)
    assert profile.status_code == 200 and profile.json()["sample_id"] == SAMPLE
    added = client.post(f"/api/v1/patients/{patient_id}/plan", headers=colleague,
                        json={"title": "Colleague's item"})
    assert added.status_code == 201
    plan = client.get(f"/api/v1/patients/{patient_id}/plan", headers=_as(world, "practitioner"))
    assert "Colleague's item" in [item["title"] for item in plan.json()]
