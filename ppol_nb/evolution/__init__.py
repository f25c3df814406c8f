"""Evolutionary program search for PPol: islands + MAP-Elites, resumable and budgeted.

Quick use::

    from ppol_nb.evolution import EvolutionConfig, EvolutionEngine

    engine = EvolutionEngine(EvolutionConfig.profile("ci"), evaluator, mutator,
                             run_dir="runs/evo-demo", seed_program=source)
    summary = engine.run()
    engine.history()          # one row per program
    engine.archive_grid()     # 5x5 elite scores for a heatmap

The engine is generic: PPol's fitness and LLM mutator implement the small
:class:`Evaluator` / :class:`Mutator` protocols in :mod:`.interfaces`.
"""

# Lazily (PEP 562): ``from ppol_nb.evolution.interfaces import Mutator`` — the engine's contract, which
# ppol_nb.worlds.contracts re-exports — must not import the engine, the fitness model and numpy with it.
_EXPORTS = {
    "Archive": "archive", "Island": "archive",
    "BUDGET_FIELDS": "config", "PROFILES": "config", "EvolutionConfig": "config",
    "RunDatabase": "database",
    "EvolutionEngine": "engine", "SeedProgramError": "engine",
    "Evaluation": "interfaces", "Evaluator": "interfaces", "Mutator": "interfaces", "ProgramRecord": "interfaces",
    "Proposal": "interfaces",
    "derive_rng": "seeding", "program_id": "seeding",
    "RunSummary": "summary", "Step": "summary",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "BUDGET_FIELDS",
    "PROFILES",
    "Archive",
    "Evaluation",
    "Evaluator",
    "EvolutionConfig",
    "EvolutionEngine",
    "Island",
    "Mutator",
    "ProgramRecord",
    "Proposal",
    "RunDatabase",
    "RunSummary",
    "SeedProgramError",
    "Step",
    "derive_rng",
    "program_id",
]
