"""PERMDISP: against scikit-bio, an independent reference, by hand, by enumeration."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import scipy.optimize
import scipy.stats
from scipy.spatial.distance import pdist, squareform
from skbio.stats.distance import permdisp as sk_permdisp  # noqa: E402

from gutaxis import DistanceMatrix
from gutaxis.exceptions import InputError, NotFoundError
from gutaxis.ordination import pcoa
from gutaxis.stats._results import TestResult
from gutaxis.stats.permdisp import permdisp


def _dm(data: np.ndarray) -> DistanceMatrix:
    return DistanceMatrix([f"s{i}" for i in range(len(data))], data)


def _random_dm(n: int, seed: int, metric: str = "braycurtis") -> DistanceMatrix:
    rng = np.random.default_rng(seed)
    x = rng.gamma(0.5, size=(n, 20))
    x[:, 0] += 0.01
    x[: n // 2] *= rng.gamma(2.0, size=(n // 2, 1))  # uneven depths: uneven spreads
    return _dm(squareform(pdist(x, metric)))


def _groups(n: int, g: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 100)
    return rng.choice([f"g{k}" for k in range(g)], size=n)


def _sk(dm: DistanceMatrix, groups, **kwargs):
    kwargs.setdefault("dimensions", len(dm))
    with warnings.catch_warnings():  # scikit-bio's own chatter (eigenvalues, dimensions)
        warnings.simplefilter("ignore")
        return sk_permdisp(dm.to_skbio(), groups, warn_neg_eigval=False, **kwargs)


def _reference_distances(d: np.ndarray, groups: np.ndarray, test: str) -> np.ndarray:
    """Distances to group centres straight from the definition (numpy/scipy only).

    Gower-centre the squared distances, keep the axes with positive eigenvalues,
    take each group's centroid or (by BFGS on the sum of distances) spatial median.
    """
    n = len(d)
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ (d**2) @ j
    w, v = scipy.linalg.eigh(b)
    keep = w > 1e-10 * w.max()
    x = v[:, keep] * np.sqrt(w[keep])
    z = np.empty(n)
    for lab in np.unique(groups):
        pts = x[groups == lab]
        centre = pts.mean(axis=0)
        if test == "median":
            def total(y, pts=pts):
                return np.linalg.norm(pts - y, axis=1).sum()

            def grad(y, pts=pts):
                diff = pts - y
                return -(diff / np.linalg.norm(diff, axis=1)[:, None]).sum(axis=0)

            centre = scipy.optimize.minimize(total, centre, jac=grad, method="BFGS",
                                             options={"gtol": 1e-13, "maxiter": 10_000}).x
        z[groups == lab] = np.linalg.norm(pts - centre, axis=1)
    return z


def _reference_f(d: np.ndarray, groups: np.ndarray, test: str = "centroid") -> float:
    z = _reference_distances(d, groups, test)
    return float(scipy.stats.f_oneway(*[z[groups == lab] for lab in np.unique(groups)])[0])


class _Enumerating(np.random.Generator):
    """A Generator whose ``shuffle`` applies the given permutations in turn."""

    def __init__(self, perms) -> None:
        super().__init__(np.random.PCG64(0))
        self._perms = iter(perms)

    def shuffle(self, x, axis=0) -> None:  # type: ignore[override]
        x[:] = x[list(next(self._perms))]


# ------------------------------------------------------------ vs scikit-bio
@pytest.mark.parametrize("test", ["centroid", "median"])
@pytest.mark.parametrize(("n", "g", "seed", "metric"), [
    (30, 2, 0, "braycurtis"), (57, 3, 1, "braycurtis"), (120, 4, 2, "braycurtis"),
    (45, 2, 3, "euclidean"), (60, 3, 4, "cityblock"),
])
def test_matches_skbio(n: int, g: int, seed: int, metric: str, test: str) -> None:
    dm = _random_dm(n, seed, metric)
    groups = _groups(n, g, seed)
    ours = permdisp(dm, groups, permutations=199, seed=seed, test=test)
    theirs = _sk(dm, groups, permutations=199, seed=seed, test=test)
    # the centroid agrees to rounding; the median as far as scikit-bio's
    # Weiszfeld iteration (stopped at an absolute step of 1e-7) converges
    rtol = 1e-11 if test == "centroid" else 2e-6
    assert ours.statistic == pytest.approx(theirs["test statistic"], rel=rtol)
    # the same permutations, drawn as scikit-bio draws them: the same p
    assert ours.p_value == theirs["p-value"]
    assert ours.n == theirs["sample size"] and ours.n_groups == theirs["number of groups"]
    # and against the definition, computed independently
    ref = _reference_f(dm.data, groups, test)
    assert ours.statistic == pytest.approx(ref, rel=1e-11 if test == "centroid" else 1e-8)


def test_bray_curtis_has_negative_eigenvalues() -> None:
    # the matrices above exercise the non-Euclidean case
    assert pcoa(_random_dm(57, 1), n_components=None, warn_negative=False).smallest_eigenvalue < 0


@pytest.mark.parametrize("test", ["centroid", "median"])
def test_matches_skbio_default_dimensions(test: str) -> None:
    # scikit-bio keeps 10 PCoA axes unless told otherwise; n_components=10 is that
    dm = _random_dm(80, 5)
    groups = _groups(80, 3, 5)
    ours = permdisp(dm, groups, permutations=99, seed=2, test=test, n_components=10)
    theirs = _sk(dm, groups, permutations=99, seed=2, test=test, dimensions=10)
    assert ours.extra["n_axes"] == 10
    rtol = 1e-11 if test == "centroid" else 2e-6
    assert ours.statistic == pytest.approx(theirs["test statistic"], rel=rtol)
    assert ours.p_value == theirs["p-value"]
    full = permdisp(dm, groups, permutations=0, test=test)
    assert full.statistic != pytest.approx(ours.statistic, rel=1e-3)


@pytest.mark.parametrize("test", ["centroid", "median"])
def test_p_values_close_to_skbio_with_other_seeds(test: str) -> None:
    dm = _random_dm(40, 6)
    groups = np.repeat(["a", "b"], 20)
    ours = permdisp(dm, groups, permutations=3999, seed=1, test=test)
    theirs = _sk(dm, groups, permutations=3999, seed=2, test=test)
    # two estimates of the same p (sd ≤ 0.008 each)
    assert abs(ours.p_value - theirs["p-value"]) < 0.04


# ---------------------------------------------------------- by hand
def test_points_on_a_line_by_hand() -> None:
    # u at 0, 1, 2 (centre 1), v at 10, 13, 16 (centre 13); in one dimension the
    # spatial median is the median, here equal to the centroid.
    # z = 1, 0, 1 | 3, 0, 3; means 2/3 and 2; grand mean 4/3
    # SS_between = 3 (2/3)² + 3 (2/3)² = 8/3; SS_within = 2/3 + 6 = 20/3
    # F = (8/3 / 1) / (20/3 / 4) = 1.6; η² = (8/3) / (28/3) = 2/7
    x = np.array([0.0, 1.0, 2.0, 10.0, 13.0, 16.0])
    dm = DistanceMatrix(list("abcdef"), np.abs(x[:, None] - x[None, :]))
    for test in ("centroid", "median"):
        res = permdisp(dm, pd.Series(list("uuuvvv"), index=list("abcdef")), permutations=0,
                       test=test)  # type: ignore[arg-type]
        assert res.statistic == pytest.approx(1.6, rel=1e-12)
        assert res.effect_size == pytest.approx(2 / 7, rel=1e-12)
        assert res.extra["mean_distance"]["u"] == pytest.approx(2 / 3, rel=1e-12)
        assert res.extra["mean_distance"]["v"] == pytest.approx(2.0, rel=1e-12)
        assert res.extra["group_sizes"] == {"u": 3, "v": 3}
        assert res.extra["test"] == test and res.extra["n_axes"] == 1
        assert (res.extra["df_between"], res.extra["df_within"]) == (1, 4)
        assert math.isnan(res.p_value) and res.permutations == 0
    assert (res.method, res.statistic_name, res.effect_size_name) == ("PERMDISP", "F",
                                                                      "eta_squared")


def test_spatial_median_of_a_triangle_with_a_wide_angle() -> None:
    # the angle at (0, 0) exceeds 120°, so the spatial median is that vertex:
    # distances 0, 1, 1 (the centroid would give other distances)
    pts = np.array([[0.0, 0.0], [1.0, 0.2], [-1.0, 0.2], [10.0, 0.0], [10.0, 3.0],
                    [13.0, 0.0]])
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    dm = _dm(squareform(pdist(pts)))
    res = permdisp(dm, groups, permutations=0, test="median")
    r = math.hypot(1.0, 0.2)
    assert res.extra["mean_distance"]["a"] == pytest.approx(2 * r / 3, rel=1e-9)
    z = _reference_distances(dm.data, groups, "median")
    assert res.extra["mean_distance"]["b"] == pytest.approx(z[3:].mean(), rel=1e-9)


def test_p_value_by_full_enumeration() -> None:
    # n = 6 in groups of 2 and 4: the 720 relabellings fall on the 15 ways of
    # choosing the pair, 48 relabellings each: p = (48·m + 1)/721 with m the
    # number of pairs whose F is at least the observed one.
    rng = np.random.default_rng(7)
    dm = _dm(squareform(pdist(rng.normal(size=(6, 3)))))
    groups = np.array([0, 0, 1, 1, 1, 1])
    f_obs = _reference_f(dm.data, groups)
    m = 0
    for pair in itertools.combinations(range(6), 2):
        g = np.ones(6, dtype=int)
        g[list(pair)] = 0
        m += _reference_f(dm.data, g) >= f_obs * (1 - 1e-12)
    perms = list(itertools.permutations(range(6)))
    for test in ("centroid", "median"):
        res = permdisp(dm, groups, permutations=len(perms), seed=_Enumerating(perms), test=test)
        if test == "centroid":
            assert 1 <= m < 15
            assert res.p_value == pytest.approx((48 * m + 1) / 721, abs=1e-15)
        else:  # the median of 2 points is any point between them: only check the range
            assert 1 / 721 <= res.p_value <= 1


def test_ties_from_relabelled_partitions_count() -> None:
    # two groups of 3 on a line: swapping the labels gives the same partition
    # and an equal F, which rounding must not break.
    x = np.array([0.0, 0.3, 0.7, 5.0, 6.2, 9.9])
    dm = _dm(np.abs(x[:, None] - x[None, :]))
    groups = np.array([0, 0, 0, 1, 1, 1])
    fs = []
    for trio in itertools.combinations(range(6), 3):
        g = np.ones(6, dtype=int)
        g[list(trio)] = 0
        fs.append(_reference_f(dm.data, g))
    f_obs = _reference_f(dm.data, groups)
    m = sum(f >= f_obs * (1 - 1e-12) for f in fs)  # of 20 labelled splits (10 partitions × 2)
    perms = list(itertools.permutations(range(6)))
    res = permdisp(dm, groups, permutations=len(perms), seed=_Enumerating(perms))
    # each labelled split comes from 3!·3! = 36 of the 720 relabellings
    assert m >= 2
    assert res.p_value == pytest.approx((36 * m + 1) / 721, abs=1e-15)


# ---------------------------------------------------------- behaviour
def test_seed_reproducibility_and_series_alignment() -> None:
    dm = _random_dm(40, 1)
    groups = np.tile(["x", "y"], 20)
    a = permdisp(dm, groups, permutations=199, seed=42)
    assert a == permdisp(dm, groups, permutations=199, seed=42)
    assert len({permdisp(dm, groups, permutations=99, seed=s).p_value for s in range(6)}) > 1
    series = pd.Series(groups, index=dm.ids, name="diet")
    shuffled = series.sample(frac=1.0, random_state=0)
    extra = pd.concat([shuffled, pd.Series(["z"], index=["not-in-dm"])])
    for grouping in (series, shuffled, extra):
        res = permdisp(dm, grouping, permutations=199, seed=42)
        assert res.statistic == a.statistic and res.p_value == a.p_value
    assert permdisp(dm, series, permutations=0).extra["grouping"] == "diet"
    unseeded = permdisp(dm, groups, permutations=19)
    assert unseeded.statistic == a.statistic and 0 < unseeded.p_value <= 1


@pytest.mark.parametrize("test", ["centroid", "median"])
def test_sample_order_does_not_matter(test: str) -> None:
    dm = _random_dm(35, 9)
    groups = pd.Series(_groups(35, 3, 9), index=dm.ids)
    order = np.random.default_rng(0).permutation(35)
    shuffled = dm.subset(list(dm.ids[order]))
    a = permdisp(dm, groups, permutations=0, test=test)
    b = permdisp(shuffled, groups, permutations=0, test=test)
    assert b.statistic == pytest.approx(a.statistic, rel=1e-9)
    for lab, mean in a.extra["mean_distance"].items():
        assert b.extra["mean_distance"][lab] == pytest.approx(mean, rel=1e-9)


def test_degenerate_spreads() -> None:
    # every sample on its group's centre: all distances 0 → F undefined
    d = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]], dtype=float)
    res = permdisp(_dm(d), [0, 0, 1, 1], permutations=9, seed=0)
    assert math.isnan(res.statistic) and math.isnan(res.p_value)
    # equal spreads within groups, different between: F infinite
    x = np.array([0.0, 2.0, 10.0, 14.0])
    res = permdisp(_dm(np.abs(x[:, None] - x[None, :])), [0, 0, 1, 1], permutations=0)
    assert res.statistic == math.inf and res.effect_size == 1.0
    # all distances zero
    res = permdisp(_dm(np.zeros((4, 4))), [0, 0, 1, 1], permutations=9, seed=0, test="median")
    assert math.isnan(res.statistic) and math.isnan(res.p_value)


def test_result_shape() -> None:
    res = permdisp(_random_dm(10, 0), [0, 1] * 5, permutations=9, seed=0, test="median")
    assert isinstance(res, TestResult)
    out = res.to_dict()
    assert set(out) >= {"mean_distance", "group_sizes", "test", "df_between", "n_axes"}
    assert out["group_sizes"] == {"0": 5, "1": 5}
    assert 0 <= res.effect_size <= 1
    f, n, g = res.statistic, 10, 2
    assert res.effect_size == pytest.approx(f * (g - 1) / (f * (g - 1) + n - g))


# ---------------------------------------------------------- errors
def test_missing_ids_in_series() -> None:
    dm = _random_dm(5, 0)
    with pytest.raises(NotFoundError, match=r"1 sample id\(s\) not found in the grouping's index"):
        permdisp(dm, pd.Series([0, 0, 1, 1], index=dm.ids[:4]))


@pytest.mark.parametrize(("grouping", "match"), [
    ([0, 0, 0, 0, 0, 0], r"at least 2 groups; the grouping has 1 \(every sample is in group 0\)"),
    ([0, 1, 2, 3, 4, 5], "needs a group with at least 2 samples; all 6 samples"),
    ([0, 0, 1, 1, 1], "grouping has 5 values but the distance matrix has 6 samples"),
    ([0, 0, 1, 1, 1, None], r"no group \(NaN/None\) for 1 sample\(s\): 's5'"),
])
def test_grouping_errors(grouping, match: str) -> None:
    with pytest.raises(InputError, match=match):
        permdisp(_random_dm(6, 0), grouping)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"test": "mean"}, "unknown PERMDISP test 'mean'; valid tests are: centroid, median"),
    ({"permutations": -1}, "permutations must be a non-negative integer; got -1"),
    ({"permutations": 9.5}, "permutations must be a non-negative integer; got 9.5"),
    ({"seed": "x"}, "seed must be an integer"),
    ({"n_components": 0}, r"n_components must be None or an integer between 1 and the number "
                          r"of samples \(6\); got 0"),
    ({"n_components": 7}, "got 7"),
])
def test_argument_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        permdisp(_random_dm(6, 0), [0, 0, 0, 1, 1, 1], **kwargs)


def test_not_a_distance_matrix() -> None:
    with pytest.raises(InputError, match="permdisp takes a gutaxis DistanceMatrix"):
        permdisp(np.zeros((3, 3)), [0, 0, 1])  # type: ignore[arg-type]
