"""Admission: may this job run now? The seam where token buckets plug in.

``UnlimitedAdmission`` admits every job at once; it is what the walking skeleton runs and
the reference the token-bucket admission is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from broker.jobstore.lifecycle import JobLifecycle, QueuedJob
from schemas.config import BrokerConfig
from schemas.messages import DispatchItem


@dataclass
class AdmitOutcome:
    admitted: list[tuple[str, DispatchItem]] = field(default_factory=list)  # (provider, (job id, attempt))
    retry_in_s: float | None = None  # earliest moment a refused job could be admitted


class Admission(Protocol):
    async def admit(self, jobs: list[QueuedJob]) -> AdmitOutcome: ...


class UnlimitedAdmission:
    def __init__(self, lifecycle: JobLifecycle, config: BrokerConfig) -> None:
        self._lifecycle = lifecycle
        self._config = config

    async def admit(self, jobs: list[QueuedJob]) -> AdmitOutcome:
        outcome = AdmitOutcome()
        for job in jobs:
            provider = self._config.models[job.model].provider
            attempt = await self._lifecycle.admit(job, provider, self._config.scheduler.claim_timeout_s)
            if attempt:
                outcome.admitted.append((provider, (job.id, attempt)))
        return outcome
