"""State transitions after submission: admit, claim, renew, finish, requeue, reap.

Each transition is one Lua script, so it is atomic across any number of schedulers and
workers. The Python here only assembles keys and arguments and decodes answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from redis.asyncio import Redis

from broker import keys
from broker.budgets.counters import Counters
from broker.jobstore.lua import register
from broker.jobstore.records import JOB_TTL_S, decode_hash, pairs_to_dict
from schemas.job import Attempt

PACKAGE = "broker.jobstore"


@dataclass(frozen=True)
class QueuedJob:
    """What the scheduler needs to decide on a job at the head of a team queue."""

    id: str
    team: str
    model: str
    input_tokens: int
    max_tokens: int | None


@dataclass(frozen=True)
class Expired:
    job_id: str
    team: str
    attempt: int
    state: str
    provider: str
    model: str


class JobLifecycle:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._admit = register(redis, PACKAGE, "admit")
        self._claim = register(redis, PACKAGE, "claim")
        self._finish = register(redis, PACKAGE, "finish")
        self._requeue = register(redis, PACKAGE, "requeue")

    async def active_teams(self) -> list[str]:
        return sorted(t.decode() if isinstance(t, bytes) else t for t in await self.redis.smembers(keys.ACTIVE_TEAMS))

    async def peek(self, team: str, count: int) -> list[QueuedJob]:
        """The first ``count`` jobs of a team's queue, with what admission needs to know."""
        ids = [i.decode() for i in await self.redis.zrange(keys.team_queue(team), 0, count - 1)]
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(keys.job(job_id), "candidates", "cursor", "input_tokens", "request")
            rows = await pipe.execute()
        jobs = []
        for job_id, (candidates, cursor, input_tokens, request) in zip(ids, rows, strict=True):
            if candidates is None:  # expired or deleted record: drop the dangling queue entry
                await self.redis.zrem(keys.team_queue(team), job_id)
                continue
            model = json.loads(candidates)[int(cursor)]
            max_tokens = json.loads(request).get("max_tokens")
            jobs.append(QueuedJob(job_id, team, model, int(input_tokens), max_tokens))
        return jobs

    async def admit(self, job: QueuedJob, provider: str, claim_timeout_s: float) -> int:
        """Move a queued job to ``admitted``; returns its attempt number, 0 if someone else won."""
        return int(
            await self._admit(
                keys=[keys.team_queue(job.team), keys.DISPATCHED, keys.ACTIVE_TEAMS, keys.job(job.id)],
                args=[job.id, job.team, int(claim_timeout_s * 1000), job.model, provider],
            )
        )

    async def claim(self, items: list[tuple[str, int]], worker: str, lease_s: float) -> list[dict[str, str]]:
        """Claim dispatched jobs; returns the records of those this worker now runs."""
        if not items:
            return []
        claimed = await self._claim(
            keys=[keys.LEASES, keys.DISPATCHED, *(keys.job(job_id) for job_id, _ in items)],
            args=[int(lease_s * 1000), worker, *(attempt for _, attempt in items)],
        )
        return [pairs_to_dict(flat) for flat in claimed]

    async def renew(self, job_ids: list[str], lease_s: float) -> None:
        """Extend the leases of running jobs (XX: never resurrect a lease the reaper took)."""
        if not job_ids:
            return
        seconds, micros = await self.redis.time()
        deadline = seconds * 1000 + micros // 1000 + int(lease_s * 1000)
        await self.redis.zadd(keys.LEASES, dict.fromkeys(job_ids, deadline), xx=True)

    async def finish(
        self,
        job_id: str,
        attempt: int,
        state: str,
        usage_json: str,
        attempt_record: Attempt,
        result_json: str = "",
        error: str = "",
        counters: Counters | None = None,
    ) -> bool:
        """Record the final outcome once; False when this delivery is stale. ``counters``
        (spend and stats increments) are applied in the same atomic step."""
        extra_keys = [keys.spend(counters.month), keys.STATS] if counters else []
        done = await self._finish(
            keys=[keys.job(job_id), keys.LEASES, keys.USAGE_STREAM, *extra_keys],
            args=[
                attempt,
                state,
                result_json,
                usage_json,
                attempt_record.model_dump_json(),
                error,
                keys.JOBS_DONE_CHANNEL,
                job_id,
                JOB_TTL_S,
                counters.as_json() if counters else "",
            ],
        )
        return bool(done)

    async def requeue(
        self,
        job_id: str,
        team: str,
        attempt: int,
        record: Attempt,
        *,
        advance: bool,
        only_if_expired: bool = False,
    ) -> int:
        """Back to the team queue: 1 done, 0 stale, -1 no candidate left."""
        return int(
            await self._requeue(
                keys=[
                    keys.job(job_id),
                    keys.LEASES,
                    keys.DISPATCHED,
                    keys.team_queue(team),
                    keys.ACTIVE_TEAMS,
                    keys.SCHEDULER_WAKE,
                ],
                args=[attempt, record.model_dump_json(), int(advance), int(only_if_expired), job_id, team],
            )
        )

    async def expired(self, limit: int = 500) -> list[Expired]:
        """Running jobs whose lease lapsed and admitted jobs nobody claimed in time."""
        seconds, micros = await self.redis.time()
        now_ms = seconds * 1000 + micros // 1000
        ids = [
            *(await self.redis.zrangebyscore(keys.LEASES, 0, now_ms, start=0, num=limit)),
            *(await self.redis.zrangebyscore(keys.DISPATCHED, 0, now_ms, start=0, num=limit)),
        ]
        found = []
        for raw_id in ids:
            job_id = raw_id.decode()
            fields = decode_hash(await self.redis.hgetall(keys.job(job_id)))
            if not fields:
                await self.redis.zrem(keys.LEASES, job_id)
                await self.redis.zrem(keys.DISPATCHED, job_id)
                continue
            found.append(
                Expired(
                    job_id,
                    fields["team"],
                    int(fields["attempt"]),
                    fields["state"],
                    fields.get("provider", ""),
                    fields.get("model", ""),
                )
            )
        return found
