"""Format and coverage of the labelled persona-text sets in tests/data/persona_texts.

The sets measure the offline persona reader (persona text -> behaviours); they were
written by a separate author from :mod:`ppol_nb.offline.vocabulary` alone (see the
README next to them). These tests keep them usable as a measurement: every line is a
well-formed record, labels come only from the behaviour vocabulary plus ``impolite``,
and each set still has the coverage it promises (every label, neutral texts, degree
words, negations, mixed cues). They check the data, not the reader.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from ppol_nb.offline.vocabulary import BEHAVIOURS

DATA = Path(__file__).parent / "data" / "persona_texts"
# "politeness" = explicitly more courteous than usual; "impolite" = courtesies dropped.
LABELS = frozenset(BEHAVIOURS) | {"impolite"}
KEYS_REQUIRED = {"id", "text", "labels", "ruled_out", "style"}
KEYS_OPTIONAL = {"intensity", "cues"}
CUES = {"negation", "mixed"}
# A text tagged "negation" must contain a negating word for the tag to mean anything.
NEGATION = re.compile(r"\b(not|never|no|none|nor|without|nothing|avoids?)\b|n't\b", re.IGNORECASE)

# name -> (id prefix, min texts, min texts per label)
SETS = {"dev": ("dev", 45, 3), "heldout": ("ho", 75, 5)}
MIN_INTENSITY, MIN_NEGATION, MIN_MIXED = 15, 12, 6


def load(name: str) -> list[dict]:
    records = []
    path = DATA / f"{name}.jsonl"
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path.name}:{lineno} is blank"
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:  # name the line, not just the offset
            pytest.fail(f"{path.name}:{lineno} is not JSON: {exc}")
    return records


@pytest.mark.parametrize("name", sorted(SETS))
def test_records_are_well_formed(name):
    prefix = SETS[name][0]
    records = load(name)
    ids = [r.get("id") for r in records]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for r in records:
        rid = r.get("id")
        assert KEYS_REQUIRED <= r.keys() <= KEYS_REQUIRED | KEYS_OPTIONAL, rid
        assert re.fullmatch(rf"{prefix}-\d{{3}}", rid), rid
        assert isinstance(r["text"], str) and r["text"].strip(), rid
        # Persona texts say how a customer talks: no order numbers, amounts or dates.
        assert not re.search(r"\d", r["text"]), f"{rid}: digits in a persona text"
        labels, ruled_out = r["labels"], r["ruled_out"]
        assert isinstance(labels, list) and isinstance(ruled_out, list), rid
        assert set(labels) <= LABELS, f"{rid}: unknown labels {set(labels) - LABELS}"
        assert set(ruled_out) <= LABELS, f"{rid}: unknown ruled_out {set(ruled_out) - LABELS}"
        assert len(labels) == len(set(labels)) and len(ruled_out) == len(set(ruled_out)), rid
        assert not set(labels) & set(ruled_out), f"{rid}: a label is also ruled out"
        assert not {"politeness", "impolite"} <= set(labels) or "mixed" in r.get("cues", []), rid
        intensity = r.get("intensity", {})
        assert isinstance(intensity, dict) and set(intensity) <= set(labels), rid
        assert set(intensity.values()) <= {"low", "high"}, rid
        assert isinstance(r["style"], str) and r["style"].strip(), rid
        cues = r.get("cues", [])
        assert isinstance(cues, list) and set(cues) <= CUES, rid
        if "negation" in cues:
            assert NEGATION.search(r["text"]), f"{rid}: tagged negation without a negating word"


@pytest.mark.parametrize("name", sorted(SETS))
def test_coverage(name):
    _, min_texts, min_per_label = SETS[name]
    records = load(name)
    assert len(records) >= min_texts
    per_label = Counter(label for r in records for label in r["labels"])
    thin = {label: per_label[label] for label in LABELS if per_label[label] < min_per_label}
    assert not thin, f"labels below {min_per_label} texts: {thin}"
    assert sum(not r["labels"] for r in records) >= 0.10 * len(records), "too few neutral texts"
    assert sum(1 <= len(r["labels"]) <= 3 for r in records) > len(records) / 2
    assert sum(bool(r.get("intensity")) for r in records) >= MIN_INTENSITY
    assert sum("negation" in r.get("cues", []) for r in records) >= MIN_NEGATION
    assert sum("mixed" in r.get("cues", []) for r in records) >= MIN_MIXED
    assert len({r["style"] for r in records}) >= 5, "too few distinct forms"


def test_sets_share_no_text():
    """A held-out text that also sits in the dev set would leak into tuning."""
    def norm(text: str) -> str:
        return " ".join(text.lower().split())

    dev = {norm(r["text"]) for r in load("dev")}
    held = [norm(r["text"]) for r in load("heldout")]
    assert len(held) == len(set(held))
    assert not dev & set(held)
