"""Behavioural fingerprint f(τ) ∈ R^19 of a dialogue's user side (PPol §3.3, App. D).

Only the user's turns are used, through turn statistics and the regex lexicons of
:mod:`ppol_nb.fitness.lexicons`. Tokens are ``\\b\\w+\\b`` runs of the lower-cased
turn; a *rate* is the fraction of user turns that fire the feature's lexicon.

=============================  ====  =============================================================
feature                        dim.  definition (T = number of user turns, n_i = tokens of turn i)
=============================  ====  =============================================================
words_per_turn                 D1    mean of n_i
short_utterance_rate           D1    fraction of turns with n_i ≤ 3
politeness_rate                D1    rate of the politeness lexicon (please, thanks, sorry, ...)
formality_rate                 D1    rate of the formality lexicon (em/en dash, ``;``, however, ...)
acknowledgment_rate            D1    fraction of turns that are *entirely* one to three
                                     acknowledgements (ok, sure, got it, thanks, ...) plus . ! ,
verbosity_cv                   D1    population std / mean of n_i; 0.0 when T < 2 or mean is 0
repetition_rate                D1    fraction of turns containing a token trigram that occurs more
                                     than 3 times over all user turns (trigrams within a turn)
identity_confusion_rate        D1    rate of agent-talk phrases (how may I help, rest assured, ...)
front_loading_ratio            D2    (n_1 + n_2) / Σ n_i; 1.0 when T = 1; 0.0 when Σ n_i = 0
identifiers_per_turn           D2    identifier-like strings (see :data:`IDENTIFIER`) per turn
opening_length                 D2    n_1
uncertainty_rate               D3    rate of the uncertainty lexicon (maybe, I think, idk, ...)
certainty_rate                 D3    rate of the certainty lexicon (definitely, for sure, 100%, ...)
pushback_rate                  D3    rate of the pushback lexicon (are you sure, as I said, ...)
clarification_question_rate    D3    rate of the clarification lexicon (what do you mean, huh, ...)
info_seeking_rate              D3    rate of the info-seeking lexicon (any update, how do I, ...)
emotional_expression_rate      D4    rate of the emotion lexicon (frustrated, ugh, forget it, ...)
accusatory_rate                D4    rate of the accusation lexicon (useless, scam, do your job, ...)
strategy_pivot_rate            D4    rate of the pivot lexicon (instead, how about, actually, ...)
=============================  ====  =============================================================

Conventions this module fixes (the paper leaves them open):

* A dialogue with no user turns has the all-zero fingerprint.
* Every element of ``user_turns`` counts as a turn, even one without tokens;
  dropping empty or protocol-only turns is :func:`user_turns`' job.
* Repetition counts every occurrence of a trigram (also several in one turn), but
  trigrams never span two turns: a turn is a separate utterance.
* Identifiers are found on the original-case text by one left-to-right scan of
  :data:`IDENTIFIER`; matches never overlap, so ``#W2378156`` or an e-mail address
  containing an upper-case code is one identifier, not two.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import cache
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from ppol_nb.fitness.lexicons import PHRASES, LexiconMatcher

if TYPE_CHECKING:
    import pandas as pd

FEATURE_VERSION = "2"
"""Version of the feature definitions and lexicons; bump on any change that can move a value."""

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "D1": (
        "words_per_turn", "short_utterance_rate", "politeness_rate", "formality_rate",
        "acknowledgment_rate", "verbosity_cv", "repetition_rate", "identity_confusion_rate",
    ),
    "D2": ("front_loading_ratio", "identifiers_per_turn", "opening_length"),
    "D3": (
        "uncertainty_rate", "certainty_rate", "pushback_rate", "clarification_question_rate",
        "info_seeking_rate",
    ),
    "D4": ("emotional_expression_rate", "accusatory_rate", "strategy_pivot_rate"),
}
"""Zhou et al.'s taxonomy: D1 communication style, D2 information disclosure,
D3 clarification behaviour, D4 error reaction."""

FEATURES: tuple[str, ...] = tuple(chain.from_iterable(DIMENSIONS.values()))
"""The 19 feature names in paper order (the column order of every fingerprint)."""

SHORT_UTTERANCE_TOKENS = 3  # a turn of at most this many tokens is "short"
REPETITION_MIN_COUNT = 4  # "appears more than 3 times"
FRONT_TURNS = 2  # turns counted as the "front" of the dialogue

# The paper's tokenizer is ``\b\w+\b``; ``\w+`` finds exactly the same runs (a
# maximal run of word characters is always bounded) and is faster.
_TOKEN = re.compile(r"\w+")

IDENTIFIER = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"  # e-mail
    r"|#[A-Z0-9]{5,}\b"  # order-style id: #W2378156
    r"|\b[A-Z0-9]{6,}\b"  # upper-case/digit code: ABC123, W2378156
    r"|\b[0-9]{7,}\b"  # long number (already covered by the line above; kept as the paper lists it)
)
"""Identifier-like strings, matched on the original-case text.

Alternatives are tried in this order at each position, and the scan is
non-overlapping, so a string is counted once. Note that an all-caps word of six
or more letters ("PLEASE") is a match too: that is the paper's definition.
"""

_CONTROL_TOKENS = re.compile(r"###(?:STOP|TRANSFER|OUT-OF-SCOPE)###")

# LexiconMatcher.hits returns flags in PHRASES order.
_LEXICON_COLUMNS = tuple(FEATURES.index(name) for name in PHRASES)


@cache
def _matcher() -> LexiconMatcher:
    return LexiconMatcher()


def _repeated_trigram_turns(turn_tokens: list[list[str]]) -> list[bool]:
    """Per turn: does it hold a trigram occurring ≥ REPETITION_MIN_COUNT times in the dialogue?"""
    grams = [list(zip(t, t[1:], t[2:])) for t in turn_tokens]
    if sum(map(len, grams)) < REPETITION_MIN_COUNT:
        return [False] * len(grams)  # too few trigrams for any to repeat enough
    counts = Counter(chain.from_iterable(grams))
    frequent = {g for g, c in counts.items() if c >= REPETITION_MIN_COUNT}
    if not frequent:
        return [False] * len(grams)
    return [not frequent.isdisjoint(g) for g in grams]


def fingerprints(dialogues: Iterable[list[str]]) -> np.ndarray:
    """Fingerprints of many dialogues, each given as its list of user turns: shape (n, 19).

    Each turn is lower-cased and tokenised once and its lexicon features found in
    one scan; per-dialogue sums are then taken with numpy over all turns at once.
    """
    hits = _matcher().hits
    tokens_of = _TOKEN.findall
    identifiers_of = IDENTIFIER.findall

    turns_per_dialogue: list[int] = []
    n_tokens: list[int] = []
    n_identifiers: list[int] = []
    lexicon_flags: list[list[bool]] = []
    repeated: list[bool] = []
    for turns in dialogues:
        if isinstance(turns, str):
            raise TypeError("a dialogue is a list of user turns, not a single string")
        turn_tokens = []
        for text in turns:
            lowered = text.lower()
            tokens = tokens_of(lowered)
            turn_tokens.append(tokens)
            n_tokens.append(len(tokens))
            n_identifiers.append(len(identifiers_of(text)))
            lexicon_flags.append(hits(lowered))
        repeated.extend(_repeated_trigram_turns(turn_tokens))
        turns_per_dialogue.append(len(turn_tokens))

    n_dialogues = len(turns_per_dialogue)
    out = np.zeros((n_dialogues, len(FEATURES)), dtype=np.float64)
    if not n_tokens:
        return out

    n_turns = np.asarray(turns_per_dialogue, dtype=np.float64)
    counts = np.asarray(turns_per_dialogue, dtype=np.intp)
    dialogue = np.repeat(np.arange(n_dialogues), counts)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.arange(len(n_tokens)) - np.repeat(starts, counts)
    length = np.asarray(n_tokens, dtype=np.float64)

    def total(values) -> np.ndarray:
        return np.bincount(dialogue, weights=values, minlength=n_dialogues)

    def per_turn(values) -> np.ndarray:
        return np.divide(total(values), n_turns, out=np.zeros(n_dialogues), where=n_turns > 0)

    col = FEATURES.index
    tokens_total = total(length)
    mean_length = per_turn(length)
    out[:, col("words_per_turn")] = mean_length
    out[:, col("short_utterance_rate")] = per_turn(length <= SHORT_UTTERANCE_TOKENS)

    # Two-pass population variance (ddof=0) for accuracy; undefined CV -> 0.0.
    spread = np.sqrt(per_turn((length - mean_length[dialogue]) ** 2))
    defined = (n_turns >= 2) & (mean_length > 0)
    out[:, col("verbosity_cv")] = np.divide(spread, mean_length, out=np.zeros(n_dialogues), where=defined)

    out[:, col("repetition_rate")] = per_turn(np.asarray(repeated, dtype=np.float64))

    front = total(np.where(position < FRONT_TURNS, length, 0.0))
    ratio = np.divide(front, tokens_total, out=np.zeros(n_dialogues), where=tokens_total > 0)
    out[:, col("front_loading_ratio")] = np.where(n_turns == 1, 1.0, ratio)

    out[:, col("identifiers_per_turn")] = per_turn(np.asarray(n_identifiers, dtype=np.float64))
    out[:, col("opening_length")] = total(np.where(position == 0, length, 0.0))

    flags = np.asarray(lexicon_flags, dtype=np.float64)
    for j, column in enumerate(_LEXICON_COLUMNS):
        out[:, column] = per_turn(flags[:, j])
    return out


def fingerprint(user_turns: list[str]) -> np.ndarray:
    """The 19-dim fingerprint (float64, :data:`FEATURES` order) of one dialogue's user turns."""
    return fingerprints([user_turns])[0]


def user_turns(messages: list[dict]) -> list[str]:
    """The user's text turns of an episode record's ``messages``.

    Agent, system and tool messages are skipped, as are a user message's tool
    calls (only its text counts). τ²'s control tokens (``###STOP###``,
    ``###TRANSFER###``, ``###OUT-OF-SCOPE###``) are removed: they are simulator
    protocol, not something a person writes — TAU-USI's participants ended with
    '/stop', which the human corpora strip — and keeping them would give
    simulated users tokens no human reference has. Turns are whitespace-stripped
    and those left empty (a bare ``###STOP###``) are dropped.
    """
    turns = []
    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if not isinstance(content, str):
            continue
        text = _CONTROL_TOKENS.sub("", content).strip()
        if text:
            turns.append(text)
    return turns


_FRAME_KEYS = ("episode_id", "domain", "task_id", "condition")


def _messages(record: dict) -> list[dict]:
    """A record's messages; a DataFrame may hold them as an array, or NaN when absent."""
    messages = record.get("messages")
    if isinstance(messages, (list, tuple, np.ndarray)):
        return list(messages)
    return []


def fingerprint_frame(episodes: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """One row per episode record: identifying columns, ``persona_id`` and the 19 features.

    ``persona_id`` is ``episode["persona"]["persona_id"]`` when the persona is a
    dict, else None (base and persona-free conditions).
    """
    import pandas as pd  # only this function needs pandas

    if isinstance(episodes, pd.DataFrame):
        records = episodes.to_dict("records")
    else:
        records = list(episodes)
    meta = {key: [r.get(key) for r in records] for key in _FRAME_KEYS}
    persona_ids = [
        r["persona"].get("persona_id") if isinstance(r.get("persona"), dict) else None
        for r in records
    ]
    values = fingerprints(user_turns(_messages(r)) for r in records)
    frame = pd.DataFrame(meta)
    # object dtype keeps None as None (pandas 3 would turn it into NaN in a str column)
    frame["persona_id"] = pd.Series(persona_ids, dtype=object)
    for j, name in enumerate(FEATURES):
        frame[name] = values[:, j]
    return frame
