"""Per-challenge verdicts: cases whose answer is known, and the refusals."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from gutaxis.challenge import (
    INCONCLUSIVE,
    LIKELY_TOLERATED,
    LIKELY_TRIGGER,
    Challenge,
    ChallengeStep,
    VerdictOptions,
    challenge_verdicts,
    diary_from_rows,
)
from gutaxis.exceptions import ValidationError
from gutaxis.knowledge import load_challenge_knowledge

FIRST = dt.date(2026, 3, 1)


def _day(d: int) -> dt.date:
    return FIRST + dt.timedelta(days=d)


def _diary(scores: dict[int, float], symptom: str = "bloating", extra=()):
    rows = [(dt.datetime.combine(_day(d), dt.time(20)), "symptom", symptom, s)
            for d, s in scores.items()]
    return diary_from_rows(rows + list(extra), "test diary")


def _challenge(group: str, first: int, days: int = 3, sham: bool = False,
               portions=("usual",)) -> Challenge:
    if len(portions) == 1:
        return Challenge(group, sham, (ChallengeStep(_day(first), _day(first + days - 1),
                                                     portions[0]),))
    return Challenge(group, sham, tuple(ChallengeStep(_day(first + i), _day(first + i), p)
                                        for i, p in enumerate(portions)))


def _scores(n: int, seed: int, bumps: dict[int, float], level: float = 4.0, sd: float = 0.5):
    rng = np.random.default_rng(seed)
    return {d: float(np.clip(round(level + bumps.get(d, 0.0) + rng.normal(0, sd), 1), 0, 10))
            for d in range(n)}


def test_a_large_worsening_is_a_likely_trigger_with_the_salerno_threshold():
    scores = _scores(40, 1, {d: 3.0 for d in (20, 21, 22)})
    [verdict] = challenge_verdicts(_diary(scores), [_challenge("gluten", 20)])
    assert verdict.verdict == LIKELY_TRIGGER
    assert verdict.compared_with == "baseline"
    assert verdict.effect == pytest.approx(3.0, abs=0.6)
    assert verdict.interval[0] > verdict.threshold
    assert verdict.p_above_threshold >= 0.95
    # the threshold is 30 % of the own level (about 4), from the knowledge base
    relative = load_challenge_knowledge().meaningful_worsening.relative
    assert verdict.threshold == pytest.approx(relative * verdict.own_level)
    assert verdict.own_level == pytest.approx(4.0, abs=0.4)
    assert verdict.scored_days == 3
    assert "nocebo" in verdict.note
    assert verdict.largest_portion_tolerated is None


def test_no_change_over_a_long_challenge_is_likely_tolerated_with_its_portion():
    scores = _scores(50, 2, {}, sd=0.3)
    [verdict] = challenge_verdicts(_diary(scores), [_challenge("lactose", 20, days=7,
                                                               portions=("250 ml milk",))])
    assert verdict.verdict == LIKELY_TOLERATED
    assert verdict.interval[1] < verdict.threshold
    assert verdict.p_above_threshold <= 0.05
    assert verdict.largest_portion_tolerated == "250 ml milk"


def test_a_short_noisy_challenge_is_inconclusive():
    scores = _scores(25, 3, {15: 1.0}, sd=1.5)
    [verdict] = challenge_verdicts(_diary(scores), [_challenge("egg", 15, days=1)])
    assert verdict.verdict == INCONCLUSIVE
    assert 0.05 < verdict.p_above_threshold < 0.95


def test_against_sham_a_nocebo_response_cancels():
    # every capsule (food or sham) raises bloating by 2 points; the food adds nothing
    bumps = {d: 2.0 for d in (14, 15, 16, 21, 22, 23, 28, 29, 30)}
    scores = _scores(40, 4, bumps, sd=0.4)
    challenges = [_challenge("gluten", 14), _challenge("gluten", 21, sham=True),
                  _challenge("capsule", 28, sham=True)]
    [verdict] = challenge_verdicts(_diary(scores), challenges)
    assert verdict.compared_with == "sham"
    assert verdict.effect == pytest.approx(0.0, abs=0.6)
    assert verdict.verdict != LIKELY_TRIGGER
    # only the matching sham (same food group) is the comparison when there is one
    assert verdict.sham_response["shams"] == 1
    assert verdict.sham_response["effect"] == pytest.approx(2.0, abs=0.6)
    # an open challenge alone cannot tell the same response from an effect
    open_scores = _scores(40, 4, {d: 2.0 for d in (14, 15, 16)}, sd=0.4)
    [open_verdict] = challenge_verdicts(_diary(open_scores), [_challenge("gluten", 14)])
    assert open_verdict.compared_with == "baseline"
    assert open_verdict.effect == pytest.approx(2.0, abs=0.6)


def test_repeats_get_a_pooled_verdict_with_a_narrower_interval():
    bumps = {d: 1.6 for d in (12, 13, 14, 24, 25, 26, 36, 37, 38)}
    scores = _scores(48, 5, bumps, sd=0.6)
    challenges = [_challenge("fructans", 12), _challenge("fructans", 24),
                  _challenge("fructans", 36)]
    verdicts = challenge_verdicts(_diary(scores), challenges)
    assert [v.challenge for v in verdicts] == ["1", "2", "3", "pooled"]
    pooled = verdicts[-1]
    widths = [v.interval[1] - v.interval[0] for v in verdicts]
    assert widths[-1] < min(widths[:-1])
    assert pooled.effect == pytest.approx(1.6, abs=0.5)
    assert pooled.start == _day(12) and pooled.end == _day(38)


def test_the_largest_portion_tolerated_stops_before_the_step_that_worsens():
    bumps = {22: 4.0}  # only the large portion, on the third day
    scores = _scores(45, 6, bumps, sd=0.25)
    challenge = _challenge("fructans", 20, portions=("small", "usual", "large"))
    [verdict] = challenge_verdicts(_diary(scores), [challenge],
                                   VerdictOptions(carryover_days=2))
    assert verdict.portions == ("small", "usual", "large")
    assert verdict.largest_portion_tolerated == "usual"


def test_a_challenge_without_scores_is_inconclusive_and_says_why():
    scores = {d: s for d, s in _scores(30, 7, {}).items() if d not in (10, 11, 12)}
    verdicts = challenge_verdicts(_diary(scores), [_challenge("soy", 10), _challenge("egg", 20)])
    assert verdicts[0].verdict == INCONCLUSIVE and verdicts[0].effect is None
    assert verdicts[0].note == ("no 'bloating' score on the challenge day(s) of soy "
                                "2026-03-11 to 2026-03-13")
    assert verdicts[1].effect is not None


def test_too_few_days_outside_the_challenges_is_inconclusive():
    scores = _scores(8, 8, {})
    [verdict] = challenge_verdicts(_diary(scores), [_challenge("soy", 3)])
    assert verdict.verdict == INCONCLUSIVE
    assert verdict.note.startswith("only 3 day(s) with a 'bloating' score outside")


def test_each_primary_symptom_is_judged_and_unknown_ones_refused():
    a = _scores(30, 9, {d: 3.0 for d in (15, 16, 17)})
    b = _scores(30, 10, {})
    rows = [(dt.datetime.combine(_day(d), dt.time(21)), "symptom", "pain", s) for d, s in b.items()]
    diary = _diary(a, extra=rows)
    verdicts = challenge_verdicts(diary, [_challenge("gluten", 15)])
    assert [(v.symptom, v.verdict) for v in verdicts][0] == ("bloating", LIKELY_TRIGGER)
    assert verdicts[1].symptom == "pain" and verdicts[1].verdict != LIKELY_TRIGGER
    only = challenge_verdicts(diary, [_challenge("gluten", 15)], VerdictOptions(symptoms=("pain",)))
    assert [v.symptom for v in only] == ["pain"]
    with pytest.raises(ValidationError, match="primary symptom\\(s\\) 'fatigue' never scored; "
                                              "the diary scores 'bloating', 'pain'"):
        challenge_verdicts(diary, [_challenge("gluten", 15)], VerdictOptions(symptoms=("fatigue",)))


def test_refusals():
    diary = _diary(_scores(20, 11, {}))
    with pytest.raises(ValidationError, match="no food challenge to judge"):
        challenge_verdicts(diary, [_challenge("capsule", 5, sham=True)])
    food_only = diary_from_rows([("2026-03-01", "food", "bread", "small")], "d")
    with pytest.raises(ValidationError, match="no symptom scores"):
        challenge_verdicts(food_only, [_challenge("gluten", 0)])
    with pytest.raises(ValidationError, match="decision must be in"):
        VerdictOptions(decision=0.4)


def test_the_json_record_has_the_documented_keys():
    [verdict] = challenge_verdicts(_diary(_scores(30, 12, {})), [_challenge("corn", 12)])
    record = verdict.to_json()
    for key in ("food_group", "symptom", "effect", "interval", "p_above_threshold", "verdict",
                "largest_portion_tolerated", "threshold", "compared_with"):
        assert key in record
    assert record["start"] == "2026-03-13" and isinstance(record["interval"], list)


def test_a_symptom_that_never_changes_is_inconclusive_and_says_why():
    scores = {d: 2.0 for d in range(30)}
    [verdict] = challenge_verdicts(_diary(scores), [_challenge("gluten", 12)])
    assert verdict.verdict == INCONCLUSIVE and verdict.effect is None
    assert "the scores never change (always 2)" in verdict.note


def test_near_the_top_of_the_scale_a_worsening_cannot_show_and_says_so():
    scores = _scores(30, 13, {d: 10.0 - 8.5 for d in (15, 16, 17)}, level=8.5, sd=0.3)
    [verdict] = challenge_verdicts(_diary(scores), [_challenge("wheat", 15)])
    assert verdict.verdict == INCONCLUSIVE
    assert re.fullmatch(r"a worsening of 2\.\d points cannot show above the own level of 8\.\d "
                        r"on a 0–10 scale", verdict.note)


def test_a_repeat_without_scores_leaves_the_scored_repeats_pooled():
    bumps = {d: 3.0 for d in (12, 13, 14, 24, 25, 26)}
    scores = {d: s for d, s in _scores(48, 14, bumps, sd=0.5).items() if d not in (36, 37, 38)}
    challenges = [_challenge("fructans", 12), _challenge("fructans", 24),
                  _challenge("fructans", 36)]
    verdicts = challenge_verdicts(_diary(scores), challenges)
    assert [v.challenge for v in verdicts] == ["1", "2", "3", "pooled"]
    assert verdicts[2].effect is None and verdicts[3].verdict == LIKELY_TRIGGER
    assert verdicts[3].end == _day(26)
