"""Helpers of the portal's tests: a patient with an account, signed in through the real link."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select

from builders.practice import PASSWORD
from gutaxis.service.access import Principal
from gutaxis.service.context import AppContext
from gutaxis.service.models import PortalAccount
from gutaxis.service.services import patients, portal


@dataclasses.dataclass(frozen=True)
class PatientAccount:
    """A patient with a portal account: their record, session and principal."""

    patient_id: int
    email: str
    session: str
    csrf: str
    principal: Principal

    @property
    def cookie(self) -> dict[str, str]:
        """The headers of a page request made with the patient's session."""
        from gutaxis.service.access import SESSION_COOKIE

        return {"Cookie": f"{SESSION_COOKIE}={self.session}", "Accept": "text/html"}

    @property
    def api(self) -> dict[str, str]:
        """The headers of an API request made with the patient's session (CSRF included)."""
        from gutaxis.service.access import SESSION_COOKIE

        return {"Cookie": f"{SESSION_COOKIE}={self.session}", "X-CSRF-Token": self.csrf}


def patient_account(ctx: AppContext, staff: Principal, email: str, *, name: str = "",
                    patient_id: int | None = None, symptoms: tuple[str, ...] = (),
                    password: str = PASSWORD) -> PatientAccount:
    """A patient of ``staff``'s clinic (made when ``patient_id`` is None), invited and signed in.

    The account is made as a patient makes it: ``staff`` invites (a link),
    the patient sets a password with the link (and is signed in).
    """
    with ctx.transaction() as db:
        if patient_id is None:
            patient_id = patients.create_patient(db, staff, {"name": name or email}).id
        if symptoms:
            portal.set_portal_settings(db, staff, patient_id, primary_symptoms=list(symptoms))
        token, _ = portal.invite_patient(db, ctx.settings, staff, patient_id, email)
    with ctx.transaction() as db:
        outcome = portal.accept_link(db, ctx.settings, token, password, "test")
        user_id = db.scalar(select(PortalAccount.user_id).where(
            PortalAccount.patient_id == patient_id))
    assert outcome.error is None and outcome.role == "patient"
    principal = Principal(int(user_id), staff.clinic_id, "patient", email.lower(), "test",
                          "session", outcome.csrf_token, patient_id=patient_id)
    return PatientAccount(patient_id, email.lower(), outcome.token, outcome.csrf_token,
                          principal)


def csrf_of(page: str) -> str:
    """The CSRF token a page's form carries."""
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def staff_page(client: Any, email: str) -> tuple[dict[str, str], str]:
    """Sign ``email`` in through the form; the page headers and the session's CSRF token."""
    from gutaxis.service.access import SESSION_COOKIE

    html = {"Accept": "text/html"}
    client.cookies.clear()
    form = client.get("/login", headers=html)
    response = client.post("/login", headers=html, follow_redirects=False, data={
        "email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)})
    assert response.status_code == 303, response.text
    session = client.cookies[SESSION_COOKIE]
    client.cookies.clear()
    headers = {**html, "Cookie": f"{SESSION_COOKIE}={session}"}
    return headers, csrf_of(client.get("/patients", headers=headers).text)
