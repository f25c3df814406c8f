"""The notebook annotation app (ppol_nb.apps.annotation_widget), driven headlessly: widgets are set and
buttons clicked as a person would, and the shared SQLite store is checked after every step."""

import pytest
from fastapi.testclient import TestClient
from study_conversations import assert_blind, make_sources, make_study

from ppol_nb.apps.annotation_app import (
    MAX_COMMENT,
    AnswerStore,
    create_app,
    default_db,
    export_answers,
)
from ppol_nb.apps.annotation_widget import AnnotationWidget
from ppol_nb.apps.blinded_study import StudyError, display_order, load_study

TOKEN = "widget-token-0001"


@pytest.fixture
def study(tmp_path):
    path = make_study(tmp_path, make_sources(tmp_path))
    AnswerStore(default_db(path)).add_annotator("w1", TOKEN)
    return path


def _visible(app: AnnotationWidget) -> str:
    """Everything a widget of the app shows or carries: values, labels, options, tooltips, placeholders."""
    parts = []
    for widget in app.widgets():
        for attr in ("description", "value", "placeholder", "tooltip", "tooltips", "options", "_options_labels"):
            if hasattr(widget, attr):
                parts.append(str(getattr(widget, attr)))
    return "\n".join(parts)


def _agreed(app: AnnotationWidget) -> AnnotationWidget:
    app.agree.value = True
    app.start_button.click()
    return app


def test_instructions_and_consent_come_before_any_conversation(study):
    store = AnswerStore(default_db(study))
    app = AnnotationWidget(study, TOKEN)
    assert app.item is None and app.consent_box in app.view.children and app.form not in app.view.children
    assert "minute" in app.consent_text.value  # the study's instructions, with the time it takes
    _answer(app, "human", 4)
    assert app.save() is None and store.revisions() == [] and "Agree" in app.message.value  # refused, nothing stored
    app.start_button.click()  # without ticking the box
    assert store.consents() == {} and "Tick the box" in app.message.value
    _agreed(app)
    assert set(store.consents()) == {"w1"} and store.consents()["w1"]["agreed_at"] > 0
    assert app.item is not None and app.form in app.view.children
    assert AnnotationWidget(study, TOKEN).item == app.item  # agreed once: a reopened widget starts at the items


def _answer(app, answer, confidence, comment=""):
    app.answer.value, app.confidence.value, app.comment.value = answer, confidence, comment
    app.save_button.click()
    assert_blind(_visible(app))


def test_widget_records_resumes_and_revises_in_the_shared_store(study):
    store = AnswerStore(default_db(study))
    order = display_order(load_study(study), "w1")
    app = _agreed(AnnotationWidget(study, TOKEN))
    assert_blind(_visible(app))
    assert app.item == order[0] and app.progress_bar.value == 0 and app.back_button.disabled
    app.comment.placeholder = "ppolevolvedzq"  # the check sees every widget's attributes
    with pytest.raises(AssertionError, match="revealed"):
        assert_blind(_visible(app))
    app.comment.placeholder = ""

    _answer(app, "human", 4, "<script>alert(1)</script>")
    assert [(r["annotator"], r["item"], r["answer"], r["confidence"]) for r in store.revisions()] == [
        ("w1", order[0], "human", 4)]
    assert app.item == order[1] and app.progress_bar.value == 1 and "1 of" in app.progress_text.value
    assert app.answer.value is None and app.comment.value == ""  # a fresh form for a new conversation

    # Refused answers show why and write nothing: no answer, no confidence, an oversized comment.
    for answer, confidence, comment in [(None, 3, ""), ("bot", None, ""), ("bot", 3, "x" * (MAX_COMMENT + 1))]:
        _answer(app, answer, confidence, comment)
        assert len(store.revisions()) == 1 and app.item == order[1] and app.message.value
    _answer(app, "not_sure", 2)
    assert app.message.value == "" and app.item == order[2]

    # A new widget (a reopened notebook) resumes at the first unanswered conversation.
    app = AnnotationWidget(study, TOKEN)
    assert app.item == order[2] and app.progress_bar.value == 2

    # Back reopens the previous answer, filled in; saving it again is a revision, not an overwrite.
    app.back_button.click()
    assert app.item == order[1] and (app.answer.value, app.confidence.value) == ("not_sure", 2)
    _answer(app, "bot", 5, "changed my mind")
    assert len(store.revisions()) == 3 and app.item == order[2]
    latest = {r["item"]: r for r in store.latest("w1")}
    assert (latest[order[1]]["answer"], latest[order[1]]["revisions"]) == ("bot", 2)
    app.back_button.click()
    app.back_button.click()
    assert app.item == order[0] and app.comment.value == "<script>alert(1)</script>"  # own comment, as text

    # The web app writes to the same store: the widget then resumes after what was answered in the browser.
    client = TestClient(create_app(study))
    assert client.post(f"/a/{TOKEN}/consent", data={"agree": "yes"}).status_code == 200  # already agreed: no-op
    reply = client.post(f"/a/{TOKEN}/answer", data={"item": order[2], "answer": "bot", "confidence": "3"},
                        follow_redirects=False)
    assert reply.status_code == 303
    app.show()
    assert app.item == order[3] and app.progress_bar.value == 3

    while app.item is not None:
        _answer(app, "human", 3)
    assert app.save_button.disabled and app.progress_bar.value == len(order)
    assert "every conversation is answered" in app.progress_text.value
    exported = export_answers(study)
    assert sorted(exported["item"]) == sorted(order) and exported.set_index("item").loc[order[1], "revisions"] == 2
    assert len(store.revisions()) == len(order) + 1  # one revision on top of one answer per item


def test_conversation_is_escaped_and_never_interpreted(study):
    app = _agreed(AnnotationWidget(study, TOKEN))
    shown = []
    while app.item is not None:
        shown.append(app.conversation.value)
        _answer(app, "bot", 1)
    text = "\n".join(shown)
    assert "&lt;b&gt;arrived&lt;/b&gt;" in text and "<b>arrived" not in text  # the human corpus's markup
    assert_blind(text)


def test_unknown_token_is_refused_before_anything_is_shown(study):
    with pytest.raises(StudyError, match="unknown token"):
        AnnotationWidget(study, "not-a-registered-token")
    with pytest.raises(StudyError, match="not part of this study"):
        AnnotationWidget(study, TOKEN).show("0000000000000000")
    assert AnswerStore(default_db(study)).revisions() == []
