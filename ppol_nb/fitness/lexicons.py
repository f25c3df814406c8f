"""Hand-written lexicons behind the twelve "rate" features of the fingerprint.

The paper attributes its lexical features to LIWC2015/NRC, but its released code
(and so the numbers it reports) uses short hand-written regex lists; this module is
our own list for each construct named in the paper (§3.1 of the project notes), plus
common typed variants (``pls``, ``thx``, ``idk``, ``u sure``, missing apostrophes).
A list stays within the construct the paper names: an entry beyond the paper's
examples and their typed forms needs a comment saying why, and must not move the
feature on ordinary dialogues. ``certainty_rate`` and ``info_seeking_rate`` are
checked against a reference written from the paper's text on offline and MultiWOZ
user turns (tests/test_lexicon_reference.py).

Each feature is **one compiled regex** in :data:`LEXICONS`. A user turn "fires" a
feature when the regex finds a match anywhere in it (``search``), except
acknowledgment, where the whole turn must be an acknowledgement (``fullmatch``).

How an entry is written (see :class:`Lexicon`):

* ``words`` are regex fragments that must stand as whole words: the compiled
  pattern puts ``\\b`` on both sides, so ``sorry`` does not fire on ``sorrys`` and
  ``ty`` does not fire on ``pretty``.
* Inside a ``words`` entry a space means "any run of whitespace" and an apostrophe
  means "an optional straight or curly apostrophe", so ``don't`` also matches
  ``dont`` and ``don’t`` — people type all three.
* ``marks`` are punctuation fragments (em-dash, ``;``, ``100%``…) that cannot take
  word boundaries and are used as written.
* Entries are lower case. Every regex in :data:`LEXICONS` is compiled with
  ``re.IGNORECASE``; the fingerprint matches the lower-cased turn (the text its
  tokens come from) with :class:`LexiconMatcher`, which gives the same flags.
* Alternations are factored into a trie (:mod:`ppol_nb.fitness.regex_trie`) for
  speed; what they match is exactly the listed entries.

Any change here changes feature values: bump
:data:`ppol_nb.fitness.fingerprint.FEATURE_VERSION`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ppol_nb.fitness.regex_trie import trie_alternation

_APOSTROPHE = "['’]?"


class Lexicon(NamedTuple):
    """A feature's phrase list: word-bounded ``words`` and unbounded ``marks``."""

    words: tuple[str, ...]
    marks: tuple[str, ...] = ()

    def fragments(self) -> list[str]:
        """``words`` in regex form: space = whitespace run, apostrophe optional."""
        return [w.replace("'", _APOSTROPHE).replace(" ", r"\s+") for w in self.words]

    def pattern(self) -> str:
        """``\\b(?:words)\\b|marks`` with the words factored into a trie."""
        parts = [rf"\b(?:{trie_alternation(self.fragments())})\b", *self.marks]
        return "|".join(parts)


# --- D1 communication style -------------------------------------------------

POLITENESS = Lexicon(
    words=(
        "please", "pls", "plz", "plez", "pleas", "thanks", "thank you", "thank u", "thankyou",
        "thx", "thnx", "thnks", "tnx", "ty", "tysm", "tyvm", "cheers", "much obliged",
        r"appreciate\w*", "grateful", "gratefully", "sorry", "apologies", r"apologi[sz]e\w*",
        "pardon", "pardon me", "excuse me", "kindly", "if you don't mind", "if possible",
        "if it's possible", "if you could", "would you mind", "would you be so kind",
        "no worries", "no rush", "no problem", "no prob", "np", "you're welcome",
        r"have an? (?:nice|good|great|lovely|wonderful) (?:day|evening|night|one|weekend)",
        "take care", "bless you",
    ),
)

FORMALITY = Lexicon(
    words=(
        "furthermore", "moreover", "additionally", "in addition", "therefore", "thus",
        "hence", "consequently", "however", "nevertheless", "nonetheless", "notwithstanding",
        "regarding", "with regards? to", "in regards? to", "concerning", "indeed", "as such",
        "accordingly", "whereas", "whereby", "herein", "hereby", "thereafter", "subsequently",
        "henceforth", "pursuant to", "in accordance with", "with respect to",
        "at your earliest convenience", "to whom it may concern", "kind regards",
        "best regards", "sincerely", "i would be grateful if", "i wish to",
    ),
    # Dashes and the semicolon are style marks of edited prose; "--" is how an
    # em-dash is typed on a plain keyboard.
    marks=("—", "–", ";", "--"),
)

# A whole turn made of one to three of these ("ok", "ok thanks!", "yes, sure."),
# with trailing . ! , allowed. "?" is not allowed: "ok?" asks rather than acknowledges.
ACKNOWLEDGMENT_ITEMS = Lexicon(words=(
    "ok", "okay", "okey", "okie", "oki", "k", "kk", "sure", "sure thing", "got it",
    "alright", "all right", "aight", "yes", "yeah", "yea", "yep", "yup", "ya", "yes please",
    "no", "nope", "nah", "no thanks", "no thank you", "right", "fine", "that's fine",
    "great", "cool", "perfect", "awesome", "nice", "good", "very good", "excellent",
    "thanks", "thank you", "thx", "ty", "understood", "noted", "sounds good",
    "sounds great", "works for me", "gotcha", "makes sense", "of course", "will do",
    "roger", "correct", "exactly", "i see", "i understand", "all good", "no problem",
    "np", "agreed", "deal", "done", "uh huh", "mhm", "mm hmm",
))

IDENTITY_CONFUSION = Lexicon(
    words=(
        r"how (?:may|can|could) i (?:help|assist)", "how may i", r"what can i (?:help|do for) you",
        r"let me (?:check|look into|look that up|look up|pull up|verify)",
        r"i (?:apologi[sz]e|am sorry|'m sorry) for (?:the|any) inconvenience",
        r"sorry for (?:the|any) inconvenience",
        r"(?:is there )?anything else (?:that )?i can (?:help|assist|do)",
        r"our records (?:show|indicate)", "according to our records", "per our policy",
        "our policy", "company policy", "rest assured", "on behalf of",
        r"thank you for (?:contacting|calling|reaching out|your patience|choosing)",
        r"i(?:'ll| will|'d| would) be (?:happy|glad) to (?:help|assist)",
        r"i(?:'m| am) happy to (?:help|assist)", "i can help you with that",
        "i understand your frustration", r"please (?:hold|bear with me)",
        r"one moment while i", r"i have (?:processed|updated|cancell?ed|issued)",
        r"your (?:order|reservation|booking|refund) has been (?:processed|cancell?ed|updated|issued)",
    ),
)

# --- D3 clarification behaviour ---------------------------------------------

UNCERTAINTY = Lexicon(
    words=(
        "maybe", "mayb", "perhaps", "probably", "possibly", "presumably",
        "not sure", "not certain", "not positive", "unsure", "uncertain", "i think",
        "i guess", "i believe", "i suppose", "i assume", "i reckon", "dunno", "idk",
        "don't know", "do not know", "no idea", "kind of", "kinda", "sort of", "sorta",
        r"might (?:be|have)", "could be", "may be", "apparently", "seems like", "i forget",
        r"(?:don't|can't|do not|cannot) (?:remember|recall)", "iirc", "if i recall",
        "if i remember correctly", r"h+m+", "um+", "uh+", "erm",
    ),
)

CERTAINTY = Lexicon(
    # The paper's list (definitely, absolutely, certainly, "for sure", "no doubt",
    # exactly, obviously, "I'm sure", guaranteed, "100%"), its typed spellings
    # (defo, fo sho, "i am sure") and close synonyms of a listed phrase ("without
    # a doubt", undoubtedly, precisely, "i'm certain/positive", "100 percent"),
    # which fire on under 0.1 % of offline and MultiWOZ user turns.
    # Not here: "of course" — a courteous "yes" ("Of course. Please go ahead."),
    # assent that acknowledgment_rate counts, not a claim of certainty; it doubled
    # the per-episode rate of offline users (0.178 vs 0.092). Nor "clearly",
    # "surely" or "I know for a fact": unlisted, and "clearly"/"surely" as often
    # describe or plead ("surely you can ...") as claim certainty.
    words=(
        "definitely", "defo", "absolutely", "certainly", "for sure", "fo sho",
        "no doubt", "without a doubt", "undoubtedly", "exactly", "precisely", "obviously",
        r"i(?:'m| am) (?:sure|certain|positive)", "guaranteed", "100 percent",
        # "100%" ("not 100%" is doubt, not certainty); the lookahead keeps the
        # entry word-bounded although "%" is not a word character.
        r"(?<!not\s)100(?=\s?%)",
    ),
)

PUSHBACK = Lexicon(
    words=(
        "are you sure", "you sure", "u sure", "r u sure", "are u sure",
        r"i (?:already )?(?:told|gave) you", r"i already (?:said|mentioned|explained|provided)",
        r"as i (?:already )?(?:said|mentioned|explained|stated)", "like i said",
        "i just said", "i just told you", "i never said",
        r"that(?:'s| is) not (?:right|correct|true|what i (?:said|asked|meant|wanted))",
        r"that(?:'s| is) (?:wrong|incorrect)", r"(?:you're|you are|this is) wrong",
        "not what i asked", "i disagree", "how many times",
        r"(?:you're|you are|you aren't|you are not) (?:not )?listening", "scroll up",
        r"read my (?:previous |last )?message", "did you even read", "i didn't say",
    ),
)

CLARIFICATION_QUESTION = Lexicon(
    words=(
        "what do you mean", "what do u mean", "wdym", "what does that mean",
        "what does this mean", "meaning what",
        r"(?:can|could|would) (?:you|u) (?:please )?(?:clarify|explain|rephrase|elaborate|repeat)",
        "please clarify", "please explain",
        r"(?:i )?(?:don't|do not|dont|didn't) (?:understand|get it|follow)",
        r"i(?:'m| am) (?:confused|lost|not following)", "confused", "confusing",
        "which one", "which ones", "huh", "wait what", "come again", "say that again",
        "sorry what",
    ),
)

INFO_SEEKING = Lexicon(
    # Exactly the paper's list — "what is the status", "any update", "can you
    # check/confirm", "is it possible to", "how do/can I", "when will", "why is",
    # "do you have", "I need to know" — with the same phrase's typed forms only:
    # contraction ("what's"), plural ("any updates"), "u" for "you", an inserted
    # "please", "could" for "can" and the negation "why isn't".
    # Not here: broader question openers ("how much/many", "is there a", "are
    # there", "what can you tell me", "I want to know"). They fire on every
    # other MultiWOZ request ("Are there any 3 stars available?") and on offline
    # openings built from the task text, moving the per-episode rate from 0.016
    # to 0.065 (MultiWOZ) and from 0.000 to 0.056 (offline users): a general
    # question rate, not the status/possibility queries the paper names.
    words=(
        r"what(?:'s| is) the status", r"any updates?",
        r"(?:can|could) (?:you|u) (?:please )?(?:check|confirm)",
        "is it possible to", r"how (?:do|can) i", "when will", r"why is(?:n't)?",
        "do you have", "i need to know",
    ),
)

# --- D4 error reaction ------------------------------------------------------

EMOTIONAL_EXPRESSION = Lexicon(
    words=(
        r"frustrat\w*", r"annoy\w*", "angry", "furious", "mad", "upset", r"disappoint\w*",
        r"stress\w*", "worried", "worrying", "anxious", "nervous", "irritated", "irritating",
        "fed up", r"sick (?:and tired )?of", "tired of", "ugh+", "argh+", "grr+", "sigh",
        "come on", "ridiculous", "unbelievable", "unreal", "never mind", "nevermind", "nvm",
        "forget it", "seriously", "wtf", "omg", "oh my god", "jeez", "geez", "damn",
        "dammit", "ffs", "for god's sake", "for crying out loud", r"losing (?:my )?patience",
    ),
    marks=(r":-?\(", r";-?\("),  # frowning emoticons ":(" ":-(" ";("
)

ACCUSATORY = Lexicon(
    words=(
        "useless", "unacceptable", "incompetent", "incompetence", r"scam\w*", "fraud",
        "fraudulent", "rip off", "rip-off", "ripoff", r"liars?", "you lied", "lying",
        "worst", "terrible", "horrible", "awful", "pathetic", "a joke", "joke of a",
        "waste of time", r"wasting (?:my|our) time", "do your job", r"(?:your|ur) fault",
        r"you (?:messed|screwed) up", "stupid", "idiot", "idiots", "dumb", "disgrace",
        "disgraceful", "shameful", "garbage", "trash", "lousy", "clueless",
    ),
)

STRATEGY_PIVOT = Lexicon(
    words=(
        "instead", "rather than", "in that case", r"on second thoughts?", "let's try",
        "let me try", "how about", "alternatively", "another option",
        r"other options?", "what if we", "what if i", "scratch that", "change of plans?",
        r"(?:change|changed) my mind", "let's go with", "or maybe", "or else",
        r"try (?:something|another|a different)", "plan b",
        # "actually," as a discourse marker ("Actually, make it two") signals a
        # switch; "I actually need" does not, hence the required comma.
        r"actually(?=\s*,)",
    ),
)


def _acknowledgment_pattern() -> str:
    """Whole turn = 1-3 acknowledgement items, separated and followed by spaces , . !"""
    item = trie_alternation(ACKNOWLEDGMENT_ITEMS.fragments())
    return rf"\s*(?:{item})(?:[\s,.!]+(?:{item})){{0,2}}[\s,.!]*"


PHRASES: dict[str, Lexicon] = {
    "politeness_rate": POLITENESS,
    "formality_rate": FORMALITY,
    "acknowledgment_rate": ACKNOWLEDGMENT_ITEMS,
    "identity_confusion_rate": IDENTITY_CONFUSION,
    "uncertainty_rate": UNCERTAINTY,
    "certainty_rate": CERTAINTY,
    "pushback_rate": PUSHBACK,
    "clarification_question_rate": CLARIFICATION_QUESTION,
    "info_seeking_rate": INFO_SEEKING,
    "emotional_expression_rate": EMOTIONAL_EXPRESSION,
    "accusatory_rate": ACCUSATORY,
    "strategy_pivot_rate": STRATEGY_PIVOT,
}
"""Feature name -> its phrase list, in fingerprint order (the readable source of truth)."""

WHOLE_TURN = frozenset({"acknowledgment_rate"})
"""Features whose regex must match the entire turn (``fullmatch``), not part of it."""


def _pattern(name: str) -> str:
    return _acknowledgment_pattern() if name in WHOLE_TURN else PHRASES[name].pattern()


LEXICONS: dict[str, re.Pattern[str]] = {
    name: re.compile(_pattern(name), re.IGNORECASE) for name in PHRASES
}
"""Feature name -> its case-insensitive regex. A turn fires the feature when
``regex.search(turn)`` succeeds (``regex.fullmatch(turn)`` for :data:`WHOLE_TURN`)."""


def fires(name: str, turn: str) -> bool:
    """Whether one turn fires lexicon feature ``name`` (reference, unoptimised)."""
    regex = LEXICONS[name]
    return bool(regex.fullmatch(turn) if name in WHOLE_TURN else regex.search(turn))


class LexiconMatcher:
    """All twelve lexicon flags of a lower-cased turn, exactly as :func:`fires` gives them.

    Scanning a turn once per feature costs twelve passes over the text. Instead,
    one pass with the union of every feature's ``words`` (and a cheap pass for the
    few ``marks``) finds the positions where *some* phrase starts — usually none
    or one per turn — and each feature's own regex is then tried anchored at those
    positions only. A feature's match must start at one of them (its phrases are
    part of the union), so nothing is missed and nothing is added. The regexes
    here are compiled without ``re.IGNORECASE`` (about 3x slower in CPython): the
    caller passes lower-cased text and every pattern is lower case.
    """

    def __init__(self) -> None:
        self.names: tuple[str, ...] = tuple(PHRASES)
        searched = [n for n in self.names if n not in WHOLE_TURN]
        words = trie_alternation([f for n in searched for f in PHRASES[n].fragments()])
        marks = dict.fromkeys(m for n in searched for m in PHRASES[n].marks)
        # Zero-width lookahead, so overlapping phrases ("thank you for your
        # patience" holds two features' phrases) each yield a candidate. Every
        # entry starts with a word character, so (?<!\w) here is the patterns'
        # leading \b, only cheaper to test at every position.
        self._word_starts = re.compile(rf"(?<!\w)(?=(?:{words})\b)").finditer
        self._mark_starts = re.compile(f"(?=(?:{'|'.join(marks)}))").finditer
        self._has_mark = re.compile("|".join(marks)).search
        self._anchored = [(self.names.index(n), re.compile(_pattern(n)).match) for n in searched]
        self._whole = [(self.names.index(n), re.compile(_pattern(n)).fullmatch) for n in WHOLE_TURN]

    def hits(self, lowered: str) -> list[bool]:
        """One flag per name in :attr:`names` for the lower-cased turn ``lowered``."""
        row = [False] * len(self.names)
        for index, fullmatch in self._whole:
            if fullmatch(lowered):
                row[index] = True
        starts = [m.start() for m in self._word_starts(lowered)]
        if self._has_mark(lowered):  # marks are rare; skip their scan when absent
            starts += [m.start() for m in self._mark_starts(lowered)]
        pending = self._anchored
        for pos in starts:
            unmatched = []
            for index, match in pending:
                if match(lowered, pos):
                    row[index] = True
                else:
                    unmatched.append((index, match))
            pending = unmatched
            if not pending:
                break
        return row
