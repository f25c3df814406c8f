"""Conditions end to end offline: base, dp, seed and trait suites through the CLI and runner."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ppol_nb.cli import main
from ppol_nb.personas.conditions import condition_specs
from ppol_nb.studies.search import condition_summary, moved_features
from ppol_nb.offline.generator import OfflineGeneratorWorld
from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.outcomes import failure_reason
from ppol_nb.simulation.runner import run_episodes
from ppol_nb.simulation.store import EpisodeStore


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_cli_seed_condition_runs_personas_offline(domain, tmp_path, capsys):
    out = tmp_path / "seed"
    assert main(["rollout", "--domain", domain, "--split", "train", "--condition", "seed", "--n-personas", "5",
                 "--limit", "2", "--out", str(out), "--quiet"]) == 0
    assert "episodes=10" in capsys.readouterr().out
    recs = EpisodeStore(out).load()
    assert len(recs) == 10 and all(r["condition"] == "seed" for r in recs)
    personas = {r["persona"]["persona_id"] for r in recs}
    assert len(personas) == 10  # 5 distinct personas per task, ids unique across tasks
    assert all(r["persona"]["instruction"] and "preservation" in r["persona"] for r in recs)
    assert all(r["persona"]["source"].startswith("seed:") for r in recs)


def test_conditions_move_features_and_are_reported(tmp_path):
    world = OfflineGeneratorWorld(0)
    backend = OfflineBackend()
    frames = []
    for cond in ("base", "dp", "seed", "trait:impatient"):
        specs, failures = condition_specs(cond, "retail", "train", n_personas=3, limit=3, world=world,
                                          cache_dir=tmp_path / "personas")
        assert not failures
        frames.append(run_episodes(specs, backend, tmp_path / cond, progress=False))
    df = pd.concat(frames, ignore_index=True)
    summary = condition_summary(df).set_index("condition")
    assert summary.loc["base", "episodes"] == 3 and summary.loc["seed", "episodes"] == 9
    assert pd.isna(summary.loc["base", "preservation_rate"]) and summary.loc["seed", "preservation_rate"] > 0.5
    moved = moved_features(df)
    assert set(moved.condition) == {"dp", "seed", "trait:impatient"}
    seed_moved = moved[moved.condition == "seed"]
    assert len(seed_moved) == 5 and (seed_moved.effect_size > 0).all()


def test_failure_reasons():
    base = {"reward": 0.0, "termination_reason": "user_stop", "error": None}
    assert failure_reason({**base, "reward": 1.0}) is None
    assert failure_reason({**base, "error": "boom"}) == "error"
    transfer = [{"role": "assistant", "content": None, "tool_calls": [{"name": "transfer_to_human_agents"}]}]
    assert failure_reason({**base, "messages": transfer}) == "agent_gave_up"
    assert failure_reason({**base, "messages": [{"role": "user", "content": "bye ###STOP###"}]}) == "user_gave_up"
    offered = [{"role": "assistant", "content": "Done. Is there anything else?"}]
    assert failure_reason({**base, "messages": offered}) == "agent_wrong"
    assert failure_reason({**base, "termination_reason": "max_steps", "messages": []}) == "max_steps"


def test_unknown_condition_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown condition"):
        condition_specs("sarcastic", "retail")
    with pytest.raises(ValueError, match="generator world"):
        condition_specs("seed", "retail", limit=1)
