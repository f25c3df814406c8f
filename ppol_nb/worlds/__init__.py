"""Worlds: who answers every LLM role of an episode and a search (issue 23, item 1).

For now this package holds the typed contracts only (:mod:`.contracts`); the
registry that chooses a world is still :func:`ppol_nb.backends.make_backend`,
and the two worlds live in :mod:`ppol_nb.backends` (LLM) and
:mod:`ppol_nb.offline` (deterministic stand-ins).
"""

from .contracts import STOP_TOKEN, Agent, GeneratorWorld, Reflector, UserSimulator, World

__all__ = ["STOP_TOKEN", "Agent", "GeneratorWorld", "Mutator", "Reflector", "UserSimulator", "World"]


def __getattr__(name: str):
    if name == "Mutator":  # lazily, as in .contracts: the engine's own protocol
        from .contracts import Mutator

        return Mutator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
