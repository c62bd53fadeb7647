"""A real server of the practice application for browser tests and screenshot scripts."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
