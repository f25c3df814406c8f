"""OS-level isolation of untrusted programs: bubblewrap namespaces and a seccomp filter.

Generator programs are Python an LLM wrote (PPol, arXiv:2605.12894, §3: the
mutation LLM edits the program that G(c, D, N) runs), so they run on the
researcher's machine next to API keys. Python cannot be sandboxed from inside
(:mod:`.static_check` is only a friendly first layer), so every run of such a
program happens in a `bubblewrap <https://github.com/containers/bubblewrap>`_
sandbox built here. Guarantees, when :func:`status` reports ``available``:

* **namespaces** — new user (unprivileged uid 65534, no further user namespaces),
  pid, mount, network, IPC, UTS and (where possible) cgroup namespaces;
* **filesystem** — an empty read-only root holding only read-only binds of the
  interpreter, its standard library (its site-packages hidden), the system
  libraries it links against, and the few ``ppol_nb`` files the child imports
  (the import closure of :mod:`.sandbox_child`); a private, size-capped tmpfs at
  ``/tmp`` is the only writable place; ``/proc`` is the new pid namespace's own
  (no other process is visible); ``/dev`` is bubblewrap's minimal set;
* **no network** — only the namespace's own loopback, which reaches nothing;
* **empty environment** — bubblewrap itself is started with an empty
  environment and the child gets only :func:`~.sandbox.sandbox_env`;
* **no processes** — a seccomp filter (classic BPF, loaded by bubblewrap right
  before the exec) makes ``fork``/``vfork``/non-thread ``clone`` fail with
  EPERM (``clone3`` with ENOSYS, so threads fall back to ``clone``), and refuses
  ``unshare``/``setns``; foreign syscall ABIs kill the process;
* **memory counted** — the same filter refuses what RLIMIT_AS does not count
  (SysV shared memory, semaphores and message queues, POSIX message queues,
  ``memfd_create``, ``userfaultfd``, kernel keyrings) and every way into another
  process (``ptrace``, ``process_vm_readv``/``writev``, ``kcmp``,
  ``pidfd_getfd``). Files cannot hold memory either: RLIMIT_FSIZE is 0, also on
  the scratch tmpfs and ``/dev/shm``. With these refused, RLIMIT_AS bounds
  everything the program can hold (its address space plus at most the 16 MiB
  scratch tmpfs, which FSIZE=0 keeps empty). No cgroup memory limit is set:
  that needs a delegated cgroup v2 subtree, which neither this code nor the
  preflight relies on, so the seccomp filter is required: on an architecture
  without one here (not x86_64 or aarch64) :func:`status` reports no isolation,
  LLM-written programs are refused, and the escape suite fails in CI; So there is no
  fork bomb, no subprocess and no ``setsid`` survivor; RLIMIT_NPROC is kept as a
  second bound where the kernel honours it (non-root users);
* **lifetime** — ``--die-with-parent``, ``--new-session`` and the pid namespace:
  when the child exits or the parent kills bubblewrap, every process inside dies.

Where bubblewrap or namespaces are unavailable (macOS, containers without user
namespaces), LLM-written programs are refused (:class:`SandboxUnavailable`)
unless the user opts out loudly with ``--unsafe-no-sandbox`` or
``PPOL_NB_UNSAFE_NO_SANDBOX=1``; shipped programs (the seed) still run in the
plain child process, which keeps the rlimits and the empty environment.
"""

from __future__ import annotations

import ast
from ..source_parsing import parse as parse_source
import functools
import os
import platform
import shutil
import struct
import subprocess
import sys
import sysconfig
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

UNSAFE_ENV = "PPOL_NB_UNSAFE_NO_SANDBOX"
UNSAFE_FLAG = "--unsafe-no-sandbox"
SANDBOX_PACKAGE_ROOT = "/opt/ppol"  # where the package files appear inside the sandbox
SANDBOX_PYTHON_PREFIX = "/opt/python"  # where an interpreter installed outside /usr appears
SCRATCH = "/tmp"
SCRATCH_BYTES = 16 * 1024 * 1024
SANDBOX_UID = 65534  # "nobody" inside the user namespace

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory that holds ppol_nb/
_ENTRY_MODULES = ("ppol_nb.personas.sandbox_child", "ppol_nb.personas.toolkit", "ppol_nb.personas.static_check")
# ppol_nb.personas is registered as a bare namespace by the child's bootstrap: its __init__ never runs.
_BOOTSTRAPPED_PACKAGES = ("ppol_nb.personas",)


class SandboxUnavailable(RuntimeError):
    """No OS-level isolation here, and the user did not opt out of it."""


# -- opt-out ----------------------------------------------------------------------------

_warned = threading.Event()


def unsafe_opt_out() -> bool:
    """Whether the user asked to run LLM-written programs without OS isolation."""
    return os.environ.get(UNSAFE_ENV, "").strip().lower() in ("1", "true", "yes")


def allow_unsandboxed() -> None:
    """The ``--unsafe-no-sandbox`` switch: opt out for this process (and its children)."""
    os.environ[UNSAFE_ENV] = "1"
    warn_unsafe()


def warn_unsafe() -> None:
    """Print the opt-out warning once per process."""
    if not _warned.is_set():
        _warned.set()
        print(f"WARNING: {UNSAFE_ENV} / {UNSAFE_FLAG}: LLM-written generator programs run WITHOUT OS-level "
              "isolation; a program can read your files and API keys and reach the network.", file=sys.stderr)
        warnings.warn("generator programs run without OS-level isolation", RuntimeWarning, stacklevel=3)


# -- what the child needs to see -----------------------------------------------------------


def _module_file(module: str) -> Path | None:
    rel = Path(*module.split("."))
    for cand in (_PACKAGE_ROOT / rel.with_suffix(".py"), _PACKAGE_ROOT / rel / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports_of(path: Path, module: str) -> set[str]:
    """``ppol_nb`` modules imported anywhere in ``path`` (function-level imports too)."""
    is_pkg = path.name == "__init__.py"
    package = module if is_pkg else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(parse_source(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)  # "from pkg import submodule"
    return {m for m in found if m == "ppol_nb" or m.startswith("ppol_nb.")}


@functools.lru_cache(maxsize=1)
def package_files() -> tuple[Path, ...]:
    """The ``ppol_nb`` source files the sandbox child can import: the import closure of its entry modules."""
    seen: dict[str, Path] = {}
    todo = list(_ENTRY_MODULES)
    while todo:
        module = todo.pop()
        parts = module.split(".")
        # Parent packages run their __init__ on import, except the bootstrapped namespace.
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent not in seen and parent not in _BOOTSTRAPPED_PACKAGES and parent not in todo:
                todo.append(parent)
        if module in seen or module in _BOOTSTRAPPED_PACKAGES:
            continue
        path = _module_file(module)
        if path is None:
            continue  # "from pkg import name" where name is not a module
        seen[module] = path
        todo.extend(m for m in _imports_of(path, module) if m not in seen)
    return tuple(sorted(seen.values()))


def _interpreter() -> Path:
    """The real interpreter binary (a venv's python is a link to, or a copy of, it)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(os.path.realpath(base))


def _relocated_prefix() -> str | None:
    """The interpreter's install prefix when it must be shown under :data:`SANDBOX_PYTHON_PREFIX`.

    An interpreter installed under a home directory or a checkout (pyenv, a
    conda env, a uv-managed Python) would show that host path in the sandbox's
    ``/proc/1/cmdline`` and ``sys.executable``; it is mounted at a neutral path
    instead. A system interpreter (``/usr``, ``/usr/local``) stays where it is.
    """
    prefix = os.path.realpath(sys.base_prefix)
    if prefix in ("/", "/usr", "/usr/local") or not str(_interpreter()).startswith(prefix + os.sep):
        return None
    return prefix


def _inside(path: str) -> str:
    """Where host ``path`` appears in the sandbox."""
    prefix = _relocated_prefix()
    if prefix and (path == prefix or path.startswith(prefix + os.sep)):
        return SANDBOX_PYTHON_PREFIX + path[len(prefix):]
    return path


def _program_interpreter(binary: str) -> str | None:
    """The ELF program interpreter (dynamic loader) named in ``binary``'s PT_INTERP header."""
    try:
        with open(binary, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:  # 64-bit little-endian only
                return None
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            for k in range(phnum):
                f.seek(phoff + k * phentsize)
                ptype, _, offset, _, _, filesz = struct.unpack("<IIQQQQ", f.read(40))
                if ptype == 3:  # PT_INTERP
                    f.seek(offset)
                    return f.read(filesz).rstrip(b"\0").decode()
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    return None


def interpreter_command() -> list[str]:
    """How the sandbox starts the interpreter, as seen from inside.

    A relocated interpreter linked to a shared libpython has the host's library
    path baked in (RUNPATH), so it is started through the dynamic loader with the
    neutral library directory instead.
    """
    inside = _inside(str(_interpreter()))
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    shared = bool(libdir and soname and os.path.isfile(os.path.join(libdir, soname)))
    if _relocated_prefix() and shared:
        loader = _program_interpreter(str(_interpreter()))
        if loader:
            return [loader, "--library-path", _inside(os.path.realpath(libdir)), inside]
    return [inside]


def _python_mounts() -> list[tuple[str, str, str]]:
    """``(kind, source, destination)`` mounts for the interpreter and its standard library."""
    ops: list[tuple[str, str, str]] = []

    def add(kind: str, src: str, dst: str | None = None) -> None:
        op = (kind, src, _inside(dst or src))
        if op not in ops:
            ops.append(op)

    add("ro-bind", str(_interpreter()))
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix, "installed_base": sys.base_prefix,
            "installed_platbase": sys.base_exec_prefix}
    paths = sysconfig.get_paths(vars=base)
    for key in ("stdlib", "platstdlib"):
        if os.path.isdir(paths[key]):
            add("ro-bind", os.path.realpath(paths[key]))
    for key in ("purelib", "platlib"):  # the base interpreter's own site-packages: hidden
        if os.path.isdir(paths[key]):
            add("tmpfs", "", os.path.realpath(paths[key]))
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if libdir and soname and os.path.isfile(os.path.join(libdir, soname)):  # a shared libpython
        link = os.path.join(libdir, soname)
        add("ro-bind", os.path.realpath(link), os.path.join(os.path.realpath(libdir), soname))
        if not _relocated_prefix():
            add("ro-bind", os.path.realpath(link), link)
    return ops


_SYSTEM_LIB_DIRS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32")


def _system_lib_args() -> list[str]:
    """Read-only binds of the system library directories (the dynamic loader, libc, libm, libffi ...)."""
    args: list[str] = []
    for d in _SYSTEM_LIB_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    return args


# -- the seccomp filter ------------------------------------------------------------------

# struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}; offsets into struct seccomp_data.
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16
_ALLOW, _ERRNO, _KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
_EPERM, _ENOSYS = 1, 38
_CLONE_THREAD = 0x00010000
# arch: (AUDIT_ARCH, {syscall: action}, clone nr, first x32-style nr to refuse or None)
# Memory the program could hold outside its address space (RLIMIT_AS counts neither detached SysV
# segments nor message queues), and reaching into other processes: all refused with EPERM.
_MEMORY_AND_TRACE = {
    "x86_64": {"shmget": 29, "shmat": 30, "shmctl": 31, "semget": 64, "semop": 65, "semctl": 66, "msgget": 68,
               "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "ptrace": 101, "mq_open": 240, "mq_timedsend": 242,
               "process_vm_readv": 310, "process_vm_writev": 311, "memfd_create": 319, "memfd_secret": 447,
               "semtimedop": 220, "kcmp": 312, "pidfd_getfd": 438, "userfaultfd": 323, "keyctl": 250,
               "add_key": 248, "request_key": 249},
    "aarch64": {"shmget": 194, "shmat": 196, "shmctl": 195, "semget": 190, "semop": 193, "semctl": 191,
                "msgget": 186, "msgsnd": 189, "msgrcv": 188, "msgctl": 187, "ptrace": 117, "mq_open": 180,
                "mq_timedsend": 182, "process_vm_readv": 270, "process_vm_writev": 271, "memfd_create": 279,
                "memfd_secret": 447, "semtimedop": 192, "kcmp": 272, "pidfd_getfd": 438, "userfaultfd": 282,
                "keyctl": 219, "add_key": 217, "request_key": 218},
}
_ARCHES = {
    "x86_64": (0xC000003E, {"fork": 57, "vfork": 58, "clone3": 435, "unshare": 272, "setns": 308,
                            **_MEMORY_AND_TRACE["x86_64"]}, 56, 0x40000000),
    "aarch64": (0xC00000B7, {"clone3": 435, "unshare": 97, "setns": 268, **_MEMORY_AND_TRACE["aarch64"]}, 220, None),
}


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def seccomp_filter(machine: str | None = None) -> bytes | None:
    """The BPF program refusing process creation, or None on an architecture not listed."""
    spec = _ARCHES.get(machine or platform.machine())
    if spec is None:
        return None
    audit_arch, refused, clone_nr, x32_base = spec
    # Layout: [arch check] [nr load] [x32 check] [one JEQ per refused syscall] [clone JEQ] ALLOW
    #         [clone: load arg0, JSET thread] ALLOW EPERM ENOSYS KILL
    body: list[tuple] = []  # (code, k, jt_label, jf_label) resolved below
    body.append((_LD_W_ABS, _OFF_ARCH, None, None))
    body.append((_JEQ, audit_arch, None, "kill"))
    body.append((_LD_W_ABS, _OFF_NR, None, None))
    if x32_base is not None:
        body.append((_JGE, x32_base, "eperm", None))
    for name, nr in refused.items():
        body.append((_JEQ, nr, "enosys" if name == "clone3" else "eperm", None))
    body.append((_JEQ, clone_nr, "clone", None))
    labels = {}
    body.append((_RET, _ALLOW, None, None))
    labels["clone"] = len(body)
    body.append((_LD_W_ABS, _OFF_ARG0, None, None))
    body.append((_JSET, _CLONE_THREAD, "allow", "eperm"))
    labels["allow"] = len(body)
    body.append((_RET, _ALLOW, None, None))
    labels["eperm"] = len(body)
    body.append((_RET, _ERRNO | _EPERM, None, None))
    labels["enosys"] = len(body)
    body.append((_RET, _ERRNO | _ENOSYS, None, None))
    labels["kill"] = len(body)
    body.append((_RET, _KILL_PROCESS, None, None))
    def rel(label: str | None, at: int) -> int:  # a jump is counted from the next instruction
        return 0 if label is None else labels[label] - at - 1

    return b"".join(_ins(code, k, rel(jt, i), rel(jf, i)) for i, (code, k, jt, jf) in enumerate(body))


# -- the bubblewrap command --------------------------------------------------------------


@dataclass(frozen=True)
class Isolation:
    """What this machine offers: ``available`` with the bwrap path, or the reason it does not.

    ``options`` are the optional bubblewrap switches this bwrap knows (``--disable-userns``
    and ``--size`` arrived in 0.8 and 0.6): older ones get a sandbox without them.
    """

    available: bool
    bwrap: str | None = None
    userns: bool = False
    seccomp: bool = False
    reason: str = ""
    options: frozenset = frozenset({"--disable-userns", "--size"})

    def describe(self) -> str:
        if not self.available:
            return f"no OS-level isolation: {self.reason}"
        return (f"bubblewrap ({self.bwrap}; user namespace {'yes' if self.userns else 'no'}, "
                f"seccomp {'yes' if self.seccomp else 'no'})")


_OPTIONAL = ("--disable-userns", "--size")


def _known_options(bwrap: str) -> frozenset:
    try:
        text = subprocess.run([bwrap, "--help"], env={}, capture_output=True, text=True, timeout=10, check=False)
        text = text.stdout + text.stderr
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(o for o in _OPTIONAL if o in text)


def _namespace_args(userns: bool, options: frozenset) -> list[str]:
    # --as-pid-1: the program's interpreter is pid 1, so no bubblewrap process (whose command line
    # names host paths) is visible inside; seccomp forbids forks, so there is nothing to reap.
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--hostname", "sandbox", "--as-pid-1"]
    if userns:
        args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        if "--disable-userns" in options:
            args += ["--disable-userns"]
    return args


def bwrap_command(bwrap: str, userns: bool, argv: list[str], env: dict[str, str],
                  seccomp_fd: int | None, options: frozenset = frozenset(_OPTIONAL),
                  info_fd: int | None = None) -> list[str]:
    """The full bubblewrap command line that runs ``argv`` (interpreter first) isolated.

    ``info_fd`` receives bubblewrap's JSON info (``child-pid``: the sandbox's pid 1 as
    the host sees it), which lets the parent kill the sandbox synchronously.
    """
    cmd = [bwrap, *_namespace_args(userns, options), "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += _system_lib_args()
    for kind, src, dst in _python_mounts():
        cmd += ["--ro-bind", src, dst] if kind == "ro-bind" else ["--tmpfs", dst]
    for path in package_files():
        rel = path.relative_to(_PACKAGE_ROOT)
        cmd += ["--ro-bind", str(path), f"{SANDBOX_PACKAGE_ROOT}/{rel.as_posix()}"]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    cmd += (["--size", str(SCRATCH_BYTES)] if "--size" in options else []) + ["--tmpfs", SCRATCH]
    cmd += ["--chdir", SCRATCH, "--remount-ro", "/"]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    if info_fd is not None:
        cmd += ["--info-fd", str(info_fd)]
    return [*cmd, "--", *argv]


def interpreter_path() -> str:
    return str(_interpreter())


def seccomp_pipe(data: bytes) -> int:
    """A pipe's read end holding the filter; bubblewrap reads it to EOF."""
    r, w = os.pipe()
    try:
        os.write(w, data)  # a few hundred bytes: far below the pipe buffer
    finally:
        os.close(w)
    return r


def _trial(bwrap: str, userns: bool, seccomp: bytes | None, options: frozenset) -> tuple[bool, str]:
    fd = seccomp_pipe(seccomp) if seccomp is not None else None
    try:
        cmd = bwrap_command(bwrap, userns, [*interpreter_command(), "-S", "-c", "print('sandbox-ok')"],
                            {"LC_ALL": "C.UTF-8"}, fd, options)
        proc = subprocess.run(cmd, env={}, capture_output=True, text=True, timeout=30, check=False,
                              pass_fds=(fd,) if fd is not None else ())
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        if fd is not None:
            os.close(fd)
    if proc.returncode == 0 and proc.stdout.strip() == "sandbox-ok":
        return True, ""
    return False, (proc.stderr or proc.stdout or f"exit status {proc.returncode}").strip()[-500:]


@functools.lru_cache(maxsize=1)
def status() -> Isolation:
    """Probe once per process whether a bubblewrap sandbox can start here."""
    if sys.platform != "linux":
        return Isolation(False, reason=f"bubblewrap needs Linux namespaces; this is {sys.platform}")
    bwrap = shutil.which("bwrap") or ("/usr/bin/bwrap" if os.access("/usr/bin/bwrap", os.X_OK) else None)
    if bwrap is None:
        return Isolation(False, reason="bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install "
                                       "bubblewrap; scripts/setup.sh installs it when run as root)")
    filt = seccomp_filter()
    if filt is None:  # without the filter neither process creation nor IPC memory is bounded
        return Isolation(False, bwrap=bwrap, reason=f"no seccomp filter for the {platform.machine()} architecture "
                                                     "(process creation and shared memory would be unbounded)")
    options = _known_options(bwrap)
    errors = []
    for userns in (True, False):
        ok, err = _trial(bwrap, userns, filt, options)
        if ok:
            return Isolation(True, bwrap=bwrap, userns=userns, seccomp=filt is not None, options=options)
        errors.append(err)
    return Isolation(False, bwrap=bwrap, reason=f"bubblewrap could not create a sandbox here: {errors[-1]}")


def refusal_message(iso: Isolation | None = None) -> str:
    iso = iso or status()
    return (f"refusing to run an LLM-written generator program: {iso.reason}. Install bubblewrap, or pass "
            f"{UNSAFE_FLAG} (or set {UNSAFE_ENV}=1) to run it WITHOUT isolation, next to your files and keys.")


def require_isolation() -> Isolation:
    """Raise :class:`SandboxUnavailable` unless programs can be isolated or the user opted out."""
    iso = status()
    if iso.available:
        return iso
    if unsafe_opt_out():
        warn_unsafe()
        return iso
    raise SandboxUnavailable(refusal_message(iso))
