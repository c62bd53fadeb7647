"""Questionnaire definitions for the practice's tests (made up here: no real instrument).

:func:`scale_definition` is a FHIR R4 Questionnaire that exists only for these
tests: three 0-10 items scored as a sum (0-30), a made-up minimal important
difference of 5 on the total (its "source" says it is a test value), and one
subscale without any MID — so that both a marked change and "no published
minimal important difference" can be checked by hand.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from gutaxis.questionnaires import ORDINAL_VALUE, SCORING

MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
ENTRY_FORMAT = "http://hl7.org/fhir/StructureDefinition/entryFormat"
#: The made-up MID of the test definition's total.
TEST_MID = 5.0


def _number(link_id: str, text: str, *, help_text: str = "") -> dict[str, Any]:
    extension: list[dict[str, Any]] = [{"url": MIN_VALUE, "valueInteger": 0},
                                       {"url": MAX_VALUE, "valueInteger": 10}]
    if help_text:
        extension.append({"url": ENTRY_FORMAT, "valueString": help_text})
    return {"linkId": link_id, "text": text, "type": "integer", "required": True,
            "extension": extension}


_DEFINITION: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "url": "urn:gutaxis-tests:questionnaire:test-scale",
    "version": "1",
    "name": "TestScale",
    "title": "Test scale (made up for the tests)",
    "status": "draft",
    "description": "Three questions invented for gutaxis's tests.",
    "extension": [{"url": SCORING, "extension": [
        {"url": "method", "valueCode": "sum"},
        {"url": "minimum", "valueDecimal": 0},
        {"url": "maximum", "valueDecimal": 30},
        {"url": "direction", "valueCode": "higher-is-worse"},
        {"url": "mid", "extension": [
            {"url": "value", "valueDecimal": TEST_MID},
            {"url": "source", "valueString": "a value made up for gutaxis's tests"}]},
        {"url": "subscale", "extension": [
            {"url": "name", "valueString": "first_two"},
            {"url": "title", "valueString": "First two"},
            {"url": "item", "valueString": "q1"},
            {"url": "item", "valueString": "q2"}]},
        {"url": "licence", "valueString": "Test licence text: made up, not an instrument."},
        {"url": "source", "valueString": "Test source text: gutaxis's own tests."},
    ]}],
    "item": [
        {"linkId": "about", "type": "display", "text": "A made-up scale for the tests."},
        _number("q1", "How much of thing one?", help_text="0 is none, 10 is the most."),
        _number("q2", "How much of thing two?"),
        {"linkId": "q3", "text": "Pick one", "type": "choice", "required": True,
         "answerOption": [
             {"valueCoding": {"code": "low", "display": "A little", "extension": [
                 {"url": ORDINAL_VALUE,
                  "valueDecimal": 0}]}},
             {"valueCoding": {"code": "high", "display": "A lot", "extension": [
                 {"url": ORDINAL_VALUE,
                  "valueDecimal": 10}]}}]},
    ],
}


def scale_definition(**changes: Any) -> dict[str, Any]:
    """The test definition as a JSON object, with top-level fields changed (``version=...``)."""
    definition = copy.deepcopy(_DEFINITION)
    definition.update(changes)
    return definition


def definition_bytes(**changes: Any) -> bytes:
    """The test definition as a file's bytes."""
    return json.dumps(scale_definition(**changes), indent=1).encode()


def broken_definition() -> bytes:
    """The test definition with a scored choice option that has no score (the checker refuses)."""
    definition = scale_definition()
    del definition["item"][3]["answerOption"][1]["valueCoding"]["extension"]
    return json.dumps(definition).encode()
