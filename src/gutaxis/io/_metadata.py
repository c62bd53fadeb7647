"""Sample metadata following the QIIME 2 metadata file rules (TSV; CSV accepted)."""

from __future__ import annotations

import csv
import io
import logging
import re
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.checks import check_type
from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.io._common import PathLike, as_path, read_record, read_text_file

__all__ = ["read_metadata", "numeric_typos", "metadata_source", "ID_HEADERS", "MISSING_VALUES"]

logger = logging.getLogger(__name__)

_ID_CASE_INSENSITIVE = {"id", "sampleid", "sample id", "sample-id", "featureid", "feature id",
                        "feature-id"}
_ID_EXACT = {"#SampleID", "#Sample ID", "#OTUID", "#OTU ID", "sample_name"}
#: Accepted names of the first (id) column, as QIIME 2 accepts them.
ID_HEADERS: tuple[str, ...] = (*sorted(_ID_CASE_INSENSITIVE), *sorted(_ID_EXACT))
#: Cells read as missing by default (besides empty cells).
MISSING_VALUES = frozenset({"NA", "N/A", "n/a", "NaN", "nan", "#N/A", "null", "NULL"})
_INSDC = frozenset({"not applicable", "missing", "not collected", "not provided",
                    "restricted access"})
_SCHEMES = ("blank", "INSDC:missing", "no-missing")
# Unambiguous (no nested or overlapping repeats), so matching is linear in the cell length.
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def _is_id_header(name: str) -> bool:
    return name in _ID_EXACT or name.lower() in _ID_CASE_INSENSITIVE


def _is_directive(cell: str) -> bool:
    return cell.startswith(("#q2:", "#sk:"))


def _delimiter(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        first = re.split(r"[\t,]", stripped, maxsplit=1)[0].strip().strip('"')
        if stripped.startswith("#") and not _is_id_header(first):
            continue
        return "\t" if "\t" in line else ("," if "," in line else "\t")
    return "\t"


def read_metadata(path: PathLike) -> pd.DataFrame:
    """Read a sample (or feature) metadata file by the QIIME 2 rules.

    Parameters
    ----------
    path : str or path-like
        A QIIME 2 metadata TSV, or the same layout comma-separated.

    Returns
    -------
    pandas.DataFrame
        Indexed by id (index name = the id header as written).  Numeric
        columns are float64 with NaN for missing values; categorical columns
        are object dtype with ``None`` for missing values.  ``attrs`` holds
        ``path``, ``sha256``, ``id_header``, ``column_types``, ``notes`` and
        ``provenance`` (the read record).

    Raises
    ------
    FormatError
        UTF-16 / non-UTF-8 files (with how to re-save them from Excel), no
        header, an unrecognised id column name, unknown directives or column
        types, rows longer than the header.
    ValidationError
        Empty, duplicate or reserved ids, duplicate or empty column names, a
        value that is not numeric in a column declared numeric, a missing
        value in a ``no-missing`` column.  Messages give the line number.
    UnsafeInputError
        The file is over the size limit.

    Notes
    -----
    As in QIIME 2: the first column holds the ids and is named one of
    :data:`ID_HEADERS`; ``#`` lines are comments, except a ``#q2:types``
    row (``categorical``/``numeric`` per column) and a ``#q2:missing`` row
    (``blank``, ``INSDC:missing``, ``no-missing``) right after the header;
    cells are stripped of surrounding spaces; a column whose values all look
    like numbers is numeric.  Unlike QIIME 2, the values in
    :data:`MISSING_VALUES` (``NA``, ``nan``...) are missing too, unless the
    column's scheme is ``blank`` or ``no-missing``; and a data column named
    like an id column (``SampleID`` next to ``#SampleID``, common in QIIME 1
    mapping files) is kept, with a note in ``attrs["notes"]``, where QIIME 2
    refuses the file.
    """
    p = as_path(path)
    source = str(p)
    file = read_text_file(p, "the metadata file")
    text = file.text
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows = ([c.strip() for c in row] for row in reader)
    try:
        header, header_line = _header(rows, reader, source)
        types, schemes, pending = _directives(rows, reader, header, source)
        ids, cells = _data(rows, reader, header, source, pending)
    except csv.Error as exc:
        raise FormatError(f"{source}: line {reader.line_num}: {exc}") from exc
    columns: dict[str, Any] = {}
    column_types: dict[str, str] = {}
    for j, name in enumerate(header[1:]):
        values = [row[j] for row in cells]
        series, ctype = _cast(values, name, types.get(name), schemes.get(name), ids, source)
        columns[name] = series
        column_types[name] = ctype
    index = pd.Index([i for i, _ in ids], dtype=object, name=header[0])
    frame = pd.DataFrame(columns, index=index) if columns else pd.DataFrame(index=index)
    notes = [f"column {name!r} has a name QIIME 2 reserves for the id column; kept as data"
             for name in header[1:] if _is_id_header(name)]
    for note in notes:
        logger.info("%s: %s", source, note)
    digest = file.sha256
    frame.attrs.update({"path": source, "sha256": digest, "id_header": header[0],
                        "provenance": read_record(p, "qiime2-metadata", sha256=digest,
                                                  size=file.size),
                        "column_types": column_types, "header_line": header_line,
                        "declared_types": dict(types),
                        "notes": notes})
    return frame


def metadata_source(samples: pd.DataFrame | None) -> str:
    """Name sample metadata in a message: its file (as :func:`read_metadata` recorded it).

    Examples
    --------
    >>> import pandas as pd
    >>> metadata_source(pd.DataFrame()), metadata_source(None)
    ('the sample metadata', 'the sample metadata')
    """
    if samples is not None:
        check_type(samples, pd.DataFrame, "samples", hint="the sample metadata")
        path = samples.attrs.get("path")
        if path:
            return f"the sample metadata {path}"
    return "the sample metadata"


def _missing(value: Any) -> bool:
    missing = pd.isna(value)
    return bool(missing) if np.ndim(missing) == 0 else False


def numeric_typos(column: pd.Series) -> list[tuple[str, str]]:
    """Return the values that keep a mostly numeric column from being numeric.

    A column is numeric when every value looks like a number: one typo
    (``4O`` for ``40``) makes it categorical, one level per distinct value.
    Callers that would treat such a column as categorical ask this first.

    Parameters
    ----------
    column : pandas.Series
        A column of a metadata frame (:func:`read_metadata`).

    Returns
    -------
    list of (str, str)
        ``(sample id, value)`` of each non-numeric value when more than half
        of the present values are numbers (two at least); otherwise empty
        (a numeric column, or a categorical one).

    Examples
    --------
    >>> import pandas as pd
    >>> numeric_typos(pd.Series(["41", "4O", "38", None], index=["a", "b", "c", "d"]))
    [('b', '4O')]
    >>> numeric_typos(pd.Series(["CFS", "Control", "1"], index=["a", "b", "c"]))
    []
    >>> numeric_typos(pd.Series(["1", "2", pd.NA], index=["a", "b", "c"], dtype="string"))
    []
    """
    check_type(column, pd.Series, "column", hint="a column of read_metadata's frame")
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return []
    present = [(str(i), str(v)) for i, v in column.items() if not _missing(v)]
    numbers = sum(bool(_NUMBER.match(v)) for _, v in present)
    if numbers < 2 or numbers * 2 <= len(present):
        return []
    return [(i, v) for i, v in present if not _NUMBER.match(v)]


def _header(rows: Any, reader: Any, source: str) -> tuple[list[str], int]:
    skipped: tuple[int, str] | None = None
    for row in rows:
        if not any(row):
            continue
        first = row[0]
        if _is_directive(first):
            raise FormatError(f"{source}: line {reader.line_num}: directive {first!r} before the "
                              "header; directives go right after the header line")
        if first.startswith("#") and not _is_id_header(first):
            if skipped is None and len(row) > 1:
                skipped = (reader.line_num, first)
            continue
        if not _is_id_header(first):
            hint = (" The line contains ';': if this is a semicolon-separated export from "
                    "Excel, save it as tab-separated text.") if ";" in first else (
                    " If the file was written by R's write.table (each row starts with its "
                    "name, which has no header cell), put 'sample-id' and a tab at the start "
                    "of the header line.")
            if skipped is not None:
                hint += (f" Line {skipped[0]} ({skipped[1]!r}...) was skipped as a comment: of "
                         "the names starting with '#' only '#SampleID', '#Sample ID', '#OTUID' "
                         "and '#OTU ID' (exact case) name the id column.")
            raise FormatError(
                f"{source}: line {reader.line_num}: the first column is named {first!r}; it must "
                f"name the id column, one of {', '.join(map(repr, ID_HEADERS))} (the first "
                f"seven in any letter case).{hint}"
            )
        header = list(row)
        while len(header) > 1 and header[-1] == "":
            header.pop()
        line = reader.line_num
        if "" in header[1:]:
            raise ValidationError(f"{source}: line {line}: column {header.index('', 1) + 1} of the "
                                  "header has no name; every column must be named")
        seen: set[str] = set()
        for name in header[1:]:
            if name in seen:
                raise ValidationError(f"{source}: line {line}: column name {name!r} appears "
                                      "more than once; column names must be unique")
            seen.add(name)
        return header, line
    raise FormatError(f"{source}: no header line found; the file is empty or has only comments")


def _fit(row: list[str], header: list[str], source: str, line: int) -> list[str]:
    if len(row) < len(header):
        return row + [""] * (len(header) - len(row))
    if len(row) > len(header):
        if any(row[len(header):]):
            raise FormatError(f"{source}: line {line}: {len(row)} cells but the header has "
                              f"{len(header)}; remove the extra cells or name their column")
        return row[:len(header)]
    return row


def _directives(rows: Any, reader: Any, header: list[str],
                source: str) -> tuple[dict[str, str], dict[str, str], list[Any]]:
    types: dict[str, str] = {}
    schemes: dict[str, str] = {}
    done: set[str] = set()
    for row in rows:
        line = reader.line_num
        if not row or not _is_directive(row[0]):
            return types, schemes, [(row, line)]
        word = row[0].split(" ")[0][4:]
        if word not in ("types", "missing"):
            raise FormatError(f"{source}: line {line}: unknown directive {row[0]!r}; only "
                              "#q2:types and #q2:missing are understood")
        if word in done:
            raise FormatError(f"{source}: line {line}: directive {row[0]!r} given twice")
        done.add(word)
        cells = _fit(row, header, source, line)
        for name, value in zip(header[1:], cells[1:], strict=True):
            if not value:
                continue
            if word == "types":
                if value.lower() not in ("categorical", "numeric"):
                    raise FormatError(f"{source}: line {line}: column {name!r} has type "
                                      f"{value!r}; use 'categorical' or 'numeric'")
                types[name] = value.lower()
            else:
                if value not in _SCHEMES:
                    raise FormatError(f"{source}: line {line}: column {name!r} has missing-value "
                                      f"scheme {value!r}; use one of {', '.join(_SCHEMES)}")
                schemes[name] = value
    return types, schemes, []


def _data(rows: Any, reader: Any, header: list[str], source: str,
          pending: list[Any]) -> tuple[list[tuple[str, int]], list[list[str]]]:
    ids: list[tuple[str, int]] = []
    cells: list[list[str]] = []
    where: dict[str, int] = {}

    def numbered() -> Any:
        yield from pending
        for row in rows:
            yield row, reader.line_num

    for row, line in numbered():
        if not any(row):
            continue
        first = row[0]
        if _is_directive(first):
            raise FormatError(f"{source}: line {line}: directive {first!r} among the data rows; "
                              "directives go right after the header")
        if first.startswith("#"):
            continue
        if first == "":
            raise ValidationError(f"{source}: line {line}: the id cell is empty; every row needs "
                                  "an id in the first column")
        if _is_id_header(first):
            raise ValidationError(f"{source}: line {line}: id {first!r} is reserved for the id "
                                  "column header; rename the sample")
        if first in where:
            raise ValidationError(f"{source}: line {line}: id {first!r} is a duplicate of line "
                                  f"{where[first]}; ids must be unique")
        where[first] = line
        ids.append((first, line))
        cells.append(_fit(row, header, source, line)[1:])
    if not ids:
        raise FormatError(f"{source}: the metadata has a header but no rows of ids")
    return ids, cells


def _cast(values: list[str], name: str, declared: str | None, scheme: str | None,
          ids: list[tuple[str, int]], source: str) -> tuple[pd.Series, str]:
    missing = [v == "" or (scheme in (None, "INSDC:missing") and v in MISSING_VALUES)
               or (scheme == "INSDC:missing" and v in _INSDC) for v in values]
    if scheme == "no-missing" and any(missing):
        k = missing.index(True)
        raise ValidationError(f"{source}: line {ids[k][1]}: column {name!r} is declared "
                              "no-missing but this row has no value")
    present = [v for v, m in zip(values, missing, strict=True) if not m]
    numeric = all(_NUMBER.match(v) for v in present)
    if declared == "numeric" and not numeric:
        k = next(i for i, (v, m) in enumerate(zip(values, missing, strict=True))
                 if not m and not _NUMBER.match(v))
        raise ValidationError(f"{source}: line {ids[k][1]}: column {name!r} is declared numeric "
                              f"but holds {values[k]!r}; fix the value or declare it categorical")
    index = pd.Index([i for i, _ in ids], dtype=object)
    if numeric and declared != "categorical":
        data = np.array([np.nan if m else float(v) for v, m in zip(values, missing, strict=True)],
                        dtype=np.float64)
        return pd.Series(data, index=index, name=name), "numeric"
    data_obj = [None if m else v for v, m in zip(values, missing, strict=True)]
    return pd.Series(data_obj, index=index, name=name, dtype=object), "categorical"
