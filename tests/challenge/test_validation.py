"""The verdicts on simulated diaries with known truth (seeded): the issue's promises.

Autocorrelated symptoms, drift, whole-point scores, missing days, carry-over
and a nocebo response of 25 % of the own level on every capsule (blinded
protocol: 3 food groups and 2 shams, in random order).  The figures, with
more diaries, the open protocol and power, are in benchmarks/README.md
(``benchmarks/challenge_validation.py``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gutaxis.challenge import LIKELY_TRIGGER, challenge_verdicts
from gutaxis.challenge.naive import naive_challenge_results
from gutaxis.challenge.simulate import ProtocolSettings, simulate_protocol


@pytest.fixture(scope="module")
def blinded_runs():
    rng = np.random.default_rng(20261205)
    settings = ProtocolSettings()
    runs = []
    for _ in range(800):
        effects = {"gluten": float(rng.choice([0.0, 1.0, 2.0, 3.0]))}
        sim = simulate_protocol(rng, effects, settings)
        runs.append((sim, challenge_verdicts(sim.diary, sim.challenges),
                     naive_challenge_results(sim.diary, sim.challenges, "bloating")))
    return runs


def test_without_a_true_effect_at_most_5_percent_are_called_triggers(blinded_runs):
    calls = [v.verdict == LIKELY_TRIGGER for sim, verdicts, _ in blinded_runs for v in verdicts
             if sim.effects[v.food_group] == 0.0]
    assert len(calls) > 1500
    assert np.mean(calls) <= 0.05


def test_the_naive_method_calls_many_innocent_foods_guilty_in_the_same_diaries(blinded_runs):
    naive = [r.ratio_flag for sim, _, results in blinded_runs
             for c, r in zip(sim.challenges, results, strict=True)
             if not c.sham and sim.effects[c.food_group] == 0.0]
    ours = [v.verdict == LIKELY_TRIGGER for sim, verdicts, _ in blinded_runs for v in verdicts
            if sim.effects[v.food_group] == 0.0]
    assert np.mean(naive) > 0.10
    assert np.mean(naive) > 5 * np.mean(ours)


def test_the_90_percent_intervals_cover_the_true_effect_88_to_92_percent(blinded_runs):
    covered = [v.interval[0] <= sim.effects[v.food_group] <= v.interval[1]
               for sim, verdicts, _ in blinded_runs for v in verdicts if v.interval is not None]
    assert len(covered) > 2300
    assert 0.88 <= np.mean(covered) <= 0.92


def test_power_grows_with_the_effect_and_the_challenge_days():
    rng = np.random.default_rng(7)

    def power(effect: float, days: int, n: int = 60) -> float:
        settings = dataclasses.replace(ProtocolSettings(), food_groups=("gluten",),
                                       challenge_days=days)
        hits = 0
        for _ in range(n):
            sim = simulate_protocol(rng, {"gluten": effect}, settings)
            [verdict] = challenge_verdicts(sim.diary, sim.challenges)
            hits += verdict.verdict == LIKELY_TRIGGER
        return hits / n

    weak, strong = power(1.0, 3), power(4.0, 3)
    short, long = power(3.0, 1), power(3.0, 7)
    assert strong > weak + 0.4
    assert long > short + 0.15
