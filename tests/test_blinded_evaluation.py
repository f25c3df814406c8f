"""Notebook 04's study (ppol_nb.studies.blinded_evaluation): a blinded study built from episode files and a
human corpus, analysed on simulated answers (a known truth the statistics must recover, labelled simulated
everywhere) and on answers exported from the annotation store (the same analysis, labelled a study)."""

import matplotlib
import pandas as pd
import pytest
from scipy.special import logit
from study_conversations import assert_blind, episode, human_corpus

from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.store import EpisodeStore
from ppol_nb.analysis import blinded_stats as bs
from ppol_nb.apps.annotation_app import AnswerStore, default_db, export_answers
from ppol_nb.studies.blinded_evaluation import SIMULATED_NOTE, BlindedEvaluationStudy
from ppol_nb.apps.blinded_study import ATTENTION_SOURCE, StudyError, load_key
from ppol_nb.studies.figures import figure_texts
from ppol_nb.analysis.simulated_annotators import AnnotatorModel

matplotlib.use("Agg")
N = 24  # conversations per source: enough for the known gap to be found, small enough to stay fast


def _episodes(tmp_path, n=N) -> dict:
    out = {}
    for name, kind in (("base", "simbasezq"), ("ppol", "ppolevolvedzq")):
        store = EpisodeStore(tmp_path / "runs" / name)
        for i in range(n):
            record = episode(kind, i)
            # Distinct customer text per episode, so conversations differ as real ones do.
            record["messages"][2]["content"] = f"Return the lamp from order {i}, it flickers {i % 7} times."
            store.append(record)
        out[name] = tmp_path / "runs" / name
    return out


def _study(tmp_path, **kwargs) -> BlindedEvaluationStudy:
    options = {"domain": "retail", "baseline_dir": tmp_path / "no-01", "search_dir": tmp_path / "no-02",
               "study_dir": tmp_path / "study", "episodes": _episodes(tmp_path), "humans": human_corpus(N + 3),
               "per_source": N, "n_attention": 3, "n_annotators": 20, "seed": 5, "power_simulations": 5,
               "simulated_rates": {"human": 0.75, "ppol": 0.7, "base": 0.4},
               "simulated_annotators": "known_truth",  # these check the statistics against a known truth
               "figures": tmp_path / "figures"}
    return BlindedEvaluationStudy(OfflineBackend(), **{**options, **kwargs})


def test_simulated_study_recovers_the_known_bias_and_says_it_is_simulated(tmp_path):
    rates = {"human": 0.80, "ppol": 0.78, "base": 0.40}
    study = _study(tmp_path, simulated_rates=rates, inattentive=("sim-a07",)).run()
    key = load_key(study.study_dir)
    counts = pd.Series([v["source"] for v in key.values()]).value_counts().to_dict()
    assert counts == {"human": N, "ppol": N, "base": N, ATTENTION_SOURCE: 3}
    assert_blind((study.study_dir / "study.json").read_text())

    # The inattentive annotator is found and excluded, nobody else.
    assert study.analysis.exclusions.excluded == ("sim-a07",)
    assert study.exclusions().set_index("annotator").loc["sim-a07", "known_inattentive"]
    # The known ppol-vs-base gap is detected by the paper's test and by the mixed logit.
    assert study.analysis.welch.p_value < 0.001 and study.analysis.welch.difference > 0.2
    mixed = study.mixed().set_index("source")
    assert mixed.loc["base", "vs_reference"] + 2 * mixed.loc["base", "vs_reference_sd"] < 0
    # The known conditional log-odds are where the model puts them (VB intervals are narrow: module doc of
    # blinded_stats, so allow 3 sd and a little bias), and the pooled rates' intervals hold the population rates.
    for source, rate in rates.items():
        assert abs(mixed.loc[source, "log_odds"] - logit(rate)) < 3 * mixed.loc[source, "sd"] + 0.25, source
        assert mixed.loc[source, "known_log_odds"] == pytest.approx(logit(rate))
    side = study.rates().set_index("quantity")
    for source, truth in study.model.marginal_rates().items():
        row = side.loc[f"rated human · {source}"]
        assert row["ours_low"] - 0.05 <= truth <= row["ours_high"] + 0.05, source

    # Labelled simulated in every table, figure caption and the findings.
    assert set(study.rates()["ours_label"]) == {"simulated"} and set(study.rates()["paper_label"]) == {"paper"}
    for table in (study.tests(), study.mixed(), study.agreement(), study.exclusions()):
        assert set(table["label"]) == {"simulated"}
    for fig in (study.plot_rates(), study.plot_power(panels=(2, 4))):
        assert any(t.startswith(SIMULATED_NOTE) for t in figure_texts(fig))
    for name in ("04_rated_human", "04_power"):
        sidecar = (tmp_path / "figures" / f"{name}.json").read_text()
        assert SIMULATED_NOTE in sidecar and '"answers": "simulated"' in sidecar
    findings = study.findings()
    assert "SIMULATED" in findings.split("\n")[0] and "**These answers are SIMULATED**" in findings
    # The findings carry this run's numbers.
    kept = study.answer_table[~study.answer_table.annotator.isin(["sim-a07"]) & ~study.answer_table.is_attention_check]
    for source, grp in kept.groupby("source"):
        assert f"{source} {(grp.answer == 'human').mean():.3f}" in findings
    assert f"t = {study.analysis.welch.statistic:.3f}" in findings
    assert "no point-biserial correlation" in findings  # no fitness model was given: said, not invented
    # The same inputs rebuild the same study in place (byte-identical files are reused).
    again = _study(tmp_path, simulated_rates=rates, inattentive=("sim-a07",)).run()
    assert load_key(again.study_dir) == key


def test_no_gap_is_not_declared_beyond_alpha(tmp_path):
    study = _study(tmp_path, simulated_rates={"human": 0.6, "ppol": 0.6, "base": 0.6}, inattentive=()).run()
    items = {i: v["source"] for i, v in load_key(study.study_dir).items()}
    # Conversation effects do not cancel from a Welch test over ratings (blinded_stats doc), annotator ones do.
    null = AnnotatorModel(rates={"human": 0.6, "ppol": 0.6, "base": 0.6}, annotator_sd=0.5, item_sd=0.0)
    rejections = sum(bs.welch_test(null.judge(items, n_annotators=8, seed=s), "ppol", "base").p_value < 0.05
                     for s in range(40))
    assert rejections <= 6  # P(X >= 7) < 0.02 for Binomial(40, 0.05)


def test_exported_answers_run_the_same_analysis_labelled_as_a_study(tmp_path):
    study = _study(tmp_path, per_source=8, n_annotators=4).run()
    key = load_key(study.study_dir)
    # Four people answer every item through the store (as the web app or the widget would).
    store = AnswerStore(default_db(study.study_dir))
    people = AnnotatorModel(rates={"human": 0.8, "ppol": 0.7, "base": 0.4}, annotator_sd=0.3)
    given = people.judge({i: v["source"] for i, v in key.items()}, n_annotators=4, seed=1)
    for row in given.itertuples():
        store.add_annotator(row.annotator.replace("sim-", "p-"), f"token-{row.annotator}-0000")
        store.record(row.annotator.replace("sim-", "p-"), row.item, row.answer, int(row.confidence), "")
    export_answers(study.study_dir).to_csv(tmp_path / "answers.csv", index=False)

    real = _study(tmp_path, per_source=8, answers=tmp_path / "answers.csv").run()
    assert not real.simulated and real.label == "study"
    assert set(real.rates()["ours_label"]) == {"study"} and set(real.tests()["label"]) == {"study"}
    assert "SIMULATED" not in real.findings() and "known_log_odds" not in real.mixed()
    assert not any(SIMULATED_NOTE in t for t in figure_texts(real.plot_rates()))
    rates = real.analysis.rates.set_index("source")["rate"]
    judged = given[~given.is_attention_check]
    for source, grp in judged.groupby("source"):
        assert rates[source] == pytest.approx((grp.answer == "human").mean())

    # A simulated answers file fed back in stays labelled simulated.
    relabelled = _study(tmp_path, per_source=8, answers=real.study_dir / "answers-simulated.csv").run()
    assert relabelled.label == "simulated" and set(relabelled.rates()["ours_label"]) == {"simulated"}
    assert "**These answers are SIMULATED**" in relabelled.findings()
    assert any(t.startswith(SIMULATED_NOTE) for t in figure_texts(relabelled.plot_rates()))

    # An answers file of another study is refused, and so is rebuilding this directory into another study.
    foreign = pd.read_csv(tmp_path / "answers.csv").assign(item="ffffffffffffffff")
    foreign.head(1).to_csv(tmp_path / "foreign.csv", index=False)
    with pytest.raises(StudyError, match="not in the study"):
        _study(tmp_path, per_source=8, answers=tmp_path / "foreign.csv").run()
    with pytest.raises(StudyError, match="holds a different study with answers"):
        _study(tmp_path, per_source=6).run()
    assert len(AnswerStore(default_db(study.study_dir)).revisions()) == len(given)


def test_missing_runs_and_rates_get_clear_errors(tmp_path):
    with pytest.raises(StudyError, match="run notebook 01 first"):
        _study(tmp_path, humans=None).run()
    with pytest.raises(StudyError, match="run notebook 02"):
        _study(tmp_path, episodes=None, humans=human_corpus(3), sources=("human", "ppol")).run()
    with pytest.raises(StudyError, match="no rate for source"):
        _study(tmp_path, simulated_rates={"human": 0.8, "ppol": 0.8}).run()
    with pytest.raises(StudyError, match="needs notebook 01's fitness model"):
        _study(tmp_path, simulated_rates="discriminator").run()  # the default truth is the discriminator's P(human), and there is none here
    with pytest.raises(StudyError, match="'discriminator' or"):
        _study(tmp_path, simulated_rates="paper").run()
    with pytest.raises(StudyError, match="unknown source"):
        _study(tmp_path, sources=("human", "gpt")).run()


def test_blind_annotators_judge_text_alone_never_the_source(tmp_path):
    """Notebook 04's default offline panel: same texts with the key's sources shuffled -> identical answers."""
    import json
    import random

    study = _study(tmp_path, simulated_annotators="blind", per_source=N - 8, simulated_rates="discriminator").run()
    answers = study.answer_table
    assert answers["simulated"].all() and study.label == "simulated"
    assert "blind" in study.findings() and "never its source" in study.findings()
    key = load_key(study.study_dir)
    sources = [v["source"] for v in key.values()]
    random.Random(1).shuffle(sources)
    shuffled = {i: {**v, "source": s} for (i, v), s in zip(key.items(), sources)}
    assert [v["source"] for v in shuffled.values()] != [v["source"] for v in key.values()]
    again = study._blind_answers(shuffled)
    cols = ["annotator", "item", "answer", "confidence", "judge_p_human"]
    pd.testing.assert_frame_equal(answers[cols].reset_index(drop=True), again[cols].reset_index(drop=True))
    # The judge reads the text: its P(human) differs between conversations, and the served study holds no source.
    assert answers.drop_duplicates("item")["judge_p_human"].nunique() > 3
    assert "source" not in json.dumps(json.loads((study.study_dir / "study.json").read_text())["items"])
    # Attention checks are spotted from their scripted text by every attentive annotator.
    checks = answers[answers.is_attention_check & (answers.annotator != "sim-a03")]
    assert len(checks) and (checks.answer == "bot").all()
