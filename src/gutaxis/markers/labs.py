"""Lab results of patients (``LABS.csv``): one row per result, with the lab's own range.

The file is comma- or tab-separated, UTF-8 (with or without BOM), with a header::

    sample_id,marker,value,unit,ref_low,ref_high,assay
    P01,calprotectin,85,ug/g,0,50,Bühlmann fCAL ELISA
    P01,hs-CRP,0.21,mg/dL,,,
    P01,LPS,<0.5,ng/mL,,,

``sample_id``, ``marker``, ``value`` and ``unit`` are required; ``ref_low``,
``ref_high`` and ``assay`` are optional (as columns, and per row).  So are the
columns a FHIR import writes (:func:`gutaxis.fhir.read_lab_bundle`):
``effective``, ``specimen``, ``interpretation``, ``status``, ``source`` and
``report`` — free text kept as read.  See :func:`read_labs`.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import math
import re
from pathlib import Path

import pandas as pd

from gutaxis.exceptions import FormatError, NotFoundError, UnitError, ValidationError
from gutaxis.knowledge import MarkerCatalog, MarkerEntry, load_marker_catalog
from gutaxis.markers._result import MarkerResult
from gutaxis.markers.units import conversion_factor, parse_unit

__all__ = ["LabResults", "read_labs", "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS", "TABLE_COLUMNS",
           "FHIR_COLUMNS"]

REQUIRED_COLUMNS = ("sample_id", "marker", "value", "unit")
#: Columns written by a FHIR import (:func:`gutaxis.fhir.read_lab_bundle`), kept as text.
FHIR_COLUMNS = ("effective", "specimen", "interpretation", "status", "source", "report")
OPTIONAL_COLUMNS = ("ref_low", "ref_high", "assay", *FHIR_COLUMNS)
#: Columns of :attr:`LabResults.table` (index: ``sample_id``, ``marker``).
TABLE_COLUMNS = ("value", "unit", "censored", "original_value", "original_unit",
                 "ref_low", "ref_high", "assay", "line", *FHIR_COLUMNS)

def _scaled(value: float, factor: float) -> float:
    """``value * factor`` without float noise (0.21 mg/dL → 2.1 mg/L, not 2.1000000000000005)."""
    return float(f"{value * factor:.12g}")


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_CENSORED = re.compile(r"([<>])\s*(.*)")


@dataclasses.dataclass(frozen=True, eq=False)
class LabResults:
    """The results of a ``LABS.csv`` file, in the catalogue's units.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per result, indexed by (``sample_id``, ``marker``) — the
        marker's catalogue id — in file order.  Columns: ``value`` (float, in
        ``unit``), ``unit`` (the catalogue unit, canonical spelling),
        ``censored`` (``"<"``, ``">"`` or ``""``), ``original_value`` and
        ``original_unit`` (as written in the file), ``ref_low`` / ``ref_high``
        (the lab's range converted to ``unit``; NaN when not given),
        ``assay`` (``""`` when not given), ``line`` (line number in the file),
        and the columns of a FHIR import, ``effective`` (the time the sample
        was taken, ISO 8601 as the lab wrote it), ``specimen``,
        ``interpretation`` (the lab's flags, e.g. ``"H"``), ``status``
        (``final``, ``amended``, ``corrected``), ``source`` (the FHIR
        resource, ``Observation/…``) and ``report`` (its
        ``DiagnosticReport``) — text, ``""`` when the file does not have them.
    path : str
        The file read.
    sha256 : str
        SHA-256 of the file's bytes (provenance).
    catalog : MarkerCatalog
        The marker catalogue the names were matched against.
    """

    table: pd.DataFrame
    path: str
    sha256: str
    catalog: MarkerCatalog = dataclasses.field(repr=False)

    def __len__(self) -> int:
        """Return the number of lab results (rows)."""
        return len(self.table)

    @property
    def samples(self) -> list[str]:
        """Sample ids, in the order they first appear in the file."""
        return list(dict.fromkeys(self.table.index.get_level_values("sample_id")))

    @property
    def markers(self) -> list[str]:
        """Catalogue ids of the markers present, in order of first appearance."""
        return list(dict.fromkeys(self.table.index.get_level_values("marker")))

    def for_sample(self, sample_id: str) -> pd.DataFrame:
        """Return the results of one sample, indexed by marker id (a copy).

        Raises
        ------
        NotFoundError
            ``sample_id`` has no result in the file.
        """
        if sample_id not in self.samples:
            raise NotFoundError("sample id", [sample_id], self.path, available=self.samples)
        rows = self.table[self.table.index.get_level_values("sample_id") == sample_id]
        return rows.droplevel("sample_id").copy()

    def entry(self, marker_id: str) -> MarkerEntry:
        """Return the catalogue entry of a marker id of :attr:`table`.

        Parameters
        ----------
        marker_id : str

        Returns
        -------
        MarkerEntry

        Raises
        ------
        NotFoundError
            Not a marker of the catalogue.
        """
        found = self.catalog.find(marker_id)
        if found is None:
            raise NotFoundError("marker id", [marker_id], "the marker catalogue",
                                available=[e.id for e in self.catalog.markers])
        return found[0]

    def results(self, sample_id: str) -> list[MarkerResult]:
        """Return the results of one sample, in file order.

        Parameters
        ----------
        sample_id : str

        Returns
        -------
        list of MarkerResult
            Values in the catalogue's units; ``origin`` names the file, the
            line and the value as written.

        Raises
        ------
        NotFoundError
            ``sample_id`` has no result in the file.
        """
        out = []
        for marker_id, row in self.for_sample(sample_id).iterrows():
            entry = self.entry(str(marker_id))
            out.append(MarkerResult(
                name=entry.name, entry=entry, value=float(row["value"]), unit=str(row["unit"]),
                censored=row["censored"] or None,
                ref_low=None if math.isnan(row["ref_low"]) else float(row["ref_low"]),
                ref_high=None if math.isnan(row["ref_high"]) else float(row["ref_high"]),
                assay=row["assay"] or None,
                origin=(f"{self.path}: line {row['line']}: reported as {row['original_value']} "
                        f"{row['original_unit']}")))
        return out


def _decode(raw: bytes, path: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError(f"{path}: the file is UTF-16; save it as UTF-8 "
                          "(in Excel: 'CSV UTF-8 (comma delimited)')")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FormatError(f"{path}: line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8 "
                          "text; save the file as UTF-8 (in Excel: 'CSV UTF-8 (comma "
                          "delimited)'; a Latin-1/Windows-1252 file converts with `iconv -f "
                          "cp1252 -t utf-8`)") from None


def _number(text: str, *, where: str, field: str) -> float:
    """Parse a non-negative finite number; a ValidationError names where and which field."""
    if not _NUMBER.fullmatch(text):
        hint = ""
        if re.fullmatch(r"\d+,\d+", text):
            hint = " (use a point as the decimal separator)"
        elif text[:1] in "<>≤≥":
            hint = f" (give the number only, e.g. {text.lstrip('<>≤≥= ')!r})"
        raise ValidationError(f"{where}: field {field!r} must be a number; got {text!r}{hint}")
    value = float(text)
    if not math.isfinite(value):
        raise ValidationError(f"{where}: field {field!r} is not finite: {text!r}")
    if value < 0:
        raise ValidationError(f"{where}: field {field!r} is negative ({text}); "
                              "concentrations and ratios cannot be negative")
    return value


def _header(cells: list[str], path: str, line: int) -> dict[str, int]:
    names = [re.sub(r"[\s\-]+", "_", c.strip().casefold()) for c in cells]
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    where = f"{path}: line {line}"
    if any(not n for n in names):
        raise FormatError(f"{where}: the header has an empty column name; expected "
                          f"{', '.join(known)}")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise FormatError(f"{where}: column(s) named twice in the header: "
                          f"{', '.join(duplicated)}")
    unknown = [c for c, n in zip(cells, names, strict=True) if n not in known]
    if unknown:
        raise FormatError(f"{where}: unknown column(s) {', '.join(map(repr, unknown))}; "
                          f"the columns are {', '.join(REQUIRED_COLUMNS)} (required) and "
                          f"{', '.join(OPTIONAL_COLUMNS)} (optional)")
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if missing:
        raise FormatError(f"{where}: missing required column(s) {', '.join(missing)}; the "
                          f"header must name {', '.join(REQUIRED_COLUMNS)} (and optionally "
                          f"{', '.join(OPTIONAL_COLUMNS)})")
    return {n: i for i, n in enumerate(names)}


def _row(cells: list[str], cols: dict[str, int], catalog: MarkerCatalog, where: str,
         line: int) -> tuple[tuple[str, str], dict[str, object]]:
    """One result row, validated and converted to the catalogue unit."""

    def cell(name: str) -> str:
        i = cols.get(name)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    for name in ("sample_id", "marker", "value", "unit"):
        if not cell(name):
            raise ValidationError(f"{where}: field {name!r} is empty")
    marker = cell("marker")
    found = catalog.find(marker)
    if found is None:
        raise ValidationError(
            f"{where}: field 'marker': unknown marker {marker!r}; the marker catalogue knows "
            f"{', '.join(e.id for e in catalog.markers)} (matched by id, name or alias, "
            "ignoring case, spaces, '-', '_' and '.')")
    entry, carried = found
    unit_text = cell("unit")
    try:
        unit = parse_unit(unit_text)
        if carried is not None and parse_unit(carried).text != unit.text:
            raise ValidationError(f"{where}: marker {marker!r} carries the unit {carried} in "
                                  f"its name, but field 'unit' says {unit_text!r}")
        factor = conversion_factor(unit, entry.unit)
    except UnitError as exc:
        raise UnitError(f"{where}: field 'unit' ({entry.id}): {exc}") from None
    raw_value = cell("value")
    censored = ""
    number = raw_value
    match = _CENSORED.fullmatch(raw_value)
    if match:
        censored, number = match.group(1), match.group(2).strip()
    value = _number(number, where=where, field="value")
    if censored == "<" and value == 0:
        raise ValidationError(f"{where}: field 'value' is {raw_value!r}; a value below 0 "
                              "cannot be interpreted")
    refs: dict[str, float] = {}
    for name in ("ref_low", "ref_high"):
        text = cell(name)
        refs[name] = (_scaled(_number(text, where=where, field=name), factor) if text
                      else math.nan)
    converted = _scaled(value, factor)
    for name, number_in_unit in (("value", converted), *refs.items()):
        if math.isinf(number_in_unit):  # finite as written, but not in the catalogue's unit
            raise ValidationError(
                f"{where}: field {name!r} ({cell(name)} {unit_text}) is too large to express "
                f"in {entry.unit} (it converts to infinity)")
    if refs["ref_low"] > refs["ref_high"]:  # False when either is NaN
        raise ValidationError(f"{where}: fields 'ref_low' ({cell('ref_low')}) and 'ref_high' "
                              f"({cell('ref_high')}): ref_low is above ref_high")
    record: dict[str, object] = {
        "value": converted, "unit": parse_unit(entry.unit).text, "censored": censored,
        "original_value": raw_value, "original_unit": unit_text,
        "ref_low": refs["ref_low"], "ref_high": refs["ref_high"], "assay": cell("assay"),
        "line": line, **{name: cell(name) for name in FHIR_COLUMNS}}
    return (cell("sample_id"), entry.id), record


def read_labs(path: str | Path, *, catalog: MarkerCatalog | None = None) -> LabResults:
    r"""Read a ``LABS.csv`` file: one lab result per row.

    Parameters
    ----------
    path : path
        Comma- or tab-separated (decided by the header line), UTF-8 with or
        without BOM.  Header (names case-insensitive; spaces and ``-`` count
        as ``_``): ``sample_id``, ``marker``, ``value``, ``unit`` (required),
        ``ref_low``, ``ref_high``, ``assay`` (optional; a cell may be empty),
        and the optional text columns a FHIR import writes, ``effective``,
        ``specimen``, ``interpretation``, ``status``, ``source``, ``report``
        (kept as read in :attr:`LabResults.table`; not checked).
        Blank lines are skipped; a cell holding the separator must be quoted.
    catalog : MarkerCatalog, optional
        Defaults to the bundled marker catalogue.

    Returns
    -------
    LabResults
        A new object; nothing is read into anything that exists.

    Raises
    ------
    FormatError
        Unreadable or non-UTF-8 file, no header, a missing required or an
        unknown column, a row with more cells than the header, no result rows.
    ValidationError
        An empty required cell, an unknown marker, a value or range bound that
        is not a number or is negative, ``ref_low`` above ``ref_high``, a
        (sample, marker) pair given twice.
    UnitError
        A unit that is unknown or does not convert to the catalogue's unit.

    Every message names the file, the line and the field.

    Notes
    -----
    ``marker`` is matched to the catalogue by id, name or alias, ignoring case
    and the separators `` ``, ``-``, ``_``, ``.`` (``"hs-CRP"``, ``"hscrp"``).
    Values and the lab's range are converted to the catalogue unit of the
    marker (``mg/dL`` CRP → ``mg/L``: ×10); the table keeps the value and
    unit as written.  A value written ``<0.5`` (below the limit of detection
    or quantification) or ``>1800`` (above the upper limit) is kept as
    *censored*: ``value`` is the limit (0.5), ``censored`` is ``"<"``; the
    true value is only known to lie below (above) it.  Two rows naming the
    same marker for the same sample (also through two aliases) are an error:
    which one to keep is the user's decision.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "LABS.csv"
    >>> _ = p.write_text("sample_id,marker,value,unit\nP1,hs-CRP,0.2,mg/dL\n")
    >>> read_labs(p).table[["value", "unit"]].round(6).to_dict("records")
    [{'value': 2.0, 'unit': 'mg/L'}]
    """
    catalog = catalog or load_marker_catalog()
    where_file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise FormatError(f"{where_file}: cannot read the lab results file ({exc})") from None
    text = _decode(raw, where_file)
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise FormatError(f"{where_file}: empty file; expected a header line "
                          f"'{','.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}'")
    header_line = lines[first]
    if header_line.lstrip().startswith(("{", "[")):
        raise FormatError(f"{where_file}: line {first + 1}: this is JSON, not a LABS.csv "
                          "table (a FHIR resource?); FHIR lab results are read with "
                          "`gutaxis labs import` (read_lab_bundle in Python)")
    if "\t" in header_line:
        sep = "\t"
    elif "," in header_line:
        sep = ","
    else:
        raise FormatError(f"{where_file}: line {first + 1}: the header is not comma- or "
                          f"tab-separated; got {header_line!r}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    cols: dict[str, int] | None = None
    keys: dict[tuple[str, str], int] = {}
    records: list[dict[str, object]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if cols is None:
                cols = _header(cells, where_file, line)
                continue
            where = f"{where_file}: line {line}"
            if len(cells) > len(cols):
                raise FormatError(f"{where}: {len(cells)} cells but the header has "
                                  f"{len(cols)} columns (quote a cell that holds "
                                  f"{'a tab' if sep == chr(9) else 'a comma'})")
            key, record = _row(cells, cols, catalog, where, line)
            if key in keys:
                raise ValidationError(
                    f"{where}: field 'marker': sample {key[0]!r} has marker {key[1]!r} "
                    f"twice (lines {keys[key]} and {line}); keep one result per sample and "
                    "marker")
            keys[key] = line
            records.append(record)
    except csv.Error as exc:
        raise FormatError(f"{where_file}: line {reader.line_num}: {exc}") from None
    if not records:
        raise FormatError(f"{where_file}: a header but no result rows")
    index = pd.MultiIndex.from_tuples(list(keys), names=["sample_id", "marker"])
    table = pd.DataFrame(records, index=index, columns=list(TABLE_COLUMNS))
    table = table.astype({"value": float, "ref_low": float, "ref_high": float, "line": int})
    return LabResults(table, where_file, hashlib.sha256(raw).hexdigest(), catalog)
