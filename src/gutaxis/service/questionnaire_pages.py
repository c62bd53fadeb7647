"""Questionnaire pages: the clinic's definitions, a patient's questionnaires, the portal's forms.

The practitioner's side: ``/questionnaires`` lists what the clinic can send
(the bundled questionnaires and the clinic's imports, with licence, source
and minimal important difference) and imports a definition file;
``/patients/<id>/questionnaires`` sends one to the patient and shows the
responses with their scores over time; ``/questionnaire-requests/<id>`` shows
every version of a response's answers.  The patient's side (phone first,
plain words): ``/portal/questionnaires`` lists what to fill in and their
score history, ``/portal/questionnaires/<id>`` is the form, drawn from the
definition.  As in :mod:`.pages`, every page calls the service functions the
API calls, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gutaxis.service.access import CLINICIANS, PATIENT, STAFF, Principal
from gutaxis.service.context import AppContext, get_context
from gutaxis.service.errors import Invalid, ServiceError
from gutaxis.service.pages import render
from gutaxis.service.questionnaire_api import read_definition_file
from gutaxis.service.questionnaire_views import (
    answer_rows,
    form_blocks,
    request_rows,
    score_figures,
    scores_text,
)
from gutaxis.service.services import patients, portal, questionnaire_scores, questionnaires

__all__ = ["router", "LICENSED_NOTE"]

router = APIRouter(include_in_schema=False)
Ctx = Annotated[AppContext, Depends(get_context)]
Patient = Annotated[Principal, Depends(PATIENT)]
Staff = Annotated[Principal, Depends(STAFF)]
Clinician = Annotated[Principal, Depends(CLINICIANS)]

#: What the import page says about licensed instruments.
LICENSED_NOTE = ("gutaxis ships only questionnaires whose terms allow it. Licensed "
                 "instruments are not included: a practice that holds a licence for one "
                 "imports its own definition here, and the licence and source text it "
                 "carries are kept with it and shown wherever it is used.")


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ------------------------------------------------------------------ the clinic's definitions
def _library(request: Request, db: Session, who: Principal, *, error: str = "",
             status_code: int = 200, imported: int | None = None) -> HTMLResponse:
    choices = questionnaires.available(db, who)
    new = next((c for c in choices if imported is not None and c.definition_id == imported),
               None)
    return render(request, "questionnaire_library.html", db, who, status_code,
                  title="Questionnaires", choices=choices,
                  can_import=who.role in CLINICIANS.roles, error=error,
                  imported=f"{new.title} (version {new.version})" if new else "",
                  note=LICENSED_NOTE,
                  limit=questionnaires.MAX_DEFINITION_BYTES // (1024 * 1024))


@router.get("/questionnaires", response_class=HTMLResponse)
def library(request: Request, who: Staff, ctx: Ctx,
            imported: Annotated[int | None, Query(ge=1, lt=2 ** 31)] = None) -> Response:
    """Show the questionnaires the clinic can send, and the form that imports a definition."""
    with ctx.transaction() as db:
        return _library(request, db, who, imported=imported)


@router.post("/questionnaires", response_class=HTMLResponse)
async def library_import(request: Request, who: Clinician, ctx: Ctx) -> Response:
    """Import a definition file; an invalid one is refused with the checker's message."""
    try:
        filename, content = await read_definition_file(request)

        def save() -> int:
            with ctx.transaction() as db:
                return questionnaires.import_definition(db, who, filename, content).id

        done = await run_in_threadpool(save)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        message, status = exc.message, exc.status

        def page() -> HTMLResponse:
            with ctx.transaction() as db:
                return _library(request, db, who, error=message, status_code=status)

        return await run_in_threadpool(page)
    return _redirect(f"/questionnaires?imported={done}#import")


# ------------------------------------------------------------------ a patient's questionnaires
@router.get("/patients/{patient_id}/questionnaires", response_class=HTMLResponse)
def patient_questionnaires(request: Request, patient_id: int, who: Staff, ctx: Ctx
                           ) -> Response:
    """Show the patient's questionnaires: send one, the responses, the scores over time."""
    with ctx.transaction() as db:
        patient = patients.get_patient(db, who, patient_id, action="")
        views = questionnaires.patient_requests(db, who, patient.id)
        series = questionnaire_scores.score_series(db, who, patient.id, action="")
        return render(request, "questionnaires_patient.html", db, who,
                      title=f"Questionnaires of {patient.name}", patient=patient,
                      rows=request_rows(views), qfigures=score_figures(series),
                      choices=questionnaires.available(db, who),
                      can_send=who.role in CLINICIANS.roles, today=dt.date.today())


def _send_choice(value: str) -> dict[str, Any]:
    kind, _, rest = (value or "").partition(":")
    if kind == "bundled" and rest:
        return {"bundled": rest[:120]}
    if kind == "clinic" and rest.isdigit():
        return {"definition_id": int(rest)}
    raise Invalid(f"questionnaire: choose one of the list; got {value[:60]!r}",
                  fields=[{"field": "questionnaire", "message": "unknown"}])


@router.post("/patients/{patient_id}/questionnaires")
def patient_questionnaire_send(patient_id: int, who: Clinician, ctx: Ctx,
                               questionnaire: Annotated[str, Form(max_length=200)] = "",
                               due: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Send a questionnaire to the patient, then show their questionnaires."""
    try:
        day = dt.date.fromisoformat(due.strip()) if due.strip() else None
    except ValueError:
        raise Invalid(f"due: expected a date YYYY-MM-DD; got {due[:20]!r}",
                      fields=[{"field": "due", "message": "not a date"}]) from None
    with ctx.transaction() as db:
        questionnaires.send(db, who, patient_id, due=day, **_send_choice(questionnaire))
    return _redirect(f"/patients/{patient_id}/questionnaires")


@router.get("/questionnaire-requests/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: int, who: Staff, ctx: Ctx) -> Response:
    """Show one request: the questionnaire sent, and every version of the answers."""
    with ctx.transaction() as db:
        view = questionnaires.staff_request(db, who, request_id)
        patient = patients.get_patient(db, who, view.request.patient_id, action="")
        q = view.questionnaire
        versions = [{"response": r, "rows": answer_rows(q, r.answers),
                     "scores": scores_text(q, r.scores)} for r in reversed(view.responses)]
        scoring = q.scoring
        return render(request, "questionnaire_request.html", db, who,
                      title=f"{view.request.title} — {patient.name}", patient=patient,
                      view=view, versions=versions,
                      licence=scoring.licence if scoring else "",
                      source=scoring.source if scoring else "",
                      can_cancel=who.role in CLINICIANS.roles
                      and view.request.status == "open")


@router.post("/questionnaire-requests/{request_id}/cancel")
def request_cancel(request_id: int, who: Clinician, ctx: Ctx) -> Response:
    """Withdraw an open request, then show the patient's questionnaires."""
    with ctx.transaction() as db:
        row = questionnaires.cancel(db, who, request_id)
        return _redirect(f"/patients/{row.patient_id}/questionnaires")


# ------------------------------------------------------------------ the patient
@router.get("/portal/questionnaires", response_class=HTMLResponse)
def portal_list(request: Request, who: Patient, ctx: Ctx, done: str = "") -> Response:
    """Show the questionnaires to fill in, the ones answered, and the scores over time."""
    with ctx.transaction() as db:
        views = questionnaires.own_requests(db, who)
        assert who.patient_id is not None
        series = questionnaire_scores.score_series(db, who, who.patient_id, action="")
        zone = portal.patient_time_zone(db, who.patient_id)
        answered = [{"view": v, "scores": scores_text(v.questionnaire, v.latest.scores),
                     "day": portal.local_time(v.request.completed_at, zone)
                     if v.request.completed_at else None}
                    for v in views if v.latest is not None]
        return render(request, "portal_questionnaires.html", db, who,
                      title="Questionnaires", open=[v for v in views
                                                     if v.request.status == "open"],
                      answered=answered, qfigures=score_figures(series),
                      done=done == "1")


def _form_page(request: Request, db: Session, who: Principal, view: questionnaires.RequestView,
               values: Mapping[str, Any], errors: Mapping[str, str], *, message: str = "",
               status_code: int = 200) -> HTMLResponse:
    q = view.questionnaire
    return render(request, "portal_questionnaire.html", db, who, status_code,
                  title=view.request.title, view=view,
                  description=str(q.definition.get("description") or ""),
                  blocks=form_blocks(q, values, errors), message=message,
                  error_count=len(errors), nothing=errors.get("answers", ""))


@router.get("/portal/questionnaires/{request_id}", response_class=HTMLResponse)
def portal_form(request: Request, request_id: int, who: Patient, ctx: Ctx) -> Response:
    """Show the questionnaire's form (with the last answers, to change them, once answered)."""
    with ctx.transaction() as db:
        view = questionnaires.own_request(db, who, request_id)
        values = dict(view.latest.answers) if view.latest else {}
        return _form_page(request, db, who, view, values, {})


@router.post("/portal/questionnaires/{request_id}", response_class=HTMLResponse)
async def portal_answer(request: Request, request_id: int, who: Patient, ctx: Ctx
                        ) -> Response:
    """Check and save the answers (a change is a new version), then show the scores."""
    form = await request.form()

    def save() -> Response:
        with ctx.transaction() as db:
            view = questionnaires.own_request(db, who, request_id, action="")
            answers = questionnaires.form_answers(view.questionnaire, form)
            questionnaires.answer(db, who, request_id, answers)
        return _redirect("/portal/questionnaires?done=1")

    try:
        return await run_in_threadpool(save)
    except Invalid as exc:
        errors = {f["field"]: f["message"] for f in exc.fields}
        message, status = exc.message, exc.status

        def page() -> HTMLResponse:
            with ctx.transaction() as db:
                view = questionnaires.own_request(db, who, request_id, action="")
                values = {key: form.get(key) for key in form.keys()}
                return _form_page(request, db, who, view, values, errors,
                                  message=message, status_code=status)

        return await run_in_threadpool(page)
