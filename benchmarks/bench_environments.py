"""Benchmark: scoring scripted τ² episodes with stock vs fast environments.

For each domain (retail, airline) and each trajectory kind — gold replay and
do-nothing — over all train+test tasks, an *episode* builds the trajectory
environment (as the Orchestrator would), builds the trajectory, and scores it
with τ²'s stock ``evaluate_simulation``:

* stock: ``registry.get_env_constructor(domain)()`` + ``evaluate_simulation(domain=domain)``
* fast:  ``make_environment(domain)`` + ``evaluate_simulation(domain=fast_domain(domain))``,
  timed twice: "cold" clears the hash memo before every episode; "warm" runs
  after an untimed priming pass, so every hash is memoised (as when many
  episodes share a task and take the same actions).

Prints a table, a profile of where the stock (and fast) time goes, and writes
``benchmarks/results/environments.json``. Exits non-zero unless every reward is
identical across the variants.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_environments.py [--limit N] [--profile-tasks N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import (
    compare,
    format_table,
    function,
    profile_breakdown,
    run_episodes,
)
from ppol_nb.provenance import provenance
from ppol_nb.simulation.db_snapshot import pristine_db
from ppol_nb.simulation.environments import (
    clear_hash_memo,
    environment_stats,
    fast_domain,
    make_environment,
    pristine_hash_unchanged,
)
from ppol_nb.simulation.scripted_trajectories import do_nothing_run, gold_replay_run
from ppol_nb.simulation.tau2_bridge import DOMAINS, load_tasks, tau2_modules

m = tau2_modules()
KINDS = ("gold", "nothing")
RESULTS = ROOT / "benchmarks" / "results" / "environments.json"


def episode(domain: str, kind: str, fast: bool):
    """``episode(task) -> RewardInfo`` for one variant."""
    scoring_domain = fast_domain(domain) if fast else domain
    stock_constructor = m.registry.get_env_constructor(domain)

    def stock_trajectory_env():
        return stock_constructor()

    def run(task):
        env = make_environment(domain) if fast else stock_trajectory_env()
        sim = gold_replay_run(task, env) if kind == "gold" else do_nothing_run(task)
        return m.evaluate_simulation(sim, task, m.EvaluationType.ALL, solo_mode=False, domain=scoring_domain)

    return run


def stock_parts(domain: str) -> dict:
    get_env = function(f"tau2/domains/{domain}/environment.py", "get_environment")
    in_evaluator = function("tau2/evaluator/evaluator_env.py", "calculate_reward")
    return {
        "trajectory env construction": (get_env, function("benchmarks/bench_environments.py", "stock_trajectory_env")),
        "evaluator env construction (predicted+gold)": (get_env, in_evaluator),
        "DB hashing": (function("tau2/environment/toolkit.py", "get_db_hash"), None),
        "tool calls (trajectory + evaluator replay)": (function("tau2/environment/environment.py", "make_tool_call"), None),
        "  of which db.json read+validate (DB.load)": (function("tau2/environment/db.py", "load"), None),
    }


def fast_parts() -> dict:
    fast_env = function("ppol_nb/simulation/environments.py", "fast_environment")
    return {
        "trajectory env construction": (fast_env, function("ppol_nb/simulation/environments.py", "make_environment")),
        "evaluator env construction (predicted+gold)": (fast_env, function("tau2/evaluator/evaluator_env.py", "calculate_reward")),
        "DB hashing, composed (memo misses)": (function("ppol_nb/simulation/composed_hash.py", "hash"), None),
        "DB hashing, tau2's own (memo misses)": (function("tau2/environment/toolkit.py", "get_db_hash"), None),
        "tool calls (trajectory + evaluator replay)": (function("tau2/environment/environment.py", "make_tool_call"), None),
        "  of which entry copies": (function("ppol_nb/simulation/copy_on_access.py", "_own"), None),
    }


def bench_domain(domain: str, limit: int | None, profile_tasks: int) -> tuple[list, dict, bool]:
    """Time stock vs fast for both trajectory kinds; profile a sample; check rewards."""
    rows, identical = [], True
    tasks = load_tasks(domain, None)[:limit]
    start = time.perf_counter()
    pristine_db(domain)  # one-time per process: load + hash + disjointness check
    setup = time.perf_counter() - start
    fast_domain(domain)

    def clear_memo() -> None:
        clear_hash_memo(domain)

    domain_report = {"tasks": len(tasks), "fast_setup_seconds_once_per_process": round(setup, 3), "kinds": {}}
    for kind in KINDS:
        stock = run_episodes("stock", episode(domain, kind, fast=False), tasks)
        cold = run_episodes("fast-cold", episode(domain, kind, fast=True), tasks, before_each=clear_memo)
        run_episodes("prime", episode(domain, kind, fast=True), tasks)  # fill the memo
        warm = run_episodes("fast-warm", episode(domain, kind, fast=True), tasks)
        cmp_cold, cmp_warm = compare(stock, cold), compare(stock, warm)
        identical &= cmp_cold["rewards_identical"] and cmp_warm["rewards_identical"]
        for run, cmp in ((stock, None), (cold, cmp_cold), (warm, cmp_warm)):
            rows.append({"domain": domain, "trajectory": kind, **run.summary(),
                         "ratio_vs_stock": cmp["throughput_ratio"] if cmp else 1.0})
        domain_report["kinds"][kind] = {
            "stock": stock.summary(), "fast_cold": cold.summary(), "fast_warm": warm.summary(),
            "compare_cold": cmp_cold, "compare_warm": cmp_warm,
        }

    # where the time goes (separate, profiled pass; cProfile overhead inflates Python code)
    stock_episodes = [episode(domain, k, fast=False) for k in KINDS]
    fast_episodes = [episode(domain, k, fast=True) for k in KINDS]
    sample = tasks[:profile_tasks]
    domain_report["profile_tasks_per_kind"] = len(sample)
    clear_memo()
    domain_report["stock_breakdown"] = profile_breakdown(
        lambda t: [run(t) for run in stock_episodes], sample, stock_parts(domain),
        nested=["  of which db.json read+validate (DB.load)"])
    clear_memo()
    domain_report["fast_breakdown"] = profile_breakdown(
        lambda t: [run(t) for run in fast_episodes], sample, fast_parts(),
        nested=["  of which entry copies"])
    domain_report["fast_counters"] = environment_stats(domain)
    domain_report["pristine_hash_unchanged"] = pristine_hash_unchanged(domain)
    identical &= domain_report["pristine_hash_unchanged"]
    return rows, domain_report, identical


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N tasks per domain (default: all)")
    parser.add_argument("--profile-tasks", type=int, default=20, help="tasks per domain/kind in the profiled pass")
    args = parser.parse_args()

    rows, report, identical = [], {"domains": {}}, True
    for domain in DOMAINS:
        domain_rows, domain_report, domain_identical = bench_domain(domain, args.limit, args.profile_tasks)
        rows += domain_rows
        report["domains"][domain] = domain_report
        identical &= domain_identical

    print(format_table(rows, ["domain", "trajectory", "name", "episodes", "seconds", "episodes_per_s",
                              "ratio_vs_stock", "gc_seconds", "mean_reward"]))
    print("(ratio_vs_stock = episodes/s relative to stock; gc_seconds = part of seconds spent in "
          "Python's garbage collector)")
    for domain, dr in report["domains"].items():
        print(f"\n{domain}: fast one-time setup {dr['fast_setup_seconds_once_per_process']} s "
              f"(load db.json once, hash it, check entries are disjoint); counters {dr['fast_counters']}")
        for name in ("stock_breakdown", "fast_breakdown"):
            b = dr[name]
            print(f"  {name} (profiled, {dr['profile_tasks_per_kind']} tasks x gold+nothing, total {b['total']} s):")
            for label, share in b["share"].items():
                print(f"    {label:<46} {b[label]:>8.3f} s  {100 * share:5.1f} %")
    totals = {}
    for variant in ("stock", "fast_cold", "fast_warm"):
        seconds = sum(k[variant]["seconds"] for d in report["domains"].values() for k in d["kinds"].values())
        episodes = sum(k[variant]["episodes"] for d in report["domains"].values() for k in d["kinds"].values())
        totals[variant] = {"seconds": round(seconds, 3), "episodes": episodes,
                           "episodes_per_s": round(episodes / seconds, 2)}
    for variant in ("fast_cold", "fast_warm"):
        totals[variant]["ratio_vs_stock"] = round(totals["stock"]["seconds"] / totals[variant]["seconds"], 2)
    report["totals"] = totals
    report["rewards_identical"] = identical
    report["provenance"] = provenance({"benchmark": "environments", "cpus": os.cpu_count(),
                                       "limit": args.limit, "profile_tasks": args.profile_tasks})
    print(f"\ntotals: {json.dumps(totals)}")
    print(f"rewards identical: {identical}")
    print("note: the full offline-episode benchmark (offline user/agent through τ²'s Orchestrator) will be "
          "added by the lead in benchmarks/bench_episodes.py; it can reuse benchmarks/harness.py "
          "(run_episodes / compare / profile_breakdown / format_table) with its own episode callables.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
