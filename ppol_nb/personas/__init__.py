"""Persona policies: records, generator programs, injection, conditions."""

from .record import MIN_INSTRUCTION_CHARS, Persona, PersonaError, validate_population

__all__ = ["MIN_INSTRUCTION_CHARS", "Persona", "PersonaError", "validate_population"]
