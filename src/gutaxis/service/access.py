"""Who may call what: one :class:`AccessRule` on every route, deny by default.

A route states its rule as a dependency (``who: Principal = Depends(STAFF)``);
the access-matrix test walks every route of the app and fails for one
without a rule.  A rule authenticates the request (a session cookie, or an
``Authorization: Bearer`` personal access token), checks the role, and for
a cookie-authenticated unsafe request checks CSRF: the session's token in
the ``X-CSRF-Token`` header, the ``csrf_token`` form field, or (multipart
forms, whose body the upload route streams itself) the ``csrf_token`` query
parameter — and refuses a foreign ``Origin``.  Isolation between clinics is
not here: every query of :mod:`gutaxis.service.services` is made within the
principal's clinic, so another clinic's object is simply not found.

A patient (role ``patient``, the portal) passes only :data:`PATIENT` (and
:data:`SIGNED_IN`, to sign out); their :class:`Principal` carries their
``patient_id``, and the portal's services read and write only that
patient's record — another patient's object is not found.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Literal, TypeVarTuple

from fastapi import Request
from sqlalchemy import Select, bindparam, select
from starlette.concurrency import run_in_threadpool

from gutaxis.service.audit import Actor
from gutaxis.service.context import AppContext
from gutaxis.service.db import utcnow
from gutaxis.service.errors import NotAllowed, NotSignedIn, ServiceError
from gutaxis.service.models import STAFF_ROLES, ApiToken, AuthSession, Clinic, PortalAccount, User
from gutaxis.service.security import same, token_hash

__all__ = ["Principal", "ClinicHeading", "AccessRule", "SecondFactorOwed", "ANYONE", "STAFF",
           "CLINICIANS", "OWNERS", "SIGNED_IN", "PATIENT",
           "SESSION_COOKIE", "client_address", "signed_in_or_none"]

logger = logging.getLogger(__name__)

SESSION_COOKIE = "gutaxis_session"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclasses.dataclass(frozen=True)
class ClinicHeading:
    """What every page shows of the principal's clinic."""

    name: str
    demo: bool


@dataclasses.dataclass(frozen=True)
class Principal:
    """The member of staff (or the patient, in the portal) behind a request."""

    user_id: int
    clinic_id: int
    role: str
    email: str
    address: str
    via: Literal["session", "token"]
    csrf_token: str = ""
    session_hash: str = ""
    #: The patient's own record (role ``patient`` only; None for staff).
    patient_id: int | None = None
    #: The clinic's name and demo flag, read with the account (pages show them).
    clinic: ClinicHeading | None = None

    @property
    def actor(self) -> Actor:
        """Who to name in the audit log."""
        return Actor(self.clinic_id, self.user_id, self.email, self.address)


def client_address(request: Request) -> str:
    """Return the client's address as the server sees it ("" when unknown)."""
    return request.client.host if request.client else ""


@dataclasses.dataclass(frozen=True)
class AccessRule:
    """A route's access rule (a FastAPI dependency that returns the :class:`Principal`).

    Parameters
    ----------
    name : str
        Shown in the access matrix.
    roles : tuple of str
        Roles allowed; empty for a public route (no principal).
    allow_pending_totp : bool
        A session whose second factor is still owed may pass (the code form only).
    """

    name: str
    roles: tuple[str, ...] = ()
    allow_pending_totp: bool = False

    @property
    def public(self) -> bool:
        """Whether anyone may call the route."""
        return not self.roles

    async def __call__(self, request: Request) -> Principal | None:
        """Authenticate and authorise ``request``.

        Raises
        ------
        NotSignedIn
            No valid session or token.
        NotAllowed
            A role without the right, or a failed CSRF or origin check.
        """
        if self.public:
            return None
        ctx: AppContext = request.app.state.ctx
        # a database query: in a worker thread, never on the event loop
        principal = await run_in_threadpool(_authenticate, ctx, request,
                                            self.allow_pending_totp)
        if principal.role not in self.roles:
            raise NotAllowed(f"a{'n' if principal.role[0] in 'aeiou' else ''} "
                             f"{principal.role} may not do this")
        if principal.via == "session" and request.method in _UNSAFE:
            await _check_csrf(request, principal)
        return principal


#: Who is behind a session or token, read in the same statement: the account, its
#: clinic's heading (shown on every page) and, for a patient, their record.
_WHO = (User.id, User.clinic_id, User.role, User.email, User.active, Clinic.name, Clinic.demo,
        PortalAccount.patient_id)
_Columns = TypeVarTuple("_Columns")


def _with_who(statement: Select[*_Columns], user_id: Any, key: Any) -> Select[*_Columns]:
    return (statement.join(User, User.id == user_id).join(Clinic, Clinic.id == User.clinic_id)
            .outerjoin(PortalAccount, PortalAccount.user_id == User.id)
            .where(key == bindparam("hash")))


_BY_TOKEN = _with_who(select(ApiToken.revoked_at, ApiToken.expires_at, *_WHO),
                      ApiToken.user_id, ApiToken.token_hash)
_BY_SESSION = _with_who(select(AuthSession.id_hash, AuthSession.csrf_token,
                               AuthSession.expires_at, AuthSession.pending_totp, *_WHO),
                        AuthSession.user_id, AuthSession.id_hash)


def _authenticate(ctx: AppContext, request: Request, allow_pending: bool) -> Principal:
    """Find the request's principal: one statement, whether by token or by session cookie."""
    now = utcnow()
    address = client_address(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotSignedIn("the Authorization header must be 'Bearer <token>'")
        token = ctx.read_row(_BY_TOKEN, {"hash": token_hash(value.strip())})
        if token is None or token.revoked_at is not None or token.expires_at <= now \
                or not token.active:
            raise NotSignedIn("the access token is unknown, revoked or expired")
        return _principal(token, address, "token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NotSignedIn("sign in first")
    session = ctx.read_row(_BY_SESSION, {"hash": token_hash(cookie)})
    if session is None or session.expires_at <= now or not session.active:
        raise NotSignedIn("the session has ended; sign in again")
    if session.pending_totp and not allow_pending:
        raise SecondFactorOwed("enter the code of your authenticator app first")
    return _principal(session, address, "session", session.csrf_token, session.id_hash)


def signed_in_or_none(ctx: AppContext, request: Request) -> Principal | None:
    """Return who signed the request in (a complete sign-in), or None; never raises.

    For what is shown around an answer (an error page's menu), not for
    deciding access: routes decide with their :class:`AccessRule`.
    """
    try:
        return _authenticate(ctx, request, allow_pending=False)
    except ServiceError:
        return None
    except Exception:  # the database away: the page is shown without the menu, not a 500
        logger.debug("no principal for the error page", exc_info=True)
        return None


def _principal(row: Any, address: str, via: Literal["session", "token"], csrf_token: str = "",
               session_hash: str = "") -> Principal:
    """Make the principal of an account row (a patient without a record is not signed in)."""
    patient_id = None
    if row.role not in STAFF_ROLES:
        if row.patient_id is None:
            raise NotSignedIn("this account has no record to show; ask your practitioner")
        patient_id = int(row.patient_id)
    return Principal(row.id, row.clinic_id, row.role, row.email, address, via, csrf_token,
                     session_hash, patient_id, ClinicHeading(row.name, bool(row.demo)))


async def _check_csrf(request: Request, principal: Principal) -> None:
    origin = request.headers.get("origin")
    if origin is not None:
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin != expected:
            raise NotAllowed(f"a request from another origin ({origin}) is refused")
    token = request.headers.get("x-csrf-token")
    content_type = request.headers.get("content-type", "")
    if token is None and content_type.startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        value = form.get("csrf_token")
        token = value if isinstance(value, str) else None
    if token is None and content_type.startswith("multipart/form-data"):
        token = request.query_params.get("csrf_token")
    if not token or not same(token, principal.csrf_token):
        raise NotAllowed("the form is out of date or was not sent by this site (CSRF check "
                         "failed); reload the page and try again")


class SecondFactorOwed(NotSignedIn):
    """The password was right; the authenticator's code is still owed (pages go to the form)."""


ANYONE = AccessRule("anyone")
SIGNED_IN = AccessRule("signed in, second factor pending", ("owner", "practitioner",
                                                             "assistant", "patient"),
                       allow_pending_totp=True)
STAFF = AccessRule("staff", ("owner", "practitioner", "assistant"))
CLINICIANS = AccessRule("clinicians", ("owner", "practitioner"))
OWNERS = AccessRule("owners", ("owner",))
#: The portal: a patient, on their own record only (no member of staff passes).
PATIENT = AccessRule("patient", ("patient",))
