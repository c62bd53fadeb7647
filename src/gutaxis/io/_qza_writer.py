"""QIIME 2 artifacts (``.qza``) written without QIIME 2: distance matrices, alpha diversity, PCoA.

The archive (QIIME 2 archive format 6, as ``qiime2/core/archive`` writes it):

``<uuid>/VERSION``
    ``QIIME 2`` / ``archive: 6`` / ``framework: 2023.5.0`` — QIIME 2's
    provenance parser requires a QIIME 2 release in the framework line; the
    one given is the first release of archive format 6, the format followed
    here.  What really made the artifact is in the provenance (below).
``<uuid>/metadata.yaml``
    ``uuid``, ``type`` (the semantic type) and ``format`` (the directory format).
``<uuid>/data/…``
    The one data file of the directory format.
``<uuid>/provenance/``
    ``VERSION`` and ``metadata.yaml`` (copies), ``citations.bib`` and
    ``action/action.yaml`` (an ``import`` action: the artifact entered QIIME 2's
    world from outside, with the md5 of its data file; the ``environment``
    names gutaxis), and ``action/gutaxis-provenance.json`` — gutaxis's own
    provenance record (command, parameters, input hashes, versions).
``<uuid>/checksums.md5``
    The md5 of every other file, in the order and layout of QIIME 2's
    ``md5sum_directory``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import sys
import tempfile
import uuid as uuid_module
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from gutaxis._version import __version__
from gutaxis.checks import check_type
from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import InputError, ValidationError
from gutaxis.io._common import PathLike
from gutaxis.io._lsmat import lsmat_rows
from gutaxis.io._matrix_stores import PCoALike
from gutaxis.outputs import open_atomic

__all__ = ["write_qza", "write_distance_matrix_qza", "write_alpha_qza", "write_pcoa_qza",
           "ARCHIVE_VERSION", "FRAMEWORK_VERSION"]

ARCHIVE_VERSION = "6"
#: First QIIME 2 release that writes archive format 6 (qiime2 2023.5.0).
FRAMEWORK_VERSION = "2023.5.0"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _md5sum_directory(root: Path) -> list[tuple[str, str]]:
    """``(relative path, md5)`` in the order of QIIME 2's ``md5sum_directory`` (sorted walk)."""
    sums = []
    for folder, dirs, files in os.walk(root, topdown=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            sums.append((path.relative_to(root).as_posix(), _md5(path.read_bytes())))
    return sums


def _checksum_line(relpath: str, digest: str) -> str:
    # GNU md5sum escaping, as qiime2.core.util.to_checksum_format
    if "\\" in relpath or "\n" in relpath:
        return "\\" + digest + "  " + relpath.replace("\\", "\\\\").replace("\n", "\\n")
    return f"{digest}  {relpath}"


def _action_yaml(artifact_uuid: str, directory_format: str, files: Mapping[str, bytes],
                 start: dt.datetime, end: dt.datetime) -> str:
    seconds = max((end - start).total_seconds(), 0.0)
    execution = {"uuid": artifact_uuid,
                 "runtime": {"start": start.isoformat(), "end": end.isoformat(),
                             "duration": f"{seconds:.6f} seconds"}}
    action = {"type": "import", "format": directory_format,
              "manifest": [{"name": name, "md5sum": _md5(data)}
                           for name, data in files.items()]}
    environment = {"platform": f"{sys.platform}-{platform.machine()}",
                   "python": sys.version.replace("\n", " ").strip(),
                   "plugins": {"gutaxis": {"version": __version__}}}
    settings: dict[str, Any] = {"default_flow_style": False, "indent": 4, "sort_keys": False}
    sections = [yaml.safe_dump({key: value}, **settings) for key, value in
                (("execution", execution), ("action", action), ("environment", environment))]
    return "\n".join(str(section) for section in sections)


def write_qza(path: PathLike, *, semantic_type: str, directory_format: str,
              files: Mapping[str, bytes], provenance: Mapping[str, Any] | None = None,
              artifact_uuid: str | None = None, citations: str = "") -> str:
    """Write a QIIME 2 artifact holding ``files`` (their names under ``data/``).

    Parameters
    ----------
    path : str or path-like
        The ``.qza`` to write.
    semantic_type : str
        ``"DistanceMatrix"``, ``"SampleData[AlphaDiversity]"``, ``"PCoAResults"``…
    directory_format : str
        The q2-types directory format (``"DistanceMatrixDirectoryFormat"``…).
    files : mapping of str to bytes
        The data files, by name (``{"distance-matrix.tsv": b"…"}``).
    provenance : mapping, optional
        gutaxis's provenance record, stored as
        ``provenance/action/gutaxis-provenance.json``.
    artifact_uuid : str, optional
        A version-4 UUID (new one by default).
    citations : str, optional
        BibTeX for ``provenance/citations.bib``.

    Returns
    -------
    str
        The artifact's UUID.

    Raises
    ------
    ValidationError
        No files, a file name with a folder in it, a UUID that is not version 4.
    OutputError
        The file cannot be written.
    """
    if not isinstance(files, Mapping) or not all(
            isinstance(k, str) and isinstance(v, bytes | bytearray) for k, v in files.items()):
        raise InputError(f"files must map file names to bytes; got {type(files).__name__}")
    if not files:
        raise ValidationError("an artifact needs at least one data file")
    for name in files:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValidationError(f"artifact data file name {name!r} must be a plain file name")
    art = str(uuid_module.uuid4()) if artifact_uuid is None else str(artifact_uuid)
    try:
        if uuid_module.UUID(art).version != 4:
            raise ValueError
    except ValueError:
        raise ValidationError(f"artifact_uuid must be a version-4 UUID; got {art!r}") from None
    start = dt.datetime.now(dt.UTC).astimezone()
    version = f"QIIME 2\narchive: {ARCHIVE_VERSION}\nframework: {FRAMEWORK_VERSION}\n"
    metadata = yaml.safe_dump({"uuid": art, "type": semantic_type, "format": directory_format},
                              default_flow_style=False, sort_keys=False)
    with tempfile.TemporaryDirectory(prefix="gutaxis-qza-") as scratch:
        root = Path(scratch) / art
        (root / "data").mkdir(parents=True)
        (root / "provenance" / "action").mkdir(parents=True)
        (root / "VERSION").write_text(version, encoding="utf-8")
        (root / "metadata.yaml").write_text(metadata, encoding="utf-8")
        for name, data in files.items():
            (root / "data" / name).write_bytes(data)
        (root / "provenance" / "VERSION").write_text(version, encoding="utf-8")
        (root / "provenance" / "metadata.yaml").write_text(metadata, encoding="utf-8")
        (root / "provenance" / "citations.bib").write_text(citations, encoding="utf-8")
        end = dt.datetime.now(dt.UTC).astimezone()
        (root / "provenance" / "action" / "action.yaml").write_text(
            _action_yaml(art, directory_format, files, start, end), encoding="utf-8")
        if provenance is not None:
            (root / "provenance" / "action" / "gutaxis-provenance.json").write_text(
                json.dumps(provenance, indent=2, default=str, allow_nan=False) + "\n",
                encoding="utf-8")
        sums = _md5sum_directory(root)
        (root / "checksums.md5").write_text(
            "".join(_checksum_line(rel, digest) + "\n" for rel, digest in sums),
            encoding="utf-8")
        with open_atomic(path, "wb", what="the QIIME 2 artifact") as out, \
                zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED,
                                allowZip64=True) as zf:
            for folder, dirs, names in os.walk(root):
                dirs.sort()
                for name in sorted(names):
                    member = Path(folder) / name
                    zf.write(member, arcname=member.relative_to(scratch).as_posix())
    return art


def write_distance_matrix_qza(dm: DistanceMatrix, path: PathLike, *,
                              provenance: Mapping[str, Any] | None = None) -> str:
    """Write ``dm`` as a QIIME 2 ``DistanceMatrix`` artifact (``DistanceMatrixDirectoryFormat``).

    The data file ``data/distance-matrix.tsv`` is the lsmat text that
    :func:`~gutaxis.io.write_lsmat` writes.

    Parameters
    ----------
    dm : DistanceMatrix
    path : str or path-like
    provenance : mapping, optional
        gutaxis's provenance record, stored in the artifact's provenance.

    Returns
    -------
    str
        The artifact's UUID.

    Examples
    --------
    >>> import os, tempfile
    >>> from gutaxis.io import read_lsmat
    >>> dm = DistanceMatrix(pd.Index(["a", "b"]), np.array([[0.0, 0.5], [0.5, 0.0]]))
    >>> path = os.path.join(tempfile.mkdtemp(), "dm.qza")
    >>> _ = write_distance_matrix_qza(dm, path)
    >>> float(read_lsmat(path).data[0, 1])
    0.5
    """
    check_type(dm, DistanceMatrix, "dm", hint="e.g. from gutaxis.diversity.beta_diversity")
    ids = [str(i) for i in dm.ids]
    for ident in ids:
        if "\t" in ident or "\n" in ident or "\r" in ident:
            raise ValidationError(f"distance matrix id {ident!r} contains a tab or line break; "
                                  "it cannot be written as lsmat")
    labels = [ident.encode("utf-8") + b"\t" for ident in ids]
    text = ("\t" + "\t".join(ids) + "\n").encode("utf-8") + lsmat_rows(labels, dm.data)
    return write_qza(path, semantic_type="DistanceMatrix",
                     directory_format="DistanceMatrixDirectoryFormat",
                     files={"distance-matrix.tsv": text}, provenance=provenance)


def write_alpha_qza(values: pd.Series, path: PathLike, *,
                    provenance: Mapping[str, Any] | None = None) -> str:
    """Write one alpha metric as a ``SampleData[AlphaDiversity]`` artifact.

    ``data/alpha-diversity.tsv``: a header (an empty cell, then the metric
    name, the Series' name) and one row per sample, values as ``repr`` writes
    them, missing values (NaN) as empty cells — as q2-types writes a Series.

    Parameters
    ----------
    values : pandas.Series
        Indexed by sample id, named by the metric.
    path : str or path-like
    provenance : mapping, optional

    Returns
    -------
    str
        The artifact's UUID.

    Raises
    ------
    InputError
        ``values`` is not a Series.
    ValidationError
        No name, duplicate ids, or an id with a tab or line break.
    """
    check_type(values, pd.Series, "values", hint="one column of alpha_diversity(...)")
    if values.name is None or str(values.name) == "":
        raise ValidationError("the alpha values need a name (the metric), e.g. "
                              "series.rename('shannon_entropy')")
    ids = [str(i) for i in values.index]
    if len(set(ids)) != len(ids):
        raise ValidationError("the alpha values have duplicate sample ids")
    for ident in [*ids, str(values.name)]:
        if "\t" in ident or "\n" in ident or "\r" in ident:
            raise ValidationError(f"{ident!r} contains a tab or line break; it cannot be "
                                  "written as TSV")
    numbers = np.asarray(values, dtype=np.float64).tolist()
    lines = ["\t" + str(values.name)]
    lines += [f"{ident}\t{'' if v != v else repr(v)}" for ident, v in zip(ids, numbers,
                                                                           strict=True)]
    return write_qza(path, semantic_type="SampleData[AlphaDiversity]",
                     directory_format="AlphaDiversityDirectoryFormat",
                     files={"alpha-diversity.tsv": ("\n".join(lines) + "\n").encode("utf-8")},
                     provenance=provenance)


def write_pcoa_qza(ordination: PCoALike, path: PathLike, *,
                   provenance: Mapping[str, Any] | None = None) -> str:
    """Write a PCoA as a ``PCoAResults`` artifact (``OrdinationDirectoryFormat``).

    ``data/ordination.txt`` is written by scikit-bio
    (``OrdinationResults.write(format="ordination")``), the format QIIME 2 reads.

    Parameters
    ----------
    ordination : OrdinationResult
    path : str or path-like
    provenance : mapping, optional

    Returns
    -------
    str
        The artifact's UUID.
    """
    import io

    from skbio import OrdinationResults

    for attribute in ("ids", "coordinates", "eigenvalues", "proportion_explained", "method"):
        if not hasattr(ordination, attribute):
            raise InputError(f"ordination must be a PCoA result (e.g. gutaxis.ordination.pcoa"
                             f"(...)); got {type(ordination).__name__} without {attribute!r}")
    labels = [f"PC{i}" for i in range(1, np.asarray(ordination.coordinates).shape[1] + 1)]
    result = OrdinationResults(
        short_method_name="PCoA",
        long_method_name="Principal Coordinate Analysis",
        eigvals=pd.Series(np.asarray(ordination.eigenvalues, np.float64), index=labels),
        samples=pd.DataFrame(np.asarray(ordination.coordinates, np.float64),
                             index=[str(i) for i in ordination.ids], columns=labels),
        proportion_explained=pd.Series(np.asarray(ordination.proportion_explained, np.float64),
                                       index=labels))
    text = io.StringIO()
    result.write(text, format="ordination")
    return write_qza(path, semantic_type="PCoAResults",
                     directory_format="OrdinationDirectoryFormat",
                     files={"ordination.txt": text.getvalue().encode("utf-8")},
                     provenance=provenance)
