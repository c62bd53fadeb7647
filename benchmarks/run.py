"""Time gutaxis against scikit-bio on synthetic gut-like data (``make bench``).

Usage::

    .venv/bin/python -m benchmarks.run                      # 1000x5000 and 5000x10000
    .venv/bin/python -m benchmarks.run --quick              # a tiny smoke run
    .venv/bin/python -m benchmarks.run --sizes 1000x5000 --only pcoa,permanova
    .venv/bin/python -m benchmarks.run --skip-peer          # gutaxis only
    .venv/bin/python -m benchmarks.run --peer-max-seconds 60

Every figure comes from a fresh worker process (:mod:`benchmarks._worker`):
gutaxis and the peer run on the same inputs in the same invocation.  Peak
memory is the rise of the process's peak resident set size during the run
(``/proc/self/clear_refs`` + ``VmHWM``), which sees every allocation —
NumPy, numba, LAPACK workspaces — unlike :mod:`tracemalloc`.

An alpha, beta or rarefaction peer whose time, estimated from a pilot on a
random subset of 500 samples, exceeds ``--peer-max-seconds`` is not run in
full: the pilot is scaled by the number of pairs (beta diversity) or of
samples (alpha, rarefaction) and marked ``extrapolated``.  PCoA and PERMANOVA
peers always run in full.  Results are also written to ``.bench/results.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import synthetic

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"


@dataclasses.dataclass(frozen=True)
class OpInfo:
    kind: str          # "alpha", "beta", "dm", "rarefy"
    exponent: int      # how the peer's time grows with the number of samples
    target: float | None
    peer: str          # what the peer is


OPS: dict[str, OpInfo] = {
    "shannon_entropy": OpInfo("alpha", 1, None, "skbio alpha_diversity('shannon', base=2)"),
    "faith_pd": OpInfo("alpha", 1, None, "skbio alpha_diversity('faith_pd')"),
    "braycurtis": OpInfo("beta", 2, 10.0, "skbio beta_diversity (scipy pdist, dense)"),
    "jaccard": OpInfo("beta", 2, 10.0, "skbio beta_diversity (scipy pdist, dense)"),
    "aitchison": OpInfo("beta", 2, 10.0, "skbio clr(counts + 1) then scipy pdist euclidean"),
    "robust_aitchison": OpInfo("beta", 2, 10.0, "skbio rclr (NaN → 0) then scipy pdist euclidean"),
    "unweighted_unifrac": OpInfo("beta", 2, 10.0, "skbio beta_diversity (TreeNode)"),
    "weighted_unifrac": OpInfo("beta", 2, 10.0, "skbio beta_diversity (TreeNode)"),
    "weighted_normalized_unifrac": OpInfo("beta", 2, 10.0,
                                          "skbio beta_diversity (TreeNode, normalized=True)"),
    "pcoa": OpInfo("dm", 3, 5.0, "skbio pcoa() default: every axis (LAPACK eigh)"),
    "pcoa_dims3": OpInfo("dm", 3, None, "skbio pcoa(dimensions=3) (LAPACK, 3 axes)"),
    "permanova": OpInfo("dm", 2, 5.0, "skbio permanova (default engine), 999 permutations"),
    "rarefy": OpInfo("rarefy", 1, None, "biom Table.subsample (what QIIME 2 uses)"),
}
DEFAULT_SIZES = "1000x5000,5000x10000"
QUICK_SIZES = "200x500"
#: Samples in the peer's pilot run, by kind of operation.  PCoA and PERMANOVA
#: peers always run in full: they take minutes at most, and scaling a pilot by
#: n³ (PCoA) magnifies every bit of noise in it.
PILOT_N = {"alpha": 500, "beta": 500, "rarefy": 500}
#: Samples for the warm-up call; PCoA needs ≥ 400 to take (and compile) the
#: Lanczos path that the timed run takes.
WARMUP_N = {"alpha": 250, "beta": 250, "rarefy": 250, "dm": 500}


# ------------------------------------------------------------------ parsing
def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        try:
            a, b = part.split("x")
            sizes.append((int(a), int(b)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad size {part!r}: use SAMPLESxFEATURES, e.g. 1000x5000") from None
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes given")
    return sizes


def parse_only(text: str) -> list[str]:
    ops = [o.strip() for o in text.split(",") if o.strip()]
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown operation(s) {', '.join(unknown)}; choose from {', '.join(OPS)}")
    return ops


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=parse_sizes, default=None,
                   help=f"comma-separated SAMPLESxFEATURES (default {DEFAULT_SIZES})")
    p.add_argument("--quick", action="store_true",
                   help=f"tiny smoke run ({QUICK_SIZES}) unless --sizes is given")
    p.add_argument("--only", type=parse_only, default=None,
                   help="comma-separated operations: " + ", ".join(OPS))
    p.add_argument("--skip-peer", action="store_true", help="time gutaxis only")
    p.add_argument("--peer-max-seconds", type=float, default=120.0,
                   help="extrapolate the peer from a random 500-sample subset when its "
                        "estimated time exceeds this (default 120; alpha, beta and "
                        "rarefaction only)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    p.add_argument("--output", type=Path, default=BENCH_DIR / "results.json",
                   help="where to write the JSON results (default .bench/results.json)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both sides (sets NUMBA_NUM_THREADS, OMP_NUM_THREADS, "
                        "OPENBLAS_NUM_THREADS, MKL_NUM_THREADS in the workers); default: "
                        "every core. --threads 1 gives steadier figures on a busy machine")
    p.add_argument("--timeout", type=float, default=7200.0,
                   help="seconds after which one measurement is abandoned (default 7200)")
    return p


# ----------------------------------------------------------------- machine
def machine_info() -> dict[str, Any]:
    import numba
    import scipy

    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    for mod in ("skbio", "biom", "gutaxis"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - report whatever is missing
            info[mod] = None
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]  # type: ignore[func-returns-value]
        blas = deps.get("blas", {})
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001
        pass
    return info


# ------------------------------------------------------------------ inputs
def prepare(n: int, f: int, seed: int, need_dm: bool) -> tuple[Path, dict[str, Any]]:
    """Generate (or reuse) the inputs of one size under ``.bench/cache/``."""
    folder = BENCH_DIR / "cache" / f"{n}x{f}-seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    meta_path = folder / "meta.json"
    meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    table = None
    if not (folder / "table.npz").exists() or "depth" not in meta:
        t0 = time.perf_counter()
        table = synthetic.gut_table(n, f, seed)
        c = table.counts
        np.savez(folder / "table.npz", data=c.data, indices=c.indices, indptr=c.indptr,
                 shape=np.array(c.shape), sample_ids=np.array(table.sample_ids),
                 feature_ids=np.array(table.feature_ids))
        tree = synthetic.random_tree(table.feature_ids, seed)
        np.savez(folder / "tree.npz", parent=tree.parent, lengths=tree.lengths)
        totals = np.asarray(c.sum(axis=1)).ravel()
        meta.update(depth=int(totals.min()), nnz=int(c.nnz), density=c.nnz / (n * f),
                    table_bytes=table.nbytes, generate_seconds=time.perf_counter() - t0)
        meta_path.write_text(json.dumps(meta, indent=1))
    if need_dm and not (folder / "dm.npy").exists():
        from benchmarks._worker import load_table

        counts, sids, fids = load_table(folder)
        t0 = time.perf_counter()
        from gutaxis import Study
        from gutaxis.diversity import beta_diversity

        d = beta_diversity(Study(counts, sids, fids), "braycurtis").data
        metric = "braycurtis (gutaxis)"
        np.save(folder / "dm.npy", np.ascontiguousarray(d, dtype=np.float64))
        del d
        meta.update(dm_metric=metric, dm_seconds=time.perf_counter() - t0)
        meta_path.write_text(json.dumps(meta, indent=1))
    return folder, meta


# ------------------------------------------------------------- measurement
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "MKL_NUM_THREADS")


def run_worker(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    env = os.environ.copy()
    if spec.get("threads"):
        env.update({var: str(spec["threads"]) for var in THREAD_VARS})
    with tempfile.TemporaryDirectory(prefix="gutaxis-bench-numba-") as cache:
        env["NUMBA_CACHE_DIR"] = cache  # empty: the warm-up really compiles
        try:
            proc = subprocess.run([sys.executable, "-m", "benchmarks._worker"],
                                  input=json.dumps(spec), capture_output=True, text=True,
                                  cwd=ROOT, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"ok": False, "error": f"worker exited with {proc.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


def _scale(seconds: float, m: int, n: int, exponent: int) -> float:
    if exponent == 2:
        return seconds * (n * (n - 1)) / (m * (m - 1))
    return seconds * (n / m) ** exponent


def time_peer(op: str, base: dict[str, Any], n: int, args: argparse.Namespace) -> dict[str, Any]:
    spec = {**base, "impl": "peer"}
    pilot_n = PILOT_N.get(OPS[op].kind)
    if pilot_n is None or n <= pilot_n:
        return {**run_worker(spec, args.timeout), "extrapolated": False}
    pilot = run_worker({**spec, "subset": pilot_n}, args.timeout)
    if not pilot.get("ok"):
        return {**pilot, "extrapolated": False}
    estimate = _scale(pilot["seconds"], pilot["n"], n, OPS[op].exponent)
    if estimate <= args.peer_max_seconds:
        full = run_worker(spec, max(args.timeout, 10 * args.peer_max_seconds))
        return {**full, "extrapolated": False, "pilot_seconds": pilot["seconds"]}
    return {**pilot, "seconds": estimate, "extrapolated": True, "measured_n": pilot["n"],
            "measured_seconds": pilot["seconds"], "peak_increase": None}


# ------------------------------------------------------------------ report
def _mib(x: float | None) -> str:
    return "—" if x is None else f"{x / 2**20:,.0f}"


def render(rows: list[dict[str, Any]], notes: list[str]) -> None:
    headers = ["operation", "size", "gutaxis s", "JIT warm-up s", "peer s", "ratio",
               "target", "speed met", "peak MiB / budget", "memory ok"]
    body = []
    for r in rows:
        if r.get("status"):
            body.append([r["op"], r["size"], "error", "", "", "", "", "", "", ""])
            continue
        peer = r.get("peer_seconds")
        peer_txt = "skipped" if r.get("peer_skipped") else (
            "error" if peer is None else f"{peer:,.2f}" + (" (extrapolated)" if r.get(
                "peer_extrapolated") else ""))
        ratio = r.get("ratio")
        target = r.get("target")
        mem = f"{_mib(r.get('gutaxis_peak_bytes'))} / {_mib(r.get('budget_bytes'))}"
        met = r.get("speed_met")
        mem_ok = r.get("memory_ok")
        body.append([
            r["op"], r["size"], f"{r['gutaxis_seconds']:,.3f}", f"{r['warmup_seconds']:,.2f}",
            peer_txt, "—" if ratio is None else f"{ratio:,.1f}×",
            "—" if target is None else f"≥ {target:g}×",
            "—" if met is None else ("yes" if met else "NO"),
            mem, "—" if mem_ok is None else ("yes" if mem_ok else "NO"),
        ])
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="gutaxis vs peer (same run, same inputs)")
        for h in headers:
            table.add_column(h, justify="left" if h in ("operation", "size") else "right")
        for row in body:
            table.add_row(*row)
        console = Console(width=None if sys.stdout.isatty() else 150)
        console.print(table)
        for note in notes:
            console.print(f"• {note}", highlight=False)
    except ImportError:  # pragma: no cover - rich is a dependency
        widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        for row in body:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        for note in notes:
            print(f"* {note}")


# -------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = args.sizes or parse_sizes(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    ops = args.only or list(OPS)
    machine = machine_info()
    print(f"machine: {machine.get('cpu')}, {machine.get('usable_cores')} cores, "
          f"numpy {machine['numpy']}, numba {machine['numba']}, skbio {machine.get('skbio')}"
          + (f"; {args.threads} thread(s) per side" if args.threads else ""))
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    busy: list[float] = []  # 1-minute load averages seen by the workers
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    for n, f in sizes:
        size = f"{n}x{f}"
        need_dm = any(OPS[o].kind == "dm" for o in ops)
        print(f"[{size}] preparing inputs …", flush=True)
        folder, meta = prepare(n, f, args.seed, need_dm)
        if need_dm:
            notes.append(f"{size}: PCoA/PERMANOVA input = {meta.get('dm_metric')} of the table")
        for op in ops:
            info = OPS[op]
            base = {"op": op, "dir": str(folder), "seed": args.seed, "depth": meta["depth"],
                    "subset": None, "warmup_n": WARMUP_N[info.kind], "threads": args.threads}
            print(f"[{size}] {op}: gutaxis …", end=" ", flush=True)
            ours = run_worker({**base, "impl": "gutaxis"}, args.timeout)
            if not ours.get("ok"):
                rows.append({"op": op, "size": size, "status": f"error: {ours.get('error')}"})
                notes.append(f"{size} {op}: gutaxis failed: {ours.get('error')}")
                print(ours.get("error"), flush=True)
                continue
            print(f"{ours['seconds']:.3f} s", end="", flush=True)
            busy.extend(x for x in ours.get("load_average") or [] if x is not None)
            row: dict[str, Any] = {
                "op": op, "size": size, "n_samples": n, "n_features": f,
                "gutaxis_seconds": ours["seconds"], "gutaxis_times": ours["times"],
                "warmup_seconds": ours["warmup_seconds"], "peer": info.peer,
                "target": info.target,
            }
            input_bytes = ours["input_bytes"]
            increase = ours.get("peak_increase")
            row["input_bytes"] = input_bytes
            row["gutaxis_peak_increase_bytes"] = increase
            row["gutaxis_peak_bytes"] = None if increase is None else input_bytes + max(increase, 0)
            row["budget_bytes"] = int(1.2 * (input_bytes + 8 * n * n))
            row["memory_ok"] = None if increase is None else (
                row["gutaxis_peak_bytes"] <= row["budget_bytes"])
            if args.skip_peer:
                row["peer_skipped"] = True
            else:
                print(" | peer …", end=" ", flush=True)
                peer = time_peer(op, base, n, args)
                busy.extend(x for x in peer.get("load_average") or [] if x is not None)
                if peer.get("ok"):
                    row.update(peer_seconds=peer["seconds"],
                               peer_extrapolated=peer.get("extrapolated", False),
                               peer_warmup_seconds=peer.get("warmup_seconds"),
                               peer_peak_increase_bytes=peer.get("peak_increase"))
                    row["ratio"] = peer["seconds"] / ours["seconds"]
                    if peer.get("extrapolated"):
                        scaled = ("by the pair count" if info.exponent == 2
                                  else f"as n^{info.exponent}")
                        notes.append(
                            f"{size} {op}: peer timed on {peer['measured_n']} random samples "
                            f"({peer['measured_seconds']:.2f} s) and extrapolated {scaled}"
                            f" (estimate above --peer-max-seconds={args.peer_max_seconds:g})")
                    print(f"{peer['seconds']:.3f} s" + (" (extrapolated)" if peer.get(
                        "extrapolated") else ""), flush=True)
                else:
                    row["peer_error"] = peer.get("error")
                    notes.append(f"{size} {op}: peer failed: {peer.get('error')}")
                    print(f"peer failed: {peer.get('error')}", flush=True)
            if info.target is not None and row.get("ratio") is not None:
                row["speed_met"] = bool(row["ratio"] >= info.target)
            if args.skip_peer:
                print(flush=True)
            rows.append(row)
    notes.append("time = fastest of 3 runs when a run takes < 1 s, else one run; "
                 "JIT warm-up = first call on ≤ 250 samples (500 for PCoA/PERMANOVA) with an "
                 "empty numba cache")
    notes.append("peak MiB = input + rise of the worker's peak RSS during the run "
                 "(/proc/self/clear_refs + VmHWM; counts numba and LAPACK memory too); "
                 "budget = 1.2 × (input + n×n float64)")
    notes.append("peers: " + "; ".join(f"{o}: {OPS[o].peer}" for o in ops))
    notes.append(f"threads per side: {args.threads}" if args.threads else
                 "threads: every core for both sides (numba, OpenBLAS, OpenMP defaults)")
    cores = machine.get("usable_cores") or 1
    if busy and max(busy) > cores:
        notes.append(f"WARNING: the machine was busy (1-minute load average up to {max(busy):.1f} "
                     f"on {cores} cores): other processes competed for the CPU, so the "
                     "timings (gutaxis and peer alike) are noisy; rerun on a quiet machine")
    render(rows, notes)
    out = {"machine": machine, "started": started,
           "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
           "args": {"sizes": [f"{a}x{b}" for a, b in sizes], "ops": ops,
                    "skip_peer": args.skip_peer, "peer_max_seconds": args.peer_max_seconds,
                    "seed": args.seed, "threads": args.threads},
           "max_load_average": max(busy) if busy else None,
           "results": rows, "notes": notes}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1))
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
