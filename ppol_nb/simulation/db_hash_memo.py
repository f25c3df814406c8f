"""Memoised τ² database hashes.

τ² compares databases by ``sha256(json.dumps(db.model_dump(), sort_keys=True))``,
which costs 40–90 ms per call on retail/airline. A τ² environment built from the
pristine database is a deterministic function of the ordered sequence of
state-changing calls applied to it, so the hash only needs computing once per
distinct sequence. :class:`HashMemo` maps such a sequence (any hashable key) to
its hash; it is bounded and thread-safe because episodes run in threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


class HashMemo:
    """Thread-safe, size-bounded (LRU) map from a state key to its DB hash."""

    def __init__(self, maxsize: int = 100_000):
        self.maxsize = maxsize
        self._hashes: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], str]) -> str:
        """Return the memoised hash for ``key``, computing it on a miss.

        ``compute`` runs outside the lock: two threads may both compute the same
        key, which is harmless (same value) and keeps hashing parallel-friendly.
        """
        with self._lock:
            found = self._hashes.get(key)
            if found is not None:
                self._hashes.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        value = compute()
        self.put(key, value)
        return value

    def put(self, key: Hashable, value: str) -> None:
        with self._lock:
            self._hashes[key] = value
            self._hashes.move_to_end(key)
            while len(self._hashes) > self.maxsize:
                self._hashes.popitem(last=False)

    def clear(self, keep: Hashable | None = None) -> None:
        """Forget every hash (except ``keep``, e.g. the pristine one) and the counters."""
        with self._lock:
            kept = self._hashes.get(keep) if keep is not None else None
            self._hashes.clear()
            if kept is not None:
                self._hashes[keep] = kept
            self.hits = self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._hashes)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._hashes), "hits": self.hits, "misses": self.misses}
