"""The AR(1)-plus-noise regression: against the dense GLS formulas, and its posterior."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gutaxis.challenge._ar1 import (
    NOISE_VALUES,
    RHO_VALUES,
    Ar1Posterior,
    ContrastPosterior,
    ar1_posterior,
    ar1_posteriors,
)

GRID_RHO, GRID_NOISE = (a.ravel() for a in np.meshgrid(RHO_VALUES, NOISE_VALUES, indexing="ij"))


def _dense(times, y, x, rho, noise):
    """GLS and the REML log-likelihood written out with the full covariance matrix."""
    lags = np.abs(np.subtract.outer(times, times))
    v = (1 - noise) * rho ** lags + noise * np.eye(len(times))
    v[np.diag_indices(len(times))] = 1.0
    vi = np.linalg.inv(v)
    gram = x.T @ vi @ x
    beta = np.linalg.solve(gram, x.T @ vi @ y)
    resid = y - x @ beta
    rss = resid @ vi @ resid
    n, p = x.shape
    loglik = -0.5 * ((n - p) * np.log(rss) + np.linalg.slogdet(v)[1] + np.linalg.slogdet(gram)[1])
    return beta, rss / (n - p) * np.linalg.inv(gram), loglik


@pytest.fixture
def series():
    rng = np.random.default_rng(7)
    times = np.sort(rng.choice(np.arange(0, 60, 0.5), size=45, replace=False))
    x = np.column_stack([np.ones(45), times / 60, (times % 7 < 2).astype(float)])
    y = 3 + 0.5 * x[:, 1] + 1.0 * x[:, 2] + rng.normal(0, 1, 45)
    return times, y, x


def test_every_grid_point_is_the_dense_gls_and_weights_follow_the_restricted_likelihood(series):
    times, y, x = series
    post = ar1_posterior(times, y, x)
    logliks = []
    for g in [0, 7, 40, 77, len(GRID_RHO) - 1]:
        beta, cov, _ = _dense(times, y, x, GRID_RHO[g], GRID_NOISE[g])
        np.testing.assert_allclose(post.betas[g], beta, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(post.covs[g], cov, rtol=1e-8, atol=1e-12)
    for g in range(len(GRID_RHO)):
        logliks.append(_dense(times, y, x, GRID_RHO[g], GRID_NOISE[g])[2])
    logliks = np.array(logliks)
    expected = np.exp(logliks - logliks.max())
    np.testing.assert_allclose(post.weights, expected / expected.sum(), rtol=1e-7, atol=1e-12)


def test_one_extra_column_at_a_time_equals_separate_fits(series):
    times, y, x = series
    extras = np.column_stack([x[:, 2], (times % 5 < 1).astype(float)])
    posts = ar1_posteriors(times, y, x[:, :2], extras)
    for k, post in enumerate(posts):
        alone = ar1_posterior(times, y, np.column_stack([x[:, :2], extras[:, k]]))
        np.testing.assert_allclose(post.betas, alone.betas, rtol=1e-10)
        np.testing.assert_allclose(post.weights, alone.weights, rtol=1e-8, atol=1e-14)


def test_a_single_component_posterior_is_a_student_t():
    post = ContrastPosterior(np.array([1.0]), np.array([1.5]), np.array([0.4]), 12)
    low, high = post.interval(0.9)
    q = stats.t.ppf(0.95, 12)
    assert low == pytest.approx(1.5 - q * 0.4, abs=1e-8)
    assert high == pytest.approx(1.5 + q * 0.4, abs=1e-8)
    assert post.prob_above(1.5) == pytest.approx(0.5)
    assert post.cdf(2.0) == pytest.approx(stats.t.cdf(0.5 / 0.4, 12))


def test_a_mixture_quantile_inverts_its_cdf():
    post = ContrastPosterior(np.array([0.3, 0.7]), np.array([0.0, 2.0]), np.array([1.0, 0.5]), 20)
    for q in (0.05, 0.5, 0.95):
        assert post.cdf(post.quantile(q)) == pytest.approx(q, abs=1e-8)
    assert post.mean == pytest.approx(1.4)


def test_strong_autocorrelation_is_found_and_widens_the_interval():
    rng = np.random.default_rng(3)
    n = 80
    times = np.arange(n, dtype=float)
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.8 * noise[i - 1] + rng.normal(0, 0.6)
    block = ((times // 10) % 2).astype(float)
    x = np.column_stack([np.ones(n), block])
    post = ar1_posterior(times, 4 + noise, x)
    assert post.rho > 0.5
    white = ar1_posterior(times, 4 + rng.normal(0, 1, n), x)
    assert white.rho < 0.35
    width = np.diff(post.contrast(np.array([0.0, 1.0])).interval(0.9))[0]
    ols_se = np.sqrt(np.linalg.inv(x.T @ x)[1, 1]) * np.std(noise, ddof=2)
    assert width > 2 * 1.66 * ols_se  # the naive interval would be far too narrow


@pytest.mark.parametrize("bad, message", [
    (dict(times=np.array([0.0, 1, 1, 2, 3])), "strictly increasing"),
    (dict(y=np.array([1.0, np.nan, 2, 3, 4])), "finite"),
    (dict(x=np.column_stack([np.ones(5), np.ones(5)])), "full rank"),
    (dict(x=np.ones((5, 4))), "cannot fit"),
])
def test_bad_arguments_are_refused(bad, message):
    args = {"times": np.arange(5.0), "y": np.array([1.0, 2, 1, 3, 2]), "x": np.ones((5, 1))}
    args.update(bad)
    with pytest.raises(ValueError, match=message):
        ar1_posterior(args["times"], args["y"], args["x"])


def test_long_series_are_processed_in_chunks_with_the_same_result(monkeypatch, series):
    import gutaxis.challenge._ar1 as ar1

    times, y, x = series
    whole = ar1_posterior(times, y, x)
    monkeypatch.setattr(ar1, "_CHUNK_BYTES", 8 * len(times) ** 2 * 7)  # 7 grid points a chunk
    ar1._factors_cached.cache_clear()
    chunked = ar1_posterior(times, y, x)
    ar1._factors_cached.cache_clear()
    assert isinstance(chunked, Ar1Posterior)
    np.testing.assert_allclose(chunked.weights, whole.weights, rtol=1e-10, atol=1e-15)


def test_scores_that_never_change_are_refused_and_an_exact_fit_stays_finite():
    with pytest.raises(ValueError, match="never change"):
        ar1_posterior(np.arange(6.0), np.full(6, 3.0), np.ones((6, 1)))
    times = np.arange(8.0)
    flag = (times >= 4).astype(float)
    post = ar1_posterior(times, 2.0 + 3.0 * flag, np.column_stack([np.ones(8), flag]))
    assert np.all(np.isfinite(post.weights))
    assert post.contrast(np.array([0.0, 1.0])).mean == pytest.approx(3.0)
