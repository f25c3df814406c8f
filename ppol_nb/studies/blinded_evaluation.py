"""Notebook 04 · Blinded evaluation statistics: do people take PPol's customers for humans?

The paper's headline (§5.4, Figure 5): in a blinded study, PPol personas were rated
human as often as real humans (80.4 % vs 80.0 %) and far more often than the base
simulator (46.5 %; Welch t = 3.556, p = 6.37e-4), and discriminator P(human)
correlated with the judgements (r = 0.49). :class:`BlindedEvaluationStudy` builds
such a study from this repository's own runs and analyses an answers table.

**The study.** Conversations per source, drawn by :func:`~ppol_nb.apps.blinded_study.build_study`
(balanced, seeded, blinded, attention checks mixed in) into ``study_dir``:

* ``human`` — the human corpus of notebook 01's fitness model, its *held-out* dialogues
  only (the discriminator never trained on them);
* ``base`` — notebook 01's base-simulator episodes on τ² *test* tasks;
* ``ppol`` — notebook 02's benchmark episodes of the evolved program ("PPol: Evolved");
  optionally ``dp`` and ``ppol_initial`` (the benchmark's DP and seed-program personas).

``episodes`` ({source: episode file or run directory}) and ``humans`` (a corpus name,
path or loaded corpus) replace any of these. ``per_source`` conversations per source are asked for; when
a source has fewer, every source gets as many as the smallest has (said in the findings).
An existing study directory is reused when the inputs rebuild it byte for byte; a
different study is refused if the directory already holds answers (they would be orphaned).

**The answers.** ``answers`` is a CSV exported by ``ppol-nb study export`` (real
annotators, from the web app or the notebook widget, :mod:`ppol_nb.apps.annotation_widget`), checked
against the study's key. When None (CI, offline), the answers come from **simulated
annotators** (:class:`~ppol_nb.analysis.simulated_annotators.AnnotatorModel`, seeded, with known rates per
source, one inattentive annotator): then every table carries ``simulated`` / label
"simulated", every figure's caption starts "SIMULATED annotators" and the findings say so
first — they test the statistics (the known rates must be recovered), not the simulator.
An answers file that says it is simulated (a ``simulated`` column) is labelled the same way.

**P(human) per conversation**: notebook 01's frozen discriminator on the fingerprint of
the customer turns annotators saw (no fitness model: no correlation, said so).

**The statistics** are :func:`~ppol_nb.analysis.blinded_stats.analyse` (attention-check exclusions,
Wilson rates beside the paper, Welch PPol vs base, TOST PPol vs humans, mixed logit,
Krippendorff's α, point-biserial r), plus a power analysis: the closed form (Cohen's h
with a design effect from the fitted annotator spread) and a simulation of the fitted
model over panel sizes (:func:`~ppol_nb.analysis.blinded_stats.simulated_power`).
"""

from __future__ import annotations

import filecmp
import math
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logit

from ..analysis import blinded_stats as bs
from ..apps.annotation_app import AnswerStore, default_db
from ..apps.blinded_study import (
    ATTENTION_SOURCE,
    KEY_FILE,
    MANIFEST_FILE,
    STUDY_FILE,
    StudyError,
    build_study,
    load_key,
    load_study,
)
from ..domains import DEFAULT_DOMAIN, PAPER_SINGLE_DOMAIN
from . import findings as text
from .figures import FigureProvenance, save_figure

NOTEBOOK = "04_blinded_evaluation"
SIMULATED_NOTE = "SIMULATED annotators"
# Study source -> benchmark condition of notebook 02's run (ppol_nb.evolution.benchmark.CONDITIONS).
BENCHMARK_CONDITIONS = {"ppol": "program", "dp": "dp", "ppol_initial": "seed", "base": "base"}
SOURCES = ("human", "base", "ppol", "dp", "ppol_initial")
SIMULATED_ANSWERS = "answers-simulated.csv"
PANELS = (2, 4, 8, 12, 16)  # annotators, for the power curve


def _records(path: Path, condition: str | None = None, split: str | None = None) -> list:
    from ..simulation.store import EpisodeStore, read_episodes

    records = EpisodeStore(path).records() if path.is_dir() else read_episodes(path)[0]
    records = sorted(records, key=lambda r: r.episode_id)  # file order is the order episodes finished in
    return [r for r in records if (condition is None or r.condition == condition) and (split is None or r.split == split)]


@dataclass
class BlindedEvaluationStudy:
    """Build a blinded study from notebooks 01–02's runs, analyse its answers (module doc)."""

    backend: object                       # the backend of the runs (names them, labels the figures)
    domain: str = DEFAULT_DOMAIN
    baseline_dir: str | Path = "runs/01_baseline"
    search_dir: str | Path = f"runs/02_evolution/{DEFAULT_DOMAIN}-offline-ci"
    study_dir: str | Path = f"runs/04_blinded/{DEFAULT_DOMAIN}-offline-ci"
    sources: tuple = ("human", "base", "ppol")
    episodes: dict | None = None          # {source: episode file or run dir} overrides
    humans: object = None                 # corpus name, path or Corpus replacing the fitness model's held-out humans
    per_source: int = 29                  # the paper: 87 conversations over three sources
    n_attention: int = 3
    seed: int = 0
    answers: str | Path | None = None     # CSV from `ppol-nb study export`; None: simulated annotators
    n_annotators: int = 16                # simulated panel (the paper kept 16)
    # Known truth of the simulated panel: "discriminator" = per source, the mean discriminator P(human) of its
    # study conversations (this run's own measurement, never the paper's numbers), or {source: rate}.
    simulated_rates: dict | str = "discriminator"
    # "blind" (default): each simulated annotator judges the served text alone, P(human) from a transfer judge the
    # search never optimised (fitted here on humans and base-simulator conversations outside the study) plus bias
    # and noise; "known_truth": answers drawn from each item's source at simulated_rates (statistics checks).
    simulated_annotators: str = "blind"
    annotator_sd: float = 0.5
    item_sd: float = 0.3
    inattentive: tuple = ("sim-a03",)
    margin: float = 0.10                  # TOST equivalence margin (share judged human)
    power_simulations: int = 40           # simulated studies per point of the power curve
    figures: str | Path | None = None
    # filled by run()
    built: dict = field(default_factory=dict)
    item_table: pd.DataFrame | None = None
    answer_table: pd.DataFrame | None = None
    analysis: bs.StudyAnalysis | None = None
    model: object = None                  # the AnnotatorModel, when simulated
    corpus_name: str | None = None
    fitness_origin: str = ""
    simulated_file: bool = False          # the answers file is itself labelled simulated (column or attribute)

    def __post_init__(self):
        unknown = [s for s in self.sources if s not in SOURCES and s not in (self.episodes or {})]
        if unknown:
            raise StudyError(f"unknown source(s) {unknown}: known {list(SOURCES)}, or give their episodes")
        if len(set(self.sources)) != len(self.sources) or len(self.sources) < 2:
            raise StudyError(f"sources must be at least two distinct names, got {list(self.sources)}")
        self.baseline_dir, self.search_dir, self.study_dir = map(Path, (self.baseline_dir, self.search_dir,
                                                                       self.study_dir))

    @property
    def simulated(self) -> bool:
        return self.answers is None

    @property
    def label(self) -> str:
        """"simulated" for answers simulated here or an answers file that says it is simulated, else "study"."""
        return "simulated" if self.simulated or self.simulated_file else "study"

    # -- inputs ------------------------------------------------------------------------
    def fitness_model(self):
        """Notebook 01's frozen fitness model of the domain (else notebook 02's run's copy), or None."""
        from ..fitness.score import FitnessModel

        for origin, folder in (("notebook 01", self.baseline_dir), ("notebook 02's run", self.search_dir)):
            path = folder / "fitness" / self.domain
            if (path / "fitness.json").is_file():
                self.fitness_origin = f"{origin} ({path})"
                return FitnessModel.load(path)
        self.fitness_origin = "none found"
        return None

    def _human_source(self, model):
        from ..humans import load_corpus

        if self.humans is not None:
            corpus = load_corpus(self.humans) if isinstance(self.humans, (str, Path)) else self.humans
            self.corpus_name = corpus.name
            return corpus, f"corpus {corpus.name} (all dialogues)"
        if model is None or not model.humans.get("heldout"):
            raise StudyError(f"no fitness model with a human split under {self.baseline_dir} or {self.search_dir}: "
                             "run notebook 01 first, or give humans= (a corpus name or path)")
        corpus = load_corpus(model.humans["corpus"])
        self.corpus_name = corpus.name
        heldout = set(model.humans["heldout"]["ids"])
        dialogues = [d for d in corpus.dialogues if d.dialogue_id in heldout]
        return dialogues, f"{corpus.name}: the fitness model's {len(dialogues)} held-out dialogues"

    def _simulator_source(self, source: str):
        if self.episodes and source in self.episodes:
            path = Path(self.episodes[source])
            if not path.exists():
                raise StudyError(f"episodes of {source!r}: {path} does not exist")
            return _records(path), str(path)
        if source == "base":
            folder = self.baseline_dir / "episodes" / f"{self.domain}-{self.backend.name}"
            if folder.is_dir():
                return _records(folder, "base", "test"), f"notebook 01's test-task episodes ({folder})"
        bench = self.search_dir / "episodes.jsonl"
        if not bench.is_file():
            raise StudyError(f"no benchmark episodes at {bench}: run notebook 02 (its benchmark) first, "
                             f"or give episodes={{{source!r}: PATH}}")
        condition = BENCHMARK_CONDITIONS[source]
        return _records(bench, condition, "test"), f"notebook 02's benchmark, condition {condition!r} ({bench})"

    # -- run ---------------------------------------------------------------------------
    def run(self) -> BlindedEvaluationStudy:
        from ..apps.blinded_study import conversations

        model = self.fitness_model()
        pools, origins = {}, {}
        for source in self.sources:
            if source == "human" and not (self.episodes and "human" in self.episodes):
                pools[source], origins[source] = self._human_source(model)
            else:
                pools[source], origins[source] = self._simulator_source(source)
        available = {s: len(conversations(p)) for s, p in pools.items()}
        k = min(self.per_source, *available.values())
        if k < 2:
            raise StudyError(f"too few usable conversations for a study: {available} (need >= 2 per source)")
        self._build(pools, k)
        self.built = {"requested": self.per_source, "per_source": k, "available": available, "origins": origins}
        self.item_table = self._items(model)
        self.answer_table = self._answers()
        self.analysis = bs.analyse(self.answer_table, margin=self.margin, label=self.label)
        return self

    def _build(self, pools: dict, k: int) -> None:
        """Build into ``study_dir``; an existing different study with answers is never replaced."""
        target = self.study_dir
        with tempfile.TemporaryDirectory() as tmp:
            fresh = build_study(pools, Path(tmp) / "study", per_source=k, seed=self.seed, n_attention=self.n_attention,
                                study_id=f"{NOTEBOOK}-{self.domain}-seed{self.seed}")
            names = (STUDY_FILE, KEY_FILE, MANIFEST_FILE)
            if (target / STUDY_FILE).is_file():
                same = all((target / n).is_file() and filecmp.cmp(target / n, fresh / n, shallow=False) for n in names)
                if same:
                    return
                db = default_db(target)
                if db.is_file() and AnswerStore(db).revisions():
                    raise StudyError(f"{target} holds a different study with answers in {db}; build this one "
                                     "elsewhere (study_dir=...) so those answers stay with their study")
            target.mkdir(parents=True, exist_ok=True)
            for n in names:
                shutil.copyfile(fresh / n, target / n)

    def _items(self, model) -> pd.DataFrame:
        """One row per study item: source (from the key), turns, and discriminator P(human) of its customer turns."""
        from ..fitness.fingerprint import fingerprints

        study, key = load_study(self.study_dir), load_key(self.study_dir)
        rows = [{"item": it["id"], "source": key[it["id"]]["source"],
                 "is_attention_check": bool(key[it["id"]]["is_attention_check"]),
                 "customer_turns": sum(t["speaker"] == "customer" for t in it["turns"]),
                 "turns": len(it["turns"])} for it in study["items"]]
        table = pd.DataFrame(rows)
        if model is not None:
            X = fingerprints([[t["text"] for t in it["turns"] if t["speaker"] == "customer"] for it in study["items"]])
            table["p_human"] = model.discriminator.predict_proba_human(X)
        return table

    def _answers(self) -> pd.DataFrame:
        key = load_key(self.study_dir)
        if self.simulated and self.simulated_annotators == "blind":
            answers = self._blind_answers(key)
            answers.to_csv(self.study_dir / SIMULATED_ANSWERS, index=False)
        elif self.simulated:
            from ..analysis.simulated_annotators import AnnotatorModel

            if self.simulated_annotators != "known_truth":
                raise StudyError(f"simulated_annotators must be 'blind' or 'known_truth', not {self.simulated_annotators!r}")
            rates = self._simulated_truth()
            self.model = AnnotatorModel(rates=rates,
                                        annotator_sd=self.annotator_sd, item_sd=self.item_sd,
                                        inattentive=tuple(self.inattentive))
            answers = self.model.judge({i: v["source"] for i, v in key.items()}, self.n_annotators, seed=self.seed)
            answers.to_csv(self.study_dir / SIMULATED_ANSWERS, index=False)
        else:
            path = Path(self.answers)
            if not path.is_file():
                raise StudyError(f"answers file {path} does not exist (export it with `ppol-nb study export`)")
            answers = pd.read_csv(path)
            bs.validate_answers(answers)
            self.simulated_file = bs.is_simulated(answers)
            foreign = sorted(set(answers["item"].astype(str)) - set(key))
            if foreign:
                raise StudyError(f"{path}: item(s) {foreign[:5]} are not in the study at {self.study_dir}")
            wrong = [i for i, s in zip(answers["item"].astype(str), answers["source"]) if key[i]["source"] != s]
            if wrong:
                raise StudyError(f"{path}: the source of item(s) {wrong[:5]} differs from the study's key")
        if self.item_table is not None and "p_human" in self.item_table:
            attrs = dict(answers.attrs)
            answers = answers.drop(columns=["p_human"], errors="ignore").merge(
                self.item_table[["item", "p_human"]], on="item", how="left")
            answers.attrs = attrs
        return answers

    def _text_judge(self, key: dict):
        """A judge the search never optimised: a calibrated TransferJudge (logistic) fitted on human dialogues
        and base-simulator conversations that are *not* in the study (by origin), on their text fingerprints."""
        from ..apps.blinded_study import conversations
        from ..fitness.fingerprint import fingerprints
        from ..fitness.transfer_judge import train_transfer_judge

        used = {v.get("origin") for v in key.values()}

        def customer_texts(pool) -> list[list[str]]:
            return [[t["text"] for t in c.turns if t["speaker"] == "customer"]
                    for c in conversations(pool) if c.origin not in used]

        humans, _ = self._human_source(self.fitness_model())
        sims = []
        folder = self.baseline_dir / "episodes" / f"{self.domain}-{self.backend.name}"
        if folder.is_dir():
            sims = customer_texts(_records(folder, "base"))
        if len(sims) < 2:
            pool, _ = self._simulator_source("base")
            sims = customer_texts(pool)
        human_texts = customer_texts(humans)
        if len(human_texts) < 2 or len(sims) < 2:
            raise StudyError(f"blind simulated annotators need >= 2 human and 2 base-simulator conversations outside "
                             f"the study to fit their judge; found {len(human_texts)} and {len(sims)} (use "
                             "simulated_annotators='known_truth', or run notebook 01 with more tasks)")
        judge = train_transfer_judge(fingerprints(human_texts), fingerprints(sims), family="logistic")
        return judge, (f"calibrated logistic TransferJudge on text fingerprints, fitted on {len(human_texts)} human and "
                       f"{len(sims)} base-simulator conversations outside the study")

    def _blind_answers(self, key: dict) -> pd.DataFrame:
        """Judgements from the served text alone; the key's source is joined only after every answer is given."""
        import dataclasses

        from ..analysis.simulated_annotators import BlindAnnotatorPanel

        study = load_study(self.study_dir)
        texts = {it["id"]: [t["text"] for t in it["turns"] if t["speaker"] == "customer"] for it in study["items"]}
        judge, description = self._text_judge(key)
        panel = BlindAnnotatorPanel(judge, annotator_sd=self.annotator_sd, noise_sd=self.item_sd,
                                    inattentive=tuple(self.inattentive), description=description)
        answers = panel.judge_texts(texts, self.n_annotators, seed=self.seed)
        attrs = dict(answers.attrs)
        answers["source"] = [key[i]["source"] for i in answers["item"]]
        answers["is_attention_check"] = [bool(key[i]["is_attention_check"]) for i in answers["item"]]
        answers.attrs = attrs
        p = answers.drop_duplicates("item")
        item_p = {s: tuple(g["judge_p_human"]) for s, g in p[~p.is_attention_check].groupby("source")}
        self.model = dataclasses.replace(panel, item_p=item_p)
        return answers[["annotator", "item", "source", "answer", "confidence", "is_attention_check", "simulated",
                        "judge_p_human"]]

    def _simulated_truth(self) -> dict:
        """The simulated panel's known conditional rate per source (see ``simulated_rates``)."""
        if isinstance(self.simulated_rates, str):
            if self.simulated_rates != "discriminator":
                raise StudyError(f"simulated_rates must be 'discriminator' or {{source: rate}}, "
                                 f"not {self.simulated_rates!r}")
            if self.item_table is None or "p_human" not in self.item_table:
                raise StudyError("simulated_rates='discriminator' needs notebook 01's fitness model "
                                 "(its discriminator scores the study's conversations)")
            mean = self.item_table.groupby("source")["p_human"].mean()
            # Clipped off 0 and 1: a rate of exactly 0 or 1 has no logit for the mixed model to recover.
            return {s: float(np.clip(mean[s], 0.02, 0.98)) for s in self.sources}
        missing = [s for s in self.sources if s not in self.simulated_rates]
        if missing:
            raise StudyError(f"simulated_rates has no rate for source(s) {missing}")
        return {s: float(self.simulated_rates[s]) for s in self.sources}

    # -- tables ------------------------------------------------------------------------
    def _need(self) -> bs.StudyAnalysis:
        if self.analysis is None:
            raise RuntimeError("call run() first")
        return self.analysis

    def composition(self) -> pd.DataFrame:
        """Per source: usable conversations available, used in the study, and where they came from."""
        self._need()
        counts = self.item_table.groupby("source").size()
        rows = [{"source": s, "available": self.built["available"][s], "in_study": int(counts.get(s, 0)),
                 "from": self.built["origins"][s]} for s in self.sources]
        rows.append({"source": ATTENTION_SOURCE, "available": None, "in_study": int(counts.get(ATTENTION_SOURCE, 0)),
                     "from": "scripted (must be answered Bot)"})
        return pd.DataFrame(rows)

    def rates(self) -> pd.DataFrame:
        """% rated human per source with Wilson intervals, beside the paper's (source = paper), plus the
        Welch t, p and point-biserial r rows; ``ours_label`` is "simulated" for simulated answers."""
        return self._need().beside_paper()

    def tests(self) -> pd.DataFrame:
        """Welch PPol vs base (the paper's test) and TOST PPol vs humans (equivalence within ±margin)."""
        a = self._need()
        rows = []
        for c in (a.welch, a.equivalence):
            if c is not None:
                rows.append({"test": c.test, "a": c.a, "b": c.b, "mean_a": c.mean_a, "mean_b": c.mean_b,
                             "difference": c.difference, "statistic": c.statistic, "df": c.df, "p_value": c.p_value,
                             "n_a": c.n_a, "n_b": c.n_b, "note": c.note})
        return pd.DataFrame(rows).assign(label=self.label)

    def mixed(self) -> pd.DataFrame:
        """The mixed logit's per-source log-odds (typical annotator and conversation) with 95 % intervals;
        with simulated answers also the model's known conditional rate and whether the interval holds it."""
        a = self._need()
        table = a.mixed.copy()
        if self.simulated:
            truth = {s: float(logit(r)) for s, r in self.model.rates.items()}
            table["known_log_odds"] = table["source"].map(truth)
            table["known_rate"] = table["source"].map(self.model.rates)
            table["known_within_interval"] = (table["low"] <= table["known_log_odds"]) & (
                table["known_log_odds"] <= table["high"])
        sds = a.mixed.attrs["random_effect_sd"]
        table["annotator_sd"], table["conversation_sd"] = sds.get("annotator"), sds.get("conversation")
        table.attrs = dict(a.mixed.attrs)
        return table.assign(label=self.label)

    def agreement(self) -> pd.DataFrame:
        """Krippendorff's α (nominal) over the three answers and over human / not-human."""
        return pd.DataFrame([{**self._need().agreement, "label": self.label}])

    def exclusions(self) -> pd.DataFrame:
        """Attention-check record per annotator and who was excluded (simulated: who was inattentive)."""
        ex = self._need().exclusions
        table = ex.per_annotator.copy()
        if self.simulated:
            table["known_inattentive"] = table["annotator"].isin(self.model.inattentive)
        return table.assign(label=self.label)

    def _icc(self) -> float:
        sd = float(self._need().mixed.attrs["random_effect_sd"].get("annotator", 0.0))
        return sd ** 2 / (sd ** 2 + math.pi ** 2 / 3)  # latent-scale ICC of a logistic model

    def power(self) -> pd.DataFrame:
        """Ratings and annotators needed (80 % power, α 0.05) for the paper's PPol-vs-base gap and for this
        study's, each rating of an annotator correlated by the fitted annotator ICC (design effect)."""
        rates = self._need().rates.set_index("source")["rate"]
        m = self.built["per_source"]
        gaps = {"paper": (0.804, 0.465)}
        if {"ppol", "base"} <= set(rates.index) and rates["ppol"] != rates["base"]:
            gaps[self.label] = (float(rates["ppol"]), float(rates["base"]))
        rows = []
        for name, (pa, pb) in gaps.items():
            out = bs.power_analysis(pa, pb, ratings_per_annotator=m, icc=self._icc())
            rows.append({"gap_from": name, **out})
        return pd.DataFrame(rows)

    def power_curve(self, panels=PANELS, items=(10,)) -> pd.DataFrame:
        """Simulated power of Welch PPol vs base by panel size and conversations per source (``items`` and
        this study's count), under the *fitted* model (mixed logit's typical rates and random-effect sds), so
        annotator clustering counts. Empty when the study has no ppol and base."""
        from ..analysis.simulated_annotators import AnnotatorModel

        fit = self._need().mixed.set_index("source")
        if not {"ppol", "base"} <= set(fit.index):
            return pd.DataFrame()
        sds = fit.attrs["random_effect_sd"]
        model = AnnotatorModel(rates={s: float(np.clip(fit.loc[s, "p_typical"], 0.01, 0.99)) for s in ("ppol", "base")},
                               annotator_sd=float(sds["annotator"]), item_sd=float(sds["conversation"]))
        with warnings.catch_warnings():
            # A tiny simulated study can rate every conversation of a source alike: scipy warns, the test fails to reject.
            warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
            rows = [bs.simulated_power(model, "ppol", "base", n, m, n_sim=self.power_simulations, seed=self.seed)
                    for m in sorted({*items, self.built["per_source"]}) for n in panels]
        return pd.DataFrame(rows).assign(rate_ppol=model.rates["ppol"], rate_base=model.rates["base"])

    # -- figures -----------------------------------------------------------------------
    def parameters(self) -> dict:
        return {"domain": self.domain, "sources": list(self.sources), "per_source": self.per_source,
                "n_attention": self.n_attention, "seed": self.seed,
                "answers": str(self.answers) if self.answers else "simulated",
                "n_annotators": self.n_annotators if self.simulated else None,
                "simulated_annotators": self.simulated_annotators if self.simulated else None,
                "simulated_rates": (None if not self.simulated else self.simulated_rates
                                if isinstance(self.simulated_rates, str) else dict(self.simulated_rates)),
            "simulated_truth": dict(self.model.rates) if self.model is not None else None,
                "margin": self.margin, "study_dir": str(self.study_dir), "baseline_dir": str(self.baseline_dir),
                "search_dir": str(self.search_dir)}

    @property
    def provenance(self) -> FigureProvenance:
        return FigureProvenance.of(self.backend, NOTEBOOK, self.parameters(), corpus=self.corpus_name,
                                   seeds=(self.seed,), note=SIMULATED_NOTE if self.label == "simulated" else "")

    def _title(self, what: str) -> str:
        kind = "blind, from text" if self.simulated_annotators == "blind" else "known rates"
        who = (f"{SIMULATED_NOTE} ({self.n_annotators}, {kind})" if self.simulated
               else f"{SIMULATED_NOTE} ({Path(self.answers).name})" if self.simulated_file
               else f"annotators: {Path(self.answers).name}")
        return f"{what} · {who} · {self.provenance.label}"

    def plot_rates(self, name: str = "04_rated_human"):
        """Share rated human per source with Wilson 95 % intervals, the paper's value beside each."""
        import matplotlib.pyplot as plt

        table = self.rates()
        table = table[table["quantity"].str.startswith("rated human")].reset_index(drop=True)
        sources = [q.split(" · ", 1)[1] for q in table["quantity"]]
        x = np.arange(len(sources))
        fig, ax = plt.subplots(figsize=(1.6 * len(sources) + 3, 4))
        ax.errorbar(x - 0.1, table["ours"], yerr=[table["ours"] - table["ours_low"], table["ours_high"] - table["ours"]],
                    fmt="o", capsize=4, label=f"ours ({self.label}), Wilson 95 %")
        has = table["paper"].notna()
        ax.scatter(x[has] + 0.1, table.loc[has, "paper"], marker="D", color="k", label="paper (§5.4)")
        if self.simulated:
            marginal = self.model.marginal_rates()
            ax.scatter(x, [marginal.get(s, np.nan) for s in sources], marker="_", s=400, color="tab:red",
                       label="known population rate (simulation)")
        ax.set_xticks(x, sources)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of ratings 'Human'")
        # Outside the axes: inside, any corner can hide a source's estimate (base sits near 0).
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        ax.set_title(self._title("Rated human per source"), fontsize=9)
        fig.tight_layout()
        save_figure(fig, name, self.provenance, self.figures)
        return fig

    def plot_power(self, name: str = "04_power", panels=PANELS, items=(10,)):
        """Simulated power of the paper's Welch test (PPol vs base) by number of annotators, one line per number
        of conversations per source, under the fitted model."""
        import matplotlib.pyplot as plt

        curve = self.power_curve(panels, items)
        fig, ax = plt.subplots(figsize=(9, 4))  # room for the legend beside the axes
        for m, grp in (curve.groupby("items_per_source") if not curve.empty else ()):
            mark = " (this study)" if m == self.built["per_source"] else ""
            ax.plot(grp["n_annotators"], grp["power"], marker="o", label=f"{m} conversations per source{mark}")
        ax.axhline(0.8, color="0.5", ls="--", label="80 % power")
        ax.set_xlabel("annotators (each judging every conversation)")
        ax.set_ylabel("power, Welch PPol vs base at α 0.05")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # outside: no curve hidden
        gap = (f"fitted typical rates ppol {curve['rate_ppol'].iloc[0]:.2f} vs base {curve['rate_base'].iloc[0]:.2f}, "
               f"{self.power_simulations} simulations per point" if not curve.empty else "no ppol and base sources")
        ax.set_title(self._title("Power under the fitted model") + f"\n{gap}", fontsize=9)
        fig.tight_layout()
        save_figure(fig, name, self.provenance, self.figures)
        return fig

    # -- findings ----------------------------------------------------------------------
    def findings(self) -> str:
        """What this run's numbers show, beside the paper's §5.4 (markdown)."""
        a = self._need()
        bullets = []
        if self.simulated and self.simulated_annotators == "blind":
            rates = ", ".join(f"{s} {r:.3f}" for s, r in self.model.rates.items())
            bullets.append(f"**These answers are SIMULATED** (blind: {self.n_annotators} simulated annotators, "
                           f"seeded; each judged the served text alone, never its source; P(human) is a judge the "
                           f"search never optimised ({self.model.description}) plus annotator bias (sd "
                           f"{self.annotator_sd}) and per-judgement noise (sd {self.item_sd}); inattentive "
                           f"{list(self.model.inattentive) or 'none'}). That judge's typical P(human) per source: "
                           f"{rates}. They are not human judgements.")
        elif self.simulated:
            rates = ", ".join(f"{s} {r:.3f}" for s, r in self.model.rates.items())
            bullets.append(f"**These answers are SIMULATED** ({self.n_annotators} simulated annotators, seeded, known "
                           f"conditional rates {rates}; annotator sd {self.annotator_sd}, conversation sd "
                           f"{self.item_sd}; inattentive {list(self.model.inattentive) or 'none'}): the numbers test "
                           "whether the statistics recover a known truth, not how human the simulator is.")
        elif self.simulated_file:
            bullets.append(f"**These answers are SIMULATED**: the answers file {self.answers} says so (a `simulated` "
                           "column); they are not human judgements.")
        else:
            bullets.append(f"Answers: {self.answers} — {a.rates['annotators'].max()} annotators kept.")
        bullets += text.setting(self.backend, self.corpus_name, compared_with_paper=False)
        bullets.append(f"The paper's values beside ours are its §5.4 study (τ² {PAPER_SINGLE_DOMAIN}, DeepSeek-V3.1 personas, "
                       "TAU-USI humans, 16 annotators).")
        b = self.built
        capped = (f" ({b['requested']} asked for; the smallest source has {min(b['available'].values())})"
                  if b["per_source"] < b["requested"] else "")
        bullets.append(f"Study: {b['per_source']} conversations per source{capped} from "
                       f"{', '.join(self.sources)}, plus {self.n_attention} attention checks, each annotator in their own "
                       f"order (paper: 87 conversations, 16 annotators).")
        ex = a.exclusions
        line = f"Attention checks: {len(ex.excluded)} annotator(s) excluded ({', '.join(ex.excluded) or 'none'}); rule: {ex.rule}."
        if self.simulated:
            found = set(ex.excluded) == set(self.model.inattentive)
            line += f" The known inattentive set {'was' if found else 'was NOT'} found exactly."
        bullets.append(line)
        side = self.rates().set_index("quantity")
        parts = []
        for s in a.rates["source"]:
            row = side.loc[f"rated human · {s}"]
            ref = None if pd.isna(row["paper"]) else float(row["paper"])
            parts.append(f"{s} {text.versus(row['ours'], ref)} [{row['ours_low']:.3f}, {row['ours_high']:.3f}]")
        bullets.append(f"Rated human ({self.label}, Wilson 95 %): " + "; ".join(parts) + ".")
        if a.welch is not None:
            w = a.welch
            bullets.append(f"Welch t-test PPol vs base (Human = 1): difference {w.difference:+.3f}, t = "
                           f"{text.versus(w.statistic, 3.556)}, p = {w.p_value:.2e} (paper 6.37e-04).")
        if a.equivalence is not None:
            e = a.equivalence
            bullets.append(f"TOST PPol vs humans: difference {e.difference:+.3f}, p = {e.p_value:.3g} — {e.note} "
                           "(the paper tests no equivalence).")
        mixed = self.mixed().set_index("source")
        parts = [f"{s} {mixed.loc[s, 'vs_reference']:+.2f} ± {1.96 * mixed.loc[s, 'vs_reference_sd']:.2f}"
                 for s in mixed.index if s != mixed.attrs["reference"]]
        line = (f"Mixed logit (annotator and conversation random intercepts, VB): log-odds vs "
                f"{mixed.attrs['reference']}: " + "; ".join(parts) + f"; annotator sd "
                f"{mixed['annotator_sd'].iloc[0]:.2f}, conversation sd {mixed['conversation_sd'].iloc[0]:.2f}.")
        if self.simulated and self.simulated_annotators == "known_truth":
            held = int(mixed["known_within_interval"].sum())
            line += (f" The known conditional rates lie inside {held} of {len(mixed)} per-source 95 % intervals "
                     f"(known annotator sd {self.annotator_sd}).")
        bullets.append(line)
        ag = a.agreement
        bullets.append(f"Krippendorff's α (nominal): {ag['alpha_answers']:.3f} over the three answers, "
                       f"{ag['alpha_human_vs_not']:.3f} human vs not (the paper reports none).")
        if a.correlation is not None:
            c = a.correlation
            bullets.append(f"Discriminator P(human) ({self.fitness_origin}) vs judgements: point-biserial r = "
                           f"{text.versus(c['r'], 0.49)}, p = {c['p_value']:.2e}, over {c['ratings']} ratings of "
                           f"{c['items']} conversations" + (
                               " — with blind simulated answers this is how far the search's discriminator agrees "
                               "with the simulated panel's text judge, not with people." if self.simulated
                               and self.simulated_annotators == "blind" else " — with simulated answers this only "
                               "reflects the sources' known rates." if self.label == "simulated" else "."))
        else:
            bullets.append("No discriminator P(human): no fitness model found, so no point-biserial correlation.")
        power = self.power().set_index("gap_from")
        p = power.loc["paper"]
        bullets.append(f"Power: the paper's gap (0.804 vs 0.465, Cohen's h {p['cohens_h']:.2f}) needs "
                       f"{int(p['ratings_per_source'])} independent ratings per source for 80 % power; with "
                       f"{b['per_source']} conversations per annotator and the fitted annotator ICC "
                       f"{self._icc():.2f} (design effect {p['design_effect']:.2f}), {int(p['annotators'])} annotators.")
        return text.markdown("What this study shows" + (" (SIMULATED annotators)" if self.label == "simulated" else ""),
                             bullets)
