"""``ppol-nb rollout``: τ² episodes of one condition -> DIR/episodes.jsonl, with a manifest."""

from __future__ import annotations

import json
from pathlib import Path

from ..domains import names as domain_names
from ..provenance import provenance
from ..simulation.step_caps import DEFAULT_MAX_STEPS
from .backend_args import (
    _add_backend_args,
    _backend,
    _endpoint_urls,
    _episode_executor,
    _report_throughput,
    backend_identity,
)
from .checks import (
    CLIError,
    check_failures,
    paid_endpoint,
    positive_int,
    program_file,
    require_sandbox,
    share,
)


def _condition_specs(args, backend, out: Path):
    from ..personas.conditions import condition_specs

    world = None
    if args.condition in ("seed", "dp", "program"):
        world = backend.generator(seed=args.generation_seed)
    return condition_specs(args.condition, args.domain, args.split, n_personas=args.n_personas, seeds=(args.seed,),
                           limit=args.limit, world=world, cache_dir=out / "personas", program=args.program,
                           generation_seed=args.generation_seed)


def _rollout_identity(args) -> dict:
    backend = backend_identity(args)  # first: the preflight runs before anything heavy is imported
    from ..personas.sandbox import program_hash

    program = Path(args.program).read_text(encoding="utf-8") if args.program else None
    return {"domain": args.domain, "split": args.split, "condition": args.condition,
            "program_sha256": program_hash(program) if program is not None else None,
            "n_personas": args.n_personas, "generation_seed": args.generation_seed, "seed": args.seed,
            "max_steps": args.max_steps, "backend": backend}


def cmd_rollout(args) -> int:
    from ..run_identity import claim_run_dir

    if args.condition == "program":
        if not args.program:
            raise CLIError("--condition program needs --program FILE.py")
        program_file(args.program)
        require_sandbox()
    if args.backend == "openai" and any(paid_endpoint(url) for url in _endpoint_urls(args)) and not args.yes:
        from ..simulation.tau2_bridge import load_tasks

        n_tasks = len(load_tasks(args.domain, args.split)[:args.limit])
        per_task = args.n_personas if args.condition in ("dp", "seed", "program") else 1
        print(f"cost estimate: {n_tasks} tasks x {per_task} = {n_tasks * per_task} episodes, each up to "
              f"{args.max_steps} steps (2 LLM calls per step: user and agent)"
              + (f", plus {n_tasks * (args.n_personas + 1)} persona-generation calls" if per_task > 1 else ""))
        print("this rollout calls a paid endpoint: pass --yes to start it")
        return 2
    out = Path(args.out)
    with claim_run_dir(out, _rollout_identity(args), "rollout"):  # lock first: nothing written before it
        return _rollout(args, out)


def _rollout(args, out: Path) -> int:
    from ..simulation.runner import run_episodes, summarize

    backend = _backend(args)
    specs, failures = _condition_specs(args, backend, out)
    from ..execution.local import LocalExecutor

    executor = _episode_executor(args)
    manifest = provenance({"command": "rollout", "args": {k: v for k, v in vars(args).items()
                                                          if k not in ("func", "executor_object")},
                           "backend": backend.describe(),
                           "executor": (executor if executor is not None else LocalExecutor()).describe(),
                           "n_specs": len(specs)})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    df = run_episodes(specs, backend, out, max_workers=args.max_workers,
                      max_steps=args.max_steps, progress=not args.quiet, executor=executor)
    summary = summarize(df)
    _report_throughput(backend, out)
    if failures:
        (out / "generation_failures.jsonl").write_text("".join(json.dumps(f) + "\n" for f in failures))
        print(f"persona generation failed for {len(failures)} task(s): see {out / 'generation_failures.jsonl'}")
    n_generation_failures = len(failures)
    failures = int(df["error"].notna().sum()) if not df.empty else 0
    rate = float(df["success"].mean()) if not df.empty else 0.0
    print(f"{args.domain}/{args.split} condition={args.condition} backend={backend.name} agent={backend.agent_model}: "
          f"episodes={len(df)} success_rate={rate:.3f} failures={failures} -> {out / 'episodes.jsonl'}")
    if args.verbose:
        print(summary.to_string(index=False))
    reasons = df["error"].dropna().astype(str).str.split(":").str[0].value_counts().to_dict() if failures else {}
    if n_generation_failures:
        reasons["persona generation failed (tasks)"] = n_generation_failures
    return check_failures("rollout", failures + n_generation_failures, len(df) + n_generation_failures,
                          args.failure_budget, reasons)


def register(sub) -> None:
    """``rollout``."""
    r = sub.add_parser("rollout", help="run τ² episodes and write DIR/episodes.jsonl")
    r.add_argument("--domain", choices=domain_names(), required=True)
    r.add_argument("--split", choices=["train", "test"], default="test")
    _add_backend_args(r)
    r.add_argument("--condition", default="base",
                   help="base | dp | seed | program | trait:{skeptical,incoherent,impatient,confusion}")
    r.add_argument("--n-personas", type=positive_int, default=5, help="personas per task (dp, seed, program)")
    r.add_argument("--program", help="generator program file (condition 'program')")
    r.add_argument("--generation-seed", type=int, default=0, help="seed of persona generation")
    r.add_argument("--limit", type=positive_int, help="only the first K tasks of the split")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--max-steps", type=positive_int, default=DEFAULT_MAX_STEPS, help="τ² step cap (default: τ²'s 100)")
    r.add_argument("--out", required=True)
    r.add_argument("--yes", action="store_true", help="start a rollout on a paid endpoint")
    r.add_argument("--failure-budget", type=share, default=1.0, help="exit 3 when at least this share of "
                   "episodes failed (default 1: all of them)")
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--verbose", action="store_true")
    r.set_defaults(func=cmd_rollout)
