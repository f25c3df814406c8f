"""The offline mutator: real, deterministic program transformations without an LLM.

It stands in for the mutation LLM when no model is configured (CI, notebooks
run offline, tests of the whole loop), and it sees exactly what the LLM would:
the parent's and the inspirations' sources, their metrics and the parent's
evaluator reflection — never the human corpus, the discriminator or the fitness
internals. (It reads no prompt text, so neither of the LLM mutator's wordings
changes what it does; the island's evolution history, which the ``"authors"``
prompt also shows, it does not use: ``propose`` takes no ``history``.) Every random choice comes from the ``rng`` the engine passes, so the
same (run seed, iteration) always yields the same child.

Operators (``Proposal.angle``) and their base weights:

========================  ======  =========================================================
operator                  weight  what it does
========================  ======  =========================================================
``add_axis``              0.25    add an axis from :mod:`.axis_library` (at most
                                  ``max_axes`` axes)
``drop_axis``             0.10    remove an axis (at least ``min_axes`` stay)
``revise_axis``           0.25    edit an axis's ON playbook text: add or replace a concrete
                                  tactic sentence (:data:`.axis_library.PLAYBOOK_TACTICS`),
                                  drop a sentence, or make its wording milder or stronger
                                  ("now and then" <-> "almost always")
``population``            0.15    add/remove a ``POPULATION_PROMPT`` directive, install the
                                  over-generation hook, or retune ``OVERGENERATION``
``expansion``             0.10    add/remove a ``ROLEPLAY_PROMPT`` directive or change its
                                  requested word range
``crossover``             0.15    merge axes with an inspiration program: its new axes are
                                  added, shared axes take its version by coin flip
========================  ======  =========================================================

Operators that cannot apply to a parent (no literal ``DIVERSITY_AXES``, no
prompt constant, no inspiration with different axes, limits reached) are left
out and the others' weights renormalised. When the reflection names a problem
this mutator has a lever for, it is used plainly: "overly cooperative /
robotic / polished" makes ``add_axis`` 1.5x as likely and makes it prefer
friction axes (similarly long/verbose -> brevity and disclosure axes,
typos/lowercase -> typing axes, flat/emotionless -> emotion axes), and
"caricature / exaggerated" makes a revision choose milder wording.

Every operator edits text — playbook sentences, axes written as text, prompt
directives — never a hidden parameter: what it changes reaches the offline
world only through the persona instructions the program then writes, as it
would reach an LLM user.

Edits touch only the assignment they change: the program is parsed with
:mod:`ast`, the constant is read with ``ast.literal_eval``, transformed, and
re-rendered over its exact line span (:func:`.program_edit.replace_constant`).
"""

from __future__ import annotations

import ast
import copy
import math
import random
import re

from ..source_parsing import parse as parse_source
from . import axis_library as lib
from . import prompt_library as prompts
from ..evolution.interfaces import ProgramRecord, Proposal
from ..evolution.program_edit import (
    AXES_NAME,
    MutationError,
    read_constant,
    replace_constant,
    unified_diff,
    validate_child,
)

OPERATOR_WEIGHTS: dict[str, float] = {
    "add_axis": 0.25,
    "drop_axis": 0.10,
    "revise_axis": 0.25,
    "population": 0.15,
    "expansion": 0.10,
    "crossover": 0.15,
}

# Reflection phrases -> the library tags that address them.
REFLECTION_HINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"cooperative|robotic|polished|subservient|overly polite|too polite|compliant|perfect(ly)? format",
     ("friction",)),
    (r"wall of text|verbose|data dump|large text|lengthy|too long|long messages", ("brevity", "disclosure")),
    (r"typo|lower-?case|typing|punctuation|casing", ("typing",)),
    (r"emotionless|flat affect|monoton|too patient|no emotion", ("emotion",)),
)
DAMPING_HINT = r"caricature|exaggerat|over[- ]the[- ]top|theatrical|cartoon"

POPULATION_PROMPT = "POPULATION_PROMPT"
ROLEPLAY_PROMPT = "ROLEPLAY_PROMPT"
_WORD_RANGE = re.compile(r"(\d{2,3})\s*(?:-|–|to)\s*(\d{2,3})\s+words")


class _NotApplicable(Exception):
    """The chosen operator cannot change this parent (another one is drawn)."""


class _Parent:
    """What the operators need to know about the parent, parsed once."""

    def __init__(self, record: ProgramRecord) -> None:
        self.record = record
        self.source = record.source
        self.tree = parse_source(self.source)
        self.axes = _literal_axes(self.source, self.tree)
        reflection = record.artifacts.get("evaluator_reflection") if record.artifacts else None
        self.reflection = str(reflection or "")

    def string_constant(self, name: str) -> str | None:
        try:
            value = read_constant(self.source, name, self.tree)
        except (KeyError, ValueError):
            return None
        return value if isinstance(value, str) else None

    def has_top_level(self, name: str) -> bool:
        """Whether the module binds ``name`` at top level (def, class or assignment)."""
        for node in self.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                return True
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        return False

    def function(self, name: str) -> ast.FunctionDef | None:
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node
        return None


def _literal_axes(source: str, tree: ast.Module) -> list[dict] | None:
    """The parent's axes if ``DIVERSITY_AXES`` is a literal list of dicts, else None."""
    try:
        axes = read_constant(source, AXES_NAME, tree)
    except (KeyError, ValueError):
        return None
    if not isinstance(axes, list) or not all(isinstance(a, dict) and isinstance(a.get("name"), str) for a in axes):
        return None
    return axes


def _fix_clashes(axes: list[dict]) -> list[dict]:
    """Drop ``clashes_with`` entries that name absent axes (the contract requires present names)."""
    names = {a["name"] for a in axes}
    for axis in axes:
        if "clashes_with" in axis:
            kept = [c for c in axis["clashes_with"] if c in names and c != axis["name"]]
            if kept:
                axis["clashes_with"] = kept
            else:
                del axis["clashes_with"]
    return axes


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


class OfflineMutator:
    """Deterministic transformations of generator programs (``kind="transform"``).

    Parameters
    ----------
    weights : operator -> base weight; defaults to :data:`OPERATOR_WEIGHTS`.
    max_axes, min_axes : bounds on the axis count (the offline population model
        enumerates the behaviour cube exactly up to 12 axes; 8 keeps prompts short).
    max_code_length : the paper's OpenEvolve limit on a program's size.
    use_reflection : follow the reflection hints described in the module docstring.
    """

    def __init__(self, weights: dict[str, float] | None = None, max_axes: int = 8, min_axes: int = 2,
                 max_code_length: int = 65_536, use_reflection: bool = True) -> None:
        self.weights = dict(OPERATOR_WEIGHTS if weights is None else weights)
        unknown = set(self.weights) - set(OPERATOR_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown offline operators {sorted(unknown)}; known: {sorted(OPERATOR_WEIGHTS)}")
        if min_axes < 1 or max_axes < min_axes:
            raise ValueError("need 1 <= min_axes <= max_axes")
        self.max_axes, self.min_axes = max_axes, min_axes
        self.max_code_length = max_code_length
        self.use_reflection = use_reflection

    # -- the Mutator protocol ----------------------------------------------------------------------

    def propose(self, parent: ProgramRecord, inspirations: list[ProgramRecord], rng: random.Random,
                iteration: int) -> Proposal:
        try:
            state = _Parent(parent)
        except SyntaxError as exc:
            raise MutationError(f"the parent program does not parse: {exc}") from None
        hints = self._hints(state.reflection)
        weights = {op: w for op, w in self.weights.items() if w > 0 and self._eligible(op, state, inspirations)}
        if hints and "add_axis" in weights:
            weights["add_axis"] *= 1.5
        tried = []
        while weights:
            op = self._draw(weights, rng)
            try:
                source, notes = getattr(self, f"_op_{op}")(state, inspirations, rng, hints)
            except _NotApplicable as exc:
                tried.append(f"{op}: {exc}")
                del weights[op]
                continue
            if source == parent.source:
                tried.append(f"{op}: no change")
                del weights[op]
                continue
            validate_child(source, self.max_code_length)
            if hints:
                notes += f" [reflection hints: {', '.join(sorted(hints))}]"
            return Proposal(source=source, diff=unified_diff(parent.source, source), kind="transform", angle=op,
                            notes=notes)
        raise MutationError("no offline operator applies to this program"
                            + (f" ({'; '.join(tried)})" if tried else ""))

    # -- choice --------------------------------------------------------------------------------------

    @staticmethod
    def _draw(weights: dict[str, float], rng: random.Random) -> str:
        ops = [op for op in OPERATOR_WEIGHTS if op in weights]  # fixed order: draws are reproducible
        return rng.choices(ops, weights=[weights[op] for op in ops], k=1)[0]

    def _hints(self, reflection: str) -> set[str]:
        if not self.use_reflection or not reflection:
            return set()
        text = reflection.lower()
        return {tag for pattern, tags in REFLECTION_HINTS if re.search(pattern, text) for tag in tags}

    def _eligible(self, op: str, state: _Parent, inspirations: list[ProgramRecord]) -> bool:
        axes = state.axes
        if op == "add_axis":
            return axes is not None and len(axes) < self.max_axes and bool(self._addable(axes))
        if op == "drop_axis":
            return axes is not None and len(axes) > self.min_axes
        if op == "revise_axis":
            return bool(axes)
        if op == "population":
            return state.string_constant(POPULATION_PROMPT) is not None or self._hook_state(state) != "none"
        if op == "expansion":
            return state.string_constant(ROLEPLAY_PROMPT) is not None
        if op == "crossover":
            return axes is not None and bool(self._partners(state, inspirations))
        return False

    # -- axis operators ------------------------------------------------------------------------------

    @staticmethod
    def _addable(axes: list[dict]) -> list[str]:
        present = {a["name"] for a in axes}
        return [name for name in lib.library_names() if name not in present]

    def _render_axes(self, state: _Parent, axes: list[dict]) -> str:
        return replace_constant(state.source, AXES_NAME, _fix_clashes(axes), state.tree)

    def _op_add_axis(self, state, inspirations, rng, hints):
        axes = copy.deepcopy(state.axes)
        candidates = self._addable(axes)
        preferred = [n for n in candidates if n in set(lib.names_with_tags(hints))]
        # Follow the hint most of the time, but keep exploring the rest of the library.
        pool = preferred if preferred and rng.random() < 0.75 else candidates
        name = rng.choice(pool)
        axis = lib.library_axis(name)
        present = {a["name"] for a in axes}
        clashes = sorted(lib.clashes_of(name) & present)
        if clashes:
            axis["clashes_with"] = clashes
        axes.insert(rng.randint(0, len(axes)), axis)
        note = f"added axis {name!r} from the library"
        if clashes:
            note += f", clashing with {clashes}"
        return self._render_axes(state, axes), note

    def _op_drop_axis(self, state, inspirations, rng, hints):
        axes = copy.deepcopy(state.axes)
        victim = axes.pop(rng.randrange(len(axes)))
        return self._render_axes(state, axes), f"dropped axis {victim['name']!r} ({len(axes)} remain)"

    def _op_revise_axis(self, state, inspirations, rng, hints):
        axes = copy.deepcopy(state.axes)
        index = rng.randrange(len(axes))
        axis = axes[index]
        damp = re.search(DAMPING_HINT, state.reflection.lower()) is not None
        roll = rng.random()
        if roll < 0.3 or damp:
            note = self._reword_intensity(axis, rng, milder=damp or rng.random() < 0.5)
            if note is None:
                note = self._rewrite_playbook(axis, rng, hints)
        elif roll < 0.4 and len(_sentences(axis["on_playbook"])) > 1:
            sentences = _sentences(axis["on_playbook"])
            gone = sentences.pop(rng.randrange(len(sentences)))
            axis["on_playbook"] = " ".join(sentences)
            note = f"dropped ON rule {gone!r}"
        else:
            note = self._rewrite_playbook(axis, rng, hints)
        return self._render_axes(state, axes), f"revised axis {axis['name']!r}: {note}"

    @staticmethod
    def _reword_intensity(axis: dict, rng: random.Random, milder: bool) -> str | None:
        """Swap one intensity wording in the ON playbook; None when it has none to swap."""
        text = axis["on_playbook"]
        options = []
        for mild, strong in lib.INTENSITY_SWAPS:
            old, new = (strong, mild) if milder else (mild, strong)
            if re.search(rf"\b{re.escape(old)}\b", text, re.I):
                options.append((old, new))
        if not options:
            return None
        old, new = rng.choice(options)
        axis["on_playbook"] = re.sub(rf"\b{re.escape(old)}\b", new, text, count=1, flags=re.I)
        return f"made its wording {'milder' if milder else 'stronger'}: {old!r} -> {new!r}"

    @staticmethod
    def _rewrite_playbook(axis: dict, rng: random.Random, hints=()) -> str:
        tags = set(lib.AXIS_TAGS.get(axis["name"], ())) | set(hints)
        topics = sorted({t for tag in tags for t in lib.TAG_TACTICS.get(tag, ())}) or sorted(lib.PLAYBOOK_TACTICS)
        playbook = axis["on_playbook"].strip()
        fresh = [t for topic in topics for t in lib.PLAYBOOK_TACTICS[topic] if t not in playbook]
        if not fresh:  # every fitting tactic is in already: try the others
            fresh = [t for topic in sorted(lib.PLAYBOOK_TACTICS) for t in lib.PLAYBOOK_TACTICS[topic]
                     if t not in playbook]
        tactic = rng.choice(fresh)
        sentences = _sentences(playbook)
        if len(sentences) >= 4:  # keep playbooks short: replace the latest rule instead of growing
            sentences[-1] = tactic
            action = "replaced its last ON rule with"
        else:
            sentences.append(tactic)
            action = "added ON rule"
        axis["on_playbook"] = " ".join(sentences)
        return f"{action} {tactic!r}"

    def _partners(self, state: _Parent, inspirations: list[ProgramRecord]) -> list[tuple[ProgramRecord, list]]:
        """Inspirations whose literal axes differ from the parent's (new names or other versions)."""
        mine = {a["name"]: a for a in state.axes or []}
        out = []
        for record in inspirations:
            if not record.source or record.error:
                continue
            try:
                axes = _literal_axes(record.source, parse_source(record.source))
            except SyntaxError:
                continue
            if axes and any(a["name"] not in mine or a != mine[a["name"]] for a in axes):
                out.append((record, axes))
        return out

    def _op_crossover(self, state, inspirations, rng, hints):
        record, other = rng.choice(self._partners(state, inspirations))
        theirs = {a["name"]: a for a in other}
        child, swapped = [], []
        for axis in state.axes:
            twin = theirs.get(axis["name"])
            if twin is not None and twin != axis and rng.random() < 0.5:
                child.append(copy.deepcopy(twin))
                swapped.append(axis["name"])
            else:
                child.append(copy.deepcopy(axis))
        present = {a["name"] for a in child}
        new = [a for a in other if a["name"] not in present]
        room = self.max_axes - len(child)
        taken = rng.sample(new, k=rng.randint(1, min(2, len(new), room))) if new and room > 0 else []
        child.extend(copy.deepcopy(taken))
        if not taken and not swapped:
            # Nothing moved by chance: take the inspiration's version of one differing shared axis.
            differing = [i for i, a in enumerate(child) if a["name"] in theirs and theirs[a["name"]] != a]
            if not differing:
                raise _NotApplicable(f"nothing to take from {record.id}")
            i = rng.choice(differing)
            child[i] = copy.deepcopy(theirs[child[i]["name"]])
            swapped.append(child[i]["name"])
        parts = []
        if taken:
            parts.append(f"added {[a['name'] for a in taken]}")
        if swapped:
            parts.append(f"took its version of {swapped}")
        return self._render_axes(state, child), f"crossover with {record.id}: " + "; ".join(parts)

    # -- prompt operators ----------------------------------------------------------------------------

    @staticmethod
    def _toggle_directive(text: str, bank: tuple[str, ...], rng: random.Random) -> tuple[str, str]:
        """Add a bank directive as a new bullet (or, when all are in, remove one)."""
        missing = [d for d in bank if d not in text]
        if not missing:
            gone = rng.choice(bank)
            return re.sub(r"\n- " + re.escape(gone), "", text, count=1).replace(gone, ""), f"removed directive {gone!r}"
        directive = rng.choice(missing)
        lines = text.split("\n")
        bullets = [i for i, line in enumerate(lines) if line.startswith("- ")]
        if bullets:
            # After the last bullet and its wrapped continuation lines, i.e. at the end of that list.
            at = bullets[-1] + 1
            while at < len(lines) and lines[at].strip() and not lines[at].startswith(("- ", "#")):
                at += 1
            lines.insert(at, f"- {directive}")
            return "\n".join(lines), f"added directive {directive!r}"
        return text.rstrip() + f"\n\nAlso: {directive}", f"added directive {directive!r}"

    def _hook_state(self, state: _Parent) -> str:
        """'tunable' if OVERGENERATION is a numeric constant, 'installable' if the hook fits, else 'none'."""
        try:
            value = read_constant(state.source, prompts.OVERGENERATION_NAME, state.tree)
        except (KeyError, ValueError):
            value = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return "tunable"
        fn = state.function("generate_population")
        if fn is None or [a.arg for a in fn.args.args] != ["context", "axes", "n", "llm"] or fn.decorator_list:
            return "none"
        if any(state.has_top_level(n) for n in (prompts.OVERGENERATION_NAME, prompts.POOL_FUNCTION,
                                                 prompts.SELECT_FUNCTION)):
            return "none"
        if "def generate_population(" not in state.source.splitlines()[fn.lineno - 1]:
            return "none"
        return "installable"

    def _op_population(self, state, inspirations, rng, hints):
        choices = []
        if state.string_constant(POPULATION_PROMPT) is not None:
            choices += ["directive", "directive"]
        hook = self._hook_state(state)
        if hook != "none":
            choices.append(hook)
        choice = rng.choice(choices)
        if choice == "directive":
            text, note = self._toggle_directive(state.string_constant(POPULATION_PROMPT),
                                                prompts.POPULATION_DIRECTIVES, rng)
            return replace_constant(state.source, POPULATION_PROMPT, text, state.tree), f"population prompt: {note}"
        if choice == "tunable":
            old = float(read_constant(state.source, prompts.OVERGENERATION_NAME, state.tree))
            low, high = prompts.OVERGENERATION_RANGE
            new = old
            while new == old:
                new = round(min(high, max(low, old * math.exp(rng.gauss(0.0, 0.3)))), 2)
            source = replace_constant(state.source, prompts.OVERGENERATION_NAME, new, state.tree)
            return source, f"over-generation factor {old:g} -> {new:g}"
        return self._install_hook(state), ("installed the over-generation hook (OVERGENERATION = 1.5: propose "
                                           "1.5 n people, keep the n most spread out)")

    @staticmethod
    def _install_hook(state: _Parent) -> str:
        """Rename the parent's generate_population to the pool proposer and add the selecting wrapper."""
        fn = state.function("generate_population")
        lines = state.source.splitlines(keepends=True)
        lines[fn.lineno - 1] = lines[fn.lineno - 1].replace(
            "def generate_population(", f"def {prompts.POOL_FUNCTION}(", 1)
        end = fn.end_lineno
        if end and not lines[end - 1].endswith("\n"):
            lines[end - 1] += "\n"
        return "".join(lines[:end]) + prompts.OVERGENERATION_HOOK + "".join(lines[end:])

    def _op_expansion(self, state, inspirations, rng, hints):
        text = state.string_constant(ROLEPLAY_PROMPT)
        ranges = _WORD_RANGE.findall(text)
        if ranges and rng.random() < 0.3:
            current = tuple(int(x) for x in ranges[0])
            lo, hi = rng.choice([r for r in prompts.EXPANSION_LENGTHS if r != current])
            text = _WORD_RANGE.sub(f"{lo}-{hi} words", text, count=1)
            note = f"requested length {current[0]}-{current[1]} -> {lo}-{hi} words"
        else:
            text, note = self._toggle_directive(text, prompts.ROLEPLAY_DIRECTIVES, rng)
        return replace_constant(state.source, ROLEPLAY_PROMPT, text, state.tree), f"roleplay prompt: {note}"
