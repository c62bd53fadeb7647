"""Fixtures of the practice application's tests: a fresh database per test, SQLite and PostgreSQL.

Every test that takes ``ctx``, ``app`` or ``client`` runs twice: on SQLite in
its own data folder, and on its own new database of the PostgreSQL server at
127.0.0.1:5432 (``GUTAXIS_TEST_POSTGRES`` overrides the server URL).  When
the server cannot be reached the PostgreSQL runs fail loudly — they never
skip.  The job worker is off: a test runs the queued jobs with
:func:`builders.practice.run_jobs` when it wants them done (the helpers that
make accounts and sign in are there too).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gutaxis.service import Settings, create_app
from gutaxis.service.context import AppContext
from gutaxis.service.services.profiles import BUNDLED_FOLDER

POSTGRES_SERVER = os.environ.get("GUTAXIS_TEST_POSTGRES",
                                 "postgresql+psycopg://postgres@127.0.0.1:5432")
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def bundled_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled controls reference, built once per session (as the server builds it)."""
    from gutaxis.service.app import ensure_bundled_reference

    data = tmp_path_factory.mktemp("bundled")
    ctx = AppContext(Settings(data_dir=data))
    from gutaxis.service.db import upgrade

    upgrade(ctx.engine)
    ensure_bundled_reference(ctx)
    ctx.close()
    return data / "references" / BUNDLED_FOLDER


def _admin_url() -> str:
    return f"{POSTGRES_SERVER}/test"


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    """A new PostgreSQL database's URL, dropped after; fails loudly when the server is away."""
    import sqlalchemy as sa

    name = f"gx_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.fail(f"the PostgreSQL server at {POSTGRES_SERVER} cannot be reached ({exc}); "
                    ".ci/run starts it — the PostgreSQL tests never skip")
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite in the data folder) or the URL of a new PostgreSQL database, dropped after."""
    if request.param == "sqlite":
        yield None
        return
    with _postgres_database() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new PostgreSQL database only (what SQLite does not have), dropped after."""
    with _postgres_database() as url:
        yield url


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str | None, bundled_reference: Path
                  ) -> Callable[..., Settings]:
    """Settings for a fresh data folder (the bundled reference copied in), with overrides."""

    def make(**overrides: Any) -> Settings:
        data = tmp_path / "data"
        target = data / "references" / BUNDLED_FOLDER
        if not target.exists():
            shutil.copytree(bundled_reference, target)
        fields: dict[str, Any] = {"data_dir": data, "database_url": database_url,
                                  "run_worker": False, "n_boot": 100}
        fields.update(overrides)
        return Settings(**fields)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Settings of a fresh data folder and database."""
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> Any:
    """The application (not started)."""
    return create_app(settings)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """An httpx client talking to the started application in-process."""
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def ctx(client: TestClient) -> AppContext:
    """The started application's context (database, store, settings)."""
    context: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    return context
