"""`gutaxis diversity` against Striped UniFrac's `ssu`, end to end, in the same run.

Usage::

    .venv/bin/python -m benchmarks.ssu                   # 5,000 × 10,000: both UniFracs, TSV, HDF5
    .venv/bin/python -m benchmarks.ssu --sizes 1000x2000 # a short rehearsal
    .venv/bin/python -m benchmarks.ssu --sizes 20000x20000 --formats hdf5 --no-warm \
        --metrics unweighted_unifrac                     # ssu alone takes ~8 min here
    .venv/bin/python -m benchmarks.ssu --sizes 20000x20000 --formats hdf5 --no-warm \
        --gutaxis-only                                   # gutaxis alone, both UniFracs

Both tools run as a user runs them — a fresh process, from the same BIOM
(HDF5) table and Newick tree on disk to the distance matrix on disk — with
the same number of threads (``OMP_NUM_THREADS`` for `ssu`, ``--threads``
for gutaxis) and the same output format: `ssu`'s ``ascii`` lsmat against
``--format tsv``, its ``hdf5_fp64`` against ``--format hdf5`` (both the
``order``/``matrix`` layout, float64). Each figure is the whole process's
wall time and its peak resident memory (``wait4``), after one untimed run of
each on the same inputs (so that both read a warm page cache and gutaxis's
numba cache is filled, as it is for a user from the second run on).  The two
matrices are then read back and compared (largest absolute difference).

`ssu` comes from Debian's ``unifrac-tools`` package; when it is missing and
the benchmark runs as root it is installed with apt, otherwise the comparison
is skipped with a note.  Results go to ``.bench/ssu.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import synthetic

BENCH_DIR = Path(".bench")
#: gutaxis metric name → ssu method
METHODS = {"unweighted_unifrac": "unweighted_fp64",
           "weighted_normalized_unifrac": "weighted_normalized_fp64"}
#: gutaxis --format → (ssu --format, the file gutaxis writes under beta/)
FORMATS = {"tsv": ("ascii", "{metric}.tsv"), "hdf5": ("hdf5_fp64", "{metric}.h5")}


def ensure_ssu() -> str | None:
    """The path of `ssu`, installing Debian's unifrac-tools when possible; None if not."""
    found = shutil.which("ssu")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                     "unifrac-tools"]):
        if subprocess.run(command, env=env, capture_output=True).returncode:
            return None
    return shutil.which("ssu")


def inputs(n_samples: int, n_features: int, seed: int) -> tuple[Path, Path]:
    """The BIOM HDF5 table and the Newick tree of one size (cached under .bench/ssu/)."""
    import biom

    folder = BENCH_DIR / "ssu" / f"{n_samples}x{n_features}-{seed}"
    table_path, tree_path = folder / "table.biom", folder / "tree.nwk"
    if table_path.exists() and tree_path.exists():
        return table_path, tree_path
    folder.mkdir(parents=True, exist_ok=True)
    table = synthetic.gut_table(n_samples, n_features, seed)
    tree = synthetic.random_tree(table.feature_ids, seed)
    counts = table.counts.T.tocsr()  # features × samples, as BIOM holds it
    bt = biom.Table(counts, table.feature_ids, table.sample_ids)
    import h5py

    with h5py.File(folder / "table.tmp", "w") as handle:
        bt.to_hdf5(handle, "gutaxis benchmark")
    (folder / "table.tmp").rename(table_path)
    tree_path.write_text(synthetic.to_newick(tree))
    return table_path, tree_path


#: Runs the command as its child and prints its wall time and peak RSS: a process forked
#: from this (large) one would report this one's peak as its own (Linux keeps the
#: high-water mark across exec), so the measured process is forked from a small one.
LAUNCHER = """
import os, sys, time
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(f"\\n@@ {time.perf_counter() - t} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}",
      file=sys.stderr)
"""


def timed(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a command: wall seconds, peak RSS (MiB), exit status, the end of its stderr."""
    process = subprocess.run([sys.executable, "-c", LAUNCHER, *command], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = process.stderr.decode(errors="replace")
    head, _, tail = err.rpartition("\n@@ ")
    seconds, maxrss, rc = tail.split()
    return {"seconds": float(seconds), "peak_mib": int(maxrss) / 1024, "rc": int(rc),
            "stderr": head[-2000:]}


def read_matrix(path: Path) -> tuple[list[str], np.ndarray]:
    """Ids and values of an lsmat TSV or an ``order``/``matrix`` HDF5 file."""
    if path.suffix == ".tsv":
        from gutaxis import io as gio

        dm = gio.read_lsmat(path)
        return list(dm.ids), np.asarray(dm.data)
    import h5py

    with h5py.File(path, "r") as handle:
        order = [x.decode() if isinstance(x, bytes) else str(x) for x in handle["order"][:]]
        return order, np.asarray(handle["matrix"][:], dtype=np.float64)


def difference(a: Path, b: Path) -> float:
    """Largest absolute difference of two matrices, matched by sample id."""
    ids_a, m_a = read_matrix(a)
    ids_b, m_b = read_matrix(b)
    if sorted(ids_a) != sorted(ids_b):
        return float("nan")
    position = {s: i for i, s in enumerate(ids_b)}
    index = np.array([position[s] for s in ids_a])
    return float(np.max(np.abs(m_a - m_b[np.ix_(index, index)])))


def compare(table: Path, tree: Path, metric: str, fmt: str, threads: int, ssu: str,
            work: Path, *, warm: bool = True, tools: tuple[str, ...] = ("ssu", "gutaxis"),
            ) -> dict[str, Any]:
    """One metric, one format: both tools (or ``tools``), each timed after an untimed run.

    ``warm=False`` times the first run (for sizes where one run takes minutes;
    gutaxis's numba cache must have been filled by an earlier run).
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "UNIFRAC_USE_GPU": "N"}
    ssu_format, gutaxis_name = FORMATS[fmt]
    ssu_out = work / f"ssu-{metric}.{fmt}"
    ssu_cmd = [ssu, "-i", str(table), "-t", str(tree), "-m", METHODS[metric],
               "-o", str(ssu_out), "--pcoa", "0", "--format", ssu_format]
    out = work / f"gutaxis-{metric}-{fmt}"
    gutaxis_cmd = [str(Path(sys.executable).with_name("gutaxis")), "diversity", str(table),
                   "--tree", str(tree), "--metrics", metric, "--no-rarefy",
                   "--threads", str(threads), "--format", fmt, "--out", str(out), "--overwrite"]
    row: dict[str, Any] = {"metric": metric, "format": fmt, "threads": threads,
                           "ssu_command": " ".join(ssu_cmd),
                           "gutaxis_command": " ".join(gutaxis_cmd)}
    row["warm_run"] = warm
    for name, command in (("ssu", ssu_cmd), ("gutaxis", gutaxis_cmd)):
        if name not in tools:
            continue
        if warm:
            timed(command, env)  # page cache, numba cache
        result = timed(command, env)
        if result["rc"]:
            row["error"] = f"{name} exited {result['rc']}: {result['stderr'].strip()}"
            return row
        row[f"{name}_seconds"] = result["seconds"]
        row[f"{name}_peak_mib"] = result["peak_mib"]
    if len(tools) == 2:
        row["ratio"] = row["ssu_seconds"] / row["gutaxis_seconds"]
        row["max_abs_difference"] = difference(ssu_out, out / "beta" / gutaxis_name.format(
            metric=metric))
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ssu", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="5000x10000", help="SAMPLESxFEATURES,… (default 5000x10000)")
    p.add_argument("--metrics", default=",".join(METHODS))
    p.add_argument("--formats", default="tsv,hdf5")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=str(BENCH_DIR / "ssu.json"))
    p.add_argument("--no-warm", action="store_true",
                   help="time each tool's first run (no untimed run before; for 20,000 "
                        "samples and more, after a smaller run filled the numba cache)")
    p.add_argument("--gutaxis-only", action="store_true",
                   help="time gutaxis alone (where ssu would take too long)")
    args = p.parse_args(argv)
    tools = ("gutaxis",) if args.gutaxis_only else ("ssu", "gutaxis")
    ssu = ensure_ssu()
    if ssu is None:
        print("ssu (Debian's unifrac-tools) is not installed and could not be installed "
              "(needs root and apt): the comparison with Striped UniFrac is skipped.")
        return 0
    rows = []
    print(f"{'size':>13} {'metric':>28} {'format':>6} {'ssu s':>8} {'gutaxis s':>9} "
          f"{'ratio':>6} {'ssu MiB':>8} {'gutaxis MiB':>11} {'max |Δ|':>8}")
    for size in args.sizes.split(","):
        n_samples, n_features = (int(x) for x in size.lower().split("x"))
        table, tree = inputs(n_samples, n_features, args.seed)
        work = BENCH_DIR / "ssu" / "out"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        for metric in args.metrics.split(","):
            for fmt in args.formats.split(","):
                row = {"size": size, **compare(table, tree, metric, fmt, args.threads, ssu,
                                               work, warm=not args.no_warm, tools=tools)}
                rows.append(row)
                if "error" in row:
                    print(f"{size:>13} {metric:>28} {fmt:>6} error: {row['error']}")
                    continue
                if args.gutaxis_only:
                    print(f"{size:>13} {metric:>28} {fmt:>6} {'—':>8} "
                          f"{row['gutaxis_seconds']:9.1f} {'—':>6} {'—':>8} "
                          f"{row['gutaxis_peak_mib']:11.0f} {'—':>8}", flush=True)
                    continue
                print(f"{size:>13} {metric:>28} {fmt:>6} {row['ssu_seconds']:8.1f} "
                      f"{row['gutaxis_seconds']:9.1f} {row['ratio']:5.1f}× "
                      f"{row['ssu_peak_mib']:8.0f} {row['gutaxis_peak_mib']:11.0f} "
                      f"{row['max_abs_difference']:8.1e}", flush=True)
        shutil.rmtree(work, ignore_errors=True)
    machine = {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
               "python": platform.python_version(),
               "ssu": subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "unifrac-tools"],
                                     capture_output=True, text=True).stdout or "unknown"}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"machine": machine, "results": rows}, indent=1))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
