"""Where the shared human-dialogue folder lives.

Third-party dialogue text never goes into this repository; it sits in a
``shared/`` folder cloned or unpacked next to it (``repo/../shared``), or
wherever ``PPOL_SHARED_DIR`` points.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "PPOL_SHARED_DIR"
HUMANS_SUBDIR = Path("data") / "humans"


def _search_starts() -> list[Path]:
    """Folders whose ancestors are searched: the working directory, then this package."""
    return [Path.cwd(), Path(__file__).resolve().parent]


def shared_data_dir() -> Path:
    """The ``shared/data/humans`` folder.

    ``$PPOL_SHARED_DIR`` (pointing at the ``shared/`` folder) wins when set.
    Otherwise each ancestor of the working directory and of the installed
    package is checked for a ``shared/data/humans`` child, which finds
    ``repo/../shared`` from anywhere inside the repository.

    Raises FileNotFoundError listing every place tried.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        candidate = Path(env).expanduser() / HUMANS_SUBDIR
        if candidate.is_dir():
            return candidate
        raise FileNotFoundError(
            f"${ENV_VAR}={env!r} is set but {candidate} does not exist; point {ENV_VAR} at the "
            "'shared/' folder that contains data/humans/"
        )
    tried: list[Path] = []
    for start in _search_starts():
        for folder in (start, *start.parents):
            candidate = folder / "shared" / HUMANS_SUBDIR
            if candidate in tried:
                continue
            tried.append(candidate)
            if candidate.is_dir():
                return candidate
    listing = "\n  ".join(str(p) for p in tried)
    raise FileNotFoundError(
        f"could not find the shared human-dialogue folder 'shared/data/humans'. Set {ENV_VAR} "
        f"to the 'shared/' folder, or pass path= to the loader. Tried:\n  {listing}"
    )
