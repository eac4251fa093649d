"""What routing saved on one job: its cost on the reference model minus its real cost.

The reference is the model a caller would pick without a router (``routing.reference_model``,
default the complex tier's first model). Only jobs that named a tier (or ``auto``) were
routed, so only they are credited; the same token counts are priced on both models (a
different tokenizer would count a little differently: close enough for showback).
Kept minimal on purpose: a price-at-time function from the ledger can replace
``cost_usd`` here without changing callers.
"""

from __future__ import annotations

from broker.pricing import cost_usd
from schemas.config import BrokerConfig


def routing_saved_usd(
    config: BrokerConfig, tier: str | None, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0
) -> float:
    reference = config.reference_model()
    if tier is None or reference is None or model not in config.models:
        return 0.0
    real = cost_usd(config.models[model].price, input_tokens, output_tokens, cached_tokens)
    baseline = cost_usd(config.models[reference].price, input_tokens, output_tokens, cached_tokens)
    return round(max(0.0, baseline - real), 10)
