"""Batch records in Redis: create, read, move between statuses, create their jobs in bulk."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from broker import keys
from broker.auth import Principal
from broker.batches.view import batch_object, counter_fields, counts_from
from broker.errors import NotFound
from broker.jobstore.lua import register
from broker.jobstore.records import NewJob, decode_hash
from broker.redis_clients import as_texts
from schemas.batch import BatchCreate, BatchObject, BatchStatus

PACKAGE = "broker.batches"


def new_batch_id() -> str:
    return "batch_" + secrets.token_hex(12)


class BatchStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._transition = register(redis, PACKAGE, "transition")
        self._create_jobs = register(redis, PACKAGE, "create_jobs")

    async def create(
        self, principal: Principal, body: BatchCreate, window_s: float, now: float, lease_s: float, digest: str
    ) -> str:
        """A new batch, ``validating`` under a lease: if its creator dies before the jobs are all
        created, the keeper takes it over when the lease lapses."""
        batch_id = new_batch_id()
        fields: dict[str, str | float | int] = {
            "id": batch_id,
            "team": principal.team,
            "user": principal.user,
            "key_id": principal.key_id,
            "status": BatchStatus.VALIDATING.value,
            "endpoint": body.endpoint,
            "input_file_id": body.input_file_id,
            "completion_window": body.completion_window,
            "window_s": window_s,
            "created_at": now,
            "metadata": json.dumps(body.metadata) if body.metadata else "",
            "callback_url": body.callback_url or "",
            "validating_until": now + lease_s,
            "digest": digest,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.batch(batch_id), mapping=dict[Any, Any](fields))
            pipe.zadd(keys.team_batches(principal.team), {batch_id: now})
            pipe.zadd(keys.BATCHES_DUE, {batch_id: int((now + lease_s) * 1000)})
            await pipe.execute()
        return batch_id

    async def raw(self, batch_id: str) -> dict[str, str]:
        return decode_hash(await self.redis.hgetall(keys.batch(batch_id)))

    async def fields(self, batch_id: str, team: str) -> dict[str, str]:
        fields = await self.raw(batch_id)
        if not fields or fields.get("team") != team:
            raise NotFound(f"no batch {batch_id!r}", param="batch_id")
        return fields

    async def counts(self, batch_id: str) -> dict[str, float]:
        return counts_from(await self.redis.hmget(keys.BATCH_COUNTS, counter_fields(batch_id)))

    async def view(self, fields: dict[str, str]) -> BatchObject:
        return batch_object(fields, {} if fields.get("final_counts") else await self.counts(fields["id"]))

    async def get(self, batch_id: str, team: str) -> BatchObject:
        return await self.view(await self.fields(batch_id, team))

    async def list(self, team: str, after: str | None, limit: int) -> tuple[list[BatchObject], bool]:
        """Newest first, ``limit`` after the batch ``after`` (OpenAI's cursor pagination)."""
        key = keys.team_batches(team)
        start = 0
        if after:
            rank: Any = await self.redis.zrevrank(key, after)
            start = 0 if rank is None else rank + 1
        ids = as_texts(await self.redis.zrevrange(key, start, start + limit))
        views = []
        for batch_id in ids[:limit]:
            fields = await self.raw(batch_id)
            if fields:
                views.append(await self.view(fields))
        return views, len(ids) > limit

    async def transition(
        self, batch_id: str, allowed: Sequence[BatchStatus], to: BatchStatus, **fields: object
    ) -> bool:
        flat: list[str] = []
        for name, value in fields.items():
            flat.extend([name, str(value)])
        moved = await self._transition(
            keys=[keys.batch(batch_id)], args=[",".join(s.value for s in allowed), to.value, *flat]
        )
        return bool(moved)

    async def set_fields(self, batch_id: str, **fields: object) -> None:
        await self.redis.hset(keys.batch(batch_id), mapping={k: str(v) for k, v in fields.items()})

    async def due(self, batch_id: str, at: float) -> None:
        """Ask the keeper to look at the batch at ``at`` (seconds since the epoch)."""
        await self.redis.zadd(keys.BATCHES_DUE, {batch_id: int(at * 1000)})

    async def create_jobs(
        self, team: str, jobs: Sequence[NewJob], cached: Callable[[NewJob], bool] = lambda _: False
    ) -> tuple[int, Sequence[str]]:
        """Store and enqueue jobs that do not exist yet, in one atomic step; jobs for which
        ``cached`` holds wait for a cache lookup instead. Returns (created, ids to look up)."""
        if not jobs:
            return 0, []
        args: list[str] = [keys.SCHEDULER_WAKE, team]
        for job in jobs:
            fields = job.fields()
            args.extend(
                [
                    json.dumps({k: str(v) for k, v in fields.items()}),
                    str(fields["queue_score"]),
                    "cache" if cached(job) else "",
                ]
            )
        answer = await self._create_jobs(
            keys=[keys.team_queue(team), keys.ACTIVE_TEAMS, keys.CACHE_PENDING, *(keys.job(job.id) for job in jobs)],
            args=args,
        )
        created, *lookups = answer
        return int(created), [i.decode() if isinstance(i, bytes) else str(i) for i in lookups]
