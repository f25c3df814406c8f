"""Shared pytest fixtures."""

from __future__ import annotations

import pytest
from fake_openai_server import FakeOpenAIServer


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
