"""The evolutionary search loop: islands + MAP-Elites, resumable, budgeted, thread-only.

Semantics (what "iteration", "round" and "resume" mean here)

* **Iteration 0** evaluates the seed program once. Its record belongs to island 0
  (lineage) and the archive places it on *every* island, so each island starts
  from it without paying for copies.
* **Iteration t >= 1** makes exactly one candidate, on island ``(t - 1) % islands``
  (round-robin), so ``max_iterations`` counts candidates, as in the paper's 70.
  Its parent and inspirations are drawn with an RNG derived from (seed, t) only.
* **A round** is ``parallel_evaluations`` consecutive iterations. All of a
  round's decisions are made from the archive as it stands when the round
  starts; its candidates are proposed and evaluated concurrently in threads;
  each result is committed to the database the moment it ends; then the round's
  records enter the archive in iteration order. With the default of 1, a round
  is an iteration.
* **Comparison** (:mod:`.comparison`): with ``comparison="raw"`` (every
  profile's default, the authors' rule) a candidate's rating is its own
  minibatch score. With ``comparison="paired"`` (the ``paired`` variant)
  each successful candidate of a round is paired with the round-start
  incumbent (the current best) on the candidate's own minibatch; the
  incumbent's re-evaluation there is computed once per (program, context) and
  stored (``fitness_evals``). A candidate that wins that pair is evaluated, with
  the incumbent, on the next ``confirm_evaluations − 1`` contexts. Its
  ``rating`` = incumbent rating + mean paired difference. New best, MAP-Elites
  cells, capacity, parent/elite selection, inspirations, migration and early
  stopping all use the rating; the raw ``score`` is kept for the record. All of
  a round's re-evaluations run (concurrently, under ``eval_timeout_s``) before
  its records enter the archive; their spend is ledger role ``rescore`` and
  counts towards ``max_cost_usd``.
* **History**: a mutator whose ``propose`` takes ``history`` is given the
  island's latest ``history_size`` candidates born before the round (failed
  ones included, each with its parent's metrics), a function of the
  round-start state like every other decision.
* **Migration** runs right after iteration t enters the archive when
  ``t % migration_interval == 0`` (ring, top fraction; see :mod:`.archive`).
* **Stopping** is checked between rounds: ``max_iterations``, early stop (no
  new best for ``early_stop_patience`` iterations), ``max_cost_usd`` (ledger
  total), ``max_wall_time_s`` (this session), in that order. A round in flight
  always finishes (confirmations included), so no paid-for evaluation is thrown
  away; a budget can therefore be overshot by at most one round.
* **Candidates in flight** (endpoint worlds; :mod:`.config`): a round of
  ``parallel_evaluations`` candidates overlaps every stage of each: the
  mutator call, persona generation and episodes of the candidate, and, with
  ``speculative_rescore``, the incumbent's paired re-evaluation on the
  candidate's minibatch, started with the candidate rather than after it (it
  is the same stored value either way; a failed candidate wastes it). With
  ``background_validation`` the validation of a new best runs in a thread
  while the next rounds go on; the run waits for every validation before it
  stops. Neither setting changes a decision or a value: the history is the same
  function of the seed, and so is the final program.
* **Validation and the final program**: when the evaluator has ``validate``,
  the seed program is always validated (first), then the incumbent at the end
  of every round in which it changed (with one candidate per round: every new
  best when it takes the crown). The final program is the best mean validation score
  (:meth:`EvolutionEngine.best` with ``by="validation"``, PPol's checkpoint
  rule) with ties going to the earliest program, so the result differs from the
  seed only when a candidate beat the seed on validation; otherwise it *is* the
  seed.
* **Resume** rebuilds the archive by replaying the stored programs in iteration
  order with their stored re-evaluations (ratings are a deterministic function
  of them and of each round's start state). If the process died mid-round
  (even mid-confirmation), that round's finished candidates and
  re-evaluations are kept, its missing candidates are re-decided from the same
  round-start state with the same RNG (same parents), stored proposals are
  re-used, and nothing finished is evaluated again. A validation that was
  started (event ``validation_start``) but not stored is run again. The
  resumed run's history therefore equals the uninterrupted run's.

Timeouts never hang the loop: see :mod:`.workers`. No asyncio is used, so
``run()`` and ``iterate()`` work inside a live Jupyter kernel.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import math
import numbers
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from .. import __version__
from . import comparison as cmp
from .archive import Archive
from .config import BUDGET_FIELDS, LEGACY_DECISIONS, EvolutionConfig
from .database import FILENAME, RunDatabase
from .interfaces import (
    ROLE_EVALUATOR,
    ROLE_RESCORE,
    ROLE_VALIDATION,
    Attempt,
    Evaluation,
    Evaluator,
    Mutator,
    ProgramRecord,
    Proposal,
    as_evaluation,
    as_proposal,
)
from .seeding import STREAM_MUTATE, STREAM_SELECT, derive_rng, program_id, source_hash
from .summary import STOP_COST, STOP_EARLY, STOP_MAX_ITERATIONS, STOP_WALL_TIME, RunSummary, Step
from .workers import DeadlineRunner, Outcome, call_with_timeout

log = logging.getLogger(__name__)

BEST_PROGRAM_FILE = "best_program.py"


def _takes_history(mutator) -> bool:
    """Whether ``mutator.propose`` accepts the ``history`` keyword (:class:`~.interfaces.Mutator`)."""
    import inspect

    try:
        return "history" in inspect.signature(mutator.propose).parameters
    except (TypeError, ValueError):
        return False


class SeedProgramError(RuntimeError):
    """The seed program failed to evaluate; the search has nothing to start from."""


@dataclass(frozen=True)
class _Decision:
    iteration: int
    island: int
    parent: ProgramRecord
    inspirations: list[ProgramRecord]
    history: tuple = ()  # the island's latest Attempts, most recent first (mutators that take ``history``)


class EvolutionEngine:
    """Evolve ``seed_program`` with ``mutator`` under ``evaluator``'s fitness.

    Parameters
    ----------
    config : EvolutionConfig
    evaluator : object with ``evaluate(source, iteration, program_id)`` and
        optionally ``validate(record) -> dict`` and ``rescore(source,
        iteration, program_id)`` (a cheaper ``evaluate`` for re-evaluations,
        e.g. without reflection; ``evaluate`` is used when it is missing).
    mutator : object with ``propose(parent, inspirations, rng, iteration)``.
    run_dir : directory holding ``evolution.sqlite`` (the checkpoint) and
        ``best_program.py``.
    seed_program : source of the initial program.
    resume : continue the run stored in ``run_dir``. Without it an existing
        run is never overwritten (FileExistsError). With it and no stored run,
        a new run starts.
    """

    def __init__(
        self,
        config: EvolutionConfig,
        evaluator: Evaluator,
        mutator: Mutator,
        run_dir: str | Path,
        seed_program: str,
        resume: bool = False,
    ) -> None:
        if not callable(getattr(evaluator, "evaluate", None)):
            raise TypeError("evaluator must define evaluate(source, iteration, program_id)")
        if not callable(getattr(mutator, "propose", None)):
            raise TypeError("mutator must define propose(parent, inspirations, rng, iteration)")
        if not isinstance(seed_program, str) or not seed_program.strip():
            raise ValueError("seed_program must be a non-empty source string")
        self.config = config = config.for_world()  # None (the world's choice) outside build_run: one at a time
        self.evaluator = evaluator
        self.mutator = mutator
        self.run_dir = Path(run_dir)
        self.seed_program = seed_program
        self.stop_reason: str | None = None
        self._validations: dict[str, threading.Thread] = {}  # program id -> background validation
        self._session_wall_s = 0.0
        self._active: Iterator[Step] | None = None

        db_path = self.run_dir / FILENAME
        existing = db_path.exists()
        if existing and not resume:
            raise FileExistsError(
                f"{db_path} already holds a run; pass resume=True to continue it, or use a new run_dir"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.db = RunDatabase(db_path)
        if existing and self.db.get_meta("config") is not None:
            self._check_compatible()
        self._write_meta()
        self.load_state()

    # ================================================================== setup
    def _check_compatible(self) -> None:
        # A run made before a decision field existed was decided by its legacy value.
        stored = EvolutionConfig.from_dict({**LEGACY_DECISIONS, **self.db.get_meta("config")})
        diff = stored.decision_diff(self.config)
        if diff:
            detail = ", ".join(f"{k}: stored {a!r} vs given {b!r}" for k, (a, b) in diff.items())
            raise ValueError(
                f"cannot resume {self.run_dir}: config differs in fields that drive decisions ({detail}); "
                f"only {sorted(BUDGET_FIELDS)} may change on resume"
            )
        stored_seed = self.db.get_meta("seed_program_sha256")
        if stored_seed is not None and stored_seed != source_hash(self.seed_program):
            raise ValueError(f"cannot resume {self.run_dir}: seed_program differs from the stored run's")

    def _write_meta(self) -> None:
        meta: dict[str, Any] = {
            "config": self.config.to_dict(),
            "seed": self.config.seed,
            "package_version": __version__,
            "seed_program_sha256": source_hash(self.seed_program),
        }
        if self.db.get_meta("created_at") is None:
            meta["created_at"] = time.time()
        self.db.set_meta(meta)

    def _reset_state(self) -> None:
        cfg = self.config
        self.archive = Archive(
            cfg.islands, cfg.feature_bins, cfg.island_capacity, cfg.feature_keys, cfg.migrants_per_island,
            grid=cfg.map_elites,
        )
        self._records: list[ProgramRecord] = []  # applied, in iteration order
        self._by_id: dict[str, ProgramRecord] = {}
        self._new_best_ids: set[str] = set()
        self._known_sources: dict[str, str] = {}  # source hash -> first program id
        self._best: ProgramRecord | None = None
        self._best_iteration = 0
        self._last_iteration = -1  # last iteration applied to the archive
        self._pending_round: list[int] | None = None
        self._pending_records: dict[int, ProgramRecord] = {}
        self._scores: dict[tuple[str, int], float] = {}  # (program id, context) -> re-evaluation score
        self._validation_started: list[str] = []  # program ids, from validation_start events

    def load_state(self) -> None:
        """Rebuild islands, archives, ratings, best and any unfinished round from the database."""
        self._reset_state()
        self._scores = {(row["program_id"], int(row["context"])): float(row["score"])
                        for row in self.db.fitness_evals()}
        records = self.db.programs()
        if not records:
            return
        for record in records:
            self._by_id[record.id] = record  # re-evaluation look-ups need every stored program
        rounds = [list(e["iterations"]) for e in self.db.events("round_start")]
        round_start = {t: min(its) for its in rounds for t in its}
        last_round = rounds[-1] if rounds else None
        cut = min(last_round) if last_round else math.inf
        expected, incumbent = 0, None
        tail: dict[int, ProgramRecord] = {}
        for record in records:
            if record.iteration >= cut:
                tail[record.iteration] = record
                continue
            self._check_next(record, expected)
            if round_start.get(record.iteration, record.iteration) == record.iteration:
                incumbent = self._best  # every candidate of a round is paired with its round-start best
            self._replay(record, incumbent)
            expected += 1
        if last_round is not None:
            # Only the last round can be unfinished: a round's candidates *and* re-evaluations
            # all exist before the next round starts.
            incumbent = self._best
            finished = set(last_round) <= set(tail) and not any(
                self._needed(tail[t], incumbent) for t in last_round)
            if finished:
                for t in sorted(tail):
                    self._check_next(tail[t], expected)
                    self._replay(tail[t], incumbent)
                    expected += 1
            else:
                self._pending_round, self._pending_records = list(last_round), tail
        if records[0].iteration == 0 and records[0].source != self.seed_program:
            raise ValueError(f"cannot resume {self.run_dir}: seed_program differs from the stored run's")
        self._validation_started = [e["program_id"] for e in self.db.events("validation_start")]
        if self._best is not None:  # the process may have died before refreshing it
            _atomic_write(self.run_dir / BEST_PROGRAM_FILE, self._best.source)

    # ============================================================ public API
    def _check_next(self, record: ProgramRecord, expected: int) -> None:
        if record.iteration != expected:
            raise RuntimeError(
                f"{self.db.path}: iteration {expected} is missing but {record.iteration} is stored; "
                "the run database is inconsistent"
            )

    def _replay(self, record: ProgramRecord, incumbent: ProgramRecord | None) -> None:
        stored = (record.rating, record.comparison)
        self._apply(record, incumbent)
        if record.ok and stored != (record.rating, record.comparison):
            if stored[0] is not None:
                log.warning("%s: stored rating %r differs from the recomputed %r; using the recomputed one",
                            record.id, stored[0], record.rating)
            self.db.set_comparison(record.id, record.rating, record.comparison)  # died before writing it

    def run(self, progress: bool = True) -> RunSummary:
        """Run until a stop condition holds; returns the summary. Safe to call again."""
        bar = None
        if progress:
            from tqdm.auto import tqdm

            from .estimate import progress_fields

            initial, t0 = max(self._last_iteration, 0), time.monotonic()
            # Elapsed, ETA and dollars come from progress_fields (ETA marked "≤" when a run may stop early).
            bar = tqdm(total=self.config.max_iterations, initial=initial, desc="evolution",
                       bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt}{postfix}")  # tqdm puts ", " first
        try:
            for step in self.iterate():
                if bar is not None and step.iteration > 0:
                    bar.update(step.iteration - bar.n)
                    best = step.best.selection_score if step.best is not None else float("nan")
                    bar.set_postfix_str(f"best {best:.4f}, " + progress_fields(
                        step.iteration, self.config.max_iterations, initial, time.monotonic() - t0,
                        step.total_cost_usd, self.config))
        finally:
            if bar is not None:
                bar.close()
        return self.summary()

    def iterate(self) -> Iterator[Step]:
        """Generator over applied iterations; stop it (``break``) at any point and resume later.

        Every step is fully persisted before it is yielded; breaking out of the
        loop loses nothing, and calling ``iterate()``/``run()`` again continues.
        Starting a new ``iterate()`` closes the previous one of this engine (a
        notebook often leaves a half-consumed generator behind).
        """
        if self._active is not None:
            self._active.close()
        self._active = self._iterate()
        return self._active

    def _iterate(self) -> Iterator[Step]:
        start = time.monotonic()
        self.stop_reason = None
        with self._run_lock():
            self.db.add_event(
                "session_start",
                iteration=self._last_iteration,
                resumed=self._last_iteration >= 0,
                config=self.config.to_dict(),
                pid=os.getpid(),
            )
            try:
                if self._last_iteration < 0 and self._pending_round is None:
                    yield self._run_seed()
                seed = self._records[0] if self._records else None
                if seed is None or not seed.ok:
                    error = seed.error if seed is not None else "not evaluated"
                    self.db.add_event("stop", iteration=0, reason="seed_failed", detail=error)
                    raise SeedProgramError(f"seed program failed: {error}")
                while True:
                    self._session_wall_s = time.monotonic() - start
                    self._maybe_validate()
                    if self._pending_round is None:
                        reason, detail = self._stop_check(start)
                        if reason is not None:
                            self.wait_validations()  # the final program needs every validation
                            self.stop_reason = reason
                            self.db.add_event("stop", iteration=self._last_iteration, reason=reason, detail=detail)
                            log.info("evolution stopped: %s (%s)", reason, detail)
                            return
                        self._start_round()
                    incumbent = self._best  # fixed for the whole round (see .comparison)
                    self._finish_round(incumbent)
                    steps = [self._apply_live(self._pending_records[t], incumbent) for t in self._pending_round]
                    self._pending_round, self._pending_records = None, {}
                    self._maybe_validate()
                    yield from steps
            except (GeneratorExit, SeedProgramError):
                raise
            except BaseException as exc:
                self.db.add_event("interrupted", iteration=self._last_iteration, error=repr(exc))
                raise
            finally:
                self._session_wall_s = time.monotonic() - start

    def summary(self) -> RunSummary:
        by_role = self.db.cost_by_role()
        return RunSummary(
            run_dir=self.run_dir,
            best=self._best,
            best_validated=self.best(by="validation"),
            iterations_done=max(self._last_iteration, 0),
            programs=len(self._records),
            failed=sum(not r.ok for r in self._records),
            stop_reason=self.stop_reason,
            total_cost_usd=self.db.total_cost(),
            total_llm_calls=int(sum(v["llm_calls"] for v in by_role.values())),
            cost_by_role=by_role,
            wall_time_s=self._session_wall_s,
        )

    def best(self, by: str = "score") -> ProgramRecord | None:
        """The incumbent (``"score"``: best by rating on the common scale) or best by ``"validation"``.

        ``by="validation"`` is PPol's final-program rule: the highest mean
        validation score, ties to the earliest program. The seed is always
        validated first, so this returns an evolved program only when one
        scored strictly higher than the seed on validation.
        """
        if by == "score":
            return self._best
        if by == "validation":
            scored = [r for r in self._records if _finite(r.validation.get("score"))]
            return max(scored, key=lambda r: (r.validation["score"], -r.iteration), default=None)
        raise ValueError("by must be 'score' or 'validation'")

    @property
    def iterations_done(self) -> int:
        return max(self._last_iteration, 0)

    def records(self) -> list[ProgramRecord]:
        """Every applied program, in iteration order (failed ones included)."""
        return list(self._records)

    def get(self, program_id: str) -> ProgramRecord:
        return self._by_id[program_id]

    def lineage(self, program_id: str) -> list[ProgramRecord]:
        """The program, its parent, ..., back to the seed."""
        chain = []
        current: str | None = program_id
        while current is not None:
            record = self._by_id[current]
            chain.append(record)
            current = record.parent_id
        return chain

    def archive_grid(self, island: int | None = None) -> np.ndarray:
        """``feature_bins x feature_bins`` elite ratings (rows: first feature key); NaN = empty.

        ``island=None`` gives the cell-wise best over all islands.
        """
        return self.archive.score_grid(island)

    def history(self):
        """One row per program: the search trajectory as a pandas DataFrame.

        ``score`` is the raw fitness on the program's own minibatch; ``rating``
        its like-with-like estimate on the common scale; ``paired_diff`` /
        ``n_pairs`` / ``incumbent_id`` / ``confirmed`` describe its paired
        comparison; ``best_score`` is the incumbent's rating after this row.
        """
        import pandas as pd

        fa, fb = self.config.feature_keys
        rows, best, best_id = [], -math.inf, None
        for r in self._records:
            new_best = r.id in self._new_best_ids
            if new_best:
                best, best_id = r.selection_score, r.id
            comp = r.comparison or {}
            rows.append(
                {
                    "id": r.id,
                    "iteration": r.iteration,
                    "island": r.island,
                    "generation": r.generation,
                    "parent_id": r.parent_id,
                    "score": r.score,
                    fa: _metric(r, fa),
                    fb: _metric(r, fb),
                    "error": r.error,
                    "mutation_kind": r.mutation_kind,
                    "mutation_angle": r.mutation_angle,
                    "llm_calls": r.llm_calls,
                    "cost_usd": r.cost_usd,
                    "is_best_so_far": new_best,
                    "best_score": best,
                    "rating": float(r.rating) if r.rating is not None else float("nan"),
                    "paired_diff": _float(comp.get("mean_diff")),
                    "n_pairs": len(comp.get("pairs") or []),
                    "incumbent_id": comp.get("incumbent_id"),
                    "confirmed": bool(comp.get("confirmed", False)),
                    "best_id": best_id,
                }
            )
        return pd.DataFrame(rows)

    def events(self, kind: str | None = None) -> list[dict]:
        return self.db.events(kind)

    def reevaluations(self):
        """Every stored re-evaluation (incumbent pairings and confirmations) as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.db.fitness_evals())

    def ledger(self):
        """Spend per (iteration, program, role) as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.db.ledger_rows())

    def close(self) -> None:
        self.wait_validations()  # a background validation still writes to the database
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ========================================================= archive state
    def _known(self, program_id: str, context: int) -> float | None:
        """Score of a program on a context: its own evaluation, else a stored re-evaluation."""
        record = self._by_id.get(program_id)
        if record is not None and record.iteration == context:
            return record.score
        return self._scores.get((program_id, context))

    def _needed(self, record: ProgramRecord, incumbent: ProgramRecord | None) -> list[tuple[str, int]]:
        """Re-evaluations still missing before ``record`` can be rated against ``incumbent``."""
        if self.config.comparison != cmp.RULE_PAIRED or incumbent is None or not record.ok:
            return []
        return cmp.needed(record.iteration, incumbent.id, record.id, self._known, self.config.confirm_evaluations)

    def _compare(self, record: ProgramRecord, incumbent: ProgramRecord | None) -> cmp.Comparison:
        if incumbent is None:
            return cmp.reference(record.score, self.config.comparison)
        if self.config.comparison == cmp.RULE_RAW:
            return cmp.raw(record.score)
        return cmp.paired(record.iteration, incumbent.id, incumbent.selection_score, record.id, self._known,
                          self.config.confirm_evaluations)

    def _apply(self, record: ProgramRecord, incumbent: ProgramRecord | None) -> tuple[bool, list[dict]]:
        """Rate a finished program and enter it into the archive (shared by live runs and replay)."""
        new_best = False
        if record.ok:
            comp = self._compare(record, incumbent)
            record.rating, record.comparison = comp.rating, comp.to_dict()
            new_best = comp.confirmed and (self._best is None or comp.rating > self._best.selection_score)
        else:
            record.rating, record.comparison = None, {}
        self._records.append(record)
        self._by_id[record.id] = record
        self._known_sources.setdefault(source_hash(record.source), record.id)
        islands = range(len(self.archive)) if record.iteration == 0 else [record.island]
        self.archive.add(record, islands)
        if new_best:
            self._best, self._best_iteration = record, record.iteration
            self._new_best_ids.add(record.id)
        self._last_iteration = record.iteration
        migrations: list[dict] = []
        if record.iteration > 0 and record.iteration % self.config.migration_interval == 0:
            migrations = self.archive.migrate()
        return new_best, migrations

    def _apply_live(self, record: ProgramRecord, incumbent: ProgramRecord | None) -> Step:
        new_best, migrations = self._apply(record, incumbent)
        it = record.iteration
        if record.ok:
            self.db.set_comparison(record.id, record.rating, record.comparison)
        self.db.add_event(
            "iteration_end",
            iteration=it,
            program_id=record.id,
            island=record.island,
            score=record.score,
            rating=record.rating,
            error=record.error,
        )
        if new_best:
            comp = record.comparison
            self.db.add_event("new_best", iteration=it, program_id=record.id, score=record.score,
                              rating=record.rating, previous=comp.get("incumbent_id"),
                              mean_diff=comp.get("mean_diff"), n_pairs=len(comp.get("pairs") or []))
            _atomic_write(self.run_dir / BEST_PROGRAM_FILE, record.source)
        if migrations:
            self.db.add_event("migration", iteration=it, moves=migrations)
        return Step(it, record, new_best, self._best, self.db.total_cost(), migrations)

    # ================================================================= seed
    def _run_seed(self) -> Step:
        pid = program_id(self.config.seed, 0, self.seed_program)
        self.db.add_event("round_start", iteration=0, iterations=[0])
        outcome = call_with_timeout(
            lambda: as_evaluation(self.evaluator.evaluate(self.seed_program, 0, pid)),
            self.config.eval_timeout_s,
            name="seed",
        )
        _reraise_fatal(outcome)
        seed_proposal = Proposal(source=self.seed_program, kind="seed")
        record = self._record(0, 0, None, [], seed_proposal, pid, outcome)
        self.db.add_program(record, [(ROLE_EVALUATOR, *_eval_spend(outcome))])
        return self._apply_live(record, None)  # a failed seed is reported by the caller

    # ================================================================ rounds
    def _start_round(self) -> None:
        first = self._last_iteration + 1
        last = min(self._last_iteration + self.config.parallel_evaluations, self.config.max_iterations)
        self._pending_round = list(range(first, last + 1))
        self._pending_records = {}
        incumbent = self._best.id if self._best is not None else None
        self.db.add_event("round_start", iteration=first, iterations=self._pending_round, incumbent=incumbent)

    def _decide(self, iteration: int) -> _Decision:
        cfg = self.config
        island = self.archive[(iteration - 1) % cfg.islands]
        rng = derive_rng(cfg.seed, iteration, STREAM_SELECT)
        parent = island.sample_parent(rng, cfg.elite_selection_ratio, cfg.tournament_size)
        return _Decision(iteration, island.index, parent, island.top(cfg.num_inspirations, exclude=parent.id),
                         self._history(island.index, iteration))

    def _history(self, island: int, iteration: int) -> tuple[Attempt, ...]:
        """The island's latest ``history_size`` candidates born before this round (failed ones included)."""
        size = self.config.history_size
        if not size or not _takes_history(self.mutator):
            return ()
        start = self._pending_round[0] if self._pending_round else iteration
        born = sorted((r for r in self._by_id.values() if r.island == island and 0 < r.iteration < start),
                      key=lambda r: r.iteration, reverse=True)[:size]

        def terms(record: ProgramRecord | None) -> dict[str, float]:
            if record is None or not record.ok:
                return {}
            return {k: float(record.metrics[k]) for k in ("score", *self.config.feature_keys) if k in record.metrics}

        return tuple(Attempt(r.iteration, r.mutation_kind, r.mutation_angle, r.mutation_notes, terms(r),
                             terms(self._by_id.get(r.parent_id)), r.error) for r in born)

    def _finish_round(self, incumbent: ProgramRecord | None) -> None:
        """Propose and evaluate the round's missing candidates, then the re-evaluations their
        comparisons with ``incumbent`` need; commit each result as it ends."""
        todo = [t for t in self._pending_round if t not in self._pending_records]
        cfg = self.config
        decisions = {t: self._decide(t) for t in todo}
        runner = DeadlineRunner()
        in_flight: set[tuple[str, int]] = set()
        proposals: dict[int, Proposal] = {}
        for t, d in decisions.items():
            stored = self.db.proposal(t)
            if stored is not None and stored[:3] == (d.parent.id, d.island, [r.id for r in d.inspirations]):
                proposals[t] = stored[3]  # paid for before a crash: re-use, don't ask again
                self._submit_evaluation(runner, d, stored[3])
                continue
            if stored is not None:
                log.warning("iteration %d: stored proposal was made for another parent; proposing again", t)
            runner.submit(("propose", t), self._propose_fn(d), cfg.propose_timeout_s)

        self._submit_rescores(runner, incumbent, in_flight)  # resumed round: stored candidates first
        if cfg.speculative_rescore:
            self._submit_pairings(runner, incumbent, in_flight, todo)
        while len(runner):
            outcome = runner.next()
            _reraise_fatal(outcome)
            phase = outcome.key[0]
            if phase == "rescore":
                _, pid, ctx, t, purpose = outcome.key
                in_flight.discard((pid, ctx))
                self._commit_rescore(pid, ctx, t, purpose, outcome)
            elif phase == "propose":
                t = outcome.key[1]
                d = decisions[t]
                if outcome.error is not None or outcome.timed_out:
                    self._commit(self._mutation_failure(d, outcome))
                else:
                    proposal = outcome.value
                    proposals[t] = proposal
                    self.db.add_proposal(t, d.parent.id, d.island, [r.id for r in d.inspirations], proposal)
                    self._submit_evaluation(runner, d, proposal)
            else:
                t = outcome.key[1]
                d, proposal = decisions[t], proposals[t]
                pid = program_id(cfg.seed, t, proposal.source)
                record = self._record(t, d.island, d.parent, d.inspirations, proposal, pid, outcome)
                self._commit(record, [(ROLE_EVALUATOR, *_eval_spend(outcome))])
            self._submit_rescores(runner, incumbent, in_flight)
        missing = {t: self._needed(self._pending_records[t], incumbent) for t in self._pending_round}
        missing = {t: m for t, m in missing.items() if m}
        if missing:  # cannot happen unless a re-evaluation was lost; never rate on partial data
            raise RuntimeError(f"round {self._pending_round} ended with re-evaluations missing: {missing}")

    def _submit_rescores(self, runner: DeadlineRunner, incumbent: ProgramRecord | None,
                         in_flight: set[tuple[str, int]]) -> None:
        """Start every re-evaluation the round's finished candidates need that is neither stored nor running."""
        rescore = getattr(self.evaluator, "rescore", None)
        evaluate = rescore if callable(rescore) else self.evaluator.evaluate
        for t in self._pending_round:
            record = self._pending_records.get(t)
            if record is None:
                continue
            for pid, ctx in self._needed(record, incumbent):
                if (pid, ctx) in in_flight:
                    continue  # one evaluation per (program, context), shared by all who need it
                in_flight.add((pid, ctx))
                source = self._by_id[pid].source
                purpose = "pair" if ctx == t else "confirm"
                runner.submit(("rescore", pid, ctx, t, purpose),
                              functools.partial(_evaluate_as, evaluate, source, ctx, pid), self.config.eval_timeout_s)

    def _submit_pairings(self, runner: DeadlineRunner, incumbent: ProgramRecord | None,
                         in_flight: set[tuple[str, int]], iterations: list[int]) -> None:
        """Start the incumbent's re-evaluation on each candidate's own minibatch now, with the candidate
        (``speculative_rescore``): the value a successful candidate's pairing will read, computed once."""
        if self.config.comparison != cmp.RULE_PAIRED or incumbent is None:
            return
        rescore = getattr(self.evaluator, "rescore", None)
        evaluate = rescore if callable(rescore) else self.evaluator.evaluate
        for t in iterations:
            key = (incumbent.id, t)
            if key in in_flight or self._known(*key) is not None:
                continue
            in_flight.add(key)
            runner.submit(("rescore", incumbent.id, t, t, "pair"),
                          functools.partial(_evaluate_as, evaluate, incumbent.source, t, incumbent.id),
                          self.config.eval_timeout_s)

    def _unpack(self, outcome: Outcome) -> tuple[Evaluation, str | None, dict]:
        """An evaluation outcome (finished, raised or timed out) as (evaluation, error, float metrics)."""
        evaluation = outcome.value if isinstance(outcome.value, Evaluation) else Evaluation()
        if outcome.timed_out:
            error = f"evaluation timed out after {self.config.eval_timeout_s} s"
        elif outcome.error is not None:
            error = f"evaluator raised {type(outcome.error).__name__}: {outcome.error}"
        else:
            error = evaluation.error
        metrics = {k: (float(v) if isinstance(v, numbers.Real) else v) for k, v in evaluation.metrics.items()}
        return evaluation, error, metrics

    def _commit_rescore(self, pid: str, context: int, iteration: int, purpose: str, outcome: Outcome) -> None:
        evaluation, error, metrics = self._unpack(outcome)
        if error is None and not _finite(metrics.get("score")):
            error = f"evaluator returned no finite 'score' (metrics: {sorted(metrics)})"
        score = float(metrics["score"]) if error is None else 0.0  # a failed fitness call scores 0 (PPol)
        calls, cost = _eval_spend(outcome)
        duration = evaluation.duration_s if evaluation.duration_s is not None else outcome.elapsed_s
        row = {"program_id": pid, "context": int(context), "iteration": int(iteration), "purpose": purpose,
               "score": score, "metrics": metrics, "minibatch": evaluation.artifacts.get("minibatch") or {},
               "error": error, "llm_calls": calls, "cost_usd": cost, "duration_s": float(duration),
               "created_at": time.time()}
        self.db.add_fitness_eval(row, [(ROLE_RESCORE, calls, cost)])
        self._scores[(pid, int(context))] = score

    def _propose_fn(self, d: _Decision):
        rng = derive_rng(self.config.seed, d.iteration, STREAM_MUTATE)

        # Copies: the mutator runs in a worker thread and must not be able to edit the archive.
        parent, inspirations = copy.deepcopy(d.parent), copy.deepcopy(list(d.inspirations))
        extra = {"history": list(d.history)} if _takes_history(self.mutator) else {}

        def propose() -> Proposal:
            proposal = as_proposal(self.mutator.propose(parent, inspirations, rng, d.iteration, **extra))
            if not isinstance(proposal.source, str):
                raise TypeError(f"Proposal.source must be str, got {type(proposal.source).__name__}")
            proposal.llm_calls, proposal.cost_usd = int(proposal.llm_calls), float(proposal.cost_usd)
            return proposal

        return propose

    def _submit_evaluation(self, runner: DeadlineRunner, d: _Decision, proposal: Proposal) -> None:
        cfg, t = self.config, d.iteration
        pid = program_id(cfg.seed, t, proposal.source)
        # Cheap rejections first: an evaluation is the expensive step (25-50 episodes in PPol).
        reason = None
        if not proposal.source.strip():
            reason = "mutator returned an empty program"
        elif cfg.skip_duplicates and source_hash(proposal.source) in self._known_sources:
            reason = f"duplicate of {self._known_sources[source_hash(proposal.source)]}; not re-evaluated"
        if reason is not None:
            outcome = Outcome(("evaluate", t), value=Evaluation(error=reason))
            self._commit(self._record(t, d.island, d.parent, d.inspirations, proposal, pid, outcome))
            return
        evaluate = self.evaluator.evaluate
        source = proposal.source
        runner.submit(("evaluate", t), lambda: as_evaluation(evaluate(source, t, pid)), cfg.eval_timeout_s)

    def _commit(self, record: ProgramRecord, ledger: list[tuple[str, int, float]] = ()) -> None:
        self.db.add_program(record, list(ledger))
        self._pending_records[record.iteration] = record
        self._by_id[record.id] = record

    def _mutation_failure(self, d: _Decision, outcome: Outcome) -> ProgramRecord:
        if outcome.timed_out:
            error = f"mutator timed out after {self.config.propose_timeout_s} s"
        else:
            error = f"mutator raised {type(outcome.error).__name__}: {outcome.error}"
        return ProgramRecord(
            id=program_id(self.config.seed, d.iteration, ""),
            source="",
            parent_id=d.parent.id,
            island=d.island,
            iteration=d.iteration,
            generation=d.parent.generation + 1,
            metrics={"score": 0.0},
            error=error,
            mutation_kind="failed",
            inspiration_ids=[r.id for r in d.inspirations],
            created_at=time.time(),
        )

    def _record(
        self,
        iteration: int,
        island: int,
        parent: ProgramRecord | None,
        inspirations: list[ProgramRecord],
        proposal: Proposal,
        pid: str,
        outcome: Outcome,
    ) -> ProgramRecord:
        """Turn an evaluation outcome (finished, raised or timed out) into a record."""
        evaluation, error, metrics = self._unpack(outcome)
        if error is None:
            error = self._metrics_problem(metrics)
        if error is not None:
            metrics.setdefault("score", 0.0)
        duration = evaluation.duration_s if evaluation.duration_s is not None else outcome.elapsed_s
        return ProgramRecord(
            id=pid,
            source=proposal.source,
            parent_id=parent.id if parent is not None else None,
            island=island,
            iteration=iteration,
            generation=parent.generation + 1 if parent is not None else 0,
            metrics=metrics,
            error=error,
            diff=proposal.diff,
            mutation_kind=proposal.kind,
            mutation_angle=proposal.angle,
            mutation_notes=proposal.notes,
            inspiration_ids=[r.id for r in inspirations],
            llm_calls=int(proposal.llm_calls) + int(evaluation.llm_calls),
            cost_usd=float(proposal.cost_usd) + float(evaluation.cost_usd),
            created_at=time.time(),
            eval_duration_s=float(duration),
            artifacts=dict(evaluation.artifacts),
        )

    def _metrics_problem(self, metrics: dict) -> str | None:
        for key in ("score", *self.config.feature_keys):
            if not _finite(metrics.get(key)):
                return f"evaluator returned no finite {key!r} (metrics: {sorted(metrics)})"
        return None

    # ============================================================ validation
    def _maybe_validate(self) -> None:
        """PPol validates the elite on a held-out slice whenever it changes; the seed always, first.

        Synchronous by default; with ``background_validation`` each validation runs in
        its own thread (committed from there) and :meth:`wait_validations` collects them.
        A validation started before a crash but never stored is started again.
        """
        validate = getattr(self.evaluator, "validate", None)
        if not (self.config.validate_on_new_best and callable(validate)):
            return
        seed = self._records[0] if self._records else None
        restarted = [self._by_id[i] for i in self._validation_started if i in self._by_id]
        seen: set[str] = set()
        for target in (seed, *restarted, self._best):
            if target is None or target.id in seen or not target.ok or target.validation:
                continue
            seen.add(target.id)
            if target.id in self._validations:
                continue  # running in the background
            requested_at = self._last_iteration
            if not self.config.background_validation:
                self._validate(validate, target, requested_at)
                continue
            self.db.add_event("validation_start", iteration=requested_at, program_id=target.id)
            self._validation_started.append(target.id)
            thread = threading.Thread(target=self._validate, args=(validate, target, requested_at, True),
                                      name=f"ppol-validate-{target.id}", daemon=True)
            self._validations[target.id] = thread
            thread.start()

    def wait_validations(self) -> None:
        """Block until every background validation has been stored (no-op when none runs)."""
        for program, thread in list(self._validations.items()):
            thread.join()
            self._validations.pop(program, None)

    def _validate(self, validate, best: ProgramRecord, requested_at: int, background: bool = False) -> None:
        snapshot = copy.deepcopy(best)
        timeout = self.config.validation_timeout_s
        outcome = call_with_timeout(lambda: validate(snapshot), timeout, name="validate")
        if not background:
            _reraise_fatal(outcome)
        if outcome.timed_out:
            result: dict = {"error": f"validation timed out after {timeout} s"}
        elif outcome.error is not None:
            result = {"error": f"validate raised {type(outcome.error).__name__}: {outcome.error}"}
        elif not isinstance(outcome.value, dict):
            result = {"error": f"validate returned {type(outcome.value).__name__}, expected dict"}
        else:
            result = dict(outcome.value)
        result["validated_at_iteration"] = requested_at  # when it was asked for: the same in both modes
        spend = (ROLE_VALIDATION, int(result.get("llm_calls", 0) or 0), float(result.get("cost_usd", 0.0) or 0.0))
        self.db.set_validation(best.id, result, [spend])
        best.validation = result  # after the store: a crash in between re-runs it, never loses it
        self.db.add_event("validation", iteration=requested_at, program_id=best.id, score=result.get("score"))

    # ============================================================== stopping
    def _stop_check(self, session_start: float) -> tuple[str | None, str]:
        cfg, last = self.config, self._last_iteration
        if last >= cfg.max_iterations:
            return STOP_MAX_ITERATIONS, f"{last} iterations done (max_iterations={cfg.max_iterations})"
        if cfg.early_stop_patience is not None and last - self._best_iteration >= cfg.early_stop_patience:
            return STOP_EARLY, (
                f"no new best for {last - self._best_iteration} iterations "
                f"(best {self._best.id} from iteration {self._best_iteration})"
            )
        if cfg.max_cost_usd is not None:
            spent = self.db.total_cost()
            if spent >= cfg.max_cost_usd:
                return STOP_COST, f"spent ${spent:.4f} >= max_cost_usd ${cfg.max_cost_usd:.4f}"
        if cfg.max_wall_time_s is not None:
            elapsed = time.monotonic() - session_start
            if elapsed >= cfg.max_wall_time_s:
                return STOP_WALL_TIME, f"{elapsed:.1f} s >= max_wall_time_s {cfg.max_wall_time_s} s"
        return None, ""

    # ================================================================ locking
    @contextlib.contextmanager
    def _run_lock(self) -> Iterator[None]:
        """One writer per run dir: a second engine (or process) on it fails fast."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locking
            yield
            return
        with open(self.run_dir / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise RuntimeError(f"{self.run_dir} is being run by another engine or process") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


# ================================================================== helpers
def _finite(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _float(value: Any) -> float:
    return float(value) if _finite(value) else float("nan")


def _evaluate_as(evaluate, source: str, context: int, pid: str) -> Evaluation:
    return as_evaluation(evaluate(source, context, pid))


def _metric(record: ProgramRecord, key: str) -> float:
    value = record.metrics.get(key)
    return float(value) if _finite(value) else float("nan")


def _eval_spend(outcome: Outcome) -> tuple[int, float]:
    ev = outcome.value if isinstance(outcome.value, Evaluation) else None
    return (int(ev.llm_calls), float(ev.cost_usd)) if ev is not None else (0, 0.0)


def _reraise_fatal(outcome: Outcome) -> None:
    # Exceptions are a failed candidate; KeyboardInterrupt / SystemExit abort the run.
    if outcome.error is not None and not isinstance(outcome.error, Exception):
        raise outcome.error


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
