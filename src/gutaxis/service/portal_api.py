"""The portal's JSON API: the patient's own record (``/api/v1/portal``), the staff's routes.

The patient signs in with ``POST /api/v1/session`` (a session cookie; send
its ``csrf_token`` as ``X-CSRF-Token`` with unsafe requests) and reaches only
``/api/v1/portal/...``: their diary (every version of an entry kept), their
visits' "For you" part, their plan with its reasons, their timeline.  Staff
invite the patient, revoke access, set the diary up and read the diary the
patient shares (never a private entry) under ``/api/v1/patients/{id}/``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gutaxis.service.access import CLINICIANS, PATIENT, STAFF, Principal
from gutaxis.service.context import AppContext, get_context
from gutaxis.service.schemas import ErrorOut
from gutaxis.service.services import diary, portal, profiles

__all__ = ["router", "DiaryEntryIn", "PortalSettingsIn", "PortalInviteIn"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 422, 429)}
router = APIRouter(prefix="/api/v1", responses=_ERRORS)

Ctx = Annotated[AppContext, Depends(get_context)]
Patient = Annotated[Principal, Depends(PATIENT)]
Staff = Annotated[Principal, Depends(STAFF)]
Clinician = Annotated[Principal, Depends(CLINICIANS)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=4000)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("the NUL character (\\u0000) is not allowed")
        return value


class DiaryEntryIn(_In):
    """A diary entry: its kind, when (the patient's time; now when left out), its fields.

    ``data`` holds the kind's fields: meal/drink ``text`` and/or ``foods``
    (catalogue ids) and ``portion`` (small, usual, large); symptoms
    ``scores`` ({symptom: 0-10}); stool ``bristol`` (1-7); sleep ``hours``
    and/or ``quality`` (0-10); stress ``score`` (0-10); medication ``name``
    and ``dose``; cycle ``day``; weight ``kg``; note ``text``; any kind a
    ``note``.
    """

    kind: Literal["meal", "drink", "symptoms", "stool", "sleep", "stress", "medication",
                  "cycle", "weight", "note"]
    at: dt.datetime | None = None
    private: bool = False
    data: dict[str, Any] = Field(default_factory=dict)


class DiaryEditIn(_In):
    """A change of an entry (its kind stays): the new fields, time and private flag."""

    at: dt.datetime | None = None
    private: bool = False
    data: dict[str, Any] = Field(default_factory=dict)


class PortalSettingsIn(_In):
    """The diary's set-up; only the fields given change."""

    primary_symptoms: list[Annotated[str, Field(max_length=60)]] | None = Field(
        default=None, max_length=8)
    hide_weight: bool | None = None
    time_zone: str | None = Field(default=None, max_length=64)


class PortalInviteIn(_In):
    """The address the patient will sign in with."""

    email: str = Field(max_length=320)


def _versions(entry: Any, versions: list[Any]) -> list[dict[str, Any]]:
    return [{"version": v.version, "at": v.at.isoformat(timespec="minutes"),
             "private": v.private, "deleted": v.deleted, "data": dict(v.data),
             "written_at": v.created_at.isoformat()} for v in versions]


# ------------------------------------------------------------------ the patient
@router.get("/portal/me", tags=["portal"])
def portal_me(who: Patient, ctx: Ctx) -> dict[str, Any]:
    """Show the signed-in patient and how their diary is set up."""
    with ctx.transaction() as db:
        patient = portal.own_patient(db, who, action="portal.me")
        settings = portal.portal_settings(db, who)
        return {"patient_id": patient.id, "name": patient.name, "email": who.email,
                "primary_symptoms": list(settings.primary_symptoms),
                "kinds": list(diary.visible_kinds(settings)),
                "hide_weight": settings.hide_weight, "time_zone": settings.time_zone}


@router.get("/portal/diary", tags=["portal"])
def portal_diary(who: Patient, ctx: Ctx, start: Annotated[dt.date | None, Query()] = None,
                 end: Annotated[dt.date | None, Query()] = None) -> list[dict[str, Any]]:
    """List your diary's entries (private ones included), oldest first, each as last written."""
    with ctx.transaction() as db:
        return [diary.entry_dict(e, v) for e, v in diary.own_entries(db, who, start=start,
                                                                      end=end)]


@router.post("/portal/diary", status_code=201, tags=["portal"])
def portal_diary_add(body: DiaryEntryIn, who: Patient, ctx: Ctx) -> dict[str, Any]:
    """Write a new entry."""
    with ctx.transaction() as db:
        entry = diary.add_entry(db, who, body.kind, body.data, at=body.at, private=body.private)
        _, versions = diary.own_entry(db, who, entry.id, action="")
        return diary.entry_dict(entry, versions[-1])


@router.get("/portal/diary/{entry_id}", tags=["portal"])
def portal_diary_entry(entry_id: int, who: Patient, ctx: Ctx) -> dict[str, Any]:
    """Get one entry with every version, oldest first (a deletion is the last one)."""
    with ctx.transaction() as db:
        entry, versions = diary.own_entry(db, who, entry_id)
        return {**diary.entry_dict(entry, versions[-1]),
                "versions": _versions(entry, versions)}


@router.put("/portal/diary/{entry_id}", tags=["portal"])
def portal_diary_edit(entry_id: int, body: DiaryEditIn, who: Patient, ctx: Ctx
                      ) -> dict[str, Any]:
    """Change an entry: a new version (the earlier ones are kept)."""
    with ctx.transaction() as db:
        entry = diary.edit_entry(db, who, entry_id, body.data, at=body.at,
                                 private=body.private)
        _, versions = diary.own_entry(db, who, entry.id, action="")
        return {**diary.entry_dict(entry, versions[-1]),
                "versions": _versions(entry, versions)}


@router.delete("/portal/diary/{entry_id}", status_code=204, tags=["portal"])
def portal_diary_delete(entry_id: int, who: Patient, ctx: Ctx) -> Response:
    """Delete an entry: a last version that says so (the earlier ones are kept)."""
    with ctx.transaction() as db:
        diary.delete_entry(db, who, entry_id)
    return Response(status_code=204)


@router.get("/portal/visits", tags=["portal"])
def portal_visits(who: Patient, ctx: Ctx) -> list[dict[str, Any]]:
    """List your visits, newest first, each with the "For you" part of its profile."""
    with ctx.transaction() as db:
        return [{"visit_id": v.visit_id, "date": v.date.isoformat(), "for_you": v.for_you,
                 "status": v.status} for v in portal.own_visits(db, ctx.store, who)]


@router.get("/portal/plan", tags=["portal"])
def portal_plan(who: Patient, ctx: Ctx) -> list[dict[str, Any]]:
    """List your plan's items, with why each is there."""
    with ctx.transaction() as db:
        return [{"id": i.id, "title": i.title, "status": i.status,
                 "status_words": i.status_words, "step": i.step,
                 "since": i.since.isoformat() if i.since else None, "why": i.why,
                 "evidence": i.evidence, "own": i.own, "advice": i.advice,
                 "notes": i.notes}
                for i in portal.own_plan(db, ctx.store, who)]


@router.get("/portal/timeline", tags=["portal"])
def portal_timeline(who: Patient, ctx: Ctx) -> dict[str, Any]:
    """Get your diary's scores by day and your visits' measures."""
    with ctx.transaction() as db:
        patient = portal.own_patient(db, who)
        series = profiles.timeline(db, who, patient.id)
        daily = diary.daily_scores(diary.own_entries(db, who, action=""))
        return {"diary": [{"label": label, "points": [{"date": d.isoformat(), "value": v}
                                                       for d, v in points]}
                          for label, points in daily.items()],
                "visits": [{"measure": s.measure, "label": s.label, "group": s.group,
                            "unit": s.unit, "points": s.points} for s in series]}


# ------------------------------------------------------------------ staff
def _status(status: portal.PortalStatus) -> dict[str, Any]:
    return {"account_email": status.account_email or None, "active": status.active,
            "invitation_expires": status.invitation_expires.isoformat() + "Z"
            if status.invitation_expires else None,
            "primary_symptoms": status.primary_symptoms, "hide_weight": status.hide_weight,
            "time_zone": status.time_zone}


@router.get("/patients/{patient_id}/portal", tags=["portal"])
def get_portal(patient_id: int, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """Get where the patient's portal stands and how their diary is set up."""
    with ctx.transaction() as db:
        return _status(portal.portal_status(db, who, patient_id))


@router.put("/patients/{patient_id}/portal", tags=["portal"])
def set_portal(patient_id: int, body: PortalSettingsIn, who: Clinician, ctx: Ctx
               ) -> dict[str, Any]:
    """Set up the patient's diary: primary symptoms, weight hidden, time zone."""
    with ctx.transaction() as db:
        portal.set_portal_settings(db, who, patient_id,
                                   primary_symptoms=body.primary_symptoms,
                                   hide_weight=body.hide_weight, time_zone=body.time_zone)
        return _status(portal.portal_status(db, who, patient_id, action=""))


@router.post("/patients/{patient_id}/portal/invitation", status_code=201, tags=["portal"])
def invite(patient_id: int, body: PortalInviteIn, request: Request, who: Clinician, ctx: Ctx
           ) -> dict[str, Any]:
    """Make the patient's one-time link (shown once; an open earlier link stops working)."""
    with ctx.transaction() as db:
        token, invitation = portal.invite_patient(db, ctx.settings, who, patient_id,
                                                  body.email)
        return {"link": str(request.base_url).rstrip("/") + f"/portal/invite/{token}",
                "email": invitation.email,
                "expires_at": invitation.expires_at.isoformat() + "Z"}


@router.delete("/patients/{patient_id}/portal/access", status_code=204, tags=["portal"])
def revoke(patient_id: int, who: Clinician, ctx: Ctx) -> Response:
    """End the patient's access to the portal (the diary stays in the record)."""
    with ctx.transaction() as db:
        portal.revoke_access(db, who, patient_id)
    return Response(status_code=204)


@router.get("/patients/{patient_id}/diary", tags=["portal"])
def shared_diary(patient_id: int, who: Staff, ctx: Ctx,
                 limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    """List the diary entries the patient shares (never a private one), newest first."""
    with ctx.transaction() as db:
        return [{k: v for k, v in diary.entry_dict(e, ver).items() if k != "private"}
                for e, ver in diary.shared_entries(db, who, patient_id, limit=limit)]
