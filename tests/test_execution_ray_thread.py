"""A local Ray started from a worker thread outlives that thread (its processes are tied to it).

Ray gives its GCS and raylet ``PR_SET_PDEATHSIG`` = SIGKILL, which fires when the
*thread* that started them ends; a search starts Ray from an evaluation's worker
thread. Separate module: it needs a Ray of its own, not test_execution's fixture.
"""

from __future__ import annotations

import threading
import time

import pytest

ray = pytest.importorskip("ray")

from ppol_nb.execution.ray import RayExecutor  # noqa: E402
from ppol_nb.offline.backend import OfflineBackend  # noqa: E402
from ppol_nb.simulation.runner import run_episodes  # noqa: E402
from test_execution import comparable, persona_specs  # noqa: E402


def test_ray_started_in_a_thread_that_ends_keeps_running(tmp_path):
    if ray.is_initialized():
        pytest.skip("a Ray is already running in this process")
    executor = RayExecutor(workers=1, init_kwargs={"num_cpus": 1, "object_store_memory": 80 * 2**20})
    specs, backend = persona_specs(2), OfflineBackend()  # one backend: one set of actors (1 CPU)
    first: dict = {}

    def evaluation() -> None:  # a short-lived worker thread, as an engine evaluation is
        first["episodes"] = run_episodes(specs[:1], backend, tmp_path / "a", progress=False, executor=executor)

    try:
        thread = threading.Thread(target=evaluation)
        thread.start()
        thread.join()
        assert len(first["episodes"]) == 1
        time.sleep(2.0)  # the starting thread is gone; a Ray tied to it is killed by now
        # (the driver only notices 60 s later, "Failed to connect to GCS", so look at the processes)
        node = ray._private.worker._global_node
        assert [kind for kind, _ in node.dead_processes()] == []
        assert "gcs_server" in {kind for kind, _ in node.live_processes()}
        later = run_episodes(specs, backend, tmp_path / "b", progress=False, executor=executor)
        local = run_episodes(specs, OfflineBackend(), tmp_path / "c", progress=False)
        assert comparable(later) == comparable(local)
    finally:
        executor.close()
    assert not ray.is_initialized()
