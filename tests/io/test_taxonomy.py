"""Taxonomy strings of every flavour → rank columns."""

from __future__ import annotations

import pandas as pd
import pytest

from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.io import parse_taxonomy, read_taxonomy
from gutaxis.study import RANKS


def _row(text):
    return parse_taxonomy([text]).iloc[0].tolist()


def test_greengenes_with_empty_ranks():
    assert _row("k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; "
                "f__Lachnospiraceae; g__; s__") == [
        "Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae", None, None]


def test_silva_138_and_gtdb_domain_is_kingdom():
    assert _row("d__Bacteria; p__Bacteroidota; c__Bacteroidia; o__Bacteroidales; "
                "f__Bacteroidaceae; g__Bacteroides; s__Bacteroides_fragilis")[0] == "Bacteria"
    gtdb = _row("d__Archaea;p__Methanobacteriota;c__Methanobacteria;o__Methanobacteriales;"
                "f__Methanobacteriaceae;g__Methanobrevibacter;s__Methanobrevibacter smithii")
    assert gtdb[0] == "Archaea" and gtdb[6] == "Methanobrevibacter smithii"


def test_silva_132_numbered_levels():
    assert _row("D_0__Bacteria;D_1__Firmicutes;D_2__Bacilli")[:4] == [
        "Bacteria", "Firmicutes", "Bacilli", None]


def test_metaphlan_path_drops_strain():
    row = _row("k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Oscillospiraceae|"
               "g__Faecalibacterium|s__Faecalibacterium_prausnitzii|t__SGB15318")
    assert row == ["Bacteria", "Firmicutes", "Clostridia", "Eubacteriales", "Oscillospiraceae",
                   "Faecalibacterium", "Faecalibacterium_prausnitzii"]


def test_species_only_goes_to_species():
    assert _row("s__Bacteroides_vulgatus") == [None] * 6 + ["Bacteroides_vulgatus"]


def test_plain_names_by_position():
    assert _row("Bacteria;Firmicutes;Bacilli") == ["Bacteria", "Firmicutes", "Bacilli",
                                                   None, None, None, None]


@pytest.mark.parametrize("text", ["Unassigned", "", None, float("nan"), "k__; p__", "Unknown"])
def test_unassigned(text):
    assert _row(text) == [None] * 7


def test_list_input_and_brackets_kept():
    frame = parse_taxonomy([["k__Bacteria", "p__Firmicutes", "c__Clostridia", "o__Clostridiales",
                             "f__Ruminococcaceae", "g__[Ruminococcus]", "s__gnavus"]],
                           index=["a"])
    assert frame.loc["a", "genus"] == "[Ruminococcus]"
    assert list(frame.columns) == list(RANKS)


def test_series_keeps_index():
    frame = parse_taxonomy(pd.Series(["k__A", "k__B"], index=["x", "y"]))
    assert frame.index.tolist() == ["x", "y"] and frame.loc["y", "kingdom"] == "B"


def test_index_length_mismatch():
    with pytest.raises(ValidationError, match="2 annotations but 1 ids"):
        parse_taxonomy(["k__A", "k__B"], index=["x"])


def test_read_taxonomy_tsv(tmp_path):
    path = tmp_path / "taxonomy.tsv"
    path.write_text("Feature ID\tTaxon\tConfidence\n#q2:types\tcategorical\tnumeric\n"
                    "a\tk__Bacteria; p__Firmicutes\t0.9\nb\tUnassigned\t0.4\n")
    tax = read_taxonomy(path)
    assert tax.index.tolist() == ["a", "b"] and tax.loc["a", "phylum"] == "Firmicutes"


def test_read_taxonomy_headerless(tmp_path):
    path = tmp_path / "taxonomy.txt"
    path.write_text("a\tk__Bacteria; p__Firmicutes\nb\tk__Archaea\n")
    assert read_taxonomy(path).loc["b", "kingdom"] == "Archaea"


def test_read_taxonomy_duplicate(tmp_path):
    path = tmp_path / "taxonomy.tsv"
    path.write_text("Feature ID\tTaxon\na\tk__A\na\tk__B\n")
    with pytest.raises(ValidationError, match=r"taxonomy\.tsv: line 3: feature id 'a' already "
                                              r"given on line 2"):
        read_taxonomy(path)


def test_read_taxonomy_one_column(tmp_path):
    path = tmp_path / "taxonomy.tsv"
    path.write_text("Feature ID\tTaxon\na\n")
    with pytest.raises(FormatError, match="line 2: expected a feature id, a tab and a taxonomy"):
        read_taxonomy(path)


def test_read_taxonomy_records_provenance(tmp_path):
    path = tmp_path / "taxonomy.tsv"
    path.write_text("Feature ID\tTaxon\na\tk__A\n")
    rec = read_taxonomy(path).attrs["provenance"]
    assert rec["step"] == "read" and rec["path"] == str(path) and len(rec["sha256"]) == 64


@pytest.mark.parametrize("text, expected", [
    # RDP / QIIME 1: a leading "Root" level
    ("Root;Bacteria;Firmicutes;Clostridia", ["Bacteria", "Firmicutes", "Clostridia", None]),
    ("Root;k__Bacteria;p__Proteobacteria", ["Bacteria", "Proteobacteria", None, None]),
    # mothur classify.seqs: a bootstrap confidence after each level, a trailing ';'
    ("Bacteria(100);Firmicutes(98.5);Bacilli_unclassified(71);", ["Bacteria", "Firmicutes",
                                                                   None, None]),
    # a taxon named Root below the kingdom stays
    ("Bacteria;Root;X", ["Bacteria", "Root", "X", None]),
])
def test_other_tools_conventions(text, expected):
    frame = parse_taxonomy([text], index=["f"])
    assert frame.loc["f", ["kingdom", "phylum", "class", "order"]].tolist() == expected


def test_mothur_classify_seqs_taxonomy_without_header(tmp_path):
    path = tmp_path / "seqs.taxonomy"
    path.write_text("M00967_43_000000000-A3JHG_1_1101_10011_3881\t"
                    "Bacteria(100);Bacteroidetes(100);Bacteroidia(100);Bacteroidales(100);"
                    "Bacteroidaceae(100);Bacteroides(100);\n")
    tax = read_taxonomy(path)
    assert tax.iloc[0].tolist() == ["Bacteria", "Bacteroidetes", "Bacteroidia", "Bacteroidales",
                                    "Bacteroidaceae", "Bacteroides", None]


def test_metaphlan_unclassified_species_bins_stay():
    """mothur's unprefixed '…_unclassified' is unassigned; MetaPhlAn 2's s__ bin is a name."""
    assert _row("k__Bacteria|p__Firmicutes|g__Roseburia|s__Roseburia_unclassified")[6] == \
        "Roseburia_unclassified"
    assert _row("Bacteria;Firmicutes;Clostridia;Clostridiales;Lachnospiraceae;"
                "Lachnospiraceae_unclassified;")[5] is None


def test_a_header_without_a_taxonomy_column_is_refused_not_read_as_a_feature(tmp_path):
    path = tmp_path / "taxonomy.tsv"
    path.write_text("Feature ID\tNope\nA\tk__Bacteria\n")
    with pytest.raises(FormatError, match=r"taxonomy.tsv: line 1: the header names the id "
                                          r"column \('Feature ID'\) but no taxonomy column after "
                                          r"it; expected 'Taxon' \(QIIME 2\) or 'Taxonomy' "
                                          r"\(mothur\); found 'Nope'"):
        read_taxonomy(path)
