"""Terms of each human-dialogue source, attributions, and the training-export guard.

The three corpora come with different terms: MultiWOZ (CC BY 4.0) and ABCD (MIT)
may be used for anything with attribution, while TAU-USI (CC-BY-NC-4.0, gated)
is for research only and its terms forbid training or fine-tuning LLMs on it.
PPol only fingerprints TAU-USI, which is allowed; :func:`assert_trainable` is the
one check a training-data export must pass so TAU-USI text can never leak into
an SFT set by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .schema import Corpus, Dialogue


class LicenceError(RuntimeError):
    """Data would be used in a way its licence or terms do not allow."""


@dataclass(frozen=True)
class SourceTerms:
    """Licence facts for one source, keyed by :attr:`Dialogue.source`."""

    source: str
    licence: str
    attribution: str
    research_only: bool
    llm_training_allowed: bool


SOURCES: dict[str, SourceTerms] = {
    "multiwoz": SourceTerms(
        source="multiwoz",
        licence="CC-BY-4.0",
        attribution=(
            "MultiWOZ 2.1 (Budzianowski et al. 2018, 'MultiWOZ - A Large-Scale Multi-Domain "
            "Wizard-of-Oz Dataset for Task-Oriented Dialogue Modelling'; Eric et al. 2019, "
            "'MultiWOZ 2.1'), ConvLab-2 packaging, CC BY 4.0"
        ),
        research_only=False,
        llm_training_allowed=True,
    ),
    "abcd": SourceTerms(
        source="abcd",
        licence="MIT",
        attribution=(
            "ABCD (Chen et al. 2021, 'Action-Based Conversations Dataset: A Corpus for Building "
            "More In-Depth Task-Oriented Dialogue Systems', ASAPP), MIT licence"
        ),
        research_only=False,
        llm_training_allowed=True,
    ),
    "tau-usi": SourceTerms(
        source="tau-usi",
        licence="CC-BY-NC-4.0",
        attribution=(
            "TAU-USI (Zhou et al. 2026, 'Mind the Sim2Real Gap in User Simulation for Agentic "
            "Tasks', arXiv:2603.11245; Hugging Face dataset cmu-lti/tau-usi), CC-BY-NC-4.0, "
            "research use only, not to be used to train or fine-tune LLMs"
        ),
        research_only=True,
        llm_training_allowed=False,
    ),
}


def source_terms(source: str) -> SourceTerms | None:
    """Known terms for a source name, or None for user-supplied sources."""
    return SOURCES.get(source)


def attributions(corpora: Corpus | Iterable[Corpus]) -> list[str]:
    """Attribution lines for artefacts and manifests, one per distinct source, in order.

    Includes the attribution of every known source that appears in a corpus's
    dialogues (a mixed corpus names all of them) and the corpus's own line.
    """
    if isinstance(corpora, Corpus):
        corpora = [corpora]
    lines: list[str] = []
    for corpus in corpora:
        candidates = [corpus.attribution]
        for source in dict.fromkeys(d.source for d in corpus.dialogues):
            terms = source_terms(source)
            if terms is not None:
                candidates.append(terms.attribution)
        for line in candidates:
            if line and line not in lines:
                lines.append(line)
    return lines


def _dialogues_of(obj) -> tuple[list[Dialogue], list[Corpus]]:
    if isinstance(obj, Corpus):
        return list(obj.dialogues), [obj]
    if isinstance(obj, Dialogue):
        return [obj], []
    dialogues: list[Dialogue] = []
    corpora: list[Corpus] = []
    for item in obj:
        more, more_corpora = _dialogues_of(item)
        dialogues.extend(more)
        corpora.extend(more_corpora)
    return dialogues, corpora


def assert_trainable(corpus_or_dialogues, *, allow_unknown_sources: bool = False) -> None:
    """Raise :class:`LicenceError` unless every dialogue may be used to train an LLM.

    Accepts a Corpus, a Dialogue, or any iterable of them. Refuses when

    * a dialogue's ``source`` is a known source whose terms forbid LLM training
      (TAU-USI), or
    * a Corpus passed in says ``llm_training_allowed=False``, or
    * a loose dialogue has a source with unknown terms (fail closed) — pass
      ``allow_unknown_sources=True`` after checking the terms yourself. Dialogues
      inside a Corpus inherit that corpus's ``llm_training_allowed``.
    """
    dialogues, corpora = _dialogues_of(corpus_or_dialogues)
    problems: list[str] = []
    for corpus in corpora:
        if not corpus.llm_training_allowed:
            problems.append(f"corpus {corpus.name!r} ({corpus.licence}) does not allow LLM training")
    vouched = {id(d) for c in corpora if c.llm_training_allowed for d in c.dialogues}
    refused: dict[str, int] = {}
    unknown: dict[str, int] = {}
    for d in dialogues:
        terms = source_terms(d.source)
        if terms is None:
            if id(d) not in vouched and not allow_unknown_sources:
                unknown[d.source] = unknown.get(d.source, 0) + 1
        elif not terms.llm_training_allowed:
            refused[d.source] = refused.get(d.source, 0) + 1
    for source, n in refused.items():
        terms = SOURCES[source]
        problems.append(
            f"{n} dialogue(s) from {source!r} ({terms.licence}): its terms forbid training or "
            "fine-tuning LLMs on it; use it only for fingerprints and evaluation"
        )
    for source, n in unknown.items():
        problems.append(
            f"{n} dialogue(s) from source {source!r} with unknown terms; check its licence and "
            "pass allow_unknown_sources=True"
        )
    if problems:
        raise LicenceError("training export refused: " + "; ".join(dict.fromkeys(problems)))
