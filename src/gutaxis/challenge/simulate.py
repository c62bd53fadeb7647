"""Simulated diaries with known truth, to validate the verdicts and the suspects.

A simulated patient has an own symptom level, a slow linear drift,
day-to-day autocorrelated noise (AR(1)), scores rounded to whole points and
kept within 0–10, days without a score, and — the trap of every food diary —
a nocebo response: symptoms rise by a fraction of the own level whenever the
patient believes a suspected food is being tested (every capsule of a
blinded protocol, sham or not; every day of an open challenge).  A true
reaction adds ``effect`` points on the challenge days and fades over the
next days (carry-over).

:func:`simulate_protocol` builds an elimination-and-reintroduction protocol
(baseline days, then challenges in random order separated by washouts);
:func:`simulate_free_diary` builds a free-living diary of meals and
symptoms for the diary-only suspects.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from gutaxis.challenge.diary import Challenge, ChallengeStep, Diary, diary_from_rows

__all__ = ["ProtocolSettings", "SimulatedProtocol", "simulate_protocol", "FreeDiarySettings",
           "SimulatedFreeDiary", "simulate_free_diary"]

_FIRST_DAY = dt.date(2026, 1, 5)


@dataclasses.dataclass(frozen=True)
class ProtocolSettings:
    """The simulated patient and protocol.

    Attributes
    ----------
    food_groups : tuple of str
        The groups challenged, each once, in random order with the shams.
    shams : int
        Blinded sham challenges (0: open challenges, no blinding).
    baseline_days, challenge_days, washout_days : int
    repeats : int
        How many times each food group is challenged.
    level : (float, float)
        Range of the own symptom level (drawn uniformly per patient).
    rho : (float, float)
        Range of the one-day autocorrelation.
    sd : (float, float)
        Range of the day-to-day standard deviation (points).
    drift : float
        The drift per day is drawn uniformly from ``[-drift, drift]``.
    nocebo : float
        The nocebo response, a fraction of the own level.
    carryover : tuple of float
        Fractions of the effect on the days after a challenge.
    missing : float
        Probability that a day has no score.
    """

    food_groups: tuple[str, ...] = ("fructans", "lactose", "gluten")
    shams: int = 2
    baseline_days: int = 14
    challenge_days: int = 3
    washout_days: int = 4
    repeats: int = 1
    level: tuple[float, float] = (3.0, 6.0)
    rho: tuple[float, float] = (0.2, 0.7)
    sd: tuple[float, float] = (0.8, 1.5)
    drift: float = 0.03
    nocebo: float = 0.25
    carryover: tuple[float, ...] = (0.5, 0.25)
    missing: float = 0.1


@dataclasses.dataclass(frozen=True)
class SimulatedProtocol:
    """A simulated protocol: the diary, the challenges, and the truth behind them."""

    diary: Diary
    challenges: list[Challenge]
    effects: dict[str, float]
    level: float
    rho: float


def _ar1_noise(rng: np.random.Generator, days: int, rho: float, sd: float) -> np.ndarray:
    noise = np.empty(days)
    noise[0] = rng.normal(0.0, sd)
    innovation = sd * np.sqrt(1.0 - rho ** 2)
    for day in range(1, days):
        noise[day] = rho * noise[day - 1] + rng.normal(0.0, innovation)
    return noise


def _scores(rng: np.random.Generator, latent: np.ndarray,
            missing: float) -> list[tuple[int, float]]:
    scores = np.clip(np.round(latent), 0, 10)
    kept = rng.random(len(latent)) >= missing
    return [(day, float(scores[day])) for day in range(len(latent)) if kept[day]]


def simulate_protocol(rng: np.random.Generator, effects: dict[str, float],
                      settings: ProtocolSettings | None = None) -> SimulatedProtocol:
    """Simulate one patient's protocol; ``effects`` gives each food group's true effect.

    Parameters
    ----------
    rng : numpy.random.Generator
    effects : dict
        True worsening in points per food group (0 for a tolerated food;
        groups not named have 0).
    settings : ProtocolSettings, optional

    Returns
    -------
    SimulatedProtocol
        One ``"symptom"`` score a day (at 21:00) and the challenge foods as
        ``"food"`` rows; portions rise small → usual → large over a challenge.

    Examples
    --------
    >>> sim = simulate_protocol(np.random.default_rng(0), {"gluten": 2.0})
    >>> len(sim.challenges), sum(c.sham for c in sim.challenges), sim.effects["gluten"]
    (5, 2, 2.0)
    """
    settings = settings or ProtocolSettings()
    slots = [(g, False) for g in settings.food_groups for _ in range(settings.repeats)]
    slots += [("capsule", True)] * settings.shams
    order = rng.permutation(len(slots))
    period = settings.challenge_days + settings.washout_days
    days = settings.baseline_days + len(slots) * period
    level = float(rng.uniform(*settings.level))
    rho = float(rng.uniform(*settings.rho))
    sd = float(rng.uniform(*settings.sd))
    slope = float(rng.uniform(-settings.drift, settings.drift))
    latent = level + slope * np.arange(days) + _ar1_noise(rng, days, rho, sd)
    portions = ("small", "usual", "large")
    challenges: list[Challenge] = []
    rows: list[tuple[dt.datetime, str, str, object]] = []
    blinded = settings.shams > 0
    for position, index in enumerate(order):
        group, sham = slots[index]
        first = settings.baseline_days + position * period
        effect = 0.0 if sham else float(effects.get(group, 0.0))
        latent[first:first + settings.challenge_days] += effect + settings.nocebo * level
        for after, fraction in enumerate(settings.carryover):
            day = first + settings.challenge_days + after
            if day < days:
                latent[day] += fraction * effect
        steps = []
        for offset in range(settings.challenge_days):
            date = _FIRST_DAY + dt.timedelta(days=first + offset)
            portion = portions[min(offset * len(portions) // settings.challenge_days, 2)]
            steps.append(ChallengeStep(date, date, portion))
            when = dt.datetime.combine(date, dt.time(12, 0))
            rows.append((when, "food", "capsule" if blinded else group, portion))
        challenges.append(Challenge(group, sham, tuple(steps)))
    for day, score in _scores(rng, latent, settings.missing):
        when = dt.datetime.combine(_FIRST_DAY + dt.timedelta(days=day), dt.time(21, 0))
        rows.append((when, "symptom", "bloating", score))
    diary = diary_from_rows(rows, "simulated diary")
    truth = {g: float(effects.get(g, 0.0)) for g in settings.food_groups}
    return SimulatedProtocol(diary, challenges, truth, level, rho)


@dataclasses.dataclass(frozen=True)
class FreeDiarySettings:
    """A simulated free-living diary: foods eaten at random, symptoms scored twice a day.

    Attributes
    ----------
    days : int
    foods : dict
        Food item → probability of eating it on a given day (at a random meal).
    level, rho, sd, drift, missing
        As in :class:`ProtocolSettings` (``rho`` per day; two scores a day).
    lag_hours : (float, float)
        A true trigger raises the symptoms scored this long after eating it.
    whole_points : bool
        Round the scores to whole points (as patients score).
    """

    days: int = 42
    foods: tuple[tuple[str, float], ...] = (
        ("wheat bread", 0.5), ("milk", 0.5), ("onion", 0.4), ("apple", 0.3),
        ("egg", 0.5), ("coffee", 0.7), ("lentils", 0.2), ("tomato", 0.4))
    level: tuple[float, float] = (3.0, 6.0)
    rho: tuple[float, float] = (0.2, 0.7)
    sd: tuple[float, float] = (0.8, 1.5)
    drift: float = 0.03
    missing: float = 0.1
    lag_hours: tuple[float, float] = (4.0, 24.0)
    whole_points: bool = True


@dataclasses.dataclass(frozen=True)
class SimulatedFreeDiary:
    """A simulated free-living diary and the true effect of each food."""

    diary: Diary
    effects: dict[str, float]


def simulate_free_diary(rng: np.random.Generator, effects: dict[str, float],
                        settings: FreeDiarySettings | None = None) -> SimulatedFreeDiary:
    """Simulate a free-living diary; a food in ``effects`` raises later scores.

    Symptoms are scored at 08:00 and 20:00; meals at 08:00, 13:00 and 19:00
    (scored before eating).  A food with effect ``e`` adds ``e`` points to
    every score ``lag_hours`` after it was eaten.

    Examples
    --------
    >>> sim = simulate_free_diary(np.random.default_rng(0), {"onion": 2.0})
    >>> sorted(set(sim.diary.entries["kind"]))
    ['food', 'symptom']
    """
    settings = settings or FreeDiarySettings()
    level = float(rng.uniform(*settings.level))
    rho = float(rng.uniform(*settings.rho))
    sd = float(rng.uniform(*settings.sd))
    slope = float(rng.uniform(-settings.drift, settings.drift))
    start = dt.datetime.combine(_FIRST_DAY, dt.time(0, 0))
    rows: list[tuple[dt.datetime, str, str, object]] = []
    eaten: list[tuple[float, str]] = []
    for day in range(settings.days):
        for food, probability in settings.foods:
            if rng.random() < probability:
                hour = float(rng.choice([8.0, 13.0, 19.0]))
                eaten.append((day + hour / 24.0, food))
                rows.append((start + dt.timedelta(days=day, hours=hour), "food", food, "usual"))
    times = np.array([day + hour / 24.0 for day in range(settings.days)
                      for hour in (8.0, 20.0)])
    # AR(1) in continuous time: correlation rho per day between any two scores
    noise = np.empty(len(times))
    noise[0] = rng.normal(0.0, sd)
    for i in range(1, len(times)):
        a = rho ** (times[i] - times[i - 1])
        noise[i] = a * noise[i - 1] + rng.normal(0.0, sd * np.sqrt(1.0 - a ** 2))
    latent = level + slope * times + noise
    lo, hi = (h / 24.0 for h in settings.lag_hours)
    for when, food in eaten:
        effect = effects.get(food, 0.0)
        if effect:
            lag = times - when
            latent += effect * ((lag >= lo) & (lag < hi))
    scores = np.clip(np.round(latent) if settings.whole_points else latent, 0, 10)
    kept = rng.random(len(times)) >= settings.missing
    for index in np.flatnonzero(kept).tolist():
        rows.append((start + dt.timedelta(days=float(times[index])), "symptom", "bloating",
                     float(scores[index])))
    return SimulatedFreeDiary(diary_from_rows(rows, "simulated diary"),
                              {food: float(effects.get(food, 0.0)) for food, _ in settings.foods})
