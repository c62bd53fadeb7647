"""mothur .shared tables (gutaxis.io._mothur) and mothur's .cons.taxonomy."""

from __future__ import annotations

import io
import logging

import numpy as np
import pandas as pd
import pytest

from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.io import read_table, read_taxonomy, sniff_format

#: Two OTU definitions, as mothur's make.shared writes them: the header names the OTUs of the
#: first label; the second label (0.03) has fewer OTUs and no header of its own.
SHARED = (
    "label\tGroup\tnumOtus\tOtu1\tOtu2\tOtu3\tOtu4\n"
    "0.01\tF3D0\t4\t10\t0\t4\t1\n"
    "0.01\tF3D1\t4\t2\t7\t0\t0\n"
    "0.01\tF3D2\t4\t0\t1\t1\t9\n"
    "0.03\tF3D0\t2\t14\t1\n"
    "0.03\tF3D1\t2\t9\t0\n"
    "0.03\tF3D2\t2\t1\t10\n"
)

CONS_TAXONOMY = (
    "OTU\tSize\tTaxonomy\n"
    "Otu1\t12\tBacteria(100);Bacteroidetes(100);Bacteroidia(100);Bacteroidales(100);"
    "Porphyromonadaceae(100);Porphyromonadaceae_unclassified(100);\n"
    "Otu2\t8\tBacteria(100);Firmicutes(100);Clostridia(100);Clostridiales(100);"
    "Lachnospiraceae(99);Blautia(97);\n"
    "Otu3\t5\tBacteria(100);Firmicutes(100);Bacilli(100);Lactobacillales(100);"
    "Lactobacillaceae(100);Lactobacillus(100);\n"
    "Otu4\t10\tBacteria(100);unclassified(100);unclassified(100);unclassified(100);"
    "unclassified(100);unclassified(100);\n"
)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _block(text, label):
    """The independent reading: pandas on the rows of one label."""
    rows = [line.split("\t") for line in text.splitlines()[1:] if line.startswith(label + "\t")]
    return pd.DataFrame([[float(v) for v in r[3:]] for r in rows], index=[r[1] for r in rows])


def test_single_label_matches_pandas(tmp_path):
    text = SHARED.split("0.03")[0]  # the header and the 0.01 rows
    path = _write(tmp_path, "stability.opti_mcc.shared", text)
    assert sniff_format(path) == "mothur-shared"
    study = read_table(path)
    reference = pd.read_csv(io.StringIO(text), sep="\t", index_col="Group")
    assert study.sample_ids.tolist() == reference.index.tolist() == ["F3D0", "F3D1", "F3D2"]
    assert study.feature_ids.tolist() == ["Otu1", "Otu2", "Otu3", "Otu4"]
    np.testing.assert_array_equal(study.counts.toarray(),
                                  reference.drop(columns=["label", "numOtus"]).to_numpy())
    assert study.kind == "counts"
    record = study.provenance[0]
    assert record["format"] == "mothur-shared"
    assert record["mothur_label"] == "0.01" and record["mothur_labels"] == ["0.01"]


def test_the_first_label_by_default_named_in_the_log(tmp_path, caplog):
    path = _write(tmp_path, "final.shared", SHARED)
    with caplog.at_level(logging.WARNING, logger="gutaxis"):
        study = read_table(path)
    np.testing.assert_array_equal(study.counts.toarray(), _block(SHARED, "0.01").to_numpy())
    assert study.feature_ids.tolist() == ["Otu1", "Otu2", "Otu3", "Otu4"]
    assert "holds 2 OTU definitions (labels '0.01', '0.03'); read '0.01', the first" in \
        caplog.text
    # the paths as given, so that the command works from any folder
    assert (f"awk -F'\\t' 'NR==1 || $1==\"0.03\"' '{path}' > "
            f"'{tmp_path / 'final.0.03.shared'}'") in caplog.text
    assert study.provenance[0]["mothur_labels"] == ["0.01", "0.03"]
    assert "mothur label '0.01' read (the first of '0.01', '0.03')" in \
        study.provenance[0]["notes"]


def test_another_label_on_request(tmp_path):
    path = _write(tmp_path, "final.shared", SHARED)
    study = read_table(path, mothur_label="0.03")
    np.testing.assert_array_equal(study.counts.toarray(), _block(SHARED, "0.03").to_numpy())
    # the header names the first label's four OTUs: these two are named as mothur names them
    assert study.feature_ids.tolist() == ["Otu1", "Otu2"]
    assert any("OTU names made as mothur makes them" in n for n in study.provenance[0]["notes"])
    with pytest.raises(FormatError, match=r"final\.shared: label '0\.02' is not in the file; its "
                                          r"labels are '0\.01', '0\.03'$"):
        read_table(path, mothur_label="0.02")


def test_a_label_in_two_blocks_is_ambiguous(tmp_path):
    text = SHARED + "0.01\tF3D3\t4\t1\t1\t1\t1\n"
    path = _write(tmp_path, "x.shared", text)
    with pytest.raises(FormatError, match=r"x\.shared: line 8: label '0\.01' appears again after "
                                          r"label '0\.03'.*\(labels: 0\.01, 0\.03\)"):
        read_table(path)


@pytest.mark.parametrize("row, message", [
    ("0.01\tF3D3\t4\t1\t1\t1\n", r"line 5: numOtus is 4 but the row has 3 value\(s\)"),
    ("0.01\tF3D3\t4\t1\tx\t1\t1\n", r"line 5, value 2 \(sample 'F3D3'\): expected a number "
                                    r"\(count\); found 'x'"),
    ("0.01\tF3D3\t3\t1\t1\t1\n", r"line 5: numOtus is 3 but the first row of label '0\.01' "
                                 r"\(line 2\) has 4"),
    ("0.01\tF3D3\tfour\t1\t1\t1\t1\n", r"line 5: expected a mothur \.shared row"),
])
def test_malformed_rows_name_their_line(tmp_path, row, message):
    head = SHARED.split("0.03")[0]
    path = _write(tmp_path, "m.shared", head + row)
    with pytest.raises(FormatError, match=message):
        read_table(path)


def test_a_sample_twice_under_one_label(tmp_path):
    path = _write(tmp_path, "d.shared", SHARED.split("0.03")[0] + "0.01\tF3D1\t4\t1\t1\t1\t1\n")
    with pytest.raises(ValidationError, match=r"line 5: sample 'F3D1' appears twice under label "
                                              r"'0\.01' \(also line 3\)"):
        read_table(path)


def test_headerless_shared_is_told_by_its_extension(tmp_path):
    body = "".join(line + "\n" for line in SHARED.splitlines()[1:4])
    path = _write(tmp_path, "old.shared", body)
    assert sniff_format(path) == "mothur-shared"
    study = read_table(path)
    assert study.sample_ids.tolist() == ["F3D0", "F3D1", "F3D2"]
    assert study.feature_ids.tolist() == ["Otu1", "Otu2", "Otu3", "Otu4"]
    np.testing.assert_array_equal(study.counts.toarray(), _block(SHARED, "0.01").to_numpy())
    # the same lines under another name are not taken for a mothur file
    assert sniff_format(_write(tmp_path, "old.txt", body)) == "tsv"


def test_cons_taxonomy_with_the_shared_table(tmp_path):
    table = read_table(_write(tmp_path, "final.shared", SHARED))
    tax = read_taxonomy(_write(tmp_path, "final.cons.taxonomy", CONS_TAXONOMY))
    assert tax.index.tolist() == table.feature_ids.tolist()
    assert tax.loc["Otu2"].tolist() == ["Bacteria", "Firmicutes", "Clostridia", "Clostridiales",
                                        "Lachnospiraceae", "Blautia", None]
    # mothur's "<parent>_unclassified" and "unclassified" levels are unassigned
    assert tax.loc["Otu1", "family"] == "Porphyromonadaceae" and tax.loc["Otu1", "genus"] is None
    assert tax.loc["Otu4", "kingdom"] == "Bacteria" and tax.loc["Otu4"].iloc[1:].isna().all()
    assert tax.attrs["provenance"]["format"] == "taxonomy-tsv"


def test_mothur_ends_every_line_with_a_tab(tmp_path):
    path = tmp_path / "x.shared"
    path.write_text("label\tGroup\tnumOtus\tOtu1\tOtu2\t\n0.03\tA\t2\t5\t0\t\n0.03\tB\t2\t1\t7\t\n")
    study = read_table(path)
    assert list(study.sample_ids) == ["A", "B"] and list(study.feature_ids) == ["Otu1", "Otu2"]
    np.testing.assert_array_equal(study.counts.toarray(), [[5, 0], [1, 7]])


def test_a_shared_file_holds_whole_counts(tmp_path):
    path = tmp_path / "x.shared"
    path.write_text("label\tGroup\tnumOtus\tOtu1\tOtu2\n0.03\tA\t2\t5\t0\n0.03\tB\t2\t1\t2.5\n")
    with pytest.raises(FormatError, match=r"x.shared: line 3, value 2 \(sample 'B'\): a .shared "
                                          r"file holds read counts, whole numbers; found '2.5'"):
        read_table(path)
