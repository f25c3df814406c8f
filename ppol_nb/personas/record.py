"""The persona record, under its old name: it lives in :mod:`ppol_nb.simulation.persona`.

The episode runner rebuilds personas from jobs, so the record sits below it (issue 23); this
module keeps ``from ppol_nb.personas.record import Persona`` working (the same objects).
"""

from ..simulation.persona import (
    MAX_DESCRIPTION_CHARS,
    MAX_ID_CHARS,
    MAX_INSTRUCTION_CHARS,
    MAX_REASONING_CHARS,
    MIN_INSTRUCTION_CHARS,
    Persona,
    PersonaError,
    slug,
    validate_population,
)

__all__ = ["MAX_DESCRIPTION_CHARS", "MAX_ID_CHARS", "MAX_INSTRUCTION_CHARS", "MAX_REASONING_CHARS",
           "MIN_INSTRUCTION_CHARS", "Persona", "PersonaError", "slug", "validate_population"]
