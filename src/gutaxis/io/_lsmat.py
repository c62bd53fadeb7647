"""Distance matrices in the lsmat layout of scikit-bio and QIIME 2.

The layout: tab-separated, the first row holds an empty cell and then the
ids, each following row an id and its distances; rows in the same order as
the columns.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from gutaxis.checks import check_type
from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import FormatError, UnsafeInputError, ValidationError
from gutaxis.io._common import PathLike
from gutaxis.io._limits import get_limits
from gutaxis.io._qza import text_or_artifact
from gutaxis.outputs import open_atomic

__all__ = ["read_lsmat", "write_lsmat", "parse_lsmat"]

_UNSAFE_ID = re.compile(r"[\t\r\n]")


def parse_lsmat(text: str, source: str) -> DistanceMatrix:
    """Parse lsmat text into a :class:`~gutaxis.distance.DistanceMatrix`.

    Raises
    ------
    FormatError
        Missing header, rows of the wrong length or order, non-numeric cells.
    ValidationError
        Not symmetric, non-zero diagonal, NaN, duplicate ids.
    UnsafeInputError
        More cells than ``GUTAXIS_MAX_DENSE_CELLS``.
    """
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise FormatError(f"{source}: the distance matrix file is empty")
    header_no, header = lines[0]
    ids = header.split("\t")[1:]
    if not ids:
        raise FormatError(f"{source}: line {header_no}: the header should be an empty cell, a "
                          "tab and then the ids separated by tabs (lsmat layout)")
    ids = [i.strip() for i in ids]
    n = len(ids)
    limit = get_limits().max_dense_cells
    if n * n > limit:
        raise UnsafeInputError(f"{source}: a {n:,} × {n:,} distance matrix is over the limit of "
                               f"{limit:,} cells (GUTAXIS_MAX_DENSE_CELLS)")
    rows = lines[1:]
    if len(rows) != n:
        raise FormatError(f"{source}: the header lists {n:,} ids but {len(rows):,} rows follow; "
                          "a distance matrix has one row per id")
    data = np.empty((n, n), dtype=np.float64)
    for i, (number, line) in enumerate(rows):
        cells = line.split("\t")
        if len(cells) != n + 1:
            raise FormatError(f"{source}: line {number}: expected an id and {n:,} distances; "
                              f"found {len(cells) - 1:,} values")
        if cells[0].strip() != ids[i]:
            raise FormatError(f"{source}: line {number}: row id {cells[0].strip()!r} does not "
                              f"match column {i + 1} ({ids[i]!r}); rows must follow the "
                              "order of the header")
        try:
            data[i] = np.asarray(cells[1:], dtype=np.float64)
        except ValueError as exc:
            bad = next(c for c in cells[1:] if not _is_float(c))
            raise FormatError(f"{source}: line {number}: {bad.strip()!r} is not a number") from exc
    try:
        return DistanceMatrix(pd.Index(ids, dtype=object), data)
    except ValidationError as exc:
        raise ValidationError(f"{source}: {exc}") from exc


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_lsmat(path: PathLike) -> DistanceMatrix:
    """Read a distance matrix (lsmat TSV or a ``DistanceMatrix`` ``.qza``).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    DistanceMatrix

    Raises
    ------
    FormatError, ValidationError, UnsafeInputError
        See :func:`parse_lsmat`; also a ``.qza`` of another type.
    """
    text, label, _ = text_or_artifact(path, artifact_type="DistanceMatrix",
                                      member="data/distance-matrix.tsv", fmt="lsmat",
                                      what="the distance matrix file")
    return parse_lsmat(text, label)


def write_lsmat(dm: DistanceMatrix, path: PathLike) -> None:
    """Write ``dm`` in the lsmat layout (readable by ``skbio.DistanceMatrix.read``).

    Parameters
    ----------
    dm : DistanceMatrix
    path : str or path-like

    Raises
    ------
    InputError
        ``dm`` is not a DistanceMatrix.
    ValidationError
        An id contains a tab or a line break (it could not be read back).
    OutputError
        The file cannot be written.
    """
    check_type(dm, DistanceMatrix, "dm", hint="e.g. from gutaxis.diversity.beta_diversity")
    ids = [str(i) for i in dm.ids]
    for ident in ids:
        if _UNSAFE_ID.search(ident):
            raise ValidationError(f"distance matrix id {ident!r} contains a tab or line break; "
                                  "it cannot be written as lsmat")
    with open_atomic(path, what="the distance matrix") as out:
        out.write("\t" + "\t".join(ids) + "\n")
        for ident, row in zip(ids, dm.data, strict=True):
            out.write(ident + "\t" + "\t".join(map(repr, row.tolist())) + "\n")
