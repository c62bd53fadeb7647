"""Candidate triggers from the diary alone: suspects to test with a challenge, never verdicts.

A free-living diary cannot prove that a food causes a symptom: foods come
together (bread with butter), symptoms drift, and people eat differently on bad
days. What it can do is point at foods worth a proper challenge. For each food
(or food group), each symptom and each lag window (by default 0–4 h, 4–24 h and
24–72 h after eating), every symptom score is marked *exposed* when the food
was eaten within that window before it, and the scores are modelled as own
level + linear drift + an exposure step, with AR(1) errors in continuous time
(:mod:`gutaxis.challenge._ar1`). The one-sided posterior probability of no
worsening serves as a p-value; the Benjamini–Hochberg procedure
(:func:`gutaxis.stats.bh_adjust`) controls the false-discovery rate over every
food, symptom and window tested. The tests are then fitted a second time, each
adjusted for the exposures that passed the first round (other foods, or the
same food in other windows): a real trigger left out of a model leaves
structure in its errors that makes innocent foods look guilty (in our
simulations, beside a real trigger, the diaries with an innocent suspect fell
from 19 % to 17 % and the false-discovery rate to 9 %; benchmarks/README.md has
the figures). A food passing the second round is "a suspect to test with a
challenge".

A test needs at least ``min_exposed_days`` days with and ``min_unexposed_days``
days without the exposure; the report says how large an effect the diary could
detect (80 % power, one-sided 5 %), which is the honest answer to "have I
logged enough days?".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from scipy import stats

from gutaxis.challenge._ar1 import ar1_posterior, ar1_posteriors
from gutaxis.challenge.diary import Diary
from gutaxis.checks import check_type
from gutaxis.exceptions import ValidationError
from gutaxis.stats import bh_adjust

__all__ = ["SuspectOptions", "SuspectTest", "SuspectReport", "diary_suspects", "SUSPECT_LABEL"]

#: How a suspect is labelled, always.
SUSPECT_LABEL = "a suspect to test with a challenge"


@dataclasses.dataclass(frozen=True)
class SuspectOptions:
    """How suspects are found.

    Attributes
    ----------
    windows : tuple of (float, float)
        Lag windows in hours after eating, ``[low, high)``.
    fdr : float
        The false-discovery rate controlled over all tests (0.10).
    min_exposed_days, min_unexposed_days : int
        Days needed with and without the exposure for a test (7 and 7).
    level : float
        The probability of the reported intervals (0.90).
    symptoms : tuple of str, optional
        The symptoms to study (all by default).
    """

    windows: tuple[tuple[float, float], ...] = ((0.0, 4.0), (4.0, 24.0), (24.0, 72.0))
    fdr: float = 0.10
    min_exposed_days: int = 7
    min_unexposed_days: int = 7
    level: float = 0.90
    symptoms: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        """Check the windows, the rate and the day counts."""
        for low, high in self.windows:
            if not 0 <= low < high:
                raise ValidationError(f"a lag window needs 0 <= low < high hours; got "
                                      f"({low}, {high})")
        if not 0 < self.fdr < 1:
            raise ValidationError(f"fdr must be between 0 and 1; got {self.fdr}")
        if self.min_exposed_days < 2 or self.min_unexposed_days < 2:
            raise ValidationError("min_exposed_days and min_unexposed_days must be >= 2")


@dataclasses.dataclass(frozen=True)
class SuspectTest:
    """One food × symptom × window: tested, or why not."""

    food: str
    symptom: str
    window_hours: tuple[float, float]
    #: Days with a score taken within the window after the food, and days with a score
    #: that was not: a day may count in both (a score before the meal, one after).
    exposed_days: int
    unexposed_days: int
    tested: bool
    effect: float | None = None
    interval: tuple[float, float] | None = None
    p_value: float | None = None
    q_value: float | None = None
    detectable_effect: float | None = None
    suspect: bool = False
    label: str = ""
    reason: str = ""
    adjusted_for: int = 0

    def to_json(self) -> dict[str, Any]:
        """Return the record written to ``suspects.json``."""
        record = dataclasses.asdict(self)
        record["window_hours"] = list(self.window_hours)
        record["interval"] = list(self.interval) if self.interval is not None else None
        return record


@dataclasses.dataclass(frozen=True)
class SuspectReport:
    """Every test, and the gauge of whether the diary is long enough."""

    tests: list[SuspectTest]
    days_logged: int
    options: SuspectOptions

    @property
    def suspects(self) -> list[SuspectTest]:
        """The tests that pass the false-discovery-rate control, largest effect first."""
        found = [t for t in self.tests if t.suspect]
        return sorted(found, key=lambda t: -(t.effect or 0.0))

    def gauge(self) -> dict[str, Any]:
        """Return whether the diary can say anything, in numbers and in words."""
        tested = [t for t in self.tests if t.tested]
        detectable = [t.detectable_effect for t in tested if t.detectable_effect is not None]
        typical = float(np.median(detectable)) if detectable else None
        if not tested:
            words = (f"Not enough days yet: no food was eaten on at least "
                     f"{self.options.min_exposed_days} days and skipped on at least "
                     f"{self.options.min_unexposed_days} of the {self.days_logged} day(s) "
                     "with symptom scores.")
        else:
            words = (f"{self.days_logged} day(s) with symptom scores; {len(tested)} of "
                     f"{len(self.tests)} food × symptom × window combinations have enough days. "
                     f"Typically a worsening smaller than about {typical:.1f} points would "
                     "go unnoticed.")
        return {"days_logged": self.days_logged, "tests_possible": len(tested),
                "tests_in_all": len(self.tests), "typical_detectable_effect": typical,
                "enough_days": bool(tested), "summary": words}

    def to_json(self) -> dict[str, Any]:
        """Return ``suspects.json``."""
        return {"method": "AR(1) regression on lagged exposure, adjusted for the first round's "
                          "suspects; Benjamini-Hochberg FDR",
                "fdr": self.options.fdr, "interval_level": self.options.level,
                "windows_hours": [list(w) for w in self.options.windows],
                "label": SUSPECT_LABEL, "gauge": self.gauge(),
                "suspects": [t.to_json() for t in self.suspects],
                "tests": [t.to_json() for t in self.tests]}


def _days_of(times: Iterable[dt.datetime], origin: dt.datetime) -> np.ndarray:
    return np.array([(t - origin).total_seconds() / 86400.0 for t in times])


_Fit = tuple[float, tuple[float, float], float, float, int]


def _fit_exposure(series: tuple[np.ndarray, np.ndarray, np.ndarray], exposure: np.ndarray,
                  others: list[np.ndarray], options: SuspectOptions) -> _Fit | str:
    """Fit one exposure step (after ``others``); return its summary or why it failed."""
    times, scores, base = series
    adjusters = [c for c in others if not np.array_equal(c, exposure)]
    design = np.column_stack([base, *adjusters, exposure]) if adjusters else \
        np.column_stack([base, exposure])
    while adjusters and np.linalg.matrix_rank(design) < design.shape[1]:
        adjusters.pop()  # an adjuster collinear with the rest: leave it out
        design = np.column_stack([base, *adjusters, exposure])
    try:
        posterior = ar1_posterior(times, scores, design)
    except ValueError as exc:
        return str(exc)
    return _summary(posterior, design.shape[1], len(adjusters), options)


def _fit_many(series: tuple[np.ndarray, np.ndarray, np.ndarray],
              exposure_of: dict[int, np.ndarray], members: list[int],
              adjusters: tuple[int, ...], options: SuspectOptions) -> dict[int, _Fit | str]:
    """Fit the tests ``members`` of one series with the same adjusters, in one batch.

    Falls back to one fit per test (which drops collinear adjusters) when the
    batch cannot be fitted as a whole.
    """
    if not members:
        return {}
    times, scores, base = series
    columns = [exposure_of[j] for j in adjusters]
    full = np.column_stack([base, *columns]) if columns else base
    try:
        posteriors = ar1_posteriors(times, scores, full,
                                    np.column_stack([exposure_of[i] for i in members]))
    except ValueError:
        return {i: _fit_exposure(series, exposure_of[i], columns, options) for i in members}
    return {i: _summary(post, full.shape[1] + 1, len(columns), options)
            for i, post in zip(members, posteriors, strict=True)}


def _summary(posterior: Any, width: int, adjusted: int, options: SuspectOptions) -> _Fit:
    """Summarise the last coefficient of a fitted design ``width`` columns wide."""
    weights = np.zeros(width)
    weights[-1] = 1.0
    post = posterior.contrast(weights)
    low_q, high_q = post.interval(options.level)
    spread = (high_q - low_q) / (2.0 * stats.norm.ppf(0.5 + options.level / 2))
    detectable = float((stats.norm.ppf(0.95) + stats.norm.ppf(0.80)) * spread)
    p_value = min(max(post.cdf(0.0), 0.0), 1.0)
    return post.mean, (low_q, high_q), p_value, detectable, adjusted


def _q_values(fits: dict[int, _Fit]) -> dict[int, float]:
    keys = sorted(fits)
    if not keys:
        return {}
    q = bh_adjust(np.array([fits[k][2] for k in keys], dtype=float))
    return {k: float(v) for k, v in zip(keys, q, strict=True)}


def _benjamini_hochberg(fits: dict[int, _Fit], fdr: float) -> set[int]:
    return {k for k, q in _q_values(fits).items() if q <= fdr}


def diary_suspects(diary: Diary, options: SuspectOptions | None = None,
                   groups_of: Callable[[str], set[str]] | None = None) -> SuspectReport:
    """Find candidate triggers in a diary, with false-discovery-rate control.

    Parameters
    ----------
    diary : Diary
    options : SuspectOptions, optional
    groups_of : callable, optional
        Maps a food row's item to the names it is tested under (a food's
        elimination groups, say); by default the item itself.

    Returns
    -------
    SuspectReport

    Raises
    ------
    ValidationError
        No symptom scores, no food rows, or a symptom asked for that is never
        scored.

    Examples
    --------
    >>> import numpy as np
    >>> from gutaxis.challenge.simulate import simulate_free_diary
    >>> sim = simulate_free_diary(np.random.default_rng(3), {"onion": 3.0})
    >>> report = diary_suspects(sim.diary)
    >>> [(t.food, t.window_hours) for t in report.suspects][:1]
    [('onion', (4.0, 24.0))]
    """
    check_type(diary, Diary, "diary", hint="read it with read_diary or diary_from_rows")
    options = check_type(options or SuspectOptions(), SuspectOptions, "options")
    if groups_of is not None and not callable(groups_of):
        raise ValidationError(f"groups_of must map a diary item to a set of names; got "
                              f"{type(groups_of).__name__}")
    groups_of = groups_of or (lambda item: {item})
    names = diary.symptom_names
    if not names:
        raise ValidationError(f"{diary.source}: no symptom scores (kind 'symptom'); suspects "
                              "need symptoms scored over several weeks")
    foods = diary.foods()
    if foods.empty:
        raise ValidationError(f"{diary.source}: no food rows (kind 'food')")
    symptoms = list(options.symptoms) if options.symptoms else names
    unknown = [s for s in symptoms if s not in names]
    if unknown:
        raise ValidationError(f"{diary.source}: symptom(s) {', '.join(map(repr, unknown))} never "
                              f"scored; the diary scores {', '.join(map(repr, names))}")
    origin = diary.entries["time"].min().to_pydatetime()
    eaten: dict[str, list[float]] = {}
    for when, item in zip(_days_of(foods["time"], origin), foods["item"], strict=True):
        for name in groups_of(str(item)):
            eaten.setdefault(name, []).append(float(when))
    eaten_sorted = {k: np.sort(np.array(v)) for k, v in sorted(eaten.items())}
    all_scores = diary.symptoms()
    days_logged = int(all_scores["time"].dt.date.nunique())
    tests: list[SuspectTest] = []
    series_of: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    exposure_of: dict[int, np.ndarray] = {}
    for symptom in symptoms:
        rows = all_scores[all_scores["item"] == symptom]
        series = rows.groupby("time")["score"].mean()
        times = _days_of(series.index, origin)
        scores = series.to_numpy(dtype=float)
        centre, scale = float(times.mean()), float(max(np.ptp(times), 1.0))
        series_of[symptom] = (times, scores, np.column_stack([np.ones(len(times)),
                                                             (times - centre) / scale]))
        calendar = np.array([t.date() for t in series.index])
        for food, eaten_at in eaten_sorted.items():
            for low, high in options.windows:
                upper = np.searchsorted(eaten_at, times - low / 24.0, side="right")
                lower = np.searchsorted(eaten_at, times - high / 24.0, side="right")
                exposed = (upper - lower) > 0
                exposed_days = len(set(calendar[exposed]))
                unexposed_days = len(set(calendar[~exposed]))
                test = SuspectTest(food, symptom, (low, high), exposed_days, unexposed_days,
                                   tested=False)
                if (exposed_days < options.min_exposed_days
                        or unexposed_days < options.min_unexposed_days):
                    test = dataclasses.replace(test, reason=(
                        f"{exposed_days} day(s) with and {unexposed_days} without; at least "
                        f"{options.min_exposed_days} and {options.min_unexposed_days} are "
                        "needed"))
                else:
                    exposure_of[len(tests)] = exposed.astype(float)
                tests.append(test)
    # round 1: each exposure alone; round 2: each adjusted for the other suspects of round 1
    # (an unmodelled trigger would otherwise leave structure in the errors that makes
    # innocent foods look guilty)
    # (the tests sharing a symptom and adjusters are fitted together: one factorisation)
    first: dict[int, _Fit | str] = {}
    for symptom in symptoms:
        first.update(_fit_many(series_of[symptom], exposure_of,
                               [i for i in exposure_of if tests[i].symptom == symptom], (),
                               options))
    found = _benjamini_hochberg({i: r for i, r in first.items() if not isinstance(r, str)},
                                options.fdr)
    final = first
    if found:
        final = {}
        batches: dict[tuple[str, tuple[int, ...]], list[int]] = {}
        for i in exposure_of:
            others = tuple(j for j in sorted(found) if j != i
                           and tests[j].symptom == tests[i].symptom
                           and not np.array_equal(exposure_of[j], exposure_of[i]))
            batches.setdefault((tests[i].symptom, others), []).append(i)
        for (symptom, others), members in batches.items():
            final.update(_fit_many(series_of[symptom], exposure_of, members, others, options))
    fitted = {i: r for i, r in final.items() if not isinstance(r, str)}
    suspects = _benjamini_hochberg(fitted, options.fdr)
    q_values = _q_values(fitted)
    for i, result in final.items():
        if isinstance(result, str):
            tests[i] = dataclasses.replace(tests[i], reason=f"cannot be fitted ({result})")
            continue
        effect, interval, p_value, detectable, adjusted = result
        tests[i] = dataclasses.replace(
            tests[i], tested=True, effect=effect, interval=interval, p_value=p_value,
            detectable_effect=detectable, q_value=q_values[i], suspect=i in suspects,
            label=SUSPECT_LABEL if i in suspects else "", adjusted_for=adjusted)
    return SuspectReport(tests, days_logged, options)
