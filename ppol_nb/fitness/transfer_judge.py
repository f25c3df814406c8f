"""Transfer judge: a calibrated human-vs-simulator classifier the search never saw.

The search optimises P(human) of one frozen random forest
(:mod:`~ppol_nb.fitness.discriminator`). A persona that pushes the forest's few
split features towards humans, and nothing else, raises that P(human) without
becoming human-like: discriminator hacking. The transfer judge is a second,
independent opinion on the same 19-D fingerprints:

* **other humans** — fitted on the *fit* half of the search split's held-out
  humans (:func:`ppol_nb.humans.transfer_split.split_transfer`), disjoint from
  the search judge's training and validation humans (leak-checked);
* **same negatives** — base-simulator episodes of *train* tasks, the search
  judge's simulator class (fingerprints of persona-free episodes carry no
  persona signal; sharing them keeps the two judges' negatives comparable);
* **another model family** — by default an L2-regularised logistic regression on
  standardised features (``family="logistic"``; linear, so no few thresholds can
  be gamed in isolation), or ``family="boosting"``: scikit-learn's
  HistGradientBoostingClassifier;
* **calibrated** — :class:`sklearn.calibration.CalibratedClassifierCV`
  (``calibration="sigmoid"`` by default; ``"isotonic"``; ``None`` for the raw
  model), with stratified seeded folds. Both classes are weighted to equal total
  weight in the fit and the calibration, so P(human) is calibrated under equal
  class priors — the scale of the search judge's balanced forest — and the two
  judges' HL can be compared.

:class:`TransferJudge` follows scikit-learn's conventions (parameters-only
constructor, fitted attributes with ``_``, ``random_state``); it exposes the same
``predict_proba_human`` / ``evaluate`` views as the search judge, so it can stand
where the search judge stands. :func:`train_transfer_judge` returns it frozen
(:class:`sklearn.frozen.FrozenEstimator`). On disk (:func:`save_transfer_judge`):
``model.joblib`` (format :data:`FORMAT`) and ``manifest.json`` (provenance,
including the halves' ids hashes); :func:`load_transfer_judge` refuses another
format or fingerprint version with a clear error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .discriminator import (
    HUMAN,
    SIMULATOR,
    FingerprintJudge,
    labelled,
    read_judge,
    save_judge,
    training_manifest,
)
from .fingerprint import FEATURES

FORMAT = 1  # of model.joblib: {"format", "estimator"}
FAMILIES = ("logistic", "boosting")
CALIBRATIONS = ("sigmoid", "isotonic", None)


class TransferJudge(FingerprintJudge):
    """Calibrated logistic regression (or gradient boosting) on standardised fingerprints.

    Parameters
    ----------
    family
        ``"logistic"`` (default) or ``"boosting"``.
    C
        Inverse L2 strength of the logistic regression.
    max_iter
        Iterations of either model (logistic solver / boosting rounds).
    max_depth, learning_rate
        Of the boosting model.
    calibration
        ``"sigmoid"`` (default), ``"isotonic"`` or ``None`` (uncalibrated).
    cv
        Folds of the calibration (stratified, shuffled with ``random_state``);
        lowered to the smaller class's size when that is smaller.
    random_state
        Seed of the folds and the boosting model.
    features
        Input column names, as :class:`~.discriminator.HumanLikenessDiscriminator`.
    """

    def __init__(self, family="logistic", C=1.0, max_iter=200, max_depth=3, learning_rate=0.1,
                 calibration="sigmoid", cv=5, random_state=0, features=FEATURES):
        self.family = family
        self.C = C
        self.max_iter = max_iter
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.features = features

    def _base(self):
        if self.family == "logistic":
            return LogisticRegression(C=self.C, max_iter=self.max_iter)
        if self.family == "boosting":
            return HistGradientBoostingClassifier(max_iter=self.max_iter, max_depth=self.max_depth,
                                                  learning_rate=self.learning_rate, random_state=self.random_state)
        raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")

    def fit(self, X, y):
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {self.calibration!r}")
        X, y = validate_data(self, self._columns(X), y)
        check_classification_targets(y)
        base = self._base()
        # standardised once, outside the calibration folds (unsupervised), so the models take sample weights
        self.scaler_ = StandardScaler().fit(X)
        X = self.scaler_.transform(X)
        # equal total weight per class: P(human) under equal priors, as the balanced search forest
        weight = compute_sample_weight("balanced", y)
        self.classes_ = np.unique(y)
        self.class_count_ = np.array([(y == c).sum() for c in self.classes_])
        if self.calibration is None:
            self.model_ = base.fit(X, y, sample_weight=weight)
        else:
            folds = max(2, min(self.cv, int(self.class_count_.min())))
            self.model_ = CalibratedClassifierCV(
                base, method=self.calibration,
                cv=StratifiedKFold(folds, shuffle=True, random_state=self.random_state),
            ).fit(X, y, sample_weight=weight)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, self._columns(X), reset=False)
        return self.model_.predict_proba(self.scaler_.transform(X))

    def evaluate(self, X_human, X_simulator) -> dict:
        """Held-out ROC-AUC, accuracy, Brier score and log loss (human = positive class).

        Brier and log loss weigh both classes equally (the judge's prior), so they
        do not depend on how many episodes each class has.
        """
        X, y = labelled(X_human, X_simulator, self.features, need_both=False)
        p = self.predict_proba_human(X)
        w = compute_sample_weight("balanced", y)
        both = len(set(y)) == 2
        return {
            "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
            "accuracy": float(accuracy_score(y, (p >= 0.5).astype(int), sample_weight=w)),
            "brier": float(brier_score_loss(y, p, sample_weight=w, pos_label=HUMAN)),
            "log_loss": float(log_loss(y, np.clip(p, 1e-12, 1 - 1e-12), sample_weight=w, labels=[SIMULATOR, HUMAN])),
            "n_human": int((y == HUMAN).sum()), "n_simulator": int((y == SIMULATOR).sum()),
        }


def train_transfer_judge(X_human, X_simulator, **params) -> FrozenEstimator:
    """A :class:`TransferJudge` fitted on humans vs simulator, frozen (a later ``fit`` is a no-op)."""
    return FrozenEstimator(TransferJudge(**params).fit(*labelled(X_human, X_simulator)))


def transfer_manifest(frozen: FrozenEstimator) -> dict:
    """What the saved manifest records about the estimator (format, params, features, counts)."""
    return training_manifest(frozen, FORMAT)


def save_transfer_judge(frozen, directory, manifest: dict | None = None) -> Path:
    """Write model.joblib (format :data:`FORMAT`) + manifest.json (``manifest`` + :func:`transfer_manifest`)."""
    if not isinstance(getattr(frozen, "estimator", frozen), TransferJudge):
        raise TypeError(f"expected a fitted TransferJudge, got {type(getattr(frozen, 'estimator', frozen)).__name__}")
    return save_judge(frozen, directory, manifest, FORMAT)


def load_transfer_judge(directory) -> tuple[FrozenEstimator, dict]:
    """The frozen transfer judge saved in ``directory`` and its manifest."""
    d = Path(directory)
    blob, manifest = read_judge(d, "transfer judge")
    if not (isinstance(blob, dict) and blob.get("format") == FORMAT and isinstance(blob.get("estimator"),
                                                                                     TransferJudge)):
        fmt = blob.get("format") if isinstance(blob, dict) else None
        raise ValueError(f"{d / 'model.joblib'} is not a transfer judge this ppol_nb can read (format {fmt!r}, "
                         f"this code reads {FORMAT}); retrain it")
    return FrozenEstimator(blob["estimator"]), manifest
