"""Behavioural coverage B_cover (paper Eq. 3): two-sided Chamfer distance to humans.

For the fingerprints F_t of one task's episodes and the human reference cloud H
(raw, unstandardised 19-D space, as in the paper's τ² code):

    err(F, H) = mean_{h∈H} min_{f∈F} ‖h−f‖ + mean_{f∈F} min_{h∈H} ‖f−h‖
    B_cover   = max(0, 1 − min(1, err / (2·d_ref)))

d_ref is the mean pairwise distance inside H (how spread out real users are). The
first term asks every human to be near some episode (coverage), the second every
episode to be near some human (staying on the human manifold). It is defined for a
single fingerprint, so a one-rollout-per-task simulator still gets a score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist, pdist


def chamfer_error(F, H) -> float:
    F, H = np.atleast_2d(np.asarray(F, float)), np.atleast_2d(np.asarray(H, float))
    if len(F) == 0 or len(H) == 0:
        raise ValueError("Chamfer distance needs at least one point on each side")
    D = cdist(H, F)
    return float(D.min(axis=1).mean() + D.min(axis=0).mean())


def reference_spread(H) -> float:
    """d_ref: mean pairwise Euclidean distance among the reference points."""
    H = np.atleast_2d(np.asarray(H, float))
    if len(H) < 2:
        raise ValueError("d_ref needs at least two reference points")
    return float(pdist(H).mean())


@dataclass
class CoverageReference:
    """The human reference cloud H_train with its spread, ready to score sets."""

    points: np.ndarray
    d_ref: float

    @classmethod
    def from_points(cls, H) -> "CoverageReference":
        H = np.atleast_2d(np.asarray(H, float))
        return cls(points=H, d_ref=reference_spread(H))

    def score(self, F) -> float:
        """B_cover of one task's fingerprint set F against H."""
        err = chamfer_error(F, self.points)
        return float(max(0.0, 1.0 - min(1.0, err / (2.0 * self.d_ref))))

    def score_groups(self, groups: dict) -> dict:
        """B_cover per task: ``{task_id: fingerprints}`` -> ``{task_id: score}``."""
        return {key: self.score(F) for key, F in groups.items()}
