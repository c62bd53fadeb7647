"""Helpers of the practice application's tests: accounts, signing in, running the jobs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gutaxis.service.access import Principal
from gutaxis.service.context import AppContext
from gutaxis.service.jobs import run_pending
from gutaxis.service.services import accounts

#: The password of every test account.
PASSWORD = "correct horse battery staple"


def run_jobs(ctx: AppContext) -> int:
    """Run every queued job now (the worker is off in tests); how many ran."""
    return run_pending(ctx)


def make_user(ctx: AppContext, clinic: str, email: str, role: str = "owner",
              password: str = PASSWORD) -> Principal:
    """An account (and its clinic, made when missing); the principal it acts as."""
    from sqlalchemy import select

    from gutaxis.service.models import Clinic

    with ctx.transaction() as db:
        row = db.scalar(select(Clinic).where(Clinic.name == clinic))
        row = row or accounts.create_clinic(db, clinic)
        user = accounts.create_user(db, row, email, password, role)
        return Principal(user.id, row.id, role, user.email, "test", "token")


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign ``client`` in; the headers an unsafe request needs (the CSRF token)."""
    response = client.post("/api/v1/session", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def bearer(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """A personal access token's header for ``email`` (made through the API)."""
    headers = sign_in(client, email, password)
    response = client.post("/api/v1/tokens", json={"name": "test"}, headers=headers)
    assert response.status_code == 201, response.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def signed_in(who: Principal) -> Principal:
    """``who`` as a password sign-in (a session) would be: what token-refusing services need."""
    import dataclasses

    return dataclasses.replace(who, via="session")
