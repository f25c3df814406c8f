"""Persona behaviours for the offline user: a profile, seeded RNGs, and style transforms.

A persona's ``behaviour`` (:data:`ppol_nb.offline.vocabulary.BEHAVIOURS` name -> intensity in
[0, 1]) is executed in two places:

* **content decisions** inside the dialogue logic of :class:`.user.OfflineUser` —
  ``gating`` (what to withhold: only the gist of the request up front, its
  details a piece per message), ``selective_attention`` (which question to
  answer), ``ambiguity`` (vague item references until asked), ``bursty`` (how a
  message is delivered), ``impatience`` (when to give up), ``digression`` (an
  off-topic message instead of goodbye); the small helpers for those live here too;
* **surface realisation**: :func:`realise` runs a fixed pipeline of transforms
  over the content plan (:class:`.utterance.Turn`). Each transform is a small
  function ``(turn, level, rng, ctx) -> turn`` that does nothing at level 0.

Lexicon-driven fingerprint features move only because the user *says* phrases the
fingerprint lexicons recognise (:mod:`ppol_nb.fitness.lexicons`); the phrase pools
below are checked against those lexicons in ``tests/test_persona_user.py`` and
``tests/test_human_room.py``. The user
never reads human data or any fitness value, and transforms never touch fixed
segments (facts, identifiers, names), so no behaviour can alter or invent a fact.

Randomness: each behaviour has its own ``random.Random`` seeded by
``zlib.crc32(seed | task | behaviour)``, so switching one behaviour on does not
reshuffle another's choices, and an episode is reproducible from its seed.

**How people talk to a support chat, and what realises it.** The realisations of
``gating``, ``digression`` and ``politeness`` below 0.5 were designed from a study of
the MultiWOZ 2.1 validation users (the fitness model's training humans, 400
dialogues; fingerprints of :mod:`ppol_nb.fitness.fingerprint`) against offline
episodes; the user itself never sees human data. What people do that the
cooperative default did not (default = base simulator on 24 train tasks):

=====================  ========================  =====================  ============================
feature (raw units)    MultiWOZ mean (10–90 %)   default user           realised by
=====================  ========================  =====================  ============================
opening_length         13.6 (8–21)               47                     gating: the gist only
words_per_turn         12.1 (9.4–15)             26                     gating: details spread out
front_loading_ratio    0.31 (0.17–0.49)          0.87                   gating: details spread out
politeness_rate        0.38 (0.18–0.60)          0.97                   politeness < 0.5, in tiers
verbosity_cv           0.41 (0.25–0.56)          0.72                   gating
certainty_rate         0.002                     0.05 ("Certainly.")    politeness < 0.5
info_seeking_rate      0.018                     0.000                  digression (side questions)
=====================  ========================  =====================  ============================

People open with one sentence of need ("I need to book a hotel in the east that
has 4 stars.") and add details as the chat goes on; 8 % of openings thank or say
please and 20 % greet, but 89 % of last turns thank; later turns are polite about
a quarter of the time; a third of turns ask something, and people change topic.
Raw-space Chamfer coverage (the search's axis) is dominated by opening_length and
words_per_turn (their spread is ten to a hundred times the rates'), which is why
the default — 47-word openings — covers no one.

Measured with ``tests/test_human_room.py``'s protocol (12 retail + 12 airline train
tasks × 3 seeds, 20-step cap; coverage against the training humans; P(human) from
a baseline-style discriminator trained on the other train tasks), coverage / P(human),
before → after these realisations: base 0.000 / 0.05 (unchanged); gating = 1 alone
0.23 / 0.73 → 0.39 / 0.84; a MultiWOZ-style persona text 0.28 / 0.78 → 0.41 / 0.85;
the issue's texting-style text 0.11 / 0.81 → 0.37 / 0.86. No other single behaviour
at full strength gets above 0.02: ``terse``, ``bursty``, ``casual_typing`` and
``verbosity_variation`` make people of other corpora (phone typists, not
MultiWOZ's crowd workers), and the lexical ones move rates whose raw spread is
too small to matter next to a 47-word opening. Spreading a request over more
messages costs steps: under the 20-step cap gating = 1 solves 47 % of these tasks
against the base's 83 % (96 % vs 100 % under τ²'s own cap) — the chat runs long, or
a withheld detail ends in a hand-over, as with people.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from ..domains import DEFAULT_DOMAIN, DOMAINS
from ..domains import get as domain_entry
from .vocabulary import BEHAVIOURS
from .utterance import Part, Segment, Turn

# --- profile and randomness ---------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """Validated behaviour intensities. Zero means off, except for ``politeness``.

    ``politeness`` is the one behaviour the cooperative default already shows, so
    its *absence* means "as the default" while an explicit 0 removes it.
    """

    levels: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, behaviour: dict[str, float] | None) -> Profile:
        levels = {}
        for name, value in (behaviour or {}).items():
            if name not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {name!r}; known: {sorted(BEHAVIOURS)}")
            value = float(value)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"behaviour {name!r} intensity {value} is outside [0, 1]")
            if value > 0.0 or name == "politeness":
                levels[name] = value
        return cls(levels)

    @property
    def active(self) -> bool:
        return bool(self.levels)

    def __getitem__(self, name: str) -> float:
        return self.levels.get(name, 0.0)

    def __contains__(self, name: str) -> bool:
        return name in self.levels


class Rngs:
    """One seeded ``random.Random`` per behaviour (see module docstring)."""

    def __init__(self, seed: int | None, task_id: str):
        self._base = f"{seed or 0}|{task_id}"
        self._rngs: dict[str, random.Random] = {}

    def __getitem__(self, name: str) -> random.Random:
        if name not in self._rngs:
            self._rngs[name] = random.Random(zlib.crc32(f"ppol-user|{self._base}|{name}".encode()))
        return self._rngs[name]

    def chance(self, name: str, p: float) -> bool:
        """True with probability ``p``; draws nothing when ``p`` is 0 or 1."""
        if p <= 0.0:
            return False
        if p >= 1.0:
            return True
        return self[name].random() < p


@dataclass(frozen=True)
class Context:
    """What a transform may know about the moment: never data, never fitness."""

    act: str
    turn: int  # 1-based number of this user message
    strikes: int = 0  # agent re-asks and unproductive agent turns so far
    repeat: bool = False  # the agent's last message repeats an earlier request
    told: bool = False  # the user had already given what is asked again
    domain: str = DEFAULT_DOMAIN
    label: str = ""  # the (first) fact label this message answers or withholds
    tangent: str = ""  # the side remark a digression would make now (the user's, never repeated)


# --- phrase pools (each checked against the fingerprint lexicons in the tests) -------

HEDGES = {
    "opening": ["I'm not sure if this is the right place to ask.", "I'm not sure how this works."],
    "facts": ["I think", "I believe", "Hmm, I think", "If I remember correctly,"],
    "confirm": ["I think so.", "I guess that's right.", "Hmm, probably fine."],
    "items": ["Maybe I wasn't clear.", "I think it was like this:"],
    "goodbye": ["I guess that's it."],
    "other": ["I'm not sure this is working.", "Maybe I'm missing something."],
}
PUSHBACK = {
    "ask": ["Why do you need that? Are you sure it's necessary?", "Are you sure you need my {label}?"],
    "told": ["I already told you.", "As I said,", "Like I said,"],
    "repeat": ["How many times do I have to go through this?", "Are you sure you're reading my messages?"],
    "confirm": ["Are you sure that's right?", "You sure that's correct?"],
    "goodbye": ["Are you sure it went through?"],
    "other": ["That's not what I asked."],
}
FRUSTRATION = {
    "mild": ["Ugh.", "Come on.", "Seriously?"],
    "strong": ["This is so frustrating.", "I'm getting really annoyed.", "Ugh, I'm so fed up with this."],
    "opening": ["I'm honestly so stressed about this.", "Ugh, this has been so annoying."],
    "confirm": ["Ugh, finally.", "Seriously, finally."],
}
ACCUSATIONS = {
    "opening": ["Your company's service has been terrible.", "Your website is useless."],
    "confirm": ["This took way too long, what a waste of time."],
    "goodbye": ["Worst support experience ever."],
    "other": ["This is useless.", "What a waste of time.", "Your service is terrible.", "Do your job."],
}
CLARIFICATIONS = {
    "opening": ["I'm a bit confused about how this works."],
    "confirm": ["Huh? Oh, okay.", "Wait, huh? Oh, right."],
    "other": ["Wait what?", "Huh?", "What do you mean?", "I'm confused.", "Which one?"],
}
PIVOTS = ["Actually,", "On second thought, let's try it this way:", "Actually, let me put it another way:"]
FORMAL = {
    "opening": "I am writing regarding the following matter —",
    "facts": "Regarding your question —",
    "items": "To clarify —",
    "other": "With respect to your question —",
    "nudge": "However, my request remains unresolved;",
}
FORMAL_CORE = {  # formal rewordings of a whole core answer
    "confirm": ["Yes — that is correct; you may proceed.", "Yes; you may proceed accordingly."],
    "goodbye": ["No; that is indeed everything I required."],
    "giveup": ["Consequently, I shall end this conversation."],
}
POLITE_ADD = {  # where: "opening" goes first, the others last
    "opening": ["Sorry to bother you with this.", "I'd appreciate your help with something."],
    "facts": ["Thanks for asking.", "Thank you!"],
    "confirm": ["Thank you!", "I appreciate it.", "Thanks a lot."],
    "goodbye": ["I really appreciate it.", "Have a great day!"],
    "other": ["Sorry for the trouble.", "Thanks for bearing with me."],
}
# Long-turn padding: situational chatter with no facts, no identifiers and no
# lexicon phrases (checked in the tests), so it moves length, not lexical rates.
ELABORATIONS = [
    "I have been meaning to sort this out for a while now.",
    "It has been on my to-do list for days and I finally have a quiet moment to deal with it.",
    "My evenings are usually packed with errands, so I am trying to get this done during my lunch break.",
    "A friend mentioned that reaching out here was the quickest way to get things like this sorted.",
    "I tried to figure it out on my own first, but I would rather have someone look at it with me.",
    "I keep notes on these things, so I went back through them before writing to you.",
]
# Side remarks and off-topic questions (digression). Rules: no digits, no all-caps,
# no names, none of the request verbs a task hinges on (cancel, return, exchange,
# refund, book, change, upgrade, …), no payment words, nothing the agent could take
# as a new request. Questions may fire the info-seeking lexicon (as people's side
# questions do); nothing else may fire (checked in the tests).
DIGRESSIONS = {
    # Each domain's own remarks are its registry entry's (ppol_nb.domains, same rules).
    **{d.name: list(d.offline.digressions) for d in DOMAINS.values()},
    "any": [
        "Oh, my dog just knocked my coffee over, one sec.",
        "Side note, the weather here has been wild lately.",
        "Hang on, the doorbell just rang.",
        "Is this chat open on weekends too?",
        "Hold on, someone is talking to me here.",
    ],
}
# Coming back to the task after a side remark.
BACK_ON_TASK = ["Anyway,", "Anyway, back to it.", "Ok, back to my thing.", "Where was I.", "Right, so"]
DEFLECTIONS = ["Can we get to my actual issue first?", "Let's deal with my request first.",
               "I'd rather not give that out yet.", "Hang on, I'll get to that."]
IMPATIENT_GIVEUP = ["Forget it, I don't have time for this.", "Never mind, I'll sort it out some other way."]
URGENCY = ["Come on, can we speed this up?", "I'm in a hurry, seriously."]

TERSE_CORE = {
    "confirm": ["yes", "yes go ahead", "ok go ahead", "yep"],
    "goodbye": ["no", "no thats it", "nope"],
    "giveup": ["bye"],
}

# Roles that carry no task content: what a terse or impolite user leaves out.
PLEASANTRY_ROLES = {"greeting", "closing", "thanks", "pleasantry", "filler", "farewell"}
CONTENT_ROLES = {"request", "detail", "identity", "fact", "unknown", "answer", "nudge", "giveup", "deflect"}

# Words an affirmative confirmation must avoid: the offline agent (like a careful
# human agent) does not take "yes … not …" as consent.
_NEGATION = re.compile(r"\b(?:don't|do not|not|dont)\b", re.I)
_AFFIRM = re.compile(r"\b(?:yes|yeah|yep|yup|sure|ok|okay|go ahead|proceed)\b", re.I)


def confirms(text: str) -> bool:
    """Whether a confirmation reply still reads as an unambiguous yes."""
    return bool(_AFFIRM.search(text)) and not _NEGATION.search(text)


# --- small helpers on parts -----------------------------------------------------------


def _decap(part: Part) -> Part:
    """'My zip code …' -> 'my zip code …' so a prefix can precede it (not 'I', not fixed)."""
    segs = list(part.segments)
    if segs and not segs[0].fixed:
        t = segs[0].text
        if len(t) > 1 and t[0].isupper() and not re.match(r"I\b", t):
            segs[0] = Segment(t[0].lower() + t[1:])
    return Part(part.role, tuple(segs))


def _prefix_parts(turn: Turn, phrase: str, role: str, glue: bool = False) -> Turn:
    """Insert ``phrase`` before the first content part (after any greeting).

    With ``glue`` the phrase runs into the next part ("I think my zip code is …").
    The default's courtesy opener ("Sure.") gives way to the persona's own reaction.
    """
    parts = [p for p in turn.parts if p.role != "pleasantry"]
    at = next((i for i, p in enumerate(parts) if p.role not in {"greeting", "pleasantry"}), len(parts))
    if glue and at < len(parts):
        parts[at] = _decap(parts[at])
    parts.insert(at, Part.of(role, phrase))
    return turn.with_parts(parts)


def _suffix_part(turn: Turn, phrase: str, role: str) -> Turn:
    return turn.with_parts([*turn.parts, Part.of(role, phrase)])


def _replace_core(turn: Turn, text: str, roles=("answer", "giveup")) -> Turn:
    """Swap the core answer part ("Yes, please go ahead.") for another wording."""
    parts = list(turn.parts)
    for i, p in enumerate(parts):
        if p.role in roles:
            parts[i] = Part.of(p.role, text)
            return turn.with_parts(parts)
    return turn


def _pick(rng: random.Random, pool: list[str], **fmt) -> str:
    return rng.choice(pool).format(**fmt)


# --- surface transforms ---------------------------------------------------------------

_COMPRESS = [
    (re.compile(r"^\s*(?:hello|hi there|hi|hey)\b[!,.]?\s*", re.I), ""),
    (re.compile(r"\bI (?:would like|'d like|wish|want) to\b"), "want to"),
    (re.compile(r"\bI need to\b"), "need to"),
    (re.compile(r"\b(?:just|really|actually|recently|also|please|kindly|basically|currently)\s+", re.I), ""),
    (re.compile(r",?\s+(?:right now|at the moment|for me)\b", re.I), ""),
]
_FINAL_STOP = re.compile(r"[.!]+\s*$")


def _compress(text: str) -> str:
    for pattern, repl in _COMPRESS:
        text = pattern.sub(repl, text)
    return text


def _short_form(turn: Turn, rng: random.Random) -> Turn:
    """Minimal wording of a turn's content: no pleasantries, bare facts, 'yes'."""
    if turn.act in TERSE_CORE:
        return Turn(turn.act, [Part.of("answer", _pick(rng, TERSE_CORE[turn.act]))],
                    turn.labels, turn.stop, dict(turn.meta))
    parts = []
    for p in turn.parts:
        if p.role in PLEASANTRY_ROLES or p.role == "nudge":
            continue
        if p.role in {"fact", "identity"} and p.fixed_values:
            parts.append(p.facts_only())
        else:
            parts.append(p.map_free(_compress))
    parts = [p for p in parts if p.text.strip()] or list(turn.parts[-1:])
    if parts:
        parts[-1] = parts[-1].map_free(lambda t: _FINAL_STOP.sub("", t))  # no full stop at the end
    return turn.with_parts(parts)


def terse(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Short replies: pleasantries dropped, facts bare, fillers squeezed out."""
    return _short_form(turn, rng) if rng.random() < level else turn


def verbosity_variation(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Very long and minimal turns, mostly minimal: the opening (and now and then a
    later turn) becomes a wall of text, the rest shrink to a word or two.

    Mostly-minimal rather than strictly alternating on purpose: verbosity CV is
    std/mean over the dialogue, and the cooperative default, which front-loads a
    long opening, already has a high one; only a few huge turns among tiny ones
    raise it further.
    """
    if rng.random() >= level:
        return turn
    long_turn = turn.act == "opening" or (not turn.stop and turn.act != "confirm" and rng.random() < 0.25)
    if not long_turn:
        return _short_form(turn, rng)
    extra = rng.sample(ELABORATIONS, k=min(len(ELABORATIONS), 2 + rng.randrange(3)))
    if turn.act == "opening":
        for sentence in reversed(extra):
            turn = _prefix_parts(turn, sentence, "elaboration")
        return turn
    for sentence in extra:
        turn = _suffix_part(turn, sentence, "elaboration")
    return turn


def hedging(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Uncertainty markers: 'I think', 'not sure', 'maybe'."""
    if rng.random() >= level:
        return turn
    act = turn.act if turn.act in HEDGES else "other"
    if act == "facts":
        return _prefix_parts(turn, _pick(rng, HEDGES["facts"]), "hedge", glue=True)
    return _prefix_parts(turn, _pick(rng, HEDGES[act]), "hedge")


def formality(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Formal register: connectives, semicolons, dashes, no contractions."""
    if rng.random() >= level:
        return turn
    if turn.act in FORMAL_CORE:
        turn = _replace_core(turn, _pick(rng, FORMAL_CORE[turn.act]))
    else:
        key = turn.act if turn.act in FORMAL else "other"
        turn = _prefix_parts(turn, FORMAL[key], "formal", glue=True)
        if turn.act == "opening":  # "Furthermore, …" before the second request sentence
            parts = list(turn.parts)
            idx = [i for i, p in enumerate(parts) if p.role == "request"]
            if len(idx) > 1:
                parts.insert(idx[1], Part.of("formal", "Furthermore,"))
                parts[idx[1] + 1] = _decap(parts[idx[1] + 1])
            turn = turn.with_parts(parts)
    return turn.with_parts([p.map_free(_expand_contractions) for p in turn.parts])


_CONTRACTIONS = [(re.compile(p, re.I), r) for p, r in [
    (r"\bI'm\b", "I am"), (r"\bdon't\b", "do not"), (r"\bcan't\b", "cannot"), (r"\bwon't\b", "will not"),
    (r"\bthat's\b", "that is"), (r"\bit's\b", "it is"), (r"\bI'd\b", "I would"), (r"\bI've\b", "I have"),
    (r"\bI'll\b", "I will"), (r"\bwasn't\b", "was not"), (r"\bisn't\b", "is not"), (r"\blet's\b", "let us"),
]]


def _expand_contractions(text: str) -> str:
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(lambda m, r=repl: r if not m.group()[0].isupper() else r[0].upper() + r[1:], text)
    return text


def pushback(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Skepticism: 'are you sure?', 'I already told you', 'why do you need that?'."""
    if turn.act == "opening" or turn.meta.get("doubt") or rng.random() >= level:
        return turn
    if ctx.repeat:
        phrase = _pick(rng, PUSHBACK["told" if ctx.told else "repeat"])
        return _prefix_parts(turn, phrase, "pushback", glue=phrase.endswith(","))
    if turn.act in ("facts", "deflect"):
        return _prefix_parts(turn, _pick(rng, PUSHBACK["ask"], label=ctx.label or "that"), "pushback")
    if turn.act == "items" and ctx.told:
        return _prefix_parts(turn, _pick(rng, PUSHBACK["told"][1:]), "pushback", glue=True)
    key = turn.act if turn.act in PUSHBACK else "other"
    return _prefix_parts(turn, _pick(rng, PUSHBACK[key]), "pushback")


def frustration(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Emotional leakage that grows with the agent's repetitions and slow progress."""
    pressure = 0.3 + 0.35 * ctx.strikes + 0.1 * (ctx.turn - 1) + (0.3 if ctx.repeat else 0.0)
    if rng.random() >= min(1.0, level * pressure):
        return turn
    if turn.act in ("opening", "confirm"):
        pool = FRUSTRATION[turn.act]
    else:
        pool = FRUSTRATION["strong" if ctx.strikes or ctx.repeat or ctx.turn >= 4 else "mild"]
    return _prefix_parts(turn, _pick(rng, pool), "emotion")


def accusatory(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Outbursts blaming the agent or company; likelier as the dialogue drags on."""
    pressure = 0.35 + 0.35 * ctx.strikes + 0.1 * (ctx.turn - 1)
    if rng.random() >= min(1.0, level * pressure):
        return turn
    key = turn.act if turn.act in ACCUSATIONS else "other"
    return _suffix_part(turn, _pick(rng, ACCUSATIONS[key]), "accusation")


def confusion(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Second-guessing: 'wait what?', 'what do you mean?', and restating pivots
    ('actually, let me put it another way: …') that re-frame but never change the goal.
    """
    if turn.act in ("goodbye", "giveup"):
        return turn
    pivot = turn.act not in ("confirm",) and rng.random() < 0.5 * level
    clarify = rng.random() < 0.6 * level
    if pivot and turn.act == "opening":
        # Nothing said yet to pivot from: re-frame before the last request sentence.
        parts = list(turn.parts)
        idx = [i for i, p in enumerate(parts) if p.role == "request"]
        if len(idx) > 1:
            parts[idx[-1]] = _decap(parts[idx[-1]])
            parts.insert(idx[-1], Part.of("pivot", _pick(rng, PIVOTS)))
            turn = turn.with_parts(parts)
    elif pivot:
        turn = _prefix_parts(turn, _pick(rng, PIVOTS), "pivot", glue=True)
    if clarify:
        key = turn.act if turn.act in CLARIFICATIONS else "other"
        turn = _prefix_parts(turn, _pick(rng, CLARIFICATIONS[key]), "clarify")
    return turn


_POLITE_WORDS = [
    (re.compile(r"\b(?:please|pls|plz|kindly),?\s*", re.I), ""),
    (re.compile(r"\s*\b(?:thank you|thanks)\b[^.!?]*[.!?]?", re.I), ""),
    (re.compile(r"\b(?:I'm |I am )?sorry,?\s*", re.I), ""),
]


def _impolite(text: str) -> str:
    for pattern, repl in _POLITE_WORDS:
        text = pattern.sub(repl, text)
    text = re.sub(r"\s{2,}", " ", text)
    return text[:1].upper() + text[1:] if text[:1].islower() and text[:2] != "i " else text


# Below 0.5 pleasantries go in this order (humans in MultiWOZ: 8% of openings thank
# or say please, 20% greet, 21% / 12% of later turns say please / thanks, 89% of
# last turns thank): service-speak first, the farewell thanks last.
SERVICE_SPEAK = {"pleasantry", "closing"}  # "Certainly." before answers, thanking in advance
FAREWELL_ROLES = {"thanks", "farewell"}  # the goodbye's thanks


def politeness(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Below 0.5: the default's pleasantries thin out — service-speak ('Certainly.',
    thanking in advance) is gone, greetings, please and thanks are dropped from a
    turn with probability 1 − 2·level, the farewell thanks with (1 − 2·level)²;
    at 0 nothing polite is left. Above 0.5: extra thanks, apologies and please are
    added (every turn at 1).
    """
    if level < 0.5:
        drop = 1.0 - 2.0 * level
        if turn.act in ("goodbye", "giveup"):
            drop *= drop
        if rng.random() < drop:
            parts = [p.map_free(_impolite) for p in turn.parts if p.role not in PLEASANTRY_ROLES]
        else:
            parts = [p for p in turn.parts if p.role not in SERVICE_SPEAK]
        turn = turn.with_parts([p for p in parts if p.text.strip()] or parts[-1:])
        return turn
    if rng.random() < 2.0 * level - 1.0:
        key = turn.act if turn.act in POLITE_ADD else "other"
        add = _prefix_parts if key == "opening" else _suffix_part
        turn = add(turn, _pick(rng, POLITE_ADD[key]), "courtesy")
    return turn


# Shorthand a phone typist uses; applied to free text only, never to facts.
_SHORTHAND = [(re.compile(p, re.I), r) for p, r in [
    (r"\bI don't know\b", "idk"), (r"\bplease\b", "pls"), (r"\bthank you\b", "ty"), (r"\bthanks\b", "thx"),
    (r"\bare you\b", "r u"), (r"\byou\b", "u"), (r"\byour\b", "ur"), (r"\bbecause\b", "bc"),
    (r"\bright now\b", "rn"), (r"\bwant to\b", "wanna"), (r"\bgoing to\b", "gonna"), (r"\bokay\b", "ok"),
    (r"\bI'm\b", "im"), (r"\bI am\b", "im"), (r"\bsomething\b", "smth"), (r"\bprobably\b", "prob"),
]]
_APOSTROPHE = re.compile(r"(\w)['’](\w)")
# Only everyday function words get typos: item names, verbs the agent reads and the
# lexicon phrases ("I think", "are you sure") stay intact.
_TYPO_WORDS = {"the", "and", "that", "with", "have", "just", "from", "about", "there", "they", "them",
               "when", "would", "could", "really", "also", "some", "like", "this", "were", "been",
               "into", "other", "again", "then", "than", "only", "still", "because", "received"}


def _typo(word: str, rng: random.Random) -> str:
    i = 1 + rng.randrange(max(1, len(word) - 2))
    kind = rng.randrange(3)
    if kind == 0 and i + 1 < len(word):  # swapped letters: "teh"
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:  # dropped letter: "wuld"
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]  # doubled letter: "thhe"


def casual_typing(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Phone typing: lowercase, shorthand (u, pls, idk), typos, no apostrophes or
    final punctuation. Fixed segments (ids, names, zip codes, e-mails) are untouched.
    """
    lower = rng.random() < level
    bare = rng.random() < level

    def retype(text: str) -> str:
        for pattern, repl in _SHORTHAND:
            text = pattern.sub(lambda m, r=repl: r if rng.random() < level else m.group(), text)
        if bare:
            text = _APOSTROPHE.sub(r"\1\2", text)
            text = re.sub(r"(?:(?<=\w)|^)[.!]+(?=\s|$)", "", text)
        text = re.sub(r"[A-Za-z]+", lambda m: _typo(m.group(), rng)
                      if m.group().lower() in _TYPO_WORDS and rng.random() < 0.3 * level else m.group(), text)
        return text.lower() if lower else text

    return turn.with_parts([p.map_free(retype) for p in turn.parts])


def impatience(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Surface of impatience: curt give-ups and the odd 'can we speed this up?'.
    (When to give up is a dialogue decision: :meth:`.users.OfflineUser._impatient`.)
    """
    if turn.act == "giveup":
        return _replace_core(turn, _pick(rng, IMPATIENT_GIVEUP))
    if turn.act not in ("opening", "goodbye") and rng.random() < 0.4 * level * (1 + ctx.strikes):
        return _suffix_part(turn, _pick(rng, URGENCY), "urgency")
    return turn


DIGRESSION_RATE = 0.35  # share of messages with a side remark at full intensity


def digression_line(rng: random.Random, domain: str) -> str:
    """One side remark or off-topic question for ``domain`` (see :data:`DIGRESSIONS`)."""
    return _pick(rng, digression_pool(domain))


def digression_pool(domain: str) -> list[str]:
    return DIGRESSIONS.get(domain, []) + DIGRESSIONS["any"]


def digression(turn: Turn, level: float, rng: random.Random, ctx: Context) -> Turn:
    """Topic changes: a side remark or an off-topic question, then back to the task.

    The remark comes before the content with a way back ("Anyway, my zip code is …")
    or after it; the content itself is untouched, so facts and the goal never
    change. Openings and farewells stay on topic (whole off-topic messages are a
    dialogue decision: :meth:`.user.OfflineUser._digress`).
    """
    if turn.act in ("opening", "goodbye", "giveup", "digress") or rng.random() >= DIGRESSION_RATE * level:
        return turn
    remark = ctx.tangent or digression_line(rng, ctx.domain)
    if turn.act == "confirm" or rng.random() < 0.5:  # the answer first, then the tangent
        return _suffix_part(turn, remark, "digression")
    back = _pick(rng, BACK_ON_TASK)
    turn = _prefix_parts(turn, back, "back", glue=back.endswith(","))
    return _prefix_parts(turn, remark, "digression")


Transform = Callable[[Turn, float, random.Random, Context], Turn]

# Order matters: wording first (terse, variation), then added phrases, politeness
# after the additions (so "0" also strips anything polite they brought), typing last
# (a phone typist mistypes whatever they say).
PIPELINE: list[tuple[str, Transform]] = [
    ("terse", terse),
    ("verbosity_variation", verbosity_variation),
    ("formality", formality),
    ("hedging", hedging),
    ("confusion", confusion),
    ("pushback", pushback),
    ("frustration", frustration),
    ("accusatory", accusatory),
    ("impatience", impatience),
    ("digression", digression),
    ("politeness", politeness),
    ("casual_typing", casual_typing),
]


def realise(turn: Turn, profile: Profile, rngs: Rngs, ctx: Context) -> Turn:
    """Run every active transform over ``turn`` (see :data:`PIPELINE`)."""
    original = turn
    for name, transform in PIPELINE:
        if name in profile and (profile[name] > 0 or name == "politeness"):
            turn = transform(turn, profile[name], rngs[name], ctx)
    if turn.act == "confirm" and not confirms(turn.render()):
        # Whatever the persona added must not turn consent into refusal.
        turn = original
    if not turn.render().strip():
        turn = original  # a message is never empty
    return turn


# --- content helpers: ambiguity, gating, bursty -----------------------------------------

# Everyday product and trip nouns (the customer's vocabulary, not task data).
_HEADS = ("camera|purifier|backpack|bicycle|bike|speaker|bookshelf|maker|helmet|lamp|e-reader|reader|"
          "kettle|toothbrush|machine|jacket|mouse|hose|grill|headphones?|boots?|puzzle|jigsaw|bulbs?|"
          "laptop|kit|keyboard|notebook|chair|umbrella|bed|perfume|charger|shoes?|skateboard|thermostat|"
          "watch|smartphone|sneakers?|sunglasses|t-?shirts?|shirts?|tablet|cleaner|vacuum|clock|"
          "bottle|earbuds?|wristwatch|mat|set|luggage|reservations?|flights?|booking|trip|tickets?")
_MODIFIERS = ("action|air|bluetooth|coffee|cycling|desk|digital|dumbbell|electric|espresso|fleece|gaming|"
              "garden|hiking|indoor|security|led|light|luggage|makeup|office|patio|pet|portable|running|"
              "smart|tea|vacuum|wall|water|wireless|yoga|mechanical|jigsaw|recent|upcoming|return|"
              "round[- ]trip|one[- ]way|new|old")
# Only determiner-led mentions: "the water bottle", not the modifier in "tshirt options".
_MENTION = re.compile(
    rf"\b(?:the|my|a|an|this|that|these|those)\s+(?P<item>(?:(?:{_MODIFIERS})\s+)*(?:{_HEADS}))\b",
    re.I)


# (first mention, later mentions) of the 1st, 2nd, 3rd+ item; vagueness is hedged
# speech, so the first reference carries "kind of" / "sort of".
_VAGUE = [("the kind of thing I {verb}", "the first one"), ("the other sort of thing", "the other one"),
          ("another thing", "that one")]


def vague_mentions(part: Part, level: float, rng: random.Random, domain: str, state: dict) -> Part:
    """Replace item mentions ('the water bottle') with vague references ('the thing
    I ordered'), each with probability ``level``. ``state`` remembers which item got
    which reference, so a second mention of the same item stays consistent.
    """
    verb = domain_entry(domain).offline.item_verb
    seen: dict = state.setdefault("seen", {})

    def vague(m: re.Match) -> str:
        key = m.group("item").lower()
        if key not in seen and rng.random() >= level:
            return m.group()
        state["n"] = state.get("n", 0) + 1
        first_time = key not in seen
        index = seen.setdefault(key, len(seen))
        first, again = _VAGUE[min(index, len(_VAGUE) - 1)]
        return (first if first_time else again).format(verb=verb)

    return part.map_free(lambda t: _MENTION.sub(vague, t))


def strip_identifiers(part: Part, facts: set[str]) -> Part:
    """Drop fact values from a sentence ('my order #W1 and …' -> 'my order and …')."""
    kept = [s for s in part.segments if not (s.fixed and (s.text in facts or re.search(r"[\d_@#]", s.text)))]
    text = "".join(s.text for s in kept)
    if len(kept) == len(part.segments):
        return part
    text = re.sub(r"\s+([,.!?])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()
    # What the removed values leave dangling: '(X and )', '()', 'IDs and.'
    text = re.sub(r"\s*\(\s*(?:(?:and|or)\s*)?\)", "", text)
    text = re.sub(r"\s+(?:and|or)\s*(?=[).,!?]|$)", "", text)
    text = re.sub(r"\(\s*(?:and|or)\s+", "(", text)
    return Part.of(part.role, text, [s.text for s in kept if s.fixed])


_CLAUSE_BREAK = re.compile(r",\s+|\s+(?=(?:and|but|because|so|which|since)\s)")
# Weaker places to cut a long clause: before a preposition or a relative word.
# ("to", "from", "in" are left out: they bind too tightly — "I want / to return",
# "from LAS / to DEN".)
_PHRASE_BREAK = re.compile(r"\s+(?=(?:for|with|that|who|where|when|if|on|after|before|instead)\s)")

_INTENT = re.compile(r"\b(?:want|wish|need|would like|'d like|like|trying|hoping|looking)\s+to\s+\w+", re.I)
GIST_WORDS = (5, 14)  # a gist is 5..14 words (human openings: median 12, see docs/)
DETAIL_WORDS = 12  # later pieces of the request are at most this long where a cut allows


def _cuts(part: Part, pattern: re.Pattern) -> list[tuple[int, int]]:
    """(start, end) of every match of ``pattern`` in the part's text outside fixed segments."""
    fixed, pos = [], 0
    for seg in part.segments:
        if seg.fixed:
            fixed.append((pos, pos + len(seg.text)))
        pos += len(seg.text)
    return [(m.start(), m.end()) for m in pattern.finditer(part.text)
            if not any(a < m.end() and m.start() < b for a, b in fixed)]


def _sub_part(part: Part, text: str) -> Part:
    """A piece of ``part`` typed as a message of its own: capitalised, with a full stop."""
    text = text.strip().strip(",;:").strip()
    if text.count("(") != text.count(")"):  # a cut inside brackets: drop the stray one
        text = text.replace("(", "") if text.count("(") > text.count(")") else text.replace(")", "")
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    if text and text[-1].isalnum():
        text += "."
    return Part.of(part.role, text, [v for v in part.fixed_values if v in text])


def _words(text: str) -> int:
    return len(text.split())


def split_gist(part: Part, words: tuple[int, int] = GIST_WORDS) -> tuple[Part, list[Part]]:
    """The gist of a request sentence and the rest of it, in pieces.

    'I received my order and wish to exchange the mechanical keyboard for a similar
    one but with clicky switches and …' -> ('I received my order and wish to exchange
    the mechanical keyboard', ['for a similar one but with clicky switches', …]).
    The gist ends at the first clause break that leaves it at least ``words[0]``
    words long and past the first "want to <verb>" (when that comes early enough);
    a longer one is cut again before a preposition, at most ``words[1]`` words in. Cuts never fall inside a fixed segment; a sentence with no good cut is
    all gist.
    """
    text = part.text
    lo, hi = words
    intent = _INTENT.search(text)
    if intent and _words(text[:intent.end()]) < hi:  # the gist says what is wanted, verb and object
        lo = max(lo, _words(text[:intent.end()]) + 1)
    end = None
    for start, _stop in _cuts(part, _CLAUSE_BREAK):
        if _words(text[:start]) >= lo:
            end = start
            break
    if end is None or _words(text[:end]) > hi:
        soft = [a for a, _ in _cuts(part, _PHRASE_BREAK) if lo <= _words(text[:a]) <= hi]
        if soft:
            end = soft[-1]
    if end is None or _words(text[end:]) < 3:
        return part, []
    return _sub_part(part, text[:end]), detail_pieces(_sub_part(part, text[end:]))


def detail_pieces(part: Part, max_words: int = DETAIL_WORDS) -> list[Part]:
    """A request sentence cut at clause breaks into pieces of at most ``max_words``
    words where possible (pieces under four words join their neighbour)."""
    text = part.text
    bounds, last = [], 0
    for start, stop in _cuts(part, _CLAUSE_BREAK):
        bounds.append(text[last:start])
        last = start if text[start:stop].strip() else stop  # keep 'and …', drop ', '
    bounds.append(text[last:])
    pieces: list[str] = []
    for chunk in (b.strip() for b in bounds):
        if not chunk:
            continue
        if pieces and (_words(chunk) < 4 or _words(pieces[-1]) < 4
                       or _words(pieces[-1]) + _words(chunk) <= max_words):
            pieces[-1] = f"{pieces[-1]} {chunk}" if not chunk.startswith(",") else pieces[-1] + chunk
        else:
            pieces.append(chunk)
    return [_sub_part(part, p) for p in pieces if p.strip(" ,.")]



def fragments(turn: Turn, max_words: int = 6) -> list[tuple[str, str]]:
    """A message cut into the short pieces a bursty typist sends one by one.

    Each part is one piece; parts longer than ``max_words`` are cut at clause
    boundaries (commas, 'and', 'but', …), never inside a fixed segment, and pieces
    shorter than three words are glued back to their neighbour.
    """
    pieces: list[tuple[str, str]] = []  # (text, role of the part it came from)
    for part in turn.parts:
        text = part.text
        if not text.strip():
            continue
        if len(text.split()) <= max_words:
            pieces.append((text.strip(), part.role))
            continue
        fixed, pos = [], 0
        for seg in part.segments:
            if seg.fixed:
                fixed.append((pos, pos + len(seg.text)))
            pos += len(seg.text)
        cuts = [m for m in _CLAUSE_BREAK.finditer(text)
                if not any(a < m.end() and m.start() < b for a, b in fixed)]
        chunks, last = [], 0
        for m in cuts:
            chunks.append(text[last:m.start()])
            last = m.end()
        chunks.append(text[last:])
        merged: list[str] = []
        for chunk in (c.strip() for c in chunks):
            if merged and (len(chunk.split()) < 3 or len(merged[-1].split()) < 3):
                merged[-1] = f"{merged[-1]} {chunk}"
            elif chunk:
                merged.append(chunk)
        pieces += [(m, part.role) for m in merged]
    return pieces
