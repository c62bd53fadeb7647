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
