"""Persona injection into τ²'s LLM user simulator, trait suites, and the preservation check."""

from __future__ import annotations

import pytest
from fake_openai_server import text_reply

from ppol_nb.llm import LLMClient, LLMConfig
from ppol_nb.personas import Persona, PersonaError, validate_population
from ppol_nb.personas.injection import BEGIN, END, PersonaUserSimulator, inject
from ppol_nb.personas.preservation import check_instruction
from ppol_nb.personas.traits import TRAIT_NAMES, trait_persona
from ppol_nb.simulation.llm_provider import tau2_llm
from ppol_nb.simulation.tau2_bridge import get_task, tau2_modules

PERSONA = Persona.create(
    description="A night-shift nurse texting on a break.",
    instruction="Type in lowercase fragments. Do not give your zip code until the agent asks for it twice.",
    axis_placement={"terse": True, "skeptical": False},
    source="test",
)


def test_the_endpoint_receives_the_stock_prompt_followed_by_the_persona_block(fake_openai):
    m = tau2_modules()
    task = get_task("retail", "0")
    server = fake_openai(lambda req: text_reply("###STOP###"))
    client = LLMClient(LLMConfig.openai("fake-model", base_url=server.url, api_key_env=None))
    llm, args = tau2_llm(client, "user")
    user = PersonaUserSimulator(instructions=str(task.user_scenario), llm=llm, llm_args=args, persona=PERSONA)
    stock = m.UserSimulator(instructions=str(task.user_scenario), llm=llm, llm_args=args)
    env = m.registry.get_env_constructor("retail")()
    agent = m.LLMAgent(tools=env.get_tools(), domain_policy=env.get_policy(), llm=llm, llm_args=args)
    m.Orchestrator(domain="retail", agent=agent, user=user, environment=env, task=task, max_steps=10).run()

    system = server.requests[0]["messages"][0]["content"]
    assert system.startswith(stock.system_prompt)  # τ²'s own prompt, unchanged, comes first
    assert "<scenario>" in system and "Yusuf Rossi" in system and "#W2378156" in system
    block = system[len(stock.system_prompt):]
    assert block.startswith("\n\n") and BEGIN in block and END in block
    assert PERSONA.instruction in block.split(BEGIN)[1].split(END)[0]
    for rule in ("never WHAT you want", "stay exactly as given", "every single turn", "only when the agent asks",
                 "Never break character", "simulated"):
        assert rule in block


def test_no_persona_leaves_the_prompt_untouched():
    assert inject("BASE", None) == "BASE"


def test_persona_json_round_trip_stable_ids_and_validation():
    again = Persona.from_dict(PERSONA.to_dict())
    assert again == PERSONA and again.persona_id == PERSONA.persona_id
    assert Persona.create(PERSONA.description, PERSONA.instruction, PERSONA.axis_placement).persona_id == \
        Persona.create(PERSONA.description, PERSONA.instruction, PERSONA.axis_placement).persona_id
    with pytest.raises(PersonaError, match="missing fields"):
        Persona.from_dict({"description": "x"})
    with pytest.raises(PersonaError, match="at least 40"):
        Persona.create("someone", "be short")
    with pytest.raises(PersonaError, match="unknown axes"):
        Persona.create("someone", PERSONA.instruction, {"sarcastic": True}, axes=["terse", "skeptical"])
    assert set(PERSONA.to_dict()) == {"persona_id", "description", "axis_placement", "reasoning", "instruction",
                                      "source"}  # the paper's record: text, no side channel
    with pytest.raises(PersonaError, match="asked for 3"):
        validate_population([PERSONA.to_dict()] * 2, 3)
    with pytest.raises(PersonaError, match="not unique"):
        validate_population([PERSONA.to_dict()] * 2, 2)


@pytest.mark.parametrize("name", TRAIT_NAMES)
def test_trait_suites_are_valid_and_preserve_every_task(name):
    persona = trait_persona(name)
    assert persona.source == f"trait:{name}" and len(persona.instruction) > 200
    for domain, task_id in (("retail", "0"), ("retail", "5"), ("airline", "1")):
        report = check_instruction(persona.instruction, str(get_task(domain, task_id).user_scenario), domain)
        assert report.ok, report.violations


def test_preservation_flags_new_facts_items_and_goals():
    scenario = str(get_task("retail", "0").user_scenario)
    ok = check_instruction("Keep replies short; mention the keyboard first and your zip code 19122 only if asked.",
                           scenario, "retail")
    assert ok.ok, ok.violations
    bad = check_instruction("Also return your Water Bottle, ask for a $50 refund on order #W1234567 by 2024-05-01.",
                            scenario, "retail")
    kinds = {v.split(" not in scenario")[0].split(":")[0] for v in bad.violations}
    assert not bad.ok and {"amount", "date", "identifier", "item", "goal"} <= kinds
    dropped = check_instruction("You no longer want the thermostat exchange; just chat about the weather.",
                                scenario, "retail")
    assert not dropped.ok and any("drops or replaces the goal" in v for v in dropped.violations)
