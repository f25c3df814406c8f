"""A thread-safe record of every model call: tokens, cost, latency, cache hits, errors.

One row per attempt. A failed attempt (retried or not) is a row with ``error``
set; a cache hit is a row with ``cached=True`` and zero cost. Offline stand-ins
that do not call a model record themselves with ``backend="offline"`` so that
offline and LLM runs produce the same accounting.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator

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
        self._episode: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            f"ppol_nb_episode_{id(self)}", default=None
        )

    @contextlib.contextmanager
    def episode(self, episode_id: str) -> Iterator[None]:
        """Tag rows recorded in this context (this thread / context) with ``episode_id``."""
        token = self._episode.set(str(episode_id))
        try:
            yield
        finally:
            self._episode.reset(token)

    @property
    def current_episode(self) -> str | None:
        return self._episode.get()

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
            "episode_id": str(episode_id) if episode_id is not None else self._episode.get(),
        }
        with self._lock:
            self._append(row)

    def _append(self, row: dict) -> None:
        self._rows.append(row)
        if row["episode_id"] is not None:
            self._by_episode.setdefault(row["episode_id"], []).append(row)

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def _snapshot(self) -> list[dict]:
        with self._lock:
            return list(self._rows)

    def to_frame(self) -> pd.DataFrame:
        """One row per recorded call, columns as in :data:`COLUMNS`."""
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

    def for_episode(self, episode_id: str) -> dict:
        """Totals for one episode; ``llm_calls`` counts successful calls (cache hits included)."""
        with self._lock:
            rows = list(self._by_episode.get(str(episode_id), ()))
        ok = [r for r in rows if r["error"] is None]
        return {
            "llm_calls": len(ok),
            "cost_usd": float(sum(r["cost_usd"] for r in rows)),
            "prompt_tokens": int(sum(r["prompt_tokens"] for r in rows)),
            "completion_tokens": int(sum(r["completion_tokens"] for r in rows)),
        }

    def total_cost(self) -> float:
        return float(sum(r["cost_usd"] for r in self._snapshot()))
