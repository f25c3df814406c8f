"""Editing generator-program source text: shared by the LLM and the offline mutator.

Two families of edits live here.

* **SEARCH/REPLACE blocks** (what the mutation LLM is asked to write)::

      <<<<<<< SEARCH
      lines copied from the current program
      =======
      the lines to put in their place
      >>>>>>> REPLACE

  :func:`parse_edit_blocks` reads them line by line (marker lines may carry
  surrounding whitespace; an empty REPLACE deletes). :func:`apply_edit_blocks`
  applies each block once, in order, to the text produced by the blocks before
  it: first as an exact substring (first occurrence), else with a
  whitespace-tolerant match — the SEARCH lines, with blank lines at either end
  dropped, must equal a run of consecutive program lines once leading and
  trailing whitespace is stripped from both sides. A tolerant match re-indents
  the REPLACE lines by the indentation difference between the first SEARCH line
  and the program line it matched, so a block the model indented wrongly (but
  consistently) still yields valid Python.

* **Literal assignments** (what the offline mutator transforms):
  :func:`read_constant` evaluates a module-level ``NAME = <literal>`` with
  :func:`ast.literal_eval`, and :func:`replace_constant` re-renders only that
  assignment (:func:`render_literal`, a stable pretty-printer) and splices it
  over the assignment's exact line span, so every other byte of the program is
  left as it was.

Plus :func:`validate_child` (the checks a proposed child must pass before it is
worth an evaluation), :func:`extract_program` (the program in a full-rewrite
reply), :func:`unified_diff` and :func:`edit_kind` (is a child a text-only edit
of its parent?).
"""

from __future__ import annotations

import ast
from ..source_parsing import parse as parse_source
import difflib
import json
import re
from dataclasses import dataclass, field

from ppol_nb.personas.static_check import ProgramRejected, check_source
from ppol_nb.personas.toolkit import AxesError, validate_axes

SEARCH_MARK = "<<<<<<< SEARCH"
DIVIDER_MARK = "======="
REPLACE_MARK = ">>>>>>> REPLACE"

_SEARCH_RE = re.compile(r"^\s*<{5,}\s*SEARCH\s*$")
_DIVIDER_RE = re.compile(r"^\s*={5,}\s*$")
_REPLACE_RE = re.compile(r"^\s*>{5,}\s*REPLACE\s*$")

ENTRY_POINT = "generate_personas"
AXES_NAME = "DIVERSITY_AXES"


class MutationError(Exception):
    """A mutator could not produce a usable child (the engine records a failed candidate).

    ``llm_calls`` / ``cost_usd`` say what the failed attempt spent (the client's
    ledger has the same calls), so a caller can account for it.
    """

    llm_calls: int = 0
    cost_usd: float = 0.0


class EditFormatError(MutationError):
    """A reply's SEARCH/REPLACE blocks are malformed (e.g. a block is never closed)."""


class InvalidProgram(MutationError):
    """A proposed child fails the static check, the size limit or the program contract."""


# -- SEARCH/REPLACE blocks ------------------------------------------------------------------------


@dataclass
class EditBlock:
    search: str
    replace: str


@dataclass
class EditOutcome:
    """What :func:`apply_edit_blocks` did: the new text and a per-block account."""

    source: str
    applied: int = 0
    tolerant: int = 0  # of the applied blocks, how many needed the whitespace-tolerant match
    missing: list[int] = field(default_factory=list)  # 1-based indices of blocks that matched nothing
    ambiguous: list[int] = field(default_factory=list)  # blocks whose SEARCH occurred more than once

    def summary(self, total: int) -> str:
        parts = [f"applied {self.applied}/{total} SEARCH/REPLACE block(s)"]
        if self.tolerant:
            parts.append(f"{self.tolerant} by whitespace-tolerant match")
        if self.missing:
            parts.append(f"not found: block(s) {self.missing}")
        if self.ambiguous:
            parts.append(f"SEARCH occurred more than once (first used): block(s) {self.ambiguous}")
        return "; ".join(parts)


def parse_edit_blocks(text: str) -> list[EditBlock]:
    """Every SEARCH/REPLACE block in ``text``, in order. Text outside blocks is ignored.

    Raises :class:`EditFormatError` for a block without its divider or end marker.
    """
    blocks: list[EditBlock] = []
    state, search, replace, start = "out", [], [], 0
    for number, line in enumerate((text or "").splitlines(), 1):
        if state == "out":
            if _SEARCH_RE.match(line):
                state, search, replace, start = "search", [], [], number
        elif state == "search":
            if _DIVIDER_RE.match(line):
                state = "replace"
            elif _SEARCH_RE.match(line) or _REPLACE_RE.match(line):
                raise EditFormatError(f"the block opened on line {start} of the reply has no '{DIVIDER_MARK}' line")
            else:
                search.append(line)
        else:  # state == "replace"
            if _REPLACE_RE.match(line):
                blocks.append(EditBlock("\n".join(search), "\n".join(replace)))
                state = "out"
            elif _SEARCH_RE.match(line):
                raise EditFormatError(f"the block opened on line {start} of the reply is never closed "
                                      f"with '{REPLACE_MARK}'")
            else:
                replace.append(line)
    if state != "out":
        raise EditFormatError(f"the block opened on line {start} of the reply is never closed with '{REPLACE_MARK}'")
    return blocks


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _reindent(lines: list[str], found: str, wanted: str) -> list[str]:
    """Shift ``lines`` by the indentation difference ``wanted`` - ``found`` (blank lines untouched)."""
    delta = len(wanted) - len(found)
    if delta == 0:
        return lines
    out = []
    for line in lines:
        if not line.strip():
            out.append(line)
        else:
            out.append(" " * max(0, len(_indent(line)) + delta) + line.lstrip())
    return out


def _tolerant_find(lines: list[str], search: str) -> tuple[int, int] | None:
    """(start, end) line indices of the first run of ``lines`` equal to ``search`` modulo whitespace."""
    wanted = search.splitlines()
    while wanted and not wanted[0].strip():
        wanted.pop(0)
    while wanted and not wanted[-1].strip():
        wanted.pop()
    if not wanted:
        return None
    key = [w.strip() for w in wanted]
    stripped = [line.strip() for line in lines]
    for i in range(len(lines) - len(key) + 1):
        if stripped[i:i + len(key)] == key:
            return i, i + len(key)
    return None


def apply_edit_blocks(source: str, blocks: list[EditBlock]) -> EditOutcome:
    """Apply ``blocks`` in order; see the module docstring for the matching rules."""
    outcome = EditOutcome(source)
    text = source
    for index, block in enumerate(blocks, 1):
        if block.search and block.search in text:
            if text.count(block.search) > 1:
                outcome.ambiguous.append(index)
            text = text.replace(block.search, block.replace, 1)
            outcome.applied += 1
            continue
        lines = text.splitlines(keepends=True)
        span = _tolerant_find([line.rstrip("\r\n") for line in lines], block.search)
        if span is None:
            outcome.missing.append(index)
            continue
        start, end = span
        search_lines = [s for s in block.search.splitlines() if s.strip()]
        new_lines = block.replace.splitlines()
        new_lines = _reindent(new_lines, _indent(search_lines[0]), _indent(lines[start]))
        ending = "\n" if lines[end - 1].endswith("\n") else ""
        replacement = "\n".join(new_lines) + ending if new_lines else ""
        text = "".join(lines[:start]) + replacement + "".join(lines[end:])
        outcome.applied += 1
        outcome.tolerant += 1
    outcome.source = text
    return outcome


# -- full-program replies ---------------------------------------------------------------------------

_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)


def extract_program(text: str) -> str | None:
    """The program in a full-rewrite reply, or None.

    Prefers the longest ```python fenced block, then the longest fenced block of
    any language, then the whole reply if it parses as Python and defines the
    entry point (some models skip the fence).
    """
    fences = [(lang.lower(), body) for lang, body in _FENCE_RE.findall(text or "")]
    for wanted in (("python", "py", "python3"), None):
        bodies = [b for lang, b in fences if wanted is None or lang in wanted]
        bodies = [b for b in bodies if b.strip()]
        if bodies:
            return max(bodies, key=len).strip("\n") + "\n"
    bare = (text or "").strip()
    if f"def {ENTRY_POINT}" in bare:
        try:
            parse_source(bare)
        except SyntaxError:
            return None
        return bare + "\n"
    return None


# -- validation -------------------------------------------------------------------------------------


def validate_child(source: str, max_code_length: int = 65_536) -> ast.Module:
    """Raise :class:`InvalidProgram` unless ``source`` is worth evaluating.

    Checks, cheapest first: length against ``max_code_length``; the sandbox's
    static guard (syntax, imports, forbidden names and attributes); the contract
    that the module defines ``generate_personas`` and assigns ``DIVERSITY_AXES``
    at top level; and, when ``DIVERSITY_AXES`` is a plain literal, the axis
    contract itself (an axis computed at run time is left to the sandbox).
    """
    if not isinstance(source, str) or not source.strip():
        raise InvalidProgram("the child program is empty")
    if len(source) > max_code_length:
        raise InvalidProgram(f"the child program is {len(source)} characters; max_code_length is {max_code_length}")
    try:
        tree = check_source(source)
    except ProgramRejected as exc:
        raise InvalidProgram(f"the child program fails the sandbox's static check ({exc.kind}): {exc.message}") \
            from None
    functions = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if ENTRY_POINT not in functions:
        raise InvalidProgram(f"the child program defines no top-level {ENTRY_POINT}(context, axes, n, llm)")
    node = find_assignment(tree, AXES_NAME)
    if node is None:
        raise InvalidProgram(f"the child program assigns no top-level {AXES_NAME}")
    try:
        axes = ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return tree  # built at run time: the sandbox checks it when the program runs
    try:
        validate_axes(axes)
    except AxesError as exc:
        raise InvalidProgram(f"the child's {AXES_NAME} breaks the axis contract: {exc}") from None
    return tree


# -- literal assignments ------------------------------------------------------------------------------


def find_assignment(tree: ast.Module, name: str) -> ast.Assign | ast.AnnAssign | None:
    """The last top-level ``name = ...`` (the binding in force after import), or None."""
    found = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            found = node
    return found


def read_constant(source: str, name: str, tree: ast.Module | None = None):
    """The value of top-level ``name = <literal>``; ``KeyError`` if absent, ``ValueError`` if not a literal."""
    tree = tree or parse_source(source)
    node = find_assignment(tree, name)
    if node is None:
        raise KeyError(name)
    try:
        return ast.literal_eval(node.value)
    except (TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"{name} is not a plain literal: {exc}") from None


def replace_constant(source: str, name: str, value, tree: ast.Module | None = None) -> str:
    """``source`` with top-level ``name``'s value re-rendered; nothing else changes.

    The assignment's exact span (from its first line to its end column; a
    trailing comment on the last line is kept) is replaced by
    ``name = <render_literal(value)>``. Raises ``KeyError`` if there is no such
    assignment or it shares a line with another statement.
    """
    tree = tree or parse_source(source)
    node = find_assignment(tree, name)
    if node is None:
        raise KeyError(name)
    lines = source.splitlines(keepends=True)
    first, last = node.lineno - 1, node.end_lineno - 1
    # Column offsets are UTF-8 byte offsets.
    head = lines[first].encode("utf-8")[: node.col_offset].decode("utf-8")
    tail = lines[last].encode("utf-8")[node.end_col_offset:].decode("utf-8")
    if head.strip() or tail.strip().startswith(";"):
        raise KeyError(f"{name} shares a line with another statement")
    annotation = ""
    if isinstance(node, ast.AnnAssign):
        annotation = ": " + ast.get_source_segment(source, node.annotation)
    rendered = f"{head}{name}{annotation} = {render_literal(value, old=(source, node.value))}{tail}"
    if not rendered.endswith("\n") and last + 1 < len(lines):
        rendered += "\n"
    return "".join(lines[:first]) + rendered + "".join(lines[last + 1:])


# Lines of rendered string literals stay near this width (the seed's style).
WRAP_AT = 100


def _string_chunks(text: str, width: int) -> list[str]:
    """``text`` cut at word boundaries into pieces whose concatenation is ``text``."""
    pieces, current = [], ""
    for token in re.findall(r"\S+\s*|\s+", text):
        if current and len(current) + len(token) > width:
            pieces.append(current)
            current = ""
        current += token
    if current or not pieces:
        pieces.append(current)
    return pieces


def _quote(text: str) -> str:
    # JSON string syntax is valid Python string syntax; double quotes match the seed.
    return json.dumps(text, ensure_ascii=False)


def _old_lines(old) -> dict[str, str]:
    """Value line -> its source text, for an old plain triple-quoted string literal (else empty).

    Lets an edited prompt keep the wrapping of every line that did not change.
    """
    if old is None:
        return {}
    source, node = old
    segment = ast.get_source_segment(source, node) if isinstance(node, ast.Constant) else None
    if not segment or not segment.startswith('"""') or not segment.endswith('"""'):
        return {}
    body = segment[3:-3]
    if body.replace("\\\n", "") != node.value:  # other escapes in play: do not try to be clever
        return {}
    return {piece.replace("\\\n", ""): piece for piece in re.split(r"(?<!\\)\n", body)}


def _triple_quoted(text: str, reuse: dict[str, str]) -> str | None:
    """A triple-quoted literal for multi-line prompt text (long lines wrapped with ``\\``), or None."""
    if "\\" in text or '"""' in text or text.endswith('"') or any(
            not (c.isprintable() or c == "\n") for c in text):
        return None
    out_lines = []
    for line in text.split("\n"):
        if line in reuse:
            out_lines.append(reuse[line])
            continue
        pieces = _string_chunks(line, WRAP_AT) if len(line) > WRAP_AT else [line]
        # A backslash at the end of a source line inside the literal joins it to the next one.
        out_lines.append("\\\n".join(pieces))
    return '"""' + "\n".join(out_lines) + '"""'


def render_literal(value, indent: str = "", old=None) -> str:
    """A readable Python literal for ``value`` (dicts, lists, tuples, str, numbers, bool, None).

    Short values stay on one line; long containers get one item per line with a
    trailing comma; long single-line strings become parenthesised implicit
    concatenations; multi-line strings become triple-quoted. ``old`` =
    ``(source, node)`` is the literal being replaced: parts of the new value
    equal to parts of the old one (list items, dict values, prompt lines) keep
    their original source text, so a diff shows only what changed. The result
    always evaluates back to ``value`` (checked; ``ValueError`` otherwise).
    """
    text = _render(value, indent, old)
    if ast.literal_eval(text.strip()) != value:
        raise ValueError("render_literal round trip failed")
    return text


def _literal(node):
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _segment(source: str, node) -> str:
    """The source text of ``node``, with the parentheses around it if it has its own pair.

    ``ast`` spans exclude grouping parentheses, so a wrapped string such as
    ``("a "\n "b")`` would otherwise lose them (still valid, but misaligned).
    """
    data = source.encode("utf-8")
    starts = [0]
    for line in source.encode("utf-8").splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    begin = starts[node.lineno - 1] + node.col_offset
    end = starts[node.end_lineno - 1] + node.end_col_offset
    before, after = begin, end
    while before > 0 and data[before - 1:before].isspace():
        before -= 1
    while after < len(data) and data[after:after + 1].isspace():
        after += 1
    if before > 0 and data[before - 1:before] == b"(" and data[after:after + 1] == b")":
        begin, end = before - 1, after + 1
    return data[begin:end].decode("utf-8")


def _reusable(source: str, node, column: int) -> tuple[bool, object, str | None]:
    """(is literal, value, source text) of an old part, text only if it sat at ``column``."""
    ok, value = _literal(node)
    if not ok or getattr(node, "col_offset", -1) != column:
        return ok, value, None
    return ok, value, _segment(source, node)


def _render(value, indent: str, old=None) -> str:
    inner = indent + "    "
    source, node = old if old is not None else (None, None)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        return repr(round(value, 4))
    if isinstance(value, str):
        if "\n" in value:
            triple = _triple_quoted(value, _old_lines(old))
            if triple is not None and ast.literal_eval(triple) == value:
                return triple
        single = _quote(value)
        if len(single) + len(indent) <= WRAP_AT + 10 and "\n" not in value:
            return single
        pieces = _string_chunks(value, WRAP_AT - len(inner))
        return "(\n" + "".join(f"{inner}{_quote(p)}\n" for p in pieces) + f"{indent})"
    multiline_before = node is not None and node.lineno != node.end_lineno
    if isinstance(value, (list, tuple)):
        opener, closer = ("[", "]") if isinstance(value, list) else ("(", ")")
        olds = [_reusable(source, e, len(inner)) + (e,) for e in getattr(node, "elts", [])
                if isinstance(node, (ast.List, ast.Tuple))]
        parts = []
        for v in value:
            match = next((o for o in olds if o[0] and o[1] == v and o[2] is not None), None)
            if match is None and isinstance(v, dict) and "name" in v:  # same axis, edited: recurse into it
                match = next((o for o in olds if o[0] and isinstance(o[1], dict) and o[1].get("name") == v["name"]),
                             None)
                parts.append(_render(v, inner, (source, match[3]) if match else None))
                continue
            if match is not None:
                olds.remove(match)
                parts.append(match[2])
            else:
                parts.append(_render(v, inner))
        flat = opener + ", ".join(_render(v, "") for v in value) + (
            "," if isinstance(value, tuple) and len(value) == 1 else "") + closer
        if not multiline_before and "\n" not in flat and len(flat) + len(indent) <= WRAP_AT:
            return flat
        return opener + "\n" + "".join(f"{inner}{p},\n" for p in parts) + f"{indent}{closer}"
    if isinstance(value, dict):
        olds = {}
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and k.col_offset == len(inner):
                    olds[k.value] = v
        parts = []
        for k, v in value.items():
            key = _quote(k) if isinstance(k, str) else _render(k, "")
            prev = olds.get(k)
            if prev is not None:
                ok, was, segment = _reusable(source, prev, prev.col_offset)
                if ok and was == v and segment is not None:
                    parts.append(f"{inner}{key}: {segment},\n")
                    continue
                parts.append(f"{inner}{key}: {_render(v, inner, (source, prev))},\n")
            else:
                parts.append(f"{inner}{key}: {_render(v, inner)},\n")
        flat = "{" + ", ".join(f"{_quote(k) if isinstance(k, str) else _render(k, '')}: {_render(v, '')}"
                               for k, v in value.items()) + "}"
        if not multiline_before and "\n" not in flat and len(flat) + len(indent) <= WRAP_AT:
            return flat
        return "{\n" + "".join(parts) + f"{indent}}}"
    raise TypeError(f"cannot render {type(value).__name__} as a literal")


# -- diffs --------------------------------------------------------------------------------------------


def unified_diff(parent: str, child: str, context: int = 3) -> str:
    """A unified diff parent -> child, as stored on the child's record."""
    return "".join(difflib.unified_diff(parent.splitlines(keepends=True), child.splitlines(keepends=True),
                                        fromfile="parent.py", tofile="child.py", n=context))


class _Blank(ast.NodeTransformer):
    """Replaces every string constant by one placeholder: what is left is the program's shape."""

    def visit_Constant(self, node: ast.Constant):
        return ast.copy_location(ast.Constant("<text>"), node) if isinstance(node.value, str) else node


def _shape(source: str) -> str:
    return ast.dump(_Blank().visit(parse_source(source)), annotate_fields=False)


def edit_kind(parent: str, child: str) -> str:
    """What a child changed relative to its parent:

    * ``"same"`` — nothing (up to formatting and comments);
    * ``"text"`` — only string literals: playbook sentences, definitions, prompts;
      the axes, their number and names' positions and all code are as they were
      (a renamed axis counts as text: its name is a string);
    * ``"structure"`` — anything else: axes added or dropped, code changed;
    * ``"unparsable"`` — either side is not valid Python.
    """
    try:
        if ast.dump(parse_source(parent)) == ast.dump(parse_source(child)):
            return "same"
        return "text" if _shape(parent) == _shape(child) else "structure"
    except SyntaxError:
        return "unparsable"

