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
from typing import Literal

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gutaxis.service.audit import Actor
from gutaxis.service.context import AppContext
from gutaxis.service.db import utcnow
from gutaxis.service.errors import NotAllowed, NotSignedIn
from gutaxis.service.models import STAFF_ROLES, ApiToken, AuthSession, PortalAccount
from gutaxis.service.security import same, token_hash

__all__ = ["Principal", "AccessRule", "SecondFactorOwed", "ANYONE", "STAFF", "CLINICIANS",
           "OWNERS", "SIGNED_IN", "PATIENT",
           "SESSION_COOKIE", "client_address"]

SESSION_COOKIE = "gutaxis_session"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


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


def _authenticate(ctx: AppContext, request: Request, allow_pending: bool) -> Principal:
    now = utcnow()
    address = client_address(request)
    header = request.headers.get("authorization", "")
    with ctx.reads() as db:
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise NotSignedIn("the Authorization header must be 'Bearer <token>'")
            token = db.scalar(select(ApiToken).where(
                ApiToken.token_hash == token_hash(value.strip())))
            if token is None or token.revoked_at is not None or token.expires_at <= now \
                    or not token.user.active:
                raise NotSignedIn("the access token is unknown, revoked or expired")
            user = token.user
            return Principal(user.id, user.clinic_id, user.role, user.email, address, "token",
                             patient_id=_own_patient(db, user.id, user.role))
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise NotSignedIn("sign in first")
        session = db.get(AuthSession, token_hash(cookie))
        if session is None or session.expires_at <= now or not session.user.active:
            raise NotSignedIn("the session has ended; sign in again")
        if session.pending_totp and not allow_pending:
            raise SecondFactorOwed("enter the code of your authenticator app first")
        user = session.user
        return Principal(user.id, user.clinic_id, user.role, user.email, address, "session",
                         session.csrf_token, session.id_hash,
                         _own_patient(db, user.id, user.role))


def _own_patient(db: Session, user_id: int, role: str) -> int | None:
    """Find the patient whose account ``user_id`` is (None for staff; no record: not signed in)."""
    if role in STAFF_ROLES:
        return None
    patient_id = db.scalar(select(PortalAccount.patient_id).where(
        PortalAccount.user_id == user_id))
    if patient_id is None:
        raise NotSignedIn("this account has no record to show; ask your practitioner")
    return int(patient_id)


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
