"""The Alembic migrations make exactly the models' schema, on SQLite and PostgreSQL, and go back."""

from __future__ import annotations

import pytest
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


def test_0003_adds_the_portal_and_going_back_removes_it_with_the_patients_accounts(
        database_url, tmp_path):
    engine = _engine(database_url, tmp_path)
    try:
        upgrade(engine, "0002")
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO clinic (name, demo, created_at) VALUES "
                                       "('C', false, '2026-01-01')"))
            connection.execute(sa.text(
                "INSERT INTO user_account (clinic_id, email, name, role, password_hash, "
                "failed_logins, active, created_at) VALUES (1, 'staff@c.example', '', "
                "'owner', 'x', 0, true, '2026-01-01')"))
        upgrade(engine)
        with engine.begin() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            assert {"portal_account", "portal_invitation", "diary_entry",
                    "diary_version"} <= tables
            connection.execute(sa.text(
                "INSERT INTO patient (clinic_id, name, name_key, sex, contact, conditions, "
                "created_at, updated_at) VALUES (1, 'P', 'p', 'unknown', '', '', "
                "'2026-01-01', '2026-01-01')"))
            connection.execute(sa.text(
                "INSERT INTO user_account (clinic_id, email, name, role, password_hash, "
                "failed_logins, active, created_at) VALUES (1, 'p@mail.example', '', "
                "'patient', 'x', 0, true, '2026-01-01')"))
            connection.execute(sa.text(
                "INSERT INTO auth_session (id_hash, user_id, csrf_token, created_at, "
                "expires_at, pending_totp) VALUES ('h', 2, 'c', '2026-01-01', '2026-01-02', "
                "false)"))
            connection.execute(sa.text(
                "INSERT INTO portal_account (clinic_id, patient_id, user_id, primary_symptoms, "
                "hide_weight, time_zone, updated_at) VALUES (1, 1, 2, '[\"Bloating\"]', true, "
                "'UTC', '2026-01-01')"))
            connection.execute(sa.text(
                "INSERT INTO diary_entry (clinic_id, patient_id, kind, at, private, deleted, "
                "version, created_at, updated_at) VALUES (1, 1, 'stool', '2026-01-01 08:00', "
                "false, false, 1, '2026-01-01', '2026-01-01')"))
            connection.execute(sa.text(
                "INSERT INTO diary_version (clinic_id, entry_id, version, at, private, deleted, "
                "data, created_at, user_id) VALUES (1, 1, 1, '2026-01-01 08:00', false, false, "
                "'{\"bristol\": 4}', '2026-01-01', 2)"))
            # two versions of one entry cannot share a number
            with pytest.raises(sa.exc.IntegrityError):
                with connection.begin_nested():
                    connection.execute(sa.text(
                        "INSERT INTO diary_version (clinic_id, entry_id, version, at, private, "
                        "deleted, data, created_at) VALUES (1, 1, 1, '2026-01-01 08:00', "
                        "false, false, '{}', '2026-01-01')"))
        _downgrade(engine, "0002")
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            assert not {"portal_account", "portal_invitation", "diary_entry",
                        "diary_version"} & tables
            assert connection.execute(sa.text(
                "SELECT email, role FROM user_account")).all() == [("staff@c.example", "owner")]
            assert connection.execute(sa.text("SELECT count(*) FROM auth_session")).scalar() == 0
            assert connection.execute(sa.text("SELECT name FROM patient")).scalar_one() == "P"
        upgrade(engine)  # and forward again
    finally:
        engine.dispose()
