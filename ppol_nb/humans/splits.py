"""Disjoint human splits: training, validation and held-out humans of one domain.

PPol uses real human dialogues in three places, and no dialogue may serve two:

* **train** — the discriminator's human class, the coverage reference H_train
  (paper Eq. 3) and the human mean of the Dice alignment;
* **validation** — humans of the evolution's validation slice. Paper §3.3
  ("[code] it also excludes humans on the evolution validation slice"): they are
  never in H_train, so checkpoint selection is not scored against the people
  who did those very tasks. Validation coverage still compares against H_train,
  as Eq. 3 and the Humans row do; the validation humans are scored like a
  candidate to give validation a human reference level;
* **heldout** — the discriminator's held-out evaluation (Table 5) and the
  benchmark's Humans row (Tables 3/4).

Two ways to split, chosen by the corpus:

* **by task** — a corpus whose dialogues carry a τ² task id and its official
  split (TAU-USI): held-out = dialogues of official *test* tasks; validation =
  train-split dialogues whose task is in ``validation_task_ids`` (the
  evolution's slice, :func:`ppol_nb.evolution.curriculum.split_validation`);
  train = the other train-split dialogues. Dialogues without a τ² task are left
  out (their split is unknown). Groups (coverage "tasks") are task ids.
* **by dialogue** — a corpus without task ids (MultiWOZ, ABCD, a user JSONL):
  held-out = the corpus's own held-out half (MultiWOZ's seeded ``"heldout"``)
  or, for an unsplit corpus, a seeded half; validation = a seeded
  ``val_fraction`` of the rest (``floor``, as for tasks); train = what remains.
  Groups are seeded pseudo-tasks of :data:`HUMAN_GROUP_SIZE` dialogues (TAU-USI
  has ≈ 2.7 participants per task: 451/165).

Every choice is a function of the dialogue ids, the seed and the slice alone
(ids are sorted before any shuffle), so the same inputs give the same split in
the baseline study, the evaluator and the benchmark. :meth:`HumanSplit.record`
is what a fitness model stores to prove which humans it was trained on, and
:func:`check_record` is the leak check run on it.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from .schema import Corpus, Dialogue

HUMAN_GROUP_SIZE = 3
ROLES = ("train", "validation", "heldout")


class HumanLeakError(ValueError):
    """A validation or held-out human is (or may be) in a training set."""


@dataclass(frozen=True)
class HumanSplit:
    """The three disjoint human sets of one corpus and domain (see module doc)."""

    corpus: str
    domain: str
    by: str  # "task" or "dialogue"
    train: tuple[Dialogue, ...]
    validation: tuple[Dialogue, ...]
    heldout: tuple[Dialogue, ...]
    validation_groups: tuple[str, ...]
    heldout_groups: tuple[str, ...]
    validation_task_ids: tuple[str, ...]
    seed: int
    val_fraction: float

    def __post_init__(self) -> None:
        check_record(self.record())

    def record(self) -> dict:
        """Ids, counts and hashes of each role: what a fitness model stores."""
        out = {"corpus": self.corpus, "domain": self.domain, "by": self.by, "seed": self.seed,
               "val_fraction": self.val_fraction, "validation_task_ids": list(self.validation_task_ids)}
        for role in ROLES:
            ids = sorted(d.dialogue_id for d in getattr(self, role))
            out[role] = {"n": len(ids), "sha256": ids_hash(ids), "ids": ids,
                         "task_ids": sorted({d.task_id for d in getattr(self, role) if d.task_id is not None})}
        return out

    def sizes(self) -> dict[str, int]:
        return {role: len(getattr(self, role)) for role in ROLES}


def ids_hash(ids) -> str:
    """sha256 of the sorted ids, one per line: a short fingerprint of a set of dialogues."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def check_record(record: dict, validation_task_ids=None) -> None:
    """Raise :class:`HumanLeakError` if a validation or held-out human could be in training.

    Checks that the three roles share no dialogue id and that no training
    dialogue belongs to a validation or held-out task. ``validation_task_ids``
    (e.g. an evaluator's slice) are checked as well as the record's own.
    """
    if not record or any(role not in record for role in ROLES):
        raise HumanLeakError("no human split is recorded, so the training humans cannot be checked; "
                             "retrain the fitness model with BaselineStudy")
    ids = {role: set(record[role]["ids"]) for role in ROLES}
    for a, b in (("train", "validation"), ("train", "heldout"), ("validation", "heldout")):
        shared = ids[a] & ids[b]
        if shared:
            raise HumanLeakError(f"{len(shared)} dialogue(s) are both {a} and {b} humans, "
                                 f"e.g. {sorted(shared)[:3]}")
    train_tasks = set(record["train"]["task_ids"])
    held_out_tasks = {
        "validation": set(record["validation"]["task_ids"]) | set(record.get("validation_task_ids") or ()),
        "heldout": set(record["heldout"]["task_ids"]),
    }
    if record.get("by") == "task" and validation_task_ids is not None:
        held_out_tasks["validation"] |= {str(t) for t in validation_task_ids}
    for role, tasks in held_out_tasks.items():
        leaked = train_tasks & tasks
        if leaked:
            raise HumanLeakError(f"training humans include dialogues of {role} task(s) {sorted(leaked)[:5]} "
                                 f"({record['corpus']}, {record['domain']}); retrain the fitness model with "
                                 f"validation_task_ids set to this slice")


def domain_dialogues(corpus: Corpus, domain: str) -> list[Dialogue]:
    """Dialogues of this τ² domain if the corpus has any (TAU-USI), else the whole corpus.

    MultiWOZ (hotels, trains, taxis, …) stands in for every τ² domain.
    """
    return [d for d in corpus.dialogues if d.domain == domain] or list(corpus.dialogues)


def split_humans(corpus: Corpus, domain: str, validation_task_ids=(), val_fraction: float = 0.2,
                 seed: int = 0) -> HumanSplit:
    """Split a corpus's humans of ``domain`` into train / validation / held-out (module doc)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    dialogues = domain_dialogues(corpus, domain)
    validation_task_ids = tuple(sorted({str(t) for t in validation_task_ids}))
    if {"train", "test"} & {d.split for d in dialogues}:
        by = "task"
        placed = [d for d in dialogues if d.task_id is not None and d.split in ("train", "test")]
        heldout = [d for d in placed if d.split == "test"]
        slice_ = set(validation_task_ids)
        validation = [d for d in placed if d.split == "train" and d.task_id in slice_]
        train = [d for d in placed if d.split == "train" and d.task_id not in slice_]
        validation_groups = [str(d.task_id) for d in validation]
        heldout_groups = [str(d.task_id) for d in heldout]
    else:
        by = "dialogue"
        if {"reference", "heldout"} <= {d.split for d in dialogues}:
            reference = [d for d in dialogues if d.split == "reference"]
            heldout = [d for d in dialogues if d.split == "heldout"]
        else:  # an unsplit corpus: seeded halves, the extra dialogue to the reference side
            shuffled = _shuffled(dialogues, seed)
            half = (len(shuffled) + 1) // 2
            reference, heldout = shuffled[:half], shuffled[half:]
        n_val = math.floor(len(reference) * val_fraction + 1e-9)  # as split_validation does for tasks
        shuffled = _shuffled(reference, seed + 2)
        val_ids = {d.dialogue_id for d in shuffled[:n_val]}
        validation = [d for d in reference if d.dialogue_id in val_ids]
        train = [d for d in reference if d.dialogue_id not in val_ids]
        heldout_groups = _pseudo_tasks(heldout, seed + 1, "group")
        validation_groups = _pseudo_tasks(validation, seed + 3, "val-group")
    return HumanSplit(corpus=corpus.name, domain=domain, by=by, train=tuple(train), validation=tuple(validation),
                      heldout=tuple(heldout), validation_groups=tuple(validation_groups),
                      heldout_groups=tuple(heldout_groups), validation_task_ids=validation_task_ids, seed=seed,
                      val_fraction=val_fraction)


def _shuffled(dialogues: list[Dialogue], seed: int) -> list[Dialogue]:
    ordered = sorted(dialogues, key=lambda d: d.dialogue_id)
    random.Random(seed).shuffle(ordered)
    return ordered


def _pseudo_tasks(dialogues: list[Dialogue], seed: int, prefix: str) -> list[str]:
    """A group label per dialogue (input order): seeded groups of HUMAN_GROUP_SIZE."""
    rank = {d.dialogue_id: i for i, d in enumerate(_shuffled(dialogues, seed))}
    return [f"{prefix}-{rank[d.dialogue_id] // HUMAN_GROUP_SIZE}" for d in dialogues]
