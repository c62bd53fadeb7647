"""Patients and visits, always within the principal's clinic."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any, Literal, overload

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.db import get_row, utcnow
from gutaxis.service.errors import Conflict, Invalid, NotFound
from gutaxis.service.models import Clinic, Patient, PatientIdentifier, Visit

__all__ = ["create_patient", "update_patient", "get_patient", "search_patients",
           "create_visit", "update_visit", "get_visit", "SEXES", "name_key", "patient_fields",
           "parse_identifiers", "patient_identifiers", "find_by_identifiers"]

SEXES = ("female", "male", "other", "unknown")
_TEXT_LIMITS = {"name": 200, "contact": 2000, "conditions": 4000}


def lock_patient(db: Session, patient_id: int) -> None:
    """Hold the patient's row until this transaction ends.

    Changes that first check what the patient has (an open portal link, an
    active protocol) then happen one after the other even when two requests
    come at once (on PostgreSQL; SQLite has one writer at a time).  Plain
    reads are not held up.
    """
    db.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update())


def lock_clinic(db: Session, clinic_id: int) -> None:
    """Hold the clinic's row until this transaction ends (as :func:`lock_patient`)."""
    db.execute(select(Clinic.id).where(Clinic.id == clinic_id).with_for_update())


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
    """Read a date field: 1900-01-01 to a year ahead."""
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
    latest = dt.date.today() + dt.timedelta(days=366)
    if not dt.date(1900, 1, 1) <= day <= latest:
        raise Invalid(f"{field}: {day} is outside 1900-01-01 … {latest} (a year from today)",
                      fields=[{"field": field, "message": "out of range"}])
    return day


#: At most this many identifiers per patient.
MAX_IDENTIFIERS = 20


def _identifier_error(message: str) -> Invalid:
    return Invalid(f"identifiers: {message}",
                   fields=[{"field": "identifiers", "message": message}])


def parse_identifiers(value: Any) -> list[tuple[str, str]]:
    r"""Read a patient's identifiers: ``system|value`` lines, or ``{"system", "value"}`` items.

    The system is the namespace of the identifier as FHIR writes it (a URI such
    as a hospital's patient-number system), the value the identifier in it.

    Raises
    ------
    Invalid
        Naming the identifier, what was expected and what was found.

    Examples
    --------
    >>> parse_identifiers("urn:oid:1.2.36.146.595.217.0.1|12345\n")
    [('urn:oid:1.2.36.146.595.217.0.1', '12345')]
    >>> parse_identifiers([{"system": "http://lab.example/mrn", "value": "A7"}])
    [('http://lab.example/mrn', 'A7')]
    """
    if value is None:
        return []
    items: list[tuple[Any, Any]] = []
    if isinstance(value, str):
        for number, line in enumerate(value.splitlines(), start=1):
            if not line.strip():
                continue
            system, bar, ident = line.strip().partition("|")
            if not bar:
                raise _identifier_error(f"line {number}: expected SYSTEM|VALUE; got "
                                        f"{line.strip()[:60]!r}")
            items.append((system, ident))
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict):
                raise _identifier_error(f"expected {{'system', 'value'}} items; got "
                                        f"{type(item).__name__}")
            items.append((item.get("system"), item.get("value")))
    else:
        raise _identifier_error(f"expected a list; got {type(value).__name__}")
    pairs: list[tuple[str, str]] = []
    for system, ident in items:
        system, ident = str(system or "").strip(), str(ident or "").strip()
        for what, text in (("system", system), ("value", ident)):
            if not text:
                raise _identifier_error(f"each identifier needs a {what}")
            if len(text) > 255 or any(ord(c) < 32 for c in text):
                raise _identifier_error(f"{what} {text[:40]!r}: at most 255 characters, "
                                        f"without control characters")
        if any(c.isspace() for c in system):
            raise _identifier_error(f"system {system[:40]!r}: a URI, without spaces")
        if (system, ident) not in pairs:
            pairs.append((system, ident))
    if len(pairs) > MAX_IDENTIFIERS:
        raise _identifier_error(f"at most {MAX_IDENTIFIERS}; got {len(pairs)}")
    return pairs


def patient_identifiers(patient: Patient) -> list[tuple[str, str]]:
    """Return a patient's identifiers as ``(system, value)`` pairs, in the order given."""
    return [(i.system, i.value) for i in sorted(patient.identifiers, key=lambda i: i.id)]


def _set_identifiers(db: Session, patient: Patient, pairs: list[tuple[str, str]]) -> None:
    for system, value in pairs:
        holder = db.scalar(select(PatientIdentifier.patient_id).where(
            PatientIdentifier.clinic_id == patient.clinic_id,
            PatientIdentifier.system == system, PatientIdentifier.value == value))
        if holder is not None and holder != patient.id:
            raise Conflict(f"identifiers: {system}|{value} is already another patient's "
                           f"(patient {holder})")
    patient.identifiers = [i for i in patient.identifiers if (i.system, i.value) in pairs]
    kept = {(i.system, i.value) for i in patient.identifiers}
    for system, value in pairs:
        if (system, value) not in kept:
            patient.identifiers.append(PatientIdentifier(
                clinic_id=patient.clinic_id, system=system, value=value))
    db.flush()


def find_by_identifiers(db: Session, who: Principal, pairs: list[tuple[str, str]]
                        ) -> list[int]:
    """Return the ids of the clinic's patients who hold any of ``pairs`` (not audited)."""
    if not pairs:
        return []
    found: set[int] = set()
    for system, value in pairs:
        found.update(db.scalars(select(PatientIdentifier.patient_id).where(
            PatientIdentifier.clinic_id == who.clinic_id, PatientIdentifier.system == system,
            PatientIdentifier.value == value)))
    return sorted(found)


def latest_birth_date() -> dt.date:
    """Return the latest date of birth taken: tomorrow on the server's clock.

    A day of grace: a clinic east of the server's time zone is a day ahead of
    it for some hours.
    """
    return dt.date.today() + dt.timedelta(days=1)


def patient_fields(values: dict[str, Any], *, partial: bool = False,
                   stored_birth_date: dt.date | None = None) -> dict[str, Any]:
    """Check a patient's fields (name, birth_date, sex, contact, conditions).

    A date of birth in the future is refused unless it is the one already
    stored (``stored_birth_date``; earlier versions took dates up to a year
    ahead), so that such a record can still be edited.

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
        born = _date(values["birth_date"], "birth_date", required=False)
        if born is not None and born != stored_birth_date and born > latest_birth_date():
            raise Invalid(f"birth_date: {born} is in the future (today is {dt.date.today()})",
                          fields=[{"field": "birth_date", "message": "in the future"}])
        out["birth_date"] = born
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
    pairs = parse_identifiers(values.get("identifiers"))
    patient = Patient(clinic_id=who.clinic_id, practitioner_id=who.user_id,
                      name_key=name_key(fields["name"]), **fields)
    db.add(patient)
    db.flush()
    _set_identifiers(db, patient, pairs)
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
    fields = patient_fields(values, partial=True, stored_birth_date=patient.birth_date)
    if values.get("identifiers") is not None:
        _set_identifiers(db, patient, parse_identifiers(values["identifiers"]))
    for key, value in fields.items():
        setattr(patient, key, value)
    if "name" in fields:
        patient.name_key = name_key(fields["name"])
    patient.updated_at = utcnow()
    changed = sorted([*fields, *(["identifiers"] if values.get("identifiers") is not None
                                  else [])])
    audit.record(db, who.actor, "patient.update", "patient", patient.id,
                 "fields=" + ",".join(changed))
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
    # their identifiers in one more query, not one per patient (the API lists them)
    rows = list(db.scalars(select(Patient).where(*conditions)
                           .options(selectinload(Patient.identifiers))
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
