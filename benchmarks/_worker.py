"""One measurement in a fresh process: ``python -m benchmarks._worker < spec.json``.

The parent (:mod:`benchmarks.run`) starts one worker per (operation,
implementation, size), so that every measurement starts from a clean heap and
its peak memory can be read from the kernel:

1. load the inputs (cached by the parent under ``.bench/cache/``);
2. warm up on the first ``warmup_n`` samples — for gutaxis this is the numba
   JIT compilation (the parent points ``NUMBA_CACHE_DIR`` at an empty folder,
   so it really compiles), reported separately;
3. reset the peak-RSS counter (``echo 5 > /proc/self/clear_refs``), read the
   resident set size, run the operation once, read the peak (``VmHWM``): the
   difference is the peak memory the operation added on top of its inputs;
4. if that run took under a second, run twice more and keep the fastest.

The result is printed as one JSON line on stdout.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

TABLE_OPS = {"shannon_entropy", "faith_pd", "braycurtis", "jaccard", "aitchison",
             "robust_aitchison", "unweighted_unifrac", "weighted_unifrac",
             "weighted_normalized_unifrac", "rarefy"}
TREE_OPS = {"faith_pd", "unweighted_unifrac", "weighted_unifrac", "weighted_normalized_unifrac"}
DM_OPS = {"pcoa", "pcoa_dims3", "permanova"}
PERMUTATIONS = 999


# ----------------------------------------------------------------- memory
def _status() -> dict[str, int]:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return {}
    out = {}
    for key in ("VmRSS", "VmHWM"):
        m = re.search(rf"{key}:\s+(\d+) kB", text)
        if m:
            out[key] = int(m.group(1)) * 1024
    return out


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# ----------------------------------------------------------------- inputs
def load_table(folder: Path) -> tuple[sp.csr_matrix, list[str], list[str]]:
    z = np.load(folder / "table.npz", allow_pickle=False)
    counts = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
    return counts, z["sample_ids"].tolist(), z["feature_ids"].tolist()


def load_tree(folder: Path, feature_ids: list[str]) -> Any:
    from benchmarks.synthetic import RandomTree

    z = np.load(folder / "tree.npz", allow_pickle=False)
    n_internal = len(z["parent"]) - len(feature_ids)
    return RandomTree(parent=z["parent"], lengths=z["lengths"],
                      names=[*feature_ids, *([None] * n_internal)])


def _rows(n: int, subset: int | None, seed: int) -> np.ndarray:
    if subset is None or subset >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, subset]).choice(n, size=subset, replace=False))


# -------------------------------------------------------------- operations
def _gutaxis_table_op(op: str, counts: sp.csr_matrix, sids: list[str], fids: list[str],
                      tree: Any, depth: int) -> Callable[[], Any]:
    from gutaxis import Study
    from gutaxis import diversity as dv

    study = Study(counts, sids, fids, tree=tree, source="<synthetic>")
    if op in ("shannon_entropy", "faith_pd"):
        return lambda: dv.alpha_diversity(study, [op])
    if op == "rarefy":
        return lambda: dv.rarefy(study, depth, seed=0)
    if op == "aitchison":  # QIIME 2's definition, which the peer computes
        return lambda: dv.beta_diversity(study, op, pseudocount=1.0)
    return lambda: dv.beta_diversity(study, op)


def _peer_table_op(op: str, counts: sp.csr_matrix, sids: list[str], fids: list[str],
                   tree: Any, depth: int) -> Callable[[], Any]:
    if op == "rarefy":
        import biom

        table = biom.Table(counts.T.tocsr(), observation_ids=fids, sample_ids=sids)
        return lambda: table.subsample(depth, axis="sample", seed=0)
    import skbio.diversity as sd

    dense = counts.toarray().astype(np.int64)
    if op == "shannon_entropy":
        return lambda: sd.alpha_diversity("shannon", dense, sids, base=2)
    if op == "faith_pd":
        return lambda: sd.alpha_diversity("faith_pd", dense, sids, taxa=fids, tree=tree,
                                          validate=False)
    if op in ("unweighted_unifrac", "weighted_unifrac"):
        return lambda: sd.beta_diversity(op, dense, sids, taxa=fids, tree=tree, validate=False)
    if op == "weighted_normalized_unifrac":
        return lambda: sd.beta_diversity("weighted_unifrac", dense, sids, taxa=fids, tree=tree,
                                         validate=False, normalized=True)
    if op in ("aitchison", "robust_aitchison"):
        from scipy.spatial.distance import pdist, squareform
        from skbio.stats.composition import clr, rclr

        def log_ratio_distances() -> np.ndarray:
            # QIIME 2: clr(counts + 1) then Euclidean; robust: rclr (NaN → 0) then Euclidean
            x = clr(dense + 1.0) if op == "aitchison" else np.nan_to_num(rclr(dense), nan=0.0)
            return squareform(pdist(x, "euclidean"))

        return log_ratio_distances
    return lambda: sd.beta_diversity(op, dense, sids, validate=False)


def _dm_op(op: str, impl: str, data: np.ndarray, ids: list[str],
           groups: np.ndarray) -> Callable[[], Any]:
    if impl == "gutaxis":
        from gutaxis import DistanceMatrix

        dm = DistanceMatrix(ids, data, "braycurtis", validate=False)
        if op == "permanova":
            from gutaxis.stats import permanova

            return lambda: permanova(dm, groups, permutations=PERMUTATIONS, seed=0)
        from gutaxis.ordination import pcoa

        return lambda: pcoa(dm, n_components=3, warn_negative=0.01)
    import warnings

    import skbio
    from skbio.stats.distance import permanova as sk_permanova
    from skbio.stats.ordination import pcoa as sk_pcoa

    sdm = skbio.DistanceMatrix(data, ids=ids, validate=False)
    if op == "permanova":
        return lambda: sk_permanova(sdm, groups, permutations=PERMUTATIONS, seed=0)
    dims = 3 if op == "pcoa_dims3" else 0

    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sk_pcoa(sdm, dimensions=dims)

    return run


def build(spec: dict[str, Any], rows_subset: np.ndarray | None) -> tuple[Callable[[], Any], int]:
    """The operation (a no-argument callable) on the chosen rows, and its input size in bytes."""
    folder = Path(spec["dir"])
    op, impl = spec["op"], spec["impl"]
    if op in DM_OPS:
        full = np.load(folder / "dm.npy")
        n = full.shape[0]
        rows = _rows(n, spec.get("subset"), spec["seed"]) if rows_subset is None else rows_subset
        data = full if len(rows) == n else np.ascontiguousarray(full[np.ix_(rows, rows)])
        del full
        groups = np.random.default_rng(spec["seed"]).integers(0, 2, n)[rows]
        ids = [f"S{i}" for i in rows]
        return _dm_op(op, impl, data, ids, groups), int(data.nbytes)
    counts, sids, fids = load_table(folder)
    n = counts.shape[0]
    rows = _rows(n, spec.get("subset"), spec["seed"]) if rows_subset is None else rows_subset
    if len(rows) != n:
        counts = counts[rows]
        sids = [sids[i] for i in rows]
    tree = None
    if op in TREE_OPS:
        from benchmarks import synthetic

        rt = load_tree(folder, fids)
        tree = synthetic.gutaxis_tree(rt) if impl == "gutaxis" else synthetic.skbio_tree(rt)
    depth = int(spec["depth"])
    maker = _gutaxis_table_op if impl == "gutaxis" else _peer_table_op
    fn = maker(op, counts, sids, fids, tree, depth)
    nbytes = int(counts.data.nbytes + counts.indices.nbytes + counts.indptr.nbytes)
    if impl != "gutaxis" and op != "rarefy":
        nbytes = len(sids) * len(fids) * 8  # the peer works on a dense int64 table
    return fn, nbytes


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    op = spec["op"]
    folder = Path(spec["dir"])
    if op in DM_OPS:
        n_total = int(np.load(folder / "dm.npy", mmap_mode="r").shape[0])
    else:
        n_total = int(np.load(folder / "table.npz")["shape"][0])
    rows = _rows(n_total, spec.get("subset"), spec["seed"])
    n = len(rows)
    # warm-up (JIT compilation for gutaxis) on the first few samples
    warm_rows = rows[: min(n, int(spec.get("warmup_n", 250)))]
    t0 = time.perf_counter()
    warm, _ = build(spec, warm_rows)
    t1 = time.perf_counter()
    warm()
    warmup = time.perf_counter() - t1
    del warm
    setup_start = time.perf_counter()
    fn, input_bytes = build(spec, rows)
    setup = time.perf_counter() - setup_start + (t1 - t0)
    gc.collect()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    peak_ok = _reset_peak()
    before = _status()
    start = time.perf_counter()
    result = fn()
    times = [time.perf_counter() - start]
    after = _status()
    del result
    if times[0] < float(spec.get("repeat_under", 1.0)):
        for _ in range(2):
            gc.collect()
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    increase = (after.get("VmHWM", 0) - before.get("VmRSS", 0)) if peak_ok and after else None
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "ok": True,
        "op": op,
        "impl": spec["impl"],
        "n": n,
        "seconds": min(times),
        "times": times,
        "warmup_seconds": warmup,
        "setup_seconds": setup,
        "input_bytes": input_bytes,
        "rss_before": before.get("VmRSS"),
        "load_average": [load_before, load_after],
        "peak_increase": increase,
        "memory_method": "peak RSS (VmHWM after clear_refs) minus RSS before the run"
        if increase is not None else "unavailable",
    }


def main() -> int:
    spec = json.loads(sys.stdin.read())
    try:
        out = measure(spec)
    except Exception as exc:  # report, do not crash the whole benchmark
        out = {"ok": False, "op": spec.get("op"), "impl": spec.get("impl"),
               "error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=6)}
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
