"""The audit log: every read and change of patient data, hash-chained per clinic.

Each row's ``hash`` is the SHA-256 of the previous row's hash (of the same
clinic) and the row's own fields, so that changing, removing or inserting a
row breaks the chain at that point (:func:`verify_chain`); the database
refuses updates and deletes outright (triggers of the first migration).  The
log names objects by type and id, and never holds a patient's data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import cast

from sqlalchemy import Table, event, func, insert, select, text
from sqlalchemy.orm import Session

from gutaxis.service.db import utcnow
from gutaxis.service.models import AuditEvent

__all__ = ["Actor", "record", "verify_chain", "row_hash", "GENESIS", "audit_rows"]

#: The ``prev_hash`` of a clinic's first row.
GENESIS = "0" * 64

_PENDING = "gutaxis.audit.pending"
_LAST = "gutaxis.audit.last"


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who does something, from where (what every audit row records)."""

    clinic_id: int
    user_id: int | None
    email: str
    address: str = ""


def row_hash(prev_hash: str, clinic_id: int, seq: int, at: dt.datetime, user_id: int | None,
             user_email: str, action: str, object_type: str, object_id: str, address: str,
             detail: str) -> str:
    """Compute the hash of one row, chained to ``prev_hash``.

    Returns
    -------
    str
        The SHA-256 (hex) of the compact JSON list of ``prev_hash`` and the
        row's fields (``at`` in ISO format, to the microsecond).

    Examples
    --------
    >>> at = dt.datetime(2026, 1, 1)
    >>> h = row_hash(GENESIS, 1, 1, at, 2, "a@b", "patient.read", "patient", "3", "", "")
    >>> len(h), h == row_hash(GENESIS, 1, 1, at, 2, "a@b", "patient.read", "patient", "4", "", "")
    (64, False)
    """
    fields = [prev_hash, clinic_id, seq, at.isoformat(timespec="microseconds"), user_id,
              user_email, action, object_type, object_id, address, detail]
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


def _hold_chain_head(session: Session, clinic_id: int) -> tuple[int, str]:
    """Hold the clinic's chain for this transaction; return its last ``seq`` and hash.

    PostgreSQL: one call of ``gutaxis_audit_chain_head`` (migration 0008),
    which takes the clinic's advisory lock and then reads the last row, in
    one round trip.  SQLite: a writing transaction already holds the only
    write lock, so the last row is simply read.  ``(0, GENESIS)`` for an
    empty chain.
    """
    if session.get_bind().dialect.name == "postgresql":
        last = session.execute(text("SELECT last_seq, last_hash FROM "
                                    "gutaxis_audit_chain_head(:c)"), {"c": clinic_id}).first()
    else:
        last = session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.clinic_id == clinic_id)
            .order_by(AuditEvent.seq.desc()).limit(1)).first()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS)


def record(session: Session, actor: Actor, action: str, object_type: str = "",
           object_id: object = "", detail: str = "") -> AuditEvent:
    """Add one row to ``actor``'s clinic's log, written when the caller's transaction commits.

    The row commits or rolls back with the change it tells of.  It takes its
    place in the chain (``seq``, ``at``, ``prev_hash``, ``hash``) just before
    the commit, so the clinic's chain is held for the commit only, not for the
    rest of the request (rendering a page, say).

    Parameters
    ----------
    session : Session
    actor : Actor
    action : str
        ``patient.read``, ``visit.create``, ``upload.create`` …
    object_type, object_id : str
    detail : str
        Never patient data: ids, counts, statuses.

    Returns
    -------
    AuditEvent
        Its chain fields are filled in when the transaction commits.  The
        row is written by a plain ``INSERT``, not through the session: this
        object's ``id`` stays None.
    """
    transaction = session.get_transaction() or session.begin()
    pending: tuple[object, list[AuditEvent]] | None = session.info.get(_PENDING)
    if pending is None or pending[0] is not transaction:
        pending = (transaction, [])
        session.info[_PENDING] = pending
        if not event.contains(session, "before_commit", _write_pending):
            event.listen(session, "before_commit", _write_pending)
    row = AuditEvent(clinic_id=actor.clinic_id, user_id=actor.user_id, user_email=actor.email,
                     action=action, object_type=object_type, object_id=str(object_id),
                     address=actor.address, detail=detail)
    pending[1].append(row)
    return row


_TABLE = cast(Table, AuditEvent.__table__)
#: The columns an audit row is written with: all but ``id``, which is the database's.
_WRITTEN = tuple(column.key for column in _TABLE.columns if column.key != "id")


def _write_pending(session: Session) -> None:
    """Chain and write the transaction's pending rows (``before_commit``: just before it)."""
    transaction = session.get_transaction()
    pending = session.info.pop(_PENDING, None)
    if pending is None or pending[0] is not transaction:
        return
    for row in pending[1]:
        # the transaction holds the chain (the advisory lock, or SQLite's write lock) from
        # its first row on, so its later rows follow the last one without asking again
        key = (_LAST, row.clinic_id)
        held = session.info.get(key)
        if held is not None and held[0] is transaction:
            seq, prev = held[1] + 1, held[2]
        else:
            last_seq, prev = _hold_chain_head(session, row.clinic_id)
            seq = last_seq + 1
        row.seq, row.at, row.prev_hash = seq, utcnow(), prev
        row.hash = row_hash(prev, row.clinic_id, seq, row.at, row.user_id, row.user_email,
                            row.action, row.object_type, row.object_id, row.address,
                            row.detail)
        session.info[key] = (transaction, seq, row.hash)
    # a plain INSERT of the chained values (one statement for all of them), not the ORM's
    # unit of work: the rows are never changed after, so the session need not track them
    session.execute(insert(_TABLE),
                    [{column: getattr(row, column) for column in _WRITTEN} for row in pending[1]])


def audit_rows(session: Session, clinic_id: int, *, limit: int | None = None,
               offset: int = 0) -> list[AuditEvent]:
    """Read a clinic's audit rows, newest first, after ``offset`` (all, or ``limit``)."""
    query = (select(AuditEvent).where(AuditEvent.clinic_id == clinic_id)
             .order_by(AuditEvent.seq.desc()).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def _chain(rows: Iterable[AuditEvent]) -> Iterator[str]:
    prev, expected_seq = GENESIS, 1
    for row in rows:
        if row.seq != expected_seq:
            yield f"row {expected_seq} is missing (the next row is {row.seq})"
            expected_seq = row.seq
        if row.prev_hash != prev:
            yield f"row {row.seq}: it does not follow row {row.seq - 1} (prev_hash differs)"
        want = row_hash(row.prev_hash, row.clinic_id, row.seq, row.at, row.user_id,
                        row.user_email, row.action, row.object_type, row.object_id,
                        row.address, row.detail)
        if row.hash != want:
            yield f"row {row.seq}: its content does not match its hash (changed after writing)"
        prev, expected_seq = row.hash, expected_seq + 1


def verify_chain(session: Session, clinic_id: int) -> list[str]:
    """Check a clinic's chain: an empty list when no row was changed, removed or inserted.

    Returns
    -------
    list of str
        What is wrong, row by row.
    """
    count = session.scalar(select(func.count()).where(AuditEvent.clinic_id == clinic_id))
    rows = session.scalars(select(AuditEvent).where(AuditEvent.clinic_id == clinic_id)
                           .order_by(AuditEvent.seq)).yield_per(1000)
    problems = list(_chain(rows))
    return problems if count else []
