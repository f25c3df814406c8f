"""The offline generator model: answers a generator program's LLM calls without any LLM.

Text in, text out: it reads the call's messages — the same prompt a real LLM
would read — and answers deterministically for a given seed and prompt. Nothing
else reaches it (no metadata, no axis objects), so editing a prompt or a playbook
sentence in a program changes what it writes exactly as it could change an LLM's
answer. What it recognises, in order:

* **population request** — the prompt shows a JSON example with an
  ``axis_placement`` key. It reads the number of people asked for ("Propose 8
  different people", "Exactly 8 people") and the axes listed as bullet lines
  ``- <axis_name>: <definition>`` (with optional ``when ON:`` / ``when OFF:``
  lines and ``never ON together with: a, b``). It spreads the members over the
  2^|D| cube by greedy max–min Hamming selection from a seeded start, gives each a
  person-like description (:mod:`.phrases`) and a one-sentence reasoning, and
  replies with a fenced JSON array;
* **direct-persona request** (the DP baseline) — a JSON example with an
  ``instruction`` key and no axes: ``n`` generic instructions from :mod:`.phrases`;
* **anything else is an expansion request** — it writes a second-person
  instruction from the prompt's own sentences: the person's description (a
  section headed like "Who this customer is"), every playbook sentence of a
  behaviour section ("Active behaviours…", "- axis (active): …"), and every
  writer directive elsewhere in the prompt that is about how the customer
  communicates (a bullet the persona reader :mod:`.reader` finds a behaviour
  in, such as "- Make the customer type in lowercase."). Sections about the
  situation (task facts) are never copied. The requested word range ("in
  150-250 words") is honoured with cue-free filler sentences.

Offline personas are therefore exactly as structured as the program's text makes
them, and the offline user acts on them only through that text.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

from . import phrases as bank
from ..personas.record import slug

MIN_WORDS, MAX_WORDS = 150, 250
# The model's identity for persona caches: any edit to its code or phrase banks changes it.
MODEL_VERSION = hashlib.sha256(
    Path(__file__).read_bytes() + Path(bank.__file__).read_bytes()).hexdigest()[:12]


def model_version() -> str:
    """This model's identity: its code, its phrase banks and the reader it filters directives with."""
    from .reader import READER_VERSION

    return f"{MODEL_VERSION}+{READER_VERSION}"[:40]
DEFAULT_N = 5  # what it assumes when a population prompt names no count
_TARGET_MIN = 165  # aim a little above the floor so small edits never dip below it


def _words(text: str) -> int:
    return len(text.split())


def _rng(*parts) -> random.Random:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# -- reading the prompt ------------------------------------------------------------------------

_COUNT = re.compile(r"\b(?:exactly\s+|propose\s+|create\s+|write\s+|generate\s+)?(\d{1,3})\s+(?:different\s+|distinct\s+|"
                    r"diverse\s+|realistic\s+|new\s+)?(?:people|persons|personas|customers|members|users|"
                    r"individuals|roleplay instructions|instructions|characters)\b", re.I)
_AXIS_LINE = re.compile(r"^\s*[-*\u2022]\s*`?([A-Za-z][A-Za-z0-9_]{0,47})`?\s*(?:\((?:axis|on/off)\))?\s*[:\u2014]\s*(.*)$")
_ON_LINE = re.compile(r"^\s*(?:when\s+)?ON\s*[:\u2014-]\s*(.*)$", re.I)
_OFF_LINE = re.compile(r"^\s*(?:when\s+)?OFF\s*[:\u2014-]\s*(.*)$", re.I)
_CLASH_LINE = re.compile(r"never\s+ON\s+together\s+with\s*:\s*(.*)$", re.I)
_WORDS_RANGE = re.compile(r"(\d{2,4})\s*(?:-|\u2013|to)\s*(\d{2,4})\s*words", re.I)


def request_kind(prompt: str) -> str:
    """``population``, ``direct`` or ``expansion``, from the JSON shape the prompt asks for."""
    if re.search(r'"axis_placement"', prompt):
        return "population"
    if re.search(r'"instruction"\s*:', prompt) and re.search(r"\[\s*\{", prompt):
        return "direct"
    return "expansion"


def requested_count(prompt: str) -> int:
    """How many people the prompt asks for (the first count it states), else :data:`DEFAULT_N`."""
    m = _COUNT.search(prompt)
    return max(1, min(int(m.group(1)), 200)) if m else DEFAULT_N


def prompt_axes(prompt: str) -> list[dict]:
    """The axes a population prompt lists, as ``{name, definition, on_playbook, off_playbook, clashes_with}``.

    Only identifier-like names followed by a colon count (``- terse: ...``), as a
    reader of the prompt would take them; names seen twice keep their first block.
    """
    axes: list[dict] = []
    current = None
    for line in prompt.splitlines():
        if current is not None:
            on, off, clash = _ON_LINE.match(line), _OFF_LINE.match(line), _CLASH_LINE.search(line)
            if on:
                current["on_playbook"] = on.group(1).strip()
                continue
            if off:
                current["off_playbook"] = off.group(1).strip()
                continue
            if clash:
                current["clashes_with"] = [c.strip(" .`") for c in clash.group(1).split(",") if c.strip(" .`")]
                continue
        m = _AXIS_LINE.match(line)
        if m and "_" in m.group(1) or m and m.group(1).islower():
            name = m.group(1)
            current = None
            if name not in {a["name"] for a in axes}:
                current = {"name": name, "definition": m.group(2).strip() or name.replace("_", " "),
                           "on_playbook": "", "off_playbook": "", "clashes_with": []}
                axes.append(current)
        elif not line.startswith((" ", "\t")):
            current = None
    names = {a["name"] for a in axes}
    for a in axes:
        a["clashes_with"] = [c for c in a["clashes_with"] if c in names and c != a["name"]]
    return axes


def word_range(prompt: str) -> tuple[int, int]:
    """The instruction length the prompt asks for ("in 150-250 words"), else 150-250."""
    m = _WORDS_RANGE.search(prompt)
    if not m:
        return MIN_WORDS, MAX_WORDS
    low, high = sorted((int(m.group(1)), int(m.group(2))))
    return max(20, low), max(40, high)


_SKIP_HEADING = re.compile(r"situation|context|scenario|task|goal|facts?\b|background", re.I)
_WHO_HEADING = re.compile(r"\bwho\b|person|profile|description|about the customer|character", re.I)
_BEHAVIOUR_HEADING = re.compile(r"behaviou?r|trait|playbook|style|habit|axes|how (?:they|the customer) talk", re.I)
_PLAYBOOK_PREFIX = re.compile(r"^\s*[-*\u2022]\s*`?[A-Za-z][A-Za-z0-9_ ]{0,47}`?\s*\((?:active|on|inactive|off)\)\s*:\s*",
                              re.I)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
_LABELLED_FACT = re.compile(r"^(?:Domain|Base persona|Reason for contacting support|What the user (?:does not )?knows?|"
                            r"Further instructions)\s*:", re.I)
_THIRD_PERSON = re.compile(r"^(?:make|have|let|ensure|tell)\s+(?:the\s+)?(?:customer|person|user)\s+(?:to\s+)?", re.I)


class ExpansionParts:
    """What an expansion prompt gives the model to write from."""

    def __init__(self, description: str, directives: list[str]) -> None:
        self.description = description
        self.directives = directives

    def __repr__(self) -> str:
        return f"ExpansionParts(description={self.description!r:.60}, directives={len(self.directives)})"


def _sections(prompt: str) -> list[tuple[str, list[str]]]:
    """``(heading, lines)`` paragraphs. A heading (a markdown ``#`` line, or a short line
    ending with a colon) names the paragraph right after it; later paragraphs, separated
    by a blank line, are the writer's free text (heading ``""``)."""
    out: list[tuple[str, list[str]]] = [("", [])]
    for line in prompt.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (stripped.endswith(":") and len(stripped) < 80 and not _BULLET.match(line)):
            out.append((stripped.strip("#: ").strip(), []))
        elif not stripped:
            if out[-1][1]:  # a blank line closes a non-empty paragraph
                out.append(("", []))
        else:
            out[-1][1].append(line)
    return [(h, lines) for h, lines in out if lines]


def _directive(text: str) -> str:
    """A writer's bullet as a direction to the customer ("Make the customer type..." -> "Type...")."""
    text = _BULLET.sub("", text).strip()
    text = _THIRD_PERSON.sub("", text)
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def expansion_parts(prompt: str) -> ExpansionParts:
    """The description and the communication directives an expansion prompt carries (see module doc)."""
    from .reader import read

    description, directives = "", []
    for heading, lines in _sections(prompt):
        body = [ln for ln in lines if ln.strip() and not _LABELLED_FACT.match(ln.strip())]
        if heading and _SKIP_HEADING.search(heading) and not _BEHAVIOUR_HEADING.search(heading):
            continue
        if heading and _WHO_HEADING.search(heading) and not _BEHAVIOUR_HEADING.search(heading):
            description = description or " ".join(ln.strip() for ln in body)
            continue
        behaviour_section = bool(heading and _BEHAVIOUR_HEADING.search(heading))
        for line in body:
            if _PLAYBOOK_PREFIX.match(line):
                directives.append(_directive(_PLAYBOOK_PREFIX.sub("", line)))
            elif behaviour_section and _BULLET.match(line):
                directives.append(_directive(line))
            elif behaviour_section and not line.lstrip().startswith(("(", "[")):
                directives.append(_directive(line))
            elif _BULLET.match(line) and read(line).levels:
                # A writer's guideline about how the customer communicates: an LLM would follow it.
                directives.append(_directive(line))
    seen, unique = set(), []
    for d in directives:
        if d.lower() not in seen and len(d) > 3:
            seen.add(d.lower())
            unique.append(d)
    return ExpansionParts(description, unique)


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


def offline_population(prompt: str, rng: random.Random) -> str:
    n = requested_count(prompt)
    axes = prompt_axes(prompt)
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


def _fit(parts: list[str], fillers: list[str], target: int, ceiling: int) -> str:
    """Join parts, adding fillers up to the target and never passing the ceiling."""
    text = " ".join(p for p in parts if p)
    for f in fillers:
        if _words(text) >= target:
            break
        if _words(text) + _words(f) <= ceiling:
            parts = parts[:-1] + [f] + parts[-1:]  # fillers go before the closing line
            text = " ".join(p for p in parts if p)
    return text


def render_instruction(description: str, directives: list[str], rng: random.Random,
                       min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> str:
    """Second-person directions: the person, the prompt's directives, cue-free framing; within the word range.

    When the directives alone pass the ceiling, whole directives are kept in
    order while they fit (the first ones are the program's own playbooks).
    """
    head = [_opening(description) if description else "You are an ordinary customer.",
            rng.choice(bank.MEDIUM), rng.choice(bank.FIDELITY)]
    closing = rng.choice(bank.CLOSING)
    body = list(head)
    for sentence in directives:
        if _words(" ".join(body + [sentence, closing])) > max_words:
            continue
        body.append(sentence)
    fillers = rng.sample(bank.FILLERS, k=len(bank.FILLERS))
    target = min(max(min_words + 15, _TARGET_MIN if min_words == MIN_WORDS else min_words), max_words)
    return _fit(body + [closing], fillers, target, max_words)


def offline_expansion(prompt: str, rng: random.Random) -> str:
    parts = expansion_parts(prompt)
    low, high = word_range(prompt)
    return render_instruction(parts.description, parts.directives, rng, min_words=low, max_words=high)


# -- direct personas ---------------------------------------------------------------------------


def offline_direct(prompt: str, rng: random.Random) -> str:
    n = requested_count(prompt)
    order = rng.sample(bank.DIRECT_STYLES, k=len(bank.DIRECT_STYLES))
    items = []
    for i in range(n):
        pid, description, core = order[i % len(order)]
        if i >= len(order):
            pid = f"{pid}_{i // len(order) + 1}"
        parts = [rng.choice(bank.MEDIUM), core, rng.choice(bank.FIDELITY), rng.choice(bank.CLOSING)]
        low, high = word_range(prompt)
        items.append({"persona_id": pid, "description": description,
                      "instruction": _fit(parts, rng.sample(bank.FILLERS, k=len(bank.FILLERS)),
                                          min(max(low + 15, _TARGET_MIN), high), high)})
    return "```json\n" + json.dumps(items, indent=2, ensure_ascii=False) + "\n```"


class OfflineGeneratorWorld:
    """The sandbox parent's answerer when no LLM is used: deterministic per (seed, prompt)."""

    ledger = None  # its calls cost nothing and are not accounted
    waits_on_network = False

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    @property
    def key(self) -> str:
        """Identity for persona caches: changes when the offline model's output would."""
        return f"offline-generator:{model_version()}:seed={self.seed}"

    def answer(self, request: dict, seed: int = 0) -> str:
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list")
        prompt = "\n\n".join(str(m.get("content") or "") for m in messages if isinstance(m, dict))
        # The prompt itself picks the randomness, so thread order never matters.
        rng = _rng(self.seed, seed, prompt)
        return {"population": offline_population, "direct": offline_direct,
                "expansion": offline_expansion}[request_kind(prompt)](prompt, rng)

    def __repr__(self) -> str:
        return f"OfflineGeneratorWorld(seed={self.seed})"
