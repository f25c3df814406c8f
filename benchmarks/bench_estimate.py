"""Benchmark: the estimate of a search (ppol_nb.evolution.estimate) against the search itself (issue 19, item 3).

Against the loopback server of ``bench_search_endpoint.py`` (its own process; every role answered
validly after ``--latency`` seconds, every request logged with its role), on ``--domain``:

1. the fitness model is trained once (base simulator, ``--baseline-limit`` tasks), before any clock;
then for each P of ``--parallel`` (default 1 and 4):

2. **estimate before**: what ``ppol-nb evolve`` prints — the endpoint probed (three short requests),
   sizes assumed, the shares of :data:`ppol_nb.evolution.estimate.ASSUMED` (challengers, new bests,
   10 user + 15 agent calls per episode: a τ² figure the loopback world does not follow);
3. the search: ``EvolutionConfig.profile("paper", max_iterations=N, parallel_evaluations=P)`` — P = 4
   with the endpoint's defaults (speculative pairing, background validation), P = 1 with neither —
   wall time of ``engine.run()``, calls per role from the server's log;
4. **estimate with the run's scenario**: the same formula with the shares and calls per episode
   measured from the finished run (``scenario_from_run``), i.e. how far the counting and the
   critical-path wall are from the run once what only the run can know is known.

    python benchmarks/bench_estimate.py [--latency 0.5] [--iterations 4] [--parallel 1 4] [--domain airline]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

from benchmarks.bench_search_endpoint import Endpoint, backend_for, train_fitness

ROLE_OF = {"persona_population": "generator", "persona_other": "generator"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--domain", default="airline")
    ap.add_argument("--baseline-limit", type=int, default=8)
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 4],
                    help="candidates in flight: 1 (no speculation, validation in line) and/or the endpoint default")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    out = args.out or HERE / "results" / f"estimate_{args.latency:g}s.json"

    from ppol_nb.evolution.config import EvolutionConfig
    from ppol_nb.evolution.curriculum import split_validation
    from ppol_nb.evolution.estimate import ROLES, estimate_run, scenario_from_run
    from ppol_nb.evolution.runs import build_run
    from ppol_nb.llm.latency import measure
    from ppol_nb.simulation.tau2_bridge import load_tasks

    endpoint = Endpoint(args.latency)
    settings = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-estimate-") as tmp:
            work = Path(tmp)
            fitness_dir = train_fitness(endpoint.url, args.domain, work / "fitness-train", args.baseline_limit)
            pool, val = split_validation([t.id for t in load_tasks(args.domain, "train")])
            for parallel in args.parallel:
                backend = backend_for(endpoint.url)
                defaults = backend.search_defaults()
                if parallel == 1:  # one candidate at a time: no speculation, validation in line
                    defaults = {"parallel_evaluations": 1, "speculative_rescore": False,
                                "background_validation": False}
                config = EvolutionConfig.profile("paper", max_iterations=args.iterations,
                                                 parallel_evaluations=parallel).for_world(defaults)
                llm = backend.client.config
                endpoint.take_log()
                t0 = time.perf_counter()
                measures = measure(llm, ROLES)
                probe_s = time.perf_counter() - t0
                before = estimate_run(config, pool, len(val), measures, window=llm.max_concurrency)
                run_dir = work / f"run-p{parallel}"
                run = build_run(args.domain, backend, run_dir, config=config, fitness_dir=fitness_dir,
                                progress=False)
                endpoint.take_log()  # the probes and the set-up are not the run's
                t0 = time.perf_counter()
                summary = run.engine.run(progress=False)
                wall = time.perf_counter() - t0
                log = endpoint.take_log()
                after = estimate_run(config, pool, len(val), measures, window=llm.max_concurrency,
                                     scenario=scenario_from_run(run_dir))
                measured: dict[str, int] = dict.fromkeys(ROLES, 0)
                for row in log:
                    measured[ROLE_OF.get(row["role"], row["role"])] += 1
                settings.append({"config": before["config"], "probe_s": round(probe_s, 2),
                                 "probe_latency_s": {r: round(m.latency_s, 3) for r, m in measures.items()},
                                 "measured": {"calls": measured, "total_calls": sum(measured.values()),
                                              "wall_s": round(wall, 1), "stop_reason": summary.stop_reason,
                                              "failed": summary.failed},
                                 "estimate_before": _compare(before, measured, wall),
                                 "estimate_with_run_scenario": _compare(after, measured, wall)})
                print(json.dumps({k: settings[-1][k] for k in ("measured", "estimate_with_run_scenario")},
                                 default=str), flush=True)
    finally:
        endpoint.close()
    payload = {"benchmark": "estimate", "latency_s": args.latency, "domain": args.domain, "profile": "paper",
               "iterations": args.iterations, "window": 32, "settings": settings, "load_average": os.getloadavg()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    return 0


def _compare(est: dict, measured: dict, wall: float) -> dict:
    roles = est["roles"]
    return {"calls": {r: roles[r]["calls"] for r in roles}, "total_calls": est["total_calls"],
            "calls_over_measured": {r: round(roles[r]["calls"] / measured[r], 3) if measured[r] else None
                                    for r in roles},
            "wall_s": round(est["wall_s"], 1), "wall_over_measured": round(est["wall_s"] / wall, 3),
            "scenario": est["scenario"]}


if __name__ == "__main__":
    sys.exit(main())
