"""The questionnaire engine: definitions checked rule by rule, scores by hand, MID, FHIR output."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gutaxis.exceptions import FormatError, InputError, UnsafeInputError, ValidationError
from gutaxis.questionnaires import (
    ORDINAL_VALUE,
    SCORING,
    Scores,
    bundled_questionnaires,
    check_answers,
    compare,
    load_questionnaire,
    score,
    to_questionnaire_response,
)

ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
LEVELS = [("none", "None"), ("mild", "Mild"), ("moderate", "Moderate"), ("severe", "Severe")]


def _part(url, **value):
    return {"url": url, **value}


def _definition() -> dict:
    """A small questionnaire using every feature: a group, two ways of scoring options,
    integer, decimal, boolean and string items, two subscales, a MID on the total and on one
    subscale."""
    pain = {"linkId": "pain", "text": "Belly pain?", "type": "choice", "required": True,
            "answerOption": [{"valueCoding": {
                "code": code, "display": display,
                "extension": [{"url": ORDINAL_VALUE, "valueDecimal": k}]}}
                for k, (code, display) in enumerate(LEVELS)]}
    bloat = {"linkId": "bloat", "text": "Bloating?", "type": "choice",
             "answerOption": [{"extension": [{"url": ITEM_WEIGHT, "valueDecimal": k}],
                               "valueCoding": {"system": "urn:test:levels", "code": code}}
                              for k, (code, _display) in enumerate(LEVELS)]}
    return {
        "resourceType": "Questionnaire", "url": "urn:test:questionnaire", "version": "1.0",
        "name": "TestGutScore", "title": "A test questionnaire", "status": "active",
        "extension": [{"url": SCORING, "extension": [
            _part("method", valueCode="sum"), _part("minimum", valueDecimal=0),
            _part("maximum", valueDecimal=22), _part("direction", valueCode="higher-is-worse"),
            _part("mid", extension=[_part("value", valueDecimal=3),
                                    _part("source", valueString="made up for this test")]),
            _part("subscale", extension=[
                _part("name", valueString="belly"), _part("title", valueString="Belly"),
                _part("item", valueString="pain"), _part("item", valueString="bloat"),
                _part("mid", extension=[_part("value", valueDecimal=2),
                                        _part("source", valueString="made up as well")])]),
            _part("subscale", extension=[
                _part("name", valueString="other"), _part("item", valueString="sleep"),
                _part("item", valueString="energy"), _part("item", valueString="diarrhoea")]),
            _part("licence", valueString="test only"),
            _part("source", valueString="this test file")]}],
        "item": [
            {"linkId": "belly", "text": "Your belly", "type": "group", "item": [pain, bloat]},
            {"linkId": "sleep", "text": "Poor sleep (0-10)?", "type": "integer",
             "extension": [{"url": MIN, "valueInteger": 0}, {"url": MAX, "valueInteger": 10}]},
            {"linkId": "energy", "text": "Low energy (0-5)?", "type": "decimal",
             "extension": [{"url": MIN, "valueDecimal": 0}, {"url": MAX, "valueDecimal": 5}]},
            {"linkId": "diarrhoea", "text": "Any diarrhoea?", "type": "boolean"},
            {"linkId": "notes", "text": "Anything else?", "type": "string"},
        ],
    }


FULL = {"pain": "moderate", "bloat": "severe", "sleep": 4, "energy": 2.5, "diarrhoea": True,
        "notes": "felt better at the weekend"}


@pytest.fixture
def questionnaire():
    return load_questionnaire(_definition())


def _scoring_parts(data):
    return data["extension"][0]["extension"]


def _set_part(data, name, **value):
    parts = _scoring_parts(data)
    for k, part in enumerate(parts):
        if part["url"] == name:
            parts[k] = _part(name, **value)
            return data
    parts.append(_part(name, **value))
    return data


def _drop_part(data, name):
    data["extension"][0]["extension"] = [p for p in _scoring_parts(data) if p["url"] != name]
    return data


# ---------------------------------------------------------------- reading
def test_a_definition_is_read_with_its_scoring_rules(questionnaire):
    assert [i.link_id for i in questionnaire.walk()] == [
        "belly", "pain", "bloat", "sleep", "energy", "diarrhoea", "notes"]
    assert questionnaire.item("pain").path == "item[0].item[0]"
    assert questionnaire.item("bloat").path == "item[0].item[1]"
    scoring = questionnaire.scoring
    assert scoring.link_ids == ("pain", "bloat", "sleep", "energy", "diarrhoea")
    assert (scoring.minimum, scoring.maximum, scoring.minimum_answered) == (0, 22, 0.8)
    assert [(s.name, s.title, s.minimum, s.maximum) for s in scoring.subscales] == [
        ("belly", "Belly", 0, 6), ("other", "other", 0, 16)]
    assert scoring.mid.value == 3 and scoring.subscales[1].mid is None
    assert [o.score for o in questionnaire.item("bloat").options] == [0, 1, 2, 3]
    assert questionnaire.canonical == "urn:test:questionnaire|1.0"


def test_a_file_a_text_and_a_mapping_read_the_same(tmp_path, questionnaire):
    path = tmp_path / "licensed-instrument.json"
    path.write_text(json.dumps(_definition()), encoding="utf-8")
    from_file = load_questionnaire(path)
    from_text = load_questionnaire(json.dumps(_definition()))
    assert from_file == questionnaire == from_text
    assert score(from_file, FULL).total == 12.5


def _message(where: str, text: str) -> str:
    return "^" + re.escape(f"{where}: {text}") + "$"


def _broken(change):
    data = _definition()
    change(data)
    return data


def _pain(data):
    return data["item"][0]["item"][0]


BROKEN = [
    # (what is broken, change, the exact message after "questionnaire: ")
    ("resourceType", lambda d: d.update(resourceType="Patient"),
     "resourceType: expected 'Questionnaire'; got 'Patient'"),
    ("url", lambda d: d.pop("url"), "url: expected a non-empty text; got null"),
    ("url with a space", lambda d: d.update(url="urn:my scale"),
     "url: expected a URI (no spaces); got 'urn:my scale'"),
    # a NUL in a linkId went into the portal form's field name, and the answer was lost
    ("NUL in a linkId", lambda d: _pain(d).update(linkId="pa\x00in"),
     "item[0].item[0].linkId: holds the control character U+0000 (at character 3); FHIR "
     "text may hold none but tab and line breaks"),
    ("escape in a title", lambda d: d.update(title="Gut \x1b[31m"),
     "title: holds the control character U+001B (at character 5); FHIR text may hold none "
     "but tab and line breaks"),
    ("line break in a linkId", lambda d: _pain(d).update(linkId="pa\nin"),
     "item[0].item[0].linkId: 'pa\\nin' holds a tab or a line break; a linkId names a field "
     "of the portal's form, whose name a browser changes"),
    ("line break in a code", lambda d: _pain(d)["answerOption"][1]["valueCoding"].update(
        code="mi\nld"),
     "item[0].item[0].answerOption[1].valueCoding.code: expected a FHIR code (no tab, line "
     "break, double space or space at either end); got 'mi\\nld'"),
    ("long linkId", lambda d: _pain(d).update(linkId="p" * 256),
     "item[0].item[0].linkId: expected at most 255 characters; got 256"),
    ("status", lambda d: d.update(status="final"),
     "status: expected one of draft, active, retired, unknown; got 'final'"),
    ("no items", lambda d: d.update(item=[]),
     "item: expected a list of at least one item; got []"),
    ("duplicate linkId", lambda d: d["item"][1].update(linkId="pain"),
     "item[1].linkId: 'pain' is used twice (first at item[0].item[0])"),
    ("item type", lambda d: d["item"][1].update(type="slider"),
     "item[1].type: expected one of group, display, boolean, decimal, integer, string, text, "
     "choice; got 'slider'"),
    ("repeats", lambda d: d["item"][4].update(repeats=True),
     "item[4].repeats: gutaxis takes one answer per item; expected false or absent; got true"),
    ("empty group", lambda d: d["item"][0].update(item=[]),
     "item[0].item: a group needs a list of at least one item; got []"),
    ("choice without options", lambda d: _pain(d).pop("answerOption"),
     "item[0].item[0].answerOption: a choice item needs a list of at least one answer option; "
     "got null"),
    ("option not coded", lambda d: _pain(d)["answerOption"].__setitem__(1, {"valueString": "x"}),
     'item[0].item[0].answerOption[1]: expected valueCoding with a code (gutaxis reads coded '
     'answers only); got {"valueString": "x"}'),
    ("option code twice", lambda d: _pain(d)["answerOption"][2]["valueCoding"].update(code="none"),
     "item[0].item[0].answerOption[2]: code 'none' is used twice (first at answerOption[0])"),
    ("option without a score", lambda d: _pain(d)["answerOption"][1]["valueCoding"].pop(
        "extension"),
     f"item[0].item[0].answerOption[1]: expected ordinalValue (extension {ORDINAL_VALUE}) or "
     "itemWeight with a number; found none"),
    ("score not a number", lambda d: _pain(d)["answerOption"][1]["valueCoding"].update(
        extension=[{"url": ORDINAL_VALUE, "valueString": "one"}]),
     "item[0].item[0].answerOption[1].valueCoding: expected ordinalValue or itemWeight with a "
     'number (valueDecimal); got {"valueString": "one"}'),
    ("scored number without bounds", lambda d: d["item"][1].pop("extension"),
     "item[1]: a scored number item needs minValue and maxValue extensions"),
    ("bounds the wrong way", lambda d: d["item"][1].update(extension=[
        {"url": MIN, "valueInteger": 10}, {"url": MAX, "valueInteger": 0}]),
     "item[1].extension: minValue (10) must be below maxValue (0)"),
    ("integer bound not whole", lambda d: d["item"][1].update(extension=[
        {"url": MIN, "valueInteger": 0.5}, {"url": MAX, "valueInteger": 10}]),
     "item[1].extension[minValue]: expected valueInteger with a number; got "
     '{"valueInteger": 0.5}'),
    ("maximum", lambda d: _set_part(d, "maximum", valueDecimal=30),
     "extension[scoring].maximum: expected 22 (what the scored items allow); got 30"),
    ("minimum missing", lambda d: _drop_part(d, "minimum"),
     "extension[scoring].minimum: missing; expected a part with url 'minimum' and valueDecimal"),
    ("method", lambda d: _set_part(d, "method", valueCode="median"),
     "extension[scoring].method: expected 'sum' or 'mean'; got 'median'"),
    ("direction", lambda d: _set_part(d, "direction", valueCode="up"),
     "extension[scoring].direction: expected one of higher-is-worse, higher-is-better, "
     "unordered; got 'up'"),
    ("share answered", lambda d: _set_part(d, "minimumAnswered", valueDecimal=1.5),
     "extension[scoring].minimumAnswered: expected a number above 0 and at most 1; got 1.5"),
    ("no mid and no note", lambda d: _drop_part(d, "mid"),
     "extension[scoring]: expected a mid (value and source) or a midNote saying why none is "
     "given; found neither"),
    ("mid of zero", lambda d: _set_part(d, "mid", extension=[
        _part("value", valueDecimal=0), _part("source", valueString="x")]),
     "extension[scoring].mid.value: expected a number above 0; got 0"),
    ("mid without source", lambda d: _set_part(d, "mid", extension=[
        _part("value", valueDecimal=3)]),
     "extension[scoring].mid.source: missing; expected a part with url 'source' and "
     "valueString"),
    ("subscale item", lambda d: _scoring_parts(d)[5]["extension"].__setitem__(
        2, _part("item", valueString="pian")),
     "extension[scoring].subscale[0]: item 'pian' is not a scored item (scored items: pain, "
     "bloat, sleep, energy, diarrhoea)"),
    ("subscale named total", lambda d: _scoring_parts(d)[6]["extension"].__setitem__(
        0, _part("name", valueString="total")),
     "extension[scoring]: a subscale may not be named 'total' (the name of the whole score)"),
    ("licence", lambda d: _drop_part(d, "licence"),
     "extension[scoring].licence: missing; expected a part with url 'licence' and valueString"),
    ("scored item listed", lambda d: _scoring_parts(d).append(
        _part("scoredItem", valueString="notes")),
     "extension[scoring].scoredItem[0]: 'notes' is not a choice, integer, decimal or boolean "
     "item of the questionnaire"),
]


@pytest.mark.parametrize(("change", "message"), [case[1:] for case in BROKEN],
                         ids=[case[0] for case in BROKEN])
def test_each_broken_definition_is_refused_with_its_exact_message(change, message):
    with pytest.raises(FormatError, match=_message("questionnaire", message)):
        load_questionnaire(_broken(change))


def test_broken_files_name_the_file(tmp_path):
    path = tmp_path / "q.json"
    path.write_text('{"resourceType": "Questionnaire",', encoding="utf-8")
    with pytest.raises(FormatError, match=_message(
            str(path), "not valid JSON (line 1 column 34: Expecting property name enclosed in "
                       "double quotes)")):
        load_questionnaire(path)
    with pytest.raises(FormatError, match=r"q-missing\.json: cannot read the file"):
        load_questionnaire(tmp_path / "q-missing.json")
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(FormatError, match=r"q\.json: byte 0 is not UTF-8 text"):
        load_questionnaire(path)
    with pytest.raises(FormatError, match=_message(
            "questionnaire text", "not valid JSON (line 1 column 2: Expecting property name "
                                  "enclosed in double quotes)")):
        load_questionnaire("{not json")
    with pytest.raises(InputError, match=r"path_or_text must be a path, JSON text or a mapping"):
        load_questionnaire(42)


def test_oversized_and_deeply_nested_definitions_are_refused(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (2 * 1024 * 1024 + 1))
    with pytest.raises(UnsafeInputError, match=r"a questionnaire definition may be at most"):
        load_questionnaire(path)
    data = _definition()
    inner = {"linkId": "leaf", "type": "string"}
    for depth in range(9):
        inner = {"linkId": f"g{depth}", "type": "group", "item": [inner]}
    data["item"].append(inner)
    with pytest.raises(UnsafeInputError, match=r"items nest deeper than 8 levels"):
        load_questionnaire(data)


# ---------------------------------------------------------------- scoring
def test_scores_by_hand(questionnaire):
    result = score(questionnaire, FULL)
    # pain moderate 2 + bloat severe 3 + sleep 4 + energy 2.5 + diarrhoea yes 1
    assert result.total == 12.5
    assert result.subscales == {"belly": 5.0, "other": 7.5}
    assert (result.answered, result.scored_items, result.prorated, result.missing) == (
        5, 5, (), ())
    assert result.questionnaire == "urn:test:questionnaire|1.0"
    assert score(questionnaire, {**FULL, "diarrhoea": False, "pain": {"code": "none"}}).total == 9.5


def test_a_score_is_prorated_when_at_least_80_percent_of_its_items_are_answered(questionnaire):
    answers = {**FULL, "sleep": None}
    result = score(questionnaire, answers)
    # 4 of 5 answered (80 %): mean 8.5 / 4 = 2.125, times 5 items
    assert result.total == pytest.approx(10.625)
    assert result.subscales["belly"] == 5.0                    # complete
    assert result.subscales["other"] is None                   # 2 of 3 answered: 67 % < 80 %
    assert result.prorated == ("total",) and result.missing == ("sleep",)
    two_missing = {k: v for k, v in FULL.items() if k not in ("sleep", "energy")}
    assert score(questionnaire, two_missing).total is None     # 3 of 5: 60 %


def test_the_share_and_the_mean_method_come_from_the_definition():
    data = _set_part(_definition(), "minimumAnswered", valueDecimal=0.5)
    lenient = load_questionnaire(data)
    answers = {"pain": "moderate", "bloat": "severe", "diarrhoea": True}
    assert score(lenient, answers).total == pytest.approx(2.0 * 5)   # mean of 2, 3, 1 times 5
    data = _set_part(_definition(), "method", valueCode="mean")
    _set_part(data, "maximum", valueDecimal=4.4)                     # 22 / 5
    means = load_questionnaire(data)
    result = score(means, FULL)
    assert result.total == pytest.approx(2.5)
    assert result.subscales == {"belly": 2.5, "other": 2.5}
    assert score(means, {**FULL, "sleep": None}).total == pytest.approx(8.5 / 4)


@pytest.mark.parametrize(("answers", "message"), [
    ({"pian": "mild"}, r"answers: 'pian' is not an item of TestGutScore; did you mean 'pain'\?"),
    ({"pain": "awful"}, r"answers\['pain'\]: expected one of the codes none, mild, moderate, "
                        r"severe; got 'awful'"),
    ({"sleep": 11}, r"answers\['sleep'\]: expected an integer from 0 to 10; got 11"),
    ({"sleep": 2.5}, r"answers\['sleep'\]: expected an integer from 0 to 10; got 2.5"),
    ({"sleep": True}, r"answers\['sleep'\]: expected an integer from 0 to 10; got True"),
    ({"energy": float("nan")}, r"answers\['energy'\]: expected a number from 0 to 5; got nan"),
    ({"diarrhoea": "yes"}, r"answers\['diarrhoea'\]: expected true or false; got 'yes'"),
    ({"notes": 3}, r"answers\['notes'\]: expected a text; got 3"),
    ({"belly": "x"}, r"answers\['belly'\]: a group item takes no answer; got 'x'"),
])
def test_bad_answers_are_named(questionnaire, answers, message):
    with pytest.raises(ValidationError, match=message):
        score(questionnaire, answers)


def test_wrong_argument_types_are_input_errors(questionnaire):
    with pytest.raises(InputError,
                       match=r"answers must be a mapping of linkId to answer; got list"):
        check_answers(questionnaire, [("pain", "mild")])
    with pytest.raises(InputError, match=r"questionnaire must be a Questionnaire; got dict"):
        score(_definition(), FULL)
    unscored = _definition()
    unscored.pop("extension")
    with pytest.raises(ValidationError, match=r"TestGutScore has no scoring rules"):
        score(load_questionnaire(unscored), FULL)


# ---------------------------------------------------------------- MID
def test_changes_are_judged_against_the_published_mid(questionnaire):
    before = score(questionnaire, FULL)                                   # total 12.5, belly 5
    better = score(questionnaire, {**FULL, "pain": "none", "diarrhoea": False})   # 9.5, belly 3
    changes = compare(before, better, questionnaire)
    assert list(changes) == ["total", "belly", "other"]
    total = changes["total"]
    assert (total.change, total.beyond_mid, total.direction) == (-3.0, True, "better")
    assert total.mid.value == 3 and total.mid.source == "made up for this test"
    assert (changes["belly"].change, changes["belly"].beyond_mid) == (-2.0, True)
    other = changes["other"]
    assert (other.change, other.beyond_mid, other.direction) == (-1.0, None, "better")
    assert other.note == "no minimal important difference is given for it"

    slightly = score(questionnaire, {**FULL, "energy": 0.0})              # 10.0: -2.5
    assert compare(before, slightly, questionnaire)["total"].beyond_mid is False
    worse = score(questionnaire, {**FULL, "pain": "severe", "sleep": 6})  # 15.5: +3
    change = compare(before, worse, questionnaire)["total"]
    assert (change.change, change.beyond_mid, change.direction) == (3.0, True, "worse")
    same = compare(before, before, questionnaire)["total"]
    assert (same.change, same.beyond_mid, same.direction) == (0.0, False, "no change")


def test_a_missing_score_or_another_questionnaire_is_not_compared(questionnaire):
    before = score(questionnaire, FULL)
    thin = score(questionnaire, {"pain": "mild"})
    change = compare(thin, before, questionnaire)["total"]
    assert (change.previous, change.change, change.beyond_mid, change.direction) == (
        None, None, None, None)
    assert change.note == "a score is missing (too few items answered)"
    bristol = bundled_questionnaires()["BristolStoolForm"]
    with pytest.raises(ValidationError, match=r"previous was scored with "
                                              r"urn:test:questionnaire\|1.0, not with urn:gutaxis"):
        compare(before, before, bristol)
    with pytest.raises(InputError, match=r"previous must be a Scores"):
        compare({"total": 1}, before, questionnaire)


# ---------------------------------------------------------------- FHIR QuestionnaireResponse
def test_a_completed_questionnaire_response(questionnaire):
    response = to_questionnaire_response(questionnaire, FULL, "Patient/42",
                                         datetime(2026, 12, 5, 8, 14, tzinfo=UTC))
    assert json.loads(json.dumps(response)) == response   # plain JSON
    assert response == {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "urn:test:questionnaire|1.0",
        "status": "completed",
        "subject": {"reference": "Patient/42"},
        "authored": "2026-12-05T08:14:00+00:00",
        "item": [
            {"linkId": "belly", "text": "Your belly", "item": [
                {"linkId": "pain", "text": "Belly pain?",
                 "answer": [{"valueCoding": {"code": "moderate", "display": "Moderate"}}]},
                {"linkId": "bloat", "text": "Bloating?",
                 "answer": [{"valueCoding": {"system": "urn:test:levels", "code": "severe"}}]}]},
            {"linkId": "sleep", "text": "Poor sleep (0-10)?", "answer": [{"valueInteger": 4}]},
            {"linkId": "energy", "text": "Low energy (0-5)?", "answer": [{"valueDecimal": 2.5}]},
            {"linkId": "diarrhoea", "text": "Any diarrhoea?", "answer": [{"valueBoolean": True}]},
            {"linkId": "notes", "text": "Anything else?",
             "answer": [{"valueString": "felt better at the weekend"}]},
        ],
    }


def test_unanswered_items_and_empty_groups_are_left_out(questionnaire):
    response = to_questionnaire_response(questionnaire, {"pain": "mild", "sleep": 3},
                                         "Patient/42", "2026-12-05T08:14:00+01:00")
    assert [i["linkId"] for i in response["item"]] == ["belly", "sleep"]
    assert [i["linkId"] for i in response["item"][0]["item"]] == ["pain"]
    assert response["authored"] == "2026-12-05T08:14:00+01:00"
    offset = datetime(2026, 12, 5, 8, 14, tzinfo=timezone(timedelta(hours=-5)))
    assert to_questionnaire_response(questionnaire, {"pain": "mild"}, "Patient/a-1",
                                     offset)["authored"] == "2026-12-05T08:14:00-05:00"


@pytest.mark.parametrize(("answers", "subject", "authored", "message"), [
    ({"sleep": 3}, "Patient/42", "2026-12-05T08:14:00Z",
     r"a completed response needs every required item; unanswered: pain"),
    ({"pain": "mild"}, "42", "2026-12-05T08:14:00Z",
     r"subject_ref must be a FHIR reference Type/id such as 'Patient/123'; got '42'"),
    ({"pain": "mild"}, "Patient/42", datetime(2026, 12, 5, 8, 14),
     r"authored must carry its time zone"),
    ({"pain": "mild"}, "Patient/42", "2026-12-05 08:14",
     r"authored must be a FHIR dateTime with its time zone"),
    ({"pain": "severe!"}, "Patient/42", "2026-12-05T08:14:00Z",
     r"answers\['pain'\]: expected one of the codes"),
])
def test_a_response_that_cannot_be_completed_is_refused(questionnaire, answers, subject,
                                                         authored, message):
    with pytest.raises(ValidationError, match=message):
        to_questionnaire_response(questionnaire, answers, subject, authored)


# ---------------------------------------------------------------- the bundled questionnaires
def test_only_instruments_whose_terms_allow_it_are_shipped():
    bundled = bundled_questionnaires()
    assert sorted(bundled) == ["BristolStoolForm", "GutSymptomCheckIn"]
    for q in bundled.values():
        assert q.scoring is not None and q.status == "active"
        assert "gutaxis" in q.scoring.licence and "BSD-3-Clause" in q.scoring.licence
        assert not re.search(r"MSQ|IBS-SSS|GSRS|PROMIS", json.dumps(q.definition))


def test_the_bristol_form_scores_the_stool_type():
    bristol = bundled_questionnaires()["BristolStoolForm"]
    assert [score(bristol, {"stool_type": str(n)}).total for n in range(1, 8)] == [
        1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert score(bristol, {}).total is None
    assert "doi:10.3109/00365529709011203" in bristol.scoring.source
    assert bristol.scoring.mid is None and bristol.scoring.direction == "unordered"
    change = compare(score(bristol, {"stool_type": "2"}), score(bristol, {"stool_type": "6"}),
                     bristol)["total"]
    assert (change.change, change.direction, change.beyond_mid) == (4.0, "higher", None)
    assert "no minimal important difference" in change.note


def test_the_gut_check_in_is_labelled_not_validated_and_scores_by_hand():
    check_in = bundled_questionnaires()["GutSymptomCheckIn"]
    assert "written for gutaxis, not validated" in check_in.title
    assert check_in.scoring.mid is None and "not validated" in check_in.scoring.mid_note
    answers = {"bloating": 6, "abdominal_pain": 4, "wind": 5, "urgency": 2, "fatigue": 7,
               "gut_overall": 6}
    result = score(check_in, answers)
    assert (result.total, result.subscales) == (30.0, {"belly": 15.0, "daily_life": 15.0})
    partial = score(check_in, {**answers, "gut_overall": None})
    assert partial.total == pytest.approx(24 / 5 * 6)       # 5 of 6 answered (83 %)
    assert partial.subscales == {"belly": 15.0, "daily_life": None}
    response = to_questionnaire_response(check_in, answers, "Patient/1", "2026-12-05T08:00:00Z")
    assert [i["answer"][0]["valueInteger"] for i in response["item"]] == [6, 4, 5, 2, 7, 6]
    with pytest.raises(ValidationError, match=r"expected an integer from 0 to 10; got 12"):
        score(check_in, {**answers, "fatigue": 12})


def test_the_definition_is_kept_as_read(questionnaire):
    data = _definition()
    q = load_questionnaire(data)
    data["title"] = "changed afterwards"
    assert q.definition["title"] == "A test questionnaire"
    assert isinstance(score(q, FULL), Scores)
    assert copy.deepcopy(q.definition) == _definition()
