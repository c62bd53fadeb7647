"""How requests share the database: reads beside a writer, writers in turn, auth off the loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.practice import bearer, make_user
from gutaxis.service import access
from gutaxis.service.context import AppContext
from gutaxis.service.db import is_sqlite
from gutaxis.service.models import Patient


def _patients(db: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(Patient)))


def test_a_single_read_reads_beside_an_open_writer(ctx: AppContext) -> None:
    who = make_user(ctx, "Clinic A", "a@example.org")
    count = select(func.count()).select_from(Patient)
    with ctx.transaction() as db:
        db.add(Patient(clinic_id=who.clinic_id, name="Ana", name_key="ana"))
        db.flush()
        # same thread, other connection (authentication reads this way): a read that
        # took SQLite's write lock would wait for this transaction (30 s busy timeout)
        # and then fail
        row = ctx.read_row(count)
        assert row is not None and row[0] == 0  # the committed state only
    row = ctx.read_row(count)
    assert row is not None and row[0] == 1


def test_writers_of_one_process_wait_their_turn_before_the_database(ctx: AppContext) -> None:
    make_user(ctx, "Clinic A", "a@example.org")
    entered, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def first() -> None:
        with ctx.transaction() as db:
            _patients(db)
            entered.set()
            release.wait(30)

    def second() -> None:
        with ctx.transaction() as db:
            seen.append(_patients(db))

    a = threading.Thread(target=first)
    a.start()
    assert entered.wait(30)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.5)
    # SQLite: the second writer waits in the process's queue, holding no
    # connection (it used to hold one, asleep in SQLite's busy handler);
    # PostgreSQL: writers run side by side, the second one is done
    pool: Any = ctx.engine.pool
    assert pool.checkedout() == 1
    assert seen == ([] if is_sqlite(ctx.engine) else [0])
    release.set()
    a.join(30)
    b.join(30)
    assert seen == [0]


def test_authentication_runs_off_the_event_loop(client: TestClient, ctx: AppContext,
                                                monkeypatch: Any) -> None:
    make_user(ctx, "Clinic A", "a@example.org")
    headers = bearer(client, "a@example.org")
    on_loop: list[bool] = []
    original = access._authenticate

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return original(*args, **kwargs)

    monkeypatch.setattr(access, "_authenticate", spy)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.get("/api/v1/patients", headers=headers).status_code == 200
    assert on_loop == [False, False]
