"""The blinded study in a notebook: an ipywidgets annotation app for one annotator.

The same study directory and the same append-only SQLite store as the web app
(:mod:`.annotation_app`), so answers given here and in a browser are one record:

* the annotator is named by their **token** (as in their link); an unknown token is
  refused (:class:`~.blinded_study.StudyError`) before anything is shown;
* the conversation is shown as customer / agent turns only (HTML-escaped), in the
  annotator's own order (:func:`~.blinded_study.display_order`); nothing shown — no
  widget value, label, option or tooltip — comes from the source key, which is never read;
* Human / Bot / Not sure, a confidence 1–5 and an optional comment; every save goes
  through :func:`~.annotation_app.check_answer` (the web app's validation) and, when
  valid, is appended to the store at once (:meth:`~.annotation_app.AnswerStore.record`);
  a refused answer shows why and writes nothing;
* the study's instructions and consent come first, as in the web app: no conversation
  is shown and no answer is stored until the annotator has agreed; the agreement goes to
  the same ``consents`` table, with its time (an agreement given in the browser counts here);
* progress (answered of total) is shown; opening the widget again — or the web link —
  resumes at the first unanswered conversation (:func:`~.annotation_app.annotator_progress`);
  **Back** reopens the previous conversation with its answer filled in, and saving it
  again appends a new revision (never an overwrite).

Use: ``AnnotationWidget(study_dir, token)`` as the last expression of a cell (it
displays itself), or ``.view`` for the container.
"""

from __future__ import annotations

import html
from pathlib import Path

from .annotation_app import (
    LABELS,
    MAX_COMMENT,
    AnswerStore,
    InvalidAnswer,
    annotator_progress,
    check_answer,
    default_db,
)
from .blinded_study import StudyError, instructions_text, load_study

SPEAKERS = {"customer": "Customer", "agent": "Agent"}
_QUESTION = "<p>Was the <b>customer</b> in this conversation a human or a bot?</p>"
_STYLE = {"customer": "background:#e8f0fe", "agent": "background:#f1f3f4"}


def conversation_html(turns) -> str:
    """The turns as escaped HTML (the text is shown as given, never interpreted)."""
    parts = []
    for turn in turns:
        who = SPEAKERS.get(turn["speaker"], "?")
        parts.append(f'<div style="{_STYLE.get(turn["speaker"], "")};margin:.3em 0;padding:.4em .7em;'
                     f'border-radius:.5em;white-space:pre-wrap"><b>{who}</b><br>{html.escape(turn["text"])}</div>')
    return "".join(parts)


class AnnotationWidget:
    """One annotator's annotation app over ``study_dir`` and its answers store (module doc)."""

    def __init__(self, study_dir: str | Path, token: str, db_path: str | Path | None = None):
        import ipywidgets as w

        self.study = load_study(study_dir)
        self.items = {item["id"]: item for item in self.study["items"]}
        self.store = AnswerStore(db_path or default_db(study_dir))
        annotator = self.store.annotator_for(token)
        if annotator is None:
            raise StudyError("unknown token: this token is not registered for this study")
        self.annotator = annotator
        self.item: str | None = None
        self.instructions = self.study.get("instructions") or instructions_text(None, len(self.items))

        self.consent_text = w.HTML(f'<div style="white-space:pre-wrap">{html.escape(self.instructions)}</div>')
        self.agree = w.Checkbox(value=False, description="I have read this and agree to take part", indent=False)
        self.start_button = w.Button(description="Start", button_style="primary")
        self.start_button.on_click(lambda _: self.consent())
        self.consent_box = w.VBox([self.consent_text, self.agree, self.start_button])
        self.progress_bar = w.IntProgress(min=0, max=len(self.items), description="Answered")
        self.progress_text = w.HTML()
        self.question = w.HTML(_QUESTION)
        self.conversation = w.HTML()
        self.answer = w.ToggleButtons(options=[(label, value) for value, label in LABELS.items()], value=None,
                                      description="Customer was")
        self.confidence = w.ToggleButtons(options=[(str(c), c) for c in range(1, 6)], value=None,
                                          description="Confidence", tooltips=["guessing", "", "", "", "certain"])
        self.comment = w.Textarea(placeholder=f"Comment (optional, up to {MAX_COMMENT} characters)",
                                  layout=w.Layout(width="95%"))
        self.save_button = w.Button(description="Save and continue", button_style="primary")
        self.back_button = w.Button(description="Back")
        self.message = w.HTML()
        self.save_button.on_click(lambda _: self.save())
        self.back_button.on_click(lambda _: self.back())
        self.form = w.VBox([self.question, self.conversation, self.answer, self.confidence, self.comment,
                            w.HBox([self.save_button, self.back_button])])
        self.main = [w.HBox([self.progress_bar, self.progress_text]), self.message, self.form]
        self.view = w.VBox(self.main)
        self.show()

    # -- state: the store is the only state (as in the web app) --------------------------
    def _progress(self):
        return annotator_progress(self.store, self.study, self.annotator)

    def consented(self) -> bool:
        return self.annotator in self.store.consents()

    def consent(self) -> bool:
        """Record the agreement (the box must be ticked) and show the first conversation."""
        if not self.agree.value:
            self.message.value = '<p style="color:#a00">Tick the box to agree before you start.</p>'
            return False
        self.store.record_consent(self.annotator, self.instructions)
        self.message.value = ""
        self.show()
        return True

    def show(self, item: str | None = None) -> None:
        """Show ``item`` (None: the first conversation not yet answered, or the end page);
        the instructions and consent instead while the annotator has not agreed."""
        if item is not None and item not in self.items:
            raise StudyError("that conversation is not part of this study")
        if not self.consented():
            self.item = None
            self.view.children = [self.message, self.consent_box]
            return
        self.view.children = self.main
        order, answered = self._progress()
        if item is None:
            item = next((i for i in order if i not in answered), None)
        self.item = item
        self.progress_bar.value = len(answered)
        if item is None:
            self.progress_text.value = f"Answered {len(answered)} of {len(order)}. Thank you — every conversation " \
                                       "is answered; use Back to change an answer."
            self.conversation.value = ""
            self.question.value = ""
            self.save_button.disabled = True
            self.back_button.disabled = not order
            return
        position = order.index(item)
        self.progress_text.value = (f"Answered {len(answered)} of {len(order)}. "
                                    f"This is conversation {position + 1} of {len(order)}.")
        self.question.value = _QUESTION
        self.conversation.value = conversation_html(self.items[item]["turns"])
        previous = answered.get(item)
        self.answer.value = previous["answer"] if previous else None
        self.confidence.value = previous["confidence"] if previous else None
        self.comment.value = previous["comment"] if previous else ""
        self.save_button.disabled = False
        self.back_button.disabled = position == 0

    def save(self) -> int | None:
        """Validate and append the shown answer; then show the next unanswered conversation.

        Returns the revision number written, or None when the answer was refused (the reason is shown)."""
        if not self.consented():  # enforced here too, not only by what is shown
            self.message.value = '<p style="color:#a00">Agree to the instructions first.</p>'
            return None
        try:
            checked = check_answer(self.items, self.item, self.answer.value, self.confidence.value,
                                   self.comment.value)
        except InvalidAnswer as exc:
            self.message.value = f'<p style="color:#a00">{html.escape(str(exc))}</p>'
            return None
        revision = self.store.record(self.annotator, *checked)
        self.message.value = ""
        self.show()
        return revision

    def back(self) -> None:
        """Reopen the conversation before the shown one (the last one from the end page)."""
        order, _ = self._progress()
        if not order:
            return
        position = order.index(self.item) if self.item is not None else len(order)
        if position > 0:
            self.message.value = ""
            self.show(order[position - 1])

    def widgets(self) -> list:
        """Every widget of the app (for inspection: what the annotator can see)."""
        out, todo = [], [self.view]
        while todo:
            widget = todo.pop()
            out.append(widget)
            todo.extend(getattr(widget, "children", ()))
        return out

    def _repr_mimebundle_(self, **kwargs):
        return self.view._repr_mimebundle_(**kwargs)
