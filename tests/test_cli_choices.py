"""The CLI's choice lists are the registries' names, so a new executor, profile or domain needs no CLI edit."""

from __future__ import annotations

import argparse

import pytest

from ppol_nb import domains
from ppol_nb.cli import build_parser
from ppol_nb.evolution.config import PROFILES, EvolutionConfig
from ppol_nb.execution import EXECUTORS


def _subparsers(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, (*path, name))


def _choices(flag: str) -> dict[str, tuple]:
    found = {}
    for path, parser in _subparsers(build_parser()):
        for action in parser._actions:
            if flag in action.option_strings and action.choices is not None:  # humans --domain: free text
                found[" ".join(path)] = tuple(action.choices)
    return found


@pytest.mark.parametrize("flag, names", [("--executor", tuple(EXECUTORS)), ("--profile", tuple(sorted(PROFILES))),
                                         ("--domain", tuple(domains.names()))])
def test_every_command_offers_the_registry_names(flag, names):
    found = _choices(flag)
    assert found, f"no command takes {flag}"
    assert set(found.values()) == {names}, found


def test_the_profiles_the_cli_offers_are_the_ones_the_config_applies():
    for name in _choices("--profile")["evolve"]:
        assert EvolutionConfig.profile(name).profile_name == name
