"""Hostile uploads: each ends as a failed job with a clear message, nothing partial is kept.

In-process (SQLite and PostgreSQL): every crafted file the readers refuse
(malformed and malicious BIOM/HDF5 and JSON, ``.qza`` with path traversal,
links or a zip bomb, text that is not UTF-8, bad lab results), and the job
limits — a file over the upload limit, a zip bomb under the reader's ratio
limit that only the job's memory limit stops, and a parse that runs past its
CPU limit.

Against a real server (uvicorn in a subprocess, SQLite, the worker on): while
a job burns its CPU limit and while a 2 GB upload streams in, ``GET
/api/v1/me`` keeps answering; the 2 GB file is drained, not kept, and
answered with 202 and a failed job.

The parse that runs past its limit: no gutaxis reader spins on a small file
any more (the one that did — a 500-byte "billion laughs" ``metadata.yaml``
whose error message expanded 9⁹ strings — is fixed and is one of the crafted
files here).  So the spin is made honestly from the other side: a large valid
table (12 million cells, 35 MB: ~6 s of CPU to parse on the machine it was
written on, so a machine 5 times faster still goes past the limit) and
``job_cpu_seconds=1``.  The kernel stops the child at its CPU limit whatever
keeps it busy, so this is the path a parser stuck in a loop takes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.hostile import CASES, SECRET, large_table, modest_zip_bomb
from builders.live_server import free_port, server_process
from builders.practice import bearer, make_user, run_jobs, sign_in
from gutaxis.service import Settings, create_app
from gutaxis.service.context import AppContext
from gutaxis.service.db import upgrade
from gutaxis.service.models import Job, LabValue, Profile, Upload, VisitMeasure
from gutaxis.service.services.profiles import BUNDLED_FOLDER

OWNER = "owner@example.org"
MiB = 1024 ** 2


@pytest.fixture(scope="module")
def spinner() -> bytes:
    """A valid dense table of 12 million cells (~35 MB): seconds of CPU to parse."""
    return large_table(8000, 1500)


def _visit(client: Any, headers: dict[str, str]) -> int:
    response = client.post("/api/v1/patients", json={"name": "Hostile Upload"},
                           headers=headers)
    assert response.status_code == 201, response.text
    response = client.post(f"/api/v1/patients/{response.json()['id']}/visits",
                           json={"visit_date": "2024-03-01"}, headers=headers)
    assert response.status_code == 201, response.text
    visit: int = response.json()["id"]
    return visit


def _upload(client: Any, headers: dict[str, str], visit: int, kind: str, filename: str,
            data: bytes) -> dict[str, Any]:
    response = client.post(f"/api/v1/visits/{visit}/uploads", data={"kind": kind},
                           files={"file": (filename, data)}, headers=headers)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


def _counts(ctx: AppContext) -> dict[str, int]:
    with ctx.sessions() as db:
        return {model.__tablename__: db.scalar(select(func.count()).select_from(model)) or 0
                for model in (LabValue, Profile, VisitMeasure)}


def _job_and_upload(client: Any, headers: dict[str, str], accepted: dict[str, Any]
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    job = client.get(f"/api/v1/jobs/{accepted['job']}", headers=headers).json()
    upload = client.get(f"/api/v1/uploads/{accepted['id']}", headers=headers).json()
    return job, upload


def _scratch_files(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.scratch_dir.iterdir())


# ----------------------------------------------------------------------------- in-process
def test_crafted_files_fail_with_their_reason(client, ctx, tmp_path):
    make_user(ctx, "Hostile clinic", OWNER)
    headers = sign_in(client, OWNER)
    visit = _visit(client, headers)
    sent: dict[str, tuple[dict[str, Any], str]] = {}
    for case in CASES:
        data = case.make(tmp_path)
        sent[case.name] = (_upload(client, headers, visit, case.kind, case.filename, data),
                           hashlib.sha256(data).hexdigest())
    assert run_jobs(ctx) == len(CASES)

    wrong = {}
    for case in CASES:
        accepted, sha = sent[case.name]
        job, upload = _job_and_upload(client, headers, accepted)
        error = job["error"] or ""
        ok = (job["status"] == "failed" and job["finished_at"] is not None
              and upload["status"] == "failed" and upload["error"] == error
              and upload["sha256"] == sha and upload["summary"] == {}
              and error.startswith(f"{case.filename}: ")
              and re.search(case.expected, error) is not None
              and str(ctx.settings.data_dir) not in error  # no server path
              and SECRET not in error and "Traceback" not in error)
        if not ok:
            wrong[case.name] = (job["status"], upload["status"], error)
    assert wrong == {}

    # nothing partial: no lab value, no profile, no measure; the store holds the uploads as
    # sent (content-addressed) and nothing else; no job left its scratch folder behind
    assert _counts(ctx) == {"lab_value": 0, "profile": 0, "visit_measure": 0}
    assert ctx.store.all() == {sha for _, sha in sent.values()}
    assert _scratch_files(ctx.settings) == []
    page = client.get(f"/api/v1/visits/{visit}", headers=headers).json()
    assert page["labs"] == [] and page["profile"]["status"] == "none"
    assert {u["status"] for u in page["uploads"]} == {"failed"}


@contextlib.contextmanager
def _started(settings: Settings) -> Iterator[tuple[TestClient, AppContext, dict[str, str], int]]:
    """A started app of these settings: its client, context, CSRF headers and a visit."""
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
        make_user(ctx, "Hostile clinic", OWNER)
        headers = sign_in(client, OWNER)
        yield client, ctx, headers, _visit(client, headers)


def test_an_upload_over_the_limit_is_not_kept(make_settings):
    settings = make_settings(max_upload_bytes=1 * MiB)
    with _started(settings) as (client, ctx, headers, visit):
        accepted = _upload(client, headers, visit, "microbiome", "too large.tsv",
                           b"0\t" * (2 * MiB))
        # refused while it arrived: failed at once, nothing stored, no job to run
        assert accepted["status"] == "failed"
        job, upload = _job_and_upload(client, headers, accepted)
        message = ("too_large.tsv: the file is larger than this server's upload limit "
                   "(1 MiB); nothing was kept")
        assert (job["status"], job["error"], upload["status"], upload["error"]) == (
            "failed", message, "failed", message)
        assert job["finished_at"] is not None
        assert (upload["sha256"], upload["size"]) == ("", 0)
        assert run_jobs(ctx) == 0
        assert ctx.store.all() == set()
        assert _scratch_files(settings) == []
        assert _counts(ctx) == {"lab_value": 0, "profile": 0, "visit_measure": 0}


def test_a_zip_bomb_under_the_ratio_limit_meets_the_memory_limit(make_settings):
    # the feature table expands ~150-fold to 1 GiB: under the qza reader's 200-fold refusal,
    # so only the job's memory limit stops it
    settings = make_settings(job_memory_bytes=256 * MiB)
    bomb = modest_zip_bomb(1024)
    with _started(settings) as (client, ctx, headers, visit):
        accepted = _upload(client, headers, visit, "microbiome", "inflates.qza", bomb)
        assert run_jobs(ctx) == 1
        job, upload = _job_and_upload(client, headers, accepted)
        message = "inflates.qza: the file needs more memory than a job may use (256 MiB)"
        assert (job["status"], job["error"], upload["status"], upload["error"]) == (
            "failed", message, "failed", message)
        assert _counts(ctx) == {"lab_value": 0, "profile": 0, "visit_measure": 0}
        assert ctx.store.all() == {hashlib.sha256(bomb).hexdigest()}
        assert _scratch_files(settings) == []


def test_a_parse_past_its_cpu_limit_is_stopped_and_the_worker_goes_on(make_settings, spinner):
    settings = make_settings(job_cpu_seconds=1)
    with _started(settings) as (client, ctx, headers, visit):
        spinning = _upload(client, headers, visit, "microbiome", "spin.tsv", spinner)
        assert run_jobs(ctx) == 1
        job, upload = _job_and_upload(client, headers, spinning)
        message = "spin.tsv: the job used more than 1 s of CPU time and was stopped"
        assert (job["status"], job["error"], upload["status"], upload["error"]) == (
            "failed", message, "failed", message)
        assert _counts(ctx) == {"lab_value": 0, "profile": 0, "visit_measure": 0}
        assert _scratch_files(settings) == []

        # a good labs file after it is parsed and kept
        good = _upload(client, headers, visit, "labs", "LABS.csv",
                       b"sample_id,marker,value,unit\nP1,hs-CRP,0.21,mg/dL\n")
        assert run_jobs(ctx) == 1
        job, upload = _job_and_upload(client, headers, good)
        assert (job["status"], upload["status"], upload["summary"]["n_results"]) == (
            "done", "parsed", 1)
        labs = client.get(f"/api/v1/visits/{visit}", headers=headers).json()["labs"]
        assert [(v["marker"], v["value"], v["unit"]) for v in labs] == [("hscrp", 2.1, "mg/L")]


# ----------------------------------------------------------------------------- a real server
LAUNCHER = """
import json, sys
import uvicorn
from gutaxis.service import Settings, create_app
settings = Settings(**json.loads(sys.argv[1]))
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


@contextlib.contextmanager
def running_server(fields: dict[str, Any], log: Path
                   ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``gutaxis`` under uvicorn in a subprocess on a free loopback port: its URL and process."""
    port = free_port()
    with server_process([sys.executable, "-c", LAUNCHER, json.dumps(fields), str(port)],
                        port, log) as running:
        yield running


class Prober:
    """``GET /api/v1/me`` over and over in a thread: each answer's status and seconds."""

    def __init__(self, url: str, headers: dict[str, str], pause: float = 0.1) -> None:
        self.url, self.headers, self.pause = url, headers, pause
        self.answers: list[tuple[int, float, str]] = []
        self.context = ""  # what was going on (recorded with each answer)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=5) as client:
            while not self._stop.is_set():
                context = self.context
                started = time.monotonic()
                try:
                    status = client.get("/api/v1/me").status_code
                except httpx.HTTPError as exc:  # no answer within 5 s
                    status = -1
                    context += f" ({type(exc).__name__})"
                self.answers.append((status, time.monotonic() - started, context))
                self._stop.wait(self.pause)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def report(self, what: str) -> str:
        times = sorted(seconds for _, seconds, _ in self.answers)
        if not times:
            return f"{what}: no probe"
        return (f"{what}: {len(times)} probes of GET /api/v1/me, median "
                f"{times[len(times) // 2] * 1000:.0f} ms, slowest {times[-1] * 1000:.0f} ms")


def _multipart(boundary: str, fields: dict[str, str], filename: str, size: int,
               chunk: bytes) -> tuple[Iterator[bytes], int]:
    """A multipart body streamed from a generator (``size`` bytes of ``chunk`` repeated)."""
    head = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    f"{value}\r\n".encode() for name, value in fields.items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
             f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    assert size % len(chunk) == 0

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(size // len(chunk)):
            yield chunk
        yield tail
    return body(), len(head) + size + len(tail)


def test_a_real_server_keeps_answering(tmp_path, bundled_reference, spinner, capsys):
    data = tmp_path / "data"
    shutil.copytree(bundled_reference, data / "references" / BUNDLED_FOLDER)
    fields = {"data_dir": str(data), "max_upload_bytes": 64 * MiB, "job_cpu_seconds": 1,
              "run_worker": True, "worker_poll_seconds": 0.1, "n_boot": 100}
    settings = Settings(**fields)  # type: ignore[arg-type]
    ctx = AppContext(settings)
    upgrade(ctx.engine)
    make_user(ctx, "Hostile clinic", OWNER)
    log = tmp_path / "server.log"
    try:
        with running_server(fields, log) as (url, process), \
                httpx.Client(base_url=url, timeout=30) as client:
            headers = bearer(client, OWNER)  # type: ignore[arg-type]
            visit = _visit(client, headers)

            # 1. a parse that runs past its CPU limit: the server answers meanwhile
            with Prober(url, headers) as spin:
                accepted = _upload(client, headers, visit, "microbiome", "spin.tsv", spinner)
                deadline = time.monotonic() + 120
                while True:
                    job = client.get(f"/api/v1/jobs/{accepted['job']}", headers=headers).json()
                    spin.context = job["status"]
                    if job["status"] in ("done", "failed") or time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
            assert job["status"] == "failed"
            assert job["error"] == ("spin.tsv: the job used more than 1 s of CPU time and "
                                    "was stopped")
            assert spin.answers and {status for status, _, _ in spin.answers} == {200}, \
                spin.answers
            assert any(context == "running" for _, _, context in spin.answers), spin.answers

            # 2. 2 GB streamed in: drained and dropped past the 64 MiB limit, answered 202
            body, length = _multipart("hostile-2GB-boundary", {"kind": "microbiome"},
                                      "two gigabytes.tsv", 2048 * MiB, b"0\t" * (512 * 1024))
            with Prober(url, headers, pause=0.25) as drain:
                started = time.monotonic()
                response = client.post(
                    f"/api/v1/visits/{visit}/uploads", content=body, timeout=300,
                    headers={**headers, "Content-Length": str(length),
                             "Content-Type": "multipart/form-data; "
                                             "boundary=hostile-2GB-boundary"})
                seconds = time.monotonic() - started
            assert response.status_code == 202, response.text
            assert response.json()["status"] == "failed"
            job, upload = _job_and_upload(client, headers, response.json())
            message = ("two_gigabytes.tsv: the file is larger than this server's upload "
                       "limit (64 MiB); nothing was kept")
            assert (job["status"], job["error"], upload["error"]) == ("failed", message,
                                                                     message)
            assert (upload["sha256"], upload["size"]) == ("", 0)
            assert drain.answers and {status for status, _, _ in drain.answers} == {200}, \
                drain.answers
            assert seconds < 240  # draining must not be pathological (it is ~15 s here)
            assert client.get("/api/v1/me", headers=headers).status_code == 200

            with capsys.disabled():
                print(f"\n  {spin.report('while a job ran past its CPU limit')}"
                      f"\n  {drain.report('while 2 GB streamed in')}"
                      f"\n  2 GB upload answered in {seconds:.1f} s "
                      f"({2048 / seconds:.0f} MiB/s)")
            process.send_signal(signal.SIGTERM)
            # uvicorn shuts down cleanly, then re-raises the signal it caught
            assert process.wait(30) in (0, -signal.SIGTERM)
        server_log = log.read_text()
        assert "Traceback" not in server_log and "ERROR" not in server_log, server_log

        # nothing partial: the one stored file is the spinning table as uploaded
        assert _counts(ctx) == {"lab_value": 0, "profile": 0, "visit_measure": 0}
        with ctx.sessions() as db:
            assert sorted((u.filename, u.status) for u in db.scalars(select(Upload))) == [
                ("spin.tsv", "failed"), ("two_gigabytes.tsv", "failed")]
            assert {j.status for j in db.scalars(select(Job))} == {"failed"}
        assert ctx.store.all() == {hashlib.sha256(spinner).hexdigest()}
        assert _scratch_files(settings) == []
    finally:
        ctx.close()
