"""MD-index: hand-computed cases, zero numerator/denominator, the genus lists."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gutaxis import RANKS, Study
from gutaxis.exceptions import NotFoundError
from gutaxis.indices import NotApplicableError, md_index, md_index_lists, md_index_values


def _study(genera: list[str | None], counts: list[list[float]], *,
           kind: str = "counts") -> Study:
    ids = [f"f{i}" for i in range(len(genera))]
    tax = pd.DataFrame({"genus": genera}, index=ids).reindex(columns=list(RANKS))
    tax = tax.astype(object).where(tax.notna(), None)
    return Study(np.array(counts, dtype=float), [f"s{i}" for i in range(len(counts))], ids,
                 taxonomy=tax, kind=kind)  # type: ignore[arg-type]


GENERA = ["Escherichia", "Veillonella", "Bacteroides", "Faecalibacterium", "Blautia", None]


def test_hand_computed_log_ratio():
    study = _study(GENERA, [[10, 5, 20, 10, 40, 15]])
    assert md_index(study).iloc[0] == pytest.approx(math.log(15 / 30), rel=1e-14)


def test_counts_and_relative_abundances_give_the_same_value():
    counts = [[10, 5, 20, 10, 40, 15], [1, 0, 7, 2, 9, 0]]
    as_counts = md_index(_study(GENERA, counts))
    totals = np.array(counts, dtype=float).sum(axis=1, keepdims=True)
    percent = (np.array(counts) / totals * 100).tolist()
    as_percent = md_index(_study(GENERA, percent, kind="relative"))
    np.testing.assert_allclose(as_percent.to_numpy(), as_counts.to_numpy(), rtol=1e-13)
    assert as_counts.index.name == "sample_id" and as_counts.name == "md_index"


def test_zero_denominator_is_nan_and_zero_numerator_is_minus_infinity():
    study = _study(GENERA, [
        [10, 0, 0, 0, 5, 1],   # decreased = 0 → NaN
        [0, 0, 20, 5, 5, 1],   # increased = 0 → -inf
        [0, 0, 0, 0, 5, 1],    # both 0 → NaN (the denominator decides, as QIIME)
        [0, 0, 0, 0, 0, 0],    # empty sample → NaN
        [3, 0, 3, 0, 0, 0],    # equal sums → 0
    ])
    values = md_index(study).to_numpy()  # warnings are errors in the test suite
    assert math.isnan(values[0])
    assert values[1] == -math.inf
    assert math.isnan(values[2]) and math.isnan(values[3])
    assert values[4] == 0.0


def test_kernel_rules():
    out = md_index_values(np.array([2.0, 0.0, 0.0, 1.0, np.nan]),
                          np.array([1.0, 3.0, 0.0, 0.0, 1.0]))
    assert out[0] == pytest.approx(math.log(2.0))
    assert out[1] == -math.inf
    assert np.isnan(out[2:]).all()


def test_genus_names_match_exactly_as_in_qiime():
    # Greengenes' [Ruminococcus] (Lachnospiraceae) is not Ruminococcus;
    # unassigned genera add nothing.
    study = _study(["Escherichia", "Ruminococcus", "[Ruminococcus]", None],
                   [[1, 2, 50, 50]])
    assert md_index(study).iloc[0] == pytest.approx(math.log(1 / 2))


def test_family_names_in_the_list_match_only_a_genus_so_named():
    tax = pd.DataFrame({"family": ["Enterobacteriaceae", "Lachnospiraceae", "Bacteroidaceae"],
                        "genus": ["Escherichia", None, "Bacteroides"]},
                       index=["a", "b", "c"]).reindex(columns=list(RANKS))
    tax = tax.astype(object).where(tax.notna(), None)
    study = Study(np.array([[4, 100, 2]]), ["s"], ["a", "b", "c"], taxonomy=tax)
    assert md_index(study).iloc[0] == pytest.approx(math.log(2.0))
    assert "Lachnospiraceae" in md_index_lists().decreased


def test_default_lists_are_qiimes_current_ones():
    lists = md_index_lists()
    assert lists.id == "qiime-1.9.1-dev" and lists.status == "current"
    assert lists.increased == ["Escherichia", "Haemophilus", "Fusobacterium", "Veillonella"]
    assert len(lists.decreased) == 14 and "Akkermansia" not in lists.decreased
    old = md_index_lists("qiime-1.9.1")
    assert old.status == "withdrawn" and "Akkermansia" in old.decreased
    assert "Sutterella" in old.increased and "Sutterella" in lists.decreased


def test_the_withdrawn_lists_can_be_asked_for():
    study = _study(["Aggregatibacter", "Akkermansia", "Bacteroides"], [[2, 1, 1]])
    assert md_index(study, lists="qiime-1.9.1").iloc[0] == pytest.approx(math.log(2 / 2))
    with pytest.raises(NotApplicableError, match="none of the increased genus names"):
        md_index(study)  # Aggregatibacter is not on the current list
    with pytest.raises(NotFoundError, match="Available: qiime-1.9.1-dev, qiime-1.9.1"):
        md_index(study, lists="gevers")


def test_not_applicable_without_genera_or_without_listed_taxa():
    no_genus = Study(np.array([[1, 2]]), ["s"], ["ACGT", "GGCA"])
    with pytest.raises(NotApplicableError, match="names no genus"):
        md_index(no_genus)
    only_decreased = _study(["Bacteroides", "Blautia"], [[5, 5]])
    with pytest.raises(NotApplicableError, match="none of the increased .*nor a synonym"):
        md_index(only_decreased)
    only_increased = _study(["Escherichia", "Blautia"], [[5, 5]])
    with pytest.raises(NotApplicableError, match="none of the decreased"):
        md_index(only_increased)


def test_metaphlan_species_names_give_their_genus():
    study = Study(np.array([[10.0, 30.0, 60.0]]), ["s"],
                  ["s__Escherichia_coli", "s__Bacteroides_fragilis",
                   "s__Lachnospiraceae_bacterium_8_1_57FAA"], kind="relative")
    # the last is not genus "Lachnospiraceae": MetaPhlAn names unnamed species after a family
    assert md_index(study).iloc[0] == pytest.approx(math.log(10 / 30))


def _lineage_study(rows: list[tuple[str | None, str | None]], counts: list[list[float]]
                   ) -> Study:
    """Features named by (family, genus), as a SILVA or GTDB classifier writes them."""
    ids = [f"f{i}" for i in range(len(rows))]
    tax = pd.DataFrame(rows, index=ids, columns=["family", "genus"]).reindex(columns=list(RANKS))
    tax = tax.astype(object).where(tax.notna(), None)
    return Study(np.array(counts, dtype=float), [f"s{i}" for i in range(len(counts))], ids,
                 taxonomy=tax)


#: SILVA 138.1 spellings (checked in its tax_slv_ssu_138.1.txt): no genus Escherichia, but
#: Escherichia-Shigella; [Ruminococcus] gnavus group is Lachnospiraceae, not Ruminococcus;
#: its Phocaeicola sits outside Bacteroidaceae.
SILVA = [("Enterobacteriaceae", "Escherichia-Shigella"), ("Veillonellaceae", "Veillonella"),
         ("Bacteroidaceae", "Bacteroides"), ("Ruminococcaceae", "Faecalibacterium"),
         ("Lachnospiraceae", "[Ruminococcus] gnavus group"),
         ("Bacteroidales Incertae Sedis", "Phocaeicola"), ("Lachnospiraceae", "Blautia")]


def test_silva_escherichia_shigella_is_escherichia():
    study = _lineage_study(SILVA, [[12, 3, 40, 20, 10, 5, 10],
                                   [0, 0, 50, 30, 10, 5, 5],
                                   [30, 0, 10, 0, 10, 5, 5]])
    values = md_index(study)
    # increased: Escherichia-Shigella + Veillonella; decreased: Bacteroides + Faecalibacterium
    # (not [Ruminococcus] gnavus group, not SILVA's Phocaeicola).  Without the synonym the
    # three samples were ln(3/60) = -3.00, -inf and -inf.
    assert values["s0"] == pytest.approx(math.log(15 / 60), rel=1e-14)  # -1.386
    assert values["s1"] == -math.inf  # no increased genus at all: still -inf
    assert values["s2"] == pytest.approx(math.log(30 / 10), rel=1e-14)  # 1.099
    found = values.attrs["found"]
    assert found["increased"] == {"found": ["Escherichia", "Veillonella"],
                                  "missing": ["Haemophilus", "Fusobacterium"],
                                  "as": {"Escherichia": ["Escherichia-Shigella"]}}
    assert found["decreased"]["found"] == ["Faecalibacterium", "Bacteroides"]
    assert found["note"].startswith(
        "increased genera found: 2 of 4 (Escherichia as Escherichia-Shigella, Veillonella; "
        "not found: Haemophilus, Fusobacterium); decreased genera found: 2 of 14 "
        "(Faecalibacterium, Bacteroides; not found: Dialister, Ruminococcus,")


#: GTDB spellings (R06-RS202 and later, as GTDB-Tk writes them): B. vulgatus is Phocaeicola
#: (Bacteroidaceae); R. gnavus's genus is Ruminococcus_B (Lachnospiraceae), not Ruminococcus.
GTDB = [("Enterobacteriaceae", "Escherichia"), ("Bacteroidaceae", "Phocaeicola"),
        ("Bacteroidaceae", "Bacteroides"), ("Lachnospiraceae", "Ruminococcus_B"),
        ("Ruminococcaceae", "Faecalibacterium"), ("Fusobacteriaceae", "Fusobacterium"),
        (None, "Phocaeicola")]


def test_gtdb_phocaeicola_counts_as_bacteroides_and_ruminococcus_b_does_not():
    study = _lineage_study(GTDB, [[10, 30, 10, 15, 20, 0, 0],
                                  [0, 20, 0, 15, 0, 5, 0],
                                  [4, 0, 0, 15, 0, 0, 8]])
    values = md_index(study)
    # s0: 10 / (30 + 10 + 20); without Phocaeicola it was ln(10/30) = -1.10
    assert values["s0"] == pytest.approx(math.log(10 / 60), rel=1e-14)  # -1.792
    # s1: Fusobacterium 5 / Phocaeicola 20; without the synonym the denominator was 0 (NaN)
    assert values["s1"] == pytest.approx(math.log(5 / 20), rel=1e-14)  # -1.386
    # s2: a Phocaeicola whose family the table does not name counts too: 4 / 8
    assert values["s2"] == pytest.approx(math.log(4 / 8), rel=1e-14)
    assert values.attrs["found"]["decreased"]["as"] == {"Bacteroides": ["Phocaeicola"]}
    assert "Ruminococcus" in values.attrs["found"]["decreased"]["missing"]


def test_the_synonyms_leave_greengenes_values_unchanged():
    # Greengenes 13_8 names (the bundled study): nothing to translate, same value as before
    study = _study(["Escherichia", "Bacteroides", "[Ruminococcus]", "Ruminococcus"],
                   [[6, 30, 50, 10]])
    assert md_index(study).iloc[0] == pytest.approx(math.log(6 / 40), rel=1e-14)
    assert md_index(study).attrs["found"]["increased"]["as"] == {}
