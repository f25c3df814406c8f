"""The executor seam (ppol_nb.execution): local threads, local processes and Ray give the same results.

Ray runs locally here (``ray.init()`` with two CPUs, started once for the
module); the test extra installs Ray (``pip install -e ".[test]"``); without it these tests are skipped.
What must hold whichever executor runs the episodes: the same records, every
episode written once by the calling process, ledger rows merged into the
caller's ledger, the response cache shared, and a worker killed mid-episode
costing only its own episodes (re-run on a live worker, or on resume).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

import pandas as pd
import pytest
from fake_openai_server import scripted_world

from ppol_nb import execution
from ppol_nb.backends import OfflineBackend, from_recipe, make_backend
from ppol_nb.evolution.database import RunDatabase
from ppol_nb.execution import EpisodeJob, Executor, make_executor
from ppol_nb.execution.local import LocalExecutor
from ppol_nb.personas import Persona
from ppol_nb.simulation.runner import EpisodeSpec, run_episodes, specs_for
from ppol_nb.simulation.store import EpisodeStore
from ppol_nb.studies.baseline import BaselineStudy

TIMING = ("duration_s",)


def comparable(df: pd.DataFrame) -> list[dict]:
    """Records without wall-clock fields, in episode order."""
    return json.loads(df.drop(columns=list(TIMING)).sort_values("episode_id").to_json(orient="records"))


def persona_specs(n_tasks: int) -> list[EpisodeSpec]:
    personas = [Persona.create(description=f"Customer {i}.", instruction=text, persona_id=f"p{i}").to_dict()
                for i, text in enumerate(["You are in a hurry and answer in few words.",
                                          "You are chatty and explain everything at length."])]
    return specs_for("retail", "test", limit=n_tasks) + [
        EpisodeSpec("retail", s.task_id, "program", 0, p) for s in specs_for("retail", "test", limit=2) for p in personas]


# -- the seam without Ray ----------------------------------------------------------------------


def test_make_executor_checks_its_arguments():
    assert isinstance(make_executor("local"), Executor) and make_executor("local").name == "local"
    assert make_executor("processes", workers=2).describe()["workers"] == 2
    for bad in [dict(kind="spark"), dict(kind="processes", workers=0), dict(kind="local", workers=2),
                dict(kind="processes", address="auto"), dict(kind="processes", workers=2, retries=-1)]:
        with pytest.raises(ValueError):
            make_executor(**bad)


def test_there_is_no_process_wide_executor_and_the_one_passed_runs_the_episodes(tmp_path):
    assert not hasattr(execution, "set_default_executor") and not hasattr(execution, "default_executor")
    calls = []

    class Recording(LocalExecutor):
        def run(self, jobs, backend, max_workers):
            calls.append((len(jobs), max_workers))
            return super().run(jobs, backend, max_workers)

    specs = specs_for("retail", "test", limit=2)
    passed = run_episodes(specs, OfflineBackend(), tmp_path / "passed", progress=False, executor=Recording())
    assert calls == [(2, None)]
    here = run_episodes(specs, OfflineBackend(), tmp_path / "none", progress=False)  # None: threads, here
    assert calls == [(2, None)]  # the executor of the first call reached nothing else
    assert comparable(here) == comparable(passed)


def test_the_evaluator_and_the_benchmark_run_their_episodes_on_the_executor_they_are_given(tmp_path):
    from ppol_nb.evolution.benchmark import run_benchmark
    from ppol_nb.personas.programs import program_source

    seen = []

    class Recording(LocalExecutor):
        def run(self, jobs, backend, max_workers):
            seen.append(len(jobs))
            return super().run(jobs, backend, max_workers)

    backend = OfflineBackend()
    model = BaselineStudy(backend, domains=("retail",), limit=2, run_dir=str(tmp_path / "b"), progress=False,
                          executor=Recording()).run().results["retail"].model
    assert len(seen) == 2  # the baseline's train and test episodes
    program = tmp_path / "seed.py"
    program.write_text(program_source("seed"), encoding="utf-8")
    run_benchmark(program, "retail", backend, fitness_model=model, out_csv=tmp_path / "bench" / "b.csv",
                  n_personas=1, limit=1, executor=Recording())
    assert len(seen) == 3 and seen[-1] > 0


def test_a_backend_without_recipe_is_refused_by_worker_executors():
    from ppol_nb.execution.worker import recipe_of

    with pytest.raises(TypeError, match="no recipe"):
        recipe_of(object())


def test_recipes_rebuild_equivalent_backends(tmp_path):
    offline = OfflineBackend(agent="do-nothing")
    rebuilt = from_recipe(offline.recipe())
    assert rebuilt.identity() == offline.identity() and rebuilt.ledger is not offline.ledger
    llm = make_backend("openai", model="m", base_url="http://127.0.0.1:9/v1", api_key_env="SOME_KEY_VAR",
                       cache_path=tmp_path / "c.sqlite", max_concurrency=5)
    recipe = llm.recipe()
    again = from_recipe(recipe)
    assert again.identity() == llm.identity() and again.client.cache_path == llm.client.cache_path
    assert again.client.config.max_concurrency == 5
    assert "SOME_KEY_VAR" in json.dumps(recipe.settings) and "sk-" not in json.dumps(recipe.settings)
    default_cache = make_backend("openai", model="m", base_url="http://127.0.0.1:9/v1", api_key_env=None)
    # None (the per-user cache) is resolved in the caller, so workers use the caller's file
    assert default_cache.recipe().settings["llm"]["cache_path"] == str(default_cache.client.cache_path)
    for b in (llm, again, default_cache):
        b.client.close()


def test_an_episode_run_again_counts_only_its_own_calls(tmp_path):
    backend = OfflineBackend()
    specs = specs_for("retail", "test", limit=2)
    first = run_episodes(specs, backend, tmp_path / "a", progress=False)
    again = run_episodes(specs, backend, tmp_path / "b", progress=False)  # same ids, same ledger
    assert first["llm_calls"].tolist() == again["llm_calls"].tolist()
    assert int(first["llm_calls"].sum()) + int(again["llm_calls"].sum()) == len(backend.ledger)


def test_episodes_come_back_in_spec_order(tmp_path):
    specs = specs_for("retail", "test", limit=4)
    run_episodes(specs[2:], OfflineBackend(), tmp_path, progress=False)  # stored first: 2, 3
    df = run_episodes(specs, OfflineBackend(), tmp_path, progress=False)  # resumed: 0, 1 appended
    assert df["episode_id"].tolist() == [s.episode_id for s in specs]


def test_local_processes_give_the_threads_results(tmp_path):
    specs = persona_specs(4)
    local = run_episodes(specs, OfflineBackend(), tmp_path / "threads", progress=False)
    backend = OfflineBackend()
    executor = LocalExecutor(processes=2)
    try:
        in_processes = run_episodes(specs, backend, tmp_path / "processes", progress=False, executor=executor)
    finally:
        executor.close()
    assert comparable(in_processes) == comparable(local)
    assert int(in_processes["llm_calls"].sum()) == len(backend.ledger) > 0  # rows came back with the records


# -- Ray -------------------------------------------------------------------------------------------

ray = pytest.importorskip("ray")
from ppol_nb.execution.ray import RayExecutor  # noqa: E402 — only with Ray installed


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray for the module (starting it costs ~10 s on two cores)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=80 * 2**20)
    yield
    ray.shutdown()


@pytest.fixture
def ray_executor(ray_local):
    executors = []

    def make(**kw) -> RayExecutor:
        executor = RayExecutor(**kw)
        executors.append(executor)
        return executor

    yield make
    for executor in executors:
        executor.close()
    assert ray.is_initialized()  # the module's Ray was not started by them, so not stopped by them


@pytest.mark.parametrize("workers", [1, 2])
def test_offline_rollout_on_ray_equals_local(ray_executor, tmp_path, workers):
    specs = persona_specs(4)
    local_backend = OfflineBackend()
    local = run_episodes(specs, local_backend, tmp_path / "local", progress=False)
    backend = OfflineBackend()
    on_ray = run_episodes(specs, backend, tmp_path / "ray", progress=False, executor=ray_executor(workers=workers))
    assert comparable(on_ray) == comparable(local)
    assert len(backend.ledger) == len(local_backend.ledger)  # every worker call is in the caller's ledger
    assert Counter(backend.ledger.to_frame()["episode_id"]) == Counter(local_backend.ledger.to_frame()["episode_id"])


def test_openai_rollout_on_ray_shares_the_response_cache(ray_executor, fake_openai, tmp_path):
    server = fake_openai(scripted_world())
    cache = tmp_path / "cache.sqlite"
    specs = specs_for("retail", "test", limit=4)

    def backend():
        return make_backend("openai", model="fake", base_url=server.url, api_key_env=None, cache_path=cache)

    first = backend()
    on_ray = run_episodes(specs, first, tmp_path / "ray", max_workers=4, progress=False,
                          executor=ray_executor(workers=2))
    sent = len(server.requests)
    assert sent > 0 and on_ray["error"].isna().all()
    assert int(first.ledger.throughput()["requests"].sum()) == sent  # the workers' requests, in this ledger
    # The workers wrote the cache file this process named: a local rerun asks the server nothing.
    again = backend()
    local = run_episodes(specs, again, tmp_path / "local", max_workers=4, progress=False)
    assert len(server.requests) == sent
    assert again.ledger.to_frame()["cached"].all()
    assert comparable(local.drop(columns=["cost_usd"])) == comparable(on_ray.drop(columns=["cost_usd"]))


def _run_and_kill_one_worker(executor: RayExecutor, server, backend, specs, run_dir):
    """Start the rollout, SIGKILL one actor once both are mid-episode, return the frame."""
    victim = executor.start(backend, max_workers=len(specs))[0]
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("df", run_episodes(
        specs, backend, run_dir, max_workers=len(specs), progress=False, executor=executor)))
    thread.start()
    deadline = time.monotonic() + 60
    while len(server.requests) < len(specs) and time.monotonic() < deadline:
        time.sleep(0.05)  # every episode has sent its first request: all are in flight
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=240)
    assert not thread.is_alive()
    return result["df"], victim


def _lines(run_dir) -> Counter:
    text = (run_dir / "episodes.jsonl").read_text()
    return Counter(json.loads(line)["episode_id"] for line in text.splitlines() if line.strip())


def test_a_killed_ray_worker_costs_only_its_episodes_which_run_again(ray_executor, fake_openai, tmp_path):
    server = fake_openai(scripted_world(), delay_s=0.5)
    backend = make_backend("openai", model="fake", base_url=server.url, api_key_env=None, cache_path=False)
    specs = specs_for("retail", "test", limit=6)
    executor = ray_executor(workers=2, retries=1)
    df, victim = _run_and_kill_one_worker(executor, server, backend, specs, tmp_path)
    assert sorted(df["episode_id"]) == sorted(s.episode_id for s in specs)
    assert df["error"].isna().all()  # the victim's episodes ran again on the restarted actor
    assert set(_lines(tmp_path).values()) == {1}  # and each was written once
    assert victim not in executor.worker_pids(backend)  # Ray restarted the killed actor
    # The killed attempts' requests reached the server but not the ledger: they were lost with the worker.
    assert int(backend.ledger.throughput()["requests"].sum()) == int(df["llm_calls"].sum()) < len(server.requests)


def test_without_retries_a_lost_episode_is_recorded_and_runs_again_on_resume(ray_executor, fake_openai, tmp_path):
    server = fake_openai(scripted_world(), delay_s=0.5)
    backend = make_backend("openai", model="fake", base_url=server.url, api_key_env=None, cache_path=False)
    specs = specs_for("retail", "test", limit=6)
    executor = ray_executor(workers=2, retries=0)
    df, _ = _run_and_kill_one_worker(executor, server, backend, specs, tmp_path)
    lost = df[df["error"].notna()]
    assert 1 <= len(lost) <= 3  # only the killed actor's episodes (3 of 6 per actor)
    assert lost["error"].str.startswith("WorkerLost").all()
    assert df[df["error"].isna()]["reward"].notna().all()
    resumed = run_episodes(specs, backend, tmp_path, max_workers=len(specs), progress=False, executor=executor)
    assert resumed["error"].isna().all() and len(resumed) == len(specs)
    lines = _lines(tmp_path)
    assert {e for e, n in lines.items() if n == 2} == set(lost["episode_id"])  # only the lost ones ran again
    assert len(EpisodeStore(tmp_path).records()) == len(specs)


# -- an offline search through Ray ------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitness_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("baseline")
    BaselineStudy(OfflineBackend(), domains=("retail",), limit=6, run_dir=str(base), progress=False).run()
    return base / "fitness" / "retail"


def _search(tmp_path, name, fitness_dir, *extra):
    from ppol_nb.cli import main

    run = tmp_path / name
    assert main(["evolve", "--domain", "retail", "--profile", "ci", "--max-iterations", "2", "--train-limit", "10",
                 "--max-steps", "12", "--fitness", str(fitness_dir), "--out", str(run), "--quiet", *extra]) == 0
    db = RunDatabase(run / "evolution.sqlite")
    try:
        programs = [(p.id, p.iteration, p.parent_id, p.score, p.rating, p.metrics, p.error, p.llm_calls,
                     (p.validation or {}).get("score"), (p.validation or {}).get("by_n")) for p in db.programs()]
        # Re-evaluations run concurrently and are stored as they end: compare them by (program, context).
        evals = sorted(({k: v for k, v in row.items() if k not in ("duration_s", "created_at")}
                        for row in db.fitness_evals()), key=lambda r: (r["program_id"], r["context"]))
        return programs, evals, db.cost_by_role()
    finally:
        db.close()


def test_offline_search_on_ray_equals_local(ray_local, fitness_dir, tmp_path):
    pytest.importorskip("ppol_nb.offline.mutator")
    local = _search(tmp_path, "local", fitness_dir)
    on_ray = _search(tmp_path, "ray", fitness_dir, "--executor", "ray", "--executor-workers", "2")
    assert [p[1] for p in local[0]] == [0, 1, 2]
    assert on_ray == local
    assert ray.is_initialized()  # the CLI joined the module's Ray; it stops only a Ray it started


def test_episode_jobs_are_plain_data():
    job = EpisodeJob(EpisodeSpec("retail", "0"), max_steps=12, deadline_s=None)
    assert ray.cloudpickle.loads(ray.cloudpickle.dumps(job)) == job
