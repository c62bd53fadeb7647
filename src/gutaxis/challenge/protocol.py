"""An elimination-and-reintroduction protocol, laid out as a calendar that follows the diary.

The practitioner chooses the groups to remove, the elimination length (the
knowledge base's default for the chosen template, with its source), the
challenge length with rising portions, and options that make the answer
stronger: a randomised order, repeats of each group, blinded sham capsules.
:func:`build_calendar` turns that into dated challenges, *today*:

- elimination first, for its set number of days;
- then one challenge at a time; a challenge stopped early ends on the day it
  was stopped (:attr:`ProtocolSpec` ``stops``);
- between challenges a washout of at least ``washout_min_days`` that lasts
  until every primary symptom is back at the patient's own level, judged from
  the diary (:func:`back_at_baseline`), not a fixed count.

Dates past today are a forecast (they assume each washout ends at its
minimum) and move as the diary comes in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

import numpy as np

from gutaxis.challenge.diary import PORTIONS, Challenge, ChallengeStep
from gutaxis.checks import check_type
from gutaxis.exceptions import ValidationError
from gutaxis.knowledge import MeaningfulWorsening, load_challenge_knowledge

__all__ = ["ProtocolSpec", "CalendarChallenge", "Calendar", "build_calendar",
           "back_at_baseline", "challenge_order", "SHAM_GROUP"]

#: The food group of a sham challenge that is not tied to one group.
SHAM_GROUP = "sham"
#: Days at the end of the elimination whose scores are the own level.
_BASELINE_DAYS = 7
#: Scored days averaged to judge whether a symptom is back at the own level.
_RECENT_DAYS = 2


@dataclasses.dataclass(frozen=True)
class ProtocolSpec:
    """What the practitioner set.

    Attributes
    ----------
    groups : tuple of str
        The food groups removed, and then challenged one at a time.
    elimination_start : datetime.date
    elimination_days : int
    challenge_days : int
        Days of each challenge; the portion rises over them (small → usual → large).
    washout_min_days : int
    randomised : bool
        Challenge the groups in a random order (``seed``), not as listed.
    repeats : int
        How many times each group is challenged.
    shams : int
        Blinded sham challenges mixed in (0: open challenges).
    seed : int
        The order's seed (kept, so that the order can be shown and audited).
    stops : mapping of int to datetime.date
        Challenge position → the day it was stopped early.
    """

    groups: tuple[str, ...]
    elimination_start: dt.date
    elimination_days: int
    challenge_days: int = 3
    washout_min_days: int = 2
    randomised: bool = False
    repeats: int = 1
    shams: int = 0
    seed: int = 0
    stops: Mapping[int, dt.date] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the groups and the numbers."""
        if not self.groups or any(not isinstance(g, str) or not g.strip() for g in self.groups):
            raise ValidationError("groups: name at least one food group to remove")
        if len(set(self.groups)) != len(self.groups):
            raise ValidationError(f"groups: a group is named twice ({', '.join(self.groups)})")
        check_type(self.elimination_start, dt.date, "elimination_start")
        for name, low, high in (("elimination_days", 1, 120), ("challenge_days", 1, 14),
                                ("washout_min_days", 0, 30), ("repeats", 1, 5),
                                ("shams", 0, 10)):
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                raise ValidationError(f"{name} must be a whole number from {low} to {high}; "
                                      f"got {value!r}")


@dataclasses.dataclass(frozen=True)
class CalendarChallenge:
    """One challenge of the calendar.

    ``status`` is ``done``, ``stopped`` (ended early), ``today`` (under way),
    ``planned`` (a forecast) or ``waiting`` (the washout before it is not over).
    ``done`` says that its days are past, not that it was followed:
    ``logged`` says whether any of the scores given to :func:`build_calendar`
    (the primary symptoms) falls on one of its days (up to today).
    """

    position: int
    food_group: str
    sham: bool
    start: dt.date
    end: dt.date
    portions: tuple[str, ...]
    status: str
    logged: bool = False

    def label(self, blinded: bool) -> str:
        """Return what the patient sees: the group, or a capsule number while blinded."""
        if blinded:
            return f"capsule {self.position + 1}"
        return self.food_group

    def portion_on(self, day: dt.date) -> str | None:
        """Return the portion to eat on ``day`` (None outside the challenge)."""
        if not self.start <= day <= self.end:
            return None
        return self.portions[min((day - self.start).days, len(self.portions) - 1)]

    def as_challenge(self) -> Challenge:
        """Return it as a :class:`Challenge` for the verdicts (one step per day)."""
        steps = tuple(ChallengeStep(self.start + dt.timedelta(days=i),
                                    self.start + dt.timedelta(days=i),
                                    self.portions[min(i, len(self.portions) - 1)])
                      for i in range((self.end - self.start).days + 1))
        return Challenge(self.food_group, self.sham, steps)


@dataclasses.dataclass(frozen=True)
class Calendar:
    """The protocol laid out in dates as of ``today``."""

    elimination_start: dt.date
    elimination_end: dt.date
    challenges: tuple[CalendarChallenge, ...]
    today: dt.date
    phase: str
    waiting_reason: str = ""

    @property
    def finished(self) -> bool:
        """Every challenge is done or stopped."""
        return all(c.status in ("done", "stopped") for c in self.challenges)

    def past_challenges(self) -> list[Challenge]:
        """Return the challenges that have happened (done, stopped or under way), for verdicts."""
        return [c.as_challenge() for c in self.challenges
                if c.status in ("done", "stopped", "today")]

    def today_instruction(self, blinded: bool, names: Mapping[str, str] | None = None) -> str:
        """Return what the patient should do today, in plain words.

        ``names`` gives the food groups' names to say (their ids otherwise).

        Examples
        --------
        >>> spec = ProtocolSpec(("gluten",), dt.date(2026, 3, 1), 21)
        >>> build_calendar(spec, {}, dt.date(2026, 3, 5)).today_instruction(False)
        'Keep gluten out of your meals. Day 5 of 21.'
        """
        names = names or {}
        if self.phase == "elimination":
            day = (self.today - self.elimination_start).days + 1
            total = (self.elimination_end - self.elimination_start).days + 1
            groups = ", ".join(dict.fromkeys(names.get(c.food_group, c.food_group)
                                             for c in self.challenges if not c.sham))
            return f"Keep {groups} out of your meals. Day {day} of {total}."
        if self.phase == "not started":
            return f"Your plan starts on {self.elimination_start:%d %B %Y}."
        for challenge in self.challenges:
            portion = challenge.portion_on(self.today)
            if challenge.status == "today" and portion is not None:
                what = challenge.label(blinded)
                what = what if blinded else names.get(what, what)
                if blinded:
                    return f"Today: take {what} ({portion} dose). Score your symptoms tonight."
                return f"Today: eat a {portion} portion of {what}. Score your symptoms tonight."
        if self.phase == "finished":
            return "All tests are done. Your practitioner will go through the results with you."
        return ("Today: no test food. Keep scoring your symptoms; the next test starts when "
                "they are back to your usual level.")


def challenge_order(spec: ProtocolSpec) -> list[tuple[str, bool]]:
    """Return the challenges' ``(food_group, sham)`` in the order they are done.

    Examples
    --------
    >>> spec = ProtocolSpec(("gluten", "lactose"), dt.date(2026, 3, 1), 21, shams=1)
    >>> challenge_order(spec)
    [('gluten', False), ('lactose', False), ('sham', True)]
    """
    check_type(spec, ProtocolSpec, "spec")
    slots = [(g, False) for _ in range(spec.repeats) for g in spec.groups]
    slots += [(SHAM_GROUP, True)] * spec.shams
    if spec.randomised:
        order = np.random.default_rng(spec.seed).permutation(len(slots))
        slots = [slots[i] for i in order]
    return slots


def _mean(scores: Mapping[dt.date, float], first: dt.date, last: dt.date) -> float | None:
    values = [v for d, v in scores.items() if first <= d <= last]
    return float(np.mean(values)) if values else None


def back_at_baseline(scores: Mapping[str, Mapping[dt.date, float]], baseline: Mapping[str, float],
                     day: dt.date, worsening: MeaningfulWorsening) -> bool:
    """Say whether every symptom is back at the own level on ``day``.

    A symptom is back when the mean of its last two scores up to ``day`` is no
    longer a meaningful worsening of its own level (the knowledge base's
    threshold).  A symptom without a recent score does not hold the washout
    up; with no scores at all the washout is over at its minimum.

    Examples
    --------
    >>> w = load_challenge_knowledge().meaningful_worsening
    >>> d = dt.date(2026, 3, 10)
    >>> back_at_baseline({"pain": {d - dt.timedelta(1): 6, d: 5}}, {"pain": 3.0}, d, w)
    False
    >>> back_at_baseline({"pain": {d - dt.timedelta(1): 4, d: 3}}, {"pain": 3.0}, d, w)
    True
    """
    if not isinstance(scores, Mapping) or not isinstance(baseline, Mapping):
        raise ValidationError("scores and baseline must map each symptom to its scores by "
                              "day and to its own level")
    check_type(day, dt.date, "day")
    for symptom, own in baseline.items():
        recent = sorted((d, v) for d, v in scores.get(symptom, {}).items() if d <= day)
        recent = [(d, v) for d, v in recent if (day - d).days < 7][-_RECENT_DAYS:]
        if not recent:
            continue
        if np.mean([v for _, v in recent]) - own > worsening.threshold(own):
            return False
    return True


def build_calendar(spec: ProtocolSpec, scores: Mapping[str, Mapping[dt.date, float]],
                   today: dt.date, worsening: MeaningfulWorsening | None = None) -> Calendar:
    """Lay the protocol out in dates as of ``today``, following the diary.

    Parameters
    ----------
    spec : ProtocolSpec
    scores : mapping
        Primary symptom → day → the day's mean score (from the diary).
    today : datetime.date
    worsening : MeaningfulWorsening, optional
        Defaults to the knowledge base's.

    Returns
    -------
    Calendar

    Examples
    --------
    Elimination for 14 days from 1 March, then two 3-day challenges with at
    least 2 washout days; no scores, so each washout ends at its minimum:

    >>> spec = ProtocolSpec(("gluten", "lactose"), dt.date(2026, 3, 1), 14)
    >>> cal = build_calendar(spec, {}, dt.date(2026, 3, 16))
    >>> for c in cal.challenges:
    ...     print(c.food_group, c.start, c.end, c.status)
    gluten 2026-03-15 2026-03-17 today
    lactose 2026-03-20 2026-03-22 planned
    """
    check_type(spec, ProtocolSpec, "spec")
    check_type(today, dt.date, "today")
    if not isinstance(scores, Mapping):
        raise ValidationError("scores must map each primary symptom to its scores by day")
    worsening = worsening or load_challenge_knowledge().meaningful_worsening
    elimination_end = spec.elimination_start + dt.timedelta(days=spec.elimination_days - 1)
    baseline = {}
    for symptom, by_day in scores.items():
        own = _mean(by_day, elimination_end - dt.timedelta(days=_BASELINE_DAYS - 1),
                    elimination_end)
        if own is not None:
            baseline[symptom] = own
    portions = tuple(PORTIONS[min(i * len(PORTIONS) // spec.challenge_days, len(PORTIONS) - 1)]
                     for i in range(spec.challenge_days))
    challenges: list[CalendarChallenge] = []
    waiting_reason = ""
    earliest = elimination_end + dt.timedelta(days=1)
    for position, (group, sham) in enumerate(challenge_order(spec)):
        start = earliest
        if start <= today and challenges:
            # the washout lasts until the symptoms are back (judged up to today)
            day = start
            while day <= today and not back_at_baseline(scores, baseline, day - dt.timedelta(1),
                                                         worsening):
                day += dt.timedelta(days=1)
            start = day
            if start > today:
                waiting_reason = ("waiting for the symptoms to come back to their usual level "
                                  "before the next test")
        end = start + dt.timedelta(days=spec.challenge_days - 1)
        stopped = spec.stops.get(position)
        if stopped is not None and start <= stopped <= end:
            end, status = stopped, "stopped"
        elif end < today:
            status = "done"
        elif start <= today:
            status = "today"
        elif waiting_reason and not any(c.status == "waiting" for c in challenges):
            status = "waiting"
        else:
            status = "planned"
        logged = any(start <= day <= min(end, today) for by_day in scores.values()
                     for day in by_day)
        challenges.append(CalendarChallenge(position, group, sham, start, end, portions, status,
                                            logged))
        earliest = end + dt.timedelta(days=spec.washout_min_days + 1)
    if today < spec.elimination_start:
        phase = "not started"
    elif today <= elimination_end:
        phase = "elimination"
    elif all(c.status in ("done", "stopped") for c in challenges):
        phase = "finished"
    elif any(c.status == "today" for c in challenges):
        phase = "challenge"
    else:
        phase = "washout"
    return Calendar(spec.elimination_start, elimination_end, tuple(challenges), today, phase,
                    waiting_reason)
