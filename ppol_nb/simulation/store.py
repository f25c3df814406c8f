"""Episode store: one JSON line per episode in ``<run_dir>/episodes.jsonl``.

Append-only and flushed per line, so a killed process loses at most the episode it
was running; a rerun with the same directory skips what is already there (resume).
If an id appears twice (an errored episode that was retried), the last line wins.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pandas as pd

EPISODE_FIELDS = (
    "episode_id", "domain", "task_id", "split", "condition", "persona", "backend",
    "user_model", "agent_model", "seed", "reward", "reward_breakdown",
    "termination_reason", "messages", "error", "duration_s", "llm_calls", "cost_usd",
)


class EpisodeStore:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "episodes.jsonl"
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def load(self) -> list[dict]:
        """Latest record per episode id, in first-seen order. Skips a torn last line."""
        if not self.path.exists():
            return []
        latest: dict[str, dict] = {}
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a killed process
                latest[rec["episode_id"]] = rec
        return list(latest.values())

    def completed_ids(self, include_errors: bool = False) -> set[str]:
        return {r["episode_id"] for r in self.load() if include_errors or not r.get("error")}

    def frame(self) -> pd.DataFrame:
        """Episodes as a DataFrame (messages kept as a list column)."""
        df = pd.DataFrame(self.load())
        if df.empty:
            return pd.DataFrame(columns=list(EPISODE_FIELDS) + ["success"])
        df["success"] = df["reward"].fillna(0.0) >= 1.0
        return df
