"""``ppol-nb benchmark``: Humans, Base, DP, PPol Initial and Evolved on the held-out test tasks -> CSV (§5.1)."""

from __future__ import annotations

from pathlib import Path

from ..domains import names as domain_names
from ..simulation.step_caps import EVAL_MAX_STEPS
from .backend_args import (
    _add_backend_args,
    _backend,
    _episode_executor,
    backend_identity,
)
from .checks import (
    CLIError,
    existing_dir,
    positive_int,
    program_file,
    require_sandbox,
)
from .search import _measure


def cmd_benchmark(args) -> int:
    from ..run_identity import claim_run_dir, file_digest

    run_path = Path(args.run)
    if not run_path.exists():
        raise CLIError(f"--run {run_path} does not exist (an evolution run directory or a program .py)")
    if run_path.is_file():
        program_file(run_path)
    if args.fitness:
        existing_dir(args.fitness, "--fitness")
    require_sandbox()  # the evolved program is LLM-written
    identity = {"run": str(run_path.resolve()), "run_sha256": file_digest(run_path if run_path.is_file()
                                                                          else run_path / "best_program.py"),
                "domain": args.domain, "n_personas": args.n_personas, "corpus": args.corpus,
                "fitness_sha256": file_digest(args.fitness) if args.fitness else None,
                "backend": backend_identity(args), "csv": Path(args.out).name}
    with claim_run_dir(Path(args.out).parent, identity, "benchmark"):
        return _benchmark(args)


def _benchmark(args) -> int:
    from ..evolution.benchmark import run_benchmark
    from ..fitness.score import FitnessModel

    backend = _backend(args)
    if args.backend == "openai" and not args.no_estimate:
        from ..evolution.estimate import ROLES, estimate_benchmark, format_estimate
        from ..simulation.tau2_bridge import load_tasks

        tasks = load_tasks(args.domain, "test")
        llm = backend.client.config
        prices = {r: (llm.role(r).price_in_per_mtok, llm.role(r).price_out_per_mtok) for r in ROLES}
        print(format_estimate(estimate_benchmark(len(tasks[:args.limit] if args.limit else tasks), args.n_personas,
                                                 _measure(llm, ROLES), prices=prices, window=llm.max_concurrency)),
              flush=True)
    model = FitnessModel.load(args.fitness) if args.fitness else None
    table = run_benchmark(args.run, args.domain, backend, fitness_model=model, out_csv=args.out,
                          n_personas=args.n_personas, limit=args.limit, human_corpus=args.corpus,
                          max_steps=args.max_steps,
                          max_workers=args.max_workers, executor=_episode_executor(args),
                          progress=not args.quiet)
    print(table[["condition", "n_tasks", "n_episodes", "hl", "coverage", "score", "usi", "success_rate"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"-> {args.out} (episodes: {Path(args.out).parent / 'episodes.jsonl'})")
    return 0


def register(sub) -> None:
    """``benchmark``."""
    b = sub.add_parser("benchmark", help="Humans, Base, DP, PPol Initial and Evolved on the test tasks -> CSV")
    b.add_argument("--run", required=True, help="an evolution run directory, or a generator program .py")
    b.add_argument("--domain", choices=domain_names(), required=True)
    _add_backend_args(b)
    b.add_argument("--fitness", help="frozen fitness model directory (default RUN/fitness/DOMAIN)")
    b.add_argument("--corpus", help="human corpus of the Humans row (default: the fitness model's)")
    b.add_argument("--n-personas", type=positive_int, default=10)
    b.add_argument("--max-steps", type=positive_int, default=EVAL_MAX_STEPS, help="τ² step cap of every episode")
    b.add_argument("--limit", type=positive_int, help="only the first K test tasks")
    b.add_argument("--out", required=True, help="CSV path; episodes.jsonl and a provenance .json go beside it")
    b.add_argument("--quiet", action="store_true")
    b.add_argument("--no-estimate", action="store_true",
                   help="on an endpoint, start without printing the estimate (and without its latency probe)")
    b.set_defaults(func=cmd_benchmark)
