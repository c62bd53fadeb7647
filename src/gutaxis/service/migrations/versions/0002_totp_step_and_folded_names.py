"""A second factor's code works once; patient names are searched without accents.

Adds ``user_account.totp_last_step`` (the 30-second step of the last code
used) and recomputes ``patient.name_key`` with accents folded (``garcia``
finds ``García``), as :func:`gutaxis.service.services.patients.name_key` now
makes it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _fold(name: str) -> str:
    # the same folding as services.patients.name_key, frozen here as this revision made it
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _refold(fold: object) -> None:
    connection = op.get_bind()
    patient = sa.table("patient", sa.column("id", sa.Integer), sa.column("name", sa.String),
                       sa.column("name_key", sa.String))
    rows = connection.execute(sa.select(patient.c.id, patient.c.name)).all()
    for row_id, name in rows:
        connection.execute(patient.update().where(patient.c.id == row_id)
                           .values(name_key=fold(name)))  # type: ignore[operator]


def upgrade() -> None:
    """Add the last TOTP step and fold the accents of the search keys."""
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    _refold(_fold)


def downgrade() -> None:
    """Drop the last TOTP step and fold the search keys by case only (as 0001 did)."""
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
    _refold(lambda name: " ".join(name.casefold().split()))
