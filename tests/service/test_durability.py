"""Durability (issue 10): the server SIGKILLed at random moments loses nothing it acknowledged.

A client creates visits and uploads against a real server process (uvicorn
on a free loopback port, the job worker on): a ``LABS.csv`` for every visit
and, every few visits, the bundled study's BIOM table with one of its
samples, so that parse and profile jobs are in flight when the server dies.
Meanwhile the test kills the server — and every process it started: the job
forkserver and the limited job children, which run in process groups of
their own — with SIGKILL at moments drawn from a seeded RNG (some during
start-up, most while it serves), at least 30 times, restarting it each time
on the same data folder and database.  After the last restart the worker
finishes the queue, the server is killed once more, and the test checks that

* every write the client saw acknowledged (2xx with its id) is in the
  database as it was sent (visits, uploads with the SHA-256 of the bytes
  sent, their parse jobs);
* the database passes its own integrity check
  (:func:`gutaxis.service.db.check_integrity`);
* every file a row names (uploads, profile json/html/pdf) is in the store
  and still has its SHA-256;
* the clinic's audit chain verifies;
* no job is left ``pending`` or ``running``: the jobs a kill interrupted
  ran again and finished (a job interrupted more than
  :data:`~gutaxis.service.jobs.MAX_ATTEMPTS` times is failed with that
  reason, by design — the only failure allowed here); a parsed ``LABS.csv``
  holds the values sent, a parsed table the sample asked for, and every
  finished profile its timeline rows.

Server processes are forked from a "zygote" that has imported the
application once, so that a restart costs the application's start-up
(migrations, the worker) and not the seconds of importing numpy and
friends; each server is a separate process in a session of its own, as a
real one would be.

On PostgreSQL a killed server's running jobs are not reset at start (other
servers may share the queue): they are claimed again when their lease runs
out, ``job_wall_seconds`` + ``job_lease_grace_seconds`` after they were
claimed.  The PostgreSQL run therefore sets them to :data:`PG_WALL_SECONDS`
(a profile with 50 bootstrap replicates takes a few seconds) and
:data:`PG_GRACE_SECONDS` and waits out the leases in its final phase.

Two fast tests (not marked slow) keep a job from writing into the file store
through the hard links that are its inputs (an upload named like a file the
job writes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from builders.live_server import free_port
from builders.practice import PASSWORD, bearer, make_user, run_jobs, sign_in
from gutaxis import io as gio
from gutaxis.service import Settings
from gutaxis.service.audit import verify_chain
from gutaxis.service.context import AppContext
from gutaxis.service.db import check_integrity, make_engine, upgrade
from gutaxis.service.jobs import MAX_ATTEMPTS
from gutaxis.service.models import Job, LabValue, Profile, Upload, Visit, VisitMeasure
from gutaxis.service.store import FileStore

API = "/api/v1"
SEED = 20260110
#: Kills while the client writes (the final kill, after the queue is done, is extra).
#: 15 per backend in ``make test`` (with start-up kills and kills during uploads and jobs
#: among them); ``GUTAXIS_DURABILITY_KILLS=100`` runs a longer trial.
KILLS = dict.fromkeys(("sqlite", "postgresql"),
                      int(os.environ.get("GUTAXIS_DURABILITY_KILLS", "15")))
#: The share of kills aimed at start-up (migrations, resetting jobs) rather than serving.
EARLY_KILLS = 0.2
#: Seconds a server serves before it is killed: uniform in this range.
SERVE_SECONDS = (0.05, 4.0)
#: Every this many visits the client also uploads the bundled table, at most TABLES
#: times (a profile takes seconds: they bound the final phase).
TABLE_EVERY = 6
TABLES = 6
#: The client's pause between visits (bounds the work queued for the final phase).
PACE_SECONDS = 0.15
#: job_wall_seconds and job_lease_grace_seconds on PostgreSQL: a killed job is claimed
#: again after their sum.
PG_WALL_SECONDS = 20
PG_GRACE_SECONDS = 10
#: Patients of the bundled study (Giloteaux et al. 2016) whose samples the tables name.
SAMPLES = ("ERR1331869", "ERR1331791", "ERR1331851", "ERR1331866")
INTERRUPTED = f"the job was interrupted {MAX_ATTEMPTS} times and was given up"

#: The process servers are forked from (it reads one JSON line of settings per server).
ZYGOTE = r"""
import faulthandler, json, os, signal, sys
import uvicorn
from gutaxis.service import Settings, create_app

signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the servers
for line in sys.stdin:
    config = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            log = os.open(config.pop("log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it hangs
            port = config.pop("port")
            uvicorn.run(create_app(Settings(**config)), host="127.0.0.1", port=port,
                        log_level="warning")
        finally:
            os._exit(0)
    print(pid, flush=True)
"""


def _session_members(sid: int) -> list[int]:
    """The live processes of session ``sid`` (zombies left out)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        state, _ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if state not in ("Z", "X") and int(session) == sid:
            members.append(int(entry.name))
    return members


class Zygote:
    """A process that has imported the application and forks a server on demand."""

    def __init__(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        self.process = subprocess.Popen([sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env)

    def fork(self, config: dict[str, Any]) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(config) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line.strip().isdigit(), f"the zygote answered {line!r}"
        return int(line)

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


class Server:
    """The server process of one data folder and database, started and killed again and again."""

    def __init__(self, zygote: Zygote, settings: Settings, log: Path) -> None:
        self.zygote, self.settings, self.log = zygote, settings, log
        self.pid: int | None = None
        self.base = ""
        self.kills = 0

    def start(self) -> None:
        port = free_port()
        s = self.settings
        self.pid = self.zygote.fork({
            "log": str(self.log), "port": port, "data_dir": str(s.data_dir),
            "database_url": s.database_url, "n_boot": s.n_boot, "run_worker": True,
            "job_wall_seconds": s.job_wall_seconds, "worker_poll_seconds": 0.1})
        self.base = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.base + API + "/me", timeout=5).status_code == 401:
                    return
            time.sleep(0.05)
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGUSR1)  # its threads' stacks, into the log
            time.sleep(1)
        pytest.fail(f"the server did not start in {timeout:.0f} s; its log ends:\n"
                    + self.log.read_text(errors="replace")[-3000:])

    def kill(self) -> None:
        """SIGKILL the server, then what is left of its session (jobs have groups of their own)."""
        assert self.pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while members := _session_members(self.pid):
            for pid in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            assert time.monotonic() < deadline, f"processes {members} survive SIGKILL"
            time.sleep(0.02)
        self.pid = None
        self.kills += 1


@dataclasses.dataclass(frozen=True)
class SentVisit:
    patient_id: int
    visit_date: dt.date
    notes: str


@dataclasses.dataclass(frozen=True)
class SentUpload:
    visit_id: int
    kind: str
    filename: str
    sha256: str
    size: int
    job_id: int
    sample: str
    labs: dict[str, float]


#: Markers of the lab files: as written, the id gutaxis stores them under, the unit.
MARKERS = (("LPS", "lps", "pg/mL"), ("hs-CRP", "hscrp", "mg/L"), ("LBP", "lbp", "ug/mL"))


def _labs_csv(sample: str, n: int) -> tuple[bytes, dict[str, float]]:
    """The n-th visit's LABS.csv and the values it holds, by stored marker id."""
    values = (40.0 + n + 0.25, round(0.5 + n / 100, 2), 10.0 + n % 7)
    rows = "".join(f"{sample},{written},{value!r},{unit}\n"
                   for (written, _id, unit), value in zip(MARKERS, values, strict=True))
    stored = {marker_id: value for (_w, marker_id, _u), value in zip(MARKERS, values,
                                                                     strict=True)}
    return f"sample_id,marker,value,unit\n{rows}".encode(), stored


class Client(threading.Thread):
    """Creates visits and uploads without pause, keeping what the server acknowledged."""

    def __init__(self, server: Server, token: str, patients: list[int], seed: int) -> None:
        super().__init__(name="durability-client", daemon=True)
        self.server, self.patients = server, patients
        self.headers = {"Authorization": f"Bearer {token}"}
        self.rng = random.Random(seed)
        self.table = gio.example_dataset().table.read_bytes()
        self.table_sha = hashlib.sha256(self.table).hexdigest()
        self.visits: dict[int, SentVisit] = {}
        self.uploads: dict[int, SentUpload] = {}
        self.unexpected: list[str] = []
        self.unanswered = 0  # requests under way when the server died
        self.refused = 0  # requests made while it was down
        self.halt = threading.Event()
        self.tables = 0  # tables sent

    def _post(self, http: httpx.Client, path: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            response = http.post(self.server.base + API + path, headers=self.headers, **kwargs)
        except httpx.ConnectError:
            self.refused += 1
            time.sleep(0.05)
            return None
        except httpx.TransportError:
            self.unanswered += 1
            return None
        if not response.is_success:
            self.unexpected.append(f"POST {path}: {response.status_code} {response.text[:300]}")
            return None
        body: dict[str, Any] = response.json()
        return body

    def run(self) -> None:
        n = 0
        with httpx.Client(timeout=60) as http:
            while not self.halt.is_set():
                n += 1
                self._visit(http, n)
                time.sleep(self.rng.uniform(0, 2 * PACE_SECONDS))

    def _visit(self, http: httpx.Client, n: int) -> None:
        patient = self.patients[n % len(self.patients)]
        day = dt.date(2020, 1, 1) + dt.timedelta(days=n)
        notes = f"visit {n}: {self.rng.getrandbits(64):016x}"
        made = self._post(http, f"/patients/{patient}/visits",
                          json={"visit_date": day.isoformat(), "notes": notes})
        if made is None:
            return
        visit = made["id"]
        self.visits[visit] = SentVisit(patient, day, notes)
        sample = SAMPLES[n % len(SAMPLES)]
        data, values = _labs_csv(sample, n)
        self._upload(http, visit, "labs", f"labs-{n}.csv", data, "", values)
        if n % TABLE_EVERY == 0 and self.tables < TABLES:
            self.tables += 1
            self._upload(http, visit, "microbiome", "table.biom", self.table, sample, {})

    def _upload(self, http: httpx.Client, visit: int, kind: str, name: str, data: bytes,
                sample: str, labs: dict[str, float]) -> None:
        fields = {"kind": kind, **({"sample": sample} if sample else {})}
        made = self._post(http, f"/visits/{visit}/uploads", data=fields,
                          files={"file": (name, data, "application/octet-stream")})
        if made is not None:
            self.uploads[made["id"]] = SentUpload(visit, kind, name,
                                                  hashlib.sha256(data).hexdigest(), len(data),
                                                  made["job"], sample, labs)


def _setup(server: Server, settings: Settings) -> tuple[str, list[int]]:
    """An owner's token and three patients, made through the API of the first server."""
    ctx = AppContext(settings)
    upgrade(ctx.engine)
    make_user(ctx, "Durable clinic", "owner@durable.test")
    ctx.close()
    server.start()
    server.wait_ready()
    with httpx.Client(base_url=server.base + API, timeout=60) as http:
        signed = http.post("/session", json={"email": "owner@durable.test",
                                             "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        made = http.post("/tokens", json={"name": "durability"},
                         headers={"X-CSRF-Token": signed.json()["csrf_token"]})
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        http.cookies.clear()
        patients = []
        for name in ("Ada Quinn", "Bo Reyes", "Cy Lund"):
            answer = http.post("/patients", json={"name": name, "sex": "unknown"},
                               headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 201, answer.text
            patients.append(answer.json()["id"])
    return token, patients


def _unfinished(url: str) -> list[tuple[int, str, str, int]]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(Job.id, Job.kind, Job.status, Job.attempts)
                                      .where(Job.status.in_(("pending", "running"))))
            return [(r.id, r.kind, r.status, r.attempts) for r in rows]
    finally:
        engine.dispose()


def _wait_for_jobs(url: str, timeout: float) -> float:
    started = time.monotonic()
    while left := _unfinished(url):
        if time.monotonic() - started > timeout:
            pytest.fail(f"{len(left)} jobs still unfinished {timeout:.0f} s after the last "
                        f"restart: {left[:10]}")
        time.sleep(0.5)
    return time.monotonic() - started


@pytest.fixture
def durable_settings(make_settings: Callable[..., Settings], database_url: str | None
                     ) -> Settings:
    extra = {} if database_url is None else {"job_wall_seconds": PG_WALL_SECONDS,
                                             "job_lease_grace_seconds": PG_GRACE_SECONDS}
    return make_settings(n_boot=50, run_worker=True, **extra)


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    process = Zygote()
    yield process
    process.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_acknowledged_write(
        durable_settings: Settings, zygote: Zygote, tmp_path: Path) -> None:
    settings = durable_settings
    backend = "sqlite" if settings.database_url is None else "postgresql"
    rng = random.Random(SEED)
    server = Server(zygote, settings, tmp_path / "server.log")
    started = time.monotonic()
    client: Client | None = None
    try:
        token, patients = _setup(server, settings)
        client = Client(server, token, patients, SEED + 1)
        client.start()
        for kill in range(KILLS[backend]):
            if kill:
                server.start()
            if kill and rng.random() < EARLY_KILLS:
                time.sleep(rng.uniform(0.0, 1.5))  # migrating, resetting jobs, starting
            else:
                server.wait_ready()
                time.sleep(rng.uniform(*SERVE_SECONDS))
            server.kill()
        client.halt.set()
        client.join(60)
        assert not client.is_alive()
        kill_phase = time.monotonic() - started
        server.start()
        server.wait_ready()
        waited = _wait_for_jobs(settings.url, 240.0)
        server.kill()
    finally:
        if client is not None:
            client.halt.set()
        if server.pid is not None:
            server.kill()

    assert not client.unexpected, client.unexpected[:5]
    # the client wrote throughout: visits in most serving periods, tables among them
    assert len(client.visits) >= KILLS[backend]
    assert any(u.kind == "microbiome" for u in client.uploads.values())

    engine = make_engine(settings.url)
    store = FileStore(settings.files_dir, settings.scratch_dir)
    try:
        assert check_integrity(engine) == []
        with Session(engine) as db:
            summary = _check_database(db, store, client)
    finally:
        engine.dispose()
    print(f"\n{backend}: {server.kills} kills ({KILLS[backend]} while writing, "
          f"{kill_phase:.0f} s), {len(client.visits)} visits and {len(client.uploads)} "
          f"uploads acknowledged, {client.unanswered} requests cut off by a kill; "
          f"jobs {dict(summary['status'])}, {summary['rerun']} finished after an "
          f"interruption, {summary['given_up']} given up after {MAX_ATTEMPTS} interruptions; "
          f"queue finished {waited:.0f} s after the last restart; {summary['orphans']} stored "
          "files no row names (writes cut off before their commit)")


def _check_database(db: Session, store: FileStore, client: Client) -> dict[str, Any]:
    # every acknowledged visit, as sent
    rows = {v.id: v for v in db.scalars(sa.select(Visit).where(Visit.id.in_(client.visits)))}
    missing = sorted(set(client.visits) - set(rows))
    assert not missing, f"acknowledged visits missing after the kills: {missing}"
    for visit_id, sent in client.visits.items():
        row = rows[visit_id]
        assert (row.patient_id, row.visit_date, row.notes) == (
            sent.patient_id, sent.visit_date, sent.notes), visit_id

    # every acknowledged upload, its bytes' hash, its parse job
    uploads = {u.id: u for u in db.scalars(sa.select(Upload))}
    jobs = {j.id: j for j in db.scalars(sa.select(Job))}
    missing = sorted(set(client.uploads) - set(uploads))
    assert not missing, f"acknowledged uploads missing after the kills: {missing}"
    for upload_id, sent in client.uploads.items():
        row = uploads[upload_id]
        assert (row.visit_id, row.kind, row.filename, row.sha256, row.size) == (
            sent.visit_id, sent.kind, sent.filename, sent.sha256, sent.size), upload_id
        job = jobs[sent.job_id]
        assert (job.kind, job.target_id) == ("parse", upload_id)

    # every file a row names is there with its hash
    named = {u.sha256 for u in uploads.values() if u.sha256}
    profiles = list(db.scalars(sa.select(Profile)))
    for profile in profiles:
        if profile.status == "done":
            assert profile.json_sha256 and profile.html_sha256 and profile.pdf_sha256
        named |= {profile.json_sha256, profile.html_sha256, profile.pdf_sha256} - {""}
    bad = sorted(sha for sha in named if not store.verify(sha))
    assert not bad, f"stored files missing or not matching their SHA-256: {bad}"
    assert client.table_sha in named

    # the audit chain
    clinic = db.scalar(sa.select(Upload.clinic_id).limit(1))
    assert clinic is not None
    assert verify_chain(db, clinic) == []

    # no job left behind; the only failure is the one kills cause by design
    status = Counter(j.status for j in jobs.values())
    assert set(status) <= {"done", "failed"}, status
    other_failures = [(j.id, j.kind, j.error) for j in jobs.values()
                      if j.status == "failed" and j.error != INTERRUPTED]
    assert not other_failures, other_failures
    given_up = [j for j in jobs.values() if j.status == "failed"]
    assert all(j.attempts == MAX_ATTEMPTS + 1 for j in given_up)
    interrupted = [j for j in jobs.values() if j.attempts > 1]
    assert interrupted, "no job was interrupted by a kill and claimed again: the test missed"
    rerun = [j for j in interrupted if j.status == "done"]

    # what the finished jobs made is whole: parsed uploads, lab values, profiles
    labs: dict[int, dict[str, float]] = {}
    for value in db.scalars(sa.select(LabValue)):
        labs.setdefault(value.upload_id, {})[value.marker] = value.value
    for job in jobs.values():
        if job.kind == "parse":
            upload = uploads[job.target_id]
            assert upload.status == ("parsed" if job.status == "done" else "failed"), job.id
            sent = client.uploads.get(upload.id)
            if sent is not None and job.status == "done":
                if sent.kind == "labs":
                    assert labs.get(upload.id) == pytest.approx(sent.labs), upload.id
                else:
                    assert upload.sample == sent.sample
                    assert upload.summary["sample_total"] > 0
            if job.status == "failed":
                assert upload.id not in labs, upload.id
        elif job.kind == "profile":
            profile = db.get(Profile, job.target_id)
            assert profile is not None
            assert profile.status == job.status, job.id
    # a visit whose table was parsed has a profile: its job was queued with the parse
    parsed_tables = {u.visit_id for u in uploads.values()
                     if u.kind == "microbiome" and u.status == "parsed"}
    profiled = {p.visit_id for p in profiles}
    assert parsed_tables <= profiled, sorted(parsed_tables - profiled)
    # a visit's timeline rows come from one of its profiles, whose document is stored
    by_id = {p.id: p for p in profiles}
    by_visit: dict[int, set[int]] = {}
    for visit_id, profile_id in db.execute(sa.select(VisitMeasure.visit_id,
                                                     VisitMeasure.profile_id).distinct()):
        by_visit.setdefault(visit_id, set()).add(profile_id)
    assert {p.visit_id for p in profiles if p.status == "done"} <= set(by_visit)
    for visit_id, profile_ids in by_visit.items():
        (profile_id,) = profile_ids
        assert by_id[profile_id].visit_id == visit_id and by_id[profile_id].json_sha256
    return {"status": status, "rerun": len(rerun), "given_up": len(given_up),
            "orphans": len(store.orphans(named))}




# ---------------------------------------------------------------- jobs never write into the store
# A job's inputs are hard links to the store's own files: a job that wrote where an
# input sits would change a stored file under its SHA-256.  Readers know a BIOM table
# by its content, whatever its name, so an upload's name can be anything.


def test_a_table_named_like_the_profiles_lab_file_stays_whole(client: TestClient,
                                                              ctx: AppContext) -> None:
    make_user(ctx, "Store clinic", "owner@store.test")
    auth = bearer(client, "owner@store.test")
    patient = client.post(API + "/patients", json={"name": "Dee Moss"}, headers=auth)
    visit = client.post(API + f"/patients/{patient.json()['id']}/visits",
                        json={"visit_date": "2024-03-01"}, headers=auth).json()["id"]
    table = gio.example_dataset().table.read_bytes()
    labs, values = _labs_csv(SAMPLES[0], 1)
    for kind, name, data in (("labs", "labs.csv", labs), ("microbiome", "LABS.csv", table)):
        answer = client.post(API + f"/visits/{visit}/uploads", headers=auth,
                             data={"kind": kind, "sample": SAMPLES[0]},
                             files={"file": (name, data, "application/octet-stream")})
        assert answer.status_code == 202, answer.text
    run_jobs(ctx)
    profile = client.get(API + f"/visits/{visit}/profile", headers=auth)
    assert profile.status_code == 200, profile.text  # the profile read the table, not the labs
    document = profile.json()
    assert document["sample_id"] == SAMPLES[0]
    inputs = {(i["role"], i["path"], i["sha256"]) for i in document["provenance"]["inputs"]}
    assert ("table", "LABS.csv", hashlib.sha256(table).hexdigest()) in inputs
    for data in (table, labs):
        sha = hashlib.sha256(data).hexdigest()
        assert ctx.store.verify(sha)
        assert ctx.store.open(sha).read_bytes() == data
    lps = client.get(API + f"/visits/{visit}", headers=auth).json()["labs"]
    assert {row["marker"]: row["value"] for row in lps} == pytest.approx(values)


def test_a_cohorts_metadata_named_like_its_table_stays_apart(client: TestClient,
                                                             ctx: AppContext) -> None:
    make_user(ctx, "Store clinic", "owner@store.test")
    headers = sign_in(client, "owner@store.test")
    data = gio.example_dataset()
    table, metadata = data.table.read_bytes(), data.metadata.read_bytes()
    made = client.post(API + "/references", headers=headers,
                       data={"name": "patients", "where": "Subject == 'Patient'"},
                       files={"table": ("cohort", table), "metadata": ("cohort", metadata)})
    assert made.status_code == 202, made.text
    run_jobs(ctx)
    job = client.get(API + f"/jobs/{made.json()['job']}", headers=headers).json()
    assert job["status"] == "done", job
    for content in (table, metadata):
        sha = hashlib.sha256(content).hexdigest()
        assert ctx.store.verify(sha)
        assert ctx.store.open(sha).read_bytes() == content
    refs = {r["name"]: r for r in client.get(API + "/references", headers=headers).json()}
    assert refs["patients"]["status"] == "done"
