"""Regenerate the scikit-bio reference values used by the diversity tests.

Run from the repository root::

    .venv/bin/python tests/diversity/reference/make_reference.py

It writes, next to this script:

* ``table.tsv`` — a small deterministic count table (samples × features,
  first column the sample id) built with a seeded numpy generator; it holds
  the edge cases on purpose: an empty sample, a one-feature sample, a sample
  of only singletons, one with singletons and doubletons, a duplicate sample.
* ``alpha.tsv`` — scikit-bio's alpha values for every sample.
* ``<metric>.lsmat`` — scikit-bio's distance matrices (lsmat format, full
  ``repr`` precision) for the non-empty samples.
* ``versions.json`` — the versions that produced them (also in README.md).

Only scikit-bio / numpy / scipy compute the numbers here; gutaxis is not
imported, so the files are an independent reference.
"""

from __future__ import annotations

import json
import pathlib
import platform

import numpy as np
import pandas as pd
import scipy
import skbio
from skbio.diversity import alpha as skalpha
from skbio.diversity import beta_diversity
from skbio.stats.composition import clr, rclr

HERE = pathlib.Path(__file__).resolve().parent
SEED = 20240611


def make_table() -> pd.DataFrame:
    """A 14 × 30 count table with long-tailed counts and edge-case rows."""
    rng = np.random.default_rng(SEED)
    n, m = 10, 30
    weights = rng.lognormal(0.0, 1.2, size=m)
    rows = []
    for _ in range(n):
        p = rng.dirichlet(0.4 * weights / weights.mean())
        depth = int(rng.integers(20, 400))
        c = rng.multinomial(depth, p)
        c[rng.random(m) < 0.3] = 0  # extra sparsity
        rows.append(c)
    counts = np.vstack(rows)
    empty = np.zeros(m, dtype=np.int64)
    one = np.zeros(m, dtype=np.int64)
    one[7] = 12
    singles = np.zeros(m, dtype=np.int64)
    singles[[0, 3, 5, 11]] = 1
    mixed = np.zeros(m, dtype=np.int64)
    mixed[[1, 2, 4, 9, 20]] = [1, 1, 2, 2, 9]
    counts = np.vstack([counts, empty, one, singles, mixed, counts[2]])
    ids = [f"S{i:02d}" for i in range(n)] + ["empty", "one", "singles", "mixed", "dup02"]
    cols = [f"F{j:02d}" for j in range(m)]
    return pd.DataFrame(counts, index=pd.Index(ids, name="sample_id"), columns=cols)


def alpha_reference(table: pd.DataFrame) -> pd.DataFrame:
    rows = {}
    for sid, v in table.iterrows():
        c = v.to_numpy()
        rows[sid] = {
            "observed_features": float(skalpha.observed_features(c)),
            "shannon_entropy": float(skalpha.shannon(c, base=2)),
            "shannon_e": float(skalpha.shannon(c)),
            "simpson": float(skalpha.simpson(c)),
            "chao1": float(skalpha.chao1(c)),
            "chao1_uncorrected": float(skalpha.chao1(c, bias_corrected=False)),
            "pielou_evenness": float(skalpha.pielou_e(c)),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "sample_id"
    return out


def beta_reference(table: pd.DataFrame) -> dict[str, skbio.DistanceMatrix]:
    nonempty = table.loc[table.sum(axis=1) > 0]
    ids = list(nonempty.index)
    x = nonempty.to_numpy().astype(np.float64)
    rel = x / x.sum(axis=1, keepdims=True)
    return {
        "braycurtis": beta_diversity("braycurtis", x, ids=ids),
        "braycurtis_relative": beta_diversity("braycurtis", rel, ids=ids, validate=False),
        "jaccard": beta_diversity("jaccard", x, ids=ids),
        # QIIME 2: counts += pseudocount, then euclidean(clr(x), clr(y))
        "aitchison": beta_diversity("euclidean", clr(x + 1.0), ids=ids, validate=False),
        "aitchison_pc0.5": beta_diversity("euclidean", clr(x + 0.5), ids=ids, validate=False),
        # rclr (zeros → NaN), unobserved set to 0, then euclidean
        "robust_aitchison": beta_diversity("euclidean", np.nan_to_num(rclr(x), nan=0.0),
                                           ids=ids, validate=False),
    }


def main() -> None:
    table = make_table()
    table.to_csv(HERE / "table.tsv", sep="\t")
    alpha_reference(table).to_csv(HERE / "alpha.tsv", sep="\t", float_format="%.17g")
    for name, dm in beta_reference(table).items():
        dm.write(str(HERE / f"{name}.lsmat"), format="lsmat")
    versions = {
        "scikit-bio": skbio.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
        "seed": SEED,
    }
    (HERE / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")


if __name__ == "__main__":
    main()
