"""``ppol-nb stress-test``: a researcher's agent (module:Class or an endpoint model) on the test tasks
against base, dp, ppol and the four τ-trait users; CSV, JSON summary and figure come from the run."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from fake_openai_server import text_reply, tool_call_reply

from ppol_nb.cli import main
from ppol_nb.llm.preflight import PROBE_TOOL_NAME, is_probe
from ppol_nb.studies.stress_test import (
    CONDITIONS,
    CSV_COLUMNS,
    load_agent_class,
    pass_hat_k,
    wilson,
)


def _read(out):
    return pd.read_csv(out / "stress_test.csv"), json.loads((out / "stress_test.json").read_text())


def test_agent_class_is_stress_tested_on_every_condition(tmp_path):
    out = tmp_path / "good"
    assert main(["stress-test", "--agent-class", "stress_agents:ScenarioReadingAgent", "--limit", "2",
                 "--n-personas", "1", "--out", str(out), "--quiet"]) == 0
    table, summary = _read(out)
    assert list(table.columns) == CSV_COLUMNS and tuple(table.condition) == CONDITIONS
    assert (table.n == 2).all() and table.success_rate.between(0, 1).all()
    assert (table.ci_low <= table.success_rate + 1e-12).all() and (table.success_rate <= table.ci_high + 1e-12).all()
    assert summary["agent"] == "class:stress_agents:ScenarioReadingAgent" and not summary["offline_agent"]
    assert summary["ppol_program"]["program"] == "shipped seed program"
    assert summary["ppol_nb"] and summary["backend"]["agent"] == "class:stress_agents:ScenarioReadingAgent"
    episodes = [json.loads(line) for c in CONDITIONS for line in (out / "episodes" / c / "episodes.jsonl").open()]
    assert {e["agent_model"] for e in episodes} == {"class:stress_agents:ScenarioReadingAgent"}
    # the rows are the episodes' own rewards
    for row in table.itertuples():
        rewards = [e["reward"] for e in episodes if e["condition"] == (f"trait:{row.condition}" if row.condition
                   in ("skeptical", "incoherent", "impatient", "confusion") else
                   {"ppol": "seed"}.get(row.condition, row.condition))]
        assert row.success_rate == pytest.approx(sum(r >= 1.0 for r in rewards) / len(rewards))
    assert (out / "06_agent_stress_test_retail.png").stat().st_size > 10_000


def test_a_trivial_agent_fails_where_the_offline_one_succeeds_and_causes_are_counted(tmp_path):
    out = tmp_path / "bad"
    assert main(["stress-test", "--agent-class", "stress_agents:ApologisingAgent", "--limit", "2",
                 "--conditions", "base,impatient", "--trials", "2", "--out", str(out), "--quiet"]) == 0
    table, summary = _read(out)
    assert list(table.condition) == ["base", "impatient"] and (table.n == 4).all()
    assert (table.success_rate == 0).all()  # retail test tasks 0 and 1 change the DB
    rows = {r["condition"]: r for r in summary["conditions"]}
    assert rows["base"]["pass^2"] == 0.0
    causes = {r["condition"]: r for r in summary["failure_causes"]}
    assert sum(v for k, v in causes["base"].items() if k != "condition") == 4
    # it offered "anything else" and never wrote: the dialogue completed, τ²'s DB check failed
    assert causes["base"]["agent_wrong"] == 4
    assert {"condition": "base", "check": "DB", "episodes": 4} in summary["failed_reward_checks"]


def test_bad_agent_class_is_a_clear_error(tmp_path, capsys):
    for spec in ("stress_agents", "stress_agents:Missing", "stress_agents:NotAnAgent", "no_such_mod:X"):
        assert main(["stress-test", "--agent-class", spec, "--out", str(tmp_path / "x"), "--quiet"]) == 2
        assert "error" in capsys.readouterr().err
    assert not (tmp_path / "x" / "stress_test.csv").exists()
    with pytest.raises(ValueError, match="module:Class"):
        load_agent_class("nocolon")


def test_agent_model_on_an_endpoint_gets_the_agent_requests(fake_openai, tmp_path):
    def respond(request):
        if is_probe(request):
            return tool_call_reply(PROBE_TOOL_NAME, {"order_id": "W1234567"})  # the preflight: it can call tools
        if "<scenario>" in request["messages"][0]["content"]:
            return text_reply("hi, I want to return something ###STOP###" if len(request["messages"]) > 2
                              else "hi, I want to return something")
        return text_reply("I can help. Anything else?")

    server = fake_openai(respond)
    out = tmp_path / "llm"
    assert main(["stress-test", "--backend", "openai", "--base-url", server.url, "--api-key-env", "",
                 "--model", "user-llm", "--agent-model", "my-agent", "--conditions", "base,skeptical",
                 "--limit", "1", "--out", str(out), "--quiet", "--no-cache"]) == 0
    table, summary = _read(out)
    assert list(table.condition) == ["base", "skeptical"] and (table.n == 1).all()
    by_model = {}
    for r in server.requests:
        role = "user" if "<scenario>" in r["messages"][0]["content"] else "agent"
        by_model.setdefault(role, set()).add(r["model"])
    assert by_model == {"user": {"user-llm"}, "agent": {"my-agent"}}
    assert summary["models"]["agent"] == "my-agent" and summary["models"]["user"] == "user-llm"


def test_offline_run_says_it_is_the_gold_plan_offline_agent(tmp_path):
    out = tmp_path / "off"
    assert main(["stress-test", "--conditions", "base,confusion", "--limit", "1", "--out", str(out), "--quiet"]) == 0
    _, summary = _read(out)
    assert summary["offline_agent"] and summary["agent"].startswith("gold-plan offline agent")
    assert "gold-plan offline agent" in json.loads((out / "06_agent_stress_test_retail.json").read_text())["caption"]


def test_interval_and_pass_k_arithmetic():
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)  # Wilson 95 %, 8/10
    assert pass_hat_k([(2, 2), (1, 2)], 2) == 0.5 and pass_hat_k([(2, 3)], 2) == pytest.approx(1 / 3)
    assert math.isnan(pass_hat_k([(1, 1)], 2))
