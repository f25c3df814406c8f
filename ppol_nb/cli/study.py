"""``ppol-nb study build|serve|export``: a blinded human-vs-simulator study (:mod:`ppol_nb.apps`)."""

from __future__ import annotations

import sys
from pathlib import Path

from .checks import (
    CLIError,
    existing_file,
    non_negative_int,
    positive_int,
)


def cmd_study_build(args) -> int:
    from ..apps.blinded_study import StudyError, build_study
    from ..humans import load_corpus

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


def cmd_study_serve(args) -> int:
    from ..apps.annotation_app import AnswerStore, create_app, default_db, read_tokens
    from ..apps.blinded_study import StudyError

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
    from ..apps.annotation_app import export_answers
    from ..apps.blinded_study import StudyError

    try:
        table = export_answers(args.study, args.db)
    except StudyError as exc:
        raise CLIError(str(exc)) from None
    table.to_csv(args.out, index=False)
    print(f"{len(table)} answers ({table['annotator'].nunique()} annotators) -> {args.out}")
    return 0


def register(sub) -> None:
    """``study build|serve|export``."""
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
