"""Persistent response cache: one SQLite file, keyed by a hash of the full request.

Re-running an experiment against the same cache file replays every reply
without a single request, which makes LLM runs reproducible and cheap to redo.
The key covers everything that can change a reply (endpoint, model, messages,
tools, sampling settings including seed) and nothing secret: API keys are never
part of a request dict and so never reach the file.

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
import sqlite3
import sys
import threading
import time
from pathlib import Path


def request_key(request: dict) -> str:
    """sha256 of the canonical JSON of ``request`` (sorted keys, no whitespace)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def entry_checksum(key: str, data: str) -> str:
    """The checksum stored with an entry: binds the reply text to its key."""
    return hashlib.sha256(f"{key}\0{data}".encode()).hexdigest()


_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


def _is_corruption(exc: Exception) -> bool:
    """Damage to the file, as opposed to a busy or locked database (which is only waited for)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc).lower()
    return any(s in text for s in ("malformed", "not a database", "integrity check failed", "corrupt"))


def is_reply(value) -> bool:
    """Whether a cached value has the shape of a normalized chat reply."""
    usage = value.get("usage") if isinstance(value, dict) else None
    return (isinstance(value, dict) and isinstance(value.get("message"), dict) and isinstance(usage, dict)
            and isinstance(usage.get("prompt_tokens"), int) and isinstance(usage.get("completion_tokens"), int)
            and "finish_reason" in value)


class ResponseCache:
    """Key -> JSON reply store in SQLite (WAL), safe across threads and processes.

    One connection guarded by a lock serves all threads of a process (lookups
    are microseconds next to a model call); WAL plus a busy timeout lets several
    processes share the file. ``problems`` lists what was healed.
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
        conn = sqlite3.connect(str(self.path), timeout=60.0, check_same_thread=False)
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
                conn.execute("ALTER TABLE responses ADD COLUMN checksum TEXT")
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

    def put(self, key: str, model: str, reply: dict) -> None:
        data = json.dumps(reply, ensure_ascii=False)
        with self._lock:
            for attempt in (0, 1):
                try:
                    # Last writer wins: two processes racing on one key store equivalent replies.
                    self._conn.execute(
                        "INSERT OR REPLACE INTO responses (key, model, reply, created, checksum) "
                        "VALUES (?, ?, ?, ?, ?)", (key, model, data, time.time(), entry_checksum(key, data)))
                    self._conn.commit()
                    return
                except sqlite3.DatabaseError as exc:
                    if attempt or not _is_corruption(exc):
                        raise
                    self._recover(exc)

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
