"""Elimination-and-reintroduction protocols: set up by the practitioner, followed by the patient.

The practitioner chooses the groups (from the food catalogue), a template of
the knowledge base (its elimination length is the default, with its source),
and the options that make the answer stronger.  The calendar and the verdicts
are computed, never stored (:mod:`gutaxis.challenge`): the calendar from the
settings and the diary (a washout lasts until the symptoms are back), the
verdicts from the diary and the challenges that have happened.  Staff see the
shared diary only; while a blinded protocol runs, the patient sees capsule
numbers and no verdicts (the key stays hidden until the end).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gutaxis.challenge import (
    Calendar,
    ProtocolSpec,
    Verdict,
    VerdictOptions,
    build_calendar,
    challenge_verdicts,
    diary_from_rows,
)
from gutaxis.exceptions import GutaxisError
from gutaxis.knowledge import ProtocolTemplate, load_challenge_knowledge, load_food_catalog
from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.db import utcnow
from gutaxis.service.errors import Conflict, Invalid, NotAllowed, NotFound
from gutaxis.service.models import ChallengeProtocol, PortalAccount
from gutaxis.service.services.diary import diary_rows
from gutaxis.service.services.patients import get_patient, lock_patient
from gutaxis.service.services.portal import local_now

__all__ = ["ProtocolView", "group_choices", "template_choices", "create_protocol",
           "protocol_view", "own_protocol_view", "stop_challenge", "end_protocol"]


@dataclasses.dataclass(frozen=True)
class ProtocolView:
    """A protocol as of today: its settings, calendar and (where shown) verdicts."""

    protocol: ChallengeProtocol
    spec: ProtocolSpec
    calendar: Calendar
    blinded: bool
    #: Verdicts on the challenges that have happened (empty when hidden or not possible).
    verdicts: list[Verdict]
    #: Why there are no verdicts (empty when there are).
    verdict_note: str
    template: ProtocolTemplate | None
    group_names: dict[str, str]

    @property
    def key_hidden(self) -> bool:
        """The blinded key is still hidden from the patient."""
        return self.blinded and not self.calendar.finished


def group_choices() -> list[dict[str, str]]:
    """Return the food catalogue's groups a protocol can remove (id, name, kind)."""
    return [{"id": g.id, "name": g.name, "kind": g.kind} for g in load_food_catalog().groups]


def template_choices() -> list[ProtocolTemplate]:
    """Return the knowledge base's protocol templates."""
    return list(load_challenge_knowledge().protocols)


def _staff(who: Principal) -> None:
    if who.patient_id is not None:
        raise NotAllowed("a patient may not do this")


def _active(db: Session, patient_id: int) -> ChallengeProtocol | None:
    return db.scalar(select(ChallengeProtocol).where(
        ChallengeProtocol.patient_id == patient_id, ChallengeProtocol.ended_at.is_(None)))


def _integer(values: dict[str, Any], name: str, default: int | None) -> int:
    raw = values.get(name)
    if raw in (None, ""):
        if default is None:
            raise Invalid(f"{name}: required", fields=[{"field": name, "message": "required"}])
        return default
    try:
        return int(str(raw).strip())
    except ValueError:
        raise Invalid(f"{name}: expected a whole number; got {raw!r}",
                      fields=[{"field": name, "message": "a whole number"}]) from None


def _flag(values: dict[str, Any], name: str) -> bool:
    return str(values.get(name) or "").strip().casefold() in ("1", "true", "on", "yes")


def create_protocol(db: Session, who: Principal, patient_id: int,
                    values: dict[str, Any]) -> ChallengeProtocol:
    """Set up a protocol for a patient (staff; audited as ``protocol.create``).

    Parameters
    ----------
    values : dict
        ``groups`` (catalogue group ids), ``template`` (a ``challenge.yaml``
        protocol id, or empty), ``elimination_start`` (ISO date),
        ``elimination_days`` (default: the template's), ``challenge_days``,
        ``washout_min_days`` (defaults: the template's), ``randomised``,
        ``repeats``, ``shams``.

    Raises
    ------
    Invalid
        A field out of range or an unknown group or template (the message names it).
    Conflict
        The patient already has an active protocol.
    """
    _staff(who)
    patient = get_patient(db, who, patient_id, action="")
    lock_patient(db, patient.id)  # two set-ups at once: one active protocol
    if _active(db, patient.id) is not None:
        raise Conflict("this patient already follows a protocol; end it before setting up "
                       "another")
    template = None
    template_id = str(values.get("template") or "").strip()
    if template_id:
        try:
            template = load_challenge_knowledge().protocol(template_id)
        except KeyError:
            raise Invalid(f"template: unknown protocol {template_id!r}",
                          fields=[{"field": "template", "message": "unknown"}]) from None
    raw_groups = values.get("groups") or []
    groups = [raw_groups] if isinstance(raw_groups, str) else list(raw_groups)
    known = {g["id"] for g in group_choices()}
    unknown = [g for g in groups if g not in known]
    if unknown:
        raise Invalid(f"groups: unknown food group(s) {', '.join(map(repr, unknown))}",
                      fields=[{"field": "groups", "message": "unknown group"}])
    if not groups:
        raise Invalid("groups: tick at least one food group to remove and test",
                      fields=[{"field": "groups", "message": "required"}])
    try:
        start = dt.date.fromisoformat(str(values.get("elimination_start") or "").strip())
    except ValueError:
        raise Invalid("elimination_start: expected a date (YYYY-MM-DD)",
                      fields=[{"field": "elimination_start", "message": "a date"}]) from None
    # a protocol is followed in the diary: it cannot start before the patient was born, nor
    # further back or ahead than any date of the record (1900 to a year ahead)
    born = patient.birth_date
    earliest = max(born or dt.date(1900, 1, 1), dt.date(1900, 1, 1))
    latest = dt.date.today() + dt.timedelta(days=366)
    if start < earliest:
        raise Invalid(f"elimination_start: {start} is before "
                      + (f"the date of birth ({born})" if born else "1900-01-01"),
                      fields=[{"field": "elimination_start", "message": "too early"}])
    if start > latest:
        raise Invalid(f"elimination_start: {start} is more than a year ahead ({latest} at "
                      "the latest)",
                      fields=[{"field": "elimination_start", "message": "too late"}])
    if template is None and values.get("elimination_days") in (None, ""):
        raise Invalid("elimination_days: with no template, give the number of elimination days "
                      "(1 to 120), or choose a template for its default",
                      fields=[{"field": "elimination_days", "message": "required"}])
    default_days = (template.elimination_days.default
                    if template and template.elimination_days else None)
    try:
        spec = ProtocolSpec(
            tuple(groups), start,
            _integer(values, "elimination_days", default_days),
            challenge_days=_integer(values, "challenge_days",
                                    template.challenge_days if template else 3),
            washout_min_days=_integer(values, "washout_min_days",
                                      template.washout_min_days if template else 2),
            randomised=_flag(values, "randomised"), repeats=_integer(values, "repeats", 1),
            shams=_integer(values, "shams", 0), seed=secrets.randbelow(2 ** 31))
    except GutaxisError as exc:
        field = str(exc).split(" ", 1)[0].rstrip(":")
        raise Invalid(str(exc), fields=[{"field": field, "message": str(exc)}]) from None
    row = ChallengeProtocol(
        clinic_id=who.clinic_id, patient_id=patient.id, template=template_id,
        groups=list(spec.groups), elimination_start=spec.elimination_start,
        elimination_days=spec.elimination_days, challenge_days=spec.challenge_days,
        washout_min_days=spec.washout_min_days, randomised=spec.randomised,
        repeats=spec.repeats, shams=spec.shams, seed=spec.seed, stops={},
        created_by=who.user_id)
    db.add(row)
    db.flush()
    audit.record(db, who.actor, "protocol.create", "patient", patient.id,
                 detail=f"protocol {row.id}")
    return row


def _spec(row: ChallengeProtocol) -> ProtocolSpec:
    stops = {int(k): dt.date.fromisoformat(v) for k, v in (row.stops or {}).items()}
    return ProtocolSpec(tuple(row.groups), row.elimination_start, row.elimination_days,
                        challenge_days=row.challenge_days,
                        washout_min_days=row.washout_min_days, randomised=row.randomised,
                        repeats=row.repeats, shams=row.shams, seed=row.seed, stops=stops)


def _settings(db: Session, patient_id: int) -> tuple[list[str], str]:
    account = db.scalar(select(PortalAccount).where(PortalAccount.patient_id == patient_id))
    if account is None:
        return [], "UTC"
    return list(account.primary_symptoms or []), account.time_zone or "UTC"


def _diary(db: Session, who: Principal, row: ChallengeProtocol, today: dt.date | None
           ) -> tuple[list[Any], dict[str, dict[dt.date, float]], list[str], dt.date]:
    """Return the shared diary's rows, the symptoms' daily means, the symptoms, today."""
    symptoms, zone = _settings(db, row.patient_id)
    today = today or local_now(zone).date()
    # the shared diary only, for the practitioner and the patient alike: the calendar and the
    # verdicts are the same on both sides, and a private entry stays out of both
    rows = diary_rows(db, who, row.patient_id, include_private=False)
    scores: dict[str, dict[dt.date, list[float]]] = {}
    for at, kind, item, value in rows:
        if kind == "symptom" and (not symptoms or item in symptoms):
            scores.setdefault(str(item), {}).setdefault(at.date(), []).append(float(value))
    daily = {s: {d: sum(v) / len(v) for d, v in by_day.items()} for s, by_day in scores.items()}
    return rows, daily, symptoms, today


def _view(db: Session, who: Principal, row: ChallengeProtocol, *, for_patient: bool,
          today: dt.date | None) -> ProtocolView:
    rows, daily, symptoms, today = _diary(db, who, row, today)
    spec = _spec(row)
    calendar = build_calendar(spec, daily, today)
    blinded = spec.shams > 0
    verdicts: list[Verdict] = []
    note = ""
    past = calendar.past_challenges()
    if for_patient and blinded and not calendar.finished:
        note = "The results are shown when all the tests are done (the capsules are blinded)."
    elif not [c for c in past if not c.sham]:
        note = ("No food has been tested yet: only the sham capsule so far." if past
                else "No test has been done yet.")
    elif not daily:
        note = "No shared symptom scores in the diary yet."
    else:
        diary = diary_from_rows([r for r in rows if r[1] == "symptom"], "the diary")
        try:
            verdicts = challenge_verdicts(diary, past, VerdictOptions(
                symptoms=tuple(s for s in symptoms if s in daily) or None))
        except GutaxisError as exc:
            note = str(exc)
    template = None
    if row.template:
        try:
            template = load_challenge_knowledge().protocol(row.template)
        except KeyError:  # a template removed from a later knowledge base
            template = None
    names = {g["id"]: g["name"] for g in group_choices()}
    names["sham"] = "sham capsule"
    return ProtocolView(row, spec, calendar, blinded, verdicts, note, template, names)


def protocol_view(db: Session, who: Principal, patient_id: int, *,
                  today: dt.date | None = None) -> ProtocolView | None:
    """Return a patient's active protocol as of today (staff; audited as ``protocol.read``).

    Staff see the key of a blinded protocol and the verdicts from the shared
    diary (private entries are never used for them).
    """
    _staff(who)
    patient = get_patient(db, who, patient_id, action="")
    row = _active(db, patient.id)
    audit.record(db, who.actor, "protocol.read", "patient", patient.id)
    if row is None:
        return None
    return _view(db, who, row, for_patient=False, today=today)


def own_protocol_view(db: Session, who: Principal, *,
                      today: dt.date | None = None) -> ProtocolView | None:
    """Return the signed-in patient's active protocol (audited as ``protocol.read``)."""
    if who.patient_id is None:
        raise NotAllowed("this page is the patient's own; staff see the patient's page")
    patient = get_patient(db, who, who.patient_id, action="")
    row = _active(db, patient.id)
    audit.record(db, who.actor, "protocol.read", "patient", patient.id)
    if row is None:
        return None
    return _view(db, who, row, for_patient=True, today=today)


def stop_challenge(db: Session, who: Principal, patient_id: int, position: int, *,
                   today: dt.date | None = None) -> None:
    """Stop the challenge under way today (the patient or staff; audited as ``protocol.stop``).

    Raises
    ------
    NotFound
        No active protocol, or no challenge ``position``.
    Invalid
        That challenge is not under way today.
    """
    patient = get_patient(db, who, patient_id, action="")
    row = _active(db, patient.id)
    if row is None:
        raise NotFound("no active protocol")
    _, daily, _, today = _diary(db, who, row, today)
    calendar = build_calendar(_spec(row), daily, today)
    match = [c for c in calendar.challenges if c.position == position]
    if not match:
        raise NotFound(f"no challenge {position}")
    if not match[0].start <= today <= match[0].end:
        raise Invalid("only the test under way today can be stopped")
    row.stops = {**(row.stops or {}), str(position): today.isoformat()}
    audit.record(db, who.actor, "protocol.stop", "patient", patient.id,
                 detail=f"protocol {row.id} challenge {position}")


def end_protocol(db: Session, who: Principal, patient_id: int) -> None:
    """End the patient's active protocol (staff; audited as ``protocol.end``)."""
    _staff(who)
    patient = get_patient(db, who, patient_id, action="")
    row = _active(db, patient.id)
    if row is None:
        raise NotFound("no active protocol")
    row.ended_at = utcnow()
    audit.record(db, who.actor, "protocol.end", "patient", patient.id,
                 detail=f"protocol {row.id}")
