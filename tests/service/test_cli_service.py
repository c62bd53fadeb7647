"""``gutaxis users create``, ``users password`` and ``db upgrade`` on SQLite and PostgreSQL."""

from __future__ import annotations

import os

import httpx
import pytest
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gutaxis.cli import app
from gutaxis.service.models import AuditEvent, Clinic, User
from gutaxis.service.security import SecretBox, verify_password

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path, database_url, monkeypatch):
    """The data folder and the database URL the commands see (as `gutaxis serve` would)."""
    if database_url:
        monkeypatch.setenv("GUTAXIS_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("GUTAXIS_DATABASE_URL", raising=False)
    data = tmp_path / "clinic-data"
    url = database_url or f"sqlite:///{data / 'gutaxis.sqlite3'}"
    return data, url


def _users(url):
    engine = create_engine(url)
    try:
        with Session(engine) as db:
            return [(u.email, u.role, u.clinic.name, u.password_hash)
                    for u in db.scalars(select(User).order_by(User.id))]
    finally:
        engine.dispose()


def test_users_create_reads_the_password_from_stdin_and_makes_the_clinic_once(cli_env):
    data, url = cli_env
    result = runner.invoke(app, ["users", "create", "--clinic", "My practice", "--email",
                                 "Owner@Practice.example", "--role", "owner", "--data",
                                 str(data)], input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "owner@practice.example: owner of My practice" in result.output
    result = runner.invoke(app, ["users", "create", "--clinic", "My practice", "--email",
                                 "asst@practice.example", "--role", "assistant", "--data",
                                 str(data)], input="another long password\n")
    assert result.exit_code == 0, result.output
    users = _users(url)
    assert [(e, r, c) for e, r, c, _ in users] == [
        ("owner@practice.example", "owner", "My practice"),
        ("asst@practice.example", "assistant", "My practice")]
    assert users[0][3].startswith("$argon2id$")
    assert verify_password(users[0][3], "a long enough password")
    engine = create_engine(url)
    with Session(engine) as db:
        assert db.scalar(select(Clinic.id).where(Clinic.name == "My practice")) is not None
        assert len(list(db.scalars(select(Clinic)))) == 1
        actions = [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    engine.dispose()
    assert actions == ["user.create", "user.create"]


@pytest.mark.parametrize(("args", "password", "message"), [
    (["--role", "owner"], "short\n", "at least 12 characters (this one has 5)"),
    (["--role", "boss"], "a long enough password\n", "expected one of owner, practitioner, "
                                                     "assistant; got 'boss'"),
])
def test_users_create_refuses_bad_input_with_one_line(cli_env, args, password, message):
    data, _ = cli_env
    result = runner.invoke(app, ["users", "create", "--clinic", "C", "--email", "a@c.example",
                                 "--data", str(data), *args], input=password)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_second_account_with_the_same_email_is_refused(cli_env):
    data, _ = cli_env
    for expected in (0, 2):
        result = runner.invoke(app, ["users", "create", "--clinic", "C", "--email",
                                     "a@c.example", "--data", str(data)],
                               input="a long enough password\n")
        assert result.exit_code == expected, result.output
    assert "a@c.example has an account already" in result.output


def test_users_password_sets_a_new_password_and_unlocks(cli_env):
    data, url = cli_env
    runner.invoke(app, ["users", "create", "--clinic", "C", "--email", "a@c.example", "--data",
                        str(data)], input="a long enough password\n")
    result = runner.invoke(app, ["users", "password", "--email", "a@c.example", "--data",
                                 str(data)], input="the new long password\n")
    assert result.exit_code == 0, result.output
    stored = _users(url)[0][3]
    assert verify_password(stored, "the new long password")
    assert not verify_password(stored, "a long enough password")


def test_a_password_reset_revokes_the_accounts_tokens(make_settings):
    from fastapi.testclient import TestClient

    from builders.practice import bearer, make_user
    from gutaxis.service import create_app

    settings = make_settings()
    with TestClient(create_app(settings)) as client:
        make_user(client.app.state.ctx, "C", "a@c.example")
        headers = bearer(client, "a@c.example")
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        result = runner.invoke(app, ["users", "password", "--email", "a@c.example", "--data",
                                     str(settings.data_dir)], input="the new long password\n",
                               env={"GUTAXIS_DATABASE_URL": settings.database_url or ""})
        assert result.exit_code == 0, result.output
        assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_db_upgrade_makes_the_schema_and_is_idempotent(cli_env, database_url):
    data, url = cli_env
    if database_url is None:
        # on SQLite a mistyped folder is not made into a new, empty database
        refused = runner.invoke(app, ["db", "upgrade", "--data", str(data)])
        assert refused.exit_code == 2 and "no database there" in refused.output
        assert not data.exists()
        made = runner.invoke(app, ["users", "create", "--clinic", "C", "--email",
                                   "o@c.example", "--role", "owner", "--data", str(data)],
                             input="a long enough password\n")
        assert made.exit_code == 0, made.output
    else:  # an empty PostgreSQL database gets its schema, and the command says so
        result = runner.invoke(app, ["db", "upgrade", "--data", str(data)])
        assert result.exit_code == 0, result.output
        assert "database upgraded from an empty database to 0011" in result.output
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade", "--data", str(data)])
        assert result.exit_code == 0, result.output
        assert "database up to date (at 0011;" in result.output
    from gutaxis.service.db import downgrade, make_engine

    engine = make_engine(url)
    downgrade(engine, "0010")
    engine.dispose()
    result = runner.invoke(app, ["db", "upgrade", "--data", str(data)])
    assert "database upgraded from 0010 to 0011" in result.output, result.output
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"clinic", "user_account", "patient", "visit", "upload", "job", "profile",
            "plan_item", "plan_event", "audit_event", "alembic_version"} <= tables


def test_users_password_for_an_unknown_address_is_one_line(cli_env):
    data, _ = cli_env
    made = runner.invoke(app, ["users", "create", "--clinic", "C", "--email", "o@c.example",
                               "--data", str(data)], input="a long enough password\n")
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["users", "password", "--email", "nobody@c.example", "--data",
                                 str(data)], input="another long password\n")
    assert result.exit_code == 2
    assert " ".join(result.output.split()).startswith("error: email: no account nobody@c.example")
    assert "Usage:" not in result.output


def test_users_password_can_turn_a_lost_second_factor_off(cli_env):
    data, url = cli_env
    runner.invoke(app, ["users", "create", "--clinic", "C", "--email", "a@c.example", "--data",
                        str(data)], input="a long enough password\n")
    engine = create_engine(url)
    with Session(engine) as db, db.begin():
        db.scalar(select(User)).totp_secret = "JBSWY3DPEHPK3PXP"
    box = SecretBox.from_file(data / "secret.key")
    for flags, expected in (([], "JBSWY3DPEHPK3PXP"), (["--second-factor-off"], None)):
        result = runner.invoke(app, ["users", "password", "--email", "a@c.example", "--data",
                                     str(data), *flags], input="the new long password\n")
        assert result.exit_code == 0, result.output
        with Session(engine) as db:
            user = db.scalar(select(User))
            # the secret stored before sealing was sealed when the command opened the database
            opened = user.totp_secret and box.open(user.totp_secret,
                                                   f"gutaxis totp user {user.id}")
            assert opened == expected and user.totp_secret != "JBSWY3DPEHPK3PXP"
    engine.dispose()


def test_database_problems_are_one_line_and_change_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("GUTAXIS_DATABASE_URL", raising=False)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "gutaxis.sqlite3").write_text("not a database")
    missing = tmp_path / "mistyped"
    cases = [
        (["db", "upgrade", "--data", str(a_file)], {}, "is a file; expected the data folder"),
        (["db", "upgrade", "--data", str(corrupt)], {},
         "gutaxis.sqlite3: cannot open the database (file is not a database)"),
        (["serve", "--data", str(corrupt), "--port", "1"], {},  # before any server starts
         "gutaxis.sqlite3: cannot open the database (file is not a database)"),
        (["users", "password", "--email", "a@c.example", "--data", str(missing)], {},
         "no database there (no gutaxis.sqlite3)"),
        (["db", "upgrade", "--data", str(tmp_path / "d")], {"GUTAXIS_DATABASE_URL": "garbage://"},
         "GUTAXIS_DATABASE_URL: cannot use this database"),
        (["db", "upgrade", "--data", str(tmp_path / "d")],
         {"GUTAXIS_DATABASE_URL": "postgresql+psycopg://u:x@127.0.0.1:1/n"},
         "GUTAXIS_DATABASE_URL: cannot open the database (connection failed"),
    ]
    for args, env, message in cases:
        result = runner.invoke(app, args, input="a long enough password\n", env=env)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), args
    assert not missing.exists()  # a mistyped folder is not made into an empty clinic
    assert (corrupt / "gutaxis.sqlite3").read_text() == "not a database"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one server per SQLite file
def test_a_second_server_is_refused_before_it_touches_the_running_ones_data(
        make_settings, tmp_path, monkeypatch):
    """A failed second start used to empty the running server's scratch folder first."""
    import subprocess
    import sys
    from pathlib import Path

    from builders.live_server import free_port, server_process

    gutaxis = str(Path(sys.executable).parent / "gutaxis")
    settings = make_settings()  # SQLite: the bundled reference copied in
    env = {k: v for k, v in os.environ.items() if k != "GUTAXIS_DATABASE_URL"}
    port = free_port()
    with server_process([gutaxis, "serve", "--data", str(settings.data_dir), "--port",
                         str(port)], port, tmp_path / "server.log", env=env) as (url, first):
        marker = settings.scratch_dir / "job-999-running"
        marker.mkdir(parents=True)
        for args, said in (
                # the same data folder, another port: refused, naming the server that runs
                ([str(free_port())], f"another gutaxis server is using {settings.data_dir}"),
                # another data folder, the same port
                ([str(port)], f"cannot listen on 127.0.0.1:{port}: another program listens"),
        ):
            data = settings.data_dir if "using" in said else tmp_path / "other-data"
            second = subprocess.run([gutaxis, "serve", "--data", str(data), "--port", *args],
                                    env=env, capture_output=True, text=True, timeout=120)
            output = " ".join((second.stdout + second.stderr).split())
            assert second.returncode == 2, output
            assert said in output and f"(process {first.pid} holds" in output \
                if "using" in said else said in output
            assert "Traceback" not in output and "practice on" not in output
            assert marker.is_dir()  # the running server's work is where it was
        # another data folder, the same SQLite database named by its URL: refused too
        database = settings.data_dir / "gutaxis.sqlite3"
        second = subprocess.run(
            [gutaxis, "serve", "--data", str(tmp_path / "elsewhere"), "--port",
             str(free_port())], capture_output=True, text=True, timeout=120,
            env={**env, "GUTAXIS_DATABASE_URL": f"sqlite:///{database}"})
        output = " ".join((second.stdout + second.stderr).split())
        assert second.returncode == 2 and "another gutaxis server is using" in output, output
        assert httpx.get(f"{url}/api/v1/me").status_code == 401  # and it still answers


def test_a_name_listens_on_its_ipv4_address():
    # `--host localhost` listened on ::1 alone where the hosts file lists it first
    import socket

    from gutaxis.cli import _listening_socket

    sock = _listening_socket("localhost", 0)
    try:
        assert sock.family == socket.AF_INET and sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
