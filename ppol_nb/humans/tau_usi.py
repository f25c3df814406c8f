r"""TAU-USI: the human reference dialogues PPol scores against (Zhou et al. 2026).

451 Prolific participants role-played τ-bench retail and airline customers
against an LLM agent ("Mind the Sim2Real Gap in User Simulation for Agentic
Tasks", arXiv:2603.11245). The data is the Hugging Face dataset
``cmu-lti/tau-usi``, file ``data/tau_bench_tasks_unified.json`` (~15 MB). It is
gated and CC-BY-NC-4.0: research use only, and its terms forbid training or
fine-tuning LLMs on it — :func:`ppol_nb.humans.assert_trainable` refuses it.

Assumed file layout
-------------------
The real file could not be inspected while writing this parser, so it accepts a
family of plausible layouts. Check yours against this list::

    {                                         # top level: object keyed by instance id
      "retail_12_ann2": {                     # "<domain>_<τ-bench task index>[_ann<annotator>]"
        "conversation": [                     # or "messages" / "turns" / "dialogue"
          {"role": "user",      "content": "\\tau task_index: 12 ... model: ..."},   # setup line
          {"role": "assistant", "content": "<|canvas|> ...task instruction..."},     # canvas
          {"role": "assistant", "content": "Hi! How can I help you today?"},
          {"role": "user",      "content": "hi, I need to return something"},
          ...
          {"role": "user",      "content": "/stop"}
        ],
        "reward": 1.0, "survey": {...}        # other fields are ignored
      },
      ...
    }

* The top level may also be a list of records carrying their id in
  ``instance_id`` / ``id`` / ``key`` / ``episode_id``.
* A message's role may be under ``role`` / ``speaker`` / ``from`` / ``author``
  (``user``/``human``/``customer`` -> user; ``assistant``/``agent``/``gpt``/
  ``bot``/``model`` -> agent; ``system``/``tool``/``function``/``developer``
  messages — tool observations, prompts — are dropped), its text under
  ``content`` / ``text`` / ``value`` / ``message`` (a list of ``{"text": ...}``
  parts is joined).
* Domain and τ-bench task index come from the record's ``domain`` /
  ``env_name`` / ``env`` and ``task_index`` fields when present, else from the
  key, else from the setup line (``task_index: N``, ``env: retail``).

Platform scaffolding removed before anything else sees the dialogue:

1. setup lines — messages starting with ``\tau`` (also ``\reward``);
2. any message carrying a platform marker ``<|canvas|>``, ``<|highlight|>`` or
   ``<|survey|>`` (the instruction canvas);
3. when a setup line was present but no marked canvas, the first agent message
   before the participant's first real message — the brief for this module
   says the first assistant turn carries the canvas;
4. the participant's ``/stop`` command (a standalone ``/stop`` message is
   dropped; a trailing ``/stop`` is cut off).

Dialogues with fewer than ``keep_min_user_turns`` user turns left are dropped.
(The PPol authors' loader keeps dialogues with at least 2 turns of any role;
counting user turns is stricter.)

Task ids and splits
-------------------
The key's index is a τ-bench index, which is *not* always the τ² task id (see
:mod:`ppol_nb.humans.tau_bench_ids`). By default (``task_ids="tau2"``) it is
translated to the τ² id, and ``split`` is that task's official τ² split
(``split_of``). ``task_ids="index"`` uses the index verbatim, as the PPol
authors' code does. Indices τ² does not know give ``task_id=None, split=None``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..domains import with_corpus
from .licences import SOURCES
from .paths import fetch_command, find_corpus_file, locate_corpus_file, missing_corpus_message
from .schema import Corpus, Dialogue, Turn
from .tau_bench_ids import TASK_ID_MODES, tau2_task_id

SOURCE = "tau-usi"
HF_REPO_ID = "cmu-lti/tau-usi"
HF_FILENAME = "data/tau_bench_tasks_unified.json"
TAU2_DOMAINS = with_corpus(SOURCE)  # the registry's domains with TAU-USI dialogues (ppol_nb.domains)

MESSAGE_KEYS = ("conversation", "messages", "turns", "dialogue")
ID_KEYS = ("instance_id", "id", "key", "episode_id")
ROLE_KEYS = ("role", "speaker", "from", "author")
TEXT_KEYS = ("content", "text", "value", "message")
USER_ROLES = {"user", "human", "customer"}
AGENT_ROLES = {"assistant", "agent", "gpt", "bot", "model"}
PLATFORM_MARKERS = ("<|canvas|>", "<|highlight|>", "<|survey|>")

_KEY_RE = re.compile(r"^(?P<domain>[A-Za-z]+)_(?P<index>\d+)(?:_(?P<suffix>.+))?$")
# A JSON writer that forgot to escape the backslash turns "\tau" into TAB + "au"
# and "\reward" into CR + "eward"; match those spellings too.
_SETUP_RE = re.compile(r"^\s*(?:\\tau\b|\tau\b|au\s+task_index\b|\\reward\b|\reward\b)")
_SETUP_INDEX_RE = re.compile(r"task_index\s*[:=]\s*(\d+)")
_SETUP_DOMAIN_RE = re.compile(r"\b(?:env_name|env|domain)\s*[:=]\s*([A-Za-z]+)")
_STOP_RE = re.compile(r"\s*/stop\s*$", re.IGNORECASE)


class TauUsiUnavailable(RuntimeError):
    """TAU-USI could not be read or downloaded."""


def _first(mapping: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        if key in mapping and mapping[key] is not None:
            return mapping[key]
    return None


def _message_text(message: Mapping[str, Any]) -> str:
    value = _first(message, TEXT_KEYS)
    if isinstance(value, list):  # content given as parts: [{"type": "text", "text": ...}]
        value = " ".join(str(p.get("text", "")) if isinstance(p, Mapping) else str(p) for p in value)
    return "" if value is None else str(value)


def _message_role(message: Mapping[str, Any]) -> str | None:
    role = str(_first(message, ROLE_KEYS) or "").strip().lower()
    if role in USER_ROLES:
        return "user"
    if role in AGENT_ROLES:
        return "agent"
    return None  # system prompts, tool calls/observations: not dialogue


def _records(data: Any) -> list[tuple[str, Any]]:
    if isinstance(data, Mapping):
        return [(str(k), v) for k, v in data.items()]
    if isinstance(data, list):
        out = []
        for i, record in enumerate(data):
            rid = _first(record, ID_KEYS) if isinstance(record, Mapping) else None
            out.append((str(rid) if rid is not None else f"tau-usi-{i}", record))
        return out
    raise ValueError("TAU-USI JSON must be an object keyed by instance id or a list of records")


def _messages(record: Any) -> list[Mapping[str, Any]]:
    if isinstance(record, list):
        return [m for m in record if isinstance(m, Mapping)]
    if isinstance(record, Mapping):
        msgs = _first(record, MESSAGE_KEYS)
        if isinstance(msgs, list):
            return [m for m in msgs if isinstance(m, Mapping)]
    return []


def clean_conversation(messages: list[Mapping[str, Any]]) -> tuple[list[Turn], dict[str, str]]:
    """Strip platform scaffolding (rules in the module docstring).

    Returns the dialogue turns and what the setup line said (``task_index``,
    ``domain``) when it said it.
    """
    setup: dict[str, str] = {}
    kept: list[tuple[str, str]] = []
    saw_setup = saw_canvas = saw_real_user = False
    for message in messages:
        role = _message_role(message)
        raw = _message_text(message)
        text = raw.strip()
        if role is None or not text:
            continue
        if _SETUP_RE.match(raw):  # raw, so a TAB or CR from a mis-escaped backslash still counts
            saw_setup = True
            if m := _SETUP_INDEX_RE.search(text):
                setup.setdefault("task_index", m.group(1))
            if m := _SETUP_DOMAIN_RE.search(text):
                setup.setdefault("domain", m.group(1).lower())
            continue
        if any(marker in text for marker in PLATFORM_MARKERS):
            saw_canvas = True
            continue
        if role == "user":
            text = _STOP_RE.sub("", text).strip() if text.lower() != "/stop" else ""
            if not text:
                continue
            saw_real_user = True
        kept.append((role, text))
        if role == "agent" and not saw_real_user:
            kept[-1] = ("agent-lead", text)  # provisional: may be the unmarked canvas
    leading = [i for i, (role, _) in enumerate(kept) if role == "agent-lead"]
    if saw_setup and not saw_canvas and leading:
        del kept[leading[0]]
    turns = [Turn("agent" if role == "agent-lead" else role, text) for role, text in kept]
    return turns, setup


def _default_split_lookup(domain: str, task_id: str) -> str | None:
    # Imported here so parsing a file does not pay for importing τ² until a split is needed.
    from ppol_nb.simulation.tau2_bridge import split_of

    return split_of(domain, task_id)


def parse_tau_usi(
    data: Any,
    keep_min_user_turns: int = 2,
    task_ids: str = "tau2",
    split_lookup: Callable[[str, str], str | None] | None = None,
) -> tuple[list[Dialogue], dict[str, int]]:
    """Dialogues from parsed TAU-USI JSON, plus counts of what was kept and dropped."""
    if task_ids not in TASK_ID_MODES:
        raise ValueError(f"unknown task_ids {task_ids!r}; expected one of {TASK_ID_MODES}")
    lookup = split_lookup or _default_split_lookup
    licence = SOURCES[SOURCE].licence
    stats = {"records": 0, "kept": 0, "dropped_short": 0, "no_messages": 0, "no_tau2_task": 0}
    dialogues = []
    for key, record in _records(data):
        stats["records"] += 1
        messages = _messages(record)
        if not messages:
            stats["no_messages"] += 1
            continue
        turns, setup = clean_conversation(messages)
        if sum(t.role == "user" for t in turns) < keep_min_user_turns:
            stats["dropped_short"] += 1
            continue
        meta = record if isinstance(record, Mapping) else {}
        key_match = _KEY_RE.match(key)
        domain = str(
            _first(meta, ("domain", "env_name", "env"))
            or (key_match and key_match.group("domain"))
            or setup.get("domain")
            or "unknown"
        ).lower()
        index = _first(meta, ("task_index",))
        if index is None:
            index = key_match.group("index") if key_match else setup.get("task_index")
        task_id = split = None
        if domain in TAU2_DOMAINS and index is not None and str(index).strip().isdigit():
            candidate = tau2_task_id(domain, int(index), mode=task_ids)
            split = lookup(domain, candidate) if candidate is not None else None
            task_id = candidate if split is not None else None
        if task_id is None:
            stats["no_tau2_task"] += 1
        dialogues.append(
            Dialogue(
                dialogue_id=key,
                source=SOURCE,
                domain=domain,
                task_id=task_id,
                split=split,
                turns=tuple(turns),
                licence=licence,
            )
        )
        stats["kept"] += 1
    return dialogues, stats


def download_tau_usi(token: str | None = None) -> Path:
    """Path of the TAU-USI JSON in the Hugging Face cache, downloading it if needed.

    Needs a Hugging Face token of an account that accepted the dataset's terms
    (``token=`` or ``$HF_TOKEN``).
    """
    try:
        # Lazy: only this download needs it.
        from huggingface_hub import hf_hub_download
    except ImportError as exc:  # pragma: no cover - huggingface_hub is a dependency of tau2
        raise TauUsiUnavailable(
            "huggingface_hub is not installed; install it or pass path= to a local copy of "
            f"{HF_FILENAME}"
        ) from exc
    token = token or os.environ.get("HF_TOKEN") or None
    try:
        return Path(
            hf_hub_download(repo_id=HF_REPO_ID, filename=HF_FILENAME, repo_type="dataset", token=token)
        )
    except Exception as exc:  # gated/unauthorised/offline errors all land here
        raise TauUsiUnavailable(
            f"could not download TAU-USI ({HF_REPO_ID}, {HF_FILENAME}): "
            f"{type(exc).__name__}: {exc}\n"
            "TAU-USI is a gated dataset under CC-BY-NC-4.0: research use only, and its terms "
            "forbid training or fine-tuning LLMs on it. To use it: log in at "
            f"https://huggingface.co/datasets/{HF_REPO_ID}, accept the terms, and pass token= "
            f"or set HF_TOKEN; then run `{fetch_command(SOURCE)}` once to keep a verified copy "
            "in your data directory, or download the file yourself and call "
            "load_tau_usi(path='.../tau_bench_tasks_unified.json')."
        ) from exc


def load_tau_usi(
    path: str | Path | None = None,
    token: str | None = None,
    keep_min_user_turns: int = 2,
    task_ids: str = "tau2",
    split_lookup: Callable[[str, str], str | None] | None = None,
) -> Corpus:
    """TAU-USI human dialogues as a :class:`Corpus` (layout and rules: module docstring).

    ``path`` reads a local copy. Without it, the look-up order of
    :mod:`ppol_nb.humans.paths` finds ``tau-usi/tau_bench_tasks_unified.json``
    (``$PPOL_DATA_DIR``, the shared folder, the user data directory that
    ``ppol-nb data fetch tau-usi`` fills); failing that the file is fetched
    from the Hugging Face Hub with ``token`` or ``$HF_TOKEN`` into the Hub's
    cache (raises :class:`TauUsiUnavailable` with instructions when that
    fails). ``split_lookup(domain, task_id)`` overrides the τ² split lookup
    (default: the official ``split_tasks.json``).
    """
    if path is None:
        hit = locate_corpus_file(SOURCE)
        if hit is not None:
            path = hit[1]
        else:
            try:
                path = download_tau_usi(token)
            except TauUsiUnavailable as exc:
                raise TauUsiUnavailable(f"{exc}\n\n{missing_corpus_message(SOURCE)}") from exc.__cause__
    path = find_corpus_file(SOURCE, path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TauUsiUnavailable(f"{path} is not valid JSON: {exc}") from exc
    dialogues, stats = parse_tau_usi(
        data, keep_min_user_turns=keep_min_user_turns, task_ids=task_ids, split_lookup=split_lookup
    )
    terms = SOURCES[SOURCE]
    return Corpus(
        name="tau-usi",
        dialogues=dialogues,
        licence=terms.licence,
        attribution=terms.attribution,
        research_only=terms.research_only,
        llm_training_allowed=terms.llm_training_allowed,
        notes=(
            f"TAU-USI from {path.name}: {stats['records']} records, {stats['kept']} kept, "
            f"{stats['dropped_short']} dropped with < {keep_min_user_turns} user turns, "
            f"{stats['no_messages']} without messages, {stats['no_tau2_task']} kept without a τ² "
            f"task; task ids mode {task_ids!r}. Research only; never train an LLM on it."
        ),
    )
