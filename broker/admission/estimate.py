"""How long admission would make a new job wait, for the synchronous chat-completions facade
(answer 429 with ``Retry-After`` rather than hold the caller past ``api.max_admission_wait_s``).

An estimate, not a promise: the jobs already queued ahead of the new one in its team's queue
are assumed to cost what it costs, and other teams' share of model buckets is what the
buckets show now. ``estimate_wait_s`` is pure; ``admission_wait_s`` reads the state it needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from broker import keys
from broker.admission.buckets import BucketState, refill
from broker.admission.limits import job_charges
from broker.jobstore.records import NewJob, queue_score
from schemas.config import BrokerConfig


@dataclass(frozen=True)
class BucketNow:
    level: float  # tokens (or requests) in the bucket now
    rate_per_s: float
    cost: float  # what the new job takes from it


def estimate_wait_s(buckets: Sequence[BucketNow], jobs_ahead: int) -> float:
    """Seconds until every bucket could pay for the jobs ahead and then this one."""
    wait = 0.0
    for bucket in buckets:
        need = bucket.cost * (jobs_ahead + 1) - bucket.level
        if need <= 0:
            continue
        wait = max(wait, math.inf if bucket.rate_per_s <= 0 else need / bucket.rate_per_s)
    return wait


def retry_after_s(wait_s: float, bound_s: float) -> float:
    """When to come back for the wait to fit the bound (at least a second)."""
    return max(1.0, math.ceil(wait_s - bound_s)) if math.isfinite(wait_s) else 3600.0


async def admission_wait_s(redis: Redis, config: BrokerConfig, job: NewJob) -> float:
    model = job.candidates[0]
    charges = job_charges(config, job.team, job.key_id, model, job.candidate_tokens[0], job.request.output_cap())
    score = queue_score(job.request.priority, job.created_at)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.time()
        pipe.zcount(keys.team_queue(job.team), "-inf", score)
        for charge in charges:
            pipe.hmget(charge.key, "l", "t")
        answers = await pipe.execute()
    (seconds, micros), ahead, *states = answers
    now_ms = seconds * 1000 + micros / 1000
    buckets = []
    for charge, (level, at) in zip(charges, states, strict=True):
        state = BucketState(float(level), float(at)) if level is not None else None
        current = refill(state, now_ms, charge.capacity, charge.rate)
        buckets.append(BucketNow(current.level, charge.rate * 1000, charge.cost))
    return estimate_wait_s(buckets, int(ahead))
