"""Command line: ``ppol-nb rollout`` runs episodes, ``ppol-nb notebooks`` runs the series."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import __version__
from .provenance import provenance


def _backend(args):
    from .llm import LLMConfig, RoleConfig
    from .simulation.backends import LLMBackend, OfflineBackend

    if args.backend == "offline":
        return OfflineBackend(agent=args.agent)
    if not args.model:
        raise SystemExit("--backend openai needs --model (and usually --base-url)")
    role = RoleConfig(model=args.model, base_url=args.base_url, api_key_env=args.api_key_env or None,
                      temperature=args.temperature)
    roles = {}
    if args.user_model:
        roles["user"] = RoleConfig(**{**role.to_dict(), "model": args.user_model})
    cache = args.cache or str(Path(args.out) / "llm_cache.sqlite")
    config = LLMConfig(backend="openai", default=role, roles=roles, cache_path=cache,
                       max_concurrency=args.max_workers)
    return LLMBackend.from_config(config)


def cmd_rollout(args) -> int:
    from .simulation.runner import run_episodes, specs_for, summarize

    backend = _backend(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    specs = specs_for(args.domain, args.split, seeds=(args.seed,), limit=args.limit)
    manifest = provenance({"command": "rollout", "args": {k: v for k, v in vars(args).items() if k != "func"},
                           "backend": backend.describe(), "n_specs": len(specs)})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    df = run_episodes(specs, backend, out, max_workers=args.max_workers if args.backend != "offline" else 1,
                      max_steps=args.max_steps, progress=not args.quiet)
    summary = summarize(df)
    failures = int(df["error"].notna().sum()) if not df.empty else 0
    rate = float(df["success"].mean()) if not df.empty else 0.0
    print(f"{args.domain}/{args.split} backend={backend.name} agent={backend.agent_model}: "
          f"episodes={len(df)} success_rate={rate:.3f} failures={failures} -> {out / 'episodes.jsonl'}")
    if args.verbose:
        print(summary.to_string(index=False))
    return 0


def cmd_notebooks(args) -> int:
    from .notebooks import run_series

    run_series(Path(args.notebooks), Path(args.out), parameters=json.loads(args.parameters or "{}"),
               only=args.only)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ppol-nb", description=__doc__)
    p.add_argument("--version", action="version", version=f"ppol_nb {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("rollout", help="run τ² episodes and write DIR/episodes.jsonl")
    r.add_argument("--domain", choices=["retail", "airline"], required=True)
    r.add_argument("--split", choices=["train", "test"], default="test")
    r.add_argument("--backend", choices=["offline", "openai"], default="offline")
    r.add_argument("--agent", choices=["offline", "do-nothing"], default="offline", help="offline backend only")
    r.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    r.add_argument("--model", help="model name for every role (openai backend)")
    r.add_argument("--user-model", help="separate model for the user simulator")
    r.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="name of the environment variable holding the key ('' for local servers)")
    r.add_argument("--temperature", type=float, default=0.0)
    r.add_argument("--cache", help="SQLite response cache (default DIR/llm_cache.sqlite)")
    r.add_argument("--limit", type=int, help="only the first K tasks of the split")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--max-steps", type=int, default=100)
    r.add_argument("--max-workers", type=int, default=8, help="concurrent episodes (openai backend)")
    r.add_argument("--out", required=True)
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--verbose", action="store_true")
    r.set_defaults(func=cmd_rollout)

    n = sub.add_parser("notebooks", help="execute notebooks/ in order with papermill (offline default)")
    n.add_argument("--notebooks", default="notebooks")
    n.add_argument("--out", default="runs/notebooks", help="where executed copies go")
    n.add_argument("--parameters", help='JSON of parameters given to every notebook, e.g. \'{"backend": "offline"}\'')
    n.add_argument("--only", help="run only notebooks whose name contains this")
    n.set_defaults(func=cmd_notebooks)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
