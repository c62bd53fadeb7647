# ruff: noqa: E501  (written in the shape alembic's autogenerate gives, then read and documented)
"""Elimination-and-reintroduction protocols.

Adds ``challenge_protocol``: what the practitioner set (groups, template,
elimination, challenge and washout lengths, order options, shams and the
order's seed, which is the blinded key), the days a challenge was stopped
early, and when the protocol ended.  The calendar and the verdicts are
computed from these and the diary, never stored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the protocols' table."""
    op.create_table('challenge_protocol',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('template', sa.String(length=60), nullable=False),
    sa.Column('groups', sa.JSON(), nullable=False),
    sa.Column('elimination_start', sa.Date(), nullable=False),
    sa.Column('elimination_days', sa.Integer(), nullable=False),
    sa.Column('challenge_days', sa.Integer(), nullable=False),
    sa.Column('washout_min_days', sa.Integer(), nullable=False),
    sa.Column('randomised', sa.Boolean(), nullable=False),
    sa.Column('repeats', sa.Integer(), nullable=False),
    sa.Column('shams', sa.Integer(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('stops', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_challenge_protocol_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_challenge_protocol_created_by_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_challenge_protocol_patient_id_patient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_protocol'))
    )
    with op.batch_alter_table('challenge_protocol', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_protocol_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_challenge_protocol_created_by'), ['created_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_challenge_protocol_patient_id'), ['patient_id'], unique=False)


def downgrade() -> None:
    """Drop the protocols' table."""
    with op.batch_alter_table('challenge_protocol', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_protocol_patient_id'))
        batch_op.drop_index(batch_op.f('ix_challenge_protocol_created_by'))
        batch_op.drop_index(batch_op.f('ix_challenge_protocol_clinic_id'))

    op.drop_table('challenge_protocol')
