"""The offline reflector: a deterministic critique written from the batch's own dialogues.

Stands in for the reflection LLM (:class:`ppol_nb.evolution.reflection.LLMReflection`)
and obeys the same rules (paper §2, "Reflection"): the same length rule as the LLM
reflector (kept whole up to 10,000 characters under the ``"authors"`` prompt, cut at
300 words under ``"ppol_nb"``; it writes well under 300 words either way), no customer
names, no per-feature numeric targets against humans. It reads the dialogues'
behavioural fingerprints (computed from the dialogue text by
:mod:`ppol_nb.fitness.fingerprint`, as a careful reader would tally them) and
writes plain text; the offline mutator (:mod:`.mutator`) reads that text back.
"""

from __future__ import annotations

import numpy as np

from ..evolution.reflection import Critique, ReflectionInput, reply_words, sanitise
from ..fitness import FEATURES

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

    def __init__(self, prompt: str = "authors") -> None:
        # The same length rule as the LLM reflector under that prompt style (reflection.reply_words).
        # It writes from the batch's numbers, so the tasks' scenario text does not change what it says.
        self.prompt = prompt

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
        return Critique(sanitise("\n".join(lines), inp.banned_names, max_words=reply_words(self.prompt)),
                        source="offline")

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
