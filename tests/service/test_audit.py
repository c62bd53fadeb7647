"""The audit log: rows hash-chained per clinic, append-only, tampering detected (both backends)."""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from gutaxis.service import audit
from gutaxis.service.audit import GENESIS, Actor, audit_rows, verify_chain
from gutaxis.service.context import AppContext
from gutaxis.service.models import AuditEvent

#: The advisory lock's key of the audit chain, as migration 0008 defines it.
CHAIN_LOCK = importlib.import_module(
    "gutaxis.service.migrations.versions.0008_audit_chain_head_function").CHAIN_LOCK

#: Clinic ids of these tests (the log has no foreign key: it outlives what it tells of).
A, B = 7001, 7002
ALICE = Actor(A, 11, "alice@a.example", "10.0.0.1")
BOB = Actor(B, 22, "bob@b.example", "10.0.0.2")


def _expected_hash(row: AuditEvent) -> str:
    """The row's hash computed here, from its stored fields (the chain's definition)."""
    fields = [row.prev_hash, row.clinic_id, row.seq, row.at.isoformat(timespec="microseconds"),
              row.user_id, row.user_email, row.action, row.object_type, row.object_id,
              row.address, row.detail]
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


def _rows(ctx: AppContext, clinic: int) -> list[AuditEvent]:
    with ctx.sessions() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.clinic_id == clinic)
                               .order_by(AuditEvent.seq)))


def _problems(ctx: AppContext, clinic: int) -> list[str]:
    with ctx.sessions() as db:
        return verify_chain(db, clinic)


def _write(ctx: AppContext, actor: Actor, n: int, start: int = 1) -> None:
    """Write ``n`` rows, one transaction each (as requests do)."""
    for i in range(start, start + n):
        with ctx.transaction() as db:
            audit.record(db, actor, "patient.read", "patient", i, f"row {i}")


def _drop_append_only_triggers(ctx: AppContext) -> None:
    """Let this test's own database change audit rows, as an intruder with its files would."""
    with ctx.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER audit_event_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_event_no_delete")
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_event_no_change ON audit_event")


def test_chain_of_several_rows(ctx: AppContext) -> None:
    _write(ctx, ALICE, 3)
    with ctx.transaction() as db:  # two more in one transaction
        audit.record(db, ALICE, "visit.create", "visit", 5, "patient=1")
        audit.record(db, ALICE, "upload.create", "upload", "9", "visit=5, kind=labs")
    rows = _rows(ctx, A)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS == "0" * 64
    for before, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == before.hash
    for row in rows:
        assert row.hash == _expected_hash(row)
        assert len(row.hash) == 64
    assert len({r.hash for r in rows}) == 5
    assert [(r.action, r.object_type, r.object_id, r.detail) for r in rows] == [
        ("patient.read", "patient", "1", "row 1"), ("patient.read", "patient", "2", "row 2"),
        ("patient.read", "patient", "3", "row 3"), ("visit.create", "visit", "5", "patient=1"),
        ("upload.create", "upload", "9", "visit=5, kind=labs")]
    assert {(r.user_id, r.user_email, r.address) for r in rows} == {
        (11, "alice@a.example", "10.0.0.1")}
    assert _problems(ctx, A) == []


def test_first_row_hash_by_hand(ctx: AppContext) -> None:
    with ctx.transaction() as db:
        event = audit.record(db, ALICE, "patient.create", "patient", 3)
    fields = [GENESIS, A, 1, event.at.isoformat(timespec="microseconds"), 11,
              "alice@a.example", "patient.create", "patient", "3", "10.0.0.1", ""]
    assert event.hash == hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()
                                        ).hexdigest()
    (stored,) = _rows(ctx, A)
    assert (stored.at, stored.hash) == (event.at, event.hash)  # microseconds survive storage


def test_rolled_back_row_leaves_no_gap(ctx: AppContext) -> None:
    _write(ctx, ALICE, 2)
    with pytest.raises(RuntimeError), ctx.transaction() as db:
        audit.record(db, ALICE, "patient.update", "patient", 1)
        raise RuntimeError("the change failed")
    _write(ctx, ALICE, 1, start=3)
    assert [(r.seq, r.object_id) for r in _rows(ctx, A)] == [(1, "1"), (2, "2"), (3, "3")]
    assert _problems(ctx, A) == []


def test_clinics_have_independent_chains(ctx: AppContext) -> None:
    for i in range(1, 4):  # interleaved
        _write(ctx, ALICE, 1, start=i)
        _write(ctx, BOB, 1, start=i)
    _write(ctx, BOB, 1, start=4)
    rows_a, rows_b = _rows(ctx, A), _rows(ctx, B)
    assert [r.seq for r in rows_a] == [1, 2, 3]
    assert [r.seq for r in rows_b] == [1, 2, 3, 4]
    assert rows_a[0].prev_hash == rows_b[0].prev_hash == GENESIS
    assert not {r.prev_hash for r in rows_b} & {r.hash for r in rows_a}
    assert _problems(ctx, A) == [] and _problems(ctx, B) == []
    with ctx.sessions() as db:
        assert [r.seq for r in audit_rows(db, B)] == [4, 3, 2, 1]  # newest first
        assert [r.seq for r in audit_rows(db, B, limit=2, offset=1)] == [3, 2]
        assert {r.clinic_id for r in audit_rows(db, A)} == {A}


def test_an_empty_log_is_intact(ctx: AppContext) -> None:
    assert _problems(ctx, 999) == []


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET action = 'nothing' WHERE seq = 1",
    "DELETE FROM audit_event WHERE seq = 1",
])
def test_the_database_refuses_changes(ctx: AppContext, statement: str) -> None:
    _write(ctx, ALICE, 2)
    with pytest.raises(sa.exc.DatabaseError, match="the audit log is append-only"), \
            ctx.engine.begin() as connection:
        connection.exec_driver_sql(statement)
    assert [r.action for r in _rows(ctx, A)] == ["patient.read", "patient.read"]
    assert _problems(ctx, A) == []


def test_a_missing_row_is_detected(ctx: AppContext) -> None:
    _write(ctx, ALICE, 4)
    _write(ctx, BOB, 2)
    _drop_append_only_triggers(ctx)
    with ctx.engine.begin() as connection:
        connection.execute(sa.delete(AuditEvent).where(AuditEvent.clinic_id == A,
                                                       AuditEvent.seq == 2))
    assert _problems(ctx, A) == [
        "row 2 is missing (the next row is 3)",
        "row 3: it does not follow row 2 (prev_hash differs)"]
    assert _problems(ctx, B) == []


def test_a_changed_field_is_detected(ctx: AppContext) -> None:
    _write(ctx, ALICE, 4)
    _write(ctx, BOB, 2)
    _drop_append_only_triggers(ctx)
    with ctx.engine.begin() as connection:
        connection.execute(sa.update(AuditEvent).where(AuditEvent.clinic_id == A,
                                                       AuditEvent.seq == 3)
                           .values(user_email="someone.else@a.example"))
    assert _problems(ctx, A) == [
        "row 3: its content does not match its hash (changed after writing)"]
    assert _problems(ctx, B) == []


def test_a_changed_row_with_a_recomputed_hash_breaks_the_next_link(ctx: AppContext) -> None:
    _write(ctx, ALICE, 4)
    _drop_append_only_triggers(ctx)
    row = _rows(ctx, A)[1]
    row.detail = "nothing to see"
    forged = _expected_hash(row)
    with ctx.engine.begin() as connection:
        connection.execute(sa.update(AuditEvent).where(AuditEvent.id == row.id)
                           .values(detail="nothing to see", hash=forged))
    assert _problems(ctx, A) == ["row 3: it does not follow row 2 (prev_hash differs)"]


def test_an_inserted_row_is_detected(ctx: AppContext) -> None:
    _write(ctx, ALICE, 3)
    rows = _rows(ctx, A)
    # a row slipped in as seq 4 that claims to follow row 2 (a plausible forgery)
    with ctx.transaction() as db:
        db.add(AuditEvent(clinic_id=A, seq=4, at=rows[2].at, user_id=11,
                          user_email="alice@a.example", action="patient.read",
                          object_type="patient", object_id="8", address="", detail="",
                          prev_hash=rows[1].hash, hash="f" * 64))
    assert _problems(ctx, A) == [
        "row 4: it does not follow row 3 (prev_hash differs)",
        "row 4: its content does not match its hash (changed after writing)"]


def test_rows_of_one_transaction_follow_each_other_and_a_new_one_reads_the_log(
        ctx: AppContext) -> None:
    """A transaction remembers the last row it wrote per clinic, and only for itself."""
    _write(ctx, ALICE, 1)
    with ctx.transaction() as db:  # two clinics, interleaved, in one transaction
        for i in range(2, 5):
            audit.record(db, ALICE, "patient.read", "patient", i)
            audit.record(db, BOB, "patient.read", "patient", i)
    with ctx.sessions() as db:  # one session, two transactions, another writer in between
        with db.begin():
            audit.record(db, ALICE, "patient.read", "patient", 5)
        _write(ctx, ALICE, 1, start=6)
        with db.begin():
            audit.record(db, ALICE, "patient.read", "patient", 7)
    assert [(r.seq, r.object_id) for r in _rows(ctx, A)] == [(i, str(i)) for i in range(1, 8)]
    assert [r.seq for r in _rows(ctx, B)] == [1, 2, 3]
    assert _problems(ctx, A) == [] and _problems(ctx, B) == []


def test_a_writer_that_waited_for_the_chain_follows_the_row_committed_meanwhile(
        ctx: AppContext) -> None:
    """The chain's head is read after the chain is held, never from before the wait.

    A first transaction holds clinic A's chain (it has written its row, not yet
    committed) while a second one asks for it.  Once the second is seen waiting
    (PostgreSQL: its advisory lock not granted; SQLite: its ``BEGIN IMMEDIATE``
    sent), the first commits; the second must then follow the first's row
    (seq 2, prev_hash = its hash).  Read before the wait, it would take seq 1
    again (refused by the unique constraint) or fork the chain.
    """
    holding, release, done = threading.Event(), threading.Event(), threading.Event()
    asking = threading.Event()
    errors: list[BaseException] = []
    second_thread: list[int] = []

    def first() -> None:
        try:
            with ctx.sessions() as db:
                with db.begin():
                    audit.record(db, ALICE, "patient.read", "patient", 1)
                    audit._write_pending(db)  # what commit starts with: holds the chain
                    db.flush()
                    holding.set()
                    release.wait(30)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
            holding.set()

    def second() -> None:
        second_thread.append(threading.get_ident())
        try:
            _write(ctx, ALICE, 1, start=2)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            done.set()

    def sent(_conn, _cursor, statement, *_args) -> None:  # SQLite: the wait is BEGIN IMMEDIATE
        if statement == "BEGIN IMMEDIATE" and threading.get_ident() in second_thread:
            asking.set()

    postgres = ctx.engine.dialect.name == "postgresql"
    sa.event.listen(ctx.engine, "before_cursor_execute", sent)
    try:
        one = threading.Thread(target=first)
        one.start()
        assert holding.wait(30)
        two = threading.Thread(target=second)
        two.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not done.is_set():
            if postgres:
                with ctx.engine.connect() as connection:
                    if connection.execute(sa.text(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                            "NOT granted AND classid = :key AND objid = :c"),
                            {"key": CHAIN_LOCK, "c": A}).scalar():
                        asking.set()
            if asking.is_set():
                break
            time.sleep(0.02)
        waiting = asking.is_set() and not done.is_set()
        time.sleep(0.2)  # SQLite: into its busy handler
        release.set()
        one.join(30)
        two.join(30)
    finally:
        release.set()
        sa.event.remove(ctx.engine, "before_cursor_execute", sent)
    assert errors == []
    assert waiting  # the second writer was seen waiting for the chain before the release
    rows = _rows(ctx, A)
    assert [(r.seq, r.object_id) for r in rows] == [(1, "1"), (2, "2")]
    assert rows[1].prev_hash == rows[0].hash
    assert _problems(ctx, A) == []


def test_postgresql_connections_read_committed_whatever_the_default(postgres_url: str) -> None:
    """The chain's head would be read from a snapshot older than its lock otherwise."""
    from gutaxis.service.db import make_engine

    sep = "&" if "?" in postgres_url else "?"
    engine = make_engine(f"{postgres_url}{sep}options=-c%20default_transaction_isolation"
                         "%3Drepeatable%5C%20read")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql(
                "SHOW default_transaction_isolation").scalar() == "repeatable read"
            assert connection.exec_driver_sql(
                "SHOW transaction_isolation").scalar() == "read committed"
    finally:
        engine.dispose()
