"""A thread-safe record of every model call: tokens, cost, latency, cache hits, errors.

One row per attempt. A failed attempt (retried or not) is a row with ``error``
set; a cache hit is a row with ``cached=True`` and zero cost. Offline stand-ins
that do not call a model record themselves with ``backend="offline"`` so that
offline and LLM runs produce the same accounting.

Rows made in another process (an episode run by a worker of
:mod:`ppol_nb.execution`) travel back with the episode's result and are added
with :meth:`Ledger.extend`, so the driver's ledger counts every call wherever it
ran. :meth:`Ledger.throughput` is the measured report of what an endpoint
delivered: requests/s and tokens/s per role.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads when a report is built, not with the client (start-up, issue 19)
    import pandas as pd

COLUMNS = (
    "time",
    "role",
    "model",
    "backend",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "cost_usd",
    "cached",
    "error",
    "episode_id",
)


class _Scope:
    """One :meth:`Ledger.episode` block: its episode id and the rows recorded in it."""

    __slots__ = ("episode_id", "rows")

    def __init__(self, episode_id: str) -> None:
        self.episode_id = episode_id
        self.rows: list[dict] = []


class Ledger:
    """Append-only call log, safe to share between threads."""

    def __init__(self) -> None:
        self._rows: list[dict] = []
        # Rows by episode id: an episode's totals are read as it ends, and scanning every
        # row of a long run each time would make a run quadratic in its number of calls.
        self._by_episode: dict[str, list[dict]] = {}
        self._lock = threading.Lock()
        # Per-ledger (not module-level) so two clients never tag each other's rows;
        # a ContextVar follows the calling thread and copies into asyncio tasks.
        self._episode: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
            f"ppol_nb_episode_{id(self)}", default=None
        )

    @contextlib.contextmanager
    def episode(self, episode_id: str) -> Iterator[list[dict]]:
        """Tag rows recorded in this context (this thread / context) with ``episode_id``.

        Yields the list of rows recorded in this block: the calls of *this* run of
        the episode, even when the same episode id runs again (a retry, a re-scoring
        under another context) or at the same time in another thread.
        """
        scope = _Scope(str(episode_id))
        token = self._episode.set(scope)
        try:
            yield scope.rows
        finally:
            self._episode.reset(token)

    @property
    def current_episode(self) -> str | None:
        scope = self._episode.get()
        return scope.episode_id if scope is not None else None

    def record(
        self,
        role: str,
        model: str,
        backend: str,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        latency_s: float = 0.0,
        cost_usd: float = 0.0,
        cached: bool = False,
        error: str | None = None,
        episode_id: str | None = None,
    ) -> None:
        """Append one row; ``episode_id`` defaults to the enclosing :meth:`episode`."""
        row = {
            "time": time.time(),
            "role": role,
            "model": model,
            "backend": backend,
            "prompt_tokens": int(prompt_tokens),
            "completion_tokens": int(completion_tokens),
            "latency_s": float(latency_s),
            "cost_usd": float(cost_usd),
            "cached": bool(cached),
            "error": error,
            "episode_id": str(episode_id) if episode_id is not None else None,
        }
        scope = self._episode.get()
        with self._lock:
            if episode_id is None and scope is not None:
                row["episode_id"] = scope.episode_id
                scope.rows.append(row)
            self._append(row)

    def _append(self, row: dict) -> None:
        self._rows.append(row)
        if row["episode_id"] is not None:
            self._by_episode.setdefault(row["episode_id"], []).append(row)

    def extend(self, rows) -> None:
        """Add rows recorded elsewhere (e.g. by a worker process), as :meth:`rows` returned them."""
        clean = [{c: row.get(c) for c in COLUMNS} for row in rows]
        with self._lock:
            for row in clean:
                self._append(row)

    def rows(self, episode_id: str | None = None) -> list[dict]:
        """Copies of the recorded rows (those of one episode if ``episode_id`` is given)."""
        with self._lock:
            rows = self._rows if episode_id is None else self._by_episode.get(str(episode_id), ())
            return [dict(r) for r in rows]

    def forget(self, rows: list[dict]) -> None:
        """Remove these very rows (as :meth:`episode` yielded them): a worker that handed an
        episode's rows to the caller's ledger does not keep them too."""
        ids = {id(r) for r in rows}
        if not ids:
            return
        with self._lock:
            self._rows = [r for r in self._rows if id(r) not in ids]
            for eid in {r["episode_id"] for r in rows if r["episode_id"] is not None}:
                kept = [r for r in self._by_episode.get(eid, ()) if id(r) not in ids]
                if kept:
                    self._by_episode[eid] = kept
                else:
                    self._by_episode.pop(eid, None)

    @staticmethod
    def totals(rows: list[dict]) -> dict:
        """Totals of some rows (e.g. one run of an episode): calls, cost and tokens, as :meth:`for_episode`."""
        rows = list(rows)
        return {
            "llm_calls": sum(1 for r in rows if r["error"] is None),
            "cost_usd": float(sum(r["cost_usd"] for r in rows)),
            "prompt_tokens": int(sum(r["prompt_tokens"] for r in rows)),
            "completion_tokens": int(sum(r["completion_tokens"] for r in rows)),
        }

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def _snapshot(self) -> list[dict]:
        with self._lock:
            return list(self._rows)

    def to_frame(self) -> pd.DataFrame:
        """One row per recorded call, columns as in :data:`COLUMNS`."""
        import pandas as pd

        df = pd.DataFrame(self._snapshot(), columns=list(COLUMNS))
        df["time"] = pd.to_datetime(df["time"].astype(float), unit="s", utc=True)
        df = df.astype(
            {
                "prompt_tokens": "int64",
                "completion_tokens": "int64",
                "latency_s": "float64",
                "cost_usd": "float64",
                "cached": "bool",
                "error": "object",
                "episode_id": "object",
            }
        )
        for col in ("error", "episode_id"):  # keep None (not NaN) for "absent"
            df[col] = df[col].astype(object).where(df[col].notna(), None)
        return df

    def summary(self, by: str | list[str] | None = "role") -> pd.DataFrame:
        """Per group: successful calls, cache hits, failed attempts, tokens, cost, latency.

        ``calls`` counts successful calls (cache hits included); ``errors`` counts
        failed attempts; ``mean_latency_s`` is over successful calls.
        """
        df = self.to_frame()
        df["ok"] = df["error"].isna()
        df["cached_ok"] = df["cached"] & df["ok"]
        df["failed"] = ~df["ok"]
        df["ok_latency"] = df["latency_s"].where(df["ok"])
        df["tokens"] = df["prompt_tokens"] + df["completion_tokens"]
        aggs = {
            "calls": ("ok", "sum"),
            "cached_calls": ("cached_ok", "sum"),
            "errors": ("failed", "sum"),
            "prompt_tokens": ("prompt_tokens", "sum"),
            "completion_tokens": ("completion_tokens", "sum"),
            "tokens": ("tokens", "sum"),
            "cost_usd": ("cost_usd", "sum"),
            "mean_latency_s": ("ok_latency", "mean"),
        }
        if by is None:
            df["all"] = "all"
            by = "all"
        out = df.groupby(by, dropna=False).agg(**aggs)
        int_cols = ["calls", "cached_calls", "errors", "prompt_tokens", "completion_tokens", "tokens"]
        return out.astype({c: "int64" for c in int_cols})

    def throughput(self, by: str | list[str] | None = "role") -> pd.DataFrame:
        """Achieved requests/s and tokens/s per group, measured over the group's busy span.

        Only calls that reached an endpoint count: ``requests`` are successful
        requests (cache hits excluded), ``throttled`` the attempts answered 429,
        ``failed`` every other failed attempt. ``span_s`` runs from the first
        request's start (its end time minus its latency) to the last one's end;
        ``requests_per_s`` and ``tokens_per_s`` (prompt + completion tokens of the
        successful requests) are over that span, and ``attempts_per_s`` counts
        failed attempts too.
        """
        import pandas as pd

        df = self.to_frame()
        df = df[df["backend"] != "offline"]
        cols = ["requests", "throttled", "failed", "cached_calls", "span_s", "requests_per_s", "attempts_per_s",
                "tokens_per_s", "completion_tokens_per_s", "mean_latency_s"]
        if df.empty:
            return pd.DataFrame(columns=cols)
        end = df["time"].astype("int64") / 1e9
        df = df.assign(end=end, start=end - df["latency_s"], ok=df["error"].isna(),
                       throttled=df["error"].fillna("").str.startswith("[429]"))
        if by is None:
            df["all"] = "all"
            by = "all"
        rows = {}
        for key, g in df.groupby(by, dropna=False):
            sent = g[~(g["cached"] & g["ok"])]  # cache hits never reached an endpoint
            ok = sent[sent["ok"]]
            span = float(sent["end"].max() - sent["start"].min()) if len(sent) else 0.0

            def rate(n: float, span: float = span) -> float:
                return n / span if span > 0 else float("nan")

            rows[key] = {
                "requests": len(ok), "throttled": int(sent["throttled"].sum()),
                "failed": int((~sent["ok"] & ~sent["throttled"]).sum()),
                "cached_calls": int((g["cached"] & g["ok"]).sum()), "span_s": span,
                "requests_per_s": rate(len(ok)), "attempts_per_s": rate(len(sent)),
                "tokens_per_s": rate(int((ok["prompt_tokens"] + ok["completion_tokens"]).sum())),
                "completion_tokens_per_s": rate(int(ok["completion_tokens"].sum())),
                "mean_latency_s": float(ok["latency_s"].mean()) if len(ok) else float("nan"),
            }
        out = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
        out.index.name = by if isinstance(by, str) else None
        return out

    def for_episode(self, episode_id: str) -> dict:
        """Totals for one episode; ``llm_calls`` counts successful calls (cache hits included)."""
        with self._lock:
            rows = list(self._by_episode.get(str(episode_id), ()))
        return self.totals(rows)

    def total_cost(self) -> float:
        return float(sum(r["cost_usd"] for r in self._snapshot()))
