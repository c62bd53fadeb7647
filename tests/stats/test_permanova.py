"""PERMANOVA: against scikit-bio, by hand, by full enumeration, and its errors."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform
from skbio.stats.distance import permanova as sk_permanova  # noqa: E402

from gutaxis import DistanceMatrix
from gutaxis.exceptions import InputError, NotFoundError
from gutaxis.stats import TestResult, make_result, permanova


def _dm(data: np.ndarray) -> DistanceMatrix:
    return DistanceMatrix([f"s{i}" for i in range(len(data))], data)


def _random_dm(n: int, seed: int, metric: str = "braycurtis") -> DistanceMatrix:
    rng = np.random.default_rng(seed)
    x = rng.gamma(0.5, size=(n, 20))
    x[:, 0] += 0.01
    return _dm(squareform(pdist(x, metric)))


def _f_by_formula(d: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Pseudo-F and R² straight from Anderson's (2001) definitions."""
    n = len(groups)
    labels = np.unique(groups)
    iu = np.triu_indices(n, 1)
    ss_t = (d[iu] ** 2).sum() / n
    ss_w = 0.0
    for lab in labels:
        idx = np.flatnonzero(groups == lab)
        sub = d[np.ix_(idx, idx)]
        ss_w += (sub[np.triu_indices(len(idx), 1)] ** 2).sum() / len(idx)
    g = len(labels)
    ss_a = ss_t - ss_w
    return (ss_a / (g - 1)) / (ss_w / (n - g)), ss_a / ss_t


class _Enumerating(np.random.Generator):
    """A Generator whose ``shuffle`` applies the given permutations in turn."""

    def __init__(self, perms) -> None:
        super().__init__(np.random.PCG64(0))
        self._perms = iter(perms)

    def shuffle(self, x, axis=0) -> None:  # type: ignore[override]
        x[:] = x[list(next(self._perms))]


# ------------------------------------------------------------ vs scikit-bio
@pytest.mark.parametrize(("n", "g", "seed"), [(30, 2, 0), (57, 3, 1), (120, 5, 2), (200, 2, 3)])
def test_matches_skbio(n: int, g: int, seed: int) -> None:
    dm = _random_dm(n, seed)
    rng = np.random.default_rng(seed + 100)
    weights = np.arange(1, g + 1) / (g * (g + 1) / 2)
    groups = rng.choice([f"g{k}" for k in range(g)], size=n, p=weights)
    ours = permanova(dm, groups, permutations=199, seed=seed)
    theirs = sk_permanova(dm.to_skbio(), groups, permutations=199, seed=seed)
    assert ours.statistic == pytest.approx(theirs["test statistic"], rel=1e-9)
    # the same permutations, drawn the way scikit-bio draws them: the same p
    assert ours.p_value == theirs["p-value"]
    assert ours.n == theirs["sample size"] and ours.n_groups == theirs["number of groups"]
    f, r2 = _f_by_formula(dm.data, groups)
    assert ours.statistic == pytest.approx(f, rel=1e-9)
    assert ours.effect_size == pytest.approx(r2, rel=1e-9)
    # skbio's documented identity R² = 1 / (1 + (n - g) / ((g - 1) F))
    assert ours.effect_size == pytest.approx(1 / (1 + (n - g) / ((g - 1) * ours.statistic)))


def test_many_groups() -> None:
    # more than 127 groups: labels no longer fit the int8 fast path
    dm = _random_dm(300, seed=4)
    groups = np.repeat(np.arange(150), 2)
    ours = permanova(dm, groups, permutations=49, seed=1)
    theirs = sk_permanova(dm.to_skbio(), groups, permutations=49, seed=1)
    assert ours.statistic == pytest.approx(_f_by_formula(dm.data, groups)[0], rel=1e-9)
    assert ours.statistic == pytest.approx(theirs["test statistic"], rel=1e-9)
    assert ours.p_value == theirs["p-value"] and ours.n_groups == 150


def test_matches_skbio_with_a_generator_and_a_strong_effect() -> None:
    x = np.r_[np.random.default_rng(0).normal(0, 1, (15, 3)),
              np.random.default_rng(1).normal(2, 1, (15, 3))]
    dm = _dm(squareform(pdist(x)))
    groups = np.repeat(["a", "b"], 15)
    ours = permanova(dm, groups, permutations=199, seed=np.random.default_rng(5))
    theirs = sk_permanova(dm.to_skbio(), groups, permutations=199, seed=np.random.default_rng(5))
    assert ours.statistic == pytest.approx(theirs["test statistic"], rel=1e-9)
    assert ours.p_value == theirs["p-value"] == 0.005


# ---------------------------------------------------------- by hand
def test_six_samples_by_hand() -> None:
    #      a  b  c  d  e  f        groups: A = {a, b}, B = {c, d, e, f}
    d = np.array([[0, 1, 4, 5, 6, 3],
                  [1, 0, 3, 4, 5, 2],
                  [4, 3, 0, 2, 3, 4],
                  [5, 4, 2, 0, 1, 2],
                  [6, 5, 3, 1, 0, 3],
                  [3, 2, 4, 2, 3, 0]], dtype=float)
    dm = DistanceMatrix(list("abcdef"), d)
    res = permanova(dm, pd.Series(list("AABBBB"), index=list("abcdef")), permutations=0)
    # Σ_{i<j} d² = (1+16+25+36+9) + (9+16+25+4) + (4+9+16) + (1+4) + 9 = 87+54+29+5+9 = 184
    # SS_T = 184 / 6
    # SS_W = ab²/2 + (cd²+ce²+cf²+de²+df²+ef²)/4 = 1/2 + (4+9+16+1+4+9)/4 = 1/2 + 43/4 = 45/4
    # SS_A = 184/6 - 45/4 = 233/12
    # F = (SS_A / (2-1)) / (SS_W / (6-2)) = (233/12) / (45/16) = 932/135 ≈ 6.9037
    # R² = SS_A / SS_T = (233/12) / (184/6) = 233/368 ≈ 0.63315
    assert res.statistic == pytest.approx(932 / 135, rel=1e-12)
    assert res.effect_size == pytest.approx(233 / 368, rel=1e-12)
    assert res.extra["ss_total"] == pytest.approx(184 / 6)
    assert res.extra["ss_within"] == pytest.approx(45 / 4)
    assert res.extra["ss_between"] == pytest.approx(233 / 12)
    assert (res.extra["df_between"], res.extra["df_within"]) == (1, 4)
    assert res.extra["group_sizes"] == {"A": 2, "B": 4}
    assert math.isnan(res.p_value) and res.permutations == 0
    assert (res.method, res.statistic_name, res.effect_size_name) == ("PERMANOVA", "pseudo-F", "R2")


def test_p_value_by_full_enumeration() -> None:
    # n = 6 in groups of 2 and 4: the 720 relabellings fall on the 15 ways of
    # choosing the pair, 48 relabellings each.  p over all 720 (plus the
    # observed grouping) is (48·m + 1)/721, m = #pairs with F ≥ F_obs.
    dm = _random_dm(6, seed=7, metric="euclidean")
    groups = np.array([0, 0, 1, 1, 1, 1])
    f_obs, _ = _f_by_formula(dm.data, groups)
    m = 0
    for pair in itertools.combinations(range(6), 2):
        g = np.ones(6, dtype=int)
        g[list(pair)] = 0
        m += _f_by_formula(dm.data, g)[0] >= f_obs * (1 - 1e-12)
    perms = list(itertools.permutations(range(6)))
    res = permanova(dm, groups, permutations=len(perms), seed=_Enumerating(perms))
    assert 1 <= m < 15
    assert res.p_value == pytest.approx((48 * m + 1) / 721, abs=1e-15)


def test_ties_from_relabelled_partitions_count() -> None:
    # two groups of 3: swapping the labels gives the same partition and an equal F;
    # rounding must not break that tie.  Put the observed grouping at the extreme.
    x = np.array([0.0, 0.3, 0.7, 5.0, 5.2, 5.9])
    dm = _dm(np.abs(x[:, None] - x[None, :]))
    groups = np.array([0, 0, 0, 1, 1, 1])
    perms = list(itertools.permutations(range(6)))
    res = permanova(dm, groups, permutations=len(perms), seed=_Enumerating(perms))
    # the observed partition {012 | 345} comes from 2·3!·3! = 72 of the 720 relabellings
    assert res.p_value == pytest.approx((72 + 1) / 721, abs=1e-15)


def test_p_value_is_statistically_right() -> None:
    # random permutations estimate the enumerated p: 20 000 draws, sd ≈ 0.0025
    dm = _random_dm(6, seed=7, metric="euclidean")
    groups = np.array([0, 0, 1, 1, 1, 1])
    f_obs, _ = _f_by_formula(dm.data, groups)
    fs = []
    for pair in itertools.combinations(range(6), 2):
        g = np.ones(6, dtype=int)
        g[list(pair)] = 0
        fs.append(_f_by_formula(dm.data, g)[0])
    exact = np.mean(np.array(fs) >= f_obs * (1 - 1e-12))
    res = permanova(dm, groups, permutations=20_000, seed=11)
    assert abs(res.p_value - exact) < 0.0125


# ---------------------------------------------------------- behaviour
def test_seed_reproducibility() -> None:
    dm = _random_dm(40, seed=1)
    groups = np.tile(["x", "y"], 20)
    a = permanova(dm, groups, permutations=199, seed=42)
    b = permanova(dm, groups, permutations=199, seed=42)
    assert a == b
    ps = {permanova(dm, groups, permutations=199, seed=s).p_value for s in range(8)}
    assert len(ps) > 1  # the seed matters
    unseeded = permanova(dm, groups, permutations=19)
    assert unseeded.statistic == a.statistic and 0 < unseeded.p_value <= 1


def test_series_is_aligned_by_id() -> None:
    dm = _random_dm(12, seed=2)
    groups = np.array(list("aabbccaabbcc"))
    series = pd.Series(groups, index=dm.ids, name="diet")
    shuffled = series.sample(frac=1.0, random_state=0)
    extra = pd.concat([shuffled, pd.Series(["z"], index=["not-in-dm"])])
    ref = permanova(dm, groups, permutations=99, seed=3)
    for grouping in (series, shuffled, extra):
        res = permanova(dm, grouping, permutations=99, seed=3)
        assert res.statistic == ref.statistic and res.p_value == ref.p_value
    assert permanova(dm, series, permutations=0).extra["grouping"] == "diet"


def test_infinite_f_when_groups_are_points() -> None:
    d = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]], dtype=float)
    res = permanova(_dm(d), [0, 0, 1, 1], permutations=0)
    assert res.statistic == math.inf and res.effect_size == 1.0


def test_to_dict_and_result_shape() -> None:
    res = permanova(_random_dm(10, seed=0), [0, 1] * 5, permutations=9, seed=0)
    assert isinstance(res, TestResult)
    out = res.to_dict()
    assert list(out)[:10] == ["method", "statistic_name", "statistic", "p_value", "permutations",
                              "n", "n_groups", "effect_size", "effect_size_name", "q_value"]
    assert out["ss_total"] == res.extra["ss_total"] and out["q_value"] is None
    assert isinstance(out["statistic"], float) and isinstance(out["n"], int)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.p_value = 0.5  # type: ignore[misc]
    assert res.with_q_value(0.2).q_value == 0.2
    table = pd.DataFrame([res.to_dict(), res.with_q_value(0.3).to_dict()])
    assert table.shape[0] == 2


def test_make_result_checks() -> None:
    base = dict(method="T", statistic_name="s", statistic=np.float64(1.0), p_value=0.5,
                permutations=9, n=5, n_groups=2, effect_size=0.1, effect_size_name="e")
    r = make_result(**base, extra={"arr": np.arange(2), "k": np.int64(3)})
    assert r.extra == {"arr": [0, 1], "k": 3} and type(r.statistic) is float
    with pytest.raises(ValueError, match=r"p_value must be in \[0, 1\]"):
        make_result(**{**base, "p_value": 1.5})
    with pytest.raises(ValueError, match="permutations must be a non-negative integer"):
        make_result(**{**base, "permutations": -1})
    with pytest.raises(ValueError, match="clash with TestResult attributes: n"):
        make_result(**base, extra={"n": 3})


# ---------------------------------------------------------- errors
def test_missing_ids_in_series() -> None:
    dm = _random_dm(5, seed=0)
    series = pd.Series(list("aabb"), index=list(dm.ids[:4]))
    with pytest.raises(NotFoundError,
                       match=r"1 sample id\(s\) not found in the grouping's index.*'s4'"):
        permanova(dm, series)
    with pytest.raises(NotFoundError, match=r"pass grouping.to_numpy\(\)"):
        permanova(dm, pd.Series(list("aabba")))  # a RangeIndex


@pytest.mark.parametrize(
    ("grouping", "match"),
    [
        (["a"] * 5, r"at least 2 groups; the grouping has 1 \(every sample is in group 'a'\)"),
        (list("abcde"), "all 5 samples are in groups of their own"),
        (["a", "a", None, "b", float("nan")],
         r"no group \(NaN/None\) for 2 sample\(s\): 's2', 's4'"),
        (list("aabb"), "grouping has 4 values but the distance matrix has 5 samples"),
        (np.zeros((5, 1)), "must be one-dimensional"),
        (pd.DataFrame({"g": list("aabbb")}), "not a DataFrame"),
        (pd.Series(list("aabbb"), index=["s0", "s0", "s1", "s2", "s3"]),
         "duplicated sample ids: 's0'"),
    ],
)
def test_grouping_errors(grouping, match: str) -> None:
    with pytest.raises(InputError, match=match):
        permanova(_random_dm(5, seed=0), grouping)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"permutations": -1}, "permutations must be a non-negative integer; got -1"),
        ({"permutations": 9.5}, "permutations must be a non-negative integer; got 9.5"),
        ({"permutations": True}, "permutations must be a non-negative integer; got True"),
        ({"seed": "abc"}, "seed must be an integer, a numpy.random.Generator or None"),
        ({"seed": -3}, "seed must be a non-negative integer; got -3"),
    ],
)
def test_argument_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        permanova(_random_dm(6, seed=0), [0, 0, 0, 1, 1, 1], **kwargs)


def test_not_a_distance_matrix() -> None:
    with pytest.raises(InputError, match="takes a gutaxis DistanceMatrix"):
        permanova(np.zeros((3, 3)), [0, 0, 1])  # type: ignore[arg-type]


# ---------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(4, 14),
    g=st.integers(2, 4),
    data=st.data(),
)
def test_relabelling_samples_leaves_f_unchanged(n: int, g: int, data) -> None:
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, g, n)
    if len(np.unique(groups)) < 2 or len(np.unique(groups)) == n:
        groups[: n // 2], groups[n // 2:] = 0, 1
    x = rng.normal(size=(n, 3))
    dm = _dm(squareform(pdist(x)))
    ref = permanova(dm, groups, permutations=0)
    # the same samples in another order, with their groups, under new names
    order = rng.permutation(n)
    moved = DistanceMatrix([f"t{i}" for i in order], dm.data[np.ix_(order, order)])
    res = permanova(moved, groups[order], permutations=0)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert res.effect_size == pytest.approx(ref.effect_size, rel=1e-9, abs=1e-12)
    # renaming the groups changes nothing, p-value included (same seed)
    names = np.array(["zeta", "alpha", "mid", "beta"])
    a = permanova(dm, groups, permutations=20, seed=seed)
    b = permanova(dm, names[groups], permutations=20, seed=seed)
    assert b.statistic == pytest.approx(a.statistic, rel=1e-12) and b.p_value == a.p_value
