"""The Alembic migrations make exactly the models' schema, on SQLite and PostgreSQL, and go back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gutaxis.service.db import downgrade, make_engine, upgrade
from gutaxis.service.models import Base


def _engine(database_url, tmp_path):
    return make_engine(database_url or f"sqlite:///{tmp_path / 'm.sqlite3'}")


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
        downgrade(engine, "0001")
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
        downgrade(engine, "0002")
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


def _rows(connection, sql):
    return connection.execute(sa.text(sql)).all()


def _clinic(connection):
    connection.execute(sa.text("INSERT INTO clinic (name, demo, created_at) VALUES "
                               "('C', false, '2026-01-01')"))


def _patient(connection, name, *, returning=False):
    """Insert a patient of clinic 1 named ``name``; its id when ``returning``."""
    result = connection.execute(sa.text(
        "INSERT INTO patient (clinic_id, name, name_key, sex, contact, conditions, "
        "created_at, updated_at) VALUES (1, :n, :n, 'unknown', '', '', '2026-01-01', "
        "'2026-01-01')" + (" RETURNING id" if returning else "")), {"n": name})
    return result.scalar_one() if returning else None


def test_0009_keeps_every_row_and_never_gives_an_erased_id_again(database_url, tmp_path):
    engine = _engine(database_url, tmp_path)
    try:
        upgrade(engine, "0008")
        with engine.begin() as connection:
            _clinic(connection)
            for name in ("A", "B", "C"):
                _patient(connection, name)
            for patient in (1, 2, 2, 3):
                connection.execute(sa.text(
                    "INSERT INTO visit (clinic_id, patient_id, visit_date, notes, created_at) "
                    "VALUES (1, :p, '2026-01-01', '', '2026-01-01')"), {"p": patient})
            # patient 3 (and its visit 4) erased before the migration; the log names it
            connection.execute(sa.text(
                "INSERT INTO audit_event (clinic_id, seq, at, user_email, action, object_type, "
                "object_id, address, detail, prev_hash, hash) VALUES (1, 1, '2026-01-02', "
                "'', 'patient.erase', 'patient', '3', '', '', '', 'h')"))
            connection.execute(sa.text("DELETE FROM patient WHERE id = 3"))
            assert _rows(connection, "SELECT id FROM visit ORDER BY id") == [(1,), (2,), (3,)]
        upgrade(engine)
        with engine.begin() as connection:
            # rebuilding a table that others point at deleted nothing through them
            assert _rows(connection, "SELECT id, name FROM patient ORDER BY id") == \
                [(1, "A"), (2, "B")]
            assert _rows(connection, "SELECT id, patient_id FROM visit ORDER BY id") == \
                [(1, 1), (2, 2), (3, 2)]
            if engine.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                sql = connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'patient'").scalar()
                assert "AUTOINCREMENT" in sql
            new = _patient(connection, "D", returning=True)
            assert new == 4  # not 3, the erased patient's: the log names it
            connection.execute(sa.text("DELETE FROM patient WHERE id = 4"))
            again = _patient(connection, "E", returning=True)
            assert again == 5
            visit = connection.execute(sa.text(
                "INSERT INTO visit (clinic_id, patient_id, visit_date, notes, created_at) "
                "VALUES (1, 5, '2026-01-03', '', '2026-01-03') RETURNING id")).scalar_one()
            assert visit == 4 if engine.dialect.name == "sqlite" else visit == 5
        downgrade(engine, "0008")
        with engine.connect() as connection:
            assert _rows(connection, "SELECT id FROM patient ORDER BY id") == [(1,), (2,), (5,)]
            assert _rows(connection, "SELECT id FROM visit ORDER BY id") == \
                ([(1,), (2,), (3,), (4,)] if engine.dialect.name == "sqlite"
                 else [(1,), (2,), (3,), (5,)])
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_0009_refuses_to_rebuild_tables_with_foreign_keys_on(database_url, tmp_path):
    from alembic import command
    from alembic.config import Config

    from gutaxis.service.db import MIGRATIONS

    engine = _engine(database_url, tmp_path)
    try:
        upgrade(engine, "0008")
        with engine.begin() as connection:
            _clinic(connection)
            _patient(connection, "A")
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        # Alembic on a connection of the engine (foreign keys on), not through db.upgrade:
        # dropping 'clinic' would delete its patient
        with pytest.raises(RuntimeError, match="foreign keys off"):
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        with engine.connect() as connection:
            assert _rows(connection, "SELECT name FROM patient") == [("A",)]
            assert _rows(connection, "SELECT version_num FROM alembic_version") == [("0008",)]
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rows_broken_before_are_said_and_kept_and_do_not_stop_an_upgrade(database_url, tmp_path,
                                                                          caplog):
    import sqlite3

    path = tmp_path / "m.sqlite3"
    engine = _engine(database_url, tmp_path)
    try:
        upgrade(engine, "0008")
        with engine.begin() as connection:
            _clinic(connection)
    finally:
        engine.dispose()
    # a visit whose patient is gone, as the sqlite3 shell (foreign keys off) lets one write
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO visit (clinic_id, patient_id, visit_date, notes, created_at) "
                    "VALUES (1, 99, '2026-01-01', '', '2026-01-01')")
    engine = _engine(database_url, tmp_path)
    try:
        with caplog.at_level("WARNING", logger="gutaxis.service.db"):
            upgrade(engine, "0009")  # 0009 rebuilds visit with its orphan in it
            upgrade(engine, "0009")  # and an upgrade with nothing to do
        said = [r.getMessage() for r in caplog.records if "point at nothing" in r.getMessage()]
        assert said and "visit row 1 → patient" in said[0], said
        with engine.connect() as connection:
            assert _rows(connection, "SELECT version_num FROM alembic_version") == [("0009",)]
            assert _rows(connection, "SELECT id, patient_id FROM visit") == [(1, 99)]
    finally:
        engine.dispose()


def test_0010_makes_room_for_a_sealed_secret_and_goes_back_only_with_every_factor_off(
        database_url, tmp_path):
    from gutaxis.service.security import SecretBox, new_totp_secret

    sealed = SecretBox(bytes(32)).seal(new_totp_secret(), "gutaxis totp user 1")
    engine = _engine(database_url, tmp_path)
    try:
        upgrade(engine, "0009")
        with engine.begin() as connection:
            _clinic(connection)
            connection.execute(sa.text(
                "INSERT INTO user_account (clinic_id, email, name, role, password_hash, "
                "failed_logins, active, created_at) VALUES (1, 'staff@c.example', '', "
                "'owner', 'x', 0, true, '2026-01-01')"))
        upgrade(engine)
        with engine.begin() as connection:
            # 88 characters: PostgreSQL refused them in 0009's VARCHAR(64)
            connection.execute(sa.text("UPDATE user_account SET totp_secret = :s"), {"s": sealed})
            assert _rows(connection, "SELECT id, totp_secret FROM user_account") == [(1, sealed)]
            if database_url is None:  # SQLite: the rebuilt table keeps AUTOINCREMENT (0009)
                sql = _rows(connection, "SELECT sql FROM sqlite_master WHERE name = "
                                        "'user_account'")[0][0]
                assert "AUTOINCREMENT" in sql
        with pytest.raises(RuntimeError, match="1 accounts have a second factor"):
            downgrade(engine, "0009")
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE user_account SET totp_secret = NULL"))
        downgrade(engine, "0009")
        with engine.connect() as connection:
            length = {c["name"]: c["type"] for c in sa.inspect(connection).get_columns(
                "user_account")}["totp_secret"].length
            assert length == 64
            assert _rows(connection, "SELECT email FROM user_account") == [("staff@c.example",)]
    finally:
        engine.dispose()


def test_0011_gives_the_timeline_the_censoring_of_the_lab_values_of_each_profile(
        database_url, tmp_path):
    engine = _engine(database_url, tmp_path)
    try:
        upgrade(engine, "0010")
        with engine.begin() as connection:
            _clinic(connection)
            _patient(connection, "A")
            day = "'2026-01-01'"
            connection.execute(sa.text(
                "INSERT INTO visit (clinic_id, patient_id, visit_date, notes, created_at) "
                f"VALUES (1, 1, {day}, '', {day}), (1, 1, '2026-02-01', '', {day})"))
            connection.execute(sa.text(
                "INSERT INTO reference (name, description, folder, status, source_sha256, "
                f"metadata_sha256, filter, created_at) VALUES ('R', '', 'r', 'done', '', '', '', "
                f"{day})"))
            # visit 1: an older labs upload (LPS exact), the latest (LPS below its limit,
            # CRP exact) and a failed one after it; visit 2: sCD14 above its limit
            for upload, visit, status in ((1, 1, "parsed"), (2, 1, "parsed"), (3, 1, "failed"),
                                          (4, 2, "parsed")):
                connection.execute(sa.text(
                    "INSERT INTO upload (id, clinic_id, visit_id, kind, filename, sha256, size, "
                    f"status, summary, created_at) VALUES (:u, 1, :v, 'labs', 'LABS.csv', "
                    f"'s', 1, :s, '{{}}', {day})"), {"u": upload, "v": visit, "s": status})
            for upload, visit, marker, censored in ((1, 1, "LPS", ""), (2, 1, "LPS", "<"),
                                                    (2, 1, "CRP", ""), (3, 1, "CRP", ">"),
                                                    (4, 2, "sCD14", ">")):
                connection.execute(sa.text(
                    "INSERT INTO lab_value (clinic_id, visit_id, upload_id, marker, value, unit, "
                    "censored, assay) VALUES (1, :v, :u, :m, 0.5, 'x', :c, '')"),
                    {"v": visit, "u": upload, "m": marker, "c": censored})
            for visit in (1, 2):
                connection.execute(sa.text(
                    "INSERT INTO profile (clinic_id, visit_id, reference_id, status, json_sha256, "
                    f"html_sha256, pdf_sha256, created_at) VALUES (1, :v, 1, 'done', '', '', '', "
                    f"{day})"), {"v": visit})
            for visit, measure in ((1, "marker:LPS"), (1, "marker:CRP"), (1, "index:shannon"),
                                   (2, "marker:sCD14"), (2, "marker:LPS")):
                connection.execute(sa.text(
                    "INSERT INTO visit_measure (clinic_id, patient_id, visit_id, profile_id, "
                    '"group", measure, label, unit, change, change_detail) VALUES (1, 1, :v, :v, '
                    "'marker', :m, :m, '', '', '')"), {"v": visit, "m": measure})
        upgrade(engine)
        with engine.connect() as connection:
            assert _rows(connection, "SELECT visit_id, measure, censored FROM visit_measure "
                                     "ORDER BY id") == [
                (1, "marker:LPS", "<"), (1, "marker:CRP", ""), (1, "index:shannon", ""),
                (2, "marker:sCD14", ">"), (2, "marker:LPS", "")]
        downgrade(engine, "0010")
        with engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("visit_measure")}
            assert "censored" not in columns
            assert _rows(connection, "SELECT COUNT(*) FROM visit_measure") == [(5,)]
    finally:
        engine.dispose()
