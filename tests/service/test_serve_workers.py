"""``gutaxis serve --workers N``: several server processes on PostgreSQL, refused on SQLite.

The processes share the database only; what must hold across them is the
audit log (one hash chain a clinic, whichever process writes a row) and the
answers themselves.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from builders.live_server import free_port, server_process
from gutaxis.cli import app
from gutaxis.service.app import SETTINGS_ENV, create_app_from_environment
from gutaxis.service.audit import verify_chain
from gutaxis.service.context import AppContext
from gutaxis.service.models import AuditEvent, Clinic, Patient

runner = CliRunner()
PASSWORD = "a long enough password"
GUTAXIS = str(Path(sys.executable).parent / "gutaxis")  # the console script


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


def test_factory_without_settings_says_how_to_start_it(monkeypatch):
    monkeypatch.delenv(SETTINGS_ENV, raising=False)
    with pytest.raises(RuntimeError, match="gutaxis serve --workers N"):
        create_app_from_environment()


def test_several_workers_share_one_audit_chain_on_postgresql(make_settings, database_url,
                                                             monkeypatch, tmp_path):
    settings = make_settings()  # the data folder, the bundled reference copied in
    if database_url is None:
        monkeypatch.delenv("GUTAXIS_DATABASE_URL", raising=False)
        result = runner.invoke(app, ["serve", "--data", str(settings.data_dir),
                                     "--workers", "2"])
        assert result.exit_code == 2
        assert "--workers 2 needs PostgreSQL (set GUTAXIS_DATABASE_URL)" in " ".join(
            result.output.split())
        assert not (settings.data_dir / "gutaxis.sqlite3").exists()  # nothing was started
        return
    env = {**os.environ, "GUTAXIS_DATABASE_URL": database_url}
    made = subprocess.run([GUTAXIS, "users", "create", "--clinic",
                           "Two processes", "--email", "owner@two.example", "--role", "owner",
                           "--data", str(settings.data_dir)], input=PASSWORD + "\n",
                          env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    port = free_port()
    with server_process([GUTAXIS, "serve", "--data", str(settings.data_dir), "--port",
                         str(port), "--workers", "2"], port, tmp_path / "server.log",
                        env=env, stop=signal.SIGINT) as (url, server):
        assert len(_children(server.pid)) >= 2  # uvicorn's two worker processes

        with httpx.Client(base_url=url, timeout=30) as client:
            signed_in = client.post("/api/v1/session", json={
                "email": "owner@two.example", "password": PASSWORD})
            assert signed_in.status_code == 200
            token = client.post("/api/v1/tokens", json={"name": "test"}, headers={
                "X-CSRF-Token": signed_in.json()["csrf_token"]}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        def create_and_read(i: int) -> tuple[int, int]:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                made = client.post("/api/v1/patients", json={
                    "name": f"Patient {i}", "birth_date": "1980-01-02", "sex": "female"})
                read = client.get(f"/api/v1/patients/{made.json()['id']}")
                return made.status_code, read.status_code

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(create_and_read, range(60)))
        assert answers == [(201, 200)] * 60

    ctx = AppContext(settings)
    try:
        with ctx.sessions() as db:
            clinic_id = db.scalar(select(Clinic.id).where(Clinic.name == "Two processes"))
            assert db.scalar(select(func.count()).select_from(Patient)) == 60
            actions = [a for (a,) in db.execute(select(AuditEvent.action).where(
                AuditEvent.clinic_id == clinic_id).order_by(AuditEvent.seq))]
            seqs = list(db.scalars(select(AuditEvent.seq).where(
                AuditEvent.clinic_id == clinic_id).order_by(AuditEvent.seq)))
            assert verify_chain(db, clinic_id) == []
    finally:
        ctx.close()
    assert actions.count("patient.create") == 60 and actions.count("patient.read") == 60
    assert seqs == list(range(1, len(seqs) + 1))  # one chain, no gap, no fork


def test_serve_help_names_the_workers_option():
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--workers" in result.output


def test_settings_travel_to_the_workers_whole(make_settings):
    settings = make_settings(n_boot=321, secure_cookies=True)
    assert type(settings).from_json(settings.to_json()) == settings
    assert Path(type(settings).from_json(settings.to_json()).data_dir) == settings.data_dir
