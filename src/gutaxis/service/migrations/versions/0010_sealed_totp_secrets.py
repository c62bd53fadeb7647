"""Room for sealed second-factor secrets: ``user_account.totp_secret`` holds 128 characters.

The TOTP secrets are now kept sealed (AES-256-GCM, under the key in the data
folder's ``secret.key``; :class:`gutaxis.service.security.SecretBox`), 88
characters where the bare secret had 32.  This revision only widens the
column: the migrations have no key, so the secrets stored before are sealed
by the server at its next start (:func:`gutaxis.service.app.prepare`) or by
``gutaxis db upgrade``.  On SQLite, which does not enforce a length, the
table is rebuilt as 0009 left it (``AUTOINCREMENT`` kept).

Going back needs every second factor off (a sealed secret does not fit in
64 characters, and the older code could not open it): it refuses otherwise.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def _alter(length: int) -> None:
    bind = op.get_bind()
    kwargs = {'table_kwargs': {'sqlite_autoincrement': True}} \
        if bind.dialect.name == 'sqlite' else {}
    with op.batch_alter_table('user_account', **kwargs) as batch_op:  # type: ignore[arg-type]
        batch_op.alter_column('totp_secret', type_=sa.String(length=length),
                              existing_nullable=True)


def upgrade() -> None:
    """Widen ``user_account.totp_secret`` to 128 characters."""
    _alter(128)


def downgrade() -> None:
    """Narrow it to 64 again; refused while any account has its second factor on."""
    on = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM user_account WHERE totp_secret IS NOT NULL")).scalar()
    if on:
        raise RuntimeError(f"{on} accounts have a second factor sealed with this version's "
                           "key, which the older version cannot read: turn them off first "
                           "(`gutaxis users password --second-factor-off`)")
    _alter(64)
