"""Statistics of a blinded human-vs-simulator study, and the paper's numbers beside them.

The paper (§5.4 and App. G; ``docs/ppol-paper.md`` §5.4) ran a blinded study on τ² Retail
conversations: 20 annotators recruited, 4 dropped by completeness and an implicit
attention check (an obviously bot-like conversation that had to be marked "Bot"),
leaving 16 annotators and 87 conversations. Rated "human": real humans 80.0 %, PPol
80.4 %, the base simulator 46.5 %. Coding Human = 1 and Bot / Not sure = 0, a Welch
t-test PPol vs base gave t = 3.556, p = 6.37e-4; discriminator P(human) correlated with
the judgements at r = 0.49 (point-biserial, p < 0.001). It reports no agreement
statistic, no per-source counts and no PPol-vs-human test. (Its t and p are exactly
those of 41 "human" out of 51 PPol ratings vs 20 out of 43 base ratings — an
inference, see :func:`paper_consistent_counts`, not a stated count.)

Input: a tidy answers table, one row per (annotator, item), columns :data:`COLUMNS`
(``answer`` in :data:`ANSWERS`; ``item`` is the conversation). :func:`validate_answers`
checks it and raises :class:`AnswersError` naming the problem; nothing is modified in
place. Extra columns (``p_human``, ``simulated`` …) pass through. A table labelled
simulated (``attrs["simulated"]`` or a ``simulated`` column) stays labelled in every
result (:func:`beside_paper` says "simulated").

What is computed, by maintained libraries:

* :func:`attention_exclusions` — rule: an attention check is failed unless answered
  "bot"; an annotator failing more than ``max_failures`` of their checks (default 0:
  any failure, the paper's "had to be marked Bot") is excluded; who and why is returned.
* :func:`rated_human` — share judged human per source, Wilson intervals
  (statsmodels ``proportion_confint(method="wilson")``).
* :func:`welch_test` — the paper's test (scipy ``ttest_ind(equal_var=False)``).
* :func:`mixed_logit` — judged human ~ source with annotator and conversation random
  intercepts (statsmodels ``BinomialBayesMixedGLM``, variational Bayes fit). The t-test
  treats ratings as independent; this model does not.
* :func:`equivalence_test` — TOST of PPol vs humans on the 0/1 coding with a stated
  margin (default ±10 points; statsmodels ``ttost_ind(usevar="unequal")``).
* :func:`agreement` — Krippendorff's α, nominal (``krippendorff`` package), over the
  three answers and over the binary human / not-human coding.
* :func:`discriminator_correlation` — point-biserial r of discriminator P(human) with
  the judgements (scipy ``pointbiserialr``), over ratings.
* :func:`power_analysis` and :func:`simulated_power` — ratings and annotators needed to
  detect a gap (statsmodels ``NormalIndPower`` on Cohen's h), the latter by simulating
  the annotator model (:mod:`.simulated_annotators`) so annotator clustering counts.

Statistics are computed on the judged items only: attention-check rows are dropped
by every function except :func:`attention_exclusions`.

Calibration, measured on 40 simulated studies (16 annotators each judging 30
conversations per source; annotator sd 0.6, conversation sd 0.3 on the logit scale;
PPol = humans = 0.80, base 0.45). Ratings of one annotator are correlated, so
anything that treats ratings as independent is optimistic:

* Wilson 95 % intervals covered the true population share 82.5 % of the time (99/120),
  not 95 % — read them as a lower bound on the uncertainty.
* Welch PPol vs humans (equal truth) rejected at 0.05 in 2/40 studies (5 %): in a
  fully crossed design the annotator effect cancels from the difference.
* ``fit_vb`` recovered the random-effect sds on average (annotator 0.603, conversation
  0.309) in 0.5 s per fit, but its 95 % interval on the PPol-vs-humans log-odds
  covered the truth in 82.5 % (mean-field VB understates posterior spread).
  ``fit_map`` (Laplace) covered 95 % but never converged (a gradient warning on all
  40), collapsed the conversation sd to 0 and took 3.7 s: VB is used, its intervals
  read as optimistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

ANSWERS = ("human", "bot", "not_sure")
COLUMNS = ("annotator", "item", "source", "answer", "confidence", "is_attention_check")
# Our study's source keys for the paper's three conditions (paper.human_evaluation()).
PAPER_SOURCES = ("human", "ppol", "base")


class AnswersError(ValueError):
    """The answers table is not usable as given (the message says what and where)."""


def is_simulated(answers: pd.DataFrame) -> bool:
    """True when the table says it comes from simulated annotators (attribute or column)."""
    col = answers.get("simulated") if isinstance(answers, pd.DataFrame) else None
    return bool(answers.attrs.get("simulated")) or (col is not None and bool(col.astype(bool).any()))


def validate_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """A checked copy with ``judged_human`` (1 for "human", else 0); raises :class:`AnswersError`."""
    if not isinstance(answers, pd.DataFrame):
        raise AnswersError(f"answers must be a pandas DataFrame, got {type(answers).__name__}")
    missing = [c for c in COLUMNS if c not in answers.columns]
    if missing:
        raise AnswersError(f"answers table lacks column(s) {missing}; expected {list(COLUMNS)}")
    if answers.empty:
        raise AnswersError("answers table has no rows")
    key = ["annotator", "item", "source", "answer", "is_attention_check"]
    blank = answers[key].isna().any(axis=1)
    if blank.any():
        raise AnswersError(f"{int(blank.sum())} row(s) have an empty {key} value, e.g. rows "
                           f"{list(answers.index[blank][:5])}")
    bad = ~answers["answer"].isin(ANSWERS)
    if bad.any():
        raise AnswersError(f"unknown answer label(s) {sorted(map(str, answers.loc[bad, 'answer'].unique()))} "
                           f"in rows {list(answers.index[bad][:5])}; allowed: {list(ANSWERS)}")
    flags = answers["is_attention_check"]
    if not flags.isin([True, False]).all():
        raise AnswersError(f"is_attention_check must be True/False; got {sorted(map(str, flags.unique()))}")
    dup = answers.duplicated(["annotator", "item"], keep=False)
    if dup.any():
        raise AnswersError(f"{int(dup.sum())} rows repeat an (annotator, item) pair, e.g. "
                           f"{answers.loc[dup, ['annotator', 'item']].head(3).values.tolist()}; "
                           "give one answer per pair (the latest revision)")
    sources = answers.groupby("item")["source"].nunique()
    if (sources > 1).any():
        raise AnswersError(f"item(s) {list(sources.index[sources > 1][:5])} carry more than one source")
    out = answers.copy()
    out["is_attention_check"] = flags.astype(bool)
    out["judged_human"] = (out["answer"] == "human").astype(int)
    out.attrs = dict(answers.attrs)
    return out


def _judged(answers: pd.DataFrame) -> pd.DataFrame:
    df = validate_answers(answers)
    out = df[~df["is_attention_check"]]
    if out.empty:
        raise AnswersError("answers table has no judged (non-attention-check) rows")
    return out


def _source_rows(df: pd.DataFrame, source: str) -> np.ndarray:
    values = df.loc[df["source"] == source, "judged_human"].to_numpy(float)
    if len(values) < 2:
        raise AnswersError(f"source {source!r} has {len(values)} judged rating(s); need >= 2 "
                           f"(sources present: {sorted(df['source'].unique())})")
    return values


# --- quality control -----------------------------------------------------------------------


@dataclass(frozen=True)
class Exclusions:
    """Who the attention-check rule excludes, and each annotator's record."""

    rule: str
    excluded: tuple
    per_annotator: pd.DataFrame  # annotator, checks, failed, excluded

    def apply(self, answers: pd.DataFrame) -> pd.DataFrame:
        """The answers without excluded annotators (attention-check rows kept; statistics drop them)."""
        df = validate_answers(answers)
        out = df[~df["annotator"].isin(self.excluded)].copy()
        out.attrs = dict(df.attrs)
        return out


def attention_exclusions(answers: pd.DataFrame, max_failures: int = 0, expected: str = "bot") -> Exclusions:
    """Exclude annotators failing more than ``max_failures`` attention checks (a check passes iff answered
    ``expected``). Annotators who saw no check are kept and listed with ``checks = 0``."""
    if expected not in ANSWERS:
        raise AnswersError(f"expected answer {expected!r} is not one of {list(ANSWERS)}")
    df = validate_answers(answers)
    checks = df[df["is_attention_check"]]
    record = pd.DataFrame({"annotator": sorted(df["annotator"].unique())}).set_index("annotator")
    record["checks"] = checks.groupby("annotator").size()
    record["failed"] = checks.assign(fail=checks["answer"] != expected).groupby("annotator")["fail"].sum()
    record = record.fillna(0).astype(int)
    record["excluded"] = record["failed"] > max_failures
    rule = (f"an attention check is failed unless answered {expected!r}; annotators failing more than "
            f"{max_failures} check(s) are excluded")
    return Exclusions(rule=rule, excluded=tuple(record.index[record["excluded"]]),
                      per_annotator=record.reset_index())


# --- rates and tests ----------------------------------------------------------------------


def rated_human(answers: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per source: ratings, annotators, items, the share of each answer, and a Wilson interval on
    the share judged human (``ci_low``, ``ci_high`` at level 1 - alpha).

    The interval treats ratings as independent; with annotator spread it under-covers (module doc)."""
    from statsmodels.stats.proportion import proportion_confint

    df = _judged(answers)
    g = df.groupby("source")
    table = pd.DataFrame({
        "ratings": g.size(),
        "annotators": g["annotator"].nunique(),
        "items": g["item"].nunique(),
        "judged_human": g["judged_human"].sum(),
    })
    for label in ANSWERS:
        table[f"share_{label}"] = g["answer"].apply(lambda s, lab=label: float((s == lab).mean()))
    low, high = proportion_confint(table["judged_human"], table["ratings"], alpha=alpha, method="wilson")
    table["ci_low"], table["ci_high"] = np.asarray(low, float), np.asarray(high, float)
    table = table.rename(columns={"share_human": "rate"})
    table.attrs.update(simulated=is_simulated(answers), interval=f"Wilson {1 - alpha:.0%}")
    return table.reset_index()


@dataclass(frozen=True)
class Comparison:
    """One two-sample comparison of the 0/1 coding (a minus b)."""

    test: str
    a: str
    b: str
    statistic: float
    p_value: float
    df: float
    mean_a: float
    mean_b: float
    n_a: int
    n_b: int
    note: str = ""

    @property
    def difference(self) -> float:
        return self.mean_a - self.mean_b


def welch_test(answers: pd.DataFrame, a: str = "ppol", b: str = "base") -> Comparison:
    """The paper's test: Human = 1, Bot / Not sure = 0, Welch's unequal-variance t over ratings."""
    df = _judged(answers)
    x, y = _source_rows(df, a), _source_rows(df, b)
    res = stats.ttest_ind(x, y, equal_var=False)
    return Comparison("welch_t", a, b, float(res.statistic), float(res.pvalue), float(res.df),
                      float(x.mean()), float(y.mean()), len(x), len(y),
                      note="ratings treated as independent (annotator clustering ignored, as in the paper)")


def equivalence_test(answers: pd.DataFrame, a: str = "ppol", b: str = "human", margin: float = 0.10,
                     alpha: float = 0.05) -> Comparison:
    """TOST: is the share judged human of ``a`` within ±``margin`` of ``b``'s? ``p_value`` is the larger of
    the two one-sided Welch p-values; below ``alpha`` means equivalent at that margin."""
    from statsmodels.stats.weightstats import ttost_ind

    if not 0 < margin < 1:
        raise ValueError(f"margin must be a proportion in (0, 1), got {margin}")
    df = _judged(answers)
    x, y = _source_rows(df, a), _source_rows(df, b)
    p, lower, upper = ttost_ind(x, y, -margin, margin, usevar="unequal")
    # The binding side is the one with the larger p-value.
    t, _, dof = lower if lower[1] >= upper[1] else upper
    verdict = "equivalent" if p < alpha else "not shown equivalent"
    return Comparison("tost_welch", a, b, float(t), float(p), float(dof), float(x.mean()), float(y.mean()),
                      len(x), len(y), note=f"margin ±{margin:.2f}, alpha {alpha}: {verdict}")


def discriminator_correlation(answers: pd.DataFrame, p_human=None) -> dict:
    """Point-biserial r of discriminator P(human) with the judgements, over rated (non-check) ratings.

    ``p_human``: a mapping or Series item -> P(human); if None the table's ``p_human`` column is used."""
    df = _judged(answers)
    if p_human is None:
        if "p_human" not in df.columns:
            raise AnswersError("no p_human given and the answers table has no p_human column")
        scores = df["p_human"]
    else:
        scores = df["item"].map(pd.Series(p_human) if not isinstance(p_human, pd.Series) else p_human)
    lacking = scores.isna()
    if lacking.any():
        raise AnswersError(f"no discriminator P(human) for item(s) {sorted(df.loc[lacking, 'item'].unique())[:5]}")
    res = stats.pointbiserialr(df["judged_human"], scores.astype(float))
    return {"r": float(res.statistic), "p_value": float(res.pvalue), "ratings": len(df),
            "items": int(df["item"].nunique())}


# --- agreement ----------------------------------------------------------------------------


def nominal_alpha(frame: pd.DataFrame, rater: str = "annotator", unit: str = "item", value: str = "answer") -> float:
    """Krippendorff's α (nominal) of a tidy table, one row per (rater, unit); missing pairs are missing data."""
    import krippendorff

    codes, _ = pd.factorize(frame[value])
    matrix = (frame.assign(_code=codes.astype(float))
              .pivot(index=rater, columns=unit, values="_code"))
    if matrix.shape[0] < 2:
        raise AnswersError("Krippendorff's alpha needs at least two raters")
    return float(krippendorff.alpha(reliability_data=matrix.to_numpy(float), level_of_measurement="nominal"))


def agreement(answers: pd.DataFrame) -> dict:
    """Krippendorff's α over judged items: nominal on the three answers and on human vs not."""
    df = _judged(answers)
    return {"alpha_answers": nominal_alpha(df), "alpha_human_vs_not": nominal_alpha(df, value="judged_human"),
            "annotators": int(df["annotator"].nunique()), "items": int(df["item"].nunique())}


# --- mixed-effects model ------------------------------------------------------------------


def mixed_logit(answers: pd.DataFrame, reference: str = "human") -> pd.DataFrame:
    """judged_human ~ source + (1 | annotator) + (1 | conversation), Bayesian mixed GLM (variational fit).

    Returns one row per source: the posterior mean log-odds of the source for a typical annotator and
    conversation (random effects at zero), its posterior sd, an approximate 95 % interval, the implied
    probability, and ``vs_reference``: the source's log-odds difference from ``reference`` with its sd.
    ``attrs["random_effect_sd"]`` holds the estimated annotator and conversation standard deviations."""
    from scipy.special import expit
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    df = _judged(answers)
    sources = sorted(df["source"].unique())
    if reference not in sources:
        raise AnswersError(f"reference source {reference!r} not in the answers ({sources})")
    data = pd.DataFrame({"y": df["judged_human"].to_numpy(), "src": df["source"].to_numpy(),
                         "ann": df["annotator"].astype(str).to_numpy(), "conv": df["item"].astype(str).to_numpy()})
    model = BinomialBayesMixedGLM.from_formula(
        f"y ~ C(src, Treatment({reference!r}))", {"annotator": "0 + C(ann)", "conversation": "0 + C(conv)"}, data)
    fit = model.fit_vb()
    names = list(model.exog_names)
    mean, sd = np.asarray(fit.fe_mean), np.asarray(fit.fe_sd)
    rows = []
    for s in sources:
        # Posterior of the source's log-odds: intercept + its treatment effect (VB factors are independent).
        idx = [0] + ([names.index(n) for n in names if n.endswith(f"[T.{s}]")] if s != reference else [])
        m = float(mean[idx].sum())
        v = float(np.sqrt(np.sum(sd[idx] ** 2)))
        diff = (0.0, 0.0) if s == reference else (float(mean[idx[1]]), float(sd[idx[1]]))
        rows.append({"source": s, "log_odds": m, "sd": v, "low": m - 1.96 * v, "high": m + 1.96 * v,
                     "p_typical": float(expit(m)), "vs_reference": diff[0], "vs_reference_sd": diff[1]})
    table = pd.DataFrame(rows)
    table.attrs.update(random_effect_sd=dict(zip(model.vcp_names, np.exp(np.asarray(fit.vcp_mean)).tolist())),
                       reference=reference, method="BinomialBayesMixedGLM.fit_vb", simulated=is_simulated(answers))
    return table


# --- power --------------------------------------------------------------------------------


def power_analysis(p_a: float = 0.804, p_b: float = 0.465, alpha: float = 0.05, power: float = 0.8,
                   ratings_per_annotator: int | None = None, icc: float = 0.0) -> dict:
    """Ratings per source to detect p_a vs p_b (two-sided, Cohen's h, normal approximation), and — given
    ``ratings_per_annotator`` per source and an intra-annotator correlation ``icc`` — annotators needed,
    inflating by the design effect 1 + (m - 1)·icc."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    h = float(proportion_effectsize(p_a, p_b))
    if h == 0:
        raise ValueError("p_a equals p_b: no gap to detect")
    n = float(NormalIndPower().solve_power(effect_size=abs(h), alpha=alpha, power=power, ratio=1.0))
    out = {"p_a": p_a, "p_b": p_b, "cohens_h": h, "alpha": alpha, "power": power,
           "ratings_per_source": math.ceil(n)}
    if ratings_per_annotator:
        deff = 1 + (ratings_per_annotator - 1) * icc
        out.update(design_effect=deff, ratings_per_source_clustered=math.ceil(n * deff),
                   annotators=math.ceil(n * deff / ratings_per_annotator))
    return out


def simulated_power(model, a: str, b: str, n_annotators: int, items_per_source: int, n_sim: int = 200,
                    alpha: float = 0.05, seed: int = 0) -> dict:
    """Share of simulated studies (``model``: an :class:`~.simulated_annotators.AnnotatorModel`, so
    annotator bias and conversation noise are included) where Welch's test rejects a = b at ``alpha``."""
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(n_sim):
        table = model.simulate(n_annotators=n_annotators, items_per_source=items_per_source,
                               attention_checks=0, seed=int(rng.integers(2**32)))
        # welch_test's computation without its validation of the table (generated here, valid by construction;
        # validating it dominated the cost of a power curve).
        human = (table["answer"] == "human").to_numpy(float)
        source = table["source"].to_numpy()
        p = stats.ttest_ind(human[source == a], human[source == b], equal_var=False).pvalue
        rejected += bool(p < alpha)  # a NaN p (both sources rated alike throughout) does not reject
    return {"a": a, "b": b, "n_annotators": n_annotators, "items_per_source": items_per_source,
            "n_sim": n_sim, "alpha": alpha, "power": rejected / n_sim, "simulated": True}


# --- the paper beside ours ----------------------------------------------------------------


def paper_consistent_counts(t: float = 3.556, p: float = 6.37e-4, rate_a: float = 0.804, rate_b: float = 0.465,
                            max_n: int = 300) -> list:
    """(k_a, n_a, k_b, n_b) rating counts whose rounded rates and Welch t, p match the paper's (to its digits).

    The paper gives no per-source counts; its t and p pin them down (for PPol vs base: 41/51 vs 20/43)."""
    found = []
    for n_a in range(2, max_n + 1):
        k_a = round(rate_a * n_a)
        if abs(k_a / n_a - rate_a) >= 5e-4:
            continue
        for n_b in range(2, max_n + 1):
            k_b = round(rate_b * n_b)
            if abs(k_b / n_b - rate_b) >= 5e-4:
                continue
            x = np.r_[np.ones(k_a), np.zeros(n_a - k_a)]
            y = np.r_[np.ones(k_b), np.zeros(n_b - k_b)]
            res = stats.ttest_ind(x, y, equal_var=False)
            if abs(res.statistic - t) < 5e-4 and abs(res.pvalue - p) < 5e-6:
                found.append((k_a, n_a, k_b, n_b))
    return found


def beside_paper(rates: pd.DataFrame, welch: Comparison | None = None, correlation: dict | None = None,
                 sources: dict | None = None, label: str | None = None) -> pd.DataFrame:
    """Our study's numbers next to the paper's (:func:`ppol_nb.paper.human_evaluation`, ``…_tests``).

    ``rates``: :func:`rated_human`'s table; ``sources`` maps our source names to the paper's keys
    (``human``, ``ppol``, ``base``; default: same names). ``label`` says what ours are ("simulated",
    "offline", a study name); by default "simulated" when the rates came from simulated annotators,
    else "study". One row per quantity: ours (with interval where there is one), the paper's, the gap."""
    from .. import paper

    label = label or ("simulated" if rates.attrs.get("simulated") else "study")
    sources = sources or {s: s for s in PAPER_SOURCES}
    reported = paper.human_evaluation().set_index("judged_source")
    tests = paper.human_evaluation_tests().set_index("test")
    rows = []
    for _, r in rates.iterrows():
        key = sources.get(r["source"])
        ref = float(reported.loc[key, "human"]) if key in reported.index else math.nan
        rows.append({"quantity": f"rated human · {r['source']}", "ours": float(r["rate"]),
                     "ours_low": float(r["ci_low"]), "ours_high": float(r["ci_high"]), "n": int(r["ratings"]),
                     "paper": ref, "difference": float(r["rate"]) - ref,
                     "paper_within_our_ci": bool(r["ci_low"] <= ref <= r["ci_high"]) if not math.isnan(ref) else None})
    if welch is not None:
        ref = float(tests.loc["welch_t", "value"])
        rows.append({"quantity": f"Welch t · {welch.a} vs {welch.b}", "ours": welch.statistic, "n": welch.n_a + welch.n_b,
                     "paper": ref, "difference": welch.statistic - ref})
        rows.append({"quantity": f"Welch p · {welch.a} vs {welch.b}", "ours": welch.p_value,
                     "paper": float(tests.loc["welch_t", "p_value"])})
    if correlation is not None:
        ref = float(tests.loc["point_biserial", "value"])
        rows.append({"quantity": "point-biserial r · discriminator P(human)", "ours": correlation["r"],
                     "n": correlation["ratings"], "paper": ref, "difference": correlation["r"] - ref})
    out = pd.DataFrame(rows)
    out.insert(0, "ours_label", label)
    out["paper_label"] = "paper"
    out.attrs["simulated"] = label == "simulated"
    return out


# --- everything at once -------------------------------------------------------------------


@dataclass(frozen=True)
class StudyAnalysis:
    """A study's statistics after the attention-check rule; ``label`` says what the answers are."""

    label: str
    exclusions: Exclusions
    rates: pd.DataFrame
    welch: Comparison | None
    equivalence: Comparison | None
    agreement: dict
    mixed: pd.DataFrame | None
    correlation: dict | None

    def beside_paper(self) -> pd.DataFrame:
        """:func:`beside_paper` of this study's rates, Welch test and correlation."""
        return beside_paper(self.rates, self.welch, self.correlation, label=self.label)


def analyse(answers: pd.DataFrame, max_failures: int = 0, margin: float = 0.10, mixed: bool = True,
            label: str | None = None) -> StudyAnalysis:
    """Exclusions (rule of :func:`attention_exclusions`), then every statistic on the kept annotators.

    The paper's comparisons run when their sources are present (Welch ``ppol`` vs ``base``, TOST ``ppol``
    vs ``human`` at ``margin``), the correlation when the table has a ``p_human`` column. ``label``:
    default "simulated" for simulated answers, else "study"."""
    exclusions = attention_exclusions(answers, max_failures=max_failures)
    kept = exclusions.apply(answers)
    if kept.empty or kept["is_attention_check"].all():
        raise AnswersError(f"no judged answers left after exclusions ({exclusions.rule}; "
                           f"excluded {list(exclusions.excluded)})")
    present = set(kept.loc[~kept["is_attention_check"], "source"])
    label = label or ("simulated" if is_simulated(answers) else "study")
    return StudyAnalysis(
        label=label, exclusions=exclusions, rates=rated_human(kept),
        welch=welch_test(kept, "ppol", "base") if {"ppol", "base"} <= present else None,
        equivalence=equivalence_test(kept, "ppol", "human", margin) if {"ppol", "human"} <= present else None,
        agreement=agreement(kept),
        mixed=mixed_logit(kept, reference="human" if "human" in present else min(present))
        if mixed and len(present) > 1 else None,
        correlation=discriminator_correlation(kept) if "p_human" in kept.columns else None)
