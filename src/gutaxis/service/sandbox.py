"""Run one task in a separate process with limits: CPU time, memory, file size, wall time.

Uploads are parsed, and profiles and references computed, in a child
process, so that a crafted or huge file costs one failed job and never the
server: the child gets ``RLIMIT_CPU`` (the kernel stops it), ``RLIMIT_AS``
(its allocations fail past the limit), ``RLIMIT_FSIZE`` and ``RLIMIT_CORE``
= 0, and the parent kills it at the wall-clock limit.  Children are forked
from a *forkserver* that has imported the readers and the profile code once
(:mod:`gutaxis.service.tasks`), so a task starts in milliseconds, not the
seconds that importing numpy and friends takes.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Limits", "TaskFailed", "run_limited"]

_LOCK = threading.Lock()
_CONTEXT: Any = None


@dataclasses.dataclass(frozen=True)
class Limits:
    """A child's limits.

    Parameters
    ----------
    cpu_seconds : int
    memory_bytes : int
        Address space the child may add to what it starts with.
    wall_seconds : float
    file_bytes : int
        Largest file the child may write.
    """

    cpu_seconds: int = 120
    memory_bytes: int = 3 * 1024 ** 3
    wall_seconds: float = 180.0
    file_bytes: int = 1024 ** 3


class TaskFailed(Exception):
    """The task failed: the message says why, in words for the user."""


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS")


def _context() -> Any:
    """Return the forkserver context, its server started with one thread per numeric library.

    Children run side by side, so each uses one thread.  The variables are
    set only while the forkserver starts (it and its children inherit them)
    and the server's own environment is put back: numba refuses a
    ``NUMBA_NUM_THREADS`` that changes after its threads were launched.
    """
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            context = multiprocessing.get_context("forkserver")
            # the readers, the profile and its report (and WeasyPrint, when it imports)
            context.set_forkserver_preload(["gutaxis.service.tasks",
                                            "gutaxis.report.profile_page", "weasyprint"])
            _CONTEXT = context
        saved = {var: os.environ.get(var) for var in _THREAD_VARIABLES}
        try:
            for var in _THREAD_VARIABLES:
                os.environ.setdefault(var, "1")
            # a no-op while the server runs; (re)starts it otherwise
            multiprocessing.forkserver.ensure_running()
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value
        return _CONTEXT


def _size(n: int) -> str:
    """Put bytes in words: ``3 GiB``, ``256 MiB`` (a limit of 64 MiB read '0.1 GiB')."""
    return f"{n / 1024 ** 3:.4g} GiB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.4g} MiB"


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux
        return 0


def _child(connection: multiprocessing.connection.Connection, task: str,
           payload: dict[str, Any], limits: Limits) -> None:
    os.setpgrp()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    memory = _vm_bytes() + limits.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    from gutaxis.service import tasks

    def partial(data: dict[str, Any]) -> None:
        connection.send({"partial": data})

    try:
        result = tasks.run(task, payload, partial)
        connection.send({"ok": True, "result": result})
    except MemoryError:
        connection.send({"ok": False, "error": f"the file needs more memory than a job may "
                                               f"use ({_size(limits.memory_bytes)})"})
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the parent
        connection.send({"ok": False, "error": tasks.describe(exc)})
    finally:
        connection.close()


def run_limited(task: str, payload: dict[str, Any], limits: Limits,
                on_partial: Callable[[dict[str, Any]], None] | None = None) -> Any:
    """Run ``gutaxis.service.tasks.run(task, payload)`` in a limited child; return its result.

    Parameters
    ----------
    task : str
        A task name of :mod:`gutaxis.service.tasks`.
    payload : dict
        Its arguments (plain values).
    limits : Limits
    on_partial : callable, optional
        Called (in this process) with what the task reports before it ends
        (a profile's JSON and HTML before its PDF); without it such reports
        are dropped.

    Returns
    -------
    object
        What the task returned.

    Raises
    ------
    TaskFailed
        The task raised (its message), or the child went past a limit or died.
    """
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, task, payload, limits), daemon=True)
    started = time.monotonic()
    process.start()
    sender.close()
    message = None
    try:
        while message is None:
            left = limits.wall_seconds - (time.monotonic() - started)
            if left <= 0 or not receiver.poll(left):
                break
            try:
                received = receiver.recv()
            except (EOFError, OSError):
                break
            if "partial" in received:
                if on_partial is not None:
                    on_partial(received["partial"])
                continue
            message = received
        elapsed = time.monotonic() - started
    finally:
        receiver.close()
        if process.is_alive():
            process.join(min(2.0, max(0.1, limits.wall_seconds - (time.monotonic() - started))))
        if process.is_alive():
            _kill(process)
    if message is not None:
        if message["ok"]:
            return message["result"]
        raise TaskFailed(message["error"])
    code = process.exitcode
    if code is None or elapsed >= limits.wall_seconds:
        raise TaskFailed(f"the job took longer than {limits.wall_seconds:g} s and was stopped")
    if code in (-signal.SIGXCPU, -signal.SIGKILL) and elapsed < limits.wall_seconds:
        raise TaskFailed(f"the job used more than {limits.cpu_seconds} s of CPU time and was "
                         "stopped")
    if code == -signal.SIGXFSZ:
        raise TaskFailed(f"the job tried to write a file larger than "
                         f"{_size(limits.file_bytes)} and was stopped")
    raise TaskFailed(f"the job's process ended unexpectedly (exit code {code})")


def _kill(process: Any) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.join(5)
