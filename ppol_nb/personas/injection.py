"""Inject a persona policy into τ²'s own LLM user simulator.

The prompt becomes ``s_base(t) ⊕ P_π``: τ²'s unchanged system prompt (global
simulation guidelines + ``<scenario>``), a blank line, then a clearly delimited
block that carries the persona's instruction and the rules that keep the task
fixed. Subclassing keeps every other part of τ²'s simulator (role flipping, stop
tokens, tool handling) exactly as shipped.
"""

from __future__ import annotations

from ..simulation.tau2_bridge import tau2_modules
from .record import Persona

BEGIN, END = "=== BEGIN PERSONA POLICY ===", "=== END PERSONA POLICY ==="

PERSONA_BLOCK = """## How you communicate in this conversation
The persona below changes HOW you communicate — tone, pacing, wording, typing style, what you volunteer and \
when — never WHAT you want. Your goal, your preferences and every private fact in the scenario above stay \
exactly as given.

{begin}
{instruction}
{end}

Rules:
1. Goals and private facts do not change; never invent new ones.
2. Apply this style on every single turn, not only at the start.
3. If the persona is terse, stay terse.
4. If the persona withholds information, give it only when the agent asks for it.
5. Let emotions build up gradually and plausibly.
6. Never break character, never mention the persona, and never say or hint that you are simulated, an AI or part of a test.
7. Be a natural person, not a caricature."""


def persona_block(persona: Persona) -> str:
    return PERSONA_BLOCK.format(begin=BEGIN, end=END, instruction=persona.instruction.strip())


def inject(base_prompt: str, persona: Persona | None) -> str:
    """``s_base ⊕ P_π``; the base prompt is returned untouched when there is no persona."""
    if persona is None:
        return base_prompt
    return f"{base_prompt}\n\n{persona_block(persona)}"


_m = tau2_modules()


class PersonaUserSimulator(_m.UserSimulator):
    """τ²'s ``UserSimulator`` with a persona policy appended to its system prompt."""

    def __init__(self, *args, persona: Persona | None = None, **kwargs):
        self.persona = persona
        super().__init__(*args, **kwargs)

    @property
    def system_prompt(self) -> str:
        return inject(super().system_prompt, self.persona)
