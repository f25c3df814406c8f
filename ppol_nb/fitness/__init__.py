"""Fitness of simulated users, starting from their behavioural fingerprints.

Only the fingerprint layer is imported here (numpy and the compiled lexicons);
modules needing scikit-learn or scipy (discriminator, coverage, scoring) are
imported from their own submodules so that ``import ppol_nb.fitness`` stays cheap.

Note: the function :func:`fingerprint` shadows its submodule as a package
attribute; import the module's other names with
``from ppol_nb.fitness.fingerprint import ...``.
"""

from __future__ import annotations

from .fingerprint import (
    DIMENSIONS,
    FEATURE_VERSION,
    FEATURES,
    IDENTIFIER,
    fingerprint,
    fingerprint_frame,
    fingerprints,
    user_turns,
)
from .lexicons import LEXICONS, fires

__all__ = [
    "DIMENSIONS",
    "FEATURES",
    "FEATURE_VERSION",
    "IDENTIFIER",
    "LEXICONS",
    "fingerprint",
    "fingerprint_frame",
    "fingerprints",
    "fires",
    "user_turns",
]
