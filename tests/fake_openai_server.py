"""A scripted OpenAI-compatible chat-completions server on loopback, for tests.

Usage::

    with FakeOpenAIServer(lambda req: text_reply("hi")) as server:
        cfg = LLMConfig.openai("fake-model", base_url=server.url, api_key_env=None)
        ...
        assert len(server.requests) == 1

The responder gets the request JSON and returns either a reply dict (sent with
status 200) or ``(status, body, headers)`` where body is a dict (sent as JSON)
or str/bytes (sent verbatim, to test unparsable replies). Only
``POST /v1/chat/completions`` is served, and ``GET /v1/models`` when ``models=[...]``
is given; anything else is 404.

A rate limit, as hosted APIs and gateways apply one: ``max_concurrent=N``
answers 429 to a request arriving while N are being answered, ``max_rate=R``
to one arriving when R were accepted in the last second; a 429 carries
``Retry-After`` (``retry_after_s``; sent as ``retry-after-ms`` too, so that
fractions of a second work) and, with ``ratelimit_headers=True``, every reply
carries ``x-ratelimit-remaining-requests`` / ``x-ratelimit-reset-requests``.
Throttled requests are not passed to the responder and are counted in
``throttled``.
"""

from __future__ import annotations

import itertools
import re
import json
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict], Any]

_ids = itertools.count(1)


def text_reply(
    content: str,
    model: str = "fake-model",
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    finish_reason: str = "stop",
) -> dict:
    """A 200 body whose assistant message is plain text."""
    return _completion(
        {"role": "assistant", "content": content}, model, prompt_tokens, completion_tokens, finish_reason
    )


def tool_call_reply(
    name: str,
    arguments: str | dict,
    call_id: str | None = None,
    content: str | None = None,
    model: str = "fake-model",
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
) -> dict:
    """A 200 body with one tool call. A str ``arguments`` is sent verbatim (may be malformed JSON)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    call = {"id": call_id or f"call_{next(_ids)}", "type": "function", "function": {"name": name, "arguments": args}}
    return _completion(
        {"role": "assistant", "content": content, "tool_calls": [call]},
        model,
        prompt_tokens,
        completion_tokens,
        "tool_calls",
    )


def error_reply(
    status: int, message: str = "error", headers: dict | None = None, err_type: str = "invalid_request_error"
) -> tuple[int, dict, dict]:
    """An OpenAI-style error: ``(status, {"error": {...}}, headers)``."""
    return status, {"error": {"message": message, "type": err_type, "code": None}}, dict(headers or {})


def sequence(replies: Iterable[Any]) -> Responder:
    """A responder that returns the given replies in order (the last one repeats)."""
    items = list(replies)
    lock = threading.Lock()
    state = {"i": 0}

    def respond(_request: dict) -> Any:
        with lock:
            i = min(state["i"], len(items) - 1)
            state["i"] += 1
        return items[i]

    return respond


def _completion(message: dict, model: str, prompt_tokens: int, completion_tokens: int, finish_reason: str) -> dict:
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that went away mid-reply (a killed worker): nothing to report
        super().handle_error(request, client_address)


class FakeOpenAIServer:
    """ThreadingHTTPServer on 127.0.0.1 (free port) in a background thread.

    Records every request body in ``requests`` and headers in ``request_headers``;
    ``max_in_flight`` is the largest number of requests handled at once.
    ``delay_s`` sleeps inside each request (to measure concurrency).
    """

    def __init__(self, responder: Responder | None = None, delay_s: float = 0.0, max_concurrent: int | None = None,
                 max_rate: float | None = None, retry_after_s: float = 0.5, ratelimit_headers: bool = False,
                 models: list[str] | None = None) -> None:
        self.models = models  # GET /v1/models lists these; None: no such route (404), as some servers
        self.responder = responder or (lambda _req: text_reply("ok"))
        self.delay_s = delay_s
        self.max_concurrent = max_concurrent
        self.max_rate = max_rate
        self.retry_after_s = retry_after_s
        self.ratelimit_headers = ratelimit_headers
        self.throttled = 0  # requests answered 429 by the rate limit
        self._accepted: list[float] = []  # arrival times of accepted requests (the last second's)
        self.requests: list[dict] = []
        self.request_headers: list[dict] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _admit(self) -> dict | None:
        """Under ``_lock``: the rate-limit headers of an accepted request, None for a throttled one."""
        now = time.monotonic()
        self._accepted = [t for t in self._accepted if now - t < 1.0]
        if self.max_concurrent is not None and self._in_flight >= self.max_concurrent:
            return None
        if self.max_rate is not None and len(self._accepted) >= self.max_rate:
            return None
        self._accepted.append(now)
        if not (self.ratelimit_headers and self.max_rate is not None):
            return {}
        reset = 1.0 - (now - self._accepted[0])
        return {"x-ratelimit-limit-requests": str(int(self.max_rate)),
                "x-ratelimit-remaining-requests": str(max(0, int(self.max_rate) - len(self._accepted))),
                "x-ratelimit-reset-requests": f"{max(reset, 0.0) * 1000:.0f}ms"}

    @property
    def url(self) -> str:
        """Base URL to give the OpenAI SDK (ends in /v1)."""
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real API
            disable_nagle_algorithm = True  # headers and body are two writes: Nagle would hold the body for the client's delayed ACK (~40 ms)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.rstrip("/") != "/v1/models" or server.models is None:
                    self._send(404, {"error": {"message": f"no route {self.path}"}}, {})
                    return
                self._send(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "test"}
                                                            for m in server.models]}, {})

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}}, {})
                    return
                try:
                    request = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, {"error": {"message": "request body is not JSON"}}, {})
                    return
                with server._lock:
                    server.requests.append(request)
                    server.request_headers.append({k.lower(): v for k, v in self.headers.items()})
                    limit_headers = server._admit()
                    if limit_headers is None:
                        server.throttled += 1
                    else:
                        server._in_flight += 1
                        server.max_in_flight = max(server.max_in_flight, server._in_flight)
                if limit_headers is None:
                    wait = server.retry_after_s
                    self._send(*error_reply(429, "rate limit exceeded", {
                        "Retry-After": f"{max(1, round(wait))}", "retry-after-ms": f"{wait * 1000:.0f}"},
                        err_type="rate_limit_exceeded"))
                    return
                try:
                    if server.delay_s:
                        time.sleep(server.delay_s)
                    try:
                        reply = server.responder(request)
                    except Exception as exc:  # a broken responder should fail the test loudly
                        reply = (500, {"error": {"message": f"responder raised {exc!r}"}}, {})
                    status, body, headers = reply if isinstance(reply, tuple) else (200, reply, {})
                    self._send(status, body, {**limit_headers, **headers})
                finally:
                    with server._lock:
                        server._in_flight -= 1

            def _send(self, status: int, body: Any, headers: dict) -> None:
                if isinstance(body, (dict, list)):
                    data = json.dumps(body).encode()
                    ctype = "application/json"
                else:
                    data = body.encode() if isinstance(body, str) else bytes(body)
                    ctype = "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # A short poll interval makes stop() (shutdown) return quickly.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_AXES_LIST = re.compile(r"Set every axis \(([^)]*)\)")
_N_PEOPLE = re.compile(r"Exactly (\d+) people")


def scripted_world(lookup_arguments: str = '{"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}'
                   ) -> Responder:
    """Every role of a search world, scripted: enough for notebooks to run on loopback.

    * user simulator (system prompt holds ``<scenario>``): introduces itself, then stops;
    * agent (the request offers tools): looks the user up once, then answers in text;
    * persona generator, population prompt (asks for a JSON array of N people): N
      people with every axis the prompt names set OFF except the i-th;
    * anything else (a roleplay brief, a DP persona, reflection): a fixed brief.
    """

    def respond(request: dict) -> Any:
        messages = request["messages"]
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
        last = messages[-1]
        if "<scenario>" in (system or ""):
            if len(messages) <= 2:
                return text_reply("hi, Yusuf Rossi here, zip 19122. need to swap a keyboard")
            return text_reply("ok thanks ###STOP###")
        if request.get("tools"):
            if last["role"] == "tool":
                return text_reply("Found your account. Anything else?")
            return tool_call_reply("find_user_id_by_name_zip", lookup_arguments)
        prompt = last.get("content") or ""
        n_match, axes_match = _N_PEOPLE.search(prompt), _AXES_LIST.search(prompt)
        if n_match and axes_match:
            axes = [a.strip() for a in axes_match.group(1).split(",") if a.strip()]
            people = [{"persona_id": f"person_{i}", "description": f"Person {i}, a busy customer with little time.",
                       "axis_placement": {a: (j == i % max(len(axes), 1)) for j, a in enumerate(axes)},
                       "reasoning": "Adds a different behaviour to the group."} for i in range(int(n_match.group(1)))]
            return text_reply(json.dumps(people))
        return text_reply(" ".join(["You write short messages in lowercase and skip greetings."] * 2
                                   + ["You answer exactly what the agent asks and nothing more."] * 8))

    return respond


_PLAYBOOK_LINE = re.compile(r'^\s*"(?:on|off)_playbook": ".*\.",\s*$', re.M)
_CURRENT_PROGRAM = re.compile(r"## Current program.*?```python\n(.*?)\n```", re.S)


def classify(request: dict) -> str:
    """The PPol role a chat request belongs to, read from its prompt (for server-side logs)."""
    messages = request.get("messages") or []
    system = (messages[0].get("content") or "") if messages and messages[0]["role"] == "system" else ""
    prompt = (messages[-1].get("content") or "") if messages else ""
    if "<scenario>" in system:
        return "user"
    if request.get("tools"):
        return "agent"
    if "## Current program" in prompt:
        return "mutator"
    if _N_PEOPLE.search(prompt) and _AXES_LIST.search(prompt):
        return "persona_population"
    from ppol_nb.evolution.reflection import SYSTEM as REFLECTION_SYSTEM

    if system == REFLECTION_SYSTEM:
        return "reflection"
    return "persona_other"


def search_world() -> Responder:
    """Every role of a PPol search answered validly, the mutator included.

    Like :func:`scripted_world`, plus: a mutator request (its user message shows
    ``## Current program`` in a fenced python block) gets one SEARCH/REPLACE
    block that rewrites one playbook sentence of that program, the line and the
    wording chosen from a hash of the request, so every candidate is a distinct,
    valid program; reflection gets a short critique.
    """
    import hashlib

    base = scripted_world()

    def respond(request: dict) -> Any:
        role = classify(request)
        if role == "mutator":
            prompt = request["messages"][-1]["content"]
            digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
            found = _CURRENT_PROGRAM.search(prompt)
            lines = _PLAYBOOK_LINE.findall(found.group(1)) if found else []
            if not lines:
                return text_reply("No change.")
            line = lines[int(digest[:8], 16) % len(lines)]
            new = line.replace('.",', f' (variant {digest[8:14]}).",', 1)
            return text_reply(f"Sharpen one playbook sentence.\n\n<<<<<<< SEARCH\n{line}\n=======\n{new}\n"
                              ">>>>>>> REPLACE\n", completion_tokens=60)
        if role == "reflection":
            return text_reply("The personas stay polite and cooperative; push the terse and skeptical axes "
                              "harder in their playbooks so the conversations differ more from the baseline.")
        return base(request)

    return respond
