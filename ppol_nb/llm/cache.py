"""Persistent response cache: one SQLite file per user, keyed by a hash of the full request.

Re-running an experiment replays every reply without a single request, which
makes LLM runs reproducible and cheap to redo — whatever the run's output
directory, because by default every run, command and notebook of a user shares
one file (:func:`default_cache_path`):

* ``$PPOL_CACHE_DIR/llm_responses.sqlite`` when ``PPOL_CACHE_DIR`` is set, else
* ``platformdirs.user_cache_dir("ppol_nb")/llm_responses.sqlite`` (on Linux
  ``$XDG_CACHE_HOME/ppol_nb/…``, default ``~/.cache/ppol_nb/llm_responses.sqlite``).

An explicit path (``LLMConfig(cache_path=...)``, ``ppol-nb ... --cache PATH``)
wins; ``cache_path=False`` / ``--no-cache`` disables caching
(:func:`resolve_cache_path`). The file may be deleted at any time: it only
costs the requests again.

**Key.** Everything that can change a reply — the effective endpoint URL (with
any credentials embedded in it removed), model, messages, tools, tool choice,
sampling settings including seed, extra body fields — and nothing secret: API
keys are never part of a request dict, so they reach neither the key nor the
file.

**Sampled replies are cached too.** A request with ``temperature > 0`` is
stored and replayed like any other, because a researcher re-running a notebook
expects the same dialogues back. The seed is part of the key: to draw a fresh
sample, change the seed (or run with ``--no-cache``). Identical requests get
one reply: the **first stored reply wins** (:meth:`ResponseCache.put` returns
it), so concurrent runs that race on a key, and any later replay, all see the
same answer.

**Concurrent writers.** Several processes (two notebooks, parallel CLI runs)
and the threads of one run may share the file: SQLite in WAL mode with a 60 s
busy timeout, one connection per :class:`ResponseCache` guarded by a lock, and
``INSERT OR IGNORE`` so racing writers never fail or overwrite each other.
WAL needs a local file system: on a network home directory point
``PPOL_CACHE_DIR`` at a local disk.

The cache heals itself rather than failing runs:

* every entry carries a sha256 of its key and reply; an entry that is unreadable
  or fails its checksum (or that its reader rejects, :meth:`ResponseCache.discard`)
  is a **miss** — deleted, re-asked and replaced by the caller — and is reported
  once per cache, naming the file;
* on open, SQLite's ``quick_check`` runs; a file that is not a database or fails
  the check (a truncated copy, a torn write) is **moved aside** to
  ``<name>.corrupt-<time>`` with a message, and a fresh cache takes its place.
  The same happens if the database breaks while in use.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import sys
import threading
import time
from pathlib import Path

CACHE_DIR_ENV = "PPOL_CACHE_DIR"
CACHE_FILENAME = "llm_responses.sqlite"


def default_cache_path() -> Path:
    """The per-user cache file: ``$PPOL_CACHE_DIR/llm_responses.sqlite``, else the user cache directory's."""
    folder = os.environ.get(CACHE_DIR_ENV)
    if not folder:
        import platformdirs  # lazy: only a run that caches needs it

        folder = platformdirs.user_cache_dir("ppol_nb", appauthor=False)
    return Path(folder).expanduser() / CACHE_FILENAME


def resolve_cache_path(cache_path) -> Path | None:
    """The file a ``cache_path`` setting means; None when caching is disabled.

    ``None`` is the per-user default (:func:`default_cache_path`, read now, so
    ``PPOL_CACHE_DIR`` counts when a client opens), ``False`` disables caching,
    a str or path names the file. Anything else is a :class:`ValueError`.
    """
    if cache_path is None:
        return default_cache_path().absolute()
    if cache_path is False:
        return None
    if isinstance(cache_path, bool) or not isinstance(cache_path, (str, os.PathLike)) or not str(cache_path):
        raise ValueError(f"cache_path must be a file path, None (the per-user cache) or False (no cache), "
                         f"got {cache_path!r}")
    path = Path(cache_path).expanduser().absolute()  # absolute, so manifests name the file unambiguously
    if path.is_dir():
        raise ValueError(f"cache_path {path} is a directory: name the SQLite file, e.g. {path / CACHE_FILENAME}")
    return path


def request_key(request: dict) -> str:
    """sha256 of the canonical JSON of ``request`` (sorted keys, no whitespace)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def entry_checksum(key: str, data: str) -> str:
    """The checksum stored with an entry: binds the reply text to its key."""
    return hashlib.sha256(f"{key}\0{data}".encode()).hexdigest()


_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
BUSY_TIMEOUT_S = 60.0  # how long a writer waits for the others before its request fails


def _is_corruption(exc: Exception) -> bool:
    """Damage to the file, as opposed to a busy or locked database (which is only waited for)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc).lower()
    return any(s in text for s in ("malformed", "not a database", "integrity check failed", "corrupt"))


def _is_busy(exc: Exception) -> bool:
    """Another connection holds the lock (waited for, never healed)."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def is_reply(value) -> bool:
    """Whether a cached value has the shape of a normalized chat reply."""
    usage = value.get("usage") if isinstance(value, dict) else None
    return (isinstance(value, dict) and isinstance(value.get("message"), dict) and isinstance(usage, dict)
            and isinstance(usage.get("prompt_tokens"), int) and isinstance(usage.get("completion_tokens"), int)
            and "finish_reason" in value)


class ResponseCache:
    """Key -> JSON reply store in SQLite (WAL), safe across threads and processes.

    One connection guarded by a lock serves all threads that share this object
    (lookups are microseconds next to a model call); WAL plus a busy timeout
    lets several connections and processes share the file, and
    ``INSERT OR IGNORE`` keeps the first reply stored for a key.
    ``problems`` lists what was healed.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.problems: list[str] = []
        self._reported_entries = False
        with self._lock:
            self._conn = self._open()

    # -- opening and recovery ----------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # Switching a fresh file to WAL while another process opens it fails with "database is locked"
        # at once (SQLite skips its busy handler there to avoid a deadlock): wait and try again.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                return self._connect_once()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.01, 0.1))

    def _connect_once(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {verdict}")
            conn.execute("CREATE TABLE IF NOT EXISTS responses ("
                         " key TEXT PRIMARY KEY, model TEXT, reply TEXT NOT NULL, created REAL NOT NULL,"
                         " checksum TEXT)")
            columns = {row[1] for row in conn.execute("PRAGMA table_info(responses)")}
            if "checksum" not in columns:  # a cache written before checksums: its entries are checked by shape
                try:
                    conn.execute("ALTER TABLE responses ADD COLUMN checksum TEXT")
                except sqlite3.OperationalError as exc:  # another process upgraded it first
                    if "duplicate column" not in str(exc).lower():
                        raise
            conn.commit()
        except BaseException:
            conn.close()
            raise
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise
            self._move_aside(exc)
            return self._connect()

    def _move_aside(self, exc: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
        self._report(f"response cache {self.path} is damaged ({exc}); moved it aside to {aside} "
                     "and started a fresh cache (replies will be asked again)")

    def _recover(self, exc: Exception) -> None:
        """The database broke while in use: move it aside and continue with a fresh one."""
        try:
            self._conn.close()
        except sqlite3.Error:
            pass
        self._move_aside(exc)
        self._conn = self._connect()

    def _report(self, message: str) -> None:
        self.problems.append(message)
        print(f"ppol_nb: {message}", file=sys.stderr)

    def discard(self, key: str, why: str) -> None:
        """Drop an entry its reader found unusable (reported once per cache, like a corrupt one)."""
        with self._lock:
            self._bad_entry(key, why)

    def _bad_entry(self, key: str, why: str) -> None:
        self._conn.execute("DELETE FROM responses WHERE key = ?", (key,))
        self._conn.commit()
        self.problems.append(f"{self.path}: entry {key[:12]}: {why}")
        if not self._reported_entries:  # once per cache: one bad row must not flood the log
            self._reported_entries = True
            self._report(f"response cache {self.path}: a corrupt entry ({why}) was dropped and will be asked "
                         "again; further corrupt entries in this file are healed silently (see .problems)")

    # -- the store ---------------------------------------------------------------

    def get(self, key: str) -> dict | None:
        with self._lock:
            try:
                row = self._conn.execute("SELECT reply, checksum FROM responses WHERE key = ?", (key,)).fetchone()
                if row is None:
                    return None
                data, checksum = row
                if not isinstance(data, str):
                    self._bad_entry(key, "reply is not text")
                    return None
                if checksum is not None and checksum != entry_checksum(key, data):
                    self._bad_entry(key, "checksum mismatch")
                    return None
                try:
                    value = json.loads(data)
                except ValueError as exc:
                    self._bad_entry(key, f"reply is not JSON ({exc})")
                    return None
                return value
            except sqlite3.DatabaseError as exc:
                if not _is_corruption(exc):
                    raise
                self._recover(exc)
                return None

    def put(self, key: str, model: str, reply: dict) -> dict:
        """Store ``reply`` unless ``key`` already has a sound entry; return the entry that stays.

        The first writer wins: a process or thread that raced on the same
        request gets the stored reply back, so it answers as every replay will.
        """
        data = json.dumps(reply, ensure_ascii=False)
        row = (key, model, data, time.time(), entry_checksum(key, data))
        with self._lock:
            for attempt in (0, 1):
                try:
                    inserted = self._conn.execute(
                        "INSERT OR IGNORE INTO responses (key, model, reply, created, checksum) "
                        "VALUES (?, ?, ?, ?, ?)", row).rowcount
                    self._conn.commit()
                    if inserted:
                        return reply
                    kept = self._conn.execute("SELECT reply, checksum FROM responses WHERE key = ?",
                                              (key,)).fetchone()
                    stored = self._sound(key, kept)
                    if stored is not None:
                        return stored
                    # The entry there is damaged (or was just deleted): ours replaces it.
                    self._conn.execute(
                        "INSERT OR REPLACE INTO responses (key, model, reply, created, checksum) "
                        "VALUES (?, ?, ?, ?, ?)", row)
                    self._conn.commit()
                    return reply
                except sqlite3.DatabaseError as exc:
                    if attempt or not _is_corruption(exc):
                        raise
                    self._recover(exc)
        raise AssertionError("unreachable")

    @staticmethod
    def _sound(key: str, row) -> dict | None:
        """The JSON value of a stored ``(reply, checksum)`` row, None if missing or damaged."""
        if row is None or not isinstance(row[0], str):
            return None
        data, checksum = row
        if checksum is not None and checksum != entry_checksum(key, data):
            return None
        try:
            return json.loads(data)
        except ValueError:
            return None

    def merge_from(self, other: str | Path) -> dict[str, int]:
        """Copy the sound entries of another cache file into this one; entries here win.

        For caches written on different machines (the workers of a multi-node run,
        see docs/scale.md). The other file is opened read-only and left as it is; an
        entry whose checksum or JSON fails is skipped, never copied. Returns counts:
        ``added``, ``present`` (the key was here already: this file's reply stays, as
        for racing writers), ``damaged``.
        """
        other = Path(other)
        if not other.is_file():
            raise FileNotFoundError(f"no response cache at {other}")
        if other.resolve() == self.path.resolve():
            raise ValueError(f"cannot merge {other} into itself")
        source = sqlite3.connect(f"file:{other}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        counts = {"added": 0, "present": 0, "damaged": 0}
        try:
            rows = source.execute("SELECT key, model, reply, created, checksum FROM responses")
            with self._lock:
                for key, model, data, created, checksum in rows:
                    if self._sound(key, (data, checksum)) is None:
                        counts["damaged"] += 1
                        continue
                    checksum = checksum or entry_checksum(key, data)  # an entry from before checksums
                    inserted = self._conn.execute(
                        "INSERT OR IGNORE INTO responses (key, model, reply, created, checksum) VALUES (?, ?, ?, ?, ?)",
                        (key, model, data, created, checksum)).rowcount
                    counts["added" if inserted else "present"] += 1
                self._conn.commit()
        finally:
            source.close()
        return counts

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
