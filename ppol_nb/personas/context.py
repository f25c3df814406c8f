"""The user context c_t a generator receives for one τ² task.

Passed through unchanged from the task's ``user_scenario``: the structured
instruction fields (domain, reason_for_call, known_info, unknown_info,
task_instructions) and, when the task has one, its base persona. Free-text
instructions (a few τ² tasks) land in ``reason_for_call``.
"""

from __future__ import annotations

from .toolkit import CONTEXT_FIELDS


def task_context(task, domain: str) -> dict:
    """``context`` for a τ² ``Task`` (or a :class:`~ppol_nb.simulation.scenario.TaskScenario`)."""
    scenario = getattr(task, "user_scenario", None)
    if scenario is None:  # a TaskScenario already holds the fields
        ctx = {f: str(getattr(task, f, "") or "") for f in CONTEXT_FIELDS}
        ctx["domain"] = ctx["domain"] or domain
        return ctx
    ins = scenario.instructions
    if isinstance(ins, str):
        ctx = {f: "" for f in CONTEXT_FIELDS}
        ctx["reason_for_call"] = ins
    else:
        ctx = {f: str(getattr(ins, f, "") or "") for f in CONTEXT_FIELDS}
    ctx["domain"] = ctx.get("domain") or domain
    persona = getattr(scenario, "persona", None)
    if persona:
        ctx["persona"] = str(persona)
    return ctx
