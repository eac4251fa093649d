"""Price math: dollars from tokens. Pure, so ledger, budgets and reports agree to the cent.

Prices change: a model's ``price_history`` lists list prices with the date they apply
from (00:00 UTC). ``rates_at`` picks the one in force at a moment, and every cost the
broker records is computed with the rates in force when the job finished.
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.config import BrokerConfig, Price

PER = 1_000_000
TIER_ORDER = ("simple", "standard", "complex")  # cheapest quality first


def rates_at(price: Price, when: float) -> Price:
    """The rates in force at ``when`` (epoch seconds): the latest change dated on or before
    that day, else the base rates. The answer carries no history of its own."""
    day = datetime.fromtimestamp(when, UTC).date()
    chosen = Price(input=price.input, output=price.output, cached_input=price.cached_input)
    for change in price.price_history:
        if change.effective_from > day:
            break
        chosen = Price(input=change.input, output=change.output, cached_input=change.cached_input)
    return chosen


def cost_usd(price: Price, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
    """Cached input tokens are billed at the cached rate (or the input rate if none is set).
    ``price`` is taken as is: pass ``rates_at(price, when)`` for a dated price."""
    cached = min(cached_tokens, input_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    dollars = ((input_tokens - cached) * price.input + cached * cached_rate + output_tokens * price.output) / PER
    return round(dollars, 10)


def cost_at(price: Price, when: float, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
    """What a job that finished at ``when`` costs."""
    return cost_usd(rates_at(price, when), input_tokens, output_tokens, cached_tokens)


def reference_tier(requested: str | None) -> str | None:
    """The tier a routed job is compared with: the one it named, the top tier for ``auto``,
    none for a job that named a model (it was not routed)."""
    if requested is None:
        return None
    return TIER_ORDER[-1] if requested == "auto" else requested


def routing_saved_usd(
    config: BrokerConfig,
    requested_tier: str | None,
    model: str,
    when: float,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
) -> float:
    """Dollars saved against running the same usage on the reference tier's most expensive
    model ("the tier's top model"), at the prices in force at ``when``; never negative.

    Kept a small pure function so the router can report the same figure it optimises.
    """
    tier = reference_tier(requested_tier)
    if tier is None or model not in config.models:
        return 0.0
    candidates = config.tier_candidates(tier)  # type: ignore[arg-type]
    if not candidates:
        return 0.0
    usage = (input_tokens, output_tokens, cached_tokens)
    top = max(cost_at(config.models[name].price, when, *usage) for name in candidates)
    actual = cost_at(config.models[model].price, when, *usage)
    return round(max(0.0, top - actual), 10)


def cheapest_model(config: BrokerConfig, when: float) -> str:
    """The cheapest model of the cheapest tier that any model serves (budget downgrades)."""
    for tier in TIER_ORDER:
        candidates = config.tier_candidates(tier)  # type: ignore[arg-type]
        if candidates:
            return min(candidates, key=lambda name: _list_price(config, name, when))
    return min(config.models, key=lambda name: _list_price(config, name, when))


def _list_price(config: BrokerConfig, name: str, when: float) -> tuple[float, str]:
    rates = rates_at(config.models[name].price, when)
    return (rates.input + rates.output, name)
