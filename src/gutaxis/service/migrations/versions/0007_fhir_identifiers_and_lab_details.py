# ruff: noqa: E501  (written in the shape alembic's autogenerate gives, then read and documented)
"""Patients' identifiers in other systems, and the details a FHIR lab result brings.

Adds ``patient_identifier`` (a system and value per identifier, unique in a
clinic: lab results arriving as FHIR are matched to the patient by them) and,
on ``lab_value``, ``effective``, ``specimen``, ``interpretation`` and
``source`` (empty for the results of a ``LABS.csv``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_LAB_COLUMNS = (('effective', 40), ('specimen', 200), ('interpretation', 40), ('source', 255))


def upgrade() -> None:
    """Create the identifiers table; add the FHIR details to lab values."""
    op.create_table('patient_identifier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('system', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_patient_identifier_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_patient_identifier_patient_id_patient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_identifier')),
    sa.UniqueConstraint('clinic_id', 'system', 'value', name='uq_patient_identifier_clinic_id_system_value')
    )
    with op.batch_alter_table('patient_identifier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_identifier_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patient_identifier_patient_id'), ['patient_id'], unique=False)
    with op.batch_alter_table('lab_value', schema=None) as batch_op:
        for name, length in _LAB_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=False, server_default=''))


def downgrade() -> None:
    """Drop the FHIR details of lab values and the identifiers table."""
    with op.batch_alter_table('lab_value', schema=None) as batch_op:
        for name, _ in reversed(_LAB_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table('patient_identifier', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_identifier_patient_id'))
        batch_op.drop_index(batch_op.f('ix_patient_identifier_clinic_id'))
    op.drop_table('patient_identifier')
