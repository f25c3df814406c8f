"""Notebook 02 · Evolutionary search: does evolving the generator program make personas more human?

Answers the paper's main question (§3 evolutionary program search; §5.1
Tables 3/4 on held-out test tasks; §5.2 Figure 3 search dynamics; App. H–I the
evolved generator and its personas) for a chosen backend, profile and corpus.

:class:`SearchStudy` is the one object notebook 02 calls: ``prepare()`` builds
(or reopens) the run with :func:`ppol_nb.evolution.runs.build_run` and says what
it will do, ``search()`` runs or resumes it, ``plot_search()`` /
``plot_archive()`` save its figures through :func:`~.figures.save_figure`,
``benchmark()`` runs the held-out benchmark beside the paper's rows and
``findings()`` states what this run's numbers show.

The run's fitness model is frozen once, inside the run directory: notebook 01's
model is copied there when it was trained on this corpus, against this
backend's user simulator, at the validation step cap and without the humans of
this run's validation slice; otherwise the run trains its own (``DIR/baseline``).
A resumed run always scores with the copy it started with, so re-running
notebook 01 does not invalidate it.

The module also holds the tables and figures of a run (:func:`validation_frame`,
:func:`plot_search`, :func:`plot_archive`, :func:`lineage_table`,
:func:`diff_against_seed`, :func:`persona_table`) and of a comparison of
conditions (:func:`condition_summary`, :func:`moved_features`).
"""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paper
from ..domains import DEFAULT_DOMAIN
from ..fitness import FEATURES, fingerprint_frame
from ..simulation.outcomes import outcome_table
from . import findings as text
from .figures import FigureProvenance, save_figure

NOTEBOOK = "02_evolutionary_search"


def validation_frame(engine) -> pd.DataFrame:
    """One row per validated program and N: iteration, program_id, n, score."""
    rows = []
    for r in engine.records():
        for n, result in (r.validation or {}).get("by_n", {}).items():
            result = result if isinstance(result, dict) else {"score": result}
            rows.append({"iteration": r.iteration, "program_id": r.id, "n": int(n), "score": float(result["score"]),
                         "hl": result.get("hl"), "coverage": result.get("coverage")})
    return pd.DataFrame(rows, columns=["iteration", "program_id", "n", "score", "hl", "coverage"])


def plot_search(engine, title: str = ""):
    """Training score and rating per iteration (and the incumbent's rating) next to validation curves.

    Raw scores (grey) come from a different minibatch, N and λ at every
    iteration. Under ``comparison="paired"`` ratings (blue) put them on one scale
    through paired differences with the incumbent (:mod:`ppol_nb.evolution.comparison`)
    and the black step line is the incumbent's rating; under the authors' raw rule
    (every profile's default) the rating is the raw score, so only the scores and
    the incumbent's score are drawn.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    hist = engine.history()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    ok = hist[hist["error"].isna()]
    paired = engine.config.comparison == "paired"
    ax1.scatter(ok["iteration"], ok["score"], s=10, alpha=0.5, color="0.6", label="raw score (own minibatch)")
    if paired:
        ax1.scatter(ok["iteration"], ok["rating"], s=14, alpha=0.8, label="rating (paired, common scale)")
    failed = hist[hist["error"].notna()]
    if len(failed):
        ax1.scatter(failed["iteration"], np.zeros(len(failed)), marker="x", color="red", s=14, label="failed candidate")
    ax1.step(hist["iteration"], hist["best_score"], where="post", color="k",
             label="incumbent rating" if paired else "incumbent score (raw, its own minibatch)")
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("fitness M (λ ramp) / rating" if paired else "fitness M (λ ramp)")
    # Above the axes, not inside: a longer run fills every corner with points.
    ax1.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=2, frameon=False)
    val = validation_frame(engine)
    for n, grp in val.groupby("n"):
        ax2.plot(grp["iteration"], grp["score"], marker="o", label=f"N = {n}")
    ax2.set_xlabel("iteration of the validated elite")
    for ax in (ax1, ax2):  # iterations are whole numbers
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_ylabel("validation score (λ = 0.5/0.5)")
    ax2.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=3, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_archive(engine, title: str = "MAP-Elites archive (best rating per cell, all islands)"):
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


# -- the study -------------------------------------------------------------------------------------

BENCHMARK_COLUMNS = ["source", "condition", "simulator", "human_corpus", "n_tasks", "n_episodes", "hl", "coverage",
                     "score", "d1", "d2", "d3", "d4", "usi", "success_rate"]


@dataclass
class SearchStudy:
    """One PPol search on one domain, its held-out benchmark and its findings."""

    backend: object
    domain: str = DEFAULT_DOMAIN
    profile: str = "ci"
    max_iterations: int | None = None  # None: the profile's budget
    corpus: str = "multiwoz"
    train_limit: int | None = None  # first K train tasks (smoke runs)
    benchmark_limit: int | None = None  # first K test tasks in the benchmark
    n_personas: int = 10  # personas per test task in the benchmark
    train_max_steps: int = 20
    eval_max_steps: int = 30
    run_dir: str | Path = "runs/02_evolution"
    baseline_dir: str | Path | None = None  # notebook 01's run dir (its fitness/<domain> is reused when it fits)
    figures: str | Path | None = None
    progress: bool = True
    executor: object = field(default=None, repr=False)  # where episodes run (ppol_nb.execution; None: threads)
    run: object | None = field(default=None, repr=False)
    summary: object | None = field(default=None, repr=False)
    table: pd.DataFrame | None = field(default=None, repr=False)
    fitness_origin: str = ""

    def __post_init__(self):
        from ..evolution.config import EvolutionConfig

        self.run_dir = Path(self.run_dir)
        overrides = {"train_max_steps": self.train_max_steps, "val_max_steps": self.eval_max_steps}
        self.profile_iterations = EvolutionConfig.profile(self.profile).max_iterations
        if self.max_iterations is not None:
            overrides["max_iterations"] = int(self.max_iterations)
        self.config = EvolutionConfig.profile(self.profile, **overrides)

    # -- setting up ------------------------------------------------------------------------------
    def parameters(self) -> dict:
        return {"domain": self.domain, "profile": self.profile, "max_iterations": self.max_iterations,
                "iterations_budget": self.config.max_iterations, "corpus": self.corpus,
                "train_limit": self.train_limit, "benchmark_limit": self.benchmark_limit,
                "n_personas": self.n_personas, "train_max_steps": self.train_max_steps,
                "eval_max_steps": self.eval_max_steps, "run_dir": str(self.run_dir)}

    @property
    def provenance(self) -> FigureProvenance:
        return FigureProvenance.of(self.backend, NOTEBOOK, self.parameters(), corpus=self._corpus_name(),
                                   seeds=(self.config.seed,), profile=self.profile)

    def _corpus_name(self) -> str:
        model = self.run.fitness_model if self.run is not None else None
        return (model.info.get("human_corpus") if model is not None else None) or str(self.corpus)

    def _validation_ids(self) -> list[str]:
        from ..evolution.curriculum import VAL_FRACTION, VAL_SEED, split_validation
        from ..simulation.tau2_bridge import load_tasks

        train = load_tasks(self.domain, "train")
        train = train[:self.train_limit] if self.train_limit else train
        return split_validation([t.id for t in train], VAL_FRACTION, VAL_SEED)[1]

    def _reusable_baseline(self) -> tuple[Path | None, str]:
        """Notebook 01's fitness model if it fits this run, with the reason either way."""
        from ..fitness.score import FitnessModel
        from ..humans import HumanLeakError, load_corpus

        if self.baseline_dir is None:
            return None, "no notebook 01 run given"
        source = Path(self.baseline_dir) / "fitness" / self.domain
        if not (source / "fitness.json").exists():
            return None, f"notebook 01 has not frozen a {self.domain} model in {source}"
        model = FitnessModel.load(source)
        wanted = {"human_corpus": load_corpus(self.corpus).name,
                  "simulator": f"{self.backend.name}:{self.backend.user_model}", "max_steps": self.eval_max_steps}
        differ = [f"{k} {model.info.get(k)!r} (this run: {v!r})" for k, v in wanted.items() if model.info.get(k) != v]
        if differ:
            return None, f"notebook 01's model in {source} differs: " + "; ".join(differ)
        try:
            model.check_humans(self._validation_ids())
        except HumanLeakError as exc:
            return None, f"notebook 01's model in {source} trained on this run's validation humans ({exc})"
        return source, f"notebook 01's model ({source}), copied into the run"

    def prepare(self) -> str:
        """Build (or reopen, to resume) the run; returns what it will do, as lines to print."""
        from ..evolution.estimate import estimate_run, format_estimate
        from ..evolution.database import FILENAME
        from ..evolution.runs import build_run

        resume = (self.run_dir / FILENAME).exists()
        own = self.run_dir / "fitness" / self.domain
        if (own / "fitness.json").exists():
            trained_here = (self.run_dir / "baseline").exists()
            fitness_dir = None if trained_here else own  # as the run was first built: its identity says so
            self.fitness_origin = "the run's own frozen model (" + (
                "trained in this run)" if trained_here else "copied from notebook 01)")
        else:
            source, why = self._reusable_baseline()
            if source is not None:
                shutil.copytree(source, own)
                fitness_dir, self.fitness_origin = own, why
            else:
                fitness_dir, self.fitness_origin = None, f"trained in this run ({why})"
        self.run = build_run(self.domain, self.backend, self.run_dir, config=self.config, corpus=self.corpus,
                             train_limit=self.train_limit, fitness_dir=fitness_dir, resume=resume,
                             progress=self.progress, executor=self.executor)
        lines = [f"run directory : {self.run_dir} ({'resuming' if resume else 'new run'})",
                 f"profile       : {self.profile}, {_count(self.config.max_iterations, 'iteration')}"]
        if self.max_iterations is not None:
            lines.append(f"max_iterations = {self.max_iterations} overrides the {self.profile} profile's "
                         f"{self.profile_iterations}")
        lines.append(f"fitness model : {self.fitness_origin}")
        evaluator = self.run.evaluator
        # calls per role from the schedule (tokens, dollars and wall need a measured endpoint: ppol-nb estimate)
        lines.append(format_estimate(estimate_run(self.run.engine.config, evaluator.train_pool,
                                                  len(evaluator.validation_ids), {},
                                                  offline=getattr(self.backend, "name", None) != "openai")))
        return "\n".join(lines)

    def _engine(self):
        if self.run is None:
            raise RuntimeError("call prepare() first")
        return self.run.engine

    # -- running and reporting -------------------------------------------------------------------
    def search(self):
        """Run (or resume) the search; returns the engine's summary."""
        self.summary = self._engine().run(progress=self.progress)
        return self.summary

    def best(self):
        """The final program: best by mean validation score (the seed wins ties), else by rating."""
        engine = self._engine()
        return engine.best(by="validation") or engine.best()

    def plot_search(self):
        fig = plot_search(self._engine(), title=f"{self.domain} · profile {self.profile} · {self.provenance.label}")
        save_figure(fig, f"02_search_{self.domain}", self.provenance, self.figures)
        return fig

    def plot_archive(self):
        fig = plot_archive(self._engine(), title=f"MAP-Elites archive, {self.domain} · {self.provenance.label}")
        save_figure(fig, f"02_archive_{self.domain}", self.provenance, self.figures)
        return fig

    def lineage(self) -> pd.DataFrame:
        return lineage_table(self._engine())

    def diff(self) -> str:
        return diff_against_seed(self._engine()) or "(the final program is the seed program)"

    def personas(self) -> pd.DataFrame:
        return persona_table(self.best())

    def benchmark(self) -> pd.DataFrame:
        """Held-out benchmark (five conditions on test tasks), ours beside the paper's rows."""
        from ..evolution.benchmark import run_benchmark

        self.table = run_benchmark(self.run_dir, self.domain, self.backend, fitness_model=self.run.fitness_model,
                                   out_csv=self.run_dir / "benchmark.csv", n_personas=self.n_personas,
                                   limit=self.benchmark_limit, max_steps=self.eval_max_steps,
                                   executor=self.executor)
        reported = paper.fitness_rows(self.domain).rename(columns=str.lower)
        return pd.concat([self.table, reported], ignore_index=True).reindex(columns=BENCHMARK_COLUMNS).round(3)

    def benchmark_intervals(self, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> dict:
        """Score M of PPol: Initial (the seed) and PPol: Evolved on the benchmark's test tasks, each with a
        percentile-bootstrap interval over tasks, and their paired difference (same tasks resampled for both),
        computed from the benchmark's episodes exactly as :mod:`.ablation` computes its intervals."""
        from ..evolution.benchmark import CONDITIONS
        from ..simulation.store import EpisodeStore
        from .ablation import _cells, _metrics, cell_bootstrap, per_task_frame

        episodes = EpisodeStore(self.run_dir).frame()
        model = self.run.fitness_model
        tasks = sorted({str(t) for t in episodes["task_id"]}, key=lambda t: (len(t), t))
        cells = {label: _cells(per_task_frame(model, episodes[episodes["condition"] == CONDITIONS[label]], tasks))
                 for label in ("PPol: Initial", "PPol: Evolved")}
        hm = model.human_mean

        def stat(idx):
            a, b = (_metrics(cells[c], idx, hm)["score"] for c in ("PPol: Initial", "PPol: Evolved"))
            return [a, b, b - a]

        point = stat(np.arange(len(tasks)))
        low, high = cell_bootstrap(len(tasks), stat, confidence, n_resamples, seed)
        names = ("initial", "evolved", "difference")
        return {"n_tasks": len(tasks), "confidence": confidence,
                **{n: (float(p), float(lo), float(hi)) for n, p, lo, hi in zip(names, point, low, high)}}

    def findings(self) -> str:
        """What this run's numbers show (markdown)."""
        from ..evolution.program_edit import edit_kind

        engine = self._engine()
        summary = self.summary or engine.summary()
        bullets = text.setting(self.backend, self._corpus_name())
        budget = (f"max_iterations = {self.max_iterations}, overriding the {self.profile} profile's "
                  f"{self.profile_iterations}" if self.max_iterations is not None
                  else f"the {self.profile} profile's budget of {self.config.max_iterations}")
        bullets.append(f"The search ran {_count(summary.iterations_done, 'iteration')} ({budget}): "
                       f"{_count(summary.programs, 'program')} evaluated, {summary.failed} failed; it stopped on "
                       f"`{summary.stop_reason}`. Mutations came from `{type(engine.mutator).__name__}`, personas "
                       f"from `{self.run.evaluator.world.key}`. Fitness model: "
                       f"{self.fitness_origin or 'as built by the run'}.")
        best = self.best()
        seed = engine.lineage(best.id)[-1]
        seed_val = (seed.validation or {}).get("score")
        if best.id == seed.id:
            bullets.append("**The final program is the seed program**: no candidate beat the seed on validation "
                           f"within the budget (seed validation score {_num(seed_val)}), so the search did not "
                           "evolve and PPol: Evolved below is the seed.")
        else:
            kind = edit_kind(seed.source, best.source)
            what = {"text": "its string literals only (playbook sentences, definitions, prompts; code and axes "
                            "as in the seed)",
                    "structure": "its structure (axes or code)", "same": "nothing but formatting",
                    "unparsable": "something that does not parse"}[kind]
            best_val = (best.validation or {}).get("score")
            bullets.append(f"The final program `{best.id}` (iteration {best.iteration}) is a `{kind}` edit of the "
                           f"seed — it changes {what}; validation score {_num(best_val)} vs the seed's "
                           f"{_num(seed_val)} ({_signed(best_val, seed_val)}).")
        if self.table is not None:
            rows = self.table.set_index("condition")
            ev, init, base = (rows.loc[c] for c in ("PPol: Evolved", "PPol: Initial", "Base-simulator"))
            diff = ev.score - init.score
            verdict = "beat" if diff > 0 else ("tied with" if diff == 0 else "did not beat")
            same = " (they are the same program)" if best.id == seed.id else ""
            bullets.append(f"Held-out benchmark ({_count(int(ev.n_tasks), 'test task')}, {_count(self.n_personas, 'persona')} each): "
                           f"PPol: Evolved {verdict} PPol: Initial{same} — score {ev.score:.3f} vs "
                           f"{init.score:.3f} ({diff:+.3f}); HL {ev.hl:.3f} vs {init.hl:.3f}, coverage "
                           f"{ev.coverage:.3f} vs {init.coverage:.3f}.")
            try:
                ci = self.benchmark_intervals()
            except (OSError, KeyError, ValueError) as exc:  # episodes missing or unreadable: say so, keep the rest
                bullets.append(f"No intervals for the benchmark scores ({type(exc).__name__}: {exc}).")
            else:
                (i, i_lo, i_hi), (e, e_lo, e_hi), (d, d_lo, d_hi) = ci["initial"], ci["evolved"], ci["difference"]
                # The comparison is paired (same tasks, same personas per task), as in notebook 03: the
                # benchmark's own interval for "Evolved beats Initial" is that of the paired difference.
                verdict = ("beats the seed by more than the benchmark's own interval: the paired-difference "
                           "interval lies above 0" if d_lo > 0 else
                           "does **not** beat the seed by more than the benchmark's own interval: the "
                           "paired-difference interval " + ("lies below 0" if d_hi < 0 else "contains 0"))
                overlap = (" The two scores' unpaired intervals overlap: task-to-task spread, which the paired "
                           "difference cancels, dominates each score's own interval." if e_lo <= i_hi and i_lo <= e_hi
                           else " Even the two scores' unpaired intervals do not overlap.")
                bullets.append(
                    f"With {int(ci['confidence'] * 100)} % bootstrap intervals over the {ci['n_tasks']} test tasks: "
                    f"PPol: Initial {i:.3f} [{i_lo:.3f}, {i_hi:.3f}], PPol: Evolved {e:.3f} [{e_lo:.3f}, "
                    f"{e_hi:.3f}], paired difference {d:+.3f} [{d_lo:+.3f}, {d_hi:+.3f}]. The evolved program "
                    + verdict + "." + overlap)
            reported = paper.fitness_rows(self.domain).set_index(["simulator", "condition"])["score"]
            paper_gain = (reported.xs("PPol: Evolved", level="condition")
                          - reported.xs("Base-simulator", level="condition"))
            simulator = paper.simulator_for(self.backend.user_model)
            ref = (float(paper_gain[simulator]) if simulator in paper_gain.index
                   else (float(paper_gain.min()), float(paper_gain.max())))
            bullets.append(f"Gain of PPol: Evolved over the base simulator in score M: "
                           f"{text.versus(ev.score - base.score, ref)} (Tables 3/4).")
        else:
            bullets.append("The held-out benchmark has not run (call `benchmark()`); no test-task comparison yet.")
        return text.markdown("What this run shows", bullets)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _num(value) -> str:
    return "n/a" if value is None or not np.isfinite(float(value)) else f"{float(value):.3f}"


def _signed(a, b) -> str:
    if a is None or b is None or not (np.isfinite(float(a)) and np.isfinite(float(b))):
        return "no difference measurable"
    return f"{float(a) - float(b):+.3f}"


# -- conditions ------------------------------------------------------------------------------------


def preservation_ok(persona) -> bool | None:
    if not isinstance(persona, dict):
        return None  # base: nothing injected, nothing to check
    report = persona.get("preservation")
    return None if report is None else bool(report.get("ok"))


def condition_summary(episodes: pd.DataFrame) -> pd.DataFrame:
    """Per (domain, condition): episodes, success rate, preservation rate, failure reasons."""
    df = episodes.copy()
    df["preserved"] = [preservation_ok(p) for p in df["persona"]]
    out = outcome_table(df)
    pres = df.groupby(["domain", "condition"])["preserved"].apply(
        lambda s: float(s.dropna().astype(float).mean()) if s.notna().any() else np.nan).rename("preservation_rate")
    return out.merge(pres.reset_index(), on=["domain", "condition"], how="left")


def moved_features(episodes: pd.DataFrame, baseline: str = "base", top: int = 5) -> pd.DataFrame:
    """The ``top`` features each condition moves most relative to ``baseline``, means side by side.

    Ranked by |mean difference| / pooled standard deviation (features constant in both
    are skipped), within each domain.
    """
    fp = fingerprint_frame(episodes[episodes["error"].isna()].to_dict("records"))
    rows = []
    for domain, sub in fp.groupby("domain"):
        base = sub[sub.condition == baseline][list(FEATURES)]
        for cond, grp in sub[sub.condition != baseline].groupby("condition"):
            X = grp[list(FEATURES)]
            pooled = np.sqrt((base.var(ddof=0) + X.var(ddof=0)) / 2)
            effect = (X.mean() - base.mean()).abs() / pooled.replace(0, np.nan)
            for feature in effect.dropna().sort_values(ascending=False).index[:top]:
                rows.append({"domain": domain, "condition": cond, "feature": feature,
                             f"{baseline}_mean": base[feature].mean(), "condition_mean": X[feature].mean(),
                             "effect_size": effect[feature]})
    return pd.DataFrame(rows)
