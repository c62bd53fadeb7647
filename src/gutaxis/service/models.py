"""The practice's tables (SQLAlchemy 2 declarative models).

Every row that holds patient data carries its ``clinic_id``: a query is
always made within one clinic (:mod:`gutaxis.service.services`), which is how
another clinic's object answers 404.  Times are UTC without tzinfo.  Files
(uploads, profiles) live in the content-addressed store; rows keep their
SHA-256.  The schema is made by the Alembic migrations in ``migrations/``,
never by ``create_all``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gutaxis.service.db import utcnow

__all__ = ["Base", "Clinic", "User", "Invitation", "AuthSession", "ApiToken", "LoginFailure",
           "Patient", "Visit", "Upload", "LabValue", "Job", "Reference", "Profile",
           "VisitMeasure", "PlanItem", "PlanEvent", "AuditEvent", "PortalAccount",
           "PortalInvitation", "DiaryEntry", "DiaryVersion", "QuestionnaireDefinition",
           "QuestionnaireRequest", "QuestionnaireResponse", "QUESTIONNAIRE_STATUSES",
           "ChallengeProtocol", "ClinicFood", "PatientIdentifier",
           "ROLES", "STAFF_ROLES", "PLAN_STATUSES", "JOB_STATUSES", "UPLOAD_KINDS"]

#: Staff roles, most rights first (see :mod:`gutaxis.service.access`).
STAFF_ROLES = ("owner", "practitioner", "assistant")
#: Every role: the staff's, then the patient's own (the portal: their own record only).
ROLES = (*STAFF_ROLES, "patient")
PLAN_STATUSES = ("proposed", "active", "paused", "stopped", "done")
JOB_STATUSES = ("pending", "running", "done", "failed")
#: ``fhir``: lab results as a FHIR R4 Bundle, DiagnosticReport or Observation (JSON).
UPLOAD_KINDS = ("microbiome", "labs", "fhir")
#: A questionnaire request: waiting for the patient, answered, or withdrawn by the practice.
QUESTIONNAIRE_STATUSES = ("open", "completed", "cancelled")

_NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
           "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
           "pk": "pk_%(table_name)s"}


#: The ``__table_args__`` of every table numbered by an integer id but the
#: audit log: SQLite never gives an id twice (``AUTOINCREMENT``), so an erased
#: patient's id (a bookmark, an audit row) never comes to name another
#: patient.  PostgreSQL's sequences never go back anyway.  The audit log's
#: rows are never deleted.  Migration 0009.
IDS_NEVER_REUSED: dict[str, Any] = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    """The declarative base (constraint names fixed, so migrations name them alike)."""

    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _fk(target: str, *, nullable: bool = False, cascade: bool = True) -> Any:
    return mapped_column(ForeignKey(target, ondelete="CASCADE" if cascade else "SET NULL"),
                         nullable=nullable, index=True)


class Clinic(Base):
    """A practice: the unit of isolation (its staff see only its patients)."""

    __tablename__ = "clinic"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class User(Base):
    """A member of staff: owner, practitioner or assistant of one clinic."""

    __tablename__ = "user_account"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: The 30-second step of the last code used (a code works once).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    clinic: Mapped[Clinic] = relationship()


class Invitation(Base):
    """An owner's invitation to join the clinic (a one-time code, stored hashed)."""

    __tablename__ = "invitation"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class AuthSession(Base):
    """A signed-in browser: the cookie holds a random id; the table holds its SHA-256."""

    __tablename__ = "auth_session"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = _fk("user_account.id")
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    #: A password was right but the second factor is still owed.
    pending_totp: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A personal access token (``gx_…``): stored as its SHA-256, revocable, expiring."""

    __tablename__ = "api_token"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _fk("user_account.id")
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    user: Mapped[User] = relationship()


class LoginFailure(Base):
    """One failed login, kept for the per-address throttle."""

    __tablename__ = "login_failure"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Patient(Base):
    """A patient of one clinic."""

    __tablename__ = "patient"
    __table_args__ = (Index("ix_patient_clinic_name", "clinic_id", "name_key"),
                      IDS_NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    practitioner_id: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)
    name: Mapped[str] = mapped_column(String(200))
    #: ``name`` folded for search (lower case, single spaces).
    name_key: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    sex: Mapped[str] = mapped_column(String(20), default="unknown")
    contact: Mapped[str] = mapped_column(Text, default="")
    conditions: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    visits: Mapped[list[Visit]] = relationship(back_populates="patient",
                                               order_by="Visit.visit_date, Visit.id",
                                               cascade="all, delete-orphan",
                                               passive_deletes=True)
    identifiers: Mapped[list[PatientIdentifier]] = relationship(
        order_by="PatientIdentifier.id", cascade="all, delete-orphan", passive_deletes=True)


class PatientIdentifier(Base):
    """An identifier a patient has in another system (a lab, a hospital), as FHIR writes it.

    ``system`` is the namespace (a URI such as a hospital's MRN system),
    ``value`` the identifier in it; a pair names one patient of a clinic.  Lab
    results that arrive as FHIR are matched to the patient by these.
    """

    __tablename__ = "patient_identifier"
    __table_args__ = (UniqueConstraint("clinic_id", "system", "value",
                                       name="uq_patient_identifier_clinic_id_system_value"),
                      IDS_NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    patient_id: Mapped[int] = _fk("patient.id")
    system: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))


class Visit(Base):
    """One visit of a patient (the uploads and the profile hang from it)."""

    __tablename__ = "visit"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    patient_id: Mapped[int] = _fk("patient.id")
    visit_date: Mapped[dt.date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    patient: Mapped[Patient] = relationship(back_populates="visits")
    uploads: Mapped[list[Upload]] = relationship(order_by="Upload.id", passive_deletes=True)


class Upload(Base):
    """A file uploaded for a visit, kept in the store by its SHA-256."""

    __tablename__ = "upload"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    visit_id: Mapped[int] = _fk("visit.id")
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    #: Empty when the file was refused before it was stored (too large).
    sha256: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    #: The sample of a microbiome table that is this visit's (or the one found).
    sample: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: ``pending``, ``parsed`` or ``failed``.
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)


class LabValue(Base):
    """One lab result of a visit, as read from a ``LABS.csv`` upload."""

    __tablename__ = "lab_value"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    visit_id: Mapped[int] = _fk("visit.id")
    upload_id: Mapped[int] = _fk("upload.id")
    marker: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(40))
    censored: Mapped[str] = mapped_column(String(2), default="")
    ref_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    ref_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    assay: Mapped[str] = mapped_column(String(200), default="")
    #: From a FHIR upload: when it was measured (ISO 8601 as the lab wrote it), the
    #: specimen, the lab's interpretation code and the resource it came from.
    effective: Mapped[str] = mapped_column(String(40), default="", server_default="")
    specimen: Mapped[str] = mapped_column(String(200), default="", server_default="")
    interpretation: Mapped[str] = mapped_column(String(40), default="", server_default="")
    source: Mapped[str] = mapped_column(String(255), default="", server_default="")


class Job(Base):
    """Heavy work done outside the request.

    A job parses an upload, computes a profile or builds a reference.
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_id", "status", "id"),
                      IDS_NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    kind: Mapped[str] = mapped_column(String(20))
    #: The upload, profile or reference the job works on.
    target_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Reference(Base):
    """A reference cohort the clinic profiles against (``clinic_id`` empty: the bundled one)."""

    __tablename__ = "reference"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int | None] = _fk("clinic.id", nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The folder under the data folder's ``references/``.
    folder: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_sha256: Mapped[str] = mapped_column(String(64), default="")
    metadata_sha256: Mapped[str] = mapped_column(String(64), default="")
    filter: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Profile(Base):
    """The profile of one visit against one reference (its files are in the store)."""

    __tablename__ = "profile"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    visit_id: Mapped[int] = _fk("visit.id")
    reference_id: Mapped[int] = _fk("reference.id", cascade=False)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    json_sha256: Mapped[str] = mapped_column(String(64), default="")
    html_sha256: Mapped[str] = mapped_column(String(64), default="")
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class VisitMeasure(Base):
    """One measure of a visit's profile, kept for the timeline (the JSON is the record)."""

    __tablename__ = "visit_measure"
    __table_args__ = (Index("ix_visit_measure_patient", "patient_id", "measure"),
                      IDS_NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    patient_id: Mapped[int] = _fk("patient.id")
    visit_id: Mapped[int] = _fk("visit.id")
    profile_id: Mapped[int] = _fk("profile.id")
    group: Mapped[str] = mapped_column(String(20))
    measure: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str] = mapped_column(String(40), default="")
    #: "<" or ">" when the lab gave only a limit (``value`` is the limit), else "".
    censored: Mapped[str] = mapped_column(String(2), default="", server_default="")
    #: The profile's judgement of the change since the previous visit, when it made one.
    change: Mapped[str] = mapped_column(String(40), default="")
    change_detail: Mapped[str] = mapped_column(Text, default="")


class PlanItem(Base):
    """One item of a patient's plan: an option of the knowledge base, or the practitioner's own."""

    __tablename__ = "plan_item"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    patient_id: Mapped[int] = _fk("patient.id")
    visit_id: Mapped[int | None] = _fk("visit.id", nullable=True, cascade=False)
    #: The knowledge-base option id; empty for the practitioner's own item.
    option_id: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(300))
    step: Mapped[str] = mapped_column(String(40), default="")
    evidence_level: Mapped[str] = mapped_column(String(40), default="")
    sources: Mapped[list[Any]] = mapped_column(JSON, default=list)
    details: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    events: Mapped[list[PlanEvent]] = relationship(order_by="PlanEvent.id",
                                                   passive_deletes=True)

    @property
    def own(self) -> bool:
        """The practitioner's own item (no knowledge-base option behind it)."""
        return not self.option_id


class PlanEvent(Base):
    """One change of a plan item (its history: status, date, note, who)."""

    __tablename__ = "plan_event"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    plan_item_id: Mapped[int] = _fk("plan_item.id")
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    on: Mapped[dt.date] = mapped_column(Date)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)


class QuestionnaireDefinition(Base):
    """A questionnaire definition a clinic imported (the bundled ones need no row).

    ``definition`` is the FHIR R4 ``Questionnaire`` JSON that
    :func:`gutaxis.questionnaires.load_questionnaire` accepted; ``licence``
    and ``source`` repeat its scoring extension's (empty for a definition
    without scoring rules); ``sha256`` is the imported file's.
    """

    __tablename__ = "questionnaire_definition"
    __table_args__ = (UniqueConstraint("clinic_id", "sha256",
                                       name="uq_questionnaire_definition_clinic_sha256"),
                      IDS_NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    version: Mapped[str] = mapped_column(String(60))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    licence: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255), default="")
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    imported_by: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)


class QuestionnaireRequest(Base):
    """A questionnaire sent to a patient, with the definition as it was sent.

    ``bundled`` names a questionnaire shipped with gutaxis (and
    ``definition_id`` is empty), or ``definition_id`` a clinic's import;
    ``definition`` is a copy of the definition sent, so that answers are
    always checked and scored by the questions the patient saw.
    """

    __tablename__ = "questionnaire_request"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    patient_id: Mapped[int] = _fk("patient.id")
    definition_id: Mapped[int | None] = _fk("questionnaire_definition.id", nullable=True,
                                            cascade=False)
    bundled: Mapped[str] = mapped_column(String(120), default="")
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_by: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)
    due: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    #: One of :data:`QUESTIONNAIRE_STATUSES`.
    status: Mapped[str] = mapped_column(String(20), default="open")
    #: When the patient first answered (an amendment does not move it).
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class QuestionnaireResponse(Base):
    """One set of answers to a request; never overwritten (an amendment is the next version).

    ``answers`` maps linkIds to answers as checked; ``resource`` is the FHIR R4
    ``QuestionnaireResponse``; ``scores`` the scores (total, subscales,
    prorated, missing) as :func:`gutaxis.questionnaires.score` gave them.
    """

    __tablename__ = "questionnaire_response"
    __table_args__ = (UniqueConstraint("request_id", "version",
                                       name="uq_questionnaire_response_request_version"),
                      IDS_NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    patient_id: Mapped[int] = _fk("patient.id")
    request_id: Mapped[int] = _fk("questionnaire_request.id")
    version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resource: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    completed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)


class AuditEvent(Base):
    """One line of the append-only audit log, chained to the one before by its hash.

    ``hash`` = SHA-256 of the previous row's hash and this row's fields; the
    database refuses updates and deletes (triggers in the migration).  The
    log names objects by id and never holds patient data itself.
    """

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("clinic_id", "seq", name="uq_audit_event_clinic_seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    #: No foreign key: the log outlives what it tells of.
    clinic_id: Mapped[int] = mapped_column(Integer, index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_email: Mapped[str] = mapped_column(String(320), default="")
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40), default="")
    object_id: Mapped[str] = mapped_column(String(60), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class PortalAccount(Base):
    """A patient's portal: their account, and what the practitioner set for their diary.

    One row per patient, made when the practitioner first invites the patient
    or sets the diary up.  ``user_id`` is the patient's account (a
    :class:`User` of role ``patient``), empty until an invitation is
    accepted; the account is switched off (``User.active``) when access is
    revoked.
    """

    __tablename__ = "portal_account"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"),
                                            unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True, unique=True)
    #: The patient's own primary symptoms, scored 0-10 in the diary (names, in order).
    primary_symptoms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: Weight (and any calorie-like field) hidden from the patient's forms and views.
    hide_weight: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The IANA time zone the patient's diary times are in (its "now").
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PortalInvitation(Base):
    """A one-time link that lets a patient set their password (stored as its SHA-256)."""

    __tablename__ = "portal_invitation"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    patient_id: Mapped[int] = _fk("patient.id")
    #: The address the patient will sign in with.
    email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class DiaryEntry(Base):
    """One entry of a patient's diary; its content is its versions (never overwritten).

    ``at``, ``private``, ``deleted`` and ``version`` repeat those of the
    latest :class:`DiaryVersion`, so that a day's entries (and what staff may
    see: not private, not deleted) are found without reading every version.
    """

    __tablename__ = "diary_entry"
    __table_args__ = (Index("ix_diary_entry_patient_at", "patient_id", "at"),
                      IDS_NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    patient_id: Mapped[int] = _fk("patient.id")
    kind: Mapped[str] = mapped_column(String(20))
    #: The time of what the entry tells of, as the patient gave it (their local time).
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    versions: Mapped[list[DiaryVersion]] = relationship(order_by="DiaryVersion.version",
                                                        passive_deletes=True)


class DiaryVersion(Base):
    """One version of a diary entry, as written (an edit adds one; a deletion is a tombstone)."""

    __tablename__ = "diary_version"
    __table_args__ = (UniqueConstraint("entry_id", "version",
                                       name="uq_diary_version_entry_version"),
                      IDS_NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    entry_id: Mapped[int] = _fk("diary_entry.id")
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    #: A tombstone: the entry was deleted by this version (its data are empty).
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)


class ChallengeProtocol(Base):
    """An elimination diet and its reintroduction challenges, as the practitioner set them.

    The calendar is not stored: :func:`gutaxis.challenge.build_calendar` lays it
    out from these settings and the diary each time (a washout lasts until the
    symptoms are back), so only what the people decided is kept: the settings,
    the order's ``seed`` (the blinded key: which capsule is a sham), the days a
    challenge was stopped early (``stops``: position → ISO date), and when the
    protocol ended.  One active protocol per patient.
    """

    __tablename__ = "challenge_protocol"
    __table_args__ = IDS_NEVER_REUSED
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    patient_id: Mapped[int] = _fk("patient.id")
    #: The knowledge base's template (``challenge.yaml``), or "" for the practitioner's own.
    template: Mapped[str] = mapped_column(String(60), default="")
    groups: Mapped[list[Any]] = mapped_column(JSON, default=list)
    elimination_start: Mapped[dt.date] = mapped_column(Date)
    elimination_days: Mapped[int] = mapped_column(Integer)
    challenge_days: Mapped[int] = mapped_column(Integer)
    washout_min_days: Mapped[int] = mapped_column(Integer)
    randomised: Mapped[bool] = mapped_column(Boolean, default=False)
    repeats: Mapped[int] = mapped_column(Integer, default=1)
    shams: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    stops: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ClinicFood(Base):
    """A food a clinic added to the catalogue, with the elimination groups it belongs to.

    ``groups`` is a list of ``{"group": id, "source": url or ""}``: a membership
    with a source (a composition table, a label) counts as the shipped ones do;
    one without is kept as the practitioner's judgement (``not_in_open_source``)
    and is not used to group a diary's foods for suspects.
    """

    __tablename__ = "clinic_food"
    __table_args__ = (UniqueConstraint("clinic_id", "food_id",
                                       name="uq_clinic_food_clinic_id_food_id"),
                      IDS_NEVER_REUSED)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = _fk("clinic.id")
    food_id: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[Any]] = mapped_column(JSON, default=list)
    groups: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = _fk("user_account.id", nullable=True, cascade=False)
