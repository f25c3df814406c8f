"""Worlds: who answers every LLM role of an episode and a search (issue 23, item 1).

* :mod:`.registry` — :func:`~.registry.make_backend` and :func:`~.registry.from_recipe`, the one
  place that names the worlds (``"offline"``, ``"openai"``); ``ppol_nb.backends`` is its public alias;
* :mod:`.llm` — the LLM world (:class:`~.llm.LLMBackend`, :class:`~.llm.LLMGeneratorWorld`);
  the offline world is :mod:`ppol_nb.offline`; neither imports the other;
* :mod:`.contracts` — the typed protocol of every role and of a world, which both satisfy;
* :mod:`.recipe` — a world's picklable recipe for worker processes (standard library only).

Importing this package loads the contracts only, never a world.
"""

from .contracts import (
    STOP_TOKEN,
    Agent,
    GeneratorWorld,
    Mutator,
    Reflector,
    UserSimulator,
    World,
)

__all__ = ["STOP_TOKEN", "Agent", "GeneratorWorld", "Mutator", "Reflector", "UserSimulator", "World"]
