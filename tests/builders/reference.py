"""A synthetic 16S cohort and patients for the reference tests (tests/reference/)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gutaxis.io import parse_taxonomy
from gutaxis.study import RANKS, Study

# phylum, class, order, family, genus, species, mean weight (Greengenes spellings)
GENERA = [
    ("Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae", "Faecalibacterium",
     "prausnitzii", 12.0),
    ("Bacteroidetes", "Bacteroidia", "Bacteroidales", "Bacteroidaceae", "Bacteroides", None, 20.0),
    ("Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae", "Roseburia", None, 6.0),
    ("Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae", "Blautia", None, 8.0),
    ("Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae", "Coprococcus", None, 4.0),
    ("Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae", "Oscillospira", None, 5.0),
    ("Actinobacteria", "Actinobacteria", "Bifidobacteriales", "Bifidobacteriaceae",
     "Bifidobacterium", None, 4.0),
    ("Verrucomicrobia", "Verrucomicrobiae", "Verrucomicrobiales", "Verrucomicrobiaceae",
     "Akkermansia", "muciniphila", 2.0),
    ("Proteobacteria", "Gammaproteobacteria", "Enterobacteriales", "Enterobacteriaceae",
     "Escherichia", "coli", 1.5),
    ("Bacteroidetes", "Bacteroidia", "Bacteroidales", "Prevotellaceae", "Prevotella", "copri",
     5.0),
    ("Firmicutes", "Negativicutes", "Selenomonadales", "Veillonellaceae", "Veillonella", None,
     1.0),
    ("Bacteroidetes", "Bacteroidia", "Bacteroidales", "Rikenellaceae", "Alistipes", None, 4.0),
    ("Fusobacteria", "Fusobacteriia", "Fusobacteriales", "Fusobacteriaceae", "Fusobacterium",
     None, 0.05),
]
PER_GENUS = 3
N_CONTROL, N_PATIENT = 60, 10


def _features(seed: int = 0) -> tuple[list[str], pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids, rows = [], []
    for g in GENERA:
        for _ in range(PER_GENUS):
            ids.append("".join(rng.choice(list("ACGT"), size=120)))
            rows.append(dict(zip(RANKS, ("Bacteria", *g[:6]), strict=True)))
    return ids, pd.DataFrame(rows, index=ids)[list(RANKS)]


def synthetic_study(n_control: int = N_CONTROL, n_patient: int = N_PATIENT,
                    seed: int = 0) -> Study:
    """16S-like counts: ASV sequences as ids, Greengenes taxonomy, Dirichlet-multinomial."""
    ids, taxonomy = _features()
    rng = np.random.default_rng(seed + 1)
    base = np.repeat([g[6] for g in GENERA], PER_GENUS) / PER_GENUS
    n = n_control + n_patient
    props = rng.dirichlet(base * 2.0, size=n)
    depths = rng.integers(5000, 20000, size=n)
    counts = np.vstack([rng.multinomial(d, p) for d, p in zip(depths, props, strict=True)])
    samples = [f"S{i:03d}" for i in range(n)]
    md = pd.DataFrame({"Subject": ["Control"] * n_control + ["Patient"] * n_patient,
                       "Age": rng.integers(20, 70, size=n).astype(float),
                       "LPSpgml": rng.lognormal(5, 0.4, size=n)}, index=samples)
    return Study(counts, samples, ids, taxonomy=taxonomy, samples=md)


def patient_study(weights: dict[str, float], reads: int = 10000, sid: str = "P1") -> Study:
    """One sample over the same ASVs, ``weights`` giving each genus's share."""
    ids, taxonomy = _features()
    genus = taxonomy["genus"].to_numpy()
    counts = np.zeros(len(ids))
    for name, share in weights.items():
        where = np.flatnonzero(genus == name)
        counts[where] = share * reads / len(where)
    return Study(np.round(counts)[None, :], [sid], ids, taxonomy=taxonomy,
                 samples=pd.DataFrame({"LPSpgml": [150.0]}, index=[sid]))


def metaphlan_patient(sid: str = "M1") -> Study:
    """A MetaPhlAn-like shotgun species profile (percent)."""
    paths = ["k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|"
             "g__Faecalibacterium|s__Faecalibacterium_prausnitzii",
             "k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|"
             "g__Bacteroides|s__Bacteroides_vulgatus",
             "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|"
             "g__Roseburia|s__Roseburia_intestinalis"]
    leaves = [p.rsplit("|", 1)[1] for p in paths]
    return Study(np.array([[30.0, 50.0, 20.0]]), [sid], leaves,
                 taxonomy=parse_taxonomy(paths, index=leaves), kind="relative")
