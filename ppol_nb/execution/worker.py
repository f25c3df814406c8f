"""What a worker process does with an episode: run it on its own backend, hand back record and ledger rows.

The backend is built once per worker (a Ray actor, a pool process) from the
caller's ``backend.recipe()``; the rows an episode recorded leave the worker's
ledger with the result, so a long-lived worker does not accumulate them.
"""

from __future__ import annotations

from ..simulation.jobs import EpisodeJob, EpisodeResult


def run_job(backend, job: EpisodeJob) -> EpisodeResult:
    """Run one episode on ``backend`` (in this process); never raises for a failing episode."""
    from ..simulation.runner import run_episode

    rows: list[dict] = []
    record = run_episode(job.spec, backend, job.max_steps, job.deadline_s, calls=rows)
    backend.ledger.forget(rows)
    return EpisodeResult(job.spec, record, [dict(r) for r in rows])


def recipe_of(backend):
    """``backend.recipe()``, or a clear error for a backend that cannot be rebuilt in another process."""
    recipe = getattr(backend, "recipe", None)
    if not callable(recipe):
        raise TypeError(f"{type(backend).__name__} has no recipe(): it can only run episodes in this process "
                        "(use the local executor)")
    return recipe()
