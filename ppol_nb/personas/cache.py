"""Persona cache: generate once per (program, task context, N, seed, LLM world).

Entries are small JSON files under ``cache_dir`` (one per key, written
atomically), so concurrent runs can share a directory and a human can browse
it. Only successful generations are stored: a failure may be transient (an
endpoint error) and a re-run should try again.

The key covers everything that changes the personas — the program text (by
hash), the task context (by hash, not the task id: two tasks with the same user
context get the same personas), N, the seed and the world's identity (offline
model version, or model + endpoint) — so a stale entry cannot be served.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from .context import task_context
from .sandbox import GenerationResult, context_hash, program_hash, run_program

CACHE_VERSION = "personas-v1"


def cache_key(kind: str, ident: str, context: dict, n: int, seed: int, world_key: str) -> str:
    """sha256 over the generation's inputs; ``ident`` is the program hash (or "dp")."""
    parts = [CACHE_VERSION, kind, ident, context_hash(context), n, seed, world_key]
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


class PersonaCache:
    """Key -> :class:`GenerationResult` JSON files under one directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> GenerationResult | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None  # a missing or torn entry is simply a miss
        result = GenerationResult.from_dict(data["result"])
        result.cached, result.llm_calls, result.duration_s = True, 0, 0.0
        return result

    def put(self, key: str, result: GenerationResult, meta: dict | None = None) -> None:
        if not result.ok:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"key": key, "created": time.time(), "meta": meta or {}, "result": result.to_dict()}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json"))


def resolve_task(task, domain: str):
    if isinstance(task, (str, int)):
        from ..simulation.tau2_bridge import get_task

        return get_task(domain, str(task))
    return task


def generate_for_task(program_source: str, task, domain: str, n: int, world, seed: int = 0,
                      cache_dir: str | Path | None = None, source_label: str = "program",
                      **run_kwargs) -> GenerationResult:
    """Personas for one τ² task from a generator program, through the cache.

    ``task`` is a τ² ``Task``, a :class:`TaskScenario` or a task id. With
    ``cache_dir`` None nothing is cached. ``run_kwargs`` go to
    :func:`~ppol_nb.personas.sandbox.run_program` (timeout_s, memory_mb, ...).
    """
    task = resolve_task(task, domain)
    context = task_context(task, domain)
    cache = PersonaCache(cache_dir) if cache_dir is not None else None
    key = cache_key("program", program_hash(program_source), context, n, seed, world.key)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    result = run_program(program_source, context, n, world, seed=seed, source_label=source_label, **run_kwargs)
    if cache is not None:
        cache.put(key, result, meta={"task_id": str(getattr(task, "id", getattr(task, "task_id", ""))),
                                     "domain": domain, "n": n, "seed": seed, "world": world.key,
                                     "program_hash": result.program_hash})
    return result
