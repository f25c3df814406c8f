"""Every ``ppol-nb`` subcommand turns a missing input into one line on stderr and exit status 2.

The subcommands are enumerated from the argparse parser, so a new one is covered without editing
this file. Each is run in a fresh interpreter (as a user runs it) with every required argument
pointing below a regular file, a path that can neither be read nor created."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ppol_nb.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _leaves(parser, path=()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from _leaves(child, (*path, name))


def _valued(parser):
    return [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
            and a.nargs != 0]


def _argv(parser, bad: str) -> list[str] | None:
    """Required arguments all given ``bad`` (or a valid choice); with none required, the first
    valued option gets ``bad``; None if the subcommand takes no value at all."""
    actions = [a for a in _valued(parser) if a.required or not a.option_strings]
    if not actions:
        actions = _valued(parser)[:1]
        if not actions:
            return None
    argv: list[str] = []
    for a in actions:
        value = str(a.choices[0] if a.choices else bad)
        argv += [a.option_strings[0], value] if a.option_strings else [value]
    return argv


LEAVES = sorted(_leaves(build_parser()))


def _run(argv, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PPOL_NB_CACHE": str(tmp_path / "cache"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "xdg-cache")}
    return subprocess.run([sys.executable, "-m", "ppol_nb.cli", *argv], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


def test_the_walk_finds_the_study_subcommands():
    names = {" ".join(path) for path, _ in LEAVES}
    assert {"study build", "study serve", "study export", "rollout"} <= names


@pytest.mark.parametrize("path,parser", LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_missing_input_is_one_line_and_exit_2(path, parser, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    bad = str(blocker / "missing")
    argv = _argv(parser, bad)
    if argv is None or bad not in argv:  # takes no input that could be missing: it must simply work
        done = _run([*path, *(argv or [])], tmp_path)
        assert done.returncode == 0, done.stderr
        return
    if path == ("study", "build"):
        argv += ["--source", f"base={bad}"]
    done = _run([*path, *argv], tmp_path)
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("ppol-nb "), done.stderr


def test_help_lists_every_subcommand():
    done = subprocess.run([sys.executable, "-m", "ppol_nb.cli", "--help"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert done.returncode == 0
    for path, _ in LEAVES:
        assert path[0] in done.stdout
