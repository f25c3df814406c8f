"""The τ² domains ppol_nb runs, and every per-domain fact the package uses: one table.

A domain is one :class:`Domain` entry in :data:`DOMAINS` (plus, where a fact is a rule rather than a
value, the rule it names): its τ² task splits, the human corpora that hold dialogues of it, whether
the fast copy-on-write environment serves it, what a persona could wrongly bring into it, the offline
user's domain words, and the key the paper's tables use for it. Every other module looks a domain up
here (:func:`get`, :func:`names`, :func:`with_corpus`) instead of spelling its name, which
``tests/test_domains.py`` checks over the package's sources.

The paper evaluates τ²-bench retail and airline (arXiv:2605.12894 §4, Tables 2–8); τ²'s ``telecom``
is not registered (its user has tools, which neither the fast environment nor the offline world
serve). This module imports nothing from ppol_nb: every room may use it.
"""

from __future__ import annotations

from dataclasses import dataclass

RETAIL = "retail"
AIRLINE = "airline"


@dataclass(frozen=True)
class OfflineRules:
    """What the offline user (:mod:`ppol_nb.offline.behaviours`) says that depends on the domain."""

    item_verb: str  # how a vague mention refers to the task's items: "the thing I <verb>"
    digressions: tuple[str, ...]  # side remarks (rules in behaviours.DIGRESSIONS' comment)


@dataclass(frozen=True)
class Domain:
    name: str  # τ²'s domain name (its registry key) and the paper's table key
    splits: tuple[str, ...]  # τ²'s official task splits
    human_corpora: tuple[str, ...]  # corpus ids (humans.loader) whose dialogues carry this domain
    catalogue: str  # what a persona could wrongly introduce (personas.preservation): "products" | "places"
    offline: OfflineRules
    fast_environment: bool = True  # served by simulation.environments' copy-on-write environment
    in_paper: bool = True  # the paper reports numbers for it (ppol_nb.paper rows keyed by ``name``)


DOMAINS: dict[str, Domain] = {d.name: d for d in (
    Domain(RETAIL, splits=("train", "test"), human_corpora=("tau-usi", "abcd"), catalogue="products",
           offline=OfflineRules(item_verb="ordered", digressions=(
               "By the way, do you have a mobile app, or is it all on the website?",
               "Random question, how long does standard shipping usually take?",
               "Unrelated, but is there a newsletter for new stuff?",
               "Side note, your website kept logging me out earlier.",
               "Do you guys have a physical store anywhere or just online?",
               "My neighbour swears by your stuff, that is how I found you.",
           ))),
    Domain(AIRLINE, splits=("train", "test"), human_corpora=("tau-usi",), catalogue="places",
           offline=OfflineRules(item_verb="booked", digressions=(
               "By the way, is there wifi on most of your planes?",
               "Random question, how early should I get to the airport these days?",
               "Unrelated, but do you have lounges at most airports?",
               "Side note, your app kept logging me out earlier.",
               "Is the food on the longer flights any good these days?",
               "My sister flies with you all the time, that is how I ended up here.",
           ))),
)}

DEFAULT_DOMAIN = RETAIL  # the default of every command and study that takes one domain
# The paper's single-domain results — Table 6 importances (Retail / DeepSeek-V3.1) and the §5.4
# human study — are retail's; Table 8 trains one agent on these domains jointly.
PAPER_SINGLE_DOMAIN = RETAIL
PAPER_JOINT_DOMAINS = (RETAIL, AIRLINE)
# The registered domains the paper reports numbers for: the default of multi-domain studies.
PAPER_DOMAINS = tuple(d.name for d in DOMAINS.values() if d.in_paper)


def names() -> tuple[str, ...]:
    """Every registered domain, in table order (what ``--domain`` offers)."""
    return tuple(DOMAINS)


def get(name: str) -> Domain:
    """The entry of ``name``; a clear error for a domain that is not registered."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise ValueError(f"unknown domain {name!r}; expected one of {names()}") from None


def with_corpus(corpus: str) -> tuple[str, ...]:
    """The domains whose dialogues the human corpus ``corpus`` (a loader id) holds."""
    return tuple(d.name for d in DOMAINS.values() if corpus in d.human_corpora)


def joint_key(domains) -> str:
    """How the paper's Table 8 names an agent trained on several domains at once: ``a+b``."""
    return "+".join(domains)


__all__ = [
    "AIRLINE",
    "DEFAULT_DOMAIN",
    "DOMAINS",
    "PAPER_DOMAINS",
    "PAPER_JOINT_DOMAINS",
    "PAPER_SINGLE_DOMAIN",
    "RETAIL",
    "Domain",
    "OfflineRules",
    "get",
    "joint_key",
    "names",
    "with_corpus",
]
