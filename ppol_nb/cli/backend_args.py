"""The flags every episode-running command shares, and what they build: the backend, its LLM
config (``--llm-config`` and per-role flags; docs/llm-config.md), its preflight, and the executor.

Built once per command and kept on ``args`` (``backend_object``, ``executor_object``), so the identity
check of a run directory and the run itself share one backend. ``--executor`` offers the names of
:data:`ppol_nb.execution.EXECUTORS`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..execution import EXECUTORS
from .checks import (
    CLIError,
    existing_file,
    non_negative_int,
    positive_float,
    positive_int,
)


def _backend(args, check: bool = True):
    """The backend the flags name, built once per command (identity checks and the run share it);
    ``check`` runs its preflight (see :func:`_preflight`) before the caller writes anything."""
    from ..worlds.registry import make_backend

    if getattr(args, "backend_object", None) is not None:
        return args.backend_object
    cache_path = False if args.no_cache else args.cache  # None: the per-user cache
    if args.backend == "openai" and _role_settings(args) is not None:
        from ..worlds.llm import LLMBackend
        from ..llm import LLMClient

        config = _llm_config(args)
        config.cache_path = cache_path
        backend = LLMBackend(LLMClient(config), agent="llm" if args.agent == "default" else args.agent)
    else:
        if args.backend == "openai" and not args.model:
            raise CLIError("--backend openai needs --model (and usually --base-url), or --llm-config FILE")
        if getattr(args, "llm_config", None):  # --backend offline given explicitly: the file would be ignored
            raise CLIError("--llm-config names endpoints and --backend offline calls none: use --backend openai")
        backend = make_backend(args.backend, model=args.model, base_url=args.base_url,
                               api_key_env=_flag(args.api_key_env, "OPENAI_API_KEY"),
                               user_model=args.user_model, temperature=_flag(args.temperature, 0.0),
                               cache_path=cache_path, agent=args.agent, timeout_s=args.timeout,
                               # None: the LLM layer's own default window (LLMConfig.max_concurrency)
                               **({"max_concurrency": args.max_workers} if args.max_workers else {}),
                               max_retries=args.retries)
    args.backend_object = backend
    if check:
        if args.backend == "openai" and not getattr(args, "no_preflight", False):
            from ..simulation.tau2_bridge import import_in_background

            import_in_background()  # every caller needs τ² next: its import overlaps the preflight's waits
        _preflight(args, backend)  # on the main thread, waiting for no import: a refusal comes at once
    from ..simulation.runner import set_default_deadline

    set_default_deadline(args.episode_deadline)
    return backend


def _flag(value, default):
    return default if value is None else value


# Per-role flags (the roles whose models a researcher most often sets apart); --user-model predates them.
ROLE_FLAGS = {"agent": ("model", "base_url", "api_key_env"), "user": ("model", "base_url", "api_key_env")}


def _role_settings(args) -> dict | None:
    """The per-role flags given, ``{"agent": {"model": ...}}``, or None when neither they (beyond a lone
    --user-model, which the one-model path has always handled) nor --llm-config were given."""
    given = {role: {f: getattr(args, f"{role}_{f}", None) for f in fields
                    if getattr(args, f"{role}_{f}", None) is not None} for role, fields in ROLE_FLAGS.items()}
    given = {role: fields for role, fields in given.items() if fields}
    if not getattr(args, "llm_config", None) and set(given) <= {"user"} and set(given.get("user", {})) <= {"model"}:
        return None
    return given


def _llm_config(args):
    """The openai LLM config of --llm-config and the flags, every role named; the order is
    per-role flag > the file's role > --model/--base-url/--api-key-env/--temperature > the file's defaults >
    built-in (ppol_nb.llm.config_file; docs/llm-config.md). Resolved once per command."""
    if getattr(args, "llm_config_object", None) is not None:
        return args.llm_config_object.config
    from ..llm.config_file import resolve

    args.llm_config_object = _Resolved(resolve(
        args.llm_config, model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
        temperature=args.temperature, roles=_role_settings(args), timeout_s=args.timeout, max_retries=args.retries,
        max_concurrency=args.max_workers))
    return args.llm_config_object.config


class _Resolved:
    """Holds the resolved config on ``args`` without showing it where ``vars(args)`` is written (manifests):
    the backend's describe() records each role, with URL credentials scrubbed."""

    def __init__(self, config) -> None:
        self.config = config

    def __repr__(self) -> str:
        return "<LLM config: see the manifest's backend.roles>"


def _endpoint_urls(args) -> list[str | None]:
    """Every role's endpoint the flags name (None: the SDK default, api.openai.com), for the paid-endpoint check."""
    if _role_settings(args) is None:
        return [args.base_url]
    config = _llm_config(args)
    return list(dict.fromkeys(config.role(name).base_url for name in config.roles))


def _preflight(args, backend, tool_calls: bool = True) -> None:
    """Key, endpoint, models and the agent's tool calls, before any run directory exists (every caller
    builds the backend before claiming one); a problem is one line and exit status 2."""
    from ..llm.preflight import PreflightError, preflight

    if getattr(args, "no_preflight", False) or args.backend != "openai":
        return
    try:
        if tool_calls:
            backend.preflight()
        else:  # the agent is not an endpoint model (a class under test): only the other roles are checked
            preflight(backend.client.config, tool_roles=())
    except PreflightError as exc:
        raise CLIError(f"preflight: {exc}") from None


def backend_identity(args) -> dict:
    """The backend settings that define a run's results (not timeouts, workers or the cache path)."""
    return _backend(args).identity()


def _report_throughput(backend, out: Path) -> None:
    """What the endpoint delivered this session, per role (from the ledger): printed and in throughput.json."""
    report = backend.ledger.throughput()
    if report.empty:
        return  # no request reached an endpoint (offline, or every reply from the cache)
    rows = {str(role): {k: (None if v != v else v) for k, v in row.items()} for role, row in
            report.to_dict("index").items()}  # NaN -> null
    (out / "throughput.json").write_text(json.dumps(rows, indent=2, default=float))
    parts = []
    for role, r in rows.items():
        throttled = f" ({r['throttled']} throttled)" if r["throttled"] else ""
        parts.append(f"{role} {r['requests_per_s'] or 0:.2f} req/s, {r['tokens_per_s'] or 0:.0f} tok/s{throttled}")
    print("endpoint throughput: " + "; ".join(parts))


def _cache_file(value: str) -> str:
    from ..llm.cache import resolve_cache_path

    try:
        return str(resolve_cache_path(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _llm_config_arg(value: str) -> str:
    from ..llm.config_file import RECIPES

    if value in RECIPES:
        return value
    try:
        existing_file(value, "an LLM config file")
    except CLIError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (nor is it a recipe: {', '.join(RECIPES)})") from None
    return value


def _add_llm_args(p) -> None:
    """The LLM layer's flags, defined once for every command that builds a backend (docs/llm-config.md).

    Precedence, field by field and role by role: per-role flag (--agent-*, --user-*) > the --llm-config
    file's role > --model/--base-url/--api-key-env/--temperature > the file's defaults > built-in."""
    p.add_argument("--backend", choices=["offline", "openai"], default=None,
                   help="offline (default) or openai; --llm-config or a per-role flag implies openai")
    p.add_argument("--llm-config", metavar="FILE|RECIPE", type=_llm_config_arg,
                   help="YAML of the LLM layer, role by role (model, endpoint, key variable, sampling, prices), "
                        "or a shipped recipe: paper (the authors' three models and sampling), local (one server "
                        "on localhost); see docs/llm-config.md")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint of every role, e.g. http://localhost:8000/v1")
    p.add_argument("--model", help="model name of every role (openai backend)")
    p.add_argument("--api-key-env", default=None,
                   help="name of the environment variable holding the key of every role (default OPENAI_API_KEY; "
                        "'' for local servers)")
    p.add_argument("--temperature", type=float, default=None,
                   help="one-model runs: temperature of the user simulator and agent (the search roles keep the "
                        "paper's); with --llm-config or a per-role flag: of every role the file does not set")
    for role, what in (("agent", "the agent"), ("user", "the user simulator")):
        p.add_argument(f"--{role}-model", help=f"model of {what} (beats --model and the file)")
        p.add_argument(f"--{role}-base-url", help=f"endpoint of {what} (beats --base-url and the file)")
        p.add_argument(f"--{role}-api-key-env", help=f"key variable of {what} ('' for none)")


def _add_backend_args(p) -> None:
    """The backend options of ``rollout``, for the evolve and benchmark commands."""
    _add_llm_args(p)
    p.add_argument("--agent", choices=["default", "do-nothing"], default="default",
                   help="the backend's own agent, or the do-nothing control agent (never calls a tool)")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="PATH", type=_cache_file,
                       help="SQLite response cache file (default: the per-user cache shared by every run and "
                            "notebook: $PPOL_CACHE_DIR/llm_responses.sqlite, else in the user cache directory, "
                            "e.g. ~/.cache/ppol_nb/llm_responses.sqlite)")
    cache.add_argument("--no-cache", action="store_true", help="read and write no response cache: send every request")
    p.add_argument("--max-workers", type=positive_int,
                   help="concurrent episodes per batch and requests in flight per endpoint and role (openai "
                        "backend; default: the LLM layer's window, 128)")
    p.add_argument("--no-preflight", action="store_true",
                   help="skip the check of key, endpoint, models and the agent's tool calls before the run "
                        "(openai backend; the check sends at most one small request, remembered once it passes)")
    p.add_argument("--timeout", type=positive_float, help="seconds per LLM request (default 120)")
    p.add_argument("--retries", type=non_negative_int, help="retries per LLM request (default 6)")
    p.add_argument("--episode-deadline", type=positive_float, help="seconds one episode may take; its LLM calls "
                   "stop at the deadline and the episode is recorded as failed")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run LLM-written generator programs WITHOUT OS isolation where bubblewrap is unavailable")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="where episodes run: threads of this process (default), local worker processes, or Ray "
                        "actors (pip install 'ppol_nb[ray]'); results and run files are the same")
    p.add_argument("--executor-workers", type=positive_int, metavar="N",
                   help="worker processes / Ray actors (default: CPUs); --max-workers episodes are shared among them")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to join, e.g. ray://head:10001 or auto (default: $RAY_ADDRESS, else a local Ray)")


def _episode_executor(args):
    """The executor ``main`` made from ``--executor`` for this command (None: threads of this process)."""
    return getattr(args, "executor_object", None)


def _executor(args):
    """The executor ``--executor`` names (None: the default, threads of this process)."""
    kind = getattr(args, "executor", "local")
    workers, address = getattr(args, "executor_workers", None), getattr(args, "ray_address", None)
    if kind == "local" and workers is None and address is None:
        return None
    from ..execution import make_executor

    try:
        return make_executor(kind, workers=workers, address=address)
    except ValueError as exc:
        raise CLIError(f"--executor {kind}: {exc}") from None
