"""Adaptive in-flight limits (ppol_nb.llm.limiter): back off on 429s, recover, lose nothing.

The rate-limited loopback server (tests/fake_openai_server.py) answers 429 with
Retry-After above N concurrent requests or above a rate; the client's limiter
must halve its window, wait as asked, grow back, and every request and episode
must end exactly once.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from fake_openai_server import scripted_world, text_reply

from ppol_nb.backends import make_backend
from ppol_nb.llm import LLMClient, LLMConfig
from ppol_nb.llm.limiter import EndpointGate, RoleLimiter, parse_reset, pause_from_headers
from ppol_nb.simulation.runner import run_episodes, specs_for
from ppol_nb.simulation.store import EpisodeStore


def make_client(url: str, **kw) -> LLMClient:
    kw.setdefault("backoff_base_s", 0.05)
    kw.setdefault("backoff_max_s", 0.5)
    return LLMClient(LLMConfig.openai("fake-model", base_url=url, api_key_env=None, cache_path=False, **kw))


def in_threads(n: int, fn) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            fn(i)
        except BaseException as exc:  # surfaced by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


# -- header reading ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [("1s", 1.0), ("6m0s", 360.0), ("250ms", 0.25), ("1m30.5s", 90.5),
                                           ("0.75", 0.75), ("2h", 7200.0), ("soon", None), ("", None), (None, None)])
def test_reset_durations_are_read_as_servers_write_them(text, seconds):
    assert parse_reset(text) == seconds


def test_pause_comes_from_retry_after_on_429_and_from_an_exhausted_budget_on_any_reply():
    assert pause_from_headers({"retry-after": "2"}, throttled=True) == 2.0
    assert pause_from_headers({"retry-after": "2"}) is None  # a Retry-After on a success asks nothing
    budget = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.5s",
              "x-ratelimit-remaining-tokens": "100", "x-ratelimit-reset-tokens": "9s"}
    assert pause_from_headers(budget) == 1.5  # only the exhausted budget counts
    assert pause_from_headers({**budget, "x-ratelimit-remaining-tokens": "0"}) == 9.0
    assert pause_from_headers({"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "1s"}) is None
    assert pause_from_headers(None) is None and pause_from_headers({}) is None


# -- the AIMD window ----------------------------------------------------------------------------


def test_window_halves_once_per_overload_and_grows_back_with_successes():
    limiter = RoleLimiter(EndpointGate(), ceiling=8)
    slots = [limiter._acquire() for _ in range(8)]  # eight requests sent under the full window
    for slot in slots[:5]:  # five of them come back 429: one overload, so one halving
        slot.outcome = "throttled"
        limiter._release(slot)
    assert limiter.window == 4.0 and limiter.stats().decreases == 1 and limiter.stats().throttled == 5
    for slot in slots[5:]:
        slot.outcome = "throttled"
        limiter._release(slot)
    assert limiter.window == 4.0  # still the same overload
    fresh = limiter._acquire()  # sent under the halved window: its 429 is news
    fresh.outcome = "throttled"
    limiter._release(fresh)
    assert limiter.window == 2.0 and limiter.stats().lowest == 2.0
    grown = []
    for _ in range(200):
        slot = limiter._acquire()
        slot.outcome = "ok"
        limiter._release(slot)
        grown.append(limiter.window)
    assert grown == sorted(grown) and limiter.window == 8.0  # additive increase back to the ceiling


def test_window_never_drops_below_one_request():
    limiter = RoleLimiter(EndpointGate(), ceiling=2)
    for _ in range(5):
        slot = limiter._acquire()
        slot.outcome = "throttled"
        limiter._release(slot)
    assert limiter.window == 1.0
    limiter._release(limiter._acquire())  # one slot is still there
    with pytest.raises(ValueError):
        RoleLimiter(EndpointGate(), ceiling=0)


def test_a_window_of_one_lets_a_single_request_through_at_a_time():
    limiter = RoleLimiter(EndpointGate(), ceiling=1)
    first = limiter._acquire()
    got = threading.Event()
    waiter = threading.Thread(target=lambda: (limiter._release(limiter._acquire()), got.set()))
    waiter.start()
    assert not got.wait(0.3)  # blocked while the one slot is held
    limiter._release(first)
    assert got.wait(5)
    waiter.join()


# -- against a rate-limited endpoint ---------------------------------------------------------------


def test_client_backs_off_on_429s_and_recovers(fake_openai):
    server = fake_openai(lambda req: text_reply("ok"), delay_s=0.05, max_concurrent=3, retry_after_s=0.1)
    client = make_client(server.url, max_concurrency=12, max_retries=20)
    calls_per_thread = 8
    errors = in_threads(12, lambda i: [client.chat("user", [{"role": "user", "content": f"q{i}-{k}"}])
                                       for k in range(calls_per_thread)])
    assert not errors
    (stats,) = client.limits.stats().values()
    assert server.throttled > 0  # the limit was hit ...
    assert stats.decreases >= 1 and stats.lowest <= 6  # ... the window backed off ...
    assert stats.window > stats.lowest  # ... and grew again on the successes that followed
    ledger = client.ledger.to_frame()
    ok = ledger[ledger["error"].isna()]
    assert len(ok) == 12 * calls_per_thread and ok["cached"].sum() == 0
    assert len(ledger) - len(ok) == server.throttled  # every 429 is a ledger row, nothing else failed
    report = client.ledger.throughput()
    assert report.loc["user", "requests"] == 12 * calls_per_thread
    assert report.loc["user", "throttled"] == server.throttled and report.loc["user", "failed"] == 0
    assert report.loc["user", "requests_per_s"] > 0 and report.loc["user", "tokens_per_s"] > 0
    client.close()


def test_exhausted_budget_headers_hold_requests_until_the_reset(fake_openai):
    # 10 requests a second, announced in x-ratelimit-* headers: a client that reads them
    # waits for the reset instead of being turned away.
    server = fake_openai(lambda req: text_reply("ok"), max_rate=10, ratelimit_headers=True, retry_after_s=0.2)
    client = make_client(server.url, max_concurrency=1, max_retries=20)
    for k in range(25):
        client.chat("user", [{"role": "user", "content": f"q{k}"}])
    assert server.throttled == 0
    assert len(server.requests) == 25
    client.close()


def test_a_pause_from_one_role_holds_every_role_of_that_endpoint(fake_openai):
    server = fake_openai(lambda req: text_reply("ok"))
    client = make_client(server.url)
    user = client.limits.get("http://x/v1", "user")
    agent = client.limits.get("http://x/v1", "agent")
    other = client.limits.get("http://y/v1", "agent")
    assert user.gate is agent.gate and other.gate is not user.gate
    user.gate.pause_for(30)
    assert agent.gate.wait_s() > 29 and other.gate.wait_s() == 0
    client.close()


def test_episodes_under_a_rate_limit_are_neither_lost_nor_duplicated(fake_openai, tmp_path):
    server = fake_openai(scripted_world(), delay_s=0.05, max_concurrent=4, retry_after_s=0.1)
    backend = make_backend("openai", model="fake", base_url=server.url, api_key_env=None, cache_path=False,
                           max_concurrency=16, max_retries=30)
    backend.client.config.backoff_base_s, backend.client.config.backoff_max_s = 0.05, 0.5
    specs = specs_for("retail", "test", limit=12)
    df = run_episodes(specs, backend, tmp_path, max_workers=12, progress=False)
    assert server.throttled > 0
    assert sorted(df["episode_id"]) == sorted(s.episode_id for s in specs)
    assert df["error"].isna().all()
    lines = Counter(r.episode_id for r in EpisodeStore(tmp_path).records())
    assert set(lines.values()) == {1} and len(lines) == len(specs)
    raw = [line for line in (tmp_path / "episodes.jsonl").read_text().splitlines() if line.strip()]
    assert len(raw) == len(specs)  # written once each, not retried into the file
    report = backend.ledger.throughput()
    assert int(report["requests"].sum()) == len(server.requests) - server.throttled
    assert int(report["throttled"].sum()) == server.throttled
    assert int(df["llm_calls"].sum()) == int(report["requests"].sum())
