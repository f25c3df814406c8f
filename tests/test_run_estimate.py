"""The estimate of a search before it runs (ppol_nb.evolution.estimate, ppol-nb estimate) and the
progress line during it: the formula on a hand-counted config, the counted calls per role against a
real loopback search's server log, the CLI against a loopback server, and the progress line's fields."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from fake_openai_server import classify, search_world

from ppol_nb.backends import OfflineBackend
from ppol_nb.cli import main
from ppol_nb.evolution.config import EvolutionConfig
from ppol_nb.evolution.estimate import (
    Scenario,
    count_calls,
    estimate_benchmark,
    estimate_run,
    progress_fields,
    scenario_from_run,
    wall_time,
)
from ppol_nb.llm.latency import CallMeasure, is_latency_probe
from ppol_nb.llm.preflight import is_probe
from ppol_nb.studies.baseline import BaselineStudy

POOL = [f"t{i}" for i in range(10)]
ROLES = ("mutator", "reflection", "generator", "user", "agent")


def small(**kw) -> EvolutionConfig:
    base = {"max_iterations": 3, "parallel_evaluations": 1, "speculative_rescore": False,
            "background_validation": False, "curriculum": (2, 3), "confirm_evaluations": 2, "early_stop_patience": None}
    return EvolutionConfig.profile("ci", **{**base, **kw})


def test_raw_rule_counts_by_hand():
    # pool 10, minibatch 5: t0, t1 at N=2 (tasks 0-4, 5-9), t2, t3 at N=3 (epoch 1); no new best -> only the
    # seed is validated (2 tasks x (N=2, N=3)).
    plan = count_calls(small(comparison="raw"), POOL, 2, Scenario(user_per_episode=1, agent_per_episode=2,
                                                                 new_best_rate=0.0))
    assert plan["fitness_calls"] == {"evaluate": 4, "rescore": 0, "validate": 1}
    assert plan["episodes"] == 10 + 10 + 15 + 15 + 2 * (2 + 3)
    assert plan["calls"] == {"mutator": 3, "reflection": 4, "generator": 5 * 3 * 2 + 5 * 4 * 2 + 2 * (3 + 4),
                             "user": 60, "agent": 120}


def test_paired_rule_counts_pairings_confirmations_and_the_persona_cache():
    # challenger share 1/3 -> only t = 3 is one; it wins (new-best share 1/3 of candidates = every challenger).
    sc = Scenario(user_per_episode=1, agent_per_episode=2, challenger_rate=1 / 3, new_best_rate=1 / 3)
    plan = count_calls(small(comparison="paired"), POOL, 2, sc)
    # seed rescored on contexts 1, 2, 3; challenger 3 and the seed on context 4 (N = 3, tasks 0-4): the seed
    # already has those personas from context 2, so its generation is free.
    assert plan["fitness_calls"] == {"evaluate": 4, "rescore": 5, "validate": 2}
    gen = 70 + 14 + (15 + 20 + 20) + 20 + 0 + 14
    eps = 50 + 10 + (10 + 15 + 15) + (15 + 15) + 10
    assert plan["calls"] == {"mutator": 3, "reflection": 4, "generator": gen, "user": eps, "agent": 2 * eps}
    assert plan["new_bests"] == 1
    # a candidate that fails before evaluation (share 1/3: t = 3) costs its mutator call only
    failed = count_calls(small(comparison="raw"), POOL, 2, Scenario(user_per_episode=1, agent_per_episode=2,
                                                                   new_best_rate=0.0, failure_rate=1 / 3))
    assert failed["fitness_calls"]["evaluate"] == 3 and failed["calls"]["mutator"] == 3


def test_wall_time_is_the_critical_path_and_the_window_bounds_it():
    plan = count_calls(small(comparison="raw"), POOL, 2, Scenario(user_per_episode=1, agent_per_episode=2,
                                                                 new_best_rate=0.0))
    one = dict.fromkeys(ROLES, 1.0)
    # a seed-shaped program: population, then its N <= 8 expansions at once -> generation 2 deep.
    # seed: 2 + episode 1 + 2 + reflection 1 = 6, its validation 2 + 3 = 5 (blocking); then 1 + 2 + 3 + 1 three times
    assert wall_time(plan, one, 10_000, False)["wall_s"] == 6 + 5 + 3 * 7
    # background: the seed's validation overlaps the later rounds
    assert wall_time(plan, one, 10_000, True)["wall_s"] == 6 + 3 * 7
    # one request in flight per role: 5 tasks x N expansions queue (10 at N = 2, 15 at N = 3; the validation's
    # 2 tasks x (2 + 3)), and 10 episodes (15 at N = 3) with a third of their time on the user, two on the agent
    eps10, eps15 = 10 / 3 + 2 * 20 / 3, 5 + 2 * 10
    assert wall_time(plan, one, 1, False)["round_s"] == pytest.approx(
        [2 * 10 + eps10 + 1 + 2 * 10 + eps10, 1 + 2 * 10 + eps10 + 1, 1 + 2 * 15 + eps15 + 1, 1 + 2 * 15 + eps15 + 1])
    est = estimate_run(small(comparison="raw"), POOL, 2, {r: CallMeasure(1.0, 1000, 100, "probe") for r in ROLES},
                       prices={"agent": (1.0, 10.0)}, scenario=Scenario(user_per_episode=1, agent_per_episode=2,
                                                                       new_best_rate=0.0), window=10_000)
    assert est["roles"]["agent"]["usd"] == pytest.approx(120 * (1000 * 1.0 + 100 * 10.0) / 1e6)
    assert est["roles"]["user"]["usd"] is None and est["usd"] is None  # no price configured: unknown
    assert est["wall_s"] == 32 and not est["upper_bound"]
    capped = estimate_run(small(comparison="raw", early_stop_patience=2), POOL, 2, {}, offline=True)
    assert capped["upper_bound"] and capped["wall_s"] is None and capped["usd"] == 0.0


def test_benchmark_estimate_counts_its_conditions():
    # per task: 1 base + 3 persona conditions x 3 personas; DP 1 generator call, two programs 3 + 1 each
    est = estimate_benchmark(2, 3, {r: CallMeasure(1.0, 100, 10, "probe") for r in ROLES}, window=10_000,
                             scenario=Scenario(user_per_episode=1, agent_per_episode=2))
    assert est["episodes"] == 20 and est["roles"]["generator"]["calls"] == 2 * (1 + 2 * 4)
    assert (est["roles"]["user"]["calls"], est["roles"]["agent"]["calls"]) == (20, 40)
    assert est["wall_s"] == 2 + 1 + 2  # the programs' generation chain (population, expansions), one episode


def test_progress_fields():
    cfg = small(early_stop_patience=None)
    assert progress_fields(2, 6, 0, 30.0, 0.25, cfg) == "elapsed 0m30s, ETA 1m00s, $0.250"
    assert progress_fields(3, 6, 2, 10.0, 0.0, cfg.replace(early_stop_patience=4)) == "elapsed 0m10s, ETA ≤0m30s, $0.000"
    assert progress_fields(3, 6, 2, 10.0, 1.0, cfg.replace(max_cost_usd=5.0)).endswith("ETA ≤0m30s, $1.000/$5")
    assert "ETA ?" in progress_fields(2, 6, 2, 1.0, 0.0, cfg)


def test_the_engine_progress_line_shows_elapsed_eta_and_dollars(tmp_path, capsys):
    from evolution_toys import SEED_PROGRAM, ToyEvaluator, ToyMutator

    from ppol_nb.evolution import EvolutionEngine

    engine = EvolutionEngine(small(max_iterations=3, max_cost_usd=10.0), ToyEvaluator(), ToyMutator(cost_usd=0.01),
                             tmp_path / "run", SEED_PROGRAM)
    engine.run(progress=True)
    engine.close()
    err = capsys.readouterr().err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "3/3, best " in last and ", elapsed " in last and ", ETA 0s, $0.030/$10" in last, last


# -- against a real loopback search ----------------------------------------------------------------


@pytest.fixture(scope="module")
def fitness_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("baseline")
    BaselineStudy(OfflineBackend(), domains=("retail",), limit=6, run_dir=str(base), progress=False).run()
    return base / "fitness" / "retail"


def _server_roles(server) -> Counter:
    roles = Counter()
    for request in server.requests:
        if is_probe(request) or is_latency_probe(request):
            continue
        role = classify(request)
        roles["generator" if role.startswith("persona") else role] += 1
    return roles


def test_counted_calls_match_a_loopback_search(fake_openai, fitness_dir, tmp_path, capsys):
    server = fake_openai(search_world())
    out = tmp_path / "run"
    argv = ["evolve", "--domain", "retail", "--profile", "ci", "--max-iterations", "4", "--train-limit", "10",
            "--max-steps", "12", "--fitness", str(fitness_dir), "--backend", "openai", "--base-url", server.url,
            "--model", "fake-model", "--api-key-env", "", "--no-cache", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "estimate (endpoint; 4 iterations, 4 candidate(s) in flight" in printed  # printed before the run
    assert sum(is_latency_probe(r) for r in server.requests) == 3  # one endpoint+model: three probes
    measured = _server_roles(server)
    config = EvolutionConfig.from_dict(json.loads((out / "run_manifest.json").read_text())["config"])
    from ppol_nb.evolution.curriculum import split_validation
    from ppol_nb.simulation.tau2_bridge import load_tasks

    pool, val = split_validation([t.id for t in load_tasks("retail", "train")[:10]])  # --train-limit 10
    scenario = scenario_from_run(out)
    plan = count_calls(config, pool, len(val), scenario)
    for role in ROLES:  # the shares are the run's own; the counting must reproduce the server's log
        assert plan["calls"][role] == pytest.approx(measured[role], rel=0.10), (role, plan["calls"], measured)
    # the run saved what it measured for later estimates: every request, per role
    rows = json.loads((out / "llm_measured.json").read_text())["rows"]
    assert Counter(r["role"] for r in rows) == {r: measured[r] for r in ROLES if measured[r]}
    # ppol-nb estimate --from-run: the run's shares and its measured calls, no probe needed
    probes = sum(is_latency_probe(r) for r in server.requests)
    assert main(["estimate", "--domain", "retail", "--profile", "ci", "--max-iterations", "4", "--train-limit", "10",
                 "--backend", "openai", "--base-url", server.url, "--model", "fake-model", "--api-key-env", "",
                 "--from-run", str(out), "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    assert est["scenario"]["source"] == f"measured from {out}"
    assert {r: est["roles"][r]["calls"] for r in ROLES} == {r: round(plan["calls"][r]) for r in ROLES}
    assert all(est["roles"][r]["measured"] == "history" for r in ROLES if measured[r])
    assert sum(is_latency_probe(r) for r in server.requests) == probes


def test_estimate_command_probes_the_endpoint(fake_openai, tmp_path, capsys):
    server = fake_openai(search_world(), delay_s=0.2)
    backend = ["--backend", "openai", "--base-url", server.url, "--model", "fake-model", "--api-key-env", ""]
    assert main(["estimate", "--domain", "retail", "--profile", "ci", "--train-limit", "10", *backend, "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    assert [r for r in server.requests if not is_probe(r)] == [r for r in server.requests if is_latency_probe(r)]
    assert len([r for r in server.requests if is_latency_probe(r)]) == 3
    for role in ROLES:
        row = est["roles"][role]
        assert row["measured"] == "probe" and row["latency_s"] >= 0.2 and row["usd"] is None and row["calls"] > 0
    assert est["config"]["parallel_evaluations"] == 4 and est["wall_s"] > 0 and est["upper_bound"]
    # the table; no probe: latency unknown, calls still counted
    assert main(["estimate", "--domain", "retail", "--profile", "ci", "--train-limit", "10", *backend,
                 "--no-probe"]) == 0
    table = capsys.readouterr().out
    assert "wall unknown (no latency measured)" in table and "mutator" in table
    assert len([r for r in server.requests if is_latency_probe(r)]) == 3


def test_estimate_command_refuses_bad_flags(tmp_path, capsys):
    assert main(["estimate", "--domain", "retail", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert main(["estimate", "--domain", "retail", "--from-run", str(tmp_path)]) == 2
    assert "no evolution run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["estimate", "--domain", "retail", "--max-iterations", "0"])
    assert exc.value.code == 2
    assert main(["estimate", "--domain", "retail", "--profile", "ci", "--train-limit", "10"]) == 0
    assert "offline: calls only" in capsys.readouterr().out


def test_evolve_max_wall_time_stops_cleanly(fitness_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evolve", "--domain", "retail", "--profile", "ci", "--max-iterations", "6", "--train-limit", "10",
                 "--max-steps", "12", "--fitness", str(fitness_dir), "--out", str(out), "--quiet",
                 "--max-wall-time", "0.001"]) == 0
    from ppol_nb.evolution.database import FILENAME, RunDatabase

    db = RunDatabase(out / FILENAME)
    try:
        stops = db.events("stop")
        assert [e["reason"] for e in stops] == ["max_wall_time_s"] and stops[0]["iteration"] == 0  # after the seed: checked between rounds
    finally:
        db.close()
