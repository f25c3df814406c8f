"""Behavioural fingerprint: every feature on hand-made dialogues, lexicons, batching,
episode records, and MultiWOZ detokenisation.

Expected values are worked out by hand in the comments (tokens are ``\\w+`` runs of
the lower-cased turn, so "don't" is two tokens: don, t).
"""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pandas as pd
import pytest

from ppol_nb.fitness import (
    DIMENSIONS,
    FEATURE_VERSION,
    FEATURES,
    LEXICONS,
    fingerprint,
    fingerprint_frame,
    fingerprints,
    fires,
    user_turns,
)
from ppol_nb.fitness.lexicons import WHOLE_TURN, LexiconMatcher
from ppol_nb.fitness.regex_trie import atoms, trie_alternation
from ppol_nb.humans.paths import find_corpus_file
from ppol_nb.humans.text import detokenize

PAPER_ORDER = (
    "words_per_turn", "short_utterance_rate", "politeness_rate", "formality_rate",
    "acknowledgment_rate", "verbosity_cv", "repetition_rate", "identity_confusion_rate",
    "front_loading_ratio", "identifiers_per_turn", "opening_length", "uncertainty_rate",
    "certainty_rate", "pushback_rate", "clarification_question_rate", "info_seeking_rate",
    "emotional_expression_rate", "accusatory_rate", "strategy_pivot_rate",
)


def feature(turns: list[str], name: str) -> float:
    return float(fingerprint(turns)[FEATURES.index(name)])


# --- names and layout ---------------------------------------------------------


def test_features_and_dimensions_follow_the_paper():
    assert FEATURES == PAPER_ORDER
    assert {k: len(v) for k, v in DIMENSIONS.items()} == {"D1": 8, "D2": 3, "D3": 5, "D4": 3}
    assert sum(DIMENSIONS.values(), ()) == FEATURES
    assert DIMENSIONS["D2"] == ("front_loading_ratio", "identifiers_per_turn", "opening_length")
    assert isinstance(FEATURE_VERSION, str) and FEATURE_VERSION
    assert set(LEXICONS) == {n for n in FEATURES if n.endswith("_rate")} - {
        "short_utterance_rate", "repetition_rate"}


def test_shape_dtype_and_empty_dialogue():
    v = fingerprint(["hello"])
    assert v.shape == (19,) and v.dtype == np.float64
    # No user turns: every feature is defined as 0.0.
    assert np.array_equal(fingerprint([]), np.zeros(19))
    assert fingerprints([]).shape == (0, 19)


# --- statistical features -----------------------------------------------------


def test_worked_example():
    turns = ["Hi there", "I need to return order #W2378156 please", "ok"]
    # tokens: [hi, there]=2, [i, need, to, return, order, w2378156, please]=7, [ok]=1
    v = dict(zip(FEATURES, fingerprint(turns)))
    assert v["words_per_turn"] == pytest.approx((2 + 7 + 1) / 3)
    assert v["short_utterance_rate"] == pytest.approx(2 / 3)  # "Hi there" and "ok"
    mean = 10 / 3
    std = math.sqrt(((2 - mean) ** 2 + (7 - mean) ** 2 + (1 - mean) ** 2) / 3)  # ddof=0
    assert v["verbosity_cv"] == pytest.approx(std / mean)  # ≈ 0.7874
    assert v["front_loading_ratio"] == pytest.approx((2 + 7) / 10)
    assert v["identifiers_per_turn"] == pytest.approx(1 / 3)  # #W2378156
    assert v["opening_length"] == 2
    assert v["politeness_rate"] == pytest.approx(1 / 3)  # "please"
    assert v["acknowledgment_rate"] == pytest.approx(1 / 3)  # "ok"
    assert v["repetition_rate"] == 0.0
    rest = set(FEATURES) - {"words_per_turn", "short_utterance_rate", "verbosity_cv",
                            "front_loading_ratio", "identifiers_per_turn", "opening_length",
                            "politeness_rate", "acknowledgment_rate"}
    assert all(v[name] == 0.0 for name in rest)


def test_tokens_split_contractions():
    # [i, don, t, know] = 4 tokens: the paper's \b\w+\b splits at the apostrophe.
    assert feature(["I don't know"], "words_per_turn") == 4


def test_short_utterance_boundary():
    # 3 tokens is short, 4 is not -> 1/2
    assert feature(["one two three", "one two three four"], "short_utterance_rate") == 0.5


def test_verbosity_cv():
    # lengths 1 and 3: mean 2, population std 1 -> 0.5
    assert feature(["a", "a b c"], "verbosity_cv") == pytest.approx(0.5)
    assert feature(["one single turn here"], "verbosity_cv") == 0.0  # < 2 turns: 0.0
    assert feature(["?", "!"], "verbosity_cv") == 0.0  # mean length 0: 0.0
    assert feature(["a b", "c d"], "verbosity_cv") == 0.0  # equal lengths


def test_repetition_rate_boundary():
    # "i want to" occurs 4 times (> 3): the 4 turns holding it count -> 4/5
    four = ["i want to go", "i want to eat", "i want to sleep", "i want to leave", "bye"]
    assert feature(four, "repetition_rate") == pytest.approx(4 / 5)
    # 3 times is not "more than 3" -> 0
    assert feature(four[:3] + ["bye"], "repetition_rate") == 0.0
    # occurrences inside one turn count: "no no no" appears 4 times in 6 tokens
    assert feature(["no no no no no no", "fine"], "repetition_rate") == 0.5
    # trigrams do not span turns: joined, "a b c" would occur 4 times, but within
    # turns only "c a b" occurs, 3 times -> 0
    assert feature(["a b", "c a b", "c a b", "c a b", "c"], "repetition_rate") == 0.0


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("order #W2378156", 1),  # the #-form is one identifier, not also W2378156
        ("code ABC123 please", 1),
        ("W2378156", 1),
        ("call 1234567", 1),  # 7 digits
        ("mail a@b.com now", 1),
        ("mail john.SMITH99@mail.com", 1),  # one e-mail, not also SMITH99
        ("#W2378156 and ABC123 and 9876543210", 3),
        ("hello", 0),
        ("zip 19122", 0),  # 5 digits
        ("abc123", 0),  # lower case is not an identifier code
        ("#1234", 0),  # # + 4 characters
        ("ABC123xyz", 0),  # not word-bounded
    ],
)
def test_identifiers(text, count):
    assert feature([text], "identifiers_per_turn") == count


def test_identifiers_are_averaged_per_turn():
    assert feature(["#W2378156 and ABC123", "thanks", "ok"], "identifiers_per_turn") == pytest.approx(2 / 3)


def test_front_loading_and_opening_length():
    assert feature(["only one turn"], "front_loading_ratio") == 1.0
    assert feature(["?"], "front_loading_ratio") == 1.0  # one turn: 1.0 even without tokens
    # (2 + 1) of 2 + 1 + 4 tokens in the first two turns
    assert feature(["a b", "c", "d e f g"], "front_loading_ratio") == pytest.approx(3 / 7)
    assert feature(["a b", "c"], "front_loading_ratio") == 1.0
    assert feature(["?", "!", "..."], "front_loading_ratio") == 0.0  # no tokens: 0.0
    assert feature(["Hello there friend", "x"], "opening_length") == 3


# --- lexicon features ---------------------------------------------------------

LEXICON_CASES = {
    "politeness_rate": (
        ["Could you please check?", "thx for that", "Sorry about that", "I appreciate it", "no worries"],
        ["I need to return an item", "pretty good", "my order is late"],
    ),
    "formality_rate": (
        ["I ordered it—however, it never came", "Regarding my order; it is late",
         "Furthermore, the box was damaged", "It came 3–5 days late"],
        ["my order is late", "it broke - twice", "such enthusiasm"],
    ),
    "acknowledgment_rate": (
        ["ok thanks!", "Sounds good.", "yes", "Got it, thanks.", "  okay ", "no", "Perfect, thank you!"],
        ["ok, my order id is W2378156", "ok?", "yes I want to cancel", "okay so what now"],
    ),
    "identity_confusion_rate": (
        ["How may I help you today?", "Rest assured, I will wait",
         "I apologize for the inconvenience", "Is there anything else I can help with?"],
        ["Can you help me?", "I need assistance"],
    ),
    "uncertainty_rate": (
        ["I think it was last week", "idk the number", "hmm, maybe", "not sure tbh", "it might be the blue one"],
        ["It was last week", "the number is 5"],
    ),
    "certainty_rate": (
        ["I'm sure it was red", "definitely the blue one", "I am 100% certain", "for sure"],
        ["I'm not sure", "I'm not 100% sure", "I need 100 pens", "sure, go ahead",
         "Of course. Please go ahead."],  # assent, not certainty (see lexicons.CERTAINTY)
    ),
    "pushback_rate": (
        ["Are you sure?", "u sure about that", "As I said, it's W2378156", "That's not right",
         "I already told you"],
        ["Sure, go ahead", "That's right"],
    ),
    "clarification_question_rate": (
        ["What do you mean?", "huh?", "Can you clarify that?", "I don't understand", "wait what"],
        ["I understand, thanks", "which is fine"],
    ),
    "info_seeking_rate": (
        ["Any update on my refund?", "how do I change my address", "When will it arrive?",
         "Do you have a blue one?", "Can you confirm the address"],
        ["I want a refund", "my address is 1 Main St",
         # general questions, not the paper's status/possibility queries
         "Are there any 3 star hotels?", "How much is it?", "I want to know the total"],
    ),
    "emotional_expression_rate": (
        ["I'm really frustrated", "ugh", "forget it", "This is ridiculous", "no reply :("],
        ["I'm happy with it", "that works"],
    ),
    "accusatory_rate": (
        ["This is useless", "what a rip-off", "do your job", "worst service ever"],
        ["This is useful", "thanks for the help"],
    ),
    "strategy_pivot_rate": (
        ["Actually, make it two", "How about a refund instead?", "on second thought, cancel it",
         "let's try the other card"],
        ["I actually need two", "cancel it"],
    ),
}


def test_every_lexicon_has_cases():
    assert set(LEXICON_CASES) == set(LEXICONS)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [(n, t, True) for n, (pos, _) in LEXICON_CASES.items() for t in pos]
    + [(n, t, False) for n, (_, neg) in LEXICON_CASES.items() for t in neg],
)
def test_lexicon_fires(name, text, expected):
    assert fires(name, text) is expected
    # the rate feature: one matching turn out of two
    assert feature([text, "zzz"], name) == (0.5 if expected else 0.0)


def test_lexicons_are_case_insensitive_and_lower_case():
    assert fires("politeness_rate", "PLEASE HELP")
    assert fires("acknowledgment_rate", "OK THANKS!")
    for regex in LEXICONS.values():
        # LexiconMatcher drops IGNORECASE and feeds lower-cased text, so patterns must be lower case.
        assert regex.pattern == regex.pattern.lower()


def _all_cases() -> list[str]:
    texts = [t for pos, neg in LEXICON_CASES.values() for t in pos + neg]
    return texts + ["thank you for your patience, how about tuesday?", "ok", "", "  ", "—", "100%"]


def test_matcher_equals_reference_on_examples():
    matcher = LexiconMatcher()
    for text in _all_cases():
        lowered = text.lower()
        assert matcher.hits(lowered) == [fires(n, lowered) for n in matcher.names], text


def _multiwoz_turns() -> list[list[str]]:
    path = find_corpus_file("multiwoz")  # missing: fails naming `ppol-nb data fetch multiwoz`
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("val.json"))
    return [[detokenize(e["text"]) for e in d["log"][::2]] for d in data.values()]


def test_matcher_equals_reference_on_multiwoz():
    dialogues = _multiwoz_turns()
    matcher = LexiconMatcher()
    for turns in dialogues:
        for text in turns:
            lowered = text.lower()
            assert matcher.hits(lowered) == [fires(n, lowered) for n in matcher.names], text


def test_trie_alternation_matches_the_plain_alternation():
    import re

    entries = ["please", "pls", "plz", r"thank\s+you", "thanks", r"h+m+", r"i(?:['’]?m|\s+am)\s+sure",
               "ok", "okay", r"(?:your|ur)\s+fault"]
    factored = re.compile(rf"\b(?:{trie_alternation(entries)})\b")
    plain = re.compile(rf"\b(?:{'|'.join(entries)})\b")
    for text in ["please", "pl", "thank  you", "thanksgiving", "hmmm", "im sure", "i am sure",
                 "okay", "ok", "oka", "ur fault", "pls", "plz!", "hm"]:
        assert bool(factored.search(text)) == bool(plain.search(text)), text
    assert atoms(r"ab\s+(?:c|d)?[xy]*e{2,3}") == ["a", "b", r"\s+", "(?:c|d)?", "[xy]*", "e{2,3}"]
    with pytest.raises(ValueError):
        atoms("a|b")


def test_whole_turn_features():
    assert WHOLE_TURN == {"acknowledgment_rate"}


# --- batching and determinism -------------------------------------------------

BATCH = [
    ["Hi there", "I need to return order #W2378156 please", "ok"],
    [],
    ["ugh", "Are you sure?", "Actually, make it two—thanks"],
    ["i want to go", "i want to eat", "i want to sleep", "i want to leave"],
    ["?"],
    ["hmm I think so", "definitely", "What do you mean?"],
]


def test_fingerprints_equals_stacked_fingerprint():
    batch = fingerprints(BATCH)
    assert batch.shape == (len(BATCH), 19)
    assert np.array_equal(batch, np.stack([fingerprint(t) for t in BATCH]))
    assert np.array_equal(fingerprints(iter(BATCH)), batch)  # any iterable


def test_deterministic():
    assert np.array_equal(fingerprints(BATCH), fingerprints(BATCH))


def test_a_string_is_not_a_dialogue():
    with pytest.raises(TypeError):
        fingerprints(["just one string"])


# --- episode records ----------------------------------------------------------

MESSAGES = [
    {"role": "system", "content": "You are a helpful agent."},
    {"role": "assistant", "content": "Hi! How can I help you today?"},
    {"role": "user", "content": "I want to return order #W2378156"},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "name": "get_order", "arguments": "{}"}]},
    {"role": "tool", "content": '{"status": "delivered"}', "tool_call_id": "1"},
    {"role": "user", "content": None, "tool_calls": [{"id": "2", "name": "check", "arguments": "{}"}]},
    {"role": "user", "content": "Thanks! ###STOP###"},
    {"role": "user", "content": "###TRANSFER###"},
    {"role": "user", "content": "  ###OUT-OF-SCOPE###  "},
    {"role": "user", "content": ""},
]


def test_user_turns_keeps_only_user_text():
    assert user_turns(MESSAGES) == ["I want to return order #W2378156", "Thanks!"]
    assert user_turns([]) == []


def _episode(episode_id: str, persona) -> dict:
    return {"episode_id": episode_id, "domain": "retail", "task_id": "7", "condition": "ppol",
            "persona": persona, "messages": MESSAGES, "reward": 1.0}


def test_fingerprint_frame_from_records_and_dataframe():
    episodes = [_episode("e1", {"persona_id": "p-42", "text": "..."}), _episode("e2", None),
                {"episode_id": "e3", "domain": "airline", "task_id": "1", "condition": "base",
                 "persona": "free text", "messages": []}]
    frame = fingerprint_frame(episodes)
    assert list(frame.columns) == ["episode_id", "domain", "task_id", "condition", "persona_id", *FEATURES]
    assert frame["episode_id"].tolist() == ["e1", "e2", "e3"]
    assert frame["persona_id"].tolist() == ["p-42", None, None]
    expected = fingerprint(user_turns(MESSAGES))
    assert np.array_equal(frame.loc[0, list(FEATURES)].to_numpy(dtype=float), expected)
    assert np.array_equal(frame.loc[2, list(FEATURES)].to_numpy(dtype=float), np.zeros(19))
    from_df = fingerprint_frame(pd.DataFrame(episodes))
    pd.testing.assert_frame_equal(from_df, frame)


# --- MultiWOZ detokenisation --------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("i 'd like a taxi , please .", "i'd like a taxi, please."),
        ("That does n't matter .", "That doesn't matter."),
        ("that 's fine , I do n't care !", "that's fine, I don't care!"),
        ("I 'm sure they 're open and we 've booked , you 'll see", "I'm sure they're open and we've booked, you'll see"),
        ("I ca n't , I wo n't", "I can't, I won't"),
        ("we can not go", "we can not go"),  # kept: both spellings are English
        ('the theme from the movie " IT " , can I', 'the theme from the movie "IT", can I'),
        ("for ( 2 people ) ?", "for (2 people)?"),
        ("no goulash for me . :( Mexican ?", "no goulash for me. :( Mexican?"),
        ("Yes . \n Make sure", "Yes. Make sure"),
        ("wait ... what ?", "wait... what?"),
        ("already clean, isn't it?", "already clean, isn't it?"),
    ],
)
def test_detokenize(raw, clean):
    assert detokenize(raw) == clean
