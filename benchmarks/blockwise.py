"""Blockwise beta diversity on a local Dask cluster against the in-memory kernel.

Usage::

    .venv/bin/python -m benchmarks.blockwise                    # 4000 samples x 5000 features
    .venv/bin/python -m benchmarks.blockwise --size 1000x2000 --tile 250   # a quick rehearsal
    .venv/bin/python -m benchmarks.blockwise --metric braycurtis   # any beta metric (default
                                                                   # unweighted UniFrac)

Both sides run on the same synthetic table (:mod:`benchmarks.synthetic`) and tree:

* in memory: :func:`gutaxis.diversity.beta_diversity` with every core, after a JIT
  warm-up on 200 samples;
* blockwise: :func:`gutaxis.distributed.blockwise_beta_diversity` on a
  ``LocalCluster`` of ``--workers`` processes × 1 thread (each tile's kernel on 1
  thread), into a fresh zarr store; timed end to end (scatter, every tile, the writes),
  the cluster's start-up timed apart.  Workers are warmed (JIT) on a 200-sample run
  first.

It checks that the two matrices agree (max |difference|), reports the per-tile times,
the worker time per sample pair (the cost model's unit), each worker's resident memory
at the end, the store's size on disk, and writes ``.bench/blockwise.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import synthetic

BENCH_DIR = Path(".bench")
DEFAULT_METRIC = "unweighted_unifrac"


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _peak_rss() -> int:
    """The worker process's high-water resident memory (``ru_maxrss``, KiB on Linux)."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _spot_check(study: Any, metric: str, store: Path, n_check: int, seed: int
                ) -> tuple[int, float]:
    """Compare ``n_check`` random samples' submatrix of the store with the in-memory kernel.

    For stores too large to load: the rows and columns of a random subset are
    read from the store (``oindex``) and the kernel runs on that subset alone.
    """
    import zarr

    from gutaxis.diversity import beta_diversity

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(study.n_samples, size=min(n_check, study.n_samples),
                             replace=False))
    stored = zarr.open_array(str(store), path="distances", mode="r").oindex[idx, idx]
    want = beta_diversity(study.subset_samples([study.sample_ids[i] for i in idx]), metric)
    return len(idx), float(np.max(np.abs(np.asarray(stored, dtype=np.float64) - want.data)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.blockwise", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="4000x5000", help="SAMPLESxFEATURES (default 4000x5000)")
    p.add_argument("--tile", type=int, default=1000, help="tile side in samples (default 1000)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--metric", default=DEFAULT_METRIC,
                   help=f"a beta metric (default {DEFAULT_METRIC})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=str(BENCH_DIR / "blockwise.json"))
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"),
                   help="the store's precision (default float64)")
    p.add_argument("--no-in-memory", action="store_true",
                   help="for sizes whose matrix does not fit in memory: skip the in-memory "
                        "run; check a random 1,000-sample submatrix of the store against the "
                        "kernel run on those samples instead")
    p.add_argument("--keep", action="store_true", help="keep the store (its path is printed)")
    p.add_argument("--with-stats", action="store_true",
                   help="also time blockwise_pcoa (3 axes) and blockwise_permanova (99 "
                        "permutations, 2 random groups) against the in-memory calls")
    args = p.parse_args(argv)
    n, m = (int(v) for v in args.size.lower().split("x"))
    metric = args.metric

    from distributed import Client, LocalCluster
    from gutaxis.distributed import (
        blockwise_beta_diversity,
        blockwise_pcoa,
        blockwise_permanova,
        read_distances,
    )
    from gutaxis.diversity import beta_diversity
    from gutaxis.ordination import pcoa
    from gutaxis.stats import permanova

    table = synthetic.gut_table(n, m, args.seed)
    tree = synthetic.random_tree(list(table.feature_ids), args.seed)
    study = synthetic.study(table, tree)
    warm = study.subset_samples(list(study.sample_ids[:200]))

    beta_diversity(warm, metric)
    in_memory = None
    in_memory_s = float("nan")
    if not args.no_in_memory:
        t0 = time.perf_counter()
        in_memory = beta_diversity(study, metric)
        in_memory_s = time.perf_counter() - t0

    work = Path(tempfile.mkdtemp(prefix="gutaxis-blockwise-"))
    try:
        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                               dashboard_address=":0", processes=True)
        client = Client(cluster)
        startup_s = time.perf_counter() - t0
        with cluster, client:
            blockwise_beta_diversity(warm, metric, work / "warm.zarr", cluster=client,
                                     tile_size=100)
            run = blockwise_beta_diversity(study, metric, work / "d.zarr", cluster=client,
                                           tile_size=args.tile, dtype=args.dtype)
            worker_rss = sorted(client.run(_rss).values())
            worker_peak = sorted(client.run(_peak_rss).values())
            stats: dict[str, float] = {}
            if args.with_stats and in_memory is not None:
                groups = np.random.default_rng(args.seed).choice(["a", "b"], n)
                t0 = time.perf_counter()
                ordination = blockwise_pcoa(work / "d.zarr", cluster=client)
                stats["blockwise_pcoa_seconds"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                test = blockwise_permanova(work / "d.zarr", groups, permutations=99, seed=0,
                                           cluster=client)
                stats["blockwise_permanova_seconds"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                want_ordination = pcoa(in_memory, n_components=3, warn_negative=False)
                stats["pcoa_seconds"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                want_test = permanova(in_memory, groups, permutations=99, seed=0)
                stats["permanova_seconds"] = time.perf_counter() - t0
                stats["pcoa_max_abs_difference"] = float(np.max(np.abs(
                    ordination.coordinates - want_ordination.coordinates)))
                stats["pseudo_f_relative_difference"] = abs(
                    test.statistic / want_test.statistic - 1)
                stats["same_p"] = float(test.p_value == want_test.p_value)
        if in_memory is not None:
            stored = read_distances(work / "d.zarr")
            checked = n
            max_diff = float(np.max(np.abs(stored.data - in_memory.data)))
        else:
            checked, max_diff = _spot_check(study, metric, work / "d.zarr", 1000, args.seed)
        disk = int(subprocess.run(["du", "-sb", str(work / "d.zarr")], capture_output=True,
                                  text=True, check=True).stdout.split()[0])
    finally:
        if args.keep:
            print(f"store kept: {work / 'd.zarr'}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    pairs = n * (n + 1) / 2
    worker_s = float(sum(run.tile_seconds))
    result = {
        "machine": {"cores": __import__("os").cpu_count(), "cpu": platform.processor(),
                    "python": platform.python_version()},
        "size": f"{n}x{m}", "metric": metric, "tile_size": args.tile,
        "workers": args.workers, "n_tiles": run.n_tiles,
        "in_memory_seconds": in_memory_s, "blockwise_seconds": run.seconds,
        "cluster_startup_seconds": startup_s,
        "tile_seconds": list(run.tile_seconds), "worker_seconds": worker_s,
        "worker_seconds_per_pair": worker_s / pairs,
        "worker_rss_bytes": worker_rss, "worker_peak_rss_bytes": worker_peak,
        "dtype": args.dtype, "store_bytes": disk, "samples_checked": checked,
        "max_abs_difference": max_diff,
        **stats,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    tiles = np.array(run.tile_seconds)
    print(f"{metric} {n} x {m}, tile {args.tile} ({run.n_tiles} tiles), "
          f"{args.workers} workers × 1 thread")
    print(f"  in memory (all cores):   {in_memory_s:8.1f} s"
          + ("  (skipped: --no-in-memory)" if in_memory is None else ""))
    print(f"  blockwise end to end:    {run.seconds:8.1f} s  (cluster start-up {startup_s:.1f} s "
          f"apart); ratio {run.seconds / in_memory_s:.2f}")
    print(f"  tile time: median {np.median(tiles):.2f} s, min {tiles.min():.2f}, "
          f"max {tiles.max():.2f}; worker time {worker_s:.1f} s = "
          f"{worker_s / pairs * 1e9:.1f} ns per pair")
    print(f"  worker RSS at end: {', '.join(f'{r / 2**20:.0f} MiB' for r in worker_rss)}; "
          f"peak {', '.join(f'{r / 2**20:.0f} MiB' for r in worker_peak)}")
    width = 4 if args.dtype == "float32" else 8
    print(f"  store on disk: {disk / 2**20:.1f} MiB (n² · {width} = "
          f"{n * n * width / 2**20:.1f} MiB)")
    print(f"  max |blockwise − in memory| = {max_diff:.2e} (over {checked:,} samples' pairs)")
    for key, value in stats.items():
        print(f"  {key}: {value:.3g}")
    tolerance = 1e-12 if args.dtype == "float64" else 1e-7  # float32: rounded once
    return 0 if max_diff <= tolerance else 1


if __name__ == "__main__":
    raise SystemExit(main())
