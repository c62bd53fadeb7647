"""The pages of elimination-and-reintroduction protocols (practitioner and patient).

``/patients/<id>/protocol``: the practitioner sets a protocol up (groups from
the food catalogue, a template of the knowledge base with its source, the
options that make the answer stronger, each explained), then follows its
calendar and reads the verdicts with their intervals.  ``/portal/tests``:
the patient sees what to eat (or which capsule to take) today, the
calendar, and can stop today's test; the verdicts appear when every test is
done (at once for open protocols).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gutaxis.challenge import Verdict
from gutaxis.service import protocol_api
from gutaxis.service.access import CLINICIANS, PATIENT, STAFF, Principal
from gutaxis.service.context import AppContext, get_context
from gutaxis.service.errors import ServiceError
from gutaxis.service.pages import page_message, render
from gutaxis.service.services import foods, patients, protocols

__all__ = ["router", "verdict_rows"]

router = APIRouter(include_in_schema=False)
Ctx = Annotated[AppContext, Depends(get_context)]
Patient = Annotated[Principal, Depends(PATIENT)]
Staff = Annotated[Principal, Depends(STAFF)]
Clinician = Annotated[Principal, Depends(CLINICIANS)]

#: Plain words for a verdict (the patient's page and the practitioner's).
VERDICT_WORDS = {"likely trigger": "likely a trigger",
                 "likely tolerated": "likely tolerated",
                 "inconclusive": "not clear yet: repeat the test"}


def verdict_rows(verdicts: list[Verdict], names: dict[str, str]) -> list[dict[str, Any]]:
    """Lay verdicts out for the page, with the coordinates of a small interval plot.

    Each row has the plot's ``x`` positions (0–100, a common scale) of the
    interval, the estimate, zero and the threshold.

    Examples
    --------
    >>> import datetime as dt
    >>> v = Verdict("gluten", "bloating", "1", dt.date(2026, 3, 1), dt.date(2026, 3, 3),
    ...             ("usual",), "sham", 2.0, (1.0, 3.0), 0.9, 1.5, 5.0, 0.8, "inconclusive",
    ...             None, 3, None, 0.4, "")
    >>> row = verdict_rows([v], {"gluten": "Gluten"})[0]
    >>> row["name"], row["words"], row["x"]["zero"] < row["x"]["low"] < row["x"]["effect"]
    ('Gluten', 'not clear yet: repeat the test', True)
    """
    values = [0.0]
    for v in verdicts:
        if v.interval is not None and v.threshold is not None:
            values += [v.interval[0], v.interval[1], v.threshold]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    low, high = low - 0.08 * span, high + 0.08 * span

    def x(value: float) -> float:
        return round(100.0 * (value - low) / (high - low), 2)

    rows = []
    for v in verdicts:
        row: dict[str, Any] = {"v": v, "name": names.get(v.food_group, v.food_group),
                               "words": VERDICT_WORDS.get(v.verdict, v.verdict), "x": None}
        if v.interval is not None and v.threshold is not None and v.effect is not None:
            row["x"] = {"low": x(v.interval[0]), "high": x(v.interval[1]), "effect": x(v.effect),
                        "zero": x(0.0), "threshold": x(v.threshold)}
        rows.append(row)
    return rows


def _form_values(form: Any) -> dict[str, Any]:
    values = {k: form.get(k) for k in ("template", "elimination_start", "elimination_days",
                                       "challenge_days", "washout_min_days", "repeats",
                                       "shams", "randomised")}
    values["groups"] = form.getlist("groups")
    return values


def _page(request: Request, ctx: AppContext, who: Principal, patient_id: int, *,
          error: str = "", values: dict[str, Any] | None = None,
          status_code: int = 200) -> HTMLResponse:
    with ctx.transaction() as db:
        patient = patients.get_patient(db, who, patient_id, action="")
        view = protocols.protocol_view(db, who, patient_id)
        return render(request, "protocol.html", db, who, status_code=status_code,
                      title=f"Food challenges · {patient.name}", patient=patient, view=view,
                      names=protocol_api.sentence_names(view.group_names) if view else {},
                      rows=verdict_rows(view.verdicts, view.group_names) if view else [],
                      groups=protocols.group_choices(),
                      protocol_templates=protocols.template_choices(),
                      values=values or {}, error=error, today=dt.date.today(),
                      latest_start=dt.date.today() + dt.timedelta(days=366),
                      words=VERDICT_WORDS)


@router.get("/patients/{patient_id}/protocol", response_class=HTMLResponse)
def protocol_page(request: Request, patient_id: int, who: Staff, ctx: Ctx) -> Response:
    """Show the patient's protocol, or the form that sets one up."""
    return _page(request, ctx, who, patient_id)


@router.post("/patients/{patient_id}/protocol")
async def protocol_create(request: Request, patient_id: int, who: Clinician, ctx: Ctx
                          ) -> Response:
    """Set a protocol up, then show it (the form again, with the error, when refused)."""
    form = await request.form()
    values = _form_values(form)

    def save() -> None:
        with ctx.transaction() as db:
            protocols.create_protocol(db, who, patient_id, values)

    try:
        await run_in_threadpool(save)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        return await run_in_threadpool(_page, request, ctx, who, patient_id,
                                       error=page_message(exc.message),
                                       values=values, status_code=exc.status)
    return RedirectResponse(f"/patients/{patient_id}/protocol", status_code=303)


@router.post("/patients/{patient_id}/protocol/stop")
def protocol_stop(patient_id: int, who: Clinician, ctx: Ctx,
                  position: Annotated[int, Form()]) -> Response:
    """Stop the challenge under way today."""
    with ctx.transaction() as db:
        protocols.stop_challenge(db, who, patient_id, position)
    return RedirectResponse(f"/patients/{patient_id}/protocol", status_code=303)


@router.post("/patients/{patient_id}/protocol/end")
def protocol_end(patient_id: int, who: Clinician, ctx: Ctx) -> Response:
    """End the protocol."""
    with ctx.transaction() as db:
        protocols.end_protocol(db, who, patient_id)
    return RedirectResponse(f"/patients/{patient_id}/protocol", status_code=303)


@router.get("/portal/tests", response_class=HTMLResponse)
def portal_tests(request: Request, who: Patient, ctx: Ctx) -> Response:
    """Show the patient's tests: today's instruction, the calendar, results when shown."""
    with ctx.transaction() as db:
        view = protocols.own_protocol_view(db, who)
        hidden = view.key_hidden if view else False
        rows = verdict_rows(view.verdicts, view.group_names) if view and not hidden else []
        return render(request, "portal_tests.html", db, who, title="Your food tests",
                      view=view, hidden=hidden, rows=rows,
                      names=protocol_api.sentence_names(view.group_names) if view else {})


@router.post("/portal/tests/stop")
def portal_tests_stop(who: Patient, ctx: Ctx, position: Annotated[int, Form()]) -> Response:
    """Stop today's test."""
    with ctx.transaction() as db:
        protocols.stop_challenge(db, who, who.patient_id or 0, position)
    return RedirectResponse("/portal/tests", status_code=303)


@router.get("/foods", response_class=HTMLResponse)
def foods_page(request: Request, who: Staff, ctx: Ctx, error: str = "") -> Response:
    """Show the clinic's own foods and the form that adds one."""
    with ctx.transaction() as db:
        return render(request, "foods.html", db, who, title="Foods of the clinic",
                      foods=foods.clinic_foods(db, who.clinic_id),
                      groups=protocols.group_choices(), error="", values={})


@router.post("/foods")
async def foods_add(request: Request, who: Clinician, ctx: Ctx) -> Response:
    """Add a food to the clinic's catalogue (the form again, with the error, when refused)."""
    form = await request.form()
    values: dict[str, Any] = {k: form.get(k) for k in ("name", "aliases", "source", "note")}
    values["groups"] = [str(g) for g in form.getlist("groups")]

    def save() -> None:
        with ctx.transaction() as db:
            foods.add_clinic_food(db, who, values)

    try:
        await run_in_threadpool(save)
    except ServiceError as exc:
        if exc.status != 422:
            raise
        message = page_message(exc.message)

        def again() -> HTMLResponse:
            with ctx.transaction() as db:
                return render(request, "foods.html", db, who, status_code=422,
                              title="Foods of the clinic",
                              foods=foods.clinic_foods(db, who.clinic_id),
                              groups=protocols.group_choices(), error=message,
                              values=values)

        return await run_in_threadpool(again)
    return RedirectResponse("/foods", status_code=303)
