"""Human-likeness discriminator: P(human | fingerprint) (paper Eq. 2, App. E).

A scikit-learn random forest (200 trees, depth 12, balanced classes, random_state
42) on standardised 19-D fingerprints, one per (domain, user-simulator backend/model).
It is fitted on *reference* humans vs base-simulator episodes on *train* tasks,
evaluated on *held-out* humans vs base-simulator episodes on *test* tasks, then
frozen: the search scores candidates with it but never refits it.

:class:`HumanLikenessDiscriminator` is a scikit-learn classifier and follows its
conventions: the constructor only stores parameters (``get_params`` /
``set_params`` / ``clone`` work), ``fit(X, y)`` sets the fitted attributes
(``scaler_``, ``forest_``, ``classes_``, ``class_count_``, ``n_features_in_``), and
``check_is_fitted`` works; labels are :data:`HUMAN` (1) and :data:`SIMULATOR` (0),
see :func:`labelled`. Freezing is scikit-learn's own
:class:`sklearn.frozen.FrozenEstimator`: ``fit`` on the frozen model is a no-op.

On disk (:func:`save_discriminator`): ``model.joblib`` (the fitted estimator,
format :data:`FORMAT`) and ``manifest.json`` (human-readable provenance). Format-1
files (a fitted StandardScaler + forest pipeline, before this class was an
estimator) are migrated on load, with the same fitted objects and so the same
predictions; other formats are refused with a clear error.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .fingerprint import FEATURE_VERSION, FEATURES

HUMAN, SIMULATOR = 1, 0
FORMAT = 2  # of model.joblib; 1 = {"model": pipeline, "params", "frozen"}


class FingerprintJudge(ClassifierMixin, BaseEstimator):
    """What every human-vs-simulator judge on fingerprints shares (this forest, the transfer judge).

    Subclasses take a ``features`` parameter and implement ``fit`` and
    ``predict_proba``; this class gives them the column rules, ``predict`` and
    the paper's view ``predict_proba_human``.
    """

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_proba_human(self, X) -> np.ndarray:
        """P(human | f) for each row (no rows: an empty array); the forest's is the paper's p_RF."""
        check_is_fitted(self)
        X = self._columns(X)
        if len(X) == 0:
            return np.zeros(0)
        if np.ndim(X) == 1:  # one fingerprint
            X = np.reshape(X, (1, -1))
        return self.predict_proba(X)[:, list(self.classes_).index(HUMAN)]

    def _columns(self, X):
        """``X`` as the estimator reads it: a DataFrame cut to the ``features`` columns, the width checked.

        Everything else (dtype, NaN, sparse, 1-D) is left to scikit-learn's ``validate_data``.
        """
        if self.features is None:
            return X
        if isinstance(X, pd.DataFrame):
            missing = [f for f in self.features if f not in X.columns]
            if missing:
                raise ValueError(f"fingerprint columns missing: {missing}")
            return X[list(self.features)].to_numpy()
        shape = getattr(X, "shape", None) or np.shape(X)
        if len(shape) == 2 and shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} fingerprint columns, got {shape[1]}")
        return X


class HumanLikenessDiscriminator(FingerprintJudge):
    """StandardScaler + RandomForestClassifier with the paper's settings.

    Parameters
    ----------
    n_estimators, max_depth, class_weight, random_state
        Passed to the forest (paper: 200, 12, "balanced", 42).
    features
        Column names of the inputs, in order (default: the 19 fingerprint
        features). A DataFrame is reduced to these columns and an array must have
        exactly as many; ``None`` accepts any width (a generic classifier).
    """

    def __init__(self, n_estimators=200, max_depth=12, class_weight="balanced", random_state=42,
                 features=FEATURES):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.class_weight = class_weight
        self.random_state = random_state
        self.features = features

    def fit(self, X, y):
        X, y = validate_data(self, self._columns(X), y)
        check_classification_targets(y)
        self.scaler_ = StandardScaler().fit(X)
        self.forest_ = RandomForestClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth, class_weight=self.class_weight,
            random_state=self.random_state, n_jobs=1,
        ).fit(self.scaler_.transform(X), y)
        self.classes_ = self.forest_.classes_
        self.class_count_ = np.array([(y == c).sum() for c in self.classes_])
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, self._columns(X), reset=False)
        return self.forest_.predict_proba(self.scaler_.transform(X))

    def evaluate(self, X_human, X_simulator) -> dict:
        """Held-out ROC-AUC, accuracy and F1 (human = positive class): Table 5 analog."""
        X, y = labelled(X_human, X_simulator, self.features, need_both=False)
        p = self.predict_proba_human(X)
        pred = (p >= 0.5).astype(int)
        return {
            "roc_auc": float(roc_auc_score(y, p)) if len(set(y)) == 2 else float("nan"),
            "accuracy": float(accuracy_score(y, pred)),
            "f1": float(f1_score(y, pred, pos_label=HUMAN, zero_division=0)),
            "n_human": int((y == HUMAN).sum()), "n_simulator": int((y == SIMULATOR).sum()),
        }

    def importances(self) -> pd.Series:
        """Gini importances per feature, largest first: Table 6 analog."""
        check_is_fitted(self)
        names = list(self.features) if self.features is not None else [f"x{i}" for i in range(self.n_features_in_)]
        return pd.Series(self.forest_.feature_importances_, index=names, name="importance").sort_values(
            ascending=False)


def labelled(X_human, X_simulator, features=FEATURES, need_both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Stack human and simulator fingerprints into ``(X, y)``: humans first, labelled :data:`HUMAN`."""
    Xh, Xs = _matrix(X_human, features), _matrix(X_simulator, features)
    if need_both and (len(Xh) == 0 or len(Xs) == 0):
        raise ValueError(f"need both classes to fit (humans: {len(Xh)}, simulator: {len(Xs)})")
    return np.vstack([Xh, Xs]), np.r_[np.full(len(Xh), HUMAN), np.full(len(Xs), SIMULATOR)]


def train_discriminator(X_human, X_simulator, **params) -> FrozenEstimator:
    """The paper's discriminator fitted on humans vs simulator, frozen (a later ``fit`` is a no-op)."""
    return FrozenEstimator(HumanLikenessDiscriminator(**params).fit(*labelled(X_human, X_simulator)))


def freeze(estimator) -> FrozenEstimator:
    """``estimator`` (fitted) wrapped in scikit-learn's FrozenEstimator; a frozen one is returned as is."""
    if isinstance(estimator, FrozenEstimator):
        return estimator
    check_is_fitted(estimator)
    return FrozenEstimator(estimator)


def training_manifest(frozen: FrozenEstimator, fmt: int = FORMAT) -> dict:
    """What the saved manifest records about a frozen judge (format, params, features, class counts)."""
    est = frozen.estimator
    counts = dict(zip((int(c) for c in est.classes_), (int(n) for n in est.class_count_)))
    return {"format": fmt, "estimator": type(est).__name__, "frozen": True,
            "params": {k: v for k, v in est.get_params().items() if k != "features"},
            "feature_version": FEATURE_VERSION, "features": list(est.features or ()),
            "n_train_human": counts.get(HUMAN, 0), "n_train_simulator": counts.get(SIMULATOR, 0)}


# -- persistence -------------------------------------------------------------------------
def save_judge(frozen, directory, manifest: dict | None = None, fmt: int = FORMAT) -> Path:
    """Write model.joblib (``{"format", "estimator"}``) + manifest.json (``manifest`` + the training manifest)."""
    frozen = freeze(frozen)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    joblib.dump({"format": fmt, "estimator": frozen.estimator}, d / "model.joblib")
    (d / "manifest.json").write_text(json.dumps({**(manifest or {}), **training_manifest(frozen, fmt)}, indent=2,
                                                default=str))
    return d


def read_judge(directory, what: str) -> tuple[object, dict]:
    """``(model.joblib's content, manifest)`` of a saved judge; refuses another fingerprint version."""
    d = Path(directory)
    manifest = json.loads((d / "manifest.json").read_text())
    if manifest.get("feature_version") != FEATURE_VERSION:
        raise ValueError(f"{what} in {d} was trained on fingerprint version "
                         f"{manifest.get('feature_version')!r}, this code computes {FEATURE_VERSION!r}; retrain it")
    return joblib.load(d / "model.joblib"), manifest


def save_discriminator(frozen, directory, manifest: dict | None = None) -> Path:
    """Write model.joblib (format :data:`FORMAT`) + manifest.json (``manifest`` + the training manifest)."""
    return save_judge(frozen, directory, manifest, FORMAT)


def load_discriminator(directory) -> tuple[FrozenEstimator, dict]:
    """The frozen discriminator saved in ``directory`` and its manifest (format 1 is migrated)."""
    d = Path(directory)
    blob, manifest = read_judge(d, "discriminator")
    fmt = blob.get("format", 1 if "model" in blob else None) if isinstance(blob, dict) else None
    if fmt == FORMAT and isinstance(blob.get("estimator"), HumanLikenessDiscriminator):
        estimator = blob["estimator"]
    elif fmt == 1:
        estimator = _from_format_1(blob, manifest)
    else:
        raise ValueError(f"{d / 'model.joblib'} is not a discriminator this ppol_nb can read (format {fmt!r}, "
                         f"this code reads {FORMAT} and migrates 1); retrain it with the baseline study")
    return FrozenEstimator(estimator), manifest


def _from_format_1(blob: dict, manifest: dict) -> HumanLikenessDiscriminator:
    # Format 1 stored make_pipeline(StandardScaler, RandomForest) fitted on the 19 features: the same
    # two fitted objects become the estimator's scaler_ and forest_, so predictions are unchanged.
    pipeline = blob["model"]
    estimator = HumanLikenessDiscriminator(**blob["params"])
    estimator.scaler_, estimator.forest_ = pipeline[0], pipeline[-1]
    estimator.classes_ = estimator.forest_.classes_
    estimator.n_features_in_ = int(estimator.scaler_.n_features_in_)
    counts = {HUMAN: manifest.get("n_train_human"), SIMULATOR: manifest.get("n_train_simulator")}
    estimator.class_count_ = np.array([counts.get(int(c)) or 0 for c in estimator.classes_])
    return estimator


def _matrix(X, features) -> np.ndarray:
    if isinstance(X, pd.DataFrame):
        X = X[list(features)] if features is not None else X
        X = X.to_numpy(dtype=float)
    X = np.asarray(X, dtype=float)
    width = len(features) if features is not None else (X.shape[1] if X.ndim == 2 else 0)
    if X.size == 0:
        return X.reshape(0, width)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if features is not None and X.shape[1] != len(features):
        raise ValueError(f"expected {len(features)} fingerprint columns, got {X.shape[1]}")
    return X
