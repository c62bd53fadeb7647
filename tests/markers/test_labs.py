"""LABS.csv: one lab result per row, matched to the catalogue and converted to its units."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest

from gutaxis.exceptions import FormatError, NotFoundError, UnitError, ValidationError
from gutaxis.markers.labs import TABLE_COLUMNS, LabResults, read_labs

HEADER = "sample_id,marker,value,unit,ref_low,ref_high,assay\n"


def _write(tmp_path, text, *, name="LABS.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_small_file_is_read_matched_and_converted(tmp_path):
    path = _write(tmp_path, HEADER +
                  'P1,Calprotectin,85,µg/g,0,50,"Bühlmann fCAL, ELISA"\n'
                  "P1,hs crp,0.21,mg/dL,0,0.3,\n"
                  "P2,FC,30,mg/kg,,,\n")
    labs = read_labs(path)
    assert isinstance(labs, LabResults) and len(labs) == 3
    assert list(labs.table.columns) == list(TABLE_COLUMNS)
    assert labs.table.index.names == ["sample_id", "marker"]
    assert labs.samples == ["P1", "P2"]
    assert labs.markers == ["calprotectin", "hscrp"]
    fc = labs.table.loc[("P1", "calprotectin")]
    assert (fc["value"], fc["unit"], fc["ref_low"], fc["ref_high"]) == (85.0, "ug/g", 0.0, 50.0)
    assert (fc["original_value"], fc["original_unit"], fc["line"]) == ("85", "µg/g", 2)
    assert fc["assay"] == "Bühlmann fCAL, ELISA" and fc["censored"] == ""
    crp = labs.table.loc[("P1", "hscrp")]  # mg/dL → mg/L: ×10, the range too, no float noise
    assert (crp["value"], crp["unit"], crp["ref_low"], crp["ref_high"]) == (2.1, "mg/L", 0.0, 3.0)
    assert crp["original_value"] == "0.21" and crp["original_unit"] == "mg/dL"
    p2 = labs.table.loc[("P2", "calprotectin")]
    assert p2["value"] == 30.0 and math.isnan(p2["ref_low"]) and p2["assay"] == ""
    assert labs.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert labs.path == str(path)


def test_for_sample_gives_one_samples_results_by_marker(tmp_path):
    labs = read_labs(_write(tmp_path, HEADER + "P1,LPS,120,pg/mL,,,\nP2,LPS,80,pg/mL,,,\n"
                            "P1,LBP,9,ug/mL,,,\n"))
    one = labs.for_sample("P1")
    assert list(one.index) == ["lps", "lbp"] and list(one["value"]) == [120.0, 9.0]
    one.loc["lps", "value"] = 0.0  # a copy: the results are not changed
    assert labs.table.loc[("P1", "lps"), "value"] == 120.0
    with pytest.raises(NotFoundError, match=r"sample id\(s\) not found in .*LABS\.csv: 'P9'"):
        labs.for_sample("P9")
    assert labs.entry("lbp").name == "LBP"


def test_tab_separated_with_bom_and_only_the_required_columns(tmp_path):
    path = _write(tmp_path, "\ufeffSample ID\tMarker\tValue\tUnit\n\nP1\tI-FABP\t1.2\tng/mL\n")
    labs = read_labs(path)
    row = labs.table.loc[("P1", "ifabp")]
    assert (row["value"], row["unit"], row["line"]) == (1200.0, "pg/mL", 3)
    assert math.isnan(row["ref_high"]) and row["assay"] == ""


def test_censored_values_keep_the_limit_and_the_sign(tmp_path):
    labs = read_labs(_write(tmp_path, HEADER + "P1,LPS,<0.5,ng/mL,,,\nP1,FC,> 1800,ug/g,,,\n"))
    lps, fc = labs.table.loc[("P1", "lps")], labs.table.loc[("P1", "calprotectin")]
    assert (lps["value"], lps["censored"], lps["original_value"]) == (500.0, "<", "<0.5")
    assert (fc["value"], fc["censored"]) == (1800.0, ">")


def test_a_unit_carried_by_an_alias_must_agree_with_the_unit_column(tmp_path):
    assert read_labs(_write(tmp_path, HEADER + "P1,LPSpgml,10,pg/mL,,,\n")).markers == ["lps"]
    with pytest.raises(ValidationError, match=r"line 2: .*'LPSpgml' carries the unit pg/mL"):
        read_labs(_write(tmp_path, HEADER + "P1,LPSpgml,10,ng/mL,,,\n"))


@pytest.mark.parametrize("row, error, message", [
    ("P2,calprotectin,85,furlongs,,,", UnitError, r"LABS\.csv: line 3: field 'unit'.*furlongs"),
    ("P2,calprotectin,85,ug/mL,,,", UnitError,
     r"LABS\.csv: line 3: field 'unit' \(calprotectin\): cannot convert ug/mL"),
    ("P2,gut feeling,85,ug/g,,,", ValidationError,
     r"LABS\.csv: line 3: field 'marker': unknown marker 'gut feeling'.*calprotectin"),
    ("P2,calprotectin,high,ug/g,,,", ValidationError,
     r"LABS\.csv: line 3: field 'value' must be a number; got 'high'"),
    ('P2,calprotectin,"8,5",ug/g,,,', ValidationError, "decimal separator"),
    ("P2,calprotectin,-3,ug/g,,,", ValidationError, r"line 3: field 'value' is negative"),
    ("P2,calprotectin,nan,ug/g,,,", ValidationError, "field 'value' must be a number"),
    ("P2,calprotectin,<0,ug/g,,,", ValidationError, "below 0 cannot be interpreted"),
    ("P2,calprotectin,85,ug/g,abc,,", ValidationError, "field 'ref_low' must be a number"),
    ("P2,calprotectin,85,ug/g,,<50,", ValidationError,
     r"field 'ref_high' must be a number; got '<50' \(give the number only, e.g. '50'\)"),
    ("P2,calprotectin,85,ug/g,60,50,", ValidationError,
     r"line 3: fields 'ref_low' \(60\) and 'ref_high' \(50\): ref_low is above ref_high"),
    ("P1,FC,85,ug/g,,,", ValidationError,
     r"line 3: field 'marker': sample 'P1' has marker 'calprotectin' twice \(lines 2 and 3\)"),
    (",calprotectin,85,ug/g,,,", ValidationError, r"line 3: field 'sample_id' is empty"),
    ("P2,calprotectin,,ug/g,,,", ValidationError, r"line 3: field 'value' is empty"),
    ("P2,calprotectin,85,ug/g,,,,extra", FormatError, r"line 3: 8 cells but the header has 7"),
    # finite as written, infinite in the catalogue's unit (it was stored as inf)
    ("P2,hs-CRP,1e308,mg/dL,,,", ValidationError,
     r"line 3: field 'value' \(1e308 mg/dL\) is too large to express in mg/L"),
    ("P2,hs-CRP,1,mg/dL,0,1e308,", ValidationError,
     r"line 3: field 'ref_high' \(1e308 mg/dL\) is too large to express in mg/L"),
])
def test_a_bad_row_names_the_file_the_line_and_the_field(tmp_path, row, error, message):
    with pytest.raises(error, match=message):
        read_labs(_write(tmp_path, HEADER + "P1,calprotectin,40,ug/g,,,\n" + row + "\n"))


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("\n\n", "empty file"),
    ("sample_id;marker;value;unit\n", r"line 1: the header is not comma- or tab-separated"),
    ("sample_id,marker,value\nP1,FC,3\n", r"line 1: missing required column\(s\) unit"),
    ("sample_id,marker,value,unit,ref_lo\nP1,FC,3,ug/g,1\n",
     r"line 1: unknown column\(s\) 'ref_lo'; the columns are sample_id"),
    ("sample_id,marker,value,unit,unit\n", r"line 1: column\(s\) named twice"),
    ("sample_id,marker,,value,unit\n", "empty column name"),
    (HEADER, "a header but no result rows"),
    ('{"resourceType": "Bundle", "entry": []}\n',
     r"line 1: this is JSON, not a LABS\.csv table \(a FHIR resource\?\); FHIR lab results "
     r"are read with `gutaxis labs import`"),
])
def test_a_bad_header_or_an_empty_file_is_a_format_error(tmp_path, text, message):
    with pytest.raises(FormatError, match=message):
        read_labs(_write(tmp_path, text))


def test_non_utf8_files_are_refused_with_a_hint(tmp_path):
    utf16 = _write(tmp_path, HEADER + "P1,FC,3,ug/g,,,\n", name="u16.csv", encoding="utf-16")
    with pytest.raises(FormatError, match="u16.csv: the file is UTF-16; save it as UTF-8"):
        read_labs(utf16)
    latin = _write(tmp_path, HEADER + "P1,FC,3,µg/g,,,\n", name="l1.csv", encoding="latin-1")
    with pytest.raises(FormatError, match=r"l1.csv: line 2: byte 0xb5 is not UTF-8 text"):
        read_labs(latin)
    with pytest.raises(FormatError, match="cannot read the lab results file"):
        read_labs(tmp_path / "missing.csv")


def test_a_failed_read_leaves_what_was_read_before_untouched(tmp_path):
    good = read_labs(_write(tmp_path, HEADER + "P1,FC,30,ug/g,,,\n", name="a.csv"))
    before = good.table.copy()
    bad = _write(tmp_path, HEADER + "P1,FC,30,ug/g,,,\nP1,FC,40,ug/g,,,\n", name="b.csv")
    with pytest.raises(ValidationError):
        read_labs(bad)
    assert good.table.equals(before) and good.path.endswith("a.csv")


def test_plain_crp_is_not_read_as_hs_crp(tmp_path):
    """User-reported: the guide said ``CRP`` names hs-CRP; they are different tests."""
    with pytest.raises(ValidationError, match=r"line 2: field 'marker': unknown marker 'CRP'; "
                                              r"the marker catalogue knows .*hscrp"):
        read_labs(_write(tmp_path, HEADER + "P1,CRP,4,mg/L,,,\n"))


def test_the_user_guide_example_reads_as_the_guide_says(tmp_path):
    guide = (Path(__file__).parents[2] / "docs" / "user-guide.md").read_text("utf-8")
    section = guide[guide.index("## Lab results (LABS.csv)"):]
    example = section[section.index("```\n") + 4:section.index("\n```", section.index("```\n"))]
    assert example.startswith("sample_id,marker,value,unit")
    labs = read_labs(_write(tmp_path, example + "\n"))
    assert labs.markers == ["calprotectin", "hscrp", "lps"]
    assert labs.table.loc[("S17", "hscrp"), "value"] == 2.1          # mg/dL → mg/L
    assert labs.table.loc[("S17", "lps"), "censored"] == "<"
