"""Clinics, staff accounts, sign-in and tokens.

Sign-in is throttled per address, locks an account after repeated failures,
and may ask for a second factor (TOTP).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from gutaxis.exceptions import ValidationError
from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.audit import Actor
from gutaxis.service.db import get_row, utcnow
from gutaxis.service.errors import (
    Conflict,
    Invalid,
    NotAllowed,
    NotFound,
    NotSignedIn,
    ServiceError,
    Throttled,
    Unavailable,
)
from gutaxis.service.models import (
    STAFF_ROLES,
    ApiToken,
    AuthSession,
    Clinic,
    Invitation,
    LoginFailure,
    User,
)
from gutaxis.service.security import (
    SECRETS,
    TOKEN_PREFIX,
    KeyFileBox,
    WrongKeyError,
    check_password_strength,
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
    totp_step,
    verify_password,
)
from gutaxis.service.settings import Settings

__all__ = ["create_clinic", "create_user", "sign_in", "SignIn", "start_session",
           "second_factor", "sign_out", "seal_stored_secrets",
           "secrets_not_opening",
           "create_token", "list_tokens", "revoke_token", "invite", "accept_invitation",
           "open_invitations", "latest_invitation", "withdraw_invitation",
           "list_users", "enable_totp", "disable_totp", "normalise_email", "set_password"]

logger = logging.getLogger(__name__)


def normalise_email(email: str) -> str:
    """Normalise an e-mail address to the form it is stored in.

    Parameters
    ----------
    email : str

    Returns
    -------
    str
        The address trimmed and in lower case.

    Raises
    ------
    Invalid
        Not one ``@`` between a local part and a domain with a dot, a space
        inside, or more than 320 characters.

    Examples
    --------
    >>> normalise_email("  Ana@Clinic.example ")
    'ana@clinic.example'
    """
    value = (email or "").strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or "@" in domain or len(value) > 320 \
            or any(c.isspace() for c in value):
        raise Invalid(f"email: expected an e-mail address such as name@clinic.example; "
                      f"got {email!r}", fields=[{"field": "email", "message": "not an e-mail "
                                                 "address"}])
    return value


def _password(password: str) -> str:
    problem = check_password_strength(password)
    if problem:
        raise Invalid(f"password: {problem}", fields=[{"field": "password", "message": problem}])
    return hash_password(password)


def _role(role: str) -> str:
    # a patient's account is made by the portal's invitation, never as staff
    if role not in STAFF_ROLES:
        raise Invalid(f"role: expected one of {', '.join(STAFF_ROLES)}; got {role!r}",
                      fields=[{"field": "role", "message": "unknown role"}])
    return role


def create_clinic(db: Session, name: str, *, demo: bool = False) -> Clinic:
    """Create a clinic (the command line makes the first one, with its owner).

    Returns
    -------
    Clinic
        The new clinic, flushed (it has its id).

    Raises
    ------
    Invalid
        A name that is empty or longer than 200 characters.
    """
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise Invalid(f"clinic: expected a name of 1 to 200 characters; got {name!r}")
    clinic = Clinic(name=name, demo=demo)
    db.add(clinic)
    db.flush()
    return clinic


def create_user(db: Session, clinic: Clinic, email: str, password: str, role: str,
                name: str = "", *, actor: Actor | None = None) -> User:
    """Create a member of staff of ``clinic`` (the password is hashed with Argon2id).

    Returns
    -------
    User
        The new account, flushed; its creation is audited.

    Raises
    ------
    Conflict
        The e-mail address has an account already.
    Invalid
        A bad e-mail, role or a password shorter than 12 characters.
    """
    email = normalise_email(email)
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"email: {email} has an account already")
    user = User(clinic_id=clinic.id, email=email, role=_role(role), name=name.strip()[:200],
                password_hash=_password(password))
    db.add(user)
    db.flush()
    audit.record(db, actor or Actor(clinic.id, user.id, email), "user.create", "user",
                 user.id, f"role={role}")
    return user


@dataclasses.dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to (committed whether it succeeded or not).

    Attributes
    ----------
    token : str
        The new session's cookie value ("" when it failed).
    csrf_token : str
    needs_code : bool
        The password was right; the second factor is owed.
    error : ServiceError or None
        Why it failed (raised by the caller after the commit, so that the
        failure counts).
    role : str
        The account's role ("" when it failed): a patient goes to the portal.
    """

    token: str = ""
    csrf_token: str = ""
    needs_code: bool = False
    error: Exception | None = None
    role: str = ""


def start_session(db: Session, settings: Settings, user: User, address: str) -> SignIn:
    """Open a session for ``user``, whose password was just checked (or set); audited.

    Returns
    -------
    SignIn
        The session's cookie value and CSRF token; ``needs_code`` when the
        account has a second factor (the session owes it).
    """
    token, csrf = new_token(), new_token()
    db.add(AuthSession(id_hash=token_hash(token), user_id=user.id, csrf_token=csrf,
                       expires_at=utcnow() + dt.timedelta(hours=settings.session_hours),
                       pending_totp=user.totp_secret is not None))
    audit.record(db, Actor(user.clinic_id, user.id, user.email, address), "session.create",
                 "user", user.id, "second factor owed" if user.totp_secret else "")
    return SignIn(token, csrf, user.totp_secret is not None, role=user.role)


def sign_in(db: Session, settings: Settings, email: str, password: str, address: str
            ) -> SignIn:
    """Check a password, with per-address throttling and per-account lock-out.

    After ``settings.lockout_failures`` wrong passwords in a row the account
    is locked for ``lockout_minutes``; one address making more than
    ``ip_failures_per_window`` failed attempts in that window is refused.
    The answer does not say whether the account exists.
    """
    now = utcnow()
    window = now - dt.timedelta(minutes=settings.lockout_minutes)
    if db.get_bind().dialect.name == "postgresql":
        # one address's attempts counted one after the other (SQLite: one writer anyway)
        db.execute(select(func.pg_advisory_xact_lock(func.hashtext(address[:64]))))
    db.execute(delete(LoginFailure).where(LoginFailure.at < window))
    failures = db.scalar(select(func.count()).where(LoginFailure.address == address,
                                                    LoginFailure.at >= window)) or 0
    if failures >= settings.ip_failures_per_window:
        return SignIn(error=Throttled("too many failed sign-ins from this address; try again "
                                      f"in {settings.lockout_minutes} minutes"))
    try:
        key = normalise_email(email)
    except Invalid:
        key = ""
    # the row is locked until this transaction ends: concurrent attempts on one account
    # count one after the other (PostgreSQL; SQLite has one writer at a time anyway)
    user = (db.scalar(select(User).where(User.email == key).with_for_update())
            if key else None)
    ok = verify_password(user.password_hash if user else None, password)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        # answered as a wrong password, after the same hashing: whether an address has
        # an account is not told by the answer nor by its time
        return SignIn(error=NotSignedIn(_REFUSED.format(minutes=settings.lockout_minutes)))
    if not ok or user is None or not user.active:
        db.add(LoginFailure(address=address[:64], at=now))
        if user is not None:
            _count_failure(db, settings, user, Actor(user.clinic_id, user.id, user.email,
                                                     address), "session.failed")
        return SignIn(error=NotSignedIn(_REFUSED.format(minutes=settings.lockout_minutes)))
    user.locked_until = None
    if user.totp_secret is None:
        user.failed_logins = 0
    # else the count goes on until the code is given: a right password between wrong
    # codes must not start the count again
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return start_session(db, settings, user, address)


#: the answer to a refused sign-in, whatever the reason (wrong password, unknown or locked
#: account)
_REFUSED = ("wrong e-mail address or password, or the account is locked after too many "
            "failed sign-ins (then try again in {minutes} minutes)")


def _count_failure(db: Session, settings: Settings, user: User, actor: Actor,
                   action: str) -> None:
    """Count a wrong password or code; lock the account at the limit.

    Locking also ends the account's sessions still waiting for a code, so
    that no sign-in begun earlier can go on guessing.
    """
    user.failed_logins += 1
    detail = f"failures={user.failed_logins}"
    if user.failed_logins >= settings.lockout_failures:
        user.locked_until = utcnow() + dt.timedelta(minutes=settings.lockout_minutes)
        user.failed_logins = 0
        db.execute(delete(AuthSession).where(AuthSession.user_id == user.id,
                                             AuthSession.pending_totp.is_(True)))
        detail += ", locked"
    audit.record(db, actor, action, "user", user.id, detail)


def second_factor(db: Session, settings: Settings, who: Principal, code: str
                  ) -> ServiceError | None:
    """Complete a sign-in with the authenticator's code (wrong codes count as failures).

    Nothing is owed by a token, nor by a session whose sign-in is complete
    (the account has no second factor, or its code was given): then this
    does nothing.  Each code works once (the step used is kept).

    Returns
    -------
    ServiceError or None
        Why the code was refused — returned, not raised, so that the caller
        commits the failure (counted towards the lock-out, audited) and then
        raises it.
    """
    # locked until this transaction ends: a code sent at once on several sessions is
    # taken once, and concurrent wrong codes all count
    user = db.get(User, who.user_id, with_for_update=True)
    session = db.get(AuthSession, who.session_hash) if who.session_hash else None
    if user is None or (session is None and who.via == "session"):
        raise NotSignedIn("sign in first")
    if session is None or not session.pending_totp:
        return None
    if user.totp_secret is None:
        raise NotSignedIn("sign in first")
    if user.locked_until is not None and user.locked_until > utcnow():
        db.delete(session)
        return Throttled(f"this account is locked after {settings.lockout_failures} failed "
                         f"attempts; sign in again in {settings.lockout_minutes} minutes")
    step = _spend_code(db, settings, user, who, code, "session.code_failed")
    if isinstance(step, Invalid):
        return step
    session.pending_totp = False
    user.failed_logins = 0
    user.totp_last_step = step
    audit.record(db, who.actor, "session.second_factor", "user", user.id)
    return None


def _spend_code(db: Session, settings: Settings, user: User, who: Principal, code: str,
                failed: str) -> int | Invalid:
    """Take the account's current code: its time step, or the refusal of a wrong one.

    A wrong (or already used) code counts towards the account's lock-out and
    against the caller's address, audited as ``failed``.
    """
    step = totp_step(_totp_secret(db, user), code, after=user.totp_last_step)
    if step is None:
        db.add(LoginFailure(address=who.address[:64], at=utcnow()))
        _count_failure(db, settings, user, who.actor, failed)
        return Invalid("code: that is not the current code of your authenticator app (a "
                       "code works once)", fields=[{"field": "code", "message": "wrong code"}])
    return step


def _secret_box(db: Session) -> KeyFileBox:
    box = db.info.get(SECRETS)
    if not isinstance(box, KeyFileBox):
        raise RuntimeError("this database session has no secret key: make sessions with "
                           "gutaxis.service.context.AppContext")
    return box


def _key_unusable(box: KeyFileBox, exc: Exception) -> Unavailable:
    """Log why the key file cannot be used; the answer for the person signing in."""
    logger.error("%s: the server's secret key cannot be used (%s): accounts with a second "
                 "factor cannot sign in; restore the file from the backup, or move it aside "
                 "(a new key is made) and turn their factors off with `gutaxis users password "
                 "--second-factor-off`", box.path, exc)
    return Unavailable("the second factor cannot be checked now: the server's key for it "
                       "cannot be read. Ask the operator (it is in the server's log)")


def _totp_context(user: User) -> str:
    """Return what a second factor's sealed secret is bound to: its account."""
    return f"gutaxis totp user {user.id}"


def _totp_secret(db: Session, user: User) -> str:
    """Open the account's TOTP secret; one kept from before sealing is sealed now.

    Raises
    ------
    Unavailable
        The key file cannot be read, or the secret does not open with its key
        (``secret.key`` lost, damaged or replaced): logged for the operator,
        not counted as a failure.
    """
    assert user.totp_secret is not None
    box = _secret_box(db)
    try:
        secret = box.open(user.totp_secret, _totp_context(user))
    except (ValidationError, OSError) as exc:
        raise _key_unusable(box, exc) from None
    except WrongKeyError:
        logger.error("the second factor of account %s does not open with this server's key "
                     "(secret.key in the data folder): restore the key from the backup, or "
                     "turn the factor off with `gutaxis users password --second-factor-off`",
                     user.id)
        raise Unavailable("the second factor of this account cannot be checked: the "
                          "server's key for it is not the one it was set up with. Ask the "
                          "operator (it is in the server's log)") from None
    if not box.is_sealed(user.totp_secret):
        try:
            user.totp_secret = box.seal(secret, _totp_context(user))
        except (ValidationError, OSError) as exc:  # kept as it was; the code still counts
            _key_unusable(box, exc)
    return secret


def secrets_not_opening(db: Session) -> list[int]:
    """Return the accounts whose sealed second-factor secret this server's key does not open.

    A key file replaced by another valid key (a restore that mixed two
    backups) is found at start this way, not at the first sign-in it fails.
    The key file must be usable (the caller has read it).
    """
    box = _secret_box(db)
    wrong = []
    for user in db.scalars(select(User).where(User.totp_secret.is_not(None)).order_by(User.id)):
        assert user.totp_secret is not None
        if box.is_sealed(user.totp_secret):
            try:
                box.open(user.totp_secret, _totp_context(user))
            except WrongKeyError:
                wrong.append(user.id)
    return wrong


def seal_stored_secrets(db: Session) -> int:
    """Seal the TOTP secrets stored before sealing (at every start); return how many.

    A key file that cannot be used is logged and nothing is sealed: the
    commands that repair accounts must still run.
    """
    box = _secret_box(db)
    sealed = 0
    for user in db.scalars(select(User).where(User.totp_secret.is_not(None))):
        assert user.totp_secret is not None
        if not box.is_sealed(user.totp_secret):
            try:
                user.totp_secret = box.seal(user.totp_secret, _totp_context(user))
            except (ValidationError, OSError) as exc:
                _key_unusable(box, exc)
                return sealed
            sealed += 1
    return sealed


def sign_out(db: Session, who: Principal) -> None:
    """End the session ``who`` signed in with."""
    if who.session_hash:
        db.execute(delete(AuthSession).where(AuthSession.id_hash == who.session_hash))
    audit.record(db, who.actor, "session.delete", "user", who.user_id)


def _with_a_session(who: Principal, what: str) -> None:
    """Refuse ``what`` to a caller who signed in with a token rather than a password."""
    if who.via != "session":
        raise NotAllowed(f"{what} needs a sign-in with your password (the pages, or POST "
                         "/api/v1/session), not an access token")


def _end_other_sessions(db: Session, who: Principal) -> None:
    db.execute(delete(AuthSession).where(AuthSession.user_id == who.user_id,
                                         AuthSession.id_hash != who.session_hash))


def enable_totp(db: Session, who: Principal, secret: str, code: str) -> None:
    """Turn the second factor on, once the user shows a code made from ``secret``.

    Only with a session (a token cannot change how its owner signs in); the
    account's other sessions end, so each must sign in again with a code.
    """
    _with_a_session(who, "turning the second factor on")
    step = totp_step(secret, code)
    if step is None:
        raise Invalid("code: that code does not match the secret; scan it again and enter "
                      "the code shown now", fields=[{"field": "code", "message": "wrong code"}])
    user = db.get(User, who.user_id)
    assert user is not None
    box = _secret_box(db)
    try:
        user.totp_secret = box.seal(secret, _totp_context(user))
    except (ValidationError, OSError) as exc:
        raise _key_unusable(box, exc) from None
    user.totp_last_step = step
    _end_other_sessions(db, who)
    audit.record(db, who.actor, "user.totp_on", "user", user.id)


def disable_totp(db: Session, settings: Settings, who: Principal, code: str
                 ) -> ServiceError | None:
    """Turn the second factor off, on the current code of the authenticator app.

    Only with a session; a wrong code counts towards the lock-out (as at
    sign-in), so that a session left open does not let someone try codes
    until the factor is gone.  The account's other sessions end.

    Returns
    -------
    ServiceError or None
        Why the code was refused, returned for the caller to raise after
        committing the count (as :func:`second_factor`).
    """
    _with_a_session(who, "turning the second factor off")
    user = db.get(User, who.user_id, with_for_update=True)
    assert user is not None
    if user.totp_secret is None:
        return None
    refused = _spend_code(db, settings, user, who, code, "user.totp_off_failed")
    if isinstance(refused, Invalid):
        return refused
    user.totp_secret, user.totp_last_step, user.failed_logins = None, None, 0
    _end_other_sessions(db, who)
    audit.record(db, who.actor, "user.totp_off", "user", user.id)
    return None


def create_token(db: Session, who: Principal, name: str, days: int = 90) -> tuple[str, ApiToken]:
    """Create a personal access token for ``who``, valid ``days`` days.

    Returns
    -------
    token : str
        The token itself: shown once, as only its hash is kept.
    row : ApiToken
        The stored row.

    Raises
    ------
    Invalid
        ``days`` outside 1 to 366.
    NotAllowed
        ``who`` signed in with a token: a token cannot make tokens (one
        could otherwise outlive the token that made it, and its revocation).
    """
    _with_a_session(who, "creating an access token")  # else a token could outlive itself
    name = (name or "").strip() or "API token"
    if not 1 <= int(days) <= 366:
        raise Invalid(f"days: a token lives 1 to 366 days; got {days}",
                      fields=[{"field": "days", "message": "1 to 366"}])
    token = new_token(TOKEN_PREFIX)
    row = ApiToken(user_id=who.user_id, name=name[:200], token_hash=token_hash(token),
                   prefix=token[:10], expires_at=utcnow() + dt.timedelta(days=int(days)))
    db.add(row)
    db.flush()
    audit.record(db, who.actor, "token.create", "token", row.id, f"days={days}")
    return token, row


def list_tokens(db: Session, who: Principal) -> list[ApiToken]:
    """List ``who``'s tokens, newest first."""
    return list(db.scalars(select(ApiToken).where(ApiToken.user_id == who.user_id)
                           .order_by(ApiToken.id.desc())))


def revoke_token(db: Session, who: Principal, token_id: int) -> None:
    """Revoke one of ``who``'s tokens."""
    row = get_row(db, ApiToken, token_id)
    if row is None or row.user_id != who.user_id:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(db, who.actor, "token.revoke", "token", row.id)


def list_users(db: Session, who: Principal) -> list[User]:
    """List the staff of ``who``'s clinic, by e-mail address (patients' accounts are not staff)."""
    return list(db.scalars(select(User).where(User.clinic_id == who.clinic_id,
                                              User.role.in_(STAFF_ROLES))
                           .order_by(User.email)))


def open_invitations(db: Session, who: Principal) -> list[Invitation]:
    """List the invitations of ``who``'s clinic not accepted, withdrawn or expired yet."""
    return list(db.scalars(select(Invitation).where(
        Invitation.clinic_id == who.clinic_id, Invitation.accepted_at.is_(None),
        Invitation.expires_at > utcnow()).order_by(Invitation.id)))


def latest_invitation(db: Session, who: Principal) -> int:
    """Return the id of the clinic's latest invitation, whatever its state (0: none)."""
    return int(db.scalar(select(func.max(Invitation.id)).where(
        Invitation.clinic_id == who.clinic_id)) or 0)


def invite(db: Session, who: Principal, email: str, role: str, days: int = 7, *,
           after: int | None = None) -> str:
    """Invite a new member of staff to ``who``'s clinic (owners).

    An open invitation to the same address stops working: the new code
    replaces it.

    Parameters
    ----------
    after : int, optional
        The :func:`latest_invitation` the form was shown with: when ``who``
        has invited the same address since, nothing is made (the same form
        sent twice, as a browser's reload does, would otherwise make a second
        code).

    Returns
    -------
    str
        The invitation code, valid ``days`` days (only its hash is kept).

    Raises
    ------
    Invalid
        A bad e-mail address or role.
    Conflict
        The e-mail address has an account already; or ``who`` invited it
        after ``after``.
    """
    email = normalise_email(email)
    # two invitations at once: the clinic's open ones are read and replaced one by one
    db.execute(select(Clinic.id).where(Clinic.id == who.clinic_id).with_for_update())
    if after is not None and db.scalar(select(Invitation.id).where(
            Invitation.clinic_id == who.clinic_id, Invitation.email == email,
            Invitation.created_by == who.user_id, Invitation.id > after).limit(1)) is not None:
        # the same person invited the same address after this form was shown: the form sent
        # twice (a reload); another person's or another address's invitation is no reason
        raise Conflict(f"You invited {email} after this page was shown (a reload sends the "
                       "form again); the code is shown only once. Nothing new was made. To "
                       "replace it, open the staff page and invite the address again.")
    _role(role)
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"email: {email} has an account already")
    now = utcnow()
    replaced = [row.id for row in open_invitations(db, who) if row.email == email]
    if replaced:
        db.execute(update(Invitation).where(Invitation.id.in_(replaced)).values(expires_at=now))
    code = new_token()
    row = Invitation(clinic_id=who.clinic_id, email=email, role=role,
                     code_hash=token_hash(code), created_by=who.user_id,
                     expires_at=now + dt.timedelta(days=days))
    db.add(row)
    db.flush()
    audit.record(db, who.actor, "invitation.create", "invitation", row.id, f"role={role}"
                 + (f", replaced={','.join(map(str, replaced))}" if replaced else ""))
    return code


def withdraw_invitation(db: Session, who: Principal, invitation_id: int) -> None:
    """Make an open invitation of ``who``'s clinic stop working (owners).

    Raises
    ------
    NotFound
        No such open invitation in this clinic (another clinic's is not found either).
    """
    row = db.get(Invitation, invitation_id)
    if (row is None or row.clinic_id != who.clinic_id or row.accepted_at is not None
            or row.expires_at <= utcnow()):
        raise NotFound("no such open invitation")
    row.expires_at = utcnow()
    audit.record(db, who.actor, "invitation.withdraw", "invitation", row.id, "")


def accept_invitation(db: Session, code: str, password: str, name: str, address: str) -> User:
    """Make the invited account (the code works once, before it expires)."""
    row = db.scalar(select(Invitation).where(Invitation.code_hash == token_hash(code or "")))
    if row is None or row.accepted_at is not None or row.expires_at <= utcnow():
        raise NotFound("this invitation is unknown, used or expired; ask for a new one")
    clinic = db.get(Clinic, row.clinic_id)
    assert clinic is not None
    user = create_user(db, clinic, row.email, password, row.role, name,
                       actor=Actor(clinic.id, None, row.email, address))
    row.accepted_at = utcnow()
    return user


def set_password(db: Session, user: User, password: str, *,
                 second_factor_off: bool = False) -> None:
    """Set ``user``'s password (the command line's reset) and unlock the account.

    A reset is what one does after a password leaked: the account's sessions
    end and its personal access tokens are revoked with it.  With
    ``second_factor_off`` the second factor is turned off too (a lost
    authenticator: the person turns it on again after signing in).
    """
    user.password_hash = _password(password)
    user.failed_logins, user.locked_until = 0, None
    db.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
    db.execute(update(ApiToken).where(ApiToken.user_id == user.id,
                                      ApiToken.revoked_at.is_(None))
               .values(revoked_at=utcnow()))
    if second_factor_off:
        user.totp_secret, user.totp_last_step = None, None
    audit.record(db, Actor(user.clinic_id, None, "command line"), "user.password", "user",
                 user.id, "second factor off" if second_factor_off else "")
