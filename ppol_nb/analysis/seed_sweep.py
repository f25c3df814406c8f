"""Across search seeds: does the search gain reliably, and through which edits?

The paper reports one search per setting (§5.1 Tables 3/4). A researcher
choosing PPol needs to know whether the gain survives another search seed, so
this study reads several finished runs of one domain — each an
``ppol-nb evolve`` directory with its ``ppol-nb benchmark`` table — and says, per
run:

* how the held-out benchmark rates PPol: Initial and PPol: Evolved (score, HL,
  coverage, τ² success);
* which kinds of edit the search accepted (:func:`~ppol_nb.evolution.program_edit.edit_kind`
  of every new best against its parent: ``text`` — only string literals such as
  playbook sentences and prompts — or ``structure``), and which of them lie on
  the lineage of the final program (the best by validation score, PPol's rule).

:func:`summarise` turns the per-run table into one row per domain: the gain of
Evolved over Initial, its spread across seeds and whether it exceeds that spread.
Nothing is re-run; only the run databases and benchmark CSVs are read.

    from ppol_nb.analysis.seed_sweep import sweep_table, summarise
    runs = sweep_table({("retail", 42): ("runs/retail-s42", "runs/retail-s42-bench/table.csv"), ...})
    summarise(runs)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from ..evolution.database import RunDatabase
from ..evolution.program_edit import edit_kind

BENCHMARK_ROWS = {"PPol: Initial": "initial", "PPol: Evolved": "evolved", "Base-simulator": "base",
                  "DP Personas": "dp", "Humans": "humans"}
METRICS = ("score", "hl", "coverage", "success_rate")


def run_row(run_dir: str | Path, benchmark_csv: str | Path | None = None) -> dict:
    """One run: iterations, stop reason, accepted edit kinds, the final program's lineage, benchmark rows."""
    db = RunDatabase(Path(run_dir) / "evolution.sqlite")
    try:
        programs = {p.id: p for p in db.programs()}
        new_bests = [e["program_id"] for e in db.events("new_best") if e.get("program_id") in programs]
        stops = [e.get("reason") for e in db.events("stop")]
    finally:
        db.close()
    kinds = {pid: edit_kind(programs[programs[pid].parent_id].source, programs[pid].source)
             for pid in new_bests if programs[pid].parent_id}
    validated = [p for p in programs.values() if (p.validation or {}).get("score") is not None]
    final = max(validated, key=lambda p: (p.validation["score"], -p.iteration), default=None)
    lineage, current = [], final.id if final else None
    while current:
        lineage.append(programs[current])
        current = programs[current].parent_id
    accepted = [kinds[p.id] for p in reversed(lineage) if p.id in kinds]
    row = {"iterations": max(p.iteration for p in programs.values()), "stop": stops[-1] if stops else None,
           "new_bests": len(kinds), **{f"new_best_{k}": n for k, n in Counter(kinds.values()).items()},
           "final_program": final.id if final else None,
           "final_is_seed": bool(final is not None and final.parent_id is None),
           "accepted_on_lineage": accepted, "text_edits_on_lineage": accepted.count("text")}
    if benchmark_csv is not None and Path(benchmark_csv).exists():
        table = pd.read_csv(benchmark_csv).set_index("condition")
        for condition, key in BENCHMARK_ROWS.items():
            if condition in table.index:
                row.update({f"{key}_{m}": table.loc[condition, m] for m in METRICS})
    return row


def sweep_table(runs: dict) -> pd.DataFrame:
    """``{(domain, seed): (run_dir, benchmark_csv)}`` -> one row per run."""
    return pd.DataFrame([{"domain": d, "seed": s, **run_row(*paths)} for (d, s), paths in sorted(runs.items())])


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per domain: Initial and Evolved (mean, sd over seeds), the gain and whether it exceeds the spread.

    ``gain_exceeds_sd`` compares the mean gain with the larger of the two
    conditions' sd across seeds (sample sd, ddof = 1)."""
    rows = []
    for domain, g in table.dropna(subset=["evolved_score", "initial_score"]).groupby("domain"):
        sd = max(g.initial_score.std(ddof=1), g.evolved_score.std(ddof=1))
        gain = (g.evolved_score - g.initial_score).mean()
        rows.append({"domain": domain, "runs": len(g),
                     "initial_score": g.initial_score.mean(), "initial_sd": g.initial_score.std(ddof=1),
                     "evolved_score": g.evolved_score.mean(), "evolved_sd": g.evolved_score.std(ddof=1),
                     "gain": gain, "gain_exceeds_sd": bool(gain > sd),
                     "coverage_up_in": int((g.evolved_coverage > g.initial_coverage).sum()),
                     "text_edit_on_lineage_in": int((g.text_edits_on_lineage > 0).sum()),
                     "initial_success": g.initial_success_rate.mean(),
                     "evolved_success": g.evolved_success_rate.mean()})
    return pd.DataFrame(rows)
