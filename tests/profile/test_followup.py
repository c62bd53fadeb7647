"""Change between visits judged against the reference's spread (reference change value)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from gutaxis.exceptions import FormatError, InputError
from gutaxis.markers import MarkerColumn
from gutaxis.measures import Measure
from gutaxis.profile import (
    MAD_SCALE,
    Z_95,
    FollowupRow,
    Visit,
    compare_visits,
    critical_difference,
    read_visit,
    robust_sd,
    visit_from_document,
)
from gutaxis.reference import Reference

SHANNON = np.arange(1.0, 12.0)                       # median 6, MAD 3
LPS = np.arange(100.0, 200.0, 10.0)                  # median 145, MAD 25
ROSEBURIA = np.array([0.0] * 8 + [0.1, 0.2])         # MAD 0
CD_SHANNON = 1.96 * math.sqrt(2) * 3 * 1.4826        # 12.3288…
CD_LPS = 1.96 * math.sqrt(2) * 25 * 1.4826           # 102.740…


def _reference() -> Reference:
    n = len(SHANNON)
    ids = pd.Index([f"R{i}" for i in range(n)], dtype=object, name="sample_id")
    indices = pd.DataFrame({"gmhi": np.nan, "shannon_entropy": SHANNON,
                            "roseburia": np.r_[ROSEBURIA, 0.0]}, index=ids)
    markers = pd.DataFrame({"LPS": np.r_[LPS, np.nan]}, index=ids)
    return Reference(name="hand", sample_ids=ids, indices=indices,
                     taxa={"genus": pd.DataFrame(index=ids)}, markers=markers,
                     marker_info={"LPS": MarkerColumn("LPS", "LPSpgml", "pg/mL", "lps", "user")},
                     read_depth=np.full(n, 1e4), median_distance=np.full(n, 0.3),
                     distance_threshold=0.5, sequencing="16S amplicon", region=None,
                     taxonomy_scheme="greengenes", kind="counts", version="v" * 64,
                     details={})


def _m(measure_id: str, value: float | None, unit: str = "", status: str = "within") -> Measure:
    kind = measure_id.partition(":")[0]
    return Measure(measure_id, measure_id, kind, value, unit, status)  # type: ignore[arg-type]


def _visit(values: dict, reference_version: str | None = None) -> Visit:
    """A previous visit: measure id → value, or → (value, unit[, censored])."""
    full = {}
    for mid, v in values.items():
        v = v if isinstance(v, tuple) else (v, "")
        full[mid] = (v[0], v[1], v[2] if len(v) > 2 else None)
    return Visit("S0", None, "2025-01-01T00:00:00+00:00", reference_version, full)


def test_hand_computed_thresholds() -> None:
    assert robust_sd(SHANNON) == pytest.approx(3 * 1.4826)
    assert critical_difference(SHANNON) == pytest.approx(CD_SHANNON)
    assert CD_SHANNON == pytest.approx(12.32868, abs=1e-5)
    assert critical_difference(LPS) == pytest.approx(CD_LPS)
    assert CD_LPS == pytest.approx(102.7390, abs=1e-4)
    assert (Z_95, MAD_SCALE) == (1.96, 1.4826)


def test_real_and_not_real_changes() -> None:
    ref = _reference()
    previous = _visit({"index:shannon_entropy": 2.0, "marker:lps": (150.0, "pg/mL")})
    rows = compare_visits(previous, [_m("index:shannon_entropy", 15.0),
                                     _m("marker:lps", 240.0, "pg/mL")], ref)
    shannon, lps = rows
    assert shannon.change == 13.0 and shannon.direction == "increase"
    assert shannon.reference_sd == pytest.approx(3 * 1.4826)
    assert shannon.critical_difference == pytest.approx(CD_SHANNON)
    assert shannon.real_change is True                  # 13 > 12.33
    assert lps.change == 90.0 and lps.real_change is False   # 90 < 102.74
    rows = compare_visits(previous, [_m("index:shannon_entropy", -10.0),
                                     _m("marker:lps", 260.0, "pg/mL")], ref)
    assert rows[0].change == -12.0 and rows[0].direction == "decrease"
    assert rows[0].real_change is False                 # |−12| < 12.33
    assert rows[1].real_change is True                  # 110 > 102.74


def test_previous_unit_is_converted() -> None:
    rows = compare_visits(_visit({"marker:lps": (0.15, "ng/mL")}),
                          [_m("marker:lps", 260.0, "pg/mL")], _reference())
    assert rows[0].previous == pytest.approx(150.0)
    assert rows[0].change == pytest.approx(110.0) and rows[0].real_change is True
    assert "previous value converted from ng/mL to pg/mL" in rows[0].notes
    rows = compare_visits(_visit({"marker:lps": (0.15, "ug/g")}),
                          [_m("marker:lps", 260.0, "pg/mL")], _reference())
    assert rows[0].change is None and "does not convert" in rows[0].notes[0]


def test_lab_range_only_marker_has_no_verdict() -> None:
    rows = compare_visits(_visit({"marker:calprotectin": 40.0}),
                          [_m("marker:calprotectin", 180.0, "ug/g")], _reference())
    assert rows[0].change == 140.0
    assert rows[0].real_change is None and rows[0].critical_difference is None
    assert "no reference distribution" in rows[0].notes[0]


def test_zero_spread_has_no_threshold() -> None:
    rows = compare_visits(_visit({"taxon:roseburia": 0.0}),
                          [_m("taxon:roseburia", 0.3, "fraction")], _reference())
    assert rows[0].change == pytest.approx(0.3)
    assert rows[0].real_change is None and rows[0].reference_sd == 0.0
    assert "spread of this measure is zero" in rows[0].notes[0]


def test_missing_and_non_comparable_values() -> None:
    ref = _reference()
    rows = compare_visits(_visit({"index:shannon_entropy": None, "index:gmhi": 0.5,
                                  "index:md_index": -math.inf}),
                          [_m("index:shannon_entropy", 5.0), _m("index:gmhi", None),
                           _m("index:md_index", 1.0),
                           _m("taxon:x", 0.2, "fraction", status="not comparable")],
                          ref)
    by_id = {r.id: r for r in rows}
    assert by_id["index:shannon_entropy"].change is None
    assert "previous visit" in by_id["index:shannon_entropy"].notes[0]
    assert by_id["index:gmhi"].change is None and "current visit" in by_id["index:gmhi"].notes[0]
    # −∞ (no increased genera) then 1.0: an infinite increase, reported, not judged
    assert by_id["index:md_index"].change == math.inf
    assert by_id["index:md_index"].direction == "increase"
    assert by_id["index:md_index"].real_change is None
    assert by_id["index:md_index"].notes[0].startswith(
        "the previous value is −∞ (none of the increased genera was found in the sample")
    assert by_id["taxon:x"].real_change is None
    assert "not in the previous profile" in by_id["taxon:x"].notes
    rows = compare_visits(_visit({"index:shannon_entropy": 1.0}),
                          [_m("index:shannon_entropy", 5.0, status="not comparable")], ref)
    assert rows[0].change == 4.0 and rows[0].real_change is None
    assert "not comparable" in rows[0].notes[0]


def test_measures_only_in_the_previous_profile_are_listed() -> None:
    rows = compare_visits(_visit({"marker:zonulin": 30.0}), [], _reference())
    assert rows == [FollowupRow("marker:zonulin", "marker:zonulin", "", "", 30.0, None,
                                notes=("not in the current profile",))]


@pytest.mark.parametrize(("before", "after", "note"), [
    (None, 3.0, "not measured at the previous visit: no change"),
    (3.0, None, "not measured at the current visit: no change"),
    (None, None, "not measured at either visit: no change"),   # GMHI on 16S, twice
])
def test_a_measure_missing_at_a_visit_says_which(before, after, note) -> None:
    rows = compare_visits(_visit({"index:gmhi": before}), [_m("index:gmhi", after)],
                          _reference())
    assert rows[0].change is None and rows[0].notes == (note,)


def test_without_reference_changes_are_reported_only() -> None:
    rows = compare_visits(_visit({"index:shannon_entropy": 2.0}),
                          [_m("index:shannon_entropy", 15.0)], None)
    assert rows[0].change == 13.0 and rows[0].real_change is None


def test_reference_version_change_is_noted() -> None:
    previous = _visit({"index:shannon_entropy": 2.0}, reference_version="u" * 64)
    rows = compare_visits(previous, [_m("index:shannon_entropy", 15.0)], _reference())
    assert any("previous profile used reference version" in n for n in rows[0].notes)


def test_bad_z() -> None:
    with pytest.raises(InputError, match="`z`"):
        compare_visits(_visit({}), [], None, z=0)


def test_round_trip_through_measure_dicts() -> None:
    ref = _reference()
    first = [_m("index:shannon_entropy", 2.0), _m("marker:lps", 150.0, "pg/mL")]
    doc = {"schema_version": "2.0", "sample_id": "S0", "created": "2025-01-01",
           "measures": [m.to_dict() for m in first]}
    rows = compare_visits(visit_from_document(doc), [_m("index:shannon_entropy", 16.0),
                                                     _m("marker:lps", 150.0, "pg/mL")], ref)
    assert [r.real_change for r in rows] == [True, False]
    assert rows[1].direction == "no change"


@pytest.mark.parametrize(("doc", "message"), [
    ([1, 2], r"expected a JSON object"),
    ({"sample_id": "S", "measures": []}, r"\"schema_version\" must be a text"),
    ({"schema_version": "3.0", "sample_id": "S", "measures": []},
     r"schema_version 3\.0, but this gutaxis reads up to 2\.3; upgrade gutaxis"),
    ({"schema_version": "2.0", "sample_id": "S"}, r"\"measures\" must be a list"),
    ({"schema_version": "2.2", "sample_id": "S", "measures": [], "visit_date": "03/01/2026"},
     r"\"visit_date\" must be a date such as 2026-03-01; got '03/01/2026' \(or null\)"),
    ({"schema_version": "2.2", "sample_id": "S", "measures": [],
      "history": [{"created": "x", "values": {}, "visit_date": "soon"}]},
     r"history\[0\]: \"visit_date\" must be a date such as 2026-03-01; got 'soon'"),
    ({"schema_version": "2.0", "sample_id": "S", "measures": [{"value": 1.0}]},
     r"measures\[0\]: expected an object with an \"id\""),
    ({"schema_version": "2.0", "sample_id": "S", "measures": [{"id": "shannon_entropy"}]},
     r"measures\[0\]: id 'shannon_entropy' is not a measure id"),
    ({"schema_version": "2.0", "sample_id": "S",
      "measures": [{"id": "marker:lps", "censored": "~"}]},
     r"measures\[0\]: \"censored\" must be"),
])
def test_one_reader_refuses_what_is_not_a_profile(doc, message) -> None:
    with pytest.raises(FormatError, match=message):
        visit_from_document(doc, source="visit1/profile.json")


def test_read_visit_names_the_file(tmp_path) -> None:
    path = tmp_path / "profile.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(FormatError, match=rf"^{path}: not valid JSON \(line 1"):
        read_visit(path)
    with pytest.raises(InputError, match="cannot read the previous profile"):
        read_visit(tmp_path / "absent.json")
    path.write_text('{"schema_version": "1.0", "sample_id": "S1", "created": "2025-01-01", '
                    '"measures": [{"id": "md_index", "value": "-inf", "unit": ""}]}',
                    encoding="utf-8")
    visit = read_visit(path)
    assert visit.values == {"index:md_index": (-math.inf, "", None)}  # 1.0 ids upgraded
    assert visit.path == str(path)


def test_a_censored_value_gives_no_change():
    """'<0.5 ng/mL' then 20 pg/mL: the earlier value is only known to be below 500 pg/mL."""
    previous = _visit({"marker:lps": (500.0, "pg/mL", "<")})
    current = [Measure("marker:lps", "LPS", "marker", 20.0, "pg/mL", "within")]
    row = compare_visits(previous, current, None)[0]
    assert row.change is None and row.direction is None and row.real_change is None
    assert (row.previous, row.previous_censored) == (500.0, "<")  # the sign is kept
    assert any("censored" in n for n in row.notes)
    now_censored = [Measure("marker:lps", "LPS", "marker", 500.0, "pg/mL", "within",
                            censored="<")]
    row = compare_visits(_visit({"marker:lps": 20.0}), now_censored, None)[0]
    assert row.change is None and row.current_censored == "<"


def test_infinite_values_are_handled_not_subtracted() -> None:
    """−∞ − (−∞) is not defined: said, not written as NaN; one infinite end: ±∞ change."""
    ref = _reference()
    rows = compare_visits(_visit({"index:md_index": -math.inf, "index:shannon_entropy": 5.0}),
                          [_m("index:md_index", -math.inf),
                           _m("index:shannon_entropy", -math.inf)], ref)
    both, down = rows
    assert both.change is None and both.direction == "no change"
    assert both.real_change is None and both.critical_difference is None
    assert both.notes == ("both values are −∞ (none of the increased genera was found in the "
                          "sample: the logarithm of 0, the lowest value the index takes, not a "
                          "missing one): the difference of two infinite values is not "
                          "defined, so no change is computed (the value is the same)",)
    # another measure: no knowledge-base meaning of −∞ to add
    assert down.change == -math.inf and down.direction == "decrease"
    assert down.notes[0].startswith("the current value is −∞: the change is infinite "
                                    "(decrease)")
    assert all(not (isinstance(r.change, float) and math.isnan(r.change)) for r in rows)


def test_the_spread_leaves_out_infinite_reference_values_and_says_so() -> None:
    # 11 finite values (the Shannon column) and 4 at −∞: the MAD is that of the finite ones
    values = np.r_[SHANNON, [-math.inf] * 4]
    assert robust_sd(values) == pytest.approx(3 * MAD_SCALE)
    ref = _reference()
    indices = ref.indices.copy()
    indices["md_index"] = np.r_[SHANNON[:10], -math.inf]
    ref = dataclasses.replace(ref, indices=indices)
    row = compare_visits(_visit({"index:md_index": 1.0}), [_m("index:md_index", 3.0)], ref)[0]
    # finite values 1..10: median 5.5, |x − 5.5| = 0.5, 0.5, 1.5, 1.5, … 4.5: MAD 2.5
    assert row.reference_sd == pytest.approx(2.5 * MAD_SCALE)
    assert "the reference's spread leaves out its 1 infinite value(s)" in row.notes
