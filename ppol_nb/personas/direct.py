"""Direct personas (DP): the paper's unstructured baseline.

One LLM call per task asks for all N roleplay instructions at once: no axes, no
population phase, no expansion phase, no evolution. It runs in the parent
process (it is ppol_nb's own code, not an untrusted program) through the same
LLM worlds as generator programs.

Like every persona, a DP persona is text only; the offline world answers the DP
prompt with its own generic instructions and the offline user reads them as it
reads any persona (:mod:`ppol_nb.offline.reader`).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

from .cache import PersonaCache, cache_key, resolve_task
from .context import task_context
from .record import (
    MIN_INSTRUCTION_CHARS,
    Persona,
    PersonaError,
    slug,
    validate_population,
)
from .sandbox import GenerationResult, context_hash
from .toolkit import (
    POPULATION_MAX_TOKENS,
    POPULATION_TEMPERATURE,
    format_context,
    parse_json,
)

DP_SYSTEM = (
    "You write roleplay instructions for people who play customers in text-chat conversations with "
    "customer-service agents. Answer with JSON only."
)

DP_PROMPT = """A customer is about to contact support about the situation below.

{context}

Write {n} different roleplay instructions for playing this customer, each addressed to them as "you" and \
150-250 words long. Each instruction describes a different kind of person and how they communicate. Keep every \
goal and fact of the situation exactly as given; change only how the person goes about it, and add no new \
requests, details, names or numbers. The customer never breaks character and never mentions being simulated, \
tested or an AI.

Return only a JSON array with one object per instruction:
[{{"persona_id": "short_snake_case_label", "description": "one sentence about the person", "instruction": "..."}}]"""

DP_HASH = hashlib.sha256((DP_SYSTEM + DP_PROMPT).encode("utf-8")).hexdigest()


def _items(value) -> list:
    if isinstance(value, dict):
        for key in ("personas", "instructions", "items"):
            if isinstance(value.get(key), list):
                return value[key]
    if not isinstance(value, list):
        raise PersonaError(f"the DP reply is a {type(value).__name__}, not a list")
    return value


def parse_direct(text: str, n: int, context: dict, seed: int) -> list[Persona]:
    """The DP reply as ``n`` Persona records; raises PersonaError when fewer than ``n`` are usable."""
    try:
        raw = _items(parse_json(text))
    except ValueError as exc:
        raise PersonaError(f"the DP reply is not JSON: {exc}") from None
    ctx = context_hash(context)
    personas = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            item = {"instruction": item}
        if not isinstance(item, dict):
            continue
        instruction = str(item.get("instruction") or item.get("persona") or item.get("text") or "").strip()
        if len(instruction) < MIN_INSTRUCTION_CHARS:
            continue  # the paper's generators drop persona strings this short
        description = str(item.get("description") or "").strip() or instruction.split(". ")[0][:200]
        index = len(personas)
        digest = hashlib.sha256(json.dumps([DP_HASH, ctx, seed, index, instruction]).encode()).hexdigest()[:8]
        label = slug(str(item.get("persona_id") or f"dp_{index}"))[:32]
        personas.append(Persona.create(description=description, instruction=instruction, axis_placement={},
                                       reasoning="",
                                       source="dp", persona_id=f"{label}-{digest}"))
        if len(personas) == n:
            break
    if len(personas) < n:
        raise PersonaError(f"asked for {n} DP personas, the reply had {len(personas)} usable ({len(raw)} returned)")
    return validate_population(personas, n)


def direct_personas(context: dict, n: int, world, seed: int = 0) -> GenerationResult:
    """N personas for one task context from one LLM call (never raises; errors are records)."""
    t0 = time.perf_counter()
    result = GenerationResult(ok=False, program_hash=DP_HASH, n=n, seed=seed)
    request = {
        "messages": [{"role": "system", "content": DP_SYSTEM},
                     {"role": "user", "content": DP_PROMPT.format(context=format_context(context), n=n)}],
        "temperature": POPULATION_TEMPERATURE, "max_tokens": POPULATION_MAX_TOKENS,
    }
    try:
        result.llm_calls = 1
        text = world.answer(request, seed=seed)
    except Exception as exc:  # noqa: BLE001 — an endpoint failure is a record, not a crash
        result.error, result.error_kind = f"{type(exc).__name__}: {exc}"[:1000], "llm"
    else:
        try:
            result.personas = parse_direct(text, n, context, seed)
            result.ok = True
        except PersonaError as exc:
            result.error, result.error_kind = str(exc), "population"
    result.duration_s = round(time.perf_counter() - t0, 4)
    return result


def direct_for_task(task, domain: str, n: int, world, seed: int = 0,
                    cache_dir: str | Path | None = None) -> GenerationResult:
    """DP personas for one τ² task (a Task, TaskScenario or task id), through the persona cache."""
    task = resolve_task(task, domain)
    context = task_context(task, domain)
    cache = PersonaCache(cache_dir) if cache_dir is not None else None
    key = cache_key("dp", DP_HASH, context, n, seed, world.key)
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit
    result = direct_personas(context, n, world, seed=seed)
    if cache is not None:
        cache.put(key, result, meta={"task_id": str(getattr(task, "id", "")), "domain": domain, "n": n,
                                     "seed": seed, "world": world.key, "condition": "dp"})
    return result
