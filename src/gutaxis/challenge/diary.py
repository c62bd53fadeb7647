"""The diary and the challenges: ``DIARY.csv`` and ``CHALLENGES.csv``, read and checked.

``DIARY.csv`` is a long table, one observation per row::

    time,kind,item,value
    2026-03-01T08:10,food,wheat bread,usual
    2026-03-01T21:00,symptom,bloating,4
    2026-03-02T07:30,stool,bristol,4

``CHALLENGES.csv`` has one row per challenge, or per step of a challenge
whose portion rises day by day::

    food_group,start,end,portion,sham
    fructans,2026-03-15,2026-03-15,small,false
    fructans,2026-03-16,2026-03-16,usual,false
    fructans,2026-03-17,2026-03-17,large,false
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from gutaxis.checks import check_path, check_type
from gutaxis.exceptions import FormatError, ValidationError

__all__ = ["KINDS", "PORTIONS", "Diary", "Challenge", "ChallengeStep", "read_diary",
           "read_challenges", "diary_from_rows", "challenges_from_steps", "diary_csv",
           "challenges_csv"]

#: The kinds of diary rows, and what their ``value`` holds.
KINDS: dict[str, str] = {
    "food": "the portion: small, usual or large, or a number of servings (empty: usual)",
    "symptom": "the score from 0 (none) to 10 (worst)",
    "stool": "the Bristol stool form type, a whole number from 1 to 7",
    "sleep": "hours slept, from 0 to 24",
    "stress": "the stress score from 0 (none) to 10 (worst)",
    "medication": "the dose as written (any text; may be empty)",
}

#: Portion words, smallest first.
PORTIONS = ("small", "usual", "large")

#: The years a diary may name (pandas' timestamps hold 1677–2262).
_FIRST_YEAR, _LAST_YEAR = 1900, 2200
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f", ""}


@dataclasses.dataclass(frozen=True)
class Diary:
    """A food-and-symptom diary in the long layout.

    Attributes
    ----------
    entries : pandas.DataFrame
        Columns ``time`` (datetime64, the wall-clock time as written),
        ``kind``, ``item`` and ``value`` (a float for symptom, stool, sleep and
        stress rows; the text for food and medication rows), ``line`` (the
        file's line, 0 when the row did not come from a file); sorted by time.
    source : str
        Where it came from (a path, or a description).
    """

    entries: pd.DataFrame
    source: str

    def symptoms(self) -> pd.DataFrame:
        """Return the symptom rows: ``time``, ``item``, ``score``."""
        rows = self.entries[self.entries["kind"] == "symptom"]
        return pd.DataFrame({"time": rows["time"].to_numpy(), "item": rows["item"].to_numpy(),
                             "score": rows["value"].astype(float).to_numpy()})

    def foods(self) -> pd.DataFrame:
        """Return the food rows: ``time``, ``item``, ``portion``."""
        rows = self.entries[self.entries["kind"] == "food"]
        return pd.DataFrame({"time": rows["time"].to_numpy(), "item": rows["item"].to_numpy(),
                             "portion": rows["value"].to_numpy()})

    @property
    def symptom_names(self) -> list[str]:
        """The symptoms scored, in the order they first appear."""
        return list(dict.fromkeys(self.entries.loc[self.entries["kind"] == "symptom", "item"]))


@dataclasses.dataclass(frozen=True)
class ChallengeStep:
    """One step of a challenge: the days on which one portion was eaten."""

    start: dt.date
    end: dt.date
    portion: str
    line: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class Challenge:
    """A challenge: one food group (or its sham) eaten over consecutive days.

    Attributes
    ----------
    food_group : str
    sham : bool
        A blinded sham (placebo) challenge.
    steps : tuple of ChallengeStep
        In time order, each starting the day after the previous one ends.
    """

    food_group: str
    sham: bool
    steps: tuple[ChallengeStep, ...]

    @property
    def start(self) -> dt.date:
        """The first day."""
        return self.steps[0].start

    @property
    def end(self) -> dt.date:
        """The last day."""
        return self.steps[-1].end

    @property
    def days(self) -> int:
        """The number of days, first and last included."""
        return (self.end - self.start).days + 1

    def describe(self) -> str:
        """Return a short description (``"gluten 2026-03-15 to 2026-03-17"``)."""
        kind = "sham for " if self.sham else ""
        span = (f"{self.start}" if self.start == self.end else f"{self.start} to {self.end}")
        return f"{kind}{self.food_group} {span}"


def _parse_time(text: str, where: str, field: str) -> dt.datetime:
    """Parse an ISO 8601 date or date-time; an offset is dropped (wall-clock time kept)."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{where}: field {field!r}: expected an ISO 8601 date or time "
                              f"such as 2026-03-01 or 2026-03-01T08:30; got {text!r}") from None
    if not _FIRST_YEAR <= value.year <= _LAST_YEAR:
        raise ValidationError(f"{where}: field {field!r}: the year {value.year} is outside "
                              f"{_FIRST_YEAR}–{_LAST_YEAR}; got {text!r}")
    return value.replace(tzinfo=None)


def _check_text(text: str, where: str, field: str) -> str:
    """Refuse control characters (a NUL byte, a line break inside a cell)."""
    bad = next((c for c in text if ord(c) < 32 and c != "\t" or ord(c) == 127), None)
    if bad is not None:
        hint = (" (a quote opened and never closed?)" if bad in "\r\n" else "")
        raise ValidationError(f"{where}: field {field!r} holds the control character "
                              f"U+{ord(bad):04X}{hint}; got {text[:60]!r}")
    return text


def _number(text: str, where: str, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValidationError(f"{where}: field {field!r}: expected a number; got {text!r}")
    return value


def _diary_value(kind: str, item: str, text: str, where: str) -> float | str:
    """Check one row's value for its kind; return it as stored."""
    if kind == "food":
        portion = text.casefold() or "usual"
        if portion in PORTIONS:
            return portion
        try:
            servings = float(text)
        except ValueError:
            servings = math.nan
        if not servings > 0 or not math.isfinite(servings):
            raise ValidationError(f"{where}: field 'value': a food portion must be small, usual, "
                                  f"large or a positive number of servings; got {text!r}")
        return text
    if kind == "medication":
        return text
    if not text:
        raise ValidationError(f"{where}: field 'value' is empty; a {kind} row needs "
                              f"{KINDS[kind]}")
    value = _number(text, where, "value")
    if kind == "stool":
        if value not in range(1, 8):
            raise ValidationError(f"{where}: field 'value': {KINDS['stool']}; got {text!r}")
    elif kind == "sleep":
        if not 0 <= value <= 24:
            raise ValidationError(f"{where}: field 'value': {KINDS['sleep']}; got {text!r}")
    elif not 0 <= value <= 10:
        raise ValidationError(f"{where}: field 'value': {kind} {item!r}: {KINDS[kind]}; "
                              f"got {text!r}")
    return value


def diary_from_rows(rows: Iterable[Sequence[object]], source: str = "diary") -> Diary:
    """Build a :class:`Diary` from ``(time, kind, item, value)`` rows, checked as a file's.

    Parameters
    ----------
    rows : iterable of (datetime or str, str, str, object)
        ``value`` may be a number or its text; ``None`` counts as empty.
    source : str
        Names the rows in error messages (``"{source}: row 3: ..."``).

    Raises
    ------
    ValidationError
        As :func:`read_diary`.

    Examples
    --------
    >>> import datetime as dt
    >>> d = diary_from_rows([(dt.datetime(2026, 3, 1, 21), "symptom", "bloating", 4)])
    >>> d.symptoms().to_dict("records")
    [{'time': Timestamp('2026-03-01 21:00:00'), 'item': 'bloating', 'score': 4.0}]
    """
    records = []
    if isinstance(rows, (str, bytes)):
        raise ValidationError(f"{source}: expected rows of (time, kind, item, value); got a "
                              "text")
    for number, row in enumerate(rows, start=1):
        where = f"{source}: row {number}"
        if isinstance(row, (str, bytes)) or not hasattr(row, "__len__") or len(row) != 4:
            raise ValidationError(f"{where}: expected (time, kind, item, value); got "
                                  f"{row!r}")
        time, kind, item, value = row
        when = (time.replace(tzinfo=None) if isinstance(time, dt.datetime)
                else _parse_time(str(time), where, "time"))
        records.append(_entry(when, str(kind), str(item), "" if value is None else
                              str(value), where, 0))
    return _diary(records, source)


def _entry(when: dt.datetime, kind: str, item: str, value: str, where: str,
           line: int) -> dict[str, object]:
    kind = _check_text(kind, where, "kind").strip().casefold()
    item = _check_text(item, where, "item").strip()
    value = _check_text(value, where, "value")
    if kind not in KINDS:
        raise ValidationError(f"{where}: field 'kind': expected one of {', '.join(KINDS)}; "
                              f"got {kind!r}")
    if not item:
        raise ValidationError(f"{where}: field 'item' is empty; name the food, symptom, "
                              "medication (or 'bristol', 'sleep', 'stress')")
    return {"time": when, "kind": kind, "item": item,
            "value": _diary_value(kind, item, value.strip(), where), "line": line}


def _diary(records: list[dict[str, object]], source: str) -> Diary:
    if not records:
        raise FormatError(f"{source}: no diary rows")
    # one name per symptom (and per food): "Bloating" and "bloating" are the same, written
    # as first seen
    spelling: dict[tuple[str, str], str] = {}
    for record in records:
        key = (str(record["kind"]), str(record["item"]).casefold())
        record["item"] = spelling.setdefault(key, str(record["item"]))
    frame = pd.DataFrame(records, columns=["time", "kind", "item", "value", "line"])
    frame["time"] = pd.to_datetime(frame["time"])
    frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    return Diary(frame, source)


def _table(path: str | Path, columns: tuple[str, ...], optional: tuple[str, ...],
           what: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, cells by column)`` of a comma- or tab-separated file."""
    path = check_path(path, what)
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise FormatError(f"{name}: cannot read the {what} ({exc.strerror or exc})") from None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise FormatError(f"{name}: the file is UTF-16; save the {what} as UTF-8 CSV (in "
                          "Excel: 'CSV UTF-8 (comma delimited)')")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FormatError(f"{name}: line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8 "
                          f"text; save the {what} as UTF-8 CSV") from None
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise FormatError(f"{name}: empty file; expected the header {','.join(columns)}")
    sep = "\t" if "\t" in lines[first] else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    header: list[str] | None = None
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip().casefold() for c in cells]
                unknown = [c for c in header if c not in columns + optional]
                missing = [c for c in columns if c not in header]
                if unknown or missing or len(set(header)) != len(header):
                    raise FormatError(
                        f"{name}: line {line}: expected the header {','.join(columns)}"
                        f"{' (optionally ' + ','.join(optional) + ')' if optional else ''}; "
                        f"got {','.join(cells)!r}")
                continue
            if len(cells) > len(header):
                raise FormatError(f"{name}: line {line}: {len(cells)} cells but the header "
                                  f"has {len(header)} columns (quote a cell that holds "
                                  f"{'a tab' if sep == chr(9) else 'a comma'})")
            yield line, {h: (cells[i].strip() if i < len(cells) else "")
                         for i, h in enumerate(header)}
    except csv.Error as exc:
        raise FormatError(f"{name}: line {reader.line_num}: {exc}") from None
    if header is None:  # pragma: no cover - the empty-file check comes first
        raise FormatError(f"{name}: no header")


def read_diary(path: str | Path) -> Diary:
    r"""Read ``DIARY.csv``: ``time,kind,item,value``, one observation per row.

    Parameters
    ----------
    path : path
        Comma- or tab-separated UTF-8 text (a BOM is allowed).  ``time`` is an
        ISO 8601 date or date-time (an offset such as ``+01:00`` is dropped:
        the wall-clock time is kept); ``kind`` is one of :data:`KINDS`, whose
        descriptions say what ``value`` holds.

    Returns
    -------
    Diary

    Raises
    ------
    FormatError
        Unreadable, not UTF-8, a wrong header, a row with too many cells, no
        rows.
    ValidationError
        A bad time, an unknown kind, an empty item, a value out of its range;
        the message names the file, the line and the field.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "DIARY.csv"
    >>> _ = p.write_text("time,kind,item,value\n2026-03-01T21:00,symptom,bloating,4\n")
    >>> read_diary(p).symptom_names
    ['bloating']
    """
    records = []
    for line, cells in _table(path, ("time", "kind", "item", "value"), (), "diary"):
        where = f"{path}: line {line}"
        if not cells["time"]:
            raise ValidationError(f"{where}: field 'time' is empty")
        when = _parse_time(cells["time"], where, "time")
        records.append(_entry(when, cells["kind"], cells["item"], cells["value"], where, line))
    diary = _diary(records, str(path))
    _warn_conflicting_scores(diary, str(path))
    return diary


def _warn_conflicting_scores(diary: Diary, source: str) -> None:
    """Warn about a symptom scored twice at the same moment with different scores.

    Both scores are kept (the day's mean uses both), but two rows of one
    moment that disagree are more likely a copy or typing error than two
    feelings; the lines are named so that the file can be checked.
    """
    import warnings

    entries = diary.entries
    scores = entries[entries["kind"] == "symptom"]
    for (when, item), group in scores.groupby(["time", "item"], sort=True):
        if group["value"].nunique() > 1:
            lines = ", ".join(str(n) for n in group["line"])
            values = ", ".join(f"{v:g}" for v in group["value"])
            warnings.warn(f"{source}: lines {lines} score {item!r} at the same moment "
                          f"({when:%Y-%m-%d %H:%M}) differently ({values}); both are kept and "
                          "averaged with the day's other scores: check the file",
                          stacklevel=3)


def _parse_bool(text: str, where: str) -> bool:
    lowered = text.casefold()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValidationError(f"{where}: field 'sham': expected true or false; got {text!r}")


def challenges_from_steps(steps: Iterable[tuple[str, ChallengeStep, bool]],
                          source: str = "challenges") -> list[Challenge]:
    """Group ``(food_group, step, sham)`` rows into challenges and check them.

    Consecutive rows of the same food group (and sham flag) whose step starts
    the day after the previous step ends form one challenge with rising
    portions; any other row starts a new challenge (a repeat of the same food
    is a new challenge).

    Raises
    ------
    ValidationError
        A step that ends before it starts, or two challenges that overlap in
        time (their effects could not be told apart).

    Examples
    --------
    >>> import datetime as dt
    >>> d = dt.date(2026, 3, 15)
    >>> steps = [("fructans", ChallengeStep(d, d, "small"), False),
    ...          ("fructans", ChallengeStep(d + dt.timedelta(1), d + dt.timedelta(1), "usual"),
    ...           False)]
    >>> [(c.food_group, c.days, [s.portion for s in c.steps]) for c in challenges_from_steps(steps)]
    [('fructans', 2, ['small', 'usual'])]
    """
    checked = []
    for row in steps:
        if not (isinstance(row, tuple) and len(row) == 3 and isinstance(row[1], ChallengeStep)):
            raise ValidationError(f"{source}: expected (food_group, ChallengeStep, sham) rows; "
                                  f"got {row!r}")
        checked.append(row)
    spelling: dict[str, str] = {}  # "Gluten" and "gluten" are one group, as first written
    checked = [(spelling.setdefault(group.strip().casefold(), group.strip()), step, sham)
               for group, step, sham in checked]
    ordered = sorted(checked, key=lambda s: (s[1].start, s[1].line))
    challenges: list[Challenge] = []
    for group, step, sham in ordered:
        where = f"{source}: line {step.line}" if step.line else source
        if step.end < step.start:
            raise ValidationError(f"{where}: field 'end' ({step.end}) is before field "
                                  f"'start' ({step.start})")
        if challenges:
            last = challenges[-1]
            if (last.food_group == group and last.sham == sham
                    and step.start == last.end + dt.timedelta(days=1)):
                challenges[-1] = Challenge(group, sham, last.steps + (step,))
                continue
            if step.start <= last.end:
                raise ValidationError(
                    f"{where}: the challenge of {group!r} from {step.start} overlaps the "
                    f"challenge {last.describe()!r}; challenges must not overlap, or their "
                    "effects cannot be told apart")
        challenges.append(Challenge(group, sham, (step,)))
    if not challenges:
        raise FormatError(f"{source}: no challenges")
    return challenges


def read_challenges(path: str | Path) -> list[Challenge]:
    """Read ``CHALLENGES.csv``: ``food_group,start,end,portion,sham``.

    Parameters
    ----------
    path : path
        Comma- or tab-separated UTF-8 text.  ``start`` and ``end`` are dates
        (the first and last day, both included; a time of day is ignored);
        ``portion`` is free text (``small``, ``1 slice``…; may be empty);
        ``sham`` is true for a blinded sham (placebo) challenge, false or empty
        otherwise.  Rows of rising portions on consecutive days form one
        challenge (:func:`challenges_from_steps`).

    Returns
    -------
    list of Challenge
        In time order.

    Raises
    ------
    FormatError, ValidationError
        As for :func:`read_diary`; overlapping challenges too.
    """
    steps = []
    for line, cells in _table(path, ("food_group", "start", "end"), ("portion", "sham"),
                              "challenges"):
        where = f"{path}: line {line}"
        if not _check_text(cells["food_group"], where, "food_group"):
            raise ValidationError(f"{where}: field 'food_group' is empty")
        _check_text(cells.get("portion", ""), where, "portion")
        for field in ("start", "end"):
            if not cells[field]:
                raise ValidationError(f"{where}: field {field!r} is empty")
        start = _parse_time(cells["start"], where, "start").date()
        end = _parse_time(cells["end"], where, "end").date()
        sham = _parse_bool(cells.get("sham", ""), where)
        steps.append((cells["food_group"], ChallengeStep(start, end, cells.get("portion", ""),
                                                         line), sham))
    return challenges_from_steps(steps, str(path))


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def diary_csv(diary: Diary) -> str:
    r"""Return ``diary`` as the text of a ``DIARY.csv`` (:func:`read_diary` reads it back).

    Examples
    --------
    >>> d = diary_from_rows([("2026-03-01T21:00", "symptom", "bloating", 4)])
    >>> print(diary_csv(d), end="")
    time,kind,item,value
    2026-03-01T21:00:00,symptom,bloating,4
    """
    check_type(diary, Diary, "diary")

    def text(value: object) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    rows = ((t.isoformat(), kind, item, text(value)) for t, kind, item, value in zip(
        diary.entries["time"], diary.entries["kind"], diary.entries["item"],
        diary.entries["value"], strict=True))
    return _csv_text(("time", "kind", "item", "value"), rows)


def challenges_csv(challenges: Sequence[Challenge]) -> str:
    """Return ``challenges`` as the text of a ``CHALLENGES.csv``, one row per step.

    Examples
    --------
    >>> d = dt.date(2026, 3, 15)
    >>> print(challenges_csv([Challenge("gluten", True, (ChallengeStep(d, d, "1 capsule"),))]),
    ...       end="")
    food_group,start,end,portion,sham
    gluten,2026-03-15,2026-03-15,1 capsule,true
    """
    for challenge in challenges:
        check_type(challenge, Challenge, "challenges[]")
    rows = ((c.food_group, s.start.isoformat(), s.end.isoformat(), s.portion,
             "true" if c.sham else "false") for c in challenges for s in c.steps)
    return _csv_text(("food_group", "start", "end", "portion", "sham"), rows)
