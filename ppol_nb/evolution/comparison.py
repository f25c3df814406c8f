"""Like-with-like fitness comparison: paired differences against the incumbent, one rating scale.

The problem (GitHub issue 8, item 6)
    PPol's fitness M(G; T) (paper Eq. 4) is measured on a *different*
    minibatch T at every iteration, with N personas per task and weights
    (λ_h, λ_b) that follow the curriculum (N = 5 → 8 → 10, λ_h = 0.75 → 0.5;
    :mod:`.curriculum`). Raw M values of two iterations are therefore not
    comparable: an N = 5 score weighted 0.75 on human-likeness is not on the
    same scale as an N = 10 score weighted 0.5 (where offline coverage is near
    0), and one episode per (task, persona) makes each value noisy. Comparing
    raw values ("new best", MAP-Elites cell replacement, parent selection,
    early stopping) lets an early or lucky candidate block the search. The
    authors' OpenEvolve setup compares raw values; that is the ``"raw"`` rule,
    every profile's default (``docs/fidelity.md``).

The ``"paired"`` rule (the ``paired`` ablation variant, :mod:`.variants`)
    *Context.* Fitness call index ``t`` fixes the minibatch B_t, N_t and λ_t
    (:func:`.curriculum.minibatch_for`); ``s(p, t)`` is program p's M on it.
    A program that fails on a context scores 0 there (PPol's convention for a
    failed fitness call).

    *Incumbent.* The run's current best program I. Every candidate of a round
    is paired with the incumbent at the *start* of that round.

    *Paired difference.* Candidate c, born at iteration t, is compared with I
    on the same context: ``d_t = s(c, t) − s(I, t)``. ``s(I, t)`` is a
    re-evaluation of I, computed once per (program, context) and stored in the
    run database (``fitness_evals``); every later need for it re-uses the
    stored value instead of running the rollouts again.

    *Racing confirmation.* If ``d_t > 0`` (c is a *challenger*), both programs
    are also evaluated on the next ``K − 1`` contexts t+1, ..., t+K−1
    (``K = confirm_evaluations``, 2 in the variant). Those contexts are exactly the
    ones the next iterations use, so the winner's extra evaluations are re-used
    as the next candidates' pairings: confirmation costs little beyond the
    loser's K − 1 evaluations.

    *Rating.* ``rating(c) = rating(I) + mean_k d_k`` over all pairs of c (one,
    or K for a challenger). The seed's rating is its own score at iteration 0,
    so every rating reads as "M on the seed's context (B_0, N = 5, λ_h = 0.75),
    estimated through a chain of paired differences". Differences taken at
    other N/λ are summed onto that scale; each difference is like-with-like,
    the sum is an approximation, and it is the only scale the search uses.

    *New best.* c becomes the incumbent when it is a challenger, the mean of
    its K paired differences is strictly positive, and its rating exceeds the
    current best's rating (with one candidate per round the last condition is
    implied; in a parallel round an earlier candidate may already have taken
    the crown).

    *Everything that ranks programs uses the rating*: new best, MAP-Elites
    cell replacement and capacity eviction, tournament and elite parent
    selection, inspirations, migration, early stopping (iterations since the
    last confirmed new best), and the training-score fallback of the benchmark.

Guarantees
    The rating of a candidate is a deterministic function of stored scores and
    of the incumbent at its round's start, so a resumed run (even after
    ``kill -9`` in the middle of a confirmation) recomputes exactly the ratings
    and decisions of the uninterrupted run, and re-runs only evaluations that
    were in flight. Infrastructure trouble on the incumbent's re-evaluation
    counts as its score 0 for that one context, which can make a candidate a
    challenger but cannot crown it without winning on average over K contexts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RULE_PAIRED = "paired"
RULE_RAW = "raw"
RULES = (RULE_PAIRED, RULE_RAW)


def contexts_for(iteration: int, confirm_evaluations: int) -> list[int]:
    """Contexts a challenger born at ``iteration`` is compared on: its own, then the next K − 1."""
    return [iteration + k for k in range(max(1, int(confirm_evaluations)))]


@dataclass(frozen=True)
class Pair:
    """Candidate and incumbent on one context."""

    context: int
    score: float
    incumbent_score: float

    @property
    def diff(self) -> float:
        return self.score - self.incumbent_score

    def to_dict(self) -> dict[str, float]:
        return {"context": self.context, "score": self.score, "incumbent_score": self.incumbent_score,
                "diff": self.diff}


@dataclass(frozen=True)
class Comparison:
    """How a candidate was rated, and whether it may take the crown."""

    rule: str
    rating: float
    incumbent_id: str | None = None
    incumbent_rating: float | None = None
    pairs: tuple[Pair, ...] = field(default_factory=tuple)
    challenger: bool = False
    confirmed: bool = False

    @property
    def mean_diff(self) -> float | None:
        return sum(p.diff for p in self.pairs) / len(self.pairs) if self.pairs else None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "rating": self.rating, "incumbent_id": self.incumbent_id,
                "incumbent_rating": self.incumbent_rating, "pairs": [p.to_dict() for p in self.pairs],
                "mean_diff": self.mean_diff, "challenger": self.challenger, "confirmed": self.confirmed}


def reference(score: float, rule: str) -> Comparison:
    """The first program of a run (the seed): its own score is the origin of the rating scale."""
    return Comparison(rule=rule, rating=float(score), confirmed=True)


def raw(score: float) -> Comparison:
    """The ``"raw"`` rule: the rating is the candidate's own minibatch score."""
    return Comparison(rule=RULE_RAW, rating=float(score), confirmed=True)


def needed(iteration: int, incumbent_id: str, candidate_id: str, known, confirm_evaluations: int
           ) -> list[tuple[str, int]]:
    """``(program_id, context)`` scores still missing to finish a paired comparison, in a fixed order.

    ``known(program_id, context)`` returns a stored score or None. The first
    pair is always needed; confirmation contexts only once the first pair
    shows a challenger.
    """
    first = known(incumbent_id, iteration)
    if first is None:
        return [(incumbent_id, iteration)]
    if known(candidate_id, iteration) - first <= 0:
        return []
    missing = []
    for ctx in contexts_for(iteration, confirm_evaluations)[1:]:
        for pid in (candidate_id, incumbent_id):
            if known(pid, ctx) is None:
                missing.append((pid, ctx))
    return missing


def paired(iteration: int, incumbent_id: str, incumbent_rating: float, candidate_id: str, known,
           confirm_evaluations: int) -> Comparison:
    """The candidate's paired comparison (every score must be known: see :func:`needed`)."""
    missing = needed(iteration, incumbent_id, candidate_id, known, confirm_evaluations)
    if missing:
        raise ValueError(f"cannot compare iteration {iteration}: scores missing for {missing}")
    first = Pair(iteration, known(candidate_id, iteration), known(incumbent_id, iteration))
    challenger = first.diff > 0
    contexts = contexts_for(iteration, confirm_evaluations) if challenger else [iteration]
    pairs = tuple(Pair(ctx, known(candidate_id, ctx), known(incumbent_id, ctx)) for ctx in contexts)
    mean = sum(p.diff for p in pairs) / len(pairs)
    return Comparison(rule=RULE_PAIRED, rating=float(incumbent_rating + mean), incumbent_id=incumbent_id,
                      incumbent_rating=float(incumbent_rating), pairs=pairs, challenger=challenger,
                      confirmed=challenger and mean > 0)


__all__ = ["RULES", "RULE_PAIRED", "RULE_RAW", "Comparison", "Pair", "contexts_for", "needed", "paired", "raw",
           "reference"]
