"""Preflight: a run on an endpoint is refused before anything is written when its key, endpoint,
model or the agent's tool calls are not usable (ppol_nb.llm.preflight), with exit status 2 and a
message that names the fix; a usable endpoint is probed once and remembered."""

from __future__ import annotations

import socket

import pytest
from fake_openai_server import scripted_world, text_reply

from ppol_nb.backends import make_backend
from ppol_nb.cli import main
from ppol_nb.llm.preflight import PreflightError

KEY = "PPOL_TEST_PREFLIGHT_KEY"


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens here once the socket is closed


def _commands(url: str, model: str, out, key_env: str) -> dict[str, list[str]]:
    backend = ["--backend", "openai", "--base-url", url, "--model", model, "--api-key-env", key_env]
    return {
        "rollout": ["rollout", "--domain", "retail", "--split", "test", "--limit", "1", *backend, "--out", str(out)],
        "evolve": ["evolve", "--domain", "retail", *backend, "--out", str(out)],
        "benchmark": ["benchmark", "--domain", "retail", "--run", str(out), *backend, "--out", str(out / "b.csv")],
        "ablate": ["ablate", "--domain", "retail", *backend, "--out", str(out)],
    }


def _refused(argv, capsys, out, *needles):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv[0], err)
    assert "preflight" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, (argv[0], needle, err)
    assert not out.exists(), f"{argv[0]} wrote {out}"  # nothing written, not even the directory
    return err


@pytest.mark.parametrize("command", ["rollout", "evolve", "benchmark", "ablate"])
def test_missing_key_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys, fake_openai, command):
    server = fake_openai(scripted_world())
    monkeypatch.delenv(KEY, raising=False)
    out = tmp_path / "run"
    argv = _commands(server.url, "fake-model", out, KEY)[command]
    if command == "benchmark":  # it reads a program (or run) and writes only beside --out
        program = tmp_path / "program.py"
        program.write_text("x = 1\n")
        argv[argv.index("--run") + 1] = str(program)
    _refused(argv, capsys, out, KEY, "--api-key-env ''")
    assert server.requests == []  # nothing was sent


def test_unreachable_endpoint_is_refused(tmp_path, capsys):
    url = _closed_port_url()
    out = tmp_path / "run"
    _refused(_commands(url, "m", out, "")["rollout"], capsys, out, url, "--base-url")


def test_unknown_model_is_refused_with_the_served_models(tmp_path, capsys, fake_openai):
    server = fake_openai(scripted_world(), models=["qwen3-next", "gemma-4-31b"])
    out = tmp_path / "run"
    _refused(_commands(server.url, "qwen3-nxet", out, "")["rollout"], capsys, out,
             "'qwen3-nxet'", "qwen3-next", "--model")
    assert server.requests == []  # the model list settled it; no completion was asked for


def test_model_without_tool_calls_is_refused(tmp_path, capsys, fake_openai):
    server = fake_openai(lambda _req: text_reply("Your order is on its way."), models=["chatty"])
    out = tmp_path / "run"
    _refused(_commands(server.url, "chatty", out, "")["rollout"], capsys, out, "'chatty'", "tool",
             "--enable-auto-tool-choice")
    assert len(server.requests) == 1 and server.requests[0]["tools"]  # one small probe


def test_a_usable_endpoint_is_probed_once_then_remembered(fake_openai):
    server = fake_openai(scripted_world())  # no /models route: the probe alone checks the model
    for _ in range(2):
        backend = make_backend("openai", model="fake-model", base_url=server.url, api_key_env=None, preflight=True)
        assert backend.agent_model == "fake-model"
    assert len(server.requests) == 1 and server.requests[0]["tools"]
    # The do-nothing agent calls no tool, so nothing is probed for it.
    make_backend("openai", model="other", base_url=server.url, api_key_env=None, agent="do-nothing", preflight=True)
    assert len(server.requests) == 1


def test_a_notebook_backend_raises_the_same_error(monkeypatch, fake_openai):
    server = fake_openai(scripted_world())
    monkeypatch.delenv(KEY, raising=False)
    with pytest.raises(PreflightError, match=KEY):
        make_backend("openai", model="fake-model", base_url=server.url, api_key_env=KEY, preflight=True)
    assert make_backend("offline", preflight=True).name == "offline"  # nothing to check offline


def test_a_rejected_key_names_its_variable(monkeypatch, fake_openai):
    server = fake_openai(lambda _req: (401, {"error": {"message": "bad key"}}, {}), models=None)
    monkeypatch.setenv(KEY, "sk-test-not-a-real-key")
    with pytest.raises(PreflightError) as info:
        make_backend("openai", model="m", base_url=server.url, api_key_env=KEY, preflight=True)
    assert KEY in str(info.value) and "sk-test-not-a-real-key" not in str(info.value)
