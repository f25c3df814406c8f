"""Figures and tables of a search, for notebook 02: curves, archive, lineage, diff, personas."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd


def _save(fig, path):
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=130)


def validation_frame(engine) -> pd.DataFrame:
    """One row per validated program and N: iteration, program_id, n, score."""
    rows = []
    for r in engine.records():
        for n, result in (r.validation or {}).get("by_n", {}).items():
            result = result if isinstance(result, dict) else {"score": result}
            rows.append({"iteration": r.iteration, "program_id": r.id, "n": int(n), "score": float(result["score"]),
                         "hl": result.get("hl"), "coverage": result.get("coverage")})
    return pd.DataFrame(rows, columns=["iteration", "program_id", "n", "score", "hl", "coverage"])


def plot_search(engine, path=None, title: str = ""):
    """Training score and rating per iteration (and the incumbent's rating) next to validation curves.

    Raw scores (grey) come from a different minibatch, N and λ at every
    iteration; ratings (blue) put them on one scale through paired differences
    with the incumbent (:mod:`.comparison`); the black step line is the
    incumbent's rating.
    """
    import matplotlib.pyplot as plt

    hist = engine.history()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    ok = hist[hist["error"].isna()]
    ax1.scatter(ok["iteration"], ok["score"], s=10, alpha=0.5, color="0.6", label="raw score (own minibatch)")
    ax1.scatter(ok["iteration"], ok["rating"], s=14, alpha=0.8, label="rating (paired, common scale)")
    failed = hist[hist["error"].notna()]
    if len(failed):
        ax1.scatter(failed["iteration"], np.zeros(len(failed)), marker="x", color="red", s=14, label="failed candidate")
    ax1.step(hist["iteration"], hist["best_score"], where="post", color="k", label="incumbent rating")
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("fitness M (λ ramp) / rating")
    ax1.legend(fontsize=8)
    val = validation_frame(engine)
    for n, grp in val.groupby("n"):
        ax2.plot(grp["iteration"], grp["score"], marker="o", label=f"N = {n}")
    ax2.set_xlabel("iteration of the validated elite")
    ax2.set_ylabel("validation score (λ = 0.5/0.5)")
    ax2.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    return fig


def plot_archive(engine, path=None, title: str = "MAP-Elites archive (best rating per cell, all islands)"):
    import matplotlib.pyplot as plt
    import seaborn as sns

    grid = engine.archive_grid()
    bins = grid.shape[0]
    edges = [f"{i / bins:.1f}–{(i + 1) / bins:.1f}" for i in range(bins)]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.heatmap(pd.DataFrame(grid, index=edges, columns=edges), annot=True, fmt=".2f", cmap="viridis",
                cbar_kws={"label": "rating"}, ax=ax, mask=np.isnan(grid))
    fa, fb = engine.config.feature_keys
    ax.set_ylabel(f"{fa} (P̄ human)")
    ax.set_xlabel(f"{fb} (B̄ cover)")
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    return fig


def lineage_table(engine, program_id: str | None = None) -> pd.DataFrame:
    best = engine.best(by="validation") or engine.best()
    chain = engine.lineage(program_id or best.id)
    return pd.DataFrame([{
        "iteration": r.iteration, "program_id": r.id, "island": r.island, "kind": r.mutation_kind,
        "angle": r.mutation_angle, "score": r.metrics.get("score"), "hl": r.metrics.get("hl"),
        "coverage": r.metrics.get("coverage"), "rating": r.rating, "validation": (r.validation or {}).get("score"),
    } for r in reversed(chain)])


def diff_against_seed(engine, program_id: str | None = None) -> str:
    best = engine.best(by="validation") or engine.best()
    target = engine.get(program_id or best.id)
    seed = engine.lineage(target.id)[-1]
    return "".join(difflib.unified_diff(seed.source.splitlines(True), target.source.splitlines(True),
                                        "seed.py", f"{target.id}.py", n=2))


def persona_table(record, limit: int = 10) -> pd.DataFrame:
    """Personas a program produced on its last training minibatch, with P(human) (Appendix I style)."""
    rows = (record.artifacts or {}).get("per_episode") or []
    df = pd.DataFrame(rows)
    return df.head(limit)
