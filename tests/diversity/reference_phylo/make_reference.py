"""Generate the scikit-bio reference outputs for the phylogenetic diversity tests.

Run from the repository root::

    .venv/bin/python tests/diversity/reference_phylo/make_reference.py

gutaxis is *not* imported: the trees are built and the metrics computed with
numpy and scikit-bio only, so the files are an independent reference.  See
README.md for what each case exercises and the versions used.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import scipy
import skbio
from skbio import TreeNode
from skbio.diversity import alpha_diversity, beta_diversity

HERE = Path(__file__).parent


def random_newick(n_tips: int, rng: np.random.Generator, *, polytomy: int = 0,
                  zero_lengths: int = 0, root_length: float | None = None,
                  prefix: str = "F") -> str:
    """Random tree by random joins; ``polytomy`` joins take 3-4 children."""
    nodes = [f"{prefix}{i}" for i in range(n_tips)]
    joins = 0
    while len(nodes) > 1:
        k = 2
        if joins < polytomy and len(nodes) >= 4:
            k = int(rng.integers(3, 5))
        pick = sorted(rng.choice(len(nodes), k, replace=False), reverse=True)
        parts = []
        for p in pick:
            length = 0.0 if rng.random() < zero_lengths / max(n_tips, 1) else rng.exponential(0.3)
            parts.append(f"{nodes.pop(p)}:{length!r}")
        nodes.append("(" + ",".join(parts) + ")")
        joins += 1
    tail = "" if root_length is None else f":{root_length!r}"
    return nodes[0] + tail + ";"


def random_table(n_samples: int, n_features: int, rng: np.random.Generator,
                 *, empty_rows: tuple[int, ...] = (),
                 empty_cols: tuple[int, ...] = ()) -> np.ndarray:
    counts = np.zeros((n_samples, n_features), dtype=np.int64)
    for i in range(n_samples):
        k = int(rng.integers(1, max(2, n_features // 4)))
        feats = rng.choice(n_features, k, replace=False)
        counts[i, feats] = rng.geometric(0.05, k)
    counts[list(empty_rows), :] = 0
    counts[:, list(empty_cols)] = 0
    return counts


def write_lsmat(path: Path, ids: list[str], data: np.ndarray) -> None:
    with open(path, "w") as fh:
        fh.write("\t" + "\t".join(ids) + "\n")
        for i, row in zip(ids, data, strict=True):
            fh.write(i + "\t" + "\t".join(repr(float(x)) for x in row) + "\n")


def make_case(name: str, n_samples: int, n_features: int, extra_tips: int, seed: int,
              **tree_kw: object) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    newick = random_newick(n_features + extra_tips, rng, **tree_kw)
    tree = TreeNode.read(io.StringIO(newick))
    counts = random_table(n_samples, n_features, rng, empty_rows=(0, n_samples // 2),
                          empty_cols=(1,))
    ids = [f"S{i}" for i in range(n_samples)]
    taxa = [f"F{i}" for i in range(n_features)]
    out = HERE / name
    out.mkdir(exist_ok=True)
    (out / "tree.nwk").write_text(newick + "\n")
    with open(out / "table.tsv", "w") as fh:
        fh.write("sample_id\t" + "\t".join(taxa) + "\n")
        for i, row in zip(ids, counts, strict=True):
            fh.write(i + "\t" + "\t".join(map(str, row)) + "\n")
    pd_values = alpha_diversity("faith_pd", counts, ids, taxa=taxa, tree=tree)
    with open(out / "faith_pd.tsv", "w") as fh:
        fh.write("sample_id\tfaith_pd\n")
        for i, v in pd_values.items():
            fh.write(f"{i}\t{float(v)!r}\n")
    write_lsmat(out / "unweighted_unifrac.lsmat", ids,
                beta_diversity("unweighted_unifrac", counts, ids, taxa=taxa, tree=tree).data)
    write_lsmat(out / "weighted_unifrac.lsmat", ids,
                beta_diversity("weighted_unifrac", counts, ids, taxa=taxa, tree=tree,
                               normalized=False).data)
    write_lsmat(out / "weighted_normalized_unifrac.lsmat", ids,
                beta_diversity("weighted_unifrac", counts, ids, taxa=taxa, tree=tree,
                               normalized=True).data)
    return {"samples": n_samples, "features": n_features, "extra_tips": extra_tips,
            "seed": seed, **{k: v for k, v in tree_kw.items()}}


def main() -> None:
    cases = {
        "small": make_case("small", 12, 15, 5, seed=11, root_length=0.4),
        "polytomies": make_case("polytomies", 40, 60, 20, seed=12, polytomy=15, zero_lengths=6),
        "medium": make_case("medium", 60, 150, 40, seed=13),
    }
    versions = {"scikit-bio": skbio.__version__, "numpy": np.__version__,
                "scipy": scipy.__version__}
    (HERE / "cases.json").write_text(json.dumps({"versions": versions, "cases": cases},
                                                indent=1) + "\n")


if __name__ == "__main__":
    main()
