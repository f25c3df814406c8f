"""How well the persona reader reads: precision / recall / F1 against labelled persona texts.

The sets live in ``tests/data/persona_texts/`` (``dev.jsonl`` for tuning, ``heldout.jsonl``
for measurement only; format in that folder's README). Each record has ``text``,
``labels`` (behaviours the text asks for, plus ``impolite``), ``ruled_out`` (behaviours
the text explicitly excludes), optional ``intensity`` (label -> ``low`` / ``high``) and
optional ``cues`` (``negation``, ``mixed``).

Readings become labels as follows (the thresholds are the reader's own, so the numbers
measure exactly what the offline user will execute):

* a behaviour label is predicted iff its level >= :data:`~.reader.DETECTION_THRESHOLD`
  (0.3); ``digression`` included;
* ``politeness`` iff the politeness level >= :data:`POLITE_AT` (0.6, extra courteous);
* ``impolite`` iff the politeness level <= :data:`IMPOLITE_AT` (0.2, courtesy dropped);
* intensity ``low`` is read correctly iff the label is predicted with level <
  :data:`LOW_BELOW` (0.6); ``high`` iff predicted with level >= :data:`HIGH_FROM` (0.75).
  Present ``politeness`` starts at 0.8 (the reader's margin), so it has its own split:
  ``high`` iff level >= :data:`POLITE_HIGH_FROM` (0.85), ``low`` below; ``impolite`` is graded
  on ``2 * (0.5 - politeness level)`` with the general thresholds.

Macro-F1 is the unweighted mean of per-label F1 over labels with at least one gold
positive in the set. ``ruled_out`` accuracy is the share of (text, ruled-out label)
pairs the reader does *not* predict.

Run ``python -m ppol_nb.offline.reader_eval tests/data/persona_texts/dev.jsonl`` to print
the aggregate numbers (never the texts).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from .reader import DETECTION_THRESHOLD, read
from .vocabulary import BEHAVIOURS

POLITE_AT = 0.6
IMPOLITE_AT = 0.2
LOW_BELOW = 0.6
HIGH_FROM = 0.75
POLITE_HIGH_FROM = 0.85
LABELS: tuple[str, ...] = (*BEHAVIOURS, "impolite")


def load(path: str | Path) -> list[dict]:
    """Records of a JSONL set, validated (clear errors name the line)."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(record.get("text"), str) or not isinstance(record.get("labels"), list):
            raise ValueError(f"{path}:{number}: a record needs a 'text' string and a 'labels' list")
        unknown = set(record["labels"]) | set(record.get("ruled_out", [])) | set(record.get("intensity", {}))
        unknown -= set(LABELS)
        if unknown:
            raise ValueError(f"{path}:{number}: unknown labels {sorted(unknown)}; known: {list(LABELS)}")
        records.append(record)
    if not records:
        raise ValueError(f"{path}: no records")
    return records


def predicted_labels(levels: dict[str, float], threshold: float = DETECTION_THRESHOLD) -> set[str]:
    """The labels a reading's levels stand for (see the module docstring)."""
    out = {b for b, v in levels.items() if b != "politeness" and v >= threshold}
    if "politeness" in levels:
        if levels["politeness"] >= POLITE_AT:
            out.add("politeness")
        elif levels["politeness"] <= IMPOLITE_AT:
            out.add("impolite")
    return out


def _intensity_ok(label: str, grade: str, levels: dict[str, float], predicted: set[str]) -> bool:
    if label not in predicted:
        return False
    level = levels.get(label, 0.0)
    if label == "politeness":  # present politeness starts at 0.8 (see POLITE_MARGIN): its own scale
        return level < POLITE_HIGH_FROM if grade == "low" else level >= POLITE_HIGH_FROM
    if label == "impolite":  # how much courtesy is dropped: 0 at the default 0.5, 1 at level 0
        level = 2 * (0.5 - levels.get("politeness", 0.5))
    if grade == "low":
        return level < LOW_BELOW
    if grade == "high":
        return level >= HIGH_FROM
    raise ValueError(f"unknown intensity grade {grade!r} for {label!r}")


def evaluate(records: list[dict] | str | Path, threshold: float = DETECTION_THRESHOLD) -> dict:
    """Per-label precision / recall / F1 and the aggregate scores of the reader on a set.

    Returns a dict with ``per_label`` (DataFrame indexed by label: tp, fp, fn, support,
    precision, recall, f1), ``macro_f1``, ``micro_f1``, ``ruled_out_accuracy`` (and
    ``ruled_out_n``), ``intensity_accuracy`` (and ``intensity_n``), ``exact_match`` (share of
    texts whose predicted label set equals the gold set), and ``subsets`` (macro-F1 on
    the texts carrying each ``cues`` tag).
    """
    if not isinstance(records, list):
        records = load(records)
    counts = {label: {"tp": 0, "fp": 0, "fn": 0} for label in LABELS}
    ruled_ok = ruled_n = intensity_ok = intensity_n = exact = 0
    by_tag: dict[str, list[tuple[set, set]]] = {}
    for record in records:
        levels = read(record["text"]).levels
        predicted = predicted_labels(levels, threshold)
        gold = set(record["labels"])
        for label in LABELS:
            if label in gold and label in predicted:
                counts[label]["tp"] += 1
            elif label in predicted:
                counts[label]["fp"] += 1
            elif label in gold:
                counts[label]["fn"] += 1
        for label in record.get("ruled_out", []):
            ruled_n += 1
            ruled_ok += label not in predicted
        for label, grade in (record.get("intensity") or {}).items():
            intensity_n += 1
            intensity_ok += _intensity_ok(label, grade, levels, predicted)
        exact += predicted == gold
        for tag in record.get("cues") or []:
            by_tag.setdefault(tag, []).append((gold, predicted))
    per_label = _scores(counts)
    tp = sum(c["tp"] for c in counts.values())
    fp = sum(c["fp"] for c in counts.values())
    fn = sum(c["fn"] for c in counts.values())
    subsets = {tag: _macro(_scores(_count(pairs))) for tag, pairs in sorted(by_tag.items())}
    return {
        "n": len(records),
        "per_label": per_label,
        "macro_f1": _macro(per_label),
        "micro_f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0,
        "ruled_out_accuracy": ruled_ok / ruled_n if ruled_n else float("nan"),
        "ruled_out_n": ruled_n,
        "intensity_accuracy": intensity_ok / intensity_n if intensity_n else float("nan"),
        "intensity_n": intensity_n,
        "exact_match": exact / len(records),
        "subsets": subsets,
        "threshold": threshold,
    }


def _count(pairs: list[tuple[set, set]]) -> dict:
    counts = {label: {"tp": 0, "fp": 0, "fn": 0} for label in LABELS}
    for gold, predicted in pairs:
        for label in LABELS:
            key = "tp" if label in gold and label in predicted else "fp" if label in predicted else \
                "fn" if label in gold else None
            if key:
                counts[label][key] += 1
    return counts


def _scores(counts: dict) -> pd.DataFrame:
    rows = {}
    for label, c in counts.items():
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        precision = tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0)
        recall = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fn else float("nan")
        rows[label] = {"tp": tp, "fp": fp, "fn": fn, "support": tp + fn, "precision": precision,
                       "recall": recall, "f1": f1}
    return pd.DataFrame.from_dict(rows, orient="index")


def _macro(per_label: pd.DataFrame) -> float:
    scored = per_label[per_label["support"] > 0]
    return float(scored["f1"].mean()) if len(scored) else float("nan")


def report(result: dict) -> str:
    """Aggregate numbers only (no texts): per-label table and the summary scores."""
    table = result["per_label"][["support", "tp", "fp", "fn", "precision", "recall", "f1"]].round(2)
    lines = [table.to_string(), "",
             f"texts {result['n']}  macro-F1 {result['macro_f1']:.3f}  micro-F1 {result['micro_f1']:.3f}  "
             f"exact match {result['exact_match']:.2f}",
             f"ruled_out accuracy {result['ruled_out_accuracy']:.3f} (n={result['ruled_out_n']})  "
             f"intensity accuracy {result['intensity_accuracy']:.3f} (n={result['intensity_n']})",
             "macro-F1 on subsets: " + ", ".join(f"{k} {v:.3f}" for k, v in result["subsets"].items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    paths = (argv if argv is not None else sys.argv[1:])
    if not paths:
        print("usage: python -m ppol_nb.offline.reader_eval SET.jsonl [...]", file=sys.stderr)
        return 2
    for path in paths:
        print(f"== {path}")
        print(report(evaluate(path)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
