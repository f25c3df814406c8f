"""Fast, exact τ² environments for retail and airline.

An offline τ² episode spends nearly all its time building environments (each
re-reads and validates ``db.json``: the Orchestrator's, then the evaluator's
"predicted" and "gold" ones) and hashing databases. The environments made here
are real τ² ``Environment`` objects with the domain's real tools and policy, but

1. the DB is loaded once per process and shared read-only (:mod:`.db_snapshot`);
2. an environment gets a private copy just before its first non-READ call
   (copy-on-write, :mod:`.copy_on_write`), and copies only the DB entries it
   touches;
3. DB hashes are memoised by the ordered log of state-changing calls.

Rewards are unchanged: ``tests/test_environments.py`` scores gold-replay,
do-nothing and wrong-write trajectories on every task both ways.

Use::

    env = make_environment("retail")                   # for the Orchestrator
    evaluate_simulation(sim, task, EvaluationType.ALL, solo_mode=False,
                        domain=fast_domain("retail"))   # stock evaluator, fast envs

:func:`fast_domain` registers the fast constructor in τ²'s registry under
``"<domain>@ppol_nb"`` — the only global change made to τ². In the evaluator
path the domain name is used solely to look up that constructor
(``evaluate_simulation`` → ``registry.get_env_constructor``); tasks are passed
in explicitly and the environments still report ``domain_name == "retail"``.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from ..domains import get as domain_entry
from .copy_on_write import FastEnvironment, copy_on_write_class
from .db_snapshot import PRISTINE_KEY, pristine_db
from .tau2_bridge import DOMAINS, tau2_modules

FAST_SUFFIX = "@ppol_nb"
_register_lock = threading.Lock()


def _check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
    if not domain_entry(domain).fast_environment:
        raise NotImplementedError(f"{domain}: the registry (ppol_nb.domains) says the fast environment does not serve it")


def fast_environment(domain: str, solo_mode: bool = False):
    """A copy-on-write τ² environment of ``domain`` (same contract as τ²'s constructor)."""
    _check_domain(domain)
    snapshot = pristine_db(domain)
    # The domain's own get_environment(db=...) supplies the policy and toolkit class
    # (and raises for solo_mode exactly as the stock constructor does).
    stock = tau2_modules().registry.get_env_constructor(domain)(db=snapshot.db, solo_mode=solo_mode)
    if type(stock) is not tau2_modules().Environment or stock.user_tools is not None:
        raise NotImplementedError(f"{domain}: only plain Environments without user tools are supported")
    tools = copy_on_write_class(type(stock.tools))(snapshot)
    return FastEnvironment(
        domain_name=stock.domain_name,
        policy=stock.policy,
        tools=tools,
        user_tools=None,
        solo_mode=stock.solo_mode,
    )


def make_environment(domain: str, fast: bool = True, solo_mode: bool = False):
    """A τ² environment for ``domain``: fast (copy-on-write) or τ²'s stock one."""
    _check_domain(domain)
    if fast:
        return fast_environment(domain, solo_mode=solo_mode)
    return tau2_modules().registry.get_env_constructor(domain)(solo_mode=solo_mode)


def fast_domain(domain: str) -> str:
    """Register (once) the fast constructor in τ²'s registry and return its name.

    Pass the name as ``domain=`` to τ²'s ``evaluate_simulation`` so that its
    predicted and gold environments are fast ones.
    """
    _check_domain(domain)
    name = f"{domain}{FAST_SUFFIX}"
    registry = tau2_modules().registry
    with _register_lock:
        if name not in registry.get_domains():
            registry.register_domain(functools.partial(fast_environment, domain), name)
    return name


def pristine_hash_unchanged(domain: str) -> bool:
    """Safety check: does the shared snapshot still hash (the slow way) as when loaded?"""
    _check_domain(domain)
    return pristine_db(domain).hash_unchanged()


def clear_hash_memo(domain: str | None = None) -> None:
    """Forget memoised hashes (all but the pristine one), e.g. for cold benchmarks."""
    for d in [domain] if domain else DOMAINS:
        pristine_db(d).hash_memo.clear(keep=PRISTINE_KEY)


def environment_stats(domain: str) -> dict[str, Any]:
    """Counters: private DBs made, entries copied, hash-memo entries/hits/misses."""
    _check_domain(domain)
    return pristine_db(domain).stats()
