"""The annotation app of a blinded study (:mod:`.blinded_study`), served with FastAPI.

Each annotator has a link ``/a/TOKEN``. Its first page is the study's instructions and consent
(text set at ``study build``); the agreement is recorded with its time (table ``consents``) and
no item is served, nor any answer accepted (403), before it. An optional practice conversation
follows, never stored. Then the page shows one conversation (customer and
agent turns, nothing else), asks Human / Bot / Not sure, a confidence 1–5 and an optional
comment, and shows progress. Opening the link again shows the first conversation not yet
answered in that annotator's own order (:func:`~.blinded_study.display_order`): the
answers in the store are the only state, so a closed tab, another browser or a server
restart resumes where the annotator was. ``?item=ID`` reopens an answered item to revise it.

Guarantees:

* **Append-only store.** Every accepted answer is one new row of SQLite's ``answers``
  table (WAL journal, committed before the response is sent); nothing is ever updated or
  deleted. A second answer to an item is a new revision row; :func:`export_answers` takes
  the latest revision (highest row id) per (annotator, item).
* **No silent overwrite from a stale tab.** The form carries the item's answer revision it was
  shown with; if another tab saved since, nothing is stored and the page says so (409), offering
  the next conversation.
* **Blind.** Pages and JSON responses carry item ids, turns and progress only. The key
  (``key.json``) is read by :func:`export_answers` alone, never by the app.
* **Bad input is refused, the store untouched**: unknown token → 403; an item id that is
  not in this study (forged) → 404; a missing/duplicated field, an answer outside
  Human/Bot/Not sure or a confidence outside 1–5 → 422; a comment over
  :data:`MAX_COMMENT` characters or a body over :data:`MAX_BODY` bytes → 413; a body that
  is not UTF-8 form data → 400. Every study item is assigned to every annotator (a fully
  crossed design, as the statistics assume).
* **One validation** (:func:`check_answer`) and one notion of progress (:func:`annotator_progress`),
  shared with the notebook's widget (:mod:`.annotation_widget`) over the same store.
* **No script injection.** Comments are stored as the text given and never shown to
  other annotators; every page is rendered by Jinja2 with autoescaping on, so conversation
  text and comments are always escaped. The page needs no JavaScript.
"""

# No "from __future__ import annotations": FastAPI resolves handler annotations (Request) at runtime.
import hashlib
import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import parse_qs

from ..analysis.blinded_stats import ANSWERS, COLUMNS
from .blinded_study import (
    StudyError,
    display_order,
    instructions_text,
    load_key,
    load_study,
)

MAX_COMMENT = 2000  # characters
MAX_BODY = 16_384  # bytes: a form with a MAX_COMMENT comment of 4-byte characters, URL-encoded, is ~3x this;
# a comment that long is refused either way, by this limit or by MAX_COMMENT.
DB_FILE = "answers.sqlite"
LABELS = {"human": "Human", "bot": "Bot", "not_sure": "Not sure"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS annotators (
    annotator TEXT PRIMARY KEY,
    token TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS answers (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    annotator TEXT NOT NULL REFERENCES annotators(annotator),
    item TEXT NOT NULL,
    answer TEXT NOT NULL CHECK (answer IN ('human', 'bot', 'not_sure')),
    confidence INTEGER NOT NULL CHECK (confidence BETWEEN 1 AND 5),
    comment TEXT NOT NULL,
    answered_at REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS answers_append_only_update BEFORE UPDATE ON answers
BEGIN SELECT RAISE(ABORT, 'answers are append-only'); END;
CREATE TRIGGER IF NOT EXISTS answers_append_only_delete BEFORE DELETE ON answers
BEGIN SELECT RAISE(ABORT, 'answers are append-only'); END;
CREATE TABLE IF NOT EXISTS consents (
    annotator TEXT PRIMARY KEY REFERENCES annotators(annotator),
    agreed_at REAL NOT NULL,
    instructions_sha256 TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS consents_append_only_update BEFORE UPDATE ON consents
BEGIN SELECT RAISE(ABORT, 'consents are append-only'); END;
CREATE TRIGGER IF NOT EXISTS consents_append_only_delete BEFORE DELETE ON consents
BEGIN SELECT RAISE(ABORT, 'consents are append-only'); END;
"""


class AnswerStore:
    """The SQLite store of one study: annotators (name, token) and every answer revision."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # One connection per operation: the app's handlers run on a thread pool.
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA synchronous=FULL")  # an answer acknowledged is an answer on disk
        return con

    def annotators(self) -> dict[str, str]:
        """annotator → token."""
        with closing(self._connect()) as con:
            return dict(con.execute("SELECT annotator, token FROM annotators ORDER BY annotator"))

    def add_annotator(self, annotator: str, token: str) -> None:
        """Register an annotator; re-registering the same pair is a no-op, a conflicting one an error."""
        if not annotator or not token or len(token) < 8:
            raise StudyError(f"annotator {annotator!r}: a name and a token of at least 8 characters are needed")
        known = self.annotators()
        if known.get(annotator) == token:
            return
        if annotator in known or token in known.values():
            raise StudyError(f"annotator {annotator!r} or its token is already registered with another pairing")
        with closing(self._connect()) as con, con:
            con.execute("INSERT INTO annotators (annotator, token) VALUES (?, ?)", (annotator, token))

    def ensure_annotators(self, n: int) -> dict[str, str]:
        """At least ``n`` annotators (``a01`` …), new ones with random tokens; returns them all."""
        known = self.annotators()
        i = 1
        while len(known) < n:
            name = f"a{i:02d}"
            if name not in known:
                self.add_annotator(name, secrets.token_urlsafe(16))
                known = self.annotators()
            i += 1
        return known

    def annotator_for(self, token: str) -> str | None:
        with closing(self._connect()) as con:
            row = con.execute("SELECT annotator FROM annotators WHERE token = ?", (token,)).fetchone()
        return row[0] if row else None

    def record(self, annotator: str, item: str, answer: str, confidence: int, comment: str) -> int:
        """Append one answer revision; returns its revision number."""
        with closing(self._connect()) as con, con:
            cur = con.execute(
                "INSERT INTO answers (annotator, item, answer, confidence, comment, answered_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (annotator, item, answer, confidence, comment, time.time()))
            return cur.lastrowid

    def record_consent(self, annotator: str, instructions: str) -> float:
        """Record that ``annotator`` agreed to ``instructions`` (once: agreeing again keeps the first time)."""
        digest = hashlib.sha256(instructions.encode("utf-8")).hexdigest()
        with closing(self._connect()) as con, con:
            con.execute("INSERT OR IGNORE INTO consents (annotator, agreed_at, instructions_sha256) VALUES (?, ?, ?)",
                        (annotator, time.time(), digest))
        return self.consents()[annotator]["agreed_at"]

    def consents(self) -> dict[str, dict]:
        """annotator → ``{"agreed_at": unix time, "instructions_sha256"}``."""
        with closing(self._connect()) as con:
            rows = con.execute("SELECT annotator, agreed_at, instructions_sha256 FROM consents").fetchall()
        return {a: {"agreed_at": t, "instructions_sha256": h} for a, t, h in rows}

    def latest(self, annotator: str | None = None) -> list[dict]:
        """The latest revision per (annotator, item), with ``revisions`` (how many were given)."""
        query = ("SELECT a.annotator, a.item, a.answer, a.confidence, a.comment, a.answered_at, a.revision, c.n "
                 "FROM answers a JOIN (SELECT annotator, item, MAX(revision) AS last, COUNT(*) AS n "
                 "FROM answers GROUP BY annotator, item) c "
                 "ON a.annotator = c.annotator AND a.item = c.item AND a.revision = c.last")
        args: tuple = ()
        if annotator is not None:
            query += " WHERE a.annotator = ?"
            args = (annotator,)
        with closing(self._connect()) as con:
            rows = con.execute(query + " ORDER BY a.revision", args).fetchall()
        keys = ("annotator", "item", "answer", "confidence", "comment", "answered_at", "revision", "revisions")
        return [dict(zip(keys, row)) for row in rows]

    def revisions(self) -> list[dict]:
        """Every row ever written, oldest first."""
        with closing(self._connect()) as con:
            rows = con.execute("SELECT revision, annotator, item, answer, confidence, comment FROM answers "
                               "ORDER BY revision").fetchall()
        return [dict(zip(("revision", "annotator", "item", "answer", "confidence", "comment"), r)) for r in rows]


class InvalidAnswer(StudyError):
    """An answer refused before it reaches the store; ``status`` / ``title`` are what the web app replies."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title = status, title


def check_answer(items, item, answer, confidence, comment) -> tuple[str, str, int, str]:
    """``(item, answer, confidence, comment)`` ready for :meth:`AnswerStore.record`, or :class:`InvalidAnswer`.

    The one validation of every front end (this web app, :mod:`.annotation_widget`): ``item`` must be one
    of ``items`` (the study's ids), ``answer`` one of Human/Bot/Not sure, ``confidence`` 1–5 (an int or
    its digit), ``comment`` text of at most :data:`MAX_COMMENT` characters (None: empty)."""
    if not item:
        raise InvalidAnswer(422, "Invalid answer", "No conversation was named.")
    if item not in items:
        raise InvalidAnswer(404, "No such conversation", "That conversation is not part of your study.")
    if answer not in ANSWERS:
        raise InvalidAnswer(422, "Invalid answer", "Choose Human, Bot or Not sure.")
    # bool is an int: refuse it rather than read True as confidence 1.
    if isinstance(confidence, bool) or str(confidence) not in {"1", "2", "3", "4", "5"}:
        raise InvalidAnswer(422, "Invalid answer", "Choose a confidence from 1 to 5.")
    comment = "" if comment is None else comment
    if not isinstance(comment, str):
        raise InvalidAnswer(422, "Invalid answer", "A comment must be text.")
    if len(comment) > MAX_COMMENT:
        raise InvalidAnswer(413, "Comment too long", f"Comments are limited to {MAX_COMMENT} characters.")
    return item, answer, int(confidence), comment


def annotator_progress(store: AnswerStore, study: dict, annotator: str) -> tuple[list[str], dict[str, dict]]:
    """The annotator's item order (:func:`~.blinded_study.display_order`) and their latest answer per item
    of this study: the only state either front end keeps, so any of them resumes where the other stopped."""
    ids = {item["id"] for item in study["items"]}
    answered = {row["item"]: row for row in store.latest(annotator) if row["item"] in ids}
    return display_order(study, annotator), answered


def default_db(study_dir: str | Path) -> Path:
    return Path(study_dir) / DB_FILE


_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conversation study</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
*{box-sizing:border-box}
body{font-family:sans-serif;max-width:46em;margin:1em auto;padding:0 1em;line-height:1.4;overflow-wrap:anywhere}
.turn{margin:.4em 0;padding:.5em .8em;border-radius:.5em;white-space:pre-wrap}
textarea{width:100%;max-width:100%}label{display:inline-block;margin:.2em .6em .2em 0}
.instructions{white-space:pre-wrap}.notice{background:#fff4d6;padding:.5em .8em;border-radius:.5em}
.customer{background:#e8f0fe}.agent{background:#f1f3f4}
.who{font-weight:bold;font-size:.85em;display:block}
fieldset{margin:.8em 0}.error{color:#a00}
</style></head><body>{% block body %}{% endblock %}</body></html>"""

_ITEM = """{% extends "base" %}{% block body %}
<p id="progress">Answered {{ answered }} of {{ total }}. This is conversation {{ position }} of {{ total }}.</p>
<p>Was the <b>customer</b> in this conversation a human or a bot?</p>
<div id="conversation">
{% for turn in turns %}<div class="turn {{ turn.speaker }}"><span class="who">{{ speakers[turn.speaker] }}</span>{{ turn.text }}</div>
{% endfor %}</div>
<form method="post" action="/a/{{ token }}/answer">
<input type="hidden" name="item" value="{{ item }}">
<input type="hidden" name="revision" value="{{ previous.revision if previous else 0 }}">
<fieldset><legend>The customer was</legend>
{% for value, label in labels.items() %}<label><input type="radio" name="answer" value="{{ value }}" required
{% if previous and previous.answer == value %}checked{% endif %}> {{ label }}</label>
{% endfor %}</fieldset>
<fieldset><legend>How confident are you? (1 = guessing, 5 = certain)</legend>
{% for c in range(1, 6) %}<label><input type="radio" name="confidence" value="{{ c }}" required
{% if previous and previous.confidence == c %}checked{% endif %}> {{ c }}</label>
{% endfor %}</fieldset>
<label style="display:block">Comment (optional)<br><textarea name="comment" rows="3" maxlength="{{ max_comment }}">
{{- previous.comment if previous else "" }}</textarea></label>
<p><button type="submit">Save and continue</button>
{% if prev_item %}<a href="/a/{{ token }}?item={{ prev_item }}">Back to the previous conversation</a>{% endif %}</p>
</form>{% endblock %}"""

_DONE = """{% extends "base" %}{% block body %}
<p id="progress">Answered {{ answered }} of {{ total }}.</p>
<h1>Thank you — every conversation is answered.</h1>
<p>You can change an answer:</p><ol>
{% for item in order %}<li><a href="/a/{{ token }}?item={{ item }}">Conversation {{ loop.index }}</a></li>
{% endfor %}</ol>{% endblock %}"""

_CONSENT = """{% extends "base" %}{% block body %}
<h1>Before you start</h1>
<div class="instructions" id="instructions">{{ instructions }}</div>
<form method="post" action="/a/{{ token }}/consent">
<p><label><input type="checkbox" name="agree" value="yes" required> I have read this and agree to take part.</label></p>
<p><button type="submit">Start</button></p>
</form>{% endblock %}"""

_PRACTICE = """{% extends "base" %}{% block body %}
<p class="notice" id="practice">Practice conversation: your answer here is not saved or scored.</p>
<p>Was the <b>customer</b> in this conversation a human or a bot?</p>
<div id="conversation">
{% for turn in turns %}<div class="turn {{ turn.speaker }}"><span class="who">{{ speakers[turn.speaker] }}</span>{{ turn.text }}</div>
{% endfor %}</div>
<form method="get" action="/a/{{ token }}">
<fieldset><legend>The customer was</legend>
{% for value, label in labels.items() %}<label><input type="radio" name="practice_answer" value="{{ value }}"> {{ label }}</label>
{% endfor %}</fieldset>
<p><button type="submit">Start the study</button></p>
</form>{% endblock %}"""

_STALE = """{% extends "base" %}{% block body %}
<h1 class="notice" id="stale">This conversation was already answered in another tab or window.</h1>
<p>The answer from this page was not saved, so nothing was overwritten.</p>
<p>{% if next_item %}<a id="next" href="/a/{{ token }}">Go to the next conversation</a>
{% else %}<a id="next" href="/a/{{ token }}">See your answers</a>{% endif %}
· <a href="/a/{{ token }}?item={{ item }}">Review the saved answer to this one</a></p>{% endblock %}"""

_ERROR = """{% extends "base" %}{% block body %}<h1 class="error">{{ title }}</h1><p>{{ message }}</p>{% endblock %}"""


def _templates():
    from jinja2 import DictLoader, Environment

    return Environment(loader=DictLoader({"base": _BASE, "item": _ITEM, "done": _DONE, "error": _ERROR,
                                            "consent": _CONSENT, "practice": _PRACTICE, "stale": _STALE}),
                       autoescape=True)


def create_app(study_dir: str | Path, db_path: str | Path | None = None):
    """The FastAPI app serving ``study_dir``; answers go to ``db_path`` (default STUDY/answers.sqlite)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
    from starlette.concurrency import run_in_threadpool

    study = load_study(study_dir)
    items = {item["id"]: item for item in study["items"]}
    # A study built before consent pages existed still gets one (the default text).
    study.setdefault("instructions", instructions_text(None, len(items)))
    store = AnswerStore(db_path or default_db(study_dir))
    env = _templates()
    app = FastAPI(title="Conversation study", docs_url=None, redoc_url=None, openapi_url=None)

    def page(name: str, status: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status,
                            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                     "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                                "form-action 'self'"})

    def error(status: int, title: str, message: str) -> HTMLResponse:
        return page("error", status, title=title, message=message)

    def progress(annotator: str) -> tuple[list[str], dict[str, dict]]:
        return annotator_progress(store, study, annotator)

    @app.get("/", response_class=HTMLResponse)
    def index():
        return error(403, "Use your own link", "Open the link you were given; it contains your access token.")

    @app.get("/a/{token}", response_class=HTMLResponse)
    def annotate(token: str, item: str | None = None):
        annotator = store.annotator_for(token)
        if annotator is None:
            return error(403, "Unknown link", "This link is not valid for this study.")
        if annotator not in store.consents():
            return page("consent", token=token, instructions=study["instructions"])
        order, answered = progress(annotator)
        if item is None:
            item = next((i for i in order if i not in answered), None)
            if item is None:
                return page("done", answered=len(answered), total=len(order), order=order, token=token)
        elif item not in items:
            return error(404, "No such conversation", "That conversation is not part of your study.")
        position = order.index(item)
        return page("item", answered=len(answered), total=len(order), position=position + 1, token=token,
                    item=item, turns=items[item]["turns"], previous=answered.get(item), labels=LABELS,
                    speakers={"customer": "Customer", "agent": "Agent"}, max_comment=MAX_COMMENT,
                    prev_item=order[position - 1] if position > 0 else None)

    @app.post("/a/{token}/consent")
    async def consent(token: str, request: Request):
        annotator = store.annotator_for(token)
        if annotator is None:
            return error(403, "Unknown link", "This link is not valid for this study.")
        body = await request.body()
        if len(body) > MAX_BODY:
            return error(413, "Too long", f"The request is too large (limit {MAX_BODY} bytes).")
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return error(400, "Unreadable request", "The request could not be read (expected a form).")
        if form.get("agree") != ["yes"]:
            return error(422, "Agreement needed", "Tick the box to agree before starting, or close the page to stop.")
        first = annotator not in store.consents()
        await run_in_threadpool(store.record_consent, annotator, study["instructions"])
        target = f"/a/{token}/practice" if first and study.get("practice") else f"/a/{token}"
        return RedirectResponse(target, status_code=303)

    @app.get("/a/{token}/practice", response_class=HTMLResponse)
    def practice(token: str):
        annotator = store.annotator_for(token)
        if annotator is None:
            return error(403, "Unknown link", "This link is not valid for this study.")
        if annotator not in store.consents():
            return page("consent", token=token, instructions=study["instructions"])
        if not study.get("practice"):
            return RedirectResponse(f"/a/{token}", status_code=303)
        return page("practice", token=token, turns=study["practice"], labels=LABELS,
                    speakers={"customer": "Customer", "agent": "Agent"})

    @app.post("/a/{token}/answer")
    async def answer(token: str, request: Request):
        annotator = store.annotator_for(token)
        if annotator is None:
            return error(403, "Unknown link", "This link is not valid for this study.")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            return error(413, "Too long", f"The answer is too large (limit {MAX_BODY} bytes).")
        body = b""
        async for chunk in request.stream():  # read no further than the limit, whatever the headers claim
            body += chunk
            if len(body) > MAX_BODY:
                return error(413, "Too long", f"The answer is too large (limit {MAX_BODY} bytes).")
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body),
                            errors="strict")
        except (UnicodeDecodeError, ValueError):
            return error(400, "Unreadable answer", "The answer could not be read (expected a form).")
        fields = {}
        if annotator not in store.consents():  # enforced here, not only by which page is shown
            return error(403, "Consent needed", "Read the instructions and agree before answering.")
        for name in ("item", "answer", "confidence", "comment", "revision"):
            values = form.get(name, [])
            if len(values) > 1:
                return error(422, "Invalid answer", f"The field {name!r} was sent more than once.")
            fields[name] = values[0] if values else None
        try:
            checked = check_answer(items, fields["item"], fields["answer"], fields["confidence"], fields["comment"])
        except InvalidAnswer as exc:
            return error(exc.status, exc.title, str(exc))
        seen = fields["revision"]
        if seen is not None:  # the answer revision the form was shown with: another tab may have saved since
            current = progress(annotator)[1].get(checked[0])
            if str(current["revision"] if current else 0) != seen:
                order, answered = progress(annotator)
                return page("stale", 409, token=token, item=checked[0],
                            next_item=next((i for i in order if i not in answered), None))
        await run_in_threadpool(store.record, annotator, *checked)
        return RedirectResponse(f"/a/{token}", status_code=303)

    @app.get("/api/{token}/progress")
    def api_progress(token: str):
        annotator = store.annotator_for(token)
        if annotator is None:
            return JSONResponse({"error": "unknown token"}, status_code=403)
        order, answered = progress(annotator)
        return {"answered": len(answered), "total": len(order),
                "next": next((i for i in order if i not in answered), None)}

    app.state.store = store
    return app


def export_answers(study_dir: str | Path, db_path: str | Path | None = None):
    """The statistics' answers table (:data:`~ppol_nb.analysis.blinded_stats.COLUMNS`, plus ``comment`` and
    ``revisions`` and ``consented_at``, the UTC time the annotator agreed): the latest revision per (annotator, item) joined with the source key."""
    import pandas as pd

    key = load_key(study_dir)
    path = Path(db_path or default_db(study_dir))
    if not path.is_file():
        raise StudyError(f"{path}: no answers store")
    rows = []
    store = AnswerStore(path)
    consents = store.consents()
    for row in store.latest():
        entry = key.get(row["item"])
        if entry is None:
            raise StudyError(f"answer to item {row['item']!r} which is not in {study_dir}'s key")
        rows.append({"annotator": row["annotator"], "item": row["item"], "source": entry["source"],
                     "answer": row["answer"], "confidence": row["confidence"],
                     "is_attention_check": bool(entry["is_attention_check"]), "comment": row["comment"],
                     "revisions": row["revisions"], "consented_at": _iso(consents.get(row["annotator"]))})
    return pd.DataFrame(rows, columns=[*COLUMNS, "comment", "revisions", "consented_at"])


def _iso(consent: dict | None) -> str | None:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(consent["agreed_at"], timezone.utc).isoformat() if consent else None


def read_tokens(path: str | Path) -> dict[str, str]:
    """A tokens file: one ``ANNOTATOR TOKEN`` per line (``#`` comments, blank lines skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyError(f"tokens file {path}: {exc}") from None
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise StudyError(f"{path}:{n}: expected 'ANNOTATOR TOKEN', got {len(parts)} fields")
        name, token = parts
        if name in out or token in out.values():
            raise StudyError(f"{path}:{n}: annotator or token repeated")
        out[name] = token
    if not out:
        raise StudyError(f"{path}: no annotators")
    return out
