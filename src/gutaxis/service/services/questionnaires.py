"""Questionnaires in the practice: definitions, requests to a patient, answers, scores over time.

A clinic can send the questionnaires gutaxis ships
(:func:`gutaxis.questionnaires.bundled_questionnaires`) without importing
anything, and imports the definitions it holds a licence for
(:func:`import_definition`: the file is checked by
:func:`gutaxis.questionnaires.load_questionnaire`, and an invalid one is
refused with the checker's one-line message, nothing stored).  A request
keeps a copy of the definition sent, so that the patient's answers are
always checked and scored against the questions they saw.  The patient
answers in the portal (:func:`answer`); answers are never overwritten — an
amendment is a new version, and the scores shown are the latest version's.
:mod:`.questionnaire_scores` lays each score out over time.

Staff reach only their clinic's definitions and requests, a patient only
their own requests; anything else is not found.  Every read and change of a
patient's questionnaires is audited.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gutaxis.exceptions import GutaxisError, ValidationError
from gutaxis.questionnaires import (
    Item,
    Questionnaire,
    bundled_questionnaires,
    check_answers,
    load_questionnaire,
    score,
    to_questionnaire_response,
)
from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.db import get_row, utcnow
from gutaxis.service.errors import Conflict, Invalid, NotAllowed, NotFound
from gutaxis.service.models import (
    QuestionnaireDefinition,
    QuestionnaireRequest,
    QuestionnaireResponse,
)
from gutaxis.service.services.patients import get_patient, lock_clinic
from gutaxis.service.services.questionnaire_scores import NO_MID, scores_dict

__all__ = ["Choice", "RequestView", "MAX_DEFINITION_BYTES",
           "available", "get_definition", "import_definition", "send", "cancel",
           "load_definition", "staff_request", "patient_requests", "own_requests",
           "own_request", "answer", "form_answers", "plain_error", "answerable_items"]

#: The largest definition file imported (as the engine reads at most).
MAX_DEFINITION_BYTES = 2 * 1024 * 1024
_TEXT_ANSWER = 2000
_NO_ANSWER = ("group", "display")


@lru_cache(maxsize=1)
def _bundled() -> dict[str, Questionnaire]:
    return bundled_questionnaires()


def _staff(who: Principal) -> None:
    if who.patient_id is not None:
        raise NotAllowed("a patient may not do this")


def _mid_words(q: Questionnaire) -> str:
    scoring = q.scoring
    if scoring is None:
        return "not scored (the definition has no scoring rules)"
    if scoring.mid is not None:
        return f"minimal important difference {scoring.mid.value:g} ({scoring.mid.source})"
    return f"{NO_MID}: {scoring.mid_note}" if scoring.mid_note else NO_MID


# ------------------------------------------------------------------ definitions
@dataclasses.dataclass(frozen=True)
class Choice:
    """A questionnaire a clinic can send: one gutaxis ships, or one the clinic imported.

    ``key`` is ``bundled:<name>`` or ``clinic:<id>`` (the form's value).
    """

    key: str
    bundled: bool
    definition_id: int | None
    name: str
    title: str
    version: str
    licence: str
    source: str
    mid: str
    scored: bool
    imported_at: dt.datetime | None = None
    filename: str = ""


def _choice(q: Questionnaire, row: QuestionnaireDefinition | None) -> Choice:
    scoring = q.scoring
    return Choice(key=f"clinic:{row.id}" if row else f"bundled:{q.name}", bundled=row is None,
                  definition_id=row.id if row else None, name=q.name, title=q.title,
                  version=q.version, licence=scoring.licence if scoring else "",
                  source=scoring.source if scoring else "", mid=_mid_words(q),
                  scored=scoring is not None, imported_at=row.imported_at if row else None,
                  filename=row.filename if row else "")


def available(db: Session, who: Principal) -> list[Choice]:
    """List what the clinic can send: the bundled questionnaires, then its imports (newest first).

    Raises
    ------
    NotAllowed
        ``who`` is a patient.
    """
    _staff(who)
    choices = [_choice(q, None) for q in sorted(_bundled().values(), key=lambda q: q.title)]
    rows = db.scalars(select(QuestionnaireDefinition).where(
        QuestionnaireDefinition.clinic_id == who.clinic_id)
        .order_by(QuestionnaireDefinition.id.desc()))
    for row in rows:
        choices.append(_choice(load_questionnaire(row.definition), row))
    return choices


def get_definition(db: Session, who: Principal, definition_id: int) -> QuestionnaireDefinition:
    """Get one of the clinic's imported definitions.

    Raises
    ------
    NotFound
        No such definition in ``who``'s clinic.
    """
    _staff(who)
    row = get_row(db, QuestionnaireDefinition, definition_id)
    if row is None or row.clinic_id != who.clinic_id:
        raise NotFound(f"no questionnaire definition {definition_id}")
    return row


def _file_name(filename: str | None) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].replace("\x00", "").strip()
    return name[:255] or "definition.json"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def import_definition(db: Session, who: Principal, filename: str | None, content: bytes
                      ) -> QuestionnaireDefinition:
    """Import a questionnaire definition file (FHIR R4 ``Questionnaire`` JSON) into the clinic.

    The file is checked by :func:`gutaxis.questionnaires.load_questionnaire`;
    nothing is stored unless it passes.  The definition, its licence and source
    text and the file's SHA-256 are kept; the import is audited.

    Parameters
    ----------
    filename : str or None
        The file's name as sent (messages name it).
    content : bytes
        The file.

    Returns
    -------
    QuestionnaireDefinition

    Raises
    ------
    Invalid
        Too large, not UTF-8, not JSON, or a definition the checker refuses:
        one line naming the file, where, what was expected and what was found.
    Conflict
        The same file was imported before; another definition with the same
        ``url|version`` was; or it takes a bundled questionnaire's ``url|version``.
    """
    _staff(who)
    name = _file_name(filename)

    def refuse(message: str) -> Invalid:
        return Invalid(_one_line(message), fields=[{"field": "file", "message": "refused"}])

    if len(content) > MAX_DEFINITION_BYTES:
        raise refuse(f"{name}: {len(content)} bytes; a questionnaire definition may be at "
                     f"most {MAX_DEFINITION_BYTES} bytes")
    if not content.strip():
        raise refuse(f"{name}: the file is empty; expected a FHIR Questionnaire as JSON")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refuse(f"{name}: byte {exc.start} is not UTF-8 text; expected a FHIR "
                     "Questionnaire as JSON") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise refuse(f"{name}: not valid JSON (line {exc.lineno} column {exc.colno}: "
                     f"{exc.msg}); expected a FHIR Questionnaire") from None
    except RecursionError:
        raise refuse(f"{name}: the JSON nests too deeply") from None
    if not isinstance(data, dict):
        raise refuse(f"{name}: expected a JSON object (a FHIR Questionnaire); got a JSON "
                     f"{type(data).__name__}")
    try:
        questionnaire = load_questionnaire(data)
    except GutaxisError as exc:
        message = str(exc)
        for prefix in ("questionnaire: ", "questionnaire text: "):
            if message.startswith(prefix):
                message = message[len(prefix):]
        raise refuse(f"{name}: {message}") from None
    for field, value, most in (("name", questionnaire.name, 120),
                               ("title", questionnaire.title, 300),
                               ("version", questionnaire.version, 60)):
        if len(value) > most:  # the columns' sizes: kept whole or not at all
            raise refuse(f"{name}: {field}: expected at most {most} characters; got "
                         f"{len(value)}")
    bundled = {q.canonical: q for q in _bundled().values()}
    if questionnaire.canonical in bundled:
        raise Conflict(f"{name}: {questionnaire.canonical} is the bundled questionnaire "
                       f"{bundled[questionnaire.canonical].name}; it needs no import (give "
                       "your own definition its own url or version)",
                       fields=[{"field": "file", "message": "bundled"}])
    sha = hashlib.sha256(content).hexdigest()
    lock_clinic(db, who.clinic_id)  # two imports at once: one url|version, checked one by one
    rows = list(db.scalars(select(QuestionnaireDefinition).where(
        QuestionnaireDefinition.clinic_id == who.clinic_id)))
    for row in rows:
        if row.sha256 == sha:
            raise Conflict(f"{name}: this file was imported before ({row.title}, version "
                           f"{row.version}, on {row.imported_at:%Y-%m-%d})",
                           fields=[{"field": "file", "message": "already imported"}])
        if load_questionnaire(row.definition).canonical == questionnaire.canonical:
            raise Conflict(f"{name}: another definition of {questionnaire.canonical} was "
                           f"imported on {row.imported_at:%Y-%m-%d}; give this one a new "
                           "version to import it", fields=[{"field": "file",
                                                            "message": "same version"}])
    scoring = questionnaire.scoring
    row = QuestionnaireDefinition(
        clinic_id=who.clinic_id, name=questionnaire.name, title=questionnaire.title,
        version=questionnaire.version,
        definition=questionnaire.definition, licence=scoring.licence if scoring else "",
        source=scoring.source if scoring else "", sha256=sha, filename=name,
        imported_at=utcnow(), imported_by=who.user_id)
    db.add(row)
    db.flush()
    audit.record(db, who.actor, "questionnaire.import", "questionnaire_definition", row.id,
                 f"version={row.version[:40]}, sha256={sha[:16]}")
    return row


# ------------------------------------------------------------------ requests
def load_definition(request: QuestionnaireRequest) -> Questionnaire:
    """Return the definition a request was sent with (checked when it was imported or shipped)."""
    return load_questionnaire(request.definition)


_questionnaire = load_definition


def send(db: Session, who: Principal, patient_id: int, *, bundled: str | None = None,
         definition_id: int | None = None, due: dt.date | None = None
         ) -> QuestionnaireRequest:
    """Send a questionnaire to a patient: a bundled one (by name) or one the clinic imported.

    Parameters
    ----------
    bundled : str, optional
        The name of a bundled questionnaire (``GutSymptomCheckIn``).
    definition_id : int, optional
        One of the clinic's imported definitions (give one of the two).
    due : date, optional
        When the answers are wanted (today or later, within a year).

    Returns
    -------
    QuestionnaireRequest

    Raises
    ------
    NotFound
        No such patient or definition in ``who``'s clinic.
    Invalid
        Neither or both of ``bundled`` and ``definition_id``; an unknown
        bundled name; a due date in the past or more than a year ahead.
    """
    _staff(who)
    patient = get_patient(db, who, patient_id, action="")
    if (bundled is None) == (definition_id is None):
        raise Invalid("questionnaire: give either a bundled questionnaire's name or the id of "
                      "an imported definition", fields=[{"field": "questionnaire",
                                                         "message": "required"}])
    row = None
    if bundled is not None:
        found = _bundled().get(bundled)
        if found is None:
            raise Invalid(f"bundled: {bundled[:60]!r} is not a bundled questionnaire; expected "
                          f"one of {', '.join(sorted(_bundled()))}",
                          fields=[{"field": "bundled", "message": "unknown"}])
        questionnaire = found
    else:
        assert definition_id is not None
        row = get_definition(db, who, definition_id)
        questionnaire = load_questionnaire(row.definition)
    today = utcnow().date()
    if due is not None and not today <= due <= today + dt.timedelta(days=366):
        raise Invalid(f"due: expected a date from {today} to one year ahead; got {due}",
                      fields=[{"field": "due", "message": "out of range"}])
    request = QuestionnaireRequest(
        clinic_id=who.clinic_id, patient_id=patient.id,
        definition_id=row.id if row else None, bundled="" if row else questionnaire.name,
        name=questionnaire.name[:120], title=questionnaire.title[:300],
        definition=questionnaire.definition, sent_at=utcnow(), sent_by=who.user_id, due=due,
        status="open")
    db.add(request)
    db.flush()
    audit.record(db, who.actor, "questionnaire.send", "patient", patient.id,
                 f"request={request.id}, definition="
                 + (f"clinic:{row.id}" if row else f"bundled:{questionnaire.name}"))
    return request


def _request(db: Session, who: Principal, request_id: int, *, for_update: bool = False
             ) -> QuestionnaireRequest:
    request = get_row(db, QuestionnaireRequest, request_id, for_update=for_update)
    if request is None or request.clinic_id != who.clinic_id or (
            who.patient_id is not None and (request.patient_id != who.patient_id
                                            or request.status == "cancelled")):
        raise NotFound(f"no questionnaire request {request_id}")
    return request


def cancel(db: Session, who: Principal, request_id: int) -> QuestionnaireRequest:
    """Withdraw an open request (it leaves the patient's list; nothing is deleted).

    Raises
    ------
    NotFound
        No such request in ``who``'s clinic.
    Conflict
        The request is not open (already answered or withdrawn).
    """
    _staff(who)
    request = _request(db, who, request_id, for_update=True)  # not answered meanwhile
    if request.status != "open":
        raise Conflict(f"request {request_id} is {request.status}; only an open request can "
                       "be withdrawn")
    request.status = "cancelled"
    audit.record(db, who.actor, "questionnaire.cancel", "patient", request.patient_id,
                 f"request={request.id}")
    return request


@dataclasses.dataclass(frozen=True)
class RequestView:
    """A request with its definition (checked) and every response, oldest version first."""

    request: QuestionnaireRequest
    questionnaire: Questionnaire
    responses: list[QuestionnaireResponse]

    @property
    def latest(self) -> QuestionnaireResponse | None:
        """The response as last amended, or None before the first answer."""
        return self.responses[-1] if self.responses else None


def _views(db: Session, requests: list[QuestionnaireRequest]) -> list[RequestView]:
    if not requests:
        return []
    by_request: dict[int, list[QuestionnaireResponse]] = {r.id: [] for r in requests}
    for response in db.scalars(select(QuestionnaireResponse).where(
            QuestionnaireResponse.request_id.in_(list(by_request)))
            .order_by(QuestionnaireResponse.request_id, QuestionnaireResponse.version)):
        by_request[response.request_id].append(response)
    return [RequestView(r, _questionnaire(r), by_request[r.id]) for r in requests]


def patient_requests(db: Session, who: Principal, patient_id: int, *,
                     action: str = "questionnaire.read") -> list[RequestView]:
    """List a patient's requests, newest first, with their responses (staff; audited).

    Raises
    ------
    NotFound
        No such patient in ``who``'s clinic.
    """
    _staff(who)
    patient = get_patient(db, who, patient_id, action="")
    requests = list(db.scalars(select(QuestionnaireRequest).where(
        QuestionnaireRequest.patient_id == patient.id,
        QuestionnaireRequest.clinic_id == who.clinic_id)
        .order_by(QuestionnaireRequest.sent_at.desc(), QuestionnaireRequest.id.desc())))
    if action:
        audit.record(db, who.actor, action, "patient", patient.id,
                     f"requests={len(requests)}")
    return _views(db, requests)


def staff_request(db: Session, who: Principal, request_id: int, *,
                  action: str = "questionnaire.read") -> RequestView:
    """Get one request of the clinic with every version of its answers (staff; audited).

    Raises
    ------
    NotFound
        No such request in ``who``'s clinic.
    """
    _staff(who)
    request = _request(db, who, request_id)
    if action:
        audit.record(db, who.actor, action, "patient", request.patient_id,
                     f"request={request.id}")
    return _views(db, [request])[0]


def _own(who: Principal) -> int:
    if who.patient_id is None:
        raise NotAllowed("this page is the patient's own; staff see the patient's page")
    return who.patient_id


def own_requests(db: Session, who: Principal, *, action: str = "questionnaire.list"
                 ) -> list[RequestView]:
    """List the signed-in patient's requests (open first, then answered; never withdrawn ones)."""
    patient = get_patient(db, who, _own(who), action="")
    requests = list(db.scalars(select(QuestionnaireRequest).where(
        QuestionnaireRequest.patient_id == patient.id,
        QuestionnaireRequest.clinic_id == who.clinic_id,
        QuestionnaireRequest.status != "cancelled")
        .order_by(QuestionnaireRequest.sent_at.desc(), QuestionnaireRequest.id.desc())))
    if action:
        audit.record(db, who.actor, action, "patient", patient.id,
                     f"requests={len(requests)}")
    views = _views(db, requests)
    return [v for v in views if v.request.status == "open"] + \
        [v for v in views if v.request.status != "open"]


def own_request(db: Session, who: Principal, request_id: int, *,
                action: str = "questionnaire.open") -> RequestView:
    """Get one of the signed-in patient's requests with its responses (audited as ``action``).

    Raises
    ------
    NotFound
        Not the patient's own request, or one the practice withdrew.
    """
    _own(who)
    request = _request(db, who, request_id)
    if action:
        audit.record(db, who.actor, action, "patient", request.patient_id,
                     f"request={request.id}")
    return _views(db, [request])[0]


# ------------------------------------------------------------------ answers
def answerable_items(q: Questionnaire) -> list[Item]:
    """Return the items that take an answer (not groups, not display text), in order."""
    return [i for i in q.walk() if i.type not in _NO_ANSWER]


def plain_error(item: Item) -> str:
    """Say in plain words what an item's answer must be (for the patient's form).

    Examples
    --------
    >>> from gutaxis.questionnaires import bundled_questionnaires
    >>> q = bundled_questionnaires()["GutSymptomCheckIn"]
    >>> plain_error(q.item("bloating"))
    'Please write a whole number from 0 to 10.'
    """
    low, high = item.min_value, item.max_value
    bounds = (f" from {low:g} to {high:g}" if low is not None and high is not None
              else f" of at least {low:g}" if low is not None
              else f" of at most {high:g}" if high is not None else "")
    if item.type == "choice":
        return "Please pick one of the answers."
    if item.type == "boolean":
        return "Please pick yes or no."
    if item.type == "integer":
        return f"Please write a whole number{bounds}."
    if item.type == "decimal":
        return f"Please write a number{bounds}."
    return f"Please keep this answer under {_TEXT_ANSWER} characters."


def form_answers(q: Questionnaire, form: Mapping[str, Any]) -> dict[str, Any]:
    """Read a submitted form's fields (named by linkId) as answers :func:`answer` takes.

    A blank field is no answer.  Numbers are read as numbers (a decimal comma
    is accepted), yes/no as true/false; a value that cannot be read is passed
    on as typed, so that :func:`answer` names it.

    Examples
    --------
    >>> from gutaxis.questionnaires import bundled_questionnaires
    >>> q = bundled_questionnaires()["GutSymptomCheckIn"]
    >>> form_answers(q, {"bloating": "6", "wind": " ", "fatigue": "lots"})
    {'bloating': 6, 'fatigue': 'lots'}
    """
    answers: dict[str, Any] = {}
    for item in answerable_items(q):
        raw = form.get(item.link_id)
        if raw is None:
            continue
        text = str(raw).strip()
        if not text:
            continue
        value: Any = text
        if item.type == "integer":
            try:
                value = int(text)
            except ValueError:
                value = text
        elif item.type == "decimal":
            try:
                value = float(text.replace(",", "."))
            except ValueError:
                value = text
        elif item.type == "boolean":
            value = {"true": True, "yes": True, "false": False, "no": False}.get(text.lower(),
                                                                                 text)
        elif item.type in ("string", "text"):
            value = str(raw)
        answers[item.link_id] = value
    return answers


def _check(q: Questionnaire, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Check answers item by item; every problem at once (Invalid with one field each)."""
    items = {i.link_id: i for i in q.walk()}
    problems: list[str] = []
    fields: list[dict[str, str]] = []
    checked: dict[str, Any] = {}
    for link_id, value in answers.items():
        item = items.get(link_id) if isinstance(link_id, str) else None
        if item is None or item.type in _NO_ANSWER:
            try:
                check_answers(q, {link_id: value})
            except ValidationError as exc:
                problems.append(str(exc))
            else:  # a group or display item answered with nothing: ignore it
                continue
            fields.append({"field": str(link_id)[:100], "message": "not a question of this "
                                                                   "questionnaire"})
            continue
        if item.type in ("string", "text") and isinstance(value, str) \
                and (len(value) > _TEXT_ANSWER or "\x00" in value):
            problems.append(f"answers[{link_id!r}]: expected a text of at most "
                            f"{_TEXT_ANSWER} characters without NUL; got {len(value)} "
                            "characters")
            fields.append({"field": link_id, "message": plain_error(item)})
            continue
        try:
            checked.update(check_answers(q, {link_id: value}))
        except ValidationError as exc:
            problems.append(str(exc))
            fields.append({"field": link_id, "message": plain_error(item)})
    for item in answerable_items(q):
        if item.required and item.link_id not in checked and \
                item.link_id not in {f["field"] for f in fields}:
            problems.append(f"answers[{item.link_id!r}]: this question needs an answer")
            fields.append({"field": item.link_id, "message": "Please answer this question."})
    if not problems and not checked:
        problems.append("answers: no question was answered; expected at least one answer")
        fields.append({"field": "answers", "message": "Please answer at least one question."})
    if problems:
        raise Invalid("; ".join(_one_line(p) for p in problems), fields=fields)
    return checked


def answer(db: Session, who: Principal, request_id: int, answers: Mapping[str, Any], *,
           now: dt.datetime | None = None) -> QuestionnaireResponse:
    """Save the signed-in patient's answers to a request: checked, scored, as a new version.

    The first answers complete the request; answering again (an amendment)
    adds the next version and keeps the earlier ones.  The answers are checked
    against the definition the request holds (every problem is reported at
    once), scored by its rules, and written as a FHIR R4
    ``QuestionnaireResponse``; the change is audited.

    Parameters
    ----------
    answers : mapping of linkId to value
        As :func:`gutaxis.questionnaires.check_answers` takes them (use
        :func:`form_answers` for a submitted form).
    now : datetime, optional
        When the answers were given (UTC, no tzinfo; now by default).

    Returns
    -------
    QuestionnaireResponse

    Raises
    ------
    NotFound
        Not the patient's own request, or one the practice withdrew.
    Invalid
        The answers break the definition's rules: ``fields`` names each item
        (by linkId) with a plain sentence, the message says what was expected
        and found.
    """
    _own(who)
    request = _request(db, who, request_id, for_update=True)  # versions one by one
    q = _questionnaire(request)
    if not isinstance(answers, Mapping):
        raise Invalid(f"answers: expected an object of linkId to answer; got "
                      f"{type(answers).__name__}")
    checked = _check(q, answers)
    when = (now or utcnow()).replace(microsecond=0)
    resource = to_questionnaire_response(q, checked, f"Patient/{request.patient_id}",
                                         when.replace(tzinfo=dt.UTC))
    scores = score(q, checked) if q.scoring is not None else None
    version = (db.scalar(select(func.max(QuestionnaireResponse.version)).where(
        QuestionnaireResponse.request_id == request.id)) or 0) + 1
    response = QuestionnaireResponse(
        clinic_id=request.clinic_id, patient_id=request.patient_id, request_id=request.id,
        version=version, answers=checked, resource=resource,
        scores=scores_dict(scores),
        completed_at=when, user_id=who.user_id)
    db.add(response)
    if request.status == "open":
        request.status, request.completed_at = "completed", when
    db.flush()
    audit.record(db, who.actor, "questionnaire.answer" if version == 1 else
                 "questionnaire.amend", "patient", request.patient_id,
                 f"request={request.id}, version={version}")
    return response
