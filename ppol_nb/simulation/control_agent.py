"""The do-nothing control agent: the floor every success rate is compared with.

It never calls a tool and declines every request, so a task it "solves" is one
τ² scores 1.0 whatever the agent does (read-only or refusal tasks; tau2-notes:
7 of 114 retail tasks, 19 of 50 airline). It is not a stand-in for an LLM and
belongs to no world: either backend pairs it with its own user simulator
(``make_backend(..., agent="do-nothing")``), so notebook 00 can set any agent
beside the floor under the same users.
"""

from __future__ import annotations

from .tau2_bridge import tau2_modules

_m = tau2_modules()

REPLY = "I'm sorry, but I'm unable to help with that."


class DoNothingAgent(_m.LocalAgent):
    """Never calls a tool; records one ledger row per turn (model ``do-nothing``, no cost)."""

    def __init__(self, tools, domain_policy: str, ledger=None, backend: str = "offline"):
        super().__init__(tools=tools, domain_policy=domain_policy)
        self.ledger = ledger
        self.backend = backend

    def get_init_state(self, message_history=None):
        return []

    def set_seed(self, seed: int):
        pass

    def generate_next_message(self, message, state):
        if self.ledger is not None:
            self.ledger.record(role="agent", model="do-nothing", backend=self.backend)
        return _m.messages.AssistantMessage(role="assistant", content=REPLY, cost=0.0), state
