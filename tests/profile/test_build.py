"""One patient's profile assembled end to end on the bundled study (controls as reference)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gutaxis.datasets import example_dataset
from gutaxis.exceptions import NotFoundError
from gutaxis.markers import marker_panel
from gutaxis.markers.labs import read_labs
from gutaxis.pipeline import load_study
from gutaxis.profile.build import build_profile
from gutaxis.profile.reference import build_reference

MARKERS = ["LPSpgml", "LBPugml", "sCD14ugml", "IFABPpgml"]
CLOCK = lambda: dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)  # noqa: E731


@pytest.fixture(scope="module")
def cohort():
    data = example_dataset()
    study, _ = load_study(data.table, metadata=data.metadata)
    panel = marker_panel(study.samples, MARKERS)
    reference = build_reference(study, name="controls", where="Subject == 'Control'",
                                markers=panel)
    patients = sorted(study.samples.index[study.samples["Subject"] == "Patient"])
    return study, panel, reference, patients


def test_profile_places_indices_taxa_and_markers(cohort):
    study, panel, reference, patients = cohort
    profile = build_profile(study, patients[0], reference, markers=panel, clock=CLOCK)
    ids = [m.id for m in profile.measures]
    assert ids[:3] == ["gmhi", "md_index", "shannon_entropy"]
    assert {"marker:lps", "marker:lbp", "marker:scd14", "marker:ifabp"} <= set(ids)
    gmhi = profile.measure("gmhi")
    assert gmhi.value is None and gmhi.status == "not measured"  # 16S: not applicable
    shannon = profile.measure("shannon_entropy")
    assert shannon.ci_low <= shannon.percentile <= shannon.ci_high
    assert shannon.reference_n == reference.n_samples == 39
    lps = profile.measure("marker:lps")
    # LPS has no published interval: judged by the reference's percentiles, and says so
    assert lps.range_used.kind == "reference" and lps.unit == "pg/mL"
    assert lps.value == pytest.approx(float(panel.values.loc[patients[0], "LPS"]))
    assert [link.id for link in profile.chain] == ["dysbiosis", "barrier", "translocation",
                                                   "inflammation"]
    assert profile.chain[3].status == "not measured"  # no calprotectin, CRP... in this study
    assert profile.created == "2026-11-22T12:00:00+00:00"
    assert profile.provenance["knowledge_base"]["markers"]
    assert "clinician" in profile.disclaimer.lower() or "clinical" in profile.disclaimer.lower()


def test_options_are_traced_to_findings(cohort):
    study, panel, reference, patients = cohort
    profile = build_profile(study, patients[0], reference, markers=panel, clock=CLOCK)
    disturbed = {f"link:{link.id}=disturbed" for link in profile.chain
                 if link.status == "disturbed"}
    flagged = {f"{m.id}={m.status}" for m in profile.measures}
    for options in profile.options.values():
        for option in options:
            assert option.triggered_by
            for trigger in option.triggered_by:
                assert trigger in disturbed or trigger in flagged or \
                    trigger.replace("marker:", "marker:") in flagged, trigger


def test_a_lab_range_wins_over_the_reference(cohort, tmp_path):
    study, panel, reference, patients = cohort
    labs = tmp_path / "labs.csv"
    labs.write_text("sample_id,marker,value,unit,ref_low,ref_high,assay\n"
                    f"{patients[0]},LBP,25,mg/L,2,10,ELISA kit X\n"
                    f"{patients[0]},calprotectin,300,ug/g,,,\n", encoding="utf-8")
    profile = build_profile(study, patients[0], reference, markers=panel, labs=read_labs(labs),
                            clock=CLOCK)
    lbp = profile.measure("marker:lbp")
    assert lbp.range_used.kind == "lab" and lbp.status == "high" and lbp.value == 25.0
    assert lbp.percentile is not None  # still placed in the reference
    calprotectin = profile.measure("marker:calprotectin")
    assert calprotectin.range_used.kind == "catalogue" and calprotectin.status == "high"
    inflammation = next(link for link in profile.chain if link.id == "inflammation")
    assert inflammation.status == "disturbed"
    assert ("marker:calprotectin", "high") in inflammation.deciding


def test_followup_compares_with_a_previous_profile(cohort):
    from gutaxis.profile.render import profile_document

    study, panel, reference, patients = cohort
    first = build_profile(study, patients[0], reference, markers=panel, clock=CLOCK)
    previous = json.loads(json.dumps(profile_document(first)))
    # the "next visit": another patient's sample stands in for a changed microbiome (one
    # the reference can place: an out-of-range sample gets no "real change" verdict)
    second = next(p for p in (build_profile(study, pid, reference, markers=panel,
                                            previous=previous, clock=CLOCK)
                              for pid in patients[1:])
                  if not any(w["code"] == "out_of_reference_range" for w in p.warnings))
    rows = {row["id"]: row for row in second.followup}
    shannon = rows["shannon_entropy"]
    assert shannon["previous"] == pytest.approx(first.measure("shannon_entropy").value)
    assert shannon["current"] == pytest.approx(second.measure("shannon_entropy").value)
    assert shannon["change"] == pytest.approx(shannon["current"] - shannon["previous"])
    assert shannon["real_change"] == (abs(shannon["change"]) > shannon["critical_difference"])
    assert len(second.history) == 1 and second.history[0]["created"] == first.created
    # another sample id at the next visit is normal, but the profile says what it assumes
    assert any(w["code"] == "previous_sample_differs" for w in second.warnings)
    lbp = rows["marker:lbp"]
    assert lbp["critical_difference"] > 0 and isinstance(lbp["real_change"], bool)


def test_an_out_of_range_patient_gets_a_warning_and_no_percentiles(cohort):
    study, panel, reference, patients = cohort
    flagged = [p for p in (build_profile(study, pid, reference, markers=panel, clock=CLOCK)
                           for pid in patients)
               if any(w["code"] == "out_of_reference_range" for w in p.warnings)]
    assert flagged, "expected at least one patient outside the controls' range"
    profile = flagged[0]
    assert any(w["code"] == "out_of_reference_range" for w in profile.warnings)
    shannon = profile.measure("shannon_entropy")
    assert shannon.status == "not comparable" and shannon.percentile is None
    assert profile.summary["clinician"][0].startswith("Warning:")


def test_an_unknown_sample_is_named(cohort):
    study, panel, reference, _ = cohort
    with pytest.raises(NotFoundError, match="NOPE"):
        build_profile(study, "NOPE", reference, markers=panel)


def test_lab_values_are_the_ones_placed_in_the_reference(cohort, tmp_path):
    """A lab value overrides the metadata value, and its percentile is its own."""
    from gutaxis.profile.percentile import midrank_percentile

    study, panel, reference, patients = cohort
    labs = tmp_path / "labs.csv"
    labs.write_text(f"sample_id,marker,value,unit\n{patients[0]},IFABP,2.5,ng/mL\n",
                    encoding="utf-8")
    profile = build_profile(study, patients[0], reference, markers=panel, labs=read_labs(labs),
                            clock=CLOCK)
    ifabp = profile.measure("marker:ifabp")
    assert ifabp.value == pytest.approx(2500.0) and ifabp.unit == "pg/mL"
    ref_values = reference.measure_values("marker:ifabp", unit="pg/mL")
    assert ifabp.percentile == pytest.approx(midrank_percentile(2500.0, ref_values))
    assert ifabp.percentile > 95 and ifabp.status == "high"  # above every control


def test_lab_results_without_the_sample_are_an_error(cohort, tmp_path):
    from gutaxis.exceptions import ValidationError

    study, panel, reference, patients = cohort
    labs = tmp_path / "labs.csv"
    labs.write_text(f"sample_id,marker,value,unit\n{patients[0].lower()},hs-CRP,25,mg/L\n",
                    encoding="utf-8")
    with pytest.raises(ValidationError, match="no lab results for sample"):
        build_profile(study, patients[0], reference, markers=panel, labs=read_labs(labs))


def test_a_reference_sample_profiled_against_its_reference_is_flagged(cohort):
    study, panel, reference, _ = cohort
    control = str(reference.sample_ids[0])
    profile = build_profile(study, control, reference, markers=panel, clock=CLOCK)
    assert any(w["code"] == "patient_in_reference" for w in profile.warnings)


def test_a_reference_in_another_unit_gives_ranges_in_the_measures_unit(cohort):
    study, panel, _, patients = cohort
    samples = study.samples.copy()
    samples["IFABP"] = samples["IFABPpgml"] / 1000
    ng_panel = marker_panel(samples, ["IFABP=ng/mL"])
    reference = build_reference(study.replace(samples=samples), name="ng",
                                where="Subject == 'Control'", markers=ng_panel)
    pg = reference.measure_values("marker:ifabp", unit="pg/mL")
    controls = samples.loc[reference.sample_ids, "IFABPpgml"].to_numpy()
    assert pg == pytest.approx(controls, nan_ok=True)
    profile = build_profile(study, patients[0], reference, markers=panel, clock=CLOCK)
    ifabp = profile.measure("marker:ifabp")
    assert ifabp.unit == "pg/mL" and ifabp.range_used.kind == "reference"
    import numpy as np

    assert ifabp.range_used.low == pytest.approx(np.nanpercentile(controls, 5))


def test_a_value_tied_with_the_bottom_of_the_reference_is_not_low():
    import numpy as np

    from gutaxis.profile._reference_compare import percentile_status

    reference = np.r_[np.zeros(12), np.linspace(0.01, 1, 188)]  # 6 % zeros
    assert percentile_status(1.5, 4.75) == "low"  # the interval alone
    assert percentile_status(1.5, 4.75, value=0.0, reference=reference) == "within"
    assert percentile_status(0.0, 0.5, value=-1.0, reference=reference) == "low"
