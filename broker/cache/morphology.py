"""Word forms for the near-miss guard: stems, synonym heads, derived nouns and typos. Pure.

The guard compares prompts word by word, so two spellings of one word must come out as
one: plurals and tenses ("changed" / "change"), a noun made from a thesaurus verb
("delivery" / "deliver", "cancellation" / "cancel"), and slips of the keyboard
("reqest" / "request", "incldue" / "included"). None of this is a dictionary: a light
suffix stripper, the thesaurus in ``lexicon.py``, and edit distance.
"""

from __future__ import annotations

from functools import lru_cache

from broker.cache.lexicon import FILLERS, NEGATING_PREFIXES, OPPOSED_PREFIXES, PARTICLES, STOPWORDS, SYNONYMS
from broker.cache.vocabulary import is_word

# Noun-making suffixes tried, longest first, when a word is not in the thesaurus itself:
# "cancellation" -> "cancel", "shipment" -> "ship", "delivery" -> "deliver", "removal" -> "remove".
_DERIVATIONS = ("ation", "ment", "ion", "al", "y")


def stem(word: str) -> str:
    """A light suffix stripper: enough to equate plurals and tenses, never a dictionary.

    A final "e" of a longer word goes too, so "include", "included" and "including" share
    one stem ("includ") instead of two one edit apart."""
    base = _inflection(word)
    if len(base) >= 6 and base.endswith("e") and not base.endswith("ee"):
        return base[:-1]
    return base


def _inflection(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("ie"):
        return word[:-2] + "y"  # "calorie" as "calories": "calory"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        return undouble(word[:-3])
    if len(word) > 4 and word.endswith("ed"):
        return undouble(word[:-2])
    return word


def undouble(word: str) -> str:
    """ "shipp" (from shipped, shipping) -> "ship"; "fill" stays."""
    if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "aeioulsz":
        return word[:-1]
    return word


SYNONYMS_BY_STEM = {stem(word): head for word, head in SYNONYMS.items()}
"""The thesaurus reached through any inflection: "updated" finds "update"'s group."""


def canonical(word: str) -> str:
    """The word's thesaurus head, else the head of the thesaurus verb it is a noun of, else its stem."""
    found = SYNONYMS.get(word) or SYNONYMS_BY_STEM.get(stem(word)) or derived(word)
    return found or stem(word)


def derived(word: str) -> str | None:
    """The thesaurus head of the verb a noun is made from ("delivery" -> the head of "deliver")."""
    for suffix in _DERIVATIONS:
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3:
            single = base[:-1] if len(base) > 3 and base[-1] == base[-2] else base  # "cancell" -> "cancel"
            for form in (base, base + "e", single):
                if form in SYNONYMS:
                    return SYNONYMS[form]
    return None


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): a swap of neighbours is one edit."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def allowed_edits(a: str, b: str) -> int:
    """One slip in a word of five letters or more, two in a word of ten or more (each side
    may carry its own slip of the same long word: "atuhentication" / "authnetication")."""
    shorter = min(len(a), len(b))
    return 0 if shorter < 5 else 1 if shorter < 10 else 2


def typo(a: str, b: str) -> bool:
    """A slip of the keyboard on a longer word ("reqest" / "request"); short words must match."""
    if a == b:
        return True
    edits = allowed_edits(a, b)
    if a[:1] != b[:1] or edits == 0 or abs(len(a) - len(b)) > edits:
        return False
    if prefixed_opposites(a, b):
        return False
    return edit_distance(a, b) <= edits


def prefixed_opposites(x: str, y: str) -> bool:
    """A word and its negated or opposite-prefixed form ("suitable" / "unsuitable", "include" / "exclude")."""
    for prefix in NEGATING_PREFIXES:
        if x == prefix + y or y == prefix + x:
            return True
    for p, q in OPPOSED_PREFIXES:
        for u, v in ((x, y), (y, x)):
            if u.startswith(p) and v.startswith(q) and len(u) - len(p) >= 3 and u[len(p) :] == v[len(q) :]:
                return True
    return False


def _phrasal_verbs() -> frozenset[str]:
    """Verbs that make a thesaurus entry with a particle ("turn" of "turnoff", "send" of "sendback")."""
    return frozenset(
        word[: -len(particle)]
        for word in SYNONYMS
        for particle in PARTICLES
        if word.endswith(particle) and len(word) > len(particle) + 2
    )


_KNOWN = frozenset(w for w in STOPWORDS | FILLERS | _phrasal_verbs() if len(w) >= 5)
_BY_OPENING: dict[tuple[str, int], list[str]] = {}
for _word in sorted(_KNOWN):
    _BY_OPENING.setdefault((_word[0], len(_word)), []).append(_word)


@lru_cache(maxsize=8192)
def corrected(word: str) -> str:
    """A lower-case non-word one slip away from exactly one function word, filler or phrasal
    verb of the lexicon ("sttaus" -> "status", "swtich" -> "switch"), else the word itself.
    Real words are never changed ("bring" stays, though one edit from "being"). Any other
    slip is matched pairwise by the guard, against the other prompt's words."""
    if len(word) < 5 or word in STOPWORDS or word in FILLERS or word in SYNONYMS or is_word(word):
        return word
    near = {
        known
        for size in (len(word) - 1, len(word), len(word) + 1)
        for known in _BY_OPENING.get((word[0], size), ())
        if typo(word, known)
    }
    return near.pop() if len(near) == 1 else word
