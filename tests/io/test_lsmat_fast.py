"""The fast lsmat writer writes the bytes of the ``repr``-joining writer it replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutaxis.distance import DistanceMatrix
from gutaxis.io import read_lsmat, write_lsmat
from gutaxis.io._lsmat import lsmat_rows


def _repr_lsmat(ids: list[str], data: np.ndarray) -> bytes:
    """The writer gutaxis had before (string joining of ``repr``), kept as the reference."""
    text = "\t" + "\t".join(ids) + "\n"
    for ident, row in zip(ids, data, strict=True):
        text += ident + "\t" + "\t".join(map(repr, row.tolist())) + "\n"
    return text.encode("utf-8")


def _random_values(rng: np.random.Generator, n: int) -> np.ndarray:
    """Values of every kind: uniform, random bit patterns, tiny, huge, round, float32-born."""
    bits = rng.integers(0, 2**64, size=n, dtype=np.uint64).view(np.float64)
    return np.concatenate([
        rng.random(n), bits, rng.random(n) * 1e-3, rng.random(n) * 1e-6,
        rng.random(n) * 1e17, np.round(rng.random(n) * 1000, 3),
        rng.random(n).astype(np.float32).astype(np.float64),
        [0.0, -0.0, 1e-4, np.nextafter(1e-4, 0), 1e16, np.nextafter(1e16, 0), 5e-324,
         1.7976931348623157e308, -1.5, np.nan, np.inf, -np.inf, 0.1, 1 / 3, 2.0**53],
    ])


def test_rows_are_repr_for_every_kind_of_value() -> None:
    rng = np.random.default_rng(13)
    values = _random_values(rng, 40_000)
    width = 97
    values = np.resize(values, (len(values) // width + 1) * width).reshape(-1, width)
    labels = [f"s{i}\t".encode() for i in range(values.shape[0])]
    expected = b"".join(label + "\t".join(map(repr, row.tolist())).encode() + b"\n"
                        for label, row in zip(labels, values, strict=True))
    assert lsmat_rows(labels, values) == expected


def test_fixed_notation_values_go_the_fast_way_and_match_repr() -> None:
    # one row, all in [1e-4, 1e16): no fallback to repr is taken, the bytes are orjson's
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2**64, size=400_000, dtype=np.uint64).view(np.float64)
    row = bits[np.isfinite(bits) & (np.abs(bits) >= 1e-4) & (np.abs(bits) < 1e16)]
    row = np.concatenate([row, rng.random(200_000) * 0.9999 + 1e-4])[None, :]
    assert lsmat_rows([b"x\t"], row) == b"x\t" + "\t".join(map(repr, row[0].tolist())).encode() \
        + b"\n"


@pytest.mark.parametrize("n", [1, 2, 255, 256, 257, 600])
def test_file_is_byte_identical_to_the_old_writer(tmp_path: Path, n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.random((n, n))
    a[rng.random((n, n)) < 0.05] = 1e-7  # exponent notation in some rows
    data = (a + a.T) / 2
    np.fill_diagonal(data, 0.0)
    ids = [f"sample.{i}" for i in range(n)]
    dm = DistanceMatrix(pd.Index(ids, dtype=object), data)
    path = tmp_path / "dm.tsv"
    write_lsmat(dm, path)
    assert path.read_bytes() == _repr_lsmat(ids, data)
    back = read_lsmat(path)
    assert list(back.ids) == ids
    assert np.array_equal(back.data, data)


def test_unicode_ids_are_utf8(tmp_path: Path) -> None:
    dm = DistanceMatrix(pd.Index(["Ärzte", "b"], dtype=object), np.array([[0, 0.5], [0.5, 0]]))
    write_lsmat(dm, tmp_path / "dm.tsv")
    assert (tmp_path / "dm.tsv").read_bytes() == _repr_lsmat(["Ärzte", "b"], dm.data)
