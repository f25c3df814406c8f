"""Runs that refuse bad input and show their failures (issue 9, items 3-6).

Run identity and locks, strict inputs, the self-healing response cache, failure
budgets, partial conversations of failed episodes, LLM timeouts/retries/deadlines
from the CLI, credentials stripped from endpoint URLs, and the paid-rollout gate.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fake_openai_server import error_reply, text_reply, tool_call_reply

from ppol_nb.cli import build_parser, main
from ppol_nb.llm import LLMConfig, RoleConfig
from ppol_nb.llm.cache import ResponseCache
from ppol_nb.backends import LLMBackend
from ppol_nb.simulation.runner import EpisodeSpec, run_episodes
from ppol_nb.simulation.store import EpisodeStore

ROOT = Path(__file__).resolve().parents[1]
LOOKUP = json.dumps({"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"})


def scripted(arguments=LOOKUP):
    def respond(request: dict):
        system = request["messages"][0]["content"]
        if "<scenario>" in system:
            if len(request["messages"]) <= 2:
                return text_reply("hi, Yusuf Rossi here, zip 19122. need to swap a keyboard")
            return text_reply("ok thanks ###STOP###")
        if request["messages"][-1]["role"] == "tool":
            return text_reply("Found your account, yusuf_rossi_9620.")
        return tool_call_reply("find_user_id_by_name_zip", arguments, call_id="call_lookup")

    return respond


def llm_backend(server, cache_path, **cfg):
    role = RoleConfig(model="fake-model", base_url=server.url, api_key_env=None)
    config = LLMConfig(backend="openai", default=role, cache_path=cache_path, backoff_base_s=0.01,
                       backoff_max_s=0.05, **cfg)
    return LLMBackend.from_config(config)


def rollout(out, *extra):
    return main(["rollout", "--domain", "retail", "--split", "test", "--limit", "1", "--out", str(out), "--quiet",
                 *extra])


def tree_bytes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".ppol-run.lock"}


HOLD_LOCK = textwrap.dedent('''
    import sys, time
    from ppol_nb.run_identity import claim_run_dir
    claim_run_dir(sys.argv[1], {"holder": True}, "rollout")
    print("held", flush=True)
    time.sleep(120)
''')


@pytest.fixture
def lock_holder():
    """Start another process that holds the lock of a directory; stopped after the test."""
    procs = []

    def hold(folder: Path):
        proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], stdout=subprocess.PIPE, text=True,
                                env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


# -- 3. run identity and locks ---------------------------------------------------------------------


def test_rollout_into_a_run_of_another_identity_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert rollout(out) == 0
    before = tree_bytes(out)
    capsys.readouterr()
    assert main(["rollout", "--domain", "airline", "--split", "test", "--limit", "1", "--condition", "trait:impatient",
                 "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds another run" in err
    assert "domain: recorded 'retail', now 'airline'" in err and "condition: recorded 'base'" in err
    assert tree_bytes(out) == before  # nothing written: not a line, not the manifest


def test_rollout_rerun_with_the_same_identity_extends_the_run(tmp_path):
    out = tmp_path / "run"
    assert rollout(out) == 0
    assert main(["rollout", "--domain", "retail", "--split", "test", "--limit", "2", "--out", str(out),
                 "--quiet"]) == 0
    assert len((out / "episodes.jsonl").read_text().splitlines()) == 2  # one new episode, none twice


def test_second_process_is_refused_before_writing(tmp_path, capsys, lock_holder):
    out = tmp_path / "run"
    lock_holder(out)
    before = tree_bytes(out)  # what the holder wrote
    assert rollout(out) == 2
    assert "in use by another ppol-nb process" in capsys.readouterr().err
    assert tree_bytes(out) == before


@pytest.fixture(scope="module")
def fitness_dir(tmp_path_factory):
    from ppol_nb.studies.baseline import BaselineStudy
    from ppol_nb.backends import OfflineBackend

    base = tmp_path_factory.mktemp("baseline")
    BaselineStudy(OfflineBackend(), domains=("retail",), limit=4, run_dir=str(base), progress=False).run()
    return base / "fitness" / "retail"


def test_evolve_resume_with_another_identity_is_refused_before_writing(fitness_dir, tmp_path, capsys):
    from ppol_nb.evolution.config import EvolutionConfig
    from ppol_nb.evolution.runs import build_run
    from ppol_nb.backends import OfflineBackend

    run = tmp_path / "run"
    built = build_run("retail", OfflineBackend(), run, config=EvolutionConfig.profile("ci"), fitness_dir=fitness_dir,
                      train_limit=10, progress=False)
    if getattr(built, "claim", None) is not None:
        built.claim.release()  # this process is done with the first run
    before = tree_bytes(run)
    argv = ["evolve", "--domain", "airline", "--profile", "ci", "--train-limit", "10", "--fitness", str(fitness_dir),
            "--out", str(run), "--resume", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "domain: recorded 'retail', now 'airline'" in err
    assert tree_bytes(run) == before and not (run / "baseline").exists()
    # A new run over an existing one (no --resume) is refused before baseline/fitness/manifest are touched.
    argv = ["evolve", "--domain", "retail", "--profile", "ci", "--train-limit", "10", "--out", str(run), "--quiet"]
    with pytest.raises(SystemExit, match="already holds a run"):
        main(argv)
    assert tree_bytes(run) == before


def test_evolve_on_a_busy_run_dir_is_refused_before_writing(fitness_dir, tmp_path, capsys, lock_holder):
    run = tmp_path / "run"
    lock_holder(run)
    before = tree_bytes(run)
    argv = ["evolve", "--domain", "retail", "--profile", "ci", "--train-limit", "10", "--fitness", str(fitness_dir),
            "--out", str(run), "--quiet"]
    assert main(argv) == 2
    assert "in use by another ppol-nb process" in capsys.readouterr().err
    assert tree_bytes(run) == before and not (run / "baseline").exists() and not (run / "fitness").exists()


# -- 4. strict inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("flag, value", [("--limit", "0"), ("--limit", "-1"), ("--n-personas", "0"),
                                         ("--max-steps", "0"), ("--max-workers", "0"), ("--limit", "two")])
def test_counts_must_be_positive(flag, value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        rollout(tmp_path / "run", flag, value)
    assert exc.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content, message", [(None, "does not exist"), ("", "is empty"),
                                              ("   \n", "holds only whitespace")])
def test_program_file_must_exist_and_hold_code(content, message, tmp_path, capsys):
    program = tmp_path / "gen.py"
    if content is not None:
        program.write_text(content)
    assert rollout(tmp_path / "run", "--condition", "program", "--program", str(program)) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_fingerprint_missing_file_is_an_error(tmp_path, capsys):
    assert main(["fingerprint", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "fp.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "fp.csv").exists()


def _episode(i: int, messages) -> dict:
    return {"episode_id": f"e{i}", "domain": "retail", "task_id": str(i), "split": "test", "condition": "base",
            "persona": None, "backend": "offline", "user_model": "u", "agent_model": "a", "seed": 0,
            "max_steps": 30, "reward": 1.0, "reward_breakdown": None, "termination_reason": "user_stop",
            "messages": messages, "error": None, "ppol_nb_version": "0", "duration_s": 0.1, "llm_calls": 0,
            "cost_usd": 0.0}


def test_fingerprint_refuses_records_without_user_turns_and_counts_bad_lines(tmp_path, capsys):
    talk = [{"role": "user", "content": "hi, I need to return a lamp please"},
            {"role": "assistant", "content": "Sure."}]
    path = tmp_path / "eps.jsonl"
    lines = [json.dumps(_episode(1, talk)), json.dumps(_episode(2, [])), "{not json",
             json.dumps({**_episode(3, talk), "messages": "hello"}), json.dumps(_episode(4, talk))[:30]]
    path.write_text("\n".join(lines))
    code = main(["fingerprint", str(path), "--out", str(tmp_path / "fp.csv")])
    err = capsys.readouterr().err
    assert code == 3  # default failure budget for fingerprint: any failure
    import pandas as pd

    assert list(pd.read_csv(tmp_path / "fp.csv")["episode_id"]) == ["e1"]  # e2 has no user turns
    assert f"{path}:3: not valid JSON" in err
    assert f"{path}:4: schema: messages: Input should be a valid list" in err
    assert f"{path}:5: torn last line" in err
    assert "episode e2 has no user turns" in err and "FAILED: 4 of 5 failed" in err
    assert main(["fingerprint", str(path), "--out", str(tmp_path / "fp2.csv"), "--failure-budget", "0.9"]) == 0


def test_episode_store_reports_and_never_glues_onto_a_torn_line(tmp_path):
    from ppol_nb.simulation.store import read_episode_lines

    store = EpisodeStore(tmp_path)
    store.append(_episode(1, []))
    with open(store.path, "a") as fh:
        fh.write('{"episode_id": "e2", "dom')  # a writer killed mid-line
    store.append(_episode(3, []))
    assert [r["episode_id"] for r in store.load()] == ["e1", "e3"]
    assert [line for line, _ in store.last_report.skipped] == [2]
    assert store.last_report.skipped[0][1].startswith("not valid JSON")
    _, report = read_episode_lines(store.path)
    assert report.lines == 3 and report.loaded == 2 and "1 line(s) skipped" in report.summary()


# -- 5. self-healing response cache --------------------------------------------------------------


def test_corrupt_cache_rows_are_misses_reported_once(fake_openai, tmp_path, capsys):
    server = fake_openai(scripted())
    cache_path = tmp_path / "cache.sqlite"
    run_episodes([EpisodeSpec("retail", "0")], llm_backend(server, cache_path), tmp_path / "r1", progress=False)
    first = len(server.requests)
    with sqlite3.connect(cache_path) as conn:  # damage every row: garbage, and a valid JSON that fails its checksum
        keys = [k for (k,) in conn.execute("SELECT key FROM responses ORDER BY key")]
        conn.execute("UPDATE responses SET reply = '{\"message\": tr' WHERE key = ?", (keys[0],))
        conn.execute("UPDATE responses SET reply = reply || ' ' WHERE key != ?", (keys[0],))
    capsys.readouterr()
    df = run_episodes([EpisodeSpec("retail", "0")], llm_backend(server, cache_path), tmp_path / "r2", progress=False)
    err = capsys.readouterr().err
    assert df.iloc[0]["error"] is None or df.iloc[0]["error"] != df.iloc[0]["error"]
    assert df.iloc[0]["messages"][-1]["content"].endswith("###STOP###")
    assert len(server.requests) == 2 * first  # every damaged reply was asked again ...
    assert err.count(f"response cache {cache_path}") == 1  # ... and reported once, naming the file
    again = len(server.requests)
    run_episodes([EpisodeSpec("retail", "0")], llm_backend(server, cache_path), tmp_path / "r3", progress=False)
    assert len(server.requests) == again  # the replacements replay


def test_truncated_cache_file_is_moved_aside(tmp_path, capsys):
    path = tmp_path / "cache.sqlite"
    cache = ResponseCache(path)
    for i in range(300):
        cache.put(f"k{i}", "m", {"message": {"role": "assistant", "content": "x" * 200}, "finish_reason": "stop",
                                 "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
    cache.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    healed = ResponseCache(path)
    err = capsys.readouterr().err
    assert "is damaged" in err and "moved it aside" in err and str(path) in err
    assert len(healed) == 0 and healed.get("k1") is None
    assert len(list(tmp_path.glob("cache.sqlite.corrupt-*"))) == 1
    healed.put("k1", "m", {"a": 1})
    assert healed.get("k1") == {"a": 1}


# -- 6. failures that show ----------------------------------------------------------------------


def test_failed_episode_keeps_its_partial_conversation(fake_openai, tmp_path):
    server = fake_openai(scripted(arguments='{"first_name": '))
    df = run_episodes([EpisodeSpec("retail", "0")], llm_backend(server, tmp_path / "c.sqlite"), tmp_path / "run",
                      progress=False)
    rec = df.iloc[0]
    assert "JSONDecodeError" in rec["error"]
    said = [m["content"] for m in rec["messages"] if m["role"] == "user"]
    assert said and said[0].startswith("hi, Yusuf Rossi here")  # the conversation up to the bad tool call


def test_rollout_where_every_episode_fails_exits_non_zero(fake_openai, tmp_path, capsys):
    server = fake_openai(scripted(arguments='{"first_name": '))
    code = rollout(tmp_path / "run", "--backend", "openai", "--base-url", server.url, "--model", "fake-model",
                   "--api-key-env", "")
    assert code == 3
    assert "FAILED: 1 of 1 failed (100%" in capsys.readouterr().err


def test_failure_budget_rule():
    from ppol_nb.cli.checks import check_failures

    assert check_failures("x", 0, 5, 0.0) == 0
    assert check_failures("x", 1, 5, 0.0) == 3
    assert check_failures("x", 4, 5, 1.0) == 0 and check_failures("x", 5, 5, 1.0) == 3
    assert check_failures("x", 0, 0, 1.0) == 3  # nothing produced at all


def test_timeout_and_retries_reach_the_llm_client(fake_openai, tmp_path):
    from ppol_nb.cli.backend_args import _backend

    server = fake_openai(lambda r: error_reply(500, "down"))
    args = build_parser().parse_args(["rollout", "--domain", "retail", "--backend", "openai", "--model", "m",
                                      "--base-url", server.url, "--api-key-env", "", "--timeout", "7",
                                      "--retries", "0", "--no-preflight", "--out", str(tmp_path)])
    backend = _backend(args)
    assert backend.client.config.timeout_s == 7.0 and backend.client.config.max_retries == 0
    with pytest.raises(Exception, match="down"):
        backend.client.chat("user", [{"role": "user", "content": "hi"}])
    assert len(server.requests) == 1  # no retry


def test_episode_deadline_stops_a_slow_endpoint(fake_openai, tmp_path):
    server = fake_openai(scripted(), delay_s=1.5)
    backend = llm_backend(server, None, max_retries=3)
    df = run_episodes([EpisodeSpec("retail", "0")], backend, tmp_path / "run", progress=False, deadline_s=0.5)
    error = df.iloc[0]["error"]
    assert error and ("DeadlineExceeded" in error or "EpisodeDeadline" in error or "deadline" in error)
    assert len(server.requests) <= 1  # the first request timed out at the deadline; no retry was started


def test_credentials_in_urls_are_never_written(tmp_path):
    from ppol_nb.llm.config import redact_url, scrub_credentials

    assert redact_url("https://user:sk-abc@host.example/v1") == "https://***@host.example/v1"
    assert redact_url("https://h/v1?api_key=sk-abc&x=1") == "https://h/v1?api_key=***&x=1"
    assert scrub_credentials({"u": ["http://a:b@h/"]}) == {"u": ["http://***@h/"]}
    out = tmp_path / "run"
    assert rollout(out, "--base-url", "https://user:sk-url-secret@h.example/v1?api_key=sk-query-secret") == 0
    for p in out.rglob("*"):
        if p.is_file():
            assert b"sk-url-secret" not in p.read_bytes() and b"sk-query-secret" not in p.read_bytes(), p


def test_paid_rollout_needs_yes(tmp_path, capsys):
    from ppol_nb.cli.checks import paid_endpoint

    assert paid_endpoint(None) and paid_endpoint("https://api.example.com/v1")
    assert not paid_endpoint("http://127.0.0.1:8000/v1") and not paid_endpoint("http://localhost/v1")
    code = rollout(tmp_path / "run", "--backend", "openai", "--model", "m", "--base-url", "https://api.example.com/v1")
    out = capsys.readouterr().out
    assert code == 2 and "cost estimate: 1 tasks x 1 = 1 episodes" in out and "--yes" in out
    assert not (tmp_path / "run").exists()


def test_benchmark_claims_its_folder_before_writing(fitness_dir, tmp_path, capsys, lock_holder):
    from ppol_nb.personas.programs import program_source

    program = tmp_path / "prog.py"
    program.write_text(program_source("seed"))
    argv = ["benchmark", "--run", str(program), "--domain", "retail", "--limit", "1", "--n-personas", "2",
            "--fitness", str(fitness_dir), "--quiet"]
    busy = tmp_path / "busy"
    lock_holder(busy)
    before = tree_bytes(busy)
    assert main(argv + ["--out", str(busy / "bench.csv")]) == 2
    assert "in use by another ppol-nb process" in capsys.readouterr().err and tree_bytes(busy) == before
    other = tmp_path / "other"  # a folder that holds a rollout: a benchmark must not mix into it
    assert rollout(other) == 0
    before = tree_bytes(other)
    capsys.readouterr()
    assert main(argv + ["--out", str(other / "bench.csv")]) == 2
    assert "command: recorded 'rollout', now 'benchmark'" in capsys.readouterr().err
    assert tree_bytes(other) == before
