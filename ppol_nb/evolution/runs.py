"""Assemble a whole PPol search: frozen fitness model, evaluator, mutator and engine.

Used by ``ppol-nb evolve`` and by notebooks, so both build a run the same way.
One run directory holds everything::

    DIR/evolution.sqlite        the engine's checkpoint (programs, ledger, events)
    DIR/best_program.py         the best program by training score
    DIR/fitness/<domain>/       the frozen FitnessModel the search is scored with
    DIR/baseline/               the baseline study that trained it (when built here)
    DIR/personas/               persona cache (program x task x N x seed x world)
    DIR/episodes/<program_id>/  training episodes of each candidate
    DIR/validation/<program_id>/ validation episodes of each validated elite
    DIR/run_manifest.json       provenance of the run's setup

The fitness model is loaded from ``DIR/fitness/<domain>`` (or ``fitness_dir``)
when present, else trained by :func:`~.fitness_training.train_baseline` (what notebook
01's study calls too) and frozen there, so a resumed run scores with exactly the model it started with.
A model trained here leaves out the humans of this run's validation slice and
caps its base-simulator episodes at the run's validation cap; a loaded one must
prove it left that slice's humans out (the evaluator checks, see
:mod:`.evaluator`). The config's ``train_max_steps`` / ``val_max_steps``,
``reflection_prompt`` and ``generation_failure`` go to the evaluator, its
``mutator_prompt`` and ``rewrite_on_failed_diff`` to the backend's mutator and
its ``reflection_prompt`` to the backend's reflector.

Before anything is written, :func:`build_run` locks the directory and checks its
identity (:mod:`ppol_nb.run_identity`: domain, corpus, backend and models,
fitness model, the decision-driving config, task limits, seed program): a
second process, a resume with another identity, or a new run over an existing
one is refused without touching ``baseline/``, ``fitness/`` or the manifest.
The claim is ``PPolRun.claim``; it is released when the process ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..fitness.score import FitnessModel
from ..provenance import provenance
from ..run_identity import RunClaim, claim_run_dir, file_digest
from .config import BUDGET_FIELDS, COMPONENT_DEFAULTS, EvolutionConfig
from .curriculum import VAL_FRACTION, VAL_SEED, split_validation
from .engine import EvolutionEngine
from .evaluator import PPolEvaluator


def fitness_model_for(run_dir, domain: str, backend, corpus: str = "multiwoz", fitness_dir=None,
                      baseline_limit: int | None = None, progress: bool = True, validation_task_ids=None,
                      val_fraction: float = VAL_FRACTION, max_steps: int | None = None,
                      executor=None) -> FitnessModel:
    """The frozen fitness model of a run: loaded if saved, else trained once and saved.

    Training leaves out the humans of ``validation_task_ids`` (default: the seeded
    slice of the official train split) and caps base-simulator episodes at
    ``max_steps`` (default: the baseline study's, 30).
    """
    if fitness_dir is not None:
        return FitnessModel.load(fitness_dir)
    target = Path(run_dir) / "fitness" / domain
    if (target / "fitness.json").exists():
        return FitnessModel.load(target)
    from .fitness_training import train_baseline

    extra = {"max_steps": max_steps} if max_steps is not None else {}
    fit = train_baseline(backend, (domain,), corpus=corpus, limit=baseline_limit,
                         run_dir=str(Path(run_dir) / "baseline"), progress=progress, val_fraction=val_fraction,
                         validation_task_ids=None if validation_task_ids is None else {domain: validation_task_ids},
                         executor=executor, **extra)
    model = fit.results[domain].model
    model.save(target)
    return model


@dataclass
class PPolRun:
    engine: EvolutionEngine
    evaluator: PPolEvaluator
    fitness_model: FitnessModel
    claim: RunClaim | None = None


def run_identity(domain: str, backend, config: EvolutionConfig, corpus: str, fitness_dir, train_limit,
                 baseline_limit, seed_program: str) -> dict:
    """What defines an evolution run (fields that may change on resume left out)."""
    from ..llm.config import scrub_credentials
    from ..personas.sandbox import program_hash

    return scrub_credentials({
        "domain": domain, "corpus": corpus, "backend": backend.identity(),
        "fitness_sha256": file_digest(fitness_dir) if fitness_dir is not None else "trained in this run",
        "config": {k: v for k, v in config.to_dict().items()
                   if k not in BUDGET_FIELDS and not (k in COMPONENT_DEFAULTS and v == COMPONENT_DEFAULTS[k])},
        "train_limit": train_limit, "baseline_limit": baseline_limit, "seed_program_sha256": program_hash(seed_program),
    })


def _for_world(config: EvolutionConfig, backend, resumed_dir: Path | None) -> EvolutionConfig:
    """Fields left to the world filled in: a resumed run keeps the candidates in flight it was made
    with; a new one takes the backend's ``search_defaults()``."""
    manifest = resumed_dir / "run_manifest.json" if resumed_dir is not None else None
    if config.parallel_evaluations is None and manifest is not None and manifest.exists():
        # The manifest, not the database: nothing of the run may be touched before its claim is checked.
        try:
            stored = json.loads(manifest.read_text(encoding="utf-8")).get("config") or {}
        except (OSError, ValueError):
            stored = {}
        config = config.replace(parallel_evaluations=int(stored.get("parallel_evaluations") or 1))
    defaults = getattr(backend, "search_defaults", None)
    return config.for_world(defaults() if callable(defaults) else None)


def build_run(domain: str, backend, run_dir, config: EvolutionConfig | None = None, corpus: str = "multiwoz",
              fitness_dir=None, baseline_limit: int | None = None, train_limit: int | None = None,
              resume: bool = False, mutator=None, world=None, reflection=None, seed_program: str | None = None,
              progress: bool = True, executor=None, **evaluator_kwargs) -> PPolRun:
    """Everything a PPol search needs, ready for ``run.engine.run()``.

    ``train_limit`` keeps only the first K official train tasks (smoke runs);
    ``evaluator_kwargs`` go to :class:`PPolEvaluator` (curriculum, val_fraction,
    ...); its step caps come from ``config`` unless given there. ``executor`` runs every
    episode of the run — the fitness model's baseline and the evaluator's (:mod:`ppol_nb.execution`;
    None: threads of this process).
    """
    from ..personas.programs import program_source
    from ..simulation.tau2_bridge import load_tasks
    from .database import FILENAME

    run_dir = Path(run_dir)
    config = config or EvolutionConfig.profile("paper")
    seed_program = seed_program or program_source("seed")
    for name, value in (("curriculum", config.curriculum), ("lambda_b_schedule", config.lambda_b_schedule),
                        ("reflect", config.reflection), ("reflection_prompt", config.reflection_prompt),
                        ("generation_failure", config.generation_failure)):
        given = evaluator_kwargs.setdefault(name, value)
        if (tuple(given) if isinstance(given, (list, tuple)) else given) != value:
            raise ValueError(f"{name}={given!r} contradicts the EvolutionConfig ({value!r}); set it in the config, "
                             "which is what the run's identity records")
    if not resume and (run_dir / FILENAME).exists():  # before the baseline, fitness or manifest is touched
        raise FileExistsError(f"{run_dir / FILENAME} already holds a run; pass resume=True to continue it, "
                              "or use a new run_dir")
    config = _for_world(config, backend, run_dir if resume else None)
    claim = claim_run_dir(run_dir, run_identity(domain, backend, config, corpus, fitness_dir, train_limit,
                                                baseline_limit, seed_program), "evolve")
    train = load_tasks(domain, "train")
    train = train[:train_limit] if train_limit else train
    evaluator_kwargs.setdefault("max_steps", config.train_max_steps)
    evaluator_kwargs.setdefault("val_max_steps", config.val_max_steps)
    val_fraction = evaluator_kwargs.get("val_fraction", VAL_FRACTION)
    _, validation = split_validation([t.id for t in train], val_fraction, evaluator_kwargs.get("val_seed", VAL_SEED))
    model = fitness_model_for(run_dir, domain, backend, corpus=corpus, fitness_dir=fitness_dir,
                              baseline_limit=baseline_limit, progress=progress, validation_task_ids=validation,
                              val_fraction=val_fraction, max_steps=evaluator_kwargs["val_max_steps"],
                              executor=executor)
    evaluator = PPolEvaluator(domain, model, backend, world if world is not None else backend.generator(),
                              train_tasks=train, run_dir=run_dir,
                              reflection=reflection if reflection is not None
                              else backend.reflector(prompt=config.reflection_prompt),
                              executor=executor, **evaluator_kwargs)
    engine = EvolutionEngine(config, evaluator, mutator if mutator is not None else backend.mutator(
        prompt=config.mutator_prompt, rewrite_fallback=config.rewrite_on_failed_diff),
                             run_dir, seed_program, resume=resume)
    manifest = provenance({"command": "evolve", "domain": domain, "config": config.to_dict(),
                           "backend": backend.describe(), "corpus": corpus, "evaluator": evaluator.describe(),
                           "mutator": type(engine.mutator).__name__, "resume": resume})
    (run_dir / "run_manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return PPolRun(engine, evaluator, model, claim)
