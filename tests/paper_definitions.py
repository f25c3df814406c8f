"""A reference for two lexicon features, written from the paper's text alone.

Source: the feature section of the PPol paper notes (/work/shared/docs/ppol-paper.md,
§3.1 "Behavioral fingerprint", items 13 and 16), which define

* ``certainty_rate``: definitely/absolutely/certainly/"for sure"/"no doubt"/exactly/
  obviously/"I'm sure"/guaranteed/"100%", and similar;
* ``info_seeking_rate``: "what is the status", "any update", "can you check/confirm",
  "is it possible to", "how do/can I", "when will", "why is", "do you have",
  "I need to know", and similar;

and, for every rate, "the fraction of user turns that match at least one pattern in
the feature's list", on lower-cased text whose tokens are ``\\b\\w+\\b``.

This module reads those words literally: a slash expands into alternatives, each
phrase must stand as whole words in the lower-cased turn, and "and similar" adds
nothing. It is deliberately naive (one regex per phrase, no typed variants) so
that it is obviously the paper's definition rather than our lexicon again.
"""

from __future__ import annotations

import re

PAPER_PHRASES: dict[str, tuple[str, ...]] = {
    "certainty_rate": (
        "definitely", "absolutely", "certainly", "for sure", "no doubt", "exactly", "obviously",
        "i'm sure", "guaranteed", "100%",
    ),
    "info_seeking_rate": (
        "what is the status", "any update", "can you check", "can you confirm", "is it possible to",
        "how do i", "how can i", "when will", "why is", "do you have", "i need to know",
    ),
}


def _phrase_regex(phrase: str) -> re.Pattern[str]:
    # Whole words: a word boundary wherever the phrase starts or ends with a word character.
    head = r"\b" if phrase[0].isalnum() else ""
    tail = r"\b" if phrase[-1].isalnum() else ""
    return re.compile(head + re.escape(phrase) + tail)


_REGEXES = {name: [_phrase_regex(p) for p in phrases] for name, phrases in PAPER_PHRASES.items()}


def paper_fires(name: str, turn: str) -> bool:
    """Whether a user turn matches at least one of the paper's phrases for ``name``."""
    text = turn.lower()
    return any(regex.search(text) for regex in _REGEXES[name])


def paper_rate(name: str, turns: list[str]) -> float:
    """The paper's rate on one dialogue's user turns (0.0 without turns)."""
    return sum(paper_fires(name, t) for t in turns) / len(turns) if turns else 0.0
