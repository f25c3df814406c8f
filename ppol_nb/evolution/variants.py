"""Search variants for the fitness ablations: named changes on top of an EvolutionConfig profile.

The paper (PPol, arXiv:2605.12894) reports none of these ablations: it asserts
that both fitness terms are needed, that the λ ramp and the N curriculum help,
and that reflection-guided edits beat blind mutation, without showing it. These
variants are an extension of the paper, not a reproduction of it.

Every variant is the profile (``ci`` or ``paper``) with the fields below
replaced, and nothing else: same budget (``max_iterations``, early stop, step
caps), same islands' total population, and the seed given to
:func:`variant_config`.

==============  ==========================================================================
``paper``       the paper: N = 5 → 8 → 10 per sweep, λ_b = 0.5 · N / 10 (0.25 → 0.4 → 0.5)
``hl_only``     λ_b = 0 throughout (fitness = mean P(human))
``coverage_only`` λ_h = 0 throughout (fitness = coverage)
``fixed_lambda`` λ = 0.5 / 0.5 throughout (N still follows the curriculum)
``no_reflection`` the evaluator writes no critique; the mutator edits blind
``no_map_elites`` no behaviour grid: a plain elitist population per island, tournament parents
``no_curriculum`` N = 10 throughout; λ keeps the paper's ramp by sweep (0.25 → 0.4 → 0.5), so
                only N changes (the paper's λ(N) rule would also fix λ at 0.5)
``one_island``  one island holding the whole population (no migration)
``paired``      a new best by paired comparison with the incumbent on the same minibatch,
                confirmed on the next minibatch (``comparison="paired"``,
                ``confirm_evaluations=2``; this package's earlier rule) instead of the
                authors' raw minibatch score: costs the incumbent's re-evaluations
==============  ==========================================================================

What stays the paper's in every variant: the checkpoint rule. Each run's final
program is the best mean validation score at λ = 0.5 / 0.5 over the N of its
curriculum (so ``no_curriculum`` validates at N = 10 only), so variants differ
in how they search, not in how the result is picked; the held-out evaluation
(:mod:`ppol_nb.studies.ablation`) also scores every variant at λ = 0.5 / 0.5.
"""

from __future__ import annotations

from types import MappingProxyType

from ..fitness.score import lambda_schedule
from .config import EvolutionConfig
from .curriculum import PAPER_CURRICULUM

# The paper's λ_b per sweep of the training pool, written out (λ(N) of the N curriculum).
PAPER_LAMBDA_B = tuple(lambda_schedule(n, n_final=max(PAPER_CURRICULUM))[1] for n in PAPER_CURRICULUM)

VARIANTS = MappingProxyType({
    "paper": {},
    "hl_only": {"lambda_b_schedule": (0.0,)},
    "coverage_only": {"lambda_b_schedule": (1.0,)},
    "fixed_lambda": {"lambda_b_schedule": (0.5,)},
    "no_reflection": {"reflection": False},
    "no_map_elites": {"map_elites": False},
    "no_curriculum": {"curriculum": (10,), "lambda_b_schedule": PAPER_LAMBDA_B},
    "one_island": {"islands": 1},
    "paired": {"comparison": "paired", "confirm_evaluations": 2},
})
"""Variant name -> the EvolutionConfig fields it changes."""


def variant_config(name: str, profile: str | EvolutionConfig = "ci", seed: int | None = None) -> EvolutionConfig:
    """The config of variant ``name`` on ``profile`` (a profile name or a config), with ``seed`` if given."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    base = EvolutionConfig.profile(profile) if isinstance(profile, str) else profile
    config = base.replace(**VARIANTS[name])
    return config.replace(seed=int(seed)) if seed is not None else config


def parse_variants(text: str) -> list[str]:
    """``"paper,hl_only"`` -> names, checked, in the order given, without repeats."""
    names = list(dict.fromkeys(n.strip() for n in str(text).split(",") if n.strip()))
    unknown = [n for n in names if n not in VARIANTS]
    if not names or unknown:
        raise ValueError(f"unknown or no variant(s) {unknown or text!r}; choose from {', '.join(VARIANTS)}")
    return names


__all__ = ["PAPER_LAMBDA_B", "VARIANTS", "parse_variants", "variant_config"]
