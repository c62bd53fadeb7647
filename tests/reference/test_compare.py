"""Placing one patient against a reference: percentiles, intervals, comparability."""

from __future__ import annotations

import numpy as np
import pytest

from builders.reference import (
    GENERA,
    N_CONTROL,
    metaphlan_patient,
    patient_study,
    synthetic_study,
)
from gutaxis.exceptions import NotFoundError, ValidationError
from gutaxis.knowledge import load_chain
from gutaxis.measures import Measure, RangeUsed
from gutaxis.reference import (
    Reference,
    compare_to_reference,
    load_reference,
    percentile_status,
    place_markers,
    save_reference,
)
from gutaxis.stats import percentile_with_ci
from gutaxis.study import Study


def _microbiome(comparison) -> list:
    return list(comparison.measures)


# -------------------------------------------------------------- comparing
def _typical(reference: Reference) -> str:
    shannon = reference.indices["shannon_entropy"]
    return str((shannon - shannon.median()).abs().idxmin())


def test_patient_from_the_reference_is_comparable_and_within(reference: Reference,
                                                            study: Study, panel) -> None:
    sid = _typical(reference)
    cmp = compare_to_reference(reference, study, sid, n_boot=500)
    assert cmp.comparable
    assert not [a for a in cmp.alerts if a.blocking]
    assert cmp.median_distance is not None
    assert cmp.median_distance <= reference.distance_threshold
    shannon = cmp.measure("index:shannon_entropy")
    assert shannon.status == "within" and shannon.kind == "index"
    assert shannon.ci_low <= shannon.percentile <= shannon.ci_high
    assert shannon.reference_n == N_CONTROL
    assert shannon.range_used is not None and shannon.range_used.kind == "reference"
    placed = [m for m in cmp.measures if m.value is not None]
    assert placed and all(m.status in ("low", "within", "high") for m in placed)
    assert cmp.measure("index:gmhi").status == "not measured"
    assert cmp.measure("taxon:roseburia").unit == "fraction"
    marker = place_markers(reference, [Measure("marker:lps", "LPS", "marker", 150.0, "pg/mL",
                                                "not comparable")], n_boot=500)[0]
    # the controls' LPS is lognormal around e^5 ≈ 148 pg/mL: 150 pg/mL sits in the middle
    assert marker.status == "within" and marker.range_used.kind == "reference"


def test_percentile_equals_percentile_with_ci_on_the_stored_data(reference: Reference,
                                                                 study: Study, panel) -> None:
    cmp = compare_to_reference(reference, study, "S065", n_boot=300, seed=4)
    value = float(panel.values.loc["S065", "LPS"])
    lps = place_markers(reference, [Measure("marker:lps", "LPS", "marker", value, "pg/mL",
                                            "not comparable")], n_boot=300, seed=4)[0]
    for m in (cmp.measure("index:shannon_entropy"),
              cmp.measure("taxon:faecalibacterium_prausnitzii"), lps):
        measure_id = m.id
        expected = percentile_with_ci(m.value, reference.measure_values(measure_id),
                                      n_boot=300, seed=4)
        assert (m.percentile, m.ci_low, m.ci_high) == pytest.approx(expected, abs=1e-12)
        assert m.status == percentile_status(m.ci_low, m.ci_high)


def test_status_convention() -> None:
    rule = load_chain().percentile_rule
    assert (rule.low_below, rule.high_above, rule.require_ci) == (5, 95, True)
    assert percentile_status(0.0, 4.9) == "low"
    assert percentile_status(0.0, 5.0) == "within"
    assert percentile_status(95.1, 100.0) == "high"
    assert percentile_status(95.0, 100.0) == "within"


def test_the_knowledge_base_rule_decides(monkeypatch) -> None:
    """The code reads the rule from chain.yaml: another rule there gives other statuses."""
    import gutaxis.reference.compare as compare

    chain = load_chain()
    wider = chain.model_copy(update={"percentile_rule": chain.percentile_rule.model_copy(
        update={"low_below": 25.0, "high_above": 75.0})})
    monkeypatch.setattr(compare, "load_chain", lambda: wider)
    assert percentile_status(10.0, 20.0) == "low"
    assert percentile_status(80.0, 90.0) == "high"
    rng = compare._reference_range(_FakeRef(), np.arange(101.0), label="x")
    assert (rng.low, rng.high) == (25.0, 75.0)
    assert rng.source.endswith("25th–75th percentile")


class _FakeRef:
    name = "hand"
    version = "0" * 64


def test_out_of_range_patient_is_flagged(reference: Reference) -> None:
    rare = patient_study({"Fusobacterium": 0.9, "Bacteroides": 0.1})
    cmp = compare_to_reference(reference, rare, "P1", n_boot=200, ranks=("genus",))
    codes = {a.code: a for a in cmp.alerts}
    assert "out_of_reference_range" in codes
    warning = codes["out_of_reference_range"]
    assert warning.blocking and "Fusobacterium (90%)" in warning.message
    assert cmp.median_distance > reference.distance_threshold
    assert not cmp.comparable
    for m in _microbiome(cmp):
        assert m.status in ("not comparable", "not measured")
        assert m.percentile is None and m.ci_low is None
    assert cmp.measure("index:shannon_entropy").status == "not comparable"
    assert "out_of_reference_range" in cmp.measure("index:shannon_entropy").notes[-1]
    assert set(cmp.taxa["genus"]["status"]) == {"not comparable"}
    assert "taxa:genus" in warning.affects
    assert cmp.to_dict()["alerts"][0]["code"]


def test_shotgun_patient_against_16s_reference_is_not_comparable(reference: Reference) -> None:
    cmp = compare_to_reference(reference, metaphlan_patient(), "M1", n_boot=200)
    codes = {a.code for a in cmp.alerts if a.blocking}
    assert {"sequencing_mismatch", "taxonomy_mismatch"} <= codes
    message = next(a.message for a in cmp.alerts if a.code == "sequencing_mismatch")
    assert "shotgun" in message and "16S amplicon" in message
    shannon = cmp.measure("index:shannon_entropy")
    assert shannon.value is not None and shannon.status == "not comparable"
    assert shannon.percentile is None
    assert cmp.median_distance is None  # not computed across sequencing types


def test_too_few_reads_is_flagged(reference: Reference) -> None:
    shallow = patient_study({"Bacteroides": 0.4, "Faecalibacterium": 0.3, "Blautia": 0.3},
                            reads=600)
    cmp = compare_to_reference(reference, shallow, "P1", n_boot=200)
    low = [a for a in cmp.alerts if a.code == "low_depth"]
    assert len(low) == 1 and low[0].blocking
    assert "fewer than the reference accepts" in low[0].message
    assert cmp.read_depth == pytest.approx(600, abs=3)
    assert cmp.measure("index:shannon_entropy").status == "not comparable"


def test_markers_are_converted_to_the_reference_unit_to_be_placed(reference: Reference) -> None:
    """A marker in ng/mL is placed in a pg/mL reference: the same percentile as 150 pg/mL."""
    in_ng = place_markers(reference, [Measure("marker:lps", "LPS", "marker", 0.15, "ng/mL",
                                              "not comparable")], n_boot=200)[0]
    in_pg = place_markers(reference, [Measure("marker:lps", "LPS", "marker", 150.0, "pg/mL",
                                              "not comparable")], n_boot=200)[0]
    assert in_ng.value == 0.15 and in_ng.unit == "ng/mL"  # shown as reported
    assert (in_ng.percentile, in_ng.ci_low, in_ng.ci_high) == (
        in_pg.percentile, in_pg.ci_low, in_pg.ci_high)
    assert in_ng.range_used.low == pytest.approx(in_pg.range_used.low / 1000)


def test_a_marker_placed_by_the_reference_no_longer_says_it_is_unjudged(
        reference: Reference) -> None:
    from gutaxis.knowledge import load_marker_catalog
    from gutaxis.markers import interpret_marker
    from gutaxis.markers.interpret import NO_INTERVAL_NOTE

    entry = load_marker_catalog().find("lps")[0]
    alone = interpret_marker(entry, 150.0, "pg/mL")   # no lab range, no cut-off
    assert alone.status == "not comparable" and NO_INTERVAL_NOTE in alone.notes
    placed = place_markers(reference, [alone], n_boot=200)[0]
    assert placed.status in {"low", "within", "high"} and placed.percentile is not None
    assert not any("without a judgement" in n for n in placed.notes), placed.notes
    i = placed.notes.index(NO_INTERVAL_NOTE)
    assert placed.notes[i + 1] == "judged by its place in the reference cohort instead"


def test_a_marker_judged_by_its_own_range_keeps_it(reference: Reference) -> None:
    judged = RangeUsed("lab", 0.0, 100.0, "lab")
    m = place_markers(reference, [Measure("marker:lps", "LPS", "marker", 150.0, "pg/mL", "high",
                                          range_used=judged)], n_boot=200)[0]
    assert m.status == "high" and m.range_used is judged and m.percentile is not None


def test_a_marker_the_reference_lacks_is_left_as_it_is(reference: Reference) -> None:
    crp = Measure("marker:hscrp", "hs-CRP", "marker", 2.0, "mg/L", "within")
    assert place_markers(reference, [crp]) == [crp]
    with pytest.raises(ValidationError, match="places markers; index:gmhi is of kind 'index'"):
        place_markers(reference, [Measure("index:gmhi", "GMHI", "index", 1.0, "", "low")])


def test_taxa_tables(reference: Reference, study: Study) -> None:
    cmp = compare_to_reference(reference, study, "S061", ranks=("genus", "phylum"), n_boot=200)
    genus = cmp.taxa["genus"]
    assert list(genus.columns) == ["label", "value", "percentile", "ci_low", "ci_high", "n",
                                   "status"]
    assert genus["value"].sum() == pytest.approx(1.0, abs=1e-5)
    row = genus.loc[genus["label"] == "Faecalibacterium"].iloc[0]
    stored = reference.taxa["genus"][genus.index[genus["label"] == "Faecalibacterium"][0]]
    pct, lo, hi = percentile_with_ci(row["value"], stored, n_boot=200, seed=0)
    assert (row["percentile"], row["ci_low"], row["ci_high"]) == pytest.approx((pct, lo, hi))
    with pytest.raises(NotFoundError, match="rank"):
        compare_to_reference(reference, study, "S061", ranks=("order",))


def test_unknown_patient_sample(reference: Reference, study: Study) -> None:
    with pytest.raises(NotFoundError, match="'nobody'"):
        compare_to_reference(reference, study, "nobody")


def test_loaded_reference_compares_like_the_built_one(reference: Reference, study: Study,
                                                      panel, tmp_path) -> None:
    loaded = load_reference(save_reference(reference, tmp_path / "ref"))
    a = compare_to_reference(reference, study, "S066", n_boot=200)
    b = compare_to_reference(loaded, study, "S066", n_boot=200)
    assert a.measures == b.measures and a.alerts == b.alerts


def test_taxa_tables_and_measures_judge_a_taxon_alike() -> None:
    """One rule for both: a taxon absent here and in 6 % of the reference is not "low".

    With 25 of 400 reference samples at 0, a patient at 0 has a mid-rank percentile of
    about 3 and an interval wholly below 5, but the value equals the reference's 5th
    percentile value (0): the rule's tie clause makes it "within", in the taxa table as
    in the measures (the table used to skip the clause).
    """
    import dataclasses

    from gutaxis.reference import build_reference

    big = build_reference(synthetic_study(n_control=400, n_patient=0), name="big",
                          sequencing="16S V4")
    genus = big.taxa["genus"].copy()
    bif = next(c for c in genus.columns if c.endswith("g__Bifidobacterium"))
    assert (genus[bif] > 0).all()
    genus.iloc[:25, genus.columns.get_loc(bif)] = 0.0
    tied = dataclasses.replace(big, taxa={**big.taxa, "genus": genus})
    shares = {g[4]: g[6] for g in GENERA if g[4] != "Bifidobacterium"}
    total = sum(shares.values())
    patient = patient_study({g: w / total for g, w in shares.items()})
    cmp = compare_to_reference(tied, patient, "P1", ranks=("genus",), n_boot=200)
    row = cmp.taxa["genus"].loc[bif]
    assert row["percentile"] == pytest.approx(100 * 25 / 2 / 400)   # mid-rank: half the ties
    assert row["value"] == 0 and row["ci_high"] < 5
    assert row["status"] == "within"


def test_a_reference_holding_minus_infinity_places_without_warnings(reference: Reference,
                                                                    study: Study) -> None:
    """An MD-index of −∞ (no increased genera) is a value: ranks, ranges and notes say so.

    Warnings are errors in the test suite: no "invalid value encountered in subtract".
    """
    import dataclasses

    indices = reference.indices.copy()
    md = indices["md_index"].to_numpy(dtype=np.float64).copy()
    md[:20] = -np.inf  # 20 of the 60 controls
    indices["md_index"] = md
    with_inf = dataclasses.replace(reference, indices=indices)
    # the patient: a typical control with its increased genera (Escherichia, Veillonella,
    # Fusobacterium) removed, so its own MD-index is −∞ too
    sid = _typical(reference)
    genus = study.taxonomy["genus"].to_numpy()
    row = study.subset_samples([sid]).counts.toarray()
    row[:, np.isin(genus, ["Escherichia", "Veillonella", "Fusobacterium"])] = 0
    patient = Study(row, [sid], study.feature_ids, taxonomy=study.taxonomy)
    cmp = compare_to_reference(with_inf, patient, sid, n_boot=300)
    m = cmp.measure("index:md_index")
    assert m.value == -np.inf
    assert m.percentile == pytest.approx(100 * (0 + 0.5 * 20) / 60)  # mid-rank of 20 ties
    # the reference's 5th percentile value is −∞ too, so the tie clause keeps it "within"
    assert m.status == "within"
    assert m.range_used.low == -np.inf
    finite = np.sort(md[20:])
    assert m.range_used.high == pytest.approx(np.percentile(md, 95))  # a finite value
    assert m.range_used.high < finite.max()
    assert "(n=60, of which 20 at −∞," in m.range_used.source
    assert ("−∞: none of the increased genera was found in the sample: the logarithm of 0, "
            "the lowest value the index takes, not a missing one") in m.notes
    assert any(n.startswith("in the patient's sample: increased genera found: 0 of 4")
               for n in m.notes)
    doc = cmp.to_dict()
    md_doc = next(x for x in doc["measures"] if x["id"] == "index:md_index")
    assert md_doc["value"] == "-inf" and md_doc["range_used"]["low"] == "-inf"


def test_a_gmhi_not_computable_is_said_so(reference: Reference) -> None:
    # a species profile holding none of the 50 GMHI species (neither is in the sets)
    patient = Study(np.array([[60.0, 40.0]]), ["M"],
                    ["s__Faecalibacterium_prausnitzii", "s__Bacteroides_fragilis"],
                    kind="relative")
    cmp = compare_to_reference(reference, patient, "M", sequencing="shotgun", n_boot=100)
    gmhi = cmp.measure("index:gmhi")
    assert gmhi.value is None and gmhi.status == "not measured"
    assert gmhi.notes[0].startswith("not computable: none of the 50 GMHI species")
    assert gmhi.notes[1].startswith(
        "in the patient's sample: GMHI species found in the table: MH 0/7, MN 0/43")
