"""The diary on the timeline: primary symptoms day by day, challenges and plan items on one axis.

The patient's timeline joins what the portal collects with the rest of the
record: each primary symptom's daily mean (the shared diary) as a line, the
challenges of the active protocol as shaded days labelled with their
verdict, and the days plan items started as marks.  One inline SVG per
symptom (no JavaScript), with a text list of the same facts for screen
readers and for reading.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from html import escape
from typing import Any

from sqlalchemy.orm import Session

from gutaxis.service.access import Principal
from gutaxis.service.services import diary, plans, protocols

__all__ = ["DiaryTimeline", "diary_timeline"]

_COLOURS = {"likely trigger": "#f4c7c3", "likely tolerated": "#cde8d4",
            "inconclusive": "#e3e6ea"}
#: Each verdict's band also has its own outline, so that colour is not all that tells
#: them apart (WCAG 1.4.1): solid, dashed, dotted; the list under the chart says it in words.
_OUTLINES = {"likely trigger": ("#a1161b", ""), "likely tolerated": ("#1a6b32", "6 3"),
             "inconclusive": ("#4a5561", "2 2")}


@dataclasses.dataclass(frozen=True)
class DiaryTimeline:
    """The charts (one per symptom) and the facts they show, as text."""

    charts: list[dict[str, Any]]
    """Per symptom: ``symptom``, ``svg`` and ``days`` (each scored day and its mean, as text)."""
    challenges: list[str]
    plan: list[str]


def _chart(symptom: str, days: dict[dt.date, float], first: dt.date, last: dt.date,
           bands: list[tuple[dt.date, dt.date, str, str]],
           marks: list[tuple[dt.date, str]]) -> str:
    """One symptom's chart from ``first`` to ``last``: every day a point, joined by a line.

    Bands and marks are clipped to those days (the caller makes the range
    cover them).  The drawing is 480 units wide so that its text stays
    readable where a phone shrinks it to its width.
    """
    width, height, left, top, bottom = 480, 160, 30, 24, 22
    n_days = (last - first).days + 1  # each day a column: a single day still has a width

    def x(day: dt.date) -> float:
        return round(left + (width - left - 8) * (day - first).days / n_days, 1)

    def middle(day: dt.date) -> float:
        return round(x(day) + (width - left - 8) / n_days / 2, 1)

    def y(score: float) -> float:
        return round(top + (height - top - bottom) * (1 - score / 10.0), 1)

    label = escape(f"{symptom}, daily mean score 0–10 from {first} to {last}")
    parts = [f'<svg class="diary-chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{label}" xmlns="http://www.w3.org/2000/svg"><title>{label}</title>']
    for start, end, name, verdict in bands:
        start, end = max(start, first), min(end, last)
        if start > end:
            continue
        x0, x1 = x(start), x(end + dt.timedelta(days=1))
        fill = _COLOURS.get(verdict, "#eef1f4")
        stroke, dashes = _OUTLINES.get(verdict, ("none", ""))
        outline = (f' stroke="{stroke}" stroke-width="1.5"'
                   + (f' stroke-dasharray="{dashes}"' if dashes else "")) if verdict else ""
        parts.append(f'<rect x="{x0}" y="{top}" width="{max(x1 - x0, 2)}" '
                     f'height="{height - top - bottom}" fill="{fill}"{outline}>'
                     f'<title>{escape(name)}: {start} to {end}'
                     f'{": " + escape(verdict) if verdict else ""}</title></rect>')
        # a label as wide as its band at most (side by side, two bands' labels ran together)
        fits = max(3, int((x1 - x0) / 7.2))  # about 7.2 units a character at 12
        shown = name if len(name) <= fits else name[:fits - 1].rstrip() + "…"
        parts.append(f'<text x="{x0}" y="{top - 7}" font-size="12"><title>{escape(name)}'
                     f'</title>{escape(shown)}</text>')
    for day, title in marks:
        parts.append(f'<line x1="{middle(day)}" x2="{middle(day)}" y1="{top}" '
                     f'y2="{height - bottom}" stroke="#6b4fa0" stroke-dasharray="3 2">'
                     f'<title>{escape(title)}</title></line>')
    for score in (0, 5, 10):
        parts.append(f'<text x="2" y="{y(score) + 4}" font-size="12" fill="#4a5561">{score}'
                     '</text>')
    ordered = sorted(days.items())
    if len(ordered) > 1:
        points = " ".join(f"{middle(d)},{y(v)}" for d, v in ordered)
        parts.append(f'<polyline points="{points}" fill="none" stroke="#12324f" '
                     'stroke-width="1.5"/>')
    for d, v in ordered:  # a point for every day: one scored day is seen too
        parts.append(f'<circle cx="{middle(d)}" cy="{y(v)}" r="3" fill="#12324f">'
                     f'<title>{d}: {v:.1f}</title></circle>')
    parts.append(f'<text x="{left}" y="{height - 5}" font-size="12" fill="#4a5561">{first}'
                 '</text>')
    if last != first:
        parts.append(f'<text x="{width - 8}" y="{height - 5}" font-size="12" fill="#4a5561" '
                     f'text-anchor="end">{last}</text>')
    parts.append("</svg>")
    return "".join(parts)


def diary_timeline(db: Session, who: Principal, patient_id: int, *,
                   for_patient: bool) -> DiaryTimeline:
    """Gather the shared diary's primary symptoms, the challenges and the plan on one axis.

    For the patient, a blinded protocol's challenges are named by capsule and
    carry no verdict until it ends.
    """
    view = (protocols.own_protocol_view(db, who) if for_patient
            else protocols.protocol_view(db, who, patient_id))
    rows = diary.diary_rows(db, who, patient_id, include_private=False)
    symptoms: dict[str, dict[dt.date, list[float]]] = {}
    for at, kind, item, value in rows:
        if kind == "symptom":
            symptoms.setdefault(str(item), {}).setdefault(at.date(), []).append(float(value))
    hidden = bool(for_patient and view is not None and view.key_hidden)
    bands_of: dict[str, list[tuple[dt.date, dt.date, str, str]]] = {}
    texts = []
    if view is not None:
        verdicts = {} if hidden else {(v.food_group, v.start, v.symptom): v.verdict
                                      for v in view.verdicts if v.challenge != "pooled"}
        for c in view.calendar.challenges:
            if c.status not in ("done", "stopped", "today"):
                continue
            name = c.label(hidden) if hidden else view.group_names.get(c.food_group,
                                                                       c.food_group)
            said = []
            for symptom in symptoms:
                verdict = verdicts.get((c.food_group, c.start, symptom), "")
                bands_of.setdefault(symptom, []).append((c.start, c.end, name, verdict))
                if verdict:
                    said.append(f"{symptom}: {verdict}")
            texts.append(f"{name}: {c.start} to {c.end} ({c.status}"
                         + ("" if c.logged else ", no primary symptom scored on its days") + ")"
                         + (" — " + "; ".join(said) if said else ""))
    marks: list[tuple[dt.date, str]] = []
    plan_texts = []
    for plan_item in plans.plan_items(db, who, patient_id):
        started = [e.on for e in plan_item.events if e.status == "active"]
        if started:
            marks.append((min(started), f"plan: {plan_item.title}"))
            plan_texts.append(f"{plan_item.title}: started {min(started)}")
    charts = []
    all_days = [d for by_day in symptoms.values() for d in by_day]
    if all_days:
        # the days scored and the challenges' days: a challenge is seen beside the scores
        shown = [d for bands in bands_of.values() for band in bands for d in band[:2]]
        first, last = min(all_days + shown), max(all_days + shown)
        for symptom, by_day in symptoms.items():
            means = {d: sum(v) / len(v) for d, v in by_day.items()}
            in_range = [(d, t) for d, t in marks if first <= d <= last]
            charts.append({"symptom": symptom, "svg": _chart(
                symptom, means, first, last, bands_of.get(symptom, []), in_range),
                "days": [f"{d}: {v:.1f}" for d, v in sorted(means.items())]})
    return DiaryTimeline(charts, texts, plan_texts)
