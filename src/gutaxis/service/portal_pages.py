"""The patient portal's pages (phone first, plain language), and the practitioner's portal forms.

The patient's pages (:data:`~gutaxis.service.access.PATIENT`) show only the
signed-in patient's own record: today and what to log, the diary with every
version of an entry, the visits' "For you" part, the plan with its reasons,
the timeline.  The invitation link (``/portal/invite/<token>``) is public
and, like the sign-in form, protected by a double-submit cookie.  The
practitioner's forms (invite, revoke, set up the diary) and the shared
diary's page sit under ``/patients/<id>/``.  As in :mod:`.pages`, every page
calls the service functions the API calls, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gutaxis.knowledge import load_bristol_scale
from gutaxis.service.access import ANYONE, CLINICIANS, PATIENT, STAFF, Principal, client_address
from gutaxis.service.context import AppContext, get_context
from gutaxis.service.diary_timeline import diary_timeline
from gutaxis.service.errors import NotFound, ServiceError
from gutaxis.service.pages import (
    LOGIN_CSRF_COOKIE,
    diary_number,
    form_id,
    page_message,
    render,
    series_texts,
    sparkline,
    value_list,
)
from gutaxis.service.protocol_api import sentence_names
from gutaxis.service.questionnaire_views import score_figures
from gutaxis.service.security import new_token, same
from gutaxis.service.services import (
    diary,
    diary_text,
    patients,
    portal,
    profiles,
    protocols,
    questionnaire_scores,
)

__all__ = ["router", "entry_values"]

router = APIRouter(include_in_schema=False)
Ctx = Annotated[AppContext, Depends(get_context)]
Patient = Annotated[Principal, Depends(PATIENT)]
Staff = Annotated[Principal, Depends(STAFF)]
Clinician = Annotated[Principal, Depends(CLINICIANS)]
Anyone = Annotated[None, Depends(ANYONE)]

#: Days the patient's diary page shows at a time.
DIARY_DAYS = 7


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def entry_values(form: Any, kind: str, symptoms: list[str]) -> dict[str, Any]:
    """Read an entry's fields for ``kind`` from a submitted form (see :func:`diary.check_entry`).

    Examples
    --------
    >>> entry_values({"score:Bloating": "6", "score:Pain": ""}, "symptoms", ["Bloating", "Pain"])
    {'note': '', 'scores': {'Bloating': '6'}}
    """
    get = form.get
    values: dict[str, Any] = {"note": get("note") or ""}
    if kind in ("meal", "drink"):
        foods = form.getlist("foods") if hasattr(form, "getlist") else get("foods") or []
        values.update(text=get("text") or "", foods=list(foods),
                      portion=get("portion") or "usual")
    elif kind == "symptoms":
        values["scores"] = {s: get(f"score:{s}") for s in symptoms
                            if (get(f"score:{s}") or "").strip()}
    elif kind == "stool":
        values["bristol"] = get("bristol")
    elif kind == "sleep":
        values.update(hours=get("hours"), quality=get("quality"))
    elif kind == "stress":
        values["score"] = get("score")
    elif kind == "medication":
        values.update(name=get("name") or "", dose=get("dose") or "")
    elif kind == "cycle":
        values["day"] = get("day")
    elif kind == "weight":
        values["kg"] = get("kg")
    else:
        values["text"] = get("text") or ""
    return values


def _groups(pairs: list[Any]) -> list[dict[str, Any]]:
    return diary_text.day_groups(pairs, diary_text.food_names())


def _food_choices(ids: list[str], names: dict[str, str]) -> list[dict[str, str]]:
    return [{"id": food, "name": names.get(food, food)} for food in ids]


# ------------------------------------------------------------------ the patient: today
@router.get("/portal", response_class=HTMLResponse)
def portal_home(request: Request, who: Patient, ctx: Ctx, saved: str = "") -> Response:
    """Show today: what to log, today's entries so far, links to the rest."""
    with ctx.transaction() as db:
        settings = portal.portal_settings(db, who)
        today = portal.local_now(settings.time_zone).date()
        pairs = diary.own_entries(db, who, start=today, end=today, action="portal.home")
        patient = portal.own_patient(db, who)
        tests = protocols.own_protocol_view(db, who, today=today)
        instruction = (tests.calendar.today_instruction(
            tests.key_hidden, sentence_names(tests.group_names))
            if tests else "")
        return render(request, "portal_home.html", db, who, title="Today",
                      patient=patient, today=today, kinds=diary.visible_kinds(settings),
                      instruction=instruction,
                      words=diary_text.KIND_WORDS, symptoms=settings.primary_symptoms,
                      groups=_groups(pairs),
                      saved=diary_text.KIND_WORDS.get(saved, ""))


# ------------------------------------------------------------------ the patient: the diary
@router.get("/portal/diary", response_class=HTMLResponse)
def portal_diary(request: Request, who: Patient, ctx: Ctx,
                 until: Annotated[dt.date | None, Query()] = None) -> Response:
    """Show the diary by day, a week at a time (newest first)."""
    with ctx.transaction() as db:
        settings = portal.portal_settings(db, who)
        last = until or portal.local_now(settings.time_zone).date()
        first = last - dt.timedelta(days=DIARY_DAYS - 1)
        pairs = diary.own_entries(db, who, start=first, end=last)
        oldest = diary.first_own_day(db, who)
        return render(request, "portal_diary.html", db, who, title="Your diary",
                      groups=_groups(pairs), first=first, last=last,
                      # no page before the oldest entry: nothing is there
                      earlier=first - dt.timedelta(days=1)
                      if oldest is not None and oldest < first else None,
                      later=last + dt.timedelta(days=DIARY_DAYS)
                      if last < portal.local_now(settings.time_zone).date() else None)


def _form_context(db: Session, who: Principal, kind: str) -> dict[str, Any]:
    settings = portal.portal_settings(db, who)
    if kind not in diary.visible_kinds(settings):
        raise NotFound(f"there is no {kind!r} form")
    names = diary_text.food_names()
    scale = load_bristol_scale() if kind == "stool" else None
    return {"kind": kind, "word": diary_text.KIND_WORDS[kind],
            "symptoms": settings.primary_symptoms,
            "stool_about": scale.about if scale else "",
            "stool_words": {t.type: f"{t.label}. {t.description}" for t in scale.types}
            if scale else {},
            "portions": diary.PORTIONS, "recent": _food_choices(
                diary.recent_foods(db, who), names) if kind in ("meal", "drink") else [],
            "now": portal.local_now(settings.time_zone).strftime("%Y-%m-%dT%H:%M")}


@router.get("/portal/diary/new", response_class=HTMLResponse)
def portal_entry_form(request: Request, who: Patient, ctx: Ctx,
                      kind: Annotated[str, Query(max_length=20)] = "meal") -> Response:
    """Show the one-screen form of a new entry (a meal by default; the time is now)."""
    with ctx.transaction() as db:
        portal.own_patient(db, who, action="diary.form")
        context = _form_context(db, who, kind)
        return render(request, "portal_entry_form.html", db, who,
                      title=f"Log: {context['word']}", values={}, entry=None, error="",
                      **context)


def _entry_form_error(request: Request, ctx: AppContext, who: Principal, kind: str,
                      form: Any, entry_id: int | None, error: ServiceError) -> Response:
    values = {key: form.get(key) for key in form.keys()}
    values["foods"] = list(form.getlist("foods"))
    with ctx.transaction() as db:
        try:
            context = _form_context(db, who, kind)
        except NotFound:
            raise error from None  # no form of that kind: the refusal itself is the answer
        return render(request, "portal_entry_form.html", db, who, error.status,
                      title=f"Log: {context['word']}", values=values,
                      error=page_message(error.message),
                      private=bool(form.get("private")),
                      entry={"id": entry_id} if entry_id else None, **context)


@router.post("/portal/diary")
async def portal_entry_create(request: Request, who: Patient, ctx: Ctx) -> Response:
    """Save a new entry, then go back to today."""
    form = await request.form()
    kind = str(form.get("kind") or "")

    def save() -> None:
        with ctx.transaction() as db:
            settings = portal.portal_settings(db, who)
            diary.add_entry(db, who, kind, entry_values(form, kind,
                                                        list(settings.primary_symptoms)),
                            at=form.get("at") or None, private=bool(form.get("private")))

    try:
        await run_in_threadpool(save)
    except ServiceError as exc:
        if kind not in diary.KINDS or exc.status != 422:
            raise
        return await run_in_threadpool(_entry_form_error, request, ctx, who, kind, form, None,
                                       exc)
    return _redirect(f"/portal?saved={kind}")


@router.get("/portal/diary/{entry_id}", response_class=HTMLResponse)
def portal_entry(request: Request, entry_id: int, who: Patient, ctx: Ctx) -> Response:
    """Show one entry with every version (oldest first), and the form that changes it."""
    with ctx.transaction() as db:
        entry, versions = diary.own_entry(db, who, entry_id)
        names = diary_text.food_names()
        assert who.patient_id is not None
        zone = portal.patient_time_zone(db, who.patient_id)
        history = [{"version": v.version, "written": portal.local_time(v.created_at, zone),
                    "at": v.at,
                    "private": v.private, "deleted": v.deleted,
                    "text": "Deleted" if v.deleted else diary_text.describe(entry.kind, v.data,
                                                                       names=names)}
                   for v in versions]
        latest = versions[-1]
        values = _form_values(entry.kind, latest.data)
        context: dict[str, Any] = _form_context(db, who, entry.kind) if not entry.deleted \
            else {"word": diary_text.KIND_WORDS[entry.kind]}
        context["now"] = entry.at.strftime("%Y-%m-%dT%H:%M")
        if "recent" in context:  # the foods tapped for this entry can be untapped
            shown = {f["id"] for f in context["recent"]}
            context["recent"] += _food_choices([f for f in values.get("foods", [])
                                                if f not in shown], names)
        read_as = ([names.get(f, f) for f in latest.data.get("foods", [])],
                   list(latest.data.get("free", []))) if entry.kind in ("meal", "drink") \
            else ([], [])
        return render(request, "portal_entry.html", db, who,
                      title=f"{diary_text.KIND_WORDS[entry.kind]}, {entry.at:%Y-%m-%d %H:%M}",
                      entry=entry, history=history, values=values, error="",
                      private=entry.private, read_as=read_as, **context)


def _form_values(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """Turn an entry's stored data into the form's fields (to change it)."""
    values: dict[str, Any] = {"note": data.get("note", "")}
    if kind in ("meal", "drink"):
        values.update(text=data.get("text", ""), portion=data.get("portion", "usual"),
                      foods=list(data.get("picked", [])))
    elif kind == "symptoms":
        values.update({f"score:{k}": str(v) for k, v in (data.get("scores") or {}).items()})
    else:
        values.update({k: v for k, v in data.items() if k != "note"})
    return values


@router.post("/portal/diary/{entry_id}")
async def portal_entry_edit(request: Request, entry_id: int, who: Patient, ctx: Ctx
                            ) -> Response:
    """Save a change of an entry as a new version, then show the entry."""
    form = await request.form()

    def save() -> str:
        with ctx.transaction() as db:
            entry, _ = diary.own_entry(db, who, entry_id, action="")
            settings = portal.portal_settings(db, who)
            diary.edit_entry(db, who, entry_id, entry_values(
                form, entry.kind, list(settings.primary_symptoms)),
                at=form.get("at") or None, private=bool(form.get("private")))
            return entry.kind

    try:
        await run_in_threadpool(save)
    except ServiceError as exc:
        if exc.status != 422:
            raise
        kind = await run_in_threadpool(_kind_of, ctx, who, entry_id)
        return await run_in_threadpool(_entry_form_error, request, ctx, who, kind, form,
                                       entry_id, exc)
    return _redirect(f"/portal/diary/{entry_id}")


def _kind_of(ctx: AppContext, who: Principal, entry_id: int) -> str:
    with ctx.transaction() as db:
        return diary.own_entry(db, who, entry_id, action="")[0].kind


@router.post("/portal/diary/{entry_id}/delete")
def portal_entry_delete(entry_id: int, who: Patient, ctx: Ctx) -> Response:
    """Delete an entry (its versions stay, with a last one that says it was deleted)."""
    with ctx.transaction() as db:
        diary.delete_entry(db, who, entry_id)
    return _redirect("/portal/diary")


# ------------------------------------------------------------------ the patient: the record
@router.get("/portal/visits", response_class=HTMLResponse)
def portal_visits(request: Request, who: Patient, ctx: Ctx) -> Response:
    """Show the visits, each with the "For you" part of its profile."""
    with ctx.transaction() as db:
        return render(request, "portal_visits.html", db, who, title="Your visits",
                      visits=portal.own_visits(db, ctx.store, who))


@router.get("/portal/plan", response_class=HTMLResponse)
def portal_plan(request: Request, who: Patient, ctx: Ctx) -> Response:
    """Show the plan: what to do now, why, and what was done before."""
    with ctx.transaction() as db:
        items = portal.own_plan(db, ctx.store, who)
        return render(request, "portal_plan.html", db, who, title="Your plan",
                      current=[i for i in items if i.status in ("proposed", "active",
                                                                 "paused")],
                      earlier=[i for i in items if i.status in ("stopped", "done")])


@router.get("/portal/timeline", response_class=HTMLResponse)
def portal_timeline(request: Request, who: Patient, ctx: Ctx) -> Response:
    """Show the diary's scores by day and the visits' measures, as small plots."""
    with ctx.transaction() as db:
        patient = portal.own_patient(db, who)
        series = []
        for s in profiles.timeline(db, who, patient.id):
            unit, texts = series_texts(s.points, s.unit)  # as the practice's timeline
            series.append({"label": s.label, "unit": unit, "group": s.group,
                           "points": s.points,
                           "svg": sparkline(s.points, s.label, texts, listed=True),
                           "value_list": value_list(s.points, texts)})
        pairs = diary.own_entries(db, who, action="")  # part of patient.timeline
        daily = []
        for label, points in diary.daily_scores(pairs).items():
            rows = [{"date": day.isoformat(), "value": value, "change": ""}
                    for day, value in points[-60:]]
            daily.append({"label": label, "points": rows, "svg": sparkline(
                rows, label, [diary_number(r["value"]) for r in rows])})
        scores = questionnaire_scores.score_series(db, who, patient.id, action="")
        return render(request, "portal_timeline.html", db, who, title="Your timeline",
                      daily=daily, series=series, qfigures=score_figures(scores),
                      dtl=diary_timeline(db, who, patient.id, for_patient=True))


# ------------------------------------------------------------------ the invitation link
def _link_page(request: Request, token: str, *, error: str = "", status_code: int = 200,
               email: str = "", login_csrf: str = "") -> HTMLResponse:
    login_csrf = login_csrf or request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    response = render(request, "portal_invite.html", None, None, status_code,
                      title="Set your password", token=token, email=email, error=error,
                      login_csrf=login_csrf)
    ctx: AppContext = request.app.state.ctx
    response.set_cookie(LOGIN_CSRF_COOKIE, login_csrf, httponly=True, samesite="strict",
                        secure=ctx.settings.secure_cookies, path="/portal/invite")
    return response


@router.get("/portal/invite/{token}", response_class=HTMLResponse)
def portal_invite_form(request: Request, token: str, ctx: Ctx, _: Anyone) -> Response:
    """Show the form that sets the patient's password (or that the link does not work)."""
    with ctx.transaction() as db:
        invitation = portal.link_invitation(db, token[:200])
        email = invitation.email
    return _link_page(request, token[:200], email=email)


@router.post("/portal/invite/{token}", response_class=HTMLResponse)
def portal_invite_accept(request: Request, token: str, ctx: Ctx, _: Anyone,
                         password: Annotated[str, Form()] = "",
                         csrf_token: Annotated[str, Form()] = "") -> Response:
    """Set the password, sign the patient in, and show their portal."""
    from gutaxis.service.api import set_session_cookie
    from gutaxis.service.errors import NotAllowed

    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not csrf_token or not same(cookie, csrf_token):
        raise NotAllowed("the form is out of date or was not sent by this site; open the "
                         "link again")
    try:
        with ctx.transaction() as db:
            outcome = portal.accept_link(db, ctx.settings, token[:200], password[:1024],
                                         client_address(request))
    except ServiceError as exc:
        if exc.status != 422:
            raise
        with ctx.transaction() as db:
            email = portal.link_invitation(db, token[:200]).email
        return _link_page(request, token[:200], error=page_message(exc.message),
                          status_code=exc.status,
                          email=email, login_csrf=csrf_token)
    response = _redirect("/portal")
    set_session_cookie(response, ctx, outcome.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/portal/invite")
    return response


# ------------------------------------------------------------------ the practitioner's side
@router.post("/patients/{patient_id}/portal/invite", response_class=HTMLResponse)
def portal_invite(request: Request, patient_id: int, who: Clinician, ctx: Ctx,
                  email: Annotated[str, Form()] = "",
                  after: Annotated[str, Form()] = "") -> Response:
    """Make the patient's one-time link and show it once, to be passed on.

    ``after`` is the latest link the form was shown with: the same form sent
    again (a reload of this page) makes nothing new.
    """
    with ctx.transaction() as db:
        token, invitation = portal.invite_patient(db, ctx.settings, who, patient_id,
                                                  email[:320], after=form_id(after))
        patient = patients.get_patient(db, who, patient_id, action="")
        link = str(request.base_url).rstrip("/") + f"/portal/invite/{token}"
        return render(request, "portal_link.html", db, who, title="Link to the portal",
                      patient=patient, link=link, invitation=invitation)


@router.post("/patients/{patient_id}/portal/revoke")
def portal_revoke(patient_id: int, who: Clinician, ctx: Ctx) -> Response:
    """End the patient's access to the portal (the diary stays in the record)."""
    with ctx.transaction() as db:
        portal.revoke_access(db, who, patient_id)
    return _redirect(f"/patients/{patient_id}#portal")


@router.post("/patients/{patient_id}/portal")
def portal_setup(patient_id: int, who: Clinician, ctx: Ctx,
                 symptoms: Annotated[str, Form(max_length=2000)] = "",
                 hide_weight: Annotated[str, Form(max_length=10)] = "",
                 time_zone: Annotated[str, Form(max_length=64)] = "UTC") -> Response:
    """Set up the patient's diary: primary symptoms (one a line), weight hidden, time zone."""
    with ctx.transaction() as db:
        portal.set_portal_settings(db, who, patient_id,
                                   primary_symptoms=symptoms.splitlines(),
                                   hide_weight=bool(hide_weight), time_zone=time_zone)
    return _redirect(f"/patients/{patient_id}#portal")


@router.get("/patients/{patient_id}/diary", response_class=HTMLResponse)
def shared_diary(request: Request, patient_id: int, who: Staff, ctx: Ctx) -> Response:
    """Show the diary the patient shares (never a private entry), newest day first."""
    with ctx.transaction() as db:
        patient = patients.get_patient(db, who, patient_id, action="")
        pairs = diary.shared_entries(db, who, patient_id)
        return render(request, "diary_shared.html", db, who, title=f"Diary of {patient.name}",
                      patient=patient, groups=_groups(pairs))
