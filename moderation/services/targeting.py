"""Who a comment's hard words are aimed at: the rules of the default policy that read the
text itself, because a bag-of-words model cannot.

A violent verb is a threat when it is aimed at a person or a group *and* framed as intent,
wish, call or order ("I will …", "someone should …", "I hope …", "… deserve to be …", an
imperative); the same verb about a process, a film, a battle in 1916 or last night's news
is not. A veiled threat needs no violent word ("I know where you live"). An insult holds
when it is aimed at someone ("you idiot", "the author is a moron"), not when it is
discussed ("calling people idiots ends the debate"). Swearing about things
("this damn printer") is none of these, and the policy lets the model's profanity score
pass for it (services.policy).

Every pattern here is plain and explainable: a moderator is shown the words that made a
rule fire. They run on the text lowercased, with contractions spelled out, one sentence at
a time, so a window never reaches across a full stop. They must stay fast on any input
(they run inside the POST): fixed word lists and bounded windows, words cut at WORD_MAX
letters, and every ``\\w*`` inside a repeated group atomic, (?>…), so that a run of repeated
swear words cannot make the matcher backtrack without end (tests/services/test_targeting.py
checks the worst inputs found)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

# ---------------------------------------------------------------- word lists


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(sorted({re.escape(w) for w in words}, key=len, reverse=True))


def _verb_forms(base: str) -> set[str]:
    """A regular verb's forms, generously: a spurious form only ever matches itself."""
    stem = base[:-1] if base.endswith("e") else base
    doubled = base + base[-1] if len(base) > 2 and base[-1] not in "aeiouwy" else base
    return {base, base + "s", base + "es", base + "d", base + "ed", stem + "ing",
            doubled + "ed", doubled + "ing"}  # fmt: skip


# Verbs that mean harm to a person whatever else they could mean. Verbs that are just as
# often about sport, politics or machines ("beat them on Saturday", "attack the
# minister's record", "kick them out of office", "hurt ordinary people") are left to the
# phrases of _HARM_PHRASES, which name the person and the intent.
_VIOLENT_BASES = (
    "kill", "murder", "shoot", "stab", "hang", "lynch", "strangle", "choke", "burn",
    "torch", "rape", "slit", "behead", "decapitate", "knife", "gut", "butcher",
    "slaughter", "execute", "bomb", "drown", "poison", "maim", "gas", "exterminate",
    "shank", "torture", "castrate", "hurt", "beat",
)  # fmt: skip
_VIOLENT_IRREGULAR = ("shot", "hung", "beaten", "burnt", "stabbed", "die", "dies",
                      "dying", "died")  # fmt: skip
# Of those, the ones that threaten only from the speaker to the reader ("I will hurt
# you", "we are going to beat you"), never in a call about others.
_SPEAKER_ONLY = frozenset(_verb_forms("hurt") | _verb_forms("beat") | {"beaten"})
# Verbs a person does not undergo as an object ("die", "burn") count only when the
# target is their subject: "I hope you die", never "kill … die".
_INTRANSITIVE = frozenset({"die", "dies", "dying", "died", "rot", "rots"})
# What a person can be said to do that is done to them: "you should hang", "hope they burn".
_UNDERGONE = _INTRANSITIVE | frozenset(
    {"burn", "burns", "hang", "hangs", "fry", "swing", "suffer", "bleed", "perish"}
)
VIOLENT = frozenset(
    {form for base in _VIOLENT_BASES for form in _verb_forms(base)}
    | set(_VIOLENT_IRREGULAR)
    | _UNDERGONE
)

# What turns a violent verb into a threat: intent, wish, call to others, desert.
FRAMING = frozenset({
    "will", "shall", "should", "must", "ought", "deserve", "deserves", "need", "needs",
    "hope", "hoping", "wish", "let", "lets", "want", "wanna", "going", "gonna", "gotta",
    "would", "plan", "planning", "coming", "may",
})  # fmt: skip
# Words that may stand between the framing and the verb ("should all be rounded up and shot").
_FILLER = frozenset({
    "to", "be", "get", "gets", "got", "all", "just", "really", "personally", "go", "and",
    "come", "then", "so", "someday", "one", "day", "finally", "simply", "also", "rounded",
    "up", "lined", "taken", "out", "dragged", "outside", "publicly", "slowly", "a",
})  # fmt: skip

SECOND_PERSON = frozenset({"you", "ya", "u", "yourself", "yourselves", "yall"})
THIRD_PERSON = frozenset({"him", "her", "them", "himself", "herself", "themselves"})
_POSSESSIVE = frozenset({"your", "ur", "his", "her", "their"})
# What a threat may name through a possessive: kin, home, body, place of worship.
_OWN = frozenset({
    "family", "families", "kids", "kid", "children", "child", "wife", "husband", "mother",
    "mum", "mom", "father", "dad", "son", "daughter", "sister", "brother", "parents",
    "house", "home", "car", "face", "head", "throat", "neck", "legs", "leg", "arms",
    "skull", "teeth", "office", "mosque", "church", "synagogue", "temple", "loved",
    "friends", "girlfriend", "boyfriend", "baby", "pets", "dog",
})  # fmt: skip
PERSON_NOUNS = frozenset({
    "reporter", "reporters", "journalist", "journalists", "author", "authors", "writer",
    "writers", "columnist", "editor", "editors", "mayor", "councillor", "councilor",
    "senator", "minister", "president", "judge", "mp", "politician", "politicians",
    "guy", "guys", "man", "men", "woman", "women", "girl", "boy", "bitch", "bastard",
    "idiot", "idiots", "clown", "traitor", "traitors", "scum", "people", "person",
    "bloke", "lady", "kids", "children", "family", "cop", "cops", "officer", "moderator",
    "moderators", "commenter", "commenters", "poster", "neighbour", "neighbor", "teacher",
    "priest", "imam", "rabbi", "owner", "boss", "leader", "leaders", "lot", "kind",
    "governor", "pm", "king", "queen", "mob", "protesters", "protestors", "voters",
})  # fmt: skip
# Named groups of people: what identity attacks and threats at groups name.
GROUPS = frozenset({
    "immigrants", "immigrant", "migrants", "migrant", "refugees", "refugee", "foreigners",
    "muslims", "muslim", "jews", "jew", "christians", "hindus", "sikhs", "arabs", "blacks",
    "whites", "asians", "mexicans", "africans", "gypsies", "gypsy", "roma", "gays",
    "lesbians", "homosexuals", "transgenders", "women", "feminists", "catholics",
    "protestants", "atheists", "chinese",
    "russians", "ukrainians", "israelis", "palestinians", "indians", "pakistanis",
    "poles", "romanians", "nigerians", "somalis", "latinos", "hispanics", "queers",
    "trannies", "faggots", "illegals", "zionists", "islamists", "boomers", "millennials",
})  # fmt: skip
# Political camps: a threat at them is a threat, and "vermin" dehumanises them, but calling
# them liars, criminals or evil is pointed speech a news site keeps.
POLITICAL_GROUPS = frozenset({
    "liberals", "liberal", "leftists", "leftist", "lefties", "conservatives", "tories",
    "democrats", "republicans", "communists", "socialists", "fascists", "nazis", "libs",
    "remainers", "brexiteers", "globalists", "marxists", "trumpers", "maga",
})  # fmt: skip
# "black people", "gay men", "trans women": an identity adjective before a person noun.
_IDENTITY_ADJECTIVES = frozenset({
    "black", "white", "brown", "asian", "gay", "trans", "transgender", "jewish", "muslim",
    "christian", "hindu", "arab", "african", "mexican", "foreign", "immigrant", "disabled",
    "lesbian", "bisexual", "queer", "indian", "chinese", "roma", "these", "those",
})  # fmt: skip
_DETERMINERS = frozenset({
    "the", "that", "this", "these", "those", "all", "every", "each", "some", "any", "of",
    "one", "them", "whole", "entire", "bloody", "damn", "fucking", "little",
})  # fmt: skip

INSULT_NOUNS = frozenset({
    "idiot", "idiots", "moron", "morons", "imbecile", "imbeciles", "cretin", "cretins",
    "loser", "losers", "clown", "clowns", "scum", "scumbag", "scumbags", "pig", "pigs",
    "bitch", "bitches", "bastard", "bastards", "asshole", "assholes", "arsehole",
    "arseholes", "dickhead", "dickheads", "dick", "prick", "pricks", "twat", "twats",
    "cunt", "cunts", "wanker", "wankers", "tosser", "jerk", "troll", "trolls", "retard",
    "retards", "dumbass", "dumbfuck", "fuckwit", "fucker", "motherfucker", "shithead",
    "knobhead", "douche", "douchebag", "creep", "freak", "freaks", "slut", "whore", "cow",
    "rat", "trash", "garbage", "degenerate", "degenerates", "halfwit", "nitwit",
    "simpleton", "buffoon", "parasite", "vermin", "filth", "fool", "numpty", "muppet",
    "bellend", "pillock", "plonker", "git", "skank", "hag", "turd", "fuck", "worm", "maggot",
    "slimeball", "sleazebag", "lowlife", "scumbucket", "schmuck", "schmucks", "nonce",
})  # fmt: skip
INSULT_ADJECTIVES = frozenset({
    "stupid", "dumb", "dumbest", "stupidest", "idiotic", "ignorant", "pathetic",
    "worthless", "disgusting", "brainless", "retarded", "moronic", "useless", "vile",
    "filthy", "dirty", "smug", "lying", "fat", "ugly", "thick", "sad", "insufferable",
    "despicable", "revolting", "repulsive", "deranged", "demented", "delusional",
    "spineless", "gutless", "braindead", "clueless",
})  # fmt: skip
# Words that only strengthen what follows ("you absolute moron").
_INTENSIFIERS = frozenset({
    "absolute", "complete", "total", "utter", "such", "real", "little", "big", "fat",
    "old", "bloody", "fucking", "fuckin", "damn", "goddamn", "pure", "right", "proper",
    "sorry", "fking", "effing", "freaking", "stinking", "lying", "a", "an", "the", "just",
})  # fmt: skip
# "piece of shit", "waste of oxygen": phrases that insult as a noun does.
_INSULT_PHRASE = (
    r"piece of (?:shit|crap|trash|garbage|work|filth)|waste of (?:space|oxygen|air|"
    r"skin|a life)|excuse (?:of|for) an? (?:human|man|woman|person|journalist|writer)|"
    r"scum of the earth|sack of (?:shit|crap)|human garbage|human trash"
)
_INSULT_PHRASES = re.compile(rf"\b(?:{_INSULT_PHRASE})\b")
# Swearing: what a profanity model scores high whoever it is aimed at. Insult words count
# too when they are not aimed at anyone ("being called stupid stays with you").
PROFANITY = re.compile(
    r"\b(?:f+u+c+k+\w*|f[*#@$]+(?:k|ing|in)?|motherf\w*|sh[i1!*]+t\w*|bullshit\w*|crap\w*|"
    r"damn\w*|goddamn\w*|dammit|hell|bloody|bollocks|bugger\w*|piss\w*|arse|arses|ass|"
    r"asses|bitch\w*|bastard\w*|wtf|ffs|frigg\w*|freakin\w*|sod|sucks?|screw|screwed|"
    r"cock|cocks|dick|dicks|tits?|jeez|christ|bloody)\b"
)
SLURS = frozenset({
    "faggot", "faggots", "fagget", "faggit", "faggits", "fagot", "faggeds", "trannies",
    "retard", "retards", "kike", "kikes", "nigger", "niggers", "nigga", "niggas", "spic",
    "spics", "wetback", "wetbacks", "raghead", "ragheads", "towelhead", "towelheads",
    "paki", "pakis", "gook", "gooks", "dyke", "dykes", "shemale", "coons", "beaner",
    "beaners", "gyppo", "gyppos", "pikey", "pikeys", "darkie", "darkies", "sandnigger",
})  # fmt: skip
# Words that deny a group its humanity, and words for what a group "is" in a smear.
DEHUMANISING = frozenset({
    "vermin", "subhuman", "subhumans", "cockroaches", "parasites", "parasite", "rats",
    "savages", "animals", "filth", "plague", "disease", "cancer", "infestation", "scum",
    "degenerates", "invaders", "apes", "monkeys", "pigs", "dogs", "swarm", "swarms",
    "leeches", "maggots", "insects", "locusts", "trash", "garbage", "untermensch",
})  # fmt: skip
_SMEARS = DEHUMANISING | frozenset({
    "criminals", "criminal", "thieves", "rapists", "terrorists", "inferior", "stupid",
    "dirty", "filthy", "disgusting", "degenerate", "freaks", "evil", "lazy", "violent",
    "ill", "sick", "perverts", "paedophiles", "pedophiles", "liars", "backward",
    "primitive", "breeding", "worthless", "useless", "dangerous", "stupider",
})  # fmt: skip
# A word this close before a group noun is about it, not a smear ("criminals who attack
# refugees" is about the attackers): a negation or "not".
_NEGATIONS = frozenset({"not", "never", "no", "nt", "hardly", "neither", "nor"})


# ---------------------------------------------------------------- text → sentences → tokens

_CONTRACTIONS = (
    (re.compile(r"\b(i|you|we|they|he|she|it|that|there)'ll\b"), r"\1 will"),
    (re.compile(r"\b(i|you|we|they|he|she|it|that|who)'d\b"), r"\1 would"),
    (re.compile(r"\b(you|we|they)'re\b"), r"\1 are"),
    (re.compile(r"\b(you|we|they|i)'ve\b"), r"\1 have"),
    (re.compile(r"\bi'm\b"), "i am"),
    (re.compile(r"\blet's\b"), "let us"),
    (re.compile(r"\b(he|she|it|that|who|what|there)'s\b"), r"\1 is"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"\bgonna\b"), "going to"),
    (re.compile(r"\bwanna\b"), "want to"),
    (re.compile(r"\bgotta\b"), "got to"),
    (re.compile(r"\bimma\b"), "i am going to"),
    (re.compile(r"\bur\b"), "your"),
    (re.compile(r"\by'all\b"), "yall"),
)
_SENTENCE_END = re.compile(r"[.!?;\n]+|\s[-–—]\s")
_TOKEN = re.compile(r"[a-z0-9*#@$']+")


# No word is longer than this (the longest English ones are ~30 letters): what is longer
# is cut, so that no pattern ever works through a 10,000-letter "word".
WORD_MAX = 40
_LONG_WORD = re.compile(rf"\w{{{WORD_MAX + 1},}}")


# Each rule reads the same text: normalized and split once (the worker reads one comment
# after another, so a small cache is enough).
@lru_cache(maxsize=64)
def normalize(text: str) -> str:
    """Lowercase, straight apostrophes, contractions spelled out, words cut at WORD_MAX."""
    lowered = text.lower().replace("’", "'").replace("‘", "'").replace("`", "'")
    lowered = _LONG_WORD.sub(lambda m: m.group(0)[:WORD_MAX], lowered)
    for pattern, replacement in _CONTRACTIONS:
        lowered = pattern.sub(replacement, lowered)
    return lowered


@lru_cache(maxsize=64)
def sentences(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in _SENTENCE_END.split(normalize(text)) if s.strip())


def tokens(sentence: str) -> list[str]:
    return [t.strip("'") for t in _TOKEN.findall(sentence) if t.strip("'")]


# ---------------------------------------------------------------- who is aimed at


def target_at(words: list[str], i: int) -> int:
    """How many words at ``words[i:]`` name a person or a group (0: none): "you",
    "your kids", "people like you", "that reporter", "those immigrants", "all muslims"."""
    n = len(words)
    if i >= n:
        return 0
    word = words[i]
    if word in SECOND_PERSON or word in THIRD_PERSON and word != "her":
        if word == "you" and i + 1 < n and words[i + 1] in {"people", "lot", "lefties"}:
            return 2
        return 1
    if words[i + 1 : i + 2] == ["like"] and i + 2 < n:  # "people like you", "traitors like you"
        if words[i + 2] in SECOND_PERSON | THIRD_PERSON | {"that", "this", "yourself"}:
            return 3
    if word in _POSSESSIVE:
        for j in (i + 1, i + 2):  # "your kids", "your little kids"
            if j < n and words[j] in _OWN:
                return j - i + 1
        if word == "her":  # "kill her", not "her argument"
            return 1 if i + 1 >= n or words[i + 1] in {"and", "too", "now", "off"} else 0
        if word == "your" and i + 1 < n and words[i + 1] == "kind":
            return 2
        return 0
    if word in GROUPS or word in POLITICAL_GROUPS:
        return 1
    # determiners and at most one modifier, then a person noun or a group
    j = i
    while j < n and j < i + 4 and words[j] in _DETERMINERS:
        j += 1
    for k in (j, j + 1):
        if k < n and k > i and (words[k] in PERSON_NOUNS | GROUPS | POLITICAL_GROUPS):
            if k == j + 1 and words[j] in VIOLENT:
                return 0
            return k - i + 1
        if k < n and k == i and words[k] in _IDENTITY_ADJECTIVES and k + 1 < n:
            if words[k + 1] in PERSON_NOUNS or words[k + 1] in GROUPS:
                return 2
    return 0


def _targets(words: list[str], start: int, stop: int) -> tuple[int, int] | None:
    """The first person or group named at ``start`` up to ``stop``, with any joined to it
    by "and" ("you and your whole family"), as (first word, past the last)."""
    for i in range(max(start, 0), min(stop, len(words))):
        length = target_at(words, i)
        if length:
            end = i + length
            while end < len(words) - 1 and words[end] == "and" and target_at(words, end + 1):
                end = end + 1 + target_at(words, end + 1)
            return i, end
    return None


def _framed(words: list[str], verb: int) -> bool:
    """Whether intent, wish or call stands before ``words[verb]`` with only filler between."""
    j = verb - 1
    while j >= 0 and verb - j <= 5:
        if words[j] in FRAMING:
            return True
        if words[j] not in _FILLER and words[j] not in SECOND_PERSON | THIRD_PERSON:
            if words[j] not in {"someone", "somebody", "they", "we", "i", "us", "people"}:
                return False
        j -= 1
    return False


_IMPERATIVE_FORMS = frozenset(_VIOLENT_BASES) | {"die"}
_READER = SECOND_PERSON | {"your", "people"}  # "people like you"
_PASSIVE = frozenset({"be", "get", "gets", "got", "being", "is", "are"})
_IMPERATIVE_LEAD = frozenset({"go", "just", "please", "now", "so", "and", "then", "pls"})


def _span(words: list[str], start: int, stop: int) -> str:
    return " ".join(words[start:stop])


# ---------------------------------------------------------------- the rules


# A wish of disease on a person: no violent verb, the same menace ("I hope your kids get
# cancer"). Only wished (hope, wish, pray, may): "you will get cancer if you smoke" is a
# warning, and "I hope my dad beats cancer" names no one the speaker wishes it on.
_DISEASE_WISH = re.compile(
    r"\b(?:hope|hoping|wish|pray|may)\b(?: \w+){0,2}? (?:you|ya|u|your|ur|he|she|they|his|"
    r"her|their|those|these)\b(?: (?!never\b|not\b|nobody\b)\w+){0,3}? "
    r"(?:gets?|getting|got|catch(?:es)?|dies? of|develops?|rots? (?:with|from)) (?:\w+ )?"
    r"(?:cancer|aids|ebola|covid|leprosy|a stroke|a heart attack|a tumou?r)\b"
)
_SELF_HARM = re.compile(
    r"\b(?:(?:kill|hang|shoot|neck|off|end) (?:yourself|yourselves)|kys|die in a "
    r"(?:fire|ditch|hole|car crash)|(?:go|just|please|should) (?:drink|eat) bleach|"
    r"drink bleach|jump off a (?:bridge|cliff|building|roof)|(?:go|just|please) die|"
    r"put a bullet (?:in|through) (?:your|his|her|their|that|the|them|him)\b[\w ]{0,20}|"
    r"the only good \w+ is a dead \w+|(?:deserve|deserves) a bullet|"
    r"bullet (?:in|through) (?:your|his|her|their) (?:head|skull|brain|face|back)|"
    r"(?:break|smash|bash|punch|kick|cave|rip|tear) (?:your|his|her|their) (?:\w+ )?"
    r"(?:face|head|skull|legs?|arms?|neck|teeth|jaw|nose|spine) ?(?:in|off|out)?|"
    r"(?:beat|kick|knock) (?:the )?(?:shit|crap|hell|living daylights|life) out of "
    r"(?:you|him|her|them|your \w+)\b|(?:burn|rot) in hell|"
    r"(?:i|we) (?:will|am going to|are going to) (?:find|track|hunt) (?:you|u)(?: down)?"
    r"(?! (?:a|an|the|some|that|this|one|my|our|it|them)\b))"
)


_BEAT = frozenset(_verb_forms("beat") | {"beaten"})
# "Beat" threatens only with what says it is about a body, not a match: "beat you up",
# "beat him to a pulp", never "we will beat you on Saturday".
_BEATING = frozenset({"up", "senseless", "death", "pulp", "unconscious", "bloody", "shit"})
# "Die" said of a way to go or a feeling, not a wish: "you will die laughing", "hope you
# die happy in your 90s", "I could die of embarrassment".
_DIE_FIGURATIVE = frozenset({
    "laughing", "happy", "happily", "old", "peacefully", "rich", "trying", "inside",
    "content", "smiling", "waiting",
})  # fmt: skip
_DIE_OF_FIGURATIVE = frozenset({
    "laughter", "laughing", "embarrassment", "boredom", "shame", "envy", "old", "natural",
    "happiness", "curiosity", "thirst", "hunger", "cringe",
})  # fmt: skip


def _figurative(words: list[str], v: int) -> bool:
    """Whether the violent word at ``v`` is one of its everyday senses (sport, idiom)."""
    word, after = words[v], words[v + 1 : v + 7]
    if word in _BEAT:
        # Undergone ("deserve to be beaten") is about a body; done ("we will beat you"),
        # only with what says so.
        undergone = v > 0 and words[v - 1] in {"be", "get", "gets", "got", "being", "been"}
        return not undergone and not any(w in _BEATING for w in after)
    if word in _INTRANSITIVE and after:
        if after[0] in _DIE_FIGURATIVE:
            return True
        return after[0] == "of" and len(after) > 1 and after[1] in _DIE_OF_FIGURATIVE
    return False


def threats(text: str) -> list[str]:
    """Violent words aimed at a person or group and framed as intent, wish, call or order:
    "I will kill you", "someone should shoot that reporter", "people like you should be
    hanged", "I hope your family burns", "kill yourself". Each as the words that made it."""
    found: list[str] = []
    for sentence in sentences(text):
        found.extend(m.group(0).strip() for m in _SELF_HARM.finditer(sentence))
        found.extend(m.group(0).strip() for m in _DISEASE_WISH.finditer(sentence))
        words = tokens(sentence)
        for v, word in enumerate(words):
            if word not in VIOLENT or _figurative(words, v):
                continue
            transitive = word not in _INTRANSITIVE
            # (a) framing … verb … target: "I will kill you", "someone should shoot that reporter"
            target = _targets(words, v + 1, v + 3) if transitive else None
            if target and word in _SPEAKER_ONLY and not _speaker_to_reader(words, v, target):
                target = None
            if target and _framed(words, v):
                found.append(_span(words, _start_of_framing(words, v), target[1]))
                continue
            # (d) an order: "Kill all the liberals", "go stab him"
            lead = 0
            while lead < v and words[lead] in _IMPERATIVE_LEAD:
                lead += 1
            if target and lead == v and word in _IMPERATIVE_FORMS:
                found.append(_span(words, 0, target[1]))
                continue
            # (b) target … framing … verb: "people like you should be shot", "you deserve to die"
            # (c) framing … target … verb: "I hope you get raped", "hope your family burns"
            before = _targets(words, v - 7, v)
            if before is not None:
                t_start, t_end = before
                between = words[t_end:v]
                # the target is the verb's subject: it must undergo it ("be shot", "die"),
                # not do it ("my boss will kill me")
                undergoes = (word in _UNDERGONE or any(w in _PASSIVE for w in between)) and (
                    word not in _SPEAKER_ONLY or words[t_start] in _READER
                )
                if (
                    undergoes
                    and any(w in FRAMING for w in between)
                    and all(w in FRAMING or w in _FILLER for w in between)
                ):
                    found.append(_span(words, t_start, v + 1))
                    continue
                lead_in = words[max(t_start - 3, 0) : t_start]
                if (
                    any(w in {"hope", "wish", "may"} for w in lead_in)
                    and (word in _UNDERGONE or any(w in _PASSIVE for w in between))
                    and all(w in _FILLER or w in {"is", "are", "gets", "get"} for w in between)
                ):
                    found.append(_span(words, max(t_start - 2, 0), v + 1))
    return _unique(found)


def _speaker_to_reader(words: list[str], verb: int, target: tuple[int, int]) -> bool:
    """ "I will hurt you": the speaker (i, we) before the verb, the reader after it."""
    speaker = any(w in {"i", "we"} for w in words[max(verb - 5, 0) : verb])
    return speaker and words[target[0]] in SECOND_PERSON | {"your"}


def _start_of_framing(words: list[str], verb: int) -> int:
    j = verb - 1
    start = verb
    while j >= 0 and verb - j <= 5:
        if words[j] in FRAMING:
            start = j
        j -= 1
    # take the subject too ("someone should", "i will")
    return max(start - 1, 0)


_VEILED = re.compile(
    r"\b(?:"
    r"(?:i|we) know (?:where|who|which \w+|what time|what \w+) (?:you|your|u)\b(?: \w+){0,4}|"
    r"if (?:you|your \w+) (?:had|have|were to have|met with|meet with) an? (?:little |nasty |"
    r"terrible )?accident|"
    r"know where (?:you|your \w+) (?:live|lives|work|works|sleep|sleeps|go|goes|park|"
    r"parks|are|is|stay|eat|drink|pray|study)\b(?: \w+){0,3}|"
    r"watch your back|(?:you|you would|you had) better watch (?:yourself|your back|out)|"
    r"(?:shame|pity|tragedy) if (?:something|anything) (?:bad )?(?:happened|happens|were to "
    r"happen|was to happen) to\b(?: \w+){0,3}|"
    r"(?:shame|pity|tragedy) if (?:your|you|she|he|they|it)(?: \w+){0,3} (?:caught fire|"
    r"burned down|burnt down|got hurt|had an accident|went missing|disappeared)|"
    r"(?:hate|not want) (?:for )?(?:something|anything) (?:bad )?to happen to\b(?: \w+){0,3}|"
    r"(?:something|anything|things) (?:bad |nasty |terrible |unfortunate )?(?:is|are) going to "
    r"happen to (?:you|your)\b(?: \w+){0,2}|"
    r"(?:something|anything) (?:bad |nasty |terrible |unfortunate )?(?:will|might|could|may) "
    r"happen to (?:you|your)\b(?: \w+){0,2}|"
    r"(?:see|find out) what happens (?:to (?:you|people like you|nosy \w+|those who)\b)|"
    r"(?:keep|try|do|say|write) \w+(?: \w+){0,3} and (?:you will )?(?:see|find out) what "
    r"happens|"
    r"your days are numbered|"
    r"you have been warned|"
    r"you (?:would |had )?better (?:be careful|lock your doors|sleep with one eye open|"
    r"look over your shoulder)\b(?: \w+){0,4}|"
    r"be careful (?:walking|going|getting|coming) (?:home|back|out) (?:tonight|alone)\b|"
    r"i would be careful if i (?:were|was) you|"
    r"sleep with one eye open|"
    r"(?:will|would) not see it coming|never see it coming|"
    r"accidents (?:happen|can happen) to (?:\w+ ){0,2}\w+|"
    r"pay (?:you|your \w+) a (?:little )?visit|paying you a visit|pay a visit to (?:you|your)\b|"
    r"(?:i am|we are) (?:watching|coming for) (?:you|your)\b(?: \w+){0,3}|"
    r"you will (?:regret|be sorry for) (?:this|it|that|writing|saying|posting|publishing|"
    r"the day)\b(?: \w+){0,3}|"
    r"you will get what is coming(?: to you)?|get what is coming to (?:you|him|her|them)|"
    r"(?:can not|will not be able to|cannot) protect you\b(?: \w+){0,2}|"
    r"you should be (?:very )?(?:scared|afraid|frightened)\b|"
    r"we have people (?:in|near|on|around) your\b(?: \w+){0,2}|"
    r"you have made (?:a lot of|many|some|plenty of) enemies|"
    r"enjoy your last (?:day|days|week|weekend|night|month)s?\b|"
    r"make (?:you|u|him|her|them) (?:pay|suffer|bleed|disappear)\b|"
    r"(?<!do )or (?:else|you will die|die|you die|you will be sorry)$|"
    r"one of these days (?:someone|somebody|we|i) will\b(?: \w+){0,4}"
    r")"
)


def veiled_threats(text: str) -> list[str]:
    """Menace with no violent word: "I know where you live", "watch your back", "it would
    be a shame if something happened to your kids", "you have been warned"."""
    found: list[str] = []
    for sentence in sentences(text):
        found.extend(m.group(0).strip() for m in _VEILED.finditer(sentence))
    return _unique(found)


# Coarse words that, as nouns, only ever name a person ("fucktard", "cocksucker"), and
# coarse adjectives ("shitty little …").
# Atomic groups, (?>…): the word, once matched, is never re-split when what follows fails
# (with plain \w* a run of repeated swear words backtracked without end).
_PROFANE_NOUN = (
    r"(?>\w*(?:fuck(?:er|wit|tard|face|head|stick|nut|ee)|cunt|twat|wanker|cocksuck|tard|"
    r"motherfuck|dickhead|asshole|arsehole)\w*)"
)
# Coarser than swearing: sexual insults and slurs are not "harmless profanity", so the
# model's score for them counts even when they are aimed at no one we can see.
STRONG = re.compile(rf"\b(?:{_PROFANE_NOUN}|cock\w*|dicks?|pussy|pussies|cum|cumming|cumshot)\b")
_PROFANE_ADJECTIVE = r"(?>\w*(?:fuck|shit|crap)\w*)"
_INSULT_WORD = _alternatives(INSULT_NOUNS) + "|" + _INSULT_PHRASE + "|" + _PROFANE_NOUN
_ADJECTIVE = _alternatives(INSULT_ADJECTIVES | _INTENSIFIERS) + "|" + _PROFANE_ADJECTIVE
# Insults that can only be said of people (a film can be "garbage", not "an idiot").
_PEOPLE_ONLY = _alternatives(
    INSULT_NOUNS - {"trash", "garbage", "filth", "fuck", "pig", "pigs", "cow", "rat",
                    "clown", "clowns", "turd", "vermin", "parasite", "git", "fool",
                    "bitch", "bitches", "dick", "joke"}
)  # fmt: skip
# What can only be said of a person, as a noun: for sentences about someone else, where
# "trash" or "a piece of shit" might be a film.
_PERSON_INSULT = (
    f"{_PEOPLE_ONLY}|{_PROFANE_NOUN}|waste of (?:space|oxygen|air|skin)|"
    "excuse (?:of|for) an? (?:human|man|woman|person)|scum of the earth"
)
_AIMED_ABUSE = re.compile(
    r"\b(?:(?:fuck|f[*#]+k?|f[*#]+|screw|sod|bugger) (?:you|u|ya|off|yourself|yourselves|"
    r"your \w+|him|her|them|this (?:guy|writer|author|idiot))|go to hell|go fuck yourself|"
    r"(?:piss|sod|bugger|fuck|eff) off|eat (?:shit|a dick|dirt|my)|suck (?:my|a) (?:dick|cock)|"
    r"kiss my (?:ass|arse)|stfu|gtfo|shut (?:the fuck|the hell|your (?:mouth|face|trap)) up|"
    r"shut your (?:mouth|face|trap|gob)|get lost|(?:burn|rot) in hell|i hate you|"
    r"(?:you|u|ya) shut up|shut up,? (?:you|u|ya)|shut it)\b"
)
_SECOND_COPULA = (
    r"(?:you are|are you|you look|you sound|you seem|you were|you have always been|"
    r"you remain|you will always be|you must be|you people are|you lot are|you guys are|"
    r"you all are|yall are)"
)
# Words that may stand between "you are" and the insult: "you are all idiots".
_SECOND_FILLER = r"all|both|just|really|so|clearly|obviously|truly|being|nothing but|such"
_AIMED_INSULT = re.compile(
    rf"\b(?:"
    rf"(?:you|u|ya)(?: (?:{_ADJECTIVE}))* (?:{_INSULT_WORD})\b|"
    rf"{_SECOND_COPULA}(?! not\b)(?: (?:{_ADJECTIVE}|{_SECOND_FILLER}))* (?:{_INSULT_WORD}|"
    rf"{_alternatives(INSULT_ADJECTIVES)})\b|"
    rf"(?:{_INSULT_WORD}) like (?:you|u|him|her|them|yourself)\b|"
    rf"what an? (?:(?:{_ADJECTIVE}) )*(?:{_PERSON_INSULT})\b|"
    rf"(?:he|she|the author|the writer|the journalist|the columnist|the reporter|the editor|"
    rf"this (?:writer|author|journalist|columnist|reporter|guy|man|woman|clown|person|idiot)|"
    rf"your (?:mother|mum|mom|father|dad|wife|husband|editor|boss))"
    rf"(?: \w+){{0,4}} (?:is|was|are)(?: (?:{_ADJECTIVE}|nothing but|such))* "
    rf"(?:{_PERSON_INSULT})\b|"
    # anyone said to *be* one, unless the insult is reported or denied ("was called an
    # idiot", "is not an idiot")
    rf"(?:is|are|was|were)(?! (?:not|called|calling|named|described|labelled|labeled|"
    rf"considered|seen|treated|dismissed|branded)\b)(?: (?:{_ADJECTIVE}|obviously|clearly|"
    rf"nothing|but|couple|bunch|pack|of|such|really|being|basically|simply))* "
    rf"(?:{_PERSON_INSULT})\b"
    rf")"
)
_VOCATIVE = re.compile(
    rf"(?:^|, |: )(?:hey|oi|listen|look|ok|okay|yo|well) (?:(?:{_ADJECTIVE}) ){{0,3}}"
    rf"(?:{_INSULT_WORD})\b|"
    rf"(?:^|,|:) ?(?:you )?(?:(?:{_ADJECTIVE}) ){{0,3}}(?:{_INSULT_WORD})$|"
    rf"^(?:(?:{_ADJECTIVE}) ){{0,2}}(?:{_INSULT_WORD}),"
)


_SHUT_UP = re.compile(r"\bshut up\b")
_YOU = re.compile(r"\b(?:you|u|ya|yall)\b")


def aimed_insults(text: str) -> list[str]:
    """Insults and abuse aimed at someone: "you idiot", "you're a moron", "f*** you",
    "the author is a brain-dead imbecile", "…, troll." (not "calling people idiots")."""
    found: list[str] = []
    for sentence in sentences(text):
        masked = re.sub(r"\bf[*#@$]+\w*", "fuck", sentence)
        found.extend(m.group(0) for m in _AIMED_ABUSE.finditer(masked))
        if _SHUT_UP.search(masked) and _YOU.search(masked):  # "if you don't know, shut up"
            found.append("shut up")
        plain = " ".join(tokens(masked.replace("-", "")))
        found.extend(m.group(0) for m in _AIMED_INSULT.finditer(plain))
        clause = re.sub(r" +", " ", re.sub(r"[^a-z0-9,: ]+", " ", masked.replace("-", "")))
        found.extend(m.group(0).strip(" ,:") for m in _VOCATIVE.finditer(clause.strip()))
    return _unique(found)


def _group_ref(groups: frozenset[str]) -> re.Pattern[str]:
    return re.compile(
        rf"\b(?:(?:all |most |these |those |the |typical |dirty |filthy )?(?:"
        rf"{_alternatives(groups)})|(?:{_alternatives(_IDENTITY_ADJECTIVES)}) (?:people|men|"
        rf"women|folk|folks|kids)|these people|those people|you people|your kind|their kind|"
        rf"people like (?:you|them|that))\b"
    )


def _said_to_be(words: frozenset[str]) -> re.Pattern[str]:
    # "… are (nothing but|basically|a bunch of) vermin": what follows a group's name
    return re.compile(
        rf"^(?: (?:are|is|were|all|just|basically|naturally|simply|nothing|but|a|an|like|"
        rf"such|so|too|more|really|always|genetically|inherently|of|them|no|better|than|"
        rf"mentally|morally|the|real|bunch|pack|breed|total|complete|utter)){{0,5}} "
        rf"(?:{_alternatives(words)})\b"
    )


_GROUP_REF = _group_ref(GROUPS)
_POLITICAL_REF = _group_ref(POLITICAL_GROUPS)
_SMEARED = _said_to_be(_SMEARS)
_DEHUMANISED = _said_to_be(DEHUMANISING)
# Words that dehumanise even with only a demonstrative to say who ("these parasites"); the
# animal words need a named group, or a gardener's "these rats" would be held.
_DEHUMANISING_ALONE = DEHUMANISING - {
    "animals", "apes", "monkeys", "dogs", "rats", "pigs", "insects", "trash", "garbage",
    "cancer", "disease", "plague", "swarm", "swarms",
}  # fmt: skip
_ALL_GROUPS = _alternatives(GROUPS)
_GROUP_TROPES = re.compile(
    rf"\b(?:(?:{_ALL_GROUPS}) (?:control|run|own|are behind|were behind) (?:the |all |every "
    rf"|our )?(?:media|banks|world|government|wars?|money|press|hollywood|everything)|"
    rf"go back to (?:your (?:own )?country|africa|asia|where (?:you|they) came from|your own|"
    rf"the desert|the jungle)|"
    rf"(?:send|ship|deport) (?:them|these|those|all)(?: \w+){{0,2}} back\b(?: \w+){{0,4}}|"
    rf"(?:belong|belongs) in the kitchen|"
    rf"(?:we|nobody|no one) (?:do not|does not) want (?:your|their|you|them|that) "
    rf"(?:kind|lot|sort)|"
    rf"(?:these|those|filthy|dirty) (?:\w+ )?(?:{_alternatives(_DEHUMANISING_ALONE)})|"
    rf"subhumans?|untermensch|"
    rf"(?:{_ALL_GROUPS}) (?:should|must|need to|ought to) (?:all )?be (?:locked up|"
    rf"exterminated|sterilised|sterilized|gassed|wiped out|eradicated|put in camps|purged|"
    rf"removed from (?:this|our|the) (?:country|earth|planet))|"
    rf"(?:{_alternatives(_SMEARS - {'ill', 'sick', 'breeding', 'dangerous', 'useless'})}) "
    rf"(?:{_ALL_GROUPS}))\b"
)


def group_attacks(text: str) -> list[str]:
    """Slurs, and smears of a group of people: dehumanising words ("vermin", "these
    parasites"), "<group> are criminals", "go back to your own country". Political camps
    only when dehumanised: "the tories are liars" is pointed speech."""
    found: list[str] = []
    for sentence in sentences(text):
        found.extend(w for w in tokens(sentence) if w in SLURS)
        found.extend(m.group(0) for m in _GROUP_TROPES.finditer(sentence))
        for ref, said in ((_GROUP_REF, _SMEARED), (_POLITICAL_REF, _DEHUMANISED)):
            for m in ref.finditer(sentence):
                if any(w in _NEGATIONS for w in sentence[: m.start()].split()[-2:]):
                    continue
                smear = said.match(sentence[m.end() :])
                if smear:
                    found.append(m.group(0) + smear.group(0))
    return _unique(found)


def without_profanity(text: str) -> str:
    """``text`` (normalized) with the hard words ``profanity`` finds taken out: what the
    policy scores again to see whether they are all the model objected to."""
    lowered = _INSULT_PHRASES.sub(" ", normalize(text))
    kept = [w for w in PROFANITY.sub(" ", lowered).split() if w.strip(".,!?;:'\"") not in _HARD]
    return " ".join(kept)


_HARD = INSULT_NOUNS | INSULT_ADJECTIVES


def profanity(text: str) -> list[str]:
    """Swear words and insult words in ``text``, aimed or not: what a profanity model scores
    high. The policy lets that score pass when none of the aimed rules fired."""
    lowered = normalize(text)
    found = [m.group(0) for m in PROFANITY.finditer(lowered)]
    found.extend(w for w in tokens(lowered) if w in INSULT_NOUNS or w in INSULT_ADJECTIVES)
    found.extend(m.group(0) for m in _INSULT_PHRASES.finditer(lowered))
    return _unique(found)


@dataclass(frozen=True)
class Reading:
    """What the targeting rules found in one text."""

    threats: list[str] = field(default_factory=list)
    veiled_threats: list[str] = field(default_factory=list)
    insults: list[str] = field(default_factory=list)
    group_attacks: list[str] = field(default_factory=list)
    profanity: list[str] = field(default_factory=list)
    strong: bool = False  # sexual insults, slurs: never "harmless profanity"

    @property
    def aimed(self) -> bool:
        """Whether any hard word is aimed at a person or group."""
        return bool(self.threats or self.veiled_threats or self.insults or self.group_attacks)


def read(text: str) -> Reading:
    """Run every targeting rule on ``text``."""
    return Reading(
        threats=threats(text),
        veiled_threats=veiled_threats(text),
        insults=aimed_insults(text),
        group_attacks=group_attacks(text),
        profanity=profanity(text),
        strong=_strong(text),
    )


def _strong(text: str) -> bool:
    lowered = normalize(text)
    return bool(STRONG.search(lowered)) or any(w in SLURS for w in tokens(lowered))


def _unique(found: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(f for f in found if f))
