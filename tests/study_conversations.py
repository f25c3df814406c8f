"""Conversations and checks shared by the blinded-study tests (app via TestClient, and in a browser)."""

from ppol_nb.humans.schema import Corpus, Dialogue, Turn
from ppol_nb.simulation.store import EpisodeStore
from ppol_nb.apps.blinded_study import ATTENTION_SOURCE, build_study

# Distinctive names, so a search of response bodies cannot hit ordinary words.
BASE, PPOL, HUMAN = "simbasezq", "ppolevolvedzq", "humancorpuszq"
MODELS = {BASE: "modelbasexq-7b", PPOL: "modelppolxq-70b"}
SECRETS = [BASE, PPOL, HUMAN, ATTENTION_SOURCE, *MODELS.values(), "epzq", "dlgzq", "personazq", "taskzq",
           "###", "origin", "source"]


def episode(source: str, i: int) -> dict:
    model = MODELS[source]
    messages = [
        {"role": "system", "content": "You are a customer simulator. Follow the τ² instructions."},
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": f"I need to return the lamp from order {i}, episode epzq-{source}-{i} please."},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "name": "get_order_details", "arguments": {"order_id": "#W1"}}]},
        {"role": "tool", "content": '{"status": "delivered"}', "tool_call_id": "c1", "error": False},
        {"role": "assistant", "content": f"Sure, I ({model}) can help with that return."},
        {"role": "user", "content": "Great, thanks. ###STOP###"},
    ]
    return {"episode_id": f"epzq-{source}-{i}", "domain": "retail", "task_id": f"taskzq-{i}", "split": "test",
            "condition": source, "persona": None if source == BASE else {
                "persona_id": f"personazq-{i}", "description": "d", "axis_placement": {}, "reasoning": "r",
                "instruction": "i", "source": "evolved"},
            "backend": "offline", "user_model": model, "agent_model": model, "seed": i, "max_steps": 30,
            "reward": 1.0, "reward_breakdown": {"DB": 1.0}, "termination_reason": "user_stop",
            "messages": messages, "error": None, "ppol_nb_version": "0.1.0", "duration_s": 0.1, "llm_calls": 0,
            "cost_usd": 0.0}


def human_corpus(n: int) -> Corpus:
    dialogues = [Dialogue(f"dlgzq-{i}", "tau-usi", "retail", None, "test",
                          (Turn("user", f"hey, my lamp <b>arrived</b> broken (#{i})"), Turn("agent", "Sorry! Let me check."),
                           Turn("user", "ok thx")), "CC-BY-4.0") for i in range(n)]
    return Corpus(HUMAN, dialogues, "CC-BY-4.0", "test", False, False)


def make_sources(tmp_path):
    out = {}
    for source in (BASE, PPOL):
        store = EpisodeStore(tmp_path / "runs" / source)
        for i in range(6):
            store.append(episode(source, i))
        out[source] = tmp_path / "runs" / source
    out[HUMAN] = human_corpus(5)
    return out


def make_study(tmp_path, sources):
    return build_study(sources, tmp_path / "study", per_source=4, seed=7, n_attention=2)


def assert_blind(text: str) -> None:
    lowered = text.lower()
    for secret in SECRETS:
        assert secret.lower() not in lowered, f"{secret!r} revealed"
