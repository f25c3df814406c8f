"""Episodes on this machine: threads of this process (default) or a pool of worker processes.

Threads (``LocalExecutor()``) share the caller's backend, cache connection and
ledger; ``backend.max_workers(max_workers)`` episodes overlap their waits on the endpoint. Processes
(``LocalExecutor(processes=N)``, spawned, one episode at a time each) suit
CPU-bound work — the offline world — that one interpreter's GIL serialises.

A pool process that dies breaks the whole pool (that is how
``concurrent.futures`` reports it), so every episode in flight at that moment
is lost with it: each is run again on a fresh pool up to ``retries`` times,
then recorded as ``WorkerLost`` (see :mod:`ppol_nb.execution`). At most one
episode per process is handed to the pool at a time, so a crash never takes
queued episodes with it.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from ..simulation.jobs import EpisodeJob, EpisodeResult
from .worker import recipe_of, run_job

_process_backend = None  # the backend of a pool process, built by _init_process


def _init_process(recipe) -> None:
    global _process_backend
    # Ctrl-C (or a kernel's shutdown, which papermill sends as SIGINT to the process group) is the
    # parent's to handle: it shuts the pool down. A worker that took it would die mid-queue-read
    # and print a traceback for nothing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The registry turns a recipe back into its world.
    from ..worlds.registry import from_recipe

    _process_backend = from_recipe(recipe)


def _run_in_process(job: EpisodeJob) -> EpisodeResult:
    return run_job(_process_backend, job)


class LocalExecutor:
    """Threads (``processes=None``, the default) or ``processes`` spawned worker processes."""

    def __init__(self, processes: int | None = None, retries: int = 1) -> None:
        if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int) or processes < 1):
            raise ValueError(f"processes must be an int >= 1 or None, got {processes!r}")
        self.processes = processes
        self.retries = int(retries)
        self.name = "local" if processes is None else "processes"
        self._lock = threading.Lock()
        self._pools: dict[int, tuple[weakref.ref, ProcessPoolExecutor]] = {}

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.processes, "retries": self.retries}

    def run(self, jobs: Sequence[EpisodeJob], backend, max_workers: int | None) -> Iterator[EpisodeResult]:
        if self.processes is None:  # one process: what the backend runs well in one interpreter
            return self._threads(list(jobs), backend, backend.max_workers(max_workers))
        return self._in_processes(list(jobs), backend, min(self.processes, max_workers or self.processes))

    # -- threads -----------------------------------------------------------------------------
    @staticmethod
    def _threads(jobs: list[EpisodeJob], backend, in_flight: int) -> Iterator[EpisodeResult]:
        from ..simulation.runner import run_in_threads

        return run_in_threads(jobs, backend, in_flight)

    # -- processes -----------------------------------------------------------------------------
    def _pool(self, backend, broken: ProcessPoolExecutor | None = None) -> ProcessPoolExecutor:
        """The pool serving ``backend`` (one per backend object); a fresh one if ``broken`` is current."""
        key = id(backend)
        with self._lock:
            ref, pool = self._pools.get(key, (None, None))
            if pool is not None and (ref() is not backend or pool is broken):
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_init_process, initargs=(recipe_of(backend),))
                self._pools[key] = (weakref.ref(backend), pool)
            return pool

    def _in_processes(self, jobs: list[EpisodeJob], backend, in_flight: int) -> Iterator[EpisodeResult]:
        queue = deque((job, 1) for job in jobs)
        pending: dict = {}
        pool = self._pool(backend)
        while queue or pending:
            while queue and len(pending) < in_flight:
                job, attempt = queue.popleft()
                try:
                    fut = pool.submit(_run_in_process, job)
                except BrokenProcessPool:
                    queue.appendleft((job, attempt))
                    pool = self._pool(backend, broken=pool)
                    continue
                pending[fut] = (job, attempt, pool)
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                job, attempt, used = pending.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool as exc:
                    pool = self._pool(backend, broken=used)
                    if attempt <= self.retries:
                        queue.appendleft((job, attempt + 1))
                    else:
                        yield EpisodeResult(job.spec, None, lost=f"a worker process died ({exc})", attempts=attempt)
                    continue
                result.attempts = attempt
                yield result

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for _, pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
