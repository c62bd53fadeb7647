"""The QIIME 2 artifact types gutaxis reads, each parsed by its own reader.

:func:`read_qza` opens any supported artifact (:mod:`gutaxis.io._qza` vets
the archive) and hands its data file to the parser of that kind of data —
the same parsers the plain files go through — so an artifact is exactly as
validated as the file it wraps.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gutaxis.exceptions import FormatError, GutaxisError
from gutaxis.io._biom import HDF5_MAGIC, read_biom_hdf5
from gutaxis.io._common import PathLike, decode_text
from gutaxis.io._fasta import parse_fasta
from gutaxis.io._lsmat import parse_lsmat
from gutaxis.io._qza import ArtifactMember, ArtifactTypeError, base_type, read_artifact
from gutaxis.io._taxonomy import parse_taxonomy_tsv
from gutaxis.tree import Tree

if TYPE_CHECKING:
    from gutaxis.study import Study

__all__ = ["QzaArtifact", "read_qza", "read_qza_table", "SUPPORTED_TYPES"]


@dataclasses.dataclass(frozen=True)
class QzaArtifact:
    """What a ``.qza`` holds, parsed.

    Attributes
    ----------
    type : str
        The semantic type as written in ``metadata.yaml``.
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
        return base_type(self.type)


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


def _tree(text: str, label: str) -> Tree:
    return Tree.from_newick(text, source=label)


#: base type → (data file under the root, parser of its text)
_TEXT: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "FeatureData[Taxonomy]": ("data/taxonomy.tsv", parse_taxonomy_tsv),
    "FeatureData[Sequence]": ("data/dna-sequences.fasta", parse_fasta),
    "Phylogeny[Rooted]": ("data/tree.nwk", _tree),
    "SampleData[AlphaDiversity]": ("data/alpha-diversity.tsv", _alpha),
    "DistanceMatrix": ("data/distance-matrix.tsv", parse_lsmat),
}
#: feature-table base type → the kind its type declares
_TABLES = {"FeatureTable[Frequency]": "counts", "FeatureTable[RelativeFrequency]": "relative"}
_TABLE_MEMBER = "data/feature-table.biom"
#: artifact types a command reads beside the table → (what it is, the option that takes it)
_COMPANIONS = {"FeatureData[Taxonomy]": ("the feature taxonomy", "--taxonomy"),
               "FeatureData[Sequence]": ("the ASV sequences", "--sequences"),
               "Phylogeny[Rooted]": ("a tree", "--tree")}

#: The semantic types :func:`read_qza` understands.
SUPPORTED_TYPES: tuple[str, ...] = (*_TABLES, *_TEXT)


def _table(artifact: ArtifactMember, kind: str | None) -> Study:
    if not artifact.data.startswith(HDF5_MAGIC):
        raise FormatError(f"{artifact.label} is not a BIOM 2.1 HDF5 file")
    study = read_biom_hdf5(artifact.data, name=artifact.label, kind=kind,
                           sha256=artifact.sha256, fmt="qza",
                           declared_kind=_TABLES[artifact.base_type])
    record = {**study.provenance[0], "path": artifact.path, "bytes": artifact.size,
              "member": artifact.member, "artifact_type": artifact.type,
              "artifact_uuid": artifact.uuid, "checksum": artifact.checksum}
    return study.replace(provenance=(record,), source=artifact.path)


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
    members = {t: _TABLE_MEMBER for t in _TABLES} | {t: m for t, (m, _) in _TEXT.items()}
    try:
        artifact = read_artifact(path, members)
    except ArtifactTypeError as exc:
        raise FormatError(f"{path}: artifact type {exc.held!r} is not supported; gutaxis "
                          f"reads: {', '.join(SUPPORTED_TYPES)}") from None
    if artifact.base_type in _TABLES:
        value: Any = _table(artifact, kind)
    else:
        parser = _TEXT[artifact.base_type][1]
        text = decode_text(artifact.data, artifact.label)
        try:
            value = parser(text, artifact.label)
        except GutaxisError:
            raise
        except (ValueError, KeyError, IndexError) as exc:
            raise FormatError(f"{artifact.label}: cannot be parsed ({exc})") from exc
    return QzaArtifact(type=artifact.type, uuid=artifact.uuid, format=artifact.format,
                       value=value, path=artifact.path, sha256=artifact.sha256)


def read_qza_table(path: PathLike, *, kind: str | None = None) -> Study:
    """Return the :class:`~gutaxis.study.Study` of a ``FeatureTable[...]`` artifact.

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
        The artifact holds something other than a feature table (the message
        names the reader for what it holds).
    UnsafeInputError, ValidationError
        As :func:`read_qza`.
    """
    try:
        artifact = read_artifact(path, {t: _TABLE_MEMBER for t in _TABLES})
    except ArtifactTypeError as exc:
        role = _COMPANIONS.get(base_type(exc.held))
        hint = (f"it is {role[0]}: give it with {role[1]}, and the feature table as TABLE"
                if role is not None else
                f"the table must be a {' or '.join(_TABLES)} artifact")
        raise FormatError(f"{path}: this artifact holds {exc.held}, not a feature table; "
                          f"{hint}") from None
    return _table(artifact, kind)
