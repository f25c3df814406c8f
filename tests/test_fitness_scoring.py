"""Discriminator, Chamfer coverage, Dice alignment and the combined score."""

from __future__ import annotations

import numpy as np
import pytest

from ppol_nb.fitness import FEATURES
from ppol_nb.fitness.alignment import alignment, dice
from ppol_nb.fitness.coverage import CoverageReference, chamfer_error, reference_spread
from ppol_nb.fitness.discriminator import FrozenError, HumanLikenessDiscriminator
from ppol_nb.fitness.score import FitnessModel, lambda_schedule

D = len(FEATURES)


def cloud(n, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(shift, 1.0, size=(n, D))


def test_discriminator_separates_separable_and_not_identical():
    disc = HumanLikenessDiscriminator().fit(cloud(200, 0, 1), cloud(200, 4, 2))
    sep = disc.evaluate(cloud(100, 0, 3), cloud(100, 4, 4))
    assert sep["roc_auc"] > 0.99 and sep["accuracy"] > 0.95 and sep["f1"] > 0.95
    same = HumanLikenessDiscriminator().fit(cloud(300, 0, 5), cloud(300, 0, 6)).evaluate(cloud(300, 0, 7), cloud(300, 0, 8))
    assert abs(same["roc_auc"] - 0.5) < 0.08


def test_discriminator_is_deterministic_persisted_and_frozen(tmp_path):
    a = HumanLikenessDiscriminator().fit(cloud(80, 0, 1), cloud(80, 1, 2), manifest={"corpus": "test"})
    b = HumanLikenessDiscriminator().fit(cloud(80, 0, 1), cloud(80, 1, 2))
    X = cloud(20, 0.5, 9)
    assert np.array_equal(a.predict_proba_human(X), b.predict_proba_human(X))
    a.freeze().save(tmp_path / "disc")
    loaded = HumanLikenessDiscriminator.load(tmp_path / "disc")
    assert np.array_equal(loaded.predict_proba_human(X), a.predict_proba_human(X))
    assert loaded.frozen and loaded.manifest["corpus"] == "test" and loaded.manifest["n_train_human"] == 80
    with pytest.raises(FrozenError):
        loaded.fit(cloud(10), cloud(10, 1))
    imp = a.importances()
    assert list(sorted(imp.index)) == sorted(FEATURES) and abs(imp.sum() - 1) < 1e-9


def test_discriminator_rejects_wrong_width():
    with pytest.raises(ValueError, match="19"):
        HumanLikenessDiscriminator().fit(np.zeros((3, 5)), np.ones((3, 5)))


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
    disc = HumanLikenessDiscriminator().fit(H, cloud(60, 3, 2))
    model = FitnessModel(disc, CoverageReference.from_points(H), H.mean(axis=0), info={"corpus": "fake"})
    X = cloud(12, 1, 3)
    tasks = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    row = model.row(X, tasks, n_boot=20)
    assert row["score"] == pytest.approx(0.5 * row["hl"] + 0.5 * row["coverage"])
    assert row["n_tasks"] == 3 and row["n_episodes"] == 12 and row["corpus"] == "fake"
    assert row["USI_std"] >= 0 and 0 <= row["hl"] <= 1 and 0 <= row["coverage"] <= 1
    assert model.row(X, tasks, n_boot=20) == row  # deterministic
    assert model.fitness(X, tasks, lambdas=lambda_schedule(5)) == pytest.approx(0.75 * row["hl"] + 0.25 * row["coverage"])
