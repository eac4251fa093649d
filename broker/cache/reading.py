"""Read a prompt the way the near-miss guard compares it: numbers, identifiers, quoted code,
negations, directions and content words. Pure and cheap (one regex pass, no model).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

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
from broker.cache.morphology import canonical, corrected, stem
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
    free_particles: dict[str, int]
    """The particles not taken into a thesaurus word with their verb ("turn on" is "enable")."""
    stems: tuple[str, ...]
    """Each content word's own stem, before the thesaurus (a typo is looked for in both)."""
    raws: tuple[str, ...]
    """Each content word as written, lower-cased ("parkign" is a slip of "parking", not of "park")."""
    roles: dict[str, str]
    """Content word -> "source" or "target" when "from"/"to" governs it."""
    implied: frozenset[str]
    """Content words the question words already say ("how much" -> price)."""
    asks: frozenset[tuple[str, ...]] = frozenset()
    """The question phrases of ``QUESTION_IMPLIES`` present ("how long", "why"): what kind of
    answer is asked for, beyond the words."""


def expand(text: str) -> str:
    """Unicode-normalise and expand contractions, so "what's" and "can't" read like their long forms."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    return _CONTRACTION.sub(lambda m: CONTRACTIONS[m.group(0).lower()], text)


@lru_cache(maxsize=16384)
def read(text: str) -> Reading:
    """The guard's reading of a prompt (memoised: a cached prompt is read again at every
    lookup that meets it; a Reading is never changed once made)."""
    return _Reader(expand(text)).reading()


@dataclass
class _Reader:
    text: str
    numbers: list[str] = field(default_factory=list)
    identifiers: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    particles: dict[str, int] = field(default_factory=dict)
    bound: dict[str, int] = field(default_factory=dict)  # particles taken into a thesaurus word ("turn on")
    words: list[str] = field(default_factory=list)
    stems: list[str] = field(default_factory=list)  # each content word's own stem, before the thesaurus
    raws: list[str] = field(default_factory=list)  # each content word as written, lower-cased
    gaps: list[int] = field(default_factory=list)  # tokens between each content word and the one before
    gap: int = 0  # tokens since the last content word
    roles: dict[str, str] = field(default_factory=dict)
    phrasal: list[tuple[str, str]] = field(default_factory=list)  # a word and its particle: "turn on"
    pending: list[int] = field(default_factory=list)  # number words being folded
    negations: int = 0
    sentence_start: bool = True
    direction: str | None = None
    after_number: bool = False
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
        asks = self.asks()
        return Reading(
            numbers=tuple(sorted(self.numbers)),
            identifiers=frozenset(self.identifiers),
            quoted=quoted,
            negations=self.negations,
            words=tuple(self.words),
            joined={canonical(a + b): (a, b) for a, b in pairs},
            tokens=frozenset(self.tokens),
            particles=dict(self.particles),
            free_particles={p: n - self.bound.get(p, 0) for p, n in self.particles.items() if n > self.bound.get(p, 0)},
            stems=tuple(self.stems),
            raws=tuple(self.raws),
            roles=self.roles,
            implied=frozenset(w for phrase in asks for w in QUESTION_IMPLIES[phrase]),
            asks=asks,
        )

    def asks(self) -> frozenset[tuple[str, ...]]:
        lowered = re.findall(r"[a-z]+", self.text.lower())
        found = set()
        for phrase in QUESTION_IMPLIES:
            size = len(phrase)
            if any(tuple(lowered[i : i + size]) == phrase for i in range(len(lowered) - size + 1)):
                found.add(phrase)
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
        typed = part.lower().removesuffix("'s").replace("'", "")
        low = corrected(typed)  # "sttaus" is "status", a filler, not a new content word
        self.tokens.update((typed, stem(typed), low))
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
            self._particle(low)
        if low in PARTICLES or ordinary or low == "i":
            self.gap += 1
            return
        word = canonical(low)
        self.words.append(word)
        self.stems.append(stem(low))
        self.raws.append(low)
        self.gaps.append(self.gap)
        self.gap = 0
        if self.direction is not None:
            self.roles.setdefault(word, self.direction)
            self.direction = None

    def _particle(self, particle: str) -> None:
        """Join a particle to its verb: "turn off" (or "turn it off") is one word, "disable",
        like "switch off"; so is "send back" across its object ("send the item back")."""
        if not self.words or self.gap > 1:
            return
        self.phrasal.append((self.words[-1], particle))
        for back in (1, 2, 3):
            if back > len(self.words) or (back > 1 and (self.gap > 0 or max(self.gaps[-back + 1 :]) > 2)):
                return
            joined = self.stems[-back] + particle
            if joined in SYNONYMS:  # the particle's sense is now the word's ("disable")
                self.words[-back] = SYNONYMS[joined]
                self.stems[-back] = joined  # taken: "on my phone" does not turn it on again
                self.bound[particle] = self.bound.get(particle, 0) + 1
                return


def _looks_like_a_name(part: str, opening: bool) -> bool:
    if part == "I" or len(part) < 2:
        return False
    if part.isupper():
        return True  # an acronym: UK, ISA, HSBC
    if any(c.isupper() for c in part[1:]):
        return True  # iPhone, easyJet, HubSpot
    return part[0].isupper() and not opening
