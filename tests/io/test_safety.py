"""Crafted, malformed and malicious inputs must give clear gutaxis errors."""

from __future__ import annotations

import json
import zipfile

import h5py
import numpy as np
import pytest

from builders.io import UUID, biom_bytes, make_qza, small_biom, symlink_info
from gutaxis.exceptions import FormatError, GutaxisError, UnsafeInputError, ValidationError
from gutaxis.io import read_qza, read_table

SECRET = "TOP-SECRET-CONTENT-42"


# --------------------------------------------------------------------------- HDF5
def _matrix_tweak(fn):
    def tweak(f):
        fn(f["observation/matrix"], f)
    return tweak


def test_indptr_not_monotone(tmp_path):
    path = small_biom(tmp_path / "t.biom", indptr=[0, 3, 1, 4])
    with pytest.raises(FormatError, match=r"t\.biom: observation/matrix/indptr must be "
                                          r"non-decreasing; it falls from 3 to 1 at row 1"):
        read_table(path)


@pytest.mark.parametrize("indptr, found", [([1, 1, 3, 4], "from 1 to 4"),
                                           ([0, 1, 3, 3], "from 0 to 3")])
def test_indptr_ends(tmp_path, indptr, found):
    path = small_biom(tmp_path / "t.biom", indptr=indptr)
    with pytest.raises(FormatError, match=f"must start at 0 and end at nnz=4; it runs {found}"):
        read_table(path)


def test_indices_out_of_bounds(tmp_path):
    path = small_biom(tmp_path / "t.biom", indices=[0, 0, 5, 1])
    with pytest.raises(FormatError, match=r"indices contains 5, outside 0…1 \(the table declares "
                                          r"2 samples\)"):
        read_table(path)


def test_negative_index(tmp_path):
    path = small_biom(tmp_path / "t.biom", indices=[0, -1, 1, 1])
    with pytest.raises(FormatError, match="indices contains -1"):
        read_table(path)


def test_declared_shape_enormous(tmp_path):
    def tweak(f):
        f.attrs["shape"] = np.array([10**12, 2], dtype=np.int64)
    path = small_biom(tmp_path / "huge.biom", tweak=tweak)
    with pytest.raises(UnsafeInputError, match=r"huge\.biom: declared 1,000,000,000,000 features"
                                               r".*GUTAXIS_MAX_FEATURES"):
        read_table(path)


def test_declared_shape_disagrees_with_ids(tmp_path):
    def tweak(f):
        f.attrs["shape"] = np.array([4, 2], dtype=np.int64)
    path = small_biom(tmp_path / "t.biom", tweak=tweak)
    with pytest.raises(FormatError, match=r"indptr' should be 1-D of length 5"):
        read_table(path)


def test_nnz_attribute_mismatch(tmp_path):
    def tweak(f):
        f.attrs["nnz"] = 99
    with pytest.raises(FormatError, match="attribute nnz says 99 but"):
        read_table(small_biom(tmp_path / "t.biom", tweak=tweak))


def test_repeated_cell(tmp_path):
    path = small_biom(tmp_path / "t.biom", indices=[0, 0, 0, 1])
    with pytest.raises(FormatError, match="more than once"):
        read_table(path)


def test_unsorted_cells_are_read_and_index_types_kept(tmp_path):
    # F1's two cells stored as sample 1 before sample 0: not canonical, but none repeated
    path = small_biom(tmp_path / "t.biom", indices=np.array([0, 1, 0, 1], dtype=np.uint32),
                      indptr=[0, 1, 3, 4], data=[5, 2, 1, 7])
    study = read_table(path)
    np.testing.assert_array_equal(study.counts.toarray(), [[5, 1, 0], [0, 2, 7]])
    assert study.counts.indices.dtype.kind == "i" and study.counts.data.dtype == np.float64


def test_missing_dataset(tmp_path):
    path = small_biom(tmp_path / "t.biom",
                      tweak=_matrix_tweak(lambda m, f: m.__delitem__("indices")))
    with pytest.raises(FormatError, match=r"needs the dataset 'observation/matrix/indices'"):
        read_table(path)


def test_string_data(tmp_path):
    def tweak(m, f):
        del m["data"]
        m.create_dataset("data", data=np.array(["a", "b", "c", "d"], dtype=object),
                         dtype=h5py.string_dtype())
    with pytest.raises(FormatError, match=r"'observation/matrix/data' should hold numbers"):
        read_table(small_biom(tmp_path / "t.biom", tweak=_matrix_tweak(tweak)))


def test_nnz_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_MAX_NNZ", "3")
    with pytest.raises(UnsafeInputError, match="GUTAXIS_MAX_NNZ"):
        read_table(small_biom(tmp_path / "t.biom"))


def test_bad_limit_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_MAX_NNZ", "lots")
    with pytest.raises(GutaxisError, match="GUTAXIS_MAX_NNZ must be a positive integer"):
        read_table(small_biom(tmp_path / "t.biom"))


def test_object_count_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_MAX_HDF5_OBJECTS", "3")
    with pytest.raises(UnsafeInputError, match="more than 3 objects"):
        read_table(small_biom(tmp_path / "t.biom"))


def _secret_h5(tmp_path):
    other = tmp_path / "secret.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.array([1.0, 2.0, 3.0, 4.0])
        f["s"] = SECRET
    return other


def test_external_link_refused(tmp_path):
    other = _secret_h5(tmp_path)

    def tweak(m, f):
        del m["data"]
        m["data"] = h5py.ExternalLink(str(other), "/data")
    path = small_biom(tmp_path / "ext.biom", tweak=_matrix_tweak(tweak))
    with pytest.raises(UnsafeInputError, match=r"ext\.biom: HDF5 object '/observation/matrix/"
                                               r"data' is an external link to .*secret\.h5"):
        read_table(path)


def test_external_link_anywhere_refused(tmp_path):
    other = _secret_h5(tmp_path)

    def tweak(f):
        f["sample/metadata"]["leak"] = h5py.ExternalLink(str(other), "/s")
    with pytest.raises(UnsafeInputError, match="external link"):
        read_table(small_biom(tmp_path / "ext.biom", tweak=tweak))


def test_external_storage_refused(tmp_path):
    raw = tmp_path / "secret.bin"
    raw.write_bytes(np.arange(4, dtype="<f8").tobytes())

    def tweak(m, f):
        del m["data"]
        m.create_dataset("data", shape=(4,), dtype="<f8", external=[(str(raw), 0, 32)])
    path = small_biom(tmp_path / "raw.biom", tweak=_matrix_tweak(tweak))
    with h5py.File(path) as f:  # the crafted file really reads the other file
        np.testing.assert_array_equal(f["observation/matrix/data"][()], [0, 1, 2, 3])
    with pytest.raises(UnsafeInputError, match=r"'/observation/matrix/data' keeps its data in "
                                               r"external file.*external storage is refused"):
        read_table(path)


def test_virtual_dataset_refused(tmp_path):
    other = _secret_h5(tmp_path)

    def tweak(m, f):
        del m["data"]
        layout = h5py.VirtualLayout(shape=(4,), dtype="f8")
        layout[:] = h5py.VirtualSource(str(other), "data", shape=(4,))
        m.create_virtual_dataset("data", layout)
    path = small_biom(tmp_path / "vds.biom", tweak=_matrix_tweak(tweak))
    with pytest.raises(UnsafeInputError, match="virtual dataset"):
        read_table(path)


def test_unusual_filter_refused(tmp_path):
    def tweak(m, f):
        del m["indices"]
        m.create_dataset("indices", data=np.array([0, 0, 1, 1], dtype=np.int32),
                         scaleoffset=0, chunks=(4,))
    path = small_biom(tmp_path / "so.biom", tweak=_matrix_tweak(tweak))
    with pytest.raises(UnsafeInputError, match=r"uses filter 6 \(.*\); only deflate"):
        read_table(path)


def test_allowed_filters_accepted(tmp_path):
    def tweak(m, f):
        del m["data"]
        m.create_dataset("data", data=np.array([5.0, 1.0, 2.0, 7.0]), compression="lzf",
                         shuffle=True, fletcher32=True)
    study = read_table(small_biom(tmp_path / "lzf.biom", tweak=_matrix_tweak(tweak)))
    assert study.counts.sum() == 15


def test_dangling_soft_link_refused(tmp_path):
    def tweak(m, f):
        del m["data"]
        m["data"] = h5py.SoftLink("/nowhere/data")
    with pytest.raises(UnsafeInputError, match="soft link '/observation/matrix/data' points to "
                                               "'/nowhere/data'"):
        read_table(small_biom(tmp_path / "soft.biom", tweak=_matrix_tweak(tweak)))


def test_internal_soft_link_accepted(tmp_path):
    def tweak(m, f):
        f.create_group("store")
        f["store/data"] = m["data"][()]
        del m["data"]
        m["data"] = h5py.SoftLink("/store/data")
    study = read_table(small_biom(tmp_path / "soft.biom", tweak=_matrix_tweak(tweak)))
    assert study.counts.sum() == 15


def test_truncated_hdf5(tmp_path):
    data = small_biom(tmp_path / "t.biom").read_bytes()
    cut = tmp_path / "cut.biom"
    cut.write_bytes(data[:600])
    with pytest.raises(FormatError, match=r"cut\.biom: "):
        read_table(cut)


def test_hdf5_without_biom_layout(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(FormatError, match=r"plain\.h5: the HDF5 file has no 'shape' attribute"):
        read_table(path)


# --------------------------------------------------------------------------- JSON
def _json_table(**overrides):
    obj = {"format": "Biological Observation Matrix 1.0.0", "matrix_type": "sparse",
           "shape": [2, 2], "rows": [{"id": "F0"}, {"id": "F1"}],
           "columns": [{"id": "S0"}, {"id": "S1"}], "data": [[0, 0, 1], [1, 1, 2]]}
    obj.update(overrides)
    return obj


@pytest.mark.parametrize("entry, axis", [([5, 0, 1], "row 5"), ([0, 2, 1], "column 2"),
                                         ([-1, 0, 1], "row -1"), ([0.5, 0, 1], "row 0.5")])
def test_json_coordinates_out_of_range(tmp_path, entry, axis):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_json_table(data=[[0, 0, 1], entry])))
    with pytest.raises(FormatError, match=rf"t\.json: data\[1\] has {axis}"):
        read_table(path)


def test_json_enormous_shape(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_json_table(shape=[10**12, 2])))
    with pytest.raises(UnsafeInputError, match="declared 1,000,000,000,000 features"):
        read_table(path)


def test_json_rows_do_not_match_shape(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_json_table(shape=[3, 2])))
    with pytest.raises(FormatError, match=r"field 'rows' should list 3 entries.*found 2"):
        read_table(path)


def test_json_deep_nesting(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"data": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(FormatError, match=r"deep\.json"):
        read_table(path)


def test_json_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_json_table()))
    monkeypatch.setenv("GUTAXIS_MAX_JSON_BYTES", "50")
    with pytest.raises(UnsafeInputError, match=r"GUTAXIS_MAX_JSON_BYTES"):
        read_table(path)


def test_json_invalid(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"shape": [1, 1],\n "rows": [}')
    with pytest.raises(FormatError, match=r"t\.json: invalid JSON at line 2"):
        read_table(path)


def test_json_nan_value(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_json_table(data=[[0, 0, float("nan")]])))
    with pytest.raises(ValidationError, match="sample 'S0', feature 'F0' is nan"):
        read_table(path)


def test_json_bad_matrix_type(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_json_table(matrix_type="csr")))
    with pytest.raises(FormatError, match="'matrix_type' should be 'sparse' or 'dense'"):
        read_table(path)


def test_json_dense_cells_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_MAX_DENSE_CELLS", "3")
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_json_table(matrix_type="dense", data=[[1, 0], [0, 2]])))
    with pytest.raises(UnsafeInputError, match="GUTAXIS_MAX_DENSE_CELLS"):
        read_table(path)


# --------------------------------------------------------------------------- qza
def _table_qza(tmp_path, name="t.qza", **kwargs):
    return make_qza(tmp_path / name, "FeatureTable[Frequency]",
                    {"data/feature-table.biom": biom_bytes(tmp_path)}, **kwargs)


def test_qza_parent_member(tmp_path):
    path = _table_qza(tmp_path, extra=[(f"{UUID}/../../evil.txt", b"x")])
    with pytest.raises(UnsafeInputError,
                       match=r"t\.qza: archive member .*contains '\.\.' \(path traversal\)"):
        read_qza(path)


def test_qza_absolute_member(tmp_path):
    path = _table_qza(tmp_path, extra=[("/etc/evil", b"x")])
    with pytest.raises(UnsafeInputError, match="has an absolute path"):
        read_table(path)


def test_qza_symlink_member(tmp_path):
    path = _table_qza(tmp_path, extra=[(symlink_info(f"{UUID}/data/link"), b"/etc/passwd")])
    with pytest.raises(UnsafeInputError, match=r"member '.*/data/link' is a symbolic link"):
        read_table(path)


def test_qza_zip_bomb(tmp_path):
    path = _table_qza(tmp_path, extra=[(f"{UUID}/data/bomb.txt", b"\0" * (8 << 20))])
    with pytest.raises(UnsafeInputError, match=r"expands .*-fold.*zip bomb"):
        read_table(path)


def test_qza_too_many_members(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_MAX_ZIP_MEMBERS", "5")
    path = _table_qza(tmp_path, extra=[(f"{UUID}/data/f{i}.txt", b"x") for i in range(5)])
    with pytest.raises(UnsafeInputError, match=r"has 8 members; the limit is 5"):
        read_table(path)


def test_qza_total_size(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_MAX_ZIP_BYTES", "1000")
    with pytest.raises(UnsafeInputError, match="unpacks to more than 1,000 bytes"):
        read_table(_table_qza(tmp_path))


def test_qza_missing_metadata(tmp_path):
    path = _table_qza(tmp_path, metadata=b"")
    with pytest.raises(FormatError, match=r"metadata\.yaml' is missing; this zip is not a QIIME 2"):
        read_table(path)


def test_qza_unknown_type(tmp_path):
    path = make_qza(tmp_path / "u.qza", "SampleData[PairedEndSequencesWithQuality]",
                    {"data/MANIFEST": b"x"})
    with pytest.raises(FormatError, match=r"type 'SampleData\[PairedEndSequencesWithQuality\]' "
                                          r"is not supported; gutaxis reads: FeatureTable"):
        read_qza(path)


def test_qza_uuid_mismatch(tmp_path):
    meta = b"uuid: 00000000-0000-0000-0000-000000000000\ntype: DistanceMatrix\nformat: X\n"
    path = _table_qza(tmp_path, metadata=meta)
    with pytest.raises(FormatError, match="metadata.yaml says uuid"):
        read_qza(path)


def test_qza_bad_yaml(tmp_path):
    path = _table_qza(tmp_path, metadata=b"uuid: [unclosed\n")
    with pytest.raises(FormatError, match="metadata.yaml is not valid YAML"):
        read_qza(path)


def test_qza_two_roots(tmp_path):
    path = _table_qza(tmp_path, extra=[("other-root/x", b"x")])
    with pytest.raises(FormatError, match="single root directory"):
        read_qza(path)


def test_qza_forced_on_non_zip(tmp_path):
    path = tmp_path / "t.qza"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(FormatError, match=r"t\.qza: not a readable zip archive"):
        read_table(path, format="qza")


def test_qza_corrupt_member(tmp_path):
    path = _table_qza(tmp_path)
    data = bytearray(path.read_bytes())
    start = data.index(b"feature-table.biom") + len("feature-table.biom")
    for k in range(start + 50, start + 200):
        data[k] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"t\.qza"):
        read_table(path)


def test_zip_member_reading_does_not_follow_symlinks_on_disk(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    path = make_qza(tmp_path / "tax.qza", "FeatureData[Taxonomy]",
                    {"data/taxonomy.tsv": b"Feature ID\tTaxon\nF1\tk__Bacteria\n"},
                    extra=[(symlink_info(f"{UUID}/data/secret"), str(secret).encode())])
    with pytest.raises(UnsafeInputError) as info:
        read_qza(path)
    assert SECRET not in str(info.value)
    with zipfile.ZipFile(path) as zf:  # the member is there, and is a link
        assert f"{UUID}/data/secret" in zf.namelist()


# --------------------------------------------------------------------------- regexes
def test_long_cells_do_not_backtrack(tmp_path):
    from gutaxis.io import read_metadata

    path = tmp_path / "md.tsv"
    path.write_text("id\tx\nA\t" + "1" * 100_000 + "x\n")
    assert read_metadata(path).loc["A", "x"].endswith("1x")
    qza = make_qza(tmp_path / "t.qza", " " * 200_000 + "X", {"data/x": b"x"})
    with pytest.raises(FormatError, match="is not supported"):
        read_qza(qza)
