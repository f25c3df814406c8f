"""Bridge that routes tau2's own (unmodified) LLM calls through an :class:`LLMClient`.

tau2's ``LLMAgent`` and ``UserSimulator`` call ``litellm.completion(model=llm,
**llm_args)``. We register a litellm ``CustomLLM`` under the provider name
``ppolnb``; a model string ``ppolnb/<client_key>/<role>`` then reaches
:class:`_Handler`, which looks the client up in a weak registry and calls
``client.chat(role, ...)``. So tau2 gets our cache, retries, concurrency bound
and ledger without a single line of tau2 being patched.

The registry is module-level state by necessity: litellm resolves providers by
name from a global map, and a model string is all tau2 carries. It holds
clients weakly, so it never keeps one alive.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ppol_nb.llm.errors import LLMError
from ppol_nb.simulation.tau2_bridge import tau2_modules

if TYPE_CHECKING:
    from ppol_nb.llm.client import LLMClient

PROVIDER = "ppolnb"

_lock = threading.Lock()
_clients: weakref.WeakValueDictionary[str, LLMClient] = weakref.WeakValueDictionary()
_keys: weakref.WeakKeyDictionary[LLMClient, str] = weakref.WeakKeyDictionary()
_counter = itertools.count(1)
_handler = None  # the one registered CustomLLM instance, built on first use


def model_string(client: LLMClient, role: str) -> str:
    """``ppolnb/<client_key>/<role>``, registering the provider and the client as needed."""
    if "/" in role:
        raise ValueError(f"role names may not contain '/': {role!r}")
    _ensure_registered()
    with _lock:
        key = _keys.get(client)
        if key is None:
            key = f"c{next(_counter)}"
            _keys[client] = key
            _clients[key] = client
    return f"{PROVIDER}/{key}/{role}"


def tau2_llm(client: LLMClient, role: str) -> tuple[str, dict]:
    """``(llm, llm_args)`` for τ²'s ``LLMAgent``/``UserSimulator`` so that their completions
    go through ``client`` as ``role``. Keep the client alive while τ² uses the string:
    the bridge holds it only weakly."""
    if client.config.backend != "openai":
        raise LLMError(f"backend is {client.config.backend!r}: there is no LLM for tau2 to call")
    return model_string(client, role), {}


def _resolve(model: str) -> tuple[LLMClient, str]:
    # litellm strips the provider prefix, so ``model`` is "<client_key>/<role>".
    key, _, role = model.partition("/")
    with _lock:
        client = _clients.get(key)
    if client is None or client.closed or not role:
        raise LLMError(
            f"no live LLMClient for model {PROVIDER}/{model!r}: the client was closed or "
            "garbage-collected while tau2 still used its model string"
        )
    return client, role


def _clean_message(message: Any) -> dict:
    """An OpenAI-wire message from what tau2 hands litellm.

    tau2 writes ``"tool_calls": None`` on plain assistant turns and an extra
    ``name`` on each tool call; strict servers reject both, and dropping them
    keeps the cache key independent of such noise.
    """
    if not isinstance(message, Mapping):
        message = message.model_dump() if hasattr(message, "model_dump") else dict(message)
    out = {k: v for k, v in message.items() if v is not None or k == "content"}
    if out.get("tool_calls"):
        out["tool_calls"] = [
            {
                "id": tc["id"],
                "type": tc.get("type") or "function",
                "function": {"name": tc["function"]["name"], "arguments": tc["function"]["arguments"]},
            }
            for tc in out["tool_calls"]
        ]
    return out


def _to_model_response(result: Any) -> Any:
    """A litellm ModelResponse carrying the reply verbatim (tool-call arguments untouched)."""
    from litellm import ModelResponse
    from litellm.types.utils import Usage

    usage = Usage(
        prompt_tokens=result.usage["prompt_tokens"],
        completion_tokens=result.usage["completion_tokens"],
        total_tokens=result.usage["prompt_tokens"] + result.usage["completion_tokens"],
    )
    # litellm's completion_cost (which tau2 calls) prefers a provider-stated cost,
    # so tau2's per-message cost equals our ledger's instead of litellm's price map.
    usage.cost = result.cost_usd
    message = {"role": "assistant", "content": result.message.get("content")}
    if result.message.get("tool_calls"):
        message["tool_calls"] = result.message["tool_calls"]
    return ModelResponse(
        choices=[{"index": 0, "finish_reason": result.finish_reason or "stop", "message": message}],
        usage=usage,
        model=result.model,
    )


def _complete(model: str, messages: list, optional_params: dict) -> Any:
    from litellm.llms.custom_llm import CustomLLMError

    try:
        client, role = _resolve(model)
        params = dict(optional_params)
        if params.pop("stream", False):
            raise LLMError("the ppolnb provider does not stream")
        tools = params.pop("tools", None)
        tool_choice = params.pop("tool_choice", None)
        seed = params.pop("seed", None)
        extra = dict(params.pop("extra_body", None) or {})
        if extra:
            params["extra"] = extra
        result = client.chat(
            role, [_clean_message(m) for m in messages], tools=tools, tool_choice=tool_choice, seed=seed, **params
        )
    except LLMError as exc:
        # litellm rewraps handler exceptions into its own types (keyed on status_code),
        # so the LLMError text is carried in the message.
        raise CustomLLMError(status_code=exc.status or 500, message=f"ppol_nb LLMError: {exc}") from exc
    return _to_model_response(result)


def _handler_class() -> type:
    from litellm.llms.custom_llm import CustomLLM

    class _Handler(CustomLLM):
        """litellm entry point for ``ppolnb/...`` models (sync; async runs it in a thread).

        litellm passes every argument by keyword; only the model, the messages
        and ``optional_params`` (sampling settings, tools, tool_choice, seed and
        any extra keys, none dropped for custom providers) matter here.
        """

        def completion(self, model: str, messages: list, optional_params: dict, **_litellm: Any) -> Any:
            return _complete(model, messages, optional_params)

        async def acompletion(self, model: str, messages: list, optional_params: dict, **_litellm: Any) -> Any:
            return await asyncio.to_thread(_complete, model, messages, optional_params)

    return _Handler


def _ensure_registered() -> None:
    """Put our handler in litellm.custom_provider_map once (idempotent)."""
    global _handler
    litellm = tau2_modules().litellm
    with _lock:
        if _handler is None:
            _handler = _handler_class()()
        entries = litellm.custom_provider_map
        if any(e.get("provider") == PROVIDER and e.get("custom_handler") is _handler for e in entries):
            return
        # Replace a stale entry (e.g. left by a reloaded module) rather than shadow it.
        litellm.custom_provider_map = [e for e in entries if e.get("provider") != PROVIDER] + [
            {"provider": PROVIDER, "custom_handler": _handler}
        ]
