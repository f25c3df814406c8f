"""Where a notebook's runs and figures go: relative paths are relative to the repository.

A notebook opened in Jupyter runs in ``notebooks/``; papermill started from the
repository root runs in the root; ``ppol-nb notebooks`` runs each notebook in
``notebooks/``. :func:`project_path` gives all three the same place: a relative
path is taken from the repository root — the nearest folder above the working
directory whose ``pyproject.toml`` names ``ppol_nb``, else the checkout this
package is imported from, else the working directory (an installed package
outside any checkout). Absolute paths are used as given.
"""

from __future__ import annotations

from pathlib import Path

_MARKER = 'name = "ppol_nb"'


def _is_project(folder: Path) -> bool:
    manifest = folder / "pyproject.toml"
    try:
        return manifest.is_file() and _MARKER in manifest.read_text(encoding="utf-8")
    except OSError:
        return False


def project_root() -> Path:
    """The repository root (see the module doc for the look-up order)."""
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if _is_project(folder):
                return folder
    return Path.cwd().resolve()


def project_path(*parts) -> Path:
    """``parts`` joined; a relative result is placed under :func:`project_root`."""
    path = Path(*(str(p) for p in parts)).expanduser()
    return path if path.is_absolute() else project_root() / path
