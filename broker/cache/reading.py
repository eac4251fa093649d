"""Read a prompt the way the near-miss guard compares it: numbers, identifiers, quoted code,
negations, directions and content words. Pure and cheap (a regex pass, no model).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass

from broker.cache.lexicon import (
    CONTRACTIONS,
    FILLERS,
    MULTIPLIERS,
    NEGATIONS,
    NUMBER_WORDS,
    PARTICLES,
    SOURCE_MARKERS,
    STOPWORDS,
    SYNONYMS,
    TARGET_MARKERS,
    UNITS,
)

_QUOTED = re.compile(r"```.*?```|`[^`]+`|\"[^\"]+\"", re.DOTALL)
_TOKEN = re.compile(
    r"(?P<num>[£$€]?\d[\d,]*(?:[.:]\d+)*[A-Za-z%]*)"
    r"|(?P<word>[A-Za-z]+(?:['-][A-Za-z]+)*(?:\d+[A-Za-z\d]*)?)"
    r"|(?P<stop>[.!?;:]+)"
)
_NUMBER = re.compile(r"^[£$€]?(\d[\d,]*(?:[.:]\d+)*)(st|nd|rd|th|am|pm|k|m|bn)?([A-Za-z%]*)$", re.IGNORECASE)
_SCALE = {"k": 1_000, "m": 1_000_000, "bn": 1_000_000_000}
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class Reading:
    numbers: tuple[str, ...]
    """Every number, normalised ("£1,000" and "1000" agree, "7am" and "7pm" do not), sorted."""
    identifiers: frozenset[str]
    """Names and codes: capitalised words not opening a sentence, acronyms, words with digits."""
    quoted: tuple[str, ...]
    """Backticked or double-quoted spans, whitespace-normalised, sorted."""
    negations: int
    words: tuple[str, ...]
    """Content words in order, stemmed and mapped to one synonym."""
    joined: dict[str, tuple[str, str]]
    """Adjacent words written as one ("wi fi" -> "wifi", "turn on" -> "enable") -> the two words."""
    tokens: frozenset[str]
    """Every word, lower-cased, possessive dropped: where an identifier may be found again."""
    particles: frozenset[str]
    roles: dict[str, str]
    """Content word -> "source" or "target" when "from"/"to" governs it."""


def stem(word: str) -> str:
    """A light suffix stripper: enough to equate plurals and tenses, never a dictionary."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    return word


def canonical(word: str) -> str:
    return SYNONYMS.get(word) or SYNONYMS.get(stem(word)) or stem(word)


def number_value(token: str) -> str | None:
    """The number a numeric token names, or None when it is a code such as "2FA"."""
    match = _NUMBER.match(token)
    if not match:
        return None
    digits, suffix, unit = match.group(1), (match.group(2) or "").lower(), match.group(3)
    if suffix in ("am", "pm"):
        return digits.replace(",", "") + suffix
    value = digits.replace(",", "")
    if suffix in _SCALE and not unit:
        try:
            return _format(float(value) * _SCALE[suffix])
        except ValueError:
            return value
    if suffix in ("st", "nd", "rd", "th") or not unit or unit.lower() in UNITS:
        return value if ":" in value else _format(float(value)) if _is_float(value) else value
    return None




def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _format(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def expand(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    lowered_keys = sorted(CONTRACTIONS, key=len, reverse=True)
    for short in lowered_keys:
        text = re.sub(re.escape(short) + r"\b", CONTRACTIONS[short], text, flags=re.IGNORECASE)
    return text


def read(text: str) -> Reading:
    text = expand(text)
    quoted = tuple(sorted(" ".join(q.strip("`\"").split()) for q in _QUOTED.findall(text)))
    text = _QUOTED.sub(" ", text)
    numbers: list[str] = []
    identifiers: set[str] = set()
    tokens: set[str] = set()
    particles: set[str] = set()
    words: list[str] = []
    roles: dict[str, str] = {}
    negations = 0
    sentence_start = True
    direction: str | None = None
    phrasal: list[tuple[str, str]] = []  # a word and the particle after it: "turn on", "log in"
    previous_was_word = False
    pending: list[int] = []  # number words being combined ("twenty five", "three hundred")
    for match in _TOKEN.finditer(text):
        if match.group("stop"):
            sentence_start = True
            continue
        raw = match.group("num") or match.group("word")
        if match.group("num"):
            value = number_value(raw)
            if value is None:
                identifiers.add(raw.lower())
                tokens.add(raw.lower())
            else:
                numbers.append(value)
            sentence_start = False
            continue
        for position, part in enumerate(raw.split("-")):
            low = part.lower().removesuffix("'s").replace("'", "")
            tokens.add(low)
            if low in NUMBER_WORDS or (low in MULTIPLIERS and pending):
                pending = _combine(pending, low)
                continue
            if pending:
                numbers.extend(str(n) for n in pending)
                pending = []
            if low in NEGATIONS:
                negations += 1
                continue
            opening = sentence_start and position == 0
            ordinary = low in STOPWORDS or low in FILLERS
            if any(c.isdigit() for c in part) or (not ordinary and _looks_like_a_name(part, opening)):
                identifiers.add(low)
            sentence_start = False
            if low in SOURCE_MARKERS or low in TARGET_MARKERS:
                direction = "source" if low in SOURCE_MARKERS else "target"
            if low in PARTICLES:
                particles.add(low)
                if words and previous_was_word:
                    phrasal.append((words[-1], low))
            previous_was_word = False
            if low in PARTICLES or low in STOPWORDS or low in FILLERS or low in ("i",):
                continue
            previous_was_word = True
            word = canonical(low)
            words.append(word)
            if direction is not None:
                roles.setdefault(word, direction)
                direction = None
    numbers.extend(str(n) for n in pending)
    pairs = [*itertools.pairwise(words), *phrasal]
    joined = {canonical(a + b): (a, b) for a, b in pairs}
    return Reading(
        numbers=tuple(sorted(numbers)),
        identifiers=frozenset(identifiers),
        quoted=quoted,
        negations=negations,
        words=tuple(words),
        joined=joined,
        tokens=frozenset(tokens),
        particles=frozenset(particles),
        roles=roles,
    )


def _looks_like_a_name(part: str, opening: bool) -> bool:
    if part == "I" or len(part) < 2:
        return False
    if part.isupper():
        return True  # an acronym: UK, ISA, HSBC
    if any(c.isupper() for c in part[1:]):
        return True  # iPhone, easyJet, HubSpot
    return part[0].isupper() and not opening


def _combine(pending: list[int], word: str) -> list[int]:
    """Fold number words: "twenty five" -> 25, "three hundred" -> 300."""
    if word in MULTIPLIERS:
        return [*pending[:-1], pending[-1] * MULTIPLIERS[word]]
    value = NUMBER_WORDS[word]
    if pending and pending[-1] % 10 == 0 and pending[-1] >= 20 and value < 10:
        return [*pending[:-1], pending[-1] + value]
    return [*pending, value]
