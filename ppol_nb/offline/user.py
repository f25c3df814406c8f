"""The embedded offline user: a deterministic stand-in for the τ² LLM user simulator.

It knows only its scenario (reason for call, known info, unknown info, task
instructions) and which of those facts the task needs (:mod:`.scenario`). It never
says a fact it does not hold, says so when asked for something in ``unknown_info``,
and ends with ``###STOP###`` when the agent is done or it gives up.

Each message is made in two steps:

1. **content plan** (:class:`.utterance.Turn`) — the dialogue logic in
   :meth:`OfflineUser.reply` decides what this message does (open, answer facts,
   confirm, clarify items, nudge, say goodbye) and which facts and request
   sentences it carries;
2. **surface realisation** — the plan is rendered to text, through the persona's
   style transforms when it has any (:func:`.behaviours.realise`).

*How* the default user talks comes from a :class:`UserStyle`: polished full
sentences, the whole request and every identifier in the opening message, polite,
thankful — the cooperative LLM simulator the PPol paper criticises. A persona's
``behaviour`` profile (:data:`ppol_nb.offline.vocabulary.BEHAVIOURS` name -> intensity)
changes both steps: withholding (a gist opening, then the request's details a
piece per message, facts only when asked), selective attention, vague
references, bursty delivery, impatience and tangents at the end act on the plan;
the other behaviours rewrite its wording.
With no behaviour the user is exactly the cooperative default (same text, same
random draws).
"""

from __future__ import annotations

import random
import re
import time
import zlib
from dataclasses import dataclass, field

from . import behaviours as bh
from ..simulation.scenario import LABEL_CUES, Fact, TaskScenario, first_person, heard, request_sentences
from ..simulation.tau2_bridge import tau2_modules
from .utterance import STOP, TRANSFER, Part, Turn

_CONFIRM_CUE = re.compile(r"\b(confirm|proceed|go ahead|shall i|should i|yes or no|\(yes/no\))\b", re.I)
_DONE_CUE = re.compile(r"anything else", re.I)
_TRANSFER_CUE = re.compile(r"transferr?(ed|ing) (you )?to a human|human agent", re.I)
_ITEM_CUE = re.compile(r"\bwhich (item|product|one|order|flight|trip|reservation)s?\b", re.I)
# The agent asking again for something it already asked for.
_REPEAT_CUE = re.compile(r"double-check|explicit yes or no|could not find", re.I)


_REQUEST_CUE = re.compile(r"\b(provide|what|could you|can you|tell|share|give|double-check|verify|need)\b", re.I)


def _questions(agent_text: str) -> list[str]:
    """Sentences of an agent message that ask the user for something."""
    return [s for s in re.split(r"(?<=[.!?])\s+", agent_text) if s.rstrip().endswith("?")]


@dataclass(frozen=True)
class UserStyle:
    """How the offline user communicates. Defaults = the cooperative LLM simulator."""

    up_front: bool = True  # whole request + identifiers in the first message
    polite: bool = True  # greetings, please / thank you
    patience: int = 3  # agent turns without progress before the user gives up
    max_turns: int = 25  # hard cap on user messages


@dataclass
class _Pending:
    """The rest of a burst: fragments typed but not yet sent."""

    texts: list[str]
    labels: set[str]  # fact labels the fragments carry
    request: bool  # they carry request sentences


@dataclass
class _UserMemory:
    turns: int = 0
    unproductive: int = 0
    told: set = field(default_factory=set)  # labels whose value has appeared in a user message
    # Persona bookkeeping (unused by the cooperative default):
    strikes: int = 0  # agent re-asks and unproductive agent turns
    repeat: bool = False  # the current agent message repeats an earlier ask
    last_agent: str = ""
    asked_before: set = field(default_factory=set)  # labels the agent has asked for
    items_asked: int = 0
    request_said: bool = False  # the whole request has been said in plain words
    pending: _Pending | None = None
    details: list = field(default_factory=list)  # request pieces a withholding user has not said yet
    tangents: list | None = None  # side remarks in the order a digressing user makes them
    told_tangents: set = field(default_factory=set)
    digressed_at_end: bool = False  # already went off on a tangent instead of saying goodbye


def _seeded_rng(seed: int | None, task_id: str) -> random.Random:
    # zlib.crc32, not hash(): stable across processes regardless of PYTHONHASHSEED.
    return random.Random(((seed or 0) * 1_000_003) ^ zlib.crc32(task_id.encode()))


_m = tau2_modules()


class OfflineUser(_m.BaseUser):
    """Offline user for one episode; a real tau2 ``BaseUser``.

    ``behaviour`` is a persona's offline profile (behaviour name -> intensity in
    [0, 1]); None or ``{}`` gives the cooperative default.
    """

    def __init__(self, scenario: TaskScenario, style: UserStyle | None = None, seed: int | None = None,
                 ledger=None, behaviour: dict[str, float] | None = None):
        super().__init__(instructions=scenario.scenario_text, llm="offline-user")
        self.scenario = scenario
        self.style = style or UserStyle()
        self.ledger = ledger
        self.profile = bh.Profile.of(behaviour)
        self.memory = _UserMemory()
        self.set_seed(seed)

    # -- tau2 BaseUser interface ------------------------------------------------
    def get_init_state(self, message_history=None):
        return _m.UserState(system_messages=[], messages=list(message_history or []))

    def set_seed(self, seed: int | None):
        self.seed = seed
        self.rng = _seeded_rng(seed, self.scenario.task_id)  # the default user's own draws
        self.rngs = bh.Rngs(seed, self.scenario.task_id)  # one stream per persona behaviour

    def stop(self, message=None, state=None):
        pass

    @classmethod
    def is_stop(cls, message) -> bool:
        return _m.UserSimulator.is_stop(message)

    def generate_next_message(self, message, state):
        t0 = time.perf_counter()
        if isinstance(message, _m.messages.MultiToolMessage):
            state.messages.extend(message.tool_messages)
        else:
            state.messages.append(message)
        text = self.reply(getattr(message, "content", None) or "")
        out = _m.messages.UserMessage(role="user", content=text, cost=0.0)
        state.messages.append(out)
        if self.ledger is not None:
            self.ledger.record(
                role="user", model="offline-user", backend="offline",
                latency_s=time.perf_counter() - t0,
            )
        return out, state

    # -- dialogue logic ---------------------------------------------------------
    def reply(self, agent_text: str) -> str:
        mem = self.memory
        mem.turns += 1
        if mem.turns == 1:
            return self.opening()
        if mem.turns >= self.style.max_turns:
            return self.goodbye(satisfied=False)
        if _TRANSFER_CUE.search(agent_text):
            return TRANSFER
        questions = _questions(agent_text)
        asked = self._asked(questions)
        confirm = any(_CONFIRM_CUE.search(q) for q in questions)
        if self.profile.active:
            early, asked = self._persona_decisions(agent_text, questions, asked, confirm)
            if early is not None:
                return early
        if asked:
            mem.unproductive = 0
            return self.answer_facts(asked)
        if confirm:
            mem.unproductive = 0
            return self.realise(self._polished_turn("confirm", [Part.of("answer", "Yes, please go ahead.")]))
        if _DONE_CUE.search(agent_text):
            return self.goodbye(satisfied=True)
        if _ITEM_CUE.search(agent_text):
            mem.unproductive = 0
            return self.clarify_items()
        mem.unproductive += 1
        if self.profile.active:
            mem.strikes += 1
        if mem.unproductive >= self._patience():
            return self.goodbye(satisfied=False)
        filler = self.rng.choice(["Okay.", "I see.", "Alright."])
        return self.realise(self._polished_turn("nudge", [Part.of("filler", filler), *self._nudge_parts()]))

    def _asked(self, questions: list[str]) -> list[str]:
        """Fact labels the agent's questions ask for (in cue order)."""
        return [label for label, cue in self._cues().items()
                if any(re.search(cue, q, re.I) and _REQUEST_CUE.search(q) for q in questions)]

    def _cues(self) -> dict[str, str]:
        # Known cues, plus the label of every fact held ("passengers", "cabin", …).
        return {**LABEL_CUES, **{f.label: rf"\b{re.escape(f.label)}\b" for f in self.scenario.facts}}

    def request(self) -> list[str]:
        return request_sentences(self.scenario.reason_for_call)

    def identity(self) -> list[str]:
        return request_sentences(self.scenario.known_info)

    def _fact_values(self) -> list[str]:
        return [f.value for f in self.scenario.facts]

    # -- content plans ----------------------------------------------------------
    def opening(self) -> str:
        return self.realise(self.plan_opening())

    def plan_opening(self) -> Turn:
        """Greeting, the request, (up front) the identity, thanks."""
        request = self.request()
        gated = self.profile.active and self.rngs.chance("gating", self.profile["gating"])
        if self.style.up_front and not gated:
            sentences = [("request", s) for s in request] + [("identity", s) for s in self.identity()]
        else:
            sentences = [("request", s) for s in request[:1]]
        greeting = self.rng.choice(["Hello!", "Hi there!", "Hi,"]) if self.style.polite else ""
        closing = "Thank you for your help." if self.style.polite else ""
        facts = self._fact_values()
        body = [Part.of(role, s, facts) for role, s in sentences]
        if gated:  # "do not give order numbers in the first message"
            body = [bh.strip_identifiers(p, set(facts)) for p in body]
            body = self._gist(body, request[1:], set(facts))
        body, vague = self._vague(body)
        self.memory.request_said = not gated and not vague and len(request) == len(
            [r for r, _ in sentences if r == "request"])
        parts = ([Part.of("greeting", greeting)] if greeting else []) + body
        parts += [Part.of("closing", closing)] if closing else []
        return Turn("opening", parts)

    def _gist(self, body: list[Part], later: list[str], facts: set[str]) -> list[Part]:
        """A withholding user opens with the gist of the request only; the rest of it
        waits in ``memory.details`` and comes out a piece per message (:meth:`_add_detail`).

        Human openings are short (MultiWOZ: median 12 words) and people add details
        as the conversation goes on; the default says everything at once.
        """
        if not body:
            return body
        head, rest = bh.split_gist(body[0])
        for sentence in later:
            # A customer does not speak of "the agent" in the third person: such
            # sentences are the simulator's instructions ("do not reveal it to the
            # agent"), never volunteered (clarify_items still has the full request).
            if not re.search(r"\bagent\b", sentence, re.I):
                rest += bh.detail_pieces(bh.strip_identifiers(Part.of("request", sentence, facts), facts))
        self.memory.details = [p for p in rest if not re.search(r"\bagent\b", p.text, re.I)]
        return [head, *body[1:]]

    def _add_detail(self, turn: Turn) -> Turn:
        """The next untold piece of the request, after this message's answer."""
        mem = self.memory
        if not mem.details or turn.act not in ("facts", "nudge", "deflect"):
            return turn
        if not self.rngs.chance("gating", self.profile["gating"]):
            return turn
        piece, _ = self._vague([mem.details.pop(0)])
        if not mem.details:
            mem.request_said = True
        return turn.with_parts([*turn.parts, *(Part("detail", p.segments) for p in piece)])

    def nudge(self) -> str:
        return " ".join(p.text for p in self._nudge_parts())

    def _nudge_parts(self) -> list[Part]:
        parts = self.request()
        if not parts:
            return [Part.of("nudge", "Could you help me?")]
        body, _ = self._vague([Part.of("request", parts[0], self._fact_values())])
        return [Part.of("nudge", "Could you help me with my request?"), *body]

    def answer_facts(self, labels: list[str]) -> str:
        return self.realise(self.plan_facts(labels))

    def plan_facts(self, labels: list[str]) -> Turn:
        """One sentence per asked label: the value held, or 'I don't remember'."""
        held: dict[str, list[Fact]] = {}
        for f in self.scenario.facts:
            held.setdefault(f.label, []).append(f)
        unknown = self.scenario.unknown_labels()
        parts = []
        for label in labels:
            if label in held:
                values = list(dict.fromkeys(f.value for f in held[label]))
                value = " ".join(values)
                verb = "are" if label.endswith("s") else "is"
                parts.append(Part.of("fact", f"My {label} {verb} {value}.", [value, *values]))
            elif label in unknown:
                parts.append(Part.of("unknown", f"I'm sorry, I don't remember my {label}."))
        if not parts:
            # Asked for something the scenario does not give: say so, never invent.
            parts.append(Part.of("unknown", "I'm afraid I don't have that information."))
        return self._polished_turn("facts", parts, labels=tuple(labels))

    def clarify_items(self) -> str:
        """Answer 'which item(s)?': the request in plain words (never vague here)."""
        parts = [Part.of("request", s, self._fact_values()) for s in self.request()]
        turn = self._polished_turn("items", parts or [Part.of("answer", "It is the one I mentioned.")])
        text = self.realise(turn)
        self.memory.request_said = True
        self.memory.details = []  # the whole request has now been said
        return text

    def goodbye(self, satisfied: bool) -> str:
        return self.realise(self.plan_goodbye(satisfied))

    def plan_goodbye(self, satisfied: bool) -> Turn:
        polite = self.style.polite
        if satisfied:
            if polite:
                parts = [Part.of("answer", "No, that's everything."),
                         Part.of("thanks", "Thank you so much for your help!")]
            else:
                parts = [Part.of("answer", "No.")]
            return Turn("goodbye", parts, stop=True)
        if polite:
            parts = [Part.of("giveup", "I don't think this is going anywhere."), Part.of("farewell", "Goodbye.")]
        else:
            parts = [Part.of("giveup", "Forget it.")]
        return Turn("giveup", parts, stop=True)

    def polish(self, text: str) -> str:
        return " ".join(p.text for p in self._polished([Part.of("answer", text)]))

    def _polished(self, parts: list[Part]) -> list[Part]:
        """The default's courtesy opener ('Sure.', 'Of course.') before an answer."""
        if self.style.polite and not parts[0].text.lower().startswith(("thank", "i'm sorry")):
            prefix = self.rng.choice(["Sure. ", "Of course. ", "Certainly. ", ""]).strip()
            if prefix:
                return [Part.of("pleasantry", prefix), *parts]
        return parts

    def _polished_turn(self, act: str, parts: list[Part], labels: tuple = ()) -> Turn:
        return Turn(act, self._polished(parts), labels=labels)

    # -- realisation ------------------------------------------------------------
    def realise(self, turn: Turn) -> str:
        """Plan -> text: rendered as is by default, through the persona's transforms
        (and bursty delivery) when it has a behaviour profile."""
        if not self.profile.active:
            text = turn.render()
        else:
            turn = self._add_detail(turn)
            ctx = self._context(turn)
            turn = bh.realise(turn, self.profile, self.rngs, ctx)
            if ctx.tangent and any(p.role == "digression" for p in turn.parts):
                self.memory.told_tangents.add(ctx.tangent)
            text = self._deliver(turn)
        self._remember(text)
        return text

    def _context(self, turn: Turn) -> bh.Context:
        mem = self.memory
        if turn.act == "items":
            told = mem.request_said
        else:
            told = bool(turn.labels) and set(turn.labels) <= mem.told
        return bh.Context(act=turn.act, turn=mem.turns, strikes=mem.strikes, repeat=mem.repeat, told=told,
                          domain=self.scenario.domain, label=turn.labels[0] if turn.labels else "",
                          tangent=self._next_tangent())

    def _next_tangent(self) -> str:
        """The next side remark not yet made (a person does not repeat a tangent)."""
        if not self.profile["digression"]:
            return ""
        mem = self.memory
        if mem.tangents is None:  # shuffled once per episode, on first need
            mem.tangents = bh.digression_pool(self.scenario.domain)
            self.rngs["digression"].shuffle(mem.tangents)
        told = mem.told_tangents
        return next((t for t in mem.tangents if t not in told), "")

    def _remember(self, text: str) -> None:
        for f in self.scenario.facts:
            if f.label not in self.memory.told and heard(f.value, [text]):
                self.memory.told.add(f.label)

    # -- persona decisions (only reached with a behaviour profile) --------------
    def _persona_decisions(self, agent_text: str, questions: list[str], asked: list[str],
                           confirm: bool) -> tuple[str | None, list[str]]:
        """The content-level behaviours, before the default logic answers.

        Returns a message when the persona answers differently (gives up, sends the
        rest of a burst, stalls), else ``None`` and the fact labels it will answer
        (selective attention and gating narrow them).
        """
        mem = self.memory
        intent = ("facts" if asked else "confirm" if confirm else "done" if _DONE_CUE.search(agent_text)
                  else "items" if _ITEM_CUE.search(agent_text) else "none")
        # A re-ask that the rest of a burst answers is no fault of the agent's.
        continuing = self._burst_answers(intent, asked)
        self._observe(agent_text, intent, excused=continuing)
        if intent != "done" and self._impatient():
            return self.goodbye(satisfied=False), asked
        pending, mem.pending = mem.pending, None
        if continuing:
            return self._send_rest(pending, intent), asked
        if intent == "done" and self._digress():
            return self.realise(Turn("digress", [Part.of("digression", self._digression_line())])), asked
        if asked:
            asked = self._select(asked, questions)
            withheld = self._withhold(asked)
            if withheld is not None:
                mem.unproductive = 0
                return self.realise(withheld), asked
        return None, asked

    def _digress(self) -> bool:
        """When the agent asks "anything else?", a user prone to tangents may bring up
        something unrelated first (once): a whole off-topic message, which the agent
        answers with the same question, so the task is unaffected."""
        level = self.profile["digression"]
        if not level or self.memory.digressed_at_end:
            return False
        self.memory.digressed_at_end = True
        return self.rngs.chance("digression", 0.5 * level)

    def _digression_line(self) -> str:
        return self._next_tangent() or bh.digression_line(self.rngs["digression"], self.scenario.domain)

    def _observe(self, agent_text: str, intent: str, excused: bool = False) -> None:
        """Track the agent repeating itself: the pressure behind frustration,
        pushback ('I already told you') and impatience."""
        mem = self.memory
        repeat = not excused and (bool(_REPEAT_CUE.search(agent_text)) or agent_text == mem.last_agent or (
            intent == "items" and mem.items_asked > 0))
        mem.repeat = repeat
        mem.strikes += int(repeat)
        mem.items_asked += int(intent == "items")
        mem.last_agent = agent_text

    def _patience(self) -> int:
        """Unproductive agent turns tolerated: the style's, down to 1 at full impatience."""
        i = self.profile["impatience"]
        return max(1, round(self.style.patience - i * (self.style.patience - 1)))

    def _impatient(self) -> bool:
        """An impatient user leaves when the agent keeps repeating itself or the
        conversation runs past its (shrinking) budget of messages."""
        i = self.profile["impatience"]
        if not i:
            return False
        budget = round(self.style.max_turns - i * (self.style.max_turns - 3))
        return self.memory.turns > budget or self.memory.strikes >= self._patience()

    def _select(self, asked: list[str], questions: list[str]) -> list[str]:
        """Selective attention answers only the last thing asked; gating only the first."""
        if len(asked) < 2:
            return asked
        text = " ".join(questions)
        cues = self._cues()
        ordered = sorted(asked, key=lambda lbl: m.start() if (m := re.search(cues[lbl], text, re.I)) else 0)
        if self.rngs.chance("selective_attention", self.profile["selective_attention"]):
            return ordered[-1:]
        if self.rngs.chance("gating", self.profile["gating"]):
            return ordered[:1]
        return asked

    def _withhold(self, labels: list[str]) -> Turn | None:
        """A gating user sometimes stalls instead of answering (a quarter of the asks
        at full intensity, on top of answering one fact per message); a strongly
        skeptical one questions a first request before answering it.

        Stalling costs the agent an ask (it gives up after ``max_asks``), so heavy
        gating can make a task fail — as withholding users do with real agents.
        """
        mem = self.memory
        # Doubting "why do you need that?" fits a first request, not one for something already said.
        fresh = [lbl for lbl in labels if lbl not in mem.asked_before and lbl not in mem.told]
        mem.asked_before.update(labels)
        gate = self.rngs.chance("gating", max(0.0, self.profile["gating"] - 0.5) * 0.5)
        doubt = bool(fresh) and self.rngs.chance("pushback", max(0.0, self.profile["pushback"] - 0.6))
        if not (gate or doubt):
            return None
        if gate:
            text = self.rngs["gating"].choice(bh.DEFLECTIONS)
        else:  # the question itself is the reply; the pushback transform adds nothing more
            text = self.rngs["pushback"].choice(bh.PUSHBACK["ask"]).format(label=labels[0])
        return Turn("deflect", [Part.of("deflect", text)], labels=tuple(labels), meta={"doubt": not gate})

    def _vague(self, parts: list[Part]) -> tuple[list[Part], bool]:
        """Ambiguity: item mentions in request sentences become 'the thing I ordered'
        until the agent asks which item (see :meth:`clarify_items`)."""
        level = self.profile["ambiguity"]
        if not level or self.memory.items_asked:
            return parts, False
        state: dict = {}
        out = [bh.vague_mentions(p, level, self.rngs["ambiguity"], self.scenario.domain, state)
               if p.role == "request" else p for p in parts]
        return out, bool(state.get("n"))

    def _deliver(self, turn: Turn) -> str:
        """Bursty delivery: a long message goes out as a short first fragment; the
        rest waits for the agent's reply (see :meth:`_burst_answers`).

        τ²'s orchestrator strictly alternates user and agent turns, so a burst is
        "fragment turn, agent replies, the remaining fragments newline-separated in
        the next message". The agent has to answer a fragment before the rest comes,
        which moves per-turn length statistics the way real bursty typing does.
        """
        level = self.profile["bursty"]
        if level and turn.act != "confirm" and not turn.stop:
            pieces = bh.fragments(turn)
            if len(pieces) >= 2 and self.rngs.chance("bursty", level):
                rest = [text for text, _ in pieces[1:]]
                labels = {f.label for f in self.scenario.facts if heard(f.value, rest)}
                request = any(role == "request" for _, role in pieces[1:])
                self.memory.pending = _Pending(rest, labels, request)
                return pieces[0][0]
        return turn.render()

    def _burst_answers(self, intent: str, asked: list[str]) -> bool:
        """Whether the rest of a burst answers the agent's message (or the agent
        asked nothing); a confirmation or a new question makes the user drop it."""
        pending = self.memory.pending
        if pending is None or intent in ("confirm", "done"):
            return False
        if intent == "facts":
            return bool(set(asked) & pending.labels)
        if intent == "items":
            return pending.request
        return True

    def _send_rest(self, pending: _Pending, intent: str) -> str:
        text = "\n".join(pending.texts)
        self._remember(text)
        if pending.request and intent == "items":
            self.memory.request_said = True
        return text


__all__ = ["STOP", "TRANSFER", "OfflineUser", "UserStyle", "first_person"]
