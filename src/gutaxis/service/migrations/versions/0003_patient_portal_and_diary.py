# ruff: noqa: E501  (written by alembic revision --autogenerate, then read and documented)
"""The patient portal: patients' accounts, their invitation links, and the diary.

Adds ``portal_account`` (a patient's account and the practitioner's settings
of their diary: primary symptoms, weight hidden, time zone),
``portal_invitation`` (one-time links, stored as SHA-256), ``diary_entry``
and ``diary_version`` (every version of an entry is kept; a deletion is a
tombstone version).  Patients' accounts are ``user_account`` rows of role
``patient`` (the role column is free text: no schema change there); going
back removes them with the portal.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 15:11:46.830124
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the portal's and the diary's tables."""
    op.create_table('diary_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_diary_entry_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_diary_entry_patient_id_patient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_diary_entry'))
    )
    with op.batch_alter_table('diary_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_diary_entry_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index('ix_diary_entry_patient_at', ['patient_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_diary_entry_patient_id'), ['patient_id'], unique=False)

    op.create_table('portal_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('primary_symptoms', sa.JSON(), nullable=False),
    sa.Column('hide_weight', sa.Boolean(), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_portal_account_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_portal_account_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_portal_account_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_account')),
    sa.UniqueConstraint('patient_id', name=op.f('uq_portal_account_patient_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_portal_account_user_id'))
    )
    with op.batch_alter_table('portal_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_account_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('portal_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_portal_invitation_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_portal_invitation_created_by_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_portal_invitation_patient_id_patient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_invitation')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_invitation_token_hash'))
    )
    with op.batch_alter_table('portal_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_invitation_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_invitation_created_by'), ['created_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_invitation_patient_id'), ['patient_id'], unique=False)

    op.create_table('diary_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_diary_version_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entry_id'], ['diary_entry.id'], name=op.f('fk_diary_version_entry_id_diary_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_diary_version_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_diary_version')),
    sa.UniqueConstraint('entry_id', 'version', name='uq_diary_version_entry_version')
    )
    with op.batch_alter_table('diary_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_diary_version_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_diary_version_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_diary_version_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    """Drop the diary and the portal, and the patients' accounts with them."""
    with op.batch_alter_table('diary_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_diary_version_user_id'))
        batch_op.drop_index(batch_op.f('ix_diary_version_entry_id'))
        batch_op.drop_index(batch_op.f('ix_diary_version_clinic_id'))

    op.drop_table('diary_version')
    with op.batch_alter_table('portal_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_invitation_patient_id'))
        batch_op.drop_index(batch_op.f('ix_portal_invitation_created_by'))
        batch_op.drop_index(batch_op.f('ix_portal_invitation_clinic_id'))

    op.drop_table('portal_invitation')
    with op.batch_alter_table('portal_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_account_clinic_id'))

    op.drop_table('portal_account')
    with op.batch_alter_table('diary_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_diary_entry_patient_id'))
        batch_op.drop_index('ix_diary_entry_patient_at')
        batch_op.drop_index(batch_op.f('ix_diary_entry_clinic_id'))

    op.drop_table('diary_entry')
    # 0002 has no patients' accounts: their sessions and tokens go with them (cascade)
    op.execute("DELETE FROM auth_session WHERE user_id IN "
               "(SELECT id FROM user_account WHERE role = 'patient')")
    op.execute("DELETE FROM api_token WHERE user_id IN "
               "(SELECT id FROM user_account WHERE role = 'patient')")
    op.execute("DELETE FROM user_account WHERE role = 'patient'")
