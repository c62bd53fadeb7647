"""The API's request and response bodies (Pydantic), named as the OpenAPI document shows them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

__all__ = ["SessionIn", "CodeIn", "SessionOut", "TokenIn", "TokenOut", "PatientIn",
           "PatientPatch", "Created", "VisitIn", "JobOut", "Accepted", "PlanOptionIn",
           "PlanOwnIn", "PlanStatusIn", "InvitationIn", "InvitationAccept", "ProfileRequest",
           "ErrorOut"]


def _as_utc(value: dt.datetime) -> dt.datetime:
    """Mark a stored time (naive, in UTC) as UTC, so that it is written with its offset."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


#: A stored time given out as RFC 3339 (``…Z``), as the document's ``date-time`` says.
UtcTime = Annotated[dt.datetime, AfterValidator(_as_utc)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=20000)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL's text cannot hold NUL: refused here, as any other bad value
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("the NUL character (\\u0000) is not allowed")
        return value


class SessionIn(_In):
    """Sign in."""

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class CodeIn(_In):
    """The second factor's 6-digit code."""

    code: str = Field(max_length=20)


class SessionOut(BaseModel):
    """A new session: send ``csrf_token`` as ``X-CSRF-Token`` with unsafe requests."""

    user_id: int
    clinic_id: int
    role: str
    csrf_token: str
    second_factor_required: bool


class TokenIn(_In):
    """A personal access token to make."""

    name: str = Field(default="API token", max_length=200)
    days: int = Field(default=90, ge=1, le=366)


class TokenOut(BaseModel):
    """A token: ``token`` is shown only when it is made."""

    id: int
    name: str
    prefix: str
    created_at: UtcTime
    expires_at: UtcTime
    revoked_at: UtcTime | None = None
    token: str | None = None


class IdentifierIn(_In):
    """An identifier of the patient in another system (FHIR ``Identifier``)."""

    system: str = Field(min_length=1, max_length=255,
                        description="the namespace, a URI (e.g. a hospital's MRN system)")
    value: str = Field(min_length=1, max_length=255)


class PatientIn(_In):
    """A patient's fields."""

    name: str = Field(min_length=1, max_length=200)
    birth_date: dt.date | None = None
    sex: Literal["female", "male", "other", "unknown"] = "unknown"
    contact: str = Field(default="", max_length=2000)
    conditions: str = Field(default="", max_length=4000)
    identifiers: list[IdentifierIn] = Field(
        default_factory=list, max_length=20,
        description="identifiers in other systems; FHIR lab results are matched by them")


class PatientPatch(_In):
    """Fields of a patient to change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    birth_date: dt.date | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    contact: str | None = Field(default=None, max_length=2000)
    conditions: str | None = Field(default=None, max_length=4000)
    identifiers: list[IdentifierIn] | None = Field(default=None, max_length=20)


class Created(BaseModel):
    """The id of what was made."""

    id: int


class VisitIn(_In):
    """A visit."""

    visit_date: dt.date
    notes: str = Field(default="", max_length=20000)


class JobOut(BaseModel):
    """A job and where it stands."""

    id: int
    kind: str
    status: Literal["pending", "running", "done", "failed"]
    error: str | None = None
    target_id: int
    created_at: UtcTime
    finished_at: UtcTime | None = None


class Accepted(BaseModel):
    """Work queued: poll ``GET /api/v1/jobs/{job}``."""

    id: int
    job: int
    status: str


class ProfileRequest(_In):
    """Which reference to profile against (the bundled one when left out)."""

    reference_id: int | None = None


class PlanOptionIn(_In):
    """Add an option of a visit's profile to the plan."""

    visit_id: int
    option_id: str = Field(max_length=100)
    note: str = Field(default="", max_length=4000)


class PlanOwnIn(_In):
    """Add the practitioner's own item."""

    title: str = Field(min_length=1, max_length=300)
    step: Literal["remove", "replace", "reinoculate", "repair", "rebalance", "other"] = "other"
    details: str = Field(default="", max_length=4000)


class PlanStatusIn(_In):
    """Change a plan item's status."""

    status: Literal["proposed", "active", "paused", "stopped", "done"]
    note: str = Field(default="", max_length=4000)
    on: dt.date | None = None


class InvitationIn(_In):
    """Invite a member of staff."""

    email: str = Field(max_length=320)
    role: Literal["owner", "practitioner", "assistant"]


class InvitationAccept(_In):
    """Accept an invitation."""

    code: str = Field(max_length=200)
    password: str = Field(max_length=1024)
    name: str = Field(default="", max_length=200)


class ErrorOut(BaseModel):
    """The one shape of every error: ``{"error": {...}}``."""

    error: dict[str, Any]
