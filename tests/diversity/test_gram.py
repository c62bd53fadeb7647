"""Tests for gutaxis.diversity._gram: in-place Gram tiles against numpy's product."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from gutaxis.diversity import _gram


@pytest.fixture
def small_tiles(monkeypatch):
    """Tiles of at most 13 samples: many tiles, some cut at the edge."""
    monkeypatch.setattr(_gram, "MAX_TILE", 13)
    monkeypatch.setattr(_gram, "MIN_TILE", 1)


def _columns(k, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((k, n)) * (rng.random((k, n)) < 0.5)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 40, 61])
def test_the_upper_triangle_gets_the_product_and_below_is_untouched(small_tiles, threads, n):
    cols = _columns(17, n)
    start = np.arange(n * n, dtype=np.float64).reshape(n, n)  # something to add to
    out = start.copy()
    with _gram.single_threaded_blas(), ThreadPoolExecutor(threads) as pool:
        _gram.add_gram_upper(out, cols, pool, threads)
        _gram.add_gram_upper(out, cols[:5], pool, threads)  # accumulates
    expected = start + cols.T @ cols + cols[:5].T @ cols[:5]
    upper = np.triu_indices(n)
    np.testing.assert_allclose(out[upper], expected[upper], rtol=1e-14, atol=0)
    lower = np.tril_indices(n, -1)
    assert np.array_equal(out[lower], start[lower])


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize(("n", "n_rows"), [(2, 1), (40, 1), (40, 39), (61, 30)])
def test_the_block_gets_the_product_of_the_two_groups(small_tiles, threads, n, n_rows):
    cols = _columns(9, n, seed=1)
    start = np.full((n_rows, n - n_rows), 0.25)
    out = start.copy()
    with _gram.single_threaded_blas(), ThreadPoolExecutor(threads) as pool:
        _gram.add_gram_block(out, cols, n_rows, pool, threads)
    np.testing.assert_allclose(out, start + cols[:, :n_rows].T @ cols[:, n_rows:],
                               rtol=1e-14, atol=0)


def test_no_columns_add_nothing():
    out = np.ones((4, 4))
    _gram.add_gram_upper(out, np.empty((0, 4)), None, 1)
    _gram.add_gram_block(out[:1, 1:].copy(), np.empty((0, 4)), 1, None, 1)
    assert np.array_equal(out, np.ones((4, 4)))


def test_arrays_the_blas_cannot_address_are_refused_before_any_call():
    cols = _columns(3, 6)
    with pytest.raises(ValueError, match="columns must be a C-contiguous 2-D float64"):
        _gram.add_gram_upper(np.zeros((6, 6)), np.asfortranarray(cols), None, 1)
    with pytest.raises(ValueError, match="out must be a C-contiguous 2-D float64"):
        _gram.add_gram_upper(np.zeros((6, 6), dtype=np.float32), cols, None, 1)
    with pytest.raises(ValueError, match=r"out has shape \(5, 5\); \(6, 6\) was expected"):
        _gram.add_gram_upper(np.zeros((5, 5)), cols, None, 1)
    with pytest.raises(ValueError, match="out must be a C-contiguous"):
        _gram.add_gram_block(np.zeros((6, 6))[:2, 2:], cols, 2, None, 1)
    with pytest.raises(ValueError, match="n_rows must be from 1 to 5; got 6"):
        _gram.add_gram_block(np.zeros((6, 0)), cols, 6, None, 1)
    frozen = np.zeros((6, 6))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        _gram.add_gram_upper(frozen, cols, None, 1)


def test_blas_runs_single_threaded_inside_the_context():
    from threadpoolctl import threadpool_info

    with _gram.single_threaded_blas():
        assert {lib["num_threads"] for lib in threadpool_info()
                if lib["user_api"] == "blas"} == {1}
