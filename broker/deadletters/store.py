"""The dead-letter lists: one zset per team (job id -> when it failed, ms).

A job enters in the same Lua step that fails it (``finish.lua``, ``reject.lua``), so it is
listed exactly once however often it was delivered. A retry (``retry.lua``) sends the
same job back through admission with a fresh candidate chain, routed on today's health,
and a fresh attempt budget; its earlier attempts stay on the job. Entries whose job
record has expired (finished jobs are kept ``JOB_TTL_S``) are dropped when listed.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

from broker import keys
from broker.auth import Principal
from broker.errors import Conflict, NotFound
from broker.health.store import shared_health_cache
from broker.jobstore.lua import register
from broker.jobstore.records import decode_hash
from broker.submit import prepare_job
from schemas.chat import JobRequest
from schemas.config import BrokerConfig

_FIELDS = ("team", "user", "feature", "created_at", "error", "attempts", "candidates", "retries", "state")


@dataclass(frozen=True)
class DeadLetter:
    job_id: str
    team: str
    user: str
    feature: str
    created_at: float
    failed_at: float
    error: str
    attempts: int
    last_model: str | None
    candidates: list[str]
    retries: int

    def as_dict(self) -> dict[str, object]:
        return {"object": "dead_letter", **asdict(self)}


class DeadLetters:
    def __init__(self, redis: Redis, config: BrokerConfig) -> None:
        self.redis = redis
        self.config = config
        self._retry = register(redis, "broker.deadletters", "retry")

    async def newest(self, teams: list[str], limit: int = 100) -> list[DeadLetter]:
        """Newest first, across ``teams``."""
        found: list[DeadLetter] = []
        for team in teams:
            entries: list[tuple[bytes, float]] = await self.redis.zrevrange(  # type: ignore[assignment]
                keys.dead_letters(team), 0, limit - 1, withscores=True
            )
            if not entries:
                continue
            async with self.redis.pipeline(transaction=False) as pipe:
                for raw_id, _ in entries:
                    pipe.hmget(keys.job(raw_id.decode()), *_FIELDS)
                rows = await pipe.execute()
            for (raw_id, score), row in zip(entries, rows, strict=True):
                job_id = raw_id.decode()
                values = dict(zip(_FIELDS, (v.decode() if isinstance(v, bytes) else v for v in row), strict=True))
                if values["team"] is None:  # the job record expired
                    await self.redis.zrem(keys.dead_letters(team), job_id)
                    continue
                attempts = json.loads(values["attempts"] or "[]")
                found.append(
                    DeadLetter(
                        job_id=job_id,
                        team=team,
                        user=values["user"] or "",
                        feature=values["feature"] or "default",
                        created_at=float(values["created_at"] or 0),
                        failed_at=score / 1000,
                        error=values["error"] or "",
                        attempts=len(attempts),
                        last_model=attempts[-1]["model"] if attempts else None,
                        candidates=json.loads(values["candidates"] or "[]"),
                        retries=int(values["retries"] or 0),
                    )
                )
        found.sort(key=lambda d: -d.failed_at)
        return found[:limit]

    async def retry(self, job_id: str, teams: list[str]) -> str:
        """Requeue a dead letter of one of ``teams``; returns its team. Another team's job
        is reported missing, as for every job read."""
        fields = decode_hash(await self.redis.hgetall(keys.job(job_id)))  # type: ignore[arg-type]
        team = fields.get("team") or ""
        if team not in teams or not await self.redis.zscore(keys.dead_letters(team), job_id):
            raise NotFound(f"no dead letter {job_id!r}", param="job_id")
        request = JobRequest.model_validate_json(fields["request"])
        principal = Principal(team=team, user=fields["user"], key_id=fields["key_id"])
        health = await shared_health_cache(self.redis, self.config).get()
        fresh = prepare_job(request, principal, self.config, time.time(), job_id=job_id, health=health)
        outcome = await self._retry(
            keys=[keys.job(job_id), keys.dead_letters(team), keys.team_queue(team), keys.ACTIVE_TEAMS],
            args=[
                job_id,
                team,
                json.dumps(fresh.candidates),
                json.dumps(fresh.candidate_tokens),
                len(fresh.candidates),
                fresh.input_tokens,
                keys.SCHEDULER_WAKE,
                json.dumps(fresh.preferred or fresh.candidates),
            ],
        )
        outcome = outcome.decode() if isinstance(outcome, bytes) else outcome
        if outcome == 0:
            raise NotFound(f"no dead letter {job_id!r}", param="job_id")
        if outcome != 1:
            raise Conflict(f"job {job_id} is {outcome}, not failed")
        return team
