"""Mutation operators: the offline mutator's transformations (valid, runnable, deterministic),
the shared edit helpers, and the LLM mutator against a loopback OpenAI-compatible server."""

from __future__ import annotations

import ast
import json
import random
import re

import pytest
from fake_openai_server import text_reply

from ppol_nb.offline.axis_library import (
    AXIS_LIBRARY,
    AXIS_TAGS,
    PLAYBOOK_TACTICS,
    TAG_TACTICS,
    library_names,
)
from ppol_nb.evolution.interfaces import ProgramRecord
from ppol_nb.evolution.mutation import ANGLES, SYSTEM_PROMPT, LLMMutator
from ppol_nb.offline.mutator import OPERATOR_WEIGHTS, OfflineMutator
from ppol_nb.evolution.program_edit import (
    EditFormatError,
    InvalidProgram,
    MutationError,
    apply_edit_blocks,
    extract_program,
    parse_edit_blocks,
    read_constant,
    replace_constant,
    validate_child,
)
from ppol_nb.llm import LLMClient, LLMConfig
from ppol_nb.personas.context import task_context
from ppol_nb.offline.generator import OfflineGeneratorWorld
from ppol_nb.personas.programs import program_source
from ppol_nb.personas.sandbox import run_program
from ppol_nb.personas.static_check import check_source
from ppol_nb.personas.toolkit import validate_axes
from ppol_nb.simulation.tau2_bridge import get_task

SEED = program_source("seed")
N = 4


@pytest.fixture(scope="module")
def retail_context():
    return task_context(get_task("retail", "5"), "retail")


def record(source: str, pid: str = "p0", **kw) -> ProgramRecord:
    base = {"id": pid, "source": source, "parent_id": None, "island": 0, "iteration": 0, "generation": 0,
            "metrics": {"score": 0.31, "hl": 0.22, "coverage": 0.55}}
    base.update(kw)
    return ProgramRecord(**base)


def axes_of(source: str) -> list[dict]:
    return read_constant(source, "DIVERSITY_AXES")


def run_ok(source: str, context: dict, n: int = N):
    res = run_program(source, context, n, OfflineGeneratorWorld(0), seed=0, timeout_s=60)
    assert res.ok, (res.error_kind, res.error, res.stderr_tail)
    assert len(res.personas) == n
    return res


def assert_playbook_reaches_instructions(res, axis: dict) -> list:
    """Personas with ``axis`` on carry its (edited) ON playbook text in their instruction:
    the only way an edit reaches the offline user, as it is the only way it reaches an LLM."""
    on = [p for p in res.personas if p.axis_placement.get(axis["name"])]
    last = re.split(r"(?<=[.!?])\s", axis["on_playbook"].strip())[-1]
    return [p for p in on if last.rstrip(".") in p.instruction]


def inspiration_with_extra_axes() -> ProgramRecord:
    axes = axes_of(SEED) + [dict(a) for a in AXIS_LIBRARY if a["name"] in ("bursty", "stubborn")]
    return record(replace_constant(SEED, "DIVERSITY_AXES", axes), pid="insp1",
                  metrics={"score": 0.4, "hl": 0.3, "coverage": 0.6})


# -- axis library --------------------------------------------------------------------------------


def test_axis_library_is_valid_and_in_vocabulary():
    validate_axes([dict(a) for a in AXIS_LIBRARY])
    assert 15 <= len(AXIS_LIBRARY) <= 25
    assert set(AXIS_TAGS) == set(library_names())
    assert {t for topics in TAG_TACTICS.values() for t in topics} <= set(PLAYBOOK_TACTICS)
    assert all(set(a) <= {"name", "definition", "on_playbook", "off_playbook"} for a in AXIS_LIBRARY)


# -- edit helpers ------------------------------------------------------------------------------------


def test_replace_constant_round_trips_and_touches_only_that_assignment():
    assert replace_constant(SEED, "DIVERSITY_AXES", axes_of(SEED)) == SEED
    prompt = read_constant(SEED, "POPULATION_PROMPT")
    assert replace_constant(SEED, "POPULATION_PROMPT", prompt) == SEED
    axes = axes_of(SEED)
    axes[0]["definition"] = "Says very little."
    child = replace_constant(SEED, "DIVERSITY_AXES", axes)
    changed = [(a, b) for a, b in zip(SEED.splitlines(), child.splitlines(), strict=True) if a != b]
    assert len(SEED.splitlines()) == len(child.splitlines()) and len(changed) == 1
    assert axes_of(child) == axes


def test_edit_blocks_exact_tolerant_and_malformed():
    src = "def f():\n    x = 1\n    return x\n"
    exact = parse_edit_blocks("plan\n<<<<<<< SEARCH\n    x = 1\n=======\n    x = 2\n>>>>>>> REPLACE\n")
    assert apply_edit_blocks(src, exact).source == "def f():\n    x = 2\n    return x\n"
    # Wrong indentation in the reply: matched line by line, REPLACE re-indented to the program's.
    loose = parse_edit_blocks("<<<<<<< SEARCH\nx = 1\nreturn x\n=======\ny = 3\nreturn y\n>>>>>>> REPLACE")
    out = apply_edit_blocks(src, loose)
    assert out.tolerant == 1 and out.source == "def f():\n    y = 3\n    return y\n"
    missing = apply_edit_blocks(src, parse_edit_blocks("<<<<<<< SEARCH\nz = 9\n=======\nz = 8\n>>>>>>> REPLACE"))
    assert missing.applied == 0 and missing.missing == [1]
    with pytest.raises(EditFormatError):
        parse_edit_blocks("<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n")
    assert extract_program("text\n```python\nprint(1)\n```\nmore") == "print(1)\n"


def test_validate_child_rejects_bad_programs():
    validate_child(SEED)
    with pytest.raises(InvalidProgram, match="static check"):
        validate_child("import os\n" + SEED)
    with pytest.raises(InvalidProgram, match="max_code_length"):
        validate_child(SEED, max_code_length=100)
    with pytest.raises(InvalidProgram, match="generate_personas"):
        validate_child(SEED.replace("def generate_personas(", "def make_personas("))
    bad_axes = axes_of(SEED)
    del bad_axes[0]["off_playbook"]
    with pytest.raises(InvalidProgram, match="axis contract"):
        validate_child(replace_constant(SEED, "DIVERSITY_AXES", bad_axes))


# -- offline mutator ---------------------------------------------------------------------------------


@pytest.mark.parametrize("op", list(OPERATOR_WEIGHTS))
def test_every_offline_operator_yields_a_runnable_program(op, retail_context):
    inspirations = [inspiration_with_extra_axes()] if op == "crossover" else []
    parent = record(SEED)
    proposal = OfflineMutator(weights={op: 1.0}).propose(parent, inspirations, random.Random(3), 1)
    assert proposal.kind == "transform" and proposal.angle == op and proposal.notes
    assert proposal.source != SEED and proposal.diff.startswith("--- parent.py")
    check_source(proposal.source)
    validate_child(proposal.source)
    res = run_ok(proposal.source, retail_context)
    before = {a["name"]: a for a in axes_of(SEED)}
    after = {a["name"]: a for a in axes_of(proposal.source)}
    assert [a["name"] for a in res.axes] == list(after)
    touched = [a for name, a in after.items() if before.get(name) != a]
    if op in ("add_axis", "crossover", "revise_axis"):
        assert touched, "the operator must add or change an axis"
        if op in ("add_axis", "crossover"):
            assert set(after) > set(before)
        # Some persona has a touched axis on, and its instruction carries the edited text.
        carriers = [assert_playbook_reaches_instructions(res, axis) for axis in touched]
        assert any(carriers)
    elif op == "drop_axis":
        assert len(after) == len(before) - 1 and set(after) < set(before)
    else:  # prompt operators leave the axes alone
        assert after == before


def test_offline_mutator_is_deterministic():
    parent, insp = record(SEED), [inspiration_with_extra_axes()]
    m = OfflineMutator()
    children = [m.propose(parent, insp, random.Random(seed), 7) for seed in (11, 11, 12)]
    assert children[0].source == children[1].source and children[0].notes == children[1].notes
    many = {m.propose(parent, insp, random.Random(s), 7).source for s in range(12)}
    assert len(many) > 3  # different seeds explore different children


def test_crossover_merges_axes_by_name():
    parent = record(SEED)
    child = OfflineMutator(weights={"crossover": 1.0}).propose(parent, [inspiration_with_extra_axes()],
                                                               random.Random(0), 1)
    names = [a["name"] for a in axes_of(child.source)]
    assert len(names) == len(set(names))
    assert {"terse", "skeptical", "frustrated", "ambiguous"} <= set(names)
    assert set(names) & {"bursty", "stubborn"}
    assert "crossover with insp1" in child.notes


def test_drop_keeps_minimum_and_reflection_steers_additions():
    two = replace_constant(SEED, "DIVERSITY_AXES", axes_of(SEED)[:2])
    with pytest.raises(MutationError, match="no offline operator"):
        OfflineMutator(weights={"drop_axis": 1.0}).propose(record(two), [], random.Random(0), 1)
    friction = {a["name"] for a in AXIS_LIBRARY if "friction" in AXIS_TAGS[a["name"]]}
    parent = record(SEED, artifacts={"evaluator_reflection": "Personas are overly cooperative and robotic."})
    added = []
    for s in range(8):
        p = OfflineMutator(weights={"add_axis": 1.0}).propose(parent, [], random.Random(s), 1)
        (name,) = {a["name"] for a in axes_of(p.source)} - {"terse", "skeptical", "frustrated", "ambiguous"}
        added.append(name)
        assert "reflection hints: friction" in p.notes
    assert sum(name in friction for name in added) >= 5


def test_ten_offline_mutations_stay_valid(retail_context):
    m = OfflineMutator()
    current, history, ops = record(SEED), [], []
    for i in range(10):
        proposal = m.propose(current, history[-2:], random.Random(100 + i), i + 1)
        validate_child(proposal.source)
        validate_axes(axes_of(proposal.source))
        ops.append(proposal.angle)
        history.append(current)
        current = record(proposal.source, pid=f"p{i + 1}", generation=i + 1)
    assert len(set(ops)) >= 3
    run_ok(current.source, retail_context, n=5)


def test_hook_then_retune_runs(retail_context):
    m = OfflineMutator(weights={"population": 1.0})
    src = SEED
    for s in range(40):  # find a draw that installs the hook, then one that retunes it
        p = m.propose(record(src), [], random.Random(s), 1)
        if "hook" in p.notes or "factor" in p.notes:
            src = p.source
            if "factor" in p.notes:
                break
    assert "OVERGENERATION" in src and "def propose_population_pool(" in src
    assert read_constant(src, "OVERGENERATION") != 1.5
    res = run_ok(src, retail_context, n=5)
    assert len({tuple(sorted(p.axis_placement.items())) for p in res.personas}) == 5


def test_each_backend_makes_its_own_mutator():
    from ppol_nb.backends import LLMBackend, OfflineBackend

    assert isinstance(OfflineBackend().mutator(), OfflineMutator)
    client = LLMClient(LLMConfig.openai("m", base_url="http://127.0.0.1:9/v1", api_key_env=None))
    assert isinstance(LLMBackend(client).mutator(), LLMMutator)


# -- LLM mutator against a loopback server ---------------------------------------------------------------

REFLECTION = "The customers were overly cooperative: perfect data dumps, no typos, no pushback. MARKER-7731."
GOOD_BLOCK = """Plan: make the terse axis harsher.

<<<<<<< SEARCH
        "definition": "Communicates in as few words as possible, leaving out greetings, courtesy and elaboration.",
=======
        "definition": "Says as little as possible: fragments, no courtesy, no elaboration.",
>>>>>>> REPLACE
"""
MISSING_BLOCK = """<<<<<<< SEARCH
this line is not in the program
=======
something else
>>>>>>> REPLACE
"""


def _client(server):
    return LLMClient(LLMConfig.openai("fake-mutator", base_url=server.url, api_key_env=None, max_retries=0,
                                      price_in_per_mtok=1.0, price_out_per_mtok=2.0))


def _inspirations():
    a = inspiration_with_extra_axes()
    b = record(SEED.replace("Answer with JSON only.", "Answer with JSON only. INSPIRATION-B."), pid="insp2",
               metrics={"score": 0.35, "hl": 0.25, "coverage": 0.5})
    return [a, b]


def test_llm_diff_reply_and_prompt_contents(fake_openai):  # the "ppol_nb" wording (a named variant)
    server = fake_openai(lambda req: text_reply(GOOD_BLOCK))
    parent = record(SEED, artifacts={"evaluator_reflection": REFLECTION})
    with _client(server) as client:
        proposal = LLMMutator(client, prompt="ppol_nb").propose(parent, _inspirations(), random.Random(4), 3)
    assert proposal.kind == "diff" and proposal.llm_calls == 1 and proposal.cost_usd > 0
    assert '"definition": "Says as little as possible: fragments, no courtesy, no elaboration.",' in proposal.source
    assert axes_of(proposal.source)[0]["definition"] == "Says as little as possible: fragments, no courtesy, no elaboration."
    assert '+        "definition": "Says as little' in proposal.diff
    assert proposal.angle in {a.name for a in ANGLES}
    (req,) = server.requests
    assert req["temperature"] == 1.0 and req["max_tokens"] == 8192 and "seed" in req
    system, user = req["messages"][0]["content"], req["messages"][1]["content"]
    assert system == SYSTEM_PROMPT
    assert SEED.rstrip() in user and "MARKER-7731" in user
    assert "stubborn" in user and "INSPIRATION-B" in user  # both inspirations
    assert "score=0.3100, hl=0.2200, coverage=0.5500" in user
    prompt = system + user
    present = [a for a in ANGLES if a.instruction in prompt]
    assert len(present) == 1 and present[0].name == proposal.angle
    assert "<<<<<<< SEARCH" in user and ">>>>>>> REPLACE" in user


def test_llm_angle_follows_rng(fake_openai):
    server = fake_openai(lambda req: text_reply(GOOD_BLOCK))
    with _client(server) as client:
        mutator = LLMMutator(client)
        angles = [mutator.propose(record(SEED), [], random.Random(s), 1).angle for s in range(12)]
        again = [mutator.propose(record(SEED), [], random.Random(s), 1).angle for s in range(3)]
    assert again == angles[:3] and len(set(angles)) >= 3


def test_llm_unmatched_search_falls_back_to_rewrite(fake_openai):
    rewritten = SEED.replace("Skip greetings, thanks and ", "Skip greetings and ")

    def respond(req):
        if len(req["messages"]) == 2:
            return text_reply(MISSING_BLOCK)
        return text_reply("Here is the whole program:\n```python\n" + rewritten + "```\n")

    server = fake_openai(respond)
    with _client(server) as client:
        proposal = LLMMutator(client, rewrite_fallback=True).propose(record(SEED), [], random.Random(1), 1)
    assert len(server.requests) == 2 and proposal.kind == "rewrite" and proposal.llm_calls == 2
    assert "none of the 1 SEARCH block(s) matches" in proposal.notes
    assert proposal.source == rewritten
    follow_up = server.requests[1]["messages"]
    assert follow_up[2] == {"role": "assistant", "content": MISSING_BLOCK}
    assert "complete new program" in follow_up[3]["content"]


def test_llm_child_importing_os_is_rejected(fake_openai):
    evil_block = ("<<<<<<< SEARCH\nfrom ppol_nb.personas import toolkit as tk\n=======\n"
                  "import os\nfrom ppol_nb.personas import toolkit as tk\n>>>>>>> REPLACE\n")
    evil_program = "```python\nimport os\n" + SEED + "```"
    server = fake_openai(lambda req: text_reply(evil_block if len(req["messages"]) == 2 else evil_program))
    with _client(server) as client, pytest.raises(InvalidProgram) as info:
        LLMMutator(client, rewrite_fallback=True).propose(record(SEED), [], random.Random(2), 1)
    message = str(info.value)
    assert "static check" in message and "'os'" in message and "rewrite fallback" in message
    assert info.value.llm_calls == 2 and len(server.requests) == 2
    # The first request's reason reached the model.
    assert "invalid" in server.requests[1]["messages"][3]["content"]


def test_llm_oversize_child_is_rejected(fake_openai):
    padding = "# " + "x" * 400 + "\n"
    big_block = ("<<<<<<< SEARCH\nfrom ppol_nb.personas import toolkit as tk\n=======\n"
                 "from ppol_nb.personas import toolkit as tk\n" + padding * 20 + ">>>>>>> REPLACE\n")
    server = fake_openai(lambda req: text_reply(big_block))
    with _client(server) as client, pytest.raises(MutationError) as info:
        LLMMutator(client, max_code_length=len(SEED) + 1000, rewrite_fallback=False).propose(
            record(SEED), [], random.Random(2), 1)
    assert "max_code_length" in str(info.value)
    server2 = fake_openai(lambda req: text_reply(big_block if len(req["messages"]) == 2
                                                  else "```python\n" + SEED + padding * 20 + "```"))
    with _client(server2) as client, pytest.raises(InvalidProgram, match="max_code_length"):
        LLMMutator(client, max_code_length=len(SEED) + 1000, rewrite_fallback=True).propose(
            record(SEED), [], random.Random(2), 1)


def test_llm_full_program_reply_is_a_rewrite(fake_openai):
    rewritten = SEED.replace("150-250 words", "120-180 words")
    server = fake_openai(lambda req: text_reply("```python\n" + rewritten + "```"))
    with _client(server) as client:
        proposal = LLMMutator(client, rewrite_fallback=True).propose(record(SEED), [], random.Random(0), 1)
    assert proposal.kind == "rewrite" and proposal.llm_calls == 1 and "full program" in proposal.notes
    assert json.dumps(proposal.source) == json.dumps(rewritten)
    ast.parse(proposal.source)


def test_edit_kind_tells_text_edits_from_structural_ones():
    from ppol_nb.evolution.program_edit import edit_kind

    assert edit_kind(SEED, SEED + "\n# a comment\n") == "same"
    reworded = SEED.replace("Skip greetings, thanks and ", "Skip greetings and ")
    assert edit_kind(SEED, reworded) == "text"
    axes = axes_of(SEED) + [dict(AXIS_LIBRARY[0])]
    assert edit_kind(SEED, replace_constant(SEED, "DIVERSITY_AXES", axes)) == "structure"
    assert edit_kind(SEED, SEED.replace("def generate_personas(", "def generate_personas_(")) == "structure"
    assert edit_kind(SEED, "def broken(:\n") == "unparsable"


# -- the authors' prompt and failure rule (EvolutionConfig.mutator_prompt / rewrite_on_failed_diff) -------------


def test_authors_system_message_leaves_traits_and_fitness_to_the_reflection():
    from ppol_nb.evolution.mutation import AUTHORS_SYSTEM_PROMPT

    # The earlier wording describes the target customer and the fitness; the authors' does not.
    for phrase in ("brief, vague, guarded", "over-cooperative", "fixed judge", "range of human behaviour"):
        assert phrase in SYSTEM_PROMPT and phrase not in AUTHORS_SYSTEM_PROMPT, phrase
    for phrase in ("DIVERSITY_AXES", "structural changes", "evaluator reflection", "generate_personas(context"):
        assert phrase in AUTHORS_SYSTEM_PROMPT, phrase


def test_authors_prompt_carries_history_diversity_note_and_top_programs(fake_openai):
    from ppol_nb.evolution.interfaces import Attempt
    from ppol_nb.evolution.mutation import AUTHORS_SYSTEM_PROMPT

    history = [Attempt(7, None, None, None, {}, {"score": 0.3}, error="mutator raised MutationError: no blocks"),
               Attempt(5, "diff", "axes", "1 of 1 block(s) applied", {"score": 0.4, "hl": 0.3, "coverage": 0.6},
                       {"score": 0.3, "hl": 0.2, "coverage": 0.5}),
               Attempt(3, "diff", "expansion", None, {"score": 0.2, "hl": 0.3, "coverage": 0.4},
                       {"score": 0.3, "hl": 0.2, "coverage": 0.5})]
    server = fake_openai(lambda req: text_reply(GOOD_BLOCK))
    parent = record(SEED, artifacts={"evaluator_reflection": REFLECTION})
    with _client(server) as client:
        proposal = LLMMutator(client).propose(parent, _inspirations(), random.Random(4), 8, history=history)
    assert proposal.kind == "diff"
    (req,) = server.requests
    system, user = req["messages"][0]["content"], req["messages"][1]["content"]
    assert system == AUTHORS_SYSTEM_PROMPT
    assert "MARKER-7731" in user and SEED.rstrip() in user and "stubborn" in user and "INSPIRATION-B" in user
    assert user.index("Attempt of iteration 7") < user.index("Attempt of iteration 5") < user.index(
        "Attempt of iteration 3")  # most recent first
    assert "failed: mutator raised MutationError: no blocks" in user
    assert "score=0.4000, hl=0.3000, coverage=0.6000" in user and "improved on every metric" in user
    assert "mixed against its parent" in user and "focus 'axes': 1 of 1 block(s) applied" in user
    assert "similar fitness but different features are valuable" in user
    assert "human-likeness=0.2200, coverage of human behaviour=0.5500" in user
    assert "#### Program 2 (fitness 0.3500" in user
    # The parent's source comes right after the one "## Current program" heading (loopback servers read it there).
    assert user.count("## Current program\n") == 1
    assert user.split("## Current program\n", 1)[1].lstrip().startswith("```python\n" + SEED[:40])


def test_failed_diff_spends_the_call_without_a_follow_up(fake_openai):
    whole = "```python\n" + SEED.replace("150-250 words", "120-180 words") + "```"
    for reply, reason in ((MISSING_BLOCK, "none of the 1 SEARCH block(s) matches"),
                          (whole, "whole program instead of SEARCH/REPLACE blocks")):
        server = fake_openai(lambda req, reply=reply: text_reply(reply))
        with _client(server) as client, pytest.raises(MutationError) as info:
            LLMMutator(client).propose(record(SEED), [], random.Random(1), 1)
        assert reason in str(info.value) and "no follow-up" in str(info.value)
        assert len(server.requests) == 1 and info.value.llm_calls == 1
