"""Shared pytest fixtures."""

from __future__ import annotations

import pytest
from fake_openai_server import FakeOpenAIServer


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
    :class:`FakeOpenAIServer`; use ``server.url`` as ``base_url``.
    """
    servers: list[FakeOpenAIServer] = []

    def make(responder=None, delay_s: float = 0.0) -> FakeOpenAIServer:
        server = FakeOpenAIServer(responder, delay_s=delay_s).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
