"""Input checks and failure accounting for the command line.

Bad input is an error, never a silent default: counts are positive integers
(``--limit 0`` used to mean "everything", ``--limit -1`` "all but one"), named
files and directories must exist and not be empty, and a program file is read
before anything is run. A command whose failed share reaches its
``--failure-budget`` exits with status 3 and prints what failed and why.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from urllib.parse import urlsplit

FAILURE_EXIT = 3


class CLIError(RuntimeError):
    """A bad argument or input, reported as ``ppol-nb CMD: error: ...`` with exit status 2."""


def _number(text: str, kind, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def positive_int(text: str) -> int:
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _number(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float, "a number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def share(text: str) -> float:
    value = _number(text, float, "a number")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, got {text}")
    return value


def existing_file(path, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{what} {p} does not exist")
    if not p.is_file():
        raise CLIError(f"{what} {p} is not a file")
    if p.stat().st_size == 0:
        raise CLIError(f"{what} {p} is empty")
    return p


def existing_dir(path, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise CLIError(f"{what} {p} is not an existing directory")
    if not any(p.iterdir()):
        raise CLIError(f"{what} {p} is empty")
    return p


def program_file(path) -> str:
    p = existing_file(path, "generator program")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CLIError(f"generator program {p} is not UTF-8 text: {exc}") from None
    if not text.strip():
        raise CLIError(f"generator program {p} holds only whitespace")
    return text


def require_sandbox() -> None:
    """Refuse (SandboxUnavailable) before any work when LLM-written programs cannot be isolated."""
    from ..personas.isolation import require_isolation

    require_isolation()


def paid_endpoint(base_url: str | None) -> bool:
    """Whether requests leave this machine (None is the SDK default, api.openai.com)."""
    if not base_url:
        return True
    host = urlsplit(base_url if "://" in base_url else f"http://{base_url}").hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def check_failures(command: str, failed: int, total: int, budget: float, reasons: dict | None = None) -> int:
    """0, or :data:`FAILURE_EXIT` with a summary on stderr when ``failed / total`` reaches ``budget``.

    Nothing to do at all (``total == 0``) counts as a failure too.
    """
    if total == 0:
        print(f"ppol-nb {command}: FAILED: nothing was produced", file=sys.stderr)
        return FAILURE_EXIT
    if failed == 0 or failed / total < budget:
        return 0
    why = "; ".join(f"{n} x {reason}" for reason, n in sorted((reasons or {}).items(), key=lambda kv: -kv[1]))
    print(f"ppol-nb {command}: FAILED: {failed} of {total} failed ({failed / total:.0%}, failure budget "
          f"{budget:.0%})" + (f": {why}" if why else ""), file=sys.stderr)
    return FAILURE_EXIT
