"""compute_indices: every index of every sample in one frame."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gutaxis import RANKS, Study
from gutaxis.diversity import alpha_diversity
from gutaxis.indices import INDEX_COLUMNS, compute_indices
from gutaxis.knowledge import load_taxa_catalog

PANEL_IDS = [t.id for t in load_taxa_catalog().panel()]


def _genus_study() -> Study:
    ids = ["a", "b", "c", "d"]
    tax = pd.DataFrame({"kingdom": ["Bacteria"] * 4,
                        "phylum": ["Proteobacteria", "Bacteroidetes", "Firmicutes", "Firmicutes"],
                        "family": ["Enterobacteriaceae", "Bacteroidaceae", "Ruminococcaceae",
                                   "Lachnospiraceae"],
                        "genus": ["Escherichia", "Bacteroides", "Faecalibacterium", None]},
                       index=ids).reindex(columns=list(RANKS))
    tax = tax.astype(object).where(tax.notna(), None)
    return Study(np.array([[5, 40, 25, 30], [0, 10, 0, 90]]), ["x", "y"], ids, taxonomy=tax)


def test_columns_and_not_applicable_gmhi_on_a_16s_genus_table():
    frame, notes = compute_indices(_genus_study())
    assert frame.index.name == "sample_id"
    assert list(frame.columns) == [*INDEX_COLUMNS, *PANEL_IDS]
    assert frame["gmhi"].isna().all()
    assert notes["gmhi"].startswith("not applicable:")
    assert "deepest resolved rank is genus" in notes["gmhi"]
    # increased: Escherichia 5; decreased: Bacteroides 40 + Faecalibacterium 25
    assert frame.loc["x", "md_index"] == pytest.approx(math.log(5 / 65))
    assert frame.loc["y", "md_index"] == -math.inf
    shannon = alpha_diversity(_genus_study(), ["shannon_entropy"])["shannon_entropy"]
    np.testing.assert_array_equal(frame["shannon_entropy"].to_numpy(), shannon.to_numpy())
    assert frame.loc["x", "faecalibacterium_prausnitzii"] == pytest.approx(0.25)
    assert "measured as genus Faecalibacterium" in notes["faecalibacterium_prausnitzii"]


def test_shannon_is_the_same_on_percent_and_counts():
    study = _genus_study()
    rel = study.relative()
    percent = rel.replace(None, counts=rel.counts * 100)
    a, _ = compute_indices(study)
    b, _ = compute_indices(percent)
    np.testing.assert_allclose(a["shannon_entropy"], b["shannon_entropy"], rtol=1e-12)


def test_statuses_and_what_each_index_found():
    study = _genus_study()
    ids = list(study.feature_ids)
    # a third sample with Escherichia only: no decreased genus, so no MD-index
    three = Study(np.vstack([study.counts.toarray(), [[7, 0, 0, 3]]]), ["x", "y", "z"], ids,
                  taxonomy=study.taxonomy)
    frame, notes = compute_indices(three)
    assert frame.attrs["status"] == {
        "gmhi": ["not applicable"] * 3,
        "md_index": ["computed", "computed", "not computable"]}
    assert math.isnan(frame.loc["z", "md_index"])
    assert frame.loc["y", "md_index"] == -math.inf  # a value, so "computed"
    assert "not computable in 1 of 3 sample(s): z (none of the decreased genera" in \
        notes["md_index"]
    assert frame.attrs["found"]["md_index"].startswith(
        "increased genera found: 1 of 4 (Escherichia; not found: Haemophilus, Fusobacterium, "
        "Veillonella); decreased genera found: 2 of 14 (Faecalibacterium, Bacteroides;")
    assert frame.attrs["found"]["md_index"] in notes["md_index"]
    assert "gmhi" not in frame.attrs["found"]  # not applicable: nothing was looked for


def test_an_empty_sample_has_its_own_status():
    study = _genus_study()
    empty = Study(np.vstack([study.counts.toarray(), np.zeros((1, 4))]), ["x", "y", "e"],
                  list(study.feature_ids), taxonomy=study.taxonomy)
    frame, _ = compute_indices(empty)
    assert frame.attrs["status"]["md_index"][2] == "empty sample"
