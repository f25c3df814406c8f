"""Copy-on-write τ² toolkits and the environment that hosts them.

A :class:`CopyOnWriteToolKit` is the domain's own toolkit class (``RetailTools``,
``AirlineTools``) with three changes, made by subclassing, never by patching τ²:

* its ``db`` starts as the shared pristine snapshot (:mod:`.db_snapshot`); READ
  tools run on it directly (and, once the DB is private, borrow its untouched
  entries instead of copying them: :class:`~.copy_on_access.CopyOnAccessDict`);
* every other public method of the domain toolkit (WRITE, GENERIC and THINK
  tools, and any non-tool helper that ``run_env_function_call`` could reach) is
  wrapped so that, just before it runs, the toolkit swaps in a private copy of the
  DB and appends ``(name, arguments)`` to a log; ``update_db`` is logged too;
* ``get_db_hash`` looks the log up in the snapshot's :class:`~.db_hash_memo.HashMemo`;
  on a miss it hashes with :class:`~.composed_hash.ComposedHasher` (or τ²'s own
  code where that does not apply);
* ``get_tools`` parses each tool's signature and docstring once per toolkit
  class, not once per call (τ² rebuilds every ``Tool`` — a pydantic model per
  parameter list — each time, about 3 ms per tool list), and a tool's OpenAI
  schema is computed once, not on every agent turn. The tools returned are
  fresh ``Tool`` objects bound to this toolkit, equal to τ²'s own (same name,
  descriptions, parameter models and schema; tests/test_environments.py).

Why the log is a sound memo key: an environment built by
:func:`~.environments.make_environment` starts from the pristine DB, READ tools
do not change it (τ²'s tool-type contract; checked for retail and airline by
:func:`~.environments.pristine_hash_unchanged` in the tests), and the domain
tools are deterministic functions of (DB, arguments) — no clocks or randomness
(airline's ids and "now" are constants). So the DB state, and hence its hash, is
a function of the ordered log. Arguments are encoded with their exact types
(:func:`freeze`), so ``1``/``1.0``/``True`` and lists/tuples never collide;
anything it cannot encode, and any direct assignment of ``toolkit.db``, turns the
memo off for that toolkit (hashing then falls back to τ²'s own code).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import json

from pydantic import PrivateAttr

from .copy_on_access import CopyOnAccessDict
from .db_snapshot import PristineDB
from .tau2_bridge import tau2_modules

_m = tau2_modules()
from tau2.environment.tool import Tool
from tau2.environment.toolkit import ToolKitBase


class _SchemaOnceTool(Tool):
    """τ²'s ``Tool`` whose OpenAI schema is built once (τ² regenerates the JSON schema on every access).

    Each access returns a fresh dict (parsed from the stored JSON), so a caller
    that edits the schema it was handed cannot change the next one.
    """

    _schema_json: str | None = PrivateAttr(default=None)

    @property
    def openai_schema(self) -> dict:
        if self._schema_json is None:
            self._schema_json = json.dumps(super().openai_schema)
        return json.loads(self._schema_json)


@functools.cache
def _tool_templates(toolkit_class: type) -> dict[str, Tool]:
    """name -> a parsed Tool of ``toolkit_class``, bound to nothing yet (see :meth:`CopyOnWriteToolKit.get_tools`)."""
    # Signature and docstring are the class's: parse them from the function as an
    # instance would expose it (``self`` already bound), so parameters are identical.
    probe = toolkit_class.__new__(toolkit_class)
    templates = {name: _SchemaOnceTool(getattr(probe, name)) for name in probe._func_tools}
    for template in templates.values():
        template.openai_schema  # noqa: B018 — build it now, so every copy shares it
    return templates


class _Unfreezable(Exception):
    pass


_SCALARS = (str, int, bool, type(None))


def freeze(value: Any):
    """An exact, hashable encoding of a tool argument (JSON-like values only).

    Types are part of the encoding and floats are encoded by ``repr`` so that
    ``0.0`` and ``-0.0`` (equal as Python keys) stay distinct.
    """
    kind = type(value)
    if kind in _SCALARS:
        return (kind, value)
    if kind is float:
        return (float, repr(value))
    if kind is list or kind is tuple:
        return (kind, tuple(freeze(v) for v in value))
    if kind is dict:
        return (dict, tuple((freeze(k), freeze(v)) for k, v in value.items()))
    raise _Unfreezable(kind)


class CopyOnWriteToolKit:
    """Mixin placed before a domain toolkit class; see the module docstring."""

    _guarded_names: frozenset[str] = frozenset()
    _read_tool_names: frozenset[str] = frozenset()

    def __init__(self, snapshot: PristineDB):
        self._snapshot = snapshot
        self._log: list | None = []  # None: state unknown to the memo
        self._private = False
        self._trusted_assignment = False
        self._mutating = 0  # depth of guarded (non-READ) calls in progress
        super().__init__(snapshot.db)

    # -- the database ----------------------------------------------------------------
    @property
    def db(self):
        return self._db

    @db.setter
    def db(self, value):
        if value is self._snapshot.db:  # (re)set to the pristine state
            self._db, self._private, self._log = value, False, []
        elif self._trusted_assignment:  # our own update_db; already logged
            self._db, self._private = value, True
        else:  # someone installed an arbitrary DB: keep it, stop memoising
            self._db, self._private, self._log = value, True, None

    @property
    def is_private(self) -> bool:
        """True once this toolkit owns a private DB (first state-changing call)."""
        return self._private

    @property
    def state_key(self) -> tuple | None:
        """The memo key of the current DB state, or None if it is not tracked."""
        return None if self._log is None else tuple(self._log)

    def _make_private(self) -> None:
        if not self._private:
            self._db = self._snapshot.private_copy()
            self._private = True

    def _before_mutation(self, describe: Callable[[], tuple]) -> None:
        self._make_private()
        if self._log is not None:
            try:
                self._log.append(describe())
            except _Unfreezable:
                self._log = None

    def untrack(self) -> None:
        """Make the DB private and stop memoising (for calls we cannot describe)."""
        self._make_private()
        self._log = None

    def before_env_function(self, func_name: str) -> None:
        """Called by :class:`FastEnvironment` before ``run_env_function_call``."""
        if func_name not in self._guarded_names and func_name not in self._read_tool_names:
            self.untrack()  # e.g. a private helper: cannot vouch for it

    # -- overridden ToolKitBase API ---------------------------------------------------
    def update_db(self, update_data: dict[str, Any] | None = None):
        # τ²'s update_db builds a new model from model_dump(): no copy needed first.
        if self._log is not None:
            try:
                self._log.append(("update_db", freeze(update_data)))
            except _Unfreezable:
                self._log = None
        self._trusted_assignment = True
        try:
            return super().update_db(update_data)
        finally:
            self._trusted_assignment = False

    def get_db_hash(self) -> str:
        slow = super().get_db_hash  # τ²'s own: sha256 of json.dumps(model_dump())

        def compute() -> str:
            return self._snapshot.hash_of(self._db, slow)

        key = self.state_key
        if key is None:
            return compute()
        return self._snapshot.hash_memo.get_or_compute(key, compute)

    def get_tools(self) -> dict[str, Tool]:
        """τ²'s ``get_tools``, each tool parsed once per class and bound to this toolkit."""
        tools = {}
        for name, template in _tool_templates(type(self)).items():
            tool = template.model_copy()
            tool._func = getattr(self, name)
            tools[name] = tool
        return tools

    # -- READ tools borrow entries ----------------------------------------------------------
    def _collections(self) -> list[CopyOnAccessDict]:
        if not self._private:
            return []  # the DB is the snapshot itself: nothing to lend or copy
        return [v for v in self._db.__dict__.values() if isinstance(v, CopyOnAccessDict)]


def _guard(name: str, func: Callable) -> Callable:
    """Wrap a toolkit method so it privatises and logs before running.

    Lending is switched off for the duration, so a READ tool that (unusually)
    calls a mutating method cannot hand it borrowed snapshot entries.
    """

    @functools.wraps(func)  # keeps __doc__, signature (__wrapped__), __tool__/__tool_type__
    def guarded(self, *args, **kwargs):
        self._before_mutation(lambda: (name, freeze(args), freeze(kwargs)))
        suspended = [(c, c._lending) for c in self._collections() if c._lending]
        for collection, _ in suspended:
            collection._lending = 0
        self._mutating += 1
        try:
            return func(self, *args, **kwargs)
        finally:
            self._mutating -= 1
            for collection, lending in suspended:
                collection._lending = lending

    return guarded


def _reader(func: Callable) -> Callable:
    """Wrap a READ tool so that, on a private DB, it borrows entries instead of copying them.

    Only an outermost READ call lends: one made from inside a mutating method
    gets copies, since that method may go on to mutate what it receives.
    """

    @functools.wraps(func)
    def reader(self, *args, **kwargs):
        lent = [] if self._mutating else self._collections()
        for collection in lent:
            collection._lending += 1
        try:
            return func(self, *args, **kwargs)
        finally:
            for collection in lent:
                collection._lending -= 1

    return reader


@functools.cache
def copy_on_write_class(base: type) -> type:
    """``CopyOnWrite<Base>``: the domain toolkit class with guarded mutators."""
    ToolType = _m.ToolType
    base_api = set(dir(ToolKitBase))
    namespace: dict[str, Any] = {"__module__": __name__, "__doc__": f"Copy-on-write {base.__name__}."}
    guarded, read_tools = set(), set()
    for name in dir(base):
        if name.startswith("_") or name in base_api:
            continue
        attr = inspect.getattr_static(base, name)
        if isinstance(attr, property):
            raise NotImplementedError(f"{base.__name__}.{name} is a property; cannot guard it")
        if not inspect.isfunction(attr):
            continue  # staticmethods/classmethods/data cannot reach self.db
        if getattr(attr, "__tool__", False) and getattr(attr, "__tool_type__", None) == ToolType.READ:
            namespace[name] = _reader(attr)
            read_tools.add(name)
            continue
        namespace[name] = _guard(name, attr)
        guarded.add(name)
    namespace["_guarded_names"] = frozenset(guarded)
    namespace["_read_tool_names"] = frozenset(read_tools)
    cls = type(f"CopyOnWrite{base.__name__}", (CopyOnWriteToolKit, base), namespace)
    # τ²'s metaclass lists a class's own tools before inherited ones, which would
    # move the wrapped tools to the front; keep the base's tool order (it is the
    # order agents see the tools in). Names resolve to the wrappers either way.
    cls._func_tools = inspect.getattr_static(base, "_func_tools")
    return cls


class FastEnvironment(_m.Environment):
    """τ²'s ``Environment`` with copy-on-write toolkits.

    Only ``run_env_function_call`` differs: it can reach *any* toolkit attribute
    by name, so names the toolkit does not guard make its state untracked first.
    """

    def run_env_function_call(self, env_function_call):
        toolkit = {"user": self.user_tools, "assistant": self.tools}.get(env_function_call.env_type)
        if isinstance(toolkit, CopyOnWriteToolKit):
            toolkit.before_env_function(env_function_call.func_name)
        return super().run_env_function_call(env_function_call)
