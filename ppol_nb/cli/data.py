"""``ppol-nb data fetch|where|list``: the human corpora on this machine (:mod:`ppol_nb.humans.fetch`)."""

from __future__ import annotations

import argparse


def _corpus_arg(value: str) -> str:
    from ..humans.paths import canonical_name

    try:
        return canonical_name(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_data(args) -> int:
    """``ppol-nb data fetch|where|list``: human corpora on this machine (see ppol_nb.humans.fetch)."""
    import sys
    import warnings

    from ..humans import fetch as data
    from ..humans import paths

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


def register(sub) -> None:
    """``data fetch|where|list``."""
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
