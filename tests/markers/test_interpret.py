"""A marker value against the lab's range, else the catalogue's published cut-off."""

from __future__ import annotations

import json

import pytest

from gutaxis.exceptions import NotFoundError, UnitError, ValidationError
from gutaxis.formatting import format_value
from gutaxis.knowledge import MarkerEntry, load_marker_catalog
from gutaxis.markers import MarkerResult
from gutaxis.markers.interpret import (
    NO_CUTOFF_NOTE,
    NO_INTERVAL_NOTE,
    NOT_IN_CATALOGUE_NOTE,
    UNJUDGED_NOTE,
    interpret_marker,
    interpret_result,
)
from gutaxis.markers.labs import read_labs


def _entry(marker_id: str) -> MarkerEntry:
    return load_marker_catalog().find(marker_id)[0]


@pytest.mark.parametrize("value, status", [(30, "within"), (80, "borderline"), (150, "high"),
                                           (50, "within"), (120, "borderline")])
def test_calprotectin_against_the_default_cutoff(value, status):
    m = interpret_marker(_entry("calprotectin"), value, "ug/g")
    assert (m.id, m.kind, m.label, m.value, m.unit) == (
        "marker:calprotectin", "marker", "Calprotectin", float(value), "ug/g")
    assert m.status == status
    r = m.range_used
    assert (r.kind, r.low, r.high, r.borderline_high) == ("catalogue", None, 120.0, 50.0)
    assert r.label.startswith("Mayo Clinic Laboratories CALPR: ≤50.0 µg/g normal")
    assert "(unverified)" not in r.label
    assert r.source.endswith("(https://baystatereferencelaboratories.testcatalog.org/show/FECAPR)")
    assert any("the laboratory gave no range" in n and "population" in n for n in m.notes)
    assert m.caveats == (_entry("calprotectin").caveats,)


def test_the_lab_range_wins_over_the_catalogue_cutoff():
    fc = _entry("calprotectin")
    m = interpret_marker(fc, 80, "ug/g", ref_low=0, ref_high=100, assay="Bühlmann fCAL")
    assert m.status == "within"  # borderline against Mayo, within against the lab
    r = m.range_used
    assert (r.kind, r.low, r.high) == ("lab", 0.0, 100.0)
    assert r.source == "laboratory reference range (Bühlmann fCAL)"
    assert r.label == "laboratory range 0–100 ug/g"
    assert any("takes precedence over the catalogue cut-off (Mayo" in n for n in m.notes)
    assert interpret_marker(fc, 150, "ug/g", ref_high=200).status == "within"
    assert interpret_marker(fc, 30, "ug/g", ref_high=25).status == "high"
    assert interpret_marker(fc, 25, "ug/g", ref_high=25).status == "within"  # closed range
    low = interpret_marker(_entry("lbp"), 1.0, "ug/mL", ref_low=2.0)
    assert (low.status, low.range_used.source, low.range_used.label) == (
        "low", "laboratory reference range", "laboratory range ≥2 ug/mL")


def test_a_marker_without_an_interval_is_shown_but_not_judged():
    m = interpret_marker(_entry("lps"), 120, "pg/mL")
    assert (m.status, m.range_used, m.value) == ("not comparable", None, 120.0)
    assert NO_INTERVAL_NOTE in m.notes
    lbp = interpret_marker(_entry("lbp"), 12, "ug/mL")  # no cut-off, but not "none exists"
    assert lbp.status == "not comparable" and NO_CUTOFF_NOTE in lbp.notes
    judged = interpret_marker(_entry("lps"), 120, "pg/mL", ref_high=100)
    assert judged.status == "high" and judged.range_used.kind == "lab"


def test_crp_in_mg_per_dl_is_converted_to_mg_per_l():
    m = interpret_marker(_entry("hscrp"), 0.5, "mg/dL")
    assert (m.value, m.unit, m.status) == (5.0, "mg/L", "high")  # AHA/CDC: >3 mg/L
    assert "converted from 0.5 mg/dL to 5 mg/L" in m.notes
    assert m.range_used.source.startswith("Pearson TA et al. Circulation 2003;107:499 (doi:")
    lab = interpret_marker(_entry("hscrp"), 0.21, "mg/dL", ref_low=0, ref_high=0.3)
    assert (lab.value, lab.range_used.high, lab.status) == (2.1, 3.0, "within")
    with pytest.raises(UnitError, match="cannot convert"):
        interpret_marker(_entry("hscrp"), 1, "ug/g")


def test_a_borderline_band_above_low_is_judged_and_labelled():
    elastase = _entry("elastase")
    statuses = [interpret_marker(elastase, v, "ug/g").status for v in (50, 100, 200, 350)]
    assert statuses == ["low", "borderline", "borderline", "within"]
    r = interpret_marker(elastase, 150, "ug/g").range_used
    assert (r.low, r.high, r.borderline_high) == (100.0, None, None)
    assert "100–200 µg/g indeterminate" in r.label


def test_an_unverified_cutoff_is_labelled_unverified():
    raw = _entry("lactoferrin").model_dump()
    raw["cutoffs"][0]["verified"] = False
    entry = MarkerEntry.model_validate(raw)
    m = interpret_marker(entry, 10, "ug/g")
    assert m.status == "high"
    assert m.range_used.label.endswith("(unverified)")
    assert any("unverified" in n for n in m.notes)


@pytest.mark.parametrize("value, censored, status", [
    (30, "<", "within"),            # every value below 30 is within (≤50)
    (80, "<", "not comparable"),    # below 80: within or borderline
    (200, ">", "high"),             # every value above 200 is high (>120)
    (100, ">", "not comparable"),   # above 100: borderline or high
    (120, ">", "high"),             # just above 120 is already high
])
def test_censored_values_are_judged_only_when_every_possible_value_agrees(value, censored,
                                                                          status):
    m = interpret_marker(_entry("calprotectin"), value, "ug/g", censored=censored)
    assert m.status == status
    assert any(n.startswith(f"reported as {censored}{value}") for n in m.notes)
    if status == "not comparable":
        assert any("may be" in n and "not judged" in n for n in m.notes)


@pytest.mark.parametrize("kwargs, message", [
    ({"value": -1}, "value must be a finite number"),
    ({"value": float("nan")}, "value must be a finite number"),
    ({"ref_low": 60, "ref_high": 50}, r"ref_low \(60\) is above ref_high \(50\)"),
    ({"ref_high": -2}, "ref_high must be a finite number"),
    ({"censored": "≤"}, "censored must be"),
    ({"value": 0, "censored": "<"}, "'<0' cannot be interpreted"),
])
def test_invalid_input_is_refused(kwargs, message):
    args = {"value": 10.0, **kwargs}
    value = args.pop("value")
    with pytest.raises(ValidationError, match=message):
        interpret_marker(_entry("calprotectin"), value, "ug/g", **args)


def test_interpret_result_judges_lab_rows_and_names_the_line(tmp_path):
    path = tmp_path / "LABS.csv"
    path.write_text("sample_id,marker,value,unit,ref_low,ref_high,assay\n"
                    "P1,calprotectin,85,ug/g,0,50,Bühlmann\n"
                    "P2,calprotectin,85,ug/g,,,\n"
                    "P1,LPS,<0.5,ng/mL,,,\n"
                    "P1,hs-CRP,0.21,mg/dL,,,\n", encoding="utf-8")
    measures = [interpret_result(r) for r in read_labs(path).results("P1")]
    assert [m.id for m in measures] == ["marker:calprotectin", "marker:lps", "marker:hscrp"]
    fc, lps, crp = measures
    assert (fc.status, fc.range_used.kind, fc.range_used.source) == (
        "high", "lab", "laboratory reference range (Bühlmann)")
    assert fc.notes[0] == f"{path}: line 2: reported as 85 ug/g"
    assert (lps.value, lps.unit, lps.status, lps.censored) == (500.0, "pg/mL", "not comparable",
                                                               "<")
    assert format_value(lps.value, lps.unit, lps.censored) == "<500 pg/mL"
    assert lps.notes[0].endswith("line 4: reported as <0.5 ng/mL")
    assert (crp.value, crp.status, crp.range_used.kind) == (2.1, "within", "catalogue")
    json.dumps([m.to_dict() for m in measures])  # plain data, ready for results.json
    with pytest.raises(NotFoundError, match=r"'P3'\. Available: P1, P2$"):
        read_labs(path).results("P3")


def test_a_marker_the_catalogue_does_not_know_is_judged_by_the_lab_range_only():
    with_range = interpret_result(MarkerResult("mystery", None, 12.0, "ng/mL", ref_high=10.0,
                                               origin="metadata column mystery"))
    assert (with_range.id, with_range.status, with_range.range_used.kind) == (
        "marker:mystery", "high", "lab")
    assert with_range.notes[0] == "metadata column mystery"
    bare = interpret_result(MarkerResult("mystery", None, 12.0, "ng/mL"))
    assert (bare.status, bare.range_used) == ("not comparable", None)
    assert bare.notes[-2:] == (NOT_IN_CATALOGUE_NOTE, UNJUDGED_NOTE)
    assert "not in the knowledge base" in NOT_IN_CATALOGUE_NOTE
    censored = interpret_result(MarkerResult("mystery", None, 5.0, "ng/mL", censored="<",
                                             ref_low=1.0, ref_high=10.0))
    assert censored.status == "not comparable"  # [0, 5) spans "low" and "within"
    assert censored.censored == "<"
