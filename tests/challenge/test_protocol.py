"""The protocol calendar: elimination, one challenge at a time, washouts that follow the diary."""

from __future__ import annotations

import datetime as dt

import pytest

from gutaxis.challenge import ProtocolSpec, build_calendar, challenge_order
from gutaxis.exceptions import ValidationError

START = dt.date(2026, 3, 1)


def _day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def test_elimination_then_challenges_each_after_the_minimum_washout():
    spec = ProtocolSpec(("gluten", "lactose", "fructans"), START, 14, challenge_days=3,
                        washout_min_days=2)
    calendar = build_calendar(spec, {}, _day(3))
    assert calendar.phase == "elimination" and calendar.elimination_end == _day(13)
    assert [(c.start, c.end) for c in calendar.challenges] == [
        (_day(14), _day(16)), (_day(19), _day(21)), (_day(24), _day(26))]
    assert [c.portions for c in calendar.challenges][0] == ("small", "usual", "large")
    assert calendar.today_instruction(False) == ("Keep gluten, lactose, fructans out of your "
                                                 "meals. Day 4 of 14.")
    assert build_calendar(spec, {}, _day(15)).today_instruction(False) == (
        "Today: eat a usual portion of gluten. Score your symptoms tonight.")


def test_the_washout_lasts_until_the_symptoms_are_back_at_the_own_level():
    spec = ProtocolSpec(("gluten", "lactose"), START, 14, challenge_days=3, washout_min_days=2)
    bloating = {_day(d): 3.0 for d in range(14)}  # own level 3 at the end of the elimination
    bloating.update({_day(14): 6, _day(15): 7, _day(16): 7, _day(17): 7, _day(18): 6,
                     _day(19): 6, _day(20): 5, _day(21): 3, _day(22): 3})
    scores = {"bloating": bloating}
    waiting = build_calendar(spec, scores, _day(20))
    assert waiting.challenges[0].status == "done"
    assert waiting.challenges[1].status == "waiting" and waiting.phase == "washout"
    assert waiting.waiting_reason.startswith("waiting for the symptoms")
    assert "no test food" in waiting.today_instruction(False)
    # back at the own level (3, 3) by day 22: the next challenge starts on day 23, not 19
    later = build_calendar(spec, scores, _day(24))
    assert later.challenges[1].start == _day(23) and later.challenges[1].status == "today"


def test_a_challenge_stopped_early_ends_there_and_the_next_moves_up():
    spec = ProtocolSpec(("gluten", "lactose"), START, 14, challenge_days=3, washout_min_days=2,
                        stops={0: _day(14)})
    calendar = build_calendar(spec, {}, _day(15))
    first, second = calendar.challenges
    assert (first.start, first.end, first.status) == (_day(14), _day(14), "stopped")
    assert second.start == _day(17)
    assert [s.portion for s in calendar.past_challenges()[0].steps] == ["small"]


def test_randomised_blinded_repeated_protocols():
    spec = ProtocolSpec(("gluten", "lactose"), START, 14, randomised=True, repeats=2, shams=2,
                        seed=42)
    order = challenge_order(spec)
    assert sorted(order) == sorted([("gluten", False)] * 2 + [("lactose", False)] * 2
                                   + [("sham", True)] * 2)
    assert order == challenge_order(spec)  # the seed fixes it
    assert order != challenge_order(ProtocolSpec(("gluten", "lactose"), START, 14, repeats=2,
                                                 shams=2))
    calendar = build_calendar(spec, {}, _day(14))
    assert calendar.today_instruction(True) == ("Today: take capsule 1 (small dose). Score "
                                                "your symptoms tonight.")
    assert calendar.challenges[3].label(True) == "capsule 4"


def test_finished_and_not_started():
    spec = ProtocolSpec(("egg",), START, 7)
    assert build_calendar(spec, {}, _day(-2)).phase == "not started"
    done = build_calendar(spec, {}, _day(30))
    assert done.finished and done.phase == "finished"
    assert len(done.past_challenges()) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"groups": ()}, "name at least one food group"),
    ({"groups": ("egg", "egg")}, "a group is named twice"),
    ({"elimination_days": 0}, "elimination_days must be a whole number from 1 to 120; got 0"),
    ({"challenge_days": 30}, "challenge_days must be a whole number from 1 to 14"),
    ({"shams": -1}, "shams must be a whole number from 0 to 10"),
])
def test_bad_protocols_are_refused(kwargs, message):
    args = {"groups": ("egg",), "elimination_start": START, "elimination_days": 14} | kwargs
    with pytest.raises(ValidationError, match=message):
        ProtocolSpec(**args)
