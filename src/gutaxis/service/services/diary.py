"""The patient's diary: entries kept as versions, private entries, and the rows statistics read.

An entry is written by the patient in the portal.  An edit adds a version
and a deletion adds a tombstone version: nothing is overwritten, and the
patient can read every version.  An entry marked private is the patient's
alone: no staff query finds it (pages, API, export, counts, timeline,
:func:`diary_rows`).  Times are the patient's wall-clock time, as they gave
it (their time zone is a setting of their portal).

Kinds and their fields (``data``):

========== ==========================================================
meal/drink ``text`` (as typed), ``picked`` (catalogue ids tapped),
           ``foods`` (the catalogue's ids: those tapped and those the
           typed text names, :meth:`FoodCatalog.match`), ``free`` (the
           typed foods the catalogue does not know), ``portion`` (small,
           usual, large)
symptoms   ``scores``: {primary symptom: 0-10}
stool      ``bristol``: 1-7
sleep      ``hours`` (0-24) and/or ``quality`` (0-10)
stress     ``score``: 0-10
medication ``name``, ``dose`` (text)
cycle      ``day``: day of the menstrual cycle, 1-60
weight     ``kg``: 20-400 (hidden when the practitioner says so)
note       ``text``
========== ==========================================================

Every kind may also carry a ``note`` (up to 2000 characters).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gutaxis.knowledge import FoodCatalog, load_food_catalog
from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.db import get_row, utcnow
from gutaxis.service.errors import Invalid, NotFound
from gutaxis.service.models import DiaryEntry, DiaryVersion, PortalAccount
from gutaxis.service.services.foods import clinic_catalog
from gutaxis.service.services.patients import get_patient
from gutaxis.service.services.portal import local_now, own_patient, portal_settings

__all__ = ["KINDS", "PORTIONS", "ROW_KINDS", "check_entry", "add_entry", "edit_entry",
           "delete_entry", "own_entries", "first_own_day", "own_entry", "shared_entries",
           "diary_rows",
           "recent_foods", "daily_scores", "split_foods", "entry_dict", "visible_kinds",
           "WEIGHT_KINDS"]

KINDS = ("meal", "drink", "symptoms", "stool", "sleep", "stress", "medication", "cycle",
         "weight", "note")
PORTIONS = ("small", "usual", "large")
#: The fields of each kind's ``data`` (every kind may also carry ``note``).
FIELDS = {"meal": ("text", "foods", "portion"), "drink": ("text", "foods", "portion"),
          "symptoms": ("scores",), "stool": ("bristol",), "sleep": ("hours", "quality"),
          "stress": ("score",), "medication": ("name", "dose"), "cycle": ("day",),
          "weight": ("kg",), "note": ("text",)}
#: What a meal's stored ``data`` holds besides its fields: sent back by a client that
#: changes an entry, they are taken and worked out again from ``text`` and ``foods``.
_DERIVED = {"meal": ("picked", "free"), "drink": ("picked", "free")}
#: The ``kind`` column of :func:`diary_rows` (the long layout the statistics read).
ROW_KINDS = ("food", "symptom", "stool", "sleep", "stress", "medication")
#: Kinds hidden from a patient whose practitioner hides weight and calorie-like fields.
WEIGHT_KINDS = ("weight",)
_TEXT = 500
_NOTE = 2000
_NAME = 200


def _field(field: str, message: str, detail: str) -> Invalid:
    return Invalid(f"{field}: {detail}", fields=[{"field": field, "message": message}])


def _number(values: Mapping[str, Any], field: str, low: float, high: float, *,
            integer: bool, required: bool) -> float | int | None:
    raw = values.get(field)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise _field(field, "required", f"a number from {low:g} to {high:g} is required")
        return None
    if isinstance(raw, bool):
        raise _field(field, "not a number", f"expected a number from {low:g} to {high:g}; "
                                            f"got {raw!r}")
    try:
        number = float(str(raw).strip().replace(",", ".")) if isinstance(raw, str) \
            else float(raw)
    except (TypeError, ValueError):
        raise _field(field, "not a number", f"expected a number from {low:g} to {high:g}; "
                                            f"got {str(raw)[:40]!r}") from None
    if not math.isfinite(number) or not low <= number <= high or (
            integer and number != int(number)):
        whole = "a whole number" if integer else "a number"
        raise _field(field, "out of range", f"expected {whole} from {low:g} to {high:g}; "
                                            f"got {str(raw)[:40]}")
    return int(number) if integer else round(number, 2)


def _text(values: Mapping[str, Any], field: str, limit: int, *, required: bool) -> str:
    raw = values.get(field)
    text = "" if raw is None else str(raw).strip()
    if "\x00" in text:
        raise _field(field, "NUL character", "the NUL character is not allowed")
    if len(text) > limit:
        raise _field(field, "too long", f"at most {limit} characters; got {len(text)}")
    if required and not text:
        raise _field(field, "required", "this is required")
    return text


def split_foods(text: str) -> list[str]:
    r"""Split what a patient typed into foods: at commas, semicolons, new lines and "and"/"with".

    Examples
    --------
    >>> split_foods("porridge with oat milk, coffee;\n banana and honey")
    ['porridge', 'oat milk', 'coffee', 'banana', 'honey']
    """
    pieces = re.split(r"[,;\n+]|\s+(?:and|with|&)\s+", text or "", flags=re.IGNORECASE)
    return [" ".join(p.split()) for p in pieces if p and p.strip()]


def _meal(values: Mapping[str, Any], catalog: FoodCatalog | None = None) -> dict[str, Any]:
    text = _text(values, "text", _TEXT, required=False)
    picked_raw = values.get("foods") or []
    if isinstance(picked_raw, str):
        picked_raw = [picked_raw]
    if not isinstance(picked_raw, list | tuple) or len(picked_raw) > 50:
        raise _field("foods", "not a list", "expected a list of at most 50 food ids")
    catalog = catalog or load_food_catalog()
    known = {food.id for food in catalog.foods}
    picked: list[str] = []
    for value in picked_raw:
        food = str(value).strip()
        if not food:
            continue
        if food not in known:
            raise _field("foods", "unknown food", f"{food[:60]!r} is not a food of the "
                                                  "catalogue")
        if food not in picked:
            picked.append(food)
    foods, free = list(picked), []
    for piece in split_foods(text):
        found = catalog.match(piece)
        for match in found:
            if match.id not in foods:
                foods.append(match.id)
        if not found and piece not in free:
            free.append(piece)
    if not foods and not free:
        raise _field("text", "required", "say what was eaten or drunk (type it, or pick a food)")
    portion = str(values.get("portion") or "usual").strip().lower()
    if portion not in PORTIONS:
        raise _field("portion", "unknown portion", f"expected one of {', '.join(PORTIONS)}; "
                                                   f"got {portion[:20]!r}")
    return {"foods": foods, "picked": picked, "text": text, "free": free, "portion": portion}


def _scores(values: Mapping[str, Any], symptoms: list[str]) -> dict[str, Any]:
    raw = values.get("scores")
    if not isinstance(raw, Mapping):
        raise _field("scores", "required", "expected a score from 0 to 10 for at least one "
                                           "symptom")
    if not symptoms:
        raise _field("scores", "no symptoms", "your practitioner has not chosen your "
                                              "symptoms yet")
    by_key = {s.casefold(): s for s in symptoms}
    scores: dict[str, int] = {}
    for name, value in raw.items():
        symptom = by_key.get(str(name).strip().casefold())
        if symptom is None:
            raise _field("scores", "unknown symptom", f"{str(name)[:60]!r} is not one of "
                                                      f"your symptoms ({', '.join(symptoms)})")
        score = _number({symptom: value}, symptom, 0, 10, integer=True, required=False)
        if score is not None:
            scores[symptom] = int(score)
    if not scores:
        raise _field("scores", "required", "give at least one symptom a score from 0 to 10")
    return {"scores": {s: scores[s] for s in symptoms if s in scores}}


def check_entry(kind: str, values: Mapping[str, Any], *, symptoms: list[str],
                hide_weight: bool, catalog: FoodCatalog | None = None) -> dict[str, Any]:
    """Check an entry's fields for its kind; return its ``data``.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    values : mapping
        The fields of the kind (see the module's table), plus ``note``.
    symptoms : list of str
        The patient's primary symptoms (what ``symptoms`` entries score).
    hide_weight : bool
        Weight is not recorded for this patient.
    catalog : FoodCatalog, optional
        The foods a meal is matched with (the clinic's; the shipped catalogue
        by default).

    Raises
    ------
    Invalid
        Naming the field, what was expected and what was found.

    Examples
    --------
    >>> check_entry("stool", {"bristol": "4"}, symptoms=[], hide_weight=False)
    {'bristol': 4}
    >>> check_entry("sleep", {"hours": "7,5"}, symptoms=[], hide_weight=False)
    {'hours': 7.5}
    """
    if kind not in KINDS:
        raise _field("kind", "unknown kind", f"expected one of {', '.join(KINDS)}; "
                                             f"got {str(kind)[:20]!r}")
    unknown = sorted(str(k)[:40] for k in values
                     if k not in (*FIELDS[kind], "note", *_DERIVED.get(kind, ())))
    if unknown:  # a misspelt field was dropped without a word
        raise _field(unknown[0], "unknown field",
                     f"a {kind} entry has the fields {', '.join((*FIELDS[kind], 'note'))}; "
                     f"got {', '.join(map(repr, unknown[:5]))}")
    if hide_weight and kind in WEIGHT_KINDS:
        raise _field("kind", "not recorded", "weight is not recorded in this diary")
    data: dict[str, Any]
    if kind in ("meal", "drink"):
        data = _meal(values, catalog)
    elif kind == "symptoms":
        data = _scores(values, symptoms)
    elif kind == "stool":
        data = {"bristol": _number(values, "bristol", 1, 7, integer=True, required=True)}
    elif kind == "sleep":
        hours = _number(values, "hours", 0, 24, integer=False, required=False)
        quality = _number(values, "quality", 0, 10, integer=True, required=False)
        if hours is None and quality is None:
            raise _field("hours", "required", "give the hours slept, how well you slept "
                                              "(0-10), or both")
        data = {k: v for k, v in (("hours", hours), ("quality", quality)) if v is not None}
    elif kind == "stress":
        data = {"score": _number(values, "score", 0, 10, integer=True, required=True)}
    elif kind == "medication":
        data = {"name": _text(values, "name", _NAME, required=True),
                "dose": _text(values, "dose", _NAME, required=False)}
    elif kind == "cycle":
        data = {"day": _number(values, "day", 1, 60, integer=True, required=True)}
    elif kind == "weight":
        data = {"kg": _number(values, "kg", 20, 400, integer=False, required=True)}
    else:
        data = {"text": _text(values, "text", 4000, required=True)}
    note = _text(values, "note", _NOTE, required=False)
    if note and kind != "note":
        data["note"] = note
    return data


def _time(value: Any, time_zone: str) -> dt.datetime:
    """Check an entry's time; return it as the patient's wall-clock time (no tzinfo)."""
    from zoneinfo import ZoneInfo

    now = local_now(time_zone)
    if value in (None, ""):
        return now
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise _field("at", "not a time", "expected a date and time such as "
                                             f"2026-03-01T12:30; got {str(value)[:40]!r}"
                         ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(time_zone)).replace(tzinfo=None)
    moment = moment.replace(microsecond=0)
    if not dt.datetime(1900, 1, 1) <= moment <= now + dt.timedelta(days=1):
        raise _field("at", "out of range", f"{moment:%Y-%m-%d %H:%M} is in the future or "
                                           "before 1900")
    return moment


def _settings(db: Session, who: Principal) -> PortalAccount:
    return portal_settings(db, who)


def visible_kinds(settings: PortalAccount) -> tuple[str, ...]:
    """List the kinds the patient's forms and views show (weight hidden when set so)."""
    return tuple(k for k in KINDS if not (settings.hide_weight and k in WEIGHT_KINDS))


def _write(db: Session, who: Principal, entry: DiaryEntry, at: dt.datetime, data: dict[str, Any],
           private: bool, deleted: bool) -> DiaryVersion:
    version = DiaryVersion(clinic_id=entry.clinic_id, entry_id=entry.id, version=entry.version,
                           at=at, private=private, deleted=deleted, data=data,
                           user_id=who.user_id)
    db.add(version)
    db.flush()
    return version


def add_entry(db: Session, who: Principal, kind: str, values: Mapping[str, Any], *,
              at: Any = None, private: bool = False) -> DiaryEntry:
    """Write a new diary entry of the signed-in patient (audited ``diary.create``).

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    values : mapping
        The kind's fields (:func:`check_entry`).
    at : datetime or str, optional
        When (the patient's wall-clock time); now when not given.
    private : bool
        Only the patient sees it.

    Raises
    ------
    NotAllowed
        ``who`` is not a patient.
    Invalid
        A field refused by :func:`check_entry`, or a time in the future.
    """
    patient = own_patient(db, who)
    settings = _settings(db, who)
    data = check_entry(kind, values, symptoms=list(settings.primary_symptoms),
                       hide_weight=settings.hide_weight,
                       catalog=clinic_catalog(db, who.clinic_id))
    moment = _time(at, settings.time_zone)
    now = utcnow()
    entry = DiaryEntry(clinic_id=patient.clinic_id, patient_id=patient.id, kind=kind, at=moment,
                       private=bool(private), deleted=False, version=1, created_at=now,
                       updated_at=now)
    db.add(entry)
    db.flush()
    _write(db, who, entry, moment, data, bool(private), False)
    audit.record(db, who.actor, "diary.create", "diary_entry", entry.id, f"kind={kind}")
    return entry


def _own(db: Session, who: Principal, entry_id: int, *, lock: bool = False) -> DiaryEntry:
    patient = own_patient(db, who)
    entry = get_row(db, DiaryEntry, entry_id)
    if entry is not None and lock:  # two edits at once: the second waits (PostgreSQL)
        db.refresh(entry, with_for_update=True)
    if entry is None or entry.patient_id != patient.id or entry.clinic_id != who.clinic_id:
        raise NotFound(f"no diary entry {entry_id}")
    return entry


def edit_entry(db: Session, who: Principal, entry_id: int, values: Mapping[str, Any], *,
               at: Any = None, private: bool = False) -> DiaryEntry:
    """Change one of the patient's entries: a new version (the old ones are kept).

    Its kind stays; a deleted entry is not edited.  Audited ``diary.edit``.

    Raises
    ------
    NotFound
        No such entry of this patient (another patient's included).
    Invalid
        A refused field, or an entry that was deleted.
    """
    entry = _own(db, who, entry_id, lock=True)
    if entry.deleted:
        raise Invalid("this entry was deleted; write a new one instead")
    settings = _settings(db, who)
    data = check_entry(entry.kind, values, symptoms=list(settings.primary_symptoms),
                       hide_weight=settings.hide_weight,
                       catalog=clinic_catalog(db, who.clinic_id))
    moment = _time(at, settings.time_zone) if at not in (None, "") else entry.at
    entry.version += 1
    entry.at, entry.private, entry.updated_at = moment, bool(private), utcnow()
    _write(db, who, entry, moment, data, bool(private), False)
    audit.record(db, who.actor, "diary.edit", "diary_entry", entry.id,
                 f"version={entry.version}")
    return entry


def delete_entry(db: Session, who: Principal, entry_id: int) -> DiaryEntry:
    """Delete one of the patient's entries: a tombstone version (the old ones are kept)."""
    entry = _own(db, who, entry_id, lock=True)
    if entry.deleted:
        return entry
    entry.version += 1
    entry.deleted, entry.updated_at = True, utcnow()
    _write(db, who, entry, entry.at, {}, entry.private, True)
    audit.record(db, who.actor, "diary.delete", "diary_entry", entry.id,
                 f"version={entry.version}")
    return entry


def own_entry(db: Session, who: Principal, entry_id: int, *, action: str = "diary.read"
              ) -> tuple[DiaryEntry, list[DiaryVersion]]:
    """Read one of the patient's entries with every version, oldest first (audited)."""
    entry = _own(db, who, entry_id)
    if entry.kind in WEIGHT_KINDS and _settings(db, who).hide_weight:
        raise NotFound(f"no diary entry {entry_id}")
    if action:
        audit.record(db, who.actor, action, "diary_entry", entry.id)
    versions = list(db.scalars(select(DiaryVersion).where(DiaryVersion.entry_id == entry.id)
                               .order_by(DiaryVersion.version)))
    return entry, versions


def _latest(db: Session, entries: list[DiaryEntry]) -> list[tuple[DiaryEntry, DiaryVersion]]:
    if not entries:
        return []
    wanted = {(e.id, e.version) for e in entries}
    versions = {}
    for version in db.scalars(select(DiaryVersion).where(
            DiaryVersion.entry_id.in_([e.id for e in entries]))):
        if (version.entry_id, version.version) in wanted:
            versions[version.entry_id] = version
    return [(e, versions[e.id]) for e in entries]


def first_own_day(db: Session, who: Principal) -> dt.date | None:
    """Return the day of the patient's oldest entry (None: the diary is empty)."""
    patient = own_patient(db, who)
    oldest = db.scalar(select(func.min(DiaryEntry.at)).where(
        DiaryEntry.patient_id == patient.id, DiaryEntry.clinic_id == who.clinic_id,
        DiaryEntry.deleted.is_(False)))
    return oldest.date() if oldest is not None else None


def own_entries(db: Session, who: Principal, *, start: dt.date | None = None,
                end: dt.date | None = None, action: str = "diary.list"
                ) -> list[tuple[DiaryEntry, DiaryVersion]]:
    """List the patient's own entries (private ones included), with their latest version.

    Deleted entries are left out, and weight entries when the practitioner
    hides weight.  Oldest first.

    Parameters
    ----------
    start, end : date, optional
        The first and last day (the patient's days) to list.
    """
    patient = own_patient(db, who)
    hidden = WEIGHT_KINDS if _settings(db, who).hide_weight else ()
    query = select(DiaryEntry).where(DiaryEntry.patient_id == patient.id,
                                     DiaryEntry.clinic_id == who.clinic_id,
                                     DiaryEntry.deleted.is_(False))
    if hidden:
        query = query.where(DiaryEntry.kind.not_in(hidden))
    if start is not None:
        query = query.where(DiaryEntry.at >= dt.datetime.combine(start, dt.time()))
    if end is not None:
        query = query.where(DiaryEntry.at < dt.datetime.combine(end + dt.timedelta(days=1),
                                                                dt.time()))
    rows = list(db.scalars(query.order_by(DiaryEntry.at, DiaryEntry.id)))
    if action:
        audit.record(db, who.actor, action, "patient", patient.id, f"entries={len(rows)}")
    return _latest(db, rows)


def shared_entries(db: Session, who: Principal, patient_id: int, *, limit: int | None = None,
                   action: str = "diary.list") -> list[tuple[DiaryEntry, DiaryVersion]]:
    """List a patient's shared entries for staff: never a private or deleted one.

    Newest first (at most ``limit``); each with its latest version only.
    Audited as ``action`` (``""`` when part of a read already recorded).

    Raises
    ------
    NotFound
        No such patient in ``who``'s clinic.
    """
    patient = get_patient(db, who, patient_id, action="")
    query = (select(DiaryEntry).where(DiaryEntry.patient_id == patient.id,
                                      DiaryEntry.clinic_id == who.clinic_id,
                                      DiaryEntry.deleted.is_(False),
                                      DiaryEntry.private.is_(False))
             .order_by(DiaryEntry.at.desc(), DiaryEntry.id.desc()))
    if limit is not None:
        query = query.limit(max(1, int(limit)))
    rows = list(db.scalars(query))
    if action:
        audit.record(db, who.actor, action, "patient", patient.id, f"entries={len(rows)}")
    return _latest(db, rows)


def diary_rows(session: Session, actor: Principal, patient_id: int, *, include_private: bool
               ) -> list[tuple[dt.datetime, str, str, float | int | str]]:
    """Return a patient's diary in the long layout ``time, kind, item, value``.

    The latest version of each entry only; deleted entries are left out.  A
    member of staff never gets private entries: for staff ``include_private``
    is taken as False whatever is asked.  A patient gets only their own diary.

    Parameters
    ----------
    session : Session
    actor : Principal
        Staff of the patient's clinic, or the patient.
    patient_id : int
    include_private : bool
        Include the patient's private entries (the patient only).

    Returns
    -------
    list of (datetime, str, str, value)
        Sorted by time (then entry).  ``kind`` is one of :data:`ROW_KINDS`:

        - ``food``: item the catalogue's food id (or the food as typed when
          the catalogue did not know it), value the portion (``small``,
          ``usual``, ``large``) — one row per food of a meal or drink;
        - ``symptom``: item the symptom's name, value its score 0-10;
        - ``stool``: item ``bristol``, value the type 1-7;
        - ``sleep``: item ``hours`` (value 0-24) and/or ``quality`` (0-10);
        - ``stress``: item ``stress``, value 0-10;
        - ``medication``: item the name, value the dose as written ("" if none).

        Cycle days, weights and notes are not rows.

    Raises
    ------
    NotFound
        No such patient for ``actor`` (another clinic's, or another patient's).
    """
    if actor.patient_id is None:
        include_private = False
    patient = get_patient(session, actor, patient_id, action="")
    query = select(DiaryEntry).where(DiaryEntry.patient_id == patient.id,
                                     DiaryEntry.clinic_id == actor.clinic_id,
                                     DiaryEntry.deleted.is_(False))
    if not include_private:
        query = query.where(DiaryEntry.private.is_(False))
    entries = list(session.scalars(query.order_by(DiaryEntry.at, DiaryEntry.id)))
    rows: list[tuple[dt.datetime, str, str, float | int | str]] = []
    for entry, version in _latest(session, entries):
        rows.extend((entry.at, kind, item, value)
                    for kind, item, value in _entry_rows(entry.kind, version.data))
    audit.record(session, actor.actor, "diary.rows", "patient", patient.id,
                 f"rows={len(rows)}, private={'yes' if include_private else 'no'}")
    return rows


def _entry_rows(kind: str, data: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    if kind in ("meal", "drink"):
        portion = data.get("portion") or "usual"
        return [("food", str(f), portion) for f in [*data.get("foods", []),
                                                     *data.get("free", [])]]
    if kind == "symptoms":
        return [("symptom", str(k), v) for k, v in (data.get("scores") or {}).items()]
    if kind == "stool":
        return [("stool", "bristol", data["bristol"])]
    if kind == "sleep":
        return [("sleep", k, data[k]) for k in ("hours", "quality") if k in data]
    if kind == "stress":
        return [("stress", "stress", data["score"])]
    if kind == "medication":
        return [("medication", str(data["name"]), str(data.get("dose") or ""))]
    return []


def recent_foods(db: Session, who: Principal, *, limit: int = 8) -> list[str]:
    """List the foods (ids) of the patient's latest meals and drinks, newest first.

    The meal form offers them as one-tap picks; not audited (part of the
    form's read).
    """
    patient = own_patient(db, who)
    entries = list(db.scalars(select(DiaryEntry).where(
        DiaryEntry.patient_id == patient.id, DiaryEntry.kind.in_(("meal", "drink")),
        DiaryEntry.deleted.is_(False)).order_by(DiaryEntry.at.desc()).limit(40)))
    seen: list[str] = []
    for _, version in _latest(db, entries):
        for food in version.data.get("foods", []):
            if food not in seen:
                seen.append(food)
    return seen[:limit]


def daily_scores(pairs: list[tuple[DiaryEntry, DiaryVersion]]
                 ) -> dict[str, list[tuple[dt.date, float]]]:
    """Average each score per day: symptoms by name, ``Stool (Bristol type)``, sleep, stress.

    Examples
    --------
    >>> e = DiaryEntry(kind="stress", at=dt.datetime(2026, 3, 1, 9))
    >>> v = DiaryVersion(data={"score": 4})
    >>> e2 = DiaryEntry(kind="stress", at=dt.datetime(2026, 3, 1, 21))
    >>> daily_scores([(e, v), (e2, DiaryVersion(data={"score": 7}))])
    {'Stress (0-10)': [(datetime.date(2026, 3, 1), 5.5)]}
    """
    sums: dict[str, dict[dt.date, list[float]]] = {}
    labels = {"stool": "Stool (Bristol type)", "stress": "Stress (0-10)",
              "hours": "Sleep (hours)", "quality": "Sleep quality (0-10)"}
    for entry, version in pairs:
        for kind, item, value in _entry_rows(entry.kind, version.data):
            if kind in ("food", "medication"):
                continue
            label = f"{item} (0-10)" if kind == "symptom" else labels.get(item, labels.get(kind,
                                                                                        item))
            sums.setdefault(label, {}).setdefault(entry.at.date(), []).append(float(value))
    return {label: [(day, round(sum(v) / len(v), 2)) for day, v in sorted(days.items())]
            for label, days in sums.items()}


def entry_dict(entry: DiaryEntry, version: DiaryVersion) -> dict[str, Any]:
    """Return an entry as the API shows it (its latest version's content)."""
    return {"id": entry.id, "kind": entry.kind, "at": entry.at.isoformat(timespec="minutes"),
            "private": entry.private, "deleted": entry.deleted, "version": entry.version,
            "data": dict(version.data), "updated_at": entry.updated_at.isoformat()}
