"""How the offline agent understands a user turn: hand rules, or a reader learned from dialogues.

The offline agent (:class:`.agent.OfflineAgent`) makes two decisions about what
the user said, and nothing else about the user:

* **facts** — has a fact it needs (a name, a zip code, an order id …) been said,
  so that it may use it in a tool call, or must it ask (again)?
* **confirmation** — after "Shall I proceed?", does the answer mean *proceed*,
  *refuse* (skip the change) or *ask again* (unclear)?

Both go through a *reader* with two methods, ``heard(fact, user_texts,
agent_texts)`` and ``confirmation(agent_text, user_text)``; the agent's
``reader=`` parameter is the seam (:class:`RuleReader` when None).

* :class:`RuleReader` is the agent's original hand rules, moved here unchanged:
  token-exact fact matching (:func:`~ppol_nb.simulation.scenario.heard`) and the
  yes/no regular expressions. It is the "No fine-tuning" agent of notebook 05.
* :class:`DialogueReader` is a scikit-learn estimator that learns both decisions
  from dialogues in the OpenAI fine-tuning chat format (one list of message
  dicts per dialogue: ``user`` / ``assistant`` with ``tool_calls`` / ``tool``),
  the format the SFT exporter writes. Text in, text out: it reads only what an
  LLM agent would read — message texts and the agent's own tool calls — never
  simulator internals or persona ids.

Supervision the dialogues already carry (a successful trajectory is the SFT target):

* **Fact tags.** A tool-call argument value that appears token-exactly in a user
  message is what that message *carries* (the agent took it from there, or could
  have): those words are tagged with the argument's label (``zip`` -> "zip code",
  :func:`~ppol_nb.simulation.scenario.label_for`; a word may carry several). A
  logistic regression over (word, label) pairs — every user word against every
  label the dialogue's tool calls used — learns "this word carries that label's
  value" from the word's shape, its neighbours, whether the label is named just
  before it and whether the agent had just asked for it (features mostly relative
  to the label, so "my city is X" teaches "my zip code is X"). At use, a fact is
  heard when a run of words read as carrying the fact's label contains its value
  token-exactly: the learned reader can only *miss* a fact, never invent one, as
  a real agent that misreads a turn must ask again.
* **Confirmation acts.** For every user message answering a yes/no question of the
  agent (its own "Shall I proceed?" or "anything else?"), the label is what the
  agent did next: a tool call -> ``proceed``; the same question again ->
  ``ask_again``; anything else (it dropped the change, or the user was done) ->
  ``refuse``. A TF-IDF (character and word n-grams) logistic regression learns
  them; a reading less confident than ``min_confidence`` asks again.

  Successful trajectories exported for SFT (:mod:`ppol_nb.training.sft_data`) end on
  the agent's last message, so the user's closing answer is cut, and users in them
  consent to every change: they teach one act (``proceed``). With
  ``confirmation_prior="rules"`` such data leave the confirmation decision to the
  hand rules (:class:`RuleReader`; the prior knowledge of "yes"/"no" an LLM brings
  to fine-tuning) and only the facts are learned; ``describe()`` says which. With
  ``confirmation_prior=None`` (the default) ``fit`` refuses them.

Guarantees: deterministic for a given ``random_state`` and training set (lbfgs
solvers, sorted vocabularies); a reader that is not fitted raises
:class:`sklearn.exceptions.NotFittedError` naming what to do; ``fit`` refuses data
that cannot train a decision (no tagged fact; fewer than two confirmation acts,
unless ``confirmation_prior="rules"``) with a clear ``ValueError``.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache

from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline

from ..simulation.scenario import LABEL_CUES, Fact, heard, label_for, tokens

# Part of a trained reader's fingerprint: a changed feature or supervision rule is another reader.
READER_VERSION = 2

PROCEED, REFUSE, ASK_AGAIN = "proceed", "refuse", "ask_again"
ACTS = (PROCEED, REFUSE, ASK_AGAIN)

# The agent's original confirmation rules (RuleReader), unchanged.
_YES = re.compile(r"\b(yes|yeah|yep|yup|sure|ok|okay|go ahead|proceed|confirm(ed)?|please do|do it|correct|y)\b", re.IGNORECASE)
_NO = re.compile(r"\b(no|nope|don't|do not|cancel that|stop|wait)\b", re.IGNORECASE)
_NOT = re.compile(r"\b(don't|do not|not)\b", re.IGNORECASE)

# A yes/no question of the agent's own (its confirmation request or its closing question).
_POLAR = re.compile(r"shall i proceed|yes or no|anything else", re.IGNORECASE)
# Control tokens of the user simulator, not speech.
_CONTROL = re.compile(r"###[A-Z_]+###")
_WORD = re.compile(r"\S+")
_EDGE = ".,;:!?()[]{}\"'"


class RuleReader:
    """The offline agent's hand rules: token-exact facts, yes/no regular expressions."""

    name = "rules"

    def heard(self, fact: Fact, user_texts: list[str], agent_texts: list[str] | None = None) -> bool:
        return heard(fact.value, user_texts)

    def confirmation(self, agent_text: str, user_text: str) -> str:
        if _YES.search(user_text) and not _NOT.search(user_text):
            return PROCEED
        if _NO.search(user_text):
            return REFUSE
        return ASK_AGAIN

    def describe(self) -> dict:
        return {"reader": self.name}


# ----------------------------------------------------------------------------- dialogue parsing
def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):  # OpenAI content parts
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _arguments(call: dict) -> dict:
    """A tool call's arguments, from the OpenAI layout (``function.arguments`` JSON) or a flat one."""
    fn = call.get("function", call)
    args = fn.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return {}
    return args if isinstance(args, dict) else {}


def _leaves(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _leaves(v)]
    if value is None or isinstance(value, bool):
        return []
    return [str(value)]


def words(text: str) -> list[str]:
    """The words of a message: whitespace-separated, outer punctuation stripped ('78712.' -> '78712')."""
    out = []
    for m in _WORD.finditer(_CONTROL.sub(" ", text)):
        w = m.group().strip(_EDGE)
        if w:
            out.append(w)
    return out


def _tag_words(ws: list[str], values: list[tuple[str, str]]) -> list[list[str]]:
    """For every word, the labels of the values whose token-exact occurrence covers it
    (a word may carry several: 'mei_kovacs_8020' is a user id and holds a first name)."""
    flat = [(t, i) for i, w in enumerate(ws) for t in tokens(w)]
    seq = [t for t, _ in flat]
    tags: list[list[str]] = [[] for _ in ws]
    for label, value in values:
        needle = tokens(value)
        n = len(needle)
        for start in range(len(seq) - n + 1):
            if seq[start:start + n] == needle:
                for _, i in flat[start:start + n]:
                    if label not in tags[i]:
                        tags[i].append(label)
    return [sorted(t) for t in tags]


def _trivial(value: str) -> bool:
    # As the scenario's fact rule: single short tokens ("1", "0", "no") match by accident.
    t = tokens(value)
    return not t or (len(t) == 1 and len(t[0]) < 3)


def dialogue_examples(messages: list[dict]) -> tuple[list[tuple], list[tuple[str, str, str]]]:
    """The supervision one dialogue carries (see the module docstring).

    Returns ``(tagged, acts)``: ``tagged`` holds ``(agent_text, user_text, word_tags,
    labels)`` for every user message (``labels``: the labels of every value the agent
    used in the dialogue, the candidates each word is judged against); ``acts`` holds ``(agent_text, user_text, act)`` for every
    user message answering one of the agent's yes/no questions.
    """
    # The values the agent used in its tool calls, by the label of the argument they filled:
    # a user turn carries a value it contains, whenever the agent used it (a value restated
    # after the call is still carried by the restatement).
    values, seen = [], set()
    for msg in messages:
        calls = (msg.get("tool_calls") or []) if msg.get("role") == "assistant" else []
        for call in calls:
            for arg, value in _arguments(call).items():
                for leaf in _leaves(value):
                    key = (label_for(arg), leaf)
                    if key not in seen and not _trivial(leaf):
                        seen.add(key)
                        values.append(key)
    labels = sorted({label for label, _ in values})
    tagged, acts = [], []
    last_agent = ""
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role == "assistant" and _text(msg):
            last_agent = _text(msg)
        if role != "user":
            continue
        user = _text(msg)
        ws = words(user)
        if ws:
            tagged.append((last_agent, user, _tag_words(ws, values), labels))
        if _POLAR.search(last_agent):
            acts.append((last_agent, user, _next_act(messages[i + 1:], last_agent)))
    return tagged, acts


def _next_act(rest: list[dict], question: str) -> str:
    """What the agent did after the answer: a tool call, the same question again, or neither."""
    for msg in rest:
        if msg.get("role") != "assistant":
            continue
        if msg.get("tool_calls"):
            return PROCEED
        text = _text(msg)
        same = _POLAR.search(text)
        return ASK_AGAIN if same and same.group().lower() == _POLAR.search(question).group().lower() else REFUSE
    return REFUSE  # the user ended the conversation


# ----------------------------------------------------------------------------- features
def _shape(word: str) -> str:
    s = re.sub(r"[A-Z]", "X", word)
    s = re.sub(r"[a-z]", "x", s)
    s = re.sub(r"[0-9]", "d", s)
    return re.sub(r"(.)\1{2,}", r"\1\1", s)  # runs shortened: 'ddddd' -> 'dd'


def asked_labels(agent_text: str) -> list[str]:
    """Fact labels the agent's message asks for (its own words, read with the shared cues)."""
    return [label for label, cue in LABEL_CUES.items() if re.search(cue, agent_text, re.IGNORECASE)]


def _label_near(label: str, before: list[str]) -> bool:
    """The label is named in the words just before ('my zip code is …', 'zipcode …')."""
    text = " ".join(before)
    cue = LABEL_CUES.get(label)
    if cue and re.search(cue, text, re.IGNORECASE):
        return True
    needle, hay = tokens(label), tokens(text)
    return any(hay[i:i + len(needle)] == needle for i in range(len(hay) - len(needle) + 1))


def _label_asked(label: str, agent_text: str) -> bool:
    return label in asked_labels(agent_text) or _label_near(label, [agent_text])


def pair_features(agent_text: str, ws: list[str], label: str) -> list[dict]:
    """Features of "word i carries the value of ``label``", for every word of a user message.

    Most are relative to the label (named just before the word, asked for by the agent)
    rather than tied to one label, so what is learned about "my zip code is X" carries
    over to "my city is X" — and to labels rarely seen in training.
    """
    asked = _label_asked(label, agent_text)
    feats = []
    for i, w in enumerate(ws):
        low, shape = w.lower(), _shape(w)
        prev = ws[i - 1].lower() if i else "<s>"
        near = _label_near(label, ws[max(0, i - 4):i])
        f = {"shape=" + shape: 1, "title": int(w[:1].isupper()), "digit": int(any(c.isdigit() for c in w)),
             "at": int("@" in w), "hash": int(w.startswith("#")), "under": int("_" in w),
             "-1=" + prev: 1, "+1=" + (ws[i + 1].lower() if i + 1 < len(ws) else "</s>"): 1,
             "-1shape=" + (_shape(ws[i - 1]) if i else "<s>"): 1, "short_turn": int(len(ws) <= 4),
             "L|shape=" + label + "|" + shape: 1, "L|w=" + label + "|" + low: 1,
             "L|-1=" + label + "|" + prev: 1}
        if asked:
            f["asked"] = 1
            f["asked|shape=" + shape] = 1
        if near:
            f["near"] = 1
            f["near|shape=" + shape] = 1
            f["near|title"] = int(w[:1].isupper())
            f["near|-1=" + prev] = 1
        feats.append(f)
    return feats


def _act_text(agent_text: str, user_text: str) -> str:
    # Which question was asked matters ("no" ends a closing question, refuses a change).
    kind = (_POLAR.search(agent_text).group().lower().replace(" ", "_") if _POLAR.search(agent_text) else "none")
    return f"__q_{kind}__ " + _CONTROL.sub(" ", user_text).strip()


# ----------------------------------------------------------------------------- the learner
class DialogueReader(BaseEstimator):
    """A learned reader of user turns, trained on OpenAI-format chat dialogues.

    ``fit(dialogues)``: ``dialogues`` is a list of dialogues, each a list of OpenAI chat
    message dicts (or a dict with a ``"messages"`` list, as one line of the fine-tuning
    JSONL). ``predict(turns)``: ``turns`` is a list of ``(agent_text, user_text)``
    pairs; returns one ``{"facts": {label: [value text, ...]}, "act": act}`` per turn.
    """

    def __init__(self, C: float = 4.0, min_confidence: float = 0.5, max_iter: int = 2000,
                 random_state: int | None = 0, confirmation_prior: str | None = None):
        self.C = C
        self.confirmation_prior = confirmation_prior
        self.min_confidence = min_confidence
        self.max_iter = max_iter
        self.random_state = random_state

    name = "learned"

    # -- training --------------------------------------------------------------------
    def fit(self, dialogues, y=None):
        tagged, acts = [], []
        n = 0
        for dialogue in dialogues:
            messages = dialogue.get("messages") if isinstance(dialogue, dict) else dialogue
            if not isinstance(messages, list):
                raise TypeError("each dialogue must be a list of chat messages or a dict with a 'messages' list")
            t, a = dialogue_examples(messages)
            tagged += t
            acts += a
            n += 1
        X_pairs, y_pairs, y_words = [], [], []
        for agent_text, user_text, tags, labels in tagged:
            ws = words(user_text)
            y_words += tags
            for label in labels:
                X_pairs += pair_features(agent_text, ws, label)
                y_pairs += [int(label in t) for t in tags]
        if not any(y_pairs):
            raise ValueError("no user word carries a value the agent used in a tool call: nothing to learn "
                             "which facts a turn carries (are these successful tool-using dialogues?)")
        if self.confirmation_prior not in (None, "rules"):
            raise ValueError(f"confirmation_prior must be None or 'rules', got {self.confirmation_prior!r}")
        act_labels = [a for _, _, a in acts]
        if len(set(act_labels)) < 2 and self.confirmation_prior is None:
            raise ValueError(f"confirmation answers need at least two different next actions to learn from, "
                             f"got {sorted(set(act_labels)) or 'none'} (confirmation_prior='rules' keeps the "
                             f"hand rules for them)")
        self.vectorizer_ = DictVectorizer(sort=True)
        self.tagger_ = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state,
                                          solver="lbfgs")
        self.tagger_.fit(self.vectorizer_.fit_transform(X_pairs), y_pairs)
        features = FeatureUnion([
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True, sublinear_tf=True)),
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=True, token_pattern=r"[^\s]+")),
        ])
        if len(set(act_labels)) < 2:  # nothing to learn: the rules decide (confirmation_prior="rules")
            self.acts_ = None
        else:
            self.acts_ = make_pipeline(features, LogisticRegression(C=self.C, max_iter=self.max_iter,
                                                                    random_state=self.random_state, solver="lbfgs"))
            self.acts_.fit([_act_text(a, u) for a, u, _ in acts], act_labels)
        self.labels_ = tuple(sorted({label for t in y_words for label in t}))
        self.n_dialogues_ = n
        self.n_user_turns_ = len(tagged)
        self.n_tagged_words_ = int(sum(bool(t) for t in y_words))
        self.n_pairs_ = len(y_pairs)
        self.n_act_turns_ = len(acts)
        self.act_counts_ = {a: act_labels.count(a) for a in ACTS if a in act_labels}
        digest = hashlib.sha256(json.dumps([READER_VERSION, self.get_params(), tagged, acts], sort_keys=True, default=str).encode())
        self.fingerprint_ = digest.hexdigest()[:12]
        self._tag_cache = lru_cache(maxsize=4096)(self._tag_uncached)
        return self

    def _check(self) -> None:
        if not hasattr(self, "tagger_"):
            raise NotFittedError("this DialogueReader is not trained: call fit(dialogues) with OpenAI-format "
                                 "chat dialogues before the agent can use it (or use RuleReader for the rules)")

    # -- reading ---------------------------------------------------------------------
    def spans(self, agent_text: str, user_text: str, label: str) -> list[str]:
        """The runs of words of ``user_text`` read as carrying ``label``'s value."""
        self._check()
        if not hasattr(self, "_tag_cache"):  # an unpickled reader
            self._tag_cache = lru_cache(maxsize=4096)(self._tag_uncached)
        return list(self._tag_cache(agent_text, user_text, label))

    def _tag_uncached(self, agent_text: str, user_text: str, label: str) -> tuple:
        ws = words(user_text)
        if not ws:
            return ()
        proba = self.tagger_.predict_proba(self.vectorizer_.transform(pair_features(agent_text, ws, label)))[:, 1]
        out, run = [], []
        for w, p in [*zip(ws, proba), ("", 0.0)]:
            if p >= 0.5:
                run.append(w)
            elif run:
                out.append(" ".join(run))
                run = []
        return tuple(out)

    def facts(self, agent_text: str, user_text: str, labels=None) -> dict[str, list[str]]:
        """Label -> the value texts ``user_text`` carries for it (labels: those seen in training)."""
        return {label: found for label in (self.labels_ if labels is None else labels)
                if (found := self.spans(agent_text, user_text, label))}

    def act_proba(self, agent_text: str, user_text: str) -> dict[str, float]:
        self._check()
        if self.acts_ is None:  # untaught: the hand rules' reading, with certainty
            return {RuleReader().confirmation(agent_text, user_text): 1.0}
        proba = self.acts_.predict_proba([_act_text(agent_text, user_text)])[0]
        return {str(c): float(p) for c, p in zip(self.acts_.classes_, proba)}

    def act(self, agent_text: str, user_text: str) -> str:
        proba = self.act_proba(agent_text, user_text)
        best = max(sorted(proba), key=proba.get)
        return best if proba[best] >= self.min_confidence else ASK_AGAIN

    def predict(self, turns) -> list[dict]:
        return [{"facts": self.facts(a, u), "act": self.act(a, u)} for a, u in turns]

    # -- the agent's reader interface ---------------------------------------------------
    def heard(self, fact: Fact, user_texts: list[str], agent_texts: list[str] | None = None) -> bool:
        """Whether some user turn carried ``fact``: a run tagged with its label holds its value."""
        agent_texts = agent_texts or [""] * len(user_texts)
        needle = tokens(str(fact.value))
        for agent_text, user_text in zip(agent_texts, user_texts):
            for span in self.spans(agent_text, user_text, fact.label):
                hay = tokens(span)
                if any(hay[i:i + len(needle)] == needle for i in range(len(hay) - len(needle) + 1)):
                    return True
        return False

    def confirmation(self, agent_text: str, user_text: str) -> str:
        return self.act(agent_text, user_text)

    def describe(self) -> dict:
        self._check()
        return {"reader": self.name, "fingerprint": self.fingerprint_, "params": self.get_params(),
                "n_dialogues": self.n_dialogues_, "n_user_turns": self.n_user_turns_,
                "n_tagged_words": self.n_tagged_words_, "n_word_label_pairs": self.n_pairs_,
                "n_act_turns": self.n_act_turns_,
                "act_counts": self.act_counts_, "labels": list(self.labels_),
                "confirmations": "learned" if self.acts_ is not None else "rules (the dialogues teach one act)"}

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_tag_cache", None)  # a cache of functions does not pickle; rebuilt on use
        return state


def reader_of(reader) -> RuleReader | DialogueReader:
    """The reader an agent uses: ``None`` -> the hand rules; a reader must be trained."""
    if reader is None:
        return RuleReader()
    if isinstance(reader, DialogueReader):
        reader._check()
    for method in ("heard", "confirmation", "describe"):
        if not callable(getattr(reader, method, None)):
            raise TypeError(f"an agent reader needs a {method}() method, got {type(reader).__name__}")
    return reader


__all__ = ["ACTS", "ASK_AGAIN", "PROCEED", "REFUSE", "DialogueReader", "RuleReader", "asked_labels",
           "dialogue_examples", "pair_features", "reader_of", "words"]
