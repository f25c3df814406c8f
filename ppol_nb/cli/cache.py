"""``ppol-nb cache where|merge``: the LLM response cache file, and merging caches of several machines."""

from __future__ import annotations

from pathlib import Path

from .backend_args import (
    _cache_file,
)
from .checks import (
    existing_file,
)


def cmd_cache(args) -> int:
    """``ppol-nb cache where|merge``: the response cache file, and merging caches of several machines."""
    from ..llm.cache import ResponseCache, resolve_cache_path

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


def register(sub) -> None:
    """``cache where|merge``."""
    c = sub.add_parser("cache", help="the LLM response cache: where it is, merge caches written on other machines")
    csub = c.add_subparsers(dest="cache_command", required=True)
    csub.add_parser("where", help="the cache file runs use by default (and --cache PATH)")
    cm = csub.add_parser("merge", help="copy the entries of other cache files into one (its own entries win)")
    cm.add_argument("sources", nargs="+", help="cache files to read (left unchanged)")
    cm.add_argument("--into", metavar="PATH", type=_cache_file,
                    help="cache file to add to (default: the per-user cache runs use)")
    c.set_defaults(func=cmd_cache)
