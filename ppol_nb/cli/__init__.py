"""Command line: ``ppol-nb rollout`` runs episodes, ``ppol-nb notebooks`` runs the series,
``ppol-nb evolve`` runs the PPol search (``ppol-nb estimate`` says what one will cost first), ``ppol-nb benchmark`` the held-out conditions,
``ppol-nb ablate`` the fitness ablations (search variants x seeds, held-out evaluation),
``ppol-nb data`` fetches the human corpora, ``ppol-nb cache`` locates and merges response caches,
``ppol-nb sft`` builds the agent-training datasets (and trains a LoRA adapter with the ``train`` extra) and
``ppol-nb study`` builds, serves and exports a blinded human-vs-simulator study.
Every command that runs episodes or a search takes ``--llm-config FILE|paper|local`` and per-role flags
(``--agent-model`` ...; docs/llm-config.md).
A user's mistake (a missing or unreadable path, a refused value) is one line on stderr and exit status 2."""

# The package, one module per subcommand or group: backend_args (the backend, LLM and executor flags every
# episode-running command shares), checks (argument types and the checks a command runs before it
# writes), rollout, fingerprints (fingerprint, humans), notebooks, data, cache, search (evolve,
# estimate), benchmark, stress_test, ablate, sft, study. Each registers its subparsers; the order below
# is the order of ``ppol-nb --help``.

from __future__ import annotations

import argparse
import json
import sys

from .. import __version__
from . import (
    ablate,
    benchmark,
    cache,
    data,
    fingerprints,
    notebooks,
    rollout,
    search,
    sft,
    stress_test,
    study,
)
from .backend_args import _executor, _role_settings
from .checks import CLIError


class _OneLineParser(argparse.ArgumentParser):
    """argparse's parser, with a wrong flag or value reported on one line (usage is one ``--help`` away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog="ppol-nb", description=__doc__)
    p.add_argument("--version", action="version", version=f"ppol_nb {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    rollout.register(sub)
    fingerprints.register(sub)
    notebooks.register(sub)
    data.register(sub)
    cache.register(sub)
    search.register(sub)
    benchmark.register(sub)
    stress_test.register(sub)
    ablate.register(sub)
    sft.register(sub)
    study.register(sub)
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
    from ..personas.isolation import SandboxUnavailable, allow_unsandboxed
    from ..run_identity import RunDirError
    from ..simulation.store import EpisodeFileError

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

