"""Which differential-abundance method the cohort analysis runs, and with --subject.

Read counts in two groups: the ALDEx2-style count method (as before).
Relative abundances, or three groups or more: LinDA, with an omnibus test
and every pair of groups.  With ``subject`` both count each person once.
"""

from __future__ import annotations

import jsonschema
import numpy as np
import pandas as pd
import pytest

from gutaxis import Study
from gutaxis.cohort import CohortParameters, analyze_cohort
from gutaxis.report import render_report, results_document, results_schema
from gutaxis.stats.differential import METHOD as COUNT_METHOD
from gutaxis.stats.linda import METHOD as LINDA_METHOD
from gutaxis.study import RANKS

FAST = {"permutations": 99, "classifier": False, "alpha_metrics": ("shannon_entropy",),
        "beta_metrics": ("braycurtis",), "rarefy_depth": None, "mc_samples": 8}


def _cohort(groups: tuple[str, ...] = ("control", "diet"), per_group: int = 12,
            per_person: int = 1, seed: int = 0) -> Study:
    """Counts of 30 genera; G0 is 8 times as abundant in the second group."""
    rng = np.random.default_rng(seed)
    people = per_group * len(groups)
    person = np.repeat(np.arange(people), per_person)
    group = np.repeat(np.asarray(groups), per_group)[person]
    log_ab = (rng.normal(0, 1, 30) + rng.normal(0, 0.7, (people, 30))[person]
              + rng.normal(0, 0.3, (len(person), 30)))
    log_ab[group == groups[1], 0] += np.log(8)
    props = np.exp(log_ab) / np.exp(log_ab).sum(axis=1, keepdims=True)
    counts = np.vstack([rng.multinomial(20_000, p) for p in props])
    ids = [f"S{i:03d}" for i in range(len(person))]
    features = [f"F{j}" for j in range(30)]
    taxonomy = pd.DataFrame({rank: [f"{rank[0]}{j % 3}" for j in range(30)] for rank in RANKS},
                            index=features)
    taxonomy["genus"] = [f"G{j}" for j in range(30)]
    taxonomy["species"] = None
    md = pd.DataFrame({"diagnosis": group, "person": [f"p{p}" for p in person]}, index=ids)
    return Study(counts, ids, features, taxonomy=taxonomy).with_metadata(md)


def _run(study: Study, **kw: object):
    return analyze_cohort(study, CohortParameters("diagnosis", **{**FAST, **kw}))


def _top(da) -> pd.Series:
    return da.table.iloc[0]


def test_counts_in_two_groups_run_the_count_method() -> None:
    da = _run(_cohort()).differential_abundance
    assert da.method == COUNT_METHOD and da.model == "samples"
    assert _top(da)["label"] == "G0" and _top(da)["higher_in"] == "diet"


@pytest.mark.parametrize("relative", [False, True], ids=["counts", "relative"])
def test_three_groups_run_linda_with_an_omnibus_test(relative: bool) -> None:
    study = _cohort(("control", "diet", "meds"))
    analysis = _run(study.relative() if relative else study)
    da = analysis.differential_abundance
    assert da.method == LINDA_METHOD and "differential abundance" not in analysis.skipped
    assert da.contrasts == ("omnibus", "diet vs control", "meds vs control", "meds vs diet")
    assert da.zero_handling in (("half-minimum", "none (no zeros)") if relative
                                else ("pseudo-count 0.5", "none (no zeros)"))
    assert _top(da)["label"] == "G0" and _top(da)["q"] < 0.05
    pair = da.table[(da.table["contrast"] == "diet vs control") & (da.table["label"] == "G0")]
    assert pair["higher_in"].iloc[0] == "diet" and pair["ci_low"].iloc[0] < 3 < \
        pair["ci_high"].iloc[0]  # log2(8)
    jsonschema.validate(results_document(analysis), results_schema())
    assert "taxa differ between the groups (omnibus q &lt; 0.1)" in render_report(analysis)


def test_relative_abundances_in_two_groups_run_linda() -> None:
    analysis = _run(_cohort().relative())
    da = analysis.differential_abundance
    assert da.method == LINDA_METHOD and da.contrasts == ("diet vs control",)
    assert _top(da)["label"] == "G0" and _top(da)["higher_in"] == "diet"
    doc = results_document(analysis)
    jsonschema.validate(doc, results_schema())
    assert doc["differential_abundance"]["method"] == LINDA_METHOD


@pytest.mark.parametrize("relative", [False, True], ids=["count method", "LinDA"])
def test_subject_counts_each_person_once(relative: bool) -> None:
    study = _cohort(per_group=8, per_person=3)
    analysis = _run(study.relative() if relative else study, subject="person")
    da = analysis.differential_abundance
    assert da.method == (LINDA_METHOD if relative else COUNT_METHOD)
    assert da.model == "subject means" and da.n_subjects == 16 and da.subject == "person"
    assert _top(da)["label"] == "G0"
    jsonschema.validate(results_document(analysis), results_schema())
    page = render_report(analysis)
    said = ("Each person counts once" if not relative else
            "is the same in all the samples of each subject: the model is fitted on one mean "
            "CLR per subject (16 subjects, 48 samples)")
    assert said in page
    start = page.index('<section id="differential-abundance"')
    section = page[start:page.index("</section>", start)]
    assert section.count("16 subjects") + section.count("16 people") == 1  # said once
