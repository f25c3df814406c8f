"""The ABCD sample: three real retail customer-service chats (Chen et al. 2021, ASAPP).

File layout (``abcd_sample.json``): a list of conversations, each with
``convo_id``, ``scenario``, ``delexed`` and ``original`` — the raw chat as a list
of ``[speaker, text]`` pairs where ``speaker`` is ``"customer"``, ``"agent"`` or
``"action"``. ``action`` rows are system log lines recording the agent's tool
actions, not typed text, so they are dropped.

Three dialogues are too few to split, so ``split`` is None; the sample serves as
a test fixture and as examples of real retail phrasing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..domains import with_corpus
from .licences import SOURCES
from .paths import find_corpus_file
from .schema import Corpus, Dialogue, Turn

SOURCE = "abcd"
(DOMAIN,) = with_corpus(SOURCE)  # the one τ² domain the registry (ppol_nb.domains) gives ABCD's dialogues
ROLE_OF_SPEAKER = {"customer": "user", "agent": "agent"}


def parse_abcd(data: list[dict[str, Any]]) -> list[Dialogue]:
    """Dialogues from parsed ABCD JSON (see module docstring for the layout)."""
    if not isinstance(data, list):
        raise ValueError("ABCD JSON must be a list of conversations with an 'original' field")
    licence = SOURCES[SOURCE].licence
    dialogues = []
    for convo in data:
        original = convo.get("original")
        if not isinstance(original, list):
            raise ValueError(f"ABCD conversation {convo.get('convo_id')!r} has no 'original' list")
        turns = tuple(
            Turn(ROLE_OF_SPEAKER[speaker], text.strip())
            for speaker, text in original
            if speaker in ROLE_OF_SPEAKER and text.strip()
        )
        dialogues.append(
            Dialogue(
                dialogue_id=f"abcd-{convo['convo_id']}",
                source=SOURCE,
                domain=DOMAIN,
                task_id=None,
                split=None,
                turns=turns,
                licence=licence,
            )
        )
    return dialogues


def load_abcd(path: str | Path | None = None) -> Corpus:
    """The ABCD sample as a :class:`Corpus` (customer -> user, agent -> agent, domain "retail").

    ``path`` defaults to ``abcd/abcd_sample.json`` found by the look-up order of
    :mod:`ppol_nb.humans.paths` (missing: ``ppol-nb data fetch abcd``).
    """
    path = find_corpus_file(SOURCE, path)
    terms = SOURCES[SOURCE]
    return Corpus(
        name="abcd",
        dialogues=parse_abcd(json.loads(path.read_text(encoding="utf-8"))),
        licence=terms.licence,
        attribution=terms.attribution,
        research_only=terms.research_only,
        llm_training_allowed=terms.llm_training_allowed,
        notes="ABCD sample: 3 dialogues, too few to split (split=None).",
    )
