"""Stress-test *your* agent against realistic users: the question PPol exists to answer (paper §1, §5.5).

Given an agent — a τ²-compatible agent class named ``module:Class`` (a subclass of
τ²'s ``LocalAgent`` / ``BaseAgent``: ``get_init_state``, ``generate_next_message``),
an OpenAI-compatible model (the ``agent`` role of an openai backend), or, offline, the
**gold-plan offline agent** (:mod:`ppol_nb.offline.agent`, which follows the task's
gold plan; its pass rates measure whether the user gave the facts, not agent
reasoning, and are labelled so everywhere) — :class:`StressTest` runs it on the
held-out **test** tasks of a domain against seven user conditions:

``base``        τ²'s default user (no persona);
``dp``          direct LLM personas (one generator call per task);
``ppol``        the evolved generator of a run (``run=`` a run directory or a program
                file, :func:`ppol_nb.evolution.benchmark.evolved_program`), else the
                shipped seed program, and the summary says which;
``skeptical``, ``incoherent``, ``impatient``, ``confusion``: the four τ-trait suites (paper Table 2).

Guarantees:

* episodes are real τ² episodes scored by τ²'s evaluator (:mod:`ppol_nb.simulation.runner`),
  one store per condition under ``out/episodes/<condition>``, so a rerun resumes;
* success per condition with a 95 % Wilson interval over episodes (statsmodels
  ``proportion_confint``), the drop from ``base``, and with ``trials = k > 1`` τ²'s
  pass^k per (task, persona): mean over units of C(c, k) / C(n, k) (τ² §4, unbiased);
* a breakdown by persona behaviour: the behaviours the offline reader finds in each
  persona's instruction text (:func:`ppol_nb.offline.reader.read`, ``present()``), with
  episodes, success with / without the behaviour and the failures it took part in;
* failure causes from τ² termination reasons and the messages
  (:func:`ppol_nb.simulation.outcomes.failure_reason`: user gave up, agent gave up
  (transfer), agent wrong, max steps, error), and which τ² reward checks (DB,
  COMMUNICATE) the failed episodes missed (their reward breakdown);
* ``out/stress_test.csv`` (exactly ``condition,n,success_rate,ci_low,ci_high``),
  ``out/stress_test.json`` (the citable summary with provenance) and one figure
  through :func:`ppol_nb.studies.figures.save_figure`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..domains import DEFAULT_DOMAIN
from ..provenance import provenance
from .figures import OFFLINE_AGENT_LABEL, agent_caption

CONDITIONS = ("base", "dp", "ppol", "skeptical", "incoherent", "impatient", "confusion")
TRAITS = ("skeptical", "incoherent", "impatient", "confusion")
CSV_COLUMNS = ["condition", "n", "success_rate", "ci_low", "ci_high"]
FAILURE_CAUSES = ("user_gave_up", "agent_gave_up", "agent_wrong", "max_steps", "error")


class AgentClassError(ValueError):
    """``module:Class`` does not name a usable τ²-compatible agent class."""


def load_agent_class(spec: str) -> type:
    """The class ``module:Class`` names, checked to be a τ² agent (``generate_next_message``, ``get_init_state``)."""
    module_name, sep, class_name = str(spec).partition(":")
    if not sep or not module_name or not class_name:
        raise AgentClassError(f"--agent-class expects module:Class, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AgentClassError(f"cannot import {module_name!r} for --agent-class {spec}: {exc}") from None
    cls = module
    for part in class_name.split("."):
        cls = getattr(cls, part, None)
        if cls is None:
            raise AgentClassError(f"{module_name!r} has no attribute {class_name!r}")
    if not inspect.isclass(cls):
        raise AgentClassError(f"{spec} is not a class")
    missing = [m for m in ("generate_next_message", "get_init_state") if not callable(getattr(cls, m, None))]
    if missing:
        raise AgentClassError(f"{spec} is not a τ²-compatible agent: it lacks {', '.join(missing)}")
    return cls


@dataclass
class ClassAgentBackend:
    """A backend whose agent is a researcher's class; every other role is the wrapped backend's.

    The class is built as τ² builds its agents, ``Class(tools=..., domain_policy=...)``;
    a constructor that also names ``scenario`` or ``task`` receives them (what the
    offline agent reads). Episodes run in this process (the class need not pickle).
    """

    inner: object
    agent_class: type
    spec: str

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def ledger(self):
        return self.inner.ledger

    @property
    def user_model(self) -> str:
        return self.inner.user_model

    @property
    def agent_model(self) -> str:
        return f"class:{self.spec}"

    def make_user(self, *args, **kwargs):
        return self.inner.make_user(*args, **kwargs)

    def make_agent(self, env, task, scenario):
        params = inspect.signature(self.agent_class.__init__).parameters
        extra = {k: v for k, v in (("scenario", scenario), ("task", task)) if k in params}
        return self.agent_class(tools=env.get_tools(), domain_policy=env.get_policy(), **extra)

    def generator(self, seed: int = 0):
        return self.inner.generator(seed=seed)

    def max_workers(self, requested):
        return self.inner.max_workers(requested)

    def describe(self) -> dict:
        return {**self.inner.describe(), "agent": f"class:{self.spec}"}

    def identity(self) -> dict:
        return {**self.inner.identity(), "agent": f"class:{self.spec}"}

    def recipe(self):
        raise RuntimeError("an agent class runs in this process only (use the local executor)")


def with_agent(backend, agent_class: str | None = None, agent_model: str | None = None):
    """``backend`` with the agent under test: a class ``module:Class``, or the model of role ``agent``
    on an openai backend (every other role keeps its model); neither: the backend's own agent."""
    if agent_class and agent_model:
        raise ValueError("give one agent: agent_class or agent_model, not both")
    if agent_model:
        if backend.name != "openai":
            raise ValueError("agent_model names a model on an endpoint: use the openai backend")
        from ..llm import RoleConfig

        config = backend.client.config
        config.roles["agent"] = RoleConfig(**{**config.role("agent").to_dict(), "model": agent_model})
    if agent_class:
        return ClassAgentBackend(backend, load_agent_class(agent_class), agent_class)
    return backend


def agent_label(backend) -> str:
    """What the pass rates measure: the gold-plan offline agent, a class, or a model."""
    return agent_caption(backend.agent_model)


def wilson(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def pass_hat_k(successes_per_unit: list[tuple[int, int]], k: int) -> float:
    """τ²'s pass^k: mean over units (c successes of n trials, n >= k) of C(c, k) / C(n, k)."""
    terms = [math.comb(c, k) / math.comb(n, k) for c, n in successes_per_unit if n >= k]
    return float(sum(terms) / len(terms)) if terms else float("nan")


@dataclass
class StressTest:
    """One agent, the held-out test tasks of one domain, seven user conditions."""

    backend: object
    out: Path
    domain: str = DEFAULT_DOMAIN
    run: str | Path | None = None      # evolution run dir or program .py (None: the shipped seed program)
    n_personas: int = 3                # personas per task (dp, ppol)
    trials: int = 1                    # episodes per (task, persona): seeds 0..k-1; pass^k when > 1
    limit: int | None = None           # first K test tasks
    max_steps: int = 30                # the authors' evaluation cap (simulation.step_caps.EVAL_MAX_STEPS)
    generation_seed: int = 0
    conditions: tuple = CONDITIONS
    figures: str | Path | None = None
    progress: bool = True
    executor: object = field(default=None, repr=False)  # where episodes run (ppol_nb.execution; None: threads)
    config: dict = field(default_factory=dict)  # the invoking command's settings, recorded
    episodes: pd.DataFrame | None = None
    generation_failures: list = field(default_factory=list)
    program_info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.out = Path(self.out)
        unknown = set(self.conditions) - set(CONDITIONS)
        if unknown:
            raise ValueError(f"unknown conditions {sorted(unknown)}; expected some of {CONDITIONS}")
        if self.trials < 1 or self.n_personas < 1:
            raise ValueError("trials and n_personas must be >= 1")

    # -- running ---------------------------------------------------------------------------
    def _program(self):
        if self.run is None:
            from ..personas.programs import seed as seed_module

            self.program_info = {"program": "shipped seed program", "path": Path(seed_module.__file__).name}
            return "seed", None
        from ..evolution.benchmark import evolved_program
        from ..personas.sandbox import program_hash

        source, info = evolved_program(self.run)
        self.program_info = {**info, "run": str(self.run), "program_sha256": program_hash(source)}
        return "program", source

    def run_all(self) -> pd.DataFrame:
        from ..personas.conditions import condition_specs
        from ..simulation.runner import run_episodes

        seeds = tuple(range(self.trials))
        frames = []
        for condition in self.conditions:
            program = None
            if condition == "ppol":
                name, program = self._program()
            elif condition in TRAITS:
                name = f"trait:{condition}"
            else:
                name = condition
            world = self.backend.generator(seed=self.generation_seed) if condition in ("dp", "ppol") else None
            folder = self.out / "episodes" / condition
            specs, failures = condition_specs(name, self.domain, "test", n_personas=self.n_personas, seeds=seeds,
                                              limit=self.limit, world=world, cache_dir=folder / "personas",
                                              program=program, generation_seed=self.generation_seed)
            self.generation_failures += [{**f, "condition": condition} for f in failures]
            df = run_episodes(specs, self.backend, folder, max_steps=self.max_steps, progress=self.progress,
                              executor=self.executor)
            if not df.empty:
                frames.append(df.assign(stress_condition=condition))
        self.episodes = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return self.episodes

    # -- analysis --------------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """One row per condition: n, success rate, Wilson 95 % interval (the CSV), plus drop and pass^k."""
        rows = []
        base_rate = None
        for condition in self.conditions:
            df = self.episodes[self.episodes.stress_condition == condition] if len(self.episodes) else self.episodes
            n, s = len(df), int(df["success"].sum()) if len(df) else 0
            rate = s / n if n else float("nan")
            low, high = wilson(s, n)
            row = {"condition": condition, "n": n, "success_rate": rate, "ci_low": low, "ci_high": high}
            if condition == "base":
                base_rate = rate
            if self.trials > 1 and n:
                units = df.assign(unit=[f"{t}|{p.get('persona_id') if isinstance(p, dict) else 'none'}"
                                        for t, p in zip(df.task_id, df.persona)])
                counts = units.groupby("unit")["success"].agg(["sum", "count"])
                row[f"pass^{self.trials}"] = pass_hat_k(list(zip(counts["sum"], counts["count"])), self.trials)
            rows.append(row)
        out = pd.DataFrame(rows)
        out["drop_from_base"] = (base_rate - out["success_rate"]) if base_rate is not None else float("nan")
        return out

    def behaviours(self) -> pd.DataFrame:
        """Which behaviours, as the offline reader reads each persona's text, cost the agent most."""
        from ..offline.reader import read

        df = (self.episodes[[isinstance(p, dict) for p in self.episodes.persona]] if len(self.episodes)
              else self.episodes)
        if df is None or df.empty:
            return pd.DataFrame(columns=["behaviour", "episodes", "failures", "success_with", "success_without",
                                         "cost"])
        active = [set(read(p.get("instruction") or "").present()) for p in df.persona]
        success = df["success"].to_numpy()
        rows = []
        for b in sorted(set().union(*active)):
            has = [b in a for a in active]
            with_ = success[has]
            without = success[[not h for h in has]]
            rows.append({"behaviour": b, "episodes": len(with_), "failures": int((~with_).sum()),
                         "success_with": float(with_.mean()),
                         "success_without": float(without.mean()) if len(without) else float("nan")})
        out = pd.DataFrame(rows)
        out["cost"] = out["success_without"] - out["success_with"]
        return out.sort_values(["cost", "failures"], ascending=False, na_position="last").reset_index(drop=True)

    def failures(self) -> pd.DataFrame:
        """Failed episodes per condition and cause (τ² termination reasons and messages)."""
        from ..simulation.outcomes import failure_reason

        reasons = [failure_reason(r) for r in self.episodes.to_dict("records")]
        df = self.episodes.assign(cause=reasons)
        df = df[df.cause.notna()]
        table = (df.groupby(["stress_condition", "cause"]).size().unstack(fill_value=0)
                 .reindex(index=list(self.conditions), fill_value=0))
        for cause in FAILURE_CAUSES:
            if cause not in table.columns:
                table[cause] = 0
        table.index.name = "condition"
        return table.reset_index()

    def failed_checks(self) -> pd.DataFrame:
        """Per condition: failed episodes whose τ² reward breakdown failed each check (DB, COMMUNICATE, ...)."""
        rows = []
        for r in self.episodes.to_dict("records"):
            if r.get("success") or not isinstance(r.get("reward_breakdown"), dict):
                continue
            for check, value in r["reward_breakdown"].items():
                if value < 1.0:
                    rows.append({"condition": r["stress_condition"], "check": check})
        if not rows:
            return pd.DataFrame(columns=["condition", "check", "episodes"])
        return pd.DataFrame(rows).value_counts().rename("episodes").reset_index()

    # -- outputs ---------------------------------------------------------------------------
    def summary(self) -> dict:
        table = self.table()
        agent = agent_label(self.backend)
        return provenance({
            "study": "stress_test", "domain": self.domain, "split": "test", "agent": agent,
            "offline_agent": self.backend.agent_model.startswith("offline-agent"),
            "note": (f"offline backend: the agent is the {OFFLINE_AGENT_LABEL}; its pass rates measure whether "
                     "the user gave the facts, not agent reasoning" if self.backend.name == "offline" else ""),
            "backend": self.backend.describe(), "models": {"user": self.backend.user_model, "agent": agent},
            "seeds": list(range(self.trials)), "generation_seed": self.generation_seed, "trials": self.trials,
            "n_personas": self.n_personas, "limit": self.limit, "max_steps": self.max_steps,
            "ppol_program": self.program_info, "config": self.config,
            "interval": "95 % Wilson over episodes (statsmodels proportion_confint)",
            "conditions": table.to_dict("records"),
            "behaviours": self.behaviours().to_dict("records"),
            "failure_causes": self.failures().to_dict("records"),
            "failed_reward_checks": self.failed_checks().to_dict("records"),
            "generation_failures": self.generation_failures,
        })

    def write(self) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        self.table()[CSV_COLUMNS].to_csv(self.out / "stress_test.csv", index=False)
        summary = self.summary()
        (self.out / "stress_test.json").write_text(json.dumps(summary, indent=2, default=str) + "\n",
                                                   encoding="utf-8")
        return summary

    def plot(self, notebook: str = "06_agent_stress_test", name: str | None = None):
        import matplotlib.pyplot as plt

        from .figures import FigureProvenance, save_figure

        table, beh = self.table(), self.behaviours()
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.2, 1]})
        x = range(len(table))
        err = [(table.success_rate - table.ci_low).clip(lower=0), (table.ci_high - table.success_rate).clip(lower=0)]
        ax1.bar(x, table.success_rate, yerr=err, capsize=3, color=["0.55"] + ["tab:blue"] * (len(table) - 1))
        ax1.set_xticks(list(x), [f"{c}\n(n={n})" for c, n in zip(table.condition, table.n)], fontsize=7, rotation=20)
        ax1.set_ylim(0, 1.05)
        ax1.set_ylabel("success rate (95 % Wilson)")
        ax1.set_title(f"{agent_label(self.backend)} · {self.domain} test tasks", fontsize=9)
        top = beh.dropna(subset=["cost"]).head(10).iloc[::-1]
        ax2.barh(range(len(top)), top["cost"], color="tab:red")
        ax2.set_yticks(range(len(top)), [f"{b} ({e} ep., {f} fail)" for b, e, f in
                                         zip(top.behaviour, top.episodes, top.failures)], fontsize=8)
        ax2.axvline(0, color="0.3", lw=0.8)
        ax2.set_xlabel("success without − with the behaviour (persona episodes)")
        ax2.set_title("behaviours that cost the agent most (offline reader's reading)", fontsize=9)
        fig.tight_layout()
        note = (f"agent: {OFFLINE_AGENT_LABEL}" if self.backend.agent_model.startswith("offline-agent")
                else f"agent: {agent_label(self.backend)}")
        prov = FigureProvenance.of(self.backend, notebook, {"domain": self.domain, "trials": self.trials,
                                                             "n_personas": self.n_personas, "limit": self.limit},
                                   seeds=range(self.trials), models={"agent": agent_label(self.backend)}, note=note)
        png = save_figure(fig, name or f"06_agent_stress_test_{self.domain}", prov,
                          figures=self.figures if self.figures is not None else self.out)
        return fig, png

    def findings(self) -> list[str]:
        """Sentences computed from this run's numbers."""
        table, beh, fails = self.table(), self.behaviours(), self.failures()
        source = self.program_info.get("program", "n/a")
        if self.program_info.get("run"):
            source = f"{source} of {self.program_info['run']}"
        lines = [(f"**Agent:** {agent_label(self.backend)} on {self.backend.name} backend; user simulator "
                  f"`{self.backend.user_model}`; {self.domain} test tasks; PPol personas from {source}.")]
        if self.backend.agent_model.startswith("offline-agent"):
            lines.append(f"The {OFFLINE_AGENT_LABEL} follows each task's gold plan: these pass rates measure whether "
                         "the user gave the facts the plan needs, not agent reasoning; never set them beside the "
                         "paper's agent numbers.")
        base = table[table.condition == "base"]
        for row in table.itertuples():
            drop = "" if row.condition == "base" or base.empty else f", drop from base {row.drop_from_base:+.3f}"
            lines.append(f"{row.condition}: {row.success_rate:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}] "
                         f"over {row.n} episodes{drop}.")
        worst = beh[beh.cost > 0].head(3)
        if not len(beh):
            lines.append("No persona episodes: no behaviour breakdown.")
        elif not len(worst):
            lines.append("No behaviour the reader found in the personas lowered the agent's success in this run.")
        else:
            lines.append("Costliest behaviours: " + "; ".join(
                f"{r.behaviour} ({r.success_with:.2f} with vs {r.success_without:.2f} without, "
                f"{r.failures}/{r.episodes} failed)" for r in worst.itertuples()) + ".")
        totals = fails.drop(columns="condition").sum()
        if totals.sum():
            lines.append("Failure causes over all conditions: " + ", ".join(
                f"{c} {int(v)}" for c, v in totals.sort_values(ascending=False).items() if v) + ".")
        return lines
