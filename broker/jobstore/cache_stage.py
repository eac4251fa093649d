"""The cache stage of a job: between submission and its team queue, a cacheable job waits for
one lookup. A hit finishes it (``cache_hit.lua``); a miss, or no lookup within
``cache.lookup_timeout_s``, sends it on to its team queue (``cache_miss.lua``).

The job's state stays ``queued`` throughout; its ``stage`` field says ``cache`` while it
waits, and the scripts act only on such jobs, so a redelivered lookup, a late one after the
timeout, or one racing a cancel changes nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from redis.asyncio import Redis as AsyncRedis

from broker import keys
from broker.budgets.counters import Counters, month_of
from broker.jobstore.lifecycle import HOOKED, final_hook_keys
from broker.jobstore.lua import register
from broker.jobstore.records import JOB_TTL_S
from schemas.job import CacheInfo

log = logging.getLogger(__name__)

PACKAGE = "broker.jobstore"
Call = tuple[list[str], list[Any]]


def hit_call(
    job_id: str, result_json: str, usage_json: str, model: str, info: CacheInfo, counters: Counters | None = None
) -> Call:
    """``counters`` (the hit's job count, cache savings) are bumped exactly once with it."""
    month = counters.month if counters else month_of(time.time())
    hook_keys, base = final_hook_keys(6)
    return (
        [keys.job(job_id), keys.CACHE_PENDING, keys.USAGE_STREAM, keys.spend(month), keys.STATS, *hook_keys],
        [
            result_json,
            usage_json,
            model,
            info.model_dump_json(),
            keys.JOBS_DONE_CHANNEL,
            job_id,
            JOB_TTL_S,
            counters.as_json() if counters else "",
            base,
        ],
    )


def miss_call(job_id: str, team: str, info: CacheInfo, min_wait_ms: int = 0) -> Call:
    return (
        [keys.job(job_id), keys.CACHE_PENDING, keys.team_queue(team), keys.ACTIVE_TEAMS],
        [job_id, team, min_wait_ms, info.model_dump_json(), keys.SCHEDULER_WAKE],
    )


class CacheStage:
    """The cache worker's side (a synchronous client: it runs in Celery threads)."""

    def __init__(self, client: redis.Redis) -> None:
        self._hit = register(client, PACKAGE, "cache_hit", prelude=HOOKED)
        self._miss = register(client, PACKAGE, "cache_miss")

    def hit(
        self,
        job_id: str,
        result_json: str,
        usage_json: str,
        model: str,
        info: CacheInfo,
        counters: Counters | None = None,
    ) -> bool:
        """Finish the job with a cached answer; False when it had already left the stage."""
        keys_, args = hit_call(job_id, result_json, usage_json, model, info, counters)
        return bool(self._hit(keys=keys_, args=args))

    def miss(self, job_id: str, team: str, info: CacheInfo) -> bool:
        keys_, args = miss_call(job_id, team, info)
        return bool(self._miss(keys=keys_, args=args))


async def release_stalled_lookups(client: AsyncRedis, timeout_s: float, limit: int = 500) -> int:
    """The scheduler's reaper: jobs that waited longer than ``timeout_s`` for a lookup (no cache
    worker running, or it died holding the message) go to their team queue uncached."""
    seconds, micros = await client.time()
    cutoff = seconds * 1000 + micros // 1000 - int(timeout_s * 1000)
    stalled = await client.zrangebyscore(keys.CACHE_PENDING, 0, cutoff, start=0, num=limit)
    if not stalled:
        return 0
    script = register(client, PACKAGE, "cache_miss")
    info = CacheInfo(hit=False, reason="lookup timed out")
    moved = 0
    for raw in stalled:
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        team = await client.hget(keys.job(job_id), "team")
        team_name = team.decode() if isinstance(team, bytes) else (team or "")
        keys_, args = miss_call(job_id, team_name, info, max(1, int(timeout_s * 1000)))
        if await script(keys=keys_, args=args):
            moved += 1
            log.warning("job %s waited %.0f s for a cache lookup: sent on uncached", job_id, timeout_s)
    return moved
