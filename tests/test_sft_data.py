"""SFT data builder (paper §5.5): selection, cleaning, equal-size regimes, both export formats, TAU-USI refusal.

Episodes are real offline τ² rollouts (base and seed-program personas on three retail
train tasks); variants of them (a test-split copy, a failed copy, a τ-trait copy, a
parallel-call copy, ...) are made by editing those records.
"""

from __future__ import annotations

import json

import pytest

from ppol_nb.backends import make_backend
from ppol_nb.cli import main
from ppol_nb.humans.licences import LicenceError
from ppol_nb.personas.conditions import condition_specs
from ppol_nb.offline.generator import OfflineGeneratorWorld
from ppol_nb.simulation.records import EpisodeRecord
from ppol_nb.simulation.runner import run_episodes
from ppol_nb.simulation.store import EpisodeStore, read_episodes
from ppol_nb.training import REGIMES, SFTConfig, SFTDataError, build_sft
from ppol_nb.training.chat_formats import (
    FormatError,
    agent_conversation,
    validate_openai_line,
    validate_sharegpt_record,
)

SPLITS = ("train", "validation")


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    """Run directories of offline base and seed-persona rollouts on 3 retail train tasks."""
    root = tmp_path_factory.mktemp("episodes")
    backend = make_backend("offline")
    dirs = {}
    for cond, n in (("base", 1), ("seed", 3)):
        specs, failures = condition_specs(cond, "retail", "train", n_personas=n, limit=3, world=OfflineGeneratorWorld(0),
                                          cache_dir=root / "personas")
        assert not failures
        run_episodes(specs, backend, root / cond, progress=False)
        dirs[cond] = root / cond
    return dirs


def _records(run_dir) -> list[EpisodeRecord]:
    return read_episodes(run_dir / "episodes.jsonl")[0]


def _write(run_dir, records) -> None:
    store = EpisodeStore(run_dir)
    for r in records:
        store.append(r)


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_exported_line_validates_and_regimes_have_equal_size(episodes, tmp_path):
    build = build_sft([episodes["base"], episodes["seed"]], tmp_path / "sft")
    m = build.manifest
    assert m["pools"] == {"default": 3, "ppol": 9}
    assert m["sizes"]["default"] == m["sizes"]["default_ppol"]  # the equal-size rule
    n = m["n_per_regime"]
    assert n == 3 and m["sizes"]["default"] == {"train": 2, "validation": 1}
    for regime in REGIMES:
        seen = set()
        for split in SPLITS:
            lines = _lines(build.files[(regime, split, "openai")])
            rows = _lines(build.files[(regime, split, "rows")])
            records = json.loads(build.files[(regime, split, "sharegpt")].read_text(encoding="utf-8"))
            assert len(lines) == len(rows) == len(records) == m["sizes"][regime][split]
            for line, record in zip(lines, records):
                validate_openai_line(line)
                validate_sharegpt_record(record)
                assert line["messages"][0]["role"] == "system" and "<policy>" in line["messages"][0]["content"]
                names = {t["function"]["name"] for t in line["tools"]}
                assert "get_order_details" in names  # the τ² retail agent's tools
            ids = {r["episode_id"] for r in rows}
            assert not ids & seen  # validation and train never share a conversation
            seen |= ids
        assert sum(m["mix"][regime].values()) == n
    assert m["mix"]["default"] == {"default": 3}
    # The raw file lines themselves (not only the parsed dicts) are valid OpenAI lines.
    for raw in build.files[("default_ppol", "train", "openai")].read_text(encoding="utf-8").splitlines():
        validate_openai_line(raw)
    tok = m["tokens"]["default"]["train"]
    assert tok["total"] > tok["trained"] > 0 and m["tokenizer"]
    assert m["seed"] == 1 and m["equal_size_rule"] and m["sources"][0]["sha256"]


def test_dataset_info_points_at_the_sharegpt_files(episodes, tmp_path):
    build = build_sft([episodes["base"], episodes["seed"]], tmp_path / "sft")
    info = json.loads((tmp_path / "sft" / "dataset_info.json").read_text())
    assert set(info) == {f"ppol_{r}_{s}" for r in REGIMES for s in SPLITS}
    for entry in info.values():
        assert entry["formatting"] == "sharegpt"
        assert entry["columns"] == {"messages": "conversations", "system": "system", "tools": "tools"}
        data = json.loads((tmp_path / "sft" / entry["file_name"]).read_text())
        assert isinstance(data, list) and data
    assert build.manifest["sharegpt_layout_changes"]["default"]["dropped_greetings"] == 3


def test_a_fixed_ppol_share_and_a_cap_keep_sizes_equal(episodes, tmp_path):
    build = build_sft([episodes["base"], episodes["seed"]], tmp_path / "sft",
                      SFTConfig(ppol_share=0.5, personas_per_task=1, seed=4))
    m = build.manifest
    assert m["pools"]["ppol"] == 3  # one persona per task kept
    assert "over 1 personas for its task" in " ".join(m["left_out"])
    assert m["sizes"]["default"] == m["sizes"]["default_ppol"]
    assert m["mix"]["default_ppol"] == {"ppol": 2, "default": 1}  # round(0.5 x 3) PPol


def test_only_successful_train_episodes_are_used(episodes, tmp_path):
    base = _records(episodes["base"])
    extra = [
        base[0].model_copy(update={"episode_id": "x-test", "split": "test"}),
        base[0].model_copy(update={"episode_id": "x-fail", "reward": 0.0}),
        base[0].model_copy(update={"episode_id": "x-error", "error": "RuntimeError: boom"}),
        _records(episodes["seed"])[0].model_copy(update={"episode_id": "x-trait", "condition": "trait:impatient"}),
    ]
    mixed = tmp_path / "mixed"
    _write(mixed, base + extra)
    build = build_sft([mixed, episodes["seed"]], tmp_path / "sft")
    left = build.manifest["left_out"]
    assert build.manifest["pools"]["default"] == 3
    assert left["split 'test', not train"] == 1 and left["reward < 1"] == 1 and left["errored"] == 1
    assert left["τ-trait suite (out-of-distribution test users)"] == 1
    used = {r["episode_id"] for regime in REGIMES for s in SPLITS
            for r in _lines(build.files[(regime, s, "rows")])}
    assert not used & {"x-test", "x-fail", "x-error", "x-trait"}


def _single_call_pair(messages) -> int:
    """Index of an assistant call followed by its result and another assistant call with its result."""
    for i in range(len(messages) - 3):
        a, r, b, s = messages[i:i + 4]
        if (a.role == b.role == "assistant" and a.tool_calls and b.tool_calls and r.role == s.role == "tool"
                and not a.content and not b.content):
            return i
    raise AssertionError("no two consecutive single calls in the episode")


def test_parallel_calls_are_split_into_single_calls_with_their_results(episodes):
    rec = next(r for r in _records(episodes["base"]) if sum(bool(m.tool_calls) for m in r.messages) >= 2)
    messages = list(rec.messages)
    i = _single_call_pair(messages)
    a, r, b, s = messages[i:i + 4]
    parallel = a.model_copy(update={"tool_calls": [*a.tool_calls, *b.tool_calls]})
    for results in ([r, s], [s, r]):  # results in either order: matched by id
        merged = messages[:i] + [parallel, *results] + messages[i + 4:]
        conv = agent_conversation(merged)
        assert conv.stats["split_parallel_calls"] == 1
        assert [(t.role, t.call and t.call["id"], t.tool_call_id, t.content) for t in conv.turns] == \
            [(t.role, t.call and t.call["id"], t.tool_call_id, t.content) for t in agent_conversation(messages).turns]


def test_done_calls_thinking_and_the_stop_message_are_dropped(episodes, tmp_path):
    rec = _records(episodes["base"])[0]
    msgs = list(rec.messages)
    Message = type(msgs[0])
    last_agent = max(k for k, m in enumerate(msgs) if m.role == "assistant")
    thinking = msgs[last_agent].model_copy(update={"content": "<think>check the policy</think>" +
                                                   (msgs[last_agent].content or "")})
    done = Message.model_validate({"role": "assistant", "content": None,
                                   "tool_calls": [{"id": "call_done", "name": "done", "arguments": {}}]})
    done_result = Message.model_validate({"role": "tool", "content": "###STOP###", "tool_call_id": "call_done",
                                          "error": False})
    edited = msgs[:last_agent] + [thinking, done, done_result] + msgs[last_agent + 1:]
    conv = agent_conversation(edited)
    assert conv.stats["done_calls"] == 1 and conv.stats["thinking_blocks"] == 1
    assert conv.turns[-1].role == "assistant" and conv.turns[-1].call is None
    assert "<think>" not in conv.turns[-1].content and conv.turns[-1].content == (msgs[last_agent].content or "").strip()
    assert msgs[-1].role == "user" and all(t.content != msgs[-1].content for t in conv.turns)
    run = tmp_path / "edited"
    _write(run, [rec.model_copy(update={"messages": edited})] + _records(episodes["base"])[1:])
    build = build_sft([run, episodes["seed"]], tmp_path / "sft")
    text = "".join(build.files[(r, s, f)].read_text() for r in REGIMES for s in SPLITS for f in ("openai", "sharegpt"))
    assert '"name": "done"' not in text and "<think>" not in text


def test_the_validator_rejects_what_the_format_forbids(episodes, tmp_path):
    build = build_sft([episodes["base"], episodes["seed"]], tmp_path / "sft")
    good = _lines(build.files[("default", "train", "openai")])[0]
    call_at = next(k for k, m in enumerate(good["messages"]) if m.get("tool_calls"))

    def broken(edit):
        line = json.loads(json.dumps(good))
        edit(line)
        with pytest.raises(FormatError):
            validate_openai_line(line)

    broken(lambda l: l["messages"][call_at]["tool_calls"][0]["function"].__setitem__("arguments", {"a": 1}))
    broken(lambda l: l["messages"][call_at]["tool_calls"][0]["function"].__setitem__("arguments", "{not json"))
    broken(lambda l: l["messages"][call_at + 1].__setitem__("tool_call_id", "call_nobody_made"))
    broken(lambda l: l["messages"].append({"role": "user", "content": "thanks"}))
    broken(lambda l: l["messages"][1].__setitem__("weight", 2))
    broken(lambda l: l["messages"][2].__setitem__("role", "robot"))
    broken(lambda l: l["tools"][0].__setitem__("type", "retrieval"))
    broken(lambda l: l.__setitem__("episode_id", "metadata does not belong in the line"))
    broken(lambda l: l["messages"][call_at]["tool_calls"][0]["function"].__setitem__("name", "not_a_listed_tool"))
    record = json.loads(build.files[("default", "train", "sharegpt")].read_text())[0]
    for edit in (lambda r: r["conversations"].pop(),  # ends on the human side
                 lambda r: r["conversations"].insert(0, {"from": "gpt", "value": "hi"}),
                 lambda r: r.__setitem__("tools", [{"type": "function"}])):
        bad = json.loads(json.dumps(record))
        edit(bad)
        with pytest.raises(FormatError):
            validate_sharegpt_record(bad)


def test_tau_usi_input_is_refused(episodes, tmp_path, capsys):
    # A human corpus file handed in as input.
    human = tmp_path / "humans.jsonl"
    human.write_text(json.dumps({"dialogue_id": "retail_1", "source": "tau-usi", "domain": "retail", "task_id": None,
                                 "split": None, "licence": "CC-BY-NC-4.0",
                                 "turns": [{"role": "user", "text": "hi"}]}) + "\n")
    with pytest.raises(LicenceError, match="TAU-USI"):
        build_sft([human, episodes["seed"]], tmp_path / "a")
    # Personas selected by a fitness model trained on TAU-USI, as an evolution run records it.
    evo = tmp_path / "evo"
    _write(evo / "rollout", _records(episodes["seed"]))
    (evo / "run_manifest.json").write_text(json.dumps({"command": "evolve", "corpus": "tau-usi"}))
    with pytest.raises(LicenceError, match="TAU-USI"):
        build_sft([episodes["base"], evo / "rollout"], tmp_path / "b")
    # A rollout of a program whose run recorded TAU-USI (spelled another way): followed through --program.
    prog_run = tmp_path / "run"
    prog_run.mkdir()
    (prog_run / "run_identity.json").write_text(json.dumps({"domain": "retail", "corpus": "TAU_USI"}))
    (prog_run / "best.py").write_text("# program\n")
    rollout = tmp_path / "rollout"
    _write(rollout, _records(episodes["seed"]))
    (rollout / "manifest.json").write_text(json.dumps({"command": "rollout", "args": {"program": str(prog_run / "best.py")}}))
    with pytest.raises(LicenceError, match="recorded in"):
        build_sft([episodes["base"], rollout], tmp_path / "c")
    # An evolution run whose frozen fitness model records TAU-USI humans (its run manifest may say otherwise).
    evo2 = tmp_path / "evo2"
    _write(evo2 / "episodes", _records(episodes["seed"]))
    (evo2 / "run_manifest.json").write_text(json.dumps({"command": "evolve", "corpus": "multiwoz"}))
    (evo2 / "fitness" / "retail").mkdir(parents=True)
    (evo2 / "fitness" / "retail" / "fitness.json").write_text(json.dumps({"human_corpus": "tau-usi"}))
    with pytest.raises(LicenceError, match="fitness.json"):
        build_sft([episodes["base"], evo2 / "episodes"], tmp_path / "e")
    # A persona that says where it came from.
    tagged = tmp_path / "tagged"
    seed = _records(episodes["seed"])
    _write(tagged, [seed[0].model_copy(update={"persona": seed[0].persona.model_copy(update={"source": "tau-usi:x"})})])
    with pytest.raises(LicenceError):
        build_sft([episodes["base"], tagged], tmp_path / "d")
    # The CLI: exit status 2, a message naming the licence, nothing written.
    assert main(["sft", "build", str(episodes["base"]), str(rollout), "--out", str(tmp_path / "cli")]) == 2
    assert "CC-BY-NC-4.0" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in ("a", "b", "c", "d", "e", "cli"))


def test_an_openly_licensed_corpus_is_accepted_and_recorded(episodes, tmp_path):
    rollout = tmp_path / "rollout"
    _write(rollout, _records(episodes["seed"]))
    (rollout / "run_manifest.json").write_text(json.dumps({"command": "evolve", "corpus": "multiwoz"}))
    build = build_sft([episodes["base"], rollout], tmp_path / "sft")
    assert '"multiwoz"' in build.manifest["sources"][1]["recorded_corpora"]
    assert build.manifest["sources"][0]["recorded_corpora"] == "none recorded"


def test_cli_builds_and_reports_clear_errors(episodes, tmp_path, capsys):
    out = tmp_path / "sft"
    assert main(["sft", "build", str(episodes["base"]), str(episodes["seed"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "default: train 2 / validation 1" in printed and "default_ppol: train 2 / validation 1" in printed
    first = (out / "default_ppol" / "openai_train.jsonl").read_text()
    # An existing build is not replaced by accident; --overwrite with the same seed writes the same files.
    assert main(["sft", "build", str(episodes["base"]), str(episodes["seed"]), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["sft", "build", str(episodes["base"]), str(episodes["seed"]), "--out", str(out), "--overwrite"]) == 0
    assert (out / "default_ppol" / "openai_train.jsonl").read_text() == first
    # Only default episodes: no mixed regime can be built.
    assert main(["sft", "build", str(episodes["base"]), "--out", str(tmp_path / "x")]) == 2
    assert "no successful train-split PPol episodes" in capsys.readouterr().err
    # Not an episode file.
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"hello": 1}\n')
    assert main(["sft", "build", str(junk), "--out", str(tmp_path / "y")]) == 2
    assert "not a valid episode record" in capsys.readouterr().err
    with pytest.raises(SFTDataError, match="no such episode file"):
        build_sft([tmp_path / "missing"], tmp_path / "z")


def test_sft_train_refuses_bad_input_before_loading_a_model(episodes, tmp_path, capsys):
    junk = tmp_path / "train.jsonl"
    junk.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    args = ["sft", "train", "--model", str(tmp_path / "no-model"), "--train", str(junk), "--validation", str(junk),
            "--out", str(tmp_path / "out")]
    assert main(args) == 2
    err = capsys.readouterr().err
    # Without the extra: the install hint; with it: the format error, named by file and line.
    assert "pip install 'ppol_nb[train]'" in err or f"{junk}:1: not an OpenAI chat fine-tuning line" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_system_prompt_and_tools_are_what_the_tau2_agent_is_served(domain):
    from ppol_nb.simulation.environments import make_environment
    from ppol_nb.simulation.tau2_bridge import tau2_modules
    from ppol_nb.training.sft_data import agent_setup

    env = make_environment(domain)
    agent = tau2_modules().LLMAgent(tools=env.get_tools(), domain_policy=env.get_policy(), llm="any")
    system, tools = agent_setup(domain)
    assert system == agent.system_prompt
    assert [json.loads(t) for t in tools] == [t.openai_schema for t in env.get_tools()]
