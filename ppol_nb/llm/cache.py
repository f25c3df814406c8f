"""Persistent response cache: one SQLite file, keyed by a hash of the full request.

Re-running an experiment against the same cache file replays every reply
without a single request, which makes LLM runs reproducible and cheap to redo.
The key covers everything that can change a reply (endpoint, model, messages,
tools, sampling settings including seed) and nothing secret: API keys are never
part of a request dict and so never reach the file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path


def request_key(request: dict) -> str:
    """sha256 of the canonical JSON of ``request`` (sorted keys, no whitespace)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Key -> JSON reply store in SQLite (WAL), safe across threads and processes.

    One connection guarded by a lock serves all threads of a process (lookups
    are microseconds next to a model call); WAL plus a busy timeout lets several
    processes share the file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=60.0, check_same_thread=False)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                " key TEXT PRIMARY KEY, model TEXT, reply TEXT NOT NULL, created REAL NOT NULL)"
            )
            self._conn.commit()

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._conn.execute("SELECT reply FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, model: str, reply: dict) -> None:
        data = json.dumps(reply, ensure_ascii=False)
        with self._lock:
            # Last writer wins: two processes racing on one key store equivalent replies.
            self._conn.execute(
                "INSERT OR REPLACE INTO responses (key, model, reply, created) VALUES (?, ?, ?, ?)",
                (key, model, data, time.time()),
            )
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
