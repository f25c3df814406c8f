"""The search profiles by name: each one's overrides of :class:`~.config.EvolutionConfig`'s defaults.

``paper`` is the paper's setting (App. B; the defaults themselves), ``ci`` and ``notebook`` are small
archives for tests and the notebooks. Plain data, importing nothing: the CLI reads the names for
``--profile`` at start-up without loading the search (:meth:`~.config.EvolutionConfig.profile`
applies and validates them).
"""

from __future__ import annotations

from typing import Any

PROFILES: dict[str, dict[str, Any]] = {
    # Paper App. B + [code] OpenEvolve YAML / CLI defaults.
    "paper": {},
    # Seconds, not hours: for tests, CI and smoke-running notebooks.
    "ci": {
        "islands": 2,
        "migration_interval": 3,
        "population_size": 10,
        "max_iterations": 6,
        "early_stop_patience": 4,
        # Small endpoint smoke runs: one follow-up for an unusable diff, so few iterations are spent on them.
        "rewrite_on_failed_diff": True,
        "eval_timeout_s": 60.0,
        "propose_timeout_s": 60.0,
        # A retail validation (14 tasks x 23 personas) takes ~1 min offline on a busy laptop.
        "validation_timeout_s": 900.0,
    },
    # The notebooks' default (02, 03): small archive, but enough iterations for the
    # offline search to move off the seed within the main command's 10 minutes.
    "notebook": {
        "islands": 2,
        "migration_interval": 3,
        "population_size": 10,
        "max_iterations": 12,
        "early_stop_patience": None,
        "eval_timeout_s": 60.0,
        "propose_timeout_s": 60.0,
        "validation_timeout_s": 900.0,
    },
}

NAMES: tuple[str, ...] = tuple(sorted(PROFILES))  # the CLI's --profile choices
