"""Build a blinded human-vs-simulator study: what annotators see, and the key kept apart.

A study is a directory:

* ``study.json`` — what the annotation app serves: the study id, its seed and the items,
  each an opaque random id and its turns (``{"speaker": "customer" | "agent", "text"}``).
  Items are listed in a seeded random order, never grouped by source. Nothing in it names
  a source, a model, an episode, a task or a dialogue.
* ``key.json`` — item id → ``source``, ``is_attention_check`` and where the item came from
  (episode / dialogue id). Never served; :mod:`.annotation_app` only reads it on export.
* ``manifest.json`` — seed, sources and counts, sha256 of the two files above.

Guarantees of :func:`build_study`:

* **Balanced and seeded.** Each source contributes exactly ``per_source`` conversations
  (default: as many as the smallest source has), drawn by ``random.Random(seed)``; the
  same inputs and seed give byte-identical files. A source with too few usable
  conversations raises :class:`StudyError` rather than unbalancing the study.
* **Nothing reveals the source.** Turns are rebuilt from text only:
  - simulator episodes: ``user`` messages → customer, ``assistant`` → agent; system and tool
    messages are dropped, and so are tool calls (decision: the human corpora show no tool
    calls, so even neutral text like "[looked up the order]" would mark a conversation as
    simulated). An agent turn that only called tools is therefore dropped;
  - τ²'s control tokens (``###STOP###``, ``###TRANSFER###``, ``###OUT-OF-SCOPE###`` and any
    ``###WORD###``) are removed, as is τ²'s transfer boilerplate ("YOU ARE BEING TRANSFERRED
    TO A HUMAN AGENT…"); turns left empty are dropped;
  - the record's own identifiers (episode id, task id, user/agent model names, persona id)
    are replaced by ``[redacted]`` wherever they appear in the text;
  - agent turns before the customer's first turn are dropped, for every source (τ²'s agent
    always opens with the same greeting; the human corpora do not all have one);
  - errored episodes and conversations with fewer than two turns are not used.
* **Attention checks** (``n_attention`` items, source ``attention_check``, correct answer
  "bot") are obviously scripted conversations: the customer repeats one template sentence
  with a counter. They are shuffled in with the rest.
* **Ids are opaque**: 16 hex digits from the seeded generator, unrelated to the source.

* **Consent first.** ``study.json`` carries the ``instructions`` an annotator reads and agrees to
  before any item is served (the app enforces it), and an optional unscored ``practice`` conversation.

:func:`display_order` gives each annotator their own order (seeded by study seed and
annotator id), so position tells nothing and is reproducible for resumption.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..run_identity import file_digest

STUDY_FILE, KEY_FILE, MANIFEST_FILE = "study.json", "key.json", "manifest.json"
ATTENTION_SOURCE = "attention_check"
SPEAKERS = ("customer", "agent")
FORMAT_VERSION = 1

_CONTROL = re.compile(r"###[A-Z][A-Z_-]*###")
# τ²'s agent hands over with this fixed sentence (its transfer_to_human_agents tool's message).
_TRANSFER_TEXT = re.compile(r"YOU ARE BEING TRANSFERRED TO A HUMAN AGENT\.?\s*PLEASE HOLD ON\.?", re.IGNORECASE)


class StudyError(ValueError):
    """A study cannot be built or read as asked; the message says why."""


@dataclass(frozen=True)
class Conversation:
    """One candidate conversation: neutral turns, and where it came from (kept for the key only)."""

    turns: tuple[dict, ...]
    origin: str


def _clean(text: str | None, secrets: Iterable[str]) -> str:
    if not isinstance(text, str):
        return ""
    text = _TRANSFER_TEXT.sub("", _CONTROL.sub("", text))
    # Longest first, so a model name containing another secret is redacted whole.
    for secret in sorted({s for s in secrets if s and len(s) >= 2}, key=len, reverse=True):
        text = re.sub(re.escape(secret), "[redacted]", text, flags=re.IGNORECASE)
    return text.strip()


def _conversation(turns: list[dict], origin: str) -> Conversation | None:
    while turns and turns[0]["speaker"] != "customer":
        turns = turns[1:]
    return Conversation(tuple(turns), origin) if len(turns) >= 2 else None


def from_episode(record) -> Conversation | None:
    """The neutral conversation of one episode record (dict or ``EpisodeRecord``); None if unusable."""
    rec = record.to_dict() if hasattr(record, "to_dict") else dict(record)
    if rec.get("error"):
        return None
    persona = rec.get("persona") or {}
    secrets = [str(rec.get(k) or "") for k in ("episode_id", "task_id", "user_model", "agent_model", "backend")]
    secrets.append(str(persona.get("persona_id") or ""))
    # A bare task id like "3" would redact every digit 3 in the text: only redact ids that are words.
    secrets = [s for s in secrets if not s.isdigit()]
    turns = []
    for message in rec.get("messages") or []:
        role = message.get("role")
        if role not in ("user", "assistant"):
            continue  # system prompts and tool results are simulator machinery
        text = _clean(message.get("content"), secrets)
        if text:
            turns.append({"speaker": "customer" if role == "user" else "agent", "text": text})
    return _conversation(turns, f"episode:{rec.get('episode_id')}")


def from_dialogue(dialogue) -> Conversation | None:
    """The neutral conversation of one human :class:`~ppol_nb.humans.schema.Dialogue`; None if unusable."""
    secrets = [dialogue.dialogue_id] if not str(dialogue.dialogue_id).isdigit() else []
    turns = []
    for turn in dialogue.turns:
        text = _clean(turn.text, secrets)
        if text:
            turns.append({"speaker": "customer" if turn.role == "user" else "agent", "text": text})
    return _conversation(turns, f"dialogue:{dialogue.dialogue_id}")


def conversations(source) -> list[Conversation]:
    """Usable conversations of a source: a human ``Corpus``, Dialogues, episode records, an
    episode file or run directory (read by :class:`~ppol_nb.simulation.store.EpisodeStore`)."""
    if isinstance(source, (str, Path)):
        from ..simulation.store import EpisodeStore, read_episodes

        path = Path(source)
        records = EpisodeStore(path).records() if path.is_dir() else read_episodes(path)[0]
        source = records
    items = getattr(source, "dialogues", source)
    out = []
    for item in items:
        conv = from_dialogue(item) if hasattr(item, "turns") and hasattr(item, "dialogue_id") else from_episode(item)
        if conv is not None:
            out.append(conv)
    return out


_ATTENTION_LINES = (
    "I want to return item number {n}. I want to return item number {n}.",
    "Please process request {n}. Please process request {n}. Please process request {n}.",
    "Order status query {n}. Order status query {n}.",
)


def attention_conversation(rng: random.Random) -> tuple[dict, ...]:
    """An obviously scripted conversation (the customer repeats a template with a counter)."""
    line = rng.choice(_ATTENTION_LINES)
    turns = []
    for n in range(1, 5):
        turns.append({"speaker": "customer", "text": line.format(n=n)})
        turns.append({"speaker": "agent", "text": "Could you tell me a bit more about what you need?"})
    return tuple(turns)


DEFAULT_INSTRUCTIONS = """\
This is a research study about customer-service conversations. Some of the conversations you will read \
were written by real people talking to a customer-service agent; in others, the customer was played by a \
computer program (a bot). For each conversation, tell us whether you think the customer was a human \
or a bot, and how confident you are. There are no right answers you are expected to know: give your best \
impression.

There are {n_items} conversations; reading and answering one takes about a minute, so the study takes about \
{minutes} minutes. You can stop at any time and come back later with the same link: your answers are kept. \
You can also stop for good without giving a reason.

What is stored: for each conversation, your answer, your confidence, your optional comment and the time you \
answered, under the anonymous annotator name of your link, and the time you agreed to take part. Nothing \
else is recorded: no name, e-mail, IP address or cookies. Please do not write anything that identifies you \
in the comments."""

# The practice conversation: shown once after consent, never stored, never scored.
PRACTICE_TURNS = (
    {"speaker": "customer", "text": "Hi, I ordered a lamp last week and it arrived with a cracked shade."},
    {"speaker": "agent", "text": "I'm sorry to hear that. Could you give me the order number?"},
    {"speaker": "customer", "text": "Sure, it's on the receipt somewhere... here, it ends in 4471."},
    {"speaker": "agent", "text": "Thanks. I can send a replacement shade or refund the lamp. Which would you prefer?"},
)


def instructions_text(instructions: str | None, n_items: int) -> str:
    """The consent page's text: ``instructions`` as given, or :data:`DEFAULT_INSTRUCTIONS` filled in."""
    if instructions is not None:
        if not instructions.strip():
            raise StudyError("the instructions are empty")
        return instructions
    return DEFAULT_INSTRUCTIONS.format(n_items=n_items, minutes=max(1, round(n_items * 1.0)))


def _write(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def build_study(sources: Mapping[str, object], out_dir: str | Path, per_source: int | None = None,
                seed: int = 0, n_attention: int = 2, study_id: str | None = None,
                instructions: str | None = None, practice: bool = True) -> Path:
    """Write a blinded study into ``out_dir`` (see the module doc); returns the directory.

    ``instructions`` is the text of the consent page every annotator reads and agrees to before the
    first item (default: :data:`DEFAULT_INSTRUCTIONS`, with the number of items and the estimated time);
    ``practice`` adds an unscored practice conversation shown once after consent.

    ``sources`` maps a source name (``"human"``, ``"base"``, ``"ppol"`` …, the names the
    statistics use) to anything :func:`conversations` reads.
    """
    if not sources:
        raise StudyError("no sources given")
    if ATTENTION_SOURCE in sources:
        raise StudyError(f"{ATTENTION_SOURCE!r} is reserved for attention checks")
    if n_attention < 0:
        raise StudyError("n_attention must be >= 0")
    # Sorted by origin, so the sample depends on the seed and the conversations, never on the order
    # episodes landed in their file (episodes run concurrently and are stored as they finish).
    pools = {name: sorted(conversations(src), key=lambda c: c.origin) for name, src in sources.items()}
    smallest = min(len(p) for p in pools.values())
    k = smallest if per_source is None else per_source
    if k < 1:
        raise StudyError("per_source must be >= 1; usable conversations per source: "
                         + ", ".join(f"{n}={len(p)}" for n, p in pools.items()))
    short = {n: len(p) for n, p in pools.items() if len(p) < k}
    if short:
        raise StudyError(f"per_source={k} but these sources have fewer usable conversations: {short}")
    rng = random.Random(seed)
    chosen = []  # (source, turns, origin, is_attention_check)
    for name in sorted(pools):
        for conv in rng.sample(pools[name], k):
            chosen.append((name, conv.turns, conv.origin, False))
    for i in range(n_attention):
        chosen.append((ATTENTION_SOURCE, attention_conversation(rng), f"scripted:{i}", True))
    rng.shuffle(chosen)
    ids: list[str] = []  # a list, not a set: set order varies with hash seeding, and builds must be reproducible
    while len(ids) < len(chosen):
        new = f"{rng.getrandbits(64):016x}"
        if new not in ids:
            ids.append(new)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    study = {"format": FORMAT_VERSION, "study_id": study_id or f"{rng.getrandbits(32):08x}", "seed": seed,
             "instructions": instructions_text(instructions, len(chosen)),
             "practice": list(PRACTICE_TURNS) if practice else None,
             "items": [{"id": i, "turns": list(turns)} for i, (_, turns, _, _) in zip(ids, chosen)]}
    key = {i: {"source": src, "is_attention_check": att, "origin": origin}
           for i, (src, _, origin, att) in zip(ids, chosen)}
    _write(out / STUDY_FILE, study)
    _write(out / KEY_FILE, key)
    counts = {name: k for name in sorted(pools)}
    counts[ATTENTION_SOURCE] = n_attention
    _write(out / MANIFEST_FILE, {
        "format": FORMAT_VERSION, "study_id": study["study_id"], "seed": seed, "per_source": k,
        "counts": counts, "n_items": len(chosen), "available": {n: len(p) for n, p in sorted(pools.items())},
        "files": {STUDY_FILE: file_digest(out / STUDY_FILE), KEY_FILE: file_digest(out / KEY_FILE)},
        "tool_calls": "dropped", "note": "key.json holds the sources: never serve it to annotators"})
    return out


def load_study(study_dir: str | Path) -> dict:
    """``study.json`` of a study directory, checked against the manifest's checksum."""
    d = Path(study_dir)
    path = d / STUDY_FILE
    if not path.is_file():
        raise StudyError(f"{d}: no {STUDY_FILE} (build the study first)")
    manifest = d / MANIFEST_FILE
    if manifest.is_file():
        want = json.loads(manifest.read_text(encoding="utf-8"))["files"][STUDY_FILE]
        if file_digest(path) != want:
            raise StudyError(f"{path} does not match its manifest checksum (edited after building?)")
    study = json.loads(path.read_text(encoding="utf-8"))
    if not study.get("items"):
        raise StudyError(f"{path}: no items")
    return study


def load_key(study_dir: str | Path) -> dict:
    """``key.json``: item id → ``{"source", "is_attention_check", "origin"}``."""
    path = Path(study_dir) / KEY_FILE
    if not path.is_file():
        raise StudyError(f"{path}: missing (the source key is needed to export answers)")
    return json.loads(path.read_text(encoding="utf-8"))


def display_order(study: dict, annotator: str) -> list[str]:
    """Item ids in the order ``annotator`` sees them: seeded by the study seed and annotator id."""
    ids = [item["id"] for item in study["items"]]
    random.Random(f"{study['seed']}:{annotator}").shuffle(ids)
    return ids
