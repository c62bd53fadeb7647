"""Tests of gutaxis.stats.differential (ALDEx2-style CLR Monte Carlo)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from gutaxis.composition import UnknownRankError
from gutaxis.exceptions import InputError
from gutaxis.stats.differential import (
    CITATION,
    METHOD,
    DifferentialAbundance,
    _bh,
    _design_matrix,
    _fit_instance,
    _rubin,
    differential_abundance,
)
from gutaxis.study import RANKS, Study

COLUMNS = ["taxon", "label", "effect", "ci_low", "ci_high", "p", "q", "higher_in",
           "mean_abundance", "prevalence"]


# ------------------------------------------------------------------ simulator
def simulate(seed: int, *, n_per_group: int = 60, n_taxa: int = 200, n_diff: int = 20,
             sd_bio: float = 1.5, presence: tuple[float, float] | None = None,
             ) -> tuple[Study, np.ndarray]:
    """Two groups of gut-like count profiles with known log2 fold changes.

    Base abundances are log-normal (σ = 1.5, a long tail of rare taxa); each
    sample multiplies them by its own log-normal biological variation (σ =
    ``sd_bio``, natural log); with ``presence=(lo, hi)`` each taxon is absent
    (a structural zero) from a fraction ``1 − U(lo, hi)`` of the samples.
    ``n_diff`` taxa, chosen at random, are multiplied in the "case" group by
    ``2**lfc`` with ``|lfc| ~ U(1, 3)`` and a random sign.  Profiles are
    renormalised to proportions — so every other taxon's proportion shifts too
    (the compositional effect) — and read counts are drawn Multinomial with a
    depth uniform in 5,000–50,000.  Returns the study and the true log2 fold
    changes (0 for unchanged taxa).
    """
    rng = np.random.default_rng(seed)
    base = rng.lognormal(0.0, 1.5, n_taxa)
    lfc = np.zeros(n_taxa)
    changed = rng.choice(n_taxa, n_diff, replace=False)
    lfc[changed] = rng.uniform(1.0, 3.0, n_diff) * rng.choice([-1.0, 1.0], n_diff)
    n = 2 * n_per_group
    group = np.array(["control"] * n_per_group + ["case"] * n_per_group)
    abundance = base * np.exp(rng.normal(0.0, sd_bio, (n, n_taxa)))
    if presence is not None:
        abundance *= rng.random((n, n_taxa)) < rng.uniform(*presence, n_taxa)
    abundance[group == "case"] *= 2.0 ** lfc
    proportions = abundance / abundance.sum(axis=1, keepdims=True)
    depth = rng.integers(5_000, 50_001, n)
    counts = np.vstack([rng.multinomial(d, p) for d, p in zip(depth, proportions, strict=True)])
    ids = [f"s{i:03d}" for i in range(n)]
    md = pd.DataFrame({"group": group}, index=ids)
    return Study(counts, ids, [f"t{j:03d}" for j in range(n_taxa)], samples=md), lfc


def _fdr_and_power(result: DifferentialAbundance, lfc: np.ndarray) -> tuple[float, float]:
    called = set(result.table.loc[result.table["q"] < 0.05, "taxon"])
    truth = {f"t{j:03d}" for j in np.flatnonzero(lfc)}
    fdr = len(called - truth) / len(called) if called else 0.0
    return fdr, len(called & truth) / len(truth)


def _small_study(seed: int = 0, n: int = 24, n_taxa: int = 12) -> Study:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.lognormal(3.0, 1.0, n_taxa), size=(n, n_taxa))
    counts[n // 2:, 0] *= 5
    ids = [f"s{i}" for i in range(n)]
    md = pd.DataFrame({
        "group": ["healthy"] * (n // 2) + ["ME/CFS"] * (n // 2),
        "three": (["x", "y", "z"] * n)[:n],
        "age": rng.normal(45, 10, n),
        "site": (["north", "south"] * n)[:n],
    }, index=ids)
    return Study(counts, ids, [f"t{j}" for j in range(n_taxa)], samples=md, source="cfs.biom")


# ------------------------------------------- a. one instance against statsmodels
@pytest.mark.parametrize("covariates", [(), ("age",), ("age", "site")])
def test_one_instance_matches_statsmodels_ols(covariates: tuple[str, ...]) -> None:
    rng = np.random.default_rng(7)
    n = 40
    md = pd.DataFrame({
        "group": rng.choice(["a", "b"], n),
        "age": rng.normal(50, 12, n),
        "site": rng.choice(["x", "y", "z"], n),
    })
    groups = md["group"]
    y = rng.normal(size=(n, 6)) + 0.8 * (groups.to_numpy() == "b")[:, None]
    design, names = _design_matrix(md, groups, comparison="b", covariates=covariates)
    assert names[:2] == ["intercept", "group[b]"]
    coef, se, p = _fit_instance(y, design)
    terms = " + ".join(["C(group, Treatment('a'))", *(
        "age" if c == "age" else "C(site)" for c in covariates)])
    for j in (0, 3, 5):
        frame = md.assign(y=y[:, j])
        fit = smf.ols(f"y ~ {terms}", data=frame).fit()
        name = "C(group, Treatment('a'))[T.b]"
        assert coef[j] == pytest.approx(fit.params[name], rel=1e-10, abs=1e-12)
        assert se[j] == pytest.approx(fit.bse[name], rel=1e-10)
        assert p[j] == pytest.approx(fit.pvalues[name], rel=1e-8, abs=1e-15)
    # and the whole design matches sm.OLS on the same matrix
    fit = sm.OLS(y[:, 1], design).fit()
    assert coef[1] == pytest.approx(fit.params[1], rel=1e-10)
    assert se[1] == pytest.approx(fit.bse[1], rel=1e-10)


def test_one_instance_driver_equals_manual_pipeline() -> None:
    """mc_samples=1: the driver is Dirichlet(counts + 0.5) → log2 CLR → OLS → BH."""
    study = _small_study()
    res = differential_abundance(study, "group", reference="healthy", mc_samples=1, seed=3,
                                 min_prevalence=0.0)
    counts = study.to_dataframe().to_numpy().astype(float)
    draw = np.random.default_rng(3).standard_gamma(counts + 0.5)
    props = draw / draw.sum(axis=1, keepdims=True)  # the Dirichlet instance
    logs = np.log2(props)
    clr2 = logs - logs.mean(axis=1, keepdims=True)
    md = study.samples.assign(case=(study.samples["group"] == "ME/CFS").astype(float))
    ps, effects = [], []
    for j in range(study.n_features):
        fit = smf.ols("y ~ case", data=md.assign(y=clr2[:, j])).fit()
        effects.append(fit.params["case"])
        ps.append(fit.pvalues["case"])
    qs = multipletests(ps, method="fdr_bh")[1]
    table = res.table.set_index("taxon").loc[study.feature_ids]
    np.testing.assert_allclose(table["effect"], effects, rtol=1e-9)
    np.testing.assert_allclose(table["p"], ps, rtol=1e-7)
    np.testing.assert_allclose(table["q"], qs, rtol=1e-7)
    assert res.table.loc[0, "taxon"] == "t0" and res.table.loc[0, "higher_in"] == "ME/CFS"


def test_bh_matches_statsmodels_on_many_rows() -> None:
    p = np.random.default_rng(0).random((5, 50)) ** 3
    expected = np.vstack([multipletests(row, method="fdr_bh")[1] for row in p])
    np.testing.assert_allclose(_bh(p), expected, rtol=1e-12)


def test_rubin_rules_by_hand() -> None:
    coef = np.array([[1.0], [1.2], [0.8], [1.0]])
    var = np.full((4, 1), 0.04)
    est, low, high = _rubin(coef, var, df_complete=30)
    within, between, m = 0.04, np.var(coef, ddof=1), 4
    total = within + (1 + 1 / m) * between
    lam = (1 + 1 / m) * between / total
    nu_old = (m - 1) / lam**2
    nu_obs = 31 / 33 * 30 * (1 - lam)
    from scipy import stats
    half = stats.t.ppf(0.975, 1 / (1 / nu_old + 1 / nu_obs)) * math.sqrt(total)
    assert est[0] == pytest.approx(1.0)
    assert low[0] == pytest.approx(1.0 - half) and high[0] == pytest.approx(1.0 + half)
    # one instance: no between variance, the model's own interval (Barnard–Rubin df)
    est1, low1, _ = _rubin(coef[:1], var[:1], df_complete=30)
    assert low1[0] == pytest.approx(1.0 - stats.t.ppf(0.975, 30 * 31 / 33) * 0.2)


# ------------------------------------------------------------- b. seeds
def test_deterministic_with_a_seed_and_close_across_seeds() -> None:
    study = _small_study()
    a = differential_abundance(study, "group", mc_samples=32, seed=11)
    b = differential_abundance(study, "group", mc_samples=32, seed=11)
    pd.testing.assert_frame_equal(a.table, b.table)
    c = differential_abundance(study, "group", mc_samples=32, seed=12)
    ea = a.table.set_index("taxon")["effect"]
    ec = c.table.set_index("taxon")["effect"].loc[ea.index]
    assert not np.array_equal(ea.to_numpy(), ec.to_numpy())
    np.testing.assert_allclose(ea, ec, atol=0.15)
    assert c.seed == 12 and a.mc_samples == 32


# ------------------------------------------------ c. simulation with known truth
def test_simulation_fdr_and_power() -> None:
    """Observed (mc_samples=32, 10 datasets, 60 + 60 samples, 200 taxa, 20 changed).

    Without structural zeros (σ_bio = 1.5): FDR per dataset 0.11, 0, 0, 0.06,
    0, 0, 0, 0, 0, 0 (mean 0.017); power 0.80, 0.70, 0.75, 0.75, 0.75, 0.60,
    0.80, 0.65, 0.60, 0.75 (mean 0.715).  With mc_samples=128 the figures
    are the same to ±0.01.  Missed taxa are mostly rare ones (filtered out or
    all but absent) and the smallest fold changes.
    """
    fdrs, powers = [], []
    for seed in range(10):
        study, lfc = simulate(seed)
        res = differential_abundance(study, "group", reference="control", mc_samples=32,
                                     seed=seed)
        fdr, power = _fdr_and_power(res, lfc)
        fdrs.append(fdr)
        powers.append(power)
        # called taxa point the right way
        truth = pd.Series(lfc, index=study.feature_ids)
        called = res.table[res.table["q"] < 0.05].set_index("taxon")
        hits = called.index[truth.loc[called.index] != 0]
        assert (np.sign(called.loc[hits, "effect"]) == np.sign(truth.loc[hits])).all()
    assert np.mean(fdrs) <= 0.10, fdrs
    assert np.mean(powers) >= 0.5, powers
    assert np.mean(fdrs) == pytest.approx(0.017, abs=0.02)  # the figures in the docstring
    assert np.mean(powers) == pytest.approx(0.715, abs=0.03)


def test_simulation_with_structural_zeros_keeps_fdr_but_loses_power() -> None:
    """Observed: each taxon absent from 0–50 % of samples, σ_bio = 1.0, mc_samples=32.

    FDR per dataset 0 in 9 of 10, 0.17 (1 of 6 calls) in one (mean 0.017);
    power 0.50, 0.15, 0.35, 0.20, 0.25, 0.35, 0.25, 0.25, 0.25, 0.15 (mean
    0.27; with mc_samples=128 the same to ±0.05 per dataset).  The CLR of a
    zero is the log of a Gamma(0.5) draw, about 8 log2 units below a present
    taxon, so zeros dominate the variance: like ALDEx2, the method stays
    conservative on zero-inflated taxa but has little power there.
    """
    fdrs, powers = [], []
    for seed in range(10):
        study, lfc = simulate(seed, sd_bio=1.0, presence=(0.5, 1.0))
        res = differential_abundance(study, "group", reference="control", mc_samples=32,
                                     seed=seed)
        fdr, power = _fdr_and_power(res, lfc)
        fdrs.append(fdr)
        powers.append(power)
    assert np.mean(fdrs) <= 0.10, fdrs
    assert np.mean(powers) == pytest.approx(0.27, abs=0.03)


def test_null_simulation_calls_almost_nothing() -> None:
    """Observed: no call (q < 0.05) in any of 10 null datasets; smallest p ≈ 0.01–0.02."""
    with_calls = 0
    for seed in range(100, 110):
        study, _ = simulate(seed, n_diff=0)
        res = differential_abundance(study, "group", mc_samples=32, seed=seed)
        with_calls += bool((res.table["q"] < 0.05).any())
    assert with_calls <= 1


def test_interval_covers_the_true_clr_effect() -> None:
    """The 95 % interval holds the true CLR effect (lfc − mean lfc) for prevalent taxa.

    Observed coverage 0.966, 0.960, 0.961, 0.982, 0.966 (taxa with prevalence ≥ 0.9, 5
    datasets, σ_bio = 1.0, no structural zeros; about the same over all taxa).
    """
    covered = []
    for seed in range(5):
        study, lfc = simulate(seed, sd_bio=1.0)
        res = differential_abundance(study, "group", reference="control", mc_samples=32,
                                     seed=seed)
        tab = res.table.set_index("taxon")
        truth = pd.Series(lfc - lfc.mean(), index=study.feature_ids).loc[tab.index]
        ok = tab["prevalence"] >= 0.9
        inside = (tab["ci_low"] <= truth) & (truth <= tab["ci_high"])
        covered.append(inside[ok].mean())
    assert 0.9 <= np.mean(covered) <= 0.995, covered


# ----------------------------------------------------- d. covariate confounding
def _confounded(seed: int = 5) -> Study:
    rng = np.random.default_rng(seed)
    n, n_taxa = 100, 40
    group = np.array(["a"] * 50 + ["b"] * 50)
    age = np.where(group == "a", rng.normal(40, 8, n), rng.normal(60, 8, n))
    base = rng.lognormal(1.0, 1.0, n_taxa)
    abundance = base * np.exp(rng.normal(0, 0.5, (n, n_taxa)))
    abundance[:, 0] *= np.exp(0.1 * (age - 50))  # t00 follows age, not the group
    abundance[group == "b", 1] *= 4.0             # t01 is a true group effect
    props = abundance / abundance.sum(axis=1, keepdims=True)
    counts = np.vstack([rng.multinomial(20_000, p) for p in props])
    ids = [f"s{i}" for i in range(n)]
    md = pd.DataFrame({"group": group, "age": age}, index=ids)
    return Study(counts, ids, [f"t{j:02d}" for j in range(n_taxa)], samples=md)


def test_covariate_removes_a_confounded_call() -> None:
    study = _confounded()
    crude = differential_abundance(study, "group", mc_samples=32).table.set_index("taxon")
    adjusted = differential_abundance(study, "group", covariates=["age"],
                                      mc_samples=32).table.set_index("taxon")
    assert crude.loc["t00", "q"] < 0.05 and crude.loc["t00", "higher_in"] == "b"
    assert adjusted.loc["t00", "q"] > 0.05
    assert adjusted.loc["t00", "ci_low"] < 0 < adjusted.loc["t00", "ci_high"]
    # the true group effect survives the adjustment: log2(4) = 2 minus the CLR shift
    assert adjusted.loc["t01", "q"] < 0.05
    assert adjusted.loc["t01", "ci_low"] < 2.0 < adjusted.loc["t01", "ci_high"] + 0.1


# ---------------------------------------------------------- shape of the result
def test_result_shape_and_json() -> None:
    study = _small_study()
    res = differential_abundance(study, "group", covariates=("site",), mc_samples=8)
    assert res.method == METHOD and res.citation == CITATION
    assert res.reference_group == "ME/CFS" and res.comparison_group == "healthy"  # sorted
    assert res.covariates == ("site",) and res.rank is None
    assert list(res.table.columns) == COLUMNS
    t = res.table
    assert (t["q"].diff().dropna() >= 0).all()
    assert ((t["ci_low"] <= t["effect"]) & (t["effect"] <= t["ci_high"])).all()
    assert set(t["higher_in"]) <= {"ME/CFS", "healthy"}
    assert ((t["effect"] > 0) == (t["higher_in"] == "healthy")).all()
    assert t["prevalence"].between(0, 1).all() and (t["mean_abundance"] > 0).all()
    assert res.group_sizes == {"ME/CFS": 12, "healthy": 12}
    doc = res.to_dict()
    assert list(doc) == ["method", "citation", "rank", "group_column", "reference_group",
                         "comparison_group", "covariates", "mc_samples", "seed", "subject",
                         "model", "n_subjects", "absorbed", "group_sizes", "dropped_samples",
                         "features"]
    assert doc["model"] == "samples" and doc["subject"] is None and doc["n_subjects"] is None
    assert doc["group_sizes"] == {"ME/CFS": 12, "healthy": 12} and doc["dropped_samples"] == []
    assert list(doc["features"][0]) == COLUMNS
    assert all(type(f["effect"]) is float for f in doc["features"])
    json.dumps(doc, allow_nan=False)
    nan_table = res.table.assign(p=np.nan)
    nan_doc = DifferentialAbundance(**{**res.__dict__, "table": nan_table}).to_dict()
    assert nan_doc["features"][0]["p"] is None


def test_rank_collapses_first_and_labels_taxa() -> None:
    study = _small_study(n_taxa=4)
    tax = pd.DataFrame([["Bacteria", "Firmicutes", "Clostridia", "Eubacteriales",
                         "Lachnospiraceae", g, None] for g in ("Roseburia", None, None, "Blautia")],
                       index=study.feature_ids, columns=list(RANKS))
    study = study.replace(None, taxonomy=tax.astype(object).where(tax.notna(), None))
    res = differential_abundance(study, "group", rank="Genus", mc_samples=8, min_prevalence=0)
    assert res.rank == "genus"
    assert sorted(res.table["label"]) == ["Blautia", "Lachnospiraceae (unassigned genus)",
                                          "Roseburia"]
    assert res.table["taxon"].str.startswith("k__Bacteria;").all()
    asv = differential_abundance(study, "group", mc_samples=8, min_prevalence=0)
    assert set(asv.table["label"]) == {"Roseburia (unassigned species)", "Blautia (unassigned "
                                       "species)", "Lachnospiraceae (unassigned genus)"}


def test_missing_metadata_and_empty_samples_are_dropped_and_reported() -> None:
    study = _small_study()
    md = study.samples.copy()
    md.loc["s0", "group"] = None
    md.loc["s1", "age"] = np.nan
    counts = study.counts.toarray()
    counts[2] = 0
    study = Study(counts, study.sample_ids, study.feature_ids, samples=md)
    res = differential_abundance(study, "group", covariates=["age"], mc_samples=4)
    assert res.dropped_samples == ("s0", "s1", "s2")
    assert sum(res.group_sizes.values()) == study.n_samples - 3
    full = differential_abundance(study, "group", mc_samples=4)
    assert full.dropped_samples == ("s0", "s2")


def test_prevalence_filter_removes_rare_taxa_before_testing() -> None:
    study = _small_study()
    counts = study.counts.toarray()
    counts[:, 5] = 0
    counts[0, 5] = 3  # in 1 of 24 samples
    study = Study(counts, study.sample_ids, study.feature_ids, samples=study.samples)
    res = differential_abundance(study, "group", mc_samples=4)
    assert "t5" not in set(res.table["taxon"]) and res.n_filtered == 1
    kept = differential_abundance(study, "group", mc_samples=4, min_prevalence=0)
    assert "t5" in set(kept.table["taxon"])


# ------------------------------------------------------------------ e. errors
def test_three_groups_is_an_error_that_says_to_subset() -> None:
    with pytest.raises(InputError, match=r"exactly two groups; 'three' has 3 .*'x' \(8\), "
                                         r"'y' \(8\), 'z' \(8\)\. Subset the samples"):
        differential_abundance(_small_study(), "three", mc_samples=2)


def test_missing_group_column_lists_the_columns() -> None:
    with pytest.raises(InputError, match=r"the group column 'disease' is not in the sample "
                                         r"metadata; its columns are: 'group', 'three'"):
        differential_abundance(_small_study(), "disease")
    with pytest.raises(InputError, match=r"the covariate 'bmi' is not in the sample metadata"):
        differential_abundance(_small_study(), "group", covariates=["bmi"])


def test_relative_table_is_refused() -> None:
    with pytest.raises(InputError, match=r"needs read counts.*kind='relative'"):
        differential_abundance(_small_study().relative(), "group")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"reference": "sick"}, r"reference group 'sick' is not one of the groups in 'group': "
                            r"'ME/CFS', 'healthy'"),
    ({"mc_samples": 0}, r"`mc_samples` must be an integer ≥ 1; got 0"),
    ({"seed": -1}, r"`seed` must be an integer ≥ 0; got -1"),
    ({"min_prevalence": 2}, r"`min_prevalence` must be a fraction in \[0, 1\]"),
    ({"covariates": ["group"]}, r"cannot also be a covariate"),
])
def test_option_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        differential_abundance(_small_study(), "group", **kwargs)  # type: ignore[arg-type]


def test_collinear_covariate_is_named() -> None:
    study = _small_study()
    md = study.samples.assign(arm=study.samples["group"].map({"healthy": "ctl",
                                                              "ME/CFS": "trt"}))
    study = study.with_metadata(md)
    with pytest.raises(InputError, match=r"the design column 'arm\[trt\]' is constant or a "
                                         r"combination of the group"):
        differential_abundance(study, "group", covariates=["arm"], mc_samples=2)


def test_other_input_errors() -> None:
    study = _small_study()
    with pytest.raises(InputError, match=r"has no sample metadata"):
        differential_abundance(study.replace(None, samples=None), "group")
    with pytest.raises(UnknownRankError):
        differential_abundance(study, "group", rank="strain")
    with pytest.raises(InputError, match=r"needs the features' taxonomy"):
        differential_abundance(study, "group", rank="genus")
    tiny = study.subset_samples(["s0", "s1", "s12", "s13"])
    with pytest.raises(InputError, match=r"4 samples cannot fit a model with 4 coefficients "
                                         r"\(intercept, group\[healthy\], age, site\[south\]\)"):
        differential_abundance(tiny, "group", covariates=["age", "site"], min_prevalence=0)
    one_taxon = Study(np.ones((24, 2), dtype=int) * [5, 0], study.sample_ids, ["a", "b"],
                      samples=study.samples)
    with pytest.raises(InputError, match=r"only 1 of 2 taxa pass the prevalence filter"):
        differential_abundance(one_taxon, "group")
    one = study.with_metadata(study.samples.assign(group="healthy"))
    with pytest.raises(InputError, match=r"has 1 among .*nothing to compare"):
        differential_abundance(one, "group")


# ------------------------------------------------- f. repeated samples per subject
def _subjects_study(seed: int, *, n_subjects: int = 40, per_subject: int = 3,
                    n_taxa: int = 150, within: bool = False, lfc: float = 0.0) -> Study:
    """Samples of subjects, each with its own profile (σ = 1 per taxon), within-sample σ = 0.5.

    ``within=False``: half the subjects are cases (all their samples);
    ``within=True``: every subject's samples alternate control, case.  Taxon
    t000 is ``2**lfc`` times as abundant in cases; nothing else changes.
    """
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), per_subject)
    case = (np.tile(np.arange(per_subject) % 2, n_subjects) if within
            else (subject >= n_subjects // 2).astype(int))
    log_ab = (np.log(rng.lognormal(0.0, 1.5, n_taxa))
              + rng.normal(0.0, 1.0, (n_subjects, n_taxa))[subject]
              + rng.normal(0.0, 0.5, (len(subject), n_taxa)))
    log_ab[:, 0] += np.log(2.0) * lfc * case
    props = np.exp(log_ab) / np.exp(log_ab).sum(axis=1, keepdims=True)
    counts = np.vstack([rng.multinomial(d, p) for d, p in
                        zip(rng.integers(5_000, 50_001, len(subject)), props, strict=True)])
    ids = [f"s{i:03d}" for i in range(len(subject))]
    md = pd.DataFrame({"group": np.where(case == 1, "case", "control"),
                       "subject": [f"p{s:02d}" for s in subject]}, index=ids)
    return Study(counts, ids, [f"t{j:03d}" for j in range(n_taxa)], samples=md)


def test_subjects_with_a_constant_group_count_once() -> None:
    """40 subjects × 3 samples, half cases, nothing changed (mc_samples=16, seeds 0–19).

    Observed share of p < 0.05: 0.036 with ``subject`` (mean CLR per subject
    within every Monte Carlo instance; below 0.05 because the expected p
    over instances is conservative, as ALDEx2's), 0.164 without it.
    """
    with_subject, naive = [], []
    for seed in range(20):
        study = _subjects_study(seed)
        res = differential_abundance(study, "group", subject="subject", mc_samples=16,
                                     seed=seed)
        assert res.model == "subject means" and res.n_subjects == 40 and res.subject == "subject"
        with_subject.append((res.table["p"] < 0.05).mean())
        naive.append((differential_abundance(study, "group", mc_samples=16,
                                             seed=seed).table["p"] < 0.05).mean())
    assert np.mean(with_subject) <= 0.05, with_subject
    assert np.mean(naive) > 0.12, naive
    assert (np.mean(with_subject), np.mean(naive)) == pytest.approx((0.036, 0.164), abs=0.003)


def test_subject_means_instance_equals_manual_pipeline() -> None:
    """mc_samples=1: Dirichlet draw → log2 CLR → mean per subject → OLS on subjects."""
    study = _subjects_study(3, n_subjects=10, per_subject=2, n_taxa=8)
    res = differential_abundance(study, "group", subject=study.samples["subject"],
                                 reference="control", mc_samples=1, seed=4, min_prevalence=0)
    counts = study.to_dataframe().to_numpy().astype(float)
    draw = np.random.default_rng(4).standard_gamma(counts + 0.5)
    logs = np.log2(draw / draw.sum(axis=1, keepdims=True))
    clr2 = pd.DataFrame(logs - logs.mean(axis=1, keepdims=True), index=study.sample_ids)
    means = clr2.groupby(study.samples["subject"]).mean()
    case = (study.samples.groupby("subject")["group"].first() == "case").astype(float)
    effects, ps = [], []
    for j in range(study.n_features):
        fit = smf.ols("y ~ case", data=pd.DataFrame({"y": means[j], "case": case})).fit()
        effects.append(fit.params["case"])
        ps.append(fit.pvalues["case"])
    table = res.table.set_index("taxon").loc[study.feature_ids]
    np.testing.assert_allclose(table["effect"], effects, rtol=1e-9)
    np.testing.assert_allclose(table["p"], ps, rtol=1e-7)
    assert res.group_sizes == {"control": 10, "case": 10}  # samples; 5 + 5 subjects


def test_a_group_that_changes_within_subjects_is_compared_within_subject() -> None:
    """Before/after in 40 subjects × 4 samples (mc_samples=16, seeds 0–9).

    Nothing changed: share of p < 0.05 0.015 (conservative, as above).  t000
    four times as abundant after: called in every dataset, interval holding
    log2(4) = 2 less the CLR shift (2/150) in 10 of 10.
    """
    null, covered = [], 0
    for seed in range(10):
        res = differential_abundance(_subjects_study(seed, within=True, per_subject=4),
                                     "group", subject="subject", mc_samples=16, seed=seed)
        assert res.model == "within subject" and res.n_subjects == 40
        null.append((res.table["p"] < 0.05).mean())
        hit = differential_abundance(
            _subjects_study(seed, within=True, per_subject=4, lfc=2.0), "group",
            subject="subject", reference="control", mc_samples=16, seed=seed,
        ).table.set_index("taxon").loc["t000"]
        assert hit["q"] < 0.05 and hit["higher_in"] == "case"
        covered += hit["ci_low"] < 2.0 - 2.0 / 150 < hit["ci_high"]
    assert np.mean(null) <= 0.05 and covered == 10, (null, covered)
    assert np.mean(null) == pytest.approx(0.015, abs=0.002)


def test_subject_errors() -> None:
    study = _subjects_study(0, n_subjects=6, per_subject=2, n_taxa=10)
    one_case = study.samples.assign(subject=["a", "a"] + [f"b{i}" for i in range(10)],
                                    group=["case"] * 2 + ["control"] * 10)
    with pytest.raises(InputError, match=r"each group needs at least 2 subjects \(the model is "
                                         r"fitted on one mean per subject\); 'case' has 1"):
        differential_abundance(study.with_metadata(one_case), "group", subject="subject",
                               mc_samples=2)
    with pytest.raises(InputError, match=r"the subject column 'who' is not in the sample "
                                         r"metadata"):
        differential_abundance(study, "group", subject="who", mc_samples=2)
    with pytest.raises(InputError, match=r"the subject column 'group' cannot also be"):
        differential_abundance(study, "group", subject="group", mc_samples=2)
    with pytest.raises(InputError, match=r"subject must be a metadata column name or a pandas "
                                         r"Series"):
        differential_abundance(study, "group", subject=3, mc_samples=2)  # type: ignore[arg-type]
