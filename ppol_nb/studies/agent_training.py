"""Training an agent on PPol rollouts and testing it on users it never met (§5.5, Tables 2/7/8).

The paper fine-tunes an LLM agent (LoRA SFT) on successful train-task trajectories
of the default simulator alone, or of the default simulator and PPol personas, at
equal compute, and evaluates it on test tasks against the default user and four
out-of-distribution trait suites. :class:`AgentTrainingStudy` runs the offline
analogue: the offline agent's *learned part* — reading user turns
(:class:`ppol_nb.offline.understanding.DialogueReader`) — is trained on the
dialogues of each regime and the agent is evaluated with τ²'s own evaluator.

Regimes (rows of Table 2):

* **No fine-tuning** — the offline agent with its hand rules (``agent_reader=None``),
  exactly the agent that collected the rollouts;
* **Default-only** — a reader trained on ``n_dialogues`` successful default-user
  dialogues;
* **Default+PPol** — a reader trained on ``n_dialogues`` dialogues, ``ppol_share`` of
  them (default half) from PPol personas (``n_personas`` per train task from a
  generator program: an evolved run directory, a program file, or the shipped seed
  program) and the rest from the default user.

**Equal budget rule:** both trained regimes see the same number of training
dialogues (``n_dialogues``), drawn without replacement by the seed; the labelled
user turns they hold may differ (PPol dialogues are longer) and are reported by
:meth:`AgentTrainingStudy.budgets`. Each seed draws its own subsample and sets the
learner's ``random_state``, and is also the episode seed of every evaluation
episode, so the seed-to-seed spread includes the users' randomness.

**Out of distribution means out:** the trait suites' persona texts are used only to
drive the evaluation users; training dialogues come only from the ``base`` and
``program`` conditions on *train* tasks (checked: :func:`training_records`), and
the reader reads dialogues only, never a persona text.

Statistics: cells are (seed, test task); a suite's success is the mean over cells,
the OOD average the mean of the four suites per cell, and the relative OOD gain
``OOD(Default+PPol) / OOD(Default-only) − 1`` over cells present in both. 95 %
intervals are percentile bootstraps (``scipy.stats.bootstrap``) over cells, as in
:mod:`.ablation`; cells of one seed share a reader, which the bootstrap does not
model, so with few seeds the intervals are narrower than a seed-level interval.

Everything here is offline when the backend is: the label says so in every table,
figure and finding. The dialogue adapter :func:`episode_dialogue` is a stand-in
for the SFT exporter of issue 14 (items 1–2) and is to be replaced by it.

Layout of ``out``::

    out/rollouts/<domain>/default/episodes.jsonl     train-task default rollouts (rule agent)
    out/rollouts/<domain>/ppol/episodes.jsonl        train-task PPol rollouts (rule agent)
    out/eval/<domain>/<regime>/seed-<s>[-<reader>]/  test episodes of one regime (slug) and seed
    out/readers/<domain>/<regime>-seed-<s>.json      what each reader was trained on (fingerprint, sizes)
    out/results.csv                                  one row per evaluation episode

The study is the offline world's: the learned reader belongs to the offline agent
(an LLM agent is fine-tuned instead, issue 14 item 2), so evaluation backends are
made by ``make_backend("offline", agent_reader=…)``; ``backend`` only collects the
rollouts and must be the offline one for them to be the rule agent's.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..personas.traits import TRAIT_NAMES

NOTEBOOK = "05_agent_training"
REGIMES = ("No fine-tuning", "Default-only", "Default+PPol")
SUITES = ("base", *(f"trait:{t}" for t in TRAIT_NAMES))
COLUMNS = {"base": "Default", "trait:skeptical": "Skeptical", "trait:incoherent": "Incoherent",
           "trait:impatient": "Impatient", "trait:confusion": "Confusion"}
TRAINING_CONDITIONS = ("base", "program")
_PAPER_REGIME = {"No fine-tuning": "No fine-tuning", "Default-only": "Default-only SFT",
                 "Default+PPol": "Default+PPol SFT"}


def _slug(regime: str) -> str:
    """'Default+PPol' -> 'default-plus-ppol' (a folder name)."""
    return regime.lower().replace("+", "-plus-").replace(" ", "-")


# ----------------------------------------------------------------------------- the dialogue adapter
def episode_dialogue(record: dict) -> list[dict]:
    """One episode record as an OpenAI fine-tuning chat dialogue (its ``messages`` list).

    TO BE REPLACED by the SFT data builder of issue 14 (items 1–2), which exports the
    same format with tool schemas, single tool calls and no trailing ``done``; this
    minimal adapter exists so the learner can be trained and tested before it lands.
    """
    out = []
    for m in record["messages"]:
        if m["role"] == "assistant":
            msg = {"role": "assistant", "content": m.get("content")}
            if m.get("tool_calls"):
                msg["tool_calls"] = [{"id": c["id"], "type": "function",
                                      "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                                     for c in m["tool_calls"]]
            out.append(msg)
        elif m["role"] == "tool":
            out.append({"role": "tool", "tool_call_id": m.get("tool_call_id"), "content": m.get("content") or ""})
        elif m["role"] == "user":
            out.append({"role": "user", "content": m.get("content") or ""})
    return out


def training_records(frame: pd.DataFrame) -> list[dict]:
    """Successful (reward ≥ 1), error-free *train*-task episodes of the training conditions.

    Refuses (ValueError) any episode of another condition or split, or with a trait persona:
    the out-of-distribution suites must never reach training."""
    if frame.empty:
        return []
    bad = frame[~frame["condition"].isin(TRAINING_CONDITIONS) | (frame["split"] != "train")]
    traits = frame["persona"].map(lambda p: isinstance(p, dict) and str(p.get("source", "")).startswith("trait:"))
    if len(bad) or traits.any():
        raise ValueError(f"training rollouts must be train-task episodes of {TRAINING_CONDITIONS} without trait "
                         f"personas; got {len(bad)} other episode(s) and {int(traits.sum())} with a trait persona")
    ok = frame[frame["error"].isna() & (frame["reward"].fillna(0.0) >= 1.0)]
    return ok.to_dict("records")


def regime_dialogues(default_pool: list, ppol_pool: list, n_dialogues: int, seed: int,
                     ppol_share: float = 0.5) -> dict[str, list]:
    """The two trained regimes' dialogues at equal size (``n_dialogues`` each), drawn by ``seed``.

    Default-only: ``n_dialogues`` from the default pool; Default+PPol:
    ``round(ppol_share · n)`` from the PPol pool and the rest from the default pool.
    Draws are without replacement; a pool too small is an error, not a smaller regime."""
    n_ppol = round(ppol_share * n_dialogues)
    need = {"default": n_dialogues, "ppol": n_ppol}
    have = {"default": len(default_pool), "ppol": len(ppol_pool)}
    short = {k: (need[k], have[k]) for k in need if need[k] > have[k]}
    if short:
        raise ValueError(f"not enough successful training dialogues for {n_dialogues} per regime: "
                         + "; ".join(f"{k} needs {n}, has {h}" for k, (n, h) in short.items())
                         + " (collect more rollouts or lower n_dialogues)")
    rng = random.Random(seed)
    return {"Default-only": rng.sample(list(default_pool), n_dialogues),
            "Default+PPol": rng.sample(list(default_pool), n_dialogues - n_ppol) + rng.sample(list(ppol_pool), n_ppol)}


# ----------------------------------------------------------------------------- statistics
def _bootstrap(n: int, statistic, n_resamples: int, seed: int):
    from .ablation import _bootstrap as percentile_bootstrap

    low, high = percentile_bootstrap(n, statistic, 0.95, n_resamples, seed)
    return float(np.ravel(low)[0]), float(np.ravel(high)[0])


def cell_frame(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (domain, regime, seed, task): success per suite and the OOD average."""
    wide = results.pivot_table(index=["domain", "regime", "seed", "task_id"], columns="condition",
                               values="success", aggfunc="mean").reset_index()
    wide.columns.name = None
    traits = [c for c in SUITES[1:] if c in wide.columns]
    wide["ood"] = wide[traits].mean(axis=1) if traits else np.nan
    return wide


def table2(results: pd.DataFrame, n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Tidy Table 2: domain, regime, column, estimate, low, high (95 % bootstrap over cells)."""
    cells = cell_frame(results)
    rows = []
    for (domain, regime), grp in cells.groupby(["domain", "regime"], sort=False):
        for col in [*SUITES, "ood"]:
            values = grp[col].dropna().to_numpy(float) if col in grp else np.array([])
            if not len(values):
                continue
            low, high = _bootstrap(len(values), lambda idx, v=values: [v[idx].mean()], n_resamples, seed)
            rows.append({"domain": domain, "regime": regime, "column": COLUMNS.get(col, "OOD avg"),
                         "estimate": float(values.mean()), "low": low, "high": high, "cells": len(values)})
        if regime == "Default+PPol":
            ref = cells[(cells.domain == domain) & (cells.regime == "Default-only")]
            paired = grp.merge(ref, on=["seed", "task_id"], suffixes=("", "_ref"))
            a, b = paired["ood"].to_numpy(float), paired["ood_ref"].to_numpy(float)
            if len(a) and b.mean() > 0:
                def gain(idx, a=a, b=b):
                    denominator = b[idx].mean()
                    return [a[idx].mean() / denominator - 1.0 if denominator > 0 else np.nan]
                low, high = _bootstrap(len(a), gain, n_resamples, seed)
                rows.append({"domain": domain, "regime": regime, "column": "Relative OOD gain",
                             "estimate": float(a.mean() / b.mean() - 1.0), "low": low, "high": high, "cells": len(a)})
    return pd.DataFrame(rows)


def display_table(tidy: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Table 2's shape: one row per (domain, regime), "estimate [low, high]" per column."""
    fmt = f"{{:.{digits}f}}"
    cell = tidy.assign(text=[f"{fmt.format(e)} [{fmt.format(lo)}, {fmt.format(hi)}]"
                             for e, lo, hi in zip(tidy.estimate, tidy.low, tidy.high)])
    wide = cell.pivot_table(index=["domain", "regime"], columns="column", values="text", aggfunc="first")
    order = [c for c in [*COLUMNS.values(), "OOD avg", "Relative OOD gain"] if c in wide.columns]
    wide = wide[order].fillna("")
    return wide.reindex(sorted(wide.index, key=lambda k: (k[0], REGIMES.index(k[1])))).rename_axis(columns=None)


# ----------------------------------------------------------------------------- the study
@dataclass
class AgentTrainingStudy:
    """Notebook 05: collect rollouts, train the reader per regime and seed, evaluate, tabulate."""

    out: str | Path
    domains: tuple = ("retail", "airline")
    seeds: tuple = (0, 1, 2)
    n_dialogues: int = 200              # the equal budget: training dialogues per trained regime
    ppol_share: float = 0.5
    n_personas: int = 10                # PPol personas per train task
    default_rollout_seeds: tuple = tuple(range(10))  # default-user rollouts per train task
    program: str | Path | dict | None = None  # evolved run dir / program file (or {domain: …}); None: the seed program
    train_limit: int | None = None
    test_limit: int | None = None
    reader_params: dict = field(default_factory=dict)
    n_resamples: int = 2000
    figures: str | Path | None = None
    backend: object = None              # the rule agent's backend (None: make_backend("offline"))

    def __post_init__(self):
        from ..backends import make_backend

        self.out = Path(self.out)
        self.backend = self.backend if self.backend is not None else make_backend("offline")
        self.readers: dict = {}
        self.timings: dict = {}
        self._results: pd.DataFrame | None = None
        self._budgets: list[dict] = []

    def parameters(self) -> dict:
        return {"domains": list(self.domains), "seeds": list(self.seeds), "n_dialogues": self.n_dialogues,
                "ppol_share": self.ppol_share, "n_personas": self.n_personas,
                "default_rollout_seeds": list(self.default_rollout_seeds),
                "program": {d: self._program(d)[1] for d in self.domains}, "train_limit": self.train_limit,
                "test_limit": self.test_limit, "reader_params": dict(self.reader_params),
                "budget_rule": "equal number of training dialogues per trained regime"}

    # -- data -----------------------------------------------------------------------
    def _program(self, domain: str) -> tuple[str, dict]:
        from ..evolution.benchmark import evolved_program
        from ..personas.programs import program_source

        program = self.program.get(domain) if isinstance(self.program, dict) else self.program
        if program is None:
            return program_source("seed"), {"program": "seed (shipped)"}
        source, info = evolved_program(program)
        return source, {"program": str(program), **{k: v for k, v in info.items() if k != "program"},
                        "selected": info.get("program")}

    def rollouts(self, domain: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Train-task rollouts of the rule agent: default user × rollout seeds, PPol personas × 1."""
        from ..personas.conditions import condition_specs
        from ..simulation.runner import run_episodes

        base = self.out / "rollouts" / domain
        specs, _ = condition_specs("base", domain, "train", seeds=self.default_rollout_seeds, limit=self.train_limit)
        default = run_episodes(specs, self.backend, base / "default", progress=False)
        source, _ = self._program(domain)
        specs, failures = condition_specs("program", domain, "train", n_personas=self.n_personas, seeds=(0,),
                                          limit=self.train_limit, world=self.backend.generator(0),
                                          cache_dir=base / "persona-cache", program=source)
        if failures:
            raise RuntimeError(f"{domain}: persona generation failed for {len(failures)} train task(s): {failures[:2]}")
        ppol = run_episodes(specs, self.backend, base / "ppol", progress=False)
        return default, ppol

    def pools(self, domain: str) -> tuple[list, list]:
        default, ppol = self.rollouts(domain)
        return ([episode_dialogue(r) for r in training_records(default)],
                [episode_dialogue(r) for r in training_records(ppol)])

    # -- training and evaluation ----------------------------------------------------------
    def train(self, domain: str, seed: int, default_pool: list, ppol_pool: list) -> dict:
        from ..offline.understanding import DialogueReader

        readers = {}
        for regime, dialogues in regime_dialogues(default_pool, ppol_pool, self.n_dialogues, seed,
                                                  self.ppol_share).items():
            reader = DialogueReader(**{**self.reader_params, "random_state": seed}).fit(dialogues)
            readers[regime] = reader
            info = {"domain": domain, "regime": regime, "seed": seed, **reader.describe()}
            self._budgets.append(info)
            path = self.out / "readers" / domain / f"{_slug(regime)}-seed-{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
        return readers

    def evaluate(self, domain: str, regime: str, seed: int, reader=None) -> pd.DataFrame:
        from ..backends import make_backend
        from ..personas.conditions import condition_specs
        from ..simulation.runner import run_episodes

        backend = make_backend("offline", agent_reader=reader)
        specs = []
        for condition in SUITES:
            specs += condition_specs(condition, domain, "test", seeds=(seed,), limit=self.test_limit)[0]
        name = f"seed-{seed}" + (f"-{reader.fingerprint_}" if reader is not None else "")
        df = run_episodes(specs, backend, self.out / "eval" / domain / _slug(regime) / name, progress=False)
        return df.assign(regime=regime, seed=seed, success=(df["reward"].fillna(0.0) >= 1.0).astype(float))

    def run(self) -> pd.DataFrame:
        """Every domain × seed × regime; returns one row per evaluation episode."""
        frames = []
        for domain in self.domains:
            t0 = time.perf_counter()
            default_pool, ppol_pool = self.pools(domain)
            self.timings[(domain, "rollouts")] = time.perf_counter() - t0
            for seed in self.seeds:
                t0 = time.perf_counter()
                readers = self.train(domain, seed, default_pool, ppol_pool)
                self.readers[(domain, seed)] = readers
                self.timings[(domain, f"train seed {seed}")] = time.perf_counter() - t0
                t0 = time.perf_counter()
                frames.append(self.evaluate(domain, "No fine-tuning", seed))
                for regime, reader in readers.items():
                    frames.append(self.evaluate(domain, regime, seed, reader))
                self.timings[(domain, f"evaluate seed {seed}")] = time.perf_counter() - t0
        keep = ["domain", "task_id", "condition", "regime", "seed", "reward", "success", "termination_reason",
                "agent_model", "error"]
        self._results = pd.concat(frames, ignore_index=True)[keep]
        self._results.to_csv(self.out / "results.csv", index=False)
        return self._results

    @property
    def results(self) -> pd.DataFrame:
        if self._results is None:
            raise RuntimeError("run() the study first")
        return self._results

    def budgets(self) -> pd.DataFrame:
        """Per trained regime and seed: dialogues, user turns, tagged words, confirmation answers."""
        cols = ["domain", "regime", "seed", "n_dialogues", "n_user_turns", "n_tagged_words", "n_act_turns",
                "act_counts", "fingerprint"]
        return pd.DataFrame(self._budgets)[cols]

    def table(self) -> pd.DataFrame:
        """Tidy Table 2 analogue with 95 % intervals (see :func:`table2`)."""
        return table2(self.results, self.n_resamples)

    def display(self) -> pd.DataFrame:
        return display_table(self.table())

    def paper_table(self) -> pd.DataFrame:
        from .. import paper

        return pd.concat([paper.agent_training(domain=d) for d in self.domains], ignore_index=True)

    # -- figure and findings ---------------------------------------------------------------
    def provenance(self):
        from .figures import FigureProvenance

        return FigureProvenance.of(self.backend, NOTEBOOK, self.parameters(), corpus=None, seeds=self.seeds,
                                   models={"agent": f"{self.backend.agent_model} (+ a reader trained per regime and seed)"})

    def plot(self, name: str = "05_agent_training_success"):
        """Success per suite and regime with 95 % intervals, one panel per domain."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from .figures import save_figure

        tidy = self.table()
        tidy = tidy[tidy.column != "Relative OOD gain"]
        cols = [c for c in [*COLUMNS.values(), "OOD avg"] if c in set(tidy.column)]
        fig, axes = plt.subplots(1, len(self.domains), figsize=(6.5 * len(self.domains), 3.8), squeeze=False)
        width = 0.8 / len(REGIMES)
        for ax, domain in zip(axes[0], self.domains):
            for k, regime in enumerate(REGIMES):
                sub = tidy[(tidy.domain == domain) & (tidy.regime == regime)].set_index("column").reindex(cols)
                x = np.arange(len(cols)) + (k - (len(REGIMES) - 1) / 2) * width
                err = np.vstack([sub.estimate - sub.low, sub.high - sub.estimate])
                ax.bar(x, sub.estimate, width, yerr=err, capsize=2, label=regime)
            ax.set_xticks(np.arange(len(cols)), cols, rotation=20)
            ax.set_ylim(0, 1.22)  # room for the legend above the bars
            ax.set_yticks(np.linspace(0, 1, 6))
            ax.set_ylabel("τ² task success")
            ax.set_title(f"{domain}: test tasks, {len(self.seeds)} seeds (95 % bootstrap)")
            ax.axvline(0.5, color="0.8", lw=0.8)
        axes[0][0].legend(fontsize=8, loc="upper center", ncol=len(REGIMES), frameon=False)
        fig.suptitle(f"Offline agent whose turn reader was trained on default vs default+PPol dialogues "
                     f"({self.backend.name} backend)")
        return save_figure(fig, name, self.provenance(), figures=self.figures)

    def findings(self) -> str:
        from .findings import markdown, setting

        tidy = self.table()
        paper = self.paper_table()
        bullets = setting(self.backend, None, compared_with_paper=True)
        bullets.append(f"**Offline analogue:** the learned part is the agent's reading of user turns (facts and "
                       f"confirmations), trained on {self.n_dialogues} dialogues per regime (equal budget); "
                       f"the paper fine-tunes Gemma-4-31B with LoRA. Numbers are not comparable in level.")

        def get(domain, regime, column):
            row = tidy[(tidy.domain == domain) & (tidy.regime == regime) & (tidy.column == column)]
            return row.iloc[0] if len(row) else None

        for domain in self.domains:
            ood = {r: get(domain, r, "OOD avg") for r in REGIMES}
            ind = {r: get(domain, r, "Default") for r in REGIMES}
            if any(v is None for v in [*ood.values(), *ind.values()]):
                continue
            text = "; ".join(f"{r} {ind[r].estimate:.3f} in distribution, {ood[r].estimate:.3f} OOD "
                             f"[{ood[r].low:.3f}, {ood[r].high:.3f}]" for r in REGIMES)
            bullets.append(f"{domain}: {text}.")
            gain = get(domain, "Default+PPol", "Relative OOD gain")
            ref = paper[(paper.domain == domain) & (paper.regime == "Default+PPol SFT")]
            paper_gain = float(ref.relative_ood_gain.iloc[0]) if len(ref) else None
            if gain is not None:
                if gain.low > 0:
                    verdict = "PPol data helped out of distribution (the interval excludes 0)"
                elif gain.high < 0:
                    verdict = "PPol data hurt out of distribution (the interval excludes 0)"
                else:
                    verdict = "no OOD difference between the regimes can be claimed (the interval includes 0)"
                bullets.append(f"{domain}: relative OOD gain of Default+PPol over Default-only {gain.estimate:+.1%} "
                               f"[{gain.low:+.1%}, {gain.high:+.1%}] — {verdict}"
                               + (f"; the paper reports {paper_gain:+.1%} (one run per task, no interval)."
                                  if paper_gain is not None else "."))
            per_seed = cell_frame(self.results[self.results.domain == domain]).groupby(["regime", "seed"])["ood"].mean()
            if {"Default-only", "Default+PPol"} <= set(per_seed.index.get_level_values(0)):
                diff = per_seed["Default+PPol"] - per_seed["Default-only"]
                bullets.append(f"{domain}: Default+PPol is above Default-only out of distribution in "
                               f"{int((diff > 0).sum())} of {len(diff)} seeds, below in {int((diff < 0).sum())}.")
            suites = {c: (get(domain, "Default+PPol", c), get(domain, "Default-only", c))
                      for c in [COLUMNS[t] for t in SUITES[1:]]}
            suites = {c: a.estimate - b.estimate for c, (a, b) in suites.items() if a is not None and b is not None}
            if suites:
                top = max(suites, key=suites.get)
                bullets.append(f"{domain}: the largest suite difference (Default+PPol − Default-only) is {top}, "
                               f"{suites[top]:+.3f}; per suite: "
                               + ", ".join(f"{c} {v:+.3f}" for c, v in suites.items()) + ".")
            rules, best = ood["No fine-tuning"], max(REGIMES[1:], key=lambda r: ood[r].estimate)
            if rules.estimate >= ood[best].estimate:
                bullets.append(f"{domain}: the hand-written rules (No fine-tuning, OOD {rules.estimate:.3f}) are "
                               f"not beaten by either learned reader (best {best}, {ood[best].estimate:.3f}): "
                               f"unlike the paper's untrained LLM, the offline rules were written for these users.")
        return markdown(f"Findings — agent training ({self.backend.name} backend; offline analogue)", bullets)
