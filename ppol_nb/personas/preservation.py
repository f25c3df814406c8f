"""Task preservation, measured: does a persona instruction leave the task unchanged?

PPol enforces preservation only by construction (the policy is appended; prompts
ask to keep goals and facts) and reports no metric. This static check flags an
instruction that

* introduces identifiers, amounts, dates or other numbers that are not in the
  task's scenario (a persona must not hand the user new facts);
* names catalogue items (retail products, airline airports/cities) absent from the
  scenario (a different item is a different task);
* introduces goals: request verbs (cancel, return, exchange, refund, book, upgrade,
  …) that the scenario never mentions, or phrases that drop or replace the goal
  ("you no longer want", "forget about", "instead of returning").

It is deliberately conservative; a flagged persona still runs, and the flag is
stored with its episodes so results can be split by it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ..domains import get as domain_entry
from ..simulation.scenario import tokens

_ID = re.compile(r"#?[A-Z]\d{5,}|\b[A-Z0-9]{6}\b|[\w.+-]+@[\w-]+\.[\w.]+|\b[a-z]+_[a-z]+_\d{3,}\b")
_AMOUNT = re.compile(r"\$\s?\d[\d,]*(?:\.\d+)?|\b\d+(?:\.\d+)?\s?(?:dollars|usd)\b", re.I)
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}\b", re.I)
_NUMBER = re.compile(r"\b\d{2,}\b")
_GOAL_VERBS = ("cancel", "return", "exchange", "refund", "book", "upgrade", "downgrade", "modify", "compensation",
               "certificate", "reschedule")
_GOAL_DROP = re.compile(
    r"\b(no longer (want|need)|forget (about )?(the|your) (request|order|refund|return|exchange)|"
    r"changed? (your|their) mind about what|don't actually want|instead of (cancel|return|exchang|book|refund)\w*)\b",
    re.I)


@dataclass
class PreservationReport:
    ok: bool
    violations: list[str] = field(default_factory=list)


@functools.cache
def _catalogue(domain: str) -> tuple[str, ...]:
    """Item names a persona could wrongly introduce: retail products, airline airports/cities."""
    from ..simulation.environments import make_environment

    db = make_environment(domain).tools.db
    if domain_entry(domain).catalogue == "products":
        names = {p.name for p in db.products.values()}
    else:  # "places": the cities and airports flights connect
        names = {f.origin for f in db.flights.values()} | {f.destination for f in db.flights.values()}
    return tuple(sorted(n for n in names if n))


def _norm(text: str) -> str:
    return " " + " ".join(tokens(text)) + " "


def check_instruction(instruction: str, scenario_text: str, domain: str) -> PreservationReport:
    """Static preservation check of one persona instruction against its task's scenario."""
    scen = _norm(scenario_text)
    violations = []
    rest = instruction
    for kind, pattern in (("identifier", _ID), ("amount", _AMOUNT), ("date", _DATE), ("number", _NUMBER)):
        for match in pattern.finditer(rest):
            if _norm(match.group(0)) not in scen:
                violations.append(f"{kind} not in scenario: {match.group(0)!r}")
        rest = pattern.sub(" ", rest)  # a date's digits are not also reported as numbers
    text = _norm(instruction)
    for item in _catalogue(domain):
        if _norm(item) in text and _norm(item) not in scen:
            violations.append(f"item not in scenario: {item!r}")
    for verb in _GOAL_VERBS:
        form = rf" {verb}(?:s|d|ed|ing|led|ling|lation|ation|ion|s)? "  # verb forms, not 'bookkeeper'
        if re.search(form, text) and not re.search(form, scen):
            violations.append(f"goal not in scenario: {verb!r}")
    if _GOAL_DROP.search(instruction):
        violations.append(f"drops or replaces the goal: {_GOAL_DROP.search(instruction).group(0)!r}")
    return PreservationReport(ok=not violations, violations=sorted(set(violations)))
