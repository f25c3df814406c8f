"""τ²-compatible agent classes for the stress-test CLI tests, named as ``stress_agents:Class``.

``ScenarioReadingAgent`` is the offline agent built through the public class seam (it asks
for the scenario by naming it in its constructor); ``ApologisingAgent`` is a real, trivial
τ² ``LocalAgent`` that never calls a tool and ends the call, so DB-changing tasks fail.
"""

from __future__ import annotations

from ppol_nb.offline.agent import OfflineAgent
from ppol_nb.simulation.tau2_bridge import tau2_modules

_m = tau2_modules()


class ScenarioReadingAgent(OfflineAgent):
    def __init__(self, tools, domain_policy, scenario):
        super().__init__(tools, domain_policy, scenario)


class ApologisingAgent(_m.LocalAgent):
    def __init__(self, tools, domain_policy):
        super().__init__(tools=tools, domain_policy=domain_policy)

    def get_init_state(self, message_history=None):
        return list(message_history or [])

    def generate_next_message(self, message, state):
        state.append(message)
        reply = _m.messages.AssistantMessage(role="assistant", content="Sorry, I cannot help with that. Is there anything else?", cost=0.0)
        state.append(reply)
        return reply, state


class NotAnAgent:
    pass
