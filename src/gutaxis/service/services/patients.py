"""Patients and visits, always within the principal's clinic."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any, Literal, overload

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.db import get_row, utcnow
from gutaxis.service.errors import Invalid, NotFound
from gutaxis.service.models import Patient, Visit

__all__ = ["create_patient", "update_patient", "get_patient", "search_patients",
           "create_visit", "update_visit", "get_visit", "SEXES", "name_key", "patient_fields"]

SEXES = ("female", "male", "other", "unknown")
_TEXT_LIMITS = {"name": 200, "contact": 2000, "conditions": 4000}


def name_key(name: str) -> str:
    """Fold a name for search: case and accents folded, white space trimmed and collapsed.

    ``garcia`` finds ``García`` (the letters are decomposed, NFKD, and their
    combining marks dropped); the stored name keeps its accents.

    Examples
    --------
    >>> name_key("  Ana   MARÍA Straße ")
    'ana maria strasse'
    """
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@overload
def _date(value: Any, field: str, *, required: Literal[True]) -> dt.date: ...


@overload
def _date(value: Any, field: str, *, required: bool) -> dt.date | None: ...


def _date(value: Any, field: str, *, required: bool) -> dt.date | None:
    if value in (None, ""):
        if required:
            raise Invalid(f"{field}: a date is required (YYYY-MM-DD)",
                          fields=[{"field": field, "message": "required"}])
        return None
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise Invalid(f"{field}: expected a date YYYY-MM-DD; got {value!r}",
                          fields=[{"field": field, "message": "not a date"}]) from None
    if not dt.date(1900, 1, 1) <= day <= dt.date.today() + dt.timedelta(days=366):
        raise Invalid(f"{field}: {day} is outside 1900-01-01 … next year",
                      fields=[{"field": field, "message": "out of range"}])
    return day


def patient_fields(values: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Check a patient's fields (name, birth_date, sex, contact, conditions).

    Raises
    ------
    Invalid
        Naming the field, what was expected and what was found.
    """
    out: dict[str, Any] = {}
    for field, limit in _TEXT_LIMITS.items():
        if field not in values:
            continue
        text = values[field]
        text = "" if text is None else str(text).strip()
        if len(text) > limit:
            raise Invalid(f"{field}: at most {limit} characters; got {len(text)}",
                          fields=[{"field": field, "message": "too long"}])
        out[field] = text
    if not partial or "name" in values:
        if not out.get("name"):
            raise Invalid("name: a patient needs a name", fields=[{"field": "name",
                                                                    "message": "required"}])
    if "birth_date" in values:
        out["birth_date"] = _date(values["birth_date"], "birth_date", required=False)
    if "sex" in values:
        sex = (values["sex"] or "unknown").strip().lower()
        if sex not in SEXES:
            raise Invalid(f"sex: expected one of {', '.join(SEXES)}; got {values['sex']!r}",
                          fields=[{"field": "sex", "message": "unknown value"}])
        out["sex"] = sex
    return out


def create_patient(db: Session, who: Principal, values: dict[str, Any]) -> Patient:
    """Create a patient of ``who``'s clinic, with ``who`` as practitioner.

    Returns
    -------
    Patient
        The new patient, flushed; its creation is audited.

    Raises
    ------
    Invalid
        A field that :func:`patient_fields` refuses.
    """
    fields = patient_fields(values)
    patient = Patient(clinic_id=who.clinic_id, practitioner_id=who.user_id,
                      name_key=name_key(fields["name"]), **fields)
    db.add(patient)
    db.flush()
    audit.record(db, who.actor, "patient.create", "patient", patient.id)
    return patient


def _patient(db: Session, who: Principal, patient_id: int) -> Patient:
    patient = get_row(db, Patient, patient_id)
    # a patient (the portal) finds only their own record
    if patient is None or patient.clinic_id != who.clinic_id or (
            who.patient_id is not None and patient.id != who.patient_id):
        raise NotFound(f"no patient {patient_id}")
    return patient


def get_patient(db: Session, who: Principal, patient_id: int, *, action: str = "patient.read"
                ) -> Patient:
    """Get one patient of ``who``'s clinic (audited as ``action``, a read by default).

    Raises
    ------
    NotFound
        No such patient in this clinic (another clinic's patient included).
    """
    patient = _patient(db, who, patient_id)
    if action:  # "" when the caller records its own action (an erasure, a plan item)
        audit.record(db, who.actor, action, "patient", patient.id)
    return patient


def update_patient(db: Session, who: Principal, patient_id: int, values: dict[str, Any]
                   ) -> Patient:
    """Change a patient's fields (only those given)."""
    patient = _patient(db, who, patient_id)
    fields = patient_fields(values, partial=True)
    for key, value in fields.items():
        setattr(patient, key, value)
    if "name" in fields:
        patient.name_key = name_key(fields["name"])
    patient.updated_at = utcnow()
    audit.record(db, who.actor, "patient.update", "patient", patient.id,
                 "fields=" + ",".join(sorted(fields)))
    return patient


def search_patients(db: Session, who: Principal, query: str = "", *, limit: int = 50,
                    offset: int = 0) -> tuple[list[Patient], int]:
    """Find the clinic's patients whose name contains every word of ``query``.

    An empty ``query`` finds every patient of the clinic.

    Returns
    -------
    patients : list of Patient
        Sorted by name, at most ``limit``.
    total : int
        How many match.
    """
    if "\x00" in (query or ""):  # no name holds it, and PostgreSQL refuses it in a query
        raise Invalid("q: the NUL character is not allowed",
                      fields=[{"field": "q", "message": "NUL character"}])
    limit = max(1, min(int(limit), 200))
    conditions = [Patient.clinic_id == who.clinic_id]
    for word in name_key(query or "")[:200].split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Patient.name_key.like(f"%{escaped}%", escape="\\"))
    total = db.scalar(select(func.count()).select_from(Patient).where(*conditions)) or 0
    rows = list(db.scalars(select(Patient).where(*conditions)
                           .order_by(Patient.name_key, Patient.id)
                           .limit(limit).offset(max(0, int(offset)))))
    audit.record(db, who.actor, "patient.search", "patient", "",
                 f"results={len(rows)}/{total}")
    return rows, total


def create_visit(db: Session, who: Principal, patient_id: int, visit_date: Any,
                 notes: str = "") -> Visit:
    """Create a visit of one of ``who``'s clinic's patients.

    Returns
    -------
    Visit
        The new visit, flushed; its creation is audited.

    Raises
    ------
    NotFound
        No such patient in this clinic.
    Invalid
        A missing or bad ``visit_date``, or notes over 20000 characters.
    """
    patient = _patient(db, who, patient_id)
    day = _date(visit_date, "visit_date", required=True)
    notes = (notes or "").strip()
    if len(notes) > 20000:
        raise Invalid("notes: at most 20000 characters", fields=[{"field": "notes",
                                                                    "message": "too long"}])
    visit = Visit(clinic_id=who.clinic_id, patient_id=patient.id, visit_date=day, notes=notes)
    db.add(visit)
    db.flush()
    audit.record(db, who.actor, "visit.create", "visit", visit.id, f"patient={patient.id}")
    return visit


def _visit(db: Session, who: Principal, visit_id: int) -> Visit:
    visit = get_row(db, Visit, visit_id)
    if visit is None or visit.clinic_id != who.clinic_id or (
            who.patient_id is not None and visit.patient_id != who.patient_id):
        raise NotFound(f"no visit {visit_id}")
    return visit


def get_visit(db: Session, who: Principal, visit_id: int, *, action: str = "visit.read"
              ) -> Visit:
    """Get one visit of ``who``'s clinic (audited as ``action``, unless it is empty).

    Raises
    ------
    NotFound
    """
    visit = _visit(db, who, visit_id)
    if action:
        audit.record(db, who.actor, action, "visit", visit.id, f"patient={visit.patient_id}")
    return visit


def update_visit(db: Session, who: Principal, visit_id: int, visit_date: Any = None,
                 notes: str | None = None) -> Visit:
    """Change a visit's date or notes."""
    visit = _visit(db, who, visit_id)
    if visit_date not in (None, ""):
        visit.visit_date = _date(visit_date, "visit_date", required=True)
    if notes is not None:
        visit.notes = notes.strip()[:20000]
    audit.record(db, who.actor, "visit.update", "visit", visit.id)
    return visit
