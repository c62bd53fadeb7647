"""Make the screenshots of the practitioner's guide (``docs/practitioner-guide.md``).

Run from the repository's root (it needs Debian's ``chromium`` and the
PostgreSQL-free default, SQLite in a temporary data folder)::

    .venv/bin/python tests/builders/practice_screenshots.py            # → docs/images/practice/
    .venv/bin/python tests/builders/practice_screenshots.py --out /tmp/shots --n-boot 200

It starts a real server (the job worker on), makes the demo clinic of
``make serve`` from the bundled study (real participants, their own stool
sample and blood markers), and one more patient for the timeline whose two
visits hold the samples of two different participants of the study (the study
has one sample per person; the patient's record and the guide say so).  Then a
headless Chromium signs in as the demo practitioner and goes through the
guide's steps, keeping a clipped PNG of each (a 1000 px wide window, reduced to
a 128-colour palette so that each file stays small).  Nothing here is invented:
every value shown comes from the bundled study, except the deliberately broken
lab file that shows what a refused upload looks like.

The portal, food challenges and questionnaires (sections 9–11 of the guide)
are shown on the same participant, LR03: the practitioner sets up the diary,
invites them, sends the gut-symptom check-in and sets up a low-FODMAP
elimination; then, on a phone's 390×844, the patient's side opens the link and
types a meal, symptom scores, a stool entry and the check-in's answers.  Those
entries and answers (and the chosen symptoms and e-mail) are **illustrations
typed by this script** — the study has no diary — and the guide's captions say
so.  The FHIR upload is shown with a report the HL7 FHIR R4 specification
publishes as an example (``tests/data/fhir/hl7-r4-examples``, CC0), on a patient
named as its illustration.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``builders`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The guide's images, relative to the repository's root.
DEFAULT_OUT = Path("docs/images/practice")
WIDTH, HEIGHT = 1000, 760
#: The participant shown through the guide: LR03, an ME/CFS participant whose profile
#: finds the dysbiosis link disturbed (low butyrate producers), so that it offers options.
SHOWN = "Study participant LR03"
#: The timeline's illustration: LR03's sample, then LR05's (another ME/CFS participant).
TIMELINE_SAMPLES = ("ERR1331786", "ERR1331790")
TIMELINE_PATIENT = "Timeline illustration (two study participants)"
#: A lab file with a value that is not a number: what a refused upload looks like.
BROKEN_LABS = b"sample_id,marker,value,unit\nERR1331790,LPS,not done,pg/mL\n"
#: The portal's illustration: LR03's symptoms to score, their sign-in and what they type.
PORTAL_SYMPTOMS = ("Bloating", "Tummy pain", "Tiredness")
PORTAL_EMAIL = "lr03@patient.example"
PORTAL_MEAL = "porridge with banana, coffee"
#: The gut-symptom check-in's answers typed on the patient's phone (an illustration).
CHECK_IN = {"bloating": "6", "abdominal_pain": "4", "wind": "5", "urgency": "2",
            "fatigue": "7", "gut_overall": "6"}
#: A lab report published by HL7 with the FHIR R4 examples (one hs-CRP result, CC0).
FHIR_EXAMPLE = (Path(__file__).resolve().parents[1] / "data" / "fhir" / "hl7-r4-examples"
                / "Bundle-27-acme-hscrp.json")
FHIR_PATIENT = "FHIR illustration (HL7 example report)"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}


#: The pages' own colours (``static/app.css``, the timeline's plots), kept exact in the palette.
PAGE_COLOURS = ("#ffffff", "#1b1f24", "#4a5561", "#c9d1d9", "#f3f6f9", "#0b5cad", "#1a6b32",
                "#8a4b00", "#a1161b", "#12324f", "#fff4ce", "#4d3800", "#fdecec", "#5c0b0e",
                "#e0c96b", "#6b7785")


def _quantised(png: bytes, target: Path, colours: int = 128) -> int:
    """Save ``png`` with a ``colours``-entry palette; return the file's size in bytes.

    The palette is the pages' own colours plus the image's most covering
    others, and every pixel takes its nearest entry exactly (no dithering):
    text stays sharp, white stays white, a small badge keeps its colour, and
    a screenshot of text weighs a fifth of the full-colour one.
    """
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    fixed = [int(c[i:i + 2], 16) for c in PAGE_COLOURS for i in (1, 3, 5)]
    free = colours - len(PAGE_COLOURS)
    adaptive = image.quantize(colors=free, method=Image.Quantize.MAXCOVERAGE,
                              dither=Image.Dither.NONE).getpalette() or []
    palette = np.array(fixed + adaptive[:3 * free], dtype=np.int32).reshape(-1, 3)
    pixels = np.asarray(image, dtype=np.int32).reshape(-1, 3)
    unique, inverse = np.unique(pixels, axis=0, return_inverse=True)
    nearest = np.empty(len(unique), dtype=np.uint8)
    for start in range(0, len(unique), 4096):
        chunk = unique[start:start + 4096, None, :] - palette[None, :, :]
        nearest[start:start + 4096] = (chunk * chunk).sum(axis=2).argmin(axis=1)
    indices = nearest[inverse.reshape(-1)].reshape(image.height, image.width)
    out = Image.frombytes("P", (image.width, image.height), indices.tobytes())
    out.putpalette(palette.astype(np.uint8).reshape(-1).tolist())
    out.save(target, optimize=True)
    return target.stat().st_size


class Camera:
    """Clipped screenshots of one page, saved under ``out`` with a palette."""

    def __init__(self, page: Any, out: Path) -> None:
        self.page, self.out, self.made = page, out, []
        out.mkdir(parents=True, exist_ok=True)

    def _top(self, selector: str) -> float:
        return float(self.page.locator(selector).first.evaluate(
            "e => e.getBoundingClientRect().top + window.scrollY"))

    def _bottom(self, selector: str) -> float:
        return float(self.page.locator(selector).first.evaluate(
            "e => e.getBoundingClientRect().bottom + window.scrollY"))

    def shot(self, name: str, *, start: str | None = None, end: str | None = None,
             until: str | None = None, height: float | None = None) -> Path:
        """Keep the page from ``start``'s top (else the page's) to ``end``'s bottom.

        ``until`` stops just above an element instead; ``height`` caps the
        height (CSS pixels).
        """
        page = self.page
        page.evaluate("document.activeElement && document.activeElement.blur()")
        width = page.viewport_size["width"]
        total = float(page.evaluate("document.documentElement.scrollHeight"))
        top = max(0.0, self._top(start) - 12) if start else 0.0
        if end:
            bottom = self._bottom(end) + 12
        elif until:
            bottom = self._top(until) - 4
        else:
            bottom = total
        if height is not None:
            bottom = min(bottom, top + height)
        bottom = min(bottom, total)
        png = page.screenshot(full_page=True, clip={"x": 0, "y": top, "width": width,
                                                     "height": bottom - top})
        target = self.out / f"{name}.png"
        size = _quantised(png, target)
        self.made.append((target, size))
        print(f"{target} ({size / 1024:.0f} KB)")
        return target


def _wait_for_jobs(ctx: Any, seconds: float = 1200) -> None:
    """Wait until the worker has run every queued job."""
    from sqlalchemy import func, select

    from gutaxis.service.models import Job

    deadline = time.monotonic() + seconds
    while True:
        with ctx.sessions() as db:
            left = db.scalar(select(func.count()).select_from(Job).where(
                Job.status.in_(("pending", "running"))))
        if not left:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{left} jobs still not done after {seconds} s")
        time.sleep(0.5)


def _timeline_patient(ctx: Any, clinic_id: int, email: str) -> tuple[int, bytes]:
    """Make the timeline's illustration patient: two visits, two participants' samples.

    Returns the patient's id and the second visit's ``LABS.csv`` (uploaded in
    the browser, after a broken one).
    """
    import pandas as pd
    from sqlalchemy import select

    from gutaxis import io as gio
    from gutaxis.service.access import Principal
    from gutaxis.service.demo import _labs_csv
    from gutaxis.service.models import User
    from gutaxis.service.services import patients, uploads

    data = gio.example_dataset()
    meta = pd.read_csv(data.metadata, sep="\t", dtype=str)
    meta = meta[~meta.iloc[:, 0].astype(str).str.startswith("#q2")]
    meta = meta.set_index(meta.columns[0])
    for column in ("LPSpgml", "LBPugml", "sCD14ugml", "IFABPpgml"):
        meta[column] = pd.to_numeric(meta[column], errors="coerce")
    first, second = (meta.loc[s] for s in TIMELINE_SAMPLES)
    names = [str(row["Sample_Name_s"]) for row in (first, second)]
    today = dt.date.today()
    with ctx.transaction() as db:
        user = db.scalar(select(User).where(User.email == email))
        who = Principal(user.id, clinic_id, "owner", email, "demo", "session")
        patient = patients.create_patient(db, who, {
            "name": TIMELINE_PATIENT, "sex": "female",
            "conditions": (f"Illustration for the guide's timeline: visit 1 holds participant "
                           f"{names[0]}'s sample ({TIMELINE_SAMPLES[0]}), visit 2 participant "
                           f"{names[1]}'s ({TIMELINE_SAMPLES[1]}) — two people of the bundled "
                           "study, which has one sample per person"),
            "contact": "demo data: not a real contact"})
        for number, (sample, row, when) in enumerate(zip(
                TIMELINE_SAMPLES, (first, second), (today - dt.timedelta(days=84), today),
                strict=True), start=1):
            visit = patients.create_visit(
                db, who, patient.id, when,
                f"Illustration visit {number}: sample {sample} of participant "
                f"{row['Sample_Name_s']} and their blood markers (bundled study).")
            with open(data.table, "rb") as table:
                uploads.receive_upload(db, ctx.store, who, visit.id, "microbiome",
                                       "table.biom", table, sample=sample,
                                       limit=ctx.settings.max_upload_bytes)
            if number == 1:
                uploads.receive_upload(db, ctx.store, who, visit.id, "labs", "LABS.csv",
                                       io.BytesIO(_labs_csv(row, sample)),
                                       limit=ctx.settings.max_upload_bytes)
        return int(patient.id), _labs_csv(second, TIMELINE_SAMPLES[1])


def _sign_in(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _fresh_code(secret: str, used: set[str]) -> str:
    """Return the authenticator's current code, waiting for a new one if it was used.

    The server takes each code once, so a second sign-in within the same
    30-second step must wait for the next code.
    """
    import pyotp

    totp = pyotp.TOTP(secret)
    while (code := totp.now()) in used:
        time.sleep(1)
    used.add(code)
    return code


def _visit_of(page: Any, patient: str) -> str:
    """Open the patient's first visit; return its address."""
    page.goto("/patients?q=" + patient.split()[-1])
    page.get_by_role("link", name=patient).click()
    page.locator("tbody tr a[href^='/visits/']").first.click()
    return str(page.url).split("#")[0]


def _portal_and_requests(page: Any, cam: Camera, patient_url: str) -> str:
    """Set up LR03's diary, invite them, send a questionnaire, start a protocol.

    Returns the one-time link to the portal, as the practitioner hands it on.
    """
    import re

    from playwright.sync_api import expect

    # 9. the portal: the diary's symptoms, then the one-time link
    page.goto(patient_url)
    page.locator("#portal + .grid summary", has_text="Set up the diary").click()
    page.get_by_label("Primary symptoms").fill("\n".join(PORTAL_SYMPTOMS))
    page.locator("form[action$='/portal'] button", has_text="Save").click()
    page.get_by_label("The patient's e-mail").fill(PORTAL_EMAIL)
    page.get_by_role("button", name="Invite to the portal").click()
    expect(page.get_by_role("heading", name=f"Link to the portal for {SHOWN}")).to_be_visible()
    link = page.locator("code.secret").inner_text().strip()
    cam.shot("portal-link", start="main", end="main")

    # 11. a questionnaire sent to the portal
    page.goto(patient_url)
    page.get_by_label("Questionnaire", exact=True).select_option("bundled:GutSymptomCheckIn")
    page.get_by_role("button", name="Send to the patient's portal").click()
    expect(page.get_by_role("heading", name=f"Questionnaires of {SHOWN}")).to_be_visible()

    # 10. food challenges: a low-FODMAP elimination of two groups, one sham capsule
    page.goto(patient_url)
    page.get_by_role("link", name="Food challenges").click()
    expect(page.get_by_role("heading", name=f"Food challenges of {SHOWN}")).to_be_visible()
    page.get_by_role("checkbox", name=re.compile(r"^\s*Fructans")).check()
    page.get_by_role("checkbox", name=re.compile(r"^\s*Lactose")).check()
    page.get_by_role("combobox", name=re.compile("^Template")).select_option("low_fodmap")
    page.get_by_label(re.compile("^Washout, at least")).fill("2")
    page.get_by_label(re.compile("^Sham capsules")).fill("1")
    cam.shot("protocol-form", start="main form", end="main form")
    page.get_by_role("button", name="Set up the protocol").click()
    expect(page.get_by_role("heading", name="Calendar")).to_be_visible()
    cam.shot("protocol", start="main", end="main")
    return link


def _patient_on_a_phone(browser: Any, url: str, cam: Camera, link: str) -> None:
    """The patient's side, at a phone's size: the link, the diary, the tests, the check-in."""
    import re

    from playwright.sync_api import expect

    from builders.practice import PASSWORD

    phone = browser.new_context(base_url=url, **PHONE)
    page = phone.new_page()
    page.set_default_timeout(30_000)
    desk, cam.page = cam.page, page
    try:
        page.goto(link)
        page.get_by_label("Choose a password").fill(PASSWORD)
        page.get_by_role("button", name="Save and go to my record").click()
        expect(page.get_by_role("heading", name=re.compile("^Hello"))).to_be_visible()
        # a meal (three actions: open the form, type, save), symptom scores, a stool entry
        page.get_by_role("link", name="Log a meal").click()
        page.get_by_label("What did you eat?").fill(PORTAL_MEAL)
        cam.shot("portal-meal", start="main", end="main", height=1400)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("Saved: meal.")
        page.get_by_role("link", name="Symptoms").click()
        for symptom, score in zip(PORTAL_SYMPTOMS, ("5", "3", "7"), strict=True):
            page.get_by_role("group", name=re.compile(f"^{symptom}")).get_by_text(
                score, exact=True).click()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("Saved: symptoms.")
        page.get_by_role("link", name="Stool").click()
        page.get_by_text(re.compile(r"^Type 4:")).click()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("Saved: stool.")
        expect(page.locator("ul.entries li")).to_have_count(3)
        cam.shot("portal-today", end="main")
        page.get_by_role("link", name="Diary", exact=True).click()
        expect(page.get_by_role("heading", name="Your diary")).to_be_visible()
        cam.shot("portal-diary", start="main", end="main", height=1000)
        page.goto("/portal/tests")
        expect(page.get_by_role("heading", name="Your food tests")).to_be_visible()
        cam.shot("portal-tests", start="main", end="main", height=1300)
        # the gut-symptom check-in: number boxes with their range
        page.goto("/portal/questionnaires")
        page.get_by_role("link", name="Gut symptom check-in").click()
        for link_id, value in CHECK_IN.items():
            page.locator(f"#q-{link_id}").fill(value)
        cam.shot("portal-questionnaire", start="main", end="main", height=1400)
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_role("status")).to_have_text("Thank you: your answers are saved.")
        cam.shot("portal-questionnaire-saved", start="main", end="main figure.qscore")
    finally:
        cam.page = desk
        phone.close()


def _practitioner_reads(page: Any, cam: Camera, patient_url: str) -> None:
    """The practitioner's side after the patient wrote: portal, shared diary, scores."""
    from playwright.sync_api import expect

    page.goto(patient_url)
    expect(page.locator("#portal + .grid")).to_contain_text(f"signs in as {PORTAL_EMAIL}")
    page.locator("#portal + .grid summary", has_text="Set up the diary").click()
    cam.shot("portal-setup", start="h2#portal", until="h2#questionnaires")
    page.get_by_role("link", name="All responses and their scores over time").click()
    expect(page.get_by_role("heading", name=f"Questionnaires of {SHOWN}")).to_be_visible()
    cam.shot("questionnaires-patient", start="main", end="main", height=1400)
    page.locator("main table a[href^='/questionnaire-requests/']").first.click()
    cam.shot("questionnaire-response", start="main", end="main", height=1200)


def _fhir_upload(page: Any, cam: Camera) -> None:
    """Upload HL7's example hs-CRP report to a visit of its own illustration patient."""
    from playwright.sync_api import expect

    page.goto("/patients")
    page.get_by_label("Name", exact=True).fill(FHIR_PATIENT)
    page.get_by_label("Conditions").fill(
        "Illustration for the guide's FHIR upload: the hs-CRP report that the HL7 FHIR R4 "
        "specification publishes as an example (Bundle 27, CC0) — not a study participant")
    page.get_by_role("button", name="Create patient").click()
    page.get_by_label("Notes").fill("Illustration visit: HL7's example lab report, as FHIR.")
    page.get_by_role("button", name="Add visit").click()
    page.locator("#ffile").set_input_files(str(FHIR_EXAMPLE))
    page.get_by_role("button", name="Upload FHIR").click()
    expect(page.locator("h2#uploads + .grid + .table-wrap tbody tr")).to_have_count(1)
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0, timeout=300_000)
    expect(page.locator("h2#uploads + .grid + .table-wrap .status-parsed")).to_have_count(1)
    cam.shot("fhir-upload", start="h2#uploads", until="h2#profile")


def take(out: Path, data: Path, n_boot: int) -> list[tuple[Path, int]]:
    """Start the server on ``data``, make the demo clinic, and take every screenshot."""
    from playwright.sync_api import expect, sync_playwright

    from builders.live_server import serving
    from gutaxis.service import Settings
    from gutaxis.service.demo import create_demo_clinic

    settings = Settings(data_dir=data, run_worker=True, n_boot=n_boot)
    with serving(settings, start_seconds=900) as (url, app):
        ctx = app.state.ctx
        made = create_demo_clinic(ctx)
        assert made.password is not None, "use a fresh data folder"
        timeline_id, second_labs = _timeline_patient(ctx, made.clinic_id, made.email)
        _wait_for_jobs(ctx)

        from conftest import CHROMIUM_FLAGS, chromium_path

        executable = chromium_path()
        if executable is None:
            raise SystemExit("needs Debian's chromium (apt install chromium)")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable,
                                                 args=CHROMIUM_FLAGS)
            context = browser.new_context(base_url=url,
                                          viewport={"width": WIDTH, "height": HEIGHT})
            page = context.new_page()
            page.set_default_timeout(30_000)
            cam = Camera(page, out)

            # 1. signing in, and the second factor
            page.goto("/login")
            cam.shot("sign-in", end="main")
            _sign_in(page, made.email, made.password)
            page.goto("/account")
            secret = page.locator("code.secret").first.inner_text().strip()
            cam.shot("account-second-factor", start="h2:has-text('Second factor')",
                     until="h2:has-text('Personal access tokens')")
            used: set[str] = set()
            page.get_by_label("Code").fill(_fresh_code(secret, used))
            page.get_by_role("button", name="Turn on").click()
            expect(page.get_by_text("On: signing in asks for the code")).to_be_visible()
            page.get_by_role("button", name="Sign out").click()
            _sign_in(page, made.email, made.password)
            expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
            cam.shot("second-factor", end="main")
            page.get_by_label("The 6-digit code").fill(_fresh_code(secret, used))
            page.get_by_role("button", name="Continue").click()

            # 2. patients and search
            expect(page.get_by_role("heading", name="Patients")).to_be_visible()
            cam.shot("patients", until="h2:has-text('New patient')")
            page.get_by_label("Search by name").fill("LR0")
            page.get_by_role("button", name="Search").click()
            cam.shot("patients-search", start="main h1", until="h2:has-text('New patient')")
            page.get_by_role("link", name=SHOWN).click()
            cam.shot("patient", start="main", until="h2#portal")

            # 3. the visit: uploads and lab results
            page.locator("tbody tr a[href^='/visits/']").first.click()
            visit_url = str(page.url).split("#")[0]
            cam.shot("visit-uploads", start="main", until="h2#profile")

            # 4. the profile in the visit page, the full report
            cam.shot("profile-summary", start="h2#profile", until="h3:has-text('Measures')")
            cam.shot("profile-measures", start="h3:has-text('Measures')",
                     until="h3:has-text('The gut–immune chain')")
            cam.shot("profile-chain-options", start="h3:has-text('The gut–immune chain')",
                     end="h3#options + *")
            cam.shot("profile-provenance", start="h3:has-text('Provenance')",
                     end="h3:has-text('Provenance') + ul")
            page.get_by_role("link", name="Full profile").click()
            cam.shot("full-profile", height=1100)
            page.goto(visit_url)

            # 6. the plan: two options, an own item, statuses with notes
            options = page.locator("h3#options + .table-wrap tbody tr")
            names = [options.nth(i).locator("td").nth(1).inner_text().split("\n")[0].strip()
                     for i in range(options.count())]
            chosen = [n for n in names if n.startswith(("Probiotics", "Low-FODMAP"))]
            for name in chosen:
                page.goto(visit_url)
                page.get_by_role("button", name=f"Add {name} to the plan").click()
            page.get_by_label("What").fill("Walk outdoors 20 minutes a day, as energy allows")
            page.get_by_label("5R step").select_option("rebalance")
            page.get_by_label("Details", exact=True).fill(
                "Pacing first: stop before the usual crash point.")
            page.get_by_role("button", name="Add item").click()
            cards = page.locator("main .card")
            first = cards.filter(has_text=chosen[0])
            first.get_by_label("Status").select_option("active")
            first.get_by_label("Note").fill("Started; tolerated well in the first week.")
            first.get_by_role("button", name="Update").click()
            if len(chosen) > 1:
                second = page.locator("main .card").filter(has_text=chosen[1])
                second.get_by_label("Status").select_option("paused")
                second.get_by_label("Note").fill("Paused during a family holiday.")
                second.get_by_role("button", name="Update").click()
            page.locator("main .card").filter(has_text=chosen[0]).locator("summary").click()
            cam.shot("plan", start="main", until="h2:has-text('Add your own item')")
            cam.shot("plan-own-item", start="h2:has-text('Add your own item')", end="main")
            page.get_by_role("link", name="Printable plan for the patient").click()
            cam.shot("plan-print", end="main")
            page.go_back()

            # 5. the timeline (two visits of two participants) and the change table
            page.goto(f"/patients/{timeline_id}")
            cam.shot("timeline-patient", start="main", until="h2#portal")
            second_visit = page.locator("tbody tr a[href^='/visits/']").nth(1)
            second_visit.click()
            second_url = str(page.url).split("#")[0]
            # 3b. an upload that fails: a lab file with a value that is not a number
            broken = data.parent / "LABS.csv"
            broken.write_bytes(BROKEN_LABS)
            page.locator("#lfile").set_input_files(str(broken))
            page.get_by_role("button", name="Upload labs").click()
            page.goto(second_url)
            expect(page.locator("td .status-failed")).to_have_count(1, timeout=120_000)
            fixed = data.parent / "fixed" / "LABS.csv"
            fixed.parent.mkdir(exist_ok=True)
            fixed.write_bytes(second_labs)
            page.locator("#lfile").set_input_files(str(fixed))
            page.get_by_role("button", name="Upload labs").click()
            expect(page.locator("h2#uploads + .grid + .table-wrap tbody tr")).to_have_count(3)
            expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0,
                                                                              timeout=600_000)
            expect(page.locator("h2#uploads + .grid + .table-wrap .status-parsed")
                   ).to_have_count(2)
            page.goto(second_url)
            cam.shot("upload-failed", start="h2#uploads + .grid + .table-wrap",
                     until="h2#profile")
            cam.shot("followup", start="h3:has-text('Change since the previous visit')",
                     until="h3:has-text('The gut–immune chain')")
            page.goto(f"/patients/{timeline_id}/timeline")
            cam.shot("timeline", start="main", until="h2:has-text('Key taxa')")
            cam.shot("timeline-taxa", start="h2:has-text('Key taxa')", until="h2#diary")

            # 7. export and erase
            page.goto("/patients")
            page.get_by_label("Name", exact=True).fill("Erasure example")
            page.get_by_role("button", name="Create patient").click()
            page.get_by_role("link", name="Erase this patient…").click()
            cam.shot("erase", start="main", end="main")
            page.get_by_label("Type the patient's name").fill("Erasure example")
            page.get_by_role("button", name="Erase for good").click()

            # 8. the audit log
            page.goto("/audit")
            cam.shot("audit", start="main", height=900)

            # tokens for the API, staff and roles, references
            page.goto("/account")
            page.get_by_label("Name").fill("Lab import script")
            page.get_by_role("button", name="Make a token").click()
            cam.shot("tokens", start="main", end="main")
            page.goto("/staff")
            page.get_by_label("E-mail").fill("assistant@clinic.example")
            page.get_by_label("Role").select_option("assistant")
            page.get_by_role("button", name="Make an invitation").click()
            cam.shot("staff", start="main", end="main")
            page.goto("/references")
            cam.shot("references", start="main", end="main")

            # 9-11. the portal, food challenges and questionnaires; FHIR lab results
            page.goto(visit_url)
            page.get_by_role("link", name=f"← {SHOWN}").click()
            patient_url = str(page.url).split("#")[0]
            link = _portal_and_requests(page, cam, patient_url)
            _fhir_upload(page, cam)
            _patient_on_a_phone(browser, url, cam, link)
            _practitioner_reads(page, cam, patient_url)
            context.close()

            # on a phone
            phone = browser.new_context(base_url=url, **PHONE)
            page = phone.new_page()
            cam.page = page
            _sign_in(page, made.email, made.password)
            page.get_by_label("The 6-digit code").fill(_fresh_code(secret, used))
            page.get_by_role("button", name="Continue").click()
            page.goto(visit_url)
            page.get_by_role("link", name=f"← {SHOWN}").click()
            cam.shot("phone-patient", height=844)
            page.goto(visit_url)
            cam.shot("phone-visit", start="h2#profile", height=844)
            phone.close()
            browser.close()
    return cam.made


def main(argv: list[str] | None = None) -> int:
    """Parse the options, take the screenshots, say where they are."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder of the PNGs (default {DEFAULT_OUT})")
    parser.add_argument("--n-boot", type=int, default=2000,
                        help="bootstrap replicates of each profile (the server's default)")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="gutaxis-shots-"))
    try:
        made = take(args.out, folder / "data", args.n_boot)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    total = sum(size for _, size in made)
    print(f"{len(made)} screenshots, {total / 1024:.0f} KB in all, in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
