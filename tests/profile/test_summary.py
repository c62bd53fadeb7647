"""summarise: the patient's plain sentences and the clinician's lines from hand-made parts."""

from __future__ import annotations

import pytest

from gutaxis.measures import Alert, Measure
from gutaxis.profile import assess_chain
from gutaxis.profile._model import Option
from gutaxis.profile.summary import summarise


def shannon(percentile: float, low: float | None, high: float | None) -> Measure:
    return Measure(id="index:shannon_entropy", label="Shannon entropy", kind="index",
                   value=3.1, unit="", status="within", percentile=percentile, ci_low=low,
                   ci_high=high)


def option(i: int, level: str = "mixed-trial-evidence") -> Option:
    return Option(id=f"o{i}", name=f"Option {i}", step="repair", triggered_by=("x",),
                  evidence_summary="", evidence_level=level, guideline=None, sources=())


def test_the_diversity_sentence_gives_the_interval_in_plain_words():
    m = [shannon(7.7, 0.0, 15.4)]
    patient = summarise(m, [], [], {}, n_reference=39).patient
    assert patient == (
        "Your gut microbial diversity is higher than that of about 8 in 100 of the 39 people "
        "of the comparison group. With a group of this size the true figure could be "
        "anywhere from about 0 to 15 in 100.",)
    for text in patient:
        assert "95 %" not in text and "interval" not in text and "percentile" not in text


@pytest.mark.parametrize(("percentile", "sentence"), [
    (0.0, "lower than that of every one of"),
    (100.0, "higher than that of every one of"),
    (0.3, "lower than that of almost every one of"),
    (99.6, "higher than that of almost every one of"),
])
def test_the_ends_of_the_reference_are_said_in_words(percentile, sentence):
    said = summarise([shannon(percentile, percentile, percentile)], [], [], {},
                     n_reference=12).patient
    assert said == (f"Your gut microbial diversity is {sentence} the 12 people of the "
                    "comparison group.",)


def test_options_are_counted_in_words():
    one = summarise([], [], [], {"dysbiosis": [option(1)]}, n_reference=5).patient
    assert one[-1] == ("Your results point to one option to talk over with your clinician, "
                       "each with how strong the evidence for it is.")
    three = summarise([], [], [], {"a": [option(1), option(2)], "b": [option(3)]},
                      n_reference=5).patient
    assert three[-1].startswith("Your results point to 3 options to talk over")
    assert not any("option" in s for s in summarise([], [], [], {}, n_reference=5).patient)


def test_options_advised_against_are_counted_apart():
    """IgG panels (not-recommended) must not read as one more thing to try."""
    mixed = {"remove": [option(1, "not-recommended"), option(2, "guideline-against")],
             "repair": [option(3, "mixed-trial-evidence")]}
    patient = summarise([], [], [], mixed, n_reference=5).patient
    assert patient[-1].endswith("Experts advise against 2 of them, or studies found no "
                                "benefit: the profile says which.")
    alone = summarise([], [], [], {"remove": [option(1, "trials-show-no-benefit")]},
                      n_reference=5).patient
    assert alone[-1].endswith("Experts advise against it, or studies found no benefit: the "
                              "profile says which.")


def test_a_blocking_reference_alert_is_told_to_the_patient_and_the_clinician():
    alert = Alert(code="depth_low", message="The sample has 900 reads.", scope="reference",
                  blocking=True, affects=("index:shannon_entropy",))
    summary = summarise([], [], [alert], {}, n_reference=5)
    assert summary.patient[0].startswith("Some of your results could not be compared fairly")
    assert summary.clinician[0] == "Warning: The sample has 900 reads."



def test_a_caveat_is_not_told_as_a_failed_comparison():
    caveat = Alert(code="depth_unverified", message="The depth could not be checked.",
                   scope="reference", blocking=False, affects=("index:shannon_entropy",))
    patient = summarise([], [], [caveat], {}, n_reference=5).patient
    assert patient[0] == ("Some of your results were compared with the comparison group with "
                          "a caveat; they are marked below.")
    assert not any("could not be compared" in s for s in patient)


def test_each_link_gets_a_clinician_line_with_its_deciding_measures():
    low = Measure(id="index:shannon_entropy", label="Shannon entropy", kind="index", value=1.0,
                  unit="", status="low", percentile=1.0, ci_low=0.0, ci_high=3.0)
    links = assess_chain([low])
    clinician = summarise([low], links, [], {}, n_reference=40).clinician
    assert clinician[0] == "Dysbiosis: disturbed (Shannon entropy low)."
    assert clinician[3] == "Inflammation and immune activation: not measured (no data)."
    assert clinician[-1] == "Outside the range used, or borderline: Shannon entropy 1 (low)"
