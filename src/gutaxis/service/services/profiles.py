"""Profiles of visits, the references they are computed against, and the timeline."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.db import get_row
from gutaxis.service.errors import Invalid, NotFound
from gutaxis.service.models import Job, Profile, Reference, Upload, Visit, VisitMeasure
from gutaxis.service.services.patients import get_patient, get_visit
from gutaxis.service.services.uploads import enqueue, safe_filename
from gutaxis.service.store import FileStore

__all__ = ["BUNDLED_FOLDER", "request_profile", "latest_profile", "profile_statuses",
           "profile_state",
           "ProfileState", "profile_document", "profile_file", "timeline", "TimelineSeries",
           "references", "default_reference", "create_reference_from_store",
           "measures_from_document", "profile_job"]

#: The folder (under ``references/``) of the bundled controls reference.
BUNDLED_FOLDER = "bundled-controls"


def references(db: Session, who: Principal) -> list[Reference]:
    """List the references the clinic may profile against: the bundled one, then its own."""
    return list(db.scalars(select(Reference).where(
        or_(Reference.clinic_id.is_(None), Reference.clinic_id == who.clinic_id))
        .order_by(Reference.clinic_id.is_(None).desc(), Reference.id)))


def default_reference(db: Session) -> Reference:
    """Get the bundled controls reference.

    Raises
    ------
    NotFound
        It has not been set up (the server does at start).
    """
    ref = db.scalar(select(Reference).where(Reference.clinic_id.is_(None),
                                            Reference.folder == BUNDLED_FOLDER))
    if ref is None:
        raise NotFound("the bundled reference is not set up; restart the server")
    return ref


def _reference(db: Session, who: Principal, reference_id: int | None) -> Reference:
    if reference_id is None:
        return default_reference(db)
    ref = get_row(db, Reference, reference_id)
    if ref is None or ref.clinic_id not in (None, who.clinic_id):
        raise NotFound(f"no reference {reference_id}")
    if ref.status != "done":
        raise Invalid(f"reference: {ref.name} is {ref.status}, not ready",
                      fields=[{"field": "reference_id", "message": "not ready"}])
    return ref


def create_reference_from_store(db: Session, who: Principal, name: str,
                                table: tuple[str | None, str],
                                metadata: tuple[str | None, str] | None, where: str
                                ) -> tuple[Reference, Job]:
    """Queue the building of the clinic's own reference from a stored cohort (owners).

    Parameters
    ----------
    name : str
    table, metadata : (file name, SHA-256)
        The cohort's files, already in the store (metadata optional).
    where : str
        The filter that picks the reference samples (``Subject == 'Control'``).

    Returns
    -------
    Reference, Job
    """
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise Invalid("name: a reference needs a name (1 to 200 characters)",
                      fields=[{"field": "name", "message": "required"}])
    if len(where or "") > 2000:
        raise Invalid("where: at most 2000 characters", fields=[{"field": "where",
                                                                  "message": "too long"}])
    if (where or "").strip() and metadata is None:
        raise Invalid("metadata: a filter needs the sample metadata file",
                      fields=[{"field": "metadata", "message": "required with a filter"}])
    files = {"table": safe_filename(table[0])}
    if metadata:
        files["metadata"] = safe_filename(metadata[0])
    ref = Reference(clinic_id=who.clinic_id, name=name, folder="", source_sha256=table[1],
                    metadata_sha256=metadata[1] if metadata else "",
                    filter=(where or "").strip(), description=json.dumps(files))
    db.add(ref)
    db.flush()
    ref.folder = f"clinic-{who.clinic_id}-{ref.id}"
    job = enqueue(db, who.clinic_id, "reference", ref.id)
    audit.record(db, who.actor, "reference.create", "reference", ref.id)
    return ref, job


def profile_job(db: Session, profile: Profile) -> Job | None:
    """Find the latest job that computes ``profile`` (``None`` when there is none)."""
    return db.scalar(select(Job).where(Job.kind == "profile", Job.target_id == profile.id)
                     .order_by(Job.id.desc()).limit(1))


def request_profile(db: Session, who: Principal, visit_id: int,
                    reference_id: int | None = None) -> tuple[Profile, Job]:
    """Queue the profile of a visit (its latest microbiome table, labs and the previous visit).

    Raises
    ------
    Invalid
        The visit has no parsed microbiome table yet.
    """
    visit = get_visit(db, who, visit_id, action="")
    has_table = db.scalar(select(Upload.id).where(Upload.visit_id == visit.id,
                                                  Upload.kind == "microbiome",
                                                  Upload.status == "parsed").limit(1))
    if has_table is None:
        raise Invalid("this visit has no microbiome table yet: upload one first")
    ref = _reference(db, who, reference_id)
    profile = Profile(clinic_id=who.clinic_id, visit_id=visit.id, reference_id=ref.id)
    db.add(profile)
    db.flush()
    job = enqueue(db, who.clinic_id, "profile", profile.id)
    audit.record(db, who.actor, "profile.request", "profile", profile.id,
                 f"visit={visit.id}, reference={ref.id}")
    return profile, job


def latest_profile(db: Session, visit_id: int) -> Profile | None:
    """Find the visit's most recent profile, whatever its status (``None`` when none)."""
    return db.scalar(select(Profile).where(Profile.visit_id == visit_id)
                     .order_by(Profile.id.desc()).limit(1))


def profile_statuses(db: Session, visit_ids: list[int]) -> dict[int, str]:
    """Tell, for each visit, where its latest profile stands, in two queries for them all.

    ``none`` (no profile), ``done``, ``failed``, or while the profile is
    ``pending`` the status of its latest job (``pending`` or ``running``).
    The patient page lists its visits with it.  Not audited (the caller's
    read of the patient is).

    Parameters
    ----------
    db : Session
    visit_ids : list of int

    Returns
    -------
    dict
        Visit id → status, for every id given.
    """
    if not visit_ids:
        return {}
    newest = (select(Profile.visit_id, func.max(Profile.id).label("id"))
              .where(Profile.visit_id.in_(visit_ids)).group_by(Profile.visit_id).subquery())
    rows = db.execute(select(Profile.visit_id, Profile.id, Profile.status)
                      .join(newest, Profile.id == newest.c.id)).all()
    statuses = {visit_id: "none" for visit_id in visit_ids}
    pending: dict[int, int] = {}
    for visit_id, profile_id, status in rows:
        statuses[visit_id] = status
        if status == "pending":
            pending[profile_id] = visit_id
    if pending:
        last_job = (select(Job.target_id, func.max(Job.id).label("id"))
                    .where(Job.kind == "profile", Job.target_id.in_(list(pending)))
                    .group_by(Job.target_id).subquery())
        for target_id, status in db.execute(select(Job.target_id, Job.status)
                                            .join(last_job, Job.id == last_job.c.id)):
            statuses[pending[target_id]] = status
    return statuses


@dataclasses.dataclass(frozen=True)
class ProfileState:
    """Where a visit's profile stands: ``none``, ``pending``, ``running``, ``done``, ``failed``."""

    status: str
    profile: Profile | None
    job: Job | None
    error: str | None = None


def profile_state(db: Session, who: Principal, visit_id: int) -> ProfileState:
    """Tell where a visit's latest profile stands, with its latest job.

    A visit without a profile is ``pending`` while a microbiome table is
    still being parsed, else ``none``.  Not audited: the callers record the
    read of what they show (the visit, the profile's document or a file).

    Returns
    -------
    ProfileState

    Raises
    ------
    NotFound
        No such visit in ``who``'s clinic.
    """
    visit = get_visit(db, who, visit_id, action="")
    profile = latest_profile(db, visit.id)
    if profile is None:
        pending = db.scalar(select(Upload.id).where(
            Upload.visit_id == visit.id, Upload.kind == "microbiome",
            Upload.status == "pending").limit(1))
        status = "pending" if pending is not None else "none"
        return ProfileState(status, None, None)
    job = profile_job(db, profile)
    status = profile.status if profile.status in ("done", "failed") else (
        job.status if job is not None else "pending")
    return ProfileState(status, profile, job, profile.error)


def profile_file(db: Session, store: FileStore, who: Principal, visit_id: int, kind: str,
                 *, action: str | None = None) -> tuple[bytes, Profile]:
    """Read one file of a visit's latest done profile: ``json``, ``html`` or ``pdf``.

    The read is audited as ``action`` (default ``profile.download_<kind>``;
    ``""`` when the caller has recorded the read it is part of).

    Returns
    -------
    data : bytes
    profile : Profile
        The profile it belongs to.

    Raises
    ------
    NotFound
        No such visit, no finished profile, or no file of that kind.
    """
    state = profile_state(db, who, visit_id)
    profile = state.profile
    done = profile if profile is not None and profile.status == "done" else db.scalar(
        select(Profile).where(Profile.visit_id == visit_id, Profile.status == "done")
        .order_by(Profile.id.desc()).limit(1))
    if done is None:
        raise NotFound(f"visit {visit_id} has no finished profile")
    sha = {"json": done.json_sha256, "html": done.html_sha256, "pdf": done.pdf_sha256}.get(kind)
    if not sha and kind == "pdf" and not done.error:
        raise NotFound("the profile's PDF is still being drawn; try again in a few seconds")
    if not sha:
        raise NotFound(f"the profile has no {kind} file" + (f" ({done.error})" if done.error
                                                            else ""))
    action = f"profile.download_{kind}" if action is None else action
    if action:
        audit.record(db, who.actor, action, "profile", done.id, f"visit={visit_id}")
    return store.open(sha).read_bytes(), done


def profile_document(db: Session, store: FileStore, who: Principal, visit_id: int,
                     *, action: str = "profile.read") -> dict[str, Any]:
    """Read the visit's latest finished ``profile.json`` as a dict (audited as ``action``)."""
    data, _ = profile_file(db, store, who, visit_id, "json", action=action)
    document: dict[str, Any] = json.loads(data)
    return document


def measures_from_document(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Make the timeline's rows from a ``profile.json``: every index, taxon and marker measure.

    Each row has the measure's id, label, kind (group), value, unit and the
    profile's own follow-up judgement of the change since the previous visit
    (``real change``, ``within normal variation``, or empty).

    Examples
    --------
    >>> doc = {"measures": [{"id": "index:gmhi", "label": "GMHI", "kind": "index",
    ...        "value": 1.5, "unit": ""}], "followup": [{"id": "index:gmhi",
    ...        "real_change": True, "direction": "up", "change": 0.9}]}
    >>> measures_from_document(doc)[0]["change"]
    'real change up'
    """
    follow = {row["id"]: row for row in (document.get("followup") or [])}
    rows = []
    for measure in document.get("measures") or []:
        value = measure.get("value")
        row = {"group": measure.get("kind", ""), "measure": measure["id"],
               "label": measure.get("label") or measure["id"],
               "value": float(value) if isinstance(value, int | float) else None,
               "unit": measure.get("unit") or "",
               "censored": measure.get("censored") if measure.get("censored") in ("<", ">")
               else "", "change": "", "change_detail": ""}
        change = follow.get(measure["id"])
        if change is not None:
            real = change.get("real_change")
            direction = change.get("direction") or ""
            row["change"] = ((f"real change {direction}".strip()) if real is True else
                             "within normal variation" if real is False else "")
            notes = change.get("notes") or []
            row["change_detail"] = "; ".join(str(n) for n in notes)[:2000]
        rows.append(row)
    return rows


@dataclasses.dataclass(frozen=True)
class TimelineSeries:
    """One measure across a patient's visits (oldest first)."""

    measure: str
    label: str
    group: str
    unit: str
    points: list[dict[str, Any]]


def timeline(db: Session, who: Principal, patient_id: int) -> list[TimelineSeries]:
    """Gather every measure of the patient's profiled visits into series (audited).

    Returns
    -------
    list of TimelineSeries
        Indices first, then markers, then taxa (any other group last), each
        group by label; each series' points go by visit date.
    """
    patient = get_patient(db, who, patient_id, action="patient.timeline")
    m = VisitMeasure
    # the columns, not ORM objects: a timeline has a hundred rows or more, read on every view
    rows = db.execute(
        select(m.measure, m.label, m.group, m.unit, m.visit_id, Visit.visit_date, m.value,
               m.censored, m.change, m.change_detail).join(Visit, Visit.id == m.visit_id)
        .where(m.patient_id == patient.id, m.clinic_id == who.clinic_id)
        .order_by(m.group, m.measure, Visit.visit_date, Visit.id)).all()
    series: dict[str, TimelineSeries] = {}
    for measure, label, group, unit, visit_id, day, value, censored, change, detail in rows:
        entry = series.get(measure)
        if entry is None:
            entry = series[measure] = TimelineSeries(measure, label, group, unit, [])
        entry.points.append({"visit_id": visit_id, "date": day.isoformat(), "value": value,
                             "censored": censored or None, "change": change,
                             "change_detail": detail})
    order = {"index": 0, "marker": 1, "taxon": 2}
    return sorted(series.values(), key=lambda s: (order.get(s.group, 3), s.label))
