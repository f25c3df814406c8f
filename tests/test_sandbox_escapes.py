"""Escape probes against the generator sandbox (issue 9): each asserts its exact outcome.

Two kinds of probe:

* **full stack** — the program as an LLM could write it, run with the default
  policy: the friendly Python layer (static check, run-time guard, module
  views) names what it refused, or the OS layer blocks the effect;
* **OS layer alone** — the same payload with the Python layer switched off
  (``SandboxPolicy(python_guard=False)``): this stands for any route the Python
  layer missed, and shows that bubblewrap + seccomp hold by themselves.

A key is planted in this process's environment for the whole module; no probe's
result may contain it, and the end-to-end probe scans the run directory, the
persona cache and the LLM response cache for it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest

import ppol_nb
from ppol_nb.personas import isolation, sandbox
from ppol_nb.offline.generator import OfflineGeneratorWorld
from ppol_nb.personas.sandbox import SandboxPolicy, run_program, sandbox_env

PLANTED = "sk-planted-" + secrets.token_hex(12)
GUARD_OFF = SandboxPolicy(python_guard=False)
AXES = textwrap.dedent('''
    DIVERSITY_AXES = [{"name": "terse", "definition": "few words", "on_playbook": "Be brief.",
                       "off_playbook": "Be normal."}]
''')
PROBE_HEAD = "import json\n"
REPORT = "    raise ValueError('RESULT:' + json.dumps(obs))\n"

if not isolation.status().available:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must run the escape suite in a sandbox: {isolation.status().reason}")
    pytest.skip(f"no OS-level isolation here: {isolation.status().reason}", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def planted_key():
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", PLANTED)
    mp.setenv("PPOL_PROBE_TOKEN", PLANTED)
    yield PLANTED
    mp.undo()


def ctx(**extra) -> dict:
    return {"domain": "retail", "reason_for_call": "a probe", "parent_pid": os.getpid(), **extra}


def run(body: str, policy: SandboxPolicy | None = None, context: dict | None = None, **kw):
    """Run a probe; every result is checked for the planted key."""
    src = AXES + PROBE_HEAD + textwrap.dedent(body)
    kw.setdefault("timeout_s", 20)
    res = run_program(src, context or ctx(), 1, OfflineGeneratorWorld(0), policy=policy, **kw)
    assert PLANTED not in json.dumps(res.to_dict()), "the planted key reached a result"
    return res


def observed(res) -> dict:
    assert res.error_kind == "exception", (res.error_kind, res.error, res.stderr_tail)
    return json.loads(res.error.rsplit("RESULT:", 1)[1].strip().splitlines()[0])


def payload(code: str) -> str:
    """A generate_personas that runs ``code`` (which fills ``obs``) and reports ``obs``."""
    return ("def generate_personas(context, axes, n, llm):\n    obs = {}\n"
            + textwrap.indent(textwrap.dedent(code), "    ") + REPORT)


def attempt(label: str, expr: str) -> str:
    """Code that records the value of ``expr`` or the exception it raised under ``obs[label]``."""
    return (f"try:\n    obs[{label!r}] = ['ok', repr({expr})]\n"
            f"except BaseException as exc:\n    obs[{label!r}] = [type(exc).__name__, getattr(exc, 'errno', None)]\n")


# -- the two routes of the issue ---------------------------------------------------------------


def test_enum_bltns_is_refused_by_the_static_check():
    res = run("from enum import bltns\n" + payload("obs['x'] = 1\n"))
    assert res.error_kind == "forbidden"
    assert "'from enum import bltns' is the module 'builtins', which is not allowed" in res.error


def test_enum_bltns_by_a_computed_name_finds_nothing_at_run_time():
    res = run("import enum\n" + payload("obs['b'] = getattr(enum, 'blt' + 'ns')\n"))
    assert res.error_kind == "exception"
    assert "AttributeError: module 'enum' has no attribute 'bltns'" in res.error


def test_json_codecs_is_refused_by_the_static_check():
    res = run("import json\n" + payload("json.codecs.open('/tmp/x', 'w')\n"))
    assert res.error_kind == "forbidden" and "json.codecs is the module 'codecs', which is not allowed" in res.error


def test_json_codecs_by_a_computed_name_finds_nothing_at_run_time():
    res = run(payload("obs['c'] = getattr(json, 'cod' + 'ecs')\n"))
    assert "AttributeError: module 'json' has no attribute 'codecs'" in res.error


def test_real_builtins_route_meets_the_os_layer(tmp_path):
    """The issue's first route with the Python layer off: exec, the parent's environ,
    subprocess, ctypes, a TCP connection, the home directory."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    home = str(Path.home())
    code = ("from enum import bltns\n"
            "os = bltns.__import__('os')\n"
            + attempt("exec", "bltns.exec('z = 6 * 7', {}) or 'ran'")
            + attempt("parent_environ", "bltns.open(f\"/proc/{context['parent_pid']}/environ\", 'rb').read()")
            + attempt("subprocess", "bltns.__import__('subprocess').run(['/bin/sh', '-c', 'id'])")
            + "ct = bltns.__import__('ctypes')\nlibc = ct.CDLL(None, use_errno=True)\n"
            + "obs['ctypes_fork'] = [libc.syscall(57 if os.uname().machine == 'x86_64' else 220, 17, 0, 0, 0, 0), "
              "ct.get_errno()]\n"
            + "sock = bltns.__import__('socket')\n"
            + attempt("tcp", "sock.create_connection(('127.0.0.1', context['port']), timeout=2)")
            + attempt("home", "sorted(os.listdir(context['home']))")
            + attempt("home_env", "sorted(os.listdir(os.path.expanduser('~')))"))
    try:
        obs = observed(run(payload(code), GUARD_OFF, ctx(port=listener.getsockname()[1], home=home)))
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever connected
    finally:
        listener.close()
    assert obs["exec"] == ["ok", "'ran'"]  # Python runs Python; the OS decides what it reaches
    assert obs["parent_environ"] == ["FileNotFoundError", errno.ENOENT]  # no such pid in the sandbox
    assert obs["subprocess"] == ["PermissionError", errno.EPERM]  # seccomp: no process creation
    assert obs["ctypes_fork"] == [-1, errno.EPERM]  # nor through a raw fork syscall
    assert obs["tcp"] == ["ConnectionRefusedError", errno.ECONNREFUSED]  # the namespace's own loopback
    assert obs["home_env"] == ["ok", "[]"]  # HOME is the scratch dir
    visible = {Path(dst).relative_to(home).parts[0] for _, _, dst in isolation._python_mounts()
               if dst.startswith(home + "/")}
    if home == "/" or not Path(home).is_dir():
        return
    if visible:  # the interpreter lives under home: only its top folder shows
        assert obs["home"] == ["ok", repr(sorted(visible))]
    else:
        assert obs["home"] == ["FileNotFoundError", errno.ENOENT]


# -- files: writes, truncation, deletion ---------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_writes_truncation_and_deletion_are_blocked(tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("intact")
    pkg_init = Path(ppol_nb.__file__)
    child = Path(sandbox.__file__).with_name("sandbox_child.py")
    before = {p: _digest(p) for p in (canary, pkg_init, child)}
    inside_child = f"{isolation.SANDBOX_PACKAGE_ROOT}/ppol_nb/personas/sandbox_child.py"
    code = ("from enum import bltns\nos = bltns.__import__('os')\ncodecs = json.codecs\n"
            + attempt("truncate_canary", "codecs.open(context['canary'], 'w')")
            + attempt("delete_canary", "os.remove(context['canary'])")
            + attempt("truncate_child", f"codecs.open({inside_child!r}, 'w')")
            + attempt("delete_child", f"os.remove({inside_child!r})")
            + attempt("truncate_real_init", "bltns.open(context['init'], 'w')")
            + attempt("write_usr", "bltns.open('/usr/lib/ppol-probe', 'w')")
            + attempt("write_root", "bltns.open('/ppol-probe', 'w')")
            + attempt("write_scratch", "bltns.open('/tmp/scratch.txt', 'wb', buffering=0).write(b'x' * 10)")
            + attempt("mkdir_scratch", "os.mkdir('/tmp/d') or sorted(os.listdir('/tmp'))"))
    obs = observed(run(payload(code), GUARD_OFF, ctx(canary=str(canary), init=str(pkg_init))))
    assert obs["truncate_canary"] == ["FileNotFoundError", errno.ENOENT]  # the host's /tmp is not there
    assert obs["delete_canary"] == ["FileNotFoundError", errno.ENOENT]
    assert obs["truncate_child"] == ["OSError", errno.EROFS]  # the package files are read-only binds
    assert obs["delete_child"] == ["OSError", errno.EROFS]
    assert obs["truncate_real_init"] == ["FileNotFoundError", errno.ENOENT]  # the worktree is not mounted
    assert obs["write_usr"] == ["OSError", errno.EROFS]
    assert obs["write_root"] == ["OSError", errno.EROFS]
    assert obs["write_scratch"] == ["OSError", errno.EFBIG]  # RLIMIT_FSIZE=0, even in the scratch dir
    assert obs["mkdir_scratch"][0] == "ok" and "'d'" in obs["mkdir_scratch"][1]  # scratch is private, writable
    assert {p: _digest(p) for p in before} == before and canary.read_text() == "intact"


# -- /proc and the environment -------------------------------------------------------------------


def test_proc_shows_only_the_sandbox_and_no_secret():
    code = ("from enum import bltns\nos = bltns.__import__('os')\n"
            "obs['pids'] = sorted(p for p in os.listdir('/proc') if p.isdigit())\n"
            "obs['self_environ'] = sorted(k.split('=')[0] for k in "
            "bltns.open('/proc/self/environ', 'rb').read().decode().split('\\0') if k)\n"
            "obs['pid1_environ'] = bltns.open('/proc/1/environ', 'rb').read().decode()\n"
            "obs['cmdline'] = bltns.open('/proc/1/cmdline', 'rb').read().decode()\n"
            "obs['maps'] = ' '.join(sorted({l.split()[-1] for l in bltns.open('/proc/self/maps') if '/' in l}))\n"
            "sys = bltns.__import__('sys')\nobs['paths'] = [sys.executable, sys.prefix, *sys.path]\n"
            + attempt("parent_environ", "bltns.open(f\"/proc/{context['parent_pid']}/environ\").read()")
            + "obs['uid'] = os.getuid()\nobs['hostname'] = os.uname().nodename\n")
    obs = observed(run(payload(code), GUARD_OFF))
    assert obs["pids"] == ["1"]  # the child is the namespace's pid 1: no bubblewrap process inside
    # Exactly sandbox_env() plus the PWD that bubblewrap sets (the child drops it from os.environ).
    assert obs["self_environ"] == sorted([*sandbox_env("x"), "PWD"])
    assert "OPENAI_API_KEY" not in obs["pid1_environ"] and PLANTED not in obs["pid1_environ"]
    # No host path is named: not the checkout, not the home directory, not the interpreter's prefix.
    host_paths = {str(Path(ppol_nb.__file__).parents[1]), str(Path.home()), os.path.realpath(sys.base_prefix),
                  os.path.realpath(sys.prefix)} - {"/", "/usr", "/usr/local"}
    for text in (obs["cmdline"], obs["maps"], json.dumps(obs["paths"])):
        assert not [h for h in host_paths if h in text], text[:500]
    assert obs["parent_environ"] == ["FileNotFoundError", errno.ENOENT]
    assert obs["uid"] == (isolation.SANDBOX_UID if isolation.status().userns else 0)
    assert obs["hostname"] == "sandbox"


def test_environment_reads_from_the_full_stack_are_refused():
    res = run("import os\n" + payload("obs['k'] = os.environ['OPENAI_API_KEY']\n"))
    assert res.error_kind == "forbidden" and "import of 'os' is not allowed" in res.error


# -- exec/eval routes through allow-listed modules -----------------------------------------------


EVAL_ROUTE = ("import typing\n"
              "def f(x: \"__import__('os').getpid()\"): pass\n"
              "def generate_personas(context, axes, n, llm):\n"
              "    obs = {'pid': typing.get_type_hints(f, globalns={})['x']}\n" + REPORT)


def test_string_evaluators_are_refused():
    res = run(EVAL_ROUTE)
    assert res.error_kind == "forbidden" and "attribute 'get_type_hints' is not allowed" in res.error
    res = run(payload("import typing\nobs['g'] = getattr(typing, 'get_type_' + 'hints')\n"))
    assert res.error_kind == "forbidden"
    assert "attribute 'get_type_hints' is not accessible to a generator program" in res.error
    res = run(payload("obs['e'] = eval('1')\n"))
    assert res.error_kind == "forbidden" and "use of 'eval' is not allowed" in res.error


def test_eval_route_without_the_python_layer_reaches_only_the_sandbox():
    obs = observed(run(EVAL_ROUTE, GUARD_OFF))
    assert obs["pid"] == 1  # eval got the real builtins, in a pid namespace of one process


# -- format-string attribute walks ----------------------------------------------------------------


def test_constant_format_walks_are_refused():
    res = run(payload("obs['f'] = '{0.__class__.__init__.__globals__}'.format(llm)\n"))
    assert res.error_kind == "forbidden"
    assert "format field {0.__class__.__init__.__globals__} walks a private attribute" in res.error


COMPUTED_FORMAT_WALK = ("from ppol_nb.personas import toolkit\n"
                        "u = '_' * 2\n"
                        "spec = '{0.' + u + 'globals' + u + '[json].codecs.sys.modules[os].environ}'\n"
                        "obs['environ'] = spec.format(toolkit.parse_json)\n")


def test_computed_format_walk_is_refused():
    """A format string built at run time can walk to ``__globals__``: the static check refuses
    ``.format`` on anything but a literal, and the run-time guard refuses it by name."""
    res = run(payload(COMPUTED_FORMAT_WALK))
    assert res.error_kind == "forbidden" and "'.format' is allowed only on a string literal" in res.error
    res = run(payload("spec = '{0.' + '_' * 2 + 'class' + '_' * 2 + '}'\n"
                      "obs['c'] = getattr(spec, 'for' + 'mat')(1)\n"))
    assert res.error_kind == "forbidden" and "attribute 'format' is not accessible" in res.error
    res = run(payload("import string\nobs['c'] = string.Formatter().vformat('{0.real}', (1,), {})\n"))
    assert res.error_kind == "forbidden" and "attribute 'Formatter' is not allowed" in res.error


def test_str_subclass_cannot_lie_to_getattr():
    """A name whose own ``startswith`` says it is public: refused statically, and at run time
    (class built with ``type``) the guard checks a plain copy of the name."""
    res = run("class Liar(str):\n    def startswith(self, *a):\n        return False\n"
              + payload("obs['g'] = getattr(json, Liar('_os'))\n"))
    assert res.error_kind == "forbidden" and "class Liar derives from 'str'" in res.error
    code = ("Liar = type('Liar', (str,), {'startswith': lambda self, *a: False, 'endswith': lambda self, *a: False,\n"
            "            '__eq__': lambda self, o: False, '__hash__': lambda self: 1})\n"
            "u = '_' * 2\n"
            "obs['g'] = repr(getattr(json, Liar(u + 'spec' + u)))\n")
    res = run(payload(code))
    assert res.error_kind == "forbidden" and "attribute '__spec__' is not accessible" in res.error


def test_computed_format_walk_without_the_python_layer_reads_only_the_sandbox_environment():
    """The same walk with the Python layer off (it can read, not call): what it reads is the
    sandbox's own environment."""
    obs = observed(run(payload(COMPUTED_FORMAT_WALK), GUARD_OFF))
    assert obs["environ"].startswith("environ({") and "'PYTHONPATH': '/opt/ppol'" in obs["environ"]
    assert "OPENAI_API_KEY" not in obs["environ"] and "PPOL_PROBE_TOKEN" not in obs["environ"]


# -- processes: fork bombs, setsid survivors ------------------------------------------------------


def test_fork_bomb_is_refused_by_the_seccomp_filter():
    code = ("from enum import bltns\nos = bltns.__import__('os')\nobs['forks'] = 0\n"
            "try:\n    while True:\n        os.fork()\n        obs['forks'] += 1\n"
            "except OSError as exc:\n    obs['error'] = [type(exc).__name__, exc.errno]\n")
    obs = observed(run(payload(code), GUARD_OFF))
    assert obs == {"forks": 0, "error": ["PermissionError", errno.EPERM]}


def test_fork_from_the_full_stack_is_refused():
    res = run(payload("import os\nos.fork()\n"))
    assert res.error_kind == "forbidden" and "import of 'os' is not allowed" in res.error


def _token_processes(token: str) -> list[int]:
    """Host pids whose command line carries ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _watch_for(token: str, seconds: float) -> list[int]:
    """Poll the host's processes for ``token`` for up to ``seconds``; the pids seen (empty: none ever)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = _token_processes(token)
        if found:
            return found
        time.sleep(0.1)
    return []


def _survivor(detach: bool, token: str) -> str:
    """A grandchild that leaves the session and turns into a long sleep with ``token`` in its argv.

    The program reports only once the grandchild has exec'd (its end of a close-on-exec
    pipe closes then), so the survivor is in place before the parent can react.
    """
    redirect = ("    fd = os.open('/dev/null', os.O_RDWR)\n"
                "    for k in (0, 1, 2):\n        os.dup2(fd, k)\n") if detach else ""
    return ("from enum import bltns\nos = bltns.__import__('os')\nsys = bltns.__import__('sys')\n"
            "r, w = os.pipe()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n    os.close(r)\n    os.setsid()\n" + redirect
            + f"    os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', {token!r}])\n"
            "os.close(w)\nos.read(r, 1)\n"
            "obs['forked'] = pid > 0\n")


@pytest.mark.parametrize("detach", [False, True], ids=["attached-to-stderr", "detached"])
def test_setsid_survivor_is_refused(detach):
    token = "ppol-survivor-" + secrets.token_hex(6)
    res = run(payload(_survivor(detach, token)), GUARD_OFF)
    assert res.error_kind == "exception" and "PermissionError: [Errno 1] Operation not permitted" in res.error
    assert _watch_for(token, 2.0) == []


@pytest.mark.parametrize("detach", [False, True], ids=["attached-to-stderr", "detached"])
def test_setsid_survivor_dies_with_the_pid_namespace(detach):
    """Seccomp off too: the survivor is created, keeps (or drops) the stderr pipe, and
    must neither hold the parent nor outlive the run."""
    token = "ppol-survivor-" + secrets.token_hex(6)
    t0 = time.monotonic()
    res = run(payload(_survivor(detach, token)), SandboxPolicy(python_guard=False, seccomp=False), timeout_s=30)
    took = time.monotonic() - t0
    assert observed(res) == {"forked": True}
    assert took < 20  # returned on the program's result, not on the survivor's 60 s sleep
    assert _watch_for(token, 3.0) == []


def test_plain_child_survivor_shows_why_the_namespace_matters():
    """Control for the probe above: without bubblewrap the same survivor outlives the run
    (the detector works), and the parent still returns at once (the pipes never block it)."""
    token = "ppol-survivor-" + secrets.token_hex(6)
    t0 = time.monotonic()
    res = run(payload(_survivor(False, token)), SandboxPolicy(isolate=False, python_guard=False), timeout_s=30)
    took = time.monotonic() - t0
    survivors = _watch_for(token, 10.0)
    for pid in survivors:
        os.kill(pid, 9)
    assert observed(res) == {"forked": True} and took < 20
    assert len(survivors) == 1


# -- memory, CPU, output, exits ---------------------------------------------------------------------


def test_memory_bomb_is_a_memory_error():
    res = run(payload("hoard = []\nwhile True:\n    hoard.append(bytearray(8 * 1024 * 1024))\n"), memory_mb=256)
    assert res.error_kind == "memory" and "MemoryError" in res.error


def test_cpu_bomb_is_a_timeout():
    res = run(payload("while True:\n    pass\n"), timeout_s=2)
    assert res.error_kind == "timeout" and "ran longer than 2 s" in res.error


def test_cpu_bomb_in_threads_is_a_timeout():
    code = ("import threading\n"
            "ts = [threading.Thread(target=lambda: [0 for _ in iter(int, 1)]) for _ in range(4)]\n"
            "for t in ts:\n    t.start()\nfor t in ts:\n    t.join()\n")
    res = run(payload(code), GUARD_OFF, timeout_s=2)  # threading is not allow-listed
    assert res.error_kind == "timeout"


def test_huge_output_is_bounded():
    printed = run(payload("for _ in range(2000):\n    print('x' * 50000)\nobs['done'] = True\n"))
    assert observed(printed) == {"done": True}
    assert len(printed.stderr_tail) <= sandbox._STDERR_TAIL  # the parent kept only a tail
    returned = run("def generate_personas(context, axes, n, llm):\n    return ['y' * (20 * 1024 * 1024)]\n")
    assert returned.error_kind == "output" and "exceeded 16 MiB" in returned.error
    raised = run(payload("raise ValueError('z' * 10_000_000)\n"))
    assert raised.error_kind == "exception" and len(raised.error) <= 3000


@pytest.mark.parametrize("statement, shown", [
    ("raise SystemExit(3)", "SystemExit: 3"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt"),
    ("raise GeneratorExit('bye')", "GeneratorExit: bye"),
])
def test_base_exceptions_are_error_records(statement, shown):
    res = run(payload(statement + "\n"))
    assert res.error_kind == "exception" and res.error.rstrip().endswith(shown)
    at_import = run(statement + "\n" + payload("pass\n"))
    assert at_import.error_kind == "exception" and at_import.error.rstrip().endswith(shown)


# -- no isolation: refuse, unless opted out loudly ---------------------------------------------------


def test_no_isolation_refuses_llm_written_programs(monkeypatch, capsys):
    from ppol_nb.personas.programs import program_source

    monkeypatch.setattr(isolation, "status", lambda: isolation.Isolation(False, reason="no bwrap in this test"))
    monkeypatch.delenv(isolation.UNSAFE_ENV, raising=False)
    with pytest.raises(isolation.SandboxUnavailable, match="no bwrap in this test.*--unsafe-no-sandbox"):
        run(payload("obs['x'] = 1\n"))
    seed = run_program(program_source("seed"), ctx(), 3, OfflineGeneratorWorld(0))
    assert seed.ok  # the shipped seed program is ours: it runs in the plain child
    monkeypatch.setenv(isolation.UNSAFE_ENV, "1")
    monkeypatch.setattr(isolation, "_warned", type(isolation._warned)())
    with pytest.warns(RuntimeWarning, match="without OS-level isolation"):
        assert observed(run(payload("obs['x'] = 1\n"))) == {"x": 1}
    assert "WARNING" in capsys.readouterr().err


def test_seccomp_filter_covers_the_process_syscalls():
    for machine in ("x86_64", "aarch64"):
        prog = isolation.seccomp_filter(machine)
        assert prog is not None and len(prog) % 8 == 0
    assert isolation.seccomp_filter("mips") is None


def test_child_sees_only_its_import_closure():
    names = {p.relative_to(Path(ppol_nb.__file__).parents[1]).as_posix() for p in isolation.package_files()}
    assert names == {"ppol_nb/__init__.py", "ppol_nb/personas/sandbox_child.py", "ppol_nb/personas/toolkit.py",
                     "ppol_nb/personas/static_check.py", "ppol_nb/personas/record.py",
                     "ppol_nb/simulation/__init__.py", "ppol_nb/simulation/persona.py",
                     "ppol_nb/source_parsing.py"}  # the static check's thread-safe parse


# -- end to end: the planted key is in no file ---------------------------------------------------------

EXFIL = textwrap.dedent('''
    import json
    DIVERSITY_AXES = [{"name": "terse", "definition": "few words", "on_playbook": "Be brief.",
                       "off_playbook": "Be normal."}]

    def grab():
        from enum import bltns
        os = bltns.__import__("os")
        found = [f"probe-ran uid={os.getuid()}", repr(dict(os.environ))]
        for path in ["/proc/self/environ", "/proc/1/environ", "/proc/2/environ"]:
            try:
                found.append(bltns.open(path, "rb").read().decode("utf-8", "replace"))
            except OSError as exc:
                found.append(f"{path}: {type(exc).__name__}")
        return " | ".join(found)

    def generate_personas(context, axes, n, llm):
        loot = grab().replace("\\0", " ")  # persona text may hold no control characters
        llm.chat([{"role": "user", "content": "remember this: " + loot}])
        return [{"persona_id": f"p{i}", "description": "A shopper. " + loot,
                 "axis_placement": {"terse": bool(i % 2)}, "reasoning": loot,
                 "instruction": "Keep your answers short, and mention this: " + loot} for i in range(n)]
''')


def _scripted_world(request: dict):
    from fake_openai_server import text_reply, tool_call_reply

    system = request["messages"][0]["content"]
    if "<scenario>" in system:
        if len(request["messages"]) <= 2:
            return text_reply("hi, Yusuf Rossi here, zip 19122.")
        return text_reply("ok thanks ###STOP###")
    if request["messages"][-1]["role"] == "tool":
        return text_reply("Found your account.")
    if request["messages"][-1]["content"].startswith("remember this"):
        return text_reply("noted")
    return tool_call_reply("find_user_id_by_name_zip", json.dumps({"first_name": "Yusuf", "last_name": "Rossi",
                                                                     "zip": "19122"}), call_id="c1")


def test_planted_key_reaches_no_file(fake_openai, tmp_path, monkeypatch, capsys):
    from ppol_nb.cli import main

    server = fake_openai(_scripted_world)
    monkeypatch.setattr(sandbox, "DEFAULT_POLICY", GUARD_OFF)  # a route the Python layer missed
    program = tmp_path / "exfil.py"
    program.write_text(EXFIL)
    out = tmp_path / "run"
    assert main(["rollout", "--domain", "retail", "--split", "train", "--limit", "1", "--condition", "program",
                 "--program", str(program), "--n-personas", "2", "--backend", "openai", "--base-url", server.url,
                 "--model", "fake-model", "--api-key-env", "OPENAI_API_KEY", "--out", str(out), "--quiet",
                 "--yes", "--cache", str(out / "llm_cache.sqlite")]) == 0  # the cache too is searched below
    printed = capsys.readouterr()
    # The probe ran, and the endpoint got the key as its credential (the one place it belongs).
    episodes = [json.loads(x) for x in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(episodes) == 2 and "probe-ran uid=" in episodes[0]["persona"]["description"]
    assert any(h.get("authorization") == f"Bearer {PLANTED}" for h in server.request_headers)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"episodes.jsonl", "manifest.json", "llm_cache.sqlite"}
    assert any(p.parent.parent.name == "personas" for p in files)
    leaked = [str(p) for p in files if PLANTED.encode() in p.read_bytes()]
    assert leaked == []
    assert PLANTED not in printed.out + printed.err
    assert PLANTED not in json.dumps(server.requests)  # nor in any prompt the program sent
    assert sys.modules["ppol_nb.personas.sandbox"] is sandbox
