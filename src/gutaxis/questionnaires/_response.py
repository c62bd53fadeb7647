"""Answers written as a FHIR R4 ``QuestionnaireResponse``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gutaxis.checks import check_type
from gutaxis.exceptions import ValidationError
from gutaxis.questionnaires._model import Item, Questionnaire
from gutaxis.questionnaires._scoring import check_answers

__all__ = ["to_questionnaire_response"]

#: A FHIR relative reference: ``Patient/123``.
_REFERENCE = re.compile(r"[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}")
#: A FHIR dateTime with a time: the time zone is required.
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _answer(item: Item, value: Any) -> dict[str, Any]:
    if item.type == "choice":
        option = item.option(value)
        assert option is not None  # checked by check_answers
        coding: dict[str, Any] = {"code": option.code}
        if option.system:
            coding = {"system": option.system, **coding}
        if option.display:
            coding["display"] = option.display
        return {"valueCoding": coding}
    key = {"boolean": "valueBoolean", "integer": "valueInteger", "decimal": "valueDecimal",
           "string": "valueString", "text": "valueString"}[item.type]
    return {key: value}


def _items(items: tuple[Item, ...], answers: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        entry: dict[str, Any] = {"linkId": item.link_id}
        if item.text:
            entry["text"] = item.text
        if item.type == "group":
            children = _items(item.items, answers)
            if children:
                out.append({**entry, "item": children})
        elif item.link_id in answers:
            out.append({**entry, "answer": [_answer(item, answers[item.link_id])]})
    return out


def to_questionnaire_response(questionnaire: Questionnaire, answers: Mapping[str, Any],
                              subject_ref: str, authored: datetime | str) -> dict[str, Any]:
    """Write answers as a completed FHIR R4 ``QuestionnaireResponse`` (a JSON-ready dict).

    Only answered items are written; a group appears when at least one of its
    items was answered.  A choice answer is written as the option's coding
    (code, display, system) from the definition.

    Parameters
    ----------
    questionnaire : Questionnaire
    answers : mapping of linkId to value
        As :func:`~gutaxis.questionnaires.check_answers` takes them.
    subject_ref : str
        Whom the answers are about, as a FHIR reference (``"Patient/123"``).
    authored : datetime or str
        When the answers were given: a time-zone-aware datetime, or a FHIR
        dateTime text with its time zone (``"2026-12-05T08:14:00Z"``).

    Returns
    -------
    dict
        ``resourceType``, ``questionnaire`` (``url|version``), ``status``
        (``"completed"``), ``subject``, ``authored`` and ``item``.

    Raises
    ------
    InputError
        Wrong argument types.
    ValidationError
        An invalid answer; a required item left unanswered; ``subject_ref`` not
        of the form ``Type/id``; ``authored`` without a time zone.

    Examples
    --------
    >>> from gutaxis.questionnaires import bundled_questionnaires
    >>> bristol = bundled_questionnaires()["BristolStoolForm"]
    >>> response = to_questionnaire_response(bristol, {"stool_type": "4"}, "Patient/7",
    ...                                      "2026-12-05T08:14:00Z")
    >>> response["status"], response["item"][0]["answer"][0]["valueCoding"]["code"]
    ('completed', '4')
    """
    checked = check_answers(questionnaire, answers)
    check_type(subject_ref, str, "subject_ref", hint='a FHIR reference such as "Patient/123"')
    if not _REFERENCE.fullmatch(subject_ref):
        raise ValidationError(f"subject_ref must be a FHIR reference Type/id such as "
                              f"'Patient/123'; got {subject_ref!r}")
    if isinstance(authored, datetime):
        if authored.tzinfo is None or authored.utcoffset() is None:
            raise ValidationError("authored must carry its time zone (a FHIR dateTime with a "
                                  f"time needs one); got {authored.isoformat()!r}")
        when = authored.isoformat()
    else:
        check_type(authored, str, "authored", hint="a datetime or a FHIR dateTime text")
        if not _DATETIME.fullmatch(authored):
            raise ValidationError("authored must be a FHIR dateTime with its time zone, such "
                                  f"as '2026-12-05T08:14:00Z'; got {authored!r}")
        when = authored
    missing = [i.link_id for i in questionnaire.walk()
               if i.required and i.type not in ("group", "display") and i.link_id not in checked]
    if missing:
        raise ValidationError(f"a completed response needs every required item; unanswered: "
                              f"{', '.join(missing)}")
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": questionnaire.canonical,
        "status": "completed",
        "subject": {"reference": subject_ref},
        "authored": when,
        "item": _items(questionnaire.items, checked),
    }
