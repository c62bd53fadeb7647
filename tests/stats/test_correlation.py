"""Spearman correlations of many column pairs, against scipy.stats.spearmanr pair by pair."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from gutaxis.exceptions import InputError, SampleMismatchError, ValidationError
from gutaxis.stats.correlation import spearman_pairs


def _scipy_pair(x: pd.Series, y: pd.Series, min_n: int) -> tuple[float, float, int]:
    """ρ, p and n from scipy on the pairwise-complete rows (NaN where undefined)."""
    both = x.notna() & y.notna()
    n = int(both.sum())
    xs, ys = x[both].to_numpy(), y[both].to_numpy()
    if n < min_n or np.all(xs == xs[0]) or np.all(ys == ys[0]):
        return math.nan, math.nan, n
    res = scipy.stats.spearmanr(xs, ys)
    return float(res.statistic), float(res.pvalue), n


def _frame(rng: np.random.Generator, n: int, k: int, prefix: str, *, ties: bool,
           nan_fraction: float) -> pd.DataFrame:
    data = rng.normal(size=(n, k)) + rng.normal(size=(n, 1))  # some shared signal
    if ties:
        data[:, ::2] = np.round(data[:, ::2] * 2)  # every other column heavily tied
    data[rng.uniform(size=data.shape) < nan_fraction] = np.nan
    return pd.DataFrame(data, index=[f"s{i}" for i in range(n)],
                        columns=[f"{prefix}{j}" for j in range(k)])


def _check_against_scipy(out: pd.DataFrame, a: pd.DataFrame, b: pd.DataFrame,
                         min_n: int) -> float:
    worst = 0.0
    for row in out.itertuples(index=False):
        rho, p, n = _scipy_pair(a[row.a], b[row.b], min_n)
        assert row.n == n
        if math.isnan(rho):
            assert math.isnan(row.rho) and math.isnan(row.p)
            continue
        assert row.rho == pytest.approx(rho, abs=1e-13)
        assert row.p == pytest.approx(p, rel=1e-9, abs=1e-300)
        worst = max(worst, abs(row.rho - rho))
    return worst


# ------------------------------------------------------------ vs scipy
@pytest.mark.parametrize(("seed", "ties", "nan_fraction"), [
    (0, False, 0.0), (1, True, 0.0), (2, True, 0.1), (3, False, 0.3), (4, True, 0.5),
])
def test_cross_pairs_match_scipy(seed: int, ties: bool, nan_fraction: float) -> None:
    rng = np.random.default_rng(seed)
    a = _frame(rng, 40, 4, "m", ties=ties, nan_fraction=nan_fraction)
    b = _frame(rng, 40, 7, "t", ties=ties, nan_fraction=nan_fraction / 2)
    b["const"] = 3.0
    out = spearman_pairs(a, b)
    assert list(out.columns) == ["a", "b", "rho", "p", "n"]
    assert list(zip(out["a"], out["b"], strict=True)) == list(itertools.product(a.columns,
                                                                                b.columns))
    _check_against_scipy(out, a, b, 5)
    assert out.loc[out["b"] == "const", "rho"].isna().all()


@pytest.mark.parametrize(("seed", "nan_fraction"), [(5, 0.0), (6, 0.2)])
def test_within_pairs_match_scipy(seed: int, nan_fraction: float) -> None:
    rng = np.random.default_rng(seed)
    a = _frame(rng, 30, 8, "x", ties=True, nan_fraction=nan_fraction)
    out = spearman_pairs(a)
    assert list(zip(out["a"], out["b"], strict=True)) == list(itertools.combinations(a.columns,
                                                                                     2))
    _check_against_scipy(out, a, a, 5)


def test_whole_matrix_matches_scipy_without_missing_values() -> None:
    rng = np.random.default_rng(8)
    a = _frame(rng, 50, 6, "x", ties=True, nan_fraction=0.0)
    out = spearman_pairs(a)
    res = scipy.stats.spearmanr(a.to_numpy())
    i, j = np.triu_indices(6, 1)
    np.testing.assert_allclose(out["rho"], res.statistic[i, j], rtol=0, atol=1e-14)
    np.testing.assert_allclose(out["p"], res.pvalue[i, j], rtol=1e-10)


def test_small_case_by_hand() -> None:
    # x = 1..5, y ranks 1, 3, 2, 4, 5: Σd² = 2, ρ = 1 - 6·2 / (5·24) = 0.9
    a = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, np.nan]}, index=list("abcdef"))
    b = pd.DataFrame({"y": [10.0, 30, 20, 40, 50, 60], "z": [5.0, 4, 3, 2, 1, 0]},
                     index=list("abcdef"))
    out = spearman_pairs(a, b)
    assert out["rho"].tolist() == pytest.approx([0.9, -1.0], abs=1e-15)
    assert out["n"].tolist() == [5, 5]
    t = 0.9 * math.sqrt(3 / (1.9 * 0.1))
    assert out["p"][0] == pytest.approx(2 * scipy.stats.t.sf(t, 3), rel=1e-12)
    assert out["p"][1] == 0.0  # |ρ| = 1
    # scipy computes ρ = -0.9999999999999999 here, hence a tiny p instead of 0
    assert scipy.stats.spearmanr(a["x"][:5], b["z"][:5]).pvalue < 1e-20


def test_min_n_and_rows_matched_by_id() -> None:
    a = pd.DataFrame({"x": [1.0, 2, 3, 4, np.nan, np.nan, 7]}, index=list("abcdefg"))
    b = pd.DataFrame({"y": [2.0, 1, 4, 3, 5, 6, 8, 99]}, index=list("abcdefgh"))
    b = b.iloc[::-1]  # order does not matter; "h" has no partner
    out = spearman_pairs(a, b)
    assert out["n"][0] == 5 and not math.isnan(out["rho"][0])
    out6 = spearman_pairs(a, b, min_n=6)
    assert out6["n"][0] == 5 and math.isnan(out6["rho"][0]) and math.isnan(out6["p"][0])
    ref = scipy.stats.spearmanr([1, 2, 3, 4, 7], [2, 1, 4, 3, 8])
    assert out["rho"][0] == pytest.approx(ref.statistic, abs=1e-15)
    assert out["p"][0] == pytest.approx(ref.pvalue, rel=1e-12)


def test_constant_on_the_complete_rows_only() -> None:
    # y varies overall but is constant where x is present: NaN, and no warning
    a = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, np.nan, np.nan]})
    b = pd.DataFrame({"y": [1.0, 1, 1, 1, 1, 2, 3]})
    out = spearman_pairs(a, b)
    assert math.isnan(out["rho"][0]) and out["n"][0] == 5


def test_empty_and_single_column() -> None:
    a = pd.DataFrame({"x": [1.0, 2, 3, 4, 5]})
    out = spearman_pairs(a)
    assert out.empty and list(out.columns) == ["a", "b", "rho", "p", "n"]
    assert spearman_pairs(a, pd.DataFrame(index=a.index)).empty


def test_nullable_and_integer_columns() -> None:
    a = pd.DataFrame({"x": pd.array([1, 2, None, 4, 5, 6], dtype="Int64")})
    b = pd.DataFrame({"y": [3, 1, 2, 5, 4, 6]})
    out = spearman_pairs(a, b)
    ref = scipy.stats.spearmanr([1, 2, 4, 5, 6], [3, 1, 5, 4, 6])
    assert out["rho"][0] == pytest.approx(ref.statistic) and out["n"][0] == 5


@pytest.mark.slow
def test_markers_by_taxa_is_fast() -> None:
    # 4 markers (each with its own missing values) × 300 taxa × 2,000 samples
    rng = np.random.default_rng(0)
    n = 2000
    taxa = pd.DataFrame(rng.poisson(rng.gamma(0.3, 5, size=300), size=(n, 300)).astype(float),
                        index=[f"s{i}" for i in range(n)],
                        columns=[f"t{j}" for j in range(300)])
    markers = pd.DataFrame(rng.lognormal(size=(n, 4)), index=taxa.index,
                           columns=["crp", "il6", "lbp", "scd14"])
    for j in range(4):
        markers.iloc[rng.choice(n, size=50 * (j + 1), replace=False), j] = np.nan
    start = time.perf_counter()
    out = spearman_pairs(markers, taxa)
    elapsed = time.perf_counter() - start
    assert len(out) == 1200
    assert elapsed < 5.0, f"took {elapsed:.2f} s"
    # spot-check a few pairs against scipy
    sample = out.sample(20, random_state=1)
    _check_against_scipy(sample, markers, taxa, 5)


# ------------------------------------------------------------ errors
def test_errors() -> None:
    a = pd.DataFrame({"x": [1.0, 2, 3, 4, 5]}, index=list("abcde"))
    with pytest.raises(InputError, match="min_n must be an integer >= 3 .*; got 2"):
        spearman_pairs(a, min_n=2)
    with pytest.raises(InputError, match="min_n must be an integer >= 3; got 4.5"):
        spearman_pairs(a, min_n=4.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="a must be a pandas DataFrame"):
        spearman_pairs(a["x"])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="b must be a pandas DataFrame"):
        spearman_pairs(a, a["x"])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="a has duplicated column names: 'x'"):
        spearman_pairs(pd.concat([a, a], axis=1))
    with pytest.raises(InputError, match=r"b has duplicated sample ids in its index: 'a'"):
        spearman_pairs(a, pd.concat([a, a]).rename(columns={"x": "y"}))
    with pytest.raises(ValidationError, match="every column of a must be numeric; got "
                                              "non-numeric column\\(s\\): 'w'"):
        spearman_pairs(a.assign(w=list("vwxyz")))
    other = pd.DataFrame({"y": [1.0, 2.0]}, index=["p", "q"])
    with pytest.raises(SampleMismatchError, match="a and b share no sample id"):
        spearman_pairs(a, other)
