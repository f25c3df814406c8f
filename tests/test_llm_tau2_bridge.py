"""tau2's stock LLMAgent and UserSimulator, unmodified, running through LLMClient via the litellm bridge."""

from __future__ import annotations

import json

import pytest
from fake_openai_server import text_reply, tool_call_reply

from ppol_nb.llm import LLMClient, LLMConfig
from ppol_nb.simulation.llm_provider import PROVIDER, tau2_llm
from ppol_nb.simulation.tau2_bridge import tau2_modules

USER_OPENING = "Hi, I'm Yusuf Rossi and my zip code is 19122. I want to exchange some items."
AGENT_REPLY = "Thank you, I found your account. What would you like to exchange?"


@pytest.fixture(scope="module")
def m():
    return tau2_modules()


@pytest.fixture(scope="module")
def task(m):
    return next(t for t in m.registry.get_tasks_loader("retail")(task_split_name=None) if t.id == "0")


def scripted(task, arguments: str | None = None):
    """Responder playing both sides of retail task 0, told apart by their system prompts.

    User: one opening line, then ###STOP###. Agent: look the user up, then answer.
    """
    lookup = next(a for a in task.evaluation_criteria.actions if a.name == "find_user_id_by_name_zip")
    args = arguments if arguments is not None else json.dumps(lookup.arguments)

    def respond(req: dict):
        system = req["messages"][0]["content"]
        if "<scenario>" in system:
            said_before = any(msg["role"] == "assistant" for msg in req["messages"])  # roles are flipped
            return text_reply("###STOP###" if said_before else USER_OPENING, prompt_tokens=300, completion_tokens=20)
        assert "<policy>" in system
        if req["messages"][-1]["role"] == "tool":
            return text_reply(AGENT_REPLY, prompt_tokens=2000, completion_tokens=30)
        return tool_call_reply(
            "find_user_id_by_name_zip", args, call_id="call_lookup_1", prompt_tokens=1900, completion_tokens=25
        )

    return respond


def run_episode(m, task, client: LLMClient, seed: int = 3):
    env = m.registry.get_env_constructor("retail")()
    agent_llm, agent_args = tau2_llm(client, "agent")
    user_llm, user_args = tau2_llm(client, "user")
    agent = m.LLMAgent(tools=env.get_tools(), domain_policy=env.get_policy(), llm=agent_llm, llm_args=agent_args)
    user = m.UserSimulator(instructions=str(task.user_scenario), llm=user_llm, llm_args=user_args)
    orch = m.Orchestrator(domain="retail", agent=agent, user=user, environment=env, task=task, max_steps=30, seed=seed)
    return orch.run()


def make_client(url: str, cache_path=None) -> LLMClient:
    return LLMClient(
        LLMConfig.openai(
            "fake-model",
            base_url=url,
            api_key_env=None,
            cache_path=cache_path,
            backoff_base_s=0.01,
            price_in_per_mtok=1.0,
            price_out_per_mtok=2.0,
        )
    )


def test_tau2_episode_through_the_bridge_and_cache_replay(m, task, fake_openai, tmp_path):
    server = fake_openai(scripted(task))
    cache = tmp_path / "llm.sqlite"
    client = make_client(server.url, cache)
    with client.episode("ep-0"):
        run = run_episode(m, task, client)

    assert run.termination_reason == m.TerminationReason.USER_STOP
    tool_msgs = [msg for msg in run.messages if msg.role == "tool"]
    assert [msg.content for msg in tool_msgs] == ["yusuf_rossi_9620"]  # the real retail DB answered
    calls = [tc for msg in run.messages if msg.role == "assistant" for tc in (msg.tool_calls or [])]
    assert [(tc.name, tc.id) for tc in calls] == [("find_user_id_by_name_zip", "call_lookup_1")]
    assert any(msg.role == "assistant" and msg.content == AGENT_REPLY for msg in run.messages)

    # What tau2 sent reached the server intact: tools, tool_choice, seed, tool-result turn.
    agent_reqs = [r for r in server.requests if "<policy>" in r["messages"][0]["content"]]
    user_reqs = [r for r in server.requests if "<scenario>" in r["messages"][0]["content"]]
    assert len(agent_reqs) == 2 and len(user_reqs) == 2
    assert all(r["seed"] == 3 for r in server.requests)
    assert len(agent_reqs[0]["tools"]) == len(m.registry.get_env_constructor("retail")().get_tools())
    assert agent_reqs[0]["tool_choice"] == "auto" and "tools" not in user_reqs[0]
    assert agent_reqs[1]["messages"][-1] == {
        "role": "tool",
        "content": "yusuf_rossi_9620",
        "tool_call_id": "call_lookup_1",
    }

    # Ledger: user and agent rows, tagged with the episode; tau2's own cost/usage agree.
    frame = client.ledger.to_frame()
    assert sorted(frame["role"].unique()) == ["agent", "user"]
    assert (frame["episode_id"] == "ep-0").all() and not frame["cached"].any()
    totals = client.ledger.for_episode("ep-0")
    assert totals["llm_calls"] == 4 and totals["prompt_tokens"] == 2 * 300 + 1900 + 2000
    tau2_cost = sum(msg.cost or 0.0 for msg in run.messages if msg.role != "tool")
    assert tau2_cost == pytest.approx(totals["cost_usd"]) and totals["cost_usd"] > 0
    first_agent = next(msg for msg in run.messages if msg.role == "assistant" and msg.tool_calls)
    assert first_agent.usage == {"prompt_tokens": 1900, "completion_tokens": 25}

    reward = m.evaluate_simulation(
        simulation=run, task=task, evaluation_type=m.EvaluationType.ALL, solo_mode=False, domain="retail"
    )
    assert reward.reward == 0.0  # the scripted agent never does the exchange: a real, scored failure

    # Same code, same cache file, a new client: zero requests, identical conversation.
    client.close()
    n_before = len(server.requests)
    replay_client = make_client(server.url, cache)
    replay = run_episode(m, task, replay_client)
    assert len(server.requests) == n_before
    assert [(x.role, x.content) for x in replay.messages] == [(x.role, x.content) for x in run.messages]
    assert replay_client.ledger.to_frame()["cached"].all()
    replay_client.close()


def test_malformed_tool_arguments_abort_the_run_like_stock_tau2(m, task, fake_openai):
    server = fake_openai(scripted(task, arguments='{"first_name": '))
    client = make_client(server.url)
    with pytest.raises(json.JSONDecodeError):
        run_episode(m, task, client)
    client.close()


def test_llm_args_override_role_settings(m, fake_openai):
    from tau2.data_model.message import UserMessage
    from tau2.utils.llm_utils import generate

    server = fake_openai(lambda req: text_reply("fine"))
    client = make_client(server.url)
    llm, args = tau2_llm(client, "reflection")
    assert llm.startswith(f"{PROVIDER}/") and llm.endswith("/reflection") and args == {}
    out = generate(model=llm, messages=[UserMessage(role="user", content="hi")], temperature=0.9, max_tokens=17, seed=5)
    assert out.content == "fine"
    sent = server.requests[0]
    assert (sent["temperature"], sent["max_tokens"], sent["seed"]) == (0.9, 17, 5)
    assert client.ledger.to_frame()["role"].tolist() == ["reflection"]
    client.close()


def test_registration_is_idempotent_and_errors_surface(m, fake_openai):
    from fake_openai_server import error_reply
    from tau2.data_model.message import UserMessage
    from tau2.utils.llm_utils import generate

    server = fake_openai(lambda req: error_reply(400, "context too long"))
    client = make_client(server.url)
    for _ in range(3):
        llm, _args = tau2_llm(client, "agent")
    assert tau2_llm(client, "agent")[0] == llm  # one key per client
    assert sum(e["provider"] == PROVIDER for e in m.litellm.custom_provider_map) == 1
    with pytest.raises(Exception, match="context too long"):
        generate(model=llm, messages=[UserMessage(role="user", content="hi")])
    assert len(server.requests) == 1  # neither our client nor litellm retried a 400
    client.close()
    with pytest.raises(Exception, match="no live LLMClient"):
        generate(model=llm, messages=[UserMessage(role="user", content="hi")])
