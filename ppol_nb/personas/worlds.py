"""LLM worlds: who answers a generator program's LLM calls, in the parent process.

A world is any object with

* ``answer(request, seed) -> str`` — ``request`` is ``{"messages", "temperature",
  "max_tokens"}`` as the sandboxed program sent it; the reply text is returned to
  the program;
* ``key`` — a string naming what would answer (backend, model, endpoint), part
  of every persona cache key;
* ``ledger`` — where its calls are accounted (None when they cost nothing);
* ``waits_on_network`` — whether concurrent calls overlap waiting time.

A backend makes the right one for its world (``backend.generator(seed)``,
:mod:`ppol_nb.backends`).

Two are provided: :class:`~ppol_nb.offline.generator.OfflineGeneratorWorld`
(no LLM; reads the prompt text) and :class:`LLMGeneratorWorld` (a real
:class:`~ppol_nb.llm.LLMClient`, role ``"generator"``).
"""

from __future__ import annotations

from ..offline.generator import OfflineGeneratorWorld

_ROLES = ("system", "user", "assistant")
MAX_TOKENS_CEILING = 16_000  # a program cannot ask for unbounded (paid) output


class LLMGeneratorWorld:
    """Answers proxied calls with ``client.chat("generator", ...)``.

    Cache, retries, ledger and the API key all stay in this process. The
    program may choose temperature and max_tokens (within a ceiling); the model
    and endpoint are the client's.
    """

    waits_on_network = True

    def __init__(self, client, role: str = "generator") -> None:
        self.client = client
        self.role = role

    @property
    def ledger(self):
        return self.client.ledger

    @property
    def key(self) -> str:
        rc = self.client.config.role(self.role)
        from ..llm.config import redact_url  # the key is written to the persona cache: no credentials

        return f"openai:{rc.model}@{redact_url(rc.base_url or 'default').rstrip('/')}"

    def answer(self, request: dict, seed: int = 0) -> str:
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list")
        clean = []
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
                raise ValueError(f"each message needs a role in {_ROLES} and string content; got {m!r:.120}")
            clean.append({"role": m["role"], "content": m["content"]})
        overrides = {}
        temperature = request.get("temperature")
        if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
            overrides["temperature"] = min(max(float(temperature), 0.0), 2.0)
        max_tokens = request.get("max_tokens")
        if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
            overrides["max_tokens"] = min(max(max_tokens, 1), MAX_TOKENS_CEILING)
        result = self.client.chat(self.role, clean, seed=seed, **overrides)
        return result.content or ""

    def __repr__(self) -> str:
        return f"LLMGeneratorWorld({self.key})"



__all__ = ["LLMGeneratorWorld", "OfflineGeneratorWorld"]
