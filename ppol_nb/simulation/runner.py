"""Run τ² episodes: one (task, condition, seed) at a time or many concurrently.

Each episode runs through τ²'s own ``Orchestrator`` on a real τ² environment and is
scored by τ²'s own ``evaluate_simulation``. The environment comes from
:mod:`.environments` (copy-on-write DB + memoised DB hashes; rewards are identical
to stock τ², see tests/test_environments.py and benchmarks/).

An episode that raises — invalid tool JSON from a model, an API error, a timeout —
is recorded with its error and never aborts the batch; its record keeps the
conversation up to the failure (``messages``), so a failure can be read. An
optional per-episode deadline (``deadline_s``, CLI ``--episode-deadline``)
bounds every LLM call of the episode (:mod:`ppol_nb.llm.deadline`) and marks
an episode that overran it as failed.

Step caps (:mod:`.step_caps`): a capped episode ends with termination reason
``max_steps`` and reward 0, and is recorded, fingerprinted and scored like any other.

Where episodes run — threads of this process, worker processes, Ray — is the
executor's business (:mod:`ppol_nb.execution`, passed by the caller: no process-wide
default; the job types are in :mod:`.jobs`); :func:`run_episodes` writes
every record and merges every ledger row here, whichever ran them. An episode
lost with its worker is recorded with a ``WorkerLost`` error (run again on resume).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING

from .. import __version__
from ..llm.deadline import deadline_scope
from .persona import Persona
from .environments import fast_domain, make_environment
from .jobs import EpisodeJob, EpisodeResult, EpisodeSpec, Executor
from .scenario import build_scenario
from .step_caps import DEFAULT_MAX_STEPS, EVAL_MAX_STEPS, TRAIN_MAX_STEPS  # noqa: F401 — re-exported
from .store import EpisodeStore
from .tau2_bridge import get_task, load_tasks, split_of, tau2_modules

if TYPE_CHECKING:  # pandas loads when a frame is built: not before an episode's first request
    import pandas as pd

_default_deadline_s: float | None = None


def set_default_deadline(seconds: float | None) -> None:
    """The per-episode deadline of :func:`run_episodes` calls that give none (CLI ``--episode-deadline``).

    Process-wide so that it reaches the episodes run by the evolution evaluator and
    the benchmark too, which call :func:`run_episodes` themselves.
    """
    global _default_deadline_s
    if seconds is not None and not seconds > 0:
        raise ValueError(f"an episode deadline must be > 0 seconds, got {seconds!r}")
    _default_deadline_s = seconds


def specs_for(domain: str, split: str, condition: str = "base", seeds=(0,), limit: int | None = None) -> list[EpisodeSpec]:
    """Specs for the first ``limit`` tasks of an official split, one per seed."""
    tasks = load_tasks(domain, split)[:limit] if limit else load_tasks(domain, split)
    return [EpisodeSpec(domain, t.id, condition, s) for t in tasks for s in seeds]


def _write_tools(env) -> set[str]:
    ToolType = tau2_modules().ToolType
    return {n for n in env.tools.tools if env.tools.tool_type(n) == ToolType.WRITE}


def _message_record(msg) -> dict:
    rec = {"role": msg.role, "content": getattr(msg, "content", None)}
    calls = getattr(msg, "tool_calls", None)
    if calls:
        rec["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
    if msg.role == "tool":
        rec["tool_call_id"] = msg.id
        rec["error"] = bool(getattr(msg, "error", False))
    return rec


def run_episode(spec: EpisodeSpec, backend, max_steps: int = DEFAULT_MAX_STEPS,
                deadline_s: float | None = None, calls: list | None = None) -> dict:
    """Run and score one episode; always returns a record, errors included.

    The record's ``llm_calls`` / ``cost_usd`` count this run's calls only (not an
    earlier run of the same episode id in this process). ``calls``, if given,
    receives this run's ledger rows (a worker process sends them back).
    """
    m = tau2_modules()
    record = _new_record(spec, backend, max_steps)
    t0 = time.perf_counter()
    orchestrator = None
    with backend.ledger.episode(spec.episode_id) as rows, deadline_scope(deadline_s):
        try:
            task = get_task(spec.domain, spec.task_id)
            env = make_environment(spec.domain)
            scenario = build_scenario(task, spec.domain, _write_tools(env))
            if spec.persona is None:
                user = backend.make_user(task, scenario, spec.seed)
            else:  # only passed when set, so make_user overrides without it keep working
                user = backend.make_user(task, scenario, spec.seed, persona=Persona.from_dict(spec.persona))
            agent = backend.make_agent(env, task, scenario)
            orchestrator = m.Orchestrator(
                domain=spec.domain, agent=agent, user=user, environment=env, task=task,
                max_steps=max_steps, seed=spec.seed,
            )
            simulation = orchestrator.run()
            record["messages"] = [_message_record(msg) for msg in simulation.messages]
            record["termination_reason"] = getattr(simulation.termination_reason, "value", simulation.termination_reason)
            reward = m.evaluate_simulation(
                simulation=simulation, task=task, evaluation_type=m.EvaluationType.ALL,
                solo_mode=False, domain=fast_domain(spec.domain),
            )
            record["reward"] = float(reward.reward)
            record["reward_breakdown"] = {getattr(k, "value", str(k)): float(v) for k, v in (reward.reward_breakdown or {}).items()}
        except Exception as exc:  # noqa: BLE001 — every failure becomes a record
            record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            record["traceback"] = traceback.format_exc(limit=8)[-4000:]
            if not record["messages"] and orchestrator is not None:
                record["messages"] = _partial_messages(orchestrator)
    record["duration_s"] = round(time.perf_counter() - t0, 4)
    if deadline_s is not None and record["duration_s"] > deadline_s and not record["error"]:
        record["error"] = f"EpisodeDeadline: the episode ran {record['duration_s']:.1f} s, over its {deadline_s:g} s"
    usage = backend.ledger.totals(rows)
    if calls is not None:
        calls.extend(rows)
    record["llm_calls"] = usage["llm_calls"]
    record["cost_usd"] = usage["cost_usd"]
    return record


def _new_record(spec: EpisodeSpec, backend, max_steps: int) -> dict:
    return {
        "episode_id": spec.episode_id, "domain": spec.domain, "task_id": spec.task_id,
        "split": split_of(spec.domain, spec.task_id), "condition": spec.condition,
        "persona": spec.persona, "backend": backend.name, "user_model": backend.user_model,
        "agent_model": backend.agent_model, "seed": spec.seed, "max_steps": max_steps,
        "reward": None, "reward_breakdown": None, "termination_reason": None,
        "messages": [], "error": None, "ppol_nb_version": __version__,
    }


def _lost_record(result: EpisodeResult, backend, max_steps: int) -> dict:
    """The failure record of an episode lost with its worker (its calls were lost with it too)."""
    record = _new_record(result.spec, backend, max_steps)
    record.update(error=f"WorkerLost: {result.lost}; tried {result.attempts} time(s), runs again on resume",
                  duration_s=0.0, llm_calls=0, cost_usd=0.0)
    return record


def _partial_messages(orchestrator) -> list[dict]:
    """The conversation so far of an orchestrator that raised (best effort: never raises)."""
    try:
        return [_message_record(m) for m in list(getattr(orchestrator, "trajectory", None) or [])]
    except Exception:  # noqa: BLE001 — a half-built message must not hide the original error
        return []


def run_episodes(
    specs: list[EpisodeSpec],
    backend,
    run_dir,
    max_workers: int | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    progress: bool = True,
    retry_errors: bool = True,
    deadline_s: float | None = None,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """Run ``specs`` concurrently, appending each finished episode to ``run_dir``.

    ``executor`` (:mod:`ppol_nb.execution`; None: threads of this process, what
    ``LocalExecutor()`` runs) runs them: ``max_workers`` at a time in all, and ``backend.max_workers(max_workers)``
    at a time in any one process.

    Episodes already in ``run_dir/episodes.jsonl`` with the same ``max_steps`` are
    skipped (resume); ones that ended in an error are run again unless
    ``retry_errors=False``, and ones stored under another step cap are run again
    (the later record wins), so a changed cap never reuses episodes it would have
    cut differently. Returns the episodes of ``specs`` as a DataFrame, in the
    order of ``specs`` (whatever order they finished in).

    A torn last line left by a killed run is reported (``file:line``, stderr) and its
    episode runs again; a line that is JSON but not a valid record stops the resume
    with :class:`~.store.EpisodeFileError` (see :mod:`.store`).
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an int >= 1, got {max_steps!r}")
    deadline_s = _default_deadline_s if deadline_s is None else deadline_s
    store = EpisodeStore(run_dir)
    done = {r.episode_id for r in store.records()  # raises EpisodeFileError on an invalid record
            if r.max_steps == max_steps and (not retry_errors or not r.error)}
    todo = [s for s in specs if s.episode_id not in done]
    # The executor asks the backend what concurrency suits one process (threads overlap network
    # waits; pure-Python stand-ins gain nothing from them under the GIL).
    jobs = [EpisodeJob(s, max_steps, deadline_s) for s in todo]
    where = "local" if executor is None else executor.name
    bar = _progress(len(todo), progress, desc=f"episodes ({backend.name}, {where})")
    results = (executor.run(jobs, backend, max_workers) if executor is not None
               else run_in_threads(jobs, backend, backend.max_workers(max_workers)))
    try:
        for result in results:
            if result.ledger_rows:  # ran in another process: its calls join this ledger
                backend.ledger.extend(result.ledger_rows)
            store.append(result.record if result.record is not None else _lost_record(result, backend, max_steps))
            bar.update(1)
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
        bar.close()
    # Spec order, not finishing order: what is computed from the frame (means, fitness) must not
    # depend on which worker finished first, nor on whether the run was resumed.
    order: dict[str, int] = {}
    for spec in specs:
        order.setdefault(spec.episode_id, len(order))
    df = store.frame()
    if df.empty:
        return df
    df = df[df["episode_id"].isin(order)]
    return df.sort_values("episode_id", key=lambda ids: ids.map(order), kind="stable").reset_index(drop=True)


def run_in_threads(jobs: list[EpisodeJob], backend, in_flight: int) -> Iterator[EpisodeResult]:
    """Run ``jobs`` on ``backend`` in threads of this process, ``in_flight`` at a time (what
    ``run_episodes`` does with no executor, and ``LocalExecutor()``)."""
    # Rows stay in the shared ledger where they were recorded: results carry none.
    if in_flight <= 1:
        for job in jobs:
            yield EpisodeResult(job.spec, run_episode(job.spec, backend, job.max_steps, job.deadline_s))
        return
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="ppol-episode") as pool:
        futures = {pool.submit(run_episode, j.spec, backend, j.max_steps, j.deadline_s): j for j in jobs}
        for fut in as_completed(futures):
            yield EpisodeResult(futures[fut].spec, fut.result())


def _progress(total: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm  # a widget in Jupyter, a text bar in a terminal

    return tqdm(total=total, disable=not enabled or total == 0, desc=desc, leave=False)


def summarize(df: pd.DataFrame, by=("domain", "split", "agent_model")) -> pd.DataFrame:
    """Success rate per group; errored episodes count as failures and are listed."""
    if df.empty:
        import pandas as pd

        return pd.DataFrame()
    by = [c for c in by if c in df.columns]
    out = df.assign(errored=df["error"].notna()).groupby(by, dropna=False).agg(
        episodes=("episode_id", "count"),
        success_rate=("success", "mean"),
        mean_reward=("reward", "mean"),
        errors=("errored", "sum"),
        mean_duration_s=("duration_s", "mean"),
    )
    return out.reset_index()
