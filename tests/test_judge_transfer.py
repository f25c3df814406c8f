"""Judge transfer (issue 12, item 3): a calibrated second judge on other humans, and the HL gap.

Offline, on real τ² retail tasks and the real MultiWOZ humans (the shared data
folder, as the baseline-study tests): the search judge is the baseline study's
FitnessModel; the transfer judge is fitted on the fit half of its held-out humans.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from reader_cases import MULTIWOZ_STYLE
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from ppol_nb.backends import OfflineBackend
from ppol_nb.fitness.discriminator import labelled
from ppol_nb.fitness.fingerprint import FEATURES, fingerprint_frame, fingerprints
from ppol_nb.fitness.transfer_judge import (
    TransferJudge,
    load_transfer_judge,
    train_transfer_judge,
)
from ppol_nb.humans import HumanLeakError, load_corpus
from ppol_nb.humans.transfer_split import check_transfer_record
from ppol_nb.personas import Persona
from ppol_nb.simulation.runner import EpisodeSpec, run_episode
from ppol_nb.simulation.step_caps import EVAL_MAX_STEPS
from ppol_nb.simulation.tau2_bridge import load_tasks
from ppol_nb.studies.baseline import BaselineStudy
from ppol_nb.analysis.judge_transfer import (
    fit_transfer_judge,
    judge_gap,
    rebuild_search_split,
    transfer_quality,
)

N_TASKS = 20  # retail train and test tasks of the baseline study (two seeds each)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("baseline")
    return BaselineStudy(OfflineBackend(), domains=("retail",), seeds=(0, 1), limit=N_TASKS, run_dir=str(run_dir),
                         progress=False).run()


def _sim(study, kind):
    fp = study.fingerprints()
    return fp[fp.kind == kind][list(FEATURES)].to_numpy()


@pytest.fixture(scope="module")
def search_model(study):
    return study.results["retail"].model


@pytest.fixture(scope="module")
def transfer(study, search_model):
    return fit_transfer_judge(load_corpus("multiwoz"), search_model, _sim(study, "base simulator (train tasks)"))


@functools.cache
def _test_episodes(text: str | None) -> tuple:
    persona = None if text is None else Persona.create(
        description="a human-like customer", instruction=text, source="test").to_dict()
    recs = tuple(run_episode(EpisodeSpec("retail", t.id, seed=s, persona=persona), OfflineBackend(), EVAL_MAX_STEPS)
                 for t in load_tasks("retail", "test")[:N_TASKS] for s in (0, 1))
    assert all(r["error"] is None for r in recs)
    return recs


# --- the humans: disjoint from the search judge's, recorded, leak-checked -----------------------


def test_transfer_humans_are_the_held_out_humans_cut_in_two(search_model, transfer):
    search = search_model.humans
    record = transfer.humans.record()
    fit, evaluation = set(record["fit"]["ids"]), set(record["evaluation"]["ids"])
    assert fit and evaluation and not fit & evaluation
    assert fit | evaluation == set(search["heldout"]["ids"])
    assert not (fit | evaluation) & (set(search["train"]["ids"]) | set(search["validation"]["ids"]))
    assert abs(len(fit) - len(evaluation)) <= 1
    # the manifest holds the halves' hashes and says where the negatives come from
    assert transfer.manifest["humans"]["fit"] == {"n": len(fit), "sha256": record["fit"]["sha256"]}
    assert transfer.manifest["search_humans_sha256"]["train"] == search["train"]["sha256"]
    assert "train tasks" in transfer.manifest["simulator_negatives"]
    assert transfer.manifest["n_train_human"] == len(fit)


def test_leak_check_fails_on_overlap(search_model, transfer):
    search, record = search_model.humans, transfer.humans.record()
    check_transfer_record(search, record)
    for role in ("train", "validation"):
        leaked = {**record, "fit": {**record["fit"], "ids": [*record["fit"]["ids"], search[role]["ids"][0]]}}
        with pytest.raises(HumanLeakError, match=f"search-judge {role}"):
            check_transfer_record(search, leaked)
    both = {**record, "evaluation": {**record["evaluation"],
                                     "ids": [*record["evaluation"]["ids"], record["fit"]["ids"][0]]}}
    with pytest.raises(HumanLeakError, match="both fit and evaluation"):
        check_transfer_record(search, both)
    # by task: a fit task that is also an evaluation task is a leak even with distinct dialogues
    by_task = {**record, "by": "task", "fit": {**record["fit"], "task_ids": ["7"]},
               "evaluation": {**record["evaluation"], "task_ids": ["7", "9"]}}
    with pytest.raises(HumanLeakError, match="evaluation task"):
        check_transfer_record(search, by_task)


def test_a_corpus_that_does_not_reproduce_the_search_split_is_refused(search_model):
    corpus = load_corpus("multiwoz")
    rebuild_search_split(corpus, search_model)  # the real one reproduces
    other = type(search_model)(**{**search_model.__dict__,
                                  "humans": {**search_model.humans, "seed": search_model.humans["seed"] + 1}})
    with pytest.raises(HumanLeakError, match="does not reproduce"):
        rebuild_search_split(corpus, other)


# --- the judge: another family, calibrated, separates on held-out data ---------------------------


def test_transfer_judge_separates_held_out_humans_from_the_base_simulator(study, transfer):
    q = transfer_quality(transfer.judge, transfer.evaluation_humans, _sim(study, "base simulator (test tasks)"))
    print("transfer judge, held-out:", q)
    assert q["n_human"] == transfer.humans.sizes()["evaluation"] and q["n_simulator"] == 2 * N_TASKS
    assert q["roc_auc"] >= 0.95 and q["accuracy"] >= 0.9
    assert q["brier"] <= 0.1  # an uninformative judge (0.5 everywhere) scores 0.25


@pytest.mark.parametrize("family", ["logistic", "boosting"])
def test_calibration_keeps_probabilities_off_the_rails(study, transfer, family):
    """On these nearly separable classes the raw model puts many held-out episodes at P ≈ 0 or 1
    (log loss then punishes any mistake without bound); the calibrated judge stays inside [0.001, 0.999]
    and still scores a low Brier."""
    H = fingerprints([d.user_turns for d in transfer.humans.fit])
    X_train, X_test = _sim(study, "base simulator (train tasks)"), _sim(study, "base simulator (test tasks)")
    calibrated = train_transfer_judge(H, X_train, family=family)
    raw = train_transfer_judge(H, X_train, family=family, calibration=None)
    X_eval, _ = labelled(transfer.evaluation_humans, X_test)
    p_cal, p_raw = calibrated.predict_proba_human(X_eval), raw.predict_proba_human(X_eval)
    q_cal = calibrated.evaluate(transfer.evaluation_humans, X_test)
    q_raw = raw.evaluate(transfer.evaluation_humans, X_test)
    print(family, "calibrated:", q_cal, "raw:", q_raw)
    assert ((0 <= p_cal) & (p_cal <= 1)).all()
    n_cal, n_raw = (int(((p < 1e-3) | (p > 1 - 1e-3)).sum()) for p in (p_cal, p_raw))
    print(family, "beyond [0.001, 0.999]: calibrated", n_cal, "raw", n_raw, "of", len(p_cal))
    assert n_cal < n_raw and n_cal <= len(p_cal) // 20
    assert q_cal["brier"] <= 0.1 and q_cal["roc_auc"] >= 0.9


def test_estimator_conventions_and_persistence(transfer, tmp_path):
    est = transfer.judge.estimator
    assert isinstance(transfer.judge, FrozenEstimator) and est.get_params()["family"] == "logistic"
    assert clone(est).get_params() == est.get_params() and not hasattr(clone(est), "model_")
    X = transfer.evaluation_humans[:5]
    before = transfer.judge.predict_proba_human(X)
    transfer.judge.fit(X, np.zeros(5))  # frozen: a no-op
    assert np.array_equal(transfer.judge.predict_proba_human(X), before)
    transfer.save(tmp_path)
    loaded, manifest = load_transfer_judge(tmp_path / "transfer_judge")
    assert np.array_equal(loaded.predict_proba_human(X), before)
    assert manifest["humans"] == transfer.manifest["humans"] and manifest["format"] == 1
    with pytest.raises(ValueError, match="family"):
        TransferJudge(family="forest").fit(*labelled(X, X))


# --- the gap: large where the search judge is gamed, small where it is not --------------------


def _hacked(search_model, X_base, k=2):
    """Base episodes whose k most important forest features are set to the training humans' medians:
    what a search that learned the forest's splits, and nothing else about people, would produce."""
    top = list(search_model.discriminator.importances().index[:k])
    idx = [FEATURES.index(f) for f in top]
    X = np.array(X_base, float)
    X[:, idx] = np.median(search_model.reference.points[:, idx], axis=0)
    return X, top


def test_gap_is_positive_where_the_search_judge_is_gamed(study, search_model, transfer):
    base = fingerprint_frame(list(_test_episodes(None)))
    hacked, top = _hacked(search_model, base[list(FEATURES)].to_numpy())
    table = judge_gap({"Humans": transfer.humans_condition(), "Base": base,
                       "Hacked": (hacked, base["task_id"].to_numpy()),
                       "MultiWOZ-style persona": list(_test_episodes(MULTIWOZ_STYLE))},
                      search_model, transfer.judge, n_boot=500).set_index("condition")
    print("top forest features:", top)
    print(table.round(3).to_string())
    assert (table["gap"] == table["hl_search"] - table["hl_transfer"]).all()
    for col in ("hl_search", "hl_transfer", "gap"):
        assert (table[f"{col}_lo"] <= table[col] + 1e-12).all() and (table[col] <= table[f"{col}_hi"] + 1e-12).all()
    hacked_row = table.loc["Hacked"]
    # the gamed features fool the forest far more than they fool the judge that never saw the search
    assert hacked_row["hl_search"] > table.loc["Base", "hl_search"] + 0.3
    assert hacked_row["gap_lo"] > 0
    assert hacked_row["gap"] > max(table.loc["Humans", "gap"], table.loc["Base", "gap"]) + 0.1
    # people, and a persona text that moves every key feature, are judged alike by both
    for cond in ("Humans", "MultiWOZ-style persona"):
        assert table.loc[cond, "hl_transfer"] > 0.8 and abs(table.loc[cond, "gap"]) < 0.1
    assert table.loc["Base", "n_tasks"] == N_TASKS and table.loc["Base", "n_episodes"] == 2 * N_TASKS


def test_a_by_task_corpus_gives_each_half_its_own_test_tasks(tmp_path):
    from test_human_splits import _tau_usi_file

    from ppol_nb.evolution.curriculum import split_validation
    from ppol_nb.humans import load_tau_usi, split_humans
    from ppol_nb.humans.transfer_split import split_transfer

    corpus = load_tau_usi(_tau_usi_file(tmp_path / "tau_usi.json"))
    split = split_humans(corpus, "retail", split_validation([t.id for t in load_tasks("retail", "train")])[1])
    halves = split_transfer(split)
    record = halves.record()
    fit_tasks, eval_tasks = set(record["fit"]["task_ids"]), set(record["evaluation"]["task_ids"])
    assert halves.by == "task" and fit_tasks and eval_tasks and not fit_tasks & eval_tasks
    assert fit_tasks | eval_tasks == {str(d.task_id) for d in split.heldout}
    assert list(halves.evaluation_groups) == [str(d.task_id) for d in halves.evaluation]
    assert split_transfer(split).record() == record  # a function of the ids and the seed
    assert split_transfer(split, seed=halves.seed + 1).record()["fit"]["sha256"] != record["fit"]["sha256"]
