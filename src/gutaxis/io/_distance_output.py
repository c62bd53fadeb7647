"""One distance matrix written in the format a study asked for (``--format``).

``gutaxis diversity`` and ``gutaxis analyze`` both write their matrices under
``beta/`` through :func:`write_distance`, so the two commands name and lay out
their files the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import ValidationError
from gutaxis.io._common import PathLike
from gutaxis.io._lsmat import write_lsmat
from gutaxis.io._matrix_stores import PCoALike, Precision, write_distance_hdf5, write_distance_zarr
from gutaxis.io._qza_writer import write_distance_matrix_qza, write_pcoa_qza
from gutaxis.outputs import DISTANCE_FORMATS, check_distance_format

__all__ = ["write_distance"]


def write_distance(dm: DistanceMatrix, folder: PathLike, name: str, output_format: str, *,
                   precision: Precision = "float64", pcoa: PCoALike | None = None,
                   provenance: Mapping[str, Any] | None = None,
                   tile_size: int = 1024) -> dict[str, Path]:
    """Write ``dm`` as ``folder/<name><suffix>`` in ``output_format``.

    Parameters
    ----------
    dm : DistanceMatrix
    folder : path
        An existing folder.
    name : str
        The metric, the file's stem.
    output_format : {"tsv", "hdf5", "qza", "zarr"}
        ``tsv``: lsmat text (:func:`~gutaxis.io.write_lsmat`); ``hdf5``:
        Striped UniFrac's layout (:func:`~gutaxis.io.write_distance_hdf5`),
        with ``pcoa`` in the same file; ``qza``: a QIIME 2 ``DistanceMatrix``,
        and ``pcoa`` as ``<name>_pcoa.qza`` (``PCoAResults``); ``zarr``: a
        chunked matrix (:func:`~gutaxis.io.write_distance_zarr`).
    precision : {"float64", "float32"}
        Of the hdf5 and zarr values (text formats write float64's digits).
    pcoa : OrdinationResult, optional
        Written with ``hdf5`` and ``qza``; refused with ``tsv`` and ``zarr``,
        which have no place for it.
    provenance : mapping, optional
        Stored in the ``qza`` artifacts.
    tile_size : int
        The zarr chunk side.

    Returns
    -------
    dict of str to Path
        ``matrix`` and, when written, ``pcoa``.

    Raises
    ------
    ValidationError
        An unknown format, ``pcoa`` with tsv or zarr, ``precision`` float32
        with a text format.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np, pandas as pd
    >>> from gutaxis.io import read_distance_hdf5
    >>> dm = DistanceMatrix(pd.Index(["a", "b"]), np.array([[0.0, 0.25], [0.25, 0.0]]))
    >>> paths = write_distance(dm, tempfile.mkdtemp(), "braycurtis", "hdf5")
    >>> paths["matrix"].name, float(read_distance_hdf5(paths["matrix"]).data[0, 1])
    ('braycurtis.h5', 0.25)
    """
    check_distance_format(output_format, precision)
    if pcoa is not None and output_format not in ("hdf5", "qza"):
        raise ValidationError(f"a PCoA is written with --format hdf5 (in the file) or qza "
                              f"(PCoAResults); not with --format {output_format}")
    target = Path(folder) / f"{name}{DISTANCE_FORMATS[output_format]}"
    written = {"matrix": target}
    if output_format == "tsv":
        write_lsmat(dm, target)
    elif output_format == "hdf5":
        write_distance_hdf5(dm, target, precision=precision, pcoa=pcoa)
    elif output_format == "zarr":
        write_distance_zarr(dm, target, precision=precision, tile_size=tile_size)
    else:
        write_distance_matrix_qza(dm, target, provenance=provenance)
        if pcoa is not None:
            written["pcoa"] = Path(folder) / f"{name}_pcoa.qza"
            write_pcoa_qza(pcoa, written["pcoa"], provenance=provenance)
    return written
