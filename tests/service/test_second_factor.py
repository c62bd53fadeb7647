"""The second factor: a code works once; wrong codes count towards the lock-out (committed)."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from builders.practice import PASSWORD, make_user
from gutaxis.service.models import AuditEvent, User
from gutaxis.service.security import new_totp_secret


def _with_second_factor(ctx, email):
    secret = new_totp_secret()
    make_user(ctx, "A", email)
    with ctx.transaction() as db:
        db.scalar(select(User).where(User.email == email)).totp_secret = secret
    return secret


def _password(client, email):
    response = client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200 and response.json()["second_factor_required"]
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def test_a_code_is_good_once(client, ctx):
    secret = _with_second_factor(ctx, "a@a.example")
    code = pyotp.TOTP(secret).now()
    headers = _password(client, "a@a.example")
    assert client.post("/api/v1/session/code", json={"code": code},
                       headers=headers).status_code == 204
    assert client.get("/api/v1/me").status_code == 200
    client.cookies.clear()
    headers = _password(client, "a@a.example")
    replay = client.post("/api/v1/session/code", json={"code": code}, headers=headers)
    assert replay.status_code == 422
    assert "a code works once" in replay.json()["error"]["message"]
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_codes_are_counted_and_lock_the_account(make_settings):
    from fastapi.testclient import TestClient

    from gutaxis.service import create_app

    with TestClient(create_app(make_settings(lockout_failures=3))) as client:
        ctx = client.app.state.ctx
        secret = _with_second_factor(ctx, "a@a.example")
        wrong = f"{(int(pyotp.TOTP(secret).now()) + 500000) % 1000000:06d}"
        headers = _password(client, "a@a.example")
        for expected in (422, 422, 422):
            response = client.post("/api/v1/session/code", json={"code": wrong},
                                   headers=headers)
            if response.status_code == 401:  # the third failure ended the session
                break
            assert response.status_code == expected
        with ctx.transaction() as db:
            user = db.scalar(select(User).where(User.email == "a@a.example"))
            assert user.locked_until is not None
            failed = [e.detail for e in db.scalars(select(AuditEvent).where(
                AuditEvent.action == "session.code_failed").order_by(AuditEvent.seq))]
        assert failed == ["failures=1", "failures=2", "failures=3, locked"]
        locked = client.post("/api/v1/session", json={"email": "a@a.example",
                                                      "password": PASSWORD})
        assert locked.status_code == 429
