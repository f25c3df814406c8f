"""Where human-dialogue corpora are found: one look-up order for every loader.

Third-party dialogue text never goes into this repository. A corpus file is
looked for, first hit wins, in

1. the explicit path a caller gives (``load_multiwoz(path=...)``) — used as is,
   missing means :class:`FileNotFoundError`, no fall-through;
2. ``$PPOL_DATA_DIR`` — a folder laid out like ``shared/data/humans``
   (``multiwoz/val.json.zip``, ``abcd/abcd_sample.json``, …);
3. the shared folder: ``$PPOL_SHARED_DIR/data/humans`` when that variable is
   set (it must then exist), else a ``shared/data/humans`` folder beside the
   repository (``repo/../shared``, how CI lays it out), found by walking up
   from the working directory and from this package;
4. the per-user data directory that ``ppol-nb data fetch`` writes to:
   ``platformdirs.user_data_dir("ppol_nb")/humans`` (on Linux
   ``$XDG_DATA_HOME/ppol_nb/humans``, default ``~/.local/share/ppol_nb/humans``).

A corpus found nowhere raises :class:`CorpusNotFound`, whose message lists every
place tried and names the one command that fixes it
(``ppol-nb data fetch NAME``).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "PPOL_SHARED_DIR"
DATA_ENV_VAR = "PPOL_DATA_DIR"
HUMANS_SUBDIR = Path("data") / "humans"

# The file each named corpus is read from, relative to any data folder above.
CORPUS_FILES: dict[str, Path] = {
    "multiwoz": Path("multiwoz") / "val.json.zip",
    "abcd": Path("abcd") / "abcd_sample.json",
    "tau-usi": Path("tau-usi") / "tau_bench_tasks_unified.json",
}


class CorpusNotFound(FileNotFoundError):
    """A named corpus is in none of the look-up places (the message says how to fetch it)."""


def fetch_command(name: str) -> str:
    """The shell command that downloads corpus ``name`` into the user data directory."""
    return f"ppol-nb data fetch {name}"


def user_data_dir() -> Path:
    """Per-user folder that ``ppol-nb data fetch`` fills (layout as ``shared/data/humans``)."""
    # Lazy: platformdirs is only needed once a look-up reaches this layer.
    import platformdirs

    return Path(platformdirs.user_data_dir("ppol_nb", appauthor=False)) / "humans"


def _search_starts() -> list[Path]:
    """Folders whose ancestors are searched: the working directory, then this package."""
    return [Path.cwd(), Path(__file__).resolve().parent]


def _searched_shared_dirs() -> list[Path]:
    """Every ``shared/data/humans`` candidate above the search starts, in order, deduplicated."""
    tried: list[Path] = []
    for start in _search_starts():
        for folder in (start, *start.parents):
            candidate = folder / "shared" / HUMANS_SUBDIR
            if candidate not in tried:
                tried.append(candidate)
    return tried


def _env_shared_dir() -> Path | None:
    """``$PPOL_SHARED_DIR/data/humans``, None when unset; raises when set to a missing folder."""
    env = os.environ.get(ENV_VAR)
    if not env:
        return None
    candidate = Path(env).expanduser() / HUMANS_SUBDIR
    if candidate.is_dir():
        return candidate
    # A typo in an explicit setting must not silently fall through to other data.
    raise FileNotFoundError(
        f"${ENV_VAR}={env!r} is set but {candidate} does not exist; point {ENV_VAR} at the "
        "'shared/' folder that contains data/humans/, or unset it"
    )


def shared_data_dir() -> Path:
    """The ``shared/data/humans`` folder (layer 3 of the look-up order).

    ``$PPOL_SHARED_DIR`` (pointing at the ``shared/`` folder) wins when set.
    Otherwise each ancestor of the working directory and of the installed
    package is checked for a ``shared/data/humans`` child, which finds
    ``repo/../shared`` from anywhere inside the repository.

    Raises FileNotFoundError listing every place tried. Loaders do not call
    this directly: they use :func:`find_corpus_file`, which also tries
    ``$PPOL_DATA_DIR`` and the user data directory.
    """
    env = _env_shared_dir()
    if env is not None:
        return env
    tried = _searched_shared_dirs()
    for candidate in tried:
        if candidate.is_dir():
            return candidate
    listing = "\n  ".join(str(p) for p in tried)
    raise FileNotFoundError(
        f"could not find the shared human-dialogue folder 'shared/data/humans'. Set {ENV_VAR} "
        f"to the 'shared/' folder, or pass path= to the loader. Tried:\n  {listing}"
    )


def search_dirs() -> list[tuple[str, Path]]:
    """The data folders of the look-up order as ``(label, folder)``, whether they exist or not.

    Labels: ``"PPOL_DATA_DIR"``, ``"PPOL_SHARED_DIR"`` or ``"shared"``, ``"user"``.
    The shared layer lists the first existing ``shared/data/humans`` found by the
    upward search, or every candidate when none exists (so messages can say
    where they looked).
    """
    layers: list[tuple[str, Path]] = []
    data_env = os.environ.get(DATA_ENV_VAR)
    if data_env:
        layers.append((DATA_ENV_VAR, Path(data_env).expanduser()))
    env_shared = _env_shared_dir()
    if env_shared is not None:
        layers.append((ENV_VAR, env_shared))
    else:
        searched = _searched_shared_dirs()
        found = next((p for p in searched if p.is_dir()), None)
        layers.extend(("shared", p) for p in ([found] if found else searched))
    layers.append(("user", user_data_dir()))
    return layers


def canonical_name(name: str) -> str:
    """``multiwoz`` / ``abcd`` / ``tau-usi`` from any accepted spelling (ValueError otherwise)."""
    key = name.strip().lower().replace("_", "-")
    key = "tau-usi" if key == "tauusi" else key
    if key not in CORPUS_FILES:
        raise ValueError(f"unknown corpus {name!r}: expected one of {sorted(CORPUS_FILES)}")
    return key


def locate_corpus_file(name: str) -> tuple[str, Path] | None:
    """``(layer label, file)`` of corpus ``name`` in the look-up order, or None when absent."""
    relpath = CORPUS_FILES[canonical_name(name)]
    for label, folder in search_dirs():
        candidate = folder / relpath
        if candidate.is_file():
            return label, candidate
    return None


def missing_corpus_message(name: str) -> str:
    """The one message for a corpus found nowhere: the command to run, then where we looked."""
    key = canonical_name(name)
    relpath = CORPUS_FILES[key]
    tried = "\n  ".join(f"{folder / relpath}  ({label})" for label, folder in search_dirs())
    return (
        f"human corpus {key!r} not found. Download it with:\n\n    {fetch_command(key)}\n\n"
        f"(or set {DATA_ENV_VAR} to a folder holding {relpath}, or pass path= to the loader). "
        f"Looked in, in order:\n  {tried}"
    )


def find_corpus_file(name: str, path: str | Path | None = None) -> Path:
    """The file of corpus ``name`` by the look-up order in the module docstring.

    ``path`` given: that path, which must exist (FileNotFoundError). Otherwise
    the first data folder holding the corpus's file; raises
    :class:`CorpusNotFound` naming ``ppol-nb data fetch NAME`` when none does.
    """
    key = canonical_name(name)
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.is_file():
            raise FileNotFoundError(f"{key} file not found: {explicit}")
        return explicit
    hit = locate_corpus_file(key)
    if hit is None:
        raise CorpusNotFound(missing_corpus_message(key))
    return hit[1]
