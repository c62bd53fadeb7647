"""Compare gutaxis with the outputs of a real QIIME 2 ``core-metrics-phylogenetic`` run.

Usage::

    python -m benchmarks.qiime2_agreement --table core-metrics-results/rarefied_table.qza \
        --tree rooted-tree.qza --core-metrics core-metrics-results/

The table must be the *rarefied* table QIIME 2 wrote (so that both tools see the
same counts); gutaxis then computes every metric QIIME 2 computed and the script
prints, per metric, the largest relative difference between the two.  Exit code 1
if any metric differs by more than ``--rtol`` (default 1e-6).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from gutaxis import io
from gutaxis.commands import DiversityOptions, run_diversity

#: QIIME 2 core-metrics file → gutaxis metric name.
ALPHA_FILES = {
    "observed_features_vector.qza": "observed_features",
    "shannon_vector.qza": "shannon_entropy",
    "evenness_vector.qza": "pielou_evenness",
    "faith_pd_vector.qza": "faith_pd",
}
BETA_FILES = {
    "bray_curtis_distance_matrix.qza": "braycurtis",
    "jaccard_distance_matrix.qza": "jaccard",
    "unweighted_unifrac_distance_matrix.qza": "unweighted_unifrac",
    "weighted_unifrac_distance_matrix.qza": "weighted_unifrac",
}


def max_rel_diff(ours: np.ndarray, theirs: np.ndarray) -> float:
    scale = np.maximum(np.abs(theirs), 1e-12)
    return float(np.max(np.abs(ours - theirs) / scale)) if ours.size else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, type=Path)
    parser.add_argument("--tree", required=True, type=Path)
    parser.add_argument("--core-metrics", required=True, type=Path)
    parser.add_argument("--rtol", type=float, default=1e-6)
    args = parser.parse_args(argv)

    alpha_present = {f: m for f, m in ALPHA_FILES.items() if (args.core_metrics / f).exists()}
    beta_present = {f: m for f, m in BETA_FILES.items() if (args.core_metrics / f).exists()}
    metrics = [*alpha_present.values(), *beta_present.values()]
    run = run_diversity(DiversityOptions(table=args.table, tree=args.tree, metrics=metrics))
    rows = []
    for filename, metric in alpha_present.items():
        theirs = io.read_qza(args.core_metrics / filename).value
        assert run.alpha is not None
        ours = run.alpha[metric].reindex(theirs.index.astype(str))
        rows.append((metric, len(theirs), max_rel_diff(ours.to_numpy(float),
                                                       theirs.to_numpy(float))))
    for filename, metric in beta_present.items():
        theirs = io.read_qza(args.core_metrics / filename).value
        ours = run.beta[metric].subset(list(theirs.ids))
        iu = np.triu_indices(len(theirs.ids), k=1)
        rows.append((metric, len(theirs.ids), max_rel_diff(ours.data[iu], theirs.data[iu])))
    print(f"{'metric':<22}{'n':>6}  {'max relative difference':>24}  agrees (rtol={args.rtol:g})")
    failed = False
    for metric, n, diff in rows:
        ok = diff <= args.rtol
        failed |= not ok
        print(f"{metric:<22}{n:>6}  {diff:>24.3e}  {'yes' if ok else 'NO'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
