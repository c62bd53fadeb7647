"""Alpha-diversity kernels: hand-computed values, scikit-bio references, properties."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gutaxis import Study
from gutaxis.diversity import alpha_diversity, alpha_metrics, get_alpha_metric
from gutaxis.diversity.alpha import (
    chao1,
    observed_features,
    pielou_evenness,
    shannon_entropy,
    simpson,
)
from gutaxis.exceptions import InputError

REF = pathlib.Path(__file__).parent / "reference"
RTOL = 1e-12
ATOL = 1e-14


def csr(rows) -> sp.csr_matrix:
    return sp.csr_matrix(np.asarray(rows, dtype=np.float64))


def assert_close(actual, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=rtol, atol=atol, equal_nan=True)


# --------------------------------------------------------------------------- registry
def test_registered_under_qiime2_names():
    names = set(alpha_metrics())
    assert {"observed_features", "shannon_entropy", "simpson", "chao1",
            "pielou_evenness"} <= names
    assert get_alpha_metric("chao1").needs_counts
    assert get_alpha_metric("shannon_entropy").options == ("base",)
    assert not get_alpha_metric("simpson").needs_counts


# --------------------------------------------------------------------------- by hand
# Table used below (rows = samples):
#   a = [1, 1, 2, 4]  N = 8,  p = 1/8, 1/8, 1/4, 1/2
#   b = [5, 0, 0, 0]  one feature
#   c = [0, 0, 0, 0]  empty
#   d = [2, 2, 0, 0]  two equal features
HAND = [[1, 1, 2, 4], [5, 0, 0, 0], [0, 0, 0, 0], [2, 2, 0, 0]]


def test_observed_features_by_hand():
    # non-zeros per row: 4, 1, 0, 2
    assert_close(observed_features(csr(HAND)), [4, 1, 0, 2])


def test_shannon_by_hand():
    # a: −Σ p log2 p = 1/8·3 + 1/8·3 + 1/4·2 + 1/2·1 = 0.375 + 0.375 + 0.5 + 0.5 = 1.75 bits
    # b: p = 1 → 0;  c: empty → NaN (scikit-bio);  d: p = ½, ½ → 1 bit
    assert_close(shannon_entropy(csr(HAND)), [1.75, 0.0, np.nan, 1.0])
    # base e: 1.75 bits × ln 2 nats;  base 4: 1.75 / 2 = 0.875
    assert_close(shannon_entropy(csr(HAND), base=np.e), [1.75 * np.log(2), 0, np.nan, np.log(2)])
    assert_close(shannon_entropy(csr(HAND), base=4), [0.875, 0, np.nan, 0.5])


def test_simpson_by_hand():
    # a: 1 − (1/64 + 1/64 + 4/64 + 16/64) = 1 − 22/64 = 0.65625
    # b: 1 − 1 = 0;  c: NaN;  d: 1 − (1/4 + 1/4) = 0.5
    assert_close(simpson(csr(HAND)), [0.65625, 0.0, np.nan, 0.5])


def test_chao1_by_hand():
    # a: S=4, F1=2, F2=1 → corrected 4 + 2·1/(2·2) = 4.5; classic 4 + 2²/(2·1) = 6
    # b: S=1, no singletons → 1;  c: empty → 0;  d: S=2, F1=0, F2=2 → 2
    # e = [1, 1, 1]: S=3, F1=3, F2=0 → corrected 3 + 3·2/(2·1) = 6; classic has no F2 → 6
    rows = HAND + [[1, 1, 1, 0]]
    assert_close(chao1(csr(rows)), [4.5, 1, 0, 2, 6])
    assert_close(chao1(csr(rows), bias_corrected=False), [6, 1, 0, 2, 6])


def test_pielou_by_hand():
    # a: H = 1.75 bits, Hmax = log2 4 = 2 → 0.875
    # b: one feature → 1.0 (scikit-bio ≥ 0.6);  c: empty → NaN;  d: 1 bit / log2 2 = 1
    assert_close(pielou_evenness(csr(HAND)), [0.875, 1.0, np.nan, 1.0])


def test_relative_abundances_give_the_same_proportion_metrics():
    x = csr(HAND)
    totals = np.asarray(x.sum(axis=1)).ravel()
    rel = sp.csr_matrix(sp.diags(np.divide(1, totals, out=np.zeros(4), where=totals > 0)) @ x)
    for f in (shannon_entropy, simpson, pielou_evenness, observed_features):
        assert_close(f(rel), f(x))


def test_explicit_zeros_are_ignored():
    # HAND with a stored 0 at row d, column 3
    data = [1, 1, 2, 4, 5, 2, 2, 0]
    indices = [0, 1, 2, 3, 0, 0, 1, 3]
    indptr = [0, 4, 5, 5, 8]
    y = sp.csr_matrix((np.asarray(data, float), indices, indptr), shape=(4, 4))
    assert y.nnz == 8
    for f in (observed_features, shannon_entropy, simpson, chao1, pielou_evenness):
        assert_close(f(y), f(csr(HAND)))


# --------------------------------------------------------------------------- references
def _reference():
    table = pd.read_csv(REF / "table.tsv", sep="\t", index_col=0)
    expected = pd.read_csv(REF / "alpha.tsv", sep="\t", index_col=0)
    return table, expected


@pytest.mark.parametrize(("column", "func", "kwargs"), [
    ("observed_features", observed_features, {}),
    ("shannon_entropy", shannon_entropy, {}),
    ("shannon_e", shannon_entropy, {"base": np.e}),
    ("simpson", simpson, {}),
    ("chao1", chao1, {}),
    ("chao1_uncorrected", chao1, {"bias_corrected": False}),
    ("pielou_evenness", pielou_evenness, {}),
])
def test_matches_stored_scikit_bio_reference(column, func, kwargs):
    table, expected = _reference()
    got = func(sp.csr_matrix(table.to_numpy(dtype=np.float64)), **kwargs)
    assert_close(got, expected.loc[table.index, column].to_numpy())


def test_driver_on_reference_study():
    table, expected = _reference()
    study = Study(table.to_numpy(), table.index, table.columns)
    names = ["observed_features", "shannon_entropy", "simpson", "chao1", "pielou_evenness"]
    frame = alpha_diversity(study, names)
    assert list(frame.columns) == names
    assert list(frame.index) == list(table.index)
    for name in names:
        assert_close(frame[name].to_numpy(), expected[name].to_numpy())


def test_driver_refuses_chao1_on_relative_abundances():
    table, _ = _reference()
    study = Study(table.to_numpy(), table.index, table.columns).relative()
    with pytest.raises(InputError, match="chao1 cannot be computed on .*: defined on read counts"):
        alpha_diversity(study, ["chao1"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_live_scikit_bio_comparison(seed):
    from skbio.diversity import alpha as skalpha

    rng = np.random.default_rng(seed)
    dense = rng.negative_binomial(0.3, 0.05, size=(40, 60)) * (rng.random((40, 60)) < 0.4)
    dense[3] = 0
    dense[5] = 0
    dense[5, 10] = 3
    x = sp.csr_matrix(dense.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = {
            "observed": [skalpha.observed_features(r) for r in dense],
            "shannon": [skalpha.shannon(r, base=2) for r in dense],
            "simpson": [skalpha.simpson(r) for r in dense],
            "chao1": [skalpha.chao1(r) for r in dense],
            "chao1_u": [skalpha.chao1(r, bias_corrected=False) for r in dense],
            "pielou": [skalpha.pielou_e(r) for r in dense],
        }
    assert_close(observed_features(x), ref["observed"])
    assert_close(shannon_entropy(x), ref["shannon"])
    assert_close(simpson(x), ref["simpson"])
    assert_close(chao1(x), ref["chao1"])
    assert_close(chao1(x, bias_corrected=False), ref["chao1_u"])
    assert_close(pielou_evenness(x), ref["pielou"])


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("base", [1, 0, -2, np.nan, "2", True])
def test_shannon_base_must_be_valid(base):
    with pytest.raises(InputError, match=r"`base` must be a number > 0 and ≠ 1; got"):
        shannon_entropy(csr(HAND), base=base)


def test_negative_values_refused():
    with pytest.raises(InputError, match="abundances ≥ 0"):
        simpson(csr([[1, -1]]))


# --------------------------------------------------------------------------- properties
count_tables = hnp.arrays(
    np.int64,
    st.tuples(st.integers(1, 8), st.integers(1, 12)),
    elements=st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 10_000)),
)

ALL = (observed_features, shannon_entropy, simpson, chao1, pielou_evenness)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=count_tables, data=st.data())
def test_feature_permutation_leaves_every_metric_unchanged(table, data):
    perm = data.draw(st.permutations(range(table.shape[1])))
    x = sp.csr_matrix(table.astype(np.float64))
    y = sp.csr_matrix(table[:, perm].astype(np.float64))
    for f in ALL:
        assert_close(f(y), f(x), rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(table=count_tables)
def test_bounds(table):
    x = sp.csr_matrix(table.astype(np.float64))
    nonempty = table.sum(axis=1) > 0
    s = simpson(x)
    assert np.all(np.isnan(s[~nonempty]))
    assert np.all((s[nonempty] >= 0) & (s[nonempty] < 1))
    j = pielou_evenness(x)
    assert np.all((j[nonempty] >= 0) & (j[nonempty] <= 1 + 1e-12))
    h = shannon_entropy(x)
    obs = observed_features(x)
    # 0 ≤ H ≤ log2 S
    with np.errstate(divide="ignore"):
        assert np.all(h[nonempty] <= np.log2(obs[nonempty]) + 1e-12)
    assert np.all(h[nonempty] >= 0)
    assert np.all(chao1(x) >= obs)
