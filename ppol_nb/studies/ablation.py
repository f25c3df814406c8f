"""Fitness ablations: every search variant × seed as a run, judged on held-out test tasks.

An extension of the paper, which reports none of these ablations (variants:
:mod:`ppol_nb.evolution.variants`). :class:`AblationSweep` (``ppol-nb ablate``)
runs each (variant, seed) of one domain as an ordinary evolution run directory
(:func:`ppol_nb.evolution.runs.build_run`, with its identity and lock), then
evaluates the run's chosen program (best by validation score, PPol's rule,
:func:`~ppol_nb.evolution.benchmark.evolved_program`) on the τ² test tasks as
the benchmark's "PPol: Evolved" row: HL, coverage, score (λ = 0.5/0.5), D1–D4,
USI and τ² success (:func:`~ppol_nb.evolution.benchmark.condition_row`).

:class:`AblationStudy` is what notebook 03 calls: the same sweep, its table
(:func:`intervals` and :func:`paired_differences` against ``paper``), the judge
transfer of every variant's chosen program and of the reference rows (a
transfer judge fitted once per call for the domain and saved under
``DIR/transfer/<domain>``; :mod:`ppol_nb.analysis.judge_transfer`), four figures through
:func:`~.figures.save_figure` and findings computed from those tables.

Layout of ``DIR``::

    DIR/fitness/<domain>/                  the one frozen fitness model all runs of a domain share
    DIR/baseline/<domain>/                 the baseline study that trained it (unless --fitness)
    DIR/reference/<domain>/benchmark.csv   Humans, Base-simulator, DP and PPol: Initial rows (once)
    DIR/runs/<domain>/<variant>/seed-<s>/  an evolution run directory, plus
        heldout/episodes.jsonl             its chosen program's test episodes
        heldout/per_task.csv               per test task: the sums the metrics are made of
        ablation_done.json                 the finished marker (metrics, program, cost)
    DIR/ablation.csv                       tidy: variant, seed, domain, metric, value

Guarantees

* **Resumable.** The finished marker is written atomically (temporary file,
  then ``os.replace``) only after the search *and* its held-out evaluation
  complete, so a sweep killed at any point (even ``kill -9``) resumes where it
  stopped: finished runs are skipped untouched, an unfinished run resumes from
  its checkpoint (the engine's resume, then the episode store's), nothing
  finished is computed again. The fitness model is written the same way.
* **Same conditions.** All runs of a domain share one fitness model, the task
  limits, the profile and its budget; ``DIR/runs/<domain>`` records them as a
  run identity (:mod:`ppol_nb.run_identity`) and a sweep that differs is
  refused, as is a second process on it.
* ``ablation.csv`` is rebuilt from the finished markers every time, so it never
  holds a half-finished run.
* A run that raises is logged and listed in ``AblationSweep.failures`` (the
  CLI exits 1); the sweep goes on with the next run, and the next sweep retries
  the failed one.

Statistics (:func:`intervals`, :func:`paired_differences`): the unit is a
(seed, test task) cell; 95 % intervals are percentile bootstraps
(``scipy.stats.bootstrap``) resampling those cells, each resample re-computing
the metric exactly as the benchmark does (HL over episodes, coverage over tasks,
D1–D4/USI aggregate-first over episodes). Paired differences resample the cells
present in both variants (same seed, same task) and take the difference of the
two metrics on the same resample. Cells of one seed share a program; the
bootstrap does not model that clustering, so with few seeds the intervals are
narrower than a seed-level interval would be.

Cost (:func:`cost_table`): LLM calls and USD of the search from each run's
ledger (``evolution.sqlite``, exact across sessions) plus those of its held-out
evaluation; tokens from the backend's ledger of the sessions that completed the
run (``tokens_complete`` is 0 when an earlier, killed session's tokens are
missing). Offline, no endpoint is called: the stand-ins' calls are counted but
cost $0 and use no tokens.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..domains import DEFAULT_DOMAIN
from ..evolution.variants import variant_config

log = logging.getLogger(__name__)

METRICS = ("hl", "coverage", "score", "d1", "d2", "d3", "d4", "usi", "success_rate")
COST_METRICS = ("llm_calls", "prompt_tokens", "completion_tokens", "cost_usd")
DONE_FILE = "ablation_done.json"
PER_TASK_FILE = "per_task.csv"
CSV_NAME = "ablation.csv"
OFFLINE_COST_NOTE = "offline: deterministic stand-ins, no endpoint called; USD and tokens are 0"


def run_dir_for(out, domain: str, variant: str, seed: int) -> Path:
    return Path(out) / "runs" / domain / variant / f"seed-{int(seed)}"


def _atomic_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- per-task sums
def per_task_frame(model, episodes: pd.DataFrame, task_ids) -> pd.DataFrame:
    """One row per test task: episodes, scored episodes, Σ P(human), coverage, successes, Σ features.

    :func:`metrics_of` turns any multiset of these rows back into the benchmark's metrics.
    """
    from ..fitness import FEATURES, fingerprint_frame

    rows = []
    for task in (str(t) for t in task_ids):
        sub = episodes[episodes["task_id"].astype(str) == task] if len(episodes) else episodes
        ok = sub[sub["error"].isna()] if len(sub) else sub
        row = {"task_id": task, "n_episodes": len(sub), "n_ok": len(ok),
               "n_success": int((sub["reward"].fillna(0.0) >= 1.0).sum()) if len(sub) else 0,
               "p_sum": 0.0, "coverage": float("nan"), **{f"f_{f}": 0.0 for f in FEATURES}}
        if len(ok):
            X = fingerprint_frame(ok.to_dict("records"))[list(FEATURES)].to_numpy(float)
            row["p_sum"] = float(model.discriminator.predict_proba_human(X).sum())
            row["coverage"] = float(model.reference.score(X))
            row.update({f"f_{f}": float(v) for f, v in zip(FEATURES, X.sum(axis=0))})
        rows.append(row)
    return pd.DataFrame(rows)


def _cells(units: pd.DataFrame) -> dict[str, np.ndarray]:
    """The per-task columns :func:`metrics_of` reads, as arrays (resampled by index, cheaply)."""
    from ..fitness import FEATURES

    return {"n_ok": units["n_ok"].to_numpy(float), "p_sum": units["p_sum"].to_numpy(float),
            "coverage": units["coverage"].to_numpy(float), "n_episodes": units["n_episodes"].to_numpy(float),
            "n_success": units["n_success"].to_numpy(float),
            "features": units[[f"f_{f}" for f in FEATURES]].to_numpy(float)}


def _metrics(cells: dict[str, np.ndarray], idx, human_mean) -> dict:
    from ..fitness.alignment import alignment

    n_ok_cells = cells["n_ok"][idx]
    n_ok = float(n_ok_cells.sum())
    scored = cells["coverage"][idx][n_ok_cells > 0]
    hl = float(cells["p_sum"][idx].sum()) / n_ok if n_ok else float("nan")
    coverage = float(scored.mean()) if len(scored) else float("nan")
    out = {"hl": hl, "coverage": coverage, "score": 0.5 * hl + 0.5 * coverage}
    if n_ok:
        mean = cells["features"][idx].sum(axis=0) / n_ok
        out.update({k.lower(): v for k, v in alignment(mean[None, :], np.asarray(human_mean, float)).items()})
    else:
        out.update({k: float("nan") for k in ("d1", "d2", "d3", "d4", "usi")})
    n = float(cells["n_episodes"][idx].sum())
    out["success_rate"] = float(cells["n_success"][idx].sum()) / n if n else float("nan")
    return out


def metrics_of(units: pd.DataFrame, human_mean) -> dict:
    """The benchmark's metrics (:data:`METRICS`, λ = 0.5/0.5) of a set of per-task rows (repeats count).

    HL pools episodes, coverage averages tasks with a scored episode, D1–D4/USI
    compare the pooled feature mean with ``human_mean``, success counts every
    episode: the identity resample reproduces the benchmark's "PPol: Evolved" row.
    """
    return _metrics(_cells(units), np.arange(len(units)), human_mean)


# ----------------------------------------------------------------------------- the sweep
def shared_fitness(out, domain: str, backend, corpus: str = "multiwoz", train_limit: int | None = None,
                   baseline_limit: int | None = None, progress: bool = False, executor=None) -> Path:
    """``DIR/fitness/<domain>``: trained once (atomically) leaving out the runs' validation humans."""
    from ..evolution.curriculum import split_validation
    from ..evolution.fitness_training import train_baseline
    from ..simulation.tau2_bridge import load_tasks

    target = Path(out) / "fitness" / domain
    if (target / "fitness.json").exists():
        return target
    train = load_tasks(domain, "train")
    train = train[:train_limit] if train_limit else train
    _, validation = split_validation([t.id for t in train])  # every run's evaluator uses this slice
    fit = train_baseline(backend, (domain,), corpus=corpus, limit=baseline_limit,
                         run_dir=str(Path(out) / "baseline" / domain), progress=progress,
                         validation_task_ids={domain: validation}, executor=executor)
    tmp = target.with_name(f".{domain}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    fit.results[domain].model.save(tmp)
    os.replace(tmp, target)
    return target


def heldout_evaluation(run_dir, domain: str, backend, model, n_personas: int = 10, limit: int | None = None,
                       max_workers: int | None = None, executor=None) -> tuple[dict, pd.DataFrame, dict, pd.DataFrame]:
    """The run's chosen program on the test tasks: (metrics row, per-task sums, program info, episodes)."""
    from ..evolution.benchmark import condition_row, evolved_program
    from ..personas.conditions import condition_specs
    from ..simulation.runner import EVAL_MAX_STEPS, run_episodes
    from ..simulation.tau2_bridge import load_tasks

    source, info = evolved_program(run_dir)
    tasks = load_tasks(domain, "test")
    ids = [t.id for t in (tasks[:limit] if limit else tasks)]
    out = Path(run_dir) / "heldout"
    specs, failures = condition_specs("program", domain, split=None, n_personas=n_personas, seeds=(0,),
                                      world=backend.generator(seed=0), cache_dir=out / "personas", program=source,
                                      generation_seed=0, task_ids=ids)
    episodes = run_episodes(specs, backend, out, max_workers=max_workers, max_steps=EVAL_MAX_STEPS, progress=False,
                            executor=executor)
    row = condition_row(model, episodes, "PPol: Evolved")
    info = {**info, "n_generation_failures": len(failures), "task_ids": ids, "n_personas": n_personas}
    return row, per_task_frame(model, episodes, ids), info, episodes


def _ledger_totals(rows: list[dict]) -> dict:
    return {"llm_calls": sum(1 for r in rows if r.get("error") is None),
            "cost_usd": float(sum(r.get("cost_usd") or 0.0 for r in rows)),
            "prompt_tokens": int(sum(r.get("prompt_tokens") or 0 for r in rows)),
            "completion_tokens": int(sum(r.get("completion_tokens") or 0 for r in rows))}


@dataclass
class AblationSweep:
    """Variants × seeds of one domain under ``out`` (see the module doc); ``run()`` is resumable."""

    out: str | Path
    domain: str
    backend: object
    variants: tuple[str, ...] = ("paper",)
    seeds: tuple[int, ...] = (0,)
    profile: str = "ci"
    fitness_dir: str | Path | None = None
    corpus: str = "multiwoz"
    train_limit: int | None = None
    baseline_limit: int | None = None
    benchmark_limit: int | None = None
    n_personas: int = 10
    max_iterations: int | None = None
    max_workers: int | None = None
    reference: bool = True
    progress: bool = False
    executor: object = None  # where episodes run (ppol_nb.execution; None: threads of this process)
    failures: list = field(default_factory=list)  # runs of the last run() that raised (no marker written)

    def identity(self, fitness: Path) -> dict:
        from ..run_identity import file_digest

        return {"domain": self.domain, "profile": self.profile, "corpus": self.corpus,
                "fitness_sha256": file_digest(fitness), "backend": self.backend.identity(),
                "train_limit": self.train_limit, "benchmark_limit": self.benchmark_limit,
                "n_personas": self.n_personas, "max_iterations": self.max_iterations}

    def run(self) -> pd.DataFrame:
        """Run (or skip, when finished) every (variant, seed); returns the rebuilt tidy table."""
        from ..fitness.score import FitnessModel
        from ..run_identity import claim_run_dir

        out = Path(self.out)
        fitness = Path(self.fitness_dir) if self.fitness_dir else shared_fitness(
            out, self.domain, self.backend, self.corpus, self.train_limit, self.baseline_limit, self.progress,
            executor=self.executor)
        model = FitnessModel.load(fitness)
        with claim_run_dir(out / "runs" / self.domain, self.identity(fitness), "ablate"):
            if self.reference:
                self.reference_benchmark(model)
            self.failures = []
            for variant in self.variants:
                for seed in self.seeds:
                    try:
                        self.run_one(variant, int(seed), fitness, model)
                    except Exception as exc:  # one broken run must not stop the sweep
                        # No finished marker: the next sweep tries this run again (resuming it).
                        log.exception("%s/%s seed %s failed", self.domain, variant, seed)
                        self.failures.append({"variant": variant, "seed": int(seed),
                                              "error": f"{type(exc).__name__}: {exc}"[:2000]})
        return write_table(out)

    def run_one(self, variant: str, seed: int, fitness: Path, model) -> str:
        """``"skipped"`` (already finished) or ``"finished"``."""
        from ..evolution.runs import build_run

        run_dir = run_dir_for(self.out, self.domain, variant, seed)
        if (run_dir / DONE_FILE).exists():
            log.info("%s: finished before; skipped", run_dir)
            return "skipped"
        config = variant_config(variant, self.profile, seed)
        if self.max_iterations is not None:
            config = config.replace(max_iterations=self.max_iterations)
        ledger = self.backend.ledger
        start, t0 = len(ledger), time.time()
        run = build_run(self.domain, self.backend, run_dir, config=config, corpus=self.corpus, fitness_dir=fitness,
                        train_limit=self.train_limit, resume=True, progress=self.progress,
                        max_workers=self.max_workers, executor=self.executor)
        try:
            summary = run.engine.run(progress=self.progress)
            search_wall = time.time() - t0
            sessions = len(run.engine.db.events("session_start"))
            by_role = run.engine.db.cost_by_role()
            iterations = max(r.iteration for r in run.engine.records())
            heldout_start, t1 = len(ledger), time.time()
            row, per_task, info, _ = heldout_evaluation(run_dir, self.domain, self.backend, model,
                                                        self.n_personas, self.benchmark_limit, self.max_workers,
                                                        executor=self.executor)
            rows = ledger.rows()
            heldout = _ledger_totals(rows[heldout_start:])
            session = _ledger_totals(rows[start:])
            metrics = {m: float(row.get(m.upper() if m[0] in "du" else m, row.get(m, np.nan))) for m in METRICS}
            cost = {
                "llm_calls": int(sum(v["llm_calls"] for v in by_role.values())) + heldout["llm_calls"],
                "cost_usd": float(sum(v["cost_usd"] for v in by_role.values())) + heldout["cost_usd"],
                "prompt_tokens": session["prompt_tokens"], "completion_tokens": session["completion_tokens"],
                "tokens_complete": int(sessions == 1),
            }
            per_task.to_csv(run_dir / "heldout" / PER_TASK_FILE, index=False)
            _atomic_json(run_dir / DONE_FILE, {
                "variant": variant, "seed": seed, "domain": self.domain, "profile": self.profile,
                "backend": self.backend.name, "config": config.to_dict(), "metrics": metrics, "cost": cost,
                "search": {"iterations": iterations, "stop_reason": summary.stop_reason, "sessions": sessions,
                           "wall_s_last_session": search_wall, "heldout_wall_s": time.time() - t1,
                           "cost_by_role": by_role},
                "program": info, "human_mean": [float(x) for x in model.human_mean],
                "fitness_dir": str(fitness), "finished_at": time.time()})
        finally:
            run.engine.db.close()
            if run.claim is not None:
                run.claim.release()
        return "finished"

    def reference_benchmark(self, model) -> Path:
        """Humans, Base-simulator, DP and PPol: Initial on the same test tasks, once per domain."""
        from ..evolution.benchmark import run_benchmark
        from ..personas.programs import program_source

        folder = Path(self.out) / "reference" / self.domain
        done = folder / DONE_FILE
        if done.exists():
            return folder / "benchmark.csv"
        folder.mkdir(parents=True, exist_ok=True)
        seed_file = folder / "seed_program.py"
        seed_file.write_text(program_source("seed"), encoding="utf-8")
        # The seed program stands in as "Evolved" too: only Humans, Base, DP and Initial are read.
        run_benchmark(seed_file, self.domain, self.backend, fitness_model=model, out_csv=folder / "benchmark.csv",
                      n_personas=self.n_personas, limit=self.benchmark_limit, max_workers=self.max_workers,
                      executor=self.executor)
        _atomic_json(done, {"domain": self.domain, "finished_at": time.time()})
        return folder / "benchmark.csv"


# ----------------------------------------------------------------------------- tables
def finished_runs(out) -> list[dict]:
    """The finished markers under ``out``, sorted by domain, variant, seed."""
    markers = [json.loads(p.read_text(encoding="utf-8")) | {"run_dir": str(p.parent)}
               for p in Path(out).glob(f"runs/*/*/seed-*/{DONE_FILE}")]
    return sorted(markers, key=lambda m: (m["domain"], m["variant"], m["seed"]))


def seed_choice_note(runs: list[dict]) -> str:
    """How many finished runs chose the seed program, and which variants evolved on every seed (markdown)."""
    if not runs:
        return "No run has finished yet: no run has chosen a program."
    chose_seed = [m for m in runs if m["program"].get("iteration") == 0]
    by_variant: dict[str, list[bool]] = {}
    for m in runs:
        by_variant.setdefault(m["variant"], []).append(m["program"].get("iteration") != 0)
    evolved = [v for v, flags in by_variant.items() if all(flags)]
    note = (f"{len(chose_seed)} of {len(runs)} runs chose the seed program as their final program; "
            f"{len(evolved)} of {len(by_variant)} variants chose an evolved program on every seed they ran")
    if chose_seed:
        note += (" (seed chosen by " + ", ".join(f"`{m['variant']}` seed {m['seed']}" for m in chose_seed)
                 + "): in those runs no candidate beat the seed on validation within the budget, so their "
                   "held-out numbers are the seed's")
    return note + "."


def tidy_table(out) -> pd.DataFrame:
    """variant, seed, domain, metric, value: held-out metrics, cost and search facts of every finished run."""
    rows = []
    for m in finished_runs(out):
        values = {**m["metrics"], **m["cost"], "iterations": m["search"]["iterations"],
                  "final_is_seed": int(m["program"].get("iteration") == 0)}
        rows += [{"variant": m["variant"], "seed": m["seed"], "domain": m["domain"], "metric": k, "value": v}
                 for k, v in values.items()]
    return pd.DataFrame(rows, columns=["variant", "seed", "domain", "metric", "value"])


def write_table(out) -> pd.DataFrame:
    """Rebuild ``out/ablation.csv`` from the finished runs (atomically); returns it."""
    table = tidy_table(out)
    path = Path(out) / CSV_NAME
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # sweeps of two domains may share ``out``
    table.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return table


def unit_frame(out) -> pd.DataFrame:
    """Every finished run's per-task sums, with variant, seed, domain (the bootstrap's cells)."""
    frames = []
    for m in finished_runs(out):
        frame = pd.read_csv(Path(m["run_dir"]) / "heldout" / PER_TASK_FILE, dtype={"task_id": str})
        frames.append(frame.assign(variant=m["variant"], seed=m["seed"], domain=m["domain"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _human_means(out) -> dict[str, np.ndarray]:
    return {m["domain"]: np.asarray(m["human_mean"], float) for m in finished_runs(out)}


def cell_bootstrap(n: int, statistic, confidence: float, n_resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of a vector statistic of cell indices 0..n-1 (NaN when n < 2)."""
    from scipy.stats import bootstrap

    point = np.asarray(statistic(np.arange(n)), float)
    if n < 2:
        return np.full_like(point, np.nan), np.full_like(point, np.nan)
    res = bootstrap((np.arange(n),), lambda idx: np.asarray(statistic(idx.astype(int)), float), vectorized=False,
                    n_resamples=n_resamples, confidence_level=confidence, method="percentile",
                    rng=np.random.default_rng(seed))
    return np.asarray(res.confidence_interval.low, float), np.asarray(res.confidence_interval.high, float)


def intervals(units: pd.DataFrame, human_means: dict, metrics=METRICS, confidence: float = 0.95,
              n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per (domain, variant, metric): estimate and bootstrap interval over (seed, task) cells."""
    rows = []
    for (domain, variant), cells in units.groupby(["domain", "variant"], sort=True):
        cells = cells.reset_index(drop=True)
        arrays, hm = _cells(cells), human_means[domain]

        def stat(idx, arrays=arrays, hm=hm):
            values = _metrics(arrays, idx, hm)
            return [values[m] for m in metrics]

        point = stat(np.arange(len(cells)))
        low, high = cell_bootstrap(len(cells), stat, confidence, n_resamples, seed)
        for k, metric in enumerate(metrics):
            rows.append({"domain": domain, "variant": variant, "metric": metric, "estimate": point[k],
                         "low": low[k], "high": high[k], "n_seeds": cells["seed"].nunique(),
                         "n_tasks": cells["task_id"].nunique(), "n_cells": len(cells)})
    return pd.DataFrame(rows)


def paired_differences(units: pd.DataFrame, human_means: dict, reference: str = "paper", metrics=METRICS,
                       confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per (domain, variant, metric): variant − ``reference`` on shared (seed, task) cells, with an interval."""
    rows = []
    for domain, frame in units.groupby("domain", sort=True):
        ref = frame[frame["variant"] == reference].set_index(["seed", "task_id"])
        if ref.empty:
            continue
        for variant, cells in frame.groupby("variant", sort=True):
            cells = cells.set_index(["seed", "task_id"])
            keys = [k for k in cells.index if k in ref.index]
            if not keys:
                continue
            a, b = cells.loc[keys].reset_index(), ref.loc[keys].reset_index()

            arrays_a, arrays_b, hm = _cells(a), _cells(b), human_means[domain]

            def stat(idx, a=arrays_a, b=arrays_b, hm=hm):
                va, vb = _metrics(a, idx, hm), _metrics(b, idx, hm)
                return [va[m] - vb[m] for m in metrics]

            point = stat(np.arange(len(keys)))
            low, high = cell_bootstrap(len(keys), stat, confidence, n_resamples, seed)
            for k, metric in enumerate(metrics):
                rows.append({"domain": domain, "variant": variant, "reference": reference, "metric": metric,
                             "difference": point[k], "low": low[k], "high": high[k], "n_cells": len(keys)})
    return pd.DataFrame(rows)


def variant_table(out, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """:func:`intervals` joined with :func:`paired_differences` against ``paper``, for a sweep directory."""
    units, means = unit_frame(out), _human_means(out)
    if units.empty:
        return pd.DataFrame()
    table = intervals(units, means, confidence=confidence, n_resamples=n_resamples, seed=seed)
    diffs = paired_differences(units, means, confidence=confidence, n_resamples=n_resamples, seed=seed)
    if diffs.empty:
        return table
    diffs = diffs.rename(columns={"difference": "vs_paper", "low": "vs_paper_low", "high": "vs_paper_high"})
    return table.merge(diffs[["domain", "variant", "metric", "vs_paper", "vs_paper_low", "vs_paper_high"]],
                       on=["domain", "variant", "metric"], how="left")


def cost_table(out) -> pd.DataFrame:
    """Per (domain, variant): runs, total and per-run LLM calls, tokens and USD, and what they mean offline."""
    rows = []
    for m in finished_runs(out):
        rows.append({"domain": m["domain"], "variant": m["variant"], "backend": m["backend"],
                     **{k: m["cost"][k] for k in COST_METRICS}, "tokens_complete": m["cost"]["tokens_complete"]})
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["domain", "variant"], sort=True)
    table = grouped[list(COST_METRICS)].sum()
    table.insert(0, "runs", grouped.size())
    for k in COST_METRICS:
        table[f"{k}_per_run"] = table[k] / table["runs"]
    table["tokens_complete"] = grouped["tokens_complete"].min().astype(bool)
    backends = grouped["backend"].agg(lambda s: ",".join(sorted(set(s))))
    table["backend"] = backends
    table["note"] = [OFFLINE_COST_NOTE if b == "offline" else "" for b in backends]
    return table.reset_index()


__all__ = [
    "COST_METRICS",
    "METRICS",
    "AblationStudy",
    "AblationSweep",
    "cell_bootstrap",
    "cost_table",
    "finished_runs",
    "heldout_evaluation",
    "intervals",
    "metrics_of",
    "paired_differences",
    "per_task_frame",
    "program_metrics",
    "run_dir_for",
    "shared_fitness",
    "tidy_table",
    "unit_frame",
    "variant_table",
    "write_table",
]


# ----------------------------------------------------------------------------- notebook 03
NOTEBOOK = "03_fitness_ablations"
EXTENSION = ("an extension of the paper, which reports no ablations (it asserts that both fitness terms, the λ ramp, "
             "the N curriculum and reflection help without showing it): not a reproduction of the paper")
HUMANS_NOTE = "Humans (evaluation half)"


def program_metrics(out, domain: str) -> pd.DataFrame:
    """Every evaluated program of every run of ``domain`` (from its ``evolution.sqlite``): variant, seed, hl, coverage."""
    from ..evolution.database import FILENAME, RunDatabase

    rows = []
    for path in sorted(Path(out).glob(f"runs/{domain}/*/seed-*/{FILENAME}")):
        db = RunDatabase(path)
        try:
            for r in db.programs():
                if r.error is None and r.metrics:
                    rows.append({"variant": path.parent.parent.name, "seed": int(path.parent.name.split("-")[1]),
                                 "iteration": r.iteration, "hl": r.metrics.get("hl"),
                                 "coverage": r.metrics.get("coverage"), "score": r.metrics.get("score")})
        finally:
            db.close()
    return pd.DataFrame(rows, columns=["variant", "seed", "iteration", "hl", "coverage", "score"])


def _ok_episodes(folder) -> pd.DataFrame:
    from ..simulation.store import EpisodeStore

    frame = EpisodeStore(Path(folder)).frame()
    return frame[frame["error"].isna()] if len(frame) else frame


@dataclass
class AblationStudy:
    """Notebook 03: the sweep (as ``ppol-nb ablate``), its table with intervals, judge transfer, figures, findings.

    ``run()`` runs (or resumes) the sweep under ``out``; ``judge_transfer()`` fits
    the transfer judge once for the domain (:func:`~ppol_nb.analysis.judge_transfer.fit_transfer_judge`)
    and measures the search-judge − transfer-judge gap of every variant's chosen
    program (its held-out episodes, seeds pooled) and of the reference rows
    (Base, DP, Initial; Humans: the transfer split's evaluation half only, the
    other half trained the judge). Figures go through :func:`~.figures.save_figure`.
    """

    backend: object
    domain: str = DEFAULT_DOMAIN
    variants: tuple[str, ...] = ("paper",)
    seeds: tuple[int, ...] = (0, 1)
    profile: str = "ci"
    max_iterations: int | None = None
    train_limit: int | None = None
    baseline_limit: int | None = None
    benchmark_limit: int | None = None
    n_personas: int = 10
    corpus: str = "multiwoz"
    out: str | Path = "runs/03_ablations"
    figures: str | Path | None = None
    n_resamples: int = 1000
    progress: bool = False
    executor: object = None  # where episodes run (ppol_nb.execution; None: threads of this process)
    failures: list = field(default_factory=list)
    gaps: pd.DataFrame | None = None
    quality: dict | None = None

    def __post_init__(self):
        self.variants, self.seeds = tuple(self.variants), tuple(int(s) for s in self.seeds)
        for v in self.variants:
            variant_config(v)  # an unknown name fails here, before anything runs

    def parameters(self) -> dict:
        return {"domain": self.domain, "variants": list(self.variants), "seeds": list(self.seeds),
                "profile": self.profile, "max_iterations": self.max_iterations, "train_limit": self.train_limit,
                "baseline_limit": self.baseline_limit, "benchmark_limit": self.benchmark_limit, "n_personas": self.n_personas, "corpus": self.corpus,
                "out": str(self.out)}

    @property
    def provenance(self):
        from .figures import FigureProvenance

        return FigureProvenance.of(self.backend, NOTEBOOK, self.parameters(), corpus=self.corpus, seeds=self.seeds,
                                   profile=self.profile)

    def sweep(self) -> AblationSweep:
        return AblationSweep(self.out, self.domain, self.backend, variants=self.variants, seeds=self.seeds,
                             profile=self.profile, corpus=self.corpus, train_limit=self.train_limit,
                             baseline_limit=self.baseline_limit, benchmark_limit=self.benchmark_limit, n_personas=self.n_personas,
                             max_iterations=self.max_iterations, progress=self.progress, executor=self.executor)

    def run(self) -> pd.DataFrame:
        """Run (or resume) the sweep; returns this study's rows of the tidy table."""
        sweep = self.sweep()
        tidy = sweep.run()
        self.failures = sweep.failures
        return self._mine(tidy)

    def _mine(self, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        keep = (frame["domain"] == self.domain) & frame["variant"].isin(self.variants)
        if "seed" in frame:
            keep &= frame["seed"].isin(self.seeds)
        return frame[keep].reset_index(drop=True)

    def _units(self):
        units = unit_frame(self.out)
        return (self._mine(units) if len(units) else units), _human_means(self.out)

    def table(self) -> pd.DataFrame:
        """Per variant and metric: estimate, 95 % interval, paired difference against ``paper`` with its interval."""
        units, means = self._units()
        if units.empty:
            return pd.DataFrame()
        table = intervals(units, means, n_resamples=self.n_resamples)
        diffs = paired_differences(units, means, n_resamples=self.n_resamples)
        if len(diffs):
            diffs = diffs.rename(columns={"difference": "vs_paper", "low": "vs_paper_low", "high": "vs_paper_high"})
            table = table.merge(diffs[["domain", "variant", "metric", "vs_paper", "vs_paper_low", "vs_paper_high"]],
                                on=["domain", "variant", "metric"], how="left")
        order = {v: i for i, v in enumerate(self.variants)}
        return table.sort_values(["variant", "metric"], key=lambda s: s.map(order) if s.name == "variant" else s,
                                 kind="stable").reset_index(drop=True)

    def costs(self) -> pd.DataFrame:
        return self._mine(cost_table(self.out))

    # -- judge transfer ----------------------------------------------------------------------------
    def judge_transfer(self) -> pd.DataFrame:
        """Search-judge HL, transfer-judge HL and their gap per variant and reference row (module doc)."""
        from ..analysis.judge_transfer import (
            fit_transfer_judge,
            judge_gap,
            transfer_quality,
        )
        from ..fitness import FEATURES, fingerprint_frame
        from ..fitness.score import FitnessModel
        from ..humans import load_corpus

        out = Path(self.out)
        model = FitnessModel.load(out / "fitness" / self.domain)
        base = _ok_episodes(out / "baseline" / self.domain / "episodes" / f"{self.domain}-{self.backend.name}")
        base_fp = fingerprint_frame(base.to_dict("records"))
        negatives = base_fp[base["split"].to_numpy() == "train"]
        fit = fit_transfer_judge(load_corpus(self.corpus), model, negatives[list(FEATURES)])
        fit.save(out / "transfer" / self.domain)
        self.quality = transfer_quality(fit.judge, fit.evaluation_humans,
                                        base_fp[base["split"].to_numpy() == "test"][list(FEATURES)])
        conditions = {}
        for variant in self.variants:
            frames = [_ok_episodes(run_dir_for(out, self.domain, variant, s) / "heldout") for s in self.seeds
                      if (run_dir_for(out, self.domain, variant, s) / DONE_FILE).exists()]
            frames = [f for f in frames if len(f)]
            if frames:
                conditions[variant] = pd.concat(frames, ignore_index=True).to_dict("records")
        reference = _ok_episodes(out / "reference" / self.domain)
        for label, condition in (("Base", "base"), ("DP", "dp"), ("Initial", "seed")):
            sub = reference[reference["condition"] == condition] if len(reference) else reference
            if len(sub):
                conditions[label] = sub.to_dict("records")
        conditions[HUMANS_NOTE] = fit.humans_condition()
        self.gaps = judge_gap(conditions, model, fit.judge, n_boot=self.n_resamples)
        self.gaps.insert(1, "kind", ["variant" if c in self.variants else "reference" for c in self.gaps.condition])
        return self.gaps

    # -- figures -----------------------------------------------------------------------------------
    def _save(self, fig, name: str):
        from .figures import save_figure

        save_figure(fig, f"03_{name}_{self.domain}", self.provenance, self.figures)
        return fig

    def plot_scores(self):
        """Held-out score per variant with its 95 % interval (the paper variant's estimate as a line)."""
        import matplotlib.pyplot as plt

        rows = self.table()
        rows = rows[rows.metric == "score"].set_index("variant").reindex(
            [v for v in self.variants if v in set(rows.variant)])
        fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(rows)), 3.6))
        x = np.arange(len(rows))
        err = np.vstack([rows.estimate - rows.low, rows.high - rows.estimate]).clip(min=0)
        ax.errorbar(x, rows.estimate, yerr=np.nan_to_num(err), fmt="o", capsize=4)
        if "paper" in rows.index:
            ax.axhline(rows.loc["paper", "estimate"], color="0.6", ls="--", lw=1, label="paper variant")
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        ax.set_xticks(x, rows.index, rotation=30, ha="right")
        ax.set_ylabel("held-out score M (λ = 0.5/0.5)")
        ax.set_title(f"Score per variant, 95 % intervals · {self.domain} · {self.provenance.label}")
        return self._save(fig, "scores")

    def plot_programs(self):
        """HL vs coverage of every program the searches evaluated, coloured by variant."""
        import matplotlib.pyplot as plt

        progs = program_metrics(self.out, self.domain)
        progs = progs[progs.variant.isin(self.variants) & progs.seed.isin(self.seeds)]
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        for variant in self.variants:
            sub = progs[progs.variant == variant]
            if len(sub):
                ax.scatter(sub.coverage, sub.hl, s=18, alpha=0.7, label=f"{variant} ({len(sub)})")
        ax.set_xlabel("coverage (training minibatch)")
        ax.set_ylabel("HL: mean P(human), search judge")
        # Outside the axes: inside it covers programs wherever it goes.
        ax.legend(fontsize=7, title="variant (programs)", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0)
        ax.set_title(f"Every evaluated program · {self.domain} · {self.provenance.label}")
        return self._save(fig, "programs")

    def plot_alignment(self):
        """D1–D4 of each variant's chosen programs on held-out tasks (variant × dimension)."""
        import matplotlib.pyplot as plt

        rows = self.table()
        dims = ["d1", "d2", "d3", "d4"]
        grid = rows[rows.metric.isin(dims)].pivot(index="variant", columns="metric", values="estimate")
        grid = grid.reindex(index=[v for v in self.variants if v in grid.index], columns=dims)
        fig, ax = plt.subplots(figsize=(5, 0.5 * len(grid) + 1.8))
        im = ax.imshow(grid.to_numpy(float), cmap="viridis", aspect="auto")
        for (i, j), v in np.ndenumerate(grid.to_numpy(float)):
            ax.text(j, i, "n/a" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center", fontsize=8,
                    color="w")
        ax.set_xticks(range(len(dims)), [d.upper() for d in dims])
        ax.set_yticks(range(len(grid)), grid.index)
        fig.colorbar(im, ax=ax, label="alignment with humans")
        ax.set_title(f"D1–D4 per variant · {self.domain} · {self.provenance.label}")
        return self._save(fig, "alignment")

    def plot_judge_gap(self):
        """Search − transfer judge HL per variant and reference row, with 95 % intervals."""
        import matplotlib.pyplot as plt

        gaps = self.gaps if self.gaps is not None else self.judge_transfer()
        fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(gaps)), 3.8))
        x = np.arange(len(gaps))
        err = np.vstack([gaps.gap - gaps.gap_lo, gaps.gap_hi - gaps.gap]).clip(min=0)
        colours = ["C0" if k == "variant" else "C7" for k in gaps.kind]
        ax.bar(x, gaps.gap, color=colours, yerr=np.nan_to_num(err), capsize=4)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(x, [c.replace(" (", "\n(") for c in gaps.condition], rotation=30, ha="right")
        ax.set_ylabel("HL gap: search judge − transfer judge")
        ax.set_title(f"Judge transfer (blue: variants, grey: references) · {self.domain} · {self.provenance.label}")
        return self._save(fig, "judge_gap")

    # -- findings ----------------------------------------------------------------------------------
    def findings(self) -> str:
        """What this sweep's numbers show (markdown), computed from its tables."""
        from . import findings as text

        bullets = text.setting(self.backend, self.corpus, compared_with_paper=False)
        bullets.append(f"This notebook is {EXTENSION}.")
        runs = [m for m in finished_runs(self.out) if m["domain"] == self.domain and m["variant"] in self.variants
                and m["seed"] in self.seeds]
        iters = sorted({m["search"]["iterations"] for m in runs})
        budget = (f"max_iterations = {self.max_iterations} (overriding the {self.profile} profile)"
                  if self.max_iterations is not None else f"the {self.profile} profile's budget")
        bullets.append(f"{len(runs)} finished runs ({', '.join(self.variants)} × seeds "
                       f"{', '.join(map(str, self.seeds))}) on {self.domain}, {budget}; iterations per run "
                       f"{'–'.join(map(str, (iters[0], iters[-1]))) if len(iters) > 1 else (iters or ['n/a'])[0]}; "
                       f"{len(self.failures)} failed.")
        bullets.append(seed_choice_note(runs))
        table = self.table()
        if len(table):
            score = table[table.metric == "score"].set_index("variant")
            parts = [f"`{v}` {r.estimate:.3f} [{r.low:.3f}, {r.high:.3f}]" for v, r in score.iterrows()]
            bullets.append(f"Held-out score M (95 % intervals over {int(score.n_cells.max())} (seed, task) cells): "
                           + "; ".join(parts) + ".")
            if "vs_paper" in table:
                differ = table[(table.variant != "paper") & ((table.vs_paper_low > 0) | (table.vs_paper_high < 0))]
                differ = differ[differ.metric.isin(["score", "hl", "coverage", "usi", "success_rate"])]
                if len(differ):
                    bullets.append("Differ from `paper` (paired-difference interval excludes 0): " + "; ".join(
                        f"`{r.variant}` {r.metric} {r.vs_paper:+.3f} [{r.vs_paper_low:+.3f}, {r.vs_paper_high:+.3f}]"
                        for r in differ.itertuples()) + ".")
                else:
                    bullets.append("No variant differs from `paper` in score, HL, coverage, USI or τ² success: "
                                   "every paired-difference interval contains 0 (or is undefined with one cell).")
        else:
            bullets.append("No run has finished yet: no held-out numbers.")
        if self.gaps is not None and len(self.gaps):
            g = self.gaps.set_index("condition")
            top = g.gap.idxmax()
            bullets.append(f"Judge transfer: the largest search − transfer HL gap is {g.loc[top, 'gap']:+.3f} "
                           f"[{g.loc[top, 'gap_lo']:+.3f}, {g.loc[top, 'gap_hi']:+.3f}] for `{top}` (search HL "
                           f"{g.loc[top, 'hl_search']:.3f}, transfer HL {g.loc[top, 'hl_transfer']:.3f}); "
                           + "; ".join(f"`{c}` {r.gap:+.3f}" for c, r in g.iterrows() if c != top)
                           + f". {HUMANS_NOTE}: only the humans the transfer judge did not train on.")
            variants = g[g.kind == "variant"]
            if len(variants):
                worst = variants.gap.idxmax()
                bullets.append(f"Among the variants the gap is largest for `{worst}` ({variants.loc[worst, 'gap']:+.3f}"
                               f" [{variants.loc[worst, 'gap_lo']:+.3f}, {variants.loc[worst, 'gap_hi']:+.3f}]); "
                               "a gap well above the Humans' and the Base's would be the mark of discriminator "
                               "hacking.")
            if self.quality:
                bullets.append(f"The transfer judge separates "
                               f"held-out humans from base-simulator test episodes with ROC-AUC "
                               f"{self.quality.get('roc_auc', float('nan')):.3f}.")
        costs = self.costs()
        if len(costs):
            note = "; ".join(sorted({n for n in costs.note if n}))
            bullets.append("Cost per variant (LLM calls, USD): " + "; ".join(
                f"`{r.variant}` {int(r.llm_calls)} calls, ${r.cost_usd:.2f}" for r in costs.itertuples())
                + (f" ({note})." if note else "."))
        return text.markdown("What this sweep shows", bullets)
