"""``ppol-nb fingerprint`` and ``ppol-nb humans``: the 19-feature fingerprints of episodes or of a human corpus -> CSV."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..domains import with_corpus
from ..provenance import provenance
from .checks import (
    CLIError,
    check_failures,
    existing_file,
    share,
)


def cmd_fingerprint(args) -> int:
    from ..fitness import fingerprint_frame
    from ..fitness.fingerprint import user_turns
    from ..simulation.store import read_episode_lines

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

    from ..fitness import FEATURES, fingerprints
    from ..humans import attributions, load_corpus

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


def register(sub) -> None:
    """``fingerprint`` and ``humans``."""
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
