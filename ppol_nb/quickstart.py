"""The quickstart section: success of the offline agent vs a do-nothing agent.

One call, :func:`success_table`, runs (or resumes) the episodes and returns the
per-domain table notebook 00 shows; :func:`plot_success` draws its figure.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .offline.backend import OfflineBackend
from .simulation.runner import run_episodes, specs_for


def success_table(run_dir, domains=("retail", "airline"), splits=("test",), seed: int = 0,
                  limit: int | None = None, backends=None, progress: bool = True) -> pd.DataFrame:
    """Episodes for every (domain, split, backend); returns all episode rows.

    ``backends`` defaults to the offline agent and the do-nothing agent, both with
    the default (cooperative) offline user.
    """
    backends = backends or [OfflineBackend(agent="offline"), OfflineBackend(agent="do-nothing")]
    frames = []
    for backend in backends:
        sub = Path(run_dir) / f"{backend.name}-{backend.agent_model}"
        specs = [s for d in domains for sp in splits for s in specs_for(d, sp, seeds=(seed,), limit=limit)]
        frames.append(run_episodes(specs, backend, sub, progress=progress))
    return pd.concat(frames, ignore_index=True)


def summarise_success(episodes: pd.DataFrame) -> pd.DataFrame:
    """Success rate per (domain, split, agent): the table in the notebook."""
    return (episodes.assign(errored=episodes["error"].notna())
            .groupby(["domain", "split", "backend", "agent_model"])
            .agg(tasks=("task_id", "nunique"), episodes=("episode_id", "count"),
                 success_rate=("success", "mean"), errors=("errored", "sum"))
            .reset_index())


def plot_success(table: pd.DataFrame, path=None, title: str = "τ² task success (offline backend)"):
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6, 3.2))
    sns.barplot(data=table, x="domain", y="success_rate", hue="agent_model", ax=ax)
    ax.set_ylim(0, 1.15)
    ax.legend(title="agent", loc="upper left", ncol=2, fontsize=8)
    ax.set_ylabel("success rate (reward = 1)")
    ax.set_title(title)
    for c in ax.containers:
        ax.bar_label(c, fmt="%.2f", fontsize=8)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
    return fig


def seed_personas(domain: str = "retail", task_id: str = "0", n: int = 5, seed: int = 0, run_dir=None,
                  backend=None, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate ``n`` personas with the seed program for one task and run one episode each.

    Returns (persona table, episodes). Offline by default; an ``LLMBackend`` makes the
    generator and the user simulator real LLMs (persona text injected into τ²'s prompt).
    """
    from .personas.conditions import condition_specs

    backend = backend or OfflineBackend()
    run_dir = Path(run_dir or "runs/00_personas")
    world = backend.generator(seed=seed)
    specs, failures = condition_specs("seed", domain, n_personas=n, world=world, cache_dir=run_dir / "personas",
                                      split=None, task_ids=[task_id])
    if failures:
        raise RuntimeError(f"persona generation failed: {failures}")
    episodes = run_episodes(specs, backend, run_dir / "episodes", progress=progress)
    table = pd.DataFrame([{
        "persona_id": s.persona["persona_id"], "description": s.persona["description"],
        "active axes": ", ".join(a for a, on in s.persona["axis_placement"].items() if on) or "(none)",
        "preserves task": s.persona["preservation"]["ok"],
        "instruction (start)": s.persona["instruction"][:160] + "…",
    } for s in specs])
    return table, episodes
