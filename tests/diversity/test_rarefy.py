"""Rarefaction: exact depth, bounds, reproducibility, dropped samples, expectation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gutaxis import Study
from gutaxis.diversity import RarefactionResult, rarefy
from gutaxis.diversity.rarefy import suggest_depth
from gutaxis.exceptions import InputError


def make_study(seed: int = 0, n: int = 30, m: int = 80) -> Study:
    rng = np.random.default_rng(seed)
    dense = rng.negative_binomial(0.4, 0.02, size=(n, m)) * (rng.random((n, m)) < 0.5)
    dense[0] = 0
    dense[0, :3] = [2, 1, 1]  # 4 reads: below most depths
    taxonomy = pd.DataFrame({"kingdom": ["Bacteria"] * m, "phylum": [f"p{j % 5}" for j in range(m)],
                             "class": None, "order": None, "family": None, "genus": None,
                             "species": None}, index=[f"f{j}" for j in range(m)])
    samples = pd.DataFrame({"group": ["a", "b"] * (n // 2)}, index=[f"s{i}" for i in range(n)])
    return Study(dense, [f"s{i}" for i in range(n)], [f"f{j}" for j in range(m)],
                 taxonomy=taxonomy, samples=samples, source="synthetic")


def test_every_sample_sums_to_depth_and_no_count_grows():
    study = make_study()
    res = rarefy(study, 200, seed=7)
    assert isinstance(res, RarefactionResult)
    assert res.depth == 200 and res.seed == 7
    out = res.study
    assert out.kind == "counts"
    assert np.all(out.sample_totals() == 200)
    original = study.to_dataframe().loc[out.sample_ids, out.feature_ids]
    assert np.all(out.to_dataframe().to_numpy() <= original.to_numpy())
    assert np.all(out.counts.data == np.round(out.counts.data))


def test_dropped_samples_listed_in_order():
    study = make_study()
    totals = pd.Series(study.sample_totals(), index=study.sample_ids)
    depth = int(np.median(totals))
    res = rarefy(study, depth, seed=1)
    expected = tuple(totals.index[totals < depth])
    assert res.dropped == expected
    assert "s0" in res.dropped
    assert list(res.study.sample_ids) == list(totals.index[totals >= depth])
    # metadata follows the samples that are kept
    assert list(res.study.samples.index) == list(res.study.sample_ids)


def test_exact_depth_is_kept_and_whole_sample_returned():
    # a sample with exactly `depth` reads is kept unchanged (all reads drawn)
    study = Study(np.array([[3, 1, 0], [2, 2, 2]]), ["a", "b"], ["x", "y", "z"])
    res = rarefy(study, 4, seed=0)
    assert res.dropped == ()
    a = res.study.to_dataframe().loc["a"]
    assert a["x"] == 3 and a["y"] == 1


def test_same_seed_same_table_different_seed_different_table():
    study = make_study()
    a = rarefy(study, 150, seed=42).study.counts
    b = rarefy(study, 150, seed=42).study.counts
    c = rarefy(study, 150, seed=43).study.counts
    assert (a != b).nnz == 0
    assert a.shape != c.shape or (a != c).nnz > 0


def test_no_seed_draws_one_and_records_it():
    study = make_study()
    res = rarefy(study, 150, seed=None)
    assert isinstance(res.seed, int)
    again = rarefy(study, 150, seed=res.seed)
    assert (again.study.counts != res.study.counts).nnz == 0


def test_features_left_empty_are_removed_like_qiime2():
    # f2 holds a single read in one sample; at depth 1 most features vanish
    study = Study(np.array([[5, 0, 1], [4, 1, 0]]), ["a", "b"], ["f0", "f1", "f2"],
                  taxonomy=pd.DataFrame({"kingdom": ["k0", "k1", "k2"]}, index=["f0", "f1", "f2"]))
    res = rarefy(study, 1, seed=3)
    out = res.study
    assert np.all(out.counts.getnnz(axis=0) > 0)
    assert set(out.feature_ids) <= {"f0", "f1", "f2"}
    assert list(out.taxonomy.index) == list(out.feature_ids)
    step = out.provenance[-1]
    assert step["n_features_removed"] == 3 - out.n_features


def test_keep_empty_features_keeps_the_feature_axis():
    study = Study(np.array([[5, 0, 1], [4, 1, 0]]), ["a", "b"], ["f0", "f1", "f2"])
    res = rarefy(study, 1, seed=3, keep_empty_features=True)
    assert list(res.study.feature_ids) == ["f0", "f1", "f2"]
    assert res.study.provenance[-1]["n_features_removed"] == 0
    assert np.all(res.study.sample_totals() == 1)


def test_provenance_record():
    study = make_study()
    res = rarefy(study, 100, seed=5)
    step = res.study.provenance[-1]
    assert step["step"] == "rarefy"
    assert step["depth"] == 100 and step["seed"] == 5
    assert step["dropped"] == list(res.dropped)
    assert step["n_samples"] == res.study.n_samples
    assert res.study.provenance[:-1] == study.provenance


def test_expected_value_is_depth_times_proportion():
    # one sample, 10 000 rarefactions with a fixed seed: mean count ≈ depth·p
    counts = np.array([500, 300, 150, 40, 9, 1])
    depth = 100
    study = Study(np.tile(counts, (2000, 1)), [f"s{i}" for i in range(2000)],
                  [f"f{j}" for j in range(6)])
    res = rarefy(study, depth, seed=2024)
    mean = np.asarray(res.study.to_dataframe().reindex(columns=study.feature_ids, fill_value=0)
                      .mean(axis=0))
    p = counts / counts.sum()
    expected = depth * p
    # hypergeometric variance: depth·p(1−p)·(N−depth)/(N−1); 2000 draws → SE
    n_total = counts.sum()
    se = np.sqrt(depth * p * (1 - p) * (n_total - depth) / (n_total - 1) / 2000)
    assert np.all(np.abs(mean - expected) <= 5 * se + 1e-9)


def test_with_replacement_option():
    study = make_study()
    res = rarefy(study, 300, seed=9, with_replacement=True)
    assert np.all(res.study.sample_totals() == 300)
    assert res.study.provenance[-1]["with_replacement"] is True


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("depth", [0, -5])
def test_depth_below_one(depth):
    with pytest.raises(InputError, match=rf"^`depth` must be an integer ≥ 1; got {depth}\.$"):
        rarefy(make_study(), depth, seed=0)


@pytest.mark.parametrize("depth", [2.5, "100", None, True])
def test_depth_not_an_integer(depth):
    with pytest.raises(InputError, match=r"`depth` must be an integer ≥ 1; got"):
        rarefy(make_study(), depth, seed=0)


def test_integral_float_depth_accepted():
    assert rarefy(make_study(), 100.0, seed=0).depth == 100


def test_exact_error_wording_for_zero():
    with pytest.raises(InputError) as info:
        rarefy(make_study(), 0, seed=0)
    assert str(info.value) == "`depth` must be an integer ≥ 1; got 0."


def test_relative_study_refused():
    with pytest.raises(InputError, match="holds relative abundances"):
        rarefy(make_study().relative(), 10, seed=0)


def test_all_samples_below_depth_names_max_depth():
    study = Study(np.array([[3, 4], [10, 2], [1, 1]]), ["a", "b", "c"], ["x", "y"])
    with pytest.raises(InputError, match=r"deepest sample, 'b', has 12\. Choose a depth ≤ 12"):
        rarefy(study, 13, seed=0)


def test_bad_seed():
    with pytest.raises(InputError, match="`seed` must be an integer"):
        rarefy(make_study(), 10, seed=-1)


# --------------------------------------------------------------------------- suggest_depth
def test_suggest_depth():
    study = Study(np.array([[5, 5], [1, 0], [3, 4], [9, 9]]), list("abcd"), ["f1", "f2"])
    assert suggest_depth(study, keep=1.0) == 1
    assert suggest_depth(study, keep=0.75) == 7
    assert suggest_depth(study, keep=0.5) == 10
    with pytest.raises(InputError, match="`keep` must be in"):
        suggest_depth(study, keep=0)


# --------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(table=hnp.arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(1, 8)),
                        elements=st.integers(0, 50)),
       depth=st.integers(1, 60), seed=st.integers(0, 2**32))
def test_rarefy_properties(table, depth, seed):
    study = Study(table, [f"s{i}" for i in range(table.shape[0])],
                  [f"f{j}" for j in range(table.shape[1])])
    totals = table.sum(axis=1)
    if not (totals >= depth).any():
        with pytest.raises(InputError, match="every sample has fewer than"):
            rarefy(study, depth, seed=seed)
        return
    res = rarefy(study, depth, seed=seed)
    out = res.study
    assert np.all(out.sample_totals() == depth)
    assert len(res.dropped) == int((totals < depth).sum())
    orig = study.to_dataframe().loc[out.sample_ids, out.feature_ids].to_numpy()
    assert np.all(out.to_dataframe().to_numpy() <= orig)
    assert isinstance(out.counts, sp.csr_matrix)


def test_a_sample_beyond_64_bit_reads_is_refused_by_name():
    s = Study(np.array([[1e19, 5.0], [3.0, 4.0]]), ["huge", "ok"], ["f1", "f2"],
              source="t.tsv")
    with pytest.raises(InputError, match=r"t.tsv: sample 'huge' has 1e\+19 reads; "
                                         r"rarefaction counts reads in 64-bit integers"):
        rarefy(s, 5, seed=1)
