"""Check every endpoint a run will talk to before anything of the run is written.

A run on a real endpoint fails late and expensively when a key is missing, the
server is down, the model name is wrong or the agent's model cannot call tools:
every episode then fails inside, one after another, and the run directory is
full of failed records. :func:`preflight` finds each of these in seconds, before
a run directory exists, and raises :class:`PreflightError` whose message names
the variable, URL or model and the fix. For every distinct endpoint of the
config's roles, in order:

1. **the key**: the role's ``api_key_env`` is set in the environment (a role
   with ``api_key_env=None`` — ``--api-key-env ''`` — needs none);
2. **the endpoint answers**: ``GET {base_url}/models`` within
   :data:`CONNECT_TIMEOUT_S`; a refused connection, a timeout or a 401/403 is an
   error (a 404 means the server has no model list, as some gateways do);
3. **the model is served**: when the list exists, each role's model is on it;
4. **the agent calls tools**: one small chat completion offering one tool to
   the agent role's model must come back with a tool call (τ²'s agent acts only
   through tools). A success is remembered per (endpoint, model) in
   ``preflight.json`` beside the response cache, so a rerun sends nothing; a
   failure is never remembered.

Roles on different endpoints (an LLM config file, ``--agent-base-url`` ...; :mod:`ppol_nb.llm.config_file`)
are checked endpoint by endpoint, each once, and a message names the roles that use the endpoint and the
flag that sets it (``--agent-base-url`` for an endpoint only the agent uses).

Keys are read from the environment and sent only in the ``Authorization``
header; no message includes one. Guarantees: no file is written except the
probe memo, nothing is retried (a transient 429 or 5xx on the probe is
reported as such, with the advice to retry), and with an unreachable endpoint
the whole check ends within about :data:`CONNECT_TIMEOUT_S` seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .client import _SDK_DEFAULT_URL
from .config import LLMConfig, RoleConfig, redact_url

CONNECT_TIMEOUT_S = 3.0  # one endpoint's /models answer
PROBE_TIMEOUT_S = 60.0  # one tool-call completion (a real model may think for a while)
MEMO_FILE = "preflight.json"

PROBE_TOOL_NAME = "get_order_status"  # how the probe is told apart in a server's log
_PROBE_TOOL = {"type": "function", "function": {
    "name": PROBE_TOOL_NAME, "description": "Look up the status of an order by its id.",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}
_PROBE_MESSAGES = [
    {"role": "system", "content": "You are a customer-service agent. Use the tools to answer."},
    {"role": "user", "content": "What is the status of order #W1234567?"},
]


def is_probe(request: dict) -> bool:
    """Whether a chat-completions request body is this module's tool-call probe (for servers' logs)."""
    return [t.get("function", {}).get("name") for t in request.get("tools") or []] == [PROBE_TOOL_NAME]


class PreflightError(RuntimeError):
    """An endpoint, key or model a run needs is not usable; the message says which and the fix."""


@dataclass
class PreflightReport:
    """What was checked: per endpoint, the models it lists (None: no list) and the tool probe's source."""

    endpoints: dict[str, list[str] | None] = field(default_factory=dict)
    tool_probe: dict[str, str] = field(default_factory=dict)  # "url model" -> "sent" | "remembered"
    seconds: float = 0.0


def preflight(config: LLMConfig, roles=("user", "agent", "generator", "mutator", "reflection"),
              tool_roles=("agent",), memo_dir: str | Path | None = None) -> PreflightReport:
    """Check the key, endpoint, model and (for ``tool_roles``) tool calls of every role in ``roles``.

    Raises :class:`PreflightError` at the first problem. ``memo_dir`` is where
    successful tool probes are remembered (default: the response cache's folder;
    nowhere when the config has no cache).
    """
    t0 = time.monotonic()
    report = PreflightReport()
    by_endpoint: dict[tuple[str, str | None], list[tuple[str, RoleConfig]]] = {}
    for name in roles:
        rc = config.role(name)
        by_endpoint.setdefault((_url(rc.base_url), rc.api_key_env), []).append((name, rc))
    memo = _Memo(memo_dir if memo_dir is not None else _memo_dir(config))
    for (url, key_env), members in by_endpoint.items():
        key = _key(key_env, [n for n, _ in members], url)
        listed = _models(url, key, key_env, [n for n, _ in members])
        report.endpoints[redact_url(url)] = listed
        for name, rc in members:
            if listed is not None and rc.model not in listed:
                shown = ", ".join(listed[:12]) + (" ..." if len(listed) > 12 else "")
                own = name in ("user", "agent") and rc.model != config.default.model  # set apart from the rest
                flag = f"--{name}-model" if own else "--model"
                raise PreflightError(
                    f"model {rc.model!r} (role {name}) is not served by {redact_url(url)}; it serves: "
                    f"{shown or 'no models'}. Fix {flag} (or roles.{name}.model in the LLM config)")
        for name, rc in members:
            if name not in tool_roles:
                continue
            label = f"{redact_url(url)} {rc.model}"
            if memo.ok(url, rc.model):
                report.tool_probe[label] = "remembered"
                continue
            _probe_tools(url, key, rc, name)
            memo.remember(url, rc.model)
            report.tool_probe[label] = "sent"
    report.seconds = time.monotonic() - t0
    return report


def _url(base_url: str | None) -> str:
    return (base_url or os.environ.get("OPENAI_BASE_URL") or _SDK_DEFAULT_URL).rstrip("/")


def _key(key_env: str | None, roles: list[str], url: str) -> str | None:
    if key_env is None:
        return None
    value = os.environ.get(key_env)
    if not value:
        raise PreflightError(
            f"the environment variable {key_env} is not set (roles {', '.join(roles)} at {redact_url(url)}): "
            f"export {key_env}=... with your key, or pass --api-key-env '' (notebooks: api_key_env=None) "
            "for a local server that needs no key")
    return value


def _headers(key: str | None) -> dict:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _models(url: str, key: str | None, key_env: str | None, roles=()) -> list[str] | None:
    """The endpoint's model ids, or None when it has no /models (404/405). ``roles`` name who uses it."""
    where = f"the endpoint {redact_url(url)} (roles {', '.join(roles)})" if roles else f"the endpoint {redact_url(url)}"
    flag = f"--{roles[0]}-base-url" if len(roles) == 1 and roles[0] in ("user", "agent") else "--base-url"
    try:
        reply = httpx.get(f"{url}/models", headers=_headers(key), timeout=CONNECT_TIMEOUT_S)
    except httpx.TimeoutException:
        raise PreflightError(f"{where} did not answer within {CONNECT_TIMEOUT_S:.0f} s: "
                             f"check that the server is running and {flag} is right") from None
    except httpx.HTTPError as exc:
        raise PreflightError(f"{where} cannot be reached ({type(exc).__name__}: "
                             f"{redact_url(str(exc))[:160]}): start the server or fix {flag}") from None
    if reply.status_code in (401, 403):
        hint = f"check the key in {key_env}" if key_env else "this server needs a key: pass --api-key-env VAR"
        raise PreflightError(f"{where} refused the request ({reply.status_code}): {hint}")
    if reply.status_code in (404, 405, 501):
        return None  # no model list on this server; the probe still checks the agent's model
    if reply.status_code >= 400:
        raise PreflightError(f"{where} answered GET /models with {reply.status_code}: "
                             f"check {flag} (it usually ends in /v1) or retry later")
    try:
        data = reply.json().get("data")
        return sorted(str(m["id"]) for m in data)
    except (ValueError, AttributeError, KeyError, TypeError):
        return None  # not an OpenAI model list: treat as absent rather than guess


def _probe_tools(url: str, key: str | None, rc: RoleConfig, role: str) -> None:
    body = {"model": rc.model, "messages": _PROBE_MESSAGES, "tools": [_PROBE_TOOL], "temperature": 0.0,
            "max_tokens": 256}
    try:
        reply = httpx.post(f"{url}/chat/completions", headers=_headers(key), json=body,
                           timeout=httpx.Timeout(PROBE_TIMEOUT_S, connect=CONNECT_TIMEOUT_S))
    except httpx.HTTPError as exc:
        raise PreflightError(f"the tool-call probe of model {rc.model!r} at {redact_url(url)} failed "
                             f"({type(exc).__name__}): check the server, or retry") from None
    if reply.status_code in (401, 403):
        hint = f"check the key in {rc.api_key_env}" if rc.api_key_env else "this server needs a key: pass --api-key-env VAR"
        raise PreflightError(f"the endpoint {redact_url(url)} refused the tool-call probe ({reply.status_code}): {hint}")
    if reply.status_code == 429 or reply.status_code >= 500:
        raise PreflightError(f"the tool-call probe of model {rc.model!r} at {redact_url(url)} got "
                             f"{reply.status_code} (rate limit or server error): retry in a moment")
    if reply.status_code >= 400:
        detail = redact_url(reply.text)[:200]
        raise PreflightError(f"model {rc.model!r} at {redact_url(url)} refused a request with tools "
                             f"({reply.status_code}: {detail}): the {role} role needs a model and server with "
                             "tool calling (vLLM: --enable-auto-tool-choice --tool-call-parser ...)")
    try:
        message = reply.json()["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise PreflightError(f"the endpoint {redact_url(url)} answered the tool-call probe with something that "
                             "is not an OpenAI chat completion: check --base-url") from None
    if not message.get("tool_calls"):
        raise PreflightError(
            f"model {rc.model!r} at {redact_url(url)} answered a request offering a tool without calling it: "
            f"the {role} role acts only through tool calls. Choose a model with tool calling, or enable it on "
            "the server (vLLM: --enable-auto-tool-choice --tool-call-parser NAME; Ollama: a tools-capable "
            "model; llama.cpp: --jinja)")


def _memo_dir(config: LLMConfig) -> Path | None:
    path = config.response_cache_path()
    return Path(path).parent if path is not None else None


class _Memo:
    """Successful tool probes per (endpoint, model): a JSON file beside the response cache."""

    def __init__(self, folder: str | Path | None) -> None:
        self.path = Path(folder) / MEMO_FILE if folder is not None else None

    @staticmethod
    def _key(url: str, model: str) -> str:
        return hashlib.sha256(f"{url}\n{model}".encode()).hexdigest()[:32]

    def _read(self) -> dict:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}  # a corrupt memo only costs a probe

    def ok(self, url: str, model: str) -> bool:
        return self._key(url, model) in self._read()

    def remember(self, url: str, model: str) -> None:
        if self.path is None:
            return
        data = self._read()
        data[self._key(url, model)] = {"model": model, "checked_at": time.time()}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # the memo is a convenience; a read-only cache folder just probes again
