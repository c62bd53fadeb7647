"""Distance matrices in HDF5 (Striped UniFrac's layout) and zarr, read back independently."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import skbio

from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import FormatError, InputError, UnsafeInputError, ValidationError
from gutaxis.io import (
    read_distance_hdf5,
    read_distance_zarr,
    read_pcoa_hdf5,
    write_distance_hdf5,
    write_distance_zarr,
)
from gutaxis.ordination import pcoa


def _matrix(n: int, seed: int = 0) -> DistanceMatrix:
    rng = np.random.default_rng(seed)
    a = rng.random((n, n))
    data = (a + a.T) / 2
    np.fill_diagonal(data, 0.0)
    return DistanceMatrix(pd.Index([f"S{i}" for i in range(n)], dtype=object), data,
                          "braycurtis")


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_hdf5_is_read_as_unifrac_reads_it(tmp_path: Path, precision: str) -> None:
    dm = _matrix(7)
    path = tmp_path / "dm.h5"
    write_distance_hdf5(dm, path, precision=precision)  # type: ignore[arg-type]
    # unifrac.h5unifrac: skbio.DistanceMatrix(f['matrix'][:, :], [c.decode('ascii') ...])
    with h5py.File(path, "r") as f_u:
        assert f_u["matrix"].dtype == np.dtype(precision)
        theirs = skbio.DistanceMatrix(f_u["matrix"][:, :],
                                      [c.decode("ascii") for c in f_u["order"][:]])
    assert list(theirs.ids) == list(dm.ids)
    assert np.array_equal(theirs.data, dm.data.astype(precision))
    ours = read_distance_hdf5(path)
    assert np.array_equal(ours.data, dm.data.astype(precision).astype(np.float64))
    # scikit-bio's own binary_dm reader (found by its sniffer) reads the same file
    assert skbio.io.sniff(str(path))[0] == "binary_dm"
    skb = skbio.DistanceMatrix.read(str(path), format="binary_dm")
    assert list(skb.ids) == list(dm.ids)


def _euclidean(n: int, seed: int = 0) -> DistanceMatrix:
    points = np.random.default_rng(seed).normal(size=(n, 5))
    data = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(data, 0.0)
    return DistanceMatrix(pd.Index([f"S{i}" for i in range(n)], dtype=object), data)


def test_hdf5_pcoa_is_read_as_unifrac_h5pcoa_reads_it(tmp_path: Path) -> None:
    dm = _euclidean(12, seed=3)
    ordination = pcoa(dm, n_components=4)
    path = tmp_path / "dm.h5"
    write_distance_hdf5(dm, path, pcoa=ordination)
    with h5py.File(path, "r") as f_u:  # unifrac.h5pcoa, single interface
        method = f_u["pcoa_method"][0].decode("ascii")
        order_index = [c.decode("ascii") for c in f_u["order"][:]]
        eigvals = f_u["pcoa_eigvals"][:]
        samples = f_u["pcoa_samples"][:, :]
        proportion = f_u["pcoa_proportion_explained"][:]
    assert method == ordination.method
    assert order_index == list(dm.ids)
    assert np.array_equal(eigvals, ordination.eigenvalues)
    assert np.array_equal(samples, ordination.coordinates)
    assert np.array_equal(proportion, ordination.proportion_explained)
    back = read_pcoa_hdf5(path)
    assert back["ids"] == list(dm.ids)
    assert np.array_equal(back["coordinates"], ordination.coordinates)
    # the PCoA of scikit-bio on the same matrix: same eigenvalues
    theirs = skbio.stats.ordination.pcoa(dm.to_skbio(), number_of_dimensions=4)
    assert np.allclose(eigvals, theirs.eigvals.to_numpy(), rtol=1e-9)


def test_hdf5_pcoa_of_other_samples_is_refused(tmp_path: Path) -> None:
    dm = _matrix(5)
    other = pcoa(_euclidean(6), n_components=2)
    with pytest.raises(ValidationError, match="not those of the distance matrix"):
        write_distance_hdf5(dm, tmp_path / "x.h5", pcoa=other)
    assert not (tmp_path / "x.h5").exists()


def test_hdf5_that_reaches_other_files_is_refused_before_reading(tmp_path: Path) -> None:
    # an 'order' linked to another file read that file's names as sample ids
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["names"] = np.array([b"secret-a", b"secret-b"], dtype=object)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(4, dtype=np.float64).tobytes())
    linked, stored = tmp_path / "linked.h5", tmp_path / "stored.h5"
    with h5py.File(linked, "w") as handle:
        handle["order"] = h5py.ExternalLink(str(other), "/names")
        handle["matrix"] = np.zeros((2, 2))
    with h5py.File(stored, "w") as handle:
        handle["order"] = np.array([b"a", b"b"], dtype=object)
        handle.create_dataset("matrix", (2, 2), dtype=np.float64,
                              external=[(str(secret), 0, 32)])
    with pytest.raises(UnsafeInputError, match=r"'/order' is an external link to .*other\.h5"):
        read_distance_hdf5(linked)
    with pytest.raises(UnsafeInputError, match=r"'/matrix' keeps its data in external file"):
        read_distance_hdf5(stored)
    with pytest.raises(UnsafeInputError, match="external link"):
        read_pcoa_hdf5(linked)


def test_hdf5_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="precision must be 'float64' or 'float32'"):
        write_distance_hdf5(_matrix(3), tmp_path / "x.h5", precision="float16")  # type: ignore[arg-type]
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(FormatError, match="not an HDF5 file"):
        read_distance_hdf5(text)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("order", data=np.array([b"a"]))
    with pytest.raises(FormatError, match="no 'matrix' dataset"):
        read_distance_hdf5(tmp_path / "other.h5")
    with pytest.raises(FormatError, match="no 'pcoa_method'"):
        read_pcoa_hdf5(tmp_path / "other.h5")


@pytest.mark.parametrize(("precision", "tile"), [("float64", 3), ("float32", 1024)])
def test_zarr_round_trip_and_chunks(tmp_path: Path, precision: str, tile: int) -> None:
    import zarr

    dm = _matrix(8, seed=5)
    path = tmp_path / "dm.zarr"
    write_distance_zarr(dm, path, precision=precision, tile_size=tile)  # type: ignore[arg-type]
    group = zarr.open_group(str(path), mode="r")
    distances = zarr.open_array(str(path), path="distances", mode="r")
    assert distances.chunks == (min(tile, 8), min(tile, 8))
    assert distances.dtype == np.dtype(precision)
    assert group.attrs["order"] == list(dm.ids)
    assert group.attrs["metric"] == "braycurtis"
    back = read_distance_zarr(path)
    assert list(back.ids) == list(dm.ids)
    assert back.metric == "braycurtis"
    assert np.array_equal(back.data, dm.data.astype(precision).astype(np.float64))
    write_distance_zarr(dm, path, tile_size=tile)  # an existing store is replaced
    assert read_distance_zarr(path).data.dtype == np.float64


def test_zarr_store_is_read_by_the_blockwise_reader(tmp_path: Path) -> None:
    distributed = pytest.importorskip("gutaxis.distributed._store")
    dm = _matrix(9, seed=2)
    write_distance_zarr(dm, tmp_path / "dm.zarr", tile_size=4)
    back = distributed.read_distances(tmp_path / "dm.zarr")
    assert list(back.ids) == list(dm.ids)
    assert np.array_equal(back.data, dm.data)


def test_zarr_unfinished_store_is_refused(tmp_path: Path) -> None:
    import zarr

    dm = _matrix(4)
    write_distance_zarr(dm, tmp_path / "dm.zarr", tile_size=2)
    zarr.open_array(str(tmp_path / "dm.zarr"), path="distances", mode="r+")[0:2, 2:4] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        read_distance_zarr(tmp_path / "dm.zarr")
    with pytest.raises(FormatError, match="not a gutaxis distance store"):
        read_distance_zarr(tmp_path)
