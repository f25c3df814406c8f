"""Fitness ablations: variant configs, the resumable ``ppol-nb ablate`` sweep, its statistics and cost.

Offline throughout: real τ² tasks, the offline backend and a small fitness model
(6 tasks) trained once per module; searches of one iteration on 6 train tasks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evolution_toys import SEED_PROGRAM, ToyEvaluator, ToyMutator

from ppol_nb.evolution import EvolutionConfig, EvolutionEngine
from ppol_nb.evolution.archive import Island
from ppol_nb.evolution.config import BUDGET_FIELDS
from ppol_nb.evolution.curriculum import minibatch_for
from ppol_nb.evolution.database import RunDatabase
from ppol_nb.evolution.interfaces import ProgramRecord
from ppol_nb.evolution.variants import PAPER_LAMBDA_B, VARIANTS, parse_variants, variant_config
from ppol_nb.fitness import FEATURES
from ppol_nb.studies import ablation

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--domain", "retail", "--profile", "ci", "--max-iterations", "1", "--train-limit", "6",
         "--n-personas", "2", "--quiet"]

# What each variant changes, by name; nothing else may differ from the paper.
EXPECTED = {"paper": set(), "hl_only": {"lambda_b_schedule"}, "coverage_only": {"lambda_b_schedule"},
            "fixed_lambda": {"lambda_b_schedule"}, "no_reflection": {"reflection"}, "no_map_elites": {"map_elites"},
            "no_curriculum": {"curriculum", "lambda_b_schedule"}, "one_island": {"islands"},
            "paired": {"comparison", "confirm_evaluations"}}


# -- variants ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["ci", "notebook", "paper"])
def test_every_variant_differs_from_paper_exactly_in_its_name(profile):
    assert set(VARIANTS) == set(EXPECTED)
    paper = variant_config("paper", profile, seed=3)
    assert paper == EvolutionConfig.profile(profile, seed=3)
    pool = [f"t{i}" for i in range(24)]
    for name in VARIANTS:
        config = variant_config(name, profile, seed=3)
        assert set(paper.decision_diff(config)) == EXPECTED[name], name
        assert all(getattr(config, f) == getattr(paper, f) for f in BUDGET_FIELDS), name  # same budget
        for t in range(40):  # three sweeps of the pool: every curriculum phase
            ref = minibatch_for(pool, t, 5, paper.curriculum, paper.lambda_b_schedule)
            mb = minibatch_for(pool, t, 5, config.curriculum, config.lambda_b_schedule)
            assert mb.task_ids == ref.task_ids
            assert mb.n == (10 if name == "no_curriculum" else ref.n), (name, t)
            lambdas = {"hl_only": (1.0, 0.0), "coverage_only": (0.0, 1.0), "fixed_lambda": (0.5, 0.5)}
            assert mb.lambdas == pytest.approx(lambdas.get(name, ref.lambdas)), (name, t)
    assert PAPER_LAMBDA_B == pytest.approx((0.25, 0.4, 0.5))
    assert sorted({round(minibatch_for(pool, t).lambda_b, 9) for t in range(40)}) == [0.25, 0.4, 0.5]


def test_variant_names_and_component_fields_are_checked():
    assert parse_variants("paper, hl_only,paper") == ["paper", "hl_only"]
    with pytest.raises(ValueError, match="hl_onyl"):
        parse_variants("paper,hl_onyl")
    with pytest.raises(ValueError, match="unknown variant"):
        variant_config("nope")
    for bad in ({"curriculum": ()}, {"curriculum": (5, 0)}, {"lambda_b_schedule": (1.5,)},
                {"lambda_b_schedule": ()}, {"reflection": "no"}, {"map_elites": 0}):
        with pytest.raises(ValueError, match="invalid EvolutionConfig"):
            EvolutionConfig.profile("ci", **bad)
    # A stored config from before these fields existed reads as the paper's components.
    old = {k: v for k, v in EvolutionConfig.profile("ci").to_dict().items()
           if k not in ("curriculum", "lambda_b_schedule", "reflection", "map_elites")}
    assert EvolutionConfig.from_dict(old).decision_diff(EvolutionConfig.profile("ci")) == {}


def _record(i: int, score: float, hl: float) -> ProgramRecord:
    return ProgramRecord(id=f"p{i}", source=f"# {i}", parent_id=None, island=0, iteration=i, generation=0,
                         metrics={"score": score, "hl": hl, "coverage": 0.5})


def test_plain_elitist_island_keeps_the_best_without_a_grid():
    grid, plain = Island(0, 5, 2, ("hl", "coverage")), Island(0, 5, 2, ("hl", "coverage"), grid=False)
    records = [_record(0, 0.1, 0.05), _record(1, 0.5, 0.45), _record(2, 0.3, 0.95), _record(3, 0.4, 0.65)]
    for r in records:
        grid.add(r)
        plain.add(r)
    assert plain.elites == [] and {r.id for r in plain.members} == {"p1", "p3"}  # the two best ratings
    assert {r.id for r in grid.members} >= {"p0", "p2"}  # grid elites of their cells are never evicted
    import random

    rng = random.Random(0)
    assert all(plain.sample_parent(rng, 1.0, 2).id in {"p1", "p3"} for _ in range(20))


def test_engine_without_map_elites_keeps_no_grid_and_resumes_the_same(tmp_path):
    config = variant_config("no_map_elites", "ci", seed=1).replace(max_iterations=8, early_stop_patience=None)
    engine = EvolutionEngine(config, ToyEvaluator(), ToyMutator(), tmp_path / "plain", SEED_PROGRAM)
    engine.run(progress=False)
    assert all(not island.elites for island in engine.archive.islands)
    assert all(len(island) <= config.island_capacity for island in engine.archive.islands)
    members = engine.archive.membership()
    engine.db.close()
    again = EvolutionEngine(config, ToyEvaluator(), ToyMutator(), tmp_path / "plain", SEED_PROGRAM, resume=True)
    assert again.archive.membership() == members  # replayed without a grid, as it was run
    with_grid = EvolutionEngine(variant_config("paper", "ci", seed=1).replace(max_iterations=8),
                                ToyEvaluator(), ToyMutator(), tmp_path / "grid", SEED_PROGRAM)
    with_grid.run(progress=False)
    assert any(island.elites for island in with_grid.archive.islands)
    again.db.close()
    with pytest.raises(ValueError, match="map_elites"):  # a decision field: no resume under the other rule
        EvolutionEngine(config.replace(map_elites=True), ToyEvaluator(), ToyMutator(), tmp_path / "plain",
                        SEED_PROGRAM, resume=True)


# -- statistics ------------------------------------------------------------------------------------


def _units(variants: dict, seeds=(0, 1, 2), tasks=("a", "b", "c", "d"), seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in seeds:
        for t in tasks:
            base = {"task_id": t, "seed": s, "domain": "retail", "n_episodes": 5, "n_ok": 4,
                    "n_success": int(rng.integers(0, 6)), "p_sum": float(rng.uniform(0, 4)),
                    "coverage": float(rng.uniform(0, 1)),
                    **{f"f_{f}": float(rng.uniform(0, 8)) for f in FEATURES}}
            for name, shift in variants.items():
                rows.append({**base, "variant": name, "p_sum": base["p_sum"] + shift * base["n_ok"]})
    return pd.DataFrame(rows)


def test_bootstrap_intervals_contain_the_estimate_and_self_differences_are_zero():
    units = _units({"paper": 0.0, "copy": 0.0, "better": 0.2})
    means = {"retail": np.full(len(FEATURES), 2.0)}
    table = ablation.intervals(units, means, n_resamples=500)
    assert set(table.metric) == set(ablation.METRICS) and len(table) == 3 * len(ablation.METRICS)
    assert (table.low <= table.estimate + 1e-12).all() and (table.estimate <= table.high + 1e-12).all()
    assert (table.high > table.low).all() and (table.n_cells == 12).all()
    # The full-sample estimate is the benchmark's metric of all cells.
    paper = units[units.variant == "paper"]
    hl = table[(table.variant == "paper") & (table.metric == "hl")].estimate.item()
    assert hl == pytest.approx(paper.p_sum.sum() / paper.n_ok.sum())

    diffs = ablation.paired_differences(units, means, n_resamples=500).set_index(["variant", "metric"])
    for v in ("paper", "copy"):
        d = diffs.loc[v]
        assert (d.difference == 0).all() and (d.low == 0).all() and (d.high == 0).all()
    better = diffs.loc["better"]
    # Every episode's P(human) is 0.2 higher on the same cells: HL +0.2, score +0.1 on every resample.
    assert better.loc["hl", ["difference", "low", "high"]].to_numpy() == pytest.approx([0.2] * 3)
    assert better.loc["score", "difference"] == pytest.approx(0.1)
    assert better.loc["coverage", ["difference", "low", "high"]].to_numpy() == pytest.approx([0.0] * 3)


# -- the sweep end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitness_dir(tmp_path_factory):
    from ppol_nb.backends import OfflineBackend

    out = tmp_path_factory.mktemp("ablation-fitness")
    return ablation.shared_fitness(out, "retail", OfflineBackend(), train_limit=6, baseline_limit=6)


def test_ablate_end_to_end_writes_the_tidy_csv(fitness_dir, tmp_path, capsys):
    from ppol_nb.cli import main

    out = tmp_path / "sweep"
    assert main(["ablate", *SMALL, "--variants", "paper,no_reflection", "--seeds", "0", "--benchmark-limit", "2",
                 "--fitness", str(fitness_dir), "--out", str(out)]) == 0
    assert "offline stand-ins" in capsys.readouterr().out
    csv = pd.read_csv(out / "ablation.csv")
    assert list(csv.columns) == ["variant", "seed", "domain", "metric", "value"]
    assert set(csv.variant) == {"paper", "no_reflection"} and set(csv.seed) == {0} and set(csv.domain) == {"retail"}
    assert set(ablation.METRICS) | set(ablation.COST_METRICS) <= set(csv.metric)
    values = csv.set_index(["variant", "metric"]).value
    for v in ("paper", "no_reflection"):
        assert values[(v, "score")] == pytest.approx(0.5 * values[(v, "hl")] + 0.5 * values[(v, "coverage")])
        assert values[(v, "cost_usd")] == 0 and values[(v, "llm_calls")] > 0  # offline: calls counted, $0

    # The run directories are ordinary evolution runs made with each variant's config.
    for v, reflects in (("paper", True), ("no_reflection", False)):
        run = ablation.run_dir_for(out, "retail", v, 0)
        db = RunDatabase(run / "evolution.sqlite")
        try:
            programs = [p for p in db.programs() if p.ok]
            assert db.get_meta("config")["reflection"] is reflects
        finally:
            db.close()
        assert programs and all(bool(p.artifacts.get("evaluator_reflection")) is reflects for p in programs)
        marker = json.loads((run / ablation.DONE_FILE).read_text())
        per_task = pd.read_csv(run / "heldout" / ablation.PER_TASK_FILE, dtype={"task_id": str})
        assert len(per_task) == 2 and marker["program"]["task_ids"] == list(per_task.task_id)
        recomputed = ablation.metrics_of(per_task, marker["human_mean"])  # = the benchmark's row
        assert recomputed == pytest.approx(marker["metrics"], nan_ok=True)
    assert pd.read_csv(out / "reference" / "retail" / "benchmark.csv").condition.tolist()[:4] == [
        "Humans", "Base-simulator", "DP Personas", "PPol: Initial"]

    table = ablation.variant_table(out, n_resamples=300)
    finite = table.dropna(subset=["low", "high"])
    assert len(finite) and ((finite.low <= finite.estimate + 1e-9) & (finite.estimate <= finite.high + 1e-9)).all()
    paper = table[table.variant == "paper"]
    assert (paper.vs_paper == 0).all() and (paper.vs_paper_low == 0).all() and (paper.vs_paper_high == 0).all()
    costs = ablation.cost_table(out)
    assert set(costs.variant) == {"paper", "no_reflection"} and (costs.runs == 1).all()
    assert (costs.cost_usd == 0).all() and costs.note.str.contains("offline").all()

    # A sweep with other settings in the same directory is refused before anything runs.
    assert main(["ablate", *SMALL, "--variants", "paper", "--seeds", "0", "--benchmark-limit", "1",
                 "--fitness", str(fitness_dir), "--out", str(out)]) == 2
    assert "benchmark_limit" in capsys.readouterr().err


def test_ablate_survives_kill_9_and_never_reruns_a_finished_run(fitness_dir, tmp_path):
    from ppol_nb.cli import main

    out = tmp_path / "sweep"
    args = ["ablate", *SMALL, "--variants", "paper,hl_only", "--seeds", "0", "--benchmark-limit", "1",
            "--fitness", str(fitness_dir), "--no-reference", "--out", str(out)]
    first = ablation.run_dir_for(out, "retail", "paper", 0)
    second = ablation.run_dir_for(out, "retail", "hl_only", 0)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "ppol_nb.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not (first / ablation.DONE_FILE).exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the first run never finished"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    finished = {p: p.stat().st_mtime_ns for p in first.rglob("*") if p.is_file()}
    assert not (second / ablation.DONE_FILE).exists()  # killed mid-sweep

    assert main(args) == 0
    # Nothing of the finished run was touched; the killed one completed.
    assert {p: p.stat().st_mtime_ns for p in first.rglob("*") if p.is_file()} == finished
    assert (second / ablation.DONE_FILE).exists()
    db = RunDatabase(second / "evolution.sqlite")
    try:
        assert [p.iteration for p in db.programs()] == [0, 1]  # each iteration evaluated once
        assert all(p.metrics["lambda_b"] == 0.0 for p in db.programs() if p.ok)  # hl_only's fitness
    finally:
        db.close()
    csv = pd.read_csv(out / "ablation.csv")
    assert set(csv.variant) == {"paper", "hl_only"}
    assert csv.groupby("variant").size().nunique() == 1  # one full set of metrics per run


def test_shared_fitness_is_trained_once(fitness_dir):
    from ppol_nb.backends import OfflineBackend

    before = {p: p.stat().st_mtime_ns for p in fitness_dir.rglob("*") if p.is_file()}
    assert (fitness_dir / "fitness.json").exists() and fitness_dir == fitness_dir.parent.parent / "fitness" / "retail"
    again = ablation.shared_fitness(fitness_dir.parent.parent, "retail", OfflineBackend(), train_limit=6,
                                    baseline_limit=6)
    assert again == fitness_dir and {p: p.stat().st_mtime_ns for p in again.rglob("*") if p.is_file()} == before


def test_ablate_on_a_paid_endpoint_needs_yes(tmp_path, capsys):
    from ppol_nb.cli import main

    code = main(["ablate", "--domain", "airline", "--backend", "openai", "--model", "m", "--profile", "paper",
                 "--variants", "paper,one_island", "--out", str(tmp_path / "sweep")])
    assert code == 2 and "--yes" in capsys.readouterr().out and not (tmp_path / "sweep").exists()
    with pytest.raises(SystemExit):  # an unknown variant is an argument error
        main(["ablate", "--domain", "airline", "--variants", "paper,hl_onyl", "--out", str(tmp_path / "x")])
    assert "hl_onyl" in capsys.readouterr().err


def test_a_failing_run_does_not_stop_the_sweep_and_fails_the_command(fitness_dir, tmp_path, monkeypatch, capsys):
    from ppol_nb.cli import main

    attempted = []

    def run_one(self, variant, seed, fitness, model):
        attempted.append(variant)
        if variant == "hl_only":
            raise RuntimeError("endpoint down")
        return "finished"

    monkeypatch.setattr(ablation.AblationSweep, "run_one", run_one)
    out = tmp_path / "sweep"
    assert main(["ablate", *SMALL, "--variants", "hl_only,paper", "--seeds", "0", "--no-reference",
                 "--fitness", str(fitness_dir), "--out", str(out)]) == 1
    assert attempted == ["hl_only", "paper"]  # the sweep went on after the failure
    err = capsys.readouterr().err
    assert "endpoint down" in err and "hl_only seed 0" in err
    assert not list(out.rglob(ablation.DONE_FILE))


def test_run_identity_names_only_the_components_a_variant_changes(tmp_path):
    from ppol_nb.backends import OfflineBackend
    from ppol_nb.evolution.runs import build_run, run_identity
    from ppol_nb.personas.programs import program_source

    backend, seed = OfflineBackend(), program_source("seed")
    components = {"curriculum", "lambda_b_schedule", "reflection", "map_elites"}
    paper = run_identity("retail", backend, variant_config("paper", "ci"), "multiwoz", None, 6, None, seed)
    assert not components & set(paper["config"])  # identities of runs made before these fields still match
    plain = run_identity("retail", backend, variant_config("no_curriculum", "ci"), "multiwoz", None, 6, None, seed)
    assert {k for k in components if k in plain["config"]} == {"curriculum", "lambda_b_schedule"}
    # An evaluator keyword contradicting the config is refused before the directory is touched.
    with pytest.raises(ValueError, match="contradicts the EvolutionConfig"):
        build_run("retail", backend, tmp_path / "run", config=variant_config("paper", "ci"), curriculum=(10,))
    assert not (tmp_path / "run").exists()


# --- notebook 03's study object ---------------------------------------------------------------


def test_ablation_study_refuses_an_unknown_variant_before_anything_runs(tmp_path):
    from ppol_nb.backends import OfflineBackend

    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        ablation.AblationStudy(OfflineBackend(), variants=["paper", "nope"], out=tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()


def test_study_findings_come_from_its_tables(tmp_path, monkeypatch):
    """Which variants differ from paper, and where the judge gap is largest, are read off the tables."""
    from ppol_nb.backends import OfflineBackend

    study = ablation.AblationStudy(OfflineBackend(), variants=["paper", "hl_only", "one_island"], seeds=[0],
                                   out=tmp_path)
    rng = np.random.default_rng(3)
    rows = []
    for variant in study.variants:
        for metric in ablation.METRICS:
            est = float(rng.uniform(0.2, 0.8))
            # hl_only's score is lower than paper's with an interval excluding 0; one_island's interval holds 0
            diff = {"paper": (0.0, 0.0, 0.0), "hl_only": (-0.2, -0.3, -0.1), "one_island": (0.05, -0.1, 0.2)}[variant]
            rows.append({"domain": "retail", "variant": variant, "metric": metric, "estimate": est, "low": est - 0.1,
                         "high": est + 0.1, "n_seeds": 1, "n_tasks": 4, "n_cells": 4, "vs_paper": diff[0],
                         "vs_paper_low": diff[1], "vs_paper_high": diff[2]})
    monkeypatch.setattr(study, "table", lambda: pd.DataFrame(rows))
    study.gaps = pd.DataFrame({"condition": ["paper", "hl_only", "one_island", "Base", "Humans (evaluation half)"],
                               "kind": ["variant"] * 3 + ["reference"] * 2,
                               "gap": [0.1, 0.4, 0.05, 0.02, 0.5], "gap_lo": [0.0, 0.3, -0.1, 0.0, 0.4],
                               "gap_hi": [0.2, 0.5, 0.2, 0.04, 0.6], "hl_search": [0.6, 0.9, 0.5, 0.1, 0.99],
                               "hl_transfer": [0.5, 0.5, 0.45, 0.08, 0.49]})
    text = study.findings()
    differ = next(line for line in text.splitlines() if "Differ from `paper`" in line)
    assert "`hl_only` score -0.200 [-0.300, -0.100]" in differ and "one_island" not in differ
    assert "largest search − transfer HL gap is +0.500" in text and "for `Humans (evaluation half)`" in text
    assert "Among the variants the gap is largest for `hl_only` (+0.400" in text
    assert "extension of the paper" in text and "offline backend" in text
    assert "0 finished runs" in text
    assert "No run has finished yet: no run has chosen a program." in text


def test_seed_choice_note_counts_runs_that_chose_the_seed_and_variants_that_always_evolved():
    def run(variant, seed, iteration):
        return {"variant": variant, "seed": seed, "program": {"iteration": iteration}}

    runs = [run("paper", 0, 12), run("paper", 1, 5), run("hl_only", 0, 0), run("hl_only", 1, 3),
            run("one_island", 0, 7)]
    note = ablation.seed_choice_note(runs)
    assert note.startswith("1 of 5 runs chose the seed program as their final program; "
                           "2 of 3 variants chose an evolved program on every seed they ran")
    assert "`hl_only` seed 0" in note and "no candidate beat the seed on validation within the budget" in note
    assert "seed chosen" not in ablation.seed_choice_note([run("paper", 0, 4)])
