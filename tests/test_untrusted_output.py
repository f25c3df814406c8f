"""Nothing a generator program sends is trusted (issue 22): each class through the paper interface.

Every probe is a generator program run by ``ppol-nb rollout --condition program``
(offline world). The protocol attacks need the real ``os`` to write on the
child's protocol pipe, so the Python layer is switched off for them (a route it
missed); the program then sleeps for a minute, so a run that finishes at all
shows that the parent acted on the bad message, and the recorded
``duration_s`` (start-up included) bounds the time from message to failure.
Each probe checks: the run finishes with a failing exit status, the failure is
in ``generation_failures.jsonl`` with its kind and reason, no episode or
persona of the bad candidate is stored, and the console shows no traceback.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import time
from pathlib import Path

import pytest

from ppol_nb.offline.generator import OfflineGeneratorWorld
from ppol_nb.personas import isolation, sandbox
from ppol_nb.personas.record import MAX_INSTRUCTION_CHARS, Persona, PersonaError
from ppol_nb.personas.sandbox import SandboxPolicy, run_program

if not isolation.status().available:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must run the untrusted-output suite in a sandbox: {isolation.status().reason}")
    pytest.skip(f"no OS-level isolation here: {isolation.status().reason}", allow_module_level=True)

AXES = ('[{"name": "terse", "definition": "few words", "on_playbook": "Be brief.", '
        '"off_playbook": "Be normal."}]')
GOOD_PERSONA = ('{"persona_id": "p", "description": "A shopper in a hurry.", "axis_placement": {"terse": true}, '
                '"instruction": "Keep every answer to one short sentence and never small-talk."}')

# A program that writes ``line`` (bytes) on the protocol pipe, then hangs.
FORGER = textwrap.dedent('''
    DIVERSITY_AXES = %s

    def generate_personas(context, axes, n, llm):
        from enum import bltns
        os = bltns.__import__("os")
        stat = bltns.__import__("stat")
        time = bltns.__import__("time")
        line = %r
        for fd in range(3, 64):
            try:
                st = os.fstat(fd)
                flags = int(bltns.open(f"/proc/self/fdinfo/{fd}").read().split("flags:")[1].split()[0], 8)
            except (OSError, IndexError, ValueError):
                continue
            if stat.S_ISFIFO(st.st_mode) and flags & 3 == 1:  # a write-only pipe: the protocol channel
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
        then = %r
        if then == "exit":
            os._exit(0)
        if then == "return":
            return [{"persona_id": "p", "description": "A shopper in a hurry.", "axis_placement": {"terse": True},
                     "instruction": "Keep every answer to one short sentence and never small-talk."}]
        time.sleep(60)
        return []
''')

# name, bytes written, exit right after, expected kind, words the recorded error must hold
ROUTES = [
    ("forged-result-bad-axes",
     b'{"type": "result", "axes": [{"name": "not an identifier!", "definition": "x", "on_playbook": "x", '
     b'"off_playbook": "x"}], "personas": [' + GOOD_PERSONA.encode() + b']}\n', "exit", "axes",
     "the result's axes fail the axis contract"),
    ("forged-result-then-real-result",
     b'{"type": "result", "axes": ' + AXES.encode() + b', "personas": [' + GOOD_PERSONA.encode() + b']}\n',
     "return", "output", "message after the result"),
    ("forged-result-then-hang",
     b'{"type": "result", "axes": ' + AXES.encode() + b', "personas": [' + GOOD_PERSONA.encode() + b']}\n',
     "sleep", "output", "kept running"),
    ("second-hello", b'{"type": "hello", "pid": 1, "env_keys": ["OPENAI_API_KEY"], "heavy_modules": []}\n',
     "sleep", "output", "only that one, must be its hello"),
    ("lone-surrogate",
     b'{"type": "result", "axes": ' + AXES.encode() + b', "personas": [{"persona_id": "p", "description": '
     b'"A shopper.", "axis_placement": {}, "instruction": "\\ud800 keep every answer short and never chat"}]}\n',
     "exit", "output", "lone surrogate"),
    ("deep-nesting", b'{"type": "result", "axes": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", "sleep", "output",
     "nests deeper than"),
    ("invalid-utf8", b'{"type": "llm", "id": 1, "messages": "\xff\xfe"}\n', "sleep", "output", "not valid UTF-8"),
    ("not-json", b"this is not json\n", "sleep", "output", "not JSON"),
    ("unknown-kind", b'{"type": "surprise"}\n', "sleep", "output", "unknown message kind 'surprise'"),
    ("bad-llm-request", b'{"type": "llm", "id": "x", "messages": "hi"}\n', "sleep", "output",
     "no integer id"),
    ("forged-error-kind", b'{"type": "error", "kind": "success", "message": {"ok": true}}\n', "sleep", "output",
     "an error report has kind 'success'"),
    ("oversized-line", b'{"type": "llm", "id": 1, "x": "' + b"y" * (17 * 2**20), "sleep", "output",
     "exceeded 16 MiB"),
]


def _rollout(tmp_path: Path, source: str, monkeypatch, capsys, policy: SandboxPolicy | None = None):
    from ppol_nb.cli import main

    if policy is not None:
        monkeypatch.setattr(sandbox, "DEFAULT_POLICY", policy)
    program = tmp_path / "program.py"
    program.write_text(source)
    out = tmp_path / "run"
    t0 = time.monotonic()
    code = main(["rollout", "--domain", "retail", "--split", "train", "--limit", "1", "--condition", "program",
                 "--program", str(program), "--n-personas", "1", "--out", str(out), "--quiet"])
    took = time.monotonic() - t0
    printed = capsys.readouterr()
    failures = [json.loads(x) for x in (out / "generation_failures.jsonl").read_text().splitlines()]
    episodes = (out / "episodes.jsonl").read_text().splitlines() if (out / "episodes.jsonl").exists() else []
    return code, failures, episodes, printed, took, out


@pytest.mark.parametrize("name, line, exit_after, kind, words", ROUTES, ids=[r[0] for r in ROUTES])
def test_forged_or_pathological_message_is_a_recorded_failure(name, line, exit_after, kind, words, tmp_path,
                                                              monkeypatch, capsys):
    source = FORGER % (AXES, line, exit_after)
    code, failures, episodes, printed, took, out = _rollout(tmp_path, source, monkeypatch, capsys,
                                                           SandboxPolicy(python_guard=False))
    assert code != 0  # the failed candidate shows in the exit status
    assert len(failures) == 1 and failures[0]["error_kind"] == kind, failures
    assert words in failures[0]["error"], failures[0]["error"]
    assert failures[0]["duration_s"] < 5, failures  # message -> recorded failure, start-up included
    assert took < 60  # never waited for the program's sleep, nor the 120 s timeout
    assert episodes == []  # nothing the child sent was stored
    stored = [p for p in out.rglob("*") if p.is_file() and p.parent.parent.name == "personas"]
    assert stored == []
    assert "Traceback" not in printed.out + printed.err


def test_control_characters_and_overlong_text_are_recorded_failures(tmp_path, monkeypatch, capsys):
    """With the full stack: a program that returns NUL/ESC or a 7 MB instruction stores nothing."""
    for label, text in (("control", "Keep answers short \x1b[31m and never chat \x00 at all."),
                        ("overlong", None)):
        instruction = repr(text) if text else "'Keep answers short. ' * 350_000"
        source = (f"DIVERSITY_AXES = {AXES}\n"
                  "def generate_personas(context, axes, n, llm):\n"
                  "    return [{'persona_id': 'p', 'description': 'A shopper in a hurry.', "
                  f"'axis_placement': {{'terse': True}}, 'instruction': {instruction}}}]\n")
        run_dir = tmp_path / label
        run_dir.mkdir()
        code, failures, episodes, printed, _, out = _rollout(run_dir, source, monkeypatch, capsys)
        assert code != 0 and episodes == []
        assert len(failures) == 1 and failures[0]["error_kind"] == "persona", failures
        if label == "control":
            assert "control character" in failures[0]["error"]
        else:
            assert f"the limit is {MAX_INSTRUCTION_CHARS}" in failures[0]["error"]
            assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) < 1_000_000
        assert "Traceback" not in printed.out + printed.err


def test_persona_validate_bounds_text():
    ok = {"description": "A shopper.", "instruction": "Keep every answer to one short sentence, please."}
    assert Persona.create(**{**ok, "instruction": ok["instruction"] + "\n\tand be polite."})
    for bad in ("\x00", "\x1b[2J", "\r", "\x7f"):
        with pytest.raises(PersonaError, match="control character"):
            Persona.create(**{**ok, "instruction": ok["instruction"] + bad})
    with pytest.raises(PersonaError, match="description has 1001 characters; the limit is 1000"):
        Persona.create(**{**ok, "description": "x" * 1001})
    with pytest.raises(PersonaError, match=f"the limit is {MAX_INSTRUCTION_CHARS}"):
        Persona.create(**{**ok, "instruction": "y" * (MAX_INSTRUCTION_CHARS + 1)})


def test_a_bad_candidate_never_raises_and_the_next_one_runs():
    """What the evolution loop and the benchmark rely on: run_program returns a record for each."""
    world = OfflineGeneratorWorld(0)
    bad = run_program(FORGER % (AXES, b"[" * 5000 + b"\n", "sleep"), {"domain": "retail"}, 1, world,
                      policy=SandboxPolicy(python_guard=False), timeout_s=30)
    assert not bad.ok and bad.error_kind == "output" and bad.duration_s < 5
    from ppol_nb.personas.programs import program_source

    good = run_program(program_source("seed"), {"domain": "retail", "reason_for_call": "a refund"}, 2, world)
    assert good.ok and len(good.personas) == 2


def test_recorded_environment_is_the_one_the_parent_built():
    """A program that forges a hello before anything else still cannot choose what is recorded."""
    forged = b'{"type": "hello", "env_keys": ["OPENAI_API_KEY"], "heavy_modules": []}\n'
    res = run_program(FORGER % (AXES, forged, "sleep"),
                      {"domain": "retail"}, 1, OfflineGeneratorWorld(0), policy=SandboxPolicy(python_guard=False))
    assert res.error_kind == "output"
    assert "OPENAI_API_KEY" not in res.child_env_keys
    assert set(res.child_env_keys) == set(sandbox.sandbox_env("x"))


# -- memory, measured from the host ----------------------------------------------------------------------

SHM_HOARD = textwrap.dedent('''
    DIVERSITY_AXES = %s

    def generate_personas(context, axes, n, llm):
        from enum import bltns
        ct = bltns.__import__("ctypes")
        os = bltns.__import__("os")
        time = bltns.__import__("time")
        libc = ct.CDLL(None, use_errno=True)
        libc.shmat.restype = ct.c_void_p
        libc.shmat.argtypes = [ct.c_int, ct.c_void_p, ct.c_int]
        got = []
        for _ in range(4):  # 4 x 400 MiB of SysV shared memory, touched, then detached
            sid = libc.shmget(0, 400 * 2**20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
            if sid < 0:
                got.append(["shmget", ct.get_errno()])
                continue
            addr = libc.shmat(sid, None, 0)
            ct.memset(addr, 1, 400 * 2**20)
            libc.shmdt(ct.c_void_p(addr))
            got.append(["held", sid])
        memfd = libc.syscall(319 if os.uname().machine == "x86_64" else 279, b"x", 0)
        got.append(["memfd", memfd, ct.get_errno()])
        ptrace = libc.ptrace(16, 1, None, None)  # PTRACE_ATTACH
        got.append(["ptrace", ptrace, ct.get_errno()])
        print("PROBE-READY", flush=True)
        time.sleep(3)
        raise ValueError("RESULT:" + bltns.__import__("json").dumps(got))
''')


def _shmem_kib() -> int:
    return int(re.search(r"^Shmem:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE).group(1))


def test_shared_memory_cannot_hold_more_than_the_limit():
    import errno
    import threading

    before = _shmem_kib()
    peak = [before]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], _shmem_kib())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        res = run_program(SHM_HOARD % AXES, {"domain": "retail"}, 1, OfflineGeneratorWorld(0),
                          policy=SandboxPolicy(python_guard=False), memory_mb=1024, timeout_s=30)
    finally:
        done.set()
        watcher.join()
    assert res.error_kind == "exception", (res.error_kind, res.error, res.stderr_tail)
    got = json.loads(res.error.rsplit("RESULT:", 1)[1].strip().splitlines()[0])
    assert got[:4] == [["shmget", errno.EPERM]] * 4  # seccomp: no SysV segment at all
    assert got[4] == ["memfd", -1, errno.EPERM] and got[5] == ["ptrace", -1, errno.EPERM]
    # Measured on the host: the shared memory the run added (other users of the machine add noise).
    assert (peak[0] - before) * 1024 < 1024 * 2**20 / 4, (before, peak[0])
