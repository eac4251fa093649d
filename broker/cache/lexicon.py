"""Word lists the near-miss guard reads. Plain data, general English, no domain tuning.

They answer three questions about a word: does it carry no meaning for caching (function
words, greetings, politeness, hedges), does it negate, and which other words say the same
thing (a small thesaurus of help-desk verbs and nouns, so "update my address" still
matches "change my address"). Anything not listed is a content word: a difference in it
counts.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words. Deliberately absent: negations and the polar particles below (on/off,
# in/out, before/after...), which flip a question's meaning.
STOPWORDS = _words(
    """
    a an the and or but if then than so as of at by for with about to from into onto is are was were be been
    being am do does did doing done have has had having i me my mine myself we us our ours you your yours he
    him his she her it its they them their theirs this that these those there here what which who whom whose
    when where why how can could would should will shall may might must let lets s d ll m re ve t
    get gets got getting go goes going went anything something someone anyone one ones thing things
    also too very really quite much many some any each every other another such own same again
    obtain obtained receive received acquire make makes made making take takes took taking
    whats hows wheres whens whos whys thats theres heres im ive youre its people person persons
    """
)

# Words that frame a question without changing it: greetings, thanks, apologies, hedges,
# and the "what's the way/process to" family of rewordings of "how do I".
FILLERS = _words(
    """
    hi hello hey hiya morning afternoon evening good folks
    thanks thank thx cheers appreciate appreciated advance regards
    please kindly sorry bother silly stupid dumb question quick query
    um uh er erm hmm ok okay yeah yes well right so anyway basically actually just simply
    wondering wonder hoping hope tell know let able possible allowed permitted
    usually typically normally generally currently still exactly
    way method process procedure steps step best like available availability
    need needs needed require requires required want wants wanted
    check ask asked status news progress
    """
)

NEGATIONS = _words(
    """
    not no never none nobody nothing nowhere neither nor without cannot non
    dont doesnt didnt isnt arent wasnt werent cant couldnt shouldnt wouldnt wont havent hasnt hadnt
    mustnt neednt aint
    """
)

# Negating prefixes: "unlock" vs "lock", "non-refundable" vs "refundable".
NEGATING_PREFIXES = ("un", "non", "dis", "in", "im", "ir", "il", "de", "anti", "mis")

# Prefix pairs that make opposites of one stem: include/exclude, increase/decrease.
OPPOSED_PREFIXES = (
    ("in", "ex"),
    ("im", "ex"),
    ("in", "de"),
    ("en", "dis"),
    ("up", "down"),
    ("over", "under"),
    ("pre", "post"),
    ("max", "min"),
    ("sub", "super"),
    ("inc", "dec"),
)

# What a question word already says: "how much is X" asks for "the price of X", "when" for
# "the time", "how long" for the time or the days. Such a word on one side only is no difference.
QUESTION_IMPLIES = {
    ("how", "much"): frozenset({"price"}),
    ("how", "long"): frozenset({"time", "day", "week", "month", "hour", "year", "long"}),
    ("when",): frozenset({"time", "date", "day"}),
    ("what", "time"): frozenset({"time"}),
    ("why",): frozenset({"reason", "cause"}),
}

# Particles that are function words on their own but flip a question against their opposite:
# "turn on" vs "turn off", "orders over £50" vs "orders under £50", "check-in" vs "check-out".
OPPOSED_PARTICLES = (
    ("on", "off"),
    ("in", "out"),
    ("up", "down"),
    ("over", "under"),
    ("above", "below"),
    ("before", "after"),
    ("within", "after"),
    ("within", "outside"),
    ("inside", "outside"),
    ("more", "less"),
    ("more", "fewer"),
    ("most", "least"),
    ("first", "last"),
    ("early", "late"),
    ("earliest", "latest"),
    ("back", "forward"),
    ("min", "max"),
    ("minimum", "maximum"),
)
PARTICLES = frozenset(word for pair in OPPOSED_PARTICLES for word in pair)

# Prepositions that give a word a direction: "from X to Y" is not "from Y to X".
SOURCE_MARKERS = frozenset({"from", "off", "out"})
TARGET_MARKERS = frozenset({"to", "into", "onto"})

NUMBER_WORDS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}  # fmt: skip
# Units after a number ("10GB", "2kg", "15%"): the number counts, the unit is dropped.
UNITS = _words("% kg g mg km m cm mm gb mb tb kb ml l hr hrs h mins min s x yr yrs mph kwh p")

# Days and months name a date whatever their case ("open on friday" is not "open on monday").
# "may" is left out: far more often a verb.
CALENDAR = _words(
    """
    monday tuesday wednesday thursday friday saturday sunday weekday weekend
    january february march april june july august september october november december
    """
)

# Currency named after a number: "50 pounds" is "£50".
CURRENCY_WORDS = {
    "pound": "£", "pounds": "£", "quid": "£", "gbp": "£",
    "dollar": "$", "dollars": "$", "bucks": "$", "usd": "$",
    "euro": "€", "euros": "€", "eur": "€",
}  # fmt: skip

# "one" is absent on purpose: it is as often a pronoun ("a quick one") as a number.
MULTIPLIERS = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}

# Contractions, expanded before anything else so "what's" and "what is" compare equal.
CONTRACTIONS = {
    "can't": "can not", "won't": "will not", "shan't": "shall not", "n't": " not",
    "'re": " are", "'ve": " have", "'ll": " will", "'d": " would", "'m": " am",
}  # fmt: skip

# Each group says one thing; every member maps to the first.
SYNONYM_GROUPS = (
    ("change", "update", "modify", "edit", "amend", "alter", "switch"),
    ("start", "begin", "commence"),
    ("buy", "purchase"),
    ("shop", "store", "branch"),
    ("ship", "deliver", "dispatch"),  # and their nouns ("delivery", "shipping"): see morphology.derived
    ("parcel", "package"),
    ("item", "product"),
    ("issue", "problem", "trouble"),
    ("broken", "faulty", "damaged"),
    ("fix", "repair", "resolve"),
    ("speak", "talk"),
    ("agent", "representative", "advisor", "adviser"),
    ("website", "site"),
    ("prohibit", "ban", "forbid"),
    ("expire", "lapse"),
    ("login", "logon", "signin"),
    ("logout", "logoff", "signout"),
    ("return", "sendback"),
    ("price", "cost", "charge", "fee"),
    ("fast", "quick", "quickly", "fastest", "quickest", "rapid", "speedy"),
    ("child", "kid", "children", "kids"),
    ("create", "setup", "generate"),
    ("submit", "send", "file", "lodge"),
    ("register", "signup", "enrol", "enroll"),
    ("cancel", "terminate"),
    ("delete", "remove", "erase"),
    ("help", "assist", "assistance"),
    ("find", "locate"),
    ("show", "display"),
    ("phone", "mobile", "telephone", "cell"),
    ("email", "mail"),
    ("big", "large"),
    ("small", "little"),
    ("quote", "quotation"),
    ("mute", "silence"),
    ("previous", "earlier", "prior"),
    ("enable", "activate", "turnon", "switchon"),
    ("disable", "deactivate", "turnoff", "switchoff"),
)
SYNONYMS = {word: group[0] for group in SYNONYM_GROUPS for word in group}
