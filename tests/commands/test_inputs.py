"""How commands read their inputs (commands._inputs): orientation, overlap, up-front checks."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis.cli import app
from gutaxis.cohort import CohortParameters
from gutaxis.commands import AnalysisOptions, DiversityOptions, IndicesOptions, run_analysis
from gutaxis.commands._inputs import attach_tree, load_study, require
from gutaxis.exceptions import (
    InputError,
    NotFoundError,
    SampleMismatchError,
    ValidationError,
)
from gutaxis.study import Study

runner = CliRunner()

SPECIES = ["Bacteroides_vulgatus", "Prevotella_copri", "Faecalibacterium_prausnitzii",
           "Eubacterium_rectale"]
SAMPLES = [f"CSM{i}" for i in range(1, 7)]
#: samples in rows, as HMP2's HMP2_taxonomy.tsv: six samples × four species
COUNTS = np.array([[5, 0, 3, 1], [0, 2, 2, 2], [7, 1, 0, 0],
                   [1, 1, 1, 1], [0, 9, 4, 3], [2, 0, 0, 6]])


@pytest.fixture
def rows_table(tmp_path):
    """A samples-in-rows table whose shape alone says 'features in rows' (6 rows > 4 columns)."""
    frame = pd.DataFrame(COUNTS, index=pd.Index(SAMPLES, name="External ID"), columns=SPECIES)
    path = tmp_path / "HMP2_taxonomy.tsv"
    frame.to_csv(path, sep="\t")
    metadata = tmp_path / "md.tsv"
    pd.DataFrame({"diagnosis": ["CD", "UC", "nonIBD", "CD", "UC", "nonIBD"],
                  "age": [30, 41, 25, 60, 33, 47]},
                 index=pd.Index(SAMPLES, name="sample-id")).to_csv(metadata, sep="\t")
    return path, metadata


def test_metadata_ids_decide_the_orientation(rows_table, caplog):
    table, metadata = rows_table
    # without metadata the shape decides, wrongly, and says so where a user sees it
    with caplog.at_level(logging.WARNING, logger="gutaxis"):
        alone, _ = load_study(DiversityOptions(table=table))
    assert alone.sample_ids.tolist() == SPECIES
    assert "give --transpose (samples in columns) or --no-transpose" in caplog.text
    # with metadata (the command line gave "share 0 sample ids" here before)
    with caplog.at_level(logging.INFO, logger="gutaxis"):
        study, _ = load_study(DiversityOptions(table=table, metadata=metadata))
    assert study.sample_ids.tolist() == SAMPLES
    assert study.feature_ids.tolist() == SPECIES
    np.testing.assert_array_equal(study.counts.toarray(), COUNTS)  # the file, as written
    assert study.samples["diagnosis"].tolist() == ["CD", "UC", "nonIBD", "CD", "UC", "nonIBD"]
    read = study.provenance[0]
    assert read["orientation"] == "samples x features"
    assert read["orientation_reason"] == "6 known sample ids are in the rows (0 in the columns)"
    assert "HMP2_taxonomy.tsv: read as samples x features (6 known sample ids" in caplog.text
    assert f"the known sample ids are those of --metadata {metadata}" in caplog.text


def test_an_explicit_orientation_wins_over_the_metadata(rows_table):
    table, metadata = rows_table
    with pytest.raises(SampleMismatchError, match=r"share 0 sample id\(s\)") as info:
        load_study(DiversityOptions(table=table, metadata=metadata, transpose=True))
    assert "The table was read as" not in str(info.value)  # the user chose it: no hint
    study, _ = load_study(DiversityOptions(table=table, metadata=metadata, transpose=False))
    assert study.sample_ids.tolist() == SAMPLES


def test_a_mismatch_says_how_the_table_was_read(tmp_path, rows_table):
    table, _ = rows_table
    other = tmp_path / "other.tsv"
    other.write_text("sample-id\tage\nX1\t3\nX2\t4\n")
    with pytest.raises(SampleMismatchError,
                       match=r"The table was read as features x samples \(more rows \(6\) than "
                             r"columns \(4\); features usually outnumber samples\); neither its "
                             r"row ids nor its column names are the metadata's sample ids\.$"):
        load_study(DiversityOptions(table=table, metadata=other))


def _cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("command, extra, after_reading", [
    (["diversity"], ["--metrics", "observed_features"], None),
    (["analyze"], ["--group", "diagnosis"], "needs the features' taxonomy"),
    (["reference", "build"], ["--name", "r", "--min-reads", "0"],
     "needs the features' taxonomy"),
    (["profile"], ["--sample", "CSM1", "--reference", "REF", "--no-pdf"],
     "reference.json: missing"),
])
def test_transpose_reaches_the_reader_of_every_command(tmp_path, rows_table, command, extra,
                                                       after_reading):
    """--transpose forces samples in columns (wrong here), --no-transpose samples in rows."""
    table, metadata = rows_table
    (tmp_path / "REF").mkdir()
    extra = [str(tmp_path / "REF") if e == "REF" else e for e in extra]
    wrong = _cli(*command, table, "--metadata", metadata, *extra, "--transpose",
                 "--out", tmp_path / "a")
    assert wrong.exit_code != 0
    assert "share 0 sample id(s)" in str(wrong.exception)
    assert "Only in the table (4): 'Bacteroides_vulgatus'" in str(wrong.exception)
    right = _cli(*command, table, "--metadata", metadata, *extra, "--no-transpose",
                 "--out", tmp_path / "b")
    if after_reading is None:
        assert right.exit_code == 0, right.output
        alpha = pd.read_csv(tmp_path / "b" / "alpha.tsv", sep="\t", index_col=0)
        assert alpha.index.tolist() == SAMPLES
        np.testing.assert_array_equal(alpha["observed_features"], (COUNTS > 0).sum(axis=1))
    else:  # read in the right orientation, then stopped by the next check
        assert "share 0" not in str(right.exception)
        assert after_reading in str(right.exception)


def test_indices_transpose(tmp_path, rows_table):
    table, _ = rows_table  # gutaxis indices takes no metadata: the flag alone decides
    for flag, samples in (("--no-transpose", SAMPLES), ("--transpose", SPECIES)):
        out = tmp_path / flag
        result = _cli("indices", table, flag, "--out", out)
        assert result.exit_code == 0, result.output
        assert pd.read_csv(out / "indices.tsv", sep="\t")["sample_id"].tolist() == samples


def _taxonomy(path, ids):
    path.write_text("Feature ID\tTaxon\n" + "".join(
        f"{i}\tk__Bacteria; p__Firmicutes; c__Clostridia; g__G{n}\n" for n, i in enumerate(ids)))
    return path


def test_a_taxonomy_of_other_features_is_refused(tmp_path, rows_table):
    table, metadata = rows_table
    tax = _taxonomy(tmp_path / "tax.tsv", [f"otu{i}" for i in range(820)])
    with pytest.raises(ValidationError) as info:
        load_study(DiversityOptions(table=table, metadata=metadata, taxonomy=tax))
    assert str(info.value) == (
        f"--taxonomy {tax} names 0 of the 4 features of the table {table} (at least 50% are "
        "needed); table features such as 'Bacteroides_vulgatus', 'Prevotella_copri', "
        "'Faecalibacterium_prausnitzii'; taxonomy ids such as 'otu0', 'otu1', 'otu2'. Give the "
        "taxonomy made for this table (the same feature ids: ASV sequences, MD5 hashes or OTU "
        "names)")
    # one of four named: still too few
    with pytest.raises(ValidationError, match=r"names 1 of the 4 features.*; the taxonomy has "
                                              r"no other ids\. Give"):
        load_study(DiversityOptions(table=table, metadata=metadata,
                                    taxonomy=_taxonomy(tmp_path / "t1.tsv", SPECIES[:1])))


def test_a_taxonomy_missing_a_few_features_is_accepted_and_logged(tmp_path, rows_table, caplog):
    table, metadata = rows_table
    tax = _taxonomy(tmp_path / "tax.tsv", [*SPECIES[:3], "extra"])
    with caplog.at_level(logging.WARNING, logger="gutaxis"):
        study, inputs = load_study(DiversityOptions(table=table, metadata=metadata,
                                                    taxonomy=tax))
    assert "names 3 of the 4 features" in caplog.text
    assert "the other 1 count as unassigned" in caplog.text
    assert study.taxonomy.loc[SPECIES[2], "genus"] == "G2"
    assert study.taxonomy.loc[SPECIES[3]].isna().all()
    assert [i["role"] for i in inputs] == ["table", "taxonomy", "metadata"]


def test_taxonomy_ids_also_decide_the_orientation(tmp_path, rows_table):
    table, _ = rows_table
    study, _ = load_study(IndicesOptions(table=table,
                                         taxonomy=_taxonomy(tmp_path / "t.tsv", SPECIES)))
    assert study.sample_ids.tolist() == SAMPLES
    assert "4 known feature ids are in the columns" in study.provenance[0]["orientation_reason"]


def test_require_names_what_is_missing():
    s = Study(np.array([[1, 2]]), ["S1"], ["a", "b"],
              samples=pd.DataFrame({"Group": ["x"]}, index=["S1"]))
    with pytest.raises(InputError, match=r"^the thing needs the features' taxonomy, and the "
                                         r"table <memory> has none\. Give the taxonomy "
                                         r"\(--taxonomy FILE"):
        require(s, taxonomy_for="the thing")
    unassigned = s.replace(taxonomy=pd.DataFrame({"kingdom": [None, None]}, index=["a", "b"]))
    with pytest.raises(InputError, match="assigns no feature to any rank"):
        require(unassigned, taxonomy_for="the thing")
    with pytest.raises(NotFoundError, match=r"^1 --group metadata column\(s\) not found in the "
                                            r"sample metadata: 'group'; did you mean 'Group'\? "
                                            r"Available: Group$"):
        require(s, columns={"--group": ["group"]})
    require(s, columns={"--group": ["Group"], "--covariates": []})  # all there: no error


def test_analyze_checks_taxonomy_and_columns_before_any_step(tmp_path, rows_table):
    """gutaxis analyze without a taxonomy used to fail after ~24 s of diversity."""
    table, metadata = rows_table
    steps = []

    def on_step(label, done, total):
        steps.append(label)

    options = AnalysisOptions(table=table, metadata=metadata,
                              parameters=CohortParameters("diagnosis"))
    with pytest.raises(InputError, match=r"^the analysis at rank genus \(composition, "
                                         r"differential abundance, classifiers\) needs the "
                                         r"features' taxonomy"):
        run_analysis(options, on_step=on_step)
    tax = _taxonomy(tmp_path / "tax.tsv", SPECIES)
    options = AnalysisOptions(table=table, metadata=metadata, taxonomy=tax,
                              parameters=CohortParameters("diagnosis", covariates=("Age",)))
    with pytest.raises(NotFoundError, match=r"'Age'; did you mean 'age'\?"):
        run_analysis(options, on_step=on_step)
    options = AnalysisOptions(table=table, metadata=metadata, taxonomy=tax,
                              parameters=CohortParameters("diagnosis", subject="person"))
    with pytest.raises(NotFoundError, match=r"^1 --subject metadata column\(s\) not found in "
                                            r"the sample metadata \S*md.tsv: 'person'"):
        run_analysis(options, on_step=on_step)
    assert steps == []  # stopped before the first step (the tree, the diversity)


def test_a_user_tree_is_checked_when_attached(tmp_path):
    s = Study(np.array([[1, 2, 3]]), ["S1"], ["a", "b", "c"])
    missing = tmp_path / "missing.nwk"
    missing.write_text("((a:1,b:1):1,d:1);\n")
    with pytest.raises(NotFoundError, match=rf"1 feature id\(s\) not found in the tips of "
                                            rf"--tree {missing}: 'c'"):
        attach_tree(s, missing, cache_dir=None, threads=1)
    unrooted = tmp_path / "unrooted.nwk"
    unrooted.write_text("(a:1,b:1,c:1);\n")
    with pytest.raises(InputError, match=r"--tree .*unrooted\.nwk: the root has 3 children, so "
                                         r"the tree is unrooted.*qiime phylogeny midpoint-root"):
        attach_tree(s, unrooted, cache_dir=None, threads=1)
    bad = tmp_path / "bad.nwk"
    bad.write_text("((a:1,b:1);\n")
    with pytest.raises(InputError, match=r"^--tree "):
        attach_tree(s, bad, cache_dir=None, threads=1)
    rooted = tmp_path / "rooted.nwk"
    rooted.write_text("((a:1,b:1):1,c:2);\n")
    assert attach_tree(s, rooted, cache_dir=None, threads=1).tree.n_tips == 3
