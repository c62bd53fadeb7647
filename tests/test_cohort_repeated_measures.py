"""The cohort analysis with several samples per person (``--subject``), on simulated truth.

Every simulated person has a composition of their own; the two groups do not
differ.  Samples treated as people then make the groups look different; with
the subject as the unit every test sits at chance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gutaxis import Study
from gutaxis.cohort import CohortParameters, analyze_cohort
from gutaxis.exceptions import (
    LowDepthWarning,
    NotFoundError,
    RepeatedMeasuresWarning,
    ValidationError,
)
from gutaxis.markers import marker_panel
from gutaxis.study import RANKS

FAST = {"permutations": 199, "cv_folds": 4, "cv_repeats": 2, "n_estimators": 40,
        "alpha_metrics": ("shannon_entropy", "observed_features"),
        "beta_metrics": ("braycurtis",), "rarefy_depth": None}


def people(seed: int = 0, n_people: int = 24, per_person: int = 5, m: int = 40) -> Study:
    """Counts of ``n_people`` people × ``per_person`` samples; no group effect."""
    rng = np.random.default_rng(seed)
    base = rng.dirichlet(np.full(m, 0.5))
    person_mix = np.array([rng.dirichlet(base * 20 + 0.05) for _ in range(n_people)])
    person = np.repeat(np.arange(n_people), per_person)
    counts = np.array([rng.multinomial(5000, rng.dirichlet(person_mix[p] * 300 + 0.01))
                       for p in person])
    ids = [f"S{i:03d}" for i in range(len(person))]
    features = [f"F{j}" for j in range(m)]
    taxonomy = pd.DataFrame({rank: [f"{rank[0]}{j % 3}" for j in range(m)] for rank in RANKS},
                            index=features)
    taxonomy["genus"] = [f"G{j}" for j in range(m)]
    taxonomy["species"] = [f"G{j} sp{j}" for j in range(m)]
    metadata = pd.DataFrame({
        "diagnosis": np.where(person < n_people // 2, "case", "control"),
        "host_subject_id": [f"person{p}" for p in person],
        "CRP": np.repeat(rng.lognormal(0.5, 0.8, n_people), per_person)
        * rng.lognormal(0, 0.1, len(person)),
        "visit": np.tile(np.arange(per_person), n_people),
    }, index=ids)
    study = Study(counts, ids, features, taxonomy=taxonomy)
    return study.with_metadata(metadata)


@pytest.fixture(scope="module")
def cohort() -> Study:
    return people()


def _run(study: Study, **kw):
    panel = marker_panel(study.samples, ["CRP=mg/L"])
    return analyze_cohort(study, CohortParameters("diagnosis", **{**FAST, **kw}), markers=panel)


def test_without_subject_the_samples_pass_for_people_and_the_note_says_so(cohort):
    with pytest.warns(RepeatedMeasuresWarning, match="'host_subject_id' looks like a subject"):
        naive = _run(cohort)
    assert naive.subjects is None and naive.parameters["unit_of_analysis"] == "sample"
    note = naive.repeated_measures_note
    assert note is not None and "'host_subject_id' looks like a subject id" in note
    assert "--subject host_subject_id" in note and "120 samples" in note
    # pseudo-replication: a person effect read as a group effect
    assert naive.permanova["braycurtis"].p_value <= 0.01
    assert naive.classifier["microbiome"].auc_mean > 0.85
    assert naive.marker_tests["CRP"].n == 120


def test_with_subject_every_test_counts_people(cohort):
    honest = _run(cohort, subject="host_subject_id")
    assert honest.repeated_measures_note is None
    assert honest.parameters["unit_of_analysis"] == "subject"
    assert honest.parameters["n_subjects"] == 24
    assert honest.subjects.nunique() == 24
    perm = honest.permanova["braycurtis"]
    assert perm.extra["permutation_design"]["kind"] == "whole subjects"
    assert perm.n == 120  # the distances of every sample, permuted by person
    assert perm.p_value > 0.05
    assert honest.permdisp["braycurtis"].extra["permutation_design"]["n_subjects"] == 24
    # one value per person in the group tests: 12 + 12
    for test in (*honest.alpha_tests.values(), honest.marker_tests["CRP"]):
        assert test.n == 24
    # the marker is constant within a person up to 10 % noise: its per-person mean is the
    # geometric-noise-free value to within that noise, and the test sees 24 values
    clf = honest.classifier["microbiome"]
    assert clf.cv["grouped_by_subject"] is True
    assert clf.auc_mean < 0.75
    assert honest.marker_correlations.empty or honest.marker_correlations["n"].max() <= 24


def test_a_person_in_two_groups_is_refused(cohort):
    md = cohort.samples.copy()
    md.loc[md.index[0], "diagnosis"] = "control"  # person0 (a case) now has one control sample
    study = cohort.with_metadata(md)
    with pytest.raises(ValidationError, match=r"--subject host_subject_id: the groups of "
                                              r"--group diagnosis change within 1 subject\(s\) "
                                              r"\(e.g. person0: "):
        _run(study, subject="host_subject_id")


def test_subject_column_errors(cohort):
    with pytest.raises(NotFoundError, match="host_subject"):
        _run(cohort, subject="host_subjectid")
    md = cohort.samples.copy()
    md.loc[md.index[:2], "host_subject_id"] = np.nan
    with pytest.raises(ValidationError, match=r"2 sample\(s\) have no subject value: S000, "
                                              r"S001"):
        _run(cohort.with_metadata(md), subject="host_subject_id")
    with pytest.raises(ValidationError, match=r"every group needs at least 3 subjects; "
                                              r"'case' has 2"):
        _run(cohort, subject="host_subject_id",
             where="host_subject_id in ['person0', 'person1'] or diagnosis == 'control'")


def test_too_few_people_for_a_permutation_p_below_005_is_refused_up_front(cohort):
    three_each = "host_subject_id in ['person0', 'person1', 'person2', 'person12', " \
                 "'person13', 'person14']"
    with pytest.raises(ValidationError, match=r"--subject host_subject_id: PERMANOVA with whole "
                                              r"subjects permuted: the groups hold 3 and 3 "
                                              r"subjects, which allow only 10 distinct"):
        _run(cohort, subject="host_subject_id", where=three_each)


def test_where_chooses_the_samples(cohort):
    first_visits = _run(cohort, where="visit == 0", classifier=False)
    assert len(first_visits.groups) == 24
    assert first_visits.parameters["where"] == "visit == 0"
    assert first_visits.repeated_measures_note is None  # one sample per person is left
    with pytest.raises(ValidationError, match=r"--where 'visit == 9' selects no sample "
                                              r"\(column 'visit' holds"):
        _run(cohort, where="visit == 9")


def test_results_and_report_say_how_people_were_counted(cohort):
    import jsonschema

    from gutaxis.report import render_report, results_document, results_schema

    with pytest.warns(RepeatedMeasuresWarning):
        naive = _run(cohort, classifier=False)
    honest = _run(cohort, subject="host_subject_id", classifier=False)
    for analysis in (naive, honest):
        jsonschema.validate(results_document(analysis), results_schema())
    doc = results_document(honest)
    assert doc["subjects"] == {"column": "host_subject_id", "n": 24,
                               "per_group": {"case": 12, "control": 12}}
    assert doc["repeated_measures_note"] is None
    assert doc["beta"]["braycurtis"]["permanova"]["permutation_design"] == "whole subjects"
    naive_doc = results_document(naive)
    assert naive_doc["subjects"] is None
    assert naive_doc["beta"]["braycurtis"]["permdisp"]["permutation_design"] == "free"
    assert "--subject host_subject_id" in naive_doc["repeated_measures_note"]

    page = render_report(naive)
    alert = page.index('id="repeated-measures"')
    assert alert < page.index('<section id="diversity">')  # before the results
    assert "run again with --subject host_subject_id" in page[alert:alert + 900]
    assert 'id="unit-of-analysis"' not in page
    page = render_report(honest)
    assert 'id="repeated-measures"' not in page
    unit = page.index('id="unit-of-analysis"')
    assert unit < page.index('<section id="diversity">')
    assert "24 people (case 12, control 12) gave the 120 samples" in page[unit:unit + 400]
    assert ("120 samples in 2 groups of diagnosis: case (n = 60), control (n = 60), from 24 "
            "people (case 12, control 12).") in page


def test_a_numeric_or_id_like_group_column_is_refused(cohort):
    with pytest.raises(ValidationError, match=r"--group CRP holds numbers with 120 distinct "
                                              r"values \(from .* to .*\); the analysis compares "
                                              r"groups"):
        analyze_cohort(cohort, CohortParameters("CRP", **FAST))
    with pytest.raises(ValidationError, match=r"--group host_subject_id has 24 distinct values "
                                              r"\('person0', .* …\); the analysis compares at "
                                              r"most 20 groups. Is it an id column"):
        analyze_cohort(cohort, CohortParameters("host_subject_id", **FAST))


def test_empty_samples_are_named_when_the_groups_fall_short(cohort):
    counts = cohort.counts.toarray()
    counts[:58] = 0  # all but two 'case' samples have no reads
    study = Study(counts, cohort.sample_ids, cohort.feature_ids, taxonomy=cohort.taxonomy,
                  samples=cohort.samples)
    with pytest.raises(ValidationError, match=r"'case' has 2 .*\(58 sample\(s\) with no reads "
                                              r"were left out first: S000, S001"):
        analyze_cohort(study, CohortParameters("diagnosis", **FAST))


def test_an_automatic_depth_below_1000_reads_is_warned_about(cohort):
    counts = cohort.counts.toarray()
    counts = (counts // 50)  # about 100 reads per sample
    study = Study(counts, cohort.sample_ids, cohort.feature_ids, taxonomy=cohort.taxonomy,
                  samples=cohort.samples)
    depth = int(np.sort(counts.sum(axis=1))[::-1][int(np.ceil(0.9 * 120)) - 1])
    with pytest.warns(LowDepthWarning, match=rf"rarefied to {depth:,} reads per sample \(the "
                                             r"depth that keeps 90 % of the samples"):
        analysis = analyze_cohort(study, CohortParameters(
            "diagnosis", subject="host_subject_id", **{**FAST, "rarefy_depth": "auto"}))
    assert analysis.rarefaction_depth == depth < 1000
