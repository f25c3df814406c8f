"""Undo MultiWOZ-style tokenisation so style features see text as people typed it.

MultiWOZ (and other corpora run through a word tokenizer) store user turns as
``"I 'd like a taxi , please ."``: contractions split ("does n't", "I 'm"),
punctuation and brackets set off by spaces, quotes padded (``" IT "``). Features
built on punctuation and contractions — formality (``;``), acknowledgements
("ok."), apostrophe-less typing — would be wrong on that form, so
:func:`detokenize` puts the text back together.

What it deliberately leaves alone: "can not" (both spellings are English, and the
tokenizer's input is unknown), a lone " - " (a typed dash), and emoticons such as
" :(" (the colon is not sentence punctuation).
"""

from __future__ import annotations

import re

_SPACES = re.compile(r"\s+")
# "does n't" -> "doesn't", "I 'd" -> "I'd", "it 's" -> "it's"
_CLITIC = re.compile(r" (n['’]t|['’](?:s|d|ll|re|ve|m))\b", re.IGNORECASE)
# '" IT "' -> '"IT"': padding just inside a pair of double quotes
_QUOTED = re.compile(r'" ?([^"]*?) ?"')
# "thanks ." -> "thanks.", "yes , please" -> "yes, please", "( 2 people )" -> "(2 people)";
# not before an emoticon: "me :(" stays.
_SPACE_BEFORE_PUNCT = re.compile(r" (?![:;]-?[()])(?=[.,!?;:%)\]}])")
_SPACE_AFTER_OPEN = re.compile(r"(?<![:;-])([(\[{$]) ")  # not after an emoticon's ":("


def detokenize(text: str) -> str:
    """Rejoin contractions, punctuation and quotes split off by a word tokenizer.

    Whitespace runs (including MultiWOZ's stray " \\n ") become one space and the
    ends are stripped.
    """
    text = _SPACES.sub(" ", text).strip()
    text = _CLITIC.sub(r"\1", text)
    text = _QUOTED.sub(r'"\1"', text)
    text = _SPACE_BEFORE_PUNCT.sub("", text)
    return _SPACE_AFTER_OPEN.sub(r"\1", text)
