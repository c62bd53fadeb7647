"""A patient's Profile built by hand, for the renderer's tests (tests/report/test_profile_page.py).

Every field is fixed (no clock, no random state) so that renders can be compared.  The
clinical wording here is test data, not knowledge-base text.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gutaxis.measures import Alert, Measure, RangeUsed
from gutaxis.profile import FollowupRow, LinkAssessment, Option, Profile, Summary

EVIL = "Bad<script>alert(1)</script>taxon"
DISCLAIMER = ("These options support, and do not replace, a clinician's judgement; none is a "
              "recommendation for this patient, and no doses are given.")
LEAKY = ('"Leaky gut syndrome" is not an accepted diagnosis and no validated test for it '
         "exists (Lacy 2024).")
SHA_TABLE = "ab" * 32
SHA_LABS = "cd" * 32
WARN_RANGE = ("This sample lies outside the range of the reference cohort (median Bray–Curtis "
              "0.81 > 0.62): percentiles may not apply.")
WARN_TAXONOMY = "The MD-index taxa are named in another taxonomy than the reference's."
NOT_COMPARABLE_NOTE = "taxonomy scheme differs from the reference (SILVA vs Greengenes)"
GMHI_NOTE = "GMHI needs shotgun metagenomes; this is a 16S table"
CREATED = "2026-03-04T05:06:07+00:00"

_RNG_SEED = 7


def reference_values() -> dict[str, list[float]]:
    rng = np.random.default_rng(_RNG_SEED)
    return {
        "index:shannon_entropy": rng.normal(3.4, 0.45, 300).round(4).tolist(),
        "taxon:faecalibacterium_prausnitzii": rng.beta(2, 30, 300).round(5).tolist(),
    }


def measures(*, taxon_label: str = "Faecalibacterium prausnitzii") -> tuple[Measure, ...]:
    ref = RangeUsed("reference", None, None, "reference HC-300 v1", label="5th–95th percentile")
    return (
        Measure("index:shannon_entropy", "Shannon entropy", "index", 2.31, "", "low",
                percentile=1.7, ci_low=0.8, ci_high=3.9, reference_n=300, range_used=ref),
        Measure("index:gmhi", "GMHI", "index", None, "", "not measured", notes=(GMHI_NOTE,)),
        Measure("index:md_index", "MD-index", "index", 0.42, "", "not comparable",
                notes=(NOT_COMPARABLE_NOTE,)),
        Measure("taxon:faecalibacterium_prausnitzii", taxon_label, "taxon", 0.004, "fraction",
                "low", percentile=3.2, ci_low=1.5, ci_high=4.6, reference_n=300,
                range_used=ref),
        Measure("taxon:enterobacteriaceae", "Enterobacteriaceae", "taxon", 0.012, "fraction",
                "within", percentile=61.0, ci_low=48.0, ci_high=72.0, reference_n=300,
                range_used=ref),
        Measure("marker:calprotectin", "Faecal calprotectin", "marker", 84.0, "ug/g",
                "borderline",
                range_used=RangeUsed("lab", None, 50.0, "Lab report of 2026-03-01",
                                     borderline_high=120.0, label="adult range"),
                caveats=("NSAIDs raise calprotectin",)),
        Measure("marker:hscrp", "hs-CRP", "marker", 1.2, "mg/L", "within",
                range_used=RangeUsed("catalogue", None, 3.0, "Pearson TA et al. Circulation "
                                     "2003;107:499", label="low/average risk")),
        Measure("marker:lps", "LPS", "marker", 0.31, "EU/mL", "within",
                range_used=RangeUsed("lab", 0.0, 0.5, "Lab report of 2026-03-01")),
        Measure("marker:zonulin_serum", "Zonulin (serum)", "marker", 61.0, "ng/mL",
                "not comparable", notes=("no range: the kit's range was not printed",),
                caveats=("the commercial ELISA does not detect zonulin specifically",)),
    )


def chain() -> tuple[LinkAssessment, ...]:
    return (
        LinkAssessment("dysbiosis", "Dysbiosis", "disturbed",
                       (("index:shannon_entropy", "low"),
                        ("taxon:faecalibacterium_prausnitzii", "low"),
                        ("taxon:enterobacteriaceae", "within")),
                       "Disturbed: Shannon entropy low (reference percentile 1.7).",
                       "Weak as a clinical reading.", "What counts as dysbiosis.",
                       ("Gevers D et al. Cell Host Microbe 2014;15:382. "
                        "doi:10.1016/j.chom.2014.02.005",)),
        LinkAssessment("barrier", "Gut barrier", "not measured", (),
                       "Not measured: none of Zonulin (serum) has a value that could be judged.",
                       f"Weak. {LEAKY} Blood markers have known limitations.",
                       "Whether these markers measure permeability.",
                       ("Lacy BE et al. Gastroenterol Hepatol 2024;20(5). PMID 39193076; "
                        "https://www.gastroenterologyandhepatology.net/archives/may-2024/",)),
        LinkAssessment("translocation", "Translocation", "not disturbed",
                       (("marker:lps", "within"),),
                       "Not disturbed: LPS within (0.31 EU/mL; lab range).",
                       "Moderate.", "Assay contamination.", ("Source T. 2020",)),
        LinkAssessment("inflammation", "Inflammation", "not disturbed",
                       (("marker:calprotectin", "borderline"), ("marker:hscrp", "within")),
                       "Not disturbed: no condition of the rule holds.", "Moderate.",
                       "Cut-offs in ME/CFS.", ("Source I. 2021",)),
    )


def options() -> dict[str, tuple[Option, ...]]:
    return {
        "remove": (Option("low_fodmap_limited_trial", "Low-FODMAP diet, limited trial", "remove",
                          ("link:dysbiosis=disturbed",), "Helps IBS symptoms in trials.",
                          "guideline-supported",
                          "ACG 2021: We suggest a limited trial of a low FODMAP diet. "
                          "(conditional; very low quality)",
                          ("Lacy BE et al. Am J Gastroenterol 2021",),
                          cautions="Restrictive diets need a dietitian."),),
        "reinoculate": (Option("probiotics_ibs", "Probiotics", "reinoculate",
                               ("link:dysbiosis=disturbed",
                                "taxon:faecalibacterium_prausnitzii=low"),
                               "Trials disagree.", "mixed-trial-evidence", None,
                               ("Su GL et al. Gastroenterology 2020",)),),
    }


def followup_rows() -> tuple[FollowupRow, ...]:
    return (
        FollowupRow("index:shannon_entropy", "Shannon entropy", "index", "", 3.1, 2.31,
                    change=2.31 - 3.1, direction="decrease", reference_sd=0.44,
                    critical_difference=1.22, real_change=False),
        FollowupRow("marker:calprotectin", "Faecal calprotectin", "marker", "ug/g", 20.0, 84.0,
                    change=64.0, direction="increase", reference_sd=12.0,
                    critical_difference=33.3, real_change=True),
        FollowupRow("marker:lps", "LPS", "marker", "EU/mL", 0.2, 0.31, change=0.11,
                    direction="increase",
                    notes=("no reference distribution for this measure",)),
    )


def history() -> tuple[dict[str, Any], ...]:
    return (
        {"created": "2025-03-01T09:00:00+00:00", "sample_id": "S-0001", "patient_id": "P-0042",
         "values": {"index:shannon_entropy": 3.4, "marker:calprotectin": 15.0}, "censored": {}},
        {"created": "2025-09-01T09:00:00+00:00", "sample_id": "S-0002", "patient_id": "P-0042",
         "values": {"index:shannon_entropy": 3.1, "marker:calprotectin": 20.0,
                    "marker:lps": 0.2}, "censored": {}},
    )


def make_profile(*, with_followup: bool = True,
                 taxon_label: str = "Faecalibacterium prausnitzii") -> Profile:
    """The test patient; ``with_followup=False``: a first visit (no history)."""
    return Profile(
        sample_id="S-0003",
        patient_id="P-0042",
        created=CREATED,
        reference={"name": "HC-300", "version": "f" * 64, "n_samples": 300,
                   "sequencing": "16S V4", "taxonomy_scheme": "greengenes",
                   "created": "2026-01-01T00:00:00+00:00", "where": "references/hc300"},
        alerts=(Alert("out_of_reference_range", WARN_RANGE, "reference", True,
                      ("index:shannon_entropy", "taxon:faecalibacterium_prausnitzii",
                       "taxon:enterobacteriaceae")),
                Alert("taxonomy_mismatch", WARN_TAXONOMY, "reference", True,
                      ("index:md_index",))),
        measures=measures(taxon_label=taxon_label),
        top_taxa=({"taxon": "k__Bacteria;p__Bacteroidetes;g__Bacteroides",
                   "label": "Bacteroides", "rank": "genus", "abundance": 0.31},
                  {"taxon": "k__Bacteria;p__Firmicutes;g__Blautia", "label": "Blautia",
                   "rank": "genus", "abundance": 0.08},
                  {"taxon": "k__Bacteria;p__Firmicutes;g__Roseburia", "label": "Roseburia",
                   "rank": "genus", "abundance": 0.0004}),
        chain=chain(),
        options=options(),
        followup=followup_rows() if with_followup else None,
        history=history() if with_followup else (),
        reference_values=reference_values(),
        summary=Summary(("Your gut bacteria are less varied than in most healthy people "
                         "of the reference group.",
                         "Faecal calprotectin is in the borderline range of the lab."),
                        ("Dysbiosis link disturbed (Shannon low, F. prausnitzii low).",
                         "Calprotectin borderline (84 ug/g; lab).")),
        disclaimer=DISCLAIMER,
        provenance={"gutaxis_version": "0.1.0",
                    "inputs": [{"role": "table", "path": "table.biom", "sha256": SHA_TABLE,
                                "bytes": 12345},
                               {"role": "labs", "path": "LABS.csv", "sha256": SHA_LABS,
                                "bytes": 678}],
                    "reference": {"name": "HC-300", "version": "f" * 64},
                    "knowledge_base": {"chain": "2026.11.1", "interventions": "2026.11.1",
                                       "markers": "2026.10.2"},
                    "parameters": {"seed": 0, "bootstrap": 1000}},
    )
