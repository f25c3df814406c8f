"""PPol's fitness as an evolution-engine evaluator: minibatch rollouts scored by a frozen model.

:class:`PPolEvaluator` implements the engine's :class:`~.interfaces.Evaluator`
protocol for one τ² domain.

``evaluate(source, iteration, program_id)`` — one fitness call (paper §2–3):

1. pick the minibatch of iteration ``t`` (:mod:`.curriculum`: 5 train-pool
   tasks by sliding window, N = 5 → 8 → 10 by epoch, λ = λ(N));
2. run the candidate program in the sandbox for every task
   (:func:`~ppol_nb.personas.cache.generate_for_task`, cached under
   ``run_dir/personas``). With ``generation_failure="skip_task"`` (default, the
   authors' rule) a task whose generation fails is left out: the candidate is
   scored on the other tasks of the minibatch (``metrics["generation_failures"]``
   counts the left-out tasks, ``artifacts["generation_failures"]`` says which
   and why, and the reflection is told how many). Only when every task fails,
   or with ``"fail_candidate"`` (this package's earlier rule) on any failure, is
   the call a failed evaluation (score 0) whose artifacts carry the error kind
   and text, so the mutator can see what broke. Validation applies the same
   rule per N;
3. run one episode per (task, persona) with the fixed agent
   (:func:`~ppol_nb.simulation.runner.run_episodes`, stored under
   ``run_dir/episodes/<program_id>``);
4. fingerprint the episodes and score them with the frozen
   :class:`~ppol_nb.fitness.score.FitnessModel`:
   ``M = λ_h · mean P(human) + λ_b · mean_t B_cover(task t)``;
5. write the reflection critique (:mod:`.reflection`) into
   ``artifacts["evaluator_reflection"]`` — unless ``reflect=False`` (the
   no-reflection ablation, :mod:`.variants`): then no critique is written and
   the mutator edits blind. With ``reflection_prompt="authors"`` (default) the
   reflector is given each task's scenario text (the generator's context,
   names redacted, ≤ 2,200 characters); with ``"ppol_nb"`` it is not.

The minibatch's N and λ follow ``curriculum`` and ``lambda_b_schedule``
(defaults: the paper's; :func:`.curriculum.minibatch_for`).

``rescore(source, iteration, program_id)`` — the engine's re-evaluation of a
program on another iteration's minibatch (its paired comparison with the
incumbent and confirmations, :mod:`.comparison`): steps 1–4 as above, no
reflection (nobody reads it), episodes under
``run_dir/episodes/<program_id>/context-<iteration>`` so that concurrent
re-evaluations of one program never share an episode file. The personas come
from the same cache, so a program's personas for a (task, N) are generated
once per run.

``validate(record)`` — checkpoint selection: the program on the held-out
validation slice at each N of the curriculum with λ = (0.5, 0.5); its
``"score"`` is the mean over N (the paper's final program is the best one).
Coverage compares with the training cloud H_train, as everywhere (Eq. 3); the
validation humans — never in H_train nor in the discriminator's training set —
are scored the same way under ``"humans"``, the level a human-like program
would reach (no episodes needed: the fitness model keeps their fingerprints).

Human split: at construction the evaluator asks the fitness model to prove
(:meth:`~ppol_nb.fitness.score.FitnessModel.check_humans`) that no training
human belongs to a validation or held-out human set, nor — for corpora split by
τ² task (TAU-USI) — to a task of this evaluator's validation slice; a model
without that record, or with a leak, raises
:class:`~ppol_nb.humans.HumanLeakError`.

Conventions this module fixes:

* An episode that ends in an error (an endpoint failure, invalid tool JSON) is
  not scored; a task left with no scored episode counts coverage 0. Only when
  *every* episode errs is the evaluation a failure. ``episode_errors`` reports it.
* ``success_rate`` counts errored episodes as failures; ``preservation_rate``
  is the share of personas passing the static task-preservation check.
  Neither enters the fitness (the paper's M does not use them).
* Spend: ``llm_calls`` are the generator's calls (0 on a persona-cache hit),
  every episode's ledger calls (user and agent; offline stand-ins log
  offline-role calls at cost 0) and the reflection call; ``cost_usd`` the same
  in dollars.
* Step caps (:mod:`~ppol_nb.simulation.step_caps`): minibatch episodes run with
  ``max_steps`` = 20 and validation episodes with ``val_max_steps`` = 30 τ²
  steps, the authors' settings. A capped episode (termination ``max_steps``,
  reward 0) is scored like any other. The frozen discriminator was trained on
  base-simulator episodes under the validation/benchmark cap (30), recorded as
  ``fitness_model.info["max_steps"]``.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..fitness import FEATURES, fingerprint_frame
from ..fitness.score import REPORT_LAMBDAS
from ..personas.cache import generate_for_task
from ..personas.conditions import persona_record
from ..personas.context import task_context
from ..personas.toolkit import format_context
from ..simulation.runner import EVAL_MAX_STEPS, TRAIN_MAX_STEPS, EpisodeSpec, run_episodes
from ..simulation.tau2_bridge import get_task, load_tasks
from .curriculum import (
    MINIBATCH_SIZE,
    PAPER_CURRICULUM,
    VAL_FRACTION,
    VAL_SEED,
    Minibatch,
    minibatch_for,
    schedule,
    split_validation,
)
from .interfaces import Evaluation
from .reflection import (
    ARTIFACT_CHARS,
    TASK_TEXT_CHARS,
    Critique,
    ReflectionInput,
    TaskView,
    clip,
    customer_names,
    episode_view,
    extremes,
    redact,
)

CONDITION = "program"  # the episode-store condition label of evolved candidates


class TaggedWorld:
    """A generator world whose calls are tagged in its client's ledger, so their cost can be summed.

    The sandbox answers a program's calls on its own threads, where an enclosing
    ``ledger.episode(...)`` would not reach; tagging inside ``answer`` does.
    Worlds without a ledger (the offline generator) pass through untouched.
    """

    def __init__(self, world, tag: str) -> None:
        self.world = world
        self.tag = tag
        self.ledger = world.ledger

    @property
    def key(self) -> str:
        return self.world.key  # persona cache keys must not change because of the tag

    def answer(self, request: dict, seed: int = 0) -> str:
        if self.ledger is None:
            return self.world.answer(request, seed=seed)
        with self.ledger.episode(self.tag):
            return self.world.answer(request, seed=seed)

    def cost_usd(self) -> float:
        return float(self.ledger.for_episode(self.tag)["cost_usd"]) if self.ledger is not None else 0.0


@dataclass
class Generation:
    """Personas for a set of tasks, or the first failure (in task order)."""

    results: dict  # task id -> GenerationResult
    llm_calls: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0

    @property
    def failure(self):
        return next((r for r in self.results.values() if not r.ok), None)

    @property
    def failed_task(self) -> str | None:
        return next((t for t, r in self.results.items() if not r.ok), None)

    @property
    def ok_ids(self) -> list[str]:
        return [t for t, r in self.results.items() if r.ok]

    def failures(self) -> list[dict]:
        """Each failed task: its id, error kind and (clipped) error, in task order."""
        return [{"task_id": t, "error_kind": r.error_kind, "error": clip(r.error or "", 1000)}
                for t, r in self.results.items() if not r.ok]


@dataclass
class BatchScore:
    """A scored set of episodes: the fitness terms and per-episode detail."""

    score: float
    hl: float
    coverage: float
    lambdas: tuple[float, float]
    frame: pd.DataFrame  # one row per scored episode: ids, features, p_human
    coverage_by_task: dict[str, float]
    hl_by_task: dict[str, float]
    n_episodes: int  # all episodes, errored included
    episode_errors: int
    success_rate: float
    llm_calls: int
    cost_usd: float
    first_error: str | None = None


def score_episodes(model, episodes: pd.DataFrame, task_ids, lambdas) -> BatchScore:
    """Score episodes of ``task_ids`` with a frozen FitnessModel (conventions in the module doc)."""
    task_ids = [str(t) for t in task_ids]
    ok = episodes[episodes["error"].isna()] if not episodes.empty else episodes
    frame = fingerprint_frame(ok.to_dict("records")) if len(ok) else pd.DataFrame(columns=["task_id", *FEATURES])
    X = frame[list(FEATURES)].to_numpy(float) if len(frame) else np.zeros((0, len(FEATURES)))
    p = model.discriminator.predict_proba_human(X) if len(X) else np.zeros(0)
    frame = frame.assign(p_human=p)
    tids = frame["task_id"].astype(str).to_numpy() if len(frame) else np.array([], dtype=str)
    coverage = {t: (model.reference.score(X[tids == t]) if (tids == t).any() else 0.0) for t in task_ids}
    hl_task = {t: float(p[tids == t].mean()) for t in task_ids if (tids == t).any()}
    lam_h, lam_b = lambdas
    hl = float(p.mean()) if len(p) else 0.0
    cov = float(np.mean(list(coverage.values()))) if coverage else 0.0
    errors = episodes["error"].dropna() if not episodes.empty else pd.Series(dtype=object)
    success = float((episodes["reward"].fillna(0.0) >= 1.0).mean()) if len(episodes) else 0.0
    return BatchScore(
        score=float(lam_h * hl + lam_b * cov), hl=hl, coverage=cov, lambdas=(float(lam_h), float(lam_b)),
        frame=frame, coverage_by_task=coverage, hl_by_task=hl_task, n_episodes=len(episodes),
        episode_errors=len(errors), success_rate=success,
        llm_calls=int(episodes["llm_calls"].fillna(0).sum()) if "llm_calls" in episodes else 0,
        cost_usd=float(episodes["cost_usd"].fillna(0.0).sum()) if "cost_usd" in episodes else 0.0,
        first_error=str(errors.iloc[0]) if len(errors) else None,
    )


class PPolEvaluator:
    """PPol's minibatch fitness and validation for one domain (see the module docstring).

    Parameters
    ----------
    domain : "retail" or "airline".
    fitness_model : the frozen :class:`~ppol_nb.fitness.score.FitnessModel` of this
        domain and user simulator (from the baseline study).
    backend : the episode backend (:class:`OfflineBackend` or :class:`LLMBackend`);
        its agent is the fixed agent.
    world : the generator world answering programs' LLM calls
        (``backend.generator(seed)``, :mod:`ppol_nb.backends`).
    train_tasks : τ² tasks or task ids to split into pool + validation
        (default: the official train split).
    val_fraction, val_seed : the validation slice (:func:`.curriculum.split_validation`).
    minibatch_size, curriculum : tasks per fitness call and N per epoch.
    lambda_b_schedule : λ_b per epoch (None: the paper's λ(N); :func:`.curriculum.minibatch_for`).
    reflect : write the reflection critique in ``evaluate`` (False: the no-reflection ablation;
        the mutator then sees no critique).
    reflection_prompt : ``"authors"`` (each task's scenario text goes to the reflector) or ``"ppol_nb"``.
    generation_failure : ``"skip_task"`` (score the tasks whose generation worked) or ``"fail_candidate"``.
    run_dir : where personas, episodes and validation episodes go.
    reflection : a reflector with ``reflect(ReflectionInput, seed) -> Critique``
        (default ``backend.reflector()``).
    episode_seed : τ² seed of every episode; generation_seed : seed of persona generation.
    max_steps, val_max_steps : τ² step caps of minibatch and validation episodes
        (default 20 and 30, the authors' settings).
    max_workers : concurrent episodes (None: the runner's default per backend).
    executor : where the episodes run (:mod:`ppol_nb.execution`, passed by the caller, e.g. the
        CLI's ``--executor``; None: threads of this process).
    generation_workers : concurrent sandboxed generator runs (None: 2 offline, one per task otherwise).
    sandbox_timeout_s : a program's own time limit per task.
    """

    def __init__(self, domain: str, fitness_model, backend, world, train_tasks=None,
                 val_fraction: float = VAL_FRACTION, val_seed: int = VAL_SEED,
                 minibatch_size: int = MINIBATCH_SIZE, curriculum=PAPER_CURRICULUM,
                 run_dir: str | Path = "runs/evolution", reflection=None, episode_seed: int = 0,
                 max_workers: int | None = None, generation_seed: int = 0, generation_workers: int | None = None,
                 max_steps: int = TRAIN_MAX_STEPS, val_max_steps: int = EVAL_MAX_STEPS,
                 sandbox_timeout_s: float = 120.0, progress: bool = False, executor=None,
                 lambda_b_schedule=None, reflect: bool = True, reflection_prompt: str = "authors",
                 generation_failure: str = "skip_task") -> None:
        if reflection_prompt not in ("authors", "ppol_nb"):
            raise ValueError(f"reflection_prompt must be 'authors' or 'ppol_nb', got {reflection_prompt!r}")
        if generation_failure not in ("skip_task", "fail_candidate"):
            raise ValueError(f"generation_failure must be 'skip_task' or 'fail_candidate', got {generation_failure!r}")
        self.reflection_prompt, self.generation_failure = reflection_prompt, generation_failure
        self.domain = domain
        self.fitness_model = fitness_model
        self.backend = backend
        self.world = world
        tasks = load_tasks(domain, "train") if train_tasks is None else [
            get_task(domain, str(t)) if isinstance(t, (str, int)) else t for t in train_tasks]
        self._tasks = {str(t.id): t for t in tasks}
        self.train_pool, self.validation_ids = split_validation(list(self._tasks), val_fraction, val_seed)
        fitness_model.check_humans(self.validation_ids)
        self.val_fraction, self.val_seed = val_fraction, val_seed
        self.minibatch_size = int(minibatch_size)
        self.curriculum = tuple(int(n) for n in curriculum)
        self.lambda_b_schedule = None if lambda_b_schedule is None else tuple(float(x) for x in lambda_b_schedule)
        self.reflect = bool(reflect)
        self.run_dir = Path(run_dir)
        self.reflection = reflection if reflection is not None else backend.reflector()
        self.episode_seed = episode_seed
        self.max_workers = max_workers
        self.executor = executor
        self.generation_seed = generation_seed
        # Tasks' generations overlap well when their calls wait on a network; a local model gains little.
        # (None: one per task, so a validation slice larger than a minibatch is not generated in two waves)
        self.generation_workers = generation_workers or (None if world.waits_on_network else 2)
        self.max_steps, self.val_max_steps = max_steps, val_max_steps
        self.sandbox_timeout_s = sandbox_timeout_s
        self.progress = progress

    # -- the schedule ------------------------------------------------------------------------
    def minibatch(self, iteration: int) -> Minibatch:
        return minibatch_for(self.train_pool, iteration, self.minibatch_size, self.curriculum,
                             self.lambda_b_schedule)

    def schedule(self, iterations: int) -> pd.DataFrame:
        """Minibatch, epoch, N and λ of fitness calls 0..``iterations`` (for plots and budgets)."""
        return schedule(self.train_pool, iterations, self.minibatch_size, self.curriculum,
                        self.lambda_b_schedule)

    def describe(self) -> dict:
        """The evaluator's setup, for manifests."""
        return {"domain": self.domain, "n_train_tasks": len(self._tasks), "train_pool": list(self.train_pool),
                "validation": list(self.validation_ids), "val_fraction": self.val_fraction,
                "val_seed": self.val_seed, "minibatch_size": self.minibatch_size,
                "curriculum": list(self.curriculum),
                "lambda_b_schedule": None if self.lambda_b_schedule is None else list(self.lambda_b_schedule),
                "reflect": self.reflect, "reflection_prompt": self.reflection_prompt,
                "generation_failure": self.generation_failure, "episode_seed": self.episode_seed,
                "generation_seed": self.generation_seed, "max_steps": self.max_steps,
                "val_max_steps": self.val_max_steps, "world": self.world.key,
                "reflection": type(self.reflection).__name__, "fitness_model": dict(self.fitness_model.info),
                "humans": {k: (v["n"], v["sha256"][:12]) for k, v in self.fitness_model.humans.items()
                           if isinstance(v, dict) and "sha256" in v}}

    # -- the protocol --------------------------------------------------------------------------
    def evaluate(self, source: str, iteration: int, program_id: str) -> Evaluation:
        return self._fitness(source, iteration, program_id, self.run_dir / "episodes" / program_id,
                             reflect=self.reflect)

    def rescore(self, source: str, iteration: int, program_id: str) -> Evaluation:
        """``evaluate`` on iteration ``iteration``'s minibatch, without reflection (see module doc)."""
        episodes_dir = self.run_dir / "episodes" / program_id / f"context-{int(iteration):05d}"
        return self._fitness(source, iteration, program_id, episodes_dir, reflect=False)

    def _fitness(self, source: str, iteration: int, program_id: str, episodes_dir: Path, reflect: bool
                 ) -> Evaluation:
        t0 = time.perf_counter()
        mb = self.minibatch(iteration)
        tasks = [self._tasks[t] for t in mb.task_ids]
        gen = self.generate(source, tasks, mb.n, tag=f"generate:{program_id}:{iteration}")
        if gen.failure is not None and not self._partial(gen):
            return self._generation_failed(gen, mb, t0)
        tasks = [t for t in tasks if str(t.id) in set(gen.ok_ids)]  # the authors score the tasks that worked
        scored_ids = [str(t.id) for t in tasks]
        specs = self._specs(gen, tasks)
        episodes = run_episodes(specs, self.backend, episodes_dir, max_workers=self.max_workers,
                                max_steps=self.max_steps, progress=self.progress, executor=self.executor)
        batch = score_episodes(self.fitness_model, episodes, scored_ids, mb.lambdas)
        spend_calls, spend_cost = gen.llm_calls + batch.llm_calls, gen.cost_usd + batch.cost_usd
        if batch.frame.empty:
            return Evaluation(metrics=self._zero_metrics(mb), error=f"every episode failed: {batch.first_error}",
                              artifacts={"error_kind": "episodes", "error": batch.first_error,
                                         "minibatch": self._mb_artifact(mb)},
                              llm_calls=spend_calls, cost_usd=spend_cost, duration_s=time.perf_counter() - t0)
        preserved = [bool((s.persona or {}).get("preservation", {}).get("ok")) for s in specs]
        metrics = {
            "score": batch.score, "hl": batch.hl, "coverage": batch.coverage, "n": mb.n,
            "lambda_h": mb.lambda_h, "lambda_b": mb.lambda_b, "success_rate": batch.success_rate,
            "preservation_rate": float(np.mean(preserved)) if preserved else 0.0,
            "n_episodes": batch.n_episodes, "n_tasks": len(scored_ids), "epoch": mb.epoch,
            "episode_errors": batch.episode_errors, "generation_failures": len(gen.failures()),
        }
        failed = {"generation_failures": gen.failures()} if gen.failure is not None else {}
        if not reflect:
            return Evaluation(metrics=metrics, artifacts={"minibatch": self._mb_artifact(mb),
                                                          "episodes_dir": str(episodes_dir), **failed},
                              llm_calls=spend_calls, cost_usd=spend_cost, duration_s=time.perf_counter() - t0)
        critique, reflection_error = self._reflect(batch, episodes, tasks, mb, iteration,
                                                   failed_tasks=len(gen.failures()))
        artifacts = {
            "evaluator_reflection": clip(critique.text, ARTIFACT_CHARS),
            "reflection_source": critique.source,
            "minibatch": self._mb_artifact(mb),
            "episodes_dir": str(episodes_dir),
            "per_task": [{"task_id": t, "hl": batch.hl_by_task.get(t), "coverage": batch.coverage_by_task[t]}
                         for t in scored_ids],
            "per_episode": self._per_episode(batch, episodes),
            **failed,
        }
        if reflection_error:
            artifacts["reflection_error"] = reflection_error
        return Evaluation(metrics=metrics, artifacts=artifacts, llm_calls=spend_calls + critique.llm_calls,
                          cost_usd=spend_cost + critique.cost_usd, duration_s=time.perf_counter() - t0)

    def validate(self, record) -> dict:
        """Mean validation score over N in the curriculum, λ = (0.5, 0.5); never raises for a bad program."""
        if not self.validation_ids:
            return {"error": "no validation tasks (val_fraction is 0)", "llm_calls": 0, "cost_usd": 0.0}
        tasks = [self._tasks[t] for t in self.validation_ids]
        by_n: dict[str, dict] = {}
        calls, cost = 0, 0.0

        def generate(n: int) -> Generation:
            return self.generate(record.source, tasks, n, tag=f"validate:{record.id}:n{n}")

        # Every N's personas at once where episodes overlap (an endpoint): the generation chains are the
        # deepest part of a validation; offline (one episode at a time) they stay one after another.
        if self.backend.max_workers(self.max_workers) > 1 and len(self.curriculum) > 1:
            with ThreadPoolExecutor(max_workers=len(self.curriculum), thread_name_prefix="ppol-validate") as pool:
                gens = dict(zip(self.curriculum, pool.map(generate, self.curriculum)))
        else:
            gens = {n: generate(n) for n in self.curriculum}
        specs: dict[int, list[EpisodeSpec]] = {}
        for n, gen in gens.items():
            calls, cost = calls + gen.llm_calls, cost + gen.cost_usd
            failure = gen.failure
            if failure is not None and not self._partial(gen):
                by_n[str(n)] = {"score": 0.0, "hl": 0.0, "coverage": 0.0, "error_kind": failure.error_kind,
                                "error": clip(failure.error or "", 2000)}
                continue
            specs[n] = self._specs(gen, [t for t in tasks if str(t.id) in set(gen.ok_ids)])
            if failure is not None:
                by_n[str(n)] = {"generation_failures": gen.failures()}
        # One batch for every N (episode ids are unique per persona), in N order as before. All of it in
        # flight at once unless max_workers says otherwise (on an endpoint a validation is ~140 episodes,
        # which the default of a minibatch's batch would run in waves; offline runs one at a time anyway).
        if specs:
            batch_specs = [s for n in specs for s in specs[n]]
            episodes = run_episodes(batch_specs, self.backend, self.run_dir / "validation" / record.id,
                                    max_workers=self.max_workers or len(batch_specs),
                                    max_steps=self.val_max_steps, progress=self.progress, executor=self.executor)
        for n in self.curriculum:
            if n not in specs:
                continue
            ids = {s.episode_id for s in specs[n]}
            scored = [t for t in self.validation_ids if t in set(gens[n].ok_ids)]
            batch = score_episodes(self.fitness_model, episodes[episodes["episode_id"].isin(ids)].reset_index(drop=True),
                                   scored, REPORT_LAMBDAS)
            calls, cost = calls + batch.llm_calls, cost + batch.cost_usd
            by_n[str(n)] = {**by_n.get(str(n), {}), "score": batch.score, "hl": batch.hl, "coverage": batch.coverage,
                            "n_episodes": batch.n_episodes, "episode_errors": batch.episode_errors,
                            "success_rate": batch.success_rate}
        by_n = {str(n): by_n[str(n)] for n in self.curriculum}  # the order the record always had
        out = {"score": float(np.mean([v["score"] for v in by_n.values()])), "by_n": by_n,
               "n_tasks": len(tasks), "lambdas": list(REPORT_LAMBDAS), "llm_calls": int(calls),
               "cost_usd": float(cost)}
        humans = self.validation_humans_row()
        if humans is not None:
            out["humans"] = humans
        return out

    def validation_humans_row(self) -> dict | None:
        """HL, coverage and score of the validation humans (λ = 0.5/0.5); None if there are none.

        By-task corpora keep only humans of this evaluator's validation tasks.
        """
        model = self.fitness_model
        X, groups = model.validation_humans, np.asarray(model.validation_groups, dtype=str)
        if X is None or not len(X):
            return None
        if model.humans.get("by") == "task":
            keep = np.isin(groups, self.validation_ids)
            X, groups = X[keep], groups[keep]
            if not len(X):
                return None
        row = model.row(X, groups, lambdas=REPORT_LAMBDAS, n_boot=0, label="Humans (validation)")
        return {"score": row["score"], "hl": row["hl"], "coverage": row["coverage"], "n_dialogues": row["n_episodes"],
                "n_groups": row["n_tasks"]}

    # -- steps ---------------------------------------------------------------------------------
    def generate(self, source: str, tasks: list, n: int, tag: str) -> Generation:
        """Run the program for every task (sandboxed, cached, a few at a time)."""
        t0 = time.perf_counter()
        world = TaggedWorld(self.world, tag)

        def one(task):
            return generate_for_task(source, task, self.domain, n, world, seed=self.generation_seed,
                                     cache_dir=self.run_dir / "personas", source_label=CONDITION,
                                     timeout_s=self.sandbox_timeout_s)

        workers = max(1, min(self.generation_workers or len(tasks), len(tasks)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ppol-generate") as pool:
            results = dict(zip((str(t.id) for t in tasks), pool.map(one, tasks)))
        return Generation(results, llm_calls=sum(r.llm_calls for r in results.values()), cost_usd=world.cost_usd(),
                          duration_s=time.perf_counter() - t0)

    def _partial(self, gen: Generation) -> bool:
        """Whether a generation with failures is still scored (on its tasks that worked)."""
        return self.generation_failure == "skip_task" and bool(gen.ok_ids)

    def _specs(self, gen: Generation, tasks: list) -> list[EpisodeSpec]:
        return [EpisodeSpec(self.domain, str(task.id), CONDITION, self.episode_seed,
                            persona_record(persona, task, self.domain))
                for task in tasks for persona in gen.results[str(task.id)].personas]

    def _reflect(self, batch: BatchScore, episodes: pd.DataFrame, tasks: list, mb: Minibatch,
                 iteration: int, failed_tasks: int = 0) -> tuple[Critique, str | None]:
        inp = self.reflection_input(batch, episodes, tasks, mb)
        inp.failed_tasks = failed_tasks
        try:
            return self.reflection.reflect(inp, seed=iteration), None
        except Exception as exc:  # noqa: BLE001 — a failed critique must not fail the fitness call
            note = f"{type(exc).__name__}: {exc}"[:500]
            # The mutator still gets the metrics; it is told plainly that no critique came.
            return Critique(f"(No reflection for this iteration: the reflector failed with {note})",
                            source="unavailable"), note

    def reflection_input(self, batch: BatchScore, episodes: pd.DataFrame, tasks: list, mb: Minibatch
                         ) -> ReflectionInput:
        """What the reflector sees for this batch (see :mod:`.reflection`)."""
        names = sorted({n for task in tasks for n in customer_names(task, self.domain)}, key=len, reverse=True)
        by_id = {r["episode_id"]: r for r in episodes.to_dict("records")}
        frame = batch.frame.reset_index(drop=True)
        rows = [by_id[e] for e in frame["episode_id"]]
        p = frame["p_human"].to_numpy(float)
        X = frame[list(FEATURES)].to_numpy(float)
        active = [[a for a, on in ((r.get("persona") or {}).get("axis_placement") or {}).items() if on] for r in rows]

        def view(i: int):
            r = rows[i]
            return episode_view(p[i], r.get("persona"), X[i], r.get("messages"), names,
                                success=bool((r.get("reward") or 0.0) >= 1.0))

        best, worst = extremes(p)
        task_views = []
        for task in tasks:
            t = str(task.id)
            idx = [i for i, r in enumerate(rows) if str(r["task_id"]) == t]
            scenario = (clip(redact(format_context(task_context(task, self.domain)), names), TASK_TEXT_CHARS)
                        if self.reflection_prompt == "authors" else "")
            task_views.append(TaskView(hl=batch.hl_by_task.get(t, 0.0), coverage=batch.coverage_by_task[t],
                                       personas=[(float(p[i]), active[i]) for i in idx], scenario=scenario))
        return ReflectionInput(score=batch.score, hl=batch.hl, coverage=batch.coverage, n=mb.n,
                               lambda_h=mb.lambda_h, lambda_b=mb.lambda_b, tasks=task_views,
                               best=[view(i) for i in best], worst=[view(i) for i in worst], banned_names=names,
                               all_fingerprints=X, all_p_human=p, all_active=active)

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _mb_artifact(mb: Minibatch) -> dict:
        # Task ids are kept for analysis only; the critique itself never names a task.
        return {"task_ids": list(mb.task_ids), "start": mb.start, "epoch": mb.epoch, "n": mb.n,
                "lambda_h": mb.lambda_h, "lambda_b": mb.lambda_b}

    @staticmethod
    def _zero_metrics(mb: Minibatch) -> dict:
        return {"score": 0.0, "hl": 0.0, "coverage": 0.0, "n": mb.n, "lambda_h": mb.lambda_h,
                "lambda_b": mb.lambda_b, "n_episodes": 0, "epoch": mb.epoch}

    def _generation_failed(self, gen: Generation, mb: Minibatch, t0: float) -> Evaluation:
        failure = gen.failure
        message = f"persona generation failed ({failure.error_kind}): {failure.error}"
        artifacts = {
            "error_kind": failure.error_kind,
            "error": clip(failure.error or "", 4000),
            "stderr_tail": clip(failure.stderr_tail or "", 2000),
            "evaluator_reflection": clip(f"The program failed before any conversation ran "
                                         f"({failure.error_kind}): {failure.error}", ARTIFACT_CHARS),
            "minibatch": self._mb_artifact(mb),
        }
        return Evaluation(metrics=self._zero_metrics(mb), error=clip(message, 2000), artifacts=artifacts,
                          llm_calls=gen.llm_calls, cost_usd=gen.cost_usd, duration_s=time.perf_counter() - t0)

    @staticmethod
    def _per_episode(batch: BatchScore, episodes: pd.DataFrame) -> list[dict]:
        rows = {r["episode_id"]: r for r in episodes.to_dict("records")}
        out = []
        for rec in batch.frame.to_dict("records"):
            ep = rows[rec["episode_id"]]
            persona = ep.get("persona") or {}
            out.append({
                "task_id": str(rec["task_id"]), "persona_id": rec.get("persona_id"),
                "p_human": round(float(rec["p_human"]), 4),
                "active_behaviours": [a for a, on in (persona.get("axis_placement") or {}).items() if on],
                "reward": ep.get("reward"), "preserved": (persona.get("preservation") or {}).get("ok"),
            })
        return out


__all__ = ["BatchScore", "Generation", "PPolEvaluator", "TaggedWorld", "persona_record", "score_episodes"]
