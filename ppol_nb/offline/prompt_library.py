"""Prompt material for the offline mutator's prompt and population operators.

Directives are one-line bullets the offline mutator adds to (or removes from) a
program's ``POPULATION_PROMPT`` or ``ROLEPLAY_PROMPT``; they echo the kinds of
changes the paper's evolved programs made (§6: sharper contrasts between people,
concrete settings, goal-directed people, turn-by-turn mechanics for the
expansion). They contain no ``{braces}``, so the program's ``tk.fill`` leaves
them alone. :data:`OVERGENERATION_HOOK` is the code the population operator
installs to over-generate a pool and keep the ``n`` most different people
(the paper's fifth mutation angle).
"""

from __future__ import annotations

POPULATION_DIRECTIVES: tuple[str, ...] = (
    "Build sharp contrasts into the group; nobody should read like an average, agreeable customer.",
    ("Give every person a concrete place and moment they are writing from (a crowded train, a short break at "
     "work, late at night at home) and let it shape how they type."),
    "Give each active behaviour a reason in the person's life, so it reads as part of who they are.",
    "Everyone genuinely wants the problem solved; they differ in how they go about it, not in whether they try.",
    ("Do not make anyone the kind of customer who echoes the agent's words back or says 'I understand' after "
     "every message."),
    "Vary age, comfort with online shopping and how much time the person has today.",
)

ROLEPLAY_DIRECTIVES: tuple[str, ...] = (
    ("Name one detail from the situation that this customer is slow to produce (they have to look it up or "
     "recall it) and say how they respond when asked for it."),
    "Say how the customer reacts when the agent makes a mistake or asks again for something already given.",
    "Fix a typing style: capitalisation, punctuation and the usual length of a message.",
    "Say whether and how the customer pushes back when the agent proposes something other than what they want.",
    "Concentrate on the first two or three turns: how the customer opens and what they leave out.",
    "If no behaviour is active, the customer is still an ordinary person: brief, plain and not overly formal.",
)

# Word-count ranges the expansion operator may ask the roleplay prompt for.
EXPANSION_LENGTHS: tuple[tuple[int, int], ...] = ((120, 180), (150, 250), (160, 200), (180, 260))

OVERGENERATION_NAME = "OVERGENERATION"
POOL_FUNCTION = "propose_population_pool"
SELECT_FUNCTION = "keep_most_spread"
OVERGENERATION_RANGE = (1.0, 3.0)

OVERGENERATION_HOOK = '''

# Over-generation: the population call proposes OVERGENERATION x n people and the n
# whose axis placements differ most are kept (added by the offline mutator).
OVERGENERATION = 1.5


def generate_population(context, axes, n, llm):
    """Phase 1 with over-generation: propose a larger pool, keep the n most different people."""
    pool_size = max(n, int(n * OVERGENERATION + 0.999))
    pool = propose_population_pool(context, axes, pool_size, llm)
    return keep_most_spread(pool, n)


def keep_most_spread(members, n):
    """Greedy max-min Hamming selection over axis placements; ties keep pool order."""
    if len(members) <= n:
        return members[:n]

    def distance(a, b):
        keys = set(a["axis_placement"]) | set(b["axis_placement"])
        return sum(bool(a["axis_placement"].get(k)) != bool(b["axis_placement"].get(k)) for k in keys)

    chosen = [0]
    while len(chosen) < n:
        rest = [i for i in range(len(members)) if i not in chosen]
        best = max(rest, key=lambda i: (min(distance(members[i], members[j]) for j in chosen), -i))
        chosen.append(best)
    return [members[i] for i in sorted(chosen)]
'''
