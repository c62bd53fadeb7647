"""The patient portal: invitations, patients' accounts, the diary's settings, the patient's reads.

The practitioner's side (a principal of the clinic's staff) invites a
patient with a one-time link, revokes their access, and sets up their diary
(primary symptoms, weight hidden, time zone).  The patient's side (a
principal of role ``patient``) reads only their own record: the "For you"
part of each visit's profile, their plan with its reasons, their timeline.
Every read and change is audited; the link itself is stored only as its
SHA-256, and an unknown, used, revoked or expired link gets one and the same
answer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.audit import Actor
from gutaxis.service.db import utcnow
from gutaxis.service.errors import Conflict, Invalid, NotAllowed, NotFound
from gutaxis.service.models import (
    AuthSession,
    Patient,
    PortalAccount,
    PortalInvitation,
    User,
)
from gutaxis.service.security import check_password_strength, hash_password, new_token, token_hash
from gutaxis.service.services.accounts import SignIn, normalise_email, start_session
from gutaxis.service.services.patients import get_patient, lock_patient
from gutaxis.service.settings import Settings
from gutaxis.service.store import FileStore

__all__ = ["PortalStatus", "portal_status", "portal_settings", "set_portal_settings",
           "invite_patient", "revoke_access", "link_invitation", "accept_link", "own_patient",
           "own_visits", "own_plan", "VisitForYou", "PlanForYou", "local_now", "local_time",
           "patient_time_zone", "GONE",
           "MAX_SYMPTOMS", "PLAN_WORDS"]

#: What an unknown, used, revoked or expired link is told (the same words for each).
GONE = ("This link does not work any more. A link works once, for a few days. "
        "Ask your practitioner for a new one.")
MAX_SYMPTOMS = 8
_SYMPTOM_LENGTH = 60
#: A plan item's status in the patient's words.
PLAN_WORDS = {"proposed": "suggested", "active": "doing now", "paused": "on hold",
              "stopped": "stopped", "done": "done"}


# ------------------------------------------------------------------ the practitioner's side
@dataclasses.dataclass(frozen=True)
class PortalStatus:
    """Where a patient's portal stands, for the practitioner.

    Attributes
    ----------
    account_email : str
        The patient's sign-in address ("" when they have no account).
    active : bool
        The account may sign in (False before an invitation is accepted and
        after access is revoked).
    invitation_expires : datetime or None
        The open link's expiry (UTC), when one is waiting to be used.
    primary_symptoms : list of str
    hide_weight : bool
    time_zone : str
    latest_link : int
        The id of the patient's latest link, whatever its state (0: none).  The
        invitation form sends it back, so that sending the same form twice (a
        reload) does not replace the link just shown.
    """

    account_email: str
    active: bool
    invitation_expires: dt.datetime | None
    primary_symptoms: list[str]
    hide_weight: bool
    time_zone: str
    latest_link: int = 0


def _portal(db: Session, clinic_id: int, patient_id: int, *, create: bool
            ) -> PortalAccount | None:
    if create:
        lock_patient(db, patient_id)
    row = db.scalar(select(PortalAccount).where(PortalAccount.patient_id == patient_id))
    if row is None and create:
        row = PortalAccount(clinic_id=clinic_id, patient_id=patient_id, primary_symptoms=[],
                            hide_weight=False, time_zone="UTC")
        db.add(row)
        db.flush()
    return row


def _staff(who: Principal) -> None:
    if who.patient_id is not None:
        raise NotAllowed("a patient may not do this")


def portal_status(db: Session, who: Principal, patient_id: int, *,
                  action: str = "portal.read") -> PortalStatus:
    """Tell where a patient's portal stands (staff; audited as ``action`` unless empty).

    Raises
    ------
    NotFound
        No such patient in ``who``'s clinic.
    """
    _staff(who)
    patient = get_patient(db, who, patient_id, action=action)
    row = _portal(db, who.clinic_id, patient.id, create=False)
    user = db.get(User, row.user_id) if row is not None and row.user_id is not None else None
    waiting = db.scalar(select(PortalInvitation.expires_at).where(
        PortalInvitation.patient_id == patient.id, PortalInvitation.used_at.is_(None),
        PortalInvitation.revoked_at.is_(None), PortalInvitation.expires_at > utcnow())
        .order_by(PortalInvitation.id.desc()).limit(1))
    return PortalStatus(user.email if user else "", bool(user and user.active), waiting,
                        list(row.primary_symptoms) if row else [],
                        bool(row.hide_weight) if row else False,
                        row.time_zone if row else "UTC", _latest_link(db, patient.id))


def _latest_link(db: Session, patient_id: int) -> int:
    return int(db.scalar(select(func.max(PortalInvitation.id)).where(
        PortalInvitation.patient_id == patient_id)) or 0)


def _symptoms(values: list[str]) -> list[str]:
    names: list[str] = []
    for value in values:
        name = " ".join(str(value).split())
        if not name:
            continue
        if len(name) > _SYMPTOM_LENGTH:
            raise Invalid(f"primary_symptoms: a symptom's name has at most {_SYMPTOM_LENGTH} "
                          f"characters; got {len(name)} ({name[:20]}…)",
                          fields=[{"field": "primary_symptoms", "message": "too long"}])
        if name.casefold() not in {n.casefold() for n in names}:
            names.append(name)
    if len(names) > MAX_SYMPTOMS:
        raise Invalid(f"primary_symptoms: at most {MAX_SYMPTOMS} symptoms; got {len(names)}",
                      fields=[{"field": "primary_symptoms", "message": "too many"}])
    return names


def _zone(name: str) -> str:
    name = (name or "").strip()
    try:
        if not name or len(name) > 64:
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"time_zone: expected a time zone such as Europe/Madrid or UTC; got "
                      f"{name[:64]!r}", fields=[{"field": "time_zone",
                                                  "message": "unknown time zone"}]) from None
    return name


def set_portal_settings(db: Session, who: Principal, patient_id: int, *,
                        primary_symptoms: list[str] | None = None,
                        hide_weight: bool | None = None, time_zone: str | None = None
                        ) -> PortalAccount:
    """Set up a patient's diary (clinicians): primary symptoms, weight hidden, time zone.

    Only the settings given change.

    Parameters
    ----------
    primary_symptoms : list of str, optional
        The patient's own symptoms, scored 0-10 in the diary (at most
        :data:`MAX_SYMPTOMS`, 60 characters each; blanks and repeats dropped).
    hide_weight : bool, optional
        Hide weight (and any calorie-like field) from the patient's forms and
        views, for a patient for whom tracking it is harmful.
    time_zone : str, optional
        The IANA zone of the patient's diary times (``Europe/Madrid``).

    Raises
    ------
    NotFound
        No such patient in this clinic.
    Invalid
        A name too long, too many symptoms, an unknown time zone.
    """
    _staff(who)
    patient = get_patient(db, who, patient_id, action="")
    row = _portal(db, who.clinic_id, patient.id, create=True)
    assert row is not None
    changed = []
    if primary_symptoms is not None:
        row.primary_symptoms = _symptoms(primary_symptoms)
        changed.append(f"symptoms={len(row.primary_symptoms)}")
    if hide_weight is not None:
        row.hide_weight = bool(hide_weight)
        changed.append(f"hide_weight={str(row.hide_weight).lower()}")
    if time_zone is not None:
        row.time_zone = _zone(time_zone)
        changed.append("time_zone")
    row.updated_at = utcnow()
    audit.record(db, who.actor, "portal.settings", "patient", patient.id, ", ".join(changed))
    return row


def _close_links(db: Session, patient_id: int, now: dt.datetime) -> int:
    """Revoke the patient's links not used yet; how many."""
    links = list(db.scalars(select(PortalInvitation).where(
        PortalInvitation.patient_id == patient_id, PortalInvitation.used_at.is_(None),
        PortalInvitation.revoked_at.is_(None))))
    for link in links:
        link.revoked_at = now
    return len(links)


def invite_patient(db: Session, settings: Settings, who: Principal, patient_id: int,
                   email: str, *, after: int | None = None) -> tuple[str, PortalInvitation]:
    """Make a one-time link that lets the patient set their password (clinicians).

    The link works once, for ``settings.portal_invite_days`` days; an
    earlier link of the same patient that is still open stops working.  Only
    the token's SHA-256 is kept: the token is shown once, to be passed on.

    Parameters
    ----------
    email : str
        The address the patient will sign in with.
    after : int, optional
        The :attr:`PortalStatus.latest_link` the form was shown with: when
        ``who`` has made this patient a link since, nothing is made (the same
        form sent twice, as a browser's reload does, would otherwise replace
        the link just shown with one nobody saw).

    Returns
    -------
    token : str
        256 random bits, URL-safe (the link is ``/portal/invite/<token>``).
    invitation : PortalInvitation

    Raises
    ------
    NotFound
        No such patient in this clinic.
    Invalid
        Not an e-mail address.
    Conflict
        The address is another person's account; or ``who`` made a link
        after ``after``.
    """
    _staff(who)
    patient = get_patient(db, who, patient_id, action="")
    lock_patient(db, patient.id)
    if after is not None and db.scalar(select(PortalInvitation.id).where(
            PortalInvitation.patient_id == patient.id,
            PortalInvitation.created_by == who.user_id,
            PortalInvitation.id > after).limit(1)) is not None:
        # the same person made this patient a link after the form was shown: the form sent
        # twice (a reload); a colleague's link is no reason
        raise Conflict("You made this patient a link after this page was shown (a reload "
                       "sends the form again); it is shown only once. Nothing new was made. "
                       "To replace it, open the patient's page and make a new link there.")
    email = normalise_email(email)
    row = _portal(db, who.clinic_id, patient.id, create=True)
    assert row is not None
    owner = db.scalar(select(User.id).where(User.email == email))
    if owner is not None and owner != row.user_id:
        raise Conflict(f"email: {email} is already the address of another account",
                       fields=[{"field": "email", "message": "in use"}])
    now = utcnow()
    revoked = _close_links(db, patient.id, now)
    token = new_token()
    invitation = PortalInvitation(clinic_id=who.clinic_id, patient_id=patient.id, email=email,
                                  token_hash=token_hash(token), created_by=who.user_id,
                                  created_at=now, expires_at=now + dt.timedelta(
                                      days=settings.portal_invite_days))
    db.add(invitation)
    db.flush()
    audit.record(db, who.actor, "portal.invite", "patient", patient.id,
                 f"invitation={invitation.id}, days={settings.portal_invite_days}"
                 + (f", replaced={revoked}" if revoked else ""))
    return token, invitation


def revoke_access(db: Session, who: Principal, patient_id: int) -> None:
    """End a patient's portal access (clinicians): open links, the account and its sessions.

    The diary stays in the record; a new invitation gives access again.
    """
    _staff(who)
    patient = get_patient(db, who, patient_id, action="")
    lock_patient(db, patient.id)
    now = utcnow()
    links = _close_links(db, patient.id, now)
    row = _portal(db, who.clinic_id, patient.id, create=False)
    account = False
    if row is not None and row.user_id is not None:
        user = db.get(User, row.user_id)
        if user is not None:
            account = user.active
            user.active = False
            db.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
    audit.record(db, who.actor, "portal.revoke", "patient", patient.id,
                 f"links={links}, account={'on' if account else 'none'}")


# ------------------------------------------------------------------ the link
def link_invitation(db: Session, token: str) -> PortalInvitation:
    """Find the open invitation a link names.

    Raises
    ------
    NotFound
        With :data:`GONE`: the link is unknown, used, revoked or expired —
        the same answer for each, so that the answer tells nothing.
    """
    row = db.scalar(select(PortalInvitation).where(
        PortalInvitation.token_hash == token_hash(token or "")))
    if row is None or not _open(row):
        raise NotFound(GONE)
    return row


def _open(row: PortalInvitation) -> bool:
    return row.used_at is None and row.revoked_at is None and row.expires_at > utcnow()


def accept_link(db: Session, settings: Settings, token: str, password: str, address: str
                ) -> SignIn:
    """Let the patient set their password with the link, then sign them in.

    The patient's account is made (role ``patient``), or — a new link for
    someone who had one — given the new password and address and switched
    on again (its other sessions end).  The link is used up.

    Returns
    -------
    SignIn
        The new session (cookie value and CSRF token).

    Raises
    ------
    NotFound
        The link does not work (:func:`link_invitation`).
    Invalid
        A password the staff's policy refuses (fewer than 12 characters).
    Conflict
        The address became another person's account meanwhile.
    """
    row = link_invitation(db, token)
    # a patient's portal changes one at a time: a link used while access is revoked
    # could otherwise sign the patient in after the revocation
    lock_patient(db, row.patient_id)
    db.refresh(row)  # as it stands now that no one else changes the patient's portal
    if not _open(row):
        raise NotFound(GONE)
    problem = check_password_strength(password)
    if problem:
        raise Invalid(f"password: {problem}", fields=[{"field": "password",
                                                       "message": problem}])
    portal = _portal(db, row.clinic_id, row.patient_id, create=True)
    assert portal is not None
    user = db.get(User, portal.user_id) if portal.user_id is not None else None
    owner = db.scalar(select(User.id).where(User.email == row.email))
    if owner is not None and (user is None or owner != user.id):
        raise Conflict(f"email: {row.email} is already the address of another account; "
                       "ask your practitioner for a new link")
    if user is None:
        user = User(clinic_id=row.clinic_id, email=row.email, role="patient", name="",
                    password_hash=hash_password(password))
        db.add(user)
        db.flush()
        portal.user_id = user.id
    else:
        user.email, user.password_hash, user.active = row.email, hash_password(password), True
        user.failed_logins, user.locked_until = 0, None
        db.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
    row.used_at = utcnow()
    audit.record(db, Actor(row.clinic_id, user.id, user.email, address), "portal.accept",
                 "patient", row.patient_id, f"invitation={row.id}")
    return start_session(db, settings, user, address)


# ------------------------------------------------------------------ the patient's side
def own_patient(db: Session, who: Principal, *, action: str = "") -> Patient:
    """Get the signed-in patient's own record (audited as ``action`` unless empty).

    Raises
    ------
    NotAllowed
        ``who`` is not a patient.
    """
    if who.patient_id is None:
        raise NotAllowed("this page is the patient's own; staff see the patient's page")
    return get_patient(db, who, who.patient_id, action=action)


def portal_settings(db: Session, who: Principal) -> PortalAccount:
    """Get the diary's settings of the signed-in patient (defaults when none were set)."""
    patient = own_patient(db, who)
    row = _portal(db, who.clinic_id, patient.id, create=False)
    return row if row is not None else PortalAccount(
        clinic_id=who.clinic_id, patient_id=patient.id, primary_symptoms=[],
        hide_weight=False, time_zone="UTC")


def local_time(stamp: dt.datetime, time_zone: str) -> dt.datetime:
    """Return a stored moment (naive UTC, as the database keeps them) as wall-clock time.

    Examples
    --------
    >>> local_time(dt.datetime(2026, 12, 7, 23, 18), "Europe/Madrid")
    datetime.datetime(2026, 12, 8, 0, 18)
    """
    return stamp.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(time_zone)).replace(tzinfo=None)


def patient_time_zone(db: Session, patient_id: int) -> str:
    """Return the time zone of the patient's diary (their portal's setting; UTC without one)."""
    zone = db.scalar(select(PortalAccount.time_zone)
                     .where(PortalAccount.patient_id == patient_id))
    return zone or "UTC"


def local_now(time_zone: str) -> dt.datetime:
    """Return the wall-clock time now in ``time_zone``, without tzinfo (as diary times are).

    Examples
    --------
    >>> abs(local_now("UTC") - utcnow()) < dt.timedelta(seconds=5)
    True
    """
    return dt.datetime.now(ZoneInfo(time_zone)).replace(tzinfo=None, microsecond=0)


@dataclasses.dataclass(frozen=True)
class VisitForYou:
    """One visit as the patient sees it: its date and the profile's "For you" sentences."""

    visit_id: int
    date: dt.date
    for_you: list[str]
    status: str


def own_visits(db: Session, store: FileStore, who: Principal) -> list[VisitForYou]:
    """List the patient's visits, newest first, each with its profile's "For you" part.

    The "For you" part is the plain-language summary the profile writes for
    the patient (``summary.patient`` of ``profile.json``), never the
    clinician's lines.  The read is audited once (``portal.visits``).
    """
    from gutaxis.service.errors import ServiceError
    from gutaxis.service.services.profiles import profile_document, profile_state

    patient = own_patient(db, who, action="portal.visits")
    out = []
    for visit in sorted(patient.visits, key=lambda v: (v.visit_date, v.id), reverse=True):
        state = profile_state(db, who, visit.id)
        sentences: list[str] = []
        try:
            document = profile_document(db, store, who, visit.id, action="")
            sentences = [str(s) for s in (document.get("summary") or {}).get("patient") or []]
        except ServiceError:
            sentences = []
        out.append(VisitForYou(visit.id, visit.visit_date, sentences, state.status))
    return out


@dataclasses.dataclass(frozen=True)
class PlanForYou:
    """One item of the plan as the patient sees it."""

    id: int
    title: str
    status: str
    status_words: str
    step: str
    since: dt.date | None
    why: list[str]
    #: what studies say (an option of the knowledge base; empty for the practitioner's own)
    evidence: str
    own: bool
    notes: list[str]
    #: the practitioner's own words of an item they wrote (never shown as evidence)
    advice: str = ""


def own_plan(db: Session, store: FileStore, who: Principal) -> list[PlanForYou]:
    """List the patient's plan with the reasons of each item (audited as ``plan.read``).

    The reasons of an option of a visit's profile are what selected it in
    that profile (``triggered_by``, in the profile's words, as the
    practitioner's visit page shows them); every item keeps the notes of its
    history.
    """
    from gutaxis.service.errors import ServiceError
    from gutaxis.service.services.plans import option_reasons, plan_items, profile_options
    from gutaxis.service.services.profiles import profile_document

    patient = own_patient(db, who)
    items = plan_items(db, who, patient.id)
    documents: dict[int, dict[str, Any] | None] = {}
    out = []
    for item in items:
        why: list[str] = []
        if item.option_id and item.visit_id is not None:
            if item.visit_id not in documents:
                try:
                    documents[item.visit_id] = profile_document(db, store, who, item.visit_id,
                                                                action="")
                except ServiceError:
                    documents[item.visit_id] = None
            document = documents[item.visit_id]
            option = next((o for o in profile_options(document) if o.get("id") ==
                           item.option_id), None) if document else None
            if option is not None and document is not None:
                why = option_reasons(option.get("triggered_by") or [], document)
        since = next((e.on for e in reversed(item.events) if e.status == item.status), None)
        out.append(PlanForYou(item.id, item.title, item.status,
                              PLAN_WORDS.get(item.status, item.status), item.step, since, why,
                              "" if item.own else item.details, item.own,
                              [e.note for e in item.events if e.note],
                              item.details if item.own else ""))
    return out
