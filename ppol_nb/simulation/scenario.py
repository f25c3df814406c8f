"""What a τ² task asks of the user and of the agent, derived once from the task.

The offline user and the offline agent both read this, from opposite sides:

* the user *holds* the facts (they are written in its scenario) and decides how and
  when to say them;
* the agent *needs* the same facts for its tool calls and may only use one after it
  has actually appeared in a user message (see :func:`heard`).

A fact is a gold-action argument value that literally occurs in the user's scenario
text (names, zip codes, e-mails, user ids, order ids, cabins, …). Everything else in
the gold plan (item ids, payment ids, flight numbers the user only describes) the
agent obtains from tool outputs, as a policy-following agent would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# How each argument is called when the agent asks for it and when the user hears the
# question. Unknown argument names fall back to their words ("payment_method_id" ->
# "payment method id").
LABELS = {
    "first_name": "name",
    "last_name": "name",
    "zip": "zip code",
    "email": "email address",
    "user_id": "user id",
    "order_id": "order id",
    "reservation_id": "reservation id",
    "payment_method_id": "payment method",
    "cabin": "cabin",
    "flight_number": "flight number",
    "origin": "origin",
    "destination": "destination",
    "date": "date",
    "dob": "date of birth",
}

# Words in an agent message that mean "tell me this label".
LABEL_CUES = {
    "name": r"\bname\b",
    "zip code": r"\bzip|postal\b",
    "email address": r"\be-?mail\b",
    "user id": r"\buser ?id\b|\buser name\b|\busername\b",
    "order id": r"\border (?:id|number)",
    "reservation id": r"\breservation (?:id|number|code)|\bconfirmation (?:code|number)",
    "payment method": r"\bpayment\b",
    "cabin": r"\bcabin|\bclass\b",
    "flight number": r"\bflight number",
    "date of birth": r"\bdate of birth|\bdob\b|\bbirthday",
}

WRITE_VERBS = {
    "cancel_pending_order": "cancel order {order_id}",
    "exchange_delivered_order_items": "exchange the {items} in order {order_id}",
    "modify_pending_order_address": "change the shipping address of order {order_id}",
    "modify_pending_order_items": "modify the {items} in order {order_id}",
    "modify_pending_order_payment": "change the payment method of order {order_id}",
    "modify_user_address": "update the default address on your account",
    "return_delivered_order_items": "return the {items} from order {order_id}",
    "book_reservation": "book the new reservation",
    "cancel_reservation": "cancel reservation {reservation_id}",
    "send_certificate": "issue a travel certificate to your account",
    "update_reservation_baggages": "update the baggage on reservation {reservation_id}",
    "update_reservation_flights": "change the flights on reservation {reservation_id}",
    "update_reservation_passengers": "update the passengers on reservation {reservation_id}",
}

_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens; underscores, '#', '@' and '.' all split."""
    return _TOKEN.findall(text.lower())


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    if n == 0:
        return False
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def heard(value: str, user_texts: list[str]) -> bool:
    """True if ``value`` was said in some user message (token-exact, case-insensitive).

    Token-exact on purpose: a typo or a half-remembered id is *not* heard, so a user
    who garbles an identifier makes the agent ask again.
    """
    needle = tokens(str(value))
    return any(_contains(tokens(t), needle) for t in user_texts)


def label_for(arg_name: str) -> str:
    return LABELS.get(arg_name, arg_name.replace("_", " "))


@dataclass(frozen=True)
class Fact:
    """One user-held value the agent needs: e.g. ``Fact("zip code", "zip", "19122")``."""

    label: str
    arg: str
    value: str


@dataclass(frozen=True)
class PlanStep:
    """One gold action, with the facts the agent must have heard before calling it."""

    name: str
    arguments: dict
    is_write: bool
    facts: tuple[Fact, ...]


@dataclass
class TaskScenario:
    """The parts of a τ² task both offline roles work from."""

    task_id: str
    domain: str
    reason_for_call: str
    known_info: str
    unknown_info: str
    task_instructions: str
    plan: list[PlanStep] = field(default_factory=list)
    communicate_info: list[str] = field(default_factory=list)

    @property
    def scenario_text(self) -> str:
        return "\n".join(
            [self.reason_for_call, self.known_info, self.unknown_info, self.task_instructions]
        )

    @property
    def facts(self) -> list[Fact]:
        """Distinct user-held facts, in the order the plan first needs them."""
        seen, out = set(), []
        for step in self.plan:
            for f in step.facts:
                if (f.label, f.value) not in seen:
                    seen.add((f.label, f.value))
                    out.append(f)
        return out

    def unknown_labels(self) -> set[str]:
        """Labels the scenario says the user does not know (e.g. 'email address')."""
        text = self.unknown_info.lower()
        return {label for label, cue in LABEL_CUES.items() if re.search(cue, text)}


def _scalars(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _scalars(v)]
    if value is None or isinstance(value, bool):
        return []
    return [str(value)]


def _user_held(args: dict, scenario_tokens: list[str]) -> tuple[Fact, ...]:
    facts = []
    for arg, value in args.items():
        # Nested values (passenger lists, addresses) are checked leaf by leaf; the
        # label stays the top-level argument's.
        for leaf in _scalars(value):
            leaf_tokens = tokens(leaf)
            # Single characters and bare small numbers ("1", "0") match by accident.
            if not leaf_tokens or (len(leaf_tokens) == 1 and len(leaf_tokens[0]) < 3):
                continue
            if _contains(scenario_tokens, leaf_tokens):
                facts.append(Fact(label_for(arg), arg, leaf))
    return tuple(facts)


def build_scenario(task, domain: str, write_tools: set[str]) -> TaskScenario:
    """Derive the shared view of a τ² task (see module docstring)."""
    ins = task.user_scenario.instructions
    # Some tasks carry free-text instructions instead of the structured form.
    get = (lambda k: getattr(ins, k, None) or "") if not isinstance(ins, str) else (lambda k: "")
    sc = TaskScenario(
        task_id=str(task.id),
        domain=domain,
        reason_for_call=get("reason_for_call") or (ins if isinstance(ins, str) else ""),
        known_info=get("known_info"),
        unknown_info=get("unknown_info"),
        task_instructions=get("task_instructions"),
    )
    scenario_tokens = tokens(sc.scenario_text)
    criteria = task.evaluation_criteria
    for action in (criteria.actions or []) if criteria else []:
        if action.requestor != "assistant":
            continue
        sc.plan.append(
            PlanStep(
                name=action.name,
                arguments=dict(action.arguments),
                is_write=action.name in write_tools,
                facts=_user_held(action.arguments, scenario_tokens),
            )
        )
    sc.communicate_info = list((criteria.communicate_info or []) if criteria else [])
    return sc


# --- turning second-person scenario text into first-person speech -----------------

_PRONOUNS = [
    (r"\byou are\b", "I am"),
    (r"\byou were\b", "I was"),
    (r"\byou're\b", "I'm"),
    (r"\byou'd\b", "I'd"),
    (r"\byou'll\b", "I'll"),
    (r"\byou've\b", "I've"),
    (r"\byourself\b", "myself"),
    (r"\byours\b", "mine"),
    (r"\byour\b", "my"),
    # "you" after a verb or preposition is an object ("told you", "for you").
    (r"\b(to|for|with|told|tell|help|give|gave|asks?|sends?|sent|contact|call|let|of) you\b", r"\1 me"),
    (r"\byou\b", "I"),
]


def first_person(text: str) -> str:
    """'You received your order' -> 'I received my order' (good enough for scenarios)."""
    out = text
    for pattern, repl in _PRONOUNS:
        out = re.sub(pattern, lambda m, r=repl: _match_case(m, r), out, flags=re.IGNORECASE)
    return out


def _match_case(m: re.Match, repl: str) -> str:
    expanded = m.expand(repl)
    if m.group(0)[:1].isupper() and not expanded[:1].isupper():
        return expanded[:1].upper() + expanded[1:]
    return expanded


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# Sentences that are private rules for the simulator, not things a customer says.
_PRIVATE_RULE = re.compile(
    r"^(if|once|when|but when|but if|in case|only|do not|don't|never|you do not|you don't|iff|unless|"
    r"make sure|be |try |you are (very )?(persistent|detail|reluctant|polite|impatient))",
    re.IGNORECASE,
)


def request_sentences(text: str) -> list[str]:
    """Sentences of the reason for call a customer would actually say, first person."""
    out = []
    for s in _SENTENCE.split(text or ""):
        s = s.strip()
        if len(s) < 3 or _PRIVATE_RULE.match(s):
            continue
        out.append(first_person(s))
    return out
