"""How many requests may be in flight to an endpoint, per role, adapted to its rate limits.

Every request of an :class:`~ppol_nb.llm.LLMClient` holds a slot of the
:class:`RoleLimiter` of its (endpoint, role) while it is on the wire. The
number of slots (the *window*) follows AIMD, as TCP does for congestion:

* it starts at the ceiling (``LLMConfig.max_concurrency``), so an endpoint
  with room is kept busy from the first request;
* a **429** halves it (never below one). Only a request sent under the current
  window can halve it again: the burst of 429s that one overload produces
  counts once, not once per request;
* every successful request grows it by ``1 / window`` (about one slot per
  window of successes), back up to the ceiling.

Waiting is per **endpoint** (:class:`EndpointGate`), shared by every role that
talks to it: a ``Retry-After`` (or ``retry-after-ms``) on a 429, and on any
reply ``x-ratelimit-remaining-requests: 0`` / ``x-ratelimit-remaining-tokens:
0`` with their ``x-ratelimit-reset-*``, hold back every new request to that
endpoint until then (:func:`pause_from_headers`). The request that got the 429
is retried by the client as before; the others simply start later.

Limits are per process: with W worker processes (:mod:`ppol_nb.execution`) an
endpoint sees at most W × ceiling requests per role, and each process adapts
to the 429s it receives. Thread-safe; waits honour the episode deadline
(:mod:`.deadline`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from . import deadline
from .retry import retry_after_s

_POLL_S = 0.5  # longest single wait, so a passing deadline is noticed promptly


@dataclass
class LimiterStats:
    """What a limiter did: current window, the lowest it fell to, decreases and time paused."""

    window: float
    ceiling: int
    lowest: float
    in_flight: int
    decreases: int
    throttled: int
    queued_s: float


class EndpointGate:
    """When the next request to one endpoint may start (a server-requested pause)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0  # time.monotonic() before which no request starts
        self.paused_s = 0.0  # total pause requested (for reports)

    def pause_for(self, seconds: float) -> None:
        """Hold new requests for ``seconds`` from now (a later pause already set wins)."""
        if not seconds > 0:
            return
        with self._lock:
            until = time.monotonic() + seconds
            if until > self._until:
                self.paused_s += until - max(self._until, time.monotonic())
                self._until = until

    def wait_s(self) -> float:
        """Seconds until requests may start again (0: now)."""
        with self._lock:
            return max(0.0, self._until - time.monotonic())


class RoleLimiter:
    """The AIMD window of one (endpoint, role); see the module docstring."""

    def __init__(self, gate: EndpointGate, ceiling: int) -> None:
        if ceiling < 1:
            raise ValueError(f"the in-flight ceiling must be >= 1, got {ceiling!r}")
        self.gate = gate
        self.ceiling = int(ceiling)
        self._window = float(ceiling)
        self._lowest = float(ceiling)
        self._epoch = 0  # bumped by each decrease: a 429 from an older window does not count again
        self._in_flight = 0
        self._decreases = 0
        self._throttled = 0
        self._queued_s = 0.0
        self._cond = threading.Condition()

    @property
    def window(self) -> float:
        with self._cond:
            return self._window

    def stats(self) -> LimiterStats:
        with self._cond:
            return LimiterStats(self._window, self.ceiling, self._lowest, self._in_flight, self._decreases,
                                self._throttled, round(self._queued_s, 3))

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        """Hold one in-flight slot for the block; report how the request went through the slot."""
        held = self._acquire()
        try:
            yield held
        finally:
            self._release(held)

    def _acquire(self) -> Slot:
        t0 = time.monotonic()
        with self._cond:
            while True:
                pause = self.gate.wait_s()
                if pause <= 0 and self._in_flight < max(1, int(self._window)):
                    self._in_flight += 1
                    self._queued_s += time.monotonic() - t0
                    return Slot(self, self._epoch)
                left = deadline.check()  # raises DeadlineExceeded once the episode's time is up
                wait = _POLL_S if pause <= 0 else min(pause, _POLL_S)
                self._cond.wait(wait if left is None else max(0.0, min(wait, left)))

    def _release(self, slot: Slot) -> None:
        with self._cond:
            self._in_flight -= 1
            if slot.outcome == "ok":
                self._window = min(float(self.ceiling), self._window + 1.0 / self._window)
            elif slot.outcome == "throttled":
                self._throttled += 1
                if slot.epoch == self._epoch:
                    self._window = max(1.0, self._window / 2.0)
                    self._lowest = min(self._lowest, self._window)
                    self._epoch += 1
                    self._decreases += 1
            self._cond.notify_all()


class Slot:
    """One held slot: the request marks how it went (``ok`` or ``throttled``; anything else is neutral)."""

    __slots__ = ("limiter", "epoch", "outcome")

    def __init__(self, limiter: RoleLimiter, epoch: int) -> None:
        self.limiter, self.epoch, self.outcome = limiter, epoch, "error"

    def succeeded(self, headers: Mapping[str, str] | None = None) -> None:
        self.outcome = "ok"
        self.limiter.gate.pause_for(pause_from_headers(headers) or 0.0)

    def throttled(self, headers: Mapping[str, str] | None = None) -> None:
        self.outcome = "throttled"
        self.limiter.gate.pause_for(pause_from_headers(headers, throttled=True) or 0.0)


class Limits:
    """The limiters of one client: a gate per endpoint, a window per (endpoint, role)."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = int(ceiling)
        self._lock = threading.Lock()
        self._gates: dict[str, EndpointGate] = {}
        self._roles: dict[tuple[str, str], RoleLimiter] = {}

    def get(self, endpoint: str, role: str) -> RoleLimiter:
        with self._lock:
            limiter = self._roles.get((endpoint, role))
            if limiter is None:
                gate = self._gates.setdefault(endpoint, EndpointGate())
                limiter = self._roles[(endpoint, role)] = RoleLimiter(gate, self.ceiling)
            return limiter

    def stats(self) -> dict[tuple[str, str], LimiterStats]:
        """(endpoint, role) -> its :class:`LimiterStats` (endpoints as the cache key names them)."""
        with self._lock:
            items = list(self._roles.items())
        return {key: limiter.stats() for key, limiter in items}


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_reset(value: str | None) -> float | None:
    """Seconds in an ``x-ratelimit-reset-*`` value: ``"1s"``, ``"6m0s"``, ``"250ms"``, ``"0.5"``; None if unreadable."""
    if value is None:
        return None
    text = str(value).strip().lower()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def pause_from_headers(headers: Mapping[str, str] | None, throttled: bool = False) -> float | None:
    """How long an endpoint asked everyone to wait, from a reply's headers (None: no request to wait).

    ``Retry-After`` / ``retry-after-ms`` count on a 429 (``throttled``); the
    ``x-ratelimit-remaining-{requests,tokens}`` / ``x-ratelimit-reset-*`` pair
    (OpenAI, vLLM behind a gateway, ...) counts on any reply whose remaining
    budget is exhausted.
    """
    if not headers:
        return None
    waits = []
    if throttled:
        after = retry_after_s(headers)
        if after is not None:
            waits.append(after)
    for kind in ("requests", "tokens"):
        remaining = headers.get(f"x-ratelimit-remaining-{kind}")
        try:
            exhausted = remaining is not None and float(remaining) <= 0
        except ValueError:
            exhausted = False
        if exhausted:
            reset = parse_reset(headers.get(f"x-ratelimit-reset-{kind}"))
            if reset is not None:
                waits.append(reset)
    return max(waits) if waits else None
