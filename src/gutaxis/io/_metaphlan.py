"""MetaPhlAn 2/3/4 profiles: single-sample output and merged tables.

Single-sample files carry ``#`` header lines (``#mpa_v…``, ``#SampleID``,
``#clade_name``) and the columns ``clade_name``, ``NCBI_tax_id``,
``relative_abundance`` [, ``additional_species``]; MetaPhlAn 2 has only the
clade and the abundance.  Merged tables (``merge_metaphlan_tables.py``) have
``clade_name`` or ``ID`` first, sometimes ``NCBI_tax_id``/``clade_taxid``,
then one column per sample.  Clade names are ``|``-joined paths
(``k__Bacteria|p__Firmicutes|…|s__Faecalibacterium_prausnitzii``) or
species names alone (``s__…``).

The reader keeps one level — species, or the deepest level present — and
keeps the values as given (percent), recording ``scale: percent``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from gutaxis.exceptions import FormatError
from gutaxis.io._common import make_study, read_record, read_text_file
from gutaxis.io._delimited import load_delimited
from gutaxis.io._taxonomy import parse_taxonomy
from gutaxis.study import RANKS, Study

__all__ = ["read_metaphlan", "looks_like_metaphlan", "CLADE"]

#: A MetaPhlAn clade path.
CLADE = re.compile(r"^[kdpcofgst]__[^|;\t]*(?:\|[kdpcofgst]__[^|;\t]*)*$")
_LEVEL = {"k": 0, "d": 0, "p": 1, "c": 2, "o": 3, "f": 4, "g": 5, "s": 6, "t": 7}
_LEVEL_NAME = (*RANKS, "strain")
_UNASSIGNED = {"unknown", "unclassified"}
_DROP_COLUMNS = {"ncbi_tax_id", "clade_taxid", "taxid", "additional_species", "coverage",
                 "estimated_number_of_reads_from_the_clade"}
_DEFAULT_SAMPLE_NAMES = {"metaphlan_analysis", "metaphlan2_analysis", "metaphlan3_analysis",
                         "metaphlan4_analysis"}


def looks_like_metaphlan(head: str) -> bool:
    """Whether the first part of a text file is a MetaPhlAn profile.

    True for MetaPhlAn header lines (``#mpa_…``, ``#clade_name``,
    ``#SampleID<TAB>Metaphlan…``) or when at least 90 % of the first column's
    values (ignoring ``UNKNOWN``/``UNCLASSIFIED``) are clade names and either
    some are ``|``-joined paths or all are species (``s__``).
    """
    lines = head.splitlines()
    for line in lines[:20]:
        low = line.lower()
        if low.startswith(("#mpa_", "#clade_name")) or (
                low.startswith("#sampleid") and "metaphlan" in low):
            return True
    firsts = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        delimiter = "\t" if "\t" in line else ","
        firsts.append(line.split(delimiter, 1)[0].strip().strip('"'))
        if len(firsts) > 200:
            break
    names = [f for f in firsts[1:] if f.lower() not in _UNASSIGNED]
    if not names:
        return False
    matching = [n for n in names if CLADE.match(n)]
    if len(matching) < 0.9 * len(names):
        return False
    return any("|" in n for n in matching) or all(n.startswith("s__") for n in matching)


def read_metaphlan(path: Path, *, kind: str | None = None) -> Study:
    """Read a MetaPhlAn single-sample profile or merged table.

    Parameters
    ----------
    path : pathlib.Path
    kind : {"counts", "relative"}, optional
        Default ``"relative"`` (MetaPhlAn reports percentages).

    Returns
    -------
    Study
        Species (or the deepest level present) × samples, values in percent
        as given; taxonomy parsed from the clade paths.  The provenance
        record says ``level``, ``scale`` and what was dropped.

    Raises
    ------
    FormatError
        A first-column value that is not a clade name, non-numeric values.
    ValidationError
        Duplicate ids, negative or NaN values.
    """
    source = str(path)
    file = read_text_file(path, "the MetaPhlAn profile")
    raw = load_delimited(file.text, source)
    header, frame = raw.header, raw.frame
    notes: list[str] = []
    lowered = [h.lower() for h in header]
    if "relative_abundance" in lowered:
        variant = "single-sample"
        value_cols = [lowered.index("relative_abundance")]
        samples = [_single_sample_name(raw.comments, path, notes)]
    elif lowered[0] in ("#sampleid", "#sample id") and len(header) == 2:
        variant = "single-sample"
        value_cols = [1]
        samples = [_default_or(header[1], path, notes)]
    else:
        variant = "merged"
        value_cols = [i for i in range(1, len(header)) if lowered[i] not in _DROP_COLUMNS]
        samples = [header[i] for i in value_cols]
    if not value_cols or not len(frame):
        raise FormatError(f"{source}: no abundance columns or no rows in the MetaPhlAn profile")
    clades = frame[0].tolist()
    keep_rows = []
    for row, clade in enumerate(clades):
        if clade.lower() in _UNASSIGNED:
            continue
        if not CLADE.match(clade):
            raise FormatError(f"{source}: line {raw.line_of(row)}: {clade[:80]!r} is not a "
                              "MetaPhlAn clade name (k__…|p__…|…|s__…, or s__… alone)")
        keep_rows.append(row)
    values = raw.numeric(value_cols, what="relative abundance in percent")
    over = (np.argwhere(values[keep_rows] > 100.5) if keep_rows and kind != "counts"
            else np.empty((0, 2), int))
    if len(over):  # one clade above the whole: not a MetaPhlAn percentage (read as counts: any)
        row, col = keep_rows[int(over[0][0])], int(over[0][1])
        raise FormatError(f"{source}: line {raw.line_of(row)}: {clades[row][:80]!r} has "
                          f"{values[row, col]:.6g} % in sample {samples[col]!r}; a relative "
                          "abundance in percent is at most 100")
    for row, clade in enumerate(clades):
        if clade.lower() in _UNASSIGNED:
            notes.append(f"dropped row {clade!r} (reads not assigned to a clade; "
                         f"{values[row].mean():.4g}% on average)")
    levels = np.array([_LEVEL[clades[r].rsplit("|", 1)[-1][0]] for r in keep_rows], dtype=int)
    if not levels.size:
        raise FormatError(f"{source}: the profile has no clade rows")
    target = 6 if (levels == 6).any() else int(levels.max())
    rows = [r for r, lv in zip(keep_rows, levels, strict=True) if lv == target]
    level = _LEVEL_NAME[target]
    if len(rows) < len(keep_rows):
        notes.append(f"kept the {level} level: {len(rows)} of {len(keep_rows)} clade rows")
    paths = [clades[r] for r in rows]
    leaves = [p.rsplit("|", 1)[-1] for p in paths]
    features = leaves
    if len(set(leaves)) != len(leaves):
        features = paths
        notes.append("leaf names repeat: full clade paths used as feature ids")
    kept = values[rows]
    sums = kept.sum(axis=0)
    if sums.size and np.all(sums <= 1.0 + 1e-9) and np.any(sums > 0):
        notes.append("every sample sums to ≤ 1: the values may be fractions, not percent")
    elif np.any(sums > 100.5):
        notes.append("some samples sum to more than 100 %")
    record = read_record(path, "metaphlan", sha256=file.sha256, size=file.size,
                         variant=variant, level=level, scale="percent",
                         n_samples=len(samples), n_features=len(features))
    study: Study = make_study(sp.csr_matrix(kept.T), samples, features, source=source,
                              record=record, kind=kind, notes=notes,
                              taxonomy=parse_taxonomy(paths, index=features),
                              declared_kind="relative")
    return study


def _single_sample_name(comments: list[str], path: Path, notes: list[str]) -> str:
    for line in comments:
        cells = line.split("\t")
        if cells[0].strip().lower() in ("#sampleid", "#sample id") and len(cells) > 1:
            return _default_or(cells[1].strip(), path, notes)
    notes.append(f"no #SampleID line: sample named {path.stem!r} after the file")
    return path.stem


def _default_or(name: str, path: Path, notes: list[str]) -> str:
    if name.strip().lower() in _DEFAULT_SAMPLE_NAMES or not name.strip():
        notes.append(f"sample id {name!r} is MetaPhlAn's default: sample named {path.stem!r} "
                     "after the file")
        return path.stem
    return name.strip()
