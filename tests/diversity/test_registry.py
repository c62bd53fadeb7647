"""The metric registry: the kernel contract every registered beta metric keeps."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from diversity.test_faith_unifrac import random_counts, random_tree
from gutaxis.diversity import beta_metrics
from gutaxis.diversity._registry import check_block_rows
from gutaxis.exceptions import InputError

N_SAMPLES, N_FEATURES = 23, 40


@pytest.mark.parametrize("name", list(beta_metrics()))
def test_every_beta_kernel_computes_the_blocks_of_its_square(name):
    """A new metric without ``n_rows`` fails here: the blockwise tiles rely on it."""
    metric = beta_metrics()[name]
    rng = np.random.default_rng(3)
    counts = sp.csr_matrix(random_counts(N_SAMPLES, N_FEATURES, rng, density=0.4)
                           .astype(np.float64))
    options = {}
    if metric.needs_tree:
        options = {"tree": random_tree(N_FEATURES, rng),
                   "feature_ids": [f"F{i}" for i in range(N_FEATURES)]}
    square = metric.func(counts, **options)
    for n_rows in (1, 9, N_SAMPLES - 1):
        block = metric.func(counts, **options, n_rows=n_rows)
        assert block.shape == (n_rows, N_SAMPLES - n_rows) and block.dtype == np.float64
        # the UniFracs' dense part is a gemm in a block and a syrk in the square
        np.testing.assert_allclose(block, square[:n_rows, n_rows:], rtol=0, atol=1e-14)
    with pytest.raises(InputError, match="n_rows must be an integer from 1 to 22"):
        metric.func(counts, **options, n_rows=N_SAMPLES)


@pytest.mark.parametrize("n_rows", [0, 3, 1.0, False, np.int64(-2)])
def test_block_rows_are_checked(n_rows):
    with pytest.raises(InputError, match=r"braycurtis: n_rows must be an integer from 1 to 2 "
                                         r"\(the table has 3 samples\)"):
        check_block_rows(n_rows, 3, "braycurtis")
    assert check_block_rows(np.int64(2), 3, "braycurtis") == 2
    with pytest.raises(InputError, match="jaccard: a block needs two samples at least; the "
                                         "table has 1"):
        check_block_rows(1, 1, "jaccard")
