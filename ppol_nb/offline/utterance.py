"""The content plan of one offline-user message, and how it becomes text.

The offline user first decides *what* to say (:class:`Turn`: an act such as
"facts" or "confirm", and an ordered list of :class:`Part` s such as a greeting,
a request sentence, a fact sentence), then persona behaviours rewrite *how* it is
said (:mod:`.behaviours`), and :meth:`Turn.render` joins the parts with single
spaces — exactly the joining the cooperative default always used, so an
unmodified plan renders to the default user's text byte for byte.

Facts must survive every rewrite: the offline agent matches them token-exactly
(:func:`.scenario.heard`), and changing an id or a name would make the user say
something it was never told. So each part is a list of :class:`Segment` s and the
*fixed* ones — fact values, anything identifier-like, proper names — are never
touched by a transform; transforms only see the free text between them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

# Identifier-like spans in free text: e-mails, tokens with a digit, '_' or '#'
# (order ids, user ids, zip codes, dates, prices), and words with an inner capital
# (airport codes "PHL", brands "HomeKit").
_IDENTIFIER_LIKE = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|#?[\w-]*[\d_#][\w-]*"
    r"|\b[A-Za-z]+[A-Z][\w-]*\b"
)
# Capitalised words that do not start a sentence are names or brands ("Google
# Home", "Texas", "T-Shirt"): kept as typed. "I" is not a name.
_CAPITALISED = re.compile(r"\b[A-Z][\w-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\n)$")

STOP, TRANSFER = "###STOP###", "###TRANSFER###"
LINE_ROLES = frozenset({"detail"})  # parts typed on a line of their own (see Turn.render)


@dataclass(frozen=True)
class Segment:
    """A run of text; ``fixed`` runs (facts, identifiers, names) are never rewritten."""

    text: str
    fixed: bool = False


@dataclass(frozen=True)
class Part:
    """One unit of a message with a role: 'greeting', 'request', 'fact', 'answer', …

    Roles let behaviours act on meaning ("drop the pleasantries", "keep only the
    facts") without parsing text again.
    """

    role: str
    segments: tuple[Segment, ...]

    @classmethod
    def of(cls, role: str, text: str, protect: Iterable[str] = ()) -> Part:
        """Split ``text`` into free and fixed segments (see module docstring)."""
        return cls(role, tuple(protected_segments(text, protect)))

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)

    @property
    def fixed_values(self) -> list[str]:
        return [s.text for s in self.segments if s.fixed]

    def map_free(self, fn: Callable[[str], str]) -> Part:
        """Apply ``fn`` to every free segment; fixed ones pass through unchanged."""
        return replace(self, segments=tuple(s if s.fixed else Segment(fn(s.text)) for s in self.segments))

    def facts_only(self) -> Part:
        """Just the fixed values, space-separated: 'My zip code is 19122.' -> '19122'."""
        values = self.fixed_values
        if not values:
            return self
        segs: list[Segment] = []
        for i, v in enumerate(values):
            if i:
                segs.append(Segment(" "))
            segs.append(Segment(v, fixed=True))
        return replace(self, segments=tuple(segs))


@dataclass
class Turn:
    """The content plan of one user message.

    ``act`` is what the message does in the dialogue ("opening", "facts", "confirm",
    "items", "nudge", "goodbye", "giveup", "deflect"); ``labels`` are the fact labels
    it answers; ``stop`` appends ``###STOP###``; ``meta`` carries notes from the plan
    to the transforms (``doubt``: the message is itself a skeptical question).
    """

    act: str
    parts: list[Part]
    labels: tuple[str, ...] = ()
    stop: bool = False
    meta: dict = field(default_factory=dict)

    def render(self) -> str:
        """Parts joined by single spaces (the default user's joining), then the stop token.

        A part whose role is in :data:`LINE_ROLES` starts a new line, as a chat user
        presses enter before adding something new; the default user has none.
        """
        text = ""
        for part in self.parts:
            t = part.text.strip()
            if t:
                sep = "\n" if part.role in LINE_ROLES else " "
                text = f"{text}{sep}{t}" if text else t
        if self.stop:
            text = f"{text} {STOP}" if text else STOP
        return text

    def with_parts(self, parts: list[Part]) -> Turn:
        return replace(self, parts=list(parts), meta=dict(self.meta))


def protected_segments(text: str, protect: Iterable[str] = ()) -> list[Segment]:
    """Segments of ``text`` with every protected span marked fixed.

    Protected spans are the given values (facts) wherever they occur literally, and
    identifier-like or capitalised-name spans found by regex. Overlaps merge.
    """
    spans: list[tuple[int, int]] = []
    for value in protect:
        if value:
            spans += [(m.start(), m.end()) for m in re.finditer(re.escape(value), text)]
    spans += [(m.start(), m.end()) for m in _IDENTIFIER_LIKE.finditer(text) if m.group().strip("-.")]
    spans += [(m.start(), m.end()) for m in _CAPITALISED.finditer(text)
              if m.group() != "I" and not _SENTENCE_START.search(text[: m.start()])]
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    segs, pos = [], 0
    for start, end in merged:
        if start > pos:
            segs.append(Segment(text[pos:start]))
        segs.append(Segment(text[start:end], fixed=True))
        pos = end
    if pos < len(text):
        segs.append(Segment(text[pos:]))
    return segs
