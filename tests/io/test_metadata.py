"""Sample metadata by the QIIME 2 rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gutaxis.exceptions import FormatError, SampleMismatchError, ValidationError
from gutaxis.io import read_metadata, read_table
from gutaxis.study import Study


def _write(tmp_path, text, name="md.tsv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_basic_types_and_missing(tmp_path):
    text = ("# a comment\n"
            "sample-id\tgroup\tage\tcrp\tnote\n"
            "#q2:types\tcategorical\tnumeric\t\tcategorical\n"
            "S1\tcase\t34\t1.5\t7\n"
            "# another comment\n"
            "S2\tcontrol\t\tNA\t\n"
            "\n"
            "S3\t  case  \t51\t2e-1\tx\n")
    md = read_metadata(_write(tmp_path, text))
    assert md.index.tolist() == ["S1", "S2", "S3"]
    assert md.index.name == "sample-id"
    assert md["group"].tolist() == ["case", "control", "case"]  # cells stripped
    assert md["age"].dtype == np.float64 and np.isnan(md.loc["S2", "age"])
    assert md["crp"].dtype == np.float64  # inferred; NA is missing
    assert md.loc["S3", "crp"] == pytest.approx(0.2)
    assert md["note"].dtype == object and md.loc["S2", "note"] is None
    assert md.loc["S1", "note"] == "7"  # declared categorical stays text
    assert md.attrs["column_types"] == {"group": "categorical", "age": "numeric",
                                        "crp": "numeric", "note": "categorical"}
    assert len(md.attrs["sha256"]) == 64


@pytest.mark.parametrize("header", ["id", "ID", "sampleid", "Sample ID", "sample-id",
                                    "featureid", "feature id", "Feature-ID", "#SampleID",
                                    "#Sample ID", "sample_name", "#OTU ID"])
def test_id_headers(tmp_path, header):
    md = read_metadata(_write(tmp_path, f"{header}\tx\nA\t1\n"))
    assert md.index.tolist() == ["A"] and md.index.name == header


@pytest.mark.parametrize("header", ["SampleName", "Sample_Name"])
def test_bad_id_header(tmp_path, header):
    with pytest.raises(FormatError, match=rf"md\.tsv: line 1: the first column is named "
                                          rf"'{header}'; it must name the id column"):
        read_metadata(_write(tmp_path, f"{header}\tx\nA\t1\n"))


def test_hash_header_in_wrong_case_is_a_comment(tmp_path):
    with pytest.raises(FormatError, match=r"line 2: the first column is named 'A'.*Line 1 "
                                          r"\('#sampleid'\.\.\.\) was skipped as a comment"):
        read_metadata(_write(tmp_path, "#sampleid\tx\nA\t1\n"))


def test_csv_accepted(tmp_path):
    md = read_metadata(_write(tmp_path, 'id,group,bmi\nA,"x, y",22.5\nB,z,\n', name="m.csv"))
    assert md.loc["A", "group"] == "x, y"
    assert np.isnan(md.loc["B", "bmi"])


def test_only_ids(tmp_path):
    md = read_metadata(_write(tmp_path, "id\nA\nB\n"))
    assert md.index.tolist() == ["A", "B"] and md.shape == (2, 0)


def test_duplicate_ids_name_lines(tmp_path):
    with pytest.raises(ValidationError, match=r"md\.tsv: line 4: id 'A' is a duplicate of line 2"):
        read_metadata(_write(tmp_path, "id\tx\nA\t1\nB\t2\nA\t3\n"))


def test_empty_id(tmp_path):
    with pytest.raises(ValidationError, match=r"line 3: the id cell is empty"):
        read_metadata(_write(tmp_path, "id\tx\nA\t1\n\t2\n"))


def test_duplicate_columns(tmp_path):
    with pytest.raises(ValidationError, match=r"line 1: column name 'x' appears more than once"):
        read_metadata(_write(tmp_path, "id\tx\tx\nA\t1\t2\n"))


def test_unnamed_column(tmp_path):
    with pytest.raises(ValidationError, match=r"line 1: column 2 of the header has no name"):
        read_metadata(_write(tmp_path, "id\t\ty\nA\t1\t2\n"))


def test_extra_cells(tmp_path):
    with pytest.raises(FormatError, match=r"line 2: 3 cells but the header has 2"):
        read_metadata(_write(tmp_path, "id\tx\nA\t1\t2\n"))


def test_declared_numeric_with_text(tmp_path):
    text = "id\tx\n#q2:types\tnumeric\nA\t1\nB\thigh\n"
    with pytest.raises(ValidationError, match=r"line 4: column 'x' is declared numeric but holds "
                                              r"'high'"):
        read_metadata(_write(tmp_path, text))


def test_unknown_type_and_directive(tmp_path):
    with pytest.raises(FormatError, match="column 'x' has type 'text'"):
        read_metadata(_write(tmp_path, "id\tx\n#q2:types\ttext\nA\t1\n"))
    with pytest.raises(FormatError, match="unknown directive '#q2:units'"):
        read_metadata(_write(tmp_path, "id\tx\n#q2:units\tmg\nA\t1\n"))
    with pytest.raises(FormatError, match="directive '#q2:types' among the data rows"):
        read_metadata(_write(tmp_path, "id\tx\nA\t1\n#q2:types\tnumeric\n"))


def test_missing_schemes(tmp_path):
    text = ("id\ta\tb\tc\n#q2:missing\tINSDC:missing\tblank\tno-missing\n"
            "A\tnot collected\tNA\t1\nB\t2\t3\t2\n")
    md = read_metadata(_write(tmp_path, text))
    assert np.isnan(md.loc["A", "a"]) and md["a"].dtype == np.float64
    assert md.loc["A", "b"] == "NA"  # blank scheme: only empty cells are missing
    bad = "id\tc\n#q2:missing\tno-missing\nA\t\n"
    with pytest.raises(ValidationError, match=r"line 3: column 'c' is declared no-missing"):
        read_metadata(_write(tmp_path, bad))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_is_explained(tmp_path, encoding):
    path = _write(tmp_path, "id\tx\nA\t1\n", encoding=encoding)
    with pytest.raises(FormatError, match=r"md\.tsv: .*UTF-16.*Excel"):
        read_metadata(path)


def test_latin1_is_explained(tmp_path):
    path = _write(tmp_path, "id\tx\nA\tcaf\u00e9\n", encoding="latin-1")
    with pytest.raises(FormatError, match=r"line 2: byte 0xe9 is not valid UTF-8"):
        read_metadata(path)


def test_semicolon_hint(tmp_path):
    with pytest.raises(FormatError, match="semicolon-separated"):
        read_metadata(_write(tmp_path, "id;x\nA;1\n"))


def test_no_rows(tmp_path):
    with pytest.raises(FormatError, match="no rows of ids"):
        read_metadata(_write(tmp_path, "id\tx\n# nothing\n"))


def test_bundled_metadata(bundled):
    path = bundled.metadata
    md = read_metadata(path)
    ref = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)  # independent parse
    assert md.shape == (88, ref.shape[1] - 1)
    assert md.index.tolist() == ref["#SampleID"].tolist()
    assert md["Subject"].value_counts().to_dict() == {"Patient": 49, "Control": 39}
    assert md["LPSpgml"].dtype == np.float64
    first = ref.iloc[0]
    assert md.loc[first["#SampleID"], "LPSpgml"] == float(first["LPSpgml"])
    assert md["LPSpgml"].isna().sum() == (ref["LPSpgml"] == "NA").sum()
    assert any("SampleID" in n for n in md.attrs["notes"])


def test_with_metadata_matching(tmp_path, bundled):
    study = read_table(bundled.table)
    md = read_metadata(bundled.metadata)
    joined = study.with_metadata(md)
    assert joined.n_samples == 87 and joined.samples.shape[0] == 87
    tiny = Study(counts=np.array([[1]]), sample_ids=["nobody"], feature_ids=["f"])
    with pytest.raises(SampleMismatchError, match="share 0 sample id"):
        tiny.with_metadata(md)


def test_r_write_table_metadata_gets_a_fix_in_the_message(tmp_path):
    path = tmp_path / "md.tsv"
    path.write_text('"diagnosis"\t"age"\n"S1"\t"CD"\t40\n"S2"\t"UC"\t33\n')
    with pytest.raises(FormatError, match=r"written by R's write\.table .* put 'sample-id' and "
                                          r"a tab at the start of the header line"):
        read_metadata(path)
