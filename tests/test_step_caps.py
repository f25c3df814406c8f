"""Rollout step caps: what a capped τ² episode is, how it is scored, and where the caps are set."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ppol_nb.evolution.config import EvolutionConfig
from ppol_nb.evolution.evaluator import score_episodes
from ppol_nb.fitness import FEATURES, fingerprint_frame, user_turns
from ppol_nb.fitness.coverage import CoverageReference
from ppol_nb.fitness.discriminator import train_discriminator
from ppol_nb.fitness.score import FitnessModel
from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.runner import EpisodeSpec, run_episodes
from ppol_nb.simulation.step_caps import DEFAULT_MAX_STEPS, EVAL_MAX_STEPS, TRAIN_MAX_STEPS

SPEC = EpisodeSpec("retail", "0")  # an exchange: about 16 messages uncapped


def _model() -> FitnessModel:
    rng = np.random.default_rng(0)
    H, S = rng.normal(0, 1, (40, len(FEATURES))), rng.normal(2, 1, (40, len(FEATURES)))
    return FitnessModel(train_discriminator(H, S), CoverageReference.from_points(H), H.mean(axis=0))


def test_the_paper_caps():
    assert (TRAIN_MAX_STEPS, EVAL_MAX_STEPS, DEFAULT_MAX_STEPS) == (20, 30, 100)


def test_a_capped_episode_ends_with_max_steps_reward_zero_and_is_still_scored(tmp_path):
    df = run_episodes([SPEC], OfflineBackend(), tmp_path / "capped", max_steps=6, progress=False)
    capped = df.iloc[0]
    assert pd.isna(capped["error"])  # not an error
    assert capped["termination_reason"] == "max_steps" and capped["reward"] == 0.0 and capped["max_steps"] == 6
    assert 7 <= len(capped["messages"]) <= 8  # greeting + 6 steps (+1 to answer a pending tool call)
    turns = user_turns(list(capped["messages"]))
    assert turns  # the user spoke before the cap
    frame = fingerprint_frame(df)
    assert len(frame) == 1 and frame.loc[0, "words_per_turn"] > 0
    batch = score_episodes(_model(), df, ["0"], (0.5, 0.5))
    assert batch.n_episodes == 1 and len(batch.frame) == 1 and batch.episode_errors == 0
    assert batch.success_rate == 0.0 and 0.0 <= batch.score <= 1.0
    full = run_episodes([SPEC], OfflineBackend(), tmp_path / "full", progress=False).iloc[0]
    assert full["termination_reason"] == "user_stop" and len(full["messages"]) > 8


def test_resume_reuses_an_episode_only_under_the_same_cap(tmp_path):
    backend = OfflineBackend()
    first = run_episodes([SPEC], backend, tmp_path, max_steps=6, progress=False)
    again = run_episodes([SPEC], backend, tmp_path, max_steps=6, progress=False)
    lines = (tmp_path / "episodes.jsonl").read_text().splitlines()
    assert len(lines) == 1 and again.iloc[0]["duration_s"] == first.iloc[0]["duration_s"]
    longer = run_episodes([SPEC], backend, tmp_path, max_steps=DEFAULT_MAX_STEPS, progress=False)
    assert len((tmp_path / "episodes.jsonl").read_text().splitlines()) == 2
    assert longer.iloc[0]["max_steps"] == DEFAULT_MAX_STEPS and longer.iloc[0]["termination_reason"] == "user_stop"
    assert json.loads(lines[0])["max_steps"] == 6


@pytest.mark.parametrize("bad", [0, -3, True, 2.5, "20"])
def test_run_episodes_rejects_a_bad_cap(tmp_path, bad):
    with pytest.raises(ValueError, match="max_steps"):
        run_episodes([SPEC], OfflineBackend(), tmp_path, max_steps=bad, progress=False)


def test_evolution_config_carries_the_caps(tmp_path):
    paper = EvolutionConfig.profile("paper")
    assert (paper.train_max_steps, paper.val_max_steps) == (20, 30)
    assert EvolutionConfig.profile("ci").train_max_steps == 20
    path = tmp_path / "run.yaml"
    path.write_text("evolution:\n  train_max_steps: 15\n  val_max_steps: 25\n")
    loaded = EvolutionConfig.from_yaml(path, base="ci")
    assert (loaded.train_max_steps, loaded.val_max_steps) == (15, 25)
    # A cap changes every fitness value: a resumed run must keep it.
    assert loaded.decision_diff(EvolutionConfig.profile("ci")) == {"train_max_steps": (15, 20),
                                                                  "val_max_steps": (25, 30)}
    with pytest.raises(ValueError, match="val_max_steps"):
        paper.replace(val_max_steps=0)
