"""Unit parsing and conversion."""

from __future__ import annotations

import numpy as np
import pytest

from gutaxis.exceptions import UnitError
from gutaxis.markers import conversion_factor, convert, parse_unit


@pytest.mark.parametrize("text, canonical", [
    ("pg/mL", "pg/mL"), ("PG/ML", "pg/mL"), ("µg/mL", "ug/mL"), ("μg/ml", "ug/mL"),
    ("mcg/mL", "ug/mL"), (" ng / mL ", "ng/mL"), ("mg/dL", "mg/dL"), ("ug/g", "ug/g"),
    ("EU/mL", "EU/mL"), ("%", "%"),
])
def test_lab_spellings_parse_to_one_canonical_form(text, canonical):
    assert parse_unit(text).text == canonical


@pytest.mark.parametrize("source, target, factor", [
    ("ng/mL", "pg/mL", 1000.0), ("pg/mL", "ng/mL", 0.001), ("mg/L", "ug/mL", 1.0),
    ("ug/L", "ng/mL", 1.0), ("mg/dL", "mg/L", 10.0), ("mg/kg", "ug/g", 1.0),
    ("ug/mL", "ng/mL", 1000.0), ("EU/mL", "EU/mL", 1.0),
])
def test_conversion_factors_are_the_si_prefix_ratios(source, target, factor):
    assert conversion_factor(source, target) == factor


def test_convert_multiplies_values_and_keeps_nan():
    out = convert(np.array([1.5, np.nan]), "ug/mL", "ng/mL")
    assert out[0] == 1500.0 and np.isnan(out[1])


def test_unknown_and_incompatible_units_are_clear_errors():
    with pytest.raises(UnitError, match="unknown unit 'furlongs'.*pg/mL"):
        parse_unit("furlongs")
    with pytest.raises(UnitError, match="cannot convert ug/g .*mass/mass.* to ug/mL"):
        conversion_factor("ug/g", "ug/mL")
    with pytest.raises(UnitError, match="cannot convert EU/mL to pg/mL"):
        conversion_factor("EU/mL", "pg/mL")


def test_kit_units_convert_only_to_themselves_and_ucums_1_is_a_ratio():
    # a DAO kit's "U" is the kit's own: 12 U/L is not 0.012 U/mL of another kit (a review
    # finding: converted, it was judged "low" against the U/mL cut-off)
    from gutaxis.markers.units import conversion_factor, parse_unit

    with pytest.raises(UnitError, match="cannot convert U/L to U/mL"):
        conversion_factor("U/L", "U/mL")
    with pytest.raises(UnitError, match="cannot convert EU/mL to U/mL"):
        conversion_factor("EU/mL", "U/mL")
    # an L:M ratio coded with UCUM's "1" was refused against the catalogue's "ratio"
    assert parse_unit("1").text == parse_unit("ratio").text == "ratio"
    assert conversion_factor("1", "ratio") == 1.0
