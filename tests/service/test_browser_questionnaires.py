"""A patient fills in questionnaires on a phone: Debian's Chromium driven by Playwright.

A real server (uvicorn on a loopback port) serves a fresh data folder.  The
practitioner's side is set up through the service (a patient, their one-time
link, the gut-symptom check-in and the Bristol stool form sent); then, at a
phone's 390x844, the patient opens the link, sets a password, opens
Questionnaires, fills the check-in's number boxes (one out of range first: the
page says so next to the question, and nothing is saved), sends it, picks a
stool type from the Bristol form's big buttons, and reads their scores.
Nothing may stick out of the screen sideways, every answer control is at least
44 px high, and the browser's console holds only the deliberate refusal (422).
Screenshots of each step are kept under ``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from builders.live_server import serving
from builders.practice import PASSWORD, make_user
from gutaxis.service import Settings
from gutaxis.service.models import QuestionnaireResponse
from gutaxis.service.services import patients, portal, questionnaires

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
CHECK_IN = {"bloating": "6", "abdominal_pain": "4", "wind": "5", "urgency": "2",
            "fatigue": "7", "gut_overall": "6"}


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, Any]]:
    """A started server (no worker: nothing here is a job); its URL and context."""
    with serving(make_settings()) as (url, app):
        yield url, app.state.ctx


def _fits(page: Page, step: str) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, "
                           "document.documentElement.clientWidth, window.innerWidth]")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + .5)
        .slice(0, 5).map(e => e.tagName + '.' + (e.getAttribute('class') || ''))""")
    assert widths[0] <= widths[1] == widths[2] == 390 and wide == [], (step, widths, wide)


def _touch_targets(page: Page, step: str) -> None:
    small = page.evaluate("""() => [...document.querySelectorAll(
          `main form button, main .chips label, main input[type=number]`)]
        .filter(e => e.getBoundingClientRect().height < 43.5)
        .map(e => e.tagName + ' ' + (e.textContent || e.name || '').trim().slice(0, 20))""")
    assert small == [], (step, small)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_patient_fills_in_questionnaires_on_a_phone(browser: Any, server: tuple[str, Any],
                                                      tmp_path: Path) -> None:
    url, ctx = server
    staff = make_user(ctx, "Phone clinic", "pia@clinic.example", "practitioner")
    with ctx.transaction() as db:
        patient_id = patients.create_patient(db, staff, {"name": "Rosa Phone"}).id
        token, _ = portal.invite_patient(db, ctx.settings, staff, patient_id,
                                         "rosa@mail.example")
        check_in = questionnaires.send(db, staff, patient_id, bundled="GutSymptomCheckIn").id
        questionnaires.send(db, staff, patient_id, bundled="BristolStoolForm")
    context = browser.new_context(base_url=url, **PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text} ({page.url})")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e} ({page.url})"))
    shots = tmp_path / "shots"
    shots.mkdir()
    count = 0

    def shot(name: str) -> None:
        nonlocal count
        _fits(page, name)
        count += 1
        path = shots / f"{count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")

    try:
        page.goto(f"/portal/invite/{token}")
        page.get_by_label("Choose a password").fill(PASSWORD)
        page.get_by_role("button", name="Save and go to my record").click()
        expect(page.get_by_role("heading", name="Hello, Rosa")).to_be_visible()

        # -- the list: two to fill in
        page.get_by_role("link", name="Questionnaires", exact=True).first.click()
        expect(page.get_by_role("heading", name="Questionnaires", exact=True)).to_be_visible()
        expect(page.locator("main .actions a")).to_have_count(2)
        shot("list")

        # -- the check-in: number boxes with their range; one answer out of range first
        page.get_by_role("link", name="Gut symptom check-in").click()
        expect(page.locator("main")).to_contain_text("Answer from 0 (not at all) to 10")
        _touch_targets(page, "check-in form")
        shot("check-in-form")
        box = page.get_by_label("In the past 7 days, how bloated or swollen has your belly "
                                "felt?")
        expect(box).to_have_attribute("min", "0")
        expect(box).to_have_attribute("max", "10")
        for link_id, value in CHECK_IN.items():
            page.locator(f"#q-{link_id}").fill("12" if link_id == "fatigue" else value)
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_role("alert")).to_contain_text("One answer needs a look")
        expect(page.locator("#err-fatigue")).to_have_text(
            "Please write a whole number from 0 to 10.")
        expect(page.locator("#q-bloating")).to_have_value("6")  # what was typed stays
        shot("check-in-error")
        with ctx.sessions() as db:
            assert db.scalars(select(QuestionnaireResponse)).all() == []
        page.locator("#q-fatigue").fill("7")
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_role("status")).to_have_text("Thank you: your answers are saved.")
        expect(page.locator("main")).to_contain_text(
            "Total 30 (0 to 60) · Belly symptoms 15 · Bowel, energy and overall 15")
        shot("check-in-saved")

        # -- the Bristol form: one big button per type, with its words
        page.get_by_role("link", name="Bristol Stool Form Scale").click()
        _touch_targets(page, "bristol form")
        page.get_by_text("Type 4: Smooth snake", exact=False).click()
        shot("bristol-form")
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_text("Nothing to fill in right now.")).to_be_visible()
        expect(page.locator("main figure.qscore")).to_have_count(4)  # 3 check-in, 1 Bristol
        expect(page.locator("main")).to_contain_text("No published minimal important "
                                                     "difference")
        shot("scores")

        # -- the timeline shows the scores too
        page.get_by_role("link", name="Timeline").click()
        expect(page.get_by_role("heading", name="From your questionnaires")).to_be_visible()
        shot("timeline")
        # the one refusal made on purpose (the form comes back with 422) is the only message
        assert problems == [f"error: Failed to load resource: the server responded with a "
                            f"status of 422 (Unprocessable Entity) "
                            f"({url}/portal/questionnaires/{check_in})"]
    finally:
        context.close()

    with ctx.sessions() as db:
        rows = [(r.request_id, r.version, r.answers, r.scores["total"])
                for r in db.scalars(select(QuestionnaireResponse)
                                    .order_by(QuestionnaireResponse.id))]
    assert rows == [(check_in, 1, {k: int(v) for k, v in CHECK_IN.items()}, 30.0),
                    (check_in + 1, 1, {"stool_type": "4"}, 4.0)]
