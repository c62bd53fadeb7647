"""Questionnaires in the practice: send, answer, score, amend, import, MID marks, access, audit.

Every test runs on SQLite and on PostgreSQL (the ``client``/``ctx`` fixtures).
Scores are checked by hand against the definitions' own scoring rules: the
bundled gut-symptom check-in sums six 0-10 items (0-60), its "belly" subscale
is bloating + abdominal_pain + wind and "daily_life" urgency + fatigue +
gut_overall, and a score is prorated (mean × items) when at least 80 % of its
items are answered; the test scale of ``builders.questionnaires`` sums two
0-10 items and a choice scored 0 or 10 (0-30), with a made-up MID of 5 on the
total and none on its subscale.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.portal import PatientAccount, patient_account
from builders.portal import staff_page as _staff_page
from builders.practice import bearer, make_user
from builders.questionnaires import TEST_MID, broken_definition, definition_bytes
from gutaxis.service import audit
from gutaxis.service.context import AppContext
from gutaxis.service.errors import Invalid, NotFound
from gutaxis.service.models import (
    AuditEvent,
    QuestionnaireDefinition,
    QuestionnaireRequest,
    QuestionnaireResponse,
)
from gutaxis.service.services import questionnaire_scores, questionnaires

HTML = {"Accept": "text/html"}
API = "/api/v1"
CHECK_IN = {"bloating": 6, "abdominal_pain": 4, "wind": 5, "urgency": 2, "fatigue": 7,
            "gut_overall": 6}




def _setup(client: TestClient, ctx: AppContext) -> tuple[Any, dict[str, str], PatientAccount]:
    staff = make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    auth = bearer(client, "pia@a.example")
    patient = patient_account(ctx, staff, "ana@mail.example", name="Ana Lima")
    return staff, auth, patient


def _send(client: TestClient, auth: dict[str, str], patient_id: int, **body: Any
          ) -> dict[str, Any]:
    client.cookies.clear()
    response = client.post(f"{API}/patients/{patient_id}/questionnaires", headers=auth,
                           json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _answer(client: TestClient, who: PatientAccount, request_id: int,
            answers: dict[str, Any]) -> Any:
    client.cookies.clear()
    return client.post(f"{API}/portal/questionnaires/{request_id}/responses", headers=who.api,
                       json={"answers": answers})


def _import(client: TestClient, auth: dict[str, str], content: bytes,
            name: str = "scale.json") -> Any:
    client.cookies.clear()
    return client.post(f"{API}/questionnaires", headers=auth,
                       files={"file": (name, content, "application/json")})


def _actions(ctx: AppContext, after: int = 0) -> list[tuple[str, str, str]]:
    with ctx.sessions() as db:
        return [tuple(r) for r in db.execute(
            select(AuditEvent.action, AuditEvent.object_id, AuditEvent.detail)
            .where(AuditEvent.seq > after).order_by(AuditEvent.seq))]


def _last_seq(ctx: AppContext) -> int:
    with ctx.sessions() as db:
        return int(db.scalar(select(func.max(AuditEvent.seq))) or 0)


# ------------------------------------------------------------------ send, answer, score
def test_a_sent_check_in_is_answered_scored_by_hand_and_written_as_fhir(
        client: TestClient, ctx: AppContext) -> None:
    _, auth, ana = _setup(client, ctx)
    sent = _send(client, auth, ana.patient_id, bundled="GutSymptomCheckIn", due=str(
        dt.date.today() + dt.timedelta(days=7)))
    assert (sent["status"], sent["name"], sent["bundled"], sent["responses"]) == (
        "open", "GutSymptomCheckIn", "GutSymptomCheckIn", [])
    assert sent["canonical"] == "urn:gutaxis:questionnaire:gut-symptom-check-in|2026.12.1"

    client.cookies.clear()
    mine = client.get(f"{API}/portal/questionnaires", headers=ana.api).json()
    assert [(r["id"], r["status"]) for r in mine["requests"]] == [(sent["id"], "open")]
    form = client.get(f"{API}/portal/questionnaires/{sent['id']}", headers=ana.api).json()
    assert form["definition"]["name"] == "GutSymptomCheckIn"

    response = _answer(client, ana, sent["id"], CHECK_IN)
    assert response.status_code == 201, response.text
    body = response.json()
    # by hand: 6+4+5+2+7+6 = 30; belly 6+4+5 = 15; daily life 2+7+6 = 15
    assert body["scores"]["total"] == 30.0
    assert body["scores"]["subscales"] == {"belly": 15.0, "daily_life": 15.0}
    assert (body["scores"]["prorated"], body["scores"]["missing"], body["version"]) == (
        [], [], 1)
    fhir = body["questionnaire_response"]
    assert fhir["resourceType"] == "QuestionnaireResponse" and fhir["status"] == "completed"
    assert fhir["questionnaire"] == sent["canonical"]
    assert fhir["subject"] == {"reference": f"Patient/{ana.patient_id}"}
    assert fhir["authored"].endswith("+00:00")
    # the display item takes no answer: six answered items, as valueInteger
    assert [(i["linkId"], i["answer"]) for i in fhir["item"]] == [
        (k, [{"valueInteger": v}]) for k, v in CHECK_IN.items()]

    staff = client.get(f"{API}/patients/{ana.patient_id}/questionnaires", headers=auth).json()
    request = staff["requests"][0]
    assert (request["status"], request["scores"]["total"]) == ("completed", 30.0)
    assert [s["score"] for s in staff["scores"]] == ["total", "belly", "daily_life"]
    assert staff["scores"][0]["points"][0]["value"] == 30.0


def test_a_missing_answer_prorates_the_score_as_the_definition_says(
        client: TestClient, ctx: AppContext) -> None:
    _, auth, ana = _setup(client, ctx)
    sent = _send(client, auth, ana.patient_id, bundled="GutSymptomCheckIn")
    answers = {k: v for k, v in CHECK_IN.items() if k != "wind"}
    body = _answer(client, ana, sent["id"], answers).json()
    # 5 of 6 answered (83 % >= 80 %): mean (6+4+2+7+6)/5 = 5, times 6 items = 30;
    # belly has 2 of 3 (67 % < 80 %): no score; daily life is complete: 2+7+6 = 15
    assert body["scores"]["total"] == 30.0
    assert body["scores"]["subscales"] == {"belly": None, "daily_life": 15.0}
    assert (body["scores"]["prorated"], body["scores"]["missing"]) == (["total"], ["wind"])


def test_the_bristol_form_is_answered_through_the_portal_page(
        client: TestClient, ctx: AppContext) -> None:
    _, auth, ana = _setup(client, ctx)
    sent = _send(client, auth, ana.patient_id, bundled="BristolStoolForm")
    client.cookies.clear()
    page = client.get(f"/portal/questionnaires/{sent['id']}", headers=ana.cookie)
    assert page.status_code == 200
    # big radio buttons with the definition's labels, one per stool type
    radios = re.findall(r'<label><input type="radio" name="stool_type" value="(\d)"\s*>'
                        r'(Type \d: [^<]+)</label>', page.text)
    assert [code for code, _ in radios] == [str(n) for n in range(1, 8)]
    assert radios[3][1] == "Type 4: Smooth snake. One long, smooth, soft piece, like a snake."
    empty = client.post(f"/portal/questionnaires/{sent['id']}", headers=ana.cookie,
                        data={"csrf_token": ana.csrf})
    assert empty.status_code == 422 and "Please answer this question." in empty.text
    done = client.post(f"/portal/questionnaires/{sent['id']}", headers=ana.cookie,
                       follow_redirects=False, data={"csrf_token": ana.csrf, "stool_type": "6"})
    assert (done.status_code, done.headers["location"]) == (303, "/portal/questionnaires?done=1")
    with ctx.sessions() as db:
        row = db.scalars(select(QuestionnaireResponse)).one()
    assert row.answers == {"stool_type": "6"} and row.scores["total"] == 6.0
    assert row.resource["item"][0]["answer"][0]["valueCoding"]["code"] == "6"


def test_the_portal_form_shows_every_problem_in_plain_words_and_keeps_nothing(
        client: TestClient, ctx: AppContext) -> None:
    _, auth, ana = _setup(client, ctx)
    sent = _send(client, auth, ana.patient_id, bundled="GutSymptomCheckIn")
    client.cookies.clear()
    page = client.get(f"/portal/questionnaires/{sent['id']}", headers=ana.cookie).text
    # number inputs with the definition's bounds, and the display item's text as help
    assert re.search(r'<input id="q-bloating" name="bloating" type="number" min="0" '
                     r'max="10" step="1"', page)
    assert "Answer from 0 (not at all) to 10 (the worst you can imagine)." in page
    bad = client.post(f"/portal/questionnaires/{sent['id']}", headers=ana.cookie, data={
        "csrf_token": ana.csrf, "bloating": "11", "abdominal_pain": "lots", "wind": "3"})
    assert bad.status_code == 422
    assert "2 answers need a look" in bad.text
    assert bad.text.count("Please write a whole number from 0 to 10.") == 2
    assert 'value="11"' in bad.text and 'value="lots"' in bad.text  # what was typed stays
    with ctx.sessions() as db:
        assert db.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 0
    # the API names the items and says what was expected and found
    client.cookies.clear()
    api = _answer(client, ana, sent["id"], {"bloating": 11, "nausea": 3})
    error = api.json()["error"]
    assert api.status_code == 422 and {f["field"] for f in error["fields"]} == {"bloating",
                                                                             "nausea"}
    assert "answers['bloating']: expected an integer from 0 to 10; got 11" in error["message"]
    assert "'nausea' is not an item of GutSymptomCheckIn" in error["message"]
    # nothing answered at all (every item of the check-in is optional): refused, said plainly
    client.cookies.clear()
    empty = _answer(client, ana, sent["id"], {})
    assert empty.status_code == 422 and empty.json()["error"]["message"] == (
        "answers: no question was answered; expected at least one answer")
    page = client.post(f"/portal/questionnaires/{sent['id']}", headers=ana.cookie,
                       data={"csrf_token": ana.csrf, "wind": " "})
    assert page.status_code == 422
    assert ('<div class="error-box" role="alert" tabindex="-1" autofocus>'
            "Please answer at least one question.</div>") in page.text
    with ctx.sessions() as db:
        assert db.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 0


# ------------------------------------------------------------------ amending
def test_an_amendment_is_a_new_version_and_the_first_answers_are_kept(
        client: TestClient, ctx: AppContext) -> None:
    _, auth, ana = _setup(client, ctx)
    sent = _send(client, auth, ana.patient_id, bundled="GutSymptomCheckIn")
    first = _answer(client, ana, sent["id"], CHECK_IN).json()
    with ctx.sessions() as db:
        completed = db.get(QuestionnaireRequest, sent["id"]).completed_at
    client.cookies.clear()
    page = client.get(f"/portal/questionnaires/{sent['id']}", headers=ana.cookie).text
    assert "You can change your answers below" in page and 'value="7"' in page  # fatigue
    changed = client.post(f"/portal/questionnaires/{sent['id']}", headers=ana.cookie,
                          follow_redirects=False,
                          data={"csrf_token": ana.csrf, **{k: str(v) for k, v in
                                                           CHECK_IN.items()}, "fatigue": "1"})
    assert changed.status_code == 303, changed.text
    with ctx.sessions() as db:
        rows = list(db.scalars(select(QuestionnaireResponse)
                               .order_by(QuestionnaireResponse.version)))
        request = db.get(QuestionnaireRequest, sent["id"])
        assert (request.status, request.completed_at) == ("completed", completed)
    assert [(r.version, r.answers["fatigue"], r.scores["total"]) for r in rows] == [
        (1, 7, 30.0), (2, 1, 24.0)]  # 30 - 7 + 1 = 24
    assert rows[0].id == first["id"] and rows[0].answers == CHECK_IN
    # the practitioner sees both versions, the latest first; the scores use the latest
    client.cookies.clear()
    detail = client.get(f"{API}/questionnaire-requests/{sent['id']}", headers=auth).json()
    assert [(r["version"], r["scores"]["total"]) for r in detail["responses"]] == [
        (1, 30.0), (2, 24.0)]
    assert detail["scores"]["total"] == 24.0
    headers, _ = _staff_page(client, "pia@a.example")
    html = client.get(f"/questionnaire-requests/{sent['id']}", headers=headers).text
    assert html.index("(latest, version 2)") < html.index("Version 1 (kept, replaced later)")
    series = client.get(f"{API}/patients/{ana.patient_id}/questionnaires",
                        headers=auth).json()["scores"][0]
    assert [(p["value"], p["version"]) for p in series["points"]] == [(24.0, 2)]


# ------------------------------------------------------------------ importing
def test_an_invalid_definition_is_refused_with_the_checkers_line_and_nothing_is_stored(
        client: TestClient, ctx: AppContext) -> None:
    _, auth, _ = _setup(client, ctx)
    before = _last_seq(ctx)
    expected = ("scale.json: item[3].answerOption[1]: expected ordinalValue (extension "
                "http://hl7.org/fhir/StructureDefinition/ordinalValue) or itemWeight with a "
                "number; found none")
    api = _import(client, auth, broken_definition())
    assert (api.status_code, api.json()["error"]["message"]) == (422, expected)
    not_json = _import(client, auth, b'{"resourceType": "Questionnaire",', "x.json")
    assert not_json.status_code == 422
    assert not_json.json()["error"]["message"] == (
        "x.json: not valid JSON (line 1 column 34: Expecting property name enclosed in "
        "double quotes); expected a FHIR Questionnaire")
    # kept whole or not at all (a 61st character was cut off without a word)
    long = _import(client, auth, definition_bytes(version="1." + "0" * 60), "long.json")
    assert (long.status_code, long.json()["error"]["message"]) == (
        422, "long.json: version: expected at most 60 characters; got 62")
    latin = _import(client, auth, b'{"title": "caf\xe9"}', "latin.json")
    assert latin.json()["error"]["message"] == ("latin.json: byte 14 is not UTF-8 text; "
                                                "expected a FHIR Questionnaire as JSON")
    # the page shows the same one line above the form
    headers, csrf = _staff_page(client, "pia@a.example")
    page = client.post(f"/questionnaires?csrf_token={csrf}", headers=headers,
                       files={"file": ("scale.json", broken_definition(), "application/json")})
    assert page.status_code == 422
    assert (f'<div class="error-box" role="alert" tabindex="-1" autofocus>{expected}</div>'
            in page.text)
    with ctx.sessions() as db:
        assert db.scalar(select(func.count()).select_from(QuestionnaireDefinition)) == 0
    assert not [a for a in _actions(ctx, before) if a[0] == "questionnaire.import"]


def test_a_licensed_definition_is_imported_once_sent_and_shown_with_its_licence(
        client: TestClient, ctx: AppContext) -> None:
    staff, auth, ana = _setup(client, ctx)
    headers, csrf = _staff_page(client, "pia@a.example")
    library = client.get("/questionnaires", headers=headers).text
    assert "Licensed instruments are not included" in library
    assert "imports its own definition" in library
    done = client.post(f"/questionnaires?csrf_token={csrf}", headers=headers,
                       follow_redirects=False,
                       files={"file": ("scale.json", definition_bytes(), "application/json")})
    assert done.status_code == 303, done.text
    shown = client.get(done.headers["location"], headers=headers).text
    assert "Imported: Test scale (made up for the tests) (version 1)." in shown
    assert "Test licence text: made up, not an instrument." in shown
    assert "minimal important difference 5 (a value made up for gutaxis&#39;s tests)" in shown
    with ctx.sessions() as db:
        row = db.scalars(select(QuestionnaireDefinition)).one()
    assert (row.name, row.version, row.filename) == ("TestScale", "1", "scale.json")
    assert row.licence == "Test licence text: made up, not an instrument."
    assert row.source == "Test source text: gutaxis's own tests."
    # the same file again, or another file with the same url|version: refused
    again = _import(client, auth, definition_bytes())
    assert again.status_code == 409 and "imported before" in again.json()["error"]["message"]
    same = _import(client, auth, definition_bytes(title="Another title"))
    assert same.status_code == 409 and "give this one a new version" in same.text
    bundled = _import(client, auth, definition_bytes(
        url="urn:gutaxis:questionnaire:bristol-stool-form", version="2026.12.1"))
    assert bundled.status_code == 409 and "needs no import" in bundled.text
    listed = client.get(f"{API}/questionnaires", headers=auth).json()
    assert [c["key"] for c in listed] == ["bundled:BristolStoolForm",
                                          "bundled:GutSymptomCheckIn", f"clinic:{row.id}"]
    sent = _send(client, auth, ana.patient_id, definition_id=row.id)
    assert (sent["definition_id"], sent["bundled"]) == (row.id, None)
    # the page's send form offers it
    patient_page = client.get(f"/patients/{ana.patient_id}", headers=headers).text
    # short options, in groups that say where each comes from (a phone shows ~40 characters)
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', patient_page, re.S)
    with ctx.sessions() as db:
        bundled_titles = [(c.key, f"{c.title} · v{c.version}")
                          for c in questionnaires.available(db, staff) if c.bundled]
    assert [(label, re.findall(r'<option value="([^"]+)">([^<]+)</option>', options))
            for label, options in groups] == [
        ("Shipped with gutaxis", bundled_titles),
        ("Imported by the clinic", [(f"clinic:{row.id}",
                                     "Test scale (made up for the tests) · v1")])]
    assert [key for key, _ in bundled_titles] == ["bundled:BristolStoolForm",
                                                  "bundled:GutSymptomCheckIn"]


def test_another_clinics_definition_and_bad_choices_are_refused(
        client: TestClient, ctx: AppContext) -> None:
    _, auth, ana = _setup(client, ctx)
    make_user(ctx, "Clinic B", "bo@b.example", "owner")
    other = bearer(client, "bo@b.example")
    imported = _import(client, other, definition_bytes())
    assert imported.status_code == 201
    client.cookies.clear()
    response = client.post(f"{API}/patients/{ana.patient_id}/questionnaires", headers=auth,
                           json={"definition_id": imported.json()["definition_id"]})
    assert response.status_code == 404
    response = client.post(f"{API}/patients/{ana.patient_id}/questionnaires", headers=auth,
                           json={"bundled": "GutSymptomChekIn"})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        "bundled: 'GutSymptomChekIn' is not a bundled questionnaire; expected one of "
        "BristolStoolForm, GutSymptomCheckIn")
    response = client.post(f"{API}/patients/{ana.patient_id}/questionnaires", headers=auth,
                           json={"bundled": "BristolStoolForm", "due": "2001-01-01"})
    assert response.status_code == 422 and response.json()["error"]["fields"][0]["field"] == \
        "due"
    # clinic B's owner does not see clinic A's patient's questionnaires
    client.cookies.clear()
    assert client.get(f"{API}/patients/{ana.patient_id}/questionnaires",
                      headers=other).status_code == 404


# ------------------------------------------------------------------ the MID
def _scale_answers(total: int) -> dict[str, Any]:
    """Answers of the test scale that sum to ``total`` (q3 'high' is 10)."""
    high = total >= 10
    rest = total - (10 if high else 0)
    return {"q1": min(rest, 10), "q2": rest - min(rest, 10), "q3": "high" if high else "low"}


def test_changes_are_marked_where_they_reach_the_mid_and_said_unjudged_where_none(
        client: TestClient, ctx: AppContext) -> None:
    staff, auth, ana = _setup(client, ctx)
    definition_id = _import(client, auth, definition_bytes()).json()["definition_id"]
    start = dt.datetime(2026, 3, 2, 9, 0)
    # totals 12, 19 (+7 >= MID 5: beyond), 16 (-3 < 5: within), 11 (-5 = MID: beyond)
    totals = (12, 19, 16, 11)
    with ctx.transaction() as db:
        ids = [questionnaires.send(db, staff, ana.patient_id, definition_id=definition_id).id
               for _ in totals]
    for k, (request_id, total) in enumerate(zip(ids, totals, strict=True)):
        with ctx.transaction() as db:
            questionnaires.answer(db, ana.principal, request_id, _scale_answers(total),
                                  now=start + dt.timedelta(days=14 * k))
    with ctx.transaction() as db:
        series = questionnaire_scores.score_series(db, staff, ana.patient_id)
    total, first_two = series
    assert (total.score, total.has_mid, first_two.score, first_two.has_mid) == (
        "total", True, "first_two", False)
    assert [p["value"] for p in total.points] == [12.0, 19.0, 16.0, 11.0]
    assert [p["date"] for p in total.points] == ["2026-03-02", "2026-03-16", "2026-03-30",
                                                 "2026-04-13"]
    assert [p["change"] for p in total.points] == [None, 7.0, -3.0, -5.0]
    assert [p["beyond_mid"] for p in total.points] == [None, True, False, True]
    assert [p["direction"] for p in total.points] == [None, "worse", "better", "better"]
    assert TEST_MID == 5.0 and total.mid.startswith("minimal important difference 5 (")
    # q1 + q2: 2, 9, 6, 1 — changes given by size, never judged
    assert [p["value"] for p in first_two.points] == [2.0, 9.0, 6.0, 1.0]
    assert [p["beyond_mid"] for p in first_two.points] == [None, None, None, None]
    assert [p["note"] for p in first_two.points][1:] == [
        "no published minimal important difference"] * 3
    assert first_two.mid == "no published minimal important difference"

    headers, _ = _staff_page(client, "pia@a.example")
    page = client.get(f"/patients/{ana.patient_id}/timeline", headers=headers).text
    figures = re.findall(r'<figure class="qscore" data-score="(\w+)">(.*?)</figure>', page,
                         re.S)
    assert [name for name, _ in figures] == ["total", "first_two"]
    marked = figures[0][1]
    assert marked.count('class="beyond"') == 2 and marked.count('class="within"') == 1
    assert "2026-03-16: <strong>19</strong> — <span class=\"change-real\">up 7 (worse), " \
           "beyond the minimal important difference</span>" in marked
    assert "2026-03-30: <strong>16</strong> — <span class=\"change-within\">down 3 " \
           "(better), within the minimal important difference</span>" in marked
    unmarked = figures[1][1]
    assert 'class="beyond"' not in unmarked and 'class="within"' not in unmarked
    assert "up 7 (worse); no published minimal important difference" in unmarked
    # the patient sees the same marks on their timeline, in the portal's words
    client.cookies.clear()
    portal = client.get("/portal/timeline", headers=ana.cookie).text
    assert "From your questionnaires" in portal and portal.count('class="beyond"') == 2


def test_the_bundled_check_in_has_no_mid_and_says_so(client: TestClient, ctx: AppContext
                                                     ) -> None:
    staff, auth, ana = _setup(client, ctx)
    with ctx.transaction() as db:
        ids = [questionnaires.send(db, staff, ana.patient_id, bundled="GutSymptomCheckIn").id
               for _ in range(2)]
    for k, (request_id, level) in enumerate(zip(ids, (6, 2), strict=True)):
        with ctx.transaction() as db:
            questionnaires.answer(db, ana.principal, request_id, dict.fromkeys(CHECK_IN, level),
                                  now=dt.datetime(2026, 5, 1) + dt.timedelta(days=7 * k))
    client.cookies.clear()
    body = client.get(f"{API}/patients/{ana.patient_id}/questionnaires", headers=auth).json()
    total = body["scores"][0]
    assert [p["value"] for p in total["points"]] == [36.0, 12.0]  # 6 x 6, 2 x 6
    assert (total["points"][1]["change"], total["points"][1]["beyond_mid"],
            total["points"][1]["direction"]) == (-24.0, None, "better")
    assert total["minimal_important_difference"].startswith(
        "no published minimal important difference: Written for gutaxis and not validated")
    headers, _ = _staff_page(client, "pia@a.example")
    page = client.get(f"/patients/{ana.patient_id}/questionnaires", headers=headers).text
    assert 'class="beyond"' not in page and 'class="within"' not in page
    assert "down 24 (better); no published minimal important difference" in page


# ------------------------------------------------------------------ access
def test_a_patient_reaches_only_their_own_requests(client: TestClient, ctx: AppContext
                                                   ) -> None:
    staff, auth, ana = _setup(client, ctx)
    ben = patient_account(ctx, staff, "ben@mail.example", name="Ben Other")
    mine = _send(client, auth, ana.patient_id, bundled="GutSymptomCheckIn")
    theirs = _send(client, auth, ben.patient_id, bundled="BristolStoolForm")
    client.cookies.clear()
    listed = client.get(f"{API}/portal/questionnaires", headers=ben.api).json()
    assert [r["id"] for r in listed["requests"]] == [theirs["id"]]
    for method, path, kwargs in (
            ("GET", f"{API}/portal/questionnaires/{mine['id']}", {}),
            ("POST", f"{API}/portal/questionnaires/{mine['id']}/responses",
             {"json": {"answers": CHECK_IN}})):
        response = client.request(method, path, headers=ben.api, **kwargs)
        assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
        assert "Ana" not in response.text
    assert client.get(f"/portal/questionnaires/{mine['id']}",
                      headers=ben.cookie).status_code == 404
    page = client.post(f"/portal/questionnaires/{mine['id']}", headers=ben.cookie,
                       data={"csrf_token": ben.csrf, "bloating": "3"})
    assert page.status_code == 404
    # the staff's routes are not the patient's, their own record's included
    for path in (f"{API}/patients/{ana.patient_id}/questionnaires",
                 f"{API}/questionnaire-requests/{mine['id']}", f"{API}/questionnaires"):
        assert client.get(path, headers=ana.api).status_code == 403
    with ctx.sessions() as db:
        assert db.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 0
    # a withdrawn request leaves the patient's list and cannot be answered
    client.cookies.clear()
    cancelled = client.post(f"{API}/questionnaire-requests/{mine['id']}/cancel", headers=auth)
    assert cancelled.json()["status"] == "cancelled"
    client.cookies.clear()
    assert client.get(f"{API}/portal/questionnaires", headers=ana.api).json()["requests"] == []
    assert _answer(client, ana, mine["id"], CHECK_IN).status_code == 404
    client.cookies.clear()
    again = client.post(f"{API}/questionnaire-requests/{mine['id']}/cancel", headers=auth)
    assert again.status_code == 409
    with ctx.transaction() as db:
        with pytest.raises(NotFound):
            questionnaires.own_request(db, ana.principal, theirs["id"])
        with pytest.raises(Invalid):
            questionnaires.answer(db, ben.principal, theirs["id"], {"stool_type": "9"})


def test_every_read_and_change_is_audited(client: TestClient, ctx: AppContext) -> None:
    _, auth, ana = _setup(client, ctx)
    before = _last_seq(ctx)
    sent = _send(client, auth, ana.patient_id, bundled="GutSymptomCheckIn")
    client.cookies.clear()
    client.get("/portal/questionnaires", headers=ana.cookie)
    client.get(f"/portal/questionnaires/{sent['id']}", headers=ana.cookie)
    _answer(client, ana, sent["id"], CHECK_IN)
    _answer(client, ana, sent["id"], {**CHECK_IN, "wind": 0})
    client.cookies.clear()
    client.get(f"{API}/patients/{ana.patient_id}/questionnaires", headers=auth)
    client.get(f"{API}/questionnaire-requests/{sent['id']}", headers=auth)
    pid, rid = str(ana.patient_id), sent["id"]
    rows = [a for a in _actions(ctx, before) if a[0] != "session.start"]
    assert rows == [
        ("questionnaire.send", pid, f"request={rid}, definition=bundled:GutSymptomCheckIn"),
        ("questionnaire.list", pid, "requests=1"),
        ("questionnaire.open", pid, f"request={rid}"),
        ("questionnaire.answer", pid, f"request={rid}, version=1"),
        ("questionnaire.amend", pid, f"request={rid}, version=2"),
        ("questionnaire.read", pid, "requests=1"),
        ("questionnaire.read", pid, f"request={rid}")]
    with ctx.sessions() as db:
        assert audit.verify_chain(db, ana.principal.clinic_id) == []
        # the log names objects and never holds the answers
        details = " ".join(r.detail for r in db.scalars(select(AuditEvent)))
    assert "bloating" not in details


def test_the_patient_page_sends_with_csrf_and_shows_the_latest_scores(
        client: TestClient, ctx: AppContext) -> None:
    _, _, ana = _setup(client, ctx)
    headers, csrf = _staff_page(client, "pia@a.example")
    refused = client.post(f"/patients/{ana.patient_id}/questionnaires", headers=headers,
                          data={"questionnaire": "bundled:GutSymptomCheckIn"})
    assert refused.status_code == 403
    sent = client.post(f"/patients/{ana.patient_id}/questionnaires", headers=headers,
                       follow_redirects=False,
                       data={"questionnaire": "bundled:GutSymptomCheckIn", "csrf_token": csrf})
    assert (sent.status_code, sent.headers["location"]) == (
        303, f"/patients/{ana.patient_id}/questionnaires")
    with ctx.sessions() as db:
        request_id = db.scalars(select(QuestionnaireRequest.id)).one()
    _answer(client, ana, request_id, CHECK_IN)
    page = client.get(f"/patients/{ana.patient_id}", headers=headers).text
    assert ("Total 30 (0 to 60) · Belly symptoms 15 · Bowel, energy and overall 15"
            in page)
    client.cookies.clear()
    mine = client.get("/portal/questionnaires", headers=ana.cookie).text
    assert "Nothing to fill in right now." in mine and "Your scores over time" in mine
    assert "Total 30 (0 to 60)" in mine


def test_the_export_holds_the_questionnaires(client: TestClient, ctx: AppContext) -> None:
    import io
    import zipfile

    _, auth, ana = _setup(client, ctx)
    sent = _send(client, auth, ana.patient_id, bundled="GutSymptomCheckIn")
    _answer(client, ana, sent["id"], CHECK_IN)
    _answer(client, ana, sent["id"], {**CHECK_IN, "urgency": 0})
    client.cookies.clear()
    data = client.get(f"{API}/patients/{ana.patient_id}/export", headers=auth).content
    record = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("record.json"))
    exported = record["questionnaires"]
    assert [(q["name"], q["status"]) for q in exported] == [("GutSymptomCheckIn",
                                                             "completed")]
    assert [(r["version"], r["scores"]["total"]) for r in exported[0]["responses"]] == [
        (1, 30.0), (2, 28.0)]
    assert exported[0]["responses"][0]["questionnaire_response"]["resourceType"] == \
        "QuestionnaireResponse"
    assert exported[0]["responses"][1]["answers"]["urgency"] == 0


# ------------------------------------------------------------------ the migration
def test_0004_adds_the_questionnaire_tables_and_goes_back(database_url: str | None,
                                                          tmp_path: Any) -> None:
    import sqlalchemy as sa

    from gutaxis.service.db import downgrade, make_engine, upgrade

    engine = make_engine(database_url or f"sqlite:///{tmp_path / 'm.sqlite3'}")
    tables = {"questionnaire_definition", "questionnaire_request", "questionnaire_response"}
    try:
        upgrade(engine, "0003")
        assert not tables & set(sa.inspect(engine).get_table_names())
        upgrade(engine, "0004")
        assert tables <= set(sa.inspect(engine).get_table_names())
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO clinic (name, demo, created_at) VALUES "
                                       "('C', false, '2026-01-01')"))
            connection.execute(sa.text(
                "INSERT INTO patient (clinic_id, name, name_key, sex, contact, conditions, "
                "created_at, updated_at) VALUES (1, 'P', 'p', 'unknown', '', '', "
                "'2026-01-01', '2026-01-01')"))
            connection.execute(sa.text(
                "INSERT INTO questionnaire_request (clinic_id, patient_id, bundled, name, "
                "title, definition, sent_at, status) VALUES (1, 1, 'BristolStoolForm', "
                "'BristolStoolForm', 'B', '{}', '2026-01-01', 'open')"))
            for version in (1, 2):
                connection.execute(sa.text(
                    "INSERT INTO questionnaire_response (clinic_id, patient_id, request_id, "
                    "version, answers, resource, scores, completed_at) VALUES (1, 1, 1, "
                    f"{version}, '{{}}', '{{}}', '{{}}', '2026-01-02')"))
            with pytest.raises(sa.exc.IntegrityError):  # one row per version
                with connection.begin_nested():
                    connection.execute(sa.text(
                        "INSERT INTO questionnaire_response (clinic_id, patient_id, "
                        "request_id, version, answers, resource, scores, completed_at) "
                        "VALUES (1, 1, 1, 2, '{}', '{}', '{}', '2026-01-03')"))
        downgrade(engine, "0003")
        assert not tables & set(sa.inspect(engine).get_table_names())
        upgrade(engine)
        assert tables <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_portals_questionnaire_pages_read_at_a_6th_to_8th_grade_level(
        client: TestClient, ctx: AppContext) -> None:
    from builders.readability import flesch_kincaid_grade, page_sentences

    staff, _, ana = _setup(client, ctx)
    with ctx.transaction() as db:
        done, waiting = (questionnaires.send(db, staff, ana.patient_id,
                                             bundled="GutSymptomCheckIn").id for _ in range(2))
    with ctx.transaction() as db:
        questionnaires.answer(db, ana.principal, done, CHECK_IN)
    client.cookies.clear()
    grades = {}
    for path in ("/portal/questionnaires", f"/portal/questionnaires/{waiting}",
                 f"/portal/questionnaires/{done}"):
        response = client.get(path, headers=ana.cookie)
        assert response.status_code == 200, response.text[:300]
        grades[path] = flesch_kincaid_grade(page_sentences(response.text))
    print("Flesch-Kincaid grade of the questionnaire pages:", grades)
    assert max(grades.values()) <= 8.0, grades


def test_erasing_the_patient_removes_their_questionnaires(client: TestClient,
                                                          ctx: AppContext) -> None:
    _, auth, ana = _setup(client, ctx)
    sent = _send(client, auth, ana.patient_id, bundled="GutSymptomCheckIn")
    _answer(client, ana, sent["id"], CHECK_IN)
    imported = _import(client, auth, definition_bytes())
    assert imported.status_code == 201
    make_user(ctx, "Clinic A", "own@a.example", "owner")
    owner = bearer(client, "own@a.example")
    assert client.delete(f"{API}/patients/{ana.patient_id}", headers=owner).status_code == 204
    with ctx.sessions() as db:
        assert db.scalar(select(func.count()).select_from(QuestionnaireRequest)) == 0
        assert db.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 0
        # the clinic's definitions are the clinic's, not the patient's: they stay
        assert db.scalar(select(func.count()).select_from(QuestionnaireDefinition)) == 1


def test_answers_are_dated_by_the_patients_day_as_their_diary_is(
        client: TestClient, ctx: AppContext) -> None:
    # at 23:18 UTC a patient in Madrid (00:18 the next day) saw a questionnaire "answered"
    # the day before their diary entries of the same moment
    from sqlalchemy import select

    from gutaxis.service.models import DiaryVersion, PortalAccount

    _, auth, ana = _setup(client, ctx)
    sent = _send(client, auth, ana.patient_id, bundled="GutSymptomCheckIn")
    assert _answer(client, ana, sent["id"], CHECK_IN).status_code == 201
    late = dt.datetime(2026, 12, 7, 23, 18)
    with ctx.transaction() as db:
        db.get(QuestionnaireRequest, sent["id"]).completed_at = late
        db.scalar(select(PortalAccount).where(
            PortalAccount.patient_id == ana.patient_id)).time_zone = "Europe/Madrid"
    client.cookies.clear()
    staff = client.get(f"{API}/patients/{ana.patient_id}/questionnaires", headers=auth).json()
    assert staff["scores"][0]["points"][0]["date"] == "2026-12-08"
    page = client.get("/portal/questionnaires", headers=ana.api)
    assert page.status_code == 200 and "8 Dec 2026" in page.text and "7 Dec 2026" not in page.text
    # a diary entry's versions: written at the patient's time, not UTC's
    entry = client.post(f"{API}/portal/diary", headers=ana.api,
                        json={"kind": "meal", "at": "2026-12-08T00:18",
                              "data": {"text": "toast", "portion": "usual"}})
    assert entry.status_code == 201, entry.text
    with ctx.transaction() as db:
        version = db.scalar(select(DiaryVersion))
        version.created_at = late
    shown = client.get(f"/portal/diary/{entry.json()['id']}", headers=ana.api).text
    assert "(written 2026-12-08 00:18)" in shown and "UTC" not in shown
