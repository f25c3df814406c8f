"""LLMClient against a loopback OpenAI-compatible server: replies, cache, retries, keys, concurrency."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from fake_openai_server import error_reply, sequence, text_reply, tool_call_reply

from ppol_nb.llm import ChatResult, LLMClient, LLMConfig, LLMError, RoleConfig

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "look something up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    }
]


def make_client(url: str, cache_path=None, **kw) -> LLMClient:
    kw.setdefault("backoff_base_s", 0.01)
    kw.setdefault("backoff_max_s", 0.05)
    return LLMClient(LLMConfig.openai("fake-model", base_url=url, api_key_env=None, cache_path=cache_path, **kw))


# -- replies -------------------------------------------------------------------


def test_text_reply(fake_openai):
    server = fake_openai(lambda req: text_reply("hi there", prompt_tokens=100, completion_tokens=20))
    client = make_client(server.url, price_in_per_mtok=2.0, price_out_per_mtok=10.0)
    res = client.chat("user", MSGS)
    assert isinstance(res, ChatResult)
    assert res.message == {"role": "assistant", "content": "hi there"}
    assert res.finish_reason == "stop"
    assert res.usage == {"prompt_tokens": 100, "completion_tokens": 20}
    assert res.cost_usd == pytest.approx(100 * 2.0 / 1e6 + 20 * 10.0 / 1e6)
    assert res.cached is False and res.latency_s > 0 and res.model == "fake-model"
    sent = server.requests[0]
    assert sent["model"] == "fake-model" and sent["messages"] == MSGS and sent["temperature"] == 0.0
    assert "tools" not in sent and "seed" not in sent
    client.close()


def test_tool_call_reply_arguments_verbatim(fake_openai):
    malformed = '{"q": "shoes", '  # not valid JSON: must reach the caller untouched
    server = fake_openai(lambda req: tool_call_reply("lookup", malformed, call_id="call_x"))
    client = make_client(server.url)
    res = client.chat("agent", MSGS, tools=TOOLS, tool_choice="auto", seed=11)
    assert res.finish_reason == "tool_calls"
    assert res.message["content"] is None
    assert res.message["tool_calls"] == [
        {"id": "call_x", "type": "function", "function": {"name": "lookup", "arguments": malformed}}
    ]
    sent = server.requests[0]
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto" and sent["seed"] == 11
    client.close()


def test_sampling_settings_per_role_and_per_call(fake_openai):
    server = fake_openai(lambda req: text_reply("ok"))
    cfg = LLMConfig(
        backend="openai",
        default=RoleConfig(model="base-model", base_url=server.url, api_key_env=None),
        roles={
            "user": RoleConfig(
                model="user-model",
                base_url=server.url,
                api_key_env=None,
                temperature=0.7,
                max_tokens=64,
                top_p=0.9,
                extra={"top_k": 20},
            )
        },
        backoff_base_s=0.01,
    )
    client = LLMClient(cfg)
    client.chat("user", MSGS)
    client.chat("user", MSGS, temperature=0.1, max_tokens=None, repetition_penalty=1.1)
    client.chat("agent", MSGS)
    first, second, third = server.requests
    assert (first["model"], first["temperature"], first["max_tokens"], first["top_p"], first["top_k"]) == (
        "user-model",
        0.7,
        64,
        0.9,
        20,
    )
    assert second["temperature"] == 0.1 and "max_tokens" not in second
    assert second["top_k"] == 20 and second["repetition_penalty"] == 1.1
    assert third["model"] == "base-model" and "top_k" not in third
    with pytest.raises(ValueError):
        client.chat("user", MSGS, api_key="sk-nope")
    client.close()


def test_offline_backend_makes_no_calls():
    client = LLMClient(LLMConfig())
    with pytest.raises(LLMError, match="offline"):
        client.chat("user", MSGS)
    client.close()


@pytest.mark.parametrize(
    "reply",
    [(200, "this is not json", {}), {"id": "x", "object": "chat.completion", "choices": []}],
    ids=["unparsable", "no-choices"],
)
def test_unusable_reply_raises_and_is_not_cached(fake_openai, tmp_path, reply):
    server = fake_openai(lambda req: reply)
    client = make_client(server.url, cache_path=tmp_path / "c.sqlite")
    for _ in range(2):
        with pytest.raises(LLMError):
            client.chat("user", MSGS)
    assert len(server.requests) == 2  # not retried, and nothing cached
    assert client.ledger.to_frame()["error"].notna().all()
    client.close()


# -- cache -----------------------------------------------------------------------


def test_cache_hit_sends_nothing_even_from_a_new_client(fake_openai, tmp_path):
    server = fake_openai(
        lambda req: tool_call_reply("lookup", '{"q": "x"}', call_id="c1", prompt_tokens=7, completion_tokens=3)
    )
    path = tmp_path / "cache.sqlite"
    first = make_client(server.url, cache_path=path, price_in_per_mtok=1.0)
    a = first.chat("agent", MSGS, tools=TOOLS, seed=1)
    b = first.chat("agent", MSGS, tools=TOOLS, seed=1)
    first.close()
    second = make_client(server.url, cache_path=path, price_in_per_mtok=1.0)
    c = second.chat("agent", MSGS, tools=TOOLS, seed=1)
    assert len(server.requests) == 1
    assert a.cached is False and b.cached is True and c.cached is True
    assert a.message == b.message == c.message and a.usage == c.usage
    assert b.cost_usd == 0.0 and c.cost_usd == 0.0 and a.cost_usd > 0
    frame = first.ledger.to_frame()
    assert list(frame["cached"]) == [False, True] and frame["cost_usd"].iloc[1] == 0.0
    assert list(second.ledger.to_frame()["cached"]) == [True]
    second.close()


def test_cache_key_covers_the_whole_request(fake_openai, tmp_path):
    server = fake_openai(lambda req: text_reply("ok"))
    client = make_client(server.url, cache_path=tmp_path / "cache.sqlite")
    variants = [
        {},
        {"seed": 2},
        {"seed": 3},
        {"temperature": 0.5},
        {"top_p": 0.5},
        {"max_tokens": 10},
        {"tools": TOOLS},
        {"tools": TOOLS, "tool_choice": "required"},
        {"model": "other-model"},
        {"extra": {"top_k": 5}},
    ]
    for kw in variants:
        assert client.chat("user", MSGS, **kw).cached is False
    assert client.chat("user", MSGS[:1]).cached is False  # different messages
    assert len(server.requests) == len(variants) + 1
    for kw in variants:  # and each of them is now a hit
        assert client.chat("user", MSGS, **kw).cached is True
    assert len(server.requests) == len(variants) + 1
    client.close()


def test_cache_is_shared_across_processes(tmp_path):
    """Two processes writing one cache file concurrently (WAL) lose nothing."""
    import os
    import subprocess
    import sys

    path = tmp_path / "shared.sqlite"
    code = (
        "import sys; from ppol_nb.llm.cache import ResponseCache\n"
        "c = ResponseCache(sys.argv[1])\n"
        "for i in range(100): c.put(sys.argv[2] + str(i), 'm', {'i': i})\n"
        "c.close()\n"
    )
    root = Path(__file__).resolve().parents[1]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path), tag], cwd=root, env={**os.environ, "PYTHONPATH": str(root)}
        )
        for tag in ("a", "b")
    ]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    from ppol_nb.llm.cache import ResponseCache

    cache = ResponseCache(path)
    assert len(cache) == 200 and cache.get("b42") == {"i": 42}
    cache.close()


# -- retries -----------------------------------------------------------------------


def test_429_without_retry_after_is_retried(fake_openai):
    server = fake_openai(sequence([error_reply(429, "slow down"), error_reply(429, "slow down"), text_reply("ok")]))
    client = make_client(server.url)
    assert client.chat("user", MSGS).message["content"] == "ok"
    assert len(server.requests) == 3
    errors = list(client.ledger.to_frame()["error"])
    assert errors[:2] == ["[429] slow down"] * 2 and errors[2] is None
    client.close()


def test_429_honours_retry_after(fake_openai):
    server = fake_openai(sequence([error_reply(429, "wait", {"Retry-After": "1"}), text_reply("ok")]))
    client = make_client(server.url, backoff_max_s=30.0)
    t0 = time.perf_counter()
    assert client.chat("user", MSGS).message["content"] == "ok"
    assert time.perf_counter() - t0 >= 0.9  # backoff alone would be ~0.01 s
    server2 = fake_openai(sequence([error_reply(429, "wait", {"retry-after-ms": "300"}), text_reply("ok")]))
    client2 = make_client(server2.url, backoff_max_s=30.0)
    t0 = time.perf_counter()
    client2.chat("user", MSGS)
    assert time.perf_counter() - t0 >= 0.28
    client.close()
    client2.close()


def test_500_is_retried(fake_openai):
    server = fake_openai(sequence([error_reply(500, "boom", err_type="server_error"), text_reply("ok")]))
    client = make_client(server.url)
    assert client.chat("user", MSGS).message["content"] == "ok"
    assert len(server.requests) == 2
    client.close()


def test_400_fails_at_once(fake_openai):
    server = fake_openai(lambda req: error_reply(400, "bad tool schema"))
    client = make_client(server.url)
    with pytest.raises(LLMError) as info:
        client.chat("user", MSGS)
    assert info.value.status == 400 and "bad tool schema" in str(info.value)
    assert len(server.requests) == 1
    assert client.ledger.to_frame()["error"].tolist() == ["[400] bad tool schema"]
    client.close()


def test_exhausting_retries_raises(fake_openai):
    server = fake_openai(lambda req: error_reply(503, "overloaded"))
    client = make_client(server.url, max_retries=3)
    with pytest.raises(LLMError) as info:
        client.chat("user", MSGS)
    assert info.value.status == 503 and "4 attempts" in str(info.value)
    assert len(server.requests) == 4
    frame = client.ledger.to_frame()
    assert len(frame) == 4 and frame["error"].notna().all()
    client.close()


def test_timeout_is_retried(fake_openai):
    calls = {"n": 0}

    def slow_then_fast(req):
        calls["n"] += 1
        if calls["n"] == 1:
            time.sleep(1.0)
        return text_reply("ok")

    server = fake_openai(slow_then_fast)
    client = make_client(server.url, timeout_s=0.3)
    assert client.chat("user", MSGS).message["content"] == "ok"
    assert client.ledger.to_frame()["error"].tolist() == ["request timed out", None]
    client.close()


def test_connection_error_is_retried_then_raises():
    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}/v1", max_retries=2)
    with pytest.raises(LLMError, match="connection error"):
        client.chat("user", MSGS)
    assert len(client.ledger) == 3
    client.close()


# -- API keys ------------------------------------------------------------------------

SECRET = "sk-test-S3CRET-0123456789abcdef"


def test_missing_api_key_names_the_variable(fake_openai, monkeypatch):
    monkeypatch.delenv("PPOL_TEST_KEY", raising=False)
    server = fake_openai(lambda req: text_reply("ok"))
    client = LLMClient(LLMConfig.openai("m", base_url=server.url, api_key_env="PPOL_TEST_KEY"))
    with pytest.raises(LLMError, match="PPOL_TEST_KEY"):
        client.chat("user", MSGS)
    assert server.requests == []
    client.close()


def test_api_key_read_at_call_time_and_never_stored(fake_openai, monkeypatch, tmp_path):
    def echo_auth(req):
        if req["messages"][-1]["content"] == "fail":
            # A hostile/unhelpful server that echoes the credential in its error.
            return error_reply(401, f"invalid key {SECRET}")
        return text_reply("ok")

    server = fake_openai(echo_auth)
    path = tmp_path / "cache.sqlite"
    cfg = LLMConfig.openai("m", base_url=server.url, api_key_env="PPOL_TEST_KEY", cache_path=path, backoff_base_s=0.01)
    monkeypatch.setenv("PPOL_TEST_KEY", SECRET)
    client = LLMClient(cfg)
    client.chat("user", MSGS)
    client.chat("user", MSGS + [{"role": "user", "content": "more"}])
    with pytest.raises(LLMError) as info:
        client.chat("user", [{"role": "user", "content": "fail"}])
    assert server.request_headers[0]["authorization"] == f"Bearer {SECRET}"
    monkeypatch.setenv("PPOL_TEST_KEY", "sk-rotated")
    client.chat("user", [{"role": "user", "content": "after rotation"}])
    assert server.request_headers[-1]["authorization"] == "Bearer sk-rotated"

    assert SECRET not in str(info.value)
    assert SECRET not in json.dumps(cfg.to_dict()) and "PPOL_TEST_KEY" in json.dumps(cfg.to_dict())
    assert SECRET not in client.ledger.to_frame().to_csv()
    # Check the database and its WAL while the client is open, then after close.
    blobs = lambda: b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())  # noqa: E731
    assert SECRET.encode() not in blobs()
    client.close()
    assert SECRET.encode() not in blobs()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 3


# -- concurrency -----------------------------------------------------------------------


def test_concurrency_bound(fake_openai):
    server = fake_openai(lambda req: text_reply("ok"), delay_s=0.1)
    client = make_client(server.url, max_concurrency=2)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            client.chat("user", [{"role": "user", "content": f"q{i}"}])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(server.requests) == 8
    assert server.max_in_flight == 2
    client.close()
