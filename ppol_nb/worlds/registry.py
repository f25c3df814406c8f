"""The one place that chooses a world: every LLM role for an episode and a search.

:func:`make_backend` is the registry, as τ²'s ``registry.py`` is for its
implementations: a notebook parameter cell or a CLI flag names ``"offline"`` or
``"openai"`` and gets one backend object that makes every role —

=================  ==========================================  ==========================================
role               offline (:mod:`ppol_nb.offline`)             openai (:mod:`ppol_nb.worlds.llm`)
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
— a :class:`~ppol_nb.worlds.recipe.BackendRecipe` that :func:`from_recipe` builds again in a worker
process) and attributes (``name``, ``ledger``, ``user_model``, ``agent_model``), the protocols of
:mod:`ppol_nb.worlds.contracts`. This is the only module that names ``"offline"`` and ``"openai"`` as
world choices; nothing outside it and the worlds' own modules asks which world it runs in. Environment,
orchestrator, evaluator and episode store are the same τ² code path for both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..llm import LLMClient, LLMConfig
from .llm import LLMBackend
from .recipe import BackendRecipe

if TYPE_CHECKING:
    from .contracts import World

BACKENDS = ("offline", "openai")


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
        from ..offline.backend import OfflineBackend

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
    from ..llm import RoleConfig

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
    from ..llm.config_file import resolve

    if isinstance(llm_config, LLMConfig):  # a config built in Python: its roles, then its default for the rest
        llm_config = {"defaults": _file_fields(llm_config.default),
                      "roles": {name: _file_fields(rc) for name, rc in llm_config.roles.items()}}
    return resolve(llm_config, model=model, base_url=base_url,
                   api_key_env=None if api_key_env == "OPENAI_API_KEY" else (api_key_env or ""),
                   temperature=None if temperature == 0.0 else temperature, roles=roles,
                   cache_path=cache_path, max_concurrency=max_concurrency,
                   timeout_s=timeout_s, max_retries=max_retries)


def _file_fields(rc) -> dict:
    """A RoleConfig in the file format's fields."""
    return {"model": rc.model, "base_url": rc.base_url, "api_key_env": rc.api_key_env, "temperature": rc.temperature,
            "max_tokens": rc.max_tokens, "top_p": rc.top_p, "extra": dict(rc.extra),
            "prices": {"input": rc.price_in_per_mtok, "output": rc.price_out_per_mtok}}


def from_recipe(recipe: BackendRecipe) -> World:
    """The world a :class:`~ppol_nb.worlds.recipe.BackendRecipe` names, built again (in a worker process).

    The offline world is imported only here and in :func:`make_backend`, lazily: it compiles its
    phrase patterns on import (about a second), which an openai run or a remote worker need not pay."""
    if recipe.kind == "openai":
        config = LLMConfig.from_dict(recipe.settings["llm"])
        return LLMBackend(LLMClient(config), agent=recipe.settings["agent"], name=recipe.settings["name"])
    if recipe.kind == "offline":
        from ..offline.backend import OfflineBackend

        return OfflineBackend(**recipe.settings)
    raise ValueError(f"unknown backend recipe kind {recipe.kind!r}")


__all__ = ["BACKENDS", "BackendRecipe", "from_recipe", "make_backend"]
