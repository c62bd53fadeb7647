"""mothur ``.shared`` OTU tables.

A ``.shared`` file (mothur's ``make.shared``, also written by USEARCH and
vsearch) is tab-separated text with one row per sample::

    label   Group   numOtus Otu001  Otu002  Otu003
    0.03    A       3       10      0       4
    0.03    B       3       2       7       0

``label`` names the OTU definition (a clustering cut-off such as ``0.03``,
or ``unique``), ``Group`` the sample and ``numOtus`` how many counts follow.
One file may hold several labels, one block of rows each; their OTUs differ
(and so may their number), and mothur writes the OTU names once, in the
header, for the first label.  The reader takes one label — the one asked
for, else the first — says which on the log (a warning when there were
others) and records it in the provenance.  Files without the header line
(older mothur) are read when their name ends in ``.shared``; the OTUs are
then named as mothur names them (``Otu01``, ``Otu02``…).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from gutaxis.exceptions import FormatError, UnsafeInputError, ValidationError
from gutaxis.io._common import make_study, read_record, read_text_file
from gutaxis.io._limits import get_limits
from gutaxis.study import Study

__all__ = ["read_mothur_shared", "looks_like_mothur_shared"]

logger = logging.getLogger(__name__)

_HEADER = ("label", "group", "numotus")
_INTEGER = re.compile(r"^\d+$")


def _fields(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t") if "\t" in line else line.split()


def looks_like_mothur_shared(head: str, name: str = "") -> bool:
    """Whether the start of a text file is a mothur ``.shared`` table.

    Parameters
    ----------
    head : str
        The first part of the file.
    name : str
        The file name: a header-less file is recognised only when it ends in
        ``.shared``.

    Returns
    -------
    bool
        True for a first line ``label<TAB>Group<TAB>numOtus…`` (any case), or,
        for a ``.shared`` file, a first line ``label<TAB>sample<TAB>n`` followed
        by (up to, when ``head`` cuts the line) ``n`` values.
    """
    for line in head.splitlines():
        if not line.strip():
            continue
        cells = _fields(line)
        if tuple(c.strip().lower() for c in cells[:3]) == _HEADER:
            return True
        # (the line may be cut at the end of ``head``: at most numOtus values)
        return (name.lower().endswith(".shared") and len(cells) >= 3
                and _INTEGER.match(cells[2]) is not None and len(cells) <= 3 + int(cells[2]))
    return False


def _otu_names(header: list[str] | None, n: int) -> tuple[list[str], bool]:
    """Return the OTU names for ``n`` OTUs, and whether they came from the header."""
    if header is not None and len(header) == n:
        return header, True
    # as mothur names them: the header's prefix (``Otu``), numbers padded to one width
    prefix = "".join(ch for ch in (header[0] if header else "Otu") if ch.isalpha()) or "Otu"
    width = len(str(n))
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], False


def read_mothur_shared(path: Path, *, label: str | None = None,
                       kind: str | None = None) -> Study:
    """Read one label of a mothur ``.shared`` table.

    Parameters
    ----------
    path : pathlib.Path
    label : str, optional
        The OTU definition to read (the file's ``label`` column, e.g.
        ``"0.03"``); default: the first in the file.
    kind : {"counts", "relative"}, optional
        Default: whole numbers → counts (``.shared``), otherwise relative
        (mothur's ``.relabund`` has the same layout).

    Returns
    -------
    Study
        Samples are the ``Group`` values; the provenance records the label
        read (``mothur_label``) and every label of the file (``mothur_labels``).

    Raises
    ------
    FormatError
        A row whose number of values is not its ``numOtus``, a value that is
        not a number, a label asked for that the file does not hold, or one
        label in two separate blocks (the message lists the labels).
    ValidationError
        A sample twice under one label; negative or non-finite values.
    UnsafeInputError
        Over the size limits.
    """
    source = str(path)
    file = read_text_file(path, "the mothur .shared file")
    lines = file.text.splitlines()
    header: list[str] | None = None
    rows: dict[str, list[tuple[int, list[str]]]] = {}
    order: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in _fields(line)]
        if len(cells) > 3 and cells[-1] == "":
            cells.pop()  # mothur ends every line with a tab
        if header is None and not rows and tuple(c.lower() for c in cells[:3]) == _HEADER:
            header = cells[3:]
            continue
        if len(cells) < 3 or _INTEGER.match(cells[2]) is None:
            raise FormatError(f"{source}: line {number}: expected a mothur .shared row (label, "
                              f"Group, numOtus, then numOtus counts); found "
                              f"{line[:80]!r}")
        n = int(cells[2])
        if len(cells) != 3 + n:
            raise FormatError(f"{source}: line {number}: numOtus is {n} but the row has "
                              f"{len(cells) - 3} value(s); each row needs exactly numOtus values")
        if cells[0] not in rows:
            rows[cells[0]] = []
            order.append(cells[0])
        elif order[-1] != cells[0]:
            raise FormatError(
                f"{source}: line {number}: label {cells[0]!r} appears again after label "
                f"{order[-1]!r}; a .shared file holds one block of rows per label (labels: "
                f"{', '.join(order)}). Which rows belong together is ambiguous; write the "
                "file again with mothur")
        rows[cells[0]].append((number, cells))
    if not order:
        raise FormatError(f"{source}: no data rows; expected rows 'label<TAB>Group<TAB>numOtus"
                          "<TAB>counts…' after the header")
    listed = ", ".join(repr(lb) for lb in order)
    if label is None:
        chosen = order[0]
    elif str(label) in rows:
        chosen = str(label)
    else:
        raise FormatError(f"{source}: label {label!r} is not in the file; its labels are "
                          f"{listed}")
    block = rows[chosen]
    n_otus = int(block[0][1][2])
    for number, cells in block:
        if int(cells[2]) != n_otus:
            raise FormatError(f"{source}: line {number}: numOtus is {cells[2]} but the first "
                              f"row of label {chosen!r} (line {block[0][0]}) has {n_otus}; "
                              "every row of one label has the same OTUs")
    limit = get_limits().max_dense_cells
    if len(block) * n_otus > limit:
        raise UnsafeInputError(f"{source}: {len(block):,} samples × {n_otus:,} OTUs is over the "
                               f"limit of {limit:,} cells (GUTAXIS_MAX_DENSE_CELLS)")
    seen: dict[str, int] = {}
    samples: list[str] = []
    values = np.zeros((len(block), n_otus), dtype=np.float64)
    for r, (number, cells) in enumerate(block):
        group = cells[1]
        if group in seen:
            raise ValidationError(f"{source}: line {number}: sample {group!r} appears twice "
                                  f"under label {chosen!r} (also line {seen[group]}); each "
                                  "sample has one row per label")
        seen[group] = number
        samples.append(group)
        try:
            values[r] = np.asarray(cells[3:], dtype=np.float64)
        except ValueError:
            bad = next(i for i, c in enumerate(cells[3:]) if not _is_number(c))
            raise FormatError(f"{source}: line {number}, value {bad + 1} (sample {group!r}): "
                              f"expected a number (count); found {cells[3 + bad]!r}") from None
        fraction = np.flatnonzero(values[r] != np.round(values[r]))
        if fraction.size and kind != "relative":
            bad = int(fraction[0])
            raise FormatError(f"{source}: line {number}, value {bad + 1} (sample {group!r}): "
                              f"a .shared file holds read counts, whole numbers; found "
                              f"{cells[3 + bad]!r}")
    features, from_header = _otu_names(header, n_otus)
    notes = [f"mothur label {chosen!r} read" + (f" (the first of {listed})"
                                                 if len(order) > 1 and label is None else "")]
    if not from_header:
        notes.append(f"OTU names made as mothur makes them ({features[0]}…): the header does "
                     f"not name the {n_otus} OTUs of this label")
    if len(order) > 1 and label is None:
        command = (f"awk -F'\\t' 'NR==1 || $1==\"{order[1]}\"' '{path}' > "
                   f"'{path.with_name(path.stem + '.' + order[1] + '.shared')}'")
        logger.warning("%s holds %d OTU definitions (labels %s); read %r, the first. To read "
                       "another, keep only its rows, e.g. %s", source, len(order), listed,
                       chosen, command)
    else:
        logger.info("%s: mothur .shared, label %r", source, chosen)
    record = read_record(path, "mothur-shared", sha256=file.sha256, size=file.size,
                         mothur_label=chosen, mothur_labels=order)
    study: Study = make_study(sp.csr_matrix(values), samples, features, source=source,
                              record=record, kind=kind, notes=notes)
    return study


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
