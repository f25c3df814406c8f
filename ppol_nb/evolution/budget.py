"""What a PPol run will cost before it starts: episodes and LLM calls per role.

Exact where the schedule decides (episodes per fitness call from the minibatch
curriculum; generator calls of a seed-shaped program: one population call plus
one expansion per persona; one reflection per fitness call; one mutation per
iteration), assumed where the dialogue decides: how many user and agent calls an
episode takes (:data:`CALLS_PER_EPISODE`, a rough τ² figure — tool calls count
as agent calls) and how often the elite changes (each change triggers one
validation; the seed is always validated).

Re-evaluations of the paired comparison (:mod:`.comparison`) are counted as
*rescore* fitness calls: one incumbent re-evaluation per candidate (an upper
bound: failed candidates need none) plus ``confirm_evaluations − 1`` per
challenger (the loser's confirmation evaluations; the winner's are re-used as
the next pairings), with :data:`ASSUMED_CHALLENGER_RATE` of candidates assumed
to be challengers. Each is costed like an own evaluation of that iteration's
context, without reflection. Persona and response caches make a rerun cheaper
than this.
"""

from __future__ import annotations

from .curriculum import minibatch_for

# Assumed mean calls per τ² episode (retail/airline with an LLM agent, max_steps 100).
CALLS_PER_EPISODE = {"user": 10, "agent": 15}
ASSUMED_VALIDATIONS = 10
ASSUMED_CHALLENGER_RATE = 0.3  # share of candidates that win their first pair


def estimate(train_pool, n_val: int, max_iterations: int, minibatch_size: int = 5, curriculum=(5, 8, 10),
             validations: int = ASSUMED_VALIDATIONS, calls_per_episode=None, comparison: str = "paired",
             confirm_evaluations: int = 2, challenger_rate: float = ASSUMED_CHALLENGER_RATE) -> dict:
    """Episodes and calls for fitness calls 0..``max_iterations``, their re-evaluations
    (``comparison="paired"``) and ``validations`` validations."""
    if comparison not in ("paired", "raw"):
        raise ValueError("comparison must be 'paired' or 'raw'")
    per_episode = dict(calls_per_episode or CALLS_PER_EPISODE)
    phases: list[dict] = []  # runs of consecutive iterations with the same N
    episodes = generator = 0
    rescore_calls = rescore_episodes = rescore_generator = 0.0
    per_candidate = (1 + challenger_rate * (max(1, confirm_evaluations) - 1)) if comparison == "paired" else 0.0
    for t in range(max_iterations + 1):
        mb = minibatch_for(train_pool, t, minibatch_size, curriculum)
        episodes += mb.n_episodes
        generator += len(mb.task_ids) * (mb.n + 1)
        if t > 0:
            rescore_calls += per_candidate
            rescore_episodes += per_candidate * mb.n_episodes
            rescore_generator += per_candidate * len(mb.task_ids) * (mb.n + 1)
        if phases and phases[-1]["n"] == mb.n:
            phases[-1]["last"] = t
        else:
            phases.append({"n": mb.n, "first": t, "last": t, "episodes_per_iteration": mb.n_episodes})
    val_episodes = n_val * sum(curriculum)
    val_generator = n_val * sum(n + 1 for n in curriculum)
    rescore_episodes = round(rescore_episodes)
    total_episodes = episodes + rescore_episodes + validations * val_episodes
    calls = {
        "user": total_episodes * per_episode["user"],
        "agent": total_episodes * per_episode["agent"],
        "generator": generator + round(rescore_generator) + validations * val_generator,
        "reflection": max_iterations + 1,
        "mutator": max_iterations,
    }
    return {"fitness_calls": max_iterations + 1, "phases": phases, "training_episodes": episodes,
            "comparison": comparison, "rescore_calls": round(rescore_calls), "rescore_episodes": rescore_episodes,
            "challenger_rate_assumed": challenger_rate if comparison == "paired" else None,
            "episodes_per_validation": val_episodes, "validations_assumed": validations,
            "total_episodes": total_episodes, "llm_calls": calls, "calls_per_episode_assumed": per_episode}


def format_estimate(est: dict) -> str:
    """A few lines for a terminal or a notebook cell."""
    lines = [f"fitness calls: {est['fitness_calls']} (seed + {est['fitness_calls'] - 1} candidates)"]
    for ph in est["phases"]:
        lines.append(f"  iterations {ph['first']}-{ph['last']}: N = {ph['n']}, "
                     f"{ph['episodes_per_iteration']} episodes per iteration")
    lines.append(f"training episodes: {est['training_episodes']}; validation: {est['episodes_per_validation']} "
                 f"episodes each, x{est['validations_assumed']} assumed (seed + one per new elite)")
    if est.get("rescore_calls"):
        lines.append(f"paired re-evaluations: ~{est['rescore_calls']} fitness calls, ~{est['rescore_episodes']} "
                     f"episodes (incumbent per candidate + confirmations, "
                     f"{est['challenger_rate_assumed']:.0%} challengers assumed)")
    lines.append(f"total episodes: ~{est['total_episodes']}")
    assumed = est["calls_per_episode_assumed"]
    lines.append(f"LLM calls per role (user/agent assume {assumed['user']}/{assumed['agent']} per episode):")
    for role, n in est["llm_calls"].items():
        lines.append(f"  {role:<10} ~{n:,}")
    return "\n".join(lines)
