"""The central object: validation at construction, subsets, conversions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gutaxis import RANKS, Study
from gutaxis.exceptions import NotFoundError, SampleMismatchError, ValidationError


def small() -> Study:
    counts = np.array([[1, 0, 3], [0, 5, 0], [2, 2, 2]])
    tax = pd.DataFrame([["Bacteria", "Firmicutes", None, None, None, None, None]] * 3,
                       index=["f1", "f2", "f3"], columns=list(RANKS))
    md = pd.DataFrame({"group": ["a", "b", "a"]}, index=["s1", "s2", "s3"])
    return Study(counts, ["s1", "s2", "s3"], ["f1", "f2", "f3"], taxonomy=tax, samples=md)


def test_construction_keeps_values_sparse_and_aligned():
    s = small()
    assert sp.isspmatrix_csr(s.counts)
    assert s.shape == (3, 3)
    np.testing.assert_array_equal(s.sample_totals(), [4, 5, 6])
    assert list(s.samples.index) == ["s1", "s2", "s3"]


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        (np.array([[1.0, -1.0]]), r"≥ 0; sample 's1', feature 'f2'"),
        (np.array([[1.0, np.nan]]), "NaN or infinite"),
        (np.array([[1.5, 1.0]]), r"whole numbers; sample 's1', feature 'f1'"),
        # each value finite, their sum not: every diversity would be NaN or wrong
        (np.array([[1e308, 1e308]]), r"t.tsv: sample 's1': its abundances add up to more "
                                     r"than a floating-point number holds"),
    ],
)
def test_bad_values_are_named(counts, match):
    with pytest.raises(ValidationError, match=match):
        Study(counts, ["s1"], ["f1", "f2"], source="t.tsv")


def test_relative_tables_may_hold_fractions():
    s = Study(np.array([[0.25, 0.75]]), ["s1"], ["f1", "f2"], kind="relative")
    assert s.kind == "relative"


def test_duplicate_ids_and_shape_mismatch():
    with pytest.raises(ValidationError, match=r"t.tsv: sample ids must be unique; duplicated: 'a'"):
        Study(np.ones((2, 1)), ["a", "a"], ["f"], source="t.tsv")
    with pytest.raises(ValidationError, match=r"2 × 1 but 2 sample ids and 3 feature ids"):
        Study(np.ones((2, 1)), ["a", "b"], ["f", "g", "h"])


def test_subset_keeps_slots_aligned_and_records_provenance():
    s = small().subset_samples(["s3", "s1"])
    assert list(s.sample_ids) == ["s3", "s1"]
    np.testing.assert_array_equal(s.counts.toarray(), [[2, 2, 2], [1, 0, 3]])
    assert list(s.samples["group"]) == ["a", "a"]
    assert s.provenance[-1]["step"] == "subset_samples"
    f = small().subset_features(["f3"])
    assert list(f.taxonomy.index) == ["f3"]
    with pytest.raises(NotFoundError, match=r"1 sample id\(s\) not found.*'zz'"):
        small().subset_samples(["zz"])


def test_drop_empty_features():
    s = Study(np.array([[1, 0], [2, 0]]), ["a", "b"], ["f1", "f2"]).drop_empty_features()
    assert list(s.feature_ids) == ["f1"]


def test_with_metadata_lists_mismatches():
    s = small()
    md = pd.DataFrame({"x": [1, 2]}, index=["s1", "other"])
    matched = s.with_metadata(md)
    assert list(matched.sample_ids) == ["s1"]
    with pytest.raises(SampleMismatchError, match=r"share 1 sample id\(s\); at least 2 needed.*"
                                                  r"only in the metadata \(1\): 'other'"):
        s.with_metadata(md, min_shared=2)


def test_relative_rows_sum_to_one():
    rel = small().relative()
    np.testing.assert_allclose(np.asarray(rel.counts.sum(axis=1)).ravel(), 1.0)
    assert rel.kind == "relative"


def test_biom_and_anndata_round_trips():
    s = small()
    table = s.to_biom()
    assert table.shape == (3, 3)  # features × samples
    np.testing.assert_array_equal(table.matrix_data.T.toarray(), s.counts.toarray())
    assert table.metadata("f1", axis="observation")["taxonomy"][:3] == ["k__Bacteria",
                                                                        "p__Firmicutes", "c__"]
    back = Study.from_anndata(s.to_anndata())
    np.testing.assert_array_equal(back.counts.toarray(), s.counts.toarray())
    assert list(back.feature_ids) == list(s.feature_ids)
    assert back.taxonomy.loc["f1", "phylum"] == "Firmicutes"
    assert list(back.samples["group"]) == ["a", "b", "a"]
