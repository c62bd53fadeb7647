"""The cohort analysis on the bundled ME/CFS study, and its guards.

The assertions on the bundled study are the parts an independent re-analysis
of Giloteaux et al. (Microbiome 2016) found robust: LPS, LBP and sCD14 higher
in patients (p < 0.01), I-FABP not different, positive LBP–LPS and LBP–sCD14
correlations, lower Shannon diversity in patients, and a small but significant
PERMANOVA difference.  Nothing here is tuned to reach a published figure.
"""

from __future__ import annotations

import dataclasses

import jsonschema
import numpy as np
import pandas as pd
import pytest

from gutaxis import Study
from gutaxis.cohort import CohortAnalysis, CohortParameters, analyze_cohort
from gutaxis.exceptions import (
    InputError,
    NotFoundError,
    UnknownMetricError,
    UnknownRankError,
    ValidationError,
)
from gutaxis.io import read_example
from gutaxis.markers import MarkerPanel, marker_panel
from gutaxis.report import results_document, results_schema, write_results

MARKERS = ["LPSpgml", "LBPugml", "sCD14ugml", "IFABPpgml"]


def _analyze(study: Study, *, markers: MarkerPanel | None = None, alpha=None, **kw
             ) -> CohortAnalysis:
    return analyze_cohort(study, CohortParameters(alpha_metrics=alpha, **kw), markers=markers)


@pytest.fixture(scope="module")
def analysis():
    study = read_example()
    panel = marker_panel(study.samples, MARKERS)
    # No tree (UniFrac/Faith are skipped) and 3 CV repeats: keeps the suite fast;
    # `gutaxis demo` (tested in tests/commands/test_demo.py) runs the full defaults.
    return _analyze(study, group_column="Subject", markers=panel, cv_repeats=3, fit_models=True)


def test_groups_and_rarefaction_of_the_bundled_study(analysis):
    assert analysis.group_order == ["Control", "Patient"]
    assert analysis.groups.value_counts().to_dict() == {"Patient": 48, "Control": 39}
    # the shallowest sample has 22,203 reads, above the 1,000-read floor
    assert analysis.rarefaction_depth == 22_203
    assert analysis.rarefaction_dropped == []
    assert "unweighted_unifrac" in analysis.skipped and "faith_pd" in analysis.skipped


def test_translocation_markers_are_higher_in_patients(analysis):
    for marker in ("LPS", "LBP", "sCD14"):
        test = analysis.marker_tests[marker]
        assert test.method == "Mann-Whitney U" or "Mann" in test.method
        assert test.p_value < 0.01, marker
        assert test.extra["higher_in"] == "Patient", marker
        assert test.effect_size > 0  # positive = the second group (Patient) higher
        assert test.extra["medians"]["Patient"] > test.extra["medians"]["Control"]
    ifabp = analysis.marker_tests["I-FABP"]
    assert ifabp.p_value > 0.05
    assert ifabp.extra["missing"] == 11 and analysis.marker_tests["LBP"].extra["missing"] == 2


def test_marker_tests_equal_scipy_mann_whitney(analysis):
    from scipy.stats import mannwhitneyu

    values = analysis.markers.values["LBP"]
    groups = analysis.groups
    control = values[groups == "Control"].dropna()
    patient = values[groups == "Patient"].dropna()
    expected = mannwhitneyu(control, patient, alternative="two-sided")
    assert analysis.marker_tests["LBP"].p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_lbp_correlates_with_lps_and_scd14_pooled(analysis):
    corr = analysis.marker_correlations
    pooled = corr[corr["scope"] == "pooled"].set_index(["a", "b"])
    for pair in [("LPS", "LBP"), ("LBP", "sCD14")]:
        row = pooled.loc[pair]
        assert row["rho"] > 0.3 and row["q"] < 0.01, pair
    assert set(corr["scope"]) == {"pooled", "Control", "Patient"}
    # within-group correlations are reported too (6 pairs × 3 scopes)
    assert len(corr) == 18


def test_shannon_is_lower_in_patients(analysis):
    shannon = analysis.alpha_tests["shannon_entropy"]
    assert shannon.extra["medians"]["Patient"] < shannon.extra["medians"]["Control"]
    assert shannon.effect_size < 0
    assert shannon.q_value is not None


def test_permanova_is_small_but_significant(analysis):
    for metric in ("braycurtis", "jaccard", "aitchison"):
        perm = analysis.permanova[metric]
        assert perm.p_value < 0.05, metric
        assert 0.005 < perm.effect_size < 0.1, metric
        assert analysis.permdisp[metric].method == "PERMDISP"


def test_differential_abundance_finds_eggerthella_higher_in_patients(analysis):
    da = analysis.differential_abundance
    assert da.reference_group == "Control" and da.comparison_group == "Patient"
    eggerthella = da.table[da.table["label"] == "Eggerthella"].iloc[0]
    assert eggerthella["higher_in"] == "Patient" and eggerthella["effect"] > 0
    assert eggerthella["ci_low"] < eggerthella["effect"] < eggerthella["ci_high"]
    assert da.table["label"].is_unique  # duplicate genus names are disambiguated


def test_classifiers_beat_chance(analysis):
    assert set(analysis.classifier) == {"microbiome", "markers", "combined"}
    for name, result in analysis.classifier.items():
        assert result.auc_mean > 0.6, name
        assert result.cv["n_repeats"] == 3 and result.cv["n_splits"] == 10
    assert set(analysis.models) == {"microbiome", "markers", "combined"}


def test_results_json_follows_its_schema(analysis):
    doc = results_document(analysis)
    jsonschema.validate(doc, results_schema())
    assert doc["groups"] == {"Control": 39, "Patient": 48}
    assert doc["markers"]["LPS"]["unit"] == "pg/mL"
    assert doc["beta"]["braycurtis"]["permanova"]["permutations"] == 999
    assert doc["differential_abundance"]["method"].startswith("ALDEx2")


def test_the_schema_rejects_a_broken_document(analysis):
    doc = results_document(analysis)
    del doc["alpha"]
    with pytest.raises(jsonschema.ValidationError, match="'alpha' is a required property"):
        jsonschema.validate(doc, results_schema())
    doc = results_document(analysis)
    doc["markers"]["LPS"]["p"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, results_schema())


def test_written_tables_match_the_results(analysis, tmp_path):
    written = write_results(analysis, tmp_path)
    for name in ("results", "alpha", "alpha_tests", "beta/braycurtis", "beta_tests",
                 "differential_abundance", "marker_tests", "marker_correlations",
                 "marker_taxon_associations", "classifier", "provenance"):
        assert written[name].is_file(), name
    tests = pd.read_csv(written["marker_tests"], sep="\t").set_index("marker")
    assert tests.loc["LPS", "unit"] == "pg/mL"
    assert tests.loc["LBP", "p"] == pytest.approx(analysis.marker_tests["LBP"].p_value, rel=1e-9)
    assert tests.loc["I-FABP", "missing"] == 11
    alpha = pd.read_csv(written["alpha"], sep="\t", index_col=0)
    assert alpha.index.name == "sample_id" and list(alpha.columns)[0] == "Subject"
    assoc = pd.read_csv(written["marker_taxon_associations"], sep="\t")
    assert list(assoc.columns) == ["marker", "taxon", "label", "rho", "p", "q", "n"]


# ------------------------------------------------------------------- guards
def _toy(groups):
    rng = np.random.default_rng(0)
    n = len(groups)
    counts = rng.poisson(20, size=(n, 8))
    ids = [f"S{i}" for i in range(n)]
    taxonomy = pd.DataFrame({"kingdom": "Bacteria", "phylum": ["Firmicutes", "Bacteroidetes"] * 4,
                             "class": None, "order": None, "family": None,
                             "genus": [f"G{j}" for j in range(8)], "species": None},
                            index=[f"F{j}" for j in range(8)])
    study = Study(counts, ids, list(taxonomy.index), taxonomy=taxonomy)
    md = pd.DataFrame({"grp": groups, "marker": rng.random(n)}, index=pd.Index(ids, name="id"))
    return study.with_metadata(md)


def test_a_missing_group_column_is_named():
    with pytest.raises(NotFoundError, match="Group"):
        _analyze(_toy(["a"] * 4 + ["b"] * 4), group_column="Group", classifier=False)


def test_a_group_with_fewer_than_three_samples_is_refused():
    with pytest.raises(ValidationError, match=r"at least 3 samples.*'b' has 2"):
        _analyze(_toy(["a"] * 6 + ["b"] * 2), group_column="grp", classifier=False)


def test_one_group_is_refused():
    with pytest.raises(ValidationError, match="expected at least 2 groups; found 1"):
        _analyze(_toy(["a"] * 6), group_column="grp", classifier=False)


def test_samples_without_a_group_are_left_out_and_listed():
    analysis = _analyze(_toy(["a"] * 4 + ["b"] * 4 + [None]), group_column="grp",
                              classifier=False, permutations=9)
    assert analysis.study.n_samples == 8
    assert "S8" in analysis.skipped["samples without a group"]


def test_a_missing_covariate_is_named():
    with pytest.raises(NotFoundError, match="Age"):
        _analyze(_toy(["a"] * 4 + ["b"] * 4), group_column="grp", covariates=["Age"],
                       classifier=False)


def test_the_classifier_is_skipped_with_a_reason_when_groups_are_smaller_than_the_folds():
    analysis = _analyze(_toy(["a"] * 4 + ["b"] * 4), group_column="grp", permutations=9)
    assert analysis.classifier == {}
    assert "fewer than the 10 cross-validation folds" in analysis.skipped["classifier"]


def test_a_phylogenetic_metric_asked_for_without_tree_is_an_error():
    with pytest.raises(InputError, match="faith_pd cannot be computed on .*: needs a phylogenetic"):
        _analyze(_toy(["a"] * 4 + ["b"] * 4), group_column="grp", alpha=["faith_pd"],
                       classifier=False)


def test_numeric_group_labels_read_as_written():
    """A 0/1 column is stored as floats by the metadata reader; groups are '0' and '1'."""
    study = _toy([0.0] * 4 + [1.0] * 4)
    analysis = _analyze(study, group_column="grp", classifier=False, permutations=9,
                              mc_samples=8)
    assert analysis.group_order == ["0", "1"]
    assert analysis.differential_abundance.reference_group == "0"


def test_a_marker_without_values_in_one_group_is_skipped_not_fatal():
    study = _toy(["a"] * 4 + ["b"] * 4)
    samples = study.samples.copy()
    samples.loc[samples["grp"] == "a", "marker"] = np.nan
    study = study.with_metadata(samples)
    panel = marker_panel(study.samples, ["marker=ng/mL"])
    analysis = _analyze(study, group_column="grp", markers=panel, classifier=False,
                              permutations=9, mc_samples=8)
    assert analysis.marker_tests == {}
    assert "a: 0" in analysis.skipped["marker test (marker)"]


def test_rarefaction_that_empties_a_group_is_a_clear_error():
    study = _toy(["a"] * 4 + ["b"] * 4)
    depth = int(np.sort(study.sample_totals())[-1])  # only the deepest sample survives
    with pytest.raises(ValidationError, match=f"rarefying to {depth:,} reads leaves too few"):
        _analyze(study, group_column="grp", rarefy_depth=depth, classifier=False)


def test_the_rank_is_normalised_and_checked_first():
    analysis = _analyze(_toy(["a"] * 4 + ["b"] * 4), group_column="grp", rank="Phylum",
                              classifier=False, permutations=9, mc_samples=8)
    assert analysis.rank == "phylum" and list(analysis.group_mean_abundance) == ["phylum"]
    assert "Other" not in analysis.group_mean_abundance["phylum"].index
    with pytest.raises(UnknownRankError, match="strain"):
        CohortParameters("grp", rank="strain")  # checked when the parameters are made


def test_table_samples_without_metadata_are_reported():
    study = _toy(["a"] * 4 + ["b"] * 4)
    table_only = dataclasses.replace(study, samples=None)
    partial = table_only.with_metadata(study.samples.iloc[:7])
    analysis = _analyze(partial, group_column="grp", classifier=False, permutations=9,
                              mc_samples=8)
    assert analysis.skipped["samples without metadata"] == (
        f"1 sample(s) of the table have no row in the metadata and are left out: "
        f"{study.sample_ids[7]!r}")


def test_empty_samples_are_left_out_and_listed():
    study = _toy(["a"] * 4 + ["b"] * 5)
    counts = study.counts.toarray()
    counts[8] = 0
    emptied = Study(counts, list(study.sample_ids), list(study.feature_ids),
                    taxonomy=study.taxonomy).with_metadata(study.samples)
    analysis = _analyze(emptied, group_column="grp", classifier=False, permutations=9,
                              mc_samples=8)
    assert analysis.study.n_samples == 8
    assert "S8" in analysis.skipped["empty samples"]


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"permutations": -1}, ValidationError, r"permutations \(--permutations\) must be an integer "
                                            r"≥ 0; got -1"),
    ({"cv_folds": 1}, ValidationError, r"\(--cv-folds\) must be an integer ≥ 2"),
    ({"rarefy_depth": 0}, ValidationError, r"\(--rarefy\) must be an integer ≥ 1"),
    ({"rarefy_depth": "deep"}, ValidationError, r"\(--rarefy\) must be an integer"),
    ({"min_prevalence": 1.5}, ValidationError, r"min_prevalence must be a share"),
    ({"alpha_metrics": ["shannon"]}, UnknownMetricError, r"did you mean 'shannon_entropy'"),
    ({"beta_metrics": ["shannon_entropy"]}, UnknownMetricError, r"beta diversity metric"),
    ({"group_column": ""}, ValidationError, r"\(--group\)"),
])
def test_parameters_are_validated_once_when_made(kwargs, error, message):
    with pytest.raises(error, match=message):
        CohortParameters(**{"group_column": "grp", **kwargs})


def test_a_misspelt_group_column_is_suggested():
    with pytest.raises(NotFoundError, match=r"'GRP'; did you mean 'grp'\?.*Available: grp, "
                                            r"marker"):
        _analyze(_toy(["a"] * 4 + ["b"] * 4), group_column="GRP", classifier=False)


def test_the_provenance_is_built_once_with_the_tree(analysis):
    """No tree here: the one provenance document says so (gutaxis 0.1 patched it in later)."""
    assert analysis.provenance["tree"] is None
    assert analysis.provenance["parameters"]["group_column"] == "Subject"



def test_a_typo_in_a_numeric_covariate_is_refused_not_made_a_category(tmp_path):
    # "4O" for 40 made Age categorical, one indicator per age: the differential abundance
    # changed without a word
    from gutaxis.exceptions import ValidationError
    from gutaxis.io import read_metadata

    groups = ["a"] * 4 + ["b"] * 4
    ages = ["40", "4O", "40", "50", "", "50", "50", "40"]
    lines = ["id\tgrp\tAge", *(f"S{i}\t{g}\t{a}"
                               for i, (g, a) in enumerate(zip(groups, ages, strict=True)))]
    path = tmp_path / "md.tsv"
    path.write_text("\n".join(lines) + "\n")
    study = _toy(groups)
    typo = study.with_metadata(read_metadata(path))
    with pytest.raises(ValidationError, match=r"md\.tsv: covariate column 'Age' holds numbers, "
                                              r"but sample 'S1' has '4O'"):
        _analyze(typo, group_column="grp", covariates=["Age"], classifier=False,
                 permutations=9)
    # declared categorical, it is taken as it is
    lines.insert(1, "#q2:types\tcategorical\tcategorical")
    path.write_text("\n".join(lines) + "\n")
    declared = study.with_metadata(read_metadata(path))
    analysis = _analyze(declared, group_column="grp", covariates=["Age"], classifier=False,
                        permutations=9)
    assert analysis.parameters["covariates"] == ["Age"]
