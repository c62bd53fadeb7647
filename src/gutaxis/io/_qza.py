"""QIIME 2 artifacts (``.qza``) opened straight from the zip — no QIIME 2 needed.

This module knows the archive, not what is in it: every member is vetted
before anything is extracted (the member count, the total uncompressed size
and each member's compression ratio are bounded against zip bombs; absolute
paths, ``..`` components, symbolic links, encrypted and duplicate members are
refused), ``metadata.yaml`` is checked, and the one data file the artifact's
type needs is read into memory (:func:`read_artifact`).  The readers of each
kind of data parse it: :func:`text_or_artifact` is the one way a reader
accepts "a ``.qza`` of type X, or a plain file".
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import reprlib
import stat
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

from gutaxis.checks import check_path
from gutaxis.exceptions import ArtifactChecksumWarning, FormatError, UnsafeInputError
from gutaxis.io._common import PathLike, as_path, decode_text, read_record, read_text_file
from gutaxis.io._limits import ZIP_RATIO_FLOOR, Limits, get_limits
from gutaxis.provenance import file_sha256

__all__ = ["ArtifactMember", "ArtifactTypeError", "read_artifact", "text_or_artifact",
           "base_type", "is_qza", "ZIP_MAGIC"]

ZIP_MAGIC = b"PK\x03\x04"
_MAX_METADATA_BYTES = 1 << 20
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# a YAML value shown in a message, bounded: aliases make a 500-byte file hold 9**9 strings
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxstring, _SHOWN.maxother = (
    2, 3, 3, 60, 60)


class ArtifactTypeError(FormatError):
    """A ``.qza`` that holds another semantic type than the one expected.

    Parameters
    ----------
    path : str
        The artifact.
    held : str
        The semantic type it holds.
    expected : sequence of str
        The base types that were accepted.

    Attributes
    ----------
    held : str
    expected : tuple of str
    """

    def __init__(self, path: str, held: str, expected: tuple[str, ...]) -> None:
        self.held = held
        self.expected = expected
        super().__init__(f"{path}: expected a {' or '.join(expected)} artifact; this one "
                         f"holds {held}")


@dataclasses.dataclass(frozen=True)
class ArtifactMember:
    """The data file of a ``.qza`` artifact, read into memory.

    Attributes
    ----------
    type : str
        The semantic type as written in ``metadata.yaml``
        (``"FeatureTable[Frequency]"``,
        ``"SampleData[AlphaDiversity] % Properties('phylogenetic')"``).
    uuid : str
        The artifact's UUID (its root directory in the zip).
    format : str
        The directory format (``"BIOMV210DirFmt"``...).
    path : str
        The ``.qza`` file.
    sha256 : str
        The SHA-256 of the ``.qza`` file.
    size : int
        Its size in bytes.
    member : str
        The data file's path inside the artifact (``"<uuid>/data/taxonomy.tsv"``).
    data : bytes
        The data file's content.
    """

    type: str
    uuid: str
    format: str
    path: str
    sha256: str
    size: int
    member: str
    data: bytes = dataclasses.field(repr=False)
    #: the data file against ``checksums.md5``: ``"verified"``, ``"mismatch"``,
    #: ``"not listed"`` (no line for it) or ``"no checksums"`` (archives before version 5)
    checksum: str = "no checksums"

    @property
    def base_type(self) -> str:
        """The type without ``% Properties(...)`` and without spaces."""
        return base_type(self.type)

    @property
    def label(self) -> str:
        """``"<file>:<member under the root>"``, for messages."""
        return f"{self.path}:{self.member.partition('/')[2]}"

    def record(self, **extra: Any) -> dict[str, Any]:
        """Return the provenance record of the artifact (format ``"qza"``).

        Parameters
        ----------
        **extra
            Further keys.

        Returns
        -------
        dict
        """
        return read_record(self.path, "qza", sha256=self.sha256, size=self.size,
                           artifact_type=self.type, artifact_uuid=self.uuid,
                           member=self.member, checksum=self.checksum, **extra)


def base_type(semantic: str) -> str:
    """Return a semantic type without ``% Properties(...)`` and without spaces.

    Examples
    --------
    >>> base_type("SampleData[AlphaDiversity] % Properties('phylogenetic')")
    'SampleData[AlphaDiversity]'
    """
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

    Raises
    ------
    InputError
        ``path`` is not a path at all (None, a number).
    """
    path = check_path(path, "path")
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


def _vet_archive(zf: zipfile.ZipFile, label: str,
                 limits: Limits) -> tuple[str, dict[str, zipfile.ZipInfo]]:
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
                              f"{_SHOWN.repr(value)}")
        out[key] = value if isinstance(value, str) else ""
    if out["uuid"] != root or not _UUID.match(root):
        raise FormatError(f"{label}: metadata.yaml says uuid {out['uuid']!r} but the root "
                          f"directory is {root!r}; they must be the same UUID")
    return out


def read_artifact(path: PathLike, members: Mapping[str, str]) -> ArtifactMember:
    """Open a ``.qza``, vet it, and read the data file its type holds.

    Parameters
    ----------
    path : str or path-like
        A ``.qza`` file.
    members : mapping of str to str
        Base semantic type → the data file of that type under the artifact's
        root (``{"FeatureData[Taxonomy]": "data/taxonomy.tsv"}``): the types
        the caller accepts.

    Returns
    -------
    ArtifactMember

    Raises
    ------
    ArtifactTypeError
        A type the caller does not accept (the message names what it holds
        and what was expected).
    FormatError
        Not a zip, no ``metadata.yaml``, UUID mismatch, the data file missing
        or unreadable.
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
        root, vetted = _vet_archive(zf, label, limits)
        meta = _metadata(zf, root, vetted, label)
        base = base_type(meta["type"])
        if base not in members:
            raise ArtifactTypeError(label, meta["type"], tuple(members))
        member = members[base]
        info = vetted.get(member)
        if info is None:
            raise FormatError(f"{label}: '{root}/{member}' is missing from the artifact")
        data = _read_member(zf, info, label)
        checksum = _checksum(zf, vetted, member, data, label)
    return ArtifactMember(type=meta["type"], uuid=meta["uuid"], format=meta["format"],
                          path=label, sha256=file_sha256(p), size=p.stat().st_size,
                          member=f"{root}/{member}", data=data, checksum=checksum)


#: The largest ``checksums.md5`` read (one line a file of the archive; real ones are a
#: few KiB).
_MAX_CHECKSUMS_BYTES = 4 * 2**20


def _checksum(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], member: str,
              data: bytes, label: str) -> str:
    """Check ``data`` against the archive's ``checksums.md5``; warn when it differs."""
    info = members.get("checksums.md5")
    if info is None:
        return "no checksums"
    if info.file_size > _MAX_CHECKSUMS_BYTES:
        raise UnsafeInputError(f"{label}: checksums.md5 is {info.file_size:,} bytes; a real "
                               "one is a few KiB")
    text = decode_text(_read_member(zf, info, label), f"{label}:checksums.md5")
    recorded = None
    for line in text.splitlines():
        escaped = line.startswith("\\")  # md5sum's form for names holding \\ or a newline
        digest, _, name = line[escaped:].partition("  ")
        if escaped:
            name = name.replace("\\n", "\n").replace("\\\\", "\\")
        if name == member:
            recorded = digest.strip().lower()
            break
    if recorded is None:
        return "not listed"
    actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if actual == recorded:
        return "verified"
    warnings.warn(ArtifactChecksumWarning(
        f"{label}: {member} does not match checksums.md5 (MD5 {actual}, recorded "
        f"{recorded}): the artifact was changed after it was written; its data are read as "
        "they are"), stacklevel=2)
    return "mismatch"


def text_or_artifact(path: PathLike, *, artifact_type: str, member: str, fmt: str,
                     what: str) -> tuple[str, str, dict[str, Any]]:
    """Return the text of a plain file, or of the data file of a ``.qza`` of one type.

    The one way a reader accepts either form (taxonomy, sequences, trees,
    distance matrices).

    Parameters
    ----------
    path : str or path-like
    artifact_type : str
        The base semantic type a ``.qza`` must hold (``"FeatureData[Taxonomy]"``).
    member : str
        Its data file under the artifact's root (``"data/taxonomy.tsv"``).
    fmt : str
        The format name recorded for a plain file (``"taxonomy-tsv"``).
    what : str
        What the file is, for messages (``"the taxonomy file"``).

    Returns
    -------
    text : str
    label : str
        The name to use in messages (``"x.qza:data/taxonomy.tsv"`` or the path).
    record : dict
        The provenance record (format, path, sha256, bytes, and for an
        artifact its type and UUID).

    Raises
    ------
    FormatError, UnsafeInputError
        As :func:`read_artifact` and :func:`~gutaxis.io._common.read_text_file`.
    """
    p = as_path(path)
    if is_qza(p):
        artifact = read_artifact(p, {artifact_type: member})
        return (decode_text(artifact.data, artifact.label), artifact.label, artifact.record())
    file = read_text_file(p, what)
    return file.text, str(p), read_record(p, fmt, sha256=file.sha256, size=file.size)
