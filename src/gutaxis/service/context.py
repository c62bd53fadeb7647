"""What one running application holds: settings, database, file store (no globals).

:func:`gutaxis.service.create_app` makes one :class:`AppContext` and keeps it
on ``app.state.ctx``; routes reach it through :func:`get_context`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, Executable, Row
from sqlalchemy.orm import Session, sessionmaker

from gutaxis.service.db import READ_ONLY, is_sqlite, make_engine, session_scope
from gutaxis.service.security import SECRETS, KeyFileBox
from gutaxis.service.settings import Settings
from gutaxis.service.store import FileStore

__all__ = ["AppContext", "get_context"]


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
        """Release the database connections."""
        self.engine.dispose()


def get_context(request: Request) -> AppContext:
    """Return the application's context, kept in ``app.state`` (a FastAPI dependency)."""
    ctx: AppContext = request.app.state.ctx
    return ctx
