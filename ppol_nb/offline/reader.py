"""The persona reader: how the offline user learns from persona TEXT how to talk.

An LLM user simulator gets a persona policy P_π appended to its prompt (PPol §3.1) and
decides from the words alone how to behave. The embedded offline user must do the
same — no side channel — so :func:`read` turns an instruction text into behaviour
intensities over :data:`ppol_nb.offline.vocabulary.BEHAVIOURS`, which the offline
user then executes turn by turn.

How a text is read (deterministic; memoised by text):

1. **Normalise**: lower case, plain quotes and dashes, markdown and bullets removed;
   affirming double negatives ("don't hesitate to push back") dropped.
2. **Split** into sentences (bullets and lines are sentences); inside a sentence,
   commas, semicolons, dashes and words like *but / when / if* bound clauses.
3. **Boilerplate** that every LLM-written instruction carries and that says nothing
   about *how* to talk ("keep every goal and fact as given", "never mention being an
   AI", "stay in character", "answer accurately when asked") is blanked out first,
   so its negations and nouns trigger nothing.
4. **Cues**: every construct of :mod:`.constructs` (a concept with stems,
   inflections, synonyms and gapped multi-word patterns) is matched per sentence.
   Each match is a :class:`Cue` with a base weight, then adjusted by
   * *intensity* words near it ("always", "very" ×1.2–1.3; "often" ×0.9; "a little",
     "now and then", "sometimes" ×0.55; several multiply);
   * *negation* before it in the same clause ("never apologises", "not rude",
     "doesn't hold back details"), or after it ("thanks are never needed").
     Verbal negators ("not", "never") reach across "or" lists, nominal ones ("no",
     "skip", "without") across whole lists ("skip greetings, thanks and small
     talk"); a second negator cancels the first. A negated cue *for* a behaviour
     becomes evidence *against* it; a negated cue *against* one ("does not trust")
     becomes evidence for it, scaled by the construct's ``flip``;
   * *onset* wording: a state that holds only "at first" / "starts …" while the
     text goes on to a change ("calm at first, angry if the agent repeats itself";
     "starts friendly, loses patience") counts ×0.35;
   * cues inside a clause about the agent ("if the agent is vague") are dropped, and
     a construct may subsume weaker readings of its own span ("some replies are one
     word, others ramble" is variation, not terseness).
5. **Combine** per behaviour (the rule): evidence for, ``P``, and evidence against,
   ``N``, are each the strongest contribution plus a damped noisy-or of the rest,
   ``c1 + (1 - c1) * (1 - prod(1 - c_i / 2))`` — one clear statement sets the
   level, repeats saturate it towards 1 without overshooting. The level is
   ``P * (1 - N * (1 - P))``: evidence against cancels *weak* evidence for ("a
   stressed parent who never raises their voice" stays calm) but only dents a
   clear statement (an "annoyed" customer who "doesn't swear" is still annoyed,
   a transient "calm at first" barely touches a stated "angry"). A behaviour whose
   every cue is graded low ("a little", "now and then") is capped at :data:`LOW_CAP`.
   Levels below
   :data:`MIN_LEVEL` are dropped.
   ``politeness`` is signed: ``net = P - N`` (courteous minus dropped courtesy);
   when ``|net| >= 0.6`` the level is ``0.5 + net / 2`` (so "never says please or
   thanks" gives ≈ 0.1 and "unfailingly courteous" ≈ 0.9); otherwise politeness is
   absent, which means "as the default".

:data:`DETECTION_THRESHOLD` is the level from which a behaviour counts as *present*
(used by :mod:`.reader_eval`). :data:`READER_VERSION` hashes this module and its
construct table, so caches of anything read from persona text can key on it.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from . import constructs as K
from .vocabulary import BEHAVIOURS

READER_VERSION = hashlib.sha256(
    Path(__file__).read_bytes() + Path(K.__file__).read_bytes()).hexdigest()[:12]
"""Identity of the reader: changes whenever its code or construct table does."""

MIN_LEVEL = 0.1  # weaker levels are noise, not behaviour
DETECTION_THRESHOLD = 0.3  # a behaviour at or above this level is "present"
POLITE_MARGIN = 0.6  # |courteous - dropped| needed before politeness leaves the default
NEGATION_WINDOW = 6  # words between a negator and its cue, at most
MODIFIER_BEFORE, MODIFIER_AFTER = 5, 3  # words an intensity word may stand from its cue
MAX_MODIFIER = 1.35  # product of intensity factors, capped
SECOND_EVIDENCE_DAMPING = 0.5
LOW_MODIFIER = 0.8  # a cue scaled below this was graded low ("a little", "occasionally", "at first")
LOW_CAP = 0.55  # ... and a behaviour all of whose cues were graded low stays low
CONDITION_FACTOR = 0.5  # a cue inside an "if/when you …" clause is a condition, not a standing trait
EXAMPLE_BOOST = 1.8  # a quoted utterance introduced by a verb of saying ("adds 'I think'")

for _construct in K.CONSTRUCTS:  # the table may only name known behaviours
    if unknown := set(_construct.effects) - set(BEHAVIOURS):
        raise ValueError(f"construct {_construct.name!r} names unknown behaviours {sorted(unknown)}")


@dataclass(frozen=True)
class Cue:
    """One phrase of the text read as evidence about one behaviour."""

    behaviour: str
    phrase: str  # the matched words
    clause: str  # the sentence they came from
    construct: str  # the construct that matched (see :mod:`.constructs`)
    weight: float  # the construct's signed base weight (+ for, - against)
    modifier: float  # product of intensity and onset factors
    modifier_words: tuple[str, ...]
    negated: bool
    negator: str  # the negating words, if any
    contribution: float  # signed: + evidence for the behaviour, - against; 0 when dropped
    dropped: str = ""  # why the cue does not count ("agent clause", "subsumed", "overlapped")
    sentence: int = 0  # index of the sentence in the normalised text
    span: tuple[int, int] = (0, 0)  # character span of the phrase in that (normalised) sentence


@dataclass(frozen=True)
class Reading:
    """What a persona text says about how the customer talks."""

    levels: dict[str, float]
    cues: tuple[Cue, ...] = ()
    boilerplate: tuple[str, ...] = ()  # phrases ignored as instruction boilerplate
    evidence: dict[str, tuple[float, float]] = field(default_factory=dict)  # behaviour -> (for, against)

    def present(self, threshold: float = DETECTION_THRESHOLD) -> list[str]:
        """Behaviours at or above ``threshold`` (politeness only when courteous)."""
        return [b for b, v in self.levels.items() if v >= threshold and (b != "politeness" or v >= 0.6)]

    def summary(self) -> str:
        """A readable account: final levels, then the phrases behind each."""
        if not self.levels and not self.cues:
            return "No behaviour cues: the cooperative default."
        lines = []
        for name, level in sorted(self.levels.items(), key=lambda kv: -kv[1]):
            label = name
            if name == "politeness":
                label = "politeness (courtesy dropped)" if level < 0.5 else "politeness (extra courteous)"
            p, n = self.evidence.get(name, (0.0, 0.0))
            lines.append(f"{label}: {level:.2f}   [for {p:.2f}, against {n:.2f}]")
            for cue in self.cues:
                if cue.behaviour == name and not cue.dropped:
                    lines.append("    " + _cue_line(cue))
        quiet = sorted({c.behaviour for c in self.cues if not c.dropped} - set(self.levels))
        for name in quiet:
            p, n = self.evidence.get(name, (0.0, 0.0))
            lines.append(f"{name}: below {MIN_LEVEL} or cancelled   [for {p:.2f}, against {n:.2f}]")
            lines += ["    " + _cue_line(c) for c in self.cues if c.behaviour == name and not c.dropped]
        dropped = [c for c in self.cues if c.dropped]
        if dropped:
            lines.append("ignored cues:")
            lines += [f"    {c.behaviour}: {c.phrase!r} ({c.dropped})" for c in dropped]
        if self.boilerplate:
            lines.append("boilerplate: " + "; ".join(repr(b) for b in self.boilerplate))
        return "\n".join(lines)


def _cue_line(cue: Cue) -> str:
    bits = [f"{cue.contribution:+.2f}", repr(cue.phrase), f"({cue.construct}, base {cue.weight:+.2f}"]
    if cue.modifier_words:
        bits[-1] += f", x{cue.modifier:.2f} by {'/'.join(cue.modifier_words)}"
    if cue.negated:
        bits[-1] += f", negated by {cue.negator!r}"
    return " ".join(bits) + ")"


# --- normalisation and splitting -----------------------------------------------------------

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"',
                         "…": "...", "\u00a0": " "})
_DASH = re.compile(r"\s*[—–]\s*|\s+-{1,2}\s+")
_MARKUP = re.compile(r"[*_`#>]{1,3}(?=\w|\s|$)|(?<=\w)[*_`]{1,3}")
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)]|[a-z][.)])\s+", re.M)
_ABBREV = [(re.compile(r"\be\.g\.", re.I), "eg"), (re.compile(r"\bi\.e\.", re.I), "ie"),
           (re.compile(r"\betc\.", re.I), "etc"), (re.compile(r"\bvs\.", re.I), "vs")]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_TOKEN = re.compile(r"[\w'-]+|[,;:—()]|\?\?|!!|\.\.\.")


def normalise(text: str) -> str:
    text = text.translate(_QUOTES)
    for pattern, repl in _ABBREV:
        text = pattern.sub(repl, text)
    text = _BULLET.sub("\n", text)
    text = _MARKUP.sub("", text)
    text = _DASH.sub(" — ", text)
    text = text.lower()
    text = K.AFFIRMING_NEGATIONS.sub(" ", text)
    return re.sub(r"[ \t]+", " ", text)


def sentences(text: str) -> list[str]:
    """Sentences of a normalised text: lines and bullets are sentences, and a full stop
    inside quoted speech ('Understood. Please proceed.') ends nothing."""
    out = []
    for line in text.split("\n"):
        quotes = _quote_spans(line)
        last = 0
        for m in _SENTENCE_END.finditer(line):
            if not any(a < m.start() < b for a, b in quotes):
                out.append(line[last:m.start()])
                last = m.end()
        out.append(line[last:])
    return [s.strip() for s in out if s.strip(" .")]


def _quote_spans(sentence: str) -> list[tuple[int, int]]:
    """Spans inside quotation marks; an apostrophe between letters is not a quote."""
    marks = [m.start() for m in re.finditer(r"[\"']", sentence)
             if not (sentence[m.start()] == "'" and 0 < m.start() < len(sentence) - 1
                     and sentence[m.start() - 1].isalnum() and sentence[m.start() + 1].isalnum())]
    spans, open_at = [], None
    for pos in marks:
        if open_at is None:
            open_at = pos
        elif sentence[pos] == sentence[open_at]:
            spans.append((open_at, pos + 1))
            open_at = None
    return spans


# --- compiled helpers --------------------------------------------------------------------------

_MODIFIERS = [(K.compile_pattern(p), f) for p, f in K.MODIFIERS]
_NEGATORS = [(K.compile_pattern(p), s, kind) for p, s, kind in K.NEGATORS]
# "Thanks are never needed", "apologies are out of the question": negation after the cue needs a verb.
_POST_NEGATION = re.compile(
    r"[\s,]*(?:is|are|was|were|should be|must be|stay|stays|remain|remains|feel|feels|seem|seems)\s+"
    r"(?:not|never|rarely|seldom|unnecessary|optional|absent|off the table|out of the question|pointless|"
    r"a waste of time|best avoided|to be avoided|kept to a minimum|for other people)\b")


@dataclass
class _Sentence:
    text: str
    tokens: list[tuple[int, int, str]]
    starts: list[int]
    quotes: list[tuple[int, int]]
    agent: list[tuple[int, int]]
    modifiers: list[tuple[int, int, float, str]]
    negators: list[tuple[int, int, float, str, str]]
    onset_end: int  # cues ending before this offset are in an "at first" state (-1: none)
    onset_start: int
    conditions: list = field(default_factory=list)  # "if you are unsure," spans: conditions, not traits

    def token_at(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.starts, pos) - 1)


def _analyse(sentence: str, next_sentence: str) -> _Sentence:
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(sentence)]
    starts = [t[0] for t in tokens]
    modifiers = []
    for rx, factor in _MODIFIERS:
        modifiers += [(m.start(), m.end(), factor, m.group()) for m in rx.finditer(sentence)]
    modifiers = _non_overlapping(modifiers)
    negators = []
    for rx, strength, kind in _NEGATORS:
        negators += [(m.start(), m.end(), strength, kind, m.group()) for m in rx.finditer(sentence)]
    # The longest negator wins on overlap ("not always" over "not"); false friends are dropped.
    negators = [n for n in _non_overlapping(negators) if not _false_friend(sentence, n)]
    agent = []  # the caller drops "when they …" spans in third-person texts
    for rx in (K.AGENT_CLAUSE, K.AGENT_CLAUSE_THEY, K.AGENT_TO_DO):
        for m in rx.finditer(sentence):
            end = _agent_clause_end(sentence, m.end())
            you = re.search(r"\byou(?:'re|r)?\b", sentence[m.end():end])
            # "press the agent to …": the asking is the customer's, what follows is the agent's
            begin = m.end() if rx is K.AGENT_TO_DO else m.start()
            agent.append((begin, m.end() + you.start() if you else end))
    onset_start, onset_end = -1, -1
    onset = K.ONSET.search(sentence)
    if onset:
        change = K.CHANGE.search(sentence, onset.end())
        if change or K.CHANGE.search(" ".join(next_sentence.split()[:6])):
            clause_start = _clause_start(sentence, onset.start())
            limit = _clause_end(sentence, onset.end())
            onset_start = clause_start
            onset_end = min(change.start(), limit) if change else limit
    conditions = [(m.start(), _clause_end(sentence, m.end())) for m in _CONDITION.finditer(sentence)]
    return _Sentence(sentence, tokens, starts, _quote_spans(sentence), agent, modifiers, negators,
                     onset_end, onset_start, conditions)


def _false_friend(sentence: str, negator: tuple) -> bool:
    """"drops in a remark", "fix the order": the word is not negating here."""
    if negator[4] == "no" and re.search(r"\byes\s*(?:/|or|and)\s*$", sentence[:negator[0]]):
        return True  # "yes/no questions"
    head = re.sub(r"(?:s|es|ed|ing|ped|ping)$", "", negator[4].split()[0])
    following = K.NEGATOR_FALSE_FRIENDS.get(head) or K.NEGATOR_FALSE_FRIENDS.get(negator[4].split()[0])
    if not following:
        return False
    nxt = re.match(r"[\s,]*([\w'-]+)", sentence[negator[1]:])
    return bool(nxt and nxt.group(1) in following)


_FREQUENCY = re.compile(
    r"always|constantly|consistently|continually|invariably|sometimes|occasionally|often|frequently|usually|"
    r"mostly|generally|typically|regularly|now and (?:then|again)|every (?:now and then|once in a while|so often)|"
    r"from time to time|at times|once in a while|on occasion|rarely|seldom|habitually|repeatedly")

# A verb of saying (or "like", "such as") shortly before a quotation introduces it as an example.
_INTRODUCED = re.compile(
    r"\b(?:say|says|saying|said|use|uses|using|add|adds|adding|slip|slips|slipping|throw|throws|drop|drops|"
    r"pepper|peppers|sprinkle|sprinkles|toss|tosses|type|types|typing|write|writes|writing|reply|replies|answer|"
    r"answers|ask|asks|go|goes|like|such as|eg|ie|with|lots of|plenty of|a lot of|an?|the odd|the occasional)"
    r"(?:\s+(?:in|out|with|things|stuff|phrases?|words?|an?|the|odd|occasional|little|quick|lots|of|like|"
    r"such|as)){0,3}\s*[\"'(]?\s*$")


# "If you are not sure, …", "in case you are confused, …": the customer's condition, up to the comma.
_CONDITION = re.compile(r"\b(?:if|in case|should|whenever|when)\s+(?:you|you're|they|they're|she|he|she's|he's)\b")


_CLAUSE_BREAK = re.compile(r"[,;:—()]|\b(?:but|however|though|although|whereas|yet|then)\b")


def _clause_end(sentence: str, pos: int) -> int:
    m = _CLAUSE_BREAK.search(sentence, pos)
    return m.start() if m else len(sentence)


def _agent_clause_end(sentence: str, pos: int) -> int:
    """End of a clause about the agent; it runs on through a list of the agent's doings
    ("when the agent is slow, repeats a question or asks twice")."""
    end = _clause_end(sentence, pos)
    while end < len(sentence) and sentence[end] == ",":
        nxt = _clause_end(sentence, end + 1)
        segment = sentence[end + 1:nxt]
        about_customer = re.search(r"\b(?:you|your|i)\b", segment)
        agent_verb = re.match(r"\s*(?:\w+s|is|has|does|keeps)\b", segment)  # "repeats a question"
        after = _clause_end(sentence, nxt + 1) if nxt < len(sentence) else nxt
        in_a_list = re.search(r"\b(?:or|and)\b", sentence[end + 1:after])
        if about_customer or not agent_verb or not in_a_list:
            break
        end = nxt
    return end


def _clause_start(sentence: str, pos: int) -> int:
    last = 0
    for m in _CLAUSE_BREAK.finditer(sentence, 0, pos):
        last = m.end()
    return last


def _non_overlapping(spans: list) -> list:
    """Longest first, then leftmost; drop spans overlapping a kept one."""
    kept: list = []
    for span in sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0])):
        if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s[0])


# --- negation and intensity around one cue ----------------------------------------------------


@lru_cache(maxsize=4096)
def _literal_in(patterns: tuple[str, ...], word: str) -> bool:
    source = " ".join(patterns).replace("_", " ")
    return re.search(rf"(?<![\w*]){re.escape(word)}(?![\w])", source) is not None


def _negation(s: _Sentence, start: int, end: int) -> tuple[float, str]:
    """Strength and words of the negation that reaches the cue at [start, end)."""
    t0 = s.token_at(start)
    best = None
    for n_start, n_end, strength, kind, words in reversed(s.negators):
        if n_end > start or any(a <= n_start < b for a, b in s.quotes):
            continue  # a "no" inside quoted speech negates nothing
        t_neg_end = s.token_at(n_end - 1)
        between = [tok[2] for tok in s.tokens[t_neg_end + 1:t0]]
        if len([w for w in between if w not in ",()"]) > NEGATION_WINDOW:
            break
        cue_word = s.tokens[t0][2] if t0 < len(s.tokens) else ""
        if cue_word in K.STRONG_BOUNDARIES or _scope_blocked(between + [cue_word], kind, s, end):
            break
        if any(a <= n_start < b for a, b in s.agent) and not any(a <= start < b for a, b in s.agent):
            break  # a "no" in a clause about the agent does not reach the customer's clause
        best = (n_start, strength, words)
        break
    if best is None:
        after = _POST_NEGATION.match(s.text, end)
        return (0.9, after.group().strip(" ,")) if after else (0.0, "")
    n_start, strength, words = best
    # A negator governing the first cancels it: "don't skip the greetings", "won't accept an
    # answer without asking".
    t_first = s.token_at(n_start)
    for p_start, p_end, _, p_kind, p_words in s.negators:
        if p_end > n_start or words in {"nor", "neither"} or p_words in {"neither", "nor"}:
            continue  # "neither warm nor cold": two negations side by side, not one of the other
        if any(a <= p_start < b for a, b in s.quotes):
            continue
        between = [tok[2] for tok in s.tokens[s.token_at(p_end - 1) + 1:t_first]]
        if any(w in K.STRONG_BOUNDARIES or w in {",", "and"} for w in between):
            continue
        governs = (all(w in _LINKING_WORDS for w in between) and len(between) <= 3) or (
            words == "without" and p_kind == "verbal" and len(between) <= 4)
        if governs:
            return 0.0, f"{p_words} {words}"
    return strength, words


# Words that may stand between two negators when the first governs the second ("don't ever
# bother to skip", "never be afraid to avoid").
_LINKING_WORDS = frozenset({"to", "be", "the", "a", "an", "any", "ever", "even", "really", "just", "bother",
                            "bothers", "bothering", "try", "trying", "tries", "want", "wants", "going", "able",
                            "have", "has", "need", "needs", "feel", "feels", "like", "with", "about", "your",
                            "their", "his", "her", "much"})


def _scope_blocked(between: list[str], kind: str, s: _Sentence, cue_end: int) -> bool:
    *between, cue_word = between  # the cue's own first word closes the list
    for i, w in enumerate(between):
        if w in K.STRONG_BOUNDARIES:
            return True
        follows = between[i + 1] if i + 1 < len(between) else cue_word
        if kind == "verbal":
            if w == "and":
                return True
            if w == ",":
                # "never apologise, thank or greet": a comma list that ends in "or"/"nor"
                tail = between[i + 1:] + s.text[cue_end:cue_end + 40].split()[:4]
                if not any(x in {"or", "nor"} for x in tail):
                    return True
        elif w in {"and", ","} and (_verb_like(follows) or follows in {"you", "they", "he", "she", "i"}):
            return True
    return False


def _verb_like(word: str) -> bool:
    """A verb starting a new predicate: "type", or its third person "types", "barks", "calls"."""
    return word in K.VERB_STARTS or (word.endswith("s") and (word[:-1] in K.VERB_STARTS or (
        word.endswith("es") and word[:-2] in K.VERB_STARTS)))


def _intensity(s: _Sentence, start: int, end: int, construct: K.Construct) -> tuple[float, tuple[str, ...]]:
    t0, t1 = s.token_at(start), s.token_at(max(start, end - 1))
    factor, words = 1.0, []
    for m_start, m_end, f, text in s.modifiers:
        if m_start == 0 and m_end <= start and _FREQUENCY.fullmatch(text) and text not in words and not any(
                tok[2] in {";", ":", "—", "but", "however", "though", "although", "yet"}
                for tok in s.tokens[s.token_at(m_end - 1) + 1:t0]):
            # A sentence-initial frequency adverb ("Sometimes, …", "Always …") governs its sentence.
            factor *= f
            words.append(text)
            continue
        if start <= m_start < end:
            # Inside the cue: counts when it filled a gap ("keep messages very short"), not when
            # it is one of the construct's own words ("sometimes short, sometimes long").
            if not _literal_in(construct.patterns, text):
                factor *= f
                words.append(text)
            continue
        if m_end <= start:
            between = [tok[2] for tok in s.tokens[s.token_at(m_end - 1) + 1:t0]]
            limit = MODIFIER_BEFORE
        elif m_start >= end:
            between = [tok[2] for tok in s.tokens[t1 + 1:s.token_at(m_start)]]
            limit = MODIFIER_AFTER
            if "," in between:
                continue
        else:
            continue
        if len(between) > limit or any(w in K.STRONG_BOUNDARIES or w == "and" for w in between):
            continue
        factor *= f
        words.append(text)
    return min(factor, MAX_MODIFIER), tuple(words)


# --- reading -----------------------------------------------------------------------------------


def _combine(values: list[float]) -> float:
    """Strongest contribution plus a damped noisy-or of the rest (see module docstring)."""
    values = sorted((v for v in values if v > 0), reverse=True)
    if not values:
        return 0.0
    rest = 1.0
    for v in values[1:]:
        rest *= 1.0 - SECOND_EVIDENCE_DAMPING * v
    return min(1.0, values[0] + (1.0 - values[0]) * (1.0 - rest))


def _boilerplate(sentence: str) -> tuple[str, list[str]]:
    found = []
    for rx in K.BOILERPLATE:
        for m in rx.finditer(sentence):
            found.append((m.start(), m.end()))
    if not found:
        return sentence, []
    found = _non_overlapping(found)
    phrases = [sentence[a:b] for a, b in found]
    out = sentence
    for a, b in sorted(found, reverse=True):  # blank out, keeping offsets
        out = out[:a] + ";" + " " * (b - a - 1) + out[b:]
    return out, phrases


def _second_person(text: str) -> bool:
    you = len(re.findall(r"\byou(?:r|rs|rself|'re|'ll|'d)?\b", text))
    third = len(re.findall(r"\b(?:they|their|them|she|her|he|his|him)\b", text))
    return you >= third


@lru_cache(maxsize=16384)
def _construct_spans(sentence: str) -> tuple[tuple[int, int, int], ...]:
    """``(start, end, construct index)`` of every construct match in one sentence.

    A function of the sentence alone, memoised: generated persona texts are made of
    few distinct sentences (a paper-profile search reads ~100 k sentence occurrences
    of ~700 distinct ones), and this matching is most of the reader's time.
    """
    quotes = _quote_spans(sentence)
    spans = []
    for index, construct in enumerate(K.CONSTRUCTS):
        matches = []
        for rx in construct.compiled:
            matches += [(m.start(), m.end()) for m in rx.finditer(sentence)]
        for start, end in _non_overlapping(matches):
            if construct.quoted and not any(a <= start and end <= b for a, b in quotes):
                continue
            if construct.not_after and re.search(construct.not_after, sentence[max(0, start - 30):start]):
                continue
            if construct.whole_quote and not any(a <= start and end <= b and (b - a) - (end - start) <= 8
                                                 for a, b in quotes):
                continue
            spans.append((start, end, index))
    return tuple(spans)


def _read_uncached(text: str) -> Reading:
    if not isinstance(text, str):
        raise TypeError(f"a persona text must be a str, got {type(text).__name__}")
    normal = normalise(text)
    sents = sentences(normal)
    second_person = _second_person(normal)
    cues: list[Cue] = []
    boilerplate: list[str] = []
    raw: list[tuple] = []  # (sentence index, start, end, construct, behaviour, weight, cue kwargs)
    for si, original in enumerate(sents):
        sentence, bp = _boilerplate(original)
        boilerplate += bp
        nxt = sents[si + 1] if si + 1 < len(sents) else ""
        s = _analyse(sentence, nxt)
        if not second_person:  # "when they …" is the customer in a third-person description
            s.agent = [a for a in s.agent if not K.AGENT_CLAUSE_THEY.match(sentence, a[0])]
        raw += [(si, start, end, K.CONSTRUCTS[c], s, original) for start, end, c in _construct_spans(sentence)]
    # Subsumption: a construct's span silences the behaviours it subsumes there.
    silenced = [(si, 0 if c.sentence_scope else start, 10**9 if c.sentence_scope else end,
                 set(c.subsumes) | set(c.effects)) for si, start, end, c, _, _ in raw if c.subsumes]
    for si, start, end, construct, s, original in raw:
        phrase = s.text[start:end]
        quoted = any(a <= start and end <= b for a, b in s.quotes)
        strength, negator = _negation(s, start, end)
        factor, words = _intensity(s, start, end, construct)
        if quoted and construct.in_quotes != 1.0 and not strength:
            factor *= construct.in_quotes
            words = (*words, "(quoted)")
        if construct.quoted and _INTRODUCED.search(s.text[max(0, start - 40):start]):
            # An example offered as what the customer says ("slips in a 'maybe'") is a clear sign.
            factor = min(factor * EXAMPLE_BOOST, EXAMPLE_BOOST)
            words = (*words, "(example)")
        transient = s.onset_start <= start and end <= s.onset_end
        conditional = any(a < start and end <= b for a, b in s.conditions)
        # A cue about the agent's doings is dropped, unless it *is* the clause ("until the agent asks").
        agent = not construct.agent_ok and any(a < start and end <= b for a, b in s.agent)
        for behaviour, weight in construct.effects.items():
            subsumed = any(si == ssi and start < e and s_ < end and behaviour in names
                           and not (s_ == start and e == end and construct.subsumes)
                           for ssi, s_, e, names in silenced) and not construct.subsumes
            mod = factor
            mod_words = list(words)
            if strength and mod > 1.0:
                mod = 1.0  # "not very polite" is not extra-negated
            if transient and behaviour not in K.TRANSIENT_EXEMPT:
                mod *= K.TRANSIENT_FACTOR
                mod_words.append("(at first)")
            if conditional:
                mod *= CONDITION_FACTOR
                mod_words.append("(if)")
            base = abs(weight if not strength or construct.negated is None else construct.negated) * mod
            if strength:
                # Negated: evidence for becomes evidence against; against becomes (flipped) for.
                value = -base * strength if weight > 0 else base * strength * construct.flip
            else:
                value = base if weight > 0 else -base
            value = max(-1.0, min(1.0, value))
            dropped = "agent clause" if agent else "subsumed" if subsumed else ""
            cues.append(Cue(behaviour, phrase, original, construct.name, weight, round(mod, 3), tuple(mod_words),
                            bool(strength), negator, 0.0 if dropped else round(value, 3), dropped,
                            si, (start, end)))
    cues = _variation(_dedupe(cues))
    return _levels(cues, tuple(dict.fromkeys(boilerplate)))


def _variation(cues: list[Cue]) -> list[Cue]:
    """Short *and* long in one breath is variation: a sentence (or a sentence and the one
    answering it: "Some replies are one word. Others run to paragraphs.") that asks for
    short messages and for long ones, neither negated, reads as verbosity variation and
    its terse cues, for and against, are subsumed."""
    out = list(cues)
    live = [i for i, c in enumerate(out) if c.behaviour == "terse" and c.contribution and not c.negated
            and not c.dropped]
    by_sentence: dict[int, list[int]] = {}
    for i in live:
        by_sentence.setdefault(out[i].sentence, []).append(i)
    groups = list(by_sentence.values())
    for si in sorted(by_sentence):
        if si + 1 in by_sentence and _CONTINUES.match(out[by_sentence[si + 1][0]].clause.lower()):
            groups.append(by_sentence[si] + by_sentence[si + 1])
    for idx in groups:
        short = [i for i in idx if out[i].contribution > 0]
        long_ = [i for i in idx if out[i].contribution < 0]
        if not short or not long_:
            continue
        strength = min(max(out[i].contribution for i in short), max(-out[i].contribution for i in long_))
        first = out[min(idx, key=lambda i: out[i].span)]
        phrase = " … ".join(dict.fromkeys(out[i].phrase for i in sorted(idx, key=lambda i: out[i].span)))
        for i in idx:
            out[i] = Cue(**{**out[i].__dict__, "contribution": 0.0, "dropped": "subsumed"})
        out.append(Cue("verbosity_variation", phrase, first.clause, "short_and_long", 0.8,
                       round(strength / 0.8, 3), (), False, "", round(max(strength, 0.6), 3),
                       sentence=first.sentence, span=first.span))
    return out


_CONTINUES = re.compile(r"\s*(?:others|other times|at other times|sometimes|then|but|and then|the next|the rest)\b")


def _dedupe(cues: list[Cue]) -> list[Cue]:
    """Overlapping phrases about one behaviour in one sentence count once.

    The longest phrase wins (it is the more specific reading: "patience is wearing thin"
    over "patience"), then the stronger; this holds across directions too.
    """
    out = list(cues)
    groups: dict[tuple, list[int]] = {}
    for i, cue in enumerate(out):
        if not cue.dropped and cue.contribution:
            groups.setdefault((cue.behaviour, cue.sentence), []).append(i)
    for idx in groups.values():
        idx.sort(key=lambda i: (-(out[i].span[1] - out[i].span[0]), -abs(out[i].contribution), out[i].span))
        kept: list[tuple[int, int]] = []
        for i in idx:
            a, b = out[i].span
            if any(a < kb and ka < b for ka, kb in kept):
                out[i] = Cue(**{**out[i].__dict__, "contribution": 0.0, "dropped": "overlapped"})
            else:
                kept.append((a, b))
    return out


def _levels(cues: list[Cue], boilerplate: tuple[str, ...]) -> Reading:
    pos: dict[str, list[float]] = {}
    neg: dict[str, list[float]] = {}
    graded_low: dict[str, bool] = {}  # every cue for the behaviour says "a little" / "now and then"
    for cue in cues:
        if cue.dropped or cue.contribution == 0:
            continue
        (pos if cue.contribution > 0 else neg).setdefault(cue.behaviour, []).append(abs(cue.contribution))
        if cue.contribution > 0:
            graded_low[cue.behaviour] = graded_low.get(cue.behaviour, True) and cue.modifier < LOW_MODIFIER
    levels, evidence = {}, {}
    for name in BEHAVIOURS:
        p, n = _combine(pos.get(name, [])), _combine(neg.get(name, []))
        if not p and not n:
            continue
        evidence[name] = (round(p, 3), round(n, 3))
        if name == "politeness":
            net = p - n
            if abs(net) >= POLITE_MARGIN:
                levels[name] = round(min(1.0, max(0.0, 0.5 + net / 2)), 3)
            continue
        level = p * (1.0 - n * (1.0 - p))
        if graded_low.get(name):
            level = min(level, LOW_CAP)  # several "now and then"s do not add up to "always"
        if level >= MIN_LEVEL:
            levels[name] = round(min(1.0, level), 3)
    return Reading(levels, tuple(cues), boilerplate, evidence)


@lru_cache(maxsize=8192)
def _read_cached(text: str) -> Reading:
    return _read_uncached(text)


def read(text: str) -> Reading:
    """Behaviour levels a persona instruction text asks for (see the module docstring).

    Deterministic and memoised by text; the returned ``levels`` dict is a fresh copy.
    """
    if not isinstance(text, str):
        raise TypeError(f"a persona text must be a str, got {type(text).__name__}")
    cached = _read_cached(text)
    return Reading(dict(cached.levels), cached.cues, cached.boilerplate, dict(cached.evidence))


def explain(text: str):
    """One row per cue (phrase, behaviour, modifiers, negation, contribution) plus the final levels.

    Rows with ``kind == "level"`` carry each behaviour's final level in ``contribution``;
    ``kind == "boilerplate"`` rows list the phrases ignored as instruction boilerplate.
    """
    import pandas as pd

    reading = read(text)
    rows = [{"kind": "cue", "behaviour": c.behaviour, "phrase": c.phrase, "construct": c.construct,
             "weight": c.weight, "modifier_words": ", ".join(c.modifier_words), "modifier": c.modifier,
             "negated": c.negated, "negator": c.negator, "contribution": c.contribution, "dropped": c.dropped,
             "clause": c.clause} for c in reading.cues]
    rows += [{"kind": "level", "behaviour": b, "phrase": "", "construct": "", "weight": None,
              "modifier_words": "", "modifier": None, "negated": False, "negator": "", "contribution": v,
              "dropped": "", "clause": ""} for b, v in sorted(reading.levels.items())]
    rows += [{"kind": "boilerplate", "behaviour": "", "phrase": p, "construct": "", "weight": None,
              "modifier_words": "", "modifier": None, "negated": False, "negator": "", "contribution": 0.0,
              "dropped": "boilerplate", "clause": ""} for p in reading.boilerplate]
    frame = pd.DataFrame(rows, columns=["kind", "behaviour", "phrase", "construct", "weight", "modifier_words",
                                        "modifier", "negated", "negator", "contribution", "dropped", "clause"])
    frame.attrs["levels"] = dict(reading.levels)
    frame.attrs["reader_version"] = READER_VERSION
    return frame
