"""Offline episodes per second: a plain τ² loop vs ppol_nb's runner, in one run.

Plain loop = what one would write against τ² directly: ``registry.get_env_constructor
(domain)()`` for every episode, ``Orchestrator.run()``, then ``evaluate_simulation``
with the stock domain (which builds a 'predicted' and a 'gold' environment from
db.json and hashes both). ppol_nb = :func:`ppol_nb.simulation.runner.run_episode`
(copy-on-write environments, memoised DB hashes, same Orchestrator, same evaluator).

Both run the same offline user and offline agent on every train+test task of a
domain; rewards must be identical episode by episode (the script exits 1 if not).
Also reports where the plain loop's time goes (cProfile, cumulative).

    python benchmarks/bench_episodes.py [--domains retail airline] [--limit K]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from pathlib import Path

from ppol_nb.provenance import provenance
from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.runner import EpisodeSpec, _write_tools, run_episode
from ppol_nb.simulation.scenario import build_scenario
from ppol_nb.simulation.tau2_bridge import load_tasks, tau2_modules

RESULTS = Path(__file__).parent / "results"


def plain_episode(domain: str, task, seed: int = 0) -> float:
    """One episode the way τ²'s own building blocks are used out of the box."""
    m = tau2_modules()
    backend = OfflineBackend()
    env = m.registry.get_env_constructor(domain)()
    scenario = build_scenario(task, domain, _write_tools(env))
    orch = m.Orchestrator(domain=domain, agent=backend.make_agent(env, task, scenario),
                          user=backend.make_user(task, scenario, seed), environment=env, task=task,
                          max_steps=100, seed=seed)
    sim = orch.run()
    reward = m.evaluate_simulation(simulation=sim, task=task, evaluation_type=m.EvaluationType.ALL,
                                   solo_mode=False, domain=domain)
    return float(reward.reward)


def where_time_goes(domain: str, tasks, n: int = 5) -> list[dict]:
    """cProfile cumulative time of τ²'s heavy functions over ``n`` plain episodes."""
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for t in tasks[:n]:
        plain_episode(domain, t)
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats
    wanted = {  # (file suffix, function) -> label; parts overlap (hashing happens inside the evaluator)
        ("orchestrator/orchestrator.py", "run"): "Orchestrator.run (dialogue + tool calls)",
        ("evaluator/evaluator.py", "evaluate_simulation"): "evaluate_simulation (all of scoring)",
        (f"domains/{domain}/environment.py", "get_environment"): "environment construction (3 per episode)",
        ("environment/db.py", "load"): "  of which db.json load + validation",
        ("environment/toolkit.py", "get_db_hash"): "DB hashing (inside scoring)",
    }
    rows = []
    for (suffix, fn), label in wanted.items():
        cum = sum(v[3] for k, v in stats.items() if k[2] == fn and k[0].endswith(suffix))
        rows.append({"part": label, "cumulative_s": round(cum, 3), "share_of_wall": round(cum / wall, 3)})
    return rows


def bench(domain: str, limit: int | None) -> dict:
    tasks = load_tasks(domain, "train") + load_tasks(domain, "test")
    tasks = tasks[:limit] if limit else tasks
    backend = OfflineBackend()
    # Warm both paths once (imports, first DB load) so neither pays start-up costs.
    plain_episode(domain, tasks[0])
    run_episode(EpisodeSpec(domain, tasks[0].id), backend)

    t0 = time.perf_counter()
    plain = [plain_episode(domain, t) for t in tasks]
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = [run_episode(EpisodeSpec(domain, t.id), backend)["reward"] for t in tasks]
    t_ours = time.perf_counter() - t0
    return {
        "domain": domain, "episodes": len(tasks),
        "plain_s": round(t_plain, 2), "ppol_nb_s": round(t_ours, 2),
        "plain_eps_per_s": round(len(tasks) / t_plain, 2), "ppol_nb_eps_per_s": round(len(tasks) / t_ours, 2),
        "speedup": round(t_plain / t_ours, 2),
        "rewards_identical": plain == ours, "success_rate": sum(r >= 1 for r in ours) / len(ours),
        "plain_profile": where_time_goes(domain, tasks),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", nargs="+", default=["retail", "airline"])
    ap.add_argument("--limit", type=int, help="first K tasks of train+test (default: all)")
    args = ap.parse_args()
    rows = [bench(d, args.limit) for d in args.domains]
    for r in rows:
        print(f"{r['domain']:8} {r['episodes']:4d} episodes | plain {r['plain_s']:7.2f} s "
              f"({r['plain_eps_per_s']:.2f}/s) | ppol_nb {r['ppol_nb_s']:6.2f} s ({r['ppol_nb_eps_per_s']:.2f}/s) | "
              f"speed-up x{r['speedup']:.1f} | rewards identical: {r['rewards_identical']}")
        for p in r["plain_profile"]:
            print(f"    plain loop, {p['part']:44} {p['cumulative_s']:7.2f} s  ({p['share_of_wall']:.0%} of wall time)")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "episodes.json"
    out.write_text(json.dumps(provenance({"benchmark": "bench_episodes", "results": rows}), indent=2))
    print(f"written {out}")
    return 0 if all(r["rewards_identical"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
