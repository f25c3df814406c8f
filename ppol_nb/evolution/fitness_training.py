"""Train the frozen fitness model of a domain: the base simulator against a human corpus.

The one place a :class:`~ppol_nb.fitness.score.FitnessModel` is trained (paper §3.3–3.4, App. D–E:
discriminator human-likeness plus Chamfer coverage of the human cloud). A search trains its model
here (:func:`ppol_nb.evolution.runs.fitness_model_for`) and notebook 01's
:class:`~ppol_nb.studies.baseline.BaselineStudy` calls the same :func:`train_baseline`, then adds its
tables, figures and findings; the library never imports a study.

For each domain: run the base (persona-free) simulator on τ² train and test tasks, fingerprint it
and the human corpus, train the human-vs-simulator discriminator on training humans vs train-task
episodes, evaluate it on held-out humans vs test-task episodes (Table 5 analog), and compute the
Humans and Base-simulator rows (HL, Coverage, Score, D1–D4, USI; Tables 3/4 analog).

Human splits (:func:`ppol_nb.humans.split_humans`): *training* humans (the discriminator's human
class, the coverage cloud H_train and the human mean), *validation* humans (the evolution's
validation slice: never trained on; kept as validation's human reference) and *held-out* humans
(Table 5 evaluation and the benchmark's Humans row). The validation slice of the train tasks is
:func:`~.curriculum.split_validation`'s (the evaluator's default 20 %, seed 42) unless given. The
model records which humans it was trained on and refuses a leak at construction.

Step cap: base-simulator episodes run with ``max_steps`` = 30
(:data:`~ppol_nb.simulation.step_caps.EVAL_MAX_STEPS`), the cap of validation and of the benchmark.

Outputs under ``run_dir``: ``episodes/<domain>-<backend>/``, ``fitness/<domain>/`` (the frozen
model), ``discriminator.csv``, ``rows.csv``, ``importances.csv`` and ``manifest.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..fitness.fingerprint import FEATURES, fingerprint_frame, fingerprints
from ..fitness.score import FitnessModel
from ..humans import attributions, load_corpus, split_humans
from ..provenance import provenance
from ..simulation.runner import run_episodes, specs_for
from ..simulation.step_caps import EVAL_MAX_STEPS
from ..simulation.tau2_bridge import load_tasks
from .curriculum import VAL_FRACTION, VAL_SEED, split_validation


@dataclass
class DomainResult:
    domain: str
    model: FitnessModel
    discriminator_metrics: dict
    rows: pd.DataFrame
    fingerprints: pd.DataFrame
    human_split_sizes: dict


@dataclass
class BaselineFit:
    """The trained models of some domains and the tables computed with them."""

    corpus_name: str
    results: dict = field(default_factory=dict)  # domain -> DomainResult

    def discriminator_table(self) -> pd.DataFrame:
        return pd.DataFrame([r.discriminator_metrics for r in self.results.values()])

    def importances(self, top: int = 10) -> pd.DataFrame:
        frames = [r.model.discriminator.importances().head(top).rename_axis("feature").reset_index()
                  .assign(domain=d, **{k: r.model.info[k] for k in ("source", "simulator", "human_corpus")})
                  for d, r in self.results.items()]
        return pd.concat(frames, ignore_index=True)

    def rows(self) -> pd.DataFrame:
        return pd.concat([r.rows for r in self.results.values()], ignore_index=True)

    def fingerprints(self) -> pd.DataFrame:
        return pd.concat([r.fingerprints for r in self.results.values()], ignore_index=True)


def validation_slice(domain: str, val_fraction: float = VAL_FRACTION, val_seed: int = VAL_SEED,
                     validation_task_ids: dict | None = None) -> list[str]:
    """The validation task ids whose humans are kept out of training (the evaluator's default slice)."""
    if validation_task_ids is not None and domain in validation_task_ids:
        return [str(t) for t in validation_task_ids[domain]]
    return split_validation([t.id for t in load_tasks(domain, "train")], val_fraction, val_seed)[1]


def train_baseline(backend, domains, corpus: str = "multiwoz", seeds=(0,), limit: int | None = None,
                   run_dir="runs/01_baseline", human_seed: int = 0, max_steps: int = EVAL_MAX_STEPS,
                   val_fraction: float = VAL_FRACTION, val_seed: int = VAL_SEED,
                   validation_task_ids: dict | None = None, progress: bool = True, executor=None) -> BaselineFit:
    """Train and save a fitness model per domain under ``run_dir`` (module doc); write the tables.

    ``limit``: first K tasks per split (None: all). ``validation_task_ids``: ``{domain: task ids}``
    overrides the seeded validation slice. ``executor`` runs the episodes (:mod:`ppol_nb.execution`;
    None: threads of this process).
    """
    loaded = load_corpus(corpus)
    fit = BaselineFit(loaded.name)
    for domain in domains:
        fit.results[domain] = _train_domain(
            backend, domain, loaded, seeds=seeds, limit=limit, run_dir=run_dir, human_seed=human_seed,
            max_steps=max_steps, val_fraction=val_fraction,
            validation=validation_slice(domain, val_fraction, val_seed, validation_task_ids),
            progress=progress, executor=executor)
    _write_outputs(fit, backend, loaded, run_dir, domains=domains, seeds=seeds, limit=limit, human_seed=human_seed,
                   max_steps=max_steps, val_fraction=val_fraction, val_seed=val_seed)
    return fit


def _episodes(backend, domain: str, split: str, *, seeds, limit, run_dir, max_steps, progress,
              executor) -> pd.DataFrame:
    specs = specs_for(domain, split, condition="base", seeds=seeds, limit=limit)
    run = Path(run_dir) / "episodes" / f"{domain}-{backend.name}"
    df = run_episodes(specs, backend, run, max_steps=max_steps, progress=progress, executor=executor)
    ok = df[df["error"].isna()]
    fp = fingerprint_frame(ok.to_dict("records"))
    return fp.assign(split=split)


def _train_domain(backend, domain: str, corpus, *, seeds, limit, run_dir, human_seed, max_steps, val_fraction,
                  validation, progress, executor) -> DomainResult:
    split = split_humans(corpus, domain, validation, val_fraction, human_seed)
    if len(split.train) < 2 or not split.heldout:
        raise ValueError(f"corpus {corpus.name!r} gives {len(split.train)} training and {len(split.heldout)} "
                         f"held-out humans for {domain!r}; need at least 2 and 1")
    H_ref = fingerprints([d.user_turns for d in split.train])
    H_val = fingerprints([d.user_turns for d in split.validation])
    H_held = fingerprints([d.user_turns for d in split.heldout])
    episodes = {"seeds": seeds, "limit": limit, "run_dir": run_dir, "max_steps": max_steps, "progress": progress,
                "executor": executor}
    sim_train = _episodes(backend, domain, "train", **episodes)
    sim_test = _episodes(backend, domain, "test", **episodes)
    simulator = f"{backend.name}:{backend.user_model}"
    info = {"domain": domain, "simulator": simulator, "human_corpus": corpus.name,
            "source": f"ppol_nb ({backend.name} backend)", "max_steps": max_steps}
    humans = split.record()
    # scikit-learn and SciPy (~1 s) load once there is something to train: not before the episodes
    from ..fitness.coverage import CoverageReference
    from ..fitness.discriminator import train_discriminator, training_manifest

    disc = train_discriminator(H_ref, sim_train[list(FEATURES)])
    manifest = {
        **provenance(), **info, "attributions": attributions([corpus]),
        "human_split": {k: v for k, v in humans.items() if k not in ("train", "validation", "heldout")},
        "humans": {role: {k: humans[role][k] for k in ("n", "sha256")} for role in ("train", "validation",
                                                                                   "heldout")},
        "n_reference_dialogues": len(split.train), "n_validation_dialogues": len(split.validation),
        "n_heldout_dialogues": len(split.heldout),
        "simulator_train_episodes": len(sim_train), "seeds": list(seeds), "human_seed": human_seed,
        **training_manifest(disc),
    }
    metrics = {**info, **disc.evaluate(H_held, sim_test[list(FEATURES)])}
    model = FitnessModel(disc, CoverageReference.from_points(H_ref), H_ref.mean(axis=0), info=info,
                         humans=humans, validation_humans=H_val, validation_groups=split.validation_groups,
                         manifest=manifest)
    model.check_humans()
    rows = pd.DataFrame([
        model.row(H_held, split.heldout_groups, label="Humans"),
        model.row(sim_test[list(FEATURES)], sim_test["task_id"], label="Base-simulator"),
    ])
    fp = pd.concat([
        pd.DataFrame(H_ref, columns=FEATURES).assign(kind="humans (reference)"),
        pd.DataFrame(H_val, columns=FEATURES).assign(kind="humans (validation)"),
        pd.DataFrame(H_held, columns=FEATURES).assign(kind="humans (held-out)"),
        sim_train[list(FEATURES)].assign(kind="base simulator (train tasks)"),
        sim_test[list(FEATURES)].assign(kind="base simulator (test tasks)"),
    ], ignore_index=True).assign(domain=domain)
    model.save(Path(run_dir) / "fitness" / domain)
    return DomainResult(domain, model, metrics, rows, fp, split.sizes())


def _write_outputs(fit: BaselineFit, backend, corpus, run_dir, *, domains, seeds, limit, human_seed, max_steps,
                   val_fraction, val_seed) -> None:
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    fit.discriminator_table().to_csv(out / "discriminator.csv", index=False)
    fit.rows().to_csv(out / "rows.csv", index=False)
    fit.importances().to_csv(out / "importances.csv", index=False)
    (out / "manifest.json").write_text(json.dumps(provenance({
        "study": "baseline", "backend": backend.describe(), "domains": list(domains),
        "corpus": corpus.name, "attributions": attributions([corpus]), "seeds": list(seeds),
        "limit": limit, "human_seed": human_seed, "max_steps": max_steps,
        "val_fraction": val_fraction, "val_seed": val_seed,
        "human_split_sizes": {d: r.human_split_sizes for d, r in fit.results.items()},
    }), indent=2, default=str))
