"""The offline agent: a policy-following tool-using agent.

:class:`OfflineAgent` is guided by the task's gold plan, as τ²'s own ground-truth
agent is, but it may only use a user-held fact (identity, order/reservation ids,
cabins, …) once that fact has appeared in a user message, it asks for the items a
write concerns, and it asks for an explicit "yes" before every write. A missing or
garbled fact is asked for again; after ``max_asks`` attempts the agent gives up and
transfers to a human. So how the *user* talks changes whether the task succeeds —
which is what persona studies need from a fixed agent.

It is a real tau2 ``LocalAgent`` subclass (the do-nothing control lives in
:mod:`ppol_nb.simulation.control_agent`); every tool call goes through the
real τ² environment and the episode is scored by τ²'s evaluator.

What the user *said* is read by the agent's ``reader`` (:mod:`.understanding`):
whether a needed fact has been said, and whether a confirmation answer means
proceed, refuse or ask again. ``reader=None`` is the hand rules
(:class:`~.understanding.RuleReader`, the agent as it always was); a trained
:class:`~.understanding.DialogueReader` replaces those two decisions and nothing
else (items, the plan and the tools stay as they are).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from ..simulation.scenario import WRITE_VERBS, PlanStep, TaskScenario, heard, tokens
from ..simulation.tau2_bridge import tau2_modules
from .understanding import PROCEED, REFUSE, reader_of

_m = tau2_modules()
_AssistantMessage = _m.messages.AssistantMessage
_ToolCall = _m.messages.ToolCall

TRANSFER_MESSAGE = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."
_STOPWORDS = {"with", "and", "the", "for", "set", "pack", "size"}


@dataclass(frozen=True)
class AgentStyle:
    max_asks: int = 3  # how often the agent asks for one missing fact before giving up


@dataclass
class OfflineAgentState:
    """Everything the agent has seen; rebuilt from history, so episodes can resume."""

    messages: list = field(default_factory=list)
    user_texts: list[str] = field(default_factory=list)
    agent_texts: list[str] = field(default_factory=list)  # the agent's last words before each user text
    item_names: dict[str, str] = field(default_factory=dict)  # item_id -> product name
    step: int = 0
    asks: dict[str, int] = field(default_factory=dict)
    awaiting_confirmation: bool = False
    confirmed: bool = False
    finished: bool = False
    transferring: bool = False
    n_calls: int = 0


class OfflineAgent(_m.LocalAgent):
    def __init__(self, tools, domain_policy: str, scenario: TaskScenario, style: AgentStyle | None = None, ledger=None,
                 reader=None):
        super().__init__(tools=tools, domain_policy=domain_policy)
        self.scenario = scenario
        self.style = style or AgentStyle()
        self.ledger = ledger
        self.reader = reader_of(reader)  # None: the hand rules; a learned reader must be trained

    # -- tau2 LocalAgent interface --------------------------------------------------
    def get_init_state(self, message_history=None) -> OfflineAgentState:
        state = OfflineAgentState()
        for msg in message_history or []:
            self._observe(msg, state)
        return state

    def set_seed(self, seed: int):
        pass  # deterministic: nothing to seed

    def generate_next_message(self, message, state: OfflineAgentState):
        t0 = time.perf_counter()
        self._observe(message, state)
        out = self._decide(message, state)
        state.messages.append(out)
        if self.ledger is not None:
            self.ledger.record(role="agent", model="offline-agent", backend="offline", latency_s=time.perf_counter() - t0)
        return out, state

    # -- perception -----------------------------------------------------------------
    def _observe(self, message, state: OfflineAgentState) -> None:
        msgs = message.tool_messages if isinstance(message, _m.messages.MultiToolMessage) else [message]
        for msg in msgs:
            state.messages.append(msg)
            if isinstance(msg, _m.messages.UserMessage) and msg.content:
                state.user_texts.append(msg.content)
                state.agent_texts.append(_last_agent_text(state.messages[:-1]))
            elif isinstance(msg, _m.messages.ToolMessage) and msg.content:
                _harvest_item_names(msg.content, state.item_names)

    # -- policy ---------------------------------------------------------------------
    def _decide(self, message, state: OfflineAgentState):
        from_user = isinstance(message, _m.messages.UserMessage)
        if state.transferring:
            state.transferring = False
            state.finished = True
            return self._say(TRANSFER_MESSAGE)
        if state.awaiting_confirmation and from_user:
            state.awaiting_confirmation = False
            answer = message.content or ""
            act = self.reader.confirmation(_last_agent_text(state.messages[:-1]), answer)
            if act == PROCEED:
                state.confirmed = True
            elif act == REFUSE:
                state.step += 1  # the user declined this change: skip it
                return self._say("Understood, I will not make that change. Is there anything else I can help you with?") \
                    if state.step >= len(self.scenario.plan) else self._decide(message, state)
            else:
                state.awaiting_confirmation = True
                return self._ask(state, ["confirmation"], "Sorry, I need an explicit yes or no: shall I proceed?")
        if state.step >= len(self.scenario.plan):
            return self._wrap_up(state)
        step = self.scenario.plan[state.step]
        missing = [f for f in step.facts if not self.reader.heard(f, state.user_texts, state.agent_texts)]
        if missing:
            labels = list(dict.fromkeys(f.label for f in missing))
            return self._ask_facts(state, labels)
        items = self._unheard_items(step, state)
        if items:
            verb = step.name.split("_")[0]
            return self._ask(state, ["items"], f"Which item(s) would you like to {verb}? I see {', '.join(items)} in the order.")
        if step.is_write and not state.confirmed:
            state.awaiting_confirmation = True
            return self._say(f"To confirm: I will {self._describe(step, state)}. Shall I proceed? Please answer yes or no.")
        state.confirmed = False
        state.step += 1
        return self._call(state, step.name, step.arguments)

    def _ask_facts(self, state: OfflineAgentState, labels: list[str]):
        again = any(state.asks.get(lbl, 0) for lbl in labels)
        what = " and ".join(f"your {lbl}" for lbl in labels)
        text = (f"I'm sorry, I could not find that. Could you please double-check {what}?" if again
                else f"Could you please provide {what}?")
        return self._ask(state, labels, text)

    def _ask(self, state: OfflineAgentState, keys: list[str], text: str):
        for k in keys:
            state.asks[k] = state.asks.get(k, 0) + 1
        if any(state.asks[k] > self.style.max_asks for k in keys):
            return self._give_up(state)
        return self._say(text)

    def _give_up(self, state: OfflineAgentState):
        state.transferring = True
        state.step = len(self.scenario.plan)
        summary = "Customer could not provide the information needed to complete the request."
        return self._call(state, "transfer_to_human_agents", {"summary": summary})

    def _wrap_up(self, state: OfflineAgentState):
        if state.finished:
            return self._say("Is there anything else I can help you with?")
        state.finished = True
        info = " ".join(f"For your information: {c}." for c in self.scenario.communicate_info)
        done = "Your request has been processed." if self.scenario.plan else "I'm sorry, but I cannot make that change under our policy."
        return self._say(" ".join(p for p in [done, info, "Is there anything else I can help you with?"] if p))

    def _unheard_items(self, step: PlanStep, state: OfflineAgentState) -> list[str]:
        if not step.is_write:
            return []
        user_tokens = {t for text in state.user_texts for t in tokens(text)}
        # Hyphenated names arrive as two tokens ("t", "shirt"); also keep them joined.
        user_tokens |= {"".join(tokens(w)) for text in state.user_texts for w in text.split()}
        if user_tokens & {"all", "everything", "every", "both"}:
            return []  # "return all things I ordered" names every item at once
        ids = {i: n for i, n in state.item_names.items() if i in (step.arguments.get("item_ids") or [])}
        return [n for i, n in ids.items()
                if not _name_heard(n, user_tokens) and not heard(i, state.user_texts)]

    def _describe(self, step: PlanStep, state: OfflineAgentState) -> str:
        names = [state.item_names.get(i, i) for i in step.arguments.get("item_ids", []) or []]
        template = WRITE_VERBS.get(step.name, step.name.replace("_", " "))
        fields = {k: v for k, v in step.arguments.items() if isinstance(v, str)}
        fields["items"] = " and ".join(dict.fromkeys(names)) or "items"
        try:
            return template.format(**fields)
        except KeyError:
            return step.name.replace("_", " ")

    def _say(self, text: str):
        return _AssistantMessage(role="assistant", content=text, cost=0.0)

    def _call(self, state: OfflineAgentState, name: str, arguments: dict):
        state.n_calls += 1
        call = _ToolCall(id=f"call_{state.n_calls}", name=name, arguments=dict(arguments), requestor="assistant")
        return _AssistantMessage(role="assistant", tool_calls=[call], cost=0.0)


def _last_agent_text(messages: list) -> str:
    """The text of the agent's last message that had any (what a user turn answers)."""
    for msg in reversed(messages):
        if isinstance(msg, _m.messages.AssistantMessage) and msg.content:
            return msg.content
    return ""


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _name_heard(name: str, user_tokens: set[str]) -> bool:
    """'Headphones' is heard in 'headphone', 'T-Shirt' in 'tshirt' or 't-shirts'."""
    words = tokens(name)
    candidates = {w for w in words if len(w) > 2 and w not in _STOPWORDS} | {"".join(words)}
    stems = {_stem(t) for t in user_tokens}
    return any(_stem(c) in stems for c in candidates)


def _harvest_item_names(content: str, out: dict[str, str]) -> None:
    """Remember item_id -> product name from order details the tools returned."""
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return
    if isinstance(data, dict):
        for item in data.get("items", []) or []:
            if isinstance(item, dict) and "item_id" in item and "name" in item:
                out[str(item["item_id"])] = str(item["name"])
