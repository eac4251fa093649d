"""The breaker in Redis (``record.lua``, ``probe.lua``) and its pure twin agree, event by event.

Random histories of successes, failures, rate limits and probe claims are replayed through
the real scripts on a real Redis, with the clock passed in, and through
``broker.health.breaker``; the records must match after every step.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from redis.asyncio import Redis

from broker.health.breaker import HEALTHY, claim_probe, on_failure, on_rate_limited, on_success
from broker.health.store import HealthStore
from broker.settings import parse_config
from scripts.embedded_redis import EmbeddedRedis
from tests.conftest import broker_config

pytestmark = pytest.mark.integration

CONFIG = parse_config(
    broker_config(health={"failure_threshold": 3, "open_s": 1.0, "max_open_s": 5.0, "probe_timeout_s": 0.4}), {}
)


def test_lua_and_python_breakers_agree_on_random_histories(redis_server: EmbeddedRedis) -> None:
    async def run() -> None:
        redis = Redis.from_url(redis_server.url)
        store = HealthStore(redis, CONFIG)
        policy = store.policy
        rng = random.Random(4)
        for history in range(40):
            model = f"model-{history}"
            twin = HEALTHY
            now = 1_700_000_000_000.0 + rng.randint(0, 10_000)
            for _ in range(60):
                now += rng.choice([0, 1, 50, 300, 900, 2_500])
                event = rng.choice(["ok", "fail", "fail", "fail", "rate_limited", "probe"])
                if event == "ok":
                    latency = rng.uniform(10, 3_000)
                    stored = await store.record_success(model, latency, now)
                    twin = on_success(twin, now, latency, policy)
                elif event == "fail":
                    stored = await store.record_failure(model, now)
                    twin = on_failure(twin, now, policy)
                elif event == "rate_limited":
                    wait = rng.uniform(0, 3_000)
                    stored = await store.record_rate_limited(model, wait, now)
                    twin = on_rate_limited(twin, now, wait)
                else:
                    allowed = await store.claim_probe(model, now)
                    twin_allowed, twin = claim_probe(twin, now, policy)
                    assert allowed == twin_allowed, (history, now)
                    stored = await store.read(model)
                assert stored.failures == twin.failures
                assert stored.opened_at_ms == pytest.approx(twin.opened_at_ms)
                assert stored.open_ms == pytest.approx(twin.open_ms)
                assert stored.probe_until_ms == pytest.approx(twin.probe_until_ms)
                assert stored.cooldown_until_ms == pytest.approx(twin.cooldown_until_ms)
                if twin.ewma_ms is None:
                    assert stored.ewma_ms is None
                else:
                    assert stored.ewma_ms == pytest.approx(twin.ewma_ms, rel=1e-12)
        snapshot = await store.snapshot()
        assert set(snapshot) == set(CONFIG.models)  # every configured model, healthy when never seen
        await redis.aclose()

    asyncio.run(run())
