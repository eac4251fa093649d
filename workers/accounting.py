"""What the worker records about money and waits around a job: usage priced at completion
(with routing savings), budget checks after spend moved, provider errors and admission
waits for ``/metrics``. Counters that must be exact ride on finish.lua; the rest here is
best effort and never fails a job.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from broker import keys
from broker.budgets.counters import admission_wait_fields, provider_error_field
from broker.budgets.store import BudgetStore
from broker.pricing import routing_saved_usd
from schemas.chat import JobRequest
from schemas.config import BrokerConfig
from schemas.usage import UsageRecord
from workers.outcome import RunningJob, usage_record
from workers.providers.base import ProviderReply

log = logging.getLogger(__name__)


def priced_usage(
    config: BrokerConfig, job: RunningJob, request: JobRequest, finished: float, reply: ProviderReply
) -> UsageRecord:
    """The ledger row of a successful call: cost at the rates in force at ``finished``, and
    for a job that asked for a tier, what it saved against that tier's top model."""
    saved = routing_saved_usd(
        config, request.tier, job.model, finished, reply.input_tokens, reply.output_tokens, reply.cached_tokens
    )
    return usage_record(
        job, "succeeded", finished, config.models[job.model], reply, tier=job.tier, routing_saved_usd=saved
    )


BUDGET_CHECK_DELAY_S = 0.2
"""Jobs of one team and feature finishing within this long share one budget check: at
hundreds of jobs a second a check per job would cost more Redis round trips than the job.
Admission never waits for it (submit reads the live spend counters)."""


class Accounting:
    def __init__(self, redis: Redis, config: BrokerConfig) -> None:
        self.redis = redis
        self.budgets = BudgetStore(redis, config)
        self._due: set[tuple[str, str]] = set()

    async def after_finish(self, usage: UsageRecord) -> None:
        """Spend moved: soon fire the thresholds it crossed and publish the team's budget
        state (one check for every job of the scope that finishes meanwhile)."""
        if usage.cost_usd <= 0:
            return
        scope = (usage.team, usage.feature)
        if scope in self._due:
            return
        self._due.add(scope)
        loop = asyncio.get_running_loop()
        loop.call_later(BUDGET_CHECK_DELAY_S, lambda: loop.create_task(self._check(scope)))

    async def _check(self, scope: tuple[str, str]) -> None:
        self._due.discard(scope)  # spend from here on schedules the next check
        try:
            await self.budgets.check(*scope)
        except Exception:  # only delays alerts until the monitor's next sweep
            log.exception("budget check of %s/%s failed; the monitor's sweep will catch up", *scope)

    async def provider_error(self, provider: str, model: str, status: int | None) -> None:
        try:
            await self.redis.hincrby(keys.STATS, provider_error_field(provider, model, status), 1)
        except Exception:
            log.exception("could not count a provider error")

    async def claimed(self, records: list[dict[str, str]]) -> None:
        """Admission waits (submission to claim) of freshly claimed first attempts."""
        if not records:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for fields in records:
                    if fields.get("attempt") != "1" or "started_at" not in fields:
                        continue
                    wait_s = float(fields["started_at"]) - float(fields["created_at"])
                    for name, value in admission_wait_fields(fields["team"], wait_s).items():
                        pipe.hincrby(keys.STATS, name, value)
                await pipe.execute()
        except Exception:
            log.exception("could not record admission waits")
