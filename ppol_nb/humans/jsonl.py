"""User-supplied corpora: one Dialogue per JSON line, in the package's own schema.

Line format (every field except ``task_id`` and ``split`` is required; the
``licence`` must be stated on every line, because a corpus may mix sources)::

    {"dialogue_id": "shop-0001", "source": "my-shop-logs", "domain": "retail",
     "task_id": null, "split": null, "licence": "CC-BY-4.0",
     "turns": [{"role": "user", "text": "hi, my parcel never arrived"},
               {"role": "agent", "text": "Sorry to hear that. What is the order number?"}]}

(one line in the file; wrapped here for reading). ``role`` is ``"user"`` or
``"agent"``. Blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from .licences import source_terms
from .schema import Corpus, Dialogue


def load_jsonl(
    path: str | Path,
    name: str | None = None,
    attribution: str | None = None,
    research_only: bool | None = None,
    llm_training_allowed: bool | None = None,
) -> Corpus:
    """A corpus from a JSONL file in the schema above.

    Corpus-level terms: when every line comes from one known source (e.g. a
    file written by :func:`write_jsonl` from MultiWOZ or TAU-USI) they are that
    source's terms; otherwise the corpus licence lists the line licences, it is
    treated as research-only and not trainable unless the caller vouches with
    ``research_only=False`` / ``llm_training_allowed=True``. Dialogues from a
    known restricted source stay refused by ``assert_trainable`` either way.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"JSONL corpus not found: {path}")
    dialogues: list[Dialogue] = []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("line is not a JSON object")
                if not record.get("licence"):
                    raise ValueError("every line needs a non-empty 'licence' field")
                dialogues.append(Dialogue.from_dict(record))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{lineno}: {exc}") from exc
    sources = list(dict.fromkeys(d.source for d in dialogues))
    known = source_terms(sources[0]) if len(sources) == 1 else None
    licences = list(dict.fromkeys(d.licence for d in dialogues))
    return Corpus(
        name=name or path.stem,
        dialogues=dialogues,
        licence=known.licence if known else "; ".join(licences) or "unknown",
        attribution=attribution or (known.attribution if known else f"user-supplied corpus {path.name}"),
        research_only=research_only if research_only is not None else (known.research_only if known else True),
        llm_training_allowed=(
            llm_training_allowed
            if llm_training_allowed is not None
            else (known.llm_training_allowed if known else False)
        ),
    )


def write_jsonl(dialogues: Corpus | Iterable[Dialogue], path: str | Path) -> Path:
    """Write dialogues one per line (the format :func:`load_jsonl` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for dialogue in dialogues:
            handle.write(json.dumps(dialogue.to_dict(), ensure_ascii=False) + "\n")
    return path
