"""The naive days-with-versus-days-without comparison that food-diary apps use.

Kept only to be measured beside the verdicts (``benchmarks/challenge_validation.py``):
it compares the mean symptom score on days with a food with the mean on
days without, as if days were independent, with no drift, no carry-over and
no sham.  Two common forms:

- **ratio**: flag the food when the mean with it is at least 30 % higher
  (the same relative threshold as the verdicts, so the two differ only in the
  statistics);
- **t-test**: flag it when a one-sided Welch t-test of the two sets of days
  gives p < 0.05.

Do not use it to decide anything: the validation shows why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import stats

from gutaxis.challenge.diary import Challenge, Diary

__all__ = ["NaiveResult", "days_with_versus_without", "naive_challenge_results",
           "naive_food_results"]


@dataclasses.dataclass(frozen=True)
class NaiveResult:
    """The naive comparison of days with and without a food."""

    mean_with: float
    mean_without: float
    days_with: int
    days_without: int
    ratio_flag: bool
    p_value: float

    @property
    def ttest_flag(self) -> bool:
        """Flagged by the one-sided Welch t-test at 0.05."""
        return self.p_value < 0.05


def days_with_versus_without(daily: dict[dt.date, float], days_with: Iterable[dt.date],
                             relative: float = 0.30) -> NaiveResult:
    """Compare the mean score on ``days_with`` with the mean on the other scored days.

    Examples
    --------
    >>> d = dt.date(2026, 1, 1)
    >>> daily = {d + dt.timedelta(i): s for i, s in enumerate([2, 2, 3, 2, 4, 5])}
    >>> r = days_with_versus_without(daily, [d + dt.timedelta(4), d + dt.timedelta(5)])
    >>> r.mean_with, r.mean_without, r.ratio_flag
    (4.5, 2.25, True)
    """
    chosen = set(days_with)
    with_scores = np.array([s for day, s in daily.items() if day in chosen], dtype=float)
    without = np.array([s for day, s in daily.items() if day not in chosen], dtype=float)
    if len(with_scores) == 0 or len(without) == 0:
        return NaiveResult(float("nan"), float("nan"), len(with_scores), len(without),
                           False, 1.0)
    mean_with, mean_without = float(with_scores.mean()), float(without.mean())
    flag = mean_with - mean_without >= relative * max(mean_without, 1.0)
    p_value = 1.0
    if len(with_scores) > 1 and len(without) > 1:
        with warnings.catch_warnings():  # identical scores: the test is undefined (p = 1)
            warnings.simplefilter("ignore", RuntimeWarning)
            test = stats.ttest_ind(with_scores, without, equal_var=False, alternative="greater")
        p_value = float(test.pvalue) if np.isfinite(test.pvalue) else 1.0
    return NaiveResult(mean_with, mean_without, len(with_scores), len(without), bool(flag),
                       p_value)


def _daily(diary: Diary, symptom: str) -> dict[dt.date, float]:
    rows = diary.symptoms()
    rows = rows[rows["item"] == symptom]
    means = rows.groupby(rows["time"].dt.date)["score"].mean()
    return {dt.date.fromisoformat(str(day)): float(score) for day, score in means.items()}


def naive_challenge_results(diary: Diary, challenges: Sequence[Challenge], symptom: str,
                            relative: float = 0.30) -> list[NaiveResult]:
    """Return the naive result of each challenge: its days against every other day."""
    daily = _daily(diary, symptom)
    results = []
    for challenge in challenges:
        days = [challenge.start + dt.timedelta(days=i) for i in range(challenge.days)]
        results.append(days_with_versus_without(daily, days, relative))
    return results


def naive_food_results(diary: Diary, symptom: str,
                       relative: float = 0.30) -> dict[str, NaiveResult]:
    """Return the naive result of each food item of the diary: days eaten against the rest."""
    daily = _daily(diary, symptom)
    foods = diary.foods()
    results = {}
    for item, rows in foods.groupby("item"):
        results[str(item)] = days_with_versus_without(daily, set(rows["time"].dt.date), relative)
    return results
