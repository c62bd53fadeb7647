"""Requests at once: what must happen once happens once, and a lost race is a clean 409.

On PostgreSQL (READ COMMITTED) a service that reads a row, decides in Python and
writes back raced a twin request doing the same; these were found by a probe that
released threads together (the sign-in's own races are in test_second_factor.py).
Each case runs on both backends; SQLite has one writer at a time, so there it checks
that the outcome is the same.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.portal import patient_account
from builders.practice import PASSWORD, make_user
from gutaxis.service.models import AuthSession, PortalAccount, User
from gutaxis.service.pages import LOGIN_CSRF_COOKIE
from gutaxis.service.services import accounts, patients, portal, protocols

ROUNDS = 3


def _at_once(n: int, call: Callable[[int], Any]) -> list[Any]:
    """Run ``call(0) … call(n - 1)`` in threads released together; their results (or errors)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call(i)
        except Exception as exc:  # noqa: BLE001 - the test reads it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _use_link(app: Any, token: str, password: str) -> int:
    client = TestClient(app, follow_redirects=False)
    client.cookies.set(LOGIN_CSRF_COOKIE, "matching")
    return client.post(f"/portal/invite/{token}",
                       data={"password": password, "csrf_token": "matching"}).status_code


def _link(ctx: Any, staff: Any, patient_id: int, email: str) -> str:
    with ctx.transaction() as db:
        return portal.invite_patient(db, ctx.settings, staff, patient_id, email)[0]


def _sessions(ctx: Any, patient_id: int) -> tuple[bool, int]:
    with ctx.sessions() as db:
        user_id = db.scalar(select(PortalAccount.user_id).where(
            PortalAccount.patient_id == patient_id))
        user = db.get(User, user_id)
        live = db.scalar(select(func.count()).select_from(AuthSession).where(
            AuthSession.user_id == user_id))
        return user.active, live


def test_a_portal_link_works_once_and_not_after_its_revocation(client: TestClient,
                                                               ctx: Any) -> None:
    # a link used four times at once signed the patient in four times (each setting the
    # password); a link used while access was revoked left the patient signed in
    staff = make_user(ctx, "Clinic A", "doc@a.example")
    for attempt in range(ROUNDS):
        with ctx.transaction() as db:
            pid = patients.create_patient(db, staff, {"name": f"P{attempt}"}).id
        email = f"p{attempt}@a.example"
        token = _link(ctx, staff, pid, email)
        assert sorted(_at_once(4, lambda i, t=token: _use_link(client.app, t, PASSWORD + str(i)))
                      ) == [303, 404, 404, 404]
        assert _sessions(ctx, pid) == (True, 1)
        token = _link(ctx, staff, pid, email)  # a forgotten password, say

        def use_or_revoke(i: int, token: str = token, pid: int = pid) -> Any:
            if i == 0:
                return _use_link(client.app, token, PASSWORD + "z")
            with ctx.transaction() as db:
                portal.revoke_access(db, staff, pid)
            return "revoked"

        used, _ = _at_once(2, use_or_revoke)
        assert used in (303, 404)
        assert _sessions(ctx, pid) == (False, 0)  # revoked, whichever came first


def test_one_invitation_code_makes_one_account_and_the_rest_are_409(
        client: TestClient, ctx: Any) -> None:
    # the account's unique address refused the losers: a 500 until the app said 409
    owner = make_user(ctx, "Clinic A", "owner@a.example")
    for attempt in range(ROUNDS):
        with ctx.transaction() as db:
            code = accounts.invite(db, owner, f"new{attempt}@a.example", "practitioner")
        answers = _at_once(4, lambda i, code=code: TestClient(client.app).post(
            "/api/v1/invitations/accept",
            json={"code": code, "password": PASSWORD + str(i), "name": f"N{i}"}))
        statuses = sorted(a.status_code for a in answers)
        assert statuses[0] == 201 and set(statuses[1:]) <= {404, 409}, statuses
        for answer in answers:
            if answer.status_code == 409:
                assert answer.json()["error"]["code"] == "conflict"
        with ctx.sessions() as db:
            assert db.scalar(select(func.count()).select_from(User).where(
                User.email == f"new{attempt}@a.example")) == 1


def test_two_protocols_set_up_at_once_leave_one_active(client: TestClient, ctx: Any) -> None:
    # each checked that the patient followed none, then both were made
    staff = make_user(ctx, "Clinic A", "doc@a.example", "practitioner")
    pid = patient_account(ctx, staff, "dee@mail.example").patient_id
    values = {"groups": ["egg"], "elimination_days": 7,
              "elimination_start": dt.date.today().isoformat()}

    def set_up(i: int) -> Any:
        with ctx.transaction() as db:
            return protocols.create_protocol(db, staff, pid, dict(values)).id

    made = _at_once(2, set_up)
    assert sum(isinstance(m, int) for m in made) == 1, made
    assert "already follows a protocol" in str(next(m for m in made if not isinstance(m, int)))
