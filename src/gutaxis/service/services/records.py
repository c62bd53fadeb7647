"""A patient's whole record out (export), a patient erased, and the audit log for owners."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.errors import Invalid
from gutaxis.service.models import (
    AuditEvent,
    LabValue,
    PlanEvent,
    PlanItem,
    PortalAccount,
    Profile,
    Reference,
    Upload,
    User,
    Visit,
)
from gutaxis.service.services.patients import get_patient
from gutaxis.service.services.uploads import files_no_row_names
from gutaxis.service.store import FileStore

__all__ = ["export_patient", "erase_patient", "audit_page", "audit_csv", "EXPORT_VERSION"]

EXPORT_VERSION = "1.0"


def _row(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for field in fields:
        value = getattr(obj, field)
        out[field] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def export_patient(db: Session, store: FileStore, who: Principal, patient_id: int,
                   target: Path) -> Path:
    """Write the patient's whole record as a zip: ``record.json``, uploads and profiles.

    ``record.json`` holds the patient, visits, uploads (with SHA-256), lab
    values, profiles, the plan with its history, the diary entries the
    patient shares (never a private one; the latest version of each) and the
    questionnaires sent, with every version of the answers (scores and FHIR
    QuestionnaireResponse included);
    ``uploads/<id>-<name>`` the original files — except a FHIR file that also
    names other patients (a lab's batch), or that was read before that was
    checked: it stays out, and its entry says so (``file_left_out``; this
    patient's results are the visit's labs);
    ``profiles/visit-<id>/profile.{json,html,pdf}``.
    """
    from gutaxis.service.services.diary import shared_entries
    from gutaxis.service.services.questionnaires import patient_requests

    patient = get_patient(db, who, patient_id, action="patient.export")
    visits = list(db.scalars(select(Visit).where(Visit.patient_id == patient.id)
                             .order_by(Visit.visit_date, Visit.id)))
    record: dict[str, Any] = {
        "export_version": EXPORT_VERSION,
        "patient": _row(patient, ("id", "name", "birth_date", "sex", "contact", "conditions",
                                  "created_at", "updated_at")),
        "visits": [], "plan": [], "diary": []}
    record["patient"]["identifiers"] = [{"system": i.system, "value": i.value}
                                        for i in patient.identifiers]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for visit in visits:
            entry = _row(visit, ("id", "visit_date", "notes", "created_at"))
            entry["uploads"] = []
            for upload in db.scalars(select(Upload).where(Upload.visit_id == visit.id)
                                     .order_by(Upload.id)):
                item = _row(upload, ("id", "kind", "filename", "sha256", "size", "sample",
                                     "status", "error", "summary", "created_at"))
                others = (upload.summary or {}).get("other_patients")
                if upload.kind == "fhir" and upload.status == "parsed" and others != 0:
                    # a lab's batch: other people's data stay here (a file read before the
                    # count was kept is left out too: it was never checked)
                    item["file_left_out"] = (
                        f"the file also holds data of {others} other patient(s)" if others
                        else "the file was read before gutaxis checked it for other "
                             "patients' data") + (
                        "; this patient's results from it are in this visit's labs")
                elif upload.sha256 and store.path(upload.sha256).is_file():
                    item["file"] = f"uploads/{upload.id}-{upload.filename}"
                    archive.write(store.path(upload.sha256), item["file"])
                entry["uploads"].append(item)
            entry["labs"] = [_row(v, ("marker", "value", "unit", "censored", "ref_low",
                                      "ref_high", "assay", "upload_id"))
                             for v in db.scalars(select(LabValue).where(
                                 LabValue.visit_id == visit.id).order_by(LabValue.id))]
            entry["profiles"] = []
            for profile in db.scalars(select(Profile).where(Profile.visit_id == visit.id)
                                      .order_by(Profile.id)):
                ref = db.get(Reference, profile.reference_id)
                item = _row(profile, ("id", "status", "error", "created_at", "finished_at",
                                      "json_sha256", "html_sha256", "pdf_sha256"))
                item["reference"] = ref.name if ref else None
                item["files"] = {}
                for kind in ("json", "html", "pdf"):
                    sha = getattr(profile, f"{kind}_sha256")
                    if sha and store.path(sha).is_file():
                        name = f"profiles/visit-{visit.id}/profile-{profile.id}.{kind}"
                        archive.write(store.path(sha), name)
                        item["files"][kind] = name
                entry["profiles"].append(item)
            record["visits"].append(entry)
        for plan in db.scalars(select(PlanItem).where(PlanItem.patient_id == patient.id)
                               .order_by(PlanItem.id)):
            item = _row(plan, ("id", "option_id", "title", "step", "evidence_level", "sources",
                               "details", "status", "visit_id", "created_at", "updated_at"))
            item["own"] = plan.own
            item["history"] = [_row(e, ("status", "note", "on", "at", "user_id"))
                               for e in plan.events]
            record["plan"].append(item)
        record["diary"] = [{"id": entry.id, "kind": entry.kind, "at": entry.at.isoformat(),
                            "version": entry.version, "data": version.data}
                           for entry, version in reversed(shared_entries(
                               db, who, patient.id, action=""))]  # part of patient.export
        record["questionnaires"] = [
            {**_row(view.request, ("id", "name", "title", "bundled", "definition_id",
                                   "sent_at", "due", "status", "completed_at")),
             "canonical": view.questionnaire.canonical,
             "responses": [{**_row(r, ("version", "completed_at", "answers", "scores")),
                            "questionnaire_response": r.resource} for r in view.responses]}
            for view in reversed(patient_requests(db, who, patient.id, action=""))]
        archive.writestr("record.json", json.dumps(record, indent=2, default=str))
    return target


def erase_patient(db: Session, store: FileStore, who: Principal, patient_id: int,
                  confirm: str | None) -> list[str]:
    """Erase a patient: every row, then the files no other row names; the erasure is audited.

    Parameters
    ----------
    confirm : str or None
        The patient's name, typed again (or the id); None when the request
        itself is the confirmation (``DELETE /api/v1/patients/{id}``).

    Returns
    -------
    list of str
        The hashes of files to remove from the store once the transaction
        has committed (the caller removes them).
    """
    patient = get_patient(db, who, patient_id, action="")
    if confirm is not None and confirm.strip() not in (patient.name, str(patient.id)):
        raise Invalid("confirm: type the patient's name (or id) to confirm the erasure",
                      fields=[{"field": "confirm", "message": "does not match"}])
    visit_ids = list(db.scalars(select(Visit.id).where(Visit.patient_id == patient.id)))
    shas: set[str] = set()
    if visit_ids:
        shas |= set(db.scalars(select(Upload.sha256).where(Upload.visit_id.in_(visit_ids))))
        for row in db.execute(select(Profile.json_sha256, Profile.html_sha256,
                                     Profile.pdf_sha256).where(Profile.visit_id.in_(visit_ids))):
            shas |= set(row)
    counts = f"visits={len(visit_ids)}"
    item_ids = list(db.scalars(select(PlanItem.id).where(PlanItem.patient_id == patient.id)))
    if item_ids:
        db.query(PlanEvent).filter(PlanEvent.plan_item_id.in_(item_ids)).delete(
            synchronize_session=False)
    # the patient's portal account goes with them (their sessions with it)
    account = db.scalar(select(PortalAccount.user_id).where(
        PortalAccount.patient_id == patient.id))
    db.delete(patient)
    db.flush()
    if account is not None:
        db.execute(delete(User).where(User.id == account, User.role == "patient"))
    gone = files_no_row_names(db, shas)
    audit.record(db, who.actor, "patient.erase", "patient", patient_id,
                 f"{counts}, files={len(gone)}")
    return sorted(gone)


def audit_page(db: Session, who: Principal, *, limit: int = 100, offset: int = 0
               ) -> tuple[list[AuditEvent], list[str]]:
    """Read a page of the clinic's audit log and check its hash chain (owners).

    The read itself is audited.

    Returns
    -------
    rows : list of AuditEvent
        At most ``limit`` rows (1 to 1000), newest first, after ``offset``.
    problems : list of str
        What :func:`gutaxis.service.audit.verify_chain` found wrong; empty
        when the chain is intact.
    """
    limit = max(1, min(int(limit), 1000))
    rows = audit.audit_rows(db, who.clinic_id, limit=limit, offset=max(0, int(offset)))
    problems = audit.verify_chain(db, who.clinic_id)
    audit.record(db, who.actor, "audit.read", "audit", "", f"rows={len(rows)}")
    return rows, problems


AUDIT_FIELDS = ("seq", "at", "user_id", "user_email", "action", "object_type", "object_id",
                "address", "detail", "prev_hash", "hash")


def audit_csv(db: Session, who: Principal) -> str:
    """Export the clinic's whole audit log as CSV (owners; the export is audited).

    Returns
    -------
    str
        A header of :data:`AUDIT_FIELDS`, then one line per row, oldest
        first, with the hashes (so that the chain can be checked elsewhere).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(AUDIT_FIELDS)
    rows = audit.audit_rows(db, who.clinic_id)
    for row in reversed(rows):
        writer.writerow([getattr(row, f).isoformat() if f == "at" else getattr(row, f)
                         for f in AUDIT_FIELDS])
    audit.record(db, who.actor, "audit.export", "audit", "", f"rows={len(rows)}")
    return buffer.getvalue()
