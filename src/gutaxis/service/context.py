"""What one running application holds: settings, database, file store (no globals).

:func:`gutaxis.service.create_app` makes one :class:`AppContext` and keeps it
on ``app.state.ctx``; routes reach it through :func:`get_context`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, Executable, Row
from sqlalchemy.orm import Session, sessionmaker

from gutaxis.exceptions import GutaxisError
from gutaxis.service.db import READ_ONLY, is_sqlite, make_engine, session_scope
from gutaxis.service.security import SECRETS, KeyFileBox
from gutaxis.service.settings import Settings
from gutaxis.service.store import FileStore

__all__ = ["AppContext", "get_context", "hold_data_folder", "hold_sqlite_server", "FolderInUse"]

#: The file in a data folder that a server on its SQLite database holds locked.
SERVER_LOCK = "server.lock"
_held: dict[Path, list[int]] = {}  # folder → [descriptor, holders in this process]
_held_guard = threading.Lock()


def hold_sqlite_server(settings: Settings) -> Callable[[], None]:
    """Take the data folder and the SQLite database's folder for this process's server.

    Both: two servers must share neither the scratch folder (the data
    folder's) nor the database's jobs, wherever ``GUTAXIS_DATABASE_URL`` puts
    the file.  Returns the function that lets both go.

    Raises
    ------
    FolderInUse
        Another process's server holds one of them.
    """
    folders = [settings.data_dir.resolve()]
    database = settings.sqlite_file
    if database is not None and database.parent.resolve() not in folders:
        folders.append(database.parent.resolve())
    releases: list[Callable[[], None]] = []
    try:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            releases.append(hold_data_folder(folder))
    except BaseException:
        for release in releases:
            release()
        raise

    def release_all() -> None:
        for release in reversed(releases):
            release()
    return release_all


class FolderInUse(GutaxisError):
    """Another process's server holds the data folder (one server per SQLite database)."""


def hold_data_folder(folder: Path) -> Callable[[], None]:
    """Take ``folder`` for this process's server; return the function that lets it go.

    One server per SQLite database: at start it puts the jobs marked running
    back in the queue and empties the scratch folder, which would take a
    running server's work from under it.  The lock (``flock`` on
    ``server.lock``) is the operating system's: it goes with the process,
    killed or not.  Taken again in the same process, it is shared (the
    command and its application hold it together).

    Raises
    ------
    FolderInUse
        Another process holds it; the message names the folder and that
        process.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> release = hold_data_folder(folder)
    >>> (folder / "server.lock").read_text().strip() == str(os.getpid())
    True
    >>> release()
    """
    folder = folder.resolve()
    with _held_guard:
        if folder in _held:
            _held[folder][1] += 1
        else:
            fd = os.open(folder / SERVER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                os.close(fd)
                raise FolderInUse(
                    f"another gutaxis server is using {folder} (process {other or '?'} holds "
                    f"{folder / SERVER_LOCK}): stop it first; two servers on one SQLite "
                    "database would take each other's running jobs") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _held[folder] = [fd, 1]

    def release() -> None:
        with _held_guard:
            entry = _held.get(folder)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                del _held[folder]
                os.close(entry[0])  # closing the descriptor lets the lock go
    return release


class AppContext:
    """One application's settings, engine, session factory and file store.

    Parameters
    ----------
    settings : Settings
    engine : Engine, optional
        Made from ``settings.url`` when not given.
    """

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        #: seals the second factor's secrets; sessions carry it as ``info["secrets"]``; its
        #: key file is read (made at first) when first needed (:func:`gutaxis.service.app.prepare`
        #: does at start)
        self.secrets = KeyFileBox(settings.secret_key_file)
        self.engine = engine or make_engine(settings.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False,
                                     info={SECRETS: self.secrets})
        # one statement alone needs no transaction: on PostgreSQL it runs in autocommit,
        # without the BEGIN and ROLLBACK round trips; on SQLite it reads in a deferred
        # transaction, beside the writer, never waiting for its lock
        self._single_reads = self.engine.execution_options(
            **({READ_ONLY: True} if is_sqlite(self.engine) else {"isolation_level": "AUTOCOMMIT"}))
        #: sessions that only read (on SQLite a deferred transaction, its snapshot taken at
        #: the first statement; it never waits for the writer)
        self.reads = sessionmaker(self.engine.execution_options(
            **({READ_ONLY: True} if is_sqlite(self.engine) else {})), info={SECRETS: self.secrets})
        self.store = FileStore(settings.files_dir, settings.scratch_dir)
        # SQLite has one writer at a time: this process's transactions wait
        # their turn here, woken as soon as the writer before them commits,
        # instead of in SQLite's busy handler, which sleeps and polls (up to
        # 100 ms a try) and leaves the lock idle in between.  Re-entrant, so a
        # thread never waits on itself here.
        self._writer: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if is_sqlite(self.engine) else contextlib.nullcontext())
        #: run by :meth:`close` (the data folder's lock, when this context's server holds it)
        self.on_close: list[Callable[[], None]] = []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed (durably) when the block ends, rolled back if it raises."""
        with self._writer, session_scope(self.sessions) as session:
            yield session

    def read_row(self, statement: Executable, parameters: dict[str, Any] | None = None
                 ) -> Row[Any] | None:
        """Run one read-only statement on its own and return its first row (None: no row).

        It sees what was committed before it started; it never waits for a
        writer (on SQLite it does not take the write lock).
        """
        with self._single_reads.connect() as connection:
            return connection.execute(statement, parameters).first()

    def close(self) -> None:
        """Release the database connections (and the data folder, if held)."""
        self.engine.dispose()
        while self.on_close:
            self.on_close.pop()()


def get_context(request: Request) -> AppContext:
    """Return the application's context, kept in ``app.state`` (a FastAPI dependency)."""
    ctx: AppContext = request.app.state.ctx
    return ctx
