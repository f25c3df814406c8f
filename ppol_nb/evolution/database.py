"""The run database: one SQLite file (WAL) that *is* the checkpoint.

Tables

* ``programs`` — every evaluated candidate (a :class:`ProgramRecord`, dicts as
  JSON), written and committed the moment its evaluation ends, so a crash
  loses at most the evaluations still in flight. ``rating`` and
  ``comparison`` are filled in when the program enters the archive (they are
  recomputed from ``fitness_evals`` on resume; see :mod:`.comparison`).
* ``fitness_evals`` — every re-evaluation of a program on another iteration's
  minibatch (the incumbent's pairing scores and challengers' confirmations):
  program, context (the fitness-call index whose minibatch, N and λ were
  used), the iteration that asked for it, purpose (``pair``/``confirm``),
  score, metrics, minibatch, error and spend. One row per (program, context):
  it is computed once and re-used.
* ``proposals`` — a mutator's output, committed before evaluation starts, so a
  resumed run re-uses a paid-for proposal instead of asking the LLM again.
* ``ledger`` — spend per (iteration, program, role): mutator, evaluator,
  rescore, validation.
* ``events`` — run history: session start, round start, migration, new best,
  validation, stop (with the reason), interruption.
* ``meta`` — config, seed, package version, seed-program hash.

The archive is not stored: it is a deterministic function of the programs in
iteration order and their re-evaluations (see :meth:`EvolutionEngine.load_state`),
which keeps the database the single source of truth.

Versioning: ``PRAGMA user_version`` holds :data:`SCHEMA_VERSION`. A database of
version 0/1 (before ``rating``/``comparison``/``fitness_evals``) is migrated in
place when opened (columns added, table created); its stored config lacks the
comparison fields, which the engine reads as the raw rule it was made with
(:data:`~.config.LEGACY_DECISIONS`). A newer version than this code knows is
refused.
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
SCHEMA_VERSION = 2

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
    eval_duration_s REAL NOT NULL,
    rating REAL,
    comparison TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS fitness_evals (
    program_id TEXT NOT NULL,
    context INTEGER NOT NULL,
    iteration INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    score REAL NOT NULL,
    metrics TEXT NOT NULL,
    minibatch TEXT NOT NULL,
    error TEXT,
    llm_calls INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    duration_s REAL NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (program_id, context)
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

_JSON_FIELDS = ("inspiration_ids", "metrics", "artifacts", "validation", "comparison")
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
    "rating",
    "comparison",
)
# Columns added by schema version 2 (ALTER TABLE on older databases).
_V2_COLUMNS = {"rating": "REAL", "comparison": "TEXT NOT NULL DEFAULT '{}'"}
_EVAL_COLUMNS = ("program_id", "context", "iteration", "purpose", "score", "metrics", "minibatch", "error",
                 "llm_calls", "cost_usd", "duration_s", "created_at")


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
            self.migrated_from = self._migrate()
            self._conn.commit()

    def _migrate(self) -> int | None:
        """Create or upgrade the schema; returns the version upgraded from (None: already current or new)."""
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} has schema version {version}; this ppol_nb reads up to "
                               f"{SCHEMA_VERSION} (upgrade ppol_nb)")
        had_programs = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'programs'").fetchone() is not None
        if had_programs:
            present = {row[1] for row in self._conn.execute("PRAGMA table_info(programs)")}
            for name, decl in _V2_COLUMNS.items():
                if name not in present:
                    self._conn.execute(f"ALTER TABLE programs ADD COLUMN {name} {decl}")
        self._conn.executescript(SCHEMA)
        self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return version if had_programs and version < SCHEMA_VERSION else None

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

    def set_comparison(self, program_id: str, rating: float | None, comparison: dict) -> None:
        with self._lock, self._conn:
            self._conn.execute("UPDATE programs SET rating = ?, comparison = ? WHERE id = ?",
                               (rating, _dumps(comparison), program_id))

    def programs(self) -> list[ProgramRecord]:
        """All programs, in iteration order."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM programs ORDER BY iteration").fetchall()
        out = []
        for row in rows:
            data = dict(zip(_COLUMNS, row))
            for c in _JSON_FIELDS:
                data[c] = json.loads(data[c]) if data[c] is not None else {}
            out.append(ProgramRecord(**data))
        return out

    def count_programs(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM programs").fetchone()[0]

    # ------------------------------------------------------- re-evaluations
    def add_fitness_eval(self, row: dict, ledger: list[tuple[str, int, float]] = ()) -> None:
        """Store one re-evaluation (keys: :data:`_EVAL_COLUMNS`) and its spend, atomically."""
        values = [(_dumps(row[c]) if c in ("metrics", "minibatch") else row[c]) for c in _EVAL_COLUMNS]
        with self._lock, self._conn:
            self._conn.execute(
                f"INSERT INTO fitness_evals ({', '.join(_EVAL_COLUMNS)}) VALUES ({', '.join('?' * len(values))})",
                values,
            )
            self._ledger_rows(row["iteration"], row["program_id"], ledger)

    def fitness_evals(self) -> list[dict]:
        """Every re-evaluation, in the order they were stored."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {', '.join(_EVAL_COLUMNS)} FROM fitness_evals ORDER BY rowid").fetchall()
        out = []
        for row in rows:
            data = dict(zip(_EVAL_COLUMNS, row))
            data["metrics"], data["minibatch"] = json.loads(data["metrics"]), json.loads(data["minibatch"])
            out.append(data)
        return out

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
