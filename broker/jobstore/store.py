"""The job store as callers see it: create (with idempotency), read, cancel, wait."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from broker import keys
from broker.errors import Conflict, NotFound
from broker.jobstore.lifecycle import HOOKED, final_hook_keys, reservation_keys
from broker.jobstore.lua import register
from broker.jobstore.records import JOB_TTL_S, NewJob, decode_hash

IDEMPOTENCY_TTL_S = 24 * 3600


class JobStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._cancel = register(redis, "broker.jobstore", "cancel", prelude=HOOKED)

    async def create(
        self, job: NewJob, idempotency_key: str | None = None, *, cache_lookup: bool = False
    ) -> tuple[str, bool]:
        """Store and enqueue a job; returns (job id, created). A repeated idempotency key
        returns the first job instead of creating a second. With ``cache_lookup`` the job
        waits in the cache stage instead of its team queue (``broker.jobstore.cache_stage``);
        the caller then sends the lookup."""
        if idempotency_key is not None:
            idem = keys.idempotency(job.team, idempotency_key)
            if not await self.redis.set(idem, job.id, nx=True, ex=IDEMPOTENCY_TTL_S):
                existing = await self.redis.get(idem)
                return (existing.decode() if isinstance(existing, bytes) else str(existing)), False
        fields: dict[Any, Any] = job.fields()
        if cache_lookup:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(keys.job(job.id), mapping={**fields, "stage": "cache"})
                pipe.zadd(keys.CACHE_PENDING, {job.id: int(job.created_at * 1000)})
                await pipe.execute()
            return job.id, True
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.job(job.id), mapping=fields)
            pipe.zadd(keys.team_queue(job.team), {job.id: fields["queue_score"]})
            pipe.sadd(keys.ACTIVE_TEAMS, job.team)
            pipe.publish(keys.SCHEDULER_WAKE, "1")
            await pipe.execute()
        return job.id, True

    async def fields(self, job_id: str, team: str) -> dict[str, str]:
        """A job's record; another team's job is reported missing, never forbidden, so ids leak nothing."""
        raw = await self.redis.hgetall(keys.job(job_id))
        fields = decode_hash(raw)
        if not fields or fields.get("team") != team:
            raise NotFound(f"no job {job_id!r}", param="job_id")
        return fields

    async def state(self, job_id: str) -> str | None:
        """Just the state: what a waiter re-reads on every wake-up, cheaper than the record."""
        raw = await self.redis.hget(keys.job(job_id), "state")
        return raw.decode() if isinstance(raw, bytes) else raw

    async def cancel(self, job_id: str, team: str) -> None:
        outcome = await self.cancel_unstarted(job_id, team)
        if outcome == "missing":
            raise NotFound(f"no job {job_id!r}", param="job_id")
        if outcome != "cancelled":
            raise Conflict(f"job {job_id} is {outcome} and can no longer be cancelled")

    async def cancel_unstarted(self, job_id: str, team: str, reason: str = "") -> str:
        """Cancel a job no worker has started; returns 'cancelled', 'missing' or the state that
        forbids it. ``reason`` becomes the job's error (default: cancelled by the caller)."""
        outcome = "retry"
        while outcome == "retry":  # admitted between our read and the script: read again
            fields = await self.fields(job_id, team)
            held = reservation_keys(fields.get("reservation"))
            hook_keys, base = final_hook_keys(5 + len(held))
            outcome = await self._cancel(
                keys=[
                    keys.job(job_id),
                    keys.team_queue(team),
                    keys.DISPATCHED,
                    keys.ACTIVE_TEAMS,
                    *held,
                    *hook_keys,
                ],
                args=[job_id, team, keys.JOBS_DONE_CHANNEL, JOB_TTL_S, base, reason],
            )
            outcome = outcome.decode() if isinstance(outcome, bytes) else outcome
        return str(outcome)
