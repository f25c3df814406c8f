"""The offline agent's reader of user turns: the rules seam, the learned reader, and notebook 05's regimes."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from ppol_nb.backends import make_backend
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
    episode_dialogue,
    regime_dialogues,
    training_records,
)

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
    assert set(reader.get_params()) == {"C", "min_confidence", "max_iter", "random_state"}
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

    clone = pickle.loads(pickle.dumps(make_backend("offline", agent_reader=reader).recipe())).build()
    turn = (CONFIRM.format(n=1), "yep")
    assert clone.agent_reader.predict([turn]) == reader.predict([turn])


# ----------------------------------------------------------------------------- regimes and the study
def test_regimes_have_equal_budgets_and_the_stated_mix():
    default, ppol = [f"d{i}" for i in range(30)], [f"p{i}" for i in range(30)]
    regimes = regime_dialogues(default, ppol, 20, seed=0, ppol_share=0.5)
    assert len(regimes["Default-only"]) == len(regimes["Default+PPol"]) == 20
    assert set(regimes["Default-only"]) <= set(default)
    assert sum(d in ppol for d in regimes["Default+PPol"]) == 10
    assert regime_dialogues(default, ppol, 20, seed=1) != regimes == regime_dialogues(default, ppol, 20, seed=0)
    with pytest.raises(ValueError, match="not enough"):
        regime_dialogues(default, ppol[:5], 20, seed=0)


def test_training_refuses_trait_and_test_episodes():
    row = {"condition": "base", "split": "train", "persona": None, "error": None, "reward": 1.0}
    assert len(training_records(pd.DataFrame([row]))) == 1
    trait = {**row, "condition": "trait:skeptical", "persona": trait_persona("skeptical").to_dict()}
    for bad in (trait, {**row, "split": "test"}, {**row, "condition": "program", "persona": trait["persona"]}):
        with pytest.raises(ValueError, match="trait"):
            training_records(pd.DataFrame([row, bad]))


def test_adapter_gives_openai_chat_messages():
    rec = run_episode(EpisodeSpec("retail", "0"), make_backend("offline"))
    msgs = episode_dialogue(rec)
    assert {m["role"] for m in msgs} <= {"user", "assistant", "tool"}
    call = next(m for m in msgs if m.get("tool_calls"))["tool_calls"][0]
    assert call["type"] == "function" and isinstance(json.loads(call["function"]["arguments"]), dict)


def test_small_study_trains_on_train_rollouts_only_and_fills_table_2(tmp_path):
    study = AgentTrainingStudy(out=tmp_path, domains=("retail",), seeds=(0,), n_dialogues=4, n_personas=2,
                               default_rollout_seeds=(0, 1, 2), train_limit=3, test_limit=2, n_resamples=200,
                               figures=tmp_path / "figures")
    results = study.run()
    default, ppol = study.rollouts("retail")
    trained = pd.concat([default, ppol])
    assert set(trained["condition"]) == {"base", "program"} and set(trained["split"]) == {"train"}
    instructions = {(p or {}).get("instruction") for p in trained["persona"]}
    assert not instructions & {trait_persona(t).instruction for t in TRAIT_NAMES}
    assert set(results["condition"]) == {"base", *(f"trait:{t}" for t in TRAIT_NAMES)}
    assert {split_of("retail", t) for t in results["task_id"]} == {"test"}
    budgets = study.budgets()
    assert budgets.groupby("seed")["n_dialogues"].nunique().eq(1).all()
    display = study.display()
    assert [r for _, r in display.index] == list(REGIMES)
    assert {"Default", "Skeptical", "Incoherent", "Impatient", "Confusion", "OOD avg"} <= set(display.columns)
    tidy = study.table()
    assert ((tidy.low <= tidy.estimate + 1e-9) & (tidy.estimate <= tidy.high + 1e-9)).all()
    assert study.plot().exists()
    assert "offline" in study.findings()
