"""A distance matrix stored in tiles in a zarr group, with a completion marker per tile.

Layout of the group (zarr format 3, a folder on a file system every worker
can reach):

``distances``
    ``n × n`` float64 or float32, chunks ``tile_size × tile_size`` (a chunk is
    a tile); NaN where no tile has been written yet.
``done``
    ``n_blocks × n_blocks`` uint8, one chunk per element: 1 once the tile
    ``(i, j)`` (``i ≤ j``) and its mirror ``(j, i)`` are written.  A tile is
    written before its marker, so a run stopped between the two recomputes
    that tile.
group attributes
    ``schema_version``, ``metric``, ``order`` (the sample ids, in row order),
    ``tile_size``, ``dtype``, ``options`` (the metric's options),
    ``fingerprint`` (SHA-256 of the table, ids, tree and options) and the
    gutaxis version.  A run on a store made from other inputs is refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from gutaxis._version import __version__
from gutaxis.distance import DistanceMatrix
from gutaxis.distributed._tiles import TileGrid
from gutaxis.exceptions import InputError, ValidationError
from gutaxis.study import Study

__all__ = ["SCHEMA_VERSION", "fingerprint", "prepare_store", "done_tiles", "write_tile",
           "open_complete", "read_tile", "read_distances", "unreadable_tiles"]

SCHEMA_VERSION = 1
DTYPES = ("float64", "float32")


def _zarr() -> Any:
    try:
        import zarr
    except ImportError:  # pragma: no cover - the extra is installed in development
        raise InputError("blockwise distances need zarr: pip install 'gutaxis[distributed]'"
                         ) from None
    return zarr


def fingerprint(study: Study, metric: str, options: dict[str, Any]) -> str:
    """SHA-256 of what the distances depend on: table, ids, tree (if used), metric, options."""
    h = hashlib.sha256()
    x = sp.csr_matrix(study.counts)
    for part in (x.indptr.astype(np.int64), x.indices.astype(np.int64),
                 x.data.astype(np.float64)):
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(json.dumps([list(map(str, study.sample_ids)), list(map(str, study.feature_ids)),
                         metric, x.shape], default=str).encode())
    tree = options.get("tree")
    if tree is not None:
        h.update(tree.to_newick().encode())
    h.update(json.dumps({k: v for k, v in options.items()
                         if k not in ("tree", "feature_ids", "n_threads")},
                        sort_keys=True, default=str).encode())
    return h.hexdigest()


def prepare_store(path: Path, study: Study, metric: str, *, tile_size: int, dtype: str,
                  options: dict[str, Any]) -> None:
    """Create the store at ``path``, or check that the one there was made from the same inputs."""
    zarr = _zarr()
    n = study.n_samples
    attrs = {"schema_version": SCHEMA_VERSION, "metric": metric,
             "order": [str(s) for s in study.sample_ids], "tile_size": tile_size,
             "dtype": dtype, "fingerprint": fingerprint(study, metric, options),
             "options": {k: v for k, v in options.items()
                         if k not in ("tree", "feature_ids", "n_threads")},
             "gutaxis_version": __version__}
    k = TileGrid(n, tile_size).n_blocks
    if path.exists() and any(path.iterdir()):  # (an empty folder: the caller's, held)
        try:
            group = zarr.open_group(str(path), mode="r")
            old = dict(group.attrs)
        except Exception as exc:  # noqa: BLE001 - any unreadable folder: one clear message
            raise ValidationError(
                f"{path} exists but is not a gutaxis blockwise distance store ({exc}); "
                "give another path or remove it") from None
        for key in ("schema_version", "metric", "tile_size", "dtype", "fingerprint"):
            if old.get(key) != attrs[key]:
                what = ("another table, tree or options" if key == "fingerprint"
                        else f"{key} {old.get(key)!r}")
                raise ValidationError(
                    f"{path} holds distances from {what}, not {key} {attrs[key]!r} of this "
                    "run; give another path (or start again: --overwrite on the command "
                    "line, or remove it)")
        for name, shape in (("distances", (n, n)), ("done", (k, k))):
            try:
                found = tuple(zarr.open_array(str(path), path=name, mode="r").shape)
            except Exception as exc:  # noqa: BLE001 - a part removed or damaged: one message
                raise ValidationError(
                    f"{path}: its {name!r} array cannot be read ({type(exc).__name__}); the "
                    "store is damaged: start again (--overwrite on the command line, or "
                    "remove it)") from None
            if found != shape:
                raise ValidationError(f"{path}: its {name!r} array is {found}, expected "
                                      f"{shape}; the store is damaged: start again")
        return
    group = zarr.open_group(str(path), mode="w")
    group.attrs.update(attrs)
    from zarr.codecs import ZstdCodec

    # zstd's frame checksum: a chunk damaged on disk fails to read instead of giving
    # other numbers (without it most single flipped bytes read as plausible values)
    group.create_array("distances", shape=(n, n), chunks=(tile_size, tile_size),
                       dtype=dtype, fill_value=np.nan,
                       compressors=ZstdCodec(level=0, checksum=True))
    group.create_array("done", shape=(k, k), chunks=(1, 1), dtype="uint8", fill_value=0)


def done_tiles(path: Path) -> np.ndarray:
    """``n_blocks × n_blocks`` booleans: which tiles are written."""
    zarr = _zarr()
    return np.asarray(zarr.open_array(str(path), path="done", mode="r")[:], dtype=bool)


def unreadable_tiles(path: Path, grid: TileGrid, done: np.ndarray) -> list[tuple[int, int]]:
    """Return the tiles marked written whose values cannot be read back whole.

    A marker says a tile was written, not that its file is still there: a
    chunk deleted, cut short or damaged since (a full disk, a copy that
    stopped) read as missing values, other values, or not at all.  Each
    marked tile and its mirror are read (decompressed, their checksums
    checked) and must be distances (:func:`_tile_problem`).  This reads the
    whole matrix once, far less than computing it.
    """
    zarr = _zarr()
    distances = zarr.open_array(str(path), path="distances", mode="r")
    bad = []
    for i, j in grid.upper():
        if not done[i, j]:
            continue
        rows, cols = grid.rows(i), grid.rows(j)
        try:
            upper = np.asarray(distances[rows, cols])
            lower = upper.T if i == j else np.asarray(distances[cols, rows])
            whole = not _tile_problem(upper, lower, diagonal=i == j)
        except Exception:  # noqa: BLE001 - a damaged chunk: the codec's error, whatever it is
            whole = False
        if not whole:
            bad.append((i, j))
    return bad


def _tile_problem(upper: np.ndarray, lower: np.ndarray, *, diagonal: bool) -> str:
    """Say what makes a tile and its mirror no distances ("" if nothing).

    Distances are finite, ≥ 0, the same both ways, and 0 from a sample to
    itself: a tile changed on disk (a store made before its chunks carried a
    checksum) rarely keeps all four.
    """
    if not np.isfinite(upper).all():
        return "are missing or not finite (a tile marked written has no values)"
    if (upper < 0).any():
        return "hold negative values"
    if not np.array_equal(upper, lower.T):
        return "differ from their mirror image"
    if diagonal and np.diagonal(upper).any():
        return "give a sample a distance from itself"
    return ""


def write_tile(path: Path, block_i: int, block_j: int, rows: slice, cols: slice,
               values: np.ndarray) -> None:
    """Write a tile and its mirror, then its completion marker."""
    zarr = _zarr()
    distances = zarr.open_array(str(path), path="distances", mode="r+")
    distances[rows, cols] = values
    if block_i != block_j:
        distances[cols, rows] = values.T
    done = zarr.open_array(str(path), path="done", mode="r+")
    done[block_i, block_j] = 1


def open_complete(path: str | Path) -> tuple[dict[str, Any], TileGrid]:
    """Return the attributes and tile grid of a complete store (else a clear error)."""
    zarr = _zarr()
    path = Path(path)
    try:
        group = zarr.open_group(str(path), mode="r")
        attrs = dict(group.attrs)
        order = attrs["order"]
        metric = attrs["metric"]
        tile_size = int(attrs["tile_size"])
    except Exception as exc:  # noqa: BLE001 - any unreadable folder: one clear message
        raise ValidationError(f"{path} is not a gutaxis blockwise distance store ({exc})"
                              ) from None
    grid = TileGrid(len(order), tile_size)
    try:
        written = int(np.triu(done_tiles(path)).sum())
    except Exception as exc:  # noqa: BLE001 - the markers removed or damaged
        raise ValidationError(f"{path}: its 'done' array cannot be read "
                              f"({type(exc).__name__}); the store is damaged") from None
    if written < grid.n_tiles:
        raise ValidationError(
            f"{path}: the {metric} distances are incomplete, {written} of {grid.n_tiles} "
            "tiles written; run it again to resume")
    return attrs, grid


def _damaged(path: str | Path, rows: slice, cols: slice, why: str) -> ValidationError:
    return ValidationError(
        f"{path}: the distances of rows {rows.start}–{rows.stop - 1}, columns "
        f"{cols.start}–{cols.stop - 1} {why}: the store is damaged; run the same command "
        "again with --resume (blockwise_beta_diversity with the same arguments): it computes "
        "the damaged tiles again")


def read_tile(path: Path, rows: slice, cols: slice) -> np.ndarray:
    """Read one tile of the stored distances as float64.

    Raises
    ------
    ValidationError
        The tile cannot be read, or holds missing, infinite or negative
        values (a chunk lost or damaged since it was marked written); the
        message names the rows and columns.
    """
    zarr = _zarr()
    distances = zarr.open_array(str(path), path="distances", mode="r")
    try:
        values = np.asarray(distances[rows, cols], dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - a damaged chunk: the codec's error, whatever it is
        raise _damaged(path, rows, cols, f"cannot be read ({exc})") from None
    if not np.isfinite(values).all() or (values < 0).any():
        raise _damaged(path, rows, cols, "are missing, not finite or negative")
    return values


def read_distances(path: str | Path) -> DistanceMatrix:
    """Load a complete blockwise distance matrix into memory.

    Parameters
    ----------
    path : str or pathlib.Path
        The zarr store written by :func:`blockwise_beta_diversity`.

    Returns
    -------
    DistanceMatrix
        float64 (a float32 store is widened), ids from the store's ``order``.

    Raises
    ------
    ValidationError
        ``path`` is not such a store, or some tiles are missing (the run
        was stopped: run it again and it resumes).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from gutaxis.study import Study
    >>> s = Study(np.array([[1, 2, 0], [0, 3, 4], [5, 0, 0]]), ["a", "b", "c"], ["x", "y", "z"])
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "bc.zarr"
    >>> prepare_store(store, s, "braycurtis", tile_size=2, dtype="float64", options={})
    >>> try:
    ...     read_distances(store)
    ... except ValidationError as exc:
    ...     print(str(exc).split(", ", 1)[1])
    0 of 3 tiles written; run it again to resume
    """
    attrs, grid = open_complete(path)
    data = np.empty((grid.n, grid.n), dtype=np.float64)
    for i in range(grid.n_blocks):  # tile by tile: a damaged one is named, not a codec's error
        data[grid.rows(i), :] = read_tile(Path(path), grid.rows(i), slice(0, grid.n))
    for i, j in grid.upper():
        rows, cols = grid.rows(i), grid.rows(j)
        problem = _tile_problem(data[rows, cols], data[cols, rows], diagonal=i == j)
        if problem:
            raise _damaged(path, rows, cols, problem)
    return DistanceMatrix(attrs["order"], data, attrs["metric"], validate=False)
