"""``write_distance``: one matrix in each ``--format``, read back by an independent reader."""

from __future__ import annotations

import zipfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import ValidationError
from gutaxis.io import read_distance_zarr, read_lsmat, write_distance
from gutaxis.ordination import pcoa


def _euclidean(n: int) -> DistanceMatrix:
    points = np.random.default_rng(3).normal(size=(n, 4))
    data = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(data, 0.0)
    return DistanceMatrix(pd.Index([f"S{i}" for i in range(n)], dtype=object), data,
                          "euclidean")


def test_each_format_lands_where_its_suffix_says(tmp_path: Path) -> None:
    dm = _euclidean(9)
    tsv = write_distance(dm, tmp_path, "m", "tsv")["matrix"]
    assert tsv == tmp_path / "m.tsv"
    # lsmat text: every digit of float64
    assert np.array_equal(read_lsmat(tsv).data, dm.data)
    store = write_distance(dm, tmp_path, "m", "zarr", precision="float32", tile_size=4)["matrix"]
    assert store == tmp_path / "m.zarr"
    assert np.array_equal(read_distance_zarr(store).data,
                          dm.data.astype(np.float32).astype(np.float64))


def test_hdf5_holds_the_pcoa_as_ssu_writes_it(tmp_path: Path) -> None:
    dm = _euclidean(9)
    ordination = pcoa(dm, n_components=3)
    paths = write_distance(dm, tmp_path, "m", "hdf5", pcoa=ordination)
    assert set(paths) == {"matrix"} and paths["matrix"].name == "m.h5"
    with h5py.File(paths["matrix"], "r") as f:
        assert [c.decode("ascii") for c in f["order"][:]] == list(dm.ids)
        assert np.array_equal(f["matrix"][:, :], dm.data)
        assert f["pcoa_samples"].shape == (9, 3)
        assert np.allclose(f["pcoa_eigvals"][:], ordination.eigenvalues, rtol=0, atol=1e-12)


def test_qza_writes_the_pcoa_as_its_own_artifact(tmp_path: Path) -> None:
    dm = _euclidean(6)
    paths = write_distance(dm, tmp_path, "m", "qza", pcoa=pcoa(dm, n_components=2),
                           provenance={"step": "test"})
    assert paths == {"matrix": tmp_path / "m.qza", "pcoa": tmp_path / "m_pcoa.qza"}
    types = {}
    for key, path in paths.items():
        with zipfile.ZipFile(path) as zf:
            meta = next(n for n in zf.namelist() if n.count("/") == 1
                        and n.endswith("/metadata.yaml"))
            types[key] = yaml.safe_load(zf.read(meta))["type"]
    assert types == {"matrix": "DistanceMatrix", "pcoa": "PCoAResults"}
    assert np.array_equal(read_lsmat(paths["matrix"]).data, dm.data)


@pytest.mark.parametrize("fmt", ["tsv", "zarr"])
def test_a_pcoa_without_a_place_is_refused(tmp_path: Path, fmt: str) -> None:
    dm = _euclidean(5)
    with pytest.raises(ValidationError, match=f"not with --format {fmt}"):
        write_distance(dm, tmp_path, "m", fmt, pcoa=pcoa(dm, n_components=2))
    assert not list(tmp_path.iterdir())
