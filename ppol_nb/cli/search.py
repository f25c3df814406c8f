"""``ppol-nb evolve`` (the PPol search, resumable) and ``ppol-nb estimate`` (what one will cost first).

Both read one :class:`~ppol_nb.evolution.config.EvolutionConfig` from the same flags
(:func:`_search_config`); ``--profile`` offers :data:`ppol_nb.evolution.profiles.NAMES`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..domains import names as domain_names
from ..evolution.profiles import NAMES as PROFILE_NAMES
from ..simulation.step_caps import EVAL_MAX_STEPS, TRAIN_MAX_STEPS
from .backend_args import (
    _add_backend_args,
    _backend,
    _episode_executor,
)
from .checks import (
    CLIError,
    check_failures,
    existing_dir,
    existing_file,
    positive_float,
    positive_int,
    require_sandbox,
    share,
)


def _search_config(args):
    """The EvolutionConfig that ``evolve`` and ``estimate`` flags name (profile, YAML, overrides)."""
    from ..evolution.config import EvolutionConfig

    if args.config:
        existing_file(args.config, "--config")
    config = (EvolutionConfig.from_yaml(args.config, base=args.profile) if args.config
              else EvolutionConfig.profile(args.profile))
    for flag, name in (("max_iterations", "max_iterations"), ("seed", "seed"), ("max_steps", "train_max_steps"),
                       ("val_max_steps", "val_max_steps"), ("max_cost_usd", "max_cost_usd"),
                       ("max_wall_time", "max_wall_time_s")):
        if getattr(args, flag, None) is not None:
            config = config.replace(**{name: getattr(args, flag)})
    return config


def _print_estimate(args, config, probe: bool = True) -> None:
    """``evolve`` on an endpoint: the run's estimate (one short block) before it starts, unless --no-estimate.
    Without ``probe`` nothing is sent (no preflight either): calls, tokens and dollars only."""
    if args.backend != "openai" or args.no_estimate:
        return
    from ..evolution.estimate import format_estimate

    print(format_estimate(_estimate(args, config, _backend(args, check=probe), probe=probe)), flush=True)


def _add_search_budget_args(p) -> None:
    p.add_argument("--max-cost-usd", type=positive_float, help="stop between rounds once the ledger's spend "
                   "reaches this (config max_cost_usd; may change on resume)")
    p.add_argument("--max-wall-time", type=positive_float, metavar="SECONDS", help="stop between rounds after "
                   "this many seconds of this session (config max_wall_time_s; may change on resume)")


def cmd_evolve(args) -> int:
    from ..evolution.estimate import estimate_run, format_estimate
    from ..evolution.curriculum import split_validation
    from ..simulation.tau2_bridge import load_tasks

    require_sandbox()  # mutated programs are LLM-written
    if args.fitness:
        existing_dir(args.fitness, "--fitness")
    config = _search_config(args)
    needs_yes = args.profile == "paper" and args.backend == "openai" and not args.yes
    _print_estimate(args, config, probe=not needs_yes)  # nothing reaches the endpoint before --yes
    if args.profile == "paper":
        train = load_tasks(args.domain, "train")
        train = train[:args.train_limit] if args.train_limit else train
        pool, val = split_validation([t.id for t in train])
        if args.backend != "openai" or args.no_estimate:  # else the measured estimate above was printed
            # calls per role from the schedule alone (no endpoint measured)
            print(format_estimate(estimate_run(config, pool, len(val), {}, offline=args.backend != "openai")))
        if needs_yes:
            print("this run calls a paid endpoint: pass --yes to start it (the estimate then measures its latency)")
            return 2
    backend = _backend(args)  # the preflight first: the search modules import τ² and litellm (seconds)
    from ..evolution.runs import build_run

    try:
        run = build_run(args.domain, backend, args.out, config=config, corpus=args.corpus, fitness_dir=args.fitness,
                        baseline_limit=args.baseline_limit, train_limit=args.train_limit, resume=args.resume,
                        progress=not args.quiet, executor=_episode_executor(args),
                        max_workers=args.max_workers)
    except FileExistsError as exc:
        raise SystemExit(f"{exc} (--resume)") from None
    try:
        summary = run.engine.run(progress=not args.quiet)
    finally:
        _save_measured(backend, Path(args.out))
    print(summary)
    return check_failures("evolve", summary.failed, summary.programs, args.failure_budget,
                          {"program evaluation failed": summary.failed} if summary.failed else {})


def _save_measured(backend, run_dir: Path) -> None:
    """Per-call latency and tokens of this session's endpoint requests, for later estimates (no content)."""
    if getattr(backend, "name", None) != "openai":
        return
    from ..llm.latency import MEASURED_FILE, load_measured, save_measured

    path = run_dir / MEASURED_FILE
    earlier = load_measured(path)
    try:
        if save_measured(backend.ledger, backend.client.config, path) is not None and earlier:
            rows = earlier + load_measured(path)  # a resumed run adds to what its earlier sessions measured
            path.write_text(json.dumps({"rows": rows}, indent=0) + "\n", encoding="utf-8")
    except OSError as exc:  # a convenience for later estimates: never the run's failure
        print(f"note: could not write {path}: {exc}", file=sys.stderr)


def _measure(llm, roles, **kw) -> dict:
    """Per-call latency and size of each role (:func:`ppol_nb.llm.latency.measure`); a failed probe is one line, exit 2."""
    from ..llm.latency import measure
    from ..llm.preflight import PreflightError

    try:
        return measure(llm, roles, **kw)
    except PreflightError as exc:
        raise CLIError(f"estimate: {exc}") from None


def _estimate(args, config, backend, probe: bool) -> dict:
    """The estimate for a search of ``config`` on ``backend`` (:func:`ppol_nb.evolution.estimate.estimate_search`):
    measured history from ``--from-run`` (or a resumed ``--out``) first, then a probe of each endpoint."""
    from ..evolution.estimate import estimate_search
    from ..llm.preflight import PreflightError

    run_dir = getattr(args, "from_run", None) or (args.out if getattr(args, "resume", False) else None)
    run_dir = Path(run_dir) if run_dir else None
    if run_dir is not None and getattr(args, "from_run", None) and not (run_dir / "evolution.sqlite").exists():
        raise CLIError(f"--from-run {run_dir} holds no evolution run (no evolution.sqlite)")
    try:
        return estimate_search(args.domain, backend, config, train_limit=args.train_limit, run_dir=run_dir,
                               probe=probe)
    except PreflightError as exc:
        raise CLIError(f"estimate: {exc}") from None


def cmd_estimate(args) -> int:
    from ..evolution.estimate import format_estimate

    config = _search_config(args)
    backend = _backend(args)
    est = _estimate(args, config, backend, probe=not args.no_probe)
    print(json.dumps(est, indent=1, default=str) if args.json else format_estimate(est))
    return 0


def _add_search_args(p) -> None:
    """What a search is (domain, world, profile and overrides, budgets): shared by ``evolve`` and ``estimate``,
    so an estimate is made of the same flags as the run it estimates."""
    p.add_argument("--domain", choices=domain_names(), required=True)
    _add_backend_args(p)
    p.add_argument("--profile", choices=PROFILE_NAMES, default="ci")
    p.add_argument("--config", help="YAML of EvolutionConfig overrides on top of the profile")
    p.add_argument("--max-iterations", type=positive_int, help="override max_iterations (may change on resume)")
    p.add_argument("--seed", type=int, help="override the search seed (parent sampling, mutations)")
    p.add_argument("--train-limit", type=positive_int, help="evolve on the first K official train tasks only")
    _add_search_budget_args(p)


def register(sub) -> None:
    """``evolve`` and ``estimate``."""
    e = sub.add_parser("evolve", help="run the PPol evolutionary search (resumable) into DIR")
    _add_search_args(e)
    e.add_argument("--max-steps", type=int,
                   help=f"τ² step cap of training rollouts (config train_max_steps, default {TRAIN_MAX_STEPS})")
    e.add_argument("--val-max-steps", type=int,
                   help=f"τ² step cap of validation rollouts and of the baseline trained here "
                        f"(config val_max_steps, default {EVAL_MAX_STEPS})")
    e.add_argument("--corpus", default="multiwoz", help="human corpus of the fitness model: multiwoz | tau-usi | PATH")
    e.add_argument("--fitness", help="load the frozen fitness model from this directory instead")
    e.add_argument("--baseline-limit", type=positive_int, help="baseline study on the first K tasks per split only")
    e.add_argument("--out", required=True, help="run directory")
    e.add_argument("--resume", action="store_true", help="continue the run stored in --out")
    e.add_argument("--yes", action="store_true", help="start a paper-profile run on a paid endpoint")
    e.add_argument("--quiet", action="store_true")
    e.add_argument("--failure-budget", type=share, default=1.0, help="exit 3 when at least this share of "
                   "programs failed evaluation (default 1: all of them)")
    e.add_argument("--no-estimate", action="store_true",
                   help="on an endpoint, start without printing the estimate (and without its latency probe)")
    e.set_defaults(func=cmd_evolve)
    es = sub.add_parser("estimate", help="LLM calls, tokens, dollars and wall time per role of an evolve run, "
                                         "before it starts (probes the endpoint's latency)")
    _add_search_args(es)
    es.add_argument("--from-run", metavar="DIR", help="an earlier evolution run: its measured shares (challengers, "
                    "new bests, failures, calls per episode) and per-call latency and tokens are used")
    es.add_argument("--no-probe", action="store_true", help="send no latency probe (roles without history: "
                    "calls and tokens only)")
    es.add_argument("--json", action="store_true", help="print the estimate as JSON")
    es.set_defaults(func=cmd_estimate)
