"""Loading a delimited text table (TSV or CSV) into cells, with line numbers kept."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import re
import warnings

import numpy as np
import pandas as pd

from gutaxis.exceptions import FormatError, UnsafeInputError, ValidationError
from gutaxis.io._limits import get_limits

__all__ = ["RawTable", "load_delimited", "KNOWN_FIRST_HEADERS"]

log = logging.getLogger(__name__)

#: First header cells that mark a header line even without a leading ``#``.
KNOWN_FIRST_HEADERS = {
    "clade_name", "id", "#otu id", "otu id", "#otuid", "otuid", "feature id", "featureid",
    "feature-id", "#feature id", "sample", "sampleid", "sample id", "sample-id", "#sampleid",
    "#sample id", "sample_name", "species", "taxon", "taxonomy", "asv", "otu",
}


@dataclasses.dataclass
class RawTable:
    """The cells of a delimited table as strings.

    Attributes
    ----------
    header : list of str
        The header cells (the first names the row-id column).
    frame : pandas.DataFrame
        Data cells as ``str``; columns are positions ``0 … len(header) - 1``.
    comments : list of str
        Leading ``#`` lines that are not the header.
    delimiter : str
    header_line : int
        1-based line number of the header.
    """

    header: list[str]
    frame: pd.DataFrame
    comments: list[str]
    delimiter: str
    header_line: int
    lines: list[str]
    source: str

    def line_of(self, row: int) -> int:
        """Return the 1-based file line of data row ``row`` (blank lines are skipped)."""
        seen = -1
        for number in range(self.header_line, len(self.lines)):
            if self.lines[number].strip():
                seen += 1
                if seen == row:
                    return number + 1
        return len(self.lines)

    def numeric(self, columns: list[int], what: str = "abundance") -> np.ndarray:
        """Return the given columns as float64; a non-number names its line and column.

        Raises
        ------
        FormatError
            An empty or non-numeric cell.
        """
        block = self.frame[columns].to_numpy(dtype=object)
        try:
            return block.astype(np.float64)
        except (TypeError, ValueError):
            pass
        for r in range(block.shape[0]):
            for c in range(block.shape[1]):
                cell = block[r, c]
                try:
                    float(cell)
                except (TypeError, ValueError):
                    name = self.header[columns[c]]
                    line = self.line_of(r)
                    fields = len(next(csv.reader([self.lines[line - 1]],
                                                 delimiter=self.delimiter), []))
                    if str(cell).strip() == "" and fields < len(self.header):
                        raise FormatError(  # a short row, as a long one is reported
                            f"{self.source}: line {line}: expected {len(self.header)} fields "
                            f"(as in the header on line {self.header_line}); found {fields}"
                        ) from None
                    found = "an empty cell" if str(cell).strip() == "" else repr(cell)
                    raise FormatError(
                        f"{self.source}: line {self.line_of(r)}, column {name!r}: expected "
                        f"a number ({what}); found {found}"
                    ) from None
        raise FormatError(f"{self.source}: the table has cells that are not numbers")


def _fields(line: str, delimiter: str | None = None) -> int:
    if delimiter is None:
        delimiter = "\t" if "\t" in line else ","
    return len(line.split(delimiter))


def load_delimited(text: str, source: str) -> RawTable:
    """Split ``text`` into header, comments and string cells.

    The header is the first non-``#`` line, unless that line is data and the
    last leading ``#`` line has several fields (``#OTU ID``, ``#clade_name``,
    MetaPhlAn 2's ``#SampleID``).  The delimiter is a tab when the header has
    one, else a comma.

    Raises
    ------
    FormatError
        No header, a single column, ragged rows, unnamed columns.
    ValidationError
        Duplicate column names.
    UnsafeInputError
        More cells than ``GUTAXIS_MAX_DENSE_CELLS``.
    """
    lines = text.splitlines()
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    end = start
    while end < len(lines) and (lines[end].startswith("#") or not lines[end].strip()):
        end += 1
    hashed = [k for k in range(start, end) if lines[k].strip()]
    first_plain = end if end < len(lines) else None
    # a known '#' header (BIOM TSV's '#OTU ID') wins over a data row whose id happens to be
    # a header word (a feature named 'SAMPLE' or 'taxon')
    hashed_is_header = bool(hashed) and _fields(lines[hashed[-1]]) >= 2 and (
        _first_cell(lines[hashed[-1]]).lower() in KNOWN_FIRST_HEADERS)
    plain_is_header = first_plain is not None and not hashed_is_header and (
        _first_cell(lines[first_plain]).lower() in KNOWN_FIRST_HEADERS)
    if hashed and _fields(lines[hashed[-1]]) >= 2 and not plain_is_header:
        header_at = hashed[-1]
    elif first_plain is not None:
        header_at = first_plain
    else:
        raise FormatError(f"{source}: no header line found; expected a line of column names "
                          "followed by rows of data")
    comments = [lines[k] for k in hashed if k != header_at]
    header_text = lines[header_at]
    delimiter = "\t" if "\t" in header_text else ("," if "," in header_text else "")
    if not delimiter:
        raise FormatError(f"{source}: line {header_at + 1}: the header has a single column; "
                          "expected tab- or comma-separated values")
    header = [h.strip() for h in _split(header_text, delimiter, source, header_at + 1)]
    while len(header) > 2 and header[-1] == "":
        header.pop()  # Excel's trailing delimiters
    first_row = next((k for k in range(header_at + 1, len(lines)) if lines[k].strip()), None)
    if first_row is not None and header[0] != "" and \
            len(_split(lines[first_row], delimiter, source, first_row + 1)) == len(header) + 1:
        # R's write.table: the rows start with their name, which has no header cell
        log.info("%s: the header is one field shorter than the rows (R's write.table): the "
                 "first field of each row is its id", source)
        header = ["", *header]
    if any(h == "" for h in header[1:]):
        col = header[1:].index("") + 2
        raise FormatError(f"{source}: line {header_at + 1}: column {col} has no name; every "
                          "column needs a header")
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise ValidationError(f"{source}: line {header_at + 1}: duplicate column name(s) "
                              f"{', '.join(map(repr, dupes))}; names must be unique")
    limit = get_limits().max_dense_cells
    n_rows = len(lines) - header_at - 1
    if n_rows * len(header) > limit:
        raise UnsafeInputError(f"{source}: about {n_rows:,} rows × {len(header):,} columns is "
                               f"over the limit of {limit:,} cells (GUTAXIS_MAX_DENSE_CELLS)")
    body = "\n".join(lines[header_at + 1:])
    frame = _parse_body(body, delimiter, len(header), source, header_at + 1)
    if len(frame):
        empty = (frame == "").all(axis=1).to_numpy()
        if empty.any():
            frame = frame.loc[~empty].reset_index(drop=True)
    frame.columns = list(range(len(header)))
    return RawTable(header, frame, comments, delimiter, header_at + 1, lines, source)


def _first_cell(line: str) -> str:
    delimiter = "\t" if "\t" in line else ","
    return line.split(delimiter, 1)[0].strip().strip('"')


def _split(line: str, delimiter: str, source: str, number: int) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration) as exc:
        raise FormatError(f"{source}: line {number}: cannot split the header ({exc})") from exc


def _parse_body(body: str, delimiter: str, n_fields: int, source: str,
                header_line: int) -> pd.DataFrame:
    if not body.strip():
        return pd.DataFrame({i: pd.Series(dtype=object) for i in range(n_fields)})
    try:
        with warnings.catch_warnings():
            # a row longer than the header is a warning to pandas (it drops the extra
            # fields); here it is an error that names the line
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(body), sep=delimiter, header=None,
                                names=list(range(n_fields)), dtype=str, keep_default_na=False,
                                na_filter=False, skip_blank_lines=True, engine="c",
                                index_col=False)
    except pd.errors.ParserWarning:
        for number, text in enumerate(body.split("\n"), start=header_line + 1):
            found = len(next(csv.reader([text], delimiter=delimiter), []))
            if text.strip() and found > n_fields:
                raise FormatError(f"{source}: line {number}: expected {n_fields} fields (as in "
                                  f"the header on line {header_line}); found {found}") from None
        raise FormatError(f"{source}: a row has more fields than the header (line "
                          f"{header_line}) names") from None
    except pd.errors.ParserError as exc:
        msg = str(exc)
        if "out of memory" in msg:  # the C tokenizer's malloc failed: not the file's fault
            raise MemoryError(f"{source}: {msg}") from exc
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
        if match:
            line = header_line + int(match.group(2))
            raise FormatError(f"{source}: line {line}: expected {n_fields} fields (as in the "
                              f"header on line {header_line}); found {match.group(3)}") from exc
        raise FormatError(f"{source}: cannot parse the table ({msg})") from exc
    except (ValueError, UnicodeError) as exc:
        raise FormatError(f"{source}: cannot parse the table ({exc})") from exc
    return frame.apply(lambda col: col.str.strip()) if len(frame) else frame
