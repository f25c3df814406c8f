"""Which model each role talks to, with which sampling settings and prices.

A config names API keys only by the environment variable that holds them, so it
can be written to disk, logged or put in a notebook without leaking a secret.
A key a user embeds in an endpoint URL anyway (``https://user:key@host``,
``?api_key=...``) is removed by :func:`redact_url` / :func:`scrub_credentials`
from everything ppol_nb writes (manifests, provenance, cache metadata, errors).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ppol_nb.llm.cache import resolve_cache_path

BACKENDS = ("offline", "openai")
ROLES = ("user", "agent", "generator", "reflection", "mutator")

# Request fields a role may not smuggle in through ``extra``: credentials come
# only from ``api_key_env``, and the fields the client sets itself must not be
# silently overridden by a free-form dict.
RESERVED_REQUEST_FIELDS = frozenset(
    {
        "api_key",
        "authorization",
        "extra_headers",
        "headers",
        "model",
        "messages",
        "tools",
        "tool_choice",
        "seed",
        "temperature",
        "max_tokens",
        "top_p",
        "stream",
    }
)


_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@\s]+@")
_QUERY_SECRET = re.compile(
    r"(?i)(?P<name>[?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|auth|authorization|secret|"
    r"password|passwd|pwd|sig|signature|code)=)[^&#\s\"']*")


def redact_url(text: str) -> str:
    """``text`` with URL user-info and secret-looking query values replaced by ``***``."""
    if not isinstance(text, str) or ("://" not in text and "=" not in text):
        return text
    text = _URL_USERINFO.sub(lambda m: m.group("scheme") + "***@", text)
    return _QUERY_SECRET.sub(lambda m: m.group("name") + "***", text)


def scrub_credentials(value):
    """A copy of a JSON-like value with :func:`redact_url` applied to every string (keys too)."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {scrub_credentials(k) if isinstance(k, str) else k: scrub_credentials(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_credentials(v) for v in value]
    return value


@dataclass
class RoleConfig:
    """Endpoint, sampling settings and prices for one role (user, agent, ...).

    ``base_url`` None means the SDK default (api.openai.com). ``api_key_env`` None
    means the server needs no key (local vLLM, Ollama, llama.cpp). ``extra`` is
    merged into the request body (e.g. ``{"top_k": 20}`` for vLLM). Prices are USD
    per million tokens.
    """

    model: str
    base_url: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_tokens: int | None = None
    top_p: float | None = None
    extra: dict = field(default_factory=dict)
    price_in_per_mtok: float = 0.0
    price_out_per_mtok: float = 0.0

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("RoleConfig.model must be a non-empty string")
        bad = sorted(k for k in self.extra if str(k).lower() in RESERVED_REQUEST_FIELDS)
        if bad:
            raise ValueError(
                f"RoleConfig.extra may not set {bad}: use the dedicated fields "
                "(API keys come only from the variable named by api_key_env)"
            )
        self.extra = dict(self.extra)

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Price of one call under this role's per-million-token prices."""
        return prompt_tokens * self.price_in_per_mtok / 1e6 + completion_tokens * self.price_out_per_mtok / 1e6

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RoleConfig:
        return cls(**d)


_ROLE_FIELDS = frozenset(f.name for f in dataclasses.fields(RoleConfig))


# Requests in flight per endpoint and role by default (benchmarks/bench_search_endpoint.py measured it).
DEFAULT_MAX_CONCURRENCY = 128


@dataclass
class LLMConfig:
    """The whole LLM layer's configuration: backend, per-role models, cache, limits.

    ``backend="offline"`` means no LLM is called at all (the package's offline
    stand-ins are used instead); ``"openai"`` means any OpenAI-compatible chat
    completions endpoint.

    ``cache_path``: ``None`` (default) is the per-user response cache shared by
    every run and notebook (``$PPOL_CACHE_DIR/llm_responses.sqlite``, else the
    user cache directory; see :mod:`ppol_nb.llm.cache`), a path names another
    SQLite file, ``False`` disables caching. :meth:`response_cache_path` says
    which file that is.

    ``max_concurrency`` is the ceiling of requests in flight per endpoint and
    role: the adaptive window of :mod:`ppol_nb.llm.limiter` starts there, halves
    on 429s and grows back to it. It is per process (each worker process of
    :mod:`ppol_nb.execution` has its own). The default, 128, is what a search with
    candidates in flight needs to stay near its critical path
    (``benchmarks/bench_search_endpoint.py``, docs/scale.md); a provider's rate
    limit brings it down through its 429s.
    """

    backend: str = "offline"
    default: RoleConfig = field(default_factory=lambda: RoleConfig(model="offline"))
    roles: dict[str, RoleConfig] = field(default_factory=dict)
    cache_path: str | Path | Literal[False] | None = None
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_retries: int = 6
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; expected one of {BACKENDS}")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s!r}")
        self.roles = dict(self.roles)
        resolve_cache_path(self.cache_path)  # a bad value fails here, not at the first request

    def response_cache_path(self) -> Path | None:
        """The SQLite file replies are cached in (None: caching disabled); the default is read now."""
        return resolve_cache_path(self.cache_path)

    def role(self, name: str) -> RoleConfig:
        """The override for role ``name`` if there is one, else the default."""
        return self.roles.get(name, self.default)

    def to_dict(self) -> dict:
        """JSON-safe form. Holds env var names, never key values (a config has none)."""
        return {
            "backend": self.backend,
            "default": self.default.to_dict(),
            "roles": {name: rc.to_dict() for name, rc in self.roles.items()},
            "cache_path": self.cache_path if self.cache_path in (None, False) else str(self.cache_path),
            "max_concurrency": self.max_concurrency,
            "max_retries": self.max_retries,
            "backoff_base_s": self.backoff_base_s,
            "backoff_max_s": self.backoff_max_s,
            "timeout_s": self.timeout_s,
        }

    @classmethod
    def from_dict(cls, d: dict) -> LLMConfig:
        d = dict(d)
        if "default" in d:
            d["default"] = RoleConfig.from_dict(d["default"])
        d["roles"] = {k: RoleConfig.from_dict(v) for k, v in d.get("roles", {}).items()}
        return cls(**d)

    @classmethod
    def openai(
        cls,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        cache_path: str | Path | Literal[False] | None = None,
        **kw: Any,
    ) -> LLMConfig:
        """Every role uses one model on one endpoint (``cache_path`` as in :class:`LLMConfig`).

        Keyword arguments that are RoleConfig fields (temperature, max_tokens,
        prices, extra, ...) go to the shared role config; the rest (max_retries,
        max_concurrency, ...) go to LLMConfig.
        """
        role_kw = {k: v for k, v in kw.items() if k in _ROLE_FIELDS}
        cfg_kw = {k: v for k, v in kw.items() if k not in _ROLE_FIELDS}
        default = RoleConfig(model=model, base_url=base_url, api_key_env=api_key_env, **role_kw)
        return cls(backend="openai", default=default, cache_path=cache_path, **cfg_kw)
