"""Tests of gutaxis.stats.linda (LinDA: CLR linear models with a mode bias correction).

The simulation tests draw compositions with known truth — log-normal taxa,
multinomial reads, 10 % of the taxa changed by a known log2 fold change — and
check what a user relies on: the false discovery rate at q < 0.05, the
power, the coverage of the 95 % intervals of the true effect, and p-values
that are uniform under the null.  Each docstring gives the figures observed
(with the seeds used); the assertions hold them to a tolerance of about two
Monte Carlo standard errors, so that a change of the method shows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from gutaxis.composition import UnknownRankError
from gutaxis.exceptions import InputError
from gutaxis.stats import LinDAResult, linda
from gutaxis.stats._linda_kernels import clr_log2
from gutaxis.stats._linear import meanshift_mode, meanshift_modes
from gutaxis.stats.linda import CITATION, METHOD, OMNIBUS
from gutaxis.study import RANKS, Study

COLUMNS = ["taxon", "label", "contrast", "effect", "se", "ci_low", "ci_high", "statistic",
           "p", "q", "higher_in", "mean_abundance", "prevalence"]


# ------------------------------------------------------------------ simulators
def _profiles(rng: np.random.Generator, shift: np.ndarray, *, sd_bio: float = 1.0,
              relative: bool = False, extra: np.ndarray | None = None) -> np.ndarray:
    """Reads (or percentages) of samples whose log2 abundances are moved by ``shift``.

    Base abundances are log-normal (σ = 1.5, a long tail of rare taxa); each
    sample multiplies them by its own log-normal variation (σ = ``sd_bio``,
    natural log) and by ``2**shift``, plus ``extra`` (natural log; a subject's
    own profile).  Profiles are renormalised — so every other taxon's
    proportion moves too (the compositional effect) — and reads drawn
    Multinomial with a depth uniform in 5,000–50,000; ``relative`` gives
    them as percentages of the sample's reads (zeros stay zeros).
    """
    n, d = shift.shape
    log_abundance = (np.log(rng.lognormal(0.0, 1.5, d)) + rng.normal(0.0, sd_bio, (n, d))
                     + np.log(2.0) * shift)
    if extra is not None:
        log_abundance += extra
    abundance = np.exp(log_abundance)
    proportions = abundance / abundance.sum(axis=1, keepdims=True)
    depth = rng.integers(5_000, 50_001, n)
    counts = np.vstack([rng.multinomial(k, p) for k, p in zip(depth, proportions, strict=True)])
    return 100.0 * counts / counts.sum(axis=1, keepdims=True) if relative else counts


def _changes(rng: np.random.Generator, n_taxa: int, n_diff: int, low: float = 1.0,
             high: float = 3.0) -> np.ndarray:
    """``n_diff`` random taxa changed by ``U(low, high)`` log2 units, random sign; others 0."""
    out = np.zeros(n_taxa)
    changed = rng.choice(n_taxa, n_diff, replace=False)
    out[changed] = rng.uniform(low, high, n_diff) * rng.choice([-1.0, 1.0], n_diff)
    return out


def _study(values: np.ndarray, md: pd.DataFrame, relative: bool) -> Study:
    return Study(values, list(md.index), [f"t{j:03d}" for j in range(values.shape[1])],
                 samples=md, kind="relative" if relative else "counts")


def simulate_groups(seed: int, *, k: int = 2, n_per_group: int = 50, n_taxa: int = 200,
                    n_diff: int = 20, relative: bool = False) -> tuple[Study, np.ndarray]:
    """``k`` groups; every group but "control" changes its own random 10 % of the taxa.

    Returns the study and the true log2 fold changes, groups × taxa (row 0,
    the control, is 0).
    """
    rng = np.random.default_rng(seed)
    names = np.array(["control", "case", "other", "fourth"][:k])
    lfc = np.vstack([np.zeros(n_taxa)] + [_changes(rng, n_taxa, n_diff) for _ in range(k - 1)])
    group = np.repeat(np.arange(k), n_per_group)
    md = pd.DataFrame({"group": names[group]},
                      index=[f"s{i:03d}" for i in range(len(group))])
    return _study(_profiles(rng, lfc[group], relative=relative), md, relative), lfc


def simulate_slope(seed: int, *, n: int = 100, n_taxa: int = 200, n_diff: int = 20,
                   relative: bool = False) -> tuple[Study, np.ndarray]:
    """Age ~ N(40, 10); 10 % of the taxa change by 0.5–1.5 log2 per 10 years.

    Returns the study and the true slopes (log2 per year).
    """
    rng = np.random.default_rng(seed)
    per_sd = _changes(rng, n_taxa, n_diff, 0.5, 1.5)
    age = rng.normal(40.0, 10.0, n)
    values = _profiles(rng, ((age - 40.0) / 10.0)[:, None] * per_sd[None], relative=relative)
    md = pd.DataFrame({"age": age}, index=[f"s{i:03d}" for i in range(n)])
    return _study(values, md, relative), per_sd / 10.0


def simulate_subjects(seed: int, *, n_subjects: int = 40, per_subject: int = 3,
                      n_taxa: int = 150, n_diff: int = 0, within: bool = False,
                      relative: bool = False) -> tuple[Study, np.ndarray]:
    """Repeated samples per subject, each subject with its own profile (σ = 1 per taxon).

    ``within=False``: half the subjects are cases, all their samples; with
    ``within=True`` every subject's samples alternate control, case (before
    and after).  ``n_diff`` taxa change with the case.  Within-sample
    variation is σ = 0.5, so samples of one subject are strongly alike.
    """
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), per_subject)
    lfc = _changes(rng, n_taxa, n_diff)
    case = (np.tile(np.arange(per_subject) % 2, n_subjects) if within
            else (subject >= n_subjects // 2).astype(int))
    own = rng.normal(0.0, 1.0, (n_subjects, n_taxa))[subject]
    values = _profiles(rng, case[:, None] * lfc[None], sd_bio=0.5, relative=relative,
                       extra=own)
    md = pd.DataFrame({"group": np.where(case == 1, "case", "control"),
                       "subject": [f"p{s:02d}" for s in subject]},
                      index=[f"s{i:03d}" for i in range(len(subject))])
    return _study(values, md, relative), lfc


def _truth(values: np.ndarray, taxa: pd.Index) -> pd.Series:
    return pd.Series(values, index=[f"t{j:03d}" for j in range(len(values))]).loc[taxa]


def _rates(result: LinDAResult, contrast: str, truth: np.ndarray
           ) -> tuple[float, float, float]:
    """FDR and power at q < 0.05, and 95 % coverage of the truth among prevalent taxa.

    Coverage is over taxa present in ≥ 90 % of the samples: a taxon that is
    mostly zeros is mostly its zero replacement, whose CLR does not follow
    the fold change (the interval is then about the replaced values).
    """
    t = result.table[result.table["contrast"] == contrast].set_index("taxon")
    true = _truth(truth, t.index)
    called = t["q"] < 0.05
    fdr = float((called & (true == 0)).sum() / max(called.sum(), 1))
    power = float((called & (true != 0)).sum() / (true != 0).sum())
    inside = (t["ci_low"] <= true) & (true <= t["ci_high"])
    return fdr, power, float(inside[t["prevalence"] >= 0.9].mean())


def _small_study(seed: int = 0, n: int = 30, n_taxa: int = 12) -> Study:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.lognormal(3.0, 1.0, n_taxa), size=(n, n_taxa))
    counts[n // 3:2 * n // 3, 0] *= 6
    ids = [f"s{i}" for i in range(n)]
    md = pd.DataFrame({
        "diet": np.repeat(["control", "fibre", "meat"], n // 3),
        "age": rng.normal(45, 10, n),
        "site": (["north", "south"] * n)[:n],
        "person": [f"p{i // 2}" for i in range(n)],
    }, index=ids)
    return Study(counts, ids, [f"t{j}" for j in range(n_taxa)], samples=md, source="diet.biom")


# ------------------------------------------- a. the fit against statsmodels
def test_fit_and_tests_match_statsmodels_ols_with_the_bias_subtracted() -> None:
    """Without the bias's own error, every number is statsmodels' OLS on the CLR less the mode."""
    study = _small_study()
    res = linda(study, "diet", covariates=["age", "site"], min_prevalence=0,
                bias_uncertainty=False)
    counts = study.to_dataframe().to_numpy().astype(float)
    logs = np.log2(counts + 0.5 if (counts == 0).any() else counts)
    clr = logs - logs.mean(axis=1, keepdims=True)
    md = study.samples
    fits = [smf.ols("y ~ C(diet, Treatment('control')) + age + C(site)",
                    data=md.assign(y=clr[:, j])).fit() for j in range(study.n_features)]
    term = "C(diet, Treatment('control'))[T.{}]"
    for level in ("fibre", "meat"):
        block = res.table[res.table["contrast"] == f"{level} vs control"].set_index("taxon")
        block = block.loc[study.feature_ids]
        raw = np.array([f.params[term.format(level)] for f in fits])
        assert res.bias[f"{level} vs control"] == pytest.approx(meanshift_mode(raw))
        np.testing.assert_allclose(block["effect"], raw - res.bias[f"{level} vs control"],
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(block["se"], [f.bse[term.format(level)] for f in fits],
                                   rtol=1e-9)
        t = (raw - res.bias[f"{level} vs control"]) / block["se"]
        df = fits[0].df_resid
        from scipy import stats
        np.testing.assert_allclose(block["p"], 2 * stats.t.sf(np.abs(t), df), rtol=1e-8)
        np.testing.assert_allclose(block["q"], multipletests(block["p"], method="fdr_bh")[1],
                                   rtol=1e-9)
        half = stats.t.ppf(0.975, df) * block["se"]
        np.testing.assert_allclose(block["ci_high"] - block["effect"], half, rtol=1e-9)
    # the pair of non-reference groups: its own mode, the SE of the difference
    pair = res.table[res.table["contrast"] == "meat vs fibre"].set_index("taxon")
    pair = pair.loc[study.feature_ids]
    raw = np.array([f.params[term.format("meat")] - f.params[term.format("fibre")] for f in fits])
    np.testing.assert_allclose(pair["effect"], raw - meanshift_mode(raw), rtol=1e-9, atol=1e-12)
    ses = [np.sqrt(f.cov_params().loc[[term.format("meat"), term.format("fibre")]]
                   .loc[:, [term.format("meat"), term.format("fibre")]]
                   .to_numpy() @ [1, -1] @ [1, -1]) for f in fits]
    np.testing.assert_allclose(pair["se"], ses, rtol=1e-9)
    # the omnibus: statsmodels' F test of both diet coefficients = their biases
    omni = res.table[res.table["contrast"] == OMNIBUS].set_index("taxon").loc[study.feature_ids]
    names = [term.format("fibre"), term.format("meat")]
    for j, fit in enumerate(fits):
        r_matrix = np.zeros((2, len(fit.params)))
        for i, name in enumerate(names):
            r_matrix[i, list(fit.params.index).index(name)] = 1.0
        f_test = fit.f_test((r_matrix, np.array([res.bias["fibre vs control"],
                                                 res.bias["meat vs control"]])))
        assert omni["statistic"].iloc[j] == pytest.approx(float(f_test.fvalue), rel=1e-8)
        assert omni["p"].iloc[j] == pytest.approx(float(f_test.pvalue), rel=1e-7, abs=1e-15)
    assert res.df == fits[0].df_resid == 30 - 5


def test_the_bias_error_widens_every_interval_by_one_common_variance() -> None:
    study = _small_study()
    known = linda(study, "diet", min_prevalence=0, bias_uncertainty=False)
    full = linda(study, "diet", min_prevalence=0)
    for contrast in ("fibre vs control", "meat vs fibre"):
        a = known.table[known.table["contrast"] == contrast].set_index("taxon").sort_index()
        b = full.table[full.table["contrast"] == contrast].set_index("taxon").sort_index()
        np.testing.assert_allclose(a["effect"], b["effect"])  # same estimates
        extra = b["se"] ** 2 - a["se"] ** 2
        assert (extra > 0).all() and np.ptp(extra) < 1e-12  # one variance, added to each
    again = linda(study, "diet", min_prevalence=0)
    pd.testing.assert_frame_equal(full.table, again.table)  # seeded: the same
    other = linda(study, "diet", min_prevalence=0, seed=1)
    assert not np.array_equal(full.table["se"], other.table["se"])


# ----------------------------------------------------------------- b. zeros
def test_zero_replacements_by_hand() -> None:
    counts = np.array([[0, 4, 12, 4], [6, 0, 2, 8], [1, 1, 1, 5]], dtype=float)
    clr, used = clr_log2(counts, kind="counts", zero_handling="pseudo-count")
    logs = np.log2(counts + 0.5)
    np.testing.assert_allclose(clr, logs - logs.mean(axis=1, keepdims=True))
    assert used == "pseudo-count 0.5"
    # imputation: a zero becomes its sample's depth over the largest depth among the
    # samples where that taxon is zero (LinDA): taxon 0 zero only in sample 0 → 1;
    # taxon 1 zero only in sample 1 → 1; non-zero counts untouched
    clr, used = clr_log2(counts, kind="counts", zero_handling="imputation")
    filled = counts.copy()
    filled[0, 0] = 20 / 20
    filled[1, 1] = 16 / 16
    logs = np.log2(filled)
    np.testing.assert_allclose(clr, logs - logs.mean(axis=1, keepdims=True))
    assert used == "imputation"
    two = np.array([[0, 5, 5], [0, 10, 30]], dtype=float)  # taxon 0 zero in both
    clr, _ = clr_log2(two, kind="counts", zero_handling="imputation")
    expected = np.log2([[10 / 40, 5, 5], [40 / 40, 10, 30]])
    np.testing.assert_allclose(clr, expected - expected.mean(axis=1, keepdims=True))
    # proportions: half the smallest non-zero value of the same sample
    props = np.array([[0.0, 0.2, 0.8], [0.5, 0.5, 0.0]])
    clr, used = clr_log2(props, kind="relative", zero_handling="auto")
    expected = np.log2([[0.1, 0.2, 0.8], [0.5, 0.5, 0.25]])
    np.testing.assert_allclose(clr, expected - expected.mean(axis=1, keepdims=True))
    assert used == "half-minimum"
    assert clr_log2(props + 0.1, kind="relative", zero_handling="auto")[1] == "none (no zeros)"


def test_proportions_give_the_same_result_in_any_unit_and_any_closure() -> None:
    """Fractions, percentages, or samples summing to different totals: the same table."""
    study, _ = simulate_groups(3, n_per_group=20, n_taxa=60, n_diff=6, relative=True)
    assert (study.counts.toarray() == 0).any()  # zeros to replace
    percent = linda(study, "group", covariates=(), seed=2)
    fractions = study.replace(None, counts=study.counts / 100.0)
    scale = np.random.default_rng(0).uniform(0.5, 1.0, study.n_samples)  # 50–100 per sample
    closed = study.replace(None, counts=study.counts.multiply(scale[:, None]).tocsr())
    for other in (fractions, closed):
        res = linda(other, "group", seed=2)
        cols = ["taxon", "contrast", "effect", "se", "ci_low", "ci_high", "statistic", "p", "q",
                "higher_in"]
        pd.testing.assert_frame_equal(res.table[cols], percent.table[cols], rtol=1e-9)
    assert percent.zero_handling == "half-minimum"


def test_depth_associated_with_the_groups_switches_counts_to_imputation() -> None:
    """LinDA's adaptive rule: depth ~ design with p ≤ 0.1 → zeros imputed, not pseudo-counted.

    Observed (seeds 0–4, cases sequenced 20 times shallower, no taxon
    changed): false calls at q < 0.05 per dataset with imputation 20, 28, 8,
    44, 24, with the pseudo-count 49, 38, 49, 54, 56.  Imputation roughly halves
    them; neither removes them: zeros carry depth, and depth confounded with
    the groups should be removed by design (or by rarefying) first.
    """
    fewer = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        case = np.repeat([0, 1], 50)
        abundance = rng.lognormal(0, 2.0, 150) * np.exp(rng.normal(0, 1.0, (100, 150)))
        depth = np.where(case == 1, rng.integers(1000, 3000, 100),
                         rng.integers(20000, 60000, 100))
        counts = np.vstack([rng.multinomial(k, p / p.sum())
                            for k, p in zip(depth, abundance, strict=True)])
        md = pd.DataFrame({"group": np.where(case, "case", "control")},
                          index=[f"s{i}" for i in range(100)])
        study = Study(counts, md.index, [f"t{j}" for j in range(150)], samples=md)
        auto = linda(study, "group")
        plain = linda(study, "group", zero_handling="pseudo-count")
        assert auto.zero_handling == "imputation" and plain.zero_handling == "pseudo-count 0.5"
        assert any("Sequencing depth is associated" in n for n in auto.notes)
        fewer.append(int((auto.table["q"] < 0.05).sum()) < int((plain.table["q"] < 0.05).sum()))
    assert sum(fewer) == 5
    balanced, _ = simulate_groups(0, n_per_group=20, n_taxa=60, n_diff=6)
    assert linda(balanced, "group").zero_handling == "pseudo-count 0.5"


# ------------------------------------------------------------- c. the mode
def test_meanshift_mode_is_a_stationary_point_and_equivariant() -> None:
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(0.3, 0.2, 180), rng.normal(2.5, 0.5, 20)])  # 10 % away
    m = meanshift_mode(x)
    assert abs(m - 0.3) < 0.08  # the bulk's centre, not the mean (0.52)
    sd = np.std(x, ddof=1)
    iqr = np.subtract(*np.percentile(x, [75, 25]))
    h = 0.9 * min(sd, iqr / 1.34) * len(x) ** -0.2  # R's bw.nrd0
    kernel = np.exp(-0.5 * ((x - m) / h) ** 2)
    assert abs(kernel @ (x - m)) < 1e-6 * kernel.sum()  # the mean-shift fixed point
    assert meanshift_mode(3.0 * x - 7.0) == pytest.approx(3.0 * m - 7.0, abs=1e-6)
    assert meanshift_mode(np.append(x, np.nan)) == pytest.approx(m)
    assert np.isnan(meanshift_mode(np.array([np.nan])))
    assert meanshift_mode(np.array([2.0])) == 2.0
    rows = rng.normal(size=(5, 50))
    np.testing.assert_allclose(meanshift_modes(rows), [meanshift_mode(r) for r in rows])


# --------------------------------------------- d. simulations with known truth
@pytest.mark.parametrize("relative", [False, True], ids=["counts", "percent"])
def test_two_groups_fdr_power_and_coverage(relative: bool) -> None:
    """Observed over seeds 0–29 (50 + 50 samples, 200 taxa, 20 changed by 1–3 log2).

    Counts: mean FDR 0.043, power 0.943, coverage of the true log2 fold change
    0.950 (taxa present in ≥ 90 % of samples).  Percentages: FDR 0.038, power
    0.943, coverage 0.951.  Over 200 datasets (seeds 0–199): FDR 0.049 ± 0.004
    (counts) and 0.047 ± 0.003 (percent) — near the nominal 0.05 times the
    share of unchanged taxa, 0.045, as Benjamini–Hochberg promises — power
    0.935, coverage 0.951 ± 0.001 for both.  The Monte Carlo standard error of the
    mean FDR over 30 datasets is 0.007: the bound asserted, 0.05 + 0.015, is
    nominal plus two of them; that of the coverage is 0.003.
    """
    fdrs, powers, covers = [], [], []
    for seed in range(30):
        study, lfc = simulate_groups(seed, relative=relative)
        res = linda(study, "group", reference="control")
        fdr, power, cover = _rates(res, "case vs control", lfc[1])
        fdrs.append(fdr)
        powers.append(power)
        covers.append(cover)
    assert np.mean(fdrs) <= 0.05 + 0.015, fdrs
    assert np.mean(powers) >= 0.9, powers
    assert abs(np.mean(covers) - 0.95) <= 0.006, covers
    expected = {False: (0.043, 0.943, 0.950), True: (0.038, 0.943, 0.951)}[relative]
    observed = (np.mean(fdrs), np.mean(powers), np.mean(covers))
    assert observed == pytest.approx(expected, abs=0.006)


def test_the_published_method_without_the_bias_error_is_anticonservative() -> None:
    """With no taxon changed, LinDA as published (the mode taken as known) calls too much.

    Observed over seeds 0–39 (50 + 50 samples, 200 taxa): the share of p < 0.05
    is 0.059 with the bias taken as known and 0.052 with its error added
    (Monte Carlo standard errors 0.003; the two are paired, on the same
    datasets).  Over 200 datasets: 0.060 ± 0.0014 and 0.053 ± 0.0013 — the
    error of the bias, estimated from draws with independent taxa, is still
    a little short.  The mode of 200
    coefficients has an error of about a quarter of one coefficient's
    standard error, shared by every taxon, which the published tests leave
    out.
    """
    known, ours = [], []
    for seed in range(40):
        study, _ = simulate_groups(seed, n_diff=0)
        known.append((linda(study, "group", bias_uncertainty=False).table["p"] < 0.05).mean())
        ours.append((linda(study, "group").table["p"] < 0.05).mean())
    assert np.mean(known) > 0.055, known
    assert abs(np.mean(ours) - 0.05) <= 0.006, ours
    assert np.mean(known) - np.mean(ours) > 0.004
    assert (np.mean(known), np.mean(ours)) == pytest.approx((0.059, 0.052), abs=0.002)


def test_three_groups_null_calibration() -> None:
    """With no taxon changed, the omnibus F and the pairwise t p-values are uniform.

    Observed over seeds 0–39 (3 × 30 samples, 150 taxa): share of omnibus
    p < 0.05 0.049 (Monte Carlo standard error between datasets 0.003),
    pairwise 0.050 (0.002); a dataset with any omnibus q < 0.05 in 3 of 40.
    Taxa of one dataset are correlated, so the tolerance is taken between
    datasets (two standard errors), not the binomial one over all taxa.
    """
    omnibus, pairs, any_call = [], [], 0
    for seed in range(40):
        study, _ = simulate_groups(seed, k=3, n_per_group=30, n_taxa=150, n_diff=0)
        res = linda(study, "group", reference="control")
        assert res.contrasts == (OMNIBUS, "case vs control", "other vs control",
                                 "other vs case")
        omni = res.table[res.table["contrast"] == OMNIBUS]
        omnibus.append((omni["p"] < 0.05).mean())
        pairs.append((res.table.loc[res.table["contrast"] != OMNIBUS, "p"] < 0.05).mean())
        any_call += bool((omni["q"] < 0.05).any())
        assert omni["effect"].isna().all() and omni["higher_in"].isna().all()
    assert abs(np.mean(omnibus) - 0.05) <= 2 * 0.003 + 0.001, omnibus
    assert abs(np.mean(pairs) - 0.05) <= 2 * 0.002 + 0.001, pairs
    assert any_call <= 5  # family-wise ≤ 0.05 under the complete null: 2 ± 1.4 of 40
    assert (np.mean(omnibus), np.mean(pairs)) == pytest.approx((0.049, 0.050), abs=0.002)


def test_three_groups_omnibus_power_and_pairwise_coverage() -> None:
    """Observed over seeds 0–19 (3 × 30 samples, 150 taxa, each non-control group changing its
    own 10 %): omnibus FDR 0.035 (Monte Carlo standard error 0.008), power 0.905 (a taxon is
    changed if it differs between any groups); 95 % coverage of the true differences 0.946,
    0.942, 0.953 for case vs control, other vs control, other vs case (standard error 0.006).
    """
    fdrs, powers, covers = [], [], []
    pairs = {"case vs control": (1, 0), "other vs control": (2, 0), "other vs case": (2, 1)}
    for seed in range(20):
        study, lfc = simulate_groups(seed, k=3, n_per_group=30, n_taxa=150, n_diff=15)
        res = linda(study, "group", reference="control")
        changed = (lfc != 0).any(axis=0).astype(float)
        fdr, power, _ = _rates(res, OMNIBUS, changed)
        fdrs.append(fdr)
        powers.append(power)
        covers.append([_rates(res, name, lfc[a] - lfc[b])[2] for name, (a, b) in pairs.items()])
        # the pairs point the right way
        called = res.table[(res.table["contrast"] == "case vs control") & (res.table["q"] < 0.05)]
        true = _truth(lfc[1], pd.Index(called["taxon"]))
        hits = true != 0
        assert (np.sign(called["effect"].to_numpy()[hits]) == np.sign(true[hits])).all()
    assert np.mean(fdrs) <= 0.05 + 0.015, fdrs
    assert np.mean(powers) >= 0.85, powers
    assert np.all(np.abs(np.mean(covers, axis=0) - 0.95) <= 0.012), covers
    assert (np.mean(fdrs), np.mean(powers)) == pytest.approx((0.035, 0.905), abs=0.005)


def test_continuous_variable_is_a_slope() -> None:
    """Observed over seeds 0–29 (100 samples, age ~ N(40, 10), 20 of 200 taxa changing by
    0.5–1.5 log2 per 10 years; odd seeds as percentages): FDR 0.043 (Monte Carlo standard
    error 0.011), power 0.928, coverage of the true slope 0.952 (0.003).
    """
    fdrs, powers, covers = [], [], []
    for seed in range(30):
        study, slope = simulate_slope(seed, relative=seed % 2 == 1)
        res = linda(study, "age")
        assert res.variable_type == "continuous" and res.contrasts == ("age",)
        assert res.reference_group is None and res.table["higher_in"].isna().all()
        fdr, power, cover = _rates(res, "age", slope)
        fdrs.append(fdr)
        powers.append(power)
        covers.append(cover)
    assert np.mean(fdrs) <= 0.05 + 0.022, fdrs
    assert np.mean(powers) >= 0.9, powers
    assert abs(np.mean(covers) - 0.95) <= 0.006, covers
    assert (np.mean(fdrs), np.mean(powers), np.mean(covers)) == pytest.approx(
        (0.043, 0.928, 0.952), abs=0.002)
    # the unit of the variable changes the slope, not the test
    study, _ = simulate_slope(0)
    years = linda(study, "age").table.set_index("taxon")
    decades = linda(study.with_metadata(study.samples.assign(age=study.samples["age"] / 10)),
                    "age").table.set_index("taxon").loc[years.index]
    np.testing.assert_allclose(decades["effect"], 10 * years["effect"], rtol=1e-6)
    np.testing.assert_allclose(decades["p"], years["p"], rtol=1e-6)


# ------------------------------------------------------- e. covariate adjustment
def _confounded(seed: int = 5, relative: bool = False) -> Study:
    rng = np.random.default_rng(seed)
    n, n_taxa = 100, 40
    group = np.array(["a"] * 50 + ["b"] * 50)
    age = np.where(group == "a", rng.normal(40, 8, n), rng.normal(60, 8, n))
    abundance = rng.lognormal(1.0, 1.0, n_taxa) * np.exp(rng.normal(0, 0.5, (n, n_taxa)))
    abundance[:, 0] *= np.exp(0.1 * (age - 50))  # t00 follows age, not the group
    abundance[group == "b", 1] *= 4.0             # t01 is a true group effect
    props = abundance / abundance.sum(axis=1, keepdims=True)
    counts = np.vstack([rng.multinomial(20_000, p) for p in props])
    values = 100 * counts / 20_000 if relative else counts
    md = pd.DataFrame({"group": group, "age": age}, index=[f"s{i}" for i in range(n)])
    return Study(values, md.index, [f"t{j:02d}" for j in range(n_taxa)], samples=md,
                 kind="relative" if relative else "counts")


@pytest.mark.parametrize("relative", [False, True], ids=["counts", "percent"])
def test_covariate_removes_a_confounded_call(relative: bool) -> None:
    """t00 follows age, which is higher in group b; t01 is 4 times as abundant in b.

    Observed over seeds 0–9 (counts and percentages alike): crude q of t00
    < 0.001 in all ten, adjusted q 0.30–0.99; the interval of t01 holds the
    true log2(4) = 2 in 9 of 10 (not in seed 5: 2.00–3.07).
    """
    covered = 0
    for seed in range(10):
        study = _confounded(seed, relative=relative)
        crude = linda(study, "group").table.set_index("taxon")
        adjusted = linda(study, "group", covariates=["age"]).table.set_index("taxon")
        assert crude.loc["t00", "q"] < 0.05 and crude.loc["t00", "higher_in"] == "b"
        assert adjusted.loc["t00", "q"] > 0.05
        assert adjusted.loc["t01", "q"] < 0.05 and adjusted.loc["t01", "higher_in"] == "b"
        covered += adjusted.loc["t01", "ci_low"] < 2.0 < adjusted.loc["t01", "ci_high"]
    assert covered == 9
    # the age slope itself: t00's log2 change per year is 0.1 / ln 2
    slope = linda(_confounded(0, relative=relative), "age",
                  covariates=["group"]).table.set_index("taxon")
    assert slope.loc["t00", "ci_low"] < 0.1 / np.log(2) < slope.loc["t00", "ci_high"]


# ----------------------------------------------------- f. repeated samples
def test_subjects_with_a_constant_group_are_averaged_and_calibrated() -> None:
    """40 subjects × 3 samples, half of them cases, nothing changed.

    Observed over seeds 0–29 (odd seeds as percentages): share of p < 0.05
    0.044 with ``subject`` (one mean per subject; Monte Carlo standard error
    0.003), 0.21 without it (each subject counted three times as if
    independent: a fourfold excess of false positives).
    """
    with_subject, naive = [], []
    for seed in range(30):
        study, _ = simulate_subjects(seed, relative=seed % 2 == 1)
        res = linda(study, "group", subject="subject")
        assert res.model == "subject means" and res.n_subjects == 40 and res.df == 40 - 2
        assert res.n_samples == 120 and "one mean CLR per subject" in res.notes[0]
        with_subject.append((res.table["p"] < 0.05).mean())
        naive.append((linda(study, "group").table["p"] < 0.05).mean())
    assert abs(np.mean(with_subject) - 0.05) <= 0.007, with_subject
    assert np.mean(naive) > 0.15, naive
    assert np.mean(with_subject) == pytest.approx(0.044, abs=0.002)


def test_subject_mean_model_equals_fitting_the_mean_clr_by_hand() -> None:
    study, _ = simulate_subjects(1, n_subjects=12, per_subject=2, n_taxa=20)
    res = linda(study, "group", subject=study.samples["subject"], min_prevalence=0,
                bias_uncertainty=False)
    counts = study.to_dataframe().to_numpy().astype(float)
    logs = np.log2(counts + 0.5 if (counts == 0).any() else counts)
    clr = pd.DataFrame(logs - logs.mean(axis=1, keepdims=True), index=study.sample_ids)
    means = clr.groupby(study.samples["subject"]).mean()
    group = study.samples.groupby("subject")["group"].first().loc[means.index]
    raw = []
    for j in range(study.n_features):
        fit = smf.ols("y ~ C(group, Treatment('case'))",
                      data=pd.DataFrame({"y": means[j], "group": group})).fit()
        raw.append(fit.params.iloc[1])
    table = res.table.set_index("taxon").loc[study.feature_ids]
    np.testing.assert_allclose(table["effect"], np.array(raw) - meanshift_mode(np.array(raw)),
                               rtol=1e-9, atol=1e-12)
    assert res.subject == "subject" and res.df == 12 - 2


def test_a_group_that_changes_within_subjects_is_compared_within_subject() -> None:
    """Before/after in each of 40 subjects (4 samples each), nothing changed: share of
    p < 0.05 0.048 (seeds 0–29; Monte Carlo standard error 0.004).  With 15 of 150 taxa
    changed (30 subjects × 2 samples, seeds 0–29): FDR 0.043 (0.009), power 0.978, coverage
    0.955 (0.003).
    """
    null = []
    for seed in range(30):
        study, _ = simulate_subjects(seed, within=True, per_subject=4)
        res = linda(study, "group", subject="subject")
        assert res.model == "within subject" and res.df == 160 - 40 - 1
        null.append((res.table["p"] < 0.05).mean())
    assert abs(np.mean(null) - 0.05) <= 0.008, null
    fdrs, powers, covers = [], [], []
    for seed in range(30):
        study, lfc = simulate_subjects(seed, within=True, per_subject=2, n_subjects=30,
                                       n_diff=15)
        res = linda(study, "group", subject="subject", reference="control")
        fdr, power, cover = _rates(res, "case vs control", lfc)
        fdrs.append(fdr)
        powers.append(power)
        covers.append(cover)
    assert np.mean(fdrs) <= 0.05 + 0.018 and np.mean(powers) >= 0.95, (fdrs, powers)
    assert abs(np.mean(covers) - 0.95) <= 0.007, covers
    assert (np.mean(null), np.mean(fdrs), np.mean(powers), np.mean(covers)) == pytest.approx(
        (0.048, 0.043, 0.978, 0.955), abs=0.002)


def test_within_subject_model_absorbs_subject_level_covariates() -> None:
    study, _ = simulate_subjects(2, within=True, per_subject=2, n_subjects=20, n_taxa=30)
    sex = {f"p{s:02d}": "f" if s % 2 else "m" for s in range(20)}
    md = study.samples.assign(sex=study.samples["subject"].map(sex))
    res = linda(study.with_metadata(md), "group", covariates=["sex"], subject="subject")
    assert res.model == "within subject" and res.absorbed == ("sex[m]",)
    assert res.df == 40 - 20 - 1
    assert any("absorbed by the subject means" in n for n in res.notes)


# --------------------------------------------------------- g. shape of the result
def test_result_shape_and_json() -> None:
    study = _small_study()
    res = linda(study, "diet", covariates=("site",), min_prevalence=0)
    assert res.method == METHOD and res.citation == CITATION
    assert "Genome Biology" in res.citation and "10.1186/s13059-022-02655-5" in res.citation
    assert res.levels == ("control", "fibre", "meat") and res.reference_group == "control"
    assert res.variable_type == "categorical" and res.model == "samples"
    assert res.zero_handling == "pseudo-count 0.5" or res.zero_handling.startswith("none")
    assert list(res.table.columns) == COLUMNS
    assert list(res.bias) == ["fibre vs control", "meat vs control", "meat vs fibre"]
    assert res.group_sizes == {"control": 10, "fibre": 10, "meat": 10} and res.n_samples == 30
    t = res.table
    assert list(dict.fromkeys(t["contrast"])) == list(res.contrasts)
    for _, block in t.groupby("contrast", sort=False):
        assert (block["q"].diff().dropna() >= 0).all() and len(block) == 12
    pairs = t[t["contrast"] != OMNIBUS]
    assert ((pairs["ci_low"] <= pairs["effect"]) & (pairs["effect"] <= pairs["ci_high"])).all()
    fibre = t[t["contrast"] == "fibre vs control"]
    assert ((fibre["effect"] > 0) == (fibre["higher_in"] == "fibre")).all()
    assert fibre.iloc[0]["taxon"] == "t0" and fibre.iloc[0]["higher_in"] == "fibre"
    meat = t[t["contrast"] == "meat vs fibre"].set_index("taxon")
    assert meat.loc["t0", "higher_in"] == "fibre" and meat.loc["t0", "effect"] < 0
    doc = res.to_dict()
    assert list(doc) == ["method", "citation", "rank", "variable", "variable_type", "levels",
                         "reference_group", "contrasts", "covariates", "subject", "model",
                         "zero_handling", "bias_uncertainty", "seed", "df", "bias",
                         "group_sizes", "n_samples", "n_subjects", "absorbed", "dropped_samples",
                         "n_filtered", "notes", "features"]
    assert len(doc["features"]) == 4 * 12 and list(doc["features"][0]) == COLUMNS
    assert doc["features"][0]["effect"] is None  # the omnibus row
    json.dumps(doc, allow_nan=False)


def test_two_groups_have_one_contrast_and_no_omnibus() -> None:
    study = _small_study()
    two = study.subset_samples([s for s in study.sample_ids
                                if study.samples.loc[s, "diet"] != "meat"])
    res = linda(two, "diet", reference="fibre", min_prevalence=0)
    assert res.contrasts == ("control vs fibre",) and res.levels == ("fibre", "control")
    assert len(res.table) == 12 and OMNIBUS not in set(res.table["contrast"])
    top = res.table.iloc[0]
    assert top["taxon"] == "t0" and top["higher_in"] == "fibre" and top["effect"] < 0


def test_rank_collapses_first_and_labels_taxa() -> None:
    study = _small_study(n_taxa=4)
    tax = pd.DataFrame([["Bacteria", "Firmicutes", "Clostridia", "Eubacteriales",
                         "Lachnospiraceae", g, None] for g in ("Roseburia", None, None, "Blautia")],
                       index=study.feature_ids, columns=list(RANKS))
    study = study.replace(None, taxonomy=tax.astype(object).where(tax.notna(), None))
    res = linda(study, "diet", rank="Genus", min_prevalence=0)
    assert res.rank == "genus"
    assert sorted(set(res.table["label"])) == ["Blautia", "Lachnospiraceae (unassigned genus)",
                                               "Roseburia"]


def test_missing_values_and_subjects_drop_samples_and_are_reported() -> None:
    study = _small_study()
    md = study.samples.copy()
    md.loc["s0", "diet"] = None
    md.loc["s1", "age"] = np.nan
    md.loc["s2", "person"] = None
    counts = study.counts.toarray()
    counts[3] = 0
    study = Study(counts, study.sample_ids, study.feature_ids, samples=md)
    res = linda(study, "diet", covariates=["age"], subject="person", min_prevalence=0)
    assert res.dropped_samples == ("s0", "s1", "s2", "s3")
    assert res.n_samples == 26 and sum(res.group_sizes.values()) == 26
    series = study.samples["person"].drop(["s4", "s5"])  # a Series that lacks two samples
    res = linda(study, "diet", subject=series.rename("who"), min_prevalence=0)
    assert {"s4", "s5"} <= set(res.dropped_samples) and res.subject == "who"


def test_prevalence_filter_removes_rare_taxa_before_testing() -> None:
    study = _small_study()
    counts = study.counts.toarray()
    counts[:, 5] = 0
    counts[0, 5] = 3
    study = Study(counts, study.sample_ids, study.feature_ids, samples=study.samples)
    res = linda(study, "diet")
    assert "t5" not in set(res.table["taxon"]) and res.n_filtered == 1


# ------------------------------------------------------------------ h. errors
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"reference": "vegan"}, r"reference group 'vegan' is not one of the groups in 'diet': "
                             r"'control', 'fibre', 'meat'"),
    ({"min_prevalence": 2}, r"`min_prevalence` must be a fraction in \[0, 1\]"),
    ({"covariates": ["diet"]}, r"cannot also be a covariate"),
    ({"zero_handling": "zero"}, r"`zero_handling` must be one of auto, pseudo-count, "
                                r"imputation, half-minimum; got 'zero'"),
    ({"categorical": False}, r"'diet' is not numeric .* cannot be tested as a continuous"),
    ({"categorical": "yes"}, r"`categorical` must be True, False or None"),
    ({"subject": "nobody"}, r"the subject column 'nobody' is not in the sample metadata"),
    ({"subject": "diet"}, r"the subject column 'diet' cannot also be the tested variable"),
    ({"subject": ["p1"]}, r"subject must be a metadata column name or a pandas Series"),
    ({"seed": -1}, r"`seed` must be an integer ≥ 0; got -1"),
    ({"bias_uncertainty": "no"}, r"`bias_uncertainty` must be True or False"),
])
def test_option_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        linda(_small_study(), "diet", **kwargs)  # type: ignore[arg-type]


def test_other_input_errors() -> None:
    study = _small_study()
    with pytest.raises(InputError, match=r"the variable 'disease' is not in the sample metadata; "
                                         r"its columns are: 'diet', 'age'"):
        linda(study, "disease")
    with pytest.raises(InputError, match=r"has no sample metadata"):
        linda(study.replace(None, samples=None), "diet")
    with pytest.raises(InputError, match=r"study must be a Study"):
        linda("table", "diet")  # type: ignore[arg-type]
    with pytest.raises(UnknownRankError):
        linda(study, "diet", rank="strain")
    with pytest.raises(InputError, match=r"'pseudo-count' is for read counts"):
        linda(study.relative(), "diet", zero_handling="pseudo-count")
    with pytest.raises(InputError, match=r"`reference` is for groups; 'age' is tested as a "
                                         r"continuous variable"):
        linda(study, "age", reference="30")
    one = study.with_metadata(study.samples.assign(diet="fibre"))
    with pytest.raises(InputError, match=r"'diet' has 1 group among the samples analysed "
                                         r"\('fibre'\); there is nothing to compare"):
        linda(one, "diet")
    lonely = study.with_metadata(study.samples.assign(
        diet=["control"] * 15 + ["fibre"] * 14 + ["meat"]))
    with pytest.raises(InputError, match=r"each group needs at least 2 samples with reads; "
                                         r"'meat' has 1"):
        linda(lonely, "diet")
    arm = study.with_metadata(study.samples.assign(arm=study.samples["diet"].map(
        {"control": "x", "fibre": "y", "meat": "y"}), flat=1.0))
    with pytest.raises(InputError, match=r"the design column 'arm\[y\]' is constant or a "
                                         r"combination of 'diet' and the covariates"):
        linda(arm, "diet", covariates=["arm"])
    with pytest.raises(InputError, match=r"'flat' is constant"):
        linda(arm, "flat")
    tiny = study.subset_samples(["s0", "s1", "s10", "s11", "s20", "s21"])
    tiny = tiny.with_metadata(tiny.samples.assign(bmi=[20.0, 31, 25, 27, 22, 29]))
    with pytest.raises(InputError, match=r"6 samples cannot fit a model with 6 coefficients "
                                         r"\(intercept, diet\[fibre\], diet\[meat\], age, "
                                         r"site\[south\], bmi\)"):
        linda(tiny, "diet", covariates=["age", "site", "bmi"], min_prevalence=0)
    # subject means: a group with one subject
    people = study.with_metadata(study.samples.assign(
        person=[f"p{i // 10}" if i < 20 else f"q{i}" for i in range(30)]))
    with pytest.raises(InputError, match=r"each group needs at least 2 subjects .*'control' has "
                                         r"1, 'fibre' has 1"):
        linda(people, "diet", subject="person")
    # within subject: a level that never changes within a subject
    mixed = study.with_metadata(study.samples.assign(
        person=[f"p{i // 2}" if i < 20 else f"m{i}" for i in range(30)],
        diet=["control", "fibre"] * 10 + ["meat"] * 10))
    with pytest.raises(InputError, match=r"the design column 'diet\[meat\]' is constant within "
                                         r"every subject"):
        linda(mixed, "diet", subject="person")
    one_taxon = Study(np.ones((30, 2), dtype=int) * [5, 0], study.sample_ids, ["a", "b"],
                      samples=study.samples)
    with pytest.raises(InputError, match=r"only 1 of 2 taxa pass the prevalence filter"):
        linda(one_taxon, "diet")
