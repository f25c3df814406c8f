"""Benchmark: from command start to the first request, and how fast the preflight refuses a bad setup.

A loopback OpenAI-compatible server (tests/fake_openai_server.py, in its own
process) answers every role validly (:func:`search_world`) and logs each
request's arrival. Two commands are started as subprocesses, each run with a
fresh ``PPOL_CACHE_DIR`` (so every run is a first run against the endpoint and
its preflight sends its tool-call probe) and ``--no-cache``:

* ``ppol-nb rollout --backend openai`` on one retail test task;
* ``ppol-nb evolve --backend openai`` (airline, profile ``ci``, ``--baseline-limit 1
  --train-limit 2 --max-iterations 1``): its first LLM-role request is the
  baseline study's first episode (the fitness model is trained from them).

Reported per command, as medians over ``--repeats`` runs:

* **first request**: command start to the first request the server sees (the
  preflight's tool-call probe);
* **first episode request**: command start to the first request of the command's
  own work (any request that is not the probe: the user simulator's or the agent's);
* the command's wall time.

A third case runs the rollout against a second server that answers the preflight's
probe after 1 s (as a remote endpoint might): the τ² import, started in the
background before the preflight, overlaps that wait.

``--before REV`` runs the same commands on the tree of git revision REV (exported
with ``git archive`` into a temporary directory, same Python environment), the
runs of both trees interleaved so that the machine's load falls on both alike, and
reports ``before / after`` ratios. Also timed: ``import ppol_nb.cli``, and
``import litellm`` alone — a floor for the first episode request, since τ²'s
agent and user simulator call the model through litellm.

Then each refusal of the preflight (missing key, unreachable endpoint, unknown
model, a model without tool calls) is timed from command start to exit; each
must exit with status 2 and leave no run directory (exit 1 otherwise).
Targets (issue 19): first request within 1.5 s; each refusal within 5 s. The
box's load average is recorded before and after (other work on the machine slows
every number).

    python benchmarks/bench_startup.py [--repeats 5] [--before ace2cdf]
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
COMMANDS = {
    "rollout": ["rollout", "--domain", "retail", "--split", "test", "--limit", "1"],
    "evolve": ["evolve", "--domain", "airline", "--profile", "ci", "--baseline-limit", "1", "--train-limit", "2",
               "--max-iterations", "1"],
}
PROBE_DELAY_S = 1.0  # the third case: rollout against an endpoint that takes this long to answer the probe
CASES = {"rollout": ("rollout", 0.0), "evolve": ("evolve", 0.0),
         f"rollout, probe answered after {PROBE_DELAY_S:g} s": ("rollout", PROBE_DELAY_S)}


def _serve(conn, models, probe_delay_s: float = 0.0) -> None:
    from fake_openai_server import FakeOpenAIServer, search_world, text_reply

    from ppol_nb.llm.preflight import is_probe

    arrivals: list[tuple[float, bool, bool]] = []  # (wall time, is probe, offers tools)
    world = search_world()

    def respond(request):
        arrivals.append((time.time(), is_probe(request), bool(request.get("tools"))))
        if probe_delay_s and is_probe(request):
            time.sleep(probe_delay_s)  # a remote endpoint's latency, where the preflight waits
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
    def __init__(self, models=None, probe_delay_s: float = 0.0) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, models, probe_delay_s), daemon=True)
        self.proc.start()
        self.url = self.conn.recv()

    def arrivals(self):
        self.conn.send("arrivals")
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send("stop")
        self.proc.join(timeout=5)


def _command(url: str, model: str, out: Path, key_env: str = "", command: str = "rollout") -> list[str]:
    return [sys.executable, "-m", "ppol_nb.cli", *COMMANDS[command],
            "--backend", "openai", "--base-url", url, "--model", model, "--api-key-env", key_env,
            "--out", str(out), "--quiet"]


def _run(cmd, env) -> tuple[float, float, subprocess.CompletedProcess]:
    start = time.time()
    # cwd: neither tree, so that PYTHONPATH alone chooses the package ("-m" and "-c" put the cwd first)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False,
                          cwd=tempfile.gettempdir())
    return start, time.time() - start, done


def _export(rev: str, into: Path) -> Path:
    """The tree of ``rev`` as plain files (``git archive``), to run the same commands on."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _median(xs) -> float:
    return round(statistics.median(xs), 3)


def _timed_import(statement: str, env: dict, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.time()
        subprocess.run([sys.executable, "-c", statement], env=env, check=True, capture_output=True,
                       cwd=tempfile.gettempdir())
        times.append(time.time() - t0)
    return _median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--before", metavar="REV", help="also run the tree of this git revision, interleaved")
    args = ap.parse_args()
    from ppol_nb.humans.paths import shared_data_dir

    tmp = Path(tempfile.mkdtemp(prefix="ppol-startup-"))
    base_env = {**os.environ, "PPOL_SHARED_DIR": str(shared_data_dir().parent.parent)}
    trees = {"after": ROOT}
    if args.before:
        trees = {"before": _export(args.before, tmp / "before"), **trees}
    envs = {name: {**base_env, "PYTHONPATH": str(tree)} for name, tree in trees.items()}
    for name, env in envs.items():  # each tree's runs import that tree's package
        where = subprocess.run([sys.executable, "-c", "import ppol_nb; print(ppol_nb.__file__)"], env=env,
                               cwd=tempfile.gettempdir(), check=True, capture_output=True, text=True).stdout
        assert Path(where.strip()).is_relative_to(trees[name]), (name, where)
    load_before = os.getloadavg()

    endpoints = {delay: Endpoint(probe_delay_s=delay) for delay in sorted({d for _, d in CASES.values()})}
    samples = {(tree, case): {"first": [], "first_episode": [], "total": [], "probes": []}
               for tree in trees for case in CASES}
    ok = True
    n = 0
    try:
        for _ in range(args.repeats):
            for case, (command, delay) in CASES.items():
                for tree in trees:  # interleaved: before, after, before, after...
                    n += 1
                    env = {**envs[tree], "PPOL_CACHE_DIR": str(tmp / f"cache{n}")}
                    endpoint = endpoints[delay]
                    cmd = _command(endpoint.url, "fake-model", tmp / f"run{n}", command=command) + ["--no-cache"]
                    start, elapsed, done = _run(cmd, env)
                    if done.returncode != 0:
                        print(f"{tree} {case}: exit {done.returncode}\n{done.stderr[-2000:]}", file=sys.stderr)
                        ok = False
                    arrivals = endpoint.arrivals()
                    s = samples[(tree, case)]
                    s["first"].append(arrivals[0][0] - start)
                    s["first_episode"].append(next(t for t, probe, _ in arrivals if not probe) - start)
                    s["probes"].append(sum(probe for _, probe, _ in arrivals))
                    s["total"].append(elapsed)
    finally:
        for endpoint in endpoints.values():
            endpoint.close()

    runs = {}
    for (tree, case), s in samples.items():
        runs.setdefault(case, {})[tree] = {
            "first_request_s": _median(s["first"]), "first_episode_request_s": _median(s["first_episode"]),
            "total_s": _median(s["total"]), "probes_per_run": s["probes"],
            "first_request_runs_s": [round(x, 3) for x in s["first"]],
            "first_episode_request_runs_s": [round(x, 3) for x in s["first_episode"]]}
    for command, r in runs.items():
        if "before" in r:
            r["ratio_before_over_after"] = {k: round(r["before"][k] / r["after"][k], 2) for k in
                                            ("first_request_s", "first_episode_request_s", "total_s")}
        r["targets_met"] = {"first_request": r["after"]["first_request_s"] <= TARGET_FIRST_REQUEST_S,
                            "first_episode_request": r["after"]["first_episode_request_s"] <= TARGET_FIRST_REQUEST_S}

    floors = {"import_ppol_nb_cli_s": {tree: _timed_import("import ppol_nb.cli", env, args.repeats)
                                       for tree, env in envs.items()},
              "import_litellm_alone_s": _timed_import(
                  "import litellm", {**base_env, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}, args.repeats)}

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
            env_case = {k: v for k, v in envs["after"].items() if k != "PPOL_BENCH_UNSET_KEY"}
            env_case["PPOL_CACHE_DIR"] = str(tmp / "cache-refusals")
            _, elapsed, done = _run(_command(server.url if server else closed, model, out, key_env), env_case)
        finally:
            if server is not None:
                server.close()
        refused = done.returncode == 2 and not out.exists() and "preflight" in done.stderr
        ok &= refused
        refusals[name] = {"seconds": round(elapsed, 3), "exit_status": done.returncode, "run_dir_created": out.exists(),
                          "message": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""}

    results = provenance({
        "benchmark": "startup", "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "repeats": args.repeats, "before_revision": args.before,
        "commands": {name: " ".join(["ppol-nb", *argv, "--backend openai --no-cache"])
                     for name, argv in COMMANDS.items()},
        "probe_delay_s": PROBE_DELAY_S, "runs": runs, **floors,
        "target_first_request_s": TARGET_FIRST_REQUEST_S, "refusals": refusals, "target_refusal_s": TARGET_REFUSAL_S,
        "all_runs_as_expected": bool(ok)})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    for command, r in runs.items():
        for tree in trees:
            x = r[tree]
            print(f"{command:34s} {tree:6s} first request {x['first_request_s']:6.3f} s   first episode request "
                  f"{x['first_episode_request_s']:6.3f} s   total {x['total_s']:6.3f} s")
        if "ratio_before_over_after" in r:
            print(f"{command:34s} before/after {r['ratio_before_over_after']}")
    print(json.dumps(floors), f"load {load_before} -> {os.getloadavg()}")
    for name, r in refusals.items():
        print(f"{name:26s} {r['seconds']:6.2f} s  exit {r['exit_status']}  {r['message'][:110]}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
