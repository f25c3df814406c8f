"""Seed generator program: G(c, D, N) with four generic behaviour axes.

This file is the starting point of evolution. It is run in the sandbox, may
import only allow-listed modules and ``ppol_nb.personas.toolkit``, and must
define ``DIVERSITY_AXES`` and ``generate_personas(context, axes, n, llm)``.

Two phases, as in the paper: one joint population call places all ``n`` people
on the axes, then one expansion call per person (run concurrently) writes the
roleplay instruction that gets appended to the user simulator's prompt.
"""

from ppol_nb.personas import toolkit as tk

# Each axis: what the behaviour is, and how it shows when ON and when OFF.
DIVERSITY_AXES = [
    {
        "name": "terse",
        "definition": "Communicates in as few words as possible, leaving out greetings, courtesy and elaboration.",
        "on_playbook": "Keep each message to a few words or one short sentence. Skip greetings, thanks and "
                       "explanations, and answer only what you were asked.",
        "off_playbook": "Write in complete, natural sentences and use the ordinary courtesies most people use "
                        "in a chat.",
    },
    {
        "name": "skeptical",
        "definition": "Doubts what the agent says and why the agent needs the information it asks for.",
        "on_playbook": "Ask why the agent needs a piece of information before you give it, and ask whether they "
                       "are sure when they state a rule or an outcome. Make them confirm anything that surprises "
                       "you.",
        "off_playbook": "Take the agent's explanations at face value and give information when it is asked for.",
    },
    {
        "name": "frustrated",
        "definition": "Brings irritation into the conversation, and it grows when progress stalls.",
        "on_playbook": "You are already annoyed. Let it show when the agent is slow, repeats a question or sends "
                       "long explanations, and let it build if nothing moves forward.",
        "off_playbook": "Stay calm and patient, even when the conversation takes a while.",
    },
    {
        "name": "ambiguous",
        "definition": "Describes needs vaguely at first and becomes specific only when asked.",
        "on_playbook": "Start vague: refer to things loosely, like 'that one' or 'the thing I got', and leave out "
                       "specifics until the agent asks which one you mean; then answer accurately.",
        "off_playbook": "Say exactly what you mean from the start and name the things involved clearly.",
    },
]

POPULATION_SYSTEM = (
    "You design groups of realistic customers for conversations with customer-service agents. Think like a "
    "behavioural psychologist: every person you propose must be plausible and internally consistent. "
    "Answer with JSON only."
)

POPULATION_PROMPT = """A customer is about to contact support about the situation below. Propose {n} different \
people who could be this customer. They all have the same goal and the same facts; they differ only in how they \
communicate.

## The customer's situation
{context}

## Behaviour axes
Each axis is a behaviour that is either ON or OFF for a person:
{axes}

## What to produce
- Exactly {n} people.
- Set every axis ({axis_names}) to true (ON) or false (OFF) for every person.
- Keep each person psychologically coherent: if two behaviours would contradict each other in one person, \
switch on at most one of them.
- Spread the group across the behaviour space: vary which axes are on and how many, and give no two people the \
same combination if you can avoid it.
- Describe the PERSON in 2-3 sentences (who they are, their circumstances, their mood), not the settings.
- Add one sentence of reasoning: why this person belongs in the group.

Return only a JSON array with one object per person:
[{"persona_id": "short_snake_case_label", "description": "...", "axis_placement": {"<axis>": true, ...}, \
"reasoning": "..."}]"""

ROLEPLAY_SYSTEM = (
    "You write behaviour briefs for people who play customers in text-chat conversations with support agents. "
    "A brief says how the customer talks and reacts, turn by turn; it never changes what the customer wants "
    "or knows."
)

ROLEPLAY_PROMPT = """## The customer's situation
{context}

## Who this customer is
{description}

## Active behaviours for this customer
{playbooks}

Write the instruction for playing this customer, addressed to them as "you", in 150-250 words. It will be \
placed right after the situation above, so do not repeat the situation.
- Fit it to this situation and this person.
- Be concrete about communication: message length and wording, vocabulary, typing habits, emotional signals, and \
how to respond when the agent asks for information or confirmation.
- Keep every goal and every fact of the situation exactly as given and change only how the person pursues them. \
Add no new requests, details, names or numbers.
- The conversation happens in a text chat.
- The customer never breaks character and never mentions being simulated, tested or an AI.

Return only the instruction text."""


def generate_population(context, axes, n, llm):
    """Phase 1: all n people placed on the axes in one joint call."""
    prompt = tk.fill(POPULATION_PROMPT, n=n, context=tk.format_context(context), axes=tk.format_axes(axes),
                     axis_names=", ".join(tk.axis_names(axes)))
    return tk.population(llm, POPULATION_SYSTEM, prompt, n, axes, context=context)


def expand_member(llm, member, context, axes):
    """Phase 2 for one person: the roleplay instruction."""
    # As in the paper's seed, expansion sees the playbooks of the active axes only.
    active = tk.playbooks(axes, member["axis_placement"], include_off=False)
    prompt = tk.fill(ROLEPLAY_PROMPT, context=tk.format_context(context), description=member["description"],
                     playbooks=active or "(none of the behaviours is active for this customer)")
    return tk.expand(llm, ROLEPLAY_SYSTEM, prompt, member, axes, context)


def generate_personas(context, axes, n, llm):
    members = generate_population(context, axes, n, llm)
    instructions = tk.expand_all(llm, lambda handle, m: expand_member(handle, m, context, axes), members)
    return [
        {
            "persona_id": m["persona_id"],
            "description": m["description"],
            "axis_placement": m["axis_placement"],
            "reasoning": m["reasoning"],
            "instruction": text,
        }
        for m, text in zip(members, instructions)
    ]
