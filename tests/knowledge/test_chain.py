"""The shipped gut–immune chain obeys its schema; every link has sources and valid measures."""

from __future__ import annotations

import re
import textwrap
from importlib import resources

import numpy as np
import pytest

from gutaxis.diversity import alpha_metrics
from gutaxis.exceptions import FormatError, NotFoundError
from gutaxis.knowledge import load_marker_catalog, load_taxa_catalog
from gutaxis.knowledge._chain import LINK_IDS, MEASURE_REF, load_chain

INDEX_IDS = set(alpha_metrics()) | {"gmhi", "md_index"}
DOSE = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:mg|g|mcg|µg|ug|IU|CFU|mL|ml)\b|\b(?:bid|tid|qid)\b",
                  re.IGNORECASE)


def test_the_four_links_in_chain_order():
    assert tuple(link.id for link in load_chain().links) == LINK_IDS


def test_every_link_has_a_source_with_an_identifier_and_says_what_is_unknown():
    for link in load_chain().links:
        assert link.sources, link.id
        for source in link.sources:
            assert source.doi or source.pmid or source.url, (link.id, source.citation)
        assert link.evidence.strip() and link.unknowns.strip() and link.description.strip()


def test_every_measure_reference_names_a_known_index_taxon_or_marker():
    taxa = {entry.id for entry in load_taxa_catalog().taxa}
    markers = {entry.id for entry in load_marker_catalog().markers}
    known = {"index": INDEX_IDS, "taxon": taxa, "marker": markers}
    for link in load_chain().links:
        refs = set(link.measures) | {c.measure for c in link.rule.any_of}
        for ref in refs:
            assert re.fullmatch(MEASURE_REF, ref), ref
            kind, name = ref.split(":", 1)
            assert name in known[kind], f"{link.id}: {ref} is not in the {kind} catalogue"


#: Markers that markers.yaml places in a chain link but the chain does not use (see the
#: header of chain.yaml for why).
UNUSED_MARKERS = {"hbd2"}


def test_markers_sit_in_the_link_the_marker_catalogue_names():
    chain = load_chain()
    used = {}
    for link in chain.links:
        for ref in link.measures:
            kind, name = ref.split(":", 1)
            if kind == "marker":
                used[name] = link.id
    catalogue = {entry.id: entry.link for entry in load_marker_catalog().markers}
    assert {name: catalogue[name] for name in used} == used
    in_chain = {name for name, link in catalogue.items() if link in LINK_IDS}
    assert in_chain - set(used) == UNUSED_MARKERS


def test_the_rules_read_as_the_evidence_says():
    chain = load_chain()
    dysbiosis = {c.label() for c in chain.link("dysbiosis").rule.any_of}
    assert {"index:shannon_entropy=low", "index:gmhi=low", "index:md_index=high"} <= dysbiosis
    assert {c.label() for c in chain.link("inflammation").rule.any_of} == {
        "marker:calprotectin=high", "marker:lactoferrin=high", "marker:hscrp=high"}
    assert "no validated test" in chain.link("barrier").evidence
    assert "zonulin" in chain.link("barrier").evidence.lower()
    assert "non-specific" in chain.link("translocation").evidence
    assert all(link.rule.min_measured == 1 for link in chain.links)


def test_the_percentile_convention_is_data_and_says_it_is_not_a_clinical_cut_off():
    rule = load_chain().percentile_rule
    assert (rule.low_below, rule.high_above, rule.require_ci) == (5, 95, True)
    assert "not a clinical cut-off" in rule.note


@pytest.mark.parametrize(("percentile", "ci", "expected"), [
    (2.0, (0.5, 4.9), "low"),
    (3.0, (1.0, 6.0), "within"),     # the interval reaches past the 5th percentile
    (97.0, (95.1, 99.0), "high"),
    (50.0, (40.0, 60.0), "within"),
    (2.0, (None, None), "not comparable"),
    (None, (None, None), "not comparable"),
])
def test_percentile_rule_classifies_by_the_whole_interval(percentile, ci, expected):
    assert load_chain().percentile_rule.classify(percentile, *ci) == expected


def test_no_dose_like_text_in_the_chain_file():
    text = resources.files("gutaxis.knowledge").joinpath("chain.yaml").read_text("utf-8")
    assert not DOSE.findall(text)


_FILE = """\
    schema_version: 1
    version: test
    profile_notice: This profile supports, and does not replace, a clinician's judgement.
    percentile_rule: {low_below: 5, high_above: 95, require_ci: true, note: a convention here}
    links:
      - id: LINK
        label: Dysbiosis
        description: the community departs from the reference
        measures: [MEASURES]
        rule:
          any_of: [{measure: RULE, status: low}]
        evidence: weak evidence here
        unknowns: many things unknown
        sources: SOURCES
        callout: CALLOUT
        patient:
          topic: The mix of microbes in your gut
          disturbed: At least one measure is outside the range.
          not_disturbed: The measures are within the range.
          not_comparable: It was measured but could not be compared.
          not_measured: It was not measured at all.
"""
_OK = {"LINK": "dysbiosis", "MEASURES": "index:shannon_entropy", "RULE": "index:shannon_entropy",
       "SOURCES": "[{citation: Wei S et al. 2021, doi: 10.1128/AEM.00395-21}]",
       "CALLOUT": "weak evidence"}


def _write(tmp_path, **changes):
    text = textwrap.dedent(_FILE)
    for key, value in {**_OK, **changes}.items():
        text = text.replace(key, value)
    path = tmp_path / "chain.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_custom_file_loads(tmp_path):
    assert load_chain(_write(tmp_path)).links[0].id == "dysbiosis"


@pytest.mark.parametrize(("changes", "message"), [
    ({"SOURCES": "[]"}, r"links\.0\.sources"),
    ({"SOURCES": "[{citation: Wei S et al. 2021}]"}, r"needs a doi, pmid or url"),
    ({"LINK": "leaky_gut"}, r"links\.0\.id"),
    ({"MEASURES": "shannon_entropy", "RULE": "shannon_entropy"}, r"not of the form"),
    ({"RULE": "index:gmhi"}, r"not in its measures list"),
    ({"CALLOUT": "leaky gut is a disease"}, r"callout must be a sentence of the link's evidence"),
])
def test_a_broken_file_is_refused_with_the_field_named(tmp_path, changes, message):
    with pytest.raises(FormatError, match=message):
        load_chain(_write(tmp_path, **changes))


def test_links_out_of_chain_order_are_refused(tmp_path):
    path = _write(tmp_path)
    text = path.read_text(encoding="utf-8")
    second = text[text.index("  - id: dysbiosis"):].replace("id: dysbiosis", "id: barrier")
    path.write_text(text.replace("  - id: dysbiosis", second.rstrip("\n") + "\n  - id: dysbiosis",
                                 1), encoding="utf-8")
    with pytest.raises(FormatError, match="chain order"):
        load_chain(path)


def test_every_link_speaks_to_the_patient_in_plain_words_for_every_status():
    for link in load_chain().links:
        for status in ("disturbed", "not disturbed", "not comparable", "not measured"):
            sentence = link.patient.sentence(status)
            assert sentence.endswith("."), (link.id, status)
            # no jargon of the clinician's view in the patient's sentence
            for word in ("dysbiosis", "translocation", "percentile", "disturbed"):
                assert word not in sentence.lower(), (link.id, status, word)


def test_an_unknown_link_status_has_no_sentence():
    with pytest.raises(NotFoundError, match="did you mean 'disturbed'"):
        load_chain().links[0].patient.sentence("disturbd")



def test_percentile_values_with_infinities_are_decided_not_left_to_inf_minus_inf():
    rule = load_chain().percentile_rule
    values = np.r_[[-np.inf] * 3, np.arange(1.0, 8.0)]  # 10 values: 3 at −∞, then 1..7
    # linear interpolation at (n − 1) q / 100: q=20 → position 1.8 (two −∞): −∞;
    # q=30 → 2.7 (−∞ and 1, weight on −∞): −∞; q=40 → 3.6: 1 + 0.6 = 1.6; q=100 → 7
    np.testing.assert_array_equal(rule.values_at(values, [20, 30, 40, 100]),
                                  [-np.inf, -np.inf, 1.6, 7.0])
    # the finite case is numpy's own
    np.testing.assert_array_equal(rule.values_at(np.arange(10.0), [5, 95]),
                                  np.percentile(np.arange(10.0), [5, 95]))
    # −∞ and +∞ as neighbours: not defined, said by NaN (and bounds gives None)
    assert np.isnan(rule.values_at(np.r_[-np.inf, np.inf], [50])[0])
    assert rule.bounds(np.r_[-np.inf, np.inf]) == (None, None)
    assert rule.bounds(np.r_[-np.inf, 0.0, np.inf]) == (-np.inf, np.inf)
    assert rule.bounds(np.array([np.nan])) == (None, None)


def test_the_tie_clause_counts_infinite_reference_values():
    rule = load_chain().percentile_rule
    reference = np.r_[[-np.inf] * 3, np.arange(1.0, 58.0)]  # 60 values, 5 % at −∞
    # a patient at −∞: mid-rank 2.5, an interval below 5 — but the reference's own 5th
    # percentile value is −∞ (position 2.95, between two −∞), so it is not "low"
    assert rule.interval_status(0.8, 4.2, value=-np.inf, reference=reference) == "within"
    # when fewer than 5 % are −∞, the 5th percentile is finite and −∞ lies below it
    fewer = np.r_[[-np.inf], np.arange(1.0, 60.0)]
    assert rule.interval_status(0.2, 2.5, value=-np.inf, reference=fewer) == "low"
