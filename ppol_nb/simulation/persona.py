"""The persona record: what PPol generates, injects and evolves (paper §2).

A persona is text, exactly as in the paper: an id, a short ``description`` of the
person, its ``axis_placement`` (axis name -> on/off), the generator's
``reasoning``, and the ``instruction`` — the persona policy P_π appended to τ²'s
user-simulator prompt (how to talk, never what to want). ``source`` records
which condition made it (``seed:<hash>``, ``dp``, ``trait:<name>``, ...).

Text is bounded (:meth:`Persona.validate`): at least
:data:`MIN_INSTRUCTION_CHARS` and at most :data:`MAX_INSTRUCTION_CHARS`
characters of instruction, :data:`MAX_DESCRIPTION_CHARS` of description,
:data:`MAX_REASONING_CHARS` of reasoning, and no C0 control character other
than newline and tab in any field (a generator is untrusted; see
:mod:`ppol_nb.personas.sandbox`).

There is no machine-readable side channel: every user simulator, the embedded
offline one included (:mod:`ppol_nb.offline.reader`), decides how to talk from
the instruction text alone.

This record sits in :mod:`ppol_nb.simulation` (it imports only the standard
library) because the episode runner rebuilds it from a job, and the runner is
below the persona room that generates personas (issue 23); ``ppol_nb.personas``
and ``ppol_nb.personas.record`` re-export it under its old names.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass

MIN_INSTRUCTION_CHARS = 40  # the paper's generator drops shorter persona strings
# Upper bounds on persona text. The paper's expansion call allows 800 tokens (~3,200 characters of
# English), so 8,000 leaves room for any honest instruction; a description is one or two sentences.
MAX_INSTRUCTION_CHARS = 8_000
MAX_DESCRIPTION_CHARS = 1_000
MAX_REASONING_CHARS = 4_000
MAX_ID_CHARS = 128
# C0 controls (and DEL) other than newline and tab: NUL, ESC sequences, carriage returns and the like
# would reach the run's records, terminals and the user simulator's prompt.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LIMITS = (("persona_id", MAX_ID_CHARS), ("description", MAX_DESCRIPTION_CHARS),
           ("instruction", MAX_INSTRUCTION_CHARS), ("reasoning", MAX_REASONING_CHARS), ("source", MAX_ID_CHARS))

class PersonaError(ValueError):
    """A persona (or a generator's output) that breaks the record's contract."""


def _persona_id(seed_text: str) -> str:
    # Stable: the same content always gets the same id, across runs and machines.
    return "p-" + hashlib.sha256(seed_text.encode()).hexdigest()[:10]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48] or "persona"


@dataclass(frozen=True)
class Persona:
    persona_id: str
    description: str
    axis_placement: dict[str, bool]
    reasoning: str
    instruction: str
    source: str = ""  # e.g. "seed:<program hash>", "dp", "trait:skeptical"

    # -- construction ------------------------------------------------------------------
    @classmethod
    def create(cls, description: str, instruction: str, axis_placement=None, reasoning: str = "",
               source: str = "", persona_id: str | None = None, axes=None) -> "Persona":
        """Build and validate; the id defaults to a stable hash of the content."""
        placement = {str(k): bool(v) for k, v in (axis_placement or {}).items()}
        pid = persona_id or _persona_id(json.dumps([description, instruction, sorted(placement.items())]))
        persona = cls(pid, description, placement, reasoning, instruction, source)
        persona.validate(axes)
        return persona

    def validate(self, axes=None) -> "Persona":
        """Raise :class:`PersonaError` naming the first problem found."""
        for name in ("persona_id", "description", "instruction"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise PersonaError(f"persona {self.persona_id!r}: field {name!r} is missing or empty")
        for name, limit in _LIMITS:
            value = getattr(self, name)
            if not isinstance(value, str):
                raise PersonaError(f"persona {self.persona_id!r}: field {name!r} is a {type(value).__name__}, "
                                   "not text")
            if len(value) > limit:
                raise PersonaError(f"persona {str(self.persona_id)[:40]!r}: {name} has {len(value)} characters; "
                                   f"the limit is {limit}")
            bad = _CONTROL.search(value)
            if bad:
                raise PersonaError(f"persona {str(self.persona_id)[:40]!r}: {name} holds the control character "
                                   f"{bad.group()!r} (only newline and tab are allowed)")
        for axis in self.axis_placement:
            if not isinstance(axis, str) or len(axis) > MAX_ID_CHARS or _CONTROL.search(axis):
                raise PersonaError(f"persona {str(self.persona_id)[:40]!r}: axis name {str(axis)[:40]!r} is not "
                                   "a short plain name")
        if len(self.instruction.strip()) < MIN_INSTRUCTION_CHARS:
            raise PersonaError(f"persona {self.persona_id!r}: instruction has {len(self.instruction.strip())} "
                               f"characters; at least {MIN_INSTRUCTION_CHARS} are required")
        if axes is not None:
            known = {a if isinstance(a, str) else a["name"] for a in axes}
            unknown = set(self.axis_placement) - known
            if unknown:
                raise PersonaError(f"persona {self.persona_id!r}: unknown axes {sorted(unknown)}; "
                                   f"the program defines {sorted(known)}")
        return self

    @property
    def active_axes(self) -> list[str]:
        return [a for a, on in self.axis_placement.items() if on]

    # -- JSON --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, axes=None) -> "Persona":
        if not isinstance(data, dict):
            raise PersonaError(f"a persona must be a JSON object, got {type(data).__name__}")
        missing = [k for k in ("description", "instruction") if k not in data]
        if missing:
            raise PersonaError(f"persona record is missing fields {missing} (has {sorted(data)})")
        return cls.create(
            description=str(data["description"]), instruction=str(data["instruction"]),
            axis_placement=data.get("axis_placement") or {}, reasoning=str(data.get("reasoning", "")),
            source=str(data.get("source", "")),
            persona_id=data.get("persona_id"), axes=axes,
        )


def validate_population(personas: list, n: int, axes=None) -> list[Persona]:
    """Turn a generator's output into exactly ``n`` valid, distinct personas or raise."""
    if not isinstance(personas, (list, tuple)):
        raise PersonaError(f"a generator must return a list of personas, got {type(personas).__name__}")
    if len(personas) != n:
        raise PersonaError(f"asked for {n} personas, the generator returned {len(personas)}")
    out = [p.validate(axes) if isinstance(p, Persona) else Persona.from_dict(p, axes=axes) for p in personas]
    ids = [p.persona_id for p in out]
    if len(set(ids)) != len(ids):
        raise PersonaError(f"persona ids are not unique: {ids}")
    return out
