"""What a run (or one step of it) hands back to the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .interfaces import ProgramRecord

# Stop reasons, as written to the ``stop`` event and RunSummary.stop_reason.
STOP_MAX_ITERATIONS = "max_iterations"
STOP_EARLY = "early_stop"
STOP_COST = "max_cost_usd"
STOP_WALL_TIME = "max_wall_time_s"


@dataclass
class Step:
    """One applied iteration, as yielded by :meth:`EvolutionEngine.iterate`."""

    iteration: int
    record: ProgramRecord
    new_best: bool
    best: ProgramRecord | None
    total_cost_usd: float
    migrations: list[dict] = field(default_factory=list)

    def __repr__(self) -> str:
        status = (f"error={self.record.error!r}" if self.record.error
                  else f"score={self.record.score:.4f}, rating={self.record.selection_score:.4f}")
        star = " *new best*" if self.new_best else ""
        return f"Step(iteration={self.iteration}, island={self.record.island}, {status}{star})"


@dataclass
class RunSummary:
    """End-of-run report: best program, budget use, why the run stopped.

    ``best`` is the incumbent (highest rating on the run's common scale, see
    :mod:`.comparison`); ``best_validated`` the program with the highest
    ``validation["score"]`` (PPol's final checkpoint choice; the seed is always
    validated and wins ties), or None if the evaluator has no ``validate`` hook.
    """

    run_dir: Path
    best: ProgramRecord | None
    best_validated: ProgramRecord | None
    iterations_done: int
    programs: int
    failed: int
    stop_reason: str | None
    total_cost_usd: float
    total_llm_calls: int
    cost_by_role: dict[str, dict[str, float]]
    wall_time_s: float

    def __str__(self) -> str:
        lines = [
            f"run dir       : {self.run_dir}",
            f"stop reason   : {self.stop_reason}",
            f"iterations    : {self.iterations_done} ({self.programs} programs, {self.failed} failed)",
        ]
        if self.best is not None:
            lines.append(
                f"best          : {self.best.id} rating={self.best.selection_score:.4f} "
                f"score={self.best.score:.4f} (iteration {self.best.iteration}, island {self.best.island})"
            )
        if self.best_validated is not None:
            lines.append(
                f"best validated: {self.best_validated.id} "
                f"validation score={self.best_validated.validation.get('score')}"
            )
        lines.append(f"cost          : ${self.total_cost_usd:.4f} in {self.total_llm_calls} LLM calls")
        for role, tot in self.cost_by_role.items():
            lines.append(f"  {role:<12}: ${tot['cost_usd']:.4f} in {tot['llm_calls']} calls")
        lines.append(f"wall time     : {self.wall_time_s:.1f} s (this session)")
        return "\n".join(lines)
