"""Turning a chat-completions response body into the layer's normalized reply.

The body is parsed here rather than by the SDK's models so that what we keep is
exactly what the server sent: in particular a tool call's ``arguments`` string
is passed on verbatim, malformed JSON included, because judging it is the
caller's business (tau2 parses it and fails the run, as it would with litellm).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ppol_nb.llm.errors import LLMError


@dataclass
class ChatResult:
    """One chat completion as the rest of ppol_nb sees it.

    ``message`` is ``{"role": "assistant", "content": str | None}`` plus, when the
    model called tools, ``"tool_calls": [{"id", "type": "function", "function":
    {"name", "arguments": str}}]``. ``usage`` has ``prompt_tokens`` and
    ``completion_tokens``. A cache hit has ``cached=True`` and ``cost_usd=0``.
    """

    message: dict
    finish_reason: str | None
    usage: dict
    cost_usd: float
    cached: bool
    latency_s: float
    model: str

    @property
    def content(self) -> str | None:
        return self.message.get("content")

    @property
    def tool_calls(self) -> list[dict]:
        return self.message.get("tool_calls") or []


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _tool_call(raw: dict, index: int) -> dict:
    fn = raw.get("function") or {}
    name = fn.get("name") or ""
    args = fn.get("arguments")
    if args is None:
        args = ""
    elif not isinstance(args, str):
        # Some servers send an object; the OpenAI wire format is a JSON string.
        args = json.dumps(args, ensure_ascii=False)
    call_id = raw.get("id")
    if not call_id:
        # Servers that omit ids (some llama.cpp builds) still need one for the
        # tool message; derive it from the call so cached replays agree.
        digest = hashlib.sha256(f"{index}:{name}:{args}".encode()).hexdigest()[:16]
        call_id = f"call_{digest}"
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def parse_completion(body: str) -> dict:
    """Normalize a chat-completions JSON body to ``{"message", "finish_reason", "usage", "model"}``.

    Raises LLMError for a body that is not JSON or has no choices.
    """
    try:
        data = json.loads(body)
    except ValueError:
        raise LLMError(f"unparsable reply body: {_snippet(body)!r}") from None
    if not isinstance(data, dict):
        raise LLMError(f"reply body is not a JSON object: {_snippet(body)!r}")
    choices = data.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        detail = data.get("error")
        detail = detail.get("message", detail) if isinstance(detail, dict) else detail
        raise LLMError(f"reply has no choices{': ' + _snippet(str(detail)) if detail else ''}")
    choice = choices[0]
    raw_msg = choice.get("message") or {}
    message: dict = {"role": "assistant", "content": raw_msg.get("content")}
    raw_calls = raw_msg.get("tool_calls") or []
    if raw_calls:
        message["tool_calls"] = [_tool_call(tc, i) for i, tc in enumerate(raw_calls)]
    usage = data.get("usage") or {}
    return {
        "message": message,
        "finish_reason": choice.get("finish_reason"),
        "usage": {
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0),
        },
        "model": data.get("model"),
    }


def is_empty(reply: dict) -> bool:
    """True when the model said nothing and called no tool."""
    msg = reply["message"]
    content = msg.get("content")
    return not msg.get("tool_calls") and (content is None or (isinstance(content, str) and not content.strip()))
