"""``ppol-nb stress-test``: your agent against seven user conditions (:mod:`ppol_nb.studies.stress_test`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..domains import DEFAULT_DOMAIN
from ..domains import names as domain_names
from ..simulation.step_caps import EVAL_MAX_STEPS
from .backend_args import (
    _add_backend_args,
    _backend,
    _episode_executor,
    _preflight,
)
from .checks import (
    CLIError,
    check_failures,
    positive_int,
    program_file,
    require_sandbox,
    share,
)


def _stress_conditions(text: str) -> tuple[str, ...]:
    from ..studies.stress_test import CONDITIONS

    names = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown conditions {unknown or text!r}; expected some of {','.join(CONDITIONS)}")
    return tuple(c for c in CONDITIONS if c in names)  # the CSV keeps the canonical order


def cmd_stress_test(args) -> int:
    """Stress-test one agent (a class, an endpoint model, or the offline one) on the test tasks x seven user
    conditions -> OUT/stress_test.csv, OUT/stress_test.json and a figure (ppol_nb.studies.stress_test)."""
    from ..run_identity import claim_run_dir, file_digest
    from ..studies.stress_test import AgentClassError, StressTest, with_agent

    if args.agent_class and args.agent_model:
        raise CLIError("give one agent: --agent-class module:Class or --agent-model NAME, not both")
    if args.agent_model and args.backend != "openai":
        raise CLIError("--agent-model names a model on an endpoint: add --backend openai --base-url URL")
    if args.agent_class and getattr(args, "executor", "local") != "local":
        raise CLIError("--agent-class runs the class in this process: use --executor local")
    if args.run:
        run_path = Path(args.run)
        if not run_path.exists():
            raise CLIError(f"--run {run_path} does not exist (an evolution run directory or a program .py)")
        if run_path.is_file():
            program_file(run_path)
        require_sandbox()  # an evolved program is LLM-written
    if args.backend == "openai" and not args.model and args.agent_model and not args.llm_config:
        args.model = args.agent_model  # one model named: it plays every role
    backend = _backend(args, check=False)  # checked once the agent under test is in place
    try:
        tested = with_agent(backend, agent_class=args.agent_class, agent_model=args.agent_model)
    except AgentClassError as exc:
        raise CLIError(str(exc)) from None
    _preflight(args, backend, tool_calls=not args.agent_class)
    backend = tested
    out = Path(args.out)
    identity = {"domain": args.domain, "run": str(Path(args.run).resolve()) if args.run else None,
                "run_sha256": (file_digest(args.run if Path(args.run).is_file() else Path(args.run) / "best_program.py")
                               if args.run and (Path(args.run).is_file() or (Path(args.run) / "best_program.py").exists())
                               else None),
                "n_personas": args.n_personas, "trials": args.trials, "limit": args.limit,
                "max_steps": args.max_steps, "generation_seed": args.generation_seed,
                "conditions": list(args.conditions) if args.conditions else None, "backend": backend.identity()}
    config = {k: v for k, v in vars(args).items() if k not in ("func", "backend_object", "executor_object")}
    with claim_run_dir(out, identity, "stress-test"):
        study = StressTest(backend, out, domain=args.domain, run=args.run, n_personas=args.n_personas,
                           trials=args.trials, limit=args.limit, max_steps=args.max_steps,
                           generation_seed=args.generation_seed, progress=not args.quiet, config=config,
                           executor=_episode_executor(args),
                           **({"conditions": args.conditions} if args.conditions else {}))
        study.run_all()
        study.write()
        _, png = study.plot(notebook="ppol-nb stress-test")
    table = study.table()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\n".join(study.findings()))
    print(f"-> {out / 'stress_test.csv'}, {out / 'stress_test.json'}, {png}")
    errors = int(study.episodes["error"].notna().sum()) if len(study.episodes) else 0
    return check_failures("stress-test", errors, len(study.episodes), args.failure_budget)


def register(sub) -> None:
    """``stress-test``."""
    stt = sub.add_parser("stress-test", help="your agent (module:Class, or a model on an endpoint) on the test tasks "
                         "against base, dp, ppol and the four τ-trait users -> DIR/stress_test.csv/.json + figure")
    stt.add_argument("--domain", choices=domain_names(), default=DEFAULT_DOMAIN)
    _add_backend_args(stt)
    stt.add_argument("--agent-class", metavar="MODULE:CLASS", help="a τ²-compatible agent class (LocalAgent API)")
    if not any("--agent-model" in a.option_strings for a in stt._actions):  # per-role flags may come with the backend args
        stt.add_argument("--agent-model", help="the agent's model on the endpoint (--backend openai)")
    stt.add_argument("--run", help="evolution run directory or generator .py for 'ppol' (default: the shipped seed program)")
    stt.add_argument("--conditions", type=_stress_conditions, default=None,
                     help="comma-separated subset of base,dp,ppol,skeptical,incoherent,impatient,confusion (default: all)")
    stt.add_argument("--n-personas", type=positive_int, default=3, help="personas per task (dp, ppol)")
    stt.add_argument("--trials", type=positive_int, default=1, help="episodes per task and persona (seeds 0..k-1); "
                     "k > 1 adds pass^k")
    stt.add_argument("--limit", type=positive_int, help="only the first K test tasks")
    stt.add_argument("--generation-seed", type=int, default=0)
    stt.add_argument("--max-steps", type=positive_int, default=EVAL_MAX_STEPS, help="τ² step cap of every episode")
    stt.add_argument("--failure-budget", type=share, default=1.0, help="exit 3 when at least this share of "
                     "episodes raised (default 1: all of them)")
    stt.add_argument("--out", required=True)
    stt.add_argument("--quiet", action="store_true")
    stt.set_defaults(func=cmd_stress_test)
