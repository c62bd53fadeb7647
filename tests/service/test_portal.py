"""The patient portal: invitations, a patient's own record only, the diary and its privacy.

Every test runs on SQLite and on PostgreSQL (the ``client``/``ctx`` fixtures).
Patients get their accounts as a patient does: the practitioner makes a
link, the patient sets a password with it (``builders.portal``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from builders.portal import PatientAccount, patient_account
from builders.portal import csrf_of as _csrf
from builders.portal import staff_page as _staff_page
from builders.practice import PASSWORD, bearer, make_user, run_jobs
from gutaxis import io as gio
from gutaxis.service import audit
from gutaxis.service.context import AppContext
from gutaxis.service.errors import Invalid, NotFound
from gutaxis.service.models import (
    AuditEvent,
    DiaryEntry,
    DiaryVersion,
    PortalAccount,
    PortalInvitation,
    User,
)
from gutaxis.service.pages import LOGIN_CSRF_COOKIE
from gutaxis.service.services import diary, patients, portal

HTML = {"Accept": "text/html"}
API = "/api/v1"
SYMPTOMS = ("Bloating", "Tummy pain")




def _clinic(ctx: AppContext, name: str = "Clinic A", email: str = "pia@a.example"
            ) -> Any:
    return make_user(ctx, name, email, "practitioner")


def _entries(ctx: AppContext) -> list[tuple[DiaryEntry, list[DiaryVersion]]]:
    with ctx.sessions() as db:
        return [(e, list(e.versions)) for e in db.scalars(select(DiaryEntry)
                                                          .order_by(DiaryEntry.id))]


def _add(client: TestClient, who: PatientAccount, kind: str, data: dict[str, Any], *,
         at: str = "2026-03-02T08:30", private: bool = False) -> dict[str, Any]:
    client.cookies.clear()
    response = client.post(f"{API}/portal/diary", headers=who.api,
                           json={"kind": kind, "at": at, "private": private, "data": data})
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


# ------------------------------------------------------------------ the invitation
def _practitioner_with_patient(client: TestClient, ctx: AppContext
                               ) -> tuple[dict[str, str], str, int]:
    """Pia signed in to the pages, and her new patient Ana Lima: headers, CSRF token, id."""
    _clinic(ctx)
    headers, csrf = _staff_page(client, "pia@a.example")
    made = client.post("/patients", headers=headers, follow_redirects=False,
                       data={"name": "Ana Lima", "csrf_token": csrf})
    return headers, csrf, int(made.headers["location"].rsplit("/", 1)[1])


def test_the_link_works_once_is_kept_only_as_a_hash_and_signs_the_patient_in(
        client: TestClient, ctx: AppContext) -> None:
    headers, csrf, patient_id = _practitioner_with_patient(client, ctx)
    page = client.post(f"/patients/{patient_id}/portal/invite", headers=headers,
                       data={"email": "Ana.Lima@Mail.Example", "csrf_token": csrf})
    assert page.status_code == 200 and "it is shown only now" in page.text
    link = re.search(r'<code class="secret">(http://testserver/portal/invite/([^<]+))</code>',
                     page.text)
    assert link, page.text
    token = link.group(2)
    assert len(token) == 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # 256 random bits
    with ctx.sessions() as db:
        row = db.scalars(select(PortalInvitation)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.email == "ana.lima@mail.example"
        assert row.expires_at - row.created_at == dt.timedelta(days=7)
        dump = json.dumps([list(r) for r in db.execute(text("SELECT * FROM portal_invitation"))],
                          default=str)
    assert token not in dump  # the link itself is nowhere in the database

    client.cookies.clear()
    form = client.get(f"/portal/invite/{token}", headers=HTML)
    assert form.status_code == 200 and "ana.lima@mail.example" in form.text
    login_csrf = client.cookies[LOGIN_CSRF_COOKIE]
    short = client.post(f"/portal/invite/{token}", headers=HTML,
                        data={"password": "too short", "csrf_token": login_csrf})
    assert short.status_code == 422
    assert "a password needs at least 12 characters (this one has 9)" in short.text
    done = client.post(f"/portal/invite/{token}", headers=HTML, follow_redirects=False,
                       data={"password": PASSWORD, "csrf_token": login_csrf})
    assert done.status_code == 303 and done.headers["location"] == "/portal"
    home = client.get("/portal", headers=HTML)
    # the whole name as the record holds it (a first word is not always a given name:
    # the demo clinic's "Study participant 12" was greeted "Hello, Study")
    assert home.status_code == 200 and "<h1>Hello, Ana Lima</h1>" in home.text
    record = home.text.split("<h2>Your record</h2>", 1)[1]
    for path in ("diary", "visits", "plan", "tests", "timeline", "questionnaires"):
        assert f'href="/portal/{path}"' in record, path  # every part of the portal
    with ctx.sessions() as db:
        user = db.scalars(select(User).where(User.role == "patient")).one()
        assert user.email == "ana.lima@mail.example"
        assert user.password_hash.startswith("$argon2id$")  # as the staff's
        assert db.scalars(select(PortalAccount)).one().user_id == user.id

    # used, unknown: one and the same answer (the answer says nothing about the link)
    client.cookies.clear()
    used = client.get(f"/portal/invite/{token}", headers=HTML)
    unknown = client.get(f"/portal/invite/{token[:-2]}xx", headers=HTML)
    assert used.status_code == unknown.status_code == 404
    assert portal.GONE in used.text and used.text == unknown.text
    again = client.post(f"/portal/invite/{token}", headers=HTML | {
        "Cookie": f"{LOGIN_CSRF_COOKIE}=x"}, data={"password": PASSWORD, "csrf_token": "x"})
    assert again.status_code == 404 and portal.GONE in again.text
    # the form needs its own cookie (the double-submit CSRF check)
    client.cookies.clear()
    forged = client.post(f"/portal/invite/{token}", headers=HTML,
                         data={"password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 403

    # the patient signs in later through the sign-in form, and lands in the portal
    form = client.get("/login", headers=HTML)
    signed = client.post("/login", headers=HTML, follow_redirects=False, data={
        "email": "ana.lima@mail.example", "password": PASSWORD, "csrf_token": _csrf(form.text),
        "next": "/patients"})
    assert signed.status_code == 303 and signed.headers["location"] == "/portal"


def test_a_link_expires_after_the_setting_and_a_new_link_replaces_the_open_one(
        client: TestClient, ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    staff = _clinic(ctx)
    with ctx.transaction() as db:
        patient_id = patients.create_patient(db, staff, {"name": "Ben"}).id
        first, _ = portal.invite_patient(db, ctx.settings, staff, patient_id, "ben@mail.example")
    start = portal.utcnow()
    # a frozen clock: just before and just after the 7 days
    monkeypatch.setattr(portal, "utcnow", lambda: start + dt.timedelta(days=6, hours=23))
    with ctx.sessions() as db:
        assert portal.link_invitation(db, first).email == "ben@mail.example"
    monkeypatch.setattr(portal, "utcnow", lambda: start + dt.timedelta(days=7, seconds=1))
    with ctx.sessions() as db, pytest.raises(NotFound, match="does not work any more"):
        portal.link_invitation(db, first)
    response = client.get(f"/portal/invite/{first}", headers=HTML)
    assert response.status_code == 404 and portal.GONE in response.text
    monkeypatch.undo()

    with ctx.transaction() as db:
        second, row = portal.invite_patient(db, ctx.settings, staff, patient_id,
                                            "ben@mail.example")
    assert second != first
    with ctx.sessions() as db:
        with pytest.raises(NotFound):
            portal.link_invitation(db, first)  # revoked by the new one
        assert portal.link_invitation(db, second).id == row.id
        revoked = db.scalars(select(PortalInvitation).where(
            PortalInvitation.token_hash == hashlib.sha256(first.encode()).hexdigest())).one()
        assert revoked.revoked_at is not None


def test_the_link_lasts_the_settings_days(make_settings: Any) -> None:
    from gutaxis.service import create_app

    app = create_app(make_settings(portal_invite_days=2))
    with TestClient(app):
        ctx = app.state.ctx
        staff = _clinic(ctx)
        with ctx.transaction() as db:
            pid = patients.create_patient(db, staff, {"name": "C"}).id
            _, row = portal.invite_patient(db, ctx.settings, staff, pid, "c@mail.example")
            assert row.expires_at - row.created_at == dt.timedelta(days=2)


def test_revoking_ends_the_sessions_and_a_new_link_gives_access_again(
        client: TestClient, ctx: AppContext) -> None:
    staff = _clinic(ctx)
    ana = patient_account(ctx, staff, "ana@mail.example", name="Ana")
    client.cookies.clear()
    assert client.get(f"{API}/portal/me", headers=ana.api).status_code == 200
    auth = bearer(client, "pia@a.example")
    assert client.delete(f"{API}/patients/{ana.patient_id}/portal/access",
                         headers=auth).status_code == 204
    status = client.get(f"{API}/patients/{ana.patient_id}/portal", headers=auth).json()
    assert status["active"] is False and status["account_email"] == "ana@mail.example"
    client.cookies.clear()
    ended = client.get(f"{API}/portal/me", headers=ana.api)
    assert ended.status_code == 401
    refused = client.post(f"{API}/session", json={"email": "ana@mail.example",
                                                  "password": PASSWORD})
    assert refused.status_code == 401
    # a new link: a new password, and the account is on again
    answer = client.post(f"{API}/patients/{ana.patient_id}/portal/invitation", headers=auth,
                         json={"email": "ana@mail.example"})
    assert answer.status_code == 201
    token = answer.json()["link"].rsplit("/", 1)[1]
    with ctx.transaction() as db:
        portal.accept_link(db, ctx.settings, token, "another long password", "test")
    client.cookies.clear()
    assert client.post(f"{API}/session", json={"email": "ana@mail.example",
                                               "password": PASSWORD}).status_code == 401
    back = client.post(f"{API}/session", json={"email": "ana@mail.example",
                                               "password": "another long password"})
    assert back.status_code == 200 and back.json()["role"] == "patient"
    # an address of someone else's account is refused when inviting
    make_user(ctx, "Clinic A", "colleague@a.example", "assistant")
    clash = client.post(f"{API}/patients/{ana.patient_id}/portal/invitation", headers=auth,
                        json={"email": "colleague@a.example"})
    assert clash.status_code == 409
    # and a patient's account is no member of staff
    make_user(ctx, "Clinic A", "own@a.example", "owner")
    users = client.get(f"{API}/users", headers=bearer(client, "own@a.example")).json()
    assert sorted(u["email"] for u in users) == ["colleague@a.example", "own@a.example",
                                                 "pia@a.example"]


# ------------------------------------------------------------------ the patient's own record
def test_a_patient_reaches_only_their_own_record(client: TestClient, ctx: AppContext) -> None:
    staff = _clinic(ctx)
    other_staff = make_user(ctx, "Clinic B", "bo@b.example", "owner")
    ana = patient_account(ctx, staff, "ana@mail.example", name="Ana", symptoms=SYMPTOMS)
    ben = patient_account(ctx, staff, "ben@mail.example", name="Ben")
    cleo = patient_account(ctx, other_staff, "cleo@mail.example", name="Cleo")
    entry = _add(client, ana, "stool", {"bristol": 4})
    for other in (ben, cleo):
        client.cookies.clear()
        for method, path, body in (("GET", f"{API}/portal/diary/{entry['id']}", None),
                                   ("PUT", f"{API}/portal/diary/{entry['id']}",
                                    {"data": {"bristol": 1}}),
                                   ("DELETE", f"{API}/portal/diary/{entry['id']}", None)):
            response = client.request(method, path, headers=other.api, json=body)
            assert response.status_code == 404, (other.email, method, response.text)
            assert response.json()["error"]["code"] == "not_found"
        for path in (f"/portal/diary/{entry['id']}",):
            assert client.get(path, headers=other.cookie).status_code == 404
        assert client.post(f"/portal/diary/{entry['id']}/delete", headers=other.cookie,
                           data={"csrf_token": other.csrf}).status_code == 404
        assert client.get(f"{API}/portal/diary", headers=other.api).json() == []
        assert "Ana" not in client.get("/portal", headers=other.cookie).text
    # the staff's pages and API are closed to a patient, their own record's included
    client.cookies.clear()
    for path in (f"{API}/patients/{ana.patient_id}", f"{API}/patients", f"{API}/me",
                 f"{API}/patients/{ana.patient_id}/diary"):
        assert client.get(path, headers=ana.api).status_code == 403, path
    for path in (f"/patients/{ana.patient_id}", "/patients", "/account"):
        assert client.get(path, headers=ana.cookie).status_code == 403, path
    # and the portal is closed to staff: a practitioner is not the patient
    auth = bearer(client, "pia@a.example")
    assert client.get(f"{API}/portal/diary", headers=auth).status_code == 403
    headers, _ = _staff_page(client, "pia@a.example")
    assert client.get("/portal", headers=headers).status_code == 403
    # the entry is untouched
    (stored, versions), = _entries(ctx)
    assert (stored.version, stored.deleted, versions[0].data) == (1, False, {"bristol": 4})


def test_the_portals_pages_show_the_visits_for_you_part_and_the_plan_with_its_reasons(
        client: TestClient, ctx: AppContext) -> None:
    staff = _clinic(ctx)
    auth = bearer(client, "pia@a.example")
    pid = client.post(f"{API}/patients", json={"name": "Ana Lima"}, headers=auth).json()["id"]
    visit = client.post(f"{API}/patients/{pid}/visits", json={"visit_date": "2026-01-15"},
                        headers=auth).json()["id"]
    labs = b"sample_id,marker,value,unit\nERR1331798,hs-CRP,15,mg/L\n"
    for kind, name, content, sample in (("labs", "LABS.csv", labs, None),
                                        ("microbiome", "table.biom",
                                         gio.example_dataset().table.read_bytes(),
                                         "ERR1331798")):
        response = client.post(f"{API}/visits/{visit}/uploads", headers=auth,
                               data={"kind": kind} | ({"sample": sample} if sample else {}),
                               files={"file": (name, content)})
        assert response.status_code == 202, response.text
    run_jobs(ctx)
    document = client.get(f"{API}/visits/{visit}/profile", headers=auth).json()
    for_you, clinician = document["summary"]["patient"], document["summary"]["clinician"]
    assert for_you and clinician
    option = next(o for step in document["options"].values() for o in step)
    item = client.post(f"{API}/patients/{pid}/plan", headers=auth, json={
        "visit_id": visit, "option_id": option["id"]}).json()["id"]
    client.post(f"{API}/plan-items/{item}/status", headers=auth,
                json={"status": "active", "note": "start with half a dose"})
    client.post(f"{API}/patients/{pid}/plan", headers=auth,
                json={"title": "Walk daily", "details": "Twenty minutes, at an easy pace"})
    ana = patient_account(ctx, staff, "ana@mail.example", patient_id=pid)

    client.cookies.clear()
    visits = client.get("/portal/visits", headers=ana.cookie)
    assert visits.status_code == 200
    for sentence in for_you:
        assert sentence.replace("'", "&#39;") in visits.text
    for line in clinician:
        assert line not in visits.text
    answer = client.get(f"{API}/portal/visits", headers=ana.api).json()
    assert answer == [{"visit_id": visit, "date": "2026-01-15", "for_you": for_you,
                       "status": "done"}]

    reasons = [f"{label}: {state}" for label, state in (
        _label(document, t) for t in option["triggered_by"])]
    plan = client.get(f"{API}/portal/plan", headers=ana.api).json()
    assert [(p["title"], p["status_words"], p["own"]) for p in plan] == [
        (option["name"], "doing now", False), ("Walk daily", "suggested", True)]
    assert plan[0]["why"] == reasons and plan[0]["notes"] == ["start with half a dose"]
    # the knowledge base's evidence is evidence; the practitioner's own words are not
    assert plan[0]["evidence"] == option["evidence_summary"] and plan[0]["advice"] == ""
    assert (plan[1]["evidence"], plan[1]["advice"]) == ("", "Twenty minutes, at an easy pace")
    page = client.get("/portal/plan", headers=ana.cookie).text
    own_card = page[page.index("Walk daily"):]
    assert "Your practitioner added this:" in own_card
    assert "Twenty minutes, at an easy pace" in own_card
    assert "What studies say" not in own_card
    assert page.count("What studies say") == 1
    assert "Why:</strong> your results showed " + "; ".join(reasons) in page.replace(
        "&#39;", "'")
    timeline = client.get("/portal/timeline", headers=ana.cookie)
    assert timeline.status_code == 200 and "hs-CRP" in timeline.text
    # each plot's values are listed under it in words, as on the practitioner's timeline
    assert '<ul class="values"><li>2026-01-15: ' in timeline.text
    assert "a plot of 1 value, listed below" in timeline.text


def _label(document: dict[str, Any], trigger: str) -> tuple[str, str]:
    what, _, state = trigger.partition("=")
    labels = {m["id"]: m["label"] for m in document["measures"]}
    labels |= {f"link:{c['id']}": c["label"] for c in document["chain"]}
    return labels.get(what, what), state


# ------------------------------------------------------------------ the diary
def test_an_edit_keeps_every_version_and_a_deletion_is_a_tombstone(
        client: TestClient, ctx: AppContext) -> None:
    staff = _clinic(ctx)
    ana = patient_account(ctx, staff, "ana@mail.example", symptoms=SYMPTOMS)
    made = _add(client, ana, "symptoms", {"scores": {"bloating": 6}})
    assert made["data"] == {"scores": {"Bloating": 6}} and made["version"] == 1
    eid = made["id"]
    edited = client.put(f"{API}/portal/diary/{eid}", headers=ana.api, json={
        "at": "2026-03-02T09:00", "data": {"scores": {"Bloating": 4, "Tummy pain": 2}}})
    assert edited.status_code == 200, edited.text
    assert [v["data"] for v in edited.json()["versions"]] == [
        {"scores": {"Bloating": 6}}, {"scores": {"Bloating": 4, "Tummy pain": 2}}]
    # the page form changes it too (a third version), made private on the way
    client.cookies.clear()
    page = client.post(f"/portal/diary/{eid}", headers=ana.cookie, follow_redirects=False,
                       data={"csrf_token": ana.csrf, "score:Bloating": "3",
                             "score:Tummy pain": "", "at": "2026-03-02T09:15",
                             "private": "1"})
    assert page.status_code == 303
    gone = client.post(f"/portal/diary/{eid}/delete", headers=ana.cookie,
                       follow_redirects=False, data={"csrf_token": ana.csrf})
    assert gone.status_code == 303
    (entry, versions), = _entries(ctx)
    assert [(v.version, v.deleted, v.private, v.data) for v in versions] == [
        (1, False, False, {"scores": {"Bloating": 6}}),
        (2, False, False, {"scores": {"Bloating": 4, "Tummy pain": 2}}),
        (3, False, True, {"scores": {"Bloating": 3}}),
        (4, True, True, {})]
    assert [v.at for v in versions] == [dt.datetime(2026, 3, 2, 8, 30),
                                        dt.datetime(2026, 3, 2, 9, 0),
                                        dt.datetime(2026, 3, 2, 9, 15),
                                        dt.datetime(2026, 3, 2, 9, 15)]
    assert (entry.version, entry.deleted, entry.private) == (4, True, True)
    # the patient sees every version; the deleted entry leaves their diary's list
    shown = client.get(f"/portal/diary/{eid}", headers=ana.cookie).text
    for words in ("Version 1", "Symptoms: Bloating 6/10", "Bloating 4/10, Tummy pain 2/10",
                  "Version 3", "Version 4", "Deleted", "You deleted this entry"):
        assert words in shown, words
    api = client.get(f"{API}/portal/diary/{eid}", headers=ana.api).json()
    assert [v["version"] for v in api["versions"]] == [1, 2, 3, 4] and api["deleted"]
    assert client.get(f"{API}/portal/diary", headers=ana.api).json() == []
    refused = client.put(f"{API}/portal/diary/{eid}", headers=ana.api,
                         json={"data": {"scores": {"Bloating": 1}}})
    assert refused.status_code == 422 and "was deleted" in refused.text
    # the database keeps them: the versions are rows, never updated in place
    with ctx.sessions() as db:
        assert db.scalar(select(DiaryVersion.data).where(DiaryVersion.version == 1)) == {
            "scores": {"Bloating": 6}}


def test_private_entries_are_invisible_to_staff_everywhere(client: TestClient,
                                                           ctx: AppContext) -> None:
    staff = _clinic(ctx)
    make_user(ctx, "Clinic A", "own@a.example", "owner")
    ana = patient_account(ctx, staff, "ana@mail.example", name="Ana Lima", symptoms=SYMPTOMS)
    _add(client, ana, "meal", {"text": "shared porridge", "portion": "large"},
         at="2026-03-01T08:00")
    _add(client, ana, "meal", {"text": "secret chocolate"}, at="2026-03-01T22:00",
         private=True)
    _add(client, ana, "medication", {"name": "hidden pill", "dose": "1 tablet"},
         at="2026-03-02T07:00", private=True)
    later = _add(client, ana, "note", {"text": "first shared then private"},
                 at="2026-03-02T09:00")
    client.put(f"{API}/portal/diary/{later['id']}", headers=ana.api,
               json={"private": True, "data": {"text": "first shared then private"}})
    secrets = ("secret chocolate", "hidden pill", "first shared then private")
    # the patient sees them all
    own = client.get(f"{API}/portal/diary", headers=ana.api).json()
    assert len(own) == 4 and sum(e["private"] for e in own) == 3
    mine = client.get("/portal/diary?until=2026-03-02", headers=ana.cookie).text
    assert [s for s in secrets if s not in mine] == [], mine
    assert mine.count(">private<") == 3
    # no "earlier days" before the oldest entry (it paged back for ever)
    assert "← Earlier days" not in mine and "Later days →" in mine
    assert "← Earlier days" in client.get("/portal/diary?until=2026-03-08",
                                           headers=ana.cookie).text

    auth = bearer(client, "pia@a.example")
    shared = client.get(f"{API}/patients/{ana.patient_id}/diary", headers=auth).json()
    assert [(e["kind"], e["data"]["text"]) for e in shared] == [("meal", "shared porridge")]
    assert "private" not in shared[0]
    headers, _ = _staff_page(client, "pia@a.example")
    for path in (f"/patients/{ana.patient_id}", f"/patients/{ana.patient_id}/diary"):
        page = client.get(path, headers=headers)
        assert page.status_code == 200 and "shared porridge" in page.text
        assert not [s for s in secrets if s in page.text], path
        assert page.text.count("<li><span class=\"nowrap\">") == 1  # one entry counted
    export = client.get(f"{API}/patients/{ana.patient_id}/export", headers=auth)
    record = json.loads(zipfile.ZipFile(io.BytesIO(export.content)).read("record.json"))
    assert [e["data"]["text"] for e in record["diary"]] == ["shared porridge"]
    assert not [s for s in secrets if s in export.content.decode("latin-1")]
    with ctx.transaction() as db:
        rows = diary.diary_rows(db, staff, ana.patient_id, include_private=True)
        own_rows = diary.diary_rows(db, ana.principal, ana.patient_id, include_private=True)
    assert rows == [(dt.datetime(2026, 3, 1, 8), "food", "oats", "large")]  # porridge
    assert ("medication", "hidden pill", "1 tablet") in {r[1:] for r in own_rows}
    # the owner's audit log names objects, never what the patient wrote
    owner = bearer(client, "own@a.example")
    log = client.get(f"{API}/audit.csv", headers=owner).text
    assert not [s for s in (*secrets, "porridge") if s in log]


def test_diary_rows_are_the_long_layout_the_statistics_read(client: TestClient,
                                                            ctx: AppContext) -> None:
    staff = _clinic(ctx)
    ana = patient_account(ctx, staff, "ana@mail.example", symptoms=SYMPTOMS)
    _add(client, ana, "meal", {"text": "toast and tea, zorblax stew", "foods": ["banana"],
                               "portion": "small"}, at="2026-03-01T08:00")
    _add(client, ana, "symptoms", {"scores": {"Bloating": 7, "Tummy pain": 0}},
         at="2026-03-01T10:00")
    _add(client, ana, "stool", {"bristol": 6}, at="2026-03-01T11:00")
    _add(client, ana, "sleep", {"hours": 6.5, "quality": 4}, at="2026-03-01T07:00")
    _add(client, ana, "stress", {"score": 8}, at="2026-03-01T18:00")
    _add(client, ana, "medication", {"name": "Magnesium", "dose": "200 mg"},
         at="2026-03-01T21:00")
    _add(client, ana, "cycle", {"day": 12}, at="2026-03-01T06:00")
    _add(client, ana, "note", {"text": "tired"}, at="2026-03-01T06:30")
    dropped = _add(client, ana, "stress", {"score": 2}, at="2026-03-01T19:00")
    client.delete(f"{API}/portal/diary/{dropped['id']}", headers=ana.api)
    edited = _add(client, ana, "stool", {"bristol": 2}, at="2026-03-02T08:00")
    client.put(f"{API}/portal/diary/{edited['id']}", headers=ana.api,
               json={"data": {"bristol": 3}})
    day = dt.datetime(2026, 3, 1)
    with ctx.transaction() as db:
        rows = diary.diary_rows(db, staff, ana.patient_id, include_private=False)
    assert rows == [
        (day.replace(hour=7), "sleep", "hours", 6.5),
        (day.replace(hour=7), "sleep", "quality", 4),
        (day.replace(hour=8), "food", "banana", "small"),  # tapped
        (day.replace(hour=8), "food", "wheat_bread", "small"),  # "toast", in the catalogue
        (day.replace(hour=8), "food", "tea", "small"),
        (day.replace(hour=8), "food", "zorblax stew", "small"),  # as typed: not a known food
        (day.replace(hour=10), "symptom", "Bloating", 7),
        (day.replace(hour=10), "symptom", "Tummy pain", 0),
        (day.replace(hour=11), "stool", "bristol", 6),
        (day.replace(hour=18), "stress", "stress", 8),
        (day.replace(hour=21), "medication", "Magnesium", "200 mg"),
        (dt.datetime(2026, 3, 2, 8), "stool", "bristol", 3)]
    assert {kind for _, kind, _, _ in rows} <= set(diary.ROW_KINDS)
    with ctx.sessions() as db:
        action = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (action.action, action.detail) == ("diary.rows", "rows=12, private=no")


def test_bad_entries_are_refused_naming_the_field(client: TestClient, ctx: AppContext) -> None:
    staff = _clinic(ctx)
    ana = patient_account(ctx, staff, "ana@mail.example", symptoms=SYMPTOMS)
    client.cookies.clear()
    cases = [("stool", {"bristol": 8},
              "bristol: expected a whole number from 1 to 7; got 8"),
             ("stress", {"score": "lots"}, "score: expected a number from 0 to 10; got 'lots'"),
             ("symptoms", {"scores": {"Headache": 3}},
              "scores: 'Headache' is not one of your symptoms (Bloating, Tummy pain)"),
             ("meal", {"text": " ", "portion": "usual"}, "text: say what was eaten or drunk"),
             ("meal", {"text": "soup", "portion": "huge"},
              "portion: expected one of small, usual, large; got 'huge'"),
             ("sleep", {}, "hours: give the hours slept"),
             ("medication", {"dose": "2"}, "name: this is required"),
             # a misspelt field was dropped without a word
             ("stool", {"bristol": 4, "bristl": 5},
              "bristl: a stool entry has the fields bristol, note; got 'bristl'"),
             ("sleep", {"hours": 7, "evil": 1},
              "evil: a sleep entry has the fields hours, quality, note; got 'evil'")]
    for kind, data, message in cases:
        response = client.post(f"{API}/portal/diary", headers=ana.api,
                               json={"kind": kind, "data": data})
        assert response.status_code == 422, (kind, response.text)
        assert response.json()["error"]["message"].startswith(message), response.text
    future = client.post(f"{API}/portal/diary", headers=ana.api, json={
        "kind": "stool", "at": "2999-01-01T00:00", "data": {"bristol": 3}})
    assert future.status_code == 422 and "in the future" in future.text
    # the page form says it on the form again, with what was typed kept
    page = client.post("/portal/diary", headers=ana.cookie, data={
        "csrf_token": ana.csrf, "kind": "meal", "text": "soup", "portion": "huge"})
    assert page.status_code == 422 and "How much: expected one of" in page.text  # its label
    assert 'value="soup"' in page.text
    # the time typed is kept too (it went back to now: "Save" again saved another time)
    page = client.post("/portal/diary", headers=ana.cookie, data={
        "csrf_token": ana.csrf, "kind": "meal", "text": "soup", "at": "2999-01-01T12:30"})
    assert page.status_code == 422 and 'value="2999-01-01T12:30"' in page.text
    assert _entries(ctx) == []
    # a meal's stored data, sent back as a change, is taken (picked, free are worked out)
    meal = client.post(f"{API}/portal/diary", headers=ana.api,
                       json={"kind": "meal", "data": {"text": "porridge, coffee"}})
    assert meal.status_code == 201, meal.text
    again = client.put(f"{API}/portal/diary/{meal.json()['id']}", headers=ana.api,
                       json={"data": {**meal.json()["data"], "portion": "large"}})
    assert again.status_code == 200, again.text
    assert again.json()["data"]["portion"] == "large"


def test_the_meal_form_is_one_screen_with_now_and_the_patients_time_zone(
        client: TestClient, ctx: AppContext) -> None:
    staff = _clinic(ctx)
    ana = patient_account(ctx, staff, "ana@mail.example", symptoms=SYMPTOMS)
    with ctx.transaction() as db:
        portal.set_portal_settings(db, staff, ana.patient_id, time_zone="Pacific/Auckland")
    client.cookies.clear()
    form = client.get("/portal/diary/new", headers=ana.cookie).text
    now = dt.datetime.now(ZoneInfo("Pacific/Auckland")).replace(tzinfo=None)
    shown = dt.datetime.fromisoformat(re.search(
        r'name="at" type="datetime-local" required value="([^"]+)"', form).group(1))
    assert abs(shown - now) < dt.timedelta(minutes=2)
    assert 'name="portion" value="usual" checked' in form
    saved = client.post("/portal/diary", headers=ana.cookie, follow_redirects=False, data={
        "csrf_token": ana.csrf, "kind": "meal", "text": "rice, salmon", "portion": "usual",
        "at": "2026-03-01T12:30"})
    assert saved.status_code == 303 and saved.headers["location"] == "/portal?saved=meal"
    (entry, versions), = _entries(ctx)
    assert (entry.kind, entry.at, versions[0].data) == (
        "meal", dt.datetime(2026, 3, 1, 12, 30),
        {"foods": ["rice", "salmon"], "picked": [], "text": "rice, salmon", "free": [],
         "portion": "usual"})
    # the foods just eaten are offered as one-tap picks next time, with the catalogue's names
    again = client.get("/portal/diary/new?kind=meal", headers=ana.cookie).text
    assert 'name="foods" value="rice" >Rice' in again.replace("\n", "")
    home = client.get("/portal?saved=meal", headers=ana.cookie).text
    assert "Saved: meal." in home
    # the symptoms form has one 0-10 scale per primary symptom
    symptoms = client.get("/portal/diary/new?kind=symptoms", headers=ana.cookie).text
    for name in SYMPTOMS:
        assert symptoms.count(f'name="score:{name}"') == 11
    with ctx.transaction() as db:
        with pytest.raises(Invalid, match="time_zone: expected a time zone"):
            portal.set_portal_settings(db, staff, ana.patient_id, time_zone="Mars/Olympus")


def test_hiding_weight_removes_it_from_the_patients_forms_and_views(
        client: TestClient, ctx: AppContext) -> None:
    staff = _clinic(ctx)
    ana = patient_account(ctx, staff, "ana@mail.example")
    client.cookies.clear()
    assert "kind=weight" in client.get("/portal", headers=ana.cookie).text
    _add(client, ana, "weight", {"kg": 61.5}, at="2026-03-01T07:00")
    auth = bearer(client, "pia@a.example")
    answer = client.put(f"{API}/patients/{ana.patient_id}/portal", headers=auth,
                        json={"hide_weight": True})
    assert answer.status_code == 200 and answer.json()["hide_weight"] is True
    client.cookies.clear()
    home = client.get("/portal", headers=ana.cookie).text
    assert "kind=weight" not in home and "Weight" not in home
    assert client.get("/portal/diary/new?kind=weight", headers=ana.cookie).status_code == 404
    refused = client.post(f"{API}/portal/diary", headers=ana.api,
                          json={"kind": "weight", "data": {"kg": 60}})
    assert refused.status_code == 422 and "weight is not recorded" in refused.text
    me = client.get(f"{API}/portal/me", headers=ana.api).json()
    assert "weight" not in me["kinds"] and me["hide_weight"] is True
    assert client.get(f"{API}/portal/diary", headers=ana.api).json() == []
    assert "61.5" not in client.get("/portal/diary?until=2026-03-01", headers=ana.cookie).text
    assert "Weight" not in client.get("/portal/timeline", headers=ana.cookie).text
    (entry, _), = _entries(ctx)
    assert client.get(f"{API}/portal/diary/{entry.id}", headers=ana.api).status_code == 404
    # the setting is the practitioner's: the patient's page shows it
    headers, _ = _staff_page(client, "pia@a.example")
    assert "hidden from the patient" in client.get(f"/patients/{ana.patient_id}",
                                                   headers=headers).text


def test_every_read_and_change_is_audited(client: TestClient, ctx: AppContext) -> None:
    staff = _clinic(ctx)
    ana = patient_account(ctx, staff, "ana@mail.example", symptoms=SYMPTOMS)
    client.cookies.clear()
    entry = _add(client, ana, "stool", {"bristol": 4})
    for path in ("/portal", "/portal/diary", f"/portal/diary/{entry['id']}",
                 "/portal/diary/new?kind=meal", "/portal/visits", "/portal/plan",
                 "/portal/timeline"):
        assert client.get(path, headers=ana.cookie).status_code == 200, path
    client.put(f"{API}/portal/diary/{entry['id']}", headers=ana.api,
               json={"data": {"bristol": 5}})
    client.delete(f"{API}/portal/diary/{entry['id']}", headers=ana.api)
    headers, _ = _staff_page(client, "pia@a.example")
    client.get(f"/patients/{ana.patient_id}/diary", headers=headers)
    with ctx.sessions() as db:
        rows = [(r.user_email, r.action, r.object_type, r.object_id) for r in
                db.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        assert audit.verify_chain(db, staff.clinic_id) == []
    eid, pid = str(entry["id"]), str(ana.patient_id)
    patient = [(a, t, o) for e, a, t, o in rows if e == "ana@mail.example"]
    assert patient == [
        ("portal.accept", "patient", pid), ("session.create", "user", str(ana.principal.user_id)),
        ("diary.create", "diary_entry", eid), ("portal.home", "patient", pid),
        ("protocol.read", "patient", pid),  # the Today page says today's food test
        ("diary.list", "patient", pid), ("diary.read", "diary_entry", eid),
        ("diary.form", "patient", pid), ("portal.visits", "patient", pid),
        ("plan.read", "patient", pid), ("patient.timeline", "patient", pid),
        # the timeline's diary, food tests and plan section: each read is audited
        ("protocol.read", "patient", pid), ("diary.rows", "patient", pid),
        ("plan.read", "patient", pid),
        ("diary.edit", "diary_entry", eid), ("diary.delete", "diary_entry", eid)]
    staff_rows = [(a, t, o) for e, a, t, o in rows if e == "pia@a.example"]
    assert ("portal.settings", "patient", pid) in staff_rows
    assert ("portal.invite", "patient", pid) in staff_rows
    assert staff_rows[-1] == ("diary.list", "patient", pid)


def test_the_portals_forms_need_the_sessions_csrf_token(client: TestClient,
                                                        ctx: AppContext) -> None:
    staff = _clinic(ctx)
    ana = patient_account(ctx, staff, "ana@mail.example")
    client.cookies.clear()
    entry = _add(client, ana, "stool", {"bristol": 4})
    for path, data in (("/portal/diary", {"kind": "stool", "bristol": "3"}),
                       (f"/portal/diary/{entry['id']}", {"bristol": "3"}),
                       (f"/portal/diary/{entry['id']}/delete", {})):
        for token in (None, "forged"):
            form = data | ({"csrf_token": token} if token else {})
            response = client.post(path, headers=ana.cookie, data=form)
            assert response.status_code == 403 and "CSRF" in response.text, path
    no_header = client.post(f"{API}/portal/diary", headers={"Cookie": ana.api["Cookie"]},
                            json={"kind": "stool", "data": {"bristol": 3}})
    assert no_header.status_code == 403
    foreign = client.post(f"{API}/portal/diary", headers=ana.api | {
        "Origin": "https://evil.example"}, json={"kind": "stool", "data": {"bristol": 3}})
    assert foreign.status_code == 403
    (stored, versions), = _entries(ctx)
    assert len(versions) == 1 and not stored.deleted


def test_erasing_a_patient_removes_their_account_and_diary(client: TestClient,
                                                           ctx: AppContext) -> None:
    staff = _clinic(ctx)
    make_user(ctx, "Clinic A", "own@a.example", "owner")
    ana = patient_account(ctx, staff, "ana@mail.example")
    _add(client, ana, "stool", {"bristol": 4})
    owner = bearer(client, "own@a.example")
    assert client.delete(f"{API}/patients/{ana.patient_id}", headers=owner).status_code == 204
    with ctx.sessions() as db:
        for model in (User, PortalAccount, PortalInvitation, DiaryEntry, DiaryVersion):
            left = db.scalars(select(model).where(User.role == "patient") if model is User
                              else select(model)).all()
            assert left == [], model
    client.cookies.clear()
    assert client.get(f"{API}/portal/me", headers=ana.api).status_code == 401


def test_sending_the_invitation_form_twice_keeps_the_link_shown_first(
        client: TestClient, ctx: AppContext) -> None:
    """A reload re-sends the form: it must not replace the link just shown with a new one."""
    headers, csrf, patient_id = _practitioner_with_patient(client, ctx)
    patient_page = client.get(f"/patients/{patient_id}", headers=headers).text
    after = re.search(r'name="after" value="(\d+)"', patient_page)
    assert after and after.group(1) == "0"
    form = {"email": "ana@mail.example", "csrf_token": csrf, "after": after.group(1)}
    # a colleague's link made meanwhile is no reason to refuse this form (it is replaced)
    colleague = _clinic(ctx, email="max@a.example")
    with ctx.transaction() as db:
        portal.invite_patient(db, ctx.settings, colleague, patient_id, "ana@mail.example")
    first = client.post(f"/patients/{patient_id}/portal/invite", headers=headers, data=form)
    assert first.status_code == 200
    again = client.post(f"/patients/{patient_id}/portal/invite", headers=headers, data=form)
    assert again.status_code == 409 and "Nothing new was made" in again.text
    with ctx.sessions() as db:
        links = db.scalars(select(PortalInvitation).where(
            PortalInvitation.created_by == _principal_id(ctx, "pia@a.example"))).all()
        assert len(links) == 1 and links[0].revoked_at is None  # the first link still works
    # the page shown afresh carries the new latest link: a new link replaces the first
    patient_page = client.get(f"/patients/{patient_id}", headers=headers).text
    after = re.search(r'name="after" value="(\d+)"', patient_page)
    assert after and after.group(1) == str(links[0].id)
    third = client.post(f"/patients/{patient_id}/portal/invite", headers=headers,
                        data=form | {"after": after.group(1)})
    assert third.status_code == 200
    with ctx.sessions() as db:
        assert [r.revoked_at is None for r in db.scalars(
            select(PortalInvitation).order_by(PortalInvitation.id))] == [False, False, True]


def _principal_id(ctx: AppContext, email: str) -> int:
    from gutaxis.service.models import User

    with ctx.sessions() as db:
        return int(db.scalar(select(User.id).where(User.email == email)))
