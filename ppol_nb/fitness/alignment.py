"""Sørensen–Dice alignment with humans per feature, per dimension D1–D4, and USI.

Aggregate-first, as in the paper: average each feature over a condition's episodes,
then compare that mean M with the human reference mean H:

    Dice(M, H) = 2·min(|M|, |H|) / (|M| + |H|)      (1 when both are 0)

D_k is the mean Dice over the features of dimension k, and USI_{D1–D4} the mean of
D1..D4, reported in %. Reporting only — never part of the fitness.
"""

from __future__ import annotations

import numpy as np

from .fingerprint import DIMENSIONS, FEATURES


def dice(m, h) -> np.ndarray:
    m, h = np.abs(np.asarray(m, float)), np.abs(np.asarray(h, float))
    denom = m + h
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denom == 0, 1.0, 2.0 * np.minimum(m, h) / np.where(denom == 0, 1.0, denom))
    return out


def alignment(X, human_mean) -> dict:
    """{'D1'..'D4', 'USI'} in % for a set of fingerprints X against the human mean."""
    X = np.atleast_2d(np.asarray(X, float))
    per_feature = dice(X.mean(axis=0), human_mean)
    idx = {f: i for i, f in enumerate(FEATURES)}
    out = {dim: 100.0 * float(np.mean([per_feature[idx[f]] for f in feats])) for dim, feats in DIMENSIONS.items()}
    out["USI"] = float(np.mean([out[d] for d in DIMENSIONS]))
    return out


def per_feature_dice(X, human_mean) -> dict:
    X = np.atleast_2d(np.asarray(X, float))
    return dict(zip(FEATURES, dice(X.mean(axis=0), human_mean).tolist()))
