"""The pages in-process: forms, CSRF, sign-in, errors as pages (the browser test walks them too)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from builders.practice import PASSWORD, make_user
from gutaxis.knowledge import load_interventions
from gutaxis.service.models import Job, Patient, Profile, Reference, Visit
from gutaxis.service.pages import _evidence_level, measure_text, sparkline, value_list
from gutaxis.service.services import accounts
from gutaxis.service.services.profiles import profile_statuses

HTML = {"Accept": "text/html"}


def _token(text):
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def _sign_in(client, email):
    form = client.get("/login", headers=HTML)
    response = client.post("/login", headers=HTML, follow_redirects=False, data={
        "email": email, "password": PASSWORD, "csrf_token": _token(form.text),
        "next": "/patients"})
    assert response.status_code == 303 and response.headers["location"] == "/patients"
    return _token(client.get("/patients", headers=HTML).text)


def test_sign_in_needs_the_forms_own_token_and_says_what_failed(client, ctx):
    make_user(ctx, "A", "a@a.example")
    form = client.get("/login", headers=HTML)
    assert form.status_code == 200 and 'autocomplete="current-password"' in form.text
    forged = client.post("/login", headers=HTML, data={"email": "a@a.example",
                                                       "password": PASSWORD,
                                                       "csrf_token": "forged"})
    assert forged.status_code == 403 and "sign-in form is out of date" in forged.text
    wrong = client.post("/login", headers=HTML, data={"email": "a@a.example",
                                                      "password": "not the password",
                                                      "csrf_token": _token(form.text)})
    assert wrong.status_code == 401 and "wrong e-mail address or password" in wrong.text
    assert 'value="a@a.example"' in wrong.text  # the e-mail is kept in the form
    # the title says it first (a screen reader reads it), and the error box takes the focus
    assert "<title>Sign in · gutaxis</title>" in form.text
    assert "<title>Error: Sign in · gutaxis</title>" in wrong.text
    assert 'role="alert" tabindex="-1" autofocus>wrong e-mail address' in wrong.text


def test_next_only_goes_to_a_path_of_this_site(client, ctx):
    make_user(ctx, "A", "a@a.example")
    for target, expected in (("//evil.example/x", "/patients"),
                             ("https://evil.example", "/patients"),
                             ("/patients/1", "/patients/1")):
        form = client.get("/login", headers=HTML)
        response = client.post("/login", headers=HTML, follow_redirects=False, data={
            "email": "a@a.example", "password": PASSWORD, "csrf_token": _token(form.text),
            "next": target})
        assert response.headers["location"] == expected
        client.cookies.clear()


def test_an_accepted_invitation_says_with_which_address_to_sign_in(client, ctx):
    make_user(ctx, "Gut Clinic", "owner@a.example")  # the clinic's owner
    csrf = _sign_in(client, "owner@a.example")
    page = client.post("/staff/invite", headers=HTML, data={
        "email": "new.colleague@a.example", "role": "practitioner", "csrf_token": csrf})
    code = re.search(r'<code class="secret">([^<]+)</code>', page.text).group(1)
    client.cookies.clear()
    form = client.get("/invite", headers=HTML)
    accepted = client.post("/invite", headers=HTML, follow_redirects=False, data={
        "code": code, "name": "New Colleague", "password": PASSWORD,
        "csrf_token": _token(form.text)})
    assert accepted.status_code == 303 and accepted.headers["location"] == "/login"
    sign_in = client.get("/login", headers=HTML)
    assert ("Your account is ready. Sign in with new.colleague@a.example (the address you "
            "were invited with)" in sign_in.text)
    assert 'value="new.colleague@a.example"' in sign_in.text  # the sign-in form, filled in
    again = client.get("/login", headers=HTML).text  # said once
    assert "Your account is ready" not in again and 'value="new.colleague' not in again
    _sign_in(client, "new.colleague@a.example")
    client.cookies.clear()
    form = client.get("/invite", headers=HTML)
    again = client.post("/invite", headers=HTML, data={
        "code": code, "password": PASSWORD, "csrf_token": _token(form.text)})
    assert again.status_code == 404 and "unknown, used or expired" in again.text


def _accept(client, code):
    client.cookies.clear()
    form = client.get("/invite", headers=HTML)
    return client.post("/invite", headers=HTML, follow_redirects=False, data={
        "code": code, "name": "New Colleague", "password": PASSWORD,
        "csrf_token": _token(form.text)})


def test_staff_invitations_are_listed_replaced_withdrawn_and_not_made_twice(client, ctx):
    make_user(ctx, "Gut Clinic", "owner@a.example")
    csrf = _sign_in(client, "owner@a.example")
    staff = client.get("/staff", headers=HTML).text
    assert "None: every invitation was accepted" in staff
    after = re.search(r'name="after" value="(\d+)"', staff).group(1)
    form = {"email": "new@a.example", "role": "assistant", "csrf_token": csrf, "after": after}
    first = client.post("/staff/invite", headers=HTML, data=form)
    first_code = re.search(r'<code class="secret">([^<]+)</code>', first.text).group(1)
    # the same form sent again (a reload): nothing new, the code shown stays the one
    again = client.post("/staff/invite", headers=HTML, data=form)
    assert again.status_code == 409 and "Nothing new was made" in again.text
    # what another person invites, or another address, is no reason to refuse this form
    colleague = make_user(ctx, "Gut Clinic", "colleague@a.example")
    with ctx.transaction() as db:
        accounts.invite(db, colleague, "theirs@a.example", "assistant")
    other = client.post("/staff/invite", headers=HTML,
                        data=form | {"email": "mine@a.example"})
    assert other.status_code == 200, other.text
    # an id that is not ASCII digits is no id (it was a 500: int("²") fails)
    odd = client.post("/staff/invite", headers=HTML,
                      data=form | {"email": "odd@a.example", "after": "²"})
    assert odd.status_code == 200
    with ctx.transaction() as db:
        for address in ("theirs@a.example", "mine@a.example", "odd@a.example"):
            accounts.withdraw_invitation(db, colleague, next(
                i.id for i in accounts.open_invitations(db, colleague) if i.email == address))
    staff = client.get("/staff", headers=HTML).text
    assert staff.count("/withdraw") == 1 and "new@a.example" in staff
    # the address invited again from a fresh page: the new code replaces the first
    after = re.search(r'name="after" value="(\d+)"', staff).group(1)
    second = client.post("/staff/invite", headers=HTML, data=form | {"after": after})
    second_code = re.search(r'<code class="secret">([^<]+)</code>', second.text).group(1)
    staff = client.get("/staff", headers=HTML).text
    assert staff.count("/withdraw") == 1
    withdraw = re.search(r'action="(/staff/invitations/\d+/withdraw)"', staff).group(1)
    gone = client.post(withdraw, headers=HTML, follow_redirects=False, data={"csrf_token": csrf})
    assert gone.status_code == 303
    assert "None: every invitation was accepted" in client.get("/staff", headers=HTML).text
    twice = client.post(withdraw, headers=HTML, data={"csrf_token": csrf})
    assert twice.status_code == 404
    for code in (first_code, second_code):  # replaced, withdrawn: neither works
        assert _accept(client, code).status_code == 404


def test_forms_create_a_patient_and_a_visit_and_refuse_bad_input_as_a_page(client, ctx):
    make_user(ctx, "A", "a@a.example")
    csrf = _sign_in(client, "a@a.example")
    made = client.post("/patients", headers=HTML, follow_redirects=False,
                       data={"name": "Ana García", "sex": "female", "birth_date": "1980-02-29",
                             "csrf_token": csrf})
    assert made.status_code == 303
    page = client.get(made.headers["location"], headers=HTML)
    assert "<h1>Ana García</h1>" in page.text and "1980-02-29" in page.text
    visit = client.post(made.headers["location"] + "/visits", headers=HTML,
                        follow_redirects=False, data={"visit_date": "2026-11-30",
                                                      "notes": "first", "csrf_token": csrf})
    assert re.fullmatch(r"/visits/\d+", visit.headers["location"])
    # a page names the field by its label in the form (the API keeps the field's name)
    missing = client.post("/patients", headers=HTML, data={
        "name": " ", "contact": "0612 345 678", "identifiers": "urn:lab|A-17",
        "birth_date": "1980-02-29", "csrf_token": csrf})
    assert missing.status_code == 422 and "Name: a patient needs a name" in missing.text
    assert "<title>Error: " in missing.text  # a form_error as well
    # the patient form comes back as it was filled in (the browser's Back lost the name
    # and the identifiers, which the browser does not keep: autocomplete off)
    assert "Nothing was saved; correct it below" in missing.text
    assert ">0612 345 678</textarea>" in missing.text and ">urn:lab|A-17</textarea>" in missing.text
    assert 'value="1980-02-29"' in missing.text
    taken = client.post(made.headers["location"] + "/edit", headers=HTML, data={
        "name": "Ana Garcia Lopez", "birth_date": "1850-01-01", "csrf_token": csrf},
        follow_redirects=False)
    assert taken.status_code == 422, taken.text
    assert 'value="Ana Garcia Lopez"' in taken.text and "<h1>Edit Ana García</h1>" in taken.text
    # other forms: the way back is the browser's Back (the form as it was left)
    form_page = {**HTML, "Referer": "http://testserver/visits/new"}
    bad_visit = client.post(made.headers["location"] + "/visits", headers=form_page,
                            data={"visit_date": "yesterday", "csrf_token": csrf})
    assert bad_visit.status_code == 422
    assert '<a href="/visits/new" data-back>Back to the form</a>' in bad_visit.text
    assert '<script src="/static/back.js" defer></script>' in bad_visit.text
    bad_date = client.post("/patients", headers=HTML,
                           data={"name": "X", "birth_date": "31/12/80", "csrf_token": csrf})
    assert bad_date.status_code == 422
    assert "Date of birth: expected a date YYYY-MM-DD; got &#39;31/12/80&#39;" in bad_date.text
    api = client.post("/api/v1/patients", headers={"X-CSRF-Token": csrf},
                      json={"name": "X", "birth_date": "31/12/80"})
    assert api.json()["error"]["message"].startswith("birth_date: ")
    nul = client.post("/patients", headers=HTML, follow_redirects=False,
                      data={"name": "A\x00B", "csrf_token": csrf})
    assert nul.status_code in (303, 422)  # SQLite stores it; PostgreSQL refuses it (not 500)
    no_csrf = client.post("/patients", headers=HTML, data={"name": "X"})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    # an error page keeps the menu of the member of staff signed in (it had none)
    gone = client.get("/patients/999999", headers=HTML)
    assert gone.status_code == 404 and 'action="/logout"' in gone.text
    assert '<a href="/staff">Staff</a>' in gone.text  # an owner's menu
    # an address cut or typed wrong is no such page (it was "patient_id: Input should be a
    # valid integer", a form's error); the API keeps its 422 with the field
    typo = client.get("/patients/new", headers=HTML)
    assert typo.status_code == 404 and "there is no page /patients/new" in typo.text
    assert client.get("/api/v1/patients/new", headers=HTML).status_code == 422
    # the database away while the page looks for who is signed in: the page, not a bare 500
    import sqlalchemy.exc

    from gutaxis.service import access

    def down(*args, **kwargs):
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("server closed"))

    original, access._authenticate = access._authenticate, down
    try:
        missing_page = client.get("/no-such-page", headers=HTML)
    finally:
        access._authenticate = original
    assert missing_page.status_code == 404 and "<h1>Not found</h1>" in missing_page.text
    assert "content-security-policy" in missing_page.headers
    assert 'action="/logout"' not in missing_page.text
    # a new patient's sex is "unknown" until chosen (the form sent "female", its first option)
    new_form = client.get("/patients", headers=HTML).text
    assert '<option value="unknown" selected>' in new_form
    assert '<option value="female" >' in new_form
    # the own item's 5R step is chosen by the practitioner (the form took "remove" silently)
    plan_form = client.get(made.headers["location"] + "/plan", headers=HTML).text
    assert '<select id="step" name="step" required><option value="" disabled selected>' \
        in plan_form
    # the plan's own item: its field is labelled "What" (the page said "Title")
    plan = client.post(made.headers["location"] + "/plan", headers=HTML,
                       data={"title": "", "step": "remove", "csrf_token": csrf})
    assert plan.status_code == 422 and "What: an item needs a title" in plan.text


def test_search_finds_by_every_word_and_escapes_names(client, ctx):
    make_user(ctx, "A", "a@a.example")
    csrf = _sign_in(client, "a@a.example")
    for name in ("Ana García López", "Ana Pérez", "<script>x</script>"):
        client.post("/patients", headers=HTML, data={"name": name, "csrf_token": csrf})
    page = client.get("/patients", params={"q": "ana garcía"}, headers=HTML).text
    assert "Ana García López" in page and "Ana Pérez" not in page
    assert "1 patient match" in page
    everyone = client.get("/patients", headers=HTML).text
    assert "<script>x</script>" not in everyone and "&lt;script&gt;x&lt;/script&gt;" in everyone


def test_security_headers_on_every_page(client, ctx):
    page = client.get("/login", headers=HTML)
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"


def test_ameasure_text_reads_as_the_summary_writes_it():
    # a fraction as a percentage, as the profile's summary sentences write it
    assert measure_text(0.0009087, "fraction") == "0.091 %"  # the summary: "Proteobacteria 0.091 %"
    # other values with three significant digits, as the report writes them
    assert measure_text(500.0, "pg/mL", "<") == "<500 pg/mL"
    assert measure_text(2.345, "") == "2.35" and measure_text(None, "pg/mL") == "—"
    assert measure_text(12345.6, "U/L") == "12,346 U/L" and measure_text(0.0001234) == "0.000123"


def test_sparkline_places_points_by_value_and_marks_real_changes():
    svg = sparkline([{"date": "2026-01-01", "value": 1.0, "change": ""},
                     {"date": "2026-02-01", "value": 3.0, "change": "real change up"},
                     {"date": "2026-03-01", "value": 2.0, "change": "within normal variation"}],
                    "Shannon")
    ys = [float(y) for y in re.findall(r'cy="([\d.]+)"', svg)]
    assert ys[0] > ys[2] > ys[1]  # SVG y grows downwards: 1 lowest, 3 highest
    assert ys == [60.0, 10.0, 35.0]  # 70 px high, 10 px padding, linear in the value
    # its own scale, written at the left: the highest value at the top, the lowest below
    assert re.findall(r'<text[^>]*y="([\d.]+)"[^>]*>([^<]+)</text>', svg) == [
        ("64.0", "1"), ("14.0", "3")]
    same = sparkline([{"date": "2026-01-01", "value": 2.5, "change": ""},
                      {"date": "2026-02-01", "value": 2.5, "change": ""}], "x", ["2.5 <b>", "2.5"])
    assert re.findall(r"<text[^>]*>([^<]+)</text>", same) == ["2.5 &lt;b&gt;"]  # one label
    assert 'stroke="#a1161b"' in svg and 'fill="#1a6b32"' in svg
    assert "no value" in sparkline([{"date": "2026-01-01", "value": None, "change": ""}], "x")


def test_an_option_advised_against_is_marked_with_what_its_evidence_level_means():
    catalogue = load_interventions()
    against = _evidence_level("not-recommended")
    assert against == {"unfavourable": True,
                       "level_text": catalogue.evidence_levels["not-recommended"]}
    assert against["level_text"].startswith("Professional bodies state that it should not")
    assert all(_evidence_level(level)["unfavourable"] for level in catalogue.unfavourable_levels)
    assert _evidence_level("guideline-supported")["unfavourable"] is False
    assert _evidence_level("no-such-level") == {"unfavourable": False, "level_text": ""}


def test_the_values_beside_a_sparkline_are_escaped_and_say_each_judgement():
    points = [{"date": "2026-01-01", "value": 1.0, "change": ""},
              {"date": "2026-02-01", "value": 3.0, "change": "real change up"},
              {"date": "<b>", "value": None, "change": "within <i>normal</i> variation"}]
    html = str(value_list(points, ["1", "3", "—"]))
    assert html == ('<ul class="values"><li>2026-01-01: 1</li>'
                    '<li>2026-02-01: 3 — <span class="change-real">real change (up)</span></li>'
                    '<li>&lt;b&gt;: — — <span class="change-within">within &lt;i&gt;normal'
                    '&lt;/i&gt; variation</span></li></ul>')
    # the sparkline's accessible name uses the same texts, with the judgements in words
    svg = sparkline(points[:2], "Shannon", ["1", "3"])
    assert 'aria-label="Shannon: 2026-01-01 1, 2026-02-01 3 (real change up)"' in svg
    # beside a list of them, the name says so instead of reading them a second time
    listed = sparkline(points[:2], "Shannon", ["1", "3"], listed=True)
    assert 'aria-label="Shannon: a plot of 2 values, listed below"' in listed
    assert "<title>Shannon: 2026-01-01 1, 2026-02-01 3 (real change up)</title>" in listed


def test_an_upload_to_another_clinics_visit_keeps_no_file(client, ctx):
    from builders.practice import bearer

    make_user(ctx, "A", "a@a.example")
    make_user(ctx, "B", "b@b.example")
    a = bearer(client, "a@a.example")
    patient = client.post("/api/v1/patients", json={"name": "P"}, headers=a).json()["id"]
    visit = client.post(f"/api/v1/patients/{patient}/visits", json={"visit_date": "2026-01-02"},
                        headers=a).json()["id"]
    b = bearer(client, "b@b.example")
    before = ctx.store.all()
    response = client.post(f"/api/v1/visits/{visit}/uploads", headers=b,
                           data={"kind": "labs"},
                           files={"file": ("LABS.csv", b"sample_id,marker,value,unit\n")})
    assert response.status_code == 404
    assert ctx.store.all() == before


def test_each_visit_shows_its_latest_profile_and_a_pending_ones_job(client, ctx):
    """profile_statuses (the patient page's visit list) against the rows it reads."""
    who = make_user(ctx, "A", "a@a.example")
    with ctx.transaction() as db:
        patient = Patient(clinic_id=who.clinic_id, name="P", name_key="p")
        db.add(patient)
        db.flush()
        visits = [Visit(clinic_id=who.clinic_id, patient_id=patient.id,
                        visit_date=dt.date(2026, 1, 1 + k)) for k in range(6)]
        reference = db.scalar(select(Reference).limit(1))
        db.add_all(visits)
        db.flush()

        def profile(visit, status):
            row = Profile(clinic_id=who.clinic_id, visit_id=visit.id,
                          reference_id=reference.id, status=status)
            db.add(row)
            db.flush()
            return row

        def job(row, status):
            db.add(Job(clinic_id=who.clinic_id, kind="profile", target_id=row.id,
                       status=status))
            db.flush()

        profile(visits[1], "failed")
        profile(visits[1], "done")  # the newer one counts
        profile(visits[2], "done")
        profile(visits[2], "failed")
        late = profile(visits[3], "pending")
        job(late, "failed")
        job(late, "running")  # the newest job of a pending profile counts
        profile(visits[4], "pending")  # no job yet
        done_job = profile(visits[5], "done")
        job(done_job, "running")  # a done profile is done, whatever its jobs
        ids = [v.id for v in visits]
        assert profile_statuses(db, ids) == dict(zip(ids, ["none", "done", "failed", "running",
                                                           "pending", "done"], strict=True))
        assert profile_statuses(db, []) == {}


def test_erasing_a_patient_ends_on_the_list_saying_so_without_the_name(client, ctx):
    make_user(ctx, "A", "owner@a.example")
    csrf = _sign_in(client, "owner@a.example")
    made = client.post("/patients", headers=HTML, follow_redirects=False,
                       data={"name": "Ida Ivy", "csrf_token": csrf})
    patient = made.headers["location"]
    gone = client.post(f"{patient}/erase", headers=HTML, follow_redirects=False,
                       data={"confirm": "Ida Ivy", "csrf_token": csrf})
    assert gone.status_code == 303 and gone.headers["location"] == "/patients?erased=1"
    page = client.get(gone.headers["location"], headers=HTML).text
    assert "The patient's record was erased" in page and "Ida Ivy" not in page
    assert "was erased" not in client.get("/patients", headers=HTML).text


def test_the_visit_page_shows_each_warning_once(client, ctx):
    from builders.practice import bearer, run_jobs
    from gutaxis import io as gio

    make_user(ctx, "A", "a@a.example")
    auth = bearer(client, "a@a.example")
    pid = client.post("/api/v1/patients", json={"name": "Wren"}, headers=auth).json()["id"]
    vid = client.post(f"/api/v1/patients/{pid}/visits", json={"visit_date": "2024-01-10"},
                      headers=auth).json()["id"]
    # a control of the bundled study: it is in the bundled reference (a warning)
    accepted = client.post(f"/api/v1/visits/{vid}/uploads", headers=auth,
                           data={"kind": "microbiome", "sample": "ERR1331826"},
                           files={"file": ("table.biom",
                                           gio.example_dataset().table.read_bytes())})
    assert accepted.status_code == 202, accepted.text
    run_jobs(ctx)
    document = client.get(f"/api/v1/visits/{vid}/profile", headers=auth).json()
    [warning] = [w for w in document["warnings"] if w["code"] == "patient_in_reference"]
    assert f"Warning: {warning['message']}" in document["summary"]["clinician"]
    client.cookies.clear()
    _sign_in(client, "a@a.example")
    page = client.get(f"/visits/{vid}", headers=HTML).text
    shown = warning["message"].replace("'", "&#39;")
    assert page.count(shown) == 1  # in its box; the summary does not repeat it


def test_a_failed_upload_has_a_remove_button_and_a_parsed_one_none(client, ctx):
    from builders.practice import bearer, run_jobs

    make_user(ctx, "A", "a@a.example")
    auth = bearer(client, "a@a.example")
    pid = client.post("/api/v1/patients", json={"name": "Wren"}, headers=auth).json()["id"]
    vid = client.post(f"/api/v1/patients/{pid}/visits", json={"visit_date": "2024-01-10"},
                      headers=auth).json()["id"]
    ids = {}
    for name, text in (("bad.csv", "sample_id,marker,value,unit\nP1,calprotectin,high,ug/g\n"),
                       ("good.csv", "sample_id,marker,value,unit\nP1,calprotectin,85,ug/g\n")):
        ids[name] = client.post(f"/api/v1/visits/{vid}/uploads", headers=auth,
                                data={"kind": "labs"},
                                files={"file": (name, text.encode())}).json()["id"]
    run_jobs(ctx)
    client.cookies.clear()
    csrf = _sign_in(client, "a@a.example")
    page = client.get(f"/visits/{vid}", headers=HTML).text
    assert re.findall(r'action="/uploads/(\d+)/remove"', page) == [str(ids["bad.csv"])]
    removed = client.post(f"/uploads/{ids['bad.csv']}/remove", headers=HTML,
                          follow_redirects=False, data={"csrf_token": csrf})
    assert removed.status_code == 303 and removed.headers["location"] == f"/visits/{vid}#uploads"
    page = client.get(f"/visits/{vid}", headers=HTML).text
    assert "bad.csv" not in page and "good.csv" in page and "/remove" not in page
    # a parsed upload is refused, as a page
    refused = client.post(f"/uploads/{ids['good.csv']}/remove", headers=HTML,
                          data={"csrf_token": csrf})
    assert refused.status_code == 409 and "only a failed upload can be removed" in refused.text


def test_behind_https_every_cookie_is_secure(make_settings):
    # the sign-in form's cookie on /invite was set without Secure
    from fastapi.testclient import TestClient

    from gutaxis.service import create_app

    with TestClient(create_app(make_settings(secure_cookies=True)),
                    base_url="https://testserver") as client:
        make_user(client.app.state.ctx, "A", "a@a.example")
        answers = [client.get("/login"), client.get("/invite"), client.get("/portal/invite"),
                   client.post("/api/v1/session", json={"email": "a@a.example",
                                                        "password": PASSWORD})]
        cookies = [c for r in answers for c in r.headers.get_list("set-cookie")]
        assert len(cookies) >= 3
        for cookie in cookies:
            assert "secure" in {a.strip().lower() for a in cookie.split(";")[1:]}, cookie
