"""Cost of scoring one evolution minibatch (50 episodes) vs simulating it, in one run.

A fitness call in the search runs 5 tasks x 10 personas = 50 episodes, then scores
them: fingerprints -> discriminator P(human) -> Chamfer coverage per task -> M.
This measures the scoring part end to end (from episode records, excluding
simulation) and the offline simulation of the same 50 episodes, and reports the
ratio. With an LLM backend simulation is orders of magnitude slower still.

    python benchmarks/bench_scoring.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from ppol_nb.fitness import FEATURES, fingerprint_frame
from ppol_nb.studies.baseline import BaselineStudy
from ppol_nb.fitness.score import lambda_schedule
from ppol_nb.provenance import provenance
from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.runner import EpisodeSpec, run_episode
from ppol_nb.simulation.tau2_bridge import load_tasks

RESULTS = Path(__file__).parent / "results"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        study = BaselineStudy(OfflineBackend(), domains=("retail",), run_dir=tmp, progress=False).run()
    model = study.results["retail"].model
    backend = OfflineBackend()
    tasks = [t.id for t in load_tasks("retail", "train")[:5]]
    specs = [EpisodeSpec("retail", t, seed=s) for t in tasks for s in range(10)]
    run_episode(specs[0], backend)  # warm-up
    t0 = time.perf_counter()
    episodes = [run_episode(s, backend) for s in specs]
    t_sim = time.perf_counter() - t0

    timings = []
    for _ in range(5):
        t0 = time.perf_counter()
        fp = fingerprint_frame(episodes)
        m = model.fitness(fp[list(FEATURES)], fp["task_id"], lambdas=lambda_schedule(10))
        timings.append(time.perf_counter() - t0)
    t_score = min(timings)
    row = {"episodes": len(episodes), "tasks": len(tasks), "scoring_s": round(t_score, 4),
           "offline_simulation_s": round(t_sim, 3), "scoring_share_of_offline_step": round(t_score / (t_score + t_sim), 4),
           "fitness_M": round(m, 4)}
    print(f"minibatch of {len(episodes)} episodes: scoring {t_score * 1000:.1f} ms (best of 5) vs offline "
          f"simulation {t_sim:.2f} s -> scoring is {row['scoring_share_of_offline_step']:.1%} of the step")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scoring.json").write_text(json.dumps(provenance({"benchmark": "bench_scoring", **row}), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
