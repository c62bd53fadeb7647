"""What kind of table a study came from: sequencing type and taxonomy scheme."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builders.reference import metaphlan_patient, synthetic_study
from gutaxis.exceptions import ValidationError
from gutaxis.io import infer_sequencing, infer_taxonomy_scheme, parse_sequencing
from gutaxis.study import RANKS, Study


def test_parse_sequencing() -> None:
    assert parse_sequencing("16S V3-V4") == ("16S amplicon", "V3-V4")
    assert parse_sequencing("16S rRNA amplicon, v4") == ("16S amplicon", "V4")
    assert parse_sequencing("shotgun metagenomics") == ("shotgun", None)


def test_infer_taxonomy_scheme() -> None:
    assert infer_taxonomy_scheme(metaphlan_patient()) == "metaphlan"
    silva = pd.DataFrame({"phylum": ["Bacteroidota", "Firmicutes"],
                          "genus": ["Escherichia-Shigella", "Lachnospiraceae_NK4A136_group"]},
                         index=["a", "b"]).reindex(columns=list(RANKS))
    gtdb = pd.DataFrame({"phylum": ["Bacillota_A", "Bacteroidota"],
                         "genus": ["Ruminococcus_B", "Bacteroides"],
                         "species": ["Ruminococcus_B gnavus", "Bacteroides uniformis"]},
                        index=["a", "b"]).reindex(columns=list(RANKS))
    plain = pd.DataFrame({"genus": ["Bacteroides", "Blautia"]},
                         index=["a", "b"]).reindex(columns=list(RANKS))
    for tax, expected in ((silva, "silva"), (gtdb, "gtdb"), (plain, "unknown")):
        s = Study(np.ones((1, 2)), ["x"], ["a", "b"], taxonomy=tax)
        assert infer_taxonomy_scheme(s) == expected


def test_parse_sequencing_refuses_what_it_does_not_know() -> None:
    with pytest.raises(ValidationError, match="sequencing type 'nanopore' is not one gutaxis "
                                              "knows"):
        parse_sequencing("nanopore")


def test_infer_sequencing() -> None:
    study = synthetic_study(n_control=3, n_patient=0)  # ASV sequences as ids
    assert infer_sequencing(study, "greengenes") == "16S amplicon"
    assert infer_sequencing(metaphlan_patient(), "metaphlan") == "shotgun"
    plain = Study(np.ones((1, 2)), ["x"], ["a", "b"], kind="relative")
    assert infer_sequencing(plain, "unknown") == "unknown"

