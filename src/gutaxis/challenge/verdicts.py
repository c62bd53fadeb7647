"""Per-challenge verdicts: did this food make this symptom worse, beyond what counts.

For each primary symptom the daily scores are modelled as the patient's own
level, a linear drift, one step per challenge (the days the food was eaten),
one carry-over step per challenge (the days just after it, so that a
lingering reaction does not inflate the level the next challenge is judged
against) and AR(1) errors (:mod:`gutaxis.challenge._ar1`, the one-day
correlation integrated out).  A challenge's effect is its step; against
sham challenges (blinded placebo capsules) it is its step minus the mean
step of the shams, so that a nocebo response, which the shams share, cancels.

The effect is judged against the knowledge base's meaningful worsening
(``challenge.yaml``: 30 % of the own level, Salerno criteria):

- **likely trigger** when the posterior probability that the effect exceeds
  the threshold is at least ``decision`` (0.95 by default; then the 90 %
  interval lies above the threshold);
- **likely tolerated** when that probability is at most ``1 - decision``
  (the 90 % interval lies below it);
- **inconclusive** otherwise: repeat the challenge.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gutaxis.challenge import DEFAULT_CARRYOVER_DAYS
from gutaxis.challenge._ar1 import Ar1Posterior, ar1_posterior
from gutaxis.challenge.diary import Challenge, Diary
from gutaxis.checks import check_type
from gutaxis.exceptions import ValidationError
from gutaxis.knowledge import ChallengeKnowledge, load_challenge_knowledge

__all__ = ["VerdictOptions", "Verdict", "challenge_verdicts", "LIKELY_TRIGGER",
           "LIKELY_TOLERATED", "INCONCLUSIVE"]

#: The top of the symptom scale.
SCALE_TOP = 10.0
LIKELY_TRIGGER = "likely trigger"
LIKELY_TOLERATED = "likely tolerated"
INCONCLUSIVE = "inconclusive"


@dataclasses.dataclass(frozen=True)
class VerdictOptions:
    """How verdicts are reached.

    Attributes
    ----------
    level : float
        The probability held by the reported interval (0.90).
    decision : float
        The posterior probability of exceeding (or of staying below) the
        threshold needed for a verdict; 0.95 makes the verdicts agree with the
        90 % interval lying wholly above (below) the threshold.
    carryover_days : int
        Days after a challenge modelled as carry-over (3).
    min_baseline_days : int
        Scored days outside challenges and carry-over needed to know the own
        level (5).
    symptoms : tuple of str, optional
        The primary symptoms; by default every symptom in the diary.
    knowledge : ChallengeKnowledge, optional
        Defaults to the bundled ``challenge.yaml``.
    """

    level: float = 0.90
    decision: float = 0.95
    carryover_days: int = DEFAULT_CARRYOVER_DAYS
    min_baseline_days: int = 5
    symptoms: tuple[str, ...] | None = None
    knowledge: ChallengeKnowledge | None = None

    def __post_init__(self) -> None:
        """Check the probabilities and the day counts."""
        if not 0.5 <= self.level < 1:
            raise ValidationError(f"level must be in [0.5, 1); got {self.level}")
        if not 0.5 < self.decision < 1:
            raise ValidationError(f"decision must be in (0.5, 1); got {self.decision}")
        if self.carryover_days < 0 or self.min_baseline_days < 2:
            raise ValidationError("carryover_days must be >= 0 and min_baseline_days >= 2")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The verdict on one challenge (or on the repeats of one, pooled) for one symptom.

    Attributes
    ----------
    food_group, symptom : str
    challenge : str
        ``"1"``, ``"2"``… (the repeat of this food group, in time order) or
        ``"pooled"`` (all repeats together).
    start, end : datetime.date
    portions : tuple of str
    compared_with : str
        ``"sham"`` or ``"baseline"`` (open challenge: a nocebo response is not
        told apart from an effect).
    effect : float or None
        Posterior mean change of the symptom (points on 0–10), None when it
        could not be estimated (``note`` says why).
    interval : tuple of float or None
        The central ``level`` posterior interval.
    level : float
    threshold : float or None
        The meaningful worsening in points for this patient.
    own_level : float or None
        The modelled score without the food (under sham when compared with sham).
    p_above_threshold : float or None
    verdict : str
    largest_portion_tolerated : str or None
    scored_days : int
        Days of the challenge with a score of this symptom.
    sham_response : dict or None
        The shams' own change against baseline (``effect``, ``interval``).
    rho : float or None
        Posterior mean day-to-day correlation of the symptom.
    note : str
    """

    food_group: str
    symptom: str
    challenge: str
    start: dt.date
    end: dt.date
    portions: tuple[str, ...]
    compared_with: str
    effect: float | None
    interval: tuple[float, float] | None
    level: float
    threshold: float | None
    own_level: float | None
    p_above_threshold: float | None
    verdict: str
    largest_portion_tolerated: str | None
    scored_days: int
    sham_response: dict[str, Any] | None
    rho: float | None
    note: str

    def to_json(self) -> dict[str, Any]:
        """Return the ``verdicts.json`` record (dates as ISO text)."""
        record = dataclasses.asdict(self)
        record["start"] = self.start.isoformat()
        record["end"] = self.end.isoformat()
        record["portions"] = list(self.portions)
        record["interval"] = list(self.interval) if self.interval is not None else None
        return record


@dataclasses.dataclass
class _Design:
    """The daily design of one symptom: columns, and which challenge owns which."""

    days: np.ndarray
    scores: np.ndarray
    matrix: np.ndarray
    names: list[str]
    window_column: dict[int, int]
    scored: dict[int, int]
    baseline_days: int
    trend_centre: float
    trend_scale: float


def _daily_scores(diary: Diary, symptom: str, origin: dt.date) -> tuple[np.ndarray, np.ndarray]:
    rows = diary.symptoms()
    rows = rows[rows["item"] == symptom]
    day = np.array([(t.date() - origin).days for t in rows["time"]], dtype=int)
    frame = rows.assign(day=day).groupby("day")["score"].mean()
    return frame.index.to_numpy(dtype=float), frame.to_numpy(dtype=float)


def _windows(challenge: Challenge, origin: dt.date) -> tuple[int, int]:
    return (challenge.start - origin).days, (challenge.end - origin).days


def _build_design(days: np.ndarray, scores: np.ndarray, challenges: Sequence[Challenge],
                  origin: dt.date, carryover_days: int,
                  split: int | None = None) -> _Design:
    """Build the design matrix: own level, drift, challenge steps and carry-over steps.

    With ``split`` the challenge of that index gets one column per step.
    """
    in_window = np.zeros(len(days), dtype=bool)
    spans = [_windows(c, origin) for c in challenges]
    for lo, hi in spans:
        in_window |= (days >= lo) & (days <= hi)
    centre = float(days.mean())
    scale = float(max(days.max() - days.min(), 1.0))
    columns = [np.ones(len(days)), (days - centre) / scale]
    names = ["level", "drift"]
    window_column: dict[int, int] = {}
    scored: dict[int, int] = {}
    in_carry = np.zeros(len(days), dtype=bool)
    for k, (challenge, (lo, hi)) in enumerate(zip(challenges, spans, strict=True)):
        window = (days >= lo) & (days <= hi)
        scored[k] = int(window.sum())
        if not window.any():
            continue
        if split == k and len(challenge.steps) > 1:
            for s, step in enumerate(challenge.steps):
                a, b = (step.start - origin).days, (step.end - origin).days
                step_days = (days >= a) & (days <= b)
                if step_days.any():
                    columns.append(step_days.astype(float))
                    names.append(f"step:{k}:{s}")
        else:
            window_column[k] = len(columns)
            columns.append(window.astype(float))
            names.append(f"challenge:{k}")
        carry = (days > hi) & (days <= hi + carryover_days) & ~in_window
        in_carry |= carry
        if carry.any():
            columns.append(carry.astype(float))
            names.append(f"carry:{k}")
    baseline = int((~in_window & ~in_carry).sum())
    return _Design(days, scores, np.column_stack(columns), names, window_column, scored,
                   baseline, centre, scale)


def _fit(design: _Design) -> Ar1Posterior:
    return ar1_posterior(design.days, design.scores, design.matrix)


def _unit(design: _Design, name: str) -> np.ndarray:
    vector = np.zeros(design.matrix.shape[1])
    vector[design.names.index(name)] = 1.0
    return vector


def _level_weights(design: _Design, day: float) -> np.ndarray:
    vector = _unit(design, "level")
    vector[design.names.index("drift")] = (day - design.trend_centre) / design.trend_scale
    return vector


def _judge(p_above: float, decision: float) -> str:
    if p_above >= decision:
        return LIKELY_TRIGGER
    if p_above <= 1.0 - decision:
        return LIKELY_TOLERATED
    return INCONCLUSIVE


def _sham_indices(challenges: Sequence[Challenge], group: str, usable: set[int]) -> list[int]:
    shams = [k for k, c in enumerate(challenges) if c.sham and k in usable]
    matching = [k for k in shams if challenges[k].food_group == group]
    return matching or shams


def _empty(challenge: Challenge | Sequence[Challenge], symptom: str, label: str,
           compared: str, scored: int, level: float, note: str) -> Verdict:
    group = challenge if isinstance(challenge, Challenge) else challenge[0]
    last = challenge if isinstance(challenge, Challenge) else challenge[-1]
    steps = (group.steps if isinstance(challenge, Challenge)
             else tuple(s for c in challenge for s in c.steps))
    return Verdict(group.food_group, symptom, label, group.start, last.end,
                   tuple(s.portion for s in steps), compared, None, None, level, None, None,
                   None, INCONCLUSIVE, None, scored, None, None, note)


def _largest_tolerated(days: np.ndarray, scores: np.ndarray, challenges: Sequence[Challenge],
                       k: int, shams: list[int], origin: dt.date, options: VerdictOptions,
                       threshold: float) -> str | None:
    """Return the largest portion of a leading run of steps each judged likely tolerated."""
    challenge = challenges[k]
    design = _build_design(days, scores, challenges, origin, options.carryover_days, split=k)
    try:
        posterior = _fit(design)
    except ValueError:
        return None
    sham_vector = np.zeros(design.matrix.shape[1])
    for j in shams:
        sham_vector += _unit(design, f"challenge:{j}") / len(shams)
    largest = None
    for s, step in enumerate(challenge.steps):
        name = f"step:{k}:{s}"
        if name not in design.names:
            break
        post = posterior.contrast(_unit(design, name) - sham_vector)
        if post.prob_above(threshold) > 1.0 - options.decision:
            break
        largest = step.portion or f"step {s + 1}"
    return largest


def _symptom_verdicts(diary: Diary, challenges: Sequence[Challenge], symptom: str,
                      origin: dt.date, options: VerdictOptions,
                      knowledge: ChallengeKnowledge) -> list[Verdict]:
    days, scores = _daily_scores(diary, symptom, origin)
    design = _build_design(days, scores, challenges, origin, options.carryover_days)
    foods = [k for k, c in enumerate(challenges) if not c.sham]
    repeat_number: dict[int, str] = {}
    for k in foods:
        repeat_number[k] = str(1 + sum(1 for j in foods if j < k
                                       and challenges[j].food_group == challenges[k].food_group))
    any_sham = any(c.sham for c in challenges)
    default_compared = "sham" if any_sham else "baseline"
    lack = None
    if design.baseline_days < options.min_baseline_days:
        lack = (f"only {design.baseline_days} day(s) with a {symptom!r} score outside the "
                f"challenges and the {options.carryover_days} day(s) after each; at least "
                f"{options.min_baseline_days} are needed to know the own level")
    posterior = None
    if lack is None:
        try:
            posterior = _fit(design)
        except ValueError as exc:
            lack = f"the model cannot be fitted to these scores ({exc})"
    verdicts: list[Verdict] = []
    if posterior is None:
        for k in foods:
            verdicts.append(_empty(challenges[k], symptom, repeat_number[k], default_compared,
                                   design.scored[k], options.level, lack or ""))
        return verdicts
    usable = set(design.window_column)
    rho = posterior.rho
    worsening = knowledge.meaningful_worsening

    def judge(members: list[int], label: str) -> Verdict:
        group = challenges[members[0]].food_group
        shams = _sham_indices(challenges, group, usable)
        compared = "sham" if shams else "baseline"
        missing = [k for k in members if k not in usable]
        scored = sum(design.scored[k] for k in members)
        if missing:
            return _empty([challenges[k] for k in members] if len(members) > 1
                          else challenges[members[0]], symptom, label, compared, scored,
                          options.level, f"no {symptom!r} score on the challenge day(s) of "
                                         f"{', '.join(challenges[k].describe() for k in missing)}")
        weights = np.sum([_unit(design, f"challenge:{k}") for k in members], axis=0) / len(members)
        mid = float(np.mean([np.mean(_windows(challenges[k], origin)) for k in members]))
        level_vector = _level_weights(design, mid)
        sham_response = None
        if shams:
            sham_vector = (np.sum([_unit(design, f"challenge:{j}") for j in shams], axis=0)
                           / len(shams))
            weights = weights - sham_vector
            level_vector = level_vector + sham_vector
            sham_post = posterior.contrast(sham_vector)
            sham_response = {"effect": sham_post.mean,
                             "interval": list(sham_post.interval(options.level)),
                             "shams": len(shams)}
        own_level = posterior.contrast(level_vector).mean
        threshold = worsening.threshold(own_level)
        post = posterior.contrast(weights)
        p_above = post.prob_above(threshold)
        verdict = _judge(p_above, options.decision)
        largest = None
        if len(members) == 1:
            k = members[0]
            if len(challenges[k].steps) > 1:
                largest = _largest_tolerated(days, scores, challenges, k, shams, origin,
                                             options, threshold)
            elif verdict == LIKELY_TOLERATED:
                largest = challenges[k].steps[0].portion or "the portion eaten"
        note = ("" if shams else "open challenge: a nocebo response (worse because the food "
                "is expected to harm) is not told apart from an effect; a blinded challenge "
                "against sham is")
        if own_level + threshold > SCALE_TOP:
            # the scale ends before the worsening that counts could show
            verdict, largest = INCONCLUSIVE, None
            note = (f"a worsening of {threshold:.1f} points cannot show above the own level of "
                    f"{own_level:.1f} on a 0–10 scale")
        steps = tuple(s for k in members for s in challenges[k].steps)
        return Verdict(group, symptom, label, challenges[members[0]].start,
                       challenges[members[-1]].end, tuple(s.portion for s in steps), compared,
                       post.mean, post.interval(options.level), options.level, threshold,
                       own_level, p_above, verdict, largest, scored, sham_response, rho, note)

    for k in foods:
        verdicts.append(judge([k], repeat_number[k]))
    groups = dict.fromkeys(challenges[k].food_group for k in foods)
    for group in groups:
        members = [k for k in foods if challenges[k].food_group == group]
        scored_members = [k for k in members if k in usable]
        if len(scored_members) > 1:  # the repeats that were scored, pooled
            verdicts.append(judge(scored_members, "pooled"))
    return verdicts


def challenge_verdicts(diary: Diary, challenges: Sequence[Challenge],
                       options: VerdictOptions | None = None) -> list[Verdict]:
    """Judge every (non-sham) challenge for every primary symptom.

    Parameters
    ----------
    diary : Diary
        Needs symptom scores before, during and after the challenges.
    challenges : sequence of Challenge
        Sham challenges are the comparison, not judged themselves.
    options : VerdictOptions, optional

    Returns
    -------
    list of Verdict
        Per symptom, the challenges in time order, then a ``"pooled"`` verdict
        per food group challenged more than once.

    Raises
    ------
    ValidationError
        No symptom scores, a primary symptom that the diary never scores, or
        no food (non-sham) challenge.

    Examples
    --------
    Thirty days of a steady bloating score of about 3, worse by about 3
    points on the three days of a fructan challenge:

    >>> import datetime as dt, numpy as np
    >>> from gutaxis.challenge import ChallengeStep, Challenge, diary_from_rows
    >>> rng = np.random.default_rng(1)
    >>> first = dt.datetime(2026, 3, 1, 20)
    >>> rows = [(first + dt.timedelta(days=d), "symptom", "bloating",
    ...          round(3 + (3 if 20 <= d <= 22 else 0) + rng.normal(0, 0.7), 1))
    ...         for d in range(30)]
    >>> day = dt.date(2026, 3, 21)
    >>> challenge = Challenge("fructans", False, (ChallengeStep(day, day + dt.timedelta(2),
    ...                                                          "usual"),))
    >>> [verdict] = challenge_verdicts(diary_from_rows(rows), [challenge])
    >>> verdict.verdict, verdict.compared_with, round(verdict.threshold, 1)
    ('likely trigger', 'baseline', 0.9)
    """
    check_type(diary, Diary, "diary", hint="read it with read_diary or diary_from_rows")
    challenges = list(challenges)
    for challenge in challenges:
        check_type(challenge, Challenge, "challenges[]", hint="read them with read_challenges")
    options = check_type(options or VerdictOptions(), VerdictOptions, "options")
    knowledge = options.knowledge or load_challenge_knowledge()
    challenges = sorted(challenges, key=lambda c: c.start)
    if not any(not c.sham for c in challenges):
        raise ValidationError(f"{diary.source}: no food challenge to judge (only sham ones)")
    names = diary.symptom_names
    if not names:
        raise ValidationError(f"{diary.source}: no symptom scores; a verdict needs the primary "
                              "symptoms scored (kind 'symptom', 0–10) before, during and after "
                              "the challenges")
    symptoms = list(options.symptoms) if options.symptoms else names
    unknown = [s for s in symptoms if s not in names]
    if unknown:
        raise ValidationError(f"{diary.source}: primary symptom(s) {', '.join(map(repr, unknown))} "
                              f"never scored; the diary scores {', '.join(map(repr, names))}")
    first_entry = diary.entries["time"].min().date()
    origin = min(first_entry, challenges[0].start)
    verdicts: list[Verdict] = []
    for symptom in symptoms:
        verdicts.extend(_symptom_verdicts(diary, challenges, symptom, origin, options, knowledge))
    for verdict in verdicts:
        for value in (verdict.effect, verdict.p_above_threshold):
            if value is not None and not math.isfinite(value):  # pragma: no cover - guard
                raise ValidationError(f"{diary.source}: the model gave a non-finite estimate")
    return verdicts
