"""The offline backend: every role of the embedded offline world, made in one object.

:class:`OfflineBackend` is what :func:`ppol_nb.worlds.registry.make_backend` returns for
``backend="offline"``. It makes

* the **user** — :class:`.user.OfflineUser`, which reads the persona's
  instruction text with :mod:`.reader` (what it wants still comes from the τ²
  scenario), as an LLM user reads the text appended to its prompt;
* the **agent** — :class:`.agent.OfflineAgent` (gold-plan guided, careful with
  unheard facts) or :class:`~ppol_nb.simulation.control_agent.DoNothingAgent`;
  ``agent_reader`` is how the agent understands user turns (None: its hand rules;
  a trained :class:`.understanding.DialogueReader`: the learned agent of notebook 05,
  named ``offline-agent+reader-<fingerprint>`` in every record);
* the **generator model** — :class:`.generator.OfflineGeneratorWorld`, which
  answers generator programs' and DP's LLM calls from the prompt text;
* the **mutator** — :class:`.mutator.OfflineMutator` (text edits of programs);
* the **reflector** — :class:`.reflection.OfflineReflection`.

No network, no keys; every role logs its calls to the ledger at cost 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..llm import Ledger
from ..simulation.control_agent import DoNothingAgent
from ..simulation.scenario import TaskScenario
from .agent import AgentStyle, OfflineAgent
from .reader import read
from .understanding import reader_of
from .user import OfflineUser, UserStyle

AGENTS = ("offline", "do-nothing")


@dataclass
class OfflineBackend:
    """Deterministic stand-ins for every LLM role."""

    agent: str = "offline"  # "offline" | "do-nothing"
    user_style: UserStyle = field(default_factory=UserStyle)
    agent_style: AgentStyle = field(default_factory=AgentStyle)
    ledger: Ledger = field(default_factory=Ledger)
    name: str = "offline"
    # How the offline user reads a persona's instruction: text -> behaviour levels. The
    # default is the persona reader; tests inject a fixed reading to exercise one
    # behaviour in isolation.
    reader: Callable[[str], Mapping[str, float]] | None = None
    # How the offline *agent* reads user turns (:mod:`.understanding`): None = its hand rules.
    agent_reader: object | None = None

    def __post_init__(self):
        if self.agent not in AGENTS:
            raise ValueError(f"unknown offline agent {self.agent!r}; expected one of {AGENTS}")
        if self.agent_reader is not None:
            if self.agent != "offline":
                raise ValueError("an agent reader belongs to the offline agent, not to the do-nothing control")
            reader_of(self.agent_reader)  # an untrained reader is refused here, before any episode

    @property
    def user_model(self) -> str:
        return "offline-user"

    @property
    def agent_model(self) -> str:
        if self.agent != "offline":
            return "do-nothing"
        if self.agent_reader is None:
            return "offline-agent"
        return f"offline-agent+reader-{self.agent_reader.describe().get('fingerprint', 'custom')}"

    # -- episode players -------------------------------------------------------------------
    def make_user(self, task, scenario: TaskScenario, seed: int | None, persona=None):
        """The offline user; a persona's instruction text decides how it talks."""
        if persona is None:
            behaviour = None
        elif self.reader is not None:
            behaviour = dict(self.reader(persona.instruction))
        else:
            behaviour = read(persona.instruction).levels
        return OfflineUser(scenario, self.user_style, seed, ledger=self.ledger, behaviour=behaviour)

    def make_agent(self, env, task, scenario: TaskScenario):
        if self.agent == "do-nothing":
            return DoNothingAgent(env.get_tools(), env.get_policy(), ledger=self.ledger)
        return OfflineAgent(env.get_tools(), env.get_policy(), scenario, self.agent_style, ledger=self.ledger,
                            reader=self.agent_reader)

    # -- search roles ------------------------------------------------------------------------
    def generator(self, seed: int = 0):
        """Answers generator programs' (and DP's) LLM calls from their prompt text."""
        from .generator import OfflineGeneratorWorld

        return OfflineGeneratorWorld(seed)

    def mutator(self, **kwargs):
        from .mutator import OfflineMutator

        allowed = {"max_code_length", "weights", "max_axes", "min_axes", "use_reflection"}
        return OfflineMutator(**{k: v for k, v in kwargs.items() if k in allowed})

    def reflector(self, prompt: str = "authors"):
        from .reflection import OfflineReflection

        return OfflineReflection(prompt=prompt)

    def max_workers(self, requested: int | None) -> int:
        """Concurrent episodes: one. Offline episodes are pure Python, so under the GIL
        threads only add overhead; ``requested`` (sized for network waits) is ignored."""
        return 1

    def preflight(self) -> None:
        """Nothing to check: no endpoint, key or model."""
        return None

    def search_defaults(self) -> dict:
        """Candidates in flight for a search (:mod:`ppol_nb.evolution.config`): one at a time, no
        speculation, synchronous validation. Offline work is CPU-bound, so overlapping it buys nothing."""
        return {"parallel_evaluations": 1, "speculative_rescore": False, "background_validation": False}

    def recipe(self):
        """This backend for a worker process (same agent, styles and reader; a fresh ledger)."""
        from ..worlds.recipe import BackendRecipe

        return BackendRecipe("offline", {"agent": self.agent, "user_style": self.user_style,
                                         "agent_style": self.agent_style, "name": self.name, "reader": self.reader,
                                         "agent_reader": self.agent_reader})

    def describe(self) -> dict:
        out = {"backend": self.name, "agent": self.agent, "user_style": vars(self.user_style),
               "agent_style": vars(self.agent_style)}
        if self.agent_reader is not None:  # absent for the rule agent: its description is as before
            out["agent_reader"] = self.agent_reader.describe()
        return out

    def identity(self) -> dict:
        """What decides this world's results: a run resumes only into the same identity.

        The reader's version is part of it: a changed phrase list reads persona
        texts differently, as a different model would."""
        from .reader import READER_VERSION

        return {**self.describe(), "reader_version": READER_VERSION}
