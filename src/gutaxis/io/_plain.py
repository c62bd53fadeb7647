"""Plain abundance tables (TSV/CSV, including ``biom convert --to-tsv`` output).

Orientation
-----------
A plain table may have features in rows (BIOM TSV, most pipelines) or
samples in rows (scikit-learn style).  Unless ``transpose`` is given, the
first rule that applies decides, and the rule is logged and recorded in the
provenance:

1. the first header cell names features (``#OTU ID``, ``Feature ID``,
   ``OTU``, ``ASV``, ``Taxon``…) → features in rows; names samples
   (``SampleID``, ``#SampleID``, ``sample-id``, ``sample_name``…) → samples
   in rows;
2. a taxonomy column (``taxonomy``, ``taxon``, or QIIME 1's ``Consensus
   Lineage``, in any case) → features in rows;
3. known sample ids (``sample_ids=``, e.g. from the metadata) or feature
   ids (``feature_ids=``, e.g. from a taxonomy) match the column names or
   the row ids better;
4. ids that look like features (DNA sequences, 32-hex MD5 ids, ``OTU_12``,
   ``ASV7``, taxon strings with ``__``) are on one side only;
5. more rows than columns → features in rows (features usually outnumber
   samples); as many → features in rows (as BIOM TSV); else samples in rows.

A square table with the same ids in its rows and columns, zeros on the
diagonal and symmetric is a distance matrix, not abundances, and is refused.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import scipy.sparse as sp

from gutaxis.exceptions import FormatError
from gutaxis.io._common import make_study, read_record, read_text_file
from gutaxis.io._delimited import load_delimited
from gutaxis.io._mothur import _is_number
from gutaxis.io._taxonomy import parse_taxonomy
from gutaxis.study import Study

__all__ = ["read_plain_table", "guess_orientation"]

logger = logging.getLogger(__name__)

_FEATURE_HEADERS = {"#otu id", "otu id", "#otuid", "otuid", "feature id", "featureid",
                    "feature-id", "#feature id", "feature_id", "otu", "asv", "#asv id",
                    "asv id", "taxon", "taxa", "species", "clade_name", "feature", "features"}
_SAMPLE_HEADERS = {"sample", "samples", "sampleid", "sample id", "sample-id", "#sampleid",
                   "#sample id", "sample_name", "sample_id", "#sample_id"}
#: Names (lower case) of a column holding each feature's taxonomy: QIIME 2 / BIOM TSV
#: (``taxonomy``), QIIME 1 classic OTU tables (``Consensus Lineage``), as biom-format reads them.
_TAXONOMY_COLUMNS = {"taxonomy", "taxon", "consensus lineage", "consensuslineage"}
#: The end of the reason given by the last rule, the weakest guess.
_BY_SHAPE = "features usually outnumber samples"
_FEATURE_ID = re.compile(
    r"^(?:[ACGTNacgtn]{30,}|[0-9a-f]{32}|(?:z?otu|asv|sv|feature)[_\-.]?\d+|.*[a-z]__.*)$",
    re.IGNORECASE,
)


def _feature_share(ids: Iterable[str]) -> float:
    ids = list(ids)
    if not ids:
        return 0.0
    return sum(bool(_FEATURE_ID.match(i)) for i in ids) / len(ids)


def guess_orientation(first_header: str, row_ids: list[str], column_ids: list[str], *,
                      has_taxonomy: bool = False, sample_ids: Iterable[str] | None = None,
                      feature_ids: Iterable[str] | None = None) -> tuple[bool, str]:
    """Decide whether features are in rows; return the decision and the reason.

    Parameters
    ----------
    first_header : str
        The header's first cell.
    row_ids, column_ids : list of str
        The first column's values and the other header cells.
    has_taxonomy : bool
        Whether the table has a taxonomy column.
    sample_ids : iterable of str, optional
        Known sample ids (from metadata) to match against.
    feature_ids : iterable of str, optional
        Known feature ids (from a taxonomy or sequence file) to match against.

    Returns
    -------
    (bool, str)
        ``True`` when features are in rows, and the rule that decided.
    """
    head = first_header.strip().lower()
    if head in _FEATURE_HEADERS:
        return True, f"the first header cell {first_header!r} names features"
    if head in _SAMPLE_HEADERS:
        return False, f"the first header cell {first_header!r} names samples"
    if has_taxonomy:
        return True, "the table has a taxonomy column"
    for what, known_ids, in_rows_means in (("sample", sample_ids, False),
                                           ("feature", feature_ids, True)):
        if known_ids is None:
            continue
        known = {str(i) for i in known_ids}
        in_cols = sum(c in known for c in column_ids)
        in_rows = sum(r in known for r in row_ids)
        if in_cols != in_rows:
            side = "rows" if in_rows > in_cols else "columns"
            return (in_rows_means if in_rows > in_cols else not in_rows_means,
                    f"{max(in_cols, in_rows)} known {what} ids are in the {side} "
                    f"({min(in_cols, in_rows)} in the {'columns' if side == 'rows' else 'rows'})")
    rows_f, cols_f = _feature_share(row_ids), _feature_share(column_ids)
    if rows_f >= 0.5 > cols_f:
        return True, "the row ids look like feature ids (sequences, OTU/ASV ids or taxa)"
    if cols_f >= 0.5 > rows_f:
        return False, "the column names look like feature ids (sequences, OTU/ASV ids or taxa)"
    if len(row_ids) > len(column_ids):
        return True, f"more rows ({len(row_ids)}) than columns ({len(column_ids)}); {_BY_SHAPE}"
    if len(row_ids) == len(column_ids):
        return True, (f"as many rows as columns ({len(row_ids)}); taken as features in rows, "
                      "as BIOM TSV writes them")
    return False, f"fewer rows ({len(row_ids)}) than columns ({len(column_ids)}); {_BY_SHAPE}"


def _refuse_distance_matrix(source: str, row_ids: list[str], column_ids: list[str],
                            values: Any) -> None:
    """Refuse a distance matrix given as a table (it was read as abundances, silently).

    The same ids in the rows and the columns, zeros on the diagonal and a
    symmetric matrix: what ``gutaxis diversity`` and QIIME 2 write as beta
    diversity, which no abundance table is.
    """
    import numpy as np

    if len(row_ids) < 2 or list(row_ids) != list(column_ids):
        return
    matrix = np.asarray(values, dtype=float)
    if matrix.shape == (len(row_ids), len(row_ids)) and not np.diagonal(matrix).any() \
            and np.allclose(matrix, matrix.T, rtol=1e-9, atol=0.0):
        raise FormatError(f"{source}: this is a distance matrix (the same {len(row_ids)} ids in "
                          "the rows and the columns, 0 on the diagonal, symmetric), not an "
                          "abundance table; give the table the distances were computed from")


def read_plain_table(path: Path, *, transpose: bool | None = None, kind: str | None = None,
                     sample_ids: Iterable[str] | None = None,
                     feature_ids: Iterable[str] | None = None) -> Study:
    """Read a TSV/CSV abundance table.

    Parameters
    ----------
    path : pathlib.Path
    transpose : bool, optional
        ``True``: samples are the columns (features in rows, as in BIOM TSV);
        ``False``: samples are the rows.  Default: detected (see module notes).
    kind : {"counts", "relative"}, optional
        Default: whole numbers → counts, otherwise relative.
    sample_ids, feature_ids : iterable of str, optional
        Known ids (from metadata, taxonomy), used to detect the orientation.

    Returns
    -------
    Study

    Raises
    ------
    FormatError
        Ragged rows, non-numeric cells (line and column named), no data.
    ValidationError
        Duplicate ids, negative or NaN values, non-integer counts.
    UnsafeInputError
        Over the size limits.
    """
    source = str(path)
    file = read_text_file(path, "the table")
    if file.text.lstrip().startswith("(") and file.text.rstrip().endswith(";"):
        raise FormatError(f"{source}: this looks like a Newick tree (it starts with '(' and "
                          "ends with ';'), not an abundance table; give it as --tree")
    raw = load_delimited(file.text, source)
    header, frame = raw.header, raw.frame
    if len(header) < 2 or not len(frame):
        raise FormatError(f"{source}: the table has no data rows or no value columns")
    tax_pos = [i for i, h in enumerate(header) if i > 0 and h.lower() in _TAXONOMY_COLUMNS]
    if tax_pos and tax_pos[-1] != len(header) - 1:
        after = header[tax_pos[-1] + 1:]
        raise FormatError(f"{source}: column(s) {', '.join(map(repr, after))} come after the "
                          f"taxonomy column {header[tax_pos[-1]]!r}; it must be the last column "
                          "(as QIIME 1 and biom-format write it) — remove them, or move the "
                          "taxonomy to the end")
    if tax_pos:
        for number, line in enumerate(raw.lines[raw.header_line:], raw.header_line + 1):
            cells = line.rstrip("\r\n").split(raw.delimiter)
            if (line.strip() and not line.startswith("#") and len(cells) == len(header) - 1
                    and _is_number(cells[-1])):
                raise FormatError(f"{source}: line {number}: the row has no "
                                  f"{header[tax_pos[-1]]!r} cell (its last value is a count); "
                                  "write a lineage, or 'Unassigned'")
    row_ids = frame[0].tolist()
    value_cols = [i for i in range(1, len(header)) if i not in tax_pos]
    column_ids = [header[i] for i in value_cols]
    if transpose is None:
        features_in_rows, reason = guess_orientation(header[0], row_ids, column_ids,
                                                     has_taxonomy=bool(tax_pos),
                                                     sample_ids=sample_ids,
                                                     feature_ids=feature_ids)
    else:
        flag = "--transpose" if transpose else "--no-transpose"
        features_in_rows, reason = bool(transpose), f"{flag} (transpose={transpose}) was given"
    if tax_pos and not features_in_rows:
        raise FormatError(f"{source}: column {header[tax_pos[0]]!r} holds taxonomy, which needs "
                          f"features in rows (one taxonomy per row); the table was read with "
                          f"samples in rows ({reason}). Give --transpose (samples in columns), "
                          "or remove the column")
    orientation = "features x samples" if features_in_rows else "samples x features"
    if reason.endswith(_BY_SHAPE):  # a guess from the shape alone: say so where it is seen
        logger.warning("%s: read as %s (%s); if that is wrong, give --transpose (samples in "
                       "columns) or --no-transpose (samples in rows)", source, orientation,
                       reason)
    else:
        logger.info("%s: read as %s (%s)", source, orientation, reason)
    values = raw.numeric(value_cols)
    _refuse_distance_matrix(source, row_ids, column_ids, values)
    notes = [f"orientation: {orientation} ({reason})"]
    if raw.comments:
        notes.append(f"{len(raw.comments)} comment line(s) skipped")
    taxonomy = None
    if features_in_rows:
        counts = sp.csr_matrix(values.T)
        samples, features = column_ids, row_ids
        if tax_pos:
            taxonomy = parse_taxonomy(frame[tax_pos[0]].tolist(), index=features)
    else:
        counts = sp.csr_matrix(values)
        samples, features = row_ids, column_ids
    record = read_record(path, "tsv" if raw.delimiter == "\t" else "csv", sha256=file.sha256,
                         size=file.size, orientation=orientation, orientation_reason=reason)
    study: Study = make_study(counts, samples, features, source=source, record=record,
                              kind=kind, notes=notes, taxonomy=taxonomy)
    return study
