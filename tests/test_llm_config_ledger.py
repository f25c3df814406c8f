"""LLMConfig round-trips and Ledger accounting (no network)."""

from __future__ import annotations

import json
import threading

import pandas as pd
import pytest

from ppol_nb.llm import Ledger, LLMConfig, RoleConfig
from ppol_nb.llm.ledger import COLUMNS


def test_config_defaults_and_role_lookup():
    cfg = LLMConfig()
    assert cfg.backend == "offline" and cfg.default.model == "offline"
    custom = RoleConfig(model="small", temperature=1.0)
    cfg = LLMConfig(backend="openai", default=RoleConfig(model="big"), roles={"user": custom})
    assert cfg.role("user") is custom
    assert cfg.role("agent").model == "big"


def test_config_round_trip_is_json_safe(tmp_path):
    cfg = LLMConfig(
        backend="openai",
        default=RoleConfig(
            model="m",
            base_url="http://127.0.0.1:8000/v1",
            api_key_env=None,
            extra={"top_k": 20},
            price_in_per_mtok=0.15,
            price_out_per_mtok=0.6,
        ),
        roles={"user": RoleConfig(model="u", temperature=0.8, max_tokens=256, top_p=0.95)},
        cache_path=tmp_path / "c.sqlite",
        max_concurrency=4,
        max_retries=2,
        backoff_base_s=0.5,
        backoff_max_s=10.0,
        timeout_s=30.0,
    )
    d = json.loads(json.dumps(cfg.to_dict()))
    back = LLMConfig.from_dict(d)
    assert back.to_dict() == cfg.to_dict()
    assert back.role("user").max_tokens == 256 and back.default.extra == {"top_k": 20}
    assert d["cache_path"] == str(tmp_path / "c.sqlite")


def test_openai_convenience_routes_keywords():
    cfg = LLMConfig.openai(
        "gpt-x",
        base_url="http://127.0.0.1:1/v1",
        temperature=0.3,
        price_in_per_mtok=1.0,
        max_concurrency=3,
        max_retries=1,
    )
    assert cfg.backend == "openai" and cfg.roles == {}
    for role in ("user", "agent", "generator", "reflection", "mutator"):
        rc = cfg.role(role)
        assert (rc.model, rc.base_url, rc.api_key_env, rc.temperature) == (
            "gpt-x",
            "http://127.0.0.1:1/v1",
            "OPENAI_API_KEY",
            0.3,
        )
    assert cfg.max_concurrency == 3 and cfg.max_retries == 1


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        LLMConfig(backend="anthropic")
    with pytest.raises(ValueError, match="api_key"):
        RoleConfig(model="m", extra={"api_key": "sk-xyz"})
    with pytest.raises(ValueError):
        LLMConfig(max_concurrency=0)


def test_role_cost():
    rc = RoleConfig(model="m", price_in_per_mtok=3.0, price_out_per_mtok=15.0)
    assert rc.cost_usd(1_000_000, 0) == pytest.approx(3.0)
    assert rc.cost_usd(2000, 1000) == pytest.approx(0.006 + 0.015)


def _filled_ledger() -> Ledger:
    led = Ledger()
    led.record(
        "user", "m1", "openai", prompt_tokens=100, completion_tokens=10, latency_s=1.0, cost_usd=0.5, episode_id="e1"
    )
    led.record(
        "user", "m1", "openai", prompt_tokens=100, completion_tokens=10, latency_s=0.0, cached=True, episode_id="e1"
    )
    led.record("agent", "m2", "openai", latency_s=0.2, error="[429] slow", episode_id="e1")
    led.record(
        "agent", "m2", "openai", prompt_tokens=50, completion_tokens=5, latency_s=3.0, cost_usd=0.25, episode_id="e2"
    )
    led.record("user", "offline", "offline")
    return led


def test_ledger_frame_summary_and_episode_totals():
    led = _filled_ledger()
    df = led.to_frame()
    assert list(df.columns) == list(COLUMNS) and len(df) == 5
    assert pd.api.types.is_datetime64_any_dtype(df["time"])
    assert df["error"].tolist() == [None, None, "[429] slow", None, None]
    assert df["episode_id"].tolist() == ["e1", "e1", "e1", "e2", None]

    s = led.summary()
    assert s.loc["user", "calls"] == 3 and s.loc["user", "cached_calls"] == 1 and s.loc["user", "errors"] == 0
    assert s.loc["agent", "calls"] == 1 and s.loc["agent", "errors"] == 1
    assert s.loc["user", "tokens"] == 220 and s.loc["agent", "prompt_tokens"] == 50
    assert s.loc["user", "cost_usd"] == pytest.approx(0.5)
    assert s.loc["agent", "mean_latency_s"] == pytest.approx(3.0)  # the failed attempt is excluded
    by_backend = led.summary(by="backend")
    assert by_backend.loc["offline", "calls"] == 1
    assert led.summary(by=["role", "model"]).loc[("agent", "m2"), "calls"] == 1
    assert led.summary(by=None)["calls"].iloc[0] == 4

    assert led.for_episode("e1") == {"llm_calls": 2, "cost_usd": 0.5, "prompt_tokens": 200, "completion_tokens": 20}
    assert led.for_episode("e2")["llm_calls"] == 1
    assert led.for_episode("nope") == {"llm_calls": 0, "cost_usd": 0.0, "prompt_tokens": 0, "completion_tokens": 0}
    assert led.total_cost() == pytest.approx(0.75)


def test_empty_ledger():
    led = Ledger()
    assert list(led.to_frame().columns) == list(COLUMNS)
    assert led.summary().empty
    assert led.total_cost() == 0.0


def test_episode_context_is_per_thread():
    led = Ledger()
    ready = threading.Event()
    done = threading.Event()

    def other_thread():
        ready.wait()
        led.record("user", "m", "offline")  # outside any episode in this thread
        done.set()

    t = threading.Thread(target=other_thread)
    t.start()
    with led.episode("ep-7"):
        led.record("agent", "m", "offline")
        ready.set()
        done.wait()
        with led.episode("inner"):
            led.record("agent", "m", "offline")
        led.record("agent", "m", "offline", episode_id="explicit")
    led.record("agent", "m", "offline")
    t.join()
    tags = led.to_frame().set_index("role")["episode_id"]
    assert led.to_frame()["episode_id"].tolist() == ["ep-7", None, "inner", "explicit", None]
    assert tags.loc["user"] is None


def test_ledger_is_thread_safe():
    led = Ledger()
    threads = [
        threading.Thread(target=lambda: [led.record("u", "m", "offline", cost_usd=0.001) for _ in range(500)])
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(led) == 4000 and led.total_cost() == pytest.approx(4.0)


def test_an_episode_block_yields_only_its_own_rows_even_for_a_repeated_id():
    ledger = Ledger()
    with ledger.episode("retail-0-base-none-s0") as first:
        ledger.record("user", "m", "openai", prompt_tokens=3, cost_usd=0.5)
        ledger.record("agent", "m", "openai", error="[500] boom")
        ledger.record("agent", "m", "openai", episode_id="other")  # named explicitly: not this block's
    with ledger.episode("retail-0-base-none-s0") as again:  # a retry, or the same persona under another context
        ledger.record("user", "m", "openai", prompt_tokens=4, cost_usd=0.25)
    assert [r["role"] for r in first] == ["user", "agent"] and len(again) == 1
    assert Ledger.totals(first) == {"llm_calls": 1, "cost_usd": 0.5, "prompt_tokens": 3, "completion_tokens": 0}
    assert Ledger.totals(again)["llm_calls"] == 1
    assert ledger.for_episode("retail-0-base-none-s0")["llm_calls"] == 2  # the id's total over both runs


def test_rows_move_between_ledgers_with_forget_and_extend():
    worker, caller = Ledger(), Ledger()
    with worker.episode("e1") as rows:
        worker.record("user", "m", "openai", prompt_tokens=1, completion_tokens=2)
        worker.record("agent", "m", "openai", cached=True)
    with worker.episode("e2"):
        worker.record("user", "m", "openai")
    shipped = [dict(r) for r in rows]
    worker.forget(rows)
    assert len(worker) == 1 and worker.for_episode("e1")["llm_calls"] == 0 and worker.for_episode("e2")["llm_calls"] == 1
    caller.extend(shipped)
    assert len(caller) == 2 and caller.for_episode("e1")["llm_calls"] == 2
    assert caller.to_frame()["cached"].tolist() == [False, True]
    assert caller.rows("e1")[0]["completion_tokens"] == 2


def test_throughput_counts_requests_not_cache_hits_or_offline_calls():
    ledger = Ledger()
    for i in range(4):
        ledger.record("user", "m", "openai", prompt_tokens=10, completion_tokens=5, latency_s=0.5)
    ledger.record("user", "m", "openai", error="[429] slow down", latency_s=0.01)
    ledger.record("user", "m", "openai", error="[500] boom", latency_s=0.01)
    ledger.record("user", "m", "openai", cached=True, prompt_tokens=100)
    ledger.record("agent", "offline", "offline")
    report = ledger.throughput()
    assert list(report.index) == ["user"]
    row = report.loc["user"]
    assert (row["requests"], row["throttled"], row["failed"], row["cached_calls"]) == (4, 1, 1, 1)
    assert row["span_s"] >= 0.5  # at least one request's latency
    assert row["tokens_per_s"] == pytest.approx(60 / row["span_s"])
    assert row["requests_per_s"] == pytest.approx(4 / row["span_s"])
    assert Ledger().throughput().empty
