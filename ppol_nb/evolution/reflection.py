"""Reflection: a critique of a minibatch for the mutation prompt (PPol App. C.2).

What a reflector sees (:class:`ReflectionInput`), as in the paper:

* the fitness summary — M, mean human-likeness (HL), mean coverage, N and λ;
* per-task context: each task's scenario text (the text the persona generator
  is given, customer names redacted, up to 2,200 characters as in the authors'
  code; ``"authors"`` prompt only), each persona's P(human) and active
  behaviours (tasks are listed without ids);
* the **2 highest- and 2 lowest-P(human)** episodes, each with its persona text
  (clipped to 1,200 characters), its 19-D fingerprint and a dialogue excerpt:
  the first 20 text turns, at most 2,400 characters, agent turns longer than 250
  characters cut to their first and last 100.

What it must not do: mention task or persona indices ("Task 3", "p0"), name the
in-world customers, or give per-feature human-vs-persona diagnostics. The last
rule is PPol's guard against proxy hacking: told "humans write 9 words per turn,
your personas 31", a mutator learns to hit the numbers (cap message length,
sprinkle 'maybe') rather than to write people. So no reflector here is given a
human reference value; the fingerprints of the best and worst episodes are the
only feature numbers it sees. Customer names are also scrubbed from what a
reflector sees and from what it writes (:func:`sanitise`).

Length: the prompt asks for at most 300 words. With the ``"authors"`` prompt
(default; ``EvolutionConfig.reflection_prompt``) the reply is kept whole up to
the 10,000-character artifact limit, as the authors' code keeps it, so the
recommendations that come last survive a long answer; with ``"ppol_nb"`` (this
package's earlier rule, kept as a variant) it is cut at 300 words and the
prompt carries no scenario text.

Two reflectors share that input:

* :class:`LLMReflection` — the paper's: one call to the ``"reflection"`` role
  (temperature 0.25, max_tokens 2000) with the rules in the prompt;
* :class:`OfflineReflection` — deterministic, no LLM. See its docstring for what
  it says and why that is honest.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np

from ..fitness import FEATURES

EXCERPT_TURNS = 20
EXCERPT_CHARS = 2400
AGENT_TURN_CHARS = 250
AGENT_KEEP_CHARS = 100
PERSONA_CHARS = 1200
TASK_TEXT_CHARS = 2200  # the authors' cut of each task's context in the reflection prompt
MAX_WORDS = 300
ARTIFACT_CHARS = 10_000
TEMPERATURE = 0.25
MAX_TOKENS = 2000
N_EXTREMES = 2

_CONTROL = re.compile(r"###(?:STOP|TRANSFER|OUT-OF-SCOPE)###")
# "Task 3", "task #12", "task no. 4", "task_id", persona labels "p0".."p99", "persona 2"
_INDEX_PATTERNS = (
    (re.compile(r"\btask[\s_-]*(?:id|index)\b\s*:?\s*\w*", re.IGNORECASE), "a task"),
    (re.compile(r"\btask\s*(?:#|no\.?|number)?\s*\d+\b", re.IGNORECASE), "one task"),
    (re.compile(r"\bpersona\s*(?:#|no\.?|number)?\s*\d+\b", re.IGNORECASE), "one persona"),
    (re.compile(r"\bp\d{1,3}\b"), "one persona"),
)


# -- clipping and scrubbing -----------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, marked with an ellipsis when cut."""
    text = text or ""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def redact(text: str, names) -> str:
    """Replace each of ``names`` (whole words, case-sensitive) by ``[customer]``.

    Case-sensitive on purpose: names are written capitalised, and a customer
    called Long or Rose must not turn "long messages" into nonsense.
    """
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "[customer]", text)
    return text


def dialogue_excerpt(messages, names=(), max_turns: int = EXCERPT_TURNS, max_chars: int = EXCERPT_CHARS) -> str:
    """The first ``max_turns`` text turns (user and agent; tool traffic dropped), clipped.

    Agent turns over 250 characters keep their first and last 100; the whole
    excerpt stops at ``max_chars``. Simulator control tokens are removed and
    customer ``names`` redacted.
    """
    lines: list[str] = []
    used = 0
    for message in messages or []:
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant") or not isinstance(content, str):
            continue
        text = " ".join(_CONTROL.sub("", content).split())
        if not text:
            continue
        if role == "assistant" and len(text) > AGENT_TURN_CHARS:
            text = f"{text[:AGENT_KEEP_CHARS]} […] {text[-AGENT_KEEP_CHARS:]}"
        line = f"{'User' if role == 'user' else 'Agent'}: {redact(text, names)}"
        room = max_chars - used - (1 if lines else 0)  # one newline before every line but the first
        if len(line) > room:
            if room > 1:
                lines.append(clip(line, room))
            break
        lines.append(line)
        used += len(line) + (1 if len(lines) > 1 else 0)
        if len(lines) >= max_turns:
            break
    return "\n".join(lines)


def limit_words(text: str, max_words: int = MAX_WORDS) -> str:
    """At most ``max_words`` words; line breaks are kept."""
    words = 0
    out = []
    for line in text.strip().splitlines():
        parts = line.split()
        if words + len(parts) > max_words:
            out.append(" ".join(parts[: max_words - words]) + "…")  # attached: the count stays max_words
            break
        out.append(line.rstrip())
        words += len(parts)
    return "\n".join(out).strip()


def sanitise(text: str, names=(), max_words: int | None = MAX_WORDS) -> str:
    """Enforce the output rules: no task/persona indices, no customer names, ≤ ``max_words``
    (None: no word cut, at most :data:`ARTIFACT_CHARS` characters)."""
    for pattern, replacement in _INDEX_PATTERNS:
        text = pattern.sub(replacement, text)
    text = redact(text, names).replace("[customer]", "the customer")
    text = re.sub(r"\b(the customer)(?:\s+the customer)+", r"\1", text, flags=re.IGNORECASE)  # "the customer <Name>"
    text = re.sub(r"(^|[.!?]\s+)the customer", r"\1The customer", text, flags=re.MULTILINE)
    if max_words is None:
        return clip(text.strip(), ARTIFACT_CHARS)
    return limit_words(text, max_words)


_USER_ID = re.compile(r"\b([a-z]+)_([a-z]+)_\d{3,}\b")
_YOU_ARE = re.compile(r"\b(?:You are|Your name is|My name is|I am)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+){1,2})")


def customer_names(task, domain: str | None = None) -> list[str]:
    """Names of the task's in-world customer: full names and first/last names.

    Gathered from the scenario text ("You are Yusuf Rossi", user ids such as
    ``mia_li_3668``), the expected actions' ``first_name``/``last_name`` and, for
    user ids, the domain database's user record.
    """
    scenario = getattr(task, "user_scenario", None)
    text = str(scenario) if scenario is not None else str(task)
    names: set[str] = set()
    user_ids: set[str] = set()
    for match in _YOU_ARE.finditer(text):
        names.add(match.group(1))
    for match in _USER_ID.finditer(text):
        user_ids.add(match.group(0))
    criteria = getattr(task, "evaluation_criteria", None)
    for action in (getattr(criteria, "actions", None) or []):
        args = getattr(action, "arguments", None) or {}
        first, last = args.get("first_name"), args.get("last_name")
        if isinstance(first, str) and isinstance(last, str):
            names.add(f"{first} {last}")
        if isinstance(args.get("user_id"), str):
            user_ids.add(args["user_id"])
    users = _domain_users(domain) if domain else {}
    for uid in user_ids:
        user = users.get(uid)
        name = getattr(user, "name", None)
        if name is not None and getattr(name, "first_name", None):
            names.add(f"{name.first_name} {name.last_name}")
        else:
            match = _USER_ID.fullmatch(uid)
            if match:
                names.add(f"{match.group(1).title()} {match.group(2).title()}")
        names.add(uid)
    parts = {p for n in list(names) if "_" not in n for p in n.split() if len(p) > 1}
    return sorted(names | parts, key=lambda s: (-len(s), s))


@functools.cache
def _domain_users(domain: str) -> dict:
    try:
        from ..simulation.environments import make_environment

        return dict(make_environment(domain).tools.db.users)
    except Exception:  # noqa: BLE001 — names from the text alone are still a useful scrub
        return {}


# -- what a reflector is given --------------------------------------------------------------


@dataclass
class EpisodeView:
    """One of the best or worst episodes, as a reflector sees it."""

    p_human: float
    persona_text: str
    active_behaviours: list[str]
    fingerprint: dict[str, float]
    excerpt: str
    success: bool | None = None


@dataclass
class TaskView:
    """One minibatch task, without its id: per-persona P(human) and active behaviours."""

    hl: float
    coverage: float
    personas: list[tuple[float, list[str]]] = field(default_factory=list)
    scenario: str = ""  # the task's scenario text, names redacted (empty: not given to the reflector)


@dataclass
class ReflectionInput:
    score: float
    hl: float
    coverage: float
    n: int
    lambda_h: float
    lambda_b: float
    tasks: list[TaskView]
    best: list[EpisodeView]
    worst: list[EpisodeView]
    banned_names: list[str] = field(default_factory=list)
    all_fingerprints: np.ndarray | None = None  # every episode of the batch (for relative statements)
    all_p_human: np.ndarray | None = None
    all_active: list[list[str]] = field(default_factory=list)
    failed_tasks: int = 0  # minibatch tasks left out because their persona generation failed


@dataclass
class Critique:
    text: str
    llm_calls: int = 0
    cost_usd: float = 0.0
    source: str = ""  # "llm", "offline", "unavailable"


def extremes(p_human, k: int = N_EXTREMES) -> tuple[list[int], list[int]]:
    """Indices of the ``k`` highest and ``k`` lowest P(human) episodes, never the same one twice."""
    order = list(np.argsort(-np.asarray(p_human, float), kind="stable"))
    best = order[:k]
    worst = [i for i in reversed(order) if i not in best][:k]
    return [int(i) for i in best], [int(i) for i in worst]


def episode_view(p_human: float, persona: dict | None, fingerprint_row, messages, names=(),
                 success: bool | None = None) -> EpisodeView:
    persona = persona or {}
    active = [a for a, on in (persona.get("axis_placement") or {}).items() if on]
    text = clip(redact(str(persona.get("instruction", "")), names), PERSONA_CHARS)
    fp = {f: round(float(v), 3) for f, v in zip(FEATURES, fingerprint_row)}
    return EpisodeView(float(p_human), text, active, fp, dialogue_excerpt(messages, names), success)


# -- the LLM reflector --------------------------------------------------------------------

SYSTEM = (
    "You review simulated customers in text-chat conversations with a customer-service agent. A program writes "
    "behaviour briefs (personas) for a user simulator; a frozen classifier scores how human each simulated "
    "customer's messages read (P(human)), and a coverage score measures how well each task's set of personas "
    "spans the range of real customers. Your critique guides the next edit of that program."
)

RULES = f"""Write a critique of at most {MAX_WORDS} words covering:
1. how the personas' behaviour led to these scores;
2. strengths worth keeping;
3. weaknesses, explicitly: drift away from the persona, unnatural role-play where real people would type \
briefly, and overly cooperative behaviour (no typos, no pushback, everything handed over at once);
4. which combinations of behaviours raise or lower human-likeness;
5. concrete patterns the program should adopt or avoid.
Rules: never refer to tasks, examples or personas by number or label (no "Task 3", no "p0"); never name the \
customers or any person in the dialogues; do not give per-feature numeric targets — describe behaviour in words. \
Return only the critique."""


def render_prompt(inp: ReflectionInput) -> str:
    """The user message of the reflection call (task scenarios included when the views carry them)."""
    with_text = any(task.scenario for task in inp.tasks)
    parts = [
        "## Fitness of this batch",
        (f"M = {inp.score:.3f} = {inp.lambda_h:.2f} x HL + {inp.lambda_b:.2f} x coverage; mean HL = {inp.hl:.3f}; "
         f"mean coverage = {inp.coverage:.3f}; {inp.n} personas per task, {len(inp.tasks)} tasks."),
    ]
    if inp.failed_tasks:
        parts.append(f"({inp.failed_tasks} more task(s) of the batch were left out: the program failed to write "
                     "their personas.)")
    parts += ["", ("## Per task: the scenario, then each persona's P(human) and active behaviours" if with_text
                   else "## Per task: each persona's P(human) and active behaviours")]
    for task in inp.tasks:
        personas = "; ".join(f"{p:.2f} [{', '.join(a) or 'none'}]" for p, a in task.personas)
        if with_text:
            parts += ["### A task of this batch", "Scenario:", task.scenario or "(no scenario text)",
                      f"HL {task.hl:.2f}, coverage {task.coverage:.2f}; personas: {personas}"]
        else:
            parts.append(f"- HL {task.hl:.2f}, coverage {task.coverage:.2f}: {personas}")
    for title, views in (("Most human-like episodes", inp.best), ("Least human-like episodes", inp.worst)):
        parts += ["", f"## {title}"]
        for view in views:
            fp = ", ".join(f"{k}={v:g}" for k, v in view.fingerprint.items())
            parts += [
                f"### P(human) = {view.p_human:.2f}; active behaviours: {', '.join(view.active_behaviours) or 'none'}",
                "Persona brief:", view.persona_text or "(empty)",
                f"Fingerprint (19 features of the customer's messages): {fp}",
                "Dialogue excerpt:", view.excerpt or "(no text turns)",
            ]
    parts += ["", RULES]
    return "\n".join(parts)


def reply_words(prompt: str) -> int | None:
    """The word cut of a critique under a reflection prompt style (None: kept whole up to ARTIFACT_CHARS)."""
    return None if prompt == "authors" else MAX_WORDS


class LLMReflection:
    """The paper's reflector: one ``client.chat("reflection", ...)`` call, then :func:`sanitise`.

    ``prompt="authors"`` (default) keeps the reply whole up to :data:`ARTIFACT_CHARS`;
    ``"ppol_nb"`` cuts it at :data:`MAX_WORDS` words. Which task text the prompt carries is
    the evaluator's choice (:attr:`TaskView.scenario`).
    """

    def __init__(self, client, role: str = "reflection", temperature: float = TEMPERATURE,
                 max_tokens: int = MAX_TOKENS, prompt: str = "authors") -> None:
        if prompt not in ("authors", "ppol_nb"):
            raise ValueError(f"prompt must be 'authors' or 'ppol_nb', got {prompt!r}")
        self.prompt = prompt
        self.client = client
        self.role = role
        self.temperature = temperature
        self.max_tokens = max_tokens

    def messages(self, inp: ReflectionInput) -> list[dict]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": render_prompt(inp)}]

    def reflect(self, inp: ReflectionInput, seed: int = 0) -> Critique:
        result = self.client.chat(self.role, self.messages(inp), seed=seed, temperature=self.temperature,
                                  max_tokens=self.max_tokens)
        text = sanitise(result.content or "", inp.banned_names, max_words=reply_words(self.prompt))
        return Critique(text, llm_calls=1, cost_usd=float(result.cost_usd), source="llm")


# -- the offline reflector ----------------------------------------------------------------

# How a feature reads in words when it is higher / lower in one group of dialogues than in another.
