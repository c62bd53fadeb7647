"""Questionnaires defined as data in the shape of a FHIR R4 ``Questionnaire``.

Loading and validating definitions, scoring answers (totals, subscales) and
comparing scores against a published minimal important difference.

A definition is a FHIR R4 ``Questionnaire`` in JSON: items with ``linkId``,
``text`` and ``type`` (``choice``, ``integer``, ``decimal``, ``boolean``,
``string``, ``text``, ``display``, ``group``), coded answer options scored with
the standard ``ordinalValue`` extension (or ``itemWeight``), number bounds with
``minValue``/``maxValue``, and the scoring rules in one gutaxis extension
(:data:`SCORING`; its parts are listed in :mod:`gutaxis.questionnaires._model`):
sum or mean, subscales, minimum and maximum, direction, the minimal important
difference with its source (or a note saying why there is none), licence and
source.

Reading
    :func:`load_questionnaire` (a file, JSON text or a parsed object; this is
    how a practice imports an instrument it holds a licence for),
    :func:`bundled_questionnaires` (the ones gutaxis ships:
    ``BristolStoolForm`` and ``GutSymptomCheckIn``), :class:`Questionnaire`,
    :class:`Item`, :class:`AnswerOption`, :class:`Scoring`, :class:`Subscale`,
    :class:`MinimalImportantDifference`.
Scoring
    :func:`check_answers`, :func:`score` → :class:`Scores` (the missing-answer
    rule: prorate when at least 80 % of a score's items are answered, else
    ``None``), :func:`compare` → :class:`ScoreChange` per score (beyond the MID
    or not).
Exchange
    :func:`to_questionnaire_response`: a completed FHIR R4
    ``QuestionnaireResponse``.

Examples
--------
>>> from gutaxis.questionnaires import bundled_questionnaires, score
>>> bristol = bundled_questionnaires()["BristolStoolForm"]
>>> score(bristol, {"stool_type": "6"}).total
6.0
"""

from gutaxis.questionnaires._model import (
    ITEM_WEIGHT,
    ORDINAL_VALUE,
    SCORING,
    AnswerOption,
    Item,
    MinimalImportantDifference,
    Questionnaire,
    Scoring,
    Subscale,
    bundled_questionnaires,
    load_questionnaire,
)
from gutaxis.questionnaires._response import to_questionnaire_response
from gutaxis.questionnaires._scoring import ScoreChange, Scores, check_answers, compare, score

__all__ = [
    "load_questionnaire", "bundled_questionnaires", "Questionnaire", "Item", "AnswerOption",
    "Scoring", "Subscale", "MinimalImportantDifference", "ORDINAL_VALUE", "ITEM_WEIGHT",
    "SCORING",
    "check_answers", "score", "compare", "Scores", "ScoreChange",
    "to_questionnaire_response",
]
