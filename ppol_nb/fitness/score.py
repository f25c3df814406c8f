"""The combined fitness M and the full reporting row (Tables 3/4 analog).

    M(G;T) = λ_h · P̄(human) + λ_b · B̄_cover,   λ_h + λ_b = 1          (Eq. 4)

Reporting uses λ = (0.5, 0.5). During search the coverage weight ramps with the
persona-count curriculum: λ_b = 0.5 · N_current / 10, so N = 5, 8, 10 give
(0.75, 0.25), (0.60, 0.40), (0.50, 0.50).

How the ± are computed (the paper does not say): HL per episode, Coverage and Score
per task, D1–D4/USI by a seeded bootstrap over episodes (200 resamples).

A :class:`FitnessModel` also carries the record of its human split
(:meth:`ppol_nb.humans.HumanSplit.record`: ids, counts and hashes of the
training, validation and held-out humans) and the fingerprints of its validation
humans; :meth:`FitnessModel.check_humans` raises
:class:`~ppol_nb.humans.HumanLeakError` if a validation or held-out human could be
in what it was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..humans.splits import check_record
from .alignment import alignment

if TYPE_CHECKING:  # scikit-learn and SciPy (~1 s) load with a model, not with the search's modules
    from sklearn.frozen import FrozenEstimator

    from .coverage import CoverageReference

REPORT_LAMBDAS = (0.5, 0.5)


def lambda_schedule(n_current: int, n_final: int = 10, lambda_b_final: float = 0.5) -> tuple[float, float]:
    """(λ_h, λ_b) for the curriculum step with ``n_current`` personas per task."""
    lam_b = lambda_b_final * min(n_current, n_final) / n_final
    return 1.0 - lam_b, lam_b


@dataclass
class FitnessModel:
    """Everything frozen that scores a set of episodes: discriminator, human cloud, human mean.

    ``discriminator`` is a fitted
    :class:`~ppol_nb.fitness.discriminator.HumanLikenessDiscriminator`, held frozen
    (scikit-learn's ``FrozenEstimator``; a fitted one given unfrozen is wrapped), so
    a later ``fit`` is a no-op. ``manifest`` is the provenance of its training
    (corpus, human split, counts, parameters), saved beside it.
    ``humans`` is the human split record (empty for a hand-built model, which
    :meth:`check_humans` then refuses); ``validation_humans`` /
    ``validation_groups`` are the validation humans' fingerprints and their
    coverage groups, the human reference level of validation.
    """

    discriminator: FrozenEstimator
    reference: CoverageReference
    human_mean: np.ndarray
    info: dict = field(default_factory=dict)  # corpus, backend, domain: goes into every row
    humans: dict = field(default_factory=dict)
    validation_humans: np.ndarray | None = None
    validation_groups: tuple[str, ...] = ()
    manifest: dict = field(default_factory=dict)

    def __post_init__(self):
        from .discriminator import freeze

        self.discriminator = freeze(self.discriminator)

    def check_humans(self, validation_task_ids=None) -> None:
        """Raise HumanLeakError unless the record proves train humans exclude validation and held-out ones.

        ``validation_task_ids`` is the slice the model will be validated on (by-task corpora must
        have left those tasks' humans out of training).
        """
        check_record(self.humans, validation_task_ids)

    def fitness(self, X, task_ids, lambdas=REPORT_LAMBDAS) -> float:
        """M for one batch (e.g. an evolution minibatch)."""
        row = self.row(X, task_ids, lambdas=lambdas, n_boot=0)
        return row["score"]

    def row(self, X, task_ids, lambdas=REPORT_LAMBDAS, n_boot: int = 200, seed: int = 0, label: str | None = None) -> dict:
        """HL, Coverage, Score, D1–D4, USI with ± and n for one condition."""
        X = np.atleast_2d(np.asarray(X, float))
        task_ids = np.asarray([str(t) for t in task_ids])
        if len(X) != len(task_ids):
            raise ValueError(f"{len(X)} fingerprints but {len(task_ids)} task ids")
        lam_h, lam_b = lambdas
        p = self.discriminator.predict_proba_human(X)
        tasks = list(dict.fromkeys(task_ids))
        cov = np.array([self.reference.score(X[task_ids == t]) for t in tasks])
        hl_task = np.array([p[task_ids == t].mean() for t in tasks])
        score_task = lam_h * hl_task + lam_b * cov
        row = {
            "condition": label,
            "n_episodes": int(len(X)), "n_tasks": len(tasks),
            "hl": float(p.mean()), "hl_std": float(p.std()),
            "coverage": float(cov.mean()), "coverage_std": float(cov.std()),
            "score": float(lam_h * p.mean() + lam_b * cov.mean()), "score_std": float(score_task.std()),
            **alignment(X, self.human_mean),
        }
        if n_boot:
            rng = np.random.default_rng(seed)
            boots = [alignment(X[rng.integers(0, len(X), len(X))], self.human_mean) for _ in range(n_boot)]
            for key in ("D1", "D2", "D3", "D4", "USI"):
                row[f"{key}_std"] = float(np.std([b[key] for b in boots]))
        return {**row, **self.info}

    # -- persistence: the search loads exactly what the baseline study froze ------------
    def save(self, directory) -> Path:
        from .discriminator import save_discriminator

        d = Path(directory)
        save_discriminator(self.discriminator, d / "discriminator", self.manifest)
        np.save(d / "human_reference.npy", self.reference.points)
        np.save(d / "human_mean.npy", self.human_mean)
        (d / "fitness.json").write_text(json.dumps({**self.info, "d_ref": self.reference.d_ref}, indent=2))
        (d / "humans.json").write_text(json.dumps(
            {**self.humans, "validation_groups": list(self.validation_groups)}, indent=2))
        if self.validation_humans is not None:
            np.save(d / "validation_humans.npy", self.validation_humans)
        return d

    @classmethod
    def load(cls, directory) -> "FitnessModel":
        from .coverage import CoverageReference
        from .discriminator import load_discriminator

        d = Path(directory)
        meta = json.loads((d / "fitness.json").read_text())
        d_ref = meta.pop("d_ref")
        humans = json.loads((d / "humans.json").read_text()) if (d / "humans.json").exists() else {}
        groups = tuple(humans.pop("validation_groups", ()))
        val_path = d / "validation_humans.npy"
        discriminator, manifest = load_discriminator(d / "discriminator")
        return cls(
            discriminator=discriminator, manifest=manifest,
            reference=CoverageReference(points=np.load(d / "human_reference.npy"), d_ref=d_ref),
            human_mean=np.load(d / "human_mean.npy"),
            info=meta,
            humans=humans,
            validation_humans=np.load(val_path) if val_path.exists() else None,
            validation_groups=groups,
        )
