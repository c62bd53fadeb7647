"""Questionnaire definitions: FHIR R4 ``Questionnaire`` JSON read, checked and held.

A definition is a FHIR R4 ``Questionnaire`` resource.  gutaxis reads the parts
it uses — ``url``, ``version``, ``name``, ``title``, ``status``, the ``item``
tree (``linkId``, ``text``, ``type``, ``required``, ``answerOption`` with
``valueCoding``) — and two kinds of extension:

* the score of an answer option: the standard ``ordinalValue`` extension
  (:data:`ORDINAL_VALUE`, on the option or on its ``valueCoding``), or
  ``itemWeight`` (:data:`ITEM_WEIGHT`); bounds of a number item: the standard
  ``minValue`` / ``maxValue`` extensions;
* the scoring rules, in one gutaxis extension on the questionnaire
  (:data:`SCORING`) whose parts are ``method`` (``sum`` or ``mean``),
  ``minimum`` and ``maximum`` (of the total, checked against what the items
  allow), ``direction`` (``higher-is-worse``, ``higher-is-better`` or
  ``unordered``), ``minimumAnswered`` (the share of items that must be
  answered for a prorated score; 0.8 when absent), ``mid`` (``value`` and
  ``source``) or ``midNote`` (why there is none), ``subscale`` (repeated:
  ``name``, ``title``, ``item`` linkIds, optional ``mid``), ``scoredItem``
  (optional: the linkIds scored; by default every choice, integer, decimal
  and boolean item), ``licence`` and ``source``.

Everything is checked when the definition is read; an error names the item by
its path (``item[3].answerOption[1]: expected ordinalValue …``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from gutaxis.checks import check_path
from gutaxis.exceptions import FormatError, InputError, UnsafeInputError

__all__ = ["ORDINAL_VALUE", "ITEM_WEIGHT", "MIN_VALUE", "MAX_VALUE", "SCORING",
           "ITEM_TYPES", "SCORABLE_TYPES", "DIRECTIONS", "AnswerOption", "Item",
           "MinimalImportantDifference", "Subscale", "Scoring", "Questionnaire",
           "load_questionnaire", "parse_questionnaire", "bundled_questionnaires"]

#: The standard extension carrying an answer option's score (FHIR R4).
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
#: The same, under the name FHIR STU3 and the R4 ballots used (read, never written).
_ORDINAL_VALUE_OLD = "http://hl7.org/fhir/StructureDefinition/questionnaire-ordinalValue"
#: The FHIR R5 extension for an option's score (read too).
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
#: The standard bounds of a number item.
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
#: The gutaxis extension holding the scoring rules.
SCORING = "urn:gutaxis:fhir:StructureDefinition:questionnaire-scoring"

#: Item types gutaxis handles (a subset of FHIR R4's item-type codes).
ITEM_TYPES = ("group", "display", "boolean", "decimal", "integer", "string", "text", "choice")
#: Item types that can carry a score.
SCORABLE_TYPES = ("boolean", "decimal", "integer", "choice")
#: Which way a worse state moves the score.
DIRECTIONS = ("higher-is-worse", "higher-is-better", "unordered")
_STATUSES = ("draft", "active", "retired", "unknown")
_MAX_BYTES = 2 * 1024 * 1024
_MAX_DEPTH = 8
_MAX_ITEMS = 2000


@dataclass(frozen=True)
class AnswerOption:
    """One answer of a choice item: its code, what it shows, and its score (or ``None``)."""

    code: str
    display: str | None
    system: str | None
    score: float | None


@dataclass(frozen=True)
class Item:
    """One item of the questionnaire, with its children when it is a group.

    ``path`` is where it sits in the definition (``item[2].item[0]``), as
    error messages name it.
    """

    link_id: str
    text: str | None
    type: str
    required: bool
    path: str
    options: tuple[AnswerOption, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    items: tuple[Item, ...] = ()

    def option(self, code: str) -> AnswerOption | None:
        """Return the answer option with this code, or ``None``."""
        return next((o for o in self.options if o.code == code), None)

    @property
    def score_range(self) -> tuple[float, float] | None:
        """The lowest and highest score the item can give, or ``None`` when it cannot be scored."""
        if self.type == "boolean":
            return (0.0, 1.0)
        if self.type == "choice":
            scores = [o.score for o in self.options]
            if not scores or any(s is None for s in scores):
                return None
            known = [s for s in scores if s is not None]
            return (min(known), max(known))
        if self.type in ("integer", "decimal") and None not in (self.min_value, self.max_value):
            return (float(self.min_value or 0.0), float(self.max_value or 0.0))
        return None


@dataclass(frozen=True)
class MinimalImportantDifference:
    """A published minimal important difference and where it was published."""

    value: float
    source: str


@dataclass(frozen=True)
class Subscale:
    """A named part of the questionnaire scored on its own."""

    name: str
    title: str
    link_ids: tuple[str, ...]
    minimum: float
    maximum: float
    mid: MinimalImportantDifference | None = None


@dataclass(frozen=True)
class Scoring:
    """The scoring rules of a questionnaire (the gutaxis extension, checked)."""

    method: str
    link_ids: tuple[str, ...]
    minimum: float
    maximum: float
    direction: str
    minimum_answered: float
    mid: MinimalImportantDifference | None
    mid_note: str | None
    subscales: tuple[Subscale, ...]
    licence: str
    source: str


@dataclass(frozen=True)
class Questionnaire:
    """A checked questionnaire definition.

    ``definition`` is the FHIR JSON as read (a copy), to store or send on.
    """

    url: str
    version: str
    name: str
    title: str
    status: str
    items: tuple[Item, ...]
    scoring: Scoring | None
    definition: dict[str, Any] = field(repr=False, compare=False)

    def walk(self) -> Iterator[Item]:
        """Yield every item, groups before their children, in the definition's order."""
        def visit(items: tuple[Item, ...]) -> Iterator[Item]:
            for item in items:
                yield item
                yield from visit(item.items)
        return visit(self.items)

    def item(self, link_id: str) -> Item | None:
        """Return the item with this ``linkId``, or ``None``."""
        return next((i for i in self.walk() if i.link_id == link_id), None)

    @property
    def canonical(self) -> str:
        """``url|version``, how a QuestionnaireResponse names the questionnaire it answers."""
        return f"{self.url}|{self.version}"


# ---------------------------------------------------------------------------- reading
def load_questionnaire(path_or_text: str | os.PathLike[str] | Mapping[str, Any]) -> Questionnaire:
    """Read and check a questionnaire definition (FHIR R4 ``Questionnaire`` JSON).

    This is how a practice brings in an instrument it holds a licence for: the
    file is checked item by item before it can be sent to a patient.

    Parameters
    ----------
    path_or_text : path, JSON text or mapping
        A ``.json`` file, the JSON itself (text starting with ``{``), or the
        already parsed JSON object.

    Returns
    -------
    Questionnaire

    Raises
    ------
    InputError
        ``path_or_text`` is none of these.
    FormatError
        The file cannot be read, is not UTF-8 or not JSON, or the definition
        breaks a rule: the message names where (``item[3].answerOption[1]``),
        what was expected and what was found.
    UnsafeInputError
        The file is larger than 2 MiB or its items nest deeper than 8 levels.

    Examples
    --------
    >>> q = load_questionnaire('''{"resourceType": "Questionnaire", "url": "urn:example:q",
    ...   "version": "1", "name": "Example", "title": "Example", "status": "draft",
    ...   "item": [{"linkId": "mood", "text": "Mood today?", "type": "integer"}]}''')
    >>> [item.link_id for item in q.walk()]
    ['mood']
    """
    if isinstance(path_or_text, Mapping):
        return parse_questionnaire(copy.deepcopy(dict(path_or_text)), "questionnaire")
    if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{"):
        return parse_questionnaire(_json(path_or_text, "questionnaire text"), "questionnaire text")
    if not isinstance(path_or_text, str | os.PathLike):
        raise InputError("path_or_text must be a path, JSON text or a mapping; got "
                         f"{type(path_or_text).__name__}")
    path = check_path(path_or_text, "path_or_text")
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            raise UnsafeInputError(f"{path}: {size} bytes; a questionnaire definition may be at "
                                   f"most {_MAX_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read the file ({exc.strerror or exc}); expected a "
                          "FHIR Questionnaire as JSON") from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: byte {exc.start} is not UTF-8 text; expected a FHIR "
                          "Questionnaire as JSON") from None
    return parse_questionnaire(_json(text, str(path)), str(path))


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{where}: not valid JSON (line {exc.lineno} column {exc.colno}: "
                          f"{exc.msg})") from None
    except RecursionError:
        raise UnsafeInputError(f"{where}: the JSON nests too deeply") from None


def _found(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_questionnaire(data: Any, where: str) -> Questionnaire:
    """Check parsed JSON as a questionnaire definition (see :func:`load_questionnaire`).

    Raises
    ------
    FormatError
        A rule is broken; the message starts with ``where`` and the path.
    """
    def fail(path: str, message: str) -> FormatError:
        return FormatError(f"{where}: {path}: {message}" if path else f"{where}: {message}")

    if not isinstance(data, dict):
        raise fail("", f"expected a JSON object (a FHIR Questionnaire); got {_found(data)}")
    if data.get("resourceType") != "Questionnaire":
        raise fail("resourceType",
                   f"expected 'Questionnaire'; got {_found(data.get('resourceType'))}")
    _check_characters(data, "", fail)
    texts = {}
    for key in ("url", "version", "name", "title", "status"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise fail(key, f"expected a non-empty text; got {_found(value)}")
        texts[key] = value
    if any(c.isspace() for c in texts["url"]):
        raise fail("url", f"expected a URI (no spaces); got {_found(texts['url'])}")
    if texts["status"] not in _STATUSES:
        raise fail("status",
                   f"expected one of {', '.join(_STATUSES)}; got {_found(texts['status'])}")
    raw_items = data.get("item")
    if not isinstance(raw_items, list) or not raw_items:
        raise fail("item", f"expected a list of at least one item; got {_found(raw_items)}")
    seen: dict[str, str] = {}
    items = tuple(_item(raw, f"item[{i}]", 1, seen, fail) for i, raw in enumerate(raw_items))
    if len(seen) > _MAX_ITEMS:
        raise UnsafeInputError(f"{where}: {len(seen)} items; at most {_MAX_ITEMS} are read")
    questionnaire = Questionnaire(url=texts["url"], version=texts["version"], name=texts["name"],
                                  title=texts["title"], status=texts["status"], items=items,
                                  scoring=None, definition=data)
    blocks = [e for e in _extensions(data, "extension", fail) if e.get("url") == SCORING]
    if len(blocks) > 1:
        raise fail("extension", f"the scoring extension ({SCORING}) appears {len(blocks)} times")
    if blocks:
        scoring = _scoring(blocks[0], questionnaire, fail)
        questionnaire = Questionnaire(url=texts["url"], version=texts["version"],
                                      name=texts["name"], title=texts["title"],
                                      status=texts["status"], items=items, scoring=scoring,
                                      definition=data)
    return questionnaire


_Fail = Any  # the error factory passed down: fail(path, message) -> FormatError
#: gutaxis's limit on a ``linkId`` (it names a field of the portal's form, and is stored
#: with each answer): far above any real questionnaire's.
_MAX_LINK_ID = 255
#: FHIR's ``code``: single spaces between non-space characters only.
_FHIR_CODE = re.compile(r"[^\s]+( [^\s]+)*")
#: The characters FHIR's ``string`` allows below U+0020: tab, line feed, carriage return.
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _check_characters(node: Any, path: str, fail: _Fail) -> None:
    """Refuse a control character in any text of the definition (names, keys included).

    FHIR's ``string`` may not hold characters below U+0020 but tab, line feed
    and carriage return.  A NUL in a ``linkId`` went into the portal form's
    field names, which a browser sends back changed: the answer was lost.
    """
    stack: list[tuple[Any, str]] = [(node, path)]
    while stack:
        value, where = stack.pop()
        texts: list[tuple[str, str]] = []
        if isinstance(value, str):
            texts.append((value, where))
        elif isinstance(value, dict):
            for key, child in value.items():
                child_path = f"{where}.{key}" if where else str(key)
                texts.append((str(key), child_path))
                stack.append((child, child_path))
        elif isinstance(value, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(value))
        for text, at in texts:
            bad = next((c for c in text if c < " " and c not in _ALLOWED_CONTROLS), None)
            if bad is not None:
                raise fail(at, f"holds the control character U+{ord(bad):04X} (at character "
                               f"{text.index(bad) + 1}); FHIR text may hold none but tab and "
                               "line breaks")


def _extensions(node: Mapping[str, Any], path: str, fail: _Fail) -> list[dict[str, Any]]:
    value = node.get("extension", [])
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise fail(path, f"expected a list of extensions; got {_found(value)}")
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _item(raw: Any, path: str, depth: int, seen: dict[str, str], fail: _Fail) -> Item:
    if depth > _MAX_DEPTH:
        raise UnsafeInputError(f"{path}: items nest deeper than {_MAX_DEPTH} levels")
    if not isinstance(raw, dict):
        raise fail(path, f"expected an item (a JSON object); got {_found(raw)}")
    link_id = raw.get("linkId")
    if not isinstance(link_id, str) or not link_id.strip():
        raise fail(f"{path}.linkId", f"expected a non-empty text; got {_found(link_id)}")
    if any(c in link_id for c in "\t\r\n"):  # a browser sends a field name's line breaks back
        raise fail(f"{path}.linkId", f"{_found(link_id)} holds a tab or a line break; a linkId "
                   "names a field of the portal's form, whose name a browser changes")
    if len(link_id) > _MAX_LINK_ID:
        raise fail(f"{path}.linkId", f"expected at most {_MAX_LINK_ID} characters; got "
                   f"{len(link_id)}")
    if link_id in seen:
        raise fail(f"{path}.linkId", f"{link_id!r} is used twice (first at {seen[link_id]})")
    seen[link_id] = path
    kind = raw.get("type")
    if kind not in ITEM_TYPES:
        raise fail(f"{path}.type", f"expected one of {', '.join(ITEM_TYPES)}; got {_found(kind)}")
    text = raw.get("text")
    if text is not None and not isinstance(text, str):
        raise fail(f"{path}.text", f"expected a text; got {_found(text)}")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise fail(f"{path}.required", f"expected true or false; got {_found(required)}")
    if raw.get("repeats", False) is not False:
        raise fail(f"{path}.repeats", "gutaxis takes one answer per item; expected false or "
                   f"absent; got {_found(raw.get('repeats'))}")
    children = raw.get("item", [])
    if kind == "group":
        if not isinstance(children, list) or not children:
            raise fail(f"{path}.item", "a group needs a list of at least one item; got "
                       f"{_found(children)}")
        sub = tuple(_item(c, f"{path}.item[{i}]", depth + 1, seen, fail)
                    for i, c in enumerate(children))
        return Item(link_id, text, kind, required, path, items=sub)
    if children:
        raise fail(f"{path}.item", f"only a group has items; this item's type is {kind!r}")
    if kind == "display" and not text:
        raise fail(f"{path}.text", "a display item needs its text")
    options: tuple[AnswerOption, ...] = ()
    if kind == "choice":
        options = _options(raw.get("answerOption"), path, fail)
    elif "answerOption" in raw:
        raise fail(f"{path}.answerOption", f"only a choice item has answer options; this "
                   f"item's type is {kind!r}")
    low = high = None
    for url, name in ((MIN_VALUE, "minValue"), (MAX_VALUE, "maxValue")):
        found = [e for e in _extensions(raw, f"{path}.extension", fail) if e.get("url") == url]
        if not found:
            continue
        if kind not in ("integer", "decimal"):
            raise fail(f"{path}.extension[{name}]", f"only an integer or decimal item has a "
                       f"{name}; this item's type is {kind!r}")
        key = "valueInteger" if kind == "integer" else "valueDecimal"
        value = found[0].get(key)
        number = _number(value)
        if number is None or (kind == "integer" and not float(number).is_integer()):
            raise fail(f"{path}.extension[{name}]", f"expected {key} with a number; got "
                       f"{_found({k: v for k, v in found[0].items() if k != 'url'})}")
        if name == "minValue":
            low = number
        else:
            high = number
    if low is not None and high is not None and not low < high:
        raise fail(f"{path}.extension", f"minValue ({low:g}) must be below maxValue ({high:g})")
    return Item(link_id, text, kind, required, path, options=options, min_value=low,
                max_value=high)


def _score_of(option: Mapping[str, Any], coding: Mapping[str, Any], path: str,
              fail: _Fail) -> float | None:
    """Return the score an option carries (ordinalValue or itemWeight), or None."""
    for holder, where in ((option, path), (coding, f"{path}.valueCoding")):
        for ext in _extensions(holder, f"{where}.extension", fail):
            if ext.get("url") in (ORDINAL_VALUE, _ORDINAL_VALUE_OLD, ITEM_WEIGHT):
                number = _number(ext.get("valueDecimal", ext.get("valueInteger")))
                if number is None:
                    shown = {k: v for k, v in ext.items() if k != "url"}
                    raise fail(where, "expected ordinalValue or itemWeight with a number "
                               f"(valueDecimal); got {_found(shown)}")
                return number
    return None


def _options(raw: Any, path: str, fail: _Fail) -> tuple[AnswerOption, ...]:
    if not isinstance(raw, list) or not raw:
        raise fail(f"{path}.answerOption", "a choice item needs a list of at least one answer "
                   f"option; got {_found(raw)}")
    options = []
    codes: dict[str, int] = {}
    for k, entry in enumerate(raw):
        where = f"{path}.answerOption[{k}]"
        coding = entry.get("valueCoding") if isinstance(entry, dict) else None
        if not isinstance(coding, dict) or not isinstance(coding.get("code"), str) \
                or not coding["code"].strip():
            raise fail(where, "expected valueCoding with a code (gutaxis reads coded answers "
                       f"only); got {_found(entry)}")
        code = coding["code"]
        if not _FHIR_CODE.fullmatch(code):
            raise fail(f"{where}.valueCoding.code", "expected a FHIR code (no tab, line break, "
                       f"double space or space at either end); got {_found(code)}")
        if code in codes:
            raise fail(where, f"code {code!r} is used twice (first at answerOption[{codes[code]}])")
        codes[code] = k
        display, system = coding.get("display"), coding.get("system")
        if display is not None and not isinstance(display, str):
            raise fail(f"{where}.valueCoding.display", f"expected a text; got {_found(display)}")
        if system is not None and not isinstance(system, str):
            raise fail(f"{where}.valueCoding.system", f"expected a uri; got {_found(system)}")
        options.append(AnswerOption(code, display, system, _score_of(entry, coding, where, fail)))
    return tuple(options)


def _parts(block: Mapping[str, Any], path: str, fail: _Fail) -> dict[str, list[dict[str, Any]]]:
    """Group the sub-extensions of a complex extension by their url."""
    parts: dict[str, list[dict[str, Any]]] = {}
    for ext in _extensions(block, path, fail):
        url = ext.get("url")
        if not isinstance(url, str):
            raise fail(path, f"every part needs a url; got {_found(ext)}")
        parts.setdefault(url, []).append(ext)
    return parts


def _one(parts: Mapping[str, list[dict[str, Any]]], name: str, key: str, path: str, fail: _Fail,
         *, required: bool = True) -> Any:
    found = parts.get(name, [])
    if len(found) > 1:
        raise fail(f"{path}.{name}", f"given {len(found)} times; expected once")
    if not found:
        if required:
            raise fail(f"{path}.{name}", f"missing; expected a part with url {name!r} and {key}")
        return None
    value = found[0].get(key)
    if value is None:
        raise fail(f"{path}.{name}", f"expected {key}; got {_found(found[0])}")
    return value


def _text(parts: Mapping[str, list[dict[str, Any]]], name: str, path: str, fail: _Fail,
          *, required: bool = True) -> str | None:
    value = _one(parts, name, "valueString", path, fail, required=required)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise fail(f"{path}.{name}", f"expected a non-empty valueString; got {_found(value)}")
    return value if isinstance(value, str) else None


def _mid(parts: Mapping[str, list[dict[str, Any]]], path: str,
         fail: _Fail) -> MinimalImportantDifference | None:
    found = parts.get("mid", [])
    if not found:
        return None
    if len(found) > 1:
        raise fail(f"{path}.mid", f"given {len(found)} times; expected once")
    inner = _parts(found[0], f"{path}.mid", fail)
    value = _number(_one(inner, "value", "valueDecimal", f"{path}.mid", fail))
    if value is None or value <= 0:
        raise fail(f"{path}.mid.value", "expected a number above 0; got "
                   f"{_found(inner['value'][0].get('valueDecimal'))}")
    source = _text(inner, "source", f"{path}.mid", fail)
    return MinimalImportantDifference(value, str(source))


def _range(items: list[Item], method: str) -> tuple[float, float]:
    ranges = [i.score_range for i in items]
    lows = [r[0] for r in ranges if r is not None]
    highs = [r[1] for r in ranges if r is not None]
    if method == "sum":
        return (sum(lows), sum(highs))
    return (sum(lows) / len(lows), sum(highs) / len(highs))


def _scoring(block: Mapping[str, Any], q: Questionnaire, fail: _Fail) -> Scoring:
    path = "extension[scoring]"
    parts = _parts(block, path, fail)
    method = _one(parts, "method", "valueCode", path, fail)
    if method not in ("sum", "mean"):
        raise fail(f"{path}.method", f"expected 'sum' or 'mean'; got {_found(method)}")
    direction = _one(parts, "direction", "valueCode", path, fail)
    if direction not in DIRECTIONS:
        raise fail(f"{path}.direction", f"expected one of {', '.join(DIRECTIONS)}; got "
                   f"{_found(direction)}")
    by_id = {i.link_id: i for i in q.walk()}
    listed = [e.get("valueString") for e in parts.get("scoredItem", [])]
    if listed:
        for k, link_id in enumerate(listed):
            if link_id not in by_id or by_id[link_id].type not in SCORABLE_TYPES:
                raise fail(f"{path}.scoredItem[{k}]", f"{_found(link_id)} is not a choice, "
                           "integer, decimal or boolean item of the questionnaire")
        scored = [by_id[str(link_id)] for link_id in listed]
    else:
        scored = [i for i in q.walk() if i.type in SCORABLE_TYPES]
    if not scored:
        raise fail(path, "the questionnaire has no item that can be scored")
    for item in scored:
        if item.type == "choice":
            for k, option in enumerate(item.options):
                if option.score is None:
                    raise fail(f"{item.path}.answerOption[{k}]", "expected ordinalValue "
                               f"(extension {ORDINAL_VALUE}) or itemWeight with a number; "
                               "found none")
        elif item.type in ("integer", "decimal") and item.score_range is None:
            raise fail(item.path, "a scored number item needs minValue and maxValue extensions")
    minimum, maximum = _range(scored, method)
    for name, expected in (("minimum", minimum), ("maximum", maximum)):
        declared = _number(_one(parts, name, "valueDecimal", path, fail))
        if declared is None or not math.isclose(declared, expected, abs_tol=1e-9):
            raise fail(f"{path}.{name}", f"expected {expected:g} (what the scored items allow); "
                       f"got {_found(parts[name][0].get('valueDecimal'))}")
    share_raw = _one(parts, "minimumAnswered", "valueDecimal", path, fail, required=False)
    share = 0.8 if share_raw is None else _number(share_raw)
    if share is None or not 0 < share <= 1:
        raise fail(f"{path}.minimumAnswered", f"expected a number above 0 and at most 1; got "
                   f"{_found(share_raw)}")
    mid = _mid(parts, path, fail)
    mid_note = _text(parts, "midNote", path, fail, required=False)
    if mid is None and mid_note is None:
        raise fail(path, "expected a mid (value and source) or a midNote saying why none is "
                   "given; found neither")
    scored_ids = [i.link_id for i in scored]
    subscales = []
    names: set[str] = set()
    for k, sub in enumerate(parts.get("subscale", [])):
        where = f"{path}.subscale[{k}]"
        inner = _parts(sub, where, fail)
        sub_name = str(_text(inner, "name", where, fail))
        if sub_name in names:
            raise fail(f"{where}.name", f"{sub_name!r} is used twice")
        names.add(sub_name)
        members = [e.get("valueString") for e in inner.get("item", [])]
        if not members:
            raise fail(where, "a subscale needs at least one item part (valueString: a linkId)")
        for link_id in members:
            if link_id not in scored_ids:
                raise fail(where, f"item {_found(link_id)} is not a scored item (scored items: "
                           f"{', '.join(scored_ids)})")
        low, high = _range([by_id[str(m)] for m in members], method)
        subscales.append(Subscale(sub_name, _text(inner, "title", where, fail,
                                                  required=False) or sub_name,
                                  tuple(str(m) for m in members), low, high,
                                  _mid(inner, where, fail)))
    if "total" in names:
        raise fail(path, "a subscale may not be named 'total' (the name of the whole score)")
    licence = _text(parts, "licence", path, fail)
    source = _text(parts, "source", path, fail)
    return Scoring(method=str(method), link_ids=tuple(scored_ids), minimum=minimum,
                   maximum=maximum, direction=str(direction), minimum_answered=float(share),
                   mid=mid, mid_note=mid_note, subscales=tuple(subscales), licence=str(licence),
                   source=str(source))


def bundled_questionnaires() -> dict[str, Questionnaire]:
    """Return the questionnaires shipped with gutaxis, by ``name``.

    Only instruments whose terms allow it are shipped (their licence and source
    are in each definition's scoring extension): the Bristol Stool Form Scale
    in descriptions written for gutaxis, and a short gut-symptom check-in
    written for gutaxis and not validated.  Instruments under licence are
    brought in by the practice with :func:`load_questionnaire`.

    Returns
    -------
    dict of str to Questionnaire

    Examples
    --------
    >>> sorted(bundled_questionnaires())
    ['BristolStoolForm', 'GutSymptomCheckIn']
    """
    from importlib import resources

    folder = resources.files("gutaxis.knowledge").joinpath("questionnaires")
    found: dict[str, Questionnaire] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        where = f"gutaxis/knowledge/questionnaires/{entry.name}"
        questionnaire = parse_questionnaire(_json(entry.read_text("utf-8"), where), where)
        found[questionnaire.name] = questionnaire
    return found
