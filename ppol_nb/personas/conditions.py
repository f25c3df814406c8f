"""Experimental conditions as episode specs: base, dp, seed, a program, trait suites.

``condition_specs`` turns (condition, domain, split, N) into the episodes to run —
one per (task, persona, seed) — plus a record for every task whose persona
generation failed. Each persona carries its static task-preservation report
(:mod:`.preservation`), so the episode store flags instructions that fail it.

Conditions:

* ``base`` — no persona, one episode per task and seed (τ²'s default simulator);
* ``dp`` — direct LLM personas: one call per task returning N instructions;
* ``seed`` — the seed generator program (PPol: Initial);
* ``program`` — any generator program file (e.g. the evolved best);
* ``trait:<name>`` (or just the name) — one of the four OOD trait suites.
"""

from __future__ import annotations

from pathlib import Path

from ..simulation.runner import EpisodeSpec
from ..simulation.tau2_bridge import load_tasks
from .generate import personas_for_tasks
from .preservation import check_instruction
from .traits import TRAIT_NAMES, trait_persona

CONDITIONS = ("base", "dp", "seed", "program", *(f"trait:{t}" for t in TRAIT_NAMES))


def normalise_condition(condition: str) -> str:
    if condition in TRAIT_NAMES:
        return f"trait:{condition}"
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; expected one of {CONDITIONS}")
    return condition


def persona_record(persona, task, domain: str) -> dict:
    """A persona as an episode spec carries it: its fields plus its static preservation report."""
    report = check_instruction(persona.instruction, str(task.user_scenario), domain)
    return {**persona.to_dict(), "preservation": {"ok": report.ok, "violations": report.violations}}


def condition_specs(condition: str, domain: str, split: str | None = "train", n_personas: int = 5, seeds=(0,),
                    limit: int | None = None, world=None, cache_dir: str | Path | None = None, program=None,
                    generation_seed: int = 0, task_ids=None) -> tuple[list[EpisodeSpec], list[dict]]:
    """Episode specs for a condition, and generation-failure records (one per failed task).

    ``split=None`` with ``task_ids`` picks tasks from either split.
    ``world`` answers the generator's LLM calls (``backend.generator(seed)``);
    ``generation_seed`` fixes the personas while ``seeds`` replicate the episodes.
    """
    condition = normalise_condition(condition)
    tasks = load_tasks(domain, split)
    if task_ids is not None:
        wanted = {str(t) for t in task_ids}
        tasks = [t for t in tasks if t.id in wanted]
    tasks = tasks[:limit] if limit else tasks
    if condition == "base":
        return [EpisodeSpec(domain, t.id, "base", s) for t in tasks for s in seeds], []
    if condition.startswith("trait:"):
        persona = trait_persona(condition.split(":", 1)[1])
        return [EpisodeSpec(domain, t.id, condition, s, persona_record(persona, t, domain)) for t in tasks for s in seeds], []
    if world is None:
        raise ValueError(f"condition {condition!r} generates personas and needs a generator world")
    results = personas_for_tasks(condition, tasks, domain, n_personas, world, seed=generation_seed,
                                 cache_dir=cache_dir, program=program)
    specs, failures = [], []
    for task in tasks:
        res = results[str(task.id)]
        if not res.ok:
            failures.append({"domain": domain, "task_id": task.id, "condition": condition,
                             "error_kind": res.error_kind, "error": res.error, "duration_s": res.duration_s})
            continue
        for persona in res.personas:
            record = persona_record(persona, task, domain)
            specs.extend(EpisodeSpec(domain, task.id, condition, s, record) for s in seeds)
    return specs, failures
