"""A closed-loop HTTP load generator on loopback (asyncio), for :mod:`benchmarks.practice`.

``clients`` coroutines, each with its own keep-alive HTTP/1.1 connection
(:class:`_Connection`, a minimal client: httpx costs too much CPU on a
2-core machine that also runs the server), each send a request, read the
whole answer, wait their think time (none by default), and send the next,
until the time is up.
Requests that *start* during the warm-up are not counted; the measured
window is the rest.  Latency is from just before the request is sent to the
last byte of the answer, as the client sees it, so it includes queueing in
the server (and in this process, whose CPU is reported too: the generator
shares the machine with the server).  In a closed loop with no think time,
Little's law ties the figures together: mean latency ≈ clients / throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import resource
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

__all__ = ["LoadResult", "run_load", "percentiles", "process_cpu_seconds", "loadavg"]


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99, mean and max of ``values`` (seconds → milliseconds).

    Examples
    --------
    >>> percentiles([0.001 * i for i in range(1, 101)])["p95"]
    95.05
    """
    if not values:
        return {k: float("nan") for k in ("p50", "p95", "p99", "mean", "max")}
    a = np.asarray(values) * 1000.0
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2),
            "p99": round(float(p99), 2), "mean": round(float(a.mean()), 2),
            "max": round(float(a.max()), 2)}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process and its live descendants have used (``/proc``).

    The descendants are uvicorn's worker processes under ``serve --workers``
    (and any job sandbox running at that moment).
    """
    import os

    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{current}/task/{current}/children") as handle:
                pending.extend(int(child) for child in handle.read().split())
        except FileNotFoundError:
            continue
        # utime, stime, and those of its children already waited for (so that a worker or a
        # job's sandbox that ends between two readings does not take its seconds with it)
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def loadavg() -> tuple[float, float, float]:
    """The 1-, 5- and 15-minute load averages."""
    with open("/proc/loadavg") as handle:
        one, five, fifteen = handle.read().split()[:3]
    return float(one), float(five), float(fifteen)


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclasses.dataclass
class LoadResult:
    """What one scenario measured."""

    name: str
    clients: int
    seconds: float
    requests: int
    errors: int
    statuses: dict[str, int]
    latency_ms: dict[str, float]
    throughput: float
    generator_cpu_s: float
    server_cpu_s: float | None
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    error_sample: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Connection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads whole answers.

    A hand-written client, not httpx: on this 2-core machine the load
    generator shares the CPU with the server, and httpx costs ~10× more CPU
    per request than this (see the README).  It understands what uvicorn
    sends: ``Content-Length`` or ``chunked`` bodies.
    """

    #: A connection idle this long is opened again before the next request:
    #: uvicorn closes idle keep-alive connections after 5 s (as a browser
    #: would notice, a request sent on it then finds the connection gone).
    IDLE_SECONDS = 4.0

    def __init__(self, host: str, port: int, head: bytes) -> None:
        self.host, self.port, self.head = host, port, head
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is not None and time.perf_counter() - self.last_used > self.IDLE_SECONDS:
            await self.close()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"GET " + path.encode("ascii") + b" HTTP/1.1\r\n" + self.head)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(parts)
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read()
            close = True
        self.last_used = time.perf_counter()
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _client(connection: _Connection, make_url: Callable[[random.Random], str],
                  rng: random.Random, warm_until: float, stop_at: float, think: float,
                  out: list[tuple[float, int]], ends: list[float], failures: list[str]
                  ) -> None:
    while time.perf_counter() < stop_at:
        url = make_url(rng)
        sent = time.perf_counter()
        try:
            status, body = await connection.get(url)
            if status >= 400 and len(failures) < 3:
                failures.append(f"{status} {url}: {body[:200]!r}")
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            status = 0
            await connection.close()
            if len(failures) < 3:
                failures.append(f"{type(exc).__name__} {url}: {exc}")
        done = time.perf_counter()
        if sent >= warm_until:
            out.append((done - sent, status))
            ends.append(done)
        if think > 0:
            await asyncio.sleep(min(rng.expovariate(1.0 / think), max(0.0, stop_at - done)))
    await connection.close()


async def _run(base_url: str, make_url: Callable[[random.Random], str], *, clients: int,
               duration: float, warmup: float, think: float, headers: dict[str, str],
               cookies: dict[str, str], seed: int) -> tuple[list[tuple[float, int]], list[str],
                                                           float]:
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80
    fields = {"Host": f"{host}:{port}", "User-Agent": "gutaxis-benchmark", **headers}
    if cookies:
        fields["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode("latin-1") + b"\r\n"
    start = time.perf_counter()
    warm_until = start + warmup
    stop_at = warm_until + duration
    out: list[tuple[float, int]] = []
    ends: list[float] = []
    failures: list[str] = []
    await asyncio.gather(*(_client(_Connection(host, port, head), make_url,
                                   random.Random(seed * 1000 + i), warm_until, stop_at, think,
                                   out, ends, failures) for i in range(clients)))
    # the window ends when the last counted request ended (at or after stop_at)
    window = max([stop_at, *ends]) - warm_until
    return out, failures, window


def run_load(name: str, base_url: str, make_url: Callable[[random.Random], str], *,
             clients: int = 50, duration: float = 30.0, warmup: float = 5.0,
             think: float = 0.0, headers: dict[str, str] | None = None,
             cookies: dict[str, str] | None = None, server_pid: int | None = None,
             seed: int = 0) -> LoadResult:
    """Run one scenario: ``clients`` closed-loop clients for ``warmup + duration`` seconds.

    Parameters
    ----------
    name : str
    base_url : str
        ``http://127.0.0.1:PORT``.
    make_url : callable
        ``make_url(rng)`` → the path of the next request.
    clients, duration, warmup, think : number
        Concurrent clients, measured seconds, uncounted seconds first, mean
        think time between a client's requests (exponential; 0: none).
    headers, cookies : dict, optional
        Sent with every request (the Bearer token, or the session cookie).
    server_pid : int, optional
        The server's process id: its CPU time over the run is reported.

    Returns
    -------
    LoadResult
    """
    load_before = loadavg()
    cpu0 = _self_cpu()
    server0 = process_cpu_seconds(server_pid) if server_pid else None
    out, failures, window = asyncio.run(_run(
        base_url, make_url, clients=clients, duration=duration, warmup=warmup, think=think,
        headers=headers or {}, cookies=cookies or {}, seed=seed))
    server_cpu = (process_cpu_seconds(server_pid) - server0
                  if server_pid and server0 is not None else None)
    statuses: dict[str, int] = {}
    for _, status in out:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    ok = [t for t, status in out if 200 <= status < 300]
    return LoadResult(
        name=name, clients=clients, seconds=round(window, 2), requests=len(out),
        errors=len(out) - len(ok), statuses=statuses, latency_ms=percentiles(ok),
        throughput=round(len(ok) / window, 1), generator_cpu_s=round(_self_cpu() - cpu0, 2),
        server_cpu_s=None if server_cpu is None else round(server_cpu, 2),
        load_before=load_before, load_after=loadavg(), error_sample=" | ".join(failures))
