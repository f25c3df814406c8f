"""MultiWOZ 2.1 (ConvLab-2 packaging) as an offline, openly licensed human reference.

MultiWOZ users are crowd workers typing to a human "wizard" about hotels,
trains, taxis, restaurants and attractions. It is *not* τ²-bench: it stands in
for "real people typing to a service agent" when TAU-USI is unavailable, and
every result computed against it must say so.

File layout (``val.json`` inside ``val.json.zip``)::

    {"PMUL1635": {"goal": {...}, "log": [{"text": "...", "metadata": {...}, ...}, ...]}, ...}

``log`` alternates user, system, user, … starting with the user. The text is
tokenised ("does n't", " ."), so every turn goes through
:func:`ppol_nb.humans.text.detokenize`; style features computed on raw tokens
would count spaces before punctuation and split contractions.
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path
from typing import Any

from .licences import SOURCES
from .paths import find_corpus_file
from .schema import Corpus, Dialogue, Turn
from .text import detokenize

SOURCE = "multiwoz"
# MultiWOZ has no τ² task ids, so the official τ² train/test split cannot apply;
# a seeded half/half split by dialogue plays its role.
SPLITS = ("reference", "heldout")


def _read_json(path: Path) -> Any:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.endswith(".json")]
            if not members:
                raise ValueError(f"{path} contains no .json file")
            return json.loads(archive.read(members[0]))
    return json.loads(path.read_text(encoding="utf-8"))


def split_by_dialogue(dialogue_ids: list[str], seed: int = 0) -> dict[str, str]:
    """Seeded 50/50 assignment of dialogue ids to ``"reference"`` / ``"heldout"``.

    Ids are sorted before shuffling so the result does not depend on file order;
    with an odd count the extra dialogue goes to ``"reference"``.
    """
    ordered = sorted(dialogue_ids)
    random.Random(seed).shuffle(ordered)
    n_reference = (len(ordered) + 1) // 2
    return {d: SPLITS[0] if i < n_reference else SPLITS[1] for i, d in enumerate(ordered)}


def parse_multiwoz(data: dict[str, Any], seed: int = 0) -> list[Dialogue]:
    """Dialogues from parsed MultiWOZ JSON (see module docstring for the layout)."""
    if not isinstance(data, dict):
        raise ValueError("MultiWOZ JSON must be an object of dialogue_id -> {'log': [...]}")
    splits = split_by_dialogue(list(data), seed=seed)
    licence = SOURCES[SOURCE].licence
    dialogues = []
    for dialogue_id, record in data.items():
        log = record.get("log") if isinstance(record, dict) else None
        if not isinstance(log, list):
            raise ValueError(f"MultiWOZ dialogue {dialogue_id!r} has no 'log' list")
        turns = []
        for i, entry in enumerate(log):
            text = detokenize(str(entry.get("text", ""))).strip()
            if not text:
                continue
            # Even positions are the user, odd the wizard: roles come from the position,
            # not from the text, so an empty turn must not shift them.
            turns.append(Turn("user" if i % 2 == 0 else "agent", text))
        dialogues.append(
            Dialogue(
                dialogue_id=str(dialogue_id),
                source=SOURCE,
                domain="multiwoz",
                task_id=None,
                split=splits[dialogue_id],
                turns=tuple(turns),
                licence=licence,
            )
        )
    return dialogues


def load_multiwoz(path: str | Path | None = None, seed: int = 0) -> Corpus:
    """MultiWOZ 2.1 validation dialogues as a :class:`Corpus`.

    ``path`` defaults to ``multiwoz/val.json.zip`` found by the look-up order of
    :mod:`ppol_nb.humans.paths` (a plain ``.json`` file works too); a missing
    corpus raises :class:`~ppol_nb.humans.paths.CorpusNotFound` naming
    ``ppol-nb data fetch multiwoz``. Turns are detokenised; roles alternate user/agent
    starting with the user; ``domain`` is ``"multiwoz"`` and ``task_id`` None.

    ``split`` is ``"reference"`` or ``"heldout"``: a seeded 50/50 split *by
    dialogue*. It stands in for τ²'s official train/test split (which assigns
    human dialogues by task id) because MultiWOZ has no τ² task ids: use the
    reference half as H_train / discriminator training data and the held-out
    half as the "Humans" row.
    """
    path = find_corpus_file(SOURCE, path)
    terms = SOURCES[SOURCE]
    return Corpus(
        name="multiwoz",
        dialogues=parse_multiwoz(_read_json(path), seed=seed),
        licence=terms.licence,
        attribution=terms.attribution,
        research_only=terms.research_only,
        llm_training_allowed=terms.llm_training_allowed,
        notes=(
            "MultiWOZ is an offline stand-in for real users of a service agent, not τ²-bench; "
            "splits are a seeded 50/50 by dialogue (reference/heldout)."
        ),
    )
