"""Scripted τ² trajectories (no agent, no user model) for checks and benchmarks.

Each builder returns a real τ² ``SimulationRun`` that the stock evaluator can
score: assistant tool calls are executed on a real environment, so their
``ToolMessage`` contents are what τ² would have produced, and the evaluator's
replay of them must match.

* :func:`gold_replay_run` — the task's gold actions, then one assistant message
  carrying every ``communicate_info`` string (scores 1.0 on every retail/airline task);
* :func:`do_nothing_run` — only text;
* :func:`tool_calls_run` — any list of ``(name, arguments)`` calls.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Iterable

from .tau2_bridge import tau2_modules

_m = tau2_modules()
_msg = _m.messages

GREETING = "Hi! How can I help you today?"
USER_OPENING = "Hello, I need some help."
USER_STOP = "Thanks, that's all. ###STOP###"


def _run(task, messages: list) -> object:
    now = _dt.datetime.now().isoformat()
    return _m.SimulationRun(
        id=str(uuid.uuid4()),
        task_id=task.id,
        start_time=now,
        end_time=now,
        duration=0.0,
        termination_reason=_m.TerminationReason.USER_STOP,
        messages=messages,
    )


def tool_calls_run(task, environment, calls: Iterable[tuple[str, dict]], final_text: str = "Done.") -> object:
    """A trajectory in which the assistant makes ``calls`` (executed on ``environment``)."""
    messages = [
        _msg.AssistantMessage(role="assistant", content=GREETING),
        _msg.UserMessage(role="user", content=USER_OPENING),
    ]
    for i, (name, arguments) in enumerate(calls):
        call = _msg.ToolCall(id=f"call_{i}", name=name, arguments=dict(arguments), requestor="assistant")
        messages.append(_msg.AssistantMessage(role="assistant", tool_calls=[call]))
        messages.append(environment.get_response(call))
    messages.append(_msg.AssistantMessage(role="assistant", content=final_text))
    messages.append(_msg.UserMessage(role="user", content=USER_STOP))
    return _run(task, messages)


def gold_actions(task) -> list[tuple[str, dict]]:
    actions = task.evaluation_criteria.actions if task.evaluation_criteria else None
    return [(a.name, a.arguments) for a in actions or []]


def communicate_text(task) -> str:
    infos = task.evaluation_criteria.communicate_info if task.evaluation_criteria else None
    return "Done. " + " ".join(infos or [])


def gold_replay_run(task, environment) -> object:
    """Replay the gold actions on ``environment`` and communicate every required fact."""
    return tool_calls_run(task, environment, gold_actions(task), communicate_text(task))


def do_nothing_run(task) -> object:
    """A trajectory with text only: no tool calls, no required facts."""
    return _run(
        task,
        [
            _msg.AssistantMessage(role="assistant", content=GREETING),
            _msg.UserMessage(role="user", content=USER_OPENING),
            _msg.AssistantMessage(role="assistant", content="I'm sorry, but I'm unable to help with that."),
            _msg.UserMessage(role="user", content=USER_STOP),
        ],
    )
