"""Format detection by content."""

from __future__ import annotations

import json

import pytest

from builders.io import biom_bytes, make_qza, small_biom
from gutaxis.exceptions import FormatError
from gutaxis.io import sniff_format


def test_each_format_whatever_the_extension(tmp_path):
    cases = {
        "biom-hdf5": small_biom(tmp_path / "a.txt"),
        "qza": make_qza(tmp_path / "b.biom", "FeatureTable[Frequency]",
                        {"data/feature-table.biom": biom_bytes(tmp_path)}),
        "biom-json": tmp_path / "c.qza",
        "metaphlan": tmp_path / "d.biom",
        "tsv": tmp_path / "e.json",
    }
    cases["biom-json"].write_text(json.dumps({"shape": [0, 0]}))
    cases["metaphlan"].write_text("#mpa_v30_CHOCOPhlAn_201901\nclade_name\tS1\nk__Bacteria\t100\n")
    cases["tsv"].write_text("#OTU ID\tS1\nOTU1\t3\n")
    for expected, path in cases.items():
        assert sniff_format(path) == expected, path


def test_hdf5_with_user_block(tmp_path):
    import h5py

    path = tmp_path / "ub.h5"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["x"] = 1
    assert sniff_format(path) == "biom-hdf5"


def test_empty_file(tmp_path):
    path = tmp_path / "empty.tsv"
    path.write_bytes(b"")
    with pytest.raises(FormatError, match="the file is empty"):
        sniff_format(path)


def test_utf16_table(tmp_path):
    path = tmp_path / "u.tsv"
    path.write_bytes("#OTU ID\tS1\nOTU1\t3\n".encode("utf-16"))
    with pytest.raises(FormatError, match="UTF-16"):
        sniff_format(path)


def test_binary_with_nul_bytes_is_said_to_be_binary(tmp_path):
    path = tmp_path / "table.biom"
    path.write_bytes(b"\x89not hdf5\x00\x01\x02" * 50)
    with pytest.raises(FormatError, match=r"table\.biom: cannot tell the table.s format.*The "
                                          r"file is binary \(it holds NUL bytes\) but not one "
                                          r"of the binary forms"):
        sniff_format(path)


def test_binary_junk(tmp_path):
    path = tmp_path / "junk.bin"
    path.write_bytes(bytes(range(1, 200)) * 3)
    with pytest.raises(FormatError,
                       match=r"junk\.bin: cannot tell the table.s format.*not UTF-8 text"):
        sniff_format(path)
