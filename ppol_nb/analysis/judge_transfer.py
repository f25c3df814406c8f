"""Judge transfer (issue 12, item 3): does HL survive a judge the search never saw?

The search judge is a :class:`~ppol_nb.fitness.score.FitnessModel`'s frozen
random forest; the transfer judge is a calibrated
:class:`~ppol_nb.fitness.transfer_judge.TransferJudge` of another model family,
fitted on other humans (:mod:`ppol_nb.humans.transfer_split`: the *fit* half of
the search split's held-out humans) against the same negatives (base-simulator
episodes of *train* tasks, the search judge's simulator class).

* :func:`fit_transfer_judge` rebuilds the search judge's human split from the
  corpus and the split parameters the FitnessModel recorded, refuses to go on
  unless the rebuilt split has the recorded hashes (so the transfer humans are
  provably outside the search judge's train and validation humans), cuts the
  held-out humans in two, fits the judge on the fit half and records both
  halves' counts and sha256 in its manifest.
* :func:`judge_gap` scores each condition (a variant's chosen program, Base, DP,
  Initial, Evolved, the Humans' evaluation half, …) with both judges: search-judge
  HL, transfer-judge HL and the gap (search − transfer), each with a 95 %
  percentile bootstrap interval over tasks (:func:`scipy.stats.bootstrap`,
  tasks resampled with their episodes, paired across the two judges). HL is the
  mean P(human) over episodes, as :meth:`FitnessModel.row` reports it. A gap well
  above the Humans' and the Base's is the mark of discriminator hacking: the
  search moved what the forest looks at, not what people do.
* :func:`transfer_quality` is the transfer judge's held-out check: ROC-AUC,
  accuracy, Brier and log loss on the evaluation-half humans vs base-simulator
  episodes of *test* tasks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import bootstrap

from ..fitness.fingerprint import FEATURES, fingerprint_frame, fingerprints
from ..fitness.transfer_judge import (
    save_transfer_judge,
    train_transfer_judge,
    transfer_manifest,
)
from ..humans import HumanLeakError, split_humans
from ..humans.transfer_split import TransferHumans, split_transfer
from ..provenance import provenance

CONFIDENCE = 0.95
N_BOOT = 2000


@dataclass
class TransferJudgeFit:
    """A fitted transfer judge, its humans and the evaluation half's fingerprints."""

    judge: object  # FrozenEstimator of a TransferJudge
    humans: TransferHumans
    evaluation_humans: np.ndarray
    manifest: dict

    def humans_condition(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """The evaluation half as a :func:`judge_gap` condition: fingerprints and their groups."""
        return self.evaluation_humans, self.humans.evaluation_groups

    def save(self, directory) -> Path:
        d = Path(directory)
        save_transfer_judge(self.judge, d / "transfer_judge", self.manifest)
        (d / "transfer_humans.json").write_text(json.dumps(self.humans.record(), indent=2))
        np.save(d / "evaluation_humans.npy", self.evaluation_humans)
        return d


def rebuild_search_split(corpus, search_model):
    """The search judge's HumanSplit, rebuilt from ``corpus`` and the parameters its model recorded.

    Raises :class:`HumanLeakError` unless every role has the recorded sha256
    (a different corpus file, seed or slice would give different humans).
    """
    rec = search_model.humans
    search_model.check_humans()
    split = split_humans(corpus, rec["domain"], rec.get("validation_task_ids") or (), rec["val_fraction"],
                         rec["seed"])
    rebuilt = split.record()
    for role in ("train", "validation", "heldout"):
        if rebuilt[role]["sha256"] != rec[role]["sha256"]:
            raise HumanLeakError(f"{corpus.name} ({rec['domain']}) does not reproduce the search judge's {role} "
                                 f"humans (sha256 {rebuilt[role]['sha256'][:12]} ≠ {rec[role]['sha256'][:12]}); "
                                 "the transfer judge's humans could not be shown disjoint from them")
    return split


def fit_transfer_judge(corpus, search_model, X_simulator_train, seed: int | None = None,
                       **params) -> TransferJudgeFit:
    """Fit the transfer judge for ``search_model``'s domain (module doc).

    ``X_simulator_train`` are fingerprints (array or frame with the 19 features) of
    base-simulator episodes on *train* tasks — the search judge's negatives.
    ``params`` go to :class:`~ppol_nb.fitness.transfer_judge.TransferJudge`
    (e.g. ``family="boosting"``).
    """
    split = rebuild_search_split(corpus, search_model)
    humans = split_transfer(split, seed)
    H_fit = fingerprints([d.user_turns for d in humans.fit])
    H_eval = fingerprints([d.user_turns for d in humans.evaluation])
    X_sim = X_simulator_train[list(FEATURES)] if isinstance(X_simulator_train, pd.DataFrame) else X_simulator_train
    judge = train_transfer_judge(H_fit, X_sim, **params)
    record = humans.record()
    manifest = {
        **provenance(), "corpus": corpus.name, "domain": split.domain,
        "humans": {half: {k: record[half][k] for k in ("n", "sha256")} for half in ("fit", "evaluation")},
        "human_source": "held-out humans of the search judge's split, cut in two (ppol_nb.humans.transfer_split)",
        "search_humans_sha256": record["search_humans_sha256"], "transfer_seed": humans.seed, "by": humans.by,
        "simulator_negatives": "base-simulator episodes of train tasks (the search judge's negatives)",
        **transfer_manifest(judge),
    }
    return TransferJudgeFit(judge, humans, H_eval, manifest)


def transfer_quality(judge, X_human_evaluation, X_simulator_test) -> dict:
    """Held-out ROC-AUC, accuracy, Brier, log loss: evaluation-half humans vs test-task base episodes."""
    X_sim = X_simulator_test[list(FEATURES)] if isinstance(X_simulator_test, pd.DataFrame) else X_simulator_test
    return judge.evaluate(X_human_evaluation, X_sim)


def _condition(value) -> tuple[np.ndarray, np.ndarray]:
    """Fingerprints and task ids of a condition: a frame, episode records, or ``(X, task_ids)``."""
    if isinstance(value, tuple) and len(value) == 2 and not isinstance(value[0], dict):  # not 2 records
        X, tasks = value
    else:
        frame = value if isinstance(value, pd.DataFrame) else None
        if frame is None or not set(FEATURES) <= set(frame.columns):
            frame = fingerprint_frame(value)
        if "task_id" not in frame.columns:
            raise ValueError("a condition's fingerprint frame needs a task_id column")
        # a task is (domain, task id) when the frame has a domain: ids repeat across domains
        keys = frame["task_id"].astype(str)
        if "domain" in frame.columns:
            keys = frame["domain"].astype(str) + "/" + keys
        X, tasks = frame[list(FEATURES)].to_numpy(float), keys.to_numpy()
    X = np.atleast_2d(np.asarray(X, float))
    tasks = np.asarray([str(t) for t in tasks])
    if len(X) != len(tasks):
        raise ValueError(f"{len(X)} fingerprints but {len(tasks)} task ids")
    if len(X) == 0:
        raise ValueError("a condition has no episodes")
    return X, tasks


def _judge(model):
    """The estimator with predict_proba_human: a FitnessModel's discriminator, a TransferJudgeFit's judge,
    or the estimator itself."""
    for attr in ("discriminator", "judge"):
        if hasattr(model, attr):
            return getattr(model, attr)
    return model


def _weighted_mean(values, weights, axis=-1):
    return np.sum(values * weights, axis=axis) / np.sum(weights, axis=axis)


def _interval(data, statistic, n_boot: int, seed: int) -> tuple[float, float]:
    if len(data[0]) < 2:  # one task: no spread to resample
        return float("nan"), float("nan")
    res = bootstrap(data, statistic, paired=True, vectorized=True, n_resamples=n_boot, confidence_level=CONFIDENCE,
                    method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def judge_gap(conditions: Mapping[str, object], search_model, transfer_judge, n_boot: int = N_BOOT,
              seed: int = 0) -> pd.DataFrame:
    """Per condition: search-judge HL, transfer-judge HL and the gap, with 95 % bootstrap intervals over tasks.

    ``conditions`` maps a label (variant, Base, DP, Initial, Evolved, Humans) to
    episode records, a fingerprint frame with ``task_id`` (and ``domain``), or
    ``(X, task_ids)``. ``search_model`` is a FitnessModel (or its discriminator);
    ``transfer_judge`` the frozen transfer judge (or its :class:`TransferJudgeFit`). HL is the mean over episodes;
    the intervals resample tasks (each with its episodes: a task-level mean
    weighted by its episode count), the same resamples for both judges.
    """
    search, transfer = _judge(search_model), _judge(transfer_judge)
    rows = []
    for label, value in conditions.items():
        X, tasks = _condition(value)
        p_s, p_t = search.predict_proba_human(X), transfer.predict_proba_human(X)
        keys = list(dict.fromkeys(tasks))
        n = np.array([(tasks == k).sum() for k in keys], float)
        s = np.array([p_s[tasks == k].mean() for k in keys])
        t = np.array([p_t[tasks == k].mean() for k in keys])
        row = {"condition": label, "n_episodes": len(X), "n_tasks": len(keys),
               "hl_search": float(p_s.mean()), "hl_transfer": float(p_t.mean()),
               "gap": float(p_s.mean() - p_t.mean())}
        for name, stat in (("hl_search", lambda a, b, w, axis=-1: _weighted_mean(a, w, axis)),
                           ("hl_transfer", lambda a, b, w, axis=-1: _weighted_mean(b, w, axis)),
                           ("gap", lambda a, b, w, axis=-1: _weighted_mean(a - b, w, axis))):
            row[f"{name}_lo"], row[f"{name}_hi"] = _interval((s, t, n), stat, n_boot, seed)
        rows.append(row)
    return pd.DataFrame(rows)
