"""The episode record: what one line of ``episodes.jsonl`` holds, as a typed, versioned model.

:class:`EpisodeRecord` (pydantic v2, like τ²'s ``SimulationRun``) is the one
definition of an episode line: the runner's dict is validated by it before it is
written (:meth:`EpisodeRecord.to_line`, so nothing malformed reaches the file) and
every line read back is validated by it again (:func:`parse_line`).

Guarantees:

* Typed and strict: a field of the wrong type (a string reward, a bool seed, a
  message without a role) and an unknown field are rejected, never coerced.
* Versioned: every line written carries ``schema_version`` (:data:`SCHEMA_VERSION`).
  A line without it was written before the model existed (schema 0, the same fields
  minus the version) and is migrated by stamping the version: nothing else changed.
  A line from a *newer* schema is refused with :class:`NewerSchemaError`, since this
  code cannot know what its fields mean.
* Field names are those the store wrote before the model, so ``load()`` dicts and
  DataFrames keep their columns; optional message keys (``tool_calls``,
  ``tool_call_id``, ``error``) are still left out when they do not apply.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    # strict: no silent coercion ("1" is not a number, true is not a seed); forbid: a typo is an error
    model_config = ConfigDict(strict=True, extra="forbid")


class ToolCall(_Strict):
    id: str
    name: str = Field(min_length=1)
    arguments: dict[str, Any]


class Message(_Strict):
    """One τ² message as recorded: role and text, plus tool calls / tool result fields."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None
    tool_calls: list[ToolCall] | None = None  # assistant (or user) turns that call tools
    tool_call_id: str | None = None  # tool results: the call answered
    error: bool | None = None  # tool results: whether the tool raised

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler):
        # Keep the line shape of the pre-model store: these keys appear only where they apply.
        data = handler(self)
        return {k: v for k, v in data.items() if v is not None or k in ("role", "content")}


class Preservation(_Strict):
    """The persona's static task-preservation report (:mod:`ppol_nb.personas.preservation`)."""

    ok: bool
    violations: list[str]


class PersonaRecord(_Strict):
    """A persona as the paper defines one, plus the preservation report its spec carried."""

    persona_id: str = Field(min_length=1)
    description: str
    axis_placement: dict[str, bool]
    reasoning: str
    instruction: str
    source: str
    preservation: Preservation | None = None


class EpisodeRecord(_Strict):
    """One episode: what ran (ids, condition, persona, backend, seed, cap), how it went, what it cost."""

    schema_version: int = SCHEMA_VERSION
    episode_id: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    task_id: str = Field(min_length=1)
    split: str | None  # None for a task outside τ²'s official splits
    condition: str
    persona: PersonaRecord | None
    backend: str
    user_model: str
    agent_model: str
    seed: int
    max_steps: int = Field(ge=1)
    reward: float | None  # None when the episode errored before it was scored
    reward_breakdown: dict[str, float] | None
    termination_reason: str | None
    messages: list[Message]
    error: str | None
    traceback: str | None = None  # only for errored episodes
    ppol_nb_version: str
    duration_s: float = Field(ge=0)
    llm_calls: int = Field(ge=0)
    cost_usd: float = Field(ge=0)

    def to_line(self) -> str:
        """The JSON line the store appends (no trailing newline)."""
        return self.model_dump_json()

    def to_dict(self) -> dict:
        """Plain dict with the store's field names (what ``EpisodeStore.load`` returns)."""
        return self.model_dump()


class RecordError(ValueError):
    """A JSON value that is not a valid episode record."""


class NewerSchemaError(ValueError):
    """A record written by a newer ppol_nb than this one (its schema is unknown here)."""


def migrate(data: dict) -> dict:
    """``data`` brought to :data:`SCHEMA_VERSION` (schema 0 = no version field, same fields)."""
    version = data.get("schema_version", 0)
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise NewerSchemaError(f"schema_version {version} is newer than this ppol_nb reads ({SCHEMA_VERSION}); "
                               f"upgrade ppol_nb to read it")
    if version == 0 and "schema_version" not in data:
        return {"schema_version": SCHEMA_VERSION, **data}
    return data


def parse_line(line: str) -> EpisodeRecord:
    """One JSON line as a validated record.

    Raises ``json.JSONDecodeError`` for text that is not JSON, :class:`NewerSchemaError`
    for a newer schema and :class:`RecordError` (with pydantic's messages) for the rest.
    """
    data = json.loads(line)
    if not isinstance(data, dict):
        raise RecordError(f"a record must be a JSON object, got {type(data).__name__}")
    try:
        return EpisodeRecord.model_validate(migrate(data))
    except ValidationError as exc:
        raise RecordError(describe(exc)) from exc


def describe(exc: ValidationError, limit: int = 3) -> str:
    """Pydantic's errors on one line: ``field.path: message (got value)``, the first ``limit`` of them."""
    parts = []
    for err in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "record"
        got = "" if err["type"] == "missing" else f" (got {_short(err.get('input'))})"
        parts.append(f"{where}: {err['msg']}{got}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _short(value, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."
