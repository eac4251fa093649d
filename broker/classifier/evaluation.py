"""Scoring a tier classifier on a labelled prompt set: accuracy per tier, and what its routing costs.

Pure: labelled rows and predictions in, figures out. The cost of a routed mix prices
each prompt on its tier's first candidate (every model healthy) with its input tokens and
its labelled expected output length, against every prompt on the reference model
(``config.reference_model()``: always the top tier).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from broker.pricing import cost_at
from schemas.chat import Tier
from schemas.config import BrokerConfig

TIERS: tuple[Tier, ...] = ("simple", "standard", "complex")


@dataclass(frozen=True)
class Labelled:
    prompt: str
    tier: Tier
    output_tokens: int


def accuracy_by_tier(rows: Sequence[Labelled], predicted: Sequence[Tier]) -> dict[str, float]:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for row, guess in zip(rows, predicted, strict=True):
        totals[row.tier] += 1
        hits[row.tier] += int(guess == row.tier)
    out: dict[str, float] = {tier: round(hits[tier] / totals[tier], 4) for tier in TIERS if totals[tier]}
    out["overall"] = round(sum(hits.values()) / max(1, len(rows)), 4)
    return out


def confusion(rows: Sequence[Labelled], predicted: Sequence[Tier]) -> dict[str, dict[str, int]]:
    """true tier -> predicted tier -> count."""
    table: dict[str, dict[str, int]] = {tier: dict.fromkeys(TIERS, 0) for tier in TIERS}
    for row, guess in zip(rows, predicted, strict=True):
        table[row.tier][guess] += 1
    return table


def under_tiered(rows: Sequence[Labelled], predicted: Sequence[Tier]) -> float:
    """Share of prompts sent to a tier below their label: the quality risk of routing."""
    below = sum(1 for row, guess in zip(rows, predicted, strict=True) if TIERS.index(guess) < TIERS.index(row.tier))
    return round(below / max(1, len(rows)), 4)


def mix_cost_usd(
    rows: Sequence[Labelled],
    tiers: Sequence[Tier],
    config: BrokerConfig,
    input_tokens: Callable[[str, str], int],
    tier_model: Mapping[Tier, str] | None = None,
) -> float:
    """Dollars for every prompt on its tier's first candidate (or ``tier_model``)."""
    total = 0.0
    for row, tier in zip(rows, tiers, strict=True):
        model = (tier_model or {}).get(tier) or config.tier_candidates(tier)[0]
        total += cost_at(config.models[model].price, time.time(), input_tokens(row.prompt, model), row.output_tokens)
    return total


def reference_cost_usd(
    rows: Sequence[Labelled], config: BrokerConfig, input_tokens: Callable[[str, str], int]
) -> float:
    reference = config.reference_model()
    assert reference is not None
    price = config.models[reference].price
    now = time.time()
    return sum(cost_at(price, now, input_tokens(row.prompt, reference), row.output_tokens) for row in rows)


def weighted_cost_pct(
    rows: Sequence[Labelled],
    tiers: Sequence[Tier],
    config: BrokerConfig,
    input_tokens: Callable[[str, str], int],
    weights: Mapping[Tier, float],
    tier_model: Mapping[Tier, str] | None = None,
) -> float:
    """Routed cost as a percentage of the reference for a traffic mix other than the set's:
    each true tier's mean routed and reference cost, weighted by its share of traffic."""
    reference = config.reference_model()
    assert reference is not None
    routed_total = reference_total = 0.0
    for tier, weight in weights.items():
        picked = [(row, guess) for row, guess in zip(rows, tiers, strict=True) if row.tier == tier]
        if not picked:
            continue
        group = [row for row, _ in picked]
        routed = mix_cost_usd(group, [guess for _, guess in picked], config, input_tokens, tier_model)
        routed_total += weight * routed / len(picked)
        reference_total += weight * reference_cost_usd(group, config, input_tokens) / len(picked)
    return round(100 * routed_total / reference_total, 2)
