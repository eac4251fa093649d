"""Counters bumped when a job finishes: the month's spend per team (and feature) and the
all-time stats behind ``/metrics``. Pure: values in, increments out.

Money is counted in integer nano-dollars so Redis adds exactly (HINCRBY) and any number
of workers agree with the ledger to far below a cent. Hash fields are JSON lists so team,
feature and model names may hold any character.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.usage import UsageRecord

NANO = 1_000_000_000
SPEND_KEY_INDEX = 4  # KEYS[4] of finish.lua
STATS_KEY_INDEX = 5  # KEYS[5] of finish.lua

# admission wait histogram buckets, seconds (Prometheus ``le`` labels)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


def month_of(timestamp: float) -> str:
    """The budget and ledger period of a moment: its UTC calendar month, ``YYYY-MM``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m")


def to_nano(usd: float) -> int:
    return round(usd * NANO)


def from_nano(nano: int | str | bytes) -> float:
    return int(nano) / NANO


def spend_field(team: str, feature: str | None = None) -> str:
    """The field of a team's (or a team's feature's) spend, budget override and state."""
    return json.dumps([team] if feature is None else [team, feature])


def parse_scope(field_name: str | bytes) -> tuple[str, str | None]:
    parts = json.loads(field_name)
    return parts[0], (parts[1] if len(parts) > 1 else None)


def stats_field(*parts: str) -> str:
    return json.dumps(list(parts))


@dataclass(frozen=True)
class Counters:
    """Increments for finish.lua: into the month's spend hash and the all-time stats hash."""

    month: str
    bumps: list[tuple[int, str, int]] = field(default_factory=list)

    def as_json(self) -> str:
        return json.dumps([[index, name, str(value)] for index, name, value in self.bumps])


def finish_counters(usage: UsageRecord) -> Counters:
    """What one finished job adds: its cost to its team and feature this month; its count,
    tokens, cost and savings to the all-time stats (zero increments are left out)."""
    cost = to_nano(usage.cost_usd)
    provider = usage.provider or ""
    model = usage.model or ""
    bumps: list[tuple[int, str, int]] = []
    if cost:
        bumps.append((SPEND_KEY_INDEX, spend_field(usage.team), cost))
        bumps.append((SPEND_KEY_INDEX, spend_field(usage.team, usage.feature), cost))
    labels = (usage.team, provider, model)
    stats = {
        stats_field("jobs", *labels, usage.state): 1,
        stats_field("input_tokens", *labels): usage.input_tokens,
        stats_field("output_tokens", *labels): usage.output_tokens,
        stats_field("cached_tokens", *labels): usage.cached_tokens,
        stats_field("cost_nusd", *labels): cost,
        stats_field("cache_hits", *labels): int(usage.cache_hit),
        stats_field("cache_saved_nusd", *labels): to_nano(usage.saved_usd),
        stats_field("routing_saved_nusd", *labels): to_nano(usage.routing_saved_usd),
    }
    bumps += [(STATS_KEY_INDEX, name, value) for name, value in stats.items() if value]
    return Counters(month_of(usage.finished_at), bumps)


def provider_error_field(provider: str, model: str, status: int | None) -> str:
    return stats_field("provider_errors", provider, model, str(status) if status is not None else "connection")


def admission_wait_fields(team: str, wait_s: float) -> dict[str, int]:
    """Histogram increments for one job's wait from submission to its worker claiming it:
    cumulative buckets as Prometheus wants them, plus count and sum (in milliseconds)."""
    bumps = {stats_field("admission_wait_bucket", team, str(le)): 1 for le in WAIT_BUCKETS if wait_s <= le}
    bumps[stats_field("admission_wait_count", team)] = 1
    bumps[stats_field("admission_wait_sum_ms", team)] = max(0, round(wait_s * 1000))
    return bumps
