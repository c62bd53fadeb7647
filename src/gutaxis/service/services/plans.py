"""The patient's plan: options of the knowledge base (through a visit's profile) and own items."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.db import get_row, utcnow
from gutaxis.service.errors import Invalid, NotFound
from gutaxis.service.models import PLAN_STATUSES, Patient, PlanEvent, PlanItem
from gutaxis.service.services.patients import _date, get_patient
from gutaxis.service.store import FileStore

__all__ = ["plan_items", "add_option", "add_own", "change_status", "profile_options",
           "option_reasons", "STEPS"]

#: The 5R steps, in the order a plan is shown (own items may also name "other").
STEPS = ("remove", "replace", "reinoculate", "repair", "rebalance", "other")


def profile_options(document: dict[str, Any]) -> list[dict[str, Any]]:
    """List the options a profile offers, flattened in 5R step order.

    Parameters
    ----------
    document : dict
        A ``profile.json`` document; its ``options`` map a step to a list of
        options.

    Returns
    -------
    list of dict
        The options of the steps in :data:`STEPS` order, then those of any
        other steps in alphabetical order; within a step, as the profile
        lists them.

    Examples
    --------
    >>> doc = {"options": {"remove": [{"id": "x", "name": "X", "step": "remove"}]}}
    >>> [o["id"] for o in profile_options(doc)]
    ['x']
    """
    options = document.get("options") or {}
    out: list[dict[str, Any]] = []
    for step in (*STEPS, *sorted(set(options) - set(STEPS))):
        out.extend(options.get(step) or [])
    return out


def option_reasons(triggers: list[str], document: dict[str, Any]) -> list[str]:
    """Say in words what selected an option (``link:barrier=disturbed``: Gut barrier: disturbed).

    Parameters
    ----------
    triggers : list of str
        The option's ``triggered_by`` in its profile.
    document : dict
        The ``profile.json`` it comes from (its measures' and links' labels).

    Examples
    --------
    >>> doc = {"chain": [{"id": "barrier", "label": "Gut barrier"}],
    ...        "measures": [{"id": "marker:lps", "label": "LPS"}]}
    >>> option_reasons(["link:barrier=disturbed", "marker:lps=high"], doc)
    ['Gut barrier: disturbed', 'LPS: high']
    """
    labels = {m["id"]: m.get("label") or m["id"] for m in document.get("measures") or []}
    labels.update({f"link:{link['id']}": link.get("label") or link["id"]
                   for link in document.get("chain") or []})
    words = []
    for trigger in triggers:
        what, _, state = str(trigger).partition("=")
        words.append(f"{labels.get(what, what)}: {state}" if state else labels.get(what, what))
    return words


def plan_items(db: Session, who: Principal, patient_id: int) -> list[PlanItem]:
    """List the items of a patient's plan, oldest first (the read is audited).

    Each item's history is its ``events``.

    Raises
    ------
    NotFound
        No such patient in ``who``'s clinic.
    """
    patient = get_patient(db, who, patient_id, action="plan.read")
    return list(db.scalars(select(PlanItem).where(PlanItem.patient_id == patient.id)
                           .order_by(PlanItem.id)))


def _event(db: Session, who: Principal, item: PlanItem, status: str, note: str,
           on: dt.date) -> None:
    db.add(PlanEvent(clinic_id=who.clinic_id, plan_item_id=item.id, status=status,
                     note=note, on=on, user_id=who.user_id))


def add_option(db: Session, store: FileStore, who: Principal, visit_id: int, option_id: str,
               note: str = "") -> PlanItem:
    """Add an option of a visit's profile to the patient's plan (status ``proposed``).

    The item keeps the option's name, 5R step, evidence level and sources as
    the knowledge base gave them in the profile.
    """
    from gutaxis.service.services.profiles import profile_document

    document = profile_document(db, store, who, visit_id, action="")  # plan.add records it
    option = next((o for o in profile_options(document) if o.get("id") == option_id), None)
    if option is None:
        raise Invalid(f"option_id: the profile of visit {visit_id} offers no option "
                      f"{option_id!r}", fields=[{"field": "option_id", "message": "unknown"}])
    from gutaxis.service.services.patients import get_visit

    visit = get_visit(db, who, visit_id, action="")
    item = PlanItem(clinic_id=who.clinic_id, patient_id=visit.patient_id, visit_id=visit.id,
                    option_id=str(option["id"]), title=str(option.get("name") or option["id"]),
                    step=str(option.get("step") or ""),
                    evidence_level=str(option.get("evidence_level") or ""),
                    sources=list(option.get("sources") or []),
                    details=str(option.get("evidence_summary") or ""))
    db.add(item)
    db.flush()
    _event(db, who, item, "proposed", (note or "").strip()[:4000], dt.date.today())
    audit.record(db, who.actor, "plan.add", "plan_item", item.id,
                 f"patient={visit.patient_id}, option={item.option_id}")
    return item


def add_own(db: Session, who: Principal, patient_id: int, title: str, step: str = "other",
            details: str = "") -> PlanItem:
    """Add the practitioner's own item (no evidence level: it is marked as their own)."""
    patient = get_patient(db, who, patient_id, action="")
    title = (title or "").strip()
    if not title or len(title) > 300:
        raise Invalid("title: an item needs a title (what it is) of 1 to 300 characters",
                      fields=[{"field": "title", "message": "required"}])
    step = (step or "other").strip().lower()
    if step not in STEPS:
        raise Invalid(f"step: expected one of {', '.join(STEPS)}; got {step!r}",
                      fields=[{"field": "step", "message": "unknown step"}])
    item = PlanItem(clinic_id=who.clinic_id, patient_id=patient.id, title=title, step=step,
                    details=(details or "").strip()[:4000])
    db.add(item)
    db.flush()
    _event(db, who, item, "proposed", "", dt.date.today())
    audit.record(db, who.actor, "plan.add_own", "plan_item", item.id, f"patient={patient.id}")
    return item


def change_status(db: Session, who: Principal, item_id: int, status: str, note: str = "",
                  on: Any = None) -> PlanItem:
    """Set an item's status (proposed, active, paused, stopped, done) on a date, with a note.

    The date is today unless given; it may not be in the future (tomorrow is
    taken: a clinic east of the server), before the item's last change (its
    adding aside: earlier care may be recorded) nor before the date of birth.
    """
    item = get_row(db, PlanItem, item_id, for_update=True)  # changes one after the other
    if item is None or item.clinic_id != who.clinic_id:
        raise NotFound(f"no plan item {item_id}")
    if status not in PLAN_STATUSES:
        raise Invalid(f"status: expected one of {', '.join(PLAN_STATUSES)}; got {status!r}",
                      fields=[{"field": "status", "message": "unknown status"}])
    day = _date(on, "on", required=False) or dt.date.today()
    tomorrow = dt.date.today() + dt.timedelta(days=1)  # a clinic east of the server's clock
    if day > tomorrow:
        raise Invalid(f"on: {day} is in the future; a status change is dated the day it "
                      "happened",
                      fields=[{"field": "on", "message": "in the future"}])
    # the history reads forward in time (the status is its last change's); the first event,
    # the item's adding, is dated when it was added, and a record of earlier care may go
    # back before it, but not before the patient was born
    changes = list(db.scalars(select(PlanEvent).where(PlanEvent.plan_item_id == item.id)
                              .order_by(PlanEvent.id)))[1:]
    last = max(changes, key=lambda e: (e.on, e.id), default=None)
    # a change stored with a future date (before they were refused) does not block today's
    if last is not None and day < min(last.on, tomorrow):
        raise Invalid(f"on: {day} is before this item's last change ({last.on}, {last.status}); "
                      "a change can be dated that day or later",
                      fields=[{"field": "on", "message": "before the last change"}])
    born = db.scalar(select(Patient.birth_date).where(Patient.id == item.patient_id))
    if born is not None and day < born:
        raise Invalid(f"on: {day} is before the patient's date of birth ({born})",
                      fields=[{"field": "on", "message": "before the date of birth"}])
    item.status = status
    item.updated_at = utcnow()
    _event(db, who, item, status, (note or "").strip()[:4000], day)
    audit.record(db, who.actor, "plan.status", "plan_item", item.id, f"status={status}")
    return item
