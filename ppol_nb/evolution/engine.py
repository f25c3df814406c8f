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
* **Migration** runs right after iteration t enters the archive when
  ``t % migration_interval == 0`` (ring, top fraction; see :mod:`.archive`).
* **Stopping** is checked between rounds: ``max_iterations``, early stop (no
  strictly better best for ``early_stop_patience`` iterations), ``max_cost_usd``
  (ledger total), ``max_wall_time_s`` (this session), in that order. A round in
  flight always finishes, so no paid-for evaluation is thrown away; a budget can
  therefore be overshot by at most one round.
* **Resume** rebuilds the archive by replaying the stored programs in iteration
  order (the archive is a deterministic function of them). If the process died
  mid-round, that round's finished candidates are kept, its missing ones are
  re-decided from the same round-start state with the same RNG (same parents),
  stored proposals are re-used, and nothing finished is evaluated again. The
  resumed run's history therefore equals the uninterrupted run's.

Timeouts never hang the loop: see :mod:`.workers`. No asyncio is used, so
``run()`` and ``iterate()`` work inside a live Jupyter kernel.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import numbers
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from .. import __version__
from .archive import Archive
from .config import BUDGET_FIELDS, EvolutionConfig
from .database import FILENAME, RunDatabase
from .interfaces import (
    ROLE_EVALUATOR,
    ROLE_VALIDATION,
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


class SeedProgramError(RuntimeError):
    """The seed program failed to evaluate; the search has nothing to start from."""


@dataclass(frozen=True)
class _Decision:
    iteration: int
    island: int
    parent: ProgramRecord
    inspirations: list[ProgramRecord]


class EvolutionEngine:
    """Evolve ``seed_program`` with ``mutator`` under ``evaluator``'s fitness.

    Parameters
    ----------
    config : EvolutionConfig
    evaluator : object with ``evaluate(source, iteration, program_id)`` and
        optionally ``validate(record) -> dict``.
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
        self.config = config
        self.evaluator = evaluator
        self.mutator = mutator
        self.run_dir = Path(run_dir)
        self.seed_program = seed_program
        self.stop_reason: str | None = None
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
        stored = EvolutionConfig.from_dict(self.db.get_meta("config"))
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
            cfg.islands, cfg.feature_bins, cfg.island_capacity, cfg.feature_keys, cfg.migrants_per_island
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

    def load_state(self) -> None:
        """Rebuild islands, archives, best and any unfinished round from the database."""
        self._reset_state()
        records = self.db.programs()
        if not records:
            return
        done = {r.iteration for r in records}
        cut = math.inf
        rounds = self.db.events("round_start")
        if rounds:
            last_round = rounds[-1]["iterations"]
            if not set(last_round) <= done:
                self._pending_round = list(last_round)
                cut = min(last_round)
        expected = 0
        for record in records:
            if record.iteration >= cut:
                self._pending_records[record.iteration] = record
                self._by_id[record.id] = record
                continue
            if record.iteration != expected:
                raise RuntimeError(
                    f"{self.db.path}: iteration {expected} is missing but {record.iteration} is stored; "
                    "the run database is inconsistent"
                )
            self._apply(record)
            expected += 1
        if records[0].iteration == 0 and records[0].source != self.seed_program:
            raise ValueError(f"cannot resume {self.run_dir}: seed_program differs from the stored run's")
        if self._best is not None:  # the process may have died before refreshing it
            _atomic_write(self.run_dir / BEST_PROGRAM_FILE, self._best.source)

    # ============================================================ public API
    def run(self, progress: bool = True) -> RunSummary:
        """Run until a stop condition holds; returns the summary. Safe to call again."""
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.config.max_iterations, initial=max(self._last_iteration, 0), desc="evolution")
        try:
            for step in self.iterate():
                if bar is not None and step.iteration > 0:
                    bar.update(step.iteration - bar.n)
                    best = step.best.score if step.best is not None else float("nan")
                    bar.set_postfix(best=f"{best:.4f}", cost=f"${step.total_cost_usd:.3f}")
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
                            self.stop_reason = reason
                            self.db.add_event("stop", iteration=self._last_iteration, reason=reason, detail=detail)
                            log.info("evolution stopped: %s (%s)", reason, detail)
                            return
                        self._start_round()
                    self._finish_round()
                    steps = [self._apply_live(self._pending_records[t]) for t in self._pending_round]
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
        """Best program by training ``"score"`` or by ``"validation"`` score (ties: earliest)."""
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
        """``feature_bins x feature_bins`` elite scores (rows: first feature key); NaN = empty.

        ``island=None`` gives the cell-wise best over all islands.
        """
        return self.archive.score_grid(island)

    def history(self):
        """One row per program: the search trajectory as a pandas DataFrame."""
        import pandas as pd

        fa, fb = self.config.feature_keys
        rows, best = [], -math.inf
        for r in self._records:
            new_best = r.id in self._new_best_ids
            if new_best:
                best = r.score
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
                }
            )
        return pd.DataFrame(rows)

    def events(self, kind: str | None = None) -> list[dict]:
        return self.db.events(kind)

    def ledger(self):
        """Spend per (iteration, program, role) as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.db.ledger_rows())

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ========================================================= archive state
    def _apply(self, record: ProgramRecord) -> tuple[bool, list[dict]]:
        """Enter a finished program into the archive (shared by live runs and replay)."""
        self._records.append(record)
        self._by_id[record.id] = record
        self._known_sources.setdefault(source_hash(record.source), record.id)
        islands = range(len(self.archive)) if record.iteration == 0 else [record.island]
        self.archive.add(record, islands)
        new_best = record.ok and (self._best is None or record.score > self._best.score)
        if new_best:
            self._best, self._best_iteration = record, record.iteration
            self._new_best_ids.add(record.id)
        self._last_iteration = record.iteration
        migrations: list[dict] = []
        if record.iteration > 0 and record.iteration % self.config.migration_interval == 0:
            migrations = self.archive.migrate()
        return new_best, migrations

    def _apply_live(self, record: ProgramRecord) -> Step:
        new_best, migrations = self._apply(record)
        it = record.iteration
        self.db.add_event(
            "iteration_end",
            iteration=it,
            program_id=record.id,
            island=record.island,
            score=record.score,
            error=record.error,
        )
        if new_best:
            self.db.add_event("new_best", iteration=it, program_id=record.id, score=record.score)
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
        return self._apply_live(record)  # a failed seed is reported by the caller

    # ================================================================ rounds
    def _start_round(self) -> None:
        first = self._last_iteration + 1
        last = min(self._last_iteration + self.config.parallel_evaluations, self.config.max_iterations)
        self._pending_round = list(range(first, last + 1))
        self._pending_records = {}
        self.db.add_event("round_start", iteration=first, iterations=self._pending_round)

    def _decide(self, iteration: int) -> _Decision:
        cfg = self.config
        island = self.archive[(iteration - 1) % cfg.islands]
        rng = derive_rng(cfg.seed, iteration, STREAM_SELECT)
        parent = island.sample_parent(rng, cfg.elite_selection_ratio, cfg.tournament_size)
        return _Decision(iteration, island.index, parent, island.top(cfg.num_inspirations, exclude=parent.id))

    def _finish_round(self) -> None:
        """Propose and evaluate the round's missing candidates; commit each as it ends."""
        todo = [t for t in self._pending_round if t not in self._pending_records]
        if not todo:
            return
        cfg = self.config
        decisions = {t: self._decide(t) for t in todo}
        runner = DeadlineRunner()
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

        while len(runner):
            outcome = runner.next()
            _reraise_fatal(outcome)
            phase, t = outcome.key
            d = decisions[t]
            if phase == "propose":
                if outcome.error is not None or outcome.timed_out:
                    self._commit(self._mutation_failure(d, outcome))
                    continue
                proposal = outcome.value
                proposals[t] = proposal
                self.db.add_proposal(t, d.parent.id, d.island, [r.id for r in d.inspirations], proposal)
                self._submit_evaluation(runner, d, proposal)
            else:
                proposal = proposals[t]
                pid = program_id(cfg.seed, t, proposal.source)
                record = self._record(t, d.island, d.parent, d.inspirations, proposal, pid, outcome)
                self._commit(record, [(ROLE_EVALUATOR, *_eval_spend(outcome))])

    def _propose_fn(self, d: _Decision):
        rng = derive_rng(self.config.seed, d.iteration, STREAM_MUTATE)

        # Copies: the mutator runs in a worker thread and must not be able to edit the archive.
        parent, inspirations = copy.deepcopy(d.parent), copy.deepcopy(list(d.inspirations))

        def propose() -> Proposal:
            proposal = as_proposal(self.mutator.propose(parent, inspirations, rng, d.iteration))
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
        evaluation = outcome.value if isinstance(outcome.value, Evaluation) else Evaluation()
        if outcome.timed_out:
            error = f"evaluation timed out after {self.config.eval_timeout_s} s"
        elif outcome.error is not None:
            error = f"evaluator raised {type(outcome.error).__name__}: {outcome.error}"
        else:
            error = evaluation.error
        metrics = {k: (float(v) if isinstance(v, numbers.Real) else v) for k, v in evaluation.metrics.items()}
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
        """PPol validates the elite on a held-out slice whenever it changes."""
        validate = getattr(self.evaluator, "validate", None)
        best = self._best
        if not (self.config.validate_on_new_best and callable(validate)) or best is None or best.validation:
            return
        snapshot = copy.deepcopy(best)
        outcome = call_with_timeout(lambda: validate(snapshot), self.config.eval_timeout_s, name="validate")
        _reraise_fatal(outcome)
        if outcome.timed_out:
            result: dict = {"error": f"validation timed out after {self.config.eval_timeout_s} s"}
        elif outcome.error is not None:
            result = {"error": f"validate raised {type(outcome.error).__name__}: {outcome.error}"}
        elif not isinstance(outcome.value, dict):
            result = {"error": f"validate returned {type(outcome.value).__name__}, expected dict"}
        else:
            result = dict(outcome.value)
        result["validated_at_iteration"] = self._last_iteration
        spend = (ROLE_VALIDATION, int(result.get("llm_calls", 0) or 0), float(result.get("cost_usd", 0.0) or 0.0))
        best.validation = result
        self.db.set_validation(best.id, result, [spend])
        self.db.add_event("validation", iteration=self._last_iteration, program_id=best.id, score=result.get("score"))

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
