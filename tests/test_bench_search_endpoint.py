"""The search benchmark's critical path and in-flight measure on hand-made records (fast, no server)."""

from __future__ import annotations

import json

import pytest

from benchmarks.search_critical_path import (
    Chain,
    Round,
    critical_path,
    generation_depth,
    in_flight,
    rounds_from_run,
)
from ppol_nb.evolution.database import FILENAME, RunDatabase
from ppol_nb.evolution.interfaces import ProgramRecord, Proposal


def _episodes(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_critical_path_sums_round_maxima_and_validation_policy():
    rounds = [
        Round([0], chains={0: Chain(generation=2, episode=6, reflection=1)}, validation=5),
        Round([1, 2], pair_incumbent=9, chains={1: Chain(mutator=1, generation=2, episode=4, reflection=1),
                                                 2: Chain(mutator=1, generation=3, episode=8, reflection=1,
                                                          confirm=10)}, validation=4),
        Round([3, 4], pair_incumbent=20, chains={3: Chain(mutator=1, episode=2)}),
    ]
    sync = critical_path(rounds, latency_s=0.5)
    # round 0: 9 + 5; round 1: max(23, 9) + 4; round 2: max(3, 20) + 0
    assert sync["round_depths"] == [14, 27, 20]
    assert sync["critical_path_s"] == pytest.approx(0.5 * 61)
    # async: validation overlaps the next rounds, but the run ends after the last one finishes
    asyn = critical_path(rounds, 2.0, validation="async")
    assert asyn["round_depths"] == [9, 23, 20] and asyn["requests_deep"] == 52
    long_first = [Round([0], chains={0: Chain(episode=5)}, validation=80)] + rounds[1:]
    # the seed's 80-deep validation outlasts the two later rounds: 5 + 80
    assert critical_path(long_first, 1.0, validation="async")["requests_deep"] == 85
    # no speculation: the incumbent's re-evaluation follows the candidates
    assert critical_path(rounds, 1.0, pairing="after")["round_depths"] == [14, 36, 23]
    with pytest.raises(ValueError):
        critical_path(rounds, 1.0, validation="later")
    with pytest.raises(ValueError):
        critical_path(rounds, 1.0, pairing="sometimes")


def test_in_flight_is_time_weighted_over_the_span():
    got = in_flight([(0.0, 2.0), (1.0, 3.0), (1.0, 2.0), (3.0, 4.0)])
    # levels: 1 on [0,1), 3 on [1,2), 1 on [2,3), 1 on [3,4) -> area 6 over span 4
    assert got["max"] == 3 and got["mean"] == pytest.approx(1.5) and got["span_s"] == 4.0
    assert in_flight([])["max"] == 0


def test_rounds_from_a_hand_made_run(tmp_path):
    db = RunDatabase(tmp_path / FILENAME)
    art = {"evaluator_reflection": "ok", "reflection_source": "llm"}
    # seed: 2 tasks x (3 generation calls) + episodes 6 + 4, + 1 reflection = 17
    seed = ProgramRecord(id="p0", source="s", parent_id=None, island=0, iteration=0, generation=0,
                         artifacts=art, llm_calls=17)
    # child: mutator 2 + generation 2 (one task) + episode 8 + reflection 1 = 13
    child = ProgramRecord(id="p1", source="s2", parent_id="p0", island=0, iteration=1, generation=1,
                          artifacts=art, llm_calls=13, validation={"llm_calls": 3 + 4 + 5, "by_n": {"5": {}, "8": {}}})
    db.add_event("round_start", iteration=0, iterations=[0])
    db.add_program(seed)
    db.add_event("round_start", iteration=1, iterations=[1], incumbent="p0")
    db.add_proposal(1, "p0", 0, [], Proposal(source="s2", diff="d", kind="diff", llm_calls=2))
    db.add_program(child)
    row = {"program_id": "p0", "context": 1, "iteration": 1, "purpose": "pair", "score": 0.5, "metrics": {},
           "minibatch": {}, "error": None, "llm_calls": 7, "cost_usd": 0.0, "duration_s": 0.0, "created_at": 0.0}
    db.add_fitness_eval(row)  # cached personas: episodes only
    db.add_fitness_eval({**row, "program_id": "p1", "context": 2, "purpose": "confirm", "llm_calls": 3 + 5})
    db.add_event("validation_start", iteration=1, program_id="p1")
    db.close()
    ep = tmp_path / "episodes"
    _episodes(ep / "p0" / "episodes.jsonl", [{"task_id": "a", "llm_calls": 6}, {"task_id": "b", "llm_calls": 4}])
    _episodes(ep / "p1" / "episodes.jsonl", [{"task_id": "a", "llm_calls": 8}])
    _episodes(ep / "p0" / "context-00001" / "episodes.jsonl", [{"task_id": "a", "llm_calls": 7}])
    _episodes(ep / "p1" / "context-00002" / "episodes.jsonl", [{"task_id": "c", "llm_calls": 5}])
    _episodes(tmp_path / "validation" / "p1" / "episodes.jsonl",
              [{"task_id": "v", "llm_calls": 4}, {"task_id": "w", "llm_calls": 5}])

    rounds = rounds_from_run(tmp_path)
    assert [r.iterations for r in rounds] == [[0], [1]]
    # seed: 3 calls per task = one population call, then 2 expansions side by side -> 2 deep
    assert vars(rounds[0].chains[0]) == {"mutator": 0, "generation": 2, "episode": 6, "reflection": 1, "confirm": 0}
    # confirm: 3 generation calls (one task) -> 2 deep, + deepest episode 5
    assert vars(rounds[1].chains[1]) == {"mutator": 2, "generation": 2, "episode": 8, "reflection": 1,
                                         "confirm": 2 + 5}
    # validation: 3 generation calls over 2 tasks -> 2 per task, the deepest N's share (N 5 and 8 at
    # once) round(2 * 9 / 15) = 1 call -> 1 deep, + deepest episode 5
    assert rounds[1].pair_incumbent == 7 and rounds[1].validation == 1 + 5
    assert critical_path(rounds, 1.0)["round_depths"] == [9, 20 + 6]


def test_generation_depth_is_one_population_call_then_expansions_eight_at_a_time():
    # the seed program: one population call, then N expansions on 8 threads (toolkit.expand_all,
    # and the sandbox's pool of 8 concurrent LLM calls)
    assert [generation_depth(k) for k in (0, 1, 2, 6, 9, 10, 11, 17, 18)] == [0, 1, 2, 2, 2, 3, 3, 3, 4]
