"""Persona policies: records, generator programs, injection, conditions."""

from .record import BEHAVIOURS, MIN_INSTRUCTION_CHARS, Persona, PersonaError, validate_population

__all__ = ["BEHAVIOURS", "MIN_INSTRUCTION_CHARS", "Persona", "PersonaError", "validate_population"]
