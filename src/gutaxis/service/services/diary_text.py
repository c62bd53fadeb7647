"""The diary in words: an entry in one plain line, entries grouped by day, food names.

What the patient's pages and the practitioner's pages show of a diary
entry (:mod:`.diary` keeps the entries and checks them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from gutaxis.knowledge import load_food_catalog
from gutaxis.service.models import DiaryEntry, DiaryVersion

__all__ = ["KIND_WORDS", "PATIENT_PAGE_ENTRIES", "food_names", "describe", "day_groups"]

#: Each kind in the patient's words (the forms' titles and the diary's lines).
KIND_WORDS = {"meal": "Meal", "drink": "Drink", "symptoms": "Symptoms", "stool": "Stool",
              "sleep": "Sleep", "stress": "Stress", "medication": "Medicine or supplement",
              "cycle": "Cycle day", "weight": "Weight", "note": "Note"}
#: Entries the practitioner's patient page shows (the diary's own page shows them all).
PATIENT_PAGE_ENTRIES = 20

def food_names() -> dict[str, str]:
    """Map the food catalogue's ids to their names.

    Examples
    --------
    >>> food_names()["wheat_bread"]
    'Wheat bread'
    """
    return {food.id: food.name for food in load_food_catalog().foods}


def describe(kind: str, data: Mapping[str, Any], *, names: Mapping[str, str] | None = None
             ) -> str:
    """Write an entry in one plain line (the diary's lists, the patient's page).

    Parameters
    ----------
    names : mapping, optional
        Food ids to the names to show (:func:`food_names`).

    Examples
    --------
    >>> describe("meal", {"foods": ["wheat_bread", "tea"], "picked": ["tea"],
    ...                   "text": "toast", "portion": "large"}, names={"tea": "Tea"})
    'Meal (large portion): toast, Tea'
    >>> describe("symptoms", {"scores": {"Bloating": 6, "Pain": 2}})
    'Symptoms: Bloating 6/10, Pain 2/10'
    >>> describe("sleep", {"hours": 7.5, "quality": 6, "note": "woke at 4"})
    'Sleep: 7.5 hours, quality 6/10 — woke at 4'
    """
    names = names or {}
    if kind in ("meal", "drink"):
        # what the patient typed, then the foods they tapped
        foods = ([data["text"]] if data.get("text") else []) + [
            names.get(f, f) for f in data.get("picked", [])]
        text = (f"{KIND_WORDS[kind]} ({data.get('portion', 'usual')} portion): "
                + ", ".join(foods))
    elif kind == "symptoms":
        text = "Symptoms: " + ", ".join(f"{k} {v}/10" for k, v in
                                        (data.get("scores") or {}).items())
    elif kind == "stool":
        text = f"Stool: Bristol type {data.get('bristol')}"
    elif kind == "sleep":
        parts = ([f"{data['hours']:g} hours"] if "hours" in data else []) + (
            [f"quality {data['quality']}/10"] if "quality" in data else [])
        text = "Sleep: " + ", ".join(parts)
    elif kind == "stress":
        text = f"Stress: {data.get('score')}/10"
    elif kind == "medication":
        text = f"Medicine or supplement: {data.get('name', '')}" + (
            f", {data['dose']}" if data.get("dose") else "")
    elif kind == "cycle":
        text = f"Cycle day {data.get('day')}"
    elif kind == "weight":
        text = f"Weight: {data.get('kg', 0):g} kg"
    else:
        text = f"Note: {data.get('text', '')}"
    return text + (f" — {data['note']}" if data.get("note") else "")


def day_groups(pairs: list[tuple[DiaryEntry, DiaryVersion]], names: dict[str, str]
               ) -> list[dict[str, Any]]:
    """Group entries by day, newest day first, each entry as a line of text (oldest first).

    Examples
    --------
    >>> e = DiaryEntry(id=1, kind="stress", at=dt.datetime(2026, 3, 1, 9, 5), private=True)
    >>> [(g["day"], g["entries"][0]["time"], g["entries"][0]["text"])
    ...  for g in day_groups([(e, DiaryVersion(data={"score": 3}))], {})]
    [(datetime.date(2026, 3, 1), '09:05', 'Stress: 3/10')]
    """
    days: dict[dt.date, list[dict[str, Any]]] = {}
    for entry, version in pairs:
        days.setdefault(entry.at.date(), []).append({
            "id": entry.id, "time": entry.at.strftime("%H:%M"), "kind": entry.kind,
            "private": entry.private, "version": entry.version,
            "text": describe(entry.kind, version.data, names=names)})
    return [{"day": day, "entries": sorted(rows, key=lambda r: (r["time"], r["id"]))}
            for day, rows in sorted(days.items(), reverse=True)]
