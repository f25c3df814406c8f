"""Notebook 00 · Quickstart: do real τ² episodes run end to end, and does the agent matter?

Answers it on the τ²-bench domains the paper evaluates in (retail, airline; the
paper's held-out results, §5.1, are on their *test* tasks): episodes of the chosen
backend's agent against its user simulator, scored by τ²'s own reward, next to a
*do-nothing* agent (never calls a tool) when the backend can make one — a task the
do-nothing agent "solves" is one τ² scores 1.0 whatever the agent does. Then seed
personas (the paper's starting generator, §3) on one task.

:class:`QuickstartStudy` is the one object notebook 00 calls: ``run()`` runs or
resumes the episodes (one run directory per agent under ``run_dir``),
``plot()`` saves the success figure through :func:`~.figures.save_figure`,
``personas()`` runs the seed program on one task, and ``findings()`` states
what this run's numbers show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..domains import DEFAULT_DOMAIN, PAPER_DOMAINS
from ..simulation.runner import run_episodes, specs_for
from . import findings as text
from .figures import FigureProvenance, save_figure

NOTEBOOK = "00_quickstart"


def success_table(run_dir, backends, domains=PAPER_DOMAINS, splits=("test",), seed: int = 0,
                  limit: int | None = None, progress: bool = True, executor=None) -> pd.DataFrame:
    """Episodes for every (domain, split, backend); returns all episode rows (``executor``:
    :mod:`ppol_nb.execution`, None: threads of this process)."""
    frames = []
    for backend in backends:
        sub = Path(run_dir) / f"{backend.name}-{backend.agent_model}".replace("/", "_")
        specs = [s for d in domains for sp in splits for s in specs_for(d, sp, seeds=(seed,), limit=limit)]
        frames.append(run_episodes(specs, backend, sub, progress=progress, executor=executor))
    return pd.concat(frames, ignore_index=True)


def summarise_success(episodes: pd.DataFrame) -> pd.DataFrame:
    """Success rate per (domain, split, agent): the table in the notebook."""
    return (episodes.assign(errored=episodes["error"].notna())
            .groupby(["domain", "split", "backend", "agent_model"])
            .agg(tasks=("task_id", "nunique"), episodes=("episode_id", "count"),
                 successes=("success", "sum"), success_rate=("success", "mean"), errors=("errored", "sum"))
            .reset_index())


def plot_success(table: pd.DataFrame, title: str):
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6, 3.4))
    sns.barplot(data=table, x="domain", y="success_rate", hue="agent_model", ax=ax)
    ax.set_ylim(0, 1.15)
    ax.legend(title="agent", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_ylabel("success rate (reward = 1)")
    ax.set_title(title, fontsize=10)
    for c in ax.containers:
        ax.bar_label(c, fmt="%.2f", fontsize=8)
    fig.tight_layout()
    return fig


@dataclass
class QuickstartStudy:
    """The agent under test and (when the backend can make one) a do-nothing agent, on τ² tasks.

    ``comparison`` is a backend asked for a do-nothing agent; if its agent is the
    same model as ``backend``'s (a backend that has no do-nothing agent), it is
    dropped and :meth:`findings` says so.
    """

    backend: object
    comparison: object | None = None
    domains: tuple = PAPER_DOMAINS
    splits: tuple = ("test",)
    seed: int = 0
    limit: int | None = None
    run_dir: str | Path = "runs/00_quickstart"
    figures: str | Path | None = None
    progress: bool = True
    executor: object = field(default=None, repr=False)  # where episodes run (ppol_nb.execution; None: threads)
    episodes: pd.DataFrame | None = field(default=None, repr=False)
    persona_runs: list = field(default_factory=list, repr=False)

    @property
    def backends(self) -> list:
        same = self.comparison is None or self.comparison.agent_model == self.backend.agent_model
        return [self.backend] if same else [self.backend, self.comparison]

    @property
    def compared(self) -> bool:
        return len(self.backends) > 1

    def parameters(self) -> dict:
        return {"domains": list(self.domains), "splits": list(self.splits), "seed": self.seed, "limit": self.limit,
                "comparison_agent": self.backends[1].agent_model if self.compared else None}

    @property
    def provenance(self) -> FigureProvenance:
        extra = {"comparison_agent": self.backends[1].agent_model} if self.compared else {}
        return FigureProvenance.of(self.backend, NOTEBOOK, self.parameters(), corpus=None, seeds=(self.seed,),
                                   models=extra)

    def run(self) -> QuickstartStudy:
        self.episodes = success_table(self.run_dir, self.backends, domains=self.domains, splits=self.splits,
                                      seed=self.seed, limit=self.limit, progress=self.progress,
                                      executor=self.executor)
        return self

    def table(self) -> pd.DataFrame:
        return summarise_success(self._episodes())

    def plot(self, name: str = "00_quickstart_success"):
        fig = plot_success(self.table(), f"τ² task success · {self.provenance.label}")
        save_figure(fig, name, self.provenance, self.figures)
        return fig

    def example_episode(self) -> str:
        """One episode of the agent under test as τ² recorded it (a successful one if any)."""
        mine = self._episodes()[self._episodes()["agent_model"] == self.backend.agent_model]
        ep = mine.sort_values("success", ascending=False, kind="stable").iloc[0]
        lines = [f"{ep.episode_id}  reward {ep.reward}  {ep.reward_breakdown}"]
        for m in ep.messages or []:
            calls = "; ".join(f"{c['name']}({c['arguments']})" for c in m.get("tool_calls") or [])
            lines.append(f"[{m['role']:9}] {(m.get('content') or calls)[:160]}")
        return "\n".join(lines)

    def personas(self, domain: str = DEFAULT_DOMAIN, task_id: str = "0", n: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``n`` seed-program personas for one task, one episode each: (persona table, episode table)."""
        from ..personas.conditions import condition_specs

        run_dir = Path(self.run_dir) / "personas"
        world = self.backend.generator(seed=self.seed)
        specs, failures = condition_specs("seed", domain, n_personas=n, world=world, cache_dir=run_dir / "cache",
                                          split=None, task_ids=[task_id])
        if failures:
            raise RuntimeError(f"persona generation failed: {failures}")
        episodes = run_episodes(specs, self.backend, run_dir / "episodes", progress=self.progress,
                                executor=self.executor)
        personas = pd.DataFrame([{
            "persona_id": s.persona["persona_id"], "description": s.persona["description"],
            "active axes": ", ".join(a for a, on in s.persona["axis_placement"].items() if on) or "(none)",
            "preserves task": s.persona["preservation"]["ok"],
            "instruction (start)": s.persona["instruction"][:160] + "…",
        } for s in specs])
        played = episodes.assign(
            persona=episodes["persona"].map(lambda p: p["persona_id"]),
            user_turns=episodes["messages"].map(lambda ms: sum(m["role"] == "user" for m in ms or [])),
        )[["persona", "reward", "success", "termination_reason", "user_turns", "error"]]
        self.persona_runs.append({"domain": domain, "task_id": task_id, "personas": personas, "episodes": played})
        return personas, played

    def findings(self) -> str:
        """What this run's numbers show (markdown)."""
        table = self.table()
        bullets = text.setting(self.backend, compared_with_paper=False)
        if not self.compared:
            bullets.append(f"No do-nothing comparison: asked for a do-nothing agent, the {self.backend.name} "
                           f"backend gave the same agent (`{self.backend.agent_model}`), so only it ran; "
                           "whether the agent matters is not measured here.")
        for (domain, split), grp in table.groupby(["domain", "split"], sort=False):
            rows = {r.agent_model: r for r in grp.itertuples()}
            mine = rows[self.backend.agent_model]
            line = (f"{domain} / {split}: `{mine.agent_model}` succeeded on {int(mine.successes)} of "
                    f"{int(mine.episodes)} episodes ({mine.success_rate:.0%})")
            if self.compared:
                other = rows[self.backends[1].agent_model]
                diff = 100 * (mine.success_rate - other.success_rate)
                line += (f"; `{other.agent_model}` (never calls a tool) on {int(other.successes)} of "
                         f"{int(other.episodes)} ({other.success_rate:.0%}). The agent's behaviour changes success "
                         f"by {diff:+.0f} percentage points")
            errors = int(grp["errors"].sum())
            bullets.append(line + (f"; {errors} episode{'' if errors == 1 else 's'} errored." if errors
                                   else "; no episode errored."))
        for run in self.persona_runs:
            personas, episodes = run["personas"], run["episodes"]
            bullets.append(
                f"Seed personas on {run['domain']} task {run['task_id']}: {len(personas)} generated, "
                f"{int(personas['preserves task'].sum())} pass the static task-preservation check; "
                f"{int(episodes['success'].sum())} of {len(episodes)} persona episodes succeeded with "
                f"{int(episodes['user_turns'].min())}–{int(episodes['user_turns'].max())} user turns "
                f"(the same task, the same agent: only how the user talks differs).")
        return text.markdown("What this run shows", bullets)

    def _episodes(self) -> pd.DataFrame:
        if self.episodes is None:
            raise RuntimeError("call run() first")
        return self.episodes
