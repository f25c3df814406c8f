"""Human dialogue corpora: loaders, schema, licences (no network).

MultiWOZ and ABCD are the real files the look-up order finds (../shared/data/humans
in CI, the user data directory after ``ppol-nb data fetch``); with neither, these
tests fail with the message naming the fetch command. TAU-USI comes from an
invented fixture in its assumed layout.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import pytest

from ppol_nb.humans import (
    Corpus,
    Dialogue,
    LicenceError,
    TauUsiUnavailable,
    Turn,
    assert_trainable,
    attributions,
    detokenize,
    find_corpus_file,
    load_abcd,
    load_corpus,
    load_jsonl,
    load_multiwoz,
    load_tau_usi,
    shared_data_dir,
    tau2_task_id,
    tau_bench_ids,
    write_jsonl,
)
from ppol_nb.humans import paths as humans_paths
from ppol_nb.humans.multiwoz import split_by_dialogue

FIXTURE = Path(__file__).parent / "fixtures" / "tau_usi_fixture.json"


@pytest.fixture(scope="module")
def multiwoz() -> Corpus:
    return load_multiwoz()


@pytest.fixture(scope="module")
def tau_usi() -> Corpus:
    return load_tau_usi(FIXTURE)


# --- MultiWOZ ---------------------------------------------------------------


def test_multiwoz_counts_and_roles(multiwoz):
    assert multiwoz.name == "multiwoz"
    assert len(multiwoz.dialogues) == 999
    assert 7000 <= multiwoz.user_turn_count <= 7800
    for d in multiwoz.dialogues:
        assert d.source == "multiwoz" and d.domain == "multiwoz" and d.task_id is None
        roles = [t.role for t in d.turns]
        assert roles[0] == "user"
        assert all(a != b for a, b in itertools.pairwise(roles)), d.dialogue_id


def test_multiwoz_user_turns_are_detokenised(multiwoz):
    turns = multiwoz.user_turns
    assert not [t for t in turns if " n't" in t]
    assert not [t for t in turns if " ." in t]
    assert not [t for t in turns if " ," in t]
    assert any("n't" in t for t in turns)  # contractions survive, rejoined


def test_multiwoz_split_is_seeded_balanced_and_disjoint(multiwoz):
    ids = [d.dialogue_id for d in multiwoz.dialogues]
    # The loader's split is the seeded function of the ids alone (file order does not matter).
    assert split_by_dialogue(list(reversed(ids)), seed=0) == {d.dialogue_id: d.split for d in multiwoz.dialogues}
    reference = {d.dialogue_id for d in multiwoz.filter(split="reference").dialogues}
    heldout = {d.dialogue_id for d in multiwoz.filter(split="heldout").dialogues}
    assert reference.isdisjoint(heldout)
    assert reference | heldout == {d.dialogue_id for d in multiwoz.dialogues}
    assert abs(len(reference) - len(heldout)) <= 1
    other = split_by_dialogue(ids, seed=1)
    assert {d for d, split in other.items() if split == "reference"} != reference


def test_corpus_frame_and_filter(multiwoz):
    frame = multiwoz.to_frame()
    assert list(frame.columns) == ["dialogue_id", "source", "domain", "task_id", "split", "n_user_turns"]
    assert len(frame) == 999 and frame["n_user_turns"].sum() == multiwoz.user_turn_count
    assert multiwoz.filter(domain="retail").dialogues == []
    assert len(multiwoz.filter(domain="multiwoz")) == 999
    assert multiwoz.filter(split=None).dialogues == []  # split=None means "no split", not "any"


# --- ABCD -------------------------------------------------------------------


def test_abcd_sample():
    corpus = load_abcd()
    assert len(corpus.dialogues) == 3
    assert corpus.user_turn_count == 31
    assert {d.domain for d in corpus.dialogues} == {"retail"}
    assert {d.split for d in corpus.dialogues} == {None}
    assert corpus.licence == "MIT" and corpus.llm_training_allowed


# --- TAU-USI (fixture in the assumed layout) -------------------------------


def test_tau_usi_strips_scaffolding_and_drops_short(tau_usi):
    ids = [d.dialogue_id for d in tau_usi.dialogues]
    assert ids == ["retail_0_ann1", "retail_100_ann2", "airline_1", "retail_200_ann1"]
    assert "airline_5_ann1" not in ids  # one real user turn only
    texts = [t.text for d in tau_usi.dialogues for t in d.turns]
    assert not [t for t in texts if "\\tau" in t or "task_index" in t]  # setup lines
    assert not [t for t in texts if "TASK CARD" in t]  # marked and unmarked canvases
    assert not [t for t in texts if "/stop" in t]
    assert not [t for t in texts if "fixture_tool_result" in t]  # system/tool message
    first = tau_usi.dialogues[0]
    assert first.turns[0] == Turn("agent", "Hello, thanks for reaching the store. What can I do for you?")
    assert first.user_turns[0] == "hey so i got my package and two things are wrong"
    assert tau_usi.dialogues[1].user_turns[-1] == "Sam Example, 11111. thanks, bye"


def test_tau_usi_maps_tau_bench_index_to_tau2_task_and_split(tau_usi):
    by_id = {d.dialogue_id: d for d in tau_usi.dialogues}
    assert (by_id["retail_0_ann1"].domain, by_id["retail_0_ann1"].task_id, by_id["retail_0_ann1"].split) == (
        "retail", "0", "train")
    # τ-bench retail 100 is τ² retail 99 (τ² dropped a duplicate at τ-bench 95).
    assert (by_id["retail_100_ann2"].task_id, by_id["retail_100_ann2"].split) == ("99", "train")
    # τ² reordered airline: τ-bench airline 1 is τ² airline 19, an official test task.
    assert (by_id["airline_1"].domain, by_id["airline_1"].task_id, by_id["airline_1"].split) == (
        "airline", "19", "test")
    assert (by_id["retail_200_ann1"].task_id, by_id["retail_200_ann1"].split) == (None, None)
    assert {d.source for d in tau_usi.dialogues} == {"tau-usi"}
    assert tau_usi.research_only and not tau_usi.llm_training_allowed


def test_tau_usi_index_mode_reproduces_authors_convention():
    corpus = load_tau_usi(FIXTURE, task_ids="index")
    by_id = {d.dialogue_id: d for d in corpus.dialogues}
    assert (by_id["retail_100_ann2"].task_id, by_id["retail_100_ann2"].split) == ("100", "test")
    assert (by_id["airline_1"].task_id, by_id["airline_1"].split) == ("1", "train")


def test_tau_usi_keep_min_user_turns():
    corpus = load_tau_usi(FIXTURE, keep_min_user_turns=1, split_lookup=lambda domain, tid: "train")
    assert "airline_5_ann1" in {d.dialogue_id for d in corpus.dialogues}
    strict = load_tau_usi(FIXTURE, keep_min_user_turns=3, split_lookup=lambda d, t: "x")
    assert [d.dialogue_id for d in strict.dialogues] == ["retail_0_ann1", "airline_1"]


def test_tau_usi_download_failure_explains_terms(monkeypatch, tmp_path):
    import huggingface_hub

    # No local copy anywhere, so the loader goes to the (refusing) Hub.
    monkeypatch.setenv("PPOL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(humans_paths, "user_data_dir", lambda: tmp_path / "user")
    monkeypatch.setattr(humans_paths, "_search_starts", lambda: [tmp_path])
    monkeypatch.delenv("PPOL_SHARED_DIR", raising=False)

    def refuse(**kwargs):
        assert kwargs["repo_id"] == "cmu-lti/tau-usi" and kwargs["repo_type"] == "dataset"
        raise OSError("401 gated repo")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    with pytest.raises(TauUsiUnavailable) as info:
        load_tau_usi(token="hf_fake")
    message = str(info.value)
    assert "gated" in message and "CC-BY-NC-4.0" in message and "path=" in message


def test_tau_bench_ids_match_installed_tau2_tasks():
    from ppol_nb.simulation.tau2_bridge import load_tasks

    tasks = {domain: {t.id: t for t in load_tasks(domain, None)} for domain in ("retail", "airline")}
    # τ² ids are contiguous "0".."N-1".
    for by_id in tasks.values():
        assert sorted(by_id, key=int) == [str(i) for i in range(len(by_id))]
    # Airline: a permutation of τ², each entry checked through the τ-bench user id.
    mapped = [tau2_task_id("airline", i) for i in range(50)]
    assert sorted(mapped, key=int) == sorted(tasks["airline"], key=int)
    for i, user in enumerate(tau_bench_ids.AIRLINE_TAU_BENCH_USERS):
        scenario = str(tasks["airline"][mapped[i]].user_scenario).replace(" ", "")
        assert user in scenario, (i, mapped[i], user)
    # Retail: identity up to 94, duplicate 95 -> 93, then shifted by one.
    def retail(tid):
        return str(tasks["retail"][tid].user_scenario)

    assert [tau2_task_id("retail", i) for i in (0, 94, 95, 96, 114, 115)] == ["0", "94", "93", "95", "113", None]
    assert "Lei Wilson" in retail("93") and "32GB" in retail("93")
    assert "two laptops" in retail("95")
    assert "Yusuf Li" in retail("96") and "Yara Muller" in retail("113")
    assert tau2_task_id("airline", 0) == "20" and tau2_task_id("airline", 0, mode="index") == "0"
    assert tau2_task_id("telecom", 3) is None


# --- JSONL, schema ----------------------------------------------------------


def test_jsonl_round_trip(tmp_path, multiwoz):
    subset = multiwoz.with_dialogues(multiwoz.dialogues[:20])
    path = write_jsonl(subset, tmp_path / "subset.jsonl")
    back = load_jsonl(path)
    assert back.dialogues == subset.dialogues
    assert (back.licence, back.llm_training_allowed) == (subset.licence, True)
    assert load_corpus(str(path)).dialogues == subset.dialogues


def test_jsonl_user_corpus_terms_and_errors(tmp_path):
    line = {"dialogue_id": "x1", "source": "my-logs", "domain": "retail", "task_id": None, "split": None,
            "licence": "CC-BY-4.0", "turns": [{"role": "user", "text": "hi"}, {"role": "agent", "text": "hello"}]}
    good = tmp_path / "mine.jsonl"
    good.write_text(json.dumps(line) + "\n\n", encoding="utf-8")
    corpus = load_jsonl(good)
    assert corpus.name == "mine" and corpus.dialogues[0].user_turns == ["hi"]
    assert not corpus.llm_training_allowed  # unknown terms: fail closed until the user vouches
    assert load_jsonl(good, llm_training_allowed=True).llm_training_allowed
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**line, "licence": ""}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: .*licence"):
        load_jsonl(bad)


def test_schema_is_frozen_and_validated():
    d = Dialogue("d1", "abcd", "retail", None, None, [Turn("user", "hi")], "MIT")
    assert isinstance(d.turns, tuple)
    assert Dialogue.from_dict(json.loads(json.dumps(d.to_dict()))) == d
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.split = "train"
    with pytest.raises(ValueError):
        Turn("system", "x")
    with pytest.raises(ValueError):
        Dialogue("d2", "abcd", "retail", None, None, (), "")


def test_detokenize_examples():
    assert detokenize("That does n't matter .") == "That doesn't matter."
    assert detokenize("I 'd like a taxi , please .") == "I'd like a taxi, please."


# --- shared folder ----------------------------------------------------------


def test_shared_data_dir_from_env(tmp_path, monkeypatch):
    (tmp_path / "elsewhere" / "data" / "humans").mkdir(parents=True)
    monkeypatch.setenv("PPOL_SHARED_DIR", str(tmp_path / "elsewhere"))
    assert shared_data_dir() == tmp_path / "elsewhere" / "data" / "humans"
    monkeypatch.setenv("PPOL_SHARED_DIR", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="PPOL_SHARED_DIR"):
        shared_data_dir()


def test_shared_data_dir_by_search(tmp_path, monkeypatch):
    monkeypatch.delenv("PPOL_SHARED_DIR", raising=False)
    (tmp_path / "shared" / "data" / "humans").mkdir(parents=True)
    (tmp_path / "repo" / "notebooks").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo" / "notebooks")  # repo/../shared, found from a subfolder
    assert shared_data_dir() == tmp_path / "shared" / "data" / "humans"
    monkeypatch.setattr(humans_paths, "_search_starts", lambda: [tmp_path / "repo"])
    (tmp_path / "shared" / "data" / "humans").rmdir()
    with pytest.raises(FileNotFoundError) as info:
        shared_data_dir()
    assert "PPOL_SHARED_DIR" in str(info.value) and str(tmp_path / "repo") in str(info.value)


def test_default_paths_find_the_real_corpora():
    assert find_corpus_file("multiwoz").name == "val.json.zip"
    assert find_corpus_file("abcd").name == "abcd_sample.json"


# --- load_corpus ------------------------------------------------------------


def test_load_corpus_by_name_path_and_domain(tau_usi):
    assert load_corpus("ABCD", domain="retail").name == "abcd"
    by_path = load_corpus(str(FIXTURE), domain="airline")
    assert [d.dialogue_id for d in by_path.dialogues] == ["airline_1"]
    assert load_corpus("tau_usi", path=FIXTURE).dialogues == tau_usi.dialogues
    abcd_path = find_corpus_file("abcd")
    assert load_corpus(abcd_path).user_turn_count == 31


def test_load_corpus_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown corpus 'wizard-of-oz'.*multiwoz"):
        load_corpus("wizard-of-oz")
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        load_corpus(str(tmp_path / "nope.jsonl"))
    with pytest.raises(FileNotFoundError):
        load_multiwoz(tmp_path / "val.json.zip")
    with pytest.raises(ValueError, match="no dialogues in domain 'airline'"):
        load_corpus("abcd", domain="airline")


# --- licences ---------------------------------------------------------------


def test_assert_trainable_refuses_tau_usi(tau_usi, multiwoz):
    with pytest.raises(LicenceError, match="CC-BY-NC-4.0"):
        assert_trainable(tau_usi)
    with pytest.raises(LicenceError, match="tau-usi"):
        assert_trainable(list(multiwoz.dialogues[:3]) + [tau_usi.dialogues[0]])
    # Re-labelled as trainable, TAU-USI dialogues are still refused by their source.
    relabelled = dataclasses.replace(tau_usi, llm_training_allowed=True)
    with pytest.raises(LicenceError):
        assert_trainable(relabelled)


def test_assert_trainable_accepts_open_corpora(multiwoz):
    abcd = load_abcd()
    assert_trainable(multiwoz)
    assert_trainable(abcd)
    assert_trainable([multiwoz, abcd])
    assert_trainable(abcd.dialogues[0])
    loose = Dialogue("u1", "my-logs", "retail", None, None, (Turn("user", "hi"),), "CC0")
    with pytest.raises(LicenceError, match="unknown terms"):
        assert_trainable([loose])
    assert_trainable([loose], allow_unknown_sources=True)


def test_attributions(tau_usi, multiwoz):
    lines = attributions([multiwoz, tau_usi, multiwoz])
    assert len(lines) == 2
    assert "Budzianowski" in lines[0] and "Zhou et al. 2026" in lines[1]
    assert "ASAPP" in attributions(load_abcd())[0]


def test_tau_usi_parser_accepts_layout_variants():
    from ppol_nb.humans.tau_usi import parse_tau_usi

    records = [
        {
            "instance_id": "airline_7_ann3",
            "turns": [
                # a JSON writer that did not escape the backslash leaves TAB + "au"
                {"from": "human", "value": "\tau task_index: 7 env: airline"},
                {"from": "gpt", "value": [{"type": "text", "text": "<|canvas|> FIXTURE CARD"}]},
                {"from": "human", "value": "first message"},
                {"from": "tool", "value": "ignored"},
                {"from": "gpt", "value": "reply"},
                {"from": "human", "value": "second message"},
            ],
        }
    ]
    dialogues, stats = parse_tau_usi(records, split_lookup=lambda domain, tid: "train")
    assert stats == {"records": 1, "kept": 1, "dropped_short": 0, "no_messages": 0, "no_tau2_task": 0}
    (d,) = dialogues
    assert (d.dialogue_id, d.domain, d.task_id) == ("airline_7_ann3", "airline", "15")
    assert [(t.role, t.text) for t in d.turns] == [
        ("user", "first message"), ("agent", "reply"), ("user", "second message")]
