"""Episode store: one JSON line per episode in ``<run_dir>/episodes.jsonl``.

Append-only and flushed per line, so a killed process loses at most the episode it
was running; a rerun with the same directory skips what is already there (resume).
If an id appears twice (an errored episode that was retried), the last line wins.

Every line read back is schema-checked (:func:`check_episode`). Lines that fail —
not JSON, a torn last line left by a killed writer, a record of the wrong shape —
are skipped, and :attr:`EpisodeStore.last_report` says which (``file:line``) and
why; ``load(strict=True)`` raises :class:`EpisodeFileError` instead. An append
after a torn line starts on a fresh line, so the tear never spreads.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

import pandas as pd

EPISODE_FIELDS = (
    "episode_id", "domain", "task_id", "split", "condition", "persona", "backend",
    "user_model", "agent_model", "seed", "reward", "reward_breakdown",
    "termination_reason", "messages", "error", "duration_s", "llm_calls", "cost_usd",
)


class EpisodeFileError(ValueError):
    """An episode file that cannot be used as it is (strict loading)."""


def check_episode(rec) -> str | None:
    """Why ``rec`` is not a usable episode record, or None when it is."""
    if not isinstance(rec, dict):
        return f"a record must be a JSON object, got {type(rec).__name__}"
    for key in ("episode_id", "domain", "task_id"):
        if not isinstance(rec.get(key), str) or not rec.get(key):
            return f"field {key!r} must be a non-empty string, got {rec.get(key)!r}"
    if not isinstance(rec.get("messages"), list):
        return f"field 'messages' must be a list, got {type(rec.get('messages')).__name__}"
    for i, m in enumerate(rec["messages"]):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            return f"messages[{i}] must be an object with a string 'role'"
        if m.get("content") is not None and not isinstance(m.get("content"), str):
            return f"messages[{i}].content must be a string or null"
    if rec.get("error") is not None and not isinstance(rec.get("error"), str):
        return "field 'error' must be a string or null"
    reward = rec.get("reward")
    if reward is not None and (isinstance(reward, bool) or not isinstance(reward, Real)):
        return f"field 'reward' must be a number or null, got {reward!r}"
    if rec.get("persona") is not None and not isinstance(rec.get("persona"), dict):
        return "field 'persona' must be an object or null"
    return None


@dataclass
class LoadReport:
    """What one read of an episode file kept and skipped (``(line number, reason)``)."""

    path: Path
    lines: int = 0
    loaded: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def reasons(self) -> Counter:
        return Counter(reason.split(":")[0] for _, reason in self.skipped)

    def summary(self, limit: int = 5) -> str:
        if not self.skipped:
            return f"{self.path}: {self.loaded} records, none skipped"
        counts = ", ".join(f"{n} {why}" for why, n in self.reasons().most_common())
        where = "; ".join(f"{self.path}:{line}: {reason}" for line, reason in self.skipped[:limit])
        more = f"; ... {len(self.skipped) - limit} more" if len(self.skipped) > limit else ""
        return f"{self.path}: {len(self.skipped)} line(s) skipped ({counts}): {where}{more}"


def read_episode_lines(path: Path, strict: bool = False) -> tuple[list[dict], LoadReport]:
    """Every valid record of a JSONL episode file, in order, and the report of what was skipped."""
    report = LoadReport(Path(path))
    records: list[dict] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().split("\n")
    torn_tail = bool(lines) and lines[-1].strip() != ""  # no final newline: the writer was cut off
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        report.lines += 1
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            last = number == len(lines) and torn_tail
            reason = ("torn last line: a write cut short by a killed process" if last
                      else f"not valid JSON: {exc.msg} at column {exc.colno}")
            report.skipped.append((number, reason))
            continue
        problem = check_episode(rec)
        if problem:
            report.skipped.append((number, f"schema: {problem}"))
            continue
        records.append(rec)
    report.loaded = len(records)
    if strict and report.skipped:
        raise EpisodeFileError(report.summary())
    return records, report


class EpisodeStore:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "episodes.jsonl"
        self._lock = threading.Lock()
        self.last_report: LoadReport | None = None

    def append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock, open(self.path, "a+b") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":  # a torn last line: do not glue this record onto it
                    fh.write(b"\n")
            fh.write((line + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())

    def load(self, strict: bool = False) -> list[dict]:
        """Latest valid record per episode id, in first-seen order (see :attr:`last_report`)."""
        if not self.path.exists():
            self.last_report = LoadReport(self.path)
            return []
        records, self.last_report = read_episode_lines(self.path, strict=strict)
        latest: dict[str, dict] = {}
        for rec in records:
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
