# ruff: noqa: E501  (written by alembic revision --autogenerate, then the triggers by hand)
"""The practice's first schema, and the audit log's append-only triggers.

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-05 08:06:58.062736
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the first schema, then the audit log's append-only triggers."""
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_email', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=60), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event')),
    sa.UniqueConstraint('clinic_id', 'seq', name='uq_audit_event_clinic_seq')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('clinic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic'))
    )
    op.create_table('login_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure'))
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failure_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_failure_at'), ['at'], unique=False)

    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_job_clinic_id_clinic'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job'))
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index('ix_job_status_id', ['status', 'id'], unique=False)

    op.create_table('reference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('folder', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('metadata_sha256', sa.String(length=64), nullable=False),
    sa.Column('filter', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_reference_clinic_id_clinic'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reference'))
    )
    with op.batch_alter_table('reference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reference_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_user_account_clinic_id_clinic'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_account_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_api_token_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('auth_session',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('pending_totp', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_auth_session_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_auth_session'))
    )
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_session_user_id'), ['user_id'], unique=False)

    op.create_table('invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_invitation_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_invitation_created_by_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_invitation_code_hash'))
    )
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitation_created_by'), ['created_by'], unique=False)

    op.create_table('patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('practitioner_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('sex', sa.String(length=20), nullable=False),
    sa.Column('contact', sa.Text(), nullable=False),
    sa.Column('conditions', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_patient_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practitioner_id'], ['user_account.id'], name=op.f('fk_patient_practitioner_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient'))
    )
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index('ix_patient_clinic_name', ['clinic_id', 'name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_patient_practitioner_id'), ['practitioner_id'], unique=False)

    op.create_table('visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('visit_date', sa.Date(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_visit_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_visit_patient_id_patient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit'))
    )
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_patient_id'), ['patient_id'], unique=False)

    op.create_table('plan_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('option_id', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('step', sa.String(length=40), nullable=False),
    sa.Column('evidence_level', sa.String(length=40), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_plan_item_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_plan_item_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_plan_item_visit_id_visit'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_item'))
    )
    with op.batch_alter_table('plan_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_item_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_item_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_item_visit_id'), ['visit_id'], unique=False)

    op.create_table('profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('reference_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('json_sha256', sa.String(length=64), nullable=False),
    sa.Column('html_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_profile_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reference_id'], ['reference.id'], name=op.f('fk_profile_reference_id_reference'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_profile_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profile'))
    )
    with op.batch_alter_table('profile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_profile_reference_id'), ['reference_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_profile_visit_id'), ['visit_id'], unique=False)

    op.create_table('upload',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sample', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_upload_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_upload_created_by_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_upload_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upload'))
    )
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_upload_created_by'), ['created_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_upload_visit_id'), ['visit_id'], unique=False)

    op.create_table('lab_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('upload_id', sa.Integer(), nullable=False),
    sa.Column('marker', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('censored', sa.String(length=2), nullable=False),
    sa.Column('ref_low', sa.Float(), nullable=True),
    sa.Column('ref_high', sa.Float(), nullable=True),
    sa.Column('assay', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_lab_value_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upload_id'], ['upload.id'], name=op.f('fk_lab_value_upload_id_upload'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_lab_value_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_value'))
    )
    with op.batch_alter_table('lab_value', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_value_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lab_value_upload_id'), ['upload_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lab_value_visit_id'), ['visit_id'], unique=False)

    op.create_table('plan_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('plan_item_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_plan_event_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_item_id'], ['plan_item.id'], name=op.f('fk_plan_event_plan_item_id_plan_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_plan_event_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_event'))
    )
    with op.batch_alter_table('plan_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_event_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_event_plan_item_id'), ['plan_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_event_user_id'), ['user_id'], unique=False)

    op.create_table('visit_measure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('group', sa.String(length=20), nullable=False),
    sa.Column('measure', sa.String(length=200), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('change', sa.String(length=40), nullable=False),
    sa.Column('change_detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_visit_measure_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_visit_measure_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['profile_id'], ['profile.id'], name=op.f('fk_visit_measure_profile_id_profile'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_measure_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_measure'))
    )
    with op.batch_alter_table('visit_measure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_measure_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index('ix_visit_measure_patient', ['patient_id', 'measure'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_measure_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_measure_profile_id'), ['profile_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_measure_visit_id'), ['visit_id'], unique=False)


    _audit_append_only()


_APPEND_ONLY = "the audit log is append-only"


def _audit_append_only() -> None:
    """Make the database itself refuse to change or delete an audit row."""
    if op.get_bind().dialect.name == "sqlite":
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_event_no_{what.lower()} BEFORE {what} ON "
                       f"audit_event BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END")
        return
    op.execute("CREATE FUNCTION audit_event_append_only() RETURNS trigger AS $$ BEGIN "
               f"RAISE EXCEPTION '{_APPEND_ONLY}'; END $$ LANGUAGE plpgsql")
    op.execute("CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
               "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()")
    op.execute("CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()")


def downgrade() -> None:
    """Drop the whole schema (on PostgreSQL, the audit log's triggers and function first)."""
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    with op.batch_alter_table('visit_measure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_measure_visit_id'))
        batch_op.drop_index(batch_op.f('ix_visit_measure_profile_id'))
        batch_op.drop_index(batch_op.f('ix_visit_measure_patient_id'))
        batch_op.drop_index('ix_visit_measure_patient')
        batch_op.drop_index(batch_op.f('ix_visit_measure_clinic_id'))

    op.drop_table('visit_measure')
    with op.batch_alter_table('plan_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_event_user_id'))
        batch_op.drop_index(batch_op.f('ix_plan_event_plan_item_id'))
        batch_op.drop_index(batch_op.f('ix_plan_event_clinic_id'))

    op.drop_table('plan_event')
    with op.batch_alter_table('lab_value', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_value_visit_id'))
        batch_op.drop_index(batch_op.f('ix_lab_value_upload_id'))
        batch_op.drop_index(batch_op.f('ix_lab_value_clinic_id'))

    op.drop_table('lab_value')
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_visit_id'))
        batch_op.drop_index(batch_op.f('ix_upload_created_by'))
        batch_op.drop_index(batch_op.f('ix_upload_clinic_id'))

    op.drop_table('upload')
    with op.batch_alter_table('profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_visit_id'))
        batch_op.drop_index(batch_op.f('ix_profile_reference_id'))
        batch_op.drop_index(batch_op.f('ix_profile_clinic_id'))

    op.drop_table('profile')
    with op.batch_alter_table('plan_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_item_visit_id'))
        batch_op.drop_index(batch_op.f('ix_plan_item_patient_id'))
        batch_op.drop_index(batch_op.f('ix_plan_item_clinic_id'))

    op.drop_table('plan_item')
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_patient_id'))
        batch_op.drop_index(batch_op.f('ix_visit_clinic_id'))

    op.drop_table('visit')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_practitioner_id'))
        batch_op.drop_index('ix_patient_clinic_name')
        batch_op.drop_index(batch_op.f('ix_patient_clinic_id'))

    op.drop_table('patient')
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_created_by'))
        batch_op.drop_index(batch_op.f('ix_invitation_clinic_id'))

    op.drop_table('invitation')
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_session_user_id'))

    op.drop_table('auth_session')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_account_clinic_id'))

    op.drop_table('user_account')
    with op.batch_alter_table('reference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reference_clinic_id'))

    op.drop_table('reference')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_status_id')
        batch_op.drop_index(batch_op.f('ix_job_clinic_id'))

    op.drop_table('job')
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failure_at'))
        batch_op.drop_index(batch_op.f('ix_login_failure_address'))

    op.drop_table('login_failure')
    op.drop_table('clinic')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_clinic_id'))

    op.drop_table('audit_event')
