"""The shipped options catalogue: schema, sources, triggers, evidence levels, no doses."""

from __future__ import annotations

import re
import textwrap
from importlib import resources

import pytest

from gutaxis.diversity import alpha_metrics
from gutaxis.exceptions import FormatError
from gutaxis.knowledge import load_marker_catalog, load_taxa_catalog
from gutaxis.knowledge._chain import LINK_IDS, MEASURE_REF, Condition
from gutaxis.knowledge._interventions import STEP_IDS, LinkTrigger, load_interventions

INDEX_IDS = set(alpha_metrics()) | {"gmhi", "md_index"}
DOSE = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:mg|g|mcg|µg|ug|IU|CFU|mL|ml)\b|\b(?:bid|tid|qid)\b",
                  re.IGNORECASE)
#: The documented vocabulary (docs/user-guide.md and the header of interventions.yaml).
LEVELS = {"guideline-supported", "guideline-against", "not-recommended", "mixed-trial-evidence",
          "single-trial", "trials-show-no-benefit", "no-trial-evidence"}


def _yaml_text() -> str:
    return resources.files("gutaxis.knowledge").joinpath("interventions.yaml").read_text("utf-8")


def test_no_dose_like_text_anywhere_in_the_file():
    assert not DOSE.findall(_yaml_text())


@pytest.mark.parametrize("text", ["5 g tid", "500 mg", "10 µg", "1000 IU", "10 CFU", "2.5mg"])
def test_the_dose_pattern_catches_doses(text):
    assert DOSE.search(text)


def test_every_entry_step_and_the_framework_have_sources_with_identifiers():
    catalog = load_interventions()
    holders = [catalog.framework, *catalog.steps, *catalog.interventions]
    for holder in holders:
        assert holder.sources
        for source in holder.sources:
            assert source.doi or source.pmid or source.url, source.citation
    for entry in catalog.interventions:
        for position in entry.guideline or []:
            source = position.source
            assert source.doi or source.pmid or source.url, (entry.id, source.citation)


def test_the_steps_are_the_five_rs_in_order_and_the_framework_is_honest():
    catalog = load_interventions()
    assert tuple(step.id for step in catalog.steps) == STEP_IDS
    assert "No trial of the 5R protocol as a whole was found" in catalog.framework.trial_evidence
    assert "interview" in catalog.framework.source_note
    assert "not a guideline" in catalog.framework.source_note
    assert "not replace" in catalog.disclaimer
    assert "clinician" in catalog.disclaimer


def test_evidence_levels_are_the_documented_vocabulary():
    catalog = load_interventions()
    assert set(catalog.evidence_levels) == LEVELS
    assert {entry.evidence_level for entry in catalog.interventions} <= LEVELS


def test_every_trigger_names_a_link_or_a_known_measure():
    taxa = {entry.id for entry in load_taxa_catalog().taxa}
    markers = {entry.id for entry in load_marker_catalog().markers}
    known = {"index": INDEX_IDS, "taxon": taxa, "marker": markers}
    for entry in load_interventions().interventions:
        assert entry.addresses, entry.id
        for trigger in entry.addresses:
            if isinstance(trigger, LinkTrigger):
                assert trigger.link in LINK_IDS
            else:
                assert isinstance(trigger, Condition)
                assert re.fullmatch(MEASURE_REF, trigger.measure)
                kind, name = trigger.measure.split(":", 1)
                assert name in known[kind], f"{entry.id}: {trigger.measure}"


def test_an_entry_must_say_whether_it_was_verified(tmp_path):
    """`verified` has no default: an entry that does not say is refused, not taken as checked."""
    path = _write(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("    verified: true\n", ""),
                    encoding="utf-8")
    with pytest.raises(FormatError, match=r"interventions\.0\.verified: Field required"):
        load_interventions(path)


def test_key_entries_read_as_the_sources_say():
    entries = {entry.id: entry for entry in load_interventions().interventions}
    pert = entries["pert_confirmed_epi"]
    assert pert.step == "replace"
    assert [t.label() for t in pert.addresses] == ["marker:elastase=low"]
    assert entries["igg_food_panels"].evidence_level == "not-recommended"
    probiotics = entries["probiotics_ibs"]
    assert (probiotics.step, probiotics.evidence_level) == ("reinoculate", "guideline-against")
    assert "We suggest against probiotics for the treatment of global IBS symptoms." in (
        probiotics.guideline_text() or "")
    assert entries["low_fodmap_limited_trial"].evidence_level == "guideline-supported"
    assert entries["glutamine"].evidence_level == "mixed-trial-evidence"
    assert entries["zinc_carnosine"].evidence_level == "single-trial"
    assert entries["bone_broth_collagen"].evidence_level == "no-trial-evidence"


def test_a_guideline_without_a_quoted_grade_says_why():
    for entry in load_interventions().interventions:
        for position in entry.guideline or []:
            assert position.grade or position.grade_note, entry.id
            assert position.render().startswith(f"{position.body} {position.year}")


_FILE = """\
    schema_version: 1
    version: test
    disclaimer: These options support, and do not replace, a clinician's judgement.
    evidence_levels: {single-trial: one small trial, not-recommended: advised against}
    unfavourable_levels: [UNFAVOURABLE]
    framework:
      name: 5R
      description: five steps for gut health
      trial_evidence: No trial of the 5R protocol as a whole was found.
      source_note: a practitioner interview, not a guideline
      sources: [{citation: IFM 5R page, url: "https://www.ifm.org/"}]
    steps:
    STEPS
    interventions:
      - id: zinc_carnosine
        name: Zinc carnosine
        step: repair
        addresses: [TRIGGER]
        evidence_summary: one small crossover study in volunteers
        evidence_level: LEVEL
        guideline: GUIDELINE
        sources: [{citation: Mahmood A et al. Gut 2007, doi: 10.1136/gut.2006.099929}]
        verified: true
"""
_STEP = ("  - {{id: {0}, name: {0}, description: a step of the framework, commonly_named: [x], "
         "evidence_note: nothing much found, sources: [{{citation: IFM page, url: 'https://x.org'}}]}}")
_OK = {"STEPS": "\n".join(_STEP.format(s) for s in STEP_IDS),
       "TRIGGER": "{link: barrier, status: disturbed}", "LEVEL": "single-trial",
       "GUIDELINE": "null", "UNFAVOURABLE": "not-recommended"}


def _write(tmp_path, **changes):
    text = textwrap.dedent(_FILE)
    for key, value in {**_OK, **changes}.items():
        text = text.replace(key, value)
    path = tmp_path / "interventions.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_custom_file_loads(tmp_path):
    catalog = load_interventions(_write(tmp_path))
    assert catalog.interventions[0].addresses[0].label() == "link:barrier=disturbed"


@pytest.mark.parametrize(("changes", "message"), [
    ({"UNFAVOURABLE": "frowned-upon"}, r"unfavourable_levels names \['frowned-upon'\], which "
                                       r"are not evidence_levels"),
    ({"TRIGGER": "{link: leaky_gut, status: disturbed}"}, r"addresses"),
    ({"TRIGGER": "{measure: elastase, status: low}"}, r"addresses"),
    ({"TRIGGER": "{measure: 'marker:elastase', status: abnormal}"}, r"addresses"),
    ({"LEVEL": "strong"}, r"evidence_level 'strong' is not one of"),
    ({"STEPS": "\n".join(_STEP.format(s) for s in reversed(STEP_IDS))}, r"in that order"),
    ({"GUIDELINE": "[{body: ACG, year: 2021, document: IBS guideline, statement: We suggest it.,"
                   " source: {citation: Lacy 2021, doi: 10.14309/ajg.0000000000001036}}]"},
     r"grade_note must say why"),
])
def test_a_broken_file_is_refused(tmp_path, changes, message):
    with pytest.raises(FormatError, match=message):
        load_interventions(_write(tmp_path, **changes))
