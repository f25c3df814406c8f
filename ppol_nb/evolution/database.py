"""The run database: one SQLite file (WAL) that *is* the checkpoint.

Tables

* ``programs`` — every evaluated candidate (a :class:`ProgramRecord`, dicts as
  JSON), written and committed the moment its evaluation ends, so a crash
  loses at most the evaluations still in flight.
* ``proposals`` — a mutator's output, committed before evaluation starts, so a
  resumed run re-uses a paid-for proposal instead of asking the LLM again.
* ``ledger`` — spend per (iteration, program, role): mutator, evaluator,
  validation.
* ``events`` — run history: session start, round start, migration, new best,
  validation, stop (with the reason), interruption.
* ``meta`` — config, seed, package version, seed-program hash.

The archive is not stored: it is a deterministic function of the programs in
iteration order (see :meth:`EvolutionEngine.load_state`), which keeps the
database the single source of truth.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from .interfaces import ProgramRecord, Proposal

FILENAME = "evolution.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS programs (
    id TEXT PRIMARY KEY,
    iteration INTEGER NOT NULL UNIQUE,
    island INTEGER NOT NULL,
    parent_id TEXT,
    generation INTEGER NOT NULL,
    source TEXT NOT NULL,
    diff TEXT,
    mutation_kind TEXT,
    mutation_angle TEXT,
    mutation_notes TEXT,
    inspiration_ids TEXT NOT NULL,
    metrics TEXT NOT NULL,
    error TEXT,
    artifacts TEXT NOT NULL,
    validation TEXT NOT NULL,
    llm_calls INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    created_at REAL NOT NULL,
    eval_duration_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS proposals (
    iteration INTEGER PRIMARY KEY,
    parent_id TEXT NOT NULL,
    island INTEGER NOT NULL,
    inspiration_ids TEXT NOT NULL,
    proposal TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    iteration INTEGER NOT NULL,
    program_id TEXT,
    role TEXT NOT NULL,
    llm_calls INTEGER NOT NULL,
    cost_usd REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    iteration INTEGER,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_JSON_FIELDS = ("inspiration_ids", "metrics", "artifacts", "validation")
_COLUMNS = (
    "id",
    "iteration",
    "island",
    "parent_id",
    "generation",
    "source",
    "diff",
    "mutation_kind",
    "mutation_angle",
    "mutation_notes",
    "inspiration_ids",
    "metrics",
    "error",
    "artifacts",
    "validation",
    "llm_calls",
    "cost_usd",
    "created_at",
    "eval_duration_s",
)


def _dumps(value: Any) -> str:
    # default=str: artifacts may carry numpy scalars or paths; never fail a write on them.
    return json.dumps(value, sort_keys=True, default=str)


class RunDatabase:
    """Thin, lock-protected wrapper over the run's SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection used from the engine's thread; the lock makes accidental
        # use from another thread (e.g. a notebook widget callback) safe.
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
            self._conn.commit()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------- meta
    def get_meta(self, key: str) -> Any:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, values: dict[str, Any]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, _dumps(v)) for k, v in values.items()],
            )

    # --------------------------------------------------------------- programs
    def add_program(self, record: ProgramRecord, ledger: list[tuple[str, int, float]] = ()) -> None:
        """Write one program and its ledger rows in a single committed transaction."""
        data = record.to_dict()
        row = [(_dumps(data[c]) if c in _JSON_FIELDS else data[c]) for c in _COLUMNS]
        with self._lock, self._conn:
            self._conn.execute(
                f"INSERT INTO programs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                row,
            )
            self._ledger_rows(record.iteration, record.id, ledger)

    def set_validation(self, program_id: str, validation: dict, ledger: list[tuple[str, int, float]] = ()) -> None:
        with self._lock, self._conn:
            iteration = self._conn.execute("SELECT iteration FROM programs WHERE id = ?", (program_id,)).fetchone()[0]
            self._conn.execute("UPDATE programs SET validation = ? WHERE id = ?", (_dumps(validation), program_id))
            self._ledger_rows(iteration, program_id, ledger)

    def programs(self) -> list[ProgramRecord]:
        """All programs, in iteration order."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM programs ORDER BY iteration").fetchall()
        out = []
        for row in rows:
            data = dict(zip(_COLUMNS, row))
            for c in _JSON_FIELDS:
                data[c] = json.loads(data[c])
            out.append(ProgramRecord(**data))
        return out

    def count_programs(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM programs").fetchone()[0]

    # -------------------------------------------------------------- proposals
    def add_proposal(
        self,
        iteration: int,
        parent_id: str,
        island: int,
        inspiration_ids: list[str],
        proposal: Proposal,
    ) -> None:
        """Persist a proposal and charge its mutator cost, atomically."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO proposals VALUES (?, ?, ?, ?, ?, ?)",
                (iteration, parent_id, island, _dumps(inspiration_ids), _dumps(proposal.to_dict()), time.time()),
            )
            self._ledger_rows(iteration, None, [("mutator", proposal.llm_calls, proposal.cost_usd)])

    def proposal(self, iteration: int) -> tuple[str, int, list[str], Proposal] | None:
        """``(parent_id, island, inspiration_ids, proposal)`` stored for an iteration."""
        with self._lock:
            row = self._conn.execute(
                "SELECT parent_id, island, inspiration_ids, proposal FROM proposals WHERE iteration = ?",
                (iteration,),
            ).fetchone()
        if row is None:
            return None
        return row[0], row[1], json.loads(row[2]), Proposal(**json.loads(row[3]))

    # ----------------------------------------------------------------- ledger
    def _ledger_rows(self, iteration: int, program_id: str | None, rows) -> None:
        now = time.time()
        self._conn.executemany(
            "INSERT INTO ledger (time, iteration, program_id, role, llm_calls, cost_usd) VALUES (?, ?, ?, ?, ?, ?)",
            [(now, iteration, program_id, role, int(calls), float(cost)) for role, calls, cost in rows],
        )

    def ledger_rows(self) -> list[dict]:
        with self._lock:
            cur = self._conn.execute(
                "SELECT time, iteration, program_id, role, llm_calls, cost_usd FROM ledger ORDER BY seq"
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def cost_by_role(self) -> dict[str, dict[str, float]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT role, SUM(llm_calls), SUM(cost_usd) FROM ledger GROUP BY role ORDER BY role"
            ).fetchall()
        return {role: {"llm_calls": int(calls or 0), "cost_usd": float(cost or 0.0)} for role, calls, cost in rows}

    def total_cost(self) -> float:
        with self._lock:
            value = self._conn.execute("SELECT SUM(cost_usd) FROM ledger").fetchone()[0]
        return float(value or 0.0)

    # ----------------------------------------------------------------- events
    def add_event(self, kind: str, iteration: int | None = None, **payload: Any) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO events (time, iteration, kind, payload) VALUES (?, ?, ?, ?)",
                (time.time(), iteration, kind, _dumps(payload)),
            )

    def events(self, kind: str | None = None) -> list[dict]:
        query = "SELECT seq, time, iteration, kind, payload FROM events"
        args: tuple = ()
        if kind is not None:
            query += " WHERE kind = ?"
            args = (kind,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY seq", args).fetchall()
        return [{"seq": s, "time": t, "iteration": it, "kind": k, **json.loads(p)} for s, t, it, k, p in rows]
