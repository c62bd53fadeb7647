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

__all__ = ["read_lsmat", "write_lsmat", "parse_lsmat", "lsmat_rows"]

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
    r"""Write ``dm`` in the lsmat layout (readable by ``skbio.DistanceMatrix.read``).

    Each distance is written as Python's ``repr`` writes it (the shortest
    text that reads back to the same float64), formatted in C by orjson
    (about ten times faster than joining ``repr`` strings); the rare values
    that ``repr`` writes in exponent notation (below 1e-4 or from 1e16 on,
    NaN, inf) are formatted by ``repr`` itself, so the bytes are those of
    ``repr`` throughout.

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

    Examples
    --------
    >>> import os, tempfile
    >>> dm = DistanceMatrix(pd.Index(["a", "b"]), np.array([[0.0, 0.1], [0.1, 0.0]]))
    >>> path = os.path.join(tempfile.mkdtemp(), "dm.tsv")
    >>> write_lsmat(dm, path)
    >>> from pathlib import Path
    >>> Path(path).read_text()
    '\ta\tb\na\t0.0\t0.1\nb\t0.1\t0.0\n'
    """
    check_type(dm, DistanceMatrix, "dm", hint="e.g. from gutaxis.diversity.beta_diversity")
    ids = [str(i) for i in dm.ids]
    for ident in ids:
        if _UNSAFE_ID.search(ident):
            raise ValidationError(f"distance matrix id {ident!r} contains a tab or line break; "
                                  "it cannot be written as lsmat")
    labels = [ident.encode("utf-8") + b"\t" for ident in ids]
    with open_atomic(path, "wb", what="the distance matrix") as out:
        out.write(("\t" + "\t".join(ids) + "\n").encode("utf-8"))
        for start in range(0, len(ids), _ROWS_PER_BLOCK):
            block = dm.data[start:start + _ROWS_PER_BLOCK]
            out.write(lsmat_rows(labels[start:start + len(block)], block))


_ROWS_PER_BLOCK = 128


def lsmat_rows(labels: list[bytes], block: np.ndarray) -> bytes:
    r"""Format the lsmat lines of ``block``: label (id and tab), values as ``repr``, newline.

    Parameters
    ----------
    labels : list of bytes
        One per row of ``block``, each ending in a tab.
    block : numpy.ndarray
        Rows × columns of numbers (cast to float64).

    Returns
    -------
    bytes

    Examples
    --------
    >>> lsmat_rows([b"a\t"], np.array([[0.0, 1e-05, 2.5, float("nan")]]))
    b'a\t0.0\t1e-05\t2.5\tnan\n'
    """
    import orjson  # here: only the writers need it

    values = np.ascontiguousarray(block, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(labels):
        raise ValidationError(f"lsmat_rows: {len(labels)} labels for a block of shape "
                              f"{values.shape}; give one label per row of a 2-D block")
    option = orjson.OPT_SERIALIZE_NUMPY
    magnitude = np.abs(values)
    # repr and orjson write the same text for zero and in fixed notation (1e-4 <= |x| < 1e16);
    # elsewhere (and for NaN and inf, which orjson writes as null) repr writes the row
    if magnitude.size and not (magnitude.max() < 1e16
                               and np.min(magnitude, where=magnitude > 0, initial=1.0) >= 1e-4):
        same = ((magnitude == 0) | ((magnitude >= 1e-4) & (magnitude < 1e16))).all(axis=1)
    else:
        same = np.ones(values.shape[0], dtype=bool)
    parts: list[bytes] = []
    for label, row, fast in zip(labels, values, same.tolist(), strict=True):
        if fast:
            text = orjson.dumps(row, option=option)[1:-1].translate(_COMMA_TO_TAB)
        else:
            text = "\t".join(map(repr, row.tolist())).encode("ascii")
        parts += (label, text, b"\n")
    return b"".join(parts)


_COMMA_TO_TAB = bytes.maketrans(b",", b"\t")
