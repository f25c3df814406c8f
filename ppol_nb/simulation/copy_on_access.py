"""Entry-level copy-on-write for τ² databases.

A retail/airline DB is a pydantic model whose fields are dicts of entries
(``orders``, ``users``, ``flights``, …). τ²'s tools reach entries only through
those dicts (``db.orders[id]``, ``db.users.items()``, ``db.flights.values()``,
``id in db.orders``) and then mutate the entry they got. So a private DB can be a
shallow copy of the snapshot whose dicts are :class:`CopyOnAccessDict` objects:
an entry is deep-copied the first time it is handed out, and entries never handed
out stay shared with the snapshot. Making such a DB costs ~0.2 ms instead of a
full copy's 25–300 ms (plus the garbage-collector pressure of ~10^5 objects).

It equals a full deep copy only if no mutable object is shared *between* entries
(copying one entry would otherwise split an alias); :func:`entries_are_disjoint`
checks that on the snapshot.
"""

from __future__ import annotations

import copy
import datetime as _dt
import enum
import threading
from typing import Any

from pydantic import BaseModel


class CopyCounter:
    """Thread-safe counters for how much copying the copy-on-write scheme does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = {"private_dbs": 0, "entry_copies": 0}

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n


class CopyOnAccessDict(dict):
    """A dict of DB entries that deep-copies each entry the first time it is handed out.

    Starts as a copy of the snapshot's mapping (same key → same entry object);
    ``_shared`` holds the keys whose value is still the snapshot's object. Every
    method that exposes a value to Python code first replaces a shared value by a
    deep copy, so code that mutates what it got cannot reach the snapshot.

    *Lending*: while ``_lending`` is non-zero (set by the toolkit for the duration
    of a READ tool call) ``d[k]``, ``get``, ``values`` and ``items`` hand out
    shared values without copying. READ tools already run on the bare snapshot
    before an environment's first write, so this relies on nothing new — and it
    keeps a flight search after a cancellation from copying all 300 flights.

    C-level readers that bypass these methods (pydantic's serialiser behind
    ``model_dump``, ``==``) only read. ``__iter__`` is overridden (trivially) so
    that ``dict(d)``/``{**d}``/``other.update(d)`` take CPython's generic path
    through ``keys()``/``__getitem__`` instead of reading the storage directly.
    """

    __slots__ = ("_counter", "_lending", "_shared")

    def __init__(self, pristine: dict, counter: CopyCounter | None = None):
        super().__init__(pristine)
        self._shared = set(pristine)
        self._counter = counter
        self._lending = 0

    @property
    def shared_keys(self) -> set:
        """Keys whose value is still the snapshot's object (read-only view, do not mutate)."""
        return self._shared

    # -- making entries private ----------------------------------------------------
    def _own(self, key) -> None:
        if key in self._shared:
            self._shared.discard(key)
            dict.__setitem__(self, key, copy.deepcopy(dict.__getitem__(self, key)))
            if self._counter is not None:
                self._counter.add("entry_copies")

    def _own_all(self) -> None:
        for key in list(self._shared):
            self._own(key)

    # -- accessors that hand out values ----------------------------------------------
    def __getitem__(self, key):
        if not self._lending:
            self._own(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return self[key]
        return default

    def values(self):
        if not self._lending:
            self._own_all()
        return dict.values(self)

    def items(self):
        if not self._lending:
            self._own_all()
        return dict.items(self)

    def __iter__(self):  # keys are immutable strings; see class docstring for why
        return dict.__iter__(self)

    def pop(self, key, *default):
        if dict.__contains__(self, key):
            self._own(key)
        return dict.pop(self, key, *default)

    def popitem(self):
        self._own_all()
        return dict.popitem(self)

    def setdefault(self, key, default=None):
        if dict.__contains__(self, key):
            return self[key]
        self[key] = default
        return default

    def copy(self):
        self._own_all()
        return dict(dict.items(self))

    def __or__(self, other):
        return self.copy() | other

    def __ror__(self, other):
        self._own_all()
        return dict(other) | dict(dict.items(self))

    def __reduce_ex__(self, protocol):
        # copy/deepcopy/pickle see a plain dict of private entries
        return (dict, (self.copy(),))

    # -- accessors that store values ------------------------------------------------------
    def __setitem__(self, key, value):
        self._shared.discard(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key):
        self._shared.discard(key)
        dict.__delitem__(self, key)

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other):
        self.update(other)
        return self

    def clear(self):
        self._shared.clear()
        dict.clear(self)


IMMUTABLE_TYPES = (str, bytes, int, float, bool, type(None), enum.Enum, _dt.date, _dt.time, _dt.timedelta)


def entries_are_disjoint(db: BaseModel) -> bool:
    """True if no mutable object is reachable from two different top-level entries.

    Walks every entry of every dict-valued field of ``db``. Objects of a type it
    does not know are treated as "cannot prove", i.e. False.
    """
    owner: dict[int, Any] = {}
    for field_name, collection in db.__dict__.items():
        if isinstance(collection, dict):
            owner[id(collection)] = ("root", field_name)
    for field_name, collection in db.__dict__.items():
        if not isinstance(collection, dict):
            continue
        for key, entry in collection.items():
            tag = (field_name, key)
            stack = [entry]
            while stack:
                obj = stack.pop()
                if isinstance(obj, IMMUTABLE_TYPES):
                    continue
                if isinstance(obj, (tuple, frozenset)):
                    stack.extend(obj)
                    continue
                if not isinstance(obj, (BaseModel, dict, list, set)):
                    return False
                seen = owner.get(id(obj))
                if seen is not None:
                    if seen != tag:
                        return False  # reachable from another entry (or is a collection)
                    continue  # an alias inside this entry: deepcopy keeps those
                owner[id(obj)] = tag
                if isinstance(obj, BaseModel):
                    stack.extend(obj.__dict__.values())
                    for extra in (obj.__pydantic_extra__, getattr(obj, "__pydantic_private__", None)):
                        if extra:
                            stack.extend(extra.values())
                elif isinstance(obj, dict):
                    stack.extend(obj.keys())
                    stack.extend(obj.values())
                else:
                    stack.extend(obj)
    return True
