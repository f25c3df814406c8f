"""Alternations with shared prefixes factored out (a trie), for fast lexicon regexes.

Python's regex engine tries the branches of an alternation one after another at
every candidate position, so a lexicon of a hundred phrases costs a hundred
comparisons per word. Factoring ``please|pls|plz`` into ``p(?:l(?:ease|s|z))``
lets the engine reject most words after one character. The set of strings the
alternation matches is unchanged; only the order in which branches are tried
differs, which does not matter to a "does this turn match?" test.

Entries are regex *fragments* that are concatenations of atoms — literals,
escapes such as ``\\s+`` or ``\\w*``, ``[...]`` classes and ``(...)`` groups, each
with an optional quantifier. A top-level ``|`` inside an entry is rejected.
"""

from __future__ import annotations


def _group_end(fragment: str, i: int) -> int:
    """Index just past the ``)`` closing the group that opens at ``fragment[i]``."""
    depth = 0
    while True:
        ch = fragment[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = fragment.index("]", i + 1)
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1


def atoms(fragment: str) -> list[str]:
    """Split a regex fragment into its concatenated atoms, each with its quantifier."""
    out: list[str] = []
    i, n = 0, len(fragment)
    while i < n:
        c = fragment[i]
        if c == "\\":
            j = i + 2
        elif c == "[":
            j = fragment.index("]", i + 1) + 1
        elif c == "(":
            j = _group_end(fragment, i)
        elif c == "|":
            raise ValueError(f"entry has a top-level '|', split it into entries: {fragment!r}")
        else:
            j = i + 1
        if j < n and fragment[j] in "?*+":
            j += 1
            if j < n and fragment[j] == "?":  # lazy quantifier
                j += 1
        elif j < n and fragment[j] == "{":
            j = fragment.index("}", j) + 1
        out.append(fragment[i:j])
        i = j
    return out


def _emit(node: dict) -> str:
    """Regex for the suffixes stored under ``node`` (key ``""`` marks an entry's end)."""
    branches = [atom + _emit(child) for atom, child in node.items() if atom]
    optional = "" in node
    if not branches:
        return ""
    if len(branches) == 1 and not optional:
        return branches[0]
    return "(?:" + "|".join(branches) + (")?" if optional else ")")


def trie_alternation(fragments: list[str] | tuple[str, ...]) -> str:
    """One regex matching exactly the strings some fragment matches, prefixes shared."""
    trie: dict = {}
    for fragment in fragments:
        node = trie
        for atom in atoms(fragment):
            node = node.setdefault(atom, {})
        node[""] = {}
    return _emit(trie)
