"""Per-iteration randomness and ids derived from the run seed, never from a stream.

Each iteration gets fresh ``random.Random`` objects seeded from a hash of
(seed, iteration, purpose). Nothing about the RNG has to be saved: a resumed
run re-derives exactly the generators an uninterrupted run would have used,
and an extra draw in one iteration cannot shift the choices of the next.
"""

from __future__ import annotations

import hashlib
import random

STREAM_SELECT = "select"  # the engine's parent / elite choices
STREAM_MUTATE = "mutate"  # handed to the mutator


def derive_seed(seed: int, iteration: int, stream: str) -> int:
    """A 64-bit integer determined by (seed, iteration, stream) alone."""
    digest = hashlib.sha256(f"ppol_nb.evolution|{seed}|{iteration}|{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def derive_rng(seed: int, iteration: int, stream: str) -> random.Random:
    """A private ``random.Random`` for one purpose in one iteration."""
    return random.Random(derive_seed(seed, iteration, stream))


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def program_id(seed: int, iteration: int, source: str) -> str:
    """Stable, sortable id: the same run makes the same ids on every machine."""
    digest = hashlib.sha256(f"{seed}|{iteration}|{source_hash(source)}".encode()).hexdigest()
    return f"p{iteration:05d}-{digest[:8]}"
