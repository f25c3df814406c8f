"""Where episodes run: threads of this process (default), local worker processes, or Ray.

Every episode ppol_nb runs — a rollout, a baseline study, the episodes of a
candidate evaluation, validation, the held-out benchmark — goes through
:func:`ppol_nb.simulation.runner.run_episodes`, and that hands them to an
:class:`Executor`. This is the one seam between *what* runs and *where*:

===========================  =========================================================
``LocalExecutor()``          threads of this process (the default; episodes that wait
                             on an endpoint overlap, the GIL is released while waiting)
``LocalExecutor(processes=N)``  N worker processes of this machine (CPU-bound offline
                             episodes, or more episodes in flight than one GIL serves)
``RayExecutor(...)``         Ray actors on this machine or a cluster (:mod:`.ray`;
                             ``pip install 'ppol_nb[ray]'``)
===========================  =========================================================

The unit of work is **one episode** (an :class:`EpisodeJob`): that is where the
time goes, and it keeps everything that writes a run directory in the calling
process. Whatever the executor:

* **episode files and the run database** are written by the calling process
  only, one record per finished episode, as it finishes (resume semantics of
  :mod:`ppol_nb.simulation.store` unchanged; no shared file system needed);
* **the ledger**: a worker returns the ledger rows of its episode with the
  record, and the caller adds them to its backend's ledger
  (:meth:`~ppol_nb.llm.Ledger.extend`), so costs, budgets and the throughput
  report count every call;
* **the response cache**: a worker's backend opens the cache file the caller's
  backend names (resolved in the caller, see :meth:`LLMBackend.recipe`); on one
  machine all processes share it (SQLite WAL); across machines see docs/scale.md;
* **a worker that dies** (killed, out of memory, node lost) loses only the
  episodes it was running. They are run again on a live worker up to
  ``retries`` times; an episode still lost is recorded as failed with a
  ``WorkerLost`` error, which a resumed run (``retry_errors``) runs again.

Worker processes get a fresh backend built from the caller's
``backend.recipe()`` (same models, endpoints, sampling, cache file and
offline styles; no open connections, no ledger rows, never a secret: API keys
stay in each machine's environment).

There is no process-wide default: whoever starts episodes passes the executor
(``run_episodes(..., executor=...)``, the ``executor`` of the evaluator, the
benchmark and the studies; the CLI's ``--executor``); None means threads of this
process. The job and result types are in :mod:`ppol_nb.simulation.jobs`, below
both the runner and the executors.
"""

from __future__ import annotations

import os

# The job types live below the runner and the executors (no import circle); re-exported here.
from ..simulation.jobs import EpisodeJob, EpisodeResult, Executor

EXECUTORS = ("local", "processes", "ray")


def make_executor(kind: str = "local", workers: int | None = None, address: str | None = None,
                  retries: int = 1) -> Executor:
    """The executor a CLI flag or notebook parameter names.

    ``kind``: ``"local"`` (threads), ``"processes"`` (``workers`` processes,
    default: CPUs) or ``"ray"`` (``workers`` actors, default: the cluster's
    CPUs; ``address`` or ``$RAY_ADDRESS``, else a local Ray started here).
    ``retries``: how often an episode lost with its worker is run again.
    """
    if kind not in EXECUTORS:
        raise ValueError(f"unknown executor {kind!r}; expected one of {EXECUTORS}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0, got {retries!r}")
    if kind == "local":
        if workers is not None or address is not None:
            raise ValueError("the local (threads) executor takes no workers or address: use 'processes' or 'ray'")
        from .local import LocalExecutor

        return LocalExecutor()
    if kind == "processes":
        if address is not None:
            raise ValueError("a Ray address needs executor 'ray'")
        from .local import LocalExecutor

        return LocalExecutor(processes=workers or os.cpu_count() or 1, retries=retries)
    from .ray import RayExecutor

    return RayExecutor(address=address, workers=workers, retries=retries)


__all__ = ["EXECUTORS", "EpisodeJob", "EpisodeResult", "Executor", "make_executor"]
