"""``gutaxis diversity --cluster``: blockwise matrices into OUT/beta/<metric>.zarr, equal to the
in-memory ones, resumed after an interruption; the options' checks.

The cluster runs in this process (``LocalCluster(processes=False)``); its ``inproc://`` address
is what the command line is given, as it would be given ``tcp://scheduler:8786``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from builders.cohort import cohort_files
from distributed import Client, LocalCluster
from diversity.test_faith_unifrac import random_tree
from gutaxis import io as gio
from gutaxis.cli import app
from gutaxis.commands import DiversityOptions, run_diversity
from gutaxis.exceptions import InputError, OutputError, ValidationError

METRICS = ("unweighted_unifrac", "weighted_unifrac", "braycurtis")
TILE = 5  # 24 samples: 5 blocks a side, 15 tiles


@pytest.fixture(scope="module")
def address():
    with LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                      dashboard_address=":0") as cluster, Client(cluster):
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cohort")
    table, _ = cohort_files(folder)
    tree = gio.write_tree(random_tree(30, np.random.default_rng(5)), folder / "tree.nwk")
    return table, tree


@pytest.fixture(scope="module")
def in_memory(inputs: tuple[Path, Path]) -> dict[str, gio.DistanceMatrix]:
    table, tree = inputs
    result = run_diversity(DiversityOptions(table=table, tree=tree, metrics=METRICS))
    return result.beta


def _options(inputs: tuple[Path, Path], address: str, **more: object) -> DiversityOptions:
    table, tree = inputs
    return DiversityOptions(table=table, tree=tree, metrics=METRICS, output_format="zarr",
                            cluster=address, tile_size=TILE, **more)


def test_the_stores_equal_the_in_memory_matrices_and_a_rerun_resumes(inputs, address, in_memory,
                                                                     tmp_path):
    out = tmp_path / "out"
    result = run_diversity(_options(inputs, address), store_dir=out / "beta")
    assert result.beta == {} and set(result.beta_stores) == set(METRICS)
    written = result.write(out)
    for metric in METRICS:
        assert written[f"beta/{metric}"] == out / "beta" / f"{metric}.zarr"
        got = gio.read_distance_zarr(out / "beta" / f"{metric}.zarr")
        want = in_memory[metric]
        assert list(got.ids) == list(want.ids)
        np.testing.assert_allclose(got.data, want.data, rtol=0, atol=1e-12)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["cluster"] == address and prov["parameters"]["tile_size"] == TILE
    assert {m: (r["tiles"], r["computed"], r["already_written"])
            for m, r in prov["blockwise"].items()} == {m: (15, 15, 0) for m in METRICS}

    again = run_diversity(_options(inputs, address), store_dir=out / "beta")
    assert {m: (r["computed"], r["already_written"])
            for m, r in again.provenance["blockwise"].items()} == {m: (0, 15) for m in METRICS}
    with pytest.raises(OutputError, match="already holds provenance.json"):
        again.write(out)
    again.write(out, overwrite=True)  # keeps the stores, replaces the rest
    np.testing.assert_allclose(gio.read_distance_zarr(out / "beta" / "braycurtis.zarr").data,
                               in_memory["braycurtis"].data, rtol=0, atol=1e-12)


def test_the_command_line_refuses_a_used_folder_then_resumes_in_it(inputs, address, in_memory,
                                                                  tmp_path):
    table, tree = inputs
    out = tmp_path / "out"
    args = ["diversity", str(table), "--tree", str(tree), "--metrics", "braycurtis",
            "--format", "zarr", "--precision", "float32", "--cluster", address,
            "--tile-size", str(TILE), "--out", str(out)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert f"braycurtis: 15 of 15 tiles computed on {address}, 0 found written" in first.output
    refused = CliRunner().invoke(app, args)
    # (gutaxis.cli.main prints a GutaxisError and exits with 2; the runner keeps the exception)
    assert isinstance(refused.exception, OutputError)
    assert "or --resume to go on with an interrupted" in str(refused.exception)
    resumed = CliRunner().invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "braycurtis: 0 of 15 tiles computed" in resumed.output
    # a tile's file lost since: the resumed run finds it, says so and computes it again
    (out / "beta" / "braycurtis.zarr" / "distances" / "c" / "1" / "2").unlink()
    repaired = CliRunner().invoke(app, [*args, "--resume"])
    assert repaired.exit_code == 0, repaired.output
    said = " ".join(repaired.output.split())
    assert "braycurtis: 1 of 15 tiles computed" in said
    assert "1 tile(s) marked written could not be read back whole" in said
    # while another process holds OUT (a run in progress), neither --overwrite nor
    # --resume may remove or recompute its tiles
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c",
                               "import time; from gutaxis.outputs import hold_folder\n"
                               f"with hold_folder({str(out)!r}):\n"
                               "    print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        for extra in (["--overwrite"], ["--resume"]):
            busy = CliRunner().invoke(app, [*args, *extra])
            assert isinstance(busy.exception, OutputError), busy.output
            assert "another gutaxis command is writing into this folder" in str(busy.exception)
        assert (out / "beta" / "braycurtis.zarr" / "zarr.json").is_file()
    finally:
        holder.kill()
        holder.communicate()
    got = gio.read_distance_zarr(out / "beta" / "braycurtis.zarr")
    want = in_memory["braycurtis"].data.astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(got.data, want)
    for extra, message in ((["--resume", "--overwrite"], "not both"),):
        bad = CliRunner().invoke(app, [*args, *extra])
        assert bad.exit_code == 2 and message in bad.output
    no_cluster = CliRunner().invoke(app, ["diversity", str(table), "--resume", "--out",
                                          str(tmp_path / "x")])
    assert no_cluster.exit_code == 2 and "add --cluster" in no_cluster.output


@pytest.mark.parametrize("fields, message", [
    ({"cluster": "local", "output_format": "tsv"}, "add --format zarr"),
    ({"cluster": "lokal", "output_format": "zarr"}, "--cluster must be 'local' or a Dask"),
    ({"tile_size": 1, "output_format": "zarr"}, "--tile-size"),
])
def test_options_are_checked_before_any_work(inputs, fields, message):
    with pytest.raises(ValidationError, match=message):
        DiversityOptions(table=inputs[0], **fields)


def test_a_cluster_run_needs_a_folder_for_its_stores(inputs, address):
    with pytest.raises(InputError, match="give run_diversity a store_dir"):
        run_diversity(_options(inputs, address))


def test_tile_size_is_the_chunk_of_an_in_memory_zarr_matrix(inputs, in_memory, tmp_path):
    table, tree = inputs
    result = run_diversity(DiversityOptions(table=table, tree=tree, metrics=("braycurtis",),
                                            output_format="zarr", tile_size=7))
    result.write(tmp_path)
    store = tmp_path / "beta" / "braycurtis.zarr"
    assert zarr.open_array(str(store), path="distances").chunks == (7, 7)
    np.testing.assert_array_equal(gio.read_distance_zarr(store).data,
                                  in_memory["braycurtis"].data)
