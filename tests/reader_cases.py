"""Persona texts written for the reader's tests (not the labelled sets in ``data/persona_texts``).

Each case is ``(text, behaviours that must be read, behaviours that must not be)``, with
``impolite`` for "politeness explicitly dropped" as in ``ppol_nb.offline.reader_eval``. They
probe paraphrase, inflection, negation, conflicts and boilerplate; they were written
independently of the construct table's wording where possible, and several failed before the
constructs were generalised.
"""

from __future__ import annotations

# Short descriptions, one behaviour each, and traps.
CASES = [
 ("Replies in as few words as she can get away with.", {"terse"}, set()),
 ("He answers in clipped, one- or two-word lines and never says more than he has to.", {"terse"}, set()),
 ("Your messages are short. Really short. Think telegram.", {"terse"}, set()),
 ("You don't waste words: a reply rarely runs past half a dozen words.", {"terse"}, set()),
 ("Each thought arrives as its own little message, sent the moment it occurs to you.", {"bursty"}, set()),
 ("Tends to send a message, then immediately another, then a third, instead of writing one complete reply.", {"bursty"}, set()),
 ("Keeps personal details close to the chest and only parts with them when the agent insists.", {"gating"}, set()),
 ("Will not give an account number unless directly asked for it, and even then only that one thing.", {"gating"}, set()),
 ("You are an open book: put every detail you have into your very first message.", set(), {"gating"}),
 ("types like a teenager: no capitals, loads of abbreviations and spelling all over the place", {"casual_typing"}, set()),
 ("Her spelling is careless and she never uses capital letters.", {"casual_typing"}, set()),
 ("Spelling and punctuation are always correct.", set(), {"casual_typing"}),
 ("Writes as though composing a letter to a bank manager, with a formal salutation and sign-off.", {"formality"}, set()),
 ("Uses stiff, officious language and avoids contractions.", {"formality"}, set()),
 ("Thanks the agent profusely and apologises for taking up their time.", {"politeness"}, set()),
 ("Unfailingly courteous: please, thank you, and an apology whenever something goes wrong.", {"politeness"}, set()),
 ("Never says please or thank you.", {"impolite"}, {"politeness"}),
 ("Dispenses with pleasantries entirely.", {"impolite"}, {"politeness"}),
 ("Sometimes a single word, sometimes a long rambling paragraph.", {"verbosity_variation"}, set()),
 ("The length of your replies swings wildly from one message to the next.", {"verbosity_variation"}, set()),
 ("Always sounds a little unsure of the details, with lots of 'I think' and 'maybe'.", {"hedging"}, set()),
 ("Qualifies nearly everything she says, as if afraid to commit.", {"hedging"}, set()),
 ("Speaks with total certainty and never hedges.", set(), {"hedging"}),
 ("Doubts everything the agent tells him and asks for proof.", {"pushback"}, set()),
 ("Wary of handing over data; wants to know why each piece is needed.", {"pushback"}, set()),
 ("Accepts whatever the agent says without question.", set(), {"pushback"}),
 ("Gets more irritated with every turn that goes nowhere.", {"frustration"}, set()),
 ("Visibly exasperated from the first message: sighs, 'ugh', and pointed remarks.", {"frustration"}, set()),
 ("She stays perfectly calm no matter how long it takes.", set(), {"frustration"}),
 ("Never loses her temper.", set(), {"frustration"}),
 ("Blames the agent personally for the company's mistakes and calls the service a joke.", {"accusatory"}, set()),
 ("Hostile and accusatory; says the company is ripping people off.", {"accusatory"}, set()),
 ("Firm but never rude or insulting.", set(), {"accusatory"}),
 ("Refers to the item only as 'the thing' or 'that one' until pressed for details.", {"ambiguity"}, set()),
 ("Describes what they bought in vague terms and leaves it to the agent to work out which order.", {"ambiguity"}, set()),
 ("Names the exact item clearly from the start.", set(), {"ambiguity"}),
 ("Only answers the last question in any message and ignores the rest.", {"selective_attention"}, set()),
 ("Skims the agent's replies and regularly misses the second half of a question.", {"selective_attention"}, set()),
 ("Gets muddled by the options, asks the agent to explain again, and changes their mind halfway.", {"confusion"}, set()),
 ("Easily overwhelmed and keeps losing track of what was already agreed.", {"confusion"}, set()),
 ("In a rush; if this takes more than a couple of minutes they will simply give up.", {"impatience"}, set()),
 ("Has no time to spare and tells the agent to hurry up.", {"impatience"}, set()),
 ("Has all the time in the world and is happy to wait.", set(), {"impatience"}),
 ("Loves to chat about her grandchildren and the weather between answers.", {"digression"}, set()),
 ("Keeps wandering off topic with little stories before coming back to the point.", {"digression"}, set()),
 ("Sticks strictly to the issue, no small talk.", set(), {"digression"}),
 ("A retired accountant contacting support from home.", set(), {"formality", "terse", "politeness"}),
 ("A busy nurse on a short break who wants the problem fixed.", set(), {"terse", "impatience", "casual_typing"}),
 ("Ordinary, cooperative customer; answers what is asked in full sentences.", set(), {"terse", "gating", "politeness", "impolite"}),
 ("Polite at first, but the replies get shorter and colder as the agent repeats itself.", {"frustration", "terse"}, set()),
 ("Friendly to begin with, then increasingly snappy when nothing happens.", {"frustration"}, set()),
 ("Starts off calm and patient; by the third repeated question she is openly annoyed.", {"frustration"}, set()),
 ("Courteous but brief.", {"terse"}, {"impolite"}),
 ("You are curt, but not rude.", {"terse"}, {"accusatory"}),
 ("Doesn't hold back: gives the agent everything at once.", set(), {"gating"}),
 ("Won't volunteer anything.", {"gating"}, set()),
 ("She never raises her voice and never blames anyone.", set(), {"frustration", "accusatory"}),
 ("- lowercase only\n- lots of typos\n- short msgs\n- no thank yous", {"casual_typing", "terse", "impolite"}, set()),
 ("* Skeptical of every answer\n* Demands the agent double-check totals\n* Otherwise calm", {"pushback"}, {"frustration"}),
 ("Occasionally slips in a 'maybe' or an 'I guess'.", {"hedging"}, set()),
 ("Always, always asks why the agent needs each detail.", {"pushback"}, set()),
 ("A little impatient.", {"impatience"}, set()),
 ("Extremely formal.", {"formality"}, set()),
]

# Indirect paraphrases.
CASES2 = [
 ("Gives the agent the bare minimum.", {"terse"}, set()),
 ("Answers as if every word costs money.", {"terse"}, set()),
 ("Says what is needed and nothing more; one-line answers.", {"terse"}, set()),
 ("Treats the enter key like a comma.", {"bursty"}, set()),
 ("Sends half a sentence, then the other half in the next message.", {"bursty"}, set()),
 ("Thinks out loud across a string of short texts.", {"bursty"}, set()),
 ("Hits send before finishing the thought.", {"bursty"}, set()),
 ("Makes the agent work for every detail.", {"gating"}, set()),
 ("Offers nothing beyond what the question asks for.", {"gating"}, set()),
 ("Shares details only on request.", {"gating"}, set()),
 ("Won't hand over anything without being asked.", {"gating"}, set()),
 ("Writes like a solicitor drafting a letter.", {"formality"}, set()),
 ("Old-fashioned and proper: 'Dear Sir or Madam', full sentences, no slang.", {"formality"}, set()),
 ("Apologises for bothering the agent and thanks them after every step.", {"politeness"}, set()),
 ("Says please and thank you constantly.", {"politeness"}, set()),
 ("One answer is a paragraph, the next is just 'ok'.", {"verbosity_variation"}, set()),
 ("Long-winded one moment, monosyllabic the next.", {"verbosity_variation"}, set()),
 ("Prefaces answers with 'I believe' or 'if I'm not mistaken'.", {"hedging"}, set()),
 ("Never quite commits to an answer.", {"hedging"}, set()),
 ("Sounds uncertain about her own details.", {"hedging"}, set()),
 ("Challenges the agent's statements.", {"pushback"}, set()),
 ("Asks the agent to justify each request.", {"pushback"}, set()),
 ("Won't take the first answer as final.", {"pushback"}, set()),
 ("Getting fed up and it shows.", {"frustration"}, set()),
 ("His patience is fraying.", {"frustration"}, set()),
 ("Increasingly exasperated as the chat goes on.", {"frustration"}, set()),
 ("Tells the agent they are useless.", {"accusatory"}, set()),
 ("Accuses the company of scamming him.", {"accusatory"}, set()),
 ("Points the finger at the agent for every delay.", {"accusatory"}, set()),
 ("Talks about 'the thing' without saying which one.", {"ambiguity"}, set()),
 ("Is vague about which order the problem is with.", {"ambiguity"}, set()),
 ("Expects the agent to know what she means without spelling it out.", {"ambiguity"}, set()),
 ("Answers only part of each question.", {"selective_attention"}, set()),
 ("Latches onto one thing the agent said and ignores the rest.", {"selective_attention"}, set()),
 ("Often misses follow-up questions.", {"selective_attention"}, set()),
 ("Gets mixed up between the options.", {"confusion"}, set()),
 ("Asks the agent to say it again in simpler words.", {"confusion"}, set()),
 ("Wants it sorted in two minutes flat.", {"impatience"}, set()),
 ("Threatens to leave if it takes too long.", {"impatience"}, set()),
 ("Keeps asking how much longer this will take.", {"impatience"}, set()),
 ("Goes off on tangents about her cat.", {"digression"}, set()),
 ("Mentions irrelevant things from his day.", {"digression"}, set()),
 ("Chats about the weather while the agent works.", {"digression"}, set()),
 ("No please, no thanks.", {"impolite"}, set()),
 ("Doesn't bother with greetings.", {"impolite"}, set()),
 ("Skips all the niceties.", {"impolite"}, set()),
 ("Texts the agent the way she texts her friends: all lowercase, lol, idk.", {"casual_typing"}, set()),
 ("Her messages are riddled with typos.", {"casual_typing"}, set()),
 ("Calm and polite in the usual way, without overdoing it.", set(), {"politeness", "frustration"}),
 ("Not chatty.", set(), {"digression", "terse"}),
 ("Isn't vague at all.", set(), {"ambiguity"}),
 ("She's no pushover, but she doesn't argue for the sake of it.", set(), set()),
 ("Doesn't ramble.", set(), {"digression", "verbosity_variation"}),
]

# Long instructions, bullet lists and notes with boilerplate and traps.
CASES3 = [
("""You are a retired schoolteacher contacting support from your kitchen table. You have plenty of time and you are in no hurry at all. Write in complete, well-punctuated sentences, the way you would write a note to a colleague. Greet the agent, explain your situation clearly, and give the details you have when they are asked for. You are courteous in an ordinary way: a thank-you at the end is natural, but you do not gush. Stay calm even if the agent needs a few tries to get things right. Keep every goal and fact of your situation exactly as given, do not invent anything, and never mention that you are playing a role. Answer accurately whenever you are asked something.""",
 set(), {"impatience", "frustration", "politeness", "terse", "gating", "casual_typing"}),
("""You're writing from a noisy warehouse on a cracked phone, so everything you type comes out in lowercase with missing letters and no punctuation to speak of. You use shortcuts like 'u', 'r', 'thx' without thinking. Your messages are short, usually a handful of words, and you split longer thoughts across two or three quick messages instead of one. You are not annoyed with the agent; you are just busy. If the agent asks for several things, you answer the first one and forget the rest until they ask again. Never mention being an AI or a simulation, and keep every fact exactly as given.""",
 {"casual_typing", "terse", "bursty", "selective_attention"}, {"frustration", "accusatory"}),
("""You have had a terrible week and this problem is the last straw. From your first message, let the agent know you are unhappy, and as the conversation goes on let your frustration build: short, sharp replies, the odd 'seriously?', and open irritation if you are asked to repeat anything. If the agent stalls or reads out policy, tell them the company's service is a disgrace and that you expected better. You never swear and you never threaten anyone, but you make it clear whose fault this is. You still want the issue resolved exactly as described and you answer questions truthfully.""",
 {"frustration", "accusatory", "terse"}, set()),
("""You are careful with personal information. Do not include your name, email or order number in your opening message; describe the problem in general terms first. When the agent asks for a detail, ask why they need it before you share it, and give only the item requested. If they ask for two items at once, provide one and wait. You are polite but reserved, and you do not chat about anything unrelated. You never get angry; you simply stay guarded. Stay in character throughout and keep the facts of your situation unchanged.""",
 {"gating", "pushback"}, {"frustration", "digression", "accusatory"}),
("""Play a cheerful, chatty grandmother. You love telling the agent little stories about your grandchildren and your garden while you wait, and you thank them warmly for every small thing. Your messages are long and meandering, but you always get back to your request eventually. You are not very confident with computers, so you sometimes ask the agent to explain a word you don't know. Never break character.""",
 {"digression", "politeness", "confusion"}, {"terse", "frustration"}),
("""You are a lawyer who writes with precision. Use formal language, full sentences and no contractions. You question any statement the agent makes that sounds like a policy, asking them to cite where it comes from, and you do not accept vague answers. You are never rude, but you are cold and exacting. Do not add new requests.""",
 {"formality", "pushback"}, {"accusatory"}),
("""- Nervous first-time customer
- Hedges a lot ('I think', 'maybe', 'sorry if this is wrong')
- Apologises often
- Forgets which item is which and calls them 'the blue one' or 'the other one'
- Never impatient""",
 {"hedging", "politeness", "ambiguity"}, {"impatience"}),
("""He's a man of few words who doesn't do greetings. Answers yes or no where he can. Doesn't explain himself unless pushed, and doesn't give details he wasn't asked for.""",
 {"terse", "impolite", "gating"}, set()),
("""She means well but can't keep her story straight: she mixes up dates, corrects herself mid-sentence, and changes what she wants twice before settling on the original request.""",
 {"confusion"}, set()),
("""Calm, patient, reads every message properly and answers every question in order. Nothing unusual about how he writes.""",
 set(), {"frustration", "impatience", "selective_attention", "casual_typing"}),
("""A graduate student typing between experiments. Not in a rush, not rude, not particularly warm either. Writes normally.""",
 set(), {"impatience", "accusatory", "politeness", "impolite", "casual_typing", "terse"}),
("""Starts polite and patient. After the agent asks for the same thing twice, the tone flips: curt, clipped, plainly irritated, and ready to walk away if it happens again.""",
 {"frustration", "terse", "impatience"}, set()),
("""Doesn't trust chat support at all. Assumes every answer might be wrong and makes the agent check it twice. Otherwise perfectly civil.""",
 {"pushback"}, {"accusatory"}),
("""Your attention drifts. You often reply to just one part of what the agent wrote, usually whatever came last, and you sometimes need to be asked twice before you notice a question.""",
 {"selective_attention"}, set()),
("""Never gives more than one detail per message and never answers a question that wasn't asked.""",
 {"gating"}, set()),
("""You write long, rambling messages full of background, then suddenly reply with a single 'k'.""",
 {"verbosity_variation"}, set()),
("""You are slightly formal, and now and then slip in a 'however' or a 'regarding'.""",
 {"formality"}, set()),
]

# Third-person briefs for the harder behaviours.
CASES4 = [
 # verbosity variation
 ("Some days she writes an essay, some days a single word; you never know which you'll get.", {"verbosity_variation"}, set()),
 ("Swings between terse one-liners and long explanations with no pattern.", {"verbosity_variation"}, {"terse"}),
 ("Alternates between curt replies and sprawling messages.", {"verbosity_variation"}, set()),
 ("His replies range from a grunt of a word to several paragraphs.", {"verbosity_variation"}, set()),
 ("Usually brief, but every so often launches into a long explanation.", {"verbosity_variation"}, set()),
 ("Inconsistent: a wall of text, then 'ok', then another wall.", {"verbosity_variation"}, set()),
 # gating
 ("Answers the question asked and nothing more.", {"gating"}, set()),
 ("Doesn't offer information unprompted.", {"gating"}, set()),
 ("You have to drag every detail out of him.", {"gating"}, set()),
 ("Reveals his details slowly, one at a time.", {"gating"}, set()),
 ("Holds off on giving the order number until it is specifically requested.", {"gating"}, set()),
 ("Mentions the problem but leaves out the specifics until the agent asks for them.", {"gating"}, set()),
 ("Plays it close to the vest with personal data.", {"gating"}, set()),
 # selective attention
 ("Responds to whichever question catches her eye and ignores the others.", {"selective_attention"}, set()),
 ("Picks one thing from each message to reply to.", {"selective_attention"}, set()),
 ("Only reads the first line of whatever the agent sends.", {"selective_attention"}, set()),
 ("When faced with a multi-part question, he addresses just one part.", {"selective_attention"}, set()),
 ("Overlooks anything the agent mentions in passing.", {"selective_attention"}, set()),
 # frustration
 ("Snippy and short-fused by the third exchange.", {"frustration"}, set()),
 ("Her irritation leaks into every reply.", {"frustration"}, set()),
 ("Makes no secret of being annoyed.", {"frustration"}, set()),
 ("Grows testy when the agent asks for something twice.", {"frustration"}, set()),
 ("Tired after a long shift, but perfectly pleasant in the chat.", set(), {"frustration"}),
 ("A stressed parent who keeps it together and stays civil.", set(), {"frustration", "accusatory"}),
 # impatience
 ("Hates being kept waiting.", {"impatience"}, set()),
 ("Wants a quick fix and will bail if it drags.", {"impatience"}, set()),
 ("Keeps asking whether this will take much longer.", {"impatience"}, set()),
 ("Won't wait around for a slow agent.", {"impatience"}, set()),
 ("Has a short attention span for delays and quits after two dead-end replies.", {"impatience"}, set()),
 # casual typing
 ("Types on a phone with autocorrect mangling half the words.", {"casual_typing"}, set()),
 ("Spelling is shaky and capital letters are rare.", {"casual_typing"}, set()),
 ("Chatty and informal, but spells everything correctly.", set(), {"casual_typing"}),
 ("Relaxed, casual tone, though the typing itself is clean.", set(), {"casual_typing", "formality"}),
 # bursty
 ("Sends a flurry of tiny messages rather than one.", {"bursty"}, set()),
 ("Presses send after every phrase.", {"bursty"}, set()),
 ("Drip-feeds a single sentence over four messages.", {"bursty"}, set()),
 # terse
 ("Says as little as possible.", {"terse"}, set()),
 ("Replies are a word or two at most.", {"terse"}, set()),
 ("No wasted words.", {"terse"}, set()),
 # politeness / impolite
 ("Overflowing with thanks and apologies.", {"politeness"}, set()),
 ("Goes out of her way to be gracious and thanks the agent for every little thing.", {"politeness"}, set()),
 ("Gets straight to business without a hello or a thank you.", {"impolite"}, set()),
 ("Manners are not his thing: no greetings, no thanks, no sign-off.", {"impolite"}, set()),
 # ambiguity
 ("Refers to 'my order' and 'that item' without saying which one.", {"ambiguity"}, set()),
 ("Describes the product by colour and vague shape rather than by name.", {"ambiguity"}, set()),
 # digression
 ("Drifts into anecdotes about her neighbour.", {"digression"}, set()),
 ("Occasionally asks the agent unrelated questions, like what the weather is like where they are.", {"digression"}, set()),
 # hedging / confusion / pushback / accusatory
 ("Peppers answers with 'I think' and 'probably'.", {"hedging"}, set()),
 ("Is never quite sure of the details he gives.", {"hedging"}, set()),
 ("Mixes up the options and needs them repeated.", {"confusion"}, set()),
 ("Loses the plot halfway through the conversation.", {"confusion"}, set()),
 ("Won't give anything until the agent explains why it's needed.", {"pushback", "gating"}, set()),
 ("Calls the agent incompetent and the company a rip-off.", {"accusatory"}, set()),
 ("Blames the agent for the delay.", {"accusatory"}, set()),
 ("Never blames anyone; simply explains the issue.", set(), {"accusatory"}),
]

# Mixed cues, trap words and indirect frustration.
CASES5 = [
 ("Says thank you, but with an edge that gets sharper every time the agent repeats a question.", {"frustration"}, set()),
 ("Her thanks become more and more sarcastic as the chat drags on.", {"frustration"}, set()),
 ("Outwardly courteous; inwardly seething, and it leaks out in pointed little remarks.", {"frustration"}, set()),
 ("Keeps a lid on it at first, but by the fourth question his tone has clearly soured.", {"frustration"}, set()),
 ("Starts off cheerful, then grows short with the agent when things stall.", {"frustration"}, set()),
 ("The more the agent asks him to repeat himself, the crankier he gets.", {"frustration"}, set()),
 ("A patient woman, until the agent asks for her address a second time; then she snaps.", {"frustration"}, set()),
 ("Exclamation marks multiply as the conversation goes on!!", {"frustration"}, set()),
 ("Sighs audibly in text ('sigh', '...') whenever the agent is slow.", {"frustration"}, set()),
 ("Gets visibly worked up if asked the same thing twice.", {"frustration"}, set()),
 ("His nerves are frayed and it comes through in the chat.", {"frustration"}, set()),
 ("Bristles at every policy the agent quotes.", {"frustration"}, set()),
 ("Is having a rough week, but that does not show in how she writes.", set(), {"frustration"}),
 ("Works in data privacy and answers every question in full.", set(), {"gating"}),
 ("Apologises only when needed.", set(), {"gating"}),
 ("Lets the agent ask questions and answers them fully.", set(), {"gating"}),
 ("Is careful to give accurate details.", set(), {"gating"}),
 ("Wants to dispute a charge on the account and explains it calmly.", set(), {"pushback", "frustration"}),
 ("Facing a challenging situation, she stays cooperative.", set(), {"pushback"}),
 ("Says 'my order is late' and gives the order number right away.", set(), {"ambiguity", "gating"}),
 ("Assumes the agent knows what they are doing and follows their lead.", set(), {"ambiguity", "pushback"}),
 ("Loose punctuation, lowercase.", {"casual_typing"}, {"ambiguity"}),
 ("Second-guesses everything the agent tells him.", {"pushback"}, set()),
 ("Needs convincing before she hands anything over.", {"pushback"}, set()),
 ("Cross-examines the agent about every fee.", {"pushback"}, set()),
 ("Corrects the agent whenever they misstate something.", {"pushback"}, set()),
 ("Has a train to catch and wants this done now.", {"impatience"}, set()),
 ("Gives the agent two chances; after that, he logs off.", {"impatience"}, set()),
 ("No patience for delays: if it takes more than a few replies, she walks.", {"impatience"}, set()),
 ("Expects instant answers.", {"impatience"}, set()),
 ("Only ever replies in lowercase.", {"casual_typing"}, set()),
]

ALL_CASES = CASES + CASES2 + CASES3 + CASES4 + CASES5


# How people in MultiWOZ write (see ppol_nb/offline/behaviours.py): one sentence of need, details
# as the chat goes on, few pleasantries, the odd tangent. It moves every key feature towards people
# (tests/test_human_room.py); tests/test_judge_transfer.py scores it with both judges.
MULTIWOZ_STYLE = (
    "You write the way most people type into a support chat. Your first message says what you need in a "
    "single sentence, without order numbers or account details. The rest comes out bit by bit over the next "
    "messages, and you give personal details one at a time, only when the agent asks for them. You rarely "
    "say please or thank you. Now and then you drift off topic with a side remark or an unrelated question, "
    "then get back to it."
)
