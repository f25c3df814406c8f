"""Notebook 01 · Baseline simulator analysis: how far is the base simulator from humans?

Answers the paper's starting observation (§1, §3.3–3.4 and App. D–E; Table 5
discriminator quality, Tables 3/4 Humans and Base-simulator rows, Table 6
importances, Figure 4 PCA) for a chosen backend and human corpus.

For each domain: run the base (persona-free) simulator on τ² train and test tasks,
fingerprint it and a human corpus, train the human-vs-simulator discriminator on
reference humans vs train-task episodes, evaluate it on held-out humans vs
test-task episodes (Table 5 analog), and compute the Humans and Base-simulator rows
(HL, Coverage, Score, D1–D4, USI; Tables 3/4 analog). The frozen discriminator,
human cloud and human mean are saved as a :class:`FitnessModel` for the search.

Human splits (:func:`ppol_nb.humans.split_humans`): *training* humans (the
discriminator's human class, the coverage cloud H_train and the human mean),
*validation* humans (the evolution's validation slice: never trained on; their
fingerprints are kept as validation's human reference) and *held-out* humans
(Table 5 evaluation and the benchmark's Humans row). TAU-USI splits by τ² task —
test tasks held out, the validation slice of the train tasks
(:func:`~ppol_nb.evolution.curriculum.split_validation`, the evaluator's default
20 %, seed 42) set apart; MultiWOZ by seeded dialogue halves, 20 % of the
reference half for validation. The fitness model records which humans it was
trained on (ids, counts, hashes) and refuses a leak at construction.

Step cap: base-simulator episodes run with ``max_steps`` = 30
(:data:`~ppol_nb.simulation.step_caps.EVAL_MAX_STEPS`), the cap of validation and
of the benchmark — the settings the discriminator's verdicts are reported under
— so it is not trained on long episodes the search never produces. Training
rollouts (20 steps) are a little shorter still; the cap is recorded as
``info["max_steps"]``.

The training itself is the library's (:func:`ppol_nb.evolution.fitness_training.train_baseline`),
which a search also calls to train its fitness model; this study adds the tables, figures and
findings. Notebook 01 calls :class:`BaselineStudy` (``run()``, the tables, ``plot_*`` through
:func:`~.figures.save_figure`, ``findings()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import paper
from ..domains import PAPER_DOMAINS, PAPER_SINGLE_DOMAIN
from ..evolution.curriculum import VAL_FRACTION, VAL_SEED
from ..evolution.fitness_training import (
    BaselineFit,
    DomainResult,
    train_baseline,
    validation_slice,
)
from ..fitness.fingerprint import DIMENSIONS, FEATURES
from ..simulation.step_caps import EVAL_MAX_STEPS
from . import findings as text
from .figures import FigureProvenance, save_figure

NOTEBOOK = "01_baseline_simulator"

__all__ = ["NOTEBOOK", "BaselineStudy", "DomainResult"]


@dataclass
class BaselineStudy:
    """Humans vs base simulator for one or more domains; ``run()`` does everything."""

    backend: object  # an OfflineBackend or LLMBackend
    domains: tuple = PAPER_DOMAINS
    corpus: str = "multiwoz"
    seeds: tuple = (0,)
    limit: int | None = None  # first K tasks per split (None = all)
    run_dir: str = "runs/01_baseline"
    human_seed: int = 0
    max_steps: int = EVAL_MAX_STEPS  # τ² step cap of the base-simulator episodes (module doc)
    val_fraction: float = VAL_FRACTION  # validation humans: this slice of the train tasks (or dialogues)
    val_seed: int = VAL_SEED
    validation_task_ids: dict | None = None  # {domain: task ids} overrides the seeded slice
    figures: str | Path | None = None  # where plots are saved (None: the repository's figures/)
    progress: bool = True
    executor: object = field(default=None, repr=False)  # where episodes run (ppol_nb.execution; None: threads)
    results: dict = field(default_factory=dict)
    corpus_name: str | None = None  # the loaded corpus's name, once run

    @property
    def simulator(self) -> str:
        return f"{self.backend.name}:{self.backend.user_model}"

    def run(self) -> BaselineStudy:
        """Train the fitness models with the library (:func:`~ppol_nb.evolution.fitness_training.train_baseline`)."""
        fit = train_baseline(self.backend, self.domains, corpus=self.corpus, seeds=self.seeds, limit=self.limit,
                             run_dir=self.run_dir, human_seed=self.human_seed, max_steps=self.max_steps,
                             val_fraction=self.val_fraction, val_seed=self.val_seed,
                             validation_task_ids=self.validation_task_ids, progress=self.progress,
                             executor=self.executor)
        self.corpus_name = fit.corpus_name
        self.results.update(fit.results)
        return self

    def validation_slice(self, domain: str) -> list[str]:
        """The validation task ids whose humans are kept out of training (the evaluator's default slice)."""
        return validation_slice(domain, self.val_fraction, self.val_seed, self.validation_task_ids)

    # -- tables ----------------------------------------------------------------------
    def _fit(self) -> BaselineFit:
        return BaselineFit(self.corpus_name or self.corpus, self.results)

    def discriminator_table(self) -> pd.DataFrame:
        return self._fit().discriminator_table()

    def importances(self, top: int = 10) -> pd.DataFrame:
        return self._fit().importances(top)

    def rows(self) -> pd.DataFrame:
        return self._fit().rows()

    def fingerprints(self) -> pd.DataFrame:
        return self._fit().fingerprints()

    # -- figures ---------------------------------------------------------------------
    def parameters(self) -> dict:
        return {"domains": list(self.domains), "corpus": self.corpus, "seeds": list(self.seeds), "limit": self.limit,
                "max_steps": self.max_steps, "human_seed": self.human_seed, "val_fraction": self.val_fraction,
                "val_seed": self.val_seed, "run_dir": str(self.run_dir)}

    @property
    def provenance(self) -> FigureProvenance:
        return FigureProvenance.of(self.backend, NOTEBOOK, self.parameters(), corpus=self.corpus_name or self.corpus,
                                   seeds=self.seeds)

    def plot_feature_distributions(self, name: str = "01_feature_distributions"):
        """One panel per feature: humans (held-out) vs base simulator (test tasks)."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        fp = self.fingerprints()
        fp = fp[fp["kind"].isin(["humans (held-out)", "base simulator (test tasks)"])]
        long = fp.melt(id_vars=["kind", "domain"], value_vars=list(FEATURES), var_name="feature")
        fig, axes = plt.subplots(4, 5, figsize=(16, 11))
        dim_of = {f: d for d, feats in DIMENSIONS.items() for f in feats}
        for ax, feature in zip(axes.flat, FEATURES):
            sns.boxplot(data=long[long.feature == feature], x="domain", y="value", hue="kind", ax=ax,
                        showfliers=True, fliersize=1.5, legend=feature == FEATURES[0])
            ax.set_title(f"{dim_of[feature]} · {feature}", fontsize=9)
            ax.set_xlabel("")
            ax.set_ylabel("")
        axes.flat[-1].axis("off")
        if axes.flat[0].get_legend():
            handles, labels = axes.flat[0].get_legend_handles_labels()
            axes.flat[0].get_legend().remove()
            axes.flat[-1].legend(handles, labels, loc="center")
        fig.suptitle(f"Fingerprints: held-out humans vs base simulator ({self.simulator}) · {self.provenance.label}")
        fig.tight_layout()
        save_figure(fig, name, self.provenance, self.figures)
        return fig

    def plot_pca(self, name: str = "01_pca"):
        """PCA of standardised fingerprints per domain (Figure 4 analog)."""
        import matplotlib.pyplot as plt
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        fp = self.fingerprints()
        fp = fp[fp["kind"].isin(["humans (held-out)", "base simulator (test tasks)"])]
        domains = list(self.results)
        fig, axes = plt.subplots(1, len(domains), figsize=(6 * len(domains), 5), squeeze=False)
        for ax, domain in zip(axes[0], domains):
            sub = fp[fp.domain == domain]
            Z = StandardScaler().fit_transform(sub[list(FEATURES)])
            pca = PCA(n_components=2, random_state=0).fit(Z)
            P = pca.transform(Z)
            for kind, marker in [("humans (held-out)", "o"), ("base simulator (test tasks)", "x")]:
                mask = (sub["kind"] == kind).to_numpy()
                ax.scatter(P[mask, 0], P[mask, 1], s=12, alpha=0.5, marker=marker, label=kind)
                ax.scatter(*P[mask].mean(axis=0), s=200, marker="*", edgecolor="k", label=f"centroid: {kind}")
            ev = pca.explained_variance_ratio_
            ax.set_xlabel(f"PC1 ({ev[0]:.1%})")
            ax.set_ylabel(f"PC2 ({ev[1]:.1%})")
            ax.set_title(f"{domain}: held-out humans vs base ({self.simulator})", fontsize=10)
            ax.legend(fontsize=7)
        fig.suptitle(f"PCA of fingerprints · {self.provenance.label}")
        fig.tight_layout()
        save_figure(fig, name, self.provenance, self.figures)
        return fig

    # -- findings --------------------------------------------------------------------
    def findings(self, top: int = 3) -> str:
        """What this run's numbers show, beside the paper's Tables 3–6 (markdown)."""
        simulator = paper.simulator_for(self.backend.user_model)
        bullets = text.setting(self.backend, self.corpus_name or self.corpus)
        disc = self.discriminator_table().set_index("domain")
        rows = self.rows()
        imp = self.importances(top=top)
        paper_top = list(paper.importances()["feature"].head(top))
        for domain in self.results:
            d = disc.loc[domain]
            ref = paper.discriminator_table()
            ref = ref[ref.domain == domain]
            bullets.append(
                f"{domain}: the discriminator, trained on training humans vs train-task episodes, separates "
                f"{int(d.n_human)} held-out humans from {int(d.n_simulator)} test-task episodes with ROC-AUC "
                f"{text.versus(d.roc_auc, text.reference(ref, 'roc_auc', simulator))}, accuracy "
                f"{text.versus(d.accuracy, text.reference(ref, 'accuracy', simulator))} (Table 5).")
            ours = rows[rows.domain == domain].set_index("condition")
            reported = paper.fitness_rows(domain)
            parts = []
            for cond in ("Humans", "Base-simulator"):
                rep = reported[reported.condition == cond]
                parts.append(f"{cond} HL {text.versus(ours.loc[cond, 'hl'], text.reference(rep, 'hl', simulator))}, "
                             f"coverage {text.versus(ours.loc[cond, 'coverage'], text.reference(rep, 'coverage', simulator))}")
            gap = ours.loc["Humans", "score"] - ours.loc["Base-simulator", "score"]
            paper_gap = (reported[reported.condition == "Humans"].set_index("simulator")["score"]
                         - reported[reported.condition == "Base-simulator"].set_index("simulator")["score"])
            gap_ref = (float(paper_gap[simulator]) if simulator in paper_gap.index
                       else (float(paper_gap.min()), float(paper_gap.max())))
            bullets.append(f"{domain} (Tables 3/4 rows): " + "; ".join(parts)
                           + f". Score M of humans minus the base simulator's: {text.versus(gap, gap_ref)}.")
            feats = list(imp[imp.domain == domain]["feature"])
            shared = [f for f in feats if f in paper_top]
            bullets.append(f"{domain}: top {top} features by Gini importance: {', '.join(feats)}; the paper's top "
                           f"{top} (Table 6, {PAPER_SINGLE_DOMAIN} / DeepSeek-V3.1): {', '.join(paper_top)} — "
                           f"{len(shared)} in common" + (f" ({', '.join(shared)})." if shared else "."))
        return text.markdown("What this run shows", bullets)
