"""Authentication (:mod:`gutaxis.service.access`): who is behind a request, in one statement."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa

from builders.practice import bearer, make_user, sign_in
from gutaxis.service.context import AppContext

HTML = {"Accept": "text/html"}


@contextlib.contextmanager
def _statements(ctx: AppContext) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block (SQLite's BEGIN left out)."""
    seen: list[str] = []

    def listen(connection, cursor, statement, *args) -> None:  # noqa: ANN001
        if not statement.startswith("BEGIN"):
            seen.append(" ".join(statement.split()))

    sa.event.listen(ctx.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(ctx.engine, "before_cursor_execute", listen)


def test_a_session_cookie_is_read_with_its_account_and_clinic_in_one_statement(client, ctx):
    make_user(ctx, "Clinic A", "a@a.example")
    sign_in(client, "a@a.example")
    with _statements(ctx) as seen:
        me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert (me.json()["via"], me.json()["email"]) == ("session", "a@a.example")
    assert len(seen) == 1, seen
    assert "FROM auth_session JOIN user_account" in seen[0] and "clinic.name" in seen[0]


def test_a_bearer_token_is_read_with_its_account_and_clinic_in_one_statement(client, ctx):
    make_user(ctx, "Clinic A", "a@a.example")
    headers = bearer(client, "a@a.example")
    with _statements(ctx) as seen:
        me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json()["via"] == "token"
    assert len(seen) == 1, seen
    assert "FROM api_token JOIN user_account" in seen[0] and "clinic.name" in seen[0]


def test_a_page_names_the_clinic_read_with_the_session(client, ctx):
    make_user(ctx, "The Heading Clinic", "a@a.example")
    sign_in(client, "a@a.example")
    with _statements(ctx) as seen:
        page = client.get("/patients", headers=HTML)
    assert page.status_code == 200 and "The Heading Clinic" in page.text
    # the clinic's name came with the session, not from a query of its own
    assert [s for s in seen if "clinic.name" in s] == [seen[0]]


def test_a_switched_off_account_is_not_signed_in_by_its_session_or_token(client, ctx):
    from gutaxis.service.models import User

    make_user(ctx, "Clinic A", "a@a.example")
    headers = bearer(client, "a@a.example")
    sign_in(client, "a@a.example")
    with ctx.transaction() as db:
        db.execute(sa.update(User).where(User.email == "a@a.example").values(active=False))
    assert client.get("/api/v1/me").status_code == 401
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
