"""``ppol-nb ablate``: search variants x seeds as resumable runs (:mod:`ppol_nb.studies.ablation`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..domains import names as domain_names
from ..evolution.profiles import NAMES as PROFILE_NAMES
from .backend_args import (
    _add_backend_args,
    _backend,
    _episode_executor,
)
from .checks import (
    existing_dir,
    positive_int,
    require_sandbox,
)


def _int_list(text: str) -> list[int]:
    try:
        values = list(dict.fromkeys(int(v) for v in text.split(",") if v.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("no seeds given")
    return values


def _variant_list(text: str) -> list[str]:
    from ..evolution.variants import parse_variants

    try:
        return parse_variants(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_ablate(args) -> int:
    from ..studies.ablation import AblationSweep, cost_table

    require_sandbox()  # mutated programs are LLM-written
    if args.fitness:
        existing_dir(args.fitness, "--fitness")
    if args.backend == "openai" and args.profile == "paper" and not args.yes:
        print(f"{len(args.variants)} variants x {len(args.seeds)} seeds of a paper-profile search (70 iterations "
              "each) call a paid endpoint: pass --yes to start them")
        return 2
    sweep = AblationSweep(args.out, args.domain, _backend(args), variants=tuple(args.variants),
                          seeds=tuple(args.seeds), profile=args.profile, fitness_dir=args.fitness, corpus=args.corpus,
                          train_limit=args.train_limit, baseline_limit=args.baseline_limit,
                          benchmark_limit=args.benchmark_limit, n_personas=args.n_personas,
                          max_iterations=args.max_iterations, max_workers=args.max_workers,
                          reference=not args.no_reference, progress=not args.quiet,
                          executor=_episode_executor(args))
    table = sweep.run()
    for failure in sweep.failures:
        print(f"run failed (rerun the command to retry it): {failure['variant']} seed {failure['seed']}: "
              f"{failure['error']}", file=sys.stderr)
    if table.empty:
        print("no run has finished", file=sys.stderr)
        return 1
    wide = table[table.domain == args.domain].pivot_table(index=["variant", "seed"], columns="metric",
                                                          values="value")
    shown = [c for c in ("score", "hl", "coverage", "usi", "success_rate", "llm_calls", "cost_usd") if c in wide]
    print(wide[shown].to_string(float_format=lambda v: f"{v:.3f}"))
    costs = cost_table(args.out)
    if not costs.empty and (costs.backend == "offline").all():
        print("cost: offline stand-ins, no endpoint called ($0, no tokens)")
    print(f"-> {Path(args.out) / 'ablation.csv'} ({len(table)} rows)")
    return 1 if sweep.failures else 0


def register(sub) -> None:
    """``ablate``."""
    a = sub.add_parser("ablate", help="fitness ablations: search variants x seeds as resumable runs, each judged "
                                      "on the test tasks -> DIR/ablation.csv (an extension of the paper)")
    a.add_argument("--domain", choices=domain_names(), required=True)
    _add_backend_args(a)
    a.add_argument("--variants", type=_variant_list, default=["paper"],
                   help="comma-separated: paper, hl_only, coverage_only, fixed_lambda, no_reflection, "
                        "no_map_elites, no_curriculum, one_island, paired")
    a.add_argument("--seeds", type=_int_list, default=[0], help="comma-separated search seeds, e.g. 0,1,2")
    a.add_argument("--profile", choices=PROFILE_NAMES, default="ci")
    a.add_argument("--max-iterations", type=positive_int, help="override the profile's max_iterations (all runs)")
    a.add_argument("--corpus", default="multiwoz", help="human corpus of the fitness model: multiwoz | tau-usi | PATH")
    a.add_argument("--fitness", help="frozen fitness model directory shared by every run (default: trained once "
                                     "into DIR/fitness/DOMAIN)")
    a.add_argument("--train-limit", type=positive_int, help="evolve on the first K official train tasks only")
    a.add_argument("--baseline-limit", type=positive_int, help="train the fitness model on the first K tasks per split")
    a.add_argument("--benchmark-limit", type=positive_int, help="evaluate on the first K test tasks only")
    a.add_argument("--n-personas", type=positive_int, default=10, help="personas per test task (held-out evaluation)")
    a.add_argument("--no-reference", action="store_true",
                   help="skip the Humans/Base/DP/Initial reference benchmark of the domain")
    a.add_argument("--out", required=True, help="sweep directory (resumable: finished runs are never re-run)")
    a.add_argument("--yes", action="store_true", help="start a paper-profile sweep on a paid endpoint")
    a.add_argument("--quiet", action="store_true")
    a.set_defaults(func=cmd_ablate)
