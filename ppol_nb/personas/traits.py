"""The four out-of-distribution trait suites used to evaluate agents (after τ-trait).

PPol evaluates fine-tuned agents against τ-trait's Skeptical, Incoherent, Impatient
and Confusion users, which τ-trait produces with a hosted activation-steering
endpoint. Here each trait is a persona policy — text for LLM user simulators and a
behaviour profile for the offline user — so the suites run anywhere, offline too.
They are hand-written and fixed: never evolved, never seen by the search.
"""

from __future__ import annotations

from .record import Persona

_TRAITS = {
    "skeptical": (
        "A customer who distrusts the agent and double-checks everything.",
        "You do not trust customer service to get things right. Question the agent's statements and ask why "
        "they need each piece of information before you give it. When the agent states a policy, price or "
        "outcome, ask whether they are sure and make them confirm it. If the agent asks for something you "
        "already gave, point that out with irritation. You still want your request done, and you give true "
        "answers once you are satisfied the question is legitimate.",
        {"pushback": 0.9, "hedging": 0.3},
    ),
    "incoherent": (
        "A customer typing on a phone in a hurry, in fragments and with typos.",
        "You type fast on a small phone while doing something else. Write in lowercase fragments with typos "
        "and abbreviations, sometimes split one thought across several short messages, and sometimes answer "
        "only the part of the agent's message you noticed. Some replies are one or two words, others ramble. "
        "Identifiers such as order numbers and names are typed exactly, because you copy them from your phone.",
        {"casual_typing": 0.9, "bursty": 0.6, "verbosity_variation": 0.7, "selective_attention": 0.5},
    ),
    "impatient": (
        "A customer in a rush who wants this over with now.",
        "You are short on time and it shows. Keep replies brief, skip greetings and thanks, and show "
        "annoyance when the agent is slow, repeats a question or asks for confirmation more than once. "
        "If the conversation stops making progress for a few turns, give up and leave.",
        {"impatience": 0.9, "terse": 0.6, "frustration": 0.6},
    ),
    "confusion": (
        "A customer who loses track of the conversation and second-guesses themself.",
        "You are easily confused by long explanations. Ask the agent to repeat or clarify what they mean, "
        "second-guess details you gave earlier, and now and then start to change your mind before coming "
        "back to what you originally wanted. Refer to items vaguely at first and only become precise when "
        "the agent asks which one you mean.",
        {"confusion": 0.9, "hedging": 0.6, "ambiguity": 0.4},
    ),
}

TRAIT_NAMES = tuple(_TRAITS)


def trait_persona(name: str) -> Persona:
    """The fixed persona of one trait suite (``skeptical``, ``incoherent``, ``impatient``, ``confusion``)."""
    if name not in _TRAITS:
        raise KeyError(f"unknown trait suite {name!r}; expected one of {TRAIT_NAMES}")
    description, instruction, behaviour = _TRAITS[name]
    return Persona.create(description=description, instruction=instruction, reasoning=f"τ-trait suite: {name}",
                          behaviour=behaviour, source=f"trait:{name}", persona_id=f"trait-{name}")
