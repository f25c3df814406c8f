"""Benchmark: episodes/s against a rate-limited endpoint with a fixed latency, local threads vs Ray.

A loopback OpenAI-compatible server (tests/fake_openai_server.py, run in its own
process so that it takes no GIL time from the client) answers every completion
after ``--latency`` seconds (200 ms) with :func:`scripted_world` replies (four
requests per retail episode: user, agent tool call, agent answer, user stop)
and a rate limit: above ``--max-rate`` accepted requests per second it answers
429 with ``Retry-After``. For 1, 4, 16 and 64 episodes in flight it runs
``max(8, 3 × in-flight)`` distinct episodes through

* the local executor (threads of this process), and
* Ray with 1 and 2 workers (``--executors``; actors started before the clock),

and reports episodes/s, the ideal (in-flight ÷ episode latency, where the
episode latency is requests per episode × latency; and the same capped by the
rate limit), their ratio, throttled requests, and requests/s and tokens/s per
role from the ledger. Every run must write each episode exactly once without
error (exit 1 otherwise: lost or duplicated episodes under the rate limit).

The per-task overhead of the Ray path is measured separately: one episode at a
time against a zero-latency server, local vs Ray with one worker, over the
same episodes; the difference in seconds per episode.

Targets (issue 11): ≥ 80 % of ideal at 16 in flight, and at least 8× more
episodes/s at 16 in flight than at 1. The box's load average is recorded with
the results (other work on the machine lowers every number here).

    python benchmarks/bench_throughput.py [--latency 0.2] [--max-rate 150] [--levels 1 4 16 64]
                                          [--executors local ray1 ray2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the loopback server lives with the tests

from ppol_nb.backends import make_backend  # noqa: E402
from ppol_nb.provenance import provenance  # noqa: E402
from ppol_nb.simulation.runner import run_episodes, specs_for  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "throughput.json"
TARGET_RATIO_AT_16 = 0.8
TARGET_SPEEDUP_16_OVER_1 = 8.0


# -- the endpoint, in its own process -----------------------------------------------------------------


def _serve(conn, latency: float, max_rate: float | None, retry_after: float) -> None:
    from fake_openai_server import FakeOpenAIServer, scripted_world

    server = FakeOpenAIServer(scripted_world(), delay_s=latency, max_rate=max_rate, retry_after_s=retry_after).start()
    conn.send(server.url)
    conn.recv()  # any message: stop
    conn.send({"requests": len(server.requests), "throttled": server.throttled, "max_in_flight": server.max_in_flight})
    server.stop()


class Endpoint:
    """A loopback server process; ``stats()`` says what it saw."""

    def __init__(self, latency: float, max_rate: float | None = None, retry_after: float = 0.2) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, latency, max_rate, retry_after), daemon=True)
        self._proc.start()
        self.url = self._conn.recv()

    def close(self) -> dict:
        self._conn.send("stop")
        stats = self._conn.recv()
        self._proc.join(timeout=10)
        return stats


# -- one measurement --------------------------------------------------------------------------------


def episodes(n: int) -> list:
    """``n`` distinct retail test episodes (tasks × seeds)."""
    tasks = len(specs_for("retail", "test"))
    return specs_for("retail", "test", seeds=range(-(-n // tasks)))[:n]


def backend_for(url: str, in_flight: int):
    return make_backend("openai", model="fake-model", base_url=url, api_key_env=None, cache_path=False,
                        max_concurrency=max(1, in_flight), max_retries=30)


def make_executor(kind: str):
    if kind == "local":
        return None  # run_episodes' default: threads of this process
    from ppol_nb.execution.ray import RayExecutor

    return RayExecutor(workers=int(kind.removeprefix("ray")))


def measure(url: str, kind: str, in_flight: int, n: int) -> dict:
    """Run ``n`` episodes with ``in_flight`` at once; time them (start-up excluded)."""
    executor = make_executor(kind)
    backend = backend_for(url, in_flight)
    try:
        if executor is not None:  # start the actors (τ² import) before the clock
            executor.start(backend, in_flight)
        workers = getattr(executor, "workers", None) or 1
        # One-off costs (τ² tasks and DB loaded, first requests) before the clock, on every worker.
        warm = [s for s in episodes(n + 2 * workers)[n:]]
        run_episodes(warm, backend, tempfile.mkdtemp(prefix="bench-warm-"), max_workers=in_flight, progress=False,
                     executor=executor)
        specs = episodes(n)
        run_dir = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-{in_flight}-"))
        t0 = time.perf_counter()
        df = run_episodes(specs, backend, run_dir, max_workers=in_flight, progress=False, executor=executor)
        seconds = time.perf_counter() - t0
    finally:
        if executor is not None:
            executor.close()
    lines = Counter(json.loads(line)["episode_id"] for line in (run_dir / "episodes.jsonl").read_text().splitlines()
                    if line.strip())
    report = backend.ledger.throughput()
    roles = {role: {"requests": int(r["requests"]), "throttled": int(r["throttled"]),
                    "requests_per_s": round(float(r["requests_per_s"]), 2),
                    "tokens_per_s": round(float(r["tokens_per_s"]), 1),
                    "mean_latency_s": round(float(r["mean_latency_s"]), 4)} for role, r in report.iterrows()}
    backend.client.close()
    return {
        "seconds": seconds, "episodes": len(df),
        "requests_per_episode": float(df["llm_calls"].mean()) if len(df) else float("nan"),
        "errors": int(df["error"].notna().sum()),
        "exactly_once": sorted(lines) == sorted(s.episode_id for s in specs) and set(lines.values()) == {1},
        "throttled": int(report["throttled"].sum()) if len(report) else 0,
        "roles": roles,
    }


def level_row(kind: str, in_flight: int, m: dict, latency: float, max_rate: float | None) -> dict:
    eps = m["episodes"] / m["seconds"]
    episode_latency = m["requests_per_episode"] * latency
    ideal = in_flight / episode_latency
    ideal_limited = min(ideal, max_rate / m["requests_per_episode"]) if max_rate else ideal
    return {"executor": kind, "in_flight": in_flight, "episodes": m["episodes"], "seconds": round(m["seconds"], 3),
            "episodes_per_s": round(eps, 3), "ideal_episodes_per_s": round(ideal, 3),
            "ratio_to_ideal": round(eps / ideal, 3), "ideal_under_rate_limit": round(ideal_limited, 3),
            "ratio_to_ideal_under_rate_limit": round(eps / ideal_limited, 3),
            "requests_per_episode": round(m["requests_per_episode"], 2), "throttled": m["throttled"],
            "errors": m["errors"], "exactly_once": m["exactly_once"], "roles": m["roles"]}


def ray_overhead(n: int) -> dict:
    """Seconds per episode added by the Ray path: one episode at a time, zero latency, same episodes."""
    endpoint = Endpoint(latency=0.0)
    try:
        local = measure(endpoint.url, "local", 1, n)
        ray = measure(endpoint.url, "ray1", 1, n)
    finally:
        endpoint.close()
    per_local, per_ray = local["seconds"] / n, ray["seconds"] / n
    return {"episodes": n, "local_s_per_episode": round(per_local, 4), "ray_s_per_episode": round(per_ray, 4),
            "overhead_s_per_episode": round(per_ray - per_local, 4),
            "overhead_share_of_a_200ms_episode_x4": round((per_ray - per_local) / 0.8, 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2, help="seconds the server takes per completion")
    ap.add_argument("--max-rate", type=float, default=150.0, help="accepted requests per second (429 above)")
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--executors", nargs="+", default=["local", "ray1", "ray2"])
    ap.add_argument("--overhead-episodes", type=int, default=16)
    args = ap.parse_args()

    uses_ray = any(k.startswith("ray") for k in args.executors)
    if uses_ray:
        import ray

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 object_store_memory=100 * 2**20)
    load_before = os.getloadavg()
    endpoint = Endpoint(args.latency, args.max_rate)
    rows = []
    try:
        for kind in args.executors:
            for level in args.levels:
                m = measure(endpoint.url, kind, level, max(8, 3 * level))
                row = level_row(kind, level, m, args.latency, args.max_rate)
                rows.append(row)
                print(f"{kind:6} in flight {level:3d}: {row['episodes']:4d} episodes in {row['seconds']:7.2f} s = "
                      f"{row['episodes_per_s']:6.2f}/s (ideal {row['ideal_episodes_per_s']:6.2f}/s, ratio "
                      f"{row['ratio_to_ideal']:.2f}; under the rate limit {row['ratio_to_ideal_under_rate_limit']:.2f})"
                      f" throttled={row['throttled']} exactly_once={row['exactly_once']} errors={row['errors']}",
                      flush=True)
    finally:
        server = endpoint.close()
    overhead = ray_overhead(args.overhead_episodes) if "ray1" in args.executors else None
    if overhead:
        print(f"Ray overhead: {overhead['overhead_s_per_episode'] * 1000:.1f} ms per episode "
              f"(local {overhead['local_s_per_episode'] * 1000:.1f} ms, Ray {overhead['ray_s_per_episode'] * 1000:.1f} ms"
              f" per episode, one at a time, zero latency)")
    load_after = os.getloadavg()
    if uses_ray:
        import ray

        ray.shutdown()

    def at(kind, level):
        return next((r for r in rows if r["executor"] == kind and r["in_flight"] == level), None)

    targets = {}
    for kind in args.executors:
        one, sixteen = at(kind, 1), at(kind, 16)
        if one and sixteen:
            targets[kind] = {"ratio_at_16": sixteen["ratio_to_ideal"],
                             "ratio_at_16_ok": sixteen["ratio_to_ideal"] >= TARGET_RATIO_AT_16,
                             "speedup_16_over_1": round(sixteen["episodes_per_s"] / one["episodes_per_s"], 2),
                             "speedup_ok": sixteen["episodes_per_s"] / one["episodes_per_s"] >= TARGET_SPEEDUP_16_OVER_1}
            print(f"{kind:6} target: ratio at 16 = {targets[kind]['ratio_at_16']:.2f} (>= {TARGET_RATIO_AT_16}), "
                  f"16 vs 1 = x{targets[kind]['speedup_16_over_1']:.1f} (>= {TARGET_SPEEDUP_16_OVER_1:g})")
    correct = all(r["exactly_once"] and r["errors"] == 0 for r in rows)
    result = provenance({
        "benchmark": "bench_throughput", "latency_s": args.latency, "max_rate_per_s": args.max_rate,
        "cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after], "server": server, "results": rows,
        "ray_overhead": overhead, "targets": targets, "every_episode_exactly_once": correct,
    })
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; written {RESULTS}")
    return 0 if correct else 1


if __name__ == "__main__":
    raise SystemExit(main())
