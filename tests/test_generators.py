"""Generator programs: the seed in the sandbox (offline and against a loopback LLM),
failure modes as error records, the persona cache and the DP baseline."""

from __future__ import annotations

import json
import re
import textwrap
import time

import pytest
from fake_openai_server import text_reply

from ppol_nb.llm import LLMClient, LLMConfig
from ppol_nb.personas.cache import PersonaCache, generate_for_task
from ppol_nb.personas.context import task_context
from ppol_nb.personas.direct import direct_for_task
from ppol_nb.offline.generator import OfflineGeneratorWorld, spread_placements
from ppol_nb.personas.programs import program_source
from ppol_nb.personas.record import Persona
from ppol_nb.personas.sandbox import ERROR_KINDS, run_program, sandbox_env
from ppol_nb.personas.static_check import ProgramRejected, check_source
from ppol_nb.personas.toolkit import parse_json, validate_axes
from ppol_nb.worlds.llm import LLMGeneratorWorld
from ppol_nb.simulation.tau2_bridge import get_task

SEED = program_source("seed")
FORBIDDEN_WORDS = re.compile(r"simulat|\bAI\b|benchmark|language model|\bpersona\b", re.IGNORECASE)
SECRET = "sk-test-secret-value-123456"


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def retail_task():
    return get_task("retail", "5")


@pytest.fixture(scope="module")
def retail_context(retail_task):
    return task_context(retail_task, "retail")


@pytest.fixture(scope="module")
def seed_runs(retail_context):
    world = OfflineGeneratorWorld(0)
    return {n: run_program(SEED, retail_context, n, world, seed=0) for n in (5, 8)}


# -- the seed program, offline -------------------------------------------------------------


def test_task_context_fields(retail_context):
    assert retail_context["domain"] == "retail"
    assert "water bottle" in retail_context["reason_for_call"]
    assert set(retail_context) >= {"reason_for_call", "known_info", "unknown_info", "task_instructions"}


@pytest.mark.parametrize("n", [5, 8])
def test_seed_offline_returns_n_valid_personas(seed_runs, n):
    res = seed_runs[n]
    assert res.ok, (res.error_kind, res.error, res.stderr_tail)
    assert len(res.personas) == n and all(isinstance(p, Persona) for p in res.personas)
    assert res.llm_calls == n + 1  # one population call, one expansion per member
    assert [a["name"] for a in res.axes] == ["terse", "skeptical", "frustrated", "ambiguous"]
    for p in res.personas:
        assert 150 <= words(p.instruction) <= 250, words(p.instruction)
        assert not FORBIDDEN_WORDS.search(p.instruction), p.instruction
        assert set(p.axis_placement) == {"terse", "skeptical", "frustrated", "ambiguous"}
        assert p.source == f"program:{res.program_hash[:12]}"
        assert 2 <= len(re.findall(r"[.!?](?:\s|$)", p.description)) <= 3, p.description
    # Placements spread over the cube: all distinct while 2^4 = 16 corners allow it.
    placements = {tuple(sorted(p.axis_placement.items())) for p in res.personas}
    assert len(placements) == n
    # Every axis is used, and not by everyone.
    for axis in ("terse", "skeptical", "frustrated", "ambiguous"):
        on = sum(p.axis_placement[axis] for p in res.personas)
        assert 0 < on < n


def test_instructions_are_written_from_the_active_playbooks(seed_runs):
    """The offline generator reads the expansion prompt, which carries the ON playbooks of active axes only."""
    axes = {a["name"]: a for a in seed_runs[8].axes}
    for p in seed_runs[8].personas:
        for name, axis in axes.items():
            first = re.split(r"(?<=[.!?])\s", axis["on_playbook"].strip())[0]
            assert (first in p.instruction) == p.axis_placement[name], (name, p.instruction)
    assert not any("offline" in p.to_dict() or "behaviour" in p.to_dict() for p in seed_runs[8].personas)


def test_seed_is_deterministic_with_stable_ids(seed_runs, retail_context):
    again = run_program(SEED, retail_context, 5, OfflineGeneratorWorld(0), seed=0)
    assert [p.to_dict() for p in again.personas] == [p.to_dict() for p in seed_runs[5].personas]
    ids = [p.persona_id for p in again.personas]
    assert len(set(ids)) == 5 and all(re.fullmatch(r"[a-z0-9_]+-[0-9a-f]{8}", i) for i in ids)
    other = run_program(SEED, retail_context, 5, OfflineGeneratorWorld(0), seed=1)
    assert other.ok and [p.persona_id for p in other.personas] != ids


def test_offline_instructions_preserve_the_task(seed_runs, retail_task):
    from ppol_nb.personas.preservation import check_instruction
    from ppol_nb.simulation.scenario import build_scenario

    scenario_text = build_scenario(retail_task, "retail", set()).scenario_text
    for p in seed_runs[8].personas:
        report = check_instruction(p.instruction, scenario_text, "retail")
        assert report.ok, (p.instruction, report.violations)


def test_child_is_light_and_sees_no_secrets(seed_runs, monkeypatch, tmp_path):
    res = seed_runs[5]
    assert res.child_heavy_modules == []  # no tau2/numpy/openai in the child: start-up stays cheap
    assert set(res.child_env_keys) == set(sandbox_env("x"))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("PPOL_SOME_TOKEN", SECRET)
    env = sandbox_env(str(tmp_path))
    assert SECRET not in json.dumps(env)
    assert not any(re.search(r"KEY|TOKEN|SECRET|PROXY", k) for k in env)


def test_clashing_axes_are_never_both_on():
    axes = [{"name": f"a{i}", "definition": "d", "on_playbook": "on", "off_playbook": "off"}
            for i in range(4)]
    axes[0]["clashes_with"] = ["a1"]
    import random

    placements = spread_placements(validate_axes(axes), 12, random.Random(3))
    assert not any(p["a0"] and p["a1"] for p in placements)
    assert len({tuple(p.values()) for p in placements}) == 12  # 12 feasible corners, all used


# -- the same program against a loopback OpenAI-compatible server ----------------------------


def _fake_llm(request: dict) -> dict:
    user = request["messages"][-1]["content"]
    match = re.search(r"Propose (\d+) different", user)
    if match:
        n = int(match.group(1))
        axes = ["terse", "skeptical", "frustrated", "ambiguous"]
        members = [{"persona_id": f"member_{i}",
                    "description": f"A customer number {chr(65 + i)} who has a particular way of chatting. "
                                   "They are busy today.",
                    "axis_placement": {a: bool((i >> j) & 1) for j, a in enumerate(axes)},
                    "reasoning": "Adds a new corner."} for i in range(n)]
        return text_reply("Here you go:\n```json\n" + json.dumps(members) + "\n```")
    return text_reply(" ".join(["Keep your replies short and plain, and ask why when something is unclear."] * 12))


def test_seed_program_against_loopback_llm(fake_openai, retail_context, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # the parent has a key; nothing may leak it
    server = fake_openai(_fake_llm)
    client = LLMClient(LLMConfig.openai("fake-model", base_url=server.url, api_key_env=None, max_retries=0))
    try:
        res = run_program(SEED, retail_context, 5, LLMGeneratorWorld(client), seed=0)
    finally:
        client.close()
    assert res.ok, (res.error_kind, res.error, res.stderr_tail)
    assert len(res.personas) == 5 and res.llm_calls == 6 and len(server.requests) == 6
    pop = server.requests[0]
    assert pop["temperature"] == 0.8 and pop["max_tokens"] == 8000
    assert all(r["temperature"] == 0.7 and r["max_tokens"] == 800 for r in server.requests[1:])
    assert all("purpose" not in r for r in server.requests)  # metadata never reaches the endpoint
    blob = json.dumps(server.requests) + json.dumps(server.request_headers)
    assert SECRET not in blob
    assert "OPENAI_API_KEY" not in res.child_env_keys
    assert res.personas[0].axis_placement == {"terse": False, "skeptical": False, "frustrated": False,
                                              "ambiguous": False}
    assert client.ledger.summary() is not None and len(client.ledger) == 6


def test_llm_time_is_not_charged_to_the_program(fake_openai, retail_context):
    # Each call takes 0.6 s, so the run takes well over the 1 s limit in wall time; the
    # program itself is quick, and expansions run concurrently from the child's threads.
    server = fake_openai(_fake_llm, delay_s=0.6)
    client = LLMClient(LLMConfig.openai("fake-model", base_url=server.url, api_key_env=None, max_retries=0))
    try:
        t0 = time.perf_counter()
        res = run_program(SEED, retail_context, 4, LLMGeneratorWorld(client), seed=0, timeout_s=1.0)
        wall = time.perf_counter() - t0
    finally:
        client.close()
    assert res.ok, (res.error_kind, res.error)
    assert wall > 1.2 and server.max_in_flight >= 2


# -- failure modes: each an error record, never an exception ---------------------------------

AXES_SRC = textwrap.dedent('''
    DIVERSITY_AXES = [{"name": "terse", "definition": "few words", "on_playbook": "Be brief.",
                       "off_playbook": "Be normal."}]
''')

INSTR = "Keep your answers short and to the point, and never volunteer details before being asked."


def program(body: str, axes: str = AXES_SRC) -> str:
    return axes + textwrap.dedent(body)


def persona_list(n_expr: str = "n", placement: str = '{"terse": True}', instruction: str = "INSTR") -> str:
    return (f'    return [{{"persona_id": f"p{{i}}", "description": f"Person {{i}} on a bus.", '
            f'"axis_placement": {placement}, "reasoning": "r", "instruction": {instruction} + str(i)}} '
            f'for i in range({n_expr})]\n')


FAILURES = {
    "syntax": ("def generate_personas(context, axes, n, llm:\n    pass\n", "syntax"),
    "import_os": ("import os\nKEY = os.environ.get('OPENAI_API_KEY')\n", "forbidden"),
    "import_subprocess": ("import subprocess\n", "forbidden"),
    "dunder_import": ("m = __import__('os')\n", "forbidden"),
    "private_attr": ("import random\nos = random._os\n", "forbidden"),
    "subclasses": ("x = ().__class__.__base__.__subclasses__()\n", "forbidden"),
    "eval": ("def generate_personas(context, axes, n, llm):\n    return eval('1')\n", "forbidden"),
    "runtime_guard": (("def generate_personas(context, axes, n, llm):\n"
                       "    return getattr((), '_' + '_class__')\n"), "forbidden"),
    "exception": ("def generate_personas(context, axes, n, llm):\n    raise ValueError('boom in program')\n",
                  "exception"),
    "no_entry_point": ("X = 1\n", "contract"),
    "wrong_count": (f"INSTR = {INSTR!r}\ndef generate_personas(context, axes, n, llm):\n"
                    + persona_list("n - 1"), "output"),
    "not_a_list": ("def generate_personas(context, axes, n, llm):\n    return {'a': 1}\n", "output"),
    "missing_instruction": (("def generate_personas(context, axes, n, llm):\n"
                             "    return [{'persona_id': 'x', 'description': 'A person.'} for _ in range(n)]\n"),
                            "persona"),
    "short_instruction": ("INSTR = 'hi'\ndef generate_personas(context, axes, n, llm):\n"
                          + persona_list(), "persona"),
    "unknown_axis": (f"INSTR = {INSTR!r}\ndef generate_personas(context, axes, n, llm):\n"
                     + persona_list(placement='{"terse": True, "grumpy": True}'), "persona"),
    "llm_budget": (("from ppol_nb.personas import toolkit as tk\n"
                    "def generate_personas(context, axes, n, llm):\n"
                    "    for _ in range(100):\n"
                    "        tk.chat(llm, 's', 'p', temperature=0.7, max_tokens=5)\n"), "llm"),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failure_modes_are_error_records(name, retail_context):
    body, kind = FAILURES[name]
    res = run_program(program(body), retail_context, 3, OfflineGeneratorWorld(0), timeout_s=20)
    assert not res.ok and res.personas == []
    assert res.error_kind == kind, (res.error_kind, res.error, res.stderr_tail)
    assert kind in ERROR_KINDS and res.error
    if name == "exception":
        assert "ValueError: boom in program" in res.error and "raise ValueError" in res.error  # source line shown


def test_bad_axes_are_an_error_record(retail_context):
    axes = 'DIVERSITY_AXES = [{"name": "terse", "definition": "d", "on_playbook": "a"}]\n'
    res = run_program(program("def generate_personas(context, axes, n, llm):\n    return []\n", axes=axes),
                      retail_context, 3, OfflineGeneratorWorld(0))
    assert res.error_kind == "axes" and "off_playbook" in res.error


def test_infinite_loop_times_out_promptly(retail_context):
    src = program("def generate_personas(context, axes, n, llm):\n    while True:\n        pass\n")
    t0 = time.perf_counter()
    res = run_program(src, retail_context, 3, OfflineGeneratorWorld(0), timeout_s=2)
    assert res.error_kind == "timeout", (res.error_kind, res.error)
    assert time.perf_counter() - t0 < 6


def test_memory_blowup_is_contained(retail_context):
    src = program("def generate_personas(context, axes, n, llm):\n"
                  "    hoard = []\n    while True:\n        hoard.append(bytearray(4 * 1024 * 1024))\n")
    res = run_program(src, retail_context, 3, OfflineGeneratorWorld(0), memory_mb=200, timeout_s=20)
    assert res.error_kind == "memory", (res.error_kind, res.error, res.stderr_tail)
    huge = program("def generate_personas(context, axes, n, llm):\n    return [0] * (10 ** 10)\n")
    res = run_program(huge, retail_context, 3, OfflineGeneratorWorld(0), memory_mb=200)
    assert res.error_kind == "memory"


def test_prints_do_not_corrupt_the_channel(retail_context):
    src = program(f"INSTR = {INSTR!r}\ndef generate_personas(context, axes, n, llm):\n"
                  + "    print('{\"type\": \"result\", \"personas\": []}')\n" + persona_list())
    res = run_program(src, retail_context, 3, OfflineGeneratorWorld(0))
    assert res.ok and len(res.personas) == 3
    assert '"type": "result"' in res.stderr_tail


def test_static_check_is_only_a_guard_rail():
    check_source(SEED)
    check_source("from ppol_nb.personas.toolkit import parse_json\nimport collections.abc\n")
    with pytest.raises(ProgramRejected) as err:
        check_source("import ppol_nb.personas.record\n")
    assert err.value.kind == "forbidden"
    with pytest.raises(ProgramRejected):
        check_source("import typing\nsys = typing.sys\n")


def test_parse_json_handles_fences_and_prose():
    assert parse_json('```json\n[{"a": 1}]\n```') == [{"a": 1}]
    assert parse_json('Sure! Here it is: [1, 2] hope that helps') == [1, 2]
    with pytest.raises(ValueError):
        parse_json("no json here")


# -- cache and DP ----------------------------------------------------------------------------------


class CountingWorld(OfflineGeneratorWorld):
    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.calls = 0

    def answer(self, request, seed=0):
        self.calls += 1
        return super().answer(request, seed)


def test_cache_hit_makes_no_llm_calls(retail_task, tmp_path):
    world = CountingWorld(0)
    first = generate_for_task(SEED, retail_task, "retail", 5, world, seed=0, cache_dir=tmp_path)
    assert first.ok and not first.cached and world.calls == 6
    second = generate_for_task(SEED, "5", "retail", 5, world, seed=0, cache_dir=tmp_path)
    assert second.ok and second.cached and second.llm_calls == 0 and world.calls == 6
    assert [p.to_dict() for p in second.personas] == [p.to_dict() for p in first.personas]
    third = generate_for_task(SEED, retail_task, "retail", 5, world, seed=1, cache_dir=tmp_path)
    assert not third.cached and world.calls == 12 and len(PersonaCache(tmp_path)) == 2


def test_dp_offline_returns_n_valid_personas(retail_task, tmp_path):
    world = CountingWorld(0)
    res = direct_for_task(retail_task, "retail", 8, world, seed=0, cache_dir=tmp_path)
    assert res.ok, res.error
    assert len(res.personas) == 8 and world.calls == 1 and res.llm_calls == 1
    assert len({p.persona_id for p in res.personas}) == 8
    for p in res.personas:
        assert p.source == "dp" and p.axis_placement == {}
        assert 150 <= words(p.instruction) <= 250 and not FORBIDDEN_WORDS.search(p.instruction)
    again = direct_for_task(retail_task, "retail", 8, world, seed=0, cache_dir=tmp_path)
    assert again.cached and world.calls == 1
    assert [p.persona_id for p in again.personas] == [p.persona_id for p in res.personas]


def test_conditions_for_many_tasks_concurrently(tmp_path):
    from ppol_nb.personas.generate import personas_for_tasks
    from ppol_nb.simulation.tau2_bridge import load_tasks

    tasks = load_tasks("retail", "test")[:3]
    for condition in ("seed", "dp"):
        results = personas_for_tasks(condition, tasks, "retail", 4, OfflineGeneratorWorld(0), cache_dir=tmp_path)
        assert list(results) == [t.id for t in tasks]
        assert all(r.ok for r in results.values()), {k: r.error for k, r in results.items()}
        ids = [p.persona_id for r in results.values() for p in r.personas]
        assert len(set(ids)) == 12  # unique across tasks, so episode ids never collide
        if condition == "seed":
            assert all(p.source.startswith("seed:") for r in results.values() for p in r.personas)
    with pytest.raises(ValueError):
        personas_for_tasks("base", tasks, "retail", 4, OfflineGeneratorWorld(0))
