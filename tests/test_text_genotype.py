"""One genotype, two worlds: a generator program is text, and text is all either world reads.

* A program written to the paper's interface — ``DIVERSITY_AXES`` with name,
  definition and on/off playbooks, and ``generate_personas(context, axes, n, llm)``
  — with no other field runs in the sandbox offline and against a loopback
  OpenAI-compatible server.
* A text-only edit of one seed playbook (one sentence added, nothing else)
  moves the fingerprint feature that sentence names, in the expected direction,
  through the whole offline chain: generator reads prompt -> instruction ->
  reader -> offline user -> τ² episode -> fingerprint.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from fake_openai_server import text_reply

from ppol_nb.backends import OfflineBackend
from ppol_nb.evolution.program_edit import edit_kind
from ppol_nb.fitness import FEATURES, fingerprint, user_turns
from ppol_nb.llm import LLMClient, LLMConfig
from ppol_nb.offline.generator import OfflineGeneratorWorld
from ppol_nb.personas.conditions import condition_specs
from ppol_nb.personas.context import task_context
from ppol_nb.personas.programs import program_source
from ppol_nb.personas.sandbox import run_program
from ppol_nb.worlds.llm import LLMGeneratorWorld
from ppol_nb.simulation.runner import run_episode
from ppol_nb.simulation.tau2_bridge import get_task

# Written from the paper's description of a generator program (§2), in our own words.
PAPER_INTERFACE = '''
from ppol_nb.personas import toolkit as tk

DIVERSITY_AXES = [
    {"name": "guarded", "definition": "Reluctant to hand over personal details.",
     "on_playbook": "Ask why each detail is needed before giving it, and give one detail per message.",
     "off_playbook": "Share details as soon as they are asked for."},
    {"name": "rushed", "definition": "Short of time and short of words.",
     "on_playbook": "Use a few words per message and no greetings or thanks.",
     "off_playbook": "Write in full, relaxed sentences."},
]

POPULATION = """A customer will contact support about this situation:
{context}

Axes (each ON or OFF for a person):
{axes}

Propose {n} different people. Return a JSON array of objects with "persona_id", "description",
"axis_placement" (axis -> true/false) and "reasoning"."""

EXPANSION = """## Situation
{context}

## Who this customer is
{description}

## Active behaviours for this customer
{playbooks}

Write how this customer talks, addressed to them as "you", in 150-250 words."""


def generate_personas(context, axes, n, llm):
    members = tk.population(llm, "You design customers.", tk.fill(POPULATION, context=tk.format_context(context),
                            axes=tk.format_axes(axes), n=n), n, axes, context=context)

    def expand(handle, m):
        prompt = tk.fill(EXPANSION, context=tk.format_context(context), description=m["description"],
                         playbooks=tk.playbooks(axes, m["axis_placement"], include_off=False) or "(none)")
        return tk.expand(handle, "You write behaviour briefs.", prompt, m, axes, context)

    texts = tk.expand_all(llm, expand, members)
    return [dict(m, instruction=t) for m, t in zip(members, texts)]
'''


@pytest.fixture(scope="module")
def context():
    return task_context(get_task("retail", "0"), "retail")


def test_paper_interface_program_runs_offline(context):
    res = run_program(PAPER_INTERFACE, context, 4, OfflineGeneratorWorld(0), seed=0)
    assert res.ok, (res.error_kind, res.error, res.stderr_tail)
    assert [a["name"] for a in res.axes] == ["guarded", "rushed"]
    assert all(set(a) == {"name", "definition", "on_playbook", "off_playbook"} for a in res.axes)
    # The offline generator read the axes from the prompt text and spread the members over them.
    placements = {tuple(sorted(p.axis_placement.items())) for p in res.personas}
    assert len(placements) == 4
    for p in res.personas:
        assert ("Ask why each detail is needed" in p.instruction) == p.axis_placement["guarded"]


def _fake_llm(request: dict) -> dict:
    user = request["messages"][-1]["content"]
    if m := re.search(r"Propose (\d+) different people", user):
        members = [{"persona_id": f"m{i}", "description": f"Customer {i}, busy and plain-spoken today.",
                    "axis_placement": {"guarded": bool(i & 1), "rushed": bool(i & 2)}, "reasoning": "spread"}
                   for i in range(int(m.group(1)))]
        return text_reply("```json\n" + json.dumps(members) + "\n```")
    return text_reply("You keep your messages brief and you ask why a detail is needed before you give it. " * 8)


def test_paper_interface_program_runs_against_a_loopback_llm(fake_openai, context):
    server = fake_openai(_fake_llm)
    client = LLMClient(LLMConfig.openai("fake-model", base_url=server.url, api_key_env=None, max_retries=0))
    try:
        res = run_program(PAPER_INTERFACE, context, 4, LLMGeneratorWorld(client), seed=0)
    finally:
        client.close()
    assert res.ok, (res.error_kind, res.error, res.stderr_tail)
    assert len(server.requests) == 5  # one population call, four expansions
    assert res.personas[3].axis_placement == {"guarded": True, "rushed": True}


HEDGE = "Say 'I think' or 'maybe' before each detail you give, because you are never quite sure of it."


def _mean_feature(source: str, feature: str, tmp_path, name: str) -> float:
    program = tmp_path / f"{name}.py"
    program.write_text(source)
    specs, failures = condition_specs("program", "retail", "train", n_personas=4, seeds=(0,), limit=4,
                                      world=OfflineGeneratorWorld(0), cache_dir=tmp_path / f"cache-{name}",
                                      program=str(program))
    assert not failures and specs
    backend = OfflineBackend()
    rows = []
    for spec in specs:
        rec = run_episode(spec, backend)
        assert rec["error"] is None, rec["error"]
        rows.append(dict(zip(FEATURES, fingerprint(user_turns(rec["messages"]))))[feature])
    return float(np.mean(rows))


def test_a_text_only_playbook_edit_moves_the_feature_it_names(tmp_path):
    seed = program_source("seed")
    target = "then answer accurately."
    assert target in seed
    edited = seed.replace(target, target + " " + HEDGE, 1)
    assert edit_kind(seed, edited) == "text"  # one sentence in one playbook, nothing else
    before = _mean_feature(seed, "uncertainty_rate", tmp_path, "seed")
    after = _mean_feature(edited, "uncertainty_rate", tmp_path, "edited")
    assert after > before + 0.05, (before, after)
