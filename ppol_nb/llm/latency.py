"""Per-call latency and size of each role's endpoint, measured before a run (issue 19, item 3).

Two sources, in this order of preference:

* **history**: the rows of an :class:`~ppol_nb.llm.ledger.Ledger` (a notebook's
  backend after some work, or a run directory's ``llm_measured.json`` written at
  the end of an endpoint run, :func:`save_measured`). Only requests that reached
  the endpoint count (cache hits and failed attempts do not); a role's history
  is used only when it was made with the role's current model and endpoint.
  Gives mean latency, prompt and completion tokens per call.
* **probe**: three short chat completions per distinct (endpoint, model) on one
  kept-alive connection: an untimed one that opens it, one capped at 1
  completion token and one at :data:`PROBE_LONG_TOKENS`. The last two
  fit ``latency(c) = a + b · c`` for ``c`` completion tokens
  (``a``: the endpoint's per-request overhead, ``b``: seconds per generated
  token; ``b = 0`` when the server ignored the cap). A probe cannot know how
  large a role's real requests are, so the sizes then come from
  :data:`ASSUMED_TOKENS` and are labelled assumed.

Probe requests bypass the response cache (they must reach the endpoint), are
never retried, carry the marker :data:`PROBE_MARK` in their system message (so a
server log can tell them apart, :func:`is_latency_probe`), and send the key only
in the ``Authorization`` header, like :mod:`.preflight`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from .config import LLMConfig, redact_url
from .preflight import (
    CONNECT_TIMEOUT_S,
    PROBE_TIMEOUT_S,
    PreflightError,
    _headers,
    _key,
    _url,
)

PROBE_MARK = "ppol_nb latency probe"
PROBE_LONG_TOKENS = 64
MEASURED_FILE = "llm_measured.json"

# Mean tokens per call when nothing was measured: rough figures for τ² retail/airline with the
# paper's prompts (the agent sees the policy and tool schemas; the mutator the program and critique).
ASSUMED_TOKENS = {
    "user": (1_500, 40),
    "agent": (5_000, 80),
    "generator": (1_500, 350),
    "reflection": (6_000, 700),
    "mutator": (9_000, 1_500),
}


@dataclass(frozen=True)
class CallMeasure:
    """One role's per-call figures: latency (None: unknown), mean tokens, and where they come from."""

    latency_s: float | None
    prompt_tokens: float
    completion_tokens: float
    source: str  # "history", "probe" (latency measured, sizes assumed), "assumed"

    def to_dict(self) -> dict:
        return asdict(self)


def is_latency_probe(request: dict) -> bool:
    """Whether a chat-completions body is this module's probe (for servers' logs)."""
    messages = request.get("messages") or []
    return bool(messages) and messages[0].get("role") == "system" and PROBE_MARK in (messages[0].get("content") or "")


def from_ledger_rows(rows, config: LLMConfig, roles) -> dict[str, CallMeasure]:
    """Measures of ``roles`` from ledger rows of requests that reached their current endpoint and model."""
    out = {}
    for role in roles:
        rc = config.role(role)
        sent = [r for r in rows if r.get("role") == role and r.get("error") is None and not r.get("cached")
                and r.get("model") == rc.model and r.get("base_url", redact_url(_url(rc.base_url)))
                == redact_url(_url(rc.base_url))]
        if not sent:
            continue
        n = len(sent)
        out[role] = CallMeasure(sum(float(r["latency_s"]) for r in sent) / n,
                                sum(int(r["prompt_tokens"]) for r in sent) / n,
                                sum(int(r["completion_tokens"]) for r in sent) / n, "history")
    return out


def save_measured(ledger, config: LLMConfig, path: str | Path) -> Path | None:
    """Write the ledger's endpoint requests (per-call latency and tokens, no content) for later estimates."""
    rows = [{"role": r["role"], "model": r["model"], "base_url": redact_url(_url(config.role(r["role"]).base_url)),
             "latency_s": r["latency_s"], "prompt_tokens": r["prompt_tokens"],
             "completion_tokens": r["completion_tokens"], "cached": r["cached"], "error": r["error"]}
            for r in ledger.rows() if r["backend"] != "offline" and not r["cached"] and r["error"] is None]
    if not rows:
        return None
    path = Path(path)
    path.write_text(json.dumps({"rows": rows}, indent=0) + "\n", encoding="utf-8")
    return path


def load_measured(path: str | Path) -> list[dict]:
    """Rows written by :func:`save_measured` ([] when the file is absent or unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return [r for r in data.get("rows", []) if isinstance(r, dict)]
    except (OSError, ValueError, AttributeError):
        return []


def _post(client: httpx.Client, url: str, key: str | None, model: str, max_tokens: int) -> tuple[float, int]:
    body = {"model": model, "temperature": 0.0, "max_tokens": max_tokens, "messages": [
        {"role": "system", "content": f"{PROBE_MARK}: answer briefly."},
        {"role": "user", "content": "Count upwards from 1, separated by spaces, as far as you can."}]}
    t0 = time.perf_counter()
    try:
        reply = client.post(f"{url}/chat/completions", headers=_headers(key), json=body)
    except httpx.HTTPError as exc:
        raise PreflightError(f"the latency probe of model {model!r} at {redact_url(url)} failed "
                             f"({type(exc).__name__}): check the server, or pass --no-estimate") from None
    latency = time.perf_counter() - t0
    if reply.status_code >= 400:
        raise PreflightError(f"the latency probe of model {model!r} at {redact_url(url)} got {reply.status_code}: "
                             "retry, or pass --no-estimate")
    try:
        tokens = int((reply.json().get("usage") or {}).get("completion_tokens") or 0)
    except (ValueError, AttributeError, TypeError):
        tokens = 0
    return latency, tokens


def probe(config: LLMConfig, roles) -> dict[str, CallMeasure]:
    """Latency of every role from two short requests per distinct (endpoint, model); sizes assumed."""
    fits: dict[tuple[str, str], tuple[float, float]] = {}
    out = {}
    for role in roles:
        rc = config.role(role)
        url = _url(rc.base_url)
        if (url, rc.model) not in fits:
            key = _key(rc.api_key_env, [role], url)
            # One kept-alive connection, opened by a first request that is not timed: a run's requests
            # reuse their connections, so set-up (TCP, TLS, the client's own start) is not per-call latency.
            with httpx.Client(timeout=httpx.Timeout(PROBE_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)) as client:
                _post(client, url, key, rc.model, 1)
                short, c_short = _post(client, url, key, rc.model, 1)
                long, c_long = _post(client, url, key, rc.model, PROBE_LONG_TOKENS)
            per_token = max(0.0, (long - short) / (c_long - c_short)) if c_long > c_short else 0.0
            fits[(url, rc.model)] = (max(0.0, short - per_token * c_short), per_token)
        a, b = fits[(url, rc.model)]
        prompt, completion = ASSUMED_TOKENS.get(role, (1_000, 100))
        out[role] = CallMeasure(a + b * completion, prompt, completion, "probe")
    return out


def measure(config: LLMConfig, roles, history_rows=(), send_probe: bool = True) -> dict[str, CallMeasure]:
    """Every role's measure: history where it has this role's endpoint and model, else the probe
    (``send_probe``), else assumed sizes with unknown latency."""
    found = from_ledger_rows(list(history_rows), config, roles)
    missing = [r for r in roles if r not in found]
    if missing and send_probe:
        found.update(probe(config, missing))
    for role in roles:
        if role not in found:
            prompt, completion = ASSUMED_TOKENS.get(role, (1_000, 100))
            found[role] = CallMeasure(None, prompt, completion, "assumed")
    return {r: found[r] for r in roles}
