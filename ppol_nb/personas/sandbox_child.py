"""The sandbox child: runs one generator program in this (fresh) interpreter.

Started by :func:`ppol_nb.personas.sandbox.run_program` in a fresh interpreter
(``python -s -P``, a stripped environment, a bootstrap that skips the
``ppol_nb.personas`` package ``__init__``; ``python -m`` on this module works too).
It talks to the parent in JSON lines over private duplicates of stdin/stdout:

* parent -> child, first line: ``{"source", "context", "n", "seed", "memory_mb", "cpu_s"}``;
* child -> parent: ``{"type": "hello", ...}``, then any number of
  ``{"type": "llm", "id", "messages", "temperature", "max_tokens"}``;
* parent -> child: ``{"type": "reply", "id", "content"}`` or ``{"type": "reply", "id", "error"}``;
* child -> parent, last: ``{"type": "result", "personas", "axes"}`` or
  ``{"type": "error", "kind", "message"}``.

File descriptors 0 and 1 are pointed away from the protocol (stdin at
/dev/null, stdout at stderr) before the program runs, so a ``print`` in a
program cannot corrupt the channel. Resource limits are applied before the
program is even compiled.

The run-time guard (with ``"python_guard": true`` in the first line, always in
real use) gives the program builtins without file/exec access, an import hook
limited to the allow-list, attribute functions that refuse private names, and
*views* of the modules it imports: copies of their public members minus
modules outside the allow-list (``enum.bltns``, ``json.codecs``) and known
evaluators of strings (``typing.get_type_hints``). Python cannot be sandboxed
from inside, so this is a friendly rail; the OS sandbox around this process
(:mod:`.isolation`) is the boundary.
"""

from __future__ import annotations

import builtins
import json
import linecache
import os
import random
import resource
import sys
import threading
import traceback
import types

PROGRAM_FILENAME = "<generator>"
PROGRAM_MODULE = "ppol_generator"
# Modules whose presence in a child means the start-up got heavy (see tests).
HEAVY_MODULES = ("tau2", "litellm", "numpy", "pandas", "openai", "sklearn")
_REMOVED_BUILTINS = ("open", "exec", "eval", "compile", "input", "breakpoint", "help", "exit", "quit",
                     "globals", "locals", "vars", "memoryview")
_MAX_PROCESSES = 256  # threads count too; only honoured for non-root users (the seccomp filter covers root)
_MAX_OPEN_FILES = 256


class SandboxViolation(Exception):
    """A program tried an import or attribute the run-time guard forbids."""


class Channel:
    """JSON lines to and from the parent, with request ids for concurrent LLM calls."""

    def __init__(self, inp, out) -> None:
        self._in, self._out = inp, out
        self._write_lock = threading.Lock()
        self._pending: dict[int, dict] = {}
        self._pending_lock = threading.Lock()
        self._next_id = 0
        self._closed = False

    def send(self, message: dict) -> None:
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
        with self._write_lock:
            self._out.write(data)
            self._out.flush()

    def read_init(self) -> dict:
        return json.loads(self._in.readline())

    def start_reader(self) -> None:
        threading.Thread(target=self._read_replies, name="sandbox-replies", daemon=True).start()

    def _read_replies(self) -> None:
        for line in self._in:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self._pending_lock:
                slot = self._pending.pop(msg.get("id"), None)
            if slot is not None:
                slot["reply"] = msg
                slot["event"].set()
        # The parent closed the pipe: nobody will answer the calls still waiting.
        with self._pending_lock:
            self._closed = True
            waiting, self._pending = list(self._pending.values()), {}
        for slot in waiting:
            slot["reply"] = {"error": "the parent closed the LLM channel"}
            slot["event"].set()

    def request(self, payload: dict) -> dict:
        slot = {"event": threading.Event(), "reply": None}
        with self._pending_lock:
            if self._closed:
                return {"error": "the parent closed the LLM channel"}
            self._next_id += 1
            call_id = self._next_id
            self._pending[call_id] = slot
        self.send({"type": "llm", "id": call_id, **payload})
        slot["event"].wait()  # the parent enforces the time limit, not the child
        return slot["reply"]


class LLMProxy:
    """The ``llm`` handle a program receives: each call is answered by the parent."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def chat(self, messages, temperature=None, max_tokens=None) -> str:
        from ppol_nb.personas.toolkit import LLMCallError

        if not isinstance(messages, list) or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
            raise LLMCallError("messages must be a list of {'role', 'content': str} dicts")
        try:
            payload = json.loads(json.dumps({"messages": messages, "temperature": temperature,
                                             "max_tokens": max_tokens}))
        except (TypeError, ValueError) as exc:
            raise LLMCallError(f"LLM call arguments are not JSON-serialisable: {exc}") from None
        reply = self._channel.request(payload)
        if reply.get("error"):
            raise LLMCallError(str(reply["error"]))
        return str(reply.get("content") or "")

    def __repr__(self) -> str:
        return "<sandboxed LLM handle>"


def apply_limits(memory_mb: int, cpu_s: int) -> None:
    """rlimits for this process: address space, CPU seconds, no file growth."""
    mem = int(memory_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    # Soft limit -> SIGXCPU, hard limit one second later -> SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_s), int(cpu_s) + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for limit, value in ((resource.RLIMIT_NPROC, _MAX_PROCESSES), (resource.RLIMIT_NOFILE, _MAX_OPEN_FILES)):
        _, hard = resource.getrlimit(limit)
        if hard == resource.RLIM_INFINITY or hard > value:
            resource.setrlimit(limit, (value, value))


def module_view(module: types.ModuleType, _memo: dict | None = None) -> types.ModuleType:
    """A copy of ``module`` holding only what a program may reach through it.

    Public members, minus :data:`~.static_check.FORBIDDEN_MEMBERS`, minus modules
    outside the allow-list; allow-listed submodules become views in turn.
    """
    from ppol_nb.personas.static_check import FORBIDDEN_MEMBERS, attr_allowed, module_allowed

    memo = {} if _memo is None else _memo
    if id(module) in memo:
        return memo[id(module)]
    view = types.ModuleType(module.__name__, module.__doc__)
    memo[id(module)] = view
    hidden = FORBIDDEN_MEMBERS.get(module.__name__, ())
    for name, value in list(vars(module).items()):
        if not attr_allowed(name) or name in hidden:
            continue
        if isinstance(value, types.ModuleType):
            if module_allowed(value.__name__):
                view.__dict__[name] = module_view(value, memo)
            continue
        view.__dict__[name] = value
    return view


def _toolkit_package(name: str, fromlist) -> types.ModuleType:
    """What an import of the toolkit hands the program: its view, inside bare package shells."""
    from ppol_nb.personas import toolkit

    view = module_view(toolkit)
    if name == "ppol_nb.personas.toolkit" and fromlist:
        return view
    personas = types.ModuleType("ppol_nb.personas")
    personas.toolkit = view
    if name == "ppol_nb.personas":
        return personas
    top = types.ModuleType("ppol_nb")  # "import ppol_nb.personas.toolkit as tk" walks from the top
    top.personas = personas
    return top


def _guarded_builtins() -> dict:
    """The program's builtins: no file/exec access, allow-listed imports, no private attributes."""
    from ppol_nb.personas.static_check import FORBIDDEN_MEMBERS, FORMAT_METHODS, attr_allowed, module_allowed

    real_import = builtins.__import__
    safe = dict(builtins.__dict__)
    for name in _REMOVED_BUILTINS:
        safe.pop(name, None)

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        allowed = level == 0 and (
            module_allowed(name) or (name == "ppol_nb.personas" and set(fromlist or ()) <= {"toolkit"}))
        if not allowed:
            raise SandboxViolation(f"import of {name!r} is not allowed in a generator program")
        module = real_import(name, globals, locals, fromlist, level)
        for member in fromlist or ():
            value = getattr(module, member, None)
            if member in FORBIDDEN_MEMBERS.get(module.__name__, ()) or not attr_allowed(member) or (
                    isinstance(value, types.ModuleType) and not module_allowed(value.__name__)):
                raise SandboxViolation(f"'from {name} import {member}' is not allowed in a generator program")
        if name.startswith("ppol_nb"):
            return _toolkit_package(name, fromlist)
        return module_view(module)

    def checked(fn):
        def wrapper(obj, name, *rest):
            if isinstance(name, str):
                name = "".join([name])  # noqa: FLY002 — a plain str copy: a subclass's own startswith/__eq__ cannot lie
                if not attr_allowed(name) or name in FORMAT_METHODS:
                    raise SandboxViolation(f"attribute {name!r} is not accessible to a generator program")
            return fn(obj, name, *rest)
        wrapper.__name__ = fn.__name__
        return wrapper

    safe["__import__"] = guarded_import
    for fn in (getattr, setattr, delattr, hasattr):
        safe[fn.__name__] = checked(fn)
    return safe


def _short_traceback(exc: BaseException) -> str:
    """The exception with the program's own frames (and the toolkit's), most recent last."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename == PROGRAM_FILENAME or f.filename.endswith("toolkit.py")]
    lines = traceback.format_list(frames[-6:])
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-3000:]


def _load_program(source: str, python_guard: bool = True) -> types.ModuleType:
    module = types.ModuleType(PROGRAM_MODULE)
    # Without the guard (escape tests only) the program gets the real builtins.
    module.__dict__["__builtins__"] = _guarded_builtins() if python_guard else builtins
    module.__file__ = PROGRAM_FILENAME
    # Registered so that dataclasses and tracebacks can find the module and its lines.
    sys.modules[PROGRAM_MODULE] = module
    linecache.cache[PROGRAM_FILENAME] = (len(source), None, source.splitlines(True), PROGRAM_FILENAME)
    exec(compile(source, PROGRAM_FILENAME, "exec"), module.__dict__)  # noqa: S102 — this is the sandbox
    return module


def _run(channel: Channel, init: dict) -> dict:
    """Execute the program; the message to send back (result or error)."""
    from ppol_nb.personas import toolkit

    random.seed(init.get("seed", 0))  # a program's own randomness is reproducible per seed
    try:
        module = _load_program(init["source"], python_guard=init.get("python_guard", True) is not False)
    except SyntaxError as exc:
        return {"type": "error", "kind": "syntax", "message": f"SyntaxError: {exc.msg} (line {exc.lineno})"}
    except SandboxViolation as exc:
        return {"type": "error", "kind": "forbidden", "message": f"SandboxViolation: {exc}"}
    except MemoryError:
        return {"type": "error", "kind": "memory", "message": "MemoryError while loading the program"}
    except BaseException as exc:  # noqa: BLE001 — module-level code of an untrusted program, SystemExit too
        return {"type": "error", "kind": "exception", "message": _short_traceback(exc)}

    fn = getattr(module, "generate_personas", None) or getattr(module, "generate_personas_detailed", None)
    axes = getattr(module, "DIVERSITY_AXES", None)
    if not callable(fn):
        return {"type": "error", "kind": "contract", "message": "the program defines no generate_personas(context, axes, n, llm)"}
    if axes is None:
        return {"type": "error", "kind": "contract", "message": "the program defines no DIVERSITY_AXES"}
    try:
        toolkit.validate_axes(axes)
        axes_json = json.loads(json.dumps(axes))
    except toolkit.AxesError as exc:
        return {"type": "error", "kind": "axes", "message": str(exc)}
    except (TypeError, ValueError) as exc:
        return {"type": "error", "kind": "axes", "message": f"DIVERSITY_AXES is not JSON-serialisable: {exc}"}

    context = json.loads(json.dumps(init["context"]))
    try:
        personas = fn(context, json.loads(json.dumps(axes_json)), int(init["n"]), LLMProxy(channel))
    except MemoryError:
        return {"type": "error", "kind": "memory", "message": "MemoryError: the program exceeded its memory limit"}
    except toolkit.PopulationError as exc:
        return {"type": "error", "kind": "population", "message": f"PopulationError: {exc}"}
    except toolkit.LLMCallError as exc:
        return {"type": "error", "kind": "llm", "message": f"LLMCallError: {exc}"}
    except SandboxViolation as exc:
        return {"type": "error", "kind": "forbidden", "message": f"SandboxViolation: {exc}"}
    except BaseException as exc:  # noqa: BLE001 — SystemExit, KeyboardInterrupt too: all become a record
        return {"type": "error", "kind": "exception", "message": _short_traceback(exc)}
    try:
        personas = json.loads(json.dumps(personas))
        json.dumps(personas, ensure_ascii=False).encode("utf-8")  # lone surrogates cannot be sent as UTF-8
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        return {"type": "error", "kind": "output",
                "message": f"the personas are not plain JSON text: {type(exc).__name__}: {str(exc)[:300]}"}
    return {"type": "result", "personas": personas, "axes": axes_json}


def main() -> None:
    # Private copies of the pipes for the protocol; fds 0/1 go elsewhere for the program.
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    channel = Channel(proto_in, proto_out)
    init = channel.read_init()
    apply_limits(init["memory_mb"], init["cpu_s"])
    threading.stack_size(4 * 1024 * 1024)  # threads reserve address space; RLIMIT_AS counts it
    channel.send({"type": "hello", "pid": os.getpid(), "env_keys": sorted(os.environ),
                  "heavy_modules": [m for m in HEAVY_MODULES if m in sys.modules]})
    channel.start_reader()
    try:
        message = _run(channel, init)
    except MemoryError:
        message = {"type": "error", "kind": "memory", "message": "MemoryError in the sandbox child"}
    try:
        channel.send(message)
    except MemoryError:
        channel.send({"type": "error", "kind": "memory", "message": "MemoryError while sending the result"})
    sys.stderr.flush()
    # Leave at once: a program's stray non-daemon threads must not keep the child alive.
    os._exit(0)


if __name__ == "__main__":
    main()
