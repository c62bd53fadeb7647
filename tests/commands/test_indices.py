"""gutaxis indices as a command: IndicesOptions → run_indices → IndicesResult.write."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutaxis import RANKS, Study
from gutaxis.commands import IndicesOptions, run_indices
from gutaxis.exceptions import InputError, OutputError
from gutaxis.io import write_biom
from gutaxis.knowledge import load_taxa_catalog

DATA = Path(__file__).parents[1] / "indices" / "data"
KEY_TAXA = [t.id for t in load_taxa_catalog().panel()]


@pytest.fixture
def genus_table(tmp_path):
    ids = ["a", "b", "c", "d"]
    tax = pd.DataFrame({"kingdom": ["Bacteria"] * 4,
                        "phylum": ["Proteobacteria", "Bacteroidetes", "Firmicutes", "Firmicutes"],
                        "family": ["Enterobacteriaceae", "Bacteroidaceae", "Ruminococcaceae",
                                   "Lachnospiraceae"],
                        "genus": ["Escherichia", "Bacteroides", "Faecalibacterium", None]},
                       index=ids).reindex(columns=list(RANKS))
    tax = tax.astype(object).where(tax.notna(), None)
    study = Study(np.array([[5, 40, 25, 30], [0, 10, 0, 90]]), ["x", "y"], ids, taxonomy=tax)
    path = tmp_path / "table.biom"
    write_biom(study, path)
    return path


def test_indices_tsv_and_notes(tmp_path, genus_table):
    written = run_indices(IndicesOptions(table=genus_table)).write(tmp_path / "out")
    path = written["indices"]
    assert path == tmp_path / "out" / "indices.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    assert header[:4] == ["sample_id", "gmhi", "md_index", "shannon_entropy"]
    assert header[4:] == [*KEY_TAXA, "gmhi_status", "md_index_status"]
    row_x = dict(zip(header, lines[1].split("\t"), strict=True))
    row_y = dict(zip(header, lines[2].split("\t"), strict=True))
    assert row_y["sample_id"] == "y"
    assert row_y["gmhi"] == ""  # not applicable: an empty cell (the output rule for NaN)
    assert row_y["gmhi_status"] == "not applicable"  # ... and its status says why
    assert row_y["md_index"] == "-inf"  # the output rule for infinity
    assert row_y["md_index_status"] == "computed"  # -inf is a value
    assert row_y["eubacterium_rectale"] == ""
    # increased: Escherichia 5; decreased: Bacteroides 40 + Faecalibacterium 25, written exactly
    assert float(row_x["md_index"]) == math.log(5 / 65)
    notes = json.loads(written["notes"].read_text(encoding="utf-8"))
    assert notes["schema_version"] == "2.1"
    assert notes["notes"]["gmhi"].startswith("not applicable")
    assert notes["found"]["md_index"].startswith("increased genera found: 1 of 4 (Escherichia;")
    assert notes["not_computable"]["gmhi"].startswith("none of the 50 GMHI species")
    assert notes["key_taxa"]["faecalibacterium_prausnitzii"]["matched_rank"] == "genus"


def test_on_the_authors_example_gmhi_matches_theirs(tmp_path):
    result = run_indices(IndicesOptions(table=DATA / "example_species_relative_abundances.csv"))
    path = result.write(tmp_path)["indices"]
    written = pd.read_csv(path, sep="\t", index_col="sample_id")
    expected = pd.read_csv(DATA / "example_GMHI_output.csv", index_col=0,
                           encoding="utf-8-sig")["GMHI"]
    assert written.index.tolist() == expected.index.tolist()
    # where the authors print 0 (no species of either set), the value is empty and its
    # status says not computable; everywhere else it is theirs
    zero = expected == 0.0
    assert expected.index[zero].tolist() == ["Sample19", "Sample20"]
    assert written.loc[zero, "gmhi"].isna().all()
    assert (written.loc[zero, "gmhi_status"] == "not computable").all()
    assert (written.loc[~zero, "gmhi_status"] == "computed").all()
    assert (written.loc[~zero, "gmhi"] - expected[~zero]).abs().max() <= 1e-9
    # Sample20 holds none of the MD-index's decreased genera either (its species are Roseburia,
    # Veillonella, Enterococcus, Bifidobacterium, Clostridium, Streptococcus)
    assert result.not_computable == {"gmhi": ["Sample19", "Sample20"], "md_index": ["Sample20"]}
    assert written.loc["Sample20", "md_index_status"] == "not computable"
    assert written["faecalibacterium_prausnitzii"].notna().all()
    assert written["enterobacteriaceae"].isna().all()  # species names alone: no family


def test_a_missing_table_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"^TABLE .*absent\.biom: no such file$"):
        IndicesOptions(table=tmp_path / "absent.biom")


def test_a_folder_with_files_is_refused_unless_overwrite(tmp_path, genus_table):
    result = run_indices(IndicesOptions(table=genus_table))
    out = tmp_path / "out"
    out.mkdir()
    (out / "indices.tsv").write_text("old\n")
    (out / "mine.txt").write_text("keep me\n")
    with pytest.raises(OutputError, match=r"is not empty \(indices\.tsv, mine\.txt\).*--overwrite"):
        result.write(out)
    assert (out / "indices.tsv").read_text() == "old\n"
    result.write(out, overwrite=True)
    assert (out / "indices.tsv").read_text().startswith("sample_id\tgmhi")
    assert (out / "mine.txt").read_text() == "keep me\n"  # not ours: kept
