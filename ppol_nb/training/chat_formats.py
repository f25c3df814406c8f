"""The agent's side of an episode as a training conversation, in two export formats, with validators.

:func:`agent_conversation` turns a recorded τ² conversation into what the agent saw
and said, cleaned the way the paper's data builder does (§5.5, App. F):

* parallel tool calls become single calls, each followed by its own result;
* thinking blocks (``<think>…</think>``, ``<thinking>…</thinking>``, and a reply that
  starts inside an unclosed one and closes it) are removed from assistant text;
* the trailing ``done`` call(s) and their results are dropped;
* what follows the agent's last message (the user's ``###STOP###``, a trailing tool
  result) is cut, so every conversation ends with an assistant message;
* tool calls the *user* made (τ² telecom) and their results are left out: the agent
  never sees them.

Agent messages before the first user message (τ²'s fixed greeting, which the
orchestrator writes, not the model) are kept but marked not trainable.

:func:`to_openai` writes one OpenAI fine-tuning chat line (``messages`` + ``tools``
+ ``parallel_tool_calls: false``, the documented keys only; the greeting carries the
documented ``weight: 0``). :func:`to_sharegpt` writes one LLaMA-Factory ShareGPT
record (``conversations`` of ``from``/``value``, ``system``, ``tools`` as a JSON
string); that layout must alternate human/observation with gpt/function_call and
start with the human, so the greeting is left out there, consecutive user messages
are joined and an assistant's text beside a tool call is dropped (counted).

:func:`read_openai_jsonl` reads an exported file back, every line validated.
:func:`validate_openai_line` and :func:`validate_sharegpt_record` check the
formats as documented (OpenAI ``FineTuneChatRequestInput``; LLaMA-Factory's
``data/README.md`` ShareGPT section) and raise :class:`FormatError` naming the
message at fault.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

THINKING = re.compile(r"<(think|thinking)>.*?</\1>", re.DOTALL | re.IGNORECASE)
UNOPENED_THINKING = re.compile(r"^.*?</(think|thinking)>", re.DOTALL | re.IGNORECASE)
STOP_TOOLS = ("done",)

SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
SHAREGPT_COLUMNS = {"messages": "conversations", "system": "system", "tools": "tools"}


class FormatError(ValueError):
    """A conversation or exported line that breaks its format."""


@dataclass
class Turn:
    """One message of the agent's view: user text, assistant text or one call, or one tool result."""

    role: str  # "user" | "assistant" | "tool"
    content: str | None = None
    call: dict | None = None  # assistant: {"id", "name", "arguments": dict}
    tool_call_id: str | None = None  # tool
    trainable: bool = True  # assistant only


@dataclass
class Conversation:
    turns: list[Turn]
    stats: dict = field(default_factory=dict)  # what cleaning did: split_calls, thinking_blocks, done_calls, ...


def strip_thinking(text: str | None) -> tuple[str, int]:
    """``text`` without thinking blocks, and how many were removed."""
    if not text:
        return "", 0
    cleaned, n = THINKING.subn("", text)
    if re.search(r"</(think|thinking)>", cleaned, re.IGNORECASE):  # a block opened by the chat template
        cleaned, m = UNOPENED_THINKING.subn("", cleaned, count=1)
        n += m
    return cleaned.strip(), n


def _field(msg, name):
    return msg.get(name) if isinstance(msg, dict) else getattr(msg, name, None)


def _call(c) -> dict:
    return {"id": _field(c, "id") or "", "name": _field(c, "name"), "arguments": _field(c, "arguments") or {}}


def agent_conversation(messages, stop_tools=STOP_TOOLS) -> Conversation:
    """The agent's cleaned view of recorded τ² ``messages`` (records' ``Message`` models or dicts)."""
    stats = {"split_parallel_calls": 0, "thinking_blocks": 0, "done_calls": 0, "user_tool_calls": 0,
             "missing_tool_results": 0}
    turns: list[Turn] = []
    msgs = list(messages)
    seen_user = False
    i = 0
    while i < len(msgs):
        m = msgs[i]
        role, content = _field(m, "role"), _field(m, "content")
        calls = [_call(c) for c in (_field(m, "tool_calls") or [])]
        i += 1
        # The tool results answering this message's calls follow it; read them with it.
        results = []
        while calls and i < len(msgs) and _field(msgs[i], "role") == "tool":
            results.append(msgs[i])
            i += 1
        if role == "user":
            stats["user_tool_calls"] += len(calls)  # and their results, read above, are dropped
            if content and content.strip():
                turns.append(Turn("user", content.strip()))
                seen_user = True
        elif role == "assistant":
            text, n = strip_thinking(content)
            stats["thinking_blocks"] += n
            if len(calls) > 1:
                stats["split_parallel_calls"] += 1
            by_id = {_field(r, "tool_call_id"): r for r in results}
            for k, c in enumerate(calls):
                # Match results by id; fall back to position when a provider left ids out.
                r = by_id.get(c["id"]) if c["id"] else None
                if r is None and k < len(results) and not _field(results[k], "tool_call_id"):
                    r = results[k]
                turns.append(Turn("assistant", text if k == 0 and text else None, call=c, trainable=seen_user))
                if r is None:
                    stats["missing_tool_results"] += 1
                else:
                    turns.append(Turn("tool", str(_field(r, "content") or ""), tool_call_id=c["id"]))
            if not calls and text:
                turns.append(Turn("assistant", text, trainable=seen_user))
        # system messages: the exporter writes the agent's own system prompt; tool messages
        # not following a call (none in τ²'s records) carry nothing the agent asked for.
    # The trailing stop call(s): drop them with their results, then cut what follows the agent's last message.
    while True:
        last = max((k for k, t in enumerate(turns) if t.role == "assistant"), default=None)
        if last is None or turns[last].call is None or turns[last].call["name"] not in stop_tools:
            break
        stats["done_calls"] += 1
        if turns[last].content:  # text said beside the stop call stays
            turns[last] = Turn("assistant", turns[last].content, trainable=turns[last].trainable)
            turns = turns[:last + 1]
        else:
            turns = turns[:last]
    last = max((k for k, t in enumerate(turns) if t.role == "assistant"), default=-1)
    turns = turns[:last + 1]
    _unique_call_ids(turns)
    return Conversation(turns, stats)


def _unique_call_ids(turns: list[Turn]) -> None:
    """Give calls without an id, or with one used before in the conversation, a fresh one."""
    used: set[str] = set()
    pending: str | None = None
    for k, t in enumerate(turns):
        if t.call is not None:
            cid = t.call["id"]
            if not cid or cid in used:
                new = f"call_{k}"
                while new in used:
                    new += "_"
                t.call = {**t.call, "id": new}
                pending = new
            else:
                pending = cid
            used.add(t.call["id"])
        elif t.role == "tool":
            t.tool_call_id = pending  # results always follow their own call here


def is_trainable(conv: Conversation) -> str | None:
    """None when the conversation can train an agent, else why not."""
    if not any(t.role == "user" for t in conv.turns):
        return "no user message"
    if not any(t.role == "assistant" and t.trainable for t in conv.turns):
        return "no agent message after the first user message"
    return None


def to_openai(conv: Conversation, system: str, tools: list[dict]) -> dict:
    """One OpenAI fine-tuning chat line (a dict; ``json.dumps`` it)."""
    out = [{"role": "system", "content": system}]
    for t in conv.turns:
        if t.role == "user":
            out.append({"role": "user", "content": t.content})
        elif t.role == "tool":
            out.append({"role": "tool", "tool_call_id": t.tool_call_id, "content": t.content})
        else:
            msg: dict = {"role": "assistant"}
            if t.content:
                msg["content"] = t.content
            if t.call is not None:
                msg["tool_calls"] = [{"id": t.call["id"], "type": "function", "function": {
                    "name": t.call["name"], "arguments": json.dumps(t.call["arguments"], ensure_ascii=False)}}]
            if not t.trainable:
                msg["weight"] = 0
            out.append(msg)
    return {"messages": out, "tools": tools, "parallel_tool_calls": False}


def to_sharegpt(conv: Conversation, system: str, tools: list[dict]) -> tuple[dict, dict]:
    """One LLaMA-Factory ShareGPT record, and what the layout forced (``dropped_*``/``joined_*`` counts)."""
    forced = {"dropped_greetings": 0, "dropped_call_texts": 0, "joined_user_messages": 0}
    conversations: list[dict] = []
    for t in conv.turns:
        if t.role == "assistant" and not t.trainable:
            forced["dropped_greetings"] += 1
            continue
        if t.role == "user":
            if conversations and conversations[-1]["from"] == "human":
                conversations[-1]["value"] += "\n" + t.content
                forced["joined_user_messages"] += 1
            else:
                conversations.append({"from": "human", "value": t.content})
        elif t.role == "tool":
            conversations.append({"from": "observation", "value": t.content})
        elif t.call is not None:
            forced["dropped_call_texts"] += bool(t.content)
            conversations.append({"from": "function_call", "value": json.dumps(
                {"name": t.call["name"], "arguments": t.call["arguments"]}, ensure_ascii=False)})
        else:
            conversations.append({"from": "gpt", "value": t.content})
    record = {"conversations": conversations, "system": system, "tools": json.dumps(tools, ensure_ascii=False)}
    return record, forced


# ----------------------------------------------------------------------------------------- validators

_ROLES = {"system", "user", "assistant", "tool"}
_ALLOWED_TOP = {"messages", "tools", "parallel_tool_calls", "functions"}
_ALLOWED_KEYS = {"system": {"role", "content", "name"}, "user": {"role", "content", "name"},
                 "assistant": {"role", "content", "name", "tool_calls", "weight", "refusal"},
                 "tool": {"role", "content", "tool_call_id"}}


def _text(value) -> bool:
    return isinstance(value, str) and value != ""


def validate_openai_line(line: str | dict) -> dict:
    """Check one line of an OpenAI fine-tuning chat file; returns the parsed object or raises FormatError.

    Checks: a JSON object with only the documented top-level keys; ``messages`` a
    non-empty list; each message a known role with only that role's keys; system/
    user/tool content a non-empty string; an assistant message has content or
    ``tool_calls``; each call is ``{"id", "type": "function", "function": {"name",
    "arguments"}}`` with arguments a JSON *string* encoding an object and an id unique
    in the line; ``weight`` is 0 or 1; every tool message answers a call made by an
    earlier assistant message, once; the last message is the assistant's, and at least
    one assistant message is trained on; ``tools`` is a list of ``{"type": "function",
    "function": {"name", "description"?, "parameters"?: JSON-schema object}}`` with unique
    names, and every called function is one of them.
    """
    obj = json.loads(line) if isinstance(line, str) else line
    if not isinstance(obj, dict):
        raise FormatError(f"a line must be a JSON object, got {type(obj).__name__}")
    extra = set(obj) - _ALLOWED_TOP
    if extra:
        raise FormatError(f"unknown top-level keys {sorted(extra)} (allowed: {sorted(_ALLOWED_TOP)})")
    tools = obj.get("tools")
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            raise FormatError("'tools' must be a non-empty list")
        for k, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict):
                raise FormatError(f"tools[{k}] must be {{'type': 'function', 'function': {{...}}}}")
            if not _text(fn.get("name")) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", fn["name"]):
                raise FormatError(f"tools[{k}].function.name must match [A-Za-z0-9_-]{{1,64}}")
            if "description" in fn and not isinstance(fn["description"], str):
                raise FormatError(f"tools[{k}].function.description must be a string")
            params = fn.get("parameters")
            if params is not None and (not isinstance(params, dict) or params.get("type") != "object"):
                raise FormatError(f"tools[{k}].function.parameters must be a JSON schema of type 'object'")
            if fn["name"] in names:
                raise FormatError(f"tools[{k}]: function {fn['name']!r} is listed twice")
            names.add(fn["name"])
    if "parallel_tool_calls" in obj and not isinstance(obj["parallel_tool_calls"], bool):
        raise FormatError("'parallel_tool_calls' must be a boolean")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise FormatError("'messages' must be a non-empty list")
    calls: set[str] = set()
    answered: set[str] = set()
    trained = 0
    for k, m in enumerate(messages):
        where = f"messages[{k}]"
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise FormatError(f"{where}: role must be one of {sorted(_ROLES)}")
        role = m["role"]
        extra = set(m) - _ALLOWED_KEYS[role]
        if extra:
            raise FormatError(f"{where} ({role}): unknown keys {sorted(extra)}")
        if role in ("system", "user") and not _text(m.get("content")):
            raise FormatError(f"{where} ({role}): content must be a non-empty string")
        if role == "tool":
            if not isinstance(m.get("content"), str):
                raise FormatError(f"{where} (tool): content must be a string")
            cid = m.get("tool_call_id")
            if cid not in calls:
                raise FormatError(f"{where} (tool): tool_call_id {cid!r} answers no earlier call")
            if cid in answered:
                raise FormatError(f"{where} (tool): call {cid!r} is answered twice")
            answered.add(cid)
        if role == "assistant":
            content, tool_calls = m.get("content"), m.get("tool_calls")
            if content is not None and not isinstance(content, str):
                raise FormatError(f"{where} (assistant): content must be a string or absent")
            if not _text(content) and not tool_calls:
                raise FormatError(f"{where} (assistant): needs content or tool_calls")
            if "weight" in m and m["weight"] not in (0, 1) or isinstance(m.get("weight"), bool):
                raise FormatError(f"{where} (assistant): weight must be 0 or 1")
            trained += m.get("weight", 1) == 1
            if tool_calls is not None:
                if not isinstance(tool_calls, list) or not tool_calls:
                    raise FormatError(f"{where}: tool_calls must be a non-empty list")
                for j, c in enumerate(tool_calls):
                    cw = f"{where}.tool_calls[{j}]"
                    fn = c.get("function") if isinstance(c, dict) else None
                    if not isinstance(c, dict) or set(c) != {"id", "type", "function"} or c["type"] != "function":
                        raise FormatError(f"{cw}: must be exactly {{'id', 'type': 'function', 'function'}}")
                    if not _text(c["id"]) or c["id"] in calls:
                        raise FormatError(f"{cw}: id must be a non-empty string unique in the line")
                    if not isinstance(fn, dict) or set(fn) != {"name", "arguments"} or not _text(fn["name"]):
                        raise FormatError(f"{cw}.function: must be exactly {{'name', 'arguments'}}")
                    if not isinstance(fn["arguments"], str):
                        raise FormatError(f"{cw}.function.arguments must be a JSON string, "
                                          f"got {type(fn['arguments']).__name__}")
                    try:
                        args = json.loads(fn["arguments"])
                    except json.JSONDecodeError as exc:
                        raise FormatError(f"{cw}.function.arguments is not valid JSON: {exc.msg}") from None
                    if not isinstance(args, dict):
                        raise FormatError(f"{cw}.function.arguments must encode a JSON object")
                    if tools is not None and fn["name"] not in names:
                        raise FormatError(f"{cw}: function {fn['name']!r} is not among the line's tools")
                    calls.add(c["id"])
    if messages[-1]["role"] != "assistant":
        raise FormatError(f"the last message must be the assistant's, got {messages[-1]['role']!r}")
    if not trained:
        raise FormatError("no assistant message is trained on (all have weight 0)")
    return obj


def validate_sharegpt_record(record: dict, tags: dict = SHAREGPT_TAGS) -> dict:
    """Check one record of a LLaMA-Factory ShareGPT dataset (``columns``/``tags`` as this module writes them).

    Checks: ``conversations`` a non-empty list of ``{from, value}`` with string values;
    odd positions (1st, 3rd, …) are human or observation, even ones gpt or
    function_call (LLaMA-Factory's alignment rule), so the count is even and the last
    turn is the assistant's; every function_call value is JSON ``{"name", "arguments":
    object}``; ``system`` a string; ``tools`` a JSON string of a list of function tools.
    """
    if not isinstance(record, dict):
        raise FormatError("a ShareGPT record must be a JSON object")
    conv = record.get("conversations")
    if not isinstance(conv, list) or not conv:
        raise FormatError("'conversations' must be a non-empty list")
    odd = {tags["user_tag"], tags["observation_tag"]}
    even = {tags["assistant_tag"], tags["function_tag"]}
    for k, turn in enumerate(conv):
        if not isinstance(turn, dict) or set(turn) != {tags["role_tag"], tags["content_tag"]}:
            raise FormatError(f"conversations[{k}]: must be exactly {{'from', 'value'}}")
        who, value = turn[tags["role_tag"]], turn[tags["content_tag"]]
        allowed = odd if k % 2 == 0 else even
        if who not in allowed:
            raise FormatError(f"conversations[{k}]: {who!r} where one of {sorted(allowed)} must come")
        if not isinstance(value, str) or (who != tags["observation_tag"] and not value):
            raise FormatError(f"conversations[{k}]: value must be a non-empty string")
        if who == tags["function_tag"]:
            try:
                call = json.loads(value)
            except json.JSONDecodeError:
                raise FormatError(f"conversations[{k}]: function_call value is not JSON") from None
            if not isinstance(call, dict) or not _text(call.get("name")) or not isinstance(call.get("arguments"), dict):
                raise FormatError(f"conversations[{k}]: function_call must be {{'name', 'arguments': {{...}}}}")
    if len(conv) % 2:
        raise FormatError("the conversation must end with the assistant (an even number of turns)")
    if not isinstance(record.get("system", ""), str):
        raise FormatError("'system' must be a string")
    if "tools" in record:
        try:
            tools = json.loads(record["tools"]) if isinstance(record["tools"], str) else None
        except json.JSONDecodeError:
            tools = None
        if not isinstance(tools, list) or not all(isinstance(t, dict) and t.get("type") == "function"
                                                  and _text((t.get("function") or {}).get("name")) for t in tools):
            raise FormatError("'tools' must be a JSON string of a list of {'type': 'function', 'function': {...}}")
    return record


def read_openai_jsonl(path) -> list[dict]:
    """The lines of an exported OpenAI chat file, each validated (:func:`validate_openai_line`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such training file (write it with 'ppol-nb sft build')")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(validate_openai_line(line))
        except (FormatError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}:{number}: not an OpenAI chat fine-tuning line: {exc}") from None
    if not rows:
        raise ValueError(f"{path}: no conversations")
    return rows
