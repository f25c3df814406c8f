"""The typed episode record (ppol_nb.simulation.records) and how the store reads and writes it."""

from __future__ import annotations

import json

import pytest

from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.records import SCHEMA_VERSION, EpisodeRecord, RecordError
from ppol_nb.simulation.runner import EpisodeSpec, run_episodes
from ppol_nb.simulation.store import EpisodeFileError, EpisodeStore, read_episodes

PERSONA = {"persona_id": "p-1", "description": "a hurried shopper", "axis_placement": {"terse": True, "polite": False},
           "reasoning": "covers terse users", "instruction": "Answer in as few words as you can, never greet.",
           "source": "dp", "preservation": {"ok": True, "violations": []}}
MESSAGES = [
    {"role": "assistant", "content": "Hi! How can I help?"},
    {"role": "user", "content": "return my lamp"},
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "c1", "name": "find_user_id_by_email", "arguments": {"email": "a@b.c"}}]},
    {"role": "tool", "content": "user_1", "tool_call_id": "c1", "error": False},
]


def record(i: int = 1, **changes) -> dict:
    rec = {"episode_id": f"e{i}", "domain": "retail", "task_id": str(i), "split": "test", "condition": "dp",
           "persona": PERSONA, "backend": "offline", "user_model": "offline-user", "agent_model": "offline-agent",
           "seed": 0, "max_steps": 30, "reward": 1.0, "reward_breakdown": {"DB": 1.0},
           "termination_reason": "user_stop", "messages": MESSAGES, "error": None, "ppol_nb_version": "0.1.0",
           "duration_s": 0.25, "llm_calls": 0, "cost_usd": 0.0}
    return {**rec, **changes}


def test_round_trip_keeps_every_field_and_the_line_shape(tmp_path):
    store = EpisodeStore(tmp_path)
    store.append(record(1))
    store.append(record(2, persona=None, reward=None, error="RuntimeError: boom", traceback="Traceback ...",
                        messages=[]))
    line = json.loads(store.path.read_text().splitlines()[0])
    assert line["schema_version"] == SCHEMA_VERSION
    # optional message keys appear only where they apply, as before the model
    assert [sorted(m) for m in line["messages"]] == [sorted(m) for m in MESSAGES]
    loaded = EpisodeStore(tmp_path).load()
    assert loaded[0] == {**record(1), "schema_version": SCHEMA_VERSION, "traceback": None}
    assert loaded[1]["error"] == "RuntimeError: boom" and loaded[1]["traceback"] == "Traceback ..."
    typed = EpisodeStore(tmp_path).records()
    assert typed[0].persona.axis_placement == {"terse": True, "polite": False}
    assert typed[0].messages[2].tool_calls[0].arguments == {"email": "a@b.c"}


def test_a_real_episode_is_written_through_the_model(tmp_path):
    df = run_episodes([EpisodeSpec("retail", "0")], OfflineBackend(), tmp_path, progress=False)
    [line] = (tmp_path / "episodes.jsonl").read_text().splitlines()
    rec = EpisodeRecord.model_validate_json(line)
    assert rec.schema_version == SCHEMA_VERSION and rec.episode_id == df.iloc[0]["episode_id"]
    assert rec.messages and rec.reward == df.iloc[0]["reward"]
    assert set(df.columns) >= set(EpisodeRecord.model_fields) | {"success"}


@pytest.mark.parametrize("field, value, where", [
    ("reward", "1.0", "reward: Input should be a valid number"),
    ("seed", True, "seed: Input should be a valid integer"),
    ("task_id", 7, "task_id: Input should be a valid string"),
    ("messages", [{"role": "robot", "content": "hi"}], "messages.0.role: Input should be"),
    ("persona", {**PERSONA, "axis_placement": {"terse": "yes"}}, "persona.axis_placement.terse"),
    ("rewrd", 1.0, "rewrd: Extra inputs are not permitted"),
])
def test_a_wrong_field_is_rejected_when_written_and_when_read(tmp_path, field, value, where):
    store = EpisodeStore(tmp_path)
    with pytest.raises(RecordError, match="episode 'e1' is not a valid episode record") as written:
        store.append(record(1, **{field: value}))
    assert where in str(written.value)
    assert not store.path.exists() or store.path.read_text() == ""  # nothing half-valid reached the file
    store.append(record(1))
    with open(store.path, "a") as fh:  # a line some other writer produced
        fh.write(json.dumps(record(2, **{field: value})) + "\n")
    store.append(record(3))
    before = store.path.read_bytes()
    with pytest.raises(EpisodeFileError) as read:
        store.load()
    assert str(read.value).startswith(f"{store.path}:2: not a valid episode record: ") and where in str(read.value)
    assert store.path.read_bytes() == before  # loading never changes the file


def test_a_resume_stops_at_an_invalid_record_and_runs_nothing(tmp_path):
    store = EpisodeStore(tmp_path)
    with open(store.path, "w") as fh:
        fh.write(json.dumps(record(1, domain="")) + "\n")
    with pytest.raises(EpisodeFileError, match=r"episodes\.jsonl:1: .*domain: String should have at least 1"):
        run_episodes([EpisodeSpec("retail", "0")], OfflineBackend(), tmp_path, progress=False)
    assert len(store.path.read_text().splitlines()) == 1
    # the fingerprint command's lenient read skips and reports it instead
    records, report = read_episodes(store.path, strict=False)
    assert records == [] and report.skipped[0][0] == 1 and report.skipped[0][1].startswith("schema: domain")


def test_a_torn_last_line_is_reported_and_its_episode_runs_again(tmp_path, capsys):
    specs = [EpisodeSpec("retail", "0"), EpisodeSpec("retail", "1")]
    first = run_episodes(specs, OfflineBackend(), tmp_path, progress=False)
    path = tmp_path / "episodes.jsonl"
    data = path.read_bytes()
    cut = data.rstrip(b"\n").rfind(b"\n") + 1 + 200  # 200 bytes into the last line: a writer killed mid-line
    path.write_bytes(data[:cut])
    lost = json.loads(data[data.rstrip(b"\n").rfind(b"\n") + 1:])["episode_id"]
    capsys.readouterr()
    again = run_episodes(specs, OfflineBackend(), tmp_path, progress=False)
    err = capsys.readouterr().err
    assert f"{path}:2: torn last line: a write cut short by a killed process" in err
    assert err.count("torn last line") == 1  # reported once, though the run read the store twice
    assert sorted(again["episode_id"]) == sorted(first["episode_id"])
    lines = path.read_bytes().split(b"\n")
    assert lines[1] == data[:cut].split(b"\n")[1]  # the fragment is kept, on a line of its own
    assert json.loads(lines[2])["episode_id"] == lost  # only the torn episode ran again
    # later loads still read the file: the fragment is now a skipped, reported middle line
    kept = json.loads(lines[0])["episode_id"]
    assert [r.episode_id for r in EpisodeStore(tmp_path).records()] == [kept, lost]
    assert "episodes.jsonl:2: not valid JSON" in capsys.readouterr().err


def test_records_without_a_version_migrate_and_newer_ones_are_refused(tmp_path):
    path = tmp_path / "episodes.jsonl"
    old = record(1)  # written before records were versioned
    newer = {**record(2), "schema_version": SCHEMA_VERSION + 1, "mood": "new field"}
    path.write_text(json.dumps(old) + "\n")
    [rec] = EpisodeStore(tmp_path).load()
    assert rec == {**old, "schema_version": SCHEMA_VERSION, "traceback": None}
    with open(path, "a") as fh:
        fh.write(json.dumps(newer) + "\n")
    for strict in (True, False):
        with pytest.raises(EpisodeFileError, match=rf"episodes\.jsonl:2: schema_version {SCHEMA_VERSION + 1} is "
                                                    r"newer than this ppol_nb reads"):
            read_episodes(path, strict=strict)
