"""FHIR R4 (4.0.1) resources out of gutaxis: a profile, a patient, answers, a plan, a diet.

Plain builders that return JSON-ready dicts.  They take plain mappings (the
keys are documented on each function) so that the practice application can
map its database rows to them and the command line can pass a stored
``profile.json``: :func:`profile_bundle` reads the documented ``profile.json``
contract (``docs/output-schemas.md``), not the in-memory ``Profile``.

Ids are deterministic: a resource without a given id gets a UUID 5 of stable
keys (patient, sample, creation time, measure id), and every entry of a Bundle
has the ``urn:uuid:`` ``fullUrl`` of its resource, so the same input gives the
same bytes.  Which element carries what, and which code systems are used, is
in ``docs/fhir.md``.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.fhir.codes import (
    DATA_ABSENT_REASON,
    INTERPRETATION,
    OBSERVATION_CATEGORY,
    UCUM,
    component_code,
    food_group_code,
    gutaxis_system,
    index_code,
    marker_code,
    range_type_code,
    taxon_code,
)
from gutaxis.knowledge import load_marker_catalog

__all__ = ["profile_bundle", "patient_resource", "questionnaire_response_resource",
           "care_plan_resource", "nutrition_order_resource", "bundle", "resource_uuid",
           "PLAN_ACTIVITY_STATUS"]

#: The namespace of every UUID gutaxis derives (UUID 5 of the URL ``https://gutaxis.org/fhir``).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://gutaxis.org/fhir")
_DATETIME = re.compile(
    r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_INTERPRETATION = {"high": ("H", "High"), "low": ("L", "Low"), "within": ("N", "Normal")}
_GENDERS = ("male", "female", "other", "unknown")
#: A plan item's status in the practice application → ``CarePlan.activity.detail.status``.
PLAN_ACTIVITY_STATUS = {"proposed": "not-started", "active": "in-progress",
                        "paused": "on-hold", "stopped": "stopped", "done": "completed"}
_REQUEST_STATUS = ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error",
                   "unknown")
_CARE_PLAN_INTENT = ("proposal", "plan", "order", "option")
_NUTRITION_INTENT = ("proposal", "plan", "directive", "order", "original-order",
                     "reflex-order", "filler-order", "instance-order", "option")
_BUNDLE_TYPES = ("collection", "searchset", "transaction")


def resource_uuid(*keys: object) -> str:
    """Return the UUID 5 gutaxis derives from ``keys`` (joined by ``|``).

    Parameters
    ----------
    *keys : object
        Stable keys: patient id, sample id, creation time, measure id...

    Returns
    -------
    str

    Examples
    --------
    >>> resource_uuid("profile", "P1") == resource_uuid("profile", "P1")
    True
    >>> resource_uuid("profile", "P1") == resource_uuid("profile", "P2")
    False
    """
    return str(uuid.uuid5(_NAMESPACE, "|".join(str(k) for k in keys)))


# --- checking the input ------------------------------------------------------------------

def _field(doc: Mapping[str, Any], key: str, where: str, types: type | tuple[type, ...],
           *, required: bool = True, default: Any = None) -> Any:
    if not isinstance(doc, Mapping):
        raise FormatError(f"{where}: expected an object; got {type(doc).__name__}")
    if key not in doc or doc[key] is None:
        if required:
            raise FormatError(f"{where}.{key}: missing; expected {_names(types)}")
        return default
    value = doc[key]
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types):
        raise FormatError(f"{where}.{key}: expected {_names(types)}; got {value!r}")
    return value


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _names(types: type | tuple[type, ...]) -> str:
    words = {str: "a text", int: "an integer", float: "a number", list: "a list",
             dict: "an object", Mapping: "an object", bool: "true or false"}
    return " or ".join(words.get(t, t.__name__) for t in _tuple(types))


def _number(value: Any, where: str) -> float | None:
    """Read a profile.json number: a JSON number, null, or ``"inf"`` / ``"-inf"``."""
    if value is None:
        return None
    if value in ("inf", "-inf"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormatError(f"{where}: expected a number, null, \"inf\" or \"-inf\"; "
                          f"got {value!r}")
    return None if math.isnan(value) else float(value)


def _when(value: Any, where: str, *, instant: bool = False) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(f"{where}: a date and time needs its time zone; got "
                                  f"{value.isoformat()!r}")
        return value.isoformat()
    if isinstance(value, date) and not instant:
        return value.isoformat()
    pattern = _INSTANT if instant else _DATETIME
    if not isinstance(value, str) or not pattern.fullmatch(value):
        kind = "an instant (date, time and zone)" if instant else "a FHIR date or dateTime"
        raise ValidationError(f"{where}: expected {kind} such as 2026-03-04T05:06:07+00:00; "
                              f"got {value!r}")
    return value


def _id(value: Any, where: str) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _ID.fullmatch(text):
        raise ValidationError(f"{where}: a FHIR id is 1–64 letters, digits, '-' or '.'; "
                              f"got {value!r}")
    return text


def _reference(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, str) or not (
            value.startswith("urn:uuid:") or re.fullmatch(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}",
                                                         value)):
        raise ValidationError(f"{where}: expected a reference such as 'Patient/7' or "
                              f"'urn:uuid:…'; got {value!r}")
    return {"reference": value}


# --- one profile -------------------------------------------------------------------------

def _quantity(value: float, unit: str, ucum: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value}
    if unit:
        out["unit"] = unit
    if ucum:
        out.update(system=UCUM, code=ucum)
    return out


def _scale(kind: str, value: float) -> float:
    """Relative abundances leave as percentages (fraction × 100, 12 significant digits)."""
    return float(f"{value * 100:.12g}") if kind == "taxon" else value


def _unit(kind: str, key: str, unit: str) -> tuple[str, str | None]:
    """Return the unit written and its UCUM code (``None`` unless the catalogue's unit)."""
    if kind == "taxon":
        return "%", "%"
    if kind == "marker":
        entry = next((m for m in load_marker_catalog().markers if m.id == key), None)
        if entry is not None and entry.ucum and unit == entry.unit:
            return unit, entry.ucum
    return unit, None


def _absent(value: float | None, notes: Sequence[str]) -> dict[str, Any]:
    if value is None:
        code, text = "unknown", (notes[0] if notes else "no value")
    else:
        code = "negative-infinity" if value < 0 else "positive-infinity"
        text = f"the value is {'-' if value < 0 else '+'}infinity"
    return {"coding": [{"system": DATA_ABSENT_REASON, "code": code}], "text": str(text)}


def _range(rng: Mapping[str, Any], kind: str, unit: str, ucum: str | None,
           where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # FHIR's referenceRange is the NORMAL range: where a borderline band lies below
    # "high" (calprotectin: normal ≤ 50, borderline 50–120, high above 120), the normal
    # range ends where the band starts, and the band is said in the text
    borderline = _number(rng.get("borderline_high"), f"{where}.borderline_high")
    top = _number(rng.get("high"), f"{where}.high")
    band = borderline is not None and math.isfinite(borderline) and (
        top is None or borderline < top)
    for end in ("low", "high"):
        bound = _number(rng.get(end), f"{where}.{end}")
        if end == "high" and band:
            bound = borderline
        if bound is not None and math.isfinite(bound):
            out[end] = _quantity(_scale(kind, bound), unit, ucum)
    origin = str(rng.get("kind") or "range")
    if origin != "lab":
        # not a laboratory's range: typed so (a gutaxis code), so that an importer never
        # takes it for one (gutaxis.fhir.read_lab_bundle does not)
        out["type"] = range_type_code(origin)
    words = [str(rng.get("label") or "range"), f"({origin}"
             f"{': ' + str(rng['source']) if rng.get('source') else ''})"]
    if band:
        assert borderline is not None
        words.append(f"borderline from {_scale(kind, borderline):g} {unit}".rstrip()
                     + (f", high above {_scale(kind, top):g} {unit}".rstrip()
                        if top is not None and math.isfinite(top) else ""))
    elif borderline is not None and math.isfinite(borderline):
        words.append(f"borderline from {_scale(kind, borderline):g} {unit}".rstrip())
    out["text"] = " ".join(words)
    return out


def _components(measure: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    percentile = _number(measure.get("percentile"), f"{where}.percentile")
    if percentile is None:
        return []
    out: list[dict[str, Any]] = [{"code": component_code("percentile"),
                                  "valueQuantity": {"value": percentile}}]
    low = _number(measure.get("ci_low"), f"{where}.ci_low")
    high = _number(measure.get("ci_high"), f"{where}.ci_high")
    if low is not None and high is not None:
        out.append({"code": component_code("percentile-interval"),
                    "valueRange": {"low": {"value": low}, "high": {"value": high}}})
    n = measure.get("reference_n")
    if isinstance(n, int) and not isinstance(n, bool):
        out.append({"code": component_code("reference-n"), "valueInteger": n})
    return out


def _observation(measure: Mapping[str, Any], where: str, *, key: str, subject: Any,
                 effective: str, issued: str, warnings: Sequence[Mapping[str, Any]]
                 ) -> dict[str, Any]:
    mid = _field(measure, "id", where, str)
    kind, _, name = mid.partition(":")
    if kind not in ("index", "taxon", "marker") or not name:
        raise FormatError(f"{where}.id: expected 'index:…', 'taxon:…' or 'marker:…'; "
                          f"got {mid!r}")
    label = _field(measure, "label", where, str, required=False, default=mid)
    coder = {"index": index_code, "taxon": taxon_code, "marker": marker_code}[kind]
    status = _field(measure, "status", where, str)
    unit, ucum = _unit(kind, name, _field(measure, "unit", where, str, required=False,
                                          default=""))
    notes = [str(n) for n in _field(measure, "notes", where, list, required=False,
                                    default=[])]
    caveats = [str(c) for c in _field(measure, "caveats", where, list, required=False,
                                      default=[])]
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": resource_uuid(key, mid), "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory",
                                  "display": "Laboratory"}]}],
        "code": coder(name, label)}
    if subject is not None:
        obs["subject"] = subject
    obs["effectiveDateTime"] = effective
    obs["issued"] = issued
    value = _number(measure.get("value"), f"{where}.value")
    if value is None or not math.isfinite(value):
        obs["dataAbsentReason"] = _absent(value, notes)
    else:
        quantity = _quantity(_scale(kind, value), unit, ucum)
        censored = measure.get("censored")
        if censored is not None:
            if censored not in ("<", ">"):
                raise FormatError(f"{where}.censored: expected \"<\", \">\" or null; "
                                  f"got {censored!r}")
            quantity = {"value": quantity.pop("value"), "comparator": censored, **quantity}
        obs["valueQuantity"] = quantity
    if status in _INTERPRETATION:
        code, display = _INTERPRETATION[status]
        obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": code,
                                              "display": display}], "text": status}]
    elif status in ("borderline", "not comparable"):
        obs["interpretation"] = [{"text": status}]
    rng = measure.get("range_used")
    if rng is not None:
        obs["referenceRange"] = [_range(_field(measure, "range_used", where, Mapping), kind,
                                        unit, ucum, f"{where}.range_used")]
    texts = ([f"Caveat: {c}" for c in caveats] + [f"Note: {n}" for n in notes]
             + [f"Comparability warning ({w['code']}): {w['message']}" for w in warnings
                if mid in (w.get("affects") or [])])
    if texts:
        obs["note"] = [{"text": t} for t in texts]
    components = _components(measure, where)
    if components:
        obs["component"] = components
    return obs


def profile_bundle(profile: Mapping[str, Any], *, patient: Mapping[str, Any] | None = None,
                   effective: str | date | datetime | None = None,
                   measured: Mapping[str, str | date | datetime] | None = None
                   ) -> dict[str, Any]:
    """Return a profile as a FHIR R4 ``Bundle`` (type ``collection``).

    The Bundle holds the ``Patient`` (when ``patient`` is given), one
    ``DiagnosticReport`` for the profile and one ``Observation`` per measure
    (indices, key taxa, markers; see ``docs/fhir.md`` for every element).

    Parameters
    ----------
    profile : mapping
        A ``profile.json`` document (schema 2.x; ``docs/output-schemas.md``):
        ``sample_id``, ``created``, ``patient_id``, ``reference``,
        ``warnings``, ``summary``, ``measures``, ``disclaimer``.
    patient : mapping, optional
        As :func:`patient_resource` takes it; the Observations' and the
        report's ``subject``.  Without it, a profile with a ``patient_id``
        names its subject by that identifier.
    effective : date, datetime or str, optional
        When the sample was taken (the visit's date); by default the
        profile's ``visit_date`` when it has one, else its ``created`` time.
    measured : mapping, optional
        When the laboratory measured a marker, by measure id
        (``{"marker:lps": "2026-11-20T09:00:00+01:00"}``): that
        Observation's ``effectiveDateTime`` instead of ``effective`` (a lab
        result keeps the time its lab gave it).

    Returns
    -------
    dict
        The Bundle; the same input gives the same Bundle (ids are UUID 5 of
        the patient, sample, creation time and measure ids).

    Raises
    ------
    FormatError
        ``profile`` lacks a key of the contract or holds a value of the wrong
        type (the message names the element: ``profile.json: measures[3].value``).
    ValidationError
        An ``effective`` or ``created`` that is not a FHIR date/dateTime; a
        patient that :func:`patient_resource` refuses.

    Examples
    --------
    >>> doc = {"sample_id": "S1", "created": "2026-03-04T05:06:07+00:00", "patient_id": None,
    ...        "warnings": [], "summary": {"clinician": []}, "disclaimer": "Supports.",
    ...        "measures": [{"id": "marker:calprotectin", "label": "Calprotectin",
    ...                      "kind": "marker", "value": 84.0, "unit": "ug/g",
    ...                      "status": "high", "censored": None}]}
    >>> b = profile_bundle(doc)
    >>> obs = b["entry"][1]["resource"]
    >>> obs["code"]["coding"][0]["code"], obs["valueQuantity"]["code"]
    ('38445-3', 'ug/g')
    """
    where = "profile.json"
    sample = _field(profile, "sample_id", where, str)
    created = _when(_field(profile, "created", where, str), f"{where}.created", instant=True)
    patient_id = _field(profile, "patient_id", where, str, required=False)
    if effective is None:  # the visit's day the profile recorded (2.2), else its creation
        effective = _field(profile, "visit_date", where, str, required=False)
    eff = created if effective is None else _when(effective, "effective")
    key = ("profile", patient_id or "", sample, created)
    resources: list[dict[str, Any]] = []
    subject: dict[str, Any] | None = None
    if patient is not None:
        pat = patient_resource(patient)
        resources.append(pat)
        subject = {"reference": _full_url(pat)}
    elif patient_id:
        subject = {"identifier": {"value": patient_id}, "display": f"patient {patient_id}"}
    warnings = _field(profile, "warnings", where, list, required=False, default=[])
    for i, w in enumerate(warnings):
        _field(w, "code", f"{where}.warnings[{i}]", str)
        _field(w, "message", f"{where}.warnings[{i}]", str)
    measures = _field(profile, "measures", where, list)
    times = {str(k): _when(v, f"measured[{k!r}]") for k, v in (measured or {}).items() if v}
    observations = [_observation(m, f"{where}.measures[{i}]", key="|".join(key),
                                 subject=subject,
                                 effective=times.get(str(m.get("id")), eff)
                                 if isinstance(m, Mapping) else eff,
                                 issued=created, warnings=warnings)
                    for i, m in enumerate(measures)]
    summary = _field(profile, "summary", where, Mapping, required=False, default={})
    lines = [str(s) for s in summary.get("clinician") or []]
    lines += [f"Warning ({w['code']}): {w['message']}" for w in warnings]
    disclaimer = _field(profile, "disclaimer", where, str, required=False)
    if disclaimer:
        lines.append(disclaimer)
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": resource_uuid(*key), "status": "final",
        "code": {"coding": [{"system": gutaxis_system(), "code": "profile",
                             "display": "gutaxis microbiome and marker profile"}],
                 "text": f"gutaxis profile of sample {sample}"}}
    if subject is not None:
        report["subject"] = subject
    report.update(effectiveDateTime=eff, issued=created,
                  result=[{"reference": _full_url(o)} for o in observations])
    if lines:
        report["conclusion"] = "\n".join(lines)
    resources += [report, *observations]
    return bundle(resources, bundle_id=resource_uuid("bundle", *key), timestamp=created)


# --- the other resources -----------------------------------------------------------------

def patient_resource(patient: Mapping[str, Any]) -> dict[str, Any]:
    """Return a FHIR R4 ``Patient``.

    Parameters
    ----------
    patient : mapping
        ``id`` (required: the application's id, a FHIR id), ``name`` (text),
        ``birth_date`` (date or ``YYYY-MM-DD``), ``sex`` (``male``,
        ``female``, ``other`` or ``unknown``: ``gender``), ``identifiers``
        (list of ``{system, value}``).

    Returns
    -------
    dict

    Raises
    ------
    ValidationError
        An id that is not a FHIR id, a ``sex`` outside the four codes, a
        birth date that is not a date.

    Examples
    --------
    >>> patient_resource({"id": 7, "name": "Ada Example", "sex": "female"})["gender"]
    'female'
    """
    where = "patient"
    out: dict[str, Any] = {"resourceType": "Patient",
                           "id": _id(patient.get("id") if isinstance(patient, Mapping)
                                     else None, f"{where}.id")}
    identifiers = _field(patient, "identifiers", where, list, required=False, default=[])
    if identifiers:
        out["identifier"] = [{"system": _field(i, "system", f"{where}.identifiers[{n}]", str),
                              "value": _field(i, "value", f"{where}.identifiers[{n}]", str)}
                             for n, i in enumerate(identifiers)]
    name = _field(patient, "name", where, str, required=False)
    if name:
        out["name"] = [{"text": name}]
    sex = _field(patient, "sex", where, str, required=False)
    if sex is not None:
        if sex not in _GENDERS:
            raise ValidationError(f"{where}.sex: expected one of {', '.join(_GENDERS)}; "
                                  f"got {sex!r}")
        out["gender"] = sex
    birth = patient.get("birth_date")
    if birth is not None:
        text = birth.isoformat() if isinstance(birth, date) else birth
        if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValidationError(f"{where}.birth_date: expected a date (YYYY-MM-DD); "
                                  f"got {birth!r}")
        out["birthDate"] = text
    return out


def questionnaire_response_resource(questionnaire: Any, answers: Mapping[str, Any], *,
                                    subject: str, authored: str | datetime,
                                    resource_id: str | None = None) -> dict[str, Any]:
    """Return a completed FHIR R4 ``QuestionnaireResponse`` of a stored answer set.

    Parameters
    ----------
    questionnaire : Questionnaire, mapping, path or JSON text
        The definition the answers were given to (what
        :func:`gutaxis.questionnaires.load_questionnaire` reads); its
        ``url|version`` becomes the response's ``questionnaire``.
    answers : mapping of linkId to value
    subject : str
        ``"Patient/7"`` (or a ``urn:uuid:`` of a Bundle).
    authored : datetime or str
        With its time zone.
    resource_id : str, optional
        The response's id; by default a UUID 5 of the subject, canonical and time.

    Returns
    -------
    dict

    Raises
    ------
    ValidationError
        An invalid answer or definition (the questionnaire's own messages).

    Examples
    --------
    >>> from gutaxis.questionnaires import bundled_questionnaires
    >>> qr = questionnaire_response_resource(bundled_questionnaires()["BristolStoolForm"],
    ...     {"stool_type": "4"}, subject="Patient/7", authored="2026-12-05T08:14:00Z")
    >>> qr["status"], qr["questionnaire"].split("|")[0]
    ('completed', 'urn:gutaxis:questionnaire:bristol-stool-form')
    """
    from gutaxis.questionnaires import (
        Questionnaire,
        load_questionnaire,
        to_questionnaire_response,
    )

    definition = (questionnaire if isinstance(questionnaire, Questionnaire)
                  else load_questionnaire(questionnaire))
    if subject.startswith("urn:uuid:"):
        response = to_questionnaire_response(definition, answers, "Patient/x", authored)
        response["subject"] = {"reference": subject}
    else:
        response = to_questionnaire_response(definition, answers, subject, authored)
    rid = (_id(resource_id, "resource_id") if resource_id is not None else
           resource_uuid("QuestionnaireResponse", subject, response["questionnaire"],
                         response["authored"]))
    return {"resourceType": "QuestionnaireResponse", "id": rid,
            **{k: v for k, v in response.items() if k != "resourceType"}}


def _source_uri(source: Any) -> str | None:
    if isinstance(source, Mapping):
        if source.get("doi"):
            return f"https://doi.org/{source['doi']}"
        if source.get("pmid"):
            return f"https://pubmed.ncbi.nlm.nih.gov/{source['pmid']}/"
        url = source.get("url")
        return str(url) if url else None
    text = str(source)
    doi = re.search(r"doi:\s*(10\.\d{4,9}/\S+)", text)
    if doi:
        return f"https://doi.org/{doi.group(1).rstrip('.,;')}"
    url = re.search(r"https?://\S+", text)
    return url.group(0).rstrip(".,;)") if url else None


def _source_text(source: Any) -> str:
    if isinstance(source, Mapping):
        return str(source.get("citation") or _source_uri(source) or "")
    return str(source)


def care_plan_resource(plan: Mapping[str, Any], *, subject: str,
                       status: str = "active", intent: str = "plan") -> dict[str, Any]:
    """Return a 5R plan as a FHIR R4 ``CarePlan``, one activity per item.

    Parameters
    ----------
    plan : mapping
        ``id`` (optional, a FHIR id; by default a UUID 5 of the subject and
        items), ``title``, ``created`` (date/dateTime), ``items``: a list of
        ``{title, step (5R step), status (proposed, active, paused, stopped,
        done), evidence_level, sources (citations as text or {citation, doi |
        pmid | url}), details, option_id, reference (optional: the request
        carrying it, such as the NutritionOrder of an elimination protocol;
        FHIR's cpl-3 allows a reference or a detail, so such an activity has
        the reference, its title as ``display`` and the rest as ``progress``
        notes)}``.
    subject : str
        ``"Patient/7"`` or a ``urn:uuid:``.
    status : str, default "active"
        R4 RequestStatus.
    intent : str, default "plan"
        R4 CarePlanIntent.

    Returns
    -------
    dict
        Each activity's ``detail`` has the item as ``code.text``, its 5R step
        and evidence level as ``reasonCode`` texts, its sources' DOIs / URLs
        in ``instantiatesUri`` and their citations in ``progress`` notes.

    Raises
    ------
    ValidationError
        A status, intent or item status outside its value set.
    FormatError
        A missing ``items`` or item ``title``.

    Examples
    --------
    >>> cp = care_plan_resource({"items": [{"title": "Psyllium", "step": "repair",
    ...     "status": "active", "sources": ["Ford AC. doi:10.1038/ajg.2014.187"]}]},
    ...     subject="Patient/7")
    >>> d = cp["activity"][0]["detail"]
    >>> d["status"], d["instantiatesUri"]
    ('in-progress', ['https://doi.org/10.1038/ajg.2014.187'])
    """
    if status not in _REQUEST_STATUS:
        raise ValidationError(f"status: expected one of {', '.join(_REQUEST_STATUS)}; "
                              f"got {status!r}")
    if intent not in _CARE_PLAN_INTENT:
        raise ValidationError(f"intent: expected one of {', '.join(_CARE_PLAN_INTENT)}; "
                              f"got {intent!r}")
    items = _field(plan, "items", "plan", list)
    activities = []
    for n, item in enumerate(items):
        where = f"plan.items[{n}]"
        title = _field(item, "title", where, str)
        item_status = _field(item, "status", where, str, required=False, default="proposed")
        if item_status not in PLAN_ACTIVITY_STATUS:
            raise ValidationError(f"{where}.status: expected one of "
                                  f"{', '.join(PLAN_ACTIVITY_STATUS)}; got {item_status!r}")
        detail: dict[str, Any] = {"status": PLAN_ACTIVITY_STATUS[item_status],
                                  "code": {"text": title}}
        sources = _field(item, "sources", where, list, required=False, default=[])
        uris = [u for u in (_source_uri(s) for s in sources) if u]
        if uris:
            detail["instantiatesUri"] = list(dict.fromkeys(uris))
        reasons = []
        step = _field(item, "step", where, str, required=False)
        if step:
            reasons.append({"text": f"5R step: {step}"})
        level = _field(item, "evidence_level", where, str, required=False)
        if level:
            reasons.append({"text": f"evidence: {level}"})
        if reasons:
            detail["reasonCode"] = reasons
        details = _field(item, "details", where, str, required=False)
        if details:
            detail["description"] = details
        activity: dict[str, Any] = {}
        texts = [t for t in (_source_text(s) for s in sources) if t]
        if texts:
            activity["progress"] = [{"text": "Sources: " + "; ".join(texts)}]
        ref = item.get("reference")
        if ref is None:
            activity["detail"] = detail
        else:  # cpl-3: a reference or a detail, not both; the detail's words become notes
            activity["reference"] = {**_reference(ref, f"{where}.reference"), "display": title}
            words = [f"status: {detail['status']}"] + [r["text"] for r in reasons]
            words += [f"source: {u}" for u in detail.get("instantiatesUri", [])]
            if details:
                words.append(details)
            activity["progress"] = [{"text": "; ".join(words)}, *activity.get("progress", [])]
        activities.append(activity)
    pid = plan.get("id")
    out: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": (_id(pid, "plan.id") if pid is not None else
               resource_uuid("CarePlan", subject, *(i.get("title") for i in items))),
        "status": status, "intent": intent}
    title = _field(plan, "title", "plan", str, required=False)
    if title:
        out["title"] = title
    out["subject"] = _reference(subject, "subject")
    created = plan.get("created")
    if created is not None:
        out["created"] = _when(created, "plan.created")
    out["activity"] = activities
    return out


def nutrition_order_resource(protocol: Mapping[str, Any], *, patient: str,
                             status: str = "active", intent: str = "plan") -> dict[str, Any]:
    """Return an elimination protocol as a FHIR R4 ``NutritionOrder``.

    Parameters
    ----------
    protocol : mapping
        ``id`` (optional FHIR id), ``date_time`` (when it was set up; required),
        ``groups`` (food-group ids of the catalogue, ``foods.yaml``),
        ``foods`` (other excluded foods, as text), ``elimination_start``
        (date) and ``elimination_days`` (int), ``instruction`` (text),
        ``template`` (the knowledge base's template id, for the text).
    patient : str
        ``"Patient/7"`` or a ``urn:uuid:``.
    status : str, default "active"
        R4 RequestStatus.
    intent : str, default "plan"

    Returns
    -------
    dict
        ``excludeFoodModifier`` holds one entry per group (gutaxis code
        ``food-group:<id>``, the group's name as text) and per food (text);
        ``oralDiet`` says it is an elimination diet and when.

    Raises
    ------
    ValidationError
        Nothing to exclude; a status or intent outside its value set; a bad date.

    Examples
    --------
    >>> no = nutrition_order_resource({"date_time": "2026-03-01", "groups": ["gluten"]},
    ...                               patient="Patient/7")
    >>> no["excludeFoodModifier"][0]["coding"][0]["code"]
    'food-group:gluten'
    """
    if status not in _REQUEST_STATUS:
        raise ValidationError(f"status: expected one of {', '.join(_REQUEST_STATUS)}; "
                              f"got {status!r}")
    if intent not in _NUTRITION_INTENT:
        raise ValidationError(f"intent: expected one of {', '.join(_NUTRITION_INTENT)}; "
                              f"got {intent!r}")
    groups = [str(g) for g in _field(protocol, "groups", "protocol", list, required=False,
                                     default=[])]
    foods = [str(f) for f in _field(protocol, "foods", "protocol", list, required=False,
                                    default=[])]
    if not groups and not foods:
        raise ValidationError("protocol: an elimination protocol needs groups or foods to "
                              "exclude; got neither")
    when = _when(protocol.get("date_time"), "protocol.date_time")
    template = _field(protocol, "template", "protocol", str, required=False)
    diet: dict[str, Any] = {"type": [{"text": "Elimination diet" + (f" ({template})"
                                                                    if template else "")}]}
    start = protocol.get("elimination_start")
    days = _field(protocol, "elimination_days", "protocol", int, required=False)
    if start is not None:
        begin = start if isinstance(start, date) else date.fromisoformat(
            _when(start, "protocol.elimination_start")[:10])
        period: dict[str, str] = {"start": begin.isoformat()}
        if days is not None:
            period["end"] = date.fromordinal(begin.toordinal() + days - 1).isoformat()
        diet["schedule"] = [{"repeat": {"boundsPeriod": period}}]
    instruction = _field(protocol, "instruction", "protocol", str, required=False)
    if instruction:
        diet["instruction"] = instruction
    pid = protocol.get("id")
    return {"resourceType": "NutritionOrder",
            "id": (_id(pid, "protocol.id") if pid is not None else
                   resource_uuid("NutritionOrder", patient, when, *groups, *foods)),
            "status": status, "intent": intent, "patient": _reference(patient, "patient"),
            "dateTime": when, "oralDiet": diet,
            "excludeFoodModifier": [food_group_code(g) for g in groups]
            + [{"text": f} for f in foods]}


def _full_url(resource: Mapping[str, Any]) -> str:
    rid = str(resource["id"])
    try:
        return f"urn:uuid:{uuid.UUID(rid)}"
    except ValueError:
        return f"urn:uuid:{resource_uuid(resource['resourceType'], rid)}"


def bundle(resources: Iterable[Mapping[str, Any]], *, type: str = "collection",
           bundle_id: str | None = None, timestamp: str | None = None) -> dict[str, Any]:
    """Return resources as a FHIR R4 ``Bundle``.

    Parameters
    ----------
    resources : iterable of mapping
        Resources with ``resourceType`` and ``id``.
    type : {"collection", "searchset", "transaction"}
        A transaction's entries are ``PUT <type>/<id>``.
    bundle_id : str, optional
        By default a UUID 5 of the entries' full URLs.
    timestamp : str, optional
        An instant.

    Returns
    -------
    dict
        Each entry's ``fullUrl`` is ``urn:uuid:`` + the resource id when it
        is a UUID, else a UUID 5 of ``<type>|<id>``.

    Raises
    ------
    ValidationError
        An unknown type, a resource without ``resourceType`` or ``id``.

    Examples
    --------
    >>> b = bundle([patient_resource({"id": "7"})])
    >>> b["type"], b["entry"][0]["fullUrl"].startswith("urn:uuid:")
    ('collection', True)
    """
    if type not in _BUNDLE_TYPES:
        raise ValidationError(f"type: expected one of {', '.join(_BUNDLE_TYPES)}; "
                              f"got {type!r}")
    entries = []
    for n, resource in enumerate(resources):
        if not isinstance(resource, Mapping) or not isinstance(
                resource.get("resourceType"), str) or "id" not in resource:
            raise ValidationError(f"resources[{n}]: expected a FHIR resource with "
                                  "resourceType and id")
        entry: dict[str, Any] = {"fullUrl": _full_url(resource), "resource": dict(resource)}
        if type == "searchset":
            entry["search"] = {"mode": "match"}
        elif type == "transaction":
            entry["request"] = {"method": "PUT",
                                "url": f"{resource['resourceType']}/{resource['id']}"}
        entries.append(entry)
    out: dict[str, Any] = {"resourceType": "Bundle",
                           "id": bundle_id or resource_uuid("bundle",
                                                            *(e["fullUrl"] for e in entries)),
                           "type": type}
    if timestamp is not None:
        out["timestamp"] = _when(timestamp, "timestamp", instant=True)
    if type == "searchset":
        out["total"] = len(entries)
    out["entry"] = entries
    return out
