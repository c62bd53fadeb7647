"""The Alembic migrations make exactly the models' schema, on SQLite and PostgreSQL, and go back."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gutaxis.service.db import make_engine, upgrade
from gutaxis.service.models import Base


def _engine(database_url, tmp_path):
    return make_engine(database_url or f"sqlite:///{tmp_path / 'm.sqlite3'}")


def _downgrade(engine, revision):
    from alembic import command
    from alembic.config import Config

    from gutaxis.service.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_the_migrations_make_the_models_schema(database_url, tmp_path):
    engine = _engine(database_url, tmp_path)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], "a model changed without a migration (alembic revision " \
                           f"--autogenerate): {diff}"
        upgrade(engine)  # idempotent
    finally:
        engine.dispose()


def test_0002_folds_the_accents_of_stored_names_and_goes_back(database_url, tmp_path):
    engine = _engine(database_url, tmp_path)
    try:
        upgrade(engine, "0001")
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO clinic (name, demo, created_at) VALUES "
                                       "('C', false, '2026-01-01')"))
            connection.execute(sa.text(
                "INSERT INTO patient (clinic_id, name, name_key, sex, contact, conditions, "
                "created_at, updated_at) VALUES (1, 'José  Núñez Straße', 'josé núñez straße', "
                "'unknown', '', '', '2026-01-01', '2026-01-01')"))
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT name_key FROM patient")).scalar_one() \
                == "jose nunez strasse"
            columns = {c["name"] for c in sa.inspect(connection).get_columns("user_account")}
        assert "totp_last_step" in columns
        _downgrade(engine, "0001")
        with engine.connect() as connection:
            # 0001's key: case folded (ß is ss), accents kept
            assert connection.execute(sa.text("SELECT name_key FROM patient")).scalar_one() \
                == "josé núñez strasse"
            columns = {c["name"] for c in sa.inspect(connection).get_columns("user_account")}
        assert "totp_last_step" not in columns
    finally:
        engine.dispose()
