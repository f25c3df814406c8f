"""The offline user's behaviour vocabulary: what a persona text can make it do.

The embedded offline world reads persona *text* (:mod:`.reader`) into intensities
over these behaviours (name -> level in [0, 1]); the offline user
(:mod:`.user`, :mod:`.behaviours`) executes them turn by turn. Nothing
outside the offline world ever names them: generator programs, persona records
and prompts speak only of the paper's genotype (axes with playbooks, persona text).

``politeness`` is the one behaviour the cooperative default already shows, so its
*absence* means "as the default" while an explicit 0 removes every pleasantry.
"""

from __future__ import annotations

BEHAVIOURS: dict[str, str] = {
    "terse": "short replies; drops pleasantries and full sentences",
    "bursty": "splits a reply into several short fragments sent one after another",
    "gating": ("withholds: only the gist of the request up front, its details a piece per message, "
               "facts one per message and only when asked"),
    "casual_typing": "lowercase, typos, shorthand (u, pls, idk), missing punctuation",
    "formality": "formal register: connectives (however, regarding), semicolons, dashes",
    "politeness": "please / thank you / sorry; 0 = every pleasantry of the default removed",
    "verbosity_variation": "alternates very short and very long turns",
    "hedging": "uncertainty markers: maybe, I think, not sure",
    "pushback": "skepticism: 'why do you need that?', 'I already told you', 'are you sure?'",
    "frustration": "emotional leakage that grows when the agent is slow or repeats itself",
    "accusatory": "outbursts and blame: 'this is useless', 'waste of time'",
    "ambiguity": "vague references to items at first ('the thing I ordered'), clarified when asked",
    "selective_attention": "answers only the last question the agent asked",
    "confusion": "second-guessing and strategy pivots ('actually, instead…', 'wait, what')",
    "impatience": "gives up after few unproductive turns",
    "digression": "topic changes: side remarks and questions unrelated to the task, then back to it",
}
