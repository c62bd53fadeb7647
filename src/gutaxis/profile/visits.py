"""An earlier visit: the one reader of a previous ``profile.json`` (``--previous``).

:func:`read_visit` reads a ``profile.json`` that gutaxis wrote, checks its
``schema_version`` and returns a :class:`~gutaxis.profile.Visit`.  It reads the
layouts gutaxis has written: ``2.x`` as is, and ``1.x`` (before measure ids
carried their kind: ``"shannon_entropy"`` is read as ``"index:shannon_entropy"``).
A newer layout, or a file that is not a gutaxis profile, is refused with a
message that names the file and the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gutaxis.checks import check_date
from gutaxis.exceptions import FormatError, InputError, ValidationError
from gutaxis.measures import MEASURE_KINDS, Censoring
from gutaxis.outputs import from_json_number
from gutaxis.profile._model import PROFILE_SCHEMA_VERSION, Visit

__all__ = ["read_visit", "visit_from_document"]

_MAJOR = int(PROFILE_SCHEMA_VERSION.split(".")[0])
#: Index ids that version 1 wrote without their ``index:`` prefix.
_BARE_INDEX_IDS = ("shannon_entropy", "gmhi", "md_index")


def _upgrade_id(measure_id: str, major: int) -> str:
    if major == 1 and measure_id in _BARE_INDEX_IDS:
        return f"index:{measure_id}"
    return measure_id


def _censoring(value: Any, where: str) -> Censoring | None:
    if value in (None, ""):
        return None
    if value in ("<", ">"):
        return "<" if value == "<" else ">"
    raise FormatError(f"{where}: \"censored\" must be '<', '>' or null; got {value!r}")


def _major(doc: Mapping[str, Any], where: str) -> int:
    version = doc.get("schema_version")
    if not isinstance(version, str) or not version.split(".")[0].isdigit():
        raise FormatError(f"{where}: \"schema_version\" must be a text such as "
                          f"\"{PROFILE_SCHEMA_VERSION}\"; got {version!r} (is this a gutaxis "
                          "profile.json?)")
    major = int(version.split(".")[0])
    if major > _MAJOR:
        raise FormatError(f"{where}: written with profile schema_version {version}, but this "
                          f"gutaxis reads up to {PROFILE_SCHEMA_VERSION}; upgrade gutaxis")
    if major < 1:
        raise FormatError(f"{where}: unknown profile schema_version {version}")
    return major


def _visit_date(value: Any, where: str) -> str | None:
    try:
        return check_date(value, f'{where}: "visit_date"')
    except ValidationError as exc:  # a file's content: a format error, naming the file
        raise FormatError(f"{exc} (or null)") from None


def _history(doc: Mapping[str, Any], major: int, where: str) -> tuple[dict[str, Any], ...]:
    entries = doc.get("history") or []
    if not isinstance(entries, list):
        raise FormatError(f"{where}: \"history\" must be a list")
    out = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("values", {}), Mapping):
            raise FormatError(f"{where}: history[{position}] must be an object with "
                              "\"created\" and \"values\"")
        values = {_upgrade_id(str(k), major): from_json_number(v)
                  for k, v in entry.get("values", {}).items()}
        censored = {_upgrade_id(str(k), major): _censoring(v, f"{where}: history[{position}]")
                    for k, v in (entry.get("censored") or {}).items()}
        out.append({"created": str(entry.get("created") or ""),
                    "visit_date": _visit_date(entry.get("visit_date"),
                                              f"{where}: history[{position}]"),
                    "sample_id": entry.get("sample_id"), "patient_id": entry.get("patient_id"),
                    "values": values, "censored": {k: c for k, c in censored.items() if c}})
    return tuple(out)


def visit_from_document(doc: Any, *, source: str = "the previous profile") -> Visit:
    """Read a parsed ``profile.json`` document as a :class:`~gutaxis.profile.Visit`.

    Parameters
    ----------
    doc : object
        The parsed JSON.
    source : str
        Its name, for messages.

    Returns
    -------
    Visit

    Raises
    ------
    FormatError
        Not a gutaxis profile, a newer ``schema_version``, or a malformed
        field (named in the message).

    Examples
    --------
    >>> v = visit_from_document({"schema_version": "1.0", "sample_id": "S1",
    ...     "created": "2025-01-02T00:00:00+00:00",
    ...     "measures": [{"id": "shannon_entropy", "label": "Shannon", "value": 3.2,
    ...                   "unit": ""}]})
    >>> v.values
    {'index:shannon_entropy': (3.2, '', None)}
    """
    if not isinstance(doc, Mapping):
        raise FormatError(f"{source}: not a gutaxis profile.json (expected a JSON object)")
    major = _major(doc, source)
    measures = doc.get("measures")
    if not isinstance(measures, list):
        raise FormatError(f"{source}: not a gutaxis profile.json (\"measures\" must be a list)")
    values: dict[str, tuple[float | None, str, Censoring | None]] = {}
    labels: dict[str, str] = {}
    for position, item in enumerate(measures):
        where = f"{source}: measures[{position}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            raise FormatError(f"{where}: expected an object with an \"id\"")
        mid = _upgrade_id(item["id"], major)
        if mid.partition(":")[0] not in MEASURE_KINDS:
            raise FormatError(f"{where}: id {item['id']!r} is not a measure id "
                              "(index:…, taxon:… or marker:…)")
        values[mid] = (from_json_number(item.get("value")), str(item.get("unit") or ""),
                       _censoring(item.get("censored"), where))
        labels[mid] = str(item.get("label") or mid)
    reference = doc.get("reference")
    version = reference.get("version") if isinstance(reference, Mapping) else None
    sample = doc.get("sample_id")
    if not isinstance(sample, str):
        raise FormatError(f"{source}: \"sample_id\" must be a text; got {sample!r}")
    patient = doc.get("patient_id")
    return Visit(sample_id=sample, patient_id=None if patient is None else str(patient),
                 created=str(doc.get("created") or ""),
                 reference_version=None if version is None else str(version),
                 values=values, labels=labels, history=_history(doc, major, source),
                 path=source, visit_date=_visit_date(doc.get("visit_date"), source))


def read_visit(path: str | os.PathLike[str]) -> Visit:
    """Read the ``profile.json`` of an earlier visit.

    Parameters
    ----------
    path : path
        A ``profile.json`` written by ``gutaxis profile``.

    Returns
    -------
    Visit

    Raises
    ------
    InputError
        The file cannot be read.
    FormatError
        Not JSON, not a gutaxis profile, a newer ``schema_version``, or a
        malformed field (the message names the file and the field).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read the previous profile ({exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{p}: not valid JSON (line {exc.lineno}: {exc.msg}); expected the "
                          "profile.json of an earlier visit") from None
    return visit_from_document(doc, source=str(p))
