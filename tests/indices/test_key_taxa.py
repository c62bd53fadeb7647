"""Key-taxa panel: each taxon at the deepest rank the data resolve."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutaxis import RANKS, Study
from gutaxis.indices import key_taxa, key_taxa_resolution
from gutaxis.io import read_table
from gutaxis.knowledge import load_taxa_catalog


def _tax(rows: list[tuple[str | None, ...]], ids: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, index=ids, columns=list(RANKS), dtype=object)
    return frame.where(frame.notna(), None)


def _genus_16s() -> Study:
    """A 16S-like table classified to genus (no species), Greengenes spellings."""
    ids = [f"asv{i}" for i in range(8)]
    tax = _tax([
        ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae",
         "Faecalibacterium", None),
        ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae",
         "Faecalibacterium", None),
        ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae",
         "Roseburia", None),
        ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae",
         "[Ruminococcus]", None),
        ("Bacteria", "Proteobacteria", "Gammaproteobacteria", "Enterobacteriales",
         "Enterobacteriaceae", "Escherichia", None),
        ("Bacteria", "Proteobacteria", "Gammaproteobacteria", "Enterobacteriales",
         "Enterobacteriaceae", None, None),
        ("Bacteria", "Proteobacteria", "Betaproteobacteria", "Burkholderiales",
         "Alcaligenaceae", "Sutterella", None),
        ("Bacteria", "Verrucomicrobia", "Verrucomicrobiae", "Verrucomicrobiales",
         "Verrucomicrobiaceae", "Akkermansia", None),
    ], ids)
    counts = np.array([[10, 5, 20, 15, 4, 6, 10, 30],
                       [0, 0, 0, 0, 0, 0, 0, 0]])
    return Study(counts, ["s1", "empty"], ids, taxonomy=tax)


def _metaphlan_species() -> Study:
    """A MetaPhlAn-like species table: s__ ids only, percent."""
    ids = ["s__Faecalibacterium_prausnitzii", "s__Roseburia_hominis", "s__Roseburia_intestinalis",
           "s__Eubacterium_rectale", "s__Ruminococcus_gnavus", "s__Escherichia_coli",
           "s__Akkermansia_muciniphila", "s__Roseburia_unclassified"]
    values = np.array([[20.0, 5.0, 5.0, 10.0, 2.0, 8.0, 40.0, 10.0]])
    return Study(values, ["m1"], ids, kind="relative")


def test_genus_level_16s_table_falls_back_to_genus():
    study = _genus_16s()
    panel = key_taxa(study)
    res = panel.attrs["resolution"]
    s1 = panel.loc["s1"]
    assert res["faecalibacterium_prausnitzii"]["matched_rank"] == "genus"
    assert res["faecalibacterium_prausnitzii"]["matched_as"] == "genus Faecalibacterium"
    assert "not a species-level profile" in res["faecalibacterium_prausnitzii"]["note"]
    assert s1["faecalibacterium_prausnitzii"] == pytest.approx(15 / 100)
    assert s1["roseburia"] == pytest.approx(20 / 100)
    assert res["akkermansia_muciniphila"]["matched_as"] == "genus Akkermansia"
    assert s1["akkermansia_muciniphila"] == pytest.approx(30 / 100)
    # species-only entries without a fallback are not measured, not guessed
    for taxon in ("eubacterium_rectale", "ruminococcus_gnavus", "prevotella_copri"):
        assert res[taxon]["matched_rank"] is None
        assert panel[taxon].isna().all()
    # family and phylum entries sum every feature of the family / phylum
    assert res["enterobacteriaceae"]["matched_rank"] == "family"
    assert s1["enterobacteriaceae"] == pytest.approx(10 / 100)
    assert s1["proteobacteria"] == pytest.approx(20 / 100)
    # the group sums the members that were measured, and says which
    assert s1["butyrate_producers"] == pytest.approx(35 / 100)
    assert "not measured: Eubacterium rectale" in res["butyrate_producers"]["note"]
    # an empty sample has no composition
    assert panel.loc["empty"].isna().all()


def test_partial_species_assignments_do_not_make_a_species_profile():
    study = _genus_16s()
    tax = study.taxonomy.copy()
    tax.loc["asv0", "species"] = "prausnitzii"
    tax.loc["asv3", "species"] = "gnavus"
    panel = key_taxa(study.replace(None, taxonomy=tax))
    res = panel.attrs["resolution"]
    assert res["faecalibacterium_prausnitzii"]["matched_rank"] == "genus"
    assert panel.loc["s1", "faecalibacterium_prausnitzii"] == pytest.approx(0.15)
    assert res["ruminococcus_gnavus"]["matched_rank"] is None


def test_species_level_metaphlan_table():
    panel = key_taxa(_metaphlan_species())
    res = panel.attrs["resolution"]
    m1 = panel.loc["m1"]
    assert res["faecalibacterium_prausnitzii"]["matched_rank"] == "species"
    assert m1["faecalibacterium_prausnitzii"] == pytest.approx(0.20)
    assert m1["eubacterium_rectale"] == pytest.approx(0.10)
    assert m1["ruminococcus_gnavus"] == pytest.approx(0.02)
    assert m1["akkermansia_muciniphila"] == pytest.approx(0.40)
    # genus from the species names, unclassified Roseburia included
    assert res["roseburia"]["matched_rank"] == "genus"
    assert res["roseburia"]["n_features"] == 3
    assert m1["roseburia"] == pytest.approx(0.20)
    assert m1["butyrate_producers"] == pytest.approx(0.50)
    assert m1["fusobacterium_nucleatum"] == 0.0  # resolved, absent
    # species names alone carry no family or phylum
    assert res["enterobacteriaceae"]["matched_rank"] is None
    assert math.isnan(m1["enterobacteriaceae"]) and math.isnan(m1["proteobacteria"])


def test_full_metaphlan_paths_resolve_families(tmp_path: Path):
    lines = [
        "clade_name\tm1\tm2",
        "k__Bacteria\t100\t100",
        "k__Bacteria|p__Proteobacteria|c__Gammaproteobacteria|o__Enterobacteriales|"
        "f__Enterobacteriaceae|g__Escherichia|s__Escherichia_coli\t25\t0",
        "k__Bacteria|p__Proteobacteria|c__Gammaproteobacteria|o__Enterobacteriales|"
        "f__Enterobacteriaceae|g__Klebsiella|s__Klebsiella_pneumoniae\t5\t0",
        "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|"
        "g__Faecalibacterium|s__Faecalibacterium_prausnitzii\t70\t100",
    ]
    path = tmp_path / "merged.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    panel = key_taxa(read_table(path))
    assert panel["enterobacteriaceae"].tolist() == pytest.approx([0.30, 0.0])
    assert panel["proteobacteria"].tolist() == pytest.approx([0.30, 0.0])
    assert panel["faecalibacterium_prausnitzii"].tolist() == pytest.approx([0.70, 1.0])
    assert panel.attrs["resolution"]["faecalibacterium_prausnitzii"]["matched_rank"] == "species"


def test_gtdb_and_greengenes_spellings_of_species():
    ids = ["a", "b", "c", "d", "e", "f"]
    tax = _tax([
        # GTDB (as GTDB-Tk writes it): R. gnavus in the genus Ruminococcus_B
        ("Bacteria", None, None, None, "Lachnospiraceae", "Ruminococcus_B",
         "Ruminococcus_B gnavus"),
        ("Bacteria", None, None, None, None, "Faecalibacterium",
         "Faecalibacterium prausnitzii_C"),
        # Greengenes 13_8 (the bundled study): [Ruminococcus] gnavus
        ("Bacteria", None, None, None, None, "[Ruminococcus]", "gnavus"),
        ("Bacteria", None, None, None, None, "Ruminococcus", "bromii"),
        # a binomial no checked source shows: kept in taxa.yaml unverified, not applied
        ("Bacteria", None, None, None, None, "Mediterraneibacter", "Mediterraneibacter gnavus"),
        # GTDB's name of E. rectale
        ("Bacteria", None, None, None, "Lachnospiraceae", "Agathobacter",
         "Agathobacter rectalis"),
    ], ids)
    study = Study(np.array([[10, 20, 30, 25, 5, 10]]), ["s"], ids, taxonomy=tax)
    panel = key_taxa(study)
    assert panel.loc["s", "ruminococcus_gnavus"] == pytest.approx(0.40)  # a + c: 40 of 100
    assert panel.loc["s", "faecalibacterium_prausnitzii"] == pytest.approx(0.20)
    assert panel.loc["s", "eubacterium_rectale"] == pytest.approx(0.10)
    res = panel.attrs["resolution"]
    assert res["ruminococcus_gnavus"]["spellings"] == ["Ruminococcus_B gnavus",
                                                        "[Ruminococcus] gnavus"]
    assert "written Ruminococcus_B gnavus, [Ruminococcus] gnavus in the table" in \
        res["ruminococcus_gnavus"]["note"]
    assert res["eubacterium_rectale"]["matched_as"] == "species Eubacterium rectale"
    # the butyrate producers sum E. rectale under its GTDB name too: 20 + 10 (no Roseburia)
    assert panel.loc["s", "butyrate_producers"] == pytest.approx(0.30)


def test_gtdb_phylum_pseudomonadota_is_proteobacteria():
    ids = ["a", "b", "c"]
    tax = _tax([("Bacteria", "Pseudomonadota", None, None, "Enterobacteriaceae", "Escherichia",
                 None),
                ("Bacteria", "Campylobacterota", None, None, None, "Campylobacter", None),
                ("Bacteria", "Bacillota_A", None, None, None, "Faecalibacterium", None)], ids)
    panel = key_taxa(Study(np.array([[15, 5, 80]]), ["s"], ids, taxonomy=tax))
    # GTDB's Pseudomonadota is narrower than Greengenes' Proteobacteria (Campylobacterota
    # are a phylum of their own): only a counts
    assert panel.loc["s", "proteobacteria"] == pytest.approx(0.15)
    assert panel.attrs["resolution"]["proteobacteria"]["spellings"] == ["Pseudomonadota"]


def test_key_taxa_resolution_table_and_column_order():
    table = key_taxa_resolution(_genus_16s())
    expected_ids = [t.id for t in load_taxa_catalog().panel()]
    assert table.index.tolist() == expected_ids
    assert list(table.columns) == ["name", "rank", "matched_rank", "matched_as", "n_features",
                                   "note", "spellings"]
    assert key_taxa(_genus_16s()).columns.tolist() == expected_ids


def test_no_taxonomy_means_nothing_is_measured():
    study = Study(np.array([[1, 2]]), ["s"], ["ACGT", "GGCA"])
    panel = key_taxa(study)
    assert panel.isna().all().all()
    assert "no taxonomy" in panel.attrs["resolution"]["roseburia"]["note"]
