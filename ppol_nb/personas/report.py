"""Compare conditions: success, task preservation, and the features a condition moves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fitness import FEATURES, fingerprint_frame
from ..simulation.outcomes import outcome_table


def preservation_ok(persona) -> bool | None:
    if not isinstance(persona, dict):
        return None  # base: nothing injected, nothing to check
    report = persona.get("preservation")
    return None if report is None else bool(report.get("ok"))


def condition_summary(episodes: pd.DataFrame) -> pd.DataFrame:
    """Per (domain, condition): episodes, success rate, preservation rate, failure reasons."""
    df = episodes.copy()
    df["preserved"] = [preservation_ok(p) for p in df["persona"]]
    out = outcome_table(df)
    pres = df.groupby(["domain", "condition"])["preserved"].apply(
        lambda s: float(s.dropna().astype(float).mean()) if s.notna().any() else np.nan).rename("preservation_rate")
    return out.merge(pres.reset_index(), on=["domain", "condition"], how="left")


def moved_features(episodes: pd.DataFrame, baseline: str = "base", top: int = 5) -> pd.DataFrame:
    """The ``top`` features each condition moves most relative to ``baseline``, means side by side.

    Ranked by |mean difference| / pooled standard deviation (features constant in both
    are skipped), within each domain.
    """
    fp = fingerprint_frame(episodes[episodes["error"].isna()].to_dict("records"))
    rows = []
    for domain, sub in fp.groupby("domain"):
        base = sub[sub.condition == baseline][list(FEATURES)]
        for cond, grp in sub[sub.condition != baseline].groupby("condition"):
            X = grp[list(FEATURES)]
            pooled = np.sqrt((base.var(ddof=0) + X.var(ddof=0)) / 2)
            effect = (X.mean() - base.mean()).abs() / pooled.replace(0, np.nan)
            for feature in effect.dropna().sort_values(ascending=False).index[:top]:
                rows.append({"domain": domain, "condition": cond, "feature": feature,
                             f"{baseline}_mean": base[feature].mean(), "condition_mean": X[feature].mean(),
                             "effect_size": effect[feature]})
    return pd.DataFrame(rows)
