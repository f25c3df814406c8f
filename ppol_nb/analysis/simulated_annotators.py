"""Simulated annotators: a seeded model of people judging conversations — blind (from text) or with a known truth.

Two modes. ``known_truth`` (:class:`AnnotatorModel`, below) answers from each item's *source* with a
known rate: the statistics tests use it, because they need a truth to recover. ``blind``
(:class:`BlindAnnotatorPanel`, end of the module) is what notebook 04 uses offline: each annotator
sees a conversation's text only, never its source (see the comment above that class).

Used where no real judgements exist (tests, the offline notebook): every table it makes
is labelled simulated — a ``simulated`` column that is True on every row and
``frame.attrs["simulated"] = True`` with the model's parameters in
``frame.attrs["model"]`` — so it can never be mistaken for a study's answers.

Model (logit scale). Annotator ``a`` judging conversation ``i`` of source ``s`` answers
"human" with probability ``expit(logit(rates[s]) + b_a + c_i)``, where the annotator
bias ``b_a ~ N(0, annotator_sd²)`` and the conversation effect ``c_i ~ N(0, item_sd²)``.
Otherwise they answer "not_sure" with probability ``not_sure`` and "bot" for the rest.
So ``rates[s]`` is the *conditional* rate (a typical annotator on a typical
conversation; what a mixed-effects logit's fixed effects estimate), and
:meth:`AnnotatorModel.marginal_rates` the *population* rate (what a pooled share and
its Wilson interval estimate), smaller in distance from 0.5 when there is spread.

Attention checks: ``attention_checks`` extra items of source ``"attention_check"``
(obviously scripted conversations). Attentive annotators mark them "bot"; the
annotators listed in ``inattentive`` answer every item (checks included) uniformly at
random, so the exclusion rule has a known set to find. Same seed, same table.

:meth:`AnnotatorModel.simulate` makes its own items (``items_per_source`` per source);
:meth:`AnnotatorModel.judge` answers a given study's items (``{item id: source}``, e.g. from
its key), as notebook 04 does.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit, logit

ATTENTION_SOURCE = "attention_check"
_LABELS = np.array(["human", "bot", "not_sure"])


@dataclass(frozen=True)
class AnnotatorModel:
    """Known per-source P(judged human) plus annotator bias and conversation noise (see module doc)."""

    rates: dict = field(default_factory=lambda: {"human": 0.80, "ppol": 0.80, "base": 0.465})
    annotator_sd: float = 0.5
    item_sd: float = 0.3
    not_sure: float = 0.3
    inattentive: tuple = ()

    def __post_init__(self):
        bad = {s: r for s, r in self.rates.items() if not 0.0 < float(r) < 1.0}
        if bad:
            raise ValueError(f"rates must lie strictly between 0 and 1; got {bad}")
        if ATTENTION_SOURCE in self.rates:
            raise ValueError(f"{ATTENTION_SOURCE!r} is reserved for attention-check items")
        if min(self.annotator_sd, self.item_sd) < 0 or not 0.0 <= self.not_sure <= 1.0:
            raise ValueError("annotator_sd and item_sd must be >= 0 and not_sure within [0, 1]")

    def marginal_rates(self) -> dict:
        """Population share judged human per source: E[expit(logit(rate) + b + c)] (Gauss–Hermite)."""
        nodes, weights = np.polynomial.hermite_e.hermegauss(80)
        sd = float(np.hypot(self.annotator_sd, self.item_sd))
        weights = weights / weights.sum()
        return {s: float(np.sum(weights * expit(logit(r) + sd * nodes))) for s, r in self.rates.items()}

    def simulate(self, n_annotators: int = 16, items_per_source: int = 30, attention_checks: int = 3,
                 seed: int = 0) -> pd.DataFrame:
        """An answers table: every annotator judges every item (fully crossed), in a shuffled order."""
        if n_annotators < 1 or items_per_source < 1 or attention_checks < 0:
            raise ValueError("need n_annotators >= 1, items_per_source >= 1, attention_checks >= 0")
        items = [(f"{s}-{i:03d}", s) for s in self.rates for i in range(items_per_source)]
        items += [(f"check-{i:02d}", ATTENTION_SOURCE) for i in range(attention_checks)]
        return self._judge(items, n_annotators, seed, {"items_per_source": items_per_source,
                                                       "attention_checks": attention_checks})

    def judge(self, items, n_annotators: int = 16, seed: int = 0) -> pd.DataFrame:
        """Simulated answers to a given study's items: ``items`` is ``{item id: source}`` (e.g. a study's
        key, sources as named there; attention checks have source ``"attention_check"``). Every source
        must have a rate in the model."""
        pairs = [(str(i), s) for i, s in dict(items).items()]
        if not pairs:
            raise ValueError("no items to judge")
        unknown = sorted({s for _, s in pairs if s != ATTENTION_SOURCE} - set(self.rates))
        if unknown:
            raise ValueError(f"the annotator model has no rate for source(s) {unknown} (rates: {sorted(self.rates)})")
        if n_annotators < 1:
            raise ValueError("need n_annotators >= 1")
        return self._judge(pairs, n_annotators, seed, {"items": len(pairs)})

    def _judge(self, items: list, n_annotators: int, seed: int, sizes: dict) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        annotators = [f"sim-a{j:02d}" for j in range(n_annotators)]
        unknown = set(self.inattentive) - set(annotators)
        if unknown:
            raise ValueError(f"inattentive annotators not in the simulated panel: {sorted(unknown)}")
        bias = dict(zip(annotators, rng.normal(0.0, self.annotator_sd, n_annotators)))
        effect = {item: rng.normal(0.0, self.item_sd) for item, s in items if s != ATTENTION_SOURCE}
        rows = []
        for a in annotators:
            for k in rng.permutation(len(items)):
                item, source = items[k]
                check = source == ATTENTION_SOURCE
                if a in self.inattentive:
                    answer = str(rng.choice(_LABELS))
                elif check:
                    answer = "bot"
                elif rng.random() < expit(logit(self.rates[source]) + bias[a] + effect[item]):
                    answer = "human"
                else:
                    answer = "not_sure" if rng.random() < self.not_sure else "bot"
                rows.append({"annotator": a, "item": item, "source": source, "answer": answer,
                             "confidence": int(rng.integers(1, 6)), "is_attention_check": check})
        frame = pd.DataFrame(rows).assign(simulated=True)
        frame.attrs.update(simulated=True, model={**asdict(self), "n_annotators": n_annotators, **sizes,
                                                  "seed": seed})
        return frame


# -- blind annotators ---------------------------------------------------------------------------------------
# Mode "blind" (notebook 04's default offline): each simulated annotator reads a conversation's customer turns
# and nothing else. Its P("human") is a text judge's — a classifier the search never optimised (notebook 04
# fits ppol_nb.fitness.transfer_judge on humans and base-simulator conversations outside the study) applied to
# the 19-feature fingerprint computed from the text — shifted by the annotator's bias and a per-judgement
# noise on the logit scale. Attention checks are spotted from the text too (a customer repeating one template
# with a counter, as people spot a script). The source label is never an input: ``judge_texts`` takes item id
# -> customer turns, and the source is joined from the key only after every answer is given.

_COUNTER = re.compile(r"\d+")


def scripted(turns) -> bool:
    """True for an obviously scripted customer: every turn the same template up to its numbers (>= 3 turns)."""
    shapes = {_COUNTER.sub("#", t).strip().lower() for t in turns}
    return len(turns) >= 3 and len(shapes) == 1


@dataclass(frozen=True)
class BlindAnnotatorPanel:
    """Simulated annotators that judge text alone: ``expit(logit(judge(text)) + b_a + e_ai)`` (block comment above)."""

    judge: object                       # predict_proba_human(X) on fingerprints, or predict_proba (col 1 = human)
    annotator_sd: float = 0.5
    noise_sd: float = 0.3
    not_sure: float = 0.3
    inattentive: tuple = ()
    description: str = ""
    # After judging, for reporting only (never an input to an answer): the text judge's P(human) of each
    # item grouped by the source the key names; ``rates`` = expit(mean logit) per source (typical annotator).
    item_p: dict = field(default_factory=dict)

    @property
    def rates(self) -> dict:
        return {s: float(expit(np.mean(logit(np.asarray(p))))) for s, p in self.item_p.items()}

    def marginal_rates(self) -> dict:
        """Expected share judged human per source: mean over its items of E[expit(logit p + b + e)]."""
        nodes, weights = np.polynomial.hermite_e.hermegauss(80)
        sd, weights = float(np.hypot(self.annotator_sd, self.noise_sd)), weights / weights.sum()
        return {s: float(np.mean([np.sum(weights * expit(logit(q) + sd * nodes)) for q in p]))
                for s, p in self.item_p.items()}

    def p_human(self, texts: list[list[str]]) -> np.ndarray:
        from ..fitness.fingerprint import fingerprints

        X = fingerprints(texts)
        if hasattr(self.judge, "predict_proba_human"):
            p = self.judge.predict_proba_human(X)
        else:
            p = self.judge.predict_proba(X)[:, 1]
        return np.clip(np.asarray(p, dtype=float), 0.01, 0.99)

    def judge_texts(self, items, n_annotators: int = 16, seed: int = 0) -> pd.DataFrame:
        """Answers to ``items`` (``{item id: [customer turn texts]}``): annotator, item, answer, confidence,
        and the judge's P(human) of the text. No source column: nothing here knows it."""
        pairs = [(str(i), [str(t) for t in texts]) for i, texts in dict(items).items()]
        if not pairs:
            raise ValueError("no items to judge")
        if n_annotators < 1:
            raise ValueError("need n_annotators >= 1")
        rng = np.random.default_rng(seed)
        annotators = [f"sim-a{j:02d}" for j in range(n_annotators)]
        unknown = set(self.inattentive) - set(annotators)
        if unknown:
            raise ValueError(f"inattentive annotators not in the simulated panel: {sorted(unknown)}")
        p = dict(zip((i for i, _ in pairs), self.p_human([t for _, t in pairs])))
        spotted = {i: scripted(t) for i, t in pairs}
        bias = dict(zip(annotators, rng.normal(0.0, self.annotator_sd, n_annotators)))
        rows = []
        for a in annotators:
            for k in rng.permutation(len(pairs)):
                item = pairs[k][0]
                if a in self.inattentive:
                    answer = str(rng.choice(_LABELS))
                elif spotted[item]:
                    answer = "bot"
                elif rng.random() < expit(logit(p[item]) + bias[a] + rng.normal(0.0, self.noise_sd)):
                    answer = "human"
                else:
                    answer = "not_sure" if rng.random() < self.not_sure else "bot"
                rows.append({"annotator": a, "item": item, "answer": answer,
                             "confidence": int(rng.integers(1, 6)), "judge_p_human": float(p[item])})
        frame = pd.DataFrame(rows).assign(simulated=True)
        frame.attrs.update(simulated=True, model={"mode": "blind", "annotator_sd": self.annotator_sd,
                                                  "noise_sd": self.noise_sd, "not_sure": self.not_sure,
                                                  "inattentive": list(self.inattentive), "judge": self.description,
                                                  "n_annotators": n_annotators, "items": len(pairs), "seed": seed})
        return frame
