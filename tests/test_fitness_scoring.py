"""Discriminator, Chamfer coverage, Dice alignment and the combined score."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from ppol_nb.fitness import FEATURES
from ppol_nb.fitness.alignment import alignment, dice
from ppol_nb.fitness.coverage import CoverageReference, chamfer_error, reference_spread
from ppol_nb.fitness.discriminator import (
    HUMAN,
    SIMULATOR,
    HumanLikenessDiscriminator,
    labelled,
    load_discriminator,
    save_discriminator,
    train_discriminator,
)
from ppol_nb.fitness.score import FitnessModel, lambda_schedule

D = len(FEATURES)


def cloud(n, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(shift, 1.0, size=(n, D))


def fit(X_human, X_simulator, **params) -> HumanLikenessDiscriminator:
    return HumanLikenessDiscriminator(**params).fit(*labelled(X_human, X_simulator))


def test_discriminator_separates_separable_and_not_identical():
    disc = fit(cloud(200, 0, 1), cloud(200, 4, 2))
    sep = disc.evaluate(cloud(100, 0, 3), cloud(100, 4, 4))
    assert sep["roc_auc"] > 0.99 and sep["accuracy"] > 0.95 and sep["f1"] > 0.95
    same = fit(cloud(300, 0, 5), cloud(300, 0, 6)).evaluate(cloud(300, 0, 7), cloud(300, 0, 8))
    assert abs(same["roc_auc"] - 0.5) < 0.08


def test_discriminator_is_deterministic_persisted_and_frozen(tmp_path):
    a = train_discriminator(cloud(80, 0, 1), cloud(80, 1, 2))
    b = train_discriminator(cloud(80, 0, 1), cloud(80, 1, 2))
    X = cloud(20, 0.5, 9)
    assert np.array_equal(a.predict_proba_human(X), b.predict_proba_human(X))
    save_discriminator(a, tmp_path / "disc", {"corpus": "test"})
    loaded, manifest = load_discriminator(tmp_path / "disc")
    assert np.array_equal(loaded.predict_proba_human(X), a.predict_proba_human(X))
    assert manifest["corpus"] == "test" and manifest["n_train_human"] == 80 and manifest["frozen"]
    assert manifest["params"] == {"n_estimators": 200, "max_depth": 12, "class_weight": "balanced",
                                  "random_state": 42}
    assert isinstance(loaded, FrozenEstimator)
    assert loaded.fit(cloud(10), np.zeros(10)) is loaded  # scikit-learn's freeze: refitting is a no-op
    assert np.array_equal(loaded.predict_proba_human(X), a.predict_proba_human(X))
    imp = a.importances()
    assert list(sorted(imp.index)) == sorted(FEATURES) and abs(imp.sum() - 1) < 1e-9


def test_discriminator_rejects_wrong_width():
    with pytest.raises(ValueError, match="19"):
        fit(np.zeros((3, 5)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="19"):
        fit(cloud(20), cloud(20, 1)).predict_proba_human(np.zeros((2, 18)))


def test_discriminator_follows_scikit_learn_conventions():
    disc = HumanLikenessDiscriminator(n_estimators=10)
    assert disc.get_params() == {"n_estimators": 10, "max_depth": 12, "class_weight": "balanced",
                                 "random_state": 42, "features": FEATURES}
    assert clone(disc).set_params(max_depth=3).max_depth == 3 and disc.max_depth == 12
    with pytest.raises(NotFittedError):
        check_is_fitted(disc)
    X, y = labelled(cloud(40, 0, 1), cloud(40, 2, 2))
    disc.fit(X, y)
    check_is_fitted(disc)
    assert list(disc.classes_) == [SIMULATOR, HUMAN] and disc.n_features_in_ == len(FEATURES)
    assert list(disc.class_count_) == [40, 40]
    assert np.array_equal(disc.predict(X), disc.classes_[disc.predict_proba(X).argmax(axis=1)])
    assert np.array_equal(disc.predict_proba_human(X), disc.predict_proba(X)[:, 1])
    frame = pd.DataFrame(X[:, ::-1], columns=FEATURES[::-1]).assign(task_id="t")  # columns picked by name
    assert np.array_equal(disc.predict_proba_human(frame), disc.predict_proba_human(X))


# The checks feed data of many widths; the paper's instance takes exactly the 19 fingerprint columns
# (features=FEATURES, tested above), so the class is checked in its generic form, with no expected failures.
@parametrize_with_checks([HumanLikenessDiscriminator(n_estimators=10, features=None)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_a_fitness_model_holds_its_discriminator_frozen():
    H = cloud(30, 0, 1)
    disc = fit(H, cloud(30, 2, 2))
    model = FitnessModel(disc, CoverageReference.from_points(H), H.mean(axis=0))
    assert isinstance(model.discriminator, FrozenEstimator) and model.discriminator.estimator is disc
    X = cloud(5, 1, 3)
    before = model.discriminator.predict_proba_human(X)
    model.discriminator.fit(*labelled(cloud(30, 5, 4), cloud(30, -5, 5)))  # a no-op
    assert np.array_equal(model.discriminator.predict_proba_human(X), before)
    with pytest.raises(NotFittedError):
        FitnessModel(HumanLikenessDiscriminator(), CoverageReference.from_points(H), H.mean(axis=0))


def test_a_discriminator_of_an_unknown_format_is_refused(tmp_path):
    import joblib

    save_discriminator(train_discriminator(cloud(20), cloud(20, 1)), tmp_path / "disc")
    joblib.dump({"format": 99, "estimator": None}, tmp_path / "disc" / "model.joblib")
    with pytest.raises(ValueError, match=r"format 99, this code reads 2 and migrates 1"):
        load_discriminator(tmp_path / "disc")


def test_a_format_1_discriminator_is_migrated_with_the_same_predictions(tmp_path):
    import joblib
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ppol_nb.fitness.fingerprint import FEATURE_VERSION

    X, y = labelled(cloud(60, 0, 1), cloud(60, 1.5, 2))
    # What the pre-estimator code saved: a fitted pipeline, its params and a manifest.
    params = {"n_estimators": 200, "max_depth": 12, "class_weight": "balanced", "random_state": 42}
    pipeline = make_pipeline(StandardScaler(), RandomForestClassifier(**params, n_jobs=1)).fit(X, y)
    (tmp_path / "old").mkdir()
    joblib.dump({"model": pipeline, "params": params, "frozen": True}, tmp_path / "old" / "model.joblib")
    (tmp_path / "old" / "manifest.json").write_text(json.dumps(
        {"n_train_human": 60, "n_train_simulator": 60, "feature_version": FEATURE_VERSION, "params": params}))
    old, manifest = load_discriminator(tmp_path / "old")
    T = cloud(30, 0.7, 3)
    assert np.array_equal(old.predict_proba_human(T), pipeline.predict_proba(T)[:, 1])
    # ... and the estimator refitted on the same data gives the same numbers
    assert np.array_equal(fit(cloud(60, 0, 1), cloud(60, 1.5, 2)).predict_proba_human(T), pipeline.predict_proba(T)[:, 1])
    save_discriminator(old, tmp_path / "new", manifest)
    again, _ = load_discriminator(tmp_path / "new")
    assert np.array_equal(again.predict_proba_human(T), pipeline.predict_proba(T)[:, 1])
    assert list(again.class_count_) == [60, 60]


def test_coverage_is_one_for_the_reference_and_decreases_as_points_move_away():
    H = cloud(40, 0, 1)
    ref = CoverageReference.from_points(H)
    assert chamfer_error(H, H) == 0.0 and ref.score(H) == 1.0
    scores = [ref.score(H + d) for d in (0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 50.0)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores  # strictly, until the clip at 0
    assert scores[-1] == 0.0
    # A single fingerprint still gets a score (one rollout per task).
    assert 0.0 <= ref.score(H[:1]) < 1.0


def test_chamfer_by_hand():
    H = np.array([[0.0, 0.0], [2.0, 0.0]])
    F = np.array([[0.0, 1.0]])
    # humans -> nearest episode: 1 and sqrt(5); episode -> nearest human: 1
    assert chamfer_error(F, H) == pytest.approx((1 + 5 ** 0.5) / 2 + 1)
    assert reference_spread(H) == 2.0


def test_dice_and_usi():
    assert dice(0, 0) == 1.0 and dice(1, 3) == pytest.approx(0.5) and dice(2, 2) == 1.0
    X = cloud(10, 1, 1)
    al = alignment(X, X.mean(axis=0))
    assert al["USI"] == pytest.approx(100.0) and set(al) == {"D1", "D2", "D3", "D4", "USI"}


def test_lambda_schedule_matches_the_paper_ramp():
    assert lambda_schedule(5) == (0.75, 0.25)
    assert lambda_schedule(8) == pytest.approx((0.6, 0.4))
    assert lambda_schedule(10) == (0.5, 0.5)


def test_fitness_row_is_half_hl_plus_half_coverage():
    H = cloud(60, 0, 1)
    disc = train_discriminator(H, cloud(60, 3, 2))
    model = FitnessModel(disc, CoverageReference.from_points(H), H.mean(axis=0), info={"corpus": "fake"})
    X = cloud(12, 1, 3)
    tasks = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    row = model.row(X, tasks, n_boot=20)
    assert row["score"] == pytest.approx(0.5 * row["hl"] + 0.5 * row["coverage"])
    assert row["n_tasks"] == 3 and row["n_episodes"] == 12 and row["corpus"] == "fake"
    assert row["USI_std"] >= 0 and 0 <= row["hl"] <= 1 and 0 <= row["coverage"] <= 1
    assert model.row(X, tasks, n_boot=20) == row  # deterministic
    assert model.fitness(X, tasks, lambdas=lambda_schedule(5)) == pytest.approx(0.75 * row["hl"] + 0.25 * row["coverage"])
