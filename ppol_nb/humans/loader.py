"""One entry point for every human corpus: :func:`load_corpus`."""

from __future__ import annotations

import json
from pathlib import Path

from .abcd import load_abcd, parse_abcd
from .jsonl import load_jsonl
from .licences import SOURCES
from .multiwoz import load_multiwoz
from .schema import Corpus
from .tau_usi import load_tau_usi

# Accepted spellings of each corpus name.
NAMES = {
    "multiwoz": "multiwoz",
    "tau-usi": "tau-usi",
    "tau_usi": "tau-usi",
    "tauusi": "tau-usi",
    "abcd": "abcd",
}
LOADERS = {"multiwoz": load_multiwoz, "tau-usi": load_tau_usi, "abcd": load_abcd}


def _load_path(path: Path, **kwargs) -> Corpus:
    """Pick the loader for a file from its suffix and, for ``.json``, its shape."""
    if path.suffix == ".jsonl":
        return load_jsonl(path, **kwargs)
    if path.suffix == ".zip":
        return load_multiwoz(path, **kwargs)
    if path.suffix != ".json":
        raise ValueError(f"don't know how to read {path}: expected .jsonl, .json or .json.zip")
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list) and data and isinstance(data[0], dict) and "original" in data[0]:
        if kwargs:
            raise TypeError(f"unexpected options for an ABCD file: {sorted(kwargs)}")
        terms = SOURCES["abcd"]
        return Corpus("abcd", parse_abcd(data), terms.licence, terms.attribution,
                      terms.research_only, terms.llm_training_allowed)
    if isinstance(data, dict) and data and all(isinstance(v, dict) and "log" in v for v in data.values()):
        return load_multiwoz(path, **kwargs)
    # Anything else keyed by instance id is taken for TAU-USI (its parser validates further).
    return load_tau_usi(path, **kwargs)


def load_corpus(name_or_path: str | Path, domain: str | None = None, **kwargs) -> Corpus:
    """Load a human corpus by name or from a file.

    ``name_or_path`` is ``"multiwoz"``, ``"tau-usi"`` or ``"abcd"`` (found by
    the look-up order of :mod:`ppol_nb.humans.paths` — ``$PPOL_DATA_DIR``, the
    shared folder, the user data directory ``ppol-nb data fetch`` fills — or
    the Hugging Face Hub for TAU-USI), or a path: ``.jsonl`` (:func:`load_jsonl`), ``.json.zip``
    (MultiWOZ), or ``.json`` recognised by shape (ABCD list, MultiWOZ
    ``{id: {"log": ...}}``, otherwise TAU-USI). ``kwargs`` go to the loader
    (e.g. ``seed=`` for MultiWOZ, ``token=``/``task_ids=`` for TAU-USI).

    ``domain`` keeps only dialogues of that domain (``"retail"``,
    ``"airline"``, ``"multiwoz"``); a filter that leaves nothing raises
    ValueError rather than returning an empty reference set.
    """
    key = str(name_or_path).strip()
    canonical = NAMES.get(key.lower())
    if canonical is not None:
        corpus = LOADERS[canonical](**kwargs)
    else:
        path = Path(key).expanduser()
        looks_like_path = path.suffix != "" or "/" in key or "\\" in key
        if not looks_like_path:
            raise ValueError(
                f"unknown corpus {key!r}: expected one of {sorted(set(NAMES.values()))} "
                "or a path to a .jsonl / .json / .json.zip file"
            )
        if not path.is_file():
            raise FileNotFoundError(f"corpus file not found: {path}")
        corpus = _load_path(path, **kwargs)
    if domain is None:
        return corpus
    filtered = corpus.filter(domain=domain)
    if not filtered.dialogues:
        domains = sorted({d.domain for d in corpus.dialogues})
        raise ValueError(f"corpus {corpus.name!r} has no dialogues in domain {domain!r} (it has {domains})")
    return filtered
