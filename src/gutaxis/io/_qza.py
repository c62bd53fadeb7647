"""QIIME 2 artifacts (``.qza``) read straight from the zip — no QIIME 2 needed.

Every member is vetted before anything is extracted: the member count, the
total uncompressed size and each member's compression ratio are bounded
(zip bombs), and absolute paths, ``..`` components, symbolic links,
encrypted and duplicate members are refused.  Only the one data file the
artifact's type needs is then read, into memory, and parsed by the same
validated readers used for plain files.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gutaxis.exceptions import FormatError, GutaxisError, UnsafeInputError
from gutaxis.io._common import PathLike, as_path, decode_text
from gutaxis.io._limits import ZIP_RATIO_FLOOR, Limits, get_limits
from gutaxis.provenance import file_sha256

if TYPE_CHECKING:
    from gutaxis.study import Study

__all__ = ["QzaArtifact", "read_qza", "read_qza_table", "is_qza", "SUPPORTED_TYPES", "ZIP_MAGIC"]

ZIP_MAGIC = b"PK\x03\x04"
_MAX_METADATA_BYTES = 1 << 20
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclasses.dataclass(frozen=True)
class QzaArtifact:
    """What a ``.qza`` holds.

    Parameters
    ----------
    type : str
        The semantic type as written in ``metadata.yaml``
        (``"FeatureTable[Frequency]"``, ``"SampleData[AlphaDiversity] % Properties('phylogenetic')"``).
    uuid : str
        The artifact's UUID (its root directory in the zip).
    format : str
        The directory format (``"BIOMV210DirFmt"``...).
    value : object
        The parsed data: :class:`~gutaxis.study.Study` for feature tables, a
        taxonomy DataFrame, a sequence Series, a :class:`~gutaxis.tree.Tree`,
        an alpha-diversity Series or a :class:`~gutaxis.distance.DistanceMatrix`.
    path : str
        The file read.
    sha256 : str
        Its SHA-256.
    """

    type: str
    uuid: str
    format: str
    value: Any
    path: str = ""
    sha256: str = ""

    @property
    def base_type(self) -> str:
        """The type without ``% Properties(...)`` and without spaces."""
        return _base_type(self.type)


def _base_type(semantic: str) -> str:
    return "".join(semantic.partition("%")[0].split())


def is_qza(path: PathLike) -> bool:
    """Whether ``path`` starts like a zip archive (a ``.qza`` candidate).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    bool
        ``True`` when the first bytes are a zip signature; the file is not
        otherwise checked (:func:`read_qza` does that).  ``False`` for
        unreadable files.
    """
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == ZIP_MAGIC
    except OSError:
        return False


# ------------------------------------------------------------------ the archive
def _check_member_name(name: str, label: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeInputError(f"{label}: archive member {name!r} has an absolute path; "
                               "refusing to read this archive")
    if ".." in parts:
        raise UnsafeInputError(f"{label}: archive member {name!r} contains '..' (path "
                               "traversal); refusing to read this archive")
    if "\x00" in name:
        raise UnsafeInputError(f"{label}: archive member name {name!r} contains a NUL byte")


def _vet_archive(zf: zipfile.ZipFile, label: str, limits: Limits) -> tuple[str, dict[str, zipfile.ZipInfo]]:
    """Check every member; return the root directory and the members by relative path."""
    infos = zf.infolist()
    if len(infos) > limits.max_zip_members:
        raise UnsafeInputError(f"{label}: the archive has {len(infos):,} members; the limit is "
                               f"{limits.max_zip_members:,} (GUTAXIS_MAX_ZIP_MEMBERS)")
    total = 0
    roots: set[str] = set()
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        _check_member_name(name, label)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeInputError(f"{label}: archive member {name!r} is a symbolic link; "
                                   "links are refused (they could expose other files)")
        if info.flag_bits & 0x1:
            raise FormatError(f"{label}: archive member {name!r} is encrypted")
        total += info.file_size
        if total > limits.max_zip_bytes:
            raise UnsafeInputError(f"{label}: the archive unpacks to more than "
                                   f"{limits.max_zip_bytes:,} bytes (GUTAXIS_MAX_ZIP_BYTES)")
        if info.file_size > ZIP_RATIO_FLOOR and (
                info.file_size > limits.max_zip_ratio * max(info.compress_size, 1)):
            ratio = info.file_size / max(info.compress_size, 1)
            raise UnsafeInputError(
                f"{label}: archive member {name!r} expands {ratio:,.0f}-fold "
                f"({info.compress_size:,} → {info.file_size:,} bytes); the limit is "
                f"{limits.max_zip_ratio}-fold (GUTAXIS_MAX_ZIP_RATIO) — a zip bomb?"
            )
        root, _, rest = name.partition("/")
        roots.add(root)
        if info.is_dir() or not rest:
            continue
        if rest in members:
            raise UnsafeInputError(f"{label}: archive member {name!r} appears twice")
        members[rest] = info
    if len(roots) != 1:
        shown = ", ".join(sorted(repr(r) for r in roots)[:5])
        raise FormatError(f"{label}: a QIIME 2 artifact has a single root directory named by "
                          f"its UUID; found {len(roots)} ({shown})")
    return roots.pop(), members


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    try:
        with zf.open(info) as handle:
            data = handle.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError,
            RuntimeError, ValueError) as exc:
        raise FormatError(f"{label}: archive member {info.filename!r} cannot be read "
                          f"({type(exc).__name__}: {exc})") from exc
    if len(data) > info.file_size:
        raise UnsafeInputError(f"{label}: archive member {info.filename!r} holds more data "
                               "than its header declares")
    return data


def _metadata(zf: zipfile.ZipFile, root: str, members: dict[str, zipfile.ZipInfo],
              label: str) -> dict[str, str]:
    import yaml

    info = members.get("metadata.yaml")
    if info is None:
        raise FormatError(f"{label}: '{root}/metadata.yaml' is missing; this zip is not a "
                          "QIIME 2 artifact")
    if info.file_size > _MAX_METADATA_BYTES:
        raise UnsafeInputError(f"{label}: metadata.yaml is {info.file_size:,} bytes; a real one "
                               "is under 1 KiB")
    text = decode_text(_read_member(zf, info, label), f"{label}:metadata.yaml")
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FormatError(f"{label}: metadata.yaml is not valid YAML ({exc})") from exc
    if not isinstance(meta, dict):
        raise FormatError(f"{label}: metadata.yaml should be a mapping with uuid, type and "
                          f"format; found {type(meta).__name__}")
    out: dict[str, str] = {}
    for key in ("uuid", "type", "format"):
        value = meta.get(key)
        if key != "format" and not isinstance(value, str):
            raise FormatError(f"{label}: metadata.yaml field {key!r} should be a string; found "
                              f"{str(value)[:60]!r}")
        out[key] = value if isinstance(value, str) else ""
    if out["uuid"] != root or not _UUID.match(root):
        raise FormatError(f"{label}: metadata.yaml says uuid {out['uuid']!r} but the root "
                          f"directory is {root!r}; they must be the same UUID")
    return out


# ------------------------------------------------------------------ the payloads
def _alpha(text: str, label: str) -> pd.Series:
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter="\t") if any(r)]
    if not rows or len(rows[0]) < 2:
        raise FormatError(f"{label}: expected a header '<id>\\t<metric>' and one row per sample")
    metric = rows[0][1].strip()
    ids, values = [], []
    for number, row in enumerate(rows[1:], start=2):
        if row[0].startswith("#"):
            continue
        if len(row) < 2:
            raise FormatError(f"{label}: line {number}: expected a sample id and a value")
        cell = row[1].strip()
        try:
            values.append(float(cell) if cell else np.nan)
        except ValueError as exc:
            raise FormatError(f"{label}: line {number}: {cell!r} is not a number") from exc
        ids.append(row[0].strip())
    index = pd.Index(ids, dtype=object, name="sample_id")
    if index.has_duplicates:
        raise FormatError(f"{label}: sample id {index[index.duplicated()][0]!r} appears twice")
    return pd.Series(values, index=index, name=metric, dtype=np.float64)


def _tree(text: str, label: str) -> Any:
    from gutaxis.tree import Tree

    return Tree.from_newick(text, source=label)


def _taxonomy(text: str, label: str) -> pd.DataFrame:
    from gutaxis.io._taxonomy import parse_taxonomy_tsv

    return parse_taxonomy_tsv(text, label)


def _sequences(text: str, label: str) -> pd.Series:
    from gutaxis.io._fasta import parse_fasta

    return parse_fasta(text, label)


def _distances(text: str, label: str) -> Any:
    from gutaxis.io._lsmat import parse_lsmat

    return parse_lsmat(text, label)


#: base type → (member under data/, parser of its text or None for binary BIOM, declared kind)
_TEXT: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "FeatureData[Taxonomy]": ("data/taxonomy.tsv", _taxonomy),
    "FeatureData[Sequence]": ("data/dna-sequences.fasta", _sequences),
    "Phylogeny[Rooted]": ("data/tree.nwk", _tree),
    "SampleData[AlphaDiversity]": ("data/alpha-diversity.tsv", _alpha),
    "DistanceMatrix": ("data/distance-matrix.tsv", _distances),
}
_TABLES = {"FeatureTable[Frequency]": "counts", "FeatureTable[RelativeFrequency]": "relative"}

#: The semantic types :func:`read_qza` understands.
SUPPORTED_TYPES: tuple[str, ...] = (*_TABLES, *_TEXT)


def read_qza(path: PathLike, *, kind: str | None = None) -> QzaArtifact:
    """Read a QIIME 2 artifact without QIIME 2.

    Parameters
    ----------
    path : str or path-like
        A ``.qza`` file.
    kind : {"counts", "relative"}, optional
        For feature tables: override the kind implied by the type.

    Returns
    -------
    QzaArtifact
        With ``value`` parsed according to ``type`` (see :data:`SUPPORTED_TYPES`).

    Raises
    ------
    FormatError
        Not a zip, no ``metadata.yaml``, UUID mismatch, a type not supported,
        the data file missing or malformed.
    UnsafeInputError
        Too many members, too large, a member expanding too much, absolute or
        ``..`` paths, symbolic links.
    """
    p = as_path(path)
    label = str(p)
    limits = get_limits()
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FormatError(f"{label}: not a readable zip archive ({exc}); a .qza artifact "
                          "was expected") from exc
    with zf:
        root, members = _vet_archive(zf, label, limits)
        meta = _metadata(zf, root, members, label)
        base = _base_type(meta["type"])
        digest = file_sha256(p)
        if base in _TABLES:
            value = _read_table_member(zf, members, root, label, digest, meta, base, kind)
        elif base in _TEXT:
            member, parser = _TEXT[base]
            text = decode_text(_member(zf, members, member, root, label), f"{label}:{member}")
            try:
                value = parser(text, f"{label}:{member}")
            except GutaxisError:
                raise
            except (ValueError, KeyError, IndexError) as exc:
                raise FormatError(f"{label}:{member}: cannot be parsed ({exc})") from exc
        else:
            raise FormatError(f"{label}: artifact type {meta['type']!r} is not supported; "
                              f"gutaxis reads: {', '.join(SUPPORTED_TYPES)}")
    return QzaArtifact(type=meta["type"], uuid=meta["uuid"], format=meta["format"],
                       value=value, path=label, sha256=digest)


def read_qza_of_type(path: PathLike, expected: str) -> QzaArtifact:
    """:func:`read_qza`, refusing an artifact whose base type is not ``expected``.

    Raises
    ------
    FormatError
        The artifact holds another type (the message names both).
    """
    artifact = read_qza(path)
    if artifact.base_type != expected:
        raise FormatError(f"{artifact.path}: expected a {expected} artifact; this one holds "
                          f"{artifact.type}")
    return artifact


def _member(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], member: str, root: str,
            label: str) -> bytes:
    info = members.get(member)
    if info is None:
        raise FormatError(f"{label}: '{root}/{member}' is missing from the artifact")
    return _read_member(zf, info, label)


def _read_table_member(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], root: str,
                       label: str, digest: str, meta: dict[str, str], base: str,
                       kind: str | None) -> Any:
    from gutaxis.io._biom import HDF5_MAGIC, read_biom_hdf5

    member = "data/feature-table.biom"
    data = _member(zf, members, member, root, label)
    if not data.startswith(HDF5_MAGIC):
        raise FormatError(f"{label}:{member} is not a BIOM 2.1 HDF5 file")
    study = read_biom_hdf5(data, name=f"{label}:{member}", kind=kind, sha256=digest,
                           fmt="qza", declared_kind=_TABLES[base])
    record = {**study.provenance[0], "path": label, "member": f"{root}/{member}",
              "artifact_type": meta["type"], "artifact_uuid": meta["uuid"]}
    return study.replace(provenance=(record,), source=label)


def read_qza_table(path: PathLike, *, kind: str | None = None) -> Study:
    """The :class:`~gutaxis.study.Study` of a ``FeatureTable[...]`` artifact.

    Parameters
    ----------
    path : str or path-like
    kind : {"counts", "relative"}, optional
        Override the kind implied by the type (``Frequency`` → counts,
        ``RelativeFrequency`` → relative).

    Returns
    -------
    Study

    Raises
    ------
    FormatError
        The artifact holds something other than a feature table.
    UnsafeInputError, ValidationError
        As :func:`read_qza`.
    """
    artifact = read_qza(path, kind=kind)
    if artifact.base_type not in _TABLES:
        hint = {"FeatureData[Taxonomy]": "read_taxonomy", "FeatureData[Sequence]":
                "read_sequences", "DistanceMatrix": "read_lsmat"}.get(artifact.base_type,
                                                                      "read_qza")
        raise FormatError(f"{path}: this artifact holds {artifact.type}, not a feature table; "
                          f"use gutaxis.io.{hint} for it")
    table: Study = artifact.value
    return table
