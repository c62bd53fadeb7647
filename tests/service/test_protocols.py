"""Elimination-and-reintroduction protocols in the application: set up, followed, judged.

Every test runs on SQLite and on PostgreSQL.  The patient's diary is written
through the diary service as the portal writes it; "today" is the real date,
so the protocols are dated relative to it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.portal import PatientAccount, patient_account
from builders.portal import csrf_of as _csrf
from builders.portal import staff_page as _staff_page
from builders.practice import PASSWORD, make_user
from gutaxis.service.context import AppContext
from gutaxis.service.errors import Invalid
from gutaxis.service.models import AuditEvent
from gutaxis.service.services import diary, patients, protocols

HTML = {"Accept": "text/html"}
API = "/api/v1"




def _scores(ctx: AppContext, who: PatientAccount, start: dt.date, days: int,
            bumps: dict[int, float], *, private_days: dict[int, float] | None = None) -> None:
    """One Bloating score a day at 20:00, about 3, raised on the ``bumps`` days."""
    pattern = (3, 2, 3, 4, 3, 3, 2)
    with ctx.transaction() as db:
        for d in range(days):
            at = dt.datetime.combine(start + dt.timedelta(days=d), dt.time(20))
            score = bumps.get(d, pattern[d % len(pattern)])
            diary.add_entry(db, who.principal, "symptoms", {"scores": {"Bloating": score}},
                            at=at)
        for d, score in (private_days or {}).items():
            at = dt.datetime.combine(start + dt.timedelta(days=d), dt.time(21))
            diary.add_entry(db, who.principal, "symptoms", {"scores": {"Bloating": score}},
                            at=at, private=True)


def test_a_blinded_protocol_is_set_up_followed_and_judged_against_sham(
        client: TestClient, ctx: AppContext) -> None:
    today = dt.date.today()  # per test: a run may cross midnight
    staff = make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    ana = patient_account(ctx, staff, "ana@mail.example", name="Ana Alder",
                          symptoms=("Bloating",))
    start = today - dt.timedelta(days=45)
    headers, csrf = _staff_page(client, "pia@a.example")
    form = client.get(f"/patients/{ana.patient_id}/protocol", headers=headers)
    assert "Set up the protocol" in form.text and "Monash" in form.text  # template sources
    response = client.post(f"/patients/{ana.patient_id}/protocol", headers=headers,
                           follow_redirects=False, data={
                               "csrf_token": csrf, "groups": ["fructans", "lactose"],
                               "template": "low_fodmap", "elimination_start": start.isoformat(),
                               "shams": "1", "washout_min_days": "2"})
    assert response.status_code == 303, response.text
    # order as listed (not randomised): fructans from day 14, lactose from 19, the sham from 24;
    # the fructans days are 4 points worse, the sham and lactose days are not
    _scores(ctx, ana, start, 46, {14: 7, 15: 7, 16: 8},
            private_days={19: 9, 20: 9})  # private: must not count
    with ctx.transaction() as db:
        view = protocols.protocol_view(db, staff, ana.patient_id)
    assert view is not None and view.template is not None
    assert view.spec.elimination_days == 14  # the template's default, from the knowledge base
    assert [(c.food_group, c.sham, c.start - start) for c in view.calendar.challenges] == [
        ("fructans", False, dt.timedelta(14)), ("lactose", False, dt.timedelta(19)),
        ("sham", True, dt.timedelta(24))]
    assert view.calendar.finished
    by_group = {v.food_group: v for v in view.verdicts}
    assert by_group["fructans"].verdict == "likely trigger"
    assert by_group["fructans"].compared_with == "sham"
    assert by_group["lactose"].verdict != "likely trigger"  # the private 9s were left out
    assert by_group["lactose"].effect < 1.0
    page = client.get(f"/patients/{ana.patient_id}/protocol", headers=headers).text
    assert "likely trigger" in page and "verdict-plot" in page and "capsule 3" in page
    # the patient: finished, so the key and the results are shown, in plain words
    client.cookies.clear()
    own = client.get("/portal/tests", headers=ana.cookie).text
    assert "likely a trigger" in own and "Fructans" in own
    api = client.get(f"{API}/portal/protocol", headers=ana.api).json()
    assert api["protocol"]["key_hidden"] is False and api["phase"] == "finished"
    assert {v["food_group"] for v in api["verdicts"]} == {"fructans", "lactose"}
    with ctx.sessions() as db:
        actions = set(db.scalars(select(AuditEvent.action)))
    assert {"protocol.create", "protocol.read"} <= actions


def test_while_blinded_the_patient_sees_capsules_and_can_stop_todays_test(
        client: TestClient, ctx: AppContext) -> None:
    today = dt.date.today()  # per test: a run may cross midnight
    staff = make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    ben = patient_account(ctx, staff, "ben@mail.example", symptoms=("Bloating",))
    start = today - dt.timedelta(days=15)  # elimination 14 days: day 2 of the first test
    with ctx.transaction() as db:
        protocols.create_protocol(db, staff, ben.patient_id, {
            "groups": ["gluten"], "elimination_days": "14", "shams": "1",
            "elimination_start": start.isoformat()})
    client.cookies.clear()
    page = client.get("/portal/tests", headers=ben.cookie).text
    assert "Today: take capsule 1 (usual dose)." in page
    items = re.findall(r"<li>(.*?)</li>", page.split('<ol class="tests">')[1], re.S)
    assert items[0].startswith("Leave out gluten-containing grains")  # as "Keep … out" says
    # the tests are named by capsule only: which one is the sham stays hidden
    assert [i.split(":")[0] for i in items[1:]] == ["Capsule 1", "Capsule 2"]
    assert "gluten" not in " ".join(items[1:]).lower() and "sham" not in page.lower()
    # the Today page says it too, as blinded
    home = client.get("/portal", headers=ben.cookie).text
    assert "Today: take capsule 1 (usual dose)." in home
    assert "gluten" not in home.lower() and "sham" not in home.lower()
    api = client.get(f"{API}/portal/protocol", headers=ben.api).json()
    assert api["protocol"]["key_hidden"] is True and api["verdicts"] == []
    assert all("food_group" not in c and "sham" not in c for c in api["challenges"])
    csrf = _csrf(page)
    response = client.post("/portal/tests/stop", headers=ben.cookie, follow_redirects=False,
                           data={"csrf_token": csrf, "position": "0"})
    assert response.status_code == 303
    with ctx.transaction() as db:
        view = protocols.protocol_view(db, staff, ben.patient_id)
    first, second = view.calendar.challenges
    assert (first.status, first.end) == ("stopped", today)
    assert second.start == today + dt.timedelta(days=view.spec.washout_min_days + 1)
    # the practitioner sees the key
    headers, _ = _staff_page(client, "pia@a.example")
    staff_page = client.get(f"/patients/{ben.patient_id}/protocol", headers=headers).text
    assert "Gluten" in staff_page and "sham capsule" in staff_page


def test_refusals_name_the_field_and_a_second_protocol_conflicts(
        client: TestClient, ctx: AppContext) -> None:
    today = dt.date.today()  # per test: a run may cross midnight
    make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    token = client.post(f"{API}/session", json={"email": "pia@a.example",
                                                "password": PASSWORD})
    assert token.status_code == 200
    csrf = token.json()["csrf_token"]
    patient = client.post(f"{API}/patients", headers={"X-CSRF-Token": csrf},
                          json={"name": "Cai Cedar", "birth_date": "1990-05-01"}).json()["id"]
    url = f"{API}/patients/{patient}/protocol"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"groups": ["gluten"], "elimination_start": "soon"}, "elimination_start"),
        ({"groups": ["pizza"], "elimination_start": today.isoformat()}, "unknown food group"),
        ({"groups": [], "elimination_start": today.isoformat(), "elimination_days": 7},
         "groups: List should have at least 1 item"),
        ({"groups": ["gluten"], "elimination_start": today.isoformat()},
         "elimination_days: with no template, give the number of elimination days"),
        ({"groups": ["gluten"], "elimination_start": "1990-04-30", "elimination_days": 7},
         "elimination_start: 1990-04-30 is before the date of birth (1990-05-01)"),
        ({"groups": ["gluten"], "elimination_days": 7,
          "elimination_start": (today + dt.timedelta(days=367)).isoformat()},
         "is more than a year ahead"),
        ({"groups": ["gluten"], "elimination_start": today.isoformat(),
          "elimination_days": 500}, "elimination_days must be a whole number from 1 to 120"),
        ({"groups": ["gluten"], "template": "paleo", "elimination_start": today.isoformat()},
         "unknown protocol 'paleo'"),
    ]
    for body, message in bad:
        response = client.post(url, headers={"X-CSRF-Token": csrf}, json=body)
        assert response.status_code == 422, (body, response.text)
        assert message in response.json()["error"]["message"], response.text
    ok = client.post(url, headers={"X-CSRF-Token": csrf}, json={
        "groups": ["gluten"], "template": "low_fodmap", "elimination_start": today.isoformat()})
    assert ok.status_code == 201, ok.text
    assert ok.json()["today_instruction"] == ("Keep gluten-containing grains out of your "
                                              "meals. Day 1 of 14.")
    again = client.post(url, headers={"X-CSRF-Token": csrf}, json={
        "groups": ["egg"], "elimination_days": 7, "elimination_start": today.isoformat()})
    assert again.status_code == 409
    assert client.post(f"{url}/end", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get(url).json() == {"protocol": None}


def test_another_clinic_gets_404_and_a_patient_cannot_use_the_staff_routes(
        client: TestClient, ctx: AppContext) -> None:
    today = dt.date.today()  # per test: a run may cross midnight
    staff = make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    make_user(ctx, "Clinic B", "bo@b.example", "owner")
    dee = patient_account(ctx, staff, "dee@mail.example")
    with ctx.transaction() as db:
        protocols.create_protocol(db, staff, dee.patient_id, {
            "groups": ["egg"], "elimination_days": 7, "elimination_start": today.isoformat()})
    headers, _ = _staff_page(client, "bo@b.example")
    assert client.get(f"/patients/{dee.patient_id}/protocol", headers=headers).status_code == 404
    client.cookies.clear()
    assert client.get(f"{API}/patients/{dee.patient_id}/protocol",
                      headers=dee.api).status_code == 403


def _patient_in_a_protocol(ctx: AppContext, email: str, today: dt.date, days_ago: int,
                           **values: Any) -> tuple[Any, PatientAccount, dt.date]:
    """Pia, her patient scoring Bloating, and a 14-day elimination begun ``days_ago``."""
    staff = make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    patient = patient_account(ctx, staff, email, symptoms=("Bloating",))
    start = today - dt.timedelta(days=days_ago)
    with ctx.transaction() as db:
        protocols.create_protocol(db, staff, patient.patient_id, {
            "elimination_days": 14, "elimination_start": start.isoformat(), **values})
    return staff, patient, start


def test_the_timeline_joins_the_diary_the_challenges_and_the_plan(
        client: TestClient, ctx: AppContext) -> None:
    today = dt.date.today()  # per test: a run may cross midnight
    from gutaxis.service.diary_timeline import diary_timeline
    from gutaxis.service.services import plans

    staff, eve, start = _patient_in_a_protocol(ctx, "eve@mail.example", today, 30,
                                               groups=["fructans"], shams=1)
    with ctx.transaction() as db:
        item = plans.add_own(db, staff, eve.patient_id, "Walk after dinner", "rebalance")
        plans.change_status(db, staff, item.id, "active", on=(start + dt.timedelta(days=3))
                            .isoformat())
    _scores(ctx, eve, start, 31, {14: 8, 15: 8, 16: 8})
    with ctx.transaction() as db:
        staff_view = diary_timeline(db, staff, eve.patient_id, for_patient=False)
        own_view = diary_timeline(db, eve.principal, eve.patient_id, for_patient=True)
    [chart] = staff_view.charts
    assert chart["symptom"] == "Bloating" and chart["svg"].count("<rect") == 2
    assert "#f4c7c3" in chart["svg"]  # the fructans days: a likely trigger, shaded red
    # ... with a solid dark red edge, and said in words: colour is not all that tells it
    assert 'fill="#f4c7c3" stroke="#a1161b" stroke-width="1.5"><title>Fructans' in chart["svg"]
    [fructans] = [t for t in staff_view.challenges if t.startswith("Fructans")]
    assert fructans.endswith("— Bloating: likely trigger")
    assert f"{start + dt.timedelta(days=15)}: 8.0" in chart["days"]
    assert "Fructans" in chart["svg"] and "plan: Walk after dinner" in chart["svg"]
    assert staff_view.plan == [f"Walk after dinner: started {start + dt.timedelta(days=3)}"]
    # finished (30 days on), so the patient sees the names too; while blinded they would not
    assert [t.split(":")[0] for t in own_view.challenges] == ["Fructans", "sham capsule"]
    headers, _ = _staff_page(client, "pia@a.example")
    page = client.get(f"/patients/{eve.patient_id}/timeline", headers=headers).text
    assert "One profiled visit so far" not in page  # no profiled visit: nothing to promise
    assert "Diary, food challenges and plan" in page and 'class="diary-chart"' in page
    client.cookies.clear()
    own = client.get("/portal/timeline", headers=eve.cookie).text
    assert 'class="diary-chart"' in own and "Walk after dinner: started" in own
    assert "Bloating: likely trigger" in own and "Bloating: the daily scores as text" in own


def test_a_clinic_adds_a_food_and_its_patients_meals_are_matched_with_it(
        client: TestClient, ctx: AppContext) -> None:
    today = dt.date.today()  # per test: a run may cross midnight
    from gutaxis.service.errors import Invalid
    from gutaxis.service.services import foods

    staff = make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    other = make_user(ctx, "Clinic B", "bo@b.example", "owner")
    fay = patient_account(ctx, staff, "fay@mail.example")
    headers, csrf = _staff_page(client, "pia@a.example")
    response = client.post("/foods", headers=headers, follow_redirects=False, data={
        "csrf_token": csrf, "name": "Nonna's farro soup", "aliases": "farro soup, zuppa",
        "groups": ["gluten"], "source": "https://example.org/farro-label"})
    assert response.status_code == 303, response.text
    assert "Nonna&#39;s farro soup" in client.get("/foods", headers=headers).text
    refused = client.post("/foods", headers=headers, data={
        "csrf_token": csrf, "name": "Lupin flakes", "groups": ["lupin"]})
    assert refused.status_code == 422 and "lupin" in refused.text
    with ctx.transaction() as db:
        entry = diary.add_entry(db, fay.principal, "meal", {"text": "zuppa and bread"},
                                at=dt.datetime.combine(today, dt.time(12)))
        rows = diary.diary_rows(db, staff, fay.patient_id, include_private=False)
        catalog = foods.clinic_catalog(db, staff.clinic_id)
        assert catalog.groups_of("clinic_nonna_s_farro_soup") == {"gluten"}
        # another clinic's catalogue does not hold it
        assert "clinic_nonna_s_farro_soup" not in {
            f.id for f in foods.clinic_catalog(db, other.clinic_id).foods}
        try:
            foods.add_clinic_food(db, staff, {"name": "Nonna's farro soup"})
        except Invalid as exc:
            assert "Nonna" in exc.message or "clinic_nonna" in exc.message
        else:
            raise AssertionError("a second food of the same name was accepted")
    assert entry.id and ("food" in {r[1] for r in rows})
    assert "clinic_nonna_s_farro_soup" in {r[2] for r in rows}


def test_a_back_dated_protocol_says_which_challenges_had_no_diary_on_their_days(
        client: TestClient, ctx: AppContext) -> None:
    """Past days are not a challenge done: a window with no score says so, on both sides."""
    today = dt.date.today()  # per test: a run may cross midnight
    staff, fay, start = _patient_in_a_protocol(ctx, "fay@mail.example", today, 40,
                                               groups=["egg", "fructans"])
    # scores only around the first challenge (days 14-16 after the start)
    _scores(ctx, fay, start + dt.timedelta(days=8), 10, {})
    with ctx.transaction() as db:
        view = protocols.protocol_view(db, staff, fay.patient_id)
    assert view is not None
    first, second = view.calendar.challenges
    assert (first.status, first.logged) == ("done", True)
    assert (second.status, second.logged) == ("done", False)
    headers, _ = _staff_page(client, "pia@a.example")
    page = client.get(f"/patients/{fay.patient_id}/protocol", headers=headers).text
    assert page.count("(no primary symptom scored on its days)") == 1
    client.cookies.clear()
    own = client.get("/portal/tests", headers=fay.cookie).text
    assert own.count("your diary has no score of your main symptoms on these days") == 1


def test_the_form_names_what_is_missing(ctx: AppContext) -> None:
    staff = make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    today = dt.date.today().isoformat()
    with ctx.transaction() as db:
        patient = patients.create_patient(db, staff, {"name": "Gil Gum"})
        for values, message in (
                ({"groups": [], "elimination_start": today}, "groups: tick at least one"),
                ({"groups": ["egg"], "elimination_start": "1899-12-31",
                  "elimination_days": 7}, "is before 1900-01-01")):
            with pytest.raises(Invalid, match=message):
                protocols.create_protocol(db, staff, patient.id, values)
