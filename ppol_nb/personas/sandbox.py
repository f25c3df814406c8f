"""Run an untrusted generator program in an isolated, limited process.

Generator programs are Python source an LLM writes during evolution (PPol,
arXiv:2605.12894, §3), so each run gets its own fresh interpreter
(:mod:`.sandbox_child`) and the parent keeps everything that matters. Layers,
outermost first:

* **OS isolation** — the child runs in a bubblewrap sandbox (:mod:`.isolation`):
  its own user/pid/mount/network/IPC/UTS namespaces, a read-only filesystem that
  holds only the interpreter, its standard library and the few ``ppol_nb`` files
  it imports, a private tmpfs scratch dir, a ``/proc`` that shows only its own
  processes, no network, and a seccomp filter that forbids creating processes.
  Where that is not possible, a program that is not shipped with ppol_nb is
  refused (:class:`~.isolation.SandboxUnavailable`) unless the user opted out
  with ``--unsafe-no-sandbox`` / ``PPOL_NB_UNSAFE_NO_SANDBOX=1``;
* **secrets** — the child's environment is built from scratch
  (:func:`sandbox_env`); no API key, token or proxy variable reaches it, and
  bubblewrap itself starts with an empty environment;
* **the LLM** — the program's ``llm`` handle only sends call requests over a
  pipe; the parent answers them with its ``llm_world`` (a real
  :class:`~ppol_nb.llm.LLMClient`, with its cache, retries and ledger, or the
  offline generator model), under a per-run call budget;
* **resources** — RLIMIT_AS (memory; the seccomp filter refuses the shared-memory and
  IPC calls RLIMIT_AS does not count, see :mod:`.isolation`), RLIMIT_CPU, RLIMIT_FSIZE=0, RLIMIT_NPROC in
  the child, and a wall-clock deadline after which the whole sandbox is killed;
  the parent reads the child's pipes without ever blocking on them (a process
  that keeps a pipe open cannot hold the parent past its deadline);
* **the protocol** — nothing the child sends is believed unchecked. Every line is
  decoded defensively (:func:`decode_message`: strict UTF-8, at most 32 levels of
  nesting checked before parsing, no lone surrogates, known kinds only, 16 MiB per
  line); the first message must be the child's only ``hello`` (sent before the
  program's code is loaded); LLM requests, error reports and the result are checked
  field by field, the result's axes and personas with the very validators the child
  uses (:func:`~.toolkit.validate_axes`, :meth:`~.record.Persona.validate`); the
  child must exit right after its result, and nothing may follow it. Any breach is
  an ``output`` failure of the candidate, recorded at once. What the run records
  about the child's environment is the environment the parent built;
* **friendly checks** — :mod:`.static_check` rejects, with a clear message,
  programs with syntax errors, imports outside the allow-list or known escape
  routes, and the child repeats the import/attribute rules at run time (modules
  are handed to the program as views without their private or non-allow-listed
  members). These are guard rails; the OS layer is the boundary.

The time limit charges the program only for its own time: intervals in which
the parent is busy answering the program's LLM calls are not counted, so a slow
endpoint is never blamed on the program. A busy loop that runs while calls are
pending is still caught by the CPU limit, and ``max_wall_s`` caps everything.

Every failure of a program becomes a :class:`GenerationResult` with ``ok=False``
and an ``error_kind``; :func:`run_program` raises only
:class:`~.isolation.SandboxUnavailable` (the machine, not the program, is at fault).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import select
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import isolation
from .isolation import SandboxUnavailable
from .record import Persona, PersonaError, slug, validate_population
from .static_check import ProgramRejected, check_source

_HEAVY_MODULES = ("tau2", "litellm", "numpy", "pandas", "openai", "sklearn")  # sandbox_child.HEAVY_MODULES

ERROR_KINDS = {
    "syntax": "the source does not parse",
    "size": "the source is longer than the limit",
    "forbidden": "a disallowed import or construct (static check or run-time guard)",
    "contract": "no generate_personas / DIVERSITY_AXES",
    "axes": "DIVERSITY_AXES breaks the axis contract",
    "exception": "the program raised",
    "llm": "an LLM call failed or the call budget was spent",
    "population": "the population call gave fewer valid members than asked for",
    "timeout": "wall-clock or CPU limit exceeded; the sandbox was killed",
    "memory": "the memory limit was exceeded",
    "output": "the program returned the wrong number or shape of personas, or its child broke the protocol "
              "(undecodable, forged or pathological messages)",
    "persona": "a returned persona failed validation (PersonaError)",
    "crash": "the child process died without reporting",
    "sandbox": "the sandbox itself could not run the program",
}

_MAX_LINE = 16 * 1024 * 1024  # one protocol message; a larger one is an abusive child
_STDERR_TAIL = 8000
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory that holds ppol_nb/
_PERSONAS_DIR = str(Path(__file__).resolve().parent)

# The child's entry point. It registers ``ppol_nb.personas`` as a bare namespace
# without running that package's ``__init__`` (which may re-export modules that
# import τ², far too heavy for a per-run interpreter under a memory cap), then
# runs the child. ``ppol_nb/__init__`` itself is cheap by contract.
_BOOTSTRAP = (
    "import os, sys, types\n"
    "os.environ.pop('PWD', None)\n"  # set by bubblewrap; the environment is sandbox_env() exactly
    "import ppol_nb\n"
    "pkg = types.ModuleType('ppol_nb.personas')\n"
    "pkg.__path__ = [sys.argv[1]]\n"
    "pkg.__package__ = 'ppol_nb.personas'\n"
    "sys.modules['ppol_nb.personas'] = ppol_nb.personas = pkg\n"
    "from ppol_nb.personas.sandbox_child import main\n"
    "main()\n"
)


def program_hash(source: str) -> str:
    """sha256 of the program text: the identity of a generator."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def context_hash(context: dict) -> str:
    return hashlib.sha256(json.dumps(context, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass
class GenerationResult:
    """The outcome of one generator run: personas, or a classified error."""

    ok: bool
    personas: list[Persona] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    duration_s: float = 0.0
    llm_calls: int = 0
    program_hash: str = ""
    axes: list[dict] = field(default_factory=list)
    n: int = 0
    seed: int = 0
    cached: bool = False
    stderr_tail: str = ""
    child_env_keys: list[str] = field(default_factory=list)
    child_heavy_modules: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["personas"] = [p.to_dict() for p in self.personas]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> GenerationResult:
        d = dict(d)
        d["personas"] = [Persona.from_dict(p) for p in d.get("personas", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    def __repr__(self) -> str:
        state = f"{len(self.personas)} personas" if self.ok else f"{self.error_kind}: {(self.error or '')[:80]}"
        return f"GenerationResult(ok={self.ok}, {state}, {self.duration_s:.2f}s, {self.llm_calls} LLM calls)"


# -- the protocol, as the parent reads it -----------------------------------------------------

_MAX_DEPTH = 32  # the deepest a well-formed message nests (result -> personas -> persona -> placement)
_MAX_ERROR_CHARS = 3000
_CHILD_KINDS = frozenset({"hello", "llm", "result", "error"})


class ProtocolError(ValueError):
    """A message from the child that the parent cannot believe; the run is an ``output`` failure."""


def _check_tree(value) -> None:
    """Depth and text of a decoded message, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise ProtocolError(f"a message nests deeper than {_MAX_DEPTH} levels")
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ProtocolError("a message holds a lone surrogate (text that is not Unicode)") from None
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def decode_message(line: bytes) -> dict:
    """One protocol line as a dict; anything else becomes ``{"type": "_bad", "why": ...}``.

    Never raises: invalid UTF-8, JSON that is not an object, nesting past
    :data:`_MAX_DEPTH` (checked on the raw bytes before parsing, so the parser
    never recurses deeply), lone surrogates and unknown kinds are all reported.
    """
    try:
        text = line.decode("utf-8")
        msg = _parse_bounded(text)
        _check_tree(msg)
        if not isinstance(msg, dict):
            raise ProtocolError(f"a message is a JSON {type(msg).__name__}, not an object")
        if msg.get("type") not in _CHILD_KINDS:
            raise ProtocolError(f"unknown message kind {str(msg.get('type'))[:40]!r}")
        return msg
    except UnicodeDecodeError:
        return {"type": "_bad", "why": "a message is not valid UTF-8"}
    except ProtocolError as exc:
        return {"type": "_bad", "why": str(exc)}
    except (ValueError, RecursionError, MemoryError) as exc:
        return {"type": "_bad", "why": f"a message is not JSON ({type(exc).__name__})"}
    except Exception as exc:  # noqa: BLE001 — whatever else a line can provoke, it is the child's bad output
        return {"type": "_bad", "why": f"a message could not be read ({type(exc).__name__})"}


def _parse_bounded(text: str):
    """``json.loads`` after refusing nesting deeper than :data:`_MAX_DEPTH` (brackets outside strings)."""
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > _MAX_DEPTH:
            raise ProtocolError(f"a message nests deeper than {_MAX_DEPTH} levels")
    return json.loads(text)


_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: linear time
_BRACKETS = re.compile(r"[\[\]{}]")


def _checked_llm_request(msg: dict) -> dict:
    """An LLM call request with exactly the fields and types the child's proxy sends."""
    call_id, messages = msg.get("id"), msg.get("messages")
    if not isinstance(call_id, int) or isinstance(call_id, bool):
        raise ProtocolError("an LLM request has no integer id")
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and isinstance(m.get("role", "user"), str)
            for m in messages):
        raise ProtocolError("an LLM request's messages are not a list of {'role', 'content': str}")
    temperature, max_tokens = msg.get("temperature"), msg.get("max_tokens")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, (int, float))):
        raise ProtocolError("an LLM request's temperature is not a number")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)):
        raise ProtocolError("an LLM request's max_tokens is not an integer")
    return {"id": call_id, "messages": [{"role": m.get("role", "user"), "content": m["content"]} for m in messages],
            "temperature": temperature, "max_tokens": max_tokens}


def _checked_error(msg: dict) -> dict:
    kind, message = msg.get("kind"), msg.get("message")
    if kind not in ERROR_KINDS or not isinstance(message, str):
        raise ProtocolError(f"an error report has kind {str(kind)[:40]!r} and a {type(message).__name__} message")
    return {"type": "error", "kind": kind, "message": message[:_MAX_ERROR_CHARS]}


# -- environment ------------------------------------------------------------------------


def sandbox_env(tmpdir: str, package_root: str = _PACKAGE_ROOT) -> dict[str, str]:
    """The child's whole environment, built from nothing (no variable is inherited).

    Only what a pure-Python run needs: the package's location, UTF-8, a fixed hash
    seed (set iteration order is part of a program's behaviour), a small malloc
    arena count (so RLIMIT_AS is not eaten by per-thread arenas), and a private
    HOME/TMPDIR.
    """
    return {
        "PYTHONPATH": package_root,
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONUTF8": "1",
        "LC_ALL": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",
        "HOME": tmpdir,
        "TMPDIR": tmpdir,
    }


@dataclass(frozen=True)
class SandboxPolicy:
    """Which layers guard a run. The defaults are the setting for real use.

    ``isolate`` None means: bubblewrap when this machine has it; otherwise shipped
    programs run in the plain child and any other program is refused unless the
    user opted out (:func:`~.isolation.require_isolation`). True demands
    bubblewrap, False runs the plain child. ``python_guard`` False skips the
    static check and the child's run-time guard, and ``seccomp`` False drops the
    process-creation filter: the escape tests use them to show that each
    remaining layer holds on its own.
    """

    isolate: bool | None = None
    python_guard: bool = True
    seccomp: bool = True


DEFAULT_POLICY = SandboxPolicy()


def _is_shipped(source: str) -> bool:
    from .programs import SHIPPED, program_source

    return any(source == program_source(name) for name in SHIPPED)


def _use_bwrap(policy: SandboxPolicy, source: str) -> bool:
    iso = isolation.status()
    if policy.isolate is False:
        return False
    if iso.available:
        return True
    if policy.isolate is True:
        raise SandboxUnavailable(isolation.refusal_message(iso))
    if _is_shipped(source):
        return False  # our own code: the plain child (rlimits, empty environment) is enough
    isolation.require_isolation()  # raises unless the user opted out
    return False


# -- the run's clock ---------------------------------------------------------------------


class _ProgramClock:
    """Wall time minus the time in which at least one LLM call is being answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._in_flight = 0
        self._paused_since: float | None = None
        self._paused_total = 0.0

    def call_started(self) -> None:
        with self._lock:
            if self._in_flight == 0:
                self._paused_since = time.monotonic()
            self._in_flight += 1

    def call_finished(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0 and self._paused_since is not None:
                self._paused_total += time.monotonic() - self._paused_since
                self._paused_since = None

    def charged(self) -> float:
        with self._lock:
            now = time.monotonic()
            paused = self._paused_total + (now - self._paused_since if self._paused_since is not None else 0.0)
            return now - self._start - paused

    def wall(self) -> float:
        return time.monotonic() - self._start


# -- the parent side of one run ----------------------------------------------------------


class _Run:
    """One child process and the parent's half of the protocol.

    The child's three pipes are used only through their raw, non-blocking file
    descriptors: one pump thread reads stdout and stderr with ``select`` and a
    stop flag, and writes to stdin wait for room with a deadline. Nothing here
    ever blocks on a pipe that some process (a child, or a grandchild that
    escaped its group) keeps open, and the pipes are closed only after the pump
    has stopped.
    """

    _WRITE_DEADLINE_S = 30.0

    def __init__(self, llm_world, seed: int, max_llm_calls: int) -> None:
        self.world = llm_world
        self.seed = seed
        self.max_llm_calls = max_llm_calls
        self.llm_calls = 0
        self.clock = _ProgramClock()
        self.messages: queue.Queue = queue.Queue()
        self.stderr_chunks: list[str] = []
        self.proc: subprocess.Popen | None = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._pump: threading.Thread | None = None
        self.info_fd: int | None = None  # bubblewrap's info pipe (read end), when sandboxed
        self._info = b""
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-llm")

    def start(self, argv: list[str], env: dict[str, str], cwd: str, pass_fds: tuple[int, ...], init: dict) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
            env=env, cwd=cwd, start_new_session=True, close_fds=True, pass_fds=pass_fds,
        )
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            os.set_blocking(stream.fileno(), False)
        self._pump = threading.Thread(target=self._read_pipes, daemon=True, name="sandbox-pipes")
        self._pump.start()
        self.send(init)

    def send(self, message: dict) -> None:
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
        with self._write_lock:
            self._write_all(data)

    def _write_all(self, data: bytes) -> None:
        fd = self.proc.stdin.fileno() if self.proc.stdin and not self.proc.stdin.closed else None
        deadline = time.monotonic() + self._WRITE_DEADLINE_S
        view = memoryview(data)
        while fd is not None and view and not self._stop.is_set() and time.monotonic() < deadline:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                select.select([], [fd], [], 0.05)  # wait for room, briefly
            except (BrokenPipeError, OSError, ValueError):
                return  # the child is gone; its exit is reported by the main loop

    def _read_pipes(self) -> None:
        out_fd, err_fd = self.proc.stdout.fileno(), self.proc.stderr.fileno()
        sel = selectors.DefaultSelector()
        sel.register(out_fd, selectors.EVENT_READ, "out")
        sel.register(err_fd, selectors.EVENT_READ, "err")
        buf = bytearray()
        kept = 0
        try:
            self._pump_loop(sel, out_fd, buf, kept)
        except BaseException as exc:  # noqa: BLE001 — the pump must never die silently: report and stop
            self.messages.put({"type": "_garbage", "why": f"the pipe reader failed: {type(exc).__name__}"})
        finally:
            sel.close()

    def _pump_loop(self, sel, out_fd: int, buf: bytearray, kept: int) -> None:
        while sel.get_map() and not self._stop.is_set():
            for key, _ in sel.select(timeout=0.05):
                try:
                    data = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fd)
                    if key.data == "out":
                        self.messages.put({"type": "_eof"})
                    continue
                if key.data == "err":
                    self.stderr_chunks.append(data.decode("utf-8", "replace"))
                    kept += len(data)
                    while kept > 4 * _STDERR_TAIL and len(self.stderr_chunks) > 1:
                        kept -= len(self.stderr_chunks.pop(0))
                    continue
                buf += data
                while True:
                    cut = buf.find(b"\n")
                    if cut < 0:
                        break
                    self._message(bytes(buf[:cut]))
                    del buf[:cut + 1]
                if len(buf) >= _MAX_LINE:
                    self.messages.put({"type": "_oversize"})
                    sel.unregister(out_fd)
                    buf.clear()

    def _message(self, line: bytes) -> None:
        self.messages.put(decode_message(line))

    def stderr_tail(self) -> str:
        return "".join(self.stderr_chunks)[-_STDERR_TAIL:]

    # LLM calls
    def on_llm_request(self, msg: dict) -> None:
        call_id = msg.get("id")
        self.llm_calls += 1
        if self.llm_calls > self.max_llm_calls:
            self.send({"type": "reply", "id": call_id,
                       "error": f"LLM call budget of {self.max_llm_calls} calls for this run is spent"})
            return
        request = {k: msg.get(k) for k in ("messages", "temperature", "max_tokens")}
        self.clock.call_started()
        self._pool.submit(self._answer, call_id, request)

    def _answer(self, call_id, request: dict) -> None:
        try:
            reply = {"type": "reply", "id": call_id, "content": self.world.answer(request, seed=self.seed)}
        except Exception as exc:  # noqa: BLE001 — the program sees the failure as LLMCallError
            reply = {"type": "reply", "id": call_id, "error": f"{type(exc).__name__}: {exc}"[:1000]}
        finally:
            self.clock.call_finished()
        if not self._stop.is_set():
            self.send(reply)

    # teardown
    def wait_exit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the child to exit *without reaping it*.

        An unreaped child keeps its pid, so the process-group kill that follows can
        never hit an unrelated process that happens to reuse the number.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
                    return True
            except ChildProcessError:
                return True
            time.sleep(0.01)
        return False

    def _sandbox_init_pid(self) -> int | None:
        """The host pid of the sandbox's pid 1, from bubblewrap's info pipe (None if not known)."""
        if self.info_fd is None:
            return None
        try:
            while True:
                chunk = os.read(self.info_fd, 4096)
                if not chunk:
                    break
                self._info += chunk
        except (BlockingIOError, OSError):
            pass
        try:
            return int(json.loads(self._info.decode())["child-pid"])
        except (ValueError, KeyError, TypeError):
            return None

    def kill(self) -> None:
        """Kill the child: a sandbox through its pid 1, else the child's process group.

        Killing the sandbox's pid 1 makes the kernel kill and reap every process of its pid
        namespace before pid 1 is gone; bubblewrap exits after that, so once ``wait``
        returns no process of the run is left. (Killing bubblewrap itself would leave that
        teardown to happen some time later.)
        """
        if self.proc is None:
            return
        init_pid = self._sandbox_init_pid() if self.proc.poll() is None else None
        if init_pid is not None:  # bubblewrap is alive, so its child's pid cannot have been reused
            try:
                os.kill(init_pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
                pass
        if self.proc.returncode is None:  # not reaped yet: the pid (and group id) is still ours
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the child leads its own session
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        self.kill()
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._pump is not None:
            self._pump.join(timeout=1.0)  # it polls the stop flag every 50 ms
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr) if self.proc else ():
            try:
                stream.close()  # raw FileIO: no lock to wait for
            except OSError:
                pass
        if self.info_fd is not None:
            os.close(self.info_fd)
            self.info_fd = None


def _child_message(run: _Run, result: GenerationResult, msg: dict, first: bool) -> dict | None:
    """Act on one decoded message of a known kind; the final message, or None to go on."""
    kind = msg["type"]
    if (kind == "hello") != first:
        raise ProtocolError("the child's first message, and only that one, must be its hello")
    if kind == "hello":  # sent before the program's code is loaded
        heavy = msg.get("heavy_modules")
        if not isinstance(heavy, list) or not all(isinstance(m, str) and m in _HEAVY_MODULES for m in heavy):
            raise ProtocolError("the hello's heavy_modules is not a list of known module names")
        result.child_heavy_modules = list(heavy)
        return None
    if kind == "llm":
        run.on_llm_request(_checked_llm_request(msg))
        return None
    if kind == "error":
        return _checked_error(msg)
    return msg  # a result: checked field by field once the child has exited


_AFTER_RESULT_S = 2.0


def _after_result(run: _Run, final: dict) -> dict:
    """The child exits right after its result: anything else it sends first means a forged message."""
    deadline = time.monotonic() + _AFTER_RESULT_S
    while time.monotonic() < deadline:
        try:
            msg = run.messages.get(timeout=0.05)
        except queue.Empty:
            continue
        if msg.get("type") == "_eof":
            return final
        run.kill()
        return {"type": "error", "kind": "output",
                "message": f"protocol violation: a {str(msg.get('type'))[:20]!r} message after the result"}
    run.kill()
    return {"type": "error", "kind": "output",
            "message": f"protocol violation: the child kept running {_AFTER_RESULT_S:g} s after its result"}


def _classify_death(returncode: int | None, stderr: str) -> tuple[str, str]:
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr or "bad_alloc" in stderr:
        return "memory", "the child ran out of memory"
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL):
        # A plain child reports the signal as a negative code; bubblewrap as 128 + signal.
        return "timeout", f"the child was killed by the CPU limit (signal {abs(returncode) % 128})"
    if returncode in (-signal.SIGSYS, 128 + signal.SIGSYS):
        return "forbidden", "the child was killed by the sandbox's system-call filter"
    return "crash", f"the child exited with code {returncode} without reporting"


def _child_command(use_bwrap: bool, policy: SandboxPolicy, tmpdir: str,
                   info_fd: int | None = None) -> tuple[list[str], dict, str, int | None]:
    """``(argv, env for Popen, cwd, seccomp fd)`` of the child process."""
    if not use_bwrap:
        argv = [sys.executable, "-S", "-s", "-P", "-c", _BOOTSTRAP, _PERSONAS_DIR]
        return argv, sandbox_env(tmpdir), tmpdir, None
    iso = isolation.status()
    root = isolation.SANDBOX_PACKAGE_ROOT
    argv = [*isolation.interpreter_command(), "-S", "-s", "-P", "-c", _BOOTSTRAP, f"{root}/ppol_nb/personas"]
    filt = isolation.seccomp_filter() if policy.seccomp and iso.seccomp else None
    fd = isolation.seccomp_pipe(filt) if filt is not None else None
    env = sandbox_env(isolation.SCRATCH, package_root=root)
    # bubblewrap itself gets an empty environment: its own /proc/<pid>/environ shows nothing.
    return isolation.bwrap_command(iso.bwrap, iso.userns, argv, env, fd, iso.options, info_fd), {}, "/", fd


def run_program(source: str, context: dict, n: int, llm_world, seed: int = 0, timeout_s: float = 120,
                memory_mb: int = 1024, max_llm_calls: int | None = None, max_wall_s: float | None = None,
                source_label: str = "program", policy: SandboxPolicy | None = None) -> GenerationResult:
    """Run generator ``source`` for one task context in a sandboxed child process.

    ``timeout_s`` bounds the program's own wall time (time spent answering its LLM
    calls excluded) and its CPU time; ``max_wall_s`` (default ``timeout_s`` + 30 min)
    bounds everything. ``max_llm_calls`` defaults to ``3 n + 10``. Personas get
    ``source = f"{source_label}:{hash[:12]}"``, ids that are stable for the same
    program, context, seed and output. Raises
    :class:`~.isolation.SandboxUnavailable` when the program cannot be isolated
    here (see :class:`SandboxPolicy`).
    """
    policy = policy or DEFAULT_POLICY
    t0 = time.perf_counter()
    phash = program_hash(source) if isinstance(source, str) else ""
    result = GenerationResult(ok=False, program_hash=phash, n=n, seed=seed)

    def finish(kind: str | None = None, message: str | None = None) -> GenerationResult:
        result.duration_s = round(time.perf_counter() - t0, 4)
        if kind:
            result.ok, result.error_kind, result.error, result.personas = False, kind, message, []
        return result

    if policy.python_guard:
        try:
            check_source(source)
        except ProgramRejected as exc:
            return finish(exc.kind, exc.message)
    if not isinstance(n, int) or n < 1:
        return finish("sandbox", f"n must be a positive integer, got {n!r}")
    try:
        context = json.loads(json.dumps(context))
    except (TypeError, ValueError) as exc:
        return finish("sandbox", f"context is not JSON-serialisable: {exc}")
    use_bwrap = _use_bwrap(policy, source)

    max_llm_calls = 3 * n + 10 if max_llm_calls is None else max_llm_calls
    max_wall_s = timeout_s + 1800 if max_wall_s is None else max_wall_s
    cpu_s = max(2, int(timeout_s + 1.5))
    init = {"source": source, "context": context, "n": n, "seed": seed, "memory_mb": memory_mb, "cpu_s": cpu_s,
            "python_guard": policy.python_guard}
    run = _Run(llm_world, seed, max_llm_calls)
    final = None
    n_messages = 0
    with tempfile.TemporaryDirectory(prefix="ppol-sandbox-") as tmpdir:
        seccomp_fd = info_write = None
        try:
            if use_bwrap:
                run.info_fd, info_write = os.pipe()
                os.set_blocking(run.info_fd, False)
            argv, env, cwd, seccomp_fd = _child_command(use_bwrap, policy, tmpdir, info_write)
            # What the run records about the child's environment is what the parent gave it.
            result.child_env_keys = sorted(sandbox_env(tmpdir))
            run.start(argv, env, cwd, tuple(fd for fd in (seccomp_fd, info_write) if fd is not None), init)
        except OSError as exc:
            run.close()
            return finish("sandbox", f"could not start the sandbox child: {exc}")
        finally:
            for fd in (seccomp_fd, info_write):
                if fd is not None:
                    os.close(fd)  # bubblewrap has its own copies
        try:
            while final is None:
                if run.clock.charged() > timeout_s or run.clock.wall() > max_wall_s:
                    run.kill()
                    final = {"type": "error", "kind": "timeout",
                             "message": f"the program ran longer than {timeout_s:g} s; its sandbox was killed"}
                    break
                try:
                    msg = run.messages.get(timeout=0.05)
                except queue.Empty:
                    continue
                kind = msg.get("type")
                if kind in _CHILD_KINDS:
                    try:
                        final = _child_message(run, result, msg, first=n_messages == 0)
                    except ProtocolError as exc:
                        run.kill()
                        final = {"type": "error", "kind": "output", "message": f"protocol violation: {exc}"}
                    n_messages += 1
                elif kind == "_eof":
                    exited = run.wait_exit(timeout=2)
                    run.kill()  # whatever is left of the group; reaps the child
                    time.sleep(0.05)  # let the pump catch the last words on stderr
                    if exited:
                        k, m = _classify_death(run.proc.returncode, run.stderr_tail())
                    else:
                        k, m = "crash", "the child closed its channel without reporting and was killed"
                    final = {"type": "error", "kind": k, "message": m}
                elif kind == "_oversize":
                    run.kill()
                    final = {"type": "error", "kind": "output",
                             "message": f"a message from the program exceeded {_MAX_LINE // 2**20} MiB"}
                elif kind not in _CHILD_KINDS:  # undecodable or pathological: the candidate's output is bad
                    run.kill()
                    final = {"type": "error", "kind": "output",
                             "message": f"protocol violation: {msg.get('why') or 'unreadable message'}"[:300]}
            if final.get("type") == "result":
                final = _after_result(run, final)
        finally:
            run.close()
            result.llm_calls = run.llm_calls
            result.stderr_tail = run.stderr_tail()

    if final.get("type") == "error":
        return finish(final["kind"], final["message"])
    # The parent believes only what it checks: the same validators as the child, before storing anything.
    from .toolkit import AxesError, validate_axes

    try:
        axes = validate_axes(final.get("axes"))
        personas = finalise_personas(final.get("personas"), axes, n, context, seed, phash, source_label)
    except AxesError as exc:
        return finish("axes", f"the result's axes fail the axis contract: {exc}")
    except OutputError as exc:
        return finish("output", str(exc))
    except PersonaError as exc:
        return finish("persona", str(exc))
    except Exception as exc:  # noqa: BLE001 — any other surprise in the child's output is bad output
        return finish("output", f"malformed result from the program: {type(exc).__name__}: {str(exc)[:300]}")
    result.axes, result.personas, result.ok = axes, personas, True
    return finish()


# -- from program output to Persona records -------------------------------------------------


class OutputError(ValueError):
    """The program's return value has the wrong count or shape."""


def _placement(raw, axes: list[dict], index: int) -> dict[str, bool]:
    from .toolkit import as_bool

    if not isinstance(raw, dict):
        raise OutputError(f"persona #{index}: axis_placement must be a dict axis -> bool, got {type(raw).__name__}")
    names = {a["name"] for a in axes}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise PersonaError(f"persona #{index}: unknown axes {unknown}; the program defines {sorted(names)}")
    out = {}
    for name in (a["name"] for a in axes):
        value = as_bool(raw.get(name, False))
        if value is None:
            raise OutputError(f"persona #{index}: placement of {name!r} is {raw[name]!r}, not a boolean")
        out[name] = value
    return out


def finalise_personas(raw, axes: list[dict], n: int, context: dict, seed: int, phash: str,
                      source_label: str = "program") -> list[Persona]:
    """Check count and shape, assign stable ids, validate."""
    if not isinstance(raw, list):
        raise OutputError(f"generate_personas must return a list, got {type(raw).__name__}")
    if len(raw) != n:
        raise OutputError(f"asked for {n} personas, the program returned {len(raw)}")
    ctx = context_hash(context)
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise OutputError(f"persona #{i} is a {type(item).__name__}, not a dict")
        instruction = item.get("instruction", item.get("expanded_instruction"))
        missing = [k for k, v in (("description", item.get("description")), ("instruction", instruction))
                   if not isinstance(v, str)]
        if missing:
            raise PersonaError(f"persona #{i} lacks string fields {missing} (has {sorted(item)})")
        placement = _placement(item.get("axis_placement", {}), axes, i)
        label = slug(str(item.get("persona_id") or f"persona_{i}"))[:32]
        digest = hashlib.sha256(json.dumps([phash, ctx, seed, i, item["description"], instruction],
                                           ensure_ascii=False).encode("utf-8")).hexdigest()[:8]
        out.append(Persona.create(
            description=item["description"].strip(), instruction=instruction.strip(), axis_placement=placement,
            reasoning=str(item.get("reasoning") or "").strip(),
            source=f"{source_label}:{phash[:12]}", persona_id=f"{label}-{digest}", axes=axes,
        ))
    return validate_population(out, n, axes=axes)
