"""Run calls in daemon threads and stop *waiting* for them at a deadline.

Python cannot kill a thread, so a timeout here means: the engine records a
timeout error and moves on; the abandoned call keeps running in the background
until it returns (its result is then ignored). Killing runaway work is the
evaluator's job (PPol's runs rollouts in sandboxed subprocesses). Threads are
daemons and not pool workers, so an abandoned call never blocks interpreter
exit (``concurrent.futures`` joins its workers at exit, which is how engines
"hang after a timeout").

No asyncio is involved, so this works unchanged inside a running Jupyter
kernel's event loop.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

_POLL_S = 0.5  # upper bound on one blocking wait, so Ctrl-C is handled promptly


@dataclass
class Outcome:
    """How one submitted call ended."""

    key: Hashable
    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False
    elapsed_s: float = 0.0


class DeadlineRunner:
    """Submit calls with individual timeouts; collect outcomes as they end."""

    def __init__(self, name: str = "ppol-evolution") -> None:
        self._name = name
        self._results: queue.Queue = queue.Queue()
        self._pending: dict[int, tuple[Hashable, float | None, float]] = {}
        self._tokens = itertools.count()

    def __len__(self) -> int:
        return len(self._pending)

    def submit(self, key: Hashable, fn: Callable[[], Any], timeout_s: float | None) -> None:
        token = next(self._tokens)
        start = time.monotonic()
        deadline = None if timeout_s is None else start + float(timeout_s)
        self._pending[token] = (key, deadline, start)
        thread = threading.Thread(target=self._work, args=(token, fn), name=f"{self._name}-{key}", daemon=True)
        thread.start()

    def _work(self, token: int, fn: Callable[[], Any]) -> None:
        t0 = time.monotonic()
        try:
            value = fn()
        except BaseException as exc:  # noqa: BLE001 — handed to the engine's thread to decide
            self._results.put((token, None, exc, time.monotonic() - t0))
        else:
            self._results.put((token, value, None, time.monotonic() - t0))

    def next(self) -> Outcome:
        """Block until a submitted call finishes or passes its deadline."""
        if not self._pending:
            raise RuntimeError("no pending calls")
        while True:
            # Results already delivered win over deadlines that passed meanwhile.
            try:
                while True:
                    outcome = self._claim(self._results.get_nowait())
                    if outcome is not None:
                        return outcome
            except queue.Empty:
                pass
            now = time.monotonic()
            deadlines = [(d, tok) for tok, (_, d, _) in self._pending.items() if d is not None]
            expired = [item for item in deadlines if item[0] <= now]
            if expired:
                token = min(expired)[1]
                key, _, start = self._pending.pop(token)
                return Outcome(key, timed_out=True, elapsed_s=now - start)
            wait = min([d - now for d, _ in deadlines] + [_POLL_S])
            try:
                outcome = self._claim(self._results.get(timeout=max(wait, 0.0)))
            except queue.Empty:
                continue
            if outcome is not None:
                return outcome

    def _claim(self, item: tuple) -> Outcome | None:
        """Outcome for a delivered result, or None if its call was already given up on."""
        token, value, error, elapsed = item
        if token not in self._pending:
            return None
        key = self._pending.pop(token)[0]
        return Outcome(key, value=value, error=error, elapsed_s=elapsed)


def call_with_timeout(fn: Callable[[], Any], timeout_s: float | None, name: str = "call") -> Outcome:
    """Run one call in a daemon thread; give up waiting after ``timeout_s``."""
    runner = DeadlineRunner()
    runner.submit(name, fn, timeout_s)
    return runner.next()
