"""Diary suspects: a planted trigger is found; innocent foods mostly are not; the gauge."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gutaxis.challenge import SuspectOptions, diary_from_rows, diary_suspects
from gutaxis.challenge.naive import naive_food_results
from gutaxis.challenge.simulate import FreeDiarySettings, simulate_free_diary
from gutaxis.challenge.suspects import SUSPECT_LABEL
from gutaxis.exceptions import ValidationError


def test_a_planted_trigger_is_found_in_its_window_and_labelled_a_suspect():
    sim = simulate_free_diary(np.random.default_rng(11), {"onion": 2.5})
    report = diary_suspects(sim.diary)
    found = report.suspects
    assert found and found[0].food == "onion" and found[0].window_hours == (4.0, 24.0)
    assert found[0].label == SUSPECT_LABEL == "a suspect to test with a challenge"
    assert found[0].effect == pytest.approx(2.5, abs=0.8)
    assert found[0].q_value <= 0.10
    assert all("avoid" not in t.label for t in report.tests)
    document = report.to_json()
    assert document["suspects"][0]["food"] == "onion"
    assert document["gauge"]["enough_days"] is True


@pytest.fixture(scope="module")
def null_reports():
    rng = np.random.default_rng(99)
    out = []
    for _ in range(120):
        sim = simulate_free_diary(rng, {})
        out.append((diary_suspects(sim.diary), naive_food_results(sim.diary, "bloating")))
    return out


def test_without_triggers_the_p_values_are_calibrated(null_reports):
    p = np.array([t.p_value for report, _ in null_reports for t in report.tests if t.tested])
    assert len(p) > 2000
    assert 0.035 <= np.mean(p < 0.05) <= 0.065
    assert 0.07 <= np.mean(p < 0.10) <= 0.13


def test_without_triggers_fewer_diaries_get_a_false_suspect_than_with_the_naive_test(null_reports):
    ours = np.mean([bool(report.suspects) for report, _ in null_reports])
    naive = np.mean([any(r.ttest_flag for r in results.values()) for _, results in null_reports])
    assert naive > 0.2
    assert ours < naive / 1.5


def test_too_short_a_diary_says_so():
    settings = dataclasses.replace(FreeDiarySettings(), days=5)
    report = diary_suspects(simulate_free_diary(np.random.default_rng(1), {}, settings).diary)
    gauge = report.gauge()
    assert gauge["enough_days"] is False and report.suspects == []
    assert gauge["summary"].startswith("Not enough days yet: no food was eaten on at least 7 "
                                       "days and skipped on at least 7")
    assert all(t.reason for t in report.tests)


def test_items_are_tested_under_the_names_groups_of_gives():
    sim = simulate_free_diary(np.random.default_rng(11), {"onion": 2.5})
    groups = {"onion": {"fructans"}, "wheat bread": {"fructans", "gluten"}}
    report = diary_suspects(sim.diary, groups_of=lambda item: groups.get(item, {item}))
    foods = {t.food for t in report.tests}
    assert "onion" not in foods and {"fructans", "gluten"} <= foods


def test_refusals():
    only_food = diary_from_rows([("2026-03-01", "food", "bread", "small")], "d")
    with pytest.raises(ValidationError, match="no symptom scores"):
        diary_suspects(only_food)
    only_symptom = diary_from_rows([("2026-03-01", "symptom", "pain", 3)], "d")
    with pytest.raises(ValidationError, match="no food rows"):
        diary_suspects(only_symptom)
    with pytest.raises(ValidationError, match="lag window"):
        SuspectOptions(windows=((4.0, 4.0),))


def test_beside_a_real_trigger_the_false_discovery_rate_stays_near_its_target():
    rng = np.random.default_rng(31)
    proportions, found = [], []
    for _ in range(80):
        report = diary_suspects(simulate_free_diary(rng, {"onion": 2.0}).diary)
        false = [t for t in report.suspects if t.food != "onion"]
        proportions.append(len(false) / max(len(report.suspects), 1))
        found.append(any(t.food == "onion" for t in report.suspects))
    assert np.mean(found) >= 0.9
    assert np.mean(proportions) <= 0.12
    # the second round adjusts each test for the other suspects of the first
    assert any(t.adjusted_for > 0 for t in report.tests if t.tested)
