"""Time ``gutaxis analyze`` end to end and its statistics at cohort scale.

Usage::

    .venv/bin/python -m benchmarks.analyze              # demo study + 2,000-sample cohort
    .venv/bin/python -m benchmarks.analyze --quick      # smoke run (< 1 min): 300 samples
    .venv/bin/python -m benchmarks.analyze --skip-demo  # the synthetic cohort only
    .venv/bin/python -m benchmarks.analyze --skip-peer  # gutaxis only

Two parts:

1. **The bundled study** (what ``gutaxis demo`` runs: ``run_analysis`` on
   :func:`gutaxis.io.example_dataset`, group ``Subject``, the four
   markers).  Each run is a fresh process: *cold* (``GUTAXIS_CACHE_DIR`` an
   empty folder, so the tree is built de novo), *warm* (the tree cached), *first
   run* (tree and numba caches both empty, as right after installing), and the
   console script ``gutaxis demo`` itself (cold tree cache; numba caches as
   they are, then both empty).  Time is the wall time of ``run_analysis`` in
   the process (the script: of the whole process); memory is the peak
   proportional set size (PSS) of the process *and its children* (the tree
   builder, the cross-validation workers), sampled every 0.1 s.
2. **A synthetic cohort** (:func:`benchmarks.synthetic.cohort`: 2,000 samples
   in two groups of 1,000, 300 genera with taxonomy, 30 planted differences,
   4 markers with 10 % missing values): PERMANOVA and PERMDISP against
   scikit-bio on the Bray–Curtis matrix, differential abundance (no Python
   peer), the random-forest cross-validation (10 × 10, 100 trees) and its
   permutation importance against :func:`sklearn.inspection.permutation_importance`,
   and marker–taxon Spearman correlations against a loop of
   :func:`scipy.stats.spearmanr`.

Every figure comes from a fresh worker process (``python -m benchmarks.analyze
--worker``), gutaxis and its peer on the same inputs in the same invocation:
warm-up call on a subset first (numba JIT compilation for gutaxis, with
``NUMBA_CACHE_DIR`` an empty folder), then the timed run — fastest of three
when a run takes under a second.  Memory of a synthetic-cohort figure is the
rise of the worker's peak RSS during the run (as in :mod:`benchmarks._worker`),
except for the cross-validation, which runs in worker processes: there it is
the sampled peak PSS of the process tree.  The 1-minute load average is
recorded before and after every figure.  Results go to ``.bench/analyze.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
DEMO_MARKERS = ["LPSpgml", "LBPugml", "sCD14ugml", "IFABPpgml"]
PERMUTATIONS = 999
MC_SAMPLES = 128
N_GENERA = 300
CV_FOLDS, CV_REPEATS, N_TREES = 10, 10, 100
#: Cross-validation repeats of the pilot run that the full 10 × 10 is estimated from.
CV_PILOT_REPEATS = 2


# =================================================================== worker side
def _status() -> dict[str, int]:
    from benchmarks._worker import _status as status

    return status()


def _reset_peak() -> bool:
    from benchmarks._worker import _reset_peak as reset

    return reset()


def _timed(fn: Callable[[], Any], *, repeat_under: float = 1.0) -> dict[str, Any]:
    """Run ``fn`` once (peak RSS measured), and twice more when it took < ``repeat_under`` s."""
    gc.collect()
    peak_ok = _reset_peak()
    before = _status()
    start = time.perf_counter()
    result = fn()
    times = [time.perf_counter() - start]
    after = _status()
    if times[0] < repeat_under:
        for _ in range(2):
            gc.collect()
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    rise = (after.get("VmHWM", 0) - before.get("VmRSS", 0)) if peak_ok and after else None
    return {"seconds": min(times), "times": times, "peak_rise": rise,
            "rss_before": before.get("VmRSS"), "result": result}


def _cohort_parts(n: int, seed: int) -> dict[str, Any]:
    """The synthetic cohort and what the operations take from it (not timed)."""
    import pandas as pd

    from benchmarks import synthetic
    from gutaxis import composition

    c = synthetic.cohort(n, N_GENERA, seed)
    study = c.study
    labels = study.samples[c.group_column].astype(str)
    genus = composition.collapse(study, "genus")
    prevalent = composition.filter_prevalence(genus, min_prevalence=0.1)
    # the microbiome features of gutaxis analyze: CLR (pseudocount 0.5) of the prevalent genera
    clr = pd.DataFrame(composition.clr(prevalent.counts.toarray().astype(float), pseudocount=0.5),
                       index=prevalent.sample_ids, columns=prevalent.feature_ids)
    markers = study.samples[list(c.markers)].astype(float)
    return {"cohort": c, "study": study, "labels": labels, "clr": clr, "markers": markers}


def _braycurtis(study: Any) -> Any:
    from gutaxis.diversity import beta_diversity

    return beta_diversity(study, "braycurtis")


def _dm_operation(op: str, impl: str, dm: Any, labels: Any) -> Callable[[], Any]:
    if impl == "gutaxis":
        from gutaxis.stats import permanova, permdisp

        if op == "permanova":
            return lambda: permanova(dm, labels, permutations=PERMUTATIONS, seed=0)
        if op == "permdisp":
            return lambda: permdisp(dm, labels, permutations=PERMUTATIONS, seed=0,
                                    test="centroid", n_components=None)
        return lambda: permdisp(dm, labels, permutations=PERMUTATIONS, seed=0, test="median",
                                n_components=10)
    import warnings

    import skbio
    from skbio.stats.distance import permanova as sk_permanova
    from skbio.stats.distance import permdisp as sk_permdisp

    sdm = skbio.DistanceMatrix(dm.data, ids=list(dm.ids), validate=False)
    grouping = labels.loc[list(dm.ids)].to_numpy()
    if op == "permanova":
        return lambda: sk_permanova(sdm, grouping, permutations=PERMUTATIONS, seed=0)

    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # negative eigenvalues of Bray–Curtis
            if op == "permdisp":
                return sk_permdisp(sdm, grouping, test="centroid", dimensions=len(dm.ids),
                                   permutations=PERMUTATIONS, seed=0)
            return sk_permdisp(sdm, grouping, permutations=PERMUTATIONS, seed=0)  # defaults

    return run


def _statistic(result: Any) -> float | None:
    if hasattr(result, "statistic"):
        return float(result.statistic)
    try:
        return float(result["test statistic"])
    except (KeyError, TypeError, ValueError):
        return None


def _subset(parts: dict[str, Any], k: int) -> dict[str, Any]:
    """The first ``k`` samples of the cohort (both groups: they alternate)."""
    study = parts["study"]
    ids = list(study.sample_ids[:k])
    out = {**parts, "study": study.subset_samples(ids), "labels": parts["labels"].loc[ids],
           "clr": parts["clr"].loc[ids], "markers": parts["markers"].loc[ids]}
    if "dm" in parts:
        from gutaxis import DistanceMatrix

        dm = parts["dm"]
        out["dm"] = DistanceMatrix(ids, np.ascontiguousarray(dm.data[:k, :k]), dm.metric,
                                   validate=False)
    return out


DM_OPS = ("permanova", "permdisp", "permdisp_default")


def _build(op: str, impl: str, parts: dict[str, Any]) -> Callable[[], Any]:
    if op in DM_OPS:
        return _dm_operation(op, impl, parts["dm"], parts["labels"])
    if op == "differential":
        from gutaxis.stats.differential import differential_abundance

        study = parts["study"]
        return lambda: differential_abundance(study, "group", mc_samples=MC_SAMPLES, seed=0,
                                              rank="genus")
    if op == "spearman":
        markers, clr = parts["markers"], parts["clr"]
        if impl == "gutaxis":
            from gutaxis.stats.correlation import spearman_pairs

            return lambda: spearman_pairs(markers, clr, min_n=5)
        from scipy.stats import spearmanr

        m = markers.to_numpy()
        t = clr.to_numpy()

        def loop() -> list[tuple[float, float]]:
            out = []
            for i in range(m.shape[1]):
                keep = ~np.isnan(m[:, i])
                a = m[keep, i]
                for j in range(t.shape[1]):
                    r = spearmanr(a, t[keep, j])
                    out.append((float(r.statistic), float(r.pvalue)))
            return out

        return loop
    raise ValueError(f"unknown operation {op!r}")


def _measure_stat(spec: dict[str, Any]) -> dict[str, Any]:
    op, impl = spec["op"], spec["impl"]
    parts = _cohort_parts(spec["n"], spec["seed"])
    if op in DM_OPS:  # the input matrix (gutaxis's Bray–Curtis), made before any timing
        parts["dm"] = _braycurtis(parts["study"])
    warm_n = min(spec["n"], int(spec.get("warmup_n", 200)))
    t0 = time.perf_counter()
    _build(op, impl, _subset(parts, warm_n))()
    warmup = time.perf_counter() - t0
    fn = _build(op, impl, parts)
    out = _timed(fn)
    result = out.pop("result")
    out.update(warmup_seconds=warmup, statistic=_statistic(result),
               shape=[int(parts["markers"].shape[1]), int(parts["clr"].shape[1])])
    if op == "differential":
        table = result.table
        out["n_taxa"] = len(table)
        from gutaxis import composition

        lineage = composition.lineages(parts["cohort"].study.taxonomy, "genus")
        planted = {lineage[fid] for fid in parts["cohort"].planted}
        called = set(table.loc[table["q"] < 0.05, "taxon"].astype(str))
        out["called"] = len(called)
        out["planted_called"] = len(planted & called)
        out["planted"] = len(planted)
    return out


def _measure_importance(spec: dict[str, Any]) -> dict[str, Any]:
    """Permutation importance on one fold: gutaxis's batched step vs scikit-learn's."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    from gutaxis.stats import classifier as clf

    parts = _cohort_parts(spec["n"], spec["seed"])
    x = parts["clr"].to_numpy()
    y = parts["labels"].to_numpy()
    classes = sorted(set(y))
    codes = np.searchsorted(np.asarray(classes), y)
    positive = len(classes) - 1  # as cross_validate_forest: the last class
    splitter = RepeatedStratifiedKFold(n_splits=CV_FOLDS, n_repeats=CV_REPEATS, random_state=0)
    train, test = next(iter(splitter.split(x, codes)))
    model = clf._make_pipeline(N_TREES, clf._fold_seed(0, 0, 0, 0))
    model.fit(x[train], codes[train])
    x_test, y_test = x[test], codes[test]
    t0 = time.perf_counter()
    model.predict_proba(x_test)
    warmup = time.perf_counter() - t0
    repeats = clf._PERMUTATION_REPEATS
    if spec["impl"] == "gutaxis":
        def fn() -> np.ndarray:
            rng = np.random.default_rng(clf._fold_seed(0, 0, 0, 1))
            perms = clf._draw_permutations(rng, x.shape[1], repeats, len(test))
            return clf._permutation_decreases(model, x_test, y_test, perms, positive)
    else:
        from sklearn.inspection import permutation_importance

        def fn() -> np.ndarray:
            # two classes coded 0/1, positive = 1: the "roc_auc" scorer scores the same column
            r = permutation_importance(model, x_test, y_test, scoring="roc_auc",
                                       n_repeats=repeats, random_state=0)
            return np.asarray(r.importances)
    out = _timed(fn)
    result = out.pop("result")
    out.update(warmup_seconds=warmup, n_test=len(test), n_features=int(x.shape[1]),
               repeats=repeats, importance_mean=np.asarray(result).mean(axis=1).tolist())
    return out


def _measure_classifier(spec: dict[str, Any]) -> dict[str, Any]:
    from gutaxis.stats.classifier import cross_validate_forest

    parts = _cohort_parts(spec["n"], spec["seed"])
    threads = os.cpu_count() or 1  # as gutaxis analyze
    marks: list[float] = []
    start = time.perf_counter()

    def on_fold(done: int, total: int) -> None:
        marks.append(time.perf_counter() - start)

    result = cross_validate_forest(parts["clr"], parts["labels"], feature_set="microbiome",
                                   n_splits=CV_FOLDS, n_repeats=int(spec["repeats"]), seed=0,
                                   n_estimators=N_TREES, threads=threads, on_fold=on_fold)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "times": [seconds], "fold_marks": marks, "threads": threads,
            "n_features": result.n_features, "auc_mean": result.auc_mean,
            "peak_rise": None}


def _measure_analyze(spec: dict[str, Any]) -> dict[str, Any]:
    """``gutaxis.commands.run_analysis`` on the bundled study (and its files), per-step times."""
    t0 = time.perf_counter()
    import gutaxis.commands.analyze as analyze_command
    from gutaxis.cohort import CohortParameters
    from gutaxis.commands import AnalysisOptions, run_analysis
    from gutaxis.commands._inputs import tree_info
    from gutaxis.io import example_dataset

    imports = time.perf_counter() - t0
    tree: dict[str, Any] = {}
    attach_tree = analyze_command.attach_tree

    def timed_attach_tree(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        study = attach_tree(*args, **kwargs)
        info = tree_info(study)
        tree.update(seconds=time.perf_counter() - t,
                    source=None if info is None else info.get("source"),
                    cached=None if info is None else info.get("cached"))
        return study

    analyze_command.attach_tree = timed_attach_tree  # type: ignore[assignment]
    steps: list[tuple[str, float]] = []
    last = [0.0]

    def on_step(label: str, done: int, total: int) -> None:
        now = time.perf_counter()
        steps.append((label, now - last[0]))
        last[0] = now

    data = example_dataset()
    options = AnalysisOptions(table=data.table, metadata=data.metadata, markers=DEMO_MARKERS,
                              parameters=CohortParameters("Subject",
                                                          **(spec.get("options") or {})))
    peak_ok = _reset_peak()
    start = last[0] = time.perf_counter()
    run_analysis(options, on_step=on_step).write(spec["out"], overwrite=True)
    seconds = time.perf_counter() - start
    hwm = _status().get("VmHWM") if peak_ok else None
    return {"seconds": seconds, "times": [seconds], "imports_seconds": imports, "steps": steps,
            "tree": tree, "main_peak_rss": hwm, "peak_rise": None}


def worker_main() -> int:
    import traceback

    spec = json.loads(sys.stdin.read())
    try:
        kind = spec["kind"]
        if kind == "analyze":
            out = _measure_analyze(spec)
        elif kind == "classifier":
            out = _measure_classifier(spec)
        elif kind == "importance":
            out = _measure_importance(spec)
        else:
            out = _measure_stat(spec)
        out["ok"] = True
    except Exception as exc:  # report, do not crash the whole benchmark
        out = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=8)}
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    return 0


# =================================================================== parent side
def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            except OSError:
                continue
            kids.extend(int(k) for k in text.split())
    except OSError:
        pass
    return kids


def _pss(pid: int) -> int:
    """Proportional set size of one process in bytes (RSS where PSS is unreadable)."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith(key):
                        return int(line.split()[1]) * 1024
        except OSError:
            continue
    return 0


class TreeMemory(threading.Thread):
    """Samples the summed PSS of a process and all its descendants."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            pids, seen = [self.pid], set()
            total = 0
            while pids:
                p = pids.pop()
                if p in seen:
                    continue
                seen.add(p)
                total += _pss(p)
                pids.extend(_children(p))
            self.peak = max(self.peak, total)
            self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def git_state() -> dict[str, Any]:
    """The commit and whether ``src/`` differs from it (the code being timed)."""
    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    status = git("status", "--porcelain", "--", "src")
    diff = git("diff", "HEAD", "--", "src")
    return {"head": git("rev-parse", "--short", "HEAD") or None,
            "src_dirty": bool(status), "src_status": status.splitlines(),
            "src_diff_hash": hash(diff + status)}


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def run_process(cmd: list[str], *, env: dict[str, str], stdin: str | None,
                timeout: float) -> dict[str, Any]:
    """Run ``cmd``; wall time, sampled peak PSS of its process tree, load before/after."""
    load_before = _load()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin is not None else None,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env, start_new_session=True)
    sampler = TreeMemory(proc.pid)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:  # the worker and its children (tree builder, CV workers): its own session
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        sampler.stop()
        return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - start
    peak = sampler.stop()
    return {"returncode": proc.returncode, "stdout": stdout, "stderr": stderr, "wall": wall,
            "tree_peak_pss": peak if sampler.samples else None,
            "load": [load_before, _load()]}


def run_worker(spec: dict[str, Any], *, timeout: float, numba_cache: str | None = "empty",
               env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ.copy()
    env.update(env_extra or {})
    with tempfile.TemporaryDirectory(prefix="gutaxis-bench-numba-") as cache:
        if numba_cache == "empty":
            env["NUMBA_CACHE_DIR"] = cache  # the warm-up really compiles
        proc = run_process([sys.executable, "-m", "benchmarks.analyze", "--worker"], env=env,
                           stdin=json.dumps(spec), timeout=timeout)
    if "returncode" not in proc:
        return proc
    lines = [ln for ln in proc["stdout"].splitlines() if ln.startswith("{")]
    if proc["returncode"] != 0 or not lines:
        tail = (proc["stderr"] or proc["stdout"]).strip().splitlines()[-3:]
        return {"ok": False, "error": f"worker exited with {proc['returncode']}: "
                                      f"{' | '.join(tail)}"}
    out = json.loads(lines[-1])
    if not out.get("ok"):
        return out
    out.update(process_wall=proc["wall"], tree_peak_pss=proc["tree_peak_pss"], load=proc["load"])
    return out


# ------------------------------------------------------------------ the rows
def _mib(x: float | None) -> str:
    return "—" if x is None else f"{x / 2**20:,.0f}"


def _secs(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.3f}" if x < 1 else f"{x:,.2f}" if x < 100 else f"{x:,.0f}"


def _load_text(load: list[float | None] | None) -> str:
    if not load or load[0] is None:
        return "—"
    return f"{load[0]:.1f}→{load[1]:.1f}"


def demo_rows(args: argparse.Namespace, notes: list[str]) -> list[dict[str, Any]]:
    """``run_analysis`` on the bundled study: cold, warm, first run; ``gutaxis demo``."""
    rows: list[dict[str, Any]] = []
    options: dict[str, Any] = {}
    if args.quick:
        options = {"cv_repeats": 1, "permutations": 99, "mc_samples": 16}
    out_root = Path(tempfile.mkdtemp(prefix="gutaxis-bench-demo-"))
    # --quick keeps its tree cache under .bench/ (built once, ~20 s); the full run starts
    # from an empty one, which the cold run fills and the warm run uses.
    tree_cache = (BENCH_DIR / "tree-cache" if args.quick
                  else Path(tempfile.mkdtemp(prefix="gutaxis-bench-trees-")))
    tree_cache.mkdir(parents=True, exist_ok=True)

    def analyze(label: str, cache: Path, empty_numba: bool, opts: dict[str, Any]) -> None:
        print(f"[demo] {label} …", end=" ", flush=True)
        r = run_worker({"kind": "analyze", "out": str(out_root / f"run{len(rows)}"),
                        "options": opts}, timeout=args.timeout,
                       numba_cache="empty" if empty_numba else None,
                       env_extra={"GUTAXIS_CACHE_DIR": str(cache)})
        rows.append(_demo_row(label, r, quick=args.quick))
        print(_secs(r["seconds"]) + " s" if r.get("ok") else r.get("error"), flush=True)

    try:
        if args.quick:
            if not any(tree_cache.iterdir()):
                print(f"[demo] building the tree once into {tree_cache} …", flush=True)
                run_worker({"kind": "analyze", "out": str(out_root / "prime"),
                            "options": {**options, "classifier": False}}, timeout=args.timeout,
                           numba_cache=None, env_extra={"GUTAXIS_CACHE_DIR": str(tree_cache)})
            analyze("analyze, warm (tree cached)", tree_cache, False, options)
            return rows
        analyze("analyze, cold (empty tree cache)", tree_cache, False, options)
        analyze("analyze, warm (tree cached)", tree_cache, False, options)
        with tempfile.TemporaryDirectory(prefix="gutaxis-bench-trees-") as fresh:
            analyze("analyze, first run (empty tree + numba caches)", Path(fresh), True, options)
        for label, empty_numba in (("gutaxis demo, empty tree cache", False),
                                   ("gutaxis demo, empty tree + numba caches", True)):
            print(f"[demo] {label} …", end=" ", flush=True)
            with tempfile.TemporaryDirectory(prefix="gutaxis-bench-") as tmp:
                env = {**os.environ, "GUTAXIS_CACHE_DIR": str(Path(tmp) / "trees")}
                if empty_numba:
                    env["NUMBA_CACHE_DIR"] = str(Path(tmp) / "numba")
                script = Path(sys.executable).parent / "gutaxis"
                p = run_process([str(script), "demo", "--out", str(Path(tmp) / "out")],
                                env=env, stdin=None, timeout=args.timeout)
            ok = p.get("returncode") == 0
            tail = (p.get("stderr") or p.get("error") or "").strip().splitlines()
            error = tail[-1][-300:] if tail else f"exit status {p.get('returncode')}"
            rows.append({"part": "demo", "figure": label,
                         "setting": "console script `gutaxis demo --out tmp`",
                         "gutaxis_seconds": p.get("wall") if ok else None,
                         "peak_bytes": p.get("tree_peak_pss"), "load": p.get("load"),
                         "peer_text": "—",
                         "note": "wall time of the whole process (start-up, imports, report)"
                         if ok else f"error: {error}"})
            print(_secs(rows[-1]["gutaxis_seconds"]) + " s" if ok else error, flush=True)
    finally:
        if not args.quick:
            shutil.rmtree(tree_cache, ignore_errors=True)
        shutil.rmtree(out_root, ignore_errors=True)
        for r in rows:
            if r.get("steps"):
                top = sorted(r["steps"], key=lambda st: -st[1])[:6]
                notes.append(f"slowest steps of '{r['figure']}': "
                             + ", ".join(f"{name} {sec:.1f} s" for name, sec in top))
    return rows


def _demo_row(label: str, r: dict[str, Any], *, quick: bool) -> dict[str, Any]:
    setting = ("87 samples, quick: 10×1 CV, 99 permutations, 16 MC" if quick
               else "87 samples, defaults")
    if not r.get("ok"):
        return {"part": "demo", "figure": label, "setting": setting, "note": r.get("error")}
    steps = [list(s) for s in r["steps"]]
    tree = r.get("tree") or {}
    if tree.get("seconds") is not None:
        # the first on_step after "reading" includes attach_tree; split it out
        for s in steps:
            if s[0] != "reading":
                s[1] = max(0.0, s[1] - tree["seconds"])
                break
        steps.insert(1, [f"tree ({'cached' if tree.get('cached') else tree.get('source')})",
                         tree["seconds"]])
    return {"part": "demo", "figure": label, "setting": setting, "peer_text": "—",
            "gutaxis_seconds": r["seconds"], "peak_bytes": r.get("tree_peak_pss"),
            "main_peak_rss": r.get("main_peak_rss"), "load": r.get("load"), "steps": steps,
            "process_wall": r.get("process_wall"),
            "note": f"tree {tree.get('seconds', 0):.1f} s; process {r['process_wall']:.1f} s "
                    f"with start-up"}


STAT_FIGURES = [
    # op, figure, peer description
    ("permanova", "PERMANOVA (Bray–Curtis, 999 perm.)",
     "skbio permanova, same matrix, 999 perm."),
    ("permdisp", "PERMDISP centroid, all axes (999 perm.)",
     "skbio permdisp(test='centroid', dimensions=n)"),
    ("permdisp_default", "PERMDISP median, 10 axes (999 perm.)",
     "skbio permdisp defaults (median, dimensions=10)"),
    ("differential", f"differential abundance, genus ({MC_SAMPLES} MC)",
     None),
    ("spearman", "Spearman marker–taxon",
     "loop of scipy.stats.spearmanr (pairwise complete)"),
]


def stat_rows(args: argparse.Namespace, n: int, chosen: set[str]) -> list[dict[str, Any]]:
    rows = []
    warm_n = min(n, 200)
    # the full run compiles in the warm-up (empty numba cache), as benchmarks.run does;
    # --quick uses the installed cache to stay under a minute
    numba = None if args.quick else "empty"
    for op, figure, peer in STAT_FIGURES:
        if op not in chosen:
            continue
        base = {"kind": "stat", "op": op, "n": n, "seed": args.seed, "warmup_n": warm_n}
        print(f"[cohort {n}] {op}: gutaxis …", end=" ", flush=True)
        ours = run_worker({**base, "impl": "gutaxis"}, timeout=args.timeout, numba_cache=numba)
        row: dict[str, Any] = {"part": "cohort", "figure": figure, "setting": f"{n} samples",
                               "peer": peer}
        if not ours.get("ok"):
            row["note"] = f"error: {ours.get('error')}"
            rows.append(row)
            print(ours.get("error"), flush=True)
            continue
        print(_secs(ours["seconds"]) + " s", end="", flush=True)
        row.update(gutaxis_seconds=ours["seconds"], gutaxis_times=ours["times"],
                   warmup_seconds=ours["warmup_seconds"], peak_bytes=ours.get("peak_rise"),
                   load=ours.get("load"), statistic=ours.get("statistic"))
        if op == "spearman":
            row["setting"] = f"{n} samples, {ours['shape'][0]} × {ours['shape'][1]} genera"
        if op == "differential":
            row["peer_text"] = "no peer"
            row["note"] = (f"no Python peer (ALDEx2 is R); {ours.get('n_taxa')} genera tested, "
                           f"{ours.get('called')} with q < 0.05, "
                           f"{ours.get('planted_called')} of {ours.get('planted')} planted")
        if peer and not args.skip_peer:
            print(" | peer …", end=" ", flush=True)
            theirs = run_worker({**base, "impl": "peer"}, timeout=args.timeout,
                                numba_cache=numba)
            if theirs.get("ok"):
                row.update(peer_seconds=theirs["seconds"], peer_times=theirs["times"],
                           peer_statistic=theirs.get("statistic"),
                           ratio=theirs["seconds"] / ours["seconds"])
                row["load"] = [row["load"][0], theirs["load"][1]] if row.get("load") else None
                a, b = row.get("statistic"), row.get("peer_statistic")
                if a is not None and b is not None:
                    rel = abs(a - b) / max(abs(b), 1e-300)
                    row["statistic_rel_diff"] = rel
                    if op in ("permanova", "permdisp"):
                        row["note"] = f"same statistic (rel. diff {rel:.0e})"
                    elif op == "permdisp_default":
                        row["note"] = ("gutaxis test='median', n_components=10; F rel. diff "
                                       f"{rel:.0e}")
                print(_secs(theirs["seconds"]) + " s", flush=True)
            else:
                row["note"] = f"peer error: {theirs.get('error')}"
                print(theirs.get("error"), flush=True)
        else:
            print(flush=True)
        rows.append(row)
    return rows


def classifier_rows(args: argparse.Namespace, n: int) -> list[dict[str, Any]]:
    rows = []
    repeats = 1 if args.quick else CV_PILOT_REPEATS
    print(f"[cohort {n}] classifier {CV_FOLDS}×{repeats} …", end=" ", flush=True)
    spec = {"kind": "classifier", "n": n, "seed": args.seed, "repeats": repeats}
    pilot = run_worker(spec, timeout=args.timeout, numba_cache=None)
    figure = f"random forest CV (microbiome, {N_TREES} trees)"
    if not pilot.get("ok"):
        print(pilot.get("error"), flush=True)
        return [{"part": "cohort", "figure": figure, "note": f"error: {pilot.get('error')}"}]
    print(_secs(pilot["seconds"]) + " s", flush=True)
    row: dict[str, Any] = {"part": "cohort", "figure": figure, "peer_text": "no peer",
                           "setting": f"{n} samples × {pilot['n_features']} genera",
                           "peak_bytes": pilot.get("tree_peak_pss"), "load": pilot.get("load"),
                           "auc_mean": pilot.get("auc_mean"), "pilot": pilot}
    if args.quick:
        row.update(setting=row["setting"] + f", {CV_FOLDS}×1 CV (quick)",
                   gutaxis_seconds=pilot["seconds"],
                   note="quick: one repeat (with the importance step)")
        return [row]
    marks = pilot["fold_marks"]
    per_repeat = pilot["seconds"] - marks[CV_FOLDS - 1]  # a repeat without the importance
    estimate = pilot["seconds"] + (CV_REPEATS - repeats) * per_repeat
    if estimate <= args.cv_max_seconds:
        print(f"[cohort {n}] classifier {CV_FOLDS}×{CV_REPEATS} (estimated "
              f"{estimate:.0f} s) …", end=" ", flush=True)
        full = run_worker({**spec, "repeats": CV_REPEATS}, timeout=args.timeout, numba_cache=None)
        if full.get("ok"):
            print(_secs(full["seconds"]) + " s", flush=True)
            row.update(setting=row["setting"] + f", {CV_FOLDS}×{CV_REPEATS} CV",
                       gutaxis_seconds=full["seconds"], peak_bytes=full.get("tree_peak_pss"),
                       load=full.get("load"), auc_mean=full.get("auc_mean"),
                       note=f"{full['threads']} worker processes; estimate from the "
                            f"{CV_FOLDS}×{repeats} pilot was {estimate:.0f} s")
            rows.append(row)
            return rows
        print(full.get("error"), flush=True)
    row.update(setting=row["setting"] + f", {CV_FOLDS}×{CV_REPEATS} CV",
               gutaxis_seconds=estimate, extrapolated=True,
               note=f"extrapolated: {CV_FOLDS}×{repeats} took {pilot['seconds']:.1f} s, a repeat "
                    f"without importance {per_repeat:.1f} s")
    rows.append(row)
    return rows


def importance_rows(args: argparse.Namespace, n: int) -> list[dict[str, Any]]:
    figure = "permutation importance, one fold (5 repeats)"
    print(f"[cohort {n}] importance: gutaxis …", end=" ", flush=True)
    spec = {"kind": "importance", "n": n, "seed": args.seed}
    ours = run_worker({**spec, "impl": "gutaxis"}, timeout=args.timeout, numba_cache=None)
    if not ours.get("ok"):
        print(ours.get("error"), flush=True)
        return [{"part": "cohort", "figure": figure, "note": f"error: {ours.get('error')}"}]
    print(_secs(ours["seconds"]) + " s", end="", flush=True)
    row: dict[str, Any] = {
        "part": "cohort", "figure": figure,
        "setting": f"{ours['n_test']} held-out × {ours['n_features']} genera",
        "gutaxis_seconds": ours["seconds"], "peak_bytes": ours.get("peak_rise"),
        "load": ours.get("load"),
        "peer": "sklearn.inspection.permutation_importance(scoring='roc_auc', n_repeats=5)"}
    if not args.skip_peer:
        print(" | peer …", end=" ", flush=True)
        theirs = run_worker({**spec, "impl": "peer"}, timeout=args.timeout, numba_cache=None)
        if theirs.get("ok"):
            print(_secs(theirs["seconds"]) + " s", flush=True)
            a = np.asarray(ours["importance_mean"])
            b = np.asarray(theirs["importance_mean"])
            corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
            row.update(peer_seconds=theirs["seconds"], ratio=theirs["seconds"] / ours["seconds"],
                       load=[row["load"][0], theirs["load"][1]] if row.get("load") else None,
                       note=f"same fitted forest; importances correlate r = {corr:.2f} "
                            "(different random permutations)")
        else:
            row["note"] = f"peer error: {theirs.get('error')}"
            print(theirs.get("error"), flush=True)
    else:
        print(flush=True)
    return [row]


# ------------------------------------------------------------------ report
HEADERS = ["figure", "setting", "gutaxis s", "peer s", "ratio", "peak MiB", "load 1-min",
           "notes"]


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| " + " | ".join(HEADERS) + " |",
             "|" + "|".join(["---", "---", "---:", "---:", "---:", "---:", "---:", "---"]) + "|"]
    for r in rows:
        ours = r.get("gutaxis_seconds")
        peer = r.get("peer_seconds")
        ours_txt = _secs(ours) + (" extrapolated" if r.get("extrapolated") else "")
        peer_txt = _secs(peer) if peer is not None else r.get("peer_text", "—")
        ratio = r.get("ratio")
        cells = [r["figure"], r.get("setting", ""), ours_txt, peer_txt,
                 "—" if ratio is None else f"{ratio:,.1f}×", _mib(r.get("peak_bytes")),
                 _load_text(r.get("load")), r.get("note") or ""]
        lines.append("| " + " | ".join(" ".join(str(c).split()).replace("|", "/")
                                       for c in cells) + " |")
    return lines


PARTS = ("demo", "permanova", "permdisp", "permdisp_default", "differential", "spearman",
         "classifier", "importance")


def _parse_only(text: str) -> list[str]:
    parts = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in parts if t not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part(s) {', '.join(unknown)}; choose from "
                                         f"{', '.join(PARTS)}")
    return parts


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.analyze", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run (< 1 min): warm demo with 1 CV repeat, 99 permutations and "
                        "16 MC instances; a 300-sample cohort, CV 10×1")
    p.add_argument("--samples", type=int, default=None,
                   help="samples in the synthetic cohort (default 2000; 300 with --quick)")
    p.add_argument("--only", type=_parse_only, default=None,
                   help="comma-separated parts: " + ", ".join(PARTS))
    p.add_argument("--skip-demo", action="store_true", help="leave out the bundled study")
    p.add_argument("--skip-cohort", action="store_true", help="leave out the synthetic cohort")
    p.add_argument("--skip-peer", action="store_true", help="time gutaxis only")
    p.add_argument("--cv-max-seconds", type=float, default=180.0,
                   help="run the full 10×10 cross-validation only when its estimate (from a "
                        "10×2 pilot) is at most this; else report the estimate, marked "
                        "extrapolated (default 180)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic cohort")
    p.add_argument("--output", type=Path, default=BENCH_DIR / "analyze.json",
                   help="JSON results (default .bench/analyze.json)")
    p.add_argument("--timeout", type=float, default=1800.0,
                   help="seconds after which one measurement is abandoned (default 1800)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        return worker_main()
    from benchmarks.run import machine_info

    n = args.samples or (300 if args.quick else 2000)
    machine = machine_info()
    cores = machine.get("usable_cores") or 1
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"machine: {machine.get('cpu')}, {cores} cores, numpy {machine['numpy']}, "
          f"numba {machine['numba']}, skbio {machine.get('skbio')}; load average at start "
          f"{' '.join(f'{x:.2f}' for x in load_start or ())}", flush=True)
    git_start = git_state()
    print(f"gutaxis at {git_start['head']}"
          + (" with uncommitted changes in src/" if git_start["src_dirty"] else ""), flush=True)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    chosen = set(args.only or PARTS)
    if args.skip_demo:
        chosen.discard("demo")
    if args.skip_cohort:
        chosen &= {"demo"}
    if "demo" in chosen:
        rows += demo_rows(args, notes)
    rows += stat_rows(args, n, chosen)
    if "classifier" in chosen:
        rows += classifier_rows(args, n)
    if "importance" in chosen:
        rows += importance_rows(args, n)
    load_end = os.getloadavg() if hasattr(os, "getloadavg") else None
    print()
    print("\n".join(table_lines(rows)))
    notes.append("ratio = peer s / gutaxis s, both timed in this run on the same inputs; "
                 "time = fastest of 3 runs when a run takes < 1 s")
    notes.append("peak MiB: demo rows and the CV = sampled peak PSS of the process and its "
                 "children; other rows = rise of the worker's peak RSS during the run")
    if any(r.get("warmup_seconds") is not None for r in rows):
        cache = "installed numba cache" if args.quick else "empty numba cache"
        notes.append(f"warm-up call ({cache}) on the first 200 samples, not in the times: "
                     + ", ".join(
                         f"{r['figure'].split(' (')[0]} {r['warmup_seconds']:.1f} s"
                         for r in rows if r.get("warmup_seconds") is not None))
    git_end = git_state()
    if (git_end["head"], git_end["src_diff_hash"]) != (git_start["head"],
                                                        git_start["src_diff_hash"]):
        notes.append(f"WARNING: the code under src/ changed during the run (commit "
                     f"{git_start['head']} → {git_end['head']}, or uncommitted edits): figures "
                     "taken before and after the change may not be comparable")
    seen = [x for r in rows for x in (r.get("load") or []) if x is not None]
    if seen and max(seen) > cores:
        notes.append(f"WARNING: the machine was busy (1-minute load average up to "
                     f"{max(seen):.1f} on {cores} cores); other processes competed for the CPU "
                     "and the timings are noisy")
    for note in notes:
        print(f"* {note}")
    elapsed = time.perf_counter() - t0
    print(f"load average at end {' '.join(f'{x:.2f}' for x in load_end or ())}; "
          f"{elapsed:.0f} s in all")
    git_start.pop("src_diff_hash")
    git_end.pop("src_diff_hash")
    out = {"machine": machine, "started": started, "git_start": git_start, "git_end": git_end,
           "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
           "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
           "load_start": load_start, "load_end": load_end, "elapsed_seconds": elapsed,
           "results": rows, "notes": notes}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1, default=str))
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
