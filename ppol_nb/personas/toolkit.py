"""What a generator program may import: the fixed infrastructure under G(c, D, N).

A generator program (the seed, or one an LLM evolved) is untrusted source that
runs in the sandbox (:mod:`.sandbox`). It decides *what* to ask — axes, prompts,
control flow — while this module does the plumbing that must not be mutated:

* :func:`chat` — one proxied LLM call (the program's ``llm`` handle lives in the
  parent process; see :mod:`.sandbox_child`);
* :func:`population` — the joint population call: JSON parsing, member
  validation, and an error (never padding) when fewer than ``n`` members are valid;
* :func:`expand` / :func:`expand_all` — one expansion call per member, run
  concurrently on threads;
* :func:`parse_json`, :func:`fill`, :func:`format_context`, :func:`format_axes`,
  :func:`playbooks` — text helpers for writing prompts.

A call carries nothing but its messages and sampling settings: the offline
generator model (:mod:`ppol_nb.offline.generator`) reads the same prompt text a
real LLM would, so an edit to a prompt or a playbook reaches both worlds.

Only the standard library and :mod:`.record` are imported here, because this
module is loaded in every sandbox child and its start-up cost is paid per run.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

from .record import MIN_INSTRUCTION_CHARS

# The paper's generation settings (§2, from the authors' code).
POPULATION_TEMPERATURE = 0.8
POPULATION_MAX_TOKENS = 8000
EXPANSION_TEMPERATURE = 0.7
EXPANSION_MAX_TOKENS = 800
MAX_EXPANSION_WORKERS = 8

AXIS_FIELDS = ("name", "definition", "on_playbook", "off_playbook")
CONTEXT_FIELDS = ("domain", "reason_for_call", "known_info", "unknown_info", "task_instructions")
_MIN_DESCRIPTION_CHARS = 10
MAX_AXES = 32
MAX_AXIS_TEXT_CHARS = 2_000
MAX_AXES_JSON_CHARS = 100_000  # extra keys are allowed, but not to carry megabytes into the run's records
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # as in record.Persona.validate


class ToolkitError(Exception):
    """Base of the errors the toolkit raises inside a program."""


class AxesError(ToolkitError):
    """``DIVERSITY_AXES`` breaks the axis contract."""


class PopulationError(ToolkitError):
    """The population call yielded fewer valid members than asked for."""


class LLMCallError(ToolkitError):
    """A proxied LLM call failed (endpoint error, call budget spent, bad request)."""


# -- axes -----------------------------------------------------------------------------


def axis_names(axes: list[dict]) -> list[str]:
    return [a["name"] for a in axes]


def validate_axes(axes) -> list[dict]:
    """Check the axis contract and return ``axes``; raise :class:`AxesError` otherwise.

    Each axis is a dict with ``name``, ``definition``, ``on_playbook`` and
    ``off_playbook`` (strings) — the paper's interface — plus an optional
    ``clashes_with`` list of other axis names. Other keys are left alone.
    """
    if not isinstance(axes, list) or not axes:
        raise AxesError("DIVERSITY_AXES must be a non-empty list of dicts")
    if len(axes) > MAX_AXES:
        raise AxesError(f"DIVERSITY_AXES has {len(axes)} axes; the limit is {MAX_AXES}")
    seen = set()
    for i, axis in enumerate(axes):
        if not isinstance(axis, dict):
            raise AxesError(f"axis #{i} is a {type(axis).__name__}, not a dict")
        missing = [f for f in AXIS_FIELDS if f not in axis]
        if missing:
            raise AxesError(f"axis #{i} ({axis.get('name', '?')!r}) is missing fields {missing}")
        name = axis["name"]
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,47}", name):
            raise AxesError(f"axis #{i}: name {name!r} must be an identifier-like string (letters, digits, _)")
        if name in seen:
            raise AxesError(f"axis name {name!r} is used twice")
        seen.add(name)
        for f in ("definition", "on_playbook", "off_playbook"):
            if not isinstance(axis[f], str) or not axis[f].strip():
                raise AxesError(f"axis {name!r}: {f} must be a non-empty string")
            if len(axis[f]) > MAX_AXIS_TEXT_CHARS or _CONTROL.search(axis[f]):
                raise AxesError(f"axis {name!r}: {f} must be at most {MAX_AXIS_TEXT_CHARS} characters with no "
                                "control characters other than newline and tab")
    try:
        size = len(json.dumps(axes, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise AxesError(f"DIVERSITY_AXES is not plain JSON data: {exc}") from None
    if size > MAX_AXES_JSON_CHARS:
        raise AxesError(f"DIVERSITY_AXES is {size} characters as JSON; the limit is {MAX_AXES_JSON_CHARS}")
    for axis in axes:
        clashes = axis.get("clashes_with", [])
        if not isinstance(clashes, list) or any(not isinstance(c, str) or c not in seen for c in clashes):
            raise AxesError(f"axis {axis['name']!r}: clashes_with must list names of other axes, got {clashes!r}")
    return axes


def clash_pairs(axes: list[dict]) -> set[frozenset]:
    """Pairs of axes declared incompatible (at most one of each pair may be on)."""
    return {frozenset((a["name"], c)) for a in axes for c in a.get("clashes_with", []) if c != a["name"]}


_TRUE = {"true", "on", "yes", "1", "y", "active"}
_FALSE = {"false", "off", "no", "0", "n", "inactive", ""}


def as_bool(value) -> bool | None:
    """A placement value as a bool; None when it cannot be read as one.

    ``bool("false")`` is True, so LLM placements are never passed to ``bool``.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return None


def normalise_placement(raw, axes: list[dict]) -> dict[str, bool] | None:
    """A complete ``{axis: bool}`` for ``axes`` from an LLM's placement, or None if unusable.

    Axes the LLM left out count as off; names that are not axes are dropped (a
    stray key is noise, not a reason to lose the member); unreadable values
    make the member invalid.
    """
    if isinstance(raw, list):  # some models list the active axes instead
        raw = {str(name): True for name in raw}
    if not isinstance(raw, dict):
        return None
    out = {}
    for name in axis_names(axes):
        if name not in raw:
            out[name] = False
            continue
        value = as_bool(raw[name])
        if value is None:
            return None
        out[name] = value
    return out


# -- text helpers -----------------------------------------------------------------------


def fill(template: str, **values) -> str:
    """Replace ``{name}`` for the given names only; other braces (JSON examples) stay."""
    def sub(m: re.Match) -> str:
        return str(values[m.group(1)]) if m.group(1) in values else m.group(0)

    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, template)


def format_context(context: dict) -> str:
    """The user's task context as labelled lines, in a fixed order."""
    labels = {
        "domain": "Domain",
        "persona": "Base persona",
        "reason_for_call": "Reason for contacting support",
        "known_info": "What the user knows",
        "unknown_info": "What the user does not know",
        "task_instructions": "Further instructions",
    }
    lines = []
    for key, label in labels.items():
        value = str(context.get(key) or "").strip()
        if value and value != ".":
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


def format_axes(axes: list[dict]) -> str:
    """Every axis with its definition and both playbooks, for the population prompt."""
    blocks = []
    for a in axes:
        block = (f"- {a['name']}: {a['definition'].strip()}\n"
                 f"    when ON: {a['on_playbook'].strip()}\n"
                 f"    when OFF: {a['off_playbook'].strip()}")
        if a.get("clashes_with"):
            block += f"\n    never ON together with: {', '.join(a['clashes_with'])}"
        blocks.append(block)
    return "\n".join(blocks)


def playbooks(axes: list[dict], placement: dict, include_off: bool = True) -> str:
    """The playbooks a member's placement selects: ON text of active axes, OFF text of the rest."""
    lines = []
    for a in axes:
        on = bool(placement.get(a["name"], False))
        if on:
            lines.append(f"- {a['name']} (active): {a['on_playbook'].strip()}")
        elif include_off:
            lines.append(f"- {a['name']} (inactive): {a['off_playbook'].strip()}")
    return "\n".join(lines)


def word_count(text: str) -> int:
    return len(re.findall(r"\S+", text or ""))


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def parse_json(text: str):
    """The JSON value in an LLM reply: bare, inside a ```json fence, or after some prose.

    Raises ``ValueError`` when no JSON value can be found.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected text, got {type(text).__name__}")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for chunk in candidates:
        chunk = chunk.strip()
        try:
            return json.loads(chunk)
        except ValueError:
            pass
        # Prose around the value: decode from the first bracket that parses.
        for m in re.finditer(r"[\[{]", chunk):
            try:
                value, _ = decoder.raw_decode(chunk[m.start():])
                return value
            except ValueError:
                continue
    raise ValueError(f"no JSON value found in reply: {text[:160]!r}")


def clean_instruction(text: str) -> str:
    """An expansion reply as plain instruction text: no fences, headings or wrapping quotes."""
    text = (text or "").strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    text = re.sub(r"^(#+\s*)?(roleplay )?instructions?\s*:\s*", "", text, flags=re.IGNORECASE)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


# -- LLM calls ----------------------------------------------------------------------------


def chat(llm, system: str, prompt: str, *, temperature: float, max_tokens: int) -> str:
    """One LLM call through the program's ``llm`` handle; returns the reply text."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    return llm.chat(messages, temperature=temperature, max_tokens=max_tokens)


def _members(value) -> list:
    """The member list of a population reply (a bare array or wrapped in an object)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in ("personas", "population", "members", "people"):
            if isinstance(value.get(key), list):
                return value[key]
    raise PopulationError(f"population reply is a {type(value).__name__}, not a list of members")


def population(llm, system: str, prompt: str, n: int, axes: list[dict], *, context: dict | None = None,
               temperature: float = POPULATION_TEMPERATURE, max_tokens: int = POPULATION_MAX_TOKENS) -> list[dict]:
    """Phase 1: ``n`` members chosen together in one call.

    Returns ``n`` dicts with ``persona_id``, ``description``, ``reasoning`` and a
    complete boolean ``axis_placement``. Invalid members are dropped; if fewer
    than ``n`` remain this raises :class:`PopulationError` — the paper's code
    raises rather than pads, so a short population is visible, not hidden.
    """
    text = chat(llm, system, prompt, temperature=temperature, max_tokens=max_tokens)
    try:
        raw = _members(parse_json(text))
    except ValueError as exc:
        raise PopulationError(f"population reply is not JSON: {exc}") from None
    valid, used_ids = [], set()
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            continue
        description = str(m.get("description") or "").strip()
        placement = normalise_placement(m.get("axis_placement", m.get("placement")), axes)
        if len(description) < _MIN_DESCRIPTION_CHARS or placement is None:
            continue
        pid = str(m.get("persona_id") or m.get("id") or f"member_{i}").strip() or f"member_{i}"
        if pid in used_ids:
            pid = f"{pid}_{i}"
        used_ids.add(pid)
        valid.append({"persona_id": pid, "description": description, "axis_placement": placement,
                      "reasoning": str(m.get("reasoning") or "").strip()})
    if len(valid) < n:
        raise PopulationError(f"asked for {n} members, the population reply had {len(valid)} valid "
                              f"({len(raw)} returned)")
    return valid[:n]


def expand(llm, system: str, prompt: str, member: dict, axes: list[dict], context: dict, *,
           temperature: float = EXPANSION_TEMPERATURE, max_tokens: int = EXPANSION_MAX_TOKENS) -> str:
    """Phase 2 for one member: the roleplay instruction text.

    A reply shorter than the record's minimum is asked for once more before
    giving up (the paper drops such strings; dropping here would only turn into
    a short population later).
    """
    for attempt in range(2):
        # A retry is sent hotter, as one would re-ask a model that answered too briefly.
        text = clean_instruction(chat(llm, system, prompt, max_tokens=max_tokens,
                                      temperature=min(2.0, temperature + 0.2 * attempt)))
        if len(text) >= MIN_INSTRUCTION_CHARS:
            return text
    raise LLMCallError(f"expansion of {member.get('persona_id')!r} came back too short twice: {text!r}")


def expand_all(llm, fn, members: list, max_workers: int = MAX_EXPANSION_WORKERS) -> list:
    """``[fn(llm, m) for m in members]``, run concurrently on threads, order kept.

    The first exception raised by ``fn`` propagates (after the other calls end).
    """
    if not members:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(members))),
                            thread_name_prefix="expand") as pool:
        futures = [pool.submit(fn, llm, m) for m in members]
        return [f.result() for f in futures]
