"""The JSON API of elimination-and-reintroduction protocols.

Staff set a protocol up, read its calendar and verdicts, stop a challenge and
end the protocol under ``/api/v1/patients/{id}/protocol``; the patient reads
their own (capsule numbers and no verdicts while a blinded protocol runs) and
stops today's challenge under ``/api/v1/portal/protocol``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from gutaxis.service.access import CLINICIANS, PATIENT, STAFF, Principal
from gutaxis.service.context import AppContext, get_context
from gutaxis.service.schemas import ErrorOut
from gutaxis.service.services import foods, protocols

__all__ = ["router", "ProtocolIn", "StopIn", "FoodIn", "protocol_dict", "sentence_names"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 422, 429)}
router = APIRouter(prefix="/api/v1", responses=_ERRORS)

Ctx = Annotated[AppContext, Depends(get_context)]
Patient = Annotated[Principal, Depends(PATIENT)]
Staff = Annotated[Principal, Depends(STAFF)]
Clinician = Annotated[Principal, Depends(CLINICIANS)]


class ProtocolIn(BaseModel):
    """A protocol: the food-catalogue groups to remove, a template, lengths and options."""

    model_config = ConfigDict(extra="forbid", str_max_length=200)

    groups: list[Annotated[str, Field(max_length=60)]] = Field(min_length=1, max_length=30)
    template: str = ""
    elimination_start: str
    elimination_days: int | None = None
    challenge_days: int | None = None
    washout_min_days: int | None = None
    randomised: bool = False
    repeats: int = 1
    shams: int = 0


class StopIn(BaseModel):
    """Which challenge to stop (its position in the calendar, from 0)."""

    model_config = ConfigDict(extra="forbid")

    position: int = Field(ge=0, le=1000)


def sentence_names(names: dict[str, str]) -> dict[str, str]:
    """Group names as said within a sentence ("gluten-containing grains")."""
    return {k: v[:1].lower() + v[1:] for k, v in names.items()}


def protocol_dict(view: protocols.ProtocolView | None, *, for_patient: bool) -> dict[str, Any]:
    """Return a protocol view as JSON (the key and verdicts left out while hidden)."""
    if view is None:
        return {"protocol": None}
    hidden = for_patient and view.key_hidden
    calendar = view.calendar
    challenges = []
    for c in calendar.challenges:
        item: dict[str, Any] = {"position": c.position, "label": c.label(hidden),
                                "start": c.start.isoformat(), "end": c.end.isoformat(),
                                "portions": list(c.portions), "status": c.status}
        if not hidden:
            item.update(food_group=c.food_group, sham=c.sham)
        challenges.append(item)
    row = view.protocol
    return {"protocol": {
        "id": row.id, "template": row.template, "groups": list(row.groups),
        "elimination_start": row.elimination_start.isoformat(),
        "elimination_days": row.elimination_days, "challenge_days": row.challenge_days,
        "washout_min_days": row.washout_min_days, "randomised": row.randomised,
        "repeats": row.repeats, "shams": row.shams, "blinded": view.blinded,
        "key_hidden": hidden},
        "phase": calendar.phase, "today": calendar.today.isoformat(),
        "elimination_end": calendar.elimination_end.isoformat(),
        "today_instruction": calendar.today_instruction(hidden, sentence_names(view.group_names)),
        "waiting_reason": calendar.waiting_reason, "challenges": challenges,
        "verdicts": [] if hidden else [v.to_json() for v in view.verdicts],
        "verdict_note": view.verdict_note}


@router.get("/patients/{patient_id}/protocol", tags=["protocols"])
def protocol_get(patient_id: int, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """Show a patient's active protocol: calendar, the blinded key, verdicts (shared diary)."""
    with ctx.transaction() as db:
        return protocol_dict(protocols.protocol_view(db, who, patient_id), for_patient=False)


@router.post("/patients/{patient_id}/protocol", status_code=201, tags=["protocols"])
def protocol_create(patient_id: int, body: ProtocolIn, who: Clinician, ctx: Ctx
                    ) -> dict[str, Any]:
    """Set up a protocol (one active protocol per patient)."""
    with ctx.transaction() as db:
        protocols.create_protocol(db, who, patient_id, body.model_dump())
        return protocol_dict(protocols.protocol_view(db, who, patient_id), for_patient=False)


@router.post("/patients/{patient_id}/protocol/stop", tags=["protocols"])
def protocol_stop(patient_id: int, body: StopIn, who: Clinician, ctx: Ctx) -> dict[str, Any]:
    """Stop the challenge under way today (the next one moves up)."""
    with ctx.transaction() as db:
        protocols.stop_challenge(db, who, patient_id, body.position)
        return protocol_dict(protocols.protocol_view(db, who, patient_id), for_patient=False)


@router.post("/patients/{patient_id}/protocol/end", status_code=204, tags=["protocols"])
def protocol_end(patient_id: int, who: Clinician, ctx: Ctx) -> Response:
    """End the patient's active protocol."""
    with ctx.transaction() as db:
        protocols.end_protocol(db, who, patient_id)
    return Response(status_code=204)


@router.get("/portal/protocol", tags=["portal"])
def portal_protocol(who: Patient, ctx: Ctx) -> dict[str, Any]:
    """Show your plan of tests: today's instruction and the calendar."""
    with ctx.transaction() as db:
        return protocol_dict(protocols.own_protocol_view(db, who), for_patient=True)


@router.post("/portal/protocol/stop", tags=["portal"])
def portal_protocol_stop(body: StopIn, who: Patient, ctx: Ctx) -> dict[str, Any]:
    """Stop today's test (for example because your symptoms are too strong)."""
    with ctx.transaction() as db:
        protocols.stop_challenge(db, who, who.patient_id or 0, body.position)
        return protocol_dict(protocols.own_protocol_view(db, who), for_patient=True)


class FoodIn(BaseModel):
    """A clinic's own food: its name, other names, groups, a source URL, a note."""

    model_config = ConfigDict(extra="forbid", str_max_length=2000)

    name: str = Field(min_length=2, max_length=200)
    aliases: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=20)
    groups: list[Annotated[str, Field(max_length=60)]] = Field(default=[], max_length=30)
    source: str = ""
    note: str = ""


def _food_dict(row: Any) -> dict[str, Any]:
    return {"id": row.food_id, "name": row.name, "aliases": list(row.aliases),
            "groups": list(row.groups), "note": row.note}


@router.get("/foods", tags=["foods"])
def foods_list(who: Staff, ctx: Ctx) -> list[dict[str, Any]]:
    """List the clinic's own foods (added to the shipped food catalogue)."""
    with ctx.transaction() as db:
        return [_food_dict(r) for r in foods.clinic_foods(db, who.clinic_id)]


@router.post("/foods", status_code=201, tags=["foods"])
def foods_add(body: FoodIn, who: Clinician, ctx: Ctx) -> dict[str, Any]:
    """Add a food to the clinic's catalogue (patients' meals are matched with it)."""
    with ctx.transaction() as db:
        return _food_dict(foods.add_clinic_food(db, who, body.model_dump()))
