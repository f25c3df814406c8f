"""A world's recipe: the plain, picklable settings that rebuild it in another process.

A backend's ``recipe()`` returns a :class:`BackendRecipe`; an executor of
:mod:`ppol_nb.execution` ships it to a worker, where
:func:`ppol_nb.worlds.registry.from_recipe` builds the same world again (the
recipe has no ``build()`` of its own: that would point from this bottom module
back up to the registry, a circle). The
recipe is data only, so both worlds (:mod:`ppol_nb.offline` and
:mod:`ppol_nb.worlds.llm`) can make one without importing the registry or each
other; only the registry turns a ``kind`` into a constructor.

Guarantees: no open connection or file, no ledger rows, no secret (API keys are
named by variable and read where the backend runs). This module imports only the
standard library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackendRecipe:
    """How to build an equivalent backend in another process (a worker of :mod:`ppol_nb.execution`)."""

    kind: str  # a name of ppol_nb.worlds.registry.BACKENDS: "openai" | "offline"
    settings: dict


__all__ = ["BackendRecipe"]
