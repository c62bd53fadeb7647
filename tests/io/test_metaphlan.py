"""MetaPhlAn 2/3/4 profiles, single-sample and merged."""

from __future__ import annotations

import numpy as np
import pytest

from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.io import read_table, sniff_format

FP = ("k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|"
      "g__Faecalibacterium|s__Faecalibacterium_prausnitzii")
BV = ("k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|"
      "g__Bacteroides|s__Bacteroides_vulgatus")
UPPER = ["k__Bacteria", "k__Bacteria|p__Firmicutes", "k__Bacteria|p__Bacteroidetes"]


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_metaphlan3_single_sample(tmp_path):
    text = ("#mpa_v30_CHOCOPhlAn_201901\n#/usr/bin/metaphlan in.fq --input_type fastq\n"
            "#SampleID\tpatient_7\n"
            "#clade_name\tNCBI_tax_id\trelative_abundance\tadditional_species\n"
            "k__Bacteria\t2\t100.0\t\n"
            "k__Bacteria|p__Firmicutes\t2|1239\t60.0\t\n"
            "k__Bacteria|p__Bacteroidetes\t2|976\t40.0\t\n"
            f"{FP}\t2|1|2|3|4|5|853\t60.0\t\n"
            f"{BV}\t2|1|2|3|4|5|821\t40.0\tk__Bacteria|p__B|s__Bacteroides_dorei\n")
    path = _write(tmp_path, "p7.txt", text)
    assert sniff_format(path) == "metaphlan"
    study = read_table(path)
    assert study.sample_ids.tolist() == ["patient_7"]
    assert study.feature_ids.tolist() == ["s__Faecalibacterium_prausnitzii",
                                          "s__Bacteroides_vulgatus"]
    np.testing.assert_array_equal(study.counts.toarray(), [[60.0, 40.0]])
    assert study.kind == "relative"
    rec = study.provenance[0]
    assert rec["format"] == "metaphlan" and rec["level"] == "species"
    assert rec["scale"] == "percent" and rec["variant"] == "single-sample"
    tax = study.taxonomy.loc["s__Bacteroides_vulgatus"]
    assert tax["genus"] == "Bacteroides" and tax["family"] == "Bacteroidaceae"
    assert tax["species"] == "Bacteroides_vulgatus"


def test_metaphlan4_single_sample_drops_unclassified_and_strains(tmp_path):
    text = ("#mpa_vJan21_CHOCOPhlAnSGB_202103\n#/usr/bin/metaphlan x\n#8000 reads processed\n"
            "#SampleID\tMetaphlan_Analysis\n"
            "#clade_name\tNCBI_tax_id\trelative_abundance\tadditional_species\n"
            "UNCLASSIFIED\t-1\t10.0\t\n"
            "k__Bacteria\t2\t90.0\t\n"
            f"{FP}\t2|853\t50.0\t\n"
            f"{FP}|t__SGB15318\t2|853\t50.0\t\n"
            f"{BV}\t2|821\t40.0\t\n"
            f"{BV}|t__SGB1814\t2|821\t40.0\t\n")
    path = _write(tmp_path, "sampleA_profile.txt", text)
    study = read_table(path)
    assert study.sample_ids.tolist() == ["sampleA_profile"]  # default name → file stem
    assert study.n_features == 2
    np.testing.assert_array_equal(study.counts.toarray(), [[50.0, 40.0]])
    notes = " | ".join(study.provenance[0]["notes"])
    assert "dropped row 'UNCLASSIFIED'" in notes and "10% on average" in notes
    assert "kept the species level: 2 of 5" in notes
    assert "MetaPhlAn's default" in notes


def test_metaphlan2_single_sample_two_columns(tmp_path):
    text = ("#SampleID\tMetaphlan2_Analysis\n"
            "k__Bacteria\t100.0\n"
            "k__Bacteria|p__Firmicutes\t100.0\n"
            f"{FP}\t100.0\n")
    path = _write(tmp_path, "s9.tsv", text)
    study = read_table(path)
    assert study.sample_ids.tolist() == ["s9"]
    assert study.feature_ids.tolist() == ["s__Faecalibacterium_prausnitzii"]
    assert study.provenance[0]["variant"] == "single-sample"


def test_metaphlan3_merged_with_taxid(tmp_path):
    text = ("#mpa_v30_CHOCOPhlAn_201901\n"
            "clade_name\tNCBI_tax_id\tS1\tS2\n"
            "UNKNOWN\t-1\t5.0\t0.0\n"
            + "".join(f"{c}\t2\t95.0\t100.0\n" for c in UPPER[:1])
            + f"{FP}\t2|853\t55.0\t0.0\n{BV}\t2|821\t40.0\t100.0\n")
    study = read_table(_write(tmp_path, "merged.tsv", text))
    assert study.sample_ids.tolist() == ["S1", "S2"]
    np.testing.assert_array_equal(study.counts.toarray(), [[55.0, 40.0], [0.0, 100.0]])
    assert study.provenance[0]["variant"] == "merged"
    assert any("UNKNOWN" in n for n in study.provenance[0]["notes"])


def test_metaphlan2_merged_id_header_csv_with_bom(tmp_path):
    text = "ID,a,b\r\n" + "".join(f"{c},50,50\r\n" for c in (FP, BV))
    path = _write(tmp_path, "m.csv", "\ufeff" + text)
    study = read_table(path)
    assert study.sample_ids.tolist() == ["a", "b"]
    assert study.feature_ids.tolist() == ["s__Faecalibacterium_prausnitzii",
                                          "s__Bacteroides_vulgatus"]


def test_deepest_level_when_no_species(tmp_path):
    text = ("clade_name\tS1\n"
            "k__Bacteria\t100\n"
            "k__Bacteria|p__Firmicutes\t100\n"
            "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|"
            "g__Roseburia\t70\n"
            "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|"
            "g__Blautia\t30\n")
    study = read_table(_write(tmp_path, "g.tsv", text))
    assert study.provenance[0]["level"] == "genus"
    assert study.feature_ids.tolist() == ["g__Roseburia", "g__Blautia"]
    assert study.kind == "relative"  # MetaPhlAn is relative even with whole numbers


def test_fraction_scale_is_noted(tmp_path):
    text = f"clade_name\tS1\n{FP}\t0.6\n{BV}\t0.4\n"
    study = read_table(_write(tmp_path, "f.tsv", text))
    assert any("fractions" in n for n in study.provenance[0]["notes"])
    assert study.provenance[0]["scale"] == "percent"


def test_bad_clade_name_names_line(tmp_path):
    text = f"#mpa_v30\nclade_name\tS1\n{FP}\t60\nnot a clade\t40\n"
    with pytest.raises(FormatError, match=r"bad\.tsv: line 4: 'not a clade' is not a MetaPhlAn"):
        read_table(_write(tmp_path, "bad.tsv", text))


def test_negative_abundance(tmp_path):
    text = f"clade_name\tS1\n{FP}\t60\n{BV}\t-4\n"
    with pytest.raises(ValidationError, match=r"sample 'S1', feature 's__Bacteroides_vulgatus' "
                                              r"is -4\.0; abundances must be ≥ 0"):
        read_table(_write(tmp_path, "neg.tsv", text))


def test_non_numeric_abundance(tmp_path):
    text = f"clade_name\tS1\n{FP}\t60\n{BV}\tlots\n"
    with pytest.raises(FormatError, match=r"line 3, column 'S1': expected a number"):
        read_table(_write(tmp_path, "x.tsv", text))


def test_gmhi_example(gmhi_example):
    import pandas as pd

    path = gmhi_example
    study = read_table(path)
    assert study.shape == (25, 576)
    assert study.provenance[0]["format"] == "metaphlan"
    assert study.provenance[0]["scale"] == "percent"
    ref = pd.read_csv(path, index_col=0, encoding="utf-8-sig")  # independent parse
    assert study.sample_ids.tolist() == ref.columns.tolist()
    assert study.feature_ids.tolist() == ref.index.tolist()
    np.testing.assert_array_equal(study.counts.toarray(), ref.to_numpy().T)
    assert study.taxonomy.loc["s__Abiotrophia_defectiva", "species"] == "Abiotrophia_defectiva"


def test_a_clade_above_100_percent_is_refused_by_line_and_sample(tmp_path):
    text = ("#SampleID\tpatient_7\n"
            "#clade_name\tNCBI_tax_id\trelative_abundance\tadditional_species\n"
            "k__Bacteria\t2\t100.0\t\n"
            "k__Bacteria|p__Firmicutes\t2|1239\t600.0\t\n"
            f"{FP}\t2|1|2|3|4|5|853\t60.0\t\n")
    path = _write(tmp_path, "p7.txt", text)
    with pytest.raises(FormatError, match=r"p7.txt: line 4: 'k__Bacteria\|p__Firmicutes' has "
                                          r"600 % in sample 'patient_7'; a relative abundance "
                                          r"in percent is at most 100"):
        read_table(path)


def test_read_as_counts_a_value_above_100_is_a_count(tmp_path):
    text = ("#SampleID\tpatient_7\n"
            "#clade_name\tNCBI_tax_id\trelative_abundance\tadditional_species\n"
            f"{FP}\t2|1|2|3|4|5|853\t150\t\n"
            f"{BV}\t2|1|2|3|4|5|821\t40\t\n")
    study = read_table(_write(tmp_path, "c.txt", text), kind="counts")
    np.testing.assert_array_equal(study.counts.toarray(), [[150.0, 40.0]])
