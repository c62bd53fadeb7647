"""The profile page's context: values that are not computable, references holding ±∞."""

from __future__ import annotations

import dataclasses
import json
import math

import jsonschema
import numpy as np

from builders.profile import make_profile
from gutaxis.indices import not_computable_reason
from gutaxis.measures import Measure, RangeUsed
from gutaxis.profile import FollowupRow
from gutaxis.report import profile_document, profile_schema
from gutaxis.report._profile_context import build_context


def _with(measures: tuple[Measure, ...], **changes: object):
    return dataclasses.replace(make_profile(), measures=measures, **changes)


def _rows(context: dict, section: str = "diversity") -> dict[str, dict]:
    return {r["id"]: r for r in context[section]["rows"]}


def test_a_gmhi_that_is_not_computable_says_so_in_the_value_cell() -> None:
    note = f"not computable: {not_computable_reason('gmhi')}"
    gmhi = Measure("index:gmhi", "GMHI", "index", None, "", "not measured", notes=(note,))
    other = Measure("index:gmhi", "GMHI", "index", None, "", "not measured",
                    notes=("not applicable: the table is not a species-level profile",))
    context = build_context(_with((gmhi,)))
    row = _rows(context)["index:gmhi"]
    assert row["value"] == "not computable"
    assert row["notes"] == [note]  # and why, next to it
    assert context["key_numbers"]["rows"][0]["value"] == "not computable"
    assert _rows(build_context(_with((other,))))["index:gmhi"]["value"] == "–"


def test_a_reference_holding_minus_infinity() -> None:
    # 10 of 40 reference samples at −∞ (an MD-index with no increased genera), 30 finite
    finite = np.linspace(-4.0, -1.0, 30)
    ref_values = {"index:md_index": [-math.inf] * 10 + finite.tolist()}
    # the 5th percentile of the 40 values lies among the −∞ (position 1.95 of 0..39)
    md = Measure("index:md_index", "MD-index", "index", -2.0, "", "within", percentile=60.0,
                 ci_low=5.0, ci_high=80.0, reference_n=40,
                 range_used=RangeUsed("reference", -math.inf, -1.15, "reference cohort",
                                      label="5th–95th percentile of the reference"))
    profile = _with((md,), reference_values=ref_values)
    context = build_context(profile)
    row = _rows(context)["index:md_index"]
    assert row["range"] == "−∞ to -1.15"  # formatting writes −∞ with a minus sign, -1.15 with "-"
    caption = context["diversity"]["figures"][0]["caption"]
    assert "distribution in HC-300 (n = 40)" in caption
    assert "10 reference value(s) are infinite and not drawn, though they count in the " \
           "percentile" in caption
    # the band: the 5th percentile is −∞ (drawn from the edge), the 80th a finite value
    assert "(an infinite end reaches the edge of the plot)" in caption
    doc = profile_document(profile)
    assert doc["measures"][0]["range_used"]["low"] == "-inf"
    jsonschema.validate(doc, profile_schema(), cls=jsonschema.Draft202012Validator)
    json.dumps(doc, allow_nan=False)


def test_an_infinite_change_is_written_with_its_sign() -> None:
    row = FollowupRow("index:md_index", "MD-index", "index", "", -math.inf, -2.0,
                      change=math.inf, direction="increase",
                      notes=("the previous value is −∞",))
    profile = dataclasses.replace(make_profile(), followup=(row,))
    assert build_context(profile)["followup"]["rows"][0]["change"] == "+∞"
    doc = profile_document(profile)
    assert doc["followup"][0]["change"] == "inf"
    jsonschema.validate(doc, profile_schema(), cls=jsonschema.Draft202012Validator)
