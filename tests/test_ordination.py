"""PCoA: against scikit-bio, against hand-computed configurations, edge cases."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
import skbio  # noqa: E402
from scipy.spatial.distance import pdist, squareform
from skbio.stats.ordination import pcoa as sk_pcoa  # noqa: E402

from gutaxis import DistanceMatrix
from gutaxis.exceptions import InputError
from gutaxis.ordination import OrdinationResult, pcoa


# ------------------------------------------------------------------- helpers
def _dm(data: np.ndarray, prefix: str = "s") -> DistanceMatrix:
    return DistanceMatrix([f"{prefix}{i}" for i in range(len(data))], data)


def _euclidean(n: int, p: int = 5, seed: int = 0) -> DistanceMatrix:
    x = np.random.default_rng(seed).normal(size=(n, p))
    return _dm(squareform(pdist(x)))


def _braycurtis(n: int, f: int = 30, seed: int = 0) -> DistanceMatrix:
    rng = np.random.default_rng(seed)
    x = rng.gamma(0.3, size=(n, f))
    x[rng.random(x.shape) < 0.6] = 0.0
    x[:, 0] += 0.01  # no empty sample
    return _dm(squareform(pdist(x, "braycurtis")))


def _skbio(dm: DistanceMatrix, dimensions: int = 0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skbio warns about dimensions=0 and negatives
        return sk_pcoa(dm.to_skbio(), dimensions=dimensions)


def _align(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """``theirs`` with each column's sign flipped to match ``ours``."""
    signs = np.sign(np.sum(ours * theirs, axis=0))
    signs[signs == 0] = 1.0
    return theirs * signs


def _assert_matches_skbio(res: OrdinationResult, sk, k: int, *, proportion: bool = True) -> None:
    ev = sk.eigvals.to_numpy()[:k]
    scale = ev[0]
    np.testing.assert_allclose(res.eigenvalues, ev, rtol=1e-6, atol=1e-9 * scale)
    if proportion:
        np.testing.assert_allclose(res.proportion_explained,
                                   sk.proportion_explained.to_numpy()[:k], rtol=1e-6, atol=1e-12)
    theirs = sk.samples.to_numpy()[:, :k]
    np.testing.assert_allclose(res.coordinates, _align(res.coordinates, theirs),
                               rtol=1e-6, atol=1e-6 * np.sqrt(scale))


# ------------------------------------------------------------ vs scikit-bio
@pytest.mark.parametrize("method", ["eigh", "eigsh", "auto"])
@pytest.mark.parametrize("n", [25, 450])
def test_euclidean_matches_skbio(method: str, n: int) -> None:
    # (few dimensions: a rank-deficient matrix with a large cluster of zero eigenvalues;
    # kept small, as threaded OpenBLAS can be very slow on such clusters)
    dm = _euclidean(n, p=6 if n < 100 else 60, seed=n)
    res = pcoa(dm, n_components=4, method=method)
    assert res.method in ("eigh", "eigsh")
    # Euclidean: no negative eigenvalues, so both of skbio's conventions agree
    _assert_matches_skbio(res, _skbio(dm), 4)
    _assert_matches_skbio(res, _skbio(dm, dimensions=4), 4)
    assert res.smallest_eigenvalue == pytest.approx(0.0, abs=1e-9 * res.eigenvalues[0])
    assert list(res.ids) == list(dm.ids)


@pytest.mark.parametrize("method", ["eigh", "eigsh"])
def test_braycurtis_matches_skbio_with_negative_eigenvalues(method: str) -> None:
    dm = _braycurtis(60, seed=3)
    with pytest.warns(RuntimeWarning, match="^PCoA: the distances are not Euclidean"):
        res = pcoa(dm, n_components=5, method=method)
    named = dataclasses.replace(dm, metric="braycurtis")  # the warning says which matrix
    with pytest.warns(RuntimeWarning, match="^PCoA of braycurtis: the distances are not"):
        pcoa(named, n_components=5, method=method)
    # skbio with ``dimensions`` divides by the trace, as we always do
    _assert_matches_skbio(res, _skbio(dm, dimensions=5), 5)
    full = _skbio(dm)
    _assert_matches_skbio(res, full, 5, proportion=False)
    # the denominators: trace (= sum of all eigenvalues) vs skbio's default
    # (= sum of the non-negative ones, its negatives being zeroed)
    eig = _centred_eigenvalues(dm)
    assert eig[0] < -0.01 * eig[-1]  # really non-Euclidean
    assert res.total_inertia == pytest.approx(eig.sum(), rel=1e-10)
    np.testing.assert_allclose(full.proportion_explained.to_numpy()[:5],
                               res.eigenvalues / eig[eig > 0].sum(), rtol=1e-8)
    assert res.smallest_eigenvalue == pytest.approx(eig[0], rel=1e-5)


def _centred_eigenvalues(dm: DistanceMatrix) -> np.ndarray:
    b = -0.5 * dm.data**2
    b -= b.mean(axis=0)
    b -= b.mean(axis=1)[:, None]
    return np.linalg.eigvalsh(b)


def test_smallest_eigenvalue_estimate() -> None:
    # > 400 samples with Lanczos: the smallest eigenvalue is estimated from above,
    # to a tenth of the warning threshold (times the largest eigenvalue)
    dm = _braycurtis(450, seed=12)
    eig = _centred_eigenvalues(dm)
    with pytest.warns(RuntimeWarning, match="not Euclidean"):
        fine = pcoa(dm, method="eigsh", warn_negative=True)
    assert fine.smallest_eigenvalue == pytest.approx(eig[0], abs=1e-7 * eig[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coarse = pcoa(dm, method="eigsh", warn_negative=0.5)
    assert eig[0] - 1e-9 * eig[-1] <= coarse.smallest_eigenvalue <= eig[0] + 2e-3 * eig[-1]


def test_axes_with_negative_eigenvalues_are_zero_like_skbio() -> None:
    dm = _braycurtis(12, f=8, seed=5)
    res = pcoa(dm, n_components=12, method="eigh", warn_negative=False)
    sk = _skbio(dm, dimensions=12)
    np.testing.assert_allclose(res.eigenvalues, sk.eigvals.to_numpy(), atol=1e-10)
    negative = res.eigenvalues == 0
    assert negative.any() and not negative.all()
    assert np.all(res.coordinates[:, negative] == 0)
    assert np.all(res.proportion_explained[negative] == 0)
    pos = ~negative
    np.testing.assert_allclose(res.coordinates[:, pos],
                               _align(res.coordinates[:, pos], sk.samples.to_numpy()[:, pos]),
                               atol=1e-8)


def test_all_positive_axes() -> None:
    # 10 points in the plane: exactly two positive eigenvalues
    x = np.random.default_rng(1).normal(size=(10, 2))
    dm = _dm(squareform(pdist(x)))
    res = pcoa(dm, n_components=None)
    assert res.n_components == 2 and res.method == "eigh"
    _assert_matches_skbio(res, _skbio(dm), 2)
    assert res.proportion_explained.sum() == pytest.approx(1.0)
    # the coordinates reproduce the distances exactly
    np.testing.assert_allclose(squareform(pdist(res.coordinates)), dm.data, atol=1e-12)


def test_eigsh_and_eigh_agree() -> None:
    dm = _braycurtis(300, seed=11)
    a = pcoa(dm, n_components=6, method="eigsh", warn_negative=False)
    b = pcoa(dm, n_components=6, method="eigh", warn_negative=False)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-10)
    # same deterministic sign convention, so no alignment needed
    np.testing.assert_allclose(a.coordinates, b.coordinates, atol=1e-8)
    np.testing.assert_allclose(a.proportion_explained, b.proportion_explained, rtol=1e-10)


# ---------------------------------------------------------- by hand
def test_points_on_a_line() -> None:
    # x = 0, 1, 3: centred coordinates -4/3, -1/3, 5/3; eigenvalue Σ(x - x̄)² = 42/9
    x = np.array([0.0, 1.0, 3.0])
    dm = DistanceMatrix(["a", "b", "c"], np.abs(x[:, None] - x[None, :]))
    res = pcoa(dm, n_components=3)
    np.testing.assert_allclose(res.eigenvalues, [14 / 3, 0, 0], atol=1e-12)
    # the largest |coordinate| (c) is positive by the sign convention
    np.testing.assert_allclose(res.coordinates[:, 0], [-4 / 3, -1 / 3, 5 / 3], atol=1e-12)
    np.testing.assert_allclose(res.coordinates[:, 1:], 0, atol=1e-12)
    # total inertia Σ_{i<j} d²/n = (1 + 9 + 4)/3 = 14/3: one axis explains all
    assert res.total_inertia == pytest.approx(14 / 3)
    np.testing.assert_allclose(res.proportion_explained, [1, 0, 0], atol=1e-12)


def test_right_triangle() -> None:
    # points (0,0), (3,0), (0,4): sides 3, 4, 5
    d = np.array([[0, 3, 4], [3, 0, 5], [4, 5, 0]], dtype=float)
    res = pcoa(DistanceMatrix(["p", "q", "r"], d), n_components=2)
    # centred points (-1,-4/3), (2,-4/3), (-1,8/3): scatter matrix [[6, -4], [-4, 32/3]],
    # trace 50/3, determinant 48, eigenvalues (50 ± √772)/6
    lam = np.array([(50 + np.sqrt(772)) / 6, (50 - np.sqrt(772)) / 6])
    np.testing.assert_allclose(res.eigenvalues, lam, rtol=1e-12)
    assert res.total_inertia == pytest.approx(50 / 3)  # (9 + 16 + 25)/3
    np.testing.assert_allclose(res.proportion_explained, lam / (50 / 3), rtol=1e-12)
    np.testing.assert_allclose(squareform(pdist(res.coordinates)), d, atol=1e-12)
    assert np.abs(res.coordinates.sum(axis=0)).max() < 1e-12  # centred


def test_sign_convention() -> None:
    res = pcoa(_euclidean(40, seed=2), n_components=3, method="eigh")
    c = res.coordinates
    for j in range(3):
        mag = np.abs(c[:, j])
        first = np.flatnonzero(mag >= (1 - 1e-6) * mag.max())[0]
        assert c[first, j] > 0


def test_small_distances_are_not_zeroed() -> None:
    # scikit-bio zeroes eigenvalues below an absolute 1e-8; ours is relative
    dm = _euclidean(20, seed=4)
    small = DistanceMatrix(dm.ids, dm.data * 1e-6)
    a = pcoa(dm, n_components=3)
    b = pcoa(small, n_components=3)
    np.testing.assert_allclose(b.eigenvalues, a.eigenvalues * 1e-12, rtol=1e-8)
    np.testing.assert_allclose(b.coordinates, a.coordinates * 1e-6, rtol=1e-6, atol=1e-16)


def test_zero_matrix() -> None:
    res = pcoa(_dm(np.zeros((4, 4))), n_components=2)
    assert res.coordinates.shape == (4, 2) and not res.coordinates.any()
    assert res.total_inertia == 0 and not res.proportion_explained.any()


def test_fortran_ordered_input() -> None:
    dm = _euclidean(15, seed=6)
    f_dm = DistanceMatrix(dm.ids, np.asfortranarray(dm.data))
    np.testing.assert_array_equal(pcoa(f_dm).coordinates, pcoa(dm).coordinates)


def test_warning_control() -> None:
    dm = _braycurtis(40, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = pcoa(dm, warn_negative=False, method="eigsh")
        assert np.isnan(res.smallest_eigenvalue)
        quiet = pcoa(dm, warn_negative=0.9)  # estimate computed, under threshold
        assert quiet.smallest_eigenvalue < 0
    with pytest.warns(RuntimeWarning, match="most negative eigenvalue"):
        pcoa(dm, warn_negative=True)


# ---------------------------------------------------------- conversions
def test_to_dataframe_and_skbio() -> None:
    dm = _euclidean(8, seed=9)
    res = pcoa(dm, n_components=2)
    df = res.to_dataframe()
    assert list(df.columns) == ["PC1", "PC2"] and df.index.name == "sample_id"
    assert list(df.index) == list(dm.ids)
    sk = res.to_skbio()
    assert isinstance(sk, skbio.OrdinationResults) and sk.short_method_name == "PCoA"
    pd.testing.assert_frame_equal(sk.samples, pd.DataFrame(res.coordinates, index=list(dm.ids),
                                                           columns=["PC1", "PC2"]))
    np.testing.assert_array_equal(sk.eigvals.to_numpy(), res.eigenvalues)
    np.testing.assert_array_equal(sk.proportion_explained.to_numpy(), res.proportion_explained)


# ---------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": 0}, r"between 1 and the number of samples \(5\); got 0"),
        ({"n_components": 6}, r"between 1 and the number of samples \(5\); got 6"),
        ({"n_components": 2.5}, "must be an integer or None"),
        ({"n_components": True}, "must be an integer or None"),
        ({"method": "svd"}, "unknown PCoA method 'svd'; valid methods are: auto, eigh, eigsh"),
        ({"method": "eigsh", "n_components": 4}, "Use method='eigh'"),
        ({"warn_negative": 2.0}, r"fraction in \[0, 1\]"),
    ],
)
def test_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        pcoa(_euclidean(5), **kwargs)


def test_error_inputs() -> None:
    with pytest.raises(InputError, match="takes a gutaxis DistanceMatrix"):
        pcoa(np.zeros((3, 3)))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="at least 2 samples"):
        pcoa(_dm(np.zeros((1, 1))))
