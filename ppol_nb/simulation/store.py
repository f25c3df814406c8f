"""Episode store: one JSON line per episode in ``<run_dir>/episodes.jsonl``.

Append-only and flushed per line, so a killed process loses at most the episode it
was running; a rerun with the same directory skips what is already there (resume).
If an id appears twice (an errored episode that was retried), the last line wins.

Every line written and read is an :class:`~.records.EpisodeRecord` (typed,
versioned; see :mod:`.records`). What loading does with a line that is not one:

* **Not JSON** — above all the torn last line a killed writer leaves — cannot hold
  an episode: it is skipped and reported as ``file:line`` (on stderr, once per
  store, and in :attr:`EpisodeStore.last_report`); its episode is simply not in
  the store, so a resume runs it again. The fragment stays in the file (nothing is
  deleted), and the next append starts on a fresh line, so the tear never spreads.
* **JSON but not a valid record** (a wrong type, a missing or unknown field) means
  something other than this store wrote the line: loading raises
  :class:`EpisodeFileError` naming ``file:line`` and pydantic's message, and a resume
  stops there rather than silently re-running (and re-paying for) that episode.
  ``strict=False`` (the ``fingerprint`` command, which has a failure budget) skips
  and reports such lines instead.
* **A newer schema version** is always refused (:class:`EpisodeFileError`).
* **No schema version** (written before records were versioned) is migrated, see
  :func:`.records.migrate`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from .records import EpisodeRecord, NewerSchemaError, RecordError, describe, parse_line

if TYPE_CHECKING:  # pandas loads when a frame is built, not with the CLI (start-up, issue 19)
    import pandas as pd

EPISODE_FIELDS = tuple(EpisodeRecord.model_fields)


class EpisodeFileError(ValueError):
    """An episode file that cannot be used as it is: names the file and 1-based line."""


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


def read_episodes(path, strict: bool = True) -> tuple[list[EpisodeRecord], LoadReport]:
    """Every valid record of a JSONL episode file, in order, and the report of what was skipped.

    Lines that are not JSON are skipped and reported; an invalid record raises
    :class:`EpisodeFileError` (``path:line: ...``) unless ``strict=False`` (module docstring).
    """
    path = Path(path)
    report = LoadReport(path)
    records: list[EpisodeRecord] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().split("\n")
    torn_tail = bool(lines) and lines[-1].strip() != ""  # no final newline: the writer was cut off
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        report.lines += 1
        try:
            records.append(parse_line(line))
        except json.JSONDecodeError as exc:
            last = number == len(lines) and torn_tail
            report.skipped.append((number, "torn last line: a write cut short by a killed process" if last
                                   else f"not valid JSON: {exc.msg} at column {exc.colno}"))
        except NewerSchemaError as exc:
            raise EpisodeFileError(f"{path}:{number}: {exc}") from exc
        except RecordError as exc:
            if strict:
                raise EpisodeFileError(f"{path}:{number}: not a valid episode record: {exc}") from exc
            report.skipped.append((number, f"schema: {exc}"))
    report.loaded = len(records)
    return records, report


def read_episode_lines(path, strict: bool = True) -> tuple[list[dict], LoadReport]:
    """:func:`read_episodes` with each record as a plain dict (the store's field names)."""
    records, report = read_episodes(path, strict=strict)
    return [r.to_dict() for r in records], report


class EpisodeStore:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "episodes.jsonl"
        self._lock = threading.Lock()
        self.last_report: LoadReport | None = None
        self._told: set[tuple[int, str]] = set()

    def append(self, record: dict | EpisodeRecord) -> None:
        """Validate ``record`` and append it as one line (a record that fails validation is never written)."""
        if not isinstance(record, EpisodeRecord):
            try:
                record = EpisodeRecord.model_validate(record)
            except ValidationError as exc:
                rid = record.get("episode_id") if isinstance(record, dict) else None
                raise RecordError(f"episode {rid!r} is not a valid episode record, not written to "
                                  f"{self.path}: {describe(exc)}") from exc
        line = record.to_line()
        with self._lock, open(self.path, "a+b") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":  # a torn last line: do not glue this record onto it
                    fh.write(b"\n")
            fh.write((line + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())

    def records(self, strict: bool = True) -> list[EpisodeRecord]:
        """Latest valid record per episode id, in first-seen order (see :attr:`last_report`).

        Skipped lines are reported on stderr once per store; ``strict`` as in :func:`read_episodes`.
        """
        if not self.path.exists():
            self.last_report = LoadReport(self.path)
            return []
        records, self.last_report = read_episodes(self.path, strict=strict)
        for line, reason in self.last_report.skipped:
            if (line, reason) not in self._told:
                self._told.add((line, reason))
                print(f"ppol_nb: {self.path}:{line}: {reason}; skipped (that episode is not in the store "
                      f"and runs again on resume)", file=sys.stderr)
        latest: dict[str, EpisodeRecord] = {}
        for rec in records:
            latest[rec.episode_id] = rec
        return list(latest.values())

    def load(self, strict: bool = True) -> list[dict]:
        """:meth:`records` as plain dicts (the field names of :class:`~.records.EpisodeRecord`)."""
        return [r.to_dict() for r in self.records(strict=strict)]

    def completed_ids(self, include_errors: bool = False) -> set[str]:
        return {r.episode_id for r in self.records() if include_errors or not r.error}

    def frame(self) -> pd.DataFrame:
        """Episodes as a DataFrame (messages kept as a list column)."""
        import pandas as pd

        df = pd.DataFrame(self.load())
        if df.empty:
            return pd.DataFrame(columns=list(EPISODE_FIELDS) + ["success"])
        df["success"] = df["reward"].fillna(0.0) >= 1.0
        return df
