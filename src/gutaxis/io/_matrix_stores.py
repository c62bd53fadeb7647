"""Distance matrices in binary stores: Striped UniFrac's HDF5 layout and a chunked zarr group.

HDF5 (the layout ``ssu -o`` writes and ``unifrac.h5unifrac`` /
``unifrac.h5pcoa`` read):

``order``
    1-D, the sample ids as byte strings (``unifrac`` decodes them as ASCII).
``matrix``
    ``n × n`` float64 or float32 (``--precision``).
``format``, ``version``
    ``[b"BDSM"]`` and ``[b"2020.12"]``: the header of scikit-bio's
    ``binary_dm`` format, which reads the same ``order`` and ``matrix``.
``pcoa_method``, ``pcoa_eigvals``, ``pcoa_samples``, ``pcoa_proportion_explained``
    Optional, as ``ssu --pcoa`` writes them: the method name (one byte
    string), ``k`` eigenvalues, ``n × k`` coordinates, ``k`` proportions.

zarr (format 3; the layout of :mod:`gutaxis.distributed`'s stores, so that
one reader serves both):

``distances``
    ``n × n`` float64 or float32, chunks ``tile_size × tile_size``.
``done``
    ``n_blocks × n_blocks`` uint8, all 1 (every tile written).
group attributes
    ``schema_version`` (1), ``metric``, ``order`` (the ids in row order),
    ``tile_size``, ``dtype``, ``gutaxis_version``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from gutaxis._version import __version__
from gutaxis.checks import check_type
from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import FormatError, InputError, UnsafeInputError, ValidationError
from gutaxis.io._biom import check_hdf5_objects
from gutaxis.io._common import PathLike
from gutaxis.outputs import open_atomic

__all__ = ["PCoALike", "Precision", "write_distance_hdf5", "read_distance_hdf5",
           "read_pcoa_hdf5", "write_distance_zarr", "read_distance_zarr", "ZARR_SCHEMA_VERSION"]

Precision = Literal["float64", "float32"]
ZARR_SCHEMA_VERSION = 1
_PCOA_KEYS = ("pcoa_method", "pcoa_eigvals", "pcoa_samples", "pcoa_proportion_explained")


class PCoALike(Protocol):
    """What the writers need of a PCoA (:class:`gutaxis.ordination.OrdinationResult` has it)."""

    @property
    def ids(self) -> pd.Index:
        """Sample ids, in the order of the rows of ``coordinates``."""

    @property
    def coordinates(self) -> np.ndarray:
        """``n × k`` coordinates."""

    @property
    def eigenvalues(self) -> np.ndarray:
        """``k`` eigenvalues, descending."""

    @property
    def proportion_explained(self) -> np.ndarray:
        """``k`` proportions of the total inertia."""

    @property
    def method(self) -> str:
        """The eigensolver (``"eigh"``, ``"eigsh"``)."""


def _precision(precision: str) -> np.dtype[Any]:
    if precision not in ("float64", "float32"):
        raise InputError(f"precision must be 'float64' or 'float32'; got {precision!r}")
    return np.dtype(precision)


def _check_pcoa(dm: DistanceMatrix, pcoa: PCoALike) -> None:
    if [str(i) for i in pcoa.ids] != [str(i) for i in dm.ids]:
        raise ValidationError("the PCoA's samples are not those of the distance matrix (same "
                              "ids in the same order); compute it from this matrix")


def write_distance_hdf5(dm: DistanceMatrix, path: PathLike, *,
                        precision: Precision = "float64", pcoa: PCoALike | None = None) -> None:
    """Write ``dm`` (and optionally its PCoA) in Striped UniFrac's HDF5 layout.

    Parameters
    ----------
    dm : DistanceMatrix
    path : str or path-like
    precision : {"float64", "float32"}
        The type of ``matrix`` (``ssu`` writes float32 unless built for double).
    pcoa : OrdinationResult, optional
        Written as ``ssu --pcoa`` does (``pcoa_*`` datasets), in float64.

    Raises
    ------
    InputError
        ``dm`` is not a DistanceMatrix; an unknown ``precision``.
    ValidationError
        ``pcoa`` is of other samples.
    OutputError
        The file cannot be written.

    Examples
    --------
    >>> import os, tempfile
    >>> dm = DistanceMatrix(pd.Index(["a", "b"]), np.array([[0.0, 0.25], [0.25, 0.0]]))
    >>> path = os.path.join(tempfile.mkdtemp(), "dm.h5")
    >>> write_distance_hdf5(dm, path, precision="float32")
    >>> back = read_distance_hdf5(path)
    >>> list(back.ids), float(back.data[0, 1])
    (['a', 'b'], 0.25)
    """
    import h5py

    check_type(dm, DistanceMatrix, "dm", hint="e.g. from gutaxis.diversity.beta_diversity")
    dtype = _precision(precision)
    if pcoa is not None:
        _check_pcoa(dm, pcoa)
    order = np.array([str(i).encode("utf-8") for i in dm.ids], dtype=object)
    with open_atomic(path, "w+b", what="the distance matrix") as out, \
            h5py.File(out, "w") as handle:
        # the header of scikit-bio's ``binary_dm`` format (its sniffer looks for it)
        handle.create_dataset("format", data=np.array([b"BDSM"]))
        handle.create_dataset("version", data=np.array([b"2020.12"]))
        handle.create_dataset("order", data=order, dtype=h5py.string_dtype("utf-8"))
        handle.create_dataset("matrix", data=dm.data.astype(dtype, copy=False))
        if pcoa is not None:
            handle.create_dataset("pcoa_method", data=np.array([pcoa.method.encode("ascii")],
                                                              dtype=object),
                                  dtype=h5py.string_dtype("ascii"))
            handle.create_dataset("pcoa_eigvals", data=np.asarray(pcoa.eigenvalues, np.float64))
            handle.create_dataset("pcoa_samples",
                                  data=np.asarray(pcoa.coordinates, np.float64))
            handle.create_dataset("pcoa_proportion_explained",
                                  data=np.asarray(pcoa.proportion_explained, np.float64))


def _open_hdf5(path: PathLike, keys: tuple[str, ...]) -> Any:
    import h5py

    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    try:
        handle = h5py.File(path, "r")
    except OSError:
        raise FormatError(f"{path}: not an HDF5 file (expected a distance matrix as `ssu` "
                          "writes it, with 'order' and 'matrix' datasets)") from None
    try:  # an 'order' that links to another file read that file's names (and bytes)
        check_hdf5_objects(handle, str(path))
    except UnsafeInputError:
        handle.close()
        raise
    missing = [k for k in keys if k not in handle]
    if missing:
        found = ", ".join(sorted(handle.keys())) or "nothing"
        handle.close()
        raise FormatError(f"{path}: the HDF5 file has no {', '.join(map(repr, missing))} "
                          f"dataset (found {found}); expected the layout `ssu` writes")
    return handle


def _order(handle: Any, path: PathLike) -> list[str]:
    order = handle["order"]
    if order.ndim != 1:
        raise FormatError(f"{path}: 'order' should be 1-D sample ids; found shape {order.shape}")
    return [c.decode("utf-8") if isinstance(c, bytes) else str(c) for c in order[:]]


def read_distance_hdf5(path: PathLike) -> DistanceMatrix:
    """Read a distance matrix from Striped UniFrac's HDF5 layout (``order``, ``matrix``).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    DistanceMatrix
        float64 (a float32 matrix is widened).

    Raises
    ------
    InputError
        No such file.
    FormatError
        Not HDF5, a dataset missing, shapes that do not agree.
    ValidationError
        Not symmetric, non-zero diagonal, NaN.
    """
    with _open_hdf5(path, ("order", "matrix")) as handle:
        ids = _order(handle, path)
        matrix = handle["matrix"]
        if matrix.shape != (len(ids), len(ids)):
            raise FormatError(f"{path}: 'matrix' is {matrix.shape} but 'order' holds "
                              f"{len(ids)} ids; expected {len(ids)} × {len(ids)}")
        data = np.asarray(matrix[:, :], dtype=np.float64)
    try:
        return DistanceMatrix(pd.Index(ids, dtype=object), data)
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc}") from None


def read_pcoa_hdf5(path: PathLike) -> dict[str, Any]:
    """Read the PCoA that ``ssu --pcoa`` (or gutaxis ``--pcoa``) stored beside the matrix.

    Returns
    -------
    dict
        ``ids`` (list of str), ``method`` (str), ``eigenvalues`` (k),
        ``coordinates`` (n × k), ``proportion_explained`` (k).

    Raises
    ------
    FormatError
        A ``pcoa_*`` dataset missing or of the wrong shape.
    """
    with _open_hdf5(path, ("order", *_PCOA_KEYS)) as handle:
        ids = _order(handle, path)
        method = handle["pcoa_method"][0]
        eigvals = np.asarray(handle["pcoa_eigvals"][:], dtype=np.float64)
        samples = np.asarray(handle["pcoa_samples"][:, :], dtype=np.float64)
        proportion = np.asarray(handle["pcoa_proportion_explained"][:], dtype=np.float64)
    k = len(eigvals)
    if samples.shape != (len(ids), k) or proportion.shape != (k,):
        raise FormatError(f"{path}: 'pcoa_samples' is {samples.shape} and "
                          f"'pcoa_proportion_explained' {proportion.shape}; expected "
                          f"({len(ids)}, {k}) and ({k},) for {k} eigenvalues")
    return {"ids": ids, "method": method.decode("ascii") if isinstance(method, bytes)
            else str(method), "eigenvalues": eigvals, "coordinates": samples,
            "proportion_explained": proportion}


def _zarr() -> Any:
    try:
        import zarr
    except ImportError:  # pragma: no cover - installed with the [distributed] extra and dev
        raise InputError("--format zarr needs zarr: pip install 'gutaxis[distributed]'"
                         ) from None
    return zarr


def write_distance_zarr(dm: DistanceMatrix, path: PathLike, *, precision: Precision = "float64",
                        tile_size: int = 1024) -> None:
    """Write ``dm`` as a chunked zarr group (the layout of gutaxis's blockwise stores).

    Parameters
    ----------
    dm : DistanceMatrix
    path : str or path-like
        A folder (``….zarr``); one that exists is replaced.
    precision : {"float64", "float32"}
    tile_size : int, default 1024
        Rows and columns per chunk.

    Raises
    ------
    InputError
        ``dm`` is not a DistanceMatrix; an unknown ``precision``; zarr missing.
    ValidationError
        ``tile_size`` below 1.

    Examples
    --------
    >>> import os, tempfile
    >>> dm = DistanceMatrix(pd.Index(["a", "b", "c"]),
    ...                     np.array([[0, 0.5, 1.0], [0.5, 0, 0.25], [1.0, 0.25, 0]]))
    >>> path = os.path.join(tempfile.mkdtemp(), "dm.zarr")
    >>> write_distance_zarr(dm, path, tile_size=2)
    >>> back = read_distance_zarr(path)
    >>> list(back.ids), float(back.data[1, 2])
    (['a', 'b', 'c'], 0.25)
    """
    import shutil

    zarr = _zarr()
    check_type(dm, DistanceMatrix, "dm", hint="e.g. from gutaxis.diversity.beta_diversity")
    dtype = _precision(precision)
    if isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 1:
        raise ValidationError(f"tile_size must be an integer ≥ 1; got {tile_size!r}")
    n = len(dm.ids)
    tile = max(1, min(tile_size, n))
    blocks = -(-n // tile)
    target = Path(path)
    staging = target.with_name(target.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    group = zarr.open_group(str(staging), mode="w")
    group.attrs.update({"schema_version": ZARR_SCHEMA_VERSION, "metric": dm.metric,
                        "order": [str(i) for i in dm.ids], "tile_size": tile,
                        "dtype": dtype.name, "gutaxis_version": __version__})
    distances = group.create_array("distances", shape=(n, n), chunks=(tile, tile),
                                   dtype=dtype, fill_value=np.nan)
    for start in range(0, n, tile):
        distances[start:start + tile, :] = dm.data[start:start + tile].astype(dtype, copy=False)
    done = group.create_array("done", shape=(blocks, blocks), chunks=(1, 1), dtype="uint8",
                              fill_value=0)
    done[:, :] = 1
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def read_distance_zarr(path: PathLike) -> DistanceMatrix:
    """Read a complete distance matrix from a zarr group of the layout above.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    DistanceMatrix
        float64 (a float32 store is widened), with the store's ``metric``.

    Raises
    ------
    FormatError
        Not such a store, or shapes that do not agree.
    ValidationError
        Tiles missing (NaN), not symmetric, non-zero diagonal.
    """
    zarr = _zarr()
    try:
        group = zarr.open_group(str(path), mode="r")
        attrs = dict(group.attrs)
        ids = [str(i) for i in attrs["order"]]
        distances = group["distances"]
    except Exception as exc:  # noqa: BLE001 - any unreadable folder: one clear message
        raise FormatError(f"{path}: not a gutaxis distance store (a zarr group with "
                          f"'distances' and the ids in the attribute 'order'): {exc}") from None
    if tuple(distances.shape) != (len(ids), len(ids)):
        raise FormatError(f"{path}: 'distances' is {tuple(distances.shape)} but 'order' holds "
                          f"{len(ids)} ids")
    data = np.asarray(distances[:], dtype=np.float64)
    try:
        return DistanceMatrix(pd.Index(ids, dtype=object), data, str(attrs.get("metric", "")))
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc} (an unfinished blockwise run leaves NaN where "
                              "tiles are missing)") from None
