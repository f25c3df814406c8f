"""Shared pytest fixtures and the suite's two markers.

Markers (registered here, the one place that decides what runs by default):

* ``slow`` — long sweeps (e.g. stock-vs-fast scoring of all 164 τ² tasks).
  Skipped unless ``PPOL_SLOW=1`` is set or ``-m`` names them (``-m slow``).
* ``notebooks`` — papermill executions of the notebook series with small
  sizes. Part of the default run (the README's test command); leave them out
  while iterating with ``-m "not notebooks"``.
"""

from __future__ import annotations

import os

import pytest
from fake_openai_server import FakeOpenAIServer

MARKERS = {
    "slow": "long sweeps; skipped unless PPOL_SLOW=1 or -m selects them",
    "notebooks": "executes notebooks with papermill (small sizes); deselect with -m 'not notebooks'",
}


def pytest_configure(config):
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PPOL_SLOW") or "slow" in (config.getoption("markexpr") or ""):
        return  # asked for explicitly: -m decides
    skip = pytest.mark.skip(reason="slow: set PPOL_SLOW=1 or select with -m slow")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _session_response_cache(tmp_path_factory):
    """No test (nor its subprocesses) touches the user's real LLM response cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PPOL_CACHE_DIR", str(tmp_path_factory.mktemp("ppol-cache")))
        yield


@pytest.fixture(autouse=True)
def _test_response_cache(_session_response_cache, tmp_path_factory, monkeypatch):
    """Each test its own default cache: a loopback port reused later must not replay an earlier test's reply."""
    monkeypatch.setenv("PPOL_CACHE_DIR", str(tmp_path_factory.mktemp("ppol-cache")))


@pytest.fixture
def fake_openai():
    """Factory for loopback OpenAI-compatible servers, all stopped after the test.

    ``server = fake_openai(responder, delay_s=0.0)`` returns a started
    :class:`FakeOpenAIServer`; use ``server.url`` as ``base_url``. Keywords such as
    ``max_concurrent=``/``max_rate=`` put a rate limit in front of it.
    """
    servers: list[FakeOpenAIServer] = []

    def make(responder=None, delay_s: float = 0.0, **limits) -> FakeOpenAIServer:
        server = FakeOpenAIServer(responder, delay_s=delay_s, **limits).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
