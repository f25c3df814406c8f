"""The four out-of-distribution trait suites used to evaluate agents (after τ-trait).

PPol evaluates fine-tuned agents against τ-trait's Skeptical, Incoherent, Impatient
and Confusion users, which τ-trait produces with a hosted activation-steering
endpoint. Here each trait is a persona policy — text only, read by LLM user
simulators and by the offline user alike — so the suites run anywhere, offline too.
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
    ),
    "incoherent": (
        "A customer typing on a phone in a hurry, in fragments and with typos.",
        "You type fast on a small phone while doing something else. Write in lowercase fragments with typos "
        "and abbreviations, sometimes split one thought across several short messages, and sometimes answer "
        "only the part of the agent's message you noticed. Some replies are one or two words, others ramble. "
        "Identifiers such as order numbers and names are typed exactly, because you copy them from your phone.",
    ),
    "impatient": (
        "A customer in a rush who wants this over with now.",
        "You are short on time and it shows. Keep replies brief, skip greetings and thanks, and show "
        "annoyance when the agent is slow, repeats a question or asks for confirmation more than once. "
        "If the conversation stops making progress for a few turns, give up and leave.",
    ),
    "confusion": (
        "A customer who loses track of the conversation and second-guesses themself.",
        "You are easily confused by long explanations. Ask the agent to repeat or clarify what they mean, "
        "second-guess details you gave earlier, and now and then start to change your mind before coming "
        "back to what you originally wanted. Refer to items vaguely at first and only become precise when "
        "the agent asks which one you mean.",
    ),
}

TRAIT_NAMES = tuple(_TRAITS)


def trait_persona(name: str) -> Persona:
    """The fixed persona of one trait suite (``skeptical``, ``incoherent``, ``impatient``, ``confusion``)."""
    if name not in _TRAITS:
        raise KeyError(f"unknown trait suite {name!r}; expected one of {TRAIT_NAMES}")
    description, instruction = _TRAITS[name]
    return Persona.create(description=description, instruction=instruction, reasoning=f"τ-trait suite: {name}",
                          source=f"trait:{name}", persona_id=f"trait-{name}")
