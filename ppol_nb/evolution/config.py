"""Settings of one evolutionary search run, with the paper's values as defaults.

``EvolutionConfig.profile("paper")`` is the PPol setup (App. B plus the authors'
OpenEvolve YAML): 5 islands, ring migration of the top 20 % every 5 iterations,
a 5x5 MAP-Elites grid per island on (human-likeness, coverage), 70 iterations,
early stop after 20 iterations without a new best, seed 42, a 1-hour evaluation timeout, and the
authors' rollout step caps:
20 τ² steps per training episode, 30 per validation episode. ``profile("ci")`` is a tiny run for
tests; ``profile("notebook")``, the default of notebooks 02 and 03, keeps ci's
small archive (2 islands, 10 programs) but runs 12 iterations with no early
stop, so that offline searches move off the seed within the main command's
10 minutes (only budget fields and ``rewrite_on_failed_diff`` differ from ci). ``from_yaml`` overrides either profile field by field
and rejects keys it does not know, so a typo never silently falls back to a
default.

Comparison (:mod:`.comparison`): ``comparison="raw"`` with
``confirm_evaluations=1`` (default, every profile) compares raw minibatch scores
across iterations, as the authors' OpenEvolve setup does; ``"paired"`` (the
``paired`` ablation variant, :mod:`.variants`; not in the paper) rates every
candidate by paired differences with the incumbent on the same minibatch, N and
λ, and crowns a new best only after it wins on the mean of
``confirm_evaluations`` paired differences.

What the LLM roles are sent (defaults: the authors' released code, ``ppol``
0.1.1 on OpenEvolve; ``docs/fidelity.md`` compares every element):
``mutator_prompt`` ``"authors"`` (the authors' system-message content and the
evolution history with the diversity note) or ``"ppol_nb"`` (this package's
earlier wording: a list of target traits and a description of the fitness in
the system message, no history); ``rewrite_on_failed_diff`` False (a reply
whose diff cannot be used is a failed candidate, recorded with the reason, and
the iteration is spent) or True (one follow-up asks for the whole program, and
a whole program given instead of blocks is accepted); ``reflection_prompt``
``"authors"`` (each task's scenario text, up to 2,200 characters, in the
reflection prompt; the reply kept whole up to 10,000 characters) or
``"ppol_nb"`` (no scenario text; reply cut at 300 words);
``generation_failure`` ``"skip_task"`` (a task whose persona generation fails
is left out and the candidate is scored on the other tasks of the minibatch,
the failure recorded in its artifacts; the candidate fails only when every
task fails) or ``"fail_candidate"`` (one failed task fails the candidate).
The ``ci`` and ``notebook`` profiles take the same values except
``rewrite_on_failed_diff`` (True in ``ci``: the follow-up keeps small endpoint
smoke runs from spending most iterations on failed diffs).

Search components (decision fields whose defaults are the paper; the fitness
ablations of :mod:`.variants` switch them): ``curriculum`` (N per epoch,
5 → 8 → 10), ``lambda_b_schedule`` (λ_b per epoch; None is the paper's ramp
λ_b = 0.5 · N / max(curriculum)), ``reflection`` (the evaluator writes a
critique for the mutator) and ``map_elites`` (grid elites per island; False
keeps a plain elitist population). A run stored before these fields existed
was made with their defaults.

Candidates in flight (``parallel_evaluations``, ``speculative_rescore``,
``background_validation``) default to None: *the world's choice*, filled in by
:meth:`EvolutionConfig.for_world` from the backend's ``search_defaults()`` when a
run is built (:func:`~ppol_nb.evolution.runs.build_run`). The offline world
keeps one candidate at a time, synchronous validation and no speculation (its
results are those of earlier releases); an endpoint world keeps
:data:`ENDPOINT_CANDIDATES_IN_FLIGHT` candidates in flight, starts the
incumbent's paired re-evaluation with the candidate, and validates new bests
in the background (measured in ``benchmarks/bench_search_endpoint.py``). The
resolved values are what a run records.

Fields split in two groups. *Decision* fields shape which parent is sampled
and what the archive holds; a resumed run must use the same values, or it
would no longer reproduce the uninterrupted run. *Budget* fields
(:data:`BUDGET_FIELDS`) only decide when to stop or how long to wait, so they
may change on resume (e.g. raise ``max_iterations`` to extend a run). The two
*execution* fields ``speculative_rescore`` and ``background_validation`` change
when work starts, never what is computed, so they are counted with the budgets.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..simulation.step_caps import EVAL_MAX_STEPS, TRAIN_MAX_STEPS
from .curriculum import PAPER_CURRICULUM
from .profiles import PROFILES

# Prompt wordings: the authors' released code, or this package's earlier one (docs/fidelity.md).
PROMPT_STYLES = ("authors", "ppol_nb")
GENERATION_FAILURE_RULES = ("skip_task", "fail_candidate")

# Fields that may differ between a run and its resumption.
BUDGET_FIELDS = frozenset(
    {
        "max_iterations",
        "early_stop_patience",
        "max_wall_time_s",
        "max_cost_usd",
        "eval_timeout_s",
        "propose_timeout_s",
        "validation_timeout_s",
        "validate_on_new_best",
        # Execution: when work starts, not what is computed (see EvolutionConfig).
        "speculative_rescore",
        "background_validation",
    }
)

# Candidates an endpoint world keeps in flight by default (benchmarks/bench_search_endpoint.py).
ENDPOINT_CANDIDATES_IN_FLIGHT = 4


@dataclass(frozen=True)
class EvolutionConfig:
    """Island-model MAP-Elites search settings.

    Archive
        ``islands`` independent sub-populations. ``population_size`` is the
        *total* capacity across islands (OpenEvolve's meaning); each island
        holds ``island_capacity = max(1, population_size // islands)`` programs.
        Grid elites are never evicted for capacity, so an island exceeds its
        capacity only when more cells are occupied than it has room for.
        ``feature_bins`` bins per behaviour coordinate; the coordinates are the
        evaluator metrics named in ``feature_keys`` (clipped to [0, 1]).
    Selection
        With probability ``elite_selection_ratio`` the parent is drawn uniformly
        from the island's grid elites, otherwise by a tournament of
        ``tournament_size`` members. ``num_inspirations`` top programs of the
        island (parent excluded) go to the mutator with the parent.
    Migration
        After every ``migration_interval``-th iteration, each island sends its top
        ``migration_rate`` fraction (at least one program) to the next island
        on a ring.
    Comparison
        ``comparison`` is ``"paired"`` (like-with-like ratings, see
        :mod:`.comparison`) or ``"raw"`` (raw minibatch scores, the authors'
        rule, the default). ``confirm_evaluations`` is K: a paired challenger must win on the
        mean of K paired differences (its own minibatch and the next K − 1) to
        become the new best; 1 disables confirmation.
    Budgets (first reached stops the run, recorded as an event)
        ``max_iterations`` candidates after the seed; ``early_stop_patience``
        iterations without a new best (None disables);
        ``max_wall_time_s`` per call to ``run``/``iterate``; ``max_cost_usd``
        summed over mutator, evaluator and validation costs.
    Execution
        ``parallel_evaluations`` candidates per round, decided from the state at
        the start of the round and evaluated concurrently in threads (None:
        the world's choice, see the module doc; an engine given None uses 1).
        ``speculative_rescore`` starts the incumbent's paired re-evaluation on
        a candidate's minibatch together with the candidate, instead of after
        it (one re-evaluation is wasted when the candidate fails).
        ``background_validation`` validates each new best in a thread while
        the next rounds run; the run waits for every validation before it
        returns. Neither changes any decision or value (None: the world's
        choice; an engine given None uses False).
        ``eval_timeout_s`` / ``propose_timeout_s`` / ``validation_timeout_s``
        bound one evaluation (or re-evaluation) / one mutator call / one
        validation (PPol's validation runs the held-out slice at every N, about
        13x a training minibatch); the engine stops waiting and records a
        timeout error.
    Rollouts
        ``train_max_steps`` caps every minibatch (training) episode and
        ``val_max_steps`` every validation episode, in τ² steps
        (:mod:`ppol_nb.simulation.runner`). The engine only records them;
        :func:`~ppol_nb.evolution.runs.build_run` hands them to the evaluator.
        They are decision fields: a cap changes every fitness value.
    Search components (defaults: the paper)
        ``curriculum`` personas per task for each completed sweep of the
        training pool (the last repeats; :mod:`.curriculum`).
        ``lambda_b_schedule`` the coverage weight λ_b per sweep (the last
        repeats; λ_h = 1 − λ_b); None derives it from N as the paper does,
        λ_b = 0.5 · N / max(curriculum). ``reflection`` False stops the
        evaluator writing its critique, so the mutator edits blind.
        ``map_elites`` False drops the behaviour grid: each island keeps its
        ``island_capacity`` best programs and parents come from tournaments
        only (``elite_selection_ratio`` is then unused).
    Prompts and failures (defaults: the authors' code; see the module doc)
        ``mutator_prompt``, ``rewrite_on_failed_diff``, ``reflection_prompt``,
        ``generation_failure``, ``history_size`` (the island's latest attempts
        shown to the mutator in the ``"authors"`` prompt; OpenEvolve's 3).
    """

    islands: int = 5
    migration_interval: int = 5
    migration_rate: float = 0.2
    population_size: int = 50
    feature_bins: int = 5
    feature_keys: tuple[str, str] = ("hl", "coverage")
    elite_selection_ratio: float = 0.2
    tournament_size: int = 3
    num_inspirations: int = 2
    max_iterations: int = 70
    early_stop_patience: int | None = 20
    seed: int = 42
    max_wall_time_s: float | None = None
    max_cost_usd: float | None = None
    parallel_evaluations: int | None = None
    speculative_rescore: bool | None = None
    background_validation: bool | None = None
    eval_timeout_s: float | None = 3600.0
    propose_timeout_s: float | None = 600.0
    validation_timeout_s: float | None = 3600.0
    skip_duplicates: bool = True
    validate_on_new_best: bool = True
    train_max_steps: int = TRAIN_MAX_STEPS
    val_max_steps: int = EVAL_MAX_STEPS
    comparison: str = "raw"
    confirm_evaluations: int = 1
    curriculum: tuple[int, ...] = PAPER_CURRICULUM
    lambda_b_schedule: tuple[float, ...] | None = None
    reflection: bool = True
    map_elites: bool = True
    mutator_prompt: str = "authors"
    rewrite_on_failed_diff: bool = False
    history_size: int = 3
    reflection_prompt: str = "authors"
    generation_failure: str = "skip_task"
    profile_name: str = field(default="paper", compare=False)

    # ------------------------------------------------------------------ checks
    def __post_init__(self) -> None:
        # YAML gives lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "feature_keys", tuple(self.feature_keys))
        if isinstance(self.curriculum, (list, tuple)):
            object.__setattr__(self, "curriculum", tuple(self.curriculum))
        if isinstance(self.lambda_b_schedule, (list, tuple)):
            object.__setattr__(self, "lambda_b_schedule", tuple(self.lambda_b_schedule))
        errors: list[str] = []

        def need(ok: bool, msg: str) -> None:
            if not ok:
                errors.append(msg)

        need(_is_int(self.islands) and self.islands >= 1, "islands must be an int >= 1")
        need(
            _is_int(self.migration_interval) and self.migration_interval >= 1, "migration_interval must be an int >= 1"
        )
        need(_is_num(self.migration_rate) and 0.0 <= self.migration_rate <= 1.0, "migration_rate must be in [0, 1]")
        need(_is_int(self.population_size) and self.population_size >= 1, "population_size must be an int >= 1")
        need(_is_int(self.feature_bins) and self.feature_bins >= 1, "feature_bins must be an int >= 1")
        need(
            len(self.feature_keys) == 2 and all(isinstance(k, str) and k for k in self.feature_keys),
            "feature_keys must name two metrics",
        )
        need(
            _is_num(self.elite_selection_ratio) and 0.0 <= self.elite_selection_ratio <= 1.0,
            "elite_selection_ratio must be in [0, 1]",
        )
        need(_is_int(self.tournament_size) and self.tournament_size >= 1, "tournament_size must be an int >= 1")
        need(_is_int(self.num_inspirations) and self.num_inspirations >= 0, "num_inspirations must be an int >= 0")
        need(_is_int(self.max_iterations) and self.max_iterations >= 0, "max_iterations must be an int >= 0")
        need(
            self.early_stop_patience is None or (_is_int(self.early_stop_patience) and self.early_stop_patience >= 1),
            "early_stop_patience must be None or an int >= 1",
        )
        need(_is_int(self.seed), "seed must be an int")
        for name in ("max_wall_time_s", "max_cost_usd", "eval_timeout_s", "propose_timeout_s",
                     "validation_timeout_s"):
            value = getattr(self, name)
            need(value is None or (_is_num(value) and value > 0), f"{name} must be None or > 0")
        need(
            self.parallel_evaluations is None or (_is_int(self.parallel_evaluations) and self.parallel_evaluations >= 1),
            "parallel_evaluations must be None or an int >= 1",
        )
        for name in ("speculative_rescore", "background_validation"):
            need(getattr(self, name) is None or isinstance(getattr(self, name), bool), f"{name} must be None or a bool")
        for name in ("train_max_steps", "val_max_steps"):
            need(_is_int(getattr(self, name)) and getattr(self, name) >= 1, f"{name} must be an int >= 1")
        need(self.comparison in ("paired", "raw"), "comparison must be 'paired' or 'raw'")
        need(_is_int(self.confirm_evaluations) and self.confirm_evaluations >= 1,
             "confirm_evaluations must be an int >= 1")
        need(isinstance(self.curriculum, tuple) and len(self.curriculum) >= 1
             and all(_is_int(n) and n >= 1 for n in self.curriculum),
             "curriculum must be a non-empty sequence of ints >= 1")
        need(self.lambda_b_schedule is None or (
            isinstance(self.lambda_b_schedule, tuple) and len(self.lambda_b_schedule) >= 1
            and all(_is_num(x) and 0.0 <= x <= 1.0 for x in self.lambda_b_schedule)),
            "lambda_b_schedule must be None or a non-empty sequence of numbers in [0, 1]")
        need(isinstance(self.reflection, bool), "reflection must be a bool")
        need(isinstance(self.map_elites, bool), "map_elites must be a bool")
        need(self.mutator_prompt in PROMPT_STYLES, f"mutator_prompt must be one of {PROMPT_STYLES}")
        need(self.reflection_prompt in PROMPT_STYLES, f"reflection_prompt must be one of {PROMPT_STYLES}")
        need(isinstance(self.rewrite_on_failed_diff, bool), "rewrite_on_failed_diff must be a bool")
        need(_is_int(self.history_size) and self.history_size >= 0, "history_size must be an int >= 0")
        need(self.generation_failure in GENERATION_FAILURE_RULES,
             f"generation_failure must be one of {GENERATION_FAILURE_RULES}")
        if errors:
            raise ValueError("invalid EvolutionConfig: " + "; ".join(errors))

    @property
    def island_capacity(self) -> int:
        """Programs one island keeps (grid elites may push it over; see class doc)."""
        return max(1, self.population_size // self.islands)

    def migrants_per_island(self, population: int) -> int:
        """How many of an island's ``population`` programs migrate (top fraction, >= 1)."""
        if population == 0 or self.migration_rate == 0:
            return 0
        # The epsilon keeps 0.2 * 10 at 2 despite binary floating point.
        return max(1, math.floor(self.migration_rate * population + 1e-9))

    # ------------------------------------------------------------ construction
    @classmethod
    def profile(cls, name: str = "paper", **overrides: Any) -> EvolutionConfig:
        """A named preset (``"paper"``, ``"notebook"`` or ``"ci"``), optionally with field overrides."""
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
        base = cls(profile_name=name, **PROFILES[name])
        return base.replace(**overrides) if overrides else base

    def for_world(self, defaults: dict[str, Any] | None = None) -> EvolutionConfig:
        """Fields left to the world (None) filled from ``defaults`` (a backend's
        ``search_defaults()``), else one candidate, no speculation, synchronous validation."""
        fallback = {"parallel_evaluations": 1, "speculative_rescore": False, "background_validation": False}
        chosen = {**fallback, **{k: v for k, v in (defaults or {}).items() if k in fallback}}
        fill = {k: chosen[k] for k in fallback if getattr(self, k) is None}
        return self.replace(**fill) if fill else self

    def replace(self, **changes: Any) -> EvolutionConfig:
        """A copy with some fields changed (unknown names raise a clear error)."""
        _check_keys(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: str | EvolutionConfig = "paper") -> EvolutionConfig:
        """``base`` (a profile name or a config) with the fields in ``data`` replaced.

        A ``profile`` key in ``data`` selects the base profile by name.
        """
        data = dict(data)
        if "profile" in data:
            base = data.pop("profile")
        start = cls.profile(base) if isinstance(base, str) else base
        return start.replace(**data)

    @classmethod
    def from_yaml(cls, path: str | Path, base: str | EvolutionConfig = "paper") -> EvolutionConfig:
        """Load overrides from a YAML mapping (optionally nested under ``evolution:``)."""
        import yaml

        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        if isinstance(data, dict) and set(data) == {"evolution"}:
            data = data["evolution"] or {}
        if not isinstance(data, dict):
            raise TypeError(f"{path}: expected a mapping of EvolutionConfig fields, got {type(data).__name__}")
        try:
            return cls.from_dict(data, base=base)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-friendly dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["feature_keys"] = list(self.feature_keys)
        out["curriculum"] = list(self.curriculum)
        if self.lambda_b_schedule is not None:
            out["lambda_b_schedule"] = list(self.lambda_b_schedule)
        return out

    def decision_diff(self, other: EvolutionConfig) -> dict[str, tuple[Any, Any]]:
        """Decision fields (not budgets) whose values differ: ``{name: (self, other)}``."""
        mine, theirs = self.to_dict(), other.to_dict()
        skip = BUDGET_FIELDS | {"profile_name"}
        if mine["comparison"] == theirs["comparison"] == "raw":
            skip = skip | {"confirm_evaluations"}  # the raw rule never confirms
        return {k: (mine[k], theirs[k]) for k in mine if k not in skip and mine[k] != theirs[k]}


def _field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(EvolutionConfig)]


def _check_keys(data: dict[str, Any]) -> None:
    known = _field_names()
    unknown = [k for k in data if k not in known]
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), known, n=1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ValueError(f"unknown EvolutionConfig key(s): {', '.join(hints)}; valid keys: {', '.join(known)}")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# Values of fields a run database made before they existed was decided with:
# runs from before :mod:`.comparison` compared raw scores without confirmation.
# Runs from before the prompt and failure fields sent this package's earlier prompts, asked for a
# whole program after an unusable diff, and failed a candidate on any failed generation.
LEGACY_DECISIONS: dict[str, Any] = {"comparison": "raw", "confirm_evaluations": 1,
                                    "mutator_prompt": "ppol_nb", "rewrite_on_failed_diff": True, "history_size": 3,
                                    "reflection_prompt": "ppol_nb", "generation_failure": "fail_candidate"}

# Fields added after runs were first stored; a run identity leaves them out while they hold these
# values (what runs made before them were made with), so those runs still resume.
COMPONENT_DEFAULTS: dict[str, Any] = {"curriculum": list(PAPER_CURRICULUM), "lambda_b_schedule": None,
                                      "reflection": True, "map_elites": True,
                                      **{k: v for k, v in LEGACY_DECISIONS.items()
                                         if k not in ("comparison", "confirm_evaluations")}}
