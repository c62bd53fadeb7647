"""A visit page waiting for its jobs keeps what is typed in its forms.

The page used to reload itself every 3 seconds (``<meta http-equiv=refresh>``):
a practitioner typing a sample id into the labs form while a table was read
lost it, with the focus and the scroll position, at the next reload.  Now
``static/wait.js`` looks again in the background.  Here the worker is off, so
the jobs stay pending until the test runs them: a page left alone shows the
result by itself; a page with something typed keeps it and says the result is
ready, with a link.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from builders.live_server import serving
from builders.practice import PASSWORD, make_user, run_jobs
from gutaxis.service import Settings
from gutaxis.service.services import patients, uploads

EMAIL = "waiting.owner@clinic.example"
LABS = b"sample_id,marker,value,unit\nS1,hs-CRP,15,mg/L\n"


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, Any]]:
    """A started server with the worker off (the test runs the jobs); URL and context."""
    with serving(make_settings()) as (url, app):
        yield url, app.state.ctx


def _pending_labs(ctx: Any, who: Any, visit_id: int) -> None:
    with ctx.transaction() as db:
        uploads.receive_upload(db, ctx.store, who, visit_id, "labs", "LABS.csv",
                               io.BytesIO(LABS), limit=1 << 20)


def _sign_in(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the page is the same on both
def test_a_waiting_visit_page_shows_the_result_and_keeps_what_is_typed(
        browser: Any, server: tuple[str, Any]) -> None:
    url, ctx = server
    owner = make_user(ctx, "Waiting clinic", EMAIL, "owner")
    with ctx.transaction() as db:
        patient = patients.create_patient(db, owner, {"name": "Wera Wait"})
        visit = patients.create_visit(db, owner, patient.id, "2026-01-15").id
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        _sign_in(page)
        # left alone: the page shows the parsed upload by itself once the job has run
        _pending_labs(ctx, owner, visit)
        page.goto(f"/visits/{visit}")
        note = page.locator("[data-wait-status]")
        expect(note).to_contain_text("An upload is being read")
        assert run_jobs(ctx) == 1
        expect(page.locator('meta[name="gutaxis-wait"]')).to_have_count(0, timeout=15_000)
        expect(page.locator("table.cards tbody tr").first).to_contain_text("parsed")

        # typing meanwhile: what is typed stays, and the page says the result is ready
        _pending_labs(ctx, owner, visit)  # the same file again: its own row and job
        page.goto(f"/visits/{visit}")
        expect(note).to_contain_text("An upload is being read")
        page.get_by_label(re.compile("^Sample id.*when the file holds several")).fill("S1")
        page.get_by_label("Notes").focus()  # the focus elsewhere, in a closed <details>
        page.wait_for_timeout(3_500)  # one look of the page's: still pending
        expect(note).to_contain_text("An upload is being read")
        assert run_jobs(ctx) == 1
        expect(note).to_contain_text("Ready: what you have typed stays", timeout=15_000)
        expect(page.locator("#lsample")).to_have_value("S1")
        expect(page.locator('meta[name="gutaxis-wait"]')).to_have_count(1)  # not reloaded
        note.get_by_role("link", name="show the results").click()
        expect(page.locator('meta[name="gutaxis-wait"]')).to_have_count(0)
        expect(page.locator("table.cards tbody tr", has_text="pending")).to_have_count(0)

        # the session ends while the page waits: it says so, and stops looking
        _pending_labs(ctx, owner, visit)
        page.goto(f"/visits/{visit}")
        expect(note).to_contain_text("An upload is being read")
        context.clear_cookies()
        expect(note).to_have_text("Your session has ended: sign in again to see the result.",
                                  timeout=15_000)
        assert page.url.endswith(f"/visits/{visit}")  # still here, nothing typed lost
        assert problems == []
    finally:
        context.close()
