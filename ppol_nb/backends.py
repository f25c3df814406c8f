"""The one place that chooses a world: every LLM role for an episode and a search.

:func:`make_backend` is the registry, as τ²'s ``registry.py`` is for its
implementations: a notebook parameter cell or a CLI flag names ``"offline"`` or
``"openai"`` and gets one backend object that makes every role —

=================  ==========================================  ==========================================
role               offline (:mod:`ppol_nb.offline`)             openai (:class:`LLMBackend`)
=================  ==========================================  ==========================================
user simulator     ``OfflineUser`` reading the persona text     τ²'s stock ``UserSimulator`` + persona block
agent              ``OfflineAgent``                             τ²'s stock ``LLMAgent``
generator model    ``OfflineGeneratorWorld`` (prompt text)      ``LLMGeneratorWorld`` (role ``generator``)
mutator            ``OfflineMutator`` (text edits)              ``LLMMutator`` (role ``mutator``)
reflector          ``OfflineReflection``                        ``LLMReflection`` (role ``reflection``)
=================  ==========================================  ==========================================

Either world can pair its user simulator with the do-nothing control agent
(``agent="do-nothing"``, :mod:`ppol_nb.simulation.control_agent`), the floor a
success rate is read against. Both expose the same methods (``make_user``, ``make_agent``, ``generator``,
``mutator``, ``reflector``, ``max_workers``, ``search_defaults``, ``describe``, ``identity``, ``recipe``
— a :class:`BackendRecipe` that builds the same backend in a worker process) and attributes
(``name``, ``ledger``, ``user_model``, ``agent_model``); nothing outside this
module and :mod:`ppol_nb.offline` asks which world it runs in. Environment,
orchestrator, evaluator and episode store are the same τ² code path for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .llm import Ledger, LLMClient, LLMConfig
from .simulation.scenario import TaskScenario
from .simulation.tau2_bridge import tau2_modules

if TYPE_CHECKING:
    from .worlds.contracts import World

BACKENDS = ("offline", "openai")
# Episodes per run_episodes call on an endpoint (was 8, then 32): 64 holds a whole minibatch at the
# curriculum's largest N (5 tasks x 10) in one wave; the limiter's window bounds the requests they send.
EPISODES_IN_FLIGHT = 64
AGENTS = ("llm", "do-nothing")


@dataclass(frozen=True)
class BackendRecipe:
    """How to build an equivalent backend in another process (a worker of :mod:`ppol_nb.execution`).

    Plain, picklable settings: no open connection or file, no ledger rows, no
    secret (API keys are named by variable and read where the backend runs).
    """

    kind: str  # "openai" | "offline"
    settings: dict

    def build(self):
        if self.kind == "openai":
            config = LLMConfig.from_dict(self.settings["llm"])
            return LLMBackend(LLMClient(config), agent=self.settings["agent"], name=self.settings["name"])
        if self.kind == "offline":
            from .offline.backend import OfflineBackend

            return OfflineBackend(**self.settings)
        raise ValueError(f"unknown backend recipe kind {self.kind!r}")


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
        return "do-nothing" if self.agent == "do-nothing" else self.client.config.role("agent").model

    def _tau2_llm(self, role: str) -> tuple[str, dict]:
        from .simulation.llm_provider import tau2_llm

        return tau2_llm(self.client, role)

    def make_user(self, task, scenario: TaskScenario, seed: int | None, persona=None):
        """τ²'s own user simulator; a persona's instruction is appended to its prompt."""
        from .personas.injection import PersonaUserSimulator

        llm, llm_args = self._tau2_llm("user")
        return PersonaUserSimulator(instructions=str(task.user_scenario), llm=llm, llm_args=llm_args, persona=persona)

    def make_agent(self, env, task, scenario: TaskScenario):
        if self.agent == "do-nothing":
            from .simulation.control_agent import DoNothingAgent

            return DoNothingAgent(env.get_tools(), env.get_policy(), ledger=self.ledger, backend=self.name)
        llm, llm_args = self._tau2_llm("agent")
        return tau2_modules().LLMAgent(tools=env.get_tools(), domain_policy=env.get_policy(), llm=llm, llm_args=llm_args)

    def generator(self, seed: int = 0):
        """Answers generator programs' (and DP's) LLM calls as role ``generator``; ``seed`` goes with each call."""
        from .personas.worlds import LLMGeneratorWorld

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
        from .evolution.mutation import LLMMutator

        return LLMMutator(self.client, **{**self._role_sampling("mutator"), **kwargs})

    def reflector(self, prompt: str = "authors"):
        from .evolution.reflection import LLMReflection

        return LLMReflection(self.client, prompt=prompt, **self._role_sampling("reflection"))

    def max_workers(self, requested: int | None) -> int:
        """Concurrent episodes: what was asked for (default :data:`EPISODES_IN_FLIGHT`); episodes wait on the
        network, and the LLM layer's window per endpoint and role bounds the requests they send."""
        return EPISODES_IN_FLIGHT if requested is None else max(1, int(requested))

    def search_defaults(self) -> dict:
        """Candidates in flight for a search (:mod:`ppol_nb.evolution.config`): several candidates per
        round, the incumbent's pairing started with each, validations in the background."""
        from .evolution.config import ENDPOINT_CANDIDATES_IN_FLIGHT

        return {"parallel_evaluations": ENDPOINT_CANDIDATES_IN_FLIGHT, "speculative_rescore": True,
                "background_validation": True}

    def preflight(self):
        """Key, endpoint, models and the agent's tool calls of every role, checked before a run writes
        anything (:mod:`ppol_nb.llm.preflight`); raises ``PreflightError`` naming the fix."""
        from .llm.preflight import preflight

        return preflight(self.client.config, tool_roles=() if self.agent == "do-nothing" else ("agent",))

    def describe(self) -> dict:
        """Backend, LLM config and the response cache file used (its path, never its contents; None: none)."""
        from .llm.config import ROLES, redact_url

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
        from .llm.config import redact_url

        config = self.client.config

        def role(rc) -> dict:
            return {"model": rc.model, "base_url": redact_url(rc.base_url) if rc.base_url else None,
                    "temperature": rc.temperature, "max_tokens": rc.max_tokens, "top_p": rc.top_p,
                    "extra": dict(rc.extra)}

        return {"backend": self.name, "agent": self.agent, "default": role(config.default),
                "roles": {name: role(rc) for name, rc in sorted(config.roles.items())}}


def make_backend(backend: str = "offline", model: str | None = None, base_url: str | None = None,
                 api_key_env: str | None = "OPENAI_API_KEY", user_model: str | None = None,
                 temperature: float = 0.0, cache_path=None, max_concurrency: int | None = None, agent: str = "default",
                 timeout_s: float | None = None, max_retries: int | None = None, agent_reader=None,
                 preflight: bool = False, llm_config=None, roles: dict | None = None) -> World:
    """The backend a notebook parameter cell or the CLI names: 'offline' or 'openai'.

    Either satisfies :class:`ppol_nb.worlds.contracts.World` (checked for both by
    ``tests/test_role_contracts.py``).

    ``cache_path`` None (default) is the per-user response cache every run and
    notebook shares (``$PPOL_CACHE_DIR`` or the user cache directory), a path
    names another SQLite file, False disables caching. ``timeout_s`` /
    ``max_retries`` (None: the LLM layer's defaults) apply to every request of
    the openai backend; the offline backend makes no requests and has no cache.
    ``max_concurrency`` bounds the requests in flight per endpoint and role (an
    adaptive window that backs off on 429s, :mod:`ppol_nb.llm.limiter`; None: the
    LLM layer's default, ``LLMConfig.max_concurrency``).
    ``agent`` is ``"default"`` (the world's own agent) or ``"do-nothing"`` (the
    control agent, with the world's user simulator). ``agent_reader`` (offline only)
    is how the offline agent reads user turns: None its hand rules, a trained
    :class:`ppol_nb.offline.understanding.DialogueReader` the learned agent of
    notebook 05 (an LLM agent learns by fine-tuning instead, so the openai
    backend refuses one). ``preflight`` (notebooks and the CLI pass True) checks the
    openai backend's key, endpoint, models and the agent's tool calls now, before a
    study writes anything, and raises ``PreflightError`` with the fix.

    ``llm_config`` (openai only) is an LLM config file, a recipe name (``"paper"``, ``"local"``), a mapping in
    the file's format or an :class:`LLMConfig`; ``roles`` are per-role overrides, ``{"agent": {"model": ...,
    "base_url": ..., "api_key_env": ...}}``. With either, every role is resolved field by field: ``roles`` >
    the file's role > ``model``/``base_url``/``api_key_env``/``temperature`` given here > the file's defaults >
    the built-in per-role sampling (:mod:`ppol_nb.llm.config_file`; docs/llm-config.md)."""
    if agent not in ("default", "do-nothing"):
        raise ValueError(f"unknown agent {agent!r}; expected 'default' or 'do-nothing'")
    if backend == "offline" and (llm_config is not None or roles):
        raise ValueError("an LLM config and per-role models name endpoints, and the offline backend calls none: "
                         "use backend='openai' (CLI: --backend openai)")
    if backend == "offline":
        from .offline.backend import OfflineBackend

        return OfflineBackend(agent="offline" if agent == "default" else agent, agent_reader=agent_reader)
    if agent_reader is not None:
        raise ValueError("agent_reader is the offline agent's learned reader; an openai agent learns by "
                         "fine-tuning (serve the adapter and name its model instead)")
    if backend != "openai":
        raise ValueError(f"unknown backend {backend!r}; expected 'offline' or 'openai'")
    if llm_config is not None or roles:
        made = LLMBackend(LLMClient(_role_config(llm_config, roles, model, base_url, api_key_env, temperature,
                                                 cache_path, max_concurrency, timeout_s, max_retries)),
                          agent="llm" if agent == "default" else agent)
        if preflight:
            made.preflight()
        return made
    if not model:
        raise ValueError("the openai backend needs a model name (and usually a base_url)")
    from .llm import RoleConfig

    role = RoleConfig(model=model, base_url=base_url, api_key_env=api_key_env or None, temperature=temperature)
    roles = {"user": RoleConfig(**{**role.to_dict(), "model": user_model})} if user_model else {}
    config = LLMConfig(backend="openai", default=role, roles=roles, cache_path=cache_path,
                       **({"max_concurrency": max_concurrency} if max_concurrency is not None else {}))
    if timeout_s is not None:
        config.timeout_s = timeout_s
    if max_retries is not None:
        config.max_retries = max_retries
    made = LLMBackend(LLMClient(config), agent="llm" if agent == "default" else agent)
    if preflight:
        made.preflight()
    return made


def _role_config(llm_config, roles, model, base_url, api_key_env, temperature, cache_path, max_concurrency,
                 timeout_s, max_retries) -> LLMConfig:
    """make_backend's arguments over an LLM config file or recipe, every role named (ppol_nb.llm.config_file).

    make_backend's own defaults (``api_key_env="OPENAI_API_KEY"``, ``temperature=0.0``) are not flags: they
    count only where they differ from the defaults, so the file's defaults and built-in sampling stand."""
    from .llm.config_file import resolve

    if isinstance(llm_config, LLMConfig):  # a config built in Python: its roles, then its default for the rest
        llm_config = {"defaults": _file_fields(llm_config.default),
                      "roles": {name: _file_fields(rc) for name, rc in llm_config.roles.items()}}
    return resolve(llm_config, model=model, base_url=base_url,
                   api_key_env=None if api_key_env == "OPENAI_API_KEY" else (api_key_env or ""),
                   temperature=None if temperature == 0.0 else temperature, roles=roles,
                   cache_path=cache_path, max_concurrency=None if max_concurrency == 32 else max_concurrency,
                   timeout_s=timeout_s, max_retries=max_retries)


def _file_fields(rc) -> dict:
    """A RoleConfig in the file format's fields."""
    return {"model": rc.model, "base_url": rc.base_url, "api_key_env": rc.api_key_env, "temperature": rc.temperature,
            "max_tokens": rc.max_tokens, "top_p": rc.top_p, "extra": dict(rc.extra),
            "prices": {"input": rc.price_in_per_mtok, "output": rc.price_out_per_mtok}}


def __getattr__(name: str):
    # The offline world compiles its phrase patterns on import (about a second): only a
    # process that uses it pays for that, not an openai run or a remote episode worker.
    if name == "OfflineBackend":
        from .offline.backend import OfflineBackend

        return OfflineBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
