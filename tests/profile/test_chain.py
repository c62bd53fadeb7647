"""assess_chain: each link of the gut–immune chain from hand-made measures."""

from __future__ import annotations

import pytest

from gutaxis.exceptions import ValidationError
from gutaxis.knowledge import ChainCatalog, load_chain
from gutaxis.measures import Measure, RangeUsed
from gutaxis.profile import assess_chain, measures_by_id


def measure(ref: str, status: str, value: float | None = 1.0, **kw) -> Measure:
    kind = ref.split(":", 1)[0]
    if kind == "marker" and "range_used" not in kw:
        kw["range_used"] = RangeUsed(kind="lab", low=None, high=10.0, source="lab report")
    return Measure(id=ref, label=ref.split(":", 1)[1], kind=kind, value=value, unit="",
                   status=status, **kw)


def status_of(assessments) -> dict[str, str]:
    return {a.id: a.status for a in assessments}


def test_nothing_measured_leaves_every_link_not_measured():
    result = assess_chain([])
    assert [a.id for a in result] == ["dysbiosis", "barrier", "translocation", "inflammation"]
    assert all(a.status == "not measured" and a.deciding == () for a in result)
    assert "has a value that could be judged" in result[0].explanation
    # unmeasured markers are named as the marker catalogue names them, not by id
    assert result[3].explanation.startswith(
        "Not measured: none of Calprotectin, Lactoferrin, hs-CRP has a value")


def test_low_shannon_makes_dysbiosis_disturbed():
    m = {"index:shannon_entropy": measure("index:shannon_entropy", "low", 2.1,
                                          percentile=1.0, ci_low=0.2, ci_high=3.0)}
    result = {a.id: a for a in assess_chain(m.values())}
    dysbiosis = result["dysbiosis"]
    assert dysbiosis.status == "disturbed"
    assert dysbiosis.deciding == (("index:shannon_entropy", "low"),)
    # Numbers as gutaxis.formatting writes them everywhere; the rule in words, with labels.
    assert dysbiosis.explanation.startswith(
        "Disturbed: shannon_entropy low — reference percentile 1.0 (95 % CI 0.2–3.0). "
        "Rule: disturbed when shannon_entropy low, or gmhi low, or ")
    assert "=" not in dysbiosis.explanation
    assert {k: a.status for k, a in result.items() if k != "dysbiosis"} == dict.fromkeys(
        ["barrier", "translocation", "inflammation"], "not measured")


def test_a_measure_id_carries_its_kind():
    with pytest.raises(ValidationError, match=r"'shannon_entropy' must be 'index:<key>'"):
        Measure(id="shannon_entropy", label="Shannon", kind="index", value=2.0, unit="",
                status="low")
    with pytest.raises(ValidationError, match=r"'marker:x' must be 'index:<key>'"):
        Measure(id="marker:x", label="x", kind="index", value=2.0, unit="", status="low")


def test_a_measure_within_range_makes_the_link_not_disturbed():
    m = {"index:shannon_entropy": measure("index:shannon_entropy", "within"),
         "index:gmhi": measure("index:gmhi", "high")}   # a high GMHI is not in the rule
    dysbiosis = assess_chain(m.values())[0]
    assert dysbiosis.status == "not disturbed"
    assert dysbiosis.deciding == (("index:shannon_entropy", "within"), ("index:gmhi", "high"))


def test_every_judged_measure_of_a_disturbed_link_is_listed():
    m = {"taxon:enterobacteriaceae": measure("taxon:enterobacteriaceae", "high"),
         "index:shannon_entropy": measure("index:shannon_entropy", "within")}
    dysbiosis = assess_chain(m.values())[0]
    assert dysbiosis.status == "disturbed"
    # In the chain's order of measures, not the mapping's.
    assert dysbiosis.deciding == (("index:shannon_entropy", "within"),
                                  ("taxon:enterobacteriaceae", "high"))
    assert "Also measured: shannon_entropy within" in dysbiosis.explanation


def test_high_calprotectin_makes_inflammation_disturbed():
    m = {"marker:calprotectin": measure("marker:calprotectin", "high", 300.0)}
    inflammation = assess_chain(m.values())[3]
    assert (inflammation.id, inflammation.status) == ("inflammation", "disturbed")
    assert inflammation.deciding == (("marker:calprotectin", "high"),)
    assert "lab range" in inflammation.explanation


def test_borderline_calprotectin_is_considered_but_does_not_fire_the_rule():
    m = {"marker:calprotectin": measure("marker:calprotectin", "borderline", 80.0)}
    inflammation = assess_chain(m.values())[3]
    assert inflammation.status == "not disturbed"
    assert inflammation.deciding == (("marker:calprotectin", "borderline"),)


def test_translocation_and_barrier_from_markers():
    m = {"marker:lbp": measure("marker:lbp", "high"),
         "marker:lps": measure("marker:lps", "within"),
         "marker:zonulin_serum": measure("marker:zonulin_serum", "within")}
    assert status_of(assess_chain(m.values())) == {"dysbiosis": "not measured",
                                                   "barrier": "not disturbed",
                                                   "translocation": "disturbed",
                                                   "inflammation": "not measured"}


@pytest.mark.parametrize(("status", "value"), [("not measured", None), ("low", None)])
def test_a_measure_without_a_judged_value_does_not_count(status, value):
    m = {"index:shannon_entropy": measure("index:shannon_entropy", status, value)}
    dysbiosis = assess_chain(m.values())[0]
    assert (dysbiosis.status, dysbiosis.deciding) == ("not measured", ())


def test_a_measured_value_that_cannot_be_placed_makes_the_link_not_comparable():
    """Measured, but without a range to judge it: not 'not measured'."""
    m = [measure("marker:zonulin_serum", "not comparable", 48.0, range_used=None)]
    barrier = assess_chain(m)[1]
    assert (barrier.status, barrier.deciding) == ("not comparable", ())
    assert barrier.not_comparable == ("marker:zonulin_serum",)
    assert barrier.explanation.startswith("Measured, not comparable: zonulin_serum")
    # next to a judged measure, it is named but does not decide
    both = [*m, measure("marker:lps", "within")]
    translocation_or_barrier = {a.id: a for a in assess_chain(both)}
    assert translocation_or_barrier["barrier"].status == "not comparable"
    assert translocation_or_barrier["translocation"].status == "not disturbed"


def test_a_censored_value_is_described_with_its_sign():
    m = [measure("marker:calprotectin", "within", 50.0, censored="<")]
    inflammation = assess_chain(m)[3]
    assert "(calprotectin within — <50, lab range)." in inflammation.explanation


def test_min_measured_from_the_rule_is_honoured():
    data = load_chain().model_dump()
    data["links"][3]["rule"]["min_measured"] = 2
    chain = ChainCatalog.model_validate(data)
    one = {"marker:hscrp": measure("marker:hscrp", "within")}
    assert assess_chain(one.values(), chain=chain)[3].status == "not measured"
    two = {**one, "marker:calprotectin": measure("marker:calprotectin", "within")}
    assert assess_chain(two.values(), chain=chain)[3].status == "not disturbed"
    fired = {"marker:hscrp": measure("marker:hscrp", "high")}
    assert assess_chain(fired.values(), chain=chain)[3].status == "disturbed"


def test_evidence_unknowns_and_sources_come_from_the_knowledge_base():
    barrier = assess_chain([])[1]
    assert "no validated test" in barrier.evidence
    assert barrier.unknowns
    assert any("doi:10.3389/fnut.2021.717925" in s for s in barrier.sources)
    as_dict = barrier.to_dict()
    assert as_dict["deciding"] == [] and isinstance(as_dict["sources"], list)


def test_measures_by_id_refuses_a_measure_given_twice():
    shannon = measure("index:shannon_entropy", "low")
    assert list(measures_by_id([shannon])) == ["index:shannon_entropy"]
    with pytest.raises(ValidationError, match="two measures have the id 'index:shannon_entropy'"):
        measures_by_id([shannon, shannon])
