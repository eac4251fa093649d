"""The scheduler process: admit in fair order, dispatch, reap, and sleep until something can change.

It sleeps on the wake channel that every submission, requeue and refund publishes to, so
a new job is seen at once, and otherwise wakes at the earliest moment admission said a
waiting job could fit, or when the reaper is due: no busy polling, no sleeping through a
refill. (The timer is the client's: Redis's own blocking timeouts fire only at its
``hz`` tick, up to 100 ms late.)
Any number may run: every transition is atomic in Redis. Each keeps its own fair-share
clock, which is enough for fairness because each offers the least-served team first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from celery import Celery
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from broker import keys
from broker.admission.fair import FairShare
from broker.budgets.store import team_action
from broker.fallback import attempt_limit
from broker.health.store import HealthStore
from broker.jobstore.cache_stage import release_stalled_lookups
from broker.jobstore.lifecycle import Expired, JobLifecycle
from broker.router import RouterSettings
from broker.scheduler.admission import TokenAdmission, job_cost
from broker.scheduler.dispatch import batches, send
from broker.scheduler.rerouting import Rerouter
from schemas.config import BrokerConfig
from schemas.job import Attempt
from schemas.usage import UsageRecord

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self, redis: Redis, config: BrokerConfig, admission: TokenAdmission, sender: Celery, lifecycle: JobLifecycle
    ) -> None:
        self.redis = redis
        self.config = config
        self.admission = admission
        self.sender = sender
        self.lifecycle = lifecycle
        self.fair = FairShare(
            quantum=config.scheduler.quantum_tokens,
            weights={team: t.weight for team, t in config.teams.items()},
        )
        self._next_reap = 0.0
        self.rerouter = Rerouter(lifecycle, HealthStore(redis, config), RouterSettings.from_config(config))

    async def admit_round(self) -> tuple[int, float | None]:
        """Offer every active team admission once; returns (jobs dispatched, seconds until a
        refused job could fit, if any was refused)."""
        teams = await self.lifecycle.active_teams()
        self.fair.forget_idle(teams)
        health = await self.rerouter.snapshot() if teams else {}
        dispatched = 0
        retry_in: float | None = None
        for team in self.fair.order(teams):
            if await team_action(self.redis, team) == "block":
                continue  # budget spent under the block policy: its queued jobs wait for a raise
            jobs = await self.rerouter.apply(await self.lifecycle.peek(team, self.config.scheduler.max_batch), health)
            if not jobs:
                continue
            affordable = self.fair.affordable(team, [job_cost(job, self.config) for job in jobs])
            outcome = await self.admission.admit(team, jobs[:affordable])
            self.fair.spend(team, outcome.admitted_tokens)
            for provider, items in batches(outcome.admitted, self.config.scheduler.max_batch):
                send(self.sender, provider, items)
            dispatched += len(outcome.admitted)
            if outcome.retry_in_s is not None:
                retry_in = outcome.retry_in_s if retry_in is None else min(retry_in, outcome.retry_in_s)
            elif affordable < len(jobs):
                retry_in = 0.0  # stopped by its share, not by buckets: go round again
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
            limit = attempt_limit(gone.n_candidates, self.config.routing.attempts_per_candidate)
            if gone.state == "running" and gone.attempts_made >= limit:
                if await self._fail_lost(gone, record, limit):
                    count += 1
                continue
            done = await self.lifecycle.requeue(
                gone.job_id,
                gone.team,
                gone.attempt,
                record,
                reservation=gone.reservation,
                advance=False,
                only_if_expired=True,
            )
            if done == 1:
                count += 1
                log.warning("requeued job %s (%s)", gone.job_id, outcome)
        count += await release_stalled_lookups(self.redis, self.config.cache.lookup_timeout_s)
        return count

    async def _fail_lost(self, gone: Expired, record: Attempt, limit: int) -> bool:
        """A job whose workers keep vanishing under it ends at the attempt bound, like any other
        (``broker.fallback``), in ``failed`` with every attempt listed and as a dead letter."""
        record = record.model_copy(update={"error": "worker_lost: its worker stopped renewing the lease"})
        attempts = [*json.loads(gone.fields.get("attempts") or "[]"), record.model_dump()]
        listed = "; ".join(f"#{a['number']} {a['provider']}/{a['model']}: {a.get('error')}" for a in attempts)
        now = time.time()
        usage = UsageRecord(
            job_id=gone.job_id,
            attempt=gone.attempt,
            team=gone.team,
            user=gone.fields.get("user", ""),
            key_id=gone.fields.get("key_id", ""),
            feature=gone.fields.get("feature", "default"),
            provider=gone.provider or None,
            model=gone.model or None,
            state="failed",
            tier=gone.fields.get("tier") or None,
            created_at=float(gone.fields.get("created_at") or now),
            finished_at=now,
        )
        done = await self.lifecycle.finish(
            gone.job_id,
            gone.attempt,
            usage,
            record,
            reservation=gone.reservation,
            used=None,
            error=f"attempt limit reached ({gone.attempts_made} of {limit}): {listed}",
            dead_letter_team=gone.team,
        )
        if done:
            log.warning("failed job %s: its worker was lost at the attempt limit", gone.job_id)
        return done

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.config.scheduler.reap_interval_s
        wake = self.redis.pubsub(ignore_subscribe_messages=True)
        await wake.subscribe(keys.SCHEDULER_WAKE)
        try:
            await self._loop(stop, wake, interval)
        finally:
            await wake.aclose()

    async def _loop(self, stop: asyncio.Event, wake: PubSub, interval: float) -> None:
        while not stop.is_set():
            dispatched, retry_in = await self.admit_round()
            now = time.monotonic()
            if now >= self._next_reap:
                await self.reap()
                self._next_reap = now + interval
            if dispatched:
                # busy: let a few more arrivals gather so they share Celery messages (each
                # message costs the worker more than a job does); idle rounds never wait
                linger_s = self.config.scheduler.dispatch_linger_ms / 1000
                if linger_s > 0:
                    await asyncio.sleep(linger_s)
                continue
            if retry_in == 0.0:
                continue
            sleep_s = min(interval, retry_in) if retry_in is not None else interval
            if await wake.get_message(timeout=max(0.001, sleep_s)) is not None:
                while await wake.get_message(timeout=0) is not None:  # coalesce a burst of wakes
                    pass
