"""The body of one process in the concurrent-writers test of the response cache.

A module of its own so that spawned processes import only the cache, not the test's imports.
"""

from __future__ import annotations

from pathlib import Path

from ppol_nb.llm.cache import ResponseCache

ROUNDS = 6  # fresh files, each created by every process at once (the race on switching it to WAL)
SHARED_KEYS = 20
OWN_KEYS = 10


def cache_file(folder: str, round_: int) -> Path:
    return Path(folder) / f"round-{round_}" / "shared.sqlite"


def write(folder: str, wid: int, barrier, results) -> None:
    """One process: per round, open a new cache at the same moment as the others, then write and re-read."""
    try:
        for round_ in range(ROUNDS):
            barrier.wait()
            cache = ResponseCache(cache_file(folder, round_))
            got = {}
            for i in range(max(SHARED_KEYS, OWN_KEYS)):
                if i < SHARED_KEYS:
                    key = f"shared-{(i + wid * 7) % SHARED_KEYS}"  # every writer, in a different order
                    got[key] = cache.put(key, "m", {"writer": wid, "key": key})
                if i < OWN_KEYS:
                    cache.put(f"own-{wid}-{i}", "m", {"writer": wid, "i": i})
            reread = [key for key, value in got.items() if cache.get(key) != value]
            results.put((round_, wid, got, reread, cache.problems))
            cache.close()
    except BaseException as exc:  # reported, so the parent fails with the reason instead of waiting
        results.put((-1, wid, {}, [], [f"{type(exc).__name__}: {exc}"]))
        barrier.abort()  # the others must not wait for this process at the next round
        raise
