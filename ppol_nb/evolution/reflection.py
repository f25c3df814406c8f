"""Reflection: a ≤ 300-word critique of a minibatch for the mutation prompt (PPol App. C.2).

What a reflector sees (:class:`ReflectionInput`), as in the paper:

* the fitness summary — M, mean human-likeness (HL), mean coverage, N and λ;
* per-task context: each persona's P(human) and active behaviours (tasks are
  listed without ids);
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
reflector sees and from what it writes (:func:`sanitise`), and the critique is cut
to 300 words.

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


def sanitise(text: str, names=(), max_words: int = MAX_WORDS) -> str:
    """Enforce the output rules: no task/persona indices, no customer names, ≤ ``max_words``."""
    for pattern, replacement in _INDEX_PATTERNS:
        text = pattern.sub(replacement, text)
    text = redact(text, names).replace("[customer]", "the customer")
    text = re.sub(r"\b(the customer)(?:\s+the customer)+", r"\1", text, flags=re.IGNORECASE)  # "the customer <Name>"
    text = re.sub(r"(^|[.!?]\s+)the customer", r"\1The customer", text, flags=re.MULTILINE)
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


@dataclass
class Critique:
    text: str
    llm_calls: int = 0
    cost_usd: float = 0.0
    source: str = "offline"


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
    """The user message of the reflection call."""
    parts = [
        "## Fitness of this batch",
        (f"M = {inp.score:.3f} = {inp.lambda_h:.2f} x HL + {inp.lambda_b:.2f} x coverage; mean HL = {inp.hl:.3f}; "
         f"mean coverage = {inp.coverage:.3f}; {inp.n} personas per task, {len(inp.tasks)} tasks."),
        "",
        "## Per task: each persona's P(human) and active behaviours",
    ]
    for task in inp.tasks:
        personas = "; ".join(f"{p:.2f} [{', '.join(a) or 'none'}]" for p, a in task.personas)
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


class LLMReflection:
    """The paper's reflector: one ``client.chat("reflection", ...)`` call, then :func:`sanitise`."""

    def __init__(self, client, role: str = "reflection", temperature: float = TEMPERATURE,
                 max_tokens: int = MAX_TOKENS) -> None:
        self.client = client
        self.role = role
        self.temperature = temperature
        self.max_tokens = max_tokens

    def messages(self, inp: ReflectionInput) -> list[dict]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": render_prompt(inp)}]

    def reflect(self, inp: ReflectionInput, seed: int = 0) -> Critique:
        result = self.client.chat(self.role, self.messages(inp), seed=seed, temperature=self.temperature,
                                  max_tokens=self.max_tokens)
        text = sanitise(result.content or "", inp.banned_names)
        return Critique(text, llm_calls=1, cost_usd=float(result.cost_usd), source="llm")


# -- the offline reflector ----------------------------------------------------------------

# How a feature reads in words when it is higher / lower in one group of dialogues than in another.
DESCRIPTORS: dict[str, tuple[str, str]] = {
    "words_per_turn": ("long messages", "short messages"),
    "short_utterance_rate": ("many replies of a few words", "almost no replies of a few words"),
    "politeness_rate": ("courtesies in most messages (please, thanks, sorry)", "few courtesies"),
    "formality_rate": ("formal connectives and punctuation", "an informal register"),
    "acknowledgment_rate": ("bare acknowledgements (ok, sure, got it)", "no bare acknowledgements"),
    "verbosity_cv": ("message lengths that vary a lot", "uniform message lengths"),
    "repetition_rate": ("repeated phrasing", "little repetition"),
    "identity_confusion_rate": ("phrasing that sounds like an agent", "no agent-like phrasing"),
    "front_loading_ratio": ("everything front-loaded into the first messages",
                            "details released gradually over the conversation"),
    "identifiers_per_turn": ("IDs and codes packed into messages", "few IDs per message"),
    "opening_length": ("a long opening message", "a short opening message"),
    "uncertainty_rate": ("hedging (maybe, I think, not sure)", "no hedging"),
    "certainty_rate": ("emphatic certainty", "little emphatic certainty"),
    "pushback_rate": ("pushback on the agent", "no pushback"),
    "clarification_question_rate": ("clarification questions", "no clarification questions"),
    "info_seeking_rate": ("questions about status and options", "few questions to the agent"),
    "emotional_expression_rate": ("visible emotion", "no visible emotion"),
    "accusatory_rate": ("accusatory outbursts", "no accusations"),
    "strategy_pivot_rate": ("changes of tack", "no changes of tack"),
}
_FRICTION = ("uncertainty_rate", "pushback_rate", "clarification_question_rate", "emotional_expression_rate",
             "accusatory_rate")


def _join(items: list[str]) -> str:
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class OfflineReflection:
    """A deterministic critique from the batch's own numbers; no LLM, no human data.

    It writes, in plain language and within the paper's rules:

    * the fitness summary it is given (M, HL, coverage, N, λ) and how widely
      P(human) varies within tasks;
    * how the 2 most and 2 least human-like dialogues differ: the features whose
      means differ most between the two pairs (in units of the batch's own spread),
      rendered as words — e.g. "the least human-like dialogues show long
      messages, everything front-loaded into the first messages and courtesies
      in most messages; the most human-like show short messages ..." — plus an "overly
      cooperative" flag when the weakest show no hedging, pushback or emotion;
    * which behaviours (axes) go with higher or lower P(human), from the mean
      P(human) of personas with the axis on vs off, and the behaviour sets of the
      best and worst personas;
    * advice on coverage from the coverage number alone.

    Why this is honest: "more human-like" here means only "scored higher by the
    frozen discriminator in this batch"; every comparison is between the batch's
    own episodes, so nothing is read from the human corpus beyond the summary
    numbers the evaluator passes in, and no per-feature human-vs-persona gap is
    stated (the proxy-hacking guard explained in the module docstring). With few
    episodes the contrasts are noisy, and the text says what it compares.
    """

    top_features = 4
    min_effect = 0.3  # in batch standard deviations: smaller contrasts are not worth a sentence

    def reflect(self, inp: ReflectionInput, seed: int = 0) -> Critique:
        lines = [self._summary(inp)]
        contrast = self._contrast(inp)
        if contrast:
            lines.append(contrast)
        axes = self._axes(inp)
        if axes:
            lines.append(axes)
        lines.append(self._coverage(inp))
        advice = self._advice(inp)
        if advice:
            lines.append(advice)
        return Critique(sanitise("\n".join(lines), inp.banned_names), source="offline")

    # pieces ----------------------------------------------------------------------------
    @staticmethod
    def _summary(inp: ReflectionInput) -> str:
        text = (f"Fitness {inp.score:.3f} (human-likeness {inp.hl:.3f}, coverage {inp.coverage:.3f}; "
                f"{inp.n} personas per task, weights {inp.lambda_h:.2f}/{inp.lambda_b:.2f}).")
        spreads = [max(p for p, _ in t.personas) - min(p for p, _ in t.personas) for t in inp.tasks if t.personas]
        if spreads:
            hl = [t.hl for t in inp.tasks]
            text += (f" Task-level human-likeness ranged from {min(hl):.2f} to {max(hl):.2f}; within a task the "
                     f"personas differed by up to {max(spreads):.2f}, so persona behaviour moves the score more than "
                     "the task does." if max(spreads) >= 0.3 else
                     f" Task-level human-likeness ranged from {min(hl):.2f} to {max(hl):.2f}; the personas of a task "
                     "scored alike, so they behave too similarly.")
        return text

    def _diff(self, inp: ReflectionInput) -> list[tuple[str, float]]:
        """(feature, standardised best-minus-worst difference), largest first."""
        if not inp.best or not inp.worst:
            return []
        best = np.array([[v.fingerprint[f] for f in FEATURES] for v in inp.best])
        worst = np.array([[v.fingerprint[f] for f in FEATURES] for v in inp.worst])
        pool = inp.all_fingerprints if inp.all_fingerprints is not None and len(inp.all_fingerprints) > 1 \
            else np.vstack([best, worst])
        scale = np.asarray(pool, float).std(axis=0)
        out = []
        for j, feature in enumerate(FEATURES):
            if scale[j] <= 1e-12:
                continue
            z = (best[:, j].mean() - worst[:, j].mean()) / scale[j]
            if abs(z) >= self.min_effect:
                out.append((feature, float(z)))
        return sorted(out, key=lambda fz: -abs(fz[1]))[: self.top_features]

    def _contrast(self, inp: ReflectionInput) -> str:
        diff = self._diff(inp)
        worst_p = ", ".join(f"{v.p_human:.2f}" for v in inp.worst)
        best_p = ", ".join(f"{v.p_human:.2f}" for v in inp.best)
        if not diff:
            return (f"The most (P(human) {best_p}) and least (P(human) {worst_p}) human-like dialogues differ little "
                    "in their measurable style; the difference lies in details a fingerprint does not capture.")
        worst_words = [DESCRIPTORS[f][0] if z < 0 else DESCRIPTORS[f][1] for f, z in diff]
        best_words = [DESCRIPTORS[f][1] if z < 0 else DESCRIPTORS[f][0] for f, z in diff]
        text = (f"Weaknesses: the least human-like dialogues (P(human) {worst_p}) show {_join(worst_words)}. "
                f"Strengths: the most human-like (P(human) {best_p}) show {_join(best_words)}.")
        worst_friction = [v.fingerprint[f] for v in inp.worst for f in _FRICTION]
        if inp.worst and max(worst_friction, default=0.0) == 0.0:
            text += (" The weakest customers are overly cooperative: no hedging, pushback, confusion or visible "
                     "emotion, and they answer every request as asked.")
        return text

    @staticmethod
    def _axes(inp: ReflectionInput) -> str:
        if inp.all_p_human is None or not inp.all_active:
            return ""
        p = np.asarray(inp.all_p_human, float)
        names = sorted({a for active in inp.all_active for a in active})
        effects = []
        for axis in names:
            on = np.array([axis in active for active in inp.all_active])
            if on.all() or not on.any():
                continue
            effects.append((axis, float(p[on].mean() - p[~on].mean())))
        up = [a for a, d in sorted(effects, key=lambda x: -x[1]) if d >= 0.05]
        down = [a for a, d in sorted(effects, key=lambda x: x[1]) if d <= -0.05]
        parts = []
        if up:
            parts.append(f"personas with {_join(up)} switched on scored higher on average")
        if down:
            parts.append(f"those with {_join(down)} on scored lower")
        best_sets = {", ".join(v.active_behaviours) or "no behaviour" for v in inp.best}
        worst_sets = {", ".join(v.active_behaviours) or "no behaviour" for v in inp.worst}
        parts.append(f"the best personas combined {' / '.join(sorted(best_sets))}, the worst "
                     f"{' / '.join(sorted(worst_sets))}")
        return "Behaviours: " + "; ".join(parts) + "."

    @staticmethod
    def _coverage(inp: ReflectionInput) -> str:
        if inp.coverage < 0.2:
            return ("Coverage is low: each task's personas either cluster together or sit away from how real "
                    "customers write. Make the people of one task differ in pacing, disclosure and reactions, not "
                    "only in mood, and keep each of them plausible.")
        if inp.coverage < 0.5:
            return ("Coverage is moderate: the personas span part of the range of real customers; widen the contrast "
                    "between people of the same task (very brief vs. chatty, guarded vs. open) without caricature.")
        return "Coverage is good: keep the spread between people of the same task while raising human-likeness."

    def _advice(self, inp: ReflectionInput) -> str:
        diff = self._diff(inp)
        if not diff:
            return "Adopt: try structural changes (new behaviour axes or turn-by-turn rules) to move the score."
        adopt = [DESCRIPTORS[f][0] if z > 0 else DESCRIPTORS[f][1] for f, z in diff[:2]]
        avoid = [DESCRIPTORS[f][1] if z > 0 else DESCRIPTORS[f][0] for f, z in diff[:2]]
        return (f"Adopt: roleplay rules that produce {_join(adopt)}, tied to who the person is. "
                f"Avoid: {_join(avoid)}; and do not chase single surface markers — write coherent people.")


def make_reflection(client=None):
    """The reflector for a run: the LLM one for an OpenAI-backed client, else offline."""
    if client is not None and getattr(client.config, "backend", "offline") == "openai":
        return LLMReflection(client)
    return OfflineReflection()
