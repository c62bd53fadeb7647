"""The database engine: SQLite in the data folder or PostgreSQL, set up for durability.

SQLite runs in WAL mode with foreign keys on, ``synchronous=FULL`` (a
committed transaction survives a power cut) and a busy timeout; each
transaction starts with ``BEGIN IMMEDIATE`` so that two writers queue instead
of failing half-way, except on an engine with the :data:`READ_ONLY` execution
option, whose reads begin ``DEFERRED`` and never wait for the writer.
PostgreSQL is used as it comes (its defaults are durable).  Migrations
(Alembic) are applied by :func:`upgrade`, with foreign keys off on SQLite
while they run (they are checked before the migrations commit).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["make_engine", "upgrade", "downgrade", "utcnow", "is_sqlite", "session_scope",
           "check_integrity", "get_row", "READ_ONLY", "MigrationError"]

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
#: The ids a row can have: the id columns are PostgreSQL ``integer`` (32 bits).
_ROW_IDS = range(-(2 ** 31), 2 ** 31)
_Row = TypeVar("_Row")


def utcnow() -> dt.datetime:
    """Return the time now in UTC, without tzinfo (as every time is stored)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def get_row(db: Session, model: type[_Row], row_id: int, *, for_update: bool = False
            ) -> _Row | None:
    """Return the row of ``model`` whose id is ``row_id``, or None.

    With ``for_update`` the row is locked until the transaction ends (on
    PostgreSQL; SQLite has one writer at a time): a change that first checks
    the row's state (open, last status) is then not made twice at once.

    An id no id column can hold is simply not found: asked about one,
    PostgreSQL fails with "integer out of range" and SQLite's driver (past
    64 bits) with OverflowError.

    Examples
    --------
    >>> get_row(None, object, 2 ** 31) is None  # never reaches the database
    True
    """
    if row_id not in _ROW_IDS:
        return None
    return db.get(model, row_id, with_for_update=True if for_update else None)


def is_sqlite(engine: Engine) -> bool:
    """Tell whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Make the engine for ``url``, with SQLite's durability pragmas on every connection.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL (``sqlite:///…`` or ``postgresql+psycopg://…``).
    pool_size : int
        PostgreSQL connections kept open.

    Returns
    -------
    Engine
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=pool_size, max_overflow=40)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # READ COMMITTED whatever the database's default: a writer of the audit chain reads the
    # chain's last row after waiting for the chain's lock, and must see what was committed
    # meanwhile (a snapshot from before the wait would fork the chain)
    return create_engine(url, pool_size=pool_size, max_overflow=40, pool_pre_ping=True,
                         isolation_level="READ COMMITTED")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    connection.isolation_level = None  # transactions are begun by _sqlite_begin
    cursor = connection.cursor()
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=FULL",
                   "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


#: The execution option of a read-only engine (SQLite, behind
#: :meth:`AppContext.read_row <gutaxis.service.context.AppContext.read_row>`):
#: its transactions begin DEFERRED.
READ_ONLY = "gutaxis_read_only"


def _sqlite_begin(connection: Any) -> None:
    # a writer takes the write lock at once (no failed upgrade half-way); a
    # read-only session reads its WAL snapshot without waiting for the writer
    read_only = connection.get_execution_options().get(READ_ONLY)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations to ``engine``'s database (idempotent).

    On SQLite the migrations run with foreign keys off, as SQLite asks for a
    change of a table's shape: a table is rebuilt by copying it and dropping
    the old one, and with foreign keys on, that drop would delete (or empty
    the references of) every row that points at it.  The foreign keys are
    checked before the migrations commit; a migration that broke one is
    rolled back whole (:class:`MigrationError`).  Rows that pointed at
    nothing before (written with foreign keys off, by hand) are logged as a
    warning and left as they are.

    Parameters
    ----------
    engine : Engine
    revision : str, default "head"
    """
    _migrate(engine, "upgrade", revision)


def current_revision(engine: Engine) -> str | None:
    """Return the migration the database is at (None: a database with no schema yet).

    Parameters
    ----------
    engine : Engine

    Returns
    -------
    str or None
    """
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        revision: str | None = MigrationContext.configure(connection).get_current_revision()
        return revision


def downgrade(engine: Engine, revision: str) -> None:
    """Take ``engine``'s database back to ``revision`` (as :func:`upgrade`, backwards).

    Parameters
    ----------
    engine : Engine
    revision : str
    """
    _migrate(engine, "downgrade", revision)


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    sqlite = is_sqlite(engine)
    with engine.connect() as connection:
        if sqlite:  # outside any transaction: SQLite ignores the pragma inside one
            _set_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                before = _broken_links(connection) if sqlite else set()
                if before:  # not this upgrade's doing: said, not refused
                    logger.warning("the database has %d row(s) whose foreign keys point at "
                                   "nothing, from before (%s)", len(before),
                                   _links_text(before))
                getattr(command, direction)(config, revision)
                made = (_broken_links(connection) - before) if sqlite else set()
                if made:  # rolled back whole with the transaction
                    raise MigrationError(
                        f"the migration to {revision} would leave row(s) whose foreign keys "
                        f"point at nothing ({_links_text(made)}); nothing was changed")
        finally:
            if sqlite:
                _set_foreign_keys(connection, on=True)


class MigrationError(RuntimeError):
    """A migration that would break the database; it was rolled back."""


def _broken_links(connection: Any) -> set[tuple[str, int, str]]:
    """List the rows whose foreign keys point at nothing: (table, rowid, table pointed at)."""
    return {(str(table), int(rowid), str(parent)) for table, rowid, parent, _ in
            connection.exec_driver_sql("PRAGMA foreign_key_check")}


def _links_text(links: set[tuple[str, int, str]]) -> str:
    shown = sorted(links)[:5]
    return "; ".join(f"{table} row {rowid} → {parent}" for table, rowid, parent in shown) + (
        f"; and {len(links) - len(shown)} more" if len(links) > len(shown) else "")


def _set_foreign_keys(connection: Any, *, on: bool) -> None:
    # on the driver's connection, which (isolation_level None) begins no transaction
    connection.connection.driver_connection.execute(
        f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def check_integrity(engine: Engine) -> list[str]:
    """Problems the database itself finds (SQLite ``integrity_check`` and foreign keys).

    Returns
    -------
    list of str
        Empty when the database is sound (always empty on PostgreSQL, which
        checks as it writes).
    """
    if not is_sqlite(engine):
        return []
    with engine.connect() as connection:
        rows = [r[0] for r in connection.exec_driver_sql("PRAGMA integrity_check")]
        problems = [r for r in rows if r != "ok"]
        problems += [f"foreign key: {tuple(r)}"
                     for r in connection.exec_driver_sql("PRAGMA foreign_key_check")]
    return problems


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    with factory() as session, session.begin():
        yield session
