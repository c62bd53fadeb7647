"""Permutation tests with repeated subjects: designs, exactness, and false-positive rates."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from gutaxis import DistanceMatrix
from gutaxis.exceptions import InputError
from gutaxis.stats import permanova, permdisp
from gutaxis.stats._permutations import permutation_design


def _ids(n: int) -> pd.Index:
    return pd.Index([f"s{i}" for i in range(n)])


def _repeated(n_subjects: int, per_subject: int | list[int], rng: np.random.Generator, *,
              subject_sd: float = 2.0, dims: int = 5) -> tuple[DistanceMatrix, np.ndarray,
                                                                pd.Series]:
    """Samples around a per-subject centre; no group effect; half the subjects per group."""
    sizes = [per_subject] * n_subjects if isinstance(per_subject, int) else per_subject
    centres = rng.normal(scale=subject_sd, size=(n_subjects, dims))
    subject = np.repeat(np.arange(n_subjects), sizes)
    points = centres[subject] + rng.normal(size=(len(subject), dims))
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    ids = _ids(len(subject))
    groups = np.where(subject < n_subjects // 2, "A", "B")
    return DistanceMatrix(ids, d), groups, pd.Series([f"p{s}" for s in subject], index=ids)


# ----------------------------------------------------------------------- designs
def test_whole_subject_relabellings_keep_subjects_whole():
    ids = _ids(11)
    subjects = ["a", "a", "a", "b", "b", "c", "d", "d", "e", "f", "g"]
    codes = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    design = permutation_design(ids, codes, subjects, "test")
    assert design.kind == "whole subjects" and design.n_subjects == 7
    rng = np.random.default_rng(0)
    out = np.empty(11, dtype=np.int64)
    seen = set()
    for _ in range(300):
        design.relabel(codes, rng, out)
        per_subject = pd.Series(out).groupby(subjects).nunique()
        assert (per_subject == 1).all()  # a subject's samples share their label
        # three subjects in group 0 and four in group 1, whatever their sizes
        labels = pd.Series(out).groupby(subjects).first()
        assert sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1, 1]
        seen.add(tuple(labels))
    assert len(seen) == 35  # all C(7, 3) assignments of the labels to subjects occur


def test_within_subject_relabellings_keep_each_subjects_labels():
    ids = _ids(12)
    subjects = np.repeat(["a", "b", "c", "d"], 3)
    codes = np.array([0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0])
    design = permutation_design(ids, codes, subjects, "test")
    assert design.kind == "within subjects"
    rng = np.random.default_rng(1)
    out = np.empty(12, dtype=np.int64)
    moved = 0
    for _ in range(200):
        design.relabel(codes, rng, out)
        for s in "abcd":
            assert sorted(out[subjects == s]) == sorted(codes[subjects == s])
        moved += int((out != codes).any())
    assert moved > 150


def test_free_design_draws_scikit_bio_stream():
    ids = _ids(6)
    codes = np.array([0, 0, 0, 1, 1, 1])
    design = permutation_design(ids, codes, None, "test")
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    out = np.empty(6, dtype=np.int64)
    for _ in range(5):
        design.relabel(codes, a, out)
        np.testing.assert_array_equal(out, b.permutation(codes))


@pytest.mark.parametrize(("codes", "subjects", "message"), [
    ([0, 0, 1, 1, 0, 1], ["a", "a", "b", "b", "c", "c"],
     r"changes within 1 subject\(s\) and is constant within 2 other"),
    ([0, 0, 0, 1, 1, 1], ["a", "a", "b", "c", "c", "d"],
     r"the groups hold 2 and 2 subjects, which allow only 3 distinct partitions"),
    ([0, 0, 0, 1, 1, 1], ["a", "a", None, "c", "c", "d"], r"1 sample\(s\) have no subject"),
    # 3 + 3 people: C(6, 3) = 20 relabellings but only 10 partitions (A/B swapped): p ≥ 0.1
    ([0, 0, 0, 1, 1, 1], ["a", "b", "c", "d", "e", "f"],
     r"the groups hold 3 and 3 subjects, which allow only 10 distinct partitions"),
])
def test_designs_that_cannot_be_tested_honestly_are_refused(codes, subjects, message):
    with pytest.raises(InputError, match=message):
        permutation_design(_ids(6), np.array(codes), subjects, "PERMANOVA")


def test_subjects_series_is_matched_by_sample_id():
    ids = _ids(12)
    subjects = pd.Series([f"p{i // 2}" for i in range(12)], index=ids)[::-1]
    codes = np.array([0, 1] * 6)
    assert permutation_design(ids, codes, subjects, "t").kind == "within subjects"
    with pytest.raises(InputError, match=r"1 sample\(s\) have no subject: s7"):
        permutation_design(ids, codes, subjects.drop("s7"), "t")
    # before/after in 5 people: 2⁵ relabellings, but swapping "before" and "after" everywhere
    # is the same partition, so 16 — the smallest p would be 1/16 > 0.05
    with pytest.raises(InputError, match=r"the 5 subjects allow only 16 distinct partitions"):
        permutation_design(ids[:10], codes[:10], subjects.iloc[2:], "t")


# ------------------------------------------------------------- exact reference
def test_whole_subject_p_value_matches_full_enumeration():
    """3 + 4 subjects: 35 relabellings; the Monte Carlo p estimates the exact one."""
    rng = np.random.default_rng(3)
    dm, groups, subjects = _repeated(7, [2, 3, 2, 4, 2, 3, 1], rng, subject_sd=1.0)
    subject_index = pd.factorize(subjects)[0]
    first = [int(np.flatnonzero(subject_index == s)[0]) for s in range(7)]
    subject_group = groups[first]
    observed = permanova(dm, groups, permutations=0).statistic
    fs = []
    for chosen in itertools.combinations(range(7), 3):
        relabelled = np.where(np.isin(subject_index, chosen), "A", "B")
        fs.append(permanova(dm, relabelled, permutations=0).statistic)
    fs = np.array(fs)
    exact = float(np.mean(fs >= observed * (1 - 1e-9)))
    assert sorted(subject_group) == ["A"] * 3 + ["B"] * 4
    result = permanova(dm, groups, permutations=4999, seed=2, subjects=subjects)
    assert result.extra["permutation_design"]["kind"] == "whole subjects"
    assert result.extra["permutation_design"]["n_subjects"] == 7
    # binomial standard error of a Monte Carlo p from 4,999 draws ≤ 0.0071
    assert abs(result.p_value - exact) < 4 * 0.0071
    assert result.statistic == pytest.approx(observed, rel=1e-12)


# ---------------------------------------------------------- simulation: known truth
def _false_positive_rate(test, n_sim: int, *, subjects: bool, seed: int) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_sim):
        dm, groups, subject = _repeated(12, 5, rng)
        result = test(dm, groups, permutations=99, seed=int(rng.integers(2**31)),
                      subjects=subject if subjects else None)
        hits += result.p_value <= 0.05
    return hits / n_sim


@pytest.mark.parametrize("test", [permanova, permdisp], ids=["permanova", "permdisp"])
def test_restricted_permutations_hold_the_nominal_level(test):
    """12 people × 5 samples, strong person effect, no group effect.

    Samples permuted freely: the person effect looks like a group effect and
    the test rejects far too often.  Whole subjects permuted: the rate is at
    the nominal 5 % (binomial 99 % band for 300 datasets: 1.7 %–8.7 %).
    """
    with_subjects = _false_positive_rate(test, 300, subjects=True, seed=11)
    assert 0.017 <= with_subjects <= 0.087, with_subjects
    if test is permanova:
        naive = _false_positive_rate(test, 100, subjects=False, seed=12)
        assert naive > 0.5, naive
