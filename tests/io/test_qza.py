"""QIIME 2 artifacts read from the zip, one test per supported type."""

from __future__ import annotations

import numpy as np
import pytest

from builders.io import UUID, biom_bytes, make_qza
from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.io import (
    QzaArtifact,
    is_qza,
    read_lsmat,
    read_qza,
    read_sequences,
    read_table,
    read_taxonomy,
)
from gutaxis.tree import Tree


def test_frequency_table(tmp_path):
    path = make_qza(tmp_path / "table.qza", "FeatureTable[Frequency]",
                    {"data/feature-table.biom": biom_bytes(tmp_path)}, fmt="BIOMV210DirFmt")
    assert is_qza(path)
    artifact = read_qza(path)
    assert isinstance(artifact, QzaArtifact)
    assert (artifact.type, artifact.uuid, artifact.format) == (
        "FeatureTable[Frequency]", UUID, "BIOMV210DirFmt")
    study = artifact.value
    np.testing.assert_array_equal(study.counts.toarray(), [[5, 1, 0], [0, 2, 7]])
    assert study.kind == "counts"
    rec = study.provenance[0]
    assert rec["format"] == "qza" and rec["path"] == str(path)
    assert rec["artifact_uuid"] == UUID and rec["member"].endswith("data/feature-table.biom")
    assert rec["sha256"] == artifact.sha256
    same = read_table(path)  # sniffed by content, dispatched by type
    np.testing.assert_array_equal(same.counts.toarray(), study.counts.toarray())


def test_frequency_table_must_hold_integers(tmp_path):
    path = make_qza(tmp_path / "table.qza", "FeatureTable[Frequency]",
                    {"data/feature-table.biom": biom_bytes(tmp_path, data=[0.5, 1, 2, 3])})
    with pytest.raises(ValidationError, match=r"table\.qza:data/feature-table\.biom: the file "
                                              r"declares read counts \(a frequency table\), but "
                                              r"sample 'S0', feature 'F0' is 0\.5; counts are "
                                              r"whole numbers\. A table of relative abundances "
                                              r"is a FeatureTable\[RelativeFrequency\]"):
        read_table(path)
    assert read_table(path, kind="relative").kind == "relative"


def test_relative_frequency_table(tmp_path):
    data = biom_bytes(tmp_path, data=[1.0, 0.5, 0.5, 1.0])
    path = make_qza(tmp_path / "rel.qza", "FeatureTable[RelativeFrequency]",
                    {"data/feature-table.biom": data})
    study = read_table(path)
    assert study.kind == "relative"  # even though these values are whole numbers here and there


def test_taxonomy(tmp_path):
    tsv = (b"Feature ID\tTaxon\tConfidence\n"
           b"a1\td__Bacteria; p__Firmicutes; c__Clostridia\t0.99\n"
           b"a2\tUnassigned\t0.5\n")
    path = make_qza(tmp_path / "tax.qza", "FeatureData[Taxonomy]", {"data/taxonomy.tsv": tsv})
    tax = read_qza(path).value
    assert tax.loc["a1", "kingdom"] == "Bacteria" and tax.loc["a1", "class"] == "Clostridia"
    assert tax.loc["a2"].isna().all()
    assert read_taxonomy(path).equals(tax)


def test_sequences(tmp_path):
    fasta = b">a1\nACGTACGT\nNNAC\n>a2\nTTTT\n"
    path = make_qza(tmp_path / "seq.qza", "FeatureData[Sequence]",
                    {"data/dna-sequences.fasta": fasta})
    seqs = read_sequences(path)
    assert seqs.to_dict() == {"a1": "ACGTACGTNNAC", "a2": "TTTT"}


def test_alpha_diversity_with_properties(tmp_path):
    tsv = b"sample-id\tfaith_pd\nS1\t3.5\nS2\t4.25\n"
    path = make_qza(tmp_path / "alpha.qza",
                    "SampleData[AlphaDiversity] % Properties('phylogenetic')",
                    {"data/alpha-diversity.tsv": tsv})
    artifact = read_qza(path)
    assert artifact.base_type == "SampleData[AlphaDiversity]"
    assert artifact.value.name == "faith_pd"
    assert artifact.value.to_dict() == {"S1": 3.5, "S2": 4.25}


def test_distance_matrix(tmp_path):
    tsv = b"\tS1\tS2\tS3\nS1\t0.0\t0.5\t0.25\nS2\t0.5\t0.0\t1.0\nS3\t0.25\t1.0\t0.0\n"
    path = make_qza(tmp_path / "dm.qza", "DistanceMatrix", {"data/distance-matrix.tsv": tsv})
    dm = read_lsmat(path)
    assert isinstance(dm, DistanceMatrix)
    assert dm.ids.tolist() == ["S1", "S2", "S3"]
    assert dm.data[0, 2] == 0.25


def test_rooted_phylogeny(tmp_path):
    path = make_qza(tmp_path / "tree.qza", "Phylogeny[Rooted]",
                    {"data/tree.nwk": b"((a:1,b:2):0.5,c:3);\n"})
    value = read_qza(path).value
    assert isinstance(value, Tree)
    assert list(value.tip_names) == ["a", "b", "c"]


def test_read_table_on_taxonomy_artifact_says_what_to_use(tmp_path):
    path = make_qza(tmp_path / "tax.qza", "FeatureData[Taxonomy]",
                    {"data/taxonomy.tsv": b"Feature ID\tTaxon\na\tk__B\n"})
    with pytest.raises(FormatError, match=r"holds FeatureData\[Taxonomy\], not a feature table; "
                                          r"it is the feature taxonomy: give it with --taxonomy, "
                                          r"and the feature table as TABLE$"):
        read_table(path)
    tree = make_qza(tmp_path / "tree.qza", "Phylogeny[Rooted]", {"data/tree.nwk": b"(a:1,b:2);"})
    with pytest.raises(FormatError, match=r"it is a tree: give it with --tree"):
        read_table(tree)
    dm = make_qza(tmp_path / "dm.qza", "DistanceMatrix",
                  {"data/distance-matrix.tsv": b"\ta\na\t0\n"})
    with pytest.raises(FormatError, match=r"holds DistanceMatrix, not a feature table; the table "
                                          r"must be a FeatureTable\[Frequency\] or "
                                          r"FeatureTable\[RelativeFrequency\] artifact$"):
        read_table(dm)


def test_wrong_type_for_helper(tmp_path):
    path = make_qza(tmp_path / "tax.qza", "FeatureData[Taxonomy]",
                    {"data/taxonomy.tsv": b"Feature ID\tTaxon\na\tk__B\n"})
    with pytest.raises(FormatError, match=r"expected a DistanceMatrix artifact"):
        read_lsmat(path)


def test_missing_data_member(tmp_path):
    path = make_qza(tmp_path / "t.qza", "FeatureTable[Frequency]", {"data/other.biom": b"x"})
    with pytest.raises(FormatError, match=r"data/feature-table\.biom' is missing"):
        read_table(path)


def test_error_inside_member_names_member(tmp_path):
    path = make_qza(tmp_path / "seq.qza", "FeatureData[Sequence]",
                    {"data/dna-sequences.fasta": b">a\nACGU\n"})
    with pytest.raises(FormatError, match=r"seq\.qza:data/dna-sequences\.fasta: line 2: "
                                          r"character 'U'"):
        read_sequences(path)


def test_is_qza_false_for_text(tmp_path):
    path = tmp_path / "x.qza"
    path.write_text("not a zip")
    assert not is_qza(path)


def test_the_data_file_is_checked_against_checksums_md5(tmp_path):
    import hashlib
    import warnings

    from gutaxis.exceptions import ArtifactChecksumWarning

    data = biom_bytes(tmp_path)
    good = hashlib.md5(data).hexdigest()
    states = {}
    for name, lines in (("verified", f"{good}  data/feature-table.biom\n"),
                        ("mismatch", "deadbeef" * 4 + "  data/feature-table.biom\n"),
                        ("not listed", f"{good}  data/other.biom\n"),
                        ("no checksums", None)):
        files = {"data/feature-table.biom": data}
        if lines is not None:
            files["checksums.md5"] = (f"{'0' * 32}  VERSION\n" + lines).encode()
        path = make_qza(tmp_path / f"{name.replace(' ', '-')}.qza", "FeatureTable[Frequency]",
                        files, fmt="BIOMV210DirFmt")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            study = read_table(path)
        states[name] = (study.provenance[0]["checksum"],
                        [str(w.message) for w in caught
                         if issubclass(w.category, ArtifactChecksumWarning)])
        np.testing.assert_array_equal(study.counts.toarray(), [[5, 1, 0], [0, 2, 7]])
    assert {k: v[0] for k, v in states.items()} == {
        "verified": "verified", "mismatch": "mismatch", "not listed": "not listed",
        "no checksums": "no checksums"}
    [message] = states["mismatch"][1]
    assert message == (f"{tmp_path / 'mismatch.qza'}: data/feature-table.biom does not match "
                       f"checksums.md5 (MD5 {good}, recorded {'deadbeef' * 4}): the artifact "
                       "was changed after it was written; its data are read as they are")
    assert all(not v[1] for k, v in states.items() if k != "mismatch")
