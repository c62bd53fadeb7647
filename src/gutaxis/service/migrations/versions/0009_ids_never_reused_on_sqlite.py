"""No id is given twice on SQLite: ``AUTOINCREMENT`` on every numbered table but the audit log.

Without it, SQLite gives a new row the largest id in its table plus one, so
after the newest patient was erased the next patient made got the erased
one's id, and with it every bookmark, exported link and audit row that named
the erased patient (the same for visits, uploads and the rest).  With
``AUTOINCREMENT`` SQLite remembers the largest id a table ever had
(``sqlite_sequence``) and never goes below it; PostgreSQL's sequences never
went back, so nothing changes there.

SQLite cannot add ``AUTOINCREMENT`` to a table, so each one is rebuilt (copied
into a new table of the same shape, the old one dropped, the new one renamed;
Alembic's batch mode), which needs foreign keys off while it runs
(:func:`gutaxis.service.db.upgrade` does that and checks them before the
commit).  A table that lost rows before this migration has forgotten the ids
it gave them; the audit log has not: each table's count starts above the
largest id the log names for its kind of object, so an erased patient's id
is not given again either.  The audit log keeps its own ids: its rows are
never deleted (and its triggers would have to be rebuilt with it).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

#: The tables rebuilt, each with the ``object_type`` the audit log names its rows by.
TABLES = {
    'clinic': 'clinic', 'user_account': 'user', 'invitation': 'invitation',
    'api_token': 'token', 'login_failure': 'login_failure',
    'patient': 'patient', 'patient_identifier': 'patient_identifier', 'visit': 'visit',
    'upload': 'upload', 'lab_value': 'lab_value', 'job': 'job', 'reference': 'reference',
    'profile': 'profile', 'visit_measure': 'visit_measure', 'plan_item': 'plan_item',
    'plan_event': 'plan_event', 'questionnaire_definition': 'questionnaire_definition',
    'questionnaire_request': 'questionnaire_request',
    'questionnaire_response': 'questionnaire_response', 'portal_account': 'portal_account',
    'portal_invitation': 'portal_invitation', 'diary_entry': 'diary_entry',
    'diary_version': 'diary_version', 'challenge_protocol': 'challenge_protocol',
    'clinic_food': 'clinic_food',
}


def upgrade() -> None:
    """Rebuild the tables with ``AUTOINCREMENT`` (SQLite only); counts start past the log's ids."""
    _rebuild(autoincrement=True)
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return
    for table, object_type in TABLES.items():
        logged = bind.execute(sa.text(
            "SELECT MAX(CAST(object_id AS INTEGER)) FROM audit_event WHERE object_type = :kind "
            "AND object_id != '' AND object_id NOT GLOB '*[^0-9]*'"),
            {'kind': object_type}).scalar()
        if logged is None:
            continue
        count = bind.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :table"),
                             {'table': table}).scalar()
        if count is None:
            bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:table, :seq)"),
                         {'table': table, 'seq': logged})
        elif logged > count:
            bind.execute(sa.text("UPDATE sqlite_sequence SET seq = :seq WHERE name = :table"),
                         {'table': table, 'seq': logged})


def downgrade() -> None:
    """Rebuild the tables without ``AUTOINCREMENT`` (SQLite only)."""
    _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        # dropping a table with foreign keys on deletes the rows that point at it
        raise RuntimeError("migration 0009 rebuilds tables and must run with foreign keys "
                           "off: run it with `gutaxis db upgrade` (gutaxis.service.db.upgrade)")
    for table in TABLES:
        with op.batch_alter_table(table, recreate='always',
                                  table_kwargs={'sqlite_autoincrement': autoincrement}):
            pass
