"""gutaxis.selection: --where conditions, subjects, and one value per subject."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gutaxis import Study
from gutaxis.exceptions import NotFoundError, ValidationError
from gutaxis.selection import (
    per_subject,
    sample_subjects,
    select_samples,
    subject_like_columns,
)


@pytest.fixture
def study() -> Study:
    md = pd.DataFrame({"diagnosis": ["CD", "UC", "CD", "nonIBD"], "age": [31, 45, 52, 28],
                       "my group": ["x", "y", "x", "y"], "host": [7.0, 7.0, 9.0, np.nan]},
                      index=["a", "b", "c", "d"])
    return Study(np.ones((4, 1)), list(md.index), ["f"]).with_metadata(md)


def test_where_selects_by_a_condition(study):
    assert select_samples(study, "diagnosis in ['CD', 'nonIBD']") == ["a", "c", "d"]
    assert select_samples(study, "`my group` == 'x' and age > 40") == ["c"]
    assert select_samples(study, None) == ["a", "b", "c", "d"]


@pytest.mark.parametrize(("where", "chosen"), [
    # what pandas' DataFrame.eval chose for each, before gutaxis evaluated conditions itself
    ("diagnosis not in ['CD']", ["b", "d"]),
    ("(age > 30) & ~(diagnosis == 'CD')", ["b"]),
    ("age > 30 or host == 9", ["a", "b", "c"]),
    ("not diagnosis == 'CD'", ["b", "d"]),
    ("30 < age <= 50", ["a", "b"]),
    ("age / 10 >= 4.5", ["b", "c"]),
    ("-age < -40 and `my group` != 'y'", ["c"]),
    ("host == host", ["a", "b", "c"]),  # a missing value equals nothing
    ("diagnosis == 'C`D' or age == 28", ["d"]),
    # & and | bind loosest, as pandas reads them (Python alone: age > (30 & age) < 50)
    ("age > 30 & age < 50", ["a", "b"]),
    ("age == 28 | age == 52", ["c", "d"]),
    ("~(host == 7) & age > 30", ["c"]),
    ("diagnosis in ['CD'] & age > 40", ["c"]),
    ("diagnosis == ['CD', 'UC']", ["a", "b", "c"]),  # a list: any of its values
    ("diagnosis != ['CD']", ["b", "d"]),
    ("index == 'b'", ["b"]),
])
def test_a_condition_selects_what_pandas_eval_selected(study, where, chosen):
    assert select_samples(study, where) == chosen
    assert select_samples(study, where) == [
        str(i) for i in study.samples.index[study.samples.eval(where, engine="python")
                                            .fillna(False).astype(bool)]]


@pytest.mark.parametrize(("where", "message"), [
    ("diagnosis == CD", r"\('CD' is not a column; if it is a value, quote it: 'CD'\)"),
    ("diagnsis == 'CD'", r"\('diagnsis' is not a column; did you mean 'diagnosis'\?\)"),
    ("(diagnosis == 'CD'", r"\(it is not a complete expression: check the quotes and "
                           r"brackets\)"),
    ("my group != 'x'", r"\(a column name with spaces goes between backticks: `my group`\)"),
    ("age", r"must be a true/false condition on each sample.*gives values such as 31$"),
    ("diagnosis = 'CD'", r"must be a true/false condition .* is not one \(it sets a column "
                         r"with '='; compare with '=='\)"),
    # pandas runs method calls: Subject.to_csv('/any/file') wrote a file
    ("diagnosis.to_csv('x.csv')", r"may only compare metadata columns with values .* calls a "
                                  r"function or method \(\"diagnosis\.to_csv\('x\.csv'\)\"\)"),
    ("diagnosis.str.len() > 2", r"calls a function or method \('diagnosis\.str\.len\(\)'\)"),
    ("age.__class__ == 1", r"reads an attribute \('age\.__class__'\)"),
    ("diagnosis[0] == 'C'", r"takes an item \('diagnosis\[0\]'\)"),
    ("age > 1\ndiagnosis.to_csv('x.csv')", r"is not one condition$"),
    # backticks inside quoted values hid a call from the first check (pandas still ran it)
    ("diagnosis == '`' + diagnosis.to_csv('x.csv') + '`'", r"calls a function or method"),
    ('diagnosis == "`" or diagnosis.to_csv(\'x.csv\') or "`"', r"calls a function or method"),
    ("diagnosis == f'{diagnosis.to_csv(\"x.csv\")}'", r"holds a Python JoinedStr expression"),
    ("'CD' in diagnosis", r"'in' takes a list of values on its right"),
    # what would take unbounded time or memory, or nest past Python's recursion limit
    ("2 ** 10**10 > age", r"holds a Python Pow expression"),
    ("'a' * 1000000000 == diagnosis", r"texts and lists are not multiplied or formatted"),
    ("(" * 500 + "age > 1" + ")" * 500, r"\(it nests too deeply\)"),
    ("x" * 2001, r"--where may be at most 2000 characters; got 2,001"),
    ("age > 30 # '\n and diagnosis == 'x`my group`y'", r"not a complete expression"),
])
def test_where_errors_say_what_is_wrong_in_words(study, where, message, tmp_path,
                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match=message) as info:
        select_samples(study, where)
    assert list(tmp_path.iterdir()) == []  # nothing was run
    text = str(info.value)
    for python in ("TokenError", "UndefinedVariableError", "NameError", "SyntaxError",
                   "DataFrame", "dtype"):
        assert python not in text


def test_subjects_are_read_as_text(study):
    with pytest.raises(ValidationError, match=r"--subject host: 1 sample\(s\) have no subject "
                                              r"value: d"):
        sample_subjects(study, "host")
    sub = study.subset_samples(["a", "b", "c"])
    assert sample_subjects(sub, "host").to_dict() == {"a": "7", "b": "7", "c": "9"}
    with pytest.raises(NotFoundError, match="hots"):
        sample_subjects(sub, "hots")


def test_per_subject_mean_and_first_by_hand():
    values = pd.DataFrame({"x": [1.0, 3.0, np.nan, 10.0], "y": [np.nan, np.nan, 2.0, 4.0]},
                          index=["a", "b", "c", "d"])
    subjects = pd.Series({"a": "p", "b": "p", "c": "q", "d": "q"}, name="host")
    means = per_subject(values, subjects)
    assert means.index.tolist() == ["p", "q"] and means.index.name == "host"
    assert means.loc["p", "x"] == 2.0 and np.isnan(means.loc["p", "y"])
    assert means.loc["q", "x"] == 10.0 and means.loc["q", "y"] == 3.0
    first = per_subject(values, subjects, how="first")
    assert first.loc["p", "x"] == 1.0 and first.loc["q", "y"] == 2.0


def test_subject_like_columns_by_name_and_by_nesting():
    md = pd.DataFrame({
        "dx": ["a"] * 6 + ["b"] * 6,
        "participant_id": [f"p{i // 3}" for i in range(12)],  # by name
        "box": [f"k{i // 2}" for i in range(12)],  # nested in dx, every value shared
        "sex": ["F", "M"] * 6,  # shared values, not nested
        "visit": [1, 2, 3] * 4,  # shared, not nested
        "batch": ["x", "y"] * 6,  # two values: a label
    })
    found = dict(subject_like_columns(md, "dx"))
    assert set(found) == {"participant_id", "box"}
    assert found["participant_id"].startswith("its name says so, and 4 distinct values among "
                                              "12 samples; 12 samples share")
    assert found["box"].startswith("every value of it lies in one group of dx")
    assert subject_like_columns(md.drop(columns=["participant_id", "box"]), "dx") == []
