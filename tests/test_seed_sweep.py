"""The seed-sweep study reads finished runs: accepted edit kinds, the final program's lineage, the gain."""

from __future__ import annotations

import pandas as pd

from ppol_nb.evolution.database import RunDatabase
from ppol_nb.evolution.interfaces import ProgramRecord
from ppol_nb.analysis.seed_sweep import run_row, summarise

SEED = 'AXES = ["terse"]\n\ndef f():\n    return "be brief"\n'
TEXT = 'AXES = ["terse"]\n\ndef f():\n    return "be very brief, lowercase"\n'
STRUCTURE = 'AXES = ["terse", "typos"]\n\ndef f():\n    return "be very brief, lowercase"\n'


def _run(tmp_path, name, final_validation):
    db = RunDatabase(tmp_path / name / "evolution.sqlite")
    chain = [("p0", SEED, None, 0.2), ("p1", TEXT, "p0", 0.3), ("p2", STRUCTURE, "p1", final_validation)]
    for i, (pid, source, parent, validation) in enumerate(chain):
        db.add_program(ProgramRecord(id=pid, source=source, parent_id=parent, island=0, iteration=i, generation=i))
        db.set_validation(pid, {"score": validation})
        if parent is not None:
            db.add_event("new_best", iteration=i, program_id=pid)
    db.add_event("stop", iteration=2, reason="max_iterations")
    db.close()
    bench = tmp_path / f"{name}.csv"
    pd.DataFrame([{"condition": "PPol: Initial", "score": 0.2, "hl": 0.3, "coverage": 0.05, "success_rate": 0.9},
                  {"condition": "PPol: Evolved", "score": 0.2 + final_validation, "hl": 0.8, "coverage": 0.3,
                   "success_rate": 0.7}]).to_csv(bench, index=False)
    return tmp_path / name, bench


def test_run_row_reads_edit_kinds_and_the_final_lineage(tmp_path):
    row = run_row(*_run(tmp_path, "a", 0.4))
    assert row["final_program"] == "p2" and not row["final_is_seed"]
    assert row["accepted_on_lineage"] == ["text", "structure"] and row["text_edits_on_lineage"] == 1
    assert row["new_best_text"] == 1 and row["new_best_structure"] == 1 and row["stop"] == "max_iterations"
    assert row["evolved_score"] > row["initial_score"]


def test_a_final_program_below_its_parent_ends_the_lineage_earlier(tmp_path):
    row = run_row(*_run(tmp_path, "b", 0.25))  # p2 validates below p1: PPol's rule picks p1
    assert row["final_program"] == "p1" and row["accepted_on_lineage"] == ["text"]


def test_summarise_says_whether_the_gain_exceeds_the_spread(tmp_path):
    rows = [{"domain": "retail", "seed": s, **run_row(*_run(tmp_path, f"r{s}", v))} for s, v in enumerate((0.4, 0.42))]
    summary = summarise(pd.DataFrame(rows)).iloc[0]
    assert summary.runs == 2 and summary.gain_exceeds_sd and summary.coverage_up_in == 2
    noisy = [{"domain": "retail", "seed": s, **run_row(*_run(tmp_path, f"n{s}", v))} for s, v in enumerate((0.0, 0.6))]
    assert not summarise(pd.DataFrame(noisy)).iloc[0].gain_exceeds_sd
