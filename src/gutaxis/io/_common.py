"""Helpers shared by the readers: bounded reads, text decoding, provenance."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.checks import check_path
from gutaxis.exceptions import FormatError, UnsafeInputError, ValidationError
from gutaxis.provenance import file_sha256

__all__ = [
    "PathLike",
    "as_path",
    "read_bytes_bounded",
    "decode_text",
    "TextFile",
    "read_text_file",
    "read_record",
    "check_ids",
    "infer_kind",
    "check_values",
    "make_study",
]

PathLike = str | os.PathLike[str]

_EXCEL_HINT = ("If the file was saved from Microsoft Excel, save it again as "
               "'Tab delimited Text' or 'CSV UTF-8', not 'Unicode Text' (UTF-16).")


def as_path(path: PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path` that names an existing regular file.

    Raises
    ------
    InputError
        ``path`` is not a path at all (None, a number).
    FormatError
        The path does not exist, or is a directory.
    """
    p = check_path(path, "path")
    try:
        st = p.stat()
    except OSError as exc:
        raise FormatError(f"{p}: cannot open the file ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(st.st_mode):
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise FormatError(f"{p}: expected a regular file; this is {what}")
    return p


def read_bytes_bounded(path: Path, limit: int, what: str,
                       variable: str = "GUTAXIS_MAX_TEXT_BYTES") -> bytes:
    """All bytes of ``path``, refusing files over ``limit`` bytes.

    Raises
    ------
    UnsafeInputError
        The file is larger than ``limit``.
    FormatError
        The file cannot be read.
    """
    try:
        size = path.stat().st_size
        if size > limit:
            raise UnsafeInputError(
                f"{path}: {what} is {size:,} bytes, over the limit of {limit:,} bytes; "
                f"raise it with {variable} if the file is genuine"
            )
        with open(path, "rb") as handle:
            # read(n) reserves n bytes at once: ask for the file's size, not the limit
            # (read(1 GiB + 1) failed every file under a job's smaller RLIMIT_AS)
            step = max(size + 1, 1 << 20)
            data = handle.read(step)
            while len(data) <= limit and (more := handle.read(min(step, limit + 1 - len(data)))):
                data += more  # it grew while we read it
    except OSError as exc:
        raise FormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if len(data) > limit:  # grew while we read it
        raise UnsafeInputError(f"{path}: {what} is over the limit of {limit:,} bytes")
    return data


def decode_text(data: bytes, source: str) -> str:
    """Decode UTF-8 (with or without a byte-order mark), explaining UTF-16 files.

    Raises
    ------
    FormatError
        The bytes are UTF-16/UTF-32 (Excel "Unicode Text") or not valid UTF-8.
    """
    if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        raise FormatError(f"{source}: the file is encoded as UTF-32; save it as UTF-8. "
                          f"{_EXCEL_HINT}")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise FormatError(f"{source}: the file is encoded as UTF-16, but UTF-8 or ASCII is "
                          f"expected. {_EXCEL_HINT}")
    head = data[:4096]
    if head and head.count(b"\x00") * 4 >= len(head):
        raise FormatError(f"{source}: the file contains NUL bytes; it looks like UTF-16 "
                          f"without a byte-order mark or a binary file. {_EXCEL_HINT}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(
            f"{source}: line {line}: byte 0x{data[exc.start]:02x} is not valid UTF-8; "
            "the file must be UTF-8 or ASCII (Excel: save as 'CSV UTF-8'; a Latin-1/Windows-1252 "
            "file can be converted with `iconv -f cp1252 -t utf-8`)"
        ) from exc


@dataclasses.dataclass(frozen=True)
class TextFile:
    """A text file read once: its text, and the SHA-256 and size of its bytes.

    Attributes
    ----------
    path : pathlib.Path
    text : str
        Decoded (UTF-8, byte-order mark dropped).
    sha256 : str
        Of the bytes as read (so the file is hashed without a second read).
    size : int
        Bytes.
    """

    path: Path
    text: str
    sha256: str
    size: int


def read_text_file(path: Path, what: str = "the text file") -> TextFile:
    """Read, hash and decode a text file under the ``max_text_bytes`` limit.

    Parameters
    ----------
    path : pathlib.Path
    what : str
        What the file is, for messages (``"the taxonomy file"``).

    Returns
    -------
    TextFile

    Raises
    ------
    UnsafeInputError
        Over the size limit (``GUTAXIS_MAX_TEXT_BYTES``).
    FormatError
        Unreadable, not UTF-8, or holding NUL characters (the line is named).
    """
    from gutaxis.io._limits import get_limits

    data = read_bytes_bounded(path, get_limits().max_text_bytes, what)
    _refuse_binary(path, data, what)
    text = decode_text(data, str(path))
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise FormatError(f"{path}: line {line}: NUL character in a text file; "
                          "is this a binary file?")
    return TextFile(path, text, hashlib.sha256(data).hexdigest(), len(data))


def _refuse_binary(path: Path, data: bytes, what: str) -> None:
    """Name a binary file given where a text file is read (not "it is not UTF-8").

    A ``.qza`` passed as metadata, a BIOM table as the tree: the decoder's
    complaint (UTF-16? Excel?) sent users the wrong way.
    """
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        kind = ("a QIIME 2 artifact (a zip archive)" if path.suffix.lower() in (".qza", ".qzv")
                else "a zip archive")
        raise FormatError(f"{path}: this is {kind}, not {what} (a text file); give the text "
                          "file itself (an artifact's contents: `qiime tools export`)")
    if data[:8] == b"\x89HDF\r\n\x1a\n":
        raise FormatError(f"{path}: this is an HDF5 file (a BIOM table?), not {what} "
                          "(a text file)")
    if data[:2] == b"\x1f\x8b":
        raise FormatError(f"{path}: the file is gzip-compressed; decompress it first "
                          f"(gunzip {path.name})")


def read_record(path: Path | str, fmt: str, *, sha256: str | None = None,
                size: int | None = None, **extra: Any) -> dict[str, Any]:
    """Return the provenance record a reader appends: step, format, path, sha256, bytes.

    Parameters
    ----------
    path : path
    fmt : str
        Format name (``"biom-hdf5"``, ``"qza"``, ``"taxonomy-tsv"``...).
    sha256 : str, optional
        The file's SHA-256 when the reader already has it (no second read);
        otherwise the file is hashed here.
    size : int, optional
        The file's size in bytes; otherwise taken from the file system.
    **extra
        Further keys (``artifact_type``, ``n_samples``...).

    Returns
    -------
    dict
    """
    digest = sha256 if sha256 is not None else file_sha256(path)
    if size is None:
        try:
            size = os.stat(path).st_size
        except OSError:  # an in-memory source (a member of an archive)
            size = None
    return {"step": "read", "format": fmt, "path": str(path), "sha256": digest, "bytes": size,
            **extra}


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_ids(ids: list[str], what: str, source: str, max_length: int) -> None:
    """Refuse empty, over-long, control-character or duplicated ids.

    Raises
    ------
    ValidationError
        With the offending id and its position.
    """
    seen: dict[str, int] = {}
    for pos, ident in enumerate(ids):
        if ident == "":
            raise ValidationError(f"{source}: {what} id number {pos + 1} is empty; "
                                  "every id must be a non-empty string")
        if len(ident) > max_length:
            raise ValidationError(
                f"{source}: {what} id number {pos + 1} is {len(ident):,} characters long; "
                f"the limit is {max_length:,} (GUTAXIS_MAX_ID_LENGTH)"
            )
        if _CONTROL.search(ident):
            raise ValidationError(f"{source}: {what} id {ident!r} (number {pos + 1}) contains "
                                  "a control character (tab, newline...)")
        first = seen.setdefault(ident, pos)
        if first != pos:
            raise ValidationError(f"{source}: {what} id {ident!r} appears twice (numbers "
                                  f"{first + 1} and {pos + 1}); ids must be unique")


def infer_kind(values: np.ndarray, kind: str | None, source: str,
               notes: list[str], where: Callable[[int], str] | None = None) -> str:
    """``kind`` if given, else ``"counts"`` for whole numbers and ``"relative"`` otherwise.

    A note is appended to ``notes`` when non-integer values make the table
    relative: how many, and the first (``where(k)`` names the cell of value
    ``k`` when given).
    """
    if kind is not None:
        if kind not in ("counts", "relative"):
            raise ValidationError(f"kind must be 'counts' or 'relative'; got {kind!r}")
        return kind
    fractional = np.flatnonzero(np.isfinite(values) & (values != np.round(values)))
    if fractional.size:
        k = int(fractional[0])
        cell = f"{where(k)} has {float(values[k])!r}" if where else f"{float(values[k])!r}"
        notes.append(f"values are not whole numbers ({fractional.size:,} of {values.size:,}; "
                     f"first, {cell}): read as relative abundances")
        return "relative"
    return "counts"


def check_values(values: np.ndarray, source: str, where: Any) -> None:
    """Refuse NaN, infinite and negative values; ``where(k)`` describes entry ``k``.

    Raises
    ------
    ValidationError
    """
    bad = ~np.isfinite(values)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"{source}: {where(k)} is {float(values[k])!r}; abundances must be "
                              "finite numbers (no NaN or infinity)")
    neg = values < 0
    if neg.any():
        k = int(np.flatnonzero(neg)[0])
        raise ValidationError(f"{source}: {where(k)} is {float(values[k])!r}; "
                              "abundances must be ≥ 0")


def make_study(counts: Any, sample_ids: list[str], feature_ids: list[str], *, source: str,
               record: dict[str, Any], kind: str | None, notes: list[str],
               taxonomy: Any = None, declared_kind: str | None = None) -> Any:
    """Check values and ids, settle the kind, and build the :class:`~gutaxis.study.Study`.

    Parameters
    ----------
    counts : scipy.sparse matrix
        Samples × features.
    sample_ids, feature_ids : list of str
    source : str
        File name for messages.
    record : dict
        The provenance record (``notes`` and ``kind`` are added to it).
    kind : {"counts", "relative"} or None
        The caller's choice; ``None`` infers it (``declared_kind`` first, then
        whole numbers → counts).
    notes : list of str
        Remarks gathered while reading.
    taxonomy : pandas.DataFrame, optional
    declared_kind : str, optional
        What the format itself says (a RelativeFrequency artifact, MetaPhlAn).

    Raises
    ------
    ValidationError
        NaN, infinite or negative values, bad ids, non-integer counts.
    """
    import scipy.sparse as sp

    from gutaxis.io._limits import get_limits
    from gutaxis.study import Study

    limits = get_limits()
    check_ids(sample_ids, "sample", source, limits.max_id_length)
    check_ids(feature_ids, "feature", source, limits.max_id_length)
    matrix = sp.csr_matrix(counts, dtype=np.float64)
    data = matrix.data

    def where(k: int) -> str:
        row = int(np.searchsorted(matrix.indptr, k, side="right") - 1)
        return f"sample {sample_ids[row]!r}, feature {feature_ids[int(matrix.indices[k])]!r}"

    check_values(data, source, where)
    if kind is None and declared_kind is not None:
        kind = declared_kind
        if kind == "counts" and data.size and not np.all(data == np.round(data)):
            k = int(np.flatnonzero(data != np.round(data))[0])
            raise ValidationError(
                f"{source}: the file declares read counts (a frequency table), but {where(k)} "
                f"is {float(data[k])!r}; counts are whole numbers. A table of relative "
                "abundances is a FeatureTable[RelativeFrequency] (qiime feature-table "
                "relative-frequency writes one)")
    else:
        kind = infer_kind(data, kind, source, notes, where)
    record = {**record, "kind": kind}
    if notes:
        record["notes"] = list(notes)
    return Study(counts=matrix, sample_ids=pd.Index(sample_ids, dtype=object),
                 feature_ids=pd.Index(feature_ids, dtype=object), taxonomy=taxonomy,
                 kind=kind, source=source,  # type: ignore[arg-type]
                 provenance=(record,))
