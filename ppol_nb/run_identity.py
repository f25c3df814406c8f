"""What a run directory is, and who may write to it.

A run directory (``evolve --out``, ``rollout --out``, the folder of
``benchmark --out``) holds results that only make sense together: one domain,
one split, one backend and models, one fitness model, one configuration. So:

* :func:`claim_run_dir` takes an exclusive lock on ``DIR/.ppol-run.lock``
  (``fcntl.flock``: released by the kernel when the process ends, even on
  ``kill -9``) *before* anything is written, and refuses a second process while
  the first holds it;
* it then records the run's identity in ``DIR/run_identity.json`` when the
  directory is new, or compares it with the recorded one: a rerun or
  ``--resume`` whose identity differs is refused with a message naming every
  differing field, before anything is written.

Fields that may change between sessions of one run (``--limit``, worker counts,
``max_iterations``, timeouts) are not part of an identity. Within one process a
new claim of a directory replaces the previous one (a notebook re-running its
cell); the lock is between processes.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

IDENTITY_FILE = "run_identity.json"
LOCK_FILE = ".ppol-run.lock"


_HELD: dict[str, RunClaim] = {}
_HELD_LOCK = threading.Lock()


class RunDirError(RuntimeError):
    """The run directory cannot be used: busy, or it belongs to another run."""


@dataclass
class RunClaim:
    """An exclusive hold on a run directory; ``release()`` (or process exit) lets go."""

    run_dir: Path
    identity: dict
    _fd: int | None

    def release(self) -> None:
        with _HELD_LOCK:
            if self._fd is not None:
                os.close(self._fd)  # closing the descriptor drops the flock
                self._fd = None
            if _HELD.get(str(self.run_dir.resolve())) is self:
                del _HELD[str(self.run_dir.resolve())]

    def __enter__(self) -> RunClaim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _canonical(value):
    """JSON-normal form, so that a tuple and a list (or 1 and 1.0) compare as the file would."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: recorded {a!r}, now {b!r}")
    return out


def claim_run_dir(run_dir, identity: dict, command: str) -> RunClaim:
    """Lock ``run_dir`` and check (or record) its identity; raise :class:`RunDirError` if refused."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir} exists and is not a directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    previous = _HELD.get(str(run_dir.resolve()))
    if previous is not None:
        previous.release()  # this process claims its own directory again
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunDirError(f"{run_dir} is in use by another ppol-nb process (lock {run_dir / LOCK_FILE}); "
                          "wait for it to finish or choose another --out") from None
    identity = {"command": command, **_canonical(identity)}
    path = run_dir / IDENTITY_FILE
    try:
        if path.exists():
            try:
                recorded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise RunDirError(f"{path} is unreadable ({exc}); this directory's identity is unknown") from None
            diffs = _differences(recorded, identity)
            if diffs:
                raise RunDirError(f"{run_dir} holds another run; refusing to mix them. Differing fields: "
                                  + "; ".join(diffs) + ". Use another --out.")
        else:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(identity, indent=2, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
    except BaseException:
        os.close(fd)
        raise
    claim = RunClaim(run_dir, identity, fd)
    with _HELD_LOCK:
        _HELD[str(run_dir.resolve())] = claim
    return claim


def file_digest(path) -> str | None:
    """sha256 of a file (or of a directory's files, by relative name), None when absent."""
    import hashlib

    path = Path(path)
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
    elif path.is_dir():
        for p in sorted(q for q in path.rglob("*") if q.is_file()):
            h.update(p.relative_to(path).as_posix().encode() + b"\0" + p.read_bytes())
    else:
        return None
    return h.hexdigest()
