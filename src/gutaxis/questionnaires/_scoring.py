"""Answers checked against a questionnaire, scored, and two scores compared against the MID."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gutaxis.checks import check_type
from gutaxis.exceptions import InputError, ValidationError, suggest
from gutaxis.questionnaires._model import Item, MinimalImportantDifference, Questionnaire

__all__ = ["Scores", "ScoreChange", "check_answers", "score", "compare"]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_answers(questionnaire: Questionnaire, answers: Any) -> dict[str, Any]:
    """Check answers against the questionnaire; return them with choice answers as their codes.

    Parameters
    ----------
    questionnaire : Questionnaire
    answers : mapping of linkId to value
        ``None`` (or a missing linkId) is an unanswered item.  A choice item
        takes its option's code (or a coding ``{"code": …}``); an integer item
        an ``int``; a decimal item a number; a boolean item ``True`` or
        ``False``; a string or text item a ``str``.

    Returns
    -------
    dict of str to value
        The answered items only.

    Raises
    ------
    InputError
        ``questionnaire`` is not a Questionnaire, or ``answers`` not a mapping.
    ValidationError
        An answer to an item the questionnaire does not have (close linkIds are
        suggested), to a group or display item, or of the wrong kind or out of
        the item's range; the message names the linkId.
    """
    check_type(questionnaire, Questionnaire, "questionnaire",
               hint="read one with load_questionnaire or bundled_questionnaires")
    if not isinstance(answers, Mapping):
        raise InputError(f"answers must be a mapping of linkId to answer; got "
                         f"{type(answers).__name__}")
    items = {i.link_id: i for i in questionnaire.walk()}
    checked: dict[str, Any] = {}
    for link_id, value in answers.items():
        item = items.get(link_id) if isinstance(link_id, str) else None
        if item is None:
            close = suggest(str(link_id), items)
            raise ValidationError(
                f"answers: {_shown(link_id)} is not an item of {questionnaire.name}"
                + (f"; did you mean {close[0]!r}?" if close else "")
                + f" (items: {', '.join(items)})")
        if value is None:
            continue
        checked[link_id] = _check_value(item, value)
    return checked


def _check_value(item: Item, value: Any) -> Any:
    where = f"answers[{item.link_id!r}]"
    if item.type in ("group", "display"):
        raise ValidationError(f"{where}: a {item.type} item takes no answer; got {_shown(value)}")
    if item.type == "choice":
        code = value.get("code") if isinstance(value, Mapping) else value
        if not isinstance(code, str) or item.option(code) is None:
            codes = ", ".join(o.code for o in item.options)
            raise ValidationError(f"{where}: expected one of the codes {codes}; got "
                                  f"{_shown(value)}")
        return code
    if item.type == "boolean":
        if not isinstance(value, bool):
            raise ValidationError(f"{where}: expected true or false; got {_shown(value)}")
        return value
    if item.type in ("string", "text"):
        if not isinstance(value, str):
            raise ValidationError(f"{where}: expected a text; got {_shown(value)}")
        return value
    # integer or decimal
    whole = item.type == "integer"
    ok = (not isinstance(value, bool) and isinstance(value, int | float)
          and math.isfinite(value) and (not whole or float(value).is_integer()))
    low, high = item.min_value, item.max_value
    if ok and ((low is not None and value < low) or (high is not None and value > high)):
        ok = False
    if not ok:
        kind = "an integer" if whole else "a number"
        bounds = (f" from {low:g} to {high:g}" if low is not None and high is not None
                  else f" of at least {low:g}" if low is not None
                  else f" of at most {high:g}" if high is not None else "")
        raise ValidationError(f"{where}: expected {kind}{bounds}; got {_shown(value)}")
    return int(value) if whole else float(value)


def _item_score(item: Item, value: Any) -> float:
    if item.type == "choice":
        option = item.option(value)
        assert option is not None and option.score is not None  # checked when read
        return option.score
    if item.type == "boolean":
        return 1.0 if value else 0.0
    return float(value)


@dataclass(frozen=True)
class Scores:
    """The scores of one set of answers.

    Attributes
    ----------
    questionnaire : str
        ``url|version`` of the questionnaire scored.
    total : float or None
        The whole score; ``None`` when too few items were answered.
    subscales : dict of str to float or None
        Each subscale's score, by name, in the definition's order.
    answered, scored_items : int
        How many scored items were answered, of how many.
    prorated : tuple of str
        The scores (``"total"``, subscale names) computed from part of their
        items (see :func:`score`).
    missing : tuple of str
        The scored items left unanswered.
    """

    questionnaire: str
    total: float | None
    subscales: dict[str, float | None]
    answered: int
    scored_items: int
    prorated: tuple[str, ...]
    missing: tuple[str, ...]

    def get(self, name: str) -> float | None:
        """Return the score called ``name`` (``"total"`` or a subscale's name).

        Raises
        ------
        ValidationError
            No score of that name.
        """
        if name == "total":
            return self.total
        if name not in self.subscales:
            raise ValidationError(f"no score named {name!r}; the scores are: "
                                  f"{', '.join(['total', *self.subscales])}")
        return self.subscales[name]


def _combine(values: list[float], size: int, method: str, share: float) -> tuple[float | None,
                                                                                  bool]:
    """Score ``values`` answered out of ``size`` items: (score or None, prorated?)."""
    if not values or len(values) < share * size - 1e-9:
        return None, False
    mean = sum(values) / len(values)
    if len(values) == size:
        return (sum(values) if method == "sum" else mean), False
    return (mean * size if method == "sum" else mean), True


def score(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> Scores:
    """Score a set of answers by the questionnaire's own rules.

    Each scored item gives its answer option's ``ordinalValue`` (choice), its
    number (integer, decimal) or 1/0 (boolean, true/false).  The total and each
    subscale are the sum or the mean of their items' scores (the definition's
    ``method``).

    Missing answers: when every item of a score is answered, the score is the
    plain sum or mean.  When some are missing but at least the definition's
    ``minimumAnswered`` share of them is answered (80 % unless the definition
    says otherwise), the score is *prorated*: the mean of the answered items
    (``mean``), or that mean times the number of items (``sum``), and the
    score's name is listed in :attr:`Scores.prorated`.  Below that share the
    score is ``None``.  The rule is applied to the total and to each subscale
    separately.

    Parameters
    ----------
    questionnaire : Questionnaire
        A definition with scoring rules.
    answers : mapping of linkId to value
        As :func:`check_answers` takes them.

    Returns
    -------
    Scores

    Raises
    ------
    InputError
        Wrong argument types.
    ValidationError
        The questionnaire has no scoring rules, or an answer is not valid for
        its item (see :func:`check_answers`).

    Examples
    --------
    >>> from gutaxis.questionnaires import bundled_questionnaires
    >>> check_in = bundled_questionnaires()["GutSymptomCheckIn"]
    >>> result = score(check_in, {"bloating": 6, "abdominal_pain": 4, "wind": 5,
    ...                           "urgency": 2, "fatigue": 7, "gut_overall": 6})
    >>> result.total, result.subscales["belly"]
    (30.0, 15.0)
    """
    checked = check_answers(questionnaire, answers)
    scoring = questionnaire.scoring
    if scoring is None:
        raise ValidationError(f"questionnaire {questionnaire.name} has no scoring rules; it can "
                              "be answered but not scored")
    items = {i.link_id: i for i in questionnaire.walk()}
    item_scores = {link_id: _item_score(items[link_id], checked[link_id])
                   for link_id in scoring.link_ids if link_id in checked}
    prorated: list[str] = []

    def part(link_ids: tuple[str, ...], name: str) -> float | None:
        values = [item_scores[i] for i in link_ids if i in item_scores]
        value, partial = _combine(values, len(link_ids), scoring.method,
                                  scoring.minimum_answered)
        if partial:
            prorated.append(name)
        return value

    total = part(scoring.link_ids, "total")
    subscales = {s.name: part(s.link_ids, s.name) for s in scoring.subscales}
    return Scores(questionnaire=questionnaire.canonical, total=total, subscales=subscales,
                  answered=len(item_scores), scored_items=len(scoring.link_ids),
                  prorated=tuple(prorated),
                  missing=tuple(i for i in scoring.link_ids if i not in item_scores))


@dataclass(frozen=True)
class ScoreChange:
    """How one score moved between two sets of answers.

    Attributes
    ----------
    name : str
        ``"total"`` or a subscale's name.
    previous, current : float or None
    change : float or None
        ``current - previous``; ``None`` when either is missing.
    mid : MinimalImportantDifference or None
        The published minimal important difference used, if any.
    beyond_mid : bool or None
        Whether the change reaches the MID (``abs(change) >= mid``); ``None``
        when there is no MID or no change to judge.
    direction : str or None
        ``"better"``, ``"worse"`` or ``"no change"`` on an ordered scale;
        ``"higher"``, ``"lower"`` or ``"no change"`` on an unordered one
        (the Bristol scale); ``None`` without a change.
    note : str
        Why ``beyond_mid`` is ``None``, in words ("" otherwise).
    """

    name: str
    previous: float | None
    current: float | None
    change: float | None
    mid: MinimalImportantDifference | None
    beyond_mid: bool | None
    direction: str | None
    note: str


def compare(previous: Scores, current: Scores,
            questionnaire: Questionnaire) -> dict[str, ScoreChange]:
    """Compare two scorings of the same questionnaire, score by score, against the MID.

    A change is *beyond the minimal important difference* when its size is at
    least the published MID (``abs(change) >= mid``).  Where the questionnaire
    gives no MID for a score (``midNote``), ``beyond_mid`` is ``None`` and the
    note says why: the size of the change is reported, never judged against a
    threshold that was not published.

    Parameters
    ----------
    previous, current : Scores
        From :func:`score`, in time order.
    questionnaire : Questionnaire
        The definition both were scored with.

    Returns
    -------
    dict of str to ScoreChange
        ``"total"`` first, then the subscales.

    Raises
    ------
    InputError
        Wrong argument types.
    ValidationError
        The scores come from another questionnaire (or version) than the one
        given, or it has no scoring rules.

    Examples
    --------
    >>> from gutaxis.questionnaires import bundled_questionnaires
    >>> check_in = bundled_questionnaires()["GutSymptomCheckIn"]
    >>> before = score(check_in, dict.fromkeys(["bloating", "abdominal_pain", "wind",
    ...                                         "urgency", "fatigue", "gut_overall"], 6))
    >>> after = score(check_in, dict.fromkeys(["bloating", "abdominal_pain", "wind",
    ...                                        "urgency", "fatigue", "gut_overall"], 3))
    >>> change = compare(before, after, check_in)["total"]
    >>> change.change, change.direction, change.beyond_mid
    (-18.0, 'better', None)
    """
    check_type(previous, Scores, "previous", hint="the result of score()")
    check_type(current, Scores, "current", hint="the result of score()")
    check_type(questionnaire, Questionnaire, "questionnaire")
    scoring = questionnaire.scoring
    if scoring is None:
        raise ValidationError(f"questionnaire {questionnaire.name} has no scoring rules")
    for label, scores in (("previous", previous), ("current", current)):
        if scores.questionnaire != questionnaire.canonical:
            raise ValidationError(f"{label} was scored with {scores.questionnaire}, not with "
                                  f"{questionnaire.canonical}; scores of different "
                                  "questionnaires or versions are not compared")
    mids: dict[str, MinimalImportantDifference | None] = {"total": scoring.mid}
    mids.update({s.name: s.mid for s in scoring.subscales})
    changes: dict[str, ScoreChange] = {}
    for name, mid in mids.items():
        before, after = previous.get(name), current.get(name)
        if before is None or after is None:
            changes[name] = ScoreChange(name, before, after, None, mid, None, None,
                                        "a score is missing (too few items answered)")
            continue
        delta = after - before
        if math.isclose(delta, 0.0, abs_tol=1e-12):
            direction = "no change"
        elif scoring.direction == "unordered":
            direction = "higher" if delta > 0 else "lower"
        else:
            worse = (delta > 0) == (scoring.direction == "higher-is-worse")
            direction = "worse" if worse else "better"
        if mid is None:
            note = (scoring.mid_note or "no minimal important difference is given") \
                if name == "total" else "no minimal important difference is given for it"
            changes[name] = ScoreChange(name, before, after, delta, None, None, direction, note)
        else:
            beyond = abs(delta) >= mid.value - 1e-12
            changes[name] = ScoreChange(name, before, after, delta, mid, beyond, direction, "")
    return changes
