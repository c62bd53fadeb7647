"""challenge.yaml: the meaningful worsening and the protocol shapes, with their sources."""

from __future__ import annotations

from importlib import resources

import pytest

from gutaxis.exceptions import FormatError
from gutaxis.knowledge import load_challenge_knowledge


def test_the_threshold_is_the_salerno_30_percent_with_its_sources():
    worsening = load_challenge_knowledge().meaningful_worsening
    assert worsening.relative == 0.30
    dois = {s.doi for s in worsening.sources}
    assert {"10.3390/nu7064966", "10.1016/S0304-3959(01)00349-9"} <= dois
    assert worsening.threshold(5.0) == pytest.approx(1.5)
    assert worsening.threshold(0.0) == pytest.approx(0.3)  # the Salerno scale starts at 1


def test_every_protocol_has_a_source_and_a_known_evidence_level():
    knowledge = load_challenge_knowledge()
    for template in knowledge.protocols:
        assert template.sources and template.evidence_level in knowledge.evidence_levels
    fodmap = knowledge.protocol("low_fodmap")
    assert (fodmap.elimination_days.low, fodmap.elimination_days.high) == (14, 42)
    assert knowledge.protocol("salerno_gluten").blinded_with_sham is True
    with pytest.raises(KeyError):
        knowledge.protocol("ifm")


def test_a_broken_file_names_the_field(tmp_path):
    path = tmp_path / "challenge.yaml"
    text = resources.files("gutaxis.knowledge").joinpath("challenge.yaml").read_text()
    path.write_text(text.replace("evidence_level: developer-guidance",
                                 "evidence_level: strong"))
    with pytest.raises(FormatError, match="protocols.low_fodmap: evidence_level 'strong' is "
                                          "not one of"):
        load_challenge_knowledge(path)
    path.write_text(text.replace("challenge_days: 3", "challenge_days: 0"))
    with pytest.raises(FormatError, match=r"field protocols.0.challenge_days"):
        load_challenge_knowledge(path)
