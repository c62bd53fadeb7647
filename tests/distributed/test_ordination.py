"""PCoA and PERMANOVA of a tiled matrix: the in-memory results, never the whole matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from distributed import Client, LocalCluster
from diversity.test_faith_unifrac import random_counts, random_tree
from gutaxis.distributed import blockwise_beta_diversity, blockwise_pcoa, blockwise_permanova
from gutaxis.diversity import beta_diversity
from gutaxis.exceptions import InputError, ValidationError
from gutaxis.ordination import pcoa
from gutaxis.stats import permanova
from gutaxis.study import Study

N_SAMPLES, TILE = 61, 16  # 4 blocks a side (16, 16, 16, 13)


@pytest.fixture(scope="module")
def client():
    with LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def study() -> Study:
    rng = np.random.default_rng(7)
    counts = random_counts(N_SAMPLES, 50, rng, density=0.3)
    counts[:20, :10] += rng.geometric(0.05, (20, 10))  # some structure: a group apart
    return Study(sp.csr_matrix(counts), [f"S{i}" for i in range(N_SAMPLES)],
                 [f"F{i}" for i in range(50)], tree=random_tree(50, rng))


@pytest.mark.parametrize("metric", ["braycurtis", "unweighted_unifrac"])
def test_leading_axes_equal_the_in_memory_pcoa(client, study, tmp_path, metric):
    store = tmp_path / "d.zarr"
    blockwise_beta_diversity(study, metric, store, cluster=client, tile_size=TILE)
    got = blockwise_pcoa(store, n_components=3, cluster=client)
    want = pcoa(beta_diversity(study, metric), n_components=3, method="eigh",
                warn_negative=False)
    assert list(got.ids) == list(want.ids) and got.metric == metric
    np.testing.assert_allclose(got.eigenvalues, want.eigenvalues, rtol=1e-9)
    np.testing.assert_allclose(got.total_inertia, want.total_inertia, rtol=1e-12)
    np.testing.assert_allclose(got.proportion_explained, want.proportion_explained, rtol=1e-9)
    # same sign rule, so equal as they are; up to sign would also be enough
    np.testing.assert_allclose(got.coordinates, want.coordinates, rtol=0, atol=1e-6)
    assert got.method == "blockwise-subspace" and np.isnan(got.smallest_eigenvalue)


def test_an_incomplete_store_is_refused(client, study, tmp_path):
    store = tmp_path / "d.zarr"

    class Stop(Exception):
        pass

    def stop(done, total):
        raise Stop

    with pytest.raises(Stop):
        blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE,
                                 on_tile=stop)
    with pytest.raises(ValidationError, match="incomplete"):
        blockwise_pcoa(store, cluster=client)


def test_too_many_components_are_refused(client, study, tmp_path):
    store = tmp_path / "d.zarr"
    blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE)
    with pytest.raises(InputError, match=r"`n_components` must be below the number of samples"):
        blockwise_pcoa(store, n_components=61, cluster=client)


@pytest.mark.parametrize(("metric", "groups"), [("braycurtis", 2), ("unweighted_unifrac", 3)])
def test_permanova_equals_the_in_memory_test(client, study, tmp_path, metric, groups):
    store = tmp_path / "d.zarr"
    blockwise_beta_diversity(study, metric, store, cluster=client, tile_size=TILE)
    # the first 20 samples were made different: group 'a'; the rest split at random
    rng = np.random.default_rng(1)
    labels = ["a"] * 20 + list(rng.choice(["b", "c"][: groups - 1], N_SAMPLES - 20))
    grouping = pd.Series(labels, index=study.sample_ids, name="arm")[::-1]  # matched by id
    got = blockwise_permanova(store, grouping, permutations=299, seed=5, cluster=client)
    want = permanova(beta_diversity(study, metric), grouping, permutations=299, seed=5)
    np.testing.assert_allclose(got.statistic, want.statistic, rtol=1e-10)
    np.testing.assert_allclose(got.effect_size, want.effect_size, rtol=1e-10)
    assert got.p_value == want.p_value and got.n_groups == want.n_groups == groups
    for key in ("ss_total", "ss_within", "ss_between"):
        np.testing.assert_allclose(got.extra[key], want.extra[key], rtol=1e-10)
    for key in ("df_between", "df_within", "group_sizes", "permutation_design", "grouping"):
        assert got.extra[key] == want.extra[key]


def test_permanova_refuses_a_grouping_that_does_not_fit(client, study, tmp_path):
    store = tmp_path / "d.zarr"
    blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE)
    with pytest.raises(InputError, match="one group per sample of the store"):
        blockwise_permanova(store, ["a", "b"], cluster=client)
    with pytest.raises(InputError, match="at least 2 groups"):
        blockwise_permanova(store, ["a"] * N_SAMPLES, cluster=client)
