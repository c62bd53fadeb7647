"""The report and results.json with LinDA's differential abundance (profiles, ≥ 3 groups)."""

from __future__ import annotations

import dataclasses

import jsonschema
import numpy as np
import pandas as pd
import pytest

from builders.html_page import Page
from builders.report import make_analysis
from gutaxis.cohort import CohortAnalysis
from gutaxis.formatting import format_number, format_p
from gutaxis.report import render_report, results_document, results_schema
from gutaxis.stats import linda
from gutaxis.study import Study


def _profiles(groups: list[str], per_group: int, seed: int = 0) -> Study:
    """Percent profiles of 25 genera; g__Up is 8 times as abundant in the second group."""
    rng = np.random.default_rng(seed)
    n = per_group * len(groups)
    abundance = rng.lognormal(1.0, 0.5, (n, 25))
    group = np.repeat(groups, per_group)
    abundance[group == groups[1], 0] *= 8
    abundance[rng.random((n, 25)) < 0.1] = 0  # some zeros to replace
    abundance[:, 0] = np.maximum(abundance[:, 0], 0.5)
    md = pd.DataFrame({"diagnosis": group}, index=[f"S{i:03d}" for i in range(n)])
    taxa = ["g__Up", *(f"g__Genus{j}" for j in range(1, 25))]
    return Study(100 * abundance / abundance.sum(axis=1, keepdims=True), md.index, taxa,
                 samples=md, kind="relative")


def _with_linda(groups: tuple[str, ...], per_group: int, **kwargs: bool) -> CohortAnalysis:
    analysis = make_analysis(groups=groups, n_per_group=(per_group,) * len(groups), **kwargs)
    result = linda(_profiles(list(groups), per_group), "diagnosis", reference=groups[0],
                   categorical=True)
    result = dataclasses.replace(result, table=result.table.assign(
        label=result.table["taxon"].str.removeprefix("g__")))
    return dataclasses.replace(analysis, differential_abundance=result)


@pytest.fixture(scope="module")
def three() -> CohortAnalysis:
    return _with_linda(("control", "fibre", "meat"), 12)


def test_three_groups_show_the_omnibus_test_and_every_pair(three: CohortAnalysis) -> None:
    html = render_report(three)
    page = Page(html)
    rows = page.tables["da-table"]
    da = three.differential_abundance
    omnibus = da.table[da.table["contrast"] == "omnibus"]
    n_sig = int((omnibus["q"] < 0.1).sum())
    assert n_sig >= 1 and len(rows) == n_sig
    assert rows[0][0] == "Up"
    # Taxon, F, p, q, three pairs, mean abundance, prevalence
    assert len(rows[0]) == 4 + 3 + 2
    up = da.table[(da.table["taxon"] == "g__Up") & (da.table["contrast"] == "fibre vs control")]
    assert rows[0][4] == (f"{format_number(up['effect'].iloc[0])} "
                          f"(q {format_p(up['q'].iloc[0], phrase=True)})")
    for header in ("fibre vs control: log2 ratio", "meat vs control: log2 ratio",
                   "meat vs fibre: log2 ratio"):
        assert f">{header}<" in html
    text = page.text("differential-abundance")
    assert "an omnibus F test asks whether a taxon differs between any of them" in text
    assert f"{n_sig} of 25 taxa differ between the groups, omnibus q < 0.1" in text
    assert "Zhou H, He K, Chen J, Zhang X (2022)" in text
    assert "zeros replaced by half the smallest proportion of their sample" in text
    assert "fig-da" not in [f["id"] for f in page.figures]  # no forest for three groups
    assert (f"Differential abundance (genus): {n_sig} taxa differ between the groups "
            "(omnibus q < 0.1).") in page.text("summary")
    methods = page.text("methods")
    assert "an omnibus F test across the 3 groups and every pair of groups" in methods
    assert f"on {da.df} residual degrees of freedom" in methods


def test_two_groups_of_profiles_get_the_forest_plot() -> None:
    analysis = _with_linda(("control", "ME/CFS"), 15)
    page = Page(render_report(analysis))
    rows = page.tables["da-table"]
    assert rows[0][0] == "Up" and rows[0][5] == "ME/CFS"  # Higher in
    figure = next(f for f in page.figures if f["id"] == "fig-da")
    assert figure["svg"] == 1
    assert figure["caption"].startswith("LinDA: log2 ratio ME/CFS vs control with interval")
    assert "Effects are log2 ratios (ME/CFS vs control)" in page.text("differential-abundance")


@pytest.mark.parametrize("groups", [("control", "fibre", "meat"), ("control", "ME/CFS")])
def test_results_json_holds_linda_and_follows_the_schema(groups: tuple[str, ...]) -> None:
    analysis = _with_linda(groups, 12, with_classifier=False)  # the builder's are stand-ins
    doc = results_document(analysis)
    jsonschema.validate(doc, results_schema())
    da = doc["differential_abundance"]
    assert da["method"].startswith("LinDA") and da["variable"] == "diagnosis"
    assert da["contrasts"][0] == ("omnibus" if len(groups) == 3 else f"{groups[1]} vs control")
    assert {f["contrast"] for f in da["features"]} == set(da["contrasts"])
    broken = results_document(analysis)
    del broken["differential_abundance"]["contrasts"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, results_schema())
