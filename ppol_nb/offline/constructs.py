"""What the persona reader looks for: behaviour constructs, boilerplate, modifiers, negators.

A *construct* is one idea a persona text can express about how the customer talks
("keeps replies short", "distrusts the agent", "skips the pleasantries"). It names
the behaviours it is evidence for (a signed weight each: + for, - against; for
``politeness`` + means extra courteous and - means courtesy dropped) and the
patterns that express it. Patterns are written in a small word-pattern language,
compiled to regular expressions by :func:`compile_pattern`:

=================  ==================================================================
``word``           the word itself (whole word)
``stem*``          any word starting with ``stem`` (``apolog*``: apologise, apologizes,
                   apology …) — inflections and derivations without a stemmer
``colou?r``        the letter before ``?`` is optional (``double-?check``, ``behaviou?r``)
``a|b|c``          alternatives
``two_words``      a multi-word alternative (``up_front|at_once``)
``x?``             an optional token
``~`` / ``~N``     a gap of 0–3 (or 0–N) arbitrary words inside the sentence
``@NAME``          a concept: an alternation defined in :data:`CONCEPTS`
``$``              the end of the sentence ("… she walks.")
=================  ==================================================================

Patterns match inside one sentence of the lower-cased, normalised text. Weights:
0.8 = states the behaviour outright, 0.6 = a clear sign of it, 0.35-0.45 = a hint
that needs company to count. Nothing here is a whole sentence copied from a known
persona: constructs are concepts with their synonyms and inflections, so unseen
wordings of the same idea are read the same way.

The module is data; :mod:`.reader` is the engine. Both feed ``READER_VERSION``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- the pattern language ------------------------------------------------------------------

CONCEPTS: dict[str, str] = {
    # what a customer sends
    "MSG": "message*|msg*|repl*|answer*|response*|text|texts|sentence*|turn*|line*|bubble*|chat*|note*",
    "BUBBLE": "message*|msgs|bubble*|fragment*|chunk*|piece*|texts|lines|parts|bits|burst*",
    # what a customer knows and may hand over
    "INFO": "info|information|detail*|fact*|identifier*|id|ids|number*|data|specifics|particulars|email*|"
            "address*|name|names|zip|zip_code|order_number*|account*|personal_detail*|personal_info*|"
            "credentials|everything|anything|it|them",
    "GIVE": "give|gives|gave|giving|share*|hand*|reveal*|releas*|provid*|offer*|disclos*|dole*|parcel*|"
            "drip*|feed*|trickl*|spill*|volunteer*|supply*|let*_out|part*_with",
    "TELL": "give|gives|gave|giving|share*|hand*|reveal*|provid*|offer*|disclos*|volunteer*|supply*|put*|lay*|"
            "state*|mention*|list*|dump*|type*|send*|include*|spell*_out|explain*",
    "ASKED": "asked|prompted|pressed|requested|questioned|pushed|pinned_down|"
             "the_agent_asks|they_ask|they_specifically_ask|the_agent_specifically_asks|someone_asks|"
             "specifically_asked|directly_asked|explicitly_asked|you_are_asked|you're_asked|"
             "it_is_requested|it_is_asked_for|asked_for_(it|them)|the_agent_requests|they_request",
    "AGENT": "agent|agents|agent's|rep|reps|representative*|assistant|support|staff|they|them|him|her|the_person",
    "SHORT": "short|shorter|brief|terse|curt|clipped|one-?word|single-?word|one-?liner*|monosyllab*|a_word|"
             "single_word|tiny|minimal|grunt*|k|ok|few_words|a_few_words|snippets|fragments",
    "LONG": "long|longer|lengthy|sprawling|rambling|ramble*|detailed|paragraph*|essay*|wall*|verbose|wordy|"
            "long-?winded|expansive|rambly|epic|novel*|on_and_on|at_length|monologue*|screeds|treatise*|"
            "block_of_text|blocks_of_text|long_block*",
    "COURTESY": "courtes*|pleasantr*|nicet*|greeting*|hello*|goodbye*|sign-?off*|thank*|thanks|gratitude|"
                "please|apolog*|sorry|manners|politeness|polite_phrases|small_courtes*|formalities|"
                "polite_openers|social_niceties",
}

_NEGATING_WORD = (r"(?:not|never|no|nor|neither|without|instead|rather|nobody|none|nothing|avoid\w*|skip\w*|"
                  r"\w+n't|cannot)(?![\w'-])")
_GAP_WORD = rf"(?!{_NEGATING_WORD})[^\s.;:!?—()]+"  # a gap never swallows a negation
_WIDE_GAP_WORD = rf"(?!{_NEGATING_WORD})[^\s.!?()]+"  # ~~N: may cross ";" and ":" inside a sentence
_SEQ_SEP = r"[\s,]+"  # between the words of one alternative
_TOKEN_SEP = r"[\s,\"']+"  # between tokens (may cross a quotation mark)


_END = r"(?=[\s.!?;:,)\"']*$)"  # the "$" token: only closing punctuation may follow


class PatternError(ValueError):
    """A word-pattern that the pattern language cannot read."""


def _word_regex(word: str) -> str:
    if word.startswith("@"):
        name = word[1:]
        if name not in CONCEPTS:
            raise PatternError(f"unknown concept @{name}")
        return _expression(CONCEPTS[name])
    stem = word.endswith("*") and not word.endswith("\\*")
    core = word[:-1] if stem else word
    if "\\" in core or "[" in core:  # a raw regex fragment: organi[sz]ed, \?\?
        body = core
    else:  # "x?" makes the letter before it optional: double-?check, behaviou?r, colou?r
        body = "".join("?" if ch == "?" and i else re.escape(ch) for i, ch in enumerate(core))
    return body + (r"[\w'-]*" if stem else "")


def _sequence(text: str) -> str:
    """Words joined by "_" or spaces; "(…)" groups, "(…)?" optional groups."""
    items: list[tuple[str, bool]] = []  # (regex, optional)
    i, literal = 0, ""
    def flush():
        nonlocal literal
        if literal:
            items.append((_word_regex(literal), False))
            literal = ""
    while i < len(text):
        ch = text[i]
        if ch == "(" and not literal.endswith("\\"):
            flush()
            depth, j = 0, i
            while j < len(text):
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            if depth:
                raise PatternError(f"unbalanced parenthesis in {text!r}")
            inner = _expression(text[i + 1:j].strip())
            optional = j + 1 < len(text) and text[j + 1] == "?"
            items.append((inner, optional))
            i = j + (2 if optional else 1)
            if i < len(text) and text[i] in "*?":
                raise PatternError(f"unexpected {text[i]!r} after a group in {text!r}; put stems inside the group")
            continue
        if ch in "_ ":
            flush()
        else:
            literal += ch
        i += 1
    flush()
    if not items:
        raise PatternError(f"empty alternative in {text!r}")
    return _join(items, _SEQ_SEP)


def _join(items: list[tuple[str, bool]], sep: str) -> str:
    """Concatenate (regex, optional) items with separators; an optional item carries its own."""
    out, need_sep = "", False
    for rx, optional in items:
        if optional:
            out += f"(?:{sep}{rx})?" if need_sep else f"(?:{rx}{sep})?"
        else:
            out += (sep if need_sep else "") + rx
            need_sep = True
    return out


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and (ch == sep or (sep == " " and ch.isspace())):
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p != ""] if sep == " " else parts


def _expression(text: str) -> str:
    return "(?:" + "|".join(_sequence(alt) for alt in _split_top(text, "|")) + ")"


def compile_pattern(pattern: str) -> re.Pattern:
    """Compile one word-pattern (see the module docstring) to a regular expression."""
    items: list[tuple[str, bool]] = []
    gaps: dict[int, tuple[int, bool]] = {}  # gap before item i -> (max words, may cross ";")
    for token in _split_top(pattern.strip(), " "):
        if token == "$":
            items.append((_END, False))
            continue
        if re.fullmatch(r"~~?\d*", token):
            wide = token.startswith("~~")
            gaps[len(items)] = (int(token.lstrip("~") or 3), wide)
            continue
        optional = token.endswith("?") and not token.endswith("\\?") and not token.endswith("-?")
        items.append((_expression(token[:-1] if optional else token), optional))
    if not items:
        raise PatternError(f"pattern {pattern!r} has no words")
    # A gap is folded into the separator before the next item.
    # Not inside a word, nor right after a word's apostrophe; an opening quote is fine.
    out, need_sep = r"(?<![\w-])(?<!\w')", False
    for i, (rx, optional) in enumerate(items):
        if rx == _END:
            out += rx
            continue
        sep = _TOKEN_SEP
        if i in gaps and i > 0:
            n, wide = gaps[i]
            word = _WIDE_GAP_WORD if wide else _GAP_WORD
            sep_rx = r"[\s,\"';:—]+" if wide else _TOKEN_SEP
            sep = rf"(?:{sep_rx}{word}){{0,{n}}}?{sep_rx}"
        if optional:
            out += f"(?:{sep}{rx})?" if need_sep else f"(?:{rx}{sep})?"
        else:
            out += (sep if need_sep else "") + rx
            need_sep = True
    try:
        return re.compile(out + r"(?![\w]|-\w)")  # "cross" is not in "cross-examines"
    except re.error as exc:
        raise PatternError(f"pattern {pattern!r} does not compile: {exc}") from None


# --- constructs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Construct:
    """One idea about how the customer talks, and the behaviours it is evidence for."""

    name: str
    effects: dict[str, float]  # behaviour -> signed weight in [-1, 1]
    patterns: tuple[str, ...]
    quoted: bool = False  # only counts inside quotation marks (example utterances)
    whole_quote: bool = False  # ... and only as (nearly) the whole quotation: 'that one', not 'that one is late'
    flip: float = 0.7  # a negated *against* cue counts this much *for* ("does not trust" -> skeptic)
    subsumes: tuple[str, ...] = ()  # behaviours whose cues inside this match are dropped
    in_quotes: float = 1.0  # factor inside quotation marks (a quoted "please" is an example, not a trait)
    negated: float | None = None  # weight when negated, if not the plain weight ("never says please" is
    # stronger evidence of dropped courtesy than "says please" is of extra courtesy)
    sentence_scope: bool = False  # subsumes in the whole sentence, not only in its own span
    agent_ok: bool = False  # also counts inside a clause about the agent ("expects the agent to know what she means")
    not_after: str = ""  # a regex the text right before a match must not end with
    compiled: tuple = field(default=(), compare=False, repr=False)


def C(name: str, effects: dict[str, float], *patterns: str, **options) -> Construct:
    for behaviour, weight in effects.items():
        if not -1.0 <= weight <= 1.0:
            raise ValueError(f"construct {name!r}: weight {weight} for {behaviour!r} is outside [-1, 1]")
    return Construct(name, dict(effects), tuple(patterns), compiled=tuple(compile_pattern(p) for p in patterns),
                     **options)


CONSTRUCTS: tuple[Construct, ...] = (
    # ----------------------------------------------------------------- terse
    C("brevity", {"terse": 0.8},
      "terse*|laconic|clipped|monosyllab*|telegraphic|brevity|succinct*",
      "concise*", "curt*",
      "one-?word|single-?word|two-?word|one-?line*|one_or_two_words|two_or_three_words|a_word_or_two",
      "short|brief|minimal|tiny|quick|shortest|terse ~1 @MSG",
      "@MSG|it|them|everything|things ~3 (short|brief|minimal|tiny|to_a_minimum|sparse|bare-?bones)",
      "few|handful_of|couple_of|fewest|minimum_of|as_few|as_little|couple ~1 words",
      "under|fewer_than|no_more_than|at_most|less_than|maximum_of|max ~1 (a|one|two|three|four|five|six|seven|"
      "eight|ten|\\d+|few|handful) ~1 words",
      "bare_minimum|the_minimum|as_little_as_possible|no_more_than_necessary|no_more_than_needed|stripped-?down|bare_facts",
      "short_and_sweet|economical_with_words|man_of_few_words|woman_of_few_words|person_of_few_words",
      "single_word|one_word|two_words|a_word_or_two|one_or_two_words|in_one_word|in_a_word",
      "(rarely|never|seldom|hardly|not) ~3 (past|beyond|over|more_than|longer_than|above) ~2 (a|half_a)? ~1 (dozen|few|"
      "handful|couple|one|two|three|four|five|six|seven|eight|ten|sentence|line) ~1 (words|sentences|lines)?",
      "(is|are|be|but|and|very|extremely|always|usually|mostly|generally|often|normally|typically|stays?|remains?|"
      "keeps?_it|keep_things|kept) (brief|succinct|laconic)",
      "grunt*",
      "(no_more_than|at_most|never_more_than|rarely_more_than|seldom_more_than|not_more_than) ~2 (a|one|two|a_single) "
      "~1 (sentence|line|sentences|lines)",
      "yes-?or-?no|yes_or_no ~1 (answers|replies|responses)",
      "(every|each) ~1 word ~3 (costs|counts|matters|is_precious|is_expensive|is_rationed)",
      "telegram*|telegraph*",
      "@MSG ~3 (get|gets|getting|grow|grows|growing|become|becomes|turn|turns) ~2 (shorter|curter|terser|briefer|"
      "clipped|shorter_and_shorter)"),
    C("cooling", {"frustration": 0.55},
      "(get|gets|getting|grow|grows|growing|become|becomes|turn|turns|go|goes) ~3 (colder|cooler|curter|snappier|"
      "sharper|terser|testier|shorter_with|more_irritable|more_abrupt|more_clipped|frostier|icier|tetchier|snappy|"
      "short_with|cold|frosty|sharp|testy|curt|clipped|abrupt)",
      "(increasingly|more_and_more|progressively) ~1 (snappy|short|curt|terse|abrupt|cold|sharp|clipped|irritable|"
      "testy|tense|blunt)"),
    C("no_explanations", {"terse": 0.6},
      "(skip*|no|without|avoid*|leave_out|drop*|cut*|never_give|don't_give|don't_add|omit*) ~4 "
      "(explanation*|elaborat*|filler*|padding|fluff|waffle|preamble|niceties_and_explanations)"),
    C("to_the_point", {"terse": 0.2, "digression": -0.5},
      "to_the_point|cut_to_the_chase|get_to_the_point|straight_to_the_point|straight_to_business|"
      "no-?nonsense|matter-?of-?fact|plain-?spoken|without_decoration|no_frills"),
    C("fragments", {"terse": 0.35, "bursty": 0.2}, "fragment*|half-?sentences|incomplete_sentences"),
    C("blunt", {"terse": 0.25, "politeness": -0.4}, "blunt*|brusque*|gruff*|abrupt*", flip=0.0),
    C("answer_only_asked", {"terse": 0.25, "gating": 0.45},
      "only|just|nothing_but|nothing_beyond|nothing_more_than ~3 (what|the_question|exactly_what) ~3 "
      "(you_were|you're|is|was|you_are|they|the_agent)? ~1 (asked|asks|asked_for|requested|asking)"),
    C("wordy", {"terse": -0.6},
      "waste* ~1 (words|time_typing|breath)",
      "verbose|wordy|long-?winded|lengthy|loquacious|windy|over-?explain*|overexplain*|effusive*",
      "long|longer|lengthy|detailed|full|whole_paragraph|multi-?paragraph ~1 @MSG",
      "@MSG ~2 (long|lengthy|detailed)",
      "in_detail|at_length|in_full|paragraph*|wall_of_text|walls_of_text|essay*|sprawling|expansive|rambly|"
      "block_of_text|blocks_of_text|long_block*|"
      "screeds|monologue*",
      "long|lengthy|detailed|rambling ~1 (explanation*|stor*|account*|description*|backstor*|digression*)",
      "elaborat*"),
    # Long messages that are the agent's ("misses part of a long message") say nothing about the customer's.
    C("agents_long_messages", {},
      "(miss*|skim*|ignor*|read*|skip*|overlook*|lose*|half-?read*|confus*|overwhelm*|lost|bored|annoy*|irritat*|"
      "tune*_out) ~5 (long|lengthy|detailed|wordy|verbose) ~1 (message*|repl*|explanation*|answer*|text*|"
      "paragraph*|disclaimer*|summar*|instructions|walls_of_text|lists)",
      "(the_agent's|agent's|from_the_agent|support's) ~2 (long|lengthy|detailed|wordy|verbose)",
      "(long|lengthy|detailed|wordy) ~1 (message*|repl*|explanation*|answer*) ~2 (from|by|of) ~2 (the_agent|them|"
      "support|the_rep)",
      subsumes=("terse",)),
    C("full_sentences", {"terse": -0.3, "formality": 0.2, "casual_typing": -0.2},
      "full|complete|whole|proper|well-?formed|grammatical ~1 sentences"),

    # ----------------------------------------------------------------- bursty
    C("bursts", {"bursty": 0.8},
      "burst*|bursty|volley*|salvo*|flurr*|rapid-?fire|rapid_series|rapid_succession|quick_succession|in_quick_succession|"
      "machine-?gun|staccato|double-?text*|triple-?text*|stream_of_(short|quick|small)",
      "several|multiple|many|two_or_three|three_or_four|a_few|series_of|string_of|stream_of|barrage_of|"
      "flurry_of|volley_of|handful_of|couple_of|2-3|3-4 ~2 (short|quick|small|tiny|separate|little|"
      "rapid|broken)? ~1 (messages|msgs|bubbles|fragments|chunks|texts|lines|sends|pieces)",
      "(send*|fire*|shoot*|type*|post*|fires_off|sends_off) ~2 (two|three|four|several|multiple|a_few|a_couple_of|"
      "a_couple) ~2 (short|quick|small|tiny|separate|little|rapid)? ~1 (messages|msgs|bubbles|fragments|chunks|"
      "texts|lines|replies)",
      "split*|break*|chop*|spread*|divid*|fragment*|scatter*|cut* ~6 (across|into|over|between) ~3 "
      "(several|multiple|two|three|separate|a_few|short|many|little|small)? ~2 @BUBBLE",
      "hit*|press*|tap*|smash* ~2 (enter|send|return) ~4 (early|too_soon|too_early|after|before|mid-?sentence|"
      "every|each|constantly|half_way|halfway|repeatedly|a_lot)",
      "one_after_another|one_after_the_other|back-?to-?back ~2 @BUBBLE?",
      "@BUBBLE ~2 (one_after_another|one_after_the_other|back-?to-?back|in_a_row)",
      "half-?finished|unfinished|incomplete ~1 thought* ~8 (next|another|following|second|later|separate) ~1 "
      "message*",
      "finish*|complet*|continu* ~4 (in|with)? ~2 (the )?(next|another|following|a_second|a_separate) message",
      "as_its_own|in_its_own|as_a_separate|in_a_separate ~2 (tiny|short|small|quick)? ~1 (message|bubble|text)",
      "fire*|shoot*|send*|rattle* ~2 off ~3 @BUBBLE",
      "(before|without_waiting|without_waiting_for) ~4 (the_agent|they|anyone) ~3 (reply|replies|answer*|respond*|"
      "has_replied|has_answered|can_reply|can_answer|finishes)",
      "(one|a_single) ~1 (thought|idea|clause|phrase|fragment|sentence) ~2 (per|a|each|to_a) ~1 (message|text|bubble)",
      "(lots_of|loads_of|a_bunch_of|tons_of|heaps_of|a_lot_of) ~2 (short|quick|small|tiny|little|separate)? ~1 "
      "(messages|msgs|bubbles|texts|lines)",
      "(in|as|into) ~1 (short|quick|little|small|tiny|rapid|separate) ~2 (pieces|bits|chunks|fragments|bursts|"
      "bubbles|instalments|installments|lines|volleys)",
      "one ~2 (line|message|bubble|fragment|text) ~3 then ~2 another",
      "(sentence|thought|reply|answer|message|point|question|request|idea) ~3 (over|across|into|between) ~2 (two|"
      "three|four|five|several|multiple|a_few|a_couple_of|many|separate) ~1 (messages|texts|bubbles|lines|sends|"
      "chunks|pieces|posts)",
      "enter_key|return_key|send_button|ping*",
      "(hit*|press*|tap*) ~2 (enter|send|return) ~4 (type*|send*|another|again|then|and_again)",
      "(enter|send|return) ~3 (like|as) ~2 (a )?(comma|full_stop|period|punctuation|breath)",
      "(half|part|rest|remainder|other_half|second_half|end) ~5 (in|into|as) ~2 (the )?(next|another|following|"
      "separate|second|later) ~1 (message|text|bubble)",
      "(hit*|press*|send*) ~2 send ~3 (before|mid-?sentence|too_soon|too_early|halfway)",
      "(after|every) ~2 (few|couple_of|two_or_three|handful_of) ~1 words",
      subsumes=("terse", "gating")),
    C("emotional_bursts", {"frustration": 0.6},
      "burst*|outburst*|flash*|flare* ~2 (of )?(anger|irritation|frustration|temper|rage|emotion|annoyance|"
      "impatience|exasperation|sarcasm)", subsumes=("bursty",)),
    C("question_barrage", {"pushback": 0.3},
      "(rapid-?fire|barrage_of|volley_of|stream_of|string_of|flurry_of|fires_off|fire_off|rattles_off) ~2 "
      "(questions|objections|challenges|demands)", subsumes=("bursty",)),
    C("single_message", {"bursty": -0.7},
      "one|single|a_single ~1 (complete|tidy|whole|composed|full|well-?organi[sz]ed|coherent|long|proper|finished) "
      "~1 (message|block|bubble|reply|post)",
      "compose*|draft* ~3 (each|every|your|the|whole) ~3 (message|reply)",
      "(everything|all) ~3 in ~1 (one|a_single) ~1 (message|go|block)"),

    # ----------------------------------------------------------------- gating (information disclosure)
    C("withhold", {"gating": 0.8},
      "withhold*|withheld",
      "hold*|held ~1 back", "hold_off|holding_off|holds_off",
      "close_to_(the|your|their|his|her)_(chest|vest)|play*_(it|things)_close",
      "part* ~2 with ~4 (only )?(when|if|once|after|until|unless)",
      "keep*|kept ~4 to_(yourself|themselves|themself|himself|herself)",
      "guarded|piecemeal|drip-?feed*|dribs_and_drabs|dribble*|in_installments|in_instalments|trickle*_out|"
      "tight-?lipped|cagey|secretive|close-?mouthed|evasive|reticent|stingy_with",
      "@GIVE ~5 (one_at_a_time|one_by_one|piece_by_piece|bit_by_bit|piecemeal|gradually|slowly|in_pieces|"
      "little_by_little|sparingly|reluctantly|grudgingly|one_item_at_a_time|a_bit_at_a_time|in_stages)",
      "@INFO ~3 (one_at_a_time|one_by_one|piece_by_piece|bit_by_bit|piecemeal|little_by_little|in_stages)",
      "(one|1|single|a_single|exactly_one|that_one) ~1 (piece|detail|fact|bit|identifier|requested_detail|answer|"
      "number|piece_of_information) "
      "~4 (at_a_time|per_message|per_reply|per_turn|each_time|per_response|per_answer|in_each_message|a_message)",
      "at_most|no_more_than|only|just ~2 (one|a_single|1) ~3 (piece|detail|fact|item|thing|bit|identifier|"
      "requested_detail|number|answer) ~4 (per|each|every|at_a_time|in_each|a_message)",
      "let* ~3 (@AGENT|the_agent|the_rep) ~2 ask* ~2 (again|twice|for_each|for_every|for_it|for_them|first)",
      "make*|forc*|making ~3 (@AGENT|the_agent|the_rep|support|whoever) ~3 (ask|dig|work_for|pull|drag|pry|"
      "fish|earn|chase|coax|extract|request|prompt) ~3 (for|it|each|every|them|out|again)?",
      "only ~2 (on|upon|by) ~1 (request|demand|being_asked|asking|direct_request|explicit_request)",
      "on_request|upon_request|when_requested|if_requested|on_demand|need-?to-?know|on_a_need",
      "drag*|pull*|pry*|prise*|prize*|squeez*|wring*|winkle* ~3 out_of", "extract* ~3 from",
      "(only|just) ~2 (tell*|say*|give*|share*|mention*|answer*|provide*|offer*) ~4 what ~3 (@ASKED|asked_for|"
      "is_asked|was_asked|they_ask|the_agent_asks)",
      "(only|never|not|don't|won't|until|unless) ~3 (when|if|once|after|before|until|unless) ~3 (@ASKED|you_are_asked|"
      "it_is_asked_for|they_specifically_ask)",
      "until|unless ~3 @ASKED",
      "wait* ~3 (to_be|until|till|for_the_agent_to|for_them_to) ~2 (asked|ask*|prompted|requested)",
      "reluctan*|hesitan*|unwilling|loath|wary|stingy|guarded|protective ~4 (to )?(share|give|hand|"
      "reveal|provide|disclose|part_with|about_sharing|about_giving|with_(your|their)_(info|details|personal)|"
      "about_(your|their)_(info|details|personal))",
      "guard*|protect*|shield* ~3 (personal|private|details|info|information|data)",
      "open_with|start_with|lead_with|begin_with ~3 (problem|issue|complaint|story|situation|question) ~4 "
      "not|rather_than|instead_of|without ~2 (the )?(details|specifics|numbers|ids|identifiers|facts|information)",
      "(won't|not|never|doesn't|don't|refuse*_to|refuses|reluctant_to) ~2 (give|share|hand|provide|say|reveal|"
      "offer|part_with|type) ~3 (anything|a_thing|details|information|info|data|it|them|a_single) ~4 (until|unless|"
      "before|without)",
      "asked_for|asks_for|they_want|the_agent_wants|requests ~2 (two|several|multiple|both|more_than_one|a_few) "
      "~6 (only|just) ~1 (one|the_first|one_of_them|the_first_one)"),
    C("holding_back_feelings", {},
      "(hold*|held|keep*|kept|bottle*|swallow*) ~3 (back|in|to_(himself|herself|themselves|yourself)|down) ~3 "
      "(frustration|anger|irritation|tears|annoyance|temper|feelings|emotions|comment*|remark*|sarcasm|the_urge|"
      "opinions|complaints|criticism)",
      "(hold*|held|keep*|kept|bottle*) ~3 (frustration|anger|irritation|tears|annoyance|temper|feelings|emotions|"
      "opinions|complaints|criticism|sarcasm|comments) ~3 (back|in|to_(himself|herself|themselves|yourself)|down|"
      "in_check)",
      subsumes=("gating",)),
    C("nothing_more", {"gating": 0.28}, "(and|but) nothing ~1 (more|else|beyond|further)"),
    C("answers_nothing_more", {"gating": 0.6},
      "(answer*|respond*|reply*|tell*|say*) ~5 (and|but) nothing ~1 (more|else|beyond|further)"),
    C("privacy", {"gating": 0.25, "pushback": 0.2},
      "private_person|private_people|very_private|privacy-?conscious|privacy-?minded|privacy_sensitiv*|"
      "data_protection|personal_data_protection"),
    C("several_at_once", {"gating": -0.6},
      "more_than ~1 (one|a_single|the_one) ~2 (piece|detail|fact|bit|thing|item|identifier|answer|number) ~4 (per|each|"
      "at_a_time|in_a|a_message|in_one|at_once)?",
      "(answer*|respond*|reply*) ~2 (a_question|questions|anything) ~3 (that_wasn't|that_was_not|nobody|no_one|not) ~1 "
      "asked", flip=1.3),
    C("forthcoming", {"gating": -0.7},
      "volunteer*|forthcoming|open_book|open_about|transparent_about|free_with|generous_with_(info|details)",
      "@TELL ~5 (everything|all|every_detail|the_whole_story|all_the_details|every_identifier|all_relevant|"
      "all_your|all_of_it|all_the_information|it_all) ~6 (up_front|upfront|at_once|right_away|immediately|in_one_go|"
      "straight_away|from_the_start|in_(your|the)_(first|opening)_message|first_message|in_one_message|at_the_start|"
      "in_one_block|on_the_table)",
      "@TELL ~4 (@INFO) ~5 (up_front|upfront|right_away|immediately|at_once|all_at_once|in_one_go|straight_away|"
      "without_being_asked|unprompted|in_(your|the)_(first|opening)_message|from_the_start|first_thing)",
      "(lay|lays|laying)_out|dump*|front-?load*|unload* ~3 (everything|it_all|all)",
      "data_dump*|info-?dump*|information_dump*|info_dump*|all_the_information_at_once|everything_at_once|"
      "all_at_once|everything_up_front|everything_on_the_table",
      "as_soon_as|the_moment|whenever ~3 (they_are|it_is|you_are|they're|it's)? ~1 (asked|requested)",
      "without_being_asked|unprompted|proactively"),

    # ----------------------------------------------------------------- casual typing
    C("phone_typing", {"casual_typing": 0.8, "formality": -0.6},
      "lower-?case|lower_case|no_caps|no_capitals|all_lowercase|never_capitali[sz]e*",
      "typo*|misspell*|misspelt|spelling_mistakes|spelling_errors|spelling_slips|fat-?finger*|autocorrect_errors|"
      "autocorrect_fails|autocorrect_mistakes",
      "shorthand|abbreviat*|text-?speak|txt_speak|netspeak|chat_speak|internet_speak|internet_slang|textspeak|"
      "text_message_style|texting_style|sms_style|sms-?speak|mobile_style|texting_shorthand",
      "(no|skip*|drop*|without|ignor*|forget*|never|don't|doesn't|do_not|not|rarely|omit*|leave_out|leaves_out|lose|"
      "lack*|missing|minimal|little|sloppy|careless|loose|no_end|no_final|drops_end|drop_end) ~3 (capital*|"
      "capitali[sz]ation|punctuat*|apostroph*|full_stops|periods|end_punctuation|shift_key|spell-?check*|"
      "autocorrect|proofread*|the_shift_key|caps)",
      "sloppy|messy|careless|hasty|rushed|quick ~1 (typing|spelling|writing|texting)",
      "uncorrected|unfixed|unedited ~2 (slips|errors|mistakes|typos|words)",
      "(missing|dropped|drops|drop|swapped|swaps|mangled|mangles|jumbled|doubled|transposed|mixes_up|skips) ~1 "
      "(letters|words|characters|keys|vowels)",
      "txt_spk|txtspk|teen-?speak|like_a_teenager|gen-?z_style|like_a_text_message|like_a_text|texting_a_friend|"
      "text_to_a_friend",
      "autocorrect*|auto-?correct*|predictive_text|fat_thumbs|thumb-?typed",
      "bad|poor|terrible|shaky|creative|atrocious|sloppy|wobbly|hit-?and-?miss|iffy ~1 (spelling|typing|grammar)",
      "spelling ~3 (all_over_the_place|is_a_mess|goes_out_the_window|suffers|slips)",
      "(spelling|typing|grammar|punctuation) ~2 (is|are)? ~1 (shaky|poor|bad|terrible|sloppy|careless|patchy|iffy|"
      "awful|atrocious|hit-?and-?miss|all_over_the_place|a_mess|rough|loose|optional|rare|absent|missing|"
      "nonexistent|minimal|wobbly|messy)",
      "(capital*|capitals|punctuation|apostrophes|full_stops|periods) ~2 (is|are)? ~1 (rare|absent|missing|"
      "optional|nonexistent|scarce|an_afterthought|few_and_far_between|non-?existent)"),
    C("texting_examples", {"casual_typing": 0.6},
      "u|ur|r|pls|plz|rn|idk|thx|ty|lol|omg|tbh|brb|imo|cuz|bc|k|kk|np|nvm|sry|smth|w/e|btw|ok_thx|ty_u|"
      "thnx|tmrw|2day|b4|gr8|l8r|ppl|msg|pls_hlp",
      quoted=True),
    C("casual_register_examples", {"casual_typing": 0.2},
      "gonna|wanna|kinda|ya|yea|yeah|yep|yup|nope|dunno|lemme|gimme", quoted=True),
    C("texting_list", {"casual_typing": 0.6},
      "u ~2 (pls|plz|rn|idk|thx|ur|lol)", "(pls|plz|rn|idk|thx|lol|omg|tbh|brb) ~1 (rn|idk|thx|lol|omg|tbh|pls|u)"),
    C("shouting_caps", {"frustration": 0.55},
      "capital*|caps|upper-?case ~3 (for )?(shouting|emphasis|yelling|effect)", "all_caps|caps_lock|shouty",
      subsumes=("casual_typing", "formality")),
    C("phone", {"casual_typing": 0.25},
      "typ* ~4 (on_(a|your|their|the|his|her)_(small|tiny|cracked|old)?_?(phone|mobile|smartphone)|with_one_thumb|"
      "one-?handed|with_(your|their)_thumbs?|on_the_go|on_(a|the)_(bus|train))",
      "thumb* ~3 (phone|keyboard|screen|out|typing)", "phone|mobile ~1 (keyboard|typing)",
      "slang|emoji*|emoticon*"),
    C("sloppy", {"casual_typing": 0.25}, "sloppy|sloppily|careless|carelessly"),
    C("proper_typing", {"casual_typing": -0.75},
      "(spelling|punctuation|grammar|capital*|typing) ~3 (is|are)? ~1 (correct|perfect|flawless|impeccable|accurate|"
      "right|careful|good|proper|clean|tidy|immaculate|spot-?on)",
      "proper|correct|normal|perfect|careful|standard|good|impeccable|flawless|accurate|tidy|clean ~3 "
      "(capital*|capitali[sz]ation|punctuation|spelling|grammar|casing)",
      "desktop_style|proofread*|spell-?check*", "(capital|capitals) ~1 letters ~3 (properly|correctly)"),

    # ----------------------------------------------------------------- formality
    C("formal_register", {"formality": 0.8, "casual_typing": -0.4},
      "formal|formally|formal_register|formal_tone|formal_language|formal_english|formal_style",
      "businesslike|business-?like|business_(email|letter|correspondence|tone)|officialese|stilted|starchy",
      "(like|as_if|as_though) ~3 (a|an)? ~1 (letter|business_letter|formal_letter|memo|business_email|legal_document|"
      "official_complaint|cover_letter)",
      "(draft*|writ*|compos*) ~3 (a|an)? ~1 (letter|memo|business_email)",
      "sir|madam|dear_sir|yours_sincerely|yours_faithfully|kind_regards|best_regards|to_whom_it_may_concern",
      "stiff*|prim|old-?fashioned|courtly|ceremonious|punctilious"),
    C("formal_words", {"formality": 0.6},
      "however|regarding|furthermore|moreover|therefore|nevertheless|consequently|henceforth|hereby|"
      "with_respect_to|in_regard_to|accordingly", quoted=True),
    C("formal_devices", {"formality": 0.6},
      "connective*|semicolon*|semi-?colons?|proper_connectives|dashes|em-?dash*",
      "(no|avoid*|without|never_use|never_uses|don't_use|free_of) ~2 (slang|contractions|colloquial*|abbreviations)",
      "professional_(tone|register|language|manner|voice)|polished|eloquen*|articulate|carefully_worded|"
      "measured_(tone|language)|precise_language|robotic*|educated_register|carefully_constructed|"
      "well-?constructed|proper_english|textbook_english"),
    C("informal", {"formality": -0.6},
      "informal*|casual_tone|casually|conversational*|colloquial*|laid-?back|relaxed_tone|plain_wording|"
      "plain_language|everyday_language|everyday_words|the_way_(people|most_people)_(usually|normally)?_?(chat|text|talk)"),

    # ----------------------------------------------------------------- politeness (+ courteous, - dropped)
    C("courteous", {"politeness": 0.45, "accusatory": -0.3},
      "polite*|courteous*|courtesy|courtesies|well-?mannered|gracious*|respectful*|considerate|deferential|"
      "affable|amiable|cordial*|genial|mannerly|civil|civility|obsequious*|subservient|effusive_thanks",
      negated=0.8, flip=0.0),
    C("courtesy_acts", {"politeness": 0.45},
      "thank*|thanks|grateful|gratitude|appreciat*|apolog*|sorry",
      "please|greet*|pleasantr*|nicet*|small_courtes*|no_worries|hi|hello|hey|have_a_(great|nice|good)_day|excuse_me|"
      "if_you_don't_mind|kindly|sign-?off*|pardon",
      flip=0.0, in_quotes=0.5, negated=0.75),
    C("effusive", {"politeness": 0.7},
      "gush*|effusive*|fawn*|grovel*|over-?polite|overly_polite|profuse*|lavish*_(thanks|praise)|"
      "bends_over_backwards|sugary|saccharine|deferential|obsequious*",
      flip=0.0, negated=0.0),
    C("warm", {"politeness": 0.25, "frustration": -0.3},
      "warm|warmly|warmth|friendly|kindness|kind-?hearted|pleasant|sweet|gentle|good-?natured|cheerful*|upbeat|"
      "sunny|charming|nice", flip=0.0),
    C("ordinary_courtesy", {"politeness": -0.1},
      "(ordinary|usual|normal|everyday|standard|basic|natural) ~2 (courtes*|pleasantr*|politeness|manners|"
      "thanks|please)",
      "courtes*|courteous*|pleasantr*|politeness|manners|thanks|thank-?you|polite*|friendly ~5 (naturally|natural|"
      "is_fine|is_normal|as_usual|as_normal|"
      "where_appropriate|when_appropriate|when_natural|as_needed|without_overdoing|come_naturally|comes_naturally|"
      "like_anyone|like_most_people|as_most_people_do|in_the_usual_way|in_the_normal_way|in_an_ordinary_way|"
      "normally|not_overly|not_excessively|but_not_effusive*|within_reason|a_normal_amount)",
      subsumes=("politeness",)),
    C("rude", {"politeness": -0.6, "accusatory": 0.5},
      "rude*|impolite|discourteous|disrespectful|unfriendly|ill-?mannered|uncivil|insolent", flip=0.0),
    C("snappish", {"frustration": 0.6, "politeness": -0.3},
      "curt|curtly|snappish|snippy|snappy|short-?fused|tetchy|crabby|huffy|waspish|sharp-?tongued|irritable|touchy|"
      "prickly_mood|ratty|shirty", flip=0.0),
    C("no_time_for_courtesy", {"politeness": -0.6},
      "(no|little|zero|without) ~1 (time|patience|use|room) ~2 for ~2 (pleasantries|niceties|small_talk|chit-?chat|"
      "greetings|formalities|courtesies|politeness|manners|thank-?yous|social_graces)",
      subsumes=("impatience", "politeness")),
    C("bossy", {"politeness": -0.5, "accusatory": 0.15},
      "bark*|bossy|demanding|commanding|imperious|peremptory|orders_the_agent_around|ordering_the_agent|"
      "issues_orders|gives_orders", flip=0.0),
    C("cold", {"politeness": -0.55},
      "short_with|cold|coldly|frosty|icy|dismissive*|surly|ungracious|unapologetic*|"
      "graceless|gruffly|curtly|tersely|unceremonious*|no_(manners|courtesy|courtesies|niceties|pleasantries)",
      flip=0.0),

    # ----------------------------------------------------------------- verbosity variation
    C("length_swings", {"verbosity_variation": 0.8},
      "alternat*|oscillat*|swing*|swung|flip-?flop*|range*|ranging|veer*|vary|varies|varying|mix* ~5 (@SHORT|@LONG) "
      "~~6 (and|to|with|or|then) ~3 (@SHORT|@LONG)",
      "from ~4 @SHORT ~6 to ~4 @LONG", "from ~4 @LONG ~6 to ~4 @SHORT",
      "vary|varies|varying|varied|variable|inconsistent|unpredictab*|erratic|uneven|swing*|veer*|alternat*|mix*|"
      "fluctuat*|switch* ~4 (length|lengths|long|short|brief|terse|verbose|wordy|ramble*|detail)",
      "some|sometimes|occasionally|one_moment|at_times ~4 (short|brief|terse|one|single|two|few|one-?word|"
      "clipped) ~8 (others|some|other_times|sometimes|then|and_then|the_next|next|while_others) ~4 (long|lengthy|"
      "ramble*|detailed|paragraph*|wall*|essay*|verbose|at_length|overshare*|go_on)",
      "some|sometimes|occasionally|one_moment|at_times ~4 (long|lengthy|ramble*|detailed|paragraph*|wall*|essay*|"
      "verbose|at_length) ~8 (others|some|other_times|sometimes|then|and_then|the_next|next|while_others|with|"
      "otherwise) ~5 (short|brief|terse|one|single|two|few|one-?word|clipped|one-?liners|quick)",
      "long|lengthy|rambling|detailed ~3 (turns|messages|replies|ones) ~4 (with|and|then) ~4 (short|quick|brief|"
      "one-?liners|one-?word)",
      "wall_of_text ~8 (then|other_times|sometimes|and) ~4 (one|short|brief|single)",
      "(at_length|in_detail) ~~4 otherwise ~3 (short|brief)",
      "(length|lengths|size) ~3 (vary|varies|varying|varied|swing*|fluctuat*|unpredictable|all_over_the_place|"
      "inconsistent|erratic|changes_a_lot|differ*)",
      "some ~4 (short|brief|terse|one|single|two|few|one-?word|clipped) ~~10 (others|other_times|sometimes|the_next) "
      "~5 (long|lengthy|ramble*|detailed|paragraph*|wall*|essay*|verbose|at_length|overshare*|on_and_on)",
      "some ~4 (long|lengthy|ramble*|detailed|paragraph*|wall*|essay*|verbose|at_length) ~~10 (others|other_times|"
      "sometimes|the_next) ~5 (short|brief|terse|one|single|two|few|one-?word|clipped|one-?liners|quick)",
      "no_telling ~3 (which|how_long|what_length)",
      "(paragraph*|essay*|long|lengthy|wall_of_text|ramble*|rambling|detailed|long-?winded|verbose|wordy|story) ~~6 "
      "(the_next|next|then|other_times|others|another|the_other|moment|minute) ~5 (short|brief|one_word|one-?word|"
      "monosyllab*|terse|clipped|just|a_word|single|a_single|one|k|ok|yes|no|one-?liner*|curt|a_letter)",
      "(short|brief|one_word|one-?word|monosyllab*|terse|clipped|a_word|single_word|one-?liner*|curt) ~~6 "
      "(the_next|next|then|other_times|others|another|the_other|moment|minute) ~5 (paragraph*|essay*|long|lengthy|"
      "wall_of_text|ramble*|rambling|detailed|long-?winded|verbose|wordy|stor*|on_and_on)",
      subsumes=("terse",), sentence_scope=True),

    # ----------------------------------------------------------------- hedging
    C("uncertain", {"hedging": 0.75},
      "hedg*|unsure|uncertain*|tentativ*|insecure|self-?doubt*|noncommittal|wishy-?washy|unconfident|"
      "diffident|hesitan*",
      "(not|isn't|aren't|wasn't|never|rarely|seldom) ~1 (entirely|completely|quite|totally|really|too|very|always|"
      "fully|a_hundred_percent)? ~1 (sure|certain)",
      "(doubt|doubts|doubting|doubtful) ~2 (yourself|themselves|himself|herself|themself|your_own|their_own|own)",
      "lack*|without ~2 confidence",
      "qualif* ~1 (every|each|all|most|his|her|their|your|what)? ~1 (statement*|answer*|claim*|sentence*|remark*|"
      "everything)",
      "soften*|couch* ~3 (it|them|statements|answers|claims|words|language|everything)",
      "waffl*|dither*|equivocat*|hesitat*",
      "preface*|prefacing|pepper*|sprinkl*|lace*|pad* ~3 (answers|replies|statements|everything|each|sentences|"
      "messages|what_(she|he|they)_say*) ~2 with"),
    C("hedge_examples", {"hedging": 0.28},
      "i_think|maybe|probably|i_guess|i_believe|perhaps|kind_of|sort_of|might|not_sure|i'm_not_sure|"
      "i'm_not_100%_sure|possibly|if_i_remember|i_suppose|it_might|could_be|if_i_recall|i'm_fairly_sure|"
      "fairly_sure|pretty_sure|don't_hold_me_to|i_think_so|not_a_hundred_percent|if_memory_serves|i_could_be_wrong|"
      "if_i'm_not_mistaken|correct_me_if|i_might_be_wrong|as_far_as_i_know|afaik|i'm_not_certain|i'm_not_positive|"
      "or_something|i_reckon|i_suppose_so",
      quoted=True),
    C("worried", {"hedging": 0.25},
      "anxious*|nervous*|worried|worrying|worrier|worry|worries_(about|that|over)|timid*|shy|apprehensive|uneasy|jittery|fretful|skittish|meek|unassertive"),
    C("approximate", {"hedging": 0.3, "ambiguity": 0.25},
      "approximately|approximate|roughly|from_memory|rough_idea|memory_is_(fuzzy|hazy|patchy)|fuzzy_memory|"
      "hazy_memory|half-?remember*|vaguely_remember*|can't_quite_remember|don't_quite_remember"),
    C("confident", {"hedging": -0.6},
      "commit* ~2 (to )?(an_answer|answers|anything|a_position|a_statement|a_detail|details|it)",
      "confident*|certain|assertive*|decisive*|definitive*|self-?assured|sure_of_(yourself|themselves|himself|"
      "herself)|firmly|firmness|unwavering|authoritative*|emphatic*|categorical*"),

    # ----------------------------------------------------------------- pushback (skepticism)
    C("skeptic", {"pushback": 0.85},
      "skeptic*|sceptic*|distrust*|mistrust*|suspicious*|suspicion*|incredul*|cynic*|untrusting|disbeliev*|"
      "wary_of|leery|doubtful_of|doubts_the_agent|doubt_(the|what|everything|their|claims|whether)",
      "(ask*|demand*|want*|wonder*|query|queries|challenge*|press*) ~3 (why|what_for|what_it_is_for) ~5 (need*|"
      "want*|requir*|necessary|ask*|it's_needed|it_is_needed|they_ask|used)",
      "(ask*|demand*|want*|query|queries) ~3 what ~4 (needed|for|used_for|it's_for|it_is_for)",
      "push*|pushes ~1 back",
      "pushback|argu*|disagree*|contradict*_(the_agent|them|what|him|her)|object*_to|rebut*|talk*_back",
      "challenge*|challenging ~2 (the_agent|them|what|every|each|statements|answers|claims|the_rules|policy|"
      "anything|everything|him|her|the_agent's|any)",
      "cross-?examin*|interrogat*|quizz*", "prob* ~2 (the_agent|them|every|each)",
      "grill* ~1 (the_agent|them|him|her|support)",
      "(needs|takes|requires|need|take) ~1 (convincing|persuading|persuasion)",
      "hard_to_convince|not_easily_convinced|has_to_be_convinced|wants_convincing",
      "correct* ~2 (the_agent|them|him|her|the_rep|support|the_agent's)",
      "suspect* ~3 (the_agent|they|something|a_trick|a_scam|a_mistake|an_error|mistakes|errors|foul_play)",
      "(want*|need*|demand*|expect*|require*|ask*_for|insist*_on) ~2 (reasons|a_reason|justification*|"
      "proof|evidence|receipts|a_source)",
      "not_take ~3 face_value",
      "(point*_out|remind*|say*|insist*|complain*|note*|tell*|snap*|reply|replies|retort*|object*|protest*) ~5 "
      "already ~2 (told|gave|given|said|provided|answered|mentioned|sent|typed|explained)",
      "(make|makes|have|has|get|gets|insist*|demand*|require*) (them|the_agent|the_rep|him|her|support) ~2 (to )?"
      "(confirm*|verify|prove|justify|double-?check|explain_why|back_up|show)",
      "(ask*|make*|want*|demand*|expect*|get*|press*|push*) ~3 to ~1 (justify|prove|back_up|explain_why|defend|cite|"
      "source|document|show_where|point_to|quote|show_proof)",
      ),
    # "question" the verb: never right after a determiner ("part of a question, answering …" is the noun)
    C("question_the_agent", {"pushback": 0.85},
      "question|questions|questioning|questioned (everything|the_agent's|the_agent|their|statements|claims|rules|"
      "policy|policies|totals|outcomes|each|every|why|whether|what_(they|the_agent|you're|you_are)|"
      "what_you_are_told|what_they_say|prices|price|the_need|them|him|her|every_step|decisions)",
      "question|questions|questioning|questioned (any|every|each|all|the|the_agent's|their|most)? ~1 (statement*|"
      "claim*|answer*|rule*|polic*|total*|outcome*|figure*|decision*|explanation*|step*|price*|charge*|fee*|"
      "assertion*|suggestion*)",
      not_after=r"\b(?:a|an|the|each|every|any|one|second|last|first|of|that|this|another|same|follow-up)\s*$"),
    C("skeptic_more", {"pushback": 0.85},
      "(demand*|insist*_on) ~2 (confirmation|proof|justification|an_explanation|a_reason|evidence)",
      "dig* ~2 (in|heels)", "restate* ~3 (request|position|demand|what_you_want)",
      "insist* ~2 (on )?(an_answer|answers|explanations|proof|a_reason|reasons|speaking_to|the_rules|being_right|"
      "that|getting|seeing)",
      "stubborn*|hold*_(your|their)_ground|unconvinced|not_convinced|hard_to_convince|won't_budge|"
      "refuse*_to_accept|demand*_explanation*"),
    # "doesn't trust her own memory" is self-doubt, not distrust of the agent
    C("self_doubt", {"hedging": 0.5},
      "trust* ~3 (herself|himself|themselves|yourself|myself|her_memory|his_memory|their_memory|your_memory|memory|"
      "own|instincts|recollection)", subsumes=("pushback",)),
    C("second_guess_agent", {"pushback": 0.75},
      "second-?guess* ~4 (the_agent|agent's|what_the_agent|what_they|they_tell|tells_him|tells_her|tells_them|"
      "answers|every_answer|the_answers|the_rep|support|everything_the_agent|everything_they)",
      subsumes=("confusion",)),
    C("reason_first", {"pushback": 0.75},
      "(until|unless|before|without|once) ~5 (explain*|justif*|say*|tell*|give*|gives|offers*) ~3 (why|a_reason|"
      "a_good_reason|the_reason|what_for|what_it's_for)",
      "(want*|need*|demand*|expect*|require*) ~2 (a )?(good )?(reason|justification|explanation) ~3 (before|for_every|"
      "for_each|first)"),
    C("verification", {"pushback": 0.28},
      "(ask|request|want|expect|need) ~3 (them|the_agent|the_rep|him|her|it|support|they)? ~2 (to )?"
      "(confirm*|verify|double-?check|repeat_back|read_back)",
      "(request*|want*|need*|ask*_for) ~2 (confirmation|proof|justification|an_explanation|a_reason|evidence|"
      "reassurance)",
      "double-?check* ~3 (everything|what|claims|their|the_agent|each|every|before|anything|all|whatever)",
      "verif* ~4 (what|everything|claims|told|each|every|anything|the_agent)"),
    C("ask_if_sure", {"pushback": 0.85},
      "(whether|if) ~3 (they|the_agent|they're|the_rep|he|she|the_agent's|support) ~2 (are|is|really)? ~1 "
      "(sure|certain|right|correct|positive)",
      "(whether|if) ~3 (the_rule|the_policy|that_rule|that_policy|the_fee|the_charge|the_total|the_price) ~2 "
      "(really)? ~2 (applies|is_right|is_correct|exists|is_true|is_real)",
      subsumes=("hedging",)),
    C("check_if_right", {"pushback": 0.28},
      "(whether|if) ~3 (that|the_answer|it|the_amount|the_figure|everything) ~2 (is|are|really)? ~1 (right|correct|"
      "accurate|true)", subsumes=("hedging",)),
    C("skeptic_examples", {"pushback": 0.75},
      "are_you_sure|you_sure|why_do_you_need|what_do_you_need_(it|that|this)_for|why_is_that_needed|that_doesn't_sound_right|"
      "that's_not_right|that's_wrong|i_already_told_you|as_i_said|like_i_said|how_many_times|you're_not_listening|"
      "is_that_right|really\\?|that_can't_be_right|why",
      quoted=True),
    C("trusting", {"pushback": -0.6},
      "trust|trusts|trusted|trusting|trustful|at_(their|the_agent's|his|her)_word|go*_along|credulous|gullible|agreeable|compliant|"
      "accommodating|open_mind|open-?minded",
      "take* ~3 face_value", "believ* ~3 (the_agent|what|everything)",
      "take*|accept* ~3 (answer|answers|word|explanation*|no|response|reply) ~3 (as_final|as_given|at_face_value|"
      "for_an_answer|as_gospel|as_true|as_the_last_word)",
      "accept* ~3 (what|explanations|answers|the_agent's|their|everything|suggestions)",
      flip=0.8),

    # ----------------------------------------------------------------- frustration (emotional leakage)
    C("annoyed", {"frustration": 0.8},
      "frustrat*|annoy|annoys|annoyed|annoyance|annoying|irritated|irritation|irritating|irritab*|exasperat*|aggravat*|agitat*|angry|angrily|anger*|mad|furious*|fury|"
      "livid|irate*|enraged|rage|seething|fuming|fed_up|cranky|grumpy|grouchy|crabby|short-?tempered|"
      "hot-?headed|quick-?tempered|testy|tetchy|peeved|miffed|vexed|displeas*|irked|riled|worked_up|on_edge|"
      "cross|indignant|huffy|sulky|bitter|resentful|disgruntled|at_the_end_of_(your|their|his|her)_(rope|tether)|"
      "short_fuse|blow*_up|boil*|fume*|ticked_off|pissed|heated|grumbl*|griping|gripe*|grumpily|exasperation"),
    C("disappointed", {"frustration": 0.4},
      "disappoint*|dissatisf*|unhappy|upset|let_down|unimpressed|not_impressed|sick_of|tired_of|had_enough|fed-?up"),
    C("souring", {"frustration": 0.6},
      "sarcas*|passive-?aggressive*|pointed_(remarks|comments|replies)|snide_(remarks|comments)",
      "(tone|mood|replies|messages|manner|voice) ~4 (sour*|sharpen*|harden*|cool*|chill*|darken*|curdle*|"
      "turn*_(sharp|cold|icy|frosty|nasty)|get*_(sharp|sharper|colder|frostier|shorter|edgier|testier)|frays)",
      "(with|an|a) ~2 edge",
      "edgy|edgier|bristles|bristling|bristled|chafe*|bridl*|seeth*|smoulder*|simmer*|steaming|"
      "hot_under_the_collar|tuts|tutting|huffs|huffing|grits_(their|his|her)_teeth",
      "angrier|madder|grumpier|testier|crankier|crabbier|snappier|tetchier|cranky|crankily|more_irritable|"
      "more_irritated|more_annoyed|more_frustrated|more_exasperated|short_with",
      "grumbl*|moan*|whing*|whin*",
      "nerves ~3 (fray*|frazzl*|shot|on_edge|thin|raw|wearing)", "frayed_nerves|frazzled",
      "snaps|snapped|snapping|snap_at|snap_back",
      "temper ~2 (flare*|rise*|short|frays|snaps|boils|gets_the_better|wears)|quick_temper|hot_temper|"
      "bad-?tempered|ill-?tempered|sick_and_tired|gritted_teeth|through_gritted_teeth|mutter*",
      "loses_it|losing_it|lose_it_completely"),
    C("complaining", {"frustration": 0.25}, "complain*"),
    C("pleased", {"frustration": -0.5},
      "happy|pleased|satisfied|content|glad|cheery", flip=0.9),
    C("lose_patience", {"frustration": 0.75, "impatience": 0.25},
      "lose*|losing|lost ~2 (your|their|his|her|all)? ~1 (patience|temper|cool|composure)",
      "run*|ran ~2 out_of ~1 patience",
      "patience ~4 (thin|wearing|wears|runs|running|short|limited|gone|snap*|wafer-?thin|exhausted|shot|"
      "run_out|ran_out|fraying)",
      "(little|no|zero|limited) ~1 patience_(left|remaining)"),
    C("emotion_shows", {"frustration": 0.55},
      "emotion* ~4 (leak*|show*|seep*|spill*|build*|rise|rising|surface*|creep*|bleed*)",
      "vent*|snap*|sigh*|huff*|groan*|eye-?roll*|roll*_(your|their)_eyes|exclamation_marks|exclamation_points|"
      "trailing_dots|ellipses|ellipsis|all_caps|caps_lock|capital_letters_for_emphasis|shout*|yell*|scream*|"
      "raise*_(your|their|his|her)_voice|raised_voice|irritation|annoyance|impatience_shows",
      "let ~2 (it|that|this|the_irritation|the_annoyance|your_mood|your_feelings|your_emotions|it_all) ~1 show",
      "passive-?aggressive*",
      "at_(your|their|his|her)_wits'?_end|last_straw|boiling_point|end_of_(your|their|his|her)_tether"),
    # A mood or a hard day says how someone feels, not how they write: a hint only.
    C("mood", {"frustration": 0.2},
      "stress*|tense|tension|bad_(day|week|mood)|rough_(day|week|morning)|long_(day|week|shift)|"
      "terrible_(day|week)|dreadful_(day|week)|tired|exhausted|worn_out|weary|grumpy_mood"),
    C("mood_shown", {"frustration": 0.55},
      "(let*|show*|say*|express*|voice*|make*_it_clear|tell*|hide|hides|mask*) ~4 (disappoint*|unhappy|"
      "displeasure|frustration|annoyance|irritation|anger|exasperation|feelings|mood|unhappiness|"
      "dissatisfaction)",
      "(disappoint*|unhappy|dissatisf*|displeas*) ~4 (says_so|say_so|shows|show_it|lets_it_show|makes_it_clear|"
      "doesn't_hide|does_not_hide|voices)"),
    C("frustration_examples", {"frustration": 0.6},
      "ugh|argh|seriously|come_on|ridiculous|unbelievable|forget_it|never_mind|wtf|omg|\\?\\?|!!|\\.\\.\\.|"
      "for_real|you've_got_to_be_kidding|are_you_kidding|really\\?|how_hard_can_it_be|jeez|sigh|finally",
      quoted=True),
    C("calm", {"frustration": -0.7, "accusatory": -0.4},
      "calm*|even-?tempered|even-?toned|even-?keeled|unflappable|unbothered|placid|serene*|unruffled|"
      "cool-?headed|level-?headed|mellow|zen|stoic*|good-?humou?red|easy-?going|laid-?back|relaxed|"
      "neutral|patient|patiently|unemotional|emotionless|dispassionate|without_complaint|"
      "never_complain*|takes_it_in_stride|in_good_spirits|good-?natured|collected|tolerant|forgiving",
      "shrug* ~2 off", "keep* ~2 (your|their|his|her)? ~1 (cool|calm|composure)",
      flip=0.5),

    # ----------------------------------------------------------------- accusatory
    C("blame", {"accusatory": 0.8},
      "accus*|blam*|berat*|scold*|insult*|hostil*|confrontational|combative|belligerent|aggressive*|abrasive|"
      "antagoni*|condescend*|patroni[sz]*|snide|nasty|demeaning|name-?calling|outburst*|tirade*|"
      "rant*|abus*|finger-?point*|point*_fingers|point*_the_finger|snarky|snark|mocking|mock*|belittl*|disparag*|"
      "cutting_remarks|jab*|barb*|rail*_against|lay*_into|tear*_into|bitch*",
      "lash* ~2 out",
      "call* ~3 (the_service|them|the_agent|it|the_company|the_process|the_website|support) ~2 (useless|incompetent|"
      "a_joke|pathetic|out|terrible|a_scam|stupid|hopeless|a_waste)",
      "(demand|ask|insist|want*) ~3 (a|the|to_speak_to|to_talk_to)? ~2 (manager|supervisor)",
      "escalat* ~3 (manager|supervisor|complaint)",
      "(fault|faults|incompetence|failure|failures) ~4 (company|agent|them|their|the_service|support)",
      "complain* ~3 (about )?(the_service|the_company|the_agent|support|the_website|the_process)"),
    # Particular ways of lashing out: not doing one of them says little about blame in general.
    C("threats_and_swearing", {"accusatory": 0.6},
      "threat* ~4 (complain|leave|escalate|review|report|cancel_everything|take_your_business|go_elsewhere|"
      "bad_review|sue|lawyer|the_bbb)?", "curse*|cursing|swear*|profan*|expletive*|obscen*",
      negated=0.3),
    C("accusation_examples", {"accusatory": 0.7},
      "useless|incompetent|waste_of_time|terrible_service|worst|pathetic|joke|scam|rip-?off|do_your_job|"
      "ridiculous_service|unacceptable|you_people|your_company|this_company|what_kind_of_service|hopeless|"
      "a_waste|garbage|trash|clueless",
      quoted=True),
    C("accusation_words", {"accusatory": 0.45},
      "useless|incompetent|waste_of_(your|my|their|our)?_time|terrible_service|do_your_job|unacceptable|shoddy|"
      "pathetic|disgrace*|appalling|shambles|a_joke|rip-?off|scam|scammers|hopeless|clueless",
      "(whose|their|the_company's|the_agent's|the_store's|your) ~1 fault", "(at|is_at) ~1 fault"),
    C("prickly", {"accusatory": 0.35, "frustration": 0.35, "politeness": -0.4},
      "prickly|spiky|pointed|short_fuse|snappish|cutting|caustic|acerbic|scathing|sharp-?tongued|spiteful|"
      "pugnacious|thorny|irascible|cantankerous|crotchety|curmudgeon*", flip=0.0),

    # ----------------------------------------------------------------- ambiguity (vague references)
    C("vague", {"ambiguity": 0.8},
      "vague*|vaguely|imprecis*|inexact*|nebulous*|woolly|wooly|hand-?wav*|non-?specific|"
      "unspecific|ambiguous*|ambiguity|indirect*_(references|terms)|fuzzy_(references|terms|descriptions)|"
      "in_general_terms|generic_terms|general_terms",
      "(refer*|describ*|talk*|speak*|mention*|name*|call*) ~3 (loose*|vague*|approximately|roughly|generally|"
      "in_passing|obliquely|indirectly|sloppily)",
      "(loose|vague|fuzzy|sloppy|approximate) ~1 (description*|reference*|terms|language|wording|labels|names)",
      "(that|the|this|some|those|these|the_other|the_blue|the_red|the_big|the_little) ~1 (thing|thingy|"
      "thingamajig|whatsit|whatchamacallit|one|ones|stuff|item) ~4 (i|you|they|we|he|she) ~1 (got|ordered|bought|"
      "booked|purchased|had|sent)",
      "(leave_out|leaves_out|omit*|skip*|without|no|avoid*|hold_back|keep_back|withhold*) ~3 (specifics|"
      "specific_names|item_names|product_names|exact_names|exact_details|names_of|model_names|precise_names|"
      "the_exact_(item|product|name)|identifying_details|what_the_item_is|which_item)",
      "(don't|do_not|never|without|not|doesn't|avoid*|rather_than|instead_of) ~2 (name|naming|identify*|specify*) ~3 "
      "(item*|product*|thing*|which|the_specific|exactly|precisely)",
      "(isn't|aren't|not|never) ~1 sure ~2 what ~2 (things|it|they|items) ~2 (are|is)? ~1 called",
      "(without|never|not|doesn't|don't|rarely) ~2 (saying|specifying|naming|stating|clarifying|making_clear) ~1 "
      "(which|exactly_which)",
      "(describe|explain|talk_about|mention) ~3 (problem|issue|situation|it) ~3 before ~3 (nam*|identif*|"
      "specif*|saying_which)",
      "assum*|expect* ~5 (obvious|it's_clear|details_are_obvious|everyone_knows|to_guess|to_work_out|to_figure_out|"
      "to_read_(her|his|their|your)_mind|mind_reader|already_knows_which|knows_which|will_know_which)",
      "(without|never|not|doesn't|don't|rarely) ~2 spell* ~2 (it|things|anything|them|details)? ~1 out",
      "misnam*|wrong_name*",
      "(by|with) ~2 (description|descriptions|its_colour|its_color|its_look) ~3 (instead_of|rather_than) ~2 nam*"),
    # The agent is to guess what is meant: said of the agent, so allowed in a clause about the agent.
    C("mind_reading", {"ambiguity": 0.7},
      "(know*|knew|understand*|get*|guess*|work_out|figure_out) ~1 what ~1 (she|he|they|you|i) ~1 (mean*|meant|"
      "is_talking_about|are_talking_about|want*)",
      "(without|never|not|doesn't|don't|rarely) ~2 spell* ~2 (it|things|anything|them|details)? ~1 out",
      agent_ok=True),
    # "won't accept vague answers": vagueness of the agent, a sign of pushback
    C("vague_answers", {},
      "vague|fuzzy|evasive|woolly|hand-?wavy ~1 (answers|replies|responses|explanations|promises|assurances|"
      "statements|policy|policies|excuses)", subsumes=("ambiguity",)),
    C("precise_on_demand", {"ambiguity": 0.8},
      "(become*|get*|turn*|be|grow*|go|only) ~3 (specific|precise|exact|clear|concrete|explicit) ~4 (only )?(when|once|"
      "after|if|until|as_soon_as) ~3 (@ASKED|the_agent_asks|they_ask|someone_asks|they_press|the_agent_presses|"
      "the_agent_pins|pressed|pinned|asked_which|they_ask_which)",
      "(hedg*|vague*|loose*) ~4 until ~4 (pin*|press*|ask*)",
      "(pin*|nail*) ~3 down",
      "only ~2 (when|once|after|if) ~12 (pin*|nail*|specific|precise|exact|name*|clear|concrete)",
      "which_one_you_mean|which_one_they_mean|which_item_you_mean",
      "(until|unless|when|once) ~3 (@ASKED|asks|ask|asked) ~3 which",
      subsumes=("gating",)),
    C("vague_examples", {"ambiguity": 0.7},
      "that_one|the_other_one|the_blue_one|the_thing|that_thing|the_thing_i_(got|ordered|bought)|the_thingy|"
      "the_number_thingy|sometime_last_(month|week)|a_while_ago|the_one_from_before|you_know_the_one|that_item|"
      "that_order|this_thing|the_item|the_order|my_order|the_stuff|that_stuff|the_package|that_package|"
      "whatever_it's_called",
      quoted=True, whole_quote=True),
    C("precise", {"ambiguity": -0.65},
      "(name|names|naming|say|says|state|states|describe*|refer*|identif*|mention*|specify*|spell*_out) ~4 "
      "(clearly|exactly|precisely|explicitly|specifically|accurately|by_name|unambiguously|in_full)",
      "precise|exact|specific|clear|explicit ~2 (about|from_the_start|from_the_first|right_away|names|terms)",
      "(exactly|precisely) ~1 what ~2 (you|they|he|she) ~1 (mean|means|want|wants)",
      "(say|says|state) ~1 exactly"),

    # ----------------------------------------------------------------- selective attention
    C("last_only", {"selective_attention": 0.85},
      "(only|just|solely|exclusively) ~5 (last|final|latest|most_recent|last-?mentioned)",
      "(only|just|solely|exclusively) ~5 (closing|first|one_part|whatever|one_thing|one_question|part|bit|piece) ~4 "
      "(question|sentence|thing|line|point|part|message|bit|request|item|caught|noticed|mentioned|said|asked|of)",
      "slip* ~2 (past|by)", "go*_unanswered|fall*_through_the_cracks", "let ~4 go_unanswered",
      "(let|leave|leaves|lets) ~2 (the_others|the_rest|the_other_questions|everything_else|the_other_ones) ~2 (slide|"
      "go|wait|hang|drop|pass|slip)",
      "(forget*|ignor*|miss*|overlook*|lose_track_of|drop*) ~2 (the_rest|the_others|everything_else|"
      "the_other_questions|other_questions|the_second_question|the_follow-?up)",
      "(part|bit|piece|whatever|things|thing|words|question) ~6 (noticed|catches_(your|their)_eye|caught_(your|"
      "their)_eye|stands_out|stood_out|jumps_out|jumped_out|you_saw|they_saw|you_read|grabs_(your|their)_attention|"
      "you_latched_onto|registered)",
      "tunnel_vision|tunnel-?vision*|cherry-?pick*|latch*_onto|selectiv*",
      "fixat*|hung_up|hangs_on|fixes ~3 (on )?(one|a_single|a) ~2 (detail|point|thing|word|part|question)",
      "(answer*|respond*|reply*|react*|address*) ~4 (one|a_single|just_one|only_one|one_of) ~3 (question|thing|"
      "point|part|of_them|of_the_questions|item|request)",
      "whichever|whatever ~5 (catches|grabs|stands_out|jumps_out|comes_first|comes_last|is_last|is_first|"
      "happens_to|strikes|notices|noticed|sees|saw)",
      "(multi-?part|several|multiple|two|compound|double|two-?part|stacked) ~1 questions ~8 (only|just|one|miss*|"
      "ignor*|forget*|skip*|first|last)",
      "pick* ~3 (one|a_single|just_one) ~3 (to_answer|thing|question|and_ignore)",
      "(answer*|respond*|reply*|react*|address*) ~3 (to )?(only )?(part|half|some|bits|one_part|pieces) ~2 of",
      "(answer*|respond*|reply*|react*) ~3 (to )?(the )?(first|last|final|latest) ~2 (part|half|sentence|line|"
      "question|bit|thing|point|item|request)"),
    C("skimming", {"selective_attention": 0.7},
      "skim*|half-?read*|half-?listen*|glanc*|speed-?read*",
      "scan* ~2 (messages|replies|quickly|over)",
      "miss* ~4 (part|parts|half|the_second|second|some|questions|details|the_point|bits|a_question|things|"
      "follow-?up|the_rest|points|what_the_agent|instructions|key)",
      "overlook*|gloss*_over|tune*_out|zone*_out",
      "ignor* ~4 (disclaimer*|summar*|secondary|second|other|rest|follow-?up|extra|greeting*|questions|part|parts|"
      "everything_else|all_but|anything_else|long|the_agent's|most)",
      "skip* ~3 (over|past)? ~3 (disclaimer*|summar*|the_rest|fine_print|long_explanations|anything_long|"
      "the_details_of_(their|the_agent's))",
      "(don't|doesn't|not|never|rarely) ~2 (read|reads|reading|finish) ~3 (the_whole|whole|entire|everything|"
      "carefully|all_of|to_the_end|long)"),
    C("distracted", {"selective_attention": 0.25},
      "distract*|multitask*|multi-?task*|juggl*|preoccupied|half_an_eye|divided_attention|absent-?minded*",
      "attention ~3 (wanders|drifts|elsewhere|split|divided|comes_and_goes|span|slips|is_elsewhere|short|limited)",
      "(doing|cooking|driving|watching|working_on|minding) ~3 (something_else|other_things|two_things|several_things)"),
    C("attentive", {"selective_attention": -0.7},
      "read* ~4 (carefully|fully|every|whole|thoroughly|the_whole|entire|attentively|in_full|closely)",
      "full|undivided|close ~1 attention", "pay*|paying ~2 attention",
      "attentive*|methodical*|point_by_point|point-?by-?point|systematic*",
      "(answer|respond|address|reply|cover) ~4 (each|every|all) ~3 (point|question|part|item|of_the)",
      "follow* ~3 (every|each) ~2 (instruction|step)"),

    # ----------------------------------------------------------------- confusion
    C("confused", {"confusion": 0.8},
      "confus*|bewilder*|baffl*|puzzl*|perplex*|befuddl*|disorient*|flustered|muddl*|mixed-?up|"
      "scatter-?brain*|scatterbrain*|ditz*|foggy|in_a_fog|at_sea|out_of_(your|their)_depth",
      "mix* ~2 up", "walk* ~1 back", "take* ~2 back", "retract*|backpedal*|back-?pedal*",
      "lose*|losing|lost ~2 (track|the_thread|the_plot|your_place|their_place|the_flow)",
      "second-?guess*",
      "(change*|changing) ~3 (mind|minds|course|plans|approach|direction|strategy|tack)",
      "backtrack*|flip-?flop*|waver*|indecis*|vacillat*|dither*|can't_decide|cannot_decide|unable_to_decide|"
      "make_up_(your|their)_mind",
      "contradict* ~2 (yourself|themselves|himself|herself|earlier|what_you)",
      "overwhelm*|out_of_(your|their)_element|befogged"),
    C("disorganised", {"confusion": 0.45}, "disorganis*|disorganiz*|muddle-?headed"),
    # "if you are asked to repeat anything": the agent asks, the customer is asked. Silences only.
    C("asked_to", {}, "(are|is|being|get|gets|been|you're|were) ~1 asked ~2 to ~1 (repeat|re-?enter|say|give|"
      "confirm|explain|clarify|verify|provide)", subsumes=("confusion", "pushback")),
    C("clarify_requests", {"confusion": 0.6},
      "(ask*|beg*|want*|need*|get) ~3 to (repeat|clarif*|explain|rephrase|restate|say_that_again|go_over|slow_down|"
      "simplif*|break_it_down|spell_it_out|walk_(you|them)_through|say_(it|that|things|everything)_again|"
      "go_back_over|run_through_it_again)",
      "simpler_words|simpler_terms|plain_english|in_plain_words|layman's_terms",
      "(ask*|request*|beg*) ~2 for ~2 (clarification*|an_explanation|a_repeat|repetition|simpler_words|"
      "explanations|things_to_be_repeated)",
      "(ask*|wonder*) ~3 what ~4 (terms|words|jargon|things|it|that|they) ~2 (mean|means)",
      "(check*|make_sure|verify|confirm) ~4 (you )?(understood|understand|got_it|have_it_right|followed)",
      "(check*|make_sure) ~4 did ~3 right",
      "struggl* ~3 (with|to_follow|to_understand|to_keep_up|to_keep_track|with_jargon)",
      "not_(very )?tech-?savvy|technophob*|low_digital_fluency",
      "unfamiliar_with|not_comfortable_with|uncomfortable_with ~3 (online|technology|computers|websites|chat|"
      "the_internet)",
      "new_to ~2 (online|this|the_internet|chat)",
      "not_(very )?(confident|comfortable) ~2 with ~3 (online|technology|computers|websites|services)"),
    C("pivot", {"confusion": 0.65},
      "pivot*|scratch_that|on_second_thought|reconsider*|non-?linear|forgetful*",
      "forget*|forgot|forgotten ~3 (what|details|which|the_details|things|earlier|already|what_was_agreed|"
      "what_(they|you|she|he)_(said|asked|wanted))",
      "actually ~1 instead",
      "(switch*|swap*|jump*) ~4 (plans|options|approach|strategy|course|between_options|between_topics|topics|"
      "back_and_forth)",
      "start ~4 (then|before|and_then) ~4 (switch|change|back_out|reconsider)",
      ),
    C("confusion_examples", {"confusion": 0.6},
      "wait_what|huh|what_do_you_mean|i'm_confused|i_don't_understand|sorry_what|"
      "actually|which_one|i'm_lost", quoted=True),
    C("pause_examples", {"bursty": 0.25}, "wait|hold_on|one_sec|one_second|hang_on", quoted=True, whole_quote=True),
    C("clear_headed", {"confusion": -0.6},
      "follow* ~3 (the_conversation|along|the_thread|the_steps|everything|instructions) ~3 (easily|without_trouble|"
      "without_difficulty|well|fine|closely)?",
      "clear-?headed|sharp|organi[sz]ed|on_top_of|quick_to_understand|quick_on_the_uptake|savvy|tech-?savvy",
      "stick* ~2 (with )?(a|the|your|their)? ~1 (plan|decision|choice)",
      "one_thing_at_a_time|clear_about_what_(you|they)_want|knows_exactly_what"),

    # ----------------------------------------------------------------- impatience
    C("hurry", {"impatience": 0.8},
      "impatien*|hurry|hurried|hurrying|rush|rushed|rushing|in_a_rush|short_on_time|pressed_for_time|time-?poor|"
      "no_time|little_time|limited_time|tight_(schedule|on_time)|running_late|on_the_clock|time_is_(short|money|"
      "tight)|urgen*|in_a_hurry|clock-?watch*|checking_the_clock|on_a_deadline|over_with|get_this_done|"
      "can't_wait|cannot_wait|won't_wait",
      "give*|giving|gave ~1 up",
      "walk*_away|hang*_up|log*_off|storm*_off|bail*|quit*_the|leave*_the_(chat|conversation)",
      "abandon* ~3 (chat|conversation|it)", "(give_up|quit) ~2 and ~1 leav*",
      "leave|leaves|leaving|quit|quits|walks_off|walk_off|bails|bail|gives_up|give_up (if|when|once|after|before|"
      "as_soon_as|without|unless|the_moment|altogether|for_good|mid-?conversation)",
      "leav*|walk*_out|log*_off ~2 (the_chat|the_conversation|for_good|mid-?chat)",
      "end|ends|ending ~1 (the|this)? ~1 (chat|conversation|exchange|session)",
      "ready_to_(leave|walk|quit|go|give_up|bail)|out_the_door|go_elsewhere|take_(your|their)_business_elsewhere",
      "(sort|figure) ~2 out ~2 (some|another) ~1 (other )?way",
      "(in|within|under) ~2 (two|three|five|ten|a_couple_of|a_few|\\d+) ~1 (minutes|seconds|mins|secs)",
      "asap|right_this_minute|without_delay|straight_away_or|now,_not_later",
      "hate*|can't_stand|cannot_stand|dislike*|loathe* ~2 (waiting|delays|to_wait|being_kept_waiting|slow)",
      "take*|taking ~2 (much|any|a_lot|far|way) ~1 longer", "(how|much) ~1 longer",
      "how_long ~3 (take|taking|going_to|is_this|will_this)", "is_it_done_yet|are_we_done_yet|are_we_there_yet",
      "(want*|demand*|expect*|need*) ~3 (a )?(quick|fast|speedy|prompt|immediate|instant) ~1 (fix|answer|"
      "resolution|response|service|result|turnaround)",
      "(count*|watch*|check*|eye*) ~2 (the )?(minutes|clock|time)", "every_minute_counts",
      "(train|plane|bus|flight|meeting|appointment|shift) ~1 to ~1 (catch|get_to|make|attend|start)",
      "somewhere_to_be|no_time_to_lose|short_of_time|against_the_clock|on_a_clock|between_(two_)?(appointments|trains)",
      "(done|sorted|fixed|resolved|handled|over_with|dealt_with) ~2 (now|right_now|immediately|fast|quickly|today|asap|"
      "at_once|this_minute|straight_away|in_a_flash)",
      "(expect*|want*|demand*|need*) ~3 (instant|immediate|quick|fast|speedy|prompt|rapid) ~1 (answer*|fix*|"
      "resolution*|respons*|service|result*|turnaround|repl*|action|help)",
      "(no|zero|little|limited|scant) ~1 patience ~2 (for|with) ~3 (delay*|wait*|slow*|long|back-?and-?forth|"
      "repetition|runaround|being_kept|bureaucracy|hold)",
      "(two|three|a_couple_of|couple_of|a_few|one|second|last) ~1 (chances|chance|strikes|tries|attempts|goes)",
      "(she|he|they|you) ~1 (walk|walks|leave|leaves|bail|bails|quit|quits|logs_off|log_off|goes|go|is_gone|"
      "hangs_up|hang_up|walks_away|walk_away|logs_out|log_out) $",
      "walk|walks|walked|log*_off|logs_out|hang*_up|hangs_up|storm*_off ~2 (if|when|after|once|as_soon_as|unless|the_moment)",
      "speed* ~2 up", "hurry* ~2 (up|along|the_agent)", "move ~2 (things )?(along|faster|quicker)",
      "nudge* ~4 (move_on|hurry|speed|get_on|get_going)", "press* ~3 (to )?(hurry|skip|move|speed)",
      "just_do_it|get_on_with_it|how_much_longer|wrap_it_up|skip_the_explanations"),
    C("busy", {"impatience": 0.25, "terse": 0.15},
      "busy|quickly|fast|efficient*|in_between_(meetings|things|tasks)|between_meetings|squeez*_this_in|"
      "no_time_to_waste|time_matters",
      "value* ~2 (your|their|my) ~1 time"),
    C("unhurried", {"impatience": -0.7, "frustration": -0.3},
      "take ~2 (your|their|his|her) ~1 time",
      "all_the_time_in_the_world|plenty_of_time|no_particular_hurry|however_long_it_takes|as_long_as_it_takes|"
      "unhurried|leisurely|in_no_rush|in_no_hurry",
      "(don't|doesn't|do_not|not|never) ~2 mind ~3 (waiting|extra|a_few|questions|delays|taking)",
      "wait* ~2 patiently", "patient|patiently",
      "wait*_around|willing_to_wait|happy_to_wait|fine_with_waiting|don't_mind_waiting",
      "tolerance|tolerant ~3 (for|of)? ~2 (delay*|wait*|slow*)"),

    # ----------------------------------------------------------------- digression
    C("digress", {"digression": 0.8},
      "digress*|tangent*|off-?topic|off_topic|sidetrack*|side-?track*",
      "wander* ~3 (off|topic|subject)", "change* ~2 (the )?(subject|topic)",
      "side_(remark*|comment*|stor*|note*|question*|chat*|conversation*)|"
      "aside|asides|personal_asides|anecdot*|storytell*|story-?tell*|overshar*|gossip*|chit-?chat*|chitchat|"
      "small_talk|idle_talk|banter",
      "(tell*|telling|share*) ~3 (stories|story|anecdotes|about_(your|their)_(day|life|week|family|kids|weekend))",
      "(unrelated|irrelevant|random|tangential|off-?topic|idle) ~3 (comment*|remark*|question*|topic*|"
      "detail*|thing*|stor*|observation*|update*|musing*|aside*|anecdote*|tidbit*|news)",
      "personal ~1 (asides|anecdotes|stories|remarks|comments|updates|musings|tidbits|chit-?chat|news)",
      "(bring*|mention*|talk*_about|chat*_about|ask*_about) ~3 (up )?(unrelated|other|something_else|the_weather)",
      "(bring*|mention*|talk*|chat*|ask*|tell*|go*_on|rambl*|chatter*|natter*|gossip*) ~3 (about|up)? ~1 (his|her|"
      "their|your|the_agent's) ~2 (day|weekend|kids|children|grandchildren|grandkids|dog|cat|pet|family|job|plans|"
      "holiday|vacation|trip|garden|hobby|hobbies|neighbour*|neighbor*|life|week|health|cooking|football|team|"
      "wedding|birthday|commute|weather|cat's|dog's|sister|brother|mother|father|husband|wife|partner)",
      "ask* ~3 (the_agent|them|the_rep|support) ~3 how ~2 (their|your) ~1 (day|weekend|week|morning|shift)",
      "rambl* ~2 about|go*_on_about|natter*|witter*|goes_off_on|go_off_on",
      "(unnecessary|extraneous|superfluous|irrelevant|needless) ~2 (details|information|backstory|stories|context|"
      "chatter|commentary|remarks)",
      "side ~1 (topics|issues|matters|points|tracks|trips)"),
    C("chatty", {"digression": 0.35, "terse": -0.5},
      "chatty|talkative|gabby|garrulous|gregarious|sociable|loves_to_talk|likes_to_talk|chatterbox|"
      "life_story|scenic_route", flip=0.0),
    C("rambling", {"digression": 0.25, "terse": -0.5}, "ramble*|rambling|meander*|backstory|back-?story", flip=0.0),
    C("on_topic", {"digression": -0.6},
      "(stay*|stick*|keep*|remain*) ~3 (on_topic|on-?topic|to_the_point|to_the_task|focused|on_task|to_business|"
      "on_track|to_the_issue|to_the_facts)",
      "steer* ~4 back", "bring* ~3 back_to", "single-?minded|one-?track|laser-?focused"),
)


# --- boilerplate: sentences an instruction carries that say nothing about how to talk -------

BOILERPLATE_PATTERNS: tuple[str, ...] = (
    # stay in character / never reveal the simulation
    "(never|don't|do_not|must_not|should_not|won't|will_not|without|no) ~3 (break*|broke|step*|stepping|drop*|"
    "leav*|come|coming) ~2 (out_of|outside|outside_of)? ~2 (character|the_conversation|the_role|role|persona|"
    "the_persona|the_chat)",
    "(stay*|remain*|keep*) ~2 in ~2 (character|role)", "in-?character|stay_this_person|keep_this_manner|keep_this_up",
    "be_this_person ~4 (first|last|throughout)",
    "(never|don't|do_not|must_not|should_not|without|not|no) ~4 (mention*|reveal*|say*|admit*|hint*|acknowledg*|"
    "let*_on|disclos*|refer*|talk*|suggest*|indicate*|comment*|discuss*|imply|implies) ~8 (ai|a.i.|bot|robot|"
    "simulat*|test*|language_model|llm|persona|roleplay*|role-?play*|instructions|script*|artificial|benchmark|"
    "being_(tested|an|a)|model|machine|acting|how_you_are_acting|your_behaviou?r|these_instructions|this_brief|"
    "prompt|evaluat*|experiment*|assistant)",
    "(step|stepping|go|going) ~3 outside ~3 (the )?(conversation|chat|role)",
    # keep goals and facts as given
    "(keep|keeps|preserve|maintain|leave|hold) ~4 (every|all|each|your|the|their) ~3 (goal|goals|facts?|details?|"
    "aim|aims|request*|information|info|task|needs|preferences|knowledge) ~10 (as_given|exactly|unchanged|the_same|"
    "intact|as_stated|as_described|accurate|true|correct|consistent|as_they_are)",
    "(goal|goals|aim|aims|facts?|details?|what_you_want|what_they_want|everything_you_know|information|request*|"
    "the_situation|your_situation|situation|task|objective|needs|what_you_know|private_info) ~12 (stays?|remains?|"
    "are|is|do_not_change|does_not_change|don't_change|doesn't_change|never_change*|unchanged|stay_the_same) ~4 "
    "(exactly|unchanged|the_same|fixed|constant)? ~3 (as_given|as_described|as_stated|above|unchanged|intact|"
    "the_same|fixed|change)",
    "(only|just) ~3 (the_way|how|the_manner_in_which|the_style) ~5 (you|they|he|she)? ~1 (communicate*|talk*|"
    "pursue*|go*_about|express*|say_it|speak*|behave*|come_across|write*)",
    "(what|everything) ~2 (follows|below) ~3 (affects|changes|concerns|is_about) ~2 only",
    "(change|changes|affect|affects|shape|shapes|describes|is_about|concerns|governs) ~3 only ~3 (how|the_way|"
    "the_manner)",
    "(how|the_way) ~3 (you|they)? ~1 (communicate|talk) ~4 (not|never) ~2 what",
    "not_what_(you|they)_(want|need)",
    # answer accurately / never invent
    "(answer|respond|reply|give|provide|share|state|confirm) ~4 (accurately|truthfully|honestly|correctly|faithfully|"
    "true|accurate|correct|truthful|real|exact|real_information|the_real|factual) ~5 (when|if|once|whenever)? ~4 "
    "(asked|questioned|needed|required|satisfied|prompted|it_matters)?",
    "(never|don't|do_not|no|without|must_not|not) ~3 (invent*|make_up|made_up|fabricat*|add*|chang*|alter*|"
    "introduc*|contradict*|misstat*|new) ~4 (new|any|extra|additional|false|fake)? ~2 (details|facts|requests|names|"
    "numbers|information|goals|info|anything|requirements|data|identifiers|preferences|things)",
    "(every|each|all|any) ~2 (detail|fact|identifier|piece_of_information|information) ~6 (accurate|correct|true|"
    "exact|right)",
    "(do_not|don't|never|no_need_to) ~2 (repeat|restate|recap) ~3 (the )?(situation|scenario|task|context)",
    "(never|don't|do_not) ~3 (comment|talk|reflect) ~4 (on|about) ~3 (it|the_conversation|your_(acting|behaviou?r|"
    "style|persona|role)|how_you)",
    "(if|when) ~8 (genuinely|really|truly)? ~1 (do_not|don't|doesn't|does_not) ~1 know ~6 say_so",
    "instead_of_guessing",
    "(you|they) ~2 (still|really|genuinely|do) ~2 want ~4 (request|issue|problem|goal|it|this|things) ~3 (done|"
    "resolved|solved|handled|sorted|fixed)",
    "(the|your|their) ~2 (persona|style|manner|brief|instructions?) ~4 (changes|affects|applies|governs)",
    "(apply|use|keep) ~3 (this|the|these) ~2 (style|manner|behaviou?rs?|traits?) ~3 (on|in|for|throughout) ~2 "
    "(every|each|all|the_whole)",
    "(realistic|natural|believable|human|plausible|authentic) ~3 (not|rather_than|never) ~3 (a|an)? ~1 "
    "(caricature|parody|cartoon|robot|over_the_top)",
    "(sound|sounding|come_across) ~2 (scripted|robotic|artificial)",
)
BOILERPLATE: tuple[re.Pattern, ...] = tuple(compile_pattern(p) for p in BOILERPLATE_PATTERNS)


# --- intensity modifiers, negators, boundaries ------------------------------------------------

# word-pattern -> factor applied to a cue's weight (several in scope multiply; the product is capped).
MODIFIERS: tuple[tuple[str, float], ...] = (
    ("always|constantly|consistently|continually|continuously|relentlessly|invariably|at_all_times|without_fail|"
     "all_the_time|every_single|at_every_turn|throughout|nothing_but|unfailingly|persistently|perpetually|"
     "habitually|religiously|chronically|only_ever|each_and_every|at_every_opportunity|nonstop|non-?stop|"
     "the_whole_time|from_start_to_finish|all_the_way_through|incessantly|forever|every_chance|at_every_chance|"
     "profusely|unfailingly|overflowing_with|brimming_with|goes_out_of_(her|his|their|your|its)_way|"
     "go_out_of_(her|his|their|your)_way|bends_over_backwards|for_every_(little|small)_(thing|step|detail|favour|"
     "favor)|for_everything", 1.3),
    ("very|extremely|highly|really|incredibly|deeply|intensely|thoroughly|completely|totally|utterly|fully|"
     "strongly|heavily|super|exceptionally|excessively|overly|hugely|profoundly|painfully|fiercely|"
     "wildly|insanely|exceedingly|immensely|seriously|truly|genuinely|openly|visibly|obviously|deliberately|"
     "aggressively|intensely|especially|particularly|downright|outright|absolutely|notoriously|famously|"
     "permanently|endlessly|hyper|ultra|so_much|lots_of|plenty_of", 1.2),
    ("every_(message|time|turn|reply|answer|response|step|single)|each_(message|time|turn|reply|answer|response|"
     "step)|in_every_(message|reply)|after_every|with_every", 1.35),
    ("often|frequently|regularly|repeatedly|a_lot|lots|all_over|over_and_over", 1.25),
    ("usually|tends_to|tend_to|tended_to|mostly|generally|mainly|commonly|"
     "typically|most_of_the_time|largely|quite|fairly|pretty|noticeably|clearly", 0.9),
    ("a_little|a_bit|a_tad|slightly|somewhat|mildly|occasionally|sometimes|now_and_then|now_and_again|"
     "every_now_and_then|every_once_in_a_while|from_time_to_time|at_times|once_in_a_while|here_and_there|"
     "a_touch|a_hint|faintly|gently|lightly|subtly|mild|moderate|moderately|partly|partially|the_odd|"
     "the_occasional|once_or_twice|a_few_times|a_little_bit|slight|hint_of|touch_of|trace_of|bit_of|"
     "low-?key|on_occasion|sporadically|periodically|here_or_there|every_so_often|"
     "marginally|modestly|reasonably", 0.55),
)

# word-pattern -> (strength, kind). "verbal" negators scope over "or"/"nor" (and comma lists that end
# in "or"); "nominal" ones ("no", "skip", "without") scope over whole lists, "and" included.
NEGATORS: tuple[tuple[str, float, str], ...] = (
    ("not|never|n't|don't|doesn't|didn't|won't|wouldn't|isn't|aren't|wasn't|weren't|can't|cannot|couldn't|"
     "shouldn't|mustn't|nor|neither|no_longer|refuse*_to|stop|stops|stopped|stopping|ceas*|quit|quits|quitting|do_not|does_not|will_not|"
     "must_not|should_not|did_not|is_not|are_not|never_once|at_no_point", 1.0, "verbal"),
    ("no|without|none|zero|nothing|nobody|no_one|no-one|skip*|skipping|avoid*|omit*|omitting|leave_out|leaves_out|leaving_out|left_out|"
     "drop*|forgo*|forego*|cut_out|cuts_out|dispense*_with|free_of|lack*|devoid_of|absent|spare_the|spares_the|"
     "dispenses_with|bypass*|ditch*|do_away_with|minus", 1.0, "nominal"),
    ("instead_of|rather_than|in_place_of|as_opposed_to|not_the|not_a", 0.8, "nominal"),
    # Verbs that undo what follows: "fixes every typo" (no typos), "hides the irritation". Under a
    # negation they cancel it: "doesn't fix typos" keeps them.
    ("fix|fixes|fixing|fixed|correct|corrects|correcting|edit|edits|editing|proofread*|tidy|tidies|tidying|"
     "clean_up|cleans_up|hide|hides|hiding|suppress*|conceal*|mask|masks|masking|bottle*_up|hold*_in|"
     "keep*_a_lid_on|rein*_in|tone*_down|swallow*", 0.9, "nominal"),
    ("rarely|seldom|hardly|barely|scarcely|almost_never|hardly_ever|little_to_no|little_or_no|few_if_any|"
     "not_much|not_many|sparingly|infrequently", 0.75, "verbal"),
    ("not_always|not_too|not_overly|not_particularly|not_especially|not_terribly|not_all_that|not_that", 0.5,
     "verbal"),
    ("no_need_to|needn't|not_need_to|don't_need_to|doesn't_need_to|don't_have_to|doesn't_have_to|do_not_need_to|"
     "does_not_need_to|not_necessarily|not_required_to|need_not|not_obliged_to", 0.4, "verbal"),
)

# A negator word followed by one of these is no negation ("drops in a remark", "no, …" in speech).
NEGATOR_FALSE_FRIENDS: dict[str, frozenset[str]] = {
    "drop": frozenset({"in", "by", "into", "a", "an", "the", "hints", "remarks", "comments", "mentions", "asides"}),
    "cut": frozenset({"in", "into", "across", "to"}),
    "skip": frozenset({"ahead", "to", "back"}),
    "fix": frozenset({"my", "the", "this", "it", "things", "a", "an", "problem", "issue", "order"}),
    "correct": frozenset({"the", "agent", "them", "it", "any", "a", "an", "him", "her", "mistakes", "errors"}),
}

# Phrases that look negative but affirm ("don't hesitate to push back"): removed before reading.
AFFIRMING_NEGATIONS = re.compile(
    r"\b(?:do not|don't|never|not|won't|doesn't|does not) (?:hesitate|be afraid|afraid|be shy|shy away from|"
    r"fail|forget|ever forget|stop yourself from|hold back from|mind)(?: to| about| in)?\b|"
    r"\bnot (?:only|just|merely|simply)\b|\bno doubt\b|\bno matter\b|\bcan't help but\b|\bcannot help but\b|"
    r"\bcan't resist\b|\bnever hesitates?\b|\bnot hesitant to\b|\bno shortage of\b|\bno stranger to\b|"
    r"\bnot above\b|\bnever misses a chance to\b|\bnot without\b|\bmakes? no secret of\b|\bno secret\b|"
    r"\bno end of\b|\bno lack of\b|\bno less than\b")

# Tokens that end a negation's or a modifier's scope.
STRONG_BOUNDARIES = frozenset({
    ";", ":", "—", "(", ")", "but", "however", "though", "although", "yet", "whereas", "while", "instead",
    "then", "until", "unless", "except", "so", "because", "if", "when", "whenever", "once", "otherwise",
    "which", "who", "whom", "where", "since", "after", "before", "still", "even", "also", "meanwhile",
    "later", "eventually",
})
VERB_STARTS = frozenset({
    "type", "write", "use", "ask", "answer", "give", "say", "keep", "let", "show", "get", "make", "reply",
    "respond", "send", "tell", "refer", "stay", "start", "become", "mention", "add", "act", "treat", "question",
    "push", "insist", "demand", "speak", "talk", "sound", "take", "hold", "share", "provide", "wait", "repeat",
    "express", "include", "go", "try", "come", "stop", "change", "describe", "explain", "call", "complain",
    "threaten", "react", "expect", "open", "end", "finish", "offer", "put", "lay", "follow", "read", "check",
    "verify", "confirm", "be", "are", "is", "seem", "sound", "let", "leave", "lose", "grow", "turn", "drop",
    "stick", "keep", "begin", "mix", "hedge", "hit", "press", "split", "break", "swear", "refuse", "rush",
    "bark", "demand", "blame", "accuse", "insult", "snap", "sigh", "mutter", "grumble", "ignore", "miss", "skim",
    "forget", "lose", "wander", "drift", "tell", "reveal", "withhold", "apologise", "apologize",
})
SUBJECTS = frozenset({"you", "they", "he", "she", "i", "we", "it", "the", "your", "their", "his", "her"})

# Clauses whose subject is the agent describe the agent, not the customer: cues starting there are dropped
# ("if the agent is vague, ask again" says nothing about a vague customer).
AGENT_CLAUSE = re.compile(
    r"\b(?:if|when|whenever|once|unless|until|as soon as|each time|every time|any time|anytime|after|because|since|"
    r"where|while)\s+(?:the |a |an |your )?(?:agent|agents|agent's|rep|reps|representative|representatives|"
    r"assistant|support(?: agent| person| team| staff)?|staff|customer service|person on the other end|"
    r"other side|bot|company|service|reply from the agent|response from the agent)\b")
AGENT_TO_DO = re.compile(
    r"\b(?:ask|asks|asking|tell|tells|telling|press|presses|pressing|want|wants|urge|urges|push|pushes|"
    r"expect|expects|need|needs|get|gets|let|lets|force|forces|nudge|nudges|require|requires)\s+"
    r"(?:the |your )?(?:agent|agents|rep|representative|assistant|support|them|him|her)\s+to\b")
AGENT_CLAUSE_THEY = re.compile(
    r"\b(?:if|when|whenever|once|unless|until|as soon as|each time|every time|any time|after|because|since)\s+"
    r"(?:they|he|she|it)\b")

# "At first …, then …": the first state is transient, so its cues count for less.
ONSET = re.compile(
    r"\b(?:at first|initially|to begin with|to start(?: with| off)?|in the beginning|early on|at the start|"
    r"at the outset|start(?:s|ing)?(?: out| off)?|begin(?:s|ning)?|opening messages?|first (?:message|reply|"
    r"few messages|few replies|turn|few turns)|for (?:a|the) (?:couple|few|first|while|moment)\w*"
    r"(?: of (?:turns|messages|replies|exchanges|minutes))?)\b")
CHANGE = re.compile(
    r"\b(?:but|then|later|until|eventually|gradually|over time|as the (?:chat|conversation) (?:goes on|drags|"
    r"continues|progresses)|grows?|growing|builds?|building|becomes?|becoming|turns?|turning|loses?|losing|"
    r"once|if|when|whenever|after|increasingly|soon|quickly|by the|escalat\w*|slips?|wears? thin)\b")
TRANSIENT_EXEMPT = frozenset({"ambiguity", "gating", "verbosity_variation"})
TRANSIENT_FACTOR = 0.35
