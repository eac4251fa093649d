"""The near-miss guard: a cheap second opinion on every semantic hit.

Sentence embeddings place "Is the clinic open on Sundays?" and "Is the clinic closed on
Sundays?" almost on top of each other (cosine 0.95 with all-MiniLM-L6-v2): they share
every word but one, and that one word flips the answer. So a cached answer is refused
when the two prompts differ in something that changes what is asked:

- ``numbers``: any number, amount, time or date digit ("2-hour delay" vs "4-hour delay");
- ``identifier``: a name or code present in one prompt and absent from the other
  ("Heathrow" vs "Gatwick", "ISA", "E42");
- ``quoted``: backticked or quoted text (code, commands, exact strings);
- ``negation``: a negation in one and not the other, or a word and its negated or opposite
  form ("refundable"/"non-refundable", "include"/"exclude"), or opposed particles
  ("turn on"/"turn off", "over £50"/"under £50");
- ``direction``: the same word going the other way ("from savings to current account");
- ``substitution``: the prompts say the same thing except that a few content words were
  swapped for others ("adults" vs "children", "home" vs "abroad") — in a near-identical
  sentence the swapped word is what the question is about;
- ``addition``: one prompt is the other plus a qualifier ("gift" vs "gift card",
  "symptoms of flu" vs "symptoms of flu in babies").

Synonyms from a small thesaurus, typos (one edit), plurals, contractions, greetings and
hedges do not count as differences. Whole rewordings pass the guard and are left to the
similarity threshold. Refusing a true paraphrase costs one provider call; accepting a
near miss returns a wrong answer, so every rule errs towards refusing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from broker.cache.lexicon import OPPOSED_PARTICLES, QUESTION_IMPLIES
from broker.cache.morphology import prefixed_opposites, typo
from broker.cache.reading import Reading, read

MAX_SUBSTITUTED = 2
"""A swap of up to this many words on each side is a substitution (so is a larger one in a
sentence that shares more words than it swaps); anything else is a rewording."""


@dataclass(frozen=True)
class Verdict:
    reasons: tuple[str, ...]
    """Why the new prompt must not get the cached answer; empty when the guard has no objection."""
    same_words: bool
    """No objection, and every content word of each prompt has its counterpart in the other
    (after synonyms, inflections, typos and compounds), with the same particles, negations and
    question of reason: the prompts say the same words in other order, spelling or framing.
    Such a pair may be answered at a lower similarity than a free rewording
    (``cache.same_words_threshold``): typos and synonyms move the embedding, not the meaning."""


def judge(cached: str, new: str) -> Verdict:
    """The guard's verdict on answering ``new`` with the answer cached for ``cached``."""
    return _judge(cached, new)


@lru_cache(maxsize=16384)
def _judge(cached: str, new: str) -> Verdict:
    a, b = read(cached), read(new)
    reasons = []
    if a.numbers != b.numbers:
        reasons.append("numbers")
    if not identifiers_found(a, b) or not identifiers_found(b, a):
        reasons.append("identifier")
    if a.quoted != b.quoted:
        reasons.append("quoted")
    only_a, only_b = unmatched(a, b)
    if a.negations % 2 != b.negations % 2 or opposed(only_a, only_b) or opposed_particles(a, b):
        reasons.append("negation")
    if swapped_direction(a, b):
        reasons.append("direction")
    if only_a and only_b and substituted(a, b, only_a, only_b):
        reasons.append("substitution")
    elif bool(only_a) != bool(only_b):
        reasons.append("addition")
    same = (
        not reasons
        and not only_a
        and not only_b
        and bool(a.words or a.numbers or a.identifiers)
        and _polar(a.free_particles) == _polar(b.free_particles)
        and a.negations == b.negations
        and same_question(a, b)
    )
    return Verdict(tuple(reasons), same)


def same_question(a: Reading, b: Reading) -> bool:
    """Both ask for the same kind of answer: a question phrase ("how long", "why") on one side
    only is matched by one of the words it implies on the other ("how long" / "the time")."""
    return all(QUESTION_IMPLIES[p] & set(b.words) for p in a.asks - b.asks) and all(
        QUESTION_IMPLIES[p] & set(a.words) for p in b.asks - a.asks
    )


def _polar(particles: dict[str, int]) -> dict[str, int]:
    """Particles that may carry a polarity: all but "in" and "on", which mostly place things
    ("in the plan", "on my phone"); their polar uses ("in"/"out") are refused as negations."""
    return {p: n for p, n in particles.items() if p not in ("in", "on")}


def anchor_key(text: str) -> str | None:
    """What a cached prompt must share exactly with this one to be answerable at all, as one
    string: its numbers and quoted text (None when it has neither). The semantic layer stores
    it with each vector and asks for entries with the same key, so that an order number is
    matched among thousands of orders whatever the wording. Names are left out: their case
    varies ("York" / "york") and the guard finds them again case-blind."""
    reading = read(text)
    if not reading.numbers and not reading.quoted:
        return None
    return "\x1f".join(("#", *reading.numbers, '"', *reading.quoted))


def near_miss_reasons(cached: str, new: str) -> list[str]:
    """Why ``new`` must not be answered with the answer cached for ``cached`` ([] = no objection)."""
    return list(judge(cached, new).reasons)


def substituted(a: Reading, b: Reading, only_a: list[str], only_b: list[str]) -> bool:
    """Words swapped in an otherwise shared sentence: a few words, or fewer than are shared."""
    if len(only_a) <= MAX_SUBSTITUTED and len(only_b) <= MAX_SUBSTITUTED:
        return True
    shared = sum(1 for word in a.words if word in b.words)
    return shared >= max(len(only_a), len(only_b))


def is_near_miss(cached: str, new: str) -> bool:
    return bool(near_miss_reasons(cached, new))


def identifiers_found(a: Reading, b: Reading) -> bool:
    """Every name or code of ``a`` appears in ``b`` (any case, one typo allowed)."""
    return all(name in b.tokens or any(typo(name, token) for token in b.tokens) for name in a.identifiers)


def unmatched(a: Reading, b: Reading) -> tuple[list[str], list[str]]:
    """Content words of each side with no counterpart on the other (after typos and compounds)."""
    only_a = [w for w in a.words if w not in b.words and w not in b.implied]
    only_b = [w for w in b.words if w not in a.words and w not in a.implied]
    forms_a = dict(zip(a.words, zip(a.stems, a.raws, strict=True), strict=True))
    forms_b = dict(zip(b.words, zip(b.stems, b.raws, strict=True), strict=True))
    for word in list(only_a):
        twin = next((other for other in only_b if _slip(word, other, forms_a[word], forms_b[other])), None)
        if twin is not None:
            only_a.remove(word)
            only_b.remove(twin)
    only_a = _compounds(only_a, only_b, b)
    only_b = _compounds(only_b, only_a, a)
    return only_a, only_b


def _slip(a: str, b: str, forms_a: tuple[str, str], forms_b: tuple[str, str]) -> bool:
    """Two content words one slip apart, as read (thesaurus head or stem), as stemmed, or as written."""
    return typo(a, b) or any(typo(x, y) for x, y in zip(forms_a, forms_b, strict=True))


def _compounds(words: list[str], other_words: list[str], other: Reading) -> list[str]:
    """Drop words the other side wrote as two ("wifi" / "wi fi", "enable" / "turn on"), and
    those two words with them."""
    kept = []
    for word in words:
        parts = other.joined.get(word)
        if parts is None:
            kept.append(word)
            continue
        for part in parts:
            if part in other_words:
                other_words.remove(part)
    return kept


def opposed(only_a: list[str], only_b: list[str]) -> bool:
    """A word and its negated or opposite-prefixed form, one on each side."""
    return any(prefixed_opposites(x, y) for x in only_a for y in only_b)


def opposed_particles(a: Reading, b: Reading) -> bool:
    """One prompt has more of a particle, the other more of its opposite ("turn on ... on my
    phone" against "turn off ... on my phone": on 2-1, off 0-1)."""
    more_a = {p for p, n in a.particles.items() if n > b.particles.get(p, 0)}
    more_b = {p for p, n in b.particles.items() if n > a.particles.get(p, 0)}
    return any((x in more_a and y in more_b) or (y in more_a and x in more_b) for x, y in OPPOSED_PARTICLES)


def swapped_direction(a: Reading, b: Reading) -> bool:
    """Both prompts name a source (or a target), the names appear in both, and they differ."""
    if any(word in b.roles and b.roles[word] != role for word, role in a.roles.items()):
        return True
    for role in ("source", "target"):
        in_a = {word for word, r in a.roles.items() if r == role}
        in_b = {word for word, r in b.roles.items() if r == role}
        if in_a and in_b and in_a != in_b and all(w in a.words and w in b.words for w in in_a | in_b):
            return True
    return False
