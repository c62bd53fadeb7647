"""The shapes of a patient's measures (gutaxis.measures)."""

from __future__ import annotations

import pytest

from gutaxis.exceptions import ValidationError
from gutaxis.formatting import format_value
from gutaxis.measures import Alert, Measure, measure_id


def test_a_measure_id_is_its_kind_and_key():
    assert measure_id("marker", "lps") == "marker:lps"
    m = Measure("taxon:roseburia", "Roseburia", "taxon", 0.00135, "fraction", "low")
    assert m.key == "roseburia" and format_value(m.value, m.unit) == "0.14 %"
    with pytest.raises(ValidationError, match="measure kind must be one of index, taxon, marker"):
        measure_id("sample", "x")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"id": "lps"}, r"'lps' must be 'marker:<key>'"),
    ({"id": "index:lps"}, r"'index:lps' must be 'marker:<key>'"),
    ({"id": "marker:"}, r"'marker:' must be 'marker:<key>'"),
    ({"status": "abnormal"}, r"status must be one of low, within"),
    ({"censored": "~"}, r"censored must be '<', '>' or None"),
    ({"censored": "<", "percentile": 50.0}, r"a censored value .* cannot have a percentile"),
])
def test_a_bad_measure_is_refused(kwargs, message):
    base = {"id": "marker:lps", "label": "LPS", "kind": "marker", "value": 1.0,
            "unit": "pg/mL", "status": "within"}
    with pytest.raises(ValidationError, match=message):
        Measure(**{**base, **kwargs})


def test_an_alert_concerns_the_measures_it_names():
    lps = Measure("marker:lps", "LPS", "marker", 1.0, "pg/mL", "within")
    shannon = Measure("index:shannon_entropy", "Shannon", "index", 3.0, "", "low")
    alert = Alert("low_depth", "too few reads", "reference", True, ("index:shannon_entropy",))
    assert alert.concerns(shannon) and not alert.concerns(lps)
    assert not Alert("previous_patient_differs", "two people", "followup").concerns(shannon)
    assert alert.to_dict() == {"code": "low_depth", "message": "too few reads",
                               "scope": "reference", "blocking": True,
                               "affects": ["index:shannon_entropy"]}
    with pytest.raises(ValidationError, match="scope must be one of reference, followup"):
        Alert("x", "y", "visit")  # type: ignore[arg-type]
