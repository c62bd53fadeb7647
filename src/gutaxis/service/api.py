"""The JSON API under ``/api/v1``: thin routes over :mod:`gutaxis.service.services`.

Every route names its :mod:`access rule <gutaxis.service.access>`; every
error has the one shape of :mod:`gutaxis.service.errors`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from gutaxis.service import audit
from gutaxis.service.access import (
    ANYONE,
    CLINICIANS,
    OWNERS,
    SESSION_COOKIE,
    SIGNED_IN,
    STAFF,
    Principal,
    client_address,
)
from gutaxis.service.context import AppContext, get_context
from gutaxis.service.db import get_row
from gutaxis.service.errors import Invalid, NotFound
from gutaxis.service.forms import read_upload_form
from gutaxis.service.models import ApiToken, Job, Patient, PlanItem, Upload, User, Visit
from gutaxis.service.schemas import (
    Accepted,
    CodeIn,
    Created,
    ErrorOut,
    InvitationAccept,
    InvitationIn,
    JobOut,
    PatientIn,
    PatientPatch,
    PlanOptionIn,
    PlanOwnIn,
    PlanStatusIn,
    ProfileRequest,
    SessionIn,
    SessionOut,
    TokenIn,
    TokenOut,
    VisitIn,
)
from gutaxis.service.services import (
    accounts,
    fhir_records,
    patients,
    plans,
    profiles,
    records,
    uploads,
)

__all__ = ["router", "set_session_cookie", "patient_dict", "visit_dict", "upload_dict",
           "job_dict", "plan_dict"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 422, 429)}
router = APIRouter(prefix="/api/v1", responses=_ERRORS)

Ctx = Annotated[AppContext, Depends(get_context)]
Staff = Annotated[Principal, Depends(STAFF)]
Clinician = Annotated[Principal, Depends(CLINICIANS)]
Owner = Annotated[Principal, Depends(OWNERS)]
Pending = Annotated[Principal, Depends(SIGNED_IN)]
Anyone = Annotated[None, Depends(ANYONE)]


def set_session_cookie(response: Response, ctx: AppContext, token: str) -> None:
    """Give the browser its session (HttpOnly, SameSite=Lax, Secure behind HTTPS)."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=ctx.settings.secure_cookies, path="/",
                        max_age=int(ctx.settings.session_hours * 3600))


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def patient_dict(p: Patient) -> dict[str, Any]:
    """Return a patient as the API shows it."""
    return {"id": p.id, "name": p.name, "birth_date": _iso(p.birth_date), "sex": p.sex,
            "contact": p.contact, "conditions": p.conditions,
            "identifiers": [{"system": s, "value": v}
                            for s, v in patients.patient_identifiers(p)],
            "practitioner_id": p.practitioner_id, "created_at": _iso(p.created_at),
            "updated_at": _iso(p.updated_at)}


def visit_dict(v: Visit) -> dict[str, Any]:
    """Return a visit as the API shows it."""
    return {"id": v.id, "patient_id": v.patient_id, "visit_date": _iso(v.visit_date),
            "notes": v.notes, "created_at": _iso(v.created_at)}


def upload_dict(u: Upload) -> dict[str, Any]:
    """Return an upload as the API shows it."""
    return {"id": u.id, "visit_id": u.visit_id, "kind": u.kind, "filename": u.filename,
            "sha256": u.sha256, "size": u.size, "sample": u.sample, "status": u.status,
            "error": u.error, "summary": u.summary, "created_at": _iso(u.created_at)}


def job_dict(j: Job) -> dict[str, Any]:
    """Return a job as the API shows it."""
    return {"id": j.id, "kind": j.kind, "status": j.status, "error": j.error,
            "target_id": j.target_id, "created_at": _iso(j.created_at),
            "finished_at": _iso(j.finished_at)}


def plan_dict(item: PlanItem) -> dict[str, Any]:
    """Return a plan item as the API shows it, with its history."""
    return {"id": item.id, "patient_id": item.patient_id, "visit_id": item.visit_id,
            "option_id": item.option_id or None, "own": item.own, "title": item.title,
            "step": item.step, "evidence_level": item.evidence_level, "sources": item.sources,
            "details": item.details, "status": item.status,
            "created_at": _iso(item.created_at), "updated_at": _iso(item.updated_at),
            "history": [{"status": e.status, "note": e.note, "on": _iso(e.on),
                         "at": _iso(e.at), "user_id": e.user_id} for e in item.events]}


def _token_dict(row: ApiToken, token: str | None = None) -> dict[str, Any]:
    return TokenOut(id=row.id, name=row.name, prefix=row.prefix, created_at=row.created_at,
                    expires_at=row.expires_at, revoked_at=row.revoked_at,
                    token=token).model_dump(mode="json")


# ------------------------------------------------------------------ session and tokens
@router.post("/session", response_model=SessionOut, tags=["session"])
def create_session(body: SessionIn, request: Request, response: Response, ctx: Ctx,
                   _: Anyone) -> dict[str, Any]:
    """Sign in with e-mail and password: sets the session cookie."""
    with ctx.transaction() as db:
        outcome = accounts.sign_in(db, ctx.settings, body.email, body.password,
                                   client_address(request))
        if outcome.error is None:
            user = db.scalar(select(User).where(
                User.email == accounts.normalise_email(body.email)))
            assert user is not None
            answer = {"user_id": user.id, "clinic_id": user.clinic_id, "role": user.role,
                      "csrf_token": outcome.csrf_token,
                      "second_factor_required": outcome.needs_code}
    if outcome.error is not None:
        raise outcome.error
    set_session_cookie(response, ctx, outcome.token)
    return answer


@router.post("/session/code", status_code=204, tags=["session"])
def confirm_code(body: CodeIn, who: Pending, ctx: Ctx) -> Response:
    """Give the second factor's code (when the account has one)."""
    with ctx.transaction() as db:
        refused = accounts.second_factor(db, ctx.settings, who, body.code)
    if refused is not None:
        raise refused
    return Response(status_code=204)


@router.delete("/session", status_code=204, tags=["session"])
def delete_session(who: Pending, ctx: Ctx) -> Response:
    """Sign out."""
    with ctx.transaction() as db:
        accounts.sign_out(db, who)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", tags=["session"])
def me(who: Staff) -> dict[str, Any]:
    """Show who is signed in, to which clinic, with which role and how."""
    return {"user_id": who.user_id, "clinic_id": who.clinic_id, "role": who.role,
            "email": who.email, "via": who.via}


@router.post("/tokens", status_code=201, response_model=TokenOut, tags=["session"])
def create_token(body: TokenIn, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """Create a personal access token for ``Authorization: Bearer`` (shown once)."""
    with ctx.transaction() as db:
        token, row = accounts.create_token(db, who, body.name, body.days)
        return _token_dict(row, token)


@router.get("/tokens", response_model=list[TokenOut], tags=["session"])
def list_tokens(who: Staff, ctx: Ctx) -> list[dict[str, Any]]:
    """List your tokens (without their secret)."""
    with ctx.transaction() as db:
        return [_token_dict(row) for row in accounts.list_tokens(db, who)]


@router.delete("/tokens/{token_id}", status_code=204, tags=["session"])
def revoke_token(token_id: int, who: Staff, ctx: Ctx) -> Response:
    """Revoke one of your tokens."""
    with ctx.transaction() as db:
        accounts.revoke_token(db, who, token_id)
    return Response(status_code=204)


# ------------------------------------------------------------------ staff
@router.get("/users", tags=["staff"])
def list_users(who: Owner, ctx: Ctx) -> list[dict[str, Any]]:
    """List the clinic's staff (owners)."""
    with ctx.transaction() as db:
        return [{"id": u.id, "email": u.email, "name": u.name, "role": u.role,
                 "second_factor": u.totp_secret is not None, "active": u.active}
                for u in accounts.list_users(db, who)]


@router.post("/invitations", status_code=201, tags=["staff"])
def create_invitation(body: InvitationIn, who: Owner, ctx: Ctx) -> dict[str, Any]:
    """Invite a member of staff (owners): the code is shown once."""
    with ctx.transaction() as db:
        code = accounts.invite(db, who, body.email, body.role)
    return {"code": code, "email": body.email, "role": body.role}


@router.get("/invitations", tags=["staff"])
def list_invitations(who: Owner, ctx: Ctx) -> list[dict[str, Any]]:
    """List the clinic's open invitations (owners): not accepted, withdrawn or expired."""
    with ctx.transaction() as db:
        return [{"id": i.id, "email": i.email, "role": i.role,
                 "created_at": i.created_at.isoformat(), "expires_at": i.expires_at.isoformat()}
                for i in accounts.open_invitations(db, who)]


@router.delete("/invitations/{invitation_id}", status_code=204, tags=["staff"])
def withdraw_invitation(invitation_id: int, who: Owner, ctx: Ctx) -> Response:
    """Withdraw an open invitation (owners): its code stops working."""
    with ctx.transaction() as db:
        accounts.withdraw_invitation(db, who, invitation_id)
    return Response(status_code=204)


@router.post("/invitations/accept", status_code=201, response_model=Created, tags=["staff"])
def accept_invitation(body: InvitationAccept, request: Request, ctx: Ctx,
                      _: Anyone) -> dict[str, Any]:
    """Make the invited account with its password."""
    with ctx.transaction() as db:
        user = accounts.accept_invitation(db, body.code, body.password, body.name,
                                          client_address(request))
        return {"id": user.id}


# ------------------------------------------------------------------ patients and visits
@router.get("/patients", tags=["patients"])
def search_patients(who: Staff, ctx: Ctx, q: Annotated[str, Query(max_length=200)] = "",
                    limit: Annotated[int, Query(ge=1, le=200)] = 50,
                    offset: Annotated[int, Query(ge=0, le=10 ** 9)] = 0) -> dict[str, Any]:
    """Search the patients whose name holds every word of ``q`` (all when it is empty)."""
    with ctx.transaction() as db:
        rows, total = patients.search_patients(db, who, q, limit=limit, offset=offset)
        return {"total": total, "patients": [patient_dict(p) for p in rows]}


@router.post("/patients", status_code=201, response_model=Created, tags=["patients"])
def create_patient(body: PatientIn, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """Create a patient, with you as practitioner."""
    with ctx.transaction() as db:
        return {"id": patients.create_patient(db, who, body.model_dump()).id}


@router.get("/patients/{patient_id}", tags=["patients"])
def get_patient(patient_id: int, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """Get a patient and their visits."""
    with ctx.transaction() as db:
        patient = patients.get_patient(db, who, patient_id)
        return {**patient_dict(patient), "visits": [visit_dict(v) for v in patient.visits]}


@router.patch("/patients/{patient_id}", tags=["patients"])
def update_patient(patient_id: int, body: PatientPatch, who: Staff, ctx: Ctx
                   ) -> dict[str, Any]:
    """Change a patient's fields."""
    with ctx.transaction() as db:
        values = body.model_dump(exclude_unset=True)
        return patient_dict(patients.update_patient(db, who, patient_id, values))


@router.delete("/patients/{patient_id}", status_code=204, tags=["patients"])
def erase_patient(patient_id: int, who: Owner, ctx: Ctx) -> Response:
    """Erase a patient: the record and its files are gone; the erasure is audited (owners)."""
    with ctx.transaction() as db:
        shas = records.erase_patient(db, ctx.store, who, patient_id, None)
    uploads.remove_unnamed_files(ctx.store, ctx.reads, shas)
    return Response(status_code=204)


@router.get("/patients/{patient_id}/export", tags=["patients"],
            responses={200: {"content": {"application/zip": {}}}})
def export_patient(patient_id: int, who: Clinician, ctx: Ctx) -> FileResponse:
    """Export the patient's whole record as a zip (record.json, uploads, profiles)."""
    handle = tempfile.NamedTemporaryFile(dir=ctx.settings.scratch_dir, suffix=".zip",
                                         delete=False)
    handle.close()
    path = Path(handle.name)
    try:
        with ctx.transaction() as db:
            records.export_patient(db, ctx.store, who, patient_id, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(path, media_type="application/zip",
                        filename=f"patient-{patient_id}-record.zip",
                        background=BackgroundTask(path.unlink, missing_ok=True))


@router.get("/patients/{patient_id}/fhir", tags=["patients"],
            responses={200: {"content": {"application/fhir+json": {}}}})
def export_patient_fhir(request: Request, patient_id: int, who: Clinician, ctx: Ctx
                        ) -> Response:
    """Export the patient's record as a FHIR R4 ``Bundle`` (collection) that clinic systems read.

    The ``Patient``; per visit, the profile's ``DiagnosticReport`` with its
    ``Observation``s (markers, indices, key taxa; lab results alone where a
    visit has no profile); ``QuestionnaireResponse``s; the plan as a
    ``CarePlan``; elimination protocols as ``NutritionOrder``s.
    """
    base = str(request.base_url).rstrip("/") + "/fhir"
    with ctx.transaction() as db:
        document = fhir_records.patient_bundle(db, ctx.store, who, patient_id, base)
    return Response(json.dumps(document, ensure_ascii=False, indent=1),
                    media_type="application/fhir+json", headers={
                        "Content-Disposition":
                            f'attachment; filename="patient-{patient_id}.fhir.json"'})


@router.get("/patients/{patient_id}/visits", tags=["visits"])
def list_visits(patient_id: int, who: Staff, ctx: Ctx) -> list[dict[str, Any]]:
    """List a patient's visits, oldest first."""
    with ctx.transaction() as db:
        return [visit_dict(v) for v in patients.get_patient(db, who, patient_id).visits]


@router.post("/patients/{patient_id}/visits", status_code=201, response_model=Created,
             tags=["visits"])
def create_visit(patient_id: int, body: VisitIn, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """Create a visit of the patient."""
    with ctx.transaction() as db:
        return {"id": patients.create_visit(db, who, patient_id, body.visit_date,
                                            body.notes).id}


@router.get("/visits/{visit_id}", tags=["visits"])
def get_visit(visit_id: int, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """Get a visit with its uploads, lab values and profile status."""
    with ctx.transaction() as db:
        visit = patients.get_visit(db, who, visit_id)
        state = profiles.profile_state(db, who, visit_id)
        return {**visit_dict(visit),
                "uploads": [upload_dict(u) for u in uploads.visit_uploads(db, visit.id)],
                "labs": [{"marker": v.marker, "value": v.value, "unit": v.unit,
                          "censored": v.censored or None, "ref_low": v.ref_low,
                          "ref_high": v.ref_high} for v in uploads.visit_labs(db, visit.id)],
                "profile": {"status": state.status, "error": state.error,
                            "job": state.job.id if state.job else None}}


def _check_visit(ctx: AppContext, who: Principal, visit_id: int) -> None:
    with ctx.transaction() as db:
        patients.get_visit(db, who, visit_id, action="")


@router.post("/visits/{visit_id}/uploads", status_code=202, response_model=Accepted,
             tags=["visits"],
             openapi_extra={"requestBody": {"required": True, "content": {
                 "multipart/form-data": {"schema": {
                     "type": "object", "required": ["kind", "file"],
                     "properties": {"kind": {"type": "string",
                                             "enum": ["microbiome", "labs", "fhir"]},
                                    "file": {"type": "string", "format": "binary"},
                                    "sample": {"type": "string", "maxLength": 200},
                                    "skip_unknown": {
                                        "type": "string", "enum": ["true", "false"],
                                        "description": "fhir: skip (and list) the results "
                                                       "whose code the marker catalogue "
                                                       "does not know"}}}}}}})
async def create_upload(visit_id: int, request: Request, who: Staff, ctx: Ctx
                        ) -> dict[str, Any]:
    """Upload a microbiome table, a LABS.csv or FHIR lab results: 202 and a job that parses it.

    FHIR (``kind=fhir``: a Bundle, DiagnosticReport or Observation, JSON) is
    matched to the patient by the identifiers on the patient's record.
    """
    await run_in_threadpool(_check_visit, ctx, who, visit_id)  # 404 before the body is read
    with ctx.store.holding():  # its files are kept until its rows are committed
        form = await read_upload_form(request, ctx.store, ctx.settings.max_upload_bytes)

        def save() -> dict[str, Any]:
            with ctx.transaction() as db:
                upload, job = uploads.receive_upload(
                    db, ctx.store, who, visit_id, form.fields.get("kind", ""), form.filename,
                    sample=form.fields.get("sample"), limit=ctx.settings.max_upload_bytes,
                    refused=form.refused, stored=form.stored,
                    skip_unknown=form.fields.get("skip_unknown", "").lower() in ("true", "on", "1"))
                return {"id": upload.id, "job": job.id, "status": job.status}

        return await run_in_threadpool(save)


@router.get("/uploads/{upload_id}", tags=["visits"])
def get_upload(upload_id: int, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """Get an upload and what its parse found."""
    with ctx.transaction() as db:
        return upload_dict(uploads.get_upload(db, who, upload_id))


@router.delete("/uploads/{upload_id}", status_code=204, tags=["visits"])
def remove_upload(upload_id: int, who: Staff, ctx: Ctx) -> Response:
    """Remove an upload whose parse failed, with its file (409 for one that did not fail)."""
    with ctx.transaction() as db:
        _, shas = uploads.remove_failed_upload(db, who, upload_id)
    uploads.remove_unnamed_files(ctx.store, ctx.reads, shas)
    return Response(status_code=204)


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
def get_job(job_id: int, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """Get where a job stands (its error, in words, when it failed).

    Audited (``job.read``): a failed job's error can name what a patient's
    file held.
    """
    with ctx.transaction() as db:
        job = get_row(db, Job, job_id)
        if job is None or job.clinic_id != who.clinic_id:
            raise NotFound(f"no job {job_id}")
        audit.record(db, who.actor, "job.read", "job", job_id,
                     f"{job.kind} {job.target_id}: {job.status}")
        return job_dict(job)


# ------------------------------------------------------------------ profiles and timeline
@router.get("/visits/{visit_id}/profile", tags=["profiles"],
            responses={200: {"description": "the profile.json document"},
                       202: {"model": Accepted, "description": "still being computed"}})
def get_profile(visit_id: int, who: Staff, ctx: Ctx) -> Any:
    """Get the visit's ``profile.json``: 202 while it is computed, 200 when done."""
    with ctx.transaction() as db:
        state = profiles.profile_state(db, who, visit_id)
        if state.status in ("pending", "running", "failed"):
            audit.record(db, who.actor, "profile.status", "visit", visit_id,
                         f"status={state.status}")
        if state.status in ("pending", "running"):
            return JSONResponse(status_code=202, content={
                "id": state.profile.id if state.profile else 0,
                "job": state.job.id if state.job else 0, "status": state.status})
        if state.status == "failed":
            return JSONResponse(status_code=422, content={"error": {
                "status": 422, "code": "profile_failed", "fields": [],
                "message": f"the profile could not be computed: {state.error}"}})
        if state.status == "none":
            raise NotFound(f"visit {visit_id} has no profile: upload a microbiome table first")
        return profiles.profile_document(db, ctx.store, who, visit_id)


@router.post("/visits/{visit_id}/profile", status_code=202, response_model=Accepted,
             tags=["profiles"])
def request_profile(visit_id: int, body: ProfileRequest, who: Clinician, ctx: Ctx
                    ) -> dict[str, Any]:
    """Compute the visit's profile again (against another reference, say)."""
    with ctx.transaction() as db:
        profile, job = profiles.request_profile(db, who, visit_id, body.reference_id)
        return {"id": profile.id, "job": job.id, "status": job.status}


@router.get("/visits/{visit_id}/profile.pdf", tags=["profiles"],
            responses={200: {"content": {"application/pdf": {}}}})
def profile_pdf(visit_id: int, who: Staff, ctx: Ctx) -> Response:
    """Download the visit's profile as PDF."""
    with ctx.transaction() as db:
        data, _ = profiles.profile_file(db, ctx.store, who, visit_id, "pdf")
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="visit-{visit_id}-profile.pdf"'})


@router.get("/patients/{patient_id}/timeline", tags=["profiles"])
def get_timeline(patient_id: int, who: Staff, ctx: Ctx) -> list[dict[str, Any]]:
    """Get every measure across the patient's visits, with the change judgements between them."""
    with ctx.transaction() as db:
        return [{"measure": s.measure, "label": s.label, "group": s.group, "unit": s.unit,
                 "points": s.points} for s in profiles.timeline(db, who, patient_id)]


@router.get("/references", tags=["profiles"])
def list_references(who: Staff, ctx: Ctx) -> list[dict[str, Any]]:
    """List the references profiles may use: the bundled one and the clinic's own."""
    with ctx.transaction() as db:
        return [{"id": r.id, "name": r.name, "bundled": r.clinic_id is None,
                 "status": r.status, "error": r.error, "filter": r.filter}
                for r in profiles.references(db, who)]


@router.post("/references", status_code=202, response_model=Accepted, tags=["profiles"],
             openapi_extra={"requestBody": {"required": True, "content": {
                 "multipart/form-data": {"schema": {
                     "type": "object", "required": ["name", "table"],
                     "properties": {"name": {"type": "string", "maxLength": 200},
                                    "table": {"type": "string", "format": "binary"},
                                    "metadata": {"type": "string", "format": "binary"},
                                    "where": {"type": "string", "maxLength": 2000}}}}}}})
async def create_reference(request: Request, who: Owner, ctx: Ctx) -> dict[str, Any]:
    """Build the clinic's own reference from a cohort table, metadata and filter (owners)."""
    with ctx.store.holding():  # its files are kept until its rows are committed
        form = await read_upload_form(request, ctx.store, ctx.settings.max_upload_bytes,
                                      file_fields=("table", "metadata"))

        def save() -> dict[str, Any]:
            table = form.files.get("table")
            if table is None or table[1] is None:
                raise Invalid("table: " + (table[2] if table and table[2] else
                                           "the cohort's table file is required"),
                              fields=[{"field": "table", "message": "required"}])
            metadata = form.files.get("metadata")
            if metadata is not None and metadata[1] is None:
                raise Invalid(f"metadata: {metadata[2]}")
            with ctx.transaction() as db:
                ref, job = profiles.create_reference_from_store(
                    db, who, form.fields.get("name", ""), (table[0], table[1][0]),
                    (metadata[0], metadata[1][0]) if metadata and metadata[1] else None,
                    form.fields.get("where", ""))
                return {"id": ref.id, "job": job.id, "status": job.status}

        return await run_in_threadpool(save)


# ------------------------------------------------------------------ plan
@router.get("/patients/{patient_id}/plan", tags=["plan"])
def get_plan(patient_id: int, who: Staff, ctx: Ctx) -> list[dict[str, Any]]:
    """Get the patient's plan, with each item's history."""
    with ctx.transaction() as db:
        return [plan_dict(i) for i in plans.plan_items(db, who, patient_id)]


@router.post("/patients/{patient_id}/plan", status_code=201, response_model=Created,
             tags=["plan"])
def add_plan_item(patient_id: int, body: PlanOptionIn | PlanOwnIn, who: Clinician, ctx: Ctx
                  ) -> dict[str, Any]:
    """Add an option of a visit's profile (``visit_id``, ``option_id``) or your own item."""
    with ctx.transaction() as db:
        if isinstance(body, PlanOptionIn):
            visit = patients.get_visit(db, who, body.visit_id, action="")
            if visit.patient_id != patient_id:
                raise NotFound(f"patient {patient_id} has no visit {body.visit_id}")
            item = plans.add_option(db, ctx.store, who, body.visit_id, body.option_id,
                                    body.note)
        else:
            item = plans.add_own(db, who, patient_id, body.title, body.step, body.details)
        return {"id": item.id}


@router.post("/plan-items/{item_id}/status", tags=["plan"])
def set_plan_status(item_id: int, body: PlanStatusIn, who: Clinician, ctx: Ctx
                    ) -> dict[str, Any]:
    """Change a plan item's status (kept in its history)."""
    with ctx.transaction() as db:
        return plan_dict(plans.change_status(db, who, item_id, body.status, body.note,
                                             body.on))


# ------------------------------------------------------------------ audit
@router.get("/audit", tags=["audit"])
def get_audit(who: Owner, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0, le=10 ** 9)] = 0) -> dict[str, Any]:
    """Read the clinic's audit log, newest first, and check its hash chain (owners)."""
    with ctx.transaction() as db:
        rows, problems = records.audit_page(db, who, limit=limit, offset=offset)
        return {"chain_intact": not problems, "problems": problems, "events": [
            {f: _iso(getattr(r, f)) for f in records.AUDIT_FIELDS} for r in rows]}


@router.get("/audit.csv", tags=["audit"], responses={200: {"content": {"text/csv": {}}}})
def export_audit(who: Owner, ctx: Ctx) -> Response:
    """Export the clinic's whole audit log as CSV, with its hashes (owners)."""
    with ctx.transaction() as db:
        text = records.audit_csv(db, who)
    return Response(text, media_type="text/csv", headers={
        "Content-Disposition": 'attachment; filename="audit.csv"'})
