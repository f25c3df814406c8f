"""Blinded study kit: the builder (ppol_nb.apps.blinded_study) and the served app (annotation_app)."""

import json
import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from study_conversations import (
    BASE,
    HUMAN,
    PPOL,
    assert_blind,
    make_sources,
    make_study,
)

from ppol_nb.cli import main
from ppol_nb.apps.annotation_app import (
    MAX_COMMENT,
    AnswerStore,
    create_app,
    export_answers,
)
from ppol_nb.analysis.blinded_stats import COLUMNS, validate_answers
from ppol_nb.apps.blinded_study import (
    ATTENTION_SOURCE,
    StudyError,
    build_study,
    display_order,
    load_key,
    load_study,
)


@pytest.fixture
def sources(tmp_path):
    return make_sources(tmp_path)


@pytest.fixture
def study(tmp_path, sources):
    return make_study(tmp_path, sources)


# ---- builder ----------------------------------------------------------------------------------------------------

def test_build_is_balanced_seeded_and_keeps_the_key_apart(tmp_path, sources, study):
    key = load_key(study)
    counts = pd.Series([v["source"] for v in key.values()]).value_counts().to_dict()
    assert counts == {BASE: 4, PPOL: 4, HUMAN: 4, ATTENTION_SOURCE: 2}
    assert all(v["is_attention_check"] == (v["source"] == ATTENTION_SOURCE) for v in key.values())
    data = load_study(study)
    assert [i["id"] for i in data["items"]] == list(dict.fromkeys(i["id"] for i in data["items"]))
    assert set(key) == {i["id"] for i in data["items"]}
    assert all(re.fullmatch(r"[0-9a-f]{16}", i["id"]) for i in data["items"])
    # Same inputs and seed: byte-identical; another seed: another sample or order.
    again = build_study(sources, tmp_path / "again", per_source=4, seed=7, n_attention=2)
    for name in ("study.json", "key.json", "manifest.json"):
        assert (again / name).read_bytes() == (study / name).read_bytes()
    other = build_study(sources, tmp_path / "other", per_source=4, seed=8, n_attention=2)
    assert (other / "study.json").read_bytes() != (study / "study.json").read_bytes()
    # Items are not grouped by source in the file annotators see.
    order = [key[i["id"]]["source"] for i in data["items"]]
    assert order != sorted(order, key=order.index) or len(set(order[:4])) > 1


def test_sample_does_not_depend_on_the_order_episodes_were_stored_in(tmp_path, sources, study):
    # Concurrent episodes land in their file as they finish: the same episodes in another order must give
    # the same study.
    for source in (BASE, PPOL):
        path = sources[source] / "episodes.jsonl"
        lines = path.read_text().splitlines(keepends=True)
        assert len(lines) > 1
        path.write_text("".join(reversed(lines)))
    again = build_study(sources, tmp_path / "reordered", per_source=4, seed=7, n_attention=2)
    for name in ("study.json", "key.json"):
        assert (again / name).read_bytes() == (study / name).read_bytes()


def test_study_file_reveals_no_source_ids_models_or_control_tokens(study):
    text = (study / "study.json").read_text()
    assert_blind(text)
    assert "get_order_details" not in text and "delivered" not in text  # tool calls and results dropped
    assert "simulator" not in text.lower()  # system prompt dropped
    turns = [t for item in load_study(study)["items"] for t in item["turns"]]
    assert {t["speaker"] for t in turns} == {"customer", "agent"}
    assert all(t["text"] == t["text"].strip() and t["text"] for t in turns)
    # Every conversation opens with the customer (τ²'s fixed agent greeting is dropped).
    assert all(item["turns"][0]["speaker"] == "customer" for item in load_study(study)["items"])
    assert "How can I help you today" not in text


def test_too_few_conversations_is_an_error_not_an_unbalanced_study(tmp_path, sources):
    with pytest.raises(StudyError, match=HUMAN):
        build_study(sources, tmp_path / "s", per_source=6)
    assert build_study(sources, tmp_path / "s2").joinpath("manifest.json").is_file()  # default: the smallest
    assert json.loads((tmp_path / "s2" / "manifest.json").read_text())["per_source"] == 5


def test_display_order_is_per_annotator_and_reproducible(study):
    data = load_study(study)
    a, b = display_order(data, "a01"), display_order(data, "a02")
    assert sorted(a) == sorted(b) == sorted(i["id"] for i in data["items"])
    assert a != b
    assert display_order(data, "a01") == a


def test_edited_study_file_is_refused(study):
    path = study / "study.json"
    path.write_text(path.read_text().replace("lamp", "lump"))
    with pytest.raises(StudyError, match="checksum"):
        load_study(study)


# ---- app ------------------------------------------------------------------------------------------------------

def client(study):
    app = create_app(study)
    tokens = app.state.store.ensure_annotators(2)
    c = TestClient(app)
    for token in tokens.values():
        assert c.post(f"/a/{token}/consent", data={"agree": "yes"}, follow_redirects=False).status_code == 303
    return c, tokens


def current_item(page: str) -> str:
    return re.search(r'name="item" value="([0-9a-f]{16})"', page).group(1)


def answer(c, token, item, answer="human", confidence="3", comment="", **extra):
    return c.post(f"/a/{token}/answer", data={"item": item, "answer": answer, "confidence": confidence,
                                             "comment": comment, **extra}, follow_redirects=False)


def test_two_annotators_resume_revise_restart_and_export(study):
    c, tokens = client(study)
    data = load_study(study)
    n = len(data["items"])
    bodies = []
    seen = {}
    for name, token in tokens.items():
        seen[name] = []
        for k in range(3):
            page = c.get(f"/a/{token}")
            bodies.append(page.text)
            assert page.status_code == 200 and f"Answered {k} of {n}" in page.text
            seen[name].append(current_item(page.text))
            r = answer(c, token, seen[name][-1], "bot" if k % 2 else "human", str(k + 1), f"note {k}")
            assert r.status_code == 303
    assert seen["a01"] == display_order(data, "a01")[:3]
    assert seen["a02"] == display_order(data, "a02")[:3]
    # A "closed tab": a new client (no cookies) resumes at the fourth item.
    c2 = TestClient(create_app(study))  # a restarted server over the same SQLite
    page = c2.get(f"/a/{tokens['a01']}")
    bodies.append(page.text)
    assert current_item(page.text) == display_order(data, "a01")[3]
    assert c2.get(f"/api/{tokens['a01']}/progress").json()["answered"] == 3
    # Revision: reopen the first item, see the previous answer, change it.
    first = seen["a01"][0]
    page = c2.get(f"/a/{tokens['a01']}", params={"item": first})
    bodies.append(page.text)
    assert 'value="human" required\nchecked' in page.text and "note 0" in page.text
    assert answer(c2, tokens["a01"], first, "not_sure", "5", "changed").status_code == 303
    # Finish a01 entirely on the restarted server.
    while (page := c2.get(f"/a/{tokens['a01']}")).status_code == 200 and 'name="item"' in page.text:
        bodies.append(page.text)
        assert answer(c2, tokens["a01"], current_item(page.text)).status_code == 303
    bodies.append(page.text)
    assert "every conversation is answered" in page.text and f"Answered {n} of {n}" in page.text
    for body in bodies + [c2.get(f"/api/{t}/progress").text for t in tokens.values()]:
        assert_blind(body)

    store = AnswerStore(study / "answers.sqlite")
    revs = store.revisions()
    assert len(revs) == 3 + 3 + 1 + (n - 3)  # every POST is one row, none lost or doubled by the restart
    assert [r["answer"] for r in revs if r["annotator"] == "a01" and r["item"] == first] == ["human", "not_sure"]
    table = export_answers(study)
    validate_answers(table)
    assert list(table.columns[:len(COLUMNS)]) == list(COLUMNS)
    assert len(table) == n + 3 and table.groupby(["annotator", "item"]).size().max() == 1
    row = table[(table.annotator == "a01") & (table["item"] == first)].iloc[0]
    assert (row.answer, row.confidence, row.comment, row.revisions) == ("not_sure", 5, "changed", 2)
    key = load_key(study)
    assert all(table.source == [key[i]["source"] for i in table["item"]])
    assert table.is_attention_check.sum() == 2  # a01 saw both attention checks


def test_store_is_append_only(study):
    store = AnswerStore(study / "answers.sqlite")
    store.ensure_annotators(1)
    store.record("a01", "x", "bot", 2, "")
    import sqlite3

    con = sqlite3.connect(study / "answers.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE answers SET answer = 'human'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM answers")
    con.close()
    assert [r["answer"] for r in store.revisions()] == ["bot"]


def test_bad_input_is_refused_and_stores_nothing(study):
    c, tokens = client(study)
    token = tokens["a01"]
    item = current_item(c.get(f"/a/{token}").text)
    cases = [
        (c.get("/a/not-a-token"), 403),
        (c.get(f"/api/{'x' * 22}/progress"), 403),
        (answer(c, "not-a-token", item), 403),
        (c.get(f"/a/{token}", params={"item": "0123456789abcdef"}), 404),
        (answer(c, token, "0123456789abcdef"), 404),  # forged id
        (answer(c, token, "../../key.json"), 404),
        (answer(c, token, item, answer="robot"), 422),
        (answer(c, token, item, confidence="6"), 422),
        (answer(c, token, item, confidence="2.5"), 422),
        (c.post(f"/a/{token}/answer", data={"item": item}), 422),  # missing fields
        (c.post(f"/a/{token}/answer", content=f"item={item}&item={item}&answer=bot&confidence=1",
                headers={"content-type": "application/x-www-form-urlencoded"}), 422),
        (answer(c, token, item, comment="x" * (MAX_COMMENT + 1)), 413),
        (answer(c, token, item, comment="x" * 20_000), 413),
        (c.post(f"/a/{token}/answer", content=iter([b"comment=" + b"x" * 10_000] * 3),  # chunked: no length
                headers={"content-type": "application/x-www-form-urlencoded"}), 413),
        (c.post(f"/a/{token}/answer", content=b"\xff\xfe\x00",
                headers={"content-type": "application/x-www-form-urlencoded"}), 400),
    ]
    for response, status in cases:
        assert response.status_code == status, (status, response.text[:300])
        assert "<h1" in response.text or response.headers["content-type"].startswith("application/json")
        assert_blind(response.text)
    assert AnswerStore(study / "answers.sqlite").revisions() == []
    # The limit itself is accepted.
    assert answer(c, token, item, comment="y" * MAX_COMMENT).status_code == 303


def test_html_in_comments_is_stored_as_text_and_escaped(study):
    c, tokens = client(study)
    token = tokens["a01"]
    item = current_item(c.get(f"/a/{token}").text)
    evil = '</textarea><script>alert("x")</script><img src=x onerror=alert(1)>'
    assert answer(c, token, item, comment=evil).status_code == 303
    assert AnswerStore(study / "answers.sqlite").revisions()[0]["comment"] == evil
    page = c.get(f"/a/{token}", params={"item": item}).text
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page
    # Conversation text is escaped too (a human turn holds "<b>").
    for it in load_study(study)["items"]:
        body = c.get(f"/a/{token}", params={"item": it["id"]}).text
        assert "<b>arrived</b>" not in body
    # Another annotator never sees the comment.
    assert "alert" not in c.get(f"/a/{tokens['a02']}", params={"item": item}).text


def test_cli_build_and_export(tmp_path, sources, study):
    out = tmp_path / "cli-study"
    assert main(["study", "build", "--source", f"{BASE}={sources[BASE]}", "--source",
                 f"{PPOL}={sources[PPOL]}", "--per-source", "3", "--seed", "1", "--out", str(out)]) == 0
    assert len(load_study(out)["items"]) == 3 + 3 + 2
    assert main(["study", "build", "--source", "nonsense", "--out", str(tmp_path / "x")]) == 2
    c, tokens = client(study)
    token = tokens["a02"]
    answer(c, token, current_item(c.get(f"/a/{token}").text), "bot", "4")
    csv = tmp_path / "answers.csv"
    assert main(["study", "export", str(study), "--out", str(csv)]) == 0
    table = validate_answers(pd.read_csv(csv))
    assert len(table) == 1 and table.loc[0, "answer"] == "bot"
    assert main(["study", "export", str(tmp_path / "nowhere"), "--out", str(csv)]) == 2
    # serve refuses before listening: no tokens file, a malformed one, no annotators at all, no study.
    bad = tmp_path / "bad-tokens.txt"
    bad.write_text("a01 tok-a01-xxxxxxxx extra\n")
    for args in (["--tokens", str(tmp_path / "missing.txt")], ["--tokens", str(bad)], []):
        assert main(["study", "serve", str(out), "--port", "1", *args]) == 2
    assert main(["study", "serve", str(tmp_path / "nowhere"), "--annotators", "1"]) == 2


def test_consent_comes_first_and_is_enforced_by_the_server(study):
    app = create_app(study)
    store = app.state.store
    tokens = store.ensure_annotators(1)
    token = tokens["a01"]
    c = TestClient(app)
    first = c.get(f"/a/{token}")
    assert "I have read this and agree" in first.text and 'name="item"' not in first.text
    assert "minutes" in first.text and "What is stored" in first.text
    item = json.loads((study / "study.json").read_text())["items"][0]["id"]
    assert 'name="item"' not in c.get(f"/a/{token}?item={item}").text  # no item by its id either
    assert c.get(f"/a/{token}/practice").status_code == 200 and "I have read" in c.get(f"/a/{token}/practice").text
    assert answer(c, token, item).status_code == 403  # a forged post before consent
    assert c.post(f"/a/{token}/consent", data={}).status_code == 422  # box not ticked
    assert store.revisions() == [] and store.consents() == {}
    agreed = c.post(f"/a/{token}/consent", data={"agree": "yes"}, follow_redirects=False)
    assert agreed.headers["location"] == f"/a/{token}/practice"  # the unscored practice item
    practice = c.get(f"/a/{token}/practice").text
    assert "not saved or scored" in practice and 'name="item"' not in practice
    assert 'name="item"' in c.get(f"/a/{token}").text
    when = store.consents()["a01"]["agreed_at"]
    assert answer(c, token, current_item(c.get(f"/a/{token}").text)).status_code == 303
    assert store.revisions()[0]["item"] != "practice"
    table = export_answers(study)
    assert abs(pd.Timestamp(table["consented_at"].iloc[0]).timestamp() - when) < 1e-3


def test_a_stale_tab_is_told_and_stores_nothing(study):
    c, tokens = client(study)
    token = tokens["a01"]
    tab1 = c.get(f"/a/{token}").text
    tab2 = c.get(f"/a/{token}").text  # a second tab on the same link, same item
    item = current_item(tab1)
    assert current_item(tab2) == item
    assert answer(c, token, item, "human", revision="0").status_code == 303
    stale = answer(c, token, item, "bot", revision="0")
    assert stale.status_code == 409 and "already answered in another tab" in stale.text
    rows = c.app.state.store.revisions()
    assert [(r["item"], r["answer"]) for r in rows] == [(item, "human")]
    revision = re.search(r'name="revision" value="(\d+)"', c.get(f"/a/{token}?item={item}").text).group(1)
    assert answer(c, token, item, "bot", revision=revision).status_code == 303  # a deliberate revision still works
