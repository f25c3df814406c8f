"""Start-up stays lazy (issue 19): the CLI, and every command up to its preflight, import none of
τ², litellm, the OpenAI SDK, pandas, scikit-learn, SciPy or matplotlib — they cost seconds and are
loaded when first needed. Asserted on ``sys.modules`` in a fresh interpreter, never on time
(benchmarks/bench_startup.py measures the seconds)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("tau2", "litellm", "openai", "pandas", "sklearn", "scipy", "matplotlib")


def _heavy_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; return what it printed last (JSON) and the heavy modules loaded."""
    probe = code + f"\nimport sys, json\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", probe], check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return {"loaded": json.loads(done.stdout.strip().splitlines()[-1]), "stderr": done.stderr}


def test_importing_the_cli_loads_no_heavy_module():
    assert _heavy_after("import ppol_nb.cli")["loaded"] == []


def test_the_modules_on_the_way_to_the_preflight_load_no_heavy_module():
    # What main() and the commands import before their preflight: backend, preflight, run
    # directories, sandbox checks, episode files, and the search's budget and configuration.
    code = ("import ppol_nb.cli, ppol_nb.backends, ppol_nb.llm.preflight, ppol_nb.llm.client, ppol_nb.llm.ledger, "
            "ppol_nb.run_identity, ppol_nb.personas.isolation, ppol_nb.simulation.store, "
            "ppol_nb.simulation.tau2_bridge, ppol_nb.evolution.config, "
            "ppol_nb.evolution.curriculum, ppol_nb.fitness.score")
    assert _heavy_after(code)["loaded"] == []


@pytest.mark.parametrize("command", [
    ["rollout", "--domain", "retail", "--split", "test", "--limit", "1"],
    ["evolve", "--domain", "airline"],
])
def test_a_command_refused_by_its_preflight_loaded_no_heavy_module(tmp_path, command):
    # The whole path of a real command up to its preflight (here refused: the key variable is
    # unset, so nothing is sent): if an import crept back before the preflight, it shows here.
    # The deliberate background import of τ² (overlapping the preflight) is switched off and
    # counted instead: it must have been asked for, once, and only then.
    out = tmp_path / "run"
    argv = [*command, "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
            "--api-key-env", "PPOL_TEST_STARTUP_UNSET_KEY", "--out", str(out)]
    code = ("import os\nos.environ.pop('PPOL_TEST_STARTUP_UNSET_KEY', None)\n"
            "from ppol_nb.simulation import tau2_bridge\nasked = []\n"
            "tau2_bridge.import_in_background = lambda: asked.append(1)\n"
            f"from ppol_nb.cli import main\nassert main({argv!r}) == 2\nassert asked == [1], asked")
    result = _heavy_after(code)
    assert "PPOL_TEST_STARTUP_UNSET_KEY is not set" in result["stderr"]  # refused by the preflight, as meant
    assert result["loaded"] == []
    assert not out.exists()


def test_the_background_import_loads_tau2_and_a_caller_gets_the_same_modules():
    code = ("from ppol_nb.simulation import tau2_bridge\n"
            "thread = tau2_bridge.import_in_background()\n"
            "m = tau2_bridge.tau2_modules()  # waits for the import under way, does not start a second\n"
            "thread.join(60)\nassert not thread.is_alive()\n"
            "import tau2.registry\nassert m.registry is tau2.registry.registry\n"
            "assert m is tau2_bridge.tau2_modules()")
    assert {"tau2", "litellm"} <= set(_heavy_after(code)["loaded"])


def test_the_tau2_import_leaves_the_garbage_collector_as_it_found_it():
    from ppol_nb.simulation import tau2_bridge

    import_tau2 = tau2_bridge._import_tau2  # the uncached body: runs its gc handling again
    was = gc.isenabled()
    try:
        gc.enable()
        assert import_tau2().litellm is not None
        assert gc.isenabled()
        gc.disable()
        import_tau2()
        assert not gc.isenabled()  # a caller that paused the collector keeps it paused
    finally:
        (gc.enable if was else gc.disable)()
