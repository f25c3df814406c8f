"""The offline agent's reader of user turns: the rules seam, the learned reader, and notebook 05's regimes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from ppol_nb.backends import from_recipe, make_backend
from ppol_nb.offline.understanding import (
    ASK_AGAIN,
    PROCEED,
    REFUSE,
    DialogueReader,
    RuleReader,
    dialogue_examples,
)
from ppol_nb.personas.traits import TRAIT_NAMES, trait_persona
from ppol_nb.simulation.runner import EpisodeSpec, run_episode
from ppol_nb.simulation.scenario import Fact
from ppol_nb.simulation.tau2_bridge import split_of
from ppol_nb.studies.agent_training import (
    REGIMES,
    AgentTrainingStudy,
    check_training_rows,
)
from ppol_nb.training import read_openai_jsonl

CONFIRM = "To confirm: I will cancel order #W{n}. Shall I proceed? Please answer yes or no."
CLOSE = "Your request has been processed. Is there anything else I can help you with?"
PEOPLE = [("Fatima", "Johnson", "78712"), ("Mei", "Davis", "80217"), ("Yusuf", "Rossi", "19122"),
          ("Noah", "Patel", "10108"), ("Sofia", "Kim", "32286"), ("Ivan", "Hernandez", "92133")]
YES = ["Yes, please go ahead.", "Sure. Yes, please go ahead.", "yes go ahead", "Ok go ahead"]
NO = ["No, that's everything. Thank you so much for your help! ###STOP###", "no thats it ###STOP###"]


def _call(name, **arguments):
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call_{name}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]}


def _dialogue(k: int, first: str, last: str, zip_code: str, opening_has_facts: bool) -> list[dict]:
    """A successful OpenAI-format dialogue: identify, confirm, cancel, close."""
    order = f"{4000000 + k}"
    msgs = [{"role": "assistant", "content": "Hi! How can I help you today?"}]
    if opening_has_facts:
        msgs.append({"role": "user", "content": f"Hello! I want to cancel order #W{order}. I am {first} {last} in zipcode {zip_code}."})
    else:
        msgs += [{"role": "user", "content": f"hi, cancel #W{order} pls"},
                 {"role": "assistant", "content": "Could you please provide your name and your zip code?"},
                 {"role": "user", "content": f"{first} {last} {zip_code}"}]
    msgs += [_call("find_user_id_by_name_zip", first_name=first, last_name=last, zip=zip_code),
             {"role": "tool", "tool_call_id": "call_find_user_id_by_name_zip", "content": f"{first.lower()}_{k}"},
             {"role": "assistant", "content": CONFIRM.format(n=order)},
             {"role": "user", "content": YES[k % len(YES)]},
             _call("cancel_pending_order", order_id=f"#W{order}", reason="no longer needed"),
             {"role": "tool", "tool_call_id": "call_cancel_pending_order", "content": "{}"},
             {"role": "assistant", "content": CLOSE},
             {"role": "user", "content": NO[k % len(NO)]}]
    return msgs


def _dialogues(n: int = 12) -> list[list[dict]]:
    return [_dialogue(k, *PEOPLE[k % len(PEOPLE)], opening_has_facts=k % 2 == 0) for k in range(n)]


@pytest.fixture(scope="module")
def reader():
    return DialogueReader(random_state=0).fit(_dialogues())


# ----------------------------------------------------------------------------- the learner's contract
def test_supervision_comes_from_the_dialogue_itself():
    tagged, acts = dialogue_examples(_dialogue(1, "Mei", "Davis", "80217", opening_has_facts=False))
    tags = {u: dict(zip(u.split(), t)) for _, u, t, _ in tagged}
    assert tags["Mei Davis 80217"] == {"Mei": ["name"], "Davis": ["name"], "80217": ["zip code"]}
    assert [a for _, _, a in acts] == [PROCEED, REFUSE]  # executed the change; the conversation ended


def test_fit_predict_and_fitted_attributes(reader):
    assert reader.n_dialogues_ == 12 and {"name", "zip code", "order id"} <= set(reader.labels_)
    assert set(reader.get_params()) == {"C", "min_confidence", "max_iter", "random_state", "confirmation_prior"}
    [reading] = reader.predict([("Could you please provide your name and your zip code?", "Ivan Hernandez 92133")])
    assert set(reading) == {"facts", "act"} and reading["act"] in (PROCEED, REFUSE, ASK_AGAIN)


def test_same_random_state_and_data_give_the_same_reader():
    a = DialogueReader(random_state=3).fit(_dialogues())
    b = DialogueReader(random_state=3).fit(_dialogues())
    turns = [(CONFIRM.format(n=1), t) for t in ["yep", "hmm maybe", "No"]] + [("Your name?", "Noah Patel")]
    assert a.fingerprint_ == b.fingerprint_ and a.predict(turns) == b.predict(turns)
    assert DialogueReader(random_state=4).fit(_dialogues()).fingerprint_ != a.fingerprint_


def test_untrained_reader_is_refused_clearly():
    with pytest.raises(NotFittedError, match="not trained"):
        DialogueReader().heard(Fact("zip code", "zip", "78712"), ["78712"])
    with pytest.raises(NotFittedError, match="not trained"):
        make_backend("offline", agent_reader=DialogueReader())


def test_fit_refuses_data_that_cannot_teach_a_decision():
    talk_only = [[{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "hello"}]]
    with pytest.raises(ValueError, match="nothing to learn"):
        DialogueReader().fit(talk_only)
    with pytest.raises(TypeError, match="each dialogue"):
        DialogueReader().fit(["not a dialogue"])


def test_consent_only_data_keep_the_rules_for_confirmations_only_when_asked():
    # SFT exports end on the agent's last message: the user's closing answer is cut, every answer is a consent.
    consent_only = [d[:-1] for d in _dialogues()]
    with pytest.raises(ValueError, match="two different next actions"):
        DialogueReader().fit(consent_only)
    reader = DialogueReader(confirmation_prior="rules").fit(consent_only)
    assert reader.act_counts_ == {PROCEED: reader.n_act_turns_} and "rules" in reader.describe()["confirmations"]
    for answer in ("yes go ahead", "No, don't do that", "hmm, maybe"):
        assert reader.confirmation(CONFIRM.format(n=1), answer) == RuleReader().confirmation(CONFIRM.format(n=1), answer)
    assert reader.heard(Fact("zip code", "zip", "92133"), ["Ivan Hernandez 92133"],
                        ["Could you please provide your name and your zip code?"])  # the facts are still learned
    assert DialogueReader(confirmation_prior="rules").fit(_dialogues()).describe()["confirmations"] == "learned"
    with pytest.raises(ValueError, match="confirmation_prior"):
        DialogueReader(confirmation_prior="llm").fit(_dialogues())


def test_openai_backend_refuses_an_offline_reader(reader):
    with pytest.raises(ValueError, match="fine-tuning"):
        make_backend("openai", model="m", agent_reader=reader)


# ----------------------------------------------------------------------------- behaviour
def test_trained_reader_reads_a_consent_the_rules_misread(reader):
    # "not" makes the rules distrust a yes; a reader trained on confirmations reads the consent.
    answer = "Yes, that is not a problem, go ahead."
    assert RuleReader().confirmation(CONFIRM.format(n=1), answer) != PROCEED
    assert reader.confirmation(CONFIRM.format(n=1), answer) == PROCEED
    assert reader.confirmation(CLOSE, "No, that's all, thanks") == REFUSE


def test_learned_reader_can_miss_a_fact_but_never_invents_one(reader):
    asked = "Could you please provide your name and your zip code?"
    assert reader.heard(Fact("zip code", "zip", "92133"), ["Ivan Hernandez 92133"], [asked])
    assert not reader.heard(Fact("zip code", "zip", "11111"), ["Ivan Hernandez 92133"], [asked])
    assert not reader.heard(Fact("zip code", "zip", "92133"), ["I don't remember it"], [asked])


def test_without_a_reader_the_agent_is_the_rule_agent():
    backend = make_backend("offline")
    assert backend.agent_model == "offline-agent" and "agent_reader" not in backend.describe()
    a = run_episode(EpisodeSpec("retail", "0"), backend)
    b = run_episode(EpisodeSpec("retail", "0"), make_backend("offline"))
    assert a["messages"] == b["messages"] and a["reward"] == 1.0


class _DeafReader(RuleReader):
    """Hears no fact and takes no answer as consent (to watch the agent obey its reader)."""

    def heard(self, fact, user_texts, agent_texts=None):
        return False

    def confirmation(self, agent_text, user_text):
        return ASK_AGAIN

    def describe(self):
        return {"reader": "deaf", "fingerprint": "deaf"}


def test_the_agent_decides_through_its_reader():
    rec = run_episode(EpisodeSpec("retail", "0"), make_backend("offline", agent_reader=_DeafReader()))
    calls = [c["name"] for m in rec["messages"] for c in m.get("tool_calls") or []]
    assert rec["agent_model"] == "offline-agent+reader-deaf"
    assert calls == ["transfer_to_human_agents"] and rec["reward"] == 0.0  # asked, re-asked, gave up


def test_trained_reader_survives_a_worker_process(reader):
    import pickle

    clone = from_recipe(pickle.loads(pickle.dumps(make_backend("offline", agent_reader=reader).recipe())))
    turn = (CONFIRM.format(n=1), "yep")
    assert clone.agent_reader.predict([turn]) == reader.predict([turn])


# ----------------------------------------------------------------------------- regimes and the study
def test_training_lines_must_be_train_task_episodes_of_the_training_conditions():
    row = {"domain": "retail", "task_id": next(t for t in map(str, range(200)) if split_of("retail", t) == "train"),
           "condition": "base", "kind": "default"}
    check_training_rows([row, {**row, "condition": "program", "kind": "ppol"}])
    test_task = next(t for t in map(str, range(200)) if split_of("retail", t) == "test")
    for bad in ({**row, "condition": "trait:skeptical"}, {**row, "task_id": test_task}, {**row, "condition": "dp"}):
        with pytest.raises(ValueError, match="train-task episodes"):
            check_training_rows([row, bad])


def test_small_study_trains_on_the_exported_train_files_only_and_fills_table_2(tmp_path):
    study = AgentTrainingStudy(out=tmp_path, domains=("retail",), seeds=(0,), n_dialogues=6, n_personas=2,
                               default_rollout_seeds=(0, 1, 2), train_limit=3, test_limit=2, n_resamples=200,
                               figures=tmp_path / "figures")
    results = study.run()
    # every reader was fitted on exactly its regime's exported train file, recorded with its sha256
    budgets = study.budgets()
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert {(r["regime"], r["trained_on"]["file"]) for r in manifest["readers"]} == {
        (regime, str(tmp_path / "sft" / "retail" / "seed-0" / folder / "openai_train.jsonl"))
        for regime, folder in (("Default-only", "default"), ("Default+PPol", "default_ppol"))}
    for entry in manifest["readers"]:
        path = Path(entry["trained_on"]["file"])
        assert entry["trained_on"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["fingerprint"] == study.readers[("retail", 0)][entry["regime"]].fingerprint_
        assert DialogueReader(confirmation_prior="rules", random_state=0).fit(
            read_openai_jsonl(path)).fingerprint_ == entry["fingerprint"]
        assert entry["trained_on"]["builder_seed"] == 0
    assert budgets["n_dialogues"].nunique() == 1  # equal budget
    built = study.builds[("retail", 0)].manifest
    assert built["mix"]["default_ppol"]["ppol"] == round(0.5 * built["n_per_regime"]) and built["n_per_regime"] <= 6
    mixed = budgets.set_index("regime").loc["Default+PPol"]
    assert mixed.n_ppol > 0 and mixed.n_ppol + mixed.n_default == mixed.n_dialogues
    assert budgets.set_index("regime").loc["Default-only", "n_ppol"] == 0
    # only train-task episodes of the base and program conditions reached the exported lines
    rows = [json.loads(line) for f in (tmp_path / "sft").rglob("rows_*.jsonl") for line in f.read_text().splitlines()]
    assert rows and {r["condition"] for r in rows} <= {"base", "program"}
    assert {split_of("retail", r["task_id"]) for r in rows} == {"train"}
    episodes = pd.concat(pd.read_json(p, lines=True) for p in (tmp_path / "rollouts").rglob("episodes.jsonl"))
    personas = {json.dumps(p, sort_keys=True) for p in episodes.persona if isinstance(p, dict)}
    exported = "\n".join(f.read_text() for f in (tmp_path / "sft").rglob("openai_*.jsonl"))
    for t in TRAIT_NAMES:
        assert trait_persona(t).instruction not in exported
        assert not any(trait_persona(t).instruction in p for p in personas)
    assert set(results["condition"]) == {"base", *(f"trait:{t}" for t in TRAIT_NAMES)}
    assert {split_of("retail", t) for t in results["task_id"]} == {"test"}
    display = study.display()
    assert [r for _, r in display.index] == list(REGIMES)
    assert {"Default", "Skeptical", "Incoherent", "Impatient", "Confusion", "OOD avg"} <= set(display.columns)
    tidy = study.table()
    assert ((tidy.low <= tidy.estimate + 1e-9) & (tidy.estimate <= tidy.high + 1e-9)).all()
    assert study.plot().exists()
    assert "offline" in study.findings()


def test_build_data_gives_a_lora_command_per_regime_and_seed(tmp_path):
    study = AgentTrainingStudy(out=tmp_path, domains=("retail",), seeds=(0, 1), n_dialogues=4, n_personas=2,
                               default_rollout_seeds=(0, 1), train_limit=3)
    builds = study.build_data()
    assert set(builds) == {("retail", 0), ("retail", 1)}
    commands = study.lora_commands("my-model")
    assert len(commands) == 4 and all(c.startswith("ppol-nb sft train --model my-model --train ") for c in commands)
    for c in commands:
        train, validation = c.split(" --train ")[1].split(" --validation ")[0], c.split(" --validation ")[1].split(" --out ")[0]
        assert read_openai_jsonl(train) and read_openai_jsonl(validation)
