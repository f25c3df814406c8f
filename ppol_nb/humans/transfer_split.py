"""Humans of the transfer judge: the held-out humans cut in two, never the search judge's.

The search judge (the frozen random forest of a
:class:`~ppol_nb.fitness.score.FitnessModel`) is trained on the *train* humans of
a :class:`~ppol_nb.humans.HumanSplit`; its *validation* humans score the
evolution's checkpoints. A second judge that the search never saw may use
neither, so its humans come from the split's *held-out* humans, cut in two:

* **fit** — the transfer judge's human class;
* **evaluation** — its held-out evaluation (ROC-AUC, Brier) and the reference
  level of humans in the judge-transfer table.

How the held-out humans are cut follows the split itself: a by-task split
(TAU-USI) gives each half whole test tasks (a seeded half of the sorted test-task
ids, the extra task to the fit half), so no evaluated task had its people in the
fit; a by-dialogue split (MultiWOZ, ABCD, JSONL) gives each half seeded
dialogues (the extra dialogue to the fit half) and the evaluation half keeps its
seeded pseudo-task groups of :data:`~ppol_nb.humans.splits.HUMAN_GROUP_SIZE`.
The seed is the split's own plus :data:`SEED_OFFSET`, so the cut is a function of
the ids and the seed alone, like :func:`~ppol_nb.humans.split_humans`.

Consequence for reporting: the benchmark's Humans row scores all held-out
humans with the search judge; the transfer table's Humans row scores only the
evaluation half (with both judges), since the fit half is in-sample for the
transfer judge.

:meth:`TransferHumans.record` holds the ids, counts and sha256 of both halves;
:func:`check_transfer_record` is the leak check (the analogue of
:func:`~ppol_nb.humans.check_record`): it raises
:class:`~ppol_nb.humans.HumanLeakError` if a transfer human is a train or
validation human of the search judge, if the halves share a dialogue, or (by
task) if a fit task is a train, validation or evaluation task.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .schema import Dialogue
from .splits import (
    HumanLeakError,
    HumanSplit,
    _pseudo_tasks,
    _shuffled,
    check_record,
    ids_hash,
)

SEED_OFFSET = 101  # distinct from the seeds split_humans draws (seed .. seed + 3)
HALVES = ("fit", "evaluation")


@dataclass(frozen=True)
class TransferHumans:
    """The two halves of a split's held-out humans (module doc), and the split's record."""

    search_record: dict  # HumanSplit.record() of the search judge's humans
    by: str
    fit: tuple[Dialogue, ...]
    evaluation: tuple[Dialogue, ...]
    evaluation_groups: tuple[str, ...]
    seed: int

    def __post_init__(self) -> None:
        check_transfer_record(self.search_record, self.record())

    def record(self) -> dict:
        """Ids, counts, hashes and task ids of both halves: what the transfer judge's manifest stores."""
        out = {"corpus": self.search_record.get("corpus"), "domain": self.search_record.get("domain"),
               "by": self.by, "seed": self.seed, "from": "heldout",
               "search_humans_sha256": {role: self.search_record[role]["sha256"]
                                        for role in ("train", "validation", "heldout")}}
        for half in HALVES:
            ids = sorted(d.dialogue_id for d in getattr(self, half))
            out[half] = {"n": len(ids), "sha256": ids_hash(ids), "ids": ids,
                         "task_ids": sorted({d.task_id for d in getattr(self, half) if d.task_id is not None})}
        return out

    def sizes(self) -> dict[str, int]:
        return {half: len(getattr(self, half)) for half in HALVES}


def split_transfer(split: HumanSplit, seed: int | None = None) -> TransferHumans:
    """Cut ``split``'s held-out humans into the transfer judge's fit and evaluation halves (module doc)."""
    seed = split.seed + SEED_OFFSET if seed is None else seed
    heldout = list(split.heldout)
    if len(heldout) < 2:
        raise ValueError(f"{split.corpus} ({split.domain}) has {len(heldout)} held-out human(s); the transfer "
                         "judge needs at least 2 to fit on one half and evaluate on the other")
    if split.by == "task":
        tasks = sorted({str(d.task_id) for d in heldout})
        if len(tasks) < 2:
            raise ValueError(f"{split.corpus} ({split.domain}) has held-out humans on {len(tasks)} test task(s); "
                             "the transfer judge needs at least 2 to give each half its own tasks")
        random.Random(seed).shuffle(tasks)
        fit_tasks = set(tasks[:(len(tasks) + 1) // 2])
        fit = [d for d in heldout if str(d.task_id) in fit_tasks]
        evaluation = [d for d in heldout if str(d.task_id) not in fit_tasks]
        groups = [str(d.task_id) for d in evaluation]
    else:
        shuffled = _shuffled(heldout, seed)
        fit_ids = {d.dialogue_id for d in shuffled[:(len(shuffled) + 1) // 2]}
        fit = [d for d in heldout if d.dialogue_id in fit_ids]
        evaluation = [d for d in heldout if d.dialogue_id not in fit_ids]
        groups = _pseudo_tasks(evaluation, seed + 1, "eval-group")
    return TransferHumans(search_record=split.record(), by=split.by, fit=tuple(fit), evaluation=tuple(evaluation),
                          evaluation_groups=tuple(groups), seed=seed)


def check_transfer_record(search_record: dict, transfer_record: dict) -> None:
    """Raise :class:`HumanLeakError` if the transfer judge's humans could overlap the search judge's.

    ``search_record`` is the search judge's :meth:`HumanSplit.record` (as its
    FitnessModel stores it, with ids); ``transfer_record`` is
    :meth:`TransferHumans.record`. Checked: the search record itself; no fit or
    evaluation human is a search train or validation human; the halves share no
    dialogue; every transfer human is a held-out human of the search split; by
    task, no fit task is a search train/validation task or an evaluation task.
    """
    check_record(search_record)
    if not transfer_record or any(half not in transfer_record for half in HALVES):
        raise HumanLeakError("no transfer-judge human record, so its humans cannot be checked")
    ids = {half: set(transfer_record[half]["ids"]) for half in HALVES}
    search = {role: set(search_record[role]["ids"]) for role in ("train", "validation", "heldout")}
    for half in HALVES:
        for role in ("train", "validation"):
            shared = ids[half] & search[role]
            if shared:
                raise HumanLeakError(f"{len(shared)} transfer-judge {half} human(s) are search-judge {role} humans, "
                                     f"e.g. {sorted(shared)[:3]}")
        outside = ids[half] - search["heldout"]
        if outside:
            raise HumanLeakError(f"{len(outside)} transfer-judge {half} human(s) are not held-out humans of the "
                                 f"search judge's split, e.g. {sorted(outside)[:3]}")
    shared = ids["fit"] & ids["evaluation"]
    if shared:
        raise HumanLeakError(f"{len(shared)} dialogue(s) are both fit and evaluation humans of the transfer judge, "
                             f"e.g. {sorted(shared)[:3]}")
    if transfer_record.get("by") == "task":
        fit_tasks = set(transfer_record["fit"]["task_ids"])
        for name, tasks in (("search-judge train", set(search_record["train"]["task_ids"])),
                            ("search-judge validation", set(search_record["validation"]["task_ids"])
                             | set(search_record.get("validation_task_ids") or ())),
                            ("transfer-judge evaluation", set(transfer_record["evaluation"]["task_ids"]))):
            leaked = fit_tasks & tasks
            if leaked:
                raise HumanLeakError(f"transfer-judge fit humans include dialogues of {name} task(s) "
                                     f"{sorted(leaked)[:5]}")
