"""Read a prompt the way the near-miss guard compares it: numbers, identifiers, quoted code,
negations, directions and content words. Pure and cheap (one regex pass, no model).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field

from broker.cache.lexicon import (
    CALENDAR,
    CONTRACTIONS,
    FILLERS,
    MULTIPLIERS,
    NEGATIONS,
    NUMBER_WORDS,
    PARTICLES,
    QUESTION_IMPLIES,
    SOURCE_MARKERS,
    STOPWORDS,
    SYNONYMS,
    TARGET_MARKERS,
)
from broker.cache.numbers import combine, number_value, with_currency

_QUOTED = re.compile(r"```.*?```|`[^`]+`|\"[^\"]+\"", re.DOTALL)
_TOKEN = re.compile(
    r"(?P<num>[£$€]?\d[\d,]*(?:[.:]\d+)*[A-Za-z%]*)"
    r"|(?P<word>[A-Za-z]+(?:['-][A-Za-z]+)*(?:\d+[A-Za-z\d]*)?)"
    r"|(?P<stop>[.!?;:]+)"
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_CONTRACTION = re.compile("|".join(re.escape(c) for c in sorted(CONTRACTIONS, key=len, reverse=True)) + r"\b", re.I)


@dataclass(frozen=True)
class Reading:
    numbers: tuple[str, ...]
    """Every number, normalised ("£1,000" and "1000 pounds" agree, "7am" and "7pm" do not), sorted."""
    identifiers: frozenset[str]
    """Names and codes: capitalised words not opening a sentence, acronyms, words with digits."""
    quoted: tuple[str, ...]
    """Backticked or double-quoted spans, whitespace-normalised, sorted."""
    negations: int
    words: tuple[str, ...]
    """Content words in order, stemmed and mapped to one synonym."""
    joined: dict[str, tuple[str, str]]
    """Two adjacent words written as one ("wi fi" -> "wifi", "turn on" -> "enable") -> the two words."""
    tokens: frozenset[str]
    """Every word, lower-cased, possessive dropped: where an identifier may be found again."""
    particles: dict[str, int]
    """How often each polar particle occurs ("turn on ... on my phone": on twice)."""
    roles: dict[str, str]
    """Content word -> "source" or "target" when "from"/"to" governs it."""
    implied: frozenset[str]
    """Content words the question words already say ("how much" -> price)."""


def stem(word: str) -> str:
    """A light suffix stripper: enough to equate plurals and tenses, never a dictionary."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        return _undouble(word[:-3])
    if len(word) > 4 and word.endswith("ed"):
        return _undouble(word[:-2])
    return word


def _undouble(word: str) -> str:
    """ "shipp" (from shipped, shipping) -> "ship"; "fill" stays."""
    if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "aeioulsz":
        return word[:-1]
    return word


def canonical(word: str) -> str:
    return SYNONYMS.get(word) or SYNONYMS.get(stem(word)) or stem(word)


def expand(text: str) -> str:
    """Unicode-normalise and expand contractions, so "what's" and "can't" read like their long forms."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    return _CONTRACTION.sub(lambda m: CONTRACTIONS[m.group(0).lower()], text)


def read(text: str) -> Reading:
    return _Reader(expand(text)).reading()


@dataclass
class _Reader:
    text: str
    numbers: list[str] = field(default_factory=list)
    identifiers: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    particles: dict[str, int] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    phrasal: list[tuple[str, str]] = field(default_factory=list)  # a word and its particle: "turn on"
    pending: list[int] = field(default_factory=list)  # number words being folded
    negations: int = 0
    sentence_start: bool = True
    direction: str | None = None
    after_word: bool = False
    after_number: bool = False
    last_raw: str = ""
    previous: str = ""

    def reading(self) -> Reading:
        quoted = tuple(sorted(" ".join(q.strip('`"').split()) for q in _QUOTED.findall(self.text)))
        for match in _TOKEN.finditer(_QUOTED.sub(" ", self.text)):
            if match.group("stop"):
                self.sentence_start = True
            elif match.group("num"):
                self._number(match.group("num"))
            else:
                self._word(match.group("word"))
        self._flush_number_words()
        pairs = [*itertools.pairwise(self.words), *self.phrasal]
        return Reading(
            numbers=tuple(sorted(self.numbers)),
            identifiers=frozenset(self.identifiers),
            quoted=quoted,
            negations=self.negations,
            words=tuple(self.words),
            joined={canonical(a + b): (a, b) for a, b in pairs},
            tokens=frozenset(self.tokens),
            particles=dict(self.particles),
            roles=self.roles,
            implied=self.implied(),
        )

    def implied(self) -> frozenset[str]:
        lowered = re.findall(r"[a-z]+", self.text.lower())
        found: set[str] = set()
        for phrase, words in QUESTION_IMPLIES.items():
            size = len(phrase)
            if any(tuple(lowered[i : i + size]) == phrase for i in range(len(lowered) - size + 1)):
                found |= words
        return frozenset(found)

    def _number(self, raw: str) -> None:
        self._flush_number_words()
        value = number_value(raw)
        if value is None:  # a code such as 2FA
            self.identifiers.add(raw.lower())
            self.tokens.add(raw.lower())
        else:
            self.numbers.append(value)
        self.sentence_start = False
        self.after_number = value is not None

    def _flush_number_words(self) -> None:
        if self.pending:
            self.numbers.extend(str(n) for n in self.pending)
            self.pending = []
            self.after_number = True

    def _word(self, raw: str) -> None:
        parts = raw.split("-")
        if len(parts) > 1 and any(c.isupper() for c in raw[1:]):
            self.identifiers.add("".join(parts).lower())  # "Wi-Fi" is found again as "wifi"
            self.tokens.add("".join(parts).lower())
            parts = [p.lower() for p in parts]
        for position, part in enumerate(parts):
            self._part(part, opening=self.sentence_start and position == 0)

    def _part(self, part: str, opening: bool) -> None:
        low = part.lower().removesuffix("'s").replace("'", "")
        self.tokens.update((low, stem(low)))
        previous, self.previous = self.previous, low
        if (previous, low) in QUESTION_IMPLIES:
            return  # "long" in "how long", "time" in "what time": part of the question word
        if low in NUMBER_WORDS or low in MULTIPLIERS:
            self.pending = combine(self.pending, low)
            return
        self._flush_number_words()
        if self.after_number and (priced := with_currency(self.numbers[-1], low)) is not None:
            self.numbers[-1] = priced
            self.after_number = False
            return
        self.after_number = False
        if low in NEGATIONS:
            self.negations += 1
            return
        ordinary = low in STOPWORDS or low in FILLERS
        if any(c.isdigit() for c in part) or (not ordinary and _looks_like_a_name(part, opening)):
            self.identifiers.add(low)
        if stem(low) in CALENDAR:
            self.identifiers.add(stem(low))
        self.sentence_start = False
        if low in SOURCE_MARKERS or low in TARGET_MARKERS:
            self.direction = "source" if low in SOURCE_MARKERS else "target"
        if low in PARTICLES:
            self.particles[low] = self.particles.get(low, 0) + 1
            if self.after_word:
                verb = self.words[-1]
                self.phrasal.append((verb, low))
                if self.last_raw + low in SYNONYMS:  # "turn off" is one word, "disable", like "switch off"
                    self.words[-1] = SYNONYMS[self.last_raw + low]
        if low in PARTICLES or ordinary or low == "i":
            self.after_word = False
            return
        word = canonical(low)
        self.words.append(word)
        self.last_raw = stem(low)
        self.after_word = True
        if self.direction is not None:
            self.roles.setdefault(word, self.direction)
            self.direction = None


def _looks_like_a_name(part: str, opening: bool) -> bool:
    if part == "I" or len(part) < 2:
        return False
    if part.isupper():
        return True  # an acronym: UK, ISA, HSBC
    if any(c.isupper() for c in part[1:]):
        return True  # iPhone, easyJet, HubSpot
    return part[0].isupper() and not opening
