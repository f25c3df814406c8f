"""Offline episodes on real τ² tasks, scored by τ²'s own evaluator."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from ppol_nb.offline.agent import AgentStyle
from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.runner import EpisodeSpec, run_episode, run_episodes
from ppol_nb.simulation.scenario import build_scenario, first_person, heard, request_sentences
from ppol_nb.simulation.tau2_bridge import get_task, load_tasks
from ppol_nb.offline.user import OfflineUser, UserStyle

RETAIL_WRITES = {"exchange_delivered_order_items", "return_delivered_order_items", "cancel_pending_order",
                 "modify_pending_order_items", "modify_pending_order_address", "modify_pending_order_payment",
                 "modify_user_address"}


def _run(domain, task_id, backend=None, seed=0):
    return run_episode(EpisodeSpec(domain, task_id, seed=seed), backend or OfflineBackend())


def _texts(record, role):
    return [m["content"] for m in record["messages"] if m["role"] == role and m.get("content")]


def _tool_names(record):
    return [c["name"] for m in record["messages"] for c in m.get("tool_calls") or []]


@pytest.mark.parametrize("task_id", ["0", "2"])
def test_default_user_and_offline_agent_solve_db_changing_retail_tasks(task_id):
    rec = _run("retail", task_id)
    assert rec["error"] is None
    assert rec["reward"] == 1.0 and rec["reward_breakdown"] == {"DB": 1.0, "COMMUNICATE": 1.0}
    assert rec["termination_reason"] == "user_stop"
    assert any(name in RETAIL_WRITES for name in _tool_names(rec))
    # The cooperative default: the whole request and identity in the first message.
    opener = _texts(rec, "user")[0]
    assert "19122" in opener and "Yusuf" in opener


@pytest.mark.parametrize("task_id", ["0", "2"])
def test_do_nothing_agent_fails_db_changing_tasks(task_id):
    rec = _run("retail", task_id, OfflineBackend(agent="do-nothing"))
    assert rec["error"] is None and rec["reward"] == 0.0
    assert _tool_names(rec) == []


def test_airline_episode_is_scored_by_tau2():
    # First airline test task with a write in its gold plan.
    for task in load_tasks("airline", "test"):
        names = [a.name for a in task.evaluation_criteria.actions or []]
        if any(n.startswith(("update_", "cancel_", "book_")) for n in names):
            break
    rec = _run("airline", task.id)
    assert rec["split"] == "test" and rec["error"] is None
    assert rec["reward"] == 1.0
    assert _run("airline", task.id, OfflineBackend(agent="do-nothing"))["reward"] == 0.0


def test_same_seed_same_messages_and_different_seed_may_differ():
    a, b = _run("retail", "0", seed=3), _run("retail", "0", seed=3)
    assert a["messages"] == b["messages"]
    assert _run("airline", "1", seed=3)["messages"] == _run("airline", "1", seed=3)["messages"]


def test_withholding_user_is_asked_for_identity_and_still_succeeds():
    up_front = _run("retail", "0")
    withholding = _run("retail", "0", OfflineBackend(user_style=UserStyle(up_front=False)))
    assert withholding["reward"] == 1.0
    opener = _texts(withholding, "user")[0]
    assert "19122" not in opener  # nothing up front
    asks = [t for t in _texts(withholding, "assistant") if "zip code" in t and t.endswith("?")]
    assert asks, "the agent must ask for the facts it has not heard"
    assert len(withholding["messages"]) > len(up_front["messages"])


class _ForgetfulUser(OfflineUser):
    """Never gives the identity the agent needs (e.g. a persona that refuses)."""

    def answer_facts(self, labels):
        return "I'd rather not say."


class _ForgetfulBackend(OfflineBackend):
    def make_user(self, task, scenario, seed):
        return _ForgetfulUser(scenario, UserStyle(up_front=False), seed, ledger=self.ledger)


@pytest.mark.parametrize("max_asks", [1, 3])
def test_agent_gives_up_after_bounded_asks_and_the_task_fails(max_asks):
    rec = _run("retail", "0", _ForgetfulBackend(agent_style=AgentStyle(max_asks=max_asks)))
    assert rec["reward"] == 0.0
    assert "transfer_to_human_agents" in _tool_names(rec)
    asks = [t for t in _texts(rec, "assistant") if "zip code" in t]
    assert len(asks) == max_asks
    assert _texts(rec, "user")[-1] == "###TRANSFER###"


IDENTIFIER = re.compile(r"#?W\d{7}|[\w.]+@[\w.]+|\b[a-z]+_[a-z]+_\d{4}\b|\b\d{5}\b")


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_offline_user_never_states_an_identifier_it_does_not_hold(domain):
    for task in load_tasks(domain, "test")[:12]:
        rec = _run(domain, task.id)
        scenario = str(task.user_scenario)
        for text in _texts(rec, "user"):
            for ident in IDENTIFIER.findall(text):
                assert ident.lstrip("#") in scenario, (task.id, ident, text)


def test_offline_user_says_when_it_does_not_know():
    task = next(t for t in load_tasks("retail", "train") if "email" in (t.user_scenario.instructions.unknown_info or ""))
    user = OfflineUser(build_scenario(task, "retail", RETAIL_WRITES))
    user.reply("Hi! How can I help you today?")
    answer = user.reply("Could you please provide your email address?")
    assert "don't remember my email address" in answer
    assert "@" not in answer


def test_user_stops_when_agent_is_done_and_gives_up_on_an_unhelpful_agent():
    sc = build_scenario(get_task("retail", "0"), "retail", RETAIL_WRITES)
    user = OfflineUser(sc)
    user.reply("Hi! How can I help you today?")
    assert user.reply("Done. Is there anything else I can help you with?").endswith("###STOP###")
    impatient = OfflineUser(sc, UserStyle(patience=2))
    impatient.reply("Hi!")
    impatient.reply("Hmm.")
    assert impatient.reply("Hmm.").endswith("###STOP###")


def test_scenario_helpers():
    assert first_person("You received your order and want to return it. Your zip is 1.") == \
        "I received my order and want to return it. My zip is 1."
    assert request_sentences("You want a refund. If the agent asks, say no.") == ["I want a refund."]
    assert heard("#W2378156", ["it's order w2378156"]) and not heard("#W2378156", ["order W237815"])
    sc = build_scenario(get_task("retail", "0"), "retail", RETAIL_WRITES)
    assert {(f.label, f.value) for f in sc.facts} >= {("name", "Yusuf"), ("zip code", "19122"), ("order id", "#W2378156")}
    assert sc.plan[-1].is_write and not sc.plan[0].is_write


class _ExplodingBackend(OfflineBackend):
    def make_agent(self, env, task, scenario):
        if task.id == "5":
            raise RuntimeError("boom")
        return super().make_agent(env, task, scenario)


def test_batch_records_errors_and_resumes(tmp_path):
    specs = [EpisodeSpec("retail", t) for t in ("5", "9")]
    df = run_episodes(specs, _ExplodingBackend(), tmp_path, progress=False)
    by_id = df.set_index("task_id")
    assert by_id.loc["5", "error"].startswith("RuntimeError: boom")
    assert by_id.loc["9", "reward"] == 1.0 and pd.isna(by_id.loc["9", "error"])
    # Resume: the finished episode is skipped, the errored one is retried.
    df2 = run_episodes(specs, OfflineBackend(), tmp_path, progress=False)
    assert df2.set_index("task_id").loc["5", "reward"] == 1.0
    lines = (tmp_path / "episodes.jsonl").read_text().splitlines()
    assert len(lines) == 3  # 2 first run + 1 retry; the finished one was not re-run
