"""Format detection by content, and :func:`read_table` which dispatches on it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from gutaxis.exceptions import FormatError, InputError
from gutaxis.io._artifact_types import read_qza_table
from gutaxis.io._biom import HDF5_MAGIC, read_biom_hdf5, read_biom_json
from gutaxis.io._common import PathLike, as_path, decode_text
from gutaxis.io._metaphlan import looks_like_metaphlan, read_metaphlan
from gutaxis.io._mothur import looks_like_mothur_shared, read_mothur_shared
from gutaxis.io._plain import read_plain_table
from gutaxis.io._qza import ZIP_MAGIC
from gutaxis.study import Study

__all__ = ["read_table", "sniff_format", "FORMATS"]

logger = logging.getLogger(__name__)

#: Names accepted by ``read_table(format=...)``, and what each one reads.
FORMATS: dict[str, str] = {
    "biom-hdf5": "BIOM 2.1 (HDF5)",
    "biom-json": "BIOM 1.0 (JSON)",
    "qza": "QIIME 2 artifact, FeatureTable[Frequency] or FeatureTable[RelativeFrequency]",
    "metaphlan": "MetaPhlAn 2/3/4 profile, single-sample or merged",
    "mothur-shared": "mothur .shared OTU table (label, Group, numOtus, Otu…; one row per sample)",
    "tsv": "plain table, tab- or comma-separated (also BIOM TSV and QIIME 1 classic OTU tables)",
}
_ALIASES = {"biom": "biom", "hdf5": "biom-hdf5", "biom2": "biom-hdf5", "json": "biom-json",
            "biom1": "biom-json", "csv": "tsv", "plain": "tsv", "text": "tsv",
            "mothur": "mothur-shared", "shared": "mothur-shared"}
_HEAD = 1 << 16
_TRIED = ("BIOM 2.1 HDF5 (HDF5 signature), QIIME 2 .qza (zip signature), BIOM 1.0 JSON "
          "(a JSON object), mothur .shared (header label, Group, numOtus), MetaPhlAn profile "
          "(clade names such as k__Bacteria|p__…), TSV/CSV table (a header with two or more "
          "tab- or comma-separated columns)")


def _head_text(head: bytes, source: str) -> str:
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        decode_text(head, source)  # raises, explaining UTF-16 and Excel
    if b"\x00" in head[:4096]:
        raise FormatError(f"{source}: cannot tell the table's format. Tried: {_TRIED}. The file "
                          "is binary (it holds NUL bytes) but not one of the binary forms "
                          "(BIOM HDF5, a QIIME 2 .qza); if it is a text table saved as UTF-16, "
                          "save it as UTF-8 instead")
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a character cut at the end of the sample
            return head[:exc.start].decode("utf-8-sig", "replace")
        line = head.count(b"\n", 0, exc.start) + 1
        raise FormatError(f"{source}: cannot tell the table's format. Tried: {_TRIED}. The file "
                          f"is not UTF-8 text either (byte 0x{head[exc.start]:02x} on line "
                          f"{line}); if it is a text table, save it as UTF-8") from exc


def sniff_format(path: PathLike) -> str:
    """Tell a table's format from its content.

    The extension is looked at once only: a mothur ``.shared`` file without
    its header line is told from a plain table by its name.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str
        One of the keys of :data:`FORMATS`.

    Raises
    ------
    FormatError
        The content matches none of them (the message lists what was tried),
        or the file is compressed / UTF-16.
    """
    p = as_path(path)
    try:
        with open(p, "rb") as handle:
            head = handle.read(_HEAD)
    except OSError as exc:
        raise FormatError(f"{p}: cannot read the file ({exc.strerror or exc})") from exc
    if any(head[off:off + 8] == HDF5_MAGIC for off in (0, 512, 1024, 2048, 4096, 8192,
                                                         16384, 32768)):
        return "biom-hdf5"
    if head[:4] in (ZIP_MAGIC, b"PK\x05\x06"):
        return "qza"
    if head[:2] == b"\x1f\x8b":
        raise FormatError(f"{p}: the file is gzip-compressed; decompress it first "
                          f"(gunzip {p.name})")
    if head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        raise FormatError(f"{p}: the file is compressed (bzip2/xz); decompress it first")
    if not head.strip():
        raise FormatError(f"{p}: the file is empty")
    text = _head_text(head, str(p))
    if text.lstrip().startswith("{"):
        return "biom-json"
    if looks_like_mothur_shared(text, p.name):
        return "mothur-shared"
    if looks_like_metaphlan(text):
        return "metaphlan"
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            if "\t" in line or "," in line:
                return "tsv"
            break
    for line in reversed([ln for ln in text.splitlines() if ln.startswith("#")]):
        if "\t" in line:
            return "tsv"  # BIOM TSV header '#OTU ID<TAB>…' and nothing else
    first = next((ln.strip() for ln in text.splitlines()
                  if ln.strip() and not ln.startswith("#")), None)
    found = ("it holds only comment lines (starting with #)" if first is None else
             f"its first line after any comments is {first[:40]!r}"
             f"{'…' if len(first) > 40 else ''}, with no tab or comma between columns")
    raise FormatError(f"{p}: cannot tell the table's format. Tried: {_TRIED}. As for this file, "
                      f"{found}; save the table in one of the forms listed under 'Tried'")


def read_table(path: PathLike, *, format: str | None = None, transpose: bool | None = None,
               kind: str | None = None, sample_ids: Iterable[str] | None = None,
               feature_ids: Iterable[str] | None = None,
               mothur_label: str | None = None) -> Study:
    """Read an abundance table of any supported format into a :class:`Study`.

    Parameters
    ----------
    path : str or path-like
    format : str, optional
        Force a format (a key of :data:`FORMATS`, or ``"biom"``, ``"csv"``);
        by default it is detected from the content (magic bytes, zip, JSON,
        header), never from the file name.
    transpose : bool, optional
        Plain tables only: ``True`` = samples are columns (features in rows),
        ``False`` = samples are rows.  Default: detected, and recorded in the
        provenance (see :mod:`gutaxis.io._plain`).
    kind : {"counts", "relative"}, optional
        What the values are.  Default: from the format (``RelativeFrequency``
        and MetaPhlAn → relative) or from the values (whole numbers → counts).
    sample_ids, feature_ids : iterable of str, optional
        Plain tables only: known ids (sample ids from the metadata, feature
        ids from a taxonomy) used to detect the orientation.
    mothur_label : str, optional
        mothur ``.shared`` only: the label (OTU definition, e.g. ``"0.03"``)
        to read; default the first in the file (see :mod:`gutaxis.io._mothur`).

    Returns
    -------
    Study
        Its ``provenance`` starts with ``{"step": "read", "format", "path",
        "sha256", ...}``.

    Raises
    ------
    FormatError
        Unknown or malformed format; the message names the file, and what
        was expected and found.
    UnsafeInputError
        A safety limit or refused feature (see :mod:`gutaxis.io._limits`).
    ValidationError
        Duplicate ids, negative/NaN values, non-integer counts.
    InputError
        An unknown ``format=`` name.

    Examples
    --------
    >>> from gutaxis.io import read_table
    >>> study = read_table("table.biom")  # doctest: +SKIP
    """
    p = as_path(path)
    if format is None:
        fmt = sniff_format(p)
        logger.debug("%s: detected format %s", p, fmt)
    else:
        key = format.strip().lower()
        fmt = _ALIASES.get(key, key)
        if fmt not in FORMATS and fmt != "biom":
            raise InputError(f"format must be one of {', '.join([*FORMATS, 'biom', 'csv'])}; "
                             f"got {format!r}")
    if fmt == "biom":
        fmt = "biom-hdf5" if _starts_with(p, HDF5_MAGIC) else "biom-json"
    if fmt == "biom-hdf5":
        return read_biom_hdf5(p, kind=kind)
    if fmt == "biom-json":
        return read_biom_json(p, kind=kind)
    if fmt == "qza":
        return read_qza_table(p, kind=kind)
    if fmt == "metaphlan":
        return read_metaphlan(p, kind=kind)
    if fmt == "mothur-shared":
        return read_mothur_shared(p, label=mothur_label, kind=kind)
    return read_plain_table(p, transpose=transpose, kind=kind, sample_ids=sample_ids,
                            feature_ids=feature_ids)


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(magic)) == magic
    except OSError:
        return False
