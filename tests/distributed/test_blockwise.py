"""Blockwise beta diversity on a Dask cluster run in-process: equality with the in-memory
kernels, resuming after an interruption, the store's checks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import zarr

from distributed import Client, LocalCluster
from diversity.test_faith_unifrac import random_counts, random_tree
from gutaxis.distributed import TileGrid, blockwise_beta_diversity, read_distances
from gutaxis.diversity import beta_diversity, beta_metrics
from gutaxis.exceptions import InputError, ValidationError
from gutaxis.study import Study

N_SAMPLES, N_FEATURES, TILE = 23, 40, 5  # 5 blocks a side (5, 5, 5, 5, 3): 15 tiles


@pytest.fixture(scope="module")
def client():
    with LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def study() -> Study:
    rng = np.random.default_rng(13)
    tree = random_tree(N_FEATURES, rng)
    counts = random_counts(N_SAMPLES, N_FEATURES, rng, density=0.3)
    counts[3] = 0  # one empty sample (allowed by every metric tested here)
    counts[7] = counts[8]  # two identical samples: distance exactly 0
    return Study(sp.csr_matrix(counts), [f"S{i}" for i in range(N_SAMPLES)],
                 [f"F{i}" for i in range(N_FEATURES)], tree=tree)


@pytest.mark.parametrize("metric", list(beta_metrics()))
def test_equals_the_in_memory_kernels(client, study, tmp_path, metric):
    if metric in ("weighted_normalized_unifrac", "aitchison", "robust_aitchison"):
        # undefined for an empty sample
        study = study.subset_samples([s for s in study.sample_ids if s != "S3"])
    run = blockwise_beta_diversity(study, metric, tmp_path / "d.zarr", cluster=client,
                                   tile_size=TILE)
    grid = TileGrid(study.n_samples, TILE)
    assert run.skipped == 0
    assert sorted(run.computed) == sorted(grid.upper())
    got = read_distances(tmp_path / "d.zarr")
    want = beta_diversity(study, metric)
    assert list(got.ids) == list(study.sample_ids)
    assert got.metric == metric
    np.testing.assert_allclose(got.data, want.data, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got.data, got.data.T)  # mirrored, not recomputed
    assert np.all(np.diag(got.data) == 0)
    s7, s8 = list(got.ids).index("S7"), list(got.ids).index("S8")
    assert got.data[s7, s8] == 0


def test_float32_store_is_the_rounded_float64(client, study, tmp_path):
    blockwise_beta_diversity(study, "braycurtis", tmp_path / "d.zarr", cluster=client,
                             tile_size=TILE, dtype="float32")
    assert zarr.open_array(str(tmp_path / "d.zarr"), path="distances").dtype == np.float32
    want = beta_diversity(study, "braycurtis").data.astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(read_distances(tmp_path / "d.zarr").data, want)


class Stop(Exception):
    """Raised by the progress callback to stop the client mid-run."""


def test_an_interrupted_run_resumes_with_only_the_missing_tiles(client, study, tmp_path):
    store = tmp_path / "d.zarr"
    grid = TileGrid(N_SAMPLES, TILE)

    def stop_after_4(done, total):
        if done >= 4:
            raise Stop

    with pytest.raises(Stop):
        blockwise_beta_diversity(study, "unweighted_unifrac", store, cluster=client,
                                 tile_size=TILE, on_tile=stop_after_4)
    with pytest.raises(ValidationError, match=r"incomplete, \d+ of 15 tiles written; run"):
        read_distances(store)
    marked = np.triu(zarr.open_array(str(store), path="done")[:].astype(bool))
    written_before = {(int(i), int(j)) for i, j in zip(*np.nonzero(marked), strict=True)}
    assert 4 <= len(written_before) < grid.n_tiles

    second = blockwise_beta_diversity(study, "unweighted_unifrac", store, cluster=client,
                                      tile_size=TILE)
    assert second.skipped == len(written_before)
    assert len(second.computed) == grid.n_tiles - len(written_before)
    assert set(second.computed).isdisjoint(written_before)
    assert set(second.computed) | written_before == set(grid.upper())
    want = beta_diversity(study, "unweighted_unifrac").data
    np.testing.assert_allclose(read_distances(store).data, want, rtol=0, atol=1e-12)

    third = blockwise_beta_diversity(study, "unweighted_unifrac", store, cluster=client,
                                     tile_size=TILE)
    assert third.computed == () and third.skipped == grid.n_tiles


def test_a_tile_written_without_its_marker_is_recomputed(client, study, tmp_path):
    """A worker killed between writing a tile and its marker: the tile is done again."""
    store = tmp_path / "d.zarr"
    blockwise_beta_diversity(study, "weighted_unifrac", store, cluster=client, tile_size=TILE)
    distances = zarr.open_array(str(store), path="distances", mode="r+")
    distances[5:10, 15:20] = 99.0  # half-written garbage
    zarr.open_array(str(store), path="done", mode="r+")[1, 3] = 0
    run = blockwise_beta_diversity(study, "weighted_unifrac", store, cluster=client,
                                   tile_size=TILE)
    assert run.computed == ((1, 3),) and run.skipped == 14
    want = beta_diversity(study, "weighted_unifrac").data
    np.testing.assert_allclose(read_distances(store).data, want, rtol=0, atol=1e-12)


def _chunk(store, i, j):
    """The file of tile (i, j) in a zarr 3 store on disk."""
    return store / "distances" / "c" / str(i) / str(j)


def test_a_resumed_run_computes_again_the_tiles_whose_files_were_lost_or_cut(
        client, study, tmp_path):
    """Markers say a tile was written, not that its file is still whole.

    Before, a resumed run trusted them: ``0 of 15 tiles computed``, and the
    matrix held NaN where a chunk had been deleted (PERMANOVA gave NaN).
    """
    store = tmp_path / "d.zarr"
    blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE)
    _chunk(store, 0, 3).unlink()  # a lost file (the mirror of tile (0, 3) survives)
    cut = _chunk(store, 2, 2)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # a copy that stopped
    for read in (read_distances,):
        with pytest.raises(ValidationError, match=r"the store is damaged; run the same command "
                                                  r"again with --resume"):
            read(store)
    run = blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE)
    assert sorted(run.computed) == [(0, 3), (2, 2)] and run.damaged == 2
    assert run.skipped == 13
    want = beta_diversity(study, "braycurtis").data
    np.testing.assert_allclose(read_distances(store).data, want, rtol=0, atol=1e-12)


def test_a_changed_byte_or_a_changed_value_is_found_not_read_as_a_distance(
        client, study, tmp_path):
    """A damaged chunk read as other plausible numbers (no checksum; a review finding)."""
    store = tmp_path / "d.zarr"
    blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE)
    chunk = _chunk(store, 3, 1)
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x10  # one flipped bit inside the compressed values
    chunk.write_bytes(bytes(data))
    with pytest.raises(ValidationError, match="the store is damaged"):
        read_distances(store)
    # a value changed on one side only (a store written before its chunks had a checksum)
    zarr.open_array(str(store), path="distances", mode="r+")[0:5, 15:20] = 0.123
    run = blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE)
    assert sorted(run.computed) == [(0, 3), (1, 3)] and run.damaged == 2
    want = beta_diversity(study, "braycurtis").data
    np.testing.assert_allclose(read_distances(store).data, want, rtol=0, atol=1e-12)


def test_a_store_missing_a_part_is_refused_in_words(client, study, tmp_path):
    import shutil

    store = tmp_path / "d.zarr"
    blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE)
    shutil.rmtree(store / "done")
    with pytest.raises(ValidationError, match=r"its 'done' array cannot be read .*the store is "
                                              r"damaged: start again"):
        blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE)
    with pytest.raises(ValidationError, match=r"its 'done' array cannot be read"):
        read_distances(store)


def test_a_second_run_into_the_same_store_is_refused_while_one_holds_it(
        client, study, tmp_path):
    from gutaxis.exceptions import OutputError
    from gutaxis.outputs import hold_folder

    store = tmp_path / "d.zarr"
    blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE)
    import subprocess
    import sys
    import textwrap

    # another process holds the store (as a run in progress does)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from gutaxis.outputs import hold_folder
        with hold_folder({str(store)!r}):
            print("held", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match="another gutaxis command is writing into this "
                                              "folder"):
            blockwise_beta_diversity(study, "braycurtis", store, cluster=client,
                                     tile_size=TILE)
    finally:
        holder.kill()
        holder.communicate()  # waits, and closes its pipe
    with hold_folder(store):  # free again, and the same thread may hold it twice
        run = blockwise_beta_diversity(study, "braycurtis", store, cluster=client,
                                       tile_size=TILE)
    assert run.skipped == 15


def test_a_tile_larger_than_the_matrix_is_the_matrix(client, study, tmp_path):
    # a huge --tile-size allocated exabytes for the zarr chunk
    run = blockwise_beta_diversity(study, "braycurtis", tmp_path / "d.zarr", cluster=client,
                                   tile_size=10 ** 12)
    assert (run.tile_size, run.n_tiles) == (N_SAMPLES, 1)
    want = beta_diversity(study, "braycurtis").data
    np.testing.assert_allclose(read_distances(tmp_path / "d.zarr").data, want, atol=1e-12)


def test_a_store_from_other_inputs_is_refused(client, study, tmp_path):
    store = tmp_path / "d.zarr"
    blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=TILE)
    with pytest.raises(ValidationError, match="holds distances from metric 'braycurtis'"):
        blockwise_beta_diversity(study, "jaccard", store, cluster=client, tile_size=TILE)
    with pytest.raises(ValidationError, match="holds distances from tile_size 5"):
        blockwise_beta_diversity(study, "braycurtis", store, cluster=client, tile_size=6)
    other = study.replace(counts=study.counts * 2)
    with pytest.raises(ValidationError, match="another table, tree or options"):
        blockwise_beta_diversity(other, "braycurtis", store, cluster=client, tile_size=TILE)


@pytest.mark.parametrize(("kw", "message"), [
    ({"tile_size": 1}, r"`tile_size` must be an integer ≥ 2; got 1"),
    ({"dtype": "float16"}, r"`dtype` must be one of float64, float32; got 'float16'"),
    ({"cluster": 3}, r"`cluster` must be 'local', a scheduler address"),
])
def test_bad_options_are_refused(study, tmp_path, kw, message):
    with pytest.raises(InputError, match=message):
        blockwise_beta_diversity(study, "braycurtis", tmp_path / "d.zarr", **kw)


def test_a_tree_metric_without_a_tree_is_refused(study, tmp_path):
    with pytest.raises(InputError, match="unweighted_unifrac cannot be computed .* needs a"):
        blockwise_beta_diversity(study.replace(tree=None), "unweighted_unifrac",
                                 tmp_path / "d.zarr")


def test_a_worker_killed_mid_run_loses_no_tile(study, tmp_path):
    """Dask moves the dead worker's tiles to the living one; every tile is in the store."""
    store = tmp_path / "d.zarr"
    with LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        victim = next(iter(cluster.workers.values()))
        killed = []

        def kill_after_3(done, total):
            if done >= 3 and not killed:
                killed.append(victim.address)
                cluster.sync(victim.close, executor_wait=False)

        run = blockwise_beta_diversity(study, "unweighted_unifrac", store, cluster=c,
                                       tile_size=TILE, on_tile=kill_after_3)
        assert killed and len(c.scheduler_info()["workers"]) == 1
    assert run.skipped == 0 and set(run.computed) == set(TileGrid(N_SAMPLES, TILE).upper())
    want = beta_diversity(study, "unweighted_unifrac").data
    np.testing.assert_allclose(read_distances(store).data, want, rtol=0, atol=1e-12)
