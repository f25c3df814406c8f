"""The one exception type the LLM layer raises."""

from __future__ import annotations


class LLMError(RuntimeError):
    """A chat completion that could not be obtained.

    ``status`` is the HTTP status when the server answered with one (None for
    timeouts, connection failures, unusable bodies and configuration problems).
    The text never contains an API key.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        self.message = message
        super().__init__(f"[{status}] {message}" if status is not None else message)
