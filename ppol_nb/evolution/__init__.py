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

from .archive import Archive, Island
from .config import BUDGET_FIELDS, PROFILES, EvolutionConfig
from .database import RunDatabase
from .engine import EvolutionEngine, SeedProgramError
from .interfaces import Evaluation, Evaluator, Mutator, ProgramRecord, Proposal
from .seeding import derive_rng, program_id
from .summary import RunSummary, Step

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
