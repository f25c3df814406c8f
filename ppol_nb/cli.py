"""Command line: ``ppol-nb rollout`` runs episodes, ``ppol-nb notebooks`` runs the series,
``ppol-nb evolve`` runs the PPol search, ``ppol-nb benchmark`` the held-out conditions and
``ppol-nb data`` fetches the human corpora."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import __version__
from .provenance import provenance
from .simulation.step_caps import DEFAULT_MAX_STEPS, EVAL_MAX_STEPS, TRAIN_MAX_STEPS


def _backend(args):
    from .backends import make_backend

    if args.backend == "openai" and not args.model:
        raise SystemExit("--backend openai needs --model (and usually --base-url)")
    return make_backend(args.backend, model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
                        user_model=args.user_model, temperature=args.temperature,
                        cache_path=args.cache or str(Path(args.out) / "llm_cache.sqlite"),
                        max_concurrency=args.max_workers, agent=args.agent)


def _condition_specs(args, backend, out: Path):
    from .personas.conditions import condition_specs

    world = None
    if args.condition in ("seed", "dp", "program"):
        world = backend.generator(seed=args.generation_seed)
    return condition_specs(args.condition, args.domain, args.split, n_personas=args.n_personas, seeds=(args.seed,),
                           limit=args.limit, world=world, cache_dir=out / "personas", program=args.program,
                           generation_seed=args.generation_seed)


def cmd_rollout(args) -> int:
    from .simulation.runner import run_episodes, summarize

    backend = _backend(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    specs, failures = _condition_specs(args, backend, out)
    manifest = provenance({"command": "rollout", "args": {k: v for k, v in vars(args).items() if k != "func"},
                           "backend": backend.describe(), "n_specs": len(specs)})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    df = run_episodes(specs, backend, out, max_workers=args.max_workers,
                      max_steps=args.max_steps, progress=not args.quiet)
    summary = summarize(df)
    if failures:
        (out / "generation_failures.jsonl").write_text("".join(json.dumps(f) + "\n" for f in failures))
        print(f"persona generation failed for {len(failures)} task(s): see {out / 'generation_failures.jsonl'}")
    failures = int(df["error"].notna().sum()) if not df.empty else 0
    rate = float(df["success"].mean()) if not df.empty else 0.0
    print(f"{args.domain}/{args.split} condition={args.condition} backend={backend.name} agent={backend.agent_model}: "
          f"episodes={len(df)} success_rate={rate:.3f} failures={failures} -> {out / 'episodes.jsonl'}")
    if args.verbose:
        print(summary.to_string(index=False))
    return 0


def cmd_fingerprint(args) -> int:
    from .fitness import fingerprint_frame
    from .simulation.store import EpisodeStore

    path = Path(args.episodes)
    episodes = EpisodeStore(path.parent).load() if path.name == "episodes.jsonl" else [
        json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    df = fingerprint_frame([e for e in episodes if not e.get("error")])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    print(f"{len(df)} episodes fingerprinted ({len(episodes) - len(df)} errored skipped) -> {args.out}")
    return 0


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

    run_series(Path(args.notebooks), Path(args.out), parameters=json.loads(args.parameters or "{}"),
               only=args.only)
    return 0


def _add_backend_args(p) -> None:
    """The backend options of ``rollout``, for the evolve and benchmark commands."""
    p.add_argument("--backend", choices=["offline", "openai"], default="offline")
    p.add_argument("--agent", choices=["offline", "do-nothing"], default="offline", help="offline backend only")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    p.add_argument("--model", help="model name for every role (openai backend)")
    p.add_argument("--user-model", help="separate model for the user simulator")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="name of the environment variable holding the key ('' for local servers)")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--cache", help="SQLite response cache (default OUT/llm_cache.sqlite)")
    p.add_argument("--max-workers", type=int, default=8, help="concurrent episodes (openai backend)")


def cmd_evolve(args) -> int:
    from .evolution.budget import estimate, format_estimate
    from .evolution.config import EvolutionConfig
    from .evolution.curriculum import split_validation
    from .simulation.tau2_bridge import load_tasks

    config = (EvolutionConfig.from_yaml(args.config, base=args.profile) if args.config
              else EvolutionConfig.profile(args.profile))
    if args.max_iterations is not None:
        config = config.replace(max_iterations=args.max_iterations)
    if args.seed is not None:
        config = config.replace(seed=args.seed)
    if args.max_steps is not None:
        config = config.replace(train_max_steps=args.max_steps)
    if args.val_max_steps is not None:
        config = config.replace(val_max_steps=args.val_max_steps)
    if args.profile == "paper":
        train = load_tasks(args.domain, "train")
        train = train[:args.train_limit] if args.train_limit else train
        pool, val = split_validation([t.id for t in train])
        print(f"cost estimate ({args.domain}, profile paper, {config.max_iterations} iterations):")
        print(format_estimate(estimate(pool, len(val), config.max_iterations)))
        if args.backend == "openai" and not args.yes:
            print("this run calls a paid endpoint: pass --yes to start it")
            return 2
    from .evolution.runs import build_run

    backend = _backend(args)
    try:
        run = build_run(args.domain, backend, args.out, config=config, corpus=args.corpus, fitness_dir=args.fitness,
                        baseline_limit=args.baseline_limit, train_limit=args.train_limit, resume=args.resume,
                        progress=not args.quiet,
                        max_workers=args.max_workers)
    except FileExistsError as exc:
        raise SystemExit(f"{exc} (--resume)") from None
    summary = run.engine.run(progress=not args.quiet)
    print(summary)
    return 0


def cmd_benchmark(args) -> int:
    from .evolution.benchmark import run_benchmark
    from .fitness.score import FitnessModel

    args.cache = args.cache or str(Path(args.out).parent / "llm_cache.sqlite")  # --out is a file here
    backend = _backend(args)
    model = FitnessModel.load(args.fitness) if args.fitness else None
    table = run_benchmark(args.run, args.domain, backend, fitness_model=model, out_csv=args.out,
                          n_personas=args.n_personas, limit=args.limit, human_corpus=args.corpus,
                          max_steps=args.max_steps,
                          max_workers=args.max_workers,
                          progress=not args.quiet)
    print(table[["condition", "n_tasks", "n_episodes", "hl", "coverage", "score", "usi", "success_rate"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"-> {args.out} (episodes: {Path(args.out).parent / 'episodes.jsonl'})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ppol-nb", description=__doc__)
    p.add_argument("--version", action="version", version=f"ppol_nb {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("rollout", help="run τ² episodes and write DIR/episodes.jsonl")
    r.add_argument("--domain", choices=["retail", "airline"], required=True)
    r.add_argument("--split", choices=["train", "test"], default="test")
    _add_backend_args(r)
    r.add_argument("--condition", default="base",
                   help="base | dp | seed | program | trait:{skeptical,incoherent,impatient,confusion}")
    r.add_argument("--n-personas", type=int, default=5, help="personas per task (dp, seed, program)")
    r.add_argument("--program", help="generator program file (condition 'program')")
    r.add_argument("--generation-seed", type=int, default=0, help="seed of persona generation")
    r.add_argument("--limit", type=int, help="only the first K tasks of the split")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS, help="τ² step cap (default: τ²'s 100)")
    r.add_argument("--out", required=True)
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--verbose", action="store_true")
    r.set_defaults(func=cmd_rollout)

    f = sub.add_parser("fingerprint", help="19-feature fingerprints of episodes -> CSV")
    f.add_argument("episodes", help="an episodes.jsonl written by rollout")
    f.add_argument("--out", required=True)
    f.set_defaults(func=cmd_fingerprint)

    h = sub.add_parser("humans", help="19-feature fingerprints of a human corpus -> CSV")
    h.add_argument("--corpus", required=True, help="multiwoz | tau-usi | abcd | PATH (JSONL in the documented schema)")
    h.add_argument("--domain", help="keep only this domain (TAU-USI: retail or airline)")
    h.add_argument("--out", required=True)
    h.set_defaults(func=cmd_humans)

    n = sub.add_parser("notebooks", help="execute notebooks/ in order with papermill (offline default)")
    n.add_argument("--notebooks", default="notebooks")
    n.add_argument("--out", default="runs/notebooks", help="where executed copies go")
    n.add_argument("--parameters", help='JSON of parameters given to every notebook, e.g. \'{"backend": "offline"}\'')
    n.add_argument("--only", help="run only notebooks whose name contains this")
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

    e = sub.add_parser("evolve", help="run the PPol evolutionary search (resumable) into DIR")
    e.add_argument("--domain", choices=["retail", "airline"], required=True)
    _add_backend_args(e)
    e.add_argument("--profile", choices=["ci", "paper"], default="ci")
    e.add_argument("--config", help="YAML of EvolutionConfig overrides on top of the profile")
    e.add_argument("--max-iterations", type=int, help="override max_iterations (may change on resume)")
    e.add_argument("--seed", type=int, help="override the search seed (parent sampling, mutations)")
    e.add_argument("--max-steps", type=int,
                   help=f"τ² step cap of training rollouts (config train_max_steps, default {TRAIN_MAX_STEPS})")
    e.add_argument("--val-max-steps", type=int,
                   help=f"τ² step cap of validation rollouts and of the baseline trained here "
                        f"(config val_max_steps, default {EVAL_MAX_STEPS})")
    e.add_argument("--corpus", default="multiwoz", help="human corpus of the fitness model: multiwoz | tau-usi | PATH")
    e.add_argument("--fitness", help="load the frozen fitness model from this directory instead")
    e.add_argument("--baseline-limit", type=int, help="baseline study on the first K tasks per split only")
    e.add_argument("--train-limit", type=int, help="evolve on the first K official train tasks only")
    e.add_argument("--out", required=True, help="run directory")
    e.add_argument("--resume", action="store_true", help="continue the run stored in --out")
    e.add_argument("--yes", action="store_true", help="start a paper-profile run on a paid endpoint")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_evolve)

    b = sub.add_parser("benchmark", help="Humans, Base, DP, PPol Initial and Evolved on the test tasks -> CSV")
    b.add_argument("--run", required=True, help="an evolution run directory, or a generator program .py")
    b.add_argument("--domain", choices=["retail", "airline"], required=True)
    _add_backend_args(b)
    b.add_argument("--fitness", help="frozen fitness model directory (default RUN/fitness/DOMAIN)")
    b.add_argument("--corpus", help="human corpus of the Humans row (default: the fitness model's)")
    b.add_argument("--n-personas", type=int, default=10)
    b.add_argument("--max-steps", type=int, default=EVAL_MAX_STEPS, help="τ² step cap of every episode")
    b.add_argument("--limit", type=int, help="only the first K test tasks")
    b.add_argument("--out", required=True, help="CSV path; episodes.jsonl and a provenance .json go beside it")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=cmd_benchmark)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
