"""Parsing Python source into an AST, safely from many threads at once.

CPython 3.11 keeps the AST constructor's recursion counter in per-interpreter
state, so two threads building ASTs at the same moment can corrupt it and one of
them fails with ``SystemError: AST constructor recursion depth mismatch``
(python/cpython#106905). The search parses generator programs from several
threads (the static check of concurrent sandbox runs, mutators of candidates in
flight, program edits), so every parse in ppol_nb goes through :func:`parse`,
which holds one process-wide lock while the tree is built. Parsing is fast
(milliseconds per program), so the lock costs nothing measurable.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``, serialised across threads (module doc)."""
    with _LOCK:
        return ast.parse(source, filename=filename)
