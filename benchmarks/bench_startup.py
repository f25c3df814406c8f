"""Benchmark: from command start to the first request, and how fast the preflight refuses a bad setup.

A loopback OpenAI-compatible server (tests/fake_openai_server.py, in its own
process) answers :func:`scripted_world` replies and logs each request's
arrival. ``ppol-nb rollout --backend openai`` (one retail test task) is started
as a subprocess ``--repeats`` times; reported, as medians:

* **first request**: command start to the first request the server sees (the
  preflight's tool-call probe; a second run finds it remembered and sends none);
* **first episode request**: command start to the first request of an episode
  (the user simulator's or the agent's), i.e. when the run itself begins;
* the same split into the Python import of the CLI and what follows.

Then each refusal of the preflight (missing key, unreachable endpoint, unknown
model, a model without tool calls) is timed from command start to exit; each
must exit with status 2 and leave no run directory (exit 1 otherwise).
Targets (issue 19): first request within 1.5 s; each refusal within 5 s. The
box's load average is recorded (other work on the machine slows every number).

    python benchmarks/bench_startup.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from ppol_nb.provenance import provenance  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "startup.json"
TARGET_FIRST_REQUEST_S = 1.5
TARGET_REFUSAL_S = 5.0


def _serve(conn, models) -> None:
    from fake_openai_server import FakeOpenAIServer, scripted_world, text_reply

    from ppol_nb.llm.preflight import is_probe

    arrivals: list[tuple[float, bool, bool]] = []  # (wall time, is probe, offers tools)
    world = scripted_world()

    def respond(request):
        arrivals.append((time.time(), is_probe(request), bool(request.get("tools"))))
        if models == "no-tools":
            return text_reply("Your order is on its way.")
        return world(request)

    server = FakeOpenAIServer(respond, models=None if models in (None, "no-tools") else models).start()
    conn.send(server.url)
    while True:
        msg = conn.recv()
        if msg == "arrivals":
            conn.send(list(arrivals))
            arrivals.clear()
        else:
            server.stop()
            return


class Endpoint:
    def __init__(self, models=None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, models), daemon=True)
        self.proc.start()
        self.url = self.conn.recv()

    def arrivals(self):
        self.conn.send("arrivals")
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send("stop")
        self.proc.join(timeout=5)


def _command(url: str, model: str, out: Path, key_env: str = "") -> list[str]:
    return [sys.executable, "-m", "ppol_nb.cli", "rollout", "--domain", "retail", "--split", "test", "--limit", "1",
            "--backend", "openai", "--base-url", url, "--model", model, "--api-key-env", key_env,
            "--out", str(out), "--quiet"]


def _run(cmd, env) -> tuple[float, float, subprocess.CompletedProcess]:
    start = time.time()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    return start, time.time() - start, done


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ppol-startup-"))
    env = {**os.environ, "PPOL_CACHE_DIR": str(tmp / "cache"), "PYTHONPATH": str(ROOT)}
    import_s = []
    for _ in range(args.repeats):
        t0 = time.time()
        subprocess.run([sys.executable, "-c", "import ppol_nb.cli"], env=env, check=True)
        import_s.append(time.time() - t0)

    endpoint = Endpoint()
    first, first_episode, total, probes = [], [], [], []
    ok = True
    try:
        for i in range(args.repeats):
            start, elapsed, done = _run(_command(endpoint.url, "fake-model", tmp / f"run{i}") + ["--no-cache"], env)
            ok &= done.returncode == 0
            arrivals = endpoint.arrivals()
            first.append(arrivals[0][0] - start)
            first_episode.append(next(t for t, probe, _ in arrivals if not probe) - start)
            probes.append(sum(probe for _, probe, _ in arrivals))
            total.append(elapsed)
    finally:
        endpoint.close()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    refusals = {}
    cases = {"missing key": (None, "fake-model", "PPOL_BENCH_UNSET_KEY"),
             "unreachable endpoint": ("closed", "fake-model", ""),
             "unknown model": (["served-model"], "fake-model", ""),
             "model without tool calls": ("no-tools", "fake-model", "")}
    for name, (models, model, key_env) in cases.items():
        server = Endpoint(models) if models != "closed" else None
        try:
            out = tmp / name.replace(" ", "-")
            env_case = {k: v for k, v in env.items() if k != "PPOL_BENCH_UNSET_KEY"}
            _, elapsed, done = _run(_command(server.url if server else closed, model, out, key_env), env_case)
        finally:
            if server is not None:
                server.close()
        refused = done.returncode == 2 and not out.exists() and "preflight" in done.stderr
        ok &= refused
        refusals[name] = {"seconds": round(elapsed, 3), "exit_status": done.returncode, "run_dir_created": out.exists(),
                          "message": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""}

    results = provenance({
        "benchmark": "startup", "load_average": os.getloadavg(), "repeats": args.repeats,
        "import_cli_s": round(statistics.median(import_s), 3),
        "first_request_s": round(statistics.median(first), 3),
        "first_episode_request_s": round(statistics.median(first_episode), 3),
        "probes_per_run": probes, "rollout_total_s": round(statistics.median(total), 3),
        "target_first_request_s": TARGET_FIRST_REQUEST_S, "refusals": refusals, "target_refusal_s": TARGET_REFUSAL_S,
        "all_runs_as_expected": bool(ok)})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps({k: results[k] for k in ("import_cli_s", "first_request_s", "first_episode_request_s",
                                               "probes_per_run", "rollout_total_s", "load_average")}, indent=1))
    for name, r in refusals.items():
        print(f"{name:26s} {r['seconds']:6.2f} s  exit {r['exit_status']}  {r['message'][:110]}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
