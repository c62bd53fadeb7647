"""Reference cohorts on disk: save, and load with the hash check.

A reference folder holds ``reference.json`` (metadata, human-readable),
``arrays.npz`` (every per-sample array, compressed, no pickled objects) and,
optionally, ``classifier/`` (a copied classifier with its sidecar).
:func:`save_reference` writes it; :func:`load_reference` reads it back and
checks it: the structure, the schema version, and that the arrays hash to the
``version`` recorded (:func:`content_hash`).
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gutaxis._version import __version__
from gutaxis.checks import check_path
from gutaxis.exceptions import FormatError, GutaxisError, InputError, ValidationError
from gutaxis.io import SEQUENCING_TYPES, TAXONOMY_SCHEMES
from gutaxis.markers import MarkerColumn
from gutaxis.outputs import open_atomic, output_folder, to_json, write_bytes, write_json
from gutaxis.provenance import file_sha256
from gutaxis.reference._model import DISTANCE_QUANTILE, Reference, check_reference
from gutaxis.study import RANKS

__all__ = ["save_reference", "load_reference", "reference_document", "content_hash",
           "check_classifier", "SCHEMA_VERSION", "FORMAT", "JSON_FILE", "ARRAYS_FILE",
           "CLASSIFIER_DIR", "OWNED"]

#: Version of the on-disk layout; a reader refuses a larger one.
SCHEMA_VERSION = 2
FORMAT = "gutaxis-reference"
JSON_FILE = "reference.json"
ARRAYS_FILE = "arrays.npz"
CLASSIFIER_DIR = "classifier"
#: What a reference folder holds (what ``overwrite`` replaces).
OWNED = (JSON_FILE, ARRAYS_FILE, CLASSIFIER_DIR)


def content_hash(arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> str:
    """Return the SHA-256 of the arrays (names, dtypes, shapes, values) and of ``extra`` (JSON).

    String arrays are hashed as their JSON list, numbers as little-endian
    bytes, so the hash is the same on every platform and after a save/load.
    """
    digest = hashlib.sha256()
    for key in sorted(arrays):
        arr = np.asarray(arrays[key])
        digest.update(key.encode("utf-8") + b"\x00")
        if arr.dtype.kind == "U":
            digest.update(b"str" + repr(arr.shape).encode() + b"\x00")
            digest.update(json.dumps(arr.tolist(), ensure_ascii=False).encode("utf-8"))
        else:
            little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
            digest.update(little.dtype.str.encode() + repr(arr.shape).encode() + b"\x00")
            digest.update(np.ascontiguousarray(little).tobytes())
        digest.update(b"\x01")
    digest.update(json.dumps(to_json(dict(extra)), sort_keys=True,
                             ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def check_classifier(path: Path) -> dict[str, Any]:
    """Check a classifier file against its sidecar without unpickling it.

    Parameters
    ----------
    path : pathlib.Path
        A model saved by :meth:`gutaxis.stats.FittedClassifier.save`.

    Returns
    -------
    dict
        ``{"file", "sidecar", "sha256", "sidecar_sha256"}`` of the source files.

    Raises
    ------
    InputError, UnsafeInputError
        The file or its sidecar is missing, or fails its check
        (:func:`gutaxis.stats.verify_model_file`).
    """
    from gutaxis.stats import verify_model_file

    digest = verify_model_file(path)["sha256"]
    side = path.with_name(path.name + ".json")
    return {"file": path.name, "sidecar": side.name, "sha256": digest,
            "sidecar_sha256": file_sha256(side)}


def save_reference(reference: Reference, directory: str | os.PathLike[str], *,
                   overwrite: bool = False) -> Path:
    """Write a reference to a folder.

    Layout: ``reference.json`` (metadata, human-readable), ``arrays.npz``
    (every per-sample array, compressed, no pickled objects) and, when the
    reference has a classifier, ``classifier/<model>`` with its sidecar
    ``<model>.json``.

    Parameters
    ----------
    reference : Reference
    directory : path
        Created when missing.
    overwrite : bool, default False
        Replace a reference already in the folder (files other than the
        reference's are kept); without it a folder that holds anything is
        refused.

    Returns
    -------
    pathlib.Path
        ``directory``.

    Raises
    ------
    OutputError
        The folder is not empty and ``overwrite`` is False, or it holds the
        classifier being frozen.
    InputError, UnsafeInputError
        The classifier fails its check, or changed since the reference was
        built; ``reference`` is not a Reference or ``directory`` not a path.
    """
    check_reference(reference)
    target = check_path(directory, "directory")
    classifier = None
    if reference.classifier_file is not None:
        digest = check_classifier(reference.classifier_file)["sha256"]
        frozen = (reference.details.get("classifier") or {}).get("sha256")
        if frozen is not None and digest != frozen:
            raise ValidationError(
                f"{reference.classifier_file}: the classifier changed since the reference was "
                f"built (SHA-256 {frozen[:12]}…, now {digest[:12]}…); build the reference "
                "again with the model you mean to freeze")
        classifier = reference.classifier_file
    _write_folder(target, reference_document(reference), reference.content(), classifier,
                  overwrite=overwrite)
    return target


def _write_folder(directory: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                  classifier: Path | None, *, overwrite: bool) -> Path:
    """Write ``reference.json``, ``arrays.npz`` and the classifier into ``directory``."""
    inputs = [] if classifier is None else [classifier,
                                             classifier.with_name(classifier.name + ".json")]
    with output_folder(directory, owned=OWNED, overwrite=overwrite, inputs=inputs,
                       what="the reference"):
        payload: dict[str, Any] = dict(arrays)
        with open_atomic(directory / ARRAYS_FILE, "wb", what="the reference's arrays") as out:
            np.savez_compressed(out, **payload)
        if classifier is not None:
            target = directory / CLASSIFIER_DIR
            side = classifier.with_name(classifier.name + ".json")
            write_bytes(target / classifier.name, classifier.read_bytes())
            write_bytes(target / side.name, side.read_bytes())
        write_json(directory / JSON_FILE, meta)  # last: a folder without it is no reference
        return directory


def reference_document(ref: Reference) -> dict[str, Any]:
    """Return the ``reference.json`` document of ``ref``.

    Parameters
    ----------
    ref : Reference

    Returns
    -------
    dict

    Raises
    ------
    InputError
        ``ref`` is not a Reference.
    """
    check_reference(ref, "reference")
    details = dict(ref.details)
    classifier = details.pop("classifier", None)
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "name": ref.name,
        "version": ref.version,
        "created": ref.created,
        "gutaxis_version": details.pop("gutaxis_version", __version__),
        "n_samples": ref.n_samples,
        "kind": ref.kind,
        "sequencing": {"type": ref.sequencing, "region": ref.region,
                       "source": details.pop("sequencing_source", "unknown")},
        "taxonomy_scheme": {"scheme": ref.taxonomy_scheme,
                            "source": details.pop("taxonomy_scheme_source", "unknown")},
        "ranks": list(ref.taxa),
        "read_depth": ref.depth_quantiles(),
        "distance": {"metric": "braycurtis", "rank": "genus", "statistic": "median",
                     "quantile": DISTANCE_QUANTILE, "threshold": ref.distance_threshold},
        "indices": {"columns": [str(c) for c in ref.indices.columns],
                    "notes": details.pop("index_notes", {}),
                    "panel_resolution": details.pop("panel_resolution", {})},
        "markers": {name: info.to_dict() for name, info in ref.marker_info.items()},
        "classifier": classifier,
        "arrays": ARRAYS_FILE,
        **details,
    }


_STRUCTURE = {"format", "schema_version", "name", "version", "n_samples", "kind", "sequencing",
              "taxonomy_scheme", "ranks", "read_depth", "distance", "indices", "markers",
              "arrays"}


def _details_from(meta: dict[str, Any]) -> dict[str, Any]:
    """Return :attr:`Reference.details` from a ``reference.json`` document."""
    details = {k: v for k, v in meta.items() if k not in _STRUCTURE}
    details["index_notes"] = meta["indices"].get("notes", {})
    details["panel_resolution"] = meta["indices"].get("panel_resolution", {})
    details["sequencing_source"] = meta["sequencing"].get("source", "unknown")
    details["taxonomy_scheme_source"] = meta["taxonomy_scheme"].get("source", "unknown")
    return details


def _bad(path: Path, what: str) -> FormatError:
    return FormatError(f"{path}: {what}")


def _read_folder(directory: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Return ``reference.json`` and the arrays of a reference folder, structurally checked.

    Raises
    ------
    InputError
        ``directory`` is not a directory.
    FormatError
        A file is missing, unreadable or not what it should be (the file is
        named), or the reference was written by a newer gutaxis.
    """
    if not directory.is_dir():
        raise InputError(f"no reference folder at {directory} (make one with `gutaxis "
                         "reference build`)")
    jpath, apath = directory / JSON_FILE, directory / ARRAYS_FILE
    if not jpath.is_file():
        raise FormatError(f"{jpath}: missing; {directory} is not a gutaxis reference "
                          "(make one with `gutaxis reference build`)")
    try:
        meta = json.loads(jpath.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(jpath, f"not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _bad(jpath, f"not a gutaxis reference: expected \"format\": {FORMAT!r}")
    schema = meta.get("schema_version")
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise _bad(jpath, f"\"schema_version\" must be an integer; got {schema!r}")
    if schema > SCHEMA_VERSION:
        raise _bad(jpath, f"written with reference schema_version {schema}, but this gutaxis "
                          f"reads up to {SCHEMA_VERSION}; upgrade gutaxis (the reference was "
                          f"made by gutaxis {meta.get('gutaxis_version', '?')})")
    if schema < 1:
        raise _bad(jpath, f"\"schema_version\" must be ≥ 1; got {schema}")
    for key, kind in (("name", str), ("version", str), ("created", str), ("ranks", list),
                      ("sequencing", dict), ("taxonomy_scheme", dict), ("distance", dict),
                      ("markers", dict), ("indices", dict)):
        if not isinstance(meta.get(key), kind):
            raise _bad(jpath, f"field \"{key}\" is missing or not a {kind.__name__}")
    if not apath.is_file():
        raise FormatError(f"{apath}: missing; the reference's arrays are not there")
    try:
        with np.load(apath, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise _bad(apath, f"not a readable .npz of plain arrays ({exc})") from None
    return meta, arrays


def _array(arrays: dict[str, np.ndarray], key: str, path: Path, kind: str,
           shape: tuple[int | None, ...]) -> np.ndarray:
    """Return ``arrays[key]``, checked for dtype kind and shape (None: any length)."""
    if key not in arrays:
        raise FormatError(f"{path}: array {key!r} is missing")
    arr = arrays[key]
    if arr.dtype.kind not in kind or arr.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(arr.shape, shape, strict=True)):
        raise FormatError(f"{path}: array {key!r} has dtype {arr.dtype} and shape {arr.shape}; "
                          f"expected kind {kind!r} and shape {shape}")
    return arr


def load_reference(directory: str | os.PathLike[str]) -> Reference:
    """Read a reference written by :func:`save_reference`, checking it.

    Parameters
    ----------
    directory : path

    Returns
    -------
    Reference

    Raises
    ------
    InputError
        No such directory, or ``directory`` is not a path.
    FormatError
        A file missing or malformed (the file is named), a reference saved
        by a newer gutaxis (higher ``schema_version``), arrays that do not
        match the ``version`` recorded in ``reference.json``, or a classifier
        that fails its SHA-256 check.
    """
    root = check_path(directory, "directory")
    meta, arrays = _read_folder(root)
    jpath, apath = root / JSON_FILE, root / ARRAYS_FILE
    ids = _array(arrays, "sample_ids", apath, "U", (None,))
    n = len(ids)
    index = pd.Index(ids.tolist(), dtype=object, name="sample_id")
    icols = _array(arrays, "indices_columns", apath, "U", (None,))
    indices = pd.DataFrame(_array(arrays, "indices", apath, "f", (n, len(icols))),
                           index=index, columns=icols.tolist())
    mcols = _array(arrays, "markers_columns", apath, "U", (None,))
    markers = pd.DataFrame(_array(arrays, "markers", apath, "f", (n, len(mcols))),
                           index=index.copy(), columns=mcols.tolist())
    taxa = {}
    for rank in meta["ranks"]:
        if rank not in RANKS:
            raise FormatError(f"{jpath}: \"ranks\" holds {rank!r}, not a taxonomic rank")
        cols = _array(arrays, f"taxa__{rank}__columns", apath, "U", (None,))
        values = _array(arrays, f"taxa__{rank}", apath, "f", (n, len(cols)))
        taxa[rank] = pd.DataFrame(values, index=index.copy(), columns=cols.tolist())
    if "genus" not in taxa:
        raise FormatError(f"{jpath}: \"ranks\" must include genus")
    marker_info = {str(name): MarkerColumn.from_dict(str(name), data)
                   for name, data in meta["markers"].items()}
    if sorted(marker_info) != sorted(markers.columns):
        raise FormatError(f"{jpath}: \"markers\" lists {sorted(marker_info)} but {apath.name} "
                          f"holds {sorted(markers.columns)}")
    try:
        distance = float(meta["distance"]["threshold"])
        seq, tax = meta["sequencing"], meta["taxonomy_scheme"]
        seq_type, region, scheme = seq["type"], seq.get("region"), tax["scheme"]
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{jpath}: malformed sequencing/taxonomy/distance fields ({exc})") \
            from None
    if seq_type not in SEQUENCING_TYPES or scheme not in TAXONOMY_SCHEMES:
        raise FormatError(f"{jpath}: unknown sequencing type {seq_type!r} or taxonomy scheme "
                          f"{scheme!r}")
    classifier_file = None
    classifier = meta.get("classifier")
    if classifier:
        classifier_file = root / str(classifier.get("file", ""))
        try:
            checked = check_classifier(classifier_file)
        except GutaxisError as exc:
            raise FormatError(f"{jpath}: its classifier does not check out: {exc}") from None
        if checked["sha256"] != classifier.get("sha256"):
            raise FormatError(f"{classifier_file}: SHA-256 differs from the one in {jpath.name}")
    details = _details_from(meta)
    ref = Reference(name=meta["name"], sample_ids=pd.Index(index, dtype=object),
                    indices=indices.astype(np.float64), taxa=taxa,
                    markers=markers.astype(np.float64), marker_info=marker_info,
                    read_depth=_array(arrays, "read_depth", apath, "f",
                                             (n,)).astype(np.float64),
                    median_distance=_array(arrays, "median_distance", apath, "f",
                                           (n,)).astype(np.float64),
                    distance_threshold=distance, sequencing=seq_type, region=region,
                    taxonomy_scheme=scheme, kind=str(meta.get("kind", "counts")),
                    version=meta["version"], details=details, classifier_file=classifier_file)
    actual = content_hash(ref.content(), ref.hashed_metadata())
    if actual != meta["version"]:
        raise FormatError(f"{apath}: its content hash is {actual[:16]}… but {jpath.name} "
                          f"records version {meta['version'][:16]}…; the arrays were changed "
                          "or belong to another reference")
    return ref
