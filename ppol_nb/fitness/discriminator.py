"""Human-likeness discriminator: P(human | fingerprint) (paper Eq. 2, App. E).

A scikit-learn random forest (200 trees, depth 12, balanced classes, random_state
42) on standardised 19-D fingerprints, one per (domain, user-simulator backend/model).
It is fitted on *reference* humans vs base-simulator episodes on *train* tasks,
evaluated on *held-out* humans vs base-simulator episodes on *test* tasks, then
frozen: the search scores candidates with it but never refits it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .fingerprint import FEATURE_VERSION, FEATURES

HUMAN, SIMULATOR = 1, 0


class FrozenError(RuntimeError):
    """Raised when a frozen discriminator would be refitted."""


@dataclass
class HumanLikenessDiscriminator:
    """fit / predict_proba_human / evaluate, sklearn-style, with an explicit seed."""

    n_estimators: int = 200
    max_depth: int | None = 12
    class_weight: str | None = "balanced"
    random_state: int = 42
    manifest: dict = field(default_factory=dict)
    frozen: bool = False

    def __post_init__(self):
        self.model_ = None

    def fit(self, X_human, X_simulator, manifest: dict | None = None) -> "HumanLikenessDiscriminator":
        if self.frozen:
            raise FrozenError("this discriminator is frozen; train a new one instead of refitting")
        Xh, Xs = _as_matrix(X_human), _as_matrix(X_simulator)
        if len(Xh) == 0 or len(Xs) == 0:
            raise ValueError(f"need both classes to fit (humans: {len(Xh)}, simulator: {len(Xs)})")
        X = np.vstack([Xh, Xs])
        y = np.r_[np.full(len(Xh), HUMAN), np.full(len(Xs), SIMULATOR)]
        self.model_ = make_pipeline(
            StandardScaler(),
            RandomForestClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                   class_weight=self.class_weight, random_state=self.random_state, n_jobs=1),
        )
        self.model_.fit(X, y)
        self.manifest = {**(manifest or {}), "n_train_human": len(Xh), "n_train_simulator": len(Xs),
                         "feature_version": FEATURE_VERSION, "features": list(FEATURES),
                         "params": self.params()}
        return self

    def params(self) -> dict:
        return {"n_estimators": self.n_estimators, "max_depth": self.max_depth,
                "class_weight": self.class_weight, "random_state": self.random_state}

    def freeze(self) -> "HumanLikenessDiscriminator":
        self._check_fitted()
        self.frozen = True
        return self

    def predict_proba_human(self, X) -> np.ndarray:
        """p_RF(human | f) for each row."""
        self._check_fitted()
        X = _as_matrix(X)
        if len(X) == 0:
            return np.zeros(0)
        proba = self.model_.predict_proba(X)
        return proba[:, list(self.model_.classes_).index(HUMAN)]

    def evaluate(self, X_human, X_simulator) -> dict:
        """Held-out ROC-AUC, accuracy and F1 (human = positive class): Table 5 analog."""
        Xh, Xs = _as_matrix(X_human), _as_matrix(X_simulator)
        y = np.r_[np.full(len(Xh), HUMAN), np.full(len(Xs), SIMULATOR)]
        p = self.predict_proba_human(np.vstack([Xh, Xs]))
        pred = (p >= 0.5).astype(int)
        return {
            "roc_auc": float(roc_auc_score(y, p)) if len(set(y)) == 2 else float("nan"),
            "accuracy": float(accuracy_score(y, pred)),
            "f1": float(f1_score(y, pred, pos_label=HUMAN, zero_division=0)),
            "n_human": int(len(Xh)), "n_simulator": int(len(Xs)),
        }

    def importances(self) -> pd.Series:
        """Gini importances per feature, largest first: Table 6 analog."""
        self._check_fitted()
        forest = self.model_[-1]
        return pd.Series(forest.feature_importances_, index=list(FEATURES), name="importance").sort_values(
            ascending=False)

    # -- persistence -----------------------------------------------------------------
    def save(self, directory) -> Path:
        """Write model.joblib + manifest.json (the manifest is human-readable provenance)."""
        self._check_fitted()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        joblib.dump({"model": self.model_, "params": self.params(), "frozen": self.frozen}, d / "model.joblib")
        (d / "manifest.json").write_text(json.dumps({**self.manifest, "frozen": self.frozen}, indent=2, default=str))
        return d

    @classmethod
    def load(cls, directory) -> "HumanLikenessDiscriminator":
        d = Path(directory)
        blob = joblib.load(d / "model.joblib")
        manifest = json.loads((d / "manifest.json").read_text())
        if manifest.get("feature_version") != FEATURE_VERSION:
            raise ValueError(f"discriminator in {d} was trained on fingerprint version "
                             f"{manifest.get('feature_version')!r}, this code computes {FEATURE_VERSION!r}; retrain it")
        obj = cls(**blob["params"], manifest=manifest)
        obj.model_ = blob["model"]
        obj.frozen = blob["frozen"]
        return obj

    def _check_fitted(self):
        if self.model_ is None:
            raise RuntimeError("discriminator is not fitted; call fit() or load()")


def _as_matrix(X) -> np.ndarray:
    if isinstance(X, pd.DataFrame):
        X = X[list(FEATURES)].to_numpy(dtype=float)
    X = np.asarray(X, dtype=float)
    if X.size == 0:
        return X.reshape(0, len(FEATURES))
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.shape[1] != len(FEATURES):
        raise ValueError(f"expected {len(FEATURES)} fingerprint columns, got {X.shape[1]}")
    return X
