"""What the engine exchanges with the outside: program records, mutators, evaluators.

The engine knows nothing about personas, τ² or LLMs. A *mutator* turns a parent
program (plus a few inspirations) into a new source; an *evaluator* turns a
source into metrics. PPol's real ones (LLM SEARCH/REPLACE diffs with mutation
angles and reflection; minibatch fitness with the N curriculum) plug in here.

Contract for metrics: ``"score"`` is the fitness to maximise (PPol's M), and the
two behaviour coordinates named by ``EvolutionConfig.feature_keys`` (default
``"hl"`` and ``"coverage"``) place the program in the MAP-Elites grid; values
outside [0, 1] are clipped for binning only. An evaluation with ``error`` set is
kept in the lineage but never enters an archive.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

# Ledger roles the engine writes itself.
ROLE_MUTATOR = "mutator"
ROLE_EVALUATOR = "evaluator"
ROLE_VALIDATION = "validation"
ROLE_RESCORE = "rescore"  # re-evaluations for paired comparison and confirmation (see .comparison)


@dataclass
class ProgramRecord:
    """One evaluated candidate: its source, where it came from and how it scored.

    ``island`` is the island the program was *born* on; migration copies island
    membership, not records, so every program appears exactly once in the
    lineage. ``llm_calls``/``cost_usd`` are the mutator's plus the evaluator's for
    this program (validation and re-evaluations are accounted separately in the
    run's ledger). ``score`` is the raw fitness on the program's own minibatch;
    ``rating`` is the engine's like-with-like estimate on the run's common scale
    (:mod:`.comparison`), set when the program enters the archive, and
    ``comparison`` records how it was obtained (pairs, incumbent, confirmation).
    """

    id: str
    source: str
    parent_id: str | None
    island: int
    iteration: int
    generation: int
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    diff: str | None = None
    mutation_kind: str | None = None
    mutation_angle: str | None = None
    mutation_notes: str | None = None
    inspiration_ids: list[str] = field(default_factory=list)
    llm_calls: int = 0
    cost_usd: float = 0.0
    created_at: float = 0.0
    eval_duration_s: float = 0.0
    artifacts: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    rating: float | None = None
    comparison: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the program evaluated without error (eligible for the archive)."""
        return self.error is None

    @property
    def score(self) -> float:
        return float(self.metrics.get("score", 0.0)) if self.ok else 0.0

    @property
    def selection_score(self) -> float:
        """What every ranking compares: the rating once the engine set it, else the raw score."""
        if not self.ok:
            return 0.0
        return float(self.rating) if self.rating is not None else self.score

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Proposal:
    """A mutator's answer: the child's full source plus how it was obtained."""

    source: str
    diff: str | None = None
    kind: str = "rewrite"  # "diff" | "rewrite" | "transform" | ...
    angle: str | None = None  # PPol's mutation angle, if any
    llm_calls: int = 0
    cost_usd: float = 0.0
    notes: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Attempt:
    """One earlier candidate of an island as the mutator's evolution history shows it.

    ``metrics``/``parent_metrics`` are the candidate's and its parent's fitness
    terms (empty for a failed candidate, whose ``error`` says why it failed).
    """

    iteration: int
    kind: str | None
    angle: str | None
    notes: str | None
    metrics: dict[str, float]
    parent_metrics: dict[str, float]
    error: str | None = None


@dataclass
class Evaluation:
    """An evaluator's answer for one source."""

    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)
    llm_calls: int = 0
    cost_usd: float = 0.0
    duration_s: float | None = None  # None: the engine uses its own wall-clock measure


@runtime_checkable
class Mutator(Protocol):
    """Proposes a child program.

    ``rng`` is derived from (run seed, iteration) by the engine: use it (and only
    it) for every random choice, e.g. the mutation angle, so a resumed run makes
    the same choices. ``inspirations`` are the island's best programs other than
    the parent, best first. Raising an exception records a failed candidate.
    A mutator whose ``propose`` takes a ``history`` keyword is also given the
    island's latest attempts (:class:`Attempt`, most recent first), taken from
    the archive as it stood when the round started.
    """

    def propose(
        self,
        parent: ProgramRecord,
        inspirations: list[ProgramRecord],
        rng: random.Random,
        iteration: int,
    ) -> Proposal: ...


@runtime_checkable
class Evaluator(Protocol):
    """Scores a source; may also define ``validate(record) -> dict``.

    ``iteration`` lets a fitness pick its minibatch and curriculum step
    deterministically (PPol: sliding windows of 5 tasks, N = 5 -> 8 -> 10 by
    epoch). Raising an exception, or returning ``error``, records a failed
    program. The optional ``validate`` hook is called when the run's best program
    changes (PPol: held-out slice at N = 5, 8, 10); its dict is stored in the
    record's ``validation`` field. Put the checkpoint-selection number under
    ``"score"`` and any spend under ``"llm_calls"`` / ``"cost_usd"``.

    The engine also calls the fitness with an ``iteration`` other than the
    program's own, to re-score the incumbent and challengers on the same
    minibatch as a candidate (:mod:`.comparison`); the result must depend on
    (source, iteration) only, never on which program is asking. An optional
    ``rescore(source, iteration, program_id)`` is used for these calls instead
    of ``evaluate`` (e.g. to skip feedback nobody reads).
    """

    def evaluate(self, source: str, iteration: int, program_id: str) -> Evaluation: ...


def as_evaluation(value: Evaluation | dict) -> Evaluation:
    """Accept a bare metrics dict from simple evaluators."""
    if isinstance(value, Evaluation):
        return value
    if isinstance(value, dict):
        return Evaluation(metrics=dict(value))
    raise TypeError(f"evaluate() must return Evaluation or a metrics dict, got {type(value).__name__}")


def as_proposal(value: Proposal | str) -> Proposal:
    """Accept a bare source string from simple mutators."""
    if isinstance(value, Proposal):
        return value
    if isinstance(value, str):
        return Proposal(source=value)
    raise TypeError(f"propose() must return Proposal or a source string, got {type(value).__name__}")
