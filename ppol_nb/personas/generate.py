"""Personas for an experimental condition, one task or many: the runner's entry point.

Conditions that generate personas:

* ``"seed"`` — the shipped seed program (PPol: Initial), run in the sandbox;
* ``"program"`` — any generator program (source text or a path), e.g. an evolved one;
* ``"dp"`` — direct personas, one LLM call per task (the unstructured baseline).

Everything goes through the persona cache when ``cache_dir`` is given, and
failures come back as :class:`GenerationResult` records, never as exceptions.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .cache import generate_for_task
from .direct import direct_for_task
from .programs import program_source
from .sandbox import GenerationResult

GENERATING_CONDITIONS = ("seed", "program", "dp")


def _program_text(program) -> str:
    if isinstance(program, Path) or (isinstance(program, str) and "\n" not in program and program.endswith(".py")):
        return Path(program).read_text(encoding="utf-8")
    if not isinstance(program, str):
        raise TypeError("condition 'program' needs program= source text or a path to a .py file")
    return program


def personas_for_task(condition: str, task, domain: str, n: int, world, seed: int = 0,
                      cache_dir: str | Path | None = None, program=None, **run_kwargs) -> GenerationResult:
    """``n`` personas for one task (a τ² Task or task id) under ``condition``."""
    if condition == "dp":
        return direct_for_task(task, domain, n, world, seed=seed, cache_dir=cache_dir)
    if condition == "seed":
        source, label = program_source("seed"), "seed"
    elif condition == "program":
        source, label = _program_text(program), "program"
    else:
        raise ValueError(f"condition {condition!r} generates no personas; expected one of {GENERATING_CONDITIONS}")
    return generate_for_task(source, task, domain, n, world, seed=seed, cache_dir=cache_dir, source_label=label,
                             **run_kwargs)


def personas_for_tasks(condition: str, tasks: list, domain: str, n: int, world, seed: int = 0,
                       cache_dir: str | Path | None = None, program=None, max_workers: int = 2,
                       **run_kwargs) -> dict[str, GenerationResult]:
    """``{task_id: GenerationResult}`` for many tasks, a few sandboxes at a time (threads)."""
    def one(task):
        return personas_for_task(condition, task, domain, n, world, seed=seed, cache_dir=cache_dir,
                                 program=program, **run_kwargs)

    ids = [str(getattr(t, "id", t)) for t in tasks]
    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="personas") as pool:
        return dict(zip(ids, pool.map(one, tasks)))
