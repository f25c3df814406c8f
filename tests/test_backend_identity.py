"""A backend's identity is what decides its results, for both worlds.

Runs resume only into the same identity (:mod:`ppol_nb.run_identity`), so the
identity must change with anything that changes replies (model, endpoint,
sampling, the offline reader) and must not change with operational settings
(cache file, timeouts, concurrency) or carry a secret.
"""

from __future__ import annotations

import json

import pytest

from ppol_nb.backends import make_backend

OPERATIONAL = [dict(cache_path=False), dict(timeout_s=5.0), dict(max_retries=0), dict(max_concurrency=1)]


def openai(**kw):
    return make_backend("openai", model=kw.pop("model", "m1"), base_url=kw.pop("base_url", "http://127.0.0.1:9/v1"),
                        api_key_env="PPOL_TEST_KEY", **kw)


@pytest.mark.parametrize("change", OPERATIONAL, ids=lambda c: next(iter(c)))
def test_operational_settings_do_not_change_the_identity(change, tmp_path):
    assert openai(**change).identity() == openai(cache_path=tmp_path / "c.sqlite").identity()


@pytest.mark.parametrize("change", [dict(model="m2"), dict(base_url="http://127.0.0.1:10/v1"),
                                    dict(temperature=0.7), dict(user_model="u2")], ids=lambda c: next(iter(c)))
def test_what_changes_replies_changes_the_identity(change):
    assert openai(**change).identity() != openai().identity()


def test_identity_names_the_world_and_holds_no_secret(monkeypatch):
    monkeypatch.setenv("PPOL_TEST_KEY", "sk-planted-secret-123")
    llm = openai(base_url="https://user:pw-secret@example.org/v1")
    text = json.dumps(llm.identity())
    assert "sk-planted-secret-123" not in text and "pw-secret" not in text
    assert llm.identity()["backend"] == "openai" and "m1" in text


def test_offline_identity_follows_the_agent_and_the_reader(monkeypatch):
    import ppol_nb.offline.reader as reader

    offline = make_backend("offline")
    assert offline.identity()["backend"] == "offline"
    assert make_backend("offline", agent="do-nothing").identity() != offline.identity()
    before = offline.identity()
    monkeypatch.setattr(reader, "READER_VERSION", "a-different-reader")
    assert offline.identity() != before
