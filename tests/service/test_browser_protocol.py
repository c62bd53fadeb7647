"""A practitioner sets up a food-challenge protocol and reads a verdict, in Chromium.

A real server (uvicorn on a loopback port); the patient's shared diary is
written through the diary service (as the portal writes it).  In the
browser, the practitioner signs in, opens the patient's food challenges,
fills the set-up form (groups, the low-FODMAP template, a sham capsule),
and reads the calendar and the verdicts — on a laptop and on a phone's
width.  Then the patient's own page shows today's instruction.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from builders.live_server import serving
from builders.portal import patient_account
from builders.practice import PASSWORD, make_user
from gutaxis.service import Settings
from gutaxis.service.services import diary

EMAIL = "pia@protocol.example"


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, Any]]:
    """A started server (no worker) and its context."""
    with serving(make_settings()) as (url, app):
        yield url, app.state.ctx


def _fits(page: Page, step: str) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, "
                           "document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], (step, widths)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_practitioner_sets_up_a_protocol_and_reads_a_verdict(
        browser: Any, server: tuple[str, Any], tmp_path: Path) -> None:
    url, ctx = server
    staff = make_user(ctx, "Protocol clinic", EMAIL, "practitioner")
    ana = patient_account(ctx, staff, "ana@mail.example", name="Ana Alder",
                          symptoms=("Bloating",))
    start = dt.date.today() - dt.timedelta(days=45)
    pattern = (3, 2, 3, 4, 3, 3, 2)
    with ctx.transaction() as db:  # fructans (days 14-16) worsen bloating; the rest do not
        for d in range(46):
            score = {14: 7, 15: 7, 16: 8}.get(d, pattern[d % 7])
            diary.add_entry(db, ana.principal, "symptoms", {"scores": {"Bloating": score}},
                            at=dt.datetime.combine(start + dt.timedelta(days=d), dt.time(20)))
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    try:
        page.goto("/login")
        page.get_by_label("E-mail").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Patients")).to_be_visible()
        page.get_by_role("link", name="Ana Alder").click()
        page.get_by_role("link", name="Food challenges").click()
        expect(page.get_by_role("heading", name="Food challenges of Ana Alder")).to_be_visible()
        page.get_by_role("checkbox", name=re.compile(r"^\s*Fructans")).check()
        page.get_by_role("checkbox", name=re.compile(r"^\s*Lactose")).check()
        page.get_by_role("combobox", name=re.compile("^Template")).select_option("low_fodmap")
        page.get_by_label("Elimination starts").fill(start.isoformat())
        page.get_by_label(re.compile("^Washout, at least")).fill("2")
        page.get_by_label(re.compile("^Sham capsules")).fill("1")
        page.screenshot(path=str(tmp_path / "protocol-form.png"), full_page=True)
        page.get_by_role("button", name="Set up the protocol").click()
        expect(page.get_by_role("heading", name="Calendar")).to_be_visible()
        rows = page.locator("table.verdicts tbody tr")
        expect(rows).to_have_count(2)
        fructans = rows.filter(has_text="Fructans")
        expect(fructans).to_contain_text("likely trigger")
        expect(fructans.locator("svg.verdict-plot")).to_be_visible()
        expect(page.locator("main")).to_contain_text("against the sham capsules")
        page.screenshot(path=str(tmp_path / "protocol-verdicts.png"), full_page=True)
        _fits(page, "laptop")
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        _fits(page, "phone")
        page.screenshot(path=str(tmp_path / "protocol-phone.png"), full_page=True)
        # the patient's page: every test done, so the results in plain words
        page.context.clear_cookies()
        page.goto("/login")
        page.get_by_label("E-mail").fill("ana@mail.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto("/portal/tests")
        expect(page.get_by_role("heading", name="Your food tests")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Fructans, Bloating: likely a trigger")
        _fits(page, "portal")
        page.screenshot(path=str(tmp_path / "portal-tests.png"), full_page=True)
        assert problems == [], problems
    finally:
        context.close()
