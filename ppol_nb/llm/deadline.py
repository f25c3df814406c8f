"""A deadline for everything one episode asks of the LLM layer.

The runner opens :func:`deadline_scope` around an episode (``--episode-deadline``);
every :meth:`~ppol_nb.llm.LLMClient.chat` inside it (same thread or context)
shortens its HTTP timeout and its retry waits to the time left, and refuses to
start once the deadline has passed, so a slow or stuck endpoint cannot hold an
episode, and with it a whole run, indefinitely.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from .errors import LLMError

_DEADLINE: ContextVar[float | None] = ContextVar("ppol_nb_llm_deadline", default=None)


class DeadlineExceeded(LLMError):
    """The episode's deadline passed before (or while) an LLM call could be made."""


@contextlib.contextmanager
def deadline_scope(seconds: float | None) -> Iterator[None]:
    """LLM calls inside this block must finish within ``seconds`` from now (None: no deadline)."""
    if seconds is None:
        yield
        return
    if not seconds > 0:
        raise ValueError(f"a deadline must be > 0 seconds, got {seconds!r}")
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds left before the current deadline, None when there is none."""
    when = _DEADLINE.get()
    return None if when is None else when - time.monotonic()


def check() -> float | None:
    """The time left; raises :class:`DeadlineExceeded` when none is."""
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded("the episode deadline has passed; no further LLM calls are made")
    return left
