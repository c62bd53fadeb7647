"""select_options: options traced to findings, grouped by 5R step, never a dose."""

from __future__ import annotations

import re

import pytest

from gutaxis.exceptions import ValidationError
from gutaxis.knowledge import STEP_IDS, InterventionCatalog, load_interventions
from gutaxis.measures import Measure
from gutaxis.profile import UNVERIFIED_PREFIX, assess_chain, select_options

DOSE = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:mg|g|mcg|µg|ug|IU|CFU|mL|ml)\b|\b(?:bid|tid|qid)\b",
                  re.IGNORECASE)


def measure(ref: str, status: str, value: float | None = 1.0) -> Measure:
    return Measure(id=ref, label=ref.split(":", 1)[1], kind=ref.split(":", 1)[0], value=value,
                   unit="", status=status)


def options_for(measures: dict[str, Measure], **kw) -> dict:
    return select_options(assess_chain(measures.values()), measures.values(), **kw)


def ids(options) -> dict[str, list[str]]:
    return {step: [o.id for o in opts] for step, opts in options.items()}


def test_nothing_measured_gives_no_options():
    # By design there are no "general" options: each must trace to a finding.
    assert options_for({}) == {}


def test_low_shannon_points_at_reinoculate_through_the_dysbiosis_link():
    options = options_for({"index:shannon_entropy": measure("index:shannon_entropy", "low")})
    assert ids(options) == {"remove": ["low_fodmap_limited_trial", "igg_food_panels"],
                            "reinoculate": ["probiotics_ibs"],
                            "rebalance": ["gut_directed_psychotherapy"]}
    probiotics = options["reinoculate"][0]
    assert probiotics.triggered_by == ("link:dysbiosis=disturbed",)
    assert probiotics.evidence_level == "guideline-against"
    assert probiotics.guideline and ('"We suggest against probiotics for the treatment of global '
                                     'IBS symptoms."') in probiotics.guideline
    assert probiotics.sources and all("doi:" in s or "http" in s for s in probiotics.sources)


def test_low_elastase_points_at_enzyme_replacement_under_replace():
    options = options_for({"marker:elastase": measure("marker:elastase", "low", 60.0)})
    assert ids(options) == {"replace": ["pert_confirmed_epi"]}
    pert = options["replace"][0]
    assert pert.triggered_by == ("marker:elastase=low",)
    assert pert.step == "replace" and pert.evidence_level == "guideline-supported"
    assert pert.guideline and "AGA 2023" in pert.guideline


def test_borderline_elastase_is_not_enzyme_replacement():
    options = options_for({"marker:elastase": measure("marker:elastase", "borderline", 150.0)})
    assert ids(options) == {"replace": ["otc_enzymes_betaine_hcl"]}
    assert options["replace"][0].evidence_level == "no-trial-evidence"


def test_a_measure_trigger_needs_a_value():
    assert options_for({"marker:elastase": measure("marker:elastase", "low", None)}) == {}


def test_high_calprotectin_disturbs_inflammation_and_shows_what_addresses_it():
    m = {"marker:calprotectin": measure("marker:calprotectin", "high", 300.0)}
    links = assess_chain(m.values())
    assert links[3].status == "disturbed"
    options = select_options(links, m.values())
    assert ids(options) == {"repair": ["omega3_fatty_acids"]}
    assert options["repair"][0].triggered_by == ("link:inflammation=disturbed",)
    assert options["repair"][0].evidence_level == "trials-show-no-benefit"


def test_steps_come_in_5r_order_and_every_finding_is_traced():
    m = {"marker:zonulin_serum": measure("marker:zonulin_serum", "high"),
         "index:md_index": measure("index:md_index", "high"),
         "marker:elastase": measure("marker:elastase", "low")}
    options = options_for(m)
    assert list(options) == list(STEP_IDS)
    remove = {o.id: o for o in options["remove"]}
    assert remove["igg_food_panels"].triggered_by == ("link:barrier=disturbed",
                                                      "link:dysbiosis=disturbed")
    assert remove["igg_food_panels"].evidence_level == "not-recommended"
    assert [o.id for o in options["repair"]] == ["glutamine", "zinc_carnosine",
                                                 "omega3_fatty_acids", "bone_broth_collagen"]
    for opts in options.values():
        for option in opts:
            assert option.triggered_by and option.sources
            for text in (option.name, option.evidence_summary, option.cautions,
                         option.guideline or ""):
                assert not DOSE.search(text), (option.id, text)


def test_an_unverified_entry_is_flagged():
    catalog = load_interventions()
    data = catalog.model_dump()
    for entry in data["interventions"]:
        entry["verified"] = entry["id"] != "pert_confirmed_epi"
    custom = InterventionCatalog.model_validate(data)
    m = {"marker:elastase": measure("marker:elastase", "low")}
    pert = options_for(m, interventions=custom)["replace"][0]
    assert pert.evidence_summary.startswith(UNVERIFIED_PREFIX)
    assert not options_for(m)["replace"][0].evidence_summary.startswith(UNVERIFIED_PREFIX)


def test_a_link_given_twice_is_refused():
    links = assess_chain({})
    with pytest.raises(ValidationError, match="appears twice"):
        select_options([*links, links[0]], {})


def test_options_serialise():
    options = options_for({"marker:elastase": measure("marker:elastase", "low")})
    as_dict = options["replace"][0].to_dict()
    assert as_dict["triggered_by"] == ["marker:elastase=low"]
    assert isinstance(as_dict["sources"], list)


def test_pert_needs_the_guideline_level_not_just_a_lab_low():
    """Fecal elastase 150 µg/g against a lab interval '>200' is 'low', but AGA 2023 reads
    100–200 as indeterminate: enzyme therapy for confirmed EPI is offered only below 100."""
    from gutaxis.knowledge import load_marker_catalog
    from gutaxis.markers import interpret_marker

    entry = next(e for e in load_marker_catalog().markers if e.id == "elastase")
    for value, offered in ((150.0, False), (80.0, True)):
        measure = interpret_marker(entry, value, "ug/g", ref_low=200.0)
        assert measure.status == "low" and measure.range_used.kind == "lab"
        options = select_options(assess_chain([measure]), [measure])
        ids = {o.id for opts in options.values() for o in opts}
        assert ("pert_confirmed_epi" in ids) is offered, value


def test_a_value_above_a_limit_never_counts_as_below_a_threshold():
    """'>50 ug/g' elastase says nothing about being below the guideline's 100."""
    low = measure("marker:elastase", "low", 50.0)
    assert ids(options_for({"marker:elastase": low})) == {"replace": ["pert_confirmed_epi"]}
    above = Measure(id="marker:elastase", label="elastase", kind="marker", value=50.0,
                    unit="ug/g", status="low", censored=">")
    assert "replace" not in ids(options_for({"marker:elastase": above}))

