"""The offline generator model: answers a program's LLM calls without any LLM.

It reads the ``purpose`` metadata the toolkit attaches to every call (a real LLM
never sees it) and answers deterministically for a given seed:

* ``population`` — ``n`` members whose axis placements are spread over the
  2^|D| cube by greedy max–min Hamming selection from a seeded start (declared
  ``clashes_with`` pairs are never both on), each with a person-like description
  built from phrase banks and a one-sentence reasoning; sent back as a fenced
  JSON array, the same shape a real LLM is asked for, so the program's parsing
  path runs exactly as it would online;
* ``expansion`` — a 150–250-word second-person instruction rendering the
  member's active ON playbooks and inactive OFF playbooks, stating that the goal
  and every fact stay as in the task (without restating or inventing any fact);
* ``direct`` — the DP baseline's single call: ``n`` generic instructions.

The offline personas are as structured as the program's axes make them; what the
offline *user* does with them comes from the behaviour profiles ppol_nb attaches
(:func:`ppol_nb.personas.sandbox.merge_behaviour`).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

from . import offline_text as bank
from .record import slug

MIN_WORDS, MAX_WORDS = 150, 250
# The model's identity for persona caches: any edit to its code or phrase banks changes it.
MODEL_VERSION = hashlib.sha256(
    Path(__file__).read_bytes() + Path(bank.__file__).read_bytes()).hexdigest()[:12]
_TARGET_MIN = 165  # aim a little above the floor so small edits never dip below it


def _words(text: str) -> int:
    return len(text.split())


def _rng(*parts) -> random.Random:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# -- population -----------------------------------------------------------------------------


def _feasible(vector: tuple, clash_idx: list[tuple[int, int]]) -> bool:
    return not any(vector[i] and vector[j] for i, j in clash_idx)


def spread_placements(axes: list[dict], n: int, rng: random.Random) -> list[dict[str, bool]]:
    """``n`` placements spread over the behaviour cube (max–min Hamming, seeded start and ties).

    Distinct while the feasible cube has room; after that, the least-used
    placements are repeated (the members still differ as people).
    """
    names = [a["name"] for a in axes]
    k = len(names)
    index = {name: i for i, name in enumerate(names)}
    clash_idx = sorted({tuple(sorted((index[a["name"]], index[c]))) for a in axes
                        for c in a.get("clashes_with", []) if c in index and c != a["name"]})
    if k <= 12:
        cands = [tuple((i >> j) & 1 for j in range(k)) for i in range(2 ** k)]
        cands = [v for v in cands if _feasible(v, clash_idx)]
    else:  # too many corners to enumerate: sample feasible ones
        seen = set()
        for _ in range(4096):
            v = [rng.random() < 0.5 for _ in range(k)]
            for i, j in clash_idx:
                if v[i] and v[j]:
                    v[rng.choice((i, j))] = False
            seen.add(tuple(int(b) for b in v))
        cands = sorted(seen)
    rng.shuffle(cands)
    min_dist = [k + 1] * len(cands)
    uses = [0] * len(cands)
    picks = []
    for _ in range(n):
        best = max(range(len(cands)), key=lambda c: (min_dist[c], -uses[c]))
        picks.append(best)
        uses[best] += 1
        chosen = cands[best]
        for c, vec in enumerate(cands):
            min_dist[c] = min(min_dist[c], sum(a != b for a, b in zip(vec, chosen)))
    return [{name: bool(cands[p][i]) for i, name in enumerate(names)} for p in picks]


def _trait_sentences(axis: dict) -> tuple[list[str], list[str]]:
    name = axis["name"].lower()
    for keywords, on, off in bank.TRAITS:
        if any(k in name for k in keywords):
            return on, off
    # An axis the banks do not know (evolved programs invent them): say it with its definition.
    definition = re.split(r"(?<=[.;:])\s", axis["definition"].strip())[0].rstrip(".;:")
    words = axis["name"].replace("_", " ")
    return ([f"Has a marked streak of {words}: {definition[:1].lower()}{definition[1:]}."],
            [f"Shows little sign of {words}."])


def describe(placement: dict, axes: list[dict], archetype: str, setting: str, rng: random.Random) -> str:
    """A 2–3 sentence description of the person (not of the configuration)."""
    first = f"{archetype[:1].upper()}{archetype[1:]} {setting}."
    on = [a for a in axes if placement.get(a["name"])]
    off = [a for a in axes if not placement.get(a["name"])]
    # At most three sentences: who and where, then up to two traits (the rest is left to
    # the playbooks), topped up with a contrast or a motive.
    on_text = [rng.choice(_trait_sentences(a)[0]) for a in rng.sample(on, k=min(2, len(on)))]
    sentences = [first, *on_text]
    if len(on_text) < 2:
        sentences.append(rng.choice(_trait_sentences(rng.choice(off))[1]) if off else rng.choice(bank.MOTIVES))
    if len(sentences) < 3:
        sentences.append(rng.choice(bank.MOTIVES))
    return " ".join(sentences)


def offline_population(purpose: dict, rng: random.Random) -> str:
    n = int(purpose["n"])
    axes = purpose["axes"]
    placements = spread_placements(axes, n, rng)
    archetypes = rng.sample(bank.ARCHETYPES, k=min(n, len(bank.ARCHETYPES)))
    members, used = [], set()
    for i, placement in enumerate(placements):
        archetype = archetypes[i % len(archetypes)]
        setting = rng.choice(bank.SETTINGS)
        pid = slug(re.sub(r"^(a|an) ", "", archetype))[:40]
        if pid in used:
            pid = f"{pid}_{i}"
        used.add(pid)
        on = [name for name, v in placement.items() if v]
        why = (f"Covers {', '.join(on)} together, a corner no other member occupies." if on
               else "Anchors the cooperative corner where none of the behaviours is active.")
        members.append({"persona_id": pid, "description": describe(placement, axes, archetype, setting, rng),
                        "axis_placement": placement, "reasoning": why})
    return "```json\n" + json.dumps(members, indent=2, ensure_ascii=False) + "\n```"


# -- expansion ---------------------------------------------------------------------------------


def _opening(description: str) -> str:
    first = re.split(r"(?<=\.)\s", description.strip(), maxsplit=1)[0]
    if re.match(r"^(A|An) ", first):
        return "You are " + first[:1].lower() + first[1:]
    return f"Play this person: {description.strip()}"


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]


def _fit(parts: list[str], fillers: list[str]) -> str:
    """Join parts, adding fillers up to the target and never passing the ceiling."""
    text = " ".join(p for p in parts if p)
    for f in fillers:
        if _words(text) >= _TARGET_MIN:
            break
        if _words(text) + _words(f) <= MAX_WORDS:
            parts = parts[:-1] + [f] + parts[-1:]  # fillers go before the closing line
            text = " ".join(p for p in parts if p)
    return text


def render_instruction(description: str, axes: list[dict], placement: dict, rng: random.Random) -> str:
    """Second-person directions from the member's playbooks, 150–250 words."""
    head = [_opening(description), rng.choice(bank.MEDIUM), rng.choice(bank.FIDELITY)]
    on = [a["on_playbook"].strip() for a in axes if placement.get(a["name"])]
    off = [a["off_playbook"].strip() for a in axes if not placement.get(a["name"])]
    closing = rng.choice(bank.CLOSING)
    fillers = rng.sample(bank.FILLERS, k=len(bank.FILLERS))
    # Shorten the least important text first until the ceiling holds: OFF playbooks, then ON ones.
    for on_part, off_part in ((on, off), (on, [_first_sentence(t) for t in off]), (on, []),
                              ([_first_sentence(t) for t in on], [])):
        body = head + on_part + off_part
        if _words(" ".join(body + [closing])) <= MAX_WORDS:
            return _fit(body + [closing], fillers)
    # Very many axes: keep whole first sentences of the ON playbooks while they fit.
    body = list(head)
    for sentence in (_first_sentence(t) for t in on):
        if _words(" ".join(body + [sentence, closing])) > MAX_WORDS:
            break
        body.append(sentence)
    return _fit(body + [closing], fillers)


def offline_expansion(purpose: dict, rng: random.Random) -> str:
    member = purpose["member"]
    return render_instruction(str(member.get("description", "")), purpose["axes"],
                              member.get("axis_placement") or {}, rng)


# -- direct personas ---------------------------------------------------------------------------


def offline_direct(purpose: dict, rng: random.Random) -> str:
    n = int(purpose["n"])
    order = rng.sample(bank.DIRECT_STYLES, k=len(bank.DIRECT_STYLES))
    items = []
    for i in range(n):
        pid, description, core = order[i % len(order)]
        if i >= len(order):
            pid = f"{pid}_{i // len(order) + 1}"
        parts = [rng.choice(bank.MEDIUM), core, rng.choice(bank.FIDELITY), rng.choice(bank.CLOSING)]
        items.append({"persona_id": pid, "description": description,
                      "instruction": _fit(parts, rng.sample(bank.FILLERS, k=len(bank.FILLERS)))})
    return "```json\n" + json.dumps(items, indent=2, ensure_ascii=False) + "\n```"


_PHASES = {"population": offline_population, "expansion": offline_expansion, "direct": offline_direct}


class OfflineGeneratorWorld:
    """The sandbox parent's answerer when no LLM is used: deterministic per (seed, call)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    @property
    def key(self) -> str:
        """Identity for persona caches: changes when the offline model's output would."""
        return f"offline-generator:{MODEL_VERSION}:seed={self.seed}"

    def answer(self, request: dict, seed: int = 0) -> str:
        purpose = request.get("purpose") or {}
        phase = purpose.get("phase")
        if phase not in _PHASES:
            raise ValueError(
                f"the offline generator answers only calls tagged with purpose phase "
                f"{sorted(_PHASES)}, got {phase!r}; use the toolkit's population()/expand() helpers")
        # The call's own content picks the randomness, so thread order never matters.
        rng = _rng(self.seed, seed, purpose)
        return _PHASES[phase](purpose, rng)

    def __repr__(self) -> str:
        return f"OfflineGeneratorWorld(seed={self.seed})"
