"""Provider-model health in Redis: record call outcomes, claim half-open probes, read snapshots.

Every worker records outcomes (one ``record.lua`` call each), and every router (API at
submit, scheduler at admission) reads a snapshot of all models, cached in-process for
``health.snapshot_ttl_s`` so routing stays one dictionary lookup per candidate.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Mapping

from redis.asyncio import Redis

from broker import keys
from broker.health.breaker import BreakerPolicy, ModelHealth
from broker.jobstore.lua import register
from broker.jobstore.records import decode_hash, pairs_to_dict
from schemas.config import BrokerConfig, HealthConfig

Snapshot = Mapping[str, ModelHealth]


def breaker_policy(config: HealthConfig) -> BreakerPolicy:
    return BreakerPolicy(
        failure_threshold=config.failure_threshold,
        open_ms=config.open_s * 1000,
        max_open_ms=config.max_open_s * 1000,
        probe_ms=config.probe_timeout_s * 1000,
        ewma_alpha=config.ewma_alpha,
    )


def parse_health(fields: Mapping[str, str]) -> ModelHealth:
    """A health hash as read from Redis; a missing hash is a healthy model."""

    def number(name: str) -> float:
        value = fields.get(name)
        return float(value) if value else 0.0

    return ModelHealth(
        failures=int(number("failures")),
        opened_at_ms=number("opened_at_ms"),
        open_ms=number("open_ms"),
        probe_until_ms=number("probe_until_ms"),
        cooldown_until_ms=number("cooldown_until_ms"),
        ewma_ms=float(fields["ewma_ms"]) if fields.get("ewma_ms") else None,
        sampled_at_ms=number("sampled_at_ms"),
    )


def _now(now_ms: float | None) -> str:
    return "" if now_ms is None else repr(float(now_ms))


class HealthStore:
    def __init__(self, redis: Redis, config: BrokerConfig) -> None:
        self.redis = redis
        self.models = list(config.models)
        self.policy = breaker_policy(config.health)
        self._record = register(redis, "broker.health", "record")
        self._probe = register(redis, "broker.health", "probe")

    async def _event(self, model: str, event: str, value: float, now_ms: float | None) -> ModelHealth:
        p = self.policy
        flat = await self._record(
            keys=[keys.health(model)],
            args=[event, _now(now_ms), repr(float(value)), p.failure_threshold, p.open_ms, p.max_open_ms, p.ewma_alpha],
        )
        return parse_health(pairs_to_dict(flat))

    async def record_success(self, model: str, latency_ms: float, now_ms: float | None = None) -> ModelHealth:
        return await self._event(model, "ok", latency_ms, now_ms)

    async def record_failure(self, model: str, now_ms: float | None = None) -> ModelHealth:
        return await self._event(model, "fail", 0.0, now_ms)

    async def record_rate_limited(self, model: str, retry_after_ms: float, now_ms: float | None = None) -> ModelHealth:
        return await self._event(model, "rate_limited", retry_after_ms, now_ms)

    async def claim_probe(self, model: str, now_ms: float | None = None) -> bool:
        return bool(await self._probe(keys=[keys.health(model)], args=[_now(now_ms), self.policy.probe_ms]))

    async def read(self, model: str) -> ModelHealth:
        return parse_health(decode_hash(await self.redis.hgetall(keys.health(model))))  # type: ignore[arg-type]

    async def snapshot(self) -> dict[str, ModelHealth]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for model in self.models:
                pipe.hgetall(keys.health(model))
            rows = await pipe.execute()
        return {model: parse_health(decode_hash(row)) for model, row in zip(self.models, rows, strict=True)}


class HealthCache:
    """The last snapshot, reread when older than ``ttl_s`` (monotonic clock). One reread at a
    time: a thousand requests arriving as the snapshot expires share a single Redis read."""

    def __init__(self, store: HealthStore, ttl_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._snapshot: dict[str, ModelHealth] = {}
        self._read_at = float("-inf")
        self._reading: asyncio.Future[dict[str, ModelHealth]] | None = None

    async def get(self) -> dict[str, ModelHealth]:
        if time.monotonic() - self._read_at < self.ttl_s:
            return self._snapshot
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._reread())
        return await asyncio.shield(self._reading)

    async def _reread(self) -> dict[str, ModelHealth]:
        try:
            self._snapshot = await self.store.snapshot()
            self._read_at = time.monotonic()
            return self._snapshot
        finally:
            self._reading = None

    def note(self, model: str, health: ModelHealth) -> None:
        """Fold in a record this process has just written or learnt (e.g. a probe claimed)."""
        self._snapshot = {**self._snapshot, model: health}


_shared: weakref.WeakKeyDictionary[Redis, HealthCache] = weakref.WeakKeyDictionary()


def shared_health_cache(redis: Redis, config: BrokerConfig) -> HealthCache:
    """One cache per Redis client in a process (the API's routers share it)."""
    cache = _shared.get(redis)
    if cache is None:
        cache = _shared[redis] = HealthCache(HealthStore(redis, config), config.health.snapshot_ttl_s)
    return cache
