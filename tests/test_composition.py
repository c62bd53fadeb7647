"""Tests of gutaxis.composition: collapse, labels, relative abundance, CLR, group means."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gutaxis.composition import (
    OTHER,
    UnknownRankError,
    clr,
    collapse,
    filter_prevalence,
    group_means,
    lineages,
    relative_abundance,
    taxon_label,
)
from gutaxis.exceptions import InputError, UnknownMetricError, UnknownNameError
from gutaxis.study import RANKS, Study

LACHNO = ["Bacteria", "Firmicutes", "Clostridia", "Lachnospirales", "Lachnospiraceae"]
OSCILLO = ["Bacteria", "Firmicutes", "Clostridia", "Oscillospirales", "Oscillospiraceae"]


def _taxonomy() -> pd.DataFrame:
    rows = {
        "asv1": [*OSCILLO, "Faecalibacterium", "prausnitzii"],
        "asv2": [*OSCILLO, "Faecalibacterium", None],
        "asv3": [*LACHNO, "Roseburia", None],
        "asv4": [*LACHNO, None, None],
        "asv5": [*LACHNO, None, None],
        "asv6": ["Bacteria", "Bacteroidota", None, None, None, None, None],
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(RANKS)).astype(object).where(
        lambda f: f.notna(), None)


@pytest.fixture
def study() -> Study:
    counts = np.array([
        [10, 5, 0, 1, 2, 7],
        [0, 3, 4, 0, 6, 1],
        [1, 0, 0, 0, 0, 0],
    ])
    md = pd.DataFrame({"group": ["a", "b", "a"]}, index=["s1", "s2", "s3"])
    ids = ["asv1", "asv2", "asv3", "asv4", "asv5", "asv6"]
    return Study(counts, ["s1", "s2", "s3"], ids, taxonomy=_taxonomy(), samples=md,
                 source="test.tsv")


# ------------------------------------------------------------------ collapse
def test_collapse_genus_sums_by_lineage_and_pools_unassigned(study: Study) -> None:
    g = collapse(study, "genus")
    lachno = "k__Bacteria;p__Firmicutes;c__Clostridia;o__Lachnospirales;f__Lachnospiraceae"
    oscillo = "k__Bacteria;p__Firmicutes;c__Clostridia;o__Oscillospirales;f__Oscillospiraceae"
    expected = {
        f"{oscillo};g__Faecalibacterium": [15, 3, 1],
        f"{lachno};g__Roseburia": [0, 4, 0],
        f"{lachno};g__": [3, 6, 0],  # asv4 + asv5: the unassigned genera pool
        "k__Bacteria;p__Bacteroidota;c__;o__;f__;g__": [7, 1, 0],
    }
    assert sorted(g.feature_ids) == sorted(expected)
    assert list(g.feature_ids) == sorted(expected)  # sorted by lineage
    frame = g.to_dataframe()
    for fid, values in expected.items():
        assert frame[fid].tolist() == values
    assert sp.issparse(g.counts) and g.counts.format == "csr"
    assert g.kind == "counts"
    assert list(g.sample_ids) == ["s1", "s2", "s3"]
    pd.testing.assert_frame_equal(g.samples, study.samples)
    np.testing.assert_array_equal(g.sample_totals(), study.sample_totals())
    step = g.provenance[-1]
    assert step == {"step": "collapse", "rank": "genus", "n_features_in": 6, "n_features": 4}


def test_collapse_taxonomy_is_truncated_at_the_rank(study: Study) -> None:
    g = collapse(study, "genus")
    tax = g.taxonomy
    assert tax is not None and list(tax.columns) == list(RANKS)
    assert tax["species"].isna().all()
    faecali = [f for f in g.feature_ids if f.endswith("g__Faecalibacterium")][0]
    assert tax.loc[faecali, "genus"] == "Faecalibacterium"
    assert tax.loc[faecali, "family"] == "Oscillospiraceae"
    unassigned = [f for f in g.feature_ids if f.endswith("f__Lachnospiraceae;g__")][0]
    assert tax.loc[unassigned, "genus"] is None
    assert tax.loc[unassigned, "family"] == "Lachnospiraceae"


def test_collapse_species_keeps_distinct_species(study: Study) -> None:
    s = collapse(study, "species")
    assert s.n_features == 5  # asv1 (prausnitzii) and asv2 (no species) stay apart
    assert any(f.endswith("g__Faecalibacterium;s__prausnitzii") for f in s.feature_ids)
    assert any(f.endswith("g__Faecalibacterium;s__") for f in s.feature_ids)


def test_collapse_is_consistent_across_ranks(study: Study) -> None:
    via_genus = collapse(collapse(study, "genus"), "family")
    direct = collapse(study, "family")
    assert list(via_genus.feature_ids) == list(direct.feature_ids)
    assert (via_genus.counts != direct.counts).nnz == 0
    phylum = collapse(study, "phylum")
    assert list(phylum.feature_ids) == ["k__Bacteria;p__Bacteroidota", "k__Bacteria;p__Firmicutes"]
    assert phylum.to_dataframe().to_numpy().tolist() == [[7, 18], [1, 13], [0, 1]]


def test_collapse_feature_without_taxonomy_row_goes_to_the_empty_lineage() -> None:
    tax = _taxonomy().loc[["asv1"]]
    s = Study(np.array([[1, 2]]), ["s"], ["asv1", "mystery"], taxonomy=tax)
    g = collapse(s, "class")
    assert list(g.feature_ids) == ["k__;p__;c__", "k__Bacteria;p__Firmicutes;c__Clostridia"]
    assert taxon_label(g.feature_ids[0]) == "Unassigned"


def test_collapse_relative_stays_relative_and_sparse(study: Study) -> None:
    rel = study.relative()
    g = collapse(rel, "family")
    assert g.kind == "relative"
    np.testing.assert_allclose(g.sample_totals(), 1.0)
    assert sp.issparse(g.counts)


def test_collapse_unknown_rank_lists_the_ranks(study: Study) -> None:
    with pytest.raises(UnknownRankError,
                       match=r"unknown taxonomic rank 'ranks'; the valid names are: kingdom, "
                             r"phylum, class, order, family, genus, species") as info:
        collapse(study, "ranks")
    assert not isinstance(info.value, UnknownMetricError)  # a rank is not a metric
    assert isinstance(info.value, UnknownNameError)
    with pytest.raises(UnknownRankError, match=r"'gneus'; did you mean 'genus'\?"):
        collapse(study, "gneus")
    # the plural people type: spelling distance alone does not reach it
    for plural, rank in (("genera", "genus"), ("Phyla", "phylum"), ("families", "family")):
        with pytest.raises(UnknownRankError, match=rf"'{plural}'; did you mean '{rank}'\? "):
            collapse(study, plural)
    assert info.value.valid == list(RANKS)
    assert collapse(study, "Genus").provenance[-1]["rank"] == "genus"


def test_collapse_without_taxonomy_says_to_give_one(study: Study) -> None:
    bare = study.replace(None, taxonomy=None)
    with pytest.raises(InputError, match=r"test.tsv has none.*--taxonomy"):
        collapse(bare, "genus")


def test_lineages_writes_prefixes_for_every_rank() -> None:
    out = lineages(_taxonomy(), "species")
    assert out["asv1"] == ("k__Bacteria;p__Firmicutes;c__Clostridia;o__Oscillospirales;"
                           "f__Oscillospiraceae;g__Faecalibacterium;s__prausnitzii")
    assert out["asv6"] == "k__Bacteria;p__Bacteroidota;c__;o__;f__;g__;s__"


# --------------------------------------------------------------- taxon_label
@pytest.mark.parametrize(("lineage", "label"), [
    ("k__Bacteria;p__Firmicutes;c__Clostridia;o__Oscillospirales;f__Oscillospiraceae;"
     "g__Faecalibacterium", "Faecalibacterium"),
    ("k__Bacteria;p__Firmicutes;c__Clostridia;o__Lachnospirales;f__Lachnospiraceae;g__",
     "Lachnospiraceae (unassigned genus)"),
    ("k__Bacteria;p__Firmicutes;f__Lachnospiraceae;g__;s__", "Lachnospiraceae (unassigned genus)"),
    ("k__Bacteria;g__Faecalibacterium;s__prausnitzii", "Faecalibacterium prausnitzii"),
    ("k__Bacteria;g__Faecalibacterium;s__", "Faecalibacterium (unassigned species)"),
    ("d__Bacteria;g__Faecalibacterium;s__Faecalibacterium prausnitzii",
     "Faecalibacterium prausnitzii"),
    ("k__Bacteria;g__Faecalibacterium;s__Faecalibacterium_prausnitzii",
     "Faecalibacterium_prausnitzii"),
    ("k__Bacteria;p__", "Bacteria (unassigned phylum)"),
    ("k__Bacteria", "Bacteria"),
    ("k__;p__;c__", "Unassigned"),
    ("asv-0001", "asv-0001"),
    ("Bacteria;Firmicutes", "Bacteria;Firmicutes"),
])
def test_taxon_label(lineage: str, label: str) -> None:
    assert taxon_label(lineage) == label


def test_taxon_label_of_collapsed_ids(study: Study) -> None:
    labels = sorted(taxon_label(f) for f in collapse(study, "genus").feature_ids)
    assert labels == ["Bacteroidota (unassigned class)", "Faecalibacterium",
                      "Lachnospiraceae (unassigned genus)", "Roseburia"]


# -------------------------------------------------------- relative abundance
def test_relative_abundance_rows_sum_to_one(study: Study) -> None:
    rel = relative_abundance(study)
    assert list(rel.index) == ["s1", "s2", "s3"] and list(rel.columns) == list(study.feature_ids)
    np.testing.assert_allclose(rel.sum(axis=1), 1.0)
    assert rel.loc["s1", "asv1"] == pytest.approx(10 / 25)
    assert rel.loc["s3", "asv1"] == 1.0


def test_relative_abundance_of_percentages() -> None:
    s = Study(np.array([[25.0, 75.0]]), ["a"], ["x", "y"], kind="relative")
    assert relative_abundance(s).to_numpy().tolist() == [[0.25, 0.75]]


def test_relative_abundance_names_empty_samples() -> None:
    s = Study(np.array([[1, 2], [0, 0], [3, 0]]), ["a", "empty-one", "c"], ["x", "y"],
              source="t.biom")
    with pytest.raises(InputError, match=r"1 sample\(s\) in t.biom are empty: 'empty-one'"):
        relative_abundance(s)


# ----------------------------------------------------------------------- clr
def test_clr_matches_definition_and_scikit_bio() -> None:
    from skbio.stats.composition import clr as skbio_clr

    x = np.array([[0, 1, 5, 10], [3, 3, 3, 3], [100, 0, 0, 1]], dtype=float)
    out = clr(x)
    np.testing.assert_allclose(out.sum(axis=1), 0.0, atol=1e-12)
    logs = np.log(x + 0.5)
    np.testing.assert_allclose(out, logs - logs.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(out, skbio_clr(x + 0.5), atol=1e-12)
    np.testing.assert_allclose(out[1], 0.0, atol=1e-12)
    np.testing.assert_allclose(clr(x[0], pseudocount=1.0), clr(x[:1] + 1.0, pseudocount=0)[0])


def test_clr_is_scale_invariant_without_zeros() -> None:
    x = np.array([[1.0, 2.0, 7.0]])
    np.testing.assert_allclose(clr(x, pseudocount=0), clr(10 * x, pseudocount=0))


@pytest.mark.parametrize(("values", "pc", "message"), [
    ([[0.0, 1.0]], 0.0, r"logarithm is undefined"),
    ([[-1.0, 1.0]], 0.5, r"values must be ≥ 0"),
    ([[1.0, 1.0]], -0.1, r"`pseudocount` must be a number ≥ 0; got -0.1"),
    ([[np.nan, 1.0]], 0.5, r"NaN"),
])
def test_clr_errors(values: list[list[float]], pc: float, message: str) -> None:
    with pytest.raises(InputError, match=message):
        clr(np.array(values), pseudocount=pc)


# --------------------------------------------------------------- group_means
def _rel() -> tuple[pd.DataFrame, pd.Series]:
    rel = pd.DataFrame(
        {"x": [0.5, 0.1, 0.2, 0.0], "y": [0.3, 0.6, 0.8, 0.5], "z": [0.2, 0.3, 0.0, 0.5]},
        index=["a", "b", "c", "d"],
    )
    groups = pd.Series({"a": "A", "b": "B", "c": "B", "d": None})
    return rel, groups


def test_group_means_by_hand() -> None:
    rel, groups = _rel()
    out = group_means(rel, groups)
    assert list(out.columns) == ["A", "B"]
    # overall means over a, b, c (d has no group): y 0.567, x 0.267, z 0.167
    assert list(out.index) == ["y", "x", "z"]
    assert out.loc["x", "A"] == pytest.approx(0.5)
    assert out.loc["x", "B"] == pytest.approx(0.15)
    assert out.loc["z", "B"] == pytest.approx(0.15)
    np.testing.assert_allclose(out.sum(axis=0), 1.0)


def test_group_means_top_adds_other_and_keeps_column_sums() -> None:
    rel, groups = _rel()
    out = group_means(rel, groups, order=["B", "A"], top=2)
    assert list(out.columns) == ["B", "A"]
    assert list(out.index) == ["y", "x", OTHER]
    assert out.loc[OTHER, "A"] == pytest.approx(0.2)
    np.testing.assert_allclose(out.sum(axis=0), 1.0)
    everything = group_means(rel, groups, top=10)
    assert list(everything.index) == ["y", "x", "z", OTHER]
    assert (everything.loc[OTHER] == 0).all()


def test_group_means_errors() -> None:
    rel, groups = _rel()
    with pytest.raises(InputError, match=r"`top` must be an integer ≥ 1"):
        group_means(rel, groups, top=0)
    with pytest.raises(InputError, match=r"group\(s\) 'C' in `order` have no samples"):
        group_means(rel, groups, order=["A", "C"])
    with pytest.raises(InputError, match=r"1 sample\(s\) have no entry in `groups`: 'd'"):
        group_means(rel, groups.drop("d"))


# ---------------------------------------------------------- filter_prevalence
def test_filter_prevalence_threshold_and_provenance() -> None:
    n = 30
    counts = np.zeros((n, 4), dtype=int)
    counts[:3, 0] = 1  # 3 of 30 = exactly 10 %: kept at 0.1 (no rounding slip)
    counts[:2, 1] = 1  # 2 of 30: removed
    counts[:, 2] = 5
    counts[:15, 3] = 1
    s = Study(counts, [f"s{i}" for i in range(n)], ["a", "b", "c", "d"])
    kept = filter_prevalence(s, min_prevalence=0.1)
    assert list(kept.feature_ids) == ["a", "c", "d"]
    step = kept.provenance[-1]
    assert step["step"] == "filter_prevalence" and step["n_removed"] == 1
    assert step["min_prevalence"] == 0.1
    assert list(filter_prevalence(s, min_prevalence=0.5).feature_ids) == ["c", "d"]
    assert list(filter_prevalence(s, min_prevalence=0.0).feature_ids) == ["a", "b", "c", "d"]


def test_filter_prevalence_errors() -> None:
    s = Study(np.array([[1, 0], [0, 1]]), ["s1", "s2"], ["a", "b"], source="x.tsv")
    with pytest.raises(InputError, match=r"`min_prevalence` must be a fraction in \[0, 1\]"):
        filter_prevalence(s, min_prevalence=1.5)
    with pytest.raises(InputError, match=r"no feature of x.tsv is present in at least 100% .* "
                                          r"the most prevalent is in 50%"):
        filter_prevalence(s, min_prevalence=1.0)
