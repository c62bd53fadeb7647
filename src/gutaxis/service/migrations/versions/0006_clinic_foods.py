# ruff: noqa: E501  (written in the shape alembic's autogenerate gives, then read and documented)
"""Foods a clinic adds to the food catalogue.

Adds ``clinic_food``: a clinic's own food (an id unique in the clinic, its
name and other names, the groups it belongs to with a source where the
practitioner gives one, a note).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the clinics' foods table."""
    op.create_table('clinic_food',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('food_id', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('groups', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_clinic_food_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_clinic_food_created_by_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_food')),
    sa.UniqueConstraint('clinic_id', 'food_id', name='uq_clinic_food_clinic_id_food_id')
    )
    with op.batch_alter_table('clinic_food', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinic_food_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinic_food_created_by'), ['created_by'], unique=False)


def downgrade() -> None:
    """Drop the clinics' foods table."""
    with op.batch_alter_table('clinic_food', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinic_food_created_by'))
        batch_op.drop_index(batch_op.f('ix_clinic_food_clinic_id'))

    op.drop_table('clinic_food')
