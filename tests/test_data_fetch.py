"""``ppol-nb data fetch``: downloads against a loopback HTTP server, the look-up order, the missing-corpus error.

No test reaches the internet: GitHub raw files are served by a tiny
``http.server`` thread (``$PPOL_DATA_BASE_URL``), the Hub's resolve URL by the
same server (``$HF_ENDPOINT``), and ``huggingface_hub`` is replaced where its
path is tested. The fixture corpora are made here, in the real layouts, and
the catalogue's pins are swapped for theirs; the real pins are checked against
the real files the look-up order finds.
"""

from __future__ import annotations

import dataclasses
import io
import json
import socket
import sys
import threading
import zipfile
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ppol_nb import cli
from ppol_nb.humans import CorpusNotFound, TauUsiUnavailable, load_abcd, load_corpus, load_multiwoz, load_tau_usi, paths
from ppol_nb.humans import fetch as data

MULTIWOZ_JSON = {
    "FIX001": {"goal": {}, "log": [{"text": "I need a taxi , please ."}, {"text": "Where to ?"},
                                    {"text": "To the station ."}, {"text": "Booked ."}]},
    "FIX002": {"goal": {}, "log": [{"text": "Is there a cheap hotel ?"}, {"text": "Yes , two ."}]},
}
ABCD_JSON = [{"convo_id": 1, "scenario": {}, "delexed": [],
              "original": [["customer", "hi, my parcel never arrived"], ["agent", "Sorry! Order id?"],
                           ["action", "Account has been pulled up."], ["customer", "it's 12345"]]}]
LICENCE = b"MIT License\n\nCopyright (c) fixture\n"
TAU_JSON = {"retail_0_ann1": {"conversation": [
    {"role": "user", "content": "\\tau task_index: 0 model: x"},
    {"role": "assistant", "content": "<|canvas|> card"},
    {"role": "assistant", "content": "Hi! How can I help?"},
    {"role": "user", "content": "hi, I want to return a lamp"},
    {"role": "assistant", "content": "Sure."},
    {"role": "user", "content": "thanks /stop"}]}}


def _zip(name: str, payload: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, json.dumps(payload))
    return buffer.getvalue()


FIXTURE_BYTES = {
    "multiwoz": _zip("val.json", MULTIWOZ_JSON),
    "abcd": json.dumps(ABCD_JSON).encode(),
    "tau-usi": json.dumps(TAU_JSON).encode(),
}


class FileServer:
    """Serves ``routes[path] = bytes`` on 127.0.0.1; ``modes[path]`` bends one route.

    Modes: ``"short"`` declares the full Content-Length and sends half;
    ``"short-no-length"`` sends half with no Content-Length; ``"auth:TOKEN"``
    answers 401 unless ``Authorization: Bearer TOKEN`` came with the request.
    Every request is logged as ``(path, headers)``.
    """

    def __init__(self):
        self.routes: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # http.server calls do_<METHOD>
                server.requests.append((self.path, dict(self.headers)))
                body = server.routes.get(self.path)
                mode = server.modes.get(self.path, "")
                if body is None:
                    self.send_error(404)
                    return
                if mode.startswith("auth:") and self.headers.get("Authorization") != f"Bearer {mode[5:]}":
                    self.send_error(401)
                    return
                self.send_response(200)
                if mode != "short-no-length":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mode.startswith("short") else body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@pytest.fixture
def server():
    srv = FileServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Every look-up layer in tmp_path, all empty: PPOL_DATA_DIR, no shared folder, the user dir."""
    import platformdirs

    layers = {"data": tmp_path / "data", "user": tmp_path / "user" / "ppol_nb" / "humans", "repo": tmp_path / "repo"}
    layers["repo"].mkdir()
    monkeypatch.setenv("PPOL_DATA_DIR", str(layers["data"]))
    monkeypatch.delenv("PPOL_SHARED_DIR", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(paths, "_search_starts", lambda: [layers["repo"]])
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "user" / "ppol_nb"))
    return layers


@pytest.fixture
def catalogue(server, monkeypatch):
    """The catalogue pointed at the loopback server, pinned to the fixture bytes; routes in place."""
    monkeypatch.setenv(data.RAW_BASE_ENV, server.url)
    monkeypatch.setenv(data.HF_ENDPOINT_ENV, server.url)
    pinned = {}
    for name, source in data.CATALOGUE.items():
        body = FIXTURE_BYTES[name]
        remote = source.data
        if remote.sha256 is not None:
            remote = dataclasses.replace(remote, sha256=data.hashlib.sha256(body).hexdigest(), size=len(body))
        pinned[name] = dataclasses.replace(source, data=remote)
        server.routes[urlsplit(remote.url()).path] = body
        if source.licence_file is not None:
            server.routes[urlsplit(source.licence_file.url()).path] = LICENCE
    monkeypatch.setattr(data, "CATALOGUE", pinned)
    return pinned


def _route(catalogue, name: str) -> str:
    return urlsplit(catalogue[name].data.url()).path


def _closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was just bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".part") or p.name.startswith("."))


# --- downloads ----------------------------------------------------------------


def test_fetch_verifies_writes_sidecar_and_loaders_find_it(isolated, catalogue, server):
    result = data.fetch_corpus("multiwoz")
    target = isolated["data"] / "multiwoz" / "val.json.zip"
    assert result.status == "fetched" and result.path == target and result.pinned
    assert target.read_bytes() == FIXTURE_BYTES["multiwoz"]
    sidecar = json.loads((target.parent / "val.json.zip.source.json").read_text())
    assert sidecar["source_url"] == f"{server.url}/thu-coai/ConvLab-2/b014b81/data/multiwoz/val.json.zip"
    assert sidecar["sha256"] == catalogue["multiwoz"].data.sha256 and sidecar["sha256_pinned"] is True
    assert sidecar["bytes"] == len(FIXTURE_BYTES["multiwoz"]) and sidecar["licence"] == "CC-BY-4.0"
    assert "Budzianowski" in sidecar["attribution"] and sidecar["ppol_nb_version"]
    assert datetime.fromisoformat(sidecar["fetched_at"]).tzinfo is not None
    assert _leftovers(isolated["data"]) == []
    # The loaders now find it through PPOL_DATA_DIR, with no path given.
    assert paths.locate_corpus_file("multiwoz") == ("PPOL_DATA_DIR", target)
    corpus = load_multiwoz()
    assert [d.dialogue_id for d in corpus.dialogues] == ["FIX001", "FIX002"]
    assert corpus.dialogues[0].user_turns[0] == "I need a taxi, please."


def test_fetch_abcd_stores_its_licence_text(isolated, catalogue):
    data.fetch_corpus("abcd")
    folder = isolated["data"] / "abcd"
    assert (folder / "LICENSE").read_bytes() == LICENCE
    assert json.loads((folder / "abcd_sample.json.source.json").read_text())["licence_file"] == "LICENSE"
    assert load_corpus("abcd").user_turn_count == 2


def test_missing_licence_text_warns_but_keeps_the_verified_data(isolated, catalogue, server):
    del server.routes[urlsplit(catalogue["abcd"].licence_file.url()).path]
    with pytest.warns(UserWarning, match="licence text not saved.*HTTP 404"):
        result = data.fetch_corpus("abcd")
    assert result.path.read_bytes() == FIXTURE_BYTES["abcd"]
    sidecar = json.loads(result.path.with_name("abcd_sample.json.source.json").read_text())
    assert sidecar["licence_file"] is None and sidecar["licence"] == "MIT"
    assert not (result.path.parent / "LICENSE").exists()


def test_checksum_mismatch_leaves_no_file_and_keeps_a_good_copy(isolated, catalogue, server):
    route = _route(catalogue, "abcd")
    good = server.routes[route]
    server.routes[route] = good.replace(b"parcel", b"PARCEL")  # same size, other bytes
    with pytest.raises(data.FetchError, match="checksum mismatch") as info:
        data.fetch_corpus("abcd")
    assert "nothing was saved" in str(info.value)
    target = isolated["data"] / "abcd" / "abcd_sample.json"
    assert not target.exists() and not (target.parent / "abcd_sample.json.source.json").exists()
    assert _leftovers(isolated["data"]) == []
    # A verified copy already in place survives a later bad download untouched.
    server.routes[route] = good
    data.fetch_corpus("abcd")
    server.routes[route] = good.replace(b"parcel", b"PARCEL")
    with pytest.raises(data.FetchError, match="checksum mismatch"):
        data.fetch_corpus("abcd")
    assert target.read_bytes() == good and _leftovers(isolated["data"]) == []


@pytest.mark.parametrize("mode, message", [("short", "stopped after"), ("short-no-length", "expected")])
def test_interrupted_download_leaves_no_file(isolated, catalogue, server, mode, message):
    route = _route(catalogue, "multiwoz")
    server.modes[route] = mode
    with pytest.raises(data.FetchError, match=message):
        data.fetch_corpus("multiwoz")
    assert not (isolated["data"] / "multiwoz" / "val.json.zip").exists()
    assert _leftovers(isolated["data"]) == []


def test_http_error_and_unreachable_host(isolated, catalogue, server, monkeypatch):
    del server.routes[_route(catalogue, "multiwoz")]
    with pytest.raises(data.FetchError, match="HTTP 404") as info:
        data.fetch_corpus("multiwoz")
    assert not info.value.unreachable
    monkeypatch.setenv(data.RAW_BASE_ENV, _closed_port_url())
    with pytest.raises(data.FetchError, match="could not reach") as info:
        data.fetch_corpus("multiwoz", timeout=5)
    assert info.value.unreachable
    assert not (isolated["data"] / "multiwoz" / "val.json.zip").exists()


# --- the command ----------------------------------------------------------------


def test_cli_if_missing_is_idempotent(isolated, catalogue, server, capsys):
    assert cli.main(["data", "fetch", "multiwoz", "abcd", "--if-missing"]) == 0
    first = list(server.paths())
    assert len(first) == 3  # multiwoz, abcd and abcd's LICENSE
    out = capsys.readouterr().out
    assert "sha256 verified" in out and str(isolated["data"]) in out
    assert cli.main(["data", "fetch", "multiwoz", "abcd", "--if-missing"]) == 0
    assert server.paths() == first  # nothing requested the second time
    assert capsys.readouterr().out.count("present at") == 2


def test_cli_if_missing_skips_a_corpus_the_shared_folder_has(isolated, catalogue, server, monkeypatch, tmp_path):
    shared = tmp_path / "ci-shared"
    (shared / "data" / "humans" / "multiwoz").mkdir(parents=True)
    (shared / "data" / "humans" / "multiwoz" / "val.json.zip").write_bytes(FIXTURE_BYTES["multiwoz"])
    monkeypatch.setenv("PPOL_SHARED_DIR", str(shared))
    assert cli.main(["data", "fetch", "multiwoz", "--if-missing"]) == 0
    assert server.requests == []


def test_cli_reports_missing_corpora_when_offline(isolated, catalogue, monkeypatch, capsys):
    monkeypatch.setenv(data.RAW_BASE_ENV, _closed_port_url())
    assert cli.main(["data", "fetch", "multiwoz", "abcd", "--if-missing", "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert "not available (no network?): multiwoz, abcd" in err and "ppol-nb data fetch" in err


def test_cli_where_and_list(isolated, catalogue, capsys):
    data.fetch_corpus("abcd")
    assert cli.main(["data", "where"]) == 0
    out = capsys.readouterr().out
    assert out.index("PPOL_DATA_DIR") < out.index(str(isolated["repo"].parent / "shared")) < out.index("user")
    assert f"{isolated['data'] / 'abcd' / 'abcd_sample.json'}  (PPOL_DATA_DIR)" in out
    assert "not found: run `ppol-nb data fetch multiwoz`" in out
    target = isolated["data"] / "abcd" / "abcd_sample.json"
    assert cli.main(["data", "list"]) == 0
    assert "PPOL_DATA_DIR, sha256 ok" in capsys.readouterr().out
    target.write_bytes(target.read_bytes().replace(b"parcel", b"PARCEL"))
    assert cli.main(["data", "list"]) == 0
    assert "SHA256 MISMATCH" in capsys.readouterr().out


# --- TAU-USI (gated, unpinned) ------------------------------------------------------


def test_tau_usi_over_https_sends_the_token_and_never_stores_it(isolated, catalogue, server, monkeypatch):
    secret = "hf_fixture_secret_token"
    route = _route(catalogue, "tau-usi")
    assert route == "/datasets/cmu-lti/tau-usi/resolve/main/data/tau_bench_tasks_unified.json"
    server.modes[route] = f"auth:{secret}"
    monkeypatch.setattr(data, "_have_huggingface_hub", lambda: False)
    with pytest.raises(data.FetchError, match="no token"):
        data.fetch_corpus("tau-usi")
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(data.FetchError, match="HTTP 401.*gated"):
        data.fetch_corpus("tau-usi")
    monkeypatch.setenv("HF_TOKEN", secret)
    with pytest.warns(UserWarning, match="could not be verified"):
        result = data.fetch_corpus("tau-usi")
    assert server.requests[-1][1]["Authorization"] == f"Bearer {secret}"
    assert not result.pinned and result.sha256 == data.hashlib.sha256(FIXTURE_BYTES["tau-usi"]).hexdigest()
    sidecar = json.loads(result.path.with_name(result.path.name + ".source.json").read_text())
    assert sidecar["sha256"] == result.sha256 and sidecar["sha256_pinned"] is False
    assert sidecar["llm_training_allowed"] is False
    for path in isolated["data"].rglob("*"):
        assert path.is_dir() or secret.encode() not in path.read_bytes()
    corpus = load_tau_usi(split_lookup=lambda domain, task_id: "train")
    assert list(corpus.dialogues[0].user_turns) == ["hi, I want to return a lamp", "thanks"]


def test_tau_usi_through_huggingface_hub(isolated, catalogue, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_download(**kwargs):
        calls.append(kwargs)
        out = Path(kwargs["local_dir"]) / kwargs["filename"]
        out.parent.mkdir(parents=True)
        out.write_bytes(FIXTURE_BYTES["tau-usi"])
        (Path(kwargs["local_dir"]) / ".cache").mkdir()  # the Hub keeps metadata here
        return str(out)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setenv("HF_TOKEN", "hf_fixture")
    with pytest.warns(UserWarning, match="no checksum"):
        result = data.fetch_corpus("tau-usi")
    assert calls[0]["repo_id"] == "cmu-lti/tau-usi" and calls[0]["repo_type"] == "dataset"
    assert calls[0]["token"] == "hf_fixture" and calls[0]["filename"] == "data/tau_bench_tasks_unified.json"
    folder = isolated["data"] / "tau-usi"
    assert sorted(p.name for p in folder.iterdir()) == [
        "tau_bench_tasks_unified.json", "tau_bench_tasks_unified.json.source.json"]
    assert result.path.read_bytes() == FIXTURE_BYTES["tau-usi"]


# --- look-up order and the missing-corpus error ----------------------------------


def test_lookup_order(isolated, tmp_path, monkeypatch):
    rel = paths.CORPUS_FILES["abcd"]
    body = FIXTURE_BYTES["abcd"]
    user = isolated["user"] / rel
    searched = tmp_path / "shared" / "data" / "humans" / rel  # repo/../shared
    env_shared = tmp_path / "env-shared" / "data" / "humans" / rel
    data_env = isolated["data"] / rel
    explicit = tmp_path / "mine.json"
    for path in (user, searched, env_shared, data_env, explicit):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    # Peel the layers off from the top: each time the next one wins.
    assert paths.find_corpus_file("abcd", explicit) == explicit
    assert paths.locate_corpus_file("abcd") == ("PPOL_DATA_DIR", data_env)
    monkeypatch.setenv("PPOL_SHARED_DIR", str(tmp_path / "env-shared"))
    data_env.unlink()
    assert paths.locate_corpus_file("abcd") == ("PPOL_SHARED_DIR", env_shared)
    monkeypatch.delenv("PPOL_SHARED_DIR")
    assert paths.locate_corpus_file("abcd") == ("shared", searched)
    searched.unlink()
    assert paths.locate_corpus_file("abcd") == ("user", user)
    assert load_abcd().user_turn_count == 2
    # An explicit path that does not exist is an error, never a fall-through.
    with pytest.raises(FileNotFoundError, match="nope.json") as info:
        load_abcd(tmp_path / "nope.json")
    assert not isinstance(info.value, CorpusNotFound)
    # A PPOL_SHARED_DIR pointing nowhere is an error too, not silently skipped.
    monkeypatch.setenv("PPOL_SHARED_DIR", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match="PPOL_SHARED_DIR"):
        load_abcd()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_DATA_HOME is the Linux convention")
def test_user_data_dir_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("PPOL_DATA_DIR", raising=False)
    assert paths.user_data_dir() == tmp_path / "xdg" / "ppol_nb" / "humans"
    assert data.data_home() == tmp_path / "xdg" / "ppol_nb" / "humans"


def test_missing_corpus_gets_one_error_naming_the_fetch_command(isolated, monkeypatch):
    for loader, name in ((load_multiwoz, "multiwoz"), (load_abcd, "abcd"), (lambda: load_corpus("abcd"), "abcd")):
        with pytest.raises(CorpusNotFound) as info:
            loader()
        message = str(info.value)
        assert f"ppol-nb data fetch {name}" in message
        for folder in (isolated["data"], isolated["repo"].parent / "shared" / "data" / "humans", isolated["user"]):
            assert str(folder / paths.CORPUS_FILES[name]) in message
    import huggingface_hub

    def refuse(**kwargs):
        raise OSError("401 gated repo")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    with pytest.raises(TauUsiUnavailable) as info:
        load_tau_usi()
    assert "ppol-nb data fetch tau-usi" in str(info.value) and "CC-BY-NC-4.0" in str(info.value)


def test_real_pins_match_the_corpora_the_lookup_finds():
    # Whatever this machine has (CI: ../shared; a fresh clone: the fetched copies) must be the
    # pinned bytes; a machine with neither fails here with the message naming the fetch command.
    for name in ("multiwoz", "abcd"):
        path = paths.find_corpus_file(name)
        remote = data.CATALOGUE[name].data
        assert path.stat().st_size == remote.size
        assert data.file_sha256(path) == remote.sha256
