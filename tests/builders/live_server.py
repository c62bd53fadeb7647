"""A real server of the practice application for browser tests and screenshot scripts."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from gutaxis.service import Settings, create_app


@contextmanager
def serving(settings: Settings, *, start_seconds: float = 300) -> Iterator[tuple[str, Any]]:
    """Serve ``create_app(settings)`` with uvicorn on a free loopback port, in a thread.

    Yields the base URL and the app (its ``state.ctx`` is the started
    context); stops the server (and its job worker) on exit.  The first start
    of a fresh data folder builds the bundled reference, hence the long
    ``start_seconds``.
    """
    import uvicorn

    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_seconds
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the server did not start (its log above says why)")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def free_port() -> int:
    """A loopback port that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server_process(command: list[str], port: int, log: Path, *,
                   env: dict[str, str] | None = None, stop: int = signal.SIGTERM,
                   start_seconds: float = 120) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``command`` (a server that will listen on ``port``) in a subprocess.

    Its output goes to ``log``.  Yields the base URL and the process once
    ``/api/v1/me`` answers; on exit sends ``stop`` and, after 30 s, kills it.
    """
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            assert process.poll() is None, f"the server exited: {log.read_text()}"
            try:
                httpx.get(f"{url}/api/v1/me", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"the server did not start: {log.read_text()}"
                time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(stop)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
