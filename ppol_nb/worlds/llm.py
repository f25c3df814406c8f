"""The LLM world: every role of PPol (arXiv:2605.12894, §2) on real OpenAI-compatible endpoints.

:class:`LLMBackend` is what :func:`ppol_nb.worlds.registry.make_backend` returns for
``backend="openai"``: τ²'s own LLM user simulator (a persona's text appended to its
prompt) and LLM agent, the generator model (:class:`LLMGeneratorWorld`, role
``generator``), the mutator (:class:`~ppol_nb.evolution.mutation.LLMMutator`) and the
reflector (:class:`~ppol_nb.evolution.reflection.LLMReflection`), all through one
:class:`~ppol_nb.llm.LLMClient` — one ledger, one response cache, one limiter.

It satisfies :class:`ppol_nb.worlds.contracts.World` (``tests/test_role_contracts.py``
runs the same checks over this world and the offline one). It never imports
:mod:`ppol_nb.offline` (an import-linter independence contract, pyproject.toml), and
it never names the other world: only the registry does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..llm import Ledger, LLMClient, LLMConfig
from ..simulation.scenario import TaskScenario
from ..simulation.tau2_bridge import tau2_modules
from .recipe import BackendRecipe

# Episodes per run_episodes call on an endpoint (was 8, then 32): 64 holds a whole minibatch at the
# curriculum's largest N (5 tasks x 10) in one wave; the limiter's window bounds the requests they send.
EPISODES_IN_FLIGHT = 64
AGENTS = ("llm", "do-nothing")
_ROLES = ("system", "user", "assistant")
MAX_TOKENS_CEILING = 16_000  # a program cannot ask for unbounded (paid) output


class LLMGeneratorWorld:
    """Answers a generator program's (and DP's) proxied LLM calls with ``client.chat("generator", ...)``.

    A generator world is any object with ``answer(request, seed) -> str`` (``request`` is
    ``{"messages", "temperature", "max_tokens"}`` as the sandboxed program sent it), ``key``
    (what would answer: part of every persona cache key), ``ledger`` and ``waits_on_network``
    (:class:`ppol_nb.worlds.contracts.GeneratorWorld`).

    Cache, retries, ledger and the API key all stay in this process. The
    program may choose temperature and max_tokens (within a ceiling); the model
    and endpoint are the client's.
    """

    waits_on_network = True

    def __init__(self, client, role: str = "generator") -> None:
        self.client = client
        self.role = role

    @property
    def ledger(self):
        return self.client.ledger

    @property
    def key(self) -> str:
        rc = self.client.config.role(self.role)
        # The key is written to the persona cache: no credentials.
        from ..llm.config import redact_url

        return f"openai:{rc.model}@{redact_url(rc.base_url or 'default').rstrip('/')}"

    def answer(self, request: dict, seed: int = 0) -> str:
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list")
        clean = []
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
                raise ValueError(f"each message needs a role in {_ROLES} and string content; got {m!r:.120}")
            clean.append({"role": m["role"], "content": m["content"]})
        overrides = {}
        temperature = request.get("temperature")
        if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
            overrides["temperature"] = min(max(float(temperature), 0.0), 2.0)
        max_tokens = request.get("max_tokens")
        if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
            overrides["max_tokens"] = min(max(max_tokens, 1), MAX_TOKENS_CEILING)
        result = self.client.chat(self.role, clean, seed=seed, **overrides)
        return result.content or ""

    def __repr__(self) -> str:
        return f"LLMGeneratorWorld({self.key})"


@dataclass
class LLMBackend:
    """τ²'s own LLM user simulator and LLM agent, and the LLM search roles, through one LLMClient."""

    client: LLMClient
    agent: str = "llm"  # "llm": τ²'s LLMAgent on role ``agent``; "do-nothing": the control agent
    name: str = "openai"

    def __post_init__(self) -> None:
        if self.agent not in AGENTS:
            raise ValueError(f"unknown agent {self.agent!r}; expected one of {AGENTS}")

    @classmethod
    def from_config(cls, config: LLMConfig) -> LLMBackend:
        return cls(LLMClient(config))

    @property
    def ledger(self) -> Ledger:
        return self.client.ledger

    @property
    def user_model(self) -> str:
        return self.client.config.role("user").model

    @property
    def agent_model(self) -> str:
        return "do-nothing" if self.agent == "do-nothing" else self.client.config.role("agent").model

    def _tau2_llm(self, role: str) -> tuple[str, dict]:
        from ..simulation.llm_provider import tau2_llm

        return tau2_llm(self.client, role)

    def make_user(self, task, scenario: TaskScenario, seed: int | None, persona=None):
        """τ²'s own user simulator; a persona's instruction is appended to its prompt."""
        from ..personas.injection import PersonaUserSimulator

        llm, llm_args = self._tau2_llm("user")
        return PersonaUserSimulator(instructions=str(task.user_scenario), llm=llm, llm_args=llm_args, persona=persona)

    def make_agent(self, env, task, scenario: TaskScenario):
        if self.agent == "do-nothing":
            from ..simulation.control_agent import DoNothingAgent

            return DoNothingAgent(env.get_tools(), env.get_policy(), ledger=self.ledger, backend=self.name)
        llm, llm_args = self._tau2_llm("agent")
        return tau2_modules().LLMAgent(tools=env.get_tools(), domain_policy=env.get_policy(), llm=llm, llm_args=llm_args)

    def generator(self, seed: int = 0):
        """Answers generator programs' (and DP's) LLM calls as role ``generator``; ``seed`` goes with each call."""
        return LLMGeneratorWorld(self.client)

    def _role_sampling(self, role: str) -> dict:
        """A role's temperature and max_tokens when the config names that role (an LLM config file, a recipe
        or a per-role flag, :mod:`ppol_nb.llm.config_file`); empty otherwise, so the caller's own
        sampling (the paper's) stands, as for a config that gives one model to every role."""
        rc = self.client.config.roles.get(role)
        if rc is None:
            return {}
        return {"temperature": rc.temperature, **({"max_tokens": rc.max_tokens} if rc.max_tokens else {})}

    def mutator(self, **kwargs):
        from ..evolution.mutation import LLMMutator

        return LLMMutator(self.client, **{**self._role_sampling("mutator"), **kwargs})

    def reflector(self, prompt: str = "authors"):
        from ..evolution.reflection import LLMReflection

        return LLMReflection(self.client, prompt=prompt, **self._role_sampling("reflection"))

    def max_workers(self, requested: int | None) -> int:
        """Concurrent episodes: what was asked for (default :data:`EPISODES_IN_FLIGHT`); episodes wait on the
        network, and the LLM layer's window per endpoint and role bounds the requests they send."""
        return EPISODES_IN_FLIGHT if requested is None else max(1, int(requested))

    def search_defaults(self) -> dict:
        """Candidates in flight for a search (:mod:`ppol_nb.evolution.config`): several candidates per
        round, the incumbent's pairing started with each, validations in the background."""
        from ..evolution.config import ENDPOINT_CANDIDATES_IN_FLIGHT

        return {"parallel_evaluations": ENDPOINT_CANDIDATES_IN_FLIGHT, "speculative_rescore": True,
                "background_validation": True}

    def preflight(self):
        """Key, endpoint, models and the agent's tool calls of every role, checked before a run writes
        anything (:mod:`ppol_nb.llm.preflight`); raises ``PreflightError`` naming the fix."""
        from ..llm.preflight import preflight

        return preflight(self.client.config, tool_roles=() if self.agent == "do-nothing" else ("agent",))

    def describe(self) -> dict:
        """Backend, LLM config and the response cache file used (its path, never its contents; None: none)."""
        from ..llm.config import ROLES, redact_url

        cache = self.client.cache_path
        config = self.client.config
        # Role by role, what each one talked to (URL credentials scrubbed; the key only by its variable's name).
        roles = {name: {"model": config.role(name).model,
                        "base_url": redact_url(config.role(name).base_url) if config.role(name).base_url else None,
                        "api_key_env": config.role(name).api_key_env} for name in ROLES}
        return {"backend": self.name, "agent": self.agent, "roles": roles, "llm": config.to_dict(),
                "response_cache": str(cache) if cache is not None else None}

    def recipe(self) -> BackendRecipe:
        """This backend for a worker process: same config, and the response cache file resolved here,
        so every worker reads and writes the file this process names (its manifest says which)."""
        config = self.client.config.to_dict()
        path = self.client.config.response_cache_path()
        config["cache_path"] = str(path) if path is not None else False
        return BackendRecipe("openai", {"llm": config, "agent": self.agent, "name": self.name})

    def identity(self) -> dict:
        """What decides this world's results (models, endpoints, sampling), without the
        cache, timeouts or concurrency: a run resumes only into the same identity."""
        from ..llm.config import redact_url

        config = self.client.config

        def role(rc) -> dict:
            return {"model": rc.model, "base_url": redact_url(rc.base_url) if rc.base_url else None,
                    "temperature": rc.temperature, "max_tokens": rc.max_tokens, "top_p": rc.top_p,
                    "extra": dict(rc.extra)}

        return {"backend": self.name, "agent": self.agent, "default": role(config.default),
                "roles": {name: role(rc) for name, rc in sorted(config.roles.items())}}


__all__ = ["AGENTS", "EPISODES_IN_FLIGHT", "MAX_TOKENS_CEILING", "LLMBackend", "LLMGeneratorWorld"]
