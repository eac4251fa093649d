"""Numbers in prompts, normalised so that "£1,000", "1000 pounds" and "a thousand pounds"
agree and "7am" and "7pm" do not. Pure."""

from __future__ import annotations

import re

from broker.cache.lexicon import CURRENCY_WORDS, MULTIPLIERS, NUMBER_WORDS, UNITS

_NUMBER = re.compile(r"^([£$€]?)(\d[\d,]*(?:[.:]\d+)*)(st|nd|rd|th|am|pm|k|m|bn)?([A-Za-z%]*)$", re.IGNORECASE)
_SCALE = {"k": 1_000, "m": 1_000_000, "bn": 1_000_000_000}


def number_value(token: str) -> str | None:
    """The number a numeric token names (currency symbol kept), or None for a code ("2FA")."""
    match = _NUMBER.match(token)
    if not match:
        return None
    currency, digits, suffix, unit = match.group(1), match.group(2).replace(",", ""), match.group(3), match.group(4)
    suffix = (suffix or "").lower()
    if suffix in ("am", "pm"):
        return digits + suffix
    if suffix in _SCALE and not unit:
        return currency + _format(float(digits) * _SCALE[suffix]) if _is_float(digits) else None
    if suffix in ("st", "nd", "rd", "th") or not unit or unit.lower() in UNITS:
        return currency + (_format(float(digits)) if _is_float(digits) else digits)
    return None


def with_currency(value: str, word: str) -> str | None:
    """``50`` followed by ``pounds`` is ``£50``; None when the word names no currency."""
    symbol = CURRENCY_WORDS.get(word)
    if symbol is None or value[:1] in "£$€":
        return None
    return symbol + value


def combine(pending: list[int], word: str) -> list[int]:
    """Fold number words as they come: "twenty five" -> 25, "three hundred" -> 300."""
    if word in MULTIPLIERS:
        return [*pending[:-1], pending[-1] * MULTIPLIERS[word]] if pending else [MULTIPLIERS[word]]
    value = NUMBER_WORDS[word]
    if pending and pending[-1] % 10 == 0 and 20 <= pending[-1] < 100 and value < 10:
        return [*pending[:-1], pending[-1] + value]
    return [*pending, value]


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _format(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)
