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

Notebook 01 calls :class:`BaselineStudy` (``run()``, the tables, ``plot_*`` through
:func:`~.figures.save_figure`, ``findings()``); ``ppol_nb.evolution.runs`` trains a
search's fitness model with it when none is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import paper
from ..evolution.curriculum import VAL_FRACTION, VAL_SEED, split_validation
from ..fitness.fingerprint import DIMENSIONS, FEATURES, fingerprint_frame, fingerprints
from ..fitness.score import FitnessModel
from ..humans import attributions, load_corpus, split_humans
from ..provenance import provenance
from ..simulation.runner import EVAL_MAX_STEPS, run_episodes, specs_for
from ..simulation.tau2_bridge import load_tasks
from . import findings as text
from .figures import FigureProvenance, save_figure

NOTEBOOK = "01_baseline_simulator"


@dataclass
class DomainResult:
    domain: str
    model: FitnessModel
    discriminator_metrics: dict
    rows: pd.DataFrame
    fingerprints: pd.DataFrame
    human_split_sizes: dict


@dataclass
class BaselineStudy:
    """Humans vs base simulator for one or more domains; ``run()`` does everything."""

    backend: object  # an OfflineBackend or LLMBackend
    domains: tuple = ("retail", "airline")
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
    results: dict = field(default_factory=dict)
    corpus_name: str | None = None  # the loaded corpus's name, once run

    @property
    def simulator(self) -> str:
        return f"{self.backend.name}:{self.backend.user_model}"

    def run(self) -> BaselineStudy:
        corpus = load_corpus(self.corpus)
        self.corpus_name = corpus.name
        for domain in self.domains:
            self.results[domain] = self._run_domain(domain, corpus)
        self._write_outputs(corpus)
        return self

    def _episodes(self, domain: str, split: str) -> pd.DataFrame:
        specs = specs_for(domain, split, condition="base", seeds=self.seeds, limit=self.limit)
        run = Path(self.run_dir) / "episodes" / f"{domain}-{self.backend.name}"
        df = run_episodes(specs, self.backend, run, max_steps=self.max_steps, progress=self.progress)
        ok = df[df["error"].isna()]
        fp = fingerprint_frame(ok.to_dict("records"))
        return fp.assign(split=split)

    def validation_slice(self, domain: str) -> list[str]:
        """The validation task ids whose humans are kept out of training (the evaluator's default slice)."""
        if self.validation_task_ids is not None and domain in self.validation_task_ids:
            return [str(t) for t in self.validation_task_ids[domain]]
        return split_validation([t.id for t in load_tasks(domain, "train")], self.val_fraction, self.val_seed)[1]

    def _run_domain(self, domain: str, corpus) -> DomainResult:
        split = split_humans(corpus, domain, self.validation_slice(domain), self.val_fraction, self.human_seed)
        if len(split.train) < 2 or not split.heldout:
            raise ValueError(f"corpus {corpus.name!r} gives {len(split.train)} training and {len(split.heldout)} "
                             f"held-out humans for {domain!r}; need at least 2 and 1")
        H_ref = fingerprints([d.user_turns for d in split.train])
        H_val = fingerprints([d.user_turns for d in split.validation])
        H_held = fingerprints([d.user_turns for d in split.heldout])
        sim_train, sim_test = self._episodes(domain, "train"), self._episodes(domain, "test")
        # scikit-learn and SciPy (~1 s) load once there is something to train: not before the episodes
        from ..fitness.coverage import CoverageReference
        from ..fitness.discriminator import train_discriminator, training_manifest

        info = {"domain": domain, "simulator": self.simulator, "human_corpus": corpus.name,
                "source": f"ppol_nb ({self.backend.name} backend)", "max_steps": self.max_steps}
        humans = split.record()
        disc = train_discriminator(H_ref, sim_train[list(FEATURES)])
        manifest = {
            **provenance(), **info, "attributions": attributions([corpus]),
            "human_split": {k: v for k, v in humans.items() if k not in ("train", "validation", "heldout")},
            "humans": {role: {k: humans[role][k] for k in ("n", "sha256")} for role in ("train", "validation",
                                                                                       "heldout")},
            "n_reference_dialogues": len(split.train), "n_validation_dialogues": len(split.validation),
            "n_heldout_dialogues": len(split.heldout),
            "simulator_train_episodes": len(sim_train), "seeds": list(self.seeds), "human_seed": self.human_seed,
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
        model.save(Path(self.run_dir) / "fitness" / domain)
        return DomainResult(domain, model, metrics, rows, fp, split.sizes())

    # -- tables ----------------------------------------------------------------------
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

    def _write_outputs(self, corpus) -> None:
        out = Path(self.run_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.discriminator_table().to_csv(out / "discriminator.csv", index=False)
        self.rows().to_csv(out / "rows.csv", index=False)
        self.importances().to_csv(out / "importances.csv", index=False)
        (out / "manifest.json").write_text(json.dumps(provenance({
            "study": "baseline", "backend": self.backend.describe(), "domains": list(self.domains),
            "corpus": corpus.name, "attributions": attributions([corpus]), "seeds": list(self.seeds),
            "limit": self.limit, "human_seed": self.human_seed, "max_steps": self.max_steps,
            "val_fraction": self.val_fraction, "val_seed": self.val_seed,
            "human_split_sizes": {d: r.human_split_sizes for d, r in self.results.items()},
        }), indent=2, default=str))

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
                           f"{top} (Table 6, retail / DeepSeek-V3.1): {', '.join(paper_top)} — "
                           f"{len(shared)} in common" + (f" ({', '.join(shared)})." if shared else "."))
        return text.markdown("What this run shows", bullets)
