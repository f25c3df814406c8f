"""Training, validation and held-out humans stay apart, for per-task and task-less corpora.

TAU-USI: a file in the fixture's layout (tests/fixtures/tau_usi_fixture.json) with
the fixture's dialogues copied onto every τ-bench retail and airline index, read
by the real loader (τ-bench index -> τ² id, official split). MultiWOZ and ABCD:
the real files in the shared data folder.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ppol_nb.evolution.benchmark import humans_row
from ppol_nb.evolution.curriculum import split_validation
from ppol_nb.evolution.evaluator import PPolEvaluator
from ppol_nb.studies.baseline import BaselineStudy
from ppol_nb.fitness.score import FitnessModel
from ppol_nb.humans import HumanLeakError, check_record, load_abcd, load_multiwoz, load_tau_usi, split_humans
from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.tau2_bridge import load_tasks, split_of

FIXTURE = Path(__file__).parent / "fixtures" / "tau_usi_fixture.json"


def _tau_usi_file(path: Path, drop: str | None = None) -> Path:
    """Fixture dialogues on every τ-bench task: retail 0-114 (two annotators on 0-19), airline 0-49."""
    records = json.loads(FIXTURE.read_text())
    data = {}
    for i in range(115):
        data[f"retail_{i}_ann1"] = records["retail_0_ann1"]
        if i < 20:
            data[f"retail_{i}_ann2"] = records["retail_100_ann2"]
    for i in range(50):
        data[f"airline_{i}"] = records["airline_1"]
    data.pop(drop, None)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def tau_usi_path(tmp_path_factory):
    return _tau_usi_file(tmp_path_factory.mktemp("tau-usi") / "tau_usi.json")


@pytest.fixture(scope="module")
def tau_usi(tau_usi_path):
    return load_tau_usi(tau_usi_path)


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_tau_usi_splits_by_task(tau_usi, domain):
    train_ids = [t.id for t in load_tasks(domain, "train")]
    pool, validation = split_validation(train_ids)
    split = split_humans(tau_usi, domain, validation)
    assert split.by == "task" and {d.domain for d in split.train} == {domain}
    per_task = Counter(d.task_id for d in tau_usi.dialogues if d.domain == domain)
    assert {d.task_id for d in split.heldout} == {t for t in per_task if split_of(domain, t) == "test"}
    assert {d.task_id for d in split.validation} == set(validation)
    assert {d.task_id for d in split.train} == set(pool)  # every train human is on a pool task
    assert split.sizes() == {"train": sum(per_task[t] for t in pool),
                             "validation": sum(per_task[t] for t in validation),
                             "heldout": sum(n for t, n in per_task.items() if split_of(domain, t) == "test")}
    assert list(split.validation_groups) == [d.task_id for d in split.validation]
    record = split.record()
    assert record["train"]["n"] == len(split.train) and len(record["train"]["sha256"]) == 64
    check_record(record, validation)
    # An evaluator whose slice differs (here: the first 20 train tasks) would validate on trained-on humans.
    _, other_slice = split_validation(train_ids[:20])
    assert set(other_slice) & set(pool)
    with pytest.raises(HumanLeakError, match="validation task"):
        check_record(record, other_slice)


def test_tau_usi_without_a_slice_keeps_every_train_human_for_training(tau_usi):
    split = split_humans(tau_usi, "retail", ())
    assert not split.validation and {d.split for d in split.train} == {"train"}


def test_multiwoz_splits_by_dialogue_into_three_seeded_disjoint_sets():
    corpus = load_multiwoz()
    split = split_humans(corpus, "retail", validation_task_ids=["1", "2"])
    assert split.by == "dialogue" and split.sizes() == {"train": 400, "validation": 100, "heldout": 499}
    ids = {role: {d.dialogue_id for d in getattr(split, role)} for role in ("train", "validation", "heldout")}
    assert not ids["train"] & ids["validation"] and not ids["train"] & ids["heldout"]
    assert not ids["validation"] & ids["heldout"]
    assert ids["heldout"] == {d.dialogue_id for d in corpus.dialogues if d.split == "heldout"}
    # Seeded and independent of file order and of the task slice; the domain does not matter.
    shuffled = corpus.with_dialogues(list(reversed(corpus.dialogues)))
    assert split_humans(shuffled, "airline").record() | {"domain": "retail", "validation_task_ids": ["1", "2"]} \
        == split.record()
    other = split_humans(corpus, "retail", seed=1)
    assert {d.dialogue_id for d in other.validation} != ids["validation"]
    assert {d.dialogue_id for d in other.heldout} == ids["heldout"]
    assert max(Counter(split.heldout_groups).values()) == 3 and max(Counter(split.validation_groups).values()) == 3


def test_an_unsplit_corpus_gets_seeded_halves():
    split = split_humans(load_abcd(), "retail")
    assert split.by == "dialogue" and split.sizes() == {"train": 2, "validation": 0, "heldout": 1}


def test_check_record_catches_leaks():
    record = split_humans(load_multiwoz(), "retail").record()
    check_record(record)
    leaked = json.loads(json.dumps(record))
    leaked["train"]["ids"].append(leaked["validation"]["ids"][0])
    with pytest.raises(HumanLeakError, match="both train and validation"):
        check_record(leaked)
    with pytest.raises(HumanLeakError, match="no human split"):
        check_record({})
    with pytest.raises(ValueError):
        split_humans(load_abcd(), "retail", val_fraction=1.0)


# -- the baseline study, the evaluator and the benchmark on a per-task corpus -----------------------


@pytest.fixture(scope="module")
def tau_usi_model(tau_usi_path, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("baseline-tau-usi")
    study = BaselineStudy(OfflineBackend(), domains=("retail",), corpus=str(tau_usi_path), limit=3,
                          run_dir=str(run_dir), progress=False).run()
    return study, FitnessModel.load(run_dir / "fitness" / "retail")


def test_baseline_trains_on_pool_humans_only(tau_usi, tau_usi_model):
    study, model = tau_usi_model
    _, validation = split_validation([t.id for t in load_tasks("retail", "train")])
    by_id = {d.dialogue_id: d for d in tau_usi.dialogues}
    trained = [by_id[i] for i in model.humans["train"]["ids"]]
    assert trained and all(d.split == "train" and d.task_id not in validation for d in trained)
    assert set(model.humans["validation"]["task_ids"]) == set(validation)
    assert len(model.reference.points) == len(trained) == model.manifest["n_train_human"]
    assert model.validation_humans.shape[0] == model.humans["validation"]["n"] > 0
    model.check_humans(validation)
    # The benchmark's Humans row is the recorded held-out set, scored as in the study.
    row = humans_row(model, "retail", corpus=tau_usi)
    assert row["n_episodes"] == model.humans["heldout"]["n"]
    assert row["hl"] == pytest.approx(study.rows().set_index("condition").loc["Humans", "hl"])


def test_evaluator_refuses_a_model_trained_on_its_validation_humans(tau_usi_model, tmp_path):
    _, model = tau_usi_model
    backend, world = OfflineBackend(), OfflineBackend().generator()
    ev = PPolEvaluator("retail", model, backend, world, run_dir=tmp_path)  # the default slice: fine
    humans = ev.validation_humans_row()
    assert humans["n_groups"] == len(ev.validation_ids) and 0.0 <= humans["score"] <= 1.0
    with pytest.raises(HumanLeakError, match="validation task"):
        PPolEvaluator("retail", model, backend, world, train_tasks=load_tasks("retail", "train")[:20],
                      run_dir=tmp_path)
    bare = FitnessModel(model.discriminator, model.reference, model.human_mean, info=model.info)
    with pytest.raises(HumanLeakError, match="no human split"):
        PPolEvaluator("retail", bare, backend, world, run_dir=tmp_path)


def test_benchmark_refuses_a_corpus_that_changed_its_heldout_humans(tau_usi_model, tmp_path):
    _, model = tau_usi_model
    test_task = next(t.id for t in load_tasks("retail", "test"))
    changed = load_tau_usi(_tau_usi_file(tmp_path / "changed.json", drop=f"retail_{test_task}_ann1"))
    assert int(test_task) < 93  # τ-bench index == τ² id below the dropped duplicate
    with pytest.raises(HumanLeakError, match="held-out humans"):
        humans_row(model, "retail", corpus=changed)
