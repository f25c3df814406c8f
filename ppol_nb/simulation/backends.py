"""Backends build the two players of an episode: the user and the agent.

* :class:`OfflineBackend` — the embedded default: deterministic offline user and
  offline (or do-nothing) agent, no network, no keys. A persona reaches the offline
  user the way it reaches an LLM user: as its instruction text, read by
  :func:`ppol_nb.offline.reader.read` (no side channel).
* :class:`LLMBackend` — τ²'s stock ``UserSimulator`` and ``LLMAgent`` whose every
  completion goes through ppol_nb's LLM layer (:class:`ppol_nb.llm.LLMClient`) to an
  OpenAI-compatible endpoint.

Everything else (environment, orchestrator, evaluator, episode store) is the same
code path for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..llm import Ledger, LLMClient, LLMConfig
from ..offline.reader import read
from ..personas.record import BEHAVIOURS as EXECUTABLE
from .agents import AgentStyle, DoNothingAgent, OfflineAgent
from .scenario import TaskScenario
from .tau2_bridge import tau2_modules
from .users import OfflineUser, UserStyle

AGENTS = ("offline", "do-nothing")


def offline_profile(instruction: str) -> dict[str, float]:
    """The behaviour profile the offline user executes for a persona instruction text.

    The reader's levels, restricted to the behaviours the offline user executes
    (``digression`` is read but not executed yet).
    """
    return {name: level for name, level in read(instruction).levels.items() if name in EXECUTABLE}


@dataclass
class OfflineBackend:
    """Deterministic stand-ins for the user simulator and the agent."""

    agent: str = "offline"  # "offline" | "do-nothing"
    user_style: UserStyle = field(default_factory=UserStyle)
    agent_style: AgentStyle = field(default_factory=AgentStyle)
    ledger: Ledger = field(default_factory=Ledger)
    name: str = "offline"

    def __post_init__(self):
        if self.agent not in AGENTS:
            raise ValueError(f"unknown offline agent {self.agent!r}; expected one of {AGENTS}")

    @property
    def user_model(self) -> str:
        return "offline-user"

    @property
    def agent_model(self) -> str:
        return "offline-agent" if self.agent == "offline" else "do-nothing"

    def make_user(self, task, scenario: TaskScenario, seed: int | None, persona=None):
        """The offline user; a persona (:class:`ppol_nb.personas.Persona`) makes it talk
        as the persona's instruction text says (:func:`offline_profile`)."""
        behaviour = offline_profile(persona.instruction) if persona is not None else None
        return OfflineUser(scenario, self.user_style, seed, ledger=self.ledger, behaviour=behaviour)

    def make_agent(self, env, task, scenario: TaskScenario):
        if self.agent == "do-nothing":
            return DoNothingAgent(env.get_tools(), env.get_policy(), ledger=self.ledger)
        return OfflineAgent(env.get_tools(), env.get_policy(), scenario, self.agent_style, ledger=self.ledger)

    def describe(self) -> dict:
        return {"backend": self.name, "agent": self.agent, "user_style": vars(self.user_style),
                "agent_style": vars(self.agent_style)}


@dataclass
class LLMBackend:
    """τ²'s own LLM user simulator and LLM agent, routed through one LLMClient."""

    client: LLMClient
    name: str = "openai"

    @classmethod
    def from_config(cls, config: LLMConfig) -> "LLMBackend":
        return cls(LLMClient(config))

    @property
    def ledger(self) -> Ledger:
        return self.client.ledger

    @property
    def user_model(self) -> str:
        return self.client.config.role("user").model

    @property
    def agent_model(self) -> str:
        return self.client.config.role("agent").model

    def make_user(self, task, scenario: TaskScenario, seed: int | None, persona=None):
        """τ²'s own user simulator; a persona's instruction is appended to its prompt."""
        from ..personas.injection import PersonaUserSimulator

        llm, llm_args = self.client.tau2_llm("user")
        return PersonaUserSimulator(instructions=str(task.user_scenario), llm=llm, llm_args=llm_args, persona=persona)

    def make_agent(self, env, task, scenario: TaskScenario):
        llm, llm_args = self.client.tau2_llm("agent")
        return tau2_modules().LLMAgent(tools=env.get_tools(), domain_policy=env.get_policy(), llm=llm, llm_args=llm_args)

    def describe(self) -> dict:
        return {"backend": self.name, "llm": self.client.config.to_dict()}


def make_backend(backend: str = "offline", model: str | None = None, base_url: str | None = None,
                 api_key_env: str | None = "OPENAI_API_KEY", user_model: str | None = None,
                 temperature: float = 0.0, cache_path=None, max_concurrency: int = 8, agent: str = "offline"):
    """The backend a notebook parameter cell or the CLI names: 'offline' or 'openai'."""
    if backend == "offline":
        return OfflineBackend(agent=agent)
    if backend != "openai":
        raise ValueError(f"unknown backend {backend!r}; expected 'offline' or 'openai'")
    if not model:
        raise ValueError("the openai backend needs a model name (and usually a base_url)")
    from ..llm import RoleConfig

    role = RoleConfig(model=model, base_url=base_url, api_key_env=api_key_env or None, temperature=temperature)
    roles = {"user": RoleConfig(**{**role.to_dict(), "model": user_model})} if user_model else {}
    config = LLMConfig(backend="openai", default=role, roles=roles, cache_path=cache_path,
                       max_concurrency=max_concurrency)
    return LLMBackend.from_config(config)
