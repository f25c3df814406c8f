"""A library of behaviour axes the offline mutator can add to a generator program.

The axes are operational, in the spirit of the evolved programs in the paper
(§6: bursty cadence, information gating, digital dialect, selective attention,
emotional leakage, ...): each says *how* a person communicates in a support
chat, never *what* they want. Every entry follows the paper's program contract
(``name``, ``definition``, ``on_playbook``, ``off_playbook``) and is text only:
an added axis changes the offline world exactly as it would an LLM's — through
the playbook sentences the generator writes into persona instructions.

Kept beside the axes, not inside them (a program's axes carry only contract
fields):

* :data:`AXIS_TAGS` — coarse families ("friction", "disclosure", "typing",
  "brevity", "emotion", "cognition", "register") the offline mutator uses to
  follow a reflection's hint (e.g. "overly cooperative" -> prefer friction);
* :data:`AXIS_CLASHES` — pairs no coherent person has at once; they become a
  program's ``clashes_with`` only when both axes are present;
* :data:`PLAYBOOK_TACTICS` — concrete one-sentence rules per topic of
  communication, used to rewrite an axis's ON playbook;
* :data:`TAG_TACTICS` — which tactic topics fit an axis family;
* :data:`INTENSITY_SWAPS` — wording that makes a rule stronger or milder.
"""

from __future__ import annotations

import copy

AXIS_LIBRARY: list[dict] = [
    {
        "name": "no_small_talk",
        "definition": "Treats the chat as a tool, not a conversation: no greetings, thanks or sign-offs.",
        "on_playbook": "Never greet, never say please or thanks, never apologise, and don't sign off; just say "
                       "what you need.",
        "off_playbook": "Use the ordinary greetings and thanks most people use in a chat.",
    },
    {
        "name": "topic_drift",
        "definition": "Wanders into side remarks and unrelated questions before coming back to the point.",
        "on_playbook": "Now and then go off on a tangent: mention something unrelated that is on your mind or ask "
                       "an off-topic question, then come back to your request.",
        "off_playbook": "Stay on the topic of your request.",
    },
    {
        "name": "bursty",
        "definition": "Sends thoughts as a rapid series of short chat bubbles instead of one composed message.",
        "on_playbook": "Break what you want to say into two or three short fragments, as if hitting enter after "
                       "every clause. Add a quick 'wait' or 'one sec' now and then before the next fragment.",
        "off_playbook": "Compose each message as one complete block before sending it.",
    },
    {
        "name": "information_gating",
        "definition": "Hands over facts one at a time and only when directly asked for them.",
        "on_playbook": "Open with the problem, not the details. Give at most one requested detail per message, "
                       "and if the agent asks for several things, answer the first and let them ask again.",
        "off_playbook": "Lay out everything relevant, identifiers included, in your first message.",
    },
    {
        "name": "digital_dialect",
        "definition": "Types like someone on a phone keyboard: lowercase, shorthand and uncorrected slips.",
        "on_playbook": "Write mostly in lowercase, drop end punctuation, use shorthand like u, pls, rn and idk, "
                       "and leave the odd typo unfixed.",
        "off_playbook": "Use normal capitalisation, spelling and punctuation.",
    },
    {
        "name": "selective_attention",
        "definition": "Responds to whatever the agent said last and skims past the rest.",
        "on_playbook": "Reply only to the final question or sentence of the agent's message. Ignore disclaimers, "
                       "summaries and secondary questions until they are raised again.",
        "off_playbook": "Read the agent's whole message and respond to each point in turn.",
    },
    {
        "name": "emotional_leakage",
        "definition": "Lets irritation seep into wording and punctuation as the chat drags on.",
        "on_playbook": "Start neutral, but when the agent repeats itself or slows down, let it show: trailing "
                       "dots, a doubled '??', clipped replies.",
        "off_playbook": "Stay even-toned and patient however long it takes.",
    },
    {
        "name": "prickly_temperament",
        "definition": "Has a short fuse and a dry, snappish manner with service staff.",
        "on_playbook": "Skip the pleasantries and thanks. When something is not what you expected, say so bluntly, "
                       "with a touch of sarcasm rather than shouting.",
        "off_playbook": "Be easy-going and friendly, and shrug off small hiccups.",
    },
    {
        "name": "affable",
        "definition": "Warm and accommodating; smooths over friction and apologises for small things.",
        "on_playbook": "Use little courtesies ('no worries', 'thanks a lot'), apologise when you get something "
                       "wrong and reassure the agent when they make a mistake.",
        "off_playbook": "Be matter-of-fact rather than warm; courtesies only where they come naturally.",
    },
    {
        "name": "narrative_bias",
        "definition": "Explains through stories, with the relevant facts buried somewhere in the telling.",
        "on_playbook": "When asked for something, answer with a bit of backstory first and let the needed fact "
                       "come out along the way. Alternate long rambling turns with quick one-liners.",
        "off_playbook": "Give the facts directly, without backstory.",
    },
    {
        "name": "non_linear",
        "definition": "Jumps between topics and changes plans mid-conversation.",
        "on_playbook": "Bring up a second concern before the first is settled, or start down one option and then "
                       "switch ('actually, scratch that') before committing.",
        "off_playbook": "Deal with one thing at a time and stick with a plan once you choose it.",
    },
    {
        "name": "privacy_sensitive",
        "definition": "Guards personal details and wants a reason before sharing any of them.",
        "on_playbook": "When asked for an email, address or account detail, ask what it is needed for and share "
                       "it only after an explanation, one item at a time.",
        "off_playbook": "Share personal details as soon as they are asked for.",
    },
    {
        "name": "urgency_bias",
        "definition": "Feels pressed for time and treats every delay as a cost.",
        "on_playbook": "Mention that you are in a hurry, keep replies short, and nudge the agent to move on when "
                       "they explain too much.",
        "off_playbook": "Act as if you have all the time in the world.",
    },
    {
        "name": "epistemic_distrust",
        "definition": "Does not take the agent's statements as authoritative and wants them checked.",
        "on_playbook": "Question rules, totals and outcomes the agent states ('are you sure?', 'that doesn't "
                       "sound right'), and ask them to double-check before you agree.",
        "off_playbook": "Trust what the agent tells you and go along with it.",
    },
    {
        "name": "distracted",
        "definition": "Chats while doing something else, so attention comes and goes.",
        "on_playbook": "Reply a little late and a little off: miss part of a question, ask the agent to repeat, "
                       "or send a half-finished thought and complete it next message.",
        "off_playbook": "Give the conversation your full attention.",
    },
    {
        "name": "passive_aggressive",
        "definition": "Masks annoyance behind over-polite or pointed phrasing.",
        "on_playbook": "When things go slowly, stay superficially polite but pointed: 'as I said before', "
                       "'thanks SO much', 'no, it's fine, I'll just wait'.",
        "off_playbook": "Say plainly how you feel, or nothing at all.",
    },
    {
        "name": "imprecise",
        "definition": "Remembers things approximately and describes them loosely.",
        "on_playbook": "Refer to items and dates approximately ('the blue one', 'sometime last month') and hedge "
                       "until the agent pins you down; then give the exact detail.",
        "off_playbook": "Name items, dates and numbers exactly.",
    },
    {
        "name": "stubborn",
        "definition": "Holds on to a first position and resists alternatives.",
        "on_playbook": "When the agent proposes something other than what you asked for, push back and restate "
                       "your request at least once before considering it.",
        "off_playbook": "Consider the agent's suggestions with an open mind.",
    },
    {
        "name": "formal_register",
        "definition": "Writes like a business email: complete sentences, connectives and careful punctuation.",
        "on_playbook": "Write in full, formal sentences with words like 'regarding' and 'however', and structure "
                       "longer messages with semicolons or dashes.",
        "off_playbook": "Write the way people usually chat: plain, informal wording.",
    },
    {
        "name": "low_digital_fluency",
        "definition": "Unsure about online processes and the vocabulary that goes with them.",
        "on_playbook": "Misname things ('the number thingy on the email'), ask what terms mean, and check that you "
                       "did a step right before going on.",
        "off_playbook": "Handle online processes and their jargon with ease.",
    },
    {
        "name": "quick_to_escalate",
        "definition": "Escalates fast when an answer disappoints.",
        "on_playbook": "If the agent says no or stalls twice, call the service useless, threaten to give up, and "
                       "demand a straight answer.",
        "off_playbook": "Accept setbacks calmly and look for another way.",
    },
]

AXIS_TAGS: dict[str, tuple[str, ...]] = {
    "no_small_talk": ("brevity", "friction"),
    "topic_drift": ("cognition",),
    "bursty": ("typing", "brevity"),
    "information_gating": ("disclosure", "friction"),
    "digital_dialect": ("typing", "friction"),
    "selective_attention": ("cognition", "friction"),
    "emotional_leakage": ("emotion", "friction"),
    "prickly_temperament": ("emotion", "friction"),
    "affable": ("register",),
    "narrative_bias": ("disclosure", "cognition"),
    "non_linear": ("cognition",),
    "privacy_sensitive": ("disclosure", "friction"),
    "urgency_bias": ("emotion", "brevity", "friction"),
    "epistemic_distrust": ("friction",),
    "distracted": ("cognition", "typing"),
    "passive_aggressive": ("emotion", "friction"),
    "imprecise": ("disclosure", "cognition"),
    "stubborn": ("friction",),
    "formal_register": ("register",),
    "low_digital_fluency": ("cognition",),
    "quick_to_escalate": ("emotion", "friction"),
}

# Symmetric in meaning; listed once.
AXIS_CLASHES: tuple[tuple[str, str], ...] = (
    ("digital_dialect", "formal_register"),
    ("prickly_temperament", "affable"),
    ("passive_aggressive", "affable"),
    ("quick_to_escalate", "affable"),
    ("narrative_bias", "bursty"),
    ("terse", "narrative_bias"),  # "terse" is the seed's axis
)

# One-sentence concrete rules per topic, for rewriting ON playbooks.
PLAYBOOK_TACTICS: dict[str, tuple[str, ...]] = {
    "brevity": ("Most replies are under six words.", "Answer yes/no questions with a single word."),
    "fragments": ("Split longer answers over two or three quick messages.",
                  "Send a correction as its own tiny message rather than editing."),
    "disclosure": ("Never give an order number or email in your first message.",
                   "When asked for two things, give only one and wait."),
    "phone_typing": ("Type in lowercase and skip apostrophes.", "Leave one small typo per message unfixed."),
    "register": ("Use complete sentences with connectives such as 'however' or 'regarding'.",
                 "Structure any longer message with a semicolon or a dash."),
    "courtesy": ("Be especially polite: say please and thank you in every message.",
                 "Apologise a lot, even for small things, and thank the agent warmly."),
    "no_courtesy": ("Skip greetings, thanks and sign-offs entirely.", "Never say please or sorry."),
    "uneven_length": ("Alternate a long, detailed message with a one-word reply.",
                      "Once in the chat, explain at length; otherwise keep it short."),
    "hedging": ("Hedge details you are less sure about ('I think', 'maybe').",
                "Say 'not sure' before guessing at a detail."),
    "skepticism": ("Ask 'why do you need that?' before the first personal detail.",
                   "If the agent repeats a question you answered, say you already told them."),
    "irritation": ("Let annoyance show once the agent asks for the same thing twice.",
                   "Sigh in text ('ugh', 'seriously') when a step fails."),
    "blame": ("If progress stalls, say the service is a waste of time.",
              "Blame the company, not yourself, when something goes wrong."),
    "vagueness": ("Refer to the item loosely at first ('the thing I ordered').",
                  "Describe the problem before naming the item it concerns."),
    "skimming": ("Respond only to the agent's last question.",
                 "Skip over any disclaimer or summary the agent gives."),
    "second_thoughts": ("Change your mind once about how to resolve the issue ('actually, instead...').",
                        "Ask 'wait, what?' when the agent lists several options."),
    "hurry": ("Ask 'how much longer?' if the fix takes more than a few turns.",
              "Press the agent to skip explanations and just do it."),
    "tangents": ("Mention something unrelated that is on your mind, then get back to the point.",
                 "Ask the agent an off-topic question once in a while."),
}

# Which tactic topics fit an axis family (AXIS_TAGS); untagged axes may take any.
TAG_TACTICS: dict[str, tuple[str, ...]] = {
    "friction": ("skepticism", "no_courtesy", "disclosure", "blame", "irritation"),
    "disclosure": ("disclosure", "vagueness", "fragments"),
    "typing": ("phone_typing", "fragments", "brevity"),
    "brevity": ("brevity", "no_courtesy", "fragments"),
    "emotion": ("irritation", "blame", "hurry"),
    "cognition": ("second_thoughts", "skimming", "tangents", "hedging"),
    "register": ("register", "courtesy", "uneven_length"),
}

# (milder, stronger) wordings; a revision swaps one way or the other.
INTENSITY_SWAPS: tuple[tuple[str, str], ...] = (
    ("now and then", "almost always"),
    ("sometimes", "always"),
    ("a little", "very"),
    ("once in a while", "again and again"),
    ("occasionally", "constantly"),
    ("the odd", "plenty of"),
    ("mostly", "entirely"),
)


def library_names() -> list[str]:
    return [a["name"] for a in AXIS_LIBRARY]


def library_axis(name: str) -> dict:
    """A fresh copy of library axis ``name`` (``KeyError`` if unknown)."""
    for axis in AXIS_LIBRARY:
        if axis["name"] == name:
            return copy.deepcopy(axis)
    raise KeyError(name)


def clashes_of(name: str) -> set[str]:
    return {b for a, b in AXIS_CLASHES if a == name} | {a for a, b in AXIS_CLASHES if b == name}


def names_with_tags(tags) -> list[str]:
    wanted = set(tags)
    return [a["name"] for a in AXIS_LIBRARY if wanted & set(AXIS_TAGS.get(a["name"], ()))]

