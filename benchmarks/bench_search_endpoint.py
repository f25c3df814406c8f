"""Benchmark: a paper-profile PPol search against a loopback endpoint with a fixed latency (issue 19, item 5).

A loopback OpenAI-compatible server (tests/fake_openai_server.py, its own
process so it takes no GIL time from the search) answers every role of a
search validly after ``--latency`` seconds (:func:`search_world`: user
simulator, agent tool call then text, persona population/briefs, reflection,
and a mutator that rewrites one playbook sentence of the program it is shown
as a SEARCH/REPLACE block). It logs every request: arrival, end, role
(classified from the prompt), model, temperature, max_tokens.

The search is ``build_run(domain, make_backend("openai", ..., base_url=server,
api_key_env=None, cache_path=False), config=EvolutionConfig.profile("paper",
max_iterations=N, parallel_evaluations=P))`` — the path of ``ppol-nb evolve
--backend openai`` — on ``--domain`` (airline, the smaller domain), for each P
of ``--parallel`` with local threads and for ``--executor ray`` with 2 workers.
The fitness model is trained ONCE per invocation against the same server
(base-simulator episodes, ``--baseline-limit`` of them) before any clock starts,
and reused via ``fitness_dir`` by every setting.

Per setting it reports wall time (``engine.run()`` only), requests in flight at
the server (time-weighted mean over first arrival → last end, and max), calls per
role, and ``wall / critical path`` with the critical path computed from the
run's own records by :func:`benchmarks.search_critical_path.critical_path`
(formula in that module's docstring; whether validation blocks a round and
whether the incumbent's re-evaluation runs beside the candidates are read from
the run's resolved config, ``--validation`` overrides the former).

    python benchmarks/bench_search_endpoint.py [--latency 0.5] [--parallel 1 4] [--executors local ray2]
                                               [--iterations 8] [--domain airline]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

from benchmarks.search_critical_path import (
    counts_by_role,
    critical_path,
    in_flight,
    rounds_from_run,
    summarise,
)

RESULTS = HERE / "results" / "search_endpoint.json"


def _serve(conn, latency: float) -> None:
    import threading

    from fake_openai_server import FakeOpenAIServer, classify, search_world

    inner, log, lock = search_world(), [], threading.Lock()
    # classify() imports the reflection prompt on its first generator request; do it now, or that
    # import (seconds on a busy machine) would stall the first setting's requests inside the clock
    classify({"messages": [{"role": "user", "content": "warm-up"}]})

    def respond(request: dict):
        start = time.time()
        time.sleep(latency)
        reply = inner(request)
        with lock:
            log.append({"arrival": start, "end": time.time(), "role": classify(request),
                        "model": request.get("model"), "temperature": request.get("temperature"),
                        "max_tokens": request.get("max_tokens") or request.get("max_completion_tokens")})
        return reply

    server = FakeOpenAIServer(respond).start()
    conn.send(server.url)
    while True:
        msg = conn.recv()
        if msg == "log":
            with lock:
                conn.send(list(log))
                log.clear()
        else:
            break
    server.stop()


class Endpoint:
    def __init__(self, latency: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, latency), daemon=True)
        self._proc.start()
        self.url = self._conn.recv()

    def take_log(self) -> list[dict]:
        self._conn.send("log")
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send("stop")
        self._proc.join(timeout=10)


SAVE_LOG: dict = {}  # --save-log DIR
RAY_INIT: dict = {}  # --ray-temp-dir
WINDOW = {"requests": 128}  # requests in flight per endpoint and role (LLMConfig.max_concurrency); --window


def backend_for(url: str):
    from ppol_nb.backends import make_backend

    return make_backend("openai", model="fake-model", base_url=url, api_key_env=None, cache_path=False,
                        max_retries=5, max_concurrency=WINDOW["requests"])


def train_fitness(url: str, domain: str, out: Path, baseline_limit: int) -> Path:
    from ppol_nb.evolution.runs import fitness_model_for

    fitness_model_for(out, domain, backend_for(url), baseline_limit=baseline_limit, progress=False)
    return out / "fitness" / domain


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the sandboxed generator runs)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def one_setting(endpoint: Endpoint, latency: float, domain: str, fitness_dir: Path, iterations: int, parallel: int,
                executor: str, work: Path, validation: str, train_limit: int | None,
                overrides: dict | None = None) -> dict:
    from ppol_nb.evolution.config import EvolutionConfig
    from ppol_nb.evolution.runs import build_run

    overrides = dict(overrides or {})
    run_dir = work / f"{executor}-p{parallel}-{len(list(work.glob('*')))}"
    config = EvolutionConfig.profile("paper", max_iterations=iterations, parallel_evaluations=parallel, **overrides)
    ex = None
    if executor != "local":
        from ppol_nb.execution.ray import RayExecutor

        workers = int(executor.removeprefix("ray"))
        # A Ray of its own for the benchmark: as many CPUs as workers, its own session directory
        # (--ray-temp-dir), so another Ray on a shared machine is neither joined nor disturbed.
        ex = RayExecutor(workers=workers, init_kwargs={"num_cpus": workers, **RAY_INIT})
    try:
        run = build_run(domain, backend_for(endpoint.url), run_dir, config=config, fitness_dir=fitness_dir,
                        train_limit=train_limit, progress=False, executor=ex)
        endpoint.take_log()  # drop anything before the clock
        load_before, cpu0, t0 = os.getloadavg(), _cpu_s(), time.perf_counter()
        summary = run.engine.run(progress=False)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        log = endpoint.take_log()
        if SAVE_LOG.get("dir"):  # the server's request log, for a timeline (--save-log)
            Path(SAVE_LOG["dir"]).mkdir(parents=True, exist_ok=True)
            (Path(SAVE_LOG["dir"]) / f"{run_dir.name}.json").write_text(json.dumps({"t0": time.time() - wall, "log": log}))
    finally:
        if ex is not None:
            ex.close()
    rounds = rounds_from_run(run_dir)
    resolved = run.engine.config
    if validation == "auto":  # what the run itself did (the world's choice, see EvolutionConfig.for_world)
        validation = "async" if resolved.background_validation else "sync"
    pairing = "parallel" if resolved.speculative_rescore else "after"
    cp = critical_path(rounds, latency, validation=validation, pairing=pairing)
    from ppol_nb.evolution.database import FILENAME, RunDatabase

    db = RunDatabase(run_dir / FILENAME)
    programs = db.programs()
    db.close()
    return {
        "executor": executor, "parallel_evaluations": parallel, "overrides": overrides,
        "comparison": resolved.comparison, "confirm_evaluations": resolved.confirm_evaluations,
        "window": WINDOW["requests"], "episodes_in_flight": _episodes_in_flight(),
        "cpu_s": round(cpu, 1), "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "background_validation": resolved.background_validation, "speculative_rescore": resolved.speculative_rescore, "wall_s": round(wall, 2),
        "in_flight": in_flight([(r["arrival"], r["end"]) for r in log]), "requests": len(log),
        "calls_by_role": counts_by_role(log), "critical_path": cp,
        "wall_over_critical_path": round(wall / cp["critical_path_s"], 3) if cp["critical_path_s"] else None,
        "programs": len(programs), "mutation_kinds": counts_by_role([{"role": p.mutation_kind or "seed"}
                                                                      for p in programs]),
        "failed": int(getattr(summary, "failed", 0) or 0), "rounds": summarise(rounds),
    }


def _episodes_in_flight() -> int:
    # The LLM world (ppol_nb.worlds.llm) reads EPISODES_IN_FLIGHT from its own module, not from the backends alias.
    from ppol_nb.worlds import llm as llm_world

    return llm_world.EPISODES_IN_FLIGHT


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--executors", nargs="+", default=["local"], help="local and/or rayN (rayN runs the largest P)")
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--domain", default="airline")
    ap.add_argument("--baseline-limit", type=int, default=8)
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--validation", choices=["auto", "sync", "async"], default="auto")
    ap.add_argument("--window", type=int, default=None,
                    help="requests in flight per endpoint and role, the client's ceiling "
                         "(default: LLMConfig.max_concurrency)")
    ap.add_argument("--episodes-in-flight", type=int, default=None,
                    help="episodes per run_episodes call (default: ppol_nb.worlds.llm.EPISODES_IN_FLIGHT)")
    ap.add_argument("--comparison", choices=["paired", "raw"], default=None,
                    help="override the paper profile's comparison rule (raw: the authors' rule)")
    ap.add_argument("--confirm-evaluations", type=int, default=None)
    ap.add_argument("--save-log", type=Path, default=None, help="write each setting's server request log here")
    ap.add_argument("--ray-temp-dir", default=None, help="Ray's session directory (default: Ray's, /tmp/ray)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    from ppol_nb.llm.config import LLMConfig
    from ppol_nb.worlds import llm as llm_world

    args.window = args.window or LLMConfig.max_concurrency
    WINDOW["requests"] = args.window
    SAVE_LOG["dir"] = args.save_log
    if args.ray_temp_dir:
        RAY_INIT["_temp_dir"] = args.ray_temp_dir
    if args.episodes_in_flight:
        llm_world.EPISODES_IN_FLIGHT = args.episodes_in_flight
    overrides = {k: v for k, v in (("comparison", args.comparison),
                                   ("confirm_evaluations", args.confirm_evaluations)) if v is not None}

    endpoint = Endpoint(args.latency)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            work = Path(tmp)
            t0 = time.perf_counter()
            fitness_dir = train_fitness(endpoint.url, args.domain, work / "fitness-train", args.baseline_limit)
            fitness_s = time.perf_counter() - t0
            endpoint.take_log()
            plan = [("local", p) for p in args.parallel if "local" in args.executors]
            plan += [(e, max(args.parallel)) for e in args.executors if e.startswith("ray")]
            if "local" not in args.executors and not any(e.startswith("ray") for e in args.executors):
                raise SystemExit(f"--executors: expected local and/or rayN, got {args.executors}")
            for executor, p in plan:
                row = one_setting(endpoint, args.latency, args.domain, fitness_dir, args.iterations, p, executor,
                                  work, args.validation, args.train_limit, overrides)
                print(json.dumps({**{k: row[k] for k in ("executor", "parallel_evaluations", "comparison", "wall_s",
                                                          "cpu_s", "in_flight", "calls_by_role",
                                                          "wall_over_critical_path", "failed", "mutation_kinds",
                                                          "load_average_before")},
                                  "cp_s": row["critical_path"]["critical_path_s"]}), flush=True)
                results.append(row)
                _write(args, fitness_s, results)  # after every setting: a later crash (e.g. Ray) loses nothing
    finally:
        endpoint.close()
    _write(args, fitness_s, results)
    bad = [r for r in results if r["failed"]]
    return 1 if bad else 0


def _write(args, fitness_s: float, results: list[dict]) -> None:
    payload = {"benchmark": "search_endpoint", "latency_s": args.latency, "domain": args.domain,
               "iterations": args.iterations, "profile": "paper", "baseline_limit": args.baseline_limit,
               "fitness": "trained once per invocation on the same server (base simulator), reused via fitness_dir",
               "fitness_train_s": round(fitness_s, 2), "validation": args.validation, "window": args.window,
               "critical_path_formula": "L * max(sum_r depth(r), max_r[sum_{r'<=r} depth(r') + V(r)]), "
                                        "depth = max(max_c(mutator+generation+episode+reflection+confirm), "
                                        "pair_incumbent), generation = 1 + ceil((calls per task - 1) / 8)",
               "overrides": overrides_of(args), "episodes_in_flight": _episodes_in_flight(),
               "load_average": os.getloadavg(), "settings": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(args.out.read_text()) if args.out.exists() else {}
    key = f"latency_{args.latency}_window_{args.window}_episodes_{_episodes_in_flight()}"
    key += "".join(f"_{k}_{v}" for k, v in overrides_of(args).items())
    existing[key] = payload
    args.out.write_text(json.dumps(existing, indent=1, default=str) + "\n")


def overrides_of(args) -> dict:
    return {k: v for k, v in (("comparison", args.comparison),
                              ("confirm_evaluations", args.confirm_evaluations)) if v is not None}


if __name__ == "__main__":
    sys.exit(main())
