"""Benchmark: the persona reader with and without its per-sentence memo.

A search reads every generated persona once, and generated personas are built from
few distinct sentences (the seed program's playbooks and axis library), so
:func:`ppol_nb.offline.reader._construct_spans` memoises construct matching per
sentence. This benchmark generates the seed program's personas offline for every
train task of a domain (untimed), then reads all of them twice in one run:

* ``per text``: the sentence memo cleared before every text (no reuse across texts,
  as before the memo existed);
* ``shared``: the memo cleared once, then kept across texts (as a search reads them).

Both must give identical readings; prints the ratio and writes
``benchmarks/results/reader.json``.

    .venv/bin/python benchmarks/bench_reader.py [--domain retail] [--n-personas 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ppol_nb.backends import make_backend  # noqa: E402
from ppol_nb.offline import reader  # noqa: E402
from ppol_nb.personas.conditions import condition_specs  # noqa: E402
from ppol_nb.provenance import provenance  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "reader.json"


def persona_texts(domain: str, n_personas: int) -> list[str]:
    backend = make_backend("offline")
    with tempfile.TemporaryDirectory() as tmp:
        specs, _ = condition_specs("seed", domain, split="train", n_personas=n_personas,
                                   world=backend.generator(seed=0), cache_dir=Path(tmp) / "personas")
    return [s.persona["instruction"] for s in specs if s.persona]


def read_all(texts: list[str], per_text: bool) -> tuple[float, list]:
    reader._construct_spans.cache_clear()
    gc.collect()
    start = time.perf_counter()
    out = []
    for text in texts:
        if per_text:
            reader._construct_spans.cache_clear()
        out.append(reader._read_uncached(text).levels)
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="retail")
    parser.add_argument("--n-personas", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    texts = persona_texts(args.domain, args.n_personas)
    sentences = [s for t in texts for s in reader.sentences(reader.normalise(t))]
    cold, warm = [], []
    for _ in range(args.repeats):
        t_cold, levels_cold = read_all(texts, per_text=True)
        t_warm, levels_warm = read_all(texts, per_text=False)
        if levels_cold != levels_warm:
            print("readings differ between the two ways of reading", file=sys.stderr)
            return 1
        cold.append(t_cold)
        warm.append(t_warm)
    row = {"benchmark": "reader", "domain": args.domain, "texts": len(texts), "sentences": len(sentences),
           "distinct_sentences": len(set(sentences)), "per_text_s": min(cold), "shared_s": min(warm),
           "per_text_ms_per_text": 1000 * min(cold) / len(texts), "shared_ms_per_text": 1000 * min(warm) / len(texts),
           "speedup": min(cold) / min(warm), "readings_identical": True, "repeats": args.repeats,
           "reader_version": reader.READER_VERSION, "provenance": provenance()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(row, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"{len(texts)} persona texts ({row['sentences']} sentences, {row['distinct_sentences']} distinct): "
          f"per-text memo {row['per_text_ms_per_text']:.1f} ms/text, shared memo {row['shared_ms_per_text']:.1f} "
          f"ms/text — {row['speedup']:.1f}x, readings identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
