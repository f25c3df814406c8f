"""One schema for every human dialogue corpus: Turn, Dialogue, Corpus.

Each loader in :mod:`ppol_nb.humans` turns its source format into these frozen
dataclasses, so fingerprinting, discriminator training and coverage never see a
source-specific layout. Dialogues round-trip through plain JSON
(:meth:`Dialogue.to_dict` / :meth:`Dialogue.from_dict`), which is also the line
format of :func:`ppol_nb.humans.load_jsonl`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

ROLES = ("user", "agent")

# Sentinel so Corpus.filter can tell "no filter" from "filter for split None".
_ANY: Any = object()


@dataclass(frozen=True)
class Turn:
    """One message: ``role`` is ``"user"`` (the human customer) or ``"agent"``."""

    role: str
    text: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"turn role must be one of {ROLES}, got {self.role!r}")
        if not isinstance(self.text, str):
            raise TypeError(f"turn text must be str, got {type(self.text).__name__}")

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "text": self.text}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn:
        return cls(role=data["role"], text=data["text"])


@dataclass(frozen=True)
class Dialogue:
    """One human conversation with a service agent.

    ``task_id`` and ``split`` are the τ² task id and its official split
    (``"train"``/``"test"``) when the dialogue was collected on a τ² task
    (TAU-USI); other corpora use ``None`` or their own split names (MultiWOZ:
    ``"reference"``/``"heldout"``).
    """

    dialogue_id: str
    source: str
    domain: str
    task_id: str | None
    split: str | None
    turns: tuple[Turn, ...]
    licence: str

    def __post_init__(self) -> None:
        # Accept any iterable of turns but store a tuple, so the dataclass stays immutable.
        if not isinstance(self.turns, tuple):
            object.__setattr__(self, "turns", tuple(self.turns))
        for turn in self.turns:
            if not isinstance(turn, Turn):
                raise TypeError(f"dialogue {self.dialogue_id!r}: turns must be Turn objects")
        if not self.licence:
            raise ValueError(f"dialogue {self.dialogue_id!r} has no licence")

    @property
    def user_turns(self) -> list[str]:
        """Texts of the human (user) turns, in order."""
        return [t.text for t in self.turns if t.role == "user"]

    @property
    def agent_turns(self) -> list[str]:
        return [t.text for t in self.turns if t.role == "agent"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialogue_id": self.dialogue_id,
            "source": self.source,
            "domain": self.domain,
            "task_id": self.task_id,
            "split": self.split,
            "turns": [t.to_dict() for t in self.turns],
            "licence": self.licence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dialogue:
        missing = [k for k in ("dialogue_id", "source", "domain", "turns", "licence") if k not in data]
        if missing:
            raise ValueError(f"dialogue record is missing field(s) {missing}")
        task_id = data.get("task_id")
        return cls(
            dialogue_id=str(data["dialogue_id"]),
            source=str(data["source"]),
            domain=str(data["domain"]),
            task_id=None if task_id is None else str(task_id),
            split=data.get("split"),
            turns=tuple(Turn.from_dict(t) for t in data["turns"]),
            licence=str(data["licence"]),
        )


@dataclass(frozen=True)
class Corpus:
    """A named set of dialogues plus the terms they come with.

    ``research_only`` and ``llm_training_allowed`` travel with the data so that
    :func:`ppol_nb.humans.assert_trainable` can refuse a training export built
    from a corpus whose terms forbid it (TAU-USI).
    """

    name: str
    dialogues: list[Dialogue]
    licence: str
    attribution: str
    research_only: bool
    llm_training_allowed: bool
    notes: str = field(default="", compare=False)

    def __len__(self) -> int:
        return len(self.dialogues)

    def __iter__(self):
        return iter(self.dialogues)

    @property
    def user_turn_count(self) -> int:
        return sum(len(d.user_turns) for d in self.dialogues)

    @property
    def user_turns(self) -> list[str]:
        """All user turn texts, dialogue by dialogue."""
        return [text for d in self.dialogues for text in d.user_turns]

    def to_frame(self):
        """One row per dialogue: id, source, domain, task id, split, user-turn count."""
        import pandas as pd  # local: keep `import ppol_nb.humans` light

        columns = ["dialogue_id", "source", "domain", "task_id", "split", "n_user_turns"]
        rows = [
            (d.dialogue_id, d.source, d.domain, d.task_id, d.split, len(d.user_turns))
            for d in self.dialogues
        ]
        return pd.DataFrame(rows, columns=columns)

    def filter(self, domain: str | None = _ANY, split: str | None = _ANY) -> Corpus:
        """Dialogues matching ``domain`` and/or ``split``; omitted arguments do not filter.

        ``split=None`` keeps only dialogues *without* a split (e.g. TAU-USI records
        whose task is not in τ²).
        """
        kept = [
            d
            for d in self.dialogues
            if (domain is _ANY or d.domain == domain) and (split is _ANY or d.split == split)
        ]
        return replace(self, dialogues=kept)

    def with_dialogues(self, dialogues: Iterable[Dialogue]) -> Corpus:
        """Same name and terms, different dialogues."""
        return replace(self, dialogues=list(dialogues))

    def summary(self) -> dict[str, Any]:
        splits: dict[str, int] = {}
        for d in self.dialogues:
            splits[str(d.split)] = splits.get(str(d.split), 0) + 1
        return {
            "name": self.name,
            "dialogues": len(self.dialogues),
            "user_turns": self.user_turn_count,
            "domains": sorted({d.domain for d in self.dialogues}),
            "splits": splits,
            "licence": self.licence,
            "research_only": self.research_only,
            "llm_training_allowed": self.llm_training_allowed,
        }
