"""Blinded-study statistics: agreement with independent computations and published values, recovery of a
known simulated truth, attention-check exclusion, and clear errors on bad answers tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logit

from ppol_nb import paper
from ppol_nb.analysis import blinded_stats as bs
from ppol_nb.analysis.simulated_annotators import ATTENTION_SOURCE, AnnotatorModel

FIXED = Path(__file__).parent / "data" / "blinded_answers.csv"


def _fixed() -> pd.DataFrame:
    return pd.read_csv(FIXED)


def _table(counts: dict) -> pd.DataFrame:
    """One rating per (annotator, item): for each source, k "human" answers out of n (the rest "bot")."""
    rows = []
    for source, (k, n) in counts.items():
        for i in range(n):
            rows.append({"annotator": f"{source}-r{i}", "item": f"{source}-{i}", "source": source,
                         "answer": "human" if i < k else "bot", "confidence": 3, "is_attention_check": False})
    return pd.DataFrame(rows)


# --- independent computations / published values --------------------------------------------


# Newcombe (1998), Stat. Med. 17:857-872, Table II, method 3 (Wilson score, no continuity correction).
@pytest.mark.parametrize("k,n,low,high", [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605),
                                          (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)])
def test_wilson_interval_matches_newcombe_table(k, n, low, high):
    row = bs.rated_human(_table({"s": (k, n)})).iloc[0]
    assert (row["judged_human"], row["ratings"]) == (k, n)
    assert row["ci_low"] == pytest.approx(low, abs=5e-5)
    assert row["ci_high"] == pytest.approx(high, abs=5e-5)


def test_welch_agrees_with_statsmodels_on_fixed_file():
    from statsmodels.stats.weightstats import ttest_ind

    answers = _fixed()
    res = bs.welch_test(answers, "ppol", "base")
    judged = answers[~answers.is_attention_check]
    x = (judged[judged.source == "ppol"].answer == "human").astype(float)
    y = (judged[judged.source == "base"].answer == "human").astype(float)
    t, p, dof = ttest_ind(x, y, usevar="unequal")
    assert (res.statistic, res.p_value, res.df) == pytest.approx((t, p, dof), rel=1e-9)
    assert (res.n_a, res.n_b) == (len(x), len(y))


def test_paper_welch_result_is_reproduced_from_counts_consistent_with_its_rates():
    # The paper states rates and t, p but no counts; the search finds the counts, the test recomputes.
    found = bs.paper_consistent_counts(max_n=120)
    assert len(found) == 1
    k_a, n_a, k_b, n_b = found[0]
    reported = paper.human_evaluation().set_index("judged_source")["human"]
    assert round(k_a / n_a, 3) == reported["ppol"] and round(k_b / n_b, 3) == reported["base"]
    res = bs.welch_test(_table({"ppol": (k_a, n_a), "base": (k_b, n_b)}), "ppol", "base")
    welch = paper.human_evaluation_tests().set_index("test").loc["welch_t"]
    assert round(res.statistic, 3) == welch["value"]
    assert f"{res.p_value:.2e}" == f"{welch['p_value']:.2e}"


def test_tost_equals_two_one_sided_scipy_welch_tests():
    answers, margin = _fixed(), 0.15
    res = bs.equivalence_test(answers, "ppol", "human", margin=margin)
    judged = answers[~answers.is_attention_check]
    x = (judged[judged.source == "ppol"].answer == "human").to_numpy(float)
    y = (judged[judged.source == "human"].answer == "human").to_numpy(float)
    p_low = stats.ttest_ind(x + margin, y, equal_var=False, alternative="greater").pvalue
    p_high = stats.ttest_ind(x - margin, y, equal_var=False, alternative="less").pvalue
    assert res.p_value == pytest.approx(max(p_low, p_high), rel=1e-9)


def test_krippendorff_alpha_reproduces_krippendorff_2011_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", §C: 4 observers, 12 units,
    # missing values; nominal alpha = 0.743. Given as a tidy table with the missing pairs absent.
    data = {"A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
            "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
            "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
            "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]}
    rows = [{"coder": c, "unit": u, "value": v} for c, vals in data.items()
            for u, v in enumerate(vals, 1) if v is not None]
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=3)  # order must not matter
    assert round(bs.nominal_alpha(frame, rater="coder", unit="unit", value="value"), 3) == 0.743


def test_point_biserial_equals_pearson_on_fixed_file():
    answers = _fixed()
    res = bs.discriminator_correlation(answers)
    judged = answers[~answers.is_attention_check]
    r = np.corrcoef((judged.answer == "human").astype(float), judged.p_human)[0, 1]
    assert res["r"] == pytest.approx(r, rel=1e-9)
    by_item = judged.drop_duplicates("item").set_index("item")["p_human"]
    assert bs.discriminator_correlation(answers.drop(columns="p_human"), by_item)["r"] == pytest.approx(r)


def test_power_matches_closed_form_normal_approximation():
    p_a, p_b, alpha, power = 0.804, 0.465, 0.05, 0.8
    out = bs.power_analysis(p_a, p_b, alpha, power, ratings_per_annotator=20, icc=0.1)
    h = 2 * np.arcsin(np.sqrt(p_a)) - 2 * np.arcsin(np.sqrt(p_b))
    n = 2 * ((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) / h) ** 2
    assert out["ratings_per_source"] == int(np.ceil(n))
    assert out["design_effect"] == pytest.approx(1 + 19 * 0.1)
    assert out["annotators"] == int(np.ceil(np.ceil(n * out["design_effect"]) / 20))


# --- simulated annotators: a known truth recovered ------------------------------------------


def test_simulated_tables_are_labelled_and_seeded():
    model = AnnotatorModel()
    a, b = model.simulate(seed=5), model.simulate(seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["simulated"] and a["simulated"].all() and a.attrs["model"]["seed"] == 5
    assert not a.equals(model.simulate(seed=6))
    assert bs.rated_human(a).attrs["simulated"]
    side = bs.beside_paper(bs.rated_human(a), bs.welch_test(a))
    assert set(side["ours_label"]) == {"simulated"} and set(side["paper_label"]) == {"paper"}


def test_independent_ratings_rates_recovered_and_differences_detected():
    # No annotator or conversation spread: ratings are independent, so Wilson and Welch are exact-ish.
    model = AnnotatorModel(rates={"human": 0.8, "ppol": 0.78, "base": 0.45}, annotator_sd=0.0, item_sd=0.0)
    answers = model.simulate(n_annotators=20, items_per_source=40, attention_checks=0, seed=11)
    rates = bs.rated_human(answers).set_index("source")
    for source, truth in model.marginal_rates().items():
        assert rates.loc[source, "ci_low"] <= truth <= rates.loc[source, "ci_high"]
    assert bs.welch_test(answers, "ppol", "base").p_value < 0.001
    assert bs.welch_test(answers, "ppol", "human").p_value > 0.05
    assert "equivalent" == bs.equivalence_test(answers, "ppol", "human", margin=0.10).note.split(": ")[-1]
    assert bs.equivalence_test(answers, "ppol", "base", margin=0.10).p_value > 0.05


def test_mixed_logit_recovers_known_bias_and_source_effects():
    model = AnnotatorModel(rates={"human": 0.8, "ppol": 0.8, "base": 0.45}, annotator_sd=0.8, item_sd=0.3)
    answers = model.simulate(n_annotators=24, items_per_source=40, attention_checks=0, seed=3)
    fit = bs.mixed_logit(answers, reference="human").set_index("source")
    sd = fit.attrs["random_effect_sd"]
    assert 0.5 * model.annotator_sd < sd["annotator"] < 1.6 * model.annotator_sd
    assert sd["conversation"] < sd["annotator"]
    base_gap = logit(0.45) - logit(0.8)
    assert abs(fit.loc["base", "vs_reference"] - base_gap) < 3 * fit.loc["base", "vs_reference_sd"] + 0.2
    assert fit.loc["base", "vs_reference"] + 2 * fit.loc["base", "vs_reference_sd"] < 0  # detected
    assert abs(fit.loc["ppol", "vs_reference"]) < 2.5 * fit.loc["ppol", "vs_reference_sd"] + 0.2  # not detected
    # Pooled shares shrink toward 0.5 under annotator spread; the model's typical-annotator rate does not.
    pooled = bs.rated_human(answers).set_index("source")["rate"]
    assert abs(fit.loc["base", "p_typical"] - 0.45) < abs(pooled["human"] - pooled["base"])


def test_simulated_power_tracks_the_gap():
    big = AnnotatorModel(rates={"ppol": 0.8, "base": 0.45}, annotator_sd=0.3, item_sd=0.2)
    none = AnnotatorModel(rates={"ppol": 0.6, "base": 0.6}, annotator_sd=0.0, item_sd=0.0)
    assert bs.simulated_power(big, "ppol", "base", 8, 15, n_sim=30, seed=1)["power"] > 0.8
    assert bs.simulated_power(none, "ppol", "base", 8, 15, n_sim=30, seed=1)["power"] < 0.2


# --- quality control and bad input ----------------------------------------------------------


def test_attention_check_exclusion_finds_the_inattentive():
    model = AnnotatorModel(inattentive=("sim-a01", "sim-a04"))
    answers = model.simulate(n_annotators=8, items_per_source=5, attention_checks=4, seed=2)
    ex = bs.attention_exclusions(answers)
    assert set(ex.excluded) == {"sim-a01", "sim-a04"}
    assert "more than 0" in ex.rule
    kept = ex.apply(answers)
    assert not kept.annotator.isin(ex.excluded).any() and kept.attrs["simulated"]
    record = ex.per_annotator.set_index("annotator")
    assert (record["checks"] == 4).all() and (record.loc[list(ex.excluded), "failed"] > 0).all()
    # A lenient rule keeps whoever failed no more than allowed.
    worst = int(record["failed"].max())
    assert bs.attention_exclusions(answers, max_failures=worst).excluded == ()
    # Statistics never count attention-check rows as a source.
    assert ATTENTION_SOURCE not in set(bs.rated_human(answers)["source"])


def test_annotator_without_checks_is_kept_and_listed():
    answers = _fixed()
    answers = answers[~((answers.annotator == "sim-a00") & answers.is_attention_check)]
    record = bs.attention_exclusions(answers).per_annotator.set_index("annotator")
    assert record.loc["sim-a00", "checks"] == 0 and not record.loc["sim-a00", "excluded"]


@pytest.mark.parametrize("mutate,message", [
    (lambda t: t.assign(answer=t.answer.replace("bot", "robot")), "unknown answer label"),
    (lambda t: t.drop(columns="source"), "lacks column"),
    (lambda t: pd.concat([t, t.head(1)]), "repeat an (annotator, item) pair"),
    (lambda t: t.assign(is_attention_check="yes"), "is_attention_check"),
    (lambda t: t.assign(annotator=None), "empty"),
    (lambda t: t.iloc[0:0], "no rows"),
])
def test_bad_input_gets_a_clear_error_and_is_left_untouched(mutate, message):
    table = mutate(_fixed())
    before = table.copy()
    with pytest.raises(bs.AnswersError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bs.rated_human(table)
    pd.testing.assert_frame_equal(table, before)


def test_missing_source_is_a_clear_error():
    with pytest.raises(bs.AnswersError, match="source 'dp'"):
        bs.welch_test(_fixed(), "dp", "base")


def test_paper_numbers_are_labelled_and_laid_beside():
    reported = paper.human_evaluation()
    assert set(reported["source"]) == {"paper"} and set(reported["judged_source"]) == set(bs.PAPER_SOURCES)
    assert set(paper.human_evaluation_tests()["source"]) == {"paper"}
    rates = bs.rated_human(_fixed())
    side = bs.beside_paper(rates, label="study X").set_index("quantity")
    for source in bs.PAPER_SOURCES:
        row = side.loc[f"rated human · {source}"]
        assert row["paper"] == reported.set_index("judged_source").loc[source, "human"]
        assert row["difference"] == pytest.approx(row["ours"] - row["paper"])
    assert set(side["ours_label"]) == {"study X"}


def test_analyse_runs_everything_after_exclusions():
    model = AnnotatorModel(inattentive=("sim-a05",))
    answers = model.simulate(n_annotators=10, items_per_source=10, attention_checks=3, seed=4)
    result = bs.analyse(answers)
    assert result.label == "simulated" and result.exclusions.excluded == ("sim-a05",)
    assert (result.rates["annotators"] == 9).all()
    assert result.welch.n_a == 9 * 10 and result.correlation is None
    assert set(result.mixed["source"]) == set(model.rates)
    side = result.beside_paper()
    assert set(side["ours_label"]) == {"simulated"} and side["quantity"].str.startswith("Welch t").any()
    with pytest.raises(bs.AnswersError, match="no judged answers left"):
        bs.analyse(AnnotatorModel(inattentive=("sim-a00",)).simulate(n_annotators=1, attention_checks=3, seed=0))
