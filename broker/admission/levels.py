"""Read bucket levels and queue depths for people (``GET /v1/limits``, the CLI, dashboards)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from broker import keys
from broker.admission.buckets import BucketState, refill
from broker.admission.limits import MS_PER_MINUTE, Charge, model_charges, team_charges
from schemas.config import BrokerConfig


def _visible_charges(config: BrokerConfig, team: str, key_id: str) -> list[Charge]:
    """The buckets of the team, the caller's key and every model (costs unused)."""
    charges = team_charges(config, team, key_id, 0, 0)
    for model in config.models:
        charges.extend(model_charges(config, model, 0, 0))
    return charges


async def bucket_levels(redis: Redis, config: BrokerConfig, team: str, key_id: str) -> list[dict[str, Any]]:
    rows = _visible_charges(config, team, key_id)
    seconds, micros = await redis.time()
    now_ms = seconds * 1000 + micros / 1000
    async with redis.pipeline(transaction=False) as pipe:
        for charge in rows:
            pipe.hmget(charge.key, "l", "t")
        states = await pipe.execute()
    out = []
    for charge, (level, at) in zip(rows, states, strict=True):
        state = BucketState(float(level), float(at)) if level is not None else None
        current = refill(state, now_ms, charge.capacity, charge.rate)
        out.append(
            {
                "scope": charge.scope,
                "name": charge.name,
                "axis": charge.axis,
                "capacity": charge.capacity,
                "level": round(current.level, 3),
                "refill_per_minute": round(charge.rate * MS_PER_MINUTE, 3),
            }
        )
    return out


async def queue_depths(redis: Redis, teams: list[str]) -> dict[str, int]:
    async with redis.pipeline(transaction=False) as pipe:
        for team in teams:
            pipe.zcard(keys.team_queue(team))
        counts = await pipe.execute()
    return dict(zip(teams, (int(c) for c in counts), strict=True))
