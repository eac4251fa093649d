"""Celery tasks: thin entry points that hand work to the process's provider executor."""

from __future__ import annotations

from schemas.messages import RUN_JOBS_TASK
from workers.celery_app import app
from workers.executor import executor


@app.task(name=RUN_JOBS_TASK, acks_late=True, reject_on_worker_lost=True)
def run_jobs(items: list[list[str | int]]) -> int:
    """Claim and start a batch of dispatched jobs; returns how many this worker took."""
    return executor().accept([(str(job_id), int(attempt)) for job_id, attempt in items])
