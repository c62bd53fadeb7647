"""What the pages show of questionnaires: scores over time as inline SVG, answers, the form.

:func:`score_chart` draws one score of one questionnaire: the score's whole
range on the vertical axis (so that a change looks as large as it is on the
instrument), the responses on a time axis, and a mark on each response whose
change from the previous one reaches the published minimal important
difference (a red ring); a change below it is a green dot.  Where no MID is
published nothing is marked — the figure says so instead.
:func:`score_figures` gives the pages what they show for each series.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from html import escape
from typing import Any

from gutaxis.questionnaires import Questionnaire
from gutaxis.service.services import questionnaires
from gutaxis.service.services.questionnaire_scores import NO_MID, ScoreSeries

#: The standard FHIR extension giving the patient guidance on how to answer an item.
ENTRY_FORMAT = "http://hl7.org/fhir/StructureDefinition/entryFormat"

__all__ = ["score_chart", "score_figures", "change_words", "scores_text", "answer_rows",
           "form_blocks", "request_rows", "ENTRY_FORMAT"]

_WIDTH, _HEIGHT = 320, 130
_LEFT, _RIGHT, _TOP, _BOTTOM = 34, 12, 10, 22


def _num(value: Any) -> str:
    """Write a score: whole numbers without decimals, others with up to two ("—" for none)."""
    if value is None or isinstance(value, bool):
        return "—"
    number = float(value)
    if not math.isfinite(number):
        return "—"
    if number.is_integer():
        return f"{number:.0f}"
    return f"{number:.2f}".rstrip("0").rstrip(".")


def change_words(point: dict[str, Any]) -> str:
    """Say how a point changed from the previous one, and whether that reaches the MID.

    Examples
    --------
    >>> change_words({"change": -6.0, "direction": "better", "beyond_mid": True, "note": ""})
    'down 6 (better), beyond the minimal important difference'
    >>> change_words({"change": 2.0, "direction": "worse", "beyond_mid": None,
    ...               "note": "no published minimal important difference"})
    'up 2 (worse); no published minimal important difference'
    >>> change_words({"change": None, "direction": None, "beyond_mid": None, "note": ""})
    ''
    """
    change = point.get("change")
    if change is None:
        return str(point.get("note") or "")
    if change == 0:
        text = "no change"
    else:
        text = f"{'up' if change > 0 else 'down'} {_num(abs(change))}"
        direction = point.get("direction")
        if direction in ("better", "worse"):
            text += f" ({direction})"
    beyond = point.get("beyond_mid")
    if beyond is True:
        return text + ", beyond the minimal important difference"
    if beyond is False:
        return text + ", within the minimal important difference"
    return f"{text}; {point.get('note') or NO_MID}"


def score_chart(series: ScoreSeries) -> str:
    """Draw one score over time as an inline SVG.

    Parameters
    ----------
    series : ScoreSeries
        From :func:`gutaxis.service.services.questionnaire_scores.score_series`.

    Returns
    -------
    str
        An ``<svg>`` element with an accessible name listing every point and
        its change.  A change reaching the MID is a red ring (``class="beyond"``),
        one below it a green dot (``class="within"``), others dark dots.

    Examples
    --------
    >>> from gutaxis.service.services.questionnaire_scores import ScoreSeries
    >>> points = [{"date": "2026-01-01", "value": 30.0, "change": None, "direction": None,
    ...            "beyond_mid": None, "note": ""},
    ...           {"date": "2026-02-01", "value": 20.0, "change": -10.0,
    ...            "direction": "better", "beyond_mid": True, "note": ""}]
    >>> svg = score_chart(ScoreSeries("urn:q|1", "total", "Q", 0, 60, "higher-is-worse",
    ...                               "minimal important difference 8 (a source)", True,
    ...                               points))
    >>> svg.count('class="beyond"'), svg.count("<circle")
    (1, 2)
    """
    low, high = float(series.minimum), float(series.maximum)
    span = (high - low) or 1.0
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    days = [dt.date.fromisoformat(p["date"]).toordinal() for p in series.points]
    first, last = (min(days), max(days)) if days else (0, 0)
    described = []
    for point in series.points:
        words = change_words(point)
        described.append(f"{point['date']} {_num(point.get('value'))}"
                         + (f" ({words})" if words else ""))
    title = escape(f"{series.label} (range {_num(low)} to {_num(high)}): "
                   + ("; ".join(described) or "no response yet"))
    out = [f'<svg viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{title}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{title}</title>',
           f'<rect x="0" y="0" width="{_WIDTH}" height="{_HEIGHT}" fill="#f3f6f9"/>']
    for edge in (low, high):
        y = _TOP + (high - edge) / span * plot_h
        out.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_WIDTH - _RIGHT}" y2="{y:.1f}" '
                   'stroke="#c9d1d9" stroke-width="1"/>')
        out.append(f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                   f'fill="#4a5561">{escape(_num(edge))}</text>')
    if series.points:
        out.append(f'<text x="{_LEFT}" y="{_HEIGHT - 6}" font-size="10" fill="#4a5561">'
                   f'{escape(series.points[0]["date"])}</text>')
        if len(series.points) > 1:
            out.append(f'<text x="{_WIDTH - _RIGHT}" y="{_HEIGHT - 6}" text-anchor="end" '
                       f'font-size="10" fill="#4a5561">{escape(series.points[-1]["date"])}'
                       '</text>')
    coords = []
    for index, (point, day) in enumerate(zip(series.points, days, strict=True)):
        value = point.get("value")
        if not isinstance(value, int | float) or not math.isfinite(value):
            continue
        if last > first:
            x = _LEFT + (day - first) / (last - first) * plot_w
        elif len(series.points) > 1:
            x = _LEFT + index / (len(series.points) - 1) * plot_w
        else:
            x = _LEFT + plot_w / 2
        y = _TOP + (high - min(max(value, low), high)) / span * plot_h
        coords.append((x, y, point.get("beyond_mid")))
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
        out.append(f'<polyline points="{path}" fill="none" stroke="#0b5cad" '
                   'stroke-width="2"/>')
    for x, y, beyond in coords:
        if beyond is True:
            out.append(f'<circle class="beyond" cx="{x:.1f}" cy="{y:.1f}" r="7" fill="#fff" '
                       'stroke="#a1161b" stroke-width="3"/>')
        elif beyond is False:
            out.append(f'<circle class="within" cx="{x:.1f}" cy="{y:.1f}" r="4" '
                       'fill="#1a6b32"/>')
        else:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1b1f24"/>')
    if not coords:
        out.append(f'<text x="{_WIDTH / 2}" y="{_HEIGHT / 2}" text-anchor="middle" '
                   'font-size="12" fill="#4a5561">no score yet</text>')
    return "".join(out) + "</svg>"


def score_figures(series: list[ScoreSeries]) -> list[dict[str, Any]]:
    """Give each series what a page shows: label, MID words, the SVG, each point in words.

    Returns
    -------
    list of dict
        ``label``, ``canonical``, ``score``, ``mid`` (the MID and its source,
        or :data:`NO_MID` with the reason, as a sentence), ``has_mid``,
        ``svg``, ``range``, ``direction``, ``rows`` (``date``, ``value``,
        ``value_text``, ``words``, ``beyond_mid``, ``version``, ``prorated``,
        ``request_id``), ``last`` (the latest row).
    """
    figures = []
    for s in series:
        rows = [{"date": p["date"], "value": p.get("value"), "value_text": _num(p.get("value")),
                 "words": change_words(p),
                 "beyond_mid": p.get("beyond_mid"), "version": p.get("version", 1),
                 "prorated": p.get("prorated", False), "request_id": p.get("request_id")}
                for p in s.points]
        figures.append({"label": s.label, "canonical": s.canonical, "score": s.score,
                        "mid": s.mid[:1].upper() + s.mid[1:], "has_mid": s.has_mid,
                        "svg": score_chart(s),
                        "rows": rows, "last": rows[-1] if rows else None,
                        "range": f"{_num(s.minimum)} to {_num(s.maximum)}",
                        "direction": s.direction})
    return figures


def scores_text(q: Questionnaire, scores: Mapping[str, Any] | None) -> str:
    """Write a response's scores in one line: the total on its range, then the subscales.

    Examples
    --------
    >>> from gutaxis.questionnaires import bundled_questionnaires
    >>> q = bundled_questionnaires()["GutSymptomCheckIn"]
    >>> scores_text(q, {"total": 30.0, "subscales": {"belly": 15.0, "daily_life": 15.0},
    ...                 "prorated": []})
    'Total 30 (0 to 60) · Belly symptoms 15 · Bowel, energy and overall 15'
    >>> scores_text(q, {})
    'not scored'
    """
    if not scores or q.scoring is None:
        return "not scored"
    prorated = set(scores.get("prorated") or ())
    total = scores.get("total")
    parts = [f"Total {_num(total)} ({_num(q.scoring.minimum)} to {_num(q.scoring.maximum)})"
             + (" estimated from part of the answers" if "total" in prorated else "")
             + (" — too few answers to score" if total is None else "")]
    subscales = scores.get("subscales") or {}
    for sub in q.scoring.subscales:
        parts.append(f"{sub.title} {_num(subscales.get(sub.name))}"
                     + (" (estimated)" if sub.name in prorated else ""))
    return " · ".join(parts)


def answer_rows(q: Questionnaire, answers: Mapping[str, Any]) -> list[dict[str, str]]:
    """List each question with its answer in words (an option's display, Yes/No, the number).

    Examples
    --------
    >>> from gutaxis.questionnaires import bundled_questionnaires
    >>> q = bundled_questionnaires()["BristolStoolForm"]
    >>> answer_rows(q, {"stool_type": "4"})[0]["answer"][:20]
    'Type 4: Smooth snake'
    """
    rows = []
    for item in questionnaires.answerable_items(q):
        value = answers.get(item.link_id)
        if value is None:
            shown = "not answered"
        elif item.type == "choice":
            option = item.option(str(value))
            shown = (option.display or option.code) if option else str(value)
        elif item.type == "boolean":
            shown = "Yes" if value else "No"
        elif isinstance(value, float):
            shown = _num(value)
        else:
            shown = str(value)
        rows.append({"link_id": item.link_id, "question": item.text or item.link_id,
                     "answer": shown})
    return rows


def _raw_items(definition: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}

    def visit(items: Any) -> None:
        for raw in items or []:
            if isinstance(raw, Mapping):
                found[str(raw.get("linkId"))] = raw
                visit(raw.get("item"))

    visit(definition.get("item"))
    return found


def _help(raw: Mapping[str, Any] | None) -> str:
    for ext in (raw or {}).get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == ENTRY_FORMAT \
                and isinstance(ext.get("valueString"), str):
            return str(ext["valueString"])
    return ""


def form_blocks(q: Questionnaire, values: Mapping[str, Any],
                errors: Mapping[str, str]) -> list[dict[str, Any]]:
    """Lay the questionnaire out as the form's blocks, in the definition's order.

    Returns
    -------
    list of dict
        ``kind``: ``heading`` (a group's text), ``text`` (a display item) or
        ``question`` — with ``link_id``, ``type``, ``text``, ``required``,
        ``options`` (code, display), ``min``/``max``, ``help`` (the item's
        ``entryFormat`` guidance, or the number's range), ``value`` (as the
        form shows it) and ``error``.
    """
    raw = _raw_items(q.definition)
    blocks: list[dict[str, Any]] = []
    number = 0
    for item in q.walk():
        if item.type == "group":
            if item.text:
                blocks.append({"kind": "heading", "text": item.text})
            continue
        if item.type == "display":
            blocks.append({"kind": "text", "text": item.text or ""})
            continue
        number += 1
        value = values.get(item.link_id)
        help_text = _help(raw.get(item.link_id))
        if not help_text and item.type in ("integer", "decimal") and \
                item.min_value is not None and item.max_value is not None:
            help_text = f"A number from {_num(item.min_value)} to {_num(item.max_value)}."
        if isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, float):
            shown = _num(value)
        else:
            shown = "" if value is None else str(value)
        blocks.append({
            "kind": "question", "link_id": item.link_id, "type": item.type,
            "number": number, "text": item.text or f"Question {number}",
            "required": item.required,
            "options": [{"code": o.code, "display": o.display or o.code} for o in item.options],
            "min": _num(item.min_value) if item.min_value is not None else "",
            "max": _num(item.max_value) if item.max_value is not None else "",
            "step": "1" if item.type == "integer" else "any", "help": help_text,
            "value": shown, "error": errors.get(item.link_id, "")})
    return blocks


def request_rows(views: list[questionnaires.RequestView]) -> list[dict[str, Any]]:
    """Summarise requests for a table: title, version, when answered, how often changed, scores."""
    rows = []
    for view in views:
        latest = view.latest
        rows.append({"request": view.request, "title": view.request.title,
                     "version": view.questionnaire.version,
                     "answered": latest.completed_at if latest else None,
                     "versions": len(view.responses),
                     "scores": scores_text(view.questionnaire, latest.scores)
                     if latest else ""})
    return rows
