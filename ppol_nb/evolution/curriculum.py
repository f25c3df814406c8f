"""Which tasks and how many personas one fitness call uses: PPol's minibatch curriculum.

* **Validation slice.** A seeded ``val_fraction`` of the official τ² train tasks
  (default 20 %, seed 42 — the authors' code defaults) is held out for
  checkpoint selection; the rest is the training pool. The slice size is
  ``floor(fraction · n)``, which gives the paper's retail 74 → 60 train + 14 val
  and airline 30 → 24 + 6 (rounding would give 15 for retail).
* **Minibatches.** Fitness call ``t`` (iteration ``t``; 0 is the seed program)
  takes the window of ``size`` consecutive pool tasks starting at position
  ``t · size``, wrapping around the pool's end, so successive calls sweep the
  pool.
* **Curriculum.** The epoch is the number of *completed* sweeps at the window's
  start, ``(t · size) // len(pool)``; the persona count is
  ``curriculum[min(epoch, len(curriculum) - 1)]`` (5 → 8 → 10) and the fitness
  weights are :func:`~ppol_nb.fitness.score.lambda_schedule` of that count —
  unless a ``lambda_b_schedule`` gives λ_b per epoch (the last repeats), which
  the fitness ablations use to fix λ or to keep the ramp without the N curriculum.

Everything is a function of ``t`` alone, so a resumed run scores iteration ``t``
on exactly the tasks the uninterrupted run would have used.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..fitness.score import lambda_schedule

PAPER_CURRICULUM = (5, 8, 10)
MINIBATCH_SIZE = 5
VAL_FRACTION = 0.2
VAL_SEED = 42


def split_validation(task_ids, val_fraction: float = VAL_FRACTION, seed: int = VAL_SEED) -> tuple[list[str], list[str]]:
    """``(train_pool, validation)`` task ids; both keep the input (official split) order."""
    ids = [str(t) for t in task_ids]
    if len(set(ids)) != len(ids):
        raise ValueError("task ids must be unique")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    # The epsilon keeps 30 * 0.2 at 6 despite binary floating point.
    n_val = math.floor(len(ids) * val_fraction + 1e-9)
    shuffled = list(ids)
    random.Random(seed).shuffle(shuffled)
    held = set(shuffled[:n_val])
    train = [t for t in ids if t not in held]
    if not train:
        raise ValueError(f"no training tasks left after holding out {n_val} of {len(ids)}")
    return train, [t for t in ids if t in held]


@dataclass(frozen=True)
class Minibatch:
    """The tasks, persona count and fitness weights of one fitness call."""

    iteration: int
    task_ids: tuple[str, ...]
    start: int  # position of the window's first task in the pool
    epoch: int  # completed sweeps of the pool before this window
    n: int  # personas per task
    lambda_h: float
    lambda_b: float

    @property
    def lambdas(self) -> tuple[float, float]:
        return self.lambda_h, self.lambda_b

    @property
    def n_episodes(self) -> int:
        return len(self.task_ids) * self.n


def minibatch_for(pool, iteration: int, size: int = MINIBATCH_SIZE,
                  curriculum=PAPER_CURRICULUM, lambda_b_schedule=None) -> Minibatch:
    """The minibatch of fitness call ``iteration`` over the training ``pool`` (see module doc)."""
    pool = [str(t) for t in pool]
    if not pool:
        raise ValueError("the training pool is empty")
    if iteration < 0:
        raise ValueError(f"iteration must be >= 0, got {iteration}")
    if size < 1 or not curriculum:
        raise ValueError("minibatch size must be >= 1 and the curriculum non-empty")
    size_eff = min(size, len(pool))  # a pool smaller than a window: each task once
    start = iteration * size_eff
    epoch = start // len(pool)
    n = int(curriculum[min(epoch, len(curriculum) - 1)])
    if lambda_b_schedule is None:
        lam_h, lam_b = lambda_schedule(n, n_final=max(curriculum))
    else:
        if not lambda_b_schedule:
            raise ValueError("lambda_b_schedule must be None or non-empty")
        lam_b = float(lambda_b_schedule[min(epoch, len(lambda_b_schedule) - 1)])
        lam_h = 1.0 - lam_b
    ids = tuple(pool[(start + k) % len(pool)] for k in range(size_eff))
    return Minibatch(iteration, ids, start % len(pool), epoch, n, lam_h, lam_b)


def schedule(pool, iterations: int, size: int = MINIBATCH_SIZE, curriculum=PAPER_CURRICULUM,
             lambda_b_schedule=None):
    """One row per fitness call 0..``iterations``: window, epoch, N, λ, episodes (a DataFrame)."""
    import pandas as pd

    rows = []
    for t in range(iterations + 1):
        mb = minibatch_for(pool, t, size, curriculum, lambda_b_schedule)
        rows.append({"iteration": t, "epoch": mb.epoch, "start": mb.start, "n": mb.n, "lambda_h": mb.lambda_h,
                     "lambda_b": mb.lambda_b, "n_episodes": mb.n_episodes, "task_ids": list(mb.task_ids)})
    return pd.DataFrame(rows)
