"""gutaxis reference build and gutaxis profile as commands, on the bundled study."""

from __future__ import annotations

import json

import pytest

from gutaxis.commands import (
    ProfileOptions,
    ReferenceOptions,
    run_profile,
    run_reference_build,
)
from gutaxis.exceptions import InputError, OutputError, ValidationError
from gutaxis.io import example_dataset

MARKERS = ("LPSpgml", "LBPugml")


@pytest.fixture(scope="module")
def data():
    return example_dataset()


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ref") / "controls"
    result = run_reference_build(ReferenceOptions(
        table=data.table, metadata=data.metadata, name="controls",
        where="Subject == 'Control'", markers=MARKERS))
    result.write(folder)
    return folder


def test_the_reference_records_every_input_once(reference):
    meta = json.loads((reference / "reference.json").read_text())
    assert [r["role"] for r in meta["inputs"]] == ["table", "metadata"]
    assert meta["markers"]["LPS"]["unit"] == "pg/mL"


def test_a_where_selecting_nobody_lists_the_column_values(data):
    with pytest.raises(ValidationError, match=r"leaves 0 sample\(s\) \(column 'Subject' holds: "
                                              r"'Patient' 48, 'Control' 39\)"):
        run_reference_build(ReferenceOptions(table=data.table, metadata=data.metadata,
                                             name="x", where="Subject == 'control'"))


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"name": " "}, ValidationError, r"needs a name \(--name\)"),
    ({"min_reads": -1}, ValidationError, r"--min-reads must be an integer ≥ 0"),
    ({"classifier": "absent.joblib"}, InputError, r"^--classifier absent\.joblib: no such file"),
    ({"metadata": None}, InputError, r"needs the sample metadata \(--metadata\)"),
])
def test_reference_options_are_checked(data, kwargs, error, message):
    base = {"table": data.table, "metadata": data.metadata, "name": "x"}
    with pytest.raises(error, match=message) as caught:
        ReferenceOptions(**{**base, **kwargs})
    assert type(caught.value) is error  # not merely a subclass of it


def test_a_profile_never_writes_over_the_previous_visit(data, reference, tmp_path):
    options = {"table": data.table, "metadata": data.metadata, "markers": MARKERS,
               "reference": reference, "patient": "P01", "pdf": False}
    first = run_profile(ProfileOptions(sample="ERR1331786", visit_date="2026-01-10", **options))
    assert first.profile.visit_date == "2026-01-10"
    v1 = tmp_path / "v1"
    first.write(v1)
    second = run_profile(ProfileOptions(sample="ERR1331798", previous=v1 / "profile.json",
                                        **options))
    before = (v1 / "profile.json").read_bytes()
    for overwrite in (False, True):
        with pytest.raises(OutputError, match=r"would replace the input .*v1/profile\.json"):
            second.write(v1, overwrite=overwrite)
    assert (v1 / "profile.json").read_bytes() == before
    written = second.write(tmp_path / "v2")
    assert sorted(written) == ["html", "json"]  # pdf=False
    doc = json.loads(written["json"].read_text())
    assert doc["patient_id"] == "P01" and doc["followup"]
    assert not [w for w in doc["warnings"] if w["scope"] == "followup"]  # same patient


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"reference": "absent"}, InputError, r"^--reference absent: no such folder"),
    ({"labs": "absent.csv"}, InputError, r"^--labs absent\.csv: no such file"),
    ({"previous": "absent.json"}, InputError, r"^--previous absent\.json: no such file"),
    ({"sample": ""}, ValidationError, r"--sample must be a sample id"),
    ({"metadata": None}, ValidationError, r"markers are read from the sample metadata"),
    ({"patient": " "}, ValidationError, r"--patient must be a non-empty id"),
    ({"visit_date": "2026-02-30"}, ValidationError,
     r"--visit-date must be a date such as 2026-03-01; got '2026-02-30'"),
])
def test_profile_options_are_checked(data, reference, kwargs, error, message):
    base = {"table": data.table, "metadata": data.metadata, "markers": MARKERS,
            "reference": reference, "sample": "ERR1331786"}
    with pytest.raises(error, match=message):
        ProfileOptions(**{**base, **kwargs})
