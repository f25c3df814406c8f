"""The embedded offline user: a deterministic stand-in for the τ² LLM user simulator.

It knows only its scenario (reason for call, known info, unknown info, task
instructions) and which of those facts the task needs (:mod:`.scenario`). It never
says a fact it does not hold, says so when asked for something in ``unknown_info``,
and ends with ``###STOP###`` when the agent is done or it gives up.

*What* it says comes from the scenario; *how* it says it comes from a
:class:`UserStyle`. The default style imitates the cooperative LLM simulator the PPol
paper criticises: polished full sentences, the whole request and every identifier in
the opening message, polite, thankful. Persona behaviours plug in as other styles
(withholding, terse, impatient, …) without touching the dialogue logic.
"""

from __future__ import annotations

import random
import re
import time
import zlib
from dataclasses import dataclass, field

from .scenario import LABEL_CUES, Fact, TaskScenario, request_sentences, first_person
from .tau2_bridge import tau2_modules

STOP, TRANSFER = "###STOP###", "###TRANSFER###"

_CONFIRM_CUE = re.compile(r"\b(confirm|proceed|go ahead|shall i|should i|yes or no|\(yes/no\))\b", re.I)
_DONE_CUE = re.compile(r"anything else", re.I)
_TRANSFER_CUE = re.compile(r"transferr?(ed|ing) (you )?to a human|human agent", re.I)
_ITEM_CUE = re.compile(r"\bwhich (item|product|one|order|flight|trip|reservation)s?\b", re.I)


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
class _UserMemory:
    turns: int = 0
    unproductive: int = 0
    told: set = field(default_factory=set)  # labels already given


def _seeded_rng(seed: int | None, task_id: str) -> random.Random:
    # zlib.crc32, not hash(): stable across processes regardless of PYTHONHASHSEED.
    return random.Random(((seed or 0) * 1_000_003) ^ zlib.crc32(task_id.encode()))


_m = tau2_modules()


class OfflineUser(_m.BaseUser):
    """Offline user for one episode; a real tau2 ``BaseUser``."""

    def __init__(self, scenario: TaskScenario, style: UserStyle | None = None, seed: int | None = None, ledger=None):
        super().__init__(instructions=scenario.scenario_text, llm="offline-user")
        self.scenario = scenario
        self.style = style or UserStyle()
        self.seed = seed
        self.ledger = ledger
        self.rng = _seeded_rng(seed, scenario.task_id)
        self.memory = _UserMemory()

    # -- tau2 BaseUser interface ------------------------------------------------
    def get_init_state(self, message_history=None):
        return _m.UserState(system_messages=[], messages=list(message_history or []))

    def set_seed(self, seed: int):
        self.seed = seed
        self.rng = _seeded_rng(seed, self.scenario.task_id)

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
        # Known cues, plus the label of every fact held ("passengers", "cabin", …).
        cues = {**LABEL_CUES, **{f.label: rf"\b{re.escape(f.label)}\b" for f in self.scenario.facts}}
        asked = [label for label, cue in cues.items()
                 if any(re.search(cue, q, re.I) and _REQUEST_CUE.search(q) for q in questions)]
        if asked:
            mem.unproductive = 0
            return self.answer_facts(asked)
        if any(_CONFIRM_CUE.search(q) for q in questions):
            mem.unproductive = 0
            return self.polish("Yes, please go ahead.")
        if _DONE_CUE.search(agent_text):
            return self.goodbye(satisfied=True)
        if _ITEM_CUE.search(agent_text):
            mem.unproductive = 0
            return self.polish(" ".join(self.request()) or "It is the one I mentioned.")
        mem.unproductive += 1
        if mem.unproductive >= self.style.patience:
            return self.goodbye(satisfied=False)
        return self.polish(self.rng.choice(["Okay.", "I see.", "Alright."]) + " " + self.nudge())

    def request(self) -> list[str]:
        return request_sentences(self.scenario.reason_for_call)

    def identity(self) -> list[str]:
        return request_sentences(self.scenario.known_info)

    def opening(self) -> str:
        parts = self.request()
        if self.style.up_front:
            parts = parts + self.identity()
            self.memory.told.update(f.label for f in self.scenario.facts)
        else:
            parts = parts[:1]
        greeting = self.rng.choice(["Hello!", "Hi there!", "Hi,"]) if self.style.polite else ""
        closing = "Thank you for your help." if self.style.polite else ""
        return " ".join(p for p in [greeting, *parts, closing] if p)

    def nudge(self) -> str:
        parts = self.request()
        return ("Could you help me with my request? " + parts[0]) if parts else "Could you help me?"

    def answer_facts(self, labels: list[str]) -> str:
        held: dict[str, list[Fact]] = {}
        for f in self.scenario.facts:
            held.setdefault(f.label, []).append(f)
        unknown = self.scenario.unknown_labels()
        sentences = []
        for label in labels:
            if label in held:
                value = " ".join(dict.fromkeys(f.value for f in held[label]))
                verb = "are" if label.endswith("s") else "is"
                sentences.append(f"My {label} {verb} {value}.")
                self.memory.told.add(label)
            elif label in unknown:
                sentences.append(f"I'm sorry, I don't remember my {label}.")
        if not sentences:
            # Asked for something the scenario does not give: say so, never invent.
            sentences.append("I'm afraid I don't have that information.")
        return self.polish(" ".join(sentences))

    def goodbye(self, satisfied: bool) -> str:
        if satisfied:
            text = "No, that's everything. Thank you so much for your help!" if self.style.polite else "No."
        else:
            text = "I don't think this is going anywhere. Goodbye." if self.style.polite else "Forget it."
        return f"{text} {STOP}"

    def polish(self, text: str) -> str:
        if self.style.polite and not text.lower().startswith(("thank", "i'm sorry")):
            return self.rng.choice(["Sure. ", "Of course. ", "Certainly. ", ""]) + text
        return text



__all__ = ["OfflineUser", "UserStyle", "STOP", "TRANSFER", "first_person"]
