"""The public name of the world registry: ``from ppol_nb.backends import make_backend``.

Notebooks, the docs and users choose a world here, as they always have; the code
now lives in :mod:`ppol_nb.worlds` (issue 23): the registry
(:mod:`ppol_nb.worlds.registry`, the only module that names ``"offline"`` and
``"openai"``), the LLM world (:mod:`ppol_nb.worlds.llm`), the recipe
(:mod:`ppol_nb.worlds.recipe`) and the role contracts
(:mod:`ppol_nb.worlds.contracts`). Code inside the package imports those modules,
never this alias; this module only re-exports them (the same objects, so
``isinstance`` checks and pickles agree).
"""

from __future__ import annotations

from .worlds.llm import AGENTS, EPISODES_IN_FLIGHT, LLMBackend
from .worlds.recipe import BackendRecipe
from .worlds.registry import BACKENDS, from_recipe, make_backend

__all__ = ["AGENTS", "BACKENDS", "EPISODES_IN_FLIGHT", "BackendRecipe", "LLMBackend", "OfflineBackend",  # noqa: F822
           "from_recipe", "make_backend"]  # OfflineBackend: provided lazily by __getattr__ below


def __getattr__(name: str):
    # The offline world compiles its phrase patterns on import (about a second): only a
    # process that uses it pays for that, not an openai run or a remote episode worker.
    if name == "OfflineBackend":
        from .offline.backend import OfflineBackend

        return OfflineBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
