"""Admission: may these jobs run now? Token buckets decide, atomically in Redis.

For each job at the head of a team queue the scheduler works out the buckets it draws on
(``broker.admission.limits``) and hands them to ``admit.lua``, which reserves all of a
job's buckets or none and says how long until a refused job would fit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from broker import keys
from broker.admission.limits import Charge, first_too_big, job_charges, output_reservation
from broker.jobstore.lifecycle import JobLifecycle, QueuedJob
from broker.jobstore.records import decode_hash
from schemas.config import BrokerConfig
from schemas.messages import DispatchItem
from schemas.usage import UsageRecord


@dataclass
class AdmitOutcome:
    admitted: list[tuple[str, DispatchItem]] = field(default_factory=list)  # (provider, (job id, attempt))
    admitted_tokens: float = 0.0
    retry_in_s: float | None = None  # earliest moment the refused head job could be admitted


def job_cost(job: QueuedJob, config: BrokerConfig) -> float:
    """Tokens a job reserves: what fair share charges its team."""
    return float(job.input_tokens + output_reservation(job.max_tokens, job.model, config))


class TokenAdmission:
    def __init__(self, lifecycle: JobLifecycle, config: BrokerConfig) -> None:
        self._lifecycle = lifecycle
        self._config = config

    async def admit(self, team: str, jobs: list[QueuedJob], now_ms: float | None = None) -> AdmitOutcome:
        outcome = AdmitOutcome()
        plan: list[tuple[QueuedJob, str, list[Charge]]] = []
        wall_ms = time.time() * 1000
        for job in jobs:
            if job.not_before_ms > wall_ms:  # a provider asked this job to wait (Retry-After):
                wait_s = (job.not_before_ms - wall_ms) / 1000  # the jobs behind it need not
                outcome.retry_in_s = wait_s if outcome.retry_in_s is None else min(outcome.retry_in_s, wait_s)
                continue
            charges = job_charges(self._config, team, job.key_id, job.model, job.input_tokens, job.max_tokens)
            too_big = first_too_big(charges)
            if too_big is not None:
                await self._reject(job, f"the job needs {too_big.cost:.0f} of {too_big.label}: it can never run")
                continue
            plan.append((job, self._config.models[job.model].provider, charges))
        attempts, wait_ms = await self._lifecycle.admit(
            team, plan, self._config.scheduler.claim_timeout_s, now_ms=now_ms
        )
        for (job, provider, _), attempt in zip(plan, attempts, strict=False):
            if attempt > 0:
                outcome.admitted.append((provider, (job.id, attempt)))
                outcome.admitted_tokens += job_cost(job, self._config)
        if wait_ms is not None:
            wait_s = wait_ms / 1000
            outcome.retry_in_s = wait_s if outcome.retry_in_s is None else min(outcome.retry_in_s, wait_s)
        return outcome

    async def _reject(self, job: QueuedJob, error: str) -> None:
        fields = decode_hash(await self._lifecycle.redis.hgetall(keys.job(job.id)))
        now = time.time()
        usage = UsageRecord(
            job_id=job.id,
            attempt=int(fields.get("attempt", 0)),
            team=job.team,
            user=fields.get("user", ""),
            key_id=job.key_id,
            feature=fields.get("feature", "default"),
            provider=None,
            model=job.model,
            state="failed",
            batch_id=fields.get("batch_id") or None,
            created_at=float(fields.get("created_at", now)),
            finished_at=now,
        )
        await self._lifecycle.reject(job, error, usage.model_dump_json())
