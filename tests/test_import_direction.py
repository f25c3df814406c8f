"""Import directions that issue 23 fixed stay fixed (grimp, import-linter's graph; function-level imports count).

The full layer contracts come later (import-linter in pyproject.toml); these are the circles and
upward imports removed so far: job types below runner and executors, fitness training (and the
offline agent's caption) in the library, the domain registry at the bottom.
"""

from __future__ import annotations

import grimp
import pytest


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("ppol_nb", cache_dir=None)


def chains(graph, importer: str, imported: str) -> list[str]:
    return [" > ".join(c) for c in graph.find_shortest_chains(importer=importer, imported=imported, as_packages=True)]


def test_the_runner_and_the_job_types_import_no_executor(graph):
    assert chains(graph, "ppol_nb.simulation", "ppol_nb.execution") == []
    assert graph.find_modules_directly_imported_by("ppol_nb.simulation.jobs") == set()


def test_the_executors_reach_the_runner_downwards_only(graph):
    assert chains(graph, "ppol_nb.execution", "ppol_nb.simulation")  # they do use it ...
    assert not graph.find_shortest_chain(importer="ppol_nb.simulation.runner", imported="ppol_nb.execution")


@pytest.mark.parametrize("room", ["ppol_nb.evolution", "ppol_nb.execution",
                                  "ppol_nb.fitness", "ppol_nb.simulation", "ppol_nb.humans", "ppol_nb.personas"])
def test_the_library_imports_no_study(graph, room):
    assert chains(graph, room, "ppol_nb.studies") == []


def test_the_domain_registry_imports_nothing_of_the_package(graph):
    assert {m for m in graph.find_modules_directly_imported_by("ppol_nb.domains") if m.startswith("ppol_nb")} == set()


def test_no_module_level_circle_through_the_runner(graph):
    upstream = graph.find_upstream_modules("ppol_nb.simulation.runner")
    downstream = graph.find_downstream_modules("ppol_nb.simulation.runner")
    assert not upstream & downstream


@pytest.mark.parametrize("importer, imported", [("ppol_nb.analysis", "ppol_nb.studies"), ("ppol_nb.analysis", "ppol_nb.apps"),
                                                ("ppol_nb.apps", "ppol_nb.studies"), ("ppol_nb.analysis", "ppol_nb.cli"),
                                                ("ppol_nb.apps", "ppol_nb.cli"), ("ppol_nb.studies", "ppol_nb.cli")])
def test_the_rooms_import_downwards_only(graph, importer, imported):
    # studies -> apps -> analysis -> the library; the CLI sits on top and nothing imports it.
    assert chains(graph, importer, imported) == []


def test_the_apps_use_the_analysis_room(graph):
    # ... and the test above could fail: apps do import analysis (the answers' columns are the statistics' columns).
    assert chains(graph, "ppol_nb.apps", "ppol_nb.analysis")


def test_import_linter_contracts_hold():
    """pyproject.toml's [tool.importlinter] layers and world independence, as CI runs them (`lint-imports`)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    env = {**__import__("os").environ, "PYTHONPATH": str(root)}  # this checkout's ppol_nb, not an installed one
    done = subprocess.run([exe, "--no-cache", "--config", str(root / "pyproject.toml")], cwd=root, env=env, check=False,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_llm_world_and_the_offline_world_are_apart(graph):
    assert chains(graph, "ppol_nb.offline", "ppol_nb.worlds.llm") == []
    assert chains(graph, "ppol_nb.worlds.llm", "ppol_nb.offline") == []
    assert not graph.find_shortest_chain(importer="ppol_nb.simulation.runner", imported="ppol_nb.personas")
