"""The LLM mutator: PPol's code-edit proposals (paper §2, "Mutation prompt").

One proposal is one conversation with the ``"mutator"`` role of an
:class:`~ppol_nb.llm.LLMClient`:

1. a static system message (what the program is for, the paper's program
   contract, the rules) and a user message with the parent's
   source, metrics and evaluator reflection (≤ 10,000 characters), up to two
   inspiration programs with their metrics, and ONE of the five mutation angles,
   drawn with the engine's ``rng``; the model answers with SEARCH/REPLACE blocks
   (syntax in :mod:`.program_edit`);
2. the blocks are applied (exact match, then whitespace-tolerant) and the child
   is validated (:func:`.program_edit.validate_child`: size, the sandbox's
   static check, the program contract);
3. if the reply has no usable blocks, none applies, the edits change nothing or
   the edited program is invalid, the conversation continues once: the model is
   told why and asked for the complete program in one ```python block
   (``kind="rewrite"``, the reason in ``notes``). A rewrite that is still
   invalid raises :class:`~.program_edit.InvalidProgram`; the engine records a
   failed candidate.

Sampling follows the paper's mutation settings: temperature 1.0 and max_tokens
8192 (reasoning effort, if wanted, belongs in the role's ``extra`` config).
Each request carries a seed drawn from ``rng``, so a response cache replays a
resumed run exactly while two iterations with the same parent still get
different samples.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ppol_nb.personas.programs import CONTRACT

from .interfaces import ProgramRecord, Proposal
from .program_edit import (
    DIVIDER_MARK,
    REPLACE_MARK,
    SEARCH_MARK,
    EditFormatError,
    InvalidProgram,
    MutationError,
    apply_edit_blocks,
    extract_program,
    parse_edit_blocks,
    unified_diff,
    validate_child,
)

MAX_REFLECTION_CHARS = 10_000  # the paper's artifact truncation
REFLECTION_KEY = "evaluator_reflection"
METRIC_KEYS = ("score", "hl", "coverage")


@dataclass(frozen=True)
class MutationAngle:
    """One of the paper's five mutation angles: a name for records and the instruction sent."""

    name: str
    instruction: str


ANGLES: tuple[MutationAngle, ...] = (
    MutationAngle(
        "axes",
        "Rework the behaviour axes in DIVERSITY_AXES. Add, drop, merge or rewrite axes so that together they "
        "capture more independent aspects of how real people act in support chats, each with concrete ON and "
        "OFF playbooks.",
    ),
    MutationAngle(
        "population_prompt",
        "Revise the population step (its system message and prompt) so the group of people it proposes varies "
        "more in communication style, while every person stays believable and internally consistent.",
    ),
    MutationAngle(
        "expansion",
        "Rewrite the expansion step (the roleplay system message, prompt or logic) so the conversations read "
        "more naturally: a distinct typing style for each person, realistic reactions when the agent gets "
        "something wrong, pushback, and disclosure that is partial and depends on what the agent has asked.",
    ),
    MutationAngle(
        "structure",
        "Change the program's structure rather than its wording: for example branch the roleplay prompt on the "
        "behaviours a person has been assigned, or assemble it from separate parts for each active axis.",
    ),
    MutationAngle(
        "new_approach",
        "Try a substantially different way of generating the group: for example propose more candidates than "
        "needed and prune or rank them down to n, or add a critique-and-revise pass over the draft personas.",
    ),
)
ANGLE_NAMES = tuple(a.name for a in ANGLES)


SYSTEM_PROMPT = f"""You are improving a Python program, by evolution, that writes personas for realistic user \
simulation. Each persona is appended to the prompt of an LLM that plays a customer chatting with a \
customer-service agent. The goal is customers who behave like real people do in such chats (brief, vague, \
guarded, impatient, sloppy, inconsistent in human ways) rather than like an over-cooperative assistant. A \
persona changes HOW the customer communicates, never WHAT they want or what they know.

The program has two phases: one population call places n people on the behaviour axes in DIVERSITY_AXES, then \
one expansion call per person writes that person's roleplay instruction. Programs survive when their customers \
read as human to a fixed judge and when their group spans the range of human behaviour.

You may change the axes (add, remove or revise them, using human behaviours that fit customer service in the \
task's domain), the prompts and the program's logic.

The program contract:
{CONTRACT}
Every axis needs "name", "definition", "on_playbook" and "off_playbook": the playbooks are what the persona \
instructions are written from, so be concrete about how the customer talks.

Rules:
- The result must be valid Python that still exposes generate_personas(context, axes, n, llm) and returns exactly \
n personas; import only what the contract allows.
- A run may make at most 3 * n + 10 LLM calls.
- Personas must never alter the customer's goal or facts, invent new ones, or mention being simulated.
- Read the evaluator's reflection on the current program: it says what its customers did in conversations and \
where they looked unlike real people.
- If scores have stopped improving, favour bold structural changes over small rewordings."""


REWRITE_REQUEST = """Your edit could not be used: {reason}.

Reply instead with the complete new program (the whole file, including your intended changes) in a single \
```python code block. Keep the same focus: {angle}"""


def _metrics_line(record: ProgramRecord, keys: tuple[str, ...]) -> str:
    parts = []
    for key in keys:
        value = record.metrics.get(key) if record.metrics else None
        parts.append(f"{key}={value:.4f}" if isinstance(value, (int, float)) else f"{key}=n/a")
    return ", ".join(parts)


def _reflection_text(record: ProgramRecord) -> str:
    text = (record.artifacts or {}).get(REFLECTION_KEY)
    if not text:
        return "(no reflection is available for this program yet)"
    text = str(text)
    if len(text) > MAX_REFLECTION_CHARS:
        text = text[:MAX_REFLECTION_CHARS] + "\n[... reflection truncated]"
    return text


def _fenced(source: str) -> str:
    return f"```python\n{source.rstrip()}\n```"


def build_user_prompt(parent: ProgramRecord, inspirations: list[ProgramRecord], angle: MutationAngle,
                      metric_keys: tuple[str, ...] = METRIC_KEYS) -> str:
    """The user message of a mutation request."""
    lineage = f"generation {parent.generation}"
    if parent.mutation_kind:
        lineage += f", made by a {parent.mutation_kind} edit"
        if parent.mutation_angle:
            lineage += f" with focus {parent.mutation_angle!r}"
    sections = [
        "## Current program",
        f"Metrics: {_metrics_line(parent, metric_keys)} ({lineage})",
        _fenced(parent.source),
        "## Evaluator reflection on the current program",
        _reflection_text(parent),
    ]
    if inspirations:
        sections.append("## Other programs from the population (for ideas only; do not edit them)")
        for i, record in enumerate(inspirations, 1):
            sections += [f"### Inspiration {i}: {_metrics_line(record, metric_keys)}", _fenced(record.source)]
    sections += [
        "## Focus for this change",
        angle.instruction,
        "## Answer format",
        f"""Write a short plan (a few sentences), then your edits as one or more blocks of exactly this form:

{SEARCH_MARK}
lines copied from the current program
{DIVIDER_MARK}
the lines that replace them
{REPLACE_MARK}

- Copy the SEARCH lines character for character from the current program, indentation included. Make each \
SEARCH long enough to be unique and otherwise short.
- Blocks are applied in order, each to the result of the ones before it, and each replaces one occurrence.
- To insert new code, put a neighbouring line in SEARCH and repeat it in REPLACE next to the new code.
- Edit only the current program, never the inspirations.""",
    ]
    return "\n\n".join(sections)


class LLMMutator:
    """PPol's mutation operator: an LLM proposes SEARCH/REPLACE edits (full rewrite as fallback).

    Parameters
    ----------
    client : an :class:`~ppol_nb.llm.LLMClient` (any object with ``chat(role, messages, seed=..., **overrides)``
        returning a ``ChatResult``).
    max_code_length : children longer than this are rejected (the paper's 65,536).
    temperature, max_tokens : mutation sampling (the paper's 1.0 and 8192).
    role : the client role to call.
    num_inspirations : how many of the engine's inspirations go into the prompt (the paper's 2).
    rewrite_fallback : ask once for a full program when the diff cannot be used.
    seed_requests : send a per-iteration seed (drawn from ``rng``) with each request.
    """

    def __init__(self, client, max_code_length: int = 65_536, temperature: float = 1.0, max_tokens: int = 8192,
                 role: str = "mutator", num_inspirations: int = 2, rewrite_fallback: bool = True,
                 metric_keys: tuple[str, ...] = METRIC_KEYS, seed_requests: bool = True) -> None:
        self.client = client
        self.max_code_length = max_code_length
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.role = role
        self.num_inspirations = num_inspirations
        self.rewrite_fallback = rewrite_fallback
        self.metric_keys = tuple(metric_keys)
        self.seed_requests = seed_requests

    def propose(self, parent: ProgramRecord, inspirations: list[ProgramRecord], rng: random.Random,
                iteration: int) -> Proposal:
        angle = rng.choice(ANGLES)
        seed = rng.randrange(2**31) if self.seed_requests else None
        chosen = [r for r in inspirations if r.source and r.ok][: self.num_inspirations]
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": build_user_prompt(parent, chosen, angle, self.metric_keys)}]
        spend = _Spend()
        reply, truncated = self._ask(messages, seed, spend)
        child, kind, notes, reason = self._from_reply(parent.source, reply)
        if child is not None:
            return self._proposal(parent, child, kind, angle, spend, notes)
        if truncated:
            reason += " (the reply was cut off at max_tokens)"
        if not self.rewrite_fallback:
            raise spend.tag(MutationError(f"unusable mutation reply: {reason}"))

        follow_up = REWRITE_REQUEST.format(reason=reason, angle=angle.instruction)
        messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": follow_up}]
        reply2, truncated2 = self._ask(messages, seed, spend)
        program = extract_program(reply2)
        if program is None:
            cut = " (cut off at max_tokens)" if truncated2 else ""
            raise spend.tag(MutationError(f"rewrite fallback (after: {reason}) returned no ```python program{cut}"))
        try:
            validate_child(program, self.max_code_length)
        except InvalidProgram as exc:
            raise spend.tag(InvalidProgram(f"rewrite fallback (after: {reason}): {exc}")) from None
        if program == parent.source:
            raise spend.tag(MutationError(f"rewrite fallback (after: {reason}) returned the parent unchanged"))
        return self._proposal(parent, program, "rewrite", angle, spend, f"rewrite fallback: {reason}")

    # -- steps -------------------------------------------------------------------------------------

    def _ask(self, messages: list[dict], seed: int | None, spend: _Spend) -> tuple[str, bool]:
        kwargs = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if seed is not None:
            kwargs["seed"] = seed
        spend.calls += 1
        result = self.client.chat(self.role, list(messages), **kwargs)
        spend.cost += float(getattr(result, "cost_usd", 0.0) or 0.0)
        return result.content or "", getattr(result, "finish_reason", None) == "length"

    def _from_reply(self, parent_source: str, reply: str) -> tuple[str | None, str, str, str]:
        """(child or None, kind, notes, reason the reply could not be used)."""
        try:
            blocks = parse_edit_blocks(reply)
        except EditFormatError as exc:
            return None, "", "", f"malformed SEARCH/REPLACE block: {exc}"
        if not blocks:
            program = extract_program(reply)
            if program is None:
                return None, "", "", "the reply contains no SEARCH/REPLACE blocks"
            try:  # a whole program instead of blocks is still a usable answer
                validate_child(program, self.max_code_length)
            except InvalidProgram as exc:
                return None, "", "", f"the reply gave a full program instead of blocks, and it is invalid: {exc}"
            if program == parent_source:
                return None, "", "", "the reply repeated the current program unchanged"
            return program, "rewrite", "the reply gave a full program instead of SEARCH/REPLACE blocks", ""
        outcome = apply_edit_blocks(parent_source, blocks)
        if outcome.applied == 0:
            return None, "", "", (f"none of the {len(blocks)} SEARCH block(s) matches the current program "
                                  "(SEARCH must copy existing lines exactly)")
        if outcome.source == parent_source:
            return None, "", "", "the edits leave the program unchanged"
        try:
            validate_child(outcome.source, self.max_code_length)
        except InvalidProgram as exc:
            return None, "", "", f"the edited program is invalid: {exc}"
        return outcome.source, "diff", outcome.summary(len(blocks)), ""

    @staticmethod
    def _proposal(parent: ProgramRecord, child: str, kind: str, angle: MutationAngle, spend: _Spend,
                  notes: str) -> Proposal:
        return Proposal(source=child, diff=unified_diff(parent.source, child), kind=kind, angle=angle.name,
                        llm_calls=spend.calls, cost_usd=spend.cost, notes=notes)


class _Spend:
    """LLM calls and cost of one proposal, also attached to the error when it fails."""

    def __init__(self) -> None:
        self.calls = 0
        self.cost = 0.0

    def tag(self, exc: MutationError) -> MutationError:
        exc.llm_calls, exc.cost_usd = self.calls, self.cost
        return exc
