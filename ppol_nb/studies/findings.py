"""Findings: sentences built from one run's numbers and set beside the paper's.

Nothing here is written in advance. Every sentence carries a number of the run
and, where the paper reports the same quantity (:mod:`ppol_nb.paper`), the
paper's number and how far ours is from it (direction and size). When the run's
user simulator is none of the paper's, ours is compared with the range the paper
reports over its three simulators. :func:`setting` opens every findings cell with
what produced the numbers — the backend by its own name (so offline output reads
"offline backend"), its models and the human corpus — and says when that is not
the paper's setting (one of its simulators, TAU-USI humans).
"""

from __future__ import annotations

import math

from .. import paper
from .figures import OFFLINE_AGENT_LABEL, agent_caption, corpus_label


def setting(backend, corpus: str | None = None, compared_with_paper: bool = True) -> list[str]:
    """Bullets naming the setting and every way it differs from the paper's.

    ``compared_with_paper``: the findings that follow set numbers beside the paper's."""
    lines = [f"**Setting:** {backend.name} backend — user simulator `{backend.user_model}`, "
             f"agent `{backend.agent_model}`" + (f"; human corpus {corpus_label(corpus)}." if corpus else ".")]
    if agent_caption(backend.agent_model) != str(backend.agent_model):
        lines.append(f"Any pass rate here is the {OFFLINE_AGENT_LABEL}'s: it follows each task's gold plan, so they "
                     "measure whether the user gave the facts, not agent reasoning, and are not comparable with the "
                     "paper's agent numbers.")
    if paper.simulator_for(backend.user_model) is None:
        lines.append(f"The user simulator (`{backend.user_model}`, {backend.name} backend) is none of the paper's "
                     f"({', '.join(paper.SIMULATORS)}): the numbers below describe this setting, not a "
                     "reproduction of the paper's" + ("; paper values are shown for reference as the range over "
                                                      "its three simulators." if compared_with_paper else "."))
    if corpus is not None and corpus_label(corpus) != paper.CORPUS:
        lines.append(f"The human corpus is {corpus_label(corpus)}, not the paper's {paper.CORPUS}: "
                     "human-likeness is measured against other people than the paper's.")
    return lines


def reference(frame, column: str, simulator: str | None):
    """The paper's value of ``column``: one number for a matching simulator, else (min, max) over all."""
    if simulator is not None:
        rows = frame[frame.simulator == simulator]
        if len(rows):
            return float(rows[column].iloc[0])
    values = frame[column].astype(float)
    return float(values.min()), float(values.max())


def versus(ours: float, ref, digits: int = 3) -> str:
    """"0.812 (paper 0.975: 0.163 lower)"; with a (min, max) reference, position against the range."""
    if ours is None or not math.isfinite(float(ours)):
        return "not measured (no finite value)"
    fmt = f"{{:.{digits}f}}"
    ours = float(ours)
    text = fmt.format(ours)
    if ref is None:
        return text
    tol = 0.5 * 10 ** -digits
    if isinstance(ref, tuple) and ref[0] == ref[1]:
        ref = ref[0]  # the paper's simulators agree (e.g. the Humans row's coverage)
    if isinstance(ref, tuple):
        lo, hi = ref
        span = f"{fmt.format(lo)}–{fmt.format(hi)}"
        if ours < lo - tol:
            return f"{text} (paper {span}: {fmt.format(lo - ours)} below its lowest)"
        if ours > hi + tol:
            return f"{text} (paper {span}: {fmt.format(ours - hi)} above its highest)"
        return f"{text} (within the paper's {span})"
    diff = ours - ref
    if abs(diff) < tol:
        return f"{text} (the paper's value)"
    return f"{text} (paper {fmt.format(ref)}: {fmt.format(abs(diff))} {'higher' if diff > 0 else 'lower'})"


def markdown(title: str, bullets: list[str]) -> str:
    """A findings cell: a bold title and one bullet per finding."""
    return f"**{title}**\n\n" + "\n".join(f"- {b}" for b in bullets)
