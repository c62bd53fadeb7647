"""The timeline keeps a lab value's "<" or ">": ``visit_measure.censored``.

A lab value given only as a limit (``<0.5``) was kept for the timeline as
its bare limit (0.5), so both timelines showed an exact value the lab never
gave.  The new column holds ``"<"``, ``">"`` or ``""``.  Rows stored before
are filled from the lab values their profile was made from: the visit's
latest parsed labs upload (``labs`` or ``fhir``), as the profile job reads
it, marker by marker (``marker:<id>``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _batch_kwargs() -> dict[str, object]:
    # SQLite rebuilds the table: keep 0009's AUTOINCREMENT
    return {'table_kwargs': {'sqlite_autoincrement': True}} \
        if op.get_bind().dialect.name == 'sqlite' else {}


def upgrade() -> None:
    """Add ``visit_measure.censored`` and fill it from the lab values of each visit."""
    with op.batch_alter_table('visit_measure', **_batch_kwargs()) as batch_op:  # type: ignore[arg-type]
        batch_op.add_column(sa.Column('censored', sa.String(length=2), server_default='',
                                      nullable=False))
    op.execute(sa.text("""
        UPDATE visit_measure SET censored = COALESCE((
            SELECT lab_value.censored FROM lab_value
            WHERE lab_value.upload_id = (
                SELECT MAX(upload.id) FROM upload
                WHERE upload.visit_id = visit_measure.visit_id
                  AND upload.kind IN ('labs', 'fhir') AND upload.status = 'parsed')
              AND 'marker:' || lab_value.marker = visit_measure.measure
            ORDER BY lab_value.id LIMIT 1), '')
        WHERE visit_measure.measure LIKE 'marker:%' AND EXISTS (
            SELECT 1 FROM lab_value JOIN upload ON upload.id = lab_value.upload_id
            WHERE upload.visit_id = visit_measure.visit_id
              AND 'marker:' || lab_value.marker = visit_measure.measure
              AND lab_value.censored != '')"""))


def downgrade() -> None:
    """Drop ``visit_measure.censored``."""
    with op.batch_alter_table('visit_measure', **_batch_kwargs()) as batch_op:  # type: ignore[arg-type]
        batch_op.drop_column('censored')
