"""Distance matrices in the lsmat layout, checked against scikit-bio."""

from __future__ import annotations

import numpy as np
import pytest
import skbio
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.io import read_lsmat, write_lsmat

DATA = np.array([[0.0, 0.1, 1 / 3], [0.1, 0.0, 2.5e-17], [1 / 3, 2.5e-17, 0.0]])


def test_write_is_read_by_skbio(tmp_path):
    dm = DistanceMatrix(["a", "b", "c"], DATA, "braycurtis")
    out = tmp_path / "dm.tsv"
    write_lsmat(dm, out)
    assert out.read_text().splitlines()[0] == "\ta\tb\tc"
    ref = skbio.DistanceMatrix.read(str(out))
    assert list(ref.ids) == ["a", "b", "c"]
    np.testing.assert_array_equal(ref.data, DATA)


def test_reads_what_skbio_writes(tmp_path):
    out = tmp_path / "sk.tsv"
    skbio.DistanceMatrix(DATA, ids=["x", "y", "z"]).write(str(out))
    dm = read_lsmat(out)
    assert dm.ids.tolist() == ["x", "y", "z"]
    np.testing.assert_array_equal(dm.data, DATA)


def test_asymmetric(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_text("\ta\tb\na\t0\t1\nb\t2\t0\n")
    with pytest.raises(ValidationError, match=r"a\.tsv: distance matrix must be symmetric"):
        read_lsmat(path)


def test_row_order(tmp_path):
    path = tmp_path / "o.tsv"
    path.write_text("\ta\tb\nb\t0\t1\na\t1\t0\n")
    with pytest.raises(FormatError, match=r"line 2: row id 'b' does not match column 1 \('a'\)"):
        read_lsmat(path)


def test_non_number(tmp_path):
    path = tmp_path / "n.tsv"
    path.write_text("\ta\tb\na\t0\tfar\nb\t1\t0\n")
    with pytest.raises(FormatError, match=r"line 2: 'far' is not a number"):
        read_lsmat(path)


def test_wrong_row_count(tmp_path):
    path = tmp_path / "n.tsv"
    path.write_text("\ta\tb\na\t0\t1\n")
    with pytest.raises(FormatError, match="lists 2 ids but 1 rows follow"):
        read_lsmat(path)


def test_write_refuses_tab_in_id(tmp_path):
    dm = DistanceMatrix(["a\tb", "c"], np.array([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(ValidationError, match="contains a tab"):
        write_lsmat(dm, tmp_path / "x.tsv")


_ids = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.-", min_size=1,
                        max_size=8), min_size=1, max_size=6, unique=True)


@settings(max_examples=30, deadline=None)
@given(ids=_ids,
       values=arrays(np.float64, 36, elements=st.floats(0, 1e6, allow_subnormal=True)))
def test_round_trip_property(tmp_path_factory, ids, values):
    n = len(ids)
    upper = np.triu(values[: n * n].reshape(n, n), k=1)
    data = upper + upper.T
    dm = DistanceMatrix(ids, data)
    path = tmp_path_factory.mktemp("lsmat") / "dm.tsv"
    write_lsmat(dm, path)
    back = read_lsmat(path)
    assert back.ids.tolist() == ids
    np.testing.assert_array_equal(back.data, data)
