"""Toy programs, evaluator and mutator for the evolution-engine tests.

A "program" is a tiny Python source ``X = [x0, x1, x2, x3]``. The evaluator
reads the list without executing anything (``ast.literal_eval``), places the
program at (hl, coverage) = (x0, x1) and scores it by closeness to a hidden
target. The mutator perturbs one number with the engine-provided RNG, sometimes
blends towards an inspiration and, on request, emits a broken program.

Run as a script, it executes one engine run (used by the kill -9 resume test)::

    python evolution_toys.py RUN_DIR --config '{"max_iterations": 20}' --eval-log calls.txt
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

from ppol_nb.evolution import Evaluation, EvolutionConfig, EvolutionEngine, Proposal

TARGET = (0.85, 0.7, 0.3, 0.55)
SEED_PROGRAM = "X = [0.1, 0.1, 0.9, 0.1]\n"
ANGLES = ("axes", "population_prompt", "expansion", "structure", "new_approach")


# CPython 3.11's AST constructor keeps recursion-depth bookkeeping that concurrent
# ast.parse calls in threads can corrupt ("AST constructor recursion depth
# mismatch"); the engine evaluates in threads, so the toys parse one at a time.
_AST_LOCK = threading.Lock()


def parse_x(source: str) -> list[float]:
    with _AST_LOCK:
        return _parse_x(source)


def _parse_x(source: str) -> list[float]:
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "X" for t in node.targets):
            values = ast.literal_eval(node.value)
            return [float(v) for v in values]
    raise ValueError("no X = [...] assignment")


def render(x: list[float]) -> str:
    return "X = [" + ", ".join(f"{v:.4f}" for v in x) + "]\n"


class ToyEvaluator:
    """Deterministic fitness; optional delay, per-call log, cost and validation."""

    def __init__(
        self,
        delay_s: float = 0.0,
        call_log: str | Path | None = None,
        cost_usd: float = 0.0,
        with_validation: bool = False,
        flat: bool = False,
        staggered: bool = False,
    ) -> None:
        self.delay_s = delay_s
        self.staggered = staggered  # candidates of one round end at different times
        self.call_log = Path(call_log) if call_log else None
        self.cost_usd = cost_usd
        self.flat = flat  # every program scores the same: nothing ever improves
        self.calls = 0
        self._lock = threading.Lock()
        if with_validation:
            self.validate = self._validate

    def evaluate(self, source: str, iteration: int, program_id: str) -> Evaluation:
        with self._lock:
            self.calls += 1
            if self.call_log is not None:
                with open(self.call_log, "a", encoding="utf-8") as fh:
                    fh.write(f"{program_id}@{iteration}\n")  # one line per (program, context) evaluated
        if self.delay_s:
            time.sleep(self.delay_s * (1 + iteration % 3 if self.staggered else 1))
        x = parse_x(source)  # raises on broken programs -> failed record
        score = 0.5 if self.flat else quality(x)
        return Evaluation(
            metrics={"score": score, "hl": x[0], "coverage": x[1]},
            artifacts={"reflection": f"x0={x[0]:.2f}"},
            llm_calls=1 if self.cost_usd else 0,
            cost_usd=self.cost_usd,
        )

    def _validate(self, record) -> dict:
        if self.delay_s:
            time.sleep(3 * self.delay_s)  # a validation is a bigger batch than a minibatch
        x = parse_x(record.source)
        return {"score": 1.0 - abs(x[0] - TARGET[0]), "n": [5, 8, 10], "llm_calls": 2, "cost_usd": 0.001}


def quality(x: list[float]) -> float:
    """The toy's true quality: closeness to the hidden target (what a fair search should climb)."""
    return 1.0 - sum((a - b) ** 2 for a, b in zip(x, TARGET)) / len(TARGET)


def _unit_normal(*key) -> float:
    """A standard normal draw fixed by ``key`` (deterministic, no shared stream)."""
    return random.Random(repr(key)).gauss(0.0, 1.0)


class PhasedEvaluator:
    """A PPol-shaped toy fitness whose raw scores are not comparable across iterations.

    ``score(program, t) = quality + offsets[phase(t)] + difficulty(t) + noise(program, t)``:

    * ``offsets`` per curriculum phase of ``phase_len`` iterations, falling like
      PPol's M when N and λ move from (5, 0.75) to (10, 0.5) while coverage
      stays near 0 offline;
    * ``difficulty(t)``: the minibatch's own level, shared by every program
      scored on it (easy and hard task windows);
    * ``noise``: one episode per (task, persona), different for every
      (program, minibatch) pair.

    All terms are deterministic functions of (source, t), like a cached rollout.
    ``calls`` counts evaluate() calls per (program id, iteration).
    """

    def __init__(self, phase_len: int = 6, offsets=(0.3, 0.0, -0.3), difficulty_sd: float = 0.05,
                 noise_sd: float = 0.03, seed: int = 0) -> None:
        self.phase_len, self.offsets = phase_len, tuple(offsets)
        self.difficulty_sd, self.noise_sd, self.seed = difficulty_sd, noise_sd, seed
        self.calls: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def offset(self, t: int) -> float:
        return self.offsets[min(t // self.phase_len, len(self.offsets) - 1)]

    def luck(self, source: str, t: int) -> float:
        """What the raw score adds to quality beyond the phase offset."""
        return (self.difficulty_sd * _unit_normal(self.seed, "difficulty", t)
                + self.noise_sd * _unit_normal(self.seed, "noise", source, t))

    def evaluate(self, source: str, iteration: int, program_id: str) -> Evaluation:
        with self._lock:
            self.calls[(program_id, iteration)] = self.calls.get((program_id, iteration), 0) + 1
        x = parse_x(source)
        score = quality(x) + self.offset(iteration) + self.luck(source, iteration)
        return Evaluation(metrics={"score": score, "hl": x[0], "coverage": x[1]},
                          artifacts={"minibatch": {"iteration": iteration}})


class ToyMutator:
    """Perturbs one coordinate with the engine's RNG; may blend or break."""

    def __init__(
        self,
        sigma: float = 0.2,
        p_inspire: float = 0.3,
        p_fail: float = 0.0,
        cost_usd: float = 0.0,
        call_log: str | Path | None = None,
    ) -> None:
        self.sigma = sigma
        self.p_inspire = p_inspire
        self.p_fail = p_fail
        self.cost_usd = cost_usd
        self.call_log = Path(call_log) if call_log else None
        self.calls = 0
        self._lock = threading.Lock()

    def propose(self, parent, inspirations, rng: random.Random, iteration: int) -> Proposal:
        with self._lock:
            self.calls += 1
            if self.call_log is not None:
                with open(self.call_log, "a", encoding="utf-8") as fh:
                    fh.write(f"{iteration}\n")
        angle = rng.choice(ANGLES)
        common = {"angle": angle, "llm_calls": 1, "cost_usd": self.cost_usd}
        if rng.random() < self.p_fail:
            return Proposal(source="X = [BROKEN\n", kind="rewrite", **common)
        x = parse_x(parent.source)
        if inspirations and rng.random() < self.p_inspire:
            other = parse_x(inspirations[0].source)
            x = [(a + b) / 2 for a, b in zip(x, other)]
            kind = "crossover"
        else:
            i = rng.randrange(len(x))
            x[i] = min(1.0, max(0.0, x[i] + rng.gauss(0.0, self.sigma)))
            kind = "diff"
        source = render(x)
        return Proposal(source=source, diff=f"- {parent.source.strip()}\n+ {source.strip()}", kind=kind, **common)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--config", default="{}", help="JSON overrides of the ci profile")
    ap.add_argument("--eval-log")
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--with-validation", action="store_true")
    ap.add_argument("--staggered", action="store_true")
    args = ap.parse_args(argv)
    config = EvolutionConfig.from_dict(json.loads(args.config), base="ci")
    engine = EvolutionEngine(
        config,
        ToyEvaluator(delay_s=args.delay, call_log=args.eval_log, with_validation=args.with_validation,
                     staggered=args.staggered),
        ToyMutator(p_fail=0.1),
        args.run_dir,
        SEED_PROGRAM,
        resume=args.resume,
    )
    summary = engine.run(progress=False)
    print(summary, flush=True)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
