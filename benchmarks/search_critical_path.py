"""The critical path of a PPol search, computed from the run's own records (issue 19, item 5).

A search is a sequence of rounds (``round_start`` events list each round's
iterations). Requests within one chain are sequential (a mutator conversation,
one task's persona-generation calls, one episode's turns, a reflection); chains
of different candidates, tasks and episodes may overlap. The shortest possible
wall time at a fixed per-request latency ``L`` is therefore

    CP = L × Σ_rounds [ max( max_{c in round} chain(c), pair_incumbent(round) ) + V(round) ]

(with ``pairing="after"``, i.e. no speculative re-evaluation, the ``max`` becomes a sum)

    chain(c) = mutator(c) + generation(c) + episode(c) + reflection(c) + confirm(c)

* ``mutator(c)``     mutator calls of iteration c (ledger role ``mutator``);
* ``generation(c)``  per-task depth of c's persona generation: a program's calls per task
                     ``k`` (the evaluation's generation calls over its tasks) made as the seed
                     program makes them, one population call and then the ``k − 1``
                     expansions concurrently, at most ``MAX_EXPANSION_WORKERS`` (8) at a time
                     (the toolkit's ``expand_all`` and the sandbox's LLM-call pool, both 8):
                     ``1 + ceil((k − 1) / 8)`` requests deep (:func:`generation_depth`);
* ``episode(c)``     most LLM calls of any one episode of c's evaluation;
* ``reflection(c)``  reflection calls of c (1 when a critique was written, else 0);
* ``confirm(c)``     generation + deepest episode of c's confirmation re-evaluation
                     (fitness_evals purpose ``confirm``), 0 if c did not win its pairing;
* ``pair_incumbent`` generation + deepest episode of the incumbent's paired
                     re-evaluation in that round (purpose ``pair``), run beside the candidates
                     when speculative (``pairing="parallel"``), after them otherwise;
* ``V(round)``       the validation chain requested in that round: on an endpoint every
                     curriculum N's personas are generated at once, so the deepest N's
                     generation depth (its per-task calls: the per-task generation calls scaled
                     by (max N + 1) / Σ (N + 1), exact for seed-shaped programs) + the deepest
                     episode of the one batch; added when validation blocks (``validation="sync"``). In the
                     background (``"async"``) it starts when its round ends and overlaps the
                     next rounds, but the run cannot end before it does:
                     CP = L × max( Σ_r depth(r), max_r [ Σ_{r' <= r} depth(r') + V(r) ] ).

This is a lower bound: it assumes unlimited concurrency at the server and zero
client-side time. ``wall / CP`` is the benchmark's efficiency ratio (1.0 ideal).
It is exact for seed-shaped programs (the benchmark's mutator rewrites one
playbook sentence, so every candidate keeps the seed's call structure); an
earlier version counted a task's generation calls as one sequential chain
(``k`` deep instead of ``1 + ceil((k − 1) / 8)``), which overstated the path
(6 instead of 2 requests at N = 5, 9 instead of 2 at N = 8) and flattered the ratio.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ppol_nb.personas.toolkit import MAX_EXPANSION_WORKERS


@dataclass
class Chain:
    """Sequential request counts of one candidate (see module docstring)."""

    mutator: int = 0
    generation: int = 0
    episode: int = 0
    reflection: int = 0
    confirm: int = 0

    @property
    def length(self) -> int:
        return self.mutator + self.generation + self.episode + self.reflection + self.confirm


@dataclass
class Round:
    iterations: list[int]
    pair_incumbent: int = 0
    validation: int = 0
    chains: dict[int, Chain] = field(default_factory=dict)


def critical_path(rounds: Sequence[Round], latency_s: float, validation: str = "sync",
                  pairing: str = "parallel") -> dict:
    """``CP`` in seconds and per-round request depths (formula in the module docstring).

    ``validation``: ``"sync"`` (blocks the round) or ``"async"`` (background, the
    endpoint default); ``pairing``: ``"parallel"`` (the incumbent's re-evaluation
    starts with the candidates: speculative) or ``"after"`` (it follows them).
    """
    if validation not in ("sync", "async"):
        raise ValueError(f"validation must be 'sync' or 'async', not {validation!r}")
    if pairing not in ("parallel", "after"):
        raise ValueError(f"pairing must be 'parallel' or 'after', not {pairing!r}")
    depths, finish = [], 0
    for i, rnd in enumerate(rounds):
        cand = max((rnd.chains.get(it, Chain()).length for it in rnd.iterations), default=0)
        depth = max(cand, rnd.pair_incumbent) if pairing == "parallel" else cand + rnd.pair_incumbent
        if validation == "sync":
            depth += rnd.validation
        depths.append(depth)
        # a background validation starts when its round ends and must finish before the run does
        finish = max(finish, sum(depths) + (rnd.validation if validation == "async" else 0))
    total = max(sum(depths), finish)
    return {"critical_path_s": latency_s * total, "requests_deep": total, "round_depths": depths,
            "latency_s": latency_s, "validation": validation, "pairing": pairing}


def _episodes(episodes_jsonl: Path) -> tuple[int, int, int]:
    """(deepest episode's LLM calls, all episodes' LLM calls, distinct tasks) of one episodes.jsonl."""
    if not episodes_jsonl.exists():
        return 0, 0, 0
    rows = [json.loads(line) for line in episodes_jsonl.read_text().splitlines() if line.strip()]
    calls = [int(r.get("llm_calls") or 0) for r in rows]
    return max(calls, default=0), sum(calls), len({str(r.get("task_id")) for r in rows})


def generation_depth(calls_per_task: int) -> int:
    """Requests deep of one task's persona generation made of ``calls_per_task`` calls, seed-shaped:
    one population call, then the expansions concurrently, ``MAX_EXPANSION_WORKERS`` at a time."""
    k = int(calls_per_task)
    return 0 if k <= 0 else 1 + -(-(k - 1) // MAX_EXPANSION_WORKERS)


def _chain(episodes_jsonl: Path, evaluation_calls: int) -> tuple[int, int]:
    """(generation calls per task, deepest episode) of one evaluation that made ``evaluation_calls``
    generation+episode calls.

    Persona generation is not logged per task, so its calls (the evaluation's
    calls less its episodes') are spread evenly over the tasks, which the seed
    program does exactly (one population call plus one call per person, per
    task); rounded up. :func:`generation_depth` turns them into a depth.
    """
    deepest, total, tasks = _episodes(episodes_jsonl)
    generation = max(0, int(evaluation_calls) - total)
    return (-(-generation // tasks) if tasks else 0), deepest


def rounds_from_run(run_dir: str | Path) -> list[Round]:
    """Read ``Round`` records from a run directory (evolution.sqlite + episodes/ + validation/)."""
    from ppol_nb.evolution.database import FILENAME, RunDatabase

    run_dir = Path(run_dir)
    db = RunDatabase(run_dir / FILENAME)
    try:
        programs = {p.iteration: p for p in db.programs()}
        by_id = {p.id: p for p in programs.values()}
        ledger = db.ledger_rows()
        evals = db.fitness_evals()
        validations = db.events("validation_start")
    finally:
        db.close()
    rounds = []
    for ev in (e for e in _round_events(run_dir)):
        rnd = Round(iterations=[int(i) for i in ev["iterations"]])
        its = set(rnd.iterations)
        for it in rnd.iterations:
            rec, ch = programs.get(it), Chain()
            ch.mutator = sum(r["llm_calls"] for r in ledger if r["iteration"] == it and r["role"] == "mutator")
            if rec is not None:
                art = rec.artifacts or {}
                ch.reflection = int(bool(art.get("evaluator_reflection")) and art.get("reflection_source") == "llm")
                calls, ch.episode = _chain(run_dir / "episodes" / rec.id / "episodes.jsonl",
                                           rec.llm_calls - ch.mutator - ch.reflection)
                ch.generation = generation_depth(calls)
                for e in evals:
                    if e["program_id"] == rec.id and e["purpose"] == "confirm":
                        g, d = _chain(run_dir / "episodes" / rec.id / f"context-{e['context']:05d}" / "episodes.jsonl",
                                      e["llm_calls"])
                        ch.confirm = max(ch.confirm, generation_depth(g) + d)
            rnd.chains[it] = ch
        for e in evals:
            if e["purpose"] == "pair" and e["iteration"] in its:
                g, d = _chain(run_dir / "episodes" / e["program_id"] / f"context-{e['context']:05d}" / "episodes.jsonl",
                              e["llm_calls"])
                rnd.pair_incumbent = max(rnd.pair_incumbent, generation_depth(g) + d)
        for v in validations:
            target = by_id.get(v.get("program_id"))
            if v.get("iteration") in its and target is not None:
                val = target.validation or {}
                g, d = _chain(run_dir / "validation" / target.id / "episodes.jsonl", int(val.get("llm_calls") or 0))
                # every N generates at once (the deepest N's chain counts), then one batch of episodes
                ns = sorted(int(n) for n in (val.get("by_n") or {})) or [0]
                share = (max(ns) + 1) / sum(n + 1 for n in ns)
                rnd.validation = max(rnd.validation, generation_depth(round(g * share)) + d)
        rounds.append(rnd)
    return rounds


def _round_events(run_dir: Path) -> list[dict]:
    from ppol_nb.evolution.database import FILENAME, RunDatabase

    db = RunDatabase(run_dir / FILENAME)
    try:
        return db.events("round_start")
    finally:
        db.close()


def in_flight(intervals: Sequence[tuple[float, float]]) -> dict:
    """Requests in flight from (arrival, end) times: time-weighted mean over first arrival → last end, and max."""
    if not intervals:
        return {"mean": 0.0, "max": 0, "span_s": 0.0}
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals], key=lambda p: (p[0], p[1]))
    start, end = points[0][0], max(b for _, b in intervals)
    area, level, peak, prev = 0.0, 0, 0, start
    for t, d in points:
        area += level * (t - prev)
        level += d
        peak = max(peak, level)
        prev = t
    span = end - start
    return {"mean": area / span if span > 0 else float(peak), "max": peak, "span_s": span}


def summarise(rounds: Sequence[Round]) -> list[dict]:
    return [{"iterations": r.iterations, "pair_incumbent": r.pair_incumbent, "validation": r.validation,
             "chains": {str(k): vars(v) for k, v in r.chains.items()}} for r in rounds]


def counts_by_role(log: Sequence[Mapping]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in log:
        out[row["role"]] = out.get(row["role"], 0) + 1
    return dict(sorted(out.items()))
