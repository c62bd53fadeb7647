"""Files received for a visit: stored by SHA-256, then parsed by a job in a limited process."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.db import get_row, utcnow
from gutaxis.service.errors import Conflict, Invalid, NotFound
from gutaxis.service.models import UPLOAD_KINDS, Job, LabValue, Profile, Reference, Upload
from gutaxis.service.services.patients import get_visit
from gutaxis.service.store import FileStore, TooLargeError

__all__ = ["receive_upload", "get_upload", "remove_failed_upload", "visit_uploads",
           "visit_labs", "safe_filename", "enqueue", "files_no_row_names",
           "remove_unnamed_files"]

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_filename(name: str | None) -> str:
    """Make a file name safe to store and to offer for download.

    Folders are dropped, runs of characters other than letters, digits and
    ``._+-`` become ``_``, and a name over 120 characters is shortened with
    its extension kept.

    Parameters
    ----------
    name : str or None
        The name the client sent.

    Returns
    -------
    str
        The safe name; ``upload`` when nothing is left.

    Examples
    --------
    >>> safe_filename("../../etc/pass wd.biom")
    'pass_wd.biom'
    >>> safe_filename("")
    'upload'
    """
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip("._") or "upload"
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[:100] + dot + ext[:19]) if dot else base[:120]
    return base


def enqueue(db: Session, clinic_id: int, kind: str, target_id: int) -> Job:
    """Queue a job (it runs once this transaction commits)."""
    job = Job(clinic_id=clinic_id, kind=kind, target_id=target_id)
    db.add(job)
    db.flush()
    return job


def receive_upload(db: Session, store: FileStore, who: Principal, visit_id: int, kind: str,
                   filename: str | None, stream: BinaryIO | None = None, *,
                   sample: str | None = None, limit: int, refused: str | None = None,
                   stored: tuple[str, int] | None = None,
                   skip_unknown: bool = False) -> tuple[Upload, Job]:
    """Keep an uploaded file and queue its parse.

    The file goes into the store (whole, flushed) before the rows that name
    it are written — from ``stream``, or already there (``stored``: its
    SHA-256 and size, as the upload route writes it while it arrives).  A
    file over ``limit`` bytes (or one the request already refused,
    ``refused``) is not kept, and its job is failed at once with the reason,
    so that the client sees it like any other failed parse.

    Returns
    -------
    Upload, Job
    """
    visit = get_visit(db, who, visit_id, action="")
    if kind not in UPLOAD_KINDS:
        raise Invalid(f"kind: expected one of {', '.join(UPLOAD_KINDS)}; got {kind!r}",
                      fields=[{"field": "kind", "message": "unknown kind"}])
    if refused is None and stored is None and stream is None:  # nothing to keep or parse
        raise Invalid("file: choose a file to upload (none was sent)",
                      fields=[{"field": "file", "message": "required"}])
    sample = (sample or "").strip() or None
    if sample is not None and len(sample) > 200:
        raise Invalid("sample: at most 200 characters", fields=[{"field": "sample",
                                                                   "message": "too long"}])
    name = safe_filename(filename)
    upload = Upload(clinic_id=who.clinic_id, visit_id=visit.id, kind=kind, filename=name,
                    sample=sample, created_by=who.user_id,
                    # the parse's option, read by the job (its result replaces the summary)
                    summary={"skip_unknown": True} if kind == "fhir" and skip_unknown else {})
    error = f"{name}: {refused}" if refused is not None else None
    if error is None and stored is not None:
        upload.sha256, upload.size = stored
    elif error is None:
        assert stream is not None
        try:
            upload.sha256, upload.size = store.put_stream(stream, limit=limit)
        except TooLargeError as exc:
            error = f"{name}: {exc}; nothing was kept"
    if error is not None:
        upload.status, upload.error = "failed", error
    db.add(upload)
    db.flush()
    job = enqueue(db, who.clinic_id, "parse", upload.id)
    if error is not None:
        job.status, job.error, job.finished_at = "failed", error, utcnow()
    audit.record(db, who.actor, "upload.create", "upload", upload.id,
                 f"visit={visit.id}, kind={kind}, bytes={upload.size}"
                 + (", refused" if error else ""))
    return upload, job


def get_upload(db: Session, who: Principal, upload_id: int) -> Upload:
    """One upload of the clinic.

    Raises
    ------
    NotFound
    """
    upload = get_row(db, Upload, upload_id)
    if upload is None or upload.clinic_id != who.clinic_id:
        raise NotFound(f"no upload {upload_id}")
    audit.record(db, who.actor, "upload.read", "upload", upload.id)
    return upload


def remove_failed_upload(db: Session, who: Principal, upload_id: int) -> tuple[int, list[str]]:
    """Remove an upload whose parse failed: its row, its parse job, and (after commit) its file.

    A failed upload added nothing to the record but the file itself, which
    may not belong there at all (another patient's results, refused as
    such); without this it stayed in the patient's record and export for
    good.  An upload that was parsed, or is still waiting, is not removed:
    its results are part of the record.

    Returns
    -------
    visit_id : int
        The visit the upload was for.
    shas : list of str
        The hash of the file to remove from the store once the transaction
        has committed, when no other row names it (the caller removes it
        with :func:`remove_unnamed_files`).

    Raises
    ------
    NotFound
        No such upload in the caller's clinic.
    Conflict
        The upload did not fail.
    """
    upload = get_row(db, Upload, upload_id)
    if upload is None or upload.clinic_id != who.clinic_id:
        raise NotFound(f"no upload {upload_id}")
    if upload.status != "failed":
        raise Conflict(f"upload {upload_id} ({upload.filename}) is {upload.status}: only a "
                       "failed upload can be removed (a parsed one's results are part of the "
                       "record)")
    sha = upload.sha256
    db.execute(delete(Job).where(Job.kind == "parse", Job.target_id == upload.id,
                                 Job.clinic_id == who.clinic_id))
    db.delete(upload)
    db.flush()
    audit.record(db, who.actor, "upload.delete", "upload", upload_id,
                 f"visit={upload.visit_id}, kind={upload.kind}, status=failed")
    return upload.visit_id, sorted(files_no_row_names(db, {sha}))


def files_no_row_names(db: Session, shas: Iterable[str]) -> set[str]:
    """Pick the files among ``shas`` that no upload, profile or reference names any more.

    Parameters
    ----------
    shas : iterable of str
        SHA-256 hashes (empty ones are ignored).

    Returns
    -------
    set of str
        The hashes whose files can leave the store.
    """
    wanted = set(shas) - {""}
    if not wanted:
        return set()
    still = set(db.scalars(select(Upload.sha256).where(Upload.sha256.in_(wanted))))
    for column in (Profile.json_sha256, Profile.html_sha256, Profile.pdf_sha256):
        still |= set(db.scalars(select(column).where(column.in_(wanted))))
    for column in (Reference.source_sha256, Reference.metadata_sha256):
        still |= set(db.scalars(select(column).where(column.in_(wanted))))
    return wanted - still


def visit_uploads(db: Session, visit_id: int) -> list[Upload]:
    """List a visit's uploads, oldest first (the caller has checked the visit)."""
    return list(db.scalars(select(Upload).where(Upload.visit_id == visit_id)
                           .order_by(Upload.id)))


def visit_labs(db: Session, visit_id: int) -> list[LabValue]:
    """List the lab values of a visit's latest parsed labs upload, by marker.

    Returns
    -------
    list of LabValue
        Empty when the visit has no parsed labs upload.
    """
    latest = db.scalar(select(Upload.id).where(Upload.visit_id == visit_id,
                                               Upload.kind.in_(("labs", "fhir")),
                                               Upload.status == "parsed")
                       .order_by(Upload.id.desc()).limit(1))
    if latest is None:
        return []
    return list(db.scalars(select(LabValue).where(LabValue.upload_id == latest)
                           .order_by(LabValue.marker)))


def remove_unnamed_files(store: FileStore, reads: sessionmaker[Session],
                         shas: Iterable[str]) -> set[str]:
    """Remove from the store the files among ``shas`` that no committed row names.

    Call it after the transaction that dropped the rows has committed.  The
    rows are read again under the store's lock, in a transaction of their
    own, and a file that a writer has just placed for a row not yet
    committed is left alone (:meth:`FileStore.remove_unnamed`): the same
    bytes uploaded for another patient at that moment keep their file.

    The rows have already gone; a file that cannot be removed now (a disk
    or database error) is logged and left, an orphan no row names, rather
    than turning the committed change into a failed request.

    Parameters
    ----------
    store : FileStore
    reads : sessionmaker
        Makes the session of that read: a read-only one
        (:attr:`AppContext.reads <gutaxis.service.context.AppContext.reads>`),
        which on SQLite never waits for a writer while the store is locked.
    shas : iterable of str

    Returns
    -------
    set of str
        The hashes removed.
    """
    def still_named(candidates: set[str]) -> set[str]:
        with reads() as db:
            return candidates - files_no_row_names(db, candidates)

    wanted = sorted(set(shas) - {""})
    try:
        return store.remove_unnamed(wanted, still_named)
    except (OSError, SQLAlchemyError):
        logger.exception("%d stored file(s) could not be removed and stay as orphans: %s",
                         len(wanted), ", ".join(wanted))
        return set()
