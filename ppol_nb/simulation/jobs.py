"""What an episode job is, what comes back, and what an executor promises: the types shared by the
runner (:mod:`.runner`) and the executors (:mod:`ppol_nb.execution`).

This module sits below both and imports neither, so the runner can hand jobs to an executor and an
executor can run them with the runner's :func:`~.runner.run_episode` without an import circle. The
executor is always passed by whoever starts episodes (``run_episodes(..., executor=...)``, a study's
or the evaluator's ``executor``); there is no process-wide default (None: threads of this process).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class EpisodeSpec:
    """What to run: a task under a condition with a seed (and later a persona)."""

    domain: str
    task_id: str
    condition: str = "base"
    seed: int = 0
    persona: dict | None = None

    @property
    def episode_id(self) -> str:
        persona = (self.persona or {}).get("persona_id", "none")
        return f"{self.domain}-{self.task_id}-{self.condition}-{persona}-s{self.seed}"


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run: what (spec), under which step cap and deadline."""

    spec: EpisodeSpec
    max_steps: int
    deadline_s: float | None = None


@dataclass
class EpisodeResult:
    """A finished episode: its record and, when it ran in another process, its ledger rows.

    ``record`` is None when the episode was lost with its worker (``lost`` says why).
    """

    spec: EpisodeSpec
    record: dict | None
    ledger_rows: list[dict] = field(default_factory=list)
    lost: str | None = None
    attempts: int = 1


@runtime_checkable
class Executor(Protocol):
    """Runs episode jobs for a backend and yields their results as they finish (any order)."""

    name: str

    def run(self, jobs: Sequence[EpisodeJob], backend, max_workers: int | None) -> Iterator[EpisodeResult]:
        """Run ``jobs``: at most ``max_workers`` episodes in flight in all (None: as many as the
        workers take), and at most ``backend.max_workers(max_workers)`` in any one process (what
        one interpreter overlaps well: many that wait on an endpoint, one CPU-bound offline episode)."""
        ...

    def describe(self) -> dict:
        """What runs the work (kind, workers, address), for manifests."""
        ...

    def close(self) -> None:
        """Release workers (threads end with each run; processes and actors here)."""
        ...


__all__ = ["EpisodeJob", "EpisodeResult", "EpisodeSpec", "Executor"]
