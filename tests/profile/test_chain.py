"""assess_chain: each link of the gut–immune chain from hand-made measures."""

from __future__ import annotations

import pytest

from gutaxis.exceptions import ValidationError
from gutaxis.knowledge._chain import ChainCatalog, load_chain
from gutaxis.profile._model import Measure, RangeUsed
from gutaxis.profile.chain import assess_chain, measures_by_ref


def measure(ref: str, status: str, value: float | None = 1.0, **kw) -> Measure:
    kind = ref.split(":", 1)[0]
    if kind == "marker" and "range_used" not in kw:
        kw["range_used"] = RangeUsed(kind="lab", low=None, high=10.0, source="lab report")
    return Measure(id=ref, label=ref.split(":", 1)[1], kind=kind, value=value, unit="",
                   status=status, **kw)


def status_of(assessments) -> dict[str, str]:
    return {a.id: a.status for a in assessments}


def test_nothing_measured_leaves_every_link_not_measured():
    result = assess_chain({})
    assert [a.id for a in result] == ["dysbiosis", "barrier", "translocation", "inflammation"]
    assert all(a.status == "not measured" and a.deciding == () for a in result)
    assert "has a value that could be judged" in result[0].explanation


def test_low_shannon_makes_dysbiosis_disturbed():
    m = {"index:shannon_entropy": measure("index:shannon_entropy", "low", 2.1,
                                          percentile=1.0, ci_low=0.2, ci_high=3.0)}
    result = {a.id: a for a in assess_chain(m)}
    dysbiosis = result["dysbiosis"]
    assert dysbiosis.status == "disturbed"
    assert dysbiosis.deciding == (("index:shannon_entropy", "low"),)
    assert "reference percentile 1" in dysbiosis.explanation
    assert "95 % CI 0.2–3" in dysbiosis.explanation
    assert {k: a.status for k, a in result.items() if k != "dysbiosis"} == dict.fromkeys(
        ["barrier", "translocation", "inflammation"], "not measured")


def test_a_bare_index_id_is_read_as_an_index_reference():
    m = {"shannon_entropy": Measure(id="shannon_entropy", label="Shannon", kind="index",
                                    value=2.0, unit="", status="low")}
    assert status_of(assess_chain(m))["dysbiosis"] == "disturbed"


def test_a_measure_within_range_makes_the_link_not_disturbed():
    m = {"index:shannon_entropy": measure("index:shannon_entropy", "within"),
         "index:gmhi": measure("index:gmhi", "high")}   # a high GMHI is not in the rule
    dysbiosis = assess_chain(m)[0]
    assert dysbiosis.status == "not disturbed"
    assert dysbiosis.deciding == (("index:shannon_entropy", "within"), ("index:gmhi", "high"))


def test_every_judged_measure_of_a_disturbed_link_is_listed():
    m = {"taxon:enterobacteriaceae": measure("taxon:enterobacteriaceae", "high"),
         "index:shannon_entropy": measure("index:shannon_entropy", "within")}
    dysbiosis = assess_chain(m)[0]
    assert dysbiosis.status == "disturbed"
    # In the chain's order of measures, not the mapping's.
    assert dysbiosis.deciding == (("index:shannon_entropy", "within"),
                                  ("taxon:enterobacteriaceae", "high"))
    assert "Also measured: shannon_entropy within" in dysbiosis.explanation


def test_high_calprotectin_makes_inflammation_disturbed():
    m = {"marker:calprotectin": measure("marker:calprotectin", "high", 300.0)}
    inflammation = assess_chain(m)[3]
    assert (inflammation.id, inflammation.status) == ("inflammation", "disturbed")
    assert inflammation.deciding == (("marker:calprotectin", "high"),)
    assert "lab range" in inflammation.explanation


def test_borderline_calprotectin_is_considered_but_does_not_fire_the_rule():
    m = {"marker:calprotectin": measure("marker:calprotectin", "borderline", 80.0)}
    inflammation = assess_chain(m)[3]
    assert inflammation.status == "not disturbed"
    assert inflammation.deciding == (("marker:calprotectin", "borderline"),)


def test_translocation_and_barrier_from_markers():
    m = {"marker:lbp": measure("marker:lbp", "high"),
         "marker:lps": measure("marker:lps", "within"),
         "marker:zonulin_serum": measure("marker:zonulin_serum", "within")}
    assert status_of(assess_chain(m)) == {"dysbiosis": "not measured", "barrier": "not disturbed",
                                          "translocation": "disturbed",
                                          "inflammation": "not measured"}


@pytest.mark.parametrize(("status", "value"), [("not measured", None), ("not comparable", 2.0),
                                               ("low", None)])
def test_a_measure_without_a_judged_value_does_not_count(status, value):
    m = {"index:shannon_entropy": measure("index:shannon_entropy", status, value)}
    dysbiosis = assess_chain(m)[0]
    assert (dysbiosis.status, dysbiosis.deciding) == ("not measured", ())
    if status == "not comparable":
        assert "Not comparable with the reference: shannon_entropy" in dysbiosis.explanation


def test_min_measured_from_the_rule_is_honoured():
    data = load_chain().model_dump()
    data["links"][3]["rule"]["min_measured"] = 2
    chain = ChainCatalog.model_validate(data)
    one = {"marker:hscrp": measure("marker:hscrp", "within")}
    assert assess_chain(one, chain=chain)[3].status == "not measured"
    two = {**one, "marker:calprotectin": measure("marker:calprotectin", "within")}
    assert assess_chain(two, chain=chain)[3].status == "not disturbed"
    fired = {"marker:hscrp": measure("marker:hscrp", "high")}
    assert assess_chain(fired, chain=chain)[3].status == "disturbed"


def test_evidence_unknowns_and_sources_come_from_the_knowledge_base():
    barrier = assess_chain({})[1]
    assert "no validated test" in barrier.evidence
    assert barrier.unknowns
    assert any("doi:10.3389/fnut.2021.717925" in s for s in barrier.sources)
    as_dict = barrier.to_dict()
    assert as_dict["deciding"] == [] and isinstance(as_dict["sources"], list)


def test_measures_by_ref_refuses_contradictions():
    shannon = measure("index:shannon_entropy", "low")
    with pytest.raises(ValidationError, match="refer to 'index:shannon_entropy'"):
        measures_by_ref({"index:shannon_entropy": shannon, "shannon_entropy": shannon})
    with pytest.raises(ValidationError, match="the measure's kind is 'index'"):
        measures_by_ref({"marker:shannon_entropy": shannon})
    with pytest.raises(ValidationError, match="must start with one of"):
        measures_by_ref({"sample:x": shannon})
