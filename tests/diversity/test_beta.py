"""Beta-diversity kernels: hand-computed values, scikit-bio references, properties."""

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
from gutaxis.diversity import _kernels_beta as K
from gutaxis.diversity import beta_diversity, beta_metrics, get_beta_metric
from gutaxis.diversity.beta import aitchison, braycurtis, jaccard, robust_aitchison
from gutaxis.exceptions import EmptySamplesError, InputError

REF = pathlib.Path(__file__).parent / "reference"
RTOL = 1e-12
ATOL = 1e-14
METRICS = {"braycurtis": braycurtis, "jaccard": jaccard, "aitchison": aitchison,
           "robust_aitchison": robust_aitchison}


def csr(rows) -> sp.csr_matrix:
    return sp.csr_matrix(np.asarray(rows, dtype=np.float64))


def assert_close(actual, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def assert_distance_matrix(d, n):
    assert d.shape == (n, n) and d.dtype == np.float64
    assert np.all(np.isfinite(d))
    assert np.array_equal(d, d.T)
    assert np.all(np.diag(d) == 0)
    assert np.all(d >= 0)


def read_lsmat(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{name}.lsmat", sep="\t", index_col=0)


def skbio_reference(metric: str, dense: np.ndarray, pseudocount: float | None = None
                    ) -> np.ndarray:
    from skbio.diversity import beta_diversity as skbeta
    from skbio.stats.composition import closure, clr, multi_replace, rclr

    if metric in ("braycurtis", "jaccard"):
        return skbeta(metric, dense, validate=False).data
    # scikit-bio's composition functions squeeze a one-feature table to one dimension (then
    # read as one sample): keep the samples × features shape
    if metric == "aitchison" and pseudocount is None:  # closure + multiplicative replacement
        return skbeta("euclidean", np.reshape(clr(multi_replace(closure(dense))), dense.shape),
                      validate=False).data
    if metric == "aitchison":  # QIIME 2's definition
        return skbeta("euclidean", np.reshape(clr(dense + pseudocount), dense.shape),
                      validate=False).data
    r = np.zeros_like(dense, dtype=np.float64)
    observed = dense.sum(axis=1) > 0  # scikit-bio's rclr refuses empty rows: they stay 0
    if observed.any():
        r[observed] = np.reshape(np.nan_to_num(rclr(dense[observed]), nan=0.0),
                                 (int(observed.sum()), dense.shape[1]))
    return skbeta("euclidean", r, validate=False).data


# --------------------------------------------------------------------------- registry
def test_registered_under_qiime2_names():
    assert {"braycurtis", "jaccard", "aitchison", "robust_aitchison"} <= set(beta_metrics())
    assert get_beta_metric("aitchison").options == ("pseudocount", "n_threads")
    for name in ("braycurtis", "jaccard", "robust_aitchison"):
        assert get_beta_metric(name).options == ("n_threads",)
        assert not get_beta_metric(name).needs_tree


# --------------------------------------------------------------------------- by hand
# a = [1, 2, 0], b = [0, 3, 4], c = [1, 2, 0] (= a), d = [2, 0, 0]
HAND = [[1, 2, 0], [0, 3, 4], [1, 2, 0], [2, 0, 0]]


def test_braycurtis_by_hand():
    # a–b: Σ|x−y| = 1 + 1 + 4 = 6, Σ(x+y) = 3 + 7 = 10 → 0.6
    # a–d: |1−2| + 2 + 0 = 3, 3 + 2 = 5 → 0.6;  b–d: 2 + 3 + 4 = 9, 7 + 2 = 9 → 1
    d = braycurtis(csr(HAND))
    expected = np.array([[0, .6, 0, .6], [.6, 0, .6, 1], [0, .6, 0, .6], [.6, 1, .6, 0]])
    assert_close(d, expected)
    assert d[0, 2] == 0.0  # identical samples: exactly 0


def test_jaccard_by_hand():
    # presence: a = {0,1}, b = {1,2}, d = {0}
    # a–b: |∩| = 1, |∪| = 3 → 2/3;  a–d: 1/2 → 1/2;  b–d: 0/3 → 1
    d = jaccard(csr(HAND))
    expected = np.array([[0, 2 / 3, 0, .5], [2 / 3, 0, 2 / 3, 1], [0, 2 / 3, 0, .5],
                         [.5, 1, .5, 0]])
    assert_close(d, expected)


def test_aitchison_by_hand():
    # x + 1: [1, 0] → [2, 1], [0, 1] → [1, 2];  clr = ±(ln 2)/2 · [1, −1]
    # distance = ‖ln 2 · [1, −1]‖ = √2 · ln 2
    d = aitchison(csr([[1, 0], [0, 1]]), pseudocount=1)
    assert_close(d[0, 1], np.sqrt(2) * np.log(2))
    # pseudocount 0.5: [1.5, .5] vs [.5, 1.5]: clr diff = ln 3 · [1, −1] → √2 · ln 3
    d = aitchison(csr([[1, 0], [0, 1]]), pseudocount=0.5)
    assert_close(d[0, 1], np.sqrt(2) * np.log(3))
    # three features: [3, 0, 0] + 1 = [4, 1, 1]:
    # clr = ln4 − (ln4)/3 = (2/3)ln4, −(1/3)ln4, −(1/3)ln4
    # vs [0, 0, 0] + 1 → clr 0:  d² = (4/9 + 1/9 + 1/9)(ln 4)² = (2/3)(ln 4)²
    d = aitchison(csr([[3, 0, 0], [0, 0, 0]]), pseudocount=1)
    assert_close(d[0, 1], np.sqrt(2 / 3) * np.log(4))


def test_aitchison_default_closes_and_replaces_zeros_by_hand():
    # m = 3, δ = 1/9.  [3, 0, 0] → (1, 0, 0) → (1 − 2/9, 1/9, 1/9) = (7/9, 1/9, 1/9);
    # [1, 1, 2] → (1/4, 1/4, 1/2), no zero.  clr difference = log ratios of the parts:
    # clr(a) − clr(b) = log(a/b) − mean(log(a/b)) with a/b = (28/9, 4/9, 2/9)
    d = aitchison(csr([[3, 0, 0], [1, 1, 2]]))
    r = np.log([28 / 9, 4 / 9, 2 / 9])
    assert_close(d[0, 1], np.linalg.norm(r - r.mean()))
    # the same compositions in any unit or depth: the same distances (QIIME 2's pseudocount
    # form moves with the unit)
    x = np.array([[3, 0, 0, 5], [1, 1, 2, 0], [0, 7, 1, 1]], dtype=np.float64)
    for scale in (1e-6, 0.01, 100.0, 1e6):
        assert_close(aitchison(sp.csr_matrix(x * scale)), aitchison(sp.csr_matrix(x)),
                     rtol=1e-12, atol=1e-13)
    frac, pct = x / x.sum(axis=1, keepdims=True), 100 * x / x.sum(axis=1, keepdims=True)
    qiime_frac = aitchison(sp.csr_matrix(frac), pseudocount=1)[0, 1]
    qiime_pct = aitchison(sp.csr_matrix(pct), pseudocount=1)[0, 1]
    assert qiime_pct > 9 * qiime_frac  # what the default avoids (6.46 vs 0.677)
    # a sample with no reads has no composition: refused by the default, by row
    with pytest.raises(EmptySamplesError, match=r"aitchison is undefined for a sample with no "
                                                 r"reads .* 1 sample\(s\) are empty \(rows 1\)"):
        aitchison(csr([[1, 2], [0, 0], [3, 0]]))


def test_robust_aitchison_by_hand():
    # rclr([1, 4, 0]) over observed: ln1, ln4 − mean = −ln2, +ln2, (0)
    # rclr([2, 2, 0]) = 0, 0, (0)  → d = √2 · ln 2
    # rclr([0, 0, 5]) = 0 (one observed feature);  rclr([1, 4, 0]) vs [0, 0, 5] → √2 · ln 2
    # rclr([8, 0, 2]) = ln4, ·, −ln4 (ln8 − ln4 = ln2·... : mean(ln8, ln2) = 2 ln2 → ±ln2)
    #   vs [1, 4, 0]: diff = (ln2 + ln2, 0 − ln2, −ln2 − 0) → d² = 4 + 1 + 1 = 6 (ln 2)²
    d = robust_aitchison(csr([[1, 4, 0], [2, 2, 0], [0, 0, 5], [8, 0, 2]]))
    ln2 = np.log(2)
    assert_close(d[0, 1], np.sqrt(2) * ln2)
    assert_close(d[0, 2], np.sqrt(2) * ln2)
    assert_close(d[1, 2], 0.0)
    assert_close(d[0, 3], np.sqrt(6) * ln2)


# --------------------------------------------------------------------------- empty samples
def test_braycurtis_one_empty_sample_is_at_distance_one():
    d = braycurtis(csr([[1, 2], [0, 0], [3, 0]]))
    assert d[0, 1] == 1.0 and d[2, 1] == 1.0


def test_braycurtis_two_empty_samples_refused():
    with pytest.raises(InputError, match=r"braycurtis is undefined between two empty samples "
                                         r"\(0/0\); 2 samples have no reads \(rows 1, 3\)"):
        braycurtis(csr([[1, 2], [0, 0], [3, 0], [0, 0]]))


def test_empty_samples_other_metrics():
    x = csr([[1, 2, 0], [0, 0, 0], [0, 0, 0], [2, 0, 0]])
    # jaccard: empty–empty 0 (scipy), empty–non-empty 1
    j = jaccard(x)
    assert j[1, 2] == 0.0 and j[0, 1] == 1.0
    # aitchison with QIIME 2's pseudocount: an empty sample is clr 0; two empty samples are at 0
    a = aitchison(x, pseudocount=1)
    assert a[1, 2] == 0.0
    assert_close(a, skbio_reference("aitchison", x.toarray(), pseudocount=1))
    # robust_aitchison: an empty sample has no observed part, no rclr — refused, by row (as a
    # zero vector it sat at distance 0 from every one-feature sample)
    with pytest.raises(EmptySamplesError, match=r"robust_aitchison is undefined for a sample "
                                                 r"with no reads .* 2 sample\(s\) are empty "
                                                 r"\(rows 1, 2\)"):
        robust_aitchison(x)
    assert robust_aitchison(csr([[1, 2, 0], [0, 0, 5]]))[0, 1] > 0


# --------------------------------------------------------------------------- references
def _reference_table() -> pd.DataFrame:
    table = pd.read_csv(REF / "table.tsv", sep="\t", index_col=0)
    return table.loc[table.sum(axis=1) > 0]


@pytest.mark.parametrize(("name", "func", "kwargs", "relative"), [
    ("braycurtis", braycurtis, {}, False),
    ("braycurtis_relative", braycurtis, {}, True),
    ("jaccard", jaccard, {}, False),
    ("aitchison", aitchison, {"pseudocount": 1}, False),  # QIIME 2's definition
    ("aitchison_pc0.5", aitchison, {"pseudocount": 0.5}, False),
    ("robust_aitchison", robust_aitchison, {}, False),
])
def test_matches_stored_scikit_bio_reference(name, func, kwargs, relative):
    table = _reference_table()
    x = table.to_numpy(dtype=np.float64)
    if relative:
        x = x / x.sum(axis=1, keepdims=True)
    expected = read_lsmat(name).loc[table.index, table.index].to_numpy()
    d = func(sp.csr_matrix(x), **kwargs)
    assert_distance_matrix(d, len(table))
    assert_close(d, expected)


def test_duplicate_sample_at_exactly_zero():
    table = _reference_table()
    x = sp.csr_matrix(table.to_numpy(dtype=np.float64))
    i, j = list(table.index).index("S02"), list(table.index).index("dup02")
    for func in METRICS.values():
        assert func(x)[i, j] == 0.0


def test_driver_returns_distance_matrix():
    table = _reference_table()
    study = Study(table.to_numpy(), table.index, table.columns)
    dm = beta_diversity(study, "aitchison", pseudocount=0.5, n_threads=1)
    assert dm.metric == "aitchison"
    assert list(dm.ids) == list(table.index)
    expected = read_lsmat("aitchison_pc0.5").loc[table.index, table.index].to_numpy()
    assert_close(dm.data, expected)


@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize("seed", [0, 1])
def test_live_scikit_bio_comparison(metric, seed):
    rng = np.random.default_rng(seed)
    n, m = 60, 90
    prevalence = rng.beta(0.5, 2.0, size=m)
    dense = (rng.negative_binomial(0.5, 0.01, size=(n, m)) + 1) * (rng.random((n, m)) < prevalence)
    dense[7] = dense[3]  # a duplicate
    dense[11, :] = 0
    dense[11, 5] = 4  # one feature only
    x = sp.csr_matrix(dense.astype(np.float64))
    assert_close(METRICS[metric](x), skbio_reference(metric, dense.astype(np.float64)))
    if metric == "braycurtis":  # relative abundances too
        rel = dense / dense.sum(axis=1, keepdims=True)
        assert_close(braycurtis(sp.csr_matrix(rel)), skbio_reference(metric, rel))


@pytest.mark.parametrize("metric", list(METRICS))
def test_code_paths_agree(metric, monkeypatch):
    """Many CSC stripes, the dense (tile) part, one thread, blocks: same numbers."""
    rng = np.random.default_rng(5)
    n, m = 150, 120
    prevalence = np.r_[np.full(30, 0.9), rng.beta(0.3, 3.0, size=m - 30)]
    dense = (rng.negative_binomial(0.5, 0.02, size=(n, m)) + 1) * (rng.random((n, m)) < prevalence)
    dense[41] = dense[100]  # a pair across the blocks below at exactly 0
    x = sp.csr_matrix(dense.astype(np.float64))
    expected = skbio_reference(metric, dense.astype(np.float64))
    func = METRICS[metric]

    def check_square_and_blocks() -> None:
        square = func(x)
        assert_close(square, expected)
        for n_rows in (1, 41, 77, n - 1):  # a tile of a blockwise matrix: the same numbers
            block = func(x, n_rows=n_rows)
            assert block.shape == (n_rows, n - n_rows)
            np.testing.assert_array_equal(block, square[:n_rows, n_rows:])
        assert func(x, n_rows=77)[41, 100 - 77] == 0

    check_square_and_blocks()
    assert_close(func(x, n_threads=1), expected)
    monkeypatch.setattr(K, "_SCRATCH_FLOOR", 1)
    monkeypatch.setattr(K, "_SCRATCH_SHARE", 1e-4)  # → many small stripes and 64-row tiles
    check_square_and_blocks()
    monkeypatch.setattr(K, "_MIN_DENSE", 1)
    monkeypatch.setattr(K, "_DENSE_SHARE", {K.MODE_MIN: 0.5, K.MODE_COUNT: 0.5,
                                            K.MODE_PRODUCT: 0.5})
    check_square_and_blocks()
    monkeypatch.setattr(K, "_DENSE_SHARE", {K.MODE_MIN: 0.0, K.MODE_COUNT: 0.0,
                                            K.MODE_PRODUCT: 0.0})
    check_square_and_blocks()


@pytest.mark.parametrize("n_rows", [0, 5, -1, 2.0, True, "2"])
@pytest.mark.parametrize("metric", list(METRICS))
def test_a_block_needs_rows_of_both_groups(metric, n_rows):
    with pytest.raises(InputError, match=rf"{metric}: n_rows must be an integer from 1 to 4"):
        METRICS[metric](csr(np.eye(5) + 1), n_rows=n_rows)


def test_non_integer_values_take_the_copy_path():
    """Relative abundances: the log metrics transform a copy instead of a lookup table."""
    table = _reference_table()
    counts = table.to_numpy(dtype=np.float64)
    rel = counts / counts.sum(axis=1, keepdims=True)
    # rclr is scale-invariant: the same distances from counts and from proportions
    assert_close(robust_aitchison(sp.csr_matrix(rel)), robust_aitchison(sp.csr_matrix(counts)),
                 rtol=1e-10, atol=1e-12)
    assert_close(aitchison(sp.csr_matrix(rel)), skbio_reference("aitchison", rel))
    assert_close(aitchison(sp.csr_matrix(rel)), aitchison(sp.csr_matrix(counts)),
                 rtol=1e-10, atol=1e-12)
    assert_close(aitchison(sp.csr_matrix(rel), pseudocount=1),
                 skbio_reference("aitchison", rel, pseudocount=1))
    assert_close(aitchison(sp.csr_matrix(counts * 2.5), pseudocount=2.5),
                 aitchison(sp.csr_matrix(counts), pseudocount=1), rtol=1e-10, atol=1e-12)


def test_large_counts_beyond_lookup_table():
    rng = np.random.default_rng(11)
    dense = rng.integers(0, 3, size=(25, 40)) * rng.integers(1, 10**7, size=(25, 40))
    x = sp.csr_matrix(dense.astype(np.float64))
    for metric in METRICS:
        assert_close(METRICS[metric](x), skbio_reference(metric, dense.astype(np.float64)))


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("pc", [0, -1, np.inf, np.nan, "1", True])
def test_pseudocount_must_be_positive(pc):
    with pytest.raises(InputError, match=r"`pseudocount` must be a number > 0; got"):
        aitchison(csr(HAND), pseudocount=pc)


@pytest.mark.parametrize("n_threads", [0, -1, 1.5, "2"])
def test_n_threads_must_be_positive_integer(n_threads):
    with pytest.raises(InputError, match=r"`n_threads` must be an integer ≥ 1; got"):
        braycurtis(csr(HAND), n_threads=n_threads)


def test_n_threads_above_available_is_capped():
    assert_close(jaccard(csr(HAND), n_threads=10_000), jaccard(csr(HAND)))


def test_negative_values_refused():
    with pytest.raises(InputError, match="abundances ≥ 0"):
        braycurtis(csr([[1, -1], [1, 1]]))


def test_tiny_tables():
    for func in METRICS.values():
        assert func(csr([[1, 2]])).shape == (1, 1)
        assert func(sp.csr_matrix((0, 3))).shape == (0, 0)


# --------------------------------------------------------------------------- properties
count_tables = hnp.arrays(
    np.int64,
    st.tuples(st.integers(2, 9), st.integers(1, 10)),
    elements=st.one_of(st.just(0), st.integers(0, 4), st.integers(0, 5_000)),
)


def _usable(table: np.ndarray, metric: str) -> bool:
    empty = int((table.sum(axis=1) == 0).sum())
    return {"braycurtis": empty < 2, "aitchison": empty == 0,
            "robust_aitchison": empty == 0}.get(metric, True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=count_tables, data=st.data(), metric=st.sampled_from(sorted(METRICS)))
def test_permutations(table, data, metric):
    if not _usable(table, metric):
        return
    func = METRICS[metric]
    d = func(sp.csr_matrix(table.astype(np.float64)))
    assert_distance_matrix(d, table.shape[0])
    fperm = data.draw(st.permutations(range(table.shape[1])))
    assert_close(func(sp.csr_matrix(table[:, fperm].astype(np.float64))), d,
                 rtol=1e-10, atol=1e-12)
    sperm = np.asarray(data.draw(st.permutations(range(table.shape[0]))))
    assert_close(func(sp.csr_matrix(table[sperm].astype(np.float64))), d[np.ix_(sperm, sperm)],
                 rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=count_tables, metric=st.sampled_from(sorted(METRICS)))
def test_bounds_and_identical_samples(table, metric):
    doubled = np.vstack([table, table[:1]])  # the first sample twice
    if not _usable(doubled, metric):
        return
    d = METRICS[metric](sp.csr_matrix(doubled.astype(np.float64)))
    n = doubled.shape[0]
    assert_distance_matrix(d, n)
    assert d[0, n - 1] == 0.0
    if metric in ("braycurtis", "jaccard"):
        assert np.all(d <= 1.0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=count_tables, metric=st.sampled_from(sorted(METRICS)))
def test_hypothesis_against_scikit_bio(table, metric):
    if not _usable(table, metric):
        return
    x = table.astype(np.float64)
    assert_close(METRICS[metric](sp.csr_matrix(x)), skbio_reference(metric, x),
                 rtol=1e-10, atol=1e-12)
