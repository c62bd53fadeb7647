"""Building a reference cohort: what is frozen, which samples, and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from builders.reference import GENERA, N_CONTROL, N_PATIENT
from gutaxis.exceptions import (
    NotFoundError,
    RepeatedMeasuresWarning,
    UnknownRankError,
    ValidationError,
)
from gutaxis.markers import marker_panel
from gutaxis.reference import Reference, SmallReferenceWarning, build_reference
from gutaxis.study import Study


# ---------------------------------------------------------------- building
def test_build_freezes_the_reference(reference: Reference) -> None:
    assert reference.n_samples == N_CONTROL
    assert reference.sequencing == "16S amplicon" and reference.region == "V4"
    assert reference.taxonomy_scheme == "greengenes"
    assert list(reference.taxa) == ["phylum", "family", "genus", "species"]
    genus = reference.taxa["genus"]
    assert genus.shape == (N_CONTROL, len(GENERA)) and genus.dtypes.eq(np.float32).all()
    np.testing.assert_allclose(genus.sum(axis=1), 1.0, rtol=1e-5)
    assert list(reference.indices.columns[:3]) == ["gmhi", "md_index", "shannon_entropy"]
    assert reference.indices["gmhi"].isna().all()  # GMHI is not defined on 16S genera
    assert "not applicable" in reference.details["index_notes"]["gmhi"]
    assert reference.marker_info["LPS"].unit == "pg/mL"
    assert reference.marker_info["LPS"].catalog_id == "lps"
    assert np.all(reference.read_depth >= 5000)
    assert 0 < reference.distance_threshold < 1
    assert reference.distance_threshold == pytest.approx(
        np.percentile(reference.median_distance, 99))
    assert len(reference.version) == 64
    assert reference.details["where"] == "Subject == 'Control'"
    assert reference.summary() == {
        "name": "synthetic controls", "version": reference.version, "n_samples": N_CONTROL,
        "n_people": N_CONTROL, "per_subject": None, "sequencing": "16S amplicon (V4)",
        "taxonomy_scheme": "greengenes",
        "created": reference.created, "where": "Subject == 'Control'"}


def test_sequencing_and_taxonomy_are_inferred(study: Study) -> None:
    ref = build_reference(study, name="x", rank_list=("genus",))
    assert (ref.sequencing, ref.region) == ("16S amplicon", None)
    assert ref.details["sequencing_source"] == "inferred"
    assert ref.taxonomy_scheme == "greengenes"
    assert list(ref.taxa) == ["genus"]


def test_median_distances_are_bray_curtis_on_genera(reference: Reference) -> None:
    x = reference.taxa["genus"].to_numpy(dtype=np.float64)
    first = [np.abs(x[0] - x[j]).sum() / (x[0].sum() + x[j].sum()) for j in range(1, len(x))]
    assert reference.median_distance[0] == pytest.approx(np.median(first), rel=1e-9)


def test_version_is_a_content_hash(study: Study, panel) -> None:
    a = build_reference(study, name="a", where="Subject == 'Control'", markers=panel)
    b = build_reference(study, name="b", where="Subject == 'Control'", markers=panel)
    c = build_reference(study, name="c", where="Age > 0", markers=panel)
    assert a.version == b.version != c.version


def test_reference_samples_below_min_reads_are_left_out(study: Study) -> None:
    depth = study.sample_totals()
    cut = int(np.sort(depth[:N_CONTROL])[5])  # five controls fall below
    ref = build_reference(study, name="x", where="Subject == 'Control'", min_reads=cut)
    assert ref.n_samples == N_CONTROL - 5
    assert len(ref.details["excluded"][f"fewer than {cut} reads"]) == 5


# -------------------------------------------------------------- `where`
@pytest.mark.parametrize(("where", "match"), [
    ("Subject ==", "not a valid condition"),
    ("Nope == 'x'", "not a valid condition.*columns are: Subject, Age, LPSpgml"),
    ("subject == 'Control'", "'subject' is not a column; did you mean 'Subject'\\?"),
    ("Age", "true/false condition"),
    ("x = 1", r"true/false condition.*is not one \(it sets a column with '='; compare with "
              r"'=='\)"),
    ("Age > @limit", "Python variables"),
    ("", "must be a condition such as"),
])
def test_invalid_where_is_refused(study: Study, where: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        build_reference(study, name="x", where=where)


def test_where_selecting_too_few_is_refused(study: Study) -> None:
    with pytest.raises(ValidationError, match=r"leaves 0 sample\(s\) \(column 'Subject' holds: "
                                              r"'Control' 60, 'Patient' 10\); a reference "
                                              r"needs at least 10"):
        build_reference(study, name="x", where="Subject == 'control'")
    with pytest.raises(ValidationError, match="leaves 9 sample"):
        build_reference(study.subset_samples(study.sample_ids[:9].tolist()), name="x")


def test_small_reference_warns(study: Study) -> None:
    with pytest.warns(SmallReferenceWarning, match="leaves 10 samples"):
        ref = build_reference(study, name="x", where="Subject == 'Patient'")
    assert ref.n_samples == N_PATIENT


def test_where_needs_metadata(study: Study) -> None:
    bare = study.replace(None, samples=None)
    with pytest.raises(ValidationError, match="the study has none; give --metadata"):
        build_reference(bare, name="x", where="Age > 1")


def test_bad_options(study: Study) -> None:
    with pytest.raises(UnknownRankError, match="valid names are: kingdom"):
        build_reference(study, name="x", rank_list=("genera",))
    with pytest.raises(ValidationError, match="--min-reads"):
        build_reference(study, name="x", min_reads=-1)
    with pytest.raises(ValidationError, match="16S amplicon or shotgun"):
        build_reference(study, name="x", sequencing="nanopore")
    with pytest.raises(NotFoundError, match="reference sample"):
        build_reference(study, name="x", markers=marker_panel(study.samples.iloc[:5],
                                                              ["LPSpgml"]))


# ------------------------------------------------------------ repeated subjects
def _two_per_person(study: Study, people: int | None = None) -> Study:
    """The controls as two samples per person (S000+S001 are person0, ...)."""
    md = study.samples.copy()
    n = N_CONTROL if people is None else 2 * people
    controls = [f"S{i:03d}" for i in range(N_CONTROL)]
    md["host"] = [f"person{i // 2}" if i < n else f"solo{i}" for i in range(len(md))]
    md.loc[[s for s in md.index if s not in controls], "host"] = [
        f"patient{i}" for i in range(N_PATIENT)]
    return study.with_metadata(md)


def test_per_subject_first_keeps_one_sample_per_person(study: Study) -> None:
    paired = _two_per_person(study)
    ref = build_reference(paired, name="c", where="Subject == 'Control'", subject="host")
    assert ref.n_samples == ref.n_people == 30
    assert list(ref.sample_ids) == [f"S{i:03d}" for i in range(0, N_CONTROL, 2)]
    record = ref.details["subjects"]
    assert record["per_subject"] == "first" and record["n_subjects"] == 30
    assert record["n_samples"] == 60
    assert record["left_out"] == [f"S{i:03d}" for i in range(1, N_CONTROL, 2)]
    assert ref.summary()["n_people"] == 30 and ref.summary()["per_subject"] == "first"
    assert not ref.contains_sample("S001")


def test_per_subject_mean_averages_each_persons_samples(study: Study) -> None:
    from gutaxis.reference import relative_at

    paired = _two_per_person(study)
    panel = marker_panel(paired.samples, ["LPSpgml"])
    ref = build_reference(paired, name="c", where="Subject == 'Control'", subject="host",
                          per_subject="mean", markers=panel)
    assert ref.n_samples == ref.n_people == 30
    assert list(ref.sample_ids[:2]) == ["person0", "person1"]
    both = relative_at(paired.subset_samples(["S000", "S001"]), "genus")
    expected = both.mean(axis=0)
    got = ref.taxa["genus"].loc["person0", expected.index]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-6)  # float32
    lps = paired.samples.loc[["S000", "S001"], "LPSpgml"].mean()
    assert ref.markers.loc["person0"].iloc[0] == pytest.approx(lps, rel=1e-12)
    depth = paired.sample_totals()[:2].mean()
    assert ref.read_depth[0] == pytest.approx(depth)
    assert ref.contains_sample("S001") and not ref.contains_sample("S070")
    assert ref.details["subjects"]["samples"]["person0"] == ["S000", "S001"]


def test_per_subject_all_keeps_every_sample_and_counts_people(study: Study) -> None:
    paired = _two_per_person(study)
    ref = build_reference(paired, name="c", where="Subject == 'Control'", subject="host",
                          per_subject="all")
    assert ref.n_samples == 60 and ref.n_people == 30
    first = build_reference(paired, name="c", where="Subject == 'Control'", subject="host")
    with pytest.warns(RepeatedMeasuresWarning):
        plain = build_reference(paired, name="c", where="Subject == 'Control'")
    assert len({ref.version, first.version, plain.version}) == 3


def test_the_size_rule_counts_people(study: Study) -> None:
    md = study.samples.copy()
    md["host"] = [f"p{i % 5}" for i in range(len(md))]
    with pytest.raises(ValidationError, match=r"leaves 5 people; a reference needs at least 10"):
        build_reference(study.with_metadata(md), name="c", where="Subject == 'Control'",
                        subject="host")
    with pytest.raises(ValidationError, match=r"--per-subject must be one of first, mean, all"):
        build_reference(study, name="c", subject="host", per_subject="median")


def test_a_subject_like_column_is_pointed_out(study: Study) -> None:
    paired = _two_per_person(study)
    with pytest.warns(RepeatedMeasuresWarning, match=r"'host' looks like a subject id .* "
                                                     r"build again with --subject host"):
        build_reference(paired, name="c", where="Subject == 'Control'")
