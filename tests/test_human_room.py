"""Room to become human (issue 8, item 4): the offline user can talk like people do.

The main claim is measured the way the search measures it: a hand-written persona
*text* that describes how people type to a support chat goes through the persona
reader and the offline user on real τ² retail and airline train tasks, and its
episodes reach clearly non-zero Chamfer coverage (paper Eq. 3) of the MultiWOZ
training humans — the cloud a :class:`~ppol_nb.fitness.score.FitnessModel` built by
the baseline study scores against — while the base simulator stays at about zero.

Thresholds, from measurements with this protocol (24 tasks × 3 seeds, the search's
20-step cap; see the report in ``ppol_nb/offline/behaviours.py``): base coverage
0.000 (P(human) 0.05), MultiWOZ-style text 0.41 (0.85), texting-style text 0.37
(0.86). Before the gist openings, spread details, tangents and tiered politeness
the same texts reached 0.28 and 0.11. The floors (0.35 and 0.25) sit under the
measurements with room for wording changes in the reader or the phrase pools, and
above the old values, so losing these mechanics fails; the base ceiling 0.05 is
the issue's.

Also here: the mechanics behind it — gist openings with details spread over later
messages (gating), tangents (digression), the order pleasantries thin out in
(politeness) — each checked for what it must and must not do.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pytest
from reader_cases import MULTIWOZ_STYLE

from ppol_nb.backends import OfflineBackend
from ppol_nb.evolution.curriculum import VAL_FRACTION
from ppol_nb.fitness.coverage import CoverageReference
from ppol_nb.fitness.discriminator import HumanLikenessDiscriminator, labelled
from ppol_nb.fitness.fingerprint import FEATURES, fingerprints, user_turns
from ppol_nb.fitness.lexicons import LEXICONS, fires
from ppol_nb.humans import load_corpus, split_humans
from ppol_nb.offline import behaviours as bh
from ppol_nb.offline.reader import read
from ppol_nb.offline.user import OfflineUser
from ppol_nb.offline.utterance import Part
from ppol_nb.personas import Persona
from ppol_nb.simulation.runner import EpisodeSpec, run_episode
from ppol_nb.simulation.scenario import build_scenario
from ppol_nb.simulation.step_caps import DEFAULT_MAX_STEPS, TRAIN_MAX_STEPS
from ppol_nb.simulation.tau2_bridge import get_task, load_tasks

# The issue's own example: a phone texter.
TEXTING_STYLE = (
    "You type like you're texting: all lowercase, a few words at a time, no greetings or thanks, you give "
    "details one at a time only when asked, and sometimes go off on a tangent."
)

N_TASKS = 12  # per domain: the first train tasks are scored ...
SEEDS = (0, 1, 2)  # ... with three episodes each (a task's fingerprint set F_t) ...
MAX_STEPS = TRAIN_MAX_STEPS  # ... under the step cap of the search's training rollouts
RETAIL_WRITES = {"exchange_delivered_order_items", "return_delivered_order_items", "cancel_pending_order",
                 "modify_pending_order_items", "modify_pending_order_address", "modify_pending_order_payment",
                 "modify_user_address"}
KEY_FEATURES = ("opening_length", "words_per_turn", "front_loading_ratio", "politeness_rate", "verbosity_cv")


def _tasks(first: int | None = N_TASKS, skip: int = 0) -> list[tuple[str, str]]:
    return [(d, t.id) for d in ("retail", "airline") for t in load_tasks(d, "train")[skip:first]]


@dataclass
class _ProfileBackend(OfflineBackend):
    """The offline backend with a behaviour profile given directly (mechanics tests only)."""

    profile: dict | None = None

    def make_user(self, task, scenario, seed, persona=None):
        return OfflineUser(scenario, self.user_style, seed, ledger=self.ledger, behaviour=self.profile)


@functools.cache
def _episodes(text: str | None, tasks: tuple, seeds: tuple = SEEDS, max_steps: int = MAX_STEPS) -> tuple:
    """Episodes of the persona with instruction ``text`` (None: the base simulator),
    through the real offline backend, which reads the text with the persona reader."""
    persona = None if text is None else Persona.create(
        description="a human-like customer", instruction=text, source="test").to_dict()
    backend = OfflineBackend()
    recs = tuple(run_episode(EpisodeSpec(d, t, seed=s, persona=persona), backend, max_steps)
                 for d, t in tasks for s in seeds)
    assert all(r["error"] is None for r in recs), [r["error"] for r in recs if r["error"]]
    return recs


@functools.cache
def _profile_episodes(profile_items: tuple, tasks: tuple, seeds: tuple = SEEDS,
                      max_steps: int = DEFAULT_MAX_STEPS) -> tuple:
    backend = _ProfileBackend(profile=dict(profile_items) or None)
    return tuple(run_episode(EpisodeSpec(d, t, seed=s), backend, max_steps) for d, t in tasks for s in seeds)


def _new_failures(base, persona) -> list[dict]:
    """Episodes the persona fails where the base succeeds (same task and seed)."""
    return [p for b, p in zip(base, persona, strict=True) if b["reward"] == 1.0 and p["reward"] != 1.0]


def _ran_long_or_was_handed_over(rec) -> bool:
    """The human-like ways a chat fails: it runs past the step cap, or the agent, short
    of a detail the user held back, hands it to a human."""
    return rec["termination_reason"] == "max_steps" or any(
        c["name"] == "transfer_to_human_agents" for m in rec["messages"] for c in m.get("tool_calls") or [])


def _fp(recs) -> np.ndarray:
    return fingerprints([user_turns(r["messages"]) for r in recs])


@functools.cache
def _humans() -> np.ndarray:
    """H_train: MultiWOZ's training humans, the cloud the baseline study's FitnessModel
    scores coverage against (validation and held-out humans are not in it)."""
    split = split_humans(load_corpus("multiwoz"), "retail", val_fraction=VAL_FRACTION)
    return fingerprints([d.user_turns for d in split.train])


def coverage(recs) -> float:
    """Mean over tasks of B_cover(F_t, H_train) (paper Eq. 3; FitnessModel.row's Coverage)."""
    ref = CoverageReference.from_points(_humans())
    X = _fp(recs)
    keys = np.array([f"{r['domain']}-{r['task_id']}" for r in recs])
    return float(np.mean([ref.score(X[keys == k]) for k in dict.fromkeys(keys)]))


@functools.cache
def _discriminator(domain: str) -> HumanLikenessDiscriminator:
    """Trained as in the baseline study (reference humans vs base episodes on train
    tasks), on the train tasks the coverage tests do not score, so P(human) of the
    scored episodes is out of sample for every condition, the base included."""
    held = tuple(t for t in _tasks(first=None, skip=N_TASKS) if t[0] == domain)
    return HumanLikenessDiscriminator().fit(*labelled(_humans(), _fp(_episodes(None, held, (0,)))))


def p_human(recs) -> float:
    return float(np.mean([p for d in ("retail", "airline")
                          for p in _discriminator(d).predict_proba_human(_fp([r for r in recs if r["domain"] == d]))]))


# --- the claim: a human-like text reaches the humans, the base does not ---------------------


def test_base_simulator_has_no_coverage_of_humans():
    assert coverage(_episodes(None, tuple(_tasks()))) <= 0.05


@pytest.mark.parametrize(("text", "floor"), [(MULTIWOZ_STYLE, 0.35), (TEXTING_STYLE, 0.25)],
                         ids=["multiwoz-style", "texting-style"])
def test_human_like_persona_text_covers_humans(text, floor):
    levels = read(text).levels
    assert levels.get("gating", 0) >= 0.5 and levels.get("digression", 0) > 0  # the text was understood
    tasks = tuple(_tasks())
    recs = _episodes(text, tasks)
    assert coverage(recs) >= floor
    # And the discriminator of the baseline study finds it far more human than the base.
    assert p_human(recs) >= 0.5 > 0.2 >= p_human(_episodes(None, tasks))
    # It still does the job when the chat may run as long as it needs (τ²'s own cap),
    # give or take a detail held back too long ...
    free = [_episodes(t, tasks, max_steps=DEFAULT_MAX_STEPS) for t in (None, text)]
    assert np.mean([r["reward"] for r in free[1]]) >= np.mean([r["reward"] for r in free[0]]) - 0.1
    # ... and under the search's 20-step cap what it loses, it loses as people do: the
    # longer chat runs out of steps, or a withheld detail ends in a hand-over.
    assert all(_ran_long_or_was_handed_over(r) for r in _new_failures(_episodes(None, tasks), recs))


def test_multiwoz_style_moves_the_key_features_towards_humans():
    tasks = tuple(_tasks())
    human = dict(zip(FEATURES, _humans().mean(axis=0)))
    base = dict(zip(FEATURES, _fp(_episodes(None, tasks)).mean(axis=0)))
    persona = dict(zip(FEATURES, _fp(_episodes(MULTIWOZ_STYLE, tasks)).mean(axis=0)))
    for feature in KEY_FEATURES:
        assert abs(persona[feature] - human[feature]) < abs(base[feature] - human[feature]) / 2, feature
    # MultiWOZ openings: 8-21 words for 80% of people, median 12.
    assert 8 <= persona["opening_length"] <= 21 < base["opening_length"]


# --- gating: the gist first, the details a piece per message ---------------------------------


def test_split_gist_cuts_at_a_clause_and_keeps_facts_whole():
    part = Part.of("request", "I received my order #W2378156 and wish to exchange the mechanical keyboard for a "
                   "similar one but with clicky switches and the smart thermostat for one compatible with "
                   "Google Home instead of Apple HomeKit.", ["#W2378156"])
    head, rest = bh.split_gist(part)
    lo, hi = bh.GIST_WORDS
    assert lo <= len(head.text.split()) <= hi and "#W2378156" in head.text
    assert "#W2378156" in head.fixed_values
    assert head.text == "I received my order #W2378156 and wish to exchange the mechanical keyboard."
    assert [p.text for p in rest] == ["For a similar one but with clicky switches.",
                                      "And the smart thermostat for one compatible with Google Home instead of Apple "
                                      "HomeKit."]
    words = " ".join(p.text for p in [head, *rest]).lower().replace(".", "").split()
    assert words == part.text.lower().replace(".", "").split()  # nothing lost, nothing added
    short = Part.of("request", "I want to cancel all of my upcoming flights.")
    assert bh.split_gist(short) == (short, [])


def test_gated_user_opens_with_the_gist_and_spreads_the_rest():
    tasks = (("retail", "0"),)
    rec = _profile_episodes((("gating", 1.0),), tasks, (0,))[0]
    user = user_turns(rec["messages"])
    opening = user[0]
    assert "keyboard" in opening and "thermostat" not in opening and "#W2378156" not in opening
    later = "\n".join(user[1:])
    assert "clicky switches" in later and "Google Home" in later  # every detail comes out later ...
    assert sum("clicky" in t for t in user) == 1  # ... once, on a line of its own
    assert any(line.startswith("For a similar one") for t in user for line in t.split("\n")[1:])
    assert rec["reward"] == 1.0
    default = _profile_episodes((), tasks, (0,))[0]
    assert len(user_turns(default["messages"])) < len(user)


# --- digression: tangents, then back; never the facts or the goal ------------------------------

REQUEST_WORDS = re.compile(r"\b(?:cancel|return|exchange|refund|book|reserv|change|modif|upgrade|swap|order|"
                           r"pay|card|credit|gift|address|passenger|bag|seat|ticket|\d)", re.I)


def test_digression_pool_says_nothing_about_the_task():
    for line in [*bh.digression_pool("retail"), *bh.DIGRESSIONS["airline"], *bh.BACK_ON_TASK]:
        assert not REQUEST_WORDS.search(line), line
        assert not re.search(r"\b[A-Z]{2,}\b", line), line  # no codes or acronyms
        fired = [name for name in LEXICONS if fires(name, line.lower())]
        assert set(fired) <= {"info_seeking_rate"}, (line, fired)
    assert any(fires("info_seeking_rate", q.lower()) for q in bh.digression_pool("airline"))


def test_digression_goes_off_topic_and_back_without_costing_the_task():
    tasks = tuple(_tasks(first=6))
    base = _profile_episodes((), tasks)
    dig = _profile_episodes((("digression", 1.0),), tasks)
    pool = sorted(set(bh.digression_pool("retail") + bh.digression_pool("airline")))
    with_tangent = 0
    for b, d in zip(base, dig):
        assert d["reward"] == b["reward"]  # under τ²'s own step cap
        turns = user_turns(d["messages"])
        said = [line for line in pool for t in turns if line in t]
        assert len(said) == len(set(said))  # a tangent is never repeated
        with_tangent += bool(said)
        # Take the tangents and the ways back out, and the default's facts are all there.
        stripped = [re.sub("|".join(map(re.escape, pool + bh.BACK_ON_TASK)), "", t) for t in turns]
        for fact in build_scenario(get_task(d["domain"], d["task_id"]), d["domain"], RETAIL_WRITES).facts:
            assert (fact.value in " ".join(stripped)) == (fact.value in " ".join(user_turns(b["messages"])))
    assert with_tangent >= 0.8 * len(dig)
    # When asked "anything else?" the user may bring something up before saying goodbye.
    endings = [[m["content"] for m in d["messages"] if m["role"] == "user" and m["content"]][-2:] for d in dig]
    assert any(t[0] in pool and t[1].endswith("###STOP###") for t in endings)
    # That extra exchange is the only cost under the search's 20-step cap.
    capped = [_profile_episodes(p, tasks, max_steps=TRAIN_MAX_STEPS) for p in ((), (("digression", 1.0),))]
    assert all(r["termination_reason"] == "max_steps" for r in _new_failures(*capped))


def test_digression_never_turns_a_yes_into_a_no():
    sc = build_scenario(get_task("retail", "0"), "retail", RETAIL_WRITES)
    for seed in range(20):
        user = OfflineUser(sc, seed=seed, behaviour={"digression": 1.0})
        user.reply("Hi! How can I help you today?")
        assert bh.confirms(user.reply("To confirm: I will do it. Shall I proceed? Please answer yes or no."))


# --- politeness below 0.5: service-speak first, the farewell thanks last ----------------------


def test_low_politeness_thins_pleasantries_in_human_order():
    tasks = tuple(_tasks(first=6))
    recs = _profile_episodes((("gating", 1.0), ("politeness", 0.25)), tasks)
    turns = [user_turns(r["messages"]) for r in recs]
    assert not any(re.search(r"\b(?:certainly|of course)\b", t, re.I) for ts in turns for t in ts)
    assert not any(re.search(r"thank", ts[0], re.I) for ts in turns)  # nobody thanks in advance
    last = np.mean([fires("politeness_rate", ts[-1].lower()) for ts in turns])
    middle = np.mean([fires("politeness_rate", t.lower()) for ts in turns for t in ts[1:-1]])
    assert last > 0.5 > middle  # MultiWOZ: 89% of last turns thank, ~25% of the others are polite
