"""Server-rendered pages (Jinja2, plain forms, no JavaScript): the practitioner's side.

Each page calls the same service functions as the API (:mod:`.services`),
within one transaction, and renders a template of ``templates/``.  Forms
carry the session's CSRF token (``csrf_token``; the upload forms in their
query string, because the upload route streams the body itself); the sign-in
and invitation forms, which have no session yet, use a double-submit cookie.
Pages that wait for a job look again in the background (``static/wait.js``, which
keeps what a form holds) or, without JavaScript, refresh themselves.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from html import escape
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gutaxis.formatting import format_value, is_missing
from gutaxis.service.access import (
    ANYONE,
    CLINICIANS,
    OWNERS,
    SIGNED_IN,
    STAFF,
    ClinicHeading,
    Principal,
    client_address,
)
from gutaxis.service.context import AppContext, get_context
from gutaxis.service.db import utcnow
from gutaxis.service.diary_timeline import diary_timeline
from gutaxis.service.errors import Conflict, Invalid, NotAllowed, NotFound, ServiceError
from gutaxis.service.forms import read_upload_form
from gutaxis.service.models import PLAN_STATUSES, Clinic, PlanItem, Upload, User
from gutaxis.service.questionnaire_views import request_rows, score_figures
from gutaxis.service.security import new_token, new_totp_secret, same, totp_uri
from gutaxis.service.services import (
    accounts,
    patients,
    plans,
    profiles,
    questionnaire_scores,
    questionnaires,
    records,
    uploads,
)

__all__ = ["router", "error_page", "templates", "sparkline"]

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))
router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "gutaxis_login_csrf"
#: Carries the address of an account just made from an invitation to the sign-in page
#: (shown there once): the invitation form redirects instead of answering with a page
#: that a reload would post again.
INVITED_COOKIE = "gutaxis_invited"

Ctx = Annotated[AppContext, Depends(get_context)]
Staff = Annotated[Principal, Depends(STAFF)]
Clinician = Annotated[Principal, Depends(CLINICIANS)]
Owner = Annotated[Principal, Depends(OWNERS)]
Pending = Annotated[Principal, Depends(SIGNED_IN)]
Anyone = Annotated[None, Depends(ANYONE)]


def _fmt(value: Any, digits: int = 4) -> str:
    """Format a number for a page: 4 significant digits, "—" for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return {"inf": "∞", "-inf": "−∞"}.get(value, value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return "∞" if value > 0 else "−∞" if value < 0 else "—"
    if value == 0:
        return "0"
    if digits == 1:
        return f"{value:.1f}"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}" if abs(value) < 1e9 else f"{value:.3g}"


def measure_text(value: Any, unit: str | None = None, censored: str | None = None) -> str:
    """Format a profile's measure as its report does: three significant digits.

    The page, the PDF and the summary write a value through the same function
    (:func:`gutaxis.formatting.format_value`); only "none" reads "—" here.

    Examples
    --------
    >>> measure_text(0.0009087, "fraction"), measure_text(12.5, "pg/mL"), measure_text(None)
    ('0.091 %', '12.5 pg/mL', '—')
    >>> measure_text(131.64, "pg/mL", "<")
    '<132 pg/mL'
    """
    if is_missing(value):
        return _fmt(value)
    return format_value(value, unit or "", censored)


def series_texts(points: list[dict[str, Any]], unit: str) -> tuple[str, list[str]]:
    """Return the unit a timeline plot names and each point's value as it shows it.

    A fraction is shown as a percentage, as the visit page and the summary
    write it; other values bare (the plot's caption carries the unit); a value the
    lab gave only as a limit keeps its "<" or ">".

    Examples
    --------
    >>> series_texts([{"value": 0.0009087}, {"value": None}], "fraction")
    ('%', ['0.091 %', '—'])
    >>> series_texts([{"value": 131.6}, {"value": 0.5, "censored": "<"}], "pg/mL")
    ('pg/mL', ['132', '<0.5'])
    """
    fraction = unit == "fraction"  # a percentage in the text; other units in the caption
    return ("%" if fraction else unit), [
        measure_text(p.get("value"), unit if fraction else None, p.get("censored"))
        for p in points]


def diary_number(value: Any) -> str:
    """Write a diary's day mean (a 0–10 score, a Bristol type, hours) as people write it.

    Examples
    --------
    >>> diary_number(6.0), diary_number(5.5), diary_number(7.25), diary_number(16 / 3)
    ('6', '5.5', '7.25', '5.33')
    """
    if not isinstance(value, int | float) or isinstance(value, bool) \
            or not math.isfinite(value):
        return _fmt(value)
    return f"{value:.2f}".rstrip("0").rstrip(".")


_LINKABLE = re.compile(r"(https?://[^\s<>\"]+|doi:\s*10\.\d{4,9}/[^\s<>\"]+)")  # one group


def linkify(text: Any) -> Markup:
    """Escape a source's citation and make its web address or DOI a link.

    Examples
    --------
    >>> str(linkify("Lacy BE et al. 2021. doi:10.14309/ajg.0000000000001036."))
    'Lacy BE et al. 2021. <a href="https://doi.org/10.14309/ajg.0000000000001036">doi:10.14309/ajg.0000000000001036</a>.'
    >>> str(linkify("<b> https://www.ifm.org/a?b=1&c=2"))
    '&lt;b&gt; <a href="https://www.ifm.org/a?b=1&amp;c=2">https://www.ifm.org/a?b=1&amp;c=2</a>'
    >>> str(linkify("<https://example.org/a>"))
    '&lt;<a href="https://example.org/a">https://example.org/a</a>&gt;'
    """
    parts = []
    for index, piece in enumerate(_LINKABLE.split(str(text))):
        if index % 2 == 0:  # the text between links
            parts.append(str(escape(piece)))
            continue
        tail = ""
        while piece and piece[-1] in ".,;:)]'":
            piece, tail = piece[:-1], piece[-1] + tail
        href = piece if piece.startswith("http") else \
            "https://doi.org/" + piece.removeprefix("doi:").strip()
        parts.append(f'<a href="{escape(href)}">{escape(piece)}</a>{escape(tail)}')
    return Markup("".join(parts))


def lab_number(value: Any) -> str:
    """Write a lab's number as the lab gave it: no digits added (85, not 85.00).

    Examples
    --------
    >>> lab_number(85.0), lab_number(2.1), lab_number(0.5), lab_number(1234567.0)
    ('85', '2.1', '0.5', '1,234,567')
    >>> lab_number(0.00005), lab_number(123456.7), lab_number(1e-9)
    ('0.00005', '123457', '0.000000001')
    """
    if not isinstance(value, int | float) or isinstance(value, bool) \
            or not math.isfinite(value):
        return _fmt(value)
    if abs(value) >= 1e6:
        return f"{value:,.0f}"
    text = f"{value:.6g}"
    if "e" in text:  # a small value: its six digits written out, not 5e-05
        decimals = 5 - math.floor(math.log10(abs(value)))
        text = f"{float(text):.{decimals}f}".rstrip("0").rstrip(".")
    return text


templates.env.filters["fmt"] = _fmt
templates.env.filters["lab_number"] = lab_number
templates.env.filters["linkify"] = linkify
templates.env.filters["diary_number"] = diary_number
templates.env.filters["measure"] = measure_text
templates.env.globals["latest_birth_date"] = patients.latest_birth_date


def sparkline(points: list[dict[str, Any]], label: str, texts: list[str] | None = None,
              *, listed: bool = False) -> str:
    """Draw one measure's values across visits as a small inline SVG.

    Parameters
    ----------
    points : list of dict
        ``{date, value, change}`` oldest first (``value`` may be None).
    label : str
        What the plot shows (its accessible name).
    texts : list of str, optional
        Each point's value as the page shows it (default: formatted here).
    listed : bool, default False
        The page lists the values with their judgements beside the plot
        (:func:`value_list`): the plot's accessible name then says so instead
        of reading them all a second time.

    Returns
    -------
    str
        An ``<svg>`` element: the values left to right, the highest and the
        lowest written at the left edge (each plot has its own scale); a
        change judged real is a red ring, one within normal variation a green
        dot, others dark grey.

    Examples
    --------
    >>> svg = sparkline([{"date": "2026-01-01", "value": 1.0, "change": ""},
    ...                  {"date": "2026-02-01", "value": 2.0, "change": "real change up"}],
    ...                 "Shannon")
    >>> svg.count("<circle"), 'aria-label="Shannon' in svg
    (2, True)
    """
    width, height, pad = 240, 70, 10
    values = [p["value"] for p in points if isinstance(p.get("value"), int | float)
              and math.isfinite(p["value"])]
    if texts is None:
        texts = [measure_text(p.get("value")) for p in points]
    title = escape(f"{label}: " + ", ".join(
        f"{p['date']} {text}" + (f" ({p['change']})" if p.get("change") else "")
        for p, text in zip(points, texts, strict=True)))
    name = (escape(f"{label}: a plot of {len(points)} value{'s' if len(points) != 1 else ''}"
                   ", listed below") if listed else title)
    head = (f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{name}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f3f6f9"/>')
    if not values:
        return head + (f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                       'font-size="12" fill="#4a5561">no value</text></svg>')
    low, high = min(values), max(values)
    span = (high - low) or (abs(high) or 1.0)
    gutter = 72  # the scale's two labels: nine characters ("0.0001676") at 10 px
    step = (width - gutter - pad) / max(1, len(points) - 1)
    coords = []
    scale: dict[float, str] = {}
    for index, point in enumerate(points):
        value = point.get("value")
        if not isinstance(value, int | float) or not math.isfinite(value):
            continue
        x = gutter + index * step if len(points) > 1 else (gutter + width - pad) / 2
        y = height - pad - (value - (low if high != low else low - span / 2)) / span * (
            height - 2 * pad)
        coords.append((x, y, point.get("change") or ""))
        if value in (low, high):
            scale.setdefault(y, texts[index])
    body = "".join(f'<text x="{gutter - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="10" '
                   f'fill="#4a5561">{escape(text)}</text>' for y, text in scale.items())
    body += (f'<line x1="{gutter - 4}" y1="{pad}" x2="{gutter - 4}" y2="{height - pad}" '
             'stroke="#c9d1d9"/>')
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
    body += (f'<polyline points="{path}" fill="none" stroke="#0b5cad" stroke-width="2"/>'
             if len(coords) > 1 else "")
    for x, y, change in coords:
        if change.startswith("real"):
            body += (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="#fff" stroke="#a1161b" '
                     'stroke-width="3"/>')
        elif change:
            body += f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1a6b32"/>'
        else:
            body += f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1b1f24"/>'
    return head + body + "</svg>"


def value_list(points: list[dict[str, Any]], texts: list[str]) -> Markup:
    """List one measure's values with their change judgements (the text beside a sparkline).

    Built here rather than in the template: the timeline page lists a hundred
    values or more, and a Jinja loop over them was a fifth of the page's CPU.

    Parameters
    ----------
    points : list of dict
        ``{date, value, change}`` oldest first.
    texts : list of str
        Each value as shown (:func:`measure_text`).

    Returns
    -------
    Markup
        ``<ul class="values">``, every text escaped.

    Examples
    --------
    >>> html = str(value_list([{"date": "2026-01-01", "change": "real change up"}], ["1.5"]))
    >>> html.removeprefix('<ul class="values"><li>').removesuffix("</li></ul>")
    '2026-01-01: 1.5 — <span class="change-real">real change (up)</span>'
    """
    items = []
    for point, text in zip(points, texts, strict=True):
        change = point.get("change") or ""
        item = f"<li>{escape(str(point['date']))}: {escape(text)}"
        if change:
            kind = "change-real" if change.startswith("real") else "change-within"
            direction = change.removeprefix("real change ")
            if kind == "change-real" and direction != change and "(" not in direction:
                change = f"real change ({direction})"  # as the visit page writes it
            item += f' — <span class="{kind}">{escape(change)}</span>'
        items.append(item + "</li>")
    return Markup('<ul class="values">' + "".join(items) + "</ul>")


def _page_clinic(db: Session | None, who: Principal | None) -> ClinicHeading | Clinic | None:
    # read with the principal when the request was authenticated (no query here); asked of
    # the database for a principal made without it
    if who is None:
        return None
    if who.clinic is not None:
        return who.clinic
    return db.get(Clinic, who.clinic_id) if db is not None else None


def render(request: Request, name: str, db: Session | None, who: Principal | None,
           status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render the page template ``name`` with who is signed in and their clinic's heading.

    Every page of the practice and the portal is rendered here.
    """
    return templates.TemplateResponse(
        request, name, {"who": who, "clinic": _page_clinic(db, who), **context},
        status_code=status_code)


def _back(request: Request) -> str | None:
    referer = request.headers.get("referer")
    if not referer:
        return None
    parsed = urlparse(referer)
    if parsed.netloc and parsed.netloc != request.url.netloc:
        return None
    return parsed.path + (f"?{parsed.query}" if parsed.query else "")


#: The forms' labels of the fields that errors name (the API's messages keep the names).
FIELD_LABELS = {
    "name": "Name", "birth_date": "Date of birth", "sex": "Sex", "visit_date": "Date",
    "notes": "Notes", "email": "E-mail", "password": "Password", "role": "Role",
    "code": "Code", "title": "What", "step": "5R step", "on": "On", "status": "Status",
    "confirm": "Confirmation", "file": "File", "table": "Table", "metadata": "Metadata",
    "sample": "Sample id", "kind": "Kind", "reference": "Reference", "where": "Filter",
    "elimination_start": "Elimination starts", "elimination_days": "Elimination days",
    "challenge_days": "Days per challenge", "washout_min_days": "Washout",
    "repeats": "Challenges of each group", "shams": "Sham capsules", "groups": "Groups",
    "template": "Template", "primary_symptoms": "Primary symptoms",
    "time_zone": "Time zone", "due": "Due", "identifier": "Identifier",
    "identifiers": "Identifiers", "days": "Days", "questionnaire": "Questionnaire",
    # the portal's diary
    "at": "When", "text": "What you ate or drank", "kg": "Weight (kg)", "hours": "Hours of sleep",
    "quality": "How well you slept", "score": "Score", "bristol": "Stool type",
    "portion": "How much", "dose": "How much", "scores": "Scores",
}
_FIELD_PREFIX = re.compile(r"([a-z][a-z_]*)(: | must )")


def page_message(message: str) -> str:
    """Return an error's message as a page shows it: the field's label for its name.

    Examples
    --------
    >>> page_message("birth_date: 1850-01-01 is outside 1900-01-01 … 2027-12-08")
    'Date of birth: 1850-01-01 is outside 1900-01-01 … 2027-12-08'
    >>> page_message("name: a patient needs a name")
    'Name: a patient needs a name'
    >>> page_message("elimination_days must be a whole number from 1 to 120; got 500")
    'Elimination days must be a whole number from 1 to 120; got 500'
    >>> page_message("table.biom: line 3: not a number")
    'table.biom: line 3: not a number'
    """
    match = _FIELD_PREFIX.match(message)
    if match is None or match.group(1) not in FIELD_LABELS:
        return message
    return FIELD_LABELS[match.group(1)] + match.group(2) + message[match.end():]


def error_page(request: Request, error: ServiceError) -> Response:
    """Render an error as a page (the API gives the same error as JSON).

    The message names the field by its label in the form; the link back
    returns to the form as it was left (the browser's Back), what was typed
    still in it.
    """
    headings = {403: "Not allowed", 404: "Not found", 409: "Already there",
                422: "Please check what was entered", 429: "Too many attempts"}
    # not for a 500: whatever failed may be what reading the session needs
    who = _staff_signed_in(request) if error.status not in (401, 500) else None
    return templates.TemplateResponse(
        request, "error.html", {"who": who, "clinic": _page_clinic(None, who),
                                "heading": headings.get(error.status, "Something went wrong"),
                                "title": "Error: " + headings.get(error.status,
                                                                  "Something went wrong"),
                                "message": page_message(error.message), "back": _back(request),
                                "back_label": "Back to the form" if request.method == "POST"
                                else "Go back",
                                "home": ("/portal", "Your record")
                                if request.url.path.startswith("/portal")
                                else ("/patients", "Patients")},
        status_code=error.status)


def _staff_signed_in(request: Request) -> Principal | None:
    """Return the member of staff signed in, so that an error page keeps the menu; else None.

    A patient's error page (the portal has its own menu) and a request that
    is not signed in get none.
    """
    from gutaxis.service.access import signed_in_or_none

    who = signed_in_or_none(request.app.state.ctx, request)
    return who if who is not None and who.patient_id is None else None


def form_id(value: str) -> int | None:
    """Read an id a form sent back (ASCII digits only), None when it is not one.

    Examples
    --------
    >>> form_id("12"), form_id(" 7 "), form_id("²"), form_id("-1"), form_id("9" * 30)
    (12, 7, None, None, None)
    """
    value = value.strip()
    return int(value) if re.fullmatch(r"[0-9]{1,18}", value) else None


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/patients"


# ------------------------------------------------------------------ sign in and out
def _login_page(request: Request, *, error: str = "", email: str = "", next_url: str = "",
                status_code: int = 200, notice: str = "") -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    response = render(request, "login.html", None, None, status_code, title="Sign in",
                      error=error, email=email, next=next_url, login_csrf=token,
                      notice=notice)
    ctx: AppContext = request.app.state.ctx
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=ctx.settings.secure_cookies, path="/")
    return response


def _check_login_csrf(request: Request, token: str) -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not token or not same(cookie, token):
        raise NotAllowed("the sign-in form is out of date or was not sent by this site; "
                         "reload the page and try again")


@router.get("/", response_class=HTMLResponse)
def home(_: Anyone) -> Response:
    """Go to the patients."""
    return _redirect("/patients")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, _: Anyone, next: str = "") -> Response:
    """Show the sign-in form (after an accepted invitation: with the address to use)."""
    invited = request.cookies.get(INVITED_COOKIE, "")[:320]
    if "@" not in invited:
        return _login_page(request, next_url=_safe_next(next))
    response = _login_page(request, next_url=_safe_next(next), email=invited,
                           notice=f"Your account is ready. Sign in with {invited} (the "
                                  "address you were invited with) and the password you chose.")
    response.delete_cookie(INVITED_COOKIE, path="/login")
    return response


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, ctx: Ctx, _: Anyone, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "") -> Response:
    """Check the password; go on to the second factor or the page asked for."""
    _check_login_csrf(request, csrf_token)
    with ctx.transaction() as db:
        outcome = accounts.sign_in(db, ctx.settings, email[:320], password[:1024],
                                   client_address(request))
    if outcome.error is not None:
        status = outcome.error.status if isinstance(outcome.error, ServiceError) else 401
        return _login_page(request, error=str(outcome.error), email=email[:320],
                           next_url=_safe_next(next), status_code=status)
    from gutaxis.service.api import set_session_cookie

    target = _safe_next(next)
    if outcome.role == "patient" and not target.startswith("/portal"):
        target = "/portal"  # a patient's pages are the portal's
    response = _redirect("/login/code?next=" + target if outcome.needs_code else target)
    set_session_cookie(response, ctx, outcome.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.get("/login/code", response_class=HTMLResponse)
def code_form(request: Request, who: Pending, next: str = "") -> Response:
    """Ask for the second factor's code."""
    return render(request, "code.html", None, None, title="Second factor",
                  csrf=who.csrf_token, error="", next=_safe_next(next))


@router.post("/login/code", response_class=HTMLResponse)
def code(request: Request, who: Pending, ctx: Ctx, code: Annotated[str, Form()] = "",
         next: str = "") -> Response:
    """Check the code and finish signing in."""
    with ctx.transaction() as db:
        refused = accounts.second_factor(db, ctx.settings, who, code[:20])
    if refused is not None:
        return render(request, "code.html", None, None, refused.status, title="Second factor",
                      csrf=who.csrf_token, error=refused.message, next=_safe_next(next))
    return _redirect(_safe_next(next))


@router.post("/logout")
def logout(who: Pending, ctx: Ctx) -> Response:
    """Sign out."""
    from gutaxis.service.access import SESSION_COOKIE

    with ctx.transaction() as db:
        accounts.sign_out(db, who)
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/invite", response_class=HTMLResponse)
def invite_form(request: Request, _: Anyone, code: str = "") -> Response:
    """Show the form that accepts an invitation."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    response = render(request, "accept.html", None, None, title="Accept an invitation",
                      login_csrf=token, code=code[:200], error="")
    ctx: AppContext = request.app.state.ctx
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=ctx.settings.secure_cookies, path="/")
    return response


@router.post("/invite", response_class=HTMLResponse)
def accept_invite(request: Request, ctx: Ctx, _: Anyone, code: Annotated[str, Form()] = "",
                  password: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    """Make the invited account, then sign in (the form says with which address)."""
    _check_login_csrf(request, csrf_token)
    try:
        with ctx.transaction() as db:
            user = accounts.accept_invitation(db, code[:200], password[:1024], name[:200],
                                              client_address(request))
            email = user.email
    except ServiceError as exc:
        return render(request, "accept.html", None, None, exc.status,
                      title="Accept an invitation", login_csrf=csrf_token, code=code[:200],
                      error=page_message(exc.message))
    response = _redirect("/login")
    response.set_cookie(INVITED_COOKIE, email, max_age=600, httponly=True, samesite="strict",
                        secure=ctx.settings.secure_cookies, path="/login")
    return response


# ------------------------------------------------------------------ patients
@router.get("/patients", response_class=HTMLResponse)
def patient_list(request: Request, who: Staff, ctx: Ctx,
                 q: Annotated[str, Query(max_length=200)] = "",
                 offset: Annotated[int, Query(ge=0, le=10 ** 9)] = 0,
                 erased: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    """List and search the clinic's patients; the new-patient form."""
    limit = 50
    with ctx.transaction() as db:
        rows, total = patients.search_patients(db, who, q, limit=limit, offset=offset)
        return render(request, "patients.html", db, who, title="Patients", patients=rows,
                      total=total, q=q, offset=offset, limit=limit, sexes=patients.SEXES,
                      patient=None, erased=bool(erased))


def _patient_values(name: str, birth_date: str, sex: str, contact: str, conditions: str,
                    identifiers: str) -> dict[str, Any]:
    return {"name": name, "birth_date": birth_date or None, "sex": sex or "unknown",
            "contact": contact, "conditions": conditions, "identifiers": identifiers[:20000]}


def _entered(values: dict[str, Any]) -> dict[str, Any]:
    """Return the patient form's fields as entered, to show again with its error."""
    return {**values, "birth_date": values["birth_date"] or ""}


@router.post("/patients")
def patient_create(request: Request, who: Staff, ctx: Ctx, name: Annotated[str, Form()] = "",
                   birth_date: Annotated[str, Form()] = "", sex: Annotated[str, Form()] = "",
                   contact: Annotated[str, Form()] = "",
                   conditions: Annotated[str, Form()] = "",
                   identifiers: Annotated[str, Form()] = "") -> Response:
    """Create a patient, then show them; a refused form comes back as it was filled in."""
    values = _patient_values(name, birth_date, sex, contact, conditions, identifiers)
    try:
        with ctx.transaction() as db:
            patient = patients.create_patient(db, who, values)
            return _redirect(f"/patients/{patient.id}")
    except (Invalid, Conflict) as exc:
        with ctx.sessions() as db:
            return render(request, "patient_new.html", db, who, exc.status,
                          title="New patient", patient=None, sexes=patients.SEXES,
                          entered=_entered(values), form_error=page_message(exc.message))


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(request: Request, patient_id: int, who: Staff, ctx: Ctx) -> Response:
    """Show a patient: details, visits with their profile status, links to timeline and plan."""
    with ctx.transaction() as db:
        patient = patients.get_patient(db, who, patient_id)
        counts = dict(db.execute(select(Upload.visit_id, func.count()).where(
            Upload.visit_id.in_([v.id for v in patient.visits])).group_by(Upload.visit_id))
            .all()) if patient.visits else {}
        statuses = profiles.profile_statuses(db, [v.id for v in patient.visits])
        visits = [{"visit": visit, "uploads": counts.get(visit.id, 0),
                   "profile": statuses[visit.id]} for visit in patient.visits]
        plan_count = db.scalar(select(func.count()).select_from(PlanItem).where(
            PlanItem.patient_id == patient.id)) or 0
        from gutaxis.service.services import diary, diary_text, portal

        # the portal and the shared diary (never a private entry): part of patient.read
        shared = diary.shared_entries(db, who, patient.id, limit=diary_text.PATIENT_PAGE_ENTRIES,
                                      action="")
        # the questionnaires sent and their latest scores: part of patient.read
        asked = questionnaires.patient_requests(db, who, patient.id, action="")
        return render(request, "patient.html", db, who, title=patient.name, patient=patient,
                      visits=visits, plan_count=plan_count, today=dt.date.today(),
                      portal=portal.portal_status(db, who, patient.id, action=""),
                      diary_groups=diary_text.day_groups(shared, diary_text.food_names()),
                      questionnaire_rows=request_rows(asked),
                      questionnaire_choices=questionnaires.available(db, who),
                      can_plan=who.role in CLINICIANS.roles)


@router.get("/patients/{patient_id}/edit", response_class=HTMLResponse)
def patient_edit_form(request: Request, patient_id: int, who: Staff, ctx: Ctx) -> Response:
    """Show the form that edits a patient's details."""
    with ctx.transaction() as db:
        patient = patients.get_patient(db, who, patient_id)
        return render(request, "patient_edit.html", db, who, title=f"Edit {patient.name}",
                      patient=patient, sexes=patients.SEXES)


@router.post("/patients/{patient_id}/edit")
def patient_edit(request: Request, patient_id: int, who: Staff, ctx: Ctx,
                 name: Annotated[str, Form()] = "",
                 birth_date: Annotated[str, Form()] = "", sex: Annotated[str, Form()] = "",
                 contact: Annotated[str, Form()] = "",
                 conditions: Annotated[str, Form()] = "",
                 identifiers: Annotated[str, Form()] = "") -> Response:
    """Save a patient's details; a refused form comes back as it was filled in."""
    values = _patient_values(name, birth_date, sex, contact, conditions, identifiers)
    try:
        with ctx.transaction() as db:
            patients.update_patient(db, who, patient_id, values)
    except (Invalid, Conflict) as exc:
        with ctx.transaction() as db:
            patient = patients.get_patient(db, who, patient_id)
            return render(request, "patient_edit.html", db, who, exc.status,
                          title=f"Edit {patient.name}", patient=patient, sexes=patients.SEXES,
                          entered=_entered(values), form_error=page_message(exc.message))
    return _redirect(f"/patients/{patient_id}")


@router.post("/patients/{patient_id}/visits")
def visit_create(patient_id: int, who: Staff, ctx: Ctx,
                 visit_date: Annotated[str, Form()] = "",
                 notes: Annotated[str, Form()] = "") -> Response:
    """Add a visit, then show it."""
    with ctx.transaction() as db:
        visit = patients.create_visit(db, who, patient_id, visit_date, notes)
        return _redirect(f"/visits/{visit.id}")


# ------------------------------------------------------------------ visits
def _marker_names() -> dict[str, str]:
    """Map the catalogue's marker ids (how lab values are stored) to their names."""
    from gutaxis.knowledge import load_marker_catalog

    return {entry.id: entry.name for entry in load_marker_catalog().markers}


def _evidence_level(level: Any) -> dict[str, Any]:
    """Say what an option's evidence level means, and whether it argues against the option.

    Both come from the knowledge base (``evidence_levels``, ``unfavourable_levels``
    of ``interventions.yaml``): an option a guideline advises against is shown as
    such, not like one it supports.
    """
    from gutaxis.knowledge import load_interventions

    catalogue = load_interventions()
    return {"level_text": catalogue.evidence_levels.get(str(level), ""),
            "unfavourable": level in catalogue.unfavourable_levels}


def _why(triggers: list[str], doc: dict[str, Any]) -> list[str]:
    """Say what selected an option (``link:barrier=disturbed`` → ``Gut barrier: disturbed``)."""
    return plans.option_reasons(triggers, doc)


def _when(stamp: Any) -> str:
    """Write an ISO time as ``2026-12-05 08:14 UTC``."""
    try:
        moment = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp or "")
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@router.get("/visits/{visit_id}", response_class=HTMLResponse)
def visit_page(request: Request, visit_id: int, who: Staff, ctx: Ctx) -> Response:
    """Show a visit: uploads and their state, lab values, the profile and its options."""
    with ctx.transaction() as db:
        visit = patients.get_visit(db, who, visit_id)
        state = profiles.profile_state(db, who, visit_id)
        rows = uploads.visit_uploads(db, visit.id)
        doc = None
        try:
            doc = profiles.profile_document(db, ctx.store, who, visit_id,
                                            action="")  # part of the visit.read above
        except ServiceError:
            doc = None
        options = [{**option, "why": _why(option.get("triggered_by") or [], doc),
                    **_evidence_level(option.get("evidence_level"))}
                   for option in plans.profile_options(doc)] if doc else []
        planned = set(db.scalars(select(PlanItem.option_id).where(
            PlanItem.patient_id == visit.patient_id, PlanItem.option_id != "")))
        refresh = state.status in ("pending", "running") or any(
            u.status == "pending" for u in rows)
        return render(request, "visit.html", db, who, title=f"Visit {visit.visit_date}",
                      visit=visit, patient=visit.patient, uploads=rows,
                      labs=uploads.visit_labs(db, visit.id), state=state, doc=doc,
                      marker_names=_marker_names(),
                      computed=_when(doc.get("created")) if doc else "",
                      options=options, planned=planned, refresh=refresh,
                      can_plan=who.role in CLINICIANS.roles,
                      has_table=any(u.kind == "microbiome" and u.status == "parsed"
                                     for u in rows),
                      references=profiles.references(db, who))


@router.post("/visits/{visit_id}/edit")
def visit_edit(visit_id: int, who: Staff, ctx: Ctx, visit_date: Annotated[str, Form()] = "",
               notes: Annotated[str, Form()] = "") -> Response:
    """Save a visit's date and notes."""
    with ctx.transaction() as db:
        patients.update_visit(db, who, visit_id, visit_date, notes)
    return _redirect(f"/visits/{visit_id}")


def _check_visit(ctx: AppContext, who: Principal, visit_id: int) -> None:
    with ctx.transaction() as db:
        patients.get_visit(db, who, visit_id, action="")


@router.post("/visits/{visit_id}/uploads")
async def visit_upload(request: Request, visit_id: int, who: Staff, ctx: Ctx) -> Response:
    """Receive a file for the visit (streamed into the store), then show the visit."""
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(_check_visit, ctx, who, visit_id)  # 404 before the body is read
    with ctx.store.holding():  # its files are kept until its rows are committed
        form = await read_upload_form(request, ctx.store, ctx.settings.max_upload_bytes)

        def save() -> None:
            with ctx.transaction() as db:
                uploads.receive_upload(db, ctx.store, who, visit_id, form.fields.get("kind", ""),
                                       form.filename, sample=form.fields.get("sample"),
                                       limit=ctx.settings.max_upload_bytes, refused=form.refused,
                                       stored=form.stored,
                                       skip_unknown=form.fields.get("skip_unknown") == "on")

        await run_in_threadpool(save)
    return _redirect(f"/visits/{visit_id}#uploads")


@router.post("/uploads/{upload_id}/remove")
def upload_remove(upload_id: int, who: Staff, ctx: Ctx) -> Response:
    """Remove a failed upload and its file, then show its visit."""
    with ctx.transaction() as db:
        visit_id, shas = uploads.remove_failed_upload(db, who, upload_id)
    uploads.remove_unnamed_files(ctx.store, ctx.reads, shas)
    return _redirect(f"/visits/{visit_id}#uploads")


@router.post("/visits/{visit_id}/profile")
def visit_reprofile(visit_id: int, who: Clinician, ctx: Ctx,
                    reference_id: Annotated[int | None, Form()] = None) -> Response:
    """Compute the visit's profile again against the chosen reference."""
    with ctx.transaction() as db:
        profiles.request_profile(db, who, visit_id, reference_id)
    return _redirect(f"/visits/{visit_id}#profile")


@router.get("/visits/{visit_id}/profile.html", response_class=HTMLResponse)
def visit_profile_html(visit_id: int, who: Staff, ctx: Ctx) -> Response:
    """Show the full profile report (the self-contained page ``gutaxis profile`` writes)."""
    with ctx.transaction() as db:
        data, _ = profiles.profile_file(db, ctx.store, who, visit_id, "html")
    return HTMLResponse(data, headers={"Content-Security-Policy":
                                       "default-src 'none'; style-src 'unsafe-inline'; "
                                       "img-src data:; sandbox"})


@router.get("/visits/{visit_id}/profile.json")
def visit_profile_json(visit_id: int, who: Staff, ctx: Ctx) -> Response:
    """Download the visit's ``profile.json``."""
    with ctx.transaction() as db:
        data, _ = profiles.profile_file(db, ctx.store, who, visit_id, "json")
    return Response(data, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="visit-{visit_id}-profile.json"'})


# ------------------------------------------------------------------ timeline and plan
@router.get("/patients/{patient_id}/timeline", response_class=HTMLResponse)
def timeline_page(request: Request, patient_id: int, who: Staff, ctx: Ctx) -> Response:
    """Show every measure across the visits as small plots, with the change judgements."""
    with ctx.transaction() as db:
        patient = patients.get_patient(db, who, patient_id, action="")
        series = []
        measures = profiles.timeline(db, who, patient_id)
        profiled = len({p["visit_id"] for s in measures for p in s.points})
        for s in measures:
            unit, texts = series_texts(s.points, s.unit)
            series.append({"label": s.label, "group": s.group, "unit": unit,
                           "svg": sparkline(s.points, s.label, texts, listed=True),
                           "value_list": value_list(s.points, texts)})
        # part of patient.timeline
        scores = questionnaire_scores.score_series(db, who, patient_id, action="")
        return render(request, "timeline.html", db, who, title=f"Timeline of {patient.name}",
                      patient=patient, series=series, profiled=profiled,
                      qfigures=score_figures(scores),
                      dtl=diary_timeline(db, who, patient_id, for_patient=False))


@router.get("/patients/{patient_id}/plan", response_class=HTMLResponse)
def plan_page(request: Request, patient_id: int, who: Staff, ctx: Ctx) -> Response:
    """Show the patient's plan with each item's history; status and own-item forms."""
    with ctx.transaction() as db:
        items = plans.plan_items(db, who, patient_id)
        patient = patients.get_patient(db, who, patient_id, action="")
        return render(request, "plan.html", db, who, title=f"Plan of {patient.name}",
                      patient=patient, items=items, statuses=PLAN_STATUSES,
                      steps=plans.STEPS, today=dt.date.today(),
                      can_plan=who.role in CLINICIANS.roles)


@router.post("/patients/{patient_id}/plan")
def plan_add(patient_id: int, who: Clinician, ctx: Ctx,
             visit_id: Annotated[int | None, Form()] = None,
             option_id: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "",
             step: Annotated[str, Form()] = "other",
             details: Annotated[str, Form()] = "") -> Response:
    """Add an option of a visit's profile, or the practitioner's own item."""
    with ctx.transaction() as db:
        if option_id and visit_id is not None:
            visit = patients.get_visit(db, who, visit_id, action="")
            if visit.patient_id != patient_id:
                raise NotFound(f"patient {patient_id} has no visit {visit_id}")
            plans.add_option(db, ctx.store, who, visit_id, option_id[:100])
        else:
            plans.add_own(db, who, patient_id, title, step, details)
    return _redirect(f"/patients/{patient_id}/plan")


@router.post("/plan-items/{item_id}/status")
def plan_status(item_id: int, who: Clinician, ctx: Ctx, status: Annotated[str, Form()] = "",
                note: Annotated[str, Form()] = "", on: Annotated[str, Form()] = ""
                ) -> Response:
    """Change a plan item's status (kept in its history)."""
    with ctx.transaction() as db:
        item = plans.change_status(db, who, item_id, status, note, on or None)
        return _redirect(f"/patients/{item.patient_id}/plan")


@router.get("/patients/{patient_id}/plan/print", response_class=HTMLResponse)
def plan_print(request: Request, patient_id: int, who: Staff, ctx: Ctx) -> Response:
    """Show the plan laid out for the patient (proposed and active items, printable)."""
    with ctx.transaction() as db:
        items = plans.plan_items(db, who, patient_id)
        patient = patients.get_patient(db, who, patient_id, action="plan.print")
        active = []
        for item in items:
            if item.status not in ("proposed", "active"):
                continue
            since = next((e.on for e in reversed(item.events) if e.status == item.status),
                         None)
            active.append({"title": item.title, "status": item.status, "step": item.step,
                           "details": item.details, "own": item.own, "since": since})
        steps = [("remove", "Remove"), ("replace", "Replace"), ("reinoculate", "Reinoculate"),
                 ("repair", "Repair"), ("rebalance", "Rebalance"), ("other", "Other")]
        return render(request, "plan_print.html", db, who, patient=patient, active=active,
                      steps=steps, today=dt.date.today())


# ------------------------------------------------------------------ erase, audit, account
@router.get("/patients/{patient_id}/erase", response_class=HTMLResponse)
def erase_form(request: Request, patient_id: int, who: Owner, ctx: Ctx) -> Response:
    """Ask the owner to confirm an erasure by typing the patient's name."""
    with ctx.transaction() as db:
        patient = patients.get_patient(db, who, patient_id)
        return render(request, "erase.html", db, who, title=f"Erase {patient.name}",
                      patient=patient)


@router.post("/patients/{patient_id}/erase")
def erase(patient_id: int, who: Owner, ctx: Ctx, confirm: Annotated[str, Form()] = ""
          ) -> Response:
    """Erase the patient (rows, then files), then go to the patients."""
    with ctx.transaction() as db:
        shas = records.erase_patient(db, ctx.store, who, patient_id, confirm)
    uploads.remove_unnamed_files(ctx.store, ctx.reads, shas)
    return _redirect("/patients?erased=1")  # no name in the address: addresses get logged


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, who: Owner, ctx: Ctx,
               offset: Annotated[int, Query(ge=0, le=10 ** 9)] = 0) -> Response:
    """Show the clinic's audit log, newest first, and whether its chain is intact."""
    limit = 100
    with ctx.transaction() as db:
        rows, problems = records.audit_page(db, who, limit=limit, offset=offset)
        return render(request, "audit.html", db, who, title="Audit log", rows=rows,
                      problems=problems, offset=offset, limit=limit)


def _account(request: Request, db: Session, who: Principal, new_token_value: str = ""
             ) -> HTMLResponse:
    user = db.get(User, who.user_id)
    assert user is not None
    secret = new_totp_secret()
    return render(request, "account.html", db, who, title="Your account",
                  tokens=accounts.list_tokens(db, who), has_totp=user.totp_secret is not None,
                  totp_secret=secret, totp_uri=totp_uri(secret, user.email),
                  new_token=new_token_value, now=utcnow())


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, who: Staff, ctx: Ctx) -> Response:
    """Show the account: second factor and personal access tokens."""
    with ctx.transaction() as db:
        return _account(request, db, who)


@router.post("/account/tokens", response_class=HTMLResponse)
def account_token(request: Request, who: Staff, ctx: Ctx,
                  name: Annotated[str, Form()] = "API token",
                  days: Annotated[int, Form()] = 90) -> Response:
    """Make a personal access token and show it once."""
    with ctx.transaction() as db:
        token, _ = accounts.create_token(db, who, name, days)
        return _account(request, db, who, token)


@router.post("/account/tokens/{token_id}/revoke")
def account_revoke(token_id: int, who: Staff, ctx: Ctx) -> Response:
    """Revoke a token."""
    with ctx.transaction() as db:
        accounts.revoke_token(db, who, token_id)
    return _redirect("/account")


@router.post("/account/totp")
def account_totp(who: Staff, ctx: Ctx, secret: Annotated[str, Form()] = "",
                 code: Annotated[str, Form()] = "") -> Response:
    """Turn the second factor on (the code proves the app holds the secret)."""
    with ctx.transaction() as db:
        accounts.enable_totp(db, who, secret[:64], code[:20])
    return _redirect("/account")


@router.post("/account/totp/off")
def account_totp_off(who: Staff, ctx: Ctx, code: Annotated[str, Form()] = "") -> Response:
    """Turn the second factor off (on the app's current code)."""
    with ctx.transaction() as db:
        refused = accounts.disable_totp(db, ctx.settings, who, code[:20])
    if refused is not None:
        raise refused
    return _redirect("/account")


@router.get("/staff", response_class=HTMLResponse)
def staff(request: Request, who: Owner, ctx: Ctx) -> Response:
    """Show the clinic's staff and the invitation form (owners)."""
    with ctx.transaction() as db:
        return _staff_page(request, db, who)


def _staff_page(request: Request, db: Session, who: Principal, code: str = "",
                invited: str = "") -> Response:
    return render(request, "staff.html", db, who, title="Staff",
                  users=accounts.list_users(db, who), code=code, invited=invited,
                  invitations=accounts.open_invitations(db, who),
                  latest=accounts.latest_invitation(db, who))


@router.post("/staff/invite", response_class=HTMLResponse)
def staff_invite(request: Request, who: Owner, ctx: Ctx, email: Annotated[str, Form()] = "",
                 role: Annotated[str, Form()] = "practitioner",
                 after: Annotated[str, Form()] = "") -> Response:
    """Make an invitation and show its code once.

    ``after`` is the latest invitation the form was shown with: the same form
    sent again (a reload of this page) makes nothing new.
    """
    with ctx.transaction() as db:
        code = accounts.invite(db, who, email, role, after=form_id(after))
        return _staff_page(request, db, who, code, accounts.normalise_email(email))


@router.post("/staff/invitations/{invitation_id}/withdraw")
def staff_withdraw(invitation_id: int, who: Owner, ctx: Ctx) -> Response:
    """Withdraw an open invitation: its code stops working."""
    with ctx.transaction() as db:
        accounts.withdraw_invitation(db, who, invitation_id)
    return _redirect("/staff#invitations")


@router.get("/references", response_class=HTMLResponse)
def references_page(request: Request, who: Staff, ctx: Ctx) -> Response:
    """List the references; owners build the clinic's own."""
    with ctx.transaction() as db:
        refs = profiles.references(db, who)
        return render(request, "references.html", db, who, title="References",
                      references=refs, refresh=any(r.status == "pending" for r in refs))


@router.post("/references")
async def reference_create(request: Request, who: Owner, ctx: Ctx) -> Response:
    """Receive a cohort table (and metadata) and queue the reference build."""
    from starlette.concurrency import run_in_threadpool

    with ctx.store.holding():  # its files are kept until its rows are committed
        form = await read_upload_form(request, ctx.store, ctx.settings.max_upload_bytes,
                                      file_fields=("table", "metadata"))

        def save() -> None:
            table = form.files.get("table")
            if table is None or table[1] is None:
                raise Invalid("table: " + (table[2] if table and table[2] else
                                           "choose the cohort's table file"))
            metadata = form.files.get("metadata")
            with ctx.transaction() as db:
                profiles.create_reference_from_store(
                    db, who, form.fields.get("name", ""), (table[0], table[1][0]),
                    (metadata[0], metadata[1][0]) if metadata and metadata[1] else None,
                    form.fields.get("where", ""))

        await run_in_threadpool(save)
    return _redirect("/references")
