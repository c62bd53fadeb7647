"""The questionnaires' API: the clinic's definitions, a patient's requests, the portal's answers.

Staff list what the clinic can send (``GET /api/v1/questionnaires``: the
bundled questionnaires and the clinic's imports), import a definition file
(``POST /api/v1/questionnaires``, multipart with a ``file`` part; an invalid
file is refused with the checker's one-line message and nothing is stored),
send one to a patient and read the responses with their scores and the
changes judged against the minimal important difference
(``/api/v1/patients/{id}/questionnaires``).  The patient reads and answers
their own requests under ``/api/v1/portal/questionnaires``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from gutaxis.service.access import CLINICIANS, PATIENT, STAFF, Principal
from gutaxis.service.context import AppContext, get_context
from gutaxis.service.errors import Invalid
from gutaxis.service.models import QuestionnaireRequest, QuestionnaireResponse
from gutaxis.service.schemas import ErrorOut
from gutaxis.service.services import questionnaire_scores, questionnaires

__all__ = ["router", "read_definition_file", "SendIn", "AnswersIn", "request_dict",
           "response_dict", "choice_dict", "series_dict"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 422, 429)}
router = APIRouter(prefix="/api/v1", responses=_ERRORS)

Ctx = Annotated[AppContext, Depends(get_context)]
Patient = Annotated[Principal, Depends(PATIENT)]
Staff = Annotated[Principal, Depends(STAFF)]
Clinician = Annotated[Principal, Depends(CLINICIANS)]

#: Bytes of an import's multipart body read at most (the file and its part headers).
_BODY_LIMIT = questionnaires.MAX_DEFINITION_BYTES + 64 * 1024


class SendIn(BaseModel):
    """Which questionnaire to send: a bundled one by name, or an imported definition's id."""

    model_config = ConfigDict(extra="forbid")

    bundled: str | None = Field(default=None, max_length=120)
    definition_id: int | None = None
    due: dt.date | None = None


class AnswersIn(BaseModel):
    """The answers, by linkId: a choice's code, a number, true/false or a text."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, Any] = Field(default_factory=dict)


class _FilePart:
    """Collects the one ``file`` part of a multipart body (in memory, bounded)."""

    def __init__(self) -> None:
        self.field, self.value = b"", b""
        self.headers: dict[bytes, bytes] = {}
        self.name, self.is_file = "", False
        self.filename: str | None = None
        self.data = bytearray()
        self.found: tuple[str | None, bytes] | None = None
        self.error = ""

    def on_part_begin(self) -> None:
        self.headers, self.name, self.is_file = {}, "", False
        self.data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field, self.value = b"", b""

    def on_headers_finished(self) -> None:
        _kind, options = parse_options_header(self.headers.get(b"content-disposition"))
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        self.is_file = b"filename" in options
        if self.is_file:
            self.filename = options[b"filename"].decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.name == "file" and len(self.data) <= _BODY_LIMIT:
            self.data += data[start:end]

    def on_part_end(self) -> None:
        if self.name != "file":
            return
        if self.found is not None:
            self.error = "the form may hold one definition file; got a second 'file' part"
        elif self.is_file and not self.filename and not self.data:
            return  # a file input left empty in a browser form
        else:
            self.found = (self.filename, bytes(self.data))


async def read_definition_file(request: Request) -> tuple[str | None, bytes]:
    """Read the ``file`` part of a ``multipart/form-data`` body (at most about 2 MiB).

    The body is read to its end (the client gets an answer, not a broken
    connection), but no more than the limit is kept.

    Returns
    -------
    filename : str or None
    content : bytes

    Raises
    ------
    Invalid
        Not a multipart body, a broken one, no ``file`` part, two of them, or a
        body over the limit.
    """
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise Invalid("file: the definition must be sent as multipart/form-data with a "
                      "'file' part", fields=[{"field": "file", "message": "required"}])
    parts = _FilePart()
    parser = MultipartParser(boundary, {
        "on_part_begin": parts.on_part_begin, "on_part_data": parts.on_part_data,
        "on_part_end": parts.on_part_end, "on_header_field": parts.on_header_field,
        "on_header_value": parts.on_header_value, "on_header_end": parts.on_header_end,
        "on_headers_finished": parts.on_headers_finished})
    total = 0
    broken = ""
    async for chunk in request.stream():
        total += len(chunk)
        if total > _BODY_LIMIT or broken:
            continue  # read to the end, keep nothing more
        try:
            parser.write(chunk)
        except Exception as exc:  # the parser's own errors, whatever their class
            broken = str(exc)
    if total > _BODY_LIMIT:
        raise Invalid(f"file: the upload has more than {_BODY_LIMIT} bytes; a questionnaire "
                      f"definition may be at most {questionnaires.MAX_DEFINITION_BYTES} bytes",
                      fields=[{"field": "file", "message": "too large"}])
    if not broken:
        try:
            parser.finalize()
        except Exception as exc:
            broken = str(exc)
    if broken:
        raise Invalid(f"file: the upload is not a well-formed multipart/form-data body "
                      f"({broken})", fields=[{"field": "file", "message": "broken"}])
    if parts.error:
        raise Invalid(f"file: {parts.error}", fields=[{"field": "file", "message": "twice"}])
    if parts.found is None:
        raise Invalid("file: choose a definition file (FHIR Questionnaire JSON) to import",
                      fields=[{"field": "file", "message": "required"}])
    return parts.found


# ------------------------------------------------------------------ shapes
def choice_dict(choice: questionnaires.Choice) -> dict[str, Any]:
    """Describe a questionnaire the clinic can send."""
    return {"key": choice.key, "bundled": choice.bundled, "definition_id": choice.definition_id,
            "name": choice.name, "title": choice.title, "version": choice.version,
            "licence": choice.licence, "source": choice.source,
            "minimal_important_difference": choice.mid, "scored": choice.scored,
            "imported_at": choice.imported_at.isoformat() + "Z" if choice.imported_at
            else None, "filename": choice.filename or None}


def response_dict(response: QuestionnaireResponse, *, full: bool = True) -> dict[str, Any]:
    """Describe one version of the answers (with the FHIR resource when ``full``)."""
    out = {"id": response.id, "version": response.version,
           "completed_at": response.completed_at.isoformat() + "Z",
           "answers": dict(response.answers), "scores": dict(response.scores) or None}
    if full:
        out["questionnaire_response"] = dict(response.resource)
    return out


def request_dict(view: questionnaires.RequestView, *, full: bool = False) -> dict[str, Any]:
    """Describe a request and its responses (every version, oldest first)."""
    request: QuestionnaireRequest = view.request
    q = view.questionnaire
    return {"id": request.id, "patient_id": request.patient_id, "name": request.name,
            "title": request.title, "version": q.version, "canonical": q.canonical,
            "bundled": request.bundled or None, "definition_id": request.definition_id,
            "sent_at": request.sent_at.isoformat() + "Z",
            "due": request.due.isoformat() if request.due else None, "status": request.status,
            "completed_at": request.completed_at.isoformat() + "Z"
            if request.completed_at else None,
            "scores": dict(view.latest.scores) or None if view.latest else None,
            "responses": [response_dict(r, full=full) for r in view.responses],
            **({"definition": dict(request.definition)} if full else {})}


def series_dict(series: questionnaire_scores.ScoreSeries) -> dict[str, Any]:
    """Describe one score over time, each change judged against the MID."""
    return {"canonical": series.canonical, "score": series.score, "label": series.label,
            "minimum": series.minimum, "maximum": series.maximum,
            "direction": series.direction, "minimal_important_difference": series.mid,
            "has_mid": series.has_mid, "points": series.points}


# ------------------------------------------------------------------ staff
@router.get("/questionnaires", tags=["questionnaires"])
def list_definitions(who: Staff, ctx: Ctx) -> list[dict[str, Any]]:
    """List what the clinic can send: the bundled questionnaires, then its imports."""
    with ctx.transaction() as db:
        return [choice_dict(c) for c in questionnaires.available(db, who)]


@router.post("/questionnaires", status_code=201, tags=["questionnaires"],
             openapi_extra={"requestBody": {"required": True, "content": {
                 "multipart/form-data": {"schema": {
                     "type": "object", "required": ["file"],
                     "properties": {"file": {"type": "string", "format": "binary"}}}}}}})
async def import_definition(request: Request, who: Clinician, ctx: Ctx) -> dict[str, Any]:
    """Import a definition (FHIR R4 Questionnaire JSON) of an instrument the clinic may use.

    An invalid file is refused (422) with the checker's one-line message, and
    nothing is stored.
    """
    filename, content = await read_definition_file(request)

    def save() -> dict[str, Any]:
        with ctx.transaction() as db:
            row = questionnaires.import_definition(db, who, filename, content)
            return {**choice_dict(next(c for c in questionnaires.available(db, who)
                                       if c.definition_id == row.id)), "sha256": row.sha256}

    return await run_in_threadpool(save)


@router.get("/patients/{patient_id}/questionnaires", tags=["questionnaires"])
def patient_questionnaires(patient_id: int, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """List the patient's requests with their responses and scores, and the scores over time."""
    with ctx.transaction() as db:
        views = questionnaires.patient_requests(db, who, patient_id)
        series = questionnaire_scores.score_series(db, who, patient_id, action="")
        return {"requests": [request_dict(v) for v in views],
                "scores": [series_dict(s) for s in series]}


@router.post("/patients/{patient_id}/questionnaires", status_code=201, tags=["questionnaires"])
def send_questionnaire(patient_id: int, body: SendIn, who: Clinician, ctx: Ctx
                       ) -> dict[str, Any]:
    """Send a questionnaire to the patient (it appears in their portal)."""
    with ctx.transaction() as db:
        request = questionnaires.send(db, who, patient_id, bundled=body.bundled,
                                      definition_id=body.definition_id, due=body.due)
        view = questionnaires.RequestView(request, questionnaires.load_definition(request), [])
        return request_dict(view)


@router.get("/questionnaire-requests/{request_id}", tags=["questionnaires"])
def get_request(request_id: int, who: Staff, ctx: Ctx) -> dict[str, Any]:
    """Get a request with the definition sent and every version of the answers (FHIR included)."""
    with ctx.transaction() as db:
        return request_dict(questionnaires.staff_request(db, who, request_id), full=True)


@router.post("/questionnaire-requests/{request_id}/cancel", tags=["questionnaires"])
def cancel_request(request_id: int, who: Clinician, ctx: Ctx) -> dict[str, Any]:
    """Withdraw an open request (it leaves the patient's list; nothing is deleted)."""
    with ctx.transaction() as db:
        questionnaires.cancel(db, who, request_id)
        return request_dict(questionnaires.staff_request(db, who, request_id, action=""))


# ------------------------------------------------------------------ the patient
@router.get("/portal/questionnaires", tags=["portal"])
def own_questionnaires(who: Patient, ctx: Ctx) -> dict[str, Any]:
    """List your questionnaires (open ones first) and your scores over time."""
    with ctx.transaction() as db:
        views = questionnaires.own_requests(db, who)
        assert who.patient_id is not None
        series = questionnaire_scores.score_series(db, who, who.patient_id, action="")
        return {"requests": [request_dict(v) for v in views],
                "scores": [series_dict(s) for s in series]}


@router.get("/portal/questionnaires/{request_id}", tags=["portal"])
def own_questionnaire(request_id: int, who: Patient, ctx: Ctx) -> dict[str, Any]:
    """Get one of your questionnaires: its questions (FHIR Questionnaire) and your answers."""
    with ctx.transaction() as db:
        return request_dict(questionnaires.own_request(db, who, request_id), full=True)


@router.post("/portal/questionnaires/{request_id}/responses", status_code=201,
             tags=["portal"])
def answer_questionnaire(request_id: int, body: AnswersIn, who: Patient, ctx: Ctx
                         ) -> dict[str, Any]:
    """Answer one of your questionnaires; answering again adds a version (the old one is kept)."""
    with ctx.transaction() as db:
        response = questionnaires.answer(db, who, request_id, body.answers)
        return response_dict(response)
