"""CPU a request costs the practice application, measured in one process (no server, no load).

Usage::

    .venv/bin/python -m benchmarks.practice_cpu                        # PostgreSQL, timeline page
    .venv/bin/python -m benchmarks.practice_cpu --backend sqlite --routes page_patient,api_patient
    .venv/bin/python -m benchmarks.practice_cpu --cprofile page.prof   # and where it goes

A load run (:mod:`benchmarks.practice`) answers "how long does a user wait";
its figures move with everything else the machine does (the same commit's
timeline page p95 was 60 ms one day and 341 ms on another machine).  This
answers "how much work is one request", which a change to the code moves
and little else does, so two commits can be compared in minutes:

1. a clinic of ``--patients`` × ``--visits`` is seeded with
   :mod:`benchmarks.practice_seed` into a fresh database (SQLite in a
   temporary folder, or a new PostgreSQL database on ``--postgres``, dropped
   after);
2. the app (:func:`gutaxis.service.create_app`) is called through
   ``httpx.ASGITransport`` in the client's own thread, with FastAPI's thread
   pool replaced by inline calls (as ``practice_trace --cprofile`` does), so
   that the thread's CPU clock sees all of a request: routing, the access
   rule, the services, SQLAlchemy and the driver, the template;
3. per route, after ``--warmup`` requests, ``--requests`` requests over the
   seeded patients; reported: the thread's CPU time per request (mean and
   median; the client's small share included), the wall time, SQL
   statements per request (SQLAlchemy's ``before_cursor_execute``) and the
   size of the last answer.

What is *not* in the CPU figure: the database server's own work (on
PostgreSQL, another process), uvicorn's HTTP parsing and the load
generator.  Compare commits on the same machine and backend: the old one
from a worktree, ``PYTHONPATH=/tmp/old/src python -m benchmarks.practice_cpu``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import shutil
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from benchmarks import practice_seed
from benchmarks.practice import database

ROUTES = {
    "page_patient": "/patients/{id}",
    "page_timeline": "/patients/{id}/timeline",
    "page_search": "/patients?q={surname}",
    "api_patient": "/api/v1/patients/{id}",
    "api_timeline": "/api/v1/patients/{id}/timeline",
    "api_search": "/api/v1/patients?q={surname}",
}
OWNER = "owner@cpu.example"


def _seed(data: Path, url: str | None, patients: int, visits: int) -> range:
    from gutaxis.service.app import prepare
    from gutaxis.service.context import AppContext
    from gutaxis.service.settings import Settings

    ctx = AppContext(Settings(data_dir=data, database_url=url, run_worker=False))
    try:
        prepare(ctx)
        _, _, seeded = practice_seed.seed_benchmark_clinic(ctx, "CPU clinic", OWNER,
                                                           patients=patients, visits=visits)
    finally:
        ctx.close()
    return seeded.patient_ids


def _path(route: str, i: int, patient_ids: range) -> str:
    surname = practice_seed.SURNAMES[i % len(practice_seed.SURNAMES)]
    return ROUTES[route].format(id=patient_ids[(i * 7919) % len(patient_ids)],
                                surname=urllib.parse.quote(surname))


async def _measure(app: Any, routes: list[str], patient_ids: range, *, requests: int,
                   warmup: int, profile: cProfile.Profile | None) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    sa.event.listen(app.state.ctx.engine, "before_cursor_execute", count)
    out = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        signed = await client.post("/api/v1/session", json={
            "email": OWNER, "password": practice_seed.PASSWORD})
        signed.raise_for_status()
        csrf = {"X-CSRF-Token": signed.json()["csrf_token"]}
        token = await client.post("/api/v1/tokens", json={"name": "cpu"}, headers=csrf)
        token.raise_for_status()
        bearer = {"Authorization": f"Bearer {token.json()['token']}"}
        for route in routes:
            # pages: the session cookie the client keeps; the API: the token (read first)
            headers = bearer if route.startswith("api") else {"Accept": "text/html"}
            for i in range(warmup):
                answer = await client.get(_path(route, i, patient_ids), headers=headers)
                answer.raise_for_status()
            statements[0] = 0
            cpu: list[float] = []
            wall0 = time.perf_counter()
            if profile is not None:
                profile.enable()
            for i in range(requests):
                start = time.thread_time()
                answer = await client.get(_path(route, warmup + i, patient_ids),
                                          headers=headers)
                cpu.append(time.thread_time() - start)
                if answer.status_code != 200:
                    raise RuntimeError(f"{route}: {answer.status_code} {answer.text[:200]}")
            if profile is not None:
                profile.disable()
            wall = time.perf_counter() - wall0
            out.append({"route": route, "requests": requests,
                        "cpu_ms_mean": 1000 * statistics.fmean(cpu),
                        "cpu_ms_median": 1000 * statistics.median(cpu),
                        "wall_ms_mean": 1000 * wall / requests,
                        "statements": statements[0] / requests,
                        "bytes": len(answer.content)})
    sa.event.remove(app.state.ctx.engine, "before_cursor_execute", count)
    return out


def run(backend: str, routes: list[str], *, patients: int, visits: int, requests: int,
        warmup: int, postgres: str, cprofile: Path | None = None) -> dict[str, Any]:
    """Seed, then measure ``routes``; the figures as a dict (see the module docstring)."""
    from benchmarks.practice_trace import _inline_thread_pool
    from gutaxis.service import create_app
    from gutaxis.service.settings import Settings

    data = Path(tempfile.mkdtemp(prefix="practice-cpu-"))
    try:
        with database(backend, postgres) as url:
            seeded_at = time.perf_counter()
            patient_ids = _seed(data, url, patients, visits)
            seed_s = time.perf_counter() - seeded_at
            _inline_thread_pool()
            app = create_app(Settings(data_dir=data, database_url=url, run_worker=False))
            profile = cProfile.Profile(time.thread_time) if cprofile else None

            async def measured() -> list[dict[str, Any]]:
                async with app.router.lifespan_context(app):
                    return await _measure(app, routes, patient_ids, requests=requests,
                                          warmup=warmup, profile=profile)

            rows = asyncio.run(measured())
            if profile is not None and cprofile is not None:
                profile.dump_stats(cprofile)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return {"backend": backend, "patients": patients, "visits": visits,
            "seed_seconds": seed_s, "routes": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--routes", default="page_timeline",
                        help=f"comma-separated, of: {', '.join(ROUTES)}")
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--visits", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432",
                        help="the server (a database is made for the run and dropped after)")
    parser.add_argument("--cprofile", type=Path, help="write a cProfile of the measured "
                        "requests here (thread CPU clock)")
    args = parser.parse_args(argv)
    routes = [r.strip() for r in args.routes.split(",") if r.strip()]
    unknown = [r for r in routes if r not in ROUTES]
    if unknown:
        parser.error(f"unknown route {', '.join(unknown)}; known: {', '.join(ROUTES)}")
    result = run(args.backend, routes, patients=args.patients, visits=args.visits,
                 requests=args.requests, warmup=args.warmup, postgres=args.postgres,
                 cprofile=args.cprofile)
    for row in result["routes"]:
        print(f"[{result['backend']}] {row['route']}: CPU {row['cpu_ms_mean']:.2f} ms a "
              f"request (median {row['cpu_ms_median']:.2f}), wall {row['wall_ms_mean']:.2f} ms, "
              f"{row['statements']:.1f} statements, {row['bytes']} bytes")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
