"""certainty_rate and info_seeking_rate agree with the paper's definition on real user turns.

The reference (tests/paper_definitions.py) is written from the paper's feature
section alone. On user turns of ordinary offline episodes (base offline user,
retail and airline train tasks) and of MultiWOZ dialogues:

* every turn the paper's phrases fire on fires our lexicon too (nothing dropped);
* the per-episode mean rate differs by at most ``MEAN_TOLERANCE`` (0.01) and the
  turn-level flags agree on at least ``TURN_AGREEMENT`` (99.5 %) of turns, which
  leaves room for typed variants ("i am sure", "could you check") but not for a
  broader construct (before narrowing, "of course" put the offline certainty
  rate at 0.178 against the paper's 0.092, and general question openers put
  MultiWOZ info-seeking at 0.065 against 0.016).
"""

from __future__ import annotations

import numpy as np
import pytest
from paper_definitions import PAPER_PHRASES, paper_fires, paper_rate

from ppol_nb.fitness import FEATURES, fingerprints, fires, user_turns
from ppol_nb.humans import load_multiwoz
from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.runner import run_episodes, specs_for

MEAN_TOLERANCE = 0.01
TURN_AGREEMENT = 0.995


@pytest.fixture(scope="module")
def offline_dialogues(tmp_path_factory):
    specs = specs_for("retail", "train") + specs_for("airline", "train")  # 104 episodes
    df = run_episodes(specs, OfflineBackend(), tmp_path_factory.mktemp("offline"), progress=False)
    assert df["error"].isna().all()
    return [user_turns(list(m)) for m in df["messages"]]


@pytest.fixture(scope="module")
def multiwoz_dialogues():
    try:
        corpus = load_multiwoz()
    except FileNotFoundError:
        pytest.skip("MultiWOZ is not in the shared data folder")
    return [d.user_turns for d in corpus.dialogues]


@pytest.mark.parametrize("name", sorted(PAPER_PHRASES))
@pytest.mark.parametrize("corpus", ["offline", "multiwoz"])
def test_lexicon_agrees_with_the_paper_definition(name, corpus, request):
    dialogues = request.getfixturevalue(f"{corpus}_dialogues")
    turns = [t for d in dialogues for t in d]
    assert len(dialogues) >= 100 and len(turns) > 300
    ours = np.array([fires(name, t) for t in turns])
    paper = np.array([paper_fires(name, t) for t in turns])
    assert not (paper & ~ours).any(), [t for t, p, o in zip(turns, paper, ours) if p and not o][:5]
    assert (ours == paper).mean() >= TURN_AGREEMENT
    ours_mean = fingerprints(dialogues)[:, FEATURES.index(name)].mean()
    paper_mean = np.mean([paper_rate(name, d) for d in dialogues])
    assert abs(ours_mean - paper_mean) <= MEAN_TOLERANCE, (ours_mean, paper_mean)


def test_the_reference_reads_the_paper_literally():
    assert paper_fires("certainty_rate", "I'm sure it was red") and paper_fires("certainty_rate", "100% yes")
    assert not paper_fires("certainty_rate", "I'm not sure") and not paper_fires("certainty_rate", "sure")
    assert paper_fires("info_seeking_rate", "Any update on my refund?")
    assert not paper_fires("info_seeking_rate", "Are there any hotels?")
    assert paper_rate("info_seeking_rate", ["when will it ship", "ok"]) == 0.5
