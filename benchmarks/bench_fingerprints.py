"""Benchmark: fingerprinting throughput on the MultiWOZ 2.1 validation user turns.

Loads the ~7.4k user turns of the 999 validation dialogues straight from the
zip the corpus look-up finds (never copied into the repository), detokenises them once (untimed),
then times :func:`ppol_nb.fitness.fingerprint.fingerprints` over all dialogues,
best of ``--repeats``. The target is ≥ 28,000 user turns/s on the 2-core dev
machine. Prints the result and writes ``benchmarks/results/fingerprints.json``.

    .venv/bin/python benchmarks/bench_fingerprints.py [--zip PATH] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ppol_nb.fitness.fingerprint import FEATURE_VERSION, FEATURES, fingerprints  # noqa: E402
from ppol_nb.humans.paths import find_corpus_file  # noqa: E402
from ppol_nb.humans.text import detokenize  # noqa: E402
from ppol_nb.provenance import provenance  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "fingerprints.json"
TARGET_TURNS_PER_S = 28_000


def multiwoz_user_turns(path: Path) -> list[list[str]]:
    """Detokenised user turns per dialogue: even positions of each ``log`` (user first)."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".json"))
        data = json.loads(archive.read(name))
    return [[detokenize(entry["text"]) for entry in d["log"][::2]] for d in data.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, help="MultiWOZ val.json.zip (default: the corpus look-up order)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    dialogues = multiwoz_user_turns(find_corpus_file("multiwoz", args.zip))
    n_turns = sum(map(len, dialogues))
    fingerprints([["warm up: compile the lexicons"]])  # compile cost is not throughput

    times = []
    for _ in range(args.repeats):
        gc.collect()
        start = time.perf_counter()
        values = fingerprints(dialogues)
        times.append(time.perf_counter() - start)
    best = min(times)

    row = {
        "corpus": "MultiWOZ 2.1 validation (user turns, detokenised)",
        "dialogues": len(dialogues),
        "user_turns": n_turns,
        "repeats": args.repeats,
        "seconds_best": round(best, 4),
        "seconds_all": [round(t, 4) for t in times],
        "turns_per_s": round(n_turns / best),
        "dialogues_per_s": round(len(dialogues) / best),
        "target_turns_per_s": TARGET_TURNS_PER_S,
        "meets_target": n_turns / best >= TARGET_TURNS_PER_S,
        "feature_version": FEATURE_VERSION,
        # A sanity anchor: a change here without a FEATURE_VERSION bump is a bug.
        "feature_means": {name: round(float(v), 6) for name, v in zip(FEATURES, values.mean(axis=0))},
    }
    print(f"{n_turns} user turns in {len(dialogues)} dialogues; best of {args.repeats}: {best:.3f} s")
    print(f"  {row['turns_per_s']:,} turns/s   {row['dialogues_per_s']:,} dialogues/s   "
          f"(target {TARGET_TURNS_PER_S:,} turns/s: {'met' if row['meets_target'] else 'NOT met'})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(provenance({"benchmark": "bench_fingerprints", "results": [row]}), indent=2))
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
