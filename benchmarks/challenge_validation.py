"""Validation of the challenge verdicts and diary suspects on simulated diaries (issue 11).

Not a speed benchmark: it measures how often the verdicts are right when the
truth is known, beside the naive days-with-versus-days-without method that
food-diary apps use, in the same simulated diaries.  Seeded; prints Markdown
tables for benchmarks/README.md ("Challenge verdicts on simulated diaries").

    .venv/bin/python -m benchmarks.challenge_validation [--diaries 2000] [--power-diaries 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from gutaxis.challenge import LIKELY_TOLERATED, LIKELY_TRIGGER, challenge_verdicts, diary_suspects
from gutaxis.challenge.naive import naive_challenge_results, naive_food_results
from gutaxis.challenge.simulate import ProtocolSettings, simulate_free_diary, simulate_protocol


def _protocol_scenario(rng: np.random.Generator, settings: ProtocolSettings,
                       n: int) -> dict[str, float]:
    """False triggers and coverage for one protocol; gluten's effect varies, others are 0."""
    ours, tolerated, naive_ratio, naive_t, covered = [], [], [], [], []
    for _ in range(n):
        effects = {"gluten": float(rng.choice([0.0, 1.0, 2.0, 3.0]))}
        sim = simulate_protocol(rng, effects, settings)
        verdicts = challenge_verdicts(sim.diary, sim.challenges)
        nocebo = 0.0 if settings.shams else settings.nocebo * sim.level
        for v in verdicts:
            truth = sim.effects[v.food_group]
            if v.interval is not None:
                # open challenges are judged against baseline: their truth includes the nocebo
                covered.append(v.interval[0] <= truth + nocebo <= v.interval[1])
            if truth == 0.0:
                ours.append(v.verdict == LIKELY_TRIGGER)
                tolerated.append(v.verdict == LIKELY_TOLERATED)
        ordered = sorted(sim.challenges, key=lambda c: c.start)
        for challenge, result in zip(ordered, naive_challenge_results(
                sim.diary, ordered, "bloating"), strict=True):
            if not challenge.sham and sim.effects[challenge.food_group] == 0.0:
                naive_ratio.append(result.ratio_flag)
                naive_t.append(result.ttest_flag)
    return {"ours": float(np.mean(ours)), "tolerated": float(np.mean(tolerated)),
            "naive_ratio": float(np.mean(naive_ratio)),
            "naive_t": float(np.mean(naive_t)), "coverage": float(np.mean(covered)),
            "null_verdicts": len(ours), "intervals": len(covered)}


def _power(rng: np.random.Generator, effect: float, days: int, n: int) -> float:
    settings = dataclasses.replace(ProtocolSettings(), food_groups=("gluten",),
                                   challenge_days=days)
    hits = 0
    for _ in range(n):
        sim = simulate_protocol(rng, {"gluten": effect}, settings)
        [verdict] = challenge_verdicts(sim.diary, sim.challenges)
        hits += verdict.verdict == LIKELY_TRIGGER
    return hits / n


def _suspects(rng: np.random.Generator, n: int, effect: float) -> dict[str, float]:
    ours_any, naive_ratio_any, naive_t_any, found, p_values = [], [], [], [], []
    false_proportions = []
    for _ in range(n):
        sim = simulate_free_diary(rng, {"onion": effect} if effect else {})
        report = diary_suspects(sim.diary)
        false = [t for t in report.suspects if t.food != "onion" or not effect]
        ours_any.append(bool(false))
        false_proportions.append(len(false) / max(len(report.suspects), 1))
        found.append(any(t.food == "onion" for t in report.suspects))
        naive = naive_food_results(sim.diary, "bloating")
        innocent = {f: r for f, r in naive.items() if f != "onion" or not effect}
        naive_ratio_any.append(any(r.ratio_flag for r in innocent.values()))
        naive_t_any.append(any(r.ttest_flag for r in innocent.values()))
        if not effect:
            p_values += [t.p_value for t in report.tests if t.tested]
    p = np.array(p_values) if p_values else np.array([np.nan])
    return {"ours_any": float(np.mean(ours_any)), "naive_ratio_any": float(np.mean(
        naive_ratio_any)), "naive_t_any": float(np.mean(naive_t_any)),
        "found": float(np.mean(found)),
        "fdr": float(np.mean(false_proportions)),
        "p_below_005": float(np.mean(p < 0.05)),
        "p_below_001": float(np.mean(p < 0.01))}


def main() -> None:
    """Run every scenario and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diaries", type=int, default=2000)
    parser.add_argument("--power-diaries", type=int, default=200)
    parser.add_argument("--suspect-diaries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20261205)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    blinded = _protocol_scenario(rng, ProtocolSettings(), args.diaries)
    opened = _protocol_scenario(rng, ProtocolSettings(shams=0), args.diaries)
    print(f"## verdicts ({args.diaries} simulated protocols each)\n")
    print("| protocol | verdicts without a true effect | ours: 'likely trigger' | ours: 'likely "
          "tolerated' | naive ≥30 % higher | naive t-test p<0.05 | 90 % intervals covering "
          "the truth |")
    print("|---|---|---|---|---|---|---|")
    for name, r in (("blinded, 2 shams", blinded), ("open (no sham)", opened)):
        print(f"| {name} | {r['null_verdicts']} | {r['ours']:.1%} | {r['tolerated']:.1%} | "
              f"{r['naive_ratio']:.1%} | {r['naive_t']:.1%} | {r['coverage']:.1%} of "
              f"{r['intervals']} |")
    print("\n## power: share of 'likely trigger' verdicts (blinded, 2 shams, "
          f"{args.power_diaries} protocols a cell)\n")
    days_list = (1, 3, 5, 7)
    print("| true worsening (points) | " + " | ".join(f"{d} challenge day(s)" for d in days_list)
          + " |")
    print("|---|" + "---|" * len(days_list))
    for effect in (0.0, 1.0, 2.0, 3.0, 4.0):
        cells = [f"{_power(rng, effect, d, args.power_diaries):.0%}" for d in days_list]
        print(f"| {effect:.0f} | " + " | ".join(cells) + " |")
    null = _suspects(rng, args.suspect_diaries, 0.0)
    planted = _suspects(rng, args.suspect_diaries, 2.0)
    print(f"\n## diary suspects ({args.suspect_diaries} simulated 6-week diaries each)\n")
    print("| diaries | ours: any innocent food a suspect | ours: false-discovery rate "
          "| naive ≥30 % higher | naive t-test p<0.05 | the true trigger found |")
    print("|---|---|---|---|---|---|")
    print(f"| no trigger | {null['ours_any']:.1%} | {null['fdr']:.1%} | "
          f"{null['naive_ratio_any']:.1%} | {null['naive_t_any']:.1%} | — |")
    print(f"| onion +2 points 4–24 h later | {planted['ours_any']:.1%} | "
          f"{planted['fdr']:.1%} | {planted['naive_ratio_any']:.1%} | "
          f"{planted['naive_t_any']:.1%} | {planted['found']:.0%} |")
    print(f"\nper-test p-values without a trigger: {null['p_below_005']:.3f} below 0.05, "
          f"{null['p_below_001']:.4f} below 0.01")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
