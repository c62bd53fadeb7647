"""gutaxis.checks: each check passes good values through and names the argument otherwise."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from gutaxis.checks import (
    check_file,
    check_folder,
    check_integer,
    check_names,
    check_number,
    check_path,
    check_type,
)
from gutaxis.exceptions import InputError, ValidationError
from gutaxis.study import Study


def test_check_type_names_the_expected_class_and_what_came():
    assert check_type(3, int, "n") == 3
    with pytest.raises(InputError, match=r"^study must be a Study; got str 'x.biom' \(read it "
                                         r"first\)$"):
        check_type("x.biom", Study, "study", hint="read it first")
    with pytest.raises(InputError, match=r"^options must be an int; got None$"):
        check_type(None, int, "options")
    long = "x" * 100
    with pytest.raises(InputError, match=r"got str$"):   # a long value is not quoted whole
        check_type(long, int, "n")


@pytest.mark.parametrize("value", [0, -1, 2.0, True, "3", None, np.float64(3.0)])
def test_check_integer_refuses_what_is_not_a_whole_number_at_least_the_minimum(value):
    with pytest.raises(ValidationError, match=r"^--rarefy must be an integer ≥ 1; got "):
        check_integer(value, "--rarefy", minimum=1)


def test_check_integer_keeps_numpy_integers():
    assert check_integer(np.int64(5), "n", minimum=1) == 5
    assert isinstance(check_integer(np.int64(5), "n", minimum=1), int)


def test_check_integer_raises_the_error_class_asked_for():
    with pytest.raises(InputError) as caught:
        check_integer(0, "n", minimum=1, error=InputError)
    assert type(caught.value) is InputError


@pytest.mark.parametrize(("kwargs", "value", "message"), [
    ({"minimum": 0, "maximum": 1}, 1.5, "must be a finite number in [0, 1]; got 1.5"),
    ({"minimum": 0}, -0.1, "must be a finite number ≥ 0; got -0.1"),
    ({"above": 0}, 0, "must be a finite number > 0; got 0"),
    ({"maximum": 10}, math.nan, "must be a finite number ≤ 10; got nan"),
    ({}, math.inf, "must be a finite number; got inf"),
    ({}, True, "must be a finite number; got True"),
    ({}, "2", "must be a finite number; got '2'"),
    ({"allow_none": True}, "x", "must be a finite number or None; got 'x'"),
])
def test_check_number_says_what_range_was_expected(kwargs, value, message):
    with pytest.raises(ValidationError) as caught:
        check_number(value, "alpha", **kwargs)
    assert str(caught.value) == f"alpha {message}"


def test_check_number_passes_good_values_as_float():
    assert check_number(np.float32(0.5), "x", minimum=0, maximum=1) == 0.5
    assert type(check_number(np.float32(0.5), "x")) is float
    assert check_number(None, "x", allow_none=True) is None
    assert check_number(math.inf, "x", finite=False) == math.inf


def test_check_path_accepts_str_and_pathlike_only(tmp_path):
    assert check_path("a/b.tsv", "--metadata") == Path("a/b.tsv")
    assert check_path(tmp_path, "--out") == tmp_path
    with pytest.raises(InputError, match=r"^--metadata must be a path \(a str or os.PathLike\); "
                                         r"got int 3$"):
        check_path(3, "--metadata")


def test_check_file_and_check_folder_tell_a_file_from_a_folder(tmp_path):
    f = tmp_path / "md.tsv"
    f.write_text("x")
    assert check_file(f, "--metadata") == f
    assert check_file(None, "--metadata") is None
    assert check_folder(tmp_path, "--reference") == tmp_path
    with pytest.raises(InputError, match=r"^--metadata .*nope\.tsv: no such file$"):
        check_file(tmp_path / "nope.tsv", "--metadata")
    with pytest.raises(InputError, match=r"^--metadata .*: is a folder; expected a file$"):
        check_file(tmp_path, "--metadata")
    with pytest.raises(InputError, match=r"^--reference .*ref: no such folder$"):
        check_folder(tmp_path / "ref", "--reference")
    with pytest.raises(InputError, match=r"^--reference .*md\.tsv: is a file; expected a folder$"):
        check_folder(f, "--reference")


def test_check_names_refuses_a_single_text_that_would_be_read_as_letters():
    assert check_names(["Age", "BMI"], "covariates") == ("Age", "BMI")
    assert check_names((n for n in ["a"]), "covariates") == ("a",)
    assert check_names([1, 2], "ids") == ("1", "2")  # numeric ids, as BIOM files have them
    with pytest.raises(InputError, match=r"got the text 'Age' \(write \['Age'\]\)"):
        check_names("Age", "covariates")
    with pytest.raises(InputError, match=r"^covariates must be a list of names; got int 5$"):
        check_names(5, "covariates")
    with pytest.raises(InputError, match=r"got dict$"):
        check_names({"a": 1}, "covariates")
