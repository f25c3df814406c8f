"""Generator programs shipped with ppol_nb, as source text.

A program is data to ppol_nb: it is read as text and run in the sandbox
(:func:`ppol_nb.personas.sandbox.run_program`), never imported into the caller's
process. :func:`program_source` returns the text of a shipped program by name.
"""

from __future__ import annotations

from importlib import resources

SHIPPED = ("seed",)


def program_source(name: str = "seed") -> str:
    """Source text of a shipped generator program (``"seed"`` is the paper's initial program)."""
    if name not in SHIPPED:
        raise KeyError(f"no shipped generator program {name!r}; shipped: {SHIPPED}")
    return resources.files(__name__).joinpath(f"{name}.py").read_text(encoding="utf-8")


# The rules a generator program must follow, in words a mutation LLM can be given.
CONTRACT = """\
A generator program is one Python file that defines
- DIVERSITY_AXES: a list of dicts, each with "name" (identifier-like), "definition", "on_playbook",
  "off_playbook" (strings) and optionally "clashes_with" (names of axes that must not be on together with this one);
- generate_personas(context, axes, n, llm) -> a list of exactly n dicts with "persona_id",
  "description", "axis_placement" (axis name -> true/false), "reasoning" and "instruction" (the
  roleplay text appended to the user simulator's prompt; at least 40 characters).
It may import only json, re, math, random, itertools, functools, collections, dataclasses, typing,
textwrap, string, enum, statistics and ppol_nb.personas.toolkit (population, expand, expand_all,
chat, parse_json, fill, format_context, format_axes, playbooks). It may not use exec, eval, compile,
open, __import__, dunder or underscore-prefixed attributes. LLM calls go through toolkit.population /
toolkit.expand / toolkit.chat with the llm handle it is given.
"""
