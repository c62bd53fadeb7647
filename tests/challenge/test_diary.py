"""DIARY.csv and CHALLENGES.csv: what is read, and the one-line errors."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from gutaxis.challenge import diary_from_rows, read_challenges, read_diary
from gutaxis.exceptions import FormatError, ValidationError


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_diary_is_read_with_its_kinds_and_values(tmp_path):
    path = _write(tmp_path, "DIARY.csv", (
        "\ufefftime,kind,item,value\n"
        "2026-03-01T21:00,symptom,bloating,4\n"
        "2026-03-01T08:10,food,wheat bread,\n"
        "2026-03-02T07:30,stool,bristol,4\n"
        "2026-03-02T07:30+01:00,sleep,sleep,7.5\n"
        "2026-03-02,medication,omeprazole,20 mg\n"
        "\n"
        "2026-03-02T20:00,food,Onion,large\n"))
    diary = read_diary(path)
    assert list(diary.entries["kind"]) == ["food", "symptom", "medication", "stool", "sleep",
                                           "food"]
    assert diary.foods()["portion"].tolist() == ["usual", "large"]
    assert diary.symptoms()["score"].tolist() == [4.0]
    assert diary.entries.loc[diary.entries["kind"] == "sleep", "time"].iloc[0] == \
        dt.datetime(2026, 3, 2, 7, 30)  # the offset is dropped, the wall clock kept
    assert diary.entries["line"].tolist() == [3, 2, 6, 4, 5, 8]


@pytest.mark.parametrize("row, message", [
    ("2026-03-01,symptom,bloating,11", "line 2: field 'value': symptom 'bloating': the score "
                                       "from 0 (none) to 10 (worst); got '11'"),
    ("2026-03-01,symptom,bloating,", "line 2: field 'value' is empty"),
    ("2026-03-01,stool,bristol,8", "line 2: field 'value': the Bristol stool form type"),
    ("2026-03-01,stool,bristol,3.5", "line 2: field 'value': the Bristol stool form type"),
    ("2026-03-01,sleep,sleep,25", "line 2: field 'value': hours slept"),
    ("2026-03-01,food,bread,huge", "line 2: field 'value': a food portion must be small"),
    ("2026-03-01,food,bread,-1", "line 2: field 'value': a food portion must be small"),
    ("2026-03-01,meal,bread,small", "line 2: field 'kind': expected one of food, symptom"),
    ("2026-03-01,food,,small", "line 2: field 'item' is empty"),
    ("yesterday,food,bread,small", "line 2: field 'time': expected an ISO 8601 date"),
    (",food,bread,small", "line 2: field 'time' is empty"),
    ("2026-03-01,symptom,pain,nan", "line 2: field 'value': expected a number; got 'nan'"),
    ("2026-03-01,food,bread,small,extra", "line 2: 5 cells but the header has 4 columns"),
])
def test_a_bad_diary_row_is_named(tmp_path, row, message):
    path = _write(tmp_path, "DIARY.csv", "time,kind,item,value\n" + row + "\n")
    with pytest.raises((ValidationError, FormatError)) as caught:
        read_diary(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize("text, message", [
    ("", "empty file; expected the header time,kind,item,value"),
    ("when,kind,item,value\n", "line 1: expected the header time,kind,item,value"),
    ("time,kind,item,value\n", "no diary rows"),
    (b"time,kind,item,value\n2026-03-01,food,p\xe2t\xe9,small\n",
     "line 2: byte 0xe2 is not UTF-8 text"),
    ("time,kind,item,value\n".encode("utf-16"), "the file is UTF-16; save the diary"),
])
def test_a_bad_diary_file_is_named(tmp_path, text, message):
    path = tmp_path / "DIARY.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(FormatError, match=message):
        read_diary(path)


def test_rows_from_the_application_are_checked_like_a_file():
    with pytest.raises(ValidationError, match=r"portal diary: row 2: field 'value': symptom"):
        diary_from_rows([("2026-03-01T08:00", "symptom", "pain", 3),
                         (dt.datetime(2026, 3, 1, 9), "symptom", "pain", 12)], "portal diary")


def test_steps_of_rising_portions_form_one_challenge_and_a_repeat_another(tmp_path):
    path = _write(tmp_path, "CHALLENGES.csv", (
        "food_group,start,end,portion,sham\n"
        "fructans,2026-03-15,2026-03-15,small,false\n"
        "fructans,2026-03-16,2026-03-16,usual,\n"
        "fructans,2026-03-17,2026-03-17,large,no\n"
        "capsule,2026-03-22,2026-03-24,,true\n"
        "fructans,2026-03-29,2026-03-31,usual,false\n"))
    challenges = read_challenges(path)
    assert [(c.food_group, c.sham, c.days, [s.portion for s in c.steps]) for c in challenges] == [
        ("fructans", False, 3, ["small", "usual", "large"]),
        ("capsule", True, 3, [""]),
        ("fructans", False, 3, ["usual"])]


@pytest.mark.parametrize("rows, message", [
    ("gluten,2026-03-15,2026-03-14,,false", "line 2: field 'end' (2026-03-14) is before field "
                                            "'start' (2026-03-15)"),
    ("gluten,2026-03-15,2026-03-17,,maybe", "line 2: field 'sham': expected true or false"),
    ("gluten,2026-03-15,2026-03-17,,\nlactose,2026-03-17,2026-03-18,,",
     "line 3: the challenge of 'lactose' from 2026-03-17 overlaps the challenge 'gluten "
     "2026-03-15 to 2026-03-17'"),
    (",2026-03-15,2026-03-17,,", "line 2: field 'food_group' is empty"),
    ("gluten,,2026-03-17,,", "line 2: field 'start' is empty"),
])
def test_bad_challenges_are_named(tmp_path, rows, message):
    path = _write(tmp_path, "CHALLENGES.csv", "food_group,start,end,portion,sham\n" + rows + "\n")
    with pytest.raises(ValidationError) as caught:
        read_challenges(path)
    assert str(caught.value) == f"{path}: {message}" or message in str(caught.value)


@pytest.mark.parametrize("row, message", [
    ("0001-01-01,symptom,pain,3", "field 'time': the year 1 is outside 1900–2200"),
    ("9999-12-31,stool,bristol,4", "field 'time': the year 9999 is outside 1900–2200"),
    ("2026-03-01,symptom,bloa\x00ting,3", "field 'item' holds the control character U+0000"),
    ('2026-03-01,food,"wheat bread,usual\n2026-03-02,symptom,pain,3',
     "holds the control character U+000A (a quote opened and never closed?)"),
])
def test_out_of_range_years_control_characters_and_open_quotes_are_named(tmp_path, row,
                                                                          message):
    path = _write(tmp_path, "DIARY.csv", "time,kind,item,value\n" + row + "\n")
    with pytest.raises(ValidationError, match=re.escape(message)):
        read_diary(path)


def test_names_differing_only_in_case_are_one_symptom_and_one_group(tmp_path):
    diary = read_diary(_write(tmp_path, "DIARY.csv", "time,kind,item,value\n"
                              "2026-03-01,symptom,Bloating,3\n2026-03-02,symptom,bloating,4\n"))
    assert diary.symptom_names == ["Bloating"]
    challenges = read_challenges(_write(tmp_path, "CHALLENGES.csv", (
        "food_group,start,end\nGluten,2026-03-15,2026-03-15\ngluten,2026-03-16,2026-03-16\n")))
    assert [(c.food_group, c.days) for c in challenges] == [("Gluten", 2)]


def test_a_symptom_scored_twice_at_one_moment_differently_is_a_warning(tmp_path):
    path = tmp_path / "DIARY.csv"
    path.write_text("time,kind,item,value\n2026-03-01T21:00,symptom,bloating,4\n"
                    "2026-03-01T21:00,symptom,Bloating,9\n2026-03-01T21:00,symptom,pain,2\n"
                    "2026-03-01T21:00,symptom,pain,2\n2026-03-02T21:00,symptom,bloating,9\n")
    with pytest.warns(UserWarning) as caught:
        diary = read_diary(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: lines 2, 3 score 'bloating' at the same moment (2026-03-01 21:00) "
        "differently (4, 9); both are kept and averaged with the day's other scores: check "
        "the file"]
    assert len(diary.entries) == 5  # nothing dropped
