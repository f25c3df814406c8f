"""The persona-conditioned offline user on real τ² tasks.

Each behaviour is checked by what it should do to the fingerprint: intensity 1 vs 0
(politeness: 1 vs 0, both explicit) on a few tasks and seeds, comparing means of
``fingerprint(user_turns(messages))``. Plus: the default stays the default,
episodes are reproducible, no behaviour invents or alters a fact, and the
withholding/impatient behaviours cost task success while moderate ones do not.
"""

from __future__ import annotations

import functools
import inspect
import json
import re

import numpy as np
import pytest

from ppol_nb.fitness.fingerprint import FEATURES, IDENTIFIER, fingerprint, user_turns
from ppol_nb.fitness.lexicons import fires
from ppol_nb.offline.vocabulary import BEHAVIOURS
from ppol_nb.personas import Persona
from ppol_nb.offline import behaviours as bh
from ppol_nb.backends import LLMBackend, OfflineBackend
from ppol_nb.simulation.runner import EpisodeSpec, run_episode
from ppol_nb.simulation.scenario import build_scenario, heard, tokens
from ppol_nb.simulation.tau2_bridge import get_task, load_tasks
from ppol_nb.offline.user import OfflineUser, UserStyle

TASKS = (("retail", "0"), ("retail", "2"), ("retail", "5"), ("airline", "1"))
SEEDS = (0, 1, 2)
WITHHOLDING = UserStyle(up_front=False)
RETAIL_WRITES = {"exchange_delivered_order_items", "return_delivered_order_items", "cancel_pending_order",
                 "modify_pending_order_items", "modify_pending_order_address", "modify_pending_order_payment",
                 "modify_user_address"}


PROFILE_MARK = "Behaviour profile under test (given to a fixed reader): "


def _persona(behaviour: dict) -> dict:
    # The profile rides in the text and a fixed reader (below) returns it, so each
    # behaviour is exercised in isolation from the persona reader (tested in test_reader.py).
    return Persona.create(
        description=f"offline test persona {sorted(behaviour.items())}",
        instruction=PROFILE_MARK + json.dumps(behaviour, sort_keys=True), source="test",
    ).to_dict()


def _fixed_reading(text: str) -> dict:
    return json.loads(text.split(PROFILE_MARK, 1)[1])


def _backend(**kwargs) -> OfflineBackend:
    return OfflineBackend(reader=_fixed_reading, **kwargs)


@functools.cache
def _episode(behaviour_json: str | None, domain: str, task_id: str, seed: int, up_front: bool = True) -> dict:
    persona = None if behaviour_json is None else _persona(json.loads(behaviour_json))
    backend = _backend(user_style=UserStyle(up_front=up_front))
    rec = run_episode(EpisodeSpec(domain, task_id, seed=seed, persona=persona), backend)
    assert rec["error"] is None, rec["error"]
    return rec


def _run(behaviour: dict | None, domain: str, task_id: str, seed: int = 0, up_front: bool = True) -> dict:
    key = None if behaviour is None else json.dumps(behaviour, sort_keys=True)
    return _episode(key, domain, task_id, seed, up_front)


def _texts(rec: dict, role: str) -> list[str]:
    return [m["content"] for m in rec["messages"] if m["role"] == role and m.get("content")]


def _mean_fingerprint(behaviour: dict, tasks=TASKS, seeds=SEEDS, up_front: bool = True) -> dict[str, float]:
    rows = [fingerprint(user_turns(_run(behaviour, d, t, s, up_front)["messages"])) for d, t in tasks for s in seeds]
    return dict(zip(FEATURES, np.mean(rows, axis=0)))


def _success(behaviour, tasks, seeds=SEEDS) -> list[float]:
    return [_run(behaviour, d, t, s)["reward"] for d, t in tasks for s in seeds]


# --- the default is untouched ------------------------------------------------------------


@pytest.mark.parametrize("behaviour", [{}, {"terse": 0.0, "gating": 0.0}])
def test_empty_or_zero_profile_is_exactly_the_default_user(behaviour):
    for domain, task_id in TASKS:
        default = _run(None, domain, task_id, seed=3)
        assert _run(behaviour, domain, task_id, seed=3)["messages"] == default["messages"]
    sc = build_scenario(get_task("retail", "0"), "retail", RETAIL_WRITES)
    a, b = OfflineUser(sc, seed=1), OfflineUser(sc, seed=1, behaviour=None)
    assert a.reply("Hi!") == b.reply("Hi!")


def test_behaviour_profile_is_validated():
    sc = build_scenario(get_task("retail", "0"), "retail", RETAIL_WRITES)
    with pytest.raises(ValueError, match="unknown behaviour"):
        OfflineUser(sc, behaviour={"grumpy": 1.0})
    with pytest.raises(ValueError, match="outside"):
        OfflineUser(sc, behaviour={"terse": 1.5})


def test_persona_flows_through_runner_and_backends():
    rec = _run({"terse": 1.0}, "retail", "0")
    assert _fixed_reading(rec["persona"]["instruction"]) == {"terse": 1.0}
    assert rec["persona"]["persona_id"] in rec["episode_id"]
    for backend in (OfflineBackend, LLMBackend):
        assert "persona" in inspect.signature(backend.make_user).parameters


# --- one test per behaviour: intensity 1 vs 0 moves its features ------------------------

# behaviour -> (feature, +1 up / -1 down), checked on TASKS x SEEDS.
MOVES = {
    "terse": [("words_per_turn", -1), ("short_utterance_rate", +1), ("acknowledgment_rate", +1),
              ("opening_length", -1)],
    "bursty": [("short_utterance_rate", +1), ("words_per_turn", -1), ("verbosity_cv", +1)],
    "gating": [("front_loading_ratio", -1), ("opening_length", -1), ("identifiers_per_turn", -1)],
    "casual_typing": [("words_per_turn", -1)],
    "formality": [("formality_rate", +1)],
    "verbosity_variation": [("verbosity_cv", +1)],
    "hedging": [("uncertainty_rate", +1)],
    "pushback": [("pushback_rate", +1)],
    "frustration": [("emotional_expression_rate", +1)],
    "accusatory": [("accusatory_rate", +1)],
    "ambiguity": [("uncertainty_rate", +1)],
    "confusion": [("clarification_question_rate", +1), ("strategy_pivot_rate", +1)],
    "digression": [("front_loading_ratio", -1)],
}  # impatience: see test_withholding_or_impatient_users_cost_task_success


@pytest.mark.parametrize("behaviour", sorted(MOVES))
def test_behaviour_moves_its_fingerprint_features(behaviour):
    off, on = _mean_fingerprint({behaviour: 0.0}), _mean_fingerprint({behaviour: 1.0})
    for feature, direction in MOVES[behaviour]:
        assert direction * (on[feature] - off[feature]) > 0, (feature, off[feature], on[feature])


def test_politeness_zero_removes_and_one_adds():
    none, full = _mean_fingerprint({"politeness": 0.0}), _mean_fingerprint({"politeness": 1.0})
    default = _mean_fingerprint({})
    assert none["politeness_rate"] == 0.0
    assert full["politeness_rate"] > none["politeness_rate"]
    assert full["words_per_turn"] > default["words_per_turn"] > none["words_per_turn"]
    # Where the default is not polite (bare fact answers), intensity 1 adds politeness.
    withholding = [_run({"politeness": p}, "retail", "0", up_front=False) for p in (0.0, 1.0)]
    rates = [fingerprint(user_turns(r["messages"]))[FEATURES.index("politeness_rate")] for r in withholding]
    base = fingerprint(user_turns(_run(None, "retail", "0", up_front=False)["messages"]))
    assert rates[0] == 0.0 and rates[1] == 1.0 > base[FEATURES.index("politeness_rate")]


def test_selective_attention_answers_only_the_last_thing_asked():
    # It shows when the agent asks several things at once: start from the withholding style.
    off = _mean_fingerprint({"selective_attention": 0.0}, up_front=False)
    on = _mean_fingerprint({"selective_attention": 1.0}, up_front=False)
    assert on["words_per_turn"] < off["words_per_turn"]
    assert on["identifiers_per_turn"] < off["identifiers_per_turn"]
    rec = _run({"selective_attention": 1.0}, "retail", "0", up_front=False)
    agent, user = _texts(rec, "assistant"), _texts(rec, "user")
    i = next(k for k, t in enumerate(agent) if "name and your zip code" in t)
    assert "19122" in user[i] and "Yusuf" not in user[i]  # the zip code (asked last) only
    assert rec["reward"] == 1.0


def test_ambiguity_is_vague_until_asked_which_item_then_succeeds():
    asks = {}
    for level in (0.0, 1.0):
        recs = [_run({"ambiguity": level}, d, t, s) for d, t in TASKS for s in SEEDS]
        asks[level] = sum("Which item" in t for r in recs for t in _texts(r, "assistant"))
        assert all(r["reward"] == 1.0 for r in recs)
    assert asks[1.0] > asks[0.0]
    rec = _run({"ambiguity": 1.0}, "retail", "0")
    opener, clarified = _texts(rec, "user")[:2]
    assert "keyboard" not in opener and "thing I ordered" in opener
    assert "mechanical keyboard" in clarified


def test_casual_typing_retypes_free_text_but_never_facts():
    recs = [_run({"casual_typing": 1.0}, d, t, s) for d, t in TASKS for s in SEEDS]
    turns = [t for r in recs for t in _texts(r, "user")]
    shorthand = re.compile(r"\b(?:u|ur|pls|ty|thx|im|wanna|rn|idk)\b")
    assert sum(bool(shorthand.search(t)) for t in turns) > len(turns) / 2
    # Apart from kept names and ids, the text is lowercase.
    assert all(not re.search(r"\b(?:Hello|Thank|My|Yes|No)\b", t) for t in turns)
    for text in _texts(_run({"casual_typing": 1.0}, "retail", "0"), "user")[:1]:
        assert "#W2378156" in text and "Yusuf Rossi" in text and "19122" in text


def test_bursty_sends_a_fragment_then_the_rest_after_the_agent_replies():
    rec = _run({"bursty": 1.0}, "retail", "0")
    user = _texts(rec, "user")
    assert len(re.findall(r"\w+", user[0])) <= 3
    assert "\n" in user[1] and "19122" in user[1]
    assert rec["reward"] == 1.0


def test_gating_gives_nothing_up_front_and_one_fact_per_message():
    rec = _run({"gating": 1.0}, "retail", "0")
    user = _texts(rec, "user")
    assert "#W2378156" not in user[0] and "19122" not in user[0] and "Yusuf" not in user[0]
    for text in user[1:]:
        facts = [v for v in ("Yusuf", "19122", "#W2378156") if v in text]
        assert len(facts) <= 1, text


def test_pushback_says_it_already_told_when_the_agent_asks_again():
    sc = build_scenario(get_task("retail", "0"), "retail", RETAIL_WRITES)
    user = OfflineUser(sc, seed=0, behaviour={"pushback": 1.0})
    user.reply("Hi! How can I help you today?")  # the cooperative opening gives the zip code
    again = user.reply("I'm sorry, I could not find that. Could you please double-check your zip code?")
    assert fires("pushback_rate", again.lower()) and "19122" in again
    assert re.search(r"already told|as i said|like i said", again, re.I)


def test_frustration_grows_when_the_agent_repeats_itself():
    sc = build_scenario(get_task("retail", "0"), "retail", RETAIL_WRITES)
    first, repeated = [], []
    for seed in range(30):
        user = OfflineUser(sc, UserStyle(up_front=False), seed=seed, behaviour={"frustration": 0.6})
        user.reply("Hi! How can I help you today?")
        first.append(user.reply("Could you please provide your zip code?"))
        again = "I'm sorry, I could not find that. Could you please double-check your zip code?"
        repeated += [user.reply(again), user.reply(again)]
    def rate(turns):
        return np.mean([fires("emotional_expression_rate", t.lower()) for t in turns])

    assert rate(repeated) > rate(first)


# --- determinism, facts, and task success -------------------------------------------------

EVERYTHING = {name: 1.0 for name in BEHAVIOURS}
MIXED = {name: 0.7 for name in BEHAVIOURS}


def test_same_seed_same_messages_different_seeds_may_differ():
    for domain, task_id in TASKS:
        persona = _persona(MIXED)
        a = run_episode(EpisodeSpec(domain, task_id, seed=5, persona=persona), _backend())
        b = run_episode(EpisodeSpec(domain, task_id, seed=5, persona=persona), _backend())
        assert a["messages"] == b["messages"]
    variants = {json.dumps(_run(MIXED, "retail", "0", seed=s)["messages"]) for s in range(4)}
    assert len(variants) > 1


def _identifier_like(text: str) -> list[str]:
    found = IDENTIFIER.findall(text)
    found += [w for w in text.split() if re.search(r"[\d_@#]", w)]
    return found


@pytest.mark.parametrize("profile", [EVERYTHING, MIXED, {**EVERYTHING, "politeness": 0.0}])
def test_no_behaviour_invents_or_alters_a_fact(profile):
    tasks = list(TASKS) + [("retail", t.id) for t in load_tasks("retail", "test")[:8]] + \
        [("airline", t.id) for t in load_tasks("airline", "test")[:4]]
    for domain, task_id in tasks:
        task = get_task(domain, task_id)
        scenario = build_scenario(task, domain, RETAIL_WRITES)
        scenario_tokens = tokens(scenario.scenario_text)
        labels = {f.label for f in scenario.facts}  # the agent's words for facts ("address2")
        for seed in (0, 1):
            for text in _texts(_run(profile, domain, task_id, seed), "user"):
                for ident in _identifier_like(text.replace("###STOP###", "").replace("###TRANSFER###", "")):
                    needle = tokens(ident)
                    if " ".join(needle) in labels:
                        continue
                    assert any(scenario_tokens[i:i + len(needle)] == needle
                               for i in range(len(scenario_tokens))), (task_id, ident, text)
                if "@" in text:
                    assert "@" in scenario.scenario_text, text
                for fact in scenario.facts:  # a fact is said exactly as held (same case), or not at all
                    standalone = rf"(?<![\w#]){re.escape(fact.value)}(?!\w)"
                    if heard(fact.value, [text]) and re.search(standalone, text, re.I):
                        assert re.search(standalone, text), (fact, text)


def test_unknown_info_is_still_not_remembered_with_every_behaviour():
    task = next(t for t in load_tasks("retail", "train")
                if "email" in (t.user_scenario.instructions.unknown_info or ""))
    sc = build_scenario(task, "retail", RETAIL_WRITES)
    for seed in range(5):
        user = OfflineUser(sc, UserStyle(up_front=False), seed=seed, behaviour={**EVERYTHING, "gating": 0.0})
        user.reply("Hi! How can I help you today?")
        # A skeptic may first ask why; asked again, it says it does not remember.
        answers = [user.reply("Could you please provide your email address?"),
                   user.reply("I'm sorry, I could not find that. Could you please double-check your email address?")]
        assert not any("@" in a for a in answers)
        assert any(fires("uncertainty_rate", a.lower()) or "###STOP###" in a for a in answers), answers


def test_persona_additions_never_turn_a_yes_into_a_refusal():
    for domain, task_id in TASKS:
        for seed in SEEDS:
            rec = _run(EVERYTHING, domain, task_id, seed)
            assert not any("I will not make that change" in t for t in _texts(rec, "assistant"))


LONGER = (("retail", "0"), ("retail", "2"), ("retail", "5"), ("retail", "32"), ("airline", "1"), ("airline", "23"))


def _gave_up_or_transferred(rec) -> bool:
    user = _texts(rec, "user")
    return user[-1] == "###TRANSFER###" or any(
        c["name"] == "transfer_to_human_agents" for m in rec["messages"] for c in m.get("tool_calls") or []
    ) or rec["reward"] == 0.0


@pytest.mark.parametrize("profile", [{"impatience": 1.0}, {"gating": 1.0, "selective_attention": 1.0}])
def test_withholding_or_impatient_users_cost_task_success(profile):
    default, persona = _success(None, LONGER), _success(profile, LONGER)
    assert np.mean(persona) <= np.mean(default) and min(persona) == 0.0
    failed = [_run(profile, d, t, s) for d, t in LONGER for s in SEEDS if _run(profile, d, t, s)["reward"] == 0.0]
    assert failed and all(_gave_up_or_transferred(r) for r in failed)
    if "impatience" in profile:  # it leaves, and says so with feeling ("forget it")
        assert any(_texts(r, "user")[-1].endswith("###STOP###") for r in failed)
        off = _mean_fingerprint({}, tasks=LONGER)["emotional_expression_rate"]
        assert _mean_fingerprint(profile, tasks=LONGER)["emotional_expression_rate"] > off


@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
def test_moderate_single_behaviours_still_solve_retail_0(behaviour):
    for seed in SEEDS:
        assert _run({behaviour: 0.5}, "retail", "0", seed)["reward"] == 1.0


def test_terse_casual_typist_is_coherent():
    rec = _run({"terse": 1.0, "casual_typing": 1.0}, "retail", "0")
    assert rec["reward"] == 1.0
    for text in user_turns(rec["messages"])[1:]:
        assert len(text.split()) <= 3 and text == text.lower()


# --- the phrase pools say what the lexicons recognise --------------------------------------

POOLS = {
    "uncertainty_rate": [p for pool in bh.HEDGES.values() for p in pool],
    "pushback_rate": [p for pool in bh.PUSHBACK.values() for p in pool],
    "emotional_expression_rate": [p for pool in bh.FRUSTRATION.values() for p in pool]
    + bh.URGENCY + bh.IMPATIENT_GIVEUP,
    "accusatory_rate": [p for pool in bh.ACCUSATIONS.values() for p in pool],
    "clarification_question_rate": [p for pool in bh.CLARIFICATIONS.values() for p in pool],
    "strategy_pivot_rate": bh.PIVOTS,
    "formality_rate": list(bh.FORMAL.values()) + [p for pool in bh.FORMAL_CORE.values() for p in pool],
    "politeness_rate": [p for pool in bh.POLITE_ADD.values() for p in pool],
}


@pytest.mark.parametrize("feature", sorted(POOLS))
def test_phrase_pools_fire_their_lexicon_and_only_politeness_is_polite(feature):
    for phrase in POOLS[feature]:
        text = phrase.format(label="zip code").lower()
        assert fires(feature, text), phrase
        if feature != "politeness_rate":
            assert not fires("politeness_rate", text), phrase


def test_neutral_pools_fire_no_lexicon():
    from ppol_nb.fitness.lexicons import LEXICONS

    for phrase in bh.ELABORATIONS + bh.DEFLECTIONS:
        assert not [n for n in LEXICONS if fires(n, phrase.lower())], phrase
