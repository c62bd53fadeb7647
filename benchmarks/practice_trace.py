"""``gutaxis serve`` with timing logs: where a request's time goes (``practice --trace``).

Usage::

    .venv/bin/python -m benchmarks.practice_trace --data DIR --port 8123 --out trace.json
    kill -USR1 <pid>     # write the figures so far to --out and start again

It serves exactly what ``gutaxis serve`` serves (``create_app`` on
``Settings.from_env``, uvicorn with the same options), and adds, in this
process only:

* a middleware that times each request (the ``request`` total);
* SQLAlchemy cursor events that time every statement by kind: ``begin``
  (SQLite's ``BEGIN IMMEDIATE``: the wait for the write lock),
  ``advisory_lock`` (PostgreSQL's per-clinic audit-chain lock; since
  migration 0008 one call takes it and reads the chain's last row),
  ``audit_last`` (the chain's last-row query: SQLite, and PostgreSQL before
  0008), ``audit_insert``, and
  ``other_sql``; the DBAPI ``commit`` (the ``fsync``) is timed by wrapping the
  dialect's ``do_commit``;
* ``auth``: the access rule's authentication, which runs on the event loop;
* ``loop_lag``: how late a 10 ms ``asyncio.sleep`` wakes up (the event loop
  blocked by synchronous work).

Per request, the time in each kind is summed; the output has, per kind, the
mean and p95 per request and the share of the requests' total time.

With ``--cprofile``, the server runs every request in one thread (what
FastAPI hands to its thread pool runs inline on the event loop) under
:mod:`cProfile` with the thread's CPU clock, so that the CPU time of a
request — HTTP parsing, routing, validation, the ORM, the driver, templates —
is seen whole (waits for the database are not in it); the output then also has
the CPU time per package and the functions with the most own time.
Latencies measured that way are not the server's (nothing overlaps).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

_CURRENT: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "bench_trace", default=None)
_LOCK = threading.Lock()
_RECORDS: list[dict[str, float]] = []
_LAGS: list[float] = []
KINDS = ("request", "auth", "begin", "advisory_lock", "audit_last", "audit_insert",
         "other_sql", "commit")


def _add(kind: str, seconds: float) -> None:
    record = _CURRENT.get()
    if record is not None:
        record[kind] = record.get(kind, 0.0) + seconds


def _kind(statement: str) -> str:
    head = statement.lstrip()[:200].upper()
    if head.startswith("BEGIN"):
        return "begin"
    if "PG_ADVISORY_XACT_LOCK" in head or "GUTAXIS_AUDIT_CHAIN_HEAD" in head:
        return "advisory_lock"  # since migration 0008 the lock and the last row: one call
    if head.startswith("INSERT INTO AUDIT_EVENT"):
        return "audit_insert"
    if head.startswith("SELECT AUDIT_EVENT.SEQ"):
        return "audit_last"
    return "other_sql"


def instrument(engine: Any) -> None:
    """Time statements and commits of ``engine``."""
    from sqlalchemy import event

    starts: dict[int, float] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        starts[id(cursor)] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        t0 = starts.pop(id(cursor), None)
        if t0 is not None:
            _add(_kind(statement), time.perf_counter() - t0)

    dialect = engine.dialect
    original = dialect.do_commit

    def do_commit(dbapi_connection: Any) -> None:
        t0 = time.perf_counter()
        try:
            original(dbapi_connection)
        finally:
            _add("commit", time.perf_counter() - t0)

    dialect.do_commit = do_commit


_PROFILER: list[Any] = []


def _package(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/gutaxis/" in filename:
        return "gutaxis." + filename.split("/gutaxis/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    return "stdlib:" + filename.rsplit("/", 1)[-1].removesuffix(".py")


def cpu_profile(requests: int) -> dict[str, Any]:
    """CPU per package and the top functions (own time) since the last call; restart."""
    import cProfile
    import pstats

    if not _PROFILER:
        return {}
    profiler = _PROFILER.pop()
    profiler.disable()
    stats = pstats.Stats(profiler)
    packages: dict[str, float] = {}
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        package = _package(filename)
        packages[package] = packages.get(package, 0.0) + own
        rows.append((own, calls, cumulative, f"{package}:{name}:{line}"))
    total = sum(packages.values())
    per = max(requests, 1)
    out = {"cpu_s": round(total, 3), "cpu_ms_per_request": round(total * 1000 / per, 3),
           "packages": {k: round(v / total, 3) for k, v in sorted(
               packages.items(), key=lambda kv: -kv[1])[:20]} if total else {},
           "top_own": [{"function": f, "own_ms_per_request": round(own * 1000 / per, 3),
                        "calls_per_request": round(calls / per, 1),
                        "cumulative_ms_per_request": round(cum * 1000 / per, 3)}
                       for own, calls, cum, f in sorted(rows, reverse=True)[:25]],
           "gutaxis_cumulative": [
               {"function": f, "cumulative_ms_per_request": round(cum * 1000 / per, 3),
                "calls_per_request": round(calls / per, 1)}
               for cum, calls, f in sorted(((r[2], r[1], r[3]) for r in rows
                                            if r[3].startswith("gutaxis")), reverse=True)[:15]]}
    fresh = cProfile.Profile(time.thread_time)
    _PROFILER.append(fresh)
    fresh.enable()
    return out


def summary() -> dict[str, Any]:
    """The figures so far (and start again)."""
    with _LOCK:
        records, lags = list(_RECORDS), list(_LAGS)
        _RECORDS.clear()
        _LAGS.clear()
    out: dict[str, Any] = {"requests": len(records)}
    if _PROFILER:
        out["cprofile"] = cpu_profile(len(records))
    if not records:
        return out
    total = sum(r.get("request", 0.0) for r in records)
    for kind in KINDS:
        values = np.array([r.get(kind, 0.0) for r in records]) * 1000
        out[kind] = {"mean_ms": round(float(values.mean()), 2),
                     "p95_ms": round(float(np.percentile(values, 95)), 2),
                     "share": round(float(values.sum() / 1000 / total), 3) if total else None}
    if lags:
        lag = np.array(lags) * 1000
        out["loop_lag"] = {"mean_ms": round(float(lag.mean()), 2),
                           "p95_ms": round(float(np.percentile(lag, 95)), 2),
                           "max_ms": round(float(lag.max()), 2)}
    return out


def build_app(settings: Any) -> Any:
    """``create_app(settings)`` with the timing hooks."""
    from fastapi import Request

    from gutaxis.service import access, create_app

    app = create_app(settings)
    instrument(app.state.ctx.engine)
    original = access._authenticate

    def timed_authenticate(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _add("auth", time.perf_counter() - t0)

    access._authenticate = timed_authenticate  # type: ignore[assignment]

    async def probe() -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            with _LOCK:
                _LAGS.append(time.perf_counter() - t0 - 0.01)

    tasks: list[Any] = []

    @app.middleware("http")
    async def timing(request: Request, call_next: Any) -> Any:
        if not tasks:  # the lag probe runs from the first request on
            tasks.append(asyncio.get_running_loop().create_task(probe()))
        record: dict[str, float] = {}
        token = _CURRENT.set(record)
        t0 = time.perf_counter()
        try:
            return await call_next(request)
        finally:
            record["request"] = time.perf_counter() - t0
            _CURRENT.reset(token)
            if not request.url.path.startswith("/static"):
                with _LOCK:
                    _RECORDS.append(record)

    return app


def _inline_thread_pool() -> None:
    """Run what would go to the thread pool inline, on the event loop's thread."""
    import fastapi.dependencies.utils
    import fastapi.routing
    import starlette.concurrency

    from gutaxis.service import access

    async def inline(func: Any, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    for module in (fastapi.routing, fastapi.dependencies.utils, starlette.concurrency, access):
        module.run_in_threadpool = inline  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from gutaxis.service.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cprofile", action="store_true",
                        help="run requests in one thread under cProfile")
    args = parser.parse_args(argv)
    if args.cprofile:
        import cProfile

        _inline_thread_pool()
        _PROFILER.append(cProfile.Profile(time.thread_time))
        _PROFILER[0].enable()

    def dump(*_: Any) -> None:
        args.out.write_text(json.dumps(summary()))

    signal.signal(signal.SIGUSR1, dump)
    settings = Settings.from_env(args.data)
    uvicorn.run(build_app(settings), host="127.0.0.1", port=args.port, log_level="warning",
                proxy_headers=False)
    dump()


if __name__ == "__main__":
    main()
