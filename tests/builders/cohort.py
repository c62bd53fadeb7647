"""A small two-group cohort on disk (table + metadata with markers), for command tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gutaxis import Study


def cohort_files(folder: Path, *, n: int = 24, m: int = 30, seed: int = 3) -> tuple[Path, Path]:
    """Write ``table.biom.json`` and ``md.tsv``: two groups, three planted genera, two markers.

    Genera 0–2 are three-fold higher in ``case``; ``LPSpgml`` is higher in ``case``; the
    metadata also holds ``CRP`` (gamma noise) and a text column ``Word``.
    """
    rng = np.random.default_rng(seed)
    groups = np.array(["ctrl"] * (n // 2) + ["case"] * (n - n // 2))
    base = rng.lognormal(0, 1.5, size=m)
    planted = np.where(np.arange(m) < 3, 3.0, 1.0)
    counts = np.vstack([rng.multinomial(5000, p / p.sum())
                        for p in (base * (planted if g == "case" else 1.0) for g in groups)])
    ids = [f"S{i:02d}" for i in range(n)]
    taxonomy = pd.DataFrame({"kingdom": "Bacteria",
                             "phylum": (["Firmicutes", "Bacteroidetes", "Proteobacteria"]
                                        * m)[:m],
                             "class": None, "order": None, "family": None,
                             "genus": [f"Genus{j}" for j in range(m)], "species": None},
                            index=[f"F{j}" for j in range(m)])
    study = Study(counts, ids, list(taxonomy.index), taxonomy=taxonomy)
    table = folder / "table.biom.json"
    table.write_text(study.to_biom().to_json("test"))
    lps = np.where(groups == "case", 120.0, 70.0) + rng.normal(0, 10, n)
    md = pd.DataFrame({"#SampleID": ids, "Diagnosis": groups, "LPSpgml": lps,
                       "CRP": rng.gamma(2.0, 1.0, n), "Word": ["x"] * n})
    metadata = folder / "md.tsv"
    md.to_csv(metadata, sep="\t", index=False)
    return table, metadata
