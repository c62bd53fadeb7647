"""The job worker: claims queued jobs from the database and runs them in a limited process.

Job state lives in the database, so a restart resumes the work: a job is
claimed with a lease (``lease_until``) that the worker extends while it
runs; a job whose lease ran out (its worker died) is claimed again, at most
:data:`MAX_ATTEMPTS` times.  On PostgreSQL several servers may share the
queue (``FOR UPDATE SKIP LOCKED``).  A job's result is written to the file
store first and committed after, so an interrupted job leaves no partial
record; a failed job records its message on the job and on its object.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from gutaxis.service.context import AppContext
from gutaxis.service.db import utcnow
from gutaxis.service.models import (
    Job,
    LabValue,
    Patient,
    PatientIdentifier,
    Profile,
    Reference,
    Upload,
    Visit,
    VisitMeasure,
)
from gutaxis.service.sandbox import Limits, TaskFailed, run_limited
from gutaxis.service.services.profiles import (
    default_reference,
    measures_from_document,
)
from gutaxis.service.services.uploads import enqueue, remove_unnamed_files

__all__ = ["Worker", "run_next_job", "run_pending", "MAX_ATTEMPTS"]

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


def _keep_files(ctx: AppContext, paths: dict[str, Path],
                record: Callable[[Session, dict[str, str]], bool]) -> bool:
    """Put files in the store and let ``record`` write the rows that name them (by hash).

    The files are held from removal until those rows are committed
    (:meth:`FileStore.holding`); when ``record`` writes none (it returns
    False: the patient was erased, the job taken over), the files go again.
    """
    with ctx.store.holding():
        shas = {kind: ctx.store.put_file(path) for kind, path in paths.items()}
        with ctx.transaction() as db:
            kept = record(db, shas)
    if not kept:
        remove_unnamed_files(ctx.store, ctx.reads, shas.values())
    return kept


def _limits(ctx: AppContext) -> Limits:
    s = ctx.settings
    return Limits(s.job_cpu_seconds, s.job_memory_bytes, float(s.job_wall_seconds),
                  s.job_file_bytes)


def _lease(ctx: AppContext) -> dt.timedelta:
    return dt.timedelta(seconds=ctx.settings.job_wall_seconds
                        + ctx.settings.job_lease_grace_seconds)


def claim(ctx: AppContext) -> tuple[int, str, int, int] | None:
    """Take the oldest runnable job: ``(job id, kind, target id, clinic id)`` or None."""
    now = utcnow()
    with ctx.transaction() as db:
        query = (select(Job).where(or_(Job.status == "pending",
                                       (Job.status == "running") & (Job.lease_until < now)))
                 .order_by(Job.id).limit(1))
        if db.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job = db.scalar(query)
        if job is None:
            return None
        job.attempts += 1
        if job.attempts > MAX_ATTEMPTS:
            _fail(db, job, f"the job was interrupted {MAX_ATTEMPTS} times and was given up")
            return None
        job.status, job.started_at = "running", now
        job.lease_until = now + _lease(ctx)
        return job.id, job.kind, job.target_id, job.clinic_id


def _fail(db: Any, job: Job, message: str) -> None:
    job.status, job.error, job.finished_at, job.lease_until = "failed", message, utcnow(), None
    if job.kind == "parse":
        upload = db.get(Upload, job.target_id)
        if upload is not None:
            upload.status, upload.error = "failed", message
    elif job.kind == "profile":
        profile = db.get(Profile, job.target_id)
        if profile is not None:
            profile.status, profile.error = "failed", message
    elif job.kind == "reference":
        ref = db.get(Reference, job.target_id)
        if ref is not None:
            ref.status, ref.error = "failed", message


def _still_ours(db: Any, job_id: int) -> Job | None:
    job = db.get(Job, job_id)
    return job if job is not None and job.status == "running" else None


@contextlib.contextmanager
def _scratch(ctx: AppContext, job_id: int) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=f"job-{job_id}-", dir=ctx.settings.scratch_dir))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _link(ctx: AppContext, sha: str, folder: Path, name: str) -> Path:
    """Link (or copy) a stored file into a job's folder as ``name``, never onto a file there.

    The link is the store's own file: a job that wrote where it sits would
    change a stored file under its SHA-256, so the job's own files take
    other names (:func:`_free`) and a name already taken is an error.
    """
    target = folder / name
    source = ctx.store.open(sha)
    try:
        target.hardlink_to(source)
    except FileExistsError:
        raise
    except OSError:  # another file system: a copy
        with open(source, "rb") as read, open(target, "xb") as write:
            shutil.copyfileobj(read, write)
    return target


def _free(folder: Path, name: str, role: str) -> Path:
    """Where a job puts its file ``name``: ``role-name`` when an input already has that name.

    Uploads keep their own names (a BIOM table may be called ``LABS.csv``).
    """
    path = folder / name
    return folder / f"{role}-{name}" if path.exists() else path


def _plain_message(message: str, folder: Path) -> str:
    return message.replace(str(folder) + "/", "").replace(str(folder), "")


def run_next_job(ctx: AppContext) -> bool:
    """Claim and run one job; False when there was none."""
    claimed = claim(ctx)
    if claimed is None:
        return False
    job_id, kind, target, _clinic = claimed
    handler = {"parse": _parse, "profile": _profile, "reference": _reference}.get(kind)
    with _scratch(ctx, job_id) as folder:
        try:
            if handler is None:
                raise TaskFailed(f"unknown job kind {kind!r}")
            handler(ctx, job_id, target, folder)
        except TaskFailed as exc:
            with ctx.transaction() as db:
                job = _still_ours(db, job_id)
                if job is not None:
                    _fail(db, job, _plain_message(str(exc), folder))
        except Exception as exc:  # a bug: the job fails, the worker goes on
            logger.exception("job %s (%s) failed", job_id, kind)
            with ctx.transaction() as db:
                job = _still_ours(db, job_id)
                if job is not None:
                    _fail(db, job, f"internal error ({type(exc).__name__}); the server log "
                                   "has the details")
    return True


def run_pending(ctx: AppContext, limit: int = 1000) -> int:
    """Run queued jobs until none is left (tests and the command line); how many ran."""
    ran = 0
    while ran < limit and run_next_job(ctx):
        ran += 1
    return ran


def _done(job: Job) -> None:
    job.status, job.finished_at, job.lease_until, job.error = "done", utcnow(), None, None


# ---------------------------------------------------------------- parse an upload
def upload_patient_identifiers(db: Any, upload: Upload) -> list[PatientIdentifier]:
    """Return the identifiers of the patient whose visit ``upload`` belongs to."""
    return list(db.scalars(select(PatientIdentifier).join(
        Visit, Visit.patient_id == PatientIdentifier.patient_id).where(
        Visit.id == upload.visit_id).order_by(PatientIdentifier.id)))


def _identifiers_of_other_patients(db: Any, upload_id: int, identifiers: list[list[str]]
                                   ) -> list[tuple[str, str, int]]:
    """Which of ``identifiers`` the upload's clinic holds for a patient other than the visit's.

    Returns
    -------
    list of (system, value, patient id)
    """
    upload = db.get(Upload, upload_id)
    if upload is None or not identifiers:
        return []
    visit = db.get(Visit, upload.visit_id)
    wanted = {(str(system), str(value)) for system, value in identifiers}
    rows = db.execute(select(PatientIdentifier.system, PatientIdentifier.value,
                             PatientIdentifier.patient_id).where(
        PatientIdentifier.clinic_id == upload.clinic_id,
        PatientIdentifier.patient_id != visit.patient_id,
        PatientIdentifier.value.in_(sorted(v for _, v in wanted))).order_by(
        PatientIdentifier.id))
    return [(system, value, patient) for system, value, patient in rows
            if (system, value) in wanted]


def _parse(ctx: AppContext, job_id: int, upload_id: int, folder: Path) -> None:
    with ctx.sessions() as db:
        upload = db.get(Upload, upload_id)
        if upload is None:
            raise TaskFailed("the upload was erased")
        kind, sha, name, sample = upload.kind, upload.sha256, upload.filename, upload.sample
        options = dict(upload.summary or {})
        identifiers = [[i.system, i.value] for i in upload_patient_identifiers(db, upload)]
        visit = db.get(Visit, upload.visit_id)
        born = visit.patient.birth_date if visit is not None else None
    path = _link(ctx, sha, folder, name)
    try:
        if kind == "microbiome":
            result = run_limited("parse_microbiome", {"path": str(path), "sample": sample},
                                 _limits(ctx))
        elif kind == "fhir":
            result = run_limited("parse_fhir", {
                "path": str(path), "identifiers": identifiers,
                "birth_date": born.isoformat() if born else None,
                "skip_unknown": bool(options.get("skip_unknown"))}, _limits(ctx))
        else:
            result = run_limited("parse_labs", {"path": str(path)}, _limits(ctx))
    except TaskFailed as exc:  # a limit's message names the file too, as the readers' do
        message = _plain_message(str(exc), folder)
        raise TaskFailed(message if message.startswith(name) else f"{name}: {message}"
                         ) from None
    if kind == "fhir" and result.get("patient"):
        with ctx.sessions() as db:
            others = _identifiers_of_other_patients(db, upload_id, result["patient"])
        if others:
            raise TaskFailed(
                f"{name}: the results' patient also has the identifier(s) "
                f"{', '.join(f'{s}|{v}' if s else v for s, v, _ in others)}, which this "
                f"clinic holds for another patient (patient {others[0][2]}): the file names "
                "two patients, or an identifier is on the wrong record; nothing was stored")
    if kind == "labs":
        samples = result["samples"]
        if sample is None and len(samples) > 1:
            raise TaskFailed(f"{name}: the file holds results for {len(samples)} samples "
                             f"({', '.join(samples[:10])}); say which one is this visit's "
                             "(\"Sample id\" in the upload form, the 'sample' field in the API)")
        chosen = sample or samples[0]
        if chosen not in samples:
            raise TaskFailed(f"{name}: no results for sample {chosen!r} (the file has "
                             f"{', '.join(samples[:10])})")
        result["rows"] = [r for r in result["rows"] if r["sample_id"] == chosen]
        result["sample"] = chosen
    with ctx.transaction() as db:
        job = _still_ours(db, job_id)
        upload = db.get(Upload, upload_id)
        if job is None or upload is None:
            return
        upload.status, upload.error, upload.sample = "parsed", None, result["sample"]
        if kind in ("labs", "fhir"):
            for row in result.pop("rows"):
                db.add(LabValue(clinic_id=upload.clinic_id, visit_id=upload.visit_id,
                                upload_id=upload.id, marker=row["marker"],
                                value=float(row["value"]), unit=row["unit"],
                                censored=row.get("censored") or "",
                                ref_low=row.get("ref_low"), ref_high=row.get("ref_high"),
                                assay=_fit(row.get("assay"), 200),
                                effective=_fit(row.get("effective"), 40),
                                specimen=_fit(row.get("specimen"), 200),
                                interpretation=_fit(row.get("interpretation"), 40),
                                source=_fit(row.get("source"), 255)))
            result["n_results"] = len(db.new)
        upload.summary = {**({"skip_unknown": True} if options.get("skip_unknown") else {}),
                          **result}
        _done(job)
        _queue_profile_after_parse(db, upload)


def _fit(text: str | None, most: int) -> str:
    """``text`` in at most ``most`` characters, ending in "…" when it was cut (never silently).

    >>> _fit("Bühlmann fCAL turbo", 10)
    'Bühlmann …'
    """
    text = text or ""
    return text if len(text) <= most else text[:most - 1] + "…"


def _queue_profile_after_parse(db: Any, upload: Upload) -> None:
    """Queue a new profile of the visit after a parse, when the visit has a parsed table.

    Nothing is queued while the visit's latest profile is still waiting for
    its job to start: that job reads the visit's latest uploads when it runs.
    The profile uses the reference of the visit's latest profile, or the
    bundled one for its first.
    """
    table = db.scalar(select(Upload.id).where(Upload.visit_id == upload.visit_id,
                                              Upload.kind == "microbiome",
                                              Upload.status == "parsed").limit(1))
    if table is None:
        return
    last = db.scalar(select(Profile).where(Profile.visit_id == upload.visit_id)
                     .order_by(Profile.id.desc()).limit(1))
    if last is not None and last.status == "pending" and db.scalar(
            select(Job.id).where(Job.kind == "profile", Job.target_id == last.id,
                                 Job.status == "pending")) is not None:
        return  # a profile not started yet reads the visit's latest uploads when it runs
    reference_id = last.reference_id if last is not None else default_reference(db).id
    profile = Profile(clinic_id=upload.clinic_id, visit_id=upload.visit_id,
                      reference_id=reference_id)
    db.add(profile)
    db.flush()
    enqueue(db, upload.clinic_id, "profile", profile.id)


# ---------------------------------------------------------------- compute a profile
def _labs_csv(rows: list[LabValue], sample: str, path: Path) -> None:
    import csv

    with open(path, "x", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sample_id", "marker", "value", "unit", "ref_low", "ref_high", "assay"])
        for row in rows:
            value = f"{row.censored}{row.value!r}" if row.censored else repr(row.value)
            writer.writerow([sample, row.marker, value, row.unit,
                             "" if row.ref_low is None else repr(row.ref_low),
                             "" if row.ref_high is None else repr(row.ref_high), row.assay])


def _profile(ctx: AppContext, job_id: int, profile_id: int, folder: Path) -> None:
    from gutaxis.service.services.uploads import visit_labs

    with ctx.sessions() as db:
        profile = db.get(Profile, profile_id)
        if profile is None:
            raise TaskFailed("the visit was erased")
        visit = db.get(Visit, profile.visit_id)
        assert visit is not None
        table = db.scalar(select(Upload).where(Upload.visit_id == visit.id,
                                               Upload.kind == "microbiome",
                                               Upload.status == "parsed")
                          .order_by(Upload.id.desc()).limit(1))
        if table is None:
            raise TaskFailed("the visit has no parsed microbiome table")
        reference = db.get(Reference, profile.reference_id)
        if reference is None or reference.status != "done":
            raise TaskFailed("the reference is not ready")
        payload: dict[str, Any] = {
            "table": str(_link(ctx, table.sha256, folder, table.filename)),
            "sample": table.sample, "reference": str(ctx.settings.references_dir
                                                     / reference.folder),
            "out": str(_free(folder, "out", "profile")), "n_boot": ctx.settings.n_boot,
            "patient": f"patient-{visit.patient_id}",
            "visit_date": visit.visit_date.isoformat()}
        labs = visit_labs(db, visit.id)
        if labs:
            labs_path = _free(folder, "LABS.csv", "visit")
            payload["labs"] = str(labs_path)
            _labs_csv(labs, str(table.sample), labs_path)
            source = db.get(Upload, labs[0].upload_id)
            assert source is not None
            payload["labs_made_from"] = [source.filename, source.sha256]
        previous = db.scalar(
            select(Profile).join(Visit, Visit.id == Profile.visit_id)
            .where(Visit.patient_id == visit.patient_id, Profile.status == "done",
                   or_(Visit.visit_date < visit.visit_date,
                       (Visit.visit_date == visit.visit_date) & (Visit.id < visit.id)))
            .order_by(Visit.visit_date.desc(), Visit.id.desc(), Profile.id.desc()).limit(1))
        if previous is not None:
            payload["previous"] = str(_link(ctx, previous.json_sha256, folder, _free(
                folder, "previous-profile.json", "visit").name))
        patient_id, visit_id = visit.patient_id, visit.id
    shown = False

    def show(written: dict[str, str]) -> None:
        """Keep the JSON and HTML and show the profile, before its PDF is drawn."""
        nonlocal shown
        document = json.loads(Path(written["json"]).read_text(encoding="utf-8"))

        def record(db: Session, shas: dict[str, str]) -> bool:
            job = _still_ours(db, job_id)
            profile = db.get(Profile, profile_id)
            if job is None or profile is None or db.get(Patient, patient_id) is None:
                return False  # erased (or taken over) meanwhile
            profile.status, profile.error, profile.finished_at = "done", None, utcnow()
            profile.json_sha256, profile.html_sha256 = shas["json"], shas["html"]
            db.execute(delete(VisitMeasure).where(VisitMeasure.visit_id == visit_id))
            for row in measures_from_document(document):
                db.add(VisitMeasure(clinic_id=profile.clinic_id, patient_id=patient_id,
                                    visit_id=visit_id, profile_id=profile.id, **row))
            return True

        shown = _keep_files(ctx, {kind: Path(written[kind]) for kind in ("json", "html")},
                            record)

    try:
        written = run_limited("compute_profile", payload, _limits(ctx), on_partial=show)
    except TaskFailed as exc:
        if not shown:
            raise
        with ctx.transaction() as db:  # the profile stands; only its PDF is missing
            job, profile = _still_ours(db, job_id), db.get(Profile, profile_id)
            if profile is not None:
                profile.error = f"the PDF could not be made: {_plain_message(str(exc), folder)}"
            if job is not None:
                _done(job)
                job.error = profile.error if profile is not None else None
        return
    if not shown:  # pragma: no cover - compute_profile always reports first
        show(written)

    def record_pdf(db: Session, shas: dict[str, str]) -> bool:
        job, profile = _still_ours(db, job_id), db.get(Profile, profile_id)
        if job is None or profile is None:
            return False
        profile.pdf_sha256 = shas["pdf"]
        _done(job)
        return True

    _keep_files(ctx, {"pdf": Path(written["pdf"])}, record_pdf)


# ---------------------------------------------------------------- build a reference
def _reference(ctx: AppContext, job_id: int, reference_id: int, folder: Path) -> None:
    with ctx.sessions() as db:
        ref = db.get(Reference, reference_id)
        if ref is None:
            raise TaskFailed("the reference was removed")
        names = json.loads(ref.description or "{}")
        payload: dict[str, Any] = {
            "table": str(_link(ctx, ref.source_sha256, folder, names.get("table", "table"))),
            "name": ref.name, "where": ref.filter or None}
        if ref.metadata_sha256:
            payload["metadata"] = str(_link(ctx, ref.metadata_sha256, folder, _free(
                folder, names.get("metadata", "metadata.tsv"), "metadata").name))
        built = _free(folder, "reference", "built")
        payload["out"] = str(built)
        target = ctx.settings.references_dir / ref.folder
    run_limited("build_reference", payload, _limits(ctx))
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    shutil.move(str(built), target)
    with ctx.transaction() as db:
        job = _still_ours(db, job_id)
        ref = db.get(Reference, reference_id)
        if job is None or ref is None:
            return
        ref.status, ref.error = "done", None
        _done(job)


class Worker:
    """A thread that runs jobs while the server runs (started and stopped by the app).

    Parameters
    ----------
    ctx : AppContext
    """

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start polling for jobs."""
        self._thread = threading.Thread(target=self._loop, name="gutaxis-worker", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not run_next_job(self.ctx):
                    self._stop.wait(self.ctx.settings.worker_poll_seconds)
            except Exception:  # the database went away for a moment: try again
                logger.exception("the job worker hit an error; retrying")
                self._stop.wait(1.0)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to stop and wait for the job in hand."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
