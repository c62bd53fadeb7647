"""Plain TSV/CSV tables: orientation, taxonomy column, value checks, TSV writer."""

from __future__ import annotations

import numpy as np
import pytest

from gutaxis.exceptions import FormatError, InputError, ValidationError
from gutaxis.io import read_table, sniff_format, write_table_tsv
from gutaxis.io._plain import guess_orientation
from gutaxis.study import Study


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_biom_tsv_with_taxonomy(tmp_path):
    text = ("# Constructed from biom file\n"
            "#OTU ID\tS1\tS2\tS3\ttaxonomy\n"
            "OTU_1\t10\t0\t3\tk__Bacteria; p__Firmicutes; c__; o__; f__; g__; s__\n"
            "OTU_2\t0\t5\t1\tk__Bacteria; p__Bacteroidetes\n")
    path = _write(tmp_path, "t.tsv", text)
    assert sniff_format(path) == "tsv"
    study = read_table(path)
    assert study.sample_ids.tolist() == ["S1", "S2", "S3"]
    assert study.feature_ids.tolist() == ["OTU_1", "OTU_2"]
    np.testing.assert_array_equal(study.counts.toarray(), [[10, 0], [0, 5], [3, 1]])
    assert study.kind == "counts"
    assert study.taxonomy.loc["OTU_2", "phylum"] == "Bacteroidetes"
    assert study.taxonomy.loc["OTU_1", "class"] is None
    rec = study.provenance[0]
    assert rec["format"] == "tsv" and rec["orientation"] == "features x samples"
    assert "names features" in rec["orientation_reason"]


def test_samples_in_rows_csv(tmp_path):
    text = "SampleID,taxonA,taxonB\nP1,1,2\nP2,3,4\nP3,0,9\n"
    study = read_table(_write(tmp_path, "s.csv", text))
    assert study.sample_ids.tolist() == ["P1", "P2", "P3"]
    assert study.feature_ids.tolist() == ["taxonA", "taxonB"]
    assert study.provenance[0]["format"] == "csv"
    assert study.provenance[0]["orientation"] == "samples x features"


def test_transpose_overrides(tmp_path):
    text = "x\tA\tB\nr1\t1\t2\nr2\t3\t4\nr3\t5\t6\n"
    path = _write(tmp_path, "o.tsv", text)
    assert read_table(path).sample_ids.tolist() == ["A", "B"]  # more rows than columns
    assert read_table(path, transpose=False).sample_ids.tolist() == ["r1", "r2", "r3"]
    assert read_table(path, transpose=True).sample_ids.tolist() == ["A", "B"]
    assert "transpose=False" in read_table(path, transpose=False).provenance[0][
        "orientation_reason"]


def test_known_sample_ids_decide(tmp_path):
    text = "x\tA\tB\nr1\t1\t2\nr2\t3\t4\nr3\t5\t6\n"
    path = _write(tmp_path, "o.tsv", text)
    study = read_table(path, sample_ids=["r1", "r2", "r3", "r4"])
    assert study.sample_ids.tolist() == ["r1", "r2", "r3"]
    assert "3 known sample ids are in the rows" in study.provenance[0]["orientation_reason"]
    study = read_table(path, feature_ids=["A", "B"])
    assert study.sample_ids.tolist() == ["r1", "r2", "r3"]
    study = read_table(path, feature_ids=["r1"])
    assert study.sample_ids.tolist() == ["A", "B"]


def test_sequence_ids_in_columns(tmp_path):
    seqs = ["ACGT" * 10, "TTGA" * 10, "GGCA" * 10, "CATG" * 10]
    text = "x\t" + "\t".join(seqs) + "\ns1\t1\t2\t3\t4\ns2\t0\t0\t1\t1\n"
    study = read_table(_write(tmp_path, "q.tsv", text))
    assert study.sample_ids.tolist() == ["s1", "s2"]
    assert "look like feature ids" in study.provenance[0]["orientation_reason"]


@pytest.mark.parametrize("header, rows, cols, expected", [
    ("#OTU ID", ["a"], ["b", "c"], True),
    ("sample-id", ["a", "b", "c"], ["x"], False),
    ("", ["OTU_1", "OTU_2"], ["s1", "s2", "s3"], True),
    ("", ["s1", "s2"], ["ASV1", "ASV2", "ASV3"], False),
    ("", ["a", "b"], ["c", "d", "e"], False),
])
def test_guess_orientation(header, rows, cols, expected):
    assert guess_orientation(header, rows, cols)[0] is expected


def test_non_integer_values_are_relative(tmp_path):
    study = read_table(_write(tmp_path, "r.tsv", "#OTU ID\tS1\tS2\nf1\t0.25\t0.5\nf2\t0.75\t0.5\n"))
    assert study.kind == "relative"
    with pytest.raises(ValidationError, match="whole numbers"):
        read_table(tmp_path / "r.tsv", kind="counts")


def test_negative_count(tmp_path):
    path = _write(tmp_path, "n.tsv", "#OTU ID\tS1\tS2\nf1\t1\t-2\nf2\t3\t4\n")
    with pytest.raises(ValidationError, match=r"n\.tsv: sample 'S2', feature 'f1' is -2\.0; "
                                              r"abundances must be ≥ 0"):
        read_table(path)


def test_nan_count(tmp_path):
    path = _write(tmp_path, "n.tsv", "#OTU ID\tS1\tS2\nf1\t1\t2\nf2\tNaN\t4\n")
    with pytest.raises(ValidationError, match=r"sample 'S1', feature 'f2' is nan; abundances must "
                                              r"be finite"):
        read_table(path)


def test_text_cell_names_line_and_column(tmp_path):
    path = _write(tmp_path, "c.tsv", "#OTU ID\tS1\tS2\nf1\t1\t2\n\nf2\t3\tabc\n")
    with pytest.raises(FormatError, match=r"c\.tsv: line 4, column 'S2': expected a number "
                                          r"\(abundance\); found 'abc'"):
        read_table(path)


def test_empty_cell(tmp_path):
    path = _write(tmp_path, "e.tsv", "#OTU ID\tS1\tS2\tS3\nf1\t1\t\t4\n")
    with pytest.raises(FormatError, match="line 2, column 'S2'.*found an empty cell"):
        read_table(path)


def test_short_row_is_named_as_a_long_one_is(tmp_path):
    path = _write(tmp_path, "e.tsv", "#OTU ID\tS1\tS2\nf0\t1\t2\nf1\t1\n")
    with pytest.raises(FormatError, match=r"e\.tsv: line 3: expected 3 fields \(as in the header "
                                          r"on line 1\); found 2"):
        read_table(path)


def test_ragged_row(tmp_path):
    path = _write(tmp_path, "g.tsv", "#OTU ID\tS1\tS2\nf1\t1\t2\nf2\t1\t2\t3\t4\n")
    with pytest.raises(FormatError, match=r"g\.tsv: line 3: expected 3 fields .*found 5"):
        read_table(path)


def test_duplicate_sample_columns(tmp_path):
    path = _write(tmp_path, "d.tsv", "#OTU ID\tS1\tS1\nf1\t1\t2\n")
    with pytest.raises(ValidationError, match=r"line 1: duplicate column name\(s\) 'S1'"):
        read_table(path)


def test_duplicate_feature_rows(tmp_path):
    path = _write(tmp_path, "d.tsv", "#OTU ID\tS1\nf1\t1\nf1\t2\n")
    with pytest.raises(ValidationError, match="feature id 'f1' appears twice"):
        read_table(path)


def test_taxonomy_column_needs_features_in_rows(tmp_path):
    path = _write(tmp_path, "t.tsv", "id\tS1\ttaxonomy\nf1\t1\tk__B\n")
    with pytest.raises(FormatError, match="holds taxonomy, which needs features in rows"):
        read_table(path, transpose=False)


def test_unknown_format(tmp_path):
    path = _write(tmp_path, "x.dat", "just one column\nof words\n")
    with pytest.raises(FormatError, match=r"x\.dat: cannot tell the table's format\. Tried: "
                                          r"BIOM 2\.1 HDF5.*MetaPhlAn.*TSV/CSV.*its first "
                                          r"line after any comments is 'just one column', "
                                          r"with no tab or comma"):
        read_table(path)


def test_unknown_format_name(tmp_path):
    path = _write(tmp_path, "x.tsv", "#OTU ID\tS1\nf\t1\n")
    with pytest.raises(InputError, match="format must be one of"):
        read_table(path, format="xlsx")


def test_gzip_is_explained(tmp_path):
    import gzip

    path = tmp_path / "t.tsv.gz"
    path.write_bytes(gzip.compress(b"#OTU ID\tS1\nf\t1\n"))
    with pytest.raises(FormatError, match="gzip-compressed; decompress it first"):
        read_table(path)


def test_missing_file(tmp_path):
    with pytest.raises(FormatError, match="cannot open the file"):
        read_table(tmp_path / "nope.tsv")


def test_directory(tmp_path):
    with pytest.raises(FormatError, match="expected a regular file"):
        read_table(tmp_path)


def test_write_table_tsv_round_trip(tmp_path):
    import pandas as pd

    tax = pd.DataFrame({"kingdom": ["Bacteria", None], "phylum": ["Firmicutes", None]},
                       index=["f1", "f2"])
    from gutaxis.study import RANKS

    tax = tax.reindex(columns=list(RANKS)).astype(object)
    tax = tax.where(tax.notna(), None)
    study = Study(counts=np.array([[1, 0], [2, 30]]), sample_ids=["a", "b"],
                  feature_ids=["f1", "f2"], taxonomy=tax)
    out = tmp_path / "out.tsv"
    write_table_tsv(study, out)
    lines = out.read_text().splitlines()
    assert lines[0] == "# Constructed from biom file"
    assert lines[1] == "#OTU ID\ta\tb\ttaxonomy"
    assert lines[2].startswith("f1\t1\t2\tk__Bacteria; p__Firmicutes; c__")
    back = read_table(out)
    np.testing.assert_array_equal(back.counts.toarray(), study.counts.toarray())
    assert back.taxonomy.loc["f1", "phylum"] == "Firmicutes"
    assert back.taxonomy.loc["f2"].isna().all()


def test_write_table_tsv_refuses_tab_in_id(tmp_path):
    study = Study(counts=np.array([[1]]), sample_ids=["a\tb"], feature_ids=["f"])
    with pytest.raises(ValidationError, match="contains a tab or line break"):
        write_table_tsv(study, tmp_path / "x.tsv")


QIIME1_CLASSIC = (
    "# QIIME v1.3.0 OTU table\n"
    "#OTU ID\tPC.354\tPC.355\tPC.356\tPC.481\tConsensus Lineage\n"
    "0\t0\t0\t1\t4\tRoot;Bacteria;Firmicutes;Clostridia;Clostridiales\n"
    "1\t1\t0\t0\t0\tRoot;Bacteria;Bacteroidetes\n"
    "2\t0\t2\t5\t1\tk__Bacteria; p__Firmicutes; c__Bacilli; o__; f__; g__; s__\n"
    "3\t3\t7\t0\t2\tUnassigned\n")


@pytest.mark.parametrize("column", ["Consensus Lineage", "consensus lineage", "Taxonomy",
                                    "TAXONOMY"])
def test_qiime1_classic_otu_table_matches_biom_format(tmp_path, column):
    """The last column is the taxonomy, as biom-format's Table.from_tsv reads it."""
    import io

    from biom.table import Table

    text = QIIME1_CLASSIC.replace("Consensus Lineage", column)
    study = read_table(_write(tmp_path, "otu_table.txt", text))
    reference = Table.from_tsv(io.StringIO(text), None, None, lambda x: x)
    assert study.sample_ids.tolist() == reference.ids().tolist()
    assert study.feature_ids.tolist() == reference.ids(axis="observation").tolist()
    np.testing.assert_array_equal(study.counts.toarray(), reference.matrix_data.T.toarray())
    assert [md[column] for md in reference.metadata(axis="observation")][1] == \
        "Root;Bacteria;Bacteroidetes"
    tax = study.taxonomy
    # QIIME 1 / RDP's leading "Root" is no kingdom: the ranks start after it
    assert tax.loc["0", ["kingdom", "phylum", "class", "order"]].tolist() == \
        ["Bacteria", "Firmicutes", "Clostridia", "Clostridiales"]
    assert tax.loc["1", "phylum"] == "Bacteroidetes" and tax.loc["1", "class"] is None
    assert tax.loc["2", "class"] == "Bacilli" and tax.loc["2", "order"] is None
    assert tax.loc["3"].isna().all()
    assert study.provenance[0]["orientation"] == "features x samples"


def test_taxonomy_column_with_samples_in_rows_names_the_option(tmp_path):
    path = _write(tmp_path, "t.tsv", "SampleID\tf1\tf2\ttaxonomy\nS1\t1\t2\tk__B\n")
    with pytest.raises(FormatError, match=r"t\.tsv: column 'taxonomy' holds taxonomy, which needs "
                                          r"features in rows \(one taxonomy per row\); the table "
                                          r"was read with samples in rows \(the first header cell "
                                          r"'SampleID' names samples\)\. Give --transpose"):
        read_table(path)


def test_known_sample_ids_decide_for_a_samples_in_rows_table(tmp_path):
    """HMP2-like: samples in rows, more samples than taxa, nothing else to tell them apart."""
    samples = ["CSM5FZ3N", "CSM5FZ3R", "CSM5FZ3T", "CSM5FZ4A", "CSM5FZ4C"]
    text = "External ID\tBacteroides_vulgatus\tPrevotella_copri\n" + "".join(
        f"{s}\t{i}\t{2 * i + 1}\n" for i, s in enumerate(samples))
    path = _write(tmp_path, "HMP2_taxonomy.tsv", text)
    assert read_table(path).sample_ids.tolist() == ["Bacteroides_vulgatus", "Prevotella_copri"]
    study = read_table(path, sample_ids=[*samples[::-1], "other"])
    assert study.sample_ids.tolist() == samples
    np.testing.assert_array_equal(study.counts.toarray(), [[i, 2 * i + 1] for i in range(5)])
    assert study.provenance[0]["orientation_reason"] == \
        "5 known sample ids are in the rows (0 in the columns)"
    given = read_table(path, transpose=False).provenance[0]["orientation_reason"]
    assert given == "--no-transpose (transpose=False) was given"


def test_r_write_table_rows_start_with_their_name(tmp_path):
    """R's write.table: the header has no cell for the row names; nothing may shift."""
    import pandas as pd

    path = tmp_path / "HMP2_taxonomy.tsv"
    path.write_text('"Phocaeicola_vulgatus"\t"Faecalibacterium_prausnitzii"\t"Other"\n'
                    '"S1"\t0.5\t0.25\t0.25\n"S2"\t0.1\t0.6\t0.3\n"S3"\t0\t0.2\t0.8\n')
    study = read_table(path, transpose=False)
    expected = pd.read_csv(path, sep="\t")  # pandas reads R's layout as row names
    assert list(study.sample_ids) == ["S1", "S2", "S3"] == list(expected.index)
    assert list(study.feature_ids) == list(expected.columns)
    np.testing.assert_array_equal(study.counts.toarray(), expected.to_numpy())


def test_a_row_longer_than_the_header_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("#OTU ID\tS1\tS2\nF1\t1\t2\nF2\t3\t4\t5\nF3\t1\t1\n")
    with pytest.raises(FormatError, match=r"t.tsv: line 3: expected 3 fields \(as in the "
                                          r"header on line 1\); found 4"):
        read_table(path)


def test_qiime1_rows_without_a_lineage_and_columns_after_it_are_refused(tmp_path):
    header = "# QIIME v1 OTU table\n#OTU ID\tS1\tS2\tConsensus Lineage\n"
    path = tmp_path / "otus.txt"
    path.write_text(header + "1\t3\t0\tk__Bacteria;p__Firmicutes\n2\t1\t4\n")
    with pytest.raises(FormatError, match=r"otus.txt: line 4: the row has no 'Consensus "
                                          r"Lineage' cell \(its last value is a count\)"):
        read_table(path)
    path.write_text("#OTU ID\tS1\tS2\tConsensus Lineage\tTotal\n1\t3\t0\tk__B;p__F\t3\n")
    with pytest.raises(FormatError, match=r"column\(s\) 'Total' come after the taxonomy column "
                                          r"'Consensus Lineage'; it must be the last column"):
        read_table(path)


def test_a_distance_matrix_given_as_a_table_is_refused(tmp_path):
    # it was read as relative abundances, and every metric computed from it
    from gutaxis.distance import DistanceMatrix
    from gutaxis.io import write_distance

    dm = DistanceMatrix(["s1", "s2", "s3"], np.array([[0, 0.5, 0.25], [0.5, 0, 0.75],
                                                      [0.25, 0.75, 0]]), "braycurtis")
    path = write_distance(dm, tmp_path, "braycurtis", "tsv")["matrix"]
    with pytest.raises(FormatError, match=r"braycurtis\.tsv: this is a distance matrix \(the same "
                                          r"3 ids in the rows and the columns, 0 on the diagonal, "
                                          r"symmetric\), not an abundance table"):
        read_table(path)
    # a square abundance table with the same ids both ways is no distance matrix
    square = _write(tmp_path, "sq.tsv", "\ta\tb\na\t1\t2\nb\t3\t4\n")
    assert read_table(square).n_samples == 2
    reason = guess_orientation("", ["a", "b"], ["a", "b"])[1]
    assert reason.startswith("as many rows as columns (2)")


def test_a_file_of_another_kind_is_named_for_what_it_is(tmp_path):
    from gutaxis import io as gio

    tree = _write(tmp_path, "tree.nwk", "((a:1,b:2):0.5,c:1);\n")
    with pytest.raises(FormatError, match=r"tree\.nwk: this looks like a Newick tree .*give it "
                                          r"as --tree"):
        read_table(tree)
    table = gio.example_dataset().table  # a BIOM (HDF5) file
    with pytest.raises(FormatError, match=r"this is an HDF5 file \(a BIOM table\?\), not the tree "
                                          r"file"):
        gio.read_tree(table)
    artifact = tmp_path / "shannon.qza"
    import zipfile

    with zipfile.ZipFile(artifact, "w") as z:
        z.writestr("x/metadata.yaml", "type: SampleData[AlphaDiversity]\n")
    with pytest.raises(FormatError, match=r"shannon\.qza: this is a QIIME 2 artifact \(a zip "
                                          r"archive\), not the metadata file"):
        gio.read_metadata(artifact)
