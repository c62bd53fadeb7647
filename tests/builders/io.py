"""Builders for hand-made and crafted inputs used by the io tests."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

UUID = "2f0e7e4a-3a3e-4bb1-9e0f-1c2d3e4f5a6b"


def write_raw_biom(path: Path, *, indptr: Sequence[int], indices: Sequence[int],
                   data: Sequence[float], shape: tuple[int, int],
                   obs_ids: Sequence[str] | None = None, samp_ids: Sequence[str] | None = None,
                   taxonomy: Any = None,
                   tweak: Callable[[h5py.File], None] | None = None) -> Path:
    """A minimal BIOM 2.1 HDF5 file written directly with h5py (no checks)."""
    n_obs, n_samp = shape
    obs_ids = list(obs_ids) if obs_ids is not None else [f"F{i}" for i in range(n_obs)]
    samp_ids = list(samp_ids) if samp_ids is not None else [f"S{i}" for i in range(n_samp)]
    strings = h5py.string_dtype()
    with h5py.File(path, "w") as f:
        f.attrs["format-version"] = np.array([2, 1])
        f.attrs["shape"] = np.array(shape, dtype=np.int64)
        f.attrs["nnz"] = len(data)
        f.attrs["id"] = "test"
        f.attrs["type"] = ""
        for axis, ids in (("observation", obs_ids), ("sample", samp_ids)):
            grp = f.create_group(axis)
            grp.create_dataset("ids", data=np.array(ids, dtype=object), dtype=strings)
            grp.create_group("metadata")
            grp.create_group("group-metadata")
            mat = grp.create_group("matrix")
            if axis == "observation":
                mat.create_dataset("data", data=np.asarray(data, dtype=np.float64))
                mat.create_dataset("indices", data=np.asarray(indices, dtype=np.int32))
                mat.create_dataset("indptr", data=np.asarray(indptr, dtype=np.int32))
        if taxonomy is not None:
            f["observation/metadata"].create_dataset(
                "taxonomy", data=np.array(taxonomy, dtype=object), dtype=strings)
        if tweak is not None:
            tweak(f)
    return path


def small_biom(path: Path, **kwargs: Any) -> Path:
    """3 features × 2 samples: F0 = [5, 0], F1 = [1, 2], F2 = [0, 7]."""
    args: dict[str, Any] = dict(indptr=[0, 1, 3, 4], indices=[0, 0, 1, 1],
                                data=[5.0, 1.0, 2.0, 7.0], shape=(3, 2))
    args.update(kwargs)
    return write_raw_biom(path, **args)


def make_qza(path: Path, semantic_type: str, files: dict[str, bytes], *, uuid: str = UUID,
             fmt: str = "SomeDirFmt", metadata: bytes | None = None,
             extra: Sequence[tuple[zipfile.ZipInfo | str, bytes]] = ()) -> Path:
    """A QIIME 2 artifact zip: ``<uuid>/metadata.yaml``, ``<uuid>/VERSION`` and data files."""
    meta = metadata if metadata is not None else (
        f"uuid: {uuid}\ntype: {semantic_type}\nformat: {fmt}\n".encode())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{uuid}/VERSION", "QIIME 2\narchive: 5\nframework: 2024.2.0\n")
        if meta:
            zf.writestr(f"{uuid}/metadata.yaml", meta)
        for name, content in files.items():
            zf.writestr(f"{uuid}/{name}", content)
        for info, content in extra:
            zf.writestr(info, content)
    return path


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def biom_bytes(tmp_path: Path, **kwargs: Any) -> bytes:
    """The bytes of :func:`small_biom` (for putting inside a .qza)."""
    path = small_biom(tmp_path / "inner.biom", **kwargs)
    data = path.read_bytes()
    path.unlink()
    return data
