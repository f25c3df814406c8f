"""What a PPol run will cost before it starts: episodes and LLM calls per role.

Exact where the schedule decides (episodes per fitness call from the minibatch
curriculum; generator calls of a seed-shaped program: one population call plus
one expansion per persona; one reflection per fitness call; one mutation per
iteration), assumed where the dialogue decides: how many user and agent calls an
episode takes (:data:`CALLS_PER_EPISODE`, a rough τ² figure — tool calls count
as agent calls) and how often the elite changes (each change triggers one
validation). Persona and response caches make a rerun cheaper than this.
"""

from __future__ import annotations

from .curriculum import minibatch_for

# Assumed mean calls per τ² episode (retail/airline with an LLM agent, max_steps 100).
CALLS_PER_EPISODE = {"user": 10, "agent": 15}
ASSUMED_VALIDATIONS = 10


def estimate(train_pool, n_val: int, max_iterations: int, minibatch_size: int = 5, curriculum=(5, 8, 10),
             validations: int = ASSUMED_VALIDATIONS, calls_per_episode=None) -> dict:
    """Episodes and calls for fitness calls 0..``max_iterations`` plus ``validations`` validations."""
    per_episode = dict(calls_per_episode or CALLS_PER_EPISODE)
    phases: list[dict] = []  # runs of consecutive iterations with the same N
    episodes = generator = 0
    for t in range(max_iterations + 1):
        mb = minibatch_for(train_pool, t, minibatch_size, curriculum)
        episodes += mb.n_episodes
        generator += len(mb.task_ids) * (mb.n + 1)
        if phases and phases[-1]["n"] == mb.n:
            phases[-1]["last"] = t
        else:
            phases.append({"n": mb.n, "first": t, "last": t, "episodes_per_iteration": mb.n_episodes})
    val_episodes = n_val * sum(curriculum)
    val_generator = n_val * sum(n + 1 for n in curriculum)
    total_episodes = episodes + validations * val_episodes
    calls = {
        "user": total_episodes * per_episode["user"],
        "agent": total_episodes * per_episode["agent"],
        "generator": generator + validations * val_generator,
        "reflection": max_iterations + 1,
        "mutator": max_iterations,
    }
    return {"fitness_calls": max_iterations + 1, "phases": phases, "training_episodes": episodes,
            "episodes_per_validation": val_episodes, "validations_assumed": validations,
            "total_episodes": total_episodes, "llm_calls": calls, "calls_per_episode_assumed": per_episode}


def format_estimate(est: dict) -> str:
    """A few lines for a terminal or a notebook cell."""
    lines = [f"fitness calls: {est['fitness_calls']} (seed + {est['fitness_calls'] - 1} candidates)"]
    for ph in est["phases"]:
        lines.append(f"  iterations {ph['first']}-{ph['last']}: N = {ph['n']}, "
                     f"{ph['episodes_per_iteration']} episodes per iteration")
    lines.append(f"training episodes: {est['training_episodes']}; validation: {est['episodes_per_validation']} "
                 f"episodes each, x{est['validations_assumed']} assumed (one per new elite)")
    lines.append(f"total episodes: ~{est['total_episodes']}")
    assumed = est["calls_per_episode_assumed"]
    lines.append(f"LLM calls per role (user/agent assume {assumed['user']}/{assumed['agent']} per episode):")
    for role, n in est["llm_calls"].items():
        lines.append(f"  {role:<10} ~{n:,}")
    return "\n".join(lines)
