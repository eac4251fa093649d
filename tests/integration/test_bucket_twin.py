"""The Lua bucket arithmetic in Redis and its pure Python twin agree, decision by decision.

Random admissions and settlements are replayed through the real scripts (``admit.lua``,
``finish.lua``, ``requeue.lua``) on a real Redis, with the clock passed in, and through
``broker.admission.buckets``; every decision, wait and bucket level must match.
"""

from __future__ import annotations

import asyncio
import json
import math
import random

import pytest
from redis.asyncio import Redis

from broker import keys
from broker.admission.buckets import BucketState, Draw, adjust, try_reserve
from broker.admission.limits import job_charges
from broker.jobstore.lifecycle import JobLifecycle, QueuedJob
from broker.jobstore.records import new_job_id, queue_score
from broker.settings import parse_config
from schemas.job import Attempt
from schemas.usage import UsageRecord
from scripts.embedded_redis import EmbeddedRedis
from tests.conftest import broker_config

pytestmark = pytest.mark.integration


def limited_config():  # team and model limits with small, odd numbers to exercise rounding
    return parse_config(
        broker_config(
            teams={"alpha": {"limits": {"input_tpm": 7000, "output_tpm": 3000, "output_burst": 4500}}},
            models={"gpt-4o-mini": {"limits": {"input_tpm": 9001, "rpm": 50}}},
        ),
        {},
    )


async def make_queued(redis: Redis, team: str, now: float) -> str:
    job_id = new_job_id(now / 1000)
    await redis.hset(
        keys.job(job_id),
        mapping={
            "id": job_id,
            "team": team,
            "state": "queued",
            "attempt": 0,
            "cursor": 0,
            "n_candidates": 1,
            "attempts": "[]",
            "queue_score": queue_score(0, now / 1000),
        },
    )
    await redis.zadd(keys.team_queue(team), {job_id: queue_score(0, now / 1000)})
    return job_id


async def replay(redis_url: str, seed: int) -> int:
    rng = random.Random(seed)
    config = limited_config()
    redis = Redis.from_url(redis_url)
    life = JobLifecycle(redis)
    model_states: dict[str, BucketState | None] = {}
    running: list[tuple[str, int, str, list]] = []
    now = 1_700_000_000_000.0
    decisions = 0
    for _ in range(250):
        now += rng.choice([0, 1, 7, 50, 400, 3000, 20_000])
        if running and rng.random() < 0.4:
            job_id, attempt, reservation, charges = running.pop(rng.randrange(len(running)))
            await redis.hset(keys.job(job_id), mapping={"state": "running"})
            if rng.random() < 0.7:
                used_in, used_out = rng.randint(0, 400), rng.randint(0, 900)
                await life.finish(
                    job_id,
                    attempt,
                    UsageRecord(
                        job_id=job_id,
                        attempt=attempt,
                        team="alpha",
                        user="u",
                        key_id="k",
                        feature="default",
                        provider="p",
                        model="m",
                        state="succeeded",
                        created_at=now / 1000,
                        finished_at=now / 1000,
                    ),
                    Attempt(number=attempt, provider="p", model="m"),
                    reservation=reservation,
                    used=(used_in, used_out),
                    now_ms=now,
                )
                for c in charges:
                    delta = {"in": c.cost - used_in, "out": c.cost - used_out, "req": 0}[c.axis]
                    if delta:
                        model_states[c.key] = adjust(model_states.get(c.key), now, c.capacity, c.rate, delta)
            else:
                await redis.hset(keys.job(job_id), mapping={"n_candidates": 5})
                await life.requeue(
                    job_id,
                    "alpha",
                    attempt,
                    Attempt(number=attempt, provider="p", model="m"),
                    reservation=reservation,
                    advance=True,
                    now_ms=now,
                )
                await redis.zrem(keys.team_queue("alpha"), job_id)
                for c in charges:
                    model_states[c.key] = adjust(model_states.get(c.key), now, c.capacity, c.rate, c.cost)
        else:
            job_id = await make_queued(redis, "alpha", now)
            job = QueuedJob(job_id, "alpha", "key_1", "gpt-4o-mini", rng.randint(1, 3000), rng.randint(1, 2500))
            charges = job_charges(config, "alpha", "key_1", job.model, job.input_tokens, job.max_tokens)
            ok, states, wait = try_reserve(
                [model_states.get(c.key) for c in charges], [Draw(c.capacity, c.rate, c.cost) for c in charges], now
            )
            attempts, lua_wait = await life.admit("alpha", [(job, "openai", charges)], 30, now_ms=now)
            decisions += 1
            assert (bool(attempts) and attempts[0] > 0) is ok, (seed, now, job, model_states)
            if ok:
                for c, state in zip(charges, states, strict=True):
                    model_states[c.key] = state
                reservation = (await redis.hget(keys.job(job_id), "reservation")).decode()
                assert [e["k"] for e in json.loads(reservation)] == [c.key for c in charges]
                running.append((job_id, attempts[0], reservation, charges))
            else:
                assert lua_wait == math.ceil(wait)
                await redis.zrem(keys.team_queue("alpha"), job_id)
        for key, state in model_states.items():
            raw = await redis.hmget(key, "l", "t")
            if raw[0] is None:  # expired in Redis = full: the model must agree (after refill)
                continue
            level = float(raw[0])
            charge = next(c for c in job_charges(config, "alpha", "key_1", "gpt-4o-mini", 1, 1) if c.key == key)
            assert state is not None
            assert level == pytest.approx(state.level, rel=1e-9, abs=1e-6), (key, now)
            assert level <= charge.capacity
    await redis.aclose()
    return decisions


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lua_and_python_buckets_agree(redis_server: EmbeddedRedis, seed: int) -> None:
    assert asyncio.run(replay(redis_server.url, seed)) > 100
