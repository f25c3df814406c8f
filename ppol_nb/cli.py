"""Command line: ``ppol-nb rollout`` runs episodes, ``ppol-nb notebooks`` runs the series,
``ppol-nb evolve`` runs the PPol search (``ppol-nb estimate`` says what one will cost first), ``ppol-nb benchmark`` the held-out conditions,
``ppol-nb ablate`` the fitness ablations (search variants x seeds, held-out evaluation),
``ppol-nb data`` fetches the human corpora, ``ppol-nb cache`` locates and merges response caches,
``ppol-nb sft`` builds the agent-training datasets (and trains a LoRA adapter with the ``train`` extra) and
``ppol-nb study`` builds, serves and exports a blinded human-vs-simulator study.
Every command that runs episodes or a search takes ``--llm-config FILE|paper|local`` and per-role flags
(``--agent-model`` ...; docs/llm-config.md).
A user's mistake (a missing or unreadable path, a refused value) is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .cli_checks import (
    CLIError,
    check_failures,
    existing_dir,
    existing_file,
    non_negative_int,
    paid_endpoint,
    positive_float,
    positive_int,
    program_file,
    require_sandbox,
    share,
)
from .domains import DEFAULT_DOMAIN, with_corpus
from .domains import names as domain_names
from .provenance import provenance
from .simulation.step_caps import DEFAULT_MAX_STEPS, EVAL_MAX_STEPS, TRAIN_MAX_STEPS


def _backend(args, check: bool = True):
    """The backend the flags name, built once per command (identity checks and the run share it);
    ``check`` runs its preflight (see :func:`_preflight`) before the caller writes anything."""
    from .worlds.registry import make_backend

    if getattr(args, "backend_object", None) is not None:
        return args.backend_object
    cache_path = False if args.no_cache else args.cache  # None: the per-user cache
    if args.backend == "openai" and _role_settings(args) is not None:
        from .worlds.llm import LLMBackend
        from .llm import LLMClient

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
            from .simulation.tau2_bridge import import_in_background

            import_in_background()  # every caller needs τ² next: its import overlaps the preflight's waits
        _preflight(args, backend)  # on the main thread, waiting for no import: a refusal comes at once
    from .simulation.runner import set_default_deadline

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
    from .llm.config_file import resolve

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
    from .llm.preflight import PreflightError, preflight

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


def _condition_specs(args, backend, out: Path):
    from .personas.conditions import condition_specs

    world = None
    if args.condition in ("seed", "dp", "program"):
        world = backend.generator(seed=args.generation_seed)
    return condition_specs(args.condition, args.domain, args.split, n_personas=args.n_personas, seeds=(args.seed,),
                           limit=args.limit, world=world, cache_dir=out / "personas", program=args.program,
                           generation_seed=args.generation_seed)


def _rollout_identity(args) -> dict:
    backend = backend_identity(args)  # first: the preflight runs before anything heavy is imported
    from .personas.sandbox import program_hash

    program = Path(args.program).read_text(encoding="utf-8") if args.program else None
    return {"domain": args.domain, "split": args.split, "condition": args.condition,
            "program_sha256": program_hash(program) if program is not None else None,
            "n_personas": args.n_personas, "generation_seed": args.generation_seed, "seed": args.seed,
            "max_steps": args.max_steps, "backend": backend}


def cmd_rollout(args) -> int:
    from .run_identity import claim_run_dir

    if args.condition == "program":
        if not args.program:
            raise CLIError("--condition program needs --program FILE.py")
        program_file(args.program)
        require_sandbox()
    if args.backend == "openai" and any(paid_endpoint(url) for url in _endpoint_urls(args)) and not args.yes:
        from .simulation.tau2_bridge import load_tasks

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
    from .simulation.runner import run_episodes, summarize

    backend = _backend(args)
    specs, failures = _condition_specs(args, backend, out)
    from .execution.local import LocalExecutor

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


def cmd_fingerprint(args) -> int:
    from .fitness import fingerprint_frame
    from .fitness.fingerprint import user_turns
    from .simulation.store import read_episode_lines

    path = existing_file(args.episodes, "episode file")
    records, report = read_episode_lines(path, strict=False)  # invalid records count against the budget
    latest = {}
    for rec in records:  # the last line of an id wins, as in EpisodeStore
        latest[rec["episode_id"]] = rec
    episodes = list(latest.values())
    if report.lines == 0:
        raise CLIError(f"{path} holds no episode records")
    errored = [e for e in episodes if e.get("error")]
    silent = [e for e in episodes if not e.get("error") and not user_turns(e["messages"])]
    kept = [e for e in episodes if not e.get("error") and user_turns(e["messages"])]
    if report.skipped:
        print(report.summary(), file=sys.stderr)
    for e in silent[:5]:
        print(f"{path}: episode {e['episode_id']} has no user turns: not fingerprinted", file=sys.stderr)
    df = fingerprint_frame(kept)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    print(f"{len(df)} episodes fingerprinted ({len(errored)} errored, {len(silent)} without user turns, "
          f"{len(report.skipped)} unreadable lines skipped) -> {args.out}")
    reasons = {**{k: n for k, n in report.reasons().items()}, **({"no user turns": len(silent)} if silent else {})}
    return check_failures("fingerprint", len(report.skipped) + len(silent),
                          len(report.skipped) + len(silent) + len(df), args.failure_budget, reasons)


def cmd_humans(args) -> int:
    import pandas as pd

    from .fitness import FEATURES, fingerprints
    from .humans import attributions, load_corpus

    corpus = load_corpus(args.corpus, domain=args.domain)
    X = fingerprints([d.user_turns for d in corpus.dialogues])
    meta = pd.DataFrame([{"dialogue_id": d.dialogue_id, "source": d.source, "domain": d.domain,
                          "task_id": d.task_id, "split": d.split} for d in corpus.dialogues])
    df = pd.concat([meta, pd.DataFrame(X, columns=list(FEATURES))], axis=1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    sidecar = Path(args.out).with_suffix(".json")
    sidecar.write_text(json.dumps(provenance({"command": "humans", "corpus": corpus.name,
                                              "attributions": attributions([corpus])}), indent=2))
    print(f"{len(df)} {corpus.name} dialogues fingerprinted -> {args.out} (licence: {corpus.licence})")
    return 0


def _corpus_arg(value: str) -> str:
    from .humans.paths import canonical_name

    try:
        return canonical_name(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_cache(args) -> int:
    """``ppol-nb cache where|merge``: the response cache file, and merging caches of several machines."""
    from .llm.cache import ResponseCache, resolve_cache_path

    if args.cache_command == "where":
        print(resolve_cache_path(None))
        return 0
    into = Path(args.into) if args.into else resolve_cache_path(None)
    sources = [existing_file(src, "response cache") for src in args.sources]
    cache = ResponseCache(into)
    try:
        for src in sources:
            counts = cache.merge_from(src)
            print(f"{src}: {counts['added']} added, {counts['present']} already present, "
                  f"{counts['damaged']} damaged (skipped) -> {into}")
        print(f"{into}: {len(cache)} entries")
    finally:
        cache.close()
    return 0


def cmd_data(args) -> int:
    """``ppol-nb data fetch|where|list``: human corpora on this machine (see ppol_nb.humans.fetch)."""
    import sys
    import warnings

    from .humans import fetch as data
    from .humans import paths

    if args.data_command == "where":
        print("look-up order (first hit wins; a loader's explicit path= comes before all of these):")
        for i, (label, folder) in enumerate(paths.search_dirs(), start=1):
            print(f"  {i}. {label:<16} {folder}  [{'exists' if folder.is_dir() else 'missing'}]")
        print(f"fetch writes to: {data.data_home()}")
        for name in args.corpora or sorted(data.CATALOGUE):
            hit = paths.locate_corpus_file(name)
            found = f"{hit[1]}  ({hit[0]})" if hit else f"not found: run `{paths.fetch_command(name)}`"
            print(f"  {name:<9} {found}")
        return 0
    if args.data_command == "list":
        for name in sorted(data.CATALOGUE):
            st = data.corpus_status(name)
            pin = (f"{st['pinned_bytes']:,} bytes, sha256 {st['pinned_sha256']}" if st["pinned_sha256"]
                   else "no published checksum (recorded at fetch)")
            if not st["found"]:
                state = f"missing: run `{st['fetch_command']}`"
            else:
                check = {True: "sha256 ok", False: "SHA256 MISMATCH", None: "unpinned"}[st["verified"]]
                state = f"{st['path']} ({st['layer']}, {check})"
            print(f"{name}: {st['licence']}{', gated' if st['gated'] else ''}\n  source {st['source_url']}\n"
                  f"  pinned {pin}\n  {state}")
        return 0
    failed: list[str] = []
    unreachable = False
    for name in args.corpora:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = data.fetch_corpus(name, dest_dir=args.dest, if_missing=args.if_missing,
                                           timeout=args.timeout)
        except data.FetchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed.append(name)
            unreachable = unreachable or exc.unreachable
            continue
        if result.status == "present":
            print(f"{result.name}: present at {result.path} ({result.where}); not fetched")
        else:
            check = "sha256 verified" if result.pinned else "sha256 recorded (unpinned)"
            print(f"{result.name}: {result.size:,} bytes, {check} {result.sha256} -> {result.path}")
        for note in caught:
            print(f"warning: {note.message}", file=sys.stderr)
    if failed:
        why = " (no network?)" if unreachable else ""
        print(f"not available{why}: {', '.join(failed)}. Loading them raises an error naming "
              f"`ppol-nb data fetch NAME`; rerun this command when online.", file=sys.stderr)
        return 1
    return 0


def cmd_notebooks(args) -> int:
    from .notebooks import run_series

    parameters = json.loads(args.parameters or "{}")
    if args.llm_config:
        from .llm.config_file import RECIPES

        parameters.setdefault("backend", "openai")
        given = args.llm_config
        parameters["llm_config"] = given if given in RECIPES else str(Path(given).resolve())  # kernels' cwd differs
    run_series(Path(args.notebooks), Path(args.out), parameters=parameters, only=args.only)
    return 0


def _cache_file(value: str) -> str:
    from .llm.cache import resolve_cache_path

    try:
        return str(resolve_cache_path(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _llm_config_arg(value: str) -> str:
    from .llm.config_file import RECIPES

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
    p.add_argument("--executor", choices=["local", "processes", "ray"], default="local",
                   help="where episodes run: threads of this process (default), local worker processes, or Ray "
                        "actors (pip install 'ppol_nb[ray]'); results and run files are the same")
    p.add_argument("--executor-workers", type=positive_int, metavar="N",
                   help="worker processes / Ray actors (default: CPUs); --max-workers episodes are shared among them")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to join, e.g. ray://head:10001 or auto (default: $RAY_ADDRESS, else a local Ray)")


def _search_config(args):
    """The EvolutionConfig that ``evolve`` and ``estimate`` flags name (profile, YAML, overrides)."""
    from .evolution.config import EvolutionConfig

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
    from .evolution.estimate import format_estimate

    print(format_estimate(_estimate(args, config, _backend(args, check=probe), probe=probe)), flush=True)


def _add_search_budget_args(p) -> None:
    p.add_argument("--max-cost-usd", type=positive_float, help="stop between rounds once the ledger's spend "
                   "reaches this (config max_cost_usd; may change on resume)")
    p.add_argument("--max-wall-time", type=positive_float, metavar="SECONDS", help="stop between rounds after "
                   "this many seconds of this session (config max_wall_time_s; may change on resume)")


def cmd_evolve(args) -> int:
    from .evolution.budget import estimate, format_estimate
    from .evolution.curriculum import split_validation
    from .simulation.tau2_bridge import load_tasks

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
            print(f"cost estimate ({args.domain}, profile paper, {config.max_iterations} iterations):")
            print(format_estimate(estimate(pool, len(val), config.max_iterations, curriculum=config.curriculum,
                                           comparison=config.comparison,
                                           confirm_evaluations=config.confirm_evaluations)))
        if needs_yes:
            print("this run calls a paid endpoint: pass --yes to start it (the estimate then measures its latency)")
            return 2
    backend = _backend(args)  # the preflight first: the search modules import τ² and litellm (seconds)
    from .evolution.runs import build_run

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
    from .llm.latency import MEASURED_FILE, load_measured, save_measured

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
    from .llm.latency import measure
    from .llm.preflight import PreflightError

    try:
        return measure(llm, roles, **kw)
    except PreflightError as exc:
        raise CLIError(f"estimate: {exc}") from None


def _estimate(args, config, backend, probe: bool) -> dict:
    """The estimate for a search of ``config`` on ``backend`` (:func:`ppol_nb.evolution.estimate.estimate_search`):
    measured history from ``--from-run`` (or a resumed ``--out``) first, then a probe of each endpoint."""
    from .evolution.estimate import estimate_search
    from .llm.preflight import PreflightError

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
    from .evolution.estimate import format_estimate

    config = _search_config(args)
    backend = _backend(args)
    est = _estimate(args, config, backend, probe=not args.no_probe)
    print(json.dumps(est, indent=1, default=str) if args.json else format_estimate(est))
    return 0


def cmd_study_build(args) -> int:
    from .humans import load_corpus
    from .studies.blinded_study import StudyError, build_study

    sources: dict = {}
    for spec in args.source or []:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise CLIError(f"--source {spec!r}: expected NAME=EPISODES (a run directory or episodes.jsonl)")
        if name in sources:
            raise CLIError(f"--source {name!r} given twice")
        sources[name] = path
    if args.humans:
        if "human" in sources:
            raise CLIError("--humans and --source human=... both given")
        sources["human"] = load_corpus(args.humans, domain=args.domain)
    instructions = Path(args.instructions).read_text(encoding="utf-8") if args.instructions else None
    try:
        out = build_study(sources, args.out, per_source=args.per_source, seed=args.seed,
                          n_attention=args.attention_checks, instructions=instructions,
                          practice=not args.no_practice)
    except StudyError as exc:
        raise CLIError(str(exc)) from None
    print(f"study written to {out} (serve study.json; keep key.json away from annotators)")
    return 0


def cmd_sft_build(args) -> int:
    from .humans.licences import LicenceError
    from .training.sft_data import SFTConfig, SFTDataError, build_sft

    out = Path(args.out)
    if (out / "manifest.json").exists() and not args.overwrite:
        raise CLIError(f"{out} already holds an SFT build; pass --overwrite to replace it, or use a new --out")
    try:
        config = SFTConfig(seed=args.seed, val_fraction=args.val_fraction, personas_per_task=args.personas_per_task,
                           max_examples=args.max_examples, ppol_share=args.ppol_share,
                           ppol_conditions=tuple(args.ppol_conditions.split(",")))
        build = build_sft(args.episodes, out, config)
    except (SFTDataError, LicenceError, ValueError, OSError) as exc:  # OSError: --out cannot be written
        raise CLIError(str(exc)) from None
    m = build.manifest
    for regime, sizes in m["sizes"].items():
        tok = m["tokens"][regime]
        print(f"{regime}: train {sizes['train']} / validation {sizes['validation']} conversations, mix {m['mix'][regime]}, "
              f"tokens train {tok['train']['total']} (assistant {tok['train']['trained']}), "
              f"validation {tok['validation']['total']}")
    print(f"tokens counted with {m['tokenizer']}; left out: {m['left_out'] or 'nothing'}")
    print(f"-> {out} (OpenAI JSONL, ShareGPT + dataset_info.json, manifest.json)")
    return 0


def cmd_sft_train(args) -> int:
    from .training.lora import LoraRecipe, TrainExtraMissing, train_lora

    try:
        recipe = LoraRecipe(max_steps=args.max_steps, eval_steps=args.eval_steps)
        result = train_lora(args.model, args.train, args.validation, args.out, recipe=recipe)
    except (TrainExtraMissing, OSError, ValueError) as exc:  # OSError: no such model directory or hub id
        raise CLIError(str(exc)) from None
    print(f"adapter -> {result['adapter_dir']} (best validation loss {result['best_eval_loss']}, "
          f"step {result['best_step']})")
    return 0


def cmd_study_serve(args) -> int:
    from .studies.annotation_app import AnswerStore, create_app, default_db, read_tokens
    from .studies.blinded_study import StudyError

    try:
        app = create_app(args.study, args.db)
        store: AnswerStore = app.state.store
        if args.tokens:
            for name, token in read_tokens(args.tokens).items():
                store.add_annotator(name, token)
        if args.annotators:
            store.ensure_annotators(args.annotators)
    except StudyError as exc:
        raise CLIError(str(exc)) from None
    annotators = store.annotators()
    if not annotators:
        raise CLIError("no annotators: give --annotators N or --tokens FILE")
    print(f"answers: {args.db or default_db(args.study)}")
    for name, token in annotators.items():
        print(f"{name}\thttp://{args.host}:{args.port}/a/{token}")
    sys.stdout.flush()
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_study_export(args) -> int:
    from .studies.annotation_app import export_answers
    from .studies.blinded_study import StudyError

    try:
        table = export_answers(args.study, args.db)
    except StudyError as exc:
        raise CLIError(str(exc)) from None
    table.to_csv(args.out, index=False)
    print(f"{len(table)} answers ({table['annotator'].nunique()} annotators) -> {args.out}")
    return 0


def cmd_benchmark(args) -> int:
    from .run_identity import claim_run_dir, file_digest

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
    from .evolution.benchmark import run_benchmark
    from .fitness.score import FitnessModel

    backend = _backend(args)
    if args.backend == "openai" and not args.no_estimate:
        from .evolution.estimate import ROLES, estimate_benchmark, format_estimate
        from .simulation.tau2_bridge import load_tasks

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


def _int_list(text: str) -> list[int]:
    try:
        values = list(dict.fromkeys(int(v) for v in text.split(",") if v.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("no seeds given")
    return values


def _variant_list(text: str) -> list[str]:
    from .evolution.variants import parse_variants

    try:
        return parse_variants(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_ablate(args) -> int:
    from .studies.ablation import AblationSweep, cost_table

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


def _stress_conditions(text: str) -> tuple[str, ...]:
    from .studies.stress_test import CONDITIONS

    names = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown conditions {unknown or text!r}; expected some of {','.join(CONDITIONS)}")
    return tuple(c for c in CONDITIONS if c in names)  # the CSV keeps the canonical order


def cmd_stress_test(args) -> int:
    """Stress-test one agent (a class, an endpoint model, or the offline one) on the test tasks x seven user
    conditions -> OUT/stress_test.csv, OUT/stress_test.json and a figure (ppol_nb.studies.stress_test)."""
    from .run_identity import claim_run_dir, file_digest
    from .studies.stress_test import AgentClassError, StressTest, with_agent

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


class _OneLineParser(argparse.ArgumentParser):
    """argparse's parser, with a wrong flag or value reported on one line (usage is one ``--help`` away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog="ppol-nb", description=__doc__)
    p.add_argument("--version", action="version", version=f"ppol_nb {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

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

    f = sub.add_parser("fingerprint", help="19-feature fingerprints of episodes -> CSV")
    f.add_argument("episodes", help="an episodes.jsonl written by rollout")
    f.add_argument("--out", required=True)
    f.add_argument("--failure-budget", type=share, default=0.0, help="exit 3 when at least this share of records "
                   "could not be fingerprinted (default 0: any)")
    f.set_defaults(func=cmd_fingerprint)

    h = sub.add_parser("humans", help="19-feature fingerprints of a human corpus -> CSV")
    h.add_argument("--corpus", required=True, help="multiwoz | tau-usi | abcd | PATH (JSONL in the documented schema)")
    h.add_argument("--domain", help=f"keep only this domain (TAU-USI: {' or '.join(with_corpus('tau-usi'))})")
    h.add_argument("--out", required=True)
    h.set_defaults(func=cmd_humans)

    n = sub.add_parser("notebooks", help="convert notebooks/NN_*.py (jupytext) and execute them in order with "
                                         "papermill (offline default)")
    n.add_argument("--notebooks", default="notebooks", help="folder of the percent scripts")
    n.add_argument("--out", default="runs/notebooks", help="where the executed .ipynb copies go")
    n.add_argument("--parameters", help='JSON of parameters given to every notebook, e.g. \'{"backend": "offline"}\'')
    n.add_argument("--only", help="run only notebooks whose name contains this")
    n.add_argument("--llm-config", metavar="FILE|RECIPE", type=_llm_config_arg,
                   help="LLM config file or recipe given to every notebook as its llm_config parameter "
                        "(with backend openai unless --parameters says otherwise)")
    n.set_defaults(func=cmd_notebooks)

    d = sub.add_parser("data", help="human corpora: fetch from their public sources, show where they are found")
    dsub = d.add_subparsers(dest="data_command", required=True)
    df = dsub.add_parser("fetch", help="download, verify (sha256) and store corpora in the user data directory")
    df.add_argument("corpora", nargs="+", type=_corpus_arg, help="multiwoz | abcd | tau-usi")
    df.add_argument("--if-missing", action="store_true", help="skip corpora the look-up order already finds")
    df.add_argument("--dest", help="data folder to write (default $PPOL_DATA_DIR, else the user data directory)")
    df.add_argument("--timeout", type=float, default=60.0, help="network timeout per request, seconds")
    dw = dsub.add_parser("where", help="the look-up order and where each corpus is found")
    dw.add_argument("corpora", nargs="*", type=_corpus_arg, help="multiwoz | abcd | tau-usi (default: all)")
    dsub.add_parser("list", help="known corpora: licence, source, pinned checksum, local status")
    d.set_defaults(func=cmd_data)

    c = sub.add_parser("cache", help="the LLM response cache: where it is, merge caches written on other machines")
    csub = c.add_subparsers(dest="cache_command", required=True)
    csub.add_parser("where", help="the cache file runs use by default (and --cache PATH)")
    cm = csub.add_parser("merge", help="copy the entries of other cache files into one (its own entries win)")
    cm.add_argument("sources", nargs="+", help="cache files to read (left unchanged)")
    cm.add_argument("--into", metavar="PATH", type=_cache_file,
                    help="cache file to add to (default: the per-user cache runs use)")
    c.set_defaults(func=cmd_cache)

    e = sub.add_parser("evolve", help="run the PPol evolutionary search (resumable) into DIR")
    e.add_argument("--domain", choices=domain_names(), required=True)
    _add_backend_args(e)
    e.add_argument("--profile", choices=["ci", "notebook", "paper"], default="ci")
    e.add_argument("--config", help="YAML of EvolutionConfig overrides on top of the profile")
    e.add_argument("--max-iterations", type=positive_int, help="override max_iterations (may change on resume)")
    e.add_argument("--seed", type=int, help="override the search seed (parent sampling, mutations)")
    e.add_argument("--max-steps", type=int,
                   help=f"τ² step cap of training rollouts (config train_max_steps, default {TRAIN_MAX_STEPS})")
    e.add_argument("--val-max-steps", type=int,
                   help=f"τ² step cap of validation rollouts and of the baseline trained here "
                        f"(config val_max_steps, default {EVAL_MAX_STEPS})")
    e.add_argument("--corpus", default="multiwoz", help="human corpus of the fitness model: multiwoz | tau-usi | PATH")
    e.add_argument("--fitness", help="load the frozen fitness model from this directory instead")
    e.add_argument("--baseline-limit", type=positive_int, help="baseline study on the first K tasks per split only")
    e.add_argument("--train-limit", type=positive_int, help="evolve on the first K official train tasks only")
    e.add_argument("--out", required=True, help="run directory")
    e.add_argument("--resume", action="store_true", help="continue the run stored in --out")
    e.add_argument("--yes", action="store_true", help="start a paper-profile run on a paid endpoint")
    e.add_argument("--quiet", action="store_true")
    e.add_argument("--failure-budget", type=share, default=1.0, help="exit 3 when at least this share of "
                   "programs failed evaluation (default 1: all of them)")
    _add_search_budget_args(e)
    e.add_argument("--no-estimate", action="store_true",
                   help="on an endpoint, start without printing the estimate (and without its latency probe)")
    e.set_defaults(func=cmd_evolve)

    es = sub.add_parser("estimate", help="LLM calls, tokens, dollars and wall time per role of an evolve run, "
                                         "before it starts (probes the endpoint's latency)")
    es.add_argument("--domain", choices=domain_names(), required=True)
    _add_backend_args(es)
    es.add_argument("--profile", choices=["ci", "notebook", "paper"], default="ci")
    es.add_argument("--config", help="YAML of EvolutionConfig overrides on top of the profile")
    es.add_argument("--max-iterations", type=positive_int, help="override max_iterations")
    es.add_argument("--seed", type=int, help="override the search seed")
    es.add_argument("--train-limit", type=positive_int, help="evolve on the first K official train tasks only")
    _add_search_budget_args(es)
    es.add_argument("--from-run", metavar="DIR", help="an earlier evolution run: its measured shares (challengers, "
                    "new bests, failures, calls per episode) and per-call latency and tokens are used")
    es.add_argument("--no-probe", action="store_true", help="send no latency probe (roles without history: "
                    "calls and tokens only)")
    es.add_argument("--json", action="store_true", help="print the estimate as JSON")
    es.set_defaults(func=cmd_estimate)

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

    a = sub.add_parser("ablate", help="fitness ablations: search variants x seeds as resumable runs, each judged "
                                      "on the test tasks -> DIR/ablation.csv (an extension of the paper)")
    a.add_argument("--domain", choices=domain_names(), required=True)
    _add_backend_args(a)
    a.add_argument("--variants", type=_variant_list, default=["paper"],
                   help="comma-separated: paper, hl_only, coverage_only, fixed_lambda, no_reflection, "
                        "no_map_elites, no_curriculum, one_island, paired")
    a.add_argument("--seeds", type=_int_list, default=[0], help="comma-separated search seeds, e.g. 0,1,2")
    a.add_argument("--profile", choices=["ci", "notebook", "paper"], default="ci")
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

    sf = sub.add_parser("sft", help="agent-training data (default-only vs default+PPol, equal size) and LoRA training")
    sfsub = sf.add_subparsers(dest="sft_command", required=True)
    sfb = sfsub.add_parser("build", help="successful train-split episodes -> OpenAI chat JSONL + ShareGPT, both regimes")
    sfb.add_argument("episodes", nargs="+", help="episodes.jsonl files or run directories (base and PPol rollouts)")
    sfb.add_argument("--out", required=True, help="dataset directory to write")
    sfb.add_argument("--seed", type=int, default=1, help="sampling and shuffling seed (default 1, the paper's)")
    sfb.add_argument("--val-fraction", type=share, default=0.1, help="share held out for validation (default 0.1)")
    sfb.add_argument("--personas-per-task", type=positive_int, default=10, help="PPol personas kept per train task")
    sfb.add_argument("--max-examples", type=positive_int, help="cap the conversations per regime")
    sfb.add_argument("--ppol-share", type=share, help="fix the PPol share of the mixed regime (default: its pool's)")
    sfb.add_argument("--ppol-conditions", default="seed,program",
                     help="comma-separated conditions counted as PPol (default seed,program)")
    sfb.add_argument("--overwrite", action="store_true", help="replace an earlier build in --out")
    sfb.set_defaults(func=cmd_sft_build)
    sft = sfsub.add_parser("train", help="LoRA SFT with the paper's recipe (needs: pip install 'ppol_nb[train]')")
    sft.add_argument("--model", required=True, help="base model: a local directory or a Hugging Face id")
    sft.add_argument("--train", required=True, help="openai_train.jsonl from 'sft build'")
    sft.add_argument("--validation", required=True, help="openai_validation.jsonl from 'sft build'")
    sft.add_argument("--out", required=True, help="output directory (the best adapter goes to OUT/adapter)")
    sft.add_argument("--max-steps", type=positive_int, default=48, help="optimiser steps (paper: 48)")
    sft.add_argument("--eval-steps", type=positive_int, default=8, help="evaluate every N steps (paper: 8)")
    sft.set_defaults(func=cmd_sft_train)

    st = sub.add_parser("study", help="a blinded human-vs-simulator study: build, serve to annotators, export")
    stsub = st.add_subparsers(dest="study_command", required=True)
    sb = stsub.add_parser("build", help="sample conversations per source into a blinded study directory")
    sb.add_argument("--source", action="append", metavar="NAME=EPISODES",
                    help="a simulator source: run directory or episodes.jsonl (repeat; e.g. base=..., ppol=...)")
    sb.add_argument("--humans", help="human corpus (name or path) for the source 'human'")
    sb.add_argument("--domain", help="keep only human dialogues of this domain")
    sb.add_argument("--per-source", type=positive_int, help="conversations per source (default: the smallest)")
    sb.add_argument("--attention-checks", type=non_negative_int, default=2)
    sb.add_argument("--seed", type=int, default=0)
    sb.add_argument("--instructions", type=existing_file, metavar="FILE",
                    help="UTF-8 text of the instructions and consent page (default: a plain-words text with the "
                         "estimated time and what is stored)")
    sb.add_argument("--no-practice", action="store_true", help="no unscored practice conversation after consent")
    sb.add_argument("--out", required=True, help="study directory to write")
    sb.set_defaults(func=cmd_study_build)
    ss = stsub.add_parser("serve", help="serve the annotation app; every answer is appended to SQLite")
    ss.add_argument("study", help="study directory (from 'study build')")
    ss.add_argument("--port", type=int, default=8000)
    ss.add_argument("--host", default="127.0.0.1")
    ss.add_argument("--annotators", type=positive_int, help="make sure N annotators (a01 ...) have tokens")
    ss.add_argument("--tokens", help="file of 'ANNOTATOR TOKEN' lines to register")
    ss.add_argument("--db", help="answers store (default STUDY/answers.sqlite)")
    ss.set_defaults(func=cmd_study_serve)
    se = stsub.add_parser("export", help="latest answer per annotator and item, joined with the source key -> CSV")
    se.add_argument("study")
    se.add_argument("--out", required=True)
    se.add_argument("--db", help="answers store (default STUDY/answers.sqlite)")
    se.set_defaults(func=cmd_study_export)
    return p


# What a user's mistake raises below the CLI: one line on stderr and exit status 2, never a traceback.
USER_MISTAKES = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, UnicodeDecodeError,
                 json.JSONDecodeError, ValueError)


def _user_error(args, exc: BaseException) -> int:
    command = " ".join(str(v) for v in (getattr(args, "command", None), *(getattr(args, k, None) for k in
                       sorted(vars(args)) if k.endswith("_command"))) if v)
    if isinstance(exc, OSError) and exc.filename is not None:
        message = f"{exc.filename}: {exc.strerror or exc}"
    elif isinstance(exc, UnicodeDecodeError):
        message = f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    elif isinstance(exc, (CLIError,)) or type(exc).__module__.startswith("ppol_nb"):
        message = str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    message = " ".join(message.split())  # one line, whatever the exception's text
    print(f"ppol-nb {command}: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    from .personas.isolation import SandboxUnavailable, allow_unsandboxed
    from .run_identity import RunDirError
    from .simulation.store import EpisodeFileError

    args = build_parser().parse_args(argv)
    if hasattr(args, "backend") and args.backend is None:  # a file or a per-role flag names endpoints
        args.backend = "openai" if args.llm_config or _role_settings(args) else "offline"
    if getattr(args, "unsafe_no_sandbox", False):
        allow_unsandboxed()
    executor = None
    try:
        # Passed to whatever starts episodes (no process-wide default); None: threads of this process.
        executor = args.executor_object = _executor(args)
        return args.func(args)
    except (CLIError, RunDirError, SandboxUnavailable, EpisodeFileError) as exc:
        return _user_error(args, exc)
    except USER_MISTAKES as exc:
        # The boundary of every subcommand: a path that is missing or unreadable, a file that is not
        # UTF-8 or not JSON, a value the package refuses (ValueError) is the user's to fix, not a crash.
        return _user_error(args, exc)
    finally:
        if executor is not None:
            executor.close()


def _episode_executor(args):
    """The executor ``main`` made from ``--executor`` for this command (None: threads of this process)."""
    return getattr(args, "executor_object", None)


def _executor(args):
    """The executor ``--executor`` names (None: the default, threads of this process)."""
    kind = getattr(args, "executor", "local")
    workers, address = getattr(args, "executor_workers", None), getattr(args, "ray_address", None)
    if kind == "local" and workers is None and address is None:
        return None
    from .execution import make_executor

    try:
        return make_executor(kind, workers=workers, address=address)
    except ValueError as exc:
        raise CLIError(f"--executor {kind}: {exc}") from None


if __name__ == "__main__":
    raise SystemExit(main())
