"""Held-out benchmark (paper §5.1, Tables 3/4): five conditions on the τ² TEST tasks.

Conditions and what each row is:

* **Humans** — held-out human dialogues of the fitness model's corpus (the
  split it recorded, :func:`~ppol_nb.humans.split_humans`; a corpus that no
  longer gives the recorded held-out ids is refused), scored by the same frozen
  discriminator, coverage against the training cloud;
* **Base-simulator** — the default user simulator, one episode per task;
* **DP Personas** — direct LLM personas, one call per task for N instructions;
* **PPol: Initial** — the seed generator program;
* **PPol: Evolved** — the run's best program by mean validation score (falling
  back to the best training rating when nothing was validated), or a given file.
  The engine validates the seed program too and ties go to the earliest
  program, so this row differs from PPol: Initial only when a candidate beat
  the seed on validation.

Persona conditions use N = 10 personas per test task; every episode runs with
the authors' benchmark cap of 30 τ² steps (``max_steps``). Every row uses
λ = (0.5, 0.5), so ``score = 0.5·hl + 0.5·coverage``. All conditions' episodes go
to one ``episodes.jsonl`` beside the CSV (a rerun resumes it), and a provenance
JSON (``<csv stem>.json``) records the program, the model and every setting.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..fitness import FEATURES, fingerprint_frame, fingerprints
from ..fitness.score import REPORT_LAMBDAS, FitnessModel
from ..personas.conditions import condition_specs
from ..personas.programs import program_source
from ..personas.sandbox import program_hash
from ..provenance import provenance
from ..simulation.runner import EVAL_MAX_STEPS, run_episodes
from ..simulation.tau2_bridge import load_tasks
from .database import FILENAME, RunDatabase

COLUMNS = ("domain", "condition", "n_tasks", "n_episodes", "hl", "hl_std", "coverage", "coverage_std", "score",
           "score_std", "d1", "d2", "d3", "d4", "usi", "success_rate")
EXTRA_COLUMNS = ("backend", "simulator", "agent", "human_corpus", "source", "program", "n_personas",
                 "n_generation_failures", "episode_errors", "preservation_rate",
                 "d1_std", "d2_std", "d3_std", "d4_std", "usi_std")

# Paper label -> runner condition.
CONDITIONS = {
    "Base-simulator": "base",
    "DP Personas": "dp",
    "PPol: Initial": "seed",
    "PPol: Evolved": "program",
}


def evolved_program(run) -> tuple[str, dict]:
    """``(source, info)`` of the program to benchmark as PPol: Evolved.

    ``run`` is an evolution run directory (best by validation score, else by
    training score) or a path to a generator ``.py`` file.
    """
    path = Path(run)
    if path.is_file():
        return path.read_text(encoding="utf-8"), {"program": str(path), "selected_by": "file"}
    db_path = path / FILENAME
    if not db_path.exists():
        raise FileNotFoundError(f"{run} is neither a program file nor an evolution run ({db_path} is missing)")
    db = RunDatabase(db_path)
    try:
        records = [r for r in db.programs() if r.ok]
    finally:
        db.close()
    if not records:
        raise ValueError(f"{run}: the run holds no successfully evaluated program")
    validated = [r for r in records if _finite(r.validation.get("score"))]
    if validated:
        best, how = max(validated, key=lambda r: (r.validation["score"], -r.iteration)), "validation"
    else:
        # The rating is the like-with-like training estimate (.comparison); raw scores of
        # different minibatches are not comparable. Old runs without ratings fall back to the score.
        best, how = max(records, key=lambda r: (r.selection_score, -r.iteration)), "training rating"
    return best.source, {"program": best.id, "selected_by": how, "iteration": best.iteration,
                         "training_score": best.score, "training_rating": best.rating,
                         "validation_score": best.validation.get("score")}


def humans_row(model: FitnessModel, domain: str, corpus=None) -> dict:
    """The Humans row: the model's held-out human dialogues scored like any condition."""
    from ..humans import HumanLeakError, load_corpus, split_humans
    from ..humans.splits import ids_hash

    corpus_name = corpus or model.info.get("human_corpus")
    if not corpus_name:
        raise ValueError("the fitness model names no human corpus; pass human_corpus=")
    loaded = load_corpus(corpus_name) if isinstance(corpus_name, (str, Path)) else corpus_name
    record = model.humans
    seed = int(record.get("seed", model.manifest.get("human_seed", 0)))
    split = split_humans(loaded, domain, record.get("validation_task_ids", ()), record.get("val_fraction", 0.2),
                         seed)
    recorded = (record.get("heldout") or {}).get("sha256")
    if recorded is not None and ids_hash(d.dialogue_id for d in split.heldout) != recorded:
        raise HumanLeakError(f"corpus {split.corpus!r} does not give the held-out humans the fitness model "
                             f"recorded for {domain!r} (another file or version?); its training humans may "
                             f"overlap these, so the Humans row would not be held out")
    H = fingerprints([d.user_turns for d in split.heldout])
    return model.row(H, split.heldout_groups, lambdas=REPORT_LAMBDAS, label="Humans")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _tidy(row: dict) -> dict:
    """FitnessModel.row keys (D1..USI) to the CSV's lower-case columns."""
    out = {}
    for key, value in row.items():
        out[key.lower() if key[:1] in "DU" and key.split("_")[0] in ("D1", "D2", "D3", "D4", "USI") else key] = value
    return out


def condition_row(model: FitnessModel, episodes: pd.DataFrame, label: str) -> dict:
    """One simulated condition's row from its episodes (errored ones are not scored)."""
    ok = episodes[episodes["error"].isna()]
    success = float((episodes["reward"].fillna(0.0) >= 1.0).mean()) if len(episodes) else float("nan")
    extra = {"success_rate": success, "episode_errors": int(episodes["error"].notna().sum())}
    if ok.empty:
        return {"condition": label, "n_tasks": 0, "n_episodes": 0, **extra}
    fp = fingerprint_frame(ok.to_dict("records"))
    row = model.row(fp[list(FEATURES)].to_numpy(float), fp["task_id"], lambdas=REPORT_LAMBDAS, label=label)
    preserved = [(p or {}).get("preservation", {}).get("ok") for p in ok["persona"]]
    preserved = [bool(p) for p in preserved if p is not None]
    return {**row, **extra, "preservation_rate": float(np.mean(preserved)) if preserved else float("nan")}


def run_benchmark(run, domain: str, backend, fitness_model: FitnessModel | None = None,
                  out_csv: str | Path = "runs/benchmark/benchmark.csv", n_personas: int = 10, world=None,
                  task_ids=None, limit: int | None = None, episode_seed: int = 0, generation_seed: int = 0,
                  max_steps: int = EVAL_MAX_STEPS, max_workers: int | None = None, human_corpus=None,
                  progress: bool = False, executor=None) -> pd.DataFrame:
    """Benchmark the five conditions on held-out test tasks; write the CSV, episodes and provenance.

    ``run`` is an evolution run directory or a generator program path (for PPol:
    Evolved). ``fitness_model`` defaults to ``run/fitness/<domain>``. ``world``
    answers generator calls (default: the backend's LLM client, else offline).
    ``task_ids`` / ``limit`` restrict the test tasks (all 40 retail / 20 airline by
    default). ``max_steps`` caps every episode (the authors' 30). ``executor`` runs
    the episodes (:mod:`ppol_nb.execution`; None: threads of this process). Returns the rows
    as a DataFrame with :data:`COLUMNS` first.
    """
    out_csv = Path(out_csv)
    out_dir = out_csv.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    if fitness_model is None:
        fitness_dir = Path(run) / "fitness" / domain
        if not (fitness_dir / "fitness.json").exists():
            raise FileNotFoundError(f"no frozen fitness model at {fitness_dir}; pass fitness_model=")
        fitness_model = FitnessModel.load(fitness_dir)
    world = world if world is not None else backend.generator(seed=generation_seed)
    evolved_source, evolved_info = evolved_program(run)
    sources = {"seed": program_source("seed"), "program": evolved_source}

    tasks = load_tasks(domain, "test")
    if task_ids is not None:
        wanted = {str(t) for t in task_ids}
        tasks = [t for t in tasks if t.id in wanted]
    tasks = tasks[:limit] if limit else tasks
    ids = [t.id for t in tasks]

    specs, failures = [], {}
    for label, condition in CONDITIONS.items():
        cond_specs, cond_failures = condition_specs(
            condition, domain, split=None, n_personas=n_personas, seeds=(episode_seed,), world=world,
            cache_dir=out_dir / "personas", program=sources.get(condition), generation_seed=generation_seed,
            task_ids=ids)
        specs += cond_specs
        failures[label] = cond_failures
    episodes = run_episodes(specs, backend, out_dir, max_workers=max_workers, max_steps=max_steps, progress=progress,
                            executor=executor)

    simulator = f"{backend.name}:{backend.user_model}"
    rows = [{**_tidy(humans_row(fitness_model, domain, human_corpus)), "success_rate": float("nan"),
             "backend": "human", "n_personas": None}]
    for label, condition in CONDITIONS.items():
        sub = episodes[episodes["condition"] == condition] if not episodes.empty else episodes
        row = _tidy({**fitness_model.info, **condition_row(fitness_model, sub, label)})
        row.update(backend=backend.name, simulator=simulator, n_generation_failures=len(failures[label]),
                   n_personas=1 if condition == "base" else n_personas,
                   program={"seed": f"seed:{program_hash(sources['seed'])[:12]}",
                            "program": evolved_info["program"]}.get(condition))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["domain"] = domain
    from ..provenance import agent_caption

    # success_rate is this agent's: offline, the gold-plan offline agent's (never an LLM agent's number)
    table["agent"] = agent_caption(backend.agent_model)
    for column in (*COLUMNS, *EXTRA_COLUMNS):
        if column not in table:
            table[column] = np.nan
    table = table[list(COLUMNS) + list(EXTRA_COLUMNS)]
    table.to_csv(out_csv, index=False)

    manifest = provenance({
        "command": "benchmark", "domain": domain, "split": "test", "task_ids": ids, "n_personas": n_personas,
        "episode_seed": episode_seed, "generation_seed": generation_seed, "max_steps": max_steps,
        "lambdas": list(REPORT_LAMBDAS), "backend": backend.describe(), "world": world.key,
        "fitness_model": dict(fitness_model.info),
        "discriminator": {k: fitness_model.manifest.get(k)
                          for k in ("human_corpus", "simulator", "max_steps", "n_reference_dialogues",
                                    "n_validation_dialogues", "n_heldout_dialogues", "simulator_train_episodes",
                                    "human_seed", "humans")},
        "evolved": {**evolved_info, "program_sha256": program_hash(evolved_source), "run": str(run)},
        "seed_program_sha256": program_hash(sources["seed"]),
        "conditions": {label: cond for label, cond in CONDITIONS.items()},
        "generation_failures": failures, "episodes": str(out_dir / "episodes.jsonl"), "csv": str(out_csv),
    })
    warnings = []
    if fitness_model.info.get("simulator") not in (None, simulator):
        warnings.append(f"the discriminator was trained against {fitness_model.info.get('simulator')} "
                        f"but these episodes come from {simulator}")
    if fitness_model.info.get("max_steps") not in (None, max_steps):
        warnings.append(f"the discriminator was trained on base-simulator episodes capped at "
                        f"{fitness_model.info.get('max_steps')} steps but these run with max_steps={max_steps}")
    if warnings:
        manifest["warning"] = "; ".join(warnings)
    out_csv.with_suffix(".json").write_text(json.dumps(manifest, indent=2, default=str))
    return table
