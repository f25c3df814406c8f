"""A static guard rail for generator programs, run before a program is executed.

This is a first layer, and *not* the security boundary: the OS sandbox
(:mod:`.isolation`: bubblewrap namespaces and a seccomp filter) is the
guarantee, and the escape suite (``tests/test_sandbox_escapes.py``) shows that
it holds with this layer switched off. Python cannot be sandboxed from the inside:
a determined program can reach ``os`` through object graphs that no AST rule
anticipates. The real boundary is the sandbox process (:mod:`.sandbox`): a fresh
interpreter with an environment stripped of secrets, memory/CPU/file-size rlimits,
a wall-clock kill of its whole process group, and no way to reach the parent's
LLM credentials (it only sends call requests over a pipe). The sandbox child
repeats the import and attribute rules at run time as a second rail.

What this check does is reject, cheaply and with a clear message, what an LLM-written
program has no business doing: importing beyond a small allow-list, calling
``exec``/``eval``/``open``/``__import__``, walking dunder or private attributes
(the usual escape hatches: ``().__class__.__subclasses__()``, ``random._os``,
``typing.sys``), reaching a module outside the allow-list through an allowed
one (``from enum import bltns`` is the real ``builtins``; ``json.codecs.open``
writes files), string evaluators (``typing.get_type_hints``), and format
strings that walk private attributes (``"{0.__class__}".format(x)``,
``"{0[_x]}"``), format strings it cannot read: ``.format``/``.format_map``
on anything but a string literal (a format string built at run time can walk
to ``__globals__``), ``string.Formatter``, and classes derived from ``str``
(a ``str`` subclass can lie to the run-time guard of ``getattr`` and friends,
which therefore also works on a plain copy of the name).
"""

from __future__ import annotations

import ast
from ..source_parsing import parse as parse_source
import importlib
import re
import string

MAX_SOURCE_CHARS = 65_536  # the paper's OpenEvolve max_code_length

ALLOWED_MODULES = frozenset({
    "json", "re", "math", "random", "itertools", "functools", "collections", "dataclasses", "typing",
    "textwrap", "string", "enum", "statistics",
})
TOOLKIT = "ppol_nb.personas.toolkit"

FORBIDDEN_NAMES = frozenset({
    "exec", "eval", "compile", "open", "__import__", "input", "breakpoint", "globals", "locals", "vars",
    "help", "exit", "quit", "__builtins__", "__loader__", "__spec__", "memoryview",
})
# Dunder attributes ordinary code needs (super().__init__, func.__name__).
ALLOWED_DUNDER_ATTRS = frozenset({"__init__", "__name__", "__doc__"})
# Non-underscore attributes that lead from an allowed module or object to the OS or to frames.
FORBIDDEN_ATTRS = frozenset({
    "sys", "os", "modules", "environ", "system", "popen", "spawn", "fork", "builtins", "importlib",
    "subprocess", "inspect", "socket", "gi_frame", "gi_code", "cr_frame", "ag_frame", "f_globals",
    "f_locals", "f_back", "f_builtins", "f_code", "tb_frame", "tb_next", "co_code", "mro",
})
# Public members of allowed modules that evaluate strings as code with whatever
# globals they are given (an empty dict means the real builtins).
FORBIDDEN_MEMBERS = {"typing": frozenset({"get_type_hints", "ForwardRef"}),
                     "string": frozenset({"Formatter"})}  # vformat walks attributes of its arguments
FORBIDDEN_ATTRS = FORBIDDEN_ATTRS | frozenset().union(*FORBIDDEN_MEMBERS.values())
ATTR_FUNCS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
FORMAT_METHODS = frozenset({"format", "format_map", "vformat"})
_TEXT_TYPES = frozenset({"str", "bytes", "bytearray"})


class ProgramRejected(Exception):
    """The static check refused a program; ``kind`` is "syntax", "forbidden" or "size"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def module_allowed(name: str) -> bool:
    """True for allow-listed standard modules (and their submodules) and the toolkit."""
    return name == TOOLKIT or name.split(".")[0] in ALLOWED_MODULES


def attr_allowed(name: str) -> bool:
    """Whether attribute ``name`` may be read, written or looked up by name."""
    if name.startswith("__") and name.endswith("__"):
        return name in ALLOWED_DUNDER_ATTRS
    return not name.startswith("_") and name not in FORBIDDEN_ATTRS


def _resolve(module_name: str, attrs: list[str]):
    """The object ``module.attr1.attr2...`` as the parent sees it (allowed modules are stdlib or ours)."""
    try:
        obj = importlib.import_module(module_name)
    except ImportError:
        return None
    for attr in attrs:
        if not isinstance(obj, type(ast)):
            return None  # only module attributes are resolved statically
        obj = getattr(obj, attr, None)
    return obj


def _escaping_module(obj) -> str | None:
    """The name of a module outside the allow-list, if ``obj`` is one."""
    if isinstance(obj, type(ast)) and not module_allowed(obj.__name__):
        return obj.__name__
    return None


def _private_format_fields(text: str) -> list[str]:
    """Replacement fields of a format string that walk a private or dunder attribute."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f]
    except ValueError:
        return []
    return [f for f in fields if re.search(r"[.\[]\s*_", f)]


def _where(node: ast.AST) -> str:
    return f"line {getattr(node, 'lineno', '?')}"


class _Guard(ast.NodeVisitor):
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.modules: dict[str, str] = {}  # local name -> allowed module it is bound to

    def bad(self, node: ast.AST, message: str) -> None:
        self.problems.append(f"{_where(node)}: {message}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == TOOLKIT and not alias.asname:
                # "import ppol_nb.personas.toolkit" binds the whole ppol_nb package.
                self.bad(node, f"write 'from ppol_nb.personas import toolkit' or 'import {TOOLKIT} as tk'")
            elif not module_allowed(alias.name):
                self.bad(node, f"import of {alias.name!r} is not allowed (allowed: {sorted(ALLOWED_MODULES)} "
                               f"and {TOOLKIT})")
            elif alias.asname:
                self.modules[alias.asname] = alias.name
            else:
                self.modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.bad(node, "relative imports are not allowed")
        elif module == "ppol_nb.personas":
            if any(a.name != "toolkit" for a in node.names):
                self.bad(node, "from ppol_nb.personas only 'toolkit' may be imported")
        elif not module_allowed(module):
            self.bad(node, f"import from {module!r} is not allowed (allowed: {sorted(ALLOWED_MODULES)} "
                           f"and {TOOLKIT})")
        for alias in node.names:
            if alias.name == "*" or not attr_allowed(alias.name):
                self.bad(node, f"'from {module} import {alias.name}' is not allowed")
            elif not node.level and module_allowed(module):
                target = _escaping_module(_resolve(module, [alias.name]))
                if target:
                    self.bad(node, f"'from {module} import {alias.name}' is the module {target!r}, "
                                   "which is not allowed")
                elif isinstance(_resolve(module, [alias.name]), type(ast)):
                    self.modules[alias.asname or alias.name] = f"{module}.{alias.name}"
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self.bad(node, f"use of {node.id!r} is not allowed")
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in _TEXT_TYPES:
                self.bad(node, f"class {node.name} derives from {base.id!r}, which is not allowed")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in FORMAT_METHODS and not (isinstance(node.value, ast.Constant)
                                                and isinstance(node.value.value, str)):
            self.bad(node, f"'.{node.attr}' is allowed only on a string literal (use toolkit.fill or an f-string)")
        private_ok = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls") \
            and node.attr.startswith("_") and not node.attr.startswith("__")
        if not private_ok and not attr_allowed(node.attr):
            self.bad(node, f"attribute {node.attr!r} is not allowed")
        else:
            chain, root = [node.attr], node.value
            while isinstance(root, ast.Attribute):
                chain.insert(0, root.attr)
                root = root.value
            if isinstance(root, ast.Name) and root.id in self.modules:
                target = _escaping_module(_resolve(self.modules[root.id], chain))
                if target:
                    self.bad(node, f"{root.id}.{'.'.join(chain)} is the module {target!r}, which is not allowed")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and "{" in node.value:
            for field in _private_format_fields(node.value):
                self.bad(node, f"format field {{{field}}} walks a private attribute")

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in ATTR_FUNCS and len(node.args) >= 2:
            attr = node.args[1]
            if isinstance(attr, ast.Constant) and isinstance(attr.value, str) and not attr_allowed(attr.value):
                self.bad(node, f"{node.func.id}(..., {attr.value!r}) is not allowed")
        self.generic_visit(node)


def check_source(source: str, filename: str = "<generator>") -> ast.Module:
    """Parse and vet a program; return its AST or raise :class:`ProgramRejected`."""
    if not isinstance(source, str):
        raise ProgramRejected("syntax", f"program source must be text, got {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise ProgramRejected("size", f"program is {len(source)} characters; the limit is {MAX_SOURCE_CHARS}")
    try:
        tree = parse_source(source, filename)
    except SyntaxError as exc:
        raise ProgramRejected("syntax", f"SyntaxError: {exc.msg} (line {exc.lineno}, column {exc.offset})") from None
    except ValueError as exc:  # e.g. null bytes
        raise ProgramRejected("syntax", f"unparsable source: {exc}") from None
    guard = _Guard()
    guard.visit(tree)
    if guard.problems:
        shown = guard.problems[:8]
        more = f" (+{len(guard.problems) - 8} more)" if len(guard.problems) > 8 else ""
        raise ProgramRejected("forbidden", "; ".join(shown) + more)
    return tree
