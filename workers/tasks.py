"""Celery tasks: thin entry points that hand work to the process's provider executor."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_shutdown

from broker.settings import current_config
from schemas.messages import RUN_JOBS_TASK
from workers.celery_app import app
from workers.executor import executor, running_executor

log = logging.getLogger(__name__)


@app.task(name=RUN_JOBS_TASK, acks_late=True, reject_on_worker_lost=True)
def run_jobs(items: list[list[str | int]]) -> int:
    """Claim and start a batch of dispatched jobs; returns how many this worker took."""
    return executor().accept([(str(job_id), int(attempt)) for job_id, attempt in items])


@worker_shutdown.connect
def drain_on_shutdown(**_: Any) -> None:
    """A warm shutdown lets calls in flight finish instead of leaving them to the reaper."""
    running = running_executor()
    if running is not None:
        handed_back = running.drain(current_config().worker.drain_timeout_s)
        log.info("executor drained; %d unfinished jobs handed back to their queues", handed_back)
