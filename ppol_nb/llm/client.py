"""The one LLM client every role of ppol_nb goes through.

It speaks OpenAI-compatible chat completions via the ``openai`` SDK and adds
what experiments need on top: per-role models and sampling settings, a
persistent response cache (one file per user by default, see
:mod:`ppol_nb.llm.cache`), bounded in-flight requests per endpoint and role that
adapt to 429s and rate-limit headers (:mod:`ppol_nb.llm.limiter`), retries
with backoff, and a ledger of every call's tokens, cost and latency. It is synchronous and
thread-safe (callers parallelise with threads), so it also works inside a
running Jupyter kernel.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ppol_nb.llm import deadline
from ppol_nb.llm.cache import ResponseCache, is_reply, request_key
from ppol_nb.llm.config import RESERVED_REQUEST_FIELDS, LLMConfig, RoleConfig, redact_url
from ppol_nb.llm.errors import LLMError
from ppol_nb.llm.ledger import Ledger
from ppol_nb.llm.limiter import Limits
from ppol_nb.llm.reply import ChatResult, is_empty, parse_completion
from ppol_nb.llm.retry import backoff_s, is_retryable_status, retry_after_s

if TYPE_CHECKING:  # the SDK (~0.4 s to import) loads with the first request: the preflight needs only httpx
    import openai

# Local OpenAI-compatible servers ignore the key, but the SDK insists on one.
_PLACEHOLDER_KEY = "not-needed"
_SAMPLING = ("temperature", "max_tokens", "top_p")


class _AttemptError(Exception):
    """One failed try: the error to surface, and whether trying again may help."""

    def __init__(self, error: LLMError, retryable: bool, retry_after: float | None = None, headers=None):
        super().__init__(str(error))
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after
        self.headers = headers


def _redact(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4 and secret != _PLACEHOLDER_KEY:
        text = text.replace(secret, "***")
    return redact_url(text)  # a key embedded in the endpoint URL is a secret too


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        return str(err)
    return exc.message


class LLMClient:
    """Chat completions for named roles, with cache, retries, adaptive in-flight limits and ledger."""

    def __init__(self, config: LLMConfig, ledger: Ledger | None = None) -> None:
        self.config = config
        self.ledger = ledger if ledger is not None else Ledger()
        # Only a backend that makes requests opens (and so creates) the cache file.
        path = config.response_cache_path() if config.backend == "openai" else None
        self._cache = ResponseCache(path) if path is not None else None
        self.limits = Limits(config.max_concurrency)  # per (endpoint, role); see ppol_nb.llm.limiter
        self._sdk_clients: dict[tuple[str | None, str | None], openai.OpenAI] = {}
        self._sdk_lock = threading.Lock()
        self._rng = random.Random()
        self._closed = False

    @property
    def cache_path(self) -> Path | None:
        """The response cache file this client reads and writes (None: no cache)."""
        return self._cache.path if self._cache is not None else None

    # -- public API --------------------------------------------------------

    def chat(
        self,
        role: str,
        messages: list[dict],
        tools: list[dict] | None = None,
        tool_choice: Any = None,
        seed: int | None = None,
        **overrides: Any,
    ) -> ChatResult:
        """One chat completion for ``role``.

        ``overrides`` replace the role's ``model``/``temperature``/``max_tokens``/
        ``top_p`` for this call; ``extra={...}`` and any other keyword are merged
        into the role's ``extra`` request fields.
        """
        if self._closed:
            raise LLMError("LLMClient is closed")
        if self.config.backend != "openai":
            raise LLMError(
                f"backend is {self.config.backend!r}: no LLM calls are made "
                "(use LLMConfig.openai(...) or backend='openai' to call a model)"
            )
        rc = self.config.role(role)
        request = self._build_request(rc, messages, tools, tool_choice, seed, overrides)
        key = request_key({"base_url": _endpoint(rc.base_url), **request})
        model = request["model"]

        if self._cache is not None:
            t0 = time.perf_counter()
            hit = self._cache.get(key)
            if hit is not None and not is_reply(hit):  # an old or damaged entry: ask again
                self._cache.discard(key, "the cached value is not a chat reply")
                hit = None
            if hit is not None:
                latency = time.perf_counter() - t0
                self.ledger.record(
                    role,
                    model,
                    "openai",
                    prompt_tokens=hit["usage"]["prompt_tokens"],
                    completion_tokens=hit["usage"]["completion_tokens"],
                    latency_s=latency,
                    cost_usd=0.0,
                    cached=True,
                )
                return ChatResult(
                    message=hit["message"],
                    finish_reason=hit["finish_reason"],
                    usage=dict(hit["usage"]),
                    cost_usd=0.0,
                    cached=True,
                    latency_s=latency,
                    model=model,
                )

        reply, latency = self._call_with_retries(role, rc, request)
        usage = reply["usage"]
        cost = rc.cost_usd(usage["prompt_tokens"], usage["completion_tokens"])
        self.ledger.record(
            role,
            model,
            "openai",
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            latency_s=latency,
            cost_usd=cost,
        )
        # An empty reply is not cached: callers (tau2 included) retry on it and
        # need a fresh sample, not the same emptiness replayed.
        answer = reply
        if self._cache is not None and not is_empty(reply):
            stored = self._cache.put(key, model, reply)
            if stored is not reply and is_reply(stored):
                # Another run or thread stored this request's reply first: answer as every replay will.
                answer = stored
            elif stored is not reply:
                self._cache.discard(key, "the cached value is not a chat reply")
                self._cache.put(key, model, reply)
        return ChatResult(
            message=answer["message"],
            finish_reason=answer["finish_reason"],
            usage=dict(usage),
            cost_usd=cost,
            cached=False,
            latency_s=latency,
            model=model,
        )

    @contextlib.contextmanager
    def episode(self, episode_id: str) -> Iterator[None]:
        """Tag ledger rows recorded inside this block (same thread/context) with ``episode_id``."""
        with self.ledger.episode(episode_id):
            yield

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release HTTP connections and the cache file; the client is unusable afterwards."""
        if self._closed:
            return
        self._closed = True
        with self._sdk_lock:
            for sdk in self._sdk_clients.values():
                sdk.close()
            self._sdk_clients.clear()
        if self._cache is not None:
            self._cache.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- request construction ---------------------------------------------

    @staticmethod
    def _build_request(
        rc: RoleConfig,
        messages: list[dict],
        tools: list[dict] | None,
        tool_choice: Any,
        seed: int | None,
        overrides: dict,
    ) -> dict:
        settings: dict[str, Any] = {"model": rc.model, **{k: getattr(rc, k) for k in _SAMPLING}}
        extra = dict(rc.extra)
        for name, value in overrides.items():
            if name in settings:
                settings[name] = value
            elif name == "extra":
                extra.update(value or {})
            elif name.lower() in RESERVED_REQUEST_FIELDS:
                raise ValueError(f"chat() cannot override {name!r}")
            else:
                extra[name] = value
        request = {
            **settings,
            "messages": list(messages),
            "tools": tools or None,
            "tool_choice": tool_choice if tools else None,
            "seed": seed,
            "extra": extra or None,
        }
        # None means "not sent", so it must not make two equivalent requests differ in the key.
        return {k: v for k, v in request.items() if v is not None}

    # -- transport -----------------------------------------------------------

    def _api_key(self, rc: RoleConfig) -> str:
        if rc.api_key_env is None:
            return _PLACEHOLDER_KEY
        value = os.environ.get(rc.api_key_env)
        if not value:
            raise LLMError(f"environment variable {rc.api_key_env} (the API key for model {rc.model!r}) is not set")
        return value

    def _sdk(self, rc: RoleConfig, api_key: str) -> openai.OpenAI:
        """One SDK client per (endpoint, key variable), rebuilt if the key changed."""
        import openai

        slot = (_norm_url(rc.base_url), rc.api_key_env)
        with self._sdk_lock:
            sdk = self._sdk_clients.get(slot)
            if sdk is None or sdk.api_key != api_key:
                # A rotated key gets a fresh client; the old one is left to the GC
                # rather than closed under a request another thread may have in flight.
                sdk = openai.OpenAI(base_url=rc.base_url, api_key=api_key, max_retries=0, timeout=self.config.timeout_s)
                self._sdk_clients[slot] = sdk
            return sdk

    def _call_with_retries(self, role: str, rc: RoleConfig, request: dict) -> tuple[dict, float]:
        cfg = self.config
        limiter = self.limits.get(_endpoint(rc.base_url), role)
        for attempt in range(cfg.max_retries + 1):
            deadline.check()
            api_key = self._api_key(rc)
            t0 = time.perf_counter()
            try:
                with limiter.slot() as slot:
                    t0 = time.perf_counter()  # waiting for a slot is not latency
                    left = deadline.check()
                    timeout = cfg.timeout_s if left is None else min(cfg.timeout_s, left)
                    try:
                        reply, headers = self._attempt(self._sdk(rc, api_key), request, api_key, timeout)
                    except _AttemptError as failure:
                        if failure.error.status == 429:
                            slot.throttled(failure.headers)
                        raise
                    slot.succeeded(headers)
                    return reply, time.perf_counter() - t0
            except _AttemptError as failure:
                err = failure.error
                self.ledger.record(role, request["model"], "openai", latency_s=time.perf_counter() - t0, error=str(err))
                if not failure.retryable:
                    raise err from None
                if attempt == cfg.max_retries:
                    raise LLMError(f"gave up after {attempt + 1} attempts: {err.message}", status=err.status) from None
                delay = backoff_s(attempt, cfg.backoff_base_s, cfg.backoff_max_s, self._rng)
                if failure.retry_after is not None:
                    # The server knows best, but no single wait exceeds the configured ceiling.
                    delay = min(failure.retry_after, cfg.backoff_max_s)
                left = deadline.remaining()
                if left is not None and left <= delay:
                    raise deadline.DeadlineExceeded(
                        f"the episode deadline passes before the next attempt ({err.message})") from None
                time.sleep(delay)
        raise AssertionError("unreachable")

    @staticmethod
    def _attempt(sdk: openai.OpenAI, request: dict, api_key: str, timeout: float | None = None) -> tuple[dict, Any]:
        """One HTTP request; returns the normalized reply and the response headers, or raises _AttemptError."""
        import openai

        # The request is already wire-shaped: posting it as the body skips the SDK's typed
        # transform of messages and tools (a few ms of GIL time per call, which caps how many
        # requests one process keeps in flight). ``extra`` fields join the body, as extra_body would.
        body = {k: v for k, v in request.items() if k != "extra"}
        body.update(request.get("extra") or {})
        options = {"timeout": timeout} if timeout is not None else {}
        try:
            raw = sdk.post("/chat/completions", body=body, cast_to=httpx.Response, options=options)
            text = raw.text
        except openai.APIStatusError as exc:
            status = exc.status_code
            msg = _redact(_short(_status_message(exc)), api_key)
            retryable = is_retryable_status(status)
            headers = exc.response.headers
            wait = retry_after_s(headers) if retryable else None
            raise _AttemptError(LLMError(msg, status=status), retryable, wait, headers) from None
        except openai.APITimeoutError:
            raise _AttemptError(LLMError("request timed out"), retryable=True) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            msg = _redact(_short(f"connection error: {type(cause).__name__}: {cause}"), api_key)
            raise _AttemptError(LLMError(msg), retryable=True) from None
        try:
            return parse_completion(text), raw.headers
        except LLMError as exc:
            raise _AttemptError(LLMError(_redact(exc.message, api_key)), retryable=False) from None


def _norm_url(url: str | None) -> str | None:
    return url.rstrip("/") if url else url


_SDK_DEFAULT_URL = "https://api.openai.com/v1"


def _endpoint(url: str | None) -> str:
    """The endpoint a request goes to, as the cache key names it.

    ``None`` is resolved as the SDK does (``$OPENAI_BASE_URL``, else OpenAI), so
    two endpoints never share entries; credentials embedded in the URL are
    removed, so no secret enters the key.
    """
    return redact_url(_norm_url(url or os.environ.get("OPENAI_BASE_URL") or _SDK_DEFAULT_URL))
