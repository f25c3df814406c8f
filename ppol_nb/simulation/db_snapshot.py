"""One pristine τ² database per domain, cheap private copies of it, and its hashes.

τ²'s stock environment constructor re-reads and re-validates ``db.json`` every
time (airline: 7 MB, 0.1–0.4 s; an offline episode builds three environments).
:class:`PristineDB` loads a domain's database once per process, through τ²'s own
constructor, and keeps it as a read-only snapshot that environments share until
they are about to change it; then they take a :meth:`PristineDB.private_copy`.

Copy methods (both exact; measured in ``benchmarks/bench_environments.py``):

``"entries"`` (default)
    A shallow copy of the DB model whose dict fields are
    :class:`~.copy_on_access.CopyOnAccessDict` objects, which deep-copy an entry
    the first time it is handed out (~0.2 ms per private DB plus ~20–200 µs per
    entry touched). Used when :func:`~.copy_on_access.entries_are_disjoint` holds
    for the snapshot (it does for retail and airline), else ``"pickle"``.
``"pickle"``
    ``pickle.loads`` of the snapshot pickled once: a full, independent object
    graph (retail ~30–50 ms, airline ~70–300 ms with GC; keeps
    ``model_fields_set`` and private attributes). Measured alternatives were
    slower or less exact: ``model_copy(deep=True)`` 75/190–500 ms,
    ``model_validate`` of a cached dump 25/70–350 ms (re-runs validators and
    may change ``model_fields_set``), re-reading ``db.json`` 40/110–390 ms.
"""

from __future__ import annotations

import copy
import pickle
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from .composed_hash import ComposedHasher
from .copy_on_access import (
    IMMUTABLE_TYPES,
    CopyCounter,
    CopyOnAccessDict,
    entries_are_disjoint,
)
from .db_hash_memo import HashMemo
from .tau2_bridge import DOMAINS, tau2_modules

COPY_MODES = ("entries", "pickle")
PRISTINE_KEY: tuple = ()  # the memo key of an environment with no state-changing calls


class PristineDB:
    """A domain's database loaded once, its hash, and a memo of derived hashes.

    Loading happens on first use (:meth:`ensure_loaded`) and is thread-safe.
    The snapshot must never be mutated; :meth:`hash_unchanged` checks that.
    """

    def __init__(self, domain: str):
        self.domain = domain
        self.hash_memo = HashMemo()
        self.counter = CopyCounter()
        self.copy_mode = "entries"
        self.compose_hashes = True  # use ComposedHasher when it applies
        self._lock = threading.Lock()
        self._loaded = False

    def ensure_loaded(self) -> PristineDB:
        if self._loaded:
            return self
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True
        return self

    def _load(self) -> None:
        # One stock environment: its DB is exactly what τ² would load, and its
        # toolkit gives us τ²'s own (slow) hash function for the pristine check.
        stock = tau2_modules().registry.get_env_constructor(self.domain)()
        self.stock_environment = stock
        self.db = stock.tools.db
        self.pristine_hash = stock.tools.get_db_hash()
        self.hash_memo.put(PRISTINE_KEY, self.pristine_hash)
        self._pickled: bytes | None = None  # made on first "pickle" copy (0.1–0.4 s)
        self.entries_disjoint = entries_are_disjoint(self.db)
        if not self.entries_disjoint:
            self.copy_mode = "pickle"
        self.hasher = ComposedHasher(self.db)

    # -- copies ---------------------------------------------------------------------------
    def private_copy(self, mode: str | None = None) -> BaseModel:
        """A DB equal to the snapshot that the caller may mutate freely."""
        self.ensure_loaded()
        mode = mode or self.copy_mode
        if mode not in COPY_MODES:
            raise ValueError(f"unknown copy mode {mode!r}; expected one of {COPY_MODES}")
        if mode == "entries" and not self.entries_disjoint:
            mode = "pickle"
        self.counter.add("private_dbs")
        if mode == "pickle":
            return pickle.loads(self._pickle_bytes())
        private = copy.copy(self.db)  # new model and __dict__, same field values
        for name, value in list(private.__dict__.items()):
            if isinstance(value, dict):
                private.__dict__[name] = CopyOnAccessDict(value, self.counter)
            elif not isinstance(value, IMMUTABLE_TYPES):
                private.__dict__[name] = copy.deepcopy(value)
        for attr in ("__pydantic_extra__", "__pydantic_private__"):
            if getattr(private, attr, None):
                object.__setattr__(private, attr, copy.deepcopy(getattr(private, attr)))
        return private

    def _pickle_bytes(self) -> bytes:
        with self._lock:
            if self._pickled is None:
                self._pickled = pickle.dumps(self.db, protocol=pickle.HIGHEST_PROTOCOL)
            return self._pickled

    # -- hashes ---------------------------------------------------------------------------
    def hash_of(self, db: BaseModel, slow: Callable[[], str]) -> str:
        """τ²'s hash of ``db`` (the snapshot or a private copy of it).

        ``slow`` is τ²'s own hashing of ``db``, used whenever the composed hash
        does not apply (e.g. pickle copies, DBs replaced by ``update_db``).
        """
        if db is self.db:
            return self.pristine_hash
        fast = self.hasher.hash(db) if self.compose_hashes else None
        return fast if fast is not None else slow()

    def recompute_hash(self) -> str:
        """The snapshot's hash computed the slow (stock τ²) way."""
        self.ensure_loaded()
        return self.stock_environment.tools.get_db_hash()

    def hash_unchanged(self) -> bool:
        """True if the snapshot still hashes to what it hashed to when loaded."""
        self.ensure_loaded()
        return self.recompute_hash() == self.pristine_hash

    def stats(self) -> dict[str, Any]:
        return {"copy_mode": self.copy_mode, "composed_hash": self.hasher.enabled and self.compose_hashes,
                **self.counter.counts, **self.hash_memo.stats()}


_snapshots: dict[str, PristineDB] = {}
_snapshots_lock = threading.Lock()


def pristine_db(domain: str) -> PristineDB:
    """The process-wide (loaded) :class:`PristineDB` of a domain."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
    with _snapshots_lock:
        snapshot = _snapshots.get(domain)
        if snapshot is None:
            snapshot = _snapshots[domain] = PristineDB(domain)
    return snapshot.ensure_loaded()
