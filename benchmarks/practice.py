"""Speed of the practice application: pages under load, and a visit's upload → profile.

Usage::

    .venv/bin/python -m benchmarks.practice                       # both backends, full size
    .venv/bin/python -m benchmarks.practice --backend sqlite      # or postgresql
    .venv/bin/python -m benchmarks.practice --quick               # smoke run, ~3 min
    .venv/bin/python -m benchmarks.practice --only api,upload --duration 60

For each backend (SQLite in the data folder; PostgreSQL: a fresh database on
``--postgres`` made for the run and dropped after):

1. **Seed** a clinic of ``--patients`` × ``--visits`` (default 10,000 × 5) with
   :mod:`benchmarks.practice_seed` (bulk inserts into the migrated schema:
   uploads, lab values, profiles and timeline rows per visit).
2. **Serve** it: the real console script ``gutaxis serve --data … --port …``
   (uvicorn, one process, the job worker on) in a subprocess.
3. **Load**: for each scenario, ``--clients`` (50) closed-loop clients on
   loopback (:mod:`benchmarks.practice_load`) for ``--warmup`` + ``--duration``
   seconds: ``GET /api/v1/patients/{id}``, ``/api/v1/patients/{id}/timeline``
   and ``/api/v1/patients?q=<surname>`` with a personal access token, and the
   pages ``/patients/{id}``, ``/patients/{id}/timeline``, ``/patients?q=``
   with a session cookie (``POST /api/v1/session``) — a page that the app does
   not have yet is reported as absent.  Patients are drawn uniformly, surnames
   from the seeding lists.  Every one of these requests is audited (a row in
   the hash-chained log, in the request's transaction); the chain is verified
   after the run.
4. **Upload → profile** against a 1,000-sample reference: the reference is
   built once with the library (``run_reference_build``), from
   :func:`benchmarks.profile.resampled_study` (each sample a multinomial redraw,
   at its own depth, of a random sample of the bundled study; its markers times
   log-normal noise, sd 0.2), cached under ``.bench/practice/``, copied into
   the data folder and registered as the clinic's reference (a ``Reference``
   row, status done).  A new patient's visit gets a ``LABS.csv`` (untimed), then
   a one-sample BIOM of a study sample: *upload → profile, bundled reference*
   is that first upload, profiled against the bundled controls as the server
   does by default.  ``POST /visits/{id}/profile {reference_id}`` then makes
   the 1,000-sample reference the visit's reference (*profile job only*), and
   each timed round uploads another sample to the same visit — the server
   profiles it against the visit's reference — polling
   ``GET /api/v1/visits/{id}/profile`` every 50 ms until it answers 200 with
   that sample's ``profile.json``.  The job rows give the breakdown (queue
   waits, parse, profile); a separate fresh process times the profile job's
   parts (bootstrap with the server's ``n_boot`` = 2000, JSON/HTML, PDF).

Results: printed, and written to ``.bench/practice.json`` with the machine,
versions, load averages and the CPU seconds used by the server and by the
load generator (they share the machine).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks import practice_load, practice_seed

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
CACHE = BENCH_DIR / "practice"
OWNER = "owner@bench.example"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
REFERENCE_MARKERS = ("LPSpgml", "LBPugml", "sCD14ugml", "IFABPpgml")
#: The module that serves with timing logs (``--trace``).
TRACE_MODULE = "benchmarks.practice_trace"
SCENARIOS = ("api_patient", "api_timeline", "api_search",
             "page_patient", "page_timeline", "page_search")


# ----------------------------------------------------------------------------- machine
def machine() -> dict[str, Any]:
    import fastapi
    import sqlalchemy
    import uvicorn

    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        cpu = next((line.split(":", 1)[1].strip() for line in handle
                    if line.startswith("model name")), "")
    mem = 0.0
    with contextlib.suppress(OSError), open("/proc/meminfo") as handle:
        mem = int(handle.readline().split()[1]) / 1024 ** 2
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    import sqlite3

    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem, 1),
            "python": platform.python_version(), "fastapi": fastapi.__version__,
            "uvicorn": uvicorn.__version__, "sqlalchemy": sqlalchemy.__version__,
            "httpx": httpx.__version__, "sqlite": sqlite3.sqlite_version,
            "commit": commit, "src_dirty": bool(dirty),
            "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}


# ----------------------------------------------------------------------------- inputs
def reference_1000(n: int) -> tuple[Path, dict[str, Any]]:
    """The resampled ``n``-sample reference, built once with the library and cached."""
    from benchmarks.profile import resampled_study
    from gutaxis.commands import ReferenceOptions, run_reference_build
    from gutaxis.io import write_biom

    folder = CACHE / f"reference-{n}"
    info_path = CACHE / f"reference-{n}.json"
    if (folder / "reference.json").is_file() and info_path.is_file():
        return folder, json.loads(info_path.read_text())
    CACHE.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cohort = resampled_study(n)
    table, metadata = CACHE / f"cohort-{n}.biom", CACHE / f"cohort-{n}.tsv"
    write_biom(cohort, table)
    assert cohort.samples is not None
    md = cohort.samples.copy()
    md.index.name = "sample-id"
    md.to_csv(metadata, sep="\t")
    made = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = run_reference_build(ReferenceOptions(
        table=table, metadata=metadata, name=f"benchmark: {n} resampled samples of the "
                                             "bundled study", markers=REFERENCE_MARKERS))
    built = time.perf_counter() - t0
    result.write(folder, overwrite=True)
    info = {"samples": int(result.reference.n_samples), "cohort_seconds": round(made, 2),
            "build_seconds": round(built, 2)}
    info_path.write_text(json.dumps(info))
    return folder, info


def upload_files(samples: list[str]) -> tuple[dict[str, Path], Path]:
    """One-sample BIOM files of study samples, and a LABS.csv of the first one's markers."""
    import pandas as pd

    from gutaxis.io import read_example, write_biom

    folder = CACHE / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    study = read_example()
    out = {}
    for sample in samples:
        path = folder / f"{sample}.biom"
        if not path.is_file():
            write_biom(study.subset_samples([sample]).drop_empty_features(), path)
        out[sample] = path
    assert study.samples is not None
    row = study.samples.loc[samples[0]]
    labs = folder / "LABS.csv"
    lines = ["sample_id,marker,value,unit"]
    for column, marker, unit in (("LPSpgml", "LPS", "pg/mL"), ("LBPugml", "LBP", "ug/mL"),
                                 ("sCD14ugml", "sCD14", "ug/mL"),
                                 ("IFABPpgml", "I-FABP", "pg/mL")):
        if pd.notna(row[column]):
            lines.append(f"{samples[0]},{marker},{float(row[column])!r},{unit}")
    labs.write_text("\n".join(lines) + "\n")
    return out, labs


# ----------------------------------------------------------------------------- databases
@contextlib.contextmanager
def database(backend: str, server: str) -> Iterator[str | None]:
    """None for SQLite (in the data folder); else a new PostgreSQL database, dropped after."""
    if backend == "sqlite":
        yield None
        return
    import sqlalchemy as sa

    name = f"gutaxis_bench_{os.getpid()}_{int(time.time())}"
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def postgres_version(server: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(f"{server}/postgres")
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("SHOW server_version").scalar())
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(data: Path, url: str | None, port: int, trace: Path | None = None,
           cprofile: bool = False, workers: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """``gutaxis serve`` in a subprocess (its log in ``<data>/server.log``), stopped after.

    With ``trace``, :mod:`benchmarks.practice_trace` serves instead (the same
    app with timing logs, written to ``trace``).  ``workers`` > 1 is
    ``gutaxis serve --workers N`` (PostgreSQL).
    """
    env = dict(os.environ)
    env.pop("GUTAXIS_DATABASE_URL", None)
    if url:
        env["GUTAXIS_DATABASE_URL"] = url
    exe = Path(sys.executable).parent / "gutaxis"
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed below
    command = [str(exe), "serve", "--data", str(data), "--port", str(port),
               "--workers", str(workers)]
    if trace is not None:
        command = [sys.executable, "-m", TRACE_MODULE, "--data", str(data),
                   "--port", str(port), "--out", str(trace)] + (["--cprofile"] if cprofile
                                                               else [])
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server stopped (exit {process.returncode}); see "
                                   f"{data / 'server.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=2).status_code \
                        == 401:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in 120 s")
            time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def sign_in(base: str) -> tuple[dict[str, str], dict[str, str]]:
    """The Bearer header (a new token) and the session cookie of the owner."""
    with httpx.Client(base_url=base, timeout=30) as http:
        r = http.post("/api/v1/session", json={"email": OWNER,
                                               "password": practice_seed.PASSWORD})
        r.raise_for_status()
        csrf = r.json()["csrf_token"]
        cookie = {"gutaxis_session": r.cookies["gutaxis_session"]}
        t = http.post("/api/v1/tokens", json={"name": "benchmark"},
                      headers={"X-CSRF-Token": csrf})
        t.raise_for_status()
    return {"Authorization": f"Bearer {t.json()['token']}"}, cookie


# ----------------------------------------------------------------------------- scenarios
def scenario_urls(first: int, count: int) -> dict[str, Any]:
    def patient(prefix: str, suffix: str = "") -> Any:
        return lambda rng: f"{prefix}/patients/{rng.randrange(first, first + count)}{suffix}"

    def search(prefix: str) -> Any:
        return lambda rng: (f"{prefix}/patients?q="
                            f"{urllib.parse.quote(rng.choice(practice_seed.SURNAMES))}")

    return {"api_patient": patient("/api/v1"), "api_timeline": patient("/api/v1", "/timeline"),
            "api_search": search("/api/v1"), "page_patient": patient(""),
            "page_timeline": patient("", "/timeline"), "page_search": search("")}


def probe_page(base: str, cookie: dict[str, str], path: str) -> str | None:
    """None when the page answers 200 with HTML; else why it is taken as absent."""
    r = httpx.get(base + path, cookies=cookie, headers={"Accept": "text/html"}, timeout=30,
                  follow_redirects=False)
    if r.status_code == 200 and r.headers.get("content-type", "").startswith("text/html"):
        return None
    return f"{path} answered {r.status_code} ({r.headers.get('content-type', '')})"


def read_trace(process: subprocess.Popen[bytes], path: Path) -> dict[str, Any]:
    """Ask the tracing server for its figures since the last call (and reset them)."""
    path.unlink(missing_ok=True)
    process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            return dict(json.loads(path.read_text()))
        time.sleep(0.05)
    return {}


# ----------------------------------------------------------------------------- upload → profile
def _jobs_since(url: str, job_id: int) -> list[dict[str, Any]]:
    """The jobs after ``job_id``: queue wait and run time (and, for a profile, when it showed)."""
    from sqlalchemy import select

    from gutaxis.service.db import make_engine
    from gutaxis.service.models import Job, Profile

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Job.id, Job.kind, Job.status, Job.error, Job.target_id,
                                       Job.created_at, Job.started_at, Job.finished_at)
                                .where(Job.id > job_id).order_by(Job.id)).all()
            shown = dict(conn.execute(select(Profile.id, Profile.finished_at).where(
                Profile.id.in_([r.target_id for r in rows if r.kind == "profile"]))).all())
    finally:
        engine.dispose()

    def span(a: Any, b: Any) -> float | None:
        return round((b - a).total_seconds(), 3) if a is not None and b is not None else None

    out = []
    for r in rows:
        entry = {"id": r.id, "kind": r.kind, "status": r.status, "error": r.error,
                 "queue_s": span(r.created_at, r.started_at),
                 "run_s": span(r.started_at, r.finished_at)}
        if r.kind == "profile":
            entry["shown_s"] = span(r.started_at, shown.get(r.target_id))
        out.append(entry)
    return out


def _poll_profile(http: httpx.Client, visit: int, sample: str, t0: float,
                  limit: float = 300.0) -> tuple[float, int]:
    polls = 0
    while True:
        r = http.get(f"/api/v1/visits/{visit}/profile")
        polls += 1
        if r.status_code == 200 and r.json().get("sample_id") == sample:
            return time.perf_counter() - t0, polls
        if r.status_code == 422:
            raise RuntimeError(f"the profile failed: {r.text}")
        if time.perf_counter() - t0 > limit:
            raise RuntimeError(f"no profile of {sample} after {limit} s ({r.status_code})")
        time.sleep(0.05)


def _upload(http: httpx.Client, visit: int, path: Path, kind: str) -> int:
    with open(path, "rb") as handle:
        r = http.post(f"/api/v1/visits/{visit}/uploads", data={"kind": kind},
                      files={"file": (path.name, handle, "application/octet-stream")})
    if r.status_code != 202:
        raise RuntimeError(f"upload refused: {r.status_code} {r.text}")
    return int(r.json()["job"])


def _wait_idle(url: str, limit: float = 600.0) -> None:
    """Wait until no job is pending or running (the last PDF is stored)."""
    from sqlalchemy import func, select

    from gutaxis.service.db import make_engine
    from gutaxis.service.models import Job

    engine = make_engine(url)
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                busy = conn.execute(select(func.count()).select_from(Job).where(
                    Job.status.in_(("pending", "running")))).scalar_one()
            if not busy:
                return
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise RuntimeError(f"jobs still running after {limit} s")


def upload_to_profile(base: str, bearer: dict[str, str], url: str, reference_id: int,
                      rounds: int) -> dict[str, Any]:
    """Time upload → profile shown: once against the bundled reference, then the big one.

    Each measurement starts with the worker idle (the previous profile's PDF
    stored); the job rows are read once the PDF is stored too.
    """
    from gutaxis.io import read_example

    study = read_example()
    assert study.samples is not None
    samples = sorted(str(s) for s in study.samples.index)[: rounds + 1]
    files, labs = upload_files(samples)
    out: dict[str, Any] = {"rounds": []}
    with httpx.Client(base_url=base, headers=bearer, timeout=60) as http:
        patient = http.post("/api/v1/patients", json={"name": "Upload Benchmark"}).json()["id"]
        visit = http.post(f"/api/v1/patients/{patient}/visits",
                          json={"visit_date": _dt.date.today().isoformat()}).json()["id"]
        last_job = _upload(http, visit, labs, "labs")
        _wait_idle(url)

        def measure(sample: str, start: Any) -> dict[str, Any]:
            nonlocal last_job
            t0 = time.perf_counter()
            start()
            requested = time.perf_counter() - t0
            seconds, polls = _poll_profile(http, visit, sample, t0)
            _wait_idle(url)
            jobs = _jobs_since(url, last_job)
            last_job = max(j["id"] for j in jobs)
            document = http.get(f"/api/v1/visits/{visit}/profile").json()
            return {"sample": sample, "seconds": round(seconds, 3),
                    "request_s": round(requested, 3), "polls": polls,
                    "reference_samples": document["reference"].get("n_samples"),
                    "jobs": jobs}

        # the server's default: the first table of a visit is profiled against the bundled
        # controls
        out["bundled"] = measure(samples[0], lambda: _upload(
            http, visit, files[samples[0]], "microbiome"))
        # the clinic's 1,000-sample reference becomes the visit's reference (profile job only)
        out["reprofile"] = measure(samples[0], lambda: http.post(
            f"/api/v1/visits/{visit}/profile",
            json={"reference_id": reference_id}).raise_for_status())
        # the timed rounds: a new table for the visit, profiled against its reference
        for sample in samples[1:]:
            out["rounds"].append(measure(sample, lambda s=sample: _upload(
                http, visit, files[s], "microbiome")))
    times = sorted(r["seconds"] for r in out["rounds"])
    out["median_s"] = round(statistics.median(times), 3) if times else None
    out["max_s"] = times[-1] if times else None
    return out


def _breakdown_worker(table: str, sample: str, reference: str, labs: str) -> None:
    """In a fresh process: time the parts of the profile job (prints JSON)."""
    t0 = time.perf_counter()
    import gutaxis.service.tasks  # noqa: F401 - what the worker's forkserver preloads

    imported = time.perf_counter() - t0
    from gutaxis.commands import ProfileOptions, run_profile
    from gutaxis.report import write_profile

    def step(n_boot: int, out: Path) -> dict[str, float]:
        options = ProfileOptions(table=Path(table), sample=sample, reference=Path(reference),
                                 labs=Path(labs), n_boot=n_boot, pdf=True)
        t0 = time.perf_counter()
        result = run_profile(options)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_profile(result.profile, out / "html", pdf=False)
        html = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_profile(result.profile, out / "pdf", pdf=True)
        pdf = time.perf_counter() - t0 - html
        return {"run_profile_s": round(built, 3), "json_html_s": round(html, 3),
                "pdf_s": round(max(pdf, 0.0), 3)}

    res: dict[str, Any] = {"import_tasks_s": round(imported, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        res["cold"] = step(2000, Path(tmp) / "a")
        res["warm"] = step(2000, Path(tmp) / "b")
        res["warm_n_boot_1"] = step(1, Path(tmp) / "c")
    res["bootstrap_2000_s"] = round(res["warm"]["run_profile_s"]
                                    - res["warm_n_boot_1"]["run_profile_s"], 3)
    print(json.dumps(res))


def profile_breakdown(reference: Path, sample: str) -> dict[str, Any]:
    """Time the profile job's parts in a fresh process, one thread (as the worker's child)."""
    files, labs = upload_files([sample])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "benchmarks.practice", "--breakdown-worker",
                           str(files[sample]), sample, str(reference), str(labs)],
                          cwd=ROOT, capture_output=True, text=True, env=env, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ----------------------------------------------------------------------------- one backend
def register_reference(ctx: Any, clinic_id: int, folder: Path, samples: int) -> int:
    from gutaxis.service.models import Reference

    name = f"clinic-{clinic_id}-bench-{samples}"
    target = ctx.settings.references_dir / name
    shutil.copytree(folder, target, dirs_exist_ok=True)
    with ctx.transaction() as db:
        row = Reference(clinic_id=clinic_id, name=f"Benchmark: {samples} resampled samples",
                        description="benchmarks.practice: multinomial redraws of the bundled "
                                    "study's samples", folder=name, status="done")
        db.add(row)
        db.flush()
        return int(row.id)


def audit_check(settings: Any, clinic_id: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from gutaxis.service.audit import verify_chain
    from gutaxis.service.context import AppContext
    from gutaxis.service.models import AuditEvent

    ctx = AppContext(settings)
    try:
        t0 = time.perf_counter()
        with ctx.sessions() as db:
            rows = db.scalar(select(func.count()).where(AuditEvent.clinic_id == clinic_id))
            problems = verify_chain(db, clinic_id)
        return {"rows": rows, "chain_intact": not problems, "problems": problems[:5],
                "verify_s": round(time.perf_counter() - t0, 2)}
    finally:
        ctx.close()


def run_backend(backend: str, args: argparse.Namespace, reference: Path,
                ref_info: dict[str, Any]) -> dict[str, Any]:
    from gutaxis.service.app import prepare
    from gutaxis.service.context import AppContext
    from gutaxis.service.settings import Settings

    result: dict[str, Any] = {"backend": backend, "scenarios": [], "absent": {}}
    if backend == "postgresql":
        result["postgres"] = postgres_version(args.postgres)
    BENCH_DIR.mkdir(exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix=f"practice-{backend}-", dir=BENCH_DIR))
    try:
        with database(backend, args.postgres) as url:
            settings = Settings(data_dir=data, database_url=url, run_worker=False)
            print(f"[{backend}] seeding {args.patients} × {args.visits} in {data}", flush=True)
            ctx = AppContext(settings)
            try:
                prepare(ctx)
                clinic_id, _, seeded = practice_seed.seed_benchmark_clinic(
                    ctx, "Benchmark clinic", OWNER, patients=args.patients, visits=args.visits)
                reference_id = register_reference(ctx, clinic_id, reference,
                                                  ref_info["samples"])
            finally:
                ctx.close()
            result["seed"] = seeded.as_dict()
            print(f"[{backend}] seeded in {seeded.seconds:.1f} s", flush=True)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            trace = data / "trace.json" if args.trace or args.cprofile else None
            workers = args.server_workers if backend == "postgresql" else 1
            with server(data, url, port, trace, args.cprofile, workers) as process:
                bearer, cookie = sign_in(base)
                urls = scenario_urls(seeded.patient_ids.start, len(seeded.patient_ids))
                for name in args.scenarios:
                    if name.startswith("page_"):
                        why = probe_page(base, cookie, urls[name](random.Random(0)))
                        if why is not None:
                            result["absent"][name] = why
                            print(f"[{backend}] {name}: absent — {why}", flush=True)
                            continue
                    auth = ({"headers": bearer} if name.startswith("api_") else
                            {"cookies": cookie, "headers": {"Accept": "text/html"}})
                    if trace is not None:
                        read_trace(process, trace)
                    res = practice_load.run_load(
                        name, base, urls[name], clients=args.clients, duration=args.duration,
                        warmup=args.warmup, think=args.think, server_pid=process.pid,
                        **auth)
                    result["scenarios"].append(res.as_dict())
                    if trace is not None:
                        result["scenarios"][-1]["trace"] = read_trace(process, trace)
                        print(f"[{backend}] {name} trace: {result['scenarios'][-1]['trace']}",
                              flush=True)
                    lat = res.latency_ms
                    print(f"[{backend}] {name}: {res.throughput} req/s, p50 {lat['p50']} "
                          f"p95 {lat['p95']} p99 {lat['p99']} ms, errors {res.errors}, "
                          f"server CPU {res.server_cpu_s} s, generator CPU "
                          f"{res.generator_cpu_s} s, load {res.load_before[0]}→"
                          f"{res.load_after[0]}" + (f" — {res.error_sample}" if res.errors
                                                   else ""), flush=True)
                if "upload" in args.only and args.upload_rounds:
                    load = practice_load.loadavg()
                    db_url = url or settings.url
                    up = upload_to_profile(base, bearer, db_url, reference_id,
                                           args.upload_rounds)
                    up["load_before"], up["load_after"] = load, practice_load.loadavg()
                    result["upload"] = up
                    print(f"[{backend}] upload → profile (1,000-sample reference): median "
                          f"{up['median_s']} s, max {up['max_s']} s over "
                          f"{len(up['rounds'])} rounds; bundled reference "
                          f"{up['bundled']['seconds']} s; profile job alone "
                          f"{up['reprofile']['seconds']} s", flush=True)
            result["audit"] = audit_check(settings, clinic_id)
            print(f"[{backend}] audit: {result['audit']}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
        else:
            result["data"] = str(data)
    return result


# ----------------------------------------------------------------------------- main
def _table(results: dict[str, Any]) -> str:
    lines = ["| backend | route | req/s | p50 ms | p95 ms | p99 ms | errors | server CPU s | "
             "load CPU s | 1-min load |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for run in results["runs"]:
        for s in run["scenarios"]:
            lat = s["latency_ms"]
            lines.append(f"| {run['backend']} | {s['name']} | {s['throughput']} | {lat['p50']}"
                         f" | {lat['p95']} | {lat['p99']} | {s['errors']} | "
                         f"{s['server_cpu_s']} | {s['generator_cpu_s']} | "
                         f"{s['load_before'][0]}→{s['load_after'][0]} |")
        for name, why in run["absent"].items():
            lines.append(f"| {run['backend']} | {name} | — | — | — | — | — | — | — | absent: "
                         f"{why} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--visits", type=int, default=5)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="uncounted seconds first")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean think time between a client's requests (s)")
    parser.add_argument("--only", default="api,pages,upload",
                        help="any of api, pages, upload, or scenario names")
    parser.add_argument("--upload-rounds", type=int, default=5)
    parser.add_argument("--reference-samples", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get("GUTAXIS_BENCH_POSTGRES",
                                                             DEFAULT_POSTGRES))
    parser.add_argument("--quick", action="store_true",
                        help="1,000 patients, 5 s per scenario, 2 upload rounds")
    parser.add_argument("--server-workers", type=int, default=1,
                        help="server processes on PostgreSQL (gutaxis serve --workers; "
                             "SQLite always has one)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--trace", action="store_true",
                        help="serve with timing logs (benchmarks.practice_trace)")
    parser.add_argument("--cprofile", action="store_true",
                        help="serve with timing logs, every request in one thread under "
                             "cProfile (CPU per request; latencies are not the server's)")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "practice.json")
    parser.add_argument("--breakdown-worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.breakdown_worker:
        _breakdown_worker(*args.breakdown_worker)
        return
    if args.quick:
        args.patients = min(args.patients, 1000)
        args.duration, args.warmup = min(args.duration, 5.0), min(args.warmup, 2.0)
        args.upload_rounds = min(args.upload_rounds, 2)
    only = {w.strip() for w in args.only.split(",") if w.strip()}
    args.only = only
    args.scenarios = [s for s in SCENARIOS if s in only or s.split("_")[0] in only
                      or (s.startswith("page_") and "pages" in only)]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]

    results: dict[str, Any] = {"machine": machine(), "load_start": practice_load.loadavg(),
                               "argv": sys.argv[1:], "settings": {
                                   k: (sorted(v) if isinstance(v, set) else v)
                                   for k, v in vars(args).items() if k != "output"}}
    reference, ref_info = reference_1000(args.reference_samples)
    results["reference"] = ref_info
    print(f"reference: {ref_info}", flush=True)
    if "upload" in only:
        from gutaxis.io import read_example

        first = sorted(str(s) for s in read_example().sample_ids)[0]
        results["profile_breakdown"] = profile_breakdown(reference, first)
        print(f"profile job parts: {results['profile_breakdown']}", flush=True)
    results["runs"] = []
    for backend in backends:
        results["runs"].append(run_backend(backend, args, reference, ref_info))
    results["load_end"] = practice_load.loadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=str))
    print(_table(results))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
