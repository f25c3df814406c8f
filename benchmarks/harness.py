"""A small, reusable harness for "stock vs fast" episode benchmarks.

An *episode* is any callable ``episode(task) -> RewardInfo`` (or anything with a
``model_dump()``); :func:`run_episodes` times it over tasks and keeps every
reward, :func:`compare` checks two runs scored identically and gives the
throughput ratio, :func:`profile_breakdown` attributes time to named parts of
the code with cProfile, and :func:`format_table` prints results.

``bench_environments.py`` uses it for scripted trajectories; the full offline
episode benchmark (``bench_episodes.py``) can pass Orchestrator-based episodes.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self


class GCTimer:
    """Total time spent in garbage collection while active (via ``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start: float | None = None

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif self._start is not None:
            self.seconds += time.perf_counter() - self._start
            self._start = None

    def __enter__(self) -> Self:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._callback)


@dataclass
class RunResult:
    """Timing and rewards of one variant over a list of tasks."""

    name: str
    seconds: float
    episodes: int
    rewards: dict[str, Any] = field(repr=False, default_factory=dict)  # task key -> reward dump
    gc_seconds: float = 0.0  # part of ``seconds`` spent in garbage collection

    @property
    def episodes_per_s(self) -> float:
        return self.episodes / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> dict[str, Any]:
        mean = sum(r["reward"] for r in self.rewards.values()) / max(1, len(self.rewards))
        return {"name": self.name, "seconds": round(self.seconds, 3), "episodes": self.episodes,
                "episodes_per_s": round(self.episodes_per_s, 2), "gc_seconds": round(self.gc_seconds, 3),
                "mean_reward": round(mean, 4)}


def _dump(reward_info: Any) -> Any:
    return reward_info.model_dump(mode="json") if hasattr(reward_info, "model_dump") else reward_info


def run_episodes(
    name: str,
    episode: Callable[[Any], Any],
    tasks: Sequence[Any],
    key: Callable[[Any], str] = lambda task: str(task.id),
    before_each: Callable[[], None] | None = None,
) -> RunResult:
    """Run ``episode`` on every task; time only the episodes (not ``before_each``)."""
    gc.collect()  # start every variant from a comparable heap
    rewards: dict[str, Any] = {}
    seconds = gc_seconds = 0.0
    for task in tasks:
        if before_each is not None:
            before_each()
        with GCTimer() as gc_timer:
            start = time.perf_counter()
            result = episode(task)
            seconds += time.perf_counter() - start
        gc_seconds += gc_timer.seconds
        rewards[key(task)] = _dump(result)
    return RunResult(name, seconds, len(tasks), rewards, gc_seconds)


def compare(baseline: RunResult, candidate: RunResult) -> dict[str, Any]:
    """Throughput ratio (candidate / baseline) and whether every reward is identical."""
    mismatches = sorted(k for k in baseline.rewards if baseline.rewards[k] != candidate.rewards.get(k))
    mismatches += sorted(set(candidate.rewards) - set(baseline.rewards))
    return {
        "baseline": baseline.name,
        "candidate": candidate.name,
        "throughput_ratio": round(candidate.episodes_per_s / baseline.episodes_per_s, 2),
        "rewards_identical": not mismatches,
        "mismatches": mismatches,
    }


Matcher = Callable[[tuple[str, int, str]], bool]


def function(path_suffix: str, name: str) -> Matcher:
    """Match a profiled function by file path suffix and function name."""
    return lambda func: func[0].replace("\\", "/").endswith(path_suffix) and func[2] == name


def profile_breakdown(
    episode: Callable[[Any], Any],
    tasks: Iterable[Any],
    parts: dict[str, tuple[Matcher, Matcher | None]],
    nested: Iterable[str] = (),
) -> dict[str, Any]:
    """Cumulative seconds spent in named parts of the code while running ``episode``.

    ``parts`` maps a label to ``(callee, caller)``: time of functions matching
    ``callee`` (inclusive), counted only for calls made from a function matching
    ``caller`` when one is given. Parts should not nest in one another, except
    those named in ``nested`` (reported, but not subtracted from ``other``). The
    result also has ``total`` (profiled wall time) and ``other``; cProfile's overhead
    inflates Python-heavy parts, so read shares, not absolute seconds.
    """
    profiler = cProfile.Profile()
    gc.collect()
    start = time.perf_counter()
    profiler.enable()
    for task in tasks:
        episode(task)
    profiler.disable()
    total = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats  # func -> (cc, nc, tt, ct, callers)
    out: dict[str, Any] = {}
    for label, (callee, caller) in parts.items():
        seconds = 0.0
        for func, (_, _, _, cumulative, callers) in stats.items():
            if not callee(func):
                continue
            if caller is None:
                seconds += cumulative
            else:
                seconds += sum(c[3] for f, c in callers.items() if caller(f))
        out[label] = seconds
    nested = set(nested)
    out["other"] = max(0.0, total - sum(v for k, v in out.items() if k not in nested))
    out["total"] = total
    return {k: round(v, 3) for k, v in out.items()} | {
        "share": {k: round(v / total, 3) for k, v in out.items() if k != "total"}
    }


def format_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table of ``rows`` restricted to ``columns``."""
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda values: "  ".join(v.rjust(w) for v, w in zip(values, widths))
    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])
