"""The read-only FHIR R4 face under ``/fhir``: what another clinic system or an app reads.

``metadata`` (the ``CapabilityStatement``, public), ``Patient/{id}``,
``Patient?identifier=``, ``Observation?patient=&code=&date=``,
``DiagnosticReport?patient=&code=&date=`` and ``Patient/{id}/$everything``;
JSON only (``application/fhir+json``).  The same sign-in as the rest of the
API (a personal access token as ``Authorization: Bearer``, or the session),
staff only; another clinic's patient is a 404 like any unknown one; every read
is audited (``fhir.read``, ``fhir.search``, ``fhir.everything``).  Errors are
``OperationOutcome``s (see :func:`operation_outcome`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from gutaxis._version import __version__
from gutaxis.service import audit
from gutaxis.service.access import ANYONE, STAFF, Principal
from gutaxis.service.context import AppContext, get_context
from gutaxis.service.errors import Invalid, NotFound
from gutaxis.service.services import fhir_records, patients

__all__ = ["router", "FHIR_JSON", "operation_outcome", "search_observations"]

FHIR_JSON = "application/fhir+json"


class FhirJSONResponse(JSONResponse):
    """JSON served as ``application/fhir+json``."""

    media_type = FHIR_JSON


_OUTCOME = {"description": "an OperationOutcome", "content": {FHIR_JSON: {}}}
router = APIRouter(prefix="/fhir", tags=["FHIR"], default_response_class=FhirJSONResponse,
                   responses={code: _OUTCOME for code in (401, 403, 404, 406, 422)})
Ctx = Annotated[AppContext, Depends(get_context)]
Staff = Annotated[Principal, Depends(STAFF)]

_ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
                405: "not-supported", 406: "not-supported", 409: "conflict", 422: "invalid",
                429: "throttled", 500: "exception"}


def operation_outcome(status: int, message: str) -> dict[str, Any]:
    """Return an error as a FHIR ``OperationOutcome``.

    Examples
    --------
    >>> operation_outcome(404, "no patient 9")["issue"][0]["code"]
    'not-found'
    """
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": _ISSUE_CODES.get(status, "processing"),
                       "diagnostics": message}]}


def _answer(resource: Mapping[str, Any], status: int = 200) -> JSONResponse:
    return FhirJSONResponse(dict(resource), status_code=status)


def _check_format(request: Request, _format: str | None) -> None:
    wanted = (_format or "").lower()
    if wanted and wanted not in ("json", "application/json", FHIR_JSON):
        raise _NotAcceptable(f"_format={_format}: only JSON is served")
    accept = request.headers.get("accept", "")
    if accept and not any(kind in accept for kind in ("json", "*/*", "text/html")):
        raise _NotAcceptable(f"Accept: {accept[:80]}: only {FHIR_JSON} is served")


class _NotAcceptable(Invalid):
    status = 406
    code = "not_acceptable"


def _patient_id(text: str, param: str, base: str = "") -> int:
    """``7``, ``Patient/7`` or this server's ``<base>/Patient/7`` → 7; anything else is unknown.

    Examples
    --------
    >>> _patient_id("Patient/7", "patient"), _patient_id("http://s/fhir/Patient/7", "", "http://s/fhir")
    (7, 7)
    """
    text = text.strip()
    if base and text.startswith(base + "/"):
        text = text[len(base) + 1:]
    match = re.fullmatch(r"(?:Patient/)?([0-9]{1,18})", text)
    if match is None:
        raise NotFound(f"{param}: no patient {text[:60]!r}")
    return int(match.group(1))


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


#: The search parameters served; any other is ignored, and left out of the self link
#: (which says what the search did).
_SUPPORTED = ("patient", "code", "date", "identifier")


def _searchset(request: Request, resources: list[dict[str, Any]]) -> dict[str, Any]:
    base = _base(request)
    used = [(k, v) for k, v in request.query_params.multi_items() if k in _SUPPORTED]
    self_url = request.url.replace(query=urlencode(used))
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "link": [{"relation": "self", "url": str(self_url)}],
            "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


# ------------------------------------------------------------------ search parameters
_DATE = re.compile(r"(eq|ne|lt|gt|le|ge|sa|eb)?(\d{4}(?:-\d{2}(?:-\d{2})?)?)"
                   r"(T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?")


def _date_bounds(text: str) -> tuple[str, dt.date, dt.date]:
    """Return a ``date`` parameter's prefix and first and last day at its precision.

    >>> _date_bounds("ge9999-12")  # December of 9999 (the month after it overflowed)
    ('ge', datetime.date(9999, 12, 1), datetime.date(9999, 12, 31))
    >>> _date_bounds("2024-02")[2]
    datetime.date(2024, 2, 29)
    """
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise Invalid(f"date: expected [eq|lt|gt|le|ge]YYYY[-MM[-DD]]; got {text[:40]!r}",
                      fields=[{"field": "date", "message": "not a FHIR date"}])
    prefix, day = match.group(1) or "eq", match.group(2)
    if prefix in ("ne", "sa", "eb"):
        raise Invalid(f"date: the prefix {prefix!r} is not supported (eq, lt, gt, le, ge are)",
                      fields=[{"field": "date", "message": "unsupported prefix"}])
    parts = [int(p) for p in day.split("-")]
    try:
        if len(parts) == 1:
            first, last = dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)
        elif len(parts) == 2:
            first = dt.date(parts[0], parts[1], 1)
            last = dt.date(parts[0], parts[1], calendar.monthrange(parts[0], parts[1])[1])
        else:
            first = last = dt.date(*parts)
    except ValueError:
        raise Invalid(f"date: {day!r} is not a calendar date",
                      fields=[{"field": "date", "message": "not a date"}]) from None
    return prefix, first, last


def _effective_day(resource: Mapping[str, Any]) -> dt.date | None:
    text = resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get(
        "start") or resource.get("issued")
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _date_matches(resource: Mapping[str, Any], prefix: str, first: dt.date, last: dt.date
                  ) -> bool:
    day = _effective_day(resource)
    if day is None:
        return False
    return {"eq": first <= day <= last, "lt": day < first, "gt": day > last,
            "le": day <= last, "ge": day >= first}[prefix]


def _code_matches(resource: Mapping[str, Any], token: str) -> bool:
    """Match a token ``system|code``, ``|code`` (no system) or ``code``; any of a comma list."""
    codings = (resource.get("code") or {}).get("coding") or []
    for one in token.split(","):
        system, bar, code = one.partition("|")
        if not bar:
            system, code = None, one  # type: ignore[assignment]
        for coding in codings:
            if coding.get("code") != code:
                continue
            if system is None or (system == "" and not coding.get("system")) or \
                    coding.get("system") == system:
                return True
    return False


def search_observations(resources: list[dict[str, Any]], *, code: str | None = None,
                        dates: list[str] | None = None) -> list[dict[str, Any]]:
    """Filter resources by FHIR ``code`` (token) and ``date`` parameters (every one must hold).

    Examples
    --------
    >>> obs = {"resourceType": "Observation", "id": "a", "effectiveDateTime": "2026-03-04",
    ...        "code": {"coding": [{"system": "http://loinc.org", "code": "38445-3"}]}}
    >>> len(search_observations([obs], code="http://loinc.org|38445-3", dates=["ge2026-03"]))
    1
    >>> search_observations([obs], dates=["lt2026-03-04"])
    []
    """
    bounds = [_date_bounds(d) for d in dates or []]
    out = []
    for resource in resources:
        if code and not _code_matches(resource, code):
            continue
        if all(_date_matches(resource, *b) for b in bounds):
            out.append(resource)
    return out


# ------------------------------------------------------------------ the interactions
@router.get("/metadata")
def capability_statement(request: Request, _: Annotated[None, Depends(ANYONE)]
                         ) -> JSONResponse:
    """Say what this server does (public, as FHIR clients expect)."""
    search = {"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}],
              "searchParam": [{"name": "identifier", "type": "token"}],
              "operation": [{"name": "everything",
                             "definition": "http://hl7.org/fhir/OperationDefinition/"
                                           "Patient-everything"}]}
    by_patient = [{"name": "patient", "type": "reference"}, {"name": "code", "type": "token"},
                  {"name": "date", "type": "date"}]
    return _answer({
        "resourceType": "CapabilityStatement", "status": "active",
        "date": dt.date.today().isoformat(), "kind": "instance", "fhirVersion": "4.0.1",
        "format": ["json"], "software": {"name": "gutaxis", "version": __version__},
        "implementation": {"description": "gutaxis practice: read-only FHIR R4",
                           "url": _base(request)},
        "rest": [{"mode": "server",
                  "security": {"description": "A personal access token as 'Authorization: "
                                              "Bearer <token>' (staff of the clinic)."},
                  "resource": [search,
                               {"type": "Observation",
                                "interaction": [{"code": "search-type"}],
                                "searchParam": by_patient},
                               {"type": "DiagnosticReport",
                                "interaction": [{"code": "search-type"}],
                                "searchParam": by_patient}]}]})


@router.get("/Patient/{patient_id}")
def read_patient(request: Request, patient_id: str, who: Staff, ctx: Ctx,
                 _format: str | None = None) -> JSONResponse:
    """Read one patient."""
    _check_format(request, _format)
    number = _patient_id(patient_id, "id")
    from gutaxis.fhir import patient_resource

    with ctx.transaction() as db:
        patient = patients.get_patient(db, who, number, action="fhir.read")
        return _answer(patient_resource(fhir_records.patient_mapping(patient)))


@router.get("/Patient")
def search_patients(request: Request, who: Staff, ctx: Ctx,
                    identifier: Annotated[str, Query(max_length=600)],
                    _format: str | None = None) -> JSONResponse:
    """Find the clinic's patient holding an identifier (``system|value``)."""
    _check_format(request, _format)
    from gutaxis.fhir import patient_resource

    system, bar, value = identifier.partition("|")
    if not bar or not system or not value:
        raise Invalid(f"identifier: expected SYSTEM|VALUE; got {identifier[:80]!r}",
                      fields=[{"field": "identifier", "message": "expected SYSTEM|VALUE"}])
    with ctx.transaction() as db:
        found = patients.find_by_identifiers(db, who, [(system, value)])
        audit.record(db, who.actor, "fhir.search", "patient", "",
                     f"Patient?identifier; results={len(found)}")
        # each patient disclosed is a read of that patient's record
        resources = [patient_resource(fhir_records.patient_mapping(
            patients.get_patient(db, who, number, action="fhir.read"))) for number in found]
        return _answer(_searchset(request, resources))


def _by_patient(request: Request, who: Principal, ctx: AppContext, kind: str, patient: str,
                code: str | None, dates: list[str]) -> JSONResponse:
    number = _patient_id(patient, "patient", _base(request))
    with ctx.transaction() as db:
        found = fhir_records.patient_resources(db, ctx.store, who, number, action="")
        pool = found.observations if kind == "Observation" else found.reports
        matches = search_observations(pool, code=code, dates=dates)
        audit.record(db, who.actor, "fhir.search", "patient", number,
                     f"{kind}; results={len(matches)}")
        return _answer(_searchset(request, matches))


@router.get("/Observation")
def search_observation(request: Request, who: Staff, ctx: Ctx,
                       patient: Annotated[str, Query(max_length=200)],
                       code: Annotated[str | None, Query(max_length=600)] = None,
                       date: Annotated[list[str] | None, Query(max_length=10)] = None,
                       _format: str | None = None) -> JSONResponse:
    """Search a patient's observations (lab markers, indices, key taxa)."""
    _check_format(request, _format)
    return _by_patient(request, who, ctx, "Observation", patient, code, date or [])


@router.get("/DiagnosticReport")
def search_report(request: Request, who: Staff, ctx: Ctx,
                  patient: Annotated[str, Query(max_length=200)],
                  code: Annotated[str | None, Query(max_length=600)] = None,
                  date: Annotated[list[str] | None, Query(max_length=10)] = None,
                  _format: str | None = None) -> JSONResponse:
    """Search a patient's reports (one per visit's profile)."""
    _check_format(request, _format)
    return _by_patient(request, who, ctx, "DiagnosticReport", patient, code, date or [])


@router.get("/Patient/{patient_id}/$everything")
def everything(request: Request, patient_id: str, who: Staff, ctx: Ctx,
               _format: str | None = None) -> JSONResponse:
    """Everything about one patient, as a searchset ``Bundle``."""
    _check_format(request, _format)
    number = _patient_id(patient_id, "id")
    with ctx.transaction() as db:
        found = fhir_records.patient_resources(db, ctx.store, who, number,
                                               action="fhir.everything")
        return _answer(_searchset(request, found.all()))
