"""A patient's questionnaire scores over time, each change judged against the published MID.

:func:`score_series` gives one series per score (the total, then each
subscale) of each questionnaire version the patient answered; consecutive
responses are compared with :func:`gutaxis.questionnaires.compare`: a change
is beyond the minimal important difference when its size reaches the
published MID, and where none is published the change is given by its size
only, with :data:`NO_MID`.  :func:`scores_dict` and :func:`scores_from_dict`
write and read the scores a response keeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gutaxis.questionnaires import Questionnaire, ScoreChange, Scores, compare, load_questionnaire
from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.models import QuestionnaireRequest, QuestionnaireResponse
from gutaxis.service.services.patients import get_patient
from gutaxis.service.services.portal import local_time, patient_time_zone

__all__ = ["ScoreSeries", "score_series", "scores_dict", "scores_from_dict", "NO_MID"]

#: What is said where a score has no published minimal important difference.
NO_MID = "no published minimal important difference"


def scores_dict(scores: Scores | None) -> dict[str, Any]:
    """Write :class:`~gutaxis.questionnaires.Scores` as JSON-ready data ({} for none).

    Examples
    --------
    >>> from gutaxis.questionnaires import bundled_questionnaires, score
    >>> q = bundled_questionnaires()["BristolStoolForm"]
    >>> scores_dict(score(q, {"stool_type": "6"}))["total"]
    6.0
    """
    if scores is None:
        return {}
    return {"questionnaire": scores.questionnaire, "total": scores.total,
            "subscales": dict(scores.subscales), "answered": scores.answered,
            "scored_items": scores.scored_items, "prorated": list(scores.prorated),
            "missing": list(scores.missing)}


def scores_from_dict(data: Mapping[str, Any]) -> Scores | None:
    """Read scores written by :func:`scores_dict` (None for {})."""
    if not data:
        return None
    return Scores(questionnaire=str(data["questionnaire"]), total=data.get("total"),
                  subscales=dict(data.get("subscales") or {}),
                  answered=int(data.get("answered", 0)),
                  scored_items=int(data.get("scored_items", 0)),
                  prorated=tuple(data.get("prorated") or ()),
                  missing=tuple(data.get("missing") or ()))


@dataclasses.dataclass(frozen=True)
class ScoreSeries:
    """One score of one questionnaire (a version of it) across the patient's responses.

    Attributes
    ----------
    canonical : str
        ``url|version`` of the questionnaire: scores of different versions are
        never joined.
    score : str
        ``"total"`` or a subscale's name.
    label : str
        The questionnaire's title, and the subscale's.
    minimum, maximum : float
        What the score can be.
    direction : str
        ``higher-is-worse``, ``higher-is-better`` or ``unordered``.
    mid : str
        The minimal important difference and its source, or :data:`NO_MID`
        with the definition's note.
    has_mid : bool
    points : list of dict
        Oldest first: ``request_id``, ``date`` (ISO), ``value``, ``version``
        (of the response: above 1 when amended), ``prorated``, and against the
        previous point ``change``, ``direction``, ``beyond_mid`` (True, False,
        or None without a MID) and ``note``.
    """

    canonical: str
    score: str
    label: str
    minimum: float
    maximum: float
    direction: str
    mid: str
    has_mid: bool
    points: list[dict[str, Any]]


def score_series(db: Session, who: Principal, patient_id: int, *,
                 action: str = "questionnaire.scores") -> list[ScoreSeries]:
    """Lay out a patient's questionnaire scores over time, each change judged against the MID.

    Each answered request gives one point per score (the latest version of its
    answers, at the time of the first answers).  Consecutive points of the same
    questionnaire version are compared with :func:`gutaxis.questionnaires.compare`:
    a change is marked beyond the minimal important difference when its size
    reaches the published MID; where none is published the change is given by
    its size only, with :data:`NO_MID`.  Staff see their clinic's patients, a
    patient their own record.  Each point is dated by the patient's day (the
    time zone of their diary), as their diary entries are.

    Returns
    -------
    list of ScoreSeries
        By questionnaire title, the total before the subscales.

    Raises
    ------
    NotFound
        No such patient for ``who``.
    """
    patient = get_patient(db, who, patient_id, action="")
    zone = patient_time_zone(db, patient.id)  # days as the patient's diary counts them
    rows = db.execute(
        select(QuestionnaireResponse, QuestionnaireRequest)
        .join(QuestionnaireRequest, QuestionnaireRequest.id == QuestionnaireResponse.request_id)
        .where(QuestionnaireResponse.patient_id == patient.id,
               QuestionnaireResponse.clinic_id == who.clinic_id)
        .order_by(QuestionnaireRequest.completed_at, QuestionnaireRequest.id,
                  QuestionnaireResponse.version)).all()
    if action:
        audit.record(db, who.actor, action, "patient", patient.id)
    latest: dict[int, tuple[QuestionnaireResponse, QuestionnaireRequest]] = {}
    for response, request in rows:
        if response.scores:
            latest[request.id] = (response, request)  # the last version wins
    by_canonical: dict[str, list[tuple[QuestionnaireResponse, QuestionnaireRequest]]] = {}
    definitions: dict[str, Questionnaire] = {}
    for response, request in latest.values():
        canonical = str(response.scores["questionnaire"])
        by_canonical.setdefault(canonical, []).append((response, request))
        if canonical not in definitions:
            definitions[canonical] = load_questionnaire(request.definition)
    series: list[ScoreSeries] = []
    for canonical, pairs in sorted(by_canonical.items(),
                                   key=lambda kv: (definitions[kv[0]].title, kv[0])):
        q = definitions[canonical]
        scoring = q.scoring
        assert scoring is not None  # only scored responses carry scores
        pairs.sort(key=lambda p: (p[1].completed_at or p[0].completed_at, p[1].id))
        parts = [("total", q.title, scoring.minimum, scoring.maximum, scoring.mid)]
        parts += [(s.name, f"{q.title}: {s.title}", s.minimum, s.maximum, s.mid)
                  for s in scoring.subscales]
        scores: list[Scores] = []
        for response, _ in pairs:
            found = scores_from_dict(response.scores)
            assert found is not None
            scores.append(found)
        changes: list[dict[str, ScoreChange] | None] = [None]
        changes += [compare(before, after, q) for before, after in zip(scores, scores[1:],
                                                                       strict=False)]
        for name, label, low, high, mid in parts:
            points = []
            for (response, request), current, change in zip(pairs, scores, changes,
                                                             strict=True):
                step = change[name] if change is not None else None
                points.append({
                    "request_id": request.id,
                    "date": local_time(request.completed_at or response.completed_at,
                                       zone).date().isoformat(),
                    "value": current.get(name), "version": response.version,
                    "prorated": name in current.prorated,
                    "change": step.change if step else None,
                    "direction": step.direction if step else None,
                    "beyond_mid": step.beyond_mid if step else None,
                    "note": (step.note if step.mid is not None or step.change is None
                             else NO_MID) if step else ""})
            if mid is not None:
                words = f"minimal important difference {mid.value:g} ({mid.source})"
            elif name == "total" and scoring.mid_note:
                words = f"{NO_MID}: {scoring.mid_note}"
            else:
                words = NO_MID
            series.append(ScoreSeries(canonical, name, label, low, high, scoring.direction,
                                      words, mid is not None, points))
    return series
