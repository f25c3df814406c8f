"""When and how long to wait before retrying a failed request."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping


def is_retryable_status(status: int) -> bool:
    """Rate limits, request timeouts and server errors are transient; other 4xx are not."""
    return status in (408, 429) or status >= 500


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``), if any."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # HTTP-date form
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_s(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: half fixed, half random, so that many
    threads hitting the same rate limit do not retry in lockstep."""
    ceiling = min(max_s, base_s * (2**attempt))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)
