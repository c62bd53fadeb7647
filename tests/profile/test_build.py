"""One patient's profile assembled end to end on the bundled study (controls as reference)."""

from __future__ import annotations

import datetime as dt
import json

import jsonschema
import numpy as np
import pandas as pd
import pytest

from gutaxis.exceptions import NotFoundError, ValidationError
from gutaxis.io import read_example
from gutaxis.markers import marker_panel, read_labs
from gutaxis.profile import build_profile, visit_from_document
from gutaxis.reference import SmallReferenceWarning, build_reference
from gutaxis.report import profile_document, profile_schema, render_profile_html

MARKERS = ["LPSpgml", "LBPugml", "sCD14ugml", "IFABPpgml"]
CLOCK = lambda: dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)  # noqa: E731


@pytest.fixture(scope="module")
def cohort():
    study = read_example()
    panel = marker_panel(study.samples, MARKERS)
    reference = build_reference(study, name="controls", where="Subject == 'Control'",
                                markers=panel)
    patients = sorted(study.samples.index[study.samples["Subject"] == "Patient"])
    return study, panel, reference, patients


def test_profile_places_indices_taxa_and_markers(cohort):
    study, panel, reference, patients = cohort
    profile = build_profile(study, patients[0], reference, markers=panel, clock=CLOCK)
    ids = [m.id for m in profile.measures]
    assert ids[:3] == ["index:gmhi", "index:md_index", "index:shannon_entropy"]
    assert {"marker:lps", "marker:lbp", "marker:scd14", "marker:ifabp"} <= set(ids)
    gmhi = profile.measure("index:gmhi")
    assert gmhi.value is None and gmhi.status == "not measured"  # 16S: not applicable
    shannon = profile.measure("index:shannon_entropy")
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
    assert profile.options  # this patient has options (the loop below is not empty)
    for options in profile.options.values():
        for option in options:
            assert option.triggered_by
            for trigger in option.triggered_by:
                assert trigger in disturbed or trigger in flagged, trigger


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


def _visit(profile):
    """The profile as the next visit reads it back from its profile.json."""
    return visit_from_document(json.loads(json.dumps(profile_document(profile))))


def test_followup_compares_with_a_previous_profile(cohort):
    study, panel, reference, patients = cohort
    first = build_profile(study, patients[0], reference, patient_id="P01", markers=panel,
                          clock=CLOCK)
    # the "next visit": another patient's sample stands in for a changed microbiome (one
    # the reference can place: an out-of-range sample gets no "real change" verdict)
    second = next(p for p in (build_profile(study, pid, reference, patient_id="P01",
                                            markers=panel, previous=_visit(first),
                                            clock=CLOCK)
                              for pid in patients[1:])
                  if not any(a.code == "out_of_reference_range" for a in p.alerts))
    rows = {row.id: row for row in second.followup}
    shannon = rows["index:shannon_entropy"]
    assert shannon.previous == pytest.approx(first.measure("index:shannon_entropy").value)
    assert shannon.current == pytest.approx(second.measure("index:shannon_entropy").value)
    assert shannon.change == pytest.approx(shannon.current - shannon.previous)
    assert shannon.real_change == (abs(shannon.change) > shannon.critical_difference)
    assert len(second.history) == 1 and second.history[0]["created"] == first.created
    assert second.history[0]["patient_id"] == "P01"
    # a new sample id at the next visit is normal: the same patient raises no warning
    assert not second.alerts_for("followup")
    assert not any("compared fairly" in s for s in second.summary.patient)
    lbp = rows["marker:lbp"]
    assert lbp.critical_difference > 0 and isinstance(lbp.real_change, bool)


def test_each_visit_is_dated_by_its_own_day_not_by_the_day_it_was_computed(cohort):
    """A practice profiles two visits on the same day: the follow-up must not date both so."""
    study, panel, reference, patients = cohort
    first = build_profile(study, patients[0], reference, patient_id="P01", markers=panel,
                          clock=CLOCK, visit_date="2026-01-10")
    second = build_profile(study, patients[1], reference, patient_id="P01", markers=panel,
                           previous=_visit(first), clock=CLOCK, visit_date=dt.date(2026, 3, 1))
    assert (first.created, second.created) == (CLOCK().isoformat(), CLOCK().isoformat())
    assert second.visit_date == "2026-03-01"
    assert second.history[0]["visit_date"] == "2026-01-10"
    doc = profile_document(second)
    jsonschema.validate(doc, profile_schema())
    assert doc["visit_date"] == "2026-03-01" and doc["history"][0]["visit_date"] == "2026-01-10"
    assert _visit(second).visit_date == "2026-03-01"  # read back for the third visit
    # the trend figure's axis: the two visit days, not the day of computing (2026-11-22)
    html = render_profile_html(second)
    trends = html[html.index('id="fig-trends"'):]
    trends = trends[:trends.index("</figure>")]
    assert "2026-01-10" in trends and "2026-03-01" in trends and "2026-11-22" not in trends
    # without a visit date, the day the profile was made stands in (as before)
    undated = build_profile(study, patients[0], reference, markers=panel, clock=CLOCK)
    assert undated.visit_date is None and profile_document(undated)["visit_date"] is None
    with pytest.raises(ValidationError, match=r"visit_date must be a date such as 2026-03-01; "
                                              r"got '1 March'"):
        build_profile(study, patients[0], reference, visit_date="1 March")


def test_followup_warns_only_when_the_patients_differ(cohort):
    study, panel, reference, patients = cohort
    first = build_profile(study, patients[0], reference, patient_id="P01", markers=panel,
                          clock=CLOCK)
    other = build_profile(study, patients[1], reference, patient_id="P02", markers=panel,
                          previous=_visit(first), clock=CLOCK)
    alerts = other.alerts_for("followup")
    assert [a.code for a in alerts] == ["previous_patient_differs"]
    assert "P01" in alerts[0].message and "P02" in alerts[0].message
    assert alerts[0].affects == ()  # it marks no measure
    # follow-up alerts stay out of the patient's sentences and of the reference's wording
    assert not any("P01" in s for s in other.summary.patient)
    assert any(line.startswith("Follow-up: ") and "P01" in line
               for line in other.summary.clinician)
    unnamed = build_profile(study, patients[1], reference, markers=panel,
                            previous=_visit(first), clock=CLOCK)
    assert not unnamed.alerts_for("followup")


def test_a_previous_profile_of_version_1_is_read(cohort):
    study, panel, reference, patients = cohort
    first = build_profile(study, patients[0], reference, markers=panel, clock=CLOCK)
    doc = json.loads(json.dumps(profile_document(first)))
    doc["schema_version"] = "1.0"  # as gutaxis 0.1 wrote it: bare index ids, no patient
    for m in doc["measures"]:
        m["id"] = m["id"].removeprefix("index:")
    del doc["patient_id"]
    second = build_profile(study, patients[1], reference, markers=panel,
                           previous=visit_from_document(doc), clock=CLOCK)
    rows = {row.id: row for row in second.followup}
    assert rows["index:shannon_entropy"].previous == pytest.approx(
        first.measure("index:shannon_entropy").value)


def test_an_out_of_range_patient_gets_a_warning_and_no_percentiles(cohort):
    study, panel, reference, patients = cohort
    profiles = (build_profile(study, pid, reference, markers=panel, clock=CLOCK)
                for pid in patients)
    profile = next((p for p in profiles
                    if any(a.code == "out_of_reference_range" for a in p.alerts)), None)
    assert profile is not None, "expected at least one patient outside the controls' range"
    shannon = profile.measure("index:shannon_entropy")
    assert shannon.status == "not comparable" and shannon.percentile is None
    assert profile.summary.clinician[0].startswith("Warning:")
    assert any("compared fairly" in s for s in profile.summary.patient)


def test_an_unknown_sample_is_named(cohort):
    study, panel, reference, _ = cohort
    with pytest.raises(NotFoundError, match="NOPE"):
        build_profile(study, "NOPE", reference, markers=panel)


def test_lab_values_are_the_ones_placed_in_the_reference(cohort, tmp_path):
    """A lab value overrides the metadata value, and its percentile is its own."""
    from gutaxis.stats import midrank_percentile

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
    assert (ref_values[np.isfinite(ref_values)] < 2500.0).all()
    assert ifabp.percentile == 100.0 and ifabp.status == "high"  # above every control


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
    alert = next(a for a in profile.alerts if a.code == "patient_in_reference")
    assert "index:shannon_entropy" in alert.affects  # the measures it placed


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

    assert ifabp.range_used.low == pytest.approx(np.nanpercentile(controls, 5))


def test_a_value_tied_with_the_bottom_of_the_reference_is_not_low():

    from gutaxis.reference import percentile_status

    reference = np.r_[np.zeros(12), np.linspace(0.01, 1, 188)]  # 6 % zeros
    assert percentile_status(1.5, 4.75) == "low"  # the interval alone
    assert percentile_status(1.5, 4.75, value=0.0, reference=reference) == "within"
    assert percentile_status(0.0, 0.5, value=-1.0, reference=reference) == "low"


# ------------------------------------------------------------------ censored values
def _labs(tmp_path, sample, *rows):
    path = tmp_path / "labs.csv"
    path.write_text("sample_id,marker,value,unit,ref_low,ref_high,assay\n"
                    + "".join(f"{sample},{row}\n" for row in rows), encoding="utf-8")
    return read_labs(path)


def test_a_censored_value_is_never_placed_in_a_percentile(cohort, tmp_path):
    """'<0.5 ng/mL' of LPS: below 500 pg/mL, above every control — it may be low or high."""
    study, panel, reference, patients = cohort
    controls = reference.measure_values("marker:lps", unit="pg/mL")
    assert controls.max() < 500  # gutaxis 0.1 called this "percentile 100, high"
    profile = build_profile(study, patients[0], reference, markers=panel,
                            labs=_labs(tmp_path, patients[0], "LPS,<0.5,ng/mL,,,"), clock=CLOCK)
    lps = profile.measure("marker:lps")
    assert (lps.value, lps.unit, lps.censored) == (500.0, "pg/mL", "<")
    assert lps.percentile is None and lps.ci_low is None and lps.status == "not comparable"
    assert any("low or within or high against the reference" in n for n in lps.notes)
    translocation = next(link for link in profile.chain if link.id == "translocation")
    assert ("marker:lps", "high") not in translocation.deciding
    assert "marker:lps" not in {m for m, _ in translocation.deciding}
    clinician = " ".join(profile.summary.clinician)
    assert "LPS 500" not in clinician  # not listed as outside the range


def test_a_censored_value_whose_limit_decides_is_judged(cohort, tmp_path):
    """'<1 pg/mL' lies below every control: every value it may stand for is low."""
    study, panel, reference, patients = cohort
    controls = reference.measure_values("marker:lps", unit="pg/mL")
    assert controls.min() > 1
    profile = build_profile(study, patients[0], reference, markers=panel,
                            labs=_labs(tmp_path, patients[0], "LPS,<1,pg/mL,,,"), clock=CLOCK)
    lps = profile.measure("marker:lps")
    assert lps.status == "low" and lps.percentile is None and lps.censored == "<"
    assert lps.range_used.kind == "reference"
    assert any("the limit decides" in n for n in lps.notes)


def test_a_censored_value_against_a_published_cutoff(cohort, tmp_path):
    """Calprotectin's cut-off is 50 ug/g: '<50' is within; '<80' may be either, not judged."""
    study, panel, reference, patients = cohort
    decided = build_profile(study, patients[0], reference, markers=panel,
                            labs=_labs(tmp_path, patients[0], "calprotectin,<50,ug/g,,,"),
                            clock=CLOCK)
    fc = decided.measure("marker:calprotectin")
    assert (fc.status, fc.range_used.kind, fc.censored) == ("within", "catalogue", "<")
    undecided = build_profile(study, patients[0], reference, markers=panel,
                              labs=_labs(tmp_path, patients[0], "calprotectin,<80,ug/g,,,"),
                              clock=CLOCK)
    fc = undecided.measure("marker:calprotectin")
    assert fc.status == "not comparable" and fc.censored == "<"
    inflammation = next(link for link in undecided.chain if link.id == "inflammation")
    assert inflammation.status == "not comparable"
    assert inflammation.not_comparable == ("marker:calprotectin",)


def test_a_censored_value_keeps_its_sign_in_the_followup(cohort, tmp_path):
    study, panel, reference, patients = cohort
    first = build_profile(study, patients[0], reference, markers=panel,
                          labs=_labs(tmp_path, patients[0], "LPS,<0.5,ng/mL,,,"), clock=CLOCK)
    doc = json.loads(json.dumps(profile_document(first)))
    assert next(m for m in doc["measures"] if m["id"] == "marker:lps")["censored"] == "<"
    second = build_profile(study, patients[0], reference, markers=panel, previous=_visit(first),
                           clock=CLOCK)
    row = next(r for r in second.followup if r.id == "marker:lps")
    assert (row.previous, row.previous_censored) == (500.0, "<")
    assert row.change is None and row.real_change is None
    assert second.history[-1]["censored"] == {"marker:lps": "<"}


def test_a_censored_value_inside_the_reference_is_not_placed(cohort, tmp_path):
    study, panel, reference, patients = cohort
    profile = build_profile(study, patients[0], reference, markers=panel,
                            labs=_labs(tmp_path, patients[0], "LPS,<90,pg/mL,,,"), clock=CLOCK)
    lps = profile.measure("marker:lps")
    assert lps.status == "not comparable" and lps.percentile is None
    assert any("low or within against the reference" in n for n in lps.notes)



def _paired_controls(study):
    """The bundled controls as if each pair of consecutive samples were one person."""
    samples = study.samples.copy()
    controls = sorted(samples.index[samples["Subject"] == "Control"])
    samples["person"] = [f"p{controls.index(s) // 2}" if s in controls else s
                         for s in samples.index]
    return study.replace(samples=samples), controls


@pytest.mark.parametrize(("per_subject", "sample", "codes"), [
    # first: the second sample of a person is not in the reference, its person is
    ("first", 1, {"patient_in_reference"}),
    ("first", 0, {"patient_in_reference"}),
    # mean: rows are people named p0, p1…; a member sample is found through the person
    ("mean", 1, {"patient_in_reference", "reference_of_person_means"}),
    ("all", 1, {"patient_in_reference", "reference_of_repeated_samples"}),
])
def test_a_reference_of_people_says_how_a_sample_relates_to_it(cohort, per_subject, sample,
                                                                codes):
    study, panel, _, patients = cohort
    paired, controls = _paired_controls(study)
    with pytest.warns(SmallReferenceWarning, match=r"leaves 20 people; with fewer than 30"):
        reference = build_reference(paired, name="people", where="Subject == 'Control'",
                                    subject="person", per_subject=per_subject)
    profile = build_profile(paired, controls[sample], reference, clock=CLOCK)
    found = {a.code for a in profile.alerts} & {"patient_in_reference",
                                                 "reference_of_person_means",
                                                 "reference_of_repeated_samples"}
    assert found == codes
    if per_subject == "first" and sample == 1:
        alert = next(a for a in profile.alerts if a.code == "patient_in_reference")
        assert "comes from a person who is in the reference through another" in alert.message
    # a patient is in none of them, whatever the reference's rows are called
    other = build_profile(paired, patients[0], reference, clock=CLOCK)
    assert "patient_in_reference" not in {a.code for a in other.alerts}


def test_a_person_named_like_a_sample_is_not_taken_for_it(cohort):
    study, _, _, patients = cohort
    paired, controls = _paired_controls(study)
    samples = paired.samples.copy()
    samples.loc[controls[:2], "person"] = patients[0]  # a person id that is a sample id
    paired = paired.replace(samples=samples)
    with pytest.warns(SmallReferenceWarning):
        reference = build_reference(paired, name="people", where="Subject == 'Control'",
                                    subject="person", per_subject="mean")
    assert patients[0] in set(map(str, reference.sample_ids))  # a row named like the patient
    profile = build_profile(paired, patients[0], reference, clock=CLOCK)
    assert "patient_in_reference" not in {a.code for a in profile.alerts}


def test_per_subject_needs_a_subject(cohort):
    from gutaxis.exceptions import ValidationError

    study, _, _, _ = cohort
    with pytest.raises(ValidationError, match=r"--per-subject mean says how a person's samples "
                                              r"enter, and needs --subject"):
        build_reference(study, name="x", where="Subject == 'Control'", per_subject="mean")


def test_a_reference_of_all_samples_resamples_people(cohort):
    """Every control twice (a copy under another id) with --per-subject all gives the very
    percentiles and intervals of the controls once: the bootstrap resamples people."""
    import scipy.sparse as sp

    study, _, _, patients = cohort
    controls = sorted(study.samples.index[study.samples["Subject"] == "Control"])
    keep = [*controls, patients[0]]
    base = study.subset_samples(keep)
    twice = base.subset_samples(controls)
    copies = [f"{s}_copy" for s in controls]
    samples = pd.concat([base.samples.assign(person=list(base.sample_ids)),
                         twice.samples.set_axis(copies).assign(person=controls)])
    doubled = type(study)(sp.vstack([base.counts, twice.counts]).tocsr(),
                          [*map(str, base.sample_ids), *copies], list(study.feature_ids),
                          taxonomy=study.taxonomy, samples=samples)
    once = build_reference(base, name="once", where="Subject == 'Control'")
    all_ = build_reference(doubled, name="all", where="Subject == 'Control'",
                           subject="person", per_subject="all")
    assert all_.n_samples == 2 * once.n_samples and all_.n_people == once.n_samples
    a = {m.id: m for m in build_profile(base, patients[0], once, clock=CLOCK).measures}
    b = {m.id: m for m in build_profile(doubled, patients[0], all_, clock=CLOCK).measures}
    placed = [k for k, m in a.items() if m.percentile is not None]
    assert len(placed) >= 5
    for k in placed:
        assert (b[k].percentile, b[k].ci_low, b[k].ci_high) == pytest.approx(
            (a[k].percentile, a[k].ci_low, a[k].ci_high), abs=1e-9), k
