"""Island populations, each with a MAP-Elites grid, and ring migration.

An island holds *references* to program records: its members (the population)
and, for each occupied cell of a ``bins x bins`` grid over two behaviour
coordinates, the member with the highest score (its elite). The same record may
sit on several islands after migration.

"Score" below is :attr:`ProgramRecord.selection_score`: the engine's rating on
the run's common scale (:mod:`.comparison`), never a raw minibatch score from
another iteration's tasks, N or λ. Records without a rating (tests, tools) rank
by their raw score.

Rules (all deterministic given the order of insertions):

* Only successful programs enter (``record.ok``); failed ones stay in the run's
  lineage but are never members or elites.
* A cell's incumbent is replaced only by a *strictly* higher score; the loser
  stays a member until capacity evicts it.
* Capacity: when an island has more members than ``capacity``, the lowest
  scoring non-elite (oldest first on ties) is evicted, repeatedly. Elites are
  never evicted, so an island can exceed capacity only if more cells are
  occupied than it has room for.
* Parent sampling: with probability ``elite_ratio`` uniformly among the grid
  elites; otherwise a tournament of ``tournament_size`` members drawn without
  replacement, highest score wins. A tournament (not fitness-proportional
  roulette) because PPol's scores are noisy, can be 0, and have no fixed scale:
  tournament pressure depends only on ranks.
* Inspirations: the island's top-k members by score, parent excluded.
* Without the grid (``grid=False``, the plain elitist ablation) no program is
  an elite: capacity keeps the island's best ``capacity`` programs and every
  parent comes from a tournament (the coin is still drawn, so the RNG stream
  is the same as with the grid).
* Migration (ring): every island sends its top ``migrants`` members, chosen on
  the state before any island receives, to island ``(i + 1) % n``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

import numpy as np

from .interfaces import ProgramRecord

Cell = tuple[int, int]


def _rank_key(record: ProgramRecord) -> tuple[float, int, str]:
    """Sort key for "best first": higher score, then older, then id."""
    return (-record.selection_score, record.iteration, record.id)


def _age_key(record: ProgramRecord) -> tuple[int, str]:
    return (record.iteration, record.id)


class Island:
    """One sub-population with its MAP-Elites grid."""

    def __init__(self, index: int, bins: int, capacity: int, feature_keys: tuple[str, str],
                 grid: bool = True) -> None:
        self.index = index
        self.use_grid = grid
        self.bins = bins
        self.capacity = capacity
        self.feature_keys = feature_keys
        self._members: dict[str, ProgramRecord] = {}  # insertion-ordered
        self._grid: dict[Cell, str] = {}

    # ------------------------------------------------------------- inspection
    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, program_id: str) -> bool:
        return program_id in self._members

    @property
    def members(self) -> list[ProgramRecord]:
        """Members, oldest first."""
        return sorted(self._members.values(), key=_age_key)

    @property
    def elites(self) -> list[ProgramRecord]:
        """Grid elites, oldest first."""
        return sorted((self._members[pid] for pid in self._grid.values()), key=_age_key)

    @property
    def grid(self) -> dict[Cell, ProgramRecord]:
        return {cell: self._members[pid] for cell, pid in self._grid.items()}

    def best(self) -> ProgramRecord | None:
        return min(self._members.values(), key=_rank_key, default=None)

    def top(self, k: int, exclude: str | None = None) -> list[ProgramRecord]:
        ranked = sorted((r for r in self._members.values() if r.id != exclude), key=_rank_key)
        return ranked[: max(0, k)]

    def cell_of(self, record: ProgramRecord) -> Cell:
        """Grid cell of a record: each coordinate clipped to [0, 1], then binned."""
        return tuple(self._bin(record.metrics.get(key, 0.0)) for key in self.feature_keys)  # type: ignore[return-value]

    def _bin(self, value: float) -> int:
        x = float(value)
        x = 0.0 if not np.isfinite(x) else min(1.0, max(0.0, x))
        return min(int(x * self.bins), self.bins - 1)

    def score_grid(self) -> np.ndarray:
        """``bins x bins`` array of elite selection scores (rows: first feature, cols: second); NaN = empty."""
        out = np.full((self.bins, self.bins), np.nan)
        for (i, j), pid in self._grid.items():
            out[i, j] = self._members[pid].selection_score
        return out

    # ---------------------------------------------------------------- updates
    def add(self, record: ProgramRecord) -> bool:
        """Insert a successful program; returns True if it became its cell's elite."""
        if not record.ok or record.id in self._members:
            return False
        self._members[record.id] = record
        if not self.use_grid:
            self._trim()
            return False
        cell = self.cell_of(record)
        incumbent = self._grid.get(cell)
        is_elite = incumbent is None or record.selection_score > self._members[incumbent].selection_score
        if is_elite:
            self._grid[cell] = record.id
        self._trim()
        return is_elite

    def _trim(self) -> None:
        elite_ids = set(self._grid.values())
        while len(self._members) > self.capacity:
            evictable = [r for r in self._members.values() if r.id not in elite_ids]
            if not evictable:
                return
            worst = min(evictable, key=lambda r: (r.selection_score, r.iteration, r.id))
            del self._members[worst.id]

    # --------------------------------------------------------------- sampling
    def sample_parent(self, rng: random.Random, elite_ratio: float, tournament_size: int) -> ProgramRecord:
        if not self._members:
            raise RuntimeError(f"island {self.index} is empty; cannot sample a parent")
        # Always draw the coin so the number of draws does not depend on the state.
        use_elite = rng.random() < elite_ratio
        elites = self.elites
        if use_elite and elites:
            return rng.choice(elites)
        pool = self.members
        contestants = rng.sample(pool, min(tournament_size, len(pool)))
        return min(contestants, key=_rank_key)


class Archive:
    """All islands of a run plus the migration rule."""

    def __init__(
        self,
        n_islands: int,
        bins: int,
        capacity: int,
        feature_keys: tuple[str, str],
        migrants: Callable[[int], int],
        grid: bool = True,
    ) -> None:
        self.islands = [Island(i, bins, capacity, feature_keys, grid) for i in range(n_islands)]
        self._migrants = migrants  # population size -> number of migrants

    def __getitem__(self, index: int) -> Island:
        return self.islands[index]

    def __len__(self) -> int:
        return len(self.islands)

    def add(self, record: ProgramRecord, islands: Iterable[int]) -> None:
        for i in islands:
            self.islands[i].add(record)

    def migrate(self) -> list[dict]:
        """Ring migration; returns one ``{src, dst, program_ids}`` dict per island pair."""
        n = len(self.islands)
        if n < 2:
            return []
        # Choose every island's migrants before any island receives, so the result
        # does not depend on the order islands are processed in.
        plans = [(i, (i + 1) % n, island.top(self._migrants(len(island)))) for i, island in enumerate(self.islands)]
        moves = []
        for src, dst, migrants in plans:
            moved = [r.id for r in migrants if r.id not in self.islands[dst]]
            for record in migrants:
                self.islands[dst].add(record)
            moves.append({"src": src, "dst": dst, "program_ids": moved})
        return moves

    def score_grid(self, island: int | None = None) -> np.ndarray:
        """One island's elite-score grid, or the cell-wise max over islands."""
        if island is not None:
            return self.islands[island].score_grid()
        grids = np.stack([isl.score_grid() for isl in self.islands])
        with np.errstate(invalid="ignore"):
            all_empty = np.all(np.isnan(grids), axis=0)
            out = np.where(all_empty, np.nan, np.nanmax(np.where(np.isnan(grids), -np.inf, grids), axis=0))
        return out

    def membership(self) -> dict[int, list[str]]:
        return {isl.index: [r.id for r in isl.members] for isl in self.islands}
