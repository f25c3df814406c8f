"""The domain registry (ppol_nb.domains) is the one place a domain is named, and it matches τ² and the paper."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import ppol_nb
from ppol_nb import domains, paper

PACKAGE = Path(ppol_nb.__file__).parent
NAMES = re.compile(r"\b(retail|airline|telecom)\b")

# Where a domain's name may stand, and why. Keep this short: anything else looks the domain up.
ALLOWED = {
    # the registry itself
    ("domains.py", None),
    # the paper's reported numbers, copied as CSV text: their domain column is data, read by
    # paper.py's functions and filtered with registry names
    ("paper.py", "_TABLES_3_4"),
    ("paper.py", "_TABLE_5"),
    ("paper.py", "_AGENT_TRAINING"),
}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _module_assignments(tree: ast.Module) -> dict[int, str]:
    """id of each string constant assigned at module level -> the name it is assigned to."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            for sub in ast.walk(node.value):
                out[id(sub)] = node.targets[0].id
    return out


def domain_literals(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, text, module-level name it is assigned to) of every non-docstring string naming a domain."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs, assigned = _docstrings(tree), _module_assignments(tree)
    return [(node.lineno, node.value, assigned.get(id(node))) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
            and NAMES.search(node.value)]


def test_no_module_but_the_registry_spells_a_domain_name():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for line, text, name in domain_literals(path):
            if (rel, None) not in ALLOWED and (rel, name) not in ALLOWED:
                found.append(f"ppol_nb/{rel}:{line}: {text[:60]!r}")
    assert not found, "look these domains up in ppol_nb.domains instead:\n" + "\n".join(found)


def test_the_scan_sees_a_literal_and_skips_docstrings(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('"""About retail."""\nX = "airline"\ndef f():\n    """retail too."""\n    return f"{1}retail"\n')
    assert [(line, text) for line, text, _ in domain_literals(source)] == [(2, "airline"), (5, "retail")]


def test_every_registered_domain_is_a_tau2_domain_with_its_splits():
    from ppol_nb.simulation.tau2_bridge import DOMAINS, load_tasks, tau2_modules

    assert DOMAINS == domains.names() == ("retail", "airline")
    for name in domains.names():
        entry = domains.get(name)
        assert callable(tau2_modules().registry.get_env_constructor(name))
        sizes = {split: len(load_tasks(name, split)) for split in entry.splits}
        assert all(sizes.values()), sizes
    with pytest.raises(ValueError, match="unknown domain 'telecom'"):
        domains.get("telecom")


def test_the_paper_keys_are_registry_names():
    reported = (set(paper.fitness_rows()["domain"]) | set(paper.discriminator_table()["domain"])
                | set(paper.agent_training()["domain"]))
    assert reported == set(domains.PAPER_DOMAINS) | {domains.joint_key(domains.PAPER_JOINT_DOMAINS)}
    assert set(paper.importances()["domain"]) == {domains.PAPER_SINGLE_DOMAIN}


def test_corpora_and_offline_rules_come_from_the_registry():
    from ppol_nb.humans import abcd, tau_usi
    from ppol_nb.offline import behaviours

    assert tau_usi.TAU2_DOMAINS == domains.with_corpus("tau-usi") == ("retail", "airline")
    assert abcd.DOMAIN == "retail"
    for name in domains.names():
        rules = domains.get(name).offline
        assert behaviours.digression_pool(name)[:len(rules.digressions)] == list(rules.digressions)
    assert domains.get("airline").offline.item_verb == "booked"
