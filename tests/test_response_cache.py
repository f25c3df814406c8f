"""One response cache per user (issue 10, item 5).

Where the cache lives ($PPOL_CACHE_DIR, --cache PATH, --no-cache, cache_path=False),
that CLI reruns into a new --out send nothing, what the key holds (endpoint and
model, never a secret), the sampled-reply policy, and several processes and threads
writing one file at once. Every test runs against a loopback server; the conftest
points $PPOL_CACHE_DIR at a temporary folder, so the real user cache is never touched.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
from pathlib import Path

import cache_writers
import pytest
from fake_openai_server import text_reply, tool_call_reply

from ppol_nb.backends import make_backend
from ppol_nb.cli import build_parser, main
from ppol_nb.llm import LLMClient, LLMConfig
from ppol_nb.llm.cache import CACHE_FILENAME, ResponseCache, default_cache_path, resolve_cache_path

MSGS = [{"role": "user", "content": "hello"}]
LOOKUP = json.dumps({"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"})


def scripted(request: dict):
    """A user that introduces itself then stops; an agent that looks the user up then answers."""
    if "<scenario>" in request["messages"][0]["content"]:
        if len(request["messages"]) <= 2:
            return text_reply("hi, Yusuf Rossi here, zip 19122. need to swap a keyboard")
        return text_reply("ok thanks ###STOP###")
    if request["messages"][-1]["role"] == "tool":
        return text_reply("Found your account, yusuf_rossi_9620.")
    return tool_call_reply("find_user_id_by_name_zip", LOOKUP, call_id="call_lookup")


def rollout(server, out: Path, *extra: str, key_env: str = "") -> int:
    return main(["rollout", "--domain", "retail", "--split", "test", "--limit", "2", "--backend", "openai",
                 "--base-url", server.url, "--model", "fake-model", "--api-key-env", key_env, "--out", str(out),
                 "--quiet", *extra])


def entries(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def distinct(requests: list[dict]) -> int:
    """How many different requests of the run a server saw (two episodes may race on the same one); the
    preflight's tool-call probe is left out: it is remembered in preflight.json, never in the response cache."""
    from ppol_nb.llm.preflight import is_probe

    return len({json.dumps(r, sort_keys=True) for r in requests if not is_probe(r)})


def cache_dir_bytes() -> dict[str, bytes]:
    """Every file of the per-user cache folder (the database, its WAL and shared memory)."""
    return {p.name: p.read_bytes() for p in default_cache_path().parent.iterdir() if p.is_file()}


def manifest_cache(out: Path):
    return json.loads((out / "manifest.json").read_text())["backend"]["response_cache"]


# -- where the cache is ------------------------------------------------------------------


def test_default_is_the_per_user_file_under_ppol_cache_dir(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.setenv("PPOL_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_path() == tmp_path / "mine" / CACHE_FILENAME
    assert resolve_cache_path(None) == tmp_path / "mine" / CACHE_FILENAME
    monkeypatch.delenv("PPOL_CACHE_DIR")
    assert default_cache_path() == Path(platformdirs.user_cache_dir("ppol_nb", appauthor=False)) / CACHE_FILENAME


def test_cache_path_values(tmp_path):
    assert resolve_cache_path(False) is None
    assert resolve_cache_path(tmp_path / "x.sqlite") == tmp_path / "x.sqlite"
    for bad in (True, "", 3, tmp_path):  # True is ambiguous, a directory is not a file
        with pytest.raises(ValueError, match="cache_path"):
            LLMConfig.openai("m", cache_path=bad)
    cfg = LLMConfig.openai("m", api_key_env=None, cache_path=False)
    assert LLMConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))).cache_path is False


def test_clients_and_backends_without_a_cache_path_share_the_user_cache(fake_openai, tmp_path, monkeypatch):
    monkeypatch.setenv("PPOL_CACHE_DIR", str(tmp_path / "user-cache"))
    server = fake_openai(lambda req: text_reply("ok"))
    first = make_backend("openai", model="fake-model", base_url=server.url, api_key_env=None)
    expected = tmp_path / "user-cache" / CACHE_FILENAME
    assert first.client.cache_path == expected and first.describe()["response_cache"] == str(expected)
    first.client.chat("user", MSGS)
    first.client.close()
    second = LLMClient(LLMConfig.openai("fake-model", base_url=server.url, api_key_env=None))
    assert second.chat("user", MSGS).cached is True and len(server.requests) == 1
    second.close()

    off = LLMClient(LLMConfig.openai("fake-model", base_url=server.url, api_key_env=None, cache_path=False))
    assert off.cache_path is None and off.chat("user", MSGS).cached is False and len(server.requests) == 2
    off.close()
    disabled = make_backend("openai", model="fake-model", base_url=server.url, api_key_env=None, cache_path=False)
    assert disabled.describe()["response_cache"] is None


def test_offline_config_creates_no_cache_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PPOL_CACHE_DIR", str(tmp_path / "user-cache"))
    LLMClient(LLMConfig()).close()
    assert not (tmp_path / "user-cache").exists()


# -- the CLI -----------------------------------------------------------------------------


def test_rollout_into_a_new_out_sends_nothing_and_no_cache_sends_again(fake_openai, tmp_path):
    server = fake_openai(scripted)
    assert rollout(server, tmp_path / "first") == 0
    sent = len(server.requests)
    assert sent > 0
    user_cache = default_cache_path()
    assert entries(user_cache) == distinct(server.requests) and not list((tmp_path / "first").glob("*.sqlite"))
    assert manifest_cache(tmp_path / "first") == str(user_cache)

    assert rollout(server, tmp_path / "second") == 0  # another output directory: every reply replayed
    assert len(server.requests) == sent
    first, second = ((tmp_path / d / "episodes.jsonl").read_text().splitlines() for d in ("first", "second"))
    assert [json.loads(x)["messages"] for x in first] == [json.loads(x)["messages"] for x in second]

    assert rollout(server, tmp_path / "third", "--no-cache") == 0
    assert distinct(server.requests[sent:]) == distinct(server.requests[:sent])  # every request sent again
    assert manifest_cache(tmp_path / "third") is None
    assert entries(user_cache) == distinct(server.requests)


def test_rollout_cache_flag_uses_that_file(fake_openai, tmp_path):
    server = fake_openai(scripted)
    own = tmp_path / "elsewhere" / "mine.sqlite"
    assert rollout(server, tmp_path / "a", "--cache", str(own)) == 0
    sent = len(server.requests)
    assert sent > 0 and entries(own) == distinct(server.requests)
    assert not default_cache_path().exists()  # the per-user cache was not used
    assert manifest_cache(tmp_path / "a") == str(own)
    assert rollout(server, tmp_path / "b", "--cache", str(own)) == 0
    assert len(server.requests) == sent
    assert rollout(server, tmp_path / "c") == 0  # the default cache is empty: asked again
    assert distinct(server.requests[sent:]) == distinct(server.requests[:sent])
    assert entries(default_cache_path()) == entries(own)


def test_cache_flags_are_exclusive_and_checked(tmp_path, capsys):
    base = ["rollout", "--domain", "retail", "--out", str(tmp_path / "o")]
    for bad in (["--cache", "x.sqlite", "--no-cache"], ["--cache", str(tmp_path)], ["--cache", ""]):
        with pytest.raises(SystemExit) as info:
            build_parser().parse_args(base + bad)
        assert info.value.code == 2
    err = capsys.readouterr().err
    assert "not allowed with argument" in err and "is a directory" in err


def test_benchmark_and_evolve_default_to_the_user_cache():
    for command in (["benchmark", "--run", "r", "--domain", "retail", "--out", "b.csv"],
                    ["evolve", "--domain", "retail", "--out", "e"]):
        args = build_parser().parse_args(command)
        assert args.cache is None and args.no_cache is False


# -- the key -----------------------------------------------------------------------------


def test_planted_api_key_never_reaches_the_cache(fake_openai, tmp_path, monkeypatch):
    planted = "sk-PLANTED-cafe0123456789beef"
    monkeypatch.setenv("PPOL_TEST_CACHE_KEY", planted)
    server = fake_openai(scripted)
    assert rollout(server, tmp_path / "run", key_env="PPOL_TEST_CACHE_KEY") == 0
    assert server.request_headers and all(h["authorization"] == f"Bearer {planted}" for h in server.request_headers)
    files = cache_dir_bytes()
    assert CACHE_FILENAME in files
    assert [name for name, data in files.items() if planted.encode() in data] == []
    # The key is not part of the cache key either: another key on the same request replays.
    monkeypatch.setenv("PPOL_TEST_CACHE_KEY", "sk-another-one-0000")
    sent = len(server.requests)
    assert rollout(server, tmp_path / "run2", key_env="PPOL_TEST_CACHE_KEY") == 0
    assert len(server.requests) == sent


def test_key_holds_endpoint_and_model_but_not_url_credentials(fake_openai):
    one, two = fake_openai(lambda req: text_reply("one")), fake_openai(lambda req: text_reply("two"))

    def ask(url, model="fake-model"):
        client = LLMClient(LLMConfig.openai(model, base_url=url, api_key_env=None))
        try:
            return client.chat("user", MSGS)
        finally:
            client.close()

    assert ask(one.url).message["content"] == "one"
    assert ask(two.url).message["content"] == "two"  # another endpoint: not a hit
    assert ask(one.url, model="other-model").cached is False
    assert len(one.requests) == 2 and len(two.requests) == 1
    assert ask(two.url).cached is True
    # Credentials embedded in the URL are masked in the key: another credential, same entry.
    assert ask(two.url.replace("http://", "http://user:sk-url-secret@")).cached is False
    assert ask(two.url.replace("http://", "http://user:sk-other-secret@")).cached is True
    assert len(two.requests) == 2
    assert [name for name, data in cache_dir_bytes().items() if b"sk-url-secret" in data] == []


def test_sampled_replies_are_replayed_and_a_new_seed_asks_again(fake_openai):
    counter = iter(range(1000))
    server = fake_openai(lambda req: text_reply(f"sample {next(counter)}"))
    client = LLMClient(LLMConfig.openai("fake-model", base_url=server.url, api_key_env=None, temperature=0.9))
    first = client.chat("user", MSGS, seed=1)
    again = client.chat("user", MSGS, seed=1)
    other = client.chat("user", MSGS, seed=2)
    assert again.cached and again.message == first.message
    assert not other.cached and other.message != first.message
    assert len(server.requests) == 2
    client.close()


# -- concurrent writers ------------------------------------------------------------------


def test_threads_racing_on_one_request_all_get_the_reply_replays_see(fake_openai):
    counter = iter(range(1000))
    lock = threading.Lock()

    def respond(_req):
        with lock:
            return text_reply(f"sample {next(counter)}")

    server = fake_openai(respond, delay_s=0.05)
    client = LLMClient(LLMConfig.openai("fake-model", base_url=server.url, api_key_env=None, temperature=0.9))
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(client.chat("user", MSGS).message))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    replay = client.chat("user", MSGS)
    assert replay.cached and len(results) == 6
    assert all(message == replay.message for message in results)  # first stored reply wins, for everyone
    client.close()


def test_processes_writing_one_cache_lose_nothing_and_agree(tmp_path):
    """Several processes create, fill and read the same cache files at once: no error, nothing lost."""
    n, w = 4, cache_writers
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=w.write, args=(str(tmp_path), wid, barrier, results)) for wid in range(n)]
    for p in procs:
        p.start()
    reports = []
    while len(reports) < n * w.ROUNDS and not any(r[0] == -1 for r in reports):
        reports.append(results.get(timeout=120))
    for p in procs:
        p.join(timeout=60)
    assert [(wid, reread, problems) for _, wid, _, reread, problems in reports if reread or problems] == []
    assert [p.exitcode for p in procs] == [0] * n
    for round_ in range(w.ROUNDS):
        cache = ResponseCache(w.cache_file(str(tmp_path), round_))
        assert len(cache) == w.SHARED_KEYS + n * w.OWN_KEYS
        for wid in range(n):
            assert all(cache.get(f"own-{wid}-{i}") == {"writer": wid, "i": i} for i in range(w.OWN_KEYS))
        got = [g for r, _, g, *_ in reports if r == round_]
        for key in (f"shared-{i}" for i in range(w.SHARED_KEYS)):
            stored = cache.get(key)
            assert stored["key"] == key and all(g[key] == stored for g in got)  # one winner, seen by all
        cache.close()


def _reply(text: str) -> dict:
    return {"message": {"role": "assistant", "content": text}, "finish_reason": "stop",
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}, "model": "m"}


def test_merging_caches_from_other_machines_keeps_this_files_replies(tmp_path, capsys):
    node_a, node_b, driver = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "driver.sqlite"
    a, b, d = ResponseCache(node_a), ResponseCache(node_b), ResponseCache(driver)
    a.put("k1", "m", _reply("from a"))
    a.put("k2", "m", _reply("shared, a's"))
    b.put("k2", "m", _reply("shared, b's"))
    b.put("k3", "m", _reply("from b"))
    d.put("k2", "m", _reply("shared, driver's"))
    b.close()
    with sqlite3.connect(node_b) as conn:  # a torn entry on node b: skipped, never copied
        conn.execute("INSERT INTO responses VALUES ('k4', 'm', '{\"broken', 0, 'bad')")
    assert d.merge_from(node_a) == {"added": 1, "present": 1, "damaged": 0}
    assert d.merge_from(node_b) == {"added": 1, "present": 1, "damaged": 1}
    assert d.get("k1")["message"]["content"] == "from a" and d.get("k3")["message"]["content"] == "from b"
    assert d.get("k2")["message"]["content"] == "shared, driver's"  # first stored wins, as for racing writers
    assert d.get("k4") is None and len(d) == 3
    assert len(a) == 2  # sources are read, never changed
    with pytest.raises(ValueError):
        d.merge_from(driver)
    a.close()
    d.close()
    # The command line: into the per-user cache by default, or --into PATH.
    assert main(["cache", "merge", str(node_a), str(node_b), "--into", str(tmp_path / "merged.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "2 added" in out and "1 damaged" in out and "3 entries" in out
    assert main(["cache", "merge", str(tmp_path / "missing.sqlite")]) == 2
    assert main(["cache", "where"]) == 0 and capsys.readouterr().out.strip() == str(default_cache_path().absolute())
