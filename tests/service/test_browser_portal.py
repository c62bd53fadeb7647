"""A patient logs a day in the portal on a phone: Debian's Chromium driven by Playwright.

A real server (uvicorn on a loopback port) serves a fresh data folder.  The
practitioner's side is set up through the service (a patient whose primary
symptoms are chosen, and their one-time link); then, at a phone's 390x844,
the patient opens the link, sets a password, and logs a meal, their
symptoms and a stool entry, then changes the meal (a second version, the
first kept).  Every action the patient makes is counted: a meal takes
three (open the form, type what was eaten, save) — the time defaults to now
and the portion to "usual" — and its wall time is printed and bounded.
Nothing may stick out of the screen sideways, and the browser's console
stays clean.  Screenshots of each step are kept under ``tmp_path``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from builders.live_server import serving
from builders.practice import PASSWORD, make_user
from gutaxis.service import Settings
from gutaxis.service.models import DiaryEntry, DiaryVersion
from gutaxis.service.services import patients, portal

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
SYMPTOMS = ("Bloating", "Tummy pain")
#: A meal must take at most this many actions of the patient, and well under half a minute.
MEAL_ACTIONS = 3
MEAL_SECONDS = 30


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, Any]]:
    """A started server (no worker: nothing here is a job); its URL and context."""
    with serving(make_settings()) as (url, app):
        yield url, app.state.ctx


def _link(ctx: Any) -> tuple[str, int]:
    staff = make_user(ctx, "Phone clinic", "pia@clinic.example", "practitioner")
    with ctx.transaction() as db:
        patient = patients.create_patient(db, staff, {"name": "Rosa Phone"})
        portal.set_portal_settings(db, staff, patient.id, primary_symptoms=list(SYMPTOMS))
        token, _ = portal.invite_patient(db, ctx.settings, staff, patient.id,
                                         "rosa@mail.example")
    return f"/portal/invite/{token}", patient.id


def _fits(page: Page, step: str) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, "
                           "document.documentElement.clientWidth, window.innerWidth]")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + .5)
        .slice(0, 5).map(e => e.tagName + '.' + (e.getAttribute('class') || ''))""")
    assert widths[0] <= widths[1] == widths[2] == 390 and wide == [], (step, widths, wide)


def _touch_targets(page: Page, step: str) -> None:
    """Every control of the form is at least 44 px high (the size a finger needs)."""
    small = page.evaluate("""() => [...document.querySelectorAll(
          `main form button, main .chips label, main input[type=text], main input[type=number],
           main input[type=datetime-local], main label.check`)]
        .filter(e => e.getBoundingClientRect().height < 43.5)
        .map(e => e.tagName + ' ' + (e.textContent || e.name || '').trim().slice(0, 20))""")
    assert small == [], (step, small)
    _choices_laid_out(page, step)


def _choices_laid_out(page: Page, step: str) -> None:
    """Each choice is a box with its button beside (or above) its text, and "10" on one line.

    app.css's ``form.stack label { display: block }`` once outweighed the
    portal's chips: the text ran on straight after the button and "10" broke
    into "1" and "0" on a phone.
    """
    wrong = page.evaluate("""() => [...document.querySelectorAll(
          'main .chips label, main label.check')]
        .filter(e => {
          if (getComputedStyle(e).display !== 'flex') return true;
          const text = [...e.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim());
          if (!/^\\d+$/.test(e.textContent.trim())) return false;
          const r = document.createRange(); r.selectNodeContents(text[0]);
          return r.getClientRects().length !== 1;
        })
        .map(e => getComputedStyle(e).display + ' ' + e.textContent.trim().slice(0, 20))""")
    assert wrong == [], (step, wrong)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_patient_logs_a_day_on_a_phone(browser: Any, server: tuple[str, Any],
                                         tmp_path: Path) -> None:
    url, ctx = server
    link, patient_id = _link(ctx)
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
        # -- the link: set a password, and the portal opens
        page.goto(link)
        expect(page.get_by_role("heading", name="Set your password")).to_be_visible()
        expect(page.locator("main")).to_contain_text("rosa@mail.example")
        page.get_by_label("Choose a password").fill(PASSWORD)
        shot("set-password")
        page.get_by_role("button", name="Save and go to my record").click()
        expect(page.get_by_role("heading", name="Hello, Rosa")).to_be_visible()
        expect(page.get_by_text("Nothing yet today.")).to_be_visible()
        shot("today")

        # -- a meal: open the form, type, save (time now, portion usual by default)
        actions: list[str] = []
        started = time.monotonic()
        page.get_by_role("link", name="Log a meal").click()
        actions.append("tap Log a meal")
        expect(page.get_by_role("heading", name="Meal")).to_be_visible()
        _touch_targets(page, "meal form")
        shot("meal-form")
        page.get_by_label("What did you eat?").fill("porridge with banana, coffee")
        actions.append("type the foods")
        page.get_by_role("button", name="Save").click()
        actions.append("tap Save")
        expect(page.get_by_role("status")).to_have_text("Saved: meal.")
        meal_seconds = time.monotonic() - started
        print(f"a meal: {len(actions)} actions ({', '.join(actions)}), {meal_seconds:.2f} s")
        assert len(actions) <= MEAL_ACTIONS and meal_seconds < MEAL_SECONDS
        today = page.locator("ul.entries li")
        expect(today).to_have_count(1)
        expect(today.first).to_contain_text("Meal (usual portion): porridge with banana, coffee")
        shot("meal-saved")

        # -- symptoms: one tap per symptom's score
        page.get_by_role("link", name="Symptoms").click()
        _touch_targets(page, "symptoms form")
        page.get_by_role("group", name=re.compile("^Bloating")).get_by_text(
            "6", exact=True).click()
        page.get_by_role("group", name=re.compile("^Tummy pain")).get_by_text(
            "2", exact=True).click()
        shot("symptoms-form")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("Saved: symptoms.")

        # -- a stool entry: the Bristol types in words written for this project
        page.get_by_role("link", name="Stool").click()
        expect(page.locator("main")).to_contain_text("Type 1: Hard lumps")
        _touch_targets(page, "stool form")
        page.get_by_text(re.compile(r"^Type 4:")).click()
        shot("stool-form")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("Saved: stool.")
        expect(today).to_have_count(3)
        expect(page.locator("ul.entries")).to_contain_text("Symptoms: Bloating 6/10, "
                                                          "Tummy pain 2/10")
        expect(page.locator("ul.entries")).to_contain_text("Stool: Bristol type 4")
        shot("day-logged")

        # -- a change of the meal keeps the first version
        page.get_by_role("link", name=re.compile("^Meal")).click()
        expect(page.locator("main")).to_contain_text("Foods we recognised: Oats, Banana, "
                                                     "Coffee")
        page.get_by_text("Large", exact=True).click()
        page.get_by_role("button", name="Save the change").click()
        versions = page.locator("ol.versions li")
        expect(versions).to_have_count(2)
        expect(versions.nth(0)).to_contain_text("usual portion")
        expect(versions.nth(1)).to_contain_text("large portion")
        shot("meal-versions")

        page.get_by_role("link", name="Diary", exact=True).click()
        expect(page.get_by_role("heading", name="Your diary")).to_be_visible()
        shot("diary")
        assert problems == []
    finally:
        context.close()

    with ctx.sessions() as db:
        rows = [(e.kind, e.version, [v.data for v in db.scalars(
            select(DiaryVersion).where(DiaryVersion.entry_id == e.id)
            .order_by(DiaryVersion.version))])
            for e in db.scalars(select(DiaryEntry).where(DiaryEntry.patient_id == patient_id)
                                .order_by(DiaryEntry.id))]
    meal = {"foods": ["oats", "banana", "coffee"], "picked": [],
            "text": "porridge with banana, coffee", "free": []}
    assert rows == [("meal", 2, [{**meal, "portion": "usual"}, {**meal, "portion": "large"}]),
                    ("symptoms", 1, [{"scores": {"Bloating": 6, "Tummy pain": 2}}]),
                    ("stool", 1, [{"bristol": 4}])]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_practitioner_copies_the_portal_link_with_one_click(
        browser: Any, server: tuple[str, Any], tmp_path: Path) -> None:
    url, ctx = server
    staff = make_user(ctx, "Copy clinic", "pia@clinic.example", "practitioner")
    with ctx.transaction() as db:
        patient = patients.create_patient(db, staff, {"name": "Rosa Copy"})
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto("/login")
        page.get_by_label("E-mail").fill("pia@clinic.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"/patients/{patient.id}#portal")
        page.get_by_label("The patient's e-mail").fill("rosa@mail.example")
        page.get_by_role("button", name="Invite to the portal").click()
        link = page.locator("code.secret").inner_text().strip()
        assert re.fullmatch(r"https?://\S+/portal/invite/\S+", link), link
        page.get_by_role("button", name="Copy").click()
        expect(page.locator(".copy-status")).to_have_text("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == link
        page.screenshot(path=str(tmp_path / "portal-link-copied.png"))
    finally:
        context.close()
