"""Tests for gutaxis.diversity._gram: in-place Gram tiles against numpy's product."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from unittest.mock import patch

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

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
    with ThreadPoolExecutor(threads) as pool:
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
    with ThreadPoolExecutor(threads) as pool:
        _gram.add_gram_block(out, cols, n_rows, pool, threads)
    np.testing.assert_allclose(out, start + cols[:, :n_rows].T @ cols[:, n_rows:],
                               rtol=1e-14, atol=0)


def test_no_columns_add_nothing():
    out = np.ones((4, 4))
    block = np.ones((1, 3))
    _gram.add_gram_upper(out, np.empty((0, 4)), None, 1)
    _gram.add_gram_block(block, np.empty((0, 4)), 1, None, 1)
    assert np.array_equal(out, np.ones((4, 4))) and np.array_equal(block, np.ones((1, 3)))


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


def _blas_threads():
    return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})


def _recording_tiles(seen, n=3):
    def tile(i):
        seen.append((threading.get_ident(), _blas_threads()))
        time.sleep(0.01)
    return [(float(i), partial(tile, i)) for i in range(n)]


def test_the_tiles_run_on_the_pool_with_blas_at_one_thread_and_it_is_given_back():
    before = _blas_threads()
    seen = []
    with ThreadPoolExecutor(2) as pool:
        _gram._run(_recording_tiles(seen, 4), pool)
    assert [threads for _, threads in seen] == [[1]] * 4
    assert threading.get_ident() not in {ident for ident, _ in seen}
    assert _blas_threads() == before


def test_overlapping_callers_give_blas_its_thread_count_back():
    """Two threads' calls overlapping must not leave BLAS at one thread (they take turns)."""
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        cols = _columns(8, 300)
        outs = [np.zeros((300, 300)) for _ in range(2)]

        def many(out):
            with ThreadPoolExecutor(2) as pool:
                for _ in range(20):
                    _gram.add_gram_upper(out, cols, pool, 2)

        threads = [threading.Thread(target=many, args=(out,)) for out in outs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert _blas_threads() == before
    expected = np.triu(20 * (cols.T @ cols))
    for out in outs:
        np.testing.assert_allclose(out, expected, rtol=1e-13, atol=0)


def test_a_failing_tile_leaves_no_other_tile_running():
    """Every tile is finished (or never started) before the error reaches the caller."""
    done = []

    def slow():
        time.sleep(0.2)
        done.append("slow")

    def fail():
        raise RuntimeError("tile failed")

    with ThreadPoolExecutor(2) as pool:
        with pytest.raises(RuntimeError, match="tile failed"):
            _gram._run([(3.0, fail), (2.0, slow), (1.0, slow)], pool)  # fail is waited first
        at_raise = len(done)
        time.sleep(0.5)
    assert at_raise >= 1  # the tile running beside the failing one was waited for
    assert len(done) == at_raise  # and none was still running (or queued) after the raise


def test_the_tiles_hold_the_arrays_they_write_and_read():
    """A queued tile keeps ``out`` and ``columns`` alive (a caller interrupted may leave)."""
    cols = _columns(3, 20)
    out = np.zeros((20, 20))
    captured = []
    with patch.object(_gram, "_run", lambda tiles, pool: captured.extend(tiles)):
        _gram.add_gram_upper(out, cols, None, 2)
        _gram.add_gram_block(np.zeros((5, 15)), cols, 5, None, 2)
    for _, tile in captured:
        arrays = [a for a in tile.args if isinstance(a, np.ndarray)]
        assert len(arrays) == 2 and any(a is cols for a in arrays)


def test_where_another_thread_controls_openblas_the_tiles_run_here():
    """threadpoolctl lets one thread set OpenBLAS's count; from another, tiles go serially."""
    controller = ThreadpoolController()
    original = controller.select(user_api="blas").info()
    release = threading.Event()
    took = threading.Event()

    def hold():
        threadpool_limits(limits=2, user_api="blas")
        took.set()
        release.wait()

    live = threading.Thread(target=hold)
    live.start()
    took.wait()
    try:
        seen = []
        with ThreadPoolExecutor(2) as pool:
            _gram._run(_recording_tiles(seen, 3), pool)
        limited = {tuple(t) for _, t in seen} == {(1,)}
        # either the limit took effect (tiles on the pool; threadpoolctl before 3.6) or it
        # did not (tiles here, on the threaded BLAS) — never tiles on the pool at 2 threads
        assert limited or {ident for ident, _ in seen} == {threading.get_ident()}
    finally:
        release.set()
        live.join()
        if hasattr(type(controller.select(user_api="blas").lib_controllers[0]),
                   "clear_controlling_thread"):
            type(controller.select(user_api="blas").lib_controllers[0]) \
                .clear_controlling_thread(force=True)
        for lib, info in zip(controller.select(user_api="blas").lib_controllers, original,
                             strict=True):
            lib.set_num_threads(info["num_threads"])
