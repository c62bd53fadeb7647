"""Marker columns read from metadata, with units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gutaxis.exceptions import FormatError, NotFoundError, UnitError, ValidationError
from gutaxis.markers import marker_panel, read_marker_specs


@pytest.fixture
def samples():
    return pd.DataFrame({
        "LPSpgml": [10.0, 20.0, np.nan, 40.0],
        "zonulin": [50.0, 60.0, 70.0, 80.0],
        "mystery": [1.0, 2.0, 3.0, 4.0],
        "text": ["1.5", "2", "n/a!", "3"],
        "Subject": ["a", "a", "b", "b"],
    }, index=pd.Index(["s1", "s2", "s3", "s4"], name="sample_id"))


def test_units_come_from_the_column_name_the_catalogue_or_the_user(samples):
    panel = marker_panel(samples, ["LPSpgml", "zonulin", "mystery=ng/mL"])
    assert panel.names == ["LPS", "Zonulin (serum)", "mystery"]
    assert {n: i.unit for n, i in panel.info.items()} == {
        "LPS": "pg/mL", "Zonulin (serum)": "ng/mL", "mystery": "ng/mL"}
    assert {n: i.unit_source for n, i in panel.info.items()} == {
        "LPS": "column name", "Zonulin (serum)": "catalogue default", "mystery": "user"}
    assert {n: i.catalog_id for n, i in panel.info.items()} == {
        "LPS": "lps", "Zonulin (serum)": "zonulin_serum", "mystery": None}
    assert panel.info["LPS"].column == "LPSpgml"
    assert panel.missing() == {"LPS": 1, "Zonulin (serum)": 0, "mystery": 0}
    assert panel.label("LPS") == "LPS (pg/mL)"
    np.testing.assert_array_equal(panel.values["mystery"], [1, 2, 3, 4])


def test_a_user_unit_wins_over_the_catalogue(samples):
    panel = marker_panel(samples, ["zonulin=µg/L"])
    assert panel.unit("Zonulin (serum)") == "ug/L"


def test_a_unit_that_contradicts_the_column_name_is_taken_with_a_warning(samples):
    # LPSpgml=ng/mL read the pg/mL values as ng/mL without a word: 1,000 times too high
    import warnings

    with pytest.warns(UserWarning, match=r"'LPSpgml' is named in pg/mL but was given as "
                                         r"LPSpgml=ng/mL: its values are read as ng/mL"):
        panel = marker_panel(samples, ["LPSpgml=ng/mL"])
    assert panel.unit("LPS") == "ng/mL"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same unit, written another way: no warning
        assert marker_panel(samples, ["LPSpgml=pg/ml"]).unit("LPS") == "pg/mL"


def test_a_missing_column_is_named(samples):
    with pytest.raises(NotFoundError, match="nope"):
        marker_panel(samples, ["LPSpgml", "nope"])


def test_non_numeric_values_name_the_column_sample_and_value(samples):
    with pytest.raises(ValidationError, match=r"'text' must be numeric; sample 's3' has 'n/a!'"):
        marker_panel(samples, ["text=ng/mL"])


def test_negative_values_are_refused(samples):
    samples.loc["s2", "mystery"] = -1.0
    with pytest.raises(ValidationError, match="negative value"):
        marker_panel(samples, ["mystery=ng/mL"])


def test_an_unknown_column_without_unit_asks_for_one(samples):
    with pytest.raises(ValidationError, match="give it as mystery=UNIT"):
        marker_panel(samples, ["mystery"])


def test_an_unknown_unit_is_a_unit_error(samples):
    with pytest.raises(UnitError, match="unknown unit 'parsecs'"):
        marker_panel(samples, ["mystery=parsecs"])


def test_the_same_marker_twice_is_refused(samples):
    samples["LPS"] = samples["LPSpgml"]
    with pytest.raises(ValidationError, match="named twice"):
        marker_panel(samples, ["LPSpgml", "LPS"])


def test_markers_file_gives_specs(tmp_path):
    path = tmp_path / "markers.tsv"
    path.write_text("column\tunit\nLPSpgml\t\nmystery\tng/mL\n", encoding="utf-8")
    assert read_marker_specs(path) == ["LPSpgml", "mystery=ng/mL"]
    csv = tmp_path / "markers.csv"
    csv.write_text("unit,column\nmg/L,crp\n", encoding="utf-8")
    assert read_marker_specs(csv) == ["crp=mg/L"]


def test_markers_file_without_column_header_names_line_1(tmp_path):
    path = tmp_path / "markers.tsv"
    path.write_text("marker\tunit\nLPS\tpg/mL\n", encoding="utf-8")
    with pytest.raises(FormatError, match="line 1: expected a header with a 'column'"):
        read_marker_specs(path)


def test_messages_name_where_each_marker_was_given(tmp_path, samples):
    path = tmp_path / "markers.tsv"
    # a comment and a blank line: the lines named are the file's own
    path.write_text("# markers of the study\ncolumn\tunit\n\nmystery\tparsecs\nzonulin\t\n",
                    encoding="utf-8")
    origins = ["--markers"]
    specs = ["LPSpgml", *read_marker_specs(path, origins=origins)]
    assert origins == ["--markers", f"{path}: line 4", f"{path}: line 5"]
    with pytest.raises(UnitError, match=rf"^{path}: line 4: marker column 'mystery': unknown "
                                        r"unit 'parsecs'"):
        marker_panel(samples, specs, origins=origins)
    samples["LPS"] = samples["LPSpgml"]
    with pytest.raises(ValidationError, match=rf"^{path}: line 5: marker 'LPS' is named twice "
                                              r"\('LPSpgml' and 'LPS', first at --markers\)"):
        marker_panel(samples, ["LPSpgml", "LPS"], origins=["--markers", f"{path}: line 5"])
