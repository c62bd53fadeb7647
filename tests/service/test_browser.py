"""The practice application in a real browser: Debian's Chromium driven by Playwright.

A real server (uvicorn on a free loopback port, the job worker on) serves a
fresh data folder; the practitioner signs in, makes a patient and a visit,
uploads a lab file and the bundled study's table (sample ERR1331798), waits
for the profile (the visit page looks again while the jobs run), opens
it, adds an option to the plan, looks at the timeline and signs out — once
at a desktop's width (on SQLite) and once at a phone's (on PostgreSQL),
where nothing may stick out of the screen sideways (wide tables scroll
inside their own box).

Every step leaves a full-page screenshot under the test's ``tmp_path``
(``shots/<width>/NN-step.png``); the paths are printed (``pytest -s``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from builders.live_server import serving
from builders.practice import PASSWORD, make_user
from gutaxis import io as gio
from gutaxis.knowledge import load_interventions
from gutaxis.service import Settings

#: The sample of the bundled study the visit's table is read for (an ME/CFS participant).
SAMPLE = "ERR1331798"
#: Lab values of the visit: LPS is the participant's own (131.6 pg/mL in the study's
#: metadata); hs-CRP 15 mg/L is set high on purpose so that the profile offers options.
LABS = (f"sample_id,marker,value,unit\n{SAMPLE},hs-CRP,15,mg/L\n{SAMPLE},LPS,131.6,pg/mL\n")
EMAIL = "browser.owner@clinic.example"
PATIENT = "Ana García-Browser"

VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
              "is_mobile": True, "has_touch": True},
}
#: Long enough for a parse and a profile on a busy two-core machine; not a timing check.
PROFILE_WAIT_MS = 180_000


class Steps:
    """Full-page screenshots of one run, numbered in order, and the phone's overflow check."""

    def __init__(self, page: Page, folder: Path, *, phone: bool) -> None:
        self.page, self.folder, self.phone, self.count = page, folder, phone, 0
        folder.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> Path:
        """Check the page fits the screen sideways (phone), then keep its screenshot."""
        if self.phone:
            assert_fits(self.page, name)
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


def assert_fits(page: Page, step: str) -> None:
    """Assert nothing makes the page wider than the screen; name the culprits if it does.

    What sticks out inside a box that scrolls sideways by itself (a table's
    wrapper, a figure's frame) does not widen the page and is not a culprit.
    """
    screen = page.viewport_size["width"] if page.viewport_size else 0
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth, "
                           "document.documentElement.clientWidth]")
    culprits = page.evaluate(
        """() => {
             const scrolls = e => {
               // a positioned box escapes a scroller that is not its containing block
               const start = ['absolute', 'fixed'].includes(getComputedStyle(e).position)
                 ? e.offsetParent : e.parentElement;
               for (let a = start; a && a !== document.body; a = a.parentElement) {
                 if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX))
                   return true; } return false; };
             return [...document.querySelectorAll('body *')]
               .filter(e => !scrolls(e) && e.getBoundingClientRect().right >
                                            document.documentElement.clientWidth + 0.5)
               .slice(0, 5).map(e => e.tagName + '.' + (e.getAttribute('class') || '') +
                                ': ' + (e.textContent || '').trim().slice(0, 40)); }""")
    # a phone zooms out to show a page wider than its screen: innerWidth grows with it
    assert widths[0] <= widths[1] == widths[2] == screen, (
        f"{step}: page {widths[0]} px wide (window {widths[1]} px, layout {widths[2]} px) "
        f"on a {screen} px screen; sticking out: {culprits}")
    assert culprits == [], f"{step}: elements past the screen's right edge: {culprits}"


def labs_file(folder: Path) -> Path:
    path = folder / "LABS.csv"
    path.write_text(LABS, encoding="utf-8")
    return path


def wait_until_settled(page: Page, ctx: Any) -> None:
    """Wait until the visit page stops waiting (no upload or profile pending).

    On a timeout the message lists the jobs as the database has them.
    """
    try:
        expect(page.locator('meta[name="gutaxis-wait"]')).to_have_count(
            0, timeout=PROFILE_WAIT_MS)
    except AssertionError as exc:
        from sqlalchemy import select

        from gutaxis.service.models import Job

        with ctx.sessions() as db:
            jobs = [(j.id, j.kind, j.status, j.attempts, j.error)
                    for j in db.scalars(select(Job).order_by(Job.id))]
        raise AssertionError(f"the visit page kept refreshing; jobs: {jobs}") from exc


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, Any]]:
    """A started server with the worker on and one owner account; its URL and context."""
    settings = make_settings(run_worker=True, n_boot=50, worker_poll_seconds=0.1)
    with serving(settings) as (url, app):
        make_user(app.state.ctx, "Browser clinic", EMAIL, "owner")
        yield url, app.state.ctx


# Each width once, each database once: the desktop round on SQLite, the phone's on
# PostgreSQL (the pages are the same on both; the API tests cover every route on both).
@pytest.mark.parametrize(("database_url", "width"),
                         [("sqlite", "desktop"), ("postgresql", "phone")],
                         indirect=["database_url"])
def test_practitioner_round(browser: Any, server: tuple[str, Any], tmp_path: Path,
                            width: str) -> None:
    url, ctx = server
    context = browser.new_context(base_url=url, **VIEWPORTS[width])
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []  # what the browser's console reports (CSP refusals, 404s)
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text} ({page.url})")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e} ({page.url})"))
    steps = Steps(page, tmp_path / "shots" / width, phone=width == "phone")
    try:
        _round(page, steps, tmp_path, ctx)
        # the one refusal the round makes on purpose (a patient with a blank name)
        expected = ("error: Failed to load resource: the server responded with a status of "
                    f"422 (Unprocessable Entity) ({url}/patients)")
        assert problems.count(expected) == 1
        assert [p for p in problems if p != expected] == []
    finally:
        context.close()


def _round(page: Page, steps: Steps, tmp_path: Path, ctx: Any) -> None:
    # -- sign in: an address without a session goes to the sign-in form
    page.goto("/patients")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # by keyboard: the first Tab shows the skip link, the next ones reach the form
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="gutaxis practice")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("E-mail")).to_be_focused()
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    steps.shot("sign-in")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    expect(page.get_by_text("0 patients.")).to_be_visible()
    expect(page.locator("footer")).to_contain_text(f"Signed in as {EMAIL} (owner)")

    # -- a refused form: the error names the field's label, and the form comes back with
    # what was typed in it
    page.get_by_label("Name", exact=True).fill(" ")
    page.get_by_label("Conditions").fill("fatigue, bloating")
    page.get_by_role("button", name="Create patient").click()
    expect(page.get_by_role("alert")).to_contain_text("Name: a patient needs a name")
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.get_by_label("Conditions")).to_have_value("fatigue, bloating")

    # -- a patient
    page.get_by_label("Name", exact=True).fill(PATIENT)
    page.get_by_label("Date of birth").fill("1974-03-02")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Conditions").fill("fatigue, bloating")
    steps.shot("new-patient")
    page.get_by_role("button", name="Create patient").click()
    expect(page.get_by_role("heading", name=PATIENT, level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Born 1974-03-02 · Sex female")
    expect(page.locator("main")).to_contain_text("fatigue, bloating")
    expect(page.get_by_text("No visit yet.")).to_be_visible()
    patient_url = page.url

    # -- a visit
    page.get_by_label("Date").fill("2026-01-15")
    page.get_by_label("Notes").fill("First consultation; stool test and bloods.")
    page.get_by_role("button", name="Add visit").click()
    expect(page.get_by_role("heading", name="Visit of 2026-01-15")).to_be_visible()
    expect(page.get_by_text("Nothing uploaded yet.")).to_be_visible()
    steps.shot("visit")
    visit_url = page.url
    assert re.search(r"/visits/\d+$", visit_url.split("#")[0]), visit_url

    # -- the lab results, then the stool table (each parsed by the worker)
    page.locator("#lfile").set_input_files(str(labs_file(tmp_path)))
    page.get_by_role("button", name="Upload labs").click()
    uploads = page.locator("#uploads + .grid + .table-wrap table")
    expect(uploads.locator("tbody tr")).to_have_count(1)  # the page after the upload
    wait_until_settled(page, ctx)
    expect(uploads.locator("tbody tr").nth(0)).to_contain_text("LABS.csv")
    expect(uploads.locator("tbody tr").nth(0)).to_contain_text("parsed")
    labs = page.locator("h2:has-text('Lab results') + .table-wrap table")
    # the marker as the page names it: its id (hscrp) or its label (hs-CRP)
    crp = labs.locator("tr", has_text=re.compile(r"^\s*hs-?crp", re.I))
    expect(crp).to_contain_text("15mg/L")  # the cells' text: 15, as the lab wrote it
    expect(crp).not_to_contain_text("15.00")  # no digits added
    expect(labs.locator("tr", has_text=re.compile(r"^\s*lps", re.I))).to_contain_text(
        "131.6")

    table = gio.example_dataset().table
    page.locator("#mfile").set_input_files(str(table))
    page.locator("#msample").fill(SAMPLE)
    page.get_by_role("button", name="Upload table").click()
    expect(uploads.locator("tbody tr")).to_have_count(2)
    steps.shot("uploaded-pending")

    # -- the profile: the page looks again until the jobs are done
    wait_until_settled(page, ctx)
    main = page.locator("main")
    expect(uploads.locator("tr", has_text="table.biom")).to_contain_text("parsed")
    expect(uploads.locator("tr", has_text="table.biom")).to_contain_text(SAMPLE)
    expect(page.get_by_role("link", name="Full profile")).to_be_visible()
    expect(main).to_contain_text(f"Sample {SAMPLE}")
    expect(main).to_contain_text("Reference")
    measures = page.locator("h3:has-text('Measures') + .table-wrap table")
    crp = measures.locator("tbody tr", has_text="hs-CRP")
    expect(crp).to_contain_text("15")
    expect(crp.locator(".status")).to_have_text("high")
    expect(page.locator("h3:has-text('Summary') + ul li").first).not_to_be_empty()
    expect(page.locator("h3:has-text('The gut–immune chain') + ul li").first).to_be_visible()
    expect(page.locator("h3:has-text('Provenance') + ul")).to_contain_text(
        "sha256")
    steps.shot("profile-summary")

    # -- the full profile (the report gutaxis profile writes), with its plots, in a tab of
    # its own: the visit's page stays where it was
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Full profile").click()
    report = opened.value
    expect(report.locator("body")).to_contain_text(SAMPLE)
    assert report.locator("svg").count() >= 1
    expect(report.locator("svg").first).to_be_visible()
    report_steps = Steps(report, steps.folder, phone=steps.phone)
    report_steps.count = steps.count
    steps.count = report_steps.shot("full-profile") and report_steps.count
    report.close()
    expect(page).to_have_url(visit_url)

    # -- an option of the profile into the plan
    options = page.locator("h3#options + .table-wrap table tbody tr")
    assert options.count() >= 1
    first = options.nth(0)
    option_name = first.locator("td").nth(1).inner_text().split("\n")[0].strip()
    option_step = first.locator("td").nth(0).inner_text().strip()
    evidence = first.locator("td").nth(2).inner_text().strip().split("\n")[0]
    assert option_name and option_step and evidence
    # each link of the chain says its status once ("not disturbed — Not disturbed: …" was twice)
    links = page.locator("h3:text('The gut–immune chain') + ul > li")
    assert links.count() == 4
    for text in links.all_inner_texts():
        status, dash, explanation = text.partition(": ")[2].partition(" — ")
        assert not (dash and explanation.lower().startswith(status.lower() + ":")), text
    # an option whose evidence level argues against it says so, in the knowledge base's words
    catalogue = load_interventions()
    caution = first.locator(".caution")
    if evidence in catalogue.unfavourable_levels:
        expect(caution).to_have_text(catalogue.evidence_levels[evidence])
        expect(first).to_have_class("unfavourable")
    else:
        expect(caution).to_have_count(0)
    first.get_by_role("button", name=f"Add to plan {option_name}").click()
    expect(page.get_by_role("heading", name=f"Plan of {PATIENT}")).to_be_visible()
    item = page.locator(".card", has=page.get_by_role("heading", name=option_name))
    expect(item).to_have_count(1)
    expect(item.locator(".status")).to_have_text("proposed")
    expect(item).to_contain_text(f"5R step: {option_step}")
    expect(item).to_contain_text(f"evidence level {evidence}")
    steps.shot("plan")
    page.goto(visit_url)
    row = page.locator("h3#options + .table-wrap table tbody tr", has_text=option_name)
    expect(row).to_contain_text("in the plan")
    expect(row.get_by_role("button")).to_have_count(0)
    page.locator("h3#options").scroll_into_view_if_needed()
    steps.shot("option-in-plan")

    # -- the timeline: one small plot per measure
    page.goto(patient_url)
    expect(page.locator("tbody tr", has_text="2026-01-15").locator(".status")).to_have_text(
        "done")
    expect(page.get_by_role("link", name="Plan (1)")).to_be_visible()
    steps.shot("patient")
    page.get_by_role("link", name="Timeline").click()
    expect(page.get_by_role("heading", name=f"Timeline of {PATIENT}")).to_be_visible()
    crp_plot = page.locator("figure", has=page.locator("figcaption", has_text="hs-CRP"))
    expect(crp_plot).to_have_count(1)
    expect(crp_plot.locator("svg circle")).to_have_count(1)
    expect(crp_plot.locator(".values")).to_contain_text("2026-01-15: 15")
    assert page.locator(".series figure svg").count() >= 3
    # one visit so far: the page says when changes will show
    expect(page.get_by_text("One profiled visit so far")).to_be_visible()
    steps.shot("timeline")

    # -- sign out: back to the sign-in form, and the pages ask for it again
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(patient_url)
    expect(page).to_have_url(re.compile(r"/login"))
    steps.shot("signed-out")
