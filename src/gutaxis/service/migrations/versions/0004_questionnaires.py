# ruff: noqa: E501  (written in the shape alembic's autogenerate gives, then read and documented)
"""Questionnaires: a clinic's imported definitions, requests sent to patients, responses.

Adds ``questionnaire_definition`` (a definition a clinic imported, as the
JSON that :func:`gutaxis.questionnaires.load_questionnaire` accepted, with its
licence and source text and the file's SHA-256; the bundled definitions need
no row), ``questionnaire_request`` (a questionnaire sent to a patient: the
definition as sent, by whom, when, when due, and its status) and
``questionnaire_response`` (the answers, the FHIR R4 QuestionnaireResponse and
the scores; never overwritten: an amended answer is a new row with the next
version).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the questionnaires' tables."""
    op.create_table('questionnaire_definition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('version', sa.String(length=60), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('licence', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_questionnaire_definition_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['imported_by'], ['user_account.id'], name=op.f('fk_questionnaire_definition_imported_by_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_definition')),
    sa.UniqueConstraint('clinic_id', 'sha256', name='uq_questionnaire_definition_clinic_sha256')
    )
    with op.batch_alter_table('questionnaire_definition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_definition_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_definition_imported_by'), ['imported_by'], unique=False)

    op.create_table('questionnaire_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=True),
    sa.Column('bundled', sa.String(length=120), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.Column('sent_by', sa.Integer(), nullable=True),
    sa.Column('due', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_questionnaire_request_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['definition_id'], ['questionnaire_definition.id'], name=op.f('fk_questionnaire_request_definition_id_questionnaire_definition'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_questionnaire_request_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by'], ['user_account.id'], name=op.f('fk_questionnaire_request_sent_by_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_request'))
    )
    with op.batch_alter_table('questionnaire_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_request_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_request_definition_id'), ['definition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_request_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_request_sent_by'), ['sent_by'], unique=False)

    op.create_table('questionnaire_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('resource', sa.JSON(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_questionnaire_response_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_questionnaire_response_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['questionnaire_request.id'], name=op.f('fk_questionnaire_response_request_id_questionnaire_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_questionnaire_response_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_response')),
    sa.UniqueConstraint('request_id', 'version', name='uq_questionnaire_response_request_version')
    )
    with op.batch_alter_table('questionnaire_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_response_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_response_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_response_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_response_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    """Drop the questionnaires' tables (responses, requests, then definitions)."""
    with op.batch_alter_table('questionnaire_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_response_user_id'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_response_request_id'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_response_patient_id'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_response_clinic_id'))

    op.drop_table('questionnaire_response')
    with op.batch_alter_table('questionnaire_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_request_sent_by'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_request_patient_id'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_request_definition_id'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_request_clinic_id'))

    op.drop_table('questionnaire_request')
    with op.batch_alter_table('questionnaire_definition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_definition_imported_by'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_definition_clinic_id'))

    op.drop_table('questionnaire_definition')
