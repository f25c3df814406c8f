"""The persona reader (:mod:`ppol_nb.offline.reader`): persona text -> behaviour levels.

* measured on the labelled persona-text sets in ``tests/data/persona_texts`` (written by a
  separate author, blind to the reader; ``heldout.jsonl`` was never read while building it);
* unit behaviour: intensity, negation, conflicting cues, boilerplate, person, bullets;
* the project's own persona texts (seed playbooks, trait suites, DP styles, the axis
  library, offline-generated instructions) and excerpts quoted in the PPol paper notes;
* end to end: plain-words persona texts move the fingerprints of real τ² retail episodes
  run by the offline backend, which now reads the persona's instruction and nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reader_cases import ALL_CASES

from ppol_nb.fitness.fingerprint import FEATURES, fingerprint, user_turns
from ppol_nb.offline import constructs as K
from ppol_nb.offline.reader import DETECTION_THRESHOLD, READER_VERSION, Reading, explain, read
from ppol_nb.offline.reader_eval import IMPOLITE_AT, POLITE_AT, evaluate, load, predicted_labels, report
from ppol_nb.personas import Persona, traits
from ppol_nb.offline import generator as ol
from ppol_nb.offline import phrases as bank
from ppol_nb.personas.direct import DP_PROMPT
from ppol_nb.personas.programs import seed
from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.runner import EpisodeSpec, run_episode

DATA = Path(__file__).parent / "data" / "persona_texts"


def labels(text: str) -> set[str]:
    return predicted_labels(read(text).levels)


def level(text: str, behaviour: str) -> float:
    return read(text).levels.get(behaviour, 0.0)


# --- the labelled sets -----------------------------------------------------------------------


def test_macro_f1_on_the_held_out_set():
    result = evaluate(DATA / "heldout.jsonl")
    assert result["n"] == 94
    assert result["macro_f1"] >= 0.8, report(result)


def test_macro_f1_on_the_dev_set():
    result = evaluate(DATA / "dev.jsonl")
    assert result["n"] == 56
    assert result["macro_f1"] >= 0.85, report(result)
    assert result["ruled_out_accuracy"] >= 0.9 and result["intensity_accuracy"] >= 0.8, report(result)


def test_evaluation_arithmetic_on_a_small_set(tmp_path):
    records = [
        {"text": "Keep every message to a few words.", "labels": ["terse"], "ruled_out": ["digression"]},
        {"text": "You are calm and patient.", "labels": ["terse"], "ruled_out": ["frustration"]},  # a miss
        {"text": "You never say please or thank you.", "labels": ["impolite"], "intensity": {"impolite": "high"}},
        {"text": "Always ask why the agent needs each detail; you distrust them.", "labels": [],
         "intensity": {}},  # a false positive for pushback
        {"text": "You are a little unsure and now and then add 'I think'.", "labels": ["hedging"],
         "intensity": {"hedging": "low"}, "cues": ["mixed"]},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    result = evaluate(path)
    table = result["per_label"]
    assert (table.loc["terse", ["tp", "fp", "fn"]] == [1, 0, 1]).all()
    assert table.loc["terse", "precision"] == 1.0 and table.loc["terse", "recall"] == 0.5
    assert (table.loc["pushback", ["tp", "fp", "fn"]] == [0, 1, 0]).all() and table.loc["pushback", "precision"] == 0
    assert table.loc["impolite", "f1"] == 1.0 and table.loc["hedging", "f1"] == 1.0
    # Macro over labels with gold support: terse 2/3, impolite 1, hedging 1.
    assert result["macro_f1"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert result["ruled_out_accuracy"] == 1.0 and result["ruled_out_n"] == 2
    assert result["intensity_n"] == 2 and result["intensity_accuracy"] == 1.0
    assert result["subsets"]["mixed"] == 1.0
    assert "macro-F1" in report(result) and "Keep every" not in report(result)  # numbers only, no texts


def test_load_rejects_bad_records(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "labels": ["grumpy"]}\n')
    with pytest.raises(ValueError, match="unknown labels"):
        load(bad)
    bad.write_text("not json\n")
    with pytest.raises(ValueError, match="not JSON"):
        load(bad)


def test_label_mapping_thresholds():
    assert predicted_labels({"terse": DETECTION_THRESHOLD}) == {"terse"}
    assert predicted_labels({"terse": DETECTION_THRESHOLD - 0.01}) == set()
    assert predicted_labels({"politeness": POLITE_AT}) == {"politeness"}
    assert predicted_labels({"politeness": IMPOLITE_AT}) == {"impolite"}
    assert predicted_labels({"politeness": 0.5}) == set()


# --- the reading: shape, determinism, explanation ----------------------------------------------


def test_reading_is_deterministic_memoised_and_safe_to_mutate():
    text = "You are terse and a little impatient; never say thanks."
    first = read(text)
    first.levels["terse"] = 0.0  # the caller's copy, not the cache
    second = read(text)
    assert second.levels["terse"] > 0.5 and isinstance(second, Reading)
    assert read(text).levels == second.levels and read(text).cues == second.cues
    assert all(0.0 < v <= 1.0 for k, v in second.levels.items() if k != "politeness")
    with pytest.raises(TypeError):
        read(None)


def test_neutral_and_empty_texts_read_as_the_default():
    assert read("").levels == {}
    assert read("You are a customer contacting support about the situation described above.").levels == {}


def test_reader_version_hashes_module_and_construct_table():
    from ppol_nb.offline import reader as R

    digest = hashlib.sha256(Path(R.__file__).read_bytes() + Path(K.__file__).read_bytes()).hexdigest()[:12]
    assert READER_VERSION == digest and re.fullmatch(r"[0-9a-f]{12}", READER_VERSION)


def test_explain_lists_every_cue_and_the_final_levels():
    text = "You are always terse. You never apologise. You are not rude. Stay in character."
    frame = explain(text)
    assert isinstance(frame, pd.DataFrame)
    assert {"phrase", "behaviour", "modifier_words", "negated", "contribution", "kind"} <= set(frame.columns)
    cues = frame[frame.kind == "cue"]
    terse = cues[(cues.behaviour == "terse") & (cues.phrase == "terse")].iloc[0]
    assert "always" in terse.modifier_words and terse.contribution > 0.8
    apologise = cues[cues.phrase == "apologise"].iloc[0]
    assert apologise.negated and apologise.contribution < 0 and apologise.behaviour == "politeness"
    rude = cues[(cues.phrase == "rude") & (cues.behaviour == "accusatory")].iloc[0]
    assert rude.negated and rude.contribution < 0
    final = frame[frame.kind == "level"].set_index("behaviour").contribution.to_dict()
    assert final == read(text).levels == frame.attrs["levels"]
    assert not frame[frame.kind == "boilerplate"].empty
    summary = read(text).summary()
    assert "terse" in summary and "'apologise'" in summary and "negated" in summary and "boilerplate" in summary


# --- intensity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour,core", [
    ("impatience", "You are impatient with the agent."),
    ("hedging", "You hedge what you say."),
    ("frustration", "You get irritated when things are slow."),
    ("casual_typing", "You make typos."),
])
def test_intensity_words_move_the_level(behaviour, core):
    low = [core.replace("You ", f"You {w} ", 1) for w in ("a little", "occasionally", "now and then", "slightly")]
    high = [core.replace("You ", f"You {w} ", 1) for w in ("always", "constantly", "extremely")]
    plain = level(core, behaviour)
    assert DETECTION_THRESHOLD <= plain
    for text in low:
        assert DETECTION_THRESHOLD <= level(text, behaviour) < plain, text
    for text in high:
        assert level(text, behaviour) > plain, text


def test_sentence_initial_frequency_governs_the_sentence():
    text = "Sometimes you miss part of a question, answering only the last thing asked and ignoring the rest."
    assert DETECTION_THRESHOLD <= level(text, "selective_attention") < 0.6
    assert level(text.replace("Sometimes you miss", "You miss"), "selective_attention") >= 0.75


def test_every_message_and_courtesy_emphasis():
    assert "politeness" in labels("Thanks the agent after every answer and apologises for any trouble.")
    assert "politeness" not in labels("Greets the agent and thanks them at the end.")  # ordinary courtesy
    assert "politeness" not in labels("Courteous in the usual way, without overdoing it.")


# --- negation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,absent", [
    ("You are not rude.", "accusatory"),
    ("He doesn't hold back details.", "gating"),
    ("She never raises her voice.", "frustration"),
    ("Never gets angry, never blames anyone.", "accusatory"),
    ("You are not in a hurry at all.", "impatience"),
    ("Doesn't ramble or go off topic.", "digression"),
    ("Spelling and capitalisation are never sloppy.", "casual_typing"),
    ("Speaks with confidence; doesn't hedge or say 'maybe'.", "hedging"),
])
def test_negation_rules_a_behaviour_out(text, absent):
    reading = read(text)
    assert absent not in labels(text), reading.summary()
    assert reading.evidence[absent][1] > 0  # read as evidence against, not missed


@pytest.mark.parametrize("text,present", [
    ("Never apologises.", "impolite"),
    ("You never say please or thank you.", "impolite"),
    ("Skip greetings, thanks and small talk.", "impolite"),
    ("You do not trust the agent.", "pushback"),
    ("Doesn't volunteer anything.", "gating"),
    ("You don't fix your typos.", "casual_typing"),  # negating the fix keeps the typos
    ("Don't hesitate to push back when a rule sounds wrong.", "pushback"),  # affirming double negative
    ("Won't accept an answer without asking whether the agent is sure.", "pushback"),
    ("Never writes more than a few words.", "terse"),
])
def test_negation_that_produces_a_behaviour(text, present):
    assert present in labels(text), read(text).summary()


def test_negation_scope_ends_at_clause_boundaries():
    # "never" reaches "apologise" but not the lowercase typing after "and you".
    text = "You never apologise and you type everything in lowercase."
    assert {"impolite", "casual_typing"} <= labels(text)
    # A quoted "no" is speech, not a negation of the description around it.
    assert "ambiguity" in labels("Refers to the item only as 'that one', no matter how often the agent asks.")
    assert "politeness" not in labels("Neither particularly warm nor cold.")
    assert "impolite" not in labels("Neither particularly warm nor cold.")


# --- conflicting and shifting cues ---------------------------------------------------------------


def test_polite_but_terse():
    reading = read("Polite but terse.")
    assert reading.levels["terse"] >= 0.6
    assert reading.levels.get("politeness", 0.5) >= 0.5  # courtesy is not dropped


@pytest.mark.parametrize("text", [
    "Calm at first, angry if the agent repeats itself.",
    "Starts friendly, loses patience.",
    "Patient for a couple of turns, then visibly annoyed.",
    "Starts off calm and patient; by the third repeated question she is openly annoyed.",
])
def test_a_later_state_wins_over_an_opening_one(text):
    reading = read(text)
    assert reading.levels.get("frustration", 0) >= 0.5, reading.summary()
    assert "politeness" not in labels(text)


def test_transient_opening_state_is_discounted():
    cues = [c for c in read("Calm at first, angry if the agent repeats itself.").cues if c.phrase == "calm"]
    assert cues and all("(at first)" in c.modifier_words and abs(c.contribution) < 0.3 for c in cues)


def test_strong_statement_survives_a_specific_negation():
    text = "You are furious with the company and say so, but you never swear."
    assert "frustration" in labels(text)
    assert level("A stressed parent who never raises her voice.", "frustration") < DETECTION_THRESHOLD


def test_short_and_long_in_one_breath_is_variation_not_terseness():
    text = "Some replies are a single word; others run to a full paragraph of background."
    assert labels(text) == {"verbosity_variation"}


# --- boilerplate, person, form ---------------------------------------------------------------------

BOILERPLATE_ONLY = (
    "Keep every goal and fact of your situation exactly as given, and change only how you communicate. "
    "Never mention being an AI, a simulation or a test. Stay in character from your first message to your last. "
    "Answer accurately when asked. Do not invent new details, names or numbers, and do not repeat the situation."
)


def test_boilerplate_triggers_nothing():
    reading = read(BOILERPLATE_ONLY)
    assert reading.levels == {}, reading.summary()
    assert len(reading.boilerplate) >= 4


def test_boilerplate_does_not_mask_the_real_cues():
    text = BOILERPLATE_ONLY + " You type in lowercase and never say thanks."
    assert labels(text) == {"casual_typing", "impolite"}


def test_offline_generator_boilerplate_and_fillers_trigger_nothing():
    for sentence in bank.FILLERS + bank.MEDIUM + bank.FIDELITY + bank.CLOSING + bank.MOTIVES + bank.SETTINGS:
        assert labels(sentence) == set(), (sentence, read(sentence).summary())


@pytest.mark.parametrize("second,third", [
    ("You keep every message to a few words and never say thanks.",
     "She keeps every message to a few words and never says thanks."),
    ("You get annoyed when the agent repeats itself.", "He gets annoyed when the agent repeats itself."),
    ("When you are asked for details, you give one at a time.", "When they are asked for details, they give one "
                                                                "at a time."),
])
def test_second_and_third_person_read_alike(second, third):
    assert labels(second) == labels(third) != set()


def test_bullet_lists_and_notes():
    bullets = "- lowercase only\n- lots of typos\n- short msgs\n- no thank yous\n- never rude"
    assert labels(bullets) == {"casual_typing", "terse", "impolite"}
    notes = "Rude. Skips greetings, barks demands, calls the agent useless when it drags."
    assert {"accusatory", "impolite"} <= labels(notes)


LONG_INSTRUCTION = (
    "You are a night-shift nurse writing to support on a short break, phone in one hand. You are tired after a "
    "long week, but that is not what this persona is about: what matters is how you write. Type in lowercase and "
    "do not bother with apostrophes or full stops; shorthand like 'u', 'pls' and 'idk' comes naturally to you. "
    "Keep each message to a handful of words. When the agent asks for several things at once, answer only the "
    "last one and let the others slide until they ask again. You are not rude and you never blame the agent; "
    "you simply have no time for pleasantries, so skip greetings and thanks. If the agent repeats a question you "
    "already answered, point that out, briefly. You still want your request handled exactly as described in your "
    "situation, every fact you give must be accurate, and you never mention that you are an AI or that this is a "
    "simulation. Stay in character throughout, and answer accurately whenever you are asked something."
)


def test_long_llm_style_instruction():
    words = len(LONG_INSTRUCTION.split())
    assert 150 <= words <= 250
    found = labels(LONG_INSTRUCTION)
    assert {"casual_typing", "terse", "selective_attention", "impolite"} <= found, read(LONG_INSTRUCTION).summary()
    assert not found & {"frustration", "accusatory", "impatience", "politeness", "formality", "confusion"}


# --- generalisation probes (tests/reader_cases.py) --------------------------------------------------


@pytest.mark.parametrize("text,present,absent", ALL_CASES, ids=[f"case{i}" for i in range(len(ALL_CASES))])
def test_written_probes(text, present, absent):
    found = labels(text)
    assert present <= found and not (absent & found), read(text).summary()


# --- the project's own persona texts -------------------------------------------------------------

SEED_MAIN = {"terse": "terse", "skeptical": "pushback", "frustrated": "frustration", "ambiguous": "ambiguity"}


@pytest.mark.parametrize("axis", seed.DIVERSITY_AXES, ids=lambda a: a["name"])
def test_seed_playbooks(axis):
    main = SEED_MAIN[axis["name"]]
    assert main in labels(axis["on_playbook"]), read(axis["on_playbook"]).summary()
    assert main not in labels(axis["off_playbook"])


TRAIT_MAIN = {
    "skeptical": {"pushback"},
    "incoherent": {"casual_typing", "bursty", "selective_attention", "verbosity_variation"},
    "impatient": {"impatience", "terse", "frustration", "impolite"},
    "confusion": {"confusion", "ambiguity"},
}


@pytest.mark.parametrize("name", traits.TRAIT_NAMES)
def test_trait_suites(name):
    text = traits.trait_persona(name).instruction
    assert TRAIT_MAIN[name] <= labels(text), read(text).summary()


DP_MAIN = {
    "polite_detail_oriented": {"politeness"}, "busy_professional": {"impatience"},
    "friendly_chatter": {"digression"}, "direct_no_nonsense": {"terse"}, "older_unsure": {"confusion"},
    "doubtful_checker": {"pushback"}, "irritated_bad_week": {"frustration"}, "businesslike_formal": {"formality"},
    "distracted_parent": {"selective_attention"}, "laid_back": set(), "straight_to_the_point": set(),
    "anxious_first_timer": set(),
}
DP_ABSENT = {"laid_back": {"impatience", "frustration"}, "straight_to_the_point": {"digression"},
             "anxious_first_timer": {"frustration", "accusatory"}}


@pytest.mark.parametrize("pid,description,core", bank.DIRECT_STYLES, ids=[s[0] for s in bank.DIRECT_STYLES])
def test_direct_persona_styles(pid, description, core):
    found = labels(core)
    assert DP_MAIN[pid] <= found and not (DP_ABSENT.get(pid, set()) & found), read(core).summary()


def test_offline_direct_personas_add_nothing_beyond_their_style():
    """The offline DP instructions wrap a style in medium, fidelity, filler and closing sentences."""
    cores = {pid: labels(core) for pid, _, core in bank.DIRECT_STYLES}
    for seed_ in range(3):
        reply = ol.offline_direct(DP_PROMPT.replace("{n}", "12"), random.Random(seed_))
        items = json.loads(re.search(r"\[.*\]", reply, re.S).group())
        for item in items:
            assert labels(item["instruction"]) <= cores[item["persona_id"]], item["instruction"]


TACTIC_BEHAVIOUR = {"brevity": "terse", "fragments": "bursty", "disclosure": "gating", "phone_typing": "casual_typing",
                    "register": "formality", "courtesy": "politeness", "no_courtesy": "impolite",
                    "uneven_length": "verbosity_variation", "hedging": "hedging", "skepticism": "pushback",
                    "irritation": "frustration", "blame": "accusatory", "vagueness": "ambiguity",
                    "skimming": "selective_attention", "second_thoughts": "confusion", "hurry": "impatience",
                    "tangents": "digression"}


def test_axis_library_playbooks():
    """The offline mutator's text: ON playbooks ask for something, OFF playbooks for nothing,
    and every tactic topic has a sentence the reader takes for its behaviour."""
    from ppol_nb.offline import axis_library as lib

    for axis in lib.AXIS_LIBRARY:
        assert labels(axis["on_playbook"]), (axis["name"], read(axis["on_playbook"]).summary())
        assert labels(axis["off_playbook"]) <= {"formality"}, (axis["name"], axis["off_playbook"])
    assert set(TACTIC_BEHAVIOUR) == set(lib.PLAYBOOK_TACTICS)
    for topic, tactics in lib.PLAYBOOK_TACTICS.items():
        hits = [t for t in tactics if TACTIC_BEHAVIOUR[topic] in labels(t)]
        assert hits, (topic, [read(t).summary() for t in tactics])


def test_offline_generated_instructions_follow_their_axes():
    """Seed-program personas rendered by the offline generator: ON axes read, OFF axes not."""
    rng = random.Random(7)
    hits = total = 0
    for k in range(16):
        placement = {a["name"]: bool((k >> i) & 1) for i, a in enumerate(seed.DIVERSITY_AXES)}
        directives = [a["on_playbook"] for a in seed.DIVERSITY_AXES if placement[a["name"]]]
        text = ol.render_instruction("A delivery driver between stops.", directives, rng)
        found = labels(text)
        for name, on in placement.items():
            if on:
                total += 1
                hits += SEED_MAIN[name] in found
            else:
                assert SEED_MAIN[name] not in found, (name, text, read(text).summary())
    assert hits == total


PAPER_EXCERPTS = [
    # Quoted from the PPol paper notes (/work/shared/docs/ppol-paper.md), App. H example program.
    ("mobile style (all lowercase, typos, shorthand such as u/rn/idk, no punctuation)", "casual_typing"),
    ("at most one piece of information per message, ignoring secondary requests until asked again", "gating"),
    ("answers only the last thing mentioned, ignoring disclaimers and greetings", "selective_attention"),
    ('passive-aggressive ellipses, "??", abruptness when the agent is slow', "frustration"),
    ("Tunnel Vision: reply only to the agent's last sentence.", "selective_attention"),
    ("Typing Style: no Shift key plus typos.", "casual_typing"),
    ("Zero Self-Correction: no apologising; get blunter or repeat.", "impolite"),
    ('when the trait is off, be "annoyingly formal and robotic"', "formality"),
    # ... and §6 (axes seen in Figures 1-2, the expansion excerpt).
    ("a wall of text with all the information at once vs. withholding IDs until asked", "gating"),
    ("tells stories and drops facts at random", "digression"),
    ('affable and apologetic ("no worries")', "politeness"),
    ('skeptic questions such as "why do you need this?"', "pushback"),
]


@pytest.mark.parametrize("excerpt,behaviour", PAPER_EXCERPTS)
def test_persona_excerpts_from_the_paper(excerpt, behaviour):
    assert behaviour in labels(excerpt), read(excerpt).summary()


# --- the pattern language --------------------------------------------------------------------------


def test_pattern_language():
    rx = K.compile_pattern("make* ~3 agent ~2 ask")
    assert rx.search("she makes the poor agent ask")
    assert not rx.search("she makes the agent never ask")  # a gap never swallows a negation
    assert K.compile_pattern("apolog*").search("apologises")
    assert not K.compile_pattern("cross").search("cross-examines")
    assert K.compile_pattern("behaviou?r").search("behavior")
    assert K.compile_pattern("(the )?next message").search("in next message")
    assert K.compile_pattern("leaves $").search("and then she leaves.")
    assert not K.compile_pattern("leaves $").search("she leaves out the details")
    for bad in ("(unclosed", "@NOSUCHCONCEPT", "(a|b)*"):
        with pytest.raises(K.PatternError):
            K.compile_pattern(bad)


# --- end to end: persona text -> offline user -> real τ² fingerprints -----------------------------

PLAIN = {
    "minimal": "You type as little as possible: a few words per message, no greetings and no thanks.",
    "distrustful": "You do not trust the agent. Before you give any detail, ask why they need it, and ask whether "
                   "they are sure about anything they tell you.",
    "piecemeal": "You reveal details piecemeal: your first message names only the problem, and after that you give "
                 "one detail per message, only when the agent asks for it.",
    "angry": "You are angry and fed up with this company, and it shows in your messages; you get more irritated "
             "every time the agent makes you repeat yourself.",
    "unsure": "You are unsure of yourself and hedge almost everything you say with 'I think' or 'maybe'.",
    "neutral": "You are a customer contacting support about the situation described above.",
}
E2E_TASKS = ("0", "2", "5", "32")
E2E_SEEDS = (0, 1)

# persona -> [(feature, +1 up / -1 down against the neutral persona)]
EXPECTED_MOVES = {
    "minimal": [("words_per_turn", -1), ("short_utterance_rate", +1), ("opening_length", -1),
                ("politeness_rate", -1)],
    "distrustful": [("pushback_rate", +1)],
    "piecemeal": [("front_loading_ratio", -1), ("opening_length", -1), ("identifiers_per_turn", -1)],
    "angry": [("emotional_expression_rate", +1)],
    "unsure": [("uncertainty_rate", +1)],
}


@functools.cache
def _mean_fingerprint(name: str) -> dict[str, float]:
    # The persona record carries no behaviour profile: the offline user gets only the text.
    persona = Persona.create(description=f"plain-words persona: {name}", instruction=PLAIN[name], source="test")
    assert "behaviour" not in persona.to_dict()
    rows = []
    for task_id in E2E_TASKS:
        for s in E2E_SEEDS:
            rec = run_episode(EpisodeSpec("retail", task_id, seed=s, persona=persona.to_dict()), OfflineBackend())
            assert rec["error"] is None, rec["error"]
            rows.append(fingerprint(user_turns(rec["messages"])))
    return dict(zip(FEATURES, np.mean(rows, axis=0)))


def test_plain_words_personas_are_read_as_intended():
    expected = {"minimal": {"terse", "impolite"}, "distrustful": {"pushback"}, "piecemeal": {"gating"},
                "angry": {"frustration"}, "unsure": {"hedging"}, "neutral": set()}
    for name, text in PLAIN.items():
        assert labels(text) == expected[name], (name, read(text).summary())
    assert read(PLAIN["neutral"]).levels == {}


@pytest.mark.parametrize("name", sorted(EXPECTED_MOVES))
def test_plain_words_personas_move_real_fingerprints(name):
    neutral, persona = _mean_fingerprint("neutral"), _mean_fingerprint(name)
    for feature, direction in EXPECTED_MOVES[name]:
        assert direction * (persona[feature] - neutral[feature]) > 0, (feature, neutral[feature], persona[feature])


def test_at_least_eight_movements_are_asserted():
    assert sum(len(moves) for moves in EXPECTED_MOVES.values()) >= 8
