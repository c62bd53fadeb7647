"""BIOM readers: 2.1 HDF5 (validated with h5py before any matrix is built) and 1.0 JSON.

The HDF5 reader never hands an unchecked array to scipy: it first refuses
external links, dangling soft links, external raw storage, virtual datasets
and unusual filters anywhere in the file, then checks every dataset's shape
against :mod:`gutaxis.io._limits` before reading it, then checks the CSR
structure (``indptr`` from 0 to ``nnz``, non-decreasing; ``indices`` inside
the declared shape; ids unique) and only then builds the matrix (refusing
repeated coordinates).  Only the feature-major ``observation/matrix`` is
read, as biom-format does; ``sample/matrix`` is not consulted.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gutaxis.exceptions import FormatError, GutaxisError, UnsafeInputError
from gutaxis.io._common import (
    check_ids,
    decode_text,
    make_study,
    read_bytes_bounded,
    read_record,
)
from gutaxis.io._limits import Limits, get_limits
from gutaxis.io._taxonomy import parse_taxonomy
from gutaxis.study import Study

__all__ = ["read_biom_hdf5", "read_biom_json", "HDF5_MAGIC"]

logger = logging.getLogger(__name__)

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

# HDF5 filter id → name; anything else (szip, nbit, scale-offset, plugins) is refused.
_ALLOWED_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 32000: "lzf"}
_MAX_TAXONOMY_LEVELS = 64


@dataclass
class TableParts:
    """A table read from a file, before it becomes a Study."""

    counts: sp.csr_matrix  # samples × features
    sample_ids: list[str]
    feature_ids: list[str]
    taxonomy: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- HDF5
def read_biom_hdf5(source: Path | bytes, *, name: str | None = None, kind: str | None = None,
                   sha256: str | None = None, fmt: str = "biom-hdf5",
                   declared_kind: str | None = None) -> Study:
    """Read a BIOM 2.1 HDF5 table from a path or from bytes (a member of a ``.qza``).

    Parameters
    ----------
    source : pathlib.Path or bytes
        The file, or its content.
    name : str, optional
        The name used in messages and provenance (default: the path).
    kind : {"counts", "relative"}, optional
        Force what the values are; default: whole numbers → counts, else relative.
    sha256 : str, optional
        Digest to record (computed from the path when not given).
    fmt : str
        Format name recorded in provenance.
    declared_kind : str, optional
        The kind a container declares (``FeatureTable[RelativeFrequency]``).

    Returns
    -------
    Study

    Raises
    ------
    FormatError
        Not an HDF5 file, or not laid out as BIOM 2.1.
    UnsafeInputError
        External links or storage, virtual datasets, unusual filters, sizes
        over the limits.
    ValidationError
        Duplicate ids, negative or non-finite values, non-integer counts.
    """
    import hashlib

    import h5py

    label = name or str(source)
    digest: str | None
    if isinstance(source, bytes):
        digest = sha256 or hashlib.sha256(source).hexdigest()
        target: Any = io.BytesIO(source)
    else:
        digest = sha256
        target = source
    try:
        handle = h5py.File(target, "r")
    except (OSError, ValueError) as exc:
        raise FormatError(f"{label}: not a readable HDF5 file ({exc}); a BIOM 2.1 table "
                          "was expected") from exc
    try:
        with handle:
            parts = _parts_from_hdf5(handle, label, get_limits())
    except GutaxisError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise FormatError(f"{label}: the HDF5 file could not be read as BIOM 2.1 "
                          f"({type(exc).__name__}: {exc})") from exc
    logger.debug("%s: BIOM 2.1 HDF5, %d features × %d samples, %d non-zeros", label,
                 len(parts.feature_ids), len(parts.sample_ids), parts.counts.nnz)
    record = read_record(label if isinstance(source, bytes) else source, fmt,
                         sha256=digest, n_samples=len(parts.sample_ids),
                         n_features=len(parts.feature_ids))
    study: Study = make_study(parts.counts, parts.sample_ids, parts.feature_ids, source=label,
                              record=record, kind=kind, notes=parts.notes,
                              taxonomy=parts.taxonomy, declared_kind=declared_kind)
    return study


def check_hdf5_objects(handle: Any, label: str) -> None:
    """Refuse an HDF5 file that reaches outside itself or uses a filter gutaxis does not trust.

    External links, dangling soft links, virtual datasets, external storage,
    filters other than deflate/gzip, shuffle, fletcher32 and lzf, and more
    objects than ``GUTAXIS_MAX_HDF5_OBJECTS``: what every HDF5 reader of
    gutaxis checks before it reads any data.

    Raises
    ------
    UnsafeInputError
    """
    _check_links(handle, label, get_limits())


def _check_links(handle: Any, label: str, limits: Limits) -> None:
    """Walk every link; refuse external links, dangling soft links and unsafe datasets."""
    import h5py

    stack: list[tuple[str, Any]] = [("", handle)]
    visited = 0
    while stack:
        prefix, group = stack.pop()
        for name in group:
            visited += 1
            if visited > limits.max_hdf5_objects:
                raise UnsafeInputError(f"{label}: the HDF5 file has more than "
                                       f"{limits.max_hdf5_objects:,} objects "
                                       "(GUTAXIS_MAX_HDF5_OBJECTS); a BIOM table has a few dozen")
            path = f"{prefix}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise UnsafeInputError(
                    f"{label}: HDF5 object {path!r} is an external link to "
                    f"{link.filename!r}:{link.path!r}; links to other files are refused"
                )
            if isinstance(link, h5py.SoftLink):
                _resolve_soft(handle, path, link.path, label)
                continue  # its target is checked where it lives
            obj = group.get(name)
            if isinstance(obj, h5py.Group):
                stack.append((path, obj))
            elif isinstance(obj, h5py.Dataset):
                _check_dataset(obj, path, label)


def _resolve_soft(handle: Any, path: str, target: str, label: str) -> None:
    import h5py

    node = handle if target.startswith("/") else handle[path.rsplit("/", 1)[0] or "/"]
    for hop, part in enumerate(p for p in target.split("/") if p):
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None or isinstance(link, h5py.ExternalLink) or (
                isinstance(link, h5py.SoftLink) or hop > 64):
            raise UnsafeInputError(
                f"{label}: HDF5 soft link {path!r} points to {target!r}, which is not an object "
                "inside this file; soft links must point to existing objects of the same file"
            )
        node = node.get(part)


def _check_dataset(ds: Any, path: str, label: str) -> None:
    if ds.is_virtual:
        raise UnsafeInputError(f"{label}: HDF5 dataset {path!r} is a virtual dataset (it maps "
                               "data from other files); virtual datasets are refused")
    if ds.external:
        files = ", ".join(repr(e[0]) for e in ds.external[:3])
        raise UnsafeInputError(f"{label}: HDF5 dataset {path!r} keeps its data in external "
                               f"file(s) {files}; external storage is refused")
    plist = ds.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code, _flags, _values, fname = plist.get_filter(i)
        if code not in _ALLOWED_FILTERS:
            raise UnsafeInputError(
                f"{label}: HDF5 dataset {path!r} uses filter {code} "
                f"({fname.decode('ascii', 'replace')}); only deflate/gzip, shuffle, "
                "fletcher32 and lzf are accepted — write the file again without it"
            )


def _dataset(handle: Any, path: str, label: str, *, required: bool = True) -> Any:
    import h5py

    node = handle
    for part in path.split("/"):
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            if not required:
                return None
            raise FormatError(f"{label}: BIOM 2.1 HDF5 needs the dataset {path!r}, which is "
                              "missing; is this a BIOM table?")
        node = node.get(part)
    if not isinstance(node, h5py.Dataset):
        raise FormatError(f"{label}: {path!r} should be an HDF5 dataset; "
                          f"found {type(node).__name__}")
    return node


def _read_vector(ds: Any, path: str, label: str, *, length: int, kinds: str,
                 what: str) -> np.ndarray:
    if ds.ndim != 1 or ds.shape[0] != length:
        raise FormatError(f"{label}: dataset {path!r} should be 1-D of length {length:,} "
                          f"({what}); found shape {ds.shape}")
    if ds.dtype.kind not in kinds:
        raise FormatError(f"{label}: dataset {path!r} should hold {what}; found HDF5 type "
                          f"{ds.dtype}")
    return np.asarray(ds[()])


def _read_ids(ds: Any, path: str, label: str, length: int, limits: Limits) -> list[str]:
    import h5py

    if ds.ndim != 1 or ds.shape[0] != length:
        raise FormatError(f"{label}: dataset {path!r} should list {length:,} ids (the declared "
                          f"shape); found shape {ds.shape}")
    if h5py.check_string_dtype(ds.dtype) is None:
        raise FormatError(f"{label}: dataset {path!r} should hold strings; found {ds.dtype}")
    if ds.dtype.kind == "S" and ds.dtype.itemsize > limits.max_id_length * 4:
        raise UnsafeInputError(f"{label}: ids in {path!r} are {ds.dtype.itemsize:,} bytes wide; "
                               f"the limit is {limits.max_id_length:,} characters")
    raw = ds[()]
    try:
        return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in raw]
    except UnicodeDecodeError as exc:
        raise FormatError(f"{label}: an id in {path!r} is not valid UTF-8") from exc


def _declared_shape(handle: Any, label: str, limits: Limits) -> tuple[int, int]:
    if "shape" not in handle.attrs:
        raise FormatError(f"{label}: the HDF5 file has no 'shape' attribute; a BIOM 2.1 table "
                          "declares [n_observations, n_samples] there")
    aid = handle.attrs.get_id("shape")
    if aid.shape != (2,) or aid.dtype.kind not in "iu":
        raise FormatError(f"{label}: attribute 'shape' should be two integers; found "
                          f"{aid.dtype} of shape {aid.shape}")
    n_obs, n_samp = (int(v) for v in handle.attrs["shape"])
    _check_shape(n_obs, n_samp, label, limits)
    return n_obs, n_samp


def _check_shape(n_obs: int, n_samp: int, label: str, limits: Limits) -> None:
    if n_obs < 0 or n_samp < 0:
        raise FormatError(f"{label}: declared shape ({n_obs}, {n_samp}) is negative")
    if n_obs > limits.max_features:
        raise UnsafeInputError(f"{label}: declared {n_obs:,} features (observations); the "
                               f"limit is {limits.max_features:,} (GUTAXIS_MAX_FEATURES)")
    if n_samp > limits.max_samples:
        raise UnsafeInputError(f"{label}: declared {n_samp:,} samples; the limit is "
                               f"{limits.max_samples:,} (GUTAXIS_MAX_SAMPLES)")


def _parts_from_hdf5(handle: Any, label: str, limits: Limits) -> TableParts:
    _check_links(handle, label, limits)
    notes: list[str] = []
    version = handle.attrs.get("format-version")
    if version is None:
        notes.append("no 'format-version' attribute; read as BIOM 2.1")
    elif int(np.ravel(version)[0]) != 2:
        raise FormatError(f"{label}: format-version is {list(np.ravel(version))}; only BIOM "
                          "2.x HDF5 is read this way")
    n_obs, n_samp = _declared_shape(handle, label, limits)
    _check_not_empty(n_obs, n_samp, label)
    base = "observation/matrix/"
    ds_data = _dataset(handle, base + "data", label)
    ds_indices = _dataset(handle, base + "indices", label)
    ds_indptr = _dataset(handle, base + "indptr", label)
    if ds_data.ndim != 1:
        raise FormatError(f"{label}: dataset '{base}data' should be 1-D; found shape "
                          f"{ds_data.shape}")
    nnz = int(ds_data.shape[0])
    if nnz > limits.max_nnz:
        raise UnsafeInputError(f"{label}: {base}data holds {nnz:,} values; the limit is "
                               f"{limits.max_nnz:,} non-zeros (GUTAXIS_MAX_NNZ)")
    declared_nnz = handle.attrs.get("nnz")
    if declared_nnz is not None and np.ndim(declared_nnz) == 0 and int(declared_nnz) != nnz:
        raise FormatError(f"{label}: attribute nnz says {int(declared_nnz):,} but {base}data "
                          f"holds {nnz:,} values")
    indptr = _index_array(_read_vector(ds_indptr, base + "indptr", label, length=n_obs + 1,
                                       kinds="iu", what="row pointers"))
    indices = _index_array(_read_vector(ds_indices, base + "indices", label, length=nnz,
                                        kinds="iu", what="column indices"))
    data = _read_vector(ds_data, base + "data", label, length=nnz, kinds="iuf",
                        what="numbers").astype(np.float64, copy=False)
    _check_csr(indptr, indices, nnz, n_samp, label, base)
    feature_ids = _read_ids(_dataset(handle, "observation/ids", label), "observation/ids",
                            label, n_obs, limits)
    sample_ids = _read_ids(_dataset(handle, "sample/ids", label), "sample/ids", label, n_samp,
                           limits)
    check_ids(feature_ids, "feature", label, limits.max_id_length)
    check_ids(sample_ids, "sample", label, limits.max_id_length)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(n_obs, n_samp))
    _check_no_repeats(matrix, label)
    taxonomy = _hdf5_taxonomy(handle, label, n_obs, feature_ids, notes)
    return TableParts(matrix.T.tocsr(), sample_ids, feature_ids, taxonomy, notes)


def _check_csr(indptr: np.ndarray, indices: np.ndarray, nnz: int, n_cols: int, label: str,
               base: str) -> None:
    if indptr[0] != 0 or indptr[-1] != nnz:
        raise FormatError(f"{label}: {base}indptr must start at 0 and end at nnz={nnz:,}; it "
                          f"runs from {int(indptr[0]):,} to {int(indptr[-1]):,}")
    steps = np.diff(indptr)
    if steps.size and steps.min() < 0:
        row = int(np.flatnonzero(steps < 0)[0])
        raise FormatError(f"{label}: {base}indptr must be non-decreasing; it falls from "
                          f"{int(indptr[row]):,} to {int(indptr[row + 1]):,} at row {row}")
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= n_cols:
            bad = lo if lo < 0 else hi
            raise FormatError(f"{label}: {base}indices contains {bad:,}, outside 0…{n_cols - 1} "
                              f"(the table declares {n_cols:,} samples)")


def _index_array(values: np.ndarray) -> np.ndarray:
    """Signed 32- or 64-bit indices as read (scipy's own index types); others as int64."""
    if values.dtype in (np.int32, np.int64):
        return values
    return values.astype(np.int64)


def _check_no_repeats(matrix: sp.csr_matrix, label: str) -> None:
    if matrix.has_canonical_format:  # sorted within rows, none twice: one pass, no copy
        return
    canonical = matrix.copy()
    canonical.sum_duplicates()
    if canonical.nnz != matrix.nnz:
        raise FormatError(f"{label}: the table stores some (feature, sample) cells more than "
                          "once; each cell may appear only once")


def _hdf5_taxonomy(handle: Any, label: str, n_obs: int, feature_ids: list[str],
                   notes: list[str]) -> pd.DataFrame | None:
    import h5py

    group = handle.get("observation/metadata")
    if not isinstance(group, h5py.Group):
        return None
    key = next((k for k in group if k.lower() == "taxonomy"), None)
    if key is None:
        return None
    ds = _dataset(group, key, label)
    path = f"observation/metadata/{key}"
    if h5py.check_string_dtype(ds.dtype) is None or ds.ndim not in (1, 2) or ds.shape[0] != n_obs \
            or (ds.ndim == 2 and ds.shape[1] > _MAX_TAXONOMY_LEVELS):
        raise FormatError(f"{label}: {path!r} should hold {n_obs:,} taxonomy strings (or rows "
                          f"of up to {_MAX_TAXONOMY_LEVELS} levels); found {ds.dtype} {ds.shape}")
    raw = ds[()]
    items: list[Any] = [list(row) for row in raw] if ds.ndim == 2 else list(raw)
    notes.append(f"taxonomy from {path}")
    return parse_taxonomy(items, index=feature_ids)


# --------------------------------------------------------------------------- JSON
def read_biom_json(path: Path, *, kind: str | None = None) -> Study:
    """Read a BIOM 1.0 JSON table (sparse or dense), validated before use.

    Parameters
    ----------
    path : pathlib.Path
    kind : {"counts", "relative"}, optional

    Returns
    -------
    Study

    Raises
    ------
    FormatError
        Invalid JSON or BIOM structure (the message names the field).
    UnsafeInputError
        The file, the declared shape or the number of entries is over a limit.
    ValidationError
        Duplicate ids, negative or non-finite values, non-integer counts.
    """
    limits = get_limits()
    label = str(path)
    text = decode_text(read_bytes_bounded(path, limits.max_json_bytes, "the BIOM JSON file",
                                          "GUTAXIS_MAX_JSON_BYTES"),
                       label)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{label}: invalid JSON at line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg}") from exc
    except RecursionError as exc:
        raise UnsafeInputError(f"{label}: the JSON is nested too deeply") from exc
    del text
    parts = _parts_from_json(obj, label, limits)
    record = read_record(path, "biom-json", n_samples=len(parts.sample_ids),
                         n_features=len(parts.feature_ids))
    study: Study = make_study(parts.counts, parts.sample_ids, parts.feature_ids, source=label,
                              record=record, kind=kind, notes=parts.notes,
                              taxonomy=parts.taxonomy)
    return study


def _json_ids(entries: Any, field_name: str, label: str, n: int) -> tuple[list[str], list[Any]]:
    if not isinstance(entries, list) or len(entries) != n:
        found = f"{len(entries)} entries" if isinstance(entries, list) else type(entries).__name__
        raise FormatError(f"{label}: field {field_name!r} should list {n:,} entries (from "
                          f"'shape'); found {found}")
    ids: list[str] = []
    metadata: list[Any] = []
    for i, entry in enumerate(entries):
        ident = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(ident, bool) or not isinstance(ident, str | int):
            raise FormatError(f"{label}: {field_name}[{i}] should be an object with a string "
                              f"'id'; found {str(entry)[:80]!r}")
        ids.append(str(ident))
        metadata.append(entry.get("metadata"))
    return ids, metadata


def _parts_from_json(obj: Any, label: str, limits: Limits) -> TableParts:
    if not isinstance(obj, dict):
        raise FormatError(f"{label}: a BIOM JSON table is an object; found {type(obj).__name__}")
    for key in ("shape", "rows", "columns", "data"):
        if key not in obj:
            raise FormatError(f"{label}: BIOM JSON field {key!r} is missing; is this a BIOM "
                              "1.0 table?")
    shape = obj["shape"]
    if (not isinstance(shape, list) or len(shape) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape)):
        raise FormatError(f"{label}: field 'shape' should be [n_rows, n_columns]; found "
                          f"{str(shape)[:80]}")
    n_obs, n_samp = shape
    _check_shape(n_obs, n_samp, label, limits)
    _check_not_empty(n_obs, n_samp, label)
    if obj.get("matrix_element_type") == "unicode":
        raise FormatError(f"{label}: matrix_element_type 'unicode' is not a table of numbers")
    feature_ids, row_md = _json_ids(obj["rows"], "rows", label, n_obs)
    sample_ids, _ = _json_ids(obj["columns"], "columns", label, n_samp)
    data = obj["data"]
    if not isinstance(data, list):
        raise FormatError(f"{label}: field 'data' should be a list; found {type(data).__name__}")
    notes: list[str] = []
    mtype = obj.get("matrix_type")
    if mtype is None:
        mtype = _guess_matrix_type(data, n_obs, n_samp)
        notes.append(f"no 'matrix_type' field: read as {mtype} (the layout of 'data')")
    if mtype == "sparse":
        matrix = _json_sparse(data, n_obs, n_samp, label, limits)
    elif mtype == "dense":
        matrix = _json_dense(data, n_obs, n_samp, label, limits)
    else:
        raise FormatError(f"{label}: field 'matrix_type' should be 'sparse' or 'dense'; found "
                          f"{str(mtype)[:40]!r}")
    taxonomy = None
    taxa = [(md or {}).get("taxonomy", (md or {}).get("Taxonomy")) if isinstance(md, dict | None)
            else None for md in row_md]
    if any(t is not None for t in taxa):
        taxonomy = parse_taxonomy(taxa, index=feature_ids)
        notes.append("taxonomy from rows[].metadata.taxonomy")
    return TableParts(matrix.T.tocsr(), sample_ids, feature_ids, taxonomy, notes)


def _guess_matrix_type(data: list[Any], n_obs: int, n_samp: int) -> str:
    """Return the layout of ``data`` when the table does not say it.

    biom-format reads such a table as sparse (``Table.from_json``'s default);
    so does gutaxis, unless ``data`` is plainly dense: one list of ``n_samp``
    values per observation, and not every entry a ``[row, column, value]``
    triple.
    """
    triples = all(isinstance(e, list) and len(e) == 3 for e in data)
    dense = len(data) == n_obs and all(isinstance(e, list) and len(e) == n_samp for e in data)
    return "dense" if dense and not triples else "sparse"


def _check_not_empty(n_obs: int, n_samp: int, label: str) -> None:
    if n_obs == 0 or n_samp == 0:
        raise FormatError(f"{label}: the table is empty ({n_obs} features × {n_samp} samples); "
                          "a table with at least one sample and one feature is needed (was it "
                          "filtered to nothing?)")


def _as_numbers(values: list[Any], label: str, what: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        for i, v in enumerate(values):
            try:
                np.asarray(v, dtype=np.float64)
            except (TypeError, ValueError):
                raise FormatError(f"{label}: {what}[{i}] should be numbers; found "
                                  f"{str(v)[:80]!r}") from exc
        raise FormatError(f"{label}: {what} has entries of uneven length ({exc})") from exc


def _json_sparse(data: list[Any], n_obs: int, n_samp: int, label: str,
                 limits: Limits) -> sp.csr_matrix:
    if len(data) > limits.max_nnz:
        raise UnsafeInputError(f"{label}: 'data' has {len(data):,} entries; the limit is "
                               f"{limits.max_nnz:,} (GUTAXIS_MAX_NNZ)")
    if not data:
        return sp.csr_matrix((n_obs, n_samp), dtype=np.float64)
    for i, entry in enumerate(data):
        if not isinstance(entry, list) or len(entry) != 3:
            raise FormatError(f"{label}: data[{i}] should be [row, column, value]; found "
                              f"{str(entry)[:80]!r}")
    arr = _as_numbers(data, label, "data")
    rows, cols, vals = arr[:, 0], arr[:, 1], arr[:, 2]
    for axis, coords, n in (("row", rows, n_obs), ("column", cols, n_samp)):
        bad = ~((coords >= 0) & (coords < n) & (coords == np.floor(coords)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = data[i][0 if axis == "row" else 1]
            raise FormatError(f"{label}: data[{i}] has {axis} {value!r}"
                              f"; {axis}s must be whole numbers in 0…{n - 1} (shape is "
                              f"{[n_obs, n_samp]})")
    r, c = rows.astype(np.int64), cols.astype(np.int64)
    cells = r * n_samp + c
    if np.unique(cells).size != cells.size:
        raise FormatError(f"{label}: 'data' lists some (row, column) cell more than once")
    return sp.csr_matrix((vals, (r, c)), shape=(n_obs, n_samp))


def _json_dense(data: list[Any], n_obs: int, n_samp: int, label: str,
                limits: Limits) -> sp.csr_matrix:
    if n_obs * n_samp > limits.max_dense_cells:
        raise UnsafeInputError(f"{label}: a dense {n_obs:,} × {n_samp:,} table is over the "
                               f"limit of {limits.max_dense_cells:,} cells "
                               "(GUTAXIS_MAX_DENSE_CELLS)")
    if len(data) != n_obs:
        raise FormatError(f"{label}: dense 'data' should have {n_obs:,} rows; found {len(data):,}")
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != n_samp:
            raise FormatError(f"{label}: data[{i}] should be a list of {n_samp:,} numbers; "
                              f"found {str(row)[:80]!r}")
    arr = _as_numbers(data, label, "data") if data else np.zeros((0, n_samp))
    return sp.csr_matrix(arr.reshape(n_obs, n_samp))
