"""One contract suite per role, run over both worlds (issue 23, item 7).

In the spirit of scikit-learn's ``parametrize_with_checks``: each role of
:mod:`ppol_nb.worlds.contracts` has one list of checks, and every check runs with
the same assertions over the offline world (:class:`~ppol_nb.offline.backend.OfflineBackend`)
and the LLM world (:class:`~ppol_nb.backends.LLMBackend` on a loopback
OpenAI-compatible server, ``tests/fake_openai_server.py``). A new stand-in for a
role passes when it is added to :data:`WORLDS` and these checks hold.

The loopback model is a function of its prompt (a user's reply carries a digest
of its system prompt, a mutator reply edits the program it is shown), so the LLM
world's "reacts to the persona text" check fails if the text never reaches the
request, as the offline one fails if the offline user ignores the text.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pickle
import random
import subprocess
import sys

import pytest
from fake_openai_server import classify, search_world, text_reply

from ppol_nb.worlds import contracts
from ppol_nb.worlds.contracts import MAX_CRITIQUE_CHARS, STOP_TOKEN
from ppol_nb.worlds.registry import from_recipe

WORLDS = ("offline", "llm")
SECRET = "sk-contract-secret-0123456789"
CUSTOMER = "Yusuf Rossi"  # retail task 0's customer: must never reach a critique
TERSE = ("Type in lowercase fragments of a few words, skip greetings and never say please or thank you. "
         "Give one detail at a time, only when asked.")
FORMAL = ("Write long, formal, complete sentences. Greet the agent politely, say please and thank you in "
          "every message, and explain your whole situation in detail from the start.")


# -- the two worlds -----------------------------------------------------------------------------


def _loopback(request: dict):
    """The loopback model: search_world's roles, with a user and a reflector that read their prompt."""
    role = classify(request)
    messages = request["messages"]
    if role == "user":
        last = (messages[-1].get("content") or "").lower()
        if "anything else" in last:
            return text_reply(f"no, that's all, thanks {STOP_TOKEN}")
        digest = hashlib.sha256(messages[0]["content"].encode()).hexdigest()[:8]
        if len(messages) <= 2:
            return text_reply(f"hi, i need to exchange a keyboard (note {digest})")
        return text_reply(f"yusuf rossi, zip 19122 (note {digest})")
    if role == "reflection":  # breaks the reflector's output rules on purpose: the reflector must enforce them
        sentence = (f"In Task 3 the customer {CUSTOMER} stayed polite and cooperative and persona 2 "
                    "front-loaded every detail; push the terse and skeptical axes harder. ")
        return text_reply(sentence * 40, completion_tokens=1200)
    return search_world()(request)


class Harness:
    """One world under test, its loopback server (LLM only) and a fresh τ² episode context."""

    def __init__(self, kind: str, fake_openai, monkeypatch):
        self.kind = kind
        self.server = None
        if kind == "llm":
            monkeypatch.setenv("PPOL_CONTRACT_KEY", SECRET)  # a key the world holds and must never write out
            self.server = fake_openai(_loopback)
        self.world = self.make()

    def make(self, agent: str = "default"):
        """This world from the registry (what notebooks and the CLI get); ``agent="do-nothing"``: the control."""
        from ppol_nb.backends import make_backend

        if self.kind == "offline":
            return make_backend("offline", agent=agent)
        return make_backend("openai", model="fake-model", base_url=self.server.url, api_key_env="PPOL_CONTRACT_KEY",
                            max_retries=0, agent=agent)

    def requests(self) -> int:
        return len(self.server.requests) if self.server is not None else 0

    def episode(self, task_id: str = "0"):
        from ppol_nb.simulation.environments import make_environment
        from ppol_nb.simulation.runner import _write_tools
        from ppol_nb.simulation.scenario import build_scenario

        task = _task(task_id)
        env = make_environment("retail")
        return task, env, build_scenario(task, "retail", _write_tools(env))


@functools.cache
def _task(task_id: str):
    from ppol_nb.simulation.tau2_bridge import get_task

    return get_task("retail", task_id)


def _persona(instruction: str, axis_placement=None, description: str = "A customer writing from a phone on the bus."):
    from ppol_nb.personas import Persona

    return Persona.create(description=description, instruction=instruction,
                          axis_placement={"terse": True} if axis_placement is None else axis_placement, source="test")


def _m():
    from ppol_nb.simulation.tau2_bridge import tau2_modules

    return tau2_modules()


def _greeting():
    return _m().messages.AssistantMessage(role="assistant", content="Hi! How can I help you today?")


def _agent_says(text: str):
    return _m().messages.AssistantMessage(role="assistant", content=text)


def _user(h: Harness, persona=None, seed: int = 0):
    task, _env, scenario = h.episode()
    user = h.world.make_user(task, scenario, seed, persona=persona)
    return user, user.get_init_state()


# -- user simulator -----------------------------------------------------------------------------


def check_user_satisfies_the_protocol(h):
    user, _ = _user(h)
    assert isinstance(user, contracts.UserSimulator)
    assert isinstance(user, _m().BaseUser)  # τ²'s Orchestrator drives it


def check_user_opens_and_answers_in_text(h):
    user, state = _user(h, _persona(TERSE))
    first, state = user.generate_next_message(_greeting(), state)
    assert isinstance(first, _m().messages.UserMessage)
    assert isinstance(first.content, str) and first.content.strip()
    assert not user.is_stop(first)
    second, state = user.generate_next_message(
        _agent_says("Sure. Could you tell me your name and zip code so I can find your account?"), state)
    assert isinstance(second, _m().messages.UserMessage) and second.content.strip()
    assert not user.is_stop(second)


def check_user_stops_with_the_stop_token_when_done(h):
    user, state = _user(h)
    _, state = user.generate_next_message(_greeting(), state)
    done, state = user.generate_next_message(
        _agent_says("The exchange is done and the new item is on its way. Is there anything else I can help with?"),
        state)
    assert STOP_TOKEN in done.content and user.is_stop(done)


def check_user_is_reproducible_for_the_same_text_and_seed(h):
    texts = []
    for _ in range(2):
        user, state = _user(h, _persona(TERSE), seed=3)
        texts.append(user.generate_next_message(_greeting(), state)[0].content)
        if h.kind == "llm" and len(texts) == 1:
            asked = h.requests()
    assert texts[0] == texts[1]
    if h.kind == "llm":  # the second user was answered from the response cache, not by a new request
        assert h.requests() == asked


def check_user_reacts_to_the_persona_text(h):
    said = {}
    for name, text in (("terse", TERSE), ("formal", FORMAL)):
        user, state = _user(h, _persona(text))
        said[name] = user.generate_next_message(_greeting(), state)[0].content
    assert said["terse"] != said["formal"], said


def check_user_reads_only_the_instruction_text(h):
    # No side channel: the placement and the description are the generator's bookkeeping, not the user's prompt.
    said = set()
    for placement, description in (({"terse": True, "skeptical": False}, "A nurse on a night shift."),
                                   ({"terse": False, "skeptical": True}, "A retired teacher at home.")):
        user, state = _user(h, _persona(TERSE, placement, description))
        said.add(user.generate_next_message(_greeting(), state)[0].content)
    assert len(said) == 1, said


USER_CHECKS = (check_user_satisfies_the_protocol, check_user_opens_and_answers_in_text,
               check_user_stops_with_the_stop_token_when_done, check_user_is_reproducible_for_the_same_text_and_seed,
               check_user_reacts_to_the_persona_text, check_user_reads_only_the_instruction_text)


# -- agent --------------------------------------------------------------------------------------


def _assert_tau2_agent_message(message, env):
    from tau2.agent.base import validate_message_format  # τ²'s own rule: text or tool calls, not both, not neither

    assert isinstance(message, _m().messages.AssistantMessage)
    ok, why = validate_message_format(message)
    assert ok, why
    calls = message.tool_calls or []
    assert calls or (isinstance(message.content, str) and message.content.strip())
    names = {t.name for t in env.get_tools()}
    for call in calls:
        assert call.name in names and isinstance(call.arguments, dict)


def check_agent_satisfies_the_protocol(h):
    task, env, scenario = h.episode()
    agent = h.world.make_agent(env, task, scenario)
    assert isinstance(agent, contracts.Agent)


def check_agent_answers_in_tau2_format(h, world=None):
    m = _m()
    task, env, scenario = h.episode()
    agent = (world or h.world).make_agent(env, task, scenario)
    assert isinstance(agent, contracts.Agent)
    state = agent.get_init_state()
    opening = m.messages.UserMessage(
        role="user", content="hi, i'm Yusuf Rossi, zip 19122. i want to exchange a keyboard i got")
    reply, state = agent.generate_next_message(opening, state)
    _assert_tau2_agent_message(reply, env)
    if reply.tool_calls:  # τ² runs the call; the agent must go on from the result
        results = [env.get_response(call) for call in reply.tool_calls]
        message = results[0] if len(results) == 1 else m.messages.MultiToolMessage(role="tool",
                                                                                   tool_messages=results)
        reply, state = agent.generate_next_message(message, state)
        _assert_tau2_agent_message(reply, env)


def check_control_agent_answers_in_tau2_format(h):
    control = h.make(agent="do-nothing")  # the floor a success rate is read against, in either world
    assert control.agent_model == "do-nothing"
    check_agent_answers_in_tau2_format(h, control)
    assert h.requests() == 0  # the control agent asks no model


AGENT_CHECKS = (check_agent_satisfies_the_protocol, check_agent_answers_in_tau2_format,
                check_control_agent_answers_in_tau2_format)


# -- generator world ----------------------------------------------------------------------------


def check_generator_satisfies_the_protocol(h):
    gen = h.world.generator(0)
    assert isinstance(gen, contracts.GeneratorWorld)
    assert isinstance(gen.key, str) and gen.key and SECRET not in gen.key
    assert isinstance(gen.waits_on_network, bool)


def check_generator_refuses_a_malformed_request(h):
    gen = h.world.generator(0)
    for bad in ({"messages": []}, {"messages": "hello"}, {}):
        with pytest.raises(ValueError):
            gen.answer(bad, seed=0)
    assert h.requests() == 0  # refused before anything is sent


def check_generator_answers_the_same_request_identically(h):
    gen = h.world.generator(0)
    request = {"messages": [{"role": "system", "content": "You write roleplay instructions."},
                            {"role": "user", "content": "Write how this customer talks, in 150-250 words. "
                                                        "Who this customer is: a nurse on a night shift."}],
               "temperature": 0.7, "max_tokens": 800}
    first = gen.answer(request, seed=5)
    asked = h.requests()
    assert isinstance(first, str) and first.strip()
    assert gen.answer(request, seed=5) == first
    assert h.requests() == asked  # LLM: replayed from the cache


def check_generator_reads_only_the_messages_text(h):
    gen = h.world.generator(0)
    plain = {"messages": [{"role": "user", "content": "Write how this customer talks, in 150-250 words. "
                                                      "Who this customer is: a retired teacher."}]}
    first = gen.answer(plain, seed=2)
    asked = h.requests()
    # Metadata a program might attach, beside and inside the messages, reaches no model.
    noisy = {"messages": [{**plain["messages"][0], "axis": "terse", "name": "p0"}],
             "purpose": "expansion", "axes": [{"name": "terse"}]}
    assert gen.answer(noisy, seed=2) == first
    assert h.requests() == asked  # LLM: the very same request, so the cache answered


def check_generator_runs_the_seed_program_to_valid_personas(h):
    from ppol_nb.personas.context import task_context
    from ppol_nb.personas.programs import program_source
    from ppol_nb.personas.sandbox import run_program

    res = run_program(program_source("seed"), task_context(_task("5"), "retail"), 3, h.world.generator(0), seed=0)
    assert res.ok, (res.error_kind, res.error, res.stderr_tail)
    assert len(res.personas) == 3 and len({p.persona_id for p in res.personas}) == 3
    axes = {a["name"] for a in res.axes}
    for persona in res.personas:
        record = persona.to_dict()
        assert {"persona_id", "description", "axis_placement", "instruction"} <= set(record)
        assert record["instruction"].strip() and set(record["axis_placement"]) <= axes


GENERATOR_CHECKS = (check_generator_satisfies_the_protocol, check_generator_refuses_a_malformed_request,
                    check_generator_answers_the_same_request_identically, check_generator_reads_only_the_messages_text,
                    check_generator_runs_the_seed_program_to_valid_personas)


# -- mutator ------------------------------------------------------------------------------------


def _parent(source: str | None = None):
    from ppol_nb.evolution.interfaces import ProgramRecord
    from ppol_nb.personas.programs import program_source

    return ProgramRecord(id="p-parent", source=program_source("seed") if source is None else source, parent_id=None,
                         island=0, iteration=0, generation=0, metrics={"score": 0.4, "hl": 0.3, "coverage": 0.5},
                         artifacts={"evaluator_reflection": "The customers are overly cooperative and polished."})


def check_mutator_satisfies_the_engine_protocol(h):
    from ppol_nb.evolution.interfaces import Mutator

    assert contracts.Mutator is Mutator  # re-exported, not a second definition
    assert isinstance(h.world.mutator(), contracts.Mutator)


def check_mutator_proposes_a_valid_child(h):
    from ppol_nb.evolution.interfaces import Proposal
    from ppol_nb.evolution.program_edit import validate_child

    parent = _parent()
    proposal = h.world.mutator().propose(parent, [], random.Random(7), 1)
    assert isinstance(proposal, Proposal)
    assert proposal.source != parent.source
    validate_child(proposal.source)  # raises InvalidProgram otherwise
    assert proposal.diff and proposal.kind


def check_mutator_is_reproducible_for_the_same_rng(h):
    parent = _parent()
    first = h.world.mutator().propose(parent, [], random.Random(11), 2)
    asked = h.requests()
    again = h.world.mutator().propose(parent, [], random.Random(11), 2)
    assert again.source == first.source and again.angle == first.angle
    assert h.requests() == asked


def check_mutator_raises_a_mutation_error_when_it_cannot(h):
    from ppol_nb.evolution.program_edit import MutationError

    # Offline: the parent does not parse. LLM: the model's replies hold no usable edit or program.
    broken = _parent("def generate_personas(context, axes, n, llm:\n    return [\n")
    with pytest.raises(MutationError) as caught:
        h.world.mutator().propose(broken, [], random.Random(0), 1)
    assert str(caught.value) and caught.value.llm_calls == h.requests()  # what the failed attempt spent


MUTATOR_CHECKS = (check_mutator_satisfies_the_engine_protocol, check_mutator_proposes_a_valid_child,
                  check_mutator_is_reproducible_for_the_same_rng, check_mutator_raises_a_mutation_error_when_it_cannot)


# -- reflector ----------------------------------------------------------------------------------


def _reflection_input():
    import numpy as np

    from ppol_nb.evolution.reflection import ReflectionInput, TaskView, episode_view
    from ppol_nb.fitness.fingerprint import fingerprint, user_turns

    dialogues = [
        [{"role": "assistant", "content": "Hi! How can I help you today?"},
         {"role": "user", "content": f"Hello, I am {CUSTOMER} and I would like to exchange a keyboard, please. "
                                     "My zip code is 19122 and my email is yusuf.rossi@example.com. Thank you!"},
         {"role": "assistant", "content": "Thanks. Which keyboard would you like instead?"},
         {"role": "user", "content": "Thank you so much, I would like the clicky switches, please."}],
        [{"role": "assistant", "content": "Hi! How can I help you today?"},
         {"role": "user", "content": "keyboard exchange"},
         {"role": "assistant", "content": "Sure, could I have your name and zip?"},
         {"role": "user", "content": "why? its the same account as always. ugh fine 19122"}],
    ]
    p_human = [0.2, 0.3, 0.7, 0.8]
    personas = [{"instruction": f"You are {CUSTOMER}. Be polite and thorough.", "axis_placement": {"terse": False}},
                {"instruction": "Type tersely and push back.", "axis_placement": {"terse": True, "skeptical": True}}]
    rows = [fingerprint(user_turns(d)) for d in dialogues]
    views = [episode_view(p, personas[i % 2], rows[i % 2], dialogues[i % 2], names=[CUSTOMER]) for i, p in
             enumerate(p_human)]
    return ReflectionInput(score=0.45, hl=0.5, coverage=0.3, n=2, lambda_h=0.5, lambda_b=0.5,
                           tasks=[TaskView(0.25, 0.3, [(0.2, ["none"]), (0.3, ["terse"])]),
                                  TaskView(0.75, 0.3, [(0.7, ["terse", "skeptical"]), (0.8, ["terse"])])],
                           best=[views[3], views[2]], worst=[views[0], views[1]], banned_names=[CUSTOMER, "Yusuf",
                                                                                                "Rossi"],
                           all_fingerprints=np.array([rows[i % 2] for i in range(4)]), all_p_human=np.array(p_human),
                           all_active=[["none"], ["terse"], ["terse", "skeptical"], ["terse"]])


def check_reflector_satisfies_the_protocol(h):
    assert isinstance(h.world.reflector(), contracts.Reflector)


def check_reflector_writes_a_bounded_critique_within_the_rules(h):
    from ppol_nb.evolution.reflection import Critique

    critique = h.world.reflector().reflect(_reflection_input(), seed=0)
    assert isinstance(critique, Critique)
    assert isinstance(critique.text, str) and critique.text.strip()
    assert len(critique.text) <= MAX_CRITIQUE_CHARS
    for banned in ("Yusuf", "Rossi", "Task 3", "persona 2"):
        assert banned not in critique.text, banned
    assert critique.llm_calls == h.requests() and critique.cost_usd >= 0


def check_reflector_is_reproducible(h):
    first = h.world.reflector().reflect(_reflection_input(), seed=1).text
    asked = h.requests()
    assert h.world.reflector().reflect(_reflection_input(), seed=1).text == first
    assert h.requests() == asked


REFLECTOR_CHECKS = (check_reflector_satisfies_the_protocol,
                    check_reflector_writes_a_bounded_critique_within_the_rules, check_reflector_is_reproducible)


# -- the world as a whole -----------------------------------------------------------------------


def check_world_satisfies_the_protocol(h):
    assert isinstance(h.world, contracts.World)
    assert h.world.max_workers(None) >= 1 and h.world.max_workers(4) >= 1
    assert {"parallel_evaluations", "speculative_rescore", "background_validation"} <= set(h.world.search_defaults())
    assert isinstance(h.world.user_model, str) and isinstance(h.world.agent_model, str)


def check_world_records_say_which_world_and_hold_no_secret(h):
    described, identity = h.world.describe(), h.world.identity()
    assert described["backend"] == identity["backend"] == h.world.name
    blob = json.dumps(described, default=str) + json.dumps(identity, default=str)
    assert SECRET not in blob


def check_world_recipe_rebuilds_the_same_world(h):
    recipe = pickle.loads(pickle.dumps(h.world.recipe()))  # it travels to a worker process
    assert SECRET not in repr(recipe.settings)
    rebuilt = from_recipe(recipe)
    assert isinstance(rebuilt, contracts.World)
    assert rebuilt.identity() == h.world.identity()


WORLD_CHECKS = (check_world_satisfies_the_protocol, check_world_records_say_which_world_and_hold_no_secret,
                check_world_recipe_rebuilds_the_same_world)


# -- the parametrisation ------------------------------------------------------------------------

CHECKS = {"user": USER_CHECKS, "agent": AGENT_CHECKS, "generator": GENERATOR_CHECKS, "mutator": MUTATOR_CHECKS,
          "reflector": REFLECTOR_CHECKS, "world": WORLD_CHECKS}


def _cases():
    for role, checks in CHECKS.items():
        for check in checks:
            for kind in WORLDS:
                yield pytest.param(kind, check, id=f"{kind}-{role}-{check.__name__.removeprefix('check_')}")


@pytest.mark.parametrize(("kind", "check"), list(_cases()))
def test_role_contract(kind, check, fake_openai, monkeypatch):
    check(Harness(kind, fake_openai, monkeypatch))


def test_every_role_has_checks_for_every_world():
    roles = {"UserSimulator": "user", "Agent": "agent", "GeneratorWorld": "generator", "Mutator": "mutator",
             "Reflector": "reflector", "World": "world"}
    assert set(roles) == set(contracts.__all__) - {"MAX_CRITIQUE_CHARS", "STOP_TOKEN", "TRANSFER_TOKEN",
                                                   "OUT_OF_SCOPE_TOKEN"}
    assert all(CHECKS[role] for role in roles.values())


def test_the_contracts_import_nothing_above_them():
    # Only the engine's own contract (evolution/interfaces.py, standard library only): ppol_nb.evolution
    # loads its engine lazily, so neither the engine, the fitness model, numpy nor a world comes along.
    code = ("import sys, ppol_nb.worlds.contracts; "
            "print(sorted(m for m in sys.modules if m.startswith('ppol_nb') or m == 'numpy'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == ["ppol_nb", "ppol_nb.evolution", "ppol_nb.evolution.interfaces",
                                                 "ppol_nb.worlds", "ppol_nb.worlds.contracts"]
