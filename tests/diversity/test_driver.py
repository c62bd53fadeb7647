"""The drivers: metric lookup, applicability checks, ids on results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gutaxis import Study
from gutaxis.diversity import alpha_diversity, beta_diversity
from gutaxis.exceptions import InputError, UnknownMetricError


def test_empty_samples_are_named_by_id():
    study = Study(np.array([[1, 2], [0, 0], [0, 0]]), ["full", "e1", "e2"], ["a", "b"])
    with pytest.raises(InputError, match=r"2 sample\(s\) in <memory> are empty: e1, e2\. Leave "
                                         r"them out first \(gutaxis diversity --drop-empty; "
                                         r"rarefying drops them too\)\.$"):
        beta_diversity(study, "braycurtis")


def test_unknown_names_list_the_valid_ones():
    study = Study(np.array([[1, 2]]), ["s"], ["a", "b"])
    with pytest.raises(UnknownMetricError, match=r"unknown alpha diversity metric 'shannon'; "
                                                 r"did you mean 'shannon_entropy'\? \(the "
                                                 r"valid names are: .*shannon_entropy"):
        alpha_diversity(study, ["shannon"])
    with pytest.raises(UnknownMetricError, match=r"did you mean 'braycurtis'\?.*valid names "
                                                 r"are: .*braycurtis"):
        beta_diversity(study, "bray")
    with pytest.raises(UnknownMetricError, match=r"unknown beta diversity metric 'qqq'; the "
                                                 r"valid names are: "):
        beta_diversity(study, "qqq")


def test_count_metrics_refuse_relative_tables_and_tree_metrics_need_a_tree():
    rel = Study(np.array([[0.5, 0.5]]), ["s"], ["a", "b"], kind="relative")
    with pytest.raises(InputError, match="chao1 cannot be computed on .*: defined on read counts"):
        alpha_diversity(rel, ["chao1"])
    with pytest.raises(InputError, match="faith_pd cannot be computed on .*: needs a phylogenetic"):
        alpha_diversity(rel, ["faith_pd"])


def test_results_carry_sample_ids():
    study = Study(np.array([[1, 1, 0], [0, 3, 3]]), ["x", "y"], ["a", "b", "c"])
    alpha = alpha_diversity(study, ["observed_features"])
    assert list(alpha.index) == ["x", "y"] and alpha.index.name == "sample_id"
    dm = beta_diversity(study, "jaccard")
    assert list(dm.ids) == ["x", "y"]
    # Jaccard by hand: shared {b}, union {a, b, c} → 1 − 1/3
    assert dm.data[0, 1] == pytest.approx(2 / 3, rel=1e-15)


def test_n_threads_limits_blas_pools_and_keeps_results():
    from threadpoolctl import threadpool_info

    from gutaxis.diversity._driver import _blas_threads

    with _blas_threads(1):
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    rng = np.random.default_rng(3)
    study = Study(rng.poisson(2.0, (30, 8)) + 1, [f"s{i}" for i in range(30)],
                  [f"f{j}" for j in range(8)])
    for metric in ("braycurtis", "aitchison"):
        np.testing.assert_array_equal(beta_diversity(study, metric, n_threads=1).data,
                                      beta_diversity(study, metric).data)


def test_applicable_metrics_judges_empty_samples():
    from gutaxis.diversity import applicable_metrics, beta_metrics

    one = Study(np.array([[0, 0], [1, 2], [3, 1]]), ["e", "a", "b"], ["f", "g"])
    alpha, beta, skipped = applicable_metrics(
        one, ["shannon_entropy", "braycurtis", "jaccard", "aitchison"])
    # one empty sample: Bray–Curtis is defined (distance 1), the default Aitchison is not
    assert (alpha, beta) == (["shannon_entropy"], ["braycurtis", "jaccard"])
    assert skipped == {"aitchison": "undefined for a sample with no reads, and 1 sample(s) have "
                                    "none (e); leave them out first (--drop-empty)"}
    two = Study(np.array([[0, 0], [0, 0], [3, 1]]), ["e1", "e2", "b"], ["f", "g"])
    _, beta, skipped = applicable_metrics(two, ["braycurtis", "jaccard"])
    assert beta == ["jaccard"] and set(skipped) == {"braycurtis"}
    with pytest.raises(InputError, match=r"^braycurtis cannot be computed on <memory>: undefined "
                                         r"between two samples with no reads"):
        applicable_metrics(two, ["braycurtis"], asked=["braycurtis"])
    # the registry says which: the metrics that refuse empty samples, and how many they allow
    assert {n: m.max_empty for n, m in beta_metrics().items() if m.max_empty is not None} == \
        {"braycurtis": 1, "aitchison": 0, "robust_aitchison": 0}


def test_sequences_missing_for_some_features_are_named_not_a_generic_no_tree():
    from gutaxis.diversity import applicable_metrics

    study = Study(np.array([[1, 2, 3], [3, 2, 1]]), ["s1", "s2"], ["A", "B", "C"],
                  sequences=pd.Series({"A": "ACGT", "B": "ACGA"}).reindex(["A", "B", "C"]))
    _, _, skipped = applicable_metrics(study, ["faith_pd"])
    assert skipped["faith_pd"] == (
        "needs a phylogenetic tree, and the sequences given have none for 1 feature(s) of "
        "the table (C): give every feature's sequence, or --tree")
    whole = Study(np.array([[1, 2]]), ["s1"], ["A", "B"])
    _, _, skipped = applicable_metrics(whole, ["faith_pd"])
    assert skipped["faith_pd"].startswith("needs a phylogenetic tree: give --tree")
