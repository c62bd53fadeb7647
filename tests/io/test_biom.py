"""BIOM 2.1 HDF5 and 1.0 JSON reading and writing."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from builders.io import small_biom
from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.io import read_table, write_biom
from gutaxis.study import Study


def test_small_hdf5(tmp_path):
    path = small_biom(tmp_path / "t.biom")
    study = read_table(path)
    assert study.sample_ids.tolist() == ["S0", "S1"]
    assert study.feature_ids.tolist() == ["F0", "F1", "F2"]
    # F0 = [5, 0], F1 = [1, 2], F2 = [0, 7]  (features × samples in the file)
    np.testing.assert_array_equal(study.counts.toarray(), [[5, 1, 0], [0, 2, 7]])
    assert study.kind == "counts"
    rec = study.provenance[0]
    assert rec["step"] == "read" and rec["format"] == "biom-hdf5"
    assert rec["path"] == str(path) and len(rec["sha256"]) == 64


def test_extension_is_ignored(tmp_path):
    path = small_biom(tmp_path / "looks-like.tsv")
    assert read_table(path).provenance[0]["format"] == "biom-hdf5"


def test_taxonomy_as_list_and_as_string(tmp_path):
    as_list = [["k__Bacteria", "p__Firmicutes", "c__", "o__", "f__", "g__", "s__"],
               ["k__Bacteria", "p__Bacteroidetes", "c__Bacteroidia", "o__", "f__", "g__", "s__"],
               ["Unassigned", "", "", "", "", "", ""]]
    study = read_table(small_biom(tmp_path / "a.biom", taxonomy=as_list))
    assert study.taxonomy.loc["F0", "phylum"] == "Firmicutes"
    assert study.taxonomy.loc["F0", "class"] is None
    assert study.taxonomy.loc["F2"].isna().all()
    joined = ["; ".join(row) for row in as_list[:2]] + ["Unassigned"]
    study2 = read_table(small_biom(tmp_path / "b.biom", taxonomy=joined))
    assert study2.taxonomy.loc["F1", "class"] == "Bacteroidia"
    assert study2.taxonomy.loc["F2"].isna().all()


def test_non_integer_values_are_relative_with_note(tmp_path):
    study = read_table(small_biom(tmp_path / "r.biom", data=[0.5, 0.25, 0.5, 0.25]))
    assert study.kind == "relative"
    assert any("not whole numbers" in n for n in study.provenance[0]["notes"])


def test_kind_counts_forced_on_fractions_fails(tmp_path):
    path = small_biom(tmp_path / "r.biom", data=[0.5, 0.25, 0.5, 0.25])
    with pytest.raises(ValidationError, match="whole numbers"):
        read_table(path, kind="counts")


@pytest.mark.parametrize("bad, word", [(-1.0, "≥ 0"), (np.nan, "finite"), (np.inf, "finite")])
def test_bad_values_name_sample_and_feature(tmp_path, bad, word):
    path = small_biom(tmp_path / "bad.biom", data=[5.0, bad, 2.0, 7.0])
    with pytest.raises(ValidationError, match=rf"bad\.biom: sample 'S0', feature 'F1'.*{word}"):
        read_table(path)


def test_duplicate_ids(tmp_path):
    path = small_biom(tmp_path / "dup.biom", obs_ids=["F0", "F1", "F0"])
    with pytest.raises(ValidationError, match=r"dup\.biom: feature id 'F0' appears twice"):
        read_table(path)


def test_real_table_matches_biom_format(bundled):
    import biom

    path = bundled.table
    study = read_table(path)
    ref = biom.load_table(str(path))
    assert study.shape == (87, 2129)
    assert study.kind == "counts"
    assert study.sample_ids.tolist() == list(ref.ids(axis="sample"))
    assert study.feature_ids.tolist() == list(ref.ids(axis="observation"))
    assert study.counts.nnz == ref.nnz
    ref_dense = ref.matrix_data.T.toarray()  # samples × features
    np.testing.assert_array_equal(study.counts.toarray(), ref_dense)
    for sid in ("ERR1331798", "ERR1331812"):
        np.testing.assert_array_equal(study.to_dataframe().loc[sid].to_numpy(),
                                      ref.data(sid, axis="sample"))
    fid = ref.ids(axis="observation")[0]
    tax = ref.metadata(fid, axis="observation")["taxonomy"]
    assert tax[1] == "p__" + study.taxonomy.loc[fid, "phylum"]
    assert study.taxonomy.loc[fid, "species"] == tax[6][3:]


def test_json_sparse_and_dense(tmp_path):
    base = {
        "id": None, "format": "Biological Observation Matrix 1.0.0",
        "format_url": "http://biom-format.org", "type": "OTU table",
        "generated_by": "hand", "date": "2024-01-01T00:00:00",
        "rows": [{"id": "F0", "metadata": {"taxonomy": ["k__Bacteria", "p__Firmicutes"]}},
                 {"id": "F1", "metadata": {"taxonomy": "k__Bacteria; p__Bacteroidetes"}}],
        "columns": [{"id": "S0", "metadata": None}, {"id": "S1", "metadata": None}],
        "matrix_element_type": "int", "shape": [2, 2],
    }
    sparse = {**base, "matrix_type": "sparse", "data": [[0, 0, 3], [1, 1, 4], [0, 1, 1]]}
    dense = {**base, "matrix_type": "dense", "data": [[3, 1], [0, 4]]}
    for name, obj in (("s.json", sparse), ("d.json", dense)):
        path = tmp_path / name
        path.write_text(json.dumps(obj))
        study = read_table(path)
        assert study.provenance[0]["format"] == "biom-json"
        np.testing.assert_array_equal(study.counts.toarray(), [[3, 0], [1, 4]])
        assert study.taxonomy.loc["F1", "phylum"] == "Bacteroidetes"


def _json_base():
    return {"id": None, "format": "Biological Observation Matrix 1.0.0",
            "format_url": "http://biom-format.org", "type": "OTU table",
            "generated_by": "hand", "date": "2024-01-01T00:00:00",
            "rows": [{"id": "F0", "metadata": None}, {"id": "F1", "metadata": None}],
            "columns": [{"id": "S0", "metadata": None}, {"id": "S1", "metadata": None},
                        {"id": "S2", "metadata": None}],
            "matrix_element_type": "int", "shape": [2, 3]}


def test_json_without_matrix_type_is_read_as_biom_format_reads_it(tmp_path):
    """biom-format's Table.from_json reads a table without 'matrix_type' as sparse."""
    import biom

    obj = {**_json_base(), "data": [[0, 0, 3], [1, 1, 4], [0, 2, 1]]}
    path = tmp_path / "no-type.json"
    path.write_text(json.dumps(obj))
    study = read_table(path)
    reference = biom.Table.from_json(obj)
    np.testing.assert_array_equal(study.counts.toarray(), reference.matrix_data.T.toarray())
    assert study.sample_ids.tolist() == reference.ids().tolist()
    assert "no 'matrix_type' field: read as sparse" in " ".join(study.provenance[0]["notes"])
    # rows of three values per feature are dense rows, not [row, column, value] triples,
    # when there are not three samples ...
    two = {**_json_base(), "columns": _json_base()["columns"][:2], "shape": [2, 2],
           "data": [[3, 1], [0, 4]]}
    path.write_text(json.dumps(two))
    np.testing.assert_array_equal(read_table(path).counts.toarray(), [[3, 0], [1, 4]])
    # ... and with three samples the layout is biom-format's default, sparse
    three = {**_json_base(), "data": [[1, 1, 2], [1, 0, 5]]}
    path.write_text(json.dumps(three))
    np.testing.assert_array_equal(read_table(path).counts.toarray(),
                                  biom.Table.from_json(three).matrix_data.T.toarray())


@pytest.mark.parametrize("fmt", ["hdf5", "json"])
def test_an_empty_table_says_so(tmp_path, fmt):
    import biom

    table = biom.Table(np.zeros((0, 0)), [], [])
    path = tmp_path / f"empty.{fmt}"
    if fmt == "hdf5":
        with h5py.File(path, "w") as handle:
            table.to_hdf5(handle, "test")
    else:
        path.write_text(table.to_json("test"))
    with pytest.raises(FormatError, match=r"empty\.\w+: the table is empty \(0 features × 0 "
                                          r"samples\); a table with at least one sample and one "
                                          r"feature is needed"):
        read_table(path)


def test_write_biom_hdf5_and_json_read_back(tmp_path):
    study = read_table(small_biom(tmp_path / "in.biom", taxonomy=[
        "k__Bacteria; p__Firmicutes", "k__Bacteria", "Unassigned"]))
    for fmt in ("hdf5", "json"):
        out = tmp_path / f"out.{fmt}"
        write_biom(study, out, format=fmt)
        back = read_table(out)
        assert back.provenance[0]["format"] == f"biom-{fmt}"
        np.testing.assert_array_equal(back.counts.toarray(), study.counts.toarray())
        assert back.sample_ids.equals(study.sample_ids)
        assert back.taxonomy.equals(study.taxonomy)


def test_written_hdf5_is_read_by_biom_format(tmp_path):
    import biom

    study = Study(counts=np.array([[1, 0, 2], [0, 3, 0]]), sample_ids=["a", "b"],
                  feature_ids=["x", "y", "z"])
    out = tmp_path / "w.biom"
    write_biom(study, out)
    ref = biom.load_table(str(out))
    np.testing.assert_array_equal(ref.matrix_data.T.toarray(), [[1, 0, 2], [0, 3, 0]])
    with h5py.File(out) as f:
        assert list(f.attrs["shape"]) == [3, 2]
    out_json = tmp_path / "w.json"
    write_biom(study, out_json, format="json")
    ref_json = biom.load_table(str(out_json))
    np.testing.assert_array_equal(ref_json.matrix_data.T.toarray(), [[1, 0, 2], [0, 3, 0]])
    assert list(ref_json.ids(axis="sample")) == ["a", "b"]
