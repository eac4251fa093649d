"""Price math: dollars from tokens. Pure, so ledger, budgets and reports agree to the cent."""

from __future__ import annotations

from schemas.config import Price

PER = 1_000_000


def cost_usd(price: Price, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
    """Cached input tokens are billed at the cached rate (or the input rate if none is set)."""
    cached = min(cached_tokens, input_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    dollars = ((input_tokens - cached) * price.input + cached * cached_rate + output_tokens * price.output) / PER
    return round(dollars, 10)
