"""Celery tasks of the cache worker (queue ``cache``): thin entry points over one
``CacheService`` per process, built on first use (or up front by ``llm-broker cache-worker``).

All three are idempotent and acknowledged late: a cache worker that dies mid-task has the
message redelivered, and a job it held meanwhile is sent on uncached by the scheduler after
``cache.lookup_timeout_s``.
"""

from __future__ import annotations

import threading
from typing import Any

from schemas.messages import CACHE_LOOKUP_TASK, CACHE_PURGE_TASK, CACHE_STORE_TASK
from workers.celery_app import app

_service: Any = None
_lock = threading.Lock()


def service() -> Any:
    """The process's ``CacheService`` (imported lazily: provider workers import this module too)."""
    global _service
    with _lock:
        if _service is None:
            from workers.cache.build import build_service

            _service = build_service()
        return _service


@app.task(name=CACHE_LOOKUP_TASK, acks_late=True, reject_on_worker_lost=True)
def cache_lookup(job_id: str) -> str:
    svc = service()
    outcome: str = svc.lookup_job(job_id)
    svc.maybe_sweep()
    return outcome


@app.task(name=CACHE_STORE_TASK, acks_late=True, reject_on_worker_lost=True)
def cache_store(job_id: str) -> bool:
    stored: bool = service().store_job(job_id)
    return stored


@app.task(name=CACHE_PURGE_TASK, acks_late=True, reject_on_worker_lost=True)
def cache_purge(selector: dict[str, Any]) -> int:
    dropped: int = service().purge(selector)
    return dropped
