"""The scheduler process: admit, dispatch, reap, and sleep until something can change.

It sleeps on the wake list that every submission pushes to, so a new job is seen at once,
and wakes on its own at the earliest moment admission said a waiting job could run or
when the reaper is due: no busy polling. Any number may run: every transition is atomic.
"""

from __future__ import annotations

import asyncio
import logging
import time

from celery import Celery
from redis.asyncio import Redis

from broker import keys
from broker.jobstore.cache_stage import release_stalled_lookups
from broker.jobstore.lifecycle import JobLifecycle
from broker.scheduler.admission import Admission
from broker.scheduler.dispatch import batches, send
from broker.scheduler.order import round_robin
from schemas.config import BrokerConfig
from schemas.job import Attempt

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        redis: Redis,
        config: BrokerConfig,
        admission: Admission,
        sender: Celery,
        lifecycle: JobLifecycle,
    ) -> None:
        self.redis = redis
        self.config = config
        self.admission = admission
        self.sender = sender
        self.lifecycle = lifecycle
        self._turn = 0
        self._next_reap = 0.0

    async def admit_round(self) -> tuple[int, float | None]:
        """One pass over the active teams; returns (jobs dispatched, seconds until a retry helps)."""
        teams = round_robin(await self.lifecycle.active_teams(), self._turn)
        self._turn += 1
        per_team = max(1, self.config.scheduler.max_batch // max(1, len(teams)))
        dispatched = 0
        retry_in: float | None = None
        for team in teams:
            jobs = await self.lifecycle.peek(team, per_team)
            if not jobs:
                continue
            outcome = await self.admission.admit(jobs)
            for provider, items in batches(outcome.admitted, self.config.scheduler.max_batch):
                send(self.sender, provider, items)
            dispatched += len(outcome.admitted)
            if outcome.retry_in_s is not None:
                retry_in = outcome.retry_in_s if retry_in is None else min(retry_in, outcome.retry_in_s)
        return dispatched, retry_in

    async def reap(self) -> int:
        """Requeue running jobs whose worker stopped renewing, and admitted jobs nobody claimed."""
        count = 0
        for gone in await self.lifecycle.expired():
            outcome = "worker_lost" if gone.state == "running" else "unclaimed"
            record = Attempt(
                number=gone.attempt,
                provider=gone.provider,
                model=gone.model,
                finished_at=time.time(),
                outcome=outcome,
                error=f"{outcome}: requeued by the scheduler",
            )
            done = await self.lifecycle.requeue(
                gone.job_id, gone.team, gone.attempt, record, advance=False, only_if_expired=True
            )
            if done == 1:
                count += 1
                log.warning("requeued job %s (%s)", gone.job_id, outcome)
        count += await release_stalled_lookups(self.redis, self.config.cache.lookup_timeout_s)
        return count

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.config.scheduler.reap_interval_s
        while not stop.is_set():
            dispatched, retry_in = await self.admit_round()
            now = time.monotonic()
            if now >= self._next_reap:
                await self.reap()
                self._next_reap = now + interval
            if dispatched:
                continue
            sleep_s = min(interval, retry_in) if retry_in is not None else interval
            await self.redis.blpop([keys.SCHEDULER_WAKE], timeout=max(0.001, sleep_s))
