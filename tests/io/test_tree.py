"""Reading trees: Newick files and Phylogeny[Rooted] artifacts (gutaxis.io.read_tree)."""

from __future__ import annotations

import hashlib

import pytest

from builders.io import make_qza
from gutaxis.exceptions import FormatError, UnsafeInputError
from gutaxis.io import read_tree


def test_a_newick_file_is_read_with_its_record(tmp_path):
    path = tmp_path / "tree.nwk"
    path.write_text("((A:1,B:2):0.5,C:3);\n")
    t = read_tree(path)
    assert t.source == str(path) and t.n_tips == 3
    assert list(t.tip_names) == ["A", "B", "C"]
    record = t.provenance
    assert record is not None
    assert record["format"] == "newick"
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["bytes"] == path.stat().st_size


def test_an_artifact_is_read_and_its_type_checked(tmp_path):
    path = make_qza(tmp_path / "tree.qza", "Phylogeny[Rooted]",
                    {"data/tree.nwk": b"((a:1,b:2):0.5,c:3);\n"})
    t = read_tree(path)
    assert t.n_tips == 3 and t.source.endswith("tree.qza:data/tree.nwk")
    assert t.provenance["format"] == "qza"
    assert t.provenance["artifact_type"] == "Phylogeny[Rooted]"
    other = make_qza(tmp_path / "tax.qza", "FeatureData[Taxonomy]",
                     {"data/taxonomy.tsv": b"Feature ID\tTaxon\na\tk__Bacteria\n"})
    with pytest.raises(FormatError, match=r"expected a Phylogeny\[Rooted\] artifact; this one "
                                          r"holds FeatureData\[Taxonomy\]"):
        read_tree(other)


def test_bad_files_are_refused_with_the_position(tmp_path):
    path = tmp_path / "tree.nwk"
    path.write_text("((A:1,B:2):0.5,C:3;\n")
    with pytest.raises(FormatError, match=rf"^{path}: character 1 .*never closed"):
        read_tree(path)
    with pytest.raises(FormatError, match="cannot open"):
        read_tree(tmp_path / "absent.nwk")
    path.write_bytes(b"(\xff,B);")
    with pytest.raises(FormatError, match="not valid UTF-8"):
        read_tree(path)


def test_the_text_size_limit_applies(tmp_path, monkeypatch):
    path = tmp_path / "tree.nwk"
    path.write_text("((A:1,B:2):0.5,C:3);\n")
    monkeypatch.setenv("GUTAXIS_MAX_TEXT_BYTES", "10")
    with pytest.raises(UnsafeInputError, match="over the limit of 10 bytes"):
        read_tree(path)
