"""Send the cache worker its tasks by name, as the scheduler sends provider work: the API,
the provider workers and the CLI never import the cache worker (nor torch, nor Chroma)."""

from __future__ import annotations

from typing import Any

from celery import Celery

from schemas.messages import CACHE_LOOKUP_TASK, CACHE_PURGE_TASK, CACHE_QUEUE, CACHE_STORE_TASK


class CacheSender:
    def __init__(self, app: Celery) -> None:
        self._app = app

    def lookup(self, job_id: str) -> None:
        self._app.send_task(CACHE_LOOKUP_TASK, args=[job_id], queue=CACHE_QUEUE)

    def store(self, job_id: str) -> None:
        self._app.send_task(CACHE_STORE_TASK, args=[job_id], queue=CACHE_QUEUE)

    def purge(self, selector: dict[str, Any]) -> None:
        self._app.send_task(CACHE_PURGE_TASK, args=[selector], queue=CACHE_QUEUE)
