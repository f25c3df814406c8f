"""The LLM mutator: PPol's code-edit proposals (paper §2, "Mutation prompt").

One proposal is one conversation with the ``"mutator"`` role of an
:class:`~ppol_nb.llm.LLMClient`. Two prompt wordings exist (``prompt=``; the
run's ``EvolutionConfig.mutator_prompt``; ``docs/fidelity.md`` compares them
element by element with the authors' ``ppol`` 0.1.1 / OpenEvolve prompt):

* ``"authors"`` (default, every profile): a system message with what the
  authors' system message says (evolve a generator of diverse, human-like
  personas to improve its fitness metrics; grow, revise or prune
  ``DIVERSITY_AXES`` with the domain's human behaviours; revise prompts or logic
  but keep a valid program; prefer structural changes when progress stalls;
  read the evaluator's reflection) plus this package's program contract, and no
  list of target traits and no description of the fitness. The user message
  carries the parent's fitness, behaviour coordinates and metrics, its
  evaluator reflection (≤ 10,000 characters), the **evolution history** (the
  island's latest attempts, most recent first, each with its change, metrics
  and outcome against its own parent, failures with their reason), the
  island's top programs with their scores, the parent's source, the note that
  the search keeps diversity on (human-likeness, coverage) and that programs
  with similar fitness but different features are valuable, and ONE of the five
  mutation angles drawn with the engine's ``rng``;
* ``"ppol_nb"`` (this package's earlier wording, kept as a variant): a system
  message that also describes the target customer (brief, vague, guarded,
  impatient, sloppy...) and the fitness (a fixed judge, coverage of human
  behaviour); the user message has no evolution history and no diversity note.

The model answers with SEARCH/REPLACE blocks (syntax in :mod:`.program_edit`);
they are applied (exact match, then whitespace-tolerant) and the child is
validated (:func:`.program_edit.validate_child`: size, the sandbox's static
check, the program contract).

If the reply has no usable blocks, none applies, the edits change nothing or
the edited program is invalid:

* ``rewrite_fallback=False`` (the authors' rule; the paper and notebook
  profiles): :class:`~.program_edit.MutationError` with the reason; the engine
  records a failed candidate and the iteration is spent. A whole program sent
  instead of blocks is such a failure too (OpenEvolve's diff mode accepts
  diffs only);
* ``rewrite_fallback=True`` (the ``ci`` profile): a whole program sent instead
  of blocks is accepted (``kind="rewrite"``), and otherwise the conversation
  continues once: the model is told why and asked for the complete program in
  one ```python block (``kind="rewrite"``, the reason in ``notes``). A rewrite
  that is still invalid raises :class:`~.program_edit.InvalidProgram`.

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

from .interfaces import Attempt, ProgramRecord, Proposal
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
PROMPT_STYLES = ("authors", "ppol_nb")
# How the behaviour coordinates are named to the mutator (the authors' feature_dimensions).
FEATURE_NAMES = {"hl": "human-likeness", "coverage": "coverage of human behaviour"}


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


AUTHORS_SYSTEM_PROMPT = f"""You are evolving a Python program that writes diverse, human-like personas for a user \
simulator that chats within a given task scenario. Your aim is to raise the program's fitness metrics.

DIVERSITY_AXES should capture behaviours seen in real people in this domain, and the personas should act those \
behaviours out in their conversations. Grow the list with further behaviours that fit the domain, or revise or \
remove the ones it has.
You may revise the population and roleplay instructions or change the program's logic. The result must stay \
valid Python that follows the program contract below.

When recent changes have stopped improving the scores, prefer structural changes to small rewordings.

When the current program comes with an evaluator reflection, read it closely and let what it observed guide \
where you change the program.

The program contract:
{CONTRACT}
A run may make at most 3 * n + 10 LLM calls."""

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


def _outcome(attempt: Attempt) -> str:
    """The attempt against its own parent: all terms up, all down, or mixed (failures: the reason)."""
    if attempt.error:
        return f"failed: {attempt.error}"
    shared = [k for k in attempt.metrics if k in attempt.parent_metrics]
    if not shared:
        return "no parent metrics to compare with"
    if all(attempt.metrics[k] > attempt.parent_metrics[k] for k in shared):
        return "improved on every metric over its parent"
    if all(attempt.metrics[k] < attempt.parent_metrics[k] for k in shared):
        return "fell on every metric against its parent"
    return "mixed against its parent"


def _attempt_block(attempt: Attempt) -> str:
    change = attempt.kind or "unknown change"
    if attempt.angle:
        change += f" with focus {attempt.angle!r}"
    if attempt.notes:
        change += f": {attempt.notes}"
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in attempt.metrics.items()) or "none (no evaluation)"
    return "\n".join([f"#### Attempt of iteration {attempt.iteration}", f"- Change: {change}",
                      f"- Metrics: {metrics}", f"- Outcome: {_outcome(attempt)}"])


def build_authors_prompt(parent: ProgramRecord, inspirations: list[ProgramRecord], angle: MutationAngle,
                         history: list[Attempt] = (), metric_keys: tuple[str, ...] = METRIC_KEYS,
                         feature_keys: tuple[str, ...] = ("hl", "coverage")) -> str:
    """The user message of a mutation request in the ``"authors"`` wording (see the module doc)."""
    score = parent.metrics.get(metric_keys[0]) if parent.metrics else None
    coords = ", ".join(f"{FEATURE_NAMES.get(k, k)}={parent.metrics.get(k, float('nan')):.4f}"
                       for k in feature_keys) if parent.metrics else "n/a"
    dimensions = ", ".join(FEATURE_NAMES.get(k, k) for k in feature_keys)
    sections = [
        "## Scores of the current program",
        f"- Fitness: {score:.4f}" if isinstance(score, (int, float)) else "- Fitness: n/a",
        f"- Behaviour coordinates: {coords}",
        "### Metrics",
        _metrics_line(parent, metric_keys),
        "### Evaluator reflection on the current program (evaluator_reflection)",
        _reflection_text(parent),
        "## Evolution history",
        "### Previous attempts on this island (most recent first)",
        "\n\n".join(_attempt_block(a) for a in history) if history else "(no earlier attempts on this island)",
        "### Top programs of this island",
    ]
    if inspirations:
        for i, record in enumerate(inspirations, 1):
            fitness = record.metrics.get(metric_keys[0], float("nan"))
            sections += [f"#### Program {i} (fitness {fitness:.4f}; {_metrics_line(record, metric_keys)})",
                         _fenced(record.source)]
    else:
        sections.append("(no other programs yet)")
    sections += [
        "## Current program",  # right before its source, as in the "ppol_nb" wording
        _fenced(parent.source),
        "## Task",
        ("Propose changes to the current program that raise its fitness score. The search keeps a variety of "
         f"programs across these dimensions: {dimensions}. Programs with similar fitness but different features "
         "are valuable."),
        "## Focus for this change",
        angle.instruction,
        "## Answer format",
        f"""Explain your reasoning briefly, then give your edits as one or more blocks of exactly this form:

{SEARCH_MARK}
lines copied from the current program
{DIVIDER_MARK}
the lines that replace them
{REPLACE_MARK}

- Copy the SEARCH lines character for character from the current program, indentation included; each SEARCH \
must match the current program exactly.
- Blocks are applied in order, each to the result of the ones before it, and each replaces one occurrence.
- You may give several blocks. Make targeted changes: do not rewrite the whole program.""",
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
    rewrite_fallback : accept a whole program instead of blocks, and ask once for one when the diff cannot
        be used (False: the authors' rule, an unusable diff is a failed candidate).
    prompt : ``"authors"`` or ``"ppol_nb"`` (see the module doc).
    seed_requests : send a per-iteration seed (drawn from ``rng``) with each request.
    """

    def __init__(self, client, max_code_length: int = 65_536, temperature: float = 1.0, max_tokens: int = 8192,
                 role: str = "mutator", num_inspirations: int = 2, rewrite_fallback: bool = False,
                 metric_keys: tuple[str, ...] = METRIC_KEYS, seed_requests: bool = True,
                 prompt: str = "authors") -> None:
        if prompt not in PROMPT_STYLES:
            raise ValueError(f"prompt must be one of {PROMPT_STYLES}, got {prompt!r}")
        self.prompt = prompt
        self.client = client
        self.max_code_length = max_code_length
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.role = role
        self.num_inspirations = num_inspirations
        self.rewrite_fallback = rewrite_fallback
        self.metric_keys = tuple(metric_keys)
        self.seed_requests = seed_requests

    def messages(self, parent: ProgramRecord, inspirations: list[ProgramRecord], angle: MutationAngle,
                 history: list[Attempt] = ()) -> list[dict]:
        """The request of one proposal: system and user message in this mutator's wording."""
        chosen = [r for r in inspirations if r.source and r.ok][: self.num_inspirations]
        if self.prompt == "authors":
            return [{"role": "system", "content": AUTHORS_SYSTEM_PROMPT},
                    {"role": "user", "content": build_authors_prompt(parent, chosen, angle, list(history),
                                                                     self.metric_keys)}]
        return [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": build_user_prompt(parent, chosen, angle, self.metric_keys)}]

    def propose(self, parent: ProgramRecord, inspirations: list[ProgramRecord], rng: random.Random,
                iteration: int, history: list[Attempt] = ()) -> Proposal:
        angle = rng.choice(ANGLES)
        seed = rng.randrange(2**31) if self.seed_requests else None
        messages = self.messages(parent, inspirations, angle, history)
        spend = _Spend()
        reply, truncated = self._ask(messages, seed, spend)
        child, kind, notes, reason = self._from_reply(parent.source, reply)
        if child is not None:
            return self._proposal(parent, child, kind, angle, spend, notes)
        if truncated:
            reason += " (the reply was cut off at max_tokens)"
        if not self.rewrite_fallback:
            raise spend.tag(MutationError(f"unusable mutation reply (focus {angle.name!r}; the iteration is "
                                          f"spent, no follow-up): {reason}"))

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
            if not self.rewrite_fallback:  # the authors' diff mode takes diffs only
                return None, "", "", "the reply gave a whole program instead of SEARCH/REPLACE blocks"
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
