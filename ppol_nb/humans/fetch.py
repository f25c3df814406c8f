"""Download the human corpora from their public sources into the user data directory.

``ppol-nb data fetch multiwoz abcd tau-usi`` makes a fresh clone usable without
the sibling ``shared/`` folder CI has. Sources (the project's data README pins
them):

* ``multiwoz`` — MultiWOZ 2.1 validation set (CC BY 4.0), ConvLab-2's
  ``data/multiwoz/val.json.zip`` at commit ``b014b81``, raw file from GitHub;
* ``abcd`` — the ABCD sample (MIT), ``data/abcd_sample.json`` of
  ``asappresearch/abcd`` at commit ``6b8700c``, plus that repository's LICENSE;
* ``tau-usi`` — TAU-USI (CC-BY-NC-4.0, gated), ``data/tau_bench_tasks_unified.json``
  of the Hugging Face dataset ``cmu-lti/tau-usi``, with the user's token
  (``$HF_TOKEN`` or a ``huggingface_hub`` login) after accepting its terms.

Guarantees:

* Bytes go to a temporary file in the destination folder and are renamed onto
  the final name only after the byte count and the pinned sha256 match; any
  failure (no network, HTTP error, interrupted or short download, checksum
  mismatch) deletes the temporary file and raises :class:`FetchError`. The final
  name never holds a partial or unverified file.
* Beside each corpus file a sidecar ``<file>.source.json`` records the source
  URL, sha256, bytes, whether the checksum was pinned, licence, attribution,
  ``fetched_at`` (UTC) and the ppol_nb version. A token is never written
  anywhere (it is sent only as a request header that redirects do not carry).
* TAU-USI publishes no checksum: the sha256 obtained is recorded in the sidecar
  and a warning says it could not be verified.

Destination: ``$PPOL_DATA_DIR`` when set, else the per-user data directory of
:func:`ppol_nb.humans.paths.user_data_dir`; both are places the loaders look.
Tests and mirrors point the GitHub downloads at another server with
``$PPOL_DATA_BASE_URL`` (same ``/<owner>/<repo>/<commit>/<path>`` layout) and the
Hub downloads with ``$HF_ENDPOINT`` (huggingface_hub's own variable).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .licences import SOURCES
from .paths import (
    CORPUS_FILES,
    DATA_ENV_VAR,
    canonical_name,
    fetch_command,
    locate_corpus_file,
    user_data_dir,
)

GITHUB_RAW = "https://raw.githubusercontent.com"
RAW_BASE_ENV = "PPOL_DATA_BASE_URL"
HF_DEFAULT_ENDPOINT = "https://huggingface.co"
HF_ENDPOINT_ENV = "HF_ENDPOINT"
HF_TOKEN_ENV = "HF_TOKEN"
SIDECAR_SUFFIX = ".source.json"
CHUNK = 1 << 16


class FetchError(RuntimeError):
    """A corpus could not be downloaded and verified; nothing was left under its final name.

    ``unreachable`` is True when the server could not be reached at all (no
    network, DNS failure, refused connection, timeout).
    """

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable


@dataclass(frozen=True)
class RemoteFile:
    """One file of a public repository: a GitHub raw file or a Hugging Face dataset file."""

    repo: str  # "owner/name"
    revision: str  # commit (GitHub) or revision (Hub)
    path: str  # path inside the repository
    host: str = "github"  # "github" | "hf-dataset"
    sha256: str | None = None  # pinned checksum; None: record what we get
    size: int | None = None  # pinned byte count

    def url(self) -> str:
        if self.host == "github":
            base = os.environ.get(RAW_BASE_ENV) or GITHUB_RAW
            return f"{base.rstrip('/')}/{self.repo}/{self.revision}/{self.path}"
        if self.host == "hf-dataset":
            base = os.environ.get(HF_ENDPOINT_ENV) or HF_DEFAULT_ENDPOINT
            return f"{base.rstrip('/')}/datasets/{self.repo}/resolve/{self.revision}/{self.path}"
        raise ValueError(f"unknown host {self.host!r}")


@dataclass(frozen=True)
class CorpusSource:
    """Where a named corpus comes from and what comes with it."""

    name: str
    data: RemoteFile
    licence_file: RemoteFile | None = None  # stored beside the data as LICENSE
    gated: bool = False  # needs a Hugging Face token and accepted terms


CATALOGUE: dict[str, CorpusSource] = {
    "multiwoz": CorpusSource(
        name="multiwoz",
        data=RemoteFile(
            repo="thu-coai/ConvLab-2",
            revision="b014b81",
            path="data/multiwoz/val.json.zip",
            sha256="25ddfd4d0b01304012b54e2d98caa038c91d95295c4b519cc721b9b616f506dc",
            size=1_537_014,
        ),
        # ConvLab-2's own LICENSE covers its code (Apache-2.0), not MultiWOZ's text:
        # the CC BY 4.0 attribution goes in the sidecar instead.
    ),
    "abcd": CorpusSource(
        name="abcd",
        data=RemoteFile(
            repo="asappresearch/abcd",
            revision="6b8700c",
            path="data/abcd_sample.json",
            sha256="151e0c487493ab376bb5115538f3bfd6d2f460c94f9daa5cdf04e55bccdf4808",
            size=38_934,
        ),
        licence_file=RemoteFile(repo="asappresearch/abcd", revision="6b8700c", path="LICENSE"),
    ),
    "tau-usi": CorpusSource(
        name="tau-usi",
        data=RemoteFile(
            repo="cmu-lti/tau-usi",
            revision="main",
            path="data/tau_bench_tasks_unified.json",
            host="hf-dataset",
        ),
        gated=True,
    ),
}


@dataclass
class FetchResult:
    """What :func:`fetch_corpus` did for one corpus."""

    name: str
    status: str  # "fetched" | "present"
    path: Path
    where: str  # look-up layer of a present corpus, or the destination folder
    sha256: str | None = None
    size: int | None = None
    pinned: bool = False
    warnings: list[str] = field(default_factory=list)


def data_home() -> Path:
    """Where ``fetch`` writes: ``$PPOL_DATA_DIR`` when set, else the user data directory."""
    env = os.environ.get(DATA_ENV_VAR)
    return Path(env).expanduser() if env else user_data_dir()


def sidecar_path(data_path: Path) -> Path:
    return data_path.with_name(data_path.name + SIDECAR_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _package_version() -> str:
    from ppol_nb import __version__

    return __version__


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check(name: str, got_sha: str, got_size: int, remote: RemoteFile, url: str) -> None:
    """Raise FetchError unless size and sha256 match the pins (when pinned)."""
    if remote.size is not None and got_size != remote.size:
        raise FetchError(
            f"{name}: got {got_size:,} bytes from {url}, expected {remote.size:,}; "
            "the download was cut short or the file changed upstream. Nothing was saved."
        )
    if remote.sha256 is not None and got_sha != remote.sha256:
        raise FetchError(
            f"{name}: checksum mismatch for {url}: sha256 {got_sha}, pinned {remote.sha256}. "
            "The file is not the one this package was tested with; nothing was saved."
        )


def _describe_url_error(name: str, url: str, exc: BaseException, gated: bool, received: int | None = None) -> FetchError:
    """A FetchError saying what went wrong; ``received`` is set when bytes had started to arrive."""
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code in (401, 403) and gated:
            return FetchError(
                f"{name}: HTTP {exc.code} from {url}: the dataset is gated. Log in at the Hugging "
                "Face Hub, accept the dataset's terms, and set HF_TOKEN to a token of that account."
            )
        return FetchError(f"{name}: HTTP {exc.code} {exc.reason} from {url}; nothing was saved.")
    if isinstance(exc, http.client.IncompleteRead):
        got = (received or 0) + len(exc.partial)
        return FetchError(
            f"{name}: download from {url} was interrupted after {got:,} bytes "
            f"({exc.expected:,} more expected); nothing was saved. Run the command again."
        )
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if received is not None:
        return FetchError(
            f"{name}: download from {url} was interrupted after {received:,} bytes "
            f"({type(reason).__name__}: {reason}); nothing was saved. Run the command again."
        )
    return FetchError(
        f"{name}: could not reach {url} ({type(reason).__name__}: {reason}); no network? "
        "Nothing was saved.",
        unreachable=True,
    )


def download_verified(
    name: str,
    remote: RemoteFile,
    dest: Path,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> tuple[str, int]:
    """Stream ``remote`` to ``dest`` through a temporary file; returns ``(sha256, bytes)``.

    ``headers`` are sent to the first host only (not to a redirect target), which
    is where an ``Authorization`` header belongs.
    """
    url = remote.url()
    dest.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": f"ppol_nb/{_package_version()} data fetch"})
    for key, value in (headers or {}).items():
        request.add_unredirected_header(key, value)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        gated = remote.host == "hf-dataset"
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                raise _describe_url_error(name, url, exc, gated) from None
            with response:
                declared = response.headers.get("Content-Length")
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except (http.client.HTTPException, OSError) as exc:
                        raise _describe_url_error(name, url, exc, gated, received=size) from None
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)  # a disk error here propagates as itself
                    size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if declared is not None and size != int(declared):
            raise FetchError(
                f"{name}: download from {url} stopped after {size:,} of {int(declared):,} bytes; "
                "nothing was saved. Run the command again."
            )
        sha = digest.hexdigest()
        _check(name, sha, size, remote, url)
        os.replace(tmp, dest)
        return sha, size
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _have_huggingface_hub() -> bool:
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        return False
    return True


def _download_from_hub(name: str, remote: RemoteFile, dest: Path, token: str | None) -> tuple[str, int]:
    """TAU-USI through huggingface_hub (handles gating, redirects, resumes) into a temp folder."""
    from huggingface_hub import hf_hub_download

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as tmpdir:
        try:
            got = Path(
                hf_hub_download(
                    repo_id=remote.repo,
                    filename=remote.path,
                    repo_type="dataset",
                    revision=remote.revision,
                    token=token,
                    local_dir=tmpdir,
                )
            )
        except Exception as exc:  # noqa: BLE001 - gated, unauthorised, offline: all reported alike
            raise FetchError(
                f"{name}: could not download {remote.repo}/{remote.path} from the Hugging Face Hub "
                f"({type(exc).__name__}: {exc}). The dataset is gated: log in at the Hub, accept "
                "its terms, and set HF_TOKEN to a token of that account. Nothing was saved."
            ) from None
        sha, size = file_sha256(got), got.stat().st_size
        _check(name, sha, size, remote, remote.url())
        os.replace(got, dest)  # same folder tree, so a rename
    return sha, size


def _fetch_data(source: CorpusSource, dest: Path, token: str | None, timeout: float) -> tuple[str, int]:
    remote = source.data
    if remote.host == "hf-dataset":
        token = token or os.environ.get(HF_TOKEN_ENV) or None
        if _have_huggingface_hub():
            return _download_from_hub(source.name, remote, dest, token)
        if token is None:
            raise FetchError(
                f"{source.name}: the dataset is gated and no token was given: set HF_TOKEN to a "
                "Hugging Face token of an account that accepted the dataset's terms."
            )
        return download_verified(source.name, remote, dest, headers={"Authorization": f"Bearer {token}"},
                                 timeout=timeout)
    return download_verified(source.name, remote, dest, timeout=timeout)


def fetch_corpus(
    name: str,
    dest_dir: str | Path | None = None,
    if_missing: bool = False,
    token: str | None = None,
    timeout: float = 60.0,
) -> FetchResult:
    """Download corpus ``name`` into ``dest_dir`` (default :func:`data_home`), verified.

    ``if_missing``: do nothing when the look-up order already finds the corpus
    (or it is already in ``dest_dir``). Raises :class:`FetchError` when the
    download or its verification fails; nothing is then left under the final
    name.
    """
    key = canonical_name(name)
    source = CATALOGUE[key]
    root = Path(dest_dir).expanduser() if dest_dir is not None else data_home()
    dest = root / CORPUS_FILES[key]
    if if_missing:
        hit = locate_corpus_file(key)
        if hit is None and dest.is_file():
            hit = (str(root), dest)
        if hit is not None:
            return FetchResult(key, "present", hit[1], hit[0])
    notes: list[str] = []
    sha, size = _fetch_data(source, dest, token, timeout)
    licence_name = None
    if source.licence_file is not None:
        licence_path = dest.parent / "LICENSE"
        try:
            download_verified(key, source.licence_file, licence_path, timeout=timeout)
            licence_name = licence_path.name
        except FetchError as exc:  # the data is verified; the sidecar still names the licence
            notes.append(f"{key}: licence text not saved ({exc}); the sidecar names the licence")
    pinned = source.data.sha256 is not None
    if not pinned:
        notes.append(
            f"{key}: the source publishes no checksum, so this copy could not be verified; its "
            f"sha256 {sha} is recorded in {sidecar_path(dest).name} (compare it with your collaborators')"
        )
    terms = SOURCES[key]
    sidecar = {
        "corpus": key,
        "file": dest.name,
        "source_url": source.data.url(),
        "repository": source.data.repo,
        "revision": source.data.revision,
        "sha256": sha,
        "sha256_pinned": pinned,
        "bytes": size,
        "licence": terms.licence,
        "licence_file": licence_name,
        "attribution": terms.attribution,
        "research_only": terms.research_only,
        "llm_training_allowed": terms.llm_training_allowed,
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ppol_nb_version": _package_version(),
    }
    _write_atomically(sidecar_path(dest), json.dumps(sidecar, indent=2) + "\n")
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return FetchResult(key, "fetched", dest, str(root), sha, size, pinned, notes)


def corpus_status(name: str) -> dict:
    """Where corpus ``name`` is found and whether its bytes match the pin (for ``data list``)."""
    key = canonical_name(name)
    source = CATALOGUE[key]
    hit = locate_corpus_file(key)
    status = {
        "corpus": key,
        "licence": SOURCES[key].licence,
        "source_url": source.data.url(),
        "pinned_sha256": source.data.sha256,
        "pinned_bytes": source.data.size,
        "gated": source.gated,
        "found": hit is not None,
        "layer": hit[0] if hit else None,
        "path": str(hit[1]) if hit else None,
        "verified": None,
        "fetch_command": fetch_command(key),
    }
    if hit is not None:
        sha = file_sha256(hit[1])
        status["sha256"] = sha
        status["verified"] = (sha == source.data.sha256) if source.data.sha256 else None
    return status

