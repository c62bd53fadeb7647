"""Random-forest cross-validation: honesty (no leakage), scores, ROC, importance, model files."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline

from gutaxis.exceptions import (
    InputError,
    NotFoundError,
    SampleMismatchError,
    UnsafeInputError,
    ValidationError,
)
from gutaxis.stats import classifier as clf
from gutaxis.stats.classifier import (
    cross_validate_forest,
    fit_final_model,
    load_classifier,
)


# --------------------------------------------------------------------- helpers
def _ids(n: int) -> list[str]:
    return [f"s{i:03d}" for i in range(n)]


def _labels(n_a: int, n_b: int, seed: int,
            names: tuple[str, str] = ("control", "ME/CFS")) -> pd.Series:
    y = np.array([names[0]] * n_a + [names[1]] * n_b)
    np.random.default_rng(seed).shuffle(y)
    return pd.Series(y, index=_ids(n_a + n_b), name="group")


def _noise(n_samples: int, n_features: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n_samples, n_features)), index=_ids(n_samples),
                        columns=[f"f{j:03d}" for j in range(n_features)])


def _one_informative(n_a: int = 30, n_b: int = 30, n_features: int = 8, shift: float = 4.0,
                     seed: int = 1, informative: str = "f005") -> tuple[pd.DataFrame, pd.Series]:
    """Noise features; one of them is shifted by ``shift`` in the second class."""
    y = _labels(n_a, n_b, seed)
    x = _noise(n_a + n_b, n_features, seed + 100)
    x.loc[y == "ME/CFS", informative] += shift
    return x, y


def _markers(seed: int = 2) -> tuple[pd.DataFrame, pd.Series]:
    """40 samples × 6 markers with ~15 % missing values and a weak signal in two."""
    y = _labels(22, 18, seed)
    x = _noise(40, 6, seed + 100)
    x.loc[y == "ME/CFS", ["f000", "f003"]] += 1.0
    mask = np.random.default_rng(seed + 200).random(x.shape) < 0.15
    return x.mask(mask), y


def _forest_seed(seed: int, repeat: int, fold: int) -> int:
    """The documented seed of fold ``fold`` of repeat ``repeat``'s forest."""
    return int(np.random.SeedSequence(seed, spawn_key=(repeat, fold, 0)).generate_state(1)[0])


# ------------------------------------------------------------------ 1. leakage
def test_labels_independent_of_features_score_at_chance() -> None:
    # 87 samples (48/39, as in the CFS cohort) × 200 normal features that carry
    # no information.  An uninformative classifier that predicts the majority
    # class with probability q has expected accuracy q·0.552 + (1 − q)·0.448,
    # i.e. between 0.448 and 0.552 whatever it does; its expected AUC is 0.5
    # whatever the class balance.  Over 87 held-out predictions per repeat the
    # accuracy has a standard deviation of about sqrt(0.25 / 87) ≈ 0.054, so a
    # band of ±0.1 around [0.448, 0.552] (and around 0.5 for the AUC) is about
    # two such deviations wide: a leak that lets held-out samples into the
    # training (tens of points of accuracy on 200 features) would leave it.
    y = _labels(48, 39, seed=11)
    x = _noise(87, 200, seed=12)
    r = cross_validate_forest(x, y, feature_set="noise", n_splits=10, n_repeats=2,
                              n_estimators=50, seed=5)
    assert r.n_samples == 87 and r.n_features == 200
    assert 0.35 <= r.accuracy_mean <= 0.65
    assert 0.35 <= r.auc_mean <= 0.65
    # and no feature looks important
    assert r.importances.importance_mean.abs().max() < 0.1


def _trap() -> tuple[pd.DataFrame, pd.Series, list[tuple[np.ndarray, np.ndarray]]]:
    """A feature whose median over all samples is informative, but not per training fold.

    Class ``a`` (8 samples) has no value; class ``b`` (24) has 0 in folds 0 and
    2 and 1 in folds 1 and 3 of the 4-fold split that ``cross_validate_forest``
    makes with ``seed=0``.  Over all samples the median is 0.5, a value no
    sample has: imputing with it before splitting would put every ``a``
    sample at 0.5, alone, and the forest would find them all.  Inside a
    training fold the median is 1 or 0, the value of 12 ``b`` samples, so the
    filled ``a`` samples (6 per training fold) are outnumbered 2:1 where they
    sit and are predicted ``b``: accuracy is the majority rate, 0.75.
    """
    y = _labels(8, 24, seed=3, names=("a", "b"))
    folds = list(RepeatedStratifiedKFold(n_splits=4, n_repeats=1, random_state=0)
                 .split(np.zeros(len(y)), y.to_numpy()))
    x = np.full(len(y), np.nan)
    for k, (_, test) in enumerate(folds):
        x[test[y.to_numpy()[test] == "b"]] = k % 2
    return pd.DataFrame({"x": x}, index=y.index), y, folds


def test_imputation_is_fitted_inside_the_training_folds() -> None:
    x, y, folds = _trap()
    values, labels = x.to_numpy(), y.to_numpy()
    assert np.nanmedian(values) == 0.5
    assert sorted({float(np.nanmedian(values[train])) for train, _ in folds}) == [0.0, 1.0]

    r = cross_validate_forest(x, y, feature_set="trap", n_splits=4, n_repeats=1, seed=0,
                              n_estimators=100)

    # Reference implementations, fold by fold, with the same forests.
    def accuracy(fit_imputer_on_all: bool) -> list[float]:
        out = []
        for k, (train, test) in enumerate(folds):
            imputer = SimpleImputer(strategy="median")
            imputer.fit(values if fit_imputer_on_all else values[train])
            forest = RandomForestClassifier(n_estimators=100, random_state=_forest_seed(0, 0, k))
            forest.fit(imputer.transform(values[train]), labels[train])
            predicted = forest.predict(imputer.transform(values[test]))
            out.append(accuracy_score(labels[test], predicted))
        return out

    leaky, honest = accuracy(True), accuracy(False)
    assert min(leaky) == 1.0  # the trap works: a leaky imputer would score perfectly
    assert r.fold_scores.accuracy.tolist() == honest == [0.75] * 4
    assert r.accuracy_mean == 0.75  # the majority rate


# --------------------------------------------------------- 2. separable signal
def test_separable_classes_are_found() -> None:
    x, y = _one_informative(shift=6.0)
    x.loc[y == "ME/CFS", "f002"] += 6.0
    r = cross_validate_forest(x, y, feature_set="clear", n_splits=5, n_repeats=2,
                              n_estimators=50)
    assert r.accuracy_mean > 0.9
    assert r.auc_mean > 0.95
    assert set(r.importances.feature[:2]) == {"f002", "f005"}


# ----------------------------------------------- 3. determinism and bookkeeping
def test_seeded_runs_repeat_and_fold_scores_are_the_folds() -> None:
    x, y = _markers()
    calls: list[tuple[int, int]] = []
    kw: dict[str, Any] = dict(feature_set="markers", n_splits=4, n_repeats=3, n_estimators=20,
                              seed=7)
    r1 = cross_validate_forest(x, y, on_fold=lambda d, t: calls.append((d, t)), **kw)
    r2 = cross_validate_forest(x, y, **kw)
    other = cross_validate_forest(x, y, **{**kw, "seed": 8})

    assert calls == [(i, 12) for i in range(1, 13)]
    pd.testing.assert_frame_equal(r1.fold_scores, r2.fold_scores)
    pd.testing.assert_frame_equal(r1.importances, r2.importances)
    assert r1.roc is not None and r2.roc is not None
    pd.testing.assert_frame_equal(r1.roc, r2.roc)
    assert not r1.fold_scores.equals(other.fold_scores)

    assert len(r1.fold_scores) == 12
    assert list(r1.fold_scores.columns) == ["repeat", "fold", "accuracy", "auc"]
    assert r1.fold_scores.repeat.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert r1.fold_scores.fold.tolist() == [0, 1, 2, 3] * 3
    assert r1.accuracy_mean == pytest.approx(r1.fold_scores.accuracy.mean(), abs=1e-15)
    assert r1.accuracy_sd == pytest.approx(r1.fold_scores.accuracy.std(ddof=1), abs=1e-15)
    assert r1.auc_mean == pytest.approx(r1.fold_scores.auc.mean(), abs=1e-15)
    assert r1.cv == {
        "method": "repeated stratified k-fold", "grouped_by_subject": False, "n_splits": 4,
        "n_repeats": 3, "seed": 7,
        "n_estimators": 20,
        "imputation": "median of each feature, fitted on the training folds only",
        "importance": ("permutation importance: mean decrease in ROC AUC when a feature is "
                       "permuted, on the held-out folds of the first repeat only"),
        "importance_repeats": 5, "unlabelled_dropped": 0,
    }

    # One fold by hand with plain scikit-learn: repeat 1, fold 2.
    splits = list(RepeatedStratifiedKFold(n_splits=4, n_repeats=3, random_state=7)
                  .split(x, y))
    train, test = splits[1 * 4 + 2]
    pipe = Pipeline([("impute", SimpleImputer(strategy="median")),
                     ("forest", RandomForestClassifier(n_estimators=20,
                                                       random_state=_forest_seed(7, 1, 2)))])
    pipe.fit(x.iloc[train].to_numpy(), y.iloc[train].to_numpy())
    proba = pipe.predict_proba(x.iloc[test].to_numpy())
    row = r1.fold_scores.iloc[6]
    assert row.accuracy == accuracy_score(y.iloc[test], pipe.predict(x.iloc[test].to_numpy()))
    assert row.auc == roc_auc_score(y.iloc[test] == "control", proba[:, 1])  # classes[-1]


def test_threads_do_not_change_results() -> None:
    x, y = _markers()
    kw: dict[str, Any] = dict(feature_set="markers", n_splits=4, n_repeats=2, n_estimators=10,
                              seed=3)
    one = cross_validate_forest(x, y, threads=1, **kw)
    two = cross_validate_forest(x, y, threads=2, **kw)
    pd.testing.assert_frame_equal(one.fold_scores, two.fold_scores)
    pd.testing.assert_frame_equal(one.importances, two.importances)


def test_importance_uses_the_first_repeat_only() -> None:
    x, y = _markers()
    kw: dict[str, Any] = dict(feature_set="markers", n_splits=4, n_estimators=10, seed=3)
    short = cross_validate_forest(x, y, n_repeats=1, **kw)
    long = cross_validate_forest(x, y, n_repeats=3, **kw)
    pd.testing.assert_frame_equal(short.importances, long.importances)
    pd.testing.assert_frame_equal(short.fold_scores, long.fold_scores.iloc[:4])


# ----------------------------------------------------------------------- 4. ROC
def test_mean_roc_curve_runs_from_origin_to_one_and_never_falls() -> None:
    x, y = _markers()
    r = cross_validate_forest(x, y, feature_set="markers", n_splits=4, n_repeats=2,
                              n_estimators=20)
    assert r.roc is not None
    assert list(r.roc.columns) == ["fpr", "tpr_mean", "tpr_sd"]
    np.testing.assert_allclose(r.roc.fpr, np.linspace(0, 1, 101))
    assert r.roc.tpr_mean.iloc[0] == 0.0
    assert r.roc.tpr_mean.iloc[-1] == 1.0
    assert (np.diff(r.roc.tpr_mean) >= 0).all()
    assert (r.roc.tpr_sd >= 0).all()
    # the area under the mean curve is close to the mean AUC
    area = float(np.sum(np.diff(r.roc.fpr) * (r.roc.tpr_mean.to_numpy()[1:]
                                             + r.roc.tpr_mean.to_numpy()[:-1]) / 2))
    assert area == pytest.approx(r.auc_mean, abs=0.05)


def test_fold_roc_curve_interpolation_by_hand() -> None:
    # Scores 0.9 (+), 0.6 (−), 0.4 (+), 0.1 (−): the curve is (0, 0) → (0, 0.5)
    # → (0.5, 0.5) → (0.5, 1) → (1, 1).
    grid = np.linspace(0, 1, 101)
    tpr = clf._interpolated_tpr(np.array([True, False, True, False]),
                                np.array([0.9, 0.6, 0.4, 0.1]), grid)
    expected = np.where(grid < 0.5 - 1e-9, 0.5, 1.0)
    expected[0] = 0.0
    np.testing.assert_allclose(tpr, expected)


# ---------------------------------------------------------------- 5. importance
def test_informative_feature_ranks_first() -> None:
    x, y = _one_informative(n_features=20, shift=3.0)
    r = cross_validate_forest(x, y, feature_set="one", n_splits=5, n_repeats=1,
                              n_estimators=50, n_importances=5)
    assert r.importances.feature.iloc[0] == "f005"
    assert list(r.importances.columns) == ["feature", "importance_mean", "importance_sd"]
    assert len(r.importances) == 5
    assert r.importances.importance_mean.is_monotonic_decreasing
    assert r.importances.importance_mean.iloc[0] > 0.2


def _fitted_fold(n_classes: int = 2) -> tuple[Pipeline, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(9)
    n = 90
    codes = np.arange(n) % n_classes
    x = rng.normal(size=(n, 6))
    x[:, 1] += 1.5 * codes
    x[:, 4] -= 0.7 * codes
    x[rng.random(x.shape) < 0.1] = np.nan
    model = clf._make_pipeline(30, random_state=4)
    model.fit(x[:60], codes[:60])
    return model, x[60:], codes[60:]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("stack_values", [clf._STACK_VALUES, 500])
def test_batched_permutation_equals_a_plain_loop(n_classes: int, stack_values: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clf, "_STACK_VALUES", stack_values)  # 500: one feature per call
    model, x, codes = _fitted_fold(n_classes)
    perms = clf._draw_permutations(np.random.default_rng(0), x.shape[1], 4, len(x))
    assert perms.shape == (6, 4, 30)
    assert all(sorted(p) == list(range(30)) for p in perms.reshape(-1, 30))

    def score(data: np.ndarray) -> float:
        proba = model.predict_proba(data)
        if n_classes == 2:
            return float(roc_auc_score(codes == 1, proba[:, 1]))
        return float(roc_auc_score(codes, proba, multi_class="ovr", average="macro"))

    expected = np.empty((6, 4))
    for j in range(6):
        for r in range(4):
            permuted = x.copy()
            permuted[:, j] = x[perms[j, r], j]
            expected[j, r] = score(x) - score(permuted)
    got = clf._permutation_decreases(model, x, codes, perms, positive=1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert np.abs(expected).max() > 0.05  # the comparison is not between zeros


def test_permutation_ranking_agrees_with_sklearn() -> None:
    rng = np.random.default_rng(21)
    n = 120
    codes = np.arange(n) % 2
    x = rng.normal(size=(n, 8))
    x[:, 3] += 3.0 * codes  # all the signal
    model = clf._make_pipeline(50, random_state=2).fit(x[:80], codes[:80])
    held_x, held_y = x[80:], codes[80:]
    ours = clf._permutation_decreases(
        model, held_x, held_y,
        clf._draw_permutations(np.random.default_rng(1), 8, 10, len(held_y)), positive=1
    ).mean(axis=1)
    theirs = permutation_importance(model, held_x, held_y, scoring="roc_auc", n_repeats=10,
                                    random_state=1).importances_mean
    assert np.argmax(ours) == np.argmax(theirs) == 3
    assert ours[3] == pytest.approx(theirs[3], abs=0.05)
    others = np.delete(np.arange(8), 3)
    assert np.abs(ours[others]).max() < 0.05 and np.abs(theirs[others]).max() < 0.05


def test_vectorised_auc_equals_sklearn() -> None:
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 3, size=40)
    codes[:3] = [0, 1, 2]
    proba = rng.dirichlet(np.ones(3), size=40).round(1)  # rounded: many ties
    proba /= proba.sum(axis=1, keepdims=True)
    assert clf._auc_batch(codes, proba, 2) == pytest.approx(
        roc_auc_score(codes, proba, multi_class="ovr", average="macro"), abs=1e-12)
    two = np.column_stack([1 - proba[:, 0], proba[:, 0]])
    assert clf._auc_batch((codes == 0).astype(int), two, 1) == pytest.approx(
        roc_auc_score(codes == 0, proba[:, 0]), abs=1e-12)


def test_three_classes() -> None:
    y = pd.Series(np.repeat(["a", "b", "c"], 12), index=_ids(36))
    x = _noise(36, 5, seed=4)
    x.loc[y == "b", "f001"] += 4
    x.loc[y == "c", "f001"] += 8
    r = cross_validate_forest(x, y, feature_set="three", n_splits=4, n_repeats=1,
                              n_estimators=20)
    assert r.classes == ["a", "b", "c"] and r.positive_class == "c"
    assert r.roc is None
    assert r.auc_mean > 0.9
    assert r.importances.feature.iloc[0] == "f001"
    assert "macro one-vs-rest ROC AUC" in r.cv["importance"]


# ------------------------------------------------------------------- to_dict
def test_to_dict_is_json_ready() -> None:
    x, y = _markers()
    r = cross_validate_forest(x, y, feature_set="markers", n_splits=4, n_repeats=1,
                              n_estimators=10, n_importances=3, positive_class="control")
    nan_sd = dataclasses.replace(r, auc_sd=float("nan"))
    for result in (r, nan_sd):
        d = result.to_dict()
        json.dumps(d, allow_nan=False)
    d = nan_sd.to_dict()
    assert d["auc_sd"] is None
    assert d["positive_class"] == "control" and d["classes"] == ["ME/CFS", "control"]
    assert d["n_samples"] == 40 and d["n_features"] == 6 and d["feature_set"] == "markers"
    assert d["cv"]["n_splits"] == 4
    assert [set(i) for i in d["importances"]] == [
        {"feature", "importance_mean", "importance_sd"}] * 3
    assert isinstance(d["importances"][0]["importance_mean"], float)


# ----------------------------------------------------------- 6. model files
def test_saved_model_round_trips(tmp_path) -> None:
    x, y = _markers()
    model = fit_final_model(x, y, seed=3, n_estimators=20)
    assert model.features == list(x.columns) and model.classes == ["ME/CFS", "control"]
    assert model.positive_class == "control"
    assert model.training["class_counts"] == {"ME/CFS": 18, "control": 22}
    path = tmp_path / "model.joblib"
    model.save(path)
    sidecar = json.loads((tmp_path / "model.joblib.json").read_text())
    assert sidecar["features"] == list(x.columns)
    assert sidecar["classes"] == ["ME/CFS", "control"]
    assert {"sklearn_version", "gutaxis_version", "sha256"} <= set(sidecar)

    loaded = load_classifier(path)
    new = x.iloc[:7, ::-1].assign(unused=1.0)  # columns reordered, one extra
    before = model.predict_proba(new)
    after = loaded.predict_proba(new)
    pd.testing.assert_frame_equal(before, after)
    assert list(after.columns) == ["ME/CFS", "control"] and list(after.index) == list(x.index[:7])
    pd.testing.assert_frame_equal(after, loaded.predict_proba(x.iloc[:7]))

    with pytest.raises(NotFoundError, match=r"2 feature id\(s\) not found.*'f001', 'f004'"):
        loaded.predict_proba(x.drop(columns=["f001", "f004"]))


def test_tampered_or_unverifiable_model_is_refused(tmp_path) -> None:
    x, y = _markers()
    path = tmp_path / "model.joblib"
    fit_final_model(x, y, n_estimators=5).save(path)
    with path.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(UnsafeInputError, match="SHA-256 is [0-9a-f]{64} but .* records"):
        load_classifier(path)
    (tmp_path / "model.joblib.json").unlink()
    with pytest.raises(UnsafeInputError, match="sidecar .* is missing"):
        load_classifier(path)
    with pytest.raises(InputError, match="no model file"):
        load_classifier(tmp_path / "absent.joblib")


# ------------------------------------------------------------------ 7. errors
def test_one_class_is_refused() -> None:
    x = _noise(20, 3, seed=1)
    with pytest.raises(ValidationError,
                       match="at least two classes; all 20 labelled samples are 'a'"):
        cross_validate_forest(x, pd.Series("a", index=x.index), feature_set="m")


def test_class_smaller_than_n_splits_is_refused() -> None:
    y = _labels(30, 6, seed=1)
    x = _noise(36, 3, seed=1)
    with pytest.raises(ValidationError,
                       match=r"n_splits=10 samples.*'ME/CFS' has 6; "
                             r"use a smaller --cv-folds \(at most 6\)"):
        cross_validate_forest(x, y, feature_set="m")
    cross_validate_forest(x, y, feature_set="m", n_splits=6, n_repeats=1, n_estimators=5)


def test_feature_without_any_value_is_named() -> None:
    x, y = _markers()
    x["crp"] = np.nan
    x["il6"] = np.nan
    with pytest.raises(ValidationError, match="2 feature.*no value.*'crp', 'il6'"):
        cross_validate_forest(x, y, feature_set="markers", n_splits=4)
    # a feature missing only where the label is missing counts as empty too
    x = x.drop(columns=["crp", "il6"])
    x["tnf"] = np.where(np.arange(40) == 0, 1.0, np.nan)
    y.iloc[0] = None
    with pytest.raises(ValidationError, match="'tnf'"):
        cross_validate_forest(x, y, feature_set="markers", n_splits=4)


def test_unlabelled_samples_are_dropped_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    x, y = _markers()
    y = y.drop(index=["s000", "s001"])
    y.loc["s002"] = np.nan
    y.loc["not-in-features"] = "control"
    with caplog.at_level(logging.WARNING, logger="gutaxis.stats.classifier"):
        r = cross_validate_forest(x, y, feature_set="markers", n_splits=4, n_repeats=1,
                                  n_estimators=5)
    assert r.n_samples == 37 and r.cv["unlabelled_dropped"] == 3
    assert "3 sample(s) without a label" in caplog.text and "'s002'" in caplog.text


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"n_splits": 1}, InputError, r"n_splits \(--cv-folds\) must be an integer >= 2; got 1"),
    ({"n_repeats": 0}, InputError, "n_repeats must be an integer >= 1; got 0"),
    ({"n_estimators": 2.5}, InputError, "n_estimators must be an integer >= 1; got 2.5"),
    ({"threads": 0}, InputError, "threads must be an integer >= 1; got 0"),
    ({"seed": -1}, InputError, "seed must be an integer >= 0; got -1"),
    ({"positive_class": "healthy"}, ValidationError,
     r"positive_class must be one of the classes \('ME/CFS', 'control'\); got 'healthy'"),
])
def test_bad_options(kwargs: dict, error: type[Exception], match: str) -> None:
    x, y = _markers()
    with pytest.raises(error, match=match):
        cross_validate_forest(x, y, feature_set="m", **kwargs)


def test_bad_inputs() -> None:
    x, y = _markers()
    with pytest.raises(InputError, match="features must be a pandas DataFrame"):
        cross_validate_forest(x.to_numpy(), y, feature_set="m")  # type: ignore[arg-type]
    with pytest.raises(SampleMismatchError, match="none of the 40 samples"):
        cross_validate_forest(x, y.set_axis([f"other{i}" for i in range(40)]), feature_set="m")
    with pytest.raises(ValidationError, match="non-numeric column.*'site'"):
        cross_validate_forest(x.assign(site="a"), y, feature_set="m")
    with pytest.raises(ValidationError, match="infinite values in: 'f002'"):
        cross_validate_forest(x.assign(f002=np.inf), y, feature_set="m")
    with pytest.raises(ValidationError, match="duplicate sample ids: 's001'"):
        cross_validate_forest(x.rename(index={"s000": "s001"}), y, feature_set="m")


# ------------------------------------------------------------ repeated subjects
def _people(seed: int, n_subjects: int = 40, per_subject: int = 6
            ) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Samples of people who differ from each other a lot; no difference between groups."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(n_subjects, 10))
    subject = np.repeat(np.arange(n_subjects), per_subject)
    ids = [f"s{i}" for i in range(len(subject))]
    x = pd.DataFrame(centres[subject] + rng.normal(size=(len(subject), 10)), index=ids,
                     columns=[f"f{j}" for j in range(10)])
    y = pd.Series(np.where(subject < n_subjects // 2, "case", "control"), index=ids)
    return x, y, pd.Series([f"p{s}" for s in subject], index=ids)


def test_folds_grouped_by_subject_remove_the_leak_through_the_person() -> None:
    """Known truth: no group effect.  Folds of single samples learn the person and score
    far above chance; folds that keep each person together score at chance."""
    naive, grouped = [], []
    for seed in range(6):
        x, y, subjects = _people(seed)
        kwargs = {"feature_set": "m", "n_splits": 4, "n_repeats": 2, "n_estimators": 40,
                  "seed": seed}
        naive.append(cross_validate_forest(x, y, **kwargs).auc_mean)
        result = cross_validate_forest(x, y, subjects=subjects, **kwargs)
        grouped.append(result.auc_mean)
        assert result.cv["grouped_by_subject"] is True
        assert result.cv["method"].startswith("repeated stratified group k-fold")
    assert np.mean(naive) > 0.85, naive
    assert 0.4 < np.mean(grouped) < 0.6, grouped


def test_grouped_folds_never_split_a_subject() -> None:
    x, y, subjects = _people(0, n_subjects=12, per_subject=3)
    splits = clf._subject_splits(x.index, (y == "control").to_numpy().astype(int),
                                 ["case", "control"], subjects, 3, 2, 0)
    assert len(splits) == 6
    for repeat in range(2):
        tested = np.concatenate([test for _, test in splits[3 * repeat:3 * repeat + 3]])
        assert sorted(tested) == list(range(36))  # every sample held out once per repeat
    for train, test in splits:
        assert not set(subjects.iloc[train]) & set(subjects.iloc[test])


def test_grouped_folds_need_enough_subjects_per_class() -> None:
    x, y, subjects = _people(0, n_subjects=6, per_subject=4)
    with pytest.raises(ValidationError, match=r"with folds grouped by subject every class needs "
                                              r"at least n_splits=4 subjects; 'case' has 3"):
        cross_validate_forest(x, y, feature_set="m", n_splits=4, subjects=subjects)
    with pytest.raises(ValidationError, match=r"1 labelled sample\(s\) have no subject: s0"):
        cross_validate_forest(x, y, feature_set="m", n_splits=2, subjects=subjects.drop("s0"))
