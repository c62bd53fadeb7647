"""Taxonomy strings (Greengenes, SILVA, GTDB, MetaPhlAn, plain) → rank columns."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from gutaxis.exceptions import FormatError, InputError, ValidationError
from gutaxis.io._common import PathLike
from gutaxis.io._qza import text_or_artifact
from gutaxis.study import RANKS

__all__ = ["parse_taxonomy", "read_taxonomy", "parse_taxonomy_tsv"]

# Rank letter → position in RANKS.  ``d`` (domain: SILVA 138, GTDB) is a kingdom.
_LETTER = {"k": 0, "d": 0, "p": 1, "c": 2, "o": 3, "f": 4, "g": 5, "s": 6}
_PREFIXED = re.compile(r"^([A-Za-z])__(.*)$", re.DOTALL)
_SILVA132 = re.compile(r"^D_(\d+)__(.*)$", re.DOTALL)
_UNASSIGNED = {"", "unassigned", "unclassified", "unknown", "unidentified", "none", "nan"}
# mothur / RDP write a bootstrap confidence after each level: ``Firmicutes(100)``.
_CONFIDENCE = re.compile(r"\(\d+(?:\.\d+)?\)$")

_ID_HEADERS = {"feature id", "featureid", "feature-id", "#otu id", "#otuid", "otu id",
               "otuid", "id", "#feature id", "#featureid", "feature_id", "otu"}
_TAXON_HEADERS = {"taxon", "taxonomy"}


def _clean(value: str, *, positional: bool = False) -> str | None:
    value = _CONFIDENCE.sub("", value.strip()).strip()
    low = value.lower()
    # mothur's unprefixed levels: "unclassified", "Bacilli_unclassified" (MetaPhlAn 2's
    # prefixed "s__Roseburia_unclassified" is a species bin and stays)
    if positional and (low == "unclassified" or low.endswith("_unclassified")):
        return None
    return value or None


def _components(item: Any) -> list[str]:
    if item is None:
        return []
    if isinstance(item, float) and item != item:  # NaN
        return []
    if isinstance(item, bytes):
        item = item.decode("utf-8", "replace")
    if isinstance(item, str):
        text = item.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = None
            if isinstance(decoded, list):
                return [str(x) for x in decoded]
        sep = "|" if ("|" in text and ";" not in text) else ";"
        return text.split(sep)
    return [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in item]


def _parse_one(item: Any) -> tuple[str | None, ...]:
    parts = _components(item)
    if parts and parts[0].strip().lower() == "root":  # RDP / QIIME 1: "Root;Bacteria;…"
        parts = parts[1:]
    ranks: list[str | None] = [None] * len(RANKS)
    named = [p for p in parts if p.strip()]
    if not named or (len(named) == 1 and named[0].strip().lower() in _UNASSIGNED):
        return tuple(ranks)
    filled = [False] * len(RANKS)
    for position, raw in enumerate(parts):
        part = raw.strip()
        match = _PREFIXED.match(part)
        if match:
            letter = match.group(1).lower()
            if letter not in _LETTER:  # t__ (strain), unknown prefixes: not a rank we hold
                continue
            slot, value = _LETTER[letter], _clean(match.group(2))
        else:
            silva = _SILVA132.match(part)
            if silva:
                slot, value = int(silva.group(1)), _clean(silva.group(2))
            else:
                slot, value = position, _clean(part, positional=True)
        if slot < len(RANKS) and not filled[slot]:
            ranks[slot] = value
            filled[slot] = True
    return tuple(ranks)


def parse_taxonomy(strings: Iterable[Any], *,
                   index: Sequence[str] | pd.Index | None = None) -> pd.DataFrame:
    """Split taxonomy annotations into the ranks kingdom … species.

    Parameters
    ----------
    strings : iterable of str or of sequences of str
        One annotation per feature: a ``;``-joined string (Greengenes
        ``k__Bacteria; p__Firmicutes; …; s__``, SILVA/GTDB ``d__Bacteria; p__…``,
        SILVA 132 ``D_0__Bacteria;D_1__…``, plain ``Bacteria;Firmicutes;…``,
        mothur / RDP ``Bacteria(100);Firmicutes(99);…;``, QIIME 1
        ``Root;k__Bacteria;…``), a MetaPhlAn clade path ``k__…|p__…|…|s__…|t__…``, or a list of the
        levels (BIOM observation metadata).  ``None``/NaN means unassigned.
        A :class:`pandas.Series` keeps its index.
    index : sequence of str, optional
        Feature ids for the rows (default: the Series index or 0, 1, 2…).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`gutaxis.study.RANKS`, object dtype; an empty rank
        (``g__``), ``Unassigned`` or an absent level is ``None``.

    Raises
    ------
    InputError
        ``strings`` is not a list of annotations (None, or one text: wrap it
        in a list).
    ValidationError
        ``index`` does not have one id per annotation.

    Notes
    -----
    Prefixed levels go to their rank whatever their position (``d__`` is the
    kingdom); unprefixed levels are taken by position.  Strain levels
    (``t__``) and unknown prefixes are dropped.  Values are kept without the
    prefix and otherwise unchanged (``[Ruminococcus]``, ``uncultured``),
    except three conventions of other tools: a leading ``Root`` level (RDP,
    QIIME 1) is dropped, a bootstrap confidence in brackets after a level
    (mothur, RDP: ``Firmicutes(100)``) is removed, and mothur's unprefixed
    ``unclassified`` / ``Bacilli_unclassified`` levels are unassigned
    (MetaPhlAn's ``s__Roseburia_unclassified`` is kept: a species bin).
    """
    if isinstance(strings, str | bytes) or not isinstance(strings, Iterable):
        found = f"the text {strings!r}" if isinstance(strings, str) else type(strings).__name__
        raise InputError(f"parse_taxonomy: the taxonomy strings must be a list of annotations, "
                         f"one per feature; got {found[:80]} (one annotation: write [text])")
    if isinstance(strings, pd.Series) and index is None:
        index = strings.index
        strings = strings.tolist()
    items = list(strings)
    cache: dict[Any, tuple[str | None, ...]] = {}
    rows = []
    for item in items:
        key = item if item is None or isinstance(item, str | bytes | float) else tuple(
            _components(item))
        parsed = cache.get(key)
        if parsed is None:
            parsed = cache[key] = _parse_one(item)
        rows.append(parsed)
    if index is not None and len(index) != len(rows):
        raise ValidationError(f"parse_taxonomy: {len(rows)} annotations but {len(index)} ids")
    idx = pd.Index([str(i) for i in index], dtype=object) if index is not None else None
    frame = pd.DataFrame(rows, columns=list(RANKS), index=idx, dtype=object)
    return frame.astype(object).where(frame.notna(), None)


def parse_taxonomy_tsv(text: str, source: str) -> pd.DataFrame:
    """Parse a taxonomy TSV (``Feature ID``/``Taxon``[/``Confidence``], header optional).

    The header names the id column first and the taxonomy column anywhere
    after it: QIIME 2's ``Feature ID, Taxon, Confidence``, mothur's
    ``.cons.taxonomy`` ``OTU, Size, Taxonomy``.  Without a header the second
    column is the taxonomy (QIIME 1, mothur ``classify.seqs`` output).

    Raises
    ------
    FormatError
        A line has fewer than two fields.
    ValidationError
        A feature id is empty or repeated.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    ids: list[str] = []
    taxa: list[str] = []
    first_line: dict[str, int] = {}
    header_seen = False
    column = 1
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(c.strip() == "" for c in row):
                continue
            cells = [c.strip() for c in row]
            if not header_seen and not ids:
                low = [c.lower() for c in cells]
                named = [i for i, c in enumerate(low) if i > 0 and c in _TAXON_HEADERS]
                if low[0] in _ID_HEADERS and named:
                    header_seen, column = True, named[0]
                    continue
                if low[0] in _ID_HEADERS and len(cells) > 1:  # a header, without the taxa
                    raise FormatError(f"{source}: line {line}: the header names the id column "
                                      f"({cells[0]!r}) but no taxonomy column after it; "
                                      "expected 'Taxon' (QIIME 2) or 'Taxonomy' (mothur); "
                                      f"found {', '.join(map(repr, cells[1:]))}")
                if low[0].startswith("#") and low[0] not in _ID_HEADERS:
                    continue
            if cells[0].startswith("#"):
                continue  # comment / QIIME 2 directive line
            if len(cells) <= column:
                where = "" if column == 1 else f" in column {column + 1}"
                raise FormatError(f"{source}: line {line}: expected a feature id, a tab and a "
                                  f"taxonomy string{where}; found {row!r}")
            fid = cells[0]
            if fid == "":
                raise ValidationError(f"{source}: line {line}: empty feature id")
            if fid in first_line:
                raise ValidationError(f"{source}: line {line}: feature id {fid!r} already given "
                                      f"on line {first_line[fid]}; ids must be unique")
            first_line[fid] = line
            ids.append(fid)
            taxa.append(cells[column])
    except csv.Error as exc:
        raise FormatError(f"{source}: line {reader.line_num}: {exc}") from exc
    if not ids:
        raise FormatError(f"{source}: no taxonomy rows found; expected lines "
                          "'<feature id>\\t<taxonomy>' (QIIME 2 header 'Feature ID\\tTaxon')")
    return parse_taxonomy(taxa, index=ids)


def read_taxonomy(path: PathLike) -> pd.DataFrame:
    """Read feature taxonomy from a TSV or a ``FeatureData[Taxonomy]`` ``.qza``.

    Parameters
    ----------
    path : str or path-like
        A QIIME 2 taxonomy TSV (``Feature ID``, ``Taxon``, optional
        ``Confidence``; a header-less two-column file is accepted too) or a
        ``.qza`` holding ``FeatureData[Taxonomy]``.

    Returns
    -------
    pandas.DataFrame
        Indexed by feature id, columns :data:`gutaxis.study.RANKS`;
        ``attrs["provenance"]`` is the read record (format, path, sha256).

    Raises
    ------
    FormatError
        The file is not a taxonomy table (or the ``.qza`` holds another type).
    ValidationError
        Duplicate or empty feature ids.
    UnsafeInputError
        The file exceeds a safety limit.
    """
    text, label, record = text_or_artifact(path, artifact_type="FeatureData[Taxonomy]",
                                           member="data/taxonomy.tsv", fmt="taxonomy-tsv",
                                           what="the taxonomy file")
    frame = parse_taxonomy_tsv(text, label)
    frame.attrs["provenance"] = record
    return frame
